/*
 * embedder.c — see embedder.h for what and why.
 *
 * Memory: the raw features are never all in memory at once. Misses are
 * computed in rounds of ROUND images (ROUND × 440 floats); the fit reads at
 * most EMB_PCA_FIT_ROWS rows back from the catalog, and the projection
 * streams the rest in blocks, so a run holds about N × dim floats of output
 * plus the paths.
 *
 * Which bytes a run reads: for each distinct hash, store_blob_source() says
 * (the original, or its thumbnail when the uploader sent one with
 * upload=thumbnails), and for a server user only bytes that user has sent
 * (a grant): a metadata-only commit naming somebody else's hash reads
 * nothing of theirs. A hash with nothing readable gives no vector, "bytes
 * not on the server" (logged like a non-image, skipped by sampling, not
 * cached: it is a fact about the user, not the bytes), the same answer and
 * the same path whether or not another user has those bytes. Features are
 * cached, and looked up, by the hash of the bytes read (the source), never
 * by the name alone: a cached row is only ever served to a run that may
 * read the bytes it came from. Which source each hash has goes into the
 * fingerprint, so a new grant or thumbnail makes the next run recompute.
 *
 * Threads: each round, ctl->threads - 1 helper threads and the calling
 * thread take images from a shared counter; each image has its own result
 * slot, so no lock is needed until the round is committed (by the caller's
 * thread, the only one that writes the catalog).
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/blobs.h"
#include "core/embedder.h"
#include "embed/decode.h"
#include "embed/features.h"
#include "sampling/sampling.h"
#include "store/store.h"

#define ROUND 512
#define MAX_FILE (256 << 20)     /* larger files are not decoded */
#define LOG_BAD 20               /* log lines per run about non-images */
#define FP_HEX 65

void core_embed_defaults(struct core_embed_opts *o)
{
	o->dim = EMB_DIM_DEFAULT;
	o->color = 1;
}

int core_embed_opt(struct core_embed_opts *o, const char *key,
		   const char *val, char *why, size_t whylen)
{
	if (!strcmp(key, "dim")) {
		char *end;
		long v = strtol(val, &end, 10);
		if (!*val || *end || v < 2 || v > EMB_DIM_MAX) {
			snprintf(why, whylen, "dim=%.32s: expected 2..%d", val,
				 EMB_DIM_MAX);
			return -EINVAL;
		}
		o->dim = (int)v;
		return 0;
	}
	if (!strcmp(key, "color")) {
		if (strcmp(val, "on") && strcmp(val, "off")) {
			snprintf(why, whylen, "color=%.32s: expected on or off",
				 val);
			return -EINVAL;
		}
		o->color = !strcmp(val, "on");
		return 0;
	}
	snprintf(why, whylen, "unknown key '%.64s' for embed (known: dim,"
		 " color)", key);
	return -EINVAL;
}

void core_embed_opts_format(const struct core_embed_opts *o, char *buf,
			    size_t len)
{
	snprintf(buf, len, "dim=%d color=%s", o->dim, o->color ? "on" : "off");
}

int core_embed_opts_parse(const char *text, struct core_embed_opts *o)
{
	char buf[128], *save = NULL, why[128];

	core_embed_defaults(o);
	snprintf(buf, sizeof(buf), "%s", text);
	for (char *t = strtok_r(buf, " ", &save); t;
	     t = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(t, '=');
		if (!eq)
			return -EINVAL;
		*eq = '\0';
		if (core_embed_opt(o, t, eq + 1, why, sizeof(why)))
			return -EINVAL;
	}
	return 0;
}

void core_embed_opts_of(store *st, int64_t ds, struct core_embed_opts *o)
{
	char params[128], fp[FP_HEX];

	if (store_builtin_get(st, ds, params, sizeof(params), fp, sizeof(fp)) ||
	    core_embed_opts_parse(params, o))
		core_embed_defaults(o);
}

/* ---- the dataset's files ---- */

struct file {
	const char *path;        /* into the pool */
	unsigned char sha[STORE_SHA_LEN];
	int64_t size;
	unsigned char src[STORE_SHA_LEN];  /* the bytes read (store_blob_source) */
	int state;               /* 0 unknown, 1 has features, 2 no vector */
	size_t copies;           /* on a hash's first file: files with it */
};

