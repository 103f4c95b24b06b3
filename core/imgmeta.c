/*
 * imgmeta.c — see imgmeta.h. A value is computed by reading the blob whole,
 * decoding it at full size (sharpness depends on the scale: a reduced decode
 * would change it) and running emb_imgstats; the six values go to the
 * features table as float32 under CORE_IMGMETA_KIND, keyed by the blob hash,
 * so a copy of the same bytes anywhere costs nothing. A blob that does not
 * decode is cached as not an image with the decoder's reason; a blob whose
 * bytes are not on this store (upload=meta) is not cached (it may come).
 *
 * metadata/builtin.csv never waits for a decode: it shows the values
 * computed so far (a file not computed yet has empty values, as one that
 * is not an image) and the backend kicks the filler below, a thread that
 * computes the rest; a read after it ended shows them all. Decoding full
 * size costs ~3 ms per 320x240 PNG and tens of ms per photo, so a stat of
 * the file (ls -l metadata/) would otherwise wait minutes on a big tree.
 *
 * Why lazily, not at commit: measured on this 2-core VM (load average
 * 6.8-10), 300 PNGs of 320x240 (1.2 MB) into a local mount, 3 runs:
 * `cp -r` 0.18-0.24 s (median 0.19 s); the first `cat metadata/
 * builtin.csv` 0.46-1.78 s (median 1.03 s: every decode); the second
 * 0.005-0.013 s (the cache). Computing at commit would make that copy
 * about 6 times slower for a value many datasets never read.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/blobs.h"
#include "core/imgmeta.h"
#include "core/text.h"
#include "embed/decode.h"
#include "store/table.h"

#define MAX_BLOB ((off_t)256 << 20)

const char *const core_imgmeta_cols[CORE_IMGMETA_NCOLS] = {
	"width", "height", "brightness", "contrast", "sharpness",
	"colourfulness", "file_size"
};

int core_imgmeta_cached(store *st, const unsigned char sha[STORE_SHA_LEN],
			struct emb_imgstats *out)
{
	float v[EMB_IMGSTATS_N];
	int rc = store_feature_get(st, CORE_IMGMETA_KIND, sha, v,
				   EMB_IMGSTATS_N, NULL, 0);

	if (rc == 0)
		for (int k = 0; k < EMB_IMGSTATS_N; k++)
			out->v[k] = v[k];
	return rc;
}

static int read_all(int fd, unsigned char **buf, size_t *len)
{
	struct stat sb;
	size_t got = 0;

	*buf = NULL;
	if (fstat(fd, &sb))
		return -errno;
	if (sb.st_size > MAX_BLOB)
		return -EFBIG;
	if (!(*buf = malloc((size_t)sb.st_size + 1)))
		return -ENOMEM;
	while (got < (size_t)sb.st_size) {
		ssize_t r = read(fd, *buf + got, (size_t)sb.st_size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			free(*buf);
			*buf = NULL;
			return r < 0 ? -errno : -EIO;
		}
		got += (size_t)r;
	}
	*len = got;
	return 0;
}

/* core_imgmeta_get; *kept 1 when the answer is in the cache now (found
 * there or put), 0 when it could not be (its bytes are not here). Said
 * here, not read back: a caller inside store_tree_files_each reads a
 * snapshot from before the put. */
