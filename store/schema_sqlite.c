/*
 * schema_sqlite.c — the SQLite engine's catalog schema (sql_sqlite.c runs
 * it at open when SQL_CREATE is given): tables, indexes, triggers, and the
 * upgrades of catalogs made by older versions. The PostgreSQL engine's
 * schema (schema_pg.c) follows this one: same tables, columns and
 * triggers' effects. Engine-internal, so it speaks SQLite's own API and
 * dialect (PRAGMA, sqlite_master, WITHOUT ROWID, randomblob); the
 * catalog's code (catalog.c, users.c, ...) never does.
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
 *   idem(user, key, created, status, ctype, body)
 *                               -- idempotency keys of requests, idem.c
 *   rate_buckets(user, tokens, at, took)
 *                               -- request budgets shared by servers, users.c
 *   meta 'epoch'                -- the catalog's random epoch (ETags),
 *                                  changes.c
 *   dups_settings(dataset, max_distance, emb)
 *                               -- a dataset's `duplicates` setting,
 *                                  core/dups_run.c (dups_schema below)
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
#include <stdio.h>
#include <string.h>

#include "sql_sqlite.h"

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
	/* issue 21's selection inputs (inputs.c), PostgreSQL's version 3;
	 * IF NOT EXISTS: also the migration of an older catalog */
	"CREATE TABLE IF NOT EXISTS inputs(id INTEGER PRIMARY KEY,"
	" dataset INTEGER NOT NULL, kind INTEGER NOT NULL, name TEXT NOT NULL,"
	" rows INTEGER NOT NULL, cols INTEGER NOT NULL, bytes INTEGER NOT NULL,"
	" created INTEGER NOT NULL, body BLOB NOT NULL,"
	" UNIQUE(dataset, kind, name));"
	"CREATE TRIGGER IF NOT EXISTS chg_inputs_ins AFTER INSERT ON inputs"
	" BEGIN " CHG("NEW.dataset", "4") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_inputs_del AFTER DELETE ON inputs"
	" BEGIN " CHG("OLD.dataset", "4") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_builtin_ins AFTER INSERT ON builtin"
	" BEGIN " CHG("NEW.dataset", "4") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_builtin_upd AFTER UPDATE ON builtin"
	" BEGIN " CHG("NEW.dataset", "4") " END;"
	"CREATE TRIGGER IF NOT EXISTS chg_ds_del AFTER DELETE ON datasets"
	" BEGIN DELETE FROM changes WHERE dataset=OLD.id; END;"
	/* the lightly door's records (lightly.c); IF NOT EXISTS: also the
	 * tables a catalog got from the door's first write before they were
	 * made here (the same columns) */
	"CREATE TABLE IF NOT EXISTS lightly_ids(id TEXT PRIMARY KEY,"
	" kind INTEGER NOT NULL, dataset INTEGER NOT NULL, name TEXT NOT NULL,"
	" ref INTEGER NOT NULL DEFAULT 0, tag INTEGER NOT NULL DEFAULT 0,"
	" UNIQUE(kind, dataset, name));"
	"CREATE TABLE IF NOT EXISTS lightly_ds(dataset INTEGER PRIMARY KEY,"
	" img_type TEXT NOT NULL);"
	"CREATE TABLE IF NOT EXISTS lightly_used(sig TEXT PRIMARY KEY,"
	" expires INTEGER NOT NULL);"
	/* part "deploy" (issue 19 item 8): idempotency keys of state-changing
	 * requests (idem.c): status 0 = recorded with the change, no answer
	 * stored yet; IF NOT EXISTS: also the migration of an older catalog */
	"CREATE TABLE IF NOT EXISTS idem(user TEXT NOT NULL, key TEXT NOT NULL,"
	" created INTEGER NOT NULL, status INTEGER NOT NULL,"
	" ctype TEXT NOT NULL DEFAULT '', body BLOB,"
	" PRIMARY KEY(user, key)) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS idem_created ON idem(created);";