struct files {
	struct file *v;
	size_t n, cap;
	char **pools;            /* path storage, one chunk per 1 MiB */
	size_t npools, pool_used;
	EVP_MD_CTX *fp;          /* fingerprint of paths and hashes */
};

static int add_file(void *arg, const char *path, const unsigned char *sha,
		    int64_t size)
{
	struct files *f = arg;
	size_t len = strlen(path) + 1;

	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 1024;
		struct file *v = realloc(f->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		f->v = v;
		f->cap = cap;
	}
	if (!f->npools || f->pool_used + len > (1u << 20)) {
		char **p = realloc(f->pools, (f->npools + 1) * sizeof(*p));
		if (!p)
			return -ENOMEM;
		f->pools = p;
		if (!(p[f->npools] = malloc(1u << 20)))
			return -ENOMEM;
		f->npools++;
		f->pool_used = 0;
	}
	char *dst = f->pools[f->npools - 1] + f->pool_used;
	memcpy(dst, path, len);
	f->pool_used += len;
	struct file *e = &f->v[f->n++];
	e->path = dst;
	memcpy(e->sha, sha, STORE_SHA_LEN);
	e->size = size;
	e->state = 0;
	EVP_DigestUpdate(f->fp, path, len);
	EVP_DigestUpdate(f->fp, sha, STORE_SHA_LEN);
	return 0;
}

static void files_free(struct files *f)
{
	for (size_t i = 0; i < f->npools; i++)
		free(f->pools[i]);
	free(f->pools);
	free(f->v);
	EVP_MD_CTX_free(f->fp);
}

/* ---- computing features for one round ---- */

struct round {
	struct core_blobs *blobs;      /* where the bytes are read */
	int color;
	size_t fdim, n;
	const unsigned char *shas;    /* n × 32 */
	float *vecs;                  /* n × fdim */
	char **errs;                  /* n, malloc'd reason or NULL */
	int *fatal;                   /* n, -errno of an I/O failure or 0 */
	atomic_size_t next;
	volatile int *cancel;
	/* progress within the round, in samples: copies[i] files have image
	 * i's content; base of total were done before the round */
	const size_t *copies;
	size_t base, total;
	atomic_size_t done;
	const struct core_embed_ctl *ctl;
};

/* Records why image i has no features. */
static void set_err(struct round *r, size_t i, const char *reason)
{
	if (!(r->errs[i] = strdup(reason)))
		r->fatal[i] = -ENOMEM;
}

/* The reason of a hash this run may not read (store_blob_source): one
 * text for "nobody has the bytes" and "another user has them". */
#define NOT_HERE "bytes not on the server (upload=meta)"

/* Reads blob sha (a source from store_blob_source) whole. 0, -EFBIG (too
 * large to decode), -ENOENT (collected since), or -errno. */
static int read_blob(struct core_blobs *b, const unsigned char *sha,
		     unsigned char **buf,
		     size_t *len)
{
	struct stat sb;
	int fd = core_blob_open(b, sha), rc = 0;

	*buf = NULL;
	if (fd < 0)
		return fd;
	if (fstat(fd, &sb)) {
		rc = -errno;
	} else if (sb.st_size > MAX_FILE) {
		rc = -EFBIG;
	} else if (!(*buf = malloc((size_t)sb.st_size + 1))) {
		rc = -ENOMEM;
	} else {
		size_t got = 0;
		while (got < (size_t)sb.st_size) {
			ssize_t r = read(fd, *buf + got, (size_t)sb.st_size - got);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				rc = r < 0 ? -errno : -EIO;
				break;
			}
			got += (size_t)r;
		}
		*len = got;
	}
	close(fd);
	if (rc) {
		free(*buf);
		*buf = NULL;
	}
	return rc;
}

