/*
 * test_changes.c — unit tests for what store/ adds for the web app's
 * routes (api/routes_app.c): named tokens and their last use (users.c,
 * sessions.c), a dataset's change counters (the `changes` triggers of db.c,
 * store_changes_get), the latest runs (store_run_list) and a tree's files
 * page by page (store_tree_files_page), both in store/changes.c.
 *
 * Fixture: a fresh store in a temp dir (mkdtemp under /tmp) opened as
 * owner, with one dataset alice/leaves; teardown closes it and removes the
 * dir. The counters are driven through the store functions a local mount
 * calls (the embedded backend is a thin layer over them), so what moves
 * here moves for every door.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tests/unit/tstore.h"
#include "store/store.h"

#define assert_rc(expr, want) do {                                       \
	int rc_ = (expr), want_ = (want);                                \
	if (rc_ != want_)                                                \
		fail_msg("%s: got %d (%s), want %d (%s)", #expr, rc_,     \
			 strerror(-rc_), want_, strerror(-want_));        \
} while (0)


static int setup(void **state)
{
	return tstore_fx_setup_ds(state, "changes", "leaves");
}

static int teardown(void **state)
{
	return tstore_fx_teardown(state);
}

/* A connection of the test's own on the catalog (a second door). */
static sqlite3 *side_db(const struct tstore_fx *f)
{
	char db[STORE_PATH_MAX];
	sqlite3 *h = NULL;

	snprintf(db, sizeof(db), "%s/catalog.db", f->dir);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	sqlite3_busy_timeout(h, 5000);
	return h;
}

static int64_t sql_int(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return v;
}

static int64_t put(struct tstore_fx *f, int64_t parent, const char *name,
		   const char *data)
{
	int64_t ino = 0;

	assert_rc(tstore_put_file(f->st, parent, name, data, strlen(data),
				  &ino), 0);
	return ino;
}

/* ==== tokens ==== */

static void token_names_are_checked(void **state)
{
	char name[80];

	(void)state;
	assert_true(store_token_name_valid(""));
	assert_true(store_token_name_valid("laptop"));
	assert_true(store_token_name_valid("ci runner ✓ — café"));
	memset(name, 'x', 64);
	name[64] = '\0';
	assert_true(store_token_name_valid(name));
	name[64] = 'x';
	name[65] = '\0';
	assert_false(store_token_name_valid(name));            /* 65 bytes */
	assert_false(store_token_name_valid("a\tb"));
	assert_false(store_token_name_valid("a\nb"));
	assert_false(store_token_name_valid("a\x7f" "b"));
	assert_false(store_token_name_valid("a\xc2\x85" "b"));  /* C1 NEL */
	assert_false(store_token_name_valid("\xff"));
	assert_false(store_token_name_valid("\xc3"));          /* cut short */
	assert_false(store_token_name_valid("\xc0\xaf"));      /* overlong */
	assert_false(store_token_name_valid("\xed\xa0\x80"));  /* surrogate */
	assert_false(store_token_name_valid("\x1b[31m"));      /* ESC */
}

/* Named tokens: listed per user, newest first, only unrevoked; another
 * user's id is -ENOENT to revoke and keeps working. */
