/*
 * test_blobstore.c — one contract for every blob-store engine
 * (store/blobstore.h), run against each: the local engine in a temp dir
 * always; the S3 engine against a real Ceph RGW when BLOBSTORE_S3=1,
 * which `make test-s3` sets after starting tests/scale/rgw.sh (S3_TARGET,
 * AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY in the environment). With
 * BLOBSTORE_S3=1 and no RGW the S3 group FAILS; without it, one line says
 * the S3 group runs under `make test-s3` (never a silent skip).
 *
 * The contract: round trips of small and multipart-size uploads (0 bytes,
 * 1, one part exactly, a part and a byte, three parts), a finish with a
 * wrong hash refused and an existing blob untouched, a cut upload (abort)
 * leaving no blob and no staging, a crash's staging swept when old and
 * left alone when fresh, two concurrent uploads of the same bytes both
 * succeeding with one whole blob, remove, range reads, a presigned URL
 * (S3: fetched with libcurl; local: -ENOTSUP).
 *
 * BLOBS_BENCH=1 adds the measurement: 200 x 1 MiB and 10 x 32 MiB uploads
 * through each engine, MiB/s, median of 3, with /proc/loadavg (printed,
 * never asserted).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "store/blobstore.h"
#include "store/store.h"
#include "tests/unit/tstore.h"

#define PART S3_PART_MIN        /* the S3 engine's part size here: 5 MiB */

#define assert_rc(expr, want) do {                                       \
	int rc_ = (expr), want_ = (want);                                \
	if (rc_ != want_)                                                \
		fail_msg("%s: got %d (%s), want %d (%s); %s", #expr, rc_,  \
			 strerror(-rc_), want_, strerror(-want_),          \
			 blobs_last_error());                              \
} while (0)

struct fx {
	blobstore *b;
	int is_s3;
	char tmp[64];           /* local: the engine's dir */
	s3 *h;                  /* S3: a handle on the same prefix */
	struct s3_config cfg;   /* S3: the config (wiped in teardown) */
};

static void rnd(void *buf, size_t n)
{
	if (RAND_bytes(buf, (int)n) != 1)
		fail_msg("RAND_bytes failed");
}

/* Uploads len bytes of buf in uneven pieces; finish with want (NULL: no
 * claim) and durable. Returns finish's rc, the hash in got. */
static int upload_d(blobstore *b, const unsigned char *buf, size_t len,
		    const unsigned char *want, unsigned char got[32],
		    int durable)
{
	blob_upload *u;
	size_t off = 0, step = 1;
	int rc = blobs_begin(b, &u);

	if (rc)
		return rc;
	while (off < len) {
		size_t n = len - off < step ? len - off : step;

		if ((rc = blobs_write(u, buf + off, n))) {
			blobs_abort(u);
			return rc;
		}
		off += n;
		step = step * 7 + 13;   /* 1, 20, 153, ... up to MiBs */
		if (step > (3u << 20))
			step = 65537;
	}
	return blobs_finish(u, want, got, durable);
}

static int upload(blobstore *b, const unsigned char *buf, size_t len,
		  const unsigned char *want, unsigned char got[32])
{
	return upload_d(b, buf, len, want, got, 0);
}

static void assert_blob(blobstore *b, const unsigned char *sha,
			const unsigned char *buf, size_t len)
{
	unsigned char *back = malloc(len + 1);
	uint64_t size = 0;
	size_t got = 0;

	assert_non_null(back);
	assert_rc(blobs_stat(b, sha, &size), 0);
	assert_int_equal(size, len);
	assert_rc(blobs_read(b, sha, 0, back, len + 1, &got), 0);
	assert_int_equal(got, len);
	assert_memory_equal(back, buf, len);
	free(back);
}

static unsigned sweep(blobstore *b, int64_t age)
{
	unsigned n = 99;

	assert_rc(blobs_sweep(b, age, &n), 0);
	return n;
}

/* ------------------------------------------------------------ the contract */

static void test_round_trip(void **state)
{
	struct fx *f = *state;
	const size_t sizes[] = { 0, 1, 100 << 10, PART, PART + 1,
				 2 * PART + 12345 };
	unsigned char *buf = malloc(2 * PART + 12345);

	assert_non_null(buf);
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		unsigned char want[32], got[32];

		rnd(buf, sizes[i]);
		SHA256(buf, sizes[i], want);
		assert_rc(upload(f->b, buf, sizes[i], want, got), 0);
		assert_memory_equal(got, want, 32);
		assert_blob(f->b, want, buf, sizes[i]);
		/* the same bytes again: kept, no error */
		assert_rc(upload(f->b, buf, sizes[i], NULL, got), 0);
		assert_memory_equal(got, want, 32);
		assert_blob(f->b, want, buf, sizes[i]);

		int fd = blobs_open_fd(f->b, want);
		if (f->is_s3) {
			assert_rc(fd, -ENOTSUP);
		} else {
			struct stat sb;
			assert_true(fd >= 0);
			assert_int_equal(fstat(fd, &sb), 0);
			assert_int_equal(sb.st_size, sizes[i]);
			assert_int_equal(sb.st_mode & 0777, 0600);
			close(fd);
		}
	}
	assert_int_equal(sweep(f->b, 0), 0);   /* nothing left in staging */
	free(buf);
}

/* durable (local: the engine's finish fsyncs the file, the link the
 * blob's folder; S3 answers once stored): a new blob, the same bytes again
 * (found there: only the staging goes), a lying upload refused. */
static void test_durable(void **state)
{
	struct fx *f = *state;
	unsigned char buf[70000], want[32], got[32], other[32];

	rnd(buf, sizeof buf);
	SHA256(buf, sizeof buf, want);
	assert_rc(upload_d(f->b, buf, sizeof buf, want, got, 1), 0);
	assert_memory_equal(got, want, 32);
	assert_blob(f->b, want, buf, sizeof buf);
	assert_rc(upload_d(f->b, buf, sizeof buf, want, got, 1), 0);
	assert_blob(f->b, want, buf, sizeof buf);
	memcpy(other, want, 32);
	other[31] ^= 1;
	assert_rc(upload_d(f->b, buf, sizeof buf, other, got, 1), -EBADMSG);
	assert_rc(blobs_stat(f->b, other, NULL), -ENOENT);
	assert_int_equal(sweep(f->b, 0), 0);   /* nothing left in staging */
	assert_rc(blobs_remove(f->b, want), 0);
}

/* The engine's reason for a failure: said, and never the secret. */
static void assert_reason(const char *secret)
{
	const char *why = blobs_last_error();

	if (!why[0])
		fail_msg("a failure without a reason in blobs_last_error");
	if (secret && secret[0] && strstr(why, secret))
		fail_msg("blobs_last_error holds the secret");
}

/* Failures say why and change nothing. Local: no staging folder, so no
 * upload can begin. S3: a wrong secret — a small upload (HEAD, PUT) and a
 * multipart one (its first part) are refused, so is a stat; no blob
 * appears under the right keys either. */