static void one_image(struct round *r, size_t i)
{
	struct emb_image img;
	unsigned char *buf;
	size_t len = 0;
	char why[256];
	int rc;

	rc = read_blob(r->blobs, r->shas + i * STORE_SHA_LEN, &buf, &len);
	if (rc == -EFBIG) {            /* a sample, not an image we decode */
		set_err(r, i, "file larger than 256 MiB: not decoded");
		return;
	}
	if (rc == -ENOENT) {  /* collected after store_blob_source: retry */
		r->fatal[i] = -EAGAIN;
		return;
	}
	if (rc) {
		r->fatal[i] = rc;
		return;
	}
	rc = emb_decode(buf, len, EMB_SIDE, &img, why, sizeof(why));
	free(buf);
	if (rc == -ENOMEM) {
		r->fatal[i] = rc;
		return;
	}
	if (rc) {
		set_err(r, i, why[0] ? why : "cannot decode");
		return;
	}
	rc = emb_features(&img, r->color, r->vecs + i * r->fdim);
	emb_image_free(&img);
	if (rc == -ENOMEM)
		r->fatal[i] = rc;
	else if (rc)
		set_err(r, i, "empty image");
}

/* Takes images until none is left. The calling thread (report = 1) also
 * reports the round's progress after each of its images: one reporter, so
 * the counts it gives never go backwards. */
static void round_loop(struct round *r, int report)
{
	size_t i;

	while ((i = atomic_fetch_add(&r->next, 1)) < r->n) {
		if (r->cancel && *r->cancel)
			break;
		one_image(r, i);
		size_t d = atomic_fetch_add(&r->done, r->copies[i]) +
			   r->copies[i];
		if (report && r->ctl->progress)
			r->ctl->progress(r->ctl->arg, r->base + d, r->total);
	}
}

static void *round_worker(void *arg)
{
	round_loop(arg, 0);
	return NULL;
}

