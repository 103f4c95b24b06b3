/*
 * db.c — connections, statement cache, write lock, error translation and
 * schema for the catalog. See db.h for the threading design.
 *
 * Schema (version 1):
 *   datasets(id, uid, owner, name, created, live_tree, sel_tree, sel_explicit,
 *            tag_folders)  -- tag_folders added by migrate_tag_folders()
 *   tags(id, dataset, name, parent, created, root, files, bytes, live,
 *        uid)                   -- uid: see migrate_tag_uid()
 *   nodes(ino, tree, parent, name, path, kind, mode, uid, gid, size, mtime,
 *         ctime, sha, atime)   -- sha NULL on a file = upload pending;
 *                                 atime added by migrate_atime()
 *   selection(dataset, rank, node)  -- explicit selection, importance order
 *   events(id, dataset, ts, level, msg)
 *   users(name, created), tokens(id, user, hash, created, revoked)
 *                               -- server mode; hash = SHA-256 of the token
 *   sessions(hash, token, user, created, expires)
 *                               -- the web app's sign-ins, see sessions.c
 *   kept(sha), thumbs(sha, thumb, size)
 *                               -- upload=meta|thumbnails, see kept.c
 *   dirgen(ino, gen)            -- a folder's change counter, see below
 *   pending(user, sha, size, put)
 *                               -- uploads no node names yet, see users.c
 *   changes(dataset, kind, gen) -- a dataset's change counters, see below
 *   samples_gen(dataset, gen)   -- a live tree's change counter, table.c
 * tokens.name and tokens.last_used are added by migrate_tokens().
 * A tree root node has parent = -tree and name ''. Times are ns since epoch.
 *
 * Folder generations. dirgen.gen counts the changes to the rows of a
 * folder's children (a missing row reads as 0): triggers on `nodes` bump the
 * parent of every inserted, deleted or updated node (both parents on a
 * move), and a new thumbnail bumps the folders of the nodes naming its
 * original (a listing shows "thumb_sha") whose owner may see it (sent its
 * bytes: a grant, kept.c), as a new grant bumps that user's folders naming
 * an original it is the thumbnail of; another user's thumbnail moves no
 * counter of yours (it would tell you someone holds your file). Triggers, not code in the write
 * paths, so no write path, present or future, can forget it; the catalog
 * carries them, so even an older binary writing to this catalog keeps them
 * true. Updates of `path` alone (a renamed ancestor) do not count: a
 * listing does not show it. Inos are never reused (AUTOINCREMENT), so
 * (ino, gen) names one state of one folder for the catalog's life; the
 * server builds its ETags from it (api/routes_data.c). A folder's own row goes
 * with it. Cost: one upsert into a small table per node write.
 *
 * Dataset change counters. changes.gen counts, per dataset and kind, the
 * writes to what the web app shows (GET /v1/datasets/{id}/state, read in
 * one indexed range by store_changes_get, changes.c): 1 the tags (a tag
 * made, deleted, renamed), 2 the selection, 3 the runs (any write to a
 * run row), 4 the embeddings (their rows, the built-in embedder's state).
 * The live tree (kind 0 in the first version) is samples_gen's (table.c):
 * one counter per tree, so the state's "tree" is the sample table's gen.
 * A frozen tree's nodes change only with its tags row (made, deleted), so
 * no trigger on nodes is needed here. Triggers again, for the same reason
 * as dirgen: every door to the catalog (a mount, the server, a mount
 * serving the app) moves them in the transaction of its change. Cost: one
 * more upsert per row written to tags, runs and embeddings (the vectors
 * of an embedding are not counted, only its row). The selection is counted by its dataset row,
 * not its own rows: every write of a selection (set, append, reset, a
 * run's keep and finish, a tag's delete) also sets datasets.sel_tree and
 * sel_explicit in its transaction, which fires chg_sel_src once — a
 * trigger per selection row tripled the time of replacing a 100,000-row
 * selection (0.40 s to 1.19 s, Python's sqlite3, median of 5). The only
 * rows that go alone are those of a removed node, which moves the live
 * tree's counter (the state route adds it to the selection's when the
 * selection is taken from the live tree; a frozen tree's node goes only with its
 * tag, whose delete resets the selection). A new writer of selection rows
 * must keep that rule. Rows go with their dataset; ids are never reused,
 * so (dataset, kind, gen) names one state for the catalog's life.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

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
		"uid,gid,size,mtime,ctime,sha,atime) VALUES(?1,?2,?3,?4,?5,?6,"
		"?7,?8,?9,?10,?11,?12,?13)",
	[Q_NODE_DELETE] = "DELETE FROM nodes WHERE ino=?1",
	[Q_NODE_HAS_CHILD] = "SELECT 1 FROM nodes WHERE parent=?1 LIMIT 1",
	[Q_NODE_MOVE] = "UPDATE nodes SET parent=?2, name=?3, path=?4,"
		" ctime=?5 WHERE ino=?1",
	[Q_NODE_MOVE_SUBTREE] = "UPDATE nodes SET path=?1 ||"
		" CAST(substr(CAST(path AS BLOB),?2) AS TEXT)"
		" WHERE tree=?3 AND path>?4 AND path<?5",
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
	[Q_FEAT_GET] = "SELECT vec, err FROM features WHERE sha=?1 AND kind=?2",
	[Q_DIR_GEN] = "SELECT gen FROM dirgen WHERE ino=?1",
	/* store_blob_source (kept.c): every thumbnail request runs it */
	[Q_BLOB_SOURCE] = "SELECT 0 AS k, ?2 FROM grants"
		" WHERE user=?1 AND sha=?2"
		" UNION ALL"
		" SELECT 1, t.thumb FROM thumbs t JOIN grants g"
		" ON g.sha=t.thumb AND g.user=?1 WHERE t.sha=?2"
		" ORDER BY k",
	/* users_token_row and store_session_auth: every authenticated
	 * request runs one of them */
	[Q_TOKEN_ROW] = "SELECT user, hash, id, last_used FROM tokens"
		" WHERE hash=?1 AND revoked=0",
	[Q_SESSION_ROW] = "SELECT s.user, s.hash, t.id, t.last_used"
		" FROM sessions s JOIN tokens t ON t.id=s.token"
		" WHERE s.hash=?1 AND s.expires>?2 AND t.revoked=0",
	[Q_EVENT_ADD] = "INSERT INTO events(dataset,ts,level,msg)"
		" VALUES(?1,?2,?3,?4)",
	[Q_NODE_TOUCH_DIR] = "UPDATE nodes SET mtime=?2, ctime=?2 WHERE ino=?1",
	[Q_BEGIN] = "BEGIN IMMEDIATE",
	[Q_COMMIT] = "COMMIT",
	[Q_ROLLBACK] = "ROLLBACK",
	[Q_EVENT_TRIM] = "DELETE FROM events WHERE dataset=?1 AND id<=coalesce("
		"(SELECT id FROM events WHERE dataset=?1 ORDER BY id DESC"
		" LIMIT 1 OFFSET 1000),0)",
};

