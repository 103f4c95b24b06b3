/*
 * test_table.c — the sample table (core/table.c, store/table.c): the
 * rows (committed files of the live tree only, bytewise path order, size,
 * ino, kept per user), the JSON answer (parsed back with cJSON, strings
 * escaped as cJSON prints them), the live tree's counter (moves with
 * create, commit, setattr, rename, remove and a grant that changes
 * `kept`; not with a frozen tag, another dataset or the selection), the
 * cache (same entry at the same counter, a new one after a change, LRU
 * eviction under a small bound with references still valid), members of
 * a tag and of the selection, scores of a run, the layout (NaN for
 * samples without a vector, PCA scaled into [-1, 1], cached), tbl_find
 * and tbl_scale_xy on edge cases.
 *
 * Fixture: a fresh store in a temp dir with dataset alice/leaves.
 */
#include <errno.h>
#include <ftw.h>
#include <math.h>
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
#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "core/layout.h"
#include "core/table.h"
#include "tests/unit/tstore.h"
#include "store/store.h"
#include "store/table.h"

#define assert_rc(expr, want) do {                                       \
	int rc_ = (expr), want_ = (want);                                \
	if (rc_ != want_)                                                \
		fail_msg("%s: got %d (%s), want %d (%s)", #expr, rc_,     \
			 strerror(-rc_), want_, strerror(-want_));        \
} while (0)

struct fx {
	char tmp[64];
	char dir[128];
	store *st;
	struct store_dataset ds;
	struct tbl_cache *c;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || tstore_open("table", f->tmp, sizeof(f->tmp), f->dir,
			      sizeof(f->dir), &f->st)) {
		free(f);
		return -1;
	}
	if (store_dataset_create(f->st, "alice", "leaves", &f->ds) ||
	    !(f->c = tbl_cache_new(64u << 20, 0xabc))) {
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

	tbl_cache_free(f->c);
	tstore_close(f->tmp, f->st);
	free(f);
	return 0;
}

static int64_t mk(struct fx *f, int64_t parent, const char *name, int kind)
{
	struct store_newnode nn = { .kind = kind, .mode = 0644, .uid = 1,
				    .gid = 1, .mtime_ns = 1 };
	struct store_node n;

	assert_rc(store_node_create(f->st, parent, name, &nn, &n), 0);
	return n.ino;
}

static void commit(struct fx *f, int64_t ino, const char *data,
		   unsigned char *sha)
{
	char staged[STORE_PATH_MAX];
	unsigned char h[STORE_SHA_LEN];
	size_t len = strlen(data);
	int fd = store_staging_create(f->st, staged, sizeof(staged));

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), len);
	assert_rc(store_sha256_fd(fd, h), 0);
	assert_rc(store_node_commit(f->st, ino, fd, staged, h, (int64_t)len,
				    2, 0), 0);
	close(fd);
	if (sha)
		memcpy(sha, h, STORE_SHA_LEN);
}

static int64_t put(struct fx *f, int64_t parent, const char *name,
		   const char *data)
{
	int64_t ino = mk(f, parent, name, STORE_FILE);

	commit(f, ino, data, NULL);
	return ino;
}

static uint64_t gen(struct fx *f)
{
	uint64_t g;

	assert_rc(store_table_gen(f->st, f->ds.id, &g), 0);
	return g;
}

/* Root files "b", "B", "a.b", dir "a" with "x" and "a/y" (pending). */
static void tree(struct fx *f, int64_t *a)
{
	put(f, f->ds.live_root, "b", "bb");
	put(f, f->ds.live_root, "B", "B");
	put(f, f->ds.live_root, "a.b", "dot");
	*a = mk(f, f->ds.live_root, "a", STORE_DIR);
	put(f, *a, "x", "xxxx");
	mk(f, *a, "y", STORE_FILE);          /* pending: not a sample */
}

/* ---- the table ---- */