static void run_round(struct round *r, int threads)
{
	pthread_t tid[15];
	int started = 0;

	atomic_store(&r->next, 0);
	atomic_store(&r->done, 0);
	if (threads > 16)
		threads = 16;
	for (int t = 1; t < threads; t++)
		if (pthread_create(&tid[started], NULL, round_worker, r) == 0)
			started++;
	round_loop(r, 1);
	for (int t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
}

/* ---- the whole job ---- */

static int cmp_sha(const void *a, const void *b)
{
	const struct file *x = *(struct file *const *)a;
	const struct file *y = *(struct file *const *)b;

	return memcmp(x->sha, y->sha, STORE_SHA_LEN);
}

static void progress(const struct core_embed_ctl *ctl, size_t done,
		     size_t total)
{
	if (ctl->progress)
		ctl->progress(ctl->arg, done, total);
}

static int cancelled(const struct core_embed_ctl *ctl)
{
	return ctl->cancel && *ctl->cancel;
}

/* Logs why a file has no vector, for the first LOG_BAD of a run. */
static void log_bad(store *st, int64_t ds, const char *path,
		    const char *reason, size_t *bad_logged)
{
	char line[600];

	if ((*bad_logged)++ >= LOG_BAD)
		return;
	snprintf(line, sizeof(line), "embed: %s: no vector: %s (it stays a"
		 " sample)", path, reason);
	store_event_add(st, ds, STORE_WARN, line);
}

/* Computes the features of every distinct source not cached yet. uniq: the
 * first file of each distinct hash, its src set, state 2 if nothing is
 * readable (logged here), else 0; their state is set. Progress counts
 * samples (a hash counts for each of its copies), of nfiles. -EAGAIN: a
 * blob went away meanwhile (why not set). */
static int compute_missing(store *st, struct core_blobs *b, int64_t ds,
			   const char *kind, int color,
			   struct file **uniq, size_t nu, size_t nfiles,
			   const struct core_embed_ctl *ctl, size_t *bad_logged,
			   char *why, size_t whylen)
{
	size_t fdim = emb_feature_dim(color), done = 0, nmiss = 0;
	struct file **miss = malloc((nu ? nu : 1) * sizeof(*miss));
	float *probe = malloc(fdim * sizeof(float));
	struct round r = { .blobs = b, .color = color, .fdim = fdim,
			   .cancel = ctl->cancel, .ctl = ctl,
			   .total = nfiles };
	unsigned char *shas = malloc(ROUND * STORE_SHA_LEN);
	size_t *copies = malloc(ROUND * sizeof(*copies));
	int rc = 0;

	r.vecs = malloc(ROUND * fdim * sizeof(float));
	r.errs = calloc(ROUND, sizeof(char *));
	r.fatal = calloc(ROUND, sizeof(int));
	if (!miss || !probe || !shas || !copies || !r.vecs || !r.errs ||
	    !r.fatal) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < nu && !rc; i++) {
		if (uniq[i]->state == 2) {    /* nothing this user may read */
			log_bad(st, ds, uniq[i]->path, NOT_HERE, bad_logged);
			done += uniq[i]->copies;
			continue;
		}
		rc = store_feature_get(st, kind, uniq[i]->src, probe, fdim,
				       NULL, 0);
		if (rc == -ENOENT) {
			miss[nmiss++] = uniq[i];
			rc = 0;
		} else if (rc >= 0) {
			uniq[i]->state = rc == 0 ? 1 : 2;
			done += uniq[i]->copies;
			rc = 0;
		}
	}
	if (rc) {
		snprintf(why, whylen, "reading cached features: %s",
			 strerror(-rc));
		goto out;
	}
	progress(ctl, done, nfiles);
	for (size_t m0 = 0; m0 < nmiss && !rc; m0 += ROUND) {
		size_t n = nmiss - m0 < ROUND ? nmiss - m0 : ROUND;
		if (cancelled(ctl)) {
			rc = -ECANCELED;
			break;
		}
		for (size_t i = 0; i < n; i++) {
			memcpy(shas + i * STORE_SHA_LEN, miss[m0 + i]->src,
			       STORE_SHA_LEN);
			copies[i] = miss[m0 + i]->copies;
			r.errs[i] = NULL;
			r.fatal[i] = 0;
		}
		r.shas = shas;
		r.copies = copies;
		r.base = done;
		r.n = n;
		run_round(&r, ctl->threads);
		if (cancelled(ctl))
			rc = -ECANCELED;
		for (size_t i = 0; i < n && !rc; i++)
			if (r.fatal[i]) {
				rc = r.fatal[i];
				if (rc != -EAGAIN)
					snprintf(why, whylen, "reading %s: %s",
						 miss[m0 + i]->path,
						 strerror(-rc));
			}
		if (!rc) {
			rc = store_feature_put(st, kind, n, shas, r.vecs, fdim,
					       (const char *const *)r.errs);
			if (rc)
				snprintf(why, whylen, "storing features: %s",
					 strerror(-rc));
		}
		for (size_t i = 0; i < n; i++) {
			if (!rc) {
				miss[m0 + i]->state = r.errs[i] ? 2 : 1;
				if (r.errs[i])
					log_bad(st, ds, miss[m0 + i]->path,
						r.errs[i], bad_logged);
			}
			free(r.errs[i]);
			r.errs[i] = NULL;
			done += miss[m0 + i]->copies;
		}
		progress(ctl, done, nfiles);
	}
out:
	free(miss);
	free(probe);
	free(shas);
	free(copies);
	free(r.vecs);
	free(r.errs);
	free(r.fatal);
	return rc;
}

/* Loads the cached features of files good[idx[0..n)] into x (n × fdim).
 * -EAGAIN: a row went with its blob meanwhile. */
static int load_rows(store *st, const char *kind, size_t fdim,
		     struct file **good, const size_t *idx, size_t n, float *x)
{
	for (size_t i = 0; i < n; i++) {
		int rc = store_feature_get(st, kind, good[idx ? idx[i] : i]->src,
					   x + i * fdim, fdim, NULL, 0);
		if (rc)
			return rc > 0 ? -EIO : rc == -ENOENT ? -EAGAIN : rc;
	}
	return 0;
}

