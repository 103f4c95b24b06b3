/*
 * servers.c — the servers of a shared catalog and their leases (store.h
 * "servers of a shared catalog").
 *
 *   servers(id, started, lease, host, pid, dir)
 *                                            one row per serving process
 *   nodes.srv                                the server whose upload a
 *                                            pending file node is
 *
 * Why. With the catalog in PostgreSQL several `sievefs serve` processes,
 * on several machines, own it at once; each still holds the flock of its
 * own STORE directory (its staging, its local blobs), but that lock says
 * nothing about the catalog. So "recovery at the owner's open" — delete
 * every pending upload, fail every run — would destroy another live
 * server's uploads in flight. Instead each server registers here with a
 * lease it renews (a thread of the store, every third of store_lease_ns),
 * and recovery is a sweep by lease: pending nodes of servers whose lease
 * has expired go, and so do pending nodes no live server claims once they
 * are older than STORE_PENDING_GRACE_NS (made before nodes carried a
 * server, or by a server whose row is gone). Runs are not swept: a run's
 * own lease (queue.c) makes it claimable again.
 *
 * A restart in place needs no wait: a server that opens a STORE
 * directory holds its flock, so every earlier server of that host and
 * directory is dead; their leases (and their runs') are ended at once.
 * (host, dir) names a directory: machines serving one catalog need
 * distinct host names.
 *
 * A server that could not renew in time (the catalog unreachable longer
 * than a lease) may find its row swept and its pending uploads gone: it
 * registers again under the same id at its next beat; the commits of the
 * uploads swept meanwhile fail (their node is gone), as after a crash.
 *
 * Threads: the beat thread only touches the catalog through its own
 * connection (db_conn), and st->srv_stop under st->srv_lock.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db.h"

/* Inserts (or, after a sweep removed it, restores) this server's row. */
static int register_row(struct conn *c, int64_t *id)
{
	char host[256] = "";
	int64_t now = store_now_ns();
	sql_stmt *s;
	int rc;

	gethostname(host, sizeof(host) - 1);
	rc = db_begin(c);
	if (rc)
		return rc;
	/* ?1..?5 the row, ?6 the id it had (restored after a sweep) */
	if (*id)
		s = db_prep(c, "INSERT INTO servers(started, lease, host, pid,"
			    " dir, id) VALUES(?1,?2,?3,?4,?5,?6)"
			    " ON CONFLICT(id) DO UPDATE SET lease=excluded.lease");
	else
		s = db_prep(c, "INSERT INTO servers(started, lease, host, pid,"
			    " dir) VALUES(?1,?2,?3,?4,?5) RETURNING id");
	if (!s)
		return db_end(c, -EIO);
	sql_bind_int64(s, 1, now);
	sql_bind_int64(s, 2, now + store_lease_ns());
	db_bind_str(s, 3, host);
	sql_bind_int64(s, 4, (int64_t)getpid());
	db_bind_str(s, 5, c->st->dir);
	if (*id)
		sql_bind_int64(s, 6, *id);
	if (*id)
		rc = db_err(sql_step(s));
	else
		rc = db_insert_id(s, id);
	sql_finalize(s);
	return db_end(c, rc);
}

/* Renews this server's lease; re-registers when the row is gone. */
static int renew(store *st, struct conn *c)
{
	sql_stmt *s;
	int rc = db_begin(c);
	int64_t changed;

	if (rc)
		return rc;
	s = db_prep(c, "UPDATE servers SET lease=?2 WHERE id=?1");
	if (!s)
		return db_end(c, -EIO);
	sql_bind_int64(s, 1, st->server);
	sql_bind_int64(s, 2, store_now_ns() + store_lease_ns());
	rc = db_err(sql_step(s));
	sql_finalize(s);
	changed = rc ? 0 : sql_changes(c->db);
	rc = db_end(c, rc);
	if (!rc && changed == 0)
		rc = register_row(c, &st->server);
	return rc;
}

/* The pending nodes the sweep takes: their server's lease expired (?1 =
 * now), or no live server claims them and they are older than the
 * grace (?2 = now - grace). */
#define SWEPT "SELECT ino FROM nodes WHERE kind=2 AND sha IS NULL AND" \
	" (srv IN (SELECT id FROM servers WHERE lease<?1) OR" \
	" ((srv IS NULL OR srv NOT IN (SELECT id FROM servers))" \
	" AND ctime<?2))"

/* Runs sql with ?1 = now and, when it has one, ?2 = now - the grace. */
static int sweep_stmt(struct conn *c, const char *sql, int64_t now,
		      int64_t *changed)
{
	sql_stmt *s = db_prep(c, sql);
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, now);
	if (strstr(sql, "?2"))
		sql_bind_int64(s, 2, now - STORE_PENDING_GRACE_NS);
	rc = db_err(sql_step(s));
	sql_finalize(s);
	if (!rc && changed)
		*changed = sql_changes(c->db);
	return rc;
}

