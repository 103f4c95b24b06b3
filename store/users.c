/*
 * users.c — what server mode adds to the store: users and their API tokens,
 * a paged listing of a directory and its change counter (ETags), and blobs
 * uploaded ahead of the node that will reference them (the HTTP API's
 * PUT /v1/blobs/{sha}).
 *
 * Tokens: "svf_" + 64 hex digits from getrandom() (256 bits). The catalog
 * keeps only SHA-256(token) (tokens.hash, UNIQUE), so a stolen catalog does
 * not hold usable tokens. A check hashes the presented token, finds the row
 * by hash and compares the hashes again with CRYPTO_memcmp (the index lookup
 * is on a hash of a 256-bit secret, so it leaks nothing useful; the constant
 * time compare is the belt to those braces). Revoked tokens stay listed;
 * revoking one deletes the web sessions it made (sessions.c).
 *
 * A token has a name (the app's preferences list them; untrusted text: at
 * most 64 bytes of UTF-8, no control characters) and the time of its last
 * use. That time is written when a token (or a session it made) passes a
 * check and the recorded time is a minute old or more, in its own short
 * transaction, with the old value in the WHERE clause so two threads
 * checking at once write once: a client busy for an hour writes the
 * catalog 60 times, not once per request.
 *
 * Blob put takes the store's write lock around the rename/link, the same
 * lock under which blob_collect() decides a blob is unreferenced, so a put
 * and a collection of the same hash never interleave.
 *
 * Pending blobs. A verified PUT by a user (store_blob_put) records, in the
 * same write transaction as the link of its file, the grant and a row
 * pending(user, sha, size, put time) unless a node names the hash already.
 * Triggers on nodes and thumbs (schema_sqlite.c) delete the rows of a hash
 * as soon as something names it, and blob_collect deletes them with the blob;
 * so the rows are exactly the uploads nobody has committed, and the server's
 * cap (store_blob_pending) is one indexed sum, not a walk of the grants. The
 * sweep (store_blob_sweep) takes the rows older than the grace (index on
 * put) in pages, and for each one, in its own write transaction, deletes
 * the row if it is still that old (a PUT again renews it, under the same
 * lock) and collects the blob if no other user's row keeps it pending.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "db.h"
#include "store/blobstore.h"

#define TOKEN_PREFIX "svf_"

int store_user_valid(const char *name)
{
	size_t n;

	if (!name || !name[0])
		return 0;
	for (n = 0; name[n]; n++) {
		char c = name[n];
		int alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			    (c >= '0' && c <= '9');
		if (!alnum && (n == 0 || (c != '.' && c != '_' && c != '-')))
			return 0;
	}
	return n <= STORE_USER_MAX;
}

int store_token_format_ok(const char *token)
{
	size_t plen = strlen(TOKEN_PREFIX);

	if (!token || strlen(token) != STORE_TOKEN_LEN ||
	    strncmp(token, TOKEN_PREFIX, plen))
		return 0;
	for (const char *p = token + plen; *p; p++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return 0;
	return 1;
}

void store_token_hash(const char *token, unsigned char out[STORE_SHA_LEN])
{
	unsigned int len = 0;

	EVP_Digest(token, strlen(token), out, &len, EVP_sha256(), NULL);
}

int store_hash_equal(const unsigned char a[STORE_SHA_LEN],
		     const unsigned char b[STORE_SHA_LEN])
{
	return CRYPTO_memcmp(a, b, STORE_SHA_LEN) == 0;
}

int store_token_name_valid(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t n = strlen(name);

	if (n > STORE_TOKEN_NAME_MAX)
		return 0;
	while (*p) {
		unsigned c = *p, need, cp;
		if (c < 0x20 || c == 0x7f)
			return 0;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			need = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			need = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			need = 3, cp = c & 0x07;
		else
			return 0;
		for (unsigned i = 1; i <= need; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		/* overlong 3/4-byte forms, surrogates, past U+10FFFF, and the
		 * C1 controls (U+0080..U+009F) */
		if ((need == 2 && (cp < 0x800 || (cp >= 0xd800 &&
						  cp <= 0xdfff))) ||
		    (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (need == 1 && cp < 0xa0))
			return 0;
		p += need + 1;
	}
	return 1;
}

