/*
 * db.h — private to store/: per-thread catalog connections, the statement
 * cache, the write lock and the catalog's engine (sql.h). Not part of the
 * store's public contract; nothing outside store/ includes this file.
 *
 * Each thread that touches a store gets one `struct conn` (an engine
 * connection plus its prepared statements), created on first use and
 * closed by a pthread key destructor when the thread exits, or by
 * store_close(). Write transactions run under `store.wlock` (the engine's
 * begin inside it), so writers of this process queue on a mutex instead
 * of spinning in the engine's lock wait (SQLite's busy handler, a
 * PostgreSQL advisory lock); the engine's own waiting only matters for
 * other processes. Lock order: wlock, then conns_lock, then the engine's
 * locks. Neither is held across file I/O except the blob store's
 * rename/unlink, which are metadata operations.
 *
 * Writer connection. Every write transaction of the process runs on one
 * connection, `store.writer`: db_begin() swaps its handle and statements
 * into the calling thread's `struct conn` and db_end()/db_unlock() swap them
 * back, so the code between them, and every db_conn() it calls, works on
 * that connection unchanged. Why: SQLite drops a connection's whole page
 * cache when another connection wrote since its last transaction, so with a
 * connection per FUSE thread nearly every write began by re-reading the
 * b-tree pages it touched (~10 preads per transaction); the writer's cache
 * stays valid from one write to the next. Reads outside transactions keep
 * the thread's own connection (they run in parallel). Nothing in the swap
 * is SQLite's: on PostgreSQL it keeps the process's writes on one session
 * (wlock serialises them anyway). The engine's own machinery (SQLite's
 * WAL, checkpointer, pragmas, file modes) is in its file, sql_sqlite.c.
 */
#ifndef SIEVEFS_STORE_DB_H
#define SIEVEFS_STORE_DB_H

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "sql.h"
#include "store.h"

/* Column lists shared by the statements that fill the structs below. */
#define NODE_COLS "n.ino,n.tree,n.parent,t.dataset,t.live,n.kind,n.mode," \
	"n.uid,n.gid,n.size,n.mtime,n.ctime,n.sha,n.name,n.atime," \
	"CASE n.kind WHEN 1 THEN (SELECT count(*) FROM nodes sd" \
	" WHERE sd.parent=n.ino AND sd.kind=1) ELSE 0 END"
#define NODE_NCOLS 16   /* columns in NODE_COLS: the index of one after */
#define DS_COLS "d.id,d.uid,d.name,d.owner,d.created,d.live_tree," \
	"(SELECT root FROM tags WHERE id=d.live_tree),d.sel_tree," \
	"d.sel_explicit,d.tag_folders"
#define TAG_COLS "t.id,t.dataset,t.name,t.parent," \
	"coalesce((SELECT name FROM tags p WHERE p.id=t.parent),'')," \
	"t.created,t.root,t.files,t.bytes,t.live,coalesce(t.uid,'')"

/* Every column of runs, in the order db_run_row reads them. */
#define RUN_COLS "id, dataset, request, strategy, n, from_tag, emb, seed," \
	" status, done, total, skipped, created, started, finished, error," \
	" seq, candidates, srv, lease, cancel, phase"

enum q {
	Q_NODE_GET, Q_NODE_LOOKUP, Q_NODE_CHILDREN, Q_NODE_PATH, Q_NODE_INSERT,
	Q_NODE_DELETE, Q_NODE_HAS_CHILD, Q_NODE_MOVE, Q_NODE_MOVE_SUBTREE,
	Q_NODE_SET_CONTENT, Q_NODE_BY_PATH, Q_SHA_REF, Q_SEL_DEL_NODE,
	Q_DS_GET, Q_DS_GET_ID, Q_TAG_GET, Q_TAG_GET_ID,
	Q_EVENT_ADD, Q_EVENT_TRIM, Q_FEAT_DEL, Q_FEAT_GET, Q_GRANT_DEL,
	Q_DIR_GEN, Q_PENDING_DEL, Q_NODE_TOUCH_DIR, Q_BLOB_SOURCE,
	Q_TOKEN_ROW, Q_SESSION_ROW, Q_GRANT_GET, Q_PENDING_ANY, Q_PENDING_SAME,
	Q_COUNT
};

struct conn {
	sql_conn *db;                  /* the engine's connection */
	sql_stmt *stmt[Q_COUNT];       /* prepared lazily, reset before use */
	struct conn *prev, *next;      /* in store.conns, under conns_lock */
	struct store *st;
};

