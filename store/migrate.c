/*
 * migrate.c — an embedded store copied into PostgreSQL and a blob engine
 * (migrate.h has the order, the resume rule and what is not copied).
 *
 * Design. The source is read through the SQLite engine and the target
 * written through the PostgreSQL engine (store/sql.h), each on one
 * connection; blobs go through store/blobstore.h. Tables are found, not
 * listed here (sqlite_master and each table's columns from
 * pragma_table_info), so a table or column a later schema adds is copied
 * without a change here — it must exist in both engines' schemas, which
 * their schema files keep in step. Values keep the type the source stored
 * (typeof() read beside each column): integer, real, text, blob or NULL,
 * bound alike in the target.
 *
 * Progress markers live in the target's meta table, written in the same
 * transaction as what they mark, so a kill -9 leaves either a table whole
 * with its marker or neither. Blobs need no marker: an object appears
 * under its hash only whole (blobstore.h, invariant 1), so blobs_stat is
 * the marker.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/blobstore.h"
#include "store/migrate.h"
#include "store/sql.h"

#define MIG_MSG 256
#define MIG_COLS 64
#define MIG_CHUNK (1u << 20)

/* the tables the target's triggers write when other tables get rows:
 * copied last, emptied first (migrate.h) */
static const char *const derived[] = { "dirgen", "changes", "samples_gen",
				       "pending" };

struct mig {
	const struct store_migrate_opts *o;
	struct store_migrate_stats *st;
	sql_db *sdb, *tdb;
	sql_conn *src, *dst;
	blobstore *bs;
	char srcid[PATH_MAX];
	char *msg;
	size_t msglen;
};

static void say(struct mig *m, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void say(struct mig *m, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (!m->o->progress)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	m->o->progress(m->o->arg, line);
}

static int fail(struct mig *m, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct mig *m, int rc, const char *fmt, ...)
{
	va_list ap;

	if (m->msg && m->msglen && !m->msg[0]) {
		va_start(ap, fmt);
		vsnprintf(m->msg, m->msglen, fmt, ap);
		va_end(ap);
	}
	return rc;
}

/* One integer from a query without parameters on c: 0 or -errno. */
static int one_int(sql_conn *c, const char *q, int64_t *out)
{
	sql_stmt *s;
	int rc = sql_prepare(c, q, &s);

	*out = 0;
	if (rc)
		return rc;
	rc = sql_step(s);
	if (rc == SQL_ROW)
		*out = sql_col_int64(s, 0);
	sql_finalize(s);
	return rc < 0 ? rc : 0;
}

/* The target's meta value of key into buf ("" when absent). */
static int meta_get(sql_conn *c, const char *key, char *buf, size_t len)
{
	sql_stmt *s;
	int rc = sql_prepare(c, "SELECT value FROM meta WHERE key=?1", &s);

	buf[0] = '\0';
	if (rc)
		return rc;
	sql_bind_text(s, 1, key, strlen(key));
	rc = sql_step(s);
	if (rc == SQL_ROW)
		snprintf(buf, len, "%s", sql_col_text(s, 0));
	sql_finalize(s);
	return rc < 0 ? rc : 0;
}

static int meta_put(sql_conn *c, const char *key, const char *val)
{
	sql_stmt *s;
	int rc = sql_prepare(c, "INSERT INTO meta(key, value) VALUES(?1, ?2)"
			     " ON CONFLICT(key) DO UPDATE SET"
			     " value=excluded.value", &s);

	if (rc)
		return rc;
	sql_bind_text(s, 1, key, strlen(key));
	sql_bind_text(s, 2, val, strlen(val));
	rc = sql_step(s);
	sql_finalize(s);
	return rc < 0 ? rc : 0;
}

/* ---- the source ---- */

/* Takes STORE/lock as a mount or server would (catalog.c): the source
 * must not change while it is copied. The fd stays open until exit. */
static int lock_source(struct mig *m)
{
	char path[PATH_MAX];
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/lock", m->o->src_dir) >=
	    sizeof(path))
		return fail(m, -ENAMETOOLONG, "%s: path too long",
			    m->o->src_dir);
	fd = open(path, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0 && errno == ENOENT)
		return 0;   /* never owned: nobody runs on it */
	if (fd < 0)
		return fail(m, -errno, "cannot open %s: %s", path,
			    strerror(errno));
	if (flock(fd, LOCK_EX | LOCK_NB)) {
		int e = errno;
		close(fd);
		return e == EWOULDBLOCK ?
		       fail(m, -EBUSY, "%s: store in use (a sievefs mount or"
			    " server owns it); stop it first", m->o->src_dir) :
		       fail(m, -e, "cannot lock %s: %s", path, strerror(e));
	}
	return 0;   /* fd kept: the lock holds until the process ends */
}

