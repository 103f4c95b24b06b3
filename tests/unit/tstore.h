/*
 * tstore.h — the temporary store the CMocka unit tests of store/ and
 * core/ open in their setup: a fresh directory under /tmp with an owner's
 * store in it, removed again in teardown.
 *
 * Ownership: the caller's fixture holds the two paths and the store;
 * tstore_open fills them, tstore_close closes the store and removes the
 * whole directory. On failure tstore_open prints why on stderr, leaves
 * nothing behind and returns -1 (CMocka then fails the group's setup).
 */
#ifndef SIEVEFS_TESTS_TSTORE_H
#define SIEVEFS_TESTS_TSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* mkdtemp /tmp/sievefs-test-NAME-XXXXXX into tmp, the store's path
 * (tmp/store) into dir, and the store opened as its owner into *st. */
int tstore_open(const char *name, char *tmp, size_t tmplen, char *dir,
		size_t dirlen, store **st);
/* Closes st (when not NULL) and removes tmp with everything in it. */
void tstore_close(const char *tmp, store *st);

/* PostgreSQL for the tests (tests/scale/pg.sh). When SIEVEFS_TEST_CATALOG
 * holds a postgresql:// URI of a server, every store a test binary opens
 * (through tstore_open or store_open itself: the binaries are linked with
 * -Wl,--wrap=db_open_catalog, see tstore.c) has its catalog on a fresh
 * database of that server, the same one each time the same directory is
 * opened again; tstore_close drops the databases of its stores, exit the
 * rest. */

/* The engine the test stores' catalogs are on: "postgresql" when
 * SIEVEFS_TEST_CATALOG is set, else "sqlite". */
const char *tstore_engine(void);

/* Cases about the SQLite file itself (they plant an older catalog.db with
 * sqlite3 to test its upgrade, check the file's modes, ...) have nothing
 * to test on PostgreSQL. A test binary lists them in an array of their
 * own and runs its group with TSTORE_RUN_GROUP(name, cases, sqlite_file,
 * setup, teardown): on SQLite one group of both arrays (so the run's
 * count is every case); on PostgreSQL the cases alone, after one line on
 * stdout, "N cases are SQLite-file cases, not run on postgresql: NAMES",
 * so none is skipped silently. Answers as cmocka_run_group_tests. */
struct CMUnitTest;
int tstore_run_group(const char *name, const struct CMUnitTest *cases,
		     size_t n, const struct CMUnitTest *sqlite_file,
		     size_t nsq, int (*setup)(void **),
		     int (*teardown)(void **));
#define TSTORE_RUN_GROUP(name, cases, sqlite_file, setup, teardown)         \
	tstore_run_group(name, cases, sizeof(cases) / sizeof((cases)[0]),    \
			 sqlite_file,                                        \
			 sizeof(sqlite_file) / sizeof((sqlite_file)[0]),     \
			 setup, teardown)

/* Runs sql (statements without results) on the catalog of the store in
 * dir — its PostgreSQL database under SIEVEFS_TEST_CATALOG, else
 * DIR/catalog.db — through a connection of its own, as a test that plants
 * a state does; the rows its last statement changed into *changes (may be
 * NULL). 0, or -errno with the engine's message on stderr. */
/* The catalog target (store_open_catalog's `catalog`) of the test store
 * in dir: its PostgreSQL database's URI under SIEVEFS_TEST_CATALOG, else
 * DIR/catalog.db; for a second store on the same catalog (another
 * server). 0 or -errno. */
int tstore_catalog_target(const char *dir, char *path, size_t len);
int tstore_catalog_exec(const char *dir, const char *sql, int64_t *changes);
/* Reads a value back the same way: the first column of the first row of
 * the query sql, as an integer into *out or as text into out (len bytes,
 * "" for NULL). 0, -ENOENT when there is no row, or -errno with the
 * engine's message on stderr. */
int tstore_catalog_int(const char *dir, const char *sql, int64_t *out);
int tstore_catalog_text(const char *dir, const char *sql, char *out,
			size_t len);

/* The server to use: SIEVEFS_TEST_CATALOG's, else one started now by
 * tests/scale/pg.sh in a temp dir (tstore_pg_server_stop stops it). Its
 * URI into uri. 0, or -1 with the reason on stderr. */
int tstore_pg_server(char *uri, size_t len);
void tstore_pg_server_stop(void);
/* Stops (halt) and starts again on the same port (resume) the server
 * tstore_pg_server started: a fault test's outage. -1 when the server is
 * SIEVEFS_TEST_CATALOG's (not ours to stop) or pg.sh failed. */
int tstore_pg_server_halt(void);
int tstore_pg_server_resume(void);
/* A fresh database on the server `base` (a URI): the URI naming it into
 * uri. 0, or -1 with the reason on stderr. */
int tstore_pg_create(const char *base, char *uri, size_t len);
/* Drops the database of uri (made by tstore_pg_create), even if sessions
 * are still connected to it; a database not named as tstore_pg_create
 * names them is left alone. */
void tstore_pg_drop(const char *base, const char *uri);

/* The fixture of a test that needs the store (and maybe one dataset). */
struct tstore_fx {
	char tmp[64];
	char dir[128];
	store *st;
	struct store_dataset ds;     /* tstore_fx_setup_ds's; else zero */
};
/* CMocka setup: a calloc'd struct tstore_fx, its store opened by
 * tstore_open(name), into *state; -1 (nothing left) on failure. */
int tstore_fx_setup(void **state, const char *name);
/* The same, with user alice's dataset `dataset` made into ds. */
int tstore_fx_setup_ds(void **state, const char *name, const char *dataset);
/* A committed file `name` under folder `parent` (a dataset's live_root:
 * its initial-tag) holding data[0..len), mode 0644; its inode into *ino
 * (may be NULL). 0 or -errno. */
int tstore_put_file(store *st, int64_t parent, const char *name,
		    const void *data, size_t len, int64_t *ino);
/* CMocka teardown of tstore_fx_setup's fixture. */
int tstore_fx_teardown(void **state);

#endif