static const char schema[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)"
	" WITHOUT ROWID;"
	"INSERT OR IGNORE INTO meta VALUES('schema','1');"
	"CREATE TABLE IF NOT EXISTS datasets("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, uid TEXT NOT NULL UNIQUE,"
	" owner TEXT NOT NULL, name TEXT NOT NULL, created INTEGER NOT NULL,"
	" live_tree INTEGER NOT NULL DEFAULT 0,"
	" sel_tree INTEGER NOT NULL DEFAULT 0,"
	" sel_explicit INTEGER NOT NULL DEFAULT 0, UNIQUE(owner, name));"
	"CREATE TABLE IF NOT EXISTS tags("
	" id INTEGER PRIMARY KEY AUTOINCREMENT, dataset INTEGER NOT NULL,"
	" name TEXT NOT NULL, parent INTEGER NOT NULL DEFAULT 0,"
	" created INTEGER NOT NULL, root INTEGER NOT NULL DEFAULT 0,"
	" files INTEGER NOT NULL DEFAULT 0, bytes INTEGER NOT NULL DEFAULT 0,"
	" live INTEGER NOT NULL, UNIQUE(dataset, name));"
	"CREATE INDEX IF NOT EXISTS tags_parent ON tags(parent);"
	"CREATE TABLE IF NOT EXISTS nodes("
	" ino INTEGER PRIMARY KEY AUTOINCREMENT, tree INTEGER NOT NULL,"
	" parent INTEGER NOT NULL, name TEXT NOT NULL, path TEXT NOT NULL,"
	" kind INTEGER NOT NULL, mode INTEGER NOT NULL, uid INTEGER NOT NULL,"
	" gid INTEGER NOT NULL, size INTEGER NOT NULL DEFAULT 0,"
	" mtime INTEGER NOT NULL, ctime INTEGER NOT NULL, sha BLOB);"
	"CREATE UNIQUE INDEX IF NOT EXISTS nodes_dirent ON nodes(parent, name);"
	"CREATE UNIQUE INDEX IF NOT EXISTS nodes_path ON nodes(tree, path);"
	"CREATE INDEX IF NOT EXISTS nodes_sha ON nodes(sha)"
	" WHERE sha IS NOT NULL;"
	"CREATE TABLE IF NOT EXISTS selection(dataset INTEGER NOT NULL,"
	" rank INTEGER NOT NULL, node INTEGER NOT NULL,"
	" PRIMARY KEY(dataset, rank)) WITHOUT ROWID;"
	"CREATE UNIQUE INDEX IF NOT EXISTS selection_node"
	" ON selection(dataset, node);"
	"CREATE INDEX IF NOT EXISTS selection_bynode ON selection(node);"
	"CREATE TABLE IF NOT EXISTS events(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" dataset INTEGER NOT NULL, ts INTEGER NOT NULL, level INTEGER NOT NULL,"
	" msg TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS events_ds ON events(dataset, id);"
	"CREATE TABLE IF NOT EXISTS embeddings(id INTEGER PRIMARY KEY"
	" AUTOINCREMENT, dataset INTEGER NOT NULL, name TEXT NOT NULL,"
	" dim INTEGER NOT NULL, rows INTEGER NOT NULL, created INTEGER NOT NULL,"
	" UNIQUE(dataset, name));"
	"CREATE TABLE IF NOT EXISTS vectors(emb INTEGER NOT NULL,"
	" path TEXT NOT NULL, label INTEGER NOT NULL, vec BLOB NOT NULL,"
	" PRIMARY KEY(emb, path)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS runs(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" dataset INTEGER NOT NULL, request TEXT NOT NULL,"
	" strategy TEXT NOT NULL, n INTEGER NOT NULL, from_tag INTEGER NOT NULL,"
	" emb INTEGER NOT NULL, seed INTEGER NOT NULL, status INTEGER NOT NULL,"
	" done INTEGER NOT NULL DEFAULT 0, total INTEGER NOT NULL DEFAULT 0,"
	" skipped INTEGER NOT NULL DEFAULT 0, created INTEGER NOT NULL,"
	" started INTEGER NOT NULL DEFAULT 0, finished INTEGER NOT NULL"
	" DEFAULT 0, error TEXT NOT NULL DEFAULT '');"
	"CREATE INDEX IF NOT EXISTS runs_ds ON runs(dataset, id);"
	"CREATE TABLE IF NOT EXISTS scores(run INTEGER NOT NULL,"
	" rank INTEGER NOT NULL, path TEXT NOT NULL, score REAL NOT NULL,"
	" PRIMARY KEY(run, rank)) WITHOUT ROWID;"
	/* built-in embedder: raw features per blob and extractor (`kind`);
	 * vec NULL = the blob is not a usable image, err says why. A rowid
	 * table, see migrate_features_rowid() */
	"CREATE TABLE IF NOT EXISTS features(sha BLOB NOT NULL,"
	" kind TEXT NOT NULL, vec BLOB, err TEXT, UNIQUE(sha, kind));"
	/* the dataset's built-in embedding: its options, and a fingerprint of
	 * the files and options it was computed from ('' = never) */
	"CREATE TABLE IF NOT EXISTS builtin(dataset INTEGER PRIMARY KEY,"
	" params TEXT NOT NULL, fp TEXT NOT NULL DEFAULT '');"
	/* server mode: users, and their API tokens as SHA-256 hashes only */
	"CREATE TABLE IF NOT EXISTS users(name TEXT PRIMARY KEY,"
	" created INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS tokens(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" user TEXT NOT NULL, hash BLOB NOT NULL UNIQUE,"
	" created INTEGER NOT NULL, revoked INTEGER NOT NULL DEFAULT 0);"
	/* the web app's sessions (sessions.c): SHA-256 of the session id,
	 * the token that made it (tokens.id), expiry in ns; IF NOT EXISTS
	 * makes this the migration of an older catalog too */
	"CREATE TABLE IF NOT EXISTS sessions(hash BLOB PRIMARY KEY,"
	" token INTEGER NOT NULL, user TEXT NOT NULL,"
	" created INTEGER NOT NULL, expires INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS sessions_token ON sessions(token);"
	"CREATE INDEX IF NOT EXISTS sessions_expires ON sessions(expires);"
	/* who has sent which bytes (a verified blob PUT): only they may read
	 * or reference that blob, so knowing a hash is not enough */
	"CREATE TABLE IF NOT EXISTS grants(user TEXT NOT NULL,"
	" sha BLOB NOT NULL, PRIMARY KEY(user, sha)) WITHOUT ROWID;"
	/* blob_collect drops a collected blob's grants by sha alone */
	"CREATE INDEX IF NOT EXISTS grants_sha ON grants(sha);"
	/* upload=meta|thumbnails (kept.c): bytes kept by the uploader, and
	 * the thumbnail blob of an original */
	"CREATE TABLE IF NOT EXISTS kept(sha BLOB PRIMARY KEY) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS thumbs(sha BLOB NOT NULL,"
	" thumb BLOB NOT NULL, size INTEGER NOT NULL,"
	" PRIMARY KEY(sha, thumb)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS thumbs_thumb ON thumbs(thumb);"
	/* uploads no node names yet (users.c, "Pending blobs"): a row per
	 * verified PUT, gone when a node (or, as a thumbnail, a thumbs row)
	 * names the hash — triggers, so no commit path can forget — or with
	 * the blob */
	"CREATE TABLE IF NOT EXISTS pending(user TEXT NOT NULL,"
	" sha BLOB NOT NULL, size INTEGER NOT NULL, put INTEGER NOT NULL,"
	" PRIMARY KEY(user, sha)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS pending_sha ON pending(sha);"
	"CREATE INDEX IF NOT EXISTS pending_put ON pending(put);"
	"CREATE TRIGGER IF NOT EXISTS pending_named_ins AFTER INSERT ON nodes"
	" WHEN NEW.sha IS NOT NULL"
	" BEGIN DELETE FROM pending WHERE sha=NEW.sha; END;"
	"CREATE TRIGGER IF NOT EXISTS pending_named_upd AFTER UPDATE OF sha"
	" ON nodes WHEN NEW.sha IS NOT NULL"
	" BEGIN DELETE FROM pending WHERE sha=NEW.sha; END;"
	"CREATE TRIGGER IF NOT EXISTS pending_thumb_ins AFTER INSERT ON thumbs"
	" BEGIN DELETE FROM pending WHERE sha=NEW.thumb; END;"
	"CREATE TRIGGER IF NOT EXISTS pending_thumb_upd AFTER UPDATE OF thumb"
	" ON thumbs BEGIN DELETE FROM pending WHERE sha=NEW.thumb; END;"
	/* folder generations (see the top of this file); IF NOT EXISTS makes
	 * this the migration of an older catalog too */
	"CREATE TABLE IF NOT EXISTS dirgen(ino INTEGER PRIMARY KEY,"
	" gen INTEGER NOT NULL);"
