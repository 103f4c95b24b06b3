/*
 * catalog.c — datasets, tags, nodes, the selection and events over SQLite.
 *
 * Invariants kept here (and only here):
 *  - every dataset has exactly one live tree, tag `initial-tag`, parent 0;
 *  - a node's `path` is its parent's path + "/" + name (root: ""), so a
 *    tree's files can be found by path with one index probe and a subtree is
 *    one index range [p + "/", p + "0");
 *  - frozen trees are never modified, only deleted whole;
 *  - a blob is unlinked only when no node references its hash (blob.c).
 * Hot paths (node get, lookup, children) are single indexed statements from
 * the per-thread statement cache; no table is re-read per lookup.
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
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include "db.h"

__attribute__((format(printf, 3, 4)))
static void set_msg(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!msg || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
}

/* A folder of the store: owner-only whatever the umask (the umask may
 * only take bits away from 0700; a new folder gets exactly 0700). */
static int mkdir_p(const char *path)
{
	if (mkdir(path, STORE_DIR_MODE) == 0)
		return chmod(path, STORE_DIR_MODE) ? -errno : 0;
	return errno == EEXIST ? 0 : -errno;
}

/* mkdir -p: the store directory (owner-only) and any missing parents
 * (0755 less the umask, as mkdir -p makes them). */
static int mkdir_parents(const char *dir)
{
	char path[STORE_PATH_MAX];
	size_t len = strlen(dir);

	if (len == 0 || len >= sizeof(path))
		return -ENAMETOOLONG;
	memcpy(path, dir, len + 1);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0755) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return mkdir_p(path);
}

static char *join(const char *a, const char *b)
{
	size_t len = strlen(a) + strlen(b) + 2;
	char *p = malloc(len);

	if (p)
		snprintf(p, len, "%s/%s", a, b);
	return p;
}

/* Deletes uploads that never completed: their bytes were only in staging. */
static int recover_pending(struct conn *c)
{
	int rc = db_begin(c);

	if (rc)
		return rc;
	rc = db_exec(c, "DELETE FROM selection WHERE node IN (SELECT ino FROM"
		     " nodes WHERE kind=2 AND sha IS NULL);"
		     "DELETE FROM nodes WHERE kind=2 AND sha IS NULL;"
		     "UPDATE runs SET status=4, error='interrupted: the daemon"
		     " stopped before the run finished' WHERE status IN (0,1);");
	return db_end(c, rc);
}

/* The PID a refused opener reports: what the owner wrote into its lock
 * file, or 0 when it is not readable yet (the owner writes it right after
 * locking). */
static long lock_holder(int fd)
{
	char buf[32];
	char *end;
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	errno = 0;
	pid = strtol(buf, &end, 10);
	if (errno || end == buf || pid <= 0)
		return 0;
	return pid;
}

/* Takes the owner lock STORE/lock (flock: on the open file description, so
 * it survives fork and dies with the last descriptor) and writes our PID
 * into it. -EBUSY with "store in use by PID N" when someone holds it. */
static int take_owner_lock(store *st, char *msg, size_t msglen)
{
	char path[STORE_PATH_MAX], pid[32];
	int fd, rc = 0, len;

	snprintf(path, sizeof(path), "%s/lock", st->dir);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW,
		  STORE_FILE_MODE);
	if (fd < 0) {
		rc = -errno;
		set_msg(msg, msglen, "cannot open the lock file %s: %s", path,
			strerror(-rc));
		return rc;
	}
	while (flock(fd, LOCK_EX | LOCK_NB)) {
		if (errno == EINTR)
			continue;
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (rc == -EBUSY) {
			long holder = lock_holder(fd);
			if (holder > 0)
				set_msg(msg, msglen, "%s: store in use by PID"
					" %ld (a sievefs mount or server owns"
					" it)", st->dir, holder);
			else
				set_msg(msg, msglen, "%s: store in use by"
					" another process (a sievefs mount or"
					" server owns it)", st->dir);
		} else {
			set_msg(msg, msglen, "cannot lock %s: %s", path,
				strerror(-rc));
		}
		close(fd);
		return rc;
	}
	len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) || pwrite(fd, pid, (size_t)len, 0) != len) {
		rc = -errno;
		set_msg(msg, msglen, "cannot write the lock file %s: %s", path,
			strerror(-rc));
		close(fd);
		return rc;
	}
	st->lockfd = fd;
	return 0;
}

/* Narrows entry `name` of the folder dfd to owner-only if it is wider:
 * folders to STORE_DIR_MODE, files to STORE_FILE_MODE (owner bits kept).
 * Symlinks and other kinds are left alone (a store makes none). 1 if
 * changed, else 0. */
static int narrow_at(int dfd, const char *name)
{
	struct stat sb;
	mode_t want;

	if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW))
		return 0;
	if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode))
		return 0;
	want = S_ISDIR(sb.st_mode) ? STORE_DIR_MODE : STORE_FILE_MODE;
	return (sb.st_mode & 077) &&
	       fchmodat(dfd, name, sb.st_mode & want, 0) == 0;
}

static int is_hexname(const char *s, size_t len)
{
	size_t i;

	for (i = 0; s[i]; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return i == len;
}

/* Opens folder `name` of dfd (no symlink). -1 if it is not one. */
static int open_sub(int dfd, const char *name)
{
	return openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
		      O_CLOEXEC);
}

/* Narrows the entries of folder fd (closed here) whose names `keep`
 * accepts (NULL: all); with `inner`, also the entries of each such
 * sub-folder that `inner` accepts. Returns how many changed. */
static size_t narrow_dir(int fd, int (*keep)(const char *),
			 int (*inner)(const char *))
{
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	size_t n = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	while ((de = readdir(d)) != NULL) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") ||
		    (keep && !keep(de->d_name)))
			continue;
		n += (size_t)narrow_at(dirfd(d), de->d_name);
		if (inner)
			n += narrow_dir(open_sub(dirfd(d), de->d_name), inner,
					NULL);
	}
	closedir(d);
	return n;
}

static int is_bucket(const char *name)
{
	return is_hexname(name, 2);
}

static int is_blob(const char *name)
{
	return is_hexname(name, 64);
}

/* What a store makes in STORE: only these are touched, so a folder that
 * was not a store (a wrong path) keeps its other files as they were. */
