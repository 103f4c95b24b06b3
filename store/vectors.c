/*
 * vectors.c — embeddings and sampling runs in the catalog.
 *
 *   embeddings(id, dataset, name, dim, rows, created)
 *   vectors(emb, path, label, vec)   -- vec: dim float32, native byte order
 *   runs(id, dataset, request, strategy, n, from_tag, emb, seed, status,
 *        done, total, skipped, created, started, finished, error,
 *        seq, candidates)  -- seq: 1, 2, 3… per dataset (what users see)
 *   scores(run, rank, path, score)   -- every candidate of a finished run
 *
 * Vectors and scores are keyed by relative path, not by node, so one
 * embedding serves initial-tag and every tag made from it. An upload is one
 * transaction: a bad row leaves the previous state untouched; rows naming
 * no committed file are skipped and reported, not stored. Labels are int64
 * in the catalog; a matrix carries their dense ranks (int32), which is all
 * a strategy compares. Selecting the
 * top N of a run is one INSERT ... SELECT joining scores to the tree's nodes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

/* Runs a statement with up to three integer parameters. */
static int exec3(struct conn *c, const char *sql, int64_t a, int64_t b,
		 int64_t d)
{
	sql_stmt *s = db_prep(c, sql);
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, a);
	sql_bind_int64(s, 2, b);
	sql_bind_int64(s, 3, d);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	return rc;
}

/* ---- embeddings ---- */

#define EMB_COLS "id, dataset, name, dim, rows, created"

static void emb_row(sql_stmt *s, void *out)
{
	struct store_embedding *e = out;

	memset(e, 0, sizeof(*e));
	e->id = sql_col_int64(s, 0);
	e->dataset = sql_col_int64(s, 1);
	snprintf(e->name, sizeof(e->name), "%s",
		 sql_col_text(s, 2));
	e->dim = sql_col_int64(s, 3);
	e->rows = sql_col_int64(s, 4);
	e->created_ns = sql_col_int64(s, 5);
}

int store_embedding_put(store *st, int64_t dataset, int64_t tree,
			const char *name, size_t n, size_t dim,
			const char *const *paths, const float *x,
			const int64_t *labels, size_t *bad,
			struct store_emb_skip *skip,
			struct store_embedding *out)
{
	struct conn *c = db_conn(st);
	sql_stmt *s = NULL, *ins = NULL, *chk = NULL;
	struct store_emb_skip sk = { 0 };
	int64_t id = 0, kept = 0;
	int rc;

	if (bad)
		*bad = 0;
	if (skip)
		*skip = sk;
	if (!c)
		return -EIO;
	if (n == 0 || dim == 0)
		return -EINVAL;
	rc = db_begin(c);
	if (rc)
		return rc;
	/* Copying a CSV over NAME.csv replaces it. */
	s = db_prep(c, "DELETE FROM vectors WHERE emb IN (SELECT id FROM"
		 " embeddings WHERE dataset=?1 AND name=?2)");
	if (!s) {
		rc = -EIO;
		goto out;
	}
	sql_bind_int64(s, 1, dataset);
	db_bind_str(s, 2, name);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	s = db_prep(c, "DELETE FROM embeddings WHERE dataset=?1 AND name=?2");
	if (rc || !s) {
		rc = rc ? rc : -EIO;
		goto out;
	}
	sql_bind_int64(s, 1, dataset);
	db_bind_str(s, 2, name);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	s = db_prep(c, "INSERT INTO embeddings(dataset,name,dim,rows,created)"
		 " VALUES(?1,?2,?3,?4,?5) RETURNING id");
	if (rc || !s) {
		rc = rc ? rc : -EIO;
		goto out;
	}
	sql_bind_int64(s, 1, dataset);
	db_bind_str(s, 2, name);
	sql_bind_int64(s, 3, (int64_t)dim);
	sql_bind_int64(s, 4, (int64_t)n);
	sql_bind_int64(s, 5, store_now_ns());
	rc = db_insert_id(s, &id);
	sql_finalize(s);
	if (rc)
		goto out;
	chk = db_prep(c, "SELECT 1 FROM nodes WHERE tree=?1 AND path=?2 AND"
		   " kind=2 AND sha IS NOT NULL");
	ins = db_prep(c, "INSERT INTO vectors(emb,path,label,vec)"
		   " VALUES(?1,?2,?3,?4)");
	if (!chk || !ins) {
		rc = -EIO;
		goto out;
	}
	for (size_t i = 0; i < n && !rc; i++) {
		sql_reset(chk);
		sql_bind_int64(chk, 1, tree);
		db_bind_str(chk, 2, paths[i]);
		int r = sql_step(chk);
		if (r == SQL_DONE) {
			if (sk.n < STORE_EMB_SKIP_SHOW)
				sk.first[sk.n] = i;
			sk.n++;
			continue;
		}
		if (r != SQL_ROW) {
			rc = db_err(r);
			break;
		}
		sql_reset(ins);
		sql_bind_int64(ins, 1, id);
		db_bind_str(ins, 2, paths[i]);
		sql_bind_int64(ins, 3, labels[i]);
		sql_bind_blob(ins, 4, x + i * dim, dim * sizeof(float));
		rc = db_err(sql_step(ins));
		if (rc == -EEXIST) {
			if (bad)
				*bad = i;
			rc = -EINVAL;   /* duplicate path */
		}
		kept++;
	}
	if (!rc && kept == 0)
		rc = -ENOENT;
	if (!rc)
		rc = exec3(c, "UPDATE embeddings SET rows=?2 WHERE id=?1", id,
			   kept, 0);
	if (skip)
		*skip = sk;
out:
	sql_finalize(chk);
	sql_finalize(ins);
	rc = db_end(c, rc);
	if (!rc && out)
		rc = store_embedding_get_id(st, id, out);
	return rc;
}

