/*
 * sql_pg.h — private to the PostgreSQL engine, which is two files:
 * store/sql_pg.c (connections, transactions, errors, opening and the
 * schema; the engine table) and store/sql_pg_stmt.c (statements, their
 * parameters and results). Each explains its design at its top; this
 * header holds what they share: the database and connection structs and
 * the calls one file makes of the other.
 */
#ifndef SIEVEFS_STORE_SQL_PG_H
#define SIEVEFS_STORE_SQL_PG_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "store/sql.h"

#define PG_ERRMSG 512

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

static inline struct pg_conn *PC(sql_conn *c)
{
	return (struct pg_conn *)c;
}

/* ---- sql_pg.c ---- */

/* c's message for errmsg: "what: why" (either may be ""), without the
 * trailing newline libpq puts on its messages. */
void sqlpg_set_err(struct pg_conn *c, const char *what, const char *why);
/* The error of result r (may be NULL) on c, as a negative errno (sql.h);
 * marks c for reconnect when the session is gone. */
int sqlpg_fail(struct pg_conn *c, PGresult *r);
/* rc, remembered as the transaction's first error when c is in one (an
 * error aborts a PostgreSQL transaction). */
int sqlpg_txn_fail(struct pg_conn *c, int rc);
/* Before any call that talks to the server: 0, or the aborted
 * transaction's error, or -EAGAIN when the session is lost (reconnected
 * here outside a transaction). */
int sqlpg_ready(struct pg_conn *c);
/* The command's row count into c->changes, for INSERT/UPDATE/DELETE. */
void sqlpg_count_changes(struct pg_conn *c, PGresult *r);

/* ---- sql_pg_stmt.c: the engine's statement calls, as sql.h says ---- */

int sqlpg_prepare(sql_conn *c, const char *sql, sql_stmt **out);
void sqlpg_finalize(sql_stmt *s);
void sqlpg_reset(sql_stmt *s);
int sqlpg_bind_int64(sql_stmt *s, int i, int64_t v);
int sqlpg_bind_double(sql_stmt *s, int i, double v);
int sqlpg_bind_text(sql_stmt *s, int i, const char *v, size_t len);
int sqlpg_bind_blob(sql_stmt *s, int i, const void *v, size_t len);
int sqlpg_bind_null(sql_stmt *s, int i);
int sqlpg_step(sql_stmt *s);
int sqlpg_col_is_null(sql_stmt *s, int i);
int64_t sqlpg_col_int64(sql_stmt *s, int i);
double sqlpg_col_double(sql_stmt *s, int i);
const char *sqlpg_col_text(sql_stmt *s, int i);
const void *sqlpg_col_blob(sql_stmt *s, int i);
size_t sqlpg_col_bytes(sql_stmt *s, int i);

#endif
