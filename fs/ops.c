/*
 * ops.c — the FUSE low-level operations: maps inode numbers (fs/ino.h) to the
 * three kinds of things a mount shows (the root with datasets, a dataset's
 * own folder with its tags and control files, and the nodes of trees) and
 * calls the backend. See fs.h for what the kernel may cache.
 *
 * Lookup counts: fs/ keeps no per-inode state for names (everything is a
 * catalog row), so forget needs no bookkeeping and a deleted node simply
 * stops resolving by name. The one exception is files with open handles
 * ("Open files" below): their attributes stay answerable after an unlink.
 * Callback arguments (names, buffers, attrs) are not kept past the call.
 */
#include <errno.h>
#include <stdio.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"
#include "core/names.h"
#include "fs/emb.h"
#include "fs/fs.h"

#define XATTR_PREFIX "user.sievefs."

static struct fs *FS(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static struct fs_fh *FH(struct fuse_file_info *fi)
{
	return (struct fs_fh *)(uintptr_t)fi->fh;
}

static void ns_to_ts(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000);
	ts->tv_nsec = (long)(ns % 1000000000);
	if (ts->tv_nsec < 0) {         /* before 1970: tv_nsec is 0..1e9-1 */
		ts->tv_sec -= 1;
		ts->tv_nsec += 1000000000;
	}
}

static int64_t now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static int64_t ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* Names longer than a component may be (statfs f_namemax) can name
 * nothing: ENAMETOOLONG, as on ext4, before any lookup. */
static int name_check(const char *name)
{
	return strlen(name) > STORE_NAME_MAX ? -ENAMETOOLONG : 0;
}

/* ---- attributes ---- */

/* Directory link counts are as on ext4, 2 + child folders (find's leaf
 * optimisation trusts them): the root has one per dataset, a dataset one
 * per tag plus embeddings/, a node folder its child folders. */

/* The root: its times are those of the newest dataset's creation (stable
 * across remounts), or of the mount's start when there is none. */
static int root_attr(struct fs *fs, struct stat *st)
{
	be_dataset *v;
	size_t n;
	int64_t t = fs->started_ns;
	int rc = fs->be->ops->dataset_list(fs->be, &v, &n);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		if (i == 0 || v[i].created_ns > t)
			t = v[i].created_ns;
	free(v);
	memset(st, 0, sizeof(*st));
	st->st_ino = 1;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2 + n;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	ns_to_ts(t, &st->st_mtim);
	st->st_ctim = st->st_atim = st->st_mtim;
	return 0;
}

static void dataset_attr(struct fs *fs, const be_dataset *d, struct stat *st)
{
	be_tag *tags;
	size_t ntags = 0;

	if (fs->be->ops->tag_list(fs->be, d->id, &tags, &ntags) == 0)
		free(tags);
	else
		ntags = 1;   /* initial-tag is always there */
	memset(st, 0, sizeof(*st));
	st->st_ino = fs_ino_dataset(d->id);
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2 + ntags + 1;   /* + embeddings/ */
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	ns_to_ts(d->created_ns, &st->st_mtim);
	st->st_ctim = st->st_atim = st->st_mtim;
}

/* A control file's size is its text's (gen = 0, for listings and lookups,
 * whose attributes expire at once: without generating it; see ctl.c
 * "Sizes"); its times are when that text was first seen, so they stay put
 * while it does not change. A text that cannot be generated now shows size
 * 0 (its open reports why). */
static void ctl_attr(struct fs *fs, const be_dataset *d,
		     const struct fs_ctl *c, struct stat *st, int gen)
{
	off_t size = 0;

	memset(st, 0, sizeof(*st));
	st->st_ino = fs_ino_ctl(d->id, c->slot);
	st->st_mode = c->mode;
	st->st_nlink = S_ISDIR(c->mode) ? 2 : 1;   /* embeddings/: no subfolders */
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	ns_to_ts(d->created_ns, &st->st_mtim);
	if (S_ISREG(c->mode) &&
	    fs_ctl_stat(fs, d->id, c->slot, gen, &size, &st->st_mtim))
		ns_to_ts(d->created_ns, &st->st_mtim);
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
	st->st_ctim = st->st_atim = st->st_mtim;
}

static void node_attr(struct fs *fs, const be_node *n, struct stat *st)
{
	int64_t size = n->size, mtime = n->mtime_ns;

	if (n->kind == STORE_FILE && n->tree_live) {
		struct upload *u = upload_find(fs->up, n->ino);
		if (u) {
			upload_stat(u, &size, &mtime);
			upload_release(fs->up, u);
		}
	}
	memset(st, 0, sizeof(*st));
	st->st_ino = fs_ino_node(n->ino);
	st->st_mode = (n->kind == STORE_DIR ? S_IFDIR : S_IFREG) |
		      (n->mode & 07777);
	if (!n->tree_live)
		st->st_mode &= ~(mode_t)0222;
	st->st_nlink = n->kind == STORE_DIR ? 2 + (nlink_t)n->subdirs : 1;
	st->st_uid = n->uid;
	st->st_gid = n->gid;
	st->st_size = size;
	st->st_blocks = (size + 511) / 512;
	st->st_blksize = 131072;
	ns_to_ts(mtime, &st->st_mtim);
	ns_to_ts(n->ctime_ns, &st->st_ctim);
	ns_to_ts(n->atime_ns, &st->st_atim);
}

/* ---- open files ----
 *
 * fs.open_files maps the node of every file with an open handle (FH_BLOB,
 * FH_UPLOAD) to its handle count and its attributes as last seen (at open,
 * getattr, setattr, and right before an unlink or a rename over it). When
 * the node is gone from the catalog, getattr and setattr fall back to this
 * copy, so a process that has the file open keeps a working descriptor
 * until its last close, as on any POSIX filesystem. Only open files have an
 * entry, so the table stays small; locks: one per bucket
 * (fs.open_locks), held for a lookup or a copy only (never across backend
 * calls), so that the opens and closes of parallel readers do not contend;
 * fs.nopen (atomic) lets the paths that only matter for removed files skip
 * the table when nothing is open. */

struct fs_open {
	int64_t ino;
	int refs;                    /* open handles on the node */
	be_node n;                   /* attributes as last seen */
	_Atomic int fd;              /* lazily opened blob of a frozen file,
					shared by its FH_BLOB handles (set
					under the bucket lock); BLOB_LAZY:
					not opened yet */
	struct fs_open *next;
};

/* fs_fh.fd / fs_open.fd of a blob not opened yet (see op_open). */
#define BLOB_LAZY (-2)