static void table_rows_in_bytewise_order(void **state)
{
	struct fx *f = *state;
	struct tbl *t;
	int64_t a;

	tree(f, &a);
	assert_rc(tbl_get(f->c, f->st, f->ds.id, &t), 0);
	assert_int_equal(t->n, 4);
	/* '/' (0x2f) sorts after '.' (0x2e), upper case before lower */
	assert_string_equal(t->path[0], "B");
	assert_string_equal(t->path[1], "a.b");
	assert_string_equal(t->path[2], "a/x");
	assert_string_equal(t->path[3], "b");
	assert_int_equal(t->size[0], 1);
	assert_int_equal(t->size[2], 4);
	for (size_t i = 0; i < t->n; i++) {
		struct store_node n;
		assert_rc(store_node_get(f->st, t->ino[i], &n), 0);
		assert_int_equal(n.tree, f->ds.live_tree);
		assert_int_equal(n.size, t->size[i]);
		assert_int_equal(t->kept[i], 0);
	}
	assert_int_equal(tbl_find(t, "a/x"), 2);
	assert_int_equal(tbl_find(t, "a/y"), -1);
	assert_int_equal(tbl_find(t, ""), -1);
	assert_int_equal(tbl_find(t, "zzz"), -1);
	for (size_t i = 0; i < t->n; i++)
		assert_int_equal(tbl_lookup(t, t->path[i]), (int64_t)i);
	assert_int_equal(tbl_lookup(t, "a/y"), -1);
	assert_int_equal(tbl_lookup(t, "a"), -1);
	tbl_put(f->c, &t->o);
}

static void table_json_parses_back(void **state)
{
	struct fx *f = *state;
	struct tbl *t;
	cJSON *j, *p;
	char want[64];
	int64_t a;

	tree(f, &a);
	put(f, f->ds.live_root, "q\"u\\o\tte\x01\xc3\xa9", "z");
	assert_rc(tbl_get(f->c, f->st, f->ds.id, &t), 0);
	j = cJSON_ParseWithLength(t->json, t->json_len);
	assert_non_null(j);
	snprintf(want, sizeof(want), "%s", t->gen_s);
	assert_string_equal(cJSON_GetObjectItem(j, "gen")->valuestring, want);
	assert_true(strstr(want, "-0000000000000abc") != NULL);
	assert_int_equal(cJSON_GetObjectItem(j, "count")->valueint, 5);
	p = cJSON_GetObjectItem(j, "path");
	assert_int_equal(cJSON_GetArraySize(p), 5);
	for (int i = 0; i < 5; i++) {
		assert_string_equal(cJSON_GetArrayItem(p, i)->valuestring,
				    t->path[i]);
		assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
			"size"), i)->valuedouble, (double)t->size[i]);
		assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
			"ino"), i)->valuedouble, (double)t->ino[i]);
		assert_int_equal(cJSON_GetArrayItem(cJSON_GetObjectItem(j,
			"kept"), i)->valueint, 0);
	}
	cJSON_Delete(j);
	tbl_put(f->c, &t->o);
}

static void json_str_escapes_as_cjson(void **state)
{
	const char *s = "a\"b\\c/\b\f\n\r\t\x01\x1f\x7f\xc3\xa9\xff";
	char buf[128], *ref;
	cJSON *j = cJSON_CreateString(s);
	size_t n;

	(void)state;
	n = tbl_json_str(buf, s, strlen(s));
	buf[n] = '\0';
	ref = cJSON_PrintUnformatted(j);
	assert_string_equal(buf, ref);
	n = tbl_json_str(buf, "", 0);
	assert_int_equal(n, 2);
	free(ref);
	cJSON_Delete(j);
}

static void empty_dataset_has_empty_table(void **state)
{
	struct fx *f = *state;
	struct tbl *t;
	cJSON *j;

	assert_rc(tbl_get(f->c, f->st, f->ds.id, &t), 0);
	assert_int_equal(t->n, 0);
	j = cJSON_ParseWithLength(t->json, t->json_len);
	assert_non_null(j);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "path")), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(j, "kept")), 0);
	cJSON_Delete(j);
	tbl_put(f->c, &t->o);
	assert_rc(tbl_get(f->c, f->st, 999999, &t), -ENOENT);
	assert_null(t);
}

