/*
 * test_idem — store/idem.c, the idempotency keys of state-changing
 * requests (issue 19 item 8, part "deploy"), on the engine the test stores
 * are on (SQLite, or PostgreSQL under SIEVEFS_TEST_CATALOG: make test-pg).
 *
 * Each case opens a fresh store (tstore.h). Proves: an armed key goes in
 * with the first write the thread commits, in its transaction (recorded,
 * no answer), and the answer is kept after; a second try with the same
 * key has its write rolled back whole (taken: no second dataset); another
 * user's same key is another key; a key armed around no write leaves no
 * row; a key on another store is not touched; expired keys are swept.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/unit/tstore.h"
#include "store/store.h"

#define assert_rc(expr, want) do {                                       \
	int rc_ = (expr), want_ = (want);                                \
	if (rc_ != want_)                                                \
		fail_msg("%s: got %d (%s), want %d (%s)", #expr, rc_,     \
			 strerror(-rc_), want_, strerror(-want_));        \
} while (0)

#define K1 "0123456789abcdef0123456789abcdef"
#define K2 "fedcba9876543210fedcba9876543210"

struct fx {
	char tmp[64];
	char dir[128];
	store *st;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || tstore_open("idem", f->tmp, sizeof(f->tmp), f->dir,
			      sizeof(f->dir), &f->st)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_idem_disarm();
	tstore_close(f->tmp, f->st);
	free(f);
	return 0;
}

static void key_forms(void **state)
{
	(void)state;
	assert_true(store_idem_key_ok(K1));
	assert_true(store_idem_key_ok("abcdefghijklmnop"));        /* 16 */
	assert_false(store_idem_key_ok("abcdefghijklmno"));        /* 15 */
	assert_false(store_idem_key_ok(NULL));
	assert_false(store_idem_key_ok("0123456789abcdef 123"));
	assert_false(store_idem_key_ok("0123456789abcdef'123"));
	assert_true(store_idem_key_ok("0123456789-abcdef_ABC"));
}

static void recorded_with_the_write_then_answered(void **state)
{
	struct fx *f = *state;
	struct store_dataset d;
	struct store_idem_answer a;

	assert_rc(store_idem_lookup(f->st, "alice", K1, &a), -ENOENT);
	store_idem_arm(f->st, "alice", K1);
	assert_int_equal(store_idem_state(), STORE_IDEM_ARMED);
	assert_rc(store_dataset_create(f->st, "alice", "one", &d), 0);
	assert_int_equal(store_idem_state(), STORE_IDEM_RECORDED);
	/* a second write of the same request: the key is in already */
	assert_rc(store_dataset_create(f->st, "alice", "two", &d), 0);
	assert_int_equal(store_idem_disarm(), STORE_IDEM_RECORDED);

	assert_rc(store_idem_lookup(f->st, "alice", K1, &a), 0);
	assert_int_equal(a.status, 0);                /* no answer yet */
	free(a.body);
	assert_rc(store_idem_answer(f->st, "alice", K1, 201,
				    "application/json", "{\"id\":1}", 8), 0);
	assert_rc(store_idem_lookup(f->st, "alice", K1, &a), 0);
	assert_int_equal(a.status, 201);
	assert_string_equal(a.ctype, "application/json");
	assert_true(a.has_body);
	assert_int_equal(a.len, 8);
	assert_string_equal(a.body, "{\"id\":1}");
	free(a.body);
}

static void a_second_try_is_rolled_back(void **state)
{
	struct fx *f = *state;
	struct store_dataset d;

	store_idem_arm(f->st, "alice", K1);
	assert_rc(store_dataset_create(f->st, "alice", "first", &d), 0);
	assert_int_equal(store_idem_disarm(), STORE_IDEM_RECORDED);

	store_idem_arm(f->st, "alice", K1);
	assert_rc(store_dataset_create(f->st, "alice", "second", &d), -EEXIST);
	assert_int_equal(store_idem_disarm(), STORE_IDEM_TAKEN);
	assert_rc(store_dataset_get(f->st, "alice", "second", &d), -ENOENT);
	assert_rc(store_dataset_get(f->st, "alice", "first", &d), 0);
}

static void keys_are_per_user(void **state)
{
	struct fx *f = *state;
	struct store_dataset d;
	struct store_idem_answer a;

	store_idem_arm(f->st, "alice", K1);
	assert_rc(store_dataset_create(f->st, "alice", "a", &d), 0);
	assert_int_equal(store_idem_disarm(), STORE_IDEM_RECORDED);
	store_idem_arm(f->st, "bob", K1);
	assert_rc(store_dataset_create(f->st, "bob", "b", &d), 0);
	assert_int_equal(store_idem_disarm(), STORE_IDEM_RECORDED);
	assert_rc(store_idem_answer(f->st, "bob", K1, 204, "", NULL, 0), 0);
	assert_rc(store_idem_lookup(f->st, "alice", K1, &a), 0);
	assert_int_equal(a.status, 0);               /* bob's answer is his */
	free(a.body);
	assert_rc(store_idem_lookup(f->st, "bob", K1, &a), 0);
	assert_int_equal(a.status, 204);
	assert_false(a.has_body);
	free(a.body);
	assert_rc(store_idem_lookup(f->st, "carol", K1, &a), -ENOENT);
}

static void no_write_no_row(void **state)
{
	struct fx *f = *state;
	struct store_dataset d;
	struct store_idem_answer a;

	assert_rc(store_dataset_create(f->st, "alice", "dup", &d), 0);
	store_idem_arm(f->st, "alice", K2);
	/* a refused write (the name is taken) and a read commit nothing */
	assert_rc(store_dataset_create(f->st, "alice", "dup", &d), -EEXIST);
	assert_rc(store_dataset_get(f->st, "alice", "x", &d), -ENOENT);
	assert_int_equal(store_idem_disarm(), STORE_IDEM_ARMED);
	assert_rc(store_idem_lookup(f->st, "alice", K2, &a), -ENOENT);
	/* disarmed: the next write records nothing */
	assert_rc(store_dataset_create(f->st, "alice", "y", &d), 0);
	assert_rc(store_idem_lookup(f->st, "alice", K2, &a), -ENOENT);
}

static void swept_when_expired(void **state)
{
	struct fx *f = *state;
	struct store_dataset d;
	struct store_idem_answer a;
	int64_t n = -1;

	store_idem_arm(f->st, "alice", K1);
	assert_rc(store_dataset_create(f->st, "alice", "a", &d), 0);
	store_idem_disarm();
	assert_rc(store_idem_sweep(f->st, store_now_ns() - 3600000000000LL,
				   &n), 0);
	assert_int_equal(n, 0);                      /* younger than 1 h */
	assert_rc(store_idem_lookup(f->st, "alice", K1, &a), 0);
	free(a.body);
	assert_rc(store_idem_sweep(f->st, store_now_ns() + 1, &n), 0);
	assert_int_equal(n, 1);
	assert_rc(store_idem_lookup(f->st, "alice", K1, &a), -ENOENT);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(key_forms),
		T(recorded_with_the_write_then_answered),
		T(a_second_try_is_rolled_back),
		T(keys_are_per_user),
		T(no_write_no_row),
		T(swept_when_expired),
	};

	/* no SQLite-file cases: every case runs on every engine */
	return tstore_run_group("idem", tests, sizeof(tests) / sizeof(tests[0]),
				tests, 0, NULL, NULL);
}
