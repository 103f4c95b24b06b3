/*
 * emb.c — the `embeddings/` folder of a dataset: one NAME.csv per embedding.
 *
 * Copying a CSV in: create() (or an open for writing over an existing name)
 * makes a pending upload, whose bytes go to an unnamed temporary file
 * (O_TMPFILE in $TMPDIR or /tmp: nothing to clean up after a crash). Rows
 * are checked as they are written (core_csv_check): a bad one fails its
 * write() with EINVAL, reason in `log`, and the upload is then never
 * stored. A close stores the whole file if anything was written since the
 * last store — or fails with the backend's errno (EINVAL, reason in `log`)
 * and stores nothing — and the last close (RELEASE) stores what no close
 * did (fs/README.md: when a write ends). An embedding being replaced stays
 * as it was until a new text is accepted. While pending, the name resolves
 * to the upload's inode so that cp's fstat and the like work.

 * Reading NAME.csv exports it (rendered by the backend into an unnamed
 * temporary file), served with direct_io. stat reports the export's true
 * size (rsync and tar copy what stat says), so a stat renders it: the
 * rendered file is kept, keyed by the embedding's id and version (creation
 * time, rows, dimensions: an embedding's vectors change only when it is
 * replaced, which makes a new version), and later stats and opens of the
 * same version share it (an open dup()s its fd: reads are positional).
 * At most EXPORTS_KEPT files and EXPORTS_BYTES are kept, least recently used
 * dropped first (an open handle keeps its own fd). A listing or lookup
 * never renders: it shows the kept size, or 0, with attribute timeout 0.
 *
 * The predictions/ and metadata/ folders (issue 21, i21a) are the same
 * machinery over the backend's input_* operations: `kind` 0 is
 * embeddings/, else the enum core_input_kind of the folder. Their
 * uploads are checked with core_input_check_*; their exports are the text
 * as uploaded; predictions/ also lists NAME.scores.csv per NAME.csv, a
 * read-only export of its uncertainty scores (export `what` 1).
 *
 * Threads: the pending list is protected by fs->emb_lock; a pending
 * upload's fd and size by the same lock (writes are rare and sequential).
 * Kept exports by exp_lock (one mount per process, so they are this
 * file's); one thread renders a version while the others wait on exp_cond;
 * no lock is held while rendering.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/csv.h"
#include "core/incsv.h"
#include "core/inputs.h"
#include "core/names.h"
#include "core/embedder.h"
#include "fs/emb.h"

#define EMB_UPLOAD_MAX ((off_t)8 << 30)
#define EXPORTS_KEPT 8
#define EXPORTS_BYTES ((off_t)2 << 30)

/* One file of the three folders, as its export is keyed. kind: 0 an
 * embedding, else an input's enum core_input_kind; what: 1 the scores of
 * predictions/NAME.csv. */
struct csvfile {
	int kind, what;
	int64_t id, ds, created_ns, rows, dim;
	char name[129];
};

/* A rendered export; see the top of the file. */
struct export {
	int kind, what;
	int64_t id, created_ns, rows, dim;
	int fd;                   /* -1 while being rendered */
	off_t size;
	int busy;                 /* being rendered */
	uint64_t used;            /* LRU clock */
	struct export *next;
};

static pthread_mutex_t exp_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t exp_cond = PTHREAD_COND_INITIALIZER;
static struct export *exports;       /* protected by exp_lock */
static uint64_t exp_clock;

struct emb_upload {
	int64_t n;                /* inode number part */
	int64_t ds;
	int kind;                 /* 0 embeddings, else core_input_kind */
	char name[130];           /* without .csv */
	int fd;
	off_t size;
	int refs;
	struct core_csv_check *ck; /* checks rows as they arrive; NULL once
				      the writes are not sequential */
	struct core_input_check *ick;  /* the same for inputs */
	off_t checked;            /* bytes fed to ck */
	int dirty;                /* written since the last store */
	int stored;               /* a store was tried */
	int idle_closes;          /* the opener's closes, nothing written */
	int failed;               /* a write was refused: never stored */
	int gone;                 /* released: no longer a pending name */
	struct emb_upload *next;
};