#undef CHG
#undef CHG_UPSERT
#undef BUMP

/* The sample table's counter and its triggers (table.c, where its design
 * is described). IF NOT EXISTS: also the migration of an older catalog. */
/* the dataset's row exists (samples_gen_new): an UPDATE, not an upsert */
#define BUMP_LIVE(tree) "UPDATE samples_gen SET gen=gen+1 WHERE dataset=" \
	"(SELECT dataset FROM tags WHERE id=" tree " AND live<>0);"

static const char table_schema[] =
	"CREATE TABLE IF NOT EXISTS samples_gen(dataset INTEGER PRIMARY KEY,"
	" gen INTEGER NOT NULL);"
	/* the first version's node triggers upserted (and counted folder
	 * touches): replaced by the samples_live_* ones below */
	"DROP TRIGGER IF EXISTS samples_gen_ins;"
	"DROP TRIGGER IF EXISTS samples_gen_del;"
	"DROP TRIGGER IF EXISTS samples_gen_upd;"
	"INSERT OR IGNORE INTO samples_gen(dataset, gen)"
	" SELECT id, 0 FROM datasets;"
	"CREATE TRIGGER IF NOT EXISTS samples_gen_new AFTER INSERT ON datasets"
	" BEGIN INSERT OR IGNORE INTO samples_gen(dataset, gen)"
	" VALUES(NEW.id, 0); END;"
	"CREATE TRIGGER IF NOT EXISTS samples_live_ins AFTER INSERT ON nodes"
	" BEGIN " BUMP_LIVE("NEW.tree") " END;"
	"CREATE TRIGGER IF NOT EXISTS samples_live_del AFTER DELETE ON nodes"
	" BEGIN " BUMP_LIVE("OLD.tree") " END;"
	/* a folder counts only when it moves or is renamed (its subtree's
	 * paths change); its times, mode and owner are in no row */
	"CREATE TRIGGER IF NOT EXISTS samples_live_upd AFTER UPDATE OF parent,"
	" name, kind, mode, uid, gid, size, mtime, ctime, sha, tree ON nodes"
	" WHEN OLD.kind<>1 OR NEW.parent<>OLD.parent OR NEW.name<>OLD.name"
	" OR NEW.tree<>OLD.tree"
	" BEGIN " BUMP_LIVE("OLD.tree") " END;"
	"CREATE TRIGGER IF NOT EXISTS samples_gen_grant AFTER INSERT ON grants"
	" WHEN EXISTS (SELECT 1 FROM kept WHERE sha=NEW.sha)"
	" BEGIN INSERT INTO samples_gen(dataset, gen) SELECT DISTINCT"
	" t.dataset, 1 FROM nodes n JOIN tags t ON t.id=n.tree"
	" JOIN datasets d ON d.id=t.dataset WHERE n.sha=NEW.sha"
	" AND t.live<>0 AND d.owner=NEW.user"
	" ON CONFLICT(dataset) DO UPDATE SET gen=gen+1; END;"
	"CREATE TRIGGER IF NOT EXISTS samples_gen_ds AFTER DELETE ON datasets"
	" BEGIN DELETE FROM samples_gen WHERE dataset=OLD.id; END;";
#undef BUMP_LIVE

/* ---- state (issue 19: a server's memory in the catalog) ----
 * The catalog's epoch: 16 random hex digits made with the schema (and
 * once for a catalog made before it), in every ETag and table gen, so all
 * servers on the catalog name one state alike (changes.c). The request
 * budgets of users, taken by servers in leases (users.c,
 * store_rate_lease). IF NOT EXISTS / OR IGNORE: also the upgrade. */
static const char state_schema[] =
	"INSERT OR IGNORE INTO meta(key, value)"
	" VALUES('epoch', lower(hex(randomblob(8))));"
	"CREATE TABLE IF NOT EXISTS rate_buckets(user TEXT PRIMARY KEY,"
	" tokens REAL NOT NULL, at INTEGER NOT NULL, took REAL NOT NULL)"
	" WITHOUT ROWID;";