static pthread_mutex_t *open_lock(struct fs *fs, int64_t ino)
{
	return &fs->open_locks[(uint64_t)ino % FS_OPEN_BUCKETS];
}

/* Caller holds open_lock(fs, ino). */
static struct fs_open **open_slot(struct fs *fs, int64_t ino)
{
	struct fs_open **p = &fs->open_files[(uint64_t)ino % FS_OPEN_BUCKETS];

	while (*p && (*p)->ino != ino)
		p = &(*p)->next;
	return p;
}

/* A handle on file node n was opened: 0 or -ENOMEM. *out (if out is not
 * NULL): the node's entry, valid until the handle's open_unref. */
static int open_ref_get(struct fs *fs, const be_node *n, struct fs_open **out)
{
	struct fs_open **p, *o = NULL;
	int rc = 0;

	pthread_mutex_lock(open_lock(fs, n->ino));
	p = open_slot(fs, n->ino);
	if (*p) {
		o = *p;
		o->refs++;
		o->n = *n;
	} else if ((o = calloc(1, sizeof(*o))) != NULL) {
		o->ino = n->ino;
		o->refs = 1;
		o->n = *n;
		atomic_init(&o->fd, BLOB_LAZY);
		*p = o;
		atomic_fetch_add(&fs->nopen, 1);
	} else {
		rc = -ENOMEM;
	}
	pthread_mutex_unlock(open_lock(fs, n->ino));
	if (out)
		*out = o;
	return rc;
}

static int open_ref(struct fs *fs, const be_node *n)
{
	return open_ref_get(fs, n, NULL);
}

/* The blob fd of open frozen file o, opened at the first call (the first
 * READ of any handle on it; see op_open): fd or -errno. The fd is closed
 * with the node's last handle. */
static int open_blob_fd(struct fs *fs, struct fs_open *o)
{
	int fd = atomic_load(&o->fd);

	if (fd != BLOB_LAZY)
		return fd;
	pthread_mutex_lock(open_lock(fs, o->ino));
	fd = atomic_load(&o->fd);
	if (fd == BLOB_LAZY) {
		fd = fs->be->ops->node_open(fs->be, &o->n);
		if (fd >= 0)
			atomic_store(&o->fd, fd);
	}
	pthread_mutex_unlock(open_lock(fs, o->ino));
	return fd;
}

/* A tag or dataset is about to be removed, and with it the blobs no other
 * node names: every open frozen file not read yet gets its blob fd now, so
 * that its handles read the bytes they opened (as after an unlink). */
static void open_blobs_now(struct fs *fs)
{
	if (!atomic_load(&fs->nopen))
		return;
	for (size_t b = 0; b < FS_OPEN_BUCKETS; b++) {
		pthread_mutex_lock(&fs->open_locks[b]);
		for (struct fs_open *o = fs->open_files[b]; o; o = o->next) {
			int fd;
			if (atomic_load(&o->fd) != BLOB_LAZY ||
			    o->n.kind != STORE_FILE || !o->n.has_sha ||
			    o->n.tree_live)
				continue;
			fd = fs->be->ops->node_open(fs->be, &o->n);
			if (fd >= 0)
				atomic_store(&o->fd, fd);
		}
		pthread_mutex_unlock(&fs->open_locks[b]);
	}
}

static void open_unref(struct fs *fs, int64_t ino)
{
	struct fs_open **p, *o = NULL;

	pthread_mutex_lock(open_lock(fs, ino));
	p = open_slot(fs, ino);
	if (*p && --(*p)->refs == 0) {
		o = *p;
		*p = o->next;
		atomic_fetch_sub(&fs->nopen, 1);
	}
	pthread_mutex_unlock(open_lock(fs, ino));
	if (o && atomic_load(&o->fd) >= 0)
		close(atomic_load(&o->fd));
	free(o);
}

/* Refreshes the copy of an open node (no-op for a node not open); also
 * how fchmod/futimens change a removed one. */
static void open_update(struct fs *fs, const be_node *n)
{
	struct fs_open *o;

	if (!atomic_load(&fs->nopen))
		return;
	pthread_mutex_lock(open_lock(fs, n->ino));
	o = *open_slot(fs, n->ino);
	if (o)
		o->n = *n;
	pthread_mutex_unlock(open_lock(fs, n->ino));
}

/* The last attributes of open node ino into *out: 0, or -ENOENT if no
 * handle has it open. */
static int open_get(struct fs *fs, int64_t ino, be_node *out)
{
	struct fs_open *o;
	int rc = -ENOENT;

	if (!atomic_load(&fs->nopen))
		return -ENOENT;
	pthread_mutex_lock(open_lock(fs, ino));
	o = *open_slot(fs, ino);
	if (o) {
		*out = o->n;
		rc = 0;
	}
	pthread_mutex_unlock(open_lock(fs, ino));
	return rc;
}

/* Node `name` of `parent` is about to be removed or replaced: if it is
 * open, its attributes are kept for its handles. */
static void open_forget_name(struct fs *fs, int64_t parent, const char *name)
{
	be_node n;

	if (atomic_load(&fs->nopen) &&
	    fs->be->ops->node_lookup(fs->be, parent, name, &n) == 0)
		open_update(fs, &n);
}

/* A node by number, or the last attributes of an open one removed
 * meanwhile (*gone set). */
static int node_get_open(struct fs *fs, int64_t ino, be_node *n, int *gone)
{
	int rc;

	*gone = 0;
	/* a frozen node does not change: its open copy needs no refresh */
	if (nodecache_get(fs->nc, ino, n) == 0)
		return 0;
	rc = fs->be->ops->node_get(fs->be, ino, n);
	if (rc == -ENOENT && open_get(fs, ino, n) == 0) {
		*gone = 1;
		return 0;
	}
	if (!rc) {
		nodecache_put(fs->nc, n);
		open_update(fs, n);
	}
	return rc;
}

static double node_ttl(struct fs *fs, const be_node *n)
{
	return n->tree_live ? fs->live_ttl : fs->frozen_ttl;
}

static void node_entry(struct fs *fs, const be_node *n,
		       struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	node_attr(fs, n, &e->attr);
	e->ino = e->attr.st_ino;
	e->attr_timeout = e->entry_timeout = node_ttl(fs, n);
	nodecache_put(fs->nc, n);   /* the open that follows needs no query */
}

static void dataset_entry(struct fs *fs, const be_dataset *d,
			  struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	dataset_attr(fs, d, &e->attr);
	e->ino = e->attr.st_ino;
	e->attr_timeout = e->entry_timeout = fs->live_ttl;
}

