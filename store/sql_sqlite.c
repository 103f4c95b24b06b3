/*
 * sql_sqlite.c — the SQLite engine behind sql.h: the catalog is one file,
 * STORE/catalog.db, in WAL mode (the embedded store and a single server).
 *
 * Connections. Every connection gets a 10 s busy timeout (it only matters
 * for other processes, e.g. an admin command or the sqlite3 shell: the
 * writers of this process queue on store/'s in-process write lock), WAL,
 * synchronous=NORMAL, temp tables in memory, a 16 MiB page cache and
 * journal_size_limit. Statements are prepared PERSISTENT (most live in
 * store/'s statement cache for the connection's life). BEGIN IMMEDIATE,
 * COMMIT and ROLLBACK are prepared once per connection: parsing "COMMIT"
 * anew for every transaction cost more than the transaction's own work.
 *
 * Files. catalog.db is made owner-only (0600) before SQLite opens it:
 * SQLite would create it 0644 less the umask and gives -wal and -shm the
 * mode of catalog.db (store.h, "Modes").
 *
 * Checkpoints. SQLite's automatic checkpoint runs inside the COMMIT that
 * brings the WAL past 1000 pages, with two fsyncs, so one close() in ~40 of
 * a cp -r waited for the disk. The WAL hook of every connection (in
 * practice the write connection store/ swaps into the writing thread, see
 * db.h) instead wakes a checkpointer thread (started at the first commit,
 * stopped by close) that runs PASSIVE checkpoints on its own connection,
 * beside the writers. Durability is unchanged: with synchronous=NORMAL a
 * COMMIT never waited for fsync (a committed transaction is in the OS's
 * page cache: it survives kill -9; on power loss the last ones may roll
 * back, as before), and a checkpoint syncs the WAL before copying it,
 * wherever it runs.
 *
 * Keeping the WAL small (issue 16). SQLite writes a WAL from its start
 * again only when a write begins while every frame is already copied back
 * (and no reader is inside the WAL); it never shrinks the file by itself.
 * A checkpoint beside the writers never gets there under a steady stream
 * of commits — they add frames while it copies — so a cp -r of 5,000
 * files grew the WAL to 197 MB (its high-water mark for the mount's life;
 * no reader held a snapshot: every checkpoint copied all it saw). So a
 * round is the bulk PASSIVE beside the writers and, once the WAL is past
 * 16 MiB (CKPT_RESTART_PAGES), a RESTART under txn_lock (no transaction of
 * this process is open meanwhile): it copies only the frames added
 * meanwhile (two fsyncs) and waits up to CKPT_READER_WAIT_MS for readers
 * to leave the WAL, so the next commit starts it over and cuts the file to
 * journal_size_limit (16 MiB). Below that size a commit that finds the WAL
 * all copied back starts it over for free. CKPT_IDLE_MS after the last
 * commit a TRUNCATE under txn_lock leaves it at 0 bytes (retried after
 * each further idle time while a reader is in the way). Writers wait for
 * txn_lock only during those short tails, never for the bulk.
 *
 * INSERT ... RETURNING id. The catalog's portable way to learn a new row's
 * id costs SQLite an ephemeral table per statement (callgrind: ~17,000
 * instructions per created file, +4% over a cp -r). When the statement is
 * exactly INSERT INTO t(...) VALUES(...) RETURNING col — one row, nothing
 * between the row and RETURNING (no ON CONFLICT: an upsert's update sets
 * no last rowid), no SELECT — and col is t's INTEGER PRIMARY KEY
 * AUTOINCREMENT (SQLite's rowid, as sqlite3_table_column_metadata reports
 * it), prepare drops the RETURNING clause and step answers the one row
 * itself from sqlite3_last_insert_rowid(), as the code before sql.h did.
 * Any other RETURNING runs as SQLite runs it.
 *
 * Locks: txn_lock is held from begin to commit or rollback (store/'s
 * write lock is always taken before it, so it is uncontended but for the
 * checkpointer's tails); ckpt_lock protects ckpt_* and spare and is taken
 * after txn_lock. The schema and its upgrades are schema_sqlite.c's, run
 * by open when SQL_CREATE is given.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sql.h"
#include "sql_sqlite.h"
#include "store.h"

/* journal_size_limit: a WAL started over is cut back to this (bytes). */
#define WAL_LIMIT_BYTES "16777216"
/* Busy timeout of every connection (other processes' transactions). */
#define BUSY_TIMEOUT_MS 10000
/* WAL size (pages) at which the checkpointer is woken: SQLite's default. */
#define CKPT_PAGES 1000
/* WAL size (pages) past which a round ends with a RESTART under txn_lock:
 * journal_size_limit's 16 MiB in 4 KiB pages. Below it, the WAL is
 * started over only when a commit happens to find it all copied back. */