#define BUMP(x) "INSERT INTO dirgen(ino, gen) VALUES(" x ", 1)" \
	" ON CONFLICT(ino) DO UPDATE SET gen=gen+1;"
	"CREATE TRIGGER IF NOT EXISTS nodes_gen_ins AFTER INSERT ON nodes"
	" BEGIN " BUMP("NEW.parent") " END;"
	"CREATE TRIGGER IF NOT EXISTS nodes_gen_del AFTER DELETE ON nodes"
	" BEGIN " BUMP("OLD.parent")
	" DELETE FROM dirgen WHERE ino=OLD.ino; END;"
	"CREATE TRIGGER IF NOT EXISTS nodes_gen_upd AFTER UPDATE OF parent,"
	" name, kind, mode, uid, gid, size, mtime, ctime, sha, tree ON nodes"
	" BEGIN " BUMP("OLD.parent") " END;"
	"CREATE TRIGGER IF NOT EXISTS nodes_gen_move AFTER UPDATE OF parent"
	" ON nodes WHEN NEW.parent<>OLD.parent"
	" BEGIN " BUMP("NEW.parent") " END;"
	"CREATE TRIGGER IF NOT EXISTS thumbs_gen AFTER INSERT ON thumbs"
	" BEGIN INSERT INTO dirgen(ino, gen) SELECT DISTINCT n.parent, 1"
	" FROM nodes n JOIN tags t ON t.id=n.tree"
	" JOIN datasets d ON d.id=t.dataset WHERE n.sha=NEW.sha"
	" AND (d.owner='' OR EXISTS (SELECT 1 FROM grants g"
	" WHERE g.user=d.owner AND g.sha=NEW.thumb))"
	" ON CONFLICT(ino) DO UPDATE SET gen=gen+1; END;"
	"CREATE TRIGGER IF NOT EXISTS grants_gen AFTER INSERT ON grants"
	" BEGIN INSERT INTO dirgen(ino, gen) SELECT DISTINCT n.parent, 1"
	" FROM thumbs th JOIN nodes n ON n.sha=th.sha"
	" JOIN tags t ON t.id=n.tree JOIN datasets d ON d.id=t.dataset"
	" WHERE th.thumb=NEW.sha AND d.owner=NEW.user"
	" ON CONFLICT(ino) DO UPDATE SET gen=gen+1; END;"
	/* per-dataset change counters (see the top of this file, "Dataset
	 * change counters"); kind: 0 tree, 1 tags, 2 selection, 3 runs,
	 * 4 embeddings. IF NOT EXISTS: the migration of an older catalog */
	"CREATE TABLE IF NOT EXISTS changes(dataset INTEGER NOT NULL,"
	" kind INTEGER NOT NULL, gen INTEGER NOT NULL,"
	" PRIMARY KEY(dataset, kind)) WITHOUT ROWID;"