static int emb_query(store *st, const char *sql, int64_t a, const char *b,
		     struct store_embedding *out)
{
	struct conn *c = db_conn(st);
	sql_stmt *s = c ? db_prep(c, sql) : NULL;
	int r;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, a);
	if (b)
		db_bind_str(s, 2, b);
	r = sql_step(s);
	if (r == SQL_ROW)
		emb_row(s, out);
	sql_finalize(s);
	return r == SQL_ROW ? 0 : r == SQL_DONE ? -ENOENT : db_err(r);
}

int store_embedding_get(store *st, int64_t dataset, const char *name,
			struct store_embedding *out)
{
	return emb_query(st, "SELECT " EMB_COLS " FROM embeddings WHERE"
			 " dataset=?1 AND name=?2", dataset, name, out);
}

int store_embedding_get_id(store *st, int64_t id, struct store_embedding *out)
{
	return emb_query(st, "SELECT " EMB_COLS " FROM embeddings WHERE id=?1",
			 id, NULL, out);
}

int store_embedding_list(store *st, int64_t dataset,
			 struct store_embedding **out, size_t *n)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	if (!c || !(s = db_prep(c, "SELECT " EMB_COLS " FROM embeddings WHERE"
			     " dataset=?1 ORDER BY created, id")))
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	rc = db_rows(s, sizeof(**out), emb_row, (void **)out, n);
	sql_finalize(s);
	return rc;
}

int store_embedding_delete(store *st, int64_t id)
{
	struct conn *c = db_conn(st);
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	rc = exec3(c, "DELETE FROM vectors WHERE emb=?1", id, 0, 0);
	if (!rc)
		rc = exec3(c, "DELETE FROM embeddings WHERE id=?1", id, 0, 0);
	if (!rc && sql_changes(c->db) == 0)
		rc = -ENOENT;
	return db_end(c, rc);
}

int store_embedding_each(store *st, int64_t emb, store_vec_fn fn, void *arg)
{
	struct conn *c = db_conn(st);
	struct store_embedding e;
	sql_stmt *s;
	int rc, r;

	if (!c)
		return -EIO;
	rc = store_embedding_get_id(st, emb, &e);
	if (rc)
		return rc;
	s = db_prep(c, "SELECT path, vec, label FROM vectors WHERE emb=?1"
		 " ORDER BY path");
	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, emb);
	while ((r = sql_step(s)) == SQL_ROW) {
		if (sql_col_bytes(s, 1) !=
		    (size_t)e.dim * sizeof(float)) {
			rc = -EIO;
			break;
		}
		rc = fn(arg, sql_col_text(s, 0),
			sql_col_blob(s, 1), sql_col_int64(s, 2));
		if (rc)
			break;
	}
	if (!rc && r != SQL_DONE && r != SQL_ROW)
		rc = db_err(r);
	sql_finalize(s);
	return rc;
}

void store_matrix_free(struct store_matrix *m)
{
	if (!m)
		return;
	free(m->paths);
	free(m->x);
	free(m->labels);
	free(m->raw_labels);
	free(m->pool);
	memset(m, 0, sizeof(*m));
}

struct rank {
	int64_t v;
	size_t i;
};

static int cmp_rank(const void *a, const void *b)
{
	const struct rank *x = a, *y = b;

	if (x->v != y->v)
		return x->v < y->v ? -1 : 1;
	return (x->i > y->i) - (x->i < y->i);
}