#define CKPT_RESTART_PAGES 4096
/* No commit for this long: the WAL is checkpointed and truncated to 0. */
#define CKPT_IDLE_MS 1000
/* How long a checkpoint under txn_lock waits for readers to leave the WAL
 * (the checkpointer's busy timeout); past it, it gives up until the next
 * round, so writers never wait longer than this for it. */
#define CKPT_READER_WAIT_MS 200

struct sdb {
	struct sql_db base;
	char *path;                    /* catalog.db */
	int flags;                     /* SQL_READONLY */
	pthread_mutex_t txn_lock;      /* begin .. commit/rollback */
	pthread_mutex_t ckpt_lock;     /* protects ckpt_* and spare (after
	                                * txn_lock) */
	pthread_cond_t ckpt_cond;      /* ckpt_want or ckpt_stop changed */
	pthread_t ckpt_thread;
	int ckpt_running, ckpt_want, ckpt_stop;
	int ckpt_frames;               /* WAL frames at the last checkpoint */
	int ckpt_dirty;                /* a commit since the idle truncation */
	int64_t ckpt_last;             /* its time, CLOCK_MONOTONIC ms */
	sqlite3 *spare;                /* open's connection, for the first
	                                * connect (its schema is parsed) */
};

#define IDLE_MAX 64                /* finalized statements kept per
                                    * connection (e_prepare) */
struct sstmt;

struct sconn {
	struct sql_conn base;
	sqlite3 *h;
	sqlite3_stmt *begin, *commit, *rollback;   /* prepared on first use */
	int in_txn;                    /* holds txn_lock */
	pthread_mutex_t idle_lock;     /* protects idle and nidle (store/
	                                * swaps a connection between threads:
	                                * db.h, so a statement may be finalized
	                                * by a thread that no longer holds its
	                                * connection) */
	struct sstmt *idle[IDLE_MAX];  /* finalized, reset, ready again;
	                                * most recent last */
	int nidle;
};

struct sstmt {
	struct sql_stmt base;
	sqlite3_stmt *s;
	int rowid_ret;                 /* RETURNING rowid, answered here:
	                                * 1, then 2 once the row was given,
	                                * 3 when it is gone; 0 otherwise */
	int64_t id;                    /* that row's id */
	char *text;                    /* the statement as asked (the idle
	                                * cache's key) */
};

#define SDB(d) ((struct sdb *)(d))
#define SCONN(c) ((struct sconn *)(c))
#define SSTMT(s) (((struct sstmt *)(s))->s)

int sqlite_err(int rc)
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

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A raw connection with this engine's settings; NULL on failure. */
static sqlite3 *raw_open(struct sdb *d)
{
	int fl = d->flags & SQL_READONLY ? SQLITE_OPEN_READONLY :
		 SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
	sqlite3 *h = NULL;

	if (sqlite3_open_v2(d->path, &h, fl | SQLITE_OPEN_NOMUTEX, NULL)) {
		sqlite3_close(h);
		return NULL;
	}
	sqlite3_busy_timeout(h, BUSY_TIMEOUT_MS);
	if (sqlite3_exec(h, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			 "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-16384;"
			 "PRAGMA journal_size_limit=" WAL_LIMIT_BYTES ";",
			 NULL, NULL, NULL)) {
		sqlite3_close(h);
		return NULL;
	}
	return h;
}