static int is_store_file(const char *name)
{
	static const char *const names[] = {
		"catalog.db", "catalog.db-wal", "catalog.db-shm",
		"catalog.db-journal", "lock", "reserve",
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (!strcmp(name, names[i]))
			return 1;
	return 0;
}

/* Stores made before modes were set (store.h, "Modes"): STORE itself, its
 * files (catalog.db, -wal, -shm, lock, reserve), blobs/, blobs/xx/ and the
 * blobs in them, staging/ and what it holds. One stat per entry, the same
 * walk as blob_recover's. Owner only, before the catalog is opened.
 * Returns how many it narrowed (store_open tells its caller). */
static size_t repair_modes(store *st)
{
	int fd = open(st->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	size_t n = 0;
	struct stat sb;

	if (fd < 0)
		return 0;
	if (fstat(fd, &sb) == 0 && (sb.st_mode & 077) &&
	    fchmod(fd, sb.st_mode & STORE_DIR_MODE) == 0)
		n++;
	n += (size_t)narrow_at(fd, "blobs") + (size_t)narrow_at(fd, "staging");
	n += narrow_dir(open_sub(fd, "blobs"), is_bucket, is_blob);
	n += narrow_dir(open_sub(fd, "staging"), NULL, NULL);
	n += narrow_dir(fd, is_store_file, NULL);
	return n;
}

/* The owner's start: nothing of a previous owner is in progress any more
 * — in this STORE directory (its staging and blobs: the flock is ours),
 * and in the catalog too when the catalog is this store's alone (SQLite).
 * A shared catalog (sql.h `shared`) may hold other live servers' uploads
 * and runs: this server joins its servers instead, whose sweep recovers
 * only what expired servers left (servers.c). */
static int recover(store *st, struct conn *c)
{
	int rc = st->db->eng->shared ? servers_join(st) : recover_pending(c);

	if (!rc)
		rc = blob_recover(c);
	if (!rc)
		blob_reserve_ensure(st);
	return rc;
}

int store_open(const char *dir, int mode, store **out, char *msg,
	       size_t msglen)
{
	return store_open_catalog(dir, NULL, mode, out, msg, msglen);
}

int store_catalog_shared(const char *catalog)
{
	return catalog && sql_engine_for(catalog)->shared;
}

int store_open_catalog(const char *dir, const char *catalog, int mode,
		       store **out, char *msg, size_t msglen)
{
	return store_open_engines(dir, catalog, NULL, NULL, NULL, mode, out,
				  msg, msglen);
}

int store_open_engines(const char *dir, const char *catalog,
		       const char *blobs, const char *key_id,
		       const char *secret, int mode, store **out, char *msg,
		       size_t msglen)
{
	store *st = calloc(1, sizeof(*st));
	struct conn *c;
	char emsg[STORE_ERRMSG] = "";
	size_t repaired = 0;
	int rc, owner = mode == STORE_OPEN_OWNER;

	*out = NULL;
	set_msg(msg, msglen, "%s", "");
	if (!st)
		return -ENOMEM;
	if (mode != STORE_OPEN_OWNER && mode != STORE_OPEN_ADMIN) {
		free(st);
		return -EINVAL;
	}
	st->mode = mode;
	st->lockfd = -1;
	st->reserve_gone = owner;      /* looked for by recover() */
	st->dir = realpath(dir, NULL);
	if (!st->dir && errno == ENOENT && mkdir_parents(dir) == 0)
		st->dir = realpath(dir, NULL);
	if (!st->dir) {
		rc = -errno;
		set_msg(msg, msglen, "cannot use store directory %s: %s", dir,
			strerror(-rc));
		free(st);
		return rc;
	}
	st->blobdir = join(st->dir, "blobs");
	st->stagedir = join(st->dir, "staging");
	if (!st->blobdir || !st->stagedir) {
		free(st->blobdir);
		free(st->stagedir);
		free(st->dir);
		free(st);
		return -ENOMEM;
	}
	rc = db_init_store(st);
	if (rc) {
		free(st->blobdir);
		free(st->stagedir);
		free(st->dir);
		free(st);
		return rc;
	}
	/* The lock comes first: recovery, and even the layout's creation,
	 * belong to the one owner. */
	if (owner) {
		rc = take_owner_lock(st, msg, msglen);
		if (rc)
			goto fail;
		repaired = repair_modes(st);
		rc = mkdir_p(st->blobdir);
		if (!rc)
			rc = mkdir_p(st->stagedir);
		for (int b = 0; b < 256 && !rc; b++) {
			char sub[STORE_PATH_MAX];
			snprintf(sub, sizeof(sub), "%s/%02x", st->blobdir, b);
			rc = mkdir_p(sub);
		}
		if (rc) {
			set_msg(msg, msglen, "cannot create store layout in"
				" %s: %s", st->dir, strerror(-rc));
			goto fail;
		}
	}
	/* the bytes' engine before recovery, which may collect blobs */
	rc = blob_engines_open(st, blobs, key_id, secret, msg, msglen);
	if (rc)
		goto fail;
	if (catalog && !(st->catalog = strdup(catalog))) {
		rc = -ENOMEM;
		goto fail;
	}
	rc = db_open_catalog(st, emsg);
	if (rc) {
		set_msg(msg, msglen, "%s", emsg);
		goto fail;
	}
	c = db_conn(st);
	if (!c) {
		char where[256];

		rc = -EIO;
		st->db->eng->where(st->db, where, sizeof(where));
		set_msg(msg, msglen, "cannot open catalog %s%s", where,
			" (not a sievefs store, or unreadable)");
		goto fail;
	}
	if (owner)
		rc = recover(st, c);
	if (rc) {
		set_msg(msg, msglen, "cannot initialise catalog in %s: %s",
			st->dir, strerror(-rc));
		goto fail;
	}
	/* a notice, not an error: the caller reports it (persistence does
	 * not log) */
	if (repaired)
		set_msg(msg, msglen, "store %s: %zu file(s) and folder(s) were"
			" readable by other users; repaired to owner-only (0700"
			" folders, 0600 files)", st->dir, repaired);
	*out = st;
	return 0;
fail:
	store_close(st);
	return rc;
}

void store_close(store *st)
{
	if (!st)
		return;
	servers_leave(st);
	db_close_all(st);
	blob_engines_close(st);
	/* After the catalog: the next owner finds every connection closed. */
	if (st->lockfd >= 0)
		close(st->lockfd);
	free(st->blobdir);
	free(st->stagedir);
	free(st->catalog);
	free(st->dir);
	free(st);
}

int store_statvfs(store *st, struct statvfs *out)
{
	return statvfs(st->dir, out) ? -errno : 0;
}

/* ---- datasets ---- */

static void ds_row(sql_stmt *s, void *out)
{
	struct store_dataset *d = out;

	memset(d, 0, sizeof(*d));
	d->id = sql_col_int64(s, 0);
	snprintf(d->uid, sizeof(d->uid), "%s",
		 sql_col_text(s, 1));
	snprintf(d->name, sizeof(d->name), "%s",
		 sql_col_text(s, 2));
	snprintf(d->owner, sizeof(d->owner), "%s",
		 sql_col_text(s, 3));
	d->created_ns = sql_col_int64(s, 4);
	d->live_tree = sql_col_int64(s, 5);
	d->live_root = sql_col_int64(s, 6);
	d->sel_tree = sql_col_int64(s, 7);
	d->sel_explicit = (int)sql_col_int64(s, 8);
	d->tag_folders = (int)sql_col_int64(s, 9);
}

/* Steps a statement expected to return at most one row. */
static int step_one(sql_stmt *s)
{
	int rc = sql_step(s);

	if (rc == SQL_ROW)
		return 0;
	return rc == SQL_DONE ? -ENOENT : db_err(rc);
}

int store_dataset_get(store *st, const char *owner, const char *name,
		      struct store_dataset *out)
{
	struct conn *c = db_conn(st);
	sql_stmt *s = c ? db_stmt(c, Q_DS_GET) : NULL;
	int rc;

	if (!s)
		return -EIO;
	db_bind_str(s, 1, owner);
	db_bind_str(s, 2, name);
	rc = step_one(s);
	if (!rc)
		ds_row(s, out);
	sql_reset(s);
	return rc;
}

int store_dataset_get_id(store *st, int64_t id, struct store_dataset *out)
{
	struct conn *c = db_conn(st);
	sql_stmt *s = c ? db_stmt(c, Q_DS_GET_ID) : NULL;
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, id);
	rc = step_one(s);
	if (!rc)
		ds_row(s, out);
	sql_reset(s);
	return rc;
}

/* Runs sql with ?1 = a, ?2 = b: its first row's first column, 0 when
 * none. A failure goes into *rc; once *rc holds one, it runs nothing and
 * answers 0, so a sequence of calls stops at its first failed statement
 * (the one whose error the caller reports), as a PostgreSQL transaction
 * does anyway (sql.h). */
static int64_t exec_int(struct conn *c, const char *sql, int64_t a,
			int64_t b, int *rc)
{
	sql_stmt *s;
	int64_t v = 0;

	if (*rc)
		return 0;
	s = db_prep(c, sql);
	if (!s) {
		*rc = -EIO;
		return 0;
	}
	sql_bind_int64(s, 1, a);
	sql_bind_int64(s, 2, b);
	int r = sql_step(s);
	if (r == SQL_ROW)
		v = sql_col_int64(s, 0);
	else if (r != SQL_DONE)
		*rc = db_err(r);
	sql_finalize(s);
	return v;
}

static int insert_node(struct conn *c, int64_t tree, int64_t parent,
		       const char *name, const char *path,
		       const struct store_node *a, int64_t *ino)
{
	sql_stmt *s = db_stmt(c, Q_NODE_INSERT);
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, tree);
	sql_bind_int64(s, 2, parent);
	db_bind_str(s, 3, name);
	db_bind_str(s, 4, path);
	sql_bind_int64(s, 5, a->kind);
	sql_bind_int64(s, 6, (int)a->mode);
	sql_bind_int64(s, 7, a->uid);
	sql_bind_int64(s, 8, a->gid);
	sql_bind_int64(s, 9, a->size);
	sql_bind_int64(s, 10, a->mtime_ns);
	sql_bind_int64(s, 11, a->ctime_ns);
	if (a->has_sha)
		sql_bind_blob(s, 12, a->sha, STORE_SHA_LEN);
	else
		sql_bind_null(s, 12);
	sql_bind_int64(s, 13, a->atime_ns ? a->atime_ns : a->mtime_ns);
	/* a pending upload names its server, whose lease decides when a
	 * sweep may take it (servers.c); none on an embedded store */
	if (!a->has_sha && a->kind == STORE_FILE && c->st->server)
		sql_bind_int64(s, 14, c->st->server);
	else
		sql_bind_null(s, 14);
	rc = db_insert_id(s, ino);
	sql_reset(s);
	return rc;
}

