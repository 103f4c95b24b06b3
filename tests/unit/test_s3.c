/*
 * test_s3.c — store/s3.c against a real Ceph RGW (never a mock): object
 * round trips (binary bytes, ranges, an odd key), listing across pages,
 * server-side copy, multipart (done, aborted, failing half way), a PUT
 * whose x-amz-content-sha256 lies, presigned GET/PUT URLs fetched with the
 * curl program (working, expired, tampered), wrong credentials, an unsigned
 * request (the bucket is not public), threads sharing one handle.
 *
 * Run with `make test-s3`: it starts an RGW with tests/scale/rgw.sh in a
 * temp dir, runs this binary with that RGW's s3.env in the environment
 * (S3_TARGET, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, and S3_RGW_DIR, the
 * RGW's directory, for a test that stops and restarts radosgw) and stops
 * the RGW in a trap. Without those variables every test FAILS (never skips).
 * S3_BENCH=1 adds a measurement (objects/s and MiB/s, printed, never
 * asserted).
 *
 * Each run writes under a fresh random key prefix, so runs never see each
 * other's objects.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include "store/s3.h"
#include "store/s3_int.h"   /* s3i_xml: the expat reader, tested alone */

extern char **environ;

#define assert_rc(expr, want) do {                                       \
	int rc_ = (expr), want_ = (want);                                \
	if (rc_ != want_)                                                \
		fail_msg("%s: got %d (%s), want %d (%s); %s", #expr, rc_,  \
			 strerror(-rc_), want_, strerror(-want_),          \
			 e.message);                                       \
} while (0)

static struct s3_config base;   /* from the environment, prefix randomised */
static char tmpdir[64];

static void rnd(void *buf, size_t n)
{
	if (RAND_bytes(buf, (int)n) != 1)
		fail_msg("RAND_bytes failed");
}

static s3 *open_h(const struct s3_config *cfg)
{
	char msg[256] = "";
	s3 *h = NULL;
	int rc = s3_open(cfg, &h, msg, sizeof msg);

	if (rc)
		fail_msg("s3_open: %s (%s)", strerror(-rc), msg);
	return h;
}

/* The secret must never appear in an error. */
static void no_secret(const struct s3_err *e)
{
	if (strstr(e->message, base.secret_key) || strstr(e->code, base.secret_key))
		fail_msg("an error message holds the secret");
}

/* A temp file holding len random bytes; its fd (read-write) and SHA-256. */
static int tmp_file(uint64_t len, unsigned char sha[32])
{
	char path[128];
	unsigned char *b = malloc(1 << 20);
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	int fd;

	assert_non_null(b);
	snprintf(path, sizeof path, "%s/f.XXXXXX", tmpdir);
	fd = mkstemp(path);
	assert_true(fd >= 0);
	unlink(path);
	assert_non_null(c);
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (uint64_t done = 0; done < len;) {
		size_t n = len - done < (1 << 20) ? (size_t)(len - done) : 1 << 20;

		rnd(b, n);
		assert_int_equal(write(fd, b, n), (ssize_t)n);
		EVP_DigestUpdate(c, b, n);
		done += n;
	}
	if (sha)
		EVP_DigestFinal_ex(c, sha, NULL);
	EVP_MD_CTX_free(c);
	free(b);
	return fd;
}

static void fd_sha(int fd, unsigned char sha[32], uint64_t *len)
{
	unsigned char b[65536];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	ssize_t k;

	*len = 0;
	assert_non_null(c);
	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	lseek(fd, 0, SEEK_SET);
	while ((k = read(fd, b, sizeof b)) > 0) {
		EVP_DigestUpdate(c, b, (size_t)k);
		*len += (uint64_t)k;
	}
	assert_true(k == 0);
	EVP_DigestFinal_ex(c, sha, NULL);
	EVP_MD_CTX_free(c);
}

/* Runs the curl program: curl -s -o OUT -w %{http_code} [-T IN] URL (the
 * URL holds a signature, never the secret). Returns the HTTP status. */
static int curl_run(const char *url, const char *in, const char *out,
		    const char *hdrs)
{
	char codef[128], code[16] = "";
	const char *argv[16];
	int n = 0, st, fd;
	posix_spawn_file_actions_t fa;
	pid_t pid;

	snprintf(codef, sizeof codef, "%s/code", tmpdir);
	argv[n++] = "curl";
	argv[n++] = "-s";
	argv[n++] = "-o";
	argv[n++] = out ? out : "/dev/null";
	argv[n++] = "-w";
	argv[n++] = "%{http_code}";
	if (in) {
		argv[n++] = "-T";
		argv[n++] = in;
	}
	if (hdrs) {
		argv[n++] = "-D";
		argv[n++] = hdrs;
	}
	argv[n++] = "--";
	argv[n++] = url;
	argv[n] = NULL;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, codef, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (posix_spawnp(&pid, "curl", &fa, NULL, (char **)argv, environ))
		fail_msg("cannot run curl (apt-get install curl)");
	posix_spawn_file_actions_destroy(&fa);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	fd = open(codef, O_RDONLY);
	assert_true(fd >= 0);
	assert_true(read(fd, code, sizeof code - 1) >= 0);
	close(fd);
	return atoi(code);
}

static int curl_status(const char *url, const char *in, const char *out)
{
	return curl_run(url, in, out, NULL);
}

/* Whether the file holds the line (case-insensitively, CRLF ignored). */
static int file_has_line(const char *path, const char *line)
{
	char buf[512];
	FILE *f = fopen(path, "r");
	int found = 0;

	assert_non_null(f);
	while (!found && fgets(buf, sizeof buf, f)) {
		buf[strcspn(buf, "\r\n")] = 0;
		found = !strcasecmp(buf, line);
	}
	fclose(f);
	return found;
}

static int file_eq_buf(const char *path, const void *buf, size_t len)
{
	unsigned char *b = malloc(len + 1);
	int fd = open(path, O_RDONLY), ok;
	ssize_t k;

	assert_non_null(b);
	assert_true(fd >= 0);
	k = read(fd, b, len + 1);
	close(fd);
	ok = k == (ssize_t)len && !memcmp(b, buf, len);
	free(b);
	return ok;
}

/* ------------------------------------------------------------ XML */

struct xseen {
	int n;
	char keys[4][64];
	char parents[4][32];
};

static int xml_keys(void *arg, const char *parent, const char *name,
		    const char *text)
{
	struct xseen *x = arg;

	if (strcmp(name, "Key") || x->n == 4)
		return 0;
	snprintf(x->keys[x->n], sizeof x->keys[0], "%s", text);
	snprintf(x->parents[x->n], sizeof x->parents[0], "%s", parent);
	x->n++;
	return 0;
}

static int xml_stop(void *arg, const char *parent, const char *name,
		    const char *text)
{
	(void)parent, (void)text;
	++*(int *)arg;
	return strcmp(name, "Key") ? 0 : 7;
}

/* expat reads S3's answers: entities, character references (UTF-8 out),
 * CDATA, the parent's name; refuses what is not XML, a bomb of entity
 * expansions, text past its cap; a callback's non-zero stops it. */