static void test_errors(void **state)
{
	struct fx *f = *state;
	unsigned char *buf = malloc(PART + 1), sha[32], big[32], got[32];
	blob_upload *u = NULL;

	assert_non_null(buf);
	rnd(buf, PART + 1);
	SHA256(buf, 1000, sha);
	SHA256(buf, PART + 1, big);
	if (f->is_s3) {
		struct s3_config c = f->cfg;
		blobstore *bad = NULL;
		char msg[256] = "";

		c.secret_key[0] = c.secret_key[0] == 'A' ? 'B' : 'A';
		assert_rc(blobs_s3_open(&c, &bad, msg, sizeof msg), 0);
		assert_rc(upload(bad, buf, 1000, sha, got), -EACCES);
		assert_reason(c.secret_key);
		assert_reason(f->cfg.secret_key);
		assert_rc(upload(bad, buf, PART + 1, NULL, got), -EACCES);
		assert_reason(c.secret_key);
		assert_reason(f->cfg.secret_key);
		assert_rc(blobs_stat(bad, sha, NULL), -EACCES);
		blobs_close(bad);
		s3_config_wipe(&c);
		assert_rc(blobs_stat(f->b, big, NULL), -ENOENT);
	} else {
		char st[128], gone[140];

		snprintf(st, sizeof st, "%s/staging", f->tmp);
		snprintf(gone, sizeof gone, "%s/staging.gone", f->tmp);
		assert_int_equal(rename(st, gone), 0);
		assert_rc(blobs_begin(f->b, &u), -ENOENT);
		assert_null(u);
		assert_reason(NULL);
		assert_non_null(strstr(blobs_last_error(), "staging"));
		assert_int_equal(rename(gone, st), 0);
	}
	assert_rc(blobs_stat(f->b, sha, NULL), -ENOENT);
	assert_int_equal(sweep(f->b, 0), 0);
	/* the reason is the last call's: one that succeeds after a failure
	 * leaves none (a log line must not blame an older failure) */
	assert_rc(upload(f->b, buf, 1000, sha, got), 0);
	assert_rc(blobs_stat(f->b, big, NULL), -ENOENT);
	assert_rc(blobs_stat(f->b, sha, NULL), 0);
	assert_string_equal(blobs_last_error(), "");
	assert_rc(blobs_remove(f->b, big), 0);
	assert_string_equal(blobs_last_error(), "");
	assert_rc(blobs_remove(f->b, sha), 0);
	free(buf);
}

static void test_wrong_hash(void **state)
{
	struct fx *f = *state;
	const size_t sizes[] = { 4096, 2 * PART + 7 };   /* one PUT; multipart */
	unsigned char *a = malloc(2 * PART + 7), *bb = malloc(2 * PART + 7);

	assert_non_null(a);
	assert_non_null(bb);
	for (size_t i = 0; i < 2; i++) {
		unsigned char sa[32], sb[32], got[32], other[32];
		size_t n = sizes[i];

		rnd(a, n);
		rnd(bb, n);
		SHA256(a, n, sa);
		SHA256(bb, n, sb);
		assert_rc(upload(f->b, a, n, sa, NULL), 0);
		/* other bytes claiming to be blob A: refused, A untouched */
		assert_rc(upload(f->b, bb, n, sa, got), -EBADMSG);
		assert_memory_equal(got, sb, 32);
		assert_blob(f->b, sa, a, n);
		assert_rc(blobs_stat(f->b, sb, NULL), -ENOENT);
		/* A's bytes cut short, claiming to be A: refused */
		assert_rc(upload(f->b, a, n - 1, sa, NULL), -EBADMSG);
		assert_blob(f->b, sa, a, n);
		/* a claim naming no blob: nothing appears under either name */
		rnd(other, 32);
		assert_rc(upload(f->b, bb, n, other, NULL), -EBADMSG);
		assert_rc(blobs_stat(f->b, other, NULL), -ENOENT);
		assert_rc(blobs_stat(f->b, sb, NULL), -ENOENT);
	}
	assert_int_equal(sweep(f->b, 0), 0);   /* refused staging dropped */
	free(a);
	free(bb);
}

/* Leaves what a crashed upload would (local: a named staging file; S3: an
 * open multipart upload and a completed staging object); how many. */
static unsigned leave_staging(struct fx *f)
{
	if (!f->is_s3) {
		char p[128];
		int fd;

		snprintf(p, sizeof p, "%s/staging/leftover", f->tmp);
		fd = open(p, O_WRONLY | O_CREAT | O_EXCL, 0600);
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "x", 1), 1);
		close(fd);
		return 1;
	}
	char id[S3_UPLOAD_ID_MAX], etag[S3_ETAG_MAX];
	struct s3_err e;
	assert_int_equal(s3_put_buf(f->h, "staging/leftover-object", "x", 1,
				    NULL, &e), 0);
	assert_int_equal(s3_mp_create(f->h, "staging/leftover-upload", id, &e), 0);
	assert_int_equal(s3_mp_part_buf(f->h, "staging/leftover-upload", id, 1,
					"y", 1, NULL, etag, &e), 0);
	return 2;
}

static void test_abort_and_sweep(void **state)
{
	struct fx *f = *state;
	size_t n = PART + 4096;   /* S3: one part sent before the cut */
	unsigned char *buf = malloc(n), sha[32];
	blob_upload *u;
	unsigned made;

	assert_non_null(buf);
	rnd(buf, n);
	SHA256(buf, n, sha);
	assert_rc(blobs_begin(f->b, &u), 0);
	assert_rc(blobs_write(u, buf, PART), 0);
	assert_rc(blobs_write(u, buf + PART, 100), 0);   /* part 1 goes out */
	assert_int_equal(blobs_upload_size(u), PART + 100);
	blobs_abort(u);
	assert_rc(blobs_stat(f->b, sha, NULL), -ENOENT);
	assert_int_equal(sweep(f->b, 0), 0);   /* the abort left nothing */

	made = leave_staging(f);
	assert_int_equal(sweep(f->b, 3600), 0);   /* fresh: left alone */
	assert_int_equal(sweep(f->b, 3600), 0);
	sleep(1);   /* the leftovers' times are whole seconds on RGW */
	assert_int_equal(sweep(f->b, 0), made);
	assert_int_equal(sweep(f->b, 0), 0);
	assert_rc(blobs_sweep(f->b, -1, NULL), -EINVAL);
	free(buf);
}

struct racer {
	blobstore *b;
	const unsigned char *buf;
	size_t len;
	const unsigned char *sha;
	int rc;
};

static void *race(void *arg)
{
	struct racer *r = arg;

	r->rc = upload(r->b, r->buf, r->len, r->sha, NULL);
	return NULL;
}

