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
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/names.h"
#include "core/text.h"
#include "store/store.h"

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

/* the two words of tag_folders, exactly; the mode written back by name */
static void test_tag_folders(void **state)
{
	static const char *const bad[] = { "", "All", "selected\n", " all",
					   "selected ", "sel", "none", "1" };
	int mode = 77;

	(void)state;
	assert_int_equal(core_tag_folders_parse("all", &mode), 0);
	assert_int_equal(mode, STORE_TAG_FOLDERS_ALL);
	assert_int_equal(core_tag_folders_parse("selected", &mode), 0);
	assert_int_equal(mode, STORE_TAG_FOLDERS_SELECTED);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		mode = 77;
		assert_int_equal(core_tag_folders_parse(bad[i], &mode), -EINVAL);
		assert_int_equal(mode, 77);
	}
	assert_int_equal(core_tag_folders_parse(NULL, &mode), -EINVAL);
	assert_string_equal(core_tag_folders_name(STORE_TAG_FOLDERS_ALL), "all");
	assert_string_equal(core_tag_folders_name(STORE_TAG_FOLDERS_SELECTED),
			    "selected");
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
	static char longline[CORE_SEL_PATH_MAX + 2];
	struct core_sel s;
	char msg[256];

	(void)state;
	expect_bad("a\n/abs/path\n", 12, "line 2: '/abs/path' is an absolute");
	expect_bad("# from: bad!\nx\n", 15, "line 1: 'bad!' is not a valid tag");
	expect_bad("a\0b\n", 4, "NUL byte");
	memset(longline, 'a', sizeof(longline) - 1);
	expect_bad(longline, sizeof(longline) - 1, "line 1: longer than");
	/* paths as long as a tree's (past 4,096 bytes) are fine */
	assert_int_equal(core_sel_parse(longline, CORE_SEL_PATH_MAX, &s, msg,
					sizeof(msg)), 0);
	assert_int_equal(s.n, 1);
	core_sel_free(&s);
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


/* Selection lines (core/text.h): every legal name reads back as itself;
 * plain names stay plain. */
static const char *const odd_names[] = {
	"a/plain.jpg", "back\\slash.png", "new\nline.jpg", "cr\r", "tab\there",
	"# from: v1", "#hash", " lead", "trail ", "q\"uote", "\"start",
	"ctl\001\037\177", "sub/ünïcødé.bin", "a,b;c", "\"", " ",
	"\\\"", "bell\a\b\v\f",
};

static void test_sel_quote_roundtrip(void **state)
{
	size_t n = sizeof(odd_names) / sizeof(odd_names[0]);
	struct tbuf b;
	struct core_sel s;
	char msg[256] = "", *text;
	size_t len;

	(void)state;
	tbuf_init(&b, 1 << 20);
	for (size_t i = 0; i < n; i++)
		tbuf_put_path_line(&b, odd_names[i]);
	assert_int_equal(tbuf_finish(&b, &text, &len), 0);
	/* one line per name */
	size_t lines = 0;
	for (size_t i = 0; i < len; i++)
		lines += text[i] == '\n';
	assert_int_equal(lines, n);
	assert_int_equal(core_sel_parse(text, len, &s, msg, sizeof(msg)), 0);
	assert_null(s.from);
	assert_int_equal(s.n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(s.paths[i], odd_names[i]);
	core_sel_free(&s);
	free(text);
}

static void expect_line(const char *name, const char *want)
{
	struct tbuf b;
	char *text;
	size_t len;

	tbuf_init(&b, 4096);
	tbuf_put_path_line(&b, name);
	assert_int_equal(tbuf_finish(&b, &text, &len), 0);
	assert_string_equal(text, want);
	free(text);
}

static void test_sel_quote_form(void **state)
{
	(void)state;
	expect_line("a/b c.jpg", "a/b c.jpg\n");
	expect_line("back\\slash", "back\\slash\n");
	expect_line("sub/ünï.bin", "sub/ünï.bin\n");
	expect_line("new\nline", "\"new\\nline\"\n");
	expect_line("cr\r", "\"cr\\r\"\n");
	expect_line("a\\b\tc", "\"a\\\\b\\tc\"\n");
	expect_line("x\001y\177", "\"x\\001y\\177\"\n");
	expect_line("#x", "\"#x\"\n");
	expect_line(" x", "\" x\"\n");
	expect_line("x ", "\"x \"\n");
	expect_line("\"x\"", "\"\\\"x\\\"\"\n");
	assert_int_equal(core_path_needs_quote("a\"b"), 0);
	assert_int_equal(core_path_needs_quote("a\nb"), 1);
}

static void test_sel_quote_parse(void **state)
{
	const char text[] = "\"a\\nb\"\r\n\"\\101\\t\\\"\\\\\"\n\"oops\n"
			    "\"a\\qb\"\n\"\\000\"\n\"x\"y\"\n./\"k\"\n";
	struct core_sel s;
	char msg[256] = "";

	(void)state;
	assert_int_equal(core_sel_parse(text, strlen(text), &s, msg,
					sizeof(msg)), 0);
	assert_int_equal(s.n, 7);
	assert_string_equal(s.paths[0], "a\nb");
	assert_string_equal(s.paths[1], "A\t\"\\");
	/* not well-formed quoted strings: taken as they are */
	assert_string_equal(s.paths[2], "\"oops");
	assert_string_equal(s.paths[3], "\"a\\qb\"");
	assert_string_equal(s.paths[4], "\"\\000\"");
	assert_string_equal(s.paths[5], "\"x\"y\"");
	assert_string_equal(s.paths[6], "\"k\"");
	core_sel_free(&s);
	expect_bad("\"\"\n", 3, "line 1: an empty path");
	expect_bad("x\n\"/abs\"\n", 9, "line 2: '/abs' is an absolute");
}

/* A path of CORE_SEL_PATH_MAX control bytes quotes to four times that and
 * still reads; one more byte is refused. */
#define QL CORE_SEL_PATH_MAX
static void test_sel_quote_long(void **state)
{
	static char name[QL + 2];
	struct tbuf b;
	struct core_sel s;
	char msg[256] = "", *text;
	size_t len;

	(void)state;
	memset(name, '\001', QL);
	tbuf_init(&b, 8 * QL);
	tbuf_put_path_line(&b, name);
	assert_int_equal(tbuf_finish(&b, &text, &len), 0);
	assert_int_equal(len, 4 * QL + 3);
	assert_int_equal(core_sel_parse(text, len, &s, msg, sizeof(msg)), 0);
	assert_int_equal(s.n, 1);
	assert_string_equal(s.paths[0], name);
	core_sel_free(&s);
	free(text);
	name[QL] = '\001';
	tbuf_init(&b, 8 * QL);
	tbuf_put_path_line(&b, name);
	assert_int_equal(tbuf_finish(&b, &text, &len), 0);
	expect_bad(text, len, "longer than");
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_name_valid),
		cmocka_unit_test(test_reserved),
		cmocka_unit_test(test_component),
		cmocka_unit_test(test_tag_folders),
		cmocka_unit_test(test_sel_plain),
		cmocka_unit_test(test_sel_from),
		cmocka_unit_test(test_sel_empty),
		cmocka_unit_test(test_sel_errors),
		cmocka_unit_test(test_sel_from_only_first),
		cmocka_unit_test(test_sel_quote_roundtrip),
		cmocka_unit_test(test_sel_quote_form),
		cmocka_unit_test(test_sel_quote_parse),
		cmocka_unit_test(test_sel_quote_long),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
