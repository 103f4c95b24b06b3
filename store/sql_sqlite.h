/*
 * sql_sqlite.h — private to the SQLite engine (sql_sqlite.c and its schema,
 * schema_sqlite.c): nothing else includes it, and nothing outside these
 * two files includes sqlite3.h.
 */
#ifndef SIEVEFS_STORE_SQL_SQLITE_H
#define SIEVEFS_STORE_SQL_SQLITE_H

#include <sqlite3.h>

/* SQLite result code → 0 (OK, ROW, DONE) or a negative errno, as sql.h
 * says: constraint → -EEXIST, full → -ENOSPC, busy/locked → -EBUSY,
 * readonly → -EROFS, nomem → -ENOMEM, else -EIO. */
int sqlite_err(int rc);
/* Creates the catalog's tables, indexes and triggers on h, and upgrades a
 * catalog made by an older version, in one write transaction. 0 or
 * -errno. */
int sqlite_schema(sqlite3 *h);

#endif