int store_token_create(store *st, const char *user, char *token, int64_t *id)
{
	return store_token_create_named(st, user, NULL, token, id);
}

int store_token_create_named(store *st, const char *user, const char *name,
			     char *token, int64_t *id)
{
	struct conn *c = db_conn(st);
	unsigned char rnd[32], hash[STORE_SHA_LEN];
	sql_stmt *s = NULL;
	int64_t now = store_now_ns();
	char hex[65];
	int rc;

	if (!name)
		name = "";
	if (!store_user_valid(user) || !store_token_name_valid(name))
		return -EINVAL;
	if (!c)
		return -EIO;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	store_sha_hex(rnd, hex);     /* 32 bytes → 64 hex digits */
	snprintf(token, STORE_TOKEN_LEN + 1, TOKEN_PREFIX "%s", hex);
	store_token_hash(token, hash);
	rc = db_begin(c);
	if (rc)
		return rc;
	s = db_prep(c, "INSERT INTO users(name, created)"
		    " VALUES(?1, ?2) ON CONFLICT(name) DO NOTHING");
	if (!s)
		rc = -EIO;
	if (!rc) {
		db_bind_str(s, 1, user);
		sql_bind_int64(s, 2, now);
		rc = db_err(sql_step(s));
		sql_finalize(s);
		s = db_prep(c, "INSERT INTO tokens(\"user\", hash, created, name)"
			    " VALUES(?1, ?2, ?3, ?4) RETURNING id");
		if (!s)
			rc = -EIO;
	}
	if (!rc) {
		db_bind_str(s, 1, user);
		sql_bind_blob(s, 2, hash, STORE_SHA_LEN);
		sql_bind_int64(s, 3, now);
		db_bind_str(s, 4, name);
		int64_t tid = 0;
		rc = db_insert_id(s, &tid);
		if (!rc && id)
			*id = tid;
	}
	sql_finalize(s);
	OPENSSL_cleanse(rnd, sizeof(rnd));
	OPENSSL_cleanse(hex, sizeof(hex));
	rc = db_end(c, rc);
	if (rc)
		OPENSSL_cleanse(token, STORE_TOKEN_LEN + 1);
	return rc;
}

static void token_row(sql_stmt *s, void *out)
{
	struct store_token *t = out;
	const char *u = sql_col_text(s, 1);

	t->id = sql_col_int64(s, 0);
	snprintf(t->user, sizeof(t->user), "%s", u);
	t->created_ns = sql_col_int64(s, 2);
	t->revoked = (int)sql_col_int64(s, 3) != 0;
	u = sql_col_text(s, 4);
	snprintf(t->name, sizeof(t->name), "%s", u);
	t->last_used_ns = sql_col_int64(s, 5);
}

#define TOKEN_COLS "id, \"user\", created, revoked, name, last_used"

int store_token_list(store *st, struct store_token **out, size_t *n)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	if (!c || !(s = db_prep(c, "SELECT " TOKEN_COLS
			     " FROM tokens ORDER BY id")))
		return -EIO;
	rc = db_rows(s, sizeof(**out), token_row, (void **)out, n);
	sql_finalize(s);
	return rc;
}

int store_token_list_user(store *st, const char *user,
			  struct store_token **out, size_t *n)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	if (!c || !(s = db_prep(c, "SELECT " TOKEN_COLS " FROM tokens"
			     " WHERE \"user\"=?1 AND revoked=0 ORDER BY id DESC")))
		return -EIO;
	db_bind_str(s, 1, user);
	rc = db_rows(s, sizeof(**out), token_row, (void **)out, n);
	sql_finalize(s);
	return rc;
}