static int imgmeta_get(store *st, struct core_blobs *b,
		       const unsigned char sha[STORE_SHA_LEN],
		       struct emb_imgstats *out, char *why, size_t whylen,
		       int *kept)
{
	struct emb_image img;
	unsigned char *buf = NULL;
	char reason[256] = "";
	float v[EMB_IMGSTATS_N];
	size_t len = 0;
	int fd, rc = store_feature_get(st, CORE_IMGMETA_KIND, sha, v,
				       EMB_IMGSTATS_N, why, whylen);

	*kept = 1;
	if (rc == 0)
		for (int k = 0; k < EMB_IMGSTATS_N; k++)
			out->v[k] = v[k];
	if (rc != -ENOENT)
		return rc;
	*kept = 0;
	fd = core_blob_open(b, sha);
	if (fd < 0) {
		if (why && whylen)
			snprintf(why, whylen, "bytes not here");
		return 1;
	}
	rc = read_all(fd, &buf, &len);
	close(fd);
	if (rc == -EFBIG) {
		snprintf(reason, sizeof(reason), "file too large to decode");
		rc = 1;
	} else if (!rc) {
		rc = emb_decode(buf, len, 0, &img, reason, sizeof(reason));
		if (rc == -EINVAL || rc == -EFBIG)
			rc = 1;
	}
	free(buf);
	if (rc < 0)
		return rc;
	if (rc == 0) {
		emb_imgstats(&img, out);
		emb_image_free(&img);
		for (int k = 0; k < EMB_IMGSTATS_N; k++)
			v[k] = (float)out->v[k];
		*kept = !store_feature_put(st, CORE_IMGMETA_KIND, 1, sha, v,
					   EMB_IMGSTATS_N, NULL);
		return 0;
	}
	const char *errs[1] = { reason };
	*kept = !store_feature_put(st, CORE_IMGMETA_KIND, 1, sha, v,
				   EMB_IMGSTATS_N, errs);
	if (why && whylen)
		snprintf(why, whylen, "%s", reason);
	return 1;
}

int core_imgmeta_get(store *st, struct core_blobs *b,
		     const unsigned char sha[STORE_SHA_LEN],
		     struct emb_imgstats *out, char *why, size_t whylen)
{
	int kept;

	return imgmeta_get(st, b, sha, out, why, whylen, &kept);
}

struct walk {
	store *st;
	struct core_blobs *b;
	struct tbuf *t;          /* NULL: fill only */
	int rc;
	int cached_only;         /* the CSV of what is computed (b unused) */
	size_t missing;          /* cached_only: files not computed yet */
	size_t left;             /* fill: files it could not cache (their
	                          * bytes are not here: upload=meta) */
	atomic_int *stop;        /* fill: set to stop (may be NULL) */
};

static int one_file(void *arg, const char *path, const unsigned char *sha,
		    int64_t size)
{
	struct walk *w = arg;
	struct emb_imgstats s;
	int rc, kept = 1;

	if (w->stop && atomic_load(w->stop))
		return w->rc = -ECANCELED;
	rc = w->cached_only ? core_imgmeta_cached(w->st, sha, &s) :
			      imgmeta_get(w->st, w->b, sha, &s, NULL, 0,
					  &kept);
	if (rc == -ENOENT && w->cached_only) {
		w->missing++;
		rc = 1;                 /* empty values, for now */
	}
	if (rc < 0)
		return w->rc = rc;
	if (!w->t) {
		w->left += !kept;
		return 0;
	}
	tbuf_put_csv_field(w->t, path);
	if (rc == 0)
		tbuf_printf(w->t, ",%.0f,%.0f,%.6g,%.6g,%.6g,%.6g", s.v[0],
			    s.v[1], s.v[2], s.v[3], s.v[4], s.v[5]);
	else
		tbuf_printf(w->t, ",,,,,,");
	tbuf_printf(w->t, ",%lld\r\n", (long long)size);
	return 0;
}

static int fill(store *st, struct core_blobs *b, int64_t tree,
		atomic_int *stop, size_t *left)
{
	struct walk w = { .st = st, .b = b, .stop = stop };
	int rc = store_tree_files_each(st, tree, one_file, &w);

	if (left)
		*left = w.left;
	return w.rc ? w.rc : rc;
}

int core_imgmeta_fill(store *st, struct core_blobs *b, int64_t tree)
{
	return fill(st, b, tree, NULL, NULL);
}