static void test_xml_reader(void **state)
{
	const char doc[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
		"<Contents><Key>a&amp;b&lt;&#x41;&#228;&#x1F600;</Key></Contents>"
		"<Contents><Key><![CDATA[x<y>&z]]></Key></Contents>"
		"<Key>top</Key></ListBucketResult>";
	struct xseen x = { 0 };
	char out[64];
	int n = 0;

	(void)state;
	assert_int_equal(s3i_xml(doc, strlen(doc), xml_keys, &x), 0);
	assert_int_equal(x.n, 3);
	assert_string_equal(x.keys[0], "a&b<A\xc3\xa4\xf0\x9f\x98\x80");
	assert_string_equal(x.parents[0], "Contents");
	assert_string_equal(x.keys[1], "x<y>&z");
	assert_string_equal(x.keys[2], "top");
	assert_string_equal(x.parents[2], "ListBucketResult");
	assert_int_equal(s3i_xml_get(doc, strlen(doc), "ListBucketResult", "Key",
				     out, sizeof out), 0);
	assert_string_equal(out, "top");
	assert_int_equal(s3i_xml_get(doc, strlen(doc), NULL, "Nope", out,
				     sizeof out), -ENOENT);
	assert_int_equal(s3i_xml_get(doc, strlen(doc), NULL, "Key", out, 4),
			 -EOVERFLOW);
	assert_int_equal(s3i_xml(doc, strlen(doc), xml_stop, &n), 7);
	assert_int_equal(n, 1);   /* stopped at the first </Key> */
	/* not XML, cut, an unknown entity, a body an HTML proxy sent */
	const char *bad[] = { "<a><b></a>", "<Error><Code>NoSuch", "<a>&nope;</a>",
			      "<html><body>502 Bad Gateway</body>" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(s3i_xml(bad[i], strlen(bad[i]), xml_keys, &x),
				 -EBADMSG);
	/* a billion laughs: refused by expat's amplification limit */
	char bomb[4096];
	int k = snprintf(bomb, sizeof bomb, "<!DOCTYPE d [<!ENTITY e0 \"laugh\">");
	for (int i = 1; i < 12; i++)
		k += snprintf(bomb + k, sizeof bomb - (size_t)k,
			      "<!ENTITY e%d \"&e%d;&e%d;&e%d;&e%d;&e%d;&e%d;&e%d;&e%d;\">",
			      i, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1, i - 1);
	snprintf(bomb + k, sizeof bomb - (size_t)k, "]><d><Key>&e11;</Key></d>");
	assert_int_equal(s3i_xml(bomb, strlen(bomb), xml_keys, &x), -EBADMSG);
	/* an element's text past 16 KiB */
	static char d[20000 + 32];
	size_t big = 20000;
	memcpy(d, "<Key>", 5);
	memset(d + 5, 'k', big);
	memcpy(d + 5 + big, "</Key>", 7);
	assert_int_equal(s3i_xml(d, strlen(d), xml_keys, &x), -EBADMSG);
}

/* ------------------------------------------------------------ config */

static void test_config_parse(void **state)
{
	struct s3_config c;
	char msg[200];

	(void)state;
	assert_int_equal(s3_config_parse("s3://my-bucket/some/pre?endpoint=http://127.0.0.1:8080/&region=eu-1",
					 &c, msg, sizeof msg), 0);
	assert_string_equal(c.bucket, "my-bucket");
	assert_string_equal(c.prefix, "some/pre/");
	assert_string_equal(c.endpoint, "http://127.0.0.1:8080");
	assert_string_equal(c.region, "eu-1");
	assert_int_equal(s3_config_parse("s3://bkt", &c, msg, sizeof msg), 0);
	assert_string_equal(c.prefix, "");
	assert_string_equal(c.region, "us-east-1");
	assert_string_equal(c.endpoint, "https://s3.us-east-1.amazonaws.com");
	assert_int_equal(s3_config_parse("s3://bkt/?endpoint=http%3A%2F%2Fh%3A1", &c, msg, sizeof msg), 0);
	assert_string_equal(c.endpoint, "http://h:1");
	assert_string_equal(c.prefix, "");
	assert_int_equal(s3_config_parse("http://bkt", &c, msg, sizeof msg), -EINVAL);
	assert_int_equal(s3_config_parse("s3://B_ad", &c, msg, sizeof msg), -EINVAL);
	assert_int_equal(s3_config_parse("s3://ab", &c, msg, sizeof msg), -EINVAL);
	assert_int_equal(s3_config_parse("s3://bkt?color=red", &c, msg, sizeof msg), -EINVAL);
	assert_non_null(strstr(msg, "color"));
	assert_int_equal(s3_config_parse("s3://bkt?endpoint=ftp://x", &c, msg, sizeof msg), -EINVAL);
	assert_int_equal(s3_config_parse("s3://bkt?endpoint=http://x/path", &c, msg, sizeof msg), -EINVAL);
	/* no keys: s3_open refuses, naming what is missing */
	s3 *h = NULL;
	assert_int_equal(s3_config_parse("s3://bkt?endpoint=http://x", &c, msg, sizeof msg), 0);
	assert_int_equal(s3_open(&c, &h, msg, sizeof msg), -EINVAL);
	assert_null(h);
	assert_non_null(strstr(msg, "key"));
}

static void test_presign_shape(void **state)
{
	/* SigV4 query signing is deterministic: same inputs, same URL; the
	 * secret shows nowhere in it */
	char u1[4096], u2[4096];
	s3 *h = open_h(&base);

	(void)state;
	assert_int_equal(s3_presign_ex(h, "GET", "a b/c", 60, 1700000000, NULL, u1, sizeof u1), 0);
	assert_int_equal(s3_presign_ex(h, "GET", "a b/c", 60, 1700000000, NULL, u2, sizeof u2), 0);
	assert_string_equal(u1, u2);
	assert_non_null(strstr(u1, "/a%20b/c?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential="));
	assert_non_null(strstr(u1, "&X-Amz-Date=20231114T221320Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature="));
	assert_null(strstr(u1, base.secret_key));
	assert_int_equal(s3_presign_ex(h, "GET", "a b/c", 61, 1700000000, NULL, u2, sizeof u2), 0);
	assert_string_not_equal(u1, u2);
	assert_int_equal(s3_presign(h, "DELETE", "k", 60, u1, sizeof u1), -EINVAL);
	assert_int_equal(s3_presign(h, "GET", "k", 0, u1, sizeof u1), -EINVAL);
	assert_int_equal(s3_presign(h, "GET", "k", S3_PRESIGN_MAX_S + 1, u1, sizeof u1), -EINVAL);
	assert_int_equal(s3_presign(h, "GET", "", 60, u1, sizeof u1), -EINVAL);
	assert_int_equal(s3_presign(h, "GET", "k", 60, u1, 20), -ENAMETOOLONG);
	s3_close(h);
}

/* ------------------------------------------------------------ objects */

static void test_put_get_binary(void **state)
{
	static unsigned char buf[70000], back[80000];
	struct s3_err e = { 0 };
	uint64_t size = 0, got64 = 0;
	char etag[S3_ETAG_MAX], path[128];
	size_t got = 0;
	s3 *h = open_h(&base);

	(void)state;
	for (size_t i = 0; i < 256; i++)
		buf[i] = (unsigned char)i;      /* every byte value, NUL first */
	rnd(buf + 256, sizeof buf - 256);
	assert_rc(s3_put_buf(h, "bin/one", buf, sizeof buf, NULL, &e), 0);
	assert_rc(s3_get_buf(h, "bin/one", 0, S3_TO_END, back, sizeof back, &got, &e), 0);
	assert_int_equal(got, sizeof buf);
	assert_memory_equal(back, buf, sizeof buf);
	assert_rc(s3_head(h, "bin/one", &size, etag, &e), 0);
	assert_int_equal(size, sizeof buf);
	assert_true(etag[0] == '"');
	/* into an fd */
	snprintf(path, sizeof path, "%s/get", tmpdir);
	int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_rc(s3_get_fd(h, "bin/one", 0, S3_TO_END, fd, &got64, &e), 0);
	close(fd);
	assert_int_equal(got64, sizeof buf);
	assert_true(file_eq_buf(path, buf, sizeof buf));
	/* a buffer too small: -EOVERFLOW, not a silent cut */
	assert_rc(s3_get_buf(h, "bin/one", 0, S3_TO_END, back, 1000, &got, &e), -EOVERFLOW);
	/* an empty object */
	assert_rc(s3_put_buf(h, "bin/empty", NULL, 0, NULL, &e), 0);
	assert_rc(s3_head(h, "bin/empty", &size, NULL, &e), 0);
	assert_int_equal(size, 0);
	assert_rc(s3_get_buf(h, "bin/empty", 0, S3_TO_END, back, sizeof back, &got, &e), 0);
	assert_int_equal(got, 0);
	/* from an fd at an offset: its own offset does not move */
	unsigned char sha[32];
	fd = tmp_file(50000, sha);
	lseek(fd, 7, SEEK_SET);
	assert_rc(s3_put_fd(h, "bin/fd", fd, 1000, 40000, NULL, &e), 0);
	assert_int_equal(lseek(fd, 0, SEEK_CUR), 7);
	unsigned char want[40000];
	assert_int_equal(pread(fd, want, sizeof want, 1000), (ssize_t)sizeof want);
	close(fd);
	assert_rc(s3_get_buf(h, "bin/fd", 0, S3_TO_END, back, sizeof back, &got, &e), 0);
	assert_int_equal(got, sizeof want);
	assert_memory_equal(back, want, sizeof want);
	s3_close(h);
}

static void test_range(void **state)
{
	static unsigned char buf[100000], back[100000];
	struct s3_err e = { 0 };
	size_t got = 0;
	s3 *h = open_h(&base);

	(void)state;
	rnd(buf, sizeof buf);
	assert_rc(s3_put_buf(h, "range/r", buf, sizeof buf, NULL, &e), 0);
	assert_rc(s3_get_buf(h, "range/r", 12345, 1000, back, sizeof back, &got, &e), 0);
	assert_int_equal(got, 1000);
	assert_memory_equal(back, buf + 12345, 1000);
	assert_rc(s3_get_buf(h, "range/r", 99990, S3_TO_END, back, sizeof back, &got, &e), 0);
	assert_int_equal(got, 10);
	assert_memory_equal(back, buf + 99990, 10);
	/* a range running past the end is cut at the end */
	assert_rc(s3_get_buf(h, "range/r", 99000, 5000, back, sizeof back, &got, &e), 0);
	assert_int_equal(got, 1000);
	assert_memory_equal(back, buf + 99000, 1000);
	/* one that starts past it is refused */
	assert_rc(s3_get_buf(h, "range/r", 100000, 10, back, sizeof back, &got, &e), -ERANGE);
	assert_int_equal(e.http, 416);
	s3_close(h);
}

static const char odd[] = "odd dir/ä ü +%2F&?#=;:,'\"*!~@$()[]{}<>|\\^`.txt";

static int count_fn(void *arg, const struct s3_obj *o)
{
	(void)o;
	(*(int *)arg)++;
	return 0;
}

struct seen {
	int n, found;
	const char *want;
	uint64_t want_size;
	char last[S3_KEY_MAX + 1];
	int ordered;
};

static int seen_fn(void *arg, const struct s3_obj *o)
{
	struct seen *s = arg;

	if (s->n && strcmp(s->last, o->key) >= 0)
		s->ordered = 0;
	snprintf(s->last, sizeof s->last, "%s", o->key);
	s->n++;
	if (s->want && !strcmp(o->key, s->want) && o->size == s->want_size)
		s->found++;
	return 0;
}

static void test_odd_name(void **state)
{
	char back[64], url[8192], path[128];
	struct s3_err e = { 0 };
	struct seen sn = { .want = odd, .want_size = 11, .ordered = 1 };
	uint64_t size;
	size_t got;
	s3 *h = open_h(&base);

	(void)state;
	assert_rc(s3_put_buf(h, odd, "odd content", 11, NULL, &e), 0);
	assert_rc(s3_head(h, odd, &size, NULL, &e), 0);
	assert_int_equal(size, 11);
	assert_rc(s3_get_buf(h, odd, 0, S3_TO_END, back, sizeof back, &got, &e), 0);
	assert_int_equal(got, 11);
	assert_memory_equal(back, "odd content", 11);
	/* the listing gives the key back byte for byte */
	assert_rc(s3_list(h, "odd dir/", seen_fn, &sn, &e), 0);
	assert_int_equal(sn.n, 1);
	assert_int_equal(sn.found, 1);
	/* the encoded name is not another name */
	assert_rc(s3_head(h, "odd dir/ä ü +/&?#=;:,'\"*!~@$()[]{}<>|\\^`.txt", &size, NULL, &e), -ENOENT);
	/* copy to and from it */
	assert_rc(s3_copy(h, odd, "odd dir/copy &+", &e), 0);
	assert_rc(s3_get_buf(h, "odd dir/copy &+", 0, S3_TO_END, back, sizeof back, &got, &e), 0);
	assert_int_equal(got, 11);
	/* a presigned URL for it works with curl */
	snprintf(path, sizeof path, "%s/odd", tmpdir);
	assert_int_equal(s3_presign(h, "GET", odd, 60, url, sizeof url), 0);
	assert_int_equal(curl_status(url, NULL, path), 200);
	assert_true(file_eq_buf(path, "odd content", 11));
	assert_rc(s3_delete(h, odd, &e), 0);
	assert_rc(s3_head(h, odd, &size, NULL, &e), -ENOENT);
	/* control bytes, which XML 1.0 cannot carry, list back whole */
	const char ctl[] = "ctl/a\001b\nc\td\x7f";
	struct seen s2 = { .want = ctl, .want_size = 1, .ordered = 1 };
	assert_rc(s3_put_buf(h, ctl, "c", 1, NULL, &e), 0);
	assert_rc(s3_list(h, "ctl/", seen_fn, &s2, &e), 0);
	assert_int_equal(s2.n, 1);
	assert_int_equal(s2.found, 1);
	s3_close(h);
}

static void test_delete(void **state)
{
	char back[16];
	struct s3_err e = { 0 };
	size_t got;
	s3 *h = open_h(&base);

	(void)state;
	assert_rc(s3_put_buf(h, "del/x", "12345", 5, NULL, &e), 0);
	assert_rc(s3_delete(h, "del/x", &e), 0);
	assert_rc(s3_head(h, "del/x", NULL, NULL, &e), -ENOENT);
	assert_int_equal(e.http, 404);
	assert_rc(s3_get_buf(h, "del/x", 0, S3_TO_END, back, sizeof back, &got, &e), -ENOENT);
	assert_string_equal(e.code, "NoSuchKey");
	assert_non_null(strstr(e.message, "NoSuchKey"));
	/* deleting what is not there is fine (S3's semantics) */
	assert_rc(s3_delete(h, "del/x", &e), 0);
	/* bad keys are refused before anything is sent */
	assert_rc(s3_put_buf(h, "", "x", 1, NULL, &e), -EINVAL);
	char big[S3_KEY_MAX + 2];
	memset(big, 'k', sizeof big - 1);
	big[sizeof big - 1] = 0;
	assert_rc(s3_put_buf(h, big, "x", 1, NULL, &e), -EINVAL);
	/* every call that names a key says which check it failed */
	assert_non_null(strstr(e.message, "a key of 1025 bytes"));
	assert_rc(s3_put_buf(h, "", "x", 1, NULL, &e), -EINVAL);
	assert_string_equal(e.message, "an empty key");
	memset(&e, 0, sizeof e);
	assert_rc(s3_head(h, "", NULL, NULL, &e), -EINVAL);
	assert_string_equal(e.message, "an empty key");
	memset(&e, 0, sizeof e);
	assert_rc(s3_get_buf(h, big, 0, S3_TO_END, back, sizeof back, &got, &e), -EINVAL);
	assert_non_null(strstr(e.message, "a key of 1025 bytes"));
	memset(&e, 0, sizeof e);
	assert_rc(s3_delete(h, NULL, &e), -EINVAL);
	assert_string_equal(e.message, "an empty key");
	memset(&e, 0, sizeof e);
	assert_rc(s3_copy(h, "del/x", big, &e), -EINVAL);
	assert_non_null(strstr(e.message, "a key of 1025 bytes"));
	memset(&e, 0, sizeof e);
	assert_rc(s3_copy(h, "", "del/y", &e), -EINVAL);
	assert_string_equal(e.message, "an empty key");
	s3_close(h);
}

static void test_list_pages(void **state)
{
	struct s3_err e = { 0 };
	struct seen sn = { .ordered = 1 };
	char key[64];
	int n = 0;
	s3 *h = open_h(&base);

	(void)state;
	/* 1000 is a page: 1003 objects need two */
	for (int i = 0; i < 1003; i++) {
		snprintf(key, sizeof key, "list/%05d", i);
		assert_rc(s3_put_buf(h, key, key, strlen(key), NULL, &e), 0);
	}
	assert_rc(s3_put_buf(h, "listx", "x", 1, NULL, &e), 0);
	assert_rc(s3_list(h, "list/", seen_fn, &sn, &e), 0);
	assert_int_equal(sn.n, 1003);
	assert_true(sn.ordered);
	assert_string_equal(sn.last, "list/01002");
	/* the prefix is a prefix of the key, not a folder */
	assert_rc(s3_list(h, "list", count_fn, &n, &e), 0);
	assert_int_equal(n, 1004);
	n = 0;
	assert_rc(s3_list(h, "nothing-here/", count_fn, &n, &e), 0);
	assert_int_equal(n, 0);
	s3_close(h);
}

static int stop_fn(void *arg, const struct s3_obj *o)
{
	(void)o;
	return ++*(int *)arg == 3 ? 42 : 0;
}

static void test_list_stop(void **state)
{
	struct s3_err e = { 0 };
	int n = 0;
	s3 *h = open_h(&base);

	(void)state;
	for (int i = 0; i < 5; i++) {
		char key[32];
		snprintf(key, sizeof key, "stop/%d", i);
		assert_rc(s3_put_buf(h, key, "s", 1, NULL, &e), 0);
	}
	assert_int_equal(s3_list(h, "stop/", stop_fn, &n, &e), 42);
	assert_int_equal(n, 3);
	s3_close(h);
}

static void test_copy(void **state)
{
	static unsigned char buf[30000], back[30000];
	struct s3_err e = { 0 };
	size_t got;
	s3 *h = open_h(&base);

	(void)state;
	rnd(buf, sizeof buf);
	assert_rc(s3_put_buf(h, "copy/staging", buf, sizeof buf, NULL, &e), 0);
	assert_rc(s3_put_buf(h, "copy/final", "old", 3, NULL, &e), 0);
	assert_rc(s3_copy(h, "copy/staging", "copy/final", &e), 0);
	assert_rc(s3_get_buf(h, "copy/final", 0, S3_TO_END, back, sizeof back, &got, &e), 0);
	assert_int_equal(got, sizeof buf);
	assert_memory_equal(back, buf, sizeof buf);
	assert_rc(s3_copy(h, "copy/missing", "copy/final2", &e), -ENOENT);
	assert_rc(s3_head(h, "copy/final2", NULL, NULL, &e), -ENOENT);
	s3_close(h);
}

/* ------------------------------------------------------------ multipart */

static void test_multipart(void **state)
{
	struct s3_config c = base;
	struct s3_err e = { 0 };
	unsigned char sha[32], sha2[32];
	uint64_t size = 0, got = 0, len2;
	const uint64_t len = 2 * S3_PART_MIN + 123457;   /* 3 parts */
	char path[128];
	s3 *h;

	(void)state;
	c.part_size = S3_PART_MIN;
	h = open_h(&c);
	int fd = tmp_file(len, sha);
	assert_rc(s3_put_file(h, "mp/big", fd, len, &e), 0);
	close(fd);
	assert_rc(s3_head(h, "mp/big", &size, NULL, &e), 0);
	assert_int_equal(size, len);
	snprintf(path, sizeof path, "%s/mpback", tmpdir);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_rc(s3_get_fd(h, "mp/big", 0, S3_TO_END, fd, &got, &e), 0);
	assert_int_equal(got, len);
	fd_sha(fd, sha2, &len2);
	close(fd);
	assert_int_equal(len2, len);
	assert_memory_equal(sha, sha2, 32);
	/* a range across a part boundary */
	unsigned char a[4096], b[4096];
	size_t gb;
	fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, a, sizeof a, S3_PART_MIN - 2000), (ssize_t)sizeof a);
	close(fd);
	assert_rc(s3_get_buf(h, "mp/big", S3_PART_MIN - 2000, sizeof b, b, sizeof b, &gb, &e), 0);
	assert_int_equal(gb, sizeof b);
	assert_memory_equal(a, b, sizeof a);
	s3_close(h);
}

