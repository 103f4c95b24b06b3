/*
 * sql.h — private to store/: the catalog's SQL engine interface. The
 * catalog's code (catalog.c, users.c, vectors.c, ...) is written once, in
 * portable SQL, against this interface; each engine is one file behind it:
 *
 *   store/sql_sqlite.c  SQLite (the embedded store and a single server; the
 *                       default): one file STORE/catalog.db, WAL
 *   store/sql_pg.c      PostgreSQL 15 through libpq (several stateless
 *                       servers on one catalog); sql_pg_stmt.c its
 *                       statements
 *
 * and each engine brings its own schema (CREATE TABLE, indexes, triggers,
 * upgrades), because DDL and triggers are where the dialects differ most.
 * No code outside an engine's file asks which engine it runs on.
 *
 * Portable SQL (what every statement given to sql_prepare must keep to):
 *   - parameters are ?1 ?2 ... (numbered; the same number may repeat); an
 *     engine rewrites them to its own syntax ($1 for PostgreSQL) outside
 *     string literals;
 *   - integers are 64-bit (BIGINT), text is TEXT holding any bytes but
 *     NUL (names need not be UTF-8, as on Linux), bytes are BLOB /
 *     BYTEA and are bound and read only with the _blob calls; a boolean
 *     expression in a result column is read with sql_col_int64 (0 or 1);
 *   - no rowid, no last_insert_rowid(): a new id comes back with
 *     INSERT ... RETURNING id; no INSERT OR IGNORE / OR REPLACE: use
 *     INSERT ... ON CONFLICT (cols) DO NOTHING / DO UPDATE SET ...=excluded...;
 *   - no engine functions outside the SQL standard and both engines
 *     (coalesce, substr, length, lower, abs, count, sum, min, max as
 *     aggregates, CASE, ||, EXISTS are fine; SQLite's scalar max(a,b),
 *     hex(), randomblob(), glob, iif, printf, PRAGMA are not — do that
 *     work in C); substr and length count in the engine's own units
 *     (SQLite: UTF-8 characters; PostgreSQL, an SQL_ASCII database:
 *     bytes), so use them only within one statement, against each other
 *     (substr(path, length(?1)) where path starts with ?1), never with
 *     a position counted in C;
 *   - string comparison of ORDER BY and = is bytewise: the PostgreSQL
 *     schema gives text columns COLLATE "C", as SQLite's BINARY compares;
 *   - a queue's claim locks the row it takes and passes over rows another
 *     transaction holds: write SQL_SKIP_LOCKED (" FOR UPDATE SKIP
 *     LOCKED") after the SELECT that picks the row (a subquery of the
 *     claiming UPDATE is fine). PostgreSQL runs it as written; SQLite has
 *     no row locks (a write transaction holds the whole database, so two
 *     claimers are serialised anyway) and its engine drops the clause at
 *     prepare — the one rewrite of a statement's words an engine makes
 *     besides parameters.
 *
 * Transactions. sql_begin starts a write transaction that excludes every
 * other write transaction on the same catalog, from any process (SQLite:
 * BEGIN IMMEDIATE; PostgreSQL: a transaction-level advisory lock taken
 * first), so a check followed by an act inside one transaction is never
 * raced by another writer, as in the embedded store today. Reads outside a
 * transaction see the latest committed state. An engine that loses its
 * connection reconnects on the next call; a statement that fails because
 * of that, or because of a serialization failure or deadlock (SQLSTATE
 * 40001, 40P01), returns -EAGAIN, and so does sql_commit: the caller's
 * transaction was rolled back as a whole and may be run again from its
 * start (sql_txn does that). A connection lost while COMMIT itself was
 * on its way is not that: the server may have committed, so sql_commit
 * answers -EIO ("may or may not have been committed") and nothing runs
 * it again.
 *
 * Ownership and threads. An sql_db is one open catalog, shared by every
 * thread; an sql_conn belongs to one thread at a time; an sql_stmt belongs
 * to its connection and is used by one thread at a time. Strings and blobs
 * returned by sql_col_* stay valid until the next step, reset or finalize
 * of that statement.
 *
 * Errors: 0 or a negative errno. -EEXIST a unique or primary-key
 * violation; -ENOSPC the engine's disk is full; -EAGAIN retry the
 * transaction (above); -EBUSY / -ETIMEDOUT the engine did not answer in
 * time; -EROFS a read-only catalog; -EIO anything else (the engine's
 * message is in sql_errmsg until the connection's next call).
 */
#ifndef SIEVEFS_STORE_SQL_H
#define SIEVEFS_STORE_SQL_H

#include <stddef.h>
#include <stdint.h>

typedef struct sql_db sql_db;
typedef struct sql_conn sql_conn;
typedef struct sql_stmt sql_stmt;

/* sql_step's answers besides a negative errno. */
#define SQL_DONE 0
#define SQL_ROW 1

/* sql_open flags */
#define SQL_CREATE 1    /* create the catalog (schema) if it is missing */
#define SQL_READONLY 2  /* no write will be made through this handle */

/* See "Portable SQL": the claim of a queue's row. */
#define SQL_SKIP_LOCKED " FOR UPDATE SKIP LOCKED"