/* ---- checkpoints (top of this file) ---- */

/* A checkpoint of `mode` (RESTART or TRUNCATE) under txn_lock: no commit
 * adds frames while it runs, so it backfills the WAL to its end and leaves
 * it to be started over (RESTART: by the next commit, which also cuts the
 * file to journal_size_limit; TRUNCATE: now, to 0 bytes). 0, or -EBUSY
 * when a reader kept a snapshot in the WAL for CKPT_READER_WAIT_MS. */
static int ckpt_locked(struct sdb *d, sqlite3 *h, int mode)
{
	int rc;

	pthread_mutex_lock(&d->txn_lock);
	rc = sqlite3_wal_checkpoint_v2(h, NULL, mode, NULL, NULL);
	pthread_mutex_unlock(&d->txn_lock);
	return sqlite_err(rc);
}

/* Waits (under ckpt_lock) for work: a WAL past CKPT_PAGES, or the end of
 * CKPT_IDLE_MS without commits after one; 0 when told to stop. */
static int ckpt_wait(struct sdb *d)
{
	while (!d->ckpt_stop && !d->ckpt_want) {
		if (!d->ckpt_dirty) {
			pthread_cond_wait(&d->ckpt_cond, &d->ckpt_lock);
			continue;
		}
		int64_t due = d->ckpt_last + CKPT_IDLE_MS, now = mono_ms();
		if (now >= due)
			return 1;
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		int64_t ns = ts.tv_nsec + (due - now) * 1000000;
		ts.tv_sec += ns / 1000000000;
		ts.tv_nsec = ns % 1000000000;
		pthread_cond_timedwait(&d->ckpt_cond, &d->ckpt_lock, &ts);
	}
	return !d->ckpt_stop;
}

/* The checkpointer thread. */
static void *checkpointer(void *arg)
{
	struct sdb *d = arg;
	sqlite3 *h = raw_open(d);

	if (h)
		sqlite3_busy_timeout(h, CKPT_READER_WAIT_MS);
	pthread_mutex_lock(&d->ckpt_lock);
	while (ckpt_wait(d)) {
		int frames = 0, want = d->ckpt_want;

		d->ckpt_want = 0;
		if (!want)
			d->ckpt_dirty = 0;   /* a commit from now on sets it */
		pthread_mutex_unlock(&d->ckpt_lock);
		if (h && want) {
			/* the bulk beside the writers; once the WAL is past
			 * the size kept, the tail under txn_lock */
			sqlite3_wal_checkpoint_v2(h, NULL,
						  SQLITE_CHECKPOINT_PASSIVE,
						  &frames, NULL);
			if (frames >= CKPT_RESTART_PAGES)
				ckpt_locked(d, h, SQLITE_CHECKPOINT_RESTART);
		}
		int busy = h && !want &&
			   ckpt_locked(d, h, SQLITE_CHECKPOINT_TRUNCATE);
		pthread_mutex_lock(&d->ckpt_lock);
		if (want)
			d->ckpt_frames = frames;
		else if (!h || busy) {
			/* a reader stayed: try again after another idle time */
			d->ckpt_dirty = h != NULL;
			d->ckpt_last = mono_ms();
		}
	}
	pthread_mutex_unlock(&d->ckpt_lock);
	sqlite3_close(h);
	return NULL;
}

/* The WAL hook, after every commit (of a write transaction: under
 * txn_lock): notes the time for the idle truncation and, past CKPT_PAGES,
 * wakes the checkpointer (started at the first commit); if no thread can
 * be made, checkpoints here as SQLite would have. */
