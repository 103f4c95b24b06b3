/*
 * db.c — the catalog's engine-neutral plumbing: per-thread connections,
 * the statement cache of `enum q`, the in-process write lock and the
 * writer connection (db.h), and the row helpers. Everything here goes
 * through sql.h; the engines (sql_sqlite.c, sql_pg.c) bring the rest,
 * their schema included.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"

static const char *const sql_text[Q_COUNT] = {
	[Q_NODE_GET] = "SELECT " NODE_COLS
		" FROM nodes n JOIN tags t ON t.id=n.tree WHERE n.ino=?1",
	[Q_NODE_LOOKUP] = "SELECT " NODE_COLS
		" FROM nodes n JOIN tags t ON t.id=n.tree"
		" WHERE n.parent=?1 AND n.name=?2",
	[Q_NODE_CHILDREN] = "SELECT " NODE_COLS
		" FROM nodes n JOIN tags t ON t.id=n.tree"
		" WHERE n.parent=?1 ORDER BY n.name",
	[Q_NODE_PATH] = "SELECT path FROM nodes WHERE ino=?1",
	[Q_NODE_INSERT] = "INSERT INTO nodes(tree,parent,name,path,kind,mode,"
		"uid,gid,size,mtime,ctime,sha,atime,srv) VALUES(?1,?2,?3,?4,?5,"
		"?6,?7,?8,?9,?10,?11,?12,?13,?14) RETURNING ino",
	[Q_NODE_DELETE] = "DELETE FROM nodes WHERE ino=?1",
	[Q_NODE_HAS_CHILD] = "SELECT 1 FROM nodes WHERE parent=?1 LIMIT 1",
	[Q_NODE_MOVE] = "UPDATE nodes SET parent=?2, name=?3, path=?4,"
		" ctime=?5 WHERE ino=?1",
	/* ?3 is the old path + '/', which every path moved starts with:
	 * substr(path, length(?3)) keeps that '/' and what follows. Both
	 * sides count in the engine's own units (sql.h), so the cut is
	 * right whatever the bytes of the names. */
	[Q_NODE_MOVE_SUBTREE] = "UPDATE nodes SET path=?1 ||"
		" substr(path, length(?3)) WHERE tree=?2 AND path>?3"
		" AND path<?4",
	[Q_NODE_SET_CONTENT] = "UPDATE nodes SET sha=?2, size=?3, mtime=?4,"
		" ctime=?5 WHERE ino=?1",
	[Q_NODE_BY_PATH] = "SELECT " NODE_COLS
		" FROM nodes n JOIN tags t ON t.id=n.tree"
		" WHERE n.tree=?1 AND n.path=?2",
	/* a thumbnail (kept.c) lives as long as a node names its original */
	[Q_SHA_REF] = "SELECT 1 FROM nodes WHERE sha=?1 UNION ALL"
		" SELECT 1 FROM thumbs t JOIN nodes n ON n.sha=t.sha"
		" WHERE t.thumb=?1 LIMIT 1",
	[Q_SEL_DEL_NODE] = "DELETE FROM selection WHERE node=?1",
	[Q_DS_GET] = "SELECT " DS_COLS " FROM datasets d"
		" WHERE d.owner=?1 AND d.name=?2",
	[Q_DS_GET_ID] = "SELECT " DS_COLS " FROM datasets d WHERE d.id=?1",
	[Q_TAG_GET] = "SELECT " TAG_COLS " FROM tags t"
		" WHERE t.dataset=?1 AND t.name=?2",
	[Q_TAG_GET_ID] = "SELECT " TAG_COLS " FROM tags t WHERE t.id=?1",
	[Q_FEAT_DEL] = "DELETE FROM features WHERE sha=?1",
	[Q_GRANT_DEL] = "DELETE FROM grants WHERE sha=?1",
	[Q_PENDING_DEL] = "DELETE FROM pending WHERE sha=?1",
	/* blob_collect spares a hash an upload has pending (blob.c) */
	[Q_PENDING_ANY] = "SELECT 1 FROM pending WHERE sha=?1 LIMIT 1",
	/* store_node_commit's check of a blob this process sent (blob.c) */
	[Q_PENDING_SAME] = "SELECT size FROM pending WHERE \"user\"=?1 AND"
		" sha=?2 AND put=?3",
	[Q_FEAT_GET] = "SELECT vec, err FROM features WHERE sha=?1 AND kind=?2",
	[Q_DIR_GEN] = "SELECT gen FROM dirgen WHERE ino=?1",
	/* store_blob_source (kept.c): every thumbnail request runs it */
	[Q_BLOB_SOURCE] = "SELECT 0 AS k, ?2 FROM grants"
		" WHERE \"user\"=?1 AND sha=?2"
		" UNION ALL"
		" SELECT 1, t.thumb FROM thumbs t JOIN grants g"
		" ON g.sha=t.thumb AND g.\"user\"=?1 WHERE t.sha=?2"
		" ORDER BY k",
	/* users_token_row and store_session_auth: every authenticated
	 * request runs one of them */
	[Q_TOKEN_ROW] = "SELECT \"user\", hash, id, last_used FROM tokens"
		" WHERE hash=?1 AND revoked=0",
	[Q_SESSION_ROW] = "SELECT s.\"user\", s.hash, t.id, t.last_used"
		" FROM sessions s JOIN tokens t ON t.id=s.token"
		" WHERE s.hash=?1 AND s.expires>?2 AND t.revoked=0",
	/* store_blob_granted: every GET of a blob or an image runs it */
	[Q_GRANT_GET] = "SELECT 1 FROM grants WHERE \"user\"=?1 AND sha=?2",
	[Q_EVENT_ADD] = "INSERT INTO events(dataset,ts,level,msg)"
		" VALUES(?1,?2,?3,?4)",
	[Q_NODE_TOUCH_DIR] = "UPDATE nodes SET mtime=?2, ctime=?2 WHERE ino=?1",
	[Q_EVENT_TRIM] = "DELETE FROM events WHERE dataset=?1 AND id<=coalesce("
		"(SELECT id FROM events WHERE dataset=?1 ORDER BY id DESC"
		" LIMIT 1 OFFSET 1000),0)",
};


