/*
 * test_whole.c — api/client_whole.c, the table of folders a remote mount
 * knows whole: which names it calls absent, for how long, what renews and
 * what drops a record, and its bounds. No server: a bare struct client
 * with only the live TTL set; expiry is shown with records made in the
 * past, not by sleeping.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "api/client_int.h"

static struct client *new_client(void)
{
	struct client *c = calloc(1, sizeof(*c));

	assert_non_null(c);
	c->ops.live_ttl = 1.0;
	assert_int_equal(cl_whole_init(c), 0);
	return c;
}

static void free_client(struct client *c)
{
	cl_whole_free(c);
	free(c);
}

static void test_made_named_absent(void **state)
{
	struct client *c = new_client();

	(void)state;
	assert_int_equal(cl_whole_absent(c, 5, "x"), 0);     /* unknown */
	cl_whole_made(c, 5, now_s());
	assert_int_equal(cl_whole_absent(c, 5, "x"), 1);
	cl_whole_named(c, 5, "x");                            /* our create */
	assert_int_equal(cl_whole_absent(c, 5, "x"), 0);
	assert_int_equal(cl_whole_absent(c, 5, "y"), 1);
	cl_whole_named(c, 6, "y");                            /* no record */
	assert_int_equal(cl_whole_absent(c, 6, "y"), 0);
	cl_whole_drop(c, 5);
	assert_int_equal(cl_whole_absent(c, 5, "y"), 0);
	free_client(c);
}

static void test_expiry_and_vouch(void **state)
{
	struct client *c = new_client();
	const char *names[] = { "a", "b" };

	(void)state;
	cl_whole_made(c, 7, now_s() - 1.5);                   /* past the TTL */
	assert_int_equal(cl_whole_absent(c, 7, "z"), -1);
	cl_whole_named(c, 7, "mine");
	cl_whole_vouch(c, 7, now_s(), names, 2);              /* a listing */
	assert_int_equal(cl_whole_absent(c, 7, "a"), 0);
	assert_int_equal(cl_whole_absent(c, 7, "b"), 0);
	assert_int_equal(cl_whole_absent(c, 7, "mine"), 0);   /* kept */
	assert_int_equal(cl_whole_absent(c, 7, "z"), 1);
	free_client(c);
}

/* A listing renews only a record still there: one dropped, or given way
 * to other folders, while the listing was on its way took the names this
 * mount added meanwhile (a create that may reach the server after the
 * listing did), so the listing alone must not call them absent. */
static void test_vouch_after_drop(void **state)
{
	struct client *c = new_client();
	const char *names[] = { "a" };
	double t = now_s();

	(void)state;
	cl_whole_made(c, 8, t - 1.5);                         /* expired */
	cl_whole_named(c, 8, "inflight");                     /* our create */
	cl_whole_drop(c, 8);                                  /* another thread */
	cl_whole_vouch(c, 8, now_s(), names, 1);              /* the listing */
	assert_int_equal(cl_whole_absent(c, 8, "inflight"), 0);
	assert_int_equal(cl_whole_absent(c, 8, "z"), 0);      /* no record */

	cl_whole_made(c, 9, t - 1.5);
	cl_whole_named(c, 9, "inflight");
	for (int d = 100; d < 164; d++)                       /* 9 gives way */
		cl_whole_made(c, d, t);
	cl_whole_vouch(c, 9, now_s(), names, 1);
	assert_int_equal(cl_whole_absent(c, 9, "inflight"), 0);
	assert_int_equal(cl_whole_absent(c, 100, "q"), 1);    /* none evicted */
	free_client(c);
}

static void test_bounds(void **state)
{
	struct client *c = new_client();
	char name[32];
	double t = now_s();

	(void)state;
	cl_whole_made(c, 9, t);
	for (int i = 0; i < 999; i++) {
		snprintf(name, sizeof(name), "n%d", i);
		cl_whole_named(c, 9, name);
	}
	assert_int_equal(cl_whole_absent(c, 9, "other"), 1);
	cl_whole_named(c, 9, "n0");                           /* no growth */
	cl_whole_named(c, 9, "the1000th");
	assert_int_equal(cl_whole_absent(c, 9, "other"), 1);
	cl_whole_named(c, 9, "one too many");                 /* dropped */
	assert_int_equal(cl_whole_absent(c, 9, "other"), 0);
	/* 64 folders: the oldest record gives way to a 65th */
	for (int d = 100; d < 164; d++)
		cl_whole_made(c, d, t + (d - 100) * 1e-6);
	assert_int_equal(cl_whole_absent(c, 100, "q"), 1);
	cl_whole_made(c, 164, t + 1e-3);
	assert_int_equal(cl_whole_absent(c, 100, "q"), 0);
	assert_int_equal(cl_whole_absent(c, 101, "q"), 1);
	assert_int_equal(cl_whole_absent(c, 164, "q"), 1);
	free_client(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_made_named_absent),
		cmocka_unit_test(test_expiry_and_vouch),
		cmocka_unit_test(test_vouch_after_drop),
		cmocka_unit_test(test_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