/* 12 random bytes as 24 lower-case hex digits (a dataset's or tag's public
 * uid) into uid[25]. 0 or -EIO. */
static int random_uid(char uid[25])
{
	unsigned char rnd[12];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	for (int i = 0; i < 12; i++)
		snprintf(uid + 2 * i, 3, "%02x", rnd[i]);
	return 0;
}

/* Inserts a tag row and its root dir node; returns the tag id in *tag. */
static int make_tree(struct conn *c, int64_t dataset, const char *name,
		     int64_t parent, int live, const struct store_node *rootattr,
		     int64_t now, int64_t *tag, int64_t *root)
{
	/* uid: 12 random bytes as hex, like a dataset's; unique (the
	 * schema's tags_uid index) */
	sql_stmt *s = db_prep(c, "INSERT INTO tags(dataset,name,parent,"
			      "created,live,uid) VALUES(?1,?2,?3,?4,?5,?6)"
			      " RETURNING id");
	char uid[25];
	int rc = random_uid(uid);

	if (rc)
		return rc;
	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	db_bind_str(s, 2, name);
	sql_bind_int64(s, 3, parent);
	sql_bind_int64(s, 4, now);
	sql_bind_int64(s, 5, live);
	db_bind_str(s, 6, uid);
	rc = db_insert_id(s, tag);
	sql_finalize(s);
	if (rc)
		return rc;
	rc = insert_node(c, *tag, -*tag, "", "", rootattr, root);
	if (rc)
		return rc;
	exec_int(c, "UPDATE tags SET root=?2 WHERE id=?1", *tag, *root, &rc);
	return rc;
}

int store_dataset_create(store *st, const char *owner, const char *name,
			 struct store_dataset *out)
{
	struct conn *c = db_conn(st);
	char uid[25];
	struct store_node root = { .kind = STORE_DIR, .mode = 0755 };
	int64_t now = store_now_ns(), id = 0, tag = 0, rootino = 0;
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	if (random_uid(uid))
		return -EIO;
	root.uid = getuid();
	root.gid = getgid();
	root.mtime_ns = root.ctime_ns = now;
	rc = db_begin(c);
	if (rc)
		return rc;
	s = db_prep(c, "INSERT INTO datasets(uid,owner,name,created)"
		 " VALUES(?1,?2,?3,?4) RETURNING id");
	if (!s) {
		rc = -EIO;
		goto out;
	}
	db_bind_str(s, 1, uid);
	db_bind_str(s, 2, owner);
	db_bind_str(s, 3, name);
	sql_bind_int64(s, 4, now);
	rc = db_insert_id(s, &id);
	sql_finalize(s);
	if (rc)
		goto out;
	rc = make_tree(c, id, "initial-tag", 0, 1, &root, now, &tag, &rootino);
	if (!rc)
		exec_int(c, "UPDATE datasets SET live_tree=?2, sel_tree=?2"
			 " WHERE id=?1", id, tag, &rc);
out:
	rc = db_end(c, rc);
	if (!rc && out)
		rc = store_dataset_get_id(st, id, out);
	return rc;
}

int store_dataset_list(store *st, const char *owner,
		       struct store_dataset **out, size_t *n)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	if (!c || !(s = db_prep(c, "SELECT " DS_COLS " FROM datasets d"
			     " WHERE d.owner=?1 ORDER BY d.name")))
		return -EIO;
	db_bind_str(s, 1, owner);
	rc = db_rows(s, sizeof(**out), ds_row, (void **)out, n);
	sql_finalize(s);
	return rc;
}

int store_dataset_delete(store *st, int64_t id)
{
	struct conn *c = db_conn(st);
	struct store_dataset d;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	rc = store_dataset_get_id(st, id, &d);
	if (rc)
		goto out;
	if (exec_int(c, "SELECT count(*) FROM tags WHERE dataset=?1", id, 0,
		     &rc) > 1 ||
	    exec_int(c, "SELECT 1 FROM nodes WHERE tree=?1 AND kind=2 LIMIT 1",
		     d.live_tree, 0, &rc)) {
		rc = rc ? rc : -ENOTEMPTY;
		goto out;
	}
	exec_int(c, "DELETE FROM nodes WHERE tree=?1", d.live_tree, 0, &rc);
	exec_int(c, "DELETE FROM selection WHERE dataset=?1", id, 0, &rc);
	exec_int(c, "DELETE FROM events WHERE dataset=?1", id, 0, &rc);
	exec_int(c, "DELETE FROM vectors WHERE emb IN (SELECT id FROM"
		 " embeddings WHERE dataset=?1)", id, 0, &rc);
	exec_int(c, "DELETE FROM embeddings WHERE dataset=?1", id, 0, &rc);
	exec_int(c, "DELETE FROM inputs WHERE dataset=?1", id, 0, &rc);
	exec_int(c, "DELETE FROM dups_settings WHERE dataset=?1", id, 0, &rc);
	exec_int(c, "DELETE FROM scores WHERE run IN (SELECT id FROM runs"
		 " WHERE dataset=?1)", id, 0, &rc);
	exec_int(c, "DELETE FROM runs WHERE dataset=?1", id, 0, &rc);
	exec_int(c, "DELETE FROM builtin WHERE dataset=?1", id, 0, &rc);
	exec_int(c, "DELETE FROM tags WHERE dataset=?1", id, 0, &rc);
	exec_int(c, "DELETE FROM datasets WHERE id=?1", id, 0, &rc);
out:
	return db_end(c, rc);
}