/* ---- the counter ---- */

static void gen_moves_with_every_live_change(void **state)
{
	struct fx *f = *state;
	struct store_dataset other;
	struct store_tag tag;
	uint64_t g = gen(f), h;
	int64_t a, x;

	a = mk(f, f->ds.live_root, "a", STORE_DIR);
	assert_true((h = gen(f)) > g);
	x = mk(f, a, "x", STORE_FILE);
	assert_true((g = gen(f)) > h);
	commit(f, x, "data", NULL);
	assert_true((h = gen(f)) > g);
	assert_rc(store_node_setattr(f->st, x, STORE_SET_MODE, 0600, 0, 0, 0,
				     0), 0);
	assert_true((g = gen(f)) > h);
	assert_rc(store_node_rename(f->st, a, "x", f->ds.live_root, "x2", 0),
		  0);
	assert_true((h = gen(f)) > g);
	/* a folder rename: its subtree's paths change with one bump at least */
	put(f, a, "in", "i");
	g = gen(f);
	assert_rc(store_node_rename(f->st, f->ds.live_root, "a",
				    f->ds.live_root, "a2", 0), 0);
	assert_true((h = gen(f)) > g);
	/* neither a frozen tag, nor the selection, nor another dataset */
	assert_rc(store_tag_create(f->st, f->ds.id, "v1", 3, &tag), 0);
	assert_int_equal(gen(f), h);
	{
		const char *p[] = { "x2" };
		assert_rc(store_selection_set(f->st, f->ds.id, f->ds.live_tree,
					      p, 1, NULL, NULL, 0), 0);
	}
	assert_int_equal(gen(f), h);
	assert_rc(store_dataset_create(f->st, "alice", "other", &other), 0);
	put(f, other.live_root, "o", "o");
	assert_int_equal(gen(f), h);
	assert_rc(store_node_remove(f->st, f->ds.live_root, "x2", 0), 0);
	assert_true(gen(f) > h);
}

/* A folder's own times and mode are in no row of the table: setting them
 * (as every create and commit in it does for its mtime) leaves the
 * counter; a file's do not. The folder "a" into *a, the counter after
 * into *h. */
static void folder_attrs_leave_gen_in(struct fx *f, int64_t *a_out,
				      uint64_t *h_out)
{
	uint64_t g, h;
	int64_t a, x;

	a = mk(f, f->ds.live_root, "a", STORE_DIR);
	x = put(f, a, "x", "data");
	g = gen(f);
	assert_rc(store_node_setattr(f->st, a, STORE_SET_MODE | STORE_SET_MTIME,
				     0700, 0, 0, 5, 0), 0);
	assert_int_equal(gen(f), g);
	assert_rc(store_node_setattr(f->st, x, STORE_SET_MTIME, 0, 0, 0, 5, 0),
		  0);
	assert_true((h = gen(f)) > g);
	*a_out = a;
	*h_out = h;
}

static void folder_attrs_leave_gen(void **state)
{
	int64_t a;
	uint64_t h;

	folder_attrs_leave_gen_in(*state, &a, &h);
}

/* A catalog.db that still has the first version's node triggers
 * (upserts, named samples_gen_*) gets the new ones at open (SQLite). */
