/*
 * idem.c — idempotency keys of state-changing requests (issue 19 item 8,
 * part "deploy"): a retry of a request whose answer was lost (its server
 * died, a balancer cut the connection) finds what the first try did
 * instead of doing it twice.
 *
 * Table idem(user, key, created, status, ctype, body), primary key
 * (user, key): one row per (user, client-chosen key). A key is never
 * shared between users. The row is written in two steps:
 *
 *   1. recorded: the first write transaction the request commits inserts
 *      the row (status 0, no answer) inside that same transaction, just
 *      before COMMIT (db_commit calls idem_on_commit): the change and the
 *      key are committed together or not at all. The server arms this for
 *      the request's thread (store_idem_arm) before its route runs; nothing
 *      in the route knows about it. A request whose route commits several
 *      transactions records the key with the first of them.
 *   2. answered: once the route has its answer, store_idem_answer stores
 *      its status, content type and body in the row (a short transaction
 *      of its own).
 *
 * A retry finds the row: answered, the first answer is replayed; recorded
 * only, the first try is still running or died between COMMIT and its
 * answer (the server waits a little, then says so: api/server_idem.c).
 * Two tries racing: the second's INSERT meets the first's row (-EEXIST),
 * its transaction is rolled back whole and the claim says "taken"
 * (store_idem_disarm), so the server answers with the first try's answer.
 *
 * Rows expire: store_idem_sweep deletes those older than a given age
 * (index idem_created).
 *
 * Threads: the claim is per thread (_Thread_local): the route's work runs
 * in the request's thread, and so do its commits. Errors: negative errno
 * from the catalog.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

/* The thread's armed claim: which store, user and key; what happened. */
static _Thread_local struct {
	store *st;                     /* NULL: not armed */
	char user[STORE_USER_MAX + 1];
	char key[STORE_IDEM_KEY_MAX + 1];
	int state;                     /* enum store_idem_state */
} claim;

int store_idem_key_ok(const char *key)
{
	size_t n = key ? strlen(key) : 0;

	if (n < STORE_IDEM_KEY_MIN || n > STORE_IDEM_KEY_MAX)
		return 0;
	for (size_t i = 0; i < n; i++) {
		char ch = key[i];
		if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		      (ch >= 'A' && ch <= 'Z') || ch == '-' || ch == '_'))
			return 0;
	}
	return 1;
}

void store_idem_arm(store *st, const char *user, const char *key)
{
	claim.st = st;
	snprintf(claim.user, sizeof(claim.user), "%s", user);
	snprintf(claim.key, sizeof(claim.key), "%s", key);
	claim.state = STORE_IDEM_ARMED;
}

int store_idem_state(void)
{
	return claim.st ? claim.state : STORE_IDEM_ARMED;
}

int store_idem_disarm(void)
{
	int state = claim.st ? claim.state : STORE_IDEM_ARMED;

	claim.st = NULL;
	return state;
}

int idem_on_commit(struct conn *c)
{
	sql_stmt *s;
	int rc;

	if (!claim.st || claim.st != c->st ||
	    claim.state != STORE_IDEM_ARMED)
		return 0;
	s = db_prep(c, "INSERT INTO idem(\"user\", key, created, status)"
		    " VALUES(?1, ?2, ?3, 0)");
	if (!s)
		return -EIO;
	db_bind_str(s, 1, claim.user);
	db_bind_str(s, 2, claim.key);
	sql_bind_int64(s, 3, store_now_ns());
	rc = db_err(sql_step(s));
	sql_finalize(s);
	if (rc == -EEXIST)
		claim.state = STORE_IDEM_TAKEN;
	return rc;
}

/* Called by db_commit once the COMMIT that carried the claim succeeded. */
void idem_committed(struct conn *c)
{
	if (claim.st && claim.st == c->st && claim.state == STORE_IDEM_ARMED)
		claim.state = STORE_IDEM_RECORDED;
}

int store_idem_lookup(store *st, const char *user, const char *key,
		      struct store_idem_answer *out)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!c)
		return -EIO;
	s = db_prep(c, "SELECT status, ctype, body FROM idem"
		    " WHERE \"user\"=?1 AND key=?2");
	if (!s)
		return -EIO;
	db_bind_str(s, 1, user);
	db_bind_str(s, 2, key);
	rc = sql_step(s);
	if (rc == SQL_ROW) {
		size_t len = sql_col_bytes(s, 2);
		const void *b = sql_col_blob(s, 2);
		out->status = (int)sql_col_int64(s, 0);
		snprintf(out->ctype, sizeof(out->ctype), "%s",
			 sql_col_text(s, 1));
		out->has_body = b != NULL;
		out->body = malloc(len + 1);
		if (!out->body) {
			rc = -ENOMEM;
		} else {
			if (len)
				memcpy(out->body, b, len);
			out->body[len] = '\0';
			out->len = len;
			rc = 0;
		}
	} else {
		rc = rc < 0 ? rc : -ENOENT;
	}
	sql_finalize(s);
	return rc;
}

/* The body of store_idem_answer's transaction. */
static int answer_tx(struct conn *c, const char *user, const char *key,
		     int status, const char *ctype, const char *body,
		     size_t len)
{
	sql_stmt *s = db_prep(c, "UPDATE idem SET status=?3, ctype=?4,"
			      " body=?5 WHERE \"user\"=?1 AND key=?2");
	int rc;

	if (!s)
		return -EIO;
	db_bind_str(s, 1, user);
	db_bind_str(s, 2, key);
	sql_bind_int64(s, 3, status);
	db_bind_str(s, 4, ctype ? ctype : "");
	if (body)
		sql_bind_blob(s, 5, body, len);
	else
		sql_bind_null(s, 5);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	return rc;
}

int store_idem_answer(store *st, const char *user, const char *key,
		      int status, const char *ctype, const char *body,
		      size_t len)
{
	struct conn *c = db_conn(st);
	int rc;

	if (!c)
		return -EIO;
	if (claim.st == st)            /* this write is not the change */
		claim.st = NULL;
	for (int tries = 0;; tries++) {
		rc = db_begin(c);
		if (!rc)
			rc = db_end(c, answer_tx(c, user, key, status, ctype,
						 body, len));
		if (rc != -EAGAIN || tries >= 3)
			return rc;
	}
}

int store_idem_sweep(store *st, int64_t before_ns, int64_t *deleted)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (deleted)
		*deleted = 0;
	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	s = db_prep(c, "DELETE FROM idem WHERE created<?1");
	if (!s)
		return db_end(c, -EIO);
	sql_bind_int64(s, 1, before_ns);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	if (!rc && deleted)
		*deleted = sql_changes(c->db);
	return db_end(c, rc);
}