struct store {
	char *dir;                     /* store directory, absolute */
	char *blobdir, *stagedir;
	int mode;                      /* enum store_open_mode */
	int lockfd;                    /* STORE/lock, flocked (owner), or -1 */
	pthread_mutex_t reserve_lock;  /* protects reserve_*, serialises
	                                * making and dropping STORE/reserve */
	int reserve_gone;              /* owner: STORE/reserve is missing */
	int reserve_short;             /* owner: ... for lack of space */
	pthread_key_t key;             /* → this thread's struct conn */
	pthread_mutex_t wlock;         /* serialises write transactions */
	struct conn *writer;           /* write transactions' connection,
	                                * under wlock (top of this file) */
	pthread_mutex_t conns_lock;    /* protects conns */
	struct conn *conns;
	sql_db *db;                    /* the catalog (db_open_catalog) */
	/* runq: this process's row in `servers` (0: none — an embedded
	 * store, or an admin handle) and the thread renewing its lease
	 * (servers.c; srv_lock protects srv_stop) */
	int64_t server;
	pthread_t srv_thread;
	int srv_started, srv_stop;
	pthread_mutex_t srv_lock;
	pthread_cond_t srv_cond;
	char *catalog;                 /* its target, NULL: DIR/catalog.db */
	/* the bytes (blob.c): the engine (store/blobstore.h; the local one on
	 * DIR by default) and how the catalog's side drives it */
	struct blobstore *blobs;
	const struct blob_eng *eng;
	/* remote engines only (blobs_cache.c): the bounded read cache by
	 * hash, a local engine on DIR/cache; cache_bytes under cache_lock */
	struct blobstore *cache;
	char *cachedir;
	pthread_mutex_t cache_lock;
	uint64_t cache_bytes, cache_max;
	int cache_counted;             /* cache_bytes was summed at first use */
	/* remote engines only: the blobs this process sent lately, each with
	 * the pending row its put wrote (blob_sent_note, blob.c); a ring
	 * under sent_lock */
	pthread_mutex_t sent_lock;
	struct blob_sent {
		unsigned char sha[STORE_SHA_LEN];
		char user[STORE_USER_MAX + 1];
		int64_t put;               /* the row's put; 0: an empty slot */
	} sent[64];
	unsigned sent_next;
};

/* This thread's connection, opened on first use; NULL if it cannot be opened. */
struct conn *db_conn(store *st);
/* The cached statement for q, reset (its bindings are kept until
 * rebound: bind every parameter). NULL if it cannot be prepared. */
sql_stmt *db_stmt(struct conn *c, enum q q);
/* An sql_step answer (SQL_ROW, SQL_DONE or -errno) → 0 or -errno. */
static inline int db_err(int r) { return r < 0 ? r : 0; }
/* Prepares a one-off statement (not cached: for paths off the hot ones);
 * NULL on error. Caller finalizes with sql_finalize. */
sql_stmt *db_prep(struct conn *c, const char *sql);
/* Runs SQL without results. Returns 0 or -errno. */
int db_exec(struct conn *c, const char *sql);
/* Binds a NUL-terminated string (NULL binds NULL), as SQLite's length -1
 * did. 0 or -errno. */
static inline int db_bind_str(sql_stmt *s, int i, const char *v)
{
	return v ? sql_bind_text(s, i, v, strlen(v)) : sql_bind_null(s, i);
}
/* Commit the transaction db_begin opened, keeping wlock (db_unlock
 * releases it): for the paths that must do more under the lock after
 * their commit (their failures end with db_end). durable: the commit
 * returns once it is on disk (sql_engine.commit_durable). 0 or -errno
 * (the transaction is then rolled back). */
int db_commit(struct conn *c, int durable);
/* Idempotency keys (idem.c), part "deploy": inside db_commit, before the
 * COMMIT, the thread's armed key is inserted into the transaction (0, or
 * -errno: -EEXIST when another try of the request holds the key — the
 * transaction is then rolled back); after a successful COMMIT,
 * idem_committed marks the key recorded. */
int idem_on_commit(struct conn *c);
void idem_committed(struct conn *c);
/* Write transaction: takes wlock and begins; db_end commits when rc == 0,
 * else rolls back, and always releases wlock. Returns rc or the commit's
 * error. */
int db_begin(struct conn *c);
int db_end(struct conn *c, int rc);
/* Releases wlock after a transaction the caller ended itself (COMMIT, then
 * work that must stay under the lock, such as blob_collect()). */
void db_unlock(struct conn *c);
/* What to bind to a LIMIT: n, or INT64_MAX for a negative n ("no
 * limit": SQLite reads LIMIT -1 so, PostgreSQL refuses it). */
