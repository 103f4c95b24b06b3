/*
 * test_runs.c — the `sample` request grammar (core/runs.c core_req_parse):
 * every strategy and key, the defaults, and each way a request can be wrong
 * with the message the user will read in `sample` and `log`; and the runs
 * of the catalog (store/vectors.c, store/db.c): numbered 1, 2, 3… in each
 * dataset, also after the migration of a catalog made before the numbers
 * existed (a temp store, its runs table cut back to the old columns with
 * sqlite3, reopened twice). And plot.svg (core/plot.c) over file names
 * XML cannot carry as they are: metacharacters escaped, a control byte and
 * invalid UTF-8 as U+FFFD, valid UTF-8 kept; one colour per label.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "core/layout.h"
#include "core/plot.h"
#include "core/runs.h"
#include "core/text.h"
#include "store/store.h"
#include "tests/unit/tstore.h"

static void expect_bad(const char *req, const char *want);

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
	assert_int_equal(core_req_parse("coreset", &q, msg, sizeof(msg)), 0);
	assert_int_equal(q.n, 0);           /* all candidates */
}

/* A blank line is not "sample everything with the defaults". */
static void test_empty(void **state)
{
	(void)state;
	expect_bad("", "empty request");
	expect_bad("   ", "empty request");
	expect_bad(" \t\r\n", "empty request");
	expect_bad("\n", "e.g. `coreset n=100`");
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

static void test_plural(void **state)
{
	(void)state;
	assert_string_equal(core_s(1), "");
	assert_string_equal(core_s(-1), "");
	assert_string_equal(core_s(0), "s");
	assert_string_equal(core_s(2), "s");
	assert_string_equal(core_s(3200), "s");
}

/* ---- runs in the catalog ---- */

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

struct fx {
	char tmp[64], dir[128];
	store *st;
	struct store_dataset a, b;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char msg[STORE_ERRMSG] = "";

	if (!f)
		return -1;
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/sievefs-test-runs-XXXXXX");
	if (!mkdtemp(f->tmp)) {
		free(f);
		return -1;
	}
	snprintf(f->dir, sizeof(f->dir), "%s/store", f->tmp);
	if (store_open(f->dir, STORE_OPEN_OWNER, &f->st, msg, sizeof(msg)) ||
	    store_dataset_create(f->st, "", "a", &f->a) ||
	    store_dataset_create(f->st, "", "b", &f->b)) {
		fprintf(stderr, "setup: %s\n", msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	store_close(f->st);
	nftw(f->tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int64_t new_run(store *st, int64_t ds, int64_t *seq)
{
	struct store_run r = { .dataset = ds, .status = STORE_RUN_QUEUED };

	snprintf(r.request, sizeof(r.request), "random n=1");
	snprintf(r.strategy, sizeof(r.strategy), "random");
	assert_int_equal(store_run_create(st, &r), 0);
	*seq = r.seq;
	return r.id;
}

static void reopen(struct fx *f)
{
	char msg[STORE_ERRMSG] = "";

	store_close(f->st);
	f->st = NULL;
	if (store_open(f->dir, STORE_OPEN_OWNER, &f->st, msg, sizeof(msg)))
		fail_msg("reopen: %s", msg);
}

static void test_seq_per_dataset(void **state)
{
	struct fx *f = *state;
	struct store_run r;
	int64_t seq, id1, id2, id3;

	id1 = new_run(f->st, f->a.id, &seq);
	assert_int_equal(seq, 1);
	id2 = new_run(f->st, f->b.id, &seq);
	assert_int_equal(seq, 1);           /* not 2: b's own first run */
	id3 = new_run(f->st, f->a.id, &seq);
	assert_int_equal(seq, 2);
	assert_true(id1 != id2 && id2 != id3);      /* ids stay unique */
	assert_int_equal(store_run_get(f->st, id3, &r), 0);
	assert_int_equal(r.seq, 2);
	r.candidates = 400;
	r.status = STORE_RUN_DONE;
	assert_int_equal(store_run_update(f->st, &r), 0);
	reopen(f);
	assert_int_equal(store_run_latest(f->st, f->a.id, &r), 0);
	assert_int_equal(r.id, id3);
	assert_int_equal(r.seq, 2);
	assert_int_equal(r.candidates, 400);
	new_run(f->st, f->b.id, &seq);
	assert_int_equal(seq, 2);
}

/* Runs of a catalog made before `seq` (and `candidates`) existed are
 * numbered in id order per dataset when it is opened; opening it again
 * changes nothing; new runs continue from there. */
static void test_seq_migration(void **state)
{
	struct fx *f = *state;
	struct store_run r;
	char path[200];
	sqlite3 *db;
	int64_t seq, ids[5];
	const int64_t want[5] = { 1, 1, 2, 3, 2 };

	for (int i = 0; i < 5; i++)
		ids[i] = new_run(f->st, i == 1 || i == 4 ? f->b.id : f->a.id,
				 &seq);
	store_close(f->st);
	f->st = NULL;
	snprintf(path, sizeof(path), "%s/catalog.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "ALTER TABLE runs DROP COLUMN seq;"
				      "ALTER TABLE runs DROP COLUMN candidates",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	for (int pass = 0; pass < 2; pass++) {
		reopen(f);
		for (int i = 0; i < 5; i++) {
			assert_int_equal(store_run_get(f->st, ids[i], &r), 0);
			assert_int_equal(r.seq, want[i]);
		}
	}
	new_run(f->st, f->a.id, &seq);
	assert_int_equal(seq, 4);
	new_run(f->st, f->b.id, &seq);
	assert_int_equal(seq, 3);
}

static void test_too_long(void **state)
{
	char req[2000];

	(void)state;
	memset(req, 'a', sizeof(req) - 1);
	req[sizeof(req) - 1] = '\0';
	expect_bad(req, "request longer than");
}

/* A committed file `name` in dataset ds's initial-tag. */
static void put_file(store *st, const struct store_dataset *ds,
		     const char *name)
{
	assert_int_equal(tstore_put_file(st, ds->live_root, name, name,
					 strlen(name), NULL), 0);
}

static void test_plot_names(void **state)
{
	struct fx *f = *state;
	const char *names[] = { "a<&>\".txt", "ctl\001x.txt", "bad\377x.txt",
				"caf\303\251.txt" };
	const float x[] = { 0, 0, 1, 0, 0, 1, 1, 1 };
	const int64_t labels[] = { 7, 7, 9, 9 };
	struct store_embedding e;
	size_t bad = 0, len = 0;
	char *svg = NULL;

	for (int i = 0; i < 4; i++)
		put_file(f->st, &f->a, names[i]);
	assert_int_equal(store_embedding_put(f->st, f->a.id, f->a.live_tree,
					     "e", 4, 2, names, x, labels, &bad,
					     NULL, &e), 0);
	assert_int_equal(core_plot_svg(f->st, f->a.id, "a", "my note",
				       CORE_LAYOUT_PCA, &svg, &len), 0);
	assert_int_equal(strlen(svg), len);
	assert_non_null(strstr(svg, "<title>a&lt;&amp;&gt;&quot;.txt</title>"));
	assert_non_null(strstr(svg, "<title>ctl\357\277\275x.txt</title>"));
	assert_non_null(strstr(svg, "<title>bad\357\277\275x.txt</title>"));
	assert_non_null(strstr(svg, "<title>caf\303\251.txt</title>"));
	assert_null(strchr(svg, '\001'));
	assert_null(strchr(svg, '\377'));
	assert_non_null(strstr(svg, "selection: 4 of 4 (my note)"));
	assert_non_null(strstr(svg, "label 7 (2)"));
	assert_non_null(strstr(svg, "label 9 (2)"));
	assert_non_null(strstr(svg, ">principal component 1</text>"));
	free(svg);
	/* the neighbour-preserving layout (issue 21): same points and
	 * escapes, its own axis titles, twice the same bytes (cached or not) */
	char *svg2 = NULL;
	size_t len2 = 0;
	/* the first read starts the layout in the background and says so
	 * (never seconds on a stat's thread); a later one draws it */
	assert_int_equal(core_plot_svg(f->st, f->a.id, "a", "my note",
				       CORE_LAYOUT_UMAP, &svg, &len), 0);
	assert_non_null(strstr(svg, "id=\"pending\""));
	assert_non_null(strstr(svg, "layout of 4 samples (embedding e) is"
			       " being computed"));
	for (int i = 0; i < 3000 && strstr(svg, "id=\"pending\""); i++) {
		free(svg);
		usleep(10000);
		assert_int_equal(core_plot_svg(f->st, f->a.id, "a", "my note",
					       CORE_LAYOUT_UMAP, &svg, &len),
				 0);
	}
	assert_null(strstr(svg, "id=\"pending\""));
	assert_non_null(strstr(svg, "<title>a&lt;&amp;&gt;&quot;.txt</title>"));
	assert_non_null(strstr(svg, "<title>bad\357\277\275x.txt</title>"));
	assert_non_null(strstr(svg, "umap layout"));
	assert_non_null(strstr(svg, ">umap 1 ("));
	assert_null(strstr(svg, "principal component"));
	assert_null(strstr(svg, "nan"));
	assert_int_equal(core_plot_svg(f->st, f->a.id, "a", "my note",
				       CORE_LAYOUT_UMAP, &svg2, &len2), 0);
	assert_int_equal(len, len2);
	assert_memory_equal(svg, svg2, len);
	free(svg);
	free(svg2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_keep_cancel),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_too_long),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_plural),
		cmocka_unit_test_setup_teardown(test_seq_per_dataset, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_plot_names, setup,
						teardown),
	};
	/* about the SQLite file (tstore.h): an older catalog.db planted
	 * with sqlite3 and upgraded at open */
	const struct CMUnitTest sqlite_file[] = {
		cmocka_unit_test_setup_teardown(test_seq_migration, setup,
						teardown),
	};
	return TSTORE_RUN_GROUP("tests", tests, sqlite_file, NULL, NULL);
}
