/*
 * blobs_local.c — the local directory engine of core/blobs.h: the bytes
 * live on this machine under the store, STORE/blobs/ab/<sha256>, with
 * staging files in STORE/staging and the thumbnail cache in STORE/thumbs
 * (store/store.h has the layout, store/blob.c and store/thumbs.c the
 * crash-safe moves). This file only maps the engine's table onto those
 * store/ functions; it gives no URLs (the server sends the bytes itself).
 */
#include <errno.h>
#include <stdlib.h>

#include "core/blobs.h"
#include "store/store.h"

static int l_open(struct core_blobs *b, const unsigned char sha[STORE_SHA_LEN])
{
	return store_blob_open(b->st, sha);
}

/* No URL: a client reads the bytes through the server. */
static int l_url(struct core_blobs *b, const unsigned char sha[STORE_SHA_LEN],
		 unsigned ttl_s, char *url, size_t len)
{
	(void)b, (void)sha, (void)ttl_s;
	if (url && len)
		url[0] = '\0';
	return 0;
}

static int l_staging(struct core_blobs *b, char *path, size_t len)
{
	return store_staging_create(b->st, path, len);
}

static int l_put(struct core_blobs *b, int fd, const char *staged,
		 const unsigned char sha[STORE_SHA_LEN], const char *user)
{
	return store_blob_put(b->st, fd, staged, sha, user);
}

static int l_sweep(struct core_blobs *b, int64_t grace_ns, size_t *removed,
		   int64_t *bytes)
{
	return store_blob_sweep(b->st, grace_ns, removed, bytes);
}

static int l_thumb_open(struct core_blobs *b,
			const unsigned char sha[STORE_SHA_LEN], int side)
{
	return store_thumbcache_open(b->st, sha, side);
}

static int l_thumb_put(struct core_blobs *b,
		       const unsigned char sha[STORE_SHA_LEN], int side,
		       const void *buf, size_t len)
{
	return store_thumbcache_put(b->st, sha, side, buf, len);
}

static void l_destroy(struct core_blobs *b)
{
	free(b);
}

static const struct core_blobs_ops local_ops = {
	.name = "local",
	.open = l_open,
	.url = l_url,
	.staging = l_staging,
	.put = l_put,
	.sweep = l_sweep,
	.thumb_open = l_thumb_open,
	.thumb_put = l_thumb_put,
	.destroy = l_destroy,
};

int core_blobs_local(store *st, struct core_blobs **out)
{
	struct core_blobs *b = calloc(1, sizeof(*b));

	if (!b)
		return -ENOMEM;
	b->ops = &local_ops;
	b->st = st;
	*out = b;
	return 0;
}
