/*
 * sql_pg.c — the PostgreSQL 15 engine behind store/sql.h, over libpq.
 *
 * Connections. An sql_db keeps the catalog's connection string (a libpq
 * URI or keyword string, given by the user; its password, if any, is
 * libpq's business and never copied into a message). Each sql_conn is one
 * PGconn of its own (PQconnectdbParams with application_name=sievefs and
 * connect_timeout=10 as defaults the target may override), used by one
 * thread at a time as sql.h says. A connection that is lost (libpq says
 * CONNECTION_BAD, or SQLSTATE 57P01..57P03 / class 08) answers -EAGAIN for
 * the statement that found it and is marked; the next call on it runs
 * PQreset first, so a caller that retries its transaction (sql_txn) lands
 * on a fresh session without anyone restarting.
 *
 * Transactions. begin sends "BEGIN; SELECT pg_advisory_xact_lock(K)" in
 * one round trip: K is fixed (advisory locks are scoped to the database,
 * so one key per catalog), every write transaction of every process takes
 * it first, so writers exclude each other for the transaction's life and
 * a check followed by an act is not raced (sql.h). Isolation stays READ
 * COMMITTED: with writers serialised, each statement sees every earlier
 * commit. A statement that fails inside a transaction aborts it in
 * PostgreSQL (unlike SQLite, where the transaction goes on): the engine
 * remembers the first error, later statements answer it without a round
 * trip, and commit rolls back and answers it too. Catalog code therefore
 * never continues a transaction after a failed statement (use ON
 * CONFLICT instead of catching -EEXIST).
 *
 * Errors by SQLSTATE: 23505 -EEXIST (23xxx other constraint violations
 * too, as SQLite's CONSTRAINT maps), 53100 -ENOSPC, 40001/40P01 -EAGAIN,
 * connection loss -EAGAIN (above), 57014 -ETIMEDOUT, 55P03 -EBUSY,
 * 25006 -EROFS, anything else -EIO; the server's message is kept for
 * errmsg until the connection's next call.
 *
 * Encoding: a sievefs catalog is a database with ENCODING 'SQL_ASCII'
 * (LC_COLLATE and LC_CTYPE 'C', TEMPLATE template0), so a name is its
 * bytes, as on Linux and in SQLite's TEXT: a file name that is not UTF-8
 * ("bad\377x.txt") is stored and read back as it came, and substr and
 * length count bytes (sql.h). open refuses a database with any other
 * server_encoding (-EINVAL, the CREATE DATABASE command in the message),
 * and every connection sets client_encoding SQL_ASCII, so the server
 * neither converts nor validates what it is sent (a PGCLIENTENCODING of
 * UTF8 would have it refuse those bytes).
 *
 * Statements, their parameters and results: store/sql_pg_stmt.c; the
 * structs both files share: store/sql_pg.h.
 *
 * Schema: open (SQL_CREATE) applies schema_pg.c's steps in a transaction
 * holding the same advisory lock, so two servers starting at once do not
 * both create it, and refuses a catalog newer than this binary.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/schema_pg.h"
#include "store/sql.h"
#include "store/sql_pg.h"

/* the advisory lock key of write transactions: the bytes "sievefs\x01" */
#define PG_LOCK_KEY "8316289746098090753"

/* ---- errors ---- */

void sqlpg_set_err(struct pg_conn *c, const char *what, const char *why)
{
	size_t n;

	snprintf(c->err, sizeof(c->err), "%s%s%s", what, *what ? ": " : "",
		 why ? why : "");
	n = strlen(c->err);
	while (n && (c->err[n - 1] == '\n' || c->err[n - 1] == ' '))
		c->err[--n] = '\0';
}

static int lost(const char *state)
{
	return !strncmp(state, "08", 2) || !strcmp(state, "57P01") ||
	       !strcmp(state, "57P02") || !strcmp(state, "57P03");
}

/* The error of result r (may be NULL) on c, as a negative errno; marks c
 * for reconnect when the session is gone. */
int sqlpg_fail(struct pg_conn *c, PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *m = r ? PQresultErrorMessage(r) : "";

	if (!m || !*m)
		m = PQerrorMessage(c->pg);
	sqlpg_set_err(c, "", m);
	if ((state && lost(state)) || PQstatus(c->pg) == CONNECTION_BAD) {
		c->broken = 1;
		return -EAGAIN;
	}
	if (!state)
		return -EIO;
	if (!strncmp(state, "23", 2))
		return -EEXIST;
	if (!strcmp(state, "53100"))
		return -ENOSPC;
	if (!strcmp(state, "40001") || !strcmp(state, "40P01"))
		return -EAGAIN;
	if (!strcmp(state, "57014"))
		return -ETIMEDOUT;
	if (!strcmp(state, "55P03"))
		return -EBUSY;
	if (!strcmp(state, "25006"))
		return -EROFS;
	return -EIO;
}

