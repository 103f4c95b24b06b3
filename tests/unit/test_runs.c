/*
 * test_runs.c — the `sample` request grammar (core/runs.c core_req_parse):
 * every strategy and key, the defaults, and each way a request can be wrong
 * with the message the user will read in `sample` and `log`.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/runs.h"

static void test_defaults(void **state)
{
	struct core_req q;
	char msg[256];

	(void)state;
	assert_int_equal(core_req_parse("n=500", &q, msg, sizeof(msg)), 0);
	assert_int_equal(q.kind, REQ_SAMPLE);
	assert_string_equal(q.strategy, CORE_DEFAULT_STRATEGY);
	assert_int_equal(q.n, 500);
	assert_string_equal(q.from, "");
	assert_string_equal(q.embedding, "");
	assert_int_equal(q.seed, 0);
	assert_int_equal(core_req_parse("", &q, msg, sizeof(msg)), 0);
	assert_int_equal(q.n, 0);           /* all candidates */
}

static void test_full(void **state)
{
	struct core_req q;
	char msg[256];

	(void)state;
	assert_int_equal(core_req_parse("coreset n=50 from=best-500 "
					 "embedding=simclr seed=7 "
					 "min_distance=0.25\n", &q, msg,
					 sizeof(msg)), 0);
	assert_string_equal(q.strategy, "coreset");
	assert_int_equal(q.n, 50);
	assert_string_equal(q.from, "best-500");
	assert_string_equal(q.embedding, "simclr");
	assert_int_equal(q.seed, 7);
	assert_true(q.min_distance > 0.24f && q.min_distance < 0.26f);
	for (const char *s = "random\0typicality\0kmeans\0balance\0"; *s;
	     s += strlen(s) + 1) {
		assert_int_equal(core_req_parse(s, &q, msg, sizeof(msg)), 0);
		assert_string_equal(q.strategy, s);
	}
}

static void test_keep_cancel(void **state)
{
	struct core_req q;
	char msg[256];

	(void)state;
	assert_int_equal(core_req_parse("keep 20", &q, msg, sizeof(msg)), 0);
	assert_int_equal(q.kind, REQ_KEEP);
	assert_int_equal(q.n, 20);
	assert_int_equal(core_req_parse("  cancel \r\n", &q, msg, sizeof(msg)),
			 0);
	assert_int_equal(q.kind, REQ_CANCEL);
}

static void expect_bad(const char *req, const char *want)
{
	struct core_req q;
	char msg[256] = "";

	assert_int_equal(core_req_parse(req, &q, msg, sizeof(msg)), -EINVAL);
	if (!strstr(msg, want))
		fail_msg("request '%s': message '%s' lacks '%s'", req, msg, want);
}

static void test_errors(void **state)
{
	(void)state;
	expect_bad("bogus n=5", "unknown strategy 'bogus'");
	expect_bad("coreset k=5", "unknown key 'k'");
	expect_bad("n=abc", "n=abc: expected a positive count");
	expect_bad("n=0", "n=0: expected a positive count");
	expect_bad("n=-3", "expected a positive count");
	expect_bad("n=99999999999", "expected a positive count");
	expect_bad("seed=x", "seed=x: expected a non-negative integer");
	expect_bad("from=bad!", "from=bad!: not a valid name");
	expect_bad("embedding=", "embedding=: not a valid name");
	expect_bad("random min_distance=1", "min_distance applies to coreset");
	expect_bad("coreset min_distance=-1", "expected a number >= 0");
	expect_bad("coreset min_distance=nan", "expected a number >= 0");
	expect_bad("keep", "keep: expected a count");
	expect_bad("keep x", "keep: 'x' is not a positive count");
	expect_bad("keep 0", "is not a positive count");
	expect_bad("keep 5 6", "is not a positive count");
	expect_bad("cancel now", "unexpected 'now'");
	expect_bad("coreset random", "unexpected 'random'");
}

static void test_too_long(void **state)
{
	char req[2000];

	(void)state;
	memset(req, 'a', sizeof(req) - 1);
	req[sizeof(req) - 1] = '\0';
	expect_bad(req, "request longer than");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_keep_cancel),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_too_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