int fs_tmpfile_fd(void)
{
	const char *t = getenv("TMPDIR");
	int fd = open(t && *t ? t : "/tmp", O_TMPFILE | O_RDWR | O_CLOEXEC,
		      0600);

	return fd < 0 ? -errno : fd;
}

const char *fs_csv_folder(int kind)
{
	return kind ? core_input_kind_name(kind) : "embeddings";
}

int fs_csv_slot_kind(int slot)
{
	return slot == FS_SLOT_EMBDIR ? 0
	     : slot == FS_SLOT_PREDDIR ? CORE_INPUT_PREDICTIONS
	     : slot == FS_SLOT_METADIR ? CORE_INPUT_METADATA : -1;
}

static void from_emb(struct csvfile *f, const struct store_embedding *e)
{
	memset(f, 0, sizeof(*f));
	f->id = e->id;
	f->ds = e->dataset;
	f->created_ns = e->created_ns;
	f->rows = e->rows;
	f->dim = e->dim;
	snprintf(f->name, sizeof(f->name), "%s", e->name);
}

static void from_input(struct csvfile *f, const struct store_input *in,
		       int what)
{
	memset(f, 0, sizeof(*f));
	f->kind = in->kind;
	f->what = what;
	f->id = in->id;
	f->ds = in->dataset;
	f->created_ns = in->created_ns;
	f->rows = in->rows;
	f->dim = in->bytes;
	snprintf(f->name, sizeof(f->name), "%s", in->name);
}

/* The file of inode i (EMB, INPUT, INPUT_SCORES). */
static int file_of_ino(struct fs *fs, struct fs_ino i, struct csvfile *f)
{
	struct store_embedding se;
	struct store_input in;
	int rc;

	if (i.kind == FS_INO_EMB) {
		rc = fs->be->ops->emb_get_id(fs->be, i.id, &se);
		if (!rc)
			from_emb(f, &se);
		return rc;
	}
	if (i.kind != FS_INO_INPUT && i.kind != FS_INO_INPUT_SCORES)
		return -ENOENT;
	rc = fs->be->ops->input_get_id(fs->be, i.id, &in);
	if (!rc && i.kind == FS_INO_INPUT_SCORES &&
	    in.kind != CORE_INPUT_PREDICTIONS)
		rc = -ENOENT;
	if (!rc)
		from_input(f, &in, i.kind == FS_INO_INPUT_SCORES);
	return rc;
}

/* The file named base (scores: NAME.scores.csv's NAME) in folder kind. */
static int file_of_name(struct fs *fs, int kind, int64_t ds, const char *base,
			int scores, struct csvfile *f)
{
	struct store_embedding se;
	struct store_input in;
	int rc;

	if (!kind) {
		rc = fs->be->ops->emb_get(fs->be, ds, base, &se);
		if (!rc)
			from_emb(f, &se);
		return rc;
	}
	rc = fs->be->ops->input_get(fs->be, ds, kind, base, &in);
	if (!rc)
		from_input(f, &in, scores);
	return rc;
}

static int same_version(const struct export *x, const struct csvfile *e)
{
	return x->created_ns == e->created_ns && x->rows == e->rows &&
	       x->dim == e->dim;
}

static int same_file(const struct export *x, const struct csvfile *e)
{
	return x->id == e->id && (x->kind != 0) == (e->kind != 0) &&
	       x->what == e->what;
}

/* Unlinks *p and closes its file. Caller holds exp_lock. */
static void export_unlink(struct export **p)
{
	struct export *x = *p;

	*p = x->next;
	if (x->fd >= 0)
		close(x->fd);
	free(x);
}

/* Drops the least recently used idle exports beyond the bounds, never
 * `keep`. Caller holds exp_lock. */