/* out[i] = the rank of raw[i] among the distinct values of raw. */
static int rank_labels(const int64_t *raw, size_t n, int32_t *out)
{
	struct rank *v = malloc(n * sizeof(*v));
	int32_t r = -1;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		v[i] = (struct rank){ raw[i], i };
	qsort(v, n, sizeof(*v), cmp_rank);
	for (size_t k = 0; k < n; k++) {
		if (k == 0 || v[k].v != v[k - 1].v)
			r++;
		out[v[k].i] = r;
	}
	free(v);
	return 0;
}

int store_matrix_load(store *st, int64_t emb, int64_t tree,
		      struct store_matrix *m)
{
	struct conn *c = db_conn(st);
	struct store_embedding e;
	size_t cap = 0, poolcap = 0, poollen = 0;
	size_t *offs = NULL;
	int64_t *raw = NULL;
	int64_t files = 0, bytes = 0;
	sql_stmt *s = NULL;
	int rc, r;

	memset(m, 0, sizeof(*m));
	if (!c)
		return -EIO;
	rc = store_embedding_get_id(st, emb, &e);
	if (!rc)
		rc = store_tree_count(st, tree, &files, &bytes);
	if (rc)
		return rc;
	m->dim = (size_t)e.dim;
	s = db_prep(c, "SELECT n.path, v.vec, v.label FROM nodes n JOIN vectors v"
		 " ON v.emb=?1 AND v.path=n.path WHERE n.tree=?2 AND n.kind=2"
		 " AND n.sha IS NOT NULL ORDER BY n.path");
	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, emb);
	sql_bind_int64(s, 2, tree);
	while ((r = sql_step(s)) == SQL_ROW) {
		const char *p = sql_col_text(s, 0);
		size_t plen = strlen(p) + 1;
		if (sql_col_bytes(s, 1) != m->dim * sizeof(float)) {
			rc = -EIO;
			break;
		}
		if (m->n == cap) {
			size_t ncap = cap ? cap * 2 : 1024;
			float *nx = realloc(m->x, ncap * m->dim * sizeof(float));
			if (nx)
				m->x = nx;
			int64_t *nl = nx ? realloc(raw, ncap * sizeof(*nl)) : NULL;
			if (nl)
				raw = nl;
			size_t *no = nl ? realloc(offs, ncap * sizeof(*no)) : NULL;
			if (!no) {
				rc = -ENOMEM;
				break;
			}
			offs = no;
			cap = ncap;
		}
		if (poollen + plen > poolcap) {
			size_t ncap = poolcap ? poolcap * 2 : 65536;
			while (ncap < poollen + plen)
				ncap *= 2;
			char *np = realloc(m->pool, ncap);
			if (!np) {
				rc = -ENOMEM;
				break;
			}
			m->pool = np;
			poolcap = ncap;
		}
		memcpy(m->pool + poollen, p, plen);
		offs[m->n] = poollen;
		poollen += plen;
		memcpy(m->x + m->n * m->dim, sql_col_blob(s, 1),
		       m->dim * sizeof(float));
		raw[m->n] = sql_col_int64(s, 2);
		m->n++;
	}
	if (!rc && r != SQL_DONE)
		rc = db_err(r);
	sql_finalize(s);
	if (!rc && m->n) {
		m->paths = malloc(m->n * sizeof(*m->paths));
		if (!m->paths)
			rc = -ENOMEM;
		for (size_t i = 0; !rc && i < m->n; i++)
			m->paths[i] = m->pool + offs[i];
		m->labels = rc ? NULL : malloc(m->n * sizeof(*m->labels));
		if (!rc && !m->labels)
			rc = -ENOMEM;
		if (!rc)
			rc = rank_labels(raw, m->n, m->labels);
		if (!rc) {
			m->raw_labels = raw;
			raw = NULL;
		}
	}
	free(offs);
	free(raw);
	if (rc) {
		store_matrix_free(m);
		return rc;
	}
	m->skipped = (size_t)files - m->n;
	return 0;
}

/* ---- runs ---- */

