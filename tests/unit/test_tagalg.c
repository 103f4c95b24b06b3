/*
 * test_tagalg.c — tag algebra (core/tagalg.h): the parser of the
 * `selection` forms with every way one can be wrong, the set operations
 * on overlapping and disjoint operands against expectations written out
 * here, and core_tagalg_run over a real catalog (store/selalg.c): tags
 * made from selections, the result made the selection with the first
 * operand as source, a union frozen with files of two trees, a refused
 * form changing nothing, and deleting a tag the selection holds.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/tagalg.h"
#include "core/text.h"
#include "store/store.h"
#include "tstore.h"

#define assert_rc(x, want) assert_int_equal((x), (want))

static int parse(const char *text, struct core_tagalg *a, char *msg)
{
	msg[0] = '\0';
	return core_tagalg_parse(text, strlen(text), a, msg, 256);
}

static void test_parse_forms(void **state)
{
	struct core_tagalg a;
	char msg[256];

	(void)state;
	assert_rc(parse("union: A B\n", &a, msg), 1);
	assert_int_equal(a.op, CORE_TAG_UNION);
	assert_int_equal(a.n, 2);
	assert_string_equal(a.names[0], "A");
	assert_string_equal(a.names[1], "B");
	assert_rc(parse("\n  intersection:x\tselection  y \r\n\n", &a, msg), 1);
	assert_int_equal(a.op, CORE_TAG_INTERSECTION);
	assert_int_equal(a.n, 3);
	assert_string_equal(a.names[1], "selection");
	assert_string_equal(a.names[2], "y");
	assert_rc(parse("difference: best-50 v1.2", &a, msg), 1);
	assert_int_equal(a.op, CORE_TAG_DIFFERENCE);
	/* not forms: paths, the # from: line, a word without its colon */
	assert_rc(parse("union.jpg\n", &a, msg), 0);
	assert_rc(parse("union A B\n", &a, msg), 0);
	assert_rc(parse("# from: A\nunion: A B\n", &a, msg), 0);
	assert_rc(parse("\"union: A B\"\n", &a, msg), 0);
	assert_rc(parse("x/union: A B\n", &a, msg), 0);
	assert_rc(parse("Union: A B\n", &a, msg), 0);
	assert_rc(parse("", &a, msg), 0);
	assert_int_equal(core_tagop_parse_word("UNION"), CORE_TAG_UNION);
	assert_int_equal(core_tagop_parse_word("difference"),
			 CORE_TAG_DIFFERENCE);
	assert_int_equal(core_tagop_parse_word("XOR"), 0);
}

static void expect_bad(const char *text, const char *why)
{
	struct core_tagalg a;
	char msg[256];

	assert_rc(parse(text, &a, msg), -EINVAL);
	assert_string_equal(msg, why);
}

static void test_parse_errors(void **state)
{
	char many[512] = "union:";

	(void)state;
	expect_bad("union: A\n", "union: needs two operands or more: 'union:"
		   " TAG TAG...' (a tag name or 'selection')");
	expect_bad("intersection:\n", "intersection: needs two operands or"
		   " more: 'intersection: TAG TAG...' (a tag name or"
		   " 'selection')");
	expect_bad("difference: A b@d\n",
		   "difference: 'b@d' is not a valid tag name");
	expect_bad("union: A -x\n", "union: '-x' is not a valid tag name");
	expect_bad("union: A B\nx.jpg\n", "union: one line only: the form is"
		   " 'union: TAG TAG...' (a path so named is written quoted)");
	expect_bad("union: A B\nunion: C D\n", "union: one line only: the"
		   " form is 'union: TAG TAG...' (a path so named is written"
		   " quoted)");
	for (int i = 0; i < 17; i++)
		snprintf(many + strlen(many), sizeof(many) - strlen(many),
			 " t%d", i);
	expect_bad(many, "union: more than 16 operands");
	{
		struct core_tagalg a;
		char msg[256];
		const char text[] = "union: A\0B\n";
		assert_rc(core_tagalg_parse(text, sizeof(text) - 1, &a, msg,
					    sizeof(msg)), -EINVAL);
		assert_string_equal(msg, "the text contains a NUL byte");
	}
}