static int wal_hook(void *arg, sqlite3 *h, const char *name, int pages)
{
	struct sdb *d = arg;
	int inline_ckpt = 0, wake;

	(void)name;
	pthread_mutex_lock(&d->ckpt_lock);
	wake = !d->ckpt_dirty;        /* it waits with no deadline */
	d->ckpt_dirty = 1;
	d->ckpt_last = mono_ms();
	/* The WAL keeps its size after a checkpoint until a writer starts
	 * it over: count the frames added since. */
	if (pages < d->ckpt_frames)
		d->ckpt_frames = 0;
	if (pages - d->ckpt_frames >= CKPT_PAGES) {
		d->ckpt_frames = pages;       /* until the checkpoint reports */
		d->ckpt_want = 1;
		wake = 1;
	}
	if (!d->ckpt_running && !d->ckpt_stop) {
		d->ckpt_running = pthread_create(&d->ckpt_thread, NULL,
						 checkpointer, d) == 0;
		inline_ckpt = !d->ckpt_running && d->ckpt_want;
	}
	if (wake)
		pthread_cond_signal(&d->ckpt_cond);
	pthread_mutex_unlock(&d->ckpt_lock);
	if (inline_ckpt)
		sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_PASSIVE,
					  NULL, NULL);
	return SQLITE_OK;
}

static void checkpointer_stop(struct sdb *d)
{
	int running;

	pthread_mutex_lock(&d->ckpt_lock);
	d->ckpt_stop = 1;
	running = d->ckpt_running;
	d->ckpt_running = 0;
	pthread_cond_signal(&d->ckpt_cond);
	pthread_mutex_unlock(&d->ckpt_lock);
	if (running)
		pthread_join(d->ckpt_thread, NULL);
}

/* ---- the engine ---- */

static void e_close(sql_db *db)
{
	struct sdb *d = SDB(db);

	if (!d)
		return;
	checkpointer_stop(d);
	sqlite3_close(d->spare);
	pthread_mutex_destroy(&d->txn_lock);
	pthread_mutex_destroy(&d->ckpt_lock);
	pthread_cond_destroy(&d->ckpt_cond);
	free(d->path);
	free(d);
}

static int e_open(const char *target, int flags, sql_db **out, char *msg)
{
	struct sdb *d = calloc(1, sizeof(*d));
	pthread_condattr_t ca;
	int fd, rc = 0;

	*out = NULL;
	if (!d || !(d->path = strdup(target))) {
		free(d);
		return -ENOMEM;
	}
	d->base.eng = &sql_sqlite;
	d->flags = flags;
	pthread_mutex_init(&d->txn_lock, NULL);
	pthread_mutex_init(&d->ckpt_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&d->ckpt_cond, &ca);
	pthread_condattr_destroy(&ca);
	/* owner-only before SQLite makes it (top of this file) */
	if (!(flags & SQL_READONLY)) {
		fd = open(target, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW |
			  O_CLOEXEC, STORE_FILE_MODE);
		if (fd >= 0) {
			fchmod(fd, STORE_FILE_MODE);
			close(fd);
		}
	}
	sqlite3 *h = raw_open(d);
	if (!h) {
		rc = -EIO;
		if (msg)
			snprintf(msg, 256, "cannot open catalog %s (not a"
				 " sievefs store, or unreadable)", target);
	} else if (flags & SQL_CREATE) {
		rc = sqlite_schema(h);
		if (rc && msg)
			snprintf(msg, 256, "cannot initialise catalog %s: %s",
				 target, strerror(-rc));
	}
	if (rc) {
		sqlite3_close(h);
		e_close(&d->base);
		return rc;
	}
	d->spare = h;
	*out = &d->base;
	return 0;
}

