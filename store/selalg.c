/*
 * selalg.c — what tag algebra (core/tagalg.h) reads and writes in the
 * catalog: the files of a tree or of the selection with their nodes, and
 * a selection set from nodes of any tree of the dataset.
 *
 * A selection made by algebra may hold nodes of several trees (a union
 * of two tags); datasets.sel_tree names its source, the first operand,
 * which becomes the parent of a tag frozen from it (store_tag_create
 * copies each selected node at its path, whatever its tree). Deleting a
 * tag whose nodes the selection holds resets the selection, as deleting
 * its source tag does (store_tag_delete).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

static int files_each(sql_stmt *s, store_file_node_fn fn, void *arg)
{
	int rc = 0, r;

	while ((r = sql_step(s)) == SQL_ROW) {
		rc = fn(arg, sql_col_int64(s, 0), sql_col_text(s, 1));
		if (rc)
			break;
	}
	if (!rc && r != SQL_DONE && r != SQL_ROW)
		rc = db_err(r);
	sql_finalize(s);
	return rc;
}

int store_tree_nodes_each(store *st, int64_t tree, store_file_node_fn fn,
			  void *arg)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;

	if (!c)
		return -EIO;
	s = db_prep(c, "SELECT ino, path FROM nodes WHERE tree=?1 AND kind=2"
		    " AND sha IS NOT NULL ORDER BY path");
	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, tree);
	return files_each(s, fn, arg);
}

int store_selection_files_each(store *st, int64_t dataset,
			       store_file_node_fn fn, void *arg)
{
	struct conn *c = db_conn(st);
	struct store_dataset d;
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	rc = store_dataset_get_id(st, dataset, &d);
	if (rc)
		return rc;
	if (!d.sel_explicit)
		return store_tree_nodes_each(st, d.sel_tree, fn, arg);
	s = db_prep(c, "SELECT n.ino, n.path FROM selection x JOIN nodes n ON"
		    " n.ino=x.node WHERE x.dataset=?1 AND n.sha IS NOT NULL"
		    " ORDER BY x.rank");
	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	return files_each(s, fn, arg);
}

int store_selection_set_nodes(store *st, int64_t dataset, int64_t tree,
			      const int64_t *nodes, size_t n)
{
	struct conn *c = db_conn(st);
	sql_stmt *ins = NULL, *u = NULL, *chk = NULL;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	/* the source and every node: of this dataset, committed files */
	chk = db_prep(c, "SELECT 1 FROM tags WHERE id=?2 AND dataset=?1");
	if (!chk) {
		rc = -EIO;
		goto out;
	}
	sql_bind_int64(chk, 1, dataset);
	sql_bind_int64(chk, 2, tree);
	if (sql_step(chk) != SQL_ROW)
		rc = -EINVAL;
	sql_finalize(chk);
	chk = NULL;
	if (!rc && !(chk = db_prep(c, "SELECT 1 FROM nodes n JOIN tags t ON"
				   " t.id=n.tree WHERE n.ino=?2 AND"
				   " t.dataset=?1 AND n.kind=2 AND n.sha IS"
				   " NOT NULL")))
		rc = -EIO;
	if (!rc && !(u = db_prep(c, "DELETE FROM selection WHERE dataset=?1")))
		rc = -EIO;
	if (!rc) {
		sql_bind_int64(u, 1, dataset);
		rc = db_err(sql_step(u));
	}
	if (!rc && !(ins = db_prep(c, "INSERT INTO selection(dataset,rank,"
				   "node) VALUES(?1,?2,?3)")))
		rc = -EIO;
	for (size_t i = 0; i < n && !rc; i++) {
		sql_reset(chk);
		sql_bind_int64(chk, 1, dataset);
		sql_bind_int64(chk, 2, nodes[i]);
		if (sql_step(chk) != SQL_ROW) {
			rc = -EINVAL;
			break;
		}
		sql_reset(ins);
		sql_bind_int64(ins, 1, dataset);
		sql_bind_int64(ins, 2, (int64_t)i);
		sql_bind_int64(ins, 3, nodes[i]);
		rc = db_err(sql_step(ins));
	}
	sql_finalize(u);
	u = NULL;
	/* one write of the dataset row: the selection's change counter */
	if (!rc && !(u = db_prep(c, "UPDATE datasets SET sel_tree=?2,"
				 " sel_explicit=1 WHERE id=?1")))
		rc = -EIO;
	if (!rc) {
		sql_bind_int64(u, 1, dataset);
		sql_bind_int64(u, 2, tree);
		rc = db_err(sql_step(u));
	}
out:
	sql_finalize(chk);
	sql_finalize(ins);
	sql_finalize(u);
	return db_end(c, rc);
}
