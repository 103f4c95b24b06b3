/*
 * test_colcache.c — the web app's column cache (core/colcache.c): the
 * inputs stamp moves with an upload, a replacement and a removal and not
 * otherwise; names and values come back as the uncached reads give them
 * (numbers with NaN for a missing value, categories with their names, in
 * the order of the paths asked for); a kept entry is served from the cache
 * (proved by asking with the old stamp after the input changed), a new
 * stamp or gen reads anew, the least recently used entry goes once
 * COLCACHE_MAX are kept, and an unknown column is -EINVAL with why.
 *
 * Fixture: a fresh store in a temp dir with dataset alice/cols and one
 * metadata input "m" (store_input_put: the cache matches rows to the paths
 * it is given, so no file of the tree is needed).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/colcache.h"
#include "core/incsv.h"
#include "tests/unit/tstore.h"
#include "store/store.h"

#define assert_rc(expr, want) do {                                       \
	int rc_ = (expr), want_ = (want);                                \
	if (rc_ != want_)                                                \
		fail_msg("%s: got %d (%s), want %d (%s)", #expr, rc_,     \
			 strerror(-rc_), want_, strerror(-want_));        \
} while (0)


static const char CSV1[] = "filename,q,c\na.png,1.5,sunny\nb.png,,rainy\n";
static const char CSV2[] = "filename,q,c\na.png,2.5,fog\nb.png,3,\n";
static const char *const PATHS[] = { "a.png", "b.png", "zz.png" };

static void put(struct tstore_fx *f, const char *name, const char *csv)
{
	struct store_input in;

	assert_rc(store_input_put(f->st, f->ds.id, CORE_INPUT_METADATA, name,
				  csv, strlen(csv), 2, 2, &in), 0);
}

static int setup(void **state)
{
	return tstore_fx_setup_ds(state, "colcache", "cols");
}

static int teardown(void **state)
{
	return tstore_fx_teardown(state);
}

static void load(struct tstore_fx *f, const char *gen, uint64_t stamp,
		 const char *spec, struct sv_column *c)
{
	char why[256] = "";

	assert_rc(colcache_column(f->st, f->ds.id, gen, stamp, spec, PATHS, 3,
				  c, NULL, why, sizeof(why)), 0);
	assert_int_equal(c->n, 3);
}

static void stamp_moves_with_inputs(void **state)
{
	struct tstore_fx *f = *state;
	uint64_t s0, s1, s1b, s2, s3;
	struct store_input *v = NULL;
	size_t n = 0;

	assert_rc(colcache_stamp(f->st, f->ds.id, &s0), 0);
	put(f, "m", CSV1);
	assert_rc(colcache_stamp(f->st, f->ds.id, &s1), 0);
	assert_rc(colcache_stamp(f->st, f->ds.id, &s1b), 0);
	assert_true(s0 != s1);
	assert_true(s1 == s1b);                 /* nothing changed */
	put(f, "m", CSV2);                      /* replaced */
	assert_rc(colcache_stamp(f->st, f->ds.id, &s2), 0);
	assert_true(s2 != s1);
	assert_rc(store_input_list(f->st, f->ds.id, 0, &v, &n), 0);
	assert_int_equal(n, 1);
	assert_rc(store_input_delete(f->st, v[0].id), 0);
	free(v);
	assert_rc(colcache_stamp(f->st, f->ds.id, &s3), 0);
	assert_true(s3 != s2);
}

static void names_and_values_as_read(void **state)
{
	struct tstore_fx *f = *state;
	struct sv_column q, c;
	char **names = NULL;
	size_t n = 0;
	uint64_t s;
	int hq = 0, hc = 0, hb = 0;

	put(f, "m", CSV1);
	assert_rc(colcache_stamp(f->st, f->ds.id, &s), 0);
	assert_rc(colcache_names(f->st, f->ds.id, s, &names, &n), 0);
	for (size_t i = 0; i < n; i++) {
		hq |= !strcmp(names[i], "m.q");
		hc |= !strcmp(names[i], "m.c");
		hb |= !strcmp(names[i], "builtin.width");
	}
	assert_true(hq && hc && hb);
	core_column_list_free(names, n);
	/* twice: the second from the cache, the same */
	for (int k = 0; k < 2; k++) {
		load(f, "7-a", s, "m.q", &q);
		assert_int_equal(q.categorical, 0);
		assert_true(q.v[0] == 1.5);
		assert_true(isnan(q.v[1]) && isnan(q.v[2]));
		sv_column_free(&q);
		load(f, "7-a", s, "m.c", &c);
		assert_int_equal(c.categorical, 1);
		assert_true(c.cat[0] >= 0 && c.cat[1] >= 0 && c.cat[2] == -1);
		assert_string_equal(c.names[c.cat[0]], "sunny");
		assert_string_equal(c.names[c.cat[1]], "rainy");
		sv_column_free(&c);
	}
}

static void kept_until_stamp_or_gen_changes(void **state)
{
	struct tstore_fx *f = *state;
	struct sv_column q;
	uint64_t s1, s2;

	put(f, "m", CSV1);
	assert_rc(colcache_stamp(f->st, f->ds.id, &s1), 0);
	load(f, "7-a", s1, "m.q", &q);
	assert_true(q.v[0] == 1.5);
	sv_column_free(&q);
	put(f, "m", CSV2);
	assert_rc(colcache_stamp(f->st, f->ds.id, &s2), 0);
	/* the old key is still the cached answer: proof it is not read again */
	load(f, "7-a", s1, "m.q", &q);
	assert_true(q.v[0] == 1.5);
	sv_column_free(&q);
	/* the new stamp reads the new CSV; a new gen too */
	load(f, "7-a", s2, "m.q", &q);
	assert_true(q.v[0] == 2.5 && q.v[1] == 3);
	sv_column_free(&q);
	load(f, "8-a", s2, "m.q", &q);
	assert_true(q.v[0] == 2.5);
	sv_column_free(&q);
}