static void older_sample_triggers_replaced(void **state)
{
	struct fx *f = *state;
	uint64_t h;
	int64_t a;
	char db[STORE_PATH_MAX], msg[STORE_ERRMSG] = "";
	sqlite3 *sq;
	sqlite3_stmt *s;

	folder_attrs_leave_gen_in(f, &a, &h);
	store_close(f->st);
	f->st = NULL;
	snprintf(db, sizeof(db), "%s/catalog.db", f->dir);
	assert_int_equal(sqlite3_open(db, &sq), SQLITE_OK);
	assert_int_equal(sqlite3_exec(sq, "DROP TRIGGER samples_live_ins;"
		"CREATE TRIGGER samples_gen_ins AFTER INSERT ON nodes BEGIN"
		" SELECT 1; END;", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(sq);
	assert_rc(store_open(f->dir, STORE_OPEN_OWNER, &f->st, msg,
			     sizeof(msg)), 0);
	assert_int_equal(gen(f), h);
	put(f, a, "y", "y");
	assert_true(gen(f) > h);
	assert_int_equal(sqlite3_open(db, &sq), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(sq, "SELECT group_concat(name)"
		" FROM (SELECT name FROM sqlite_master WHERE type='trigger'"
		" AND name LIKE 'samples_%' ORDER BY name)", -1, &s, NULL),
		SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_string_equal((const char *)sqlite3_column_text(s, 0),
			    "samples_gen_ds,samples_gen_grant,samples_gen_new,"
			    "samples_live_del,samples_live_ins,samples_live_upd");
	sqlite3_finalize(s);
	sqlite3_close(sq);
}

static void kept_per_user_and_grant_moves_gen(void **state)
{
	struct fx *f = *state;
	unsigned char sha[STORE_SHA_LEN];
	struct tbl *t;
	uint64_t g;
	int64_t k;

	memset(sha, 0x5a, sizeof(sha));
	put(f, f->ds.live_root, "full", "bytes");
	k = mk(f, f->ds.live_root, "meta", STORE_FILE);
	assert_rc(store_node_commit_kept(f->st, k, sha, 1234, 5, NULL, 0, 0),
		  0);
	assert_rc(tbl_get(f->c, f->st, f->ds.id, &t), 0);
	assert_int_equal(t->n, 2);
	assert_int_equal(tbl_find(t, "meta"), 1);
	assert_int_equal(t->kept[0], 0);
	assert_int_equal(t->kept[1], 1);
	assert_int_equal(t->size[1], 1234);
	tbl_put(f->c, &t->o);
	/* alice sends the bytes after all: readable, so no longer kept */
	g = gen(f);
	assert_rc(store_blob_grant(f->st, "alice", sha), 0);
	assert_true(gen(f) > g);
	assert_rc(tbl_get(f->c, f->st, f->ds.id, &t), 0);
	assert_int_equal(t->kept[1], 0);
	tbl_put(f->c, &t->o);
	/* another user's grant changes nothing of alice's */
	g = gen(f);
	memset(sha, 0x5b, sizeof(sha));
	assert_rc(store_node_commit_kept(f->st, k, sha, 1234, 5, NULL, 0, 0),
		  0);
	g = gen(f);
	assert_rc(store_blob_grant(f->st, "bob", sha), 0);
	assert_int_equal(gen(f), g);
}

/* ---- the cache ---- */

static void cache_keeps_one_entry_per_gen(void **state)
{
	struct fx *f = *state;
	struct tbl *t1, *t2, *t3;

	put(f, f->ds.live_root, "a", "a");
	assert_rc(tbl_get(f->c, f->st, f->ds.id, &t1), 0);
	assert_rc(tbl_get(f->c, f->st, f->ds.id, &t2), 0);
	assert_ptr_equal(t1, t2);
	put(f, f->ds.live_root, "b", "b");
	assert_rc(tbl_get(f->c, f->st, f->ds.id, &t3), 0);
	assert_ptr_not_equal(t1, t3);
	assert_int_equal(t3->n, 2);
	assert_string_not_equal(t1->gen_s, t3->gen_s);
	/* the stale table stays whole while referenced */
	assert_int_equal(t1->n, 1);
	assert_string_equal(t1->path[0], "a");
	tbl_put(f->c, &t1->o);
	tbl_put(f->c, &t2->o);
	tbl_put(f->c, &t3->o);
}

static void cache_evicts_lru_under_its_bound(void **state)
{
	struct fx *f = *state;
	struct tbl_cache *small = tbl_cache_new(1, 7);
	struct store_dataset d2;
	struct tbl *t1, *t2, *again;

	assert_non_null(small);
	assert_rc(store_dataset_create(f->st, "alice", "two", &d2), 0);
	put(f, f->ds.live_root, "a", "a");
	put(f, d2.live_root, "b", "b");
	assert_rc(tbl_get(small, f->st, f->ds.id, &t1), 0);
	/* t1 is evicted by t2 (bound 1 byte) but still usable */
	assert_rc(tbl_get(small, f->st, d2.id, &t2), 0);
	assert_string_equal(t1->path[0], "a");
	assert_rc(tbl_get(small, f->st, f->ds.id, &again), 0);
	assert_ptr_not_equal(again, t1);      /* rebuilt */
	assert_string_equal(again->path[0], "a");
	tbl_put(small, &t1->o);
	tbl_put(small, &t2->o);
	tbl_put(small, &again->o);
	tbl_cache_free(small);
}

/* ---- arrays ---- */

static void members_of_tag_and_selection(void **state)
{
	struct fx *f = *state;
	const char *sel[] = { "c", "a" };
	struct store_tag v1;
	struct tbl *t;
	uint8_t m[8];

	put(f, f->ds.live_root, "a", "a");
	put(f, f->ds.live_root, "b", "b");
	put(f, f->ds.live_root, "c", "c");
	assert_rc(store_selection_set(f->st, f->ds.id, f->ds.live_tree, sel, 2,
				      NULL, NULL, 0), 0);
	assert_rc(store_tag_create(f->st, f->ds.id, "v1", 3, &v1), 0);
	assert_rc(store_node_remove(f->st, f->ds.live_root, "c", 0), 0);
	put(f, f->ds.live_root, "d", "d");
	assert_rc(tbl_get(f->c, f->st, f->ds.id, &t), 0);
	assert_int_equal(t->n, 3);                    /* a b d */
	assert_rc(tbl_members_tree(t, f->st, v1.id, m), 0);
	assert_memory_equal(m, "\1\0\0", 3);           /* c is gone */
	assert_rc(tbl_members_tree(t, f->st, f->ds.live_tree, m), 0);
	assert_memory_equal(m, "\1\1\1", 3);
	assert_rc(tbl_members_selection(t, f->st, m), 0);
	assert_memory_equal(m, "\1\0\0", 3);
	tbl_put(f->c, &t->o);
}

static void scores_in_table_order(void **state)
{
	struct fx *f = *state;
	struct store_run r = { 0 };
	const char *paths[] = { "c", "gone", "a" };
	const float sc[] = { 0.9f, 0.5f, 0.25f };
	struct tbl *t;
	float s[3];
	int32_t rank[3];

	put(f, f->ds.live_root, "a", "a");
	put(f, f->ds.live_root, "b", "b");
	put(f, f->ds.live_root, "c", "c");
	r.dataset = f->ds.id;
	snprintf(r.request, sizeof(r.request), "random n=1");
	snprintf(r.strategy, sizeof(r.strategy), "random");
	r.from_tag = f->ds.live_tree;
	r.status = STORE_RUN_DONE;
	assert_rc(store_run_create(f->st, &r), 0);
	assert_rc(store_run_finish(f->st, &r, 3, paths, sc, 1), 0);
	assert_rc(tbl_get(f->c, f->st, f->ds.id, &t), 0);
	assert_rc(tbl_scores(t, f->st, r.id, s, rank), 0);
	assert_true(s[0] == 0.25f && rank[0] == 2);
	assert_true(isnan(s[1]) && rank[1] == -1);
	assert_true(s[2] == 0.9f && rank[2] == 0);
	tbl_put(f->c, &t->o);
}

static void layout_pca_nan_and_cache(void **state)
{
	struct fx *f = *state;
	const char *paths[] = { "a", "c", "d", "nope" };
	const float x[] = { 0, 0, 4, 0, 0, 2, 9, 9 };
	const int64_t labels[] = { 0, 0, 0, 0 };
	struct store_embedding e;
	struct store_emb_skip skip;
	struct tbl_layout *l, *l2;
	struct tbl *t;
	size_t bad = 0;
	float lo = 1, hi = -1;

	put(f, f->ds.live_root, "a", "a");
	put(f, f->ds.live_root, "b", "b");
	put(f, f->ds.live_root, "c", "c");
	put(f, f->ds.live_root, "d", "d");
	assert_rc(store_embedding_put(f->st, f->ds.id, f->ds.live_tree, "e",
				      4, 2, paths, x, labels, &bad, &skip, &e),
		  0);
	assert_rc(tbl_get(f->c, f->st, f->ds.id, &t), 0);
	assert_rc(tbl_layout_get(f->c, f->st, t, e.id, CORE_LAYOUT_PCA, &l), 0);
	assert_int_equal(l->n, 4);
	assert_int_equal(l->rows, 3);
	assert_true(isnan(l->xy[2]) && isnan(l->xy[3]));     /* b */
	for (int i = 0; i < 4; i++) {
		if (i == 1)
			continue;
		for (int k = 0; k < 2; k++) {
			float v = l->xy[2 * i + k];
			assert_true(v >= -1 && v <= 1);
			lo = v < lo ? v : lo;
			hi = v > hi ? v : hi;
		}
	}
	/* the first component spans [-1, 1]: (0,0) (4,0) (0,2) projects
	 * with extent 4 on it, less on the second */
	assert_true(lo == -1.0f && hi == 1.0f);
	assert_rc(tbl_layout_get(f->c, f->st, t, e.id, CORE_LAYOUT_PCA, &l2), 0);
	assert_ptr_equal(l, l2);
	tbl_put(f->c, &l2->o);
	tbl_put(f->c, &l->o);
	tbl_put(f->c, &t->o);
}

static void scale_xy_edges(void **state)
{
	float one[2] = { 5, -3 }, same[4] = { 2, 2, 2, 2 };
	float box[6] = { 0, 0, 10, 0, 0, 2 };

	(void)state;
	tbl_scale_xy(NULL, 0);
	tbl_scale_xy(one, 1);
	assert_true(one[0] == 0 && one[1] == 0);
	tbl_scale_xy(same, 2);
	assert_true(same[0] == 0 && same[3] == 0);
	tbl_scale_xy(box, 3);
	/* x spans 10 → [-1, 1]; y spans 2 → [-0.2, 0.2] (aspect kept) */
	assert_true(box[0] == -1 && box[2] == 1);
	assert_true(fabsf(box[1] + 0.2f) < 1e-6 && fabsf(box[5] - 0.2f) < 1e-6);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(table_rows_in_bytewise_order, setup, teardown),
		cmocka_unit_test_setup_teardown(table_json_parses_back, setup, teardown),
		cmocka_unit_test(json_str_escapes_as_cjson),
		cmocka_unit_test_setup_teardown(empty_dataset_has_empty_table, setup, teardown),
		cmocka_unit_test_setup_teardown(gen_moves_with_every_live_change, setup, teardown),
		cmocka_unit_test_setup_teardown(folder_attrs_leave_gen, setup, teardown),
		cmocka_unit_test_setup_teardown(kept_per_user_and_grant_moves_gen, setup, teardown),
		cmocka_unit_test_setup_teardown(cache_keeps_one_entry_per_gen, setup, teardown),
		cmocka_unit_test_setup_teardown(cache_evicts_lru_under_its_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(members_of_tag_and_selection, setup, teardown),
		cmocka_unit_test_setup_teardown(scores_in_table_order, setup, teardown),
		cmocka_unit_test_setup_teardown(layout_pca_nan_and_cache, setup, teardown),
		cmocka_unit_test(scale_xy_edges),
	};
	/* about the SQLite file (tstore.h): an older catalog.db planted
	 * with sqlite3 and upgraded at open */
	const struct CMUnitTest sqlite_file[] = {
		cmocka_unit_test_setup_teardown(older_sample_triggers_replaced,
						setup, teardown),
	};
	return TSTORE_RUN_GROUP("tests", tests, sqlite_file, NULL, NULL);
}
