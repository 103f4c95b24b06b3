/*
 * test_dupset — the `duplicates` setting of a dataset in the catalog
 * (store/dups.c, core/dups_run.c; session 27): what core_dups_config
 * accepts is a row of dups_settings, read back by core_dups_text after
 * the store is closed and opened again and by a second store on the same
 * catalog (two servers), cleared by 'exact', left as it was by a refusal,
 * and gone with its dataset. Runs on SQLite and, under `make test-pg`, on
 * PostgreSQL (tstore.h).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/dups.h"
#include "store/store.h"
#include "tests/unit/tstore.h"

#define assert_rc(expr, want) do {                                       \
	int rc_ = (expr), want_ = (want);                                \
	if (rc_ != want_)                                                \
		fail_msg("%s: got %d (%s), want %d (%s)", #expr, rc_,     \
			 strerror(-rc_), want_, strerror(-want_));        \
} while (0)


static int setup(void **state)
{
	return tstore_fx_setup_ds(state, "dupset", "leaves");
}

static int teardown(void **state)
{
	return tstore_fx_teardown(state);
}

static void put(struct tstore_fx *f, const char *name, const char *data)
{
	assert_rc(tstore_put_file(f->st, f->ds.live_root, name, data,
				  strlen(data), NULL), 0);
}

/* a.txt, b.txt 0.01 apart, c.txt far; a.txt and d.txt the same bytes */
static void files_and_embedding(struct tstore_fx *f)
{
	const char *paths[] = { "a.txt", "b.txt", "c.txt", "d.txt" };
	const float x[] = { 0, 0, 0.01f, 0, 5, 0, 9, 0 };
	const int64_t labels[] = { 0, 0, 0, 0 };
	struct store_embedding e;

	put(f, "a.txt", "same");
	put(f, "b.txt", "B");
	put(f, "c.txt", "C");
	put(f, "d.txt", "same");
	assert_rc(store_embedding_put(f->st, f->ds.id, f->ds.live_tree, "e1",
				      4, 2, paths, x, labels, NULL, NULL, &e),
		  0);
}

static char *text(store *st, int64_t ds)
{
	char *t = NULL;
	size_t len = 0;

	assert_rc(core_dups_text(st, ds, &t, &len), 0);
	assert_int_equal(strlen(t), len);
	return t;
}

static const char exact_only[] =
	"# exact duplicates (the same content) in initial-tag: 1 group,"
	" 2 files\na.txt\nd.txt\n\n# near duplicates: not asked; echo"
	" 'max_distance=0.05 embedding=NAME' > duplicates\n";
static const char with_near[] =
	"# exact duplicates (the same content) in initial-tag: 1 group,"
	" 2 files\na.txt\nd.txt\n\n# near duplicates (embedding 'e1',"
	" distance <= 0.05): 1 group, 2 files\na.txt\nb.txt\n";

