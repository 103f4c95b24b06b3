/*
 * tstore.c — see tstore.h. The directory is removed with nftw, depth
 * first, without following symlinks.
 *
 * PostgreSQL: a test database is named sievefs_t_<pid>_<n> and made from
 * template0 with ENCODING 'SQL_ASCII' and the C collation, as every
 * sievefs catalog is (store/sql_pg.c); its URI is the server's with the path
 * (the database name) replaced. The server started here (no
 * SIEVEFS_TEST_CATALOG) lives in /tmp/sievefs-test-pg-XXXXXX and is
 * stopped by tstore_pg_server_stop through pg.sh, which stops it by its
 * PID file.
 */
#define _XOPEN_SOURCE 700
#include <errno.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "store/db.h"
#include "store/sql.h"
#include "tests/unit/tstore.h"

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* ---- stores on PostgreSQL ----
 * Every store a test binary opens reaches store/'s db_open_catalog (the
 * Makefile links the binaries with -Wl,--wrap=db_open_catalog, so
 * store_open's call comes here first). With SIEVEFS_TEST_CATALOG set,
 * the first open of a store directory makes a fresh database for it and
 * every later open of that directory (a test that reopens its store, or
 * opens it again as admin) uses the same one: pg_stores maps the store's
 * absolute directory (store->dir) to its database. Without the variable
 * the catalog is DIR/catalog.db as always. tstore_close drops the
 * databases of the stores under its directory; exit drops the rest. No
 * code of store/ knows about this. */

#define MAX_PG_STORES 512

static struct pg_store {
	char *dir;
	char uri[512];
} pg_stores[MAX_PG_STORES];
static int n_pg_stores;

static void pg_store_drop(struct pg_store *p)
{
	if (!p->dir)
		return;
	tstore_pg_drop(getenv("SIEVEFS_TEST_CATALOG"), p->uri);
	free(p->dir);
	p->dir = NULL;
}

static void pg_stores_drop_all(void)
{
	for (int i = 0; i < n_pg_stores; i++)
		pg_store_drop(&pg_stores[i]);
}

/* The database of the store in dir (absolute), made on first use; NULL
 * on failure (the reason on stderr). */
static const char *pg_catalog_for(const char *base, const char *dir)
{
	struct pg_store *p;

	for (int i = 0; i < n_pg_stores; i++)
		if (pg_stores[i].dir && !strcmp(pg_stores[i].dir, dir))
			return pg_stores[i].uri;
	if (n_pg_stores == MAX_PG_STORES) {
		fprintf(stderr, "tstore: more than %d stores in one test\n",
			MAX_PG_STORES);
		return NULL;
	}
	p = &pg_stores[n_pg_stores];
	if (tstore_pg_create(base, p->uri, sizeof(p->uri)))
		return NULL;
	if (!(p->dir = strdup(dir))) {
		tstore_pg_drop(base, p->uri);
		return NULL;
	}
	if (n_pg_stores++ == 0)
		atexit(pg_stores_drop_all);
	return p->uri;
}

const char *tstore_engine(void)
{
	const char *base = getenv("SIEVEFS_TEST_CATALOG");

	return base && *base ? "postgresql" : "sqlite";
}

int tstore_run_group(const char *name, const struct CMUnitTest *cases,
		     size_t n, const struct CMUnitTest *sqlite_file,
		     size_t nsq, int (*setup)(void **),
		     int (*teardown)(void **))
{
	struct CMUnitTest *all;
	int fails;

	if (strcmp(tstore_engine(), "sqlite")) {
		printf("%zu cases are SQLite-file cases, not run on %s:", nsq,
		       tstore_engine());
		for (size_t i = 0; i < nsq; i++)
			printf(" %s", sqlite_file[i].name);
		printf("\n");
		fflush(stdout);
		return _cmocka_run_group_tests(name, cases, n, setup, teardown);
	}
	all = malloc((n + nsq) * sizeof(*all));
	if (!all) {
		fprintf(stderr, "tstore: out of memory\n");
		return 1;
	}
	memcpy(all, cases, n * sizeof(*all));
	memcpy(all + n, sqlite_file, nsq * sizeof(*all));
	fails = _cmocka_run_group_tests(name, all, n + nsq, setup, teardown);
	free(all);
	return fails;
}

