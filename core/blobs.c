/*
 * blobs.c — core/blobs.h's calls: each byte operation goes to the store's
 * blob functions (store/blob.c, today over the local engine of
 * store/blobstore.h), and the facts about blobs that the catalog holds
 * whatever the engine — grants, pending uploads, kept bytes, thumbnails a
 * user sent — are answered here, once, over store/. The server's
 * ownership rules for bytes live here too (the web door's owner "" reads
 * what its datasets name), so api/ asks one question per purpose instead
 * of stringing store/ calls together.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/blobs.h"
#include "core/log.h"
#include "store/store.h"

struct core_blobs {
	store *st;             /* the catalog and its blob engine (borrowed) */
};

int core_blobs_open(store *st, struct core_blobs **out)
{
	struct core_blobs *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->st = st;
	*out = b;
	return 0;
}

void core_blobs_free(struct core_blobs *b)
{
	free(b);
}

/* ---- bytes: the store's blob engine's ---- */

int core_blob_open(struct core_blobs *b, const unsigned char sha[STORE_SHA_LEN])
{
	int fd = store_blob_open(b->st, sha);

	/* the client gets an errno; the operator, the engine's reason (S3:
	 * refused keys, an unreachable endpoint, bytes that do not hash) */
	if (fd < 0 && fd != -ENOENT && store_blob_engine_error()[0]) {
		char hex[65];

		store_sha_hex(sha, hex);
		log_warn("reading blob %s: %s", hex, store_blob_engine_error());
	}
	return fd;
}

/* The engine's presigned GET (S3), or 0 and "" when it has files (local:
 * the server sends the bytes itself). */
int core_blob_url(struct core_blobs *b, const unsigned char sha[STORE_SHA_LEN],
		  unsigned ttl_s, char *url, size_t len)
{
	return store_blob_url(b->st, sha, ttl_s, url, len);
}

int core_blob_staging(struct core_blobs *b, char *path, size_t len)
{
	return store_staging_create(b->st, path, len);
}

int core_blob_put(struct core_blobs *b, int fd, const char *staged,
		  const unsigned char sha[STORE_SHA_LEN], const char *user)
{
	return store_blob_put(b->st, fd, staged, sha, user);
}

struct core_blob_stream {
	struct blob_upload *u;   /* the store's engine upload */
};

int core_blob_stream_begin(struct core_blobs *b, struct core_blob_stream **out)
{
	struct blob_upload *u;
	int rc = store_blob_stream_begin(b->st, &u);

	*out = NULL;
	if (rc || !u)
		return rc;
	if (!(*out = malloc(sizeof **out))) {
		store_blob_stream_abort(u);
		return -ENOMEM;
	}
	(*out)->u = u;
	return 0;
}

int core_blob_stream_write(struct core_blob_stream *u, const void *buf,
			   size_t len)
{
	return store_blob_stream_write(u->u, buf, len);
}

void core_blob_stream_abort(struct core_blob_stream *u)
{
	if (!u)
		return;
	store_blob_stream_abort(u->u);
	free(u);
}

int core_blob_put_stream(struct core_blobs *b, int fd, const char *staged,
			 struct core_blob_stream *u,
			 const unsigned char sha[STORE_SHA_LEN],
			 const char *user)
{
	return core_blob_put_capped(b, fd, staged, u, sha, user, NULL, NULL,
				    NULL);
}

int core_blob_put_capped(struct core_blobs *b, int fd, const char *staged,
			 struct core_blob_stream *u,
			 const unsigned char sha[STORE_SHA_LEN],
			 const char *user, const struct core_blob_cap *cap,
			 size_t *count, int64_t *bytes)
{
	struct blob_upload *bu = u ? u->u : NULL;
	struct store_cap sc;
	int rc;

	free(u);
	if (cap) {
		sc.bytes = cap->bytes;
		sc.count = cap->count;
	}
	rc = store_blob_put_capped(b->st, fd, staged, bu, sha, user,
				   cap ? &sc : NULL, count, bytes);
	if (rc && rc != -EDQUOT && store_blob_engine_error()[0])
		log_warn("storing blob: %s", store_blob_engine_error());
	return rc;
}

/* The catalog's pending uploads past the grace, then what crashed
 * uploads left in the engine's staging area, by the same age: an upload
 * still running after the grace would find its pending row gone anyway. */

int core_blob_sweep(struct core_blobs *b, int64_t grace_ns, size_t *removed,
		    int64_t *bytes)
{
	unsigned staged = 0;
	int rc = store_blob_sweep(b->st, grace_ns, removed, bytes);

	if (!rc)
		rc = store_blob_engine_sweep(b->st, grace_ns / 1000000000,
					     &staged);
	if (!rc && staged)
		log_info("removed %u upload(s) left unfinished in the blob"
			 " store's staging area", staged);
	else if (rc && store_blob_engine_error()[0])
		log_warn("blob store: %s", store_blob_engine_error());
	return rc;
}

int core_thumbcache_open(struct core_blobs *b,
			 const unsigned char sha[STORE_SHA_LEN], int side)
{
	return store_thumbcache_open(b->st, sha, side);
}

int core_thumbcache_put(struct core_blobs *b,
			const unsigned char sha[STORE_SHA_LEN], int side,
			const void *buf, size_t len)
{
	return store_thumbcache_put(b->st, sha, side, buf, len);
}

/* ---- who may read what: the catalog's ---- */

int core_blob_readable(struct core_blobs *b, const char *owner,
		       const unsigned char sha[STORE_SHA_LEN])
{
	int rc = store_blob_granted(b->st, owner, sha);

	/* a mount's web door: its files carry no upload grant, and every
	 * blob they name is its owner's */
	if (rc == 0 && !owner[0])
		rc = store_blob_owned(b->st, sha, "");
	return rc;
}

int core_blob_open_for(struct core_blobs *b, const char *owner,
		       const unsigned char sha[STORE_SHA_LEN])
{
	int rc = core_blob_readable(b, owner, sha);

	if (rc <= 0)
		return rc < 0 ? rc : -ENOENT;
	return core_blob_open(b, sha);
}

int core_blob_named(struct core_blobs *b, const char *owner,
		    const unsigned char sha[STORE_SHA_LEN])
{
	return store_blob_owned(b->st, sha, owner);
}

int core_blob_kept(struct core_blobs *b, const char *owner,
		   const unsigned char sha[STORE_SHA_LEN])
{
	int rc = store_blob_kept(b->st, sha);

	if (rc == 1 && owner)
		rc = store_blob_owned(b->st, sha, owner);
	return rc;
}

int core_blob_pending(struct core_blobs *b, const char *user, size_t *count,
		      int64_t *bytes)
{
	return store_blob_pending(b->st, user, count, bytes);
}

int core_blob_source(struct core_blobs *b, const char *owner,
		     const unsigned char sha[STORE_SHA_LEN],
		     unsigned char src[STORE_SHA_LEN])
{
	int rc = store_blob_source(b->st, owner, sha, src);

	/* the web door (owner ""): every blob its files name is its to
	 * read, with or without a grant */
	if (rc == -ENOENT && !owner[0] && core_blob_readable(b, owner, sha) == 1) {
		memcpy(src, sha, STORE_SHA_LEN);
		rc = 0;
	}
	return rc;
}

int core_blob_thumb_for(struct core_blobs *b, const char *user,
			const unsigned char sha[STORE_SHA_LEN],
			unsigned char thumb[STORE_SHA_LEN], int64_t *size)
{
	return store_thumb_get_for(b->st, user, sha, thumb, size);
}
