/*
 * blobs_s3.c — the blob store's S3 engine (blobstore.h) over store/s3.h.
 *
 * Keys, under the handle's prefix: blobs/ab/<sha256 hex> (ab: the hash's
 * first byte in hex, as on disk, so a listing of one shard stays short),
 * staging/<24 random hex> for an upload in progress, and the derived
 * objects the store names (blobs_aux_*: thumbs/ab/<sha>.<side>).
 *
 * An upload holds one buffer, grown up to the part size (s3_config's
 * part_size, 16 MiB by default). While the bytes fit in it nothing is
 * sent; finish then PUTs them to the final key with their SHA-256 as
 * x-amz-content-sha256 (RGW stores them only if they match). Each time the
 * buffer is full and more bytes come, it goes out as the next part of a
 * multipart upload of the staging key (each part checked by the server
 * against its own SHA-256); finish sends the rest as the last part,
 * completes the staging object, copies it server-side onto the final key
 * (no byte passes through us again) and deletes it. So a large blob never
 * sits whole in our memory or on our disk, and the final key only ever
 * gets bytes whose whole SHA-256 we computed (blobs_iface.c) before the
 * copy. When the final key exists already, finish only drops the staging:
 * same name, same bytes.
 *
 * What a crash leaves: an open multipart upload under staging/ (its parts
 * take space and show in no object listing), or a completed staging
 * object between complete and delete. blobs_sweep aborts and deletes
 * those older than its age, comparing the server's own times
 * (LastModified, Initiated) with our clock: keep the age well above any
 * clock skew. It never touches an upload this handle has open (a list of
 * them, under live_lock): a short age — a server's --orphan-grace of a
 * few seconds — must not cut a slow upload of its own under it (a 40 MB
 * PUT through a busy server did exactly that). Another process's slow
 * upload it cannot tell from a dead one: the age is the only guard there.
 *
 * Limits: a multipart blob over 5 GiB cannot be copied with one
 * server-side copy (-EFBIG, s3_copy); 10,000 parts (160 GiB at 16 MiB).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "store/blobstore.h"

#define KEY_MAX 96
#define BUF_START (1u << 20)

struct s3u;

struct s3e {
	struct blobstore base;
	s3 *h;
	size_t part;            /* the part size: the buffer's cap */
	pthread_mutex_t live_lock;
	struct s3u *live;       /* the uploads open on this handle */
};

struct s3u {
	struct blob_upload base;
	struct s3u *prev, *next;   /* in live, under live_lock */
	char staging[KEY_MAX];
	unsigned char *buf;
	size_t len, cap;
	char upload_id[S3_UPLOAD_ID_MAX];   /* "" until the first part */
	char (*etags)[S3_ETAG_MAX];
	int nparts, cap_parts;
	int completed;          /* the staging object exists */
};

#define E(b) ((struct s3e *)(b))
#define U(u) ((struct s3u *)(u))

static void blob_key(const unsigned char *sha, char key[KEY_MAX])
{
	char h[2 * BLOBS_SHA_LEN + 1];

	s3_hex(sha, BLOBS_SHA_LEN, h);
	snprintf(key, KEY_MAX, "blobs/%.2s/%s", h, h);
}

/* Keeps a failed call's reason for blobs_last_error; returns rc. */
static int why(int rc, const struct s3_err *e, const char *what)
{
	if (rc)
		blobs_set_error("%s: %s", what, e->message[0] ? e->message :
				strerror(-rc));
	return rc;
}

/* ------------------------------------------------------------ uploads */

static int e_begin(blobstore *b, blob_upload **out)
{
	unsigned char rnd[12];
	char h[25];
	struct s3u *u;

	(void)b;
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd)
		return -EIO;
	if (!(u = calloc(1, sizeof *u)))
		return -ENOMEM;
	s3_hex(rnd, sizeof rnd, h);
	snprintf(u->staging, sizeof u->staging, "staging/%s", h);
	pthread_mutex_lock(&E(b)->live_lock);
	u->next = E(b)->live;
	if (u->next)
		u->next->prev = u;
	E(b)->live = u;
	pthread_mutex_unlock(&E(b)->live_lock);
	*out = &u->base;
	return 0;
}