int __real_db_open_catalog(store *st, char *msg);
int __wrap_db_open_catalog(store *st, char *msg);

int __wrap_db_open_catalog(store *st, char *msg)
{
	const char *base = getenv("SIEVEFS_TEST_CATALOG"), *uri;
	const char *nocat = getenv("SIEVEFS_TEST_NO_CATALOG");

	/* make test: a binary of the Makefile's UNIT_NOCAT, which test-pg
	 * leaves out, must open no catalog */
	if (nocat && *nocat) {
		fprintf(stderr, "tstore: this binary opened a catalog (%s):"
			" take it out of the Makefile's UNIT_NOCAT, so that"
			" make test-pg runs it on PostgreSQL\n", st->dir);
		snprintf(msg, 256, "tstore: a catalog opened under"
			 " SIEVEFS_TEST_NO_CATALOG");
		return -EPERM;
	}
	if (!base || !*base || st->catalog)   /* or the test chose one */
		return __real_db_open_catalog(st, msg);
	uri = pg_catalog_for(base, st->dir);
	if (!uri) {
		snprintf(msg, 256, "tstore: no PostgreSQL database for the"
			 " test store %s", st->dir);
		return -EIO;
	}
	return sql_engine_for(uri)->open(uri, SQL_CREATE, &st->db, msg);
}

/* The catalog target of the store in dir into path (len bytes): its
 * database's URI under SIEVEFS_TEST_CATALOG, else DIR/catalog.db. */
static int catalog_target(const char *dir, char *path, size_t len)
{
	const char *base = getenv("SIEVEFS_TEST_CATALOG"), *target = NULL;
	char *abs = realpath(dir, NULL);

	if (!abs)
		return -errno;
	if (base && *base) {
		for (int i = 0; i < n_pg_stores; i++)
			if (pg_stores[i].dir && !strcmp(pg_stores[i].dir, abs))
				target = pg_stores[i].uri;
		if (target)
			snprintf(path, len, "%s", target);
	} else {
		snprintf(path, len, "%s/catalog.db", abs);
		target = path;
	}
	free(abs);
	if (!target) {
		fprintf(stderr, "tstore: no catalog known for %s\n", dir);
		return -ENOENT;
	}
	return 0;
}

int tstore_catalog_target(const char *dir, char *path, size_t len)
{
	return catalog_target(dir, path, len);
}

/* Runs sql on the catalog of dir through a connection of its own: a
 * statement without results (exec), or, with out, one whose first row's
 * first column is read as an integer (*out) or text (text, textlen). */
static int catalog_run(const char *dir, const char *sql, int64_t *changes,
		       int64_t *out, char *text, size_t textlen)
{
	char target[4096], msg[256] = "";
	const struct sql_engine *e;
	sql_db *db = NULL;
	sql_conn *c = NULL;
	sql_stmt *s = NULL;
	int rc = catalog_target(dir, target, sizeof(target));

	if (rc)
		return rc;
	e = sql_engine_for(target);
	rc = e->open(target, 0, &db, msg);
	if (rc)
		fprintf(stderr, "tstore: catalog of %s: %s\n", dir, msg);
	else if ((rc = e->connect(db, &c)) != 0)
		fprintf(stderr, "tstore: catalog of %s: cannot connect\n", dir);
	else if (!out && !text) {
		if ((rc = e->exec(c, sql)) != 0)
			fprintf(stderr, "tstore: %s: %s\n", sql, e->errmsg(c));
		else if (changes)
			*changes = e->changes(c);
	} else if ((rc = e->prepare(c, sql, &s)) != 0) {
		fprintf(stderr, "tstore: %s: %s\n", sql, e->errmsg(c));
	} else if ((rc = e->step(s)) != SQL_ROW) {
		fprintf(stderr, "tstore: %s: %s\n", sql, rc == SQL_DONE ?
			"no row" : e->errmsg(c));
		rc = rc == SQL_DONE ? -ENOENT : rc;
	} else {
		rc = 0;
		if (out)
			*out = e->col_int64(s, 0);
		if (text)
			snprintf(text, textlen, "%s", e->col_text(s, 0));
	}
	if (s)
		e->finalize(s);
	if (c)
		e->disconnect(c);
	if (db)
		e->close(db);
	return rc;
}

