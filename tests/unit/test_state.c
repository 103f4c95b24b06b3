/*
 * test_state.c — unit tests for what several servers on one catalog share
 * instead of holding it in memory (issue 19, item 3): the catalog's epoch
 * (store_catalog_epoch, changes.c), users' request budgets taken in
 * leases (store_rate_lease, users.c) and the upload cap checked inside
 * the put's transaction (store_blob_put_capped, users.c).
 *
 * Fixture: a fresh store in a temp dir opened as owner (one "server"),
 * and a second handle on the same store and catalog opened beside it
 * (STORE_OPEN_ADMIN: the other "server"; under SIEVEFS_TEST_CATALOG the
 * same PostgreSQL database, see tstore.h), so every case runs on both
 * engines (make test-pg). The concurrent cases run one thread per handle;
 * what they assert holds whatever the interleaving.
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

#include "tests/unit/tstore.h"
#include "store/store.h"

#define assert_rc(expr, want) do {                                       \
	int rc_ = (expr), want_ = (want);                                \
	if (rc_ != want_)                                                \
		fail_msg("%s: got %d (%s), want %d (%s)", #expr, rc_,     \
			 strerror(-rc_), want_, strerror(-want_));        \
} while (0)

struct fx {
	char tmp[64];
	char dir[128];
	store *st;       /* server A */
	store *st2;      /* server B: another handle on the same catalog */
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || tstore_open("state", f->tmp, sizeof(f->tmp), f->dir,
			      sizeof(f->dir), &f->st)) {
		free(f);
		return -1;
	}
	if (store_open(f->dir, STORE_OPEN_ADMIN, &f->st2, NULL, 0)) {
		tstore_close(f->tmp, f->st);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->st2);
	tstore_close(f->tmp, f->st);
	free(f);
	return 0;
}

/* ---- the epoch ---- */

static void test_epoch_shared(void **state)
{
	struct fx *f = *state;
	uint64_t a = 0, b = 0, again = 0;

	assert_rc(store_catalog_epoch(f->st, &a), 0);
	assert_rc(store_catalog_epoch(f->st2, &b), 0);
	assert_true(a != 0);
	assert_true(a == b);                     /* one catalog, one epoch */
	assert_rc(store_catalog_epoch(f->st, &again), 0);
	assert_true(again == a);                 /* and it stays */
}

/* A catalog made before the epoch existed: the first reader makes one,
 * and every handle reads that one. */
static void test_epoch_made_once(void **state)
{
	struct fx *f = *state;
	uint64_t a = 0, b = 0, old = 0;
	char text[32];

	assert_rc(store_catalog_epoch(f->st, &old), 0);
	assert_rc(tstore_catalog_exec(f->dir, "DELETE FROM meta"
				      " WHERE key='epoch'", NULL), 0);
	assert_rc(store_catalog_epoch(f->st2, &b), 0);
	assert_rc(store_catalog_epoch(f->st, &a), 0);
	assert_true(a == b);
	assert_true(a != old);
	assert_rc(tstore_catalog_text(f->dir, "SELECT value FROM meta"
				      " WHERE key='epoch'", text,
				      sizeof(text)), 0);
	assert_int_equal(strlen(text), 16);
	/* a damaged value is an error, not a silent 0 */
	assert_rc(tstore_catalog_exec(f->dir, "UPDATE meta SET value='xyz'"
				      " WHERE key='epoch'", NULL), 0);
	assert_rc(store_catalog_epoch(f->st, &a), -EIO);
}

/* ---- request budgets ---- */

#define NS 1000000000LL