static int rename_row(store *st, const char *sql, int64_t id,
		      const char *newname)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	s = db_prep(c, sql);
	if (!s)
		return db_end(c, -EIO);
	sql_bind_int64(s, 1, id);
	db_bind_str(s, 2, newname);
	rc = db_err(sql_step(s));
	if (!rc && sql_changes(c->db) == 0)
		rc = -ENOENT;
	sql_finalize(s);
	return db_end(c, rc);
}

int store_dataset_rename(store *st, int64_t id, const char *newname)
{
	return rename_row(st, "UPDATE datasets SET name=?2 WHERE id=?1", id,
			  newname);
}

int store_dataset_set_tag_folders(store *st, int64_t id, int mode)
{
	struct conn *c = db_conn(st);
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	exec_int(c, "UPDATE datasets SET tag_folders=?2 WHERE id=?1", id, mode,
		 &rc);
	if (!rc && sql_changes(c->db) == 0)
		rc = -ENOENT;
	return db_end(c, rc);
}

/* ---- tags ---- */

static void tag_row(sql_stmt *s, void *out)
{
	struct store_tag *t = out;

	memset(t, 0, sizeof(*t));
	t->id = sql_col_int64(s, 0);
	t->dataset = sql_col_int64(s, 1);
	snprintf(t->name, sizeof(t->name), "%s",
		 sql_col_text(s, 2));
	t->parent = sql_col_int64(s, 3);
	snprintf(t->parent_name, sizeof(t->parent_name), "%s",
		 sql_col_text(s, 4));
	t->created_ns = sql_col_int64(s, 5);
	t->root = sql_col_int64(s, 6);
	t->files = sql_col_int64(s, 7);
	t->bytes = sql_col_int64(s, 8);
	t->live = (int)sql_col_int64(s, 9);
	snprintf(t->uid, sizeof(t->uid), "%s",
		 sql_col_text(s, 10));
}

int store_tag_get(store *st, int64_t dataset, const char *name,
		  struct store_tag *out)
{
	struct conn *c = db_conn(st);
	sql_stmt *s = c ? db_stmt(c, Q_TAG_GET) : NULL;
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	db_bind_str(s, 2, name);
	rc = step_one(s);
	if (!rc)
		tag_row(s, out);
	sql_reset(s);
	return rc;
}

int store_tag_get_id(store *st, int64_t id, struct store_tag *out)
{
	struct conn *c = db_conn(st);
	sql_stmt *s = c ? db_stmt(c, Q_TAG_GET_ID) : NULL;
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, id);
	rc = step_one(s);
	if (!rc)
		tag_row(s, out);
	sql_reset(s);
	return rc;
}

int store_tag_list(store *st, int64_t dataset, struct store_tag **out,
		   size_t *n)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	*out = NULL;
	*n = 0;
	if (!c || !(s = db_prep(c, "SELECT " TAG_COLS " FROM tags t"
			     " WHERE t.dataset=?1 ORDER BY t.live DESC, t.id")))
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	rc = db_rows(s, sizeof(**out), tag_row, (void **)out, n);
	sql_finalize(s);
	return rc;
}

int store_tree_count(store *st, int64_t tree, int64_t *files, int64_t *bytes)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc;

	if (!c || !(s = db_prep(c, "SELECT count(*), coalesce(sum(size),0)"
			     " FROM nodes WHERE tree=?1 AND kind=2"
			     " AND sha IS NOT NULL")))
		return -EIO;
	sql_bind_int64(s, 1, tree);
	rc = step_one(s);
	if (!rc) {
		*files = sql_col_int64(s, 0);
		*bytes = sql_col_int64(s, 1);
	}
	sql_finalize(s);
	return rc;
}

/* Copy state while freezing a tag: the last directory made, by path. */
struct freeze {
	struct conn *c;
	int64_t src, tag, root, now;
	char *lastdir;                 /* malloc'd, NULL if none yet */
	int64_t lastino;
	sql_stmt *srcdir;
};

/* The node of path `path` (length len, not NUL-terminated there) in tree
 * `tree`: 0 with *ino, -ENOENT, or -errno. */
static int node_at(struct freeze *f, int64_t tree, const char *path,
		   size_t len, struct store_node *got, int64_t *ino)
{
	sql_stmt *s = db_stmt(f->c, Q_NODE_BY_PATH);
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, tree);
	sql_bind_text(s, 2, path, (size_t)len);
	rc = step_one(s);
	if (!rc && ino)
		*ino = sql_col_int64(s, 0);
	if (!rc && got)
		db_node_row(s, got);
	sql_reset(s);
	return rc;
}

/* Returns the node of directory `path` in the new tag, making it (and its
 * missing parents) with the source tree's attributes. Iterative: the
 * deepest folder the tag already has is found first, then the rest made
 * downwards (a tree may be thousands of folders deep). */
static int freeze_dir(struct freeze *f, const char *path, int64_t *ino)
{
	size_t len = strlen(path), end = len;
	int64_t parent = f->root;
	int rc;

	if (!len) {
		*ino = f->root;
		return 0;
	}
	if (f->lastdir && !strcmp(path, f->lastdir)) {
		*ino = f->lastino;
		return 0;
	}
	for (;;) {                     /* the deepest prefix the tag has */
		rc = node_at(f, f->tag, path, end, NULL, &parent);
		if (rc != -ENOENT)
			break;
		while (end > 0 && path[end - 1] != '/')
			end--;
		if (end == 0) {
			parent = f->root;
			rc = 0;
			break;
		}
		end--;                 /* at the '/' */
	}
	while (!rc && end < len) {     /* make the rest, top down */
		struct store_node a = { .kind = STORE_DIR, .mode = 0755 };
		struct store_node got;
		size_t start = end ? end + 1 : 0, stop = start;
		char *sub;

		while (stop < len && path[stop] != '/')
			stop++;
		if (node_at(f, f->src, path, stop, &got, NULL) == 0) {
			a.mode = got.mode;
			a.uid = got.uid;
			a.gid = got.gid;
			a.mtime_ns = got.mtime_ns;
			a.atime_ns = got.atime_ns;
		} else {
			a.uid = getuid();
			a.gid = getgid();
			a.mtime_ns = f->now;
		}
		a.ctime_ns = f->now;
		sub = strndup(path, stop);
		if (!sub)
			return -ENOMEM;
		rc = insert_node(f->c, f->tag, parent, sub + start, sub, &a,
				 &parent);
		free(sub);
		end = stop;
	}
	if (!rc) {
		char *last = strdup(path);
		if (last) {
			free(f->lastdir);
			f->lastdir = last;
			f->lastino = parent;
		}
		*ino = parent;
	}
	return rc;
}

static int freeze_node(struct freeze *f, const struct store_node *n,
		       const char *path, int64_t *files, int64_t *bytes)
{
	const char *slash = strrchr(path, '/');
	int64_t parent, ino;
	struct store_node a = *n;
	char *dir;
	int rc;

	if (n->kind == STORE_DIR)
		return freeze_dir(f, path, &ino);
	dir = strndup(path, slash ? (size_t)(slash - path) : 0);
	if (!dir)
		return -ENOMEM;
	rc = freeze_dir(f, dir, &parent);
	free(dir);
	if (rc)
		return rc;
	a.ctime_ns = f->now;
	rc = insert_node(f->c, f->tag, parent, slash ? slash + 1 : path, path,
			 &a, &ino);
	if (!rc) {
		(*files)++;
		*bytes += n->size;
	}
	return rc;
}