/* An error inside a transaction aborts it (top of file). */
int sqlpg_txn_fail(struct pg_conn *c, int rc)
{
	if (c->in_txn && !c->txn_err)
		c->txn_err = rc;
	return rc;
}

/* 1 when an idle session (no transaction, no query outstanding) was
 * ended by the server. Such a session has nothing to read; input there
 * is a restart's or an administrator's FATAL (57P01) and the EOF after
 * it. Without this look (one poll, no round trip), each thread's first
 * statement after a PostgreSQL restart failed with -EAGAIN (a 503 per
 * server thread) before the next one reconnected. A harmless message
 * (a ParameterStatus after a reload) costs one reconnect. */
static int idle_session_ended(struct pg_conn *c)
{
	struct pollfd p = { .fd = PQsocket(c->pg), .events = POLLIN };

	if (p.fd < 0)
		return 1;
	if (poll(&p, 1, 0) <= 0)
		return 0;
	return 1;
}

/* Before any call that talks to the server: reconnects a lost session
 * (outside a transaction: inside one, the transaction is gone and the
 * caller must start again) and answers an aborted transaction's error. */
int sqlpg_ready(struct pg_conn *c)
{
	size_t i;

	if (c->in_txn && c->txn_err) {
		return c->txn_err;
	}
	if (!c->broken && PQstatus(c->pg) == CONNECTION_OK &&
	    (c->in_txn || !idle_session_ended(c)))
		return 0;
	if (c->in_txn) {
		c->txn_err = -EAGAIN;
		sqlpg_set_err(c, "", "the connection to PostgreSQL was lost;"
			" the transaction was rolled back");
		return -EAGAIN;
	}
	PQreset(c->pg);
	for (i = 0; i < c->ndealloc; i++)
		free(c->dealloc[i]);
	c->ndealloc = 0;
	c->epoch++;
	if (PQstatus(c->pg) != CONNECTION_OK) {
		sqlpg_set_err(c, "cannot reconnect to PostgreSQL",
			PQerrorMessage(c->pg));
		return -EAGAIN;
	}
	c->broken = 0;
	return 0;
}

/* ---- opening ---- */

/* "host=… port=… dbname=… user=…" of target, for messages: never the
 * password. */
static void describe(const char *target, char *out, size_t len)
{
	static const char *const keys[] = { "host", "hostaddr", "port",
					    "dbname", "user", NULL };
	PQconninfoOption *o = PQconninfoParse(target, NULL), *p;
	size_t n = 0;

	out[0] = '\0';
	if (!o) {
		snprintf(out, len, "an unparsable connection string");
		return;
	}
	for (p = o; p->keyword; p++) {
		for (int k = 0; keys[k]; k++) {
			if (strcmp(p->keyword, keys[k]) || !p->val || !*p->val)
				continue;
			int w = snprintf(out + n, len - n, "%s%s=%s",
					 n ? " " : "", p->keyword, p->val);
			if (w < 0 || (size_t)w >= len - n)
				goto out;
			n += (size_t)w;
		}
	}
out:
	PQconninfoFree(o);
}

/* Masks every occurrence of the pl bytes at pw in msg with "***". */
static void mask(char *msg, const char *pw, size_t pl)
{
	char *hit, *from = msg;

	if (!pl)
		return;
	/* on from the mask: a password such as "*" must not match it */
	while ((hit = memmem(from, strlen(from), pw, pl)) != NULL) {
		memcpy(hit, "***", pl < 3 ? pl : 3);
		if (pl > 3)
			memmove(hit + 3, hit + pl, strlen(hit + pl) + 1);
		from = hit + (pl < 3 ? pl : 3);
	}
}

/* Masks target's password in msg: its parsed value, and as written in
 * target, since libpq quotes an unparsable URI whole ("IPv6 host address
 * may not be empty in URI: \"postgresql://u:pw@[]/x\"") and a bad token
 * raw — the URI's user:password@ and any password=… in a URI query or a
 * keyword string. */
