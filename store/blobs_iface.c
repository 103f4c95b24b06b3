/*
 * blobs_iface.c — what every blob-store engine shares (blobstore.h): the
 * calls dispatched to the engine's table, the SHA-256 of an upload's bytes
 * computed here as they pass, so each engine gets finish() only with the
 * hash its bytes really have and a mismatch with the caller's hash is
 * refused in one place, and the per-thread reason of the last failure
 * (emptied as each call starts, so a reason read after a failure is that
 * failure's, never an older one's).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "store/blobstore.h"

static _Thread_local char last_error[320];

void blobs_set_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(last_error, sizeof last_error, fmt, ap);
	va_end(ap);
}

const char *blobs_last_error(void)
{
	return last_error;
}

const char *blobs_engine(const blobstore *b)
{
	return b->ops->name;
}

void blobs_close(blobstore *b)
{
	if (b)
		b->ops->close(b);
}

int blobs_begin(blobstore *b, blob_upload **out)
{
	blob_upload *u = NULL;
	int rc;

	*out = NULL;
	last_error[0] = 0;
	if ((rc = b->ops->begin(b, &u)))
		return rc;
	u->b = b;
	u->size = 0;
	if (!(u->md = EVP_MD_CTX_new()) ||
	    !EVP_DigestInit_ex(u->md, EVP_sha256(), NULL)) {
		EVP_MD_CTX_free(u->md);
		u->md = NULL;
		b->ops->abort(u);   /* frees u */
		return -ENOMEM;
	}
	*out = u;
	return 0;
}

int blobs_write(blob_upload *u, const void *buf, size_t len)
{
	int rc;

	if (!len)
		return 0;
	if ((rc = u->b->ops->write(u, buf, len)))
		return rc;
	EVP_DigestUpdate(u->md, buf, len);
	u->size += len;
	return 0;
}

uint64_t blobs_upload_size(const blob_upload *u)
{
	return u->size;
}

int blobs_finish(blob_upload *u, const unsigned char want[BLOBS_SHA_LEN],
		 unsigned char got[BLOBS_SHA_LEN], int durable)
{
	unsigned char sha[BLOBS_SHA_LEN];

	EVP_DigestFinal_ex(u->md, sha, NULL);
	EVP_MD_CTX_free(u->md);
	u->md = NULL;
	if (got)
		memcpy(got, sha, sizeof sha);
	if (want && memcmp(want, sha, sizeof sha)) {
		blobs_set_error("the upload's bytes do not hash to the SHA-256 given");
		u->b->ops->abort(u);
		return -EBADMSG;
	}
	return u->b->ops->finish(u, sha, durable);
}

void blobs_abort(blob_upload *u)
{
	if (!u)
		return;
	EVP_MD_CTX_free(u->md);
	u->md = NULL;
	u->b->ops->abort(u);
}

int blobs_open_fd(blobstore *b, const unsigned char sha[BLOBS_SHA_LEN])
{
	last_error[0] = 0;
	return b->ops->open_fd(b, sha);
}

int blobs_read(blobstore *b, const unsigned char sha[BLOBS_SHA_LEN],
	       uint64_t off, void *buf, size_t len, size_t *got)
{
	*got = 0;
	last_error[0] = 0;
	return len ? b->ops->read(b, sha, off, buf, len, got) : 0;
}

int blobs_stat(blobstore *b, const unsigned char sha[BLOBS_SHA_LEN],
	       uint64_t *size)
{
	last_error[0] = 0;
	return b->ops->stat(b, sha, size);
}

int blobs_remove(blobstore *b, const unsigned char sha[BLOBS_SHA_LEN])
{
	last_error[0] = 0;
	return b->ops->remove(b, sha);
}

int blobs_presign(blobstore *b, const unsigned char sha[BLOBS_SHA_LEN],
		  unsigned expires_s, char *url, size_t cap)
{
	return b->ops->presign(b, sha, expires_s, url, cap);
}

int blobs_sweep(blobstore *b, int64_t older_than_s, unsigned *removed)
{
	unsigned n = 0;
	int rc;

	if (older_than_s < 0)
		return -EINVAL;
	last_error[0] = 0;
	rc = b->ops->sweep(b, older_than_s, &n);
	if (removed)
		*removed = n;
	return rc;
}

/* A derived object's name: relative, of [a-z0-9./_-], no "..", not empty. */
static int aux_name_ok(const char *name)
{
	size_t n = 0;

	if (!name || !*name || *name == '/' || strstr(name, ".."))
		return 0;
	for (const char *p = name; *p; p++, n++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		      *p == '.' || *p == '/' || *p == '_' || *p == '-'))
			return 0;
	return n < 200;
}

int blobs_aux_put(blobstore *b, const char *name, const void *buf,
		  size_t len)
{
	if (!b->ops->aux_put)
		return -ENOTSUP;
	return aux_name_ok(name) ? b->ops->aux_put(b, name, buf, len) : -EINVAL;
}

int blobs_aux_get(blobstore *b, const char *name, void *buf, size_t cap,
		  size_t *got)
{
	*got = 0;
	if (!b->ops->aux_get)
		return -ENOTSUP;
	return aux_name_ok(name) ? b->ops->aux_get(b, name, buf, cap, got) :
	       -EINVAL;
}

int blobs_aux_remove(blobstore *b, const char *name)
{
	if (!b->ops->aux_remove)
		return -ENOTSUP;
	return aux_name_ok(name) ? b->ops->aux_remove(b, name) : -EINVAL;
}