int store_tag_create(store *st, int64_t dataset, const char *name,
		     int64_t now_ns, struct store_tag *out)
{
	struct conn *c = db_conn(st);
	struct store_dataset d;
	struct store_node srcroot;
	struct freeze f = { .c = c, .now = now_ns };
	int64_t files = 0, bytes = 0;
	sql_stmt *s = NULL;
	int rc, r;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	rc = store_dataset_get_id(st, dataset, &d);
	if (!rc) {
		struct store_tag src;
		rc = store_tag_get_id(st, d.sel_tree, &src);
		if (!rc)
			rc = store_node_get(st, src.root, &srcroot);
	}
	if (rc)
		goto out;
	f.src = d.sel_tree;
	srcroot.mtime_ns = now_ns;
	srcroot.ctime_ns = now_ns;
	rc = make_tree(c, dataset, name, d.sel_tree, 0, &srcroot, now_ns,
		       &f.tag, &f.root);
	if (rc)
		goto out;
	/* Sorted by path, so files of one folder come together and their
	 * folder is made once. By default every folder of the source tree is
	 * copied, also those holding no selected file: a loader that maps
	 * folders to classes (torchvision's ImageFolder: sorted folder names)
	 * gives a tag the same class indices as its source. With tag_folders
	 * = SELECTED (?3 = 1) no folder row is read: freeze_dir() makes the
	 * folders of the selected files only, with the source's attributes
	 * (older ImageFolders refuse a class folder with no file). Without an
	 * explicit selection the whole tree is copied, like a commit. */
	if (d.sel_explicit)
		s = db_prep(c, "SELECT " NODE_COLS ", n.path FROM nodes n"
			 " JOIN tags t ON t.id=n.tree WHERE n.tree=?2 AND"
			 " n.parent>0 AND n.kind=1 AND ?3=0 UNION ALL"
			 " SELECT " NODE_COLS ", n.path FROM selection x"
			 " JOIN nodes n ON n.ino=x.node JOIN tags t ON"
			 " t.id=n.tree WHERE x.dataset=?1 AND n.sha IS NOT NULL"
			 " ORDER BY 17");
	else
		s = db_prep(c, "SELECT " NODE_COLS ", n.path FROM nodes n"
			 " JOIN tags t ON t.id=n.tree WHERE n.tree=?2 AND"
			 " n.parent>0 AND ((n.kind=1 AND ?3=0) OR"
			 " n.sha IS NOT NULL) ORDER BY n.path");
	if (!s) {
		rc = -EIO;
		goto out;
	}
	sql_bind_int64(s, 1, dataset);
	sql_bind_int64(s, 2, d.sel_tree);
	sql_bind_int64(s, 3, d.tag_folders == STORE_TAG_FOLDERS_SELECTED);
	while ((r = sql_step(s)) == SQL_ROW && !rc) {
		struct store_node n;
		db_node_row(s, &n);
		rc = freeze_node(&f, &n,
				 sql_col_text(s, NODE_NCOLS),
				 &files, &bytes);
	}
	if (!rc && r != SQL_DONE && r != SQL_ROW)
		rc = db_err(r);
	sql_finalize(s);
	if (!rc) {
		sql_stmt *u = db_prep(c, "UPDATE tags SET files=?2, bytes=?3"
				       " WHERE id=?1");
		if (!u) {
			rc = -EIO;
			goto out;
		}
		sql_bind_int64(u, 1, f.tag);
		sql_bind_int64(u, 2, files);
		sql_bind_int64(u, 3, bytes);
		rc = db_err(sql_step(u));
		sql_finalize(u);
	}
out:
	free(f.lastdir);
	rc = db_end(c, rc);
	if (!rc && out)
		rc = store_tag_get_id(st, f.tag, out);
	return rc;
}

int store_tag_delete(store *st, int64_t tag)
{
	struct conn *c = db_conn(st);
	struct store_tag t;
	struct store_dataset d;
	unsigned char (*shas)[STORE_SHA_LEN] = NULL;
	size_t nsha = 0, cap = 0;
	sql_stmt *s;
	int rc, r;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	rc = store_tag_get_id(st, tag, &t);
	if (!rc && t.live)
		rc = -EPERM;
	if (!rc && exec_int(c, "SELECT 1 FROM tags WHERE parent=?1 LIMIT 1",
			    tag, 0, &rc))
		rc = rc ? rc : -ENOTEMPTY;
	if (!rc)
		rc = store_dataset_get_id(st, t.dataset, &d);
	if (rc)
		goto out;
	s = db_prep(c, "SELECT DISTINCT sha FROM nodes WHERE tree=?1"
		 " AND sha IS NOT NULL");
	if (!s) {
		rc = -EIO;
		goto out;
	}
	sql_bind_int64(s, 1, tag);
	while ((r = sql_step(s)) == SQL_ROW) {
		if ((rc = db_grow((void **)&shas, &cap, nsha, STORE_SHA_LEN)) != 0)
			break;
		if (sql_col_bytes(s, 0) == STORE_SHA_LEN)
			memcpy(shas[nsha++], sql_col_blob(s, 0),
			       STORE_SHA_LEN);
	}
	sql_finalize(s);
	if (rc)
		goto out;
	/* also a selection holding nodes of the tag (tag algebra's union,
	 * store/selalg.c), which would lose them */
	if (d.sel_tree == tag ||
	    exec_int(c, "SELECT 1 FROM selection x JOIN nodes n ON"
		     " n.ino=x.node WHERE x.dataset=?1 AND n.tree=?2 LIMIT 1",
		     d.id, tag, &rc)) {
		exec_int(c, "DELETE FROM selection WHERE dataset=?1", d.id, 0,
			 &rc);
		exec_int(c, "UPDATE datasets SET sel_tree=live_tree,"
			 " sel_explicit=0 WHERE id=?1", d.id, 0, &rc);
	}
	exec_int(c, "DELETE FROM nodes WHERE tree=?1", tag, 0, &rc);
	exec_int(c, "DELETE FROM tags WHERE id=?1", tag, 0, &rc);
	if (rc)
		goto out;
	rc = db_commit(c, 0);
	if (rc)
		goto out;
	for (size_t i = 0; i < nsha; i++)
		blob_collect_after(c, shas[i]);
	free(shas);
	db_unlock(c);
	return 0;
out:
	free(shas);
	return db_end(c, rc);
}

int store_tag_rename(store *st, int64_t tag, const char *newname)
{
	return rename_row(st, "UPDATE tags SET name=?2 WHERE id=?1 AND live=0",
			  tag, newname);
}

/* ---- nodes ---- */

int store_node_get(store *st, int64_t ino, struct store_node *out)
{
	struct conn *c = db_conn(st);
	sql_stmt *s = c ? db_stmt(c, Q_NODE_GET) : NULL;
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, ino);
	rc = step_one(s);
	if (!rc)
		db_node_row(s, out);
	sql_reset(s);
	return rc;
}

int store_node_lookup(store *st, int64_t parent, const char *name,
		      struct store_node *out)
{
	struct conn *c = db_conn(st);
	sql_stmt *s = c ? db_stmt(c, Q_NODE_LOOKUP) : NULL;
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, parent);
	db_bind_str(s, 2, name);
	rc = step_one(s);
	if (!rc)
		db_node_row(s, out);
	sql_reset(s);
	return rc;
}

int store_node_children(store *st, int64_t parent, struct store_node **out,
			size_t *n)
{
	struct conn *c = db_conn(st);
	sql_stmt *s = c ? db_stmt(c, Q_NODE_CHILDREN) : NULL;
	int rc;

	*out = NULL;
	*n = 0;
	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, parent);
	rc = db_rows(s, sizeof(**out), db_node_row, (void **)out, n);
	sql_reset(s);
	return rc;
}