/* ---- the `duplicates` setting (issue 21, kept in the catalog since
 * session 27; PostgreSQL's version 4): what a user wrote to a dataset's
 * `duplicates` file ("max_distance=D embedding=NAME"), one row a dataset
 * with a near-duplicate search set (none: exact duplicates only), so a
 * restart keeps it and servers sharing the catalog agree. The embedding is
 * named, not referenced: deleting it leaves the row, and the file then
 * says the embedding was deleted (core/dups_run.c). The row goes with its
 * dataset (store_dataset_delete). IF NOT EXISTS: also the upgrade. */
static const char dups_schema[] =
	"CREATE TABLE IF NOT EXISTS dups_settings(dataset INTEGER PRIMARY KEY,"
	" max_distance REAL NOT NULL, emb TEXT NOT NULL);";

/* Runs SQL without results on h. 0 or -errno. */
static int exec(sqlite3 *h, const char *sql)
{
	return sqlite_err(sqlite3_exec(h, sql, NULL, NULL, NULL));
}

static sqlite3_stmt *prep(sqlite3 *h, const char *sql)
{
	sqlite3_stmt *s = NULL;

	if (sqlite3_prepare_v2(h, sql, -1, &s, NULL)) {
		sqlite3_finalize(s);
		return NULL;
	}
	return s;
}

/* Adds column `col` (declared `decl`) to `table` unless it is there: the
 * migration step of a catalog made before the column existed. Returns 1
 * if it added the column, 0 if it was there, or -errno. Idempotent;
 * table, col and decl are our own constants, never user input. */
