/*
 * lightly.c — the lightly door's records (store/lightly.h).
 *
 *   lightly_ids(id, kind, dataset, name, ref, tag)
 *       a 24-hex id the lightly client holds: an embedding (by its name in
 *       the dataset: sievefs replaces an embedding of the same name under a
 *       new row id, the client keeps the id it was given before the upload)
 *       or a sampling job (ref = the run's catalog id, name = the tag to
 *       freeze when it is done, tag = the tag made). UNIQUE(kind, dataset,
 *       name).
 *   lightly_ds(dataset, img_type)
 *       datasets whose initial tag the door made, with the client's mode.
 *   lightly_used(sig, expires)
 *       signed write URLs already used (a write URL works once); rows past
 *       their expiry are dropped by the next claim.
 *
 * The tables are each engine's schema's (schema_sqlite.c, schema_pg.c),
 * made when the catalog is opened, like every other table.
 * Rows of a deleted dataset stay (their ids then resolve to a dataset
 * that is gone: 404 for the caller).
 *
 * The secret that signs URLs (api/routes_lightly.c) is the catalog's —
 * meta's 'lightly_key' row, 64 hex — so every server of one catalog signs
 * and checks alike (a URL one server made works at another behind a
 * balancer). Made once from getrandom, or taken from an older store's
 * STORE/lightly.key so the URLs it signed stay valid; the first writer's
 * row wins (INSERT … ON CONFLICT DO NOTHING, then read back). The catalog
 * is owner-only (SQLite file 0600; PostgreSQL: its role's grants).
 *
 * Threads: writes under the store's wlock (db_begin), as in all of store/.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "store/lightly.h"
#include "store/s3.h"

static void id_row(sql_stmt *s, struct store_lightly_id *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->id, sizeof(out->id), "%s",
		 sql_col_text(s, 0));
	out->kind = (int)sql_col_int64(s, 1);
	out->dataset = sql_col_int64(s, 2);
	snprintf(out->name, sizeof(out->name), "%s",
		 sql_col_text(s, 3));
	out->ref = sql_col_int64(s, 4);
	out->tag = sql_col_int64(s, 5);
}

/* Reads one id row by the query q with text a or (kind, dataset, name). */
static int id_read(struct conn *c, const char *id, int kind, int64_t ds,
		   const char *name, struct store_lightly_id *out)
{
	sql_stmt *s = db_prep(c, id ?
		"SELECT id,kind,dataset,name,ref,tag FROM lightly_ids"
		" WHERE id=?1" :
		"SELECT id,kind,dataset,name,ref,tag FROM lightly_ids"
		" WHERE kind=?1 AND dataset=?2 AND name=?3");
	int rc;

	if (!s)
		return -EIO;
	if (id) {
		db_bind_str(s, 1, id);
	} else {
		sql_bind_int64(s, 1, kind);
		sql_bind_int64(s, 2, ds);
		db_bind_str(s, 3, name);
	}
	rc = sql_step(s);
	if (rc == SQL_ROW) {
		id_row(s, out);
		rc = 0;
	} else {
		rc = rc == SQL_DONE ? -ENOENT : db_err(rc);
	}
	sql_finalize(s);
	return rc;
}

int store_lightly_id_get(store *st, int kind, int64_t dataset,
			 const char *name, int64_t ref,
			 struct store_lightly_id *out)
{
	struct conn *c = db_conn(st);
	unsigned char rnd[12];
	char id[25];
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	if ((rc = db_begin(c)) != 0)
		return rc;
	rc = id_read(c, NULL, kind, dataset, name, out);
	if (rc == -ENOENT) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
			rc = -EIO;
			goto out;
		}
		for (size_t i = 0; i < sizeof(rnd); i++)
			snprintf(id + 2 * i, 3, "%02x", rnd[i]);
		s = db_prep(c, "INSERT INTO lightly_ids(id,kind,dataset,name,ref)"
			    " VALUES(?1,?2,?3,?4,?5)");
		if (!s) {
			rc = -EIO;
			goto out;
		}
		db_bind_str(s, 1, id);
		sql_bind_int64(s, 2, kind);
		sql_bind_int64(s, 3, dataset);
		db_bind_str(s, 4, name);
		sql_bind_int64(s, 5, ref);
		rc = db_err(sql_step(s));
		sql_finalize(s);
		if (!rc)
			rc = id_read(c, id, 0, 0, NULL, out);
	} else if (!rc && kind == STORE_LIGHTLY_JOB && ref != out->ref) {
		s = db_prep(c, "UPDATE lightly_ids SET ref=?2, tag=0 WHERE id=?1");
		if (!s) {
			rc = -EIO;
			goto out;
		}
		db_bind_str(s, 1, out->id);
		sql_bind_int64(s, 2, ref);
		rc = db_err(sql_step(s));
		sql_finalize(s);
		out->ref = ref;
		out->tag = 0;
	}
out:
	return db_end(c, rc);
}

int store_lightly_id_find(store *st, const char *id,
			  struct store_lightly_id *out)
{
	struct conn *c = db_conn(st);

	return c ? id_read(c, id, 0, 0, NULL, out) : -EIO;
}

/* Runs one write statement with a text and an integer under wlock. */
static int write1(store *st, const char *sql, const char *a, int64_t b)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	if ((rc = db_begin(c)) != 0)
		return rc;
	if (!(s = db_prep(c, sql)))
		rc = -EIO;
	if (!rc) {
		db_bind_str(s, 1, a);
		sql_bind_int64(s, 2, b);
		rc = sql_step(s);
		rc = db_err(rc);
		sql_finalize(s);
	}
	return db_end(c, rc);
}