/* The path of node ino in its tree, malloc'd into *out (caller frees):
 * 0, -ENOENT, -ENOMEM or -EIO. Tree paths live on the heap, at their
 * length (STORE_TREE_PATH_MAX, store.h). */
static int node_path_dup(store *st, int64_t ino, char **out)
{
	struct conn *c = db_conn(st);
	sql_stmt *s = c ? db_stmt(c, Q_NODE_PATH) : NULL;
	int rc;

	*out = NULL;
	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, ino);
	rc = step_one(s);
	if (!rc && !(*out = strdup(sql_col_text(s, 0))))
		rc = -ENOMEM;
	sql_reset(s);
	return rc;
}

int store_node_path(store *st, int64_t ino, char *buf, size_t len)
{
	char *p = NULL;
	int rc = node_path_dup(st, ino, &p);

	if (!rc && (size_t)snprintf(buf, len, "%s", p) >= len)
		rc = -ENAMETOOLONG;
	free(p);
	return rc;
}

/* Path of child `name` of dir node p, checked writable, malloc'd into *out
 * (caller frees). */
static int child_path(store *st, const struct store_node *p, const char *name,
		      char **out)
{
	char *ppath;
	size_t len;
	int rc;

	*out = NULL;
	if (p->kind != STORE_DIR)
		return -ENOTDIR;
	if (!p->tree_live)
		return -EROFS;
	if (!*name || strchr(name, '/') || !strcmp(name, ".") ||
	    !strcmp(name, ".."))
		return -EINVAL;
	if (strlen(name) > STORE_NAME_MAX)
		return -ENAMETOOLONG;
	rc = node_path_dup(st, p->ino, &ppath);
	if (rc)
		return rc;
	len = strlen(ppath) + 1 + strlen(name) + 1;
	if (len > STORE_TREE_PATH_MAX)
		rc = -ENAMETOOLONG;
	else if (!(*out = malloc(len)))
		rc = -ENOMEM;
	else
		snprintf(*out, len, "%s%s%s", ppath, *ppath ? "/" : "", name);
	free(ppath);
	return rc;
}

/* The folder ino changed now (a child came or went): its mtime and ctime. */
static int touch_dir(struct conn *c, int64_t ino, int64_t now)
{
	sql_stmt *s = db_stmt(c, Q_NODE_TOUCH_DIR);
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, ino);
	sql_bind_int64(s, 2, now);
	rc = db_err(sql_step(s));
	sql_reset(s);
	return rc;
}

int store_node_create(store *st, int64_t parent, const char *name,
		      const struct store_newnode *nn, struct store_node *out)
{
	struct conn *c = db_conn(st);
	struct store_node p, a = { 0 };
	char *path = NULL;
	int64_t ino = 0, now = store_now_ns();
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	rc = store_node_get(st, parent, &p);
	if (!rc)
		rc = child_path(st, &p, name, &path);
	if (rc)
		goto out;
	a.kind = nn->kind;
	a.mode = nn->mode & 07777;
	a.uid = nn->uid;
	a.gid = nn->gid;
	a.mtime_ns = nn->mtime_ns ? nn->mtime_ns : now;
	a.ctime_ns = now;
	/* A file starts as a pending upload: no sha until committed. */
	rc = insert_node(c, p.tree, parent, name, path, &a, &ino);
	if (!rc)
		rc = touch_dir(c, parent, now);
out:
	free(path);
	rc = db_end(c, rc);
	if (!rc && out) {
		/* What store_node_get() would read back, without the query:
		 * a new node has no content and no subfolders. */
		a.ino = ino;
		a.tree = p.tree;
		a.parent = parent;
		a.dataset = p.dataset;
		a.tree_live = p.tree_live;
		a.atime_ns = a.mtime_ns;
		snprintf(a.name, sizeof(a.name), "%s", name);
		*out = a;
	}
	return rc;
}

static int delete_node(struct conn *c, const struct store_node *n)
{
	sql_stmt *s = db_stmt(c, Q_NODE_DELETE);
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, n->ino);
	rc = db_err(sql_step(s));
	sql_reset(s);
	if (rc || n->kind != STORE_FILE)
		return rc;
	s = db_stmt(c, Q_SEL_DEL_NODE);
	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, n->ino);
	rc = db_err(sql_step(s));
	sql_reset(s);
	return rc;
}

static int has_child(struct conn *c, int64_t ino)
{
	sql_stmt *s = db_stmt(c, Q_NODE_HAS_CHILD);
	int r;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, ino);
	r = sql_step(s);
	sql_reset(s);
	return r == SQL_ROW ? 1 : r == SQL_DONE ? 0 : db_err(r);
}

/* Ends a write transaction that removed node `gone` (or none): commits, then
 * collects its blob while still holding the write lock. */
static int end_and_collect(struct conn *c, int rc,
			   const struct store_node *gone)
{
	if (rc)
		return db_end(c, rc);
	rc = db_commit(c, 0);
	if (!rc && gone && gone->kind == STORE_FILE && gone->has_sha)
		blob_collect_after(c, gone->sha);
	db_unlock(c);
	return rc;
}

static int node_remove_once(store *st, int64_t parent, const char *name,
			    int is_dir)
{
	struct conn *c = db_conn(st);
	struct store_node p, n;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	rc = store_node_get(st, parent, &p);
	if (!rc && !p.tree_live)
		rc = -EROFS;
	if (!rc)
		rc = store_node_lookup(st, parent, name, &n);
	if (rc)
		goto out;
	if (is_dir && n.kind != STORE_DIR)
		rc = -ENOTDIR;
	else if (!is_dir && n.kind == STORE_DIR)
		rc = -EISDIR;
	else if (is_dir && (rc = has_child(c, n.ino)) > 0)
		rc = -ENOTEMPTY;
	if (!rc)
		rc = delete_node(c, &n);
	if (!rc)
		exec_int(c, "UPDATE nodes SET mtime=?2, ctime=?2 WHERE ino=?1",
			 parent, store_now_ns(), &rc);
out:
	return end_and_collect(c, rc, rc ? NULL : &n);
}

/* A delete must work on a full disk: that is how space comes back (blob.c,
 * "Full disk"). */
int store_node_remove(store *st, int64_t parent, const char *name, int is_dir)
{
	int rc = node_remove_once(st, parent, name, is_dir);

	if (rc == -ENOSPC && blob_reserve_release(st))
		rc = node_remove_once(st, parent, name, is_dir);
	if (rc == 0)
		blob_reserve_ensure(st);
	return rc;
}