static void test_multipart_buffers(void **state)
{
	/* a body streamed through memory: parts from buffers, one with a
	 * lying hash refused (the upload goes on), then completed */
	struct s3_err e = { 0 };
	char id[S3_UPLOAD_ID_MAX], etags[2][S3_ETAG_MAX];
	unsigned char *b = malloc(S3_PART_MIN + 100), sha_wrong[32], *back;
	size_t got;
	s3 *h = open_h(&base);

	(void)state;
	assert_non_null(b);
	assert_non_null(back = malloc(S3_PART_MIN + 200));
	rnd(b, S3_PART_MIN + 100);
	SHA256(b, 10, sha_wrong);
	assert_rc(s3_mp_create(h, "mpb/x", id, &e), 0);
	assert_rc(s3_mp_part_buf(h, "mpb/x", id, 1, b, S3_PART_MIN, NULL, etags[0], &e), 0);
	assert_rc(s3_mp_part_buf(h, "mpb/x", id, 2, b + S3_PART_MIN, 100, sha_wrong,
				 etags[1], &e), -EBADMSG);
	assert_rc(s3_mp_part_buf(h, "mpb/x", id, 2, b + S3_PART_MIN, 100, NULL, etags[1], &e), 0);
	assert_rc(s3_head(h, "mpb/x", NULL, NULL, &e), -ENOENT);   /* not yet */
	assert_rc(s3_mp_complete(h, "mpb/x", id, etags, 2, &e), 0);
	assert_rc(s3_get_buf(h, "mpb/x", 0, S3_TO_END, back, S3_PART_MIN + 200, &got, &e), 0);
	assert_int_equal(got, S3_PART_MIN + 100);
	assert_memory_equal(back, b, S3_PART_MIN + 100);
	free(b);
	free(back);
	s3_close(h);
}