static void export_trim(const struct export *keep)
{
	for (;;) {
		struct export **lru = NULL;
		size_t n = 0;
		off_t bytes = 0;
		for (struct export **p = &exports; *p; p = &(*p)->next) {
			n++;
			bytes += (*p)->size;
			if (*p != keep && !(*p)->busy &&
			    (!lru || (*p)->used < (*lru)->used))
				lru = p;
		}
		if (!lru || (n <= EXPORTS_KEPT && bytes <= EXPORTS_BYTES))
			return;
		export_unlink(lru);
	}
}

/* Forgets every kept export of embedding (kind 0) or input id. */
static void export_forget(int kind, int64_t id)
{
	pthread_mutex_lock(&exp_lock);
	for (struct export **p = &exports; *p;) {
		if ((*p)->id == id && ((*p)->kind != 0) == (kind != 0) &&
		    !(*p)->busy)
			export_unlink(p);
		else
			p = &(*p)->next;
	}
	pthread_mutex_unlock(&exp_lock);
}

static int render(struct fs *fs, const struct csvfile *e, int fd)
{
	if (!e->kind)
		return fs->be->ops->emb_export(fs->be, e->id, fd);
	return fs->be->ops->input_export(fs->be, e->id, e->what ?
					 CORE_INPUT_SCORES : CORE_INPUT_TEXT,
					 fd);
}

/* The export of e's version: its size, and (fd non-NULL) a dup of its file.
 * gen = 0: only if already rendered (-ENOENT otherwise). Renders it when
 * needed (blocks). 0 or -errno. */
static int export_get(struct fs *fs, const struct csvfile *e, int gen,
		      off_t *size, int *fd)
{
	struct export *x;
	struct stat st;
	int rc = 0, tfd;

	if (fd)
		*fd = -1;
	pthread_mutex_lock(&exp_lock);
again:
	for (struct export **p = &exports; *p; p = &(*p)->next) {
		x = *p;
		if (!same_file(x, e))
			continue;
		if (x->busy) {
			if (!gen)
				break;
			pthread_cond_wait(&exp_cond, &exp_lock);
			goto again;
		}
		if (!same_version(x, e)) {
			export_unlink(p);
			goto again;
		}
		x->used = ++exp_clock;
		*size = x->size;
		if (fd && (*fd = dup(x->fd)) < 0)
			rc = -errno;
		pthread_mutex_unlock(&exp_lock);
		return rc;
	}
	if (!gen) {
		pthread_mutex_unlock(&exp_lock);
		return -ENOENT;
	}
	x = calloc(1, sizeof(*x));
	if (!x) {
		pthread_mutex_unlock(&exp_lock);
		return -ENOMEM;
	}
	x->kind = e->kind;
	x->what = e->what;
	x->id = e->id;
	x->created_ns = e->created_ns;
	x->rows = e->rows;
	x->dim = e->dim;
	x->fd = -1;
	x->busy = 1;
	x->next = exports;
	exports = x;
	pthread_mutex_unlock(&exp_lock);

	tfd = fs_tmpfile_fd();
	rc = tfd < 0 ? tfd : render(fs, e, tfd);
	if (!rc && fstat(tfd, &st))
		rc = -errno;

	pthread_mutex_lock(&exp_lock);
	x->busy = 0;
	if (rc) {
		if (tfd >= 0)
			close(tfd);
		for (struct export **p = &exports; *p; p = &(*p)->next)
			if (*p == x) {
				export_unlink(p);
				break;
			}
	} else {
		x->fd = tfd;
		x->size = st.st_size;
		x->used = ++exp_clock;
		*size = x->size;
		if (fd && (*fd = dup(x->fd)) < 0)
			rc = -errno;
		export_trim(x);
	}
	pthread_cond_broadcast(&exp_cond);
	pthread_mutex_unlock(&exp_lock);
	return rc;
}

