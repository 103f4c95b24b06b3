/*
 * changes.c — what the web app reads of the catalog in bulk: a dataset's
 * change counters, its latest runs, and a tree's files page by page.
 *
 * Change counters, for the web app's poll
 * (GET /v1/datasets/{id}/state): one number per kind of thing the app
 * shows, moved by triggers in the transaction of every change whichever
 * door made it (schema_sqlite.c, "Dataset change counters"). Reading them
 * is one range of the `changes` primary key, the live tree's counter of the
 * sample table (samples_gen, table.c: one probe), and, for the runs, the
 * status of the dataset's latest run (one probe of runs_ds): a run in progress keeps
 * its progress in memory (core/runs.c), so the caller says "active" and
 * the app polls the runs while one is.
 *
 * The catalog's epoch (store_catalog_epoch, below): read by each server
 * at its start, written once for a catalog made before it existed.
 *
 * Reads only but for that one write; any thread.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "db.h"
#include "table.h"

int store_changes_get(store *st, int64_t dataset, struct store_changes *out)
{
	struct conn *c = db_conn(st);
	uint64_t *slot[] = { NULL, &out->tags, &out->selection,
			     &out->runs, &out->embeddings };
	sql_stmt *s;
	int r;

	memset(out, 0, sizeof(*out));
	if (!c || !(s = db_prep(c, "SELECT kind, gen FROM changes"
			     " WHERE dataset=?1")))
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	while ((r = sql_step(s)) == SQL_ROW) {
		int k = (int)sql_col_int64(s, 0);
		if (k >= 0 && k < (int)(sizeof(slot) / sizeof(slot[0])) &&
		    slot[k])
			*slot[k] = (uint64_t)sql_col_int64(s, 1);
	}
	sql_finalize(s);
	if (r != SQL_DONE)
		return db_err(r);
	if (!(s = db_prep(c, "SELECT status FROM runs WHERE dataset=?1"
			  " ORDER BY id DESC LIMIT 1")))
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	r = sql_step(s);
	if (r == SQL_ROW) {
		int st_ = (int)sql_col_int64(s, 0);
		out->run_active = st_ == STORE_RUN_QUEUED ||
				  st_ == STORE_RUN_RUNNING;
	}
	sql_finalize(s);
	if (r != SQL_ROW && r != SQL_DONE)
		return db_err(r);
	return store_table_gen(st, dataset, &out->tree);
}

int store_run_list(store *st, int64_t dataset, int limit,
		   struct store_run **out, size_t *n)
{
	struct conn *c = db_conn(st);
	struct store_run *v = NULL;
	size_t cap = 0, k = 0;
	int64_t id[128];
	size_t nid = 0;
	sql_stmt *s;
	int r, rc = 0;

	*out = NULL;
	*n = 0;
	if (limit < 1 || limit > (int)(sizeof(id) / sizeof(id[0])))
		return -EINVAL;
	if (!c || !(s = db_prep(c, "SELECT id FROM runs WHERE dataset=?1"
			     " ORDER BY id DESC LIMIT ?2")))
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	sql_bind_int64(s, 2, limit);
	while ((r = sql_step(s)) == SQL_ROW)
		id[nid++] = sql_col_int64(s, 0);
	sql_finalize(s);
	if (r != SQL_DONE)
		return db_err(r);
	/* each row as store_run_get reads it, so the two never disagree */
	for (size_t i = 0; i < nid && !rc; i++) {
		rc = db_grow((void **)&v, &cap, k, sizeof(*v));
		if (!rc)
			rc = store_run_get(st, id[i], &v[k]);
		if (rc == -ENOENT)       /* deleted meanwhile */
			rc = 0;
		else if (!rc)
			k++;
	}
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

void store_tree_files_free(struct store_tree_file *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].path);
	free(v);
}