static void test_concurrent_same_hash(void **state)
{
	struct fx *f = *state;
	const size_t sizes[] = { 300 << 10, PART + 999 };
	unsigned char *buf = malloc(PART + 999), sha[32];

	assert_non_null(buf);
	for (size_t i = 0; i < 2; i++) {
		struct racer r[3];
		pthread_t t[3];

		rnd(buf, sizes[i]);
		SHA256(buf, sizes[i], sha);
		for (int k = 0; k < 3; k++) {
			r[k] = (struct racer){ f->b, buf, sizes[i], sha, -1 };
			assert_int_equal(pthread_create(&t[k], NULL, race, &r[k]), 0);
		}
		for (int k = 0; k < 3; k++) {
			pthread_join(t[k], NULL);
			assert_rc(r[k].rc, 0);
		}
		assert_blob(f->b, sha, buf, sizes[i]);
	}
	assert_int_equal(sweep(f->b, 0), 0);
	free(buf);
}

static void test_remove(void **state)
{
	struct fx *f = *state;
	unsigned char buf[1000], sha[32];

	rnd(buf, sizeof buf);
	SHA256(buf, sizeof buf, sha);
	assert_rc(upload(f->b, buf, sizeof buf, sha, NULL), 0);
	assert_rc(blobs_remove(f->b, sha), 0);
	assert_rc(blobs_stat(f->b, sha, NULL), -ENOENT);
	size_t got = 1;
	assert_rc(blobs_read(f->b, sha, 0, buf, sizeof buf, &got), -ENOENT);
	assert_rc(blobs_remove(f->b, sha), 0);   /* gone already: fine */
	/* and it can come back */
	assert_rc(upload(f->b, buf, sizeof buf, sha, NULL), 0);
	assert_blob(f->b, sha, buf, sizeof buf);
}

static void test_ranges(void **state)
{
	struct fx *f = *state;
	size_t n = PART + 5000;
	unsigned char *buf = malloc(n), *back = malloc(n), sha[32];
	const struct { uint64_t off; size_t len, want; } cases[] = {
		{ 0, 1, 1 }, { 1000, 2000, 2000 },
		{ PART - 10, 20, 20 },          /* across the part boundary */
		{ n - 100, 1000, 100 },         /* short at the end */
		{ n - 1, 1, 1 }, { n, 10, 0 },  /* at the end: nothing */
		{ n + 100, 10, 0 },             /* past it: nothing */
	};

	assert_non_null(buf);
	assert_non_null(back);
	rnd(buf, n);
	SHA256(buf, n, sha);
	assert_rc(upload(f->b, buf, n, sha, NULL), 0);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		size_t got = 99;

		assert_rc(blobs_read(f->b, sha, cases[i].off, back, cases[i].len,
				     &got), 0);
		assert_int_equal(got, cases[i].want);
		if (got)
			assert_memory_equal(back, buf + cases[i].off, got);
	}
	free(buf);
	free(back);
}

struct sink {
	unsigned char *buf;
	size_t len, cap;
};

static size_t to_sink(char *d, size_t size, size_t n, void *arg)
{
	struct sink *s = arg;

	if (s->len + size * n > s->cap)
		return 0;
	memcpy(s->buf + s->len, d, size * n);
	s->len += size * n;
	return size * n;
}

/* GETs url with libcurl into s; the HTTP status. */
static long fetch(const char *url, struct sink *s)
{
	CURL *c = curl_easy_init();
	long st = 0;

	assert_non_null(c);
	s->len = 0;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, to_sink);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
	curl_easy_cleanup(c);
	return st;
}

static void test_presign(void **state)
{
	struct fx *f = *state;
	unsigned char buf[70000], sha[32], other[32];
	char url[4096];
	struct sink s = { malloc(sizeof buf + 100000), 0, sizeof buf + 100000 };

	assert_non_null(s.buf);
	rnd(buf, sizeof buf);
	SHA256(buf, sizeof buf, sha);
	assert_rc(upload(f->b, buf, sizeof buf, sha, NULL), 0);
	if (!f->is_s3) {
		assert_rc(blobs_presign(f->b, sha, 60, url, sizeof url), -ENOTSUP);
		free(s.buf);
		return;
	}
	assert_rc(blobs_presign(f->b, sha, 60, url, sizeof url), 0);
	assert_int_equal(fetch(url, &s), 200);
	assert_int_equal(s.len, sizeof buf);
	assert_memory_equal(s.buf, buf, sizeof buf);
	/* a URL for a blob that is not there answers 404, no bytes */
	rnd(other, 32);
	assert_rc(blobs_presign(f->b, other, 60, url, sizeof url), 0);
	assert_int_equal(fetch(url, &s), 404);
	assert_rc(blobs_presign(f->b, sha, 60, url, 10), -ENAMETOOLONG);
	assert_rc(blobs_presign(f->b, sha, 0, url, sizeof url), -EINVAL);
	free(s.buf);
}

/* ------------------------------------------------------------ bench */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void loadavg(char *out, size_t cap)
{
	FILE *fp = fopen("/proc/loadavg", "r");

	out[0] = 0;
	if (fp) {
		if (fgets(out, (int)cap, fp))
			out[strcspn(out, "\n")] = 0;
		fclose(fp);
	}
}

/* Uploads count blobs of size MiB from a 1 MiB-stepped buffer (fresh
 * random bytes per blob: no dedup), in 256 KiB writes, 3 times: the
 * median MiB/s. */
static double bench_one(blobstore *b, int count, size_t mib)
{
	size_t len = mib << 20;
	unsigned char *buf = malloc(len);
	double r[3];

	assert_non_null(buf);
	for (int run = 0; run < 3; run++) {
		double t0, t = 0;

		for (int i = 0; i < count; i++) {
			blob_upload *u;
			unsigned char sha[32];

			rnd(buf, 64);   /* a new blob each time */
			t0 = now_s();
			assert_rc(blobs_begin(b, &u), 0);
			for (size_t off = 0; off < len; off += 256 << 10)
				assert_rc(blobs_write(u, buf + off, 256 << 10), 0);
			assert_rc(blobs_finish(u, NULL, sha, 0), 0);
			t += now_s() - t0;
			assert_rc(blobs_remove(b, sha), 0);
		}
		r[run] = (double)count * (double)mib / t;
	}
	qsort(r, 3, sizeof r[0], cmp_d);
	free(buf);
	return r[1];
}

static void test_bench(void **state)
{
	struct fx *f = *state;
	char la[128], lb[128], msg[256];
	blobstore *b = f->b;
	double small, big;

	if (f->is_s3) {
		/* the engine as deployed: s3_open's default part size (16 MiB),
		 * not the fixture's 5 MiB */
		struct s3_config c = f->cfg;

		c.part_size = 0;
		assert_int_equal(blobs_s3_open(&c, &b, msg, sizeof msg), 0);
		s3_config_wipe(&c);
	}
	loadavg(la, sizeof la);
	small = bench_one(b, 200, 1);
	big = bench_one(b, 10, 32);
	loadavg(lb, sizeof lb);
	printf("# bench %s: 200 x 1 MiB %.0f MiB/s, 10 x 32 MiB %.0f MiB/s "
	       "(median of 3; loadavg before %s, after %s)\n",
	       blobs_engine(b), small, big, la, lb);
	if (b != f->b)
		blobs_close(b);
}