struct ups {
	int n;
	char key[64], id[S3_UPLOAD_ID_MAX];
};

static int ups_fn(void *arg, const struct s3_upload *u)
{
	struct ups *x = arg;

	x->n++;
	snprintf(x->key, sizeof x->key, "%s", u->key);
	snprintf(x->id, sizeof x->id, "%s", u->upload_id);
	return 0;
}

static void test_multipart_list(void **state)
{
	/* what a crash leaves (an upload never completed) is found by a
	 * sweep and aborted */
	struct s3_err e = { 0 };
	struct ups u = { 0 };
	char id1[S3_UPLOAD_ID_MAX], id2[S3_UPLOAD_ID_MAX];
	s3 *h = open_h(&base);

	(void)state;
	assert_rc(s3_mp_list(h, "mpl/", ups_fn, &u, &e), 0);
	assert_int_equal(u.n, 0);
	assert_rc(s3_mp_create(h, "mpl/a b+c", id1, &e), 0);
	assert_rc(s3_mp_create(h, "mpl/z", id2, &e), 0);
	assert_rc(s3_mp_list(h, "mpl/", ups_fn, &u, &e), 0);
	assert_int_equal(u.n, 2);
	assert_string_equal(u.key, "mpl/z");
	assert_string_equal(u.id, id2);
	memset(&u, 0, sizeof u);
	assert_rc(s3_mp_list(h, "mpl/a", ups_fn, &u, &e), 0);
	assert_int_equal(u.n, 1);
	assert_string_equal(u.key, "mpl/a b+c");
	assert_string_equal(u.id, id1);
	assert_rc(s3_mp_abort(h, u.key, u.id, &e), 0);
	assert_rc(s3_mp_abort(h, "mpl/z", id2, &e), 0);
	memset(&u, 0, sizeof u);
	assert_rc(s3_mp_list(h, "mpl/", ups_fn, &u, &e), 0);
	assert_int_equal(u.n, 0);
	s3_close(h);
}