static void scrub(const char *target, char *msg)
{
	PQconninfoOption *o = PQconninfoParse(target, NULL), *p;
	const char *s, *end, *at, *colon;

	for (p = o; p && p->keyword; p++)
		if (!strcmp(p->keyword, "password") && p->val)
			mask(msg, p->val, strlen(p->val));
	PQconninfoFree(o);
	if ((s = strstr(target, "://")) != NULL) {
		s += 3;
		end = s + strcspn(s, "/?");
		at = memrchr(s, '@', (size_t)(end - s));
		colon = at ? memchr(s, ':', (size_t)(at - s)) : NULL;
		if (colon)
			mask(msg, colon + 1, (size_t)(at - colon - 1));
	}
	for (s = target; (s = strstr(s, "password=")) != NULL;) {
		s += strlen("password=");
		if (*s == '\'')
			s++;
		mask(msg, s, strcspn(s, "&' "));
	}
}

/* libpq takes the keys in order, a later value winning: the target
 * (dbname, expanded) may override the first ones, never client_encoding,
 * which a catalog's bytes depend on (top of file). */
static PGconn *pg_connect(const struct pg_db *db)
{
	const char *keys[] = { "application_name", "connect_timeout",
			       "options", "dbname", "client_encoding", NULL };
	const char *vals[] = { "sievefs", "10",
			       db->readonly ? "-c default_transaction_read_only=on"
					    : "",
			       db->target, "SQL_ASCII", NULL };

	return PQconnectdbParams(keys, vals, 1);
}

static void conn_msg(const struct pg_db *db, PGconn *pg, char *msg)
{
	char where[200], why[256];

	if (!msg)
		return;
	describe(db->target, where, sizeof(where));
	snprintf(why, sizeof(why), "%s", pg ? PQerrorMessage(pg)
					    : "out of memory");
	for (char *p = why; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
	for (size_t n = strlen(why); n && why[n - 1] == ' '; n--)
		why[n - 1] = '\0';
	scrub(db->target, why);
	/* libpq opens with "connection to server at "H", port P failed: ",
	 * which `where` says already; the reason after it must fit */
	const char *r = strstr(why, " failed: ");
	r = r ? r + 9 : why;
	snprintf(msg, 256, "cannot connect to the PostgreSQL catalog (%.60s):"
		 " %.90s; check the URI, the server, PGPASSWORD or ~/.pgpass",
		 where, r);
	scrub(db->target, msg);
}

static int pg_exec_conn(sql_conn *c, const char *sql);

/* Creates or upgrades the schema under the write lock, or checks its
 * version (read-only). 0 or -errno with msg set. */
static int schema(sql_conn *sc, int flags, char *msg)
{
	struct pg_conn *c = PC(sc);
	PGresult *r;
	int have = 0, ver = 0, rc;

	rc = pg_exec_conn(sc, (flags & SQL_READONLY) ? "BEGIN" :
			  "BEGIN; SELECT pg_advisory_xact_lock(" PG_LOCK_KEY ")");
	if (rc)
		goto fail;
	c->in_txn = 1;
	r = PQexec(c->pg, "SELECT to_regclass('schema_version') IS NOT NULL");
	if (PQresultStatus(r) != PGRES_TUPLES_OK) {
		rc = sqlpg_fail(c, r);
		PQclear(r);
		goto fail;
	}
	have = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (have) {
		r = PQexec(c->pg, "SELECT max(version) FROM schema_version");
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			rc = sqlpg_fail(c, r);
			PQclear(r);
			goto fail;
		}
		ver = (int)strtol(PQgetvalue(r, 0, 0), NULL, 10);
		PQclear(r);
	}
	if (ver > SCHEMA_PG_VERSION) {
		snprintf(msg, 256, "the PostgreSQL catalog is at schema "
			 "version %d, newer than this sievefs knows (%d): "
			 "run a newer sievefs", ver, SCHEMA_PG_VERSION);
		rc = -EPROTO;
		goto out;
	}
	if (ver < SCHEMA_PG_VERSION && !(flags & SQL_CREATE)) {
		snprintf(msg, 256, "the PostgreSQL catalog has %s: open it "
			 "once with a server that may create it",
			 ver ? "an older schema" : "no sievefs schema");
		rc = ver ? -EPROTO : -ENOENT;
		goto out;
	}
	if (!have)
		rc = pg_exec_conn(sc, "CREATE TABLE schema_version("
				  "version INTEGER NOT NULL,"
				  " upgraded TIMESTAMPTZ NOT NULL DEFAULT now())");
	for (; !rc && ver < SCHEMA_PG_VERSION; ver++) {
		char q[96];

		rc = pg_exec_conn(sc, schema_pg_steps[ver]);
		snprintf(q, sizeof(q), "INSERT INTO schema_version(version)"
			 " VALUES(%d)", ver + 1);
		if (!rc)
			rc = pg_exec_conn(sc, q);
	}
	if (rc)
		goto fail;
	c->in_txn = 0;
	rc = pg_exec_conn(sc, "COMMIT");
	if (rc)
		goto fail;
	return 0;
fail:
	snprintf(msg, 256, "cannot %s the PostgreSQL catalog's schema: %.180s",
		 (flags & SQL_READONLY) ? "read" : "create or upgrade",
		 c->err);
out:
	c->in_txn = 0;
	PQclear(PQexec(c->pg, "ROLLBACK"));
	return rc;
}

