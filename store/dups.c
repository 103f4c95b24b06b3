/*
 * dups.c — a dataset's `duplicates` setting in the catalog (issue 21; kept
 * here since session 27, before only in a process's memory):
 *
 *   dups_settings(dataset PRIMARY KEY, max_distance, emb)
 *
 * One row per dataset that asked for near duplicates ("max_distance=D
 * embedding=NAME"); no row means exact duplicates only. core/dups_run.c
 * validates the line and reads the row each time the file is read, so a
 * restarted server, and every server sharing the catalog, shows the same
 * groups. Schema: PostgreSQL's version 4 (schema_pg.c), SQLite's
 * dups_schema (schema_sqlite.c). The row goes with its dataset
 * (store_dataset_delete, catalog.c).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"

int store_dups_setting_get(store *st, int64_t ds, double *max_distance,
			   char *emb, size_t emblen)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	if (!(s = db_prep(c, "SELECT max_distance, emb FROM dups_settings"
			  " WHERE dataset=?1")))
		return -EIO;
	sql_bind_int64(s, 1, ds);
	rc = sql_step(s);
	if (rc == SQL_ROW) {
		const char *t = sql_col_text(s, 1);
		*max_distance = sql_col_double(s, 0);
		snprintf(emb, emblen, "%s", t ? t : "");
		rc = 1;
	} else {
		rc = db_err(rc);
	}
	sql_finalize(s);
	return rc;
}

int store_dups_setting_set(store *st, int64_t ds, double max_distance,
			   const char *emb)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	if ((rc = db_begin(c)) != 0)
		return rc;
	s = db_prep(c, emb ? "INSERT INTO dups_settings(dataset, max_distance,"
		    " emb) VALUES(?1, ?2, ?3) ON CONFLICT(dataset) DO UPDATE"
		    " SET max_distance=excluded.max_distance,"
		    " emb=excluded.emb" :
		    "DELETE FROM dups_settings WHERE dataset=?1");
	if (!s) {
		rc = -EIO;
	} else {
		sql_bind_int64(s, 1, ds);
		if (emb) {
			sql_bind_double(s, 2, max_distance);
			db_bind_str(s, 3, emb);
		}
		rc = db_err(sql_step(s));
		sql_finalize(s);
	}
	return db_end(c, rc);
}
