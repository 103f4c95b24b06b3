/*
 * test_queue.c — the run queue and the servers' leases in the catalog
 * (store/queue.c, store/servers.c), on whichever engine the tests run
 * (`make test-pg` runs this binary on PostgreSQL): two claimers, each on
 * its own store handle of one catalog (so each has its own connections
 * and write lock: the engine is what keeps them apart), never get the
 * same run; a run whose lease expired is taken over, and the worker that
 * lost it can neither renew it nor write its end or its result, while
 * the new holder's result is written once; cancel reaches queued and
 * running runs; the sweep takes the pending uploads of an expired server
 * and old ones no live server claims, and spares a live server's; a
 * server started again on the same STORE directory recovers what the
 * dead one left at once; the notes `sample` shows besides the run are
 * read alike through another handle.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "tests/unit/tstore.h"

#define assert_rc(x, want) assert_int_equal((int)(x), (int)(want))

static int setup(void **state)
{
	return tstore_fx_setup(state, "queue");
}

static int teardown(void **state)
{
	return tstore_fx_teardown(state);
}

static int64_t queue_run(store *st, const struct store_dataset *d,
			 const char *strategy)
{
	struct store_run r = { 0 };

	r.dataset = d->id;
	snprintf(r.request, sizeof(r.request), "%s n=1", strategy);
	snprintf(r.strategy, sizeof(r.strategy), "%s", strategy);
	r.from_tag = d->live_tree;
	r.status = STORE_RUN_QUEUED;
	assert_rc(store_run_create(st, &r), 0);
	return r.id;
}

#define NRUNS 40

struct claimer {
	store *st;
	int64_t srv;
	int64_t got[NRUNS];
	int n, rc;
};

static void *claim_all(void *arg)
{
	struct claimer *c = arg;
	struct store_run r;
	int rc;

	while ((rc = store_run_claim(c->st, c->srv, store_now_ns() +
				     3600LL * 1000000000LL, &r)) == 0) {
		if (c->n < NRUNS)
			c->got[c->n] = r.id;
		c->n++;
		if (r.srv != c->srv || r.status != STORE_RUN_RUNNING)
			c->rc = -EINVAL;
	}
	if (rc != -ENOENT)
		c->rc = rc;
	return NULL;
}

/* Two handles on one catalog claim concurrently: every run once. */
static void two_claimers_never_share_a_run(void **state)
{
	struct tstore_fx *f = *state;
	struct store_dataset d;
	struct claimer a = { .srv = 101 }, b = { .srv = 102 };
	char msg[STORE_ERRMSG];
	int64_t ids[NRUNS];
	pthread_t ta, tb;

	assert_rc(store_dataset_create(f->st, "", "q2", &d), 0);
	for (int i = 0; i < NRUNS; i++)
		ids[i] = queue_run(f->st, &d, "random");
	a.st = f->st;
	assert_rc(store_open(f->dir, STORE_OPEN_ADMIN, &b.st, msg,
			     sizeof(msg)), 0);
	assert_int_equal(store_run_claimable(f->st), 1);
	assert_rc(pthread_create(&ta, NULL, claim_all, &a), 0);
	assert_rc(pthread_create(&tb, NULL, claim_all, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_rc(a.rc, 0);
	assert_rc(b.rc, 0);
	assert_int_equal(a.n + b.n, NRUNS);
	for (int i = 0; i < NRUNS; i++) {
		int seen = 0;
		for (int j = 0; j < a.n; j++)
			seen += a.got[j] == ids[i];
		for (int j = 0; j < b.n; j++)
			seen += b.got[j] == ids[i];
		assert_int_equal(seen, 1);
	}
	assert_int_equal(store_run_claimable(f->st), 0);
	store_close(b.st);
}

/* A lease that expired is taken over; the old holder is refused every
 * write from then on, and the result is written once, by the new one. */
static void expired_lease_taken_over_stale_refused(void **state)
{
	struct tstore_fx *f = *state;
	struct store_dataset d;
	struct store_run old, cur, r;
	const char *paths[] = { "x", "y" };
	const float scores[] = { 0.5f, 0.25f };
	int64_t id, now = store_now_ns(), hour = 3600LL * 1000000000LL;
	int cancel = -1;

	assert_rc(store_dataset_create(f->st, "", "q3", &d), 0);
	id = queue_run(f->st, &d, "random");
	/* server 1 claims it and dies: its lease runs out */
	assert_rc(store_run_claim(f->st, 1, now - 1, &old), 0);
	assert_int_equal(old.id, id);
	assert_int_equal(old.started_ns > 0, 1);
	/* server 2 takes it over */
	assert_int_equal(store_run_claimable(f->st), 1);
	assert_rc(store_run_claim(f->st, 2, now + hour, &cur), 0);
	assert_int_equal(cur.id, id);
	assert_int_equal(cur.srv, 2);
	assert_int_equal(cur.started_ns, old.started_ns);  /* kept */
	/* the claim answers the run as the catalog now holds it */
	assert_int_equal(cur.status, STORE_RUN_RUNNING);
	assert_int_equal(cur.lease_ns, now + hour);
	assert_string_equal(cur.phase, "starting");
	assert_rc(store_run_get(f->st, id, &r), 0);
	assert_memory_equal(&r, &cur, offsetof(struct store_run, error));
	assert_string_equal(r.error, cur.error);
	assert_int_equal(r.srv, cur.srv);
	assert_int_equal(r.lease_ns, cur.lease_ns);
	assert_string_equal(r.phase, cur.phase);
	/* a live lease is not claimable */
	assert_int_equal(store_run_claimable(f->st), 0);
	assert_rc(store_run_claim(f->st, 3, now + hour, &r), -ENOENT);
	/* the old worker comes back: no renewal, no end, no result */
	assert_rc(store_run_beat(f->st, id, 1, now + hour, 5, 10, "sampling",
				 NULL), -ESTALE);
	old.status = STORE_RUN_FAILED;
	snprintf(old.error, sizeof(old.error), "stale");
	assert_rc(store_run_put(f->st, &old), -ESTALE);
	old.status = STORE_RUN_DONE;
	old.done = old.total = 2;
	assert_rc(store_run_finish(f->st, &old, 2, paths, scores, 2),
		  -ESTALE);
	assert_rc(store_run_get(f->st, id, &r), 0);
	assert_int_equal(r.status, STORE_RUN_RUNNING);
	assert_int_equal(r.srv, 2);
	assert_string_equal(r.error, "");
	assert_rc(store_run_latest_done(f->st, d.id, &r), -ENOENT);
	/* the holder's beat records its progress for every server */
	assert_rc(store_run_beat(f->st, id, 2, now + hour, 3, 7, "sampling",
				 &cancel), 0);
	assert_int_equal(cancel, 0);
	assert_rc(store_run_get(f->st, id, &r), 0);
	assert_int_equal(r.done, 3);
	assert_int_equal(r.total, 7);
	assert_string_equal(r.phase, "sampling");
	/* its result lands, once */
	cur.done = cur.total = 1;
	cur.candidates = 2;
	cur.finished_ns = store_now_ns();
	assert_rc(store_run_finish(f->st, &cur, 2, paths, scores, 1), 0);
	assert_rc(store_run_get(f->st, id, &r), 0);
	assert_int_equal(r.status, STORE_RUN_DONE);
	assert_int_equal(r.candidates, 2);
	assert_string_equal(r.phase, "");
	assert_rc(store_run_latest_done(f->st, d.id, &r), 0);
	assert_int_equal(r.id, id);
	/* and nothing claims a finished run, nor may the stale worker */
	assert_rc(store_run_claim(f->st, 3, now + hour, &r), -ENOENT);
	assert_rc(store_run_finish(f->st, &old, 2, paths, scores, 2),
		  -ESTALE);
	assert_rc(store_run_beat(f->st, id, 2, now + hour, 0, 0, "", NULL),
		  -ESTALE);
}

/* cancel: queued runs end at once, a running one gets the flag its
 * worker reads at the next beat; a selecting run shows as active. */
static void cancel_reaches_queued_and_running(void **state)
{
	struct tstore_fx *f = *state;
	struct store_dataset d;
	struct store_run r;
	int64_t q = -1, a = -1, hour = 3600LL * 1000000000LL;
	int64_t first, second;
	int cancel = 0;

	assert_rc(store_dataset_create(f->st, "", "q4", &d), 0);
	assert_rc(store_run_active(f->st, d.id, &r), -ENOENT);
	queue_run(f->st, &d, "embed");          /* not selecting */
	assert_rc(store_run_active(f->st, d.id, &r), -ENOENT);
	first = queue_run(f->st, &d, "random");
	second = queue_run(f->st, &d, "coreset");
	assert_rc(store_run_active(f->st, d.id, &r), 0);
	assert_int_equal(r.id, first);
	assert_int_equal(r.status, STORE_RUN_QUEUED);
	/* the embed run is claimed first (oldest), then `first` */
	assert_rc(store_run_claim(f->st, 7, store_now_ns() + hour, &r), 0);
	assert_rc(store_run_claim(f->st, 7, store_now_ns() + hour, &r), 0);
	assert_int_equal(r.id, first);
	assert_rc(store_run_cancel(f->st, d.id, &q, &a), 0);
	assert_int_equal(q, 1);                 /* second */
	assert_int_equal(a, 2);                 /* embed and first */
	assert_rc(store_run_get(f->st, second, &r), 0);
	assert_int_equal(r.status, STORE_RUN_CANCELLED);
	assert_rc(store_run_beat(f->st, first, 7, store_now_ns() + hour, 0, 0,
				 "sampling", &cancel), 0);
	assert_int_equal(cancel, 1);
	assert_rc(store_run_get(f->st, first, &r), 0);
	assert_int_equal(r.cancel, 1);
	r.status = STORE_RUN_CANCELLED;
	assert_rc(store_run_put(f->st, &r), 0);
	assert_rc(store_run_get(f->st, first, &r), 0);
	assert_int_equal(r.status, STORE_RUN_CANCELLED);
}

static int64_t pending_node(store *st, const struct store_dataset *d,
			    const char *name)
{
	struct store_newnode nn = { .kind = STORE_FILE, .mode = 0644 };
	struct store_node n;

	assert_rc(store_node_create(st, d->live_root, name, &nn, &n), 0);
	assert_int_equal(n.has_sha, 0);
	return n.ino;
}

static int node_exists(const char *dir, int64_t ino)
{
	char sql[128];
	int64_t n = -1;

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM nodes WHERE ino=%lld",
		 (long long)ino);
	assert_rc(tstore_catalog_int(dir, sql, &n), 0);
	return (int)n;
}

/* The sweep takes an expired server's pending uploads and old ones no
 * live server claims; a live server's in-flight upload stays, however
 * old, and so does a recent one of no server. */
static void sweep_spares_live_servers_uploads(void **state)
{
	struct tstore_fx *f = *state;
	struct store_dataset d;
	int64_t live, dead, orphan_old, orphan_new, n = -1, rows = -1;
	char sql[512];

	assert_rc(store_dataset_create(f->st, "", "q5", &d), 0);
	live = pending_node(f->st, &d, "live.bin");
	dead = pending_node(f->st, &d, "dead.bin");
	orphan_old = pending_node(f->st, &d, "old.bin");
	orphan_new = pending_node(f->st, &d, "new.bin");
	/* servers 9001 (live, lease far ahead) and 9002 (expired) */
	assert_rc(tstore_catalog_exec(f->dir, "INSERT INTO servers(id, started,"
				      " lease, host, pid) VALUES"
				      " (9001, 1, 9000000000000000000, 'a', 1),"
				      " (9002, 1, 2, 'b', 2)", NULL), 0);
	snprintf(sql, sizeof(sql), "UPDATE nodes SET srv=9001, ctime=1 WHERE"
		 " ino=%lld; UPDATE nodes SET srv=9002 WHERE ino=%lld;"
		 " UPDATE nodes SET srv=NULL, ctime=1 WHERE ino=%lld;"
		 " UPDATE nodes SET srv=NULL WHERE ino=%lld",
		 (long long)live, (long long)dead, (long long)orphan_old,
		 (long long)orphan_new);
	assert_rc(tstore_catalog_exec(f->dir, sql, NULL), 0);
	assert_rc(store_servers_sweep(f->st, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(node_exists(f->dir, live), 1);
	assert_int_equal(node_exists(f->dir, orphan_new), 1);
	assert_int_equal(node_exists(f->dir, dead), 0);
	assert_int_equal(node_exists(f->dir, orphan_old), 0);
	assert_rc(tstore_catalog_int(f->dir, "SELECT count(*) FROM servers"
				     " WHERE id IN (9001, 9002)", &rows), 0);
	assert_int_equal(rows, 1);
	/* again: nothing more to take */
	assert_rc(store_servers_sweep(f->st, &n), 0);
	assert_int_equal(n, 0);
}

/* A server started again on the same STORE directory (it holds the
 * flock, so the earlier one is dead) recovers at once: the dead one's
 * pending upload goes and its run is free to be taken over (PostgreSQL),
 * or failed as interrupted by the owner's recovery (SQLite), without
 * waiting for a lease that has an hour to run. */
static void restart_in_place_recovers_at_once(void **state)
{
	struct tstore_fx *f = *state;
	struct store_dataset d;
	struct store_run r;
	char host[256] = "", sql[1024], msg[STORE_ERRMSG], *dir;
	int64_t up, run, rows = -1;

	assert_rc(store_dataset_create(f->st, "", "q6", &d), 0);
	up = pending_node(f->st, &d, "inflight.bin");
	run = queue_run(f->st, &d, "random");
	gethostname(host, sizeof(host) - 1);
	dir = realpath(f->dir, NULL);
	assert_non_null(dir);
	snprintf(sql, sizeof(sql), "INSERT INTO servers(id, started, lease,"
		 " host, pid, dir) VALUES (9100, 1, 9000000000000000000, '%s',"
		 " 1, '%s'); UPDATE nodes SET srv=9100 WHERE ino=%lld;"
		 " UPDATE runs SET status=1, srv=9100, lease=9000000000000000000"
		 " WHERE id=%lld", host, dir, (long long)up, (long long)run);
	free(dir);
	assert_rc(tstore_catalog_exec(f->dir, sql, NULL), 0);
	store_close(f->st);
	f->st = NULL;
	assert_rc(store_open(f->dir, STORE_OPEN_OWNER, &f->st, msg,
			     sizeof(msg)), 0);
	assert_int_equal(node_exists(f->dir, up), 0);
	assert_rc(store_run_get(f->st, run, &r), 0);
	if (!strcmp(tstore_engine(), "postgresql")) {
		assert_int_equal(r.status, STORE_RUN_RUNNING);
		assert_int_equal(store_run_claimable(f->st), 1);
		assert_rc(tstore_catalog_int(f->dir, "SELECT count(*) FROM"
					     " servers WHERE id=9100", &rows), 0);
		assert_int_equal(rows, 0);
	} else {
		assert_int_equal(r.status, STORE_RUN_FAILED);
	}
}

/* A clean stop leaves nothing of this server in the catalog (servers.c
 * servers_leave): its row and its pending uploads go at once, not at the
 * next sweep a lease later; another live server's row and upload stay.
 * An embedded store registers nothing. */
static void clean_close_leaves_the_catalog(void **state)
{
	struct tstore_fx *f = *state;
	struct store_dataset d;
	char sql[256];
	int64_t me = store_server_id(f->st), mine, theirs, rows = -1;

	assert_rc(store_dataset_create(f->st, "", "q7", &d), 0);
	mine = pending_node(f->st, &d, "mine.bin");
	theirs = pending_node(f->st, &d, "theirs.bin");
	snprintf(sql, sizeof(sql), "INSERT INTO servers(id, started, lease)"
		 " VALUES (9200, 1, 9000000000000000000); UPDATE nodes SET"
		 " srv=9200 WHERE ino=%lld", (long long)theirs);
	assert_rc(tstore_catalog_exec(f->dir, sql, NULL), 0);
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM servers WHERE"
		 " id=%lld", (long long)me);
	assert_rc(tstore_catalog_int(f->dir, sql, &rows), 0);
	assert_int_equal(rows, me ? 1 : 0);
	store_close(f->st);
	f->st = NULL;
	assert_rc(tstore_catalog_int(f->dir, sql, &rows), 0);
	assert_int_equal(rows, 0);
	assert_rc(tstore_catalog_int(f->dir, "SELECT count(*) FROM servers"
				     " WHERE id=9200", &rows), 0);
	assert_int_equal(rows, 1);
	assert_int_equal(node_exists(f->dir, theirs), 1);
	/* the embedded store's pending upload waits for its owner's next
	 * open (recover_pending); a server's goes with it */
	assert_int_equal(node_exists(f->dir, mine), me ? 0 : 1);
}

/* What `sample` says besides the run is the catalog's: a second handle
 * (another server) reads what the first wrote. */
static void notes_are_the_catalogs(void **state)
{
	struct tstore_fx *f = *state;
	struct store_run_note nt;
	char msg[STORE_ERRMSG];
	store *other;

	assert_rc(store_open(f->dir, STORE_OPEN_ADMIN, &other, msg,
			     sizeof(msg)), 0);
	assert_rc(store_run_note_get(other, 42, &nt), 0);
	assert_string_equal(nt.error, "");
	assert_int_equal(nt.keep_n, 0);
	assert_rc(store_run_note_error(f->st, 42, "unknown strategy 'x'", 5),
		  0);
	assert_rc(store_run_note_keep(f->st, 42, 10, 9, 3, 6), 0);
	assert_rc(store_run_note_get(other, 42, &nt), 0);
	assert_string_equal(nt.error, "unknown strategy 'x'");
	assert_int_equal(nt.error_ns, 5);
	assert_int_equal(nt.keep_n, 10);
	assert_int_equal(nt.keep_got, 9);
	assert_int_equal(nt.keep_seq, 3);
	assert_int_equal(nt.keep_ns, 6);
	/* a hand-written selection forgets the keep, keeps the error */
	assert_rc(store_run_note_hand(other, 42, 7), 0);
	assert_rc(store_run_note_get(f->st, 42, &nt), 0);
	assert_int_equal(nt.keep_n, 0);
	assert_int_equal(nt.hand_ns, 7);
	assert_string_equal(nt.error, "unknown strategy 'x'");
	store_close(other);
}

/* SQL_SKIP_LOCKED reaches the engine whole or not at all (sql.h): the
 * claim's statement prepares and runs on both. Covered by every claim
 * above; this one checks an embedded store is no server (srv 0) and a
 * shared catalog's owner is one. */
static void server_id_follows_the_engine(void **state)
{
	struct tstore_fx *f = *state;

	if (!strcmp(tstore_engine(), "postgresql"))
		assert_true(store_server_id(f->st) > 0);
	else
		assert_int_equal(store_server_id(f->st), 0);
	assert_true(store_lease_ns() >= 500000000LL);
}

int main(void)
{
	const struct CMUnitTest cases[] = {
		cmocka_unit_test_setup_teardown(two_claimers_never_share_a_run,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			expired_lease_taken_over_stale_refused, setup,
			teardown),
		cmocka_unit_test_setup_teardown(
			cancel_reaches_queued_and_running, setup, teardown),
		cmocka_unit_test_setup_teardown(
			sweep_spares_live_servers_uploads, setup, teardown),
		cmocka_unit_test_setup_teardown(server_id_follows_the_engine,
						setup, teardown),
		cmocka_unit_test_setup_teardown(
			restart_in_place_recovers_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(notes_are_the_catalogs, setup,
						teardown),
		cmocka_unit_test_setup_teardown(clean_close_leaves_the_catalog,
						setup, teardown),
	};
	const struct CMUnitTest sqlite_file[] = { 0 };

	return tstore_run_group("queue", cases,
				sizeof(cases) / sizeof(cases[0]), sqlite_file,
				0, NULL, NULL);
}