int users_token_touch(struct conn *c, int64_t id, int64_t last)
{
	int64_t now = store_now_ns();
	sql_stmt *s;
	int rc;

	if (last > 0 && now - last < STORE_TOKEN_TOUCH_NS && now >= last)
		return 0;
	rc = db_begin(c);
	if (rc)
		return rc;
	/* the old value in the WHERE: of two checks at once, one writes */
	s = db_prep(c, "UPDATE tokens SET last_used=?2 WHERE id=?1"
		    " AND last_used=?3");
	if (!s)
		return db_end(c, -EIO);
	sql_bind_int64(s, 1, id);
	sql_bind_int64(s, 2, now);
	sql_bind_int64(s, 3, last);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	return db_end(c, rc);
}

/* store_token_revoke, and with user set store_token_revoke_own: only an
 * unrevoked token of that user. */
static int token_revoke(store *st, const char *user, int64_t id)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	s = db_prep(c, "UPDATE tokens SET revoked=1 WHERE id=?1"
		    " AND (CAST(?2 AS TEXT) IS NULL OR (\"user\"=?2"
		    " AND revoked=0))");
	if (!s)
		return db_end(c, -EIO);
	sql_bind_int64(s, 1, id);
	db_bind_str(s, 2, user);   /* NULL: NULL */
	rc = db_err(sql_step(s));
	if (!rc && sql_changes(c->db) == 0)
		rc = -ENOENT;
	sql_finalize(s);
	if (!rc)
		rc = sessions_end_token(c, id);
	return db_end(c, rc);
}

int store_token_revoke(store *st, int64_t id)
{
	return token_revoke(st, NULL, id);
}

int store_token_revoke_own(store *st, const char *user, int64_t id)
{
	return token_revoke(st, user, id);
}

int users_hash_row(sql_stmt *s, const unsigned char *hash, char *user)
{
	const char *u;
	int rc = -EACCES, st;

	sql_bind_blob(s, 1, hash, STORE_SHA_LEN);
	st = sql_step(s);
	if (st < 0)
		return st;    /* the catalog failed: not a refused token */
	if (st == SQL_ROW &&
	    sql_col_bytes(s, 1) == STORE_SHA_LEN &&
	    store_hash_equal(sql_col_blob(s, 1), hash)) {
		u = sql_col_text(s, 0);
		snprintf(user, STORE_USER_MAX + 1, "%s",
			 u);
		rc = 0;
	}
	return rc;
}

int users_token_row(struct conn *c, const unsigned char *hash, char *user,
		    int64_t *id, int64_t *last)
{
	sql_stmt *s = db_stmt(c, Q_TOKEN_ROW);
	int rc;

	if (!s)
		return -EIO;
	rc = users_hash_row(s, hash, user);
	if (!rc && id)
		*id = sql_col_int64(s, 2);
	if (!rc && last)
		*last = sql_col_int64(s, 3);
	sql_reset(s);        /* no read transaction left open */
	return rc;
}

/* store_token_check, and with touch set store_token_auth. */
static int token_auth(store *st, const char *token, char *user, int64_t *id,
		      int touch)
{
	struct conn *c = db_conn(st);
	unsigned char hash[STORE_SHA_LEN];
	int64_t tid = 0, last = 0;
	int rc;

	if (!store_token_format_ok(token))
		return -EACCES;
	if (!c)
		return -EIO;
	store_token_hash(token, hash);
	rc = users_token_row(c, hash, user, &tid, &last);
	if (!rc && touch)
		users_token_touch(c, tid, last);   /* best effort */
	if (!rc && id)
		*id = tid;
	return rc;
}

int store_token_check(store *st, const char *token, char *user)
{
	return token_auth(st, token, user, NULL, 0);
}

int store_token_auth(store *st, const char *token, char *user, int64_t *id)
{
	return token_auth(st, token, user, id, 1);
}