void db_run_row(sql_stmt *s, struct store_run *r)
{
	memset(r, 0, sizeof(*r));
	r->id = sql_col_int64(s, 0);
	r->dataset = sql_col_int64(s, 1);
	snprintf(r->request, sizeof(r->request), "%s",
		 sql_col_text(s, 2));
	snprintf(r->strategy, sizeof(r->strategy), "%s",
		 sql_col_text(s, 3));
	r->n = sql_col_int64(s, 4);
	r->from_tag = sql_col_int64(s, 5);
	r->emb = sql_col_int64(s, 6);
	r->seed = sql_col_int64(s, 7);
	r->status = (int)sql_col_int64(s, 8);
	r->done = sql_col_int64(s, 9);
	r->total = sql_col_int64(s, 10);
	r->skipped = sql_col_int64(s, 11);
	r->created_ns = sql_col_int64(s, 12);
	r->started_ns = sql_col_int64(s, 13);
	r->finished_ns = sql_col_int64(s, 14);
	snprintf(r->error, sizeof(r->error), "%s",
		 sql_col_text(s, 15));
	r->seq = sql_col_int64(s, 16);
	r->candidates = sql_col_int64(s, 17);
	r->srv = sql_col_int64(s, 18);
	r->lease_ns = sql_col_int64(s, 19);
	r->cancel = sql_col_int64(s, 20) != 0;
	snprintf(r->phase, sizeof(r->phase), "%s", sql_col_text(s, 21));
}

int store_run_create(store *st, struct store_run *r)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	/* numbered per dataset, inside the write transaction */
	s = db_prep(c, "INSERT INTO runs(dataset,request,strategy,n,from_tag,emb,"
		 "seed,status,created,seq) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,"
		 "1+coalesce((SELECT max(seq) FROM runs WHERE dataset=?1),0))"
		 " RETURNING id, seq");
	if (!s)
		return db_end(c, -EIO);
	r->created_ns = store_now_ns();
	sql_bind_int64(s, 1, r->dataset);
	db_bind_str(s, 2, r->request);
	db_bind_str(s, 3, r->strategy);
	sql_bind_int64(s, 4, r->n);
	sql_bind_int64(s, 5, r->from_tag);
	sql_bind_int64(s, 6, r->emb);
	sql_bind_int64(s, 7, r->seed);
	sql_bind_int64(s, 8, r->status);
	sql_bind_int64(s, 9, r->created_ns);
	rc = sql_step(s);
	if (rc == SQL_ROW) {
		r->id = sql_col_int64(s, 0);
		r->seq = sql_col_int64(s, 1);
		rc = sql_step(s);
	}
	rc = db_err(rc);
	sql_finalize(s);
	return db_end(c, rc);
}

int store_run_update(store *st, const struct store_run *r)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	s = db_prep(c, "UPDATE runs SET status=?2, done=?3, total=?4, skipped=?5,"
		 " started=?6, finished=?7, error=?8, emb=?9, candidates=?10"
		 " WHERE id=?1");
	if (!s)
		return db_end(c, -EIO);
	sql_bind_int64(s, 1, r->id);
	sql_bind_int64(s, 2, r->status);
	sql_bind_int64(s, 3, r->done);
	sql_bind_int64(s, 4, r->total);
	sql_bind_int64(s, 5, r->skipped);
	sql_bind_int64(s, 6, r->started_ns);
	sql_bind_int64(s, 7, r->finished_ns);
	db_bind_str(s, 8, r->error);
	sql_bind_int64(s, 9, r->emb);
	sql_bind_int64(s, 10, r->candidates);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	return db_end(c, rc);
}

static int run_query(store *st, const char *sql, int64_t a,
		     struct store_run *out)
{
	struct conn *c = db_conn(st);
	sql_stmt *s = c ? db_prep(c, sql) : NULL;
	int r;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, a);
	r = sql_step(s);
	if (r == SQL_ROW)
		db_run_row(s, out);
	sql_finalize(s);
	return r == SQL_ROW ? 0 : r == SQL_DONE ? -ENOENT : db_err(r);
}

int store_run_get(store *st, int64_t id, struct store_run *out)
{
	return run_query(st, "SELECT " RUN_COLS " FROM runs WHERE id=?1", id,
			 out);
}

int store_run_latest(store *st, int64_t dataset, struct store_run *out)
{
	return run_query(st, "SELECT " RUN_COLS " FROM runs WHERE dataset=?1"
			 " ORDER BY id DESC LIMIT 1", dataset, out);
}

int store_run_latest_done(store *st, int64_t dataset, struct store_run *out)
{
	return run_query(st, "SELECT " RUN_COLS " FROM runs WHERE dataset=?1"
			 " AND status=2 AND strategy<>'embed' ORDER BY id DESC LIMIT 1",
			 dataset, out);
}