static int conn_wrap(sql_db *d, PGconn *pg, sql_conn **out);

/* 0 when pg's database is SQL_ASCII (top of file), else -EINVAL and msg
 * gives the command that makes one. */
static int check_encoding(PGconn *pg, char *msg)
{
	const char *enc = PQparameterStatus(pg, "server_encoding");
	const char *name = PQdb(pg);

	if (enc && !strcmp(enc, "SQL_ASCII"))
		return 0;
	snprintf(msg, 256, "PostgreSQL database %.40s has ENCODING '%.12s',"
		 " sievefs needs one made so: CREATE DATABASE %.40s TEMPLATE"
		 " template0 ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'",
		 name ? name : "?", enc ? enc : "unknown", name ? name : "NAME");
	return -EINVAL;
}

static int pg_open(const char *target, int flags, sql_db **out, char *msg)
{
	struct pg_db *db = calloc(1, sizeof(*db));
	char tmp[256];
	sql_conn *c = NULL;
	PGconn *pg;
	int rc;

	*out = NULL;
	if (!msg)
		msg = tmp;
	msg[0] = '\0';
	if (!db || !(db->target = strdup(target))) {
		free(db);
		snprintf(msg, 256, "out of memory");
		return -ENOMEM;
	}
	db->base.eng = &sql_pg;
	db->readonly = !!(flags & SQL_READONLY);
	pg = pg_connect(db);
	if (!pg || PQstatus(pg) != CONNECTION_OK) {
		conn_msg(db, pg, msg);
		PQfinish(pg);
		rc = -EIO;
		goto fail;
	}
	if ((rc = check_encoding(pg, msg)) != 0) {
		PQfinish(pg);
		goto fail;
	}
	if ((rc = conn_wrap(&db->base, pg, &c)) != 0) {
		snprintf(msg, 256, "out of memory");
		goto fail;
	}
	rc = schema(c, flags, msg);
	sql_pg.disconnect(c);
	if (rc)
		goto fail;
	*out = &db->base;
	return 0;
fail:
	free(db->target);
	free(db);
	return rc;
}

static void pg_where(sql_db *d, char *out, size_t len)
{
	char where[200];

	describe(((struct pg_db *)d)->target, where, sizeof(where));
	snprintf(out, len, "PostgreSQL %s", where);
}

static void pg_close(sql_db *d)
{
	struct pg_db *db = (struct pg_db *)d;

	if (!db)
		return;
	free(db->target);
	free(db);
}

/* The server's notices (NOTICE, WARNING) would go to stderr: a library
 * says nothing there. */
static void no_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* A pg_conn around pg (connected), which it then owns. */
static int conn_wrap(sql_db *d, PGconn *pg, sql_conn **out)
{
	struct pg_conn *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c) {
		PQfinish(pg);
		return -ENOMEM;
	}
	c->base.eng = &sql_pg;
	c->base.db = d;
	c->epoch = 1;
	c->pg = pg;
	PQsetNoticeProcessor(pg, no_notice, NULL);
	*out = &c->base;
	return 0;
}

static int pg_conn_open(sql_db *d, sql_conn **out)
{
	PGconn *pg = pg_connect((struct pg_db *)d);

	*out = NULL;
	if (!pg)
		return -ENOMEM;
	if (PQstatus(pg) != CONNECTION_OK) {
		/* the server is down or restarting: worth a retry later */
		PQfinish(pg);
		return -EAGAIN;
	}
	return conn_wrap(d, pg, out);
}

static void pg_disconnect(sql_conn *sc)
{
	struct pg_conn *c = PC(sc);

	if (!c)
		return;
	for (size_t i = 0; i < c->ndealloc; i++)
		free(c->dealloc[i]);
	free(c->dealloc);
	PQfinish(c->pg);
	free(c);
}

/* ---- connection-level calls ---- */