int store_node_children_page(store *st, int64_t parent, const char *after,
			     size_t limit, struct store_node **out, size_t *n)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	/* (parent, name) is the nodes_dirent index: one range scan. */
	if (!c || !(s = db_prep(c, "SELECT " NODE_COLS
			     " FROM nodes n JOIN tags t ON t.id=n.tree"
			     " WHERE n.parent=?1 AND n.name>?2"
			     " ORDER BY n.name LIMIT ?3")))
		return -EIO;
	sql_bind_int64(s, 1, parent);
	db_bind_str(s, 2, after ? after : "");
	sql_bind_int64(s, 3, db_limit((int64_t)limit));
	rc = db_rows(s, sizeof(**out), db_node_row, (void **)out, n);
	sql_finalize(s);
	return rc;
}

int store_node_gen(store *st, int64_t ino, uint64_t *gen)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int r;

	*gen = 0;
	if (!c || !(s = db_stmt(c, Q_DIR_GEN)))
		return -EIO;
	sql_bind_int64(s, 1, ino);
	r = sql_step(s);
	if (r == SQL_ROW)
		*gen = (uint64_t)sql_col_int64(s, 0);
	sql_reset(s);
	return r == SQL_ROW || r == SQL_DONE ? 0 : db_err(r);
}

int store_node_owned_gen(store *st, const char *owner, int64_t ino,
			 struct store_node *out, uint64_t *gen)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int r, rc = -ENOENT;

	*gen = 0;
	/* one statement where a listing made three (node, its dataset's
	 * owner, the folder's counter): part "deploy", bench/scale */
	if (!c || !(s = db_prep(c, "SELECT " NODE_COLS ", d.owner,"
				" coalesce((SELECT g.gen FROM dirgen g"
				" WHERE g.ino=n.ino), 0)"
				" FROM nodes n JOIN tags t ON t.id=n.tree"
				" JOIN datasets d ON d.id=t.dataset"
				" WHERE n.ino=?1")))
		return -EIO;
	sql_bind_int64(s, 1, ino);
	r = sql_step(s);
	if (r == SQL_ROW && !strcmp(sql_col_text(s, NODE_NCOLS), owner)) {
		db_node_row(s, out);
		*gen = (uint64_t)sql_col_int64(s, NODE_NCOLS + 1);
		rc = 0;
	} else if (r < 0) {
		rc = r;
	}
	sql_finalize(s);
	return rc;
}

/* Records that `user` sent sha (size bytes): the grant, and the pending
 * row (its put time into *put, else 0) unless a node names it already and
 * !hold. Inside the caller's transaction.
 *
 * hold: an engine whose bytes travel after this transaction (S3). A node
 * naming the hash now may be gone, and the blob collected, before the
 * commit that names it again; the row keeps collection off it until then,
 * and lets that commit skip a transaction and a HEAD of its own
 * (blob_sent_note, store/blob.c): a re-sent file (the same bytes in
 * another dataset) costs what a new one does. The row ends as every
 * pending row does: with the commit naming the hash (schema triggers) or
 * with the sweep after the grace. The local engine links under this
 * transaction and needs no row for a named hash. */
static int record_put(struct conn *c, const char *user,
		      const unsigned char *sha, int64_t size, int hold,
		      int64_t *put)
{
	sql_stmt *s;
	int named = 0, rc;

	*put = 0;
	if (!hold) {           /* held: the row goes in either way */
		if (!(s = db_stmt(c, Q_SHA_REF)))
			return -EIO;
		sql_bind_blob(s, 1, sha, STORE_SHA_LEN);
		rc = sql_step(s);
		named = rc == SQL_ROW;
		sql_reset(s);
		if (rc != SQL_ROW && rc != SQL_DONE)
			return db_err(rc);
	}
	s = db_prep(c, "INSERT INTO grants(\"user\", sha) VALUES(?1,?2)"
		    " ON CONFLICT(\"user\", sha) DO NOTHING");
	if (!s)
		return -EIO;
	db_bind_str(s, 1, user);
	sql_bind_blob(s, 2, sha, STORE_SHA_LEN);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	if (rc || named)
		return rc;
	/* sent again: its grace starts again */
	s = db_prep(c, "INSERT INTO pending(\"user\", sha, size, put)"
		    " VALUES(?1,?2,?3,?4) ON CONFLICT(\"user\", sha)"
		    " DO UPDATE SET size=excluded.size, put=excluded.put");
	if (!s)
		return -EIO;
	db_bind_str(s, 1, user);
	sql_bind_blob(s, 2, sha, STORE_SHA_LEN);
	sql_bind_int64(s, 3, size);
	sql_bind_int64(s, 4, *put = store_now_ns());
	rc = db_err(sql_step(s));
	sql_finalize(s);
	return rc;
}

