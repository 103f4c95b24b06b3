/*
 * features.c — what the built-in embedder keeps in the catalog.
 *
 *   features(sha, kind, vec, err)  -- raw feature vector of one blob under
 *                                     one extractor ("kind": version and
 *                                     options); vec NULL + err: not an image
 *   builtin(dataset, params, fp)   -- the dataset's embedder options and the
 *                                     fingerprint of what `builtin` was
 *                                     computed from
 *
 * Features are keyed by content hash, so a file copied twice, renamed or
 * present in several datasets is decoded once; they go when the blob goes
 * (blob_collect). The hash is that of the bytes decoded: a sample read
 * through its thumbnail (upload=thumbnails) has its features under the
 * thumbnail's hash, never the original's. So a row is derived from exactly
 * the bytes it is keyed by, and whoever may read those bytes may have it:
 * the embedder asks only for hashes store_blob_source() gives its user (a
 * feature of another user's upload is as closed as its bytes). Writes come in batches, one transaction each, so a long
 * computation that is cancelled or killed keeps what it finished.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "db.h"

int store_tree_files_each(store *st, int64_t tree, store_file_fn fn,
			  void *arg)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc = 0, r;

	if (!c || !(s = db_prep(c, "SELECT path, sha, size FROM nodes"
			     " WHERE tree=?1 AND kind=2 AND sha IS NOT NULL"
			     " ORDER BY path")))
		return -EIO;
	sql_bind_int64(s, 1, tree);
	while ((r = sql_step(s)) == SQL_ROW) {
		if (sql_col_bytes(s, 1) != STORE_SHA_LEN) {
			rc = -EIO;
			break;
		}
		rc = fn(arg, sql_col_text(s, 0),
			sql_col_blob(s, 1), sql_col_int64(s, 2));
		if (rc)
			break;
	}
	if (!rc && r != SQL_ROW)
		rc = db_err(r);
	sql_finalize(s);
	return rc;
}

int store_feature_get(store *st, const char *kind,
		      const unsigned char sha[STORE_SHA_LEN], float *vec,
		      size_t dim, char *why, size_t whylen)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c || !(s = db_stmt(c, Q_FEAT_GET)))   /* cached: hot path */
		return -EIO;
	sql_bind_blob(s, 1, sha, STORE_SHA_LEN);
	db_bind_str(s, 2, kind);
	rc = sql_step(s);
	if (rc == SQL_ROW) {
		if (sql_col_is_null(s, 0)) {
			const char *e = sql_col_text(s, 1);
			if (why)
				snprintf(why, whylen, "%s", e ? e : "");
			rc = 1;
		} else if (sql_col_bytes(s, 0) !=
			   dim * sizeof(float)) {
			rc = -ENOENT;   /* another dimension: recompute */
		} else {
			memcpy(vec, sql_col_blob(s, 0),
			       dim * sizeof(float));
			rc = 0;
		}
	} else {
		rc = rc == SQL_DONE ? -ENOENT : db_err(rc);
	}
	sql_reset(s);
	return rc;
}

int store_feature_put(store *st, const char *kind, size_t n,
		      const unsigned char *shas, const float *vecs,
		      size_t dim, const char *const *errs)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	s = db_prep(c, "INSERT INTO features(sha,kind,vec,err)"
		    " VALUES(?1,?2,?3,?4) ON CONFLICT(sha,kind) DO UPDATE"
		    " SET vec=excluded.vec, err=excluded.err");
	if (!s)
		rc = -EIO;
	for (size_t i = 0; i < n && !rc; i++) {
		sql_reset(s);
		sql_bind_blob(s, 1, shas + i * STORE_SHA_LEN, STORE_SHA_LEN);
		db_bind_str(s, 2, kind);
		if (errs && errs[i]) {
			sql_bind_null(s, 3);
			db_bind_str(s, 4, errs[i]);
		} else {
			sql_bind_blob(s, 3, vecs + i * dim, dim * sizeof(float));
			sql_bind_null(s, 4);
		}
		rc = db_err(sql_step(s));
	}
	sql_finalize(s);
	return db_end(c, rc);
}

int store_builtin_get(store *st, int64_t dataset, char *params, size_t plen,
		      char *fp, size_t fplen)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c || !(s = db_prep(c, "SELECT params, fp FROM builtin"
			     " WHERE dataset=?1")))
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	rc = sql_step(s);
	if (rc == SQL_ROW) {
		snprintf(params, plen, "%s", sql_col_text(s, 0));
		snprintf(fp, fplen, "%s", sql_col_text(s, 1));
		rc = 0;
	} else {
		rc = rc == SQL_DONE ? -ENOENT : db_err(rc);
	}
	sql_finalize(s);
	return rc;
}

int store_builtin_set(store *st, int64_t dataset, const char *params,
		      const char *fp)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	/* an update of an existing row moves the embeddings' counter as
	 * the insert of a new one does (the schema's chg_builtin_*) */
	s = db_prep(c, "INSERT INTO builtin(dataset,params,fp)"
		    " VALUES(?1,?2,?3) ON CONFLICT(dataset) DO UPDATE"
		    " SET params=excluded.params, fp=excluded.fp");
	if (!s) {
		rc = -EIO;
	} else {
		sql_bind_int64(s, 1, dataset);
		db_bind_str(s, 2, params);
		db_bind_str(s, 3, fp);
		rc = db_err(sql_step(s));
		sql_finalize(s);
	}
	return db_end(c, rc);
}