#define CHG_UPSERT " ON CONFLICT(dataset, kind) DO UPDATE SET gen=gen+1;"
#define CHG(ds, kind) "INSERT INTO changes(dataset, kind, gen)" \
	" VALUES(" ds ", " kind ", 1)" CHG_UPSERT
	/* the live tree is counted by samples_gen (table.c): the node
	 * triggers of the first version of this table are dropped */
	"DROP TRIGGER IF EXISTS chg_nodes_ins;"
	"DROP TRIGGER IF EXISTS chg_nodes_del;"
	"DROP TRIGGER IF EXISTS chg_nodes_upd;"
	"DELETE FROM changes WHERE kind=0;"
	"CREATE TRIGGER IF NOT EXISTS chg_tags_ins AFTER INSERT ON tags"
	" BEGIN " CHG("NEW.dataset", "1") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_tags_del AFTER DELETE ON tags"
	" BEGIN " CHG("OLD.dataset", "1") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_tags_upd AFTER UPDATE OF name,"
	" parent, root, files, bytes ON tags"
	" BEGIN " CHG("NEW.dataset", "1") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_sel_src AFTER UPDATE OF sel_tree,"
	" sel_explicit ON datasets BEGIN " CHG("NEW.id", "2") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_runs_ins AFTER INSERT ON runs"
	" BEGIN " CHG("NEW.dataset", "3") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_runs_upd AFTER UPDATE ON runs"
	" BEGIN " CHG("NEW.dataset", "3") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_runs_del AFTER DELETE ON runs"
	" BEGIN " CHG("OLD.dataset", "3") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_emb_ins AFTER INSERT ON embeddings"
	" BEGIN " CHG("NEW.dataset", "4") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_emb_upd AFTER UPDATE ON embeddings"
	" BEGIN " CHG("NEW.dataset", "4") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_emb_del AFTER DELETE ON embeddings"
	" BEGIN " CHG("OLD.dataset", "4") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_builtin_ins AFTER INSERT ON builtin"
	" BEGIN " CHG("NEW.dataset", "4") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_builtin_upd AFTER UPDATE ON builtin"
	" BEGIN " CHG("NEW.dataset", "4") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_ds_del AFTER DELETE ON datasets"
	" BEGIN DELETE FROM changes WHERE dataset=OLD.id; END;";
#undef CHG
#undef CHG_UPSERT
#undef BUMP

int db_err(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK: case SQLITE_ROW: case SQLITE_DONE: return 0;
	case SQLITE_CONSTRAINT: return -EEXIST;
	case SQLITE_FULL: return -ENOSPC;
	case SQLITE_BUSY: case SQLITE_LOCKED: return -EBUSY;
	case SQLITE_NOMEM: return -ENOMEM;
	case SQLITE_READONLY: return -EROFS;
	default: return -EIO;
	}
}

static void conn_free(struct conn *c)
{
	if (!c)
		return;
	for (int i = 0; i < Q_COUNT; i++)
		sqlite3_finalize(c->stmt[i]);
	sqlite3_close(c->db);
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

sqlite3_stmt *db_prep(struct conn *c, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(c->db, sql, -1, &s, NULL))
		return NULL;
	return s;
}