int store_lightly_job_done(store *st, const char *id, int64_t tag)
{
	return write1(st, "UPDATE lightly_ids SET tag=?2 WHERE id=?1", id, tag);
}

int store_lightly_ds_get(store *st, int64_t dataset, char *buf, size_t len)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	if (!(s = db_prep(c, "SELECT img_type FROM lightly_ds WHERE dataset=?1")))
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	rc = sql_step(s);
	if (rc == SQL_ROW) {
		snprintf(buf, len, "%s", sql_col_text(s, 0));
		rc = 1;
	} else {
		rc = db_err(rc);
	}
	sql_finalize(s);
	return rc;
}

int store_lightly_ds_set(store *st, int64_t dataset, const char *img_type)
{
	return write1(st, "INSERT INTO lightly_ds(img_type,dataset)"
		      " VALUES(?1,?2) ON CONFLICT(dataset) DO UPDATE"
		      " SET img_type=excluded.img_type", img_type, dataset);
}

int store_lightly_claim(store *st, const char *sig, int64_t expires_ns)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	if ((rc = db_begin(c)) != 0)
		return rc;
	if (!(s = db_prep(c, "DELETE FROM lightly_used WHERE expires<?1"))) {
		rc = -EIO;
	} else {
		sql_bind_int64(s, 1, store_now_ns());
		rc = db_err(sql_step(s));
		sql_finalize(s);
	}
	if (!rc && !(s = db_prep(c, "INSERT INTO lightly_used(sig,expires)"
				 " VALUES(?1,?2)")))
		rc = -EIO;
	if (!rc) {
		db_bind_str(s, 1, sig);
		sql_bind_int64(s, 2, expires_ns);
		rc = sql_step(s);
		rc = db_err(rc);
		sql_finalize(s);
	}
	return db_end(c, rc);
}

void store_lightly_unclaim(store *st, const char *sig)
{
	(void)write1(st, "DELETE FROM lightly_used WHERE sig=?1 AND ?2=?2",
		     sig, 0);
}

/* The key from meta's 'lightly_key' row (64 hex) into key: 1 when there,
 * 0 when there is no row, -errno. */
static int key_read(struct conn *c, unsigned char key[STORE_LIGHTLY_KEY_LEN])
{
	sql_stmt *s = db_prep(c, "SELECT value FROM meta WHERE key='lightly_key'");
	const char *hex;
	int rc;

	if (!s)
		return -EIO;
	rc = sql_step(s);
	if (rc == SQL_ROW) {
		hex = sql_col_text(s, 0);
		rc = hex && strlen(hex) == 2 * STORE_LIGHTLY_KEY_LEN ? 1 : -EIO;
		for (size_t i = 0; rc == 1 && i < STORE_LIGHTLY_KEY_LEN; i++) {
			unsigned v;
			if (sscanf(hex + 2 * i, "%2x", &v) != 1)
				rc = -EIO;
			key[i] = (unsigned char)v;
		}
	} else {
		rc = db_err(rc);
	}
	sql_finalize(s);
	return rc;
}

/* An older store's STORE/lightly.key (32 bytes) into key: 0, or -errno
 * (-ENOENT when there is none). */
static int key_file(store *st, unsigned char key[STORE_LIGHTLY_KEY_LEN])
{
	char path[STORE_PATH_MAX];
	ssize_t got;
	int fd;

	if ((size_t)snprintf(path, sizeof(path), "%s/lightly.key", st->dir) >=
	    sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	got = read(fd, key, STORE_LIGHTLY_KEY_LEN);
	close(fd);
	return got == STORE_LIGHTLY_KEY_LEN ? 0 : -EIO;
}

int store_lightly_key(store *st, unsigned char key[STORE_LIGHTLY_KEY_LEN])
{
	struct conn *c = db_conn(st);
	unsigned char made[STORE_LIGHTLY_KEY_LEN];
	char hex[2 * STORE_LIGHTLY_KEY_LEN + 1];
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	if ((rc = key_read(c, key)) != 0)
		return rc < 0 ? rc : 0;
	/* None yet: an older store's file key (its signed URLs stay valid),
	 * else a new one. Every server of the catalog then reads the row the
	 * first writer left (ON CONFLICT: a second first user keeps it). */
	rc = key_file(st, made);
	if (rc == -ENOENT)
		rc = getrandom(made, sizeof(made), 0) == (ssize_t)sizeof(made) ?
			0 : -EIO;
	if (rc)
		return rc;
	s3_hex(made, sizeof(made), hex);
	explicit_bzero(made, sizeof(made));
	if ((rc = db_begin(c)) != 0)
		goto out;
	if (!(s = db_prep(c, "INSERT INTO meta(key, value)"
			  " VALUES('lightly_key', ?1) ON CONFLICT(key) DO NOTHING")))
		rc = -EIO;
	if (!rc) {
		db_bind_str(s, 1, hex);
		rc = db_err(sql_step(s));
		sql_finalize(s);
	}
	if ((rc = db_end(c, rc)) != 0)
		goto out;
	rc = key_read(c, key);
	rc = rc == 1 ? 0 : rc < 0 ? rc : -EIO;
out:
	explicit_bzero(hex, sizeof(hex));
	return rc;
}