/* "NAME.csv" → "NAME"; -EINVAL for anything else. */
int fs_emb_base(const char *file, char *base, size_t len)
{
	size_t l = strlen(file);

	if (l <= 4 || strcmp(file + l - 4, ".csv") || l - 4 >= len)
		return -EINVAL;
	memcpy(base, file, l - 4);
	base[l - 4] = '\0';
	return core_name_valid(base) ? 0 : -EINVAL;
}

/* predictions/: "NAME.scores.csv" → NAME and 1; else fs_emb_base's. */
static int csv_base(int kind, const char *file, char *base, size_t len,
		    int *scores)
{
	int rc = fs_emb_base(file, base, len);
	size_t l;

	*scores = 0;
	if (rc || kind != CORE_INPUT_PREDICTIONS)
		return rc;
	l = strlen(base);
	if (l > 7 && !strcmp(base + l - 7, ".scores")) {
		base[l - 7] = '\0';
		*scores = 1;
		return core_name_valid(base) ? 0 : -EINVAL;
	}
	return 0;
}

static struct emb_upload *find_pending(struct fs *fs, int kind, int64_t ds,
				       const char *base)
{
	for (struct emb_upload *u = fs->emb_pending; u; u = u->next)
		/* once stored (and not written since), the name is the
		 * stored embedding's: a lookup must not hand out an upload
		 * inode that the RELEASE the kernel sends next takes away */
		if (u->ds == ds && u->kind == kind && !strcmp(u->name, base) &&
		    !u->gone && (!u->stored || u->dirty))
			return u;
	return NULL;
}

static void pending_attr(struct fs *fs, const struct emb_upload *u,
			 struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = fs_ino_emb_upload(u->n);
	st->st_mode = S_IFREG | 0644;
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_size = u->size;
	clock_gettime(CLOCK_REALTIME, &st->st_mtim);
	st->st_ctim = st->st_atim = st->st_mtim;
}

/* gen = 0 (listings, lookups: their attributes expire at once, and an rm
 * must not render): the size only if already known, else 0. A render that
 * fails shows 0 (the open reports why). */
static void emb_attr(struct fs *fs, const struct csvfile *e, struct stat *st,
		     int gen)
{
	off_t size = 0;

	if (export_get(fs, e, gen, &size, NULL))
		size = 0;
	memset(st, 0, sizeof(*st));
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
	st->st_ino = e->kind ? fs_ino_input(e->id, e->what) : fs_ino_emb(e->id);
	st->st_mode = S_IFREG | (e->what ? 0444 : 0644);
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_mtim.tv_sec = (time_t)(e->created_ns / 1000000000);
	st->st_mtim.tv_nsec = (long)(e->created_ns % 1000000000);
	st->st_ctim = st->st_atim = st->st_mtim;
}

int fs_emb_lookup(struct fs *fs, int kind, int64_t ds, const char *file,
		  struct fuse_entry_param *e)
{
	struct csvfile f;
	struct emb_upload *u = NULL;
	char base[130];
	int scores, rc = csv_base(kind, file, base, sizeof(base), &scores);

	if (rc)
		return -ENOENT;
	memset(e, 0, sizeof(*e));
	pthread_mutex_lock(&fs->emb_lock);
	if (!scores)
		u = find_pending(fs, kind, ds, base);
	if (u)
		pending_attr(fs, u, &e->attr);
	pthread_mutex_unlock(&fs->emb_lock);
	if (!u) {
		rc = file_of_name(fs, kind, ds, base, scores, &f);
		if (rc)
			return rc;
		emb_attr(fs, &f, &e->attr, 0);
	}
	e->ino = e->attr.st_ino;
	return 0;
}