int core_imgmeta_csv(store *st, struct core_blobs *b, int64_t tree,
		     char **out, size_t *len, size_t *missing)
{
	struct tbuf t;
	struct walk w = { .st = st, .b = b, .t = &t,
			  .cached_only = missing != NULL };
	int rc;

	tbuf_init(&t, (size_t)1 << 30);
	tbuf_printf(&t, "filename");
	for (int k = 0; k < CORE_IMGMETA_NCOLS; k++)
		tbuf_printf(&t, ",%s", core_imgmeta_cols[k]);
	tbuf_put(&t, "\r\n", 2);
	rc = store_tree_files_each(st, tree, one_file, &w);
	if (w.rc || rc) {
		tbuf_free(&t);
		return w.rc ? w.rc : rc;
	}
	if (missing)
		*missing = w.missing;
	return tbuf_finish(&t, out, len);
}

/* ---- the background filler ----
 * One thread at a time per store (the backend owner's), computing what a
 * tree misses; kick() starts it unless it runs, free() stops it between
 * two files and joins it. A pass that ended whole remembers how many
 * files it could not cache (bytes kept by their uploader, upload=meta):
 * a read of the same tree, unchanged since (its dataset's table gen,
 * store/table.h), missing no more than those starts no new pass, or every
 * stat of builtin.csv would walk the whole tree again; a changed tree
 * (such a file uploaded again with its bytes: as many missing) does. */
struct core_imgmeta_filler {
	store *st;
	struct core_blobs *b;
	pthread_mutex_t lock;
	pthread_t thread;
	int started, running;    /* under lock */
	int64_t tree;
	int64_t done_tree;       /* under lock: the last whole pass's tree */
	uint64_t done_gen;       /* its table gen when that pass began */
	size_t done_left;        /* and the files it could not cache */
	atomic_int stop;
};

/* The change counter of the dataset whose live tree is tree. 0 or -errno. */
static int tree_gen(store *st, int64_t tree, uint64_t *gen)
{
	struct store_tag t;
	int rc = store_tag_get_id(st, tree, &t);

	return rc ? rc : store_table_gen(st, t.dataset, gen);
}

static void *filler_main(void *arg)
{
	struct core_imgmeta_filler *f = arg;
	size_t left = 0;
	uint64_t gen = 0;
	int rc = tree_gen(f->st, f->tree, &gen);

	if (!rc)
		rc = fill(f->st, f->b, f->tree, &f->stop, &left);
	pthread_mutex_lock(&f->lock);
	f->running = 0;
	if (!rc) {
		f->done_tree = f->tree;
		f->done_gen = gen;
		f->done_left = left;
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

struct core_imgmeta_filler *core_imgmeta_filler_new(store *st,
						    struct core_blobs *b)
{
	struct core_imgmeta_filler *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->st = st;
	f->b = b;
	pthread_mutex_init(&f->lock, NULL);
	atomic_init(&f->stop, 0);
	return f;
}

int core_imgmeta_filler_kick(struct core_imgmeta_filler *f, int64_t tree,
			      size_t missing)
{
	uint64_t gen = 0;
	int rc = 0, known;

	if (!f)
		return -EINVAL;
	known = !tree_gen(f->st, tree, &gen);
	pthread_mutex_lock(&f->lock);
	if (f->running || atomic_load(&f->stop) ||
	    (known && f->done_tree == tree && tree && f->done_gen == gen &&
	     missing <= f->done_left))
		goto out;
	if (f->started)
		pthread_join(f->thread, NULL);    /* it has ended */
	f->started = 0;
	f->tree = tree;
	f->running = 1;
	if (pthread_create(&f->thread, NULL, filler_main, f)) {
		f->running = 0;
		rc = -EAGAIN;
	} else {
		f->started = 1;
		rc = 1;
	}
out:
	pthread_mutex_unlock(&f->lock);
	return rc;
}

void core_imgmeta_filler_free(struct core_imgmeta_filler *f)
{
	int started;

	if (!f)
		return;
	atomic_store(&f->stop, 1);
	pthread_mutex_lock(&f->lock);
	started = f->started;
	pthread_mutex_unlock(&f->lock);
	if (started)
		pthread_join(f->thread, NULL);
	pthread_mutex_destroy(&f->lock);
	free(f);
}
