/*
 * blob.c — the content-addressed blob store and the upload commit: the
 * catalog's side of the bytes. Which bytes exist, and where, is the blob
 * engine's (store/blobstore.h): the store holds one (st->blobs), chosen at
 * open (store_open_engines: the local directory by default, or S3), and
 * drives it through one table of its own (struct blob_eng, db.h) — this
 * file's blob_eng_local over the store's folder, blobs_cache.c's
 * blob_eng_remote for an engine without files. Nothing below asks which
 * engine it is; the table decides.
 *
 * Local engine (the embedded mount, a single server's default). A blob is
 * an immutable file STORE/blobs/<first hex byte>/<sha256 hex>. Uploads are
 * written to a staging file by the layer above (at random offsets: the
 * mount's writes, the server's body); commit links the staging file to its
 * blob name (or drops it when the blob is already there: same name, same
 * bytes) and points the node at the hash, both under the write lock so
 * that collection (unlink when no node references the hash) cannot race
 * with a commit of the same bytes. Its fast paths stay what they were:
 * O_TMPFILE staging, one link(2) under the lock, no extra round trip.
 *
 * Remote engine (S3). The bytes cannot be linked under the lock: they
 * travel for milliseconds to minutes. Two ways in. A server's PUT body
 * comes in order: it is streamed into the engine as it arrives
 * (store_blob_stream_*: parts of a multipart upload under staging/ while
 * the body still comes, hashed by the engine) and also written to a local
 * staging file, which becomes the read cache's copy. The mount's writes
 * (and a commit of bytes the server already has) come at random offsets
 * or before anyone knows the hash, and S3 has no random-offset writes:
 * they land in a local staging file, which is then streamed into the
 * engine (blobs_write, hashed again on the way, multipart when large).
 * Either way the order is: (1) record the hash pending, in its own write
 * transaction (store_blob_put's grant + pending row; blob_pending_mark for
 * a node commit); (2) finish the engine's upload, outside any lock (it
 * checks the hash, and finds a blob already there and sends nothing
 * more); (3) the transaction naming the hash. blob_collect spares a hash that has a pending row, so a collection
 * cannot remove, between (2) and (3), the blob (2) found or wrote;
 * pending rows go when a node names the hash (schema triggers) or when the
 * sweep (users.c) ends them after the grace. The staging file is then
 * kept as the read cache's copy of the blob (blobs_cache.c), so the
 * commit and the first reads after an upload cost no GET.
 *
 * A server's upload is a PUT (store_blob_put: (1) with the user's pending
 * row, then (2)) and a commit naming the hash, its bytes from the read
 * cache. That commit skips its own (1) and (2) — a transaction and a HEAD,
 * most of an S3 upload's time on one writer — when this process finished
 * (2) for the put (blob_sent_note) and the put's pending row is still
 * there, with the same put time, inside the commit's transaction: a row
 * there since before the blob was, collection spares, so the blob is still
 * there; the cache alone cannot say so (another server may have collected
 * it). Any doubt (the row swept, named, rewritten; no note): the long way.
 *
 * Collection after a commit runs in a transaction of its own
 * (blob_collect_after): on PostgreSQL a write transaction holds the
 * catalog's advisory lock, so "no node names it, no row pending" and the
 * removal are not interleaved with another server's (1) above; the
 * process's write lock alone would only keep its own threads out.
 *
 * Crash safety: the link (or the send) happens before the catalog commit.
 * A crash between the two leaves an unreferenced blob: local, the next
 * owner's open collects it (blob_recover); remote, the pending row
 * recorded in (1) makes the sweep collect it after the grace. The node
 * still names its previous blob, which was not touched. Recovery runs only
 * in the owner (store.h): another process may be between the two steps of
 * a commit, or writing a staging file. What a crash leaves in the remote
 * engine's staging area goes with the server's periodic sweep
 * (store_blob_engine_sweep).
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
	return st->eng->open_fd(st, sha);
}

int blob_exists(store *st, const unsigned char *sha, int64_t *size)
{
	return st->eng->stat(st, sha, size) == 0;
}

int store_blob_url(store *st, const unsigned char sha[STORE_SHA_LEN],
		   unsigned ttl_s, char *url, size_t len)
{
	int rc = blobs_presign(st->blobs, sha, ttl_s, url, len);

	if (rc == -ENOTSUP) {       /* files: the server sends the bytes */
		if (url && len)
			url[0] = '\0';
		return 0;
	}
	return rc ? rc : 1;
}

int store_blob_engine_sweep(store *st, int64_t age_s, unsigned *removed)
{
	if (removed)
		*removed = 0;
	return st->eng->sweep ? st->eng->sweep(st, age_s, removed) : 0;
}

const char *store_blob_engine(const store *st)
{
	return blobs_engine(st->blobs);
}

const char *store_blob_engine_error(void)
{
	return blobs_last_error();
}

