/*
 * test_sqlite_engine.c — unit tests of store/sql.h's SQLite engine
 * (store/sql_sqlite.c) and of what sql.c gives every engine: the choice of
 * engine for a target, sql_txn's retry and rollback, error translation,
 * INSERT … RETURNING id (which the engine answers itself for a rowid
 * alias, and leaves to SQLite otherwise), NULL columns, and the catalog
 * file's mode.
 *
 * Fixture: a temp dir (mkdtemp under /tmp) with a catalog opened through
 * sql_sqlite.open(SQL_CREATE) (the whole sievefs schema) and one
 * connection; each test makes its own scratch table. Teardown closes both
 * and removes the dir.
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

#include "store/sql.h"

struct fx {
	char tmp[64];
	char path[128];
	sql_db *db;
	sql_conn *c;
};

static int rm_one(const char *p, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	char msg[256] = "";

	if (!f)
		return -1;
	snprintf(f->tmp, sizeof(f->tmp), "/tmp/sievefs-test-sql-XXXXXX");
	if (!mkdtemp(f->tmp)) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/catalog.db", f->tmp);
	if (sql_sqlite.open(f->path, SQL_CREATE, &f->db, msg) ||
	    sql_sqlite.connect(f->db, &f->c) ||
	    sql_exec(f->c, "CREATE TABLE t(id INTEGER PRIMARY KEY"
		     " AUTOINCREMENT, k TEXT NOT NULL UNIQUE, v INTEGER,"
		     " b BLOB)")) {
		fprintf(stderr, "setup: %s\n", msg);
		if (f->db)
			sql_sqlite.close(f->db);
		nftw(f->tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	sql_sqlite.disconnect(f->c);
	sql_sqlite.close(f->db);
	nftw(f->tmp, rm_one, 8, FTW_DEPTH | FTW_PHYS);
	free(f);
	return 0;
}

static int64_t count(sql_conn *c, const char *k)
{
	sql_stmt *s;
	int64_t n = -1;

	assert_int_equal(sql_prepare(c, "SELECT count(*) FROM t WHERE k=?1",
				     &s), 0);
	sql_bind_text(s, 1, k, strlen(k));
	if (sql_step(s) == SQL_ROW)
		n = sql_col_int64(s, 0);
	sql_finalize(s);
	return n;
}

/* Inserts k with q (an INSERT … RETURNING id of ?1 = k): the step's
 * answer, the id in *id when a row came, and that a second step is done. */
static int insert(sql_conn *c, const char *q, const char *k, int64_t *id)
{
	sql_stmt *s;
	int r;

	assert_int_equal(sql_prepare(c, q, &s), 0);
	sql_bind_text(s, 1, k, strlen(k));
	r = sql_step(s);
	if (r == SQL_ROW) {
		*id = sql_col_int64(s, 0);
		assert_int_equal(sql_step(s), SQL_DONE);
	}
	sql_finalize(s);
	return r;
}

static void test_engine_for(void **state)
{
	(void)state;
	assert_ptr_equal(sql_engine_for("/tmp/x/catalog.db"), &sql_sqlite);
	assert_ptr_equal(sql_engine_for("catalog.db"), &sql_sqlite);
	/* never taken for a file name, linked or not */
	assert_string_not_equal(sql_engine_for("postgresql://h/db")->name,
				"sqlite");
	assert_string_not_equal(sql_engine_for("postgres://h/db")->name,
				"sqlite");
}

static void test_file_mode(void **state)
{
	struct fx *f = *state;
	struct stat sb;

	assert_int_equal(stat(f->path, &sb), 0);
	assert_int_equal(sb.st_mode & 0777, 0600);
}

