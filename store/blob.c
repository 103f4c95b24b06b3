/*
 * blob.c — the content-addressed blob store and the upload commit.
 *
 * A blob is an immutable file STORE/blobs/<first hex byte>/<sha256 hex>.
 * Uploads are written to a staging file by the layer above; commit links
 * the staging file to its blob name (or drops it when the blob is already
 * there: same name, same bytes) and points the node at the hash, both
 * under the write lock so that collection (unlink when no node references the
 * hash) cannot race with a commit of the same bytes.
 *
 * That holds because the link is made under the lock. The S3 engine's
 * finish runs outside it and may find the blob there and send nothing
 * (store/blobstore.h, invariant 3): before commits go through it, the
 * upload's hash must be recorded pending before finish and blob_collect
 * must spare pending hashes — today it does the opposite, it drops the
 * pending rows of a hash no node names (see blob_collect).
 *
 * This file is the catalog's side only. Every file operation on blobs and
 * staging (the blob path, a staging file, staging → blob by link(2), open
 * for reading, unlink, the staging wipe of recovery) is the local blob
 * engine's (store/blobs_local.c, store/blobstore.h), called with the
 * store's folder.
 *
 * Crash safety: the link happens before the catalog commit. A crash between
 * the two leaves an unreferenced blob, which blob_recover() collects at the
 * next owner's open; the node still names its previous blob, which was not
 * touched. Recovery runs only in the owner (store.h): another process may
 * be between the two steps of a commit, or writing a staging file.
 *
 * Full disk. Deleting a sample frees space only after the catalog has
 * recorded the delete, and SQLite needs room for that (WAL frames). So the
 * owner keeps STORE/reserve, STORE_RESERVE_BYTES preallocated (fallocate):
 * a delete whose catalog write fails with -ENOSPC unlinks the reserve and
 * retries once (store_node_remove); its blob's unlink then gives the space
 * back. Right after such a delete (and before every upload's staging file)
 * the reserve is allocated again, as far as the disk has room; while it is
 * not whole no new upload starts (-ENOSPC), so uploads cannot eat the room
 * the next delete needs. Uploads already under way may still fill the disk;
 * their writes fail, and a failed upload never becomes a sample (upload.c).
 * Other processes may fill the disk too: the reserve is what deletes have
 * then. One release gives room for many deletes (a delete writes a few WAL
 * pages, and each one frees its blob's space). Admin handles keep no
 * reserve.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "db.h"
#include "store/blobstore.h"

int64_t store_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void store_sha_hex(const unsigned char sha[STORE_SHA_LEN], char hex[65])
{
	s3_hex(sha, STORE_SHA_LEN, hex);
}

void blob_path(const store *st, const unsigned char *sha, char *buf,
	       size_t len)
{
	blobs_local_path(st->dir, sha, buf, len);
}

int store_sha256_fd(int fd, unsigned char sha[STORE_SHA_LEN])
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *buf = malloc(1 << 20);
	off_t off = 0;
	int rc = 0;

	if (!ctx || !buf || !EVP_DigestInit_ex(ctx, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	for (;;) {
		ssize_t r = pread(fd, buf, 1 << 20, off);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		EVP_DigestUpdate(ctx, buf, (size_t)r);
		off += r;
	}
	EVP_DigestFinal_ex(ctx, sha, NULL);
out:
	free(buf);
	EVP_MD_CTX_free(ctx);
	return rc;
}

int store_blob_open(store *st, const unsigned char sha[STORE_SHA_LEN])
{
	return blobs_local_open_fd(st->dir, sha);
}

/* The reserve grows in steps, so a disk with less room than the whole
 * reserve still gets what it has. */
#define RESERVE_STEP (256 << 10)

void blob_reserve_ensure(store *st)
{
	char path[STORE_PATH_MAX];
	int fd, rc = 0;

	if (st->mode != STORE_OPEN_OWNER)
		return;
	pthread_mutex_lock(&st->reserve_lock);
	if (!st->reserve_gone)
		goto out;
	snprintf(path, sizeof(path), "%s/reserve", st->dir);
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		rc = errno;
	/* Allocating blocks that are allocated already costs nothing; on
	 * ENOSPC the steps done so far stay (a partial reserve). */
	for (off_t off = 0; fd >= 0 && off < STORE_RESERVE_BYTES;
	     off += RESERVE_STEP) {
		rc = posix_fallocate(fd, off, RESERVE_STEP);
		if (rc)
			break;
	}
	if (fd >= 0)
		close(fd);
	st->reserve_gone = rc != 0;
	/* Only a lack of space stops uploads; a filesystem that cannot hold
	 * the file (read-only, ...) just has no reserve. */
	st->reserve_short = rc == ENOSPC || rc == EDQUOT;
out:
	pthread_mutex_unlock(&st->reserve_lock);
}

