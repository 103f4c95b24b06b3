/*
 * upload.c — see upload.h for the design.
 *
 * States of an upload:
 *   clean   no staging file; reads come from `base` (the committed bytes, or
 *           nothing for a file that has none yet);
 *   dirty   staging file `fd` holds the current bytes; `hashed` bytes of it
 *           were fed to `sha` in order (sequential writes, the common case),
 *           `rehash` set when a write or truncate broke the order.
 * A write to a clean upload copies `base` into a new staging file first
 * (copy_file_range: the kernel copies, nothing crosses user space). After a
 * commit the staging file *is* the blob, so it becomes `base`, read-only.
 *
 * Failed writes. A write, copy-up or truncate that fails (ENOSPC, EIO, ...)
 * leaves the staging file holding bytes the writer did not mean, so the
 * upload is failed (`werr`): the next commit (flush on close(), fsync,
 * release) reports the error instead of committing and discards the
 * staging file; a commit that fails does the same. Discarding returns the
 * upload to the node's committed bytes; a node that never had any (a
 * brand-new file) is removed, so it is never listed as an empty or partial
 * sample. The error stays until the last handle is released or the file is
 * truncated to 0 (O_TRUNC starts over): later writes and flushes fail with
 * it too, so no close() of a descriptor still open (a dup, a forked child's
 * copy) can report success for bytes that were dropped. The kernel runs
 * without writeback cache (fs/ops.c op_init), so every write error reaches
 * write() itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "core/log.h"
#include "core/upload.h"
#include "store/store.h"

#define NBUCKETS 1024

struct upload {
	pthread_mutex_t lock;      /* protects everything below */
	int64_t ino;
	int refs;                  /* under table lock */
	struct upload *next;       /* bucket chain, under table lock */
	struct upload_table *t;
	int base;                  /* fd on committed bytes, or -1 */
	int fd;                    /* staging fd when dirty, else -1 */
	char staged[STORE_PATH_MAX];
	int dirty;
	int need_copy;             /* clean, base holds bytes to copy up */
	int64_t size;
	int werr;                  /* -errno of a failed write or commit */
	int commit_failed;         /* werr came from a commit (for the log) */
	int64_t mtime_ns;          /* explicit mtime, 0 = commit time */
	EVP_MD_CTX *sha;
	int64_t hashed;
	int rehash;
};

struct upload_table {
	pthread_mutex_t lock;
	struct backend *be;
	struct upload *bucket[NBUCKETS];
};

struct upload_table *upload_table_new(struct backend *be)
{
	struct upload_table *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->be = be;
	return t;
}

void upload_table_free(struct upload_table *t)
{
	if (!t)
		return;
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static void upload_free(struct upload *u)
{
	if (u->fd >= 0) {
		close(u->fd);
		if (u->staged[0])
			unlink(u->staged);
	}
	if (u->base >= 0)
		close(u->base);
	EVP_MD_CTX_free(u->sha);
	pthread_mutex_destroy(&u->lock);
	free(u);
}

static struct upload **slot(struct upload_table *t, int64_t ino)
{
	struct upload **p = &t->bucket[(uint64_t)ino % NBUCKETS];

	while (*p && (*p)->ino != ino)
		p = &(*p)->next;
	return p;
}

struct upload *upload_find(struct upload_table *t, int64_t ino)
{
	struct upload *u;

	pthread_mutex_lock(&t->lock);
	u = *slot(t, ino);
	if (u)
		u->refs++;
	pthread_mutex_unlock(&t->lock);
	return u;
}

/* Starts a fresh, empty staging file; the upload is dirty afterwards. */
static int start_staging(struct upload *u)
{
	int fd = u->t->be->ops->staging_create(u->t->be, u->staged,
					       sizeof(u->staged));
	if (fd < 0)
		return fd;
	u->fd = fd;
	u->dirty = 1;
	u->hashed = 0;
	u->rehash = 0;
	if (!EVP_DigestInit_ex(u->sha, EVP_sha256(), NULL))
		return -ENOMEM;
	return 0;
}

static void drop_staging(struct upload *u)
{
	if (u->fd >= 0) {
		close(u->fd);
		if (u->staged[0])
			unlink(u->staged);
		u->fd = -1;
	}
}

/* Makes the upload dirty, copying the committed bytes if it had any. */
static int make_dirty(struct upload *u)
{
	int rc;

	if (u->dirty)
		return 0;
	rc = start_staging(u);
	if (rc)
		return rc;
	if (u->need_copy && u->size > 0) {
		loff_t in = 0, out = 0;
		int64_t left = u->size;
		while (left > 0) {
			ssize_t n = copy_file_range(u->base, &in, u->fd, &out,
						    (size_t)left, 0);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0) {
				rc = n < 0 ? -errno : -EIO;
				drop_staging(u);
				u->dirty = 0;
				return rc;
			}
			left -= n;
		}
		u->rehash = 1;
	}
	u->need_copy = 0;
	return 0;
}