/* The command's row count into c->changes, for INSERT/UPDATE/DELETE. */
void sqlpg_count_changes(struct pg_conn *c, PGresult *r)
{
	const char *st = PQcmdStatus(r);

	if (!strncmp(st, "INSERT", 6) || !strncmp(st, "UPDATE", 6) ||
	    !strncmp(st, "DELETE", 6) || !strncmp(st, "MERGE", 5))
		c->changes = strtoll(PQcmdTuples(r), NULL, 10);
}

static int64_t pg_changes(sql_conn *c)
{
	return PC(c)->changes;
}

static int pg_exec_conn(sql_conn *sc, const char *sql)
{
	struct pg_conn *c = PC(sc);
	PGresult *r;
	int rc;

	if ((rc = sqlpg_ready(c)) != 0)
		return rc;
	r = PQexec(c->pg, sql);
	switch (PQresultStatus(r)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		sqlpg_count_changes(c, r);
		PQclear(r);
		return 0;
	default:
		rc = r ? sqlpg_fail(c, r) : -ENOMEM;
		PQclear(r);
		return sqlpg_txn_fail(c, rc);
	}
}

static int pg_begin(sql_conn *sc)
{
	struct pg_conn *c = PC(sc);
	int rc;

	if (c->in_txn) {
		sqlpg_set_err(c, "", "a transaction is already open on this"
			" connection");
		return -EINVAL;
	}
	rc = pg_exec_conn(sc, "BEGIN; SELECT pg_advisory_xact_lock("
			  PG_LOCK_KEY ")");
	if (rc) {
		/* nothing may stay open: the lock or BEGIN may have failed
		 * after BEGIN ran */
		if (!c->broken)
			PQclear(PQexec(c->pg, "ROLLBACK"));
		return rc;
	}
	c->in_txn = 1;
	c->txn_err = 0;
	return 0;
}

static int pg_commit(sql_conn *sc)
{
	struct pg_conn *c = PC(sc);
	PGresult *r;
	int rc;

	if (!c->in_txn) {
		sqlpg_set_err(c, "", "no transaction is open on this"
			      " connection");
		return -EINVAL;
	}
	if (c->txn_err) {
		rc = c->txn_err;
		sc->eng->rollback(sc);
		return rc;
	}
	r = PQexec(c->pg, "COMMIT");
	c->in_txn = 0;
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		rc = r ? sqlpg_fail(c, r) : -ENOMEM;
		/* The session was lost with COMMIT on its way: the server may
		 * have committed before it went. Not -EAGAIN, which says
		 * "rolled back, run it again" (sql_txn would write twice). */
		if (rc == -EAGAIN && c->broken) {
			sqlpg_set_err(c, "", "the connection to the catalog was"
				      " lost during COMMIT: the transaction"
				      " may or may not have been committed");
			rc = -EIO;
		}
	} else if (strcmp(PQcmdStatus(r), "COMMIT")) {
		/* the server rolled back (an earlier error we did not see) */
		sqlpg_set_err(c, "", "the transaction was rolled back by the"
			      " server");
		rc = -EIO;
	} else {
		rc = 0;
	}
	PQclear(r);
	return rc;
}

static void pg_rollback(sql_conn *sc)
{
	struct pg_conn *c = PC(sc);

	if (c->in_txn && !c->broken && PQstatus(c->pg) == CONNECTION_OK)
		PQclear(PQexec(c->pg, "ROLLBACK"));
	c->in_txn = 0;
	c->txn_err = 0;
}

static const char *pg_errmsg(sql_conn *c)
{
	return PC(c)->err;
}

const struct sql_engine sql_pg = {
	.name = "postgresql",
	.shared = 1,
	.open = pg_open,
	.close = pg_close,
	.connect = pg_conn_open,
	.disconnect = pg_disconnect,
	.prepare = sqlpg_prepare,
	.finalize = sqlpg_finalize,
	.reset = sqlpg_reset,
	.bind_int64 = sqlpg_bind_int64,
	.bind_double = sqlpg_bind_double,
	.bind_text = sqlpg_bind_text,
	.bind_blob = sqlpg_bind_blob,
	.bind_null = sqlpg_bind_null,
	.step = sqlpg_step,
	.col_is_null = sqlpg_col_is_null,
	.col_int64 = sqlpg_col_int64,
	.col_double = sqlpg_col_double,
	.col_text = sqlpg_col_text,
	.col_blob = sqlpg_col_blob,
	.col_bytes = sqlpg_col_bytes,
	.changes = pg_changes,
	.exec = pg_exec_conn,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.errmsg = pg_errmsg,
	.where = pg_where,
};