/* Is key the staging key of an upload open on this handle? */
static int live_key(struct s3e *e, const char *key)
{
	int found = 0;

	pthread_mutex_lock(&e->live_lock);
	for (struct s3u *u = e->live; u && !found; u = u->next)
		found = !strcmp(u->staging, key);
	pthread_mutex_unlock(&e->live_lock);
	return found;
}

/* Sends the buffer as the next part of the staging key's multipart
 * upload (started on the first part). */
static int send_part(struct s3e *e, struct s3u *u)
{
	struct s3_err err;
	int rc;

	if (!u->upload_id[0] &&
	    (rc = why(s3_mp_create(e->h, u->staging, u->upload_id, &err),
		      &err, "starting a multipart upload")))
		return rc;
	if (u->nparts == S3_PARTS_MAX) {
		blobs_set_error("more than %d parts of %zu bytes", S3_PARTS_MAX,
				e->part);
		return -EFBIG;
	}
	if (u->nparts == u->cap_parts) {
		int cap = u->cap_parts ? 2 * u->cap_parts : 16;
		char (*t)[S3_ETAG_MAX] = realloc(u->etags, (size_t)cap * sizeof *t);

		if (!t)
			return -ENOMEM;
		u->etags = t;
		u->cap_parts = cap;
	}
	rc = s3_mp_part_buf(e->h, u->staging, u->upload_id, u->nparts + 1,
			    u->buf, u->len, NULL, u->etags[u->nparts], &err);
	if (rc)
		return why(rc, &err, "sending a part");
	u->nparts++;
	u->len = 0;
	return 0;
}

static int e_write(blob_upload *bu, const void *buf, size_t len)
{
	struct s3e *e = E(bu->b);
	struct s3u *u = U(bu);
	const unsigned char *p = buf;
	int rc;

	while (len) {
		if (u->len == e->part && (rc = send_part(e, u)))
			return rc;
		if (u->len == u->cap) {
			size_t cap = u->cap ? 2 * u->cap : BUF_START;
			unsigned char *t;

			if (cap > e->part)
				cap = e->part;
			if (!(t = realloc(u->buf, cap)))
				return -ENOMEM;
			u->buf = t;
			u->cap = cap;
		}
		size_t n = u->cap - u->len < len ? u->cap - u->len : len;

		memcpy(u->buf + u->len, p, n);
		u->len += n;
		p += n;
		len -= n;
	}
	return 0;
}

/* Drops what the upload left on the server (best effort: a sweep takes
 * what this misses) and frees it. */
static void e_drop(struct s3e *e, struct s3u *u)
{
	struct s3_err err;

	pthread_mutex_lock(&e->live_lock);
	if (u->prev)
		u->prev->next = u->next;
	else
		e->live = u->next;
	if (u->next)
		u->next->prev = u->prev;
	pthread_mutex_unlock(&e->live_lock);

	if (u->completed)
		s3_delete(e->h, u->staging, &err);
	else if (u->upload_id[0])
		s3_mp_abort(e->h, u->staging, u->upload_id, &err);
	free(u->etags);
	free(u->buf);
	free(u);
}