int fs_emb_getattr(struct fs *fs, struct fs_ino i, struct stat *st)
{
	struct csvfile f;
	int rc = -ENOENT;

	if (i.kind == FS_INO_EMB_UPLOAD) {
		pthread_mutex_lock(&fs->emb_lock);
		for (struct emb_upload *u = fs->emb_pending; u; u = u->next)
			if (u->n == i.id) {
				pending_attr(fs, u, st);
				rc = 0;
			}
		pthread_mutex_unlock(&fs->emb_lock);
		return rc;
	}
	rc = file_of_ino(fs, i, &f);
	if (!rc)
		emb_attr(fs, &f, st, 1);
	return rc;
}

static int list_one(struct fs *fs, const struct csvfile *f, fs_emb_list_fn fn,
		    void *arg)
{
	struct fuse_entry_param e;
	char name[150];

	memset(&e, 0, sizeof(e));
	emb_attr(fs, f, &e.attr, 0);
	e.ino = e.attr.st_ino;
	snprintf(name, sizeof(name), "%s%s.csv", f->name,
		 f->what ? ".scores" : "");
	return fn(arg, name, &e);
}

int fs_emb_list(struct fs *fs, int kind, int64_t ds, fs_emb_list_fn fn,
		void *arg)
{
	struct store_embedding *v = NULL;
	struct store_input *w = NULL;
	struct csvfile f;
	size_t n = 0;
	int rc;

	if (!kind) {
		rc = fs->be->ops->emb_list(fs->be, ds, &v, &n);
		for (size_t i = 0; i < n && !rc; i++) {
			from_emb(&f, &v[i]);
			rc = list_one(fs, &f, fn, arg);
		}
		free(v);
		return rc;
	}
	rc = fs->be->ops->input_list(fs->be, ds, kind, &w, &n);
	for (size_t i = 0; i < n && !rc; i++) {
		from_input(&f, &w[i], 0);
		rc = list_one(fs, &f, fn, arg);
		if (!rc && kind == CORE_INPUT_PREDICTIONS) {
			from_input(&f, &w[i], 1);
			rc = list_one(fs, &f, fn, arg);
		}
	}
	free(w);
	return rc;
}

/* Why a name of folder kind cannot be uploaded (logged), or 0. */
static int refuse_name(struct fs *fs, int kind, int64_t ds, const char *file,
		       const char *base, int rc, int scores)
{
	const char *folder = fs_csv_folder(kind);
	char line[800];

	if (rc) {
		snprintf(line, sizeof(line), "%s/%.200s: name it NAME.csv, NAME"
			 " being 1-128 of A-Z a-z 0-9 . _ -", folder, file);
		fs->be->ops->log_event(fs->be, ds, STORE_ERROR, line);
		return rc;
	}
	if (scores) {
		snprintf(line, sizeof(line), "predictions/%.200s is computed"
			 " from %.130s.csv (read-only); upload the"
			 " probabilities as %.130s.csv", file, base, base);
		fs->be->ops->log_event(fs->be, ds, STORE_ERROR, line);
		return -EPERM;
	}
	if (!kind && !strcmp(base, CORE_BUILTIN_NAME)) {
		fs->be->ops->log_event(fs->be, ds, STORE_ERROR, "embeddings/"
				       CORE_BUILTIN_NAME ".csv is computed by"
				       " sievefs (echo embed > sample); upload"
				       " your CSV under another name");
		return -EPERM;
	}
	if (kind == CORE_INPUT_METADATA && !strcmp(base, "builtin")) {
		fs->be->ops->log_event(fs->be, ds, STORE_ERROR, "metadata/"
				       "builtin.csv is computed by sievefs;"
				       " upload your CSV under another name");
		return -EPERM;
	}
	return 0;
}

/* A new pending upload for ds/base; the caller holds a reference. */
int fs_emb_upload_new(struct fs *fs, int kind, int64_t ds, const char *file,
		      struct fs_fh **out, struct fuse_entry_param *e)
{
	struct emb_upload *u;
	struct fs_fh *fh;
	char base[130];
	int scores, rc = csv_base(kind, file, base, sizeof(base), &scores);