int store_tree_files_page(store *st, int64_t tree, const char *after,
			  size_t limit, struct store_tree_file **out,
			  size_t *n)
{
	struct conn *c = db_conn(st);
	struct store_tree_file *v = NULL;
	size_t cap = 0, k = 0;
	sql_stmt *s;
	int r, rc = 0;

	*out = NULL;
	*n = 0;
	/* (tree, path) is the nodes_path index: one range, in path order */
	if (!c || !(s = db_prep(c, "SELECT " NODE_COLS ", n.path FROM nodes n"
			     " JOIN tags t ON t.id=n.tree WHERE n.tree=?1"
			     " AND n.path>?2 AND n.kind=2 ORDER BY n.path"
			     " LIMIT ?3")))
		return -EIO;
	sql_bind_int64(s, 1, tree);
	db_bind_str(s, 2, after ? after : "");
	sql_bind_int64(s, 3, db_limit((int64_t)limit));
	while ((r = sql_step(s)) == SQL_ROW) {
		const char *p = sql_col_text(s, NODE_NCOLS);
		if ((rc = db_grow((void **)&v, &cap, k, sizeof(*v))))
			break;
		db_node_row(s, &v[k].n);
		if (!(v[k].path = strdup(p ? p : ""))) {
			rc = -ENOMEM;
			break;
		}
		k++;
	}
	sql_finalize(s);
	if (!rc && r != SQL_DONE)
		rc = db_err(r);
	if (rc) {
		store_tree_files_free(v, k);
		return rc;
	}
	*out = v;
	*n = k;
	return 0;
}

/* ---- the catalog's epoch ----
 * 16 random hex digits in meta, made with the schema (schema_sqlite.c,
 * schema_pg.c): the part of every ETag and table gen that tells one
 * catalog's counters from another's (a counter alone names a state only
 * within one catalog's life). Every server on the catalog reads the same,
 * so an ETag of one is valid at the others. A catalog made before the
 * epoch existed gets one here, once (ON CONFLICT: two servers at once
 * agree on the first). */
static int epoch_read(struct conn *c, uint64_t *epoch)
{
	sql_stmt *s = db_prep(c, "SELECT value FROM meta WHERE key='epoch'");
	char *end;
	int r;

	if (!s)
		return -EIO;
	r = sql_step(s);
	if (r == SQL_ROW) {
		const char *v = sql_col_text(s, 0);
		unsigned long long e;
		errno = 0;
		e = strtoull(v, &end, 16);
		*epoch = (uint64_t)e;
		r = (strlen(v) != 16 || *end || errno) ? -EIO : 0;
	} else if (r == SQL_DONE) {
		r = -ENOENT;
	}
	sql_finalize(s);
	return r;
}

/* Writes a new random epoch: only where none is (replace 0: two servers
 * at once agree on the first) or over the one there (replace 1). In the
 * caller's transaction. */
static int epoch_write(struct conn *c, int replace)
{
	unsigned char rnd[8];
	char hex[17];
	sql_stmt *s;
	int rc;

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	s = db_prep(c, replace ?
		    "INSERT INTO meta(key, value) VALUES('epoch', ?1)"
		    " ON CONFLICT(key) DO UPDATE SET value=excluded.value" :
		    "INSERT INTO meta(key, value) VALUES('epoch', ?1)"
		    " ON CONFLICT(key) DO NOTHING");
	if (!s)
		return -EIO;
	db_bind_str(s, 1, hex);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	return rc;
}

static int epoch_make(struct conn *c)
{
	int rc = db_begin(c);

	return rc ? rc : db_end(c, epoch_write(c, 0));
}

int store_catalog_epoch(store *st, uint64_t *epoch)
{
	struct conn *c = db_conn(st);
	int rc;

	*epoch = 0;
	if (!c)
		return -EIO;
	rc = epoch_read(c, epoch);
	if (rc == -ENOENT && !(rc = epoch_make(c)))
		rc = epoch_read(c, epoch);
	return rc;
}

/* A restored backup repeats counters with other contents: a new epoch
 * makes every validator given before it stale. Refused while a server
 * other than this handle's holds a live lease on the catalog: it keeps
 * the epoch it read at its start (an embedded store's owner is kept out
 * by the flock the caller's owner open took). */
int store_catalog_epoch_renew(store *st, uint64_t *old, uint64_t *fresh,
			      int64_t *live)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	*old = *fresh = 0;
	*live = 0;
	if (!c)
		return -EIO;
	if ((rc = db_begin(c)))
		return rc;
	s = db_prep(c, "SELECT count(*) FROM servers WHERE lease>=?1"
		    " AND id<>?2");
	if (!s)
		return db_end(c, -EIO);
	sql_bind_int64(s, 1, store_now_ns());
	sql_bind_int64(s, 2, st->server);
	rc = sql_step(s);
	if (rc == SQL_ROW)
		*live = sql_col_int64(s, 0);
	rc = rc == SQL_ROW ? 0 : db_err(rc);
	sql_finalize(s);
	if (!rc && *live > 0)
		rc = -EBUSY;
	if (!rc && (rc = epoch_read(c, old)) == -ENOENT)
		rc = 0;
	if (!rc)
		rc = epoch_write(c, 1);
	if (!rc)
		rc = epoch_read(c, fresh);
	return db_end(c, rc);
}