static void conn_free(struct conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sql_finalize(c->stmt[i]);
	if (c->db)
		c->db->eng->disconnect(c->db);
	free(c);
}

/* pthread key destructor: the thread is exiting. */
static void conn_release(void *p)
{
	struct conn *c = p;
	store *st = c->st;

	pthread_mutex_lock(&st->conns_lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		st->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	pthread_mutex_unlock(&st->conns_lock);
	conn_free(c);
}

sql_stmt *db_prep(struct conn *c, const char *sql)
{
	sql_stmt *s = NULL;

	if (sql_prepare(c->db, sql, &s))
		return NULL;
	return s;
}

int db_exec(struct conn *c, const char *sql)
{
	return sql_exec(c->db, sql);
}

static struct conn *conn_open(store *st)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->st = st;
	if (st->db->eng->connect(st->db, &c->db)) {
		free(c);
		return NULL;
	}
	return c;
}

struct conn *db_conn(store *st)
{
	struct conn *c = pthread_getspecific(st->key);

	if (c)
		return c;
	c = conn_open(st);
	if (!c)
		return NULL;
	pthread_mutex_lock(&st->conns_lock);
	c->next = st->conns;
	if (st->conns)
		st->conns->prev = c;
	st->conns = c;
	pthread_mutex_unlock(&st->conns_lock);
	pthread_setspecific(st->key, c);
	return c;
}

sql_stmt *db_stmt(struct conn *c, enum q q)
{
	sql_stmt *s = c->stmt[q];

	if (!s) {
		if (sql_prepare(c->db, sql_text[q], &s))
			return NULL;
		c->stmt[q] = s;
	}
	sql_reset(s);
	return s;
}

/* Exchanges the handles and statements of c and the writer (under wlock). */
static void swap_writer(struct conn *c)
{
	struct conn *w = c->st->writer;
	sql_stmt *tmp[Q_COUNT];
	sql_conn *db = c->db;

	c->db = w->db;
	w->db = db;
	memcpy(tmp, c->stmt, sizeof(tmp));
	memcpy(c->stmt, w->stmt, sizeof(tmp));
	memcpy(w->stmt, tmp, sizeof(tmp));
}

int db_begin(struct conn *c)
{
	store *st = c->st;
	int rc;

	pthread_mutex_lock(&st->wlock);
	if (!st->writer && !(st->writer = conn_open(st))) {
		pthread_mutex_unlock(&st->wlock);
		return -EIO;
	}
	swap_writer(c);
	rc = c->db->eng->begin(c->db);
	if (rc)
		db_unlock(c);
	return rc;
}

void db_unlock(struct conn *c)
{
	swap_writer(c);
	pthread_mutex_unlock(&c->st->wlock);
}

int db_commit(struct conn *c, int durable)
{
	const struct sql_engine *e = c->db->eng;
	int rc;

	/* part "deploy": an armed idempotency key goes in with the change
	 * (store/idem.c) */
	rc = idem_on_commit(c);
	if (rc) {
		e->rollback(c->db);
		return rc;
	}
	if (durable && e->commit_durable)
		rc = e->commit_durable(c->db);
	else
		rc = e->commit(c->db);
	if (!rc)
		idem_committed(c);
	return rc;
}