static int e_connect(sql_db *db, sql_conn **out)
{
	struct sconn *c = calloc(1, sizeof(*c));

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->base.eng = &sql_sqlite;
	c->base.db = db;
	pthread_mutex_init(&c->idle_lock, NULL);
	pthread_mutex_lock(&SDB(db)->ckpt_lock);
	c->h = SDB(db)->spare;
	SDB(db)->spare = NULL;
	pthread_mutex_unlock(&SDB(db)->ckpt_lock);
	if (!c->h)
		c->h = raw_open(SDB(db));
	if (!c->h) {
		free(c);
		return -EIO;
	}
	sqlite3_wal_hook(c->h, wal_hook, db);
	*out = &c->base;
	return 0;
}

static void e_disconnect(sql_conn *conn)
{
	struct sconn *c = SCONN(conn);

	if (!c)
		return;
	if (c->in_txn) {
		sqlite3_exec(c->h, "ROLLBACK", NULL, NULL, NULL);
		pthread_mutex_unlock(&SDB(c->base.db)->txn_lock);
	}
	sqlite3_finalize(c->begin);
	sqlite3_finalize(c->commit);
	sqlite3_finalize(c->rollback);
	for (int i = 0; i < c->nidle; i++) {
		sqlite3_finalize(c->idle[i]->s);
		free(c->idle[i]->text);
		free(c->idle[i]);
	}
	pthread_mutex_destroy(&c->idle_lock);
	sqlite3_close(c->h);
	free(c);
}

/* 1 if column col of table is declared INTEGER PRIMARY KEY AUTOINCREMENT:
 * then it is the rowid (SQLite allows AUTOINCREMENT on nothing else), and
 * every table of the catalog that hands out ids declares its id so (ids
 * are never reused). Else 0, also for an INTEGER PRIMARY KEY without it:
 * that insert keeps SQLite's own RETURNING. */
static int is_rowid_alias(sqlite3 *h, const char *table, size_t tlen,
			  const char *col, size_t clen)
{
	char t[64], c[64];
	int autoinc = 0;

	if (tlen >= sizeof(t) || clen >= sizeof(c))
		return 0;
	memcpy(t, table, tlen);
	t[tlen] = '\0';
	memcpy(c, col, clen);
	c[clen] = '\0';
	return sqlite3_table_column_metadata(h, "main", t, c, NULL, NULL, NULL,
					     NULL, &autoinc) == SQLITE_OK &&
	       autoinc;
}

/* p at '(': just past its matching ')', skipping quoted text; NULL if it
 * is not closed. */
static const char *past_group(const char *p)
{
	int depth = 0;
	char quote = 0;

	for (; *p; p++) {
		if (quote) {
			quote = *p == quote ? 0 : quote;
		} else if (*p == '\'' || *p == '"') {
			quote = *p;
		} else if (*p == '(') {
			depth++;
		} else if (*p == ')' && --depth == 0) {
			return p + 1;
		}
	}
	return NULL;
}

/* The length of q without its " RETURNING col" clause when q is exactly
 * INSERT INTO table[(cols)] VALUES(one row) RETURNING col, col the
 * table's rowid (top of this file); else 0. */
static size_t rowid_returning(sqlite3 *h, const char *q)
{
	static const char ins[] = "INSERT INTO ", ret[] = " RETURNING ";
	const char *t, *e, *p, *c;
	size_t clen;

	if (strncmp(q, ins, sizeof(ins) - 1))
		return 0;
	t = q + sizeof(ins) - 1;
	e = t + strcspn(t, "( ");
	p = e + strspn(e, " ");
	if (e == t || (*p == '(' && !(p = past_group(p))))
		return 0;
	p += strspn(p, " ");
	if (strncmp(p, "VALUES", 6))
		return 0;
	p += 6 + strspn(p + 6, " ");
	if (*p != '(' || !(p = past_group(p)) ||
	    strncmp(p, ret, sizeof(ret) - 1))
		return 0;
	c = p + sizeof(ret) - 1;
	clen = strspn(c, "abcdefghijklmnopqrstuvwxyz_");
	if (!clen || c[clen + strspn(c + clen, " ;")] != '\0' ||
	    !is_rowid_alias(h, t, (size_t)(e - t), c, clen))
		return 0;
	return (size_t)(p - q);
}

