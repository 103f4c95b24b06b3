/*
 * queue.c — sampling runs as a queue in the catalog (store.h "the run
 * queue"): claim, heartbeat, the worker's checked writes, cancel.
 *
 *   runs(..., status, srv, lease, cancel, phase)
 *     status 0 queued, 1 running, 2 done, 3 cancelled, 4 failed
 *     srv    the server holding a running run (store_server_id: 0 for the
 *            embedded store's one worker)
 *     lease  until when it holds it (ns, CLOCK_REALTIME of the holder)
 *     cancel 1 once `cancel` was asked while it ran
 *     phase  what its worker is doing, for `sample` on every server
 *
 * The claim is one UPDATE whose subquery picks the oldest claimable row
 * with SQL_SKIP_LOCKED, inside a write transaction. On PostgreSQL every
 * write transaction holds the catalog's advisory lock (sql_pg.c), so
 * claimers are serialised already; the row lock is what keeps the claim
 * right on its own (in a transaction without that lock, a second claimer
 * passes over the row the first holds instead of waiting for it and then
 * taking the same run). On SQLite the clause is dropped (sql.h) and the
 * database lock serialises them.
 *
 * Exactly once. Every write a worker makes to its run after the claim
 * carries `srv=? AND status=1` in its WHERE, so the check that the lease
 * is still its own and the write are one statement; a result (scores,
 * selection: vectors.c store_run_finish) is written in the transaction
 * whose first statement is that checked write. After a takeover the old
 * worker's writes change nothing (-ESTALE), whatever it computed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

int64_t store_lease_ns(void)
{
	static int64_t ns;        /* 0 until read; one value per process */
	int64_t v = __atomic_load_n(&ns, __ATOMIC_RELAXED);
	const char *e;

	if (v)
		return v;
	v = 30000;
	e = getenv("SIEVEFS_LEASE_MS");
	if (e && *e) {
		char *end;
		long long ms = strtoll(e, &end, 10);
		if (!*end && ms >= 500 && ms <= 3600000)
			v = ms;
	}
	v *= 1000000;
	__atomic_store_n(&ns, v, __ATOMIC_RELAXED);
	return v;
}

int64_t store_server_id(store *st)
{
	return st->server;
}

int store_run_claimable(store *st)
{
	struct conn *c = db_conn(st);
	sql_stmt *s = c ? db_prep(c, "SELECT 1 FROM runs WHERE status=0 OR"
				  " (status=1 AND lease<?1) LIMIT 1") : NULL;
	int r;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, store_now_ns());
	r = sql_step(s);
	sql_finalize(s);
	return r == SQL_ROW ? 1 : r == SQL_DONE ? 0 : db_err(r);
}

int store_run_claim(store *st, int64_t srv, int64_t lease_ns,
		    struct store_run *out)
{
	struct conn *c = db_conn(st);
	int64_t now = store_now_ns();
	sql_stmt *s;
	int rc, r, got = 0;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	s = db_prep(c, "UPDATE runs SET status=1, srv=?1, lease=?2,"
		    " started=CASE WHEN status=0 THEN ?3 ELSE started END,"
		    " done=0, total=0, phase='starting'"
		    " WHERE id=(SELECT id FROM runs WHERE status=0 OR"
		    " (status=1 AND lease<?3) ORDER BY id LIMIT 1"
		    SQL_SKIP_LOCKED ") RETURNING " RUN_COLS);
	if (!s)
		return db_end(c, -EIO);
	sql_bind_int64(s, 1, srv);
	sql_bind_int64(s, 2, lease_ns);
	sql_bind_int64(s, 3, now);
	r = sql_step(s);
	if (r == SQL_ROW) {
		/* the run as claimed, in the claim's own statement */
		db_run_row(s, out);
		got = 1;
		r = sql_step(s);
	}
	sql_finalize(s);
	rc = db_end(c, db_err(r));
	if (rc)
		return rc;
	return got ? 0 : -ENOENT;
}