static int open_engines(struct mig *m)
{
	char path[PATH_MAX + 16], why[MIG_MSG] = "";
	struct stat sb;
	int rc;

	if (!realpath(m->o->src_dir, m->srcid))
		return fail(m, -errno, "%s: %s", m->o->src_dir,
			    strerror(errno));
	snprintf(path, sizeof(path), "%s/catalog.db", m->srcid);
	if (stat(path, &sb))
		return fail(m, -ENOENT, "%s: no catalog.db: not an embedded"
			    " store", m->o->src_dir);
	if ((rc = lock_source(m)) != 0)
		return rc;
	/* SQL_CREATE brings an older store's schema up to this binary's,
	 * as its next mount would */
	rc = sql_sqlite.open(path, SQL_CREATE, &m->sdb, why);
	if (!rc)
		rc = sql_sqlite.connect(m->sdb, &m->src);
	if (rc)
		return fail(m, rc, "the source catalog %s: %s", path,
			    *why ? why : strerror(-rc));
	rc = sql_pg.open(m->o->catalog, SQL_CREATE, &m->tdb, why);
	if (!rc)
		rc = sql_pg.connect(m->tdb, &m->dst);
	if (rc)
		return fail(m, rc, "%s", *why ? why : strerror(-rc));
	if (m->o->blobs && *m->o->blobs) {
		rc = blobs_open_spec(m->srcid, m->o->blobs, m->o->s3_key_id,
				     m->o->s3_secret, &m->bs, m->msg,
				     m->msglen);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- the target: empty, or this source's ---- */

static int check_target(struct mig *m)
{
	static const char *const tabs[] = { "datasets", "users", "tokens",
					    "nodes", "tags", "embeddings" };
	char have[PATH_MAX + 16];
	int rc;

	if ((rc = meta_get(m->dst, "migrate_source", have, sizeof(have))))
		return fail(m, rc, "cannot read the target's meta: %s",
			    sql_errmsg(m->dst));
	if (*have && strcmp(have, m->srcid))
		return fail(m, -EEXIST, "the target catalog holds a migration"
			    " of another store (%.200s); refusing it", have);
	if (*have) {
		say(m, "resuming the migration of %s", m->srcid);
		return 0;
	}
	for (size_t i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++) {
		char q[96];
		int64_t n;

		snprintf(q, sizeof(q), "SELECT count(*) FROM %s", tabs[i]);
		if ((rc = one_int(m->dst, q, &n)) != 0)
			return fail(m, rc, "cannot count the target's %s: %s",
				    tabs[i], sql_errmsg(m->dst));
		if (n)
			return fail(m, -EEXIST, "the target catalog already"
				    " holds data (%lld rows in %s); migrate"
				    " only into a new, empty database",
				    (long long)n, tabs[i]);
	}
	if ((rc = meta_put(m->dst, "migrate_source", m->srcid)) != 0)
		return fail(m, rc, "cannot mark the target: %s",
			    sql_errmsg(m->dst));
	return 0;
}

/* ---- blobs ---- */

static int hexval(int c)
{
	return c >= '0' && c <= '9' ? c - '0' :
	       c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* name: 64 lowercase hex → sha. 0, or -1 when it is not such a name. */
static int parse_sha(const char *name, unsigned char sha[BLOBS_SHA_LEN])
{
	if (strlen(name) != 2 * BLOBS_SHA_LEN)
		return -1;
	for (int i = 0; i < BLOBS_SHA_LEN; i++) {
		int h = hexval(name[2 * i]), l = hexval(name[2 * i + 1]);
		if (h < 0 || l < 0)
			return -1;
		sha[i] = (unsigned char)(h << 4 | l);
	}
	return 0;
}

/* One local blob at path, named sha, into the target engine. */
static int copy_blob(struct mig *m, const char *path, const char *hex,
		     const unsigned char sha[BLOBS_SHA_LEN], char *buf)
{
	blob_upload *u = NULL;
	uint64_t size = 0;
	ssize_t n;
	int fd, rc;

	if (blobs_stat(m->bs, sha, NULL) == 0) {
		m->st->blobs_there++;
		return 0;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return fail(m, -errno, "cannot open %s: %s", path,
			    strerror(errno));
	if ((rc = blobs_begin(m->bs, &u)) != 0)
		goto out;
	while ((n = read(fd, buf, MIG_CHUNK)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			goto out;
		}
		if ((rc = blobs_write(u, buf, (size_t)n)) != 0)
			goto out;
		size += (uint64_t)n;
	}
	rc = blobs_finish(u, sha, NULL, 1);
	u = NULL;
	if (rc == -EBADMSG) {
		m->st->corrupt++;
		say(m, "corrupt: blob %s's bytes do not hash to its name (%s);"
		    " not copied", hex, path);
		rc = 0;
	} else if (!rc) {
		m->st->blobs++;
		m->st->blob_bytes += size;
	}
out:
	blobs_abort(u);
	close(fd);
	if (rc)
		return fail(m, rc, "blob %s: %s%s%s", hex, strerror(-rc),
			    *blobs_last_error() ? ": " : "",
			    blobs_last_error());
	return 0;
}

static int copy_blobs(struct mig *m)
{
	char dir[PATH_MAX + 16], path[PATH_MAX + 96], *buf;
	unsigned char sha[BLOBS_SHA_LEN];
	time_t last = time(NULL);
	int rc = 0;

	if (!m->bs) {
		say(m, "blobs: none copied (no blob store given: they stay in"
		    " %s; serve that folder with the new catalog)", m->srcid);
		return 0;
	}
	if (!(buf = malloc(MIG_CHUNK)))
		return fail(m, -ENOMEM, "out of memory");
	for (int b = 0; b < 256 && !rc; b++) {
		DIR *d;
		struct dirent *e;

		if ((size_t)snprintf(dir, sizeof(dir), "%s/blobs/%02x",
				     m->srcid, b) >= sizeof(dir)) {
			rc = fail(m, -ENAMETOOLONG, "the store's path is too long");
			break;
		}
		if (!(d = opendir(dir)))
			continue;
		while (!rc && (e = readdir(d)) != NULL) {
			if (parse_sha(e->d_name, sha))
				continue;
			if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir,
					     e->d_name) >= sizeof(path)) {
				rc = fail(m, -ENAMETOOLONG,
					  "the store's path is too long");
				break;
			}
			rc = copy_blob(m, path, e->d_name, sha, buf);
			if (time(NULL) - last >= 2) {
				last = time(NULL);
				say(m, "blobs: %llu copied (%llu bytes), %llu"
				    " already there",
				    (unsigned long long)m->st->blobs,
				    (unsigned long long)m->st->blob_bytes,
				    (unsigned long long)m->st->blobs_there);
			}
		}
		closedir(d);
	}
	free(buf);
	if (!rc)
		say(m, "blobs: %llu copied (%llu bytes), %llu already there,"
		    " %llu corrupt", (unsigned long long)m->st->blobs,
		    (unsigned long long)m->st->blob_bytes,
		    (unsigned long long)m->st->blobs_there,
		    (unsigned long long)m->st->corrupt);
	return rc;
}

/* ---- tables ---- */

struct table {
	char name[64];
	char cols[MIG_COLS][64];
	int ncols;
};

static int is_derived(const char *t)
{
	for (size_t i = 0; i < sizeof(derived) / sizeof(derived[0]); i++)
		if (!strcmp(t, derived[i]))
			return 1;
	return 0;
}

/* 1 if s is a plain SQL identifier (quoted anyway; this keeps a quote
 * out of the statements built from it). */
static int ident_ok(const char *s)
{
	if (!*s || strlen(s) >= 64)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return 0;
	return 1;
}

/* The source's tables to copy, the derived ones last. free(*out). */
static int list_tables(struct mig *m, struct table **out, size_t *n)
{
	struct table *v = NULL;
	size_t cnt = 0;
	sql_stmt *s = NULL, *c = NULL;
	int rc;

	*out = NULL;
	*n = 0;
	rc = sql_prepare(m->src, "SELECT name FROM sqlite_master WHERE"
			 " type='table' AND name NOT LIKE 'sqlite%'"
			 " AND name NOT IN ('meta', 'schema_version')"
			 " ORDER BY name", &s);
	if (!rc)
		rc = sql_prepare(m->src, "SELECT name FROM"
				 " pragma_table_info(?1) ORDER BY cid", &c);
	while (!rc && (rc = sql_step(s)) == SQL_ROW) {
		const char *t = sql_col_text(s, 0);
		struct table *nv = realloc(v, (cnt + 1) * sizeof(*v));

		if (!nv) {
			rc = -ENOMEM;
			break;
		}
		v = nv;
		memset(&v[cnt], 0, sizeof(v[cnt]));
		if (!ident_ok(t)) {
			rc = fail(m, -EINVAL, "source table '%.60s': a name"
				  " this migration cannot quote", t);
			break;
		}
		snprintf(v[cnt].name, sizeof(v[cnt].name), "%s", t);
		sql_reset(c);
		sql_bind_text(c, 1, t, strlen(t));
		while ((rc = sql_step(c)) == SQL_ROW) {
			const char *col = sql_col_text(c, 0);
			if (v[cnt].ncols == MIG_COLS || !ident_ok(col)) {
				rc = fail(m, -EINVAL, "source table %s: too"
					  " many columns or an odd name", t);
				break;
			}
			snprintf(v[cnt].cols[v[cnt].ncols++], 64, "%s", col);
		}
		if (rc < 0)
			break;
		rc = 0;
		cnt++;
	}
	sql_finalize(s);
	sql_finalize(c);
	if (rc < 0) {
		free(v);
		return rc;
	}
	/* derived tables last, in the order of derived[] */
	for (size_t i = 0, j = 0; i < cnt; i++)
		if (!is_derived(v[i].name)) {
			struct table t = v[i];
			memmove(&v[j + 1], &v[j], (i - j) * sizeof(*v));
			v[j++] = t;
		}
	*out = v;
	*n = cnt;
	return 0;
}

/* Appends to buf (cap len) or reports overflow. */
static int cat(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len - used ? -ENAMETOOLONG : 0;
}

/* Copies table t's rows inside the caller's transaction. */
static int copy_rows(struct mig *m, const struct table *t, uint64_t *rows)
{
	char sel[8192] = "SELECT ", ins[8192] = "";
	sql_stmt *s = NULL, *d = NULL;
	int rc = 0;

	rc = cat(ins, sizeof(ins), "INSERT INTO %s(", t->name);
	for (int i = 0; !rc && i < t->ncols; i++)
		rc = cat(sel, sizeof(sel), "%stypeof(\"%s\"), \"%s\"",
			 i ? ", " : "", t->cols[i], t->cols[i]) ||
		     cat(ins, sizeof(ins), "%s\"%s\"", i ? ", " : "",
			 t->cols[i]);
	rc = rc || cat(sel, sizeof(sel), " FROM \"%s\"", t->name) ||
	     cat(ins, sizeof(ins), ") VALUES(");
	for (int i = 0; !rc && i < t->ncols; i++)
		rc = cat(ins, sizeof(ins), "%s?%d", i ? ", " : "", i + 1);
	rc = rc || cat(ins, sizeof(ins), ")");
	if (rc)
		return fail(m, -ENAMETOOLONG, "table %s: too many columns",
			    t->name);
	if ((rc = sql_prepare(m->src, sel, &s)) != 0)
		return fail(m, rc, "reading %s: %s", t->name,
			    sql_errmsg(m->src));
	if ((rc = sql_prepare(m->dst, ins, &d)) != 0) {
		rc = fail(m, rc, "writing %s: %s", t->name,
			  sql_errmsg(m->dst));
		goto out;
	}
	while ((rc = sql_step(s)) == SQL_ROW) {
		sql_reset(d);
		for (int i = 0; i < t->ncols; i++) {
			const char *ty = sql_col_text(s, 2 * i);
			int c = 2 * i + 1;

			if (!strcmp(ty, "integer"))
				sql_bind_int64(d, i + 1, sql_col_int64(s, c));
			else if (!strcmp(ty, "real"))
				sql_bind_double(d, i + 1, sql_col_double(s, c));
			else if (!strcmp(ty, "text"))
				sql_bind_text(d, i + 1, sql_col_text(s, c),
					      sql_col_bytes(s, c));
			else if (!strcmp(ty, "blob"))
				sql_bind_blob(d, i + 1, sql_col_blob(s, c),
					      sql_col_bytes(s, c));
			else
				sql_bind_null(d, i + 1);
		}
		if ((rc = sql_step(d)) < 0) {
			rc = fail(m, rc, "writing a row of %s: %s", t->name,
				  sql_errmsg(m->dst));
			goto out;
		}
		(*rows)++;
	}
	if (rc < 0)
		rc = fail(m, rc, "reading %s: %s", t->name, sql_errmsg(m->src));
	else
		rc = 0;
out:
	sql_finalize(s);
	sql_finalize(d);
	return rc;
}

static int copy_table(struct mig *m, const struct table *t)
{
	char key[96], done[16], q[96];
	uint64_t rows = 0;
	int rc;

	snprintf(key, sizeof(key), "migrate_table:%s", t->name);
	if ((rc = meta_get(m->dst, key, done, sizeof(done))) != 0)
		return fail(m, rc, "reading the target's meta: %s",
			    sql_errmsg(m->dst));
	if (*done) {
		say(m, "table %s: copied before", t->name);
		return 0;
	}
	if ((rc = sql_pg.begin(m->dst)) != 0)
		return fail(m, rc, "BEGIN: %s", sql_errmsg(m->dst));
	if (is_derived(t->name)) {
		snprintf(q, sizeof(q), "DELETE FROM %s", t->name);
		rc = sql_exec(m->dst, q);
	}
	if (!rc)
		rc = copy_rows(m, t, &rows);
	if (!rc && (rc = meta_put(m->dst, key, "done")) != 0)
		rc = fail(m, rc, "marking %s: %s", t->name,
			  sql_errmsg(m->dst));
	if (!rc && (rc = sql_pg.commit(m->dst)) != 0)
		rc = fail(m, rc, "COMMIT of %s: %s", t->name,
			  sql_errmsg(m->dst));
	if (rc) {
		sql_pg.rollback(m->dst);
		return fail(m, rc, "table %s: %s", t->name, strerror(-rc));
	}
	m->st->tables++;
	m->st->rows += rows;
	say(m, "table %s: %llu rows", t->name, (unsigned long long)rows);
	return 0;
}

/* Every identity column of the target moved past the largest id. */
static int advance_ids(struct mig *m)
{
	sql_stmt *s;
	int rc = sql_prepare(m->dst, "SELECT table_name, column_name FROM"
			     " information_schema.columns WHERE"
			     " table_schema=current_schema() AND"
			     " is_identity='YES'", &s);
	struct { char t[64], c[64]; } v[64];
	int n = 0;

	if (rc)
		return fail(m, rc, "listing identity columns: %s",
			    sql_errmsg(m->dst));
	while ((rc = sql_step(s)) == SQL_ROW && n < 64) {
		snprintf(v[n].t, 64, "%s", sql_col_text(s, 0));
		snprintf(v[n].c, 64, "%s", sql_col_text(s, 1));
		if (ident_ok(v[n].t) && ident_ok(v[n].c))
			n++;
	}
	sql_finalize(s);
	if (rc < 0)
		return fail(m, rc, "listing identity columns: %s",
			    sql_errmsg(m->dst));
	for (int i = 0; i < n; i++) {
		char q[512];
		int64_t r;

		/* setval(seq, max, true): the next id is max + 1; an empty
		 * table keeps its sequence as it is */
		snprintf(q, sizeof(q), "SELECT coalesce((SELECT setval("
			 "pg_get_serial_sequence('%s', '%s'), max(\"%s\"))"
			 " FROM \"%s\" HAVING max(\"%s\") IS NOT NULL), 0)",
			 v[i].t, v[i].c, v[i].c, v[i].t, v[i].c);
		if ((rc = one_int(m->dst, q, &r)) != 0)
			return fail(m, rc, "advancing %s.%s: %s", v[i].t,
				    v[i].c, sql_errmsg(m->dst));
	}
	return 0;
}

/* The source's meta rows the target lacks (its own schema rows and the
 * markers stay as they are). Idempotent. */
static int copy_meta(struct mig *m)
{
	sql_stmt *s, *d;
	int rc = sql_prepare(m->src, "SELECT key, value FROM meta WHERE"
			     " key<>'schema' AND key NOT LIKE 'migrate%'", &s);

	if (rc)
		return fail(m, rc, "reading meta: %s", sql_errmsg(m->src));
	rc = sql_prepare(m->dst, "INSERT INTO meta(key, value) VALUES(?1, ?2)"
			 " ON CONFLICT(key) DO NOTHING", &d);
	if (rc) {
		sql_finalize(s);
		return fail(m, rc, "writing meta: %s", sql_errmsg(m->dst));
	}
	while ((rc = sql_step(s)) == SQL_ROW) {
		sql_reset(d);
		sql_bind_text(d, 1, sql_col_text(s, 0), sql_col_bytes(s, 0));
		if (sql_col_is_null(s, 1))
			sql_bind_null(d, 2);
		else
			sql_bind_text(d, 2, sql_col_text(s, 1),
				      sql_col_bytes(s, 1));
		if ((rc = sql_step(d)) < 0)
			break;
	}
	sql_finalize(s);
	sql_finalize(d);
	return rc < 0 ? fail(m, rc, "copying meta: %s", sql_errmsg(m->dst)) :
	       0;
}

static void count_source(struct mig *m)
{
	int64_t v;

	if (!one_int(m->src, "SELECT count(*) FROM datasets", &v))
		m->st->datasets = (uint64_t)v;
	if (!one_int(m->src, "SELECT count(*) FROM tags", &v))
		m->st->tags = (uint64_t)v;
	if (!one_int(m->src, "SELECT count(*) FROM nodes", &v))
		m->st->nodes = (uint64_t)v;
	if (!one_int(m->src, "SELECT count(*) FROM tokens", &v))
		m->st->tokens = (uint64_t)v;
	if (!one_int(m->src, "SELECT count(*) FROM users", &v))
		m->st->users = (uint64_t)v;
}

int store_migrate(const struct store_migrate_opts *o,
		  struct store_migrate_stats *stats, char *msg, size_t msglen)
{
	struct mig m = { .o = o, .st = stats, .msg = msg, .msglen = msglen };
	struct table *tabs = NULL;
	size_t n = 0;
	int rc;

	memset(stats, 0, sizeof(*stats));
	if (msg && msglen)
		msg[0] = '\0';
	if (!o->catalog || sql_engine_for(o->catalog) != &sql_pg) {
		rc = fail(&m, -EINVAL, "the target catalog must be a"
			  " postgresql:// URI");
		goto out;
	}
	if ((rc = open_engines(&m)) != 0 || (rc = check_target(&m)) != 0)
		goto out;
	count_source(&m);
	if ((rc = copy_blobs(&m)) != 0)
		goto out;
	if (stats->corrupt) {
		rc = fail(&m, -EBADMSG, "%llu local blob(s) are corrupt (named"
			  " above): their bytes do not match their hash; the"
			  " catalog was not copied", (unsigned long long)
			  stats->corrupt);
		goto out;
	}
	if ((rc = list_tables(&m, &tabs, &n)) != 0)
		goto out;
	for (size_t i = 0; !rc && i < n; i++)
		rc = copy_table(&m, &tabs[i]);
	if (!rc)
		rc = copy_meta(&m);
	if (!rc)
		rc = advance_ids(&m);
	if (!rc && (rc = meta_put(m.dst, "migrate_done", "1")) != 0)
		rc = fail(&m, rc, "marking the migration done: %s",
			  sql_errmsg(m.dst));
out:
	free(tabs);
	blobs_close(m.bs);
	if (m.src)
		sql_sqlite.disconnect(m.src);
	if (m.sdb)
		sql_sqlite.close(m.sdb);
	if (m.dst)
		sql_pg.disconnect(m.dst);
	if (m.tdb)
		sql_pg.close(m.tdb);
	return rc;
}