	*out = NULL;
	rc = refuse_name(fs, kind, ds, file, base, rc, scores);
	if (rc)
		return rc;
	u = calloc(1, sizeof(*u));
	fh = calloc(1, sizeof(*fh));
	if (!u || !fh) {
		free(u);
		free(fh);
		return -ENOMEM;
	}
	u->fd = fs_tmpfile_fd();
	if (kind)
		u->ick = core_input_check_new(kind);
	else
		u->ck = core_csv_check_new();
	if (u->fd < 0 || (!u->ck && !u->ick)) {
		rc = u->fd < 0 ? u->fd : -ENOMEM;
		if (u->fd >= 0)
			close(u->fd);
		core_csv_check_free(u->ck);
		core_input_check_free(u->ick);
		free(u);
		free(fh);
		return rc;
	}
	u->ds = ds;
	u->kind = kind;
	snprintf(u->name, sizeof(u->name), "%s", base);
	u->refs = 1;
	pthread_mutex_lock(&fs->emb_lock);
	u->n = ++fs->emb_seq;
	u->next = fs->emb_pending;
	fs->emb_pending = u;
	if (e) {
		memset(e, 0, sizeof(*e));
		pending_attr(fs, u, &e->attr);
		e->ino = e->attr.st_ino;
	}
	pthread_mutex_unlock(&fs->emb_lock);
	fh->kind = FH_EMB_UPLOAD;
	fh->fd = -1;
	fh->emb = u;
	fh->ds = ds;
	*out = fh;
	return 0;
}

/* Writes land in the upload's file; written in order (as cp, a shell
 * redirect or Python write), each piece is checked at once, so a bad row
 * fails the write() that completes it (EINVAL, reason in `log`) and the
 * upload is then never stored. */
ssize_t fs_emb_write(struct fs *fs, struct fs_fh *fh, const char *buf,
		     size_t size, off_t off)
{
	struct emb_upload *u = fh->emb;
	char msg[BE_MSG], line[BE_MSG + 200];
	ssize_t n;
	int rc = 0;

	if (off < 0 || off + (off_t)size > EMB_UPLOAD_MAX)
		return -EFBIG;
	pthread_mutex_lock(&fs->emb_lock);
	if (u->failed) {
		pthread_mutex_unlock(&fs->emb_lock);
		return -EINVAL;
	}
	n = pwrite(u->fd, buf, size, off);
	if (n < 0) {
		pthread_mutex_unlock(&fs->emb_lock);
		return -errno;
	}
	if (off + n > u->size)
		u->size = off + n;
	u->dirty = 1;
	if ((u->ck || u->ick) && off == u->checked) {
		rc = u->ck ? core_csv_check_feed(u->ck, buf, (size_t)n, msg,
						 sizeof(msg))
			   : core_input_check_feed(u->ick, buf, (size_t)n, msg,
						   sizeof(msg));
		u->checked += n;
	} else if (u->ck || u->ick) {
		/* Out of order (dd seek=, a rewrite): the close judges. */
		core_csv_check_free(u->ck);
		core_input_check_free(u->ick);
		u->ck = NULL;
		u->ick = NULL;
	}
	if (rc == -EINVAL)
		u->failed = 1;
	pthread_mutex_unlock(&fs->emb_lock);
	if (rc == -EINVAL) {
		snprintf(line, sizeof(line), "%s/%s.csv not stored: %s",
			 fs_csv_folder(u->kind), u->name, msg);
		fs->be->ops->log_event(fs->be, u->ds, STORE_ERROR, line);
	}
	return rc ? rc : n;
}

int fs_csv_put(struct fs *fs, int kind, int64_t ds, const char *name,
	       const char *text, size_t len, char *msg)
{
	if (!kind)
		return fs->be->ops->emb_put(fs->be, ds, name, text, len, msg);
	return fs->be->ops->input_put(fs->be, ds, kind, name, text, len, msg);
}