int store_run_beat(store *st, int64_t id, int64_t srv, int64_t lease_ns,
		   int64_t done, int64_t total, const char *phase,
		   int *cancel)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int64_t flag = 0;
	int rc, r, got = 0;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	s = db_prep(c, "UPDATE runs SET lease=?3, done=?4, total=?5, phase=?6"
		    " WHERE id=?1 AND srv=?2 AND status=1 RETURNING cancel");
	if (!s)
		return db_end(c, -EIO);
	sql_bind_int64(s, 1, id);
	sql_bind_int64(s, 2, srv);
	sql_bind_int64(s, 3, lease_ns);
	sql_bind_int64(s, 4, done);
	sql_bind_int64(s, 5, total);
	db_bind_str(s, 6, phase ? phase : "");
	r = sql_step(s);
	if (r == SQL_ROW) {
		got = 1;
		flag = sql_col_int64(s, 0);
		r = sql_step(s);
	}
	sql_finalize(s);
	rc = db_end(c, db_err(r));
	if (rc)
		return rc;
	if (!got)
		return -ESTALE;
	if (cancel)
		*cancel = flag != 0;
	return 0;
}

int db_run_put(struct conn *c, const struct store_run *r, int status)
{
	sql_stmt *s = db_prep(c, "UPDATE runs SET status=?3, done=?4, total=?5,"
			      " skipped=?6, started=?7, finished=?8, error=?9,"
			      " emb=?10, candidates=?11, phase=?12"
			      " WHERE id=?1 AND srv=?2 AND status IN (1, ?13)");
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, r->id);
	sql_bind_int64(s, 2, r->srv);
	sql_bind_int64(s, 3, status);
	sql_bind_int64(s, 4, r->done);
	sql_bind_int64(s, 5, r->total);
	sql_bind_int64(s, 6, r->skipped);
	sql_bind_int64(s, 7, r->started_ns);
	sql_bind_int64(s, 8, r->finished_ns);
	db_bind_str(s, 9, r->error);
	sql_bind_int64(s, 10, r->emb);
	sql_bind_int64(s, 11, r->candidates);
	db_bind_str(s, 12, status == STORE_RUN_RUNNING ? r->phase : "");
	/* a result may replace its own holder's earlier one (a caller
	 * outside the queue finishing a run it made done itself) */
	sql_bind_int64(s, 13, status == STORE_RUN_DONE ? STORE_RUN_DONE
						       : STORE_RUN_RUNNING);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	if (!rc && sql_changes(c->db) == 0)
		rc = -ESTALE;
	return rc;
}

int store_run_put(store *st, const struct store_run *r)
{
	return store_run_end(st, r, 0, NULL);
}

int store_run_end(store *st, const struct store_run *r, int level,
		  const char *event)
{
	struct conn *c = db_conn(st);
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	rc = db_run_put(c, r, r->status);
	if (!rc && event)
		rc = db_event_add(c, r->dataset, level, event);
	return db_end(c, rc);
}

int store_run_cancel(store *st, int64_t ds, int64_t *queued,
		     int64_t *running)
{
	struct conn *c = db_conn(st);
	int64_t q = 0, a = 0;
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	s = db_prep(c, "UPDATE runs SET status=3, finished=?2, error=''"
		    " WHERE dataset=?1 AND status=0");
	if (!s)
		return db_end(c, -EIO);
	sql_bind_int64(s, 1, ds);
	sql_bind_int64(s, 2, store_now_ns());
	rc = db_err(sql_step(s));
	sql_finalize(s);
	if (!rc)
		q = sql_changes(c->db);
	s = rc ? NULL : db_prep(c, "UPDATE runs SET cancel=1 WHERE dataset=?1"
				" AND status=1");
	if (!rc && !s)
		rc = -EIO;
	if (!rc) {
		sql_bind_int64(s, 1, ds);
		rc = db_err(sql_step(s));
		sql_finalize(s);
		if (!rc)
			a = sql_changes(c->db);
	}
	rc = db_end(c, rc);
	if (!rc && queued)
		*queued = q;
	if (!rc && running)
		*running = a;
	return rc;
}