static void ctl_entry(struct fs *fs, const be_dataset *d,
		      const struct fs_ctl *c, struct fuse_entry_param *e,
		      int gen)
{
	memset(e, 0, sizeof(*e));
	ctl_attr(fs, d, c, &e->attr, gen);
	e->ino = e->attr.st_ino;
	e->attr_timeout = 0;
	e->entry_timeout = fs->live_ttl;
}

/* Entry of tag `t`'s folder: its root node. */
static int tag_entry(struct fs *fs, const be_tag *t,
		     struct fuse_entry_param *e)
{
	be_node n;
	int rc = fs->be->ops->node_get(fs->be, t->root, &n);

	if (!rc)
		node_entry(fs, &n, e);
	return rc;
}

/* Resolves `name` in directory `parent` to an entry. */
static int do_lookup(struct fs *fs, fuse_ino_t parent, const char *name,
		     struct fuse_entry_param *e)
{
	struct backend *be = fs->be;
	struct fs_ino p = fs_ino_decode(parent);
	be_dataset d;
	be_tag t;
	be_node n;
	int rc = name_check(name);

	if (rc)
		return rc;
	switch (p.kind) {
	case FS_INO_ROOT:
		rc = be->ops->dataset_get(be, name, &d);
		if (!rc)
			dataset_entry(fs, &d, e);
		return rc;
	case FS_INO_DATASET: {
		const struct fs_ctl *c = fs_ctl_by_name(name);
		rc = be->ops->dataset_get_id(be, p.id, &d);
		if (rc)
			return rc;
		if (c) {
			/* Attributes valid for 0 s: the stat that follows asks
			 * again, so the text is generated there, not twice. */
			ctl_entry(fs, &d, c, e, 0);
			return 0;
		}
		rc = be->ops->tag_get(be, p.id, name, &t);
		return rc ? rc : tag_entry(fs, &t, e);
	}
	case FS_INO_NODE:
		rc = be->ops->node_lookup(be, p.id, name, &n);
		if (!rc)
			node_entry(fs, &n, e);
		return rc;
	case FS_INO_CTL:
		if (p.slot != FS_SLOT_EMBDIR)
			return -ENOTDIR;
		rc = fs_emb_lookup(fs, p.id, name, e);
		e->attr_timeout = 0;
		e->entry_timeout = 0;
		return rc;
	default:
		return -ENOENT;
	}
}

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	struct fs *fs = userdata;

	for (size_t i = 0; i < FS_OPEN_BUCKETS; i++)
		pthread_mutex_init(&fs->open_locks[i], NULL);
	atomic_init(&fs->nopen, 0);
	/* No cache (out of memory) only costs a query per open. */
	fs->nc = fs->node_cache ? nodecache_new(FS_NODECACHE_SLOTS) : NULL;
	fs->started_ns = now_ns();
	conn->want |= FUSE_CAP_ATOMIC_O_TRUNC | FUSE_CAP_PARALLEL_DIROPS;
	if (conn->capable & FUSE_CAP_READDIRPLUS)
		conn->want |= FUSE_CAP_READDIRPLUS;
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	if (conn->capable & FUSE_CAP_SPLICE_WRITE)
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	conn->want &= ~FUSE_CAP_POSIX_ACL;
	conn->max_write = 1 << 20;
	conn->max_readahead = 1 << 20;
	conn->max_background = 64;
	conn->congestion_threshold = 48;
}

static void op_destroy(void *userdata)
{
	struct fs *fs = userdata;

	nodecache_free(fs->nc);
	fs->nc = NULL;
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = FS(req);
	struct fuse_entry_param e;
	int rc = do_lookup(fs, parent, name, &e);

	if (rc == -ENOENT) {
		/* Negative entry: names appear only through this mount (or
		 * after the TTL in remote mode). */
		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->live_ttl;
		fuse_reply_entry(req, &e);
		return;
	}
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_entry(req, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	(void)ino;
	(void)nlookup;
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	(void)count;
	(void)forgets;
	fuse_reply_none(req);
}

/* Attributes of any inode, with the timeout the kernel may keep them. */
static int do_getattr(struct fs *fs, fuse_ino_t ino, struct stat *st,
		      double *ttl)
{
	struct backend *be = fs->be;
	struct fs_ino i = fs_ino_decode(ino);
	be_dataset d;
	be_node n;
	const struct fs_ctl *c;
	int rc;

	switch (i.kind) {
	case FS_INO_ROOT:
		*ttl = fs->live_ttl;
		return root_attr(fs, st);
	case FS_INO_DATASET:
	case FS_INO_CTL:
		rc = be->ops->dataset_get_id(be, i.id, &d);
		if (rc)
			return rc;
		if (i.kind == FS_INO_DATASET) {
			dataset_attr(fs, &d, st);
			*ttl = fs->live_ttl;
			return 0;
		}
		c = fs_ctl_by_slot(i.slot);
		if (!c)
			return -ENOENT;
		ctl_attr(fs, &d, c, st, 1);
		*ttl = 0;
		return 0;
	case FS_INO_NODE: {
		int gone;
		rc = node_get_open(fs, i.id, &n, &gone);
		if (rc)
			return rc;
		node_attr(fs, &n, st);
		*ttl = node_ttl(fs, &n);
		if (gone) {
			st->st_nlink = 0;
			*ttl = 0;
		}
		return 0;
	}
	case FS_INO_EMB:
	case FS_INO_EMB_UPLOAD:
		*ttl = 0;
		return fs_emb_getattr(fs, i, st);
	default:
		return -ENOENT;
	}
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	double ttl;
	int rc = do_getattr(FS(req), ino, &st, &ttl);

	/* fi: the kernel names the handle only on some paths (a read past
	 * the cached size), never for fstat(), so a removed open file is
	 * answered from the open-files table, by inode. */
	(void)fi;
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, ttl);
}

/* ---- directories ---- */

/* A directory listing, taken at opendir so that paging through it with
 * offsets is stable and costs no query per page. A frozen folder's listing
 * never changes, and the kernel keeps it (cache_readdir): its OPENDIR is
 * still sent for every `ls`, but READDIR only when the kernel's copy is
 * gone. So a frozen folder's snapshot is taken at the first READDIR
 * (`pending`), and a warm `ls` of a frozen tag costs no query at all
 * (callgrind, 2,000 entries: 13.1 M instructions per OPENDIR before). */