/* Validates and stores the whole file written so far; see fs/README.md. */
static int save_upload(struct fs *fs, struct emb_upload *u)
{
	char msg[BE_MSG];
	void *map = NULL;
	off_t size;
	int rc;

	pthread_mutex_lock(&fs->emb_lock);
	u->dirty = 0;
	u->stored = 1;
	size = u->size;
	pthread_mutex_unlock(&fs->emb_lock);
	if (size > 0) {
		map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, u->fd, 0);
		if (map == MAP_FAILED)
			return -errno;
	}
	rc = fs_csv_put(fs, u->kind, u->ds, u->name, map ? map : "",
			(size_t)size, msg);
	if (map)
		munmap(map, (size_t)size);
	return rc;
}

/* A close of a descriptor by the opener: stores the file if anything was
 * written since the last store (a close before any write — bash's, after
 * dup2 — does nothing), and returns the verdict. */
int fs_emb_flush(struct fs *fs, struct fs_fh *fh, int by_opener)
{
	struct emb_upload *u = fh->emb;
	int failed, dirty, empty_end = 0;

	pthread_mutex_lock(&fs->emb_lock);
	failed = u->failed;
	dirty = u->dirty;
	/* nothing written at all, and the opener's second close: the end
	 * (the first was bash's after dup2), judged in order (ctl.c) */
	if (by_opener && !dirty && !u->size && !u->stored)
		empty_end = ++u->idle_closes >= 2;
	pthread_mutex_unlock(&fs->emb_lock);
	if (failed)
		return -EINVAL;
	return (dirty || empty_end) && by_opener ? save_upload(fs, u) : 0;
}

/* The last close: stores what no close stored — also a file never
 * written, whose refusal ("empty file") then reaches only the log. */
void fs_emb_release(struct fs *fs, struct fs_fh *fh)
{
	struct emb_upload *u = fh->emb, **p;
	int last, todo;

	pthread_mutex_lock(&fs->emb_lock);
	todo = !u->failed && (u->dirty || !u->stored);
	pthread_mutex_unlock(&fs->emb_lock);
	if (todo) {
		int rc = save_upload(fs, u);
		if (rc && rc != -EINVAL)
			log_warn("embedding upload failed at release: %s",
				 strerror(-rc));
	}
	pthread_mutex_lock(&fs->emb_lock);
	u->gone = 1;
	last = --u->refs == 0;
	if (last)
		for (p = &fs->emb_pending; *p; p = &(*p)->next)
			if (*p == u) {
				*p = u->next;
				break;
			}
	pthread_mutex_unlock(&fs->emb_lock);
	if (last) {
		close(u->fd);
		core_csv_check_free(u->ck);
		core_input_check_free(u->ick);
		free(u);
	}
	free(fh);
}

int fs_emb_open_read(struct fs *fs, struct fs_ino i, struct fs_fh **out)
{
	struct fs_fh *fh = calloc(1, sizeof(*fh));
	struct csvfile f;
	off_t size;
	int fd = -1, rc;

	*out = NULL;
	if (!fh)
		return -ENOMEM;
	rc = file_of_ino(fs, i, &f);
	if (!rc)
		rc = export_get(fs, &f, 1, &size, &fd);
	if (rc) {
		if (fd >= 0)
			close(fd);
		free(fh);
		return rc;
	}
	fh->kind = FH_BLOB;
	fh->fd = fd;
	*out = fh;
	return 0;
}

int fs_emb_unlink(struct fs *fs, int kind, int64_t ds, const char *file)
{
	struct csvfile f;
	char base[130];
	int scores, rc = csv_base(kind, file, base, sizeof(base), &scores);

	if (rc)
		return -ENOENT;
	rc = file_of_name(fs, kind, ds, base, scores, &f);
	if (!rc && scores)
		return -EPERM;     /* computed from NAME.csv: rm that */
	if (!rc)
		rc = kind ? fs->be->ops->input_delete(fs->be, f.id)
			  : fs->be->ops->emb_delete(fs->be, f.id);
	if (!rc)
		export_forget(kind, f.id);
	return rc;
}