struct sweep {
	int n;
	char (*keys)[64];
	char (*ids)[S3_UPLOAD_ID_MAX];
};

static int sweep_fn(void *arg, const struct s3_upload *u)
{
	struct sweep *w = arg;

	if (w->n >= 1100)
		return -ENOSPC;
	snprintf(w->keys[w->n], 64, "%s", u->key);
	snprintf(w->ids[w->n], S3_UPLOAD_ID_MAX, "%s", u->upload_id);
	w->n++;
	return 0;
}

static void test_multipart_list_pages(void **state)
{
	/* 1000 uploads are a page: a sweep of 1003 crosses the markers */
	struct s3_err e = { 0 };
	struct sweep w = { 0 };
	char key[64], id[S3_UPLOAD_ID_MAX];
	s3 *h = open_h(&base);

	(void)state;
	w.keys = calloc(1100, sizeof *w.keys);
	w.ids = calloc(1100, sizeof *w.ids);
	assert_non_null(w.keys);
	assert_non_null(w.ids);
	for (int i = 0; i < 1003; i++) {
		/* two uploads of one key on the last page boundary's side */
		snprintf(key, sizeof key, "mpp/%04d", i < 1002 ? i : 1001);
		assert_rc(s3_mp_create(h, key, id, &e), 0);
	}
	assert_rc(s3_mp_list(h, "mpp/", sweep_fn, &w, &e), 0);
	assert_int_equal(w.n, 1003);
	for (int i = 1; i < w.n; i++)
		assert_true(strcmp(w.keys[i - 1], w.keys[i]) <= 0);
	for (int i = 0; i < w.n; i++)
		assert_rc(s3_mp_abort(h, w.keys[i], w.ids[i], &e), 0);
	w.n = 0;
	assert_rc(s3_mp_list(h, "mpp/", sweep_fn, &w, &e), 0);
	assert_int_equal(w.n, 0);
	free(w.keys);
	free(w.ids);
	s3_close(h);
}

static void test_multipart_abort(void **state)
{
	struct s3_err e = { 0 };
	char id[S3_UPLOAD_ID_MAX], etag[S3_ETAG_MAX];
	char etags[1][S3_ETAG_MAX];
	int n = 0;
	s3 *h = open_h(&base);

	(void)state;
	int fd = tmp_file(S3_PART_MIN, NULL);
	assert_rc(s3_mp_create(h, "mpa/x", id, &e), 0);
	assert_true(id[0] != 0);
	assert_rc(s3_mp_part_fd(h, "mpa/x", id, 1, fd, 0, S3_PART_MIN, etag, &e), 0);
	assert_true(etag[0] == '"');
	assert_rc(s3_mp_abort(h, "mpa/x", id, &e), 0);
	/* nothing left: no object, no listing entry, the upload is gone */
	struct ups u = { 0 };
	assert_rc(s3_mp_list(h, "mpa/", ups_fn, &u, &e), 0);
	assert_int_equal(u.n, 0);
	assert_rc(s3_head(h, "mpa/x", NULL, NULL, &e), -ENOENT);
	assert_rc(s3_list(h, "mpa/", count_fn, &n, &e), 0);
	assert_int_equal(n, 0);
	assert_rc(s3_mp_part_fd(h, "mpa/x", id, 2, fd, 0, 10, etag, &e), -ENOENT);
	assert_string_equal(e.code, "NoSuchUpload");
	memcpy(etags[0], etag, sizeof etag);
	/* completing it fails (RGW 16.2 answers 500 "This multipart
	 * completion is already in progress" rather than NoSuchUpload) and
	 * makes nothing */
	assert_true(s3_mp_complete(h, "mpa/x", id, etags, 1, &e) < 0);
	assert_rc(s3_head(h, "mpa/x", NULL, NULL, &e), -ENOENT);
	n = 0;
	assert_rc(s3_list(h, "mpa/", count_fn, &n, &e), 0);
	assert_int_equal(n, 0);
	close(fd);
	s3_close(h);
}