struct dirsnap {
	int frozen;                  /* a folder of a frozen tag */
	int pending;                 /* entries not read yet (frozen only) */
	pthread_mutex_t lock;        /* taking a pending snapshot */
	be_node self;                /* a node folder: itself (ino 0: not
					one) */
	size_t n, cap;
	char **names;
	struct fuse_entry_param *e;
};

static int snap_add(struct dirsnap *s, const char *name,
		    const struct fuse_entry_param *e)
{
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		char **nn = realloc(s->names, ncap * sizeof(*nn));
		if (!nn)
			return -ENOMEM;
		s->names = nn;
		struct fuse_entry_param *ne = realloc(s->e, ncap * sizeof(*ne));
		if (!ne)
			return -ENOMEM;
		s->e = ne;
		s->cap = ncap;
	}
	s->names[s->n] = strdup(name);
	if (!s->names[s->n])
		return -ENOMEM;
	s->e[s->n++] = *e;
	return 0;
}

static void snap_free(struct dirsnap *s)
{
	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	for (size_t i = 0; i < s->n; i++)
		free(s->names[i]);
	free(s->names);
	free(s->e);
	free(s);
}

static int snap_dots(struct dirsnap *s, fuse_ino_t self, fuse_ino_t parent)
{
	struct fuse_entry_param e;
	int rc;

	memset(&e, 0, sizeof(e));
	e.attr.st_mode = S_IFDIR;
	e.attr.st_ino = self;
	rc = snap_add(s, ".", &e);
	e.attr.st_ino = parent;
	return rc ? rc : snap_add(s, "..", &e);
}

static int snap_root(struct fs *fs, struct dirsnap *s)
{
	be_dataset *v;
	size_t n;
	struct fuse_entry_param e;
	int rc = fs->be->ops->dataset_list(fs->be, &v, &n);

	if (rc)
		return rc;
	rc = snap_dots(s, 1, 1);
	for (size_t i = 0; i < n && !rc; i++) {
		dataset_entry(fs, &v[i], &e);
		rc = snap_add(s, v[i].name, &e);
	}
	free(v);
	return rc;
}

static int snap_dataset(struct fs *fs, int64_t ds, struct dirsnap *s)
{
	struct backend *be = fs->be;
	struct fuse_entry_param e;
	const struct fs_ctl *ctls;
	be_dataset d;
	be_tag *tags;
	size_t nctl, ntags;
	int rc = be->ops->dataset_get_id(be, ds, &d);

	if (rc)
		return rc;
	rc = be->ops->tag_list(be, ds, &tags, &ntags);
	if (rc)
		return rc;
	rc = snap_dots(s, fs_ino_dataset(ds), 1);
	for (size_t i = 0; i < ntags && !rc; i++) {
		rc = tag_entry(fs, &tags[i], &e);
		if (!rc)
			rc = snap_add(s, tags[i].name, &e);
	}
	ctls = fs_ctl_all(&nctl);
	for (size_t i = 0; i < nctl && !rc; i++) {
		ctl_entry(fs, &d, &ctls[i], &e, 0);
		rc = snap_add(s, ctls[i].name, &e);
	}
	free(tags);
	return rc;
}

/* The entries of node folder s->self. */
static int snap_children(struct fs *fs, struct dirsnap *s)
{
	struct backend *be = fs->be;
	struct fuse_entry_param e;
	const be_node *self = &s->self;
	be_node *v;
	size_t n;
	int rc = be->ops->node_children(be, self->ino, &v, &n);

	if (rc)
		return rc;
	rc = snap_dots(s, fs_ino_node(self->ino), self->parent > 0 ?
		       fs_ino_node(self->parent) : fs_ino_dataset(self->dataset));
	for (size_t i = 0; i < n && !rc; i++) {
		node_entry(fs, &v[i], &e);
		rc = snap_add(s, v[i].name, &e);
	}
	free(v);
	return rc;
}

static int snap_node(struct fs *fs, int64_t ino, struct dirsnap *s)
{
	be_node self;
	int rc = 0;

	if (nodecache_get(fs->nc, ino, &self) &&
	    (rc = fs->be->ops->node_get(fs->be, ino, &self)) == 0)
		nodecache_put(fs->nc, &self);
	if (rc)
		return rc;
	if (self.kind != STORE_DIR)
		return -ENOTDIR;
	s->frozen = !self.tree_live;
	s->self = self;
	if (s->frozen && fs->frozen_ttl > fs->live_ttl) {
		s->pending = 1;
		return 0;
	}
	return snap_children(fs, s);
}

static int snap_emb_add(void *arg, const char *name,
			const struct fuse_entry_param *e)
{
	return snap_add(arg, name, e);
}

static int snap_emb(struct fs *fs, int64_t ds, struct dirsnap *s)
{
	be_dataset d;
	int rc = fs->be->ops->dataset_get_id(fs->be, ds, &d);

	if (!rc)
		rc = snap_dots(s, fs_ino_ctl(ds, FS_SLOT_EMBDIR),
			       fs_ino_dataset(ds));
	return rc ? rc : fs_emb_list(fs, ds, snap_emb_add, s);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct fs_ino i = fs_ino_decode(ino);
	struct dirsnap *s = calloc(1, sizeof(*s));
	int rc;

	if (!s) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	pthread_mutex_init(&s->lock, NULL);
	switch (i.kind) {
	case FS_INO_ROOT: rc = snap_root(fs, s); break;
	case FS_INO_DATASET: rc = snap_dataset(fs, i.id, s); break;
	case FS_INO_NODE: rc = snap_node(fs, i.id, s); break;
	case FS_INO_CTL:
		rc = i.slot == FS_SLOT_EMBDIR ? snap_emb(fs, i.id, s) : -ENOTDIR;
		break;
	default: rc = -ENOENT;
	}
	/* fstat/futimens on an open folder work after its rmdir too */
	if (!rc && s->self.ino)
		rc = open_ref(fs, &s->self);
	if (rc) {
		snap_free(s);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)s;
	/* A frozen folder's listing never changes: let the kernel keep it. */
	if (s->frozen && fs->frozen_ttl > fs->live_ttl) {
		fi->cache_readdir = 1;
		fi->keep_cache = 1;
	}
	fuse_reply_open(req, fi);
}