/* ------------------------------------------------------------ fixtures */

static int rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	char p[512];

	if (!d)
		return unlink(path);
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(p, sizeof p, "%s/%s", path, de->d_name);
		rm_tree(p);
	}
	closedir(d);
	return rmdir(path);
}

static int local_setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	char dir[128];

	if (!f)
		return -1;
	snprintf(f->tmp, sizeof f->tmp, "/tmp/sievefs-blobs.XXXXXX");
	if (!mkdtemp(f->tmp))
		return -1;
	snprintf(dir, sizeof dir, "%s", f->tmp);
	if (blobs_local_open(dir, &f->b)) {
		rm_tree(f->tmp);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int s3_setup(void **state)
{
	struct s3_config cfg;
	char msg[256] = "", p[32];
	unsigned char r[6];
	const char *target = getenv("S3_TARGET");
	struct fx *f = calloc(1, sizeof *f);

	if (!f)
		return -1;
	if (!target || s3_config_parse(target, &cfg, msg, sizeof msg) ||
	    s3_config_env(&cfg, msg, sizeof msg)) {
		fprintf(stderr, "test_blobstore: BLOBSTORE_S3=1 needs a running RGW: "
			"S3_TARGET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY "
			"(run `make test-s3`) %s\n", msg);
		free(f);
		return -1;
	}
	/* a fresh prefix per run: runs never see each other's keys */
	if (RAND_bytes(r, sizeof r) != 1)
		return -1;
	snprintf(p, sizeof p, "b%02x%02x%02x%02x%02x%02x/", r[0], r[1], r[2],
		 r[3], r[4], r[5]);
	if (strlen(cfg.prefix) + strlen(p) >= sizeof cfg.prefix)
		return -1;
	strcat(cfg.prefix, p);
	cfg.part_size = PART;
	if (blobs_s3_open(&cfg, &f->b, msg, sizeof msg) ||
	    s3_open(&cfg, &f->h, msg, sizeof msg)) {
		fprintf(stderr, "test_blobstore: %s\n", msg);
		blobs_close(f->b);
		s3_config_wipe(&cfg);
		free(f);
		return -1;
	}
	f->cfg = cfg;
	s3_config_wipe(&cfg);
	f->is_s3 = 1;
	*state = f;
	return 0;
}

static int fx_teardown(void **state)
{
	struct fx *f = *state;

	if (!f)
		return 0;
	blobs_close(f->b);
	s3_close(f->h);
	s3_config_wipe(&f->cfg);
	if (f->tmp[0])
		rm_tree(f->tmp);
	free(f);
	return 0;
}

/* ---------------------------------------- the local engine's file calls */

/* A named staging file DIR/staging/NAME holding len bytes of buf: what
 * blobs_local_stage makes where the filesystem has no O_TMPFILE (here it
 * has, so that branch is made by hand). Returns its fd. */
static int named_staging(struct fx *f, const char *name, char *path,
			 size_t cap, const unsigned char *buf, size_t len)
{
	int fd;

	snprintf(path, cap, "%s/staging/%s", f->tmp, name);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	return fd;
}

/* blobs_local_link of a named staging file (store/blob.c's commit, which
 * renamed it before): the blob appears with its bytes, the staging name
 * goes — also when the blob was there already (kept, not replaced) and
 * when the link fails (its folder gone: the errno, nothing left). */
static void test_local_link_named(void **state)
{
	struct fx *f = *state;
	unsigned char buf[5000], sha[32];
	char staged[256], ab[160], away[170], h[65];
	struct stat before, after;
	int fd;

	rnd(buf, sizeof buf);
	SHA256(buf, sizeof buf, sha);
	fd = named_staging(f, "n1", staged, sizeof staged, buf, sizeof buf);
	assert_rc(blobs_local_link(f->tmp, fd, staged, sha, 1), 0);
	close(fd);
	assert_int_equal(access(staged, F_OK), -1);
	assert_blob(f->b, sha, buf, sizeof buf);
	assert_rc(blobs_local_open_fd(f->tmp, sha) >= 0 ? 0 : -1, 0);

	s3_hex(sha, 32, h);
	snprintf(ab, sizeof ab, "%s/blobs/%.2s/%s", f->tmp, h, h);
	assert_int_equal(stat(ab, &before), 0);
	fd = named_staging(f, "n2", staged, sizeof staged, buf, sizeof buf);
	assert_rc(blobs_local_link(f->tmp, fd, staged, sha, 0), 0);
	close(fd);
	assert_int_equal(access(staged, F_OK), -1);
	assert_int_equal(stat(ab, &after), 0);
	assert_int_equal(after.st_ino, before.st_ino);   /* not replaced */
	assert_blob(f->b, sha, buf, sizeof buf);
	assert_rc(blobs_local_unlink(f->tmp, sha), 0);
	assert_rc(blobs_local_unlink(f->tmp, sha), 0);   /* gone: still 0 */

	snprintf(ab, sizeof ab, "%s/blobs/%.2s", f->tmp, h);
	snprintf(away, sizeof away, "%s.away", ab);
	assert_int_equal(rename(ab, away), 0);
	fd = named_staging(f, "n3", staged, sizeof staged, buf, sizeof buf);
	assert_rc(blobs_local_link(f->tmp, fd, staged, sha, 1), -ENOENT);
	close(fd);
	assert_int_equal(access(staged, F_OK), -1);
	assert_int_equal(rename(away, ab), 0);
	assert_rc(blobs_stat(f->b, sha, NULL), -ENOENT);
	assert_int_equal(sweep(f->b, 0), 0);
}

#define CONTRACT                                            \
	cmocka_unit_test(test_round_trip),                  \
	cmocka_unit_test(test_durable),                     \
	cmocka_unit_test(test_errors),                      \
	cmocka_unit_test(test_wrong_hash),                  \
	cmocka_unit_test(test_abort_and_sweep),             \
	cmocka_unit_test(test_concurrent_same_hash),        \
	cmocka_unit_test(test_remove),                      \
	cmocka_unit_test(test_ranges),                      \
	cmocka_unit_test(test_presign)
/* ------------------------------------------------------------ the spec */

/* blobs_open_spec on spec with the given keys: rc, and the message. */
static int spec(const char *sp, const char *id, const char *sk, char *msg,
		size_t cap)
{
	blobstore *b = NULL;
	int rc = blobs_open_spec("/nonexistent-sievefs-dir", sp, id, sk, &b,
				 msg, cap);

	if (rc == 0) {
		assert_non_null(b);
		assert_string_equal(blobs_engine(b), "s3");
		blobs_close(b);
	} else {
		assert_null(b);
	}
	return rc;
}

/* A refused spec: -EINVAL, and a message holding `part` (the bad part). */
static void refused(const char *sp, const char *part)
{
	char msg[300] = "";

	if (spec(sp, "AKID", "SECRETKEY", msg, sizeof msg) != -EINVAL)
		fail_msg("'%s' was accepted", sp);
	if (!strstr(msg, part))
		fail_msg("'%s': the reason '%s' does not name '%s'", sp, msg,
			 part);
	assert_null(strstr(msg, "SECRETKEY"));
}

static void test_spec_parse(void **state)
{
	char msg[300], tmp[] = "/tmp/sievefs-spec.XXXXXX";
	blobstore *b;

	(void)state;
	/* NULL and "": the local engine on dir */
	assert_non_null(mkdtemp(tmp));
	assert_rc(blobs_open_spec(tmp, NULL, NULL, NULL, &b, msg, sizeof msg), 0);
	assert_string_equal(blobs_engine(b), "local");
	blobs_close(b);
	assert_rc(blobs_open_spec(tmp, "", NULL, NULL, &b, msg, sizeof msg), 0);
	assert_string_equal(blobs_engine(b), "local");
	blobs_close(b);
	char cmd[100];
	snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
	assert_int_equal(system(cmd), 0);

	/* good S3 forms (nothing is sent: the keys need not work) */
	assert_rc(spec("s3://bkt?endpoint=http://127.0.0.1:7480&region=r1",
		       "A", "S", msg, sizeof msg), 0);
	assert_rc(spec("s3://bkt/team/a?region=us-east-1&endpoint=https://s3.example.com",
		       "A", "S", msg, sizeof msg), 0);
	assert_rc(spec("s3://my.bkt-1/p/?endpoint=http://[::1]:8000/&region=x",
		       "A", "S", msg, sizeof msg), 0);

	/* strict: each refusal names its part */
	refused("S3://bkt?endpoint=http://h:1&region=r", "unknown engine");
	refused("file:///tmp/x", "unknown engine");
	refused("s3://bkt", "?endpoint");
	refused("s3://bkt?", "?endpoint");
	refused("s3://bkt?region=r", "endpoint= is missing");
	refused("s3://bkt?endpoint=http://h:1", "region= is missing");
	refused("s3://bkt?endpoint=http://h:1&endpoint=http://g:2&region=r",
		"endpoint given twice");
	refused("s3://bkt?endpoint=http://h:1&region=r&region=s",
		"region given twice");
	refused("s3://bkt?endpoint=&region=r", "'endpoint' has no value");
	refused("s3://bkt?endpoint=http://h:1&region", "'region' has no value");
	refused("s3://bkt?endpoint=http://h:1&&region=r", "empty parameter");
	refused("s3://bkt?endpoint=http://h:1&region=r&", "empty parameter");
	refused("s3://bkt?endpoint=http://h:1&region=r&secret=x",
		"unknown parameter 'secret'");
	refused("s3://bkt?endpoint=ftp://h:1&region=r", "http:// or https://");
	refused("s3://bkt?endpoint=http://:1&region=r", "no host");
	refused("s3://bkt?endpoint=http://h:0&region=r", "port");
	refused("s3://bkt?endpoint=http://h:65536&region=r", "port");
	refused("s3://bkt?endpoint=http://h:x&region=r", "port");
	refused("s3://bkt?endpoint=http://h:1/path&region=r", "without a path");
	refused("s3://bkt?endpoint=http://[::1&region=r", "IPv6");
	refused("s3://bkt?endpoint=http://h:1&region=us east", "region may hold");
	refused("s3://bkt//p?endpoint=http://h:1&region=r", "empty segment");
	refused("s3://bkt/a//b?endpoint=http://h:1&region=r", "empty segment");
	refused("s3://bkt/a/../b?endpoint=http://h:1&region=r", "'..' segment");
	refused("s3://bkt/./b?endpoint=http://h:1&region=r", "'..' segment");
	refused("s3://bkt/a b?endpoint=http://h:1&region=r", "prefix holds");
	refused("s3://bkt/a?endpoint=http://h:1&region=r#x", "'#'");
	refused("s3://Bkt?endpoint=http://h:1&region=r", "bucket name");
	refused("s3://bk?endpoint=http://h:1&region=r", "bucket name");

	/* a password in the endpoint is refused and never echoed */
	assert_rc(spec("s3://bkt?endpoint=http://u:hunter2@h:1&region=r",
		       "A", "S", msg, sizeof msg), -EINVAL);
	assert_non_null(strstr(msg, "no user or password"));
	assert_null(strstr(msg, "hunter2"));
}

static void test_spec_credentials(void **state)
{
	const char *good = "s3://bkt?endpoint=http://127.0.0.1:7480&region=r";
	char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
	char *sak = ak ? strdup(ak) : NULL, *ssk = sk ? strdup(sk) : NULL;
	char msg[300];

	(void)state;
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	/* none anywhere: the message names both places */
	assert_rc(spec(good, NULL, NULL, msg, sizeof msg), -EINVAL);
	assert_non_null(strstr(msg, "AWS_ACCESS_KEY_ID"));
	assert_non_null(strstr(msg, "AWS_SECRET_ACCESS_KEY"));
	assert_non_null(strstr(msg, "s3_access_key_id"));
	assert_non_null(strstr(msg, "s3_secret_access_key"));
	/* half of the config file's pair */
	assert_rc(spec(good, "AKID", NULL, msg, sizeof msg), -EINVAL);
	assert_non_null(strstr(msg, "s3_secret_access_key"));
	assert_rc(spec(good, NULL, "TOPSECRET", msg, sizeof msg), -EINVAL);
	assert_non_null(strstr(msg, "s3_access_key_id"));
	assert_null(strstr(msg, "TOPSECRET"));
	/* only one of the environment's */
	setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
	assert_rc(spec(good, NULL, NULL, msg, sizeof msg), -EINVAL);
	assert_non_null(strstr(msg, "AWS_SECRET_ACCESS_KEY"));
	/* the environment's pair, and the config's pair */
	setenv("AWS_SECRET_ACCESS_KEY", "TOPSECRET", 1);
	assert_rc(spec(good, NULL, NULL, msg, sizeof msg), 0);
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	assert_rc(spec(good, "AKID", "TOPSECRET", msg, sizeof msg), 0);
	if (sak)
		setenv("AWS_ACCESS_KEY_ID", sak, 1);
	if (ssk)
		setenv("AWS_SECRET_ACCESS_KEY", ssk, 1);
	free(sak);
	free(ssk);
}

/* ------------------------------------- the store over each engine */

static size_t discard(char *d, size_t size, size_t n, void *arg)
{
	(void)d, (void)arg;
	return size * n;
}

/* A store (catalog in a temp dir, SQLite or the test's PostgreSQL) whose
 * blobs are on the group's engine: local (spec "") or S3 (a fresh prefix
 * of the RGW's bucket). */
struct sfx {
	store *st;
	char tmp[64], dir[96];
	char spec[700];          /* "" or the s3:// spec */
	char prefix[32];         /* S3: the prefix, "" local */
	struct store_dataset ds;
};

static int sfx_setup(void **state, int on_s3)
{
	struct sfx *f = calloc(1, sizeof *f);
	char msg[STORE_ERRMSG] = "";
	unsigned char r[6];

	if (!f)
		return -1;
	snprintf(f->tmp, sizeof f->tmp, "/tmp/sievefs-bst.XXXXXX");
	if (!mkdtemp(f->tmp))
		return -1;
	snprintf(f->dir, sizeof f->dir, "%s/store", f->tmp);
	if (on_s3) {
		const char *b = getenv("S3_BUCKET"), *e = getenv("S3_ENDPOINT"),
			   *rg = getenv("S3_REGION");

		if (!b || !e || !rg || RAND_bytes(r, sizeof r) != 1) {
			fprintf(stderr, "test_blobstore: the store group needs "
				"S3_BUCKET, S3_ENDPOINT, S3_REGION (make test-s3)\n");
			return -1;
		}
		snprintf(f->prefix, sizeof f->prefix, "s%02x%02x%02x%02x%02x%02x/",
			 r[0], r[1], r[2], r[3], r[4], r[5]);
		snprintf(f->spec, sizeof f->spec, "s3://%s/%s?endpoint=%s&region=%s",
			 b, f->prefix, e, rg);
	}
	if (store_open_engines(f->dir, NULL, f->spec, NULL, NULL,
			       STORE_OPEN_OWNER, &f->st, msg, sizeof msg) ||
	    store_dataset_create(f->st, "", "d", &f->ds)) {
		fprintf(stderr, "test_blobstore: store open: %s\n", msg);
		store_close(f->st);
		rm_tree(f->tmp);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int sfx_local(void **state) { return sfx_setup(state, 0); }
static int sfx_s3(void **state) { return sfx_setup(state, 1); }

static int sfx_teardown(void **state)
{
	struct sfx *f = *state;

	if (!f)
		return 0;
	store_close(f->st);
	rm_tree(f->tmp);
	free(f);
	return 0;
}

/* A staging file of the store holding len bytes of buf: its fd; the
 * staging path into staged. */
static int staged_bytes(struct sfx *f, const void *buf, size_t len,
			char *staged, size_t cap)
{
	int fd = store_staging_create(f->st, staged, cap);

	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, buf, len, 0), (ssize_t)len);
	return fd;
}

/* The blob's bytes through the store (an fd: the local file, or the S3
 * engine's read cache, fetched when missing) equal buf. */
static void assert_store_blob(struct sfx *f, const unsigned char *sha,
			      const unsigned char *buf, size_t len)
{
	unsigned char *back = malloc(len + 1);
	int fd = store_blob_open(f->st, sha);

	assert_non_null(back);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, back, len + 1, 0), (ssize_t)len);
	assert_memory_equal(back, buf, len);
	close(fd);
	free(back);
}