static void test_returning_id(void **state)
{
	struct fx *f = *state;
	const char *q = "INSERT INTO t(k) VALUES(?1) RETURNING id";
	int64_t a = 0, b = 0, c = 0;

	assert_int_equal(insert(f->c, q, "a", &a), SQL_ROW);
	assert_int_equal(insert(f->c, q, "b", &b), SQL_ROW);
	assert_true(a > 0);
	assert_int_equal(b, a + 1);
	/* a cached statement: reset, rebound, stepped again */
	sql_stmt *s;
	assert_int_equal(sql_prepare(f->c, q, &s), 0);
	for (int i = 0; i < 3; i++) {
		char k[16];
		snprintf(k, sizeof(k), "c%d", i);
		sql_reset(s);
		sql_bind_text(s, 1, k, strlen(k));
		assert_int_equal(sql_step(s), SQL_ROW);
		assert_int_equal(sql_col_int64(s, 0), b + 1 + i);
	}
	sql_finalize(s);
	/* a duplicate: the constraint, and no row */
	assert_int_equal(insert(f->c, q, "a", &c), -EEXIST);
	/* not a rowid-only insert: SQLite's own RETURNING */
	c = 0;
	assert_int_equal(insert(f->c, "INSERT INTO t(k) VALUES(?1) ON CONFLICT"
				"(k) DO NOTHING RETURNING id", "a", &c),
			 SQL_DONE);
	assert_int_equal(insert(f->c, "INSERT INTO t(k) VALUES(?1) ON CONFLICT"
				"(k) DO UPDATE SET v=1 RETURNING id", "a", &c),
			 SQL_ROW);
	assert_int_equal(c, a);
	assert_int_equal(insert(f->c, "INSERT INTO t(k) VALUES(?1)"
				" RETURNING k", "d", &c), SQL_ROW);
}

/* Steps q (no parameters) to its end: the ids of the rows it returned
 * into ids (at most max), how many into *n; the last step's answer. */
static int returned(sql_conn *c, const char *q, int64_t *ids, int max,
		    int *n)
{
	sql_stmt *s;
	int r;

	*n = 0;
	assert_int_equal(sql_prepare(c, q, &s), 0);
	while ((r = sql_step(s)) == SQL_ROW && *n < max)
		ids[(*n)++] = sql_col_int64(s, 0);
	sql_finalize(s);
	return r;
}

/* What the engine's RETURNING id shortcut must not take for a one-row
 * insert of a rowid alias: every row of a multi-row VALUES however it is
 * spaced, a column that is not the rowid however its table's CREATE reads,
 * and a VALUES inside an INSERT ... SELECT. */
static void test_returning_not_one_rowid(void **state)
{
	struct fx *f = *state;
	int64_t ids[4] = { 0 };
	int n = 0;

	assert_int_equal(returned(f->c, "INSERT INTO t(k) VALUES('m1') ,"
				  "('m2') RETURNING id", ids, 4, &n), SQL_DONE);
	assert_int_equal(n, 2);
	assert_int_equal(ids[1], ids[0] + 1);
	assert_int_equal(returned(f->c, "INSERT INTO t(k) VALUES('m3')\n,"
				  "('m4') RETURNING id", ids, 4, &n), SQL_DONE);
	assert_int_equal(n, 2);
	assert_int_equal(returned(f->c, "INSERT INTO t(k) SELECT column1 FROM"
				  " (VALUES('m5'),('m6')) RETURNING id", ids, 4,
				  &n), SQL_DONE);
	assert_int_equal(n, 2);
	/* INTEGER PRIMARY KEY DESC is no rowid alias (SQLite's quirk): an
	 * id not given stays NULL, which RETURNING reads as 0 */
	assert_int_equal(sql_exec(f->c, "CREATE TABLE u(id INTEGER PRIMARY"
				  " KEY DESC, k TEXT)"), 0);
	assert_int_equal(returned(f->c, "INSERT INTO u(k) VALUES('x')"
				  " RETURNING id", ids, 4, &n), SQL_DONE);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 0);
	/* a WITHOUT ROWID table's integer key: the value given */
	assert_int_equal(sql_exec(f->c, "CREATE TABLE w(id INTEGER PRIMARY"
				  " KEY, k TEXT) WITHOUT ROWID"), 0);
	assert_int_equal(returned(f->c, "INSERT INTO w(id, k) VALUES(42, 'x')"
				  " RETURNING id", ids, 4, &n), SQL_DONE);
	assert_int_equal(n, 1);
	assert_int_equal(ids[0], 42);
}

static void test_nulls(void **state)
{
	struct fx *f = *state;
	sql_stmt *s;

	assert_int_equal(sql_exec(f->c, "INSERT INTO t(k) VALUES('n')"), 0);
	assert_int_equal(sql_changes(f->c), 1);
	assert_int_equal(sql_prepare(f->c, "SELECT v, b, NULL FROM t"
				     " WHERE k='n'", &s), 0);
	assert_int_equal(sql_step(s), SQL_ROW);
	assert_true(sql_col_is_null(s, 0));
	assert_null(sql_col_blob(s, 1));
	assert_int_equal(sql_col_bytes(s, 1), 0);
	assert_string_equal(sql_col_text(s, 2), "");
	assert_int_equal(sql_step(s), SQL_DONE);
	sql_finalize(s);
}