static void do_readdir(fuse_req_t req, size_t size, off_t off,
		       struct fuse_file_info *fi, int plus)
{
	struct dirsnap *s = (struct dirsnap *)(uintptr_t)fi->fh;
	char *buf;
	size_t pos = 0;
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (s->pending) {
		rc = snap_children(FS(req), s);
		if (!rc) {
			s->pending = 0;
		} else {             /* the next READDIR starts afresh */
			for (size_t i = 0; i < s->n; i++)
				free(s->names[i]);
			s->n = 0;
		}
	}
	pthread_mutex_unlock(&s->lock);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (size_t i = (size_t)off; i < s->n; i++) {
		size_t len;
		if (plus) {
			struct fuse_entry_param e = s->e[i];
			if (i < 2)
				e.ino = 0;  /* "." and "..": name only */
			len = fuse_add_direntry_plus(req, buf + pos, size - pos,
						     s->names[i], &e,
						     (off_t)i + 1);
		} else {
			len = fuse_add_direntry(req, buf + pos, size - pos,
						s->names[i], &s->e[i].attr,
						(off_t)i + 1);
		}
		if (len > size - pos)
			break;
		pos += len;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, 0);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	do_readdir(req, size, off, fi, 1);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	struct dirsnap *s = (struct dirsnap *)(uintptr_t)fi->fh;

	(void)ino;
	if (s->self.ino)
		open_unref(FS(req), s->self.ino);
	snap_free(s);
	fuse_reply_err(req, 0);
}

/* ---- namespace changes ---- */

static void reply_node_entry(fuse_req_t req, struct fs *fs, const be_node *n)
{
	struct fuse_entry_param e;

	node_entry(fs, n, &e);
	fuse_reply_entry(req, &e);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct fs *fs = FS(req);
	struct backend *be = fs->be;
	struct fs_ino p = fs_ino_decode(parent);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e;
	char msg[BE_MSG];
	be_dataset d;
	be_tag t;
	be_node n;
	int rc = name_check(name);

	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	switch (p.kind) {
	case FS_INO_ROOT:
		rc = be->ops->dataset_create(be, name, &d, msg);
		if (!rc) {
			dataset_entry(fs, &d, &e);
			fuse_reply_entry(req, &e);
			return;
		}
		break;
	case FS_INO_DATASET:
		rc = be->ops->tag_create(be, p.id, name, &t, msg);
		if (!rc)
			rc = tag_entry(fs, &t, &e);
		if (!rc) {
			fuse_reply_entry(req, &e);
			return;
		}
		break;
	case FS_INO_NODE: {
		struct store_newnode nn = { .kind = STORE_DIR,
			.mode = mode & 07777, .uid = ctx->uid, .gid = ctx->gid };
		rc = be->ops->node_create(be, p.id, name, &nn, &n);
		if (!rc) {
			reply_node_entry(req, fs, &n);
			return;
		}
		break;
	}
	case FS_INO_CTL:
		rc = p.slot == FS_SLOT_EMBDIR ? -EPERM : -ENOTDIR;
		break;
	default:
		rc = -ENOENT;
	}
	fuse_reply_err(req, -rc);
}