static int e_finish(blob_upload *bu, const unsigned char *sha, int durable)
{
	struct s3e *e = E(bu->b);
	struct s3u *u = U(bu);
	char key[KEY_MAX];
	struct s3_err err;
	int rc;

	(void)durable;   /* S3 answers once the bytes are stored */
	blob_key(sha, key);
	if (!u->upload_id[0]) {
		/* One part: PUT it, even when the key is there — a HEAD
		 * first costs a round trip as long as the PUT of a small
		 * blob, and a PUT over the key writes the same, verified
		 * bytes (RGW checks them against x-amz-content-sha256), so a
		 * reader sees those bytes before and after (invariant 2). */
		rc = why(s3_put_buf(e->h, key, u->buf, u->len, sha, &err),
			 &err, "storing a blob");
		goto out;
	}
	if ((rc = send_part(e, u)))
		goto out;
	rc = s3_mp_complete(e->h, u->staging, u->upload_id, u->etags,
			    u->nparts, &err);
	if ((rc = why(rc, &err, "completing a multipart upload")))
		goto out;
	u->completed = 1;
	rc = s3_head(e->h, key, NULL, NULL, &err);
	if (rc == -ENOENT)
		rc = why(s3_copy(e->h, u->staging, key, &err), &err,
			 "copying a staged blob onto its key");
	else
		why(rc, &err, "looking for a blob");
out:
	e_drop(e, u);
	return rc;
}

static void e_abort(blob_upload *bu)
{
	e_drop(E(bu->b), U(bu));
}

/* ------------------------------------------------------------ reads */

static int e_open_fd(blobstore *b, const unsigned char *sha)
{
	(void)b, (void)sha;
	return -ENOTSUP;   /* no files: blobs_read or a presigned URL */
}

static int e_read(blobstore *b, const unsigned char *sha, uint64_t off,
		  void *buf, size_t len, size_t *got)
{
	char key[KEY_MAX];
	struct s3_err err;
	int rc;

	blob_key(sha, key);
	rc = s3_get_buf(E(b)->h, key, off, len, buf, len, got, &err);
	if (rc == -ERANGE) {
		/* at or past the end: no bytes, as a file's read */
		uint64_t size;

		rc = s3_head(E(b)->h, key, &size, NULL, &err);
		*got = 0;
		return why(rc == 0 && off < size ? -EIO : rc, &err,
			   "reading a blob");
	}
	return why(rc, &err, "reading a blob");
}

static int e_stat(blobstore *b, const unsigned char *sha, uint64_t *size)
{
	char key[KEY_MAX];
	struct s3_err err;

	blob_key(sha, key);
	return why(s3_head(E(b)->h, key, size, NULL, &err), &err,
		   "looking for a blob");
}

static int e_remove(blobstore *b, const unsigned char *sha)
{
	char key[KEY_MAX];
	struct s3_err err;

	blob_key(sha, key);
	return why(s3_delete(E(b)->h, key, &err), &err, "removing a blob");
}

static int e_presign(blobstore *b, const unsigned char *sha,
		     unsigned expires_s, char *url, size_t cap)
{
	char key[KEY_MAX];

	blob_key(sha, key);
	return s3_presign(E(b)->h, "GET", key, expires_s, url, cap);
}

/* ------------------------------------------------------------ sweep */

/* Unix seconds of an ISO 8601 UTC time as S3 writes it
 * ("2026-12-07T09:17:21.123Z"); -1 when unreadable. */
static int64_t iso_time(const char *s)
{
	struct tm tm = { 0 };

	if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon,
			 &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return -1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

/* What a sweep found, removed after the listing (no deletes while
 * paging through it). */
struct found {
	int64_t cut;
	char (*keys)[KEY_MAX];
	char (*ids)[S3_UPLOAD_ID_MAX];
	size_t n, cap;
};

static int found_add(struct found *f, const char *key, const char *id)
{
	if (strlen(key) >= KEY_MAX || (id && strlen(id) >= S3_UPLOAD_ID_MAX))
		return 0;   /* not a key of ours */
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 64;
		char (*k)[KEY_MAX] = realloc(f->keys, cap * sizeof *k);

		if (!k)
			return -ENOMEM;
		f->keys = k;
		char (*i)[S3_UPLOAD_ID_MAX] = realloc(f->ids, cap * sizeof *i);
		if (!i)
			return -ENOMEM;
		f->ids = i;
		f->cap = cap;
	}
	snprintf(f->keys[f->n], KEY_MAX, "%s", key);
	snprintf(f->ids[f->n], S3_UPLOAD_ID_MAX, "%s", id ? id : "");
	f->n++;
	return 0;
}