/* The upload cap's exact check, inside the put's write transaction
 * (which excludes every other writer of the catalog, from any server:
 * sql.h), so two servers cannot both admit the last bytes: 0 when the put
 * adds no bytes to keep (user holds a grant for sha already, or a node or
 * a thumbnail names it — on S3 such a put still leaves a pending row,
 * record_put's hold, which counts against the next put until the commit
 * naming the hash ends it) or the user's pending rows, with this one (size
 * bytes, replacing the user's own row of sha), stay within cap; -EDQUOT
 * when not; or
 * -errno. *count and *bytes: the user's pending rows before the put.
 * No row lock (SELECT … FOR UPDATE, which SQLite lacks) is needed while
 * sql_begin excludes every other writer; should write transactions ever
 * run side by side, this check must lock a row of the user's first
 * (an upsert of a per-user row, then this sum). */
static int cap_check(struct conn *c, const char *user,
		     const unsigned char *sha, int64_t size,
		     const struct store_cap *cap, size_t *count,
		     int64_t *bytes)
{
	sql_stmt *s = db_prep(c, "SELECT count(*), coalesce(sum(size), 0),"
		" coalesce(sum(CASE WHEN sha=?2 THEN size ELSE 0 END), 0),"
		" EXISTS (SELECT 1 FROM grants WHERE \"user\"=?1 AND sha=?2)"
		" OR EXISTS (SELECT 1 FROM nodes WHERE sha=?2)"
		" OR EXISTS (SELECT 1 FROM thumbs WHERE thumb=?2)"
		" FROM pending WHERE \"user\"=?1");
	int64_t mine = 0;
	int free_, r;

	if (!s)
		return -EIO;
	db_bind_str(s, 1, user);
	sql_bind_blob(s, 2, sha, STORE_SHA_LEN);
	r = sql_step(s);
	if (r == SQL_ROW) {
		*count = (size_t)sql_col_int64(s, 0);
		*bytes = sql_col_int64(s, 1);
		mine = sql_col_int64(s, 2);
		free_ = sql_col_int64(s, 3) != 0;
	}
	sql_finalize(s);
	if (r != SQL_ROW)
		return r < 0 ? r : -EIO;
	if (free_)
		return 0;
	if (mine == 0 && *count >= cap->count)
		return -EDQUOT;
	if (size < 0 || (uint64_t)(*bytes - mine) + (uint64_t)size > cap->bytes)
		return -EDQUOT;
	return 0;
}

int store_blob_put(store *st, int fd, const char *staged,
		   const unsigned char sha[STORE_SHA_LEN], const char *user)
{
	return store_blob_put_capped(st, fd, staged, NULL, sha, user, NULL,
				     NULL, NULL);
}

int store_blob_put_streamed(store *st, int fd, const char *staged,
			    struct blob_upload *u,
			    const unsigned char sha[STORE_SHA_LEN],
			    const char *user)
{
	return store_blob_put_capped(st, fd, staged, u, sha, user, NULL, NULL,
				     NULL);
}