/* q without its SQL_SKIP_LOCKED clauses (sql.h), malloc'd; NULL when it
 * has none (*oom set when the copy could not be made). SQLite locks the
 * whole database for a write transaction, so a row lock has nothing to
 * add: the clause is dropped, not translated. */
static char *drop_skip_locked(const char *q, int *oom)
{
	static const char cl[] = SQL_SKIP_LOCKED;
	const char *p = strstr(q, cl);
	char *out, *w;

	*oom = 0;
	if (!p)
		return NULL;
	out = malloc(strlen(q) + 1);
	if (!out) {
		*oom = 1;
		return NULL;
	}
	for (w = out; p; p = strstr(q, cl)) {
		memcpy(w, q, (size_t)(p - q));
		w += p - q;
		q = p + sizeof(cl) - 1;
	}
	memcpy(w, q, strlen(q) + 1);
	return out;
}

/*
 * Idle statements. Most of store/'s statements are prepared, run once and
 * finalized per call (db_prep), so a server parsed the same SQL for every
 * request: a quarter of its CPU in a cp -r of small files into a remote
 * mount (perf, issue 20). A finalized statement is instead reset, its
 * bindings cleared, and kept on its connection (at most IDLE_MAX, the
 * oldest finalized for real); a prepare of the same text on the same
 * connection takes it back. Callers see no difference: a statement they
 * get is reset and unbound either way.
 */
static struct sstmt *idle_take(struct sconn *c, const char *q)
{
	struct sstmt *s = NULL;

	pthread_mutex_lock(&c->idle_lock);
	for (int i = c->nidle - 1; i >= 0; i--)
		if (!strcmp(c->idle[i]->text, q)) {
			s = c->idle[i];
			memmove(&c->idle[i], &c->idle[i + 1],
				(size_t)(c->nidle - i - 1) * sizeof(s));
			c->nidle--;
			break;
		}
	pthread_mutex_unlock(&c->idle_lock);
	return s;
}

/* 1 if s was kept idle, 0 if the caller finalizes it. */
static int idle_put(struct sstmt *s)
{
	struct sconn *c = SCONN(s->base.conn);
	struct sstmt *old = NULL;

	if (!s->text)
		return 0;
	sqlite3_reset(s->s);
	sqlite3_clear_bindings(s->s);
	if (s->rowid_ret)
		s->rowid_ret = 1;
	pthread_mutex_lock(&c->idle_lock);
	if (c->nidle == IDLE_MAX) {
		old = c->idle[0];
		memmove(&c->idle[0], &c->idle[1],
			(size_t)(IDLE_MAX - 1) * sizeof(old));
		c->nidle--;
	}
	c->idle[c->nidle++] = s;
	pthread_mutex_unlock(&c->idle_lock);
	if (old) {
		sqlite3_finalize(old->s);
		free(old->text);
		free(old);
	}
	return 1;
}

static int e_prepare(sql_conn *conn, const char *q, sql_stmt **out)
{
	struct sstmt *s = idle_take(SCONN(conn), q);
	sqlite3 *h = SCONN(conn)->h;
	size_t len;
	int rc, oom;
	char *plain;

	if (s) {
		*out = &s->base;
		return 0;
	}
	s = calloc(1, sizeof(*s));
	plain = drop_skip_locked(q, &oom);
	*out = NULL;
	if (!s || oom) {
		free(s);
		return -ENOMEM;
	}
	s->text = strdup(q);            /* NULL: not kept idle, no harm */
	if (plain)
		q = plain;
	s->base.eng = &sql_sqlite;
	s->base.conn = conn;
	len = rowid_returning(h, q);
	s->rowid_ret = len > 0;
	rc = sqlite3_prepare_v3(h, q, len ? (int)len : -1,
				SQLITE_PREPARE_PERSISTENT, &s->s, NULL);
	free(plain);
	if (rc) {
		free(s->text);
		free(s);
		return sqlite_err(rc) ? sqlite_err(rc) : -EIO;
	}
	*out = &s->base;
	return 0;
}