int db_exec(struct conn *c, const char *sql)
{
	return db_err(sqlite3_exec(c->db, sql, NULL, NULL, NULL));
}

/* journal_size_limit: a WAL started over is cut back to this (bytes). */
#define WAL_LIMIT_BYTES "16777216"

static struct conn *conn_open(store *st)
{
	struct conn *c = calloc(1, sizeof(*c));
	char *path = NULL;
	int fd;

	if (!c)
		return NULL;
	c->st = st;
	size_t len = strlen(st->dir) + sizeof("/catalog.db");
	path = malloc(len);
	if (!path)
		goto fail;
	snprintf(path, len, "%s/catalog.db", st->dir);
	/* SQLite would create it 0644 less the umask, and its -wal and -shm
	 * with the same mode: make it owner-only first (store.h, "Modes"). */
	fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		  STORE_FILE_MODE);
	if (fd >= 0) {
		fchmod(fd, STORE_FILE_MODE);
		close(fd);
	}
	if (sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE |
			    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL))
		goto fail;
	sqlite3_busy_timeout(c->db, 10000);
	if (db_exec(c, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
		    "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16384;"
		    "PRAGMA journal_size_limit=" WAL_LIMIT_BYTES ";"))
		goto fail;
	free(path);
	return c;
fail:
	free(path);
	conn_free(c);
	return NULL;
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

sqlite3_stmt *db_stmt(struct conn *c, enum q q)
{
	sqlite3_stmt *s = c->stmt[q];

	if (!s) {
		if (sqlite3_prepare_v3(c->db, sql_text[q], -1,
				       SQLITE_PREPARE_PERSISTENT, &s, NULL))
			return NULL;
		c->stmt[q] = s;
	}
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
	return s;
}

int db_run(struct conn *c, enum q q)
{
	sqlite3_stmt *s = db_stmt(c, q);
	int rc;

	if (!s)
		return -EIO;
	rc = db_err(sqlite3_step(s));
	sqlite3_reset(s);
	return rc;
}

/* WAL size (pages) at which the checkpointer is woken: SQLite's default. */
#define CKPT_PAGES 1000
/* WAL size (pages) past which a round ends with a RESTART under wlock:
 * journal_size_limit's 16 MiB in 4 KiB pages. Below it, the WAL is
 * started over only when a commit happens to find it all copied back. */
#define CKPT_RESTART_PAGES 4096
/* No commit for this long: the WAL is checkpointed and truncated to 0. */
#define CKPT_IDLE_MS 1000
/* How long a checkpoint under wlock waits for readers to leave the WAL
 * (the checkpointer's busy timeout); past it, it gives up until the next
 * round, so writers never wait longer than this for it. */
#define CKPT_READER_WAIT_MS 200

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A checkpoint of `mode` (RESTART or TRUNCATE) under wlock: no commit adds
 * frames while it runs, so it backfills the WAL to its end and leaves it
 * to be started over (RESTART: by the next commit, which also cuts the
 * file to journal_size_limit; TRUNCATE: now, to 0 bytes). 0, or -EBUSY
 * when a reader kept a snapshot in the WAL for CKPT_READER_WAIT_MS. */
static int ckpt_locked(store *st, struct conn *c, int mode)
{
	int rc;

	pthread_mutex_lock(&st->wlock);
	rc = sqlite3_wal_checkpoint_v2(c->db, NULL, mode, NULL, NULL);
	pthread_mutex_unlock(&st->wlock);
	return db_err(rc);
}

/* Waits (under ckpt_lock) for work: a WAL past CKPT_PAGES, or the end of
 * CKPT_IDLE_MS without commits after one; 0 when told to stop. */
static int ckpt_wait(store *st)
{
	while (!st->ckpt_stop && !st->ckpt_want) {
		if (!st->ckpt_dirty) {
			pthread_cond_wait(&st->ckpt_cond, &st->ckpt_lock);
			continue;
		}
		int64_t due = st->ckpt_last + CKPT_IDLE_MS, now = mono_ms();
		if (now >= due)
			return 1;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t ns = ts.tv_nsec + (due - now) * 1000000;
		ts.tv_sec += ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		pthread_cond_timedwait(&st->ckpt_cond, &st->ckpt_lock, &ts);
	}
	return !st->ckpt_stop;
}

/* The checkpointer thread (db.h, "Checkpoints"). */
static void *checkpointer(void *arg)
{
	store *st = arg;
	struct conn *c = conn_open(st);

	if (c)
		sqlite3_busy_timeout(c->db, CKPT_READER_WAIT_MS);
	pthread_mutex_lock(&st->ckpt_lock);
	while (ckpt_wait(st)) {
		int frames = 0, want = st->ckpt_want;

		st->ckpt_want = 0;
		if (!want)
			st->ckpt_dirty = 0;   /* a commit from now on sets it */
		pthread_mutex_unlock(&st->ckpt_lock);
		if (c && want) {
			/* the bulk beside the writers; once the WAL is past
			 * the size kept, the tail under wlock */
			sqlite3_wal_checkpoint_v2(c->db, NULL,
						  SQLITE_CHECKPOINT_PASSIVE,
						  &frames, NULL);
			if (frames >= CKPT_RESTART_PAGES)
				ckpt_locked(st, c, SQLITE_CHECKPOINT_RESTART);
		}
		int busy = c && !want &&
			   ckpt_locked(st, c, SQLITE_CHECKPOINT_TRUNCATE);
		pthread_mutex_lock(&st->ckpt_lock);
		if (want)
			st->ckpt_frames = frames;
		else if (!c || busy) {
			/* a reader stayed: try again after another idle time */
			st->ckpt_dirty = c != NULL;
			st->ckpt_last = mono_ms();
		}
	}
	pthread_mutex_unlock(&st->ckpt_lock);
	conn_free(c);
	return NULL;
}