static void setting_is_a_catalog_row(void **state)
{
	struct tstore_fx *f = *state;
	char why[256] = "", emb[129];
	double d = -1;
	char *t;

	files_and_embedding(f);
	assert_rc(store_dups_setting_get(f->st, f->ds.id, &d, emb,
					 sizeof(emb)), 0);
	t = text(f->st, f->ds.id);
	assert_string_equal(t, exact_only);
	free(t);
	assert_rc(core_dups_config(f->st, f->ds.id, "max_distance=0.05"
				   " embedding=e1", why, sizeof(why)), 0);
	assert_rc(store_dups_setting_get(f->st, f->ds.id, &d, emb,
					 sizeof(emb)), 1);
	assert_true(d == 0.05);
	assert_string_equal(emb, "e1");
	t = text(f->st, f->ds.id);
	assert_string_equal(t, with_near);
	free(t);
	/* a refusal leaves the row as it was */
	assert_rc(core_dups_config(f->st, f->ds.id, "max_distance=0.5"
				   " embedding=nope", why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "duplicates: no embedding named 'nope'"
			    " (embeddings: e1)");
	assert_rc(core_dups_config(f->st, f->ds.id, "max_distance=-1"
				   " embedding=e1", why, sizeof(why)), -EINVAL);
	assert_rc(store_dups_setting_get(f->st, f->ds.id, &d, emb,
					 sizeof(emb)), 1);
	assert_true(d == 0.05);
	/* writing again replaces it (one row a dataset) */
	assert_rc(core_dups_config(f->st, f->ds.id, "embedding=e1"
				   " max_distance=0", why, sizeof(why)), 0);
	assert_rc(store_dups_setting_get(f->st, f->ds.id, &d, emb,
					 sizeof(emb)), 1);
	assert_true(d == 0);
	/* 'exact' clears it */
	assert_rc(core_dups_config(f->st, f->ds.id, "exact", why,
				   sizeof(why)), 0);
	assert_rc(store_dups_setting_get(f->st, f->ds.id, &d, emb,
					 sizeof(emb)), 0);
	t = text(f->st, f->ds.id);
	assert_string_equal(t, exact_only);
	free(t);
}

/* A restart (the store closed and opened again) and a second store on the
 * same catalog (another server) read the same setting and groups. */
static void setting_outlives_the_process(void **state)
{
	struct tstore_fx *f = *state;
	char why[256], msg[256], cat[4096], odir[160];
	store *other = NULL;
	char *t;

	files_and_embedding(f);
	assert_rc(core_dups_config(f->st, f->ds.id, "max_distance=0.05"
				   " embedding=e1", why, sizeof(why)), 0);
	store_close(f->st);
	f->st = NULL;
	assert_rc(store_open(f->dir, STORE_OPEN_OWNER, &f->st, msg,
			     sizeof(msg)), 0);
	t = text(f->st, f->ds.id);
	assert_string_equal(t, with_near);
	free(t);
	/* another server: a STORE directory of its own, the same catalog */
	assert_rc(tstore_catalog_target(f->dir, cat, sizeof(cat)), 0);
	snprintf(odir, sizeof(odir), "%s/other", f->tmp);
	assert_int_equal(mkdir(odir, 0700), 0);
	assert_rc(store_open_catalog(odir, cat, STORE_OPEN_OWNER, &other, msg,
				     sizeof(msg)), 0);
	t = text(other, f->ds.id);
	assert_string_equal(t, with_near);
	free(t);
	/* one clears it: the other sees it cleared */
	assert_rc(core_dups_config(other, f->ds.id, "exact", why,
				   sizeof(why)), 0);
	t = text(f->st, f->ds.id);
	assert_string_equal(t, exact_only);
	free(t);
	store_close(other);
}

/* The embedding deleted: the row stays, the file says so; the dataset
 * deleted: the row goes with it. */
static void setting_follows_its_dataset(void **state)
{
	struct tstore_fx *f = *state;
	struct store_embedding e;
	struct store_dataset d2;
	char why[256], emb[129];
	double d;
	char *t;

	files_and_embedding(f);
	assert_rc(core_dups_config(f->st, f->ds.id, "max_distance=0.05"
				   " embedding=e1", why, sizeof(why)), 0);
	assert_rc(store_embedding_get(f->st, f->ds.id, "e1", &e), 0);
	assert_rc(store_embedding_delete(f->st, e.id), 0);
	t = text(f->st, f->ds.id);
	assert_non_null(strstr(t, "# near duplicates: the embedding set was"
			       " deleted"));
	free(t);
	assert_rc(store_dups_setting_get(f->st, f->ds.id, &d, emb,
					 sizeof(emb)), 1);
	/* an empty dataset with a row: deleted, then one made anew */
	assert_rc(store_dataset_create(f->st, "alice", "empty", &d2), 0);
	assert_rc(store_dups_setting_set(f->st, d2.id, 0.5, "x"), 0);
	assert_rc(store_dups_setting_get(f->st, d2.id, &d, emb, sizeof(emb)),
		  1);
	assert_rc(store_dataset_delete(f->st, d2.id), 0);
	assert_rc(store_dups_setting_get(f->st, d2.id, &d, emb, sizeof(emb)),
		  0);
	assert_rc(store_dataset_create(f->st, "alice", "empty", &d2), 0);
	assert_rc(store_dups_setting_get(f->st, d2.id, &d, emb, sizeof(emb)),
		  0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(setting_is_a_catalog_row),
		T(setting_outlives_the_process),
		T(setting_follows_its_dataset),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