int upload_get(struct upload_table *t, const be_node *n, int trunc,
	       struct upload **out)
{
	struct upload *u, **p;
	int rc = 0;

	*out = NULL;
	pthread_mutex_lock(&t->lock);
	p = slot(t, n->ino);
	u = *p;
	if (u) {
		u->refs++;
		pthread_mutex_unlock(&t->lock);
		if (trunc)
			rc = upload_truncate(u, 0);
		if (rc) {
			upload_release(t, u);
			return rc;
		}
		*out = u;
		return 0;
	}
	u = calloc(1, sizeof(*u));
	if (!u || !(u->sha = EVP_MD_CTX_new())) {
		free(u);
		pthread_mutex_unlock(&t->lock);
		return -ENOMEM;
	}
	pthread_mutex_init(&u->lock, NULL);
	u->ino = n->ino;
	u->refs = 1;
	u->t = t;
	u->fd = -1;
	u->base = -1;
	if (!trunc && n->has_sha) {
		u->base = t->be->ops->node_open(t->be, n);
		if (u->base < 0)
			rc = u->base;
		u->size = n->size;
		u->need_copy = 1;
	}
	/* A file without committed bytes (just created) must be committed
	 * even if nothing is written: an empty file is a sample too. */
	if (!rc && (trunc || !n->has_sha))
		rc = start_staging(u);
	if (rc) {
		pthread_mutex_unlock(&t->lock);
		upload_free(u);
		return rc;
	}
	*p = u;
	pthread_mutex_unlock(&t->lock);
	*out = u;
	return 0;
}

void upload_release(struct upload_table *t, struct upload *u)
{
	struct upload **p;
	int last;

	if (!u)
		return;
	pthread_mutex_lock(&t->lock);
	last = --u->refs == 0;
	if (last) {
		p = slot(t, u->ino);
		if (*p == u)
			*p = u->next;
	}
	pthread_mutex_unlock(&t->lock);
	if (!last)
		return;
	if (u->dirty || u->werr) {
		/* Errors were reported already unless bytes were pending. */
		int pending = u->dirty;
		int rc = upload_commit(u, 0);
		if (rc && pending)
			log_error("upload of inode %lld discarded at release:"
				  " %s", (long long)u->ino, strerror(-rc));
	}
	upload_free(u);
}