static void e_finalize(sql_stmt *s)
{
	if (idle_put((struct sstmt *)s))
		return;
	sqlite3_finalize(SSTMT(s));
	free(((struct sstmt *)s)->text);
	free(s);
}

static void e_reset(sql_stmt *s)
{
	struct sstmt *ss = (struct sstmt *)s;

	sqlite3_reset(ss->s);
	if (ss->rowid_ret)
		ss->rowid_ret = 1;
}

static int e_bind_int64(sql_stmt *s, int i, int64_t v)
{ return sqlite_err(sqlite3_bind_int64(SSTMT(s), i, v)); }

static int e_bind_double(sql_stmt *s, int i, double v)
{ return sqlite_err(sqlite3_bind_double(SSTMT(s), i, v)); }

/* Text and blobs are bound without a copy (SQLITE_STATIC): the catalog's
 * code keeps them alive until the step that reads them, as it always has;
 * copying every path and hash cost instructions on the hot paths. */
static int e_bind_text(sql_stmt *s, int i, const char *v, size_t len)
{
	return sqlite_err(sqlite3_bind_text64(SSTMT(s), i, v, len,
					      SQLITE_STATIC, SQLITE_UTF8));
}

static int e_bind_blob(sql_stmt *s, int i, const void *v, size_t len)
{
	return sqlite_err(sqlite3_bind_blob64(SSTMT(s), i, v, len,
					      SQLITE_STATIC));
}

static int e_bind_null(sql_stmt *s, int i)
{ return sqlite_err(sqlite3_bind_null(SSTMT(s), i)); }

/* An INSERT whose RETURNING rowid was dropped: one row (the new id) when
 * it inserted one, then done. */
static int step_rowid(struct sstmt *ss)
{
	sqlite3 *h;
	int rc;

	if (ss->rowid_ret > 1) {
		ss->rowid_ret = 3;
		return SQL_DONE;
	}
	rc = sqlite3_step(ss->s);
	if (rc != SQLITE_DONE)
		return sqlite_err(rc) ? sqlite_err(rc) : -EIO;
	h = sqlite3_db_handle(ss->s);
	ss->rowid_ret = 2;
	if (sqlite3_changes(h) == 0) {
		ss->rowid_ret = 3;
		return SQL_DONE;
	}
	ss->id = sqlite3_last_insert_rowid(h);
	return SQL_ROW;
}

static int e_step(sql_stmt *s)
{
	if (((struct sstmt *)s)->rowid_ret)
		return step_rowid((struct sstmt *)s);
	int rc = sqlite3_step(SSTMT(s));

	if (rc == SQLITE_ROW)
		return SQL_ROW;
	if (rc == SQLITE_DONE)
		return SQL_DONE;
	return sqlite_err(rc) ? sqlite_err(rc) : -EIO;
}

static int e_col_is_null(sql_stmt *s, int i)
{ return sqlite3_column_type(SSTMT(s), i) == SQLITE_NULL; }

static int64_t e_col_int64(sql_stmt *s, int i)
{
	struct sstmt *ss = (struct sstmt *)s;

	if (ss->rowid_ret)
		return i == 0 && ss->rowid_ret == 2 ? ss->id : 0;
	return sqlite3_column_int64(ss->s, i);
}

static double e_col_double(sql_stmt *s, int i)
{ return sqlite3_column_double(SSTMT(s), i); }

static const char *e_col_text(sql_stmt *s, int i)
{
	const unsigned char *t = sqlite3_column_text(SSTMT(s), i);

	return t ? (const char *)t : "";
}

static const void *e_col_blob(sql_stmt *s, int i)
{ return sqlite3_column_blob(SSTMT(s), i); }