int store_node_rename(store *st, int64_t parent, const char *name,
		      int64_t newparent, const char *newname, int noreplace)
{
	struct conn *c = db_conn(st);
	struct store_node src, np, dst;
	char *oldpath = NULL, *newpath = NULL, *lo = NULL, *hi = NULL;
	int64_t now = store_now_ns();
	int have_dst = 0, rc;
	sql_stmt *s;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	rc = store_node_lookup(st, parent, name, &src);
	if (!rc)
		rc = store_node_get(st, newparent, &np);
	if (!rc && (!src.tree_live || !np.tree_live))
		rc = -EROFS;
	if (!rc && src.tree != np.tree)
		rc = -EXDEV;
	if (!rc)
		rc = node_path_dup(st, src.ino, &oldpath);
	if (!rc)
		rc = child_path(st, &np, newname, &newpath);
	if (rc)
		goto out;
	/* A folder cannot move below itself. */
	size_t ol = strlen(oldpath);
	if (src.kind == STORE_DIR && !strncmp(newpath, oldpath, ol) &&
	    newpath[ol] == '/') {
		rc = -EINVAL;
		goto out;
	}
	/* Every path below a moved folder grows or shrinks with it. */
	if (src.kind == STORE_DIR) {
		lo = malloc(ol + 2);
		hi = malloc(ol + 2);
		if (!lo || !hi) {
			rc = -ENOMEM;
			goto out;
		}
		snprintf(lo, ol + 2, "%s/", oldpath);
		snprintf(hi, ol + 2, "%s0", oldpath);
		/* the longest path below, in bytes: measured here, as
		 * length() counts in each engine's own units (sql.h) */
		sql_stmt *m = db_prep(c, "SELECT path FROM nodes WHERE tree=?1"
				      " AND path>?2 AND path<?3");
		size_t most = 0;
		int r;

		if (!m) {
			rc = -EIO;
			goto out;
		}
		sql_bind_int64(m, 1, src.tree);
		db_bind_str(m, 2, lo);
		db_bind_str(m, 3, hi);
		while ((r = sql_step(m)) == SQL_ROW)
			if (sql_col_bytes(m, 0) > most)
				most = sql_col_bytes(m, 0);
		if (r < 0)
			rc = r;
		else if (most && (int64_t)most - (int64_t)ol +
			 (int64_t)strlen(newpath) >= STORE_TREE_PATH_MAX)
			rc = -ENAMETOOLONG;
		sql_finalize(m);
		if (rc)
			goto out;
	}
	rc = store_node_lookup(st, newparent, newname, &dst);
	if (rc == 0) {
		if (noreplace) {
			rc = -EEXIST;
			goto out;
		}
		if (dst.ino == src.ino)
			goto out;       /* rename onto itself: nothing to do */
		have_dst = 1;
		if (dst.kind == STORE_DIR && src.kind != STORE_DIR)
			rc = -EISDIR;
		else if (dst.kind != STORE_DIR && src.kind == STORE_DIR)
			rc = -ENOTDIR;
		else if (dst.kind == STORE_DIR && (rc = has_child(c, dst.ino)) > 0)
			rc = -ENOTEMPTY;
		if (!rc)
			rc = delete_node(c, &dst);
	} else if (rc == -ENOENT) {
		rc = 0;
	}
	if (rc)
		goto out;
	s = db_stmt(c, Q_NODE_MOVE);
	if (!s) {
		rc = -EIO;
		goto out;
	}
	sql_bind_int64(s, 1, src.ino);
	sql_bind_int64(s, 2, newparent);
	db_bind_str(s, 3, newname);
	db_bind_str(s, 4, newpath);
	sql_bind_int64(s, 5, now);
	rc = db_err(sql_step(s));
	sql_reset(s);
	if (!rc && src.kind == STORE_DIR) {
		s = db_stmt(c, Q_NODE_MOVE_SUBTREE);
		if (!s) {
			rc = -EIO;
			goto out;
		}
		db_bind_str(s, 1, newpath);
		sql_bind_int64(s, 2, src.tree);
		db_bind_str(s, 3, lo);
		db_bind_str(s, 4, hi);
		rc = db_err(sql_step(s));
		sql_reset(s);
	}
	if (!rc)
		exec_int(c, "UPDATE nodes SET mtime=?2, ctime=?2 WHERE ino=?1",
			 parent, now, &rc);
	if (!rc && newparent != parent)
		exec_int(c, "UPDATE nodes SET mtime=?2, ctime=?2 WHERE ino=?1",
			 newparent, now, &rc);
out:
	free(oldpath);
	free(newpath);
	free(lo);
	free(hi);
	return end_and_collect(c, rc, have_dst && !rc ? &dst : NULL);
}

int store_node_setattr(store *st, int64_t ino, int what, uint32_t mode,
		       uint32_t uid, uint32_t gid, int64_t mtime_ns,
		       int64_t atime_ns)
{
	struct conn *c = db_conn(st);
	struct store_node n;
	sql_stmt *s;
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	rc = store_node_get(st, ino, &n);
	if (!rc && !n.tree_live)
		rc = -EROFS;
	if (rc)
		goto out;
	if (what & STORE_SET_MODE)
		n.mode = mode & 07777;
	if (what & STORE_SET_UID)
		n.uid = uid;
	if (what & STORE_SET_GID)
		n.gid = gid;
	if (what & STORE_SET_MTIME)
		n.mtime_ns = mtime_ns;
	if (what & STORE_SET_ATIME)
		n.atime_ns = atime_ns;
	s = db_prep(c, "UPDATE nodes SET mode=?2, uid=?3, gid=?4, mtime=?5,"
		 " ctime=?6, atime=?7 WHERE ino=?1");
	if (!s) {
		rc = -EIO;
		goto out;
	}
	sql_bind_int64(s, 1, ino);
	sql_bind_int64(s, 2, (int)n.mode);
	sql_bind_int64(s, 3, n.uid);
	sql_bind_int64(s, 4, n.gid);
	sql_bind_int64(s, 5, n.mtime_ns);
	sql_bind_int64(s, 6, store_now_ns());
	sql_bind_int64(s, 7, n.atime_ns);
	rc = db_err(sql_step(s));
	sql_finalize(s);
out:
	return db_end(c, rc);
}

/* ---- selection ---- */

int store_selection_each(store *st, int64_t dataset, store_path_fn fn,
			 void *arg)
{
	struct conn *c = db_conn(st);
	struct store_dataset d;
	sql_stmt *s;
	int rc, r;

	if (!c)
		return -EIO;
	rc = store_dataset_get_id(st, dataset, &d);
	if (rc)
		return rc;
	if (d.sel_explicit)
		s = db_prep(c, "SELECT n.path FROM selection x JOIN nodes n ON"
			 " n.ino=x.node WHERE x.dataset=?1 AND n.sha IS NOT NULL"
			 " ORDER BY x.rank");
	else
		s = db_prep(c, "SELECT path FROM nodes WHERE tree=?2 AND kind=2"
			 " AND sha IS NOT NULL ORDER BY path");
	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	sql_bind_int64(s, 2, d.sel_tree);
	while ((r = sql_step(s)) == SQL_ROW) {
		rc = fn(arg, sql_col_text(s, 0));
		if (rc)
			break;
	}
	if (!rc && r != SQL_DONE)
		rc = db_err(r);
	sql_finalize(s);
	return rc;
}

int store_selection_nodes_each(store *st, int64_t dataset, store_node_fn fn,
			       void *arg)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc = 0, r;

	if (!c)
		return -EIO;
	s = db_prep(c, "SELECT node FROM selection WHERE dataset=?1");
	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	while ((r = sql_step(s)) == SQL_ROW) {
		rc = fn(arg, sql_col_int64(s, 0));
		if (rc)
			break;
	}
	if (!rc && r != SQL_DONE)
		rc = db_err(r);
	sql_finalize(s);
	return rc;
}

int store_selection_count(store *st, int64_t dataset, int64_t *n)
{
	struct conn *c = db_conn(st);
	struct store_dataset d;
	int rc;

	if (!c)
		return -EIO;
	rc = store_dataset_get_id(st, dataset, &d);
	if (rc)
		return rc;
	if (d.sel_explicit)
		*n = exec_int(c, "SELECT count(*) FROM selection x JOIN nodes n"
			      " ON n.ino=x.node WHERE x.dataset=?1 AND n.sha IS"
			      " NOT NULL", dataset, 0, &rc);
	else
		*n = exec_int(c, "SELECT count(*) FROM nodes WHERE tree=?1 AND"
			      " kind=2 AND sha IS NOT NULL", d.sel_tree, 0, &rc);
	return rc;
}