static int64_t new_file(struct sfx *f, const char *name)
{
	struct store_newnode nn = { .kind = STORE_FILE, .mode = 0644 };
	struct store_node n;

	assert_rc(store_node_create(f->st, f->ds.live_root, name, &nn, &n), 0);
	return n.ino;
}

/* 1 if the engine holds sha: a blob an fd can be opened on, after the
 * S3 read cache was emptied (so the answer is the bucket's). */
static int engine_has(struct sfx *f, const unsigned char *sha)
{
	char cmd[200];
	int fd;

	if (f->spec[0]) {
		snprintf(cmd, sizeof cmd, "rm -f %s/cache/blobs/*/*", f->dir);
		assert_int_equal(system(cmd), 0);
	}
	fd = store_blob_open(f->st, sha);
	if (fd >= 0)
		close(fd);
	return fd >= 0;
}

/* Collection spares a hash an upload has pending: X is named by node a;
 * an upload of X is under way — its hash recorded pending (planted here
 * as its row: the upload's first step), its bytes found there, its node
 * not committed yet —; a goes: X stays. Once nothing names it and the
 * grace is over, the sweep takes it. */
static void test_store_collect_spares_pending(void **state)
{
	struct sfx *f = *state;
	unsigned char x[5000], sha[32];
	char staged[STORE_PATH_MAX], hex[65], sql[300];
	int64_t ino;
	size_t gone;
	int fd;

	rnd(x, sizeof x);
	SHA256(x, sizeof x, sha);
	s3_hex(sha, 32, hex);
	ino = new_file(f, "a");
	fd = staged_bytes(f, x, sizeof x, staged, sizeof staged);
	assert_rc(store_node_commit(f->st, ino, fd, staged, sha, sizeof x,
				    0, 0), 0);
	close(fd);
	snprintf(sql, sizeof sql, "INSERT INTO pending(\"user\", sha, size, put)"
		 " VALUES('eve', %s%s%s, %zu, 1)",
		 strcmp(tstore_engine(), "sqlite") ? "decode('" : "X'", hex,
		 strcmp(tstore_engine(), "sqlite") ? "', 'hex')" : "'", sizeof x);
	assert_rc(tstore_catalog_exec(f->dir, sql, NULL), 0);
	/* the only node naming X goes: X is pending, so it stays */
	assert_rc(store_node_remove(f->st, f->ds.live_root, "a", 0), 0);
	assert_true(engine_has(f, sha));
	assert_store_blob(f, sha, x, sizeof x);
	/* the sweep after the grace: nothing names X, it goes */
	assert_rc(store_blob_sweep(f->st, 0, &gone, NULL), 0);
	assert_int_equal(gone, 1);
	assert_false(engine_has(f, sha));
}