/* A path starting with a form's word is written quoted, so a selection
 * read and written back is never taken for a form. */
static void test_quote_words(void **state)
{
	(void)state;
	assert_true(core_path_needs_quote("union: A B"));
	assert_true(core_path_needs_quote("intersection:x"));
	assert_true(core_path_needs_quote("difference:"));
	assert_false(core_path_needs_quote("union.jpg"));
	assert_false(core_path_needs_quote("a/union: A B"));
}

static struct core_tagfile F(const char *p, int64_t n)
{
	struct core_tagfile f = { .path = p, .node = n };
	return f;
}

static void expect_result(enum core_tagop op, const struct core_tagfile *a,
			  size_t na, const struct core_tagfile *b, size_t nb,
			  const int64_t *want, size_t nwant)
{
	const struct core_tagfile *sets[2] = { a, b };
	size_t ns[2] = { na, nb }, nout = 99;
	struct core_tagfile out[16];

	assert_rc(core_tagalg_apply(op, sets, ns, 2, out, &nout), 0);
	assert_int_equal(nout, nwant);
	for (size_t i = 0; i < nwant; i++)
		assert_int_equal(out[i].node, want[i]);
}

/* A = {p3, p1, p2} (its order kept), B = {p2, p4, p3} (overlap p2, p3;
 * B's node numbers differ: a file of another tree at the same path). */
static void test_apply_overlapping(void **state)
{
	const struct core_tagfile a[] = { F("p3", 3), F("p1", 1), F("p2", 2) };
	const struct core_tagfile b[] = { F("p2", 12), F("p4", 14),
					  F("p3", 13) };
	const int64_t u[] = { 3, 1, 2, 14 }, i[] = { 3, 2 }, d[] = { 1 };
	const int64_t bu[] = { 12, 14, 13, 1 }, bd[] = { 14 };

	(void)state;
	expect_result(CORE_TAG_UNION, a, 3, b, 3, u, 4);
	expect_result(CORE_TAG_INTERSECTION, a, 3, b, 3, i, 2);
	expect_result(CORE_TAG_DIFFERENCE, a, 3, b, 3, d, 1);
	expect_result(CORE_TAG_UNION, b, 3, a, 3, bu, 4);
	expect_result(CORE_TAG_DIFFERENCE, b, 3, a, 3, bd, 1);
	/* with itself */
	expect_result(CORE_TAG_UNION, a, 3, a, 3, (const int64_t[]){ 3, 1, 2 }, 3);
	expect_result(CORE_TAG_DIFFERENCE, a, 3, a, 3, NULL, 0);
}

static void test_apply_disjoint(void **state)
{
	const struct core_tagfile a[] = { F("x/a", 1), F("x/b", 2) };
	const struct core_tagfile b[] = { F("y/c", 3) };
	const int64_t u[] = { 1, 2, 3 }, d[] = { 1, 2 };

	(void)state;
	expect_result(CORE_TAG_UNION, a, 2, b, 1, u, 3);
	expect_result(CORE_TAG_INTERSECTION, a, 2, b, 1, NULL, 0);
	expect_result(CORE_TAG_DIFFERENCE, a, 2, b, 1, d, 2);
	/* an empty operand */
	expect_result(CORE_TAG_UNION, NULL, 0, b, 1, (const int64_t[]){ 3 }, 1);
	expect_result(CORE_TAG_INTERSECTION, a, 2, NULL, 0, NULL, 0);
	expect_result(CORE_TAG_DIFFERENCE, a, 2, NULL, 0, d, 2);
}

/* Three operands: intersection keeps what every one has, difference
 * drops what any later one has, union adds each one's new paths. */