static int old_object(void *arg, const struct s3_obj *o)
{
	struct found *f = arg;
	int64_t t = iso_time(o->last_modified);

	return t >= 0 && t <= f->cut ? found_add(f, o->key, NULL) : 0;
}

static int old_upload(void *arg, const struct s3_upload *u)
{
	struct found *f = arg;
	int64_t t = iso_time(u->initiated);

	return t >= 0 && t <= f->cut ? found_add(f, u->key, u->upload_id) : 0;
}

static int e_sweep(blobstore *b, int64_t older_than_s, unsigned *removed)
{
	struct found f = { .cut = (int64_t)time(NULL) - older_than_s };
	struct s3_err err;
	int rc;

	rc = why(s3_mp_list(E(b)->h, "staging/", old_upload, &f, &err), &err,
		 "listing open uploads under staging/");
	for (size_t i = 0; !rc && i < f.n; i++)
		if (!live_key(E(b), f.keys[i]) &&
		    s3_mp_abort(E(b)->h, f.keys[i], f.ids[i], &err) == 0)
			(*removed)++;
	f.n = 0;
	if (!rc)
		rc = why(s3_list(E(b)->h, "staging/", old_object, &f, &err),
			 &err, "listing staging/");
	for (size_t i = 0; !rc && i < f.n; i++)
		if (!live_key(E(b), f.keys[i]) &&
		    s3_delete(E(b)->h, f.keys[i], &err) == 0)
			(*removed)++;
	free(f.keys);
	free(f.ids);
	return rc;
}

/* ------------------------------------------------------------ derived */

static int e_aux_put(blobstore *b, const char *name, const void *buf,
		     size_t len)
{
	struct s3_err err;

	return why(s3_put_buf(E(b)->h, name, buf, len, NULL, &err), &err,
		   "storing a derived object");
}

static int e_aux_get(blobstore *b, const char *name, void *buf, size_t cap,
		     size_t *got)
{
	struct s3_err err;

	return why(s3_get_buf(E(b)->h, name, 0, S3_TO_END, buf, cap, got, &err),
		   &err, "reading a derived object");
}

static int e_aux_remove(blobstore *b, const char *name)
{
	struct s3_err err;

	return why(s3_delete(E(b)->h, name, &err), &err,
		   "removing a derived object");
}

static void e_close(blobstore *b)
{
	pthread_mutex_destroy(&E(b)->live_lock);
	s3_close(E(b)->h);
	free(b);
}

static const struct blobs_ops s3_ops = {
	.name = "s3", .begin = e_begin, .write = e_write,
	.finish = e_finish, .abort = e_abort, .open_fd = e_open_fd,
	.read = e_read, .stat = e_stat, .remove = e_remove,
	.presign = e_presign, .sweep = e_sweep, .aux_put = e_aux_put,
	.aux_get = e_aux_get, .aux_remove = e_aux_remove, .close = e_close,
};

int blobs_s3_open(const struct s3_config *cfg, blobstore **out, char *msg,
		  size_t msglen)
{
	struct s3e *e;
	int rc;

	*out = NULL;
	if (!(e = calloc(1, sizeof *e)))
		return -ENOMEM;
	if ((rc = s3_open(cfg, &e->h, msg, msglen))) {
		free(e);
		return rc;
	}
	/* s3_open's default part size when the config leaves it 0 */
	e->part = cfg->part_size ? (size_t)cfg->part_size : 16u << 20;
	pthread_mutex_init(&e->live_lock, NULL);
	e->base.ops = &s3_ops;
	*out = &e->base;
	return 0;
}