/* The writer's WAL hook (under wlock), after every commit: notes the time
 * for the idle truncation and, past CKPT_PAGES, wakes the checkpointer
 * (started at the first commit); if no thread can be made, checkpoints
 * here as SQLite would have. */
static int wal_hook(void *arg, sqlite3 *db, const char *name, int pages)
{
	store *st = arg;
	int inline_ckpt = 0, wake;

	(void)name;
	pthread_mutex_lock(&st->ckpt_lock);
	wake = !st->ckpt_dirty;        /* it waits with no deadline */
	st->ckpt_dirty = 1;
	st->ckpt_last = mono_ms();
	/* The WAL keeps its size after a checkpoint until a writer starts
	 * it over: count the frames added since. */
	if (pages < st->ckpt_frames)
		st->ckpt_frames = 0;
	if (pages - st->ckpt_frames >= CKPT_PAGES) {
		st->ckpt_frames = pages;       /* until the checkpoint reports */
		st->ckpt_want = 1;
		wake = 1;
	}
	if (!st->ckpt_running && !st->ckpt_stop) {
		st->ckpt_running = pthread_create(&st->ckpt_thread, NULL,
						  checkpointer, st) == 0;
		inline_ckpt = !st->ckpt_running && st->ckpt_want;
	}
	if (wake)
		pthread_cond_signal(&st->ckpt_cond);
	pthread_mutex_unlock(&st->ckpt_lock);
	if (inline_ckpt)
		sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE,
					  NULL, NULL);
	return SQLITE_OK;
}

static void checkpointer_stop(store *st)
{
	int running;

	pthread_mutex_lock(&st->ckpt_lock);
	st->ckpt_stop = 1;
	running = st->ckpt_running;
	st->ckpt_running = 0;
	pthread_cond_signal(&st->ckpt_cond);
	pthread_mutex_unlock(&st->ckpt_lock);
	if (running)
		pthread_join(st->ckpt_thread, NULL);
}

/* The connection every write transaction runs on (db.h), with its WAL
 * hook; NULL if it cannot be opened. Under wlock. */
static struct conn *writer_open(store *st)
{
	struct conn *w = conn_open(st);

	if (w)
		sqlite3_wal_hook(w->db, wal_hook, st);
	return w;
}

/* Exchanges the handles and statements of c and the writer (under wlock). */
static void swap_writer(struct conn *c)
{
	struct conn *w = c->st->writer;
	sqlite3_stmt *tmp[Q_COUNT];
	sqlite3 *db = c->db;

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
	if (!st->writer && !(st->writer = writer_open(st))) {
		pthread_mutex_unlock(&st->wlock);
		return -EIO;
	}
	swap_writer(c);
	rc = db_run(c, Q_BEGIN);
	if (rc)
		db_unlock(c);
	return rc;
}

void db_unlock(struct conn *c)
{
	swap_writer(c);
	pthread_mutex_unlock(&c->st->wlock);
}

int db_end(struct conn *c, int rc)
{
	if (rc == 0)
		rc = db_run(c, Q_COMMIT);
	if (rc)
		db_run(c, Q_ROLLBACK);
	db_unlock(c);
	return rc;
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

void db_node_row(sqlite3_stmt *s, void *out)
{
	struct store_node *n = out;

	memset(n, 0, sizeof(*n));
	n->ino = sqlite3_column_int64(s, 0);
	n->tree = sqlite3_column_int64(s, 1);
	n->parent = sqlite3_column_int64(s, 2);
	n->dataset = sqlite3_column_int64(s, 3);
	n->tree_live = sqlite3_column_int(s, 4);
	n->kind = sqlite3_column_int(s, 5);
	n->mode = (uint32_t)sqlite3_column_int(s, 6);
	n->uid = (uint32_t)sqlite3_column_int64(s, 7);
	n->gid = (uint32_t)sqlite3_column_int64(s, 8);
	n->size = sqlite3_column_int64(s, 9);
	n->mtime_ns = sqlite3_column_int64(s, 10);
	n->ctime_ns = sqlite3_column_int64(s, 11);
	if (sqlite3_column_bytes(s, 12) == STORE_SHA_LEN) {
		memcpy(n->sha, sqlite3_column_blob(s, 12), STORE_SHA_LEN);
		n->has_sha = 1;
	}
	const unsigned char *name = sqlite3_column_text(s, 13);
	if (name)
		snprintf(n->name, sizeof(n->name), "%s", (const char *)name);
	n->atime_ns = sqlite3_column_int64(s, 14);
	n->subdirs = sqlite3_column_int64(s, 15);
}

/* Adds column `col` (declared `decl`) to `table` unless it is there: the
 * migration step of a catalog made before the column existed. Returns 1
 * if it added the column, 0 if it was there, or -errno. Idempotent;
 * table, col and decl are our own constants, never user input. */
static int add_column(struct conn *c, const char *table, const char *col,
		      const char *decl)
{
	sqlite3_stmt *s = db_prep(c, "SELECT 1 FROM pragma_table_info(?1)"
				  " WHERE name=?2");
	char sql[160];
	int r;

	if (!s)
		return -EIO;
	sqlite3_bind_text(s, 1, table, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, col, -1, SQLITE_STATIC);
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	if (r == SQLITE_ROW)
		return 0;
	if (r != SQLITE_DONE)
		return db_err(r);
	snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", table,
		 col, decl);
	r = db_exec(c, sql);
	return r ? r : 1;
}

