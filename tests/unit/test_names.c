/*
 * test_names.c — the platform's naming rules (core/names.c): dataset and tag
 * names, reserved names, file-name components, and the `selection` text
 * parser with every way a list can be wrong.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/names.h"

static void test_name_valid(void **state)
{
	char long_ok[129], long_bad[130];

	(void)state;
	memset(long_ok, 'a', 128);
	long_ok[128] = '\0';
	memset(long_bad, 'a', 129);
	long_bad[129] = '\0';
	assert_true(core_name_valid("leaves"));
	assert_true(core_name_valid("best-500"));
	assert_true(core_name_valid("v1.2_final"));
	assert_true(core_name_valid("0day"));
	assert_true(core_name_valid(long_ok));
	assert_false(core_name_valid(long_bad));
	assert_false(core_name_valid(""));
	assert_false(core_name_valid("-x"));
	assert_false(core_name_valid(".hidden"));
	assert_false(core_name_valid("_x"));
	assert_false(core_name_valid("a b"));
	assert_false(core_name_valid("a/b"));
	assert_false(core_name_valid("bad!"));
	assert_false(core_name_valid("caf\xc3\xa9"));
	assert_false(core_name_valid(NULL));
}

static void test_reserved(void **state)
{
	const char *r[] = { "initial-tag", "sample", "selection", "scores.csv",
			    "embeddings", "plot.svg", "info", "log" };

	(void)state;
	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++)
		assert_true(core_name_reserved(r[i]));
	assert_false(core_name_reserved("v1"));
	assert_false(core_name_reserved("Info"));
	assert_false(core_name_reserved("logs"));
}

static void test_component(void **state)
{
	char long_name[257];

	(void)state;
	memset(long_name, 'x', 256);
	long_name[256] = '\0';
	assert_int_equal(core_component_check("img 1.jpg"), 0);
	assert_int_equal(core_component_check(".hidden"), 0);
	assert_int_equal(core_component_check(""), -EINVAL);
	assert_int_equal(core_component_check("."), -EINVAL);
	assert_int_equal(core_component_check(".."), -EINVAL);
	assert_int_equal(core_component_check("a/b"), -EINVAL);
	assert_int_equal(core_component_check(long_name), -ENAMETOOLONG);
	long_name[255] = '\0';
	assert_int_equal(core_component_check(long_name), 0);
}

static void test_sel_plain(void **state)
{
	const char text[] = "a/1.jpg\r\n\n./b/2.jpg\nc with space.png";
	struct core_sel s;
	char msg[256];

	(void)state;
	assert_int_equal(core_sel_parse(text, strlen(text), &s, msg,
					sizeof(msg)), 0);
	assert_null(s.from);
	assert_int_equal(s.n, 3);
	assert_string_equal(s.paths[0], "a/1.jpg");
	assert_string_equal(s.paths[1], "b/2.jpg");
	assert_string_equal(s.paths[2], "c with space.png");
	assert_int_equal(s.lines[0], 1);
	assert_int_equal(s.lines[1], 3);
	assert_int_equal(s.lines[2], 4);
	core_sel_free(&s);
}

static void test_sel_from(void **state)
{
	const char text[] = "# from: best-50  \nx.jpg\n";
	struct core_sel s;
	char msg[256];

	(void)state;
	assert_int_equal(core_sel_parse(text, strlen(text), &s, msg,
					sizeof(msg)), 0);
	assert_string_equal(s.from, "best-50");
	assert_int_equal(s.n, 1);
	assert_int_equal(s.lines[0], 2);
	core_sel_free(&s);
}

static void test_sel_empty(void **state)
{
	struct core_sel s;
	char msg[256];

	(void)state;
	assert_int_equal(core_sel_parse("", 0, &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.n, 0);
	core_sel_free(&s);
}

static void expect_bad(const char *text, size_t len, const char *want)
{
	struct core_sel s;
	char msg[256] = "";

	assert_int_equal(core_sel_parse(text, len, &s, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, want));
	core_sel_free(&s);
}

static void test_sel_errors(void **state)
{
	static char longline[5000];

	(void)state;
	expect_bad("a\n/abs/path\n", 12, "line 2: '/abs/path' is an absolute");
	expect_bad("# from: bad!\nx\n", 15, "line 1: 'bad!' is not a valid tag");
	expect_bad("a\0b\n", 4, "NUL byte");
	memset(longline, 'a', sizeof(longline) - 1);
	expect_bad(longline, sizeof(longline) - 1, "line 1: longer than");
}

/* "# from:" is special on line 1 only: later it is a (strange) path. */
static void test_sel_from_only_first(void **state)
{
	const char text[] = "x\n# from: v1\n";
	struct core_sel s;
	char msg[256];

	(void)state;
	assert_int_equal(core_sel_parse(text, strlen(text), &s, msg,
					sizeof(msg)), 0);
	assert_null(s.from);
	assert_int_equal(s.n, 2);
	assert_string_equal(s.paths[1], "# from: v1");
	core_sel_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_reserved),
		cmocka_unit_test(test_component),
		cmocka_unit_test(test_sel_plain),
		cmocka_unit_test(test_sel_from),
		cmocka_unit_test(test_sel_empty),
		cmocka_unit_test(test_sel_errors),
		cmocka_unit_test(test_sel_from_only_first),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
