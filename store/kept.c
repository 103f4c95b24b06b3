/*
 * kept.c — samples whose bytes the server does not hold (upload=meta and
 * upload=thumbnails, docs/api.md "Content").
 *
 *   kept(sha)                   -- the bytes of blob `sha` stay on the machine
 *                                  that uploaded them; nodes may name the hash
 *                                  without the blob file existing
 *   thumbs(sha, thumb, size)    -- blob `thumb` (a real blob, `size` bytes) is
 *                                  a downscaled copy of the image `sha`; one
 *                                  row per thumbnail sent, so each user who
 *                                  commits `sha` kept has his own
 *
 * Invariants. A node committed with store_node_commit_kept() names `sha`
 * whether or not STORE/blobs has it; readers ask store_blob_kept() to tell
 * "kept by the uploader" from "lost". A thumbnail blob counts as referenced
 * (blob_collect keeps it) while a node names its original; when the last node
 * naming the original goes, blob_collect calls kept_forget(), which drops the
 * rows and collects the thumbnails. If the same bytes later arrive whole (an
 * upload=full of the same file), the blob file simply exists and is served:
 * the kept row is then stale but harmless.
 *
 * Who may read what (store_blob_source). A node names a hash, and a kept
 * commit may name any hash at all, so naming is no right to read: a server
 * user's runs (the embedder) read only bytes that user has sent (the grants
 * of users.c), the original when granted, else a granted thumbnail. Whether
 * anyone else holds the bytes never changes the answer, nor the work done
 * to find it (one query). The embedded user (owner "") reads everything.
 * Thumbnails follow the grants too (store_thumb_get_for): a listing shows
 * a user only a thumbnail he sent, and one user's kept commit of a hash
 * adds his thumbnail beside another's instead of replacing it.
 *
 * Whether a blob exists is its engine's answer (blob_exists: a file, or the
 * S3 engine's read cache or a HEAD), never a path of the store's folder.
 *
 * Threads and locks: writes under the store's wlock, as everywhere in store/.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"

/* 1 if the blob of sha exists with `size` bytes, else 0 (its engine's
 * answer: a file's stat, or the read cache's or a HEAD). */
static int blob_has(store *st, const unsigned char *sha, int64_t size)
{
	int64_t n;

	return blob_exists(st, sha, &n) && n == size;
}

/* blob_has inside the write transaction of a row that will name sha: the
 * engine's answer, never a stale read cache (blob_exists_locked). */
static int blob_has_locked(struct conn *c, const unsigned char *sha,
			   int64_t size)
{
	int64_t n = -1;

	return blob_exists_locked(c, sha, &n) && n == size;
}

/* Runs sql with ?1 = a, ?2 = b (when b) and ?3 = n (when b and n >= 0). */
static int run1(struct conn *c, const char *sql, const unsigned char *a,
		const unsigned char *b, int64_t n)
{
	sql_stmt *s = db_prep(c, sql);
	int rc;

	if (!s)
		return -EIO;
	sql_bind_blob(s, 1, a, STORE_SHA_LEN);
	if (b)
		sql_bind_blob(s, 2, b, STORE_SHA_LEN);
	if (b && n >= 0)
		sql_bind_int64(s, 3, n);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	return rc;
}

int store_node_commit_kept(store *st, int64_t ino,
			   const unsigned char sha[STORE_SHA_LEN], int64_t size,
			   int64_t mtime_ns,
			   const unsigned char *thumb, int64_t thumb_size,
			   int durable)
{
	struct conn *c = db_conn(st);
	struct store_node old;
	int rc;

	if (!c)
		return -EIO;
	if (size < 0 || (thumb && thumb_size < 0))
		return -EINVAL;
	rc = db_begin(c);
	if (rc)
		return rc;
	rc = store_node_get(st, ino, &old);
	if (rc == 0 && (old.kind != STORE_FILE || !old.tree_live))
		rc = -EROFS;
	if (rc)          /* removed meanwhile: nothing to point at */
		return db_end(c, rc == -ENOENT ? 0 : rc);
	/* Under wlock, so the thumbnail cannot be collected before the
	 * thumbs row references it. */
	if (thumb && !blob_has_locked(c, thumb, thumb_size))
		rc = -EAGAIN;
	if (!rc)
		rc = run1(c, "INSERT INTO kept(sha) VALUES(?1)"
			  " ON CONFLICT(sha) DO NOTHING", sha, NULL, 0);
	/* a row of the same pair is replaced as a whole (delete, insert),
	 * so the insert triggers on thumbs (folder counters, pending rows)
	 * run as for a new one, as INSERT OR REPLACE did */
	if (!rc && thumb)
		rc = run1(c, "DELETE FROM thumbs WHERE sha=?1 AND thumb=?2",
			  sha, thumb, -1);
	if (!rc && thumb)
		rc = run1(c, "INSERT INTO thumbs(sha,thumb,size)"
			  " VALUES(?1,?2,?3)", sha, thumb, thumb_size);
	/* features are cached by the hash of the bytes read (the thumbnail's,
	 * here), so nothing cached goes stale */
	if (!rc)
		rc = db_node_set_content(c, ino, sha, size, mtime_ns);
	if (rc)
		return db_end(c, rc);
	rc = db_commit(c, durable);
	if (!rc && old.has_sha && memcmp(old.sha, sha, STORE_SHA_LEN))
		blob_collect_after(c, old.sha);
	db_unlock(c);
	return rc;
}