static void test_apply_three(void **state)
{
	const struct core_tagfile a[] = { F("1", 1), F("2", 2), F("3", 3) };
	const struct core_tagfile b[] = { F("2", 2), F("3", 3), F("4", 4) };
	const struct core_tagfile c[] = { F("3", 3), F("5", 5), F("4", 4) };
	const struct core_tagfile *sets[3] = { a, b, c };
	size_t ns[3] = { 3, 3, 3 }, n;
	struct core_tagfile out[9];

	(void)state;
	assert_rc(core_tagalg_apply(CORE_TAG_UNION, sets, ns, 3, out, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(out[3].node, 4);
	assert_int_equal(out[4].node, 5);
	assert_rc(core_tagalg_apply(CORE_TAG_INTERSECTION, sets, ns, 3, out,
				    &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].node, 3);
	assert_rc(core_tagalg_apply(CORE_TAG_DIFFERENCE, sets, ns, 3, out,
				    &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].node, 1);
}

/* ---- over a catalog ---- */

struct fx {
	char tmp[64], dir[128];
	store *st;
	struct store_dataset ds;
	int64_t ino[6];               /* f0..f5 in initial-tag */
};

static int64_t put(struct fx *f, const char *name, const char *data)
{
	struct store_newnode nn = { .kind = STORE_FILE, .mode = 0644,
				    .uid = 1000, .gid = 1000 };
	struct store_node n;
	char staged[STORE_PATH_MAX];
	unsigned char h[STORE_SHA_LEN];
	int fd;

	assert_rc(store_node_create(f->st, f->ds.live_root, name, &nn, &n), 0);
	fd = store_staging_create(f->st, staged, sizeof(staged));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	assert_rc(store_sha256_fd(fd, h), 0);
	assert_rc(store_node_commit(f->st, n.ino, fd, staged, h,
				    (int64_t)strlen(data), 0, 0), 0);
	close(fd);
	return n.ino;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || tstore_open("tagalg", f->tmp, sizeof(f->tmp), f->dir,
			      sizeof(f->dir), &f->st)) {
		free(f);
		return -1;
	}
	if (store_dataset_create(f->st, "alice", "d", &f->ds)) {
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

	tstore_close(f->tmp, f->st);
	free(f);
	return 0;
}

/* A tag holding the listed paths of initial-tag. */
static struct store_tag mktag(struct fx *f, const char *name,
			      const char *const *paths, size_t n)
{
	struct store_tag t;

	assert_rc(store_selection_set(f->st, f->ds.id, f->ds.live_tree, paths,
				      n, NULL, NULL, 0), 0);
	assert_rc(store_tag_create(f->st, f->ds.id, name, 0, &t), 0);
	return t;
}

struct lines {
	char buf[512];
};

static int add_line(void *arg, const char *path)
{
	struct lines *l = arg;

	snprintf(l->buf + strlen(l->buf), sizeof(l->buf) - strlen(l->buf),
		 "%s ", path);
	return 0;
}

static const char *selection(struct fx *f)
{
	static struct lines l;

	l.buf[0] = '\0';
	assert_rc(store_selection_each(f->st, f->ds.id, add_line, &l), 0);
	return l.buf;
}

static int run(struct fx *f, const char *text, int64_t *count, char *why)
{
	struct core_tagalg a;
	char src[129];
	int64_t id;

	assert_rc(core_tagalg_parse(text, strlen(text), &a, why, 256), 1);
	return core_tagalg_run(f->st, f->ds.id, &a, 0, count, &id, src, why,
			       256);
}

static void test_run_catalog(void **state)
{
	struct fx *f = *state;
	const char *pa[] = { "f0", "f1", "f2", "f3" }, *pb[] = { "f2", "f3",
		"f4" }, *pc[] = { "f5" };
	struct store_tag a, b, c, u, got;
	struct store_dataset d;
	char why[256];
	int64_t n;

	for (int i = 0; i < 6; i++) {
		char name[16], data[32];
		snprintf(name, sizeof(name), "f%d", i);
		snprintf(data, sizeof(data), "data %d\n", i);
		f->ino[i] = put(f, name, data);
	}
	a = mktag(f, "A", pa, 4);
	b = mktag(f, "B", pb, 3);
	c = mktag(f, "C", pc, 1);

	assert_rc(run(f, "intersection: A B", &n, why), 0);
	assert_int_equal(n, 2);
	assert_string_equal(selection(f), "f2 f3 ");
	assert_rc(store_dataset_get_id(f->st, f->ds.id, &d), 0);
	assert_int_equal(d.sel_tree, a.id);
	assert_true(d.sel_explicit);

	assert_rc(run(f, "difference: B A", &n, why), 0);
	assert_string_equal(selection(f), "f4 ");
	assert_rc(store_dataset_get_id(f->st, f->ds.id, &d), 0);
	assert_int_equal(d.sel_tree, b.id);

	assert_rc(run(f, "intersection: A C", &n, why), 0);
	assert_int_equal(n, 0);
	assert_string_equal(selection(f), "");

	/* selection as an operand: {f0, f3} of A's order */
	assert_rc(run(f, "difference: A B", &n, why), 0);
	assert_rc(run(f, "union: selection C", &n, why), 0);
	assert_string_equal(selection(f), "f0 f1 f5 ");

	/* a union of disjoint tags frozen: files of two trees, parent A */
	assert_rc(run(f, "union: A C", &n, why), 0);
	assert_string_equal(selection(f), "f0 f1 f2 f3 f5 ");
	assert_rc(store_tag_create(f->st, f->ds.id, "U", 0, &u), 0);
	assert_int_equal(u.parent, a.id);
	assert_int_equal(u.files, 5);
	assert_rc(store_tag_get(f->st, f->ds.id, "U", &got), 0);

	/* refused: nothing changes */
	assert_rc(run(f, "union: C B", &n, why), 0);
	assert_string_equal(selection(f), "f5 f2 f3 f4 ");
	assert_rc(run(f, "union: A nope", &n, why), -EINVAL);
	assert_string_equal(why, "union: no tag named 'nope'");
	assert_string_equal(selection(f), "f5 f2 f3 f4 ");

	/* deleting B, whose nodes the selection holds (its source is C):
	 * the selection goes back to all of initial-tag */
	assert_rc(store_tag_delete(f->st, b.id), 0);
	assert_rc(store_dataset_get_id(f->st, f->ds.id, &d), 0);
	assert_false(d.sel_explicit);
	assert_int_equal(d.sel_tree, f->ds.live_tree);
	assert_string_equal(selection(f), "f0 f1 f2 f3 f4 f5 ");
	(void)c;
}

/* A node of another dataset is refused, and nothing changes. */
static void test_set_nodes_checks(void **state)
{
	struct fx *f = *state;
	struct store_dataset other;
	int64_t mine, theirs;

	mine = put(f, "m", "mine\n");
	assert_rc(store_dataset_create(f->st, "alice", "other", &other), 0);
	{
		struct store_newnode nn = { .kind = STORE_FILE, .mode = 0644 };
		struct store_node n;
		assert_rc(store_node_create(f->st, other.live_root, "t", &nn,
					    &n), 0);
		theirs = n.ino;     /* pending: no content either */
	}
	assert_rc(store_selection_set_nodes(f->st, f->ds.id, f->ds.live_tree,
					    &mine, 1), 0);
	assert_string_equal(selection(f), "m ");
	assert_rc(store_selection_set_nodes(f->st, f->ds.id, f->ds.live_tree,
					    &theirs, 1), -EINVAL);
	assert_rc(store_selection_set_nodes(f->st, f->ds.id, other.live_tree,
					    &mine, 1), -EINVAL);
	assert_string_equal(selection(f), "m ");
}

int main(void)
{
	const struct CMUnitTest pure[] = {
		cmocka_unit_test(test_parse_forms),
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_quote_words),
		cmocka_unit_test(test_apply_overlapping),
		cmocka_unit_test(test_apply_disjoint),
		cmocka_unit_test(test_apply_three),
	};
	const struct CMUnitTest cat[] = {
		cmocka_unit_test_setup_teardown(test_run_catalog, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_set_nodes_checks, setup,
						teardown),
	};
	int rc = cmocka_run_group_tests_name("tagalg", pure, NULL, NULL);

	return rc + cmocka_run_group_tests_name("tagalg_catalog", cat, NULL,
						NULL);
}
