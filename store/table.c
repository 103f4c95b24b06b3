/*
 * table.c — the catalog's side of a dataset's sample table (the web app's
 * data model, docs/api.md "Samples in bulk"): the live tree's change
 * counter, and the rows of the table in one snapshot.
 *
 *   samples_gen(dataset, gen)   -- counts the changes to the rows of a
 *                                  dataset's live tree (a row from the
 *                                  dataset's insert; a missing one reads
 *                                  as 0)
 *
 * Why a counter of its own. The folder counters (dirgen, schema_sqlite.c)
 * name one folder each; the table spans every folder of the live tree, and
 * summing them costs a scan of the tree and is not even monotonic (a removed
 * folder takes its row along). So triggers on `nodes` bump one row per
 * dataset for every inserted, deleted or updated node of a live tree (the
 * same columns as dirgen's, so a create, commit, setattr, rename or
 * removal through any door — mount, API, sampling — moves it; a renamed
 * ancestor's subtree, whose rows change only `path`, is counted once by
 * the renamed node's own row). Not counted: a folder's own times, mode and
 * owner, which no row of the table shows (every create and commit sets
 * its folder's mtime: that was a third bump per uploaded file). A new
 * grant of a hash that some live file of the grantee names as kept bytes
 * moves it too: the table's `kept` column is per user. Triggers, not code
 * in the write paths, for the reason schema_sqlite.c gives for dirgen. A
 * deleted dataset's row goes with it. (A per-dataset counter that another part
 * keeps for GET /state is a different table.)
 *
 * The counter's table and triggers are in each engine's schema
 * (schema_sqlite.c).
 *
 * Cost: one tags lookup and one UPDATE of a row made with the dataset
 * (a trigger on datasets, and at open for datasets made before), per node
 * write. The first version upserted it on every bump and also bumped on
 * the folder touches: callgrind of the daemon over `cp -r` of 2,000 4 KiB
 * files into a fresh local mount counted 989 M instructions with it, 889 M
 * without these node triggers at all, 965 M with this one.
 *
 * Datasets and inos are never reused (AUTOINCREMENT), so (dataset, gen)
 * names one state of one table for the catalog's life.
 *
 * Threads: store_table_each runs one read transaction on the calling
 * thread's connection (WAL: a snapshot, writers are not blocked). On
 * PostgreSQL (READ COMMITTED, the engine's default) each statement of it
 * has a snapshot of its own: the counter is read before the rows, so the
 * rows are never older than the counter they are labelled with; a write
 * between the two moves the counter, and the next reader rebuilds.
 */
#include <errno.h>
#include <string.h>

#include "db.h"
#include "table.h"

static int read_gen(struct conn *c, int64_t dataset, uint64_t *gen)
{
	sql_stmt *s = db_prep(c, "SELECT gen FROM samples_gen"
				  " WHERE dataset=?1");
	int r;

	*gen = 0;
	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	r = sql_step(s);
	if (r == SQL_ROW)
		*gen = (uint64_t)sql_col_int64(s, 0);
	sql_finalize(s);
	return r == SQL_ROW || r == SQL_DONE ? 0 : db_err(r);
}

int store_table_gen(store *st, int64_t dataset, uint64_t *gen)
{
	struct conn *c = db_conn(st);

	*gen = 0;
	return c ? read_gen(c, dataset, gen) : -EIO;
}

/* The rows, in the snapshot the caller opened. */
static int each_row(struct conn *c, const struct store_dataset *d,
		    store_trow_fn fn, void *arg)
{
	/* kept: the bytes were committed as kept and this user never sent
	 * them (kept.c, "Who may read what"); the embedded user sends
	 * nothing, so for it the kept row alone decides. */
	sql_stmt *s = db_prep(c, "SELECT n.path, n.size, n.ino,"
		" EXISTS (SELECT 1 FROM kept k WHERE k.sha=n.sha)"
		" AND NOT EXISTS (SELECT 1 FROM grants g WHERE g.\"user\"=?2"
		" AND g.sha=n.sha)"
		" FROM nodes n WHERE n.tree=?1 AND n.kind=2"
		" AND n.sha IS NOT NULL ORDER BY n.path");
	struct store_trow row;
	int rc = 0, r;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, d->live_tree);
	db_bind_str(s, 2, d->owner);
	while ((r = sql_step(s)) == SQL_ROW) {
		row.path = sql_col_text(s, 0);
		row.path_len = sql_col_bytes(s, 0);
		row.size = sql_col_int64(s, 1);
		row.ino = sql_col_int64(s, 2);
		row.kept = (int)sql_col_int64(s, 3) != 0;
		if (!row.path) {
			rc = -ENOMEM;
			break;
		}
		if ((rc = fn(arg, &row)))
			break;
	}
	if (!rc && r != SQL_DONE && r != SQL_ROW)
		rc = db_err(r);
	sql_finalize(s);
	return rc;
}

int store_table_each(store *st, int64_t dataset, uint64_t *gen,
		     store_trow_fn fn, void *arg)
{
	struct conn *c = db_conn(st);
	struct store_dataset d;
	int rc;

	*gen = 0;
	if (!c)
		return -EIO;
	/* one snapshot (SQLite): the counter names exactly the rows read;
	 * PostgreSQL: rows at least as new as it (top of this file) */
	if ((rc = db_exec(c, "BEGIN")))
		return rc;
	rc = store_dataset_get_id(st, dataset, &d);
	if (!rc)
		rc = read_gen(c, dataset, gen);
	if (!rc)
		rc = each_row(c, &d, fn, arg);
	db_exec(c, "COMMIT");
	return rc;
}