static inline int64_t db_limit(int64_t n)
{
	return n < 0 ? INT64_MAX : n;
}
/* Steps s, an INSERT ... RETURNING id, once: the new row's id into *id.
 * The caller resets or finalizes s. 0 or -errno. */
int db_insert_id(sql_stmt *s, int64_t *id);
/* Makes room for one more element in *v (cap doubles, from 16): 0 or
 * -ENOMEM, leaving *v untouched on failure. */
int db_grow(void **v, size_t *cap, size_t n, size_t elem);
/* Points file node ino at blob sha of `size` bytes, mtime mtime_ns (0:
 * now), ctime now: the commit of an upload (blob.c) or of kept bytes
 * (kept.c). Inside a write transaction. 0 or -errno. */
int db_node_set_content(struct conn *c, int64_t ino, const unsigned char *sha,
			int64_t size, int64_t mtime_ns);
/* Fills a node (a struct store_node *) from a row whose columns follow
 * NODE_COLS (see catalog.c). A db_row_fn. */
void db_node_row(sql_stmt *s, void *n);
/* Fills one list element from the current row of s. */
typedef void (*db_row_fn)(sql_stmt *s, void *elem);
/* Steps s to its end, one element of `elem` bytes per row filled by row();
 * *out malloc'd (NULL when empty), *n the count. The caller finalizes or
 * resets s. 0, or -ENOMEM / the step's error with *out NULL and *n 0. */
int db_rows(sql_stmt *s, size_t elem, db_row_fn row, void **out,
	    size_t *n);

/* catalog.c: adds event msg at level to dataset's `log` (and trims it),
 * inside a write transaction. 0 or -errno. */
int db_event_add(struct conn *c, int64_t dataset, int level,
		 const char *msg);
/* vectors.c: fills a run from a row of RUN_COLS. */
void db_run_row(sql_stmt *s, struct store_run *r);
/* queue.c: inside a write transaction, writes run r's state (status
 * `status`, done, total, skipped, started, finished, error, emb,
 * candidates, phase) if server r->srv still holds it (status running;
 * for status done also a run already done under r->srv, whose result
 * is then replaced): -ESTALE (nothing written) when the run was taken
 * over by another server, or ended otherwise (cancelled while queued,
 * failed). The check and the write are one statement. */
int db_run_put(struct conn *c, const struct store_run *r, int status);
/* servers.c: the shared catalog's membership, for store_open and
 * store_close (owner handles on an engine with `shared` only): join
 * registers this process as a server with a lease and starts the thread
 * that renews it and sweeps what expired servers left; leave stops the
 * thread and deletes the row. */
int servers_join(store *st);
void servers_leave(store *st);

/* Lifecycle, for store_open/store_close: key and mutexes; opening the
 * catalog STORE/catalog.db with its engine (which creates or upgrades the
 * schema; msg gets the reason on failure, at least 256 bytes); closing
 * every connection and the catalog. */
int db_init_store(store *st);
int db_open_catalog(store *st, char *msg);
void db_close_all(store *st);

/* Blob store internals (blob.c). How the catalog's side drives its
 * engine: one table per kind of engine, chosen at open (blob.c's local
 * one over the store's folder; blobs_cache.c's for an engine without
 * files, S3). Every call takes the store; hashes are verified by the
 * caller. */
struct blob_eng {
	const char *name;
	/* an fd reading the blob's bytes; -ENOENT */
	int (*open_fd)(store *st, const unsigned char *sha);
	/* 0 and the size (may be NULL) when the blob exists; -ENOENT */
	int (*stat)(store *st, const unsigned char *sha, int64_t *size);
	/* engines whose bytes travel outside the write lock (NULL: none):
	 * sends a complete staging file (fd, staged) whose hash is sha,
	 * after the caller recorded sha pending; consumes staged */
	int (*send)(store *st, int fd, const char *staged,
		    const unsigned char *sha, int durable);
	/* engines that take an upload's bytes as they arrive (NULL: none):
	 * finishes u (streamed, hashed by the engine) as the blob sha after
	 * the caller recorded sha pending; the staging file (fd, staged)
	 * that holds the same bytes is consumed (the read cache's copy) */
	int (*finish)(store *st, struct blob_upload *u, int fd,
		      const char *staged, const unsigned char *sha);
	/* under the write lock: gives the staged bytes their blob name
	 * (after send: only drops what is left of the staging) */
	int (*link)(store *st, int fd, const char *staged,
		    const unsigned char *sha, int durable);
	/* removes the blob (0 also when absent); under the write lock */
	int (*remove)(store *st, const unsigned char *sha);
	/* the owner's open: removes blobs no node names (NULL: no walk) */
	int (*recover)(struct conn *c);
	/* the staging an upload older than age_s left (NULL: none to do) */
	int (*sweep)(store *st, int64_t age_s, unsigned *removed);
};
/* Opens the store's engine from spec (blobs_open_spec) and, for a remote
 * one, its read cache on DIR/cache; close frees both (NULL ones too).
 * -errno with the reason in msg. */