int store_blob_put_capped(store *st, int fd, const char *staged,
			  struct blob_upload *u,
			  const unsigned char sha[STORE_SHA_LEN],
			  const char *user, const struct store_cap *cap,
			  size_t *count, int64_t *bytes)
{
	struct conn *c = db_conn(st);
	const struct blob_eng *e = st->eng;
	struct stat sb;
	size_t cnt = 0;
	int64_t sum = 0, put = 0;
	int rc, tries = 0;

	if (u && !e->finish) {          /* not this engine's: cannot be */
		blobs_abort(u);
		u = NULL;
	}
	if (fstat(fd, &sb)) {
		rc = -errno;
		goto fail;
	}
again:
	rc = c ? db_begin(c) : -EIO;      /* wlock: see blob_collect */
	if (rc)
		goto fail;
	/* before the bytes go anywhere: a refusal or a retry leaves
	 * nothing behind */
	if (cap && user)
		rc = cap_check(c, user, sha, (int64_t)sb.st_size, cap, &cnt,
			       &sum);
	if (rc) {
		rc = db_end(c, rc);
		if (rc == -EAGAIN && ++tries < SQL_TXN_TRIES)
			goto again;
		goto fail;
	}
	/* a local engine names the bytes under the lock; one whose bytes
	 * travel (S3, e->send) sends them after this transaction recorded
	 * them pending, so no collection takes what it finds or sends
	 * (blob.c) */
	if (!e->send)
		rc = e->link(st, fd, staged, sha, 0);
	if (!rc)
		rc = user ? record_put(c, user, sha, (int64_t)sb.st_size,
				       e->send != NULL, &put) :
		     e->send ? -EINVAL : 0;   /* nothing would keep it */
	/* A failure after the link leaves a blob nobody names and no row
	 * says is pending: the owner's next open collects it (blob.c). */
	rc = db_end(c, rc);
	if (u && !rc)                   /* streamed as it came: finish */
		rc = e->finish(st, u, fd, staged, sha);
	else if (u)
		blobs_abort(u);
	else if (!rc && e->send)
		rc = e->send(st, fd, staged, sha, 0);
	/* the commit that names it spares a look in the engine (blob.c) */
	if (!rc && e->send)
		blob_sent_note(st, user, sha, put);
	/* A failed send leaves the pending row: the sweep ends it after the
	 * grace (and collects what a cut send may have left). */
	blobs_local_unstage(staged);
	return rc;
fail:
	blobs_abort(u);
	blobs_local_unstage(staged);
	if (rc == -EDQUOT) {
		if (count)
			*count = cnt;
		if (bytes)
			*bytes = sum;
	}
	return rc;
}

int store_blob_grant(store *st, const char *user,
		     const unsigned char sha[STORE_SHA_LEN])
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	s = db_prep(c, "INSERT INTO grants(\"user\", sha) VALUES(?1,?2)"
		    " ON CONFLICT(\"user\", sha) DO NOTHING");
	if (!s)
		return db_end(c, -EIO);
	db_bind_str(s, 1, user);
	sql_bind_blob(s, 2, sha, STORE_SHA_LEN);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	return db_end(c, rc);
}

int store_blob_owned(store *st, const unsigned char sha[STORE_SHA_LEN],
		     const char *owner)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int r;

	if (!c || !(s = db_prep(c, "SELECT 1 FROM nodes n"
			     " JOIN tags t ON t.id=n.tree"
			     " JOIN datasets d ON d.id=t.dataset"
			     " WHERE d.owner=?2 AND n.sha=?1 LIMIT 1")))
		return -EIO;
	sql_bind_blob(s, 1, sha, STORE_SHA_LEN);
	db_bind_str(s, 2, owner);
	r = sql_step(s);
	sql_finalize(s);
	if (r == SQL_ROW)
		return 1;
	return r == SQL_DONE ? 0 : db_err(r);
}

int store_blob_granted(store *st, const char *user,
		       const unsigned char sha[STORE_SHA_LEN])
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int r;

	if (!c || !(s = db_stmt(c, Q_GRANT_GET)))
		return -EIO;
	db_bind_str(s, 1, user);
	sql_bind_blob(s, 2, sha, STORE_SHA_LEN);
	r = sql_step(s);
	sql_reset(s);
	if (r == SQL_ROW)
		return 1;
	return r == SQL_DONE ? 0 : db_err(r);
}