static void test_rate_lease_bucket(void **state)
{
	struct fx *f = *state;
	int64_t t0 = 1700000000LL * NS;
	double got, left;

	/* a new user's bucket starts full: 100, a lease takes 10 */
	assert_rc(store_rate_lease(f->st, "alice", 100, 10, 10, t0, &got,
				   &left), 0);
	assert_true(got == 10 && left == 90);
	for (int i = 0; i < 9; i++)
		assert_rc(store_rate_lease(f->st2, "alice", 100, 10, 10, t0,
					   &got, &left), 0);
	assert_true(got == 10 && left == 0);
	/* empty: nothing, and what is left says when to come back */
	assert_rc(store_rate_lease(f->st, "alice", 100, 10, 10, t0, &got,
				   &left), 0);
	assert_true(got == 0 && left == 0);
	/* 0.25 s later: 2.5 requests refilled, less than a slice: all of it */
	assert_rc(store_rate_lease(f->st2, "alice", 100, 10, 10,
				   t0 + NS / 4, &got, &left), 0);
	assert_true(got == 2.5 && left == 0);
	/* 0.05 s more: half a request, not one: nothing taken */
	assert_rc(store_rate_lease(f->st, "alice", 100, 10, 10,
				   t0 + NS / 4 + NS / 20, &got, &left), 0);
	assert_true(got == 0 && left > 0.49 && left < 0.51);
	/* a clock behind the last writer's refills nothing */
	assert_rc(store_rate_lease(f->st2, "alice", 100, 10, 10, t0 - NS,
				   &got, &left), 0);
	assert_true(got == 0 && left > 0.49 && left < 0.51);
	/* an hour idle: full again, never more than the burst */
	assert_rc(store_rate_lease(f->st, "alice", 100, 10, 10,
				   t0 + 3600 * NS, &got, &left), 0);
	assert_true(got == 10 && left == 90);
	/* a lower burst (the server restarted with another --user-rate)
	 * caps what was kept */
	assert_rc(store_rate_lease(f->st, "alice", 5, 10, 1,
				   t0 + 3601 * NS, &got, &left), 0);
	assert_true(got == 1 && left == 4);
	/* users are apart; bad arguments are refused */
	assert_rc(store_rate_lease(f->st, "bob", 100, 10, 10, t0, &got,
				   &left), 0);
	assert_true(got == 10 && left == 90);
	assert_rc(store_rate_lease(f->st, "alice", 0, 10, 1, t0, &got,
				   &left), -EINVAL);
	assert_rc(store_rate_lease(f->st, "alice", 10, 0, 1, t0, &got,
				   &left), -EINVAL);
	assert_rc(store_rate_lease(f->st, "../x", 10, 1, 1, t0, &got,
				   &left), -EINVAL);
}

/* One "server": spends its leases request by request, as rate_take in
 * api/server_http.c does, until the bucket gives nothing more. */
struct server {
	store *st;
	int64_t now;
	double slice;
	long admitted;       /* requests let through */
	int rc;
};

static void *serve_requests(void *arg)
{
	struct server *sv = arg;
	double local = 0, got, left;

	for (;;) {
		if (local >= 1) {
			local -= 1;
			sv->admitted++;
			continue;
		}
		sv->rc = store_rate_lease(sv->st, "carol", 1000, 1e-3,
					  sv->slice, sv->now, &got, &left);
		if (sv->rc || got == 0)
			break;
		local += got;
	}
	return NULL;
}

/* Two servers leasing from one bucket at once: together they let through
 * no more than the bucket holds (1000, no refill at this clock), and,
 * having spent every lease, lose at most the fractions of each server's
 * last lease. */