int store_blob_stream_begin(store *st, struct blob_upload **out)
{
	*out = NULL;
	return st->eng->finish ? blobs_begin(st->blobs, out) : 0;
}

int store_blob_stream_write(struct blob_upload *u, const void *buf,
			    size_t len)
{
	return blobs_write(u, buf, len);
}

void store_blob_stream_abort(struct blob_upload *u)
{
	blobs_abort(u);
}

/* ---- the local engine's table: files in the store's folder ---- */

static int local_open_fd(store *st, const unsigned char *sha)
{
	return blobs_local_open_fd(st->dir, sha);
}

static int local_stat(store *st, const unsigned char *sha, int64_t *size)
{
	char path[STORE_PATH_MAX];
	struct stat sb;

	blobs_local_path(st->dir, sha, path, sizeof(path));
	if (stat(path, &sb))
		return -errno;
	if (size)
		*size = sb.st_size;
	return 0;
}

static int local_link(store *st, int fd, const char *staged,
		      const unsigned char *sha, int durable)
{
	return blobs_local_link(st->dir, fd, staged, sha, durable);
}

static int local_remove(store *st, const unsigned char *sha)
{
	return blobs_local_unlink(st->dir, sha);
}

static int local_recover(struct conn *c);

const struct blob_eng blob_eng_local = {
	.name = "local", .open_fd = local_open_fd, .stat = local_stat,
	.send = NULL, .finish = NULL, .link = local_link,
	.remove = local_remove,
	.recover = local_recover, .sweep = NULL,
};

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

/* Removes the blob of sha and what hangs on it, unless a node names it or
 * an upload has it pending: a pending hash is one whose bytes an upload is
 * sending or has sent and whose node is not committed yet (the design
 * comment at the top); its pending rows end with a commit naming it
 * (schema triggers) or with the sweep, which calls this again. */
static void collect(struct conn *c, const unsigned char *sha,
		    int spare_pending)
{
	sql_stmt *s = db_stmt(c, Q_SHA_REF);

	if (!s)
		return;
	sql_bind_blob(s, 1, sha, STORE_SHA_LEN);
	int referenced = sql_step(s) == SQL_ROW;
	sql_reset(s);
	if (referenced)
		return;
	if (spare_pending) {
		if (!(s = db_stmt(c, Q_PENDING_ANY)))
			return;
		sql_bind_blob(s, 1, sha, STORE_SHA_LEN);
		referenced = sql_step(s) != SQL_DONE;   /* a row, or unsure */
		sql_reset(s);
		if (referenced)
			return;
	} else {
		delete_by_sha(c, Q_PENDING_DEL, sha);
	}
	delete_by_sha(c, Q_FEAT_DEL, sha);   /* its cached features */
	c->st->eng->remove(c->st, sha);
	thumbcache_forget(c->st, sha);  /* after the blob: see thumbs.c */
	kept_forget(c, sha);
	delete_by_sha(c, Q_GRANT_DEL, sha);  /* who sent it: moot now */
}

void blob_collect(struct conn *c, const unsigned char *sha)
{
	collect(c, sha, 1);
}

void blob_collect_after(struct conn *c, const unsigned char *sha)
{
	if (c->db->eng->begin(c->db))
		return;        /* left for the sweep or the next open */
	blob_collect(c, sha);
	if (c->db->eng->commit(c->db))
		c->db->eng->rollback(c->db);
}

int blob_pending_mark(store *st, const char *user, const unsigned char *sha,
		      int64_t size)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	if ((rc = db_begin(c)))
		return rc;
	s = db_prep(c, "INSERT INTO pending(\"user\", sha, size, put)"
		    " VALUES(?1,?2,?3,?4) ON CONFLICT(\"user\", sha)"
		    " DO UPDATE SET size=excluded.size, put=excluded.put");
	if (!s)
		return db_end(c, -EIO);
	db_bind_str(s, 1, user);
	sql_bind_blob(s, 2, sha, STORE_SHA_LEN);
	sql_bind_int64(s, 3, size);
	sql_bind_int64(s, 4, store_now_ns());
	rc = db_err(sql_step(s));
	sql_finalize(s);
	return db_end(c, rc);
}

static void drop_staged(const char *staged)
{
	blobs_local_unstage(staged);
}

void blob_sent_note(store *st, const char *user, const unsigned char *sha,
		    int64_t put)
{
	struct blob_sent *n;

	if (!st->eng->send || !user || put == 0 ||
	    strlen(user) >= sizeof n->user)
		return;
	pthread_mutex_lock(&st->sent_lock);
	n = &st->sent[st->sent_next++ % (sizeof st->sent / sizeof *n)];
	memcpy(n->sha, sha, STORE_SHA_LEN);
	snprintf(n->user, sizeof n->user, "%s", user);
	n->put = put;
	pthread_mutex_unlock(&st->sent_lock);
}

/* The newest note of sha (blob_sent_note) into *out: 1, or 0 when none. */
static int sent_find(store *st, const unsigned char *sha,
		     struct blob_sent *out)
{
	const unsigned nmax = sizeof st->sent / sizeof *st->sent;
	int found = 0;