/* Creates a file node in a live folder; files live only inside trees. */
static int make_file(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, be_node *n)
{
	struct fs *fs = FS(req);
	struct fs_ino p = fs_ino_decode(parent);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct store_newnode nn = { .kind = STORE_FILE, .mode = mode & 07777,
				    .uid = ctx->uid, .gid = ctx->gid };

	if (strlen(name) > STORE_NAME_MAX)
		return -ENAMETOOLONG;
	if (p.kind == FS_INO_DATASET)
		return fs_ctl_by_name(name) ? -EEXIST : -EPERM;
	if (p.kind != FS_INO_NODE)
		return p.kind == FS_INO_CTL ? -ENOTDIR : -EPERM;
	return fs->be->ops->node_create(fs->be, p.id, name, &nn, n);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct fuse_entry_param e;
	struct fs_fh *fh;
	be_node n;
	struct fs_ino p = fs_ino_decode(parent);
	int rc;

	if (p.kind == FS_INO_CTL && p.slot == FS_SLOT_EMBDIR) {
		rc = fs_emb_upload_new(fs, p.id, name, &fh, &e);
		if (rc) {
			fuse_reply_err(req, -rc);
			return;
		}
		fi->fh = (uintptr_t)fh;
		fi->direct_io = 1;
		if (fuse_reply_create(req, &e, fi) == -ENOENT)
			fs_emb_release(fs, fh);
		return;
	}
	rc = make_file(req, parent, name, mode, &n);
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fh = calloc(1, sizeof(*fh));
	if (!fh) {
		fs->be->ops->node_remove(fs->be, n.parent, name, 0);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	fh->kind = FH_UPLOAD;
	fh->fd = -1;
	fh->wr = 1;
	fh->ino = n.ino;
	rc = upload_get(fs->up, &n, 1, &fh->u);
	if (!rc && (rc = open_ref(fs, &n)) != 0)
		upload_release(fs->up, fh->u);
	if (rc) {
		free(fh);
		fs->be->ops->node_remove(fs->be, n.parent, name, 0);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)fh;
	node_entry(fs, &n, &e);
	if (fuse_reply_create(req, &e, fi) == -ENOENT) {
		open_unref(fs, fh->ino);
		upload_release(fs->up, fh->u);
		free(fh);
	}
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct fs *fs = FS(req);
	struct upload *u;
	be_node n;
	int rc;

	(void)rdev;
	if (!S_ISREG(mode)) {
		fuse_reply_err(req, EPERM);
		return;
	}
	rc = make_file(req, parent, name, mode, &n);
	if (!rc)
		rc = upload_get(fs->up, &n, 1, &u);
	if (!rc) {
		rc = upload_commit(u, 0);
		upload_release(fs->up, u);
	}
	if (!rc)
		rc = fs->be->ops->node_get(fs->be, n.ino, &n);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		reply_node_entry(req, fs, &n);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = FS(req);
	struct fs_ino p = fs_ino_decode(parent);
	be_tag t;
	int rc;

	switch (p.kind) {
	case FS_INO_NODE:
		open_forget_name(fs, p.id, name);
		rc = fs->be->ops->node_remove(fs->be, p.id, name, 0);
		break;
	case FS_INO_DATASET:
		if (fs_ctl_by_name(name))
			rc = -EPERM;
		else if (fs->be->ops->tag_get(fs->be, p.id, name, &t) == 0)
			rc = -EISDIR;
		else
			rc = -ENOENT;
		break;
	case FS_INO_ROOT:
		rc = -EISDIR;
		break;
	case FS_INO_CTL:
		rc = p.slot == FS_SLOT_EMBDIR ?
		     fs_emb_unlink(fs, p.id, name) : -ENOTDIR;
		break;
	default:
		rc = -ENOTDIR;
	}
	fuse_reply_err(req, -rc);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = FS(req);
	struct backend *be = fs->be;
	struct fs_ino p = fs_ino_decode(parent);
	char msg[BE_MSG];
	be_dataset d;
	be_tag t;
	int rc;

	switch (p.kind) {
	case FS_INO_ROOT:
		rc = be->ops->dataset_get(be, name, &d);
		if (!rc) {
			open_blobs_now(fs);
			rc = be->ops->dataset_delete(be, d.id, msg);
		}
		if (!rc)
			nodecache_clear(fs->nc);
		break;
	case FS_INO_DATASET:
		if (fs_ctl_by_name(name)) {
			rc = S_ISDIR(fs_ctl_by_name(name)->mode) ? -EPERM
								 : -ENOTDIR;
			break;
		}
		rc = be->ops->tag_get(be, p.id, name, &t);
		if (!rc) {
			open_blobs_now(fs);
			rc = be->ops->tag_delete(be, t.id, msg);
		}
		if (!rc)
			nodecache_clear(fs->nc);
		break;
	case FS_INO_NODE:
		open_forget_name(fs, p.id, name);
		rc = be->ops->node_remove(be, p.id, name, 1);
		break;
	default:
		rc = -ENOTDIR;
	}
	fuse_reply_err(req, -rc);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	struct fs *fs = FS(req);
	struct backend *be = fs->be;
	struct fs_ino p = fs_ino_decode(parent), np = fs_ino_decode(newparent);
	int noreplace = (flags & RENAME_NOREPLACE) != 0;
	char msg[BE_MSG];
	be_dataset d;
	be_tag t;
	int rc;

	if (flags & ~(unsigned)RENAME_NOREPLACE) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	if (name_check(name) || name_check(newname)) {
		fuse_reply_err(req, ENAMETOOLONG);
		return;
	}
	if (p.kind != np.kind || (p.kind != FS_INO_NODE && p.id != np.id)) {
		fuse_reply_err(req, EXDEV);
		return;
	}
	switch (p.kind) {
	case FS_INO_ROOT:
		rc = be->ops->dataset_get(be, name, &d);
		if (!rc)
			rc = be->ops->dataset_rename(be, d.id, newname, msg);
		break;
	case FS_INO_DATASET:
		if (fs_ctl_by_name(name) || fs_ctl_by_name(newname)) {
			rc = -EPERM;
			break;
		}
		rc = be->ops->tag_get(be, p.id, name, &t);
		if (!rc)
			rc = be->ops->tag_rename(be, t.id, newname, msg);
		break;
	case FS_INO_NODE:
		if (!noreplace)
			open_forget_name(fs, np.id, newname);
		rc = be->ops->node_rename(be, p.id, name, np.id, newname,
					  noreplace);
		break;
	default:
		rc = -ENOTDIR;
	}
	fuse_reply_err(req, -rc);
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	(void)ino;
	(void)newparent;
	(void)newname;
	fuse_reply_err(req, EPERM);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	(void)link;
	(void)parent;
	(void)name;
	fuse_reply_err(req, EPERM);
}

/* ---- attributes ---- */

/* Changes the size of file node n: through the writer's upload when the
 * call came with one (ftruncate), else as a whole upload committed now
 * (truncate by path: no open handle will close it). */
static int truncate_node(struct fs *fs, const be_node *n, off_t size,
			 struct fs_fh *fh, int gone)
{
	struct upload *u = NULL;
	int rc;

	if (n->kind == STORE_DIR)
		return -EISDIR;
	if (fh && fh->kind == FH_UPLOAD)
		return upload_truncate(fh->u, size);
	if (gone) {
		/* Removed, and this is no writer's handle: only an upload
		 * still has the bytes. */
		u = upload_find(fs->up, n->ino);
		rc = u ? upload_truncate(u, size) : -EBADF;
		upload_release(fs->up, u);
		return rc;
	}
	rc = upload_get(fs->up, n, size == 0, &u);
	if (!rc)
		rc = upload_truncate(u, size);
	if (!rc)
		rc = upload_commit(u, 0);
	upload_release(fs->up, u);
	return rc;
}

/* setattr of a node of a tree. Times follow utimensat(2): atime and mtime
 * each set to a given time, to now, or left; a size change (truncate and
 * ftruncate alike) sets mtime (and ctime) to now unless a time is given,
 * as ext4 does. Reads never move atime (see README, "POSIX"). A node
 * removed while open (gone) changes only its copy in the open-files table
 * (fchmod, futimens on the descriptor); nothing can bring it back. */
static int setattr_node(struct fs *fs, int64_t id, struct stat *attr,
			int to_set, struct fuse_file_info *fi)
{
	struct backend *be = fs->be;
	struct fs_fh *fh = fi ? FH(fi) : NULL;
	struct upload *u;
	be_node n;
	int what = 0, gone, rc;
	int64_t now = now_ns(), mtime = 0, atime = 0;

	rc = node_get_open(fs, id, &n, &gone);
	if (rc)
		return rc;
	if (!n.tree_live)
		return -EROFS;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		rc = truncate_node(fs, &n, attr->st_size, fh, gone);
		if (rc)
			return rc;
		what |= STORE_SET_MTIME;
		mtime = now;
	}
	if (to_set & FUSE_SET_ATTR_MODE)
		what |= STORE_SET_MODE;
	if (to_set & FUSE_SET_ATTR_UID)
		what |= STORE_SET_UID;
	if (to_set & FUSE_SET_ATTR_GID)
		what |= STORE_SET_GID;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		mtime = now;
		what |= STORE_SET_MTIME;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		mtime = ts_ns(&attr->st_mtim);
		what |= STORE_SET_MTIME;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		atime = now;
		what |= STORE_SET_ATIME;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		atime = ts_ns(&attr->st_atim);
		what |= STORE_SET_ATIME;
	}
	if (!what)
		return 0;
	if (gone) {
		if (what & STORE_SET_MODE)
			n.mode = attr->st_mode & 07777;
		if (what & STORE_SET_UID)
			n.uid = attr->st_uid;
		if (what & STORE_SET_GID)
			n.gid = attr->st_gid;
		if (what & STORE_SET_MTIME)
			n.mtime_ns = mtime;
		if (what & STORE_SET_ATIME)
			n.atime_ns = atime;
		n.ctime_ns = now;
		open_update(fs, &n);
	} else {
		/* The backend takes permission bits only: st_mode also
		 * holds the file type (the server refuses it, EINVAL). */
		rc = be->ops->node_setattr(be, id, what, attr->st_mode & 07777,
					   attr->st_uid, attr->st_gid, mtime,
					   atime);
		if (rc)
			return rc;
	}
	if ((what & STORE_SET_MTIME) && n.kind == STORE_FILE) {
		/* An open upload commits later: keep the time. */
		u = upload_find(fs->up, id);
		if (u) {
			upload_set_mtime(u, mtime);
			upload_release(fs->up, u);
		}
	}
	return 0;
}

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct fs_ino i = fs_ino_decode(ino);
	struct stat st;
	double ttl;
	int rc = 0;

	switch (i.kind) {
	case FS_INO_NODE:
		rc = setattr_node(fs, i.id, attr, to_set, fi);
		break;
	case FS_INO_EMB:
	case FS_INO_EMB_UPLOAD:
	case FS_INO_CTL:
		/* Truncation is how shells open for writing; the text is
		 * replaced on close anyway. */
		if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			      FUSE_SET_ATTR_GID))
			rc = -EPERM;
		break;
	default:
		/* Datasets and the root have fixed owners and modes; times
		 * (rsync, touch) are accepted and not kept. */
		if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			      FUSE_SET_ATTR_GID | FUSE_SET_ATTR_SIZE))
			rc = -EPERM;
	}
	if (!rc)
		rc = do_getattr(fs, ino, &st, &ttl);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, ttl);
}