static void test_rate_two_servers(void **state)
{
	struct fx *f = *state;
	int64_t now = 1700000000LL * NS;
	struct server a = { f->st, now, 37, 0, 0 }, b = { f->st2, now, 37, 0,
							  0 };
	pthread_t ta, tb;

	assert_int_equal(pthread_create(&ta, NULL, serve_requests, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, serve_requests, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_rc(a.rc, 0);
	assert_rc(b.rc, 0);
	assert_true(a.admitted + b.admitted <= 1000);
	assert_true(a.admitted + b.admitted >= 998);
	/* one budget, not one per server (that would let 2000 through):
	 * whichever ran first, neither gets more now */
	a.admitted = b.admitted = 0;
	serve_requests(&b);
	serve_requests(&a);
	assert_rc(a.rc, 0);
	assert_rc(b.rc, 0);
	assert_int_equal(a.admitted + b.admitted, 0);
}

/* ---- the upload cap ---- */

struct uploader {
	struct fx *f;
	store *st;
	int first;            /* blobs first .. first+n-1 */
	int n;
	int admitted, refused;
	int rc;               /* another error, if any */
};

/* 1000 bytes naming blob i. */
static void blob_bytes(int i, char *buf)
{
	memset(buf, 'a' + i % 26, 1000);
	snprintf(buf, 32, "blob %d;", i);
}

static void *upload(void *arg)
{
	struct uploader *u = arg;
	const struct store_cap cap = { 5000, 100 };
	unsigned char sha[STORE_SHA_LEN];
	char staged[STORE_PATH_MAX], buf[1000];

	for (int i = u->first; i < u->first + u->n; i++) {
		int fd = store_staging_create(u->f->st, staged, sizeof(staged));
		int rc;

		if (fd < 0) {
			u->rc = fd;
			break;
		}
		blob_bytes(i, buf);
		if (write(fd, buf, sizeof(buf)) != (ssize_t)sizeof(buf) ||
		    store_sha256_fd(fd, sha)) {
			close(fd);
			u->rc = -EIO;
			break;
		}
		rc = store_blob_put_capped(u->st, fd, staged, sha, "dave", &cap,
					   NULL, NULL);
		close(fd);
		if (rc == -EDQUOT) {
			u->refused++;
		} else if (rc) {
			u->rc = rc;
			break;
		} else {
			u->admitted++;
		}
	}
	return NULL;
}

/* Two servers putting 10 blobs of 1000 bytes each under a cap of 5000:
 * exactly 5 are admitted in all, whatever the interleaving. */
static void test_cap_two_servers(void **state)
{
	struct fx *f = *state;
	struct uploader a = { f, f->st, 0, 10, 0, 0, 0 };
	struct uploader b = { f, f->st2, 10, 10, 0, 0, 0 };
	pthread_t ta, tb;
	int64_t bytes;
	size_t count;

	assert_int_equal(pthread_create(&ta, NULL, upload, &a), 0);
	assert_int_equal(pthread_create(&tb, NULL, upload, &b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
	assert_rc(a.rc, 0);
	assert_rc(b.rc, 0);
	assert_int_equal(a.admitted + b.admitted, 5);
	assert_int_equal(a.refused + b.refused, 15);
	assert_rc(store_blob_pending(f->st2, "dave", &count, &bytes), 0);
	assert_int_equal(count, 5);
	assert_int_equal(bytes, 5000);
}

/* What the cap leaves alone, and what a refusal says. */
static void test_cap_rules(void **state)
{
	struct fx *f = *state;
	const struct store_cap cap = { 1500, 2 };
	unsigned char sha[STORE_SHA_LEN], first[STORE_SHA_LEN];
	char staged[STORE_PATH_MAX], buf[1000];
	int64_t bytes = -1;
	size_t count = 99;
	int fd;

	/* 1000 of 1500: in */
	fd = store_staging_create(f->st, staged, sizeof(staged));
	assert_true(fd >= 0);
	blob_bytes(1, buf);
	assert_int_equal(write(fd, buf, sizeof(buf)), sizeof(buf));
	assert_rc(store_sha256_fd(fd, first), 0);
	assert_rc(store_blob_put_capped(f->st, fd, staged, first, "erin",
					&cap, &count, &bytes), 0);
	close(fd);
	/* another 1000: over, nothing stored, the state said */
	fd = store_staging_create(f->st, staged, sizeof(staged));
	assert_true(fd >= 0);
	blob_bytes(2, buf);
	assert_int_equal(write(fd, buf, sizeof(buf)), sizeof(buf));
	assert_rc(store_sha256_fd(fd, sha), 0);
	assert_rc(store_blob_put_capped(f->st2, fd, staged, sha, "erin", &cap,
					&count, &bytes), -EDQUOT);
	close(fd);
	assert_int_equal(count, 1);
	assert_int_equal(bytes, 1000);
	assert_int_equal(access(staged, F_OK), -1);    /* staged bytes gone */
	assert_rc(store_blob_granted(f->st, "erin", sha), 0);
	/* the same bytes again: its own row is replaced, not added to */
	fd = store_staging_create(f->st, staged, sizeof(staged));
	assert_true(fd >= 0);
	blob_bytes(1, buf);
	assert_int_equal(write(fd, buf, sizeof(buf)), sizeof(buf));
	assert_rc(store_sha256_fd(fd, sha), 0);
	assert_rc(store_blob_put_capped(f->st2, fd, staged, sha, "erin", &cap,
					NULL, NULL), 0);
	close(fd);
	/* another user is not counted against erin */
	fd = store_staging_create(f->st, staged, sizeof(staged));
	assert_true(fd >= 0);
	blob_bytes(2, buf);
	assert_int_equal(write(fd, buf, sizeof(buf)), sizeof(buf));
	assert_rc(store_sha256_fd(fd, sha), 0);
	assert_rc(store_blob_put_capped(f->st, fd, staged, sha, "frank", &cap,
					NULL, NULL), 0);
	close(fd);
	assert_rc(store_blob_pending(f->st, "erin", &count, &bytes), 0);
	assert_int_equal(count, 1);
	assert_int_equal(bytes, 1000);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_epoch_shared),
		T(test_epoch_made_once),
		T(test_rate_lease_bucket),
		T(test_rate_two_servers),
		T(test_cap_two_servers),
		T(test_cap_rules),
	};

	/* no case about the SQLite file: the same cases on both engines */
	return cmocka_run_group_tests_name("state", tests, NULL, NULL);
}