/* Fits the projection on the good files and computes every vector. */
static int project(store *st, const char *kind, size_t fdim, size_t dim,
		   struct file **good, size_t ng, float *out, char *why,
		   size_t whylen)
{
	size_t m = ng < EMB_PCA_FIT_ROWS ? ng : EMB_PCA_FIT_ROWS;
	size_t blk = 1024;
	size_t *idx = malloc(m * sizeof(*idx));
	float *x = malloc((m > blk ? m : blk) * fdim * sizeof(float));
	struct emb_pca p = { 0 };
	int rc;

	if (!idx || !x) {
		free(idx);
		free(x);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m; i++)
		idx[i] = i * ng / m;
	rc = load_rows(st, kind, fdim, good, idx, m, x);
	if (!rc) {
		/* emb_pca_fit takes rows i·n/m itself; hand it exactly those */
		rc = emb_pca_fit(x, m, fdim, dim, &p);
		if (rc)
			snprintf(why, whylen, "fitting the projection: %s",
				 strerror(-rc));
	}
	for (size_t b0 = 0; !rc && b0 < ng; b0 += blk) {
		size_t n = ng - b0 < blk ? ng - b0 : blk;
		rc = load_rows(st, kind, fdim, good + b0, NULL, n, x);
		if (!rc)
			rc = emb_pca_apply(&p, x, n, out + b0 * dim);
	}
	emb_pca_free(&p);
	free(idx);
	free(x);
	return rc;
}

static void hex(const unsigned char *v, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		snprintf(out + 2 * i, 3, "%02x", v[i]);
}