/* Inside a write transaction: selection := top `keep` of run's scores. */
static int select_top(struct conn *c, const struct store_run *r, size_t keep)
{
	int rc = exec3(c, "DELETE FROM selection WHERE dataset=?1", r->dataset,
		       0, 0);
	sql_stmt *s = rc ? NULL : db_prep(c, "INSERT INTO selection(dataset,"
		"rank,node) SELECT ?1, s.rank, n.ino FROM scores s JOIN nodes n"
		" ON n.tree=?3 AND n.path=s.path WHERE s.run=?2 AND s.rank<?4");

	if (rc || !s)
		return rc ? rc : -EIO;
	sql_bind_int64(s, 1, r->dataset);
	sql_bind_int64(s, 2, r->id);
	sql_bind_int64(s, 3, r->from_tag);
	sql_bind_int64(s, 4, (int64_t)keep);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	return rc;
}

int store_run_finish(store *st, const struct store_run *r, size_t n,
		     const char *const *paths, const float *scores,
		     size_t keep)
{
	return store_run_finish_log(st, r, n, paths, scores, keep, 0, NULL);
}

int store_run_finish_log(store *st, const struct store_run *r, size_t n,
			 const char *const *paths, const float *scores,
			 size_t keep, int level, const char *event)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	/* Exactly once: the result lands only while r->srv still holds the
	 * run (store/queue.c); a worker whose run was taken over is refused
	 * here, in the transaction that would have written its result. */
	rc = db_run_put(c, r, STORE_RUN_DONE);
	if (!rc)
		rc = exec3(c, "DELETE FROM scores WHERE run=?1", r->id, 0, 0);
	s = rc ? NULL : db_prep(c, "INSERT INTO scores(run,rank,path,score)"
				" VALUES(?1,?2,?3,?4)");
	if (rc || !s) {
		sql_finalize(s);
		return db_end(c, rc ? rc : -EIO);
	}
	for (size_t i = 0; i < n && !rc; i++) {
		sql_reset(s);
		sql_bind_int64(s, 1, r->id);
		sql_bind_int64(s, 2, (int64_t)i);
		db_bind_str(s, 3, paths[i]);
		sql_bind_double(s, 4, scores[i]);
		rc = db_err(sql_step(s));
	}
	sql_finalize(s);
	/* Scores of older runs are not shown anywhere: keep only this one. */
	if (!rc)
		rc = exec3(c, "DELETE FROM scores WHERE run IN (SELECT id FROM"
			   " runs WHERE dataset=?1 AND id<>?2)", r->dataset,
			   r->id, 0);
	if (!rc)
		rc = select_top(c, r, keep);
	if (!rc)
		rc = exec3(c, "UPDATE datasets SET sel_tree=?2, sel_explicit=1"
			   " WHERE id=?1", r->dataset, r->from_tag, 0);
	if (!rc && event)
		rc = db_event_add(c, r->dataset, level, event);
	return db_end(c, rc);
}

int store_run_keep(store *st, int64_t run, size_t keep, int64_t *ranked)
{
	struct conn *c = db_conn(st);
	struct store_run r;
	sql_stmt *s;
	int64_t n = 0;
	int rc;

	if (!c)
		return -EIO;
	rc = store_run_get(st, run, &r);
	if (rc)
		return rc;
	if (r.status != STORE_RUN_DONE)
		return -EINVAL;
	rc = db_begin(c);
	if (rc)
		return rc;
	s = db_prep(c, "SELECT count(*) FROM scores WHERE run=?1");
	if (!s)
		return db_end(c, -EIO);
	sql_bind_int64(s, 1, run);
	rc = sql_step(s);
	if (rc == SQL_ROW)
		n = sql_col_int64(s, 0);
	sql_finalize(s);
	/* a failed count is that error, not "keep more than ranked" */
	if (rc != SQL_ROW)
		return db_end(c, rc < 0 ? rc : -EIO);
	if (ranked)
		*ranked = n;
	if ((int64_t)keep > n)
		return db_end(c, -EINVAL);
	rc = select_top(c, &r, keep);
	if (!rc)
		rc = exec3(c, "UPDATE datasets SET sel_tree=?2, sel_explicit=1"
			   " WHERE id=?1", r.dataset, r.from_tag, 0);
	return db_end(c, rc);
}

int store_run_scores_each(store *st, int64_t run, int limit,
			  int (*fn)(void *arg, const char *path, double score),
			  void *arg)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc = 0, r;

	if (!c || !(s = db_prep(c, "SELECT path, score FROM scores WHERE run=?1"
			     " ORDER BY rank LIMIT ?2")))
		return -EIO;
	sql_bind_int64(s, 1, run);
	sql_bind_int64(s, 2, db_limit(limit));
	while ((r = sql_step(s)) == SQL_ROW) {
		rc = fn(arg, sql_col_text(s, 0),
			sql_col_double(s, 1));
		if (rc)
			break;
	}
	if (!rc && r != SQL_DONE && r != SQL_ROW)
		rc = db_err(r);
	sql_finalize(s);
	return rc;
}