static void test_multipart_fails_half_way(void **state)
{
	/* the fd holds less than the size given: a part's read fails, the
	 * upload is aborted, and an object already under the key stays */
	struct s3_config c = base;
	struct s3_err e = { 0 };
	char back[8];
	size_t got;
	s3 *h;

	(void)state;
	c.part_size = S3_PART_MIN;
	h = open_h(&c);
	assert_rc(s3_put_buf(h, "mpf/x", "before", 6, NULL, &e), 0);
	int fd = tmp_file(S3_PART_MIN + 1000, NULL);
	int rc = s3_put_file(h, "mpf/x", fd, 3 * (uint64_t)S3_PART_MIN, &e);
	close(fd);
	assert_true(rc < 0);
	struct ups u = { 0 };    /* the upload was aborted */
	assert_rc(s3_mp_list(h, "mpf/", ups_fn, &u, &e), 0);
	assert_int_equal(u.n, 0);
	assert_rc(s3_get_buf(h, "mpf/x", 0, S3_TO_END, back, sizeof back, &got, &e), 0);
	assert_int_equal(got, 6);
	assert_memory_equal(back, "before", 6);
	/* and a single PUT from a short fd fails the same way */
	fd = tmp_file(100, NULL);
	assert_true(s3_put_fd(h, "mpf/x", fd, 0, 1000, NULL, &e) < 0);
	close(fd);
	assert_rc(s3_get_buf(h, "mpf/x", 0, S3_TO_END, back, sizeof back, &got, &e), 0);
	assert_int_equal(got, 6);
	s3_close(h);
}

/* ------------------------------------------------------------ integrity */

static void test_lying_put(void **state)
{
	static unsigned char good[20000], other[20000], back[20000];
	unsigned char sha_other[32];
	struct s3_err e = { 0 };
	size_t got;
	s3 *h = open_h(&base);

	(void)state;
	rnd(good, sizeof good);
	rnd(other, sizeof other);
	SHA256(other, sizeof other, sha_other);
	assert_rc(s3_put_buf(h, "lie/x", good, sizeof good, NULL, &e), 0);
	/* bytes that are not the ones the hash names: refused */
	assert_rc(s3_put_buf(h, "lie/x", good + 1, sizeof good - 1, sha_other, &e), -EBADMSG);
	no_secret(&e);
	/* and the object is what it was */
	assert_rc(s3_get_buf(h, "lie/x", 0, S3_TO_END, back, sizeof back, &got, &e), 0);
	assert_int_equal(got, sizeof good);
	assert_memory_equal(back, good, sizeof good);
	/* same for a new key: nothing appears */
	assert_rc(s3_put_buf(h, "lie/new", good, sizeof good, sha_other, &e), -EBADMSG);
	assert_rc(s3_head(h, "lie/new", NULL, NULL, &e), -ENOENT);
	/* and the right hash given by the caller is accepted */
	assert_rc(s3_put_buf(h, "lie/new", other, sizeof other, sha_other, &e), 0);
	s3_close(h);
}

/* ------------------------------------------------------------ auth */

static void test_presigned(void **state)
{
	char url[8192], bad[8192], path[128], in[128];
	static unsigned char buf[16384];
	struct s3_err e = { 0 };
	size_t got;
	s3 *h = open_h(&base);

	(void)state;
	rnd(buf, sizeof buf);
	assert_rc(s3_put_buf(h, "pre/a", buf, sizeof buf, NULL, &e), 0);
	assert_rc(s3_put_buf(h, "pre/b", "other", 5, NULL, &e), 0);
	snprintf(path, sizeof path, "%s/pre", tmpdir);
	/* a GET URL works with curl, no credentials */
	assert_int_equal(s3_presign(h, "GET", "pre/a", 60, url, sizeof url), 0);
	assert_int_equal(curl_status(url, NULL, path), 200);
	assert_true(file_eq_buf(path, buf, sizeof buf));
	/* a changed signature: refused */
	snprintf(bad, sizeof bad, "%s", url);
	char *last = bad + strlen(bad) - 1;
	*last = *last == '0' ? '1' : '0';
	assert_int_equal(curl_status(bad, NULL, NULL), 403);
	/* the same signature on another key: refused */
	char *k = strstr(url, "/pre/a?");
	assert_non_null(k);
	snprintf(bad, sizeof bad, "%.*s/pre/b%s", (int)(k - url), url, k + 6);
	assert_int_equal(curl_status(bad, NULL, NULL), 403);
	/* a longer expiry than signed: refused */
	char *x = strstr(url, "X-Amz-Expires=60&");
	assert_non_null(x);
	snprintf(bad, sizeof bad, "%.*sX-Amz-Expires=600&%s", (int)(x - url), url,
		 x + strlen("X-Amz-Expires=60&"));
	assert_int_equal(curl_status(bad, NULL, NULL), 403);
	/* a GET URL does not allow a PUT */
	snprintf(in, sizeof in, "%s/in", tmpdir);
	int fd = open(in, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "uploaded", 8), 8);
	close(fd);
	assert_int_equal(curl_status(url, in, NULL), 403);
	assert_rc(s3_get_buf(h, "pre/a", 0, S3_TO_END, buf, sizeof buf, &got, &e), 0);
	assert_int_equal(got, sizeof buf);
	/* a PUT URL uploads */
	assert_int_equal(s3_presign(h, "PUT", "pre/put", 60, url, sizeof url), 0);
	assert_int_equal(curl_status(url, in, NULL), 200);
	char back[16];
	assert_rc(s3_get_buf(h, "pre/put", 0, S3_TO_END, back, sizeof back, &got, &e), 0);
	assert_int_equal(got, 8);
	assert_memory_equal(back, "uploaded", 8);
	s3_close(h);
}

static void test_presigned_overrides(void **state)
{
	/* what the answer says about the bytes is signed into the URL */
	struct s3_presign_opt o = { "image/png", "attachment; filename=\"a b.png\"" };
	char url[8192], bad[8192], path[128], hdrs[128];
	struct s3_err e = { 0 };
	s3 *h = open_h(&base);

	(void)state;
	snprintf(path, sizeof path, "%s/pre", tmpdir);
	snprintf(hdrs, sizeof hdrs, "%s/hdrs", tmpdir);
	assert_rc(s3_put_buf(h, "ovr/x", "png bytes", 9, NULL, &e), 0);
	assert_int_equal(s3_presign_ex(h, "GET", "ovr/x", 60, (int64_t)time(NULL), &o,
				       url, sizeof url), 0);
	assert_int_equal(curl_run(url, NULL, path, hdrs), 200);
	assert_true(file_eq_buf(path, "png bytes", 9));
	assert_true(file_has_line(hdrs, "Content-Type: image/png"));
	assert_true(file_has_line(hdrs, "Content-Disposition: attachment; filename=\"a b.png\""));
	/* a holder changing them: refused */
	char *t = strstr(url, "image%2Fpng");
	assert_non_null(t);
	snprintf(bad, sizeof bad, "%.*stext%%2Fhtml%s", (int)(t - url), url, t + strlen("image%2Fpng"));
	assert_int_equal(curl_status(bad, NULL, NULL), 403);
	/* PUT URLs take no overrides */
	assert_int_equal(s3_presign_ex(h, "PUT", "ovr/x", 60, (int64_t)time(NULL), &o,
				       url, sizeof url), -EINVAL);
	unlink(hdrs);
	s3_close(h);
}