/* ---- files ---- */

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct fs_ino i = fs_ino_decode(ino);
	int acc = fi->flags & O_ACCMODE;
	int wr = acc != O_RDONLY || (fi->flags & O_TRUNC);
	struct fs_fh *fh = NULL;
	be_node n;
	int rc;

	if (i.kind == FS_INO_EMB) {
		struct store_embedding se;
		char file[140];
		rc = fs->be->ops->emb_get_id(fs->be, i.id, &se);
		if (!rc && wr) {
			snprintf(file, sizeof(file), "%s.csv", se.name);
			rc = fs_emb_upload_new(fs, se.dataset, file, &fh, NULL);
		} else if (!rc) {
			rc = fs_emb_open_read(fs, i.id, &fh);
		}
		if (rc) {
			fuse_reply_err(req, -rc);
			return;
		}
		fi->fh = (uintptr_t)fh;
		fi->direct_io = 1;
		fuse_reply_open(req, fi);
		return;
	}
	if (i.kind == FS_INO_CTL && i.slot == FS_SLOT_EMBDIR) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (i.kind == FS_INO_CTL) {
		rc = fs_ctl_open(fs, i.id, i.slot, fi->flags, &fh);
		if (rc) {
			fuse_reply_err(req, -rc);
			return;
		}
		fi->fh = (uintptr_t)fh;
		fi->direct_io = 1;
		fuse_reply_open(req, fi);
		return;
	}
	if (i.kind != FS_INO_NODE) {
		fuse_reply_err(req, i.kind == FS_INO_BAD ? ENOENT : EISDIR);
		return;
	}
	/* A frozen file's record comes from memory (nodecache.h). */
	rc = nodecache_get(fs->nc, i.id, &n);
	if (rc && (rc = fs->be->ops->node_get(fs->be, i.id, &n)) == 0)
		nodecache_put(fs->nc, &n);
	if (!rc && n.kind == STORE_DIR)
		rc = -EISDIR;
	if (!rc && wr && !n.tree_live)
		rc = -EROFS;
	if (!rc && !(fh = calloc(1, sizeof(*fh))))
		rc = -ENOMEM;
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fh->fd = -1;
	fh->ino = n.ino;
	if (wr) {
		fh->kind = FH_UPLOAD;
		fh->wr = 1;
		rc = upload_get(fs->up, &n, (fi->flags & O_TRUNC) != 0, &fh->u);
		/* O_TRUNC truncates: mtime moves now (also for an empty file,
		 * as on ext4) */
		if (!rc && (fi->flags & O_TRUNC))
			upload_set_mtime(fh->u, now_ns());
	} else if (n.tree_live && (fh->u = upload_find(fs->up, n.ino))) {
		fh->kind = FH_UPLOAD;     /* read what the writer wrote */
		fi->noflush = 1;
	} else if (n.tree_live && n.has_sha) {
		/* A reader of a live file shares the file's upload with any
		 * writer that comes later, so it reads what they write (and
		 * commit), as on any filesystem. Until one comes the bytes are
		 * the committed blob's: the kernel may keep its pages (a
		 * writer's open drops them; its writes go through them). */
		fh->kind = FH_UPLOAD;
		rc = upload_get(fs->up, &n, 0, &fh->u);
		fi->keep_cache = 1;
		fi->noflush = 1;
	} else {
		fh->kind = FH_BLOB;
		/* Embedded mode: the blob is opened at the first READ, shared
		 * by the node's handles (open_blob_fd): a re-read whose pages
		 * the kernel has opens no file at all. Remote mode opens it
		 * now (it may be fetched: errors belong to open). */
		if (n.has_sha && fs->nc)
			fh->fd = BLOB_LAZY;
		else if (n.has_sha) {
			fh->fd = fs->be->ops->node_open(fs->be, &n);
			rc = fh->fd < 0 ? fh->fd : 0;
		}
		/* Bytes of a committed blob never change: keep the kernel's
		 * page cache across opens (epoch 2+ of training), and a reader's
		 * close() has nothing to commit: spare it the FLUSH round trip. */
		fi->keep_cache = 1;
		fi->noflush = 1;
	}
	if (!rc)
		rc = open_ref_get(fs, &n, &fh->o);
	if (rc) {
		if (fh->u)
			upload_release(fs->up, fh->u);
		if (fh->fd >= 0)
			close(fh->fd);
		free(fh);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)fh;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		open_unref(fs, fh->ino);
		if (fh->u)
			upload_release(fs->up, fh->u);
		if (fh->fd >= 0)
			close(fh->fd);
		free(fh);
	}
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs_fh *fh = FH(fi);
	ssize_t n;

	(void)ino;
	if (fh->kind == FH_BLOB) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
		int bfd = fh->fd;
		if (bfd == BLOB_LAZY && (bfd = open_blob_fd(FS(req), fh->o)) < 0) {
			fuse_reply_err(req, -bfd);
			return;
		}
		if (bfd < 0) {
			fuse_reply_buf(req, NULL, 0);
			return;
		}
		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = bfd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	if (fh->kind == FH_CTL) {
		if (fh->writing) {
			fuse_reply_err(req, EBADF);
			return;
		}
		if (off < 0 || (size_t)off >= fh->len) {
			fuse_reply_buf(req, NULL, 0);
			return;
		}
		n = (ssize_t)(fh->len - (size_t)off);
		fs_ctl_get(fh);
		fuse_reply_buf(req, fh->text + off,
			       (size_t)n < size ? (size_t)n : size);
		fs_ctl_put(fh);
		return;
	}
	/* An upload: splice from a descriptor of its current bytes (no
	 * buffer per request), the way committed blobs are read. */
	int fd = upload_read_fd(fh->u);
	if (fd >= 0) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = fd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		close(fd);
		return;
	}
	if (fd == -ENODATA) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	char *buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = upload_read(fh->u, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs_fh *fh = FH(fi);
	ssize_t n;

	(void)ino;
	if (fh->kind == FH_UPLOAD && fh->wr) {
		n = upload_write(fh->u, buf, size, off);
		/* A write moves mtime now, as on any filesystem (a time set
		 * before it no longer holds): stat shows it while the file is
		 * open, and the commit keeps it. */
		if (n > 0)
			upload_set_mtime(fh->u, now_ns());
	} else if (fh->kind == FH_EMB_UPLOAD)
		n = fs_emb_write(FS(req), fh, buf, size, off);
	else if (fh->kind == FH_CTL && fh->slot == FS_SLOT_SAMPLE)
		n = fs_ctl_write_sample(FS(req), fh, buf, size, off);
	else if (fh->kind == FH_CTL)
		n = fs_ctl_write(fh, buf, size, off);
	else
		n = -EBADF;
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_fh *fh = FH(fi);
	int rc = 0;

	(void)ino;
	/* close() returns after this: the upload is a committed sample. */
	if (fh->kind == FH_UPLOAD && fh->wr)
		rc = upload_commit(fh->u, 0);
	else if (fh->kind == FH_CTL)
		rc = fs_ctl_flush(FS(req), fh);
	else if (fh->kind == FH_EMB_UPLOAD)
		rc = fs_emb_flush(FS(req), fh);
	fuse_reply_err(req, -rc);
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct fs_fh *fh = FH(fi);
	int rc = 0;

	(void)ino;
	(void)datasync;
	if (fh->kind == FH_UPLOAD && fh->wr)
		rc = upload_commit(fh->u, 1);
	fuse_reply_err(req, -rc);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs *fs = FS(req);
	struct fs_fh *fh = FH(fi);

	(void)ino;
	switch (fh->kind) {
	case FH_UPLOAD:
		upload_release(fs->up, fh->u);
		open_unref(fs, fh->ino);
		free(fh);
		break;
	case FH_BLOB:
		if (fh->fd >= 0)
			close(fh->fd);
		open_unref(fs, fh->ino);
		free(fh);
		break;
	case FH_CTL:
		fs_ctl_release(fs, fh);
		break;
	case FH_EMB_UPLOAD:
		fs_emb_release(fs, fh);
		break;
	}
	fuse_reply_err(req, 0);
}