int store_blob_pending(store *st, const char *user, size_t *count,
		       int64_t *bytes)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int r;

	*count = 0;
	*bytes = 0;
	if (!c || !(s = db_prep(c, "SELECT count(*), coalesce(sum(size), 0)"
			     " FROM pending WHERE \"user\"=?1")))
		return -EIO;
	db_bind_str(s, 1, user);
	r = sql_step(s);
	if (r == SQL_ROW) {
		*count = (size_t)sql_col_int64(s, 0);
		*bytes = sql_col_int64(s, 1);
	}
	sql_finalize(s);
	return r == SQL_ROW ? 0 : db_err(r);
}

#define SWEEP_PAGE 256

/* 1 if statement s (?1 = sha) returns a row, 0 if not, or -errno. */
static int any_row(sql_stmt *s, const unsigned char *sha)
{
	int r;

	if (!s)
		return -EIO;
	sql_bind_blob(s, 1, sha, STORE_SHA_LEN);
	r = sql_step(s);
	sql_reset(s);
	return r == SQL_ROW ? 1 : r == SQL_DONE ? 0 : db_err(r);
}

/* Ends user's pending row of sha if it is still older than `before` (a PUT
 * may have renewed it), and collects the blob if no other row keeps it
 * pending and no node names it. One write transaction. 1 if a blob file
 * went (*size: its bytes), 0 if not, or -errno. */
static int sweep_one(struct conn *c, const char *user, const unsigned char *sha,
		     int64_t before, int64_t *size)
{
	sql_stmt *s;
	int64_t had_size = 0;
	int rc, had, gone = 0;

	*size = 0;
	rc = db_begin(c);
	if (rc)
		return rc;
	s = db_prep(c, "DELETE FROM pending WHERE \"user\"=?1 AND sha=?2"
		    " AND put<?3");
	if (!s)
		return db_end(c, -EIO);
	db_bind_str(s, 1, user);
	sql_bind_blob(s, 2, sha, STORE_SHA_LEN);
	sql_bind_int64(s, 3, before);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	if (rc || sql_changes(c->db) == 0)
		return db_end(c, rc);          /* renewed meanwhile */
	s = db_prep(c, "SELECT 1 FROM pending WHERE sha=?1");
	rc = any_row(s, sha);
	sql_finalize(s);
	if (rc == 0)
		rc = any_row(db_stmt(c, Q_SHA_REF), sha);
	if (rc == 0) {                     /* nobody's any more */
		had = blob_exists(c->st, sha, &had_size);
		blob_collect(c, sha);
		gone = had && !blob_exists(c->st, sha, NULL);
		*size = gone ? had_size : 0;
	}
	rc = db_end(c, rc < 0 ? rc : 0);
	return rc ? rc : gone;
}

int store_blob_sweep(store *st, int64_t grace_ns, size_t *removed,
		     int64_t *bytes)
{
	struct conn *c = db_conn(st);
	struct { char user[STORE_USER_MAX + 1]; unsigned char sha[STORE_SHA_LEN]; }
		*page = NULL;
	int64_t before = store_now_ns() - grace_ns, size, freed = 0;
	size_t n, gone = 0, done;
	int rc = 0, r;

	if (!c)
		return -EIO;
	page = malloc(SWEEP_PAGE * sizeof(*page));
	if (!page)
		return -ENOMEM;
	do {
		sql_stmt *s = db_prep(c, "SELECT \"user\", sha FROM pending"
					  " WHERE put<?1 ORDER BY put LIMIT ?2");
		if (!s) {
			rc = -EIO;
			break;
		}
		sql_bind_int64(s, 1, before);
		sql_bind_int64(s, 2, SWEEP_PAGE);
		n = 0;
		while ((r = sql_step(s)) == SQL_ROW) {
			const char *u = sql_col_text(s, 0);
			if (sql_col_bytes(s, 1) != STORE_SHA_LEN || !u)
				continue;
			snprintf(page[n].user, sizeof(page[n].user), "%s", u);
			memcpy(page[n++].sha, sql_col_blob(s, 1),
			       STORE_SHA_LEN);
		}
		sql_finalize(s);
		if (r != SQL_DONE) {
			rc = db_err(r);
			break;
		}
		/* The read is over: each collection is its own short write. */
		done = 0;
		for (size_t i = 0; i < n && !rc; i++) {
			r = sweep_one(c, page[i].user, page[i].sha, before, &size);
			if (r < 0) {
				rc = r;
			} else {
				done++;
				if (r) {
					gone++;
					freed += size;
				}
			}
		}
	} while (!rc && n == SWEEP_PAGE && done);
	free(page);
	if (removed)
		*removed = gone;
	if (bytes)
		*bytes = freed;
	return rc;
}