static void test_presigned_expiry(void **state)
{
	char url1[8192], url60[8192];
	struct s3_err e = { 0 };
	s3 *h = open_h(&base);

	(void)state;
	assert_rc(s3_put_buf(h, "exp/a", "x", 1, NULL, &e), 0);
	assert_int_equal(s3_presign(h, "GET", "exp/a", 1, url1, sizeof url1), 0);
	assert_int_equal(s3_presign(h, "GET", "exp/a", 60, url60, sizeof url60), 0);
	sleep(3);      /* past the 1-second URL's expiry, well within the other's */
	assert_int_equal(curl_status(url1, NULL, NULL), 403);
	assert_int_equal(curl_status(url60, NULL, NULL), 200);
	/* signed in the past, long expired */
	assert_int_equal(s3_presign_ex(h, "GET", "exp/a", 3600, (int64_t)time(NULL) - 7200,
				       NULL, url1, sizeof url1), 0);
	assert_int_equal(curl_status(url1, NULL, NULL), 403);
	s3_close(h);
}

static void test_wrong_secret(void **state)
{
	struct s3_config c = base;
	struct s3_err e = { 0 };
	char back[8], url[8192];
	size_t got;
	s3 *h, *good = open_h(&base);

	(void)state;
	assert_rc(s3_put_buf(good, "auth/x", "secret bytes", 12, NULL, &e), 0);
	c.secret_key[0] = c.secret_key[0] == 'A' ? 'B' : 'A';
	h = open_h(&c);
	assert_rc(s3_get_buf(h, "auth/x", 0, S3_TO_END, back, sizeof back, &got, &e), -EACCES);
	assert_int_equal(e.http, 403);
	assert_string_equal(e.code, "SignatureDoesNotMatch");
	no_secret(&e);
	/* nor the secret the request was signed with */
	assert_null(strstr(e.message, c.secret_key));
	assert_rc(s3_put_buf(h, "auth/x", "evil", 4, NULL, &e), -EACCES);
	assert_null(strstr(e.message, c.secret_key));
	assert_rc(s3_delete(h, "auth/x", &e), -EACCES);
	assert_null(strstr(e.message, c.secret_key));
	/* a URL presigned with the wrong secret is refused too */
	assert_int_equal(s3_presign(h, "GET", "auth/x", 60, url, sizeof url), 0);
	assert_null(strstr(url, c.secret_key));
	assert_int_equal(curl_status(url, NULL, NULL), 403);
	s3_close(h);
	/* an unknown access key */
	c = base;
	c.access_key[0] = c.access_key[0] == 'Z' ? 'Y' : 'Z';
	h = open_h(&c);
	assert_rc(s3_head(h, "auth/x", NULL, NULL, &e), -EACCES);
	s3_close(h);
	/* the object is untouched */
	assert_rc(s3_get_buf(good, "auth/x", 0, S3_TO_END, back, sizeof back, &got, &e), -EOVERFLOW);
	char back2[16];
	assert_rc(s3_get_buf(good, "auth/x", 0, S3_TO_END, back2, sizeof back2, &got, &e), 0);
	assert_int_equal(got, 12);
	assert_memory_equal(back2, "secret bytes", 12);
	s3_close(good);
}

static void test_not_public(void **state)
{
	char url[8192];
	struct s3_err e = { 0 };
	s3 *h = open_h(&base);

	(void)state;
	assert_rc(s3_put_buf(h, "pub/x", "x", 1, NULL, &e), 0);
	/* the presigned URL without its query: a plain unsigned GET */
	assert_int_equal(s3_presign(h, "GET", "pub/x", 60, url, sizeof url), 0);
	*strchr(url, '?') = 0;
	assert_int_equal(curl_status(url, NULL, NULL), 403);
	/* an unsigned listing of the bucket */
	snprintf(url, sizeof url, "%s/%s/", s3_endpoint(h), s3_bucket(h));
	assert_int_equal(curl_status(url, NULL, NULL), 403);
	s3_close(h);
}

static void test_no_server(void **state)
{
	/* a port nobody listens on: -EIO with a reason, fast */
	struct s3_config c = base;
	struct s3_err e = { 0 };
	char back[8];
	size_t got;
	s3 *h;

	(void)state;
	snprintf(c.endpoint, sizeof c.endpoint, "http://127.0.0.1:1");
	h = open_h(&c);
	assert_rc(s3_get_buf(h, "x", 0, S3_TO_END, back, sizeof back, &got, &e), -EIO);
	assert_int_equal(e.http, 0);
	assert_true(e.message[0] != 0);
	no_secret(&e);
	s3_close(h);
}

static void test_stalled_server(void **state)
{
	/* a socket that accepts (the kernel's backlog does) and never
	 * answers: -ETIMEDOUT after stall_s, not a hang */
	struct s3_config c = base;
	struct s3_err e = { 0 };
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t al = sizeof a;
	char back[8];
	size_t got;
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	s3 *h;

	(void)state;
	assert_true(ls >= 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(ls, 4), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &al), 0);
	snprintf(c.endpoint, sizeof c.endpoint, "http://127.0.0.1:%d", ntohs(a.sin_port));
	c.stall_s = 1;
	h = open_h(&c);
	assert_rc(s3_get_buf(h, "x", 0, S3_TO_END, back, sizeof back, &got, &e), -ETIMEDOUT);
	no_secret(&e);
	s3_close(h);
	close(ls);
}

/* Runs tests/scale/rgw.sh CMD $S3_RGW_DIR (from the repository's root, where
 * make runs us); 0 when it succeeded. */
static int rgw_sh(const char *cmd)
{
	const char *dir = getenv("S3_RGW_DIR");
	const char *argv[] = { "bash", "tests/scale/rgw.sh", cmd, dir, NULL };
	pid_t pid;
	int st;

	if (!dir)
		fail_msg("S3_RGW_DIR (the RGW's directory) is not set: run `make test-s3`");
	if (posix_spawnp(&pid, "bash", NULL, NULL, (char **)argv, environ))
		fail_msg("cannot run tests/scale/rgw.sh");
	assert_int_equal(waitpid(pid, &st, 0), pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_rgw_restart(void **state)
{
	/* the object store goes away: calls fail cleanly (-EIO, a reason);
	 * it comes back: the same handle works again, objects intact */
	struct s3_err e = { 0 };
	char back[16];
	size_t got;
	s3 *h = open_h(&base);

	(void)state;
	assert_rc(s3_put_buf(h, "restart/a", "before", 6, NULL, &e), 0);
	assert_int_equal(rgw_sh("stop-rgw"), 0);
	assert_rc(s3_get_buf(h, "restart/a", 0, S3_TO_END, back, sizeof back, &got, &e), -EIO);
	assert_non_null(strstr(e.message, "onnect"));
	assert_rc(s3_put_buf(h, "restart/b", "during", 6, NULL, &e), -EIO);
	assert_int_equal(rgw_sh("start-rgw"), 0);
	assert_rc(s3_get_buf(h, "restart/a", 0, S3_TO_END, back, sizeof back, &got, &e), 0);
	assert_int_equal(got, 6);
	assert_memory_equal(back, "before", 6);
	assert_rc(s3_head(h, "restart/b", NULL, NULL, &e), -ENOENT);
	assert_rc(s3_put_buf(h, "restart/b", "after", 5, NULL, &e), 0);
	s3_close(h);
}

/* ------------------------------------------------------------ threads */

struct worker {
	s3 *h;
	int id, fails;
};

static void *work(void *arg)
{
	struct worker *w = arg;
	unsigned char buf[4096], back[4096];
	char key[64];
	size_t got;

	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof key, "thr/%d/%d", w->id, i);
		memset(buf, w->id * 40 + i, sizeof buf);
		if (s3_put_buf(w->h, key, buf, sizeof buf, NULL, NULL) ||
		    s3_get_buf(w->h, key, 0, S3_TO_END, back, sizeof back, &got, NULL) ||
		    got != sizeof buf || memcmp(buf, back, sizeof buf))
			w->fails++;
	}
	return NULL;
}

