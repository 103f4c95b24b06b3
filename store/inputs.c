/*
 * inputs.c — the predictions/ and metadata/ inputs in the catalog (issue 21).
 *
 *   inputs(id, dataset, kind, name, rows, cols, bytes, created, body)
 *     UNIQUE(dataset, kind, name); body: the CSV text as uploaded
 *
 * The text is kept as it came, so reading NAME.csv back gives the same
 * bytes, and rows are matched to samples by path when a column is read
 * (core/columns.c), as vectors are: one input serves initial-tag and every
 * tag made from it. These files are a few numbers per sample, so one row
 * per input (no per-sample rows) keeps an upload a single INSERT. An upload
 * replaces the input of the same kind and name in one transaction.
 * Schema: version 3 of PostgreSQL (schema_pg.c), its SQLite equivalent in
 * schema_sqlite.c; a change counter (kind 4, the embeddings') bumps on
 * every write, so remote mounts see a new input as they see embeddings.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

#define IN_COLS "id, dataset, kind, name, rows, cols, bytes, created"

static void in_row(sql_stmt *s, void *out)
{
	struct store_input *e = out;

	memset(e, 0, sizeof(*e));
	e->id = sql_col_int64(s, 0);
	e->dataset = sql_col_int64(s, 1);
	e->kind = (int)sql_col_int64(s, 2);
	snprintf(e->name, sizeof(e->name), "%s", sql_col_text(s, 3));
	e->rows = sql_col_int64(s, 4);
	e->cols = sql_col_int64(s, 5);
	e->bytes = sql_col_int64(s, 6);
	e->created_ns = sql_col_int64(s, 7);
}

int store_input_put(store *st, int64_t dataset, int kind, const char *name,
		    const char *text, size_t len, int64_t rows, int64_t cols,
		    struct store_input *out)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int64_t id = 0;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	s = db_prep(c, "DELETE FROM inputs WHERE dataset=?1 AND kind=?2 AND"
		    " name=?3");
	if (!s) {
		rc = -EIO;
		goto out;
	}
	sql_bind_int64(s, 1, dataset);
	sql_bind_int64(s, 2, kind);
	db_bind_str(s, 3, name);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	if (rc)
		goto out;
	s = db_prep(c, "INSERT INTO inputs(dataset,kind,name,rows,cols,bytes,"
		    "created,body) VALUES(?1,?2,?3,?4,?5,?6,?7,?8) RETURNING id");
	if (!s) {
		rc = -EIO;
		goto out;
	}
	sql_bind_int64(s, 1, dataset);
	sql_bind_int64(s, 2, kind);
	db_bind_str(s, 3, name);
	sql_bind_int64(s, 4, rows);
	sql_bind_int64(s, 5, cols);
	sql_bind_int64(s, 6, (int64_t)len);
	sql_bind_int64(s, 7, store_now_ns());
	sql_bind_blob(s, 8, len ? text : "", len);
	rc = db_insert_id(s, &id);
	sql_finalize(s);
out:
	rc = db_end(c, rc);
	if (!rc && out)
		rc = store_input_get_id(st, id, out);
	return rc;
}

static int in_query(store *st, const char *sql, int64_t a, int64_t b,
		    const char *name, struct store_input *out)
{
	struct conn *c = db_conn(st);
	sql_stmt *s = c ? db_prep(c, sql) : NULL;
	int r;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, a);
	if (name) {
		sql_bind_int64(s, 2, b);
		db_bind_str(s, 3, name);
	}
	r = sql_step(s);
	if (r == SQL_ROW)
		in_row(s, out);
	sql_finalize(s);
	return r == SQL_ROW ? 0 : r == SQL_DONE ? -ENOENT : db_err(r);
}

int store_input_get(store *st, int64_t dataset, int kind, const char *name,
		    struct store_input *out)
{
	return in_query(st, "SELECT " IN_COLS " FROM inputs WHERE dataset=?1"
			" AND kind=?2 AND name=?3", dataset, kind, name, out);
}

int store_input_get_id(store *st, int64_t id, struct store_input *out)
{
	return in_query(st, "SELECT " IN_COLS " FROM inputs WHERE id=?1", id,
			0, NULL, out);
}

int store_input_list(store *st, int64_t dataset, int kind,
		     struct store_input **out, size_t *n)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	if (!c || !(s = db_prep(c, "SELECT " IN_COLS " FROM inputs WHERE"
			     " dataset=?1 AND (?2=0 OR kind=?2)"
			     " ORDER BY created, id")))
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	sql_bind_int64(s, 2, kind);
	rc = db_rows(s, sizeof(**out), in_row, (void **)out, n);
	sql_finalize(s);
	return rc;
}

int store_input_delete(store *st, int64_t id)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c || !(s = db_prep(c, "DELETE FROM inputs WHERE id=?1")))
		return -EIO;
	sql_bind_int64(s, 1, id);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	if (!rc && sql_changes(c->db) == 0)
		rc = -ENOENT;
	return rc;
}

int store_input_text(store *st, int64_t id, char **text, size_t *len)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int r, rc = 0;

	*text = NULL;
	*len = 0;
	if (!c || !(s = db_prep(c, "SELECT body FROM inputs WHERE id=?1")))
		return -EIO;
	sql_bind_int64(s, 1, id);
	r = sql_step(s);
	if (r == SQL_ROW) {
		size_t n = sql_col_bytes(s, 0);
		const void *p = sql_col_blob(s, 0);
		char *t = malloc(n + 1);
		if (!t) {
			rc = -ENOMEM;
		} else {
			if (n)
				memcpy(t, p, n);
			t[n] = '\0';
			*text = t;
			*len = n;
		}
	} else {
		rc = r == SQL_DONE ? -ENOENT : db_err(r);
	}
	sql_finalize(s);
	return rc;
}

int store_tree_has_files(store *st, int64_t tree, char *const *paths,
			 size_t n, unsigned char *has)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc = 0;

	if (!c || !(s = db_prep(c, "SELECT 1 FROM nodes WHERE tree=?1 AND"
			     " path=?2 AND kind=2 AND sha IS NOT NULL")))
		return -EIO;
	for (size_t i = 0; i < n && !rc; i++) {
		int r;

		sql_reset(s);
		sql_bind_int64(s, 1, tree);
		db_bind_str(s, 2, paths[i]);
		r = sql_step(s);
		has[i] = r == SQL_ROW;
		if (r != SQL_ROW && r != SQL_DONE)
			rc = db_err(r);
	}
	sql_finalize(s);
	return rc;
}