int tstore_catalog_exec(const char *dir, const char *sql, int64_t *changes)
{
	return catalog_run(dir, sql, changes, NULL, NULL, 0);
}

int tstore_catalog_int(const char *dir, const char *sql, int64_t *out)
{
	return catalog_run(dir, sql, NULL, out, NULL, 0);
}

int tstore_catalog_text(const char *dir, const char *sql, char *out,
			size_t len)
{
	return catalog_run(dir, sql, NULL, NULL, out, len);
}

int tstore_open(const char *name, char *tmp, size_t tmplen, char *dir,
		size_t dirlen, store **st)
{
	char msg[STORE_ERRMSG] = "";

	snprintf(tmp, tmplen, "/tmp/sievefs-test-%s-XXXXXX", name);
	if (!mkdtemp(tmp)) {
		perror("setup: mkdtemp");
		return -1;
	}
	snprintf(dir, dirlen, "%s/store", tmp);
	if (store_open(dir, STORE_OPEN_OWNER, st, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "setup: %s\n", msg);
		tstore_close(tmp, NULL);
		return -1;
	}
	return 0;
}

void tstore_close(const char *tmp, store *st)
{
	char *abs = realpath(tmp, NULL);
	size_t n = abs ? strlen(abs) : 0;

	if (st)
		store_close(st);
	/* the databases of the stores under tmp */
	for (int i = 0; abs && i < n_pg_stores; i++)
		if (pg_stores[i].dir && !strncmp(pg_stores[i].dir, abs, n) &&
		    pg_stores[i].dir[n] == '/')
			pg_store_drop(&pg_stores[i]);
	free(abs);
	nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int tstore_fx_setup(void **state, const char *name)
{
	struct tstore_fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (tstore_open(name, f->tmp, sizeof(f->tmp), f->dir, sizeof(f->dir),
			&f->st)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

int tstore_fx_setup_ds(void **state, const char *name, const char *dataset)
{
	struct tstore_fx *f;

	if (tstore_fx_setup(state, name))
		return -1;
	f = *state;
	if (store_dataset_create(f->st, "alice", dataset, &f->ds)) {
		tstore_fx_teardown(state);
		return -1;
	}
	return 0;
}

int tstore_put_file(store *st, int64_t parent, const char *name,
		    const void *data, size_t len, int64_t *ino)
{
	struct store_newnode nn = { .kind = STORE_FILE, .mode = 0644 };
	struct store_node n;
	unsigned char sha[STORE_SHA_LEN];
	char staged[STORE_PATH_MAX];
	int fd, rc = store_node_create(st, parent, name, &nn, &n);

	if (rc)
		return rc;
	fd = store_staging_create(st, staged, sizeof(staged));
	if (fd < 0)
		return fd;
	if (write(fd, data, len) != (ssize_t)len)
		rc = -EIO;
	if (!rc)
		rc = store_sha256_fd(fd, sha);
	if (!rc)
		rc = store_node_commit(st, n.ino, fd, staged, sha,
				       (int64_t)len, 0, 0);
	close(fd);
	if (!rc && ino)
		*ino = n.ino;
	return rc;
}

int tstore_fx_teardown(void **state)
{
	struct tstore_fx *f = *state;

	tstore_close(f->tmp, f->st);
	free(f);
	return 0;
}

#ifndef SIEVEFS_SRC_DIR
#define SIEVEFS_SRC_DIR "."
#endif

static char pg_dir[64];   /* the server started here, or "" */

int tstore_pg_server(char *uri, size_t len)
{
	const char *env = getenv("SIEVEFS_TEST_CATALOG");
	char cmd[256];
	FILE *p;
	size_t n;

	if (env && *env) {
		snprintf(uri, len, "%s", env);
		return 0;
	}
	if (!pg_dir[0]) {
		snprintf(pg_dir, sizeof(pg_dir), "/tmp/sievefs-test-pg-XXXXXX");
		if (!mkdtemp(pg_dir)) {
			perror("setup: mkdtemp");
			pg_dir[0] = '\0';
			return -1;
		}
	}
	/* PG_OWNER_PID: pg.sh stops the server when this process ends
	 * without tstore_pg_server_stop (a crash) */
	snprintf(cmd, sizeof(cmd), "PG_OWNER_PID=%ld bash %s/tests/scale/pg.sh"
		 " start %s", (long)getpid(), SIEVEFS_SRC_DIR, pg_dir);
	p = popen(cmd, "r");
	if (!p || !fgets(uri, (int)len, p)) {
		if (p)
			pclose(p);
		fprintf(stderr, "setup: %s failed\n", cmd);
		tstore_pg_server_stop();
		return -1;
	}
	pclose(p);
	n = strlen(uri);
	while (n && (uri[n - 1] == '\n' || uri[n - 1] == '\r'))
		uri[--n] = '\0';
	return 0;
}

void tstore_pg_server_stop(void)
{
	char cmd[256];

	if (!pg_dir[0])
		return;
	snprintf(cmd, sizeof(cmd), "bash %s/tests/scale/pg.sh stop %s",
		 SIEVEFS_SRC_DIR, pg_dir);
	if (system(cmd) != 0)
		fprintf(stderr, "teardown: %s failed\n", cmd);
	rmdir(pg_dir);
	pg_dir[0] = '\0';
}

static int pg_sh(const char *verb)
{
	char cmd[256];

	if (!pg_dir[0])
		return -1;
	snprintf(cmd, sizeof(cmd), "bash %s/tests/scale/pg.sh %s %s",
		 SIEVEFS_SRC_DIR, verb, pg_dir);
	return system(cmd) == 0 ? 0 : -1;
}

int tstore_pg_server_halt(void)
{
	return pg_sh("halt");
}

int tstore_pg_server_resume(void)
{
	return pg_sh("resume");
}

/* uri with its database name replaced by name. */
static int with_db(const char *base, const char *name, char *uri,
		   size_t len)
{
	const char *h = strstr(base, "://"), *path, *q;
	int w;

	if (!h)
		return -1;
	h += 3;
	q = strchr(h, '?');
	path = strchr(h, '/');
	if (path && q && path > q)
		path = NULL;
	if (!path)
		path = q ? q : h + strlen(h);
	w = snprintf(uri, len, "%.*s/%s%s", (int)(path - base), base, name,
		     q ? q : "");
	return w < 0 || (size_t)w >= len ? -1 : 0;
}

/* Runs one statement on the server; 0 or -1 with the reason on stderr. */
static int pg_run(const char *base, const char *sql)
{
	PGconn *pg = PQconnectdb(base);
	PGresult *r;
	int rc = -1;

	if (PQstatus(pg) != CONNECTION_OK) {
		fprintf(stderr, "tstore: cannot connect to PostgreSQL: %s",
			PQerrorMessage(pg));
		PQfinish(pg);
		return -1;
	}
	r = PQexec(pg, sql);
	if (PQresultStatus(r) == PGRES_COMMAND_OK)
		rc = 0;
	else
		fprintf(stderr, "tstore: %s: %s", sql, PQerrorMessage(pg));
	PQclear(r);
	PQfinish(pg);
	return rc;
}

int tstore_pg_create(const char *base, char *uri, size_t len)
{
	static int seq;
	char name[64], sql[160];

	snprintf(name, sizeof(name), "sievefs_t_%ld_%d", (long)getpid(),
		 ++seq);
	if (with_db(base, name, uri, len)) {
		fprintf(stderr, "tstore: cannot use %s as a server URI\n",
			base);
		return -1;
	}
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s TEMPLATE template0"
		 " ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C'", name);
	return pg_run(base, sql);
}

void tstore_pg_drop(const char *base, const char *uri)
{
	/* libpq's reading of uri: a '/' may follow the database's name
	 * (postgresql:///db?host=/run/postgresql) */
	PQconninfoOption *o = PQconninfoParse(uri, NULL), *p;
	char sql[160];

	for (p = o; p && p->keyword; p++)
		if (!strcmp(p->keyword, "dbname") && p->val &&
		    !strncmp(p->val, "sievefs_t_", 10) &&
		    strspn(p->val + 10, "0123456789_") == strlen(p->val + 10)) {
			snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %.60s"
				 " WITH (FORCE)", p->val);
			pg_run(base, sql);
		}
	PQconninfoFree(o);
}