static void test_threads(void **state)
{
	struct worker w[6];
	pthread_t t[6];
	int n = 0;
	struct s3_err e = { 0 };
	s3 *h = open_h(&base);

	(void)state;
	for (int i = 0; i < 6; i++) {
		w[i] = (struct worker){ h, i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, work, &w[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(t[i], NULL);
		assert_int_equal(w[i].fails, 0);
	}
	assert_rc(s3_list(h, "thr/", count_fn, &n, &e), 0);
	assert_int_equal(n, 240);
	s3_close(h);
}

/* ------------------------------------------------------------ bench */

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Figures, printed (never asserted): 16 KiB objects/s PUT and GET, 32 MiB
 * PUT and GET MiB/s, one thread, one kept-alive connection. */
static void test_bench(void **state)
{
	static unsigned char small[16384];
	unsigned char *big;
	const size_t bigsz = 32u << 20;
	const int n = 500, nb = 5;
	struct s3_err e = { 0 };
	char key[64];
	size_t got;
	double t0, t;
	s3 *h = open_h(&base);

	(void)state;
	rnd(small, sizeof small);
	assert_non_null(big = malloc(bigsz));
	rnd(big, bigsz);
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof key, "bench/s%d", i);
		assert_rc(s3_put_buf(h, key, small, sizeof small, NULL, &e), 0);
	}
	t = now_s() - t0;
	printf("# bench: PUT 16 KiB: %.0f objects/s (%d in %.2f s)\n", n / t, n, t);
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof key, "bench/s%d", i);
		assert_rc(s3_get_buf(h, key, 0, S3_TO_END, small, sizeof small, &got, &e), 0);
	}
	t = now_s() - t0;
	printf("# bench: GET 16 KiB: %.0f objects/s (%d in %.2f s)\n", n / t, n, t);
	/* presigned GETs as a client would fetch them: plain libcurl, one
	 * kept-alive connection, no credentials (signing is not counted) */
	static char urls[500][1024];
	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof key, "bench/s%d", i);
		assert_int_equal(s3_presign(h, "GET", key, 600, urls[i], sizeof urls[i]), 0);
	}
	CURL *c = curl_easy_init();
	FILE *devnull = fopen("/dev/null", "w");
	assert_non_null(c);
	assert_non_null(devnull);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, devnull);
	t0 = now_s();
	for (int i = 0; i < n; i++) {
		long code = 0;

		curl_easy_setopt(c, CURLOPT_URL, urls[i]);
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		assert_int_equal(code, 200);
	}
	t = now_s() - t0;
	printf("# bench: presigned GET 16 KiB (plain libcurl): %.0f objects/s, %.2f ms each\n",
	       n / t, t * 1000 / n);
	t0 = now_s();
	for (int i = 0; i < nb; i++) {
		snprintf(key, sizeof key, "bench/b%d", i);
		assert_rc(s3_put_buf(h, key, big, bigsz, NULL, &e), 0);
	}
	t = now_s() - t0;
	printf("# bench: PUT 32 MiB (SHA-256 included): %.0f MiB/s (%d in %.2f s)\n",
	       nb * 32 / t, nb, t);
	t0 = now_s();
	for (int i = 0; i < nb; i++) {
		snprintf(key, sizeof key, "bench/b%d", i);
		assert_rc(s3_get_buf(h, key, 0, S3_TO_END, big, bigsz, &got, &e), 0);
	}
	t = now_s() - t0;
	printf("# bench: GET 32 MiB: %.0f MiB/s (%d in %.2f s)\n", nb * 32 / t, nb, t);
	t0 = now_s();
	for (int i = 0; i < nb; i++) {
		char u[1024];
		long code = 0;

		snprintf(key, sizeof key, "bench/b%d", i);
		assert_int_equal(s3_presign(h, "GET", key, 600, u, sizeof u), 0);
		curl_easy_setopt(c, CURLOPT_URL, u);
		assert_int_equal(curl_easy_perform(c), CURLE_OK);
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
		assert_int_equal(code, 200);
	}
	t = now_s() - t0;
	printf("# bench: presigned GET 32 MiB (plain libcurl, to /dev/null): %.0f MiB/s\n",
	       nb * 32 / t);
	curl_easy_cleanup(c);
	fclose(devnull);
	free(big);
	s3_close(h);
}

/* ------------------------------------------------------------ main */

static int setup(void **state)
{
	char msg[256] = "", p[32];
	unsigned char r[6];
	const char *target = getenv("S3_TARGET");

	(void)state;
	if (!target || s3_config_parse(target, &base, msg, sizeof msg) ||
	    s3_config_env(&base, msg, sizeof msg)) {
		fprintf(stderr, "test_s3: needs a running RGW: S3_TARGET, AWS_ACCESS_KEY_ID, "
			"AWS_SECRET_ACCESS_KEY (run `make test-s3`) %s\n", msg);
		return -1;
	}
	if (RAND_bytes(r, sizeof r) != 1)
		return -1;
	snprintf(p, sizeof p, "t%02x%02x%02x%02x%02x%02x/", r[0], r[1], r[2], r[3], r[4], r[5]);
	if (strlen(base.prefix) + strlen(p) >= sizeof base.prefix)
		return -1;
	strcat(base.prefix, p);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/test_s3.XXXXXX");
	if (!mkdtemp(tmpdir))
		return -1;
	return 0;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	const char *names[] = { "get", "mpback", "odd", "pre", "in", "code" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	rmdir(tmpdir);
	s3_config_wipe(&base);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_xml_reader),
		cmocka_unit_test(test_config_parse),
		cmocka_unit_test(test_presign_shape),
		cmocka_unit_test(test_put_get_binary),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_odd_name),
		cmocka_unit_test(test_delete),
		cmocka_unit_test(test_list_pages),
		cmocka_unit_test(test_list_stop),
		cmocka_unit_test(test_copy),
		cmocka_unit_test(test_multipart),
		cmocka_unit_test(test_multipart_buffers),
		cmocka_unit_test(test_multipart_list),
		cmocka_unit_test(test_multipart_list_pages),
		cmocka_unit_test(test_multipart_abort),
		cmocka_unit_test(test_multipart_fails_half_way),
		cmocka_unit_test(test_lying_put),
		cmocka_unit_test(test_presigned),
		cmocka_unit_test(test_presigned_overrides),
		cmocka_unit_test(test_presigned_expiry),
		cmocka_unit_test(test_wrong_secret),
		cmocka_unit_test(test_not_public),
		cmocka_unit_test(test_no_server),
		cmocka_unit_test(test_stalled_server),
		cmocka_unit_test(test_rgw_restart),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_bench),   /* last: only with S3_BENCH */
	};
	/* the bench is a measurement, not a check: a case only when asked */
	size_t n = sizeof(tests) / sizeof(tests[0]) -
		   (getenv("S3_BENCH") ? 0 : 1);

	return _cmocka_run_group_tests("s3", tests, n, setup, teardown);
}