int store_blob_kept(store *st, const unsigned char sha[STORE_SHA_LEN])
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int r;

	if (!c || !(s = db_prep(c, "SELECT 1 FROM kept WHERE sha=?1")))
		return -EIO;
	sql_bind_blob(s, 1, sha, STORE_SHA_LEN);
	r = sql_step(s);
	sql_finalize(s);
	if (r == SQL_ROW)
		return 1;
	return r == SQL_DONE ? 0 : db_err(r);
}

/* Steps s (bound; columns thumb, size) once into thumb/size and finalizes
 * it: 0, -ENOENT when there is no row, or -errno. */
static int thumb_row(sql_stmt *s, unsigned char thumb[STORE_SHA_LEN],
		     int64_t *size)
{
	int r = sql_step(s), rc = -ENOENT;

	if (r == SQL_ROW &&
	    sql_col_bytes(s, 0) == STORE_SHA_LEN) {
		memcpy(thumb, sql_col_blob(s, 0), STORE_SHA_LEN);
		*size = sql_col_int64(s, 1);
		rc = 0;
	} else if (r != SQL_ROW && r != SQL_DONE) {
		rc = db_err(r);
	}
	sql_finalize(s);
	return rc;
}

int store_thumb_get(store *st, const unsigned char sha[STORE_SHA_LEN],
		    unsigned char thumb[STORE_SHA_LEN], int64_t *size)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;

	if (!c || !(s = db_prep(c, "SELECT thumb, size FROM thumbs"
			     " WHERE sha=?1 ORDER BY thumb LIMIT 1")))
		return -EIO;
	sql_bind_blob(s, 1, sha, STORE_SHA_LEN);
	return thumb_row(s, thumb, size);
}

int store_blob_source(store *st, const char *owner,
		      const unsigned char sha[STORE_SHA_LEN],
		      unsigned char src[STORE_SHA_LEN])
{
	struct conn *c = db_conn(st);
	unsigned char thumb[STORE_SHA_LEN];
	sql_stmt *s;
	int64_t size;
	int r, rc = -ENOENT;

	if (!c)
		return -EIO;
	if (!owner[0]) {                     /* embedded: the one local user */
		if (blob_exists(st, sha, NULL)) {
			memcpy(src, sha, STORE_SHA_LEN);
			return 0;
		}
		r = store_thumb_get(st, sha, thumb, &size);
		if (r)
			return r;
		if (!blob_has(st, thumb, size))
			return -ENOENT;
		memcpy(src, thumb, STORE_SHA_LEN);
		return 0;
	}
	/* The original if granted, else a thumbnail of it if granted: the
	 * same single query whether anyone else has the bytes or not (no
	 * oracle). Only then the disk, for this user's own grants: a grant
	 * whose blob is gone (collected meanwhile) reads as not there. */
	if (!(s = db_stmt(c, Q_BLOB_SOURCE)))   /* cached: a hot path */
		return -EIO;
	db_bind_str(s, 1, owner);
	sql_bind_blob(s, 2, sha, STORE_SHA_LEN);
	while ((r = sql_step(s)) == SQL_ROW) {
		if (sql_col_bytes(s, 1) != STORE_SHA_LEN)
			continue;
		if (blob_exists(st, sql_col_blob(s, 1), NULL)) {
			memcpy(src, sql_col_blob(s, 1), STORE_SHA_LEN);
			rc = 0;
			break;
		}
	}
	if (r != SQL_ROW && r != SQL_DONE)
		rc = db_err(r);
	sql_reset(s);
	return rc;
}

int store_thumb_get_for(store *st, const char *user,
			const unsigned char sha[STORE_SHA_LEN],
			unsigned char thumb[STORE_SHA_LEN], int64_t *size)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;

	if (!user[0])
		return store_thumb_get(st, sha, thumb, size);
	if (!c || !(s = db_prep(c, "SELECT t.thumb, t.size FROM thumbs t"
			     " JOIN grants g ON g.sha=t.thumb AND g.\"user\"=?2"
			     " WHERE t.sha=?1")))
		return -EIO;
	sql_bind_blob(s, 1, sha, STORE_SHA_LEN);
	db_bind_str(s, 2, user);
	return thumb_row(s, thumb, size);
}

void kept_forget(struct conn *c, const unsigned char *sha)
{
	unsigned char thumb[STORE_SHA_LEN];
	int64_t size;

	run1(c, "DELETE FROM kept WHERE sha=?1", sha, NULL, 0);
	/* each user's thumbnail: one row at a time, each row deleted before
	 * its blob is collected (else the row would keep it referenced) */
	while (store_thumb_get(c->st, sha, thumb, &size) == 0) {
		if (run1(c, "DELETE FROM thumbs WHERE sha=?1 AND thumb=?2",
			 sha, thumb, -1))
			break;
		blob_collect(c, thumb);
	}
}