int blob_engines_open(store *st, const char *spec, const char *key_id,
		      const char *secret, char *msg, size_t msglen);
void blob_engines_close(store *st);
extern const struct blob_eng blob_eng_local;
extern const struct blob_eng blob_eng_remote;   /* blobs_cache.c */
/* 1 if the blob of sha exists (its size into *size, may be NULL). An
 * engine without files answers from its read cache when it holds the
 * bytes: a blob another server collected may still read as there. */
int blob_exists(store *st, const unsigned char *sha, int64_t *size);
/* blob_exists inside a write transaction on c, for a row about to name
 * sha: the engine's own answer (S3: never the read cache alone; no round
 * trip for a blob this process sent whose put's pending row is unchanged,
 * store_node_commit's check). 1 or 0. */
int blob_exists_locked(struct conn *c, const unsigned char *sha,
		       int64_t *size);
/* Records sha pending for user in its own write transaction (an engine
 * with send: before the bytes travel, so collection spares them). */
/* An engine with send: this process finished storing sha in the engine
 * after its put's transaction had written user's pending row of sha with
 * put time `put` (ns). store_node_commit then needs neither a pending row
 * of its own nor a look in the engine while that row is still there,
 * unchanged (blob.c). */
void blob_sent_note(store *st, const char *user, const unsigned char *sha,
		    int64_t put);
int blob_pending_mark(store *st, const char *user, const unsigned char *sha,
		      int64_t size);
/* blob_collect in a transaction of its own on c, for the calls right
 * after a commit (wlock still held): the check of references and the
 * removal then run under the catalog's lock between processes too. */
void blob_collect_after(struct conn *c, const unsigned char *sha);
void blob_path(const store *st, const unsigned char *sha, char *buf,
	       size_t len);
/* Unlinks the blob of sha unless a node still references it. Call with
 * wlock held (inside or right after a write transaction). */
void blob_collect(struct conn *c, const unsigned char *sha);
int blob_recover(struct conn *c);
/* The space reserve (owner handles only; no-ops for admin handles).
 * ensure: makes STORE/reserve if it is missing and the disk has room for it
 * and a margin; cheap when it is there. release: deletes it; 1 if that freed
 * space (a retry may now succeed), 0 if there was none to give. Neither is
 * called with wlock held. */
void blob_reserve_ensure(store *st);
int blob_reserve_release(store *st);
/* kept.c: sha is referenced no more: drops its kept and thumbs rows and
 * collects its thumbnail. Call with wlock held (from blob_collect). */
void kept_forget(struct conn *c, const unsigned char *sha);
/* thumbs.c: unlinks every cached thumbnail of sha (its blob is gone;
 * from blob_collect). recover: at the owner's open (blob_recover), drops
 * temp files and thumbnails whose blob is gone. */
void thumbcache_forget(store *st, const unsigned char *sha);
void thumbcache_recover(store *st);
/* users.c: binds hash to ?1 of s (a SELECT of user, hash, ...) and steps
 * it: 0 with the row's user into user (STORE_USER_MAX + 1) when a row
 * came whose hash equals it (constant-time), else -EACCES; the step's
 * -errno when the catalog failed (not a refused secret). The caller
 * resets or finalizes s. */
int users_hash_row(sql_stmt *s, const unsigned char *hash, char *user);
/* users.c: the valid, unrevoked token whose SHA-256 is hash: its user
 * into user (STORE_USER_MAX + 1), its id into *id and its last recorded
 * use into *last (either may be NULL). One cached statement (the
 * per-request auth path), reset before returning. 0, -EACCES or -EIO. */
int users_token_row(struct conn *c, const unsigned char *hash, char *user,
		    int64_t *id, int64_t *last);
/* users.c: records that token `id`, whose last recorded use is `last`,
 * authenticated now, unless that record is younger than
 * STORE_TOKEN_TOUCH_NS (then nothing is written). Its own short write
 * transaction; call outside one. 0 or -errno. */
int users_token_touch(struct conn *c, int64_t id, int64_t last);
/* sessions.c: deletes the sessions token `token` made (it is revoked).
 * Call inside a write transaction. 0 or -errno. */
int sessions_end_token(struct conn *c, int64_t token);

#endif