/* ---- request budgets shared by servers (rate_buckets) ----
 * One row per user: a token bucket (tokens, refilled at `per_ns` a
 * nanosecond up to `burst`, as of `at`, ns since the epoch). A server
 * never spends from it request by request: it takes a lease, up to `want`
 * tokens, in one upsert, and spends them in its memory; so a listing
 * writes nothing, and a busy user costs one write per lease. What one
 * statement does: refill for the time since `at` (none when this server's
 * clock reads earlier than the last writer's: a skewed clock can only slow
 * the refill), take `want` when the bucket holds that many, else all it
 * holds when that is at least one request, else nothing; `took` keeps
 * what this lease took, returned with what is left. The bucket's
 * arithmetic is the same on every server, so the tokens leased by all of
 * them over any span of time never exceed burst + span × rate. */
#define RATE_E "(CASE WHEN ?4>rate_buckets.at THEN ?4-rate_buckets.at" \
	" ELSE 0 END)"
#define RATE_R "(CASE WHEN rate_buckets.tokens+" RATE_E "*?5>?2 THEN ?2" \
	" ELSE rate_buckets.tokens+" RATE_E "*?5 END)"

static int rate_lease(struct conn *c, const char *user, double burst,
		      double per_ns, double want, int64_t now, double *got,
		      double *left)
{
	sql_stmt *s = db_prep(c, "INSERT INTO rate_buckets(\"user\", tokens,"
		" at, took) VALUES(?1, ?2-?3, ?4, ?3) ON CONFLICT(\"user\")"
		" DO UPDATE SET took=CASE WHEN " RATE_R ">=?3 THEN ?3"
		" WHEN " RATE_R ">=1 THEN " RATE_R " ELSE 0 END,"
		" tokens=" RATE_R "-CASE WHEN " RATE_R ">=?3 THEN ?3"
		" WHEN " RATE_R ">=1 THEN " RATE_R " ELSE 0 END,"
		" at=CASE WHEN ?4>rate_buckets.at THEN ?4"
		" ELSE rate_buckets.at END RETURNING took, tokens");
	int r;

	if (!s)
		return -EIO;
	db_bind_str(s, 1, user);
	sql_bind_double(s, 2, burst);
	sql_bind_double(s, 3, want);
	sql_bind_int64(s, 4, now);
	sql_bind_double(s, 5, per_ns);
	r = sql_step(s);
	if (r == SQL_ROW) {
		*got = sql_col_double(s, 0);
		*left = sql_col_double(s, 1);
	}
	sql_finalize(s);
	return r == SQL_ROW ? 0 : r < 0 ? r : -EIO;
}

int store_rate_lease(store *st, const char *user, double burst,
		     double per_s, double want, int64_t now_ns, double *got,
		     double *left)
{
	struct conn *c = db_conn(st);
	int rc, tries = 0;

	*got = *left = 0;
	if (!store_user_valid(user) && user[0])
		return -EINVAL;
	if (!(burst >= 1) || !(per_s > 0) || !(want >= 1))
		return -EINVAL;
	if (want > burst)
		want = burst;
	if (!c)
		return -EIO;
	do {
		rc = db_begin(c);
		if (!rc)
			rc = db_end(c, rate_lease(c, user, burst, per_s / 1e9,
						  want, now_ns, got, left));
	} while (rc == -EAGAIN && ++tries < SQL_TXN_TRIES);
	return rc;
}