/* A lying upload (bytes claimed under another hash) stores nothing and
 * leaves the blob of that hash as it was. */
static void test_store_lying_upload(void **state)
{
	struct sfx *f = *state;
	unsigned char x[3000], y[3000], sx[32], sy[32];
	char staged[STORE_PATH_MAX];
	int fd;

	rnd(x, sizeof x);
	rnd(y, sizeof y);
	SHA256(x, sizeof x, sx);
	SHA256(y, sizeof y, sy);
	/* y's bytes claimed as x's, x not stored: refused by the engine
	 * (S3) or ... the local engine trusts the caller's hash (the
	 * server checks it on the way in): there only an existing blob
	 * is checked untouched */
	if (f->spec[0]) {
		fd = staged_bytes(f, y, sizeof y, staged, sizeof staged);
		assert_rc(store_blob_put(f->st, fd, staged, sx, "mallory"),
			  -EBADMSG);
		close(fd);
		assert_false(engine_has(f, sx));
	}
	/* x stored honestly, then y's bytes claimed as x again */
	fd = staged_bytes(f, x, sizeof x, staged, sizeof staged);
	assert_rc(store_blob_put(f->st, fd, staged, sx, "alice"), 0);
	close(fd);
	fd = staged_bytes(f, y, sizeof y, staged, sizeof staged);
	store_blob_put(f->st, fd, staged, sx, "mallory");
	close(fd);
	assert_true(engine_has(f, sx));
	assert_store_blob(f, sx, x, sizeof x);
	assert_false(engine_has(f, sy));
}

struct putter {
	struct sfx *f;
	const unsigned char *buf;
	size_t len;
	const unsigned char *sha;
	char user[16];
	int rc;
};