/* The committed file at `path` of tag t: 0, -EINVAL (msg says why) or
 * -EIO. */
static int sel_resolve(struct conn *c, const struct store_tag *t,
		       const char *path, struct store_node *node, char *msg,
		       size_t msglen)
{
	sql_stmt *s = db_stmt(c, Q_NODE_BY_PATH);
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, t->id);
	db_bind_str(s, 2, path);
	rc = step_one(s);
	if (!rc)
		db_node_row(s, node);
	sql_reset(s);
	if (rc == -ENOENT || (!rc && node->kind == STORE_DIR) ||
	    (!rc && !node->has_sha) || !*path) {
		set_msg(msg, msglen, "'%s' is not a file of tag '%s'", path,
			t->name);
		return -EINVAL;
	}
	return rc;
}

/* Tag `tree`, which must be one of dataset's: 0, -EINVAL (msg says why),
 * or the lookup's -errno. */
static int sel_tag(store *st, int64_t dataset, int64_t tree,
		   struct store_tag *t, char *msg, size_t msglen)
{
	int rc = store_tag_get_id(st, tree, t);

	if (!rc && t->dataset != dataset) {
		set_msg(msg, msglen, "tag '%s' belongs to another dataset",
			t->name);
		rc = -EINVAL;
	}
	return rc;
}

enum { SEL_REPLACE, SEL_ONCE, SEL_APPEND, SEL_CHECK };

/* store_selection_set (SEL_REPLACE), _set_once (SEL_ONCE: a node listed
 * again keeps its first place), _append (SEL_APPEND: SEL_ONCE after the
 * rows already there, which stay) and _check (SEL_CHECK: resolves only,
 * in no transaction). */
static int sel_put(store *st, int64_t dataset, int64_t tree,
		   const char *const *paths, size_t n, size_t *bad, char *msg,
		   size_t msglen, int mode)
{
	struct conn *c = db_conn(st);
	struct store_tag t;
	struct store_node node;
	sql_stmt *ins = NULL;
	int64_t rank = 0;
	int check = mode == SEL_CHECK, rc;

	if (bad)
		*bad = 0;
	if (!c)
		return -EIO;
	if (!check && (rc = db_begin(c)))
		return rc;
	rc = sel_tag(st, dataset, tree, &t, msg, msglen);
	if (!rc && mode == SEL_APPEND)
		rank = exec_int(c, "SELECT COALESCE(MAX(rank)+1,0) FROM"
				" selection WHERE dataset=?1", dataset, 0, &rc);
	else if (!rc && !check)
		exec_int(c, "DELETE FROM selection WHERE dataset=?1", dataset,
			 0, &rc);
	/* a node listed again changes no row (ON CONFLICT: a failed
	 * statement would end the transaction on PostgreSQL, sql.h) */
	if (!rc && !check &&
	    !(ins = db_prep(c, "INSERT INTO selection(dataset,rank,node)"
			    " VALUES(?1,?2,?3) ON CONFLICT (dataset, node)"
			    " DO NOTHING")))
		rc = -EIO;
	for (size_t i = 0; i < n && !rc; i++) {
		if (bad)
			*bad = i;
		rc = sel_resolve(c, &t, paths[i], &node, msg, msglen);
		if (rc || check)
			continue;
		sql_reset(ins);
		sql_bind_int64(ins, 1, dataset);
		sql_bind_int64(ins, 2, rank);
		sql_bind_int64(ins, 3, node.ino);
		rc = db_err(sql_step(ins));
		if (rc)
			break;
		if (sql_changes(c->db) == 1) {
			rank++;
		} else if (mode == SEL_REPLACE) {
			set_msg(msg, msglen, "'%s' is listed twice",
				paths[i]);
			rc = -EINVAL;
		}
	}
	if (check)
		return rc;
	if (!rc)
		exec_int(c, "UPDATE datasets SET sel_tree=?2, sel_explicit=1"
			 " WHERE id=?1", dataset, tree, &rc);
	sql_finalize(ins);
	return db_end(c, rc);
}

int store_selection_check(store *st, int64_t dataset, int64_t tree,
			  const char *const *paths, size_t n, size_t *bad,
			  char *msg, size_t msglen)
{
	return sel_put(st, dataset, tree, paths, n, bad, msg, msglen,
		       SEL_CHECK);
}

int store_selection_set(store *st, int64_t dataset, int64_t tree,
			const char *const *paths, size_t n, size_t *bad,
			char *msg, size_t msglen)
{
	return sel_put(st, dataset, tree, paths, n, bad, msg, msglen,
		       SEL_REPLACE);
}

int store_selection_set_once(store *st, int64_t dataset, int64_t tree,
			     const char *const *paths, size_t n, size_t *bad,
			     char *msg, size_t msglen)
{
	return sel_put(st, dataset, tree, paths, n, bad, msg, msglen,
		       SEL_ONCE);
}

int store_selection_append(store *st, int64_t dataset, int64_t tree,
			   const char *const *paths, size_t n, size_t *bad,
			   char *msg, size_t msglen)
{
	return sel_put(st, dataset, tree, paths, n, bad, msg, msglen,
		       SEL_APPEND);
}

int store_selection_reset(store *st, int64_t dataset)
{
	struct conn *c = db_conn(st);
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	exec_int(c, "DELETE FROM selection WHERE dataset=?1", dataset, 0, &rc);
	exec_int(c, "UPDATE datasets SET sel_tree=live_tree, sel_explicit=0"
		 " WHERE id=?1", dataset, 0, &rc);
	return db_end(c, rc);
}

/* ---- events ---- */

int db_event_add(struct conn *c, int64_t dataset, int level, const char *msg)
{
	sql_stmt *s = db_stmt(c, Q_EVENT_ADD);
	int rc;

	if (!s)
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	sql_bind_int64(s, 2, store_now_ns());
	sql_bind_int64(s, 3, level);
	db_bind_str(s, 4, msg);
	rc = db_err(sql_step(s));
	sql_reset(s);
	if (!rc && (s = db_stmt(c, Q_EVENT_TRIM)) != NULL) {
		sql_bind_int64(s, 1, dataset);
		rc = db_err(sql_step(s));
		sql_reset(s);
	}
	return rc;
}

int store_event_add(store *st, int64_t dataset, int level, const char *msg)
{
	struct conn *c = db_conn(st);
	int rc;

	if (!c)
		return -EIO;
	rc = db_begin(c);
	if (rc)
		return rc;
	return db_end(c, db_event_add(c, dataset, level, msg));
}

int store_event_each(store *st, int64_t dataset, int limit, store_event_fn fn,
		     void *arg)
{
	struct conn *c = db_conn(st);
	sql_stmt *s;
	int rc = 0, r;

	if (!c || !(s = db_prep(c, "SELECT ts, level, msg FROM (SELECT id, ts,"
			     " level, msg FROM events WHERE dataset=?1 ORDER BY"
			     " id DESC LIMIT ?2) AS last ORDER BY id")))
		return -EIO;
	sql_bind_int64(s, 1, dataset);
	sql_bind_int64(s, 2, db_limit(limit));
	while ((r = sql_step(s)) == SQL_ROW) {
		rc = fn(arg, sql_col_int64(s, 0), (int)sql_col_int64(s, 1),
			sql_col_text(s, 2));
		if (rc)
			break;
	}
	if (!rc && r != SQL_DONE)
		rc = db_err(r);
	sql_finalize(s);
	return rc;
}