struct sql_engine {
	const char *name;      /* "sqlite", "postgresql" */
	/* 1: processes on other machines may open the same catalog as
	 * serving owners at once (PostgreSQL), so a directory's flock does
	 * not make one owner of it: crash recovery goes by server leases in
	 * the catalog (store/servers.c). 0: the catalog is a file beside the
	 * store's lock (SQLite): its flock holder is its one owner. */
	int shared;
	/* Opens the catalog `target` (SQLite: a file path; PostgreSQL: a
	 * libpq connection URI or keyword string — its secrets come from
	 * libpq's own places: the URI, PGPASSWORD, ~/.pgpass), creating or
	 * upgrading its schema when flags allow. msg (when non-NULL, at
	 * least 256 bytes) gets a reason a person can act on; it never holds
	 * a password. */
	int (*open)(const char *target, int flags, sql_db **out, char *msg);
	void (*close)(sql_db *db);
	int (*connect)(sql_db *db, sql_conn **out);
	void (*disconnect)(sql_conn *c);
	int (*prepare)(sql_conn *c, const char *sql, sql_stmt **out);
	void (*finalize)(sql_stmt *s);
	/* Back to before the first step; bindings are kept until rebound. */
	void (*reset)(sql_stmt *s);
	int (*bind_int64)(sql_stmt *s, int i, int64_t v);
	int (*bind_double)(sql_stmt *s, int i, double v);
	int (*bind_text)(sql_stmt *s, int i, const char *v, size_t len);
	int (*bind_blob)(sql_stmt *s, int i, const void *v, size_t len);
	int (*bind_null)(sql_stmt *s, int i);
	int (*step)(sql_stmt *s);
	int (*col_is_null)(sql_stmt *s, int i);
	int64_t (*col_int64)(sql_stmt *s, int i);
	double (*col_double)(sql_stmt *s, int i);
	const char *(*col_text)(sql_stmt *s, int i);   /* "" for NULL */
	const void *(*col_blob)(sql_stmt *s, int i);   /* NULL for NULL */
	size_t (*col_bytes)(sql_stmt *s, int i);
	/* Rows changed by the connection's last INSERT/UPDATE/DELETE. */
	int64_t (*changes)(sql_conn *c);
	/* Runs SQL without parameters or results (may hold several
	 * statements). */
	int (*exec)(sql_conn *c, const char *sql);
	int (*begin)(sql_conn *c);
	int (*commit)(sql_conn *c);
	void (*rollback)(sql_conn *c);
	const char *(*errmsg)(sql_conn *c);
	/* Optional (NULL: commit is already durable): a commit that
	 * returns only once the transaction is on disk (SQLite runs with
	 * synchronous=NORMAL; an upload may ask for more). Same answers as
	 * commit. */
	int (*commit_durable)(sql_conn *c);
	/* Where db's catalog is, for a message (SQLite: the file's path;
	 * PostgreSQL: host, port, database and user, never a password):
	 * at most len bytes into out. */
	void (*where)(sql_db *db, char *out, size_t len);
};

struct sql_db {
	const struct sql_engine *eng;  /* engines embed this first */
};
struct sql_conn {
	const struct sql_engine *eng;
	sql_db *db;
};
struct sql_stmt {
	const struct sql_engine *eng;
	sql_conn *conn;
};

extern const struct sql_engine sql_sqlite;
extern const struct sql_engine sql_pg;

/* The engine for a catalog target: "postgresql://…" or "postgres://…" →
 * sql_pg; anything else is a path → sql_sqlite. Never NULL. */
const struct sql_engine *sql_engine_for(const char *target);

/* Thin dispatch, so the catalog's code reads like the SQLite API it was
 * written in. */
static inline int sql_prepare(sql_conn *c, const char *q, sql_stmt **s)
{ return c->eng->prepare(c, q, s); }
static inline void sql_finalize(sql_stmt *s)
{ if (s) s->eng->finalize(s); }
static inline void sql_reset(sql_stmt *s) { s->eng->reset(s); }
static inline int sql_bind_int64(sql_stmt *s, int i, int64_t v)
{ return s->eng->bind_int64(s, i, v); }
static inline int sql_bind_double(sql_stmt *s, int i, double v)
{ return s->eng->bind_double(s, i, v); }
static inline int sql_bind_text(sql_stmt *s, int i, const char *v,
				size_t len)
{ return s->eng->bind_text(s, i, v, len); }
static inline int sql_bind_blob(sql_stmt *s, int i, const void *v,
				size_t len)
{ return s->eng->bind_blob(s, i, v, len); }
static inline int sql_bind_null(sql_stmt *s, int i)
{ return s->eng->bind_null(s, i); }
static inline int sql_step(sql_stmt *s) { return s->eng->step(s); }
static inline int sql_col_is_null(sql_stmt *s, int i)
{ return s->eng->col_is_null(s, i); }
static inline int64_t sql_col_int64(sql_stmt *s, int i)
{ return s->eng->col_int64(s, i); }
static inline double sql_col_double(sql_stmt *s, int i)
{ return s->eng->col_double(s, i); }
static inline const char *sql_col_text(sql_stmt *s, int i)
{ return s->eng->col_text(s, i); }
static inline const void *sql_col_blob(sql_stmt *s, int i)
{ return s->eng->col_blob(s, i); }
static inline size_t sql_col_bytes(sql_stmt *s, int i)
{ return s->eng->col_bytes(s, i); }
static inline int64_t sql_changes(sql_conn *c)
{ return c->eng->changes(c); }
static inline int sql_exec(sql_conn *c, const char *q)
{ return c->eng->exec(c, q); }
static inline const char *sql_errmsg(sql_conn *c)
{ return c->eng->errmsg(c); }

/* Runs body(c, arg) inside a write transaction (sql_begin … sql_commit),
 * rolling back when body returns non-zero; when the body or the commit
 * answers -EAGAIN the whole transaction runs again, up to SQL_TXN_TRIES
 * times in all, with a short random backoff. body must have no effect
 * outside the transaction that a second run would repeat. Returns body's
 * result or the commit's error. */
#define SQL_TXN_TRIES 8
int sql_txn(sql_conn *c, int (*body)(sql_conn *c, void *arg), void *arg);

#endif
