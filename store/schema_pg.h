/*
 * schema_pg.h — private to store/sql_pg.c: the PostgreSQL catalog's schema
 * as a list of upgrade steps (schema_pg.c). Step i (0-based) brings a
 * catalog at version i to version i + 1; version 0 is an empty database.
 * sql_pg.c runs the missing steps in one transaction under the catalog's
 * advisory lock and records the result in schema_version.
 */
#ifndef SIEVEFS_STORE_SCHEMA_PG_H
#define SIEVEFS_STORE_SCHEMA_PG_H

/* The version this binary writes; a catalog newer than it is refused. */
#define SCHEMA_PG_VERSION 4

/* SQL of each step, SCHEMA_PG_VERSION entries; each may hold several
 * statements (run with the simple-query protocol). */
extern const char *const schema_pg_steps[SCHEMA_PG_VERSION];

#endif