int store_run_active(store *st, int64_t ds, struct store_run *out)
{
	struct conn *c = db_conn(st);
	sql_stmt *s = c ? db_prep(c, "SELECT " RUN_COLS " FROM runs WHERE"
				  " dataset=?1 AND status IN (0,1) AND"
				  " strategy<>'embed' ORDER BY id LIMIT 1")
			: NULL;
	int r;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, ds);
	r = sql_step(s);
	if (r == SQL_ROW)
		db_run_row(s, out);
	sql_finalize(s);
	return r == SQL_ROW ? 0 : r == SQL_DONE ? -ENOENT : db_err(r);
}

/* ---- run_notes ---- */

int store_run_note_get(store *st, int64_t ds, struct store_run_note *out)
{
	struct conn *c = db_conn(st);
	sql_stmt *s = c ? db_prep(c, "SELECT error, error_at, keep_n, keep_got,"
				  " keep_seq, keep_at, hand_at FROM run_notes"
				  " WHERE dataset=?1") : NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, ds);
	r = sql_step(s);
	if (r == SQL_ROW) {
		snprintf(out->error, sizeof(out->error), "%s",
			 sql_col_text(s, 0));
		out->error_ns = sql_col_int64(s, 1);
		out->keep_n = sql_col_int64(s, 2);
		out->keep_got = sql_col_int64(s, 3);
		out->keep_seq = sql_col_int64(s, 4);
		out->keep_ns = sql_col_int64(s, 5);
		out->hand_ns = sql_col_int64(s, 6);
	}
	sql_finalize(s);
	return r == SQL_ROW || r == SQL_DONE ? 0 : db_err(r);
}

/* One upsert of run_notes: ?1 the dataset, then the text (when txt is
 * not NULL) and the nv integers, numbered on from ?2 (PostgreSQL must
 * see every parameter number it is given). */
static int note_put(store *st, const char *sql, int64_t ds, const char *txt,
		    const int64_t *v, int nv)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	if (!(s = db_prep(c, sql)))
		return db_end(c, -EIO);
	sql_bind_int64(s, 1, ds);
	if (txt)
		db_bind_str(s, 2, txt);
	for (int i = 0; i < nv; i++)
		sql_bind_int64(s, (txt ? 3 : 2) + i, v[i]);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	return db_end(c, rc);
}

int store_run_note_error(store *st, int64_t ds, const char *why, int64_t ns)
{
	int64_t v[] = { ns };

	return note_put(st, "INSERT INTO run_notes(dataset, error, error_at)"
			" VALUES(?1,?2,?3) ON CONFLICT(dataset) DO UPDATE SET"
			" error=excluded.error, error_at=excluded.error_at",
			ds, why, v, 1);
}

int store_run_note_keep(store *st, int64_t ds, int64_t n, int64_t got,
			int64_t seq, int64_t ns)
{
	int64_t v[] = { n, got, seq, ns };

	return note_put(st, "INSERT INTO run_notes(dataset, keep_n, keep_got,"
			" keep_seq, keep_at) VALUES(?1,?2,?3,?4,?5)"
			" ON CONFLICT(dataset) DO UPDATE SET"
			" keep_n=excluded.keep_n, keep_got=excluded.keep_got,"
			" keep_seq=excluded.keep_seq, keep_at=excluded.keep_at",
			ds, NULL, v, 4);
}

int store_run_note_hand(store *st, int64_t ds, int64_t ns)
{
	int64_t v[] = { ns };

	return note_put(st, "INSERT INTO run_notes(dataset, hand_at)"
			" VALUES(?1,?2) ON CONFLICT(dataset) DO UPDATE SET"
			" keep_n=0, hand_at=excluded.hand_at", ds, NULL, v, 1);
}