static int embed_once(store *st, struct core_blobs *b, int64_t ds,
		      const struct core_embed_opts *o,
		      const struct core_embed_ctl *ctl, int64_t *emb,
		      char *why, size_t whylen)
{
	struct store_dataset d;
	struct store_embedding e;
	struct files f = { 0 };
	struct file **uniq = NULL, **good = NULL;
	const char **paths = NULL;
	float *vecs = NULL;
	int64_t *labels = NULL;
	const char *kind = emb_feature_kind(o->color);
	char params[64], fp[FP_HEX], oldfp[FP_HEX], oldparams[128];
	unsigned char digest[EVP_MAX_MD_SIZE];
	size_t nu = 0, ng = 0, nbad = 0, logged = 0, bad = 0;
	int rc;

	rc = store_dataset_get_id(st, ds, &d);
	if (rc)
		return rc;
	core_embed_opts_format(o, params, sizeof(params));
	f.fp = EVP_MD_CTX_new();
	if (!f.fp || !EVP_DigestInit_ex(f.fp, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	EVP_DigestUpdate(f.fp, kind, strlen(kind) + 1);
	EVP_DigestUpdate(f.fp, params, strlen(params) + 1);
	rc = store_tree_files_each(st, d.live_tree, add_file, &f);
	if (rc) {
		snprintf(why, whylen, "listing initial-tag: %s", strerror(-rc));
		goto out;
	}
	if (f.n == 0) {
		snprintf(why, whylen, "no samples in initial-tag to embed");
		rc = -EINVAL;
		goto out;
	}

	/* one entry per distinct hash */
	uniq = malloc(f.n * sizeof(*uniq));
	good = malloc(f.n * sizeof(*good));
	if (!uniq || !good) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < f.n; i++)
		uniq[i] = &f.v[i];
	qsort(uniq, f.n, sizeof(*uniq), cmp_sha);
	for (size_t i = 0; i < f.n; i++) {
		if (i == 0 || memcmp(uniq[i]->sha, uniq[nu - 1]->sha,
				     STORE_SHA_LEN)) {
			uniq[nu++] = uniq[i];
			uniq[nu - 1]->copies = 1;
		} else {
			uniq[nu - 1]->copies++;
		}
	}
	/* what this dataset's owner may read of each (file header), part of
	 * the fingerprint: a grant or a thumbnail since changes the result */
	for (size_t i = 0; i < nu; i++) {
		static const unsigned char none = 0, some = 1;
		rc = store_blob_source(st, d.owner, uniq[i]->sha, uniq[i]->src);
		if (rc == -ENOENT) {
			uniq[i]->state = 2;
			EVP_DigestUpdate(f.fp, &none, 1);
			rc = 0;
		} else if (rc) {
			snprintf(why, whylen, "finding the bytes of %s: %s",
				 uniq[i]->path, strerror(-rc));
			goto out;
		} else {
			EVP_DigestUpdate(f.fp, &some, 1);
			EVP_DigestUpdate(f.fp, uniq[i]->src, STORE_SHA_LEN);
		}
	}
	EVP_DigestFinal_ex(f.fp, digest, NULL);
	hex(digest, 32, fp);
	if (store_builtin_get(st, ds, oldparams, sizeof(oldparams), oldfp,
			      sizeof(oldfp)) == 0 && !strcmp(oldfp, fp) &&
	    store_embedding_get(st, ds, CORE_BUILTIN_NAME, &e) == 0) {
		*emb = e.id;
		progress(ctl, f.n, f.n);
		goto out;                     /* up to date */
	}
	rc = compute_missing(st, b, ds, kind, o->color, uniq, nu, f.n, ctl,
			     &logged, why, whylen);
	if (rc)
		goto out;
	/* every file takes the state of its hash's representative: files
	 * are in path order in f.v; look each up by hash */
	for (size_t i = 0; i < f.n; i++) {
		struct file *key = &f.v[i], **hit;
		hit = bsearch(&key, uniq, nu, sizeof(*uniq), cmp_sha);
		key->state = hit ? (*hit)->state : 2;
		if (hit)
			memcpy(key->src, (*hit)->src, STORE_SHA_LEN);
		if (key->state == 1)
			good[ng++] = key;
		else
			nbad++;
	}
	if (ng == 0) {
		if (f.n == 1)
			snprintf(why, whylen, "the only sample of initial-tag"
				 " is not an image sievefs can decode (see"
				 " log)");
		else
			snprintf(why, whylen, "none of the %zu samples of"
				 " initial-tag is an image sievefs can decode"
				 " (see log)", f.n);
		rc = -EINVAL;
		goto out;
	}
	if (ctl->phase)
		ctl->phase(ctl->arg, "projecting");
	size_t dim = (size_t)o->dim < ng ? (size_t)o->dim : ng;
	vecs = malloc(ng * dim * sizeof(float));
	paths = malloc(ng * sizeof(*paths));
	labels = calloc(ng, sizeof(*labels));
	if (!vecs || !paths || !labels) {
		rc = -ENOMEM;
		goto out;
	}
	rc = project(st, kind, emb_feature_dim(o->color), dim, good, ng, vecs,
		     why, whylen);
	if (rc) {
		if (!why[0] && rc != -EAGAIN)
			snprintf(why, whylen, "projecting: %s", strerror(-rc));
		goto out;
	}
	for (size_t i = 0; i < ng; i++)
		paths[i] = good[i]->path;
	rc = store_embedding_put(st, ds, d.live_tree, CORE_BUILTIN_NAME, ng,
				 dim, paths, vecs, labels, &bad, NULL, &e);
	if (rc == -EINVAL || rc == -ENOENT) {
		rc = -EAGAIN;           /* the files went away meanwhile */
		goto out;
	}
	if (!rc)
		rc = store_builtin_set(st, ds, params, fp);
	if (rc) {
		snprintf(why, whylen, "storing the embedding: %s",
			 strerror(-rc));
		goto out;
	}
	*emb = e.id;
	char line[300];
	snprintf(line, sizeof(line), "embed: builtin (%s): %zu image%s, %zu"
		 " sample%s without a vector (not images)", params, ng,
		 ng == 1 ? "" : "s", nbad, nbad == 1 ? "" : "s");
	store_event_add(st, ds, STORE_INFO, line);
out:
	files_free(&f);
	free(uniq);
	free(good);
	free(paths);
	free(vecs);
	free(labels);
	return rc;
}

int core_embed_builtin(store *st, struct core_blobs *b, int64_t ds,
		       const struct core_embed_opts *o,
		       const struct core_embed_ctl *ctl, int64_t *emb,
		       char *why, size_t whylen)
{
	int rc = -EAGAIN;

	why[0] = '\0';
	/* one BLAS thread per calling thread (STYLE.md), for the whole
	 * process: also what makes the projection bit-for-bit repeatable */
	smp_blas_init();
	/* initial-tag may change while we work; features are cached, so a
	 * retry only redoes the cheap part */
	for (int attempt = 0; attempt < 3 && rc == -EAGAIN; attempt++)
		rc = embed_once(st, b, ds, o, ctl, emb, why, whylen);
	if (rc == -EAGAIN) {
		snprintf(why, whylen, "initial-tag kept changing while the"
			 " embedding was computed; try again");
		rc = -EBUSY;
	}
	return rc;
}