static int add_column(sqlite3 *h, const char *table, const char *col,
		      const char *decl)
{
	sqlite3_stmt *s = prep(h, "SELECT 1 FROM pragma_table_info(?1)"
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
		return sqlite_err(r);
	snprintf(sql, sizeof(sql), "ALTER TABLE %s ADD COLUMN %s %s", table,
		 col, decl);
	r = exec(h, sql);
	return r ? r : 1;
}

/* nodes.atime (access time, kept apart from mtime since issue 10): added
 * to a catalog made before it, with atime = mtime, once. Idempotent: the
 * column is looked for first, so a catalog that has it is left alone. */
static int migrate_atime(sqlite3 *h)
{
	int rc = add_column(h, "nodes", "atime", "INTEGER NOT NULL DEFAULT 0");

	if (rc == 1)
		rc = exec(h, "UPDATE nodes SET atime=mtime");
	return rc < 0 ? rc : 0;
}

/* datasets.tag_folders (issue 16: enum store_tag_folders, which folders
 * a new tag gets): a catalog made before gets the column, 0 = all, as
 * every tag was made. Idempotent. */
static int migrate_tag_folders(sqlite3 *h)
{
	int rc = add_column(h, "datasets", "tag_folders",
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
static int migrate_features_rowid(sqlite3 *h)
{
	sqlite3_stmt *s = prep(h, "SELECT 1 FROM sqlite_master WHERE"
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
		return sqlite_err(r);
	return exec(h, "CREATE TABLE features_v3(sha BLOB NOT NULL,"
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
static int migrate_subdirs(sqlite3 *h)
{
	return exec(h, "CREATE INDEX IF NOT EXISTS nodes_subdir"
		       " ON nodes(parent) WHERE kind=1");
}

/* Tags have a public 24-hex uid like datasets (issue 10). A catalog made
 * before gets the column, and each of its tags a random uid, here; the
 * column is added rather than in CREATE TABLE so this one path serves old
 * and new catalogs alike. Idempotent: runs on every open, costs one
 * indexed probe once every tag has its uid. */
static int migrate_tag_uid(sqlite3 *h)
{
	int rc = add_column(h, "tags", "uid", "TEXT");

	if (rc >= 0)
		rc = exec(h, "CREATE UNIQUE INDEX IF NOT EXISTS tags_uid"
			     " ON tags(uid);"
			     "UPDATE tags SET uid=lower(hex(randomblob(12)))"
			     " WHERE uid IS NULL");
	return rc;
}

/* Runs are numbered per dataset (runs.seq, shown to users; the id stays
 * the catalog-wide key) and remember how many candidates they ranked.
 * Catalogs made before lack both columns: add them and number their runs
 * in id order. Idempotent; inside sqlite_schema's transaction. */
static int migrate_runs_seq(sqlite3 *h)
{
	int rc = add_column(h, "runs", "seq", "INTEGER NOT NULL DEFAULT 0");

	if (rc >= 0)
		rc = add_column(h, "runs", "candidates",
				"INTEGER NOT NULL DEFAULT 0");
	if (rc >= 0)
		rc = exec(h, "UPDATE runs SET seq=(SELECT count(*) FROM runs"
			     " r2 WHERE r2.dataset=runs.dataset AND"
			     " r2.id<=runs.id) WHERE seq=0");
	return rc;
}

/* Tokens have a name (shown in the app's preferences, set at creation)
 * and the time they last authenticated (users.c: written at most once a
 * minute). A catalog made before gets both columns, empty and never used.
 * Idempotent. */
static int migrate_tokens(sqlite3 *h)
{
	int rc = add_column(h, "tokens", "name", "TEXT NOT NULL DEFAULT ''");

	if (rc >= 0)
		rc = add_column(h, "tokens", "last_used",
				"INTEGER NOT NULL DEFAULT 0");
	if (rc >= 0)
		rc = exec(h, "CREATE INDEX IF NOT EXISTS tokens_user"
			     " ON tokens(user)");
	return rc < 0 ? rc : 0;
}

/* ---- runq (issue 19): the run queue and the servers' leases ----
 * runs.srv: the server whose worker holds a running run (0: none, or the
 * embedded store's one worker), runs.lease: until when (ns; an expired
 * lease may be taken over), runs.cancel: 1 once `cancel` was asked while
 * it ran, runs.phase: the running phase's name, so `sample` reads the same
 * from every server (store/queue.c). nodes.srv: the server whose upload a
 * pending file node is (NULL: none recorded). servers: one row per
 * serving process of a shared catalog (store/servers.c: its host, pid
 * and STORE directory beside the lease); run_notes: what `sample` says
 * besides the run (the last rejected request, the latest `keep`, when
 * the selection was last written by hand), per dataset; an embedded
 * store (this engine) never writes one, its flock names its owner.
 * Idempotent. */
static int migrate_runq(sqlite3 *h)
{
	int rc = add_column(h, "runs", "srv", "INTEGER NOT NULL DEFAULT 0");

	if (rc >= 0)
		rc = add_column(h, "runs", "lease",
				"INTEGER NOT NULL DEFAULT 0");
	if (rc >= 0)
		rc = add_column(h, "runs", "cancel",
				"INTEGER NOT NULL DEFAULT 0");
	if (rc >= 0)
		rc = add_column(h, "runs", "phase", "TEXT NOT NULL DEFAULT ''");
	if (rc >= 0)
		rc = add_column(h, "nodes", "srv", "INTEGER");
	if (rc >= 0)
		rc = exec(h, "CREATE INDEX IF NOT EXISTS runs_q ON"
			     " runs(status, id);"
			     "CREATE TABLE IF NOT EXISTS servers(id INTEGER"
			     " PRIMARY KEY AUTOINCREMENT, started INTEGER NOT"
			     " NULL, lease INTEGER NOT NULL, host TEXT NOT NULL"
			     " DEFAULT '', pid INTEGER NOT NULL DEFAULT 0,"
			     " dir TEXT NOT NULL DEFAULT '');"
			     "CREATE TABLE IF NOT EXISTS run_notes(dataset"
			     " INTEGER PRIMARY KEY, error TEXT NOT NULL DEFAULT"
			     " '', error_at INTEGER NOT NULL DEFAULT 0, keep_n"
			     " INTEGER NOT NULL DEFAULT 0, keep_got INTEGER NOT"
			     " NULL DEFAULT 0, keep_seq INTEGER NOT NULL DEFAULT"
			     " 0, keep_at INTEGER NOT NULL DEFAULT 0, hand_at"
			     " INTEGER NOT NULL DEFAULT 0)");
	return rc < 0 ? rc : 0;
}

/* Thumbnails were one per original (thumbs.sha the key): a second user's
 * kept commit of the same hash replaced the first one's. Now one row per
 * (original, thumbnail), each user seeing those they sent (kept.c). An
 * older table is rebuilt (its index and triggers go with it; the schema
 * makes them again). Inside sqlite_schema's transaction. */
static int migrate_thumbs(sqlite3 *h)
{
	sqlite3_stmt *s = prep(h, "SELECT pk FROM pragma_table_info('thumbs')"
				  " WHERE name='thumb'");
	int r, old;

	if (!s)
		return -EIO;
	r = sqlite3_step(s);
	old = r == SQLITE_ROW && sqlite3_column_int(s, 0) == 0;
	sqlite3_finalize(s);
	if (r != SQLITE_ROW)
		return sqlite_err(r) ? sqlite_err(r) : -EIO;
	if (!old)
		return 0;
	/* grants_gen names thumbs: dropped first, or the rename fails */
	r = exec(h, "DROP TRIGGER IF EXISTS grants_gen;"
		    "CREATE TABLE thumbs_v2(sha BLOB NOT NULL,"
		    " thumb BLOB NOT NULL, size INTEGER NOT NULL,"
		    " PRIMARY KEY(sha, thumb)) WITHOUT ROWID;"
		    "INSERT INTO thumbs_v2 SELECT sha, thumb, size FROM thumbs;"
		    "DROP TABLE thumbs;"
		    "ALTER TABLE thumbs_v2 RENAME TO thumbs;");
	return r ? r : exec(h, schema);
}

int sqlite_schema(sqlite3 *h)
{
	int rc = exec(h, "BEGIN IMMEDIATE");

	if (rc)
		return rc;
	rc = exec(h, schema);
	if (!rc)
		rc = migrate_thumbs(h);
	if (!rc)
		rc = migrate_tag_uid(h);
	if (!rc)
		rc = migrate_atime(h);
	if (!rc)
		rc = migrate_subdirs(h);
	if (!rc)
		rc = migrate_tag_folders(h);
	if (!rc)
		rc = migrate_features_rowid(h);
	/* Stores made before grants existed: their users keep reading what
	 * their nodes name (once, marked in meta). Such a store trusted a
	 * hash; the grants start from that state. */
	if (!rc)
		rc = exec(h, "INSERT OR IGNORE INTO grants(user, sha)"
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
		rc = exec(h, "DELETE FROM features WHERE (sha IN"
			     " (SELECT sha FROM thumbs) OR err LIKE"
			     " 'no vector: bytes not on the server%')"
			     " AND NOT EXISTS (SELECT 1 FROM meta"
			     " WHERE key='features_v2');"
			     "INSERT OR IGNORE INTO meta(key, value)"
			     " VALUES('features_v2', '1')");
	if (!rc)
		rc = migrate_runs_seq(h);
	if (!rc)
		rc = migrate_tokens(h);
	if (!rc)
		rc = migrate_runq(h);
	if (!rc)
		rc = exec(h, table_schema);
	if (!rc)
		rc = exec(h, state_schema);
	if (!rc)
		rc = exec(h, dups_schema);
	if (!rc)
		rc = exec(h, "COMMIT");
	if (rc)
		exec(h, "ROLLBACK");
	return rc;
}

