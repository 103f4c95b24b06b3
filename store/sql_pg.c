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
 * Statements. prepare only rewrites ?N to $N (outside '…' literals, "…"
 * identifiers and comments) and counts the parameters: nothing is sent.
 * The first step runs the statement with PQexecParams (parse, bind and
 * execute in one round trip, on the unnamed statement), so a one-off
 * statement costs one round trip and leaves nothing on the server. When
 * the same sql_stmt runs again (reset and step: the statement caches of
 * catalog code), it is prepared under a per-connection name ("s<n>") with
 * PQprepare and run with PQexecPrepared from then on. Prepared names die
 * with their session: a reconnect bumps the connection's epoch and every
 * statement prepared in an older epoch prepares again. finalize queues the
 * name; every 32 names go as one DEALLOCATE batch outside transactions.
 *
 * Parameters go in binary with explicit types: int64 → int8, double →
 * float8, text → text, blob → bytea, NULL → 0 (the server infers it).
 * A prepared statement's types are fixed, so a statement whose non-NULL
 * binding changes type is prepared again under a new name. Consequences
 * for portable SQL: an integer parameter is int8, so a function that
 * wants int4 finds no match (schema_pg.c defines substr(text, bigint)
 * for that; any other needs CAST(?N AS INTEGER)); and a NULL parameter
 * whose first use gives it no type (?2 IS NULL OR x=?2) cannot be
 * inferred by the server: write CAST(?2 AS TEXT) IS NULL.
 *
 * Results come back in binary and are read by the column's type OID:
 * int2/int4/int8/oid/bool and numeric (sum() of bigint) read as integers
 * with col_int64 (a boolean reads 0 or 1, as sql.h says), float4/float8
 * as doubles; text-like types and bytea as their bytes (libpq always puts
 * a NUL after a value, so col_text of a text column needs no copy); a
 * number asked for as text is formatted into the statement's buffer.
 *
 * Large results: the whole result set is fetched by the first step
 * (PQexecParams/PQexecPrepared), not streamed in single-row mode. Why:
 * catalog code written for SQLite steps a SELECT and runs other
 * statements on the same connection inside the loop; single-row mode
 * holds the connection until the last row is read, so that code would
 * fail. Cost, measured on this machine (2 vCPU shared, loadavg 6.4):
 * 100,000 rows of (bigint, text of ~19 B) from generate_series over the
 * Unix socket, binary results, median of 11 runs: fetch-all 77 ms and
 * 8.4 MB of client heap while the result is held (~84 B a row, mallinfo2),
 * single-row mode 83 ms — no faster, so only the memory differs; the
 * catalog's biggest results (a dataset's nodes, the sample table) are
 * bounded by what the caller keeps in memory from them anyway. (A
 * throwaway libpq program, kept out of the tree; the figures move with
 * the load: the 5-run trial before it gave 126 and 98 ms.)
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
 * Schema: open (SQL_CREATE) applies schema_pg.c's steps in a transaction
 * holding the same advisory lock, so two servers starting at once do not
 * both create it, and refuses a catalog newer than this binary.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "store/schema_pg.h"
#include "store/sql.h"

/* the advisory lock key of write transactions: the bytes "sievefs\x01" */
#define PG_LOCK_KEY "8316289746098090753"
#define PG_ERRMSG 512
#define PG_DEALLOC_BATCH 32

/* type OIDs (pg_type.dat) */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25
#define OID_OID 26
#define OID_FLOAT4 700
#define OID_FLOAT8 701
#define OID_NUMERIC 1700

struct pg_db {
	struct sql_db base;
	char *target;
	int readonly;
};

struct pg_conn {
	struct sql_conn base;
	PGconn *pg;
	int broken;             /* lost: PQreset before the next call */
	unsigned epoch;         /* bumped by each reconnect */
	unsigned next_name;     /* for prepared statement names */
	int in_txn;
	int txn_err;            /* first error inside the transaction */
	int64_t changes;
	char **dealloc;         /* names to DEALLOCATE (current epoch) */
	size_t ndealloc;
	char err[PG_ERRMSG];
};

struct pg_param {
	Oid type;               /* 0 for NULL or unbound */
	int len;
	char *data;             /* NULL for NULL; else buf or malloc'd */
	int owned;
	char buf[8];
};