/* nodes.atime (access time, kept apart from mtime since issue 10): added
 * to a catalog made before it, with atime = mtime, once. Idempotent: the
 * column is looked for first, so a catalog that has it is left alone. */
static int migrate_atime(struct conn *c)
{
	int rc = add_column(c, "nodes", "atime", "INTEGER NOT NULL DEFAULT 0");

	if (rc == 1)
		rc = db_exec(c, "UPDATE nodes SET atime=mtime");
	return rc < 0 ? rc : 0;
}

/* datasets.tag_folders (issue 16: enum store_tag_folders, which folders
 * a new tag gets): a catalog made before gets the column, 0 = all, as
 * every tag was made. Idempotent. */
static int migrate_tag_folders(struct conn *c)
{
	int rc = add_column(c, "datasets", "tag_folders",
			    "INTEGER NOT NULL DEFAULT 0");

	return rc < 0 ? rc : 0;
}

/* features was a WITHOUT ROWID table: its rows (a vector of ~1.8 KB) are
 * past the ~1 KB such a b-tree keeps in a page, so each spilled onto an
 * overflow page of its own, two-thirds empty: 4.7 KB of catalog per image
 * for 1.8 KB of data (issue 16: 23 of 26 MB after embedding 5,000 PNGs).
 * A rowid table keeps rows up to ~4 KB in its leaves: ~2 KB per image.
 * An older catalog's table is rebuilt once (the freed pages are reused by
 * later writes; VACUUM would give them back to the disk). */
static int migrate_features_rowid(struct conn *c)
{
	sqlite3_stmt *s = db_prep(c, "SELECT 1 FROM sqlite_master WHERE"
				  " type='table' AND name='features' AND"
				  " sql LIKE '%WITHOUT ROWID%'");
	int r;

	if (!s)
		return -EIO;
	r = sqlite3_step(s);
	sqlite3_finalize(s);
	if (r == SQLITE_DONE)
		return 0;
	if (r != SQLITE_ROW)
		return db_err(r);
	return db_exec(c, "CREATE TABLE features_v3(sha BLOB NOT NULL,"
		       " kind TEXT NOT NULL, vec BLOB, err TEXT,"
		       " UNIQUE(sha, kind));"
		       "INSERT INTO features_v3(sha, kind, vec, err)"
		       " SELECT sha, kind, vec, err FROM features;"
		       "DROP TABLE features;"
		       "ALTER TABLE features_v3 RENAME TO features;");
}

/* A folder's st_nlink is 2 + its child folders (as on ext4; find's leaf
 * optimisation relies on it): NODE_COLS counts them through this partial
 * index, so the count costs one index range of folders only, never a scan
 * of a big folder's files. IF NOT EXISTS: its own migration. */
static int migrate_subdirs(struct conn *c)
{
	return db_exec(c, "CREATE INDEX IF NOT EXISTS nodes_subdir"
		       " ON nodes(parent) WHERE kind=1");
}

/* Tags have a public 24-hex uid like datasets (issue 10). A catalog made
 * before gets the column, and each of its tags a random uid, here; the
 * column is added rather than in CREATE TABLE so this one path serves old
 * and new catalogs alike. Idempotent: runs on every open, costs one
 * indexed probe once every tag has its uid. */
static int migrate_tag_uid(struct conn *c)
{
	int rc = add_column(c, "tags", "uid", "TEXT");

	if (rc >= 0)
		rc = db_exec(c, "CREATE UNIQUE INDEX IF NOT EXISTS tags_uid"
			     " ON tags(uid);"
			     "UPDATE tags SET uid=lower(hex(randomblob(12)))"
			     " WHERE uid IS NULL");
	return rc;
}

/* Runs are numbered per dataset (runs.seq, shown to users; the id stays
 * the catalog-wide key) and remember how many candidates they ranked.
 * Catalogs made before lack both columns: add them and number their runs
 * in id order. Idempotent; inside db_schema's transaction. */
static int migrate_runs_seq(struct conn *c)
{
	int rc = add_column(c, "runs", "seq", "INTEGER NOT NULL DEFAULT 0");

	if (rc >= 0)
		rc = add_column(c, "runs", "candidates",
				"INTEGER NOT NULL DEFAULT 0");
	if (rc >= 0)
		rc = db_exec(c, "UPDATE runs SET seq=(SELECT count(*) FROM runs"
			     " r2 WHERE r2.dataset=runs.dataset AND"
			     " r2.id<=runs.id) WHERE seq=0");
	return rc;
}

/* Tokens have a name (shown in the app's preferences, set at creation)
 * and the time they last authenticated (users.c: written at most once a
 * minute). A catalog made before gets both columns, empty and never used.
 * Idempotent. */
static int migrate_tokens(struct conn *c)
{
	int rc = add_column(c, "tokens", "name", "TEXT NOT NULL DEFAULT ''");

	if (rc >= 0)
		rc = add_column(c, "tokens", "last_used",
				"INTEGER NOT NULL DEFAULT 0");
	if (rc >= 0)
		rc = db_exec(c, "CREATE INDEX IF NOT EXISTS tokens_user"
			     " ON tokens(user)");
	return rc < 0 ? rc : 0;
}