	pthread_mutex_lock(&st->sent_lock);
	for (unsigned i = 1; i <= nmax && !found; i++) {
		const struct blob_sent *n =
			&st->sent[(st->sent_next - i) % nmax];

		if (n->put && !memcmp(n->sha, sha, STORE_SHA_LEN)) {
			*out = *n;
			found = 1;
		}
	}
	pthread_mutex_unlock(&st->sent_lock);
	return found;
}

/* Inside the commit's write transaction: is the blob of a note (sent_find)
 * surely still in the engine? The note's pending row, unchanged (the same
 * put time), has been there since before the engine held the blob, and
 * collection spares a hash with a pending row (collect): so nothing has
 * removed it, and the node this transaction points at it keeps it from now
 * on. A row the sweep ended, or a node's commit cleared, or a later put
 * rewrote: not sure (0), the caller marks and looks. 1 (the blob's size
 * into *size, may be NULL), 0 or -errno. */
static int sent_still_pending(struct conn *c, const struct blob_sent *n,
			      int64_t *size)
{
	sql_stmt *s = db_stmt(c, Q_PENDING_SAME);
	int r;

	if (!s)
		return -EIO;
	db_bind_str(s, 1, n->user);
	sql_bind_blob(s, 2, n->sha, STORE_SHA_LEN);
	sql_bind_int64(s, 3, n->put);
	r = sql_step(s);
	if (r == SQL_ROW && size)
		*size = sql_col_int64(s, 0);
	sql_reset(s);
	return r == SQL_ROW ? 1 : r == SQL_DONE ? 0 : db_err(r);
}

int blob_exists_locked(struct conn *c, const unsigned char *sha,
		       int64_t *size)
{
	store *st = c->st;
	struct blob_sent n;
	uint64_t got = 0;
	int rc;

	if (!st->eng->send)          /* files: the stat is the answer */
		return blob_exists(st, sha, size);
	if (sent_find(st, sha, &n) && sent_still_pending(c, &n, size) == 1)
		return 1;
	/* the engine itself, not the read cache: another server may have
	 * collected the blob since this one cached it */
	rc = blobs_stat(st->blobs, sha, &got);
	if (!rc && size)
		*size = (int64_t)got;
	return rc == 0;
}

int store_node_commit(store *st, int64_t ino, int fd, const char *staged,
		      const unsigned char sha[STORE_SHA_LEN], int64_t size,
		      int64_t mtime_ns, int durable)
{
	struct conn *c = db_conn(st);
	const struct blob_eng *e = st->eng;
	struct store_node old;
	struct blob_sent sent;
	int rc, noted;

	if (!c) {
		drop_staged(staged);
		return -EIO;
	}
	if (durable && fsync(fd)) {
		rc = -errno;
		drop_staged(staged);
		return rc;
	}
	/* a blob this process sent moments ago (the server's PUT, then this
	 * commit): checked inside the transaction below instead
	 * (sent_still_pending), no round trip to the engine */
	noted = e->send && sent_find(st, sha, &sent);
again:
	/* bytes that travel outside the lock: pending first (the node's
	 * owner is not known here: the row is the store's own, user ""),
	 * then sent; the commit below names them */
	if (e->send && !noted &&
	    ((rc = blob_pending_mark(st, "", sha, size)) ||
	     (rc = e->send(st, fd, staged, sha, durable)))) {
		drop_staged(staged);
		return rc;
	}
	rc = db_begin(c);
	if (rc) {
		drop_staged(staged);
		return rc;
	}
	if (noted && (rc = sent_still_pending(c, &sent, NULL)) != 1) {
		db_end(c, -EAGAIN);         /* nothing written: roll back */
		if (rc < 0) {
			drop_staged(staged);
			return rc;
		}
		noted = 0;                  /* not sure: the long way */
		goto again;
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
	rc = e->link(st, fd, staged, sha, durable);
	if (rc == 0)
		rc = db_node_set_content(c, ino, sha, size, mtime_ns);
	if (rc) {
		drop_staged(staged);
		blob_collect(c, sha);
		return db_end(c, rc);
	}
	rc = db_commit(c, durable);
	if (rc) {
		blob_collect_after(c, sha);
	} else if (old.has_sha && memcmp(old.sha, sha, STORE_SHA_LEN)) {
		blob_collect_after(c, old.sha);
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

/* The owner's open: what a crash left, as far as the engine keeps it. */
int blob_recover(struct conn *c)
{
	return c->st->eng->recover ? c->st->eng->recover(c) : 0;
}

/* Removes every staging file and every blob no node references. */
static int local_recover(struct conn *c)
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
			/* at the owner's open no upload is under way: a
			 * pending row is one a crash or a restart cut off,
			 * whose client sends its bytes again */
			collect(c, sha, 0);
		}
		closedir(d);
	}
	thumbcache_recover(st);
	return 0;
}
