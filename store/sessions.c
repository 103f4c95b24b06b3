/*
 * sessions.c — the web app's sign-in sessions (api/web.c): a browser
 * trades an API token for a session id it keeps in an HttpOnly cookie.
 *
 * A session id is 64 hex digits from getrandom() (256 bits). Like tokens,
 * the catalog keeps only SHA-256(id) (sessions.hash, the primary key), so
 * a copy of the catalog holds no usable session. A row names the token
 * that made it (sessions.token = tokens.id): a check joins the two and
 * accepts only a session whose token is not revoked and whose expiry is
 * still ahead, so revoking the token ends its sessions whoever revokes it
 * (store_token_revoke also deletes their rows; an older binary that does
 * not is still covered by the join). Everything is in the catalog, so any
 * server process on the store honours any session, and a restart loses
 * none. Expired rows are deleted when a new session is made (index on
 * expires): the table stays about as big as the live sessions.
 *
 * Checks hash the presented id and find the row by hash (an index lookup
 * on a hash of a 256-bit secret leaks nothing useful), then compare the
 * hashes again with CRYPTO_memcmp, as token checks do (users.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>

#include "db.h"

int store_session_format_ok(const char *sid)
{
	size_t n = 0;

	if (!sid)
		return 0;
	for (; sid[n]; n++)
		if (!((sid[n] >= '0' && sid[n] <= '9') ||
		      (sid[n] >= 'a' && sid[n] <= 'f')))
			return 0;
	return n == STORE_SESSION_LEN;
}

/* Inserts the session row and drops expired ones: 0 or -errno. */
static int session_insert(struct conn *c, const unsigned char *hash,
			  int64_t token, const char *user, int64_t now,
			  int64_t expires)
{
	sql_stmt *s = db_prep(c, "DELETE FROM sessions WHERE expires<=?1");
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, now);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	if (rc)
		return rc;
	s = db_prep(c, "INSERT INTO sessions(hash, token, \"user\", created,"
		    " expires) VALUES(?1, ?2, ?3, ?4, ?5)");
	if (!s)
		return -EIO;
	sql_bind_blob(s, 1, hash, STORE_SHA_LEN);
	sql_bind_int64(s, 2, token);
	db_bind_str(s, 3, user);
	sql_bind_int64(s, 4, now);
	sql_bind_int64(s, 5, expires);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	return rc;
}

int store_session_create(store *st, const char *token, int64_t ttl_ns,
			 char *sid, char *user)
{
	struct conn *c = db_conn(st);
	unsigned char rnd[32], hash[STORE_SHA_LEN];
	int64_t now = store_now_ns(), tid = 0;
	int rc;

	sid[0] = '\0';
	if (!store_token_format_ok(token) || ttl_ns <= 0)
		return -EACCES;
	if (!c)
		return -EIO;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	store_token_hash(token, hash);
	rc = db_begin(c);
	if (rc)
		goto out;
	rc = users_token_row(c, hash, user, &tid, NULL);
	if (!rc) {
		store_sha_hex(rnd, sid);     /* 32 bytes → 64 hex digits */
		store_token_hash(sid, hash);
		rc = session_insert(c, hash, tid, user, now,
				    ttl_ns > INT64_MAX - now ? INT64_MAX :
				    now + ttl_ns);
	}
	rc = db_end(c, rc);
out:
	OPENSSL_cleanse(rnd, sizeof(rnd));
	if (rc)
		OPENSSL_cleanse(sid, STORE_SESSION_LEN + 1);
	return rc;
}

/* store_session_check, and with touch set store_session_auth. */
static int session_auth(store *st, const char *sid, char *user,
			int64_t *token, int touch)
{
	struct conn *c = db_conn(st);
	unsigned char hash[STORE_SHA_LEN];
	int64_t tid = 0, last = 0;
	sql_stmt *s;
	int rc;

	if (!store_session_format_ok(sid))
		return -EACCES;
	if (!c || !(s = db_stmt(c, Q_SESSION_ROW)))   /* per request */
		return -EIO;
	store_token_hash(sid, hash);
	sql_bind_int64(s, 2, store_now_ns());
	rc = users_hash_row(s, hash, user);
	if (!rc) {
		tid = sql_col_int64(s, 2);
		last = sql_col_int64(s, 3);
	}
	sql_reset(s);        /* no read transaction left open */
	if (!rc && touch)
		users_token_touch(c, tid, last);   /* best effort */
	if (!rc && token)
		*token = tid;
	return rc;
}

int store_session_check(store *st, const char *sid, char *user)
{
	return session_auth(st, sid, user, NULL, 0);
}

int store_session_auth(store *st, const char *sid, char *user,
		       int64_t *token)
{
	return session_auth(st, sid, user, token, 1);
}

int store_session_delete(store *st, const char *sid)
{
	struct conn *c = db_conn(st);
	unsigned char hash[STORE_SHA_LEN];
	sql_stmt *s;
	int rc;

	if (!store_session_format_ok(sid))
		return 0;
	if (!c)
		return -EIO;
	store_token_hash(sid, hash);
	rc = db_begin(c);
	if (rc)
		return rc;
	s = db_prep(c, "DELETE FROM sessions WHERE hash=?1");
	if (!s)
		return db_end(c, -EIO);
	sql_bind_blob(s, 1, hash, STORE_SHA_LEN);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	return db_end(c, rc);
}

int sessions_end_token(struct conn *c, int64_t token)
{
	sql_stmt *s = db_prep(c, "DELETE FROM sessions WHERE token=?1");
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, token);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	return rc;
}