/* Thumbnails were one per original (thumbs.sha the key): a second user's
 * kept commit of the same hash replaced the first one's. Now one row per
 * (original, thumbnail), each user seeing those they sent (kept.c). An
 * older table is rebuilt (its index and triggers go with it; the schema
 * makes them again). Inside db_schema's transaction. */
static int migrate_thumbs(struct conn *c)
{
	sqlite3_stmt *s = db_prep(c, "SELECT pk FROM pragma_table_info('thumbs')"
				  " WHERE name='thumb'");
	int r, old;

	if (!s)
		return -EIO;
	r = sqlite3_step(s);
	old = r == SQLITE_ROW && sqlite3_column_int(s, 0) == 0;
	sqlite3_finalize(s);
	if (r != SQLITE_ROW)
		return db_err(r) ? db_err(r) : -EIO;
	if (!old)
		return 0;
	/* grants_gen names thumbs: dropped first, or the rename fails */
	r = db_exec(c, "DROP TRIGGER IF EXISTS grants_gen;"
		    "CREATE TABLE thumbs_v2(sha BLOB NOT NULL,"
		    " thumb BLOB NOT NULL, size INTEGER NOT NULL,"
		    " PRIMARY KEY(sha, thumb)) WITHOUT ROWID;"
		    "INSERT INTO thumbs_v2 SELECT sha, thumb, size FROM thumbs;"
		    "DROP TABLE thumbs;"
		    "ALTER TABLE thumbs_v2 RENAME TO thumbs;");
	return r ? r : db_exec(c, schema);
}

int db_schema(struct conn *c)
{
	int rc = db_begin(c);

	if (rc)
		return rc;
	rc = db_exec(c, schema);
	if (!rc)
		rc = migrate_thumbs(c);
	if (!rc)
		rc = migrate_tag_uid(c);
	if (!rc)
		rc = migrate_atime(c);
	if (!rc)
		rc = migrate_subdirs(c);
	if (!rc)
		rc = migrate_tag_folders(c);
	if (!rc)
		rc = migrate_features_rowid(c);
	/* Stores made before grants existed: their users keep reading what
	 * their nodes name (once, marked in meta). Such a store trusted a
	 * hash; the grants start from that state. */
	if (!rc)
		rc = db_exec(c, "INSERT OR IGNORE INTO grants(user, sha)"
			     " SELECT DISTINCT d.owner, n.sha FROM nodes n"
			     " JOIN tags t ON t.id=n.tree"
			     " JOIN datasets d ON d.id=t.dataset"
			     " WHERE d.owner<>'' AND n.sha IS NOT NULL"
			     " AND NOT EXISTS (SELECT 1 FROM meta"
			     " WHERE key='grants_v1');"
			     "INSERT OR IGNORE INTO meta(key, value)"
			     " VALUES('grants_v1', '1')");
	/* Features are keyed by the bytes read (features.c) since grants
	 * gate the embedder: drop, once, rows of the old keying (computed
	 * from a thumbnail under the original's hash, or a cached "bytes not
	 * on the server" that is now a fact about a user, not the bytes). */
	if (!rc)
		rc = db_exec(c, "DELETE FROM features WHERE (sha IN"
			     " (SELECT sha FROM thumbs) OR err LIKE"
			     " 'no vector: bytes not on the server%')"
			     " AND NOT EXISTS (SELECT 1 FROM meta"
			     " WHERE key='features_v2');"
			     "INSERT OR IGNORE INTO meta(key, value)"
			     " VALUES('features_v2', '1')");
	if (!rc)
		rc = migrate_runs_seq(c);
	if (!rc)
		rc = migrate_tokens(c);
	if (!rc)
		rc = table_schema(c);
	return db_end(c, rc);
}

int db_init_store(store *st)
{
	if (pthread_key_create(&st->key, conn_release))
		return -EAGAIN;
	pthread_mutex_init(&st->wlock, NULL);
	pthread_mutex_init(&st->conns_lock, NULL);
	pthread_mutex_init(&st->reserve_lock, NULL);
	pthread_mutex_init(&st->ckpt_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&st->ckpt_cond, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

void db_close_all(store *st)
{
	struct conn *c = st->conns;

	checkpointer_stop(st);
	while (c) {
		struct conn *next = c->next;
		conn_free(c);
		c = next;
	}
	st->conns = NULL;
	conn_free(st->writer);
	st->writer = NULL;
	pthread_setspecific(st->key, NULL);
	pthread_key_delete(st->key);
	pthread_mutex_destroy(&st->wlock);
	pthread_mutex_destroy(&st->conns_lock);
	pthread_mutex_destroy(&st->reserve_lock);
	pthread_mutex_destroy(&st->ckpt_lock);
	pthread_cond_destroy(&st->ckpt_cond);
}

int db_rows(sqlite3_stmt *s, size_t elem, db_row_fn row, void **out,
	    size_t *n)
{
	char *v = NULL;
	size_t cnt = 0, cap = 0;
	int rc = 0, r;

	*out = NULL;
	*n = 0;
	while ((r = sqlite3_step(s)) == SQLITE_ROW) {
		if ((rc = db_grow((void **)&v, &cap, cnt, elem)) != 0)
			break;
		row(s, v + cnt++ * elem);
	}
	if (!rc && r != SQLITE_DONE)
		rc = db_err(r);
	if (rc) {
		free(v);
		return rc;
	}
	*out = v;
	*n = cnt;
	return 0;
}