ssize_t upload_write(struct upload *u, const void *buf, size_t size,
		     off_t off)
{
	ssize_t done = 0;
	int rc;

	pthread_mutex_lock(&u->lock);
	rc = u->werr ? u->werr : make_dirty(u);
	while (!rc && (size_t)done < size) {
		ssize_t n = pwrite(u->fd, (const char *)buf + done,
				   size - (size_t)done, off + done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			rc = -errno;
		else
			done += n;
	}
	if (done > 0) {
		if (!u->rehash && off == u->hashed) {
			EVP_DigestUpdate(u->sha, buf, (size_t)done);
			u->hashed += done;
		} else if (off < u->hashed || off > u->hashed) {
			u->rehash = 1;
		}
		if (off + done > u->size)
			u->size = off + done;
		u->mtime_ns = 0;
	}
	if (rc)
		u->werr = rc;   /* a short write is followed by this error */
	pthread_mutex_unlock(&u->lock);
	return done > 0 ? done : rc;
}

ssize_t upload_read(struct upload *u, void *buf, size_t size, off_t off)
{
	ssize_t n;
	int fd;

	pthread_mutex_lock(&u->lock);
	fd = u->dirty ? u->fd : u->base;
	if (fd < 0)
		n = 0;
	else if ((n = pread(fd, buf, size, off)) < 0)
		n = -errno;
	pthread_mutex_unlock(&u->lock);
	return n;
}

int upload_read_fd(struct upload *u)
{
	int fd;

	pthread_mutex_lock(&u->lock);
	fd = u->dirty ? u->fd : u->base;
	if (fd < 0)
		fd = -ENODATA;
	else if ((fd = fcntl(fd, F_DUPFD_CLOEXEC, 0)) < 0)
		fd = -errno;
	pthread_mutex_unlock(&u->lock);
	return fd;
}

int upload_truncate(struct upload *u, off_t size)
{
	int rc = 0;

	pthread_mutex_lock(&u->lock);
	if (size == 0 && (!u->dirty || u->fd >= 0)) {
		/* Nothing to keep: start over without copying. */
		drop_staging(u);
		u->dirty = 0;
		u->need_copy = 0;
		u->werr = 0;
		u->commit_failed = 0;
		rc = start_staging(u);
	} else {
		rc = u->werr ? u->werr : make_dirty(u);
		if (!rc && ftruncate(u->fd, size))
			rc = -errno;
		if (!rc && size != u->hashed)
			u->rehash = 1;
	}
	if (!rc)
		u->size = size;
	else
		u->werr = rc;
	pthread_mutex_unlock(&u->lock);
	return rc;
}

void upload_set_mtime(struct upload *u, int64_t mtime_ns)
{
	pthread_mutex_lock(&u->lock);
	u->mtime_ns = mtime_ns;
	pthread_mutex_unlock(&u->lock);
}

void upload_stat(struct upload *u, int64_t *size, int64_t *mtime_ns)
{
	pthread_mutex_lock(&u->lock);
	*size = u->size;
	if (u->mtime_ns)
		*mtime_ns = u->mtime_ns;
	pthread_mutex_unlock(&u->lock);
}

/* After a failed write or commit (u->werr set): back to the node's
 * committed bytes, or, for a node that has none (a new file), no node at
 * all. Called with u->lock held; the lookups and the removal go through the
 * backend like the commit. Between the lookup and the removal a rename
 * could move another file to the name: the removal checks it is still our
 * ino and still uncommitted. Nothing to do once done. */
static void discard(struct upload *u)
{
	struct backend *be = u->t->be;
	char text[STORE_NAME_MAX + 128];
	int staged = u->dirty || u->fd >= 0;
	be_node n, now;

	drop_staging(u);
	u->staged[0] = '\0';
	u->dirty = 0;
	u->rehash = 0;
	u->hashed = 0;
	if (!staged)
		return;
	if (u->base >= 0)
		close(u->base);
	u->base = -1;
	u->size = 0;
	u->need_copy = 0;
	if (be->ops->node_get(be, u->ino, &n) || n.kind != STORE_FILE)
		return;               /* gone meanwhile: nothing to return to */
	snprintf(text, sizeof(text), "upload of '%s' discarded: %s failed: %s",
		 n.name, u->commit_failed ? "its commit" : "a write",
		 strerror(-u->werr));
	be->ops->log_event(be, n.dataset, STORE_ERROR, text);
	if (n.has_sha) {
		u->base = be->ops->node_open(be, &n);
		if (u->base < 0)
			u->base = -1;
		u->size = n.size;
		u->need_copy = u->base >= 0;
		return;
	}
	if (be->ops->node_lookup(be, n.parent, n.name, &now) == 0 &&
	    now.ino == u->ino && !now.has_sha) {
		int rc = be->ops->node_remove(be, n.parent, n.name, 0);
		if (rc)
			log_error("failed upload '%s' (inode %lld) could not be"
				  " removed: %s", n.name, (long long)u->ino,
				  strerror(-rc));
	}
}

/* A commit failed with rc: the upload is failed from now on. */
static int fail_commit(struct upload *u, int rc)
{
	u->werr = rc;
	u->commit_failed = 1;
	discard(u);
	return rc;
}

int upload_commit(struct upload *u, int durable)
{
	unsigned char sha[STORE_SHA_LEN];
	struct backend *be = u->t->be;
	int rc = 0;

	pthread_mutex_lock(&u->lock);
	if (u->werr) {
		/* The staging bytes are not what was written: never commit. */
		rc = u->werr;
		discard(u);
		goto out;
	}
	if (!u->dirty)
		goto out;
	if (u->rehash || u->hashed != u->size) {
		rc = store_sha256_fd(u->fd, sha);
	} else {
		EVP_MD_CTX *copy = EVP_MD_CTX_new();
		/* Finalise a copy: the upload may go on after this commit. */
		if (!copy || !EVP_MD_CTX_copy_ex(copy, u->sha) ||
		    !EVP_DigestFinal_ex(copy, sha, NULL))
			rc = -ENOMEM;
		EVP_MD_CTX_free(copy);
	}
	if (rc) {
		fail_commit(u, rc);
		goto out;
	}
	rc = be->ops->node_commit(be, u->ino, u->fd, u->staged, sha, u->size,
				  u->mtime_ns, durable);
	if (rc) {
		/* The node keeps its previous content (or has none); the
		 * staging name is gone either way. */
		u->staged[0] = '\0';
		fail_commit(u, rc);
		goto out;
	}
	/* The staging name is gone. The fd now reads the committed blob:
	 * keep it as the base for reads. */
	if (u->base >= 0)
		close(u->base);
	u->base = u->fd;
	u->fd = -1;
	u->staged[0] = '\0';
	u->dirty = 0;
	u->need_copy = 1;
out:
	pthread_mutex_unlock(&u->lock);
	return rc;
}