static size_t e_col_bytes(sql_stmt *s, int i)
{ return (size_t)sqlite3_column_bytes(SSTMT(s), i); }

static int64_t e_changes(sql_conn *c)
{ return sqlite3_changes64(SCONN(c)->h); }

static int e_exec(sql_conn *c, const char *q)
{ return sqlite_err(sqlite3_exec(SCONN(c)->h, q, NULL, NULL, NULL)); }

/* Runs the cached statement *s (prepared from q on first use). */
static int run_cached(struct sconn *c, sqlite3_stmt **s, const char *q)
{
	int rc;

	if (!*s && (rc = sqlite3_prepare_v3(c->h, q, -1,
					    SQLITE_PREPARE_PERSISTENT, s,
					    NULL)))
		return sqlite_err(rc) ? sqlite_err(rc) : -EIO;
	rc = sqlite_err(sqlite3_step(*s));
	sqlite3_reset(*s);
	return rc;
}

static int e_begin(sql_conn *conn)
{
	struct sconn *c = SCONN(conn);
	struct sdb *d = SDB(conn->db);
	int rc;

	pthread_mutex_lock(&d->txn_lock);
	rc = run_cached(c, &c->begin, "BEGIN IMMEDIATE");
	if (rc)
		pthread_mutex_unlock(&d->txn_lock);
	else
		c->in_txn = 1;
	return rc;
}

static void e_rollback(sql_conn *conn)
{
	struct sconn *c = SCONN(conn);

	if (!c->in_txn)
		return;
	run_cached(c, &c->rollback, "ROLLBACK");
	c->in_txn = 0;
	pthread_mutex_unlock(&SDB(conn->db)->txn_lock);
}

/* A failed COMMIT leaves the transaction open in SQLite: it is rolled
 * back here, as sql.h promises. */
static int e_commit(sql_conn *conn)
{
	struct sconn *c = SCONN(conn);
	int rc;

	if (!c->in_txn)
		return -EINVAL;
	rc = run_cached(c, &c->commit, "COMMIT");
	if (rc) {
		e_rollback(conn);
		return rc;
	}
	c->in_txn = 0;
	pthread_mutex_unlock(&SDB(conn->db)->txn_lock);
	return 0;
}

/* The commit of a blob's bytes with fsync (synchronous=FULL for this one
 * commit), for uploads that asked to be durable. */
static int e_commit_durable(sql_conn *conn)
{
	struct sconn *c = SCONN(conn);
	int rc;

	sqlite3_exec(c->h, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	rc = e_commit(conn);
	sqlite3_exec(c->h, "PRAGMA synchronous=NORMAL", NULL, NULL, NULL);
	return rc;
}

static const char *e_errmsg(sql_conn *c) { return sqlite3_errmsg(SCONN(c)->h); }

static void e_where(sql_db *d, char *out, size_t len)
{
	snprintf(out, len, "%s", ((struct sdb *)d)->path);
}

const struct sql_engine sql_sqlite = {
	.name = "sqlite",
	.shared = 0,
	.open = e_open,
	.close = e_close,
	.connect = e_connect,
	.disconnect = e_disconnect,
	.prepare = e_prepare,
	.finalize = e_finalize,
	.reset = e_reset,
	.bind_int64 = e_bind_int64,
	.bind_double = e_bind_double,
	.bind_text = e_bind_text,
	.bind_blob = e_bind_blob,
	.bind_null = e_bind_null,
	.step = e_step,
	.col_is_null = e_col_is_null,
	.col_int64 = e_col_int64,
	.col_double = e_col_double,
	.col_text = e_col_text,
	.col_blob = e_col_blob,
	.col_bytes = e_col_bytes,
	.changes = e_changes,
	.exec = e_exec,
	.begin = e_begin,
	.commit = e_commit,
	.rollback = e_rollback,
	.errmsg = e_errmsg,
	.commit_durable = e_commit_durable,
	.where = e_where,
};