static void tokens_are_per_user(void **state)
{
	struct tstore_fx *f = *state;
	char t1[STORE_TOKEN_LEN + 1], t2[STORE_TOKEN_LEN + 1];
	char t3[STORE_TOKEN_LEN + 1], user[STORE_USER_MAX + 1];
	struct store_token *v = NULL;
	int64_t id1, id2, id3, tid = 0;
	size_t n = 0;

	assert_rc(store_token_create_named(f->st, "alice", "one", t1, &id1),
		  0);
	assert_rc(store_token_create_named(f->st, "alice", NULL, t2, &id2),
		  0);
	assert_rc(store_token_create_named(f->st, "bob", "b", t3, &id3), 0);
	assert_rc(store_token_create_named(f->st, "alice", "a\tb", t3, NULL),
		  -EINVAL);
	assert_rc(store_token_list_user(f->st, "alice", &v, &n), 0);
	assert_int_equal(n, 2);
	assert_int_equal(v[0].id, id2);                   /* newest first */
	assert_string_equal(v[0].name, "");
	assert_int_equal(v[1].id, id1);
	assert_string_equal(v[1].name, "one");
	assert_int_equal(v[1].last_used_ns, 0);
	assert_true(v[1].created_ns > 0);
	free(v);

	assert_rc(store_token_revoke_own(f->st, "bob", id1), -ENOENT);
	assert_rc(store_token_auth(f->st, t1, user, &tid), 0);
	assert_int_equal(tid, id1);
	assert_string_equal(user, "alice");
	assert_rc(store_token_revoke_own(f->st, "alice", id1), 0);
	assert_rc(store_token_auth(f->st, t1, user, &tid), -EACCES);
	assert_rc(store_token_revoke_own(f->st, "alice", id1), -ENOENT);
	assert_rc(store_token_list_user(f->st, "alice", &v, &n), 0);
	assert_int_equal(n, 1);
	free(v);
	/* the admin's list (sievefs token list) has names too */
	assert_rc(store_token_list(f->st, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "one");
	assert_string_equal(v[2].name, "b");
	free(v);
}

/* A count of the write transactions committed on the catalog by others,
 * read through h (SQLite) or a connection of its own (PostgreSQL):
 * SQLite's PRAGMA data_version on the second connection h; PostgreSQL's
 * next transaction id (a transaction gets one at its first write; the
 * test's database is the only one written meanwhile). */
static int64_t writes(const struct tstore_fx *f, sqlite3 *h)
{
	int64_t v = -1;

	if (h)
		return sql_int(h, "PRAGMA data_version");
	assert_int_equal(tstore_catalog_int(f->dir, "SELECT pg_snapshot_xmax("
					    "pg_current_snapshot())::text::"
					    "bigint", &v), 0);
	return v;
}

/* The first row's integer of sql, through h or a connection of its own. */
static int64_t side_int(const struct tstore_fx *f, sqlite3 *h, const char *sql)
{
	int64_t v = -1;

	if (h)
		return sql_int(h, sql);
	assert_int_equal(tstore_catalog_int(f->dir, sql, &v), 0);
	return v;
}

/* last_used is written on the first check, then not again within a
 * minute: the catalog's count of commits by others (writes()) stays put
 * over 100 checks. A session's check gives its token and touches that
 * token the same way. Both engines. */
static void token_use_written_at_most_once_a_minute(void **state)
{
	struct tstore_fx *f = *state;
	char tok[STORE_TOKEN_LEN + 1], user[STORE_USER_MAX + 1];
	char sid[STORE_SESSION_LEN + 1];
	int64_t id, tid = 0, last;
	int lite = !strcmp(tstore_engine(), "sqlite");
	sqlite3 *h = lite ? side_db(f) : NULL;
	char sql[128];

	assert_rc(store_token_create_named(f->st, "alice", "t", tok, &id), 0);
	snprintf(sql, sizeof(sql), "SELECT last_used FROM tokens WHERE id=%lld",
		 (long long)id);
	assert_int_equal(side_int(f, h, sql), 0);
	assert_rc(store_token_auth(f->st, tok, user, NULL), 0);
	last = side_int(f, h, sql);
	assert_true(last > 0);
	int64_t dv = writes(f, h);
	for (int i = 0; i < 100; i++)
		assert_rc(store_token_auth(f->st, tok, user, &tid), 0);
	assert_int_equal(writes(f, h), dv);
	assert_int_equal(side_int(f, h, sql), last);
	/* the plain check never writes */
	assert_rc(store_token_check(f->st, tok, user), 0);
	assert_int_equal(writes(f, h), dv);

	/* a minute later (the record made old), the next check writes once */
	snprintf(sql, sizeof(sql), "UPDATE tokens SET last_used=%lld"
		 " WHERE id=%lld", (long long)(last - STORE_TOKEN_TOUCH_NS),
		 (long long)id);
	assert_int_equal(tstore_catalog_exec(f->dir, sql, NULL), 0);
	dv = writes(f, h);
	assert_rc(store_session_create(f->st, tok, 3600000000000LL, sid, user),
		  0);
	dv = writes(f, h);          /* the sign-in */
	tid = 0;
	assert_rc(store_session_auth(f->st, sid, user, &tid), 0);
	assert_int_equal(tid, id);
	assert_int_equal(writes(f, h), dv + 1);
	for (int i = 0; i < 50; i++)
		assert_rc(store_session_auth(f->st, sid, user, NULL), 0);
	assert_int_equal(writes(f, h), dv + 1);
	snprintf(sql, sizeof(sql), "SELECT last_used FROM tokens WHERE id=%lld",
		 (long long)id);
	assert_true(side_int(f, h, sql) >= last);
	/* the checks' cached statements are reset after use: no read
	 * transaction stays open on this thread's connection to pin the WAL
	 * (a TRUNCATE checkpoint by another connection is not busy) */
	assert_rc(store_token_check(f->st, tok, user), 0);
	assert_rc(store_token_auth(f->st, tok, user, NULL), 0);
	assert_rc(store_session_check(f->st, sid, user), 0);
	assert_rc(store_session_auth(f->st, sid, user, NULL), 0);
	if (lite)   /* the WAL is SQLite's */
		assert_int_equal(sql_int(h, "PRAGMA wal_checkpoint(TRUNCATE)"),
				 0);
	/* revoking the token ends the session (store_session_auth too) */
	assert_rc(store_token_revoke_own(f->st, "alice", id), 0);
	assert_rc(store_session_auth(f->st, sid, user, &tid), -EACCES);
	if (h)
		sqlite3_close(h);
}

/* A catalog made before names and last use opens; its tokens get "" and
 * "never", and keep working; the node triggers of the counters' first
 * version are dropped (the live tree is samples_gen's). */
static void tokens_of_an_older_catalog_open(void **state)
{
	struct tstore_fx *f = *state;
	char tok[STORE_TOKEN_LEN + 1], user[STORE_USER_MAX + 1];
	char msg[STORE_ERRMSG] = "";
	struct store_token *v = NULL;
	size_t n = 0;
	sqlite3 *h;

	assert_rc(store_token_create_named(f->st, "alice", "x", tok, NULL), 0);
	store_close(f->st);
	f->st = NULL;
	h = side_db(f);
	assert_int_equal(sqlite3_exec(h, "DROP INDEX tokens_user;"
				      "ALTER TABLE tokens DROP COLUMN name;"
				      "ALTER TABLE tokens DROP COLUMN last_used;"
				      "DROP TABLE changes;"
				      /* the first version's node trigger */
				      "CREATE TRIGGER chg_nodes_ins AFTER INSERT"
				      " ON nodes BEGIN SELECT 1; END;",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	assert_rc(store_open(f->dir, STORE_OPEN_OWNER, &f->st, msg,
			     sizeof(msg)), 0);
	h = side_db(f);
	assert_int_equal(sql_int(h, "SELECT count(*) FROM sqlite_master"
				 " WHERE name LIKE 'chg_nodes%'"), 0);
	sqlite3_close(h);
	assert_rc(store_token_list_user(f->st, "alice", &v, &n), 0);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].name, "");
	assert_int_equal(v[0].last_used_ns, 0);
	free(v);
	assert_rc(store_token_auth(f->st, tok, user, NULL), 0);
	assert_rc(store_token_list_user(f->st, "alice", &v, &n), 0);
	assert_true(v[0].last_used_ns > 0);
	free(v);
}

/* ==== change counters ==== */

static struct store_changes changes(struct tstore_fx *f)
{
	struct store_changes c;

	assert_rc(store_changes_get(f->st, f->ds.id, &c), 0);
	return c;
}

/* Asserts that op moved exactly the counters named in `want` (a string of
 * the letters t tree, g tags, s selection, r runs, e embeddings). */
#define assert_moves(f, want, op) do {                                    \
	struct store_changes a_ = changes(f), b_;                         \
	char got_[8] = "";                                                \
	op;                                                               \
	b_ = changes(f);                                                  \
	if (a_.tree != b_.tree) strcat(got_, "t");                        \
	if (a_.tags != b_.tags) strcat(got_, "g");                        \
	if (a_.selection != b_.selection) strcat(got_, "s");              \
	if (a_.runs != b_.runs) strcat(got_, "r");                        \
	if (a_.embeddings != b_.embeddings) strcat(got_, "e");            \
	if (strcmp(got_, (want)))                                         \
		fail_msg("%s moved [%s], want [%s]", #op, got_, (want));  \
} while (0)

static void counters_move_with_their_things(void **state)
{
	struct tstore_fx *f = *state;
	struct store_newnode dir = { .kind = STORE_DIR, .mode = 0755 };
	const char *sel[] = { "a.txt" };
	const char *paths[] = { "a.txt", "d/b.txt" };
	const float x[] = { 0, 1, 2, 3 };
	const int64_t labels[] = { 0, 1 };
	struct store_embedding e;
	struct store_run run = { 0 };
	struct store_tag t;
	struct store_node d, got;
	struct store_changes c;
	char msg[256];
	int64_t a;

	assert_rc(store_changes_get(f->st, 999, &c), 0);
	assert_int_equal(c.tree + c.tags + c.selection + c.runs, 0);

	assert_moves(f, "t", assert_rc(store_node_create(f->st,
		f->ds.live_root, "d", &dir, &d), 0));
	assert_moves(f, "t", a = put(f, f->ds.live_root, "a.txt", "A"));
	assert_moves(f, "t", put(f, d.ino, "b.txt", "B"));
	assert_moves(f, "t", assert_rc(store_node_setattr(f->st, a,
		STORE_SET_MODE, 0600, 0, 0, 0, 0), 0));
	assert_moves(f, "t", assert_rc(store_node_rename(f->st,
		f->ds.live_root, "a.txt", f->ds.live_root, "a2.txt", 0), 0));
	assert_moves(f, "t", assert_rc(store_node_rename(f->st,
		f->ds.live_root, "a2.txt", f->ds.live_root, "a.txt", 0), 0));
	/* reads move nothing */
	assert_moves(f, "", assert_rc(store_node_get(f->st, a, &got), 0));

	assert_moves(f, "s", assert_rc(store_selection_set(f->st, f->ds.id,
		f->ds.live_tree, sel, 1, NULL, msg, sizeof(msg)), 0));
	assert_moves(f, "g", assert_rc(store_tag_create(f->st, f->ds.id,
		"first", 0, &t), 0));
	assert_moves(f, "g", assert_rc(store_tag_rename(f->st, t.id,
		"first2"), 0));
	assert_moves(f, "s", assert_rc(store_selection_reset(f->st,
		f->ds.id), 0));
	assert_moves(f, "e", assert_rc(store_embedding_put(f->st, f->ds.id,
		f->ds.live_tree, "e1", 2, 2, paths, x, labels, NULL, NULL,
		&e), 0));
	run.dataset = f->ds.id;
	run.from_tag = f->ds.live_tree;
	run.emb = e.id;
	snprintf(run.request, sizeof(run.request), "random");
	snprintf(run.strategy, sizeof(run.strategy), "random");
	assert_moves(f, "r", assert_rc(store_run_create(f->st, &run), 0));
	assert_true(changes(f).run_active);
	run.status = STORE_RUN_RUNNING;
	assert_moves(f, "r", assert_rc(store_run_update(f->st, &run), 0));
	run.status = STORE_RUN_DONE;
	assert_moves(f, "r", assert_rc(store_run_update(f->st, &run), 0));
	assert_false(changes(f).run_active);
	assert_moves(f, "e", assert_rc(store_embedding_delete(f->st, e.id),
				       0));
	assert_moves(f, "g", assert_rc(store_tag_delete(f->st, t.id), 0));
	assert_moves(f, "t", assert_rc(store_node_remove(f->st, d.ino,
		"b.txt", 0), 0));

	/* another dataset's changes are not this one's */
	struct store_dataset other;
	assert_rc(store_dataset_create(f->st, "alice", "other", &other), 0);
	assert_moves(f, "", put(f, other.live_root, "z", "Z"));
}

/* ==== runs and tree files ==== */

static void run_list_newest_first_with_limit(void **state)
{
	struct tstore_fx *f = *state;
	struct store_run run = { 0 }, *v = NULL;
	size_t n = 0;

	run.dataset = f->ds.id;
	run.from_tag = f->ds.live_tree;
	snprintf(run.strategy, sizeof(run.strategy), "random");
	for (int i = 0; i < 5; i++) {
		snprintf(run.request, sizeof(run.request), "random seed=%d", i);
		assert_rc(store_run_create(f->st, &run), 0);
	}
	assert_rc(store_run_list(f->st, f->ds.id, 3, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(v[0].seq, 5);
	assert_int_equal(v[2].seq, 3);
	assert_string_equal(v[0].request, "random seed=4");
	free(v);
	assert_rc(store_run_list(f->st, f->ds.id, 0, &v, &n), -EINVAL);
	assert_rc(store_run_list(f->st, 999, 10, &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
}

static void tree_files_page_in_path_order(void **state)
{
	struct tstore_fx *f = *state;
	struct store_newnode dir = { .kind = STORE_DIR, .mode = 0755 };
	struct store_tree_file *v = NULL;
	struct store_node d;
	char name[32], after[64] = "";
	size_t n = 0, total = 0;
	int pages = 0;

	assert_rc(store_node_create(f->st, f->ds.live_root, "a", &dir, &d), 0);
	put(f, d.ino, "x", "1");
	put(f, f->ds.live_root, "a.txt", "2");       /* '.' sorts before '/' */
	for (int i = 0; i < 7; i++) {
		snprintf(name, sizeof(name), "f%d", i);
		put(f, f->ds.live_root, name, "3");
	}
	assert_rc(store_tree_files_page(f->st, f->ds.live_tree, "", 4, &v, &n),
		  0);
	assert_int_equal(n, 4);
	assert_string_equal(v[0].path, "a.txt");
	assert_string_equal(v[1].path, "a/x");
	assert_string_equal(v[1].n.name, "x");
	assert_int_equal(v[1].n.kind, STORE_FILE);
	store_tree_files_free(v, n);
	do {
		assert_rc(store_tree_files_page(f->st, f->ds.live_tree, after,
						4, &v, &n), 0);
		for (size_t i = 0; i < n; i++)
			assert_true(strcmp(v[i].path, after) > 0);
		if (n)
			snprintf(after, sizeof(after), "%s", v[n - 1].path);
		total += n;
		pages++;
		store_tree_files_free(v, n);
	} while (n == 4);
	assert_int_equal(total, 9);                  /* no folder, no root */
	assert_int_equal(pages, 3);
	store_tree_files_free(NULL, 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(token_names_are_checked),
		T(tokens_are_per_user),
		T(token_use_written_at_most_once_a_minute),
		T(counters_move_with_their_things),
		T(run_list_newest_first_with_limit),
		T(tree_files_page_in_path_order),
	};
	/* about the SQLite file (tstore.h): an older catalog.db planted
	 * with sqlite3 and upgraded at open */
	const struct CMUnitTest sqlite_file[] = {
		T(tokens_of_an_older_catalog_open),
	};
	return TSTORE_RUN_GROUP("changes", tests, sqlite_file, NULL, NULL);
}