struct pg_stmt {
	struct sql_stmt base;
	char *sql;              /* rewritten, $N */
	int nparams;
	struct pg_param *par;
	char name[24];          /* "" until prepared */
	unsigned epoch;         /* of the preparation */
	Oid *ptypes;            /* types it was prepared with */
	int runs;
	PGresult *res;
	int row, nrows, done;
	char tbuf[64];          /* a number asked for as text */
};

static struct pg_conn *PC(sql_conn *c) { return (struct pg_conn *)c; }
static struct pg_stmt *PS(sql_stmt *s) { return (struct pg_stmt *)s; }

/* ---- errors ---- */

static void set_err(struct pg_conn *c, const char *what, const char *why)
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
static int pg_fail(struct pg_conn *c, PGresult *r)
{
	const char *state = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	const char *m = r ? PQresultErrorMessage(r) : "";

	if (!m || !*m)
		m = PQerrorMessage(c->pg);
	set_err(c, "", m);
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
static int txn_fail(struct pg_conn *c, int rc)
{
	if (c->in_txn && !c->txn_err)
		c->txn_err = rc;
	return rc;
}

/* Before any call that talks to the server: reconnects a lost session
 * (outside a transaction: inside one, the transaction is gone and the
 * caller must start again) and answers an aborted transaction's error. */
static int ready(struct pg_conn *c)
{
	size_t i;

	if (c->in_txn && c->txn_err) {
		return c->txn_err;
	}
	if (!c->broken && PQstatus(c->pg) == CONNECTION_OK)
		return 0;
	if (c->in_txn) {
		c->txn_err = -EAGAIN;
		set_err(c, "", "the connection to PostgreSQL was lost;"
			" the transaction was rolled back");
		return -EAGAIN;
	}
	PQreset(c->pg);
	for (i = 0; i < c->ndealloc; i++)
		free(c->dealloc[i]);
	c->ndealloc = 0;
	c->epoch++;
	if (PQstatus(c->pg) != CONNECTION_OK) {
		set_err(c, "cannot reconnect to PostgreSQL",
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

/* Replaces every occurrence of target's password in msg by "***" (libpq's
 * connection messages do not quote the URI today; this keeps it so). */
static void scrub(const char *target, char *msg)
{
	PQconninfoOption *o = PQconninfoParse(target, NULL), *p;

	if (!o)
		return;
	for (p = o; p->keyword; p++) {
		char *hit;
		size_t pl;

		if (strcmp(p->keyword, "password") || !p->val || !*p->val)
			continue;
		pl = strlen(p->val);
		while ((hit = strstr(msg, p->val)) != NULL) {
			size_t rest = strlen(hit + pl);
			memcpy(hit, "***", pl < 3 ? pl : 3);
			if (pl > 3)
				memmove(hit + 3, hit + pl, rest + 1);
		}
	}
	PQconninfoFree(o);
}

static PGconn *pg_connect(const struct pg_db *db)
{
	const char *keys[] = { "application_name", "connect_timeout",
			       "client_encoding", "options", "dbname", NULL };
	const char *vals[] = { "sievefs", "10", "SQL_ASCII",
			       db->readonly ? "-c default_transaction_read_only=on"
					    : "",
			       db->target, NULL };

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
		rc = pg_fail(c, r);
		PQclear(r);
		goto fail;
	}
	have = PQgetvalue(r, 0, 0)[0] == 't';
	PQclear(r);
	if (have) {
		r = PQexec(c->pg, "SELECT max(version) FROM schema_version");
		if (PQresultStatus(r) != PGRES_TUPLES_OK) {
			rc = pg_fail(c, r);
			PQclear(r);
			goto fail;
		}
		ver = atoi(PQgetvalue(r, 0, 0));
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

/* ---- statements ---- */

/* ?N → $N outside literals, identifiers and comments; *np = highest N.
 * NULL with -EINVAL in *rc for a bare '?' or a bad number. */
static char *rewrite(const char *in, int *np, int *rc)
{
	size_t n = strlen(in);
	char *out = malloc(n + 1), *o = out;
	const char *p = in;
	int max = 0;

	*rc = -ENOMEM;
	if (!out)
		return NULL;
	while (*p) {
		char q = *p;
		if (q == '\'' || q == '"') {
			*o++ = *p++;
			while (*p && *p != q)
				*o++ = *p++;
			if (*p)
				*o++ = *p++;   /* '' re-enters the loop */
		} else if (q == '-' && p[1] == '-') {
			while (*p && *p != '\n')
				*o++ = *p++;
		} else if (q == '/' && p[1] == '*') {
			const char *e = strstr(p + 2, "*/");
			size_t l = e ? (size_t)(e + 2 - p) : strlen(p);
			memcpy(o, p, l);
			o += l;
			p += l;
		} else if (q == '?') {
			long v = 0;
			p++;
			if (*p < '1' || *p > '9')
				goto bad;
			while (*p >= '0' && *p <= '9' && v < 100000)
				v = v * 10 + (*p++ - '0');
			if (v > 65535)
				goto bad;
			if (v > max)
				max = (int)v;
			/* "$N" is no longer than "?N" */
			o += sprintf(o, "$%ld", v);
		} else {
			*o++ = *p++;
		}
	}
	*o = '\0';
	*np = max;
	*rc = 0;
	return out;
bad:
	free(out);
	*rc = -EINVAL;
	return NULL;
}

static int pg_prepare(sql_conn *sc, const char *sql, sql_stmt **out)
{
	struct pg_conn *c = PC(sc);
	struct pg_stmt *s = calloc(1, sizeof(*s));
	int rc;

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->base.eng = &sql_pg;
	s->base.conn = sc;
	s->sql = rewrite(sql, &s->nparams, &rc);
	if (!s->sql) {
		set_err(c, "", rc == -EINVAL ? "a parameter is not ?N (N >= 1)"
			: "out of memory");
		free(s);
		return rc;
	}
	if (s->nparams) {
		s->par = calloc((size_t)s->nparams, sizeof(*s->par));
		s->ptypes = calloc((size_t)s->nparams, sizeof(*s->ptypes));
		if (!s->par || !s->ptypes) {
			free(s->par);
			free(s->ptypes);
			free(s->sql);
			free(s);
			return -ENOMEM;
		}
	}
	*out = &s->base;
	return 0;
}

static void clear_param(struct pg_param *p)
{
	if (p->owned)
		free(p->data);
	memset(p, 0, sizeof(*p));
}

/* Queues s's server-side statement for DEALLOCATE, when it has one in
 * the current session. */
static void forget_name(struct pg_stmt *s)
{
	struct pg_conn *c = PC(s->base.conn);
	char **v;

	if (!s->name[0] || s->epoch != c->epoch)
		goto out;
	v = realloc(c->dealloc, (c->ndealloc + 1) * sizeof(*v));
	if (!v)
		goto out;   /* leaks a name on the server until reconnect */
	c->dealloc = v;
	if ((v[c->ndealloc] = strdup(s->name)) != NULL)
		c->ndealloc++;
out:
	s->name[0] = '\0';
}

/* Sends the queued DEALLOCATEs in one round trip (outside transactions:
 * inside an aborted one they would fail). */
static void dealloc_flush(struct pg_conn *c)
{
	char q[PG_DEALLOC_BATCH * 32 + 1];
	size_t n = 0, i;

	if (c->in_txn || c->ndealloc < PG_DEALLOC_BATCH)
		return;
	for (i = 0; i < c->ndealloc; i++) {
		n += (size_t)snprintf(q + n, sizeof(q) - n, "DEALLOCATE %s;",
				      c->dealloc[i]);
		free(c->dealloc[i]);
	}
	c->ndealloc = 0;
	PQclear(PQexec(c->pg, q));
}

static void pg_finalize(sql_stmt *ss)
{
	struct pg_stmt *s = PS(ss);

	if (!s)
		return;
	PQclear(s->res);
	forget_name(s);
	for (int i = 0; i < s->nparams; i++)
		clear_param(&s->par[i]);
	free(s->par);
	free(s->ptypes);
	free(s->sql);
	free(s);
}

static void pg_reset(sql_stmt *ss)
{
	struct pg_stmt *s = PS(ss);

	PQclear(s->res);
	s->res = NULL;
	s->row = s->nrows = s->done = 0;
}

static struct pg_param *param(struct pg_stmt *s, int i)
{
	if (i < 1 || i > s->nparams) {
		set_err(PC(s->base.conn), "", "parameter index out of range");
		return NULL;
	}
	clear_param(&s->par[i - 1]);
	return &s->par[i - 1];
}

static void put_be64(char *b, uint64_t v)
{
	for (int k = 7; k >= 0; k--, v >>= 8)
		b[k] = (char)(v & 0xff);
}

static int pg_bind_int64(sql_stmt *ss, int i, int64_t v)
{
	struct pg_param *p = param(PS(ss), i);

	if (!p)
		return -EINVAL;
	p->type = OID_INT8;
	put_be64(p->buf, (uint64_t)v);
	p->data = p->buf;
	p->len = 8;
	return 0;
}

static int pg_bind_double(sql_stmt *ss, int i, double v)
{
	struct pg_param *p = param(PS(ss), i);
	uint64_t u;

	if (!p)
		return -EINVAL;
	memcpy(&u, &v, sizeof(u));
	p->type = OID_FLOAT8;
	put_be64(p->buf, u);
	p->data = p->buf;
	p->len = 8;
	return 0;
}

static int bind_bytes(sql_stmt *ss, int i, Oid type, const void *v,
		      size_t len)
{
	struct pg_param *p = param(PS(ss), i);

	if (!p)
		return -EINVAL;
	if (len > INT32_MAX)
		return -EFBIG;
	p->data = malloc(len ? len : 1);
	if (!p->data)
		return -ENOMEM;
	if (len)
		memcpy(p->data, v, len);
	p->owned = 1;
	p->type = type;
	p->len = (int)len;
	return 0;
}

static int pg_bind_text(sql_stmt *ss, int i, const char *v, size_t len)
{
	if (!v)
		return ss->eng->bind_null(ss, i);
	return bind_bytes(ss, i, OID_TEXT, v, len);
}

static int pg_bind_blob(sql_stmt *ss, int i, const void *v, size_t len)
{
	if (!v && len)
		return ss->eng->bind_null(ss, i);
	return bind_bytes(ss, i, OID_BYTEA, v, len);
}

static int pg_bind_null(sql_stmt *ss, int i)
{
	return param(PS(ss), i) ? 0 : -EINVAL;
}

/* The command's row count into c->changes, for INSERT/UPDATE/DELETE. */
static void count_changes(struct pg_conn *c, PGresult *r)
{
	const char *st = PQcmdStatus(r);

	if (!strncmp(st, "INSERT", 6) || !strncmp(st, "UPDATE", 6) ||
	    !strncmp(st, "DELETE", 6) || !strncmp(st, "MERGE", 5))
		c->changes = strtoll(PQcmdTuples(r), NULL, 10);
}

/* A prepared statement can take this run's bindings: every non-NULL
 * binding has the type it was prepared with. */
static int types_fit(const struct pg_stmt *s)
{
	for (int i = 0; i < s->nparams; i++)
		if (s->par[i].type && s->par[i].type != s->ptypes[i])
			return 0;
	return 1;
}

static PGresult *run(struct pg_conn *c, struct pg_stmt *s)
{
	const char **vals = NULL;
	int *lens = NULL, *fmts = NULL;
	Oid *types = NULL;
	PGresult *r = NULL;
	int n = s->nparams;

	if (n) {
		vals = calloc((size_t)n, sizeof(*vals));
		lens = calloc((size_t)n, sizeof(*lens));
		fmts = calloc((size_t)n, sizeof(*fmts));
		types = calloc((size_t)n, sizeof(*types));
		if (!vals || !lens || !fmts || !types)
			goto out;
		for (int i = 0; i < n; i++) {
			vals[i] = s->par[i].data;
			lens[i] = s->par[i].len;
			fmts[i] = 1;
			types[i] = s->par[i].type;
		}
	}
	if (s->name[0] && (s->epoch != c->epoch || !types_fit(s)))
		forget_name(s);
	if (!s->name[0] && s->runs > 0) {
		/* run again: worth a named statement */
		snprintf(s->name, sizeof(s->name), "s%u", ++c->next_name);
		r = PQprepare(c->pg, s->name, s->sql, n, types);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			s->name[0] = '\0';
			goto out;
		}
		PQclear(r);
		r = NULL;
		s->epoch = c->epoch;
		if (n)
			memcpy(s->ptypes, types, (size_t)n * sizeof(*types));
	}
	if (s->name[0])
		r = PQexecPrepared(c->pg, s->name, n, vals, lens, fmts, 1);
	else
		r = PQexecParams(c->pg, s->sql, n, types, vals, lens, fmts, 1);
out:
	free(vals);
	free(lens);
	free(fmts);
	free(types);
	return r;
}

static int pg_step(sql_stmt *ss)
{
	struct pg_stmt *s = PS(ss);
	struct pg_conn *c = PC(ss->conn);
	int rc;

	if (s->done)
		return SQL_DONE;
	if (!s->res) {
		if ((rc = ready(c)) != 0)
			return rc;
		dealloc_flush(c);
		s->res = run(c, s);
		s->runs++;
		switch (PQresultStatus(s->res)) {
		case PGRES_COMMAND_OK:
			count_changes(c, s->res);
			goto done;
		case PGRES_TUPLES_OK:
			count_changes(c, s->res);
			s->nrows = PQntuples(s->res);
			s->row = -1;
			break;
		default:
			rc = s->res ? pg_fail(c, s->res) : -ENOMEM;
			if (!s->res)
				set_err(c, "", "out of memory");
			PQclear(s->res);
			s->res = NULL;
			/* a statement that failed to prepare names nothing */
			return txn_fail(c, rc);
		}
	}
	if (++s->row < s->nrows)
		return SQL_ROW;
done:
	/* no column is readable after the last row: a cached statement
	 * does not hold its result until its next run */
	PQclear(s->res);
	s->res = NULL;
	s->done = 1;
	return SQL_DONE;
}

/* ---- columns ---- */

static uint64_t get_be(const unsigned char *b, int n)
{
	uint64_t v = 0;

	for (int k = 0; k < n; k++)
		v = v << 8 | b[k];
	return v;
}

/* Binary numeric: ndigits, weight, sign, dscale, then base-10000 digits.
 * Into *iv (truncated) and *dv. */
static void numeric(const unsigned char *b, int len, int64_t *iv,
		    double *dv)
{
	int nd, weight, sign;
	double d = 0;
	int64_t v = 0;

	*iv = 0;
	*dv = 0;
	if (len < 8)
		return;
	nd = (int)get_be(b, 2);
	weight = (int16_t)get_be(b + 2, 2);
	sign = (int)get_be(b + 4, 2);
	if (len < 8 + 2 * nd || sign == 0xC000)   /* NaN */
		return;
	for (int k = 0; k < nd; k++) {
		int dig = (int)get_be(b + 8 + 2 * k, 2);
		int pos = weight - k;   /* power of 10000 */
		double m = 1;
		for (int e = 0; e < (pos < 0 ? -pos : pos); e++)
			m *= 10000;
		d += pos < 0 ? dig / m : dig * m;
		if (pos >= 0) {
			int64_t t = dig;
			for (int e = 0; e < pos; e++)
				t *= 10000;
			v += t;
		}
	}
	*iv = sign == 0x4000 ? -v : v;
	*dv = sign == 0x4000 ? -d : d;
}

static int col_ok(struct pg_stmt *s, int i)
{
	return s->res && s->row >= 0 && s->row < s->nrows && i >= 0 &&
	       i < PQnfields(s->res);
}

static int pg_col_is_null(sql_stmt *ss, int i)
{
	struct pg_stmt *s = PS(ss);

	return !col_ok(s, i) || PQgetisnull(s->res, s->row, i);
}

/* Reads column i as a number: 1 integer (*iv), 2 double (*dv), 0 not a
 * number type (text/bytea: the caller parses the text). */
static int number(struct pg_stmt *s, int i, int64_t *iv, double *dv)
{
	const unsigned char *b =
		(const unsigned char *)PQgetvalue(s->res, s->row, i);
	int len = PQgetlength(s->res, s->row, i);

	switch (PQftype(s->res, i)) {
	case OID_BOOL:
		*iv = len >= 1 && b[0];
		return 1;
	case OID_INT2:
		*iv = len >= 2 ? (int16_t)get_be(b, 2) : 0;
		return 1;
	case OID_INT4:
		*iv = len >= 4 ? (int32_t)get_be(b, 4) : 0;
		return 1;
	case OID_OID:
		*iv = len >= 4 ? (int64_t)get_be(b, 4) : 0;
		return 1;
	case OID_INT8:
		*iv = len >= 8 ? (int64_t)get_be(b, 8) : 0;
		return 1;
	case OID_FLOAT4: {
		uint32_t u = len >= 4 ? (uint32_t)get_be(b, 4) : 0;
		float f;
		memcpy(&f, &u, sizeof(f));
		*dv = f;
		return 2;
	}
	case OID_FLOAT8: {
		uint64_t u = len >= 8 ? get_be(b, 8) : 0;
		memcpy(dv, &u, sizeof(*dv));
		return 2;
	}
	case OID_NUMERIC:
		numeric(b, len, iv, dv);
		/* an integral value reads as one (sum of bigint) */
		return (double)*iv == *dv ? 1 : 2;
	default:
		return 0;
	}
}

static int64_t pg_col_int64(sql_stmt *ss, int i)
{
	struct pg_stmt *s = PS(ss);
	int64_t iv = 0;
	double dv = 0;

	if (pg_col_is_null(ss, i))
		return 0;
	switch (number(s, i, &iv, &dv)) {
	case 1: return iv;
	case 2: return (int64_t)dv;
	default: return strtoll(PQgetvalue(s->res, s->row, i), NULL, 10);
	}
}

static double pg_col_double(sql_stmt *ss, int i)
{
	struct pg_stmt *s = PS(ss);
	int64_t iv = 0;
	double dv = 0;

	if (pg_col_is_null(ss, i))
		return 0;
	switch (number(s, i, &iv, &dv)) {
	case 1: return (double)iv;
	case 2: return dv;
	default: return strtod(PQgetvalue(s->res, s->row, i), NULL);
	}
}

static const char *pg_col_text(sql_stmt *ss, int i)
{
	struct pg_stmt *s = PS(ss);
	int64_t iv = 0;
	double dv = 0;

	if (pg_col_is_null(ss, i))
		return "";
	switch (number(s, i, &iv, &dv)) {
	case 1:
		snprintf(s->tbuf, sizeof(s->tbuf), "%" PRId64, iv);
		return s->tbuf;
	case 2:
		snprintf(s->tbuf, sizeof(s->tbuf), "%.17g", dv);
		return s->tbuf;
	default:
		return PQgetvalue(s->res, s->row, i);
	}
}

static const void *pg_col_blob(sql_stmt *ss, int i)
{
	struct pg_stmt *s = PS(ss);

	if (pg_col_is_null(ss, i))
		return NULL;
	if (number(s, i, &(int64_t){0}, &(double){0}))
		return pg_col_text(ss, i);
	return PQgetvalue(s->res, s->row, i);
}

static size_t pg_col_bytes(sql_stmt *ss, int i)
{
	struct pg_stmt *s = PS(ss);

	if (pg_col_is_null(ss, i))
		return 0;
	if (number(s, i, &(int64_t){0}, &(double){0}))
		return strlen(pg_col_text(ss, i));
	return (size_t)PQgetlength(s->res, s->row, i);
}

/* ---- connection-level calls ---- */

static int64_t pg_changes(sql_conn *c)
{
	return PC(c)->changes;
}

static int pg_exec_conn(sql_conn *sc, const char *sql)
{
	struct pg_conn *c = PC(sc);
	PGresult *r;
	int rc;

	if ((rc = ready(c)) != 0)
		return rc;
	r = PQexec(c->pg, sql);
	switch (PQresultStatus(r)) {
	case PGRES_COMMAND_OK:
	case PGRES_TUPLES_OK:
	case PGRES_EMPTY_QUERY:
		count_changes(c, r);
		PQclear(r);
		return 0;
	default:
		rc = r ? pg_fail(c, r) : -ENOMEM;
		PQclear(r);
		return txn_fail(c, rc);
	}
}

static int pg_begin(sql_conn *sc)
{
	struct pg_conn *c = PC(sc);
	int rc;

	if (c->in_txn) {
		set_err(c, "", "a transaction is already open on this"
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
		set_err(c, "", "no transaction is open on this connection");
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
		rc = r ? pg_fail(c, r) : -ENOMEM;
	} else if (strcmp(PQcmdStatus(r), "COMMIT")) {
		/* the server rolled back (an earlier error we did not see) */
		set_err(c, "", "the transaction was rolled back by the server");
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
	.open = pg_open,
	.close = pg_close,
	.connect = pg_conn_open,
	.disconnect = pg_disconnect,
	.prepare = pg_prepare,
	.finalize = pg_finalize,
	.reset = pg_reset,
	.bind_int64 = pg_bind_int64,
	.bind_double = pg_bind_double,
	.bind_text = pg_bind_text,
	.bind_blob = pg_bind_blob,
	.bind_null = pg_bind_null,
	.step = pg_step,
	.col_is_null = pg_col_is_null,
	.col_int64 = pg_col_int64,
	.col_double = pg_col_double,
	.col_text = pg_col_text,
	.col_blob = pg_col_blob,
	.col_bytes = pg_col_bytes,
	.changes = pg_changes,
	.exec = pg_exec_conn,
	.begin = pg_begin,
	.commit = pg_commit,
	.rollback = pg_rollback,
	.errmsg = pg_errmsg,
	.where = pg_where,
};