int store_servers_sweep(store *st, int64_t *nodes)
{
	struct conn *c = db_conn(st);
	int64_t now = store_now_ns(), n = 0;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	rc = sweep_stmt(c, "DELETE FROM selection WHERE node IN (" SWEPT ")",
			now, NULL);
	if (!rc)
		rc = sweep_stmt(c, "DELETE FROM nodes WHERE ino IN (" SWEPT ")",
				now, &n);
	/* after their nodes, in the same transaction: a row gone means
	 * nothing of that server is pending any more, but for what the
	 * grace covers */
	if (!rc)
		rc = sweep_stmt(c, "DELETE FROM servers WHERE lease<?1", now,
				NULL);
	rc = db_end(c, rc);
	if (!rc && nodes)
		*nodes = n;
	return rc;
}

static void *beat_main(void *arg)
{
	store *st = arg;
	struct conn *c;
	int64_t every = store_lease_ns() / 3;

	pthread_mutex_lock(&st->srv_lock);
	while (!st->srv_stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += every / 1000000000;
		until.tv_nsec += every % 1000000000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		while (!st->srv_stop &&
		       pthread_cond_timedwait(&st->srv_cond, &st->srv_lock,
					      &until) != ETIMEDOUT)
			;
		if (st->srv_stop)
			break;
		pthread_mutex_unlock(&st->srv_lock);
		/* failures are retried at the next beat: the catalog may be
		 * away for a while (store/ does not log; a lost lease shows
		 * as the sweep of this server's uploads) */
		c = db_conn(st);
		if (c && renew(st, c) == 0)
			store_servers_sweep(st, NULL);
		pthread_mutex_lock(&st->srv_lock);
	}
	pthread_mutex_unlock(&st->srv_lock);
	return NULL;
}

/* Servers that had this STORE directory before us (same host and
 * directory, another id) are dead: we hold the directory's flock, which
 * died with them. Their leases end now, and so do those of their runs,
 * so the sweep below takes their pending uploads at once and any worker
 * (ours included) takes their runs over — a restart in place recovers
 * without waiting out a lease. */
static int end_predecessors(struct conn *c, int64_t me)
{
	static const char *const q[] = {
		"UPDATE runs SET lease=0 WHERE status=1 AND srv IN (SELECT id"
		" FROM servers WHERE host=?1 AND dir=?2 AND id<>?3)",
		"UPDATE servers SET lease=0 WHERE host=?1 AND dir=?2 AND id<>?3",
	};
	char host[256] = "";
	int rc = db_begin(c);

	if (rc)
		return rc;
	gethostname(host, sizeof(host) - 1);
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]) && !rc; i++) {
		sql_stmt *s = db_prep(c, q[i]);
		if (!s) {
			rc = -EIO;
			break;
		}
		db_bind_str(s, 1, host);
		db_bind_str(s, 2, c->st->dir);
		sql_bind_int64(s, 3, me);
		rc = db_err(sql_step(s));
		sql_finalize(s);
	}
	return db_end(c, rc);
}

int servers_join(store *st)
{
	struct conn *c = db_conn(st);
	int rc;

	if (!c)
		return -EIO;
	rc = register_row(c, &st->server);
	if (!rc)
		rc = end_predecessors(c, st->server);
	if (!rc)
		rc = store_servers_sweep(st, NULL);
	if (rc)
		return rc;
	pthread_mutex_init(&st->srv_lock, NULL);
	pthread_cond_init(&st->srv_cond, NULL);
	if (pthread_create(&st->srv_thread, NULL, beat_main, st)) {
		pthread_cond_destroy(&st->srv_cond);
		pthread_mutex_destroy(&st->srv_lock);
		return -EAGAIN;
	}
	st->srv_started = 1;
	return 0;
}

void servers_leave(store *st)
{
	/* A clean stop: this server's pending uploads are over (their
	 * handles are closed by now), and its row need not wait for the
	 * lease to run out. Best effort: the sweep does it otherwise. */
	static const char *const q[] = {
		"DELETE FROM selection WHERE node IN (SELECT ino FROM nodes"
		" WHERE kind=2 AND sha IS NULL AND srv=?1)",
		"DELETE FROM nodes WHERE kind=2 AND sha IS NULL AND srv=?1",
		"DELETE FROM servers WHERE id=?1",
	};
	struct conn *c;
	int rc;

	if (st->srv_started) {
		pthread_mutex_lock(&st->srv_lock);
		st->srv_stop = 1;
		pthread_cond_signal(&st->srv_cond);
		pthread_mutex_unlock(&st->srv_lock);
		pthread_join(st->srv_thread, NULL);
		pthread_cond_destroy(&st->srv_cond);
		pthread_mutex_destroy(&st->srv_lock);
		st->srv_started = 0;
	}
	if (!st->server || !(c = db_conn(st)) || db_begin(c))
		return;
	rc = 0;
	for (size_t i = 0; i < sizeof(q) / sizeof(q[0]) && !rc; i++) {
		sql_stmt *s = db_prep(c, q[i]);
		if (!s) {
			rc = -EIO;
			break;
		}
		sql_bind_int64(s, 1, st->server);
		rc = db_err(sql_step(s));
		sql_finalize(s);
	}
	db_end(c, rc);
}