static void *put_thread(void *arg)
{
	struct putter *p = arg;
	char staged[STORE_PATH_MAX];
	int fd = store_staging_create(p->f->st, staged, sizeof staged);

	if (fd < 0) {
		p->rc = fd;
		return NULL;
	}
	if (pwrite(fd, p->buf, p->len, 0) != (ssize_t)p->len)
		p->rc = -EIO;
	else
		p->rc = store_blob_put(p->f->st, fd, staged, p->sha, p->user);
	close(fd);
	return NULL;
}

/* Eight users upload the same bytes at once (a multipart size on S3):
 * every PUT succeeds, each user is granted, one whole blob. */
static void test_store_concurrent_same_hash(void **state)
{
	struct sfx *f = *state;
	size_t len = PART + 4321;
	unsigned char *x = malloc(len), sha[32];
	struct putter p[8];
	pthread_t t[8];

	assert_non_null(x);
	rnd(x, len);
	SHA256(x, len, sha);
	for (int i = 0; i < 8; i++) {
		p[i] = (struct putter){ .f = f, .buf = x, .len = len, .sha = sha };
		snprintf(p[i].user, sizeof p[i].user, "u%d", i);
		assert_int_equal(pthread_create(&t[i], NULL, put_thread, &p[i]), 0);
	}
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		assert_rc(p[i].rc, 0);
		assert_int_equal(store_blob_granted(f->st, p[i].user, sha), 1);
	}
	assert_true(engine_has(f, sha));
	assert_store_blob(f, sha, x, len);
	assert_int_equal(store_blob_engine_sweep(f->st, 0, NULL), 0);
	free(x);
}

/* A process killed (SIGKILL) in the middle of an upload leaves staging
 * only; the engine's sweep removes it and no blob appears. On S3 the child
 * has sent a part of a multipart upload when it dies. Also: the bucket
 * is private (an unsigned GET of a blob's key: 403). */
static void test_store_sweep_after_kill(void **state)
{
	struct sfx *f = *state;
	size_t len = (16u << 20) + PART;   /* the store's part size: 16 MiB */
	unsigned char *x = malloc(len), sha[32];
	unsigned removed = 0;
	int status;
	pid_t pid;

	assert_non_null(x);
	rnd(x, len);
	SHA256(x, len, sha);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		blobstore *b;
		blob_upload *u;
		char msg[256];

		if (blobs_open_spec(f->dir, f->spec, NULL, NULL, &b, msg, sizeof msg) ||
		    blobs_begin(b, &u) || blobs_write(u, x, len))
			_exit(3);
		raise(SIGKILL);      /* before finish: the parts are sent */
		_exit(4);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	assert_false(engine_has(f, sha));
	if (f->spec[0]) {
		/* a fresh upload is spared by a sweep with a long age */
		assert_rc(store_blob_engine_sweep(f->st, 3600, &removed), 0);
		assert_int_equal(removed, 0);
	}
	assert_rc(store_blob_engine_sweep(f->st, 0, &removed), 0);
	if (f->spec[0])
		assert_true(removed >= 1);    /* the open multipart upload */
	assert_rc(store_blob_engine_sweep(f->st, 0, &removed), 0);
	assert_int_equal(removed, 0);
	assert_false(engine_has(f, sha));
	free(x);

	if (f->spec[0]) {   /* private: an unsigned GET of a blob's key */
		unsigned char y[100], sy[32];
		char staged[STORE_PATH_MAX], url[1200], hex[65];
		long code = 0;
		int fd;
		CURL *c = curl_easy_init();

		rnd(y, sizeof y);
		SHA256(y, sizeof y, sy);
		fd = staged_bytes(f, y, sizeof y, staged, sizeof staged);
		assert_rc(store_blob_put(f->st, fd, staged, sy, "alice"), 0);
		close(fd);
		s3_hex(sy, 32, hex);
		snprintf(url, sizeof url, "%s/%s/%sblobs/%.2s/%s",
			 getenv("S3_ENDPOINT"), getenv("S3_BUCKET"), f->prefix,
			 hex, hex);
		assert_non_null(c);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_NOBODY, 0L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		assert_int_equal(code, 403);
		/* ... and its presigned URL (the store's) does work */
		assert_int_equal(store_blob_url(f->st, sy, 60, url, sizeof url), 1);
		curl_easy_setopt(c, CURLOPT_URL, url);
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		assert_int_equal(code, 200);
		curl_easy_cleanup(c);
	} else {
		char url[64];

		assert_int_equal(store_blob_url(f->st, sha, 60, url, sizeof url), 0);
		assert_string_equal(url, "");
	}
}

/* The delete of sha's pending rows and its blob from the engine that
 * another server's sweep would make (after the grace), behind this
 * store's back: this store's read cache still holds the bytes. */
static void collected_elsewhere(struct sfx *f, const unsigned char *sha)
{
	char hex[65], sql[300], msg[256] = "";
	blobstore *b = NULL;

	s3_hex(sha, 32, hex);
	snprintf(sql, sizeof sql, "DELETE FROM pending WHERE sha=%s%s%s",
		 strcmp(tstore_engine(), "sqlite") ? "decode('" : "X'", hex,
		 strcmp(tstore_engine(), "sqlite") ? "', 'hex')" : "'");
	assert_rc(tstore_catalog_exec(f->dir, sql, NULL), 0);
	assert_rc(blobs_open_spec(f->dir, f->spec, NULL, NULL, &b, msg,
				  sizeof msg), 0);
	assert_rc(blobs_remove(b, sha), 0);
	blobs_close(b);
}

/* A server's upload: the PUT (store_blob_put), then the commit naming
 * the blob, from an fd on the store's copy (api/routes_data.c's
 * commit_blob). The commit of a blob this process has just sent needs no
 * look in the engine while the put's pending row is there as the put
 * left it; once another server's sweep ended that row and collected the
 * blob, the commit must send the bytes again, not trust the stale cache. */
static void test_store_commit_after_put(void **state)
{
	struct sfx *f = *state;
	unsigned char x[4000], y[4000], sx[32], sy[32];
	char staged[STORE_PATH_MAX];
	struct store_node n;
	int64_t a = new_file(f, "a"), b = new_file(f, "b");
	int fd;

	rnd(x, sizeof x);
	rnd(y, sizeof y);
	SHA256(x, sizeof x, sx);
	SHA256(y, sizeof y, sy);
	fd = staged_bytes(f, x, sizeof x, staged, sizeof staged);
	assert_rc(store_blob_put(f->st, fd, staged, sx, "alice"), 0);
	close(fd);
	fd = store_blob_open(f->st, sx);
	assert_true(fd >= 0);
	assert_rc(store_node_commit(f->st, a, fd, "", sx, sizeof x, 0, 0), 0);
	close(fd);
	assert_rc(store_node_get(f->st, a, &n), 0);
	assert_true(n.has_sha && !memcmp(n.sha, sx, 32));
	assert_true(engine_has(f, sx));
	assert_store_blob(f, sx, x, sizeof x);

	fd = staged_bytes(f, y, sizeof y, staged, sizeof staged);
	assert_rc(store_blob_put(f->st, fd, staged, sy, "alice"), 0);
	close(fd);
	if (f->spec[0])
		collected_elsewhere(f, sy);
	fd = store_blob_open(f->st, sy);    /* the cache's copy, stale */
	assert_true(fd >= 0);
	assert_rc(store_node_commit(f->st, b, fd, "", sy, sizeof y, 0, 0), 0);
	close(fd);
	assert_true(engine_has(f, sy));     /* sent again */
	assert_store_blob(f, sy, y, sizeof y);
}