/* ---- extended attributes ---- */

/* Value of attribute `key` (after the prefix) of inode ino. */
static int xattr_value(struct fs *fs, fuse_ino_t ino, const char *key,
		       char *val, size_t len)
{
	struct backend *be = fs->be;
	struct fs_ino i = fs_ino_decode(ino);
	be_dataset d;
	be_node n;
	be_tag t;
	int rc;

	if (i.kind == FS_INO_DATASET) {
		rc = be->ops->dataset_get_id(be, i.id, &d);
		if (rc)
			return rc;
		if (strcmp(key, "id"))
			return -ENODATA;
		snprintf(val, len, "%s", d.uid);
		return 0;
	}
	if (i.kind != FS_INO_NODE)
		return -ENODATA;
	rc = be->ops->node_get(be, i.id, &n);
	if (rc)
		return rc;
	if (n.kind == STORE_FILE && n.has_sha && !strcmp(key, "sha256")) {
		store_sha_hex(n.sha, val);
		return 0;
	}
	if (n.parent <= 0) {
		rc = be->ops->tag_get_id(be, n.tree, &t);
		if (rc)
			return rc;
		if (!strcmp(key, "parent") && !t.live) {
			snprintf(val, len, "%s", t.parent_name);
			return 0;
		}
		if (!strcmp(key, "id")) {
			/* the 24-hex uid (a server older than
			 * tag uids sends none: its row id) */
			if (t.uid[0])
				snprintf(val, len, "%s", t.uid);
			else
				snprintf(val, len, "%lld", (long long)t.id);
			return 0;
		}
	}
	return -ENODATA;
}

static void op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	char val[256];
	size_t len;
	int rc;

	/* Only the user namespace exists here (setxattr refuses every
	 * name): a security.*, system.* or trusted.* name is "not
	 * supported", as on a filesystem without them. That is also what
	 * makes listings cheap: GNU ls -l asks for security.selinux and
	 * system.posix_acl_access on every entry (two round trips each,
	 * the kernel caches neither answer), but stops asking for the
	 * rest of a listing once a device said EOPNOTSUPP. ENOSYS would
	 * stop the kernel sending any GETXATTR for the whole mount, and
	 * hide user.sievefs.*; FUSE_CAP_POSIX_ACL would let the kernel
	 * cache only the ACL half, at the price of default_permissions
	 * (fs.h, "Read path costs"). */
	if (strncmp(name, "user.", 5)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX))) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	rc = xattr_value(FS(req), ino, name + strlen(XATTR_PREFIX), val,
			 sizeof(val));
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	len = strlen(val);
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, len);
}

static void op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	static const char *const keys[] = { "id", "parent", "sha256" };
	char list[128], val[256];
	size_t len = 0;

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		if (xattr_value(FS(req), ino, keys[k], val, sizeof(val)))
			continue;
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
					XATTR_PREFIX, keys[k]) + 1;
	}
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, list, len);
}

static void op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	(void)ino;
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	fuse_reply_err(req, ENOTSUP);
}

static void op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino;
	(void)name;
	fuse_reply_err(req, ENOTSUP);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = FS(req);
	struct statvfs sv;
	int rc = fs->be->ops->statfs(fs->be, &sv);

	(void)ino;
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

const struct fuse_lowlevel_ops fs_ops = {
	.init = op_init,
	.destroy = op_destroy,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.statfs = op_statfs,
	.setxattr = op_setxattr,
	.getxattr = op_getxattr,
	.listxattr = op_listxattr,
	.removexattr = op_removexattr,
	.create = op_create,
};