int blob_reserve_release(store *st)
{
	char path[STORE_PATH_MAX];
	int freed;

	if (st->mode != STORE_OPEN_OWNER)
		return 0;
	snprintf(path, sizeof(path), "%s/reserve", st->dir);
	pthread_mutex_lock(&st->reserve_lock);
	freed = unlink(path) == 0;
	st->reserve_gone = 1;
	pthread_mutex_unlock(&st->reserve_lock);
	return freed;
}

int store_staging_create(store *st, char *path, size_t len)
{
	int is_short;

	blob_reserve_ensure(st);
	pthread_mutex_lock(&st->reserve_lock);
	is_short = st->reserve_short;
	pthread_mutex_unlock(&st->reserve_lock);
	if (is_short)
		return -ENOSPC;   /* the room left is the next delete's */

	return blobs_local_stage(st->dir, path, len);
}

/* Runs cached statement q ("DELETE ... WHERE sha=?1") for sha. */
static void delete_by_sha(struct conn *c, enum q q, const unsigned char *sha)
{
	sql_stmt *s = db_stmt(c, q);

	if (!s)
		return;
	sql_bind_blob(s, 1, sha, STORE_SHA_LEN);
	sql_step(s);
	sql_reset(s);
}

/* Not safe for an engine that finishes outside the write lock (S3): a
 * hash only pending is collected here, its pending rows with it — see the
 * design comment above and store/blobstore.h, invariant 3. */
void blob_collect(struct conn *c, const unsigned char *sha)
{
	sql_stmt *s = db_stmt(c, Q_SHA_REF);

	if (!s)
		return;
	sql_bind_blob(s, 1, sha, STORE_SHA_LEN);
	int referenced = sql_step(s) == SQL_ROW;
	sql_reset(s);
	if (referenced)
		return;
	delete_by_sha(c, Q_FEAT_DEL, sha);   /* its cached features */
	blobs_local_unlink(c->st->dir, sha);
	thumbcache_forget(c->st, sha);  /* after the blob: see thumbs.c */
	kept_forget(c, sha);
	delete_by_sha(c, Q_GRANT_DEL, sha);  /* who sent it: moot now */
	delete_by_sha(c, Q_PENDING_DEL, sha);
}

static void drop_staged(const char *staged)
{
	blobs_local_unstage(staged);
}

int store_node_commit(store *st, int64_t ino, int fd, const char *staged,
		      const unsigned char sha[STORE_SHA_LEN], int64_t size,
		      int64_t mtime_ns, int durable)
{
	struct conn *c = db_conn(st);
	struct store_node old;
	int rc;

	if (!c) {
		drop_staged(staged);
		return -EIO;
	}
	if (durable && fsync(fd)) {
		rc = -errno;
		drop_staged(staged);
		return rc;
	}
	rc = db_begin(c);
	if (rc) {
		drop_staged(staged);
		return rc;
	}
	rc = store_node_get(st, ino, &old);
	if (rc == 0 && (old.kind != STORE_FILE || !old.tree_live))
		rc = -EROFS;
	if (rc) {
		/* Unlinked while open: the bytes go with it, as on any fs. */
		drop_staged(staged);
		rc = rc == -ENOENT ? 0 : rc;
		return db_end(c, rc);
	}
	/* the bytes were fsync'd above, outside the lock: the link fsyncs
	 * only the blob's folder */
	rc = blobs_local_link(st->dir, fd, staged, sha, durable);
	if (rc == 0)
		rc = db_node_set_content(c, ino, sha, size, mtime_ns);
	if (rc) {
		drop_staged(staged);
		blob_collect(c, sha);
		return db_end(c, rc);
	}
	rc = db_commit(c, durable);
	if (rc) {
		blob_collect(c, sha);
	} else if (old.has_sha && memcmp(old.sha, sha, STORE_SHA_LEN)) {
		blob_collect(c, old.sha);
	}
	db_unlock(c);
	return rc;
}

static int is_hex64(const char *s)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == 64;
}

/* Removes every staging file and every blob no node references. */
int blob_recover(struct conn *c)
{
	store *st = c->st;
	char path[STORE_PATH_MAX];
	struct dirent *de;
	DIR *d;
	int rc = blobs_local_sweep(st->dir, 0, NULL);   /* all of staging/ */

	if (rc)
		return rc;

	for (int b = 0; b < 256; b++) {
		snprintf(path, sizeof(path), "%s/%02x", st->blobdir, b);
		d = opendir(path);
		if (!d)
			return -errno;
		while ((de = readdir(d)) != NULL) {
			unsigned char sha[STORE_SHA_LEN];
			if (!is_hex64(de->d_name))
				continue;
			for (int i = 0; i < STORE_SHA_LEN; i++) {
				unsigned v;
				sscanf(de->d_name + 2 * i, "%2x", &v);
				sha[i] = (unsigned char)v;
			}
			blob_collect(c, sha);
		}
		closedir(d);
	}
	thumbcache_recover(st);
	return 0;
}