/* The same bytes sent again (a file copied into a second dataset): the
 * blob is named already. S3: the put records them pending all the same,
 * so the node naming them can go before the second commit without the
 * blob going with it, and that commit finds its put's row (no pending
 * mark and HEAD of its own); the commit ends the row. Local: the link
 * under the put's transaction is all it needs, no row (as before). */
static void test_store_resent_named(void **state)
{
	struct sfx *f = *state;
	unsigned char x[3000], sx[32];
	char staged[STORE_PATH_MAX];
	int64_t a = new_file(f, "a"), b = new_file(f, "b"), bytes;
	size_t n;
	int fd;

	rnd(x, sizeof x);
	SHA256(x, sizeof x, sx);
	fd = staged_bytes(f, x, sizeof x, staged, sizeof staged);
	assert_rc(store_blob_put(f->st, fd, staged, sx, "alice"), 0);
	close(fd);
	fd = store_blob_open(f->st, sx);
	assert_true(fd >= 0);
	assert_rc(store_node_commit(f->st, a, fd, "", sx, sizeof x, 0, 0), 0);
	close(fd);
	assert_rc(store_blob_pending(f->st, "alice", &n, &bytes), 0);
	assert_int_equal(n, 0);

	fd = staged_bytes(f, x, sizeof x, staged, sizeof staged);
	assert_rc(store_blob_put(f->st, fd, staged, sx, "alice"), 0);
	close(fd);
	assert_rc(store_blob_pending(f->st, "alice", &n, &bytes), 0);
	assert_int_equal(n, f->spec[0] ? 1 : 0);
	if (f->spec[0]) {
		assert_int_equal(bytes, sizeof x);
		/* the only node naming it goes: pending, so the blob stays */
		assert_rc(store_node_remove(f->st, f->ds.live_root, "a", 0), 0);
		assert_true(engine_has(f, sx));
	}
	fd = store_blob_open(f->st, sx);
	assert_true(fd >= 0);
	assert_rc(store_node_commit(f->st, b, fd, "", sx, sizeof x, 0, 0), 0);
	close(fd);
	assert_rc(store_blob_pending(f->st, "alice", &n, &bytes), 0);
	assert_int_equal(n, 0);
	assert_true(engine_has(f, sx));
	assert_store_blob(f, sx, x, sizeof x);
}

/* A kept commit (the bytes stay with the uploader) names a thumbnail the
 * user sent: only while the engine holds it. One this process has just
 * sent: fine. One another server's sweep collected while this store's
 * read cache still holds it: refused (-EAGAIN: the client sends it again),
 * not a thumbs row naming bytes no other server can read. */
static void test_store_kept_thumb_collected(void **state)
{
	struct sfx *f = *state;
	unsigned char x[32], t[2000], sx[32], st[32];
	char staged[STORE_PATH_MAX];
	int64_t a = new_file(f, "a"), b = new_file(f, "b");
	int fd;

	rnd(x, sizeof x);
	SHA256(x, sizeof x, sx);
	rnd(t, sizeof t);
	SHA256(t, sizeof t, st);
	fd = staged_bytes(f, t, sizeof t, staged, sizeof staged);
	assert_rc(store_blob_put(f->st, fd, staged, st, "alice"), 0);
	close(fd);
	assert_rc(store_node_commit_kept(f->st, a, sx, 5000, 0, st, sizeof t,
					 0), 0);
	assert_true(engine_has(f, st));
	if (!f->spec[0])
		return;
	t[0] ^= 1;
	SHA256(t, sizeof t, st);
	fd = staged_bytes(f, t, sizeof t, staged, sizeof staged);
	assert_rc(store_blob_put(f->st, fd, staged, st, "alice"), 0);
	close(fd);
	collected_elsewhere(f, st);
	assert_rc(store_node_commit_kept(f->st, b, sx, 5000, 0, st, sizeof t,
					 0), -EAGAIN);
}

#define STORE_CASE(fn, setup) \
	cmocka_unit_test_setup_teardown(fn, setup, sfx_teardown)
#define STORE_CASES(setup)                                          \
	STORE_CASE(test_store_collect_spares_pending, setup),       \
	STORE_CASE(test_store_lying_upload, setup),                 \
	STORE_CASE(test_store_concurrent_same_hash, setup),         \
	STORE_CASE(test_store_sweep_after_kill, setup),             \
	STORE_CASE(test_store_commit_after_put, setup),             \
	STORE_CASE(test_store_resent_named, setup),                 \
	STORE_CASE(test_store_kept_thumb_collected, setup)

/* last in each group: run only with BLOBS_BENCH */
#define BENCH cmocka_unit_test(test_bench)

int main(void)
{
	/* the local group adds the local engine's file calls, which
	 * store/blob.c uses directly */
	const struct CMUnitTest local[] = {
		CONTRACT, cmocka_unit_test(test_local_link_named),
		cmocka_unit_test(test_spec_parse),
		cmocka_unit_test(test_spec_credentials), BENCH
	};
	const struct CMUnitTest remote[] = { CONTRACT, BENCH };
	const struct CMUnitTest stores[] = { STORE_CASES(sfx_local) };
	const struct CMUnitTest stores_s3[] = { STORE_CASES(sfx_s3) };
	/* the bench is a measurement, not a check: a case only when asked */
	size_t skip = getenv("BLOBS_BENCH") ? 0 : 1;
	const char *want_s3 = getenv("BLOBSTORE_S3");
	int rc;

	curl_global_init(CURL_GLOBAL_DEFAULT);
	rc = _cmocka_run_group_tests("blobstore local", local,
				     sizeof local / sizeof local[0] - skip,
				     local_setup, fx_teardown);
	rc |= cmocka_run_group_tests_name("store over the local engine", stores,
					  NULL, NULL);
	if (want_s3 && !strcmp(want_s3, "1"))
		rc |= _cmocka_run_group_tests("blobstore s3", remote,
					      sizeof remote / sizeof remote[0] - skip,
					      s3_setup, fx_teardown) |
		      cmocka_run_group_tests_name("store over the S3 engine",
						  stores_s3, NULL, NULL);
	else
		printf("# the S3 engine's run of this contract is `make test-s3` "
		       "(BLOBSTORE_S3=1 against a real RGW)\n");
	fflush(stdout);
	curl_global_cleanup();
	return rc;
}