int db_end(struct conn *c, int rc)
{
	if (rc == 0)
		rc = db_commit(c, 0);
	else
		c->db->eng->rollback(c->db);
	db_unlock(c);
	return rc;
}

int db_insert_id(sql_stmt *s, int64_t *id)
{
	int r = sql_step(s);

	if (r == SQL_ROW) {
		*id = sql_col_int64(s, 0);
		return 0;
	}
	return r < 0 ? r : -EIO;
}

int db_grow(void **v, size_t *cap, size_t n, size_t elem)
{
	size_t ncap;
	void *nv;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 16;
	nv = realloc(*v, ncap * elem);
	if (!nv)
		return -ENOMEM;
	*v = nv;
	*cap = ncap;
	return 0;
}

void db_node_row(sql_stmt *s, void *out)
{
	struct store_node *n = out;

	memset(n, 0, sizeof(*n));
	n->ino = sql_col_int64(s, 0);
	n->tree = sql_col_int64(s, 1);
	n->parent = sql_col_int64(s, 2);
	n->dataset = sql_col_int64(s, 3);
	n->tree_live = (int)sql_col_int64(s, 4);
	n->kind = (int)sql_col_int64(s, 5);
	n->mode = (uint32_t)sql_col_int64(s, 6);
	n->uid = (uint32_t)sql_col_int64(s, 7);
	n->gid = (uint32_t)sql_col_int64(s, 8);
	n->size = sql_col_int64(s, 9);
	n->mtime_ns = sql_col_int64(s, 10);
	n->ctime_ns = sql_col_int64(s, 11);
	if (sql_col_bytes(s, 12) == STORE_SHA_LEN) {
		memcpy(n->sha, sql_col_blob(s, 12), STORE_SHA_LEN);
		n->has_sha = 1;
	}
	snprintf(n->name, sizeof(n->name), "%s", sql_col_text(s, 13));
	n->atime_ns = sql_col_int64(s, 14);
	n->subdirs = sql_col_int64(s, 15);
}

int db_init_store(store *st)
{
	if (pthread_key_create(&st->key, conn_release))
		return -EAGAIN;
	pthread_mutex_init(&st->wlock, NULL);
	pthread_mutex_init(&st->conns_lock, NULL);
	pthread_mutex_init(&st->reserve_lock, NULL);
	return 0;
}

int db_open_catalog(store *st, char *msg)
{
	size_t len = strlen(st->dir) + sizeof("/catalog.db");
	char *path;
	int rc;

	if (st->catalog)
		return sql_engine_for(st->catalog)->open(st->catalog,
							 SQL_CREATE, &st->db,
							 msg);
	path = malloc(len);
	if (!path)
		return -ENOMEM;
	snprintf(path, len, "%s/catalog.db", st->dir);
	rc = sql_engine_for(path)->open(path, SQL_CREATE, &st->db, msg);
	free(path);
	return rc;
}

void db_close_all(store *st)
{
	struct conn *c = st->conns;

	while (c) {
		struct conn *next = c->next;
		conn_free(c);
		c = next;
	}
	st->conns = NULL;
	conn_free(st->writer);
	st->writer = NULL;
	if (st->db)
		st->db->eng->close(st->db);
	st->db = NULL;
	pthread_setspecific(st->key, NULL);
	pthread_key_delete(st->key);
	pthread_mutex_destroy(&st->wlock);
	pthread_mutex_destroy(&st->conns_lock);
	pthread_mutex_destroy(&st->reserve_lock);
}

int db_rows(sql_stmt *s, size_t elem, db_row_fn row, void **out,
	    size_t *n)
{
	char *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0, r;

	*out = NULL;
	*n = 0;
	while ((r = sql_step(s)) == SQL_ROW) {
		if ((rc = db_grow((void **)&v, &cap, cnt, elem)) != 0)
			break;
		row(s, v + cnt++ * elem);
	}
	if (!rc && r != SQL_DONE)
		rc = db_err(r);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}

int db_node_set_content(struct conn *c, int64_t ino, const unsigned char *sha,
			int64_t size, int64_t mtime_ns)
{
	sql_stmt *s = db_stmt(c, Q_NODE_SET_CONTENT);
	int64_t now = store_now_ns();
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, ino);
	sql_bind_blob(s, 2, sha, STORE_SHA_LEN);
	sql_bind_int64(s, 3, size);
	sql_bind_int64(s, 4, mtime_ns ? mtime_ns : now);
	sql_bind_int64(s, 5, now);
	rc = db_err(sql_step(s));
	sql_reset(s);
	return rc;
}