static void lru_entry_goes_past_the_bound(void **state)
{
	struct tstore_fx *f = *state;
	struct sv_column q;
	uint64_t s1;
	char gen[32];

	put(f, "m", CSV1);
	assert_rc(colcache_stamp(f->st, f->ds.id, &s1), 0);
	load(f, "first", s1, "m.q", &q);
	sv_column_free(&q);
	put(f, "m", CSV2);       /* reading "first" anew would now give 2.5 */
	for (int i = 0; i < COLCACHE_MAX; i++) {
		snprintf(gen, sizeof(gen), "g%d", i);
		load(f, gen, s1 + 1 + (uint64_t)i, "m.q", &q);
		sv_column_free(&q);
	}
	load(f, "first", s1, "m.q", &q);
	assert_true(q.v[0] == 2.5);  /* evicted: read again */
	sv_column_free(&q);
}

static void unknown_column_says_why(void **state)
{
	struct tstore_fx *f = *state;
	struct sv_column q;
	char why[256] = "";
	uint64_t s;

	put(f, "m", CSV1);
	assert_rc(colcache_stamp(f->st, f->ds.id, &s), 0);
	assert_rc(colcache_column(f->st, f->ds.id, "1-a", s, "m.nope", PATHS,
				  3, &q, NULL, why, sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "nope"));
}

/* A committed file `name` holding data[0..len) in ds's initial-tag (as
 * tstore_put_file). */
static void put_file(store *st, const struct store_dataset *ds,
		     const char *name, const void *data, size_t len)
{
	assert_rc(tstore_put_file(st, ds->live_root, name, data, len, NULL), 0);
}

/* builtin.* columns asked together (one pass for all): before the image
 * metadata is computed, the image's and the text file's values are
 * pending (null, counted once a file, not once a column) and file_size is
 * whole; once computed, the values are what core_column_load_paths gives
 * one column at a time. */
static void builtin_columns_together(void **state)
{
	struct tstore_fx *f = *state;
	static const char ppm[] = "P6\n2 1\n255\n\xff\x00\x00\x00\x00\xff";
	const char *const paths[] = { "rb.ppm", "note.txt", "nope" };
	const char *const specs[] = { "builtin.width", "builtin.file_size",
				      "builtin.colourfulness" };
	struct sv_column c[3], one;
	size_t pending = 0;
	uint64_t s;
	char why[256] = "";

	put_file(f->st, &f->ds, "rb.ppm", ppm, sizeof(ppm) - 1);
	put_file(f->st, &f->ds, "note.txt", "hello", 5);
	assert_rc(colcache_stamp(f->st, f->ds.id, &s), 0);
	assert_rc(colcache_columns(f->st, f->ds.id, "9-b", s, specs, 3, paths,
				   3, c, &pending, why, sizeof(why)), 0);
	assert_int_equal(pending, 2);
	for (int j = 0; j < 3; j++)
		assert_int_equal(c[j].n, 3);
	assert_true(isnan(c[0].v[0]) && isnan(c[0].v[1]) && isnan(c[0].v[2]));
	assert_true(isnan(c[2].v[0]) && isnan(c[2].v[1]));
	assert_true(c[1].v[0] == sizeof(ppm) - 1 && c[1].v[1] == 5 &&
		    isnan(c[1].v[2]));
	for (int j = 0; j < 3; j++)
		sv_column_free(&c[j]);
	/* computed (and cached per content) by a load that may decode */
	assert_rc(core_column_load_paths(f->st, f->ds.id, "builtin.width",
					 paths, 3, &one, why, sizeof(why)), 0);
	sv_column_free(&one);
	assert_rc(colcache_columns(f->st, f->ds.id, "9-b", s, specs, 3, paths,
				   3, c, &pending, why, sizeof(why)), 0);
	assert_int_equal(pending, 0);
	for (int j = 0; j < 3; j++) {
		assert_rc(core_column_load_paths(f->st, f->ds.id, specs[j],
						 paths, 3, &one, why,
						 sizeof(why)), 0);
		for (size_t i = 0; i < 3; i++)
			assert_true(isnan(one.v[i]) ? isnan(c[j].v[i]) :
				    one.v[i] == c[j].v[i]);
		sv_column_free(&one);
		sv_column_free(&c[j]);
	}
	/* a column alone is the same */
	assert_rc(colcache_columns(f->st, f->ds.id, "9-c", s, specs + 2, 1,
				   paths, 3, c, &pending, why, sizeof(why)), 0);
	assert_int_equal(pending, 0);
	assert_true(fabs(c[0].v[0] - 1.069093) < 1e-5 && isnan(c[0].v[1]));
	sv_column_free(&c[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(stamp_moves_with_inputs, setup, teardown),
		cmocka_unit_test_setup_teardown(names_and_values_as_read, setup, teardown),
		cmocka_unit_test_setup_teardown(kept_until_stamp_or_gen_changes, setup, teardown),
		cmocka_unit_test_setup_teardown(lru_entry_goes_past_the_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(unknown_column_says_why, setup, teardown),
		cmocka_unit_test_setup_teardown(builtin_columns_together, setup, teardown),
	};
	const struct CMUnitTest sqlite_file[] = { { 0 } };

	return tstore_run_group("tests", tests, sizeof(tests) / sizeof(tests[0]),
				sqlite_file, 0, NULL, NULL);
}