struct body {
	int runs, fail_runs, fail_rc;
	const char *k;
};

static int body(sql_conn *c, void *arg)
{
	struct body *b = arg;
	sql_stmt *s;
	int rc;

	b->runs++;
	if ((rc = sql_prepare(c, "INSERT INTO t(k) VALUES(?1)", &s)))
		return rc;
	sql_bind_text(s, 1, b->k, strlen(b->k));
	rc = sql_step(s);
	sql_finalize(s);
	if (rc < 0)
		return rc;
	/* the row is written, then the run fails: it must not stay */
	return b->runs <= b->fail_runs ? b->fail_rc : 0;
}

static void test_txn_retry(void **state)
{
	struct fx *f = *state;
	struct body b = { .fail_runs = 2, .fail_rc = -EAGAIN, .k = "r" };

	assert_int_equal(sql_txn(f->c, body, &b), 0);
	assert_int_equal(b.runs, 3);
	assert_int_equal(count(f->c, "r"), 1);
}

static void test_txn_gives_up(void **state)
{
	struct fx *f = *state;
	struct body b = { .fail_runs = 1000, .fail_rc = -EAGAIN, .k = "g" };

	assert_int_equal(sql_txn(f->c, body, &b), -EAGAIN);
	assert_int_equal(b.runs, SQL_TXN_TRIES);
	assert_int_equal(count(f->c, "g"), 0);
}

static void test_txn_error_rolls_back(void **state)
{
	struct fx *f = *state;
	struct body b = { .fail_runs = 1000, .fail_rc = -EINVAL, .k = "e" };

	assert_int_equal(sql_txn(f->c, body, &b), -EINVAL);
	assert_int_equal(b.runs, 1);
	assert_int_equal(count(f->c, "e"), 0);
	/* a constraint inside the body: its error, nothing kept */
	assert_int_equal(sql_exec(f->c, "INSERT INTO t(k) VALUES('x')"), 0);
	b = (struct body){ .k = "x" };
	assert_int_equal(sql_txn(f->c, body, &b), -EEXIST);
	assert_int_equal(count(f->c, "x"), 1);
	/* the engine is usable after all of it */
	b = (struct body){ .k = "y" };
	assert_int_equal(sql_txn(f->c, body, &b), 0);
	assert_int_equal(count(f->c, "y"), 1);
}

static void test_durable_commit(void **state)
{
	struct fx *f = *state;

	assert_non_null(sql_sqlite.commit_durable);
	assert_int_equal(sql_sqlite.begin(f->c), 0);
	assert_int_equal(sql_exec(f->c, "INSERT INTO t(k) VALUES('d')"), 0);
	assert_int_equal(sql_sqlite.commit_durable(f->c), 0);
	assert_int_equal(count(f->c, "d"), 1);
	/* a commit with no transaction is refused, not run */
	assert_int_equal(sql_sqlite.commit(f->c), -EINVAL);
}

static void test_bad_sql(void **state)
{
	struct fx *f = *state;
	sql_stmt *s = NULL;

	assert_int_equal(sql_prepare(f->c, "SELEC nothing", &s), -EIO);
	assert_null(s);
	assert_true(strlen(sql_errmsg(f->c)) > 0);
	assert_int_equal(sql_exec(f->c, "INSERT INTO nope VALUES(1)"), -EIO);
}

static void test_open_fails(void **state)
{
	char msg[256] = "";
	sql_db *db = (sql_db *)state;

	assert_int_equal(sql_sqlite.open("/nonexistent-dir/x/catalog.db",
					 SQL_CREATE, &db, msg), -EIO);
	assert_null(db);
	assert_non_null(strstr(msg, "cannot open catalog"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_engine_for),
		cmocka_unit_test_setup_teardown(test_file_mode, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_returning_id, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_returning_not_one_rowid,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_nulls, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_retry, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_txn_gives_up, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_txn_error_rolls_back,
						setup, teardown),
		cmocka_unit_test_setup_teardown(test_durable_commit, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_bad_sql, setup, teardown),
		cmocka_unit_test(test_open_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
