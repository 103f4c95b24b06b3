/*
 * ops.c — the FUSE low-level operations: maps inode numbers (fs/ino.h) to the
 * three kinds of things a mount shows (the root with datasets, a dataset's
 * own folder with its tags and control files, and the nodes of trees) and
 * calls the backend. See fs.h for what the kernel may cache. This file has
 * the namespace (lookup, getattr, folders, create, mkdir, unlink, rename);
 * open files are handled in files.c, their table in openfiles.c, extended
 * attributes in xattr.c.
 *
 * Lookup counts: fs/ keeps no per-inode state for names (everything is a
 * catalog row), so forget needs no bookkeeping and a deleted node simply
 * stops resolving by name. The one exception is files with open handles
 * (openfiles.c): their attributes stay answerable after an unlink.
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
#include "fs/exports.h"
#include "fs/scratch.h"
#include "fs/fs.h"

static void ns_to_ts(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = (time_t)(ns / 1000000000);
	ts->tv_nsec = (long)(ns % 1000000000);
	if (ts->tv_nsec < 0) {         /* before 1970: tv_nsec is 0..1e9-1 */
		ts->tv_sec -= 1;
		ts->tv_nsec += 1000000000;
	}
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
	st->st_nlink = 2 + ntags + 4;   /* + embeddings/, predictions/,
					   metadata/, exports/ */
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

/* The root's `log`: the mount's own recent warnings and errors
 * (core/log.h log_recent), a read-only control file of "dataset 0". A
 * dataset named `log` hides it. */
static const be_dataset root_log_ds;

static void root_log_entry(struct fs *fs, struct fuse_entry_param *e)
{
	ctl_entry(fs, &root_log_ds, fs_ctl_by_slot(FS_SLOT_LOG), e, 0);
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
		/* also with the server gone: that is when it is needed */
		if (rc && !strcmp(name, "log")) {
			root_log_entry(fs, e);
			rc = 0;
		}
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
		if (fs_scratch_name(FS_SLOT_DIR, name))
			return fs_scratch_lookup(p.id, FS_SLOT_DIR, name, e);
		rc = be->ops->tag_get(be, p.id, name, &t);
		return rc ? rc : tag_entry(fs, &t, e);
	}
	case FS_INO_NODE:
		rc = be->ops->node_lookup(be, p.id, name, &n);
		if (!rc)
			node_entry(fs, &n, e);
		return rc;
	case FS_INO_CTL:
		if (p.slot == FS_SLOT_EXPORTDIR)   /* issue 21 item 5 */
			return fs_exports_lookup(fs, p.id, name, e);
		if (fs_csv_slot_kind(p.slot) < 0)
			return -ENOTDIR;
		if (fs_scratch_name(p.slot, name))
			return fs_scratch_lookup(p.id, p.slot, name, e);
		if (p.slot == FS_SLOT_METADIR && !strcmp(name, "builtin.csv")) {
			rc = be->ops->dataset_get_id(be, p.id, &d);
			if (!rc)
				ctl_entry(fs, &d, fs_ctl_builtin_meta(), e, 0);
			return rc;
		}
		rc = fs_emb_lookup(fs, fs_csv_slot_kind(p.slot), p.id, name, e);
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
	fs->started_ns = fs_now_ns();
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
	fs_scratch_free_all();
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	int rc = do_lookup(fs, parent, name, &e);

	if (rc == -ENOENT) {
		/* Negative entry: names appear only through this mount (or
		 * after the TTL in remote mode). */
		struct fs_ino p = fs_ino_decode(parent);
		memset(&e, 0, sizeof(e));
		/* exports/: a tag made by another door shows at once */
		e.entry_timeout = p.kind == FS_INO_CTL &&
				  p.slot == FS_SLOT_EXPORTDIR ? 0
							      : fs->live_ttl;
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
int fs_getattr(struct fs *fs, fuse_ino_t ino, struct stat *st,
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
		if (i.id == 0)
			d = root_log_ds;
		else if ((rc = be->ops->dataset_get_id(be, i.id, &d)))
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
		rc = fs_node_get_open(fs, i.id, &n, &gone);
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
	case FS_INO_INPUT:
	case FS_INO_INPUT_SCORES:
		*ttl = 0;
		return fs_emb_getattr(fs, i, st);
	case FS_INO_SCRATCH:
		*ttl = 0;
		return fs_scratch_getattr(i.id, st);
	case FS_INO_EXPORT:                /* issue 21 item 5 */
		*ttl = 0;
		return fs_exports_getattr(fs, i, st);
	default:
		return -ENOENT;
	}
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	double ttl;
	int rc = fs_getattr(fs_of(req), ino, &st, &ttl);

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
	int shadowed = 0;
	rc = snap_dots(s, 1, 1);
	for (size_t i = 0; i < n && !rc; i++) {
		dataset_entry(fs, &v[i], &e);
		rc = snap_add(s, v[i].name, &e);
		shadowed |= !strcmp(v[i].name, "log");
	}
	free(v);
	if (!rc && !shadowed) {
		root_log_entry(fs, &e);
		rc = snap_add(s, "log", &e);
	}
	return rc;
}

static int snap_add_fn(void *arg, const char *name,
			const struct fuse_entry_param *e)
{
	return snap_add(arg, name, e);
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
	return rc ? rc : fs_scratch_list(ds, FS_SLOT_DIR, snap_add_fn, s);
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

/* embeddings/, predictions/ or metadata/ (slot) */
static int snap_emb(struct fs *fs, int64_t ds, int slot, struct dirsnap *s)
{
	be_dataset d;
	int rc = fs->be->ops->dataset_get_id(fs->be, ds, &d);

	if (!rc)
		rc = snap_dots(s, fs_ino_ctl(ds, slot), fs_ino_dataset(ds));
	if (!rc)
		rc = fs_scratch_list(ds, slot, snap_add_fn, s);
	if (!rc && slot == FS_SLOT_METADIR) {
		struct fuse_entry_param e;
		ctl_entry(fs, &d, fs_ctl_builtin_meta(), &e, 0);
		rc = snap_add(s, "builtin.csv", &e);
	}
	return rc ? rc : fs_emb_list(fs, fs_csv_slot_kind(slot), ds,
				     snap_add_fn, s);
}

/* exports/ (issue 21 item 5) */
static int snap_exports(struct fs *fs, int64_t ds, struct dirsnap *s)
{
	int rc = snap_dots(s, fs_ino_ctl(ds, FS_SLOT_EXPORTDIR),
			   fs_ino_dataset(ds));

	return rc ? rc : fs_exports_list(fs, ds, snap_add_fn, s);
}

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
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
		rc = i.slot == FS_SLOT_EXPORTDIR ? snap_exports(fs, i.id, s) :
		     fs_csv_slot_kind(i.slot) >= 0 ? snap_emb(fs, i.id, i.slot,
							      s) : -ENOTDIR;
		break;
	default: rc = -ENOENT;
	}
	/* fstat/futimens on an open folder work after its rmdir too */
	if (!rc && s->self.ino)
		rc = fs_open_ref(fs, &s->self);
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
		rc = snap_children(fs_of(req), s);
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
		fs_open_unref(fs_of(req), s->self.ino);
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
	struct fs *fs = fs_of(req);
	struct backend *be = fs->be;
	struct fs_ino p = fs_ino_decode(parent);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct fuse_entry_param e;
	char msg[BE_MSG];
	be_dataset d;
	be_tag t;
	be_node n;
	int rc = name_check(name);

	if (!rc)
		rc = fs_exports_refuse(fs, p, "mkdir", name);
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
		rc = fs_csv_slot_kind(p.slot) >= 0 ? -EPERM : -ENOTDIR;
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
	struct fs *fs = fs_of(req);
	struct fs_ino p = fs_ino_decode(parent);
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	struct store_newnode nn = { .kind = STORE_FILE, .mode = mode & 07777,
				    .uid = ctx->uid, .gid = ctx->gid };

	if (strlen(name) > STORE_NAME_MAX)
		return -ENAMETOOLONG;
	if (fs_exports_refuse(fs, p, "create", name))
		return -EACCES;
	if (p.kind == FS_INO_DATASET)
		return fs_ctl_by_name(name) ? -EEXIST : -EPERM;
	if (p.kind != FS_INO_NODE)
		return p.kind == FS_INO_CTL ? -ENOTDIR : -EPERM;
	return fs->be->ops->node_create(fs->be, p.id, name, &nn, n);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct fs_fh *fh;
	be_node n;
	struct fs_ino p = fs_ino_decode(parent);
	int rc;

	if ((p.kind == FS_INO_DATASET && fs_scratch_name(FS_SLOT_DIR, name)) ||
	    (p.kind == FS_INO_CTL && fs_csv_slot_kind(p.slot) >= 0 &&
	     fs_scratch_name(p.slot, name))) {
		const struct fuse_ctx *ctx = fuse_req_ctx(req);
		rc = fs_scratch_create(fs, p.id, p.kind == FS_INO_DATASET ?
				       FS_SLOT_DIR : p.slot, name,
				       mode, ctx->uid, ctx->gid, &fh, &e);
		if (rc) {
			fuse_reply_err(req, -rc);
			return;
		}
		fi->fh = (uintptr_t)fh;
		if (fuse_reply_create(req, &e, fi) == -ENOENT)
			fs_scratch_release(fh);
		return;
	}
	if (p.kind == FS_INO_CTL && fs_csv_slot_kind(p.slot) >= 0) {
		rc = fs_emb_upload_new(fs, fs_csv_slot_kind(p.slot), p.id,
				       name, &fh, &e);
		if (rc) {
			fuse_reply_err(req, -rc);
			return;
		}
		fh->opener = fuse_req_ctx(req)->pid;
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
	if (!rc && (rc = fs_open_ref(fs, &n)) != 0)
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
		fs_open_unref(fs, fh->ino);
		upload_release(fs->up, fh->u);
		free(fh);
	}
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct fs *fs = fs_of(req);
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
	struct fs *fs = fs_of(req);
	struct fs_ino p = fs_ino_decode(parent);
	be_tag t;
	int rc = fs_exports_refuse(fs, p, "unlink", name);

	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	switch (p.kind) {
	case FS_INO_NODE:
		fs_open_forget_name(fs, p.id, name);
		rc = fs->be->ops->node_remove(fs->be, p.id, name, 0);
		break;
	case FS_INO_DATASET:
		if (fs_ctl_by_name(name))
			rc = -EPERM;
		else if (fs_scratch_name(FS_SLOT_DIR, name))
			rc = fs_scratch_unlink(p.id, FS_SLOT_DIR, name);
		else if (fs->be->ops->tag_get(fs->be, p.id, name, &t) == 0)
			rc = -EISDIR;
		else
			rc = -ENOENT;
		break;
	case FS_INO_ROOT:
		rc = -EISDIR;
		break;
	case FS_INO_CTL:
		if (fs_csv_slot_kind(p.slot) >= 0 &&
		    fs_scratch_name(p.slot, name))
			rc = fs_scratch_unlink(p.id, p.slot, name);
		else if (p.slot == FS_SLOT_METADIR &&
			 !strcmp(name, "builtin.csv"))
			rc = -EPERM;      /* computed by sievefs */
		else
			rc = fs_csv_slot_kind(p.slot) >= 0 ?
			     fs_emb_unlink(fs, fs_csv_slot_kind(p.slot), p.id,
					   name) : -ENOTDIR;
		break;
	default:
		rc = -ENOTDIR;
	}
	fuse_reply_err(req, -rc);
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
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
			fs_open_blobs_now(fs);
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
			fs_open_blobs_now(fs);
			rc = be->ops->tag_delete(be, t.id, msg);
		}
		if (!rc)
			nodecache_clear(fs->nc);
		break;
	case FS_INO_NODE:
		fs_open_forget_name(fs, p.id, name);
		rc = be->ops->node_remove(be, p.id, name, 1);
		break;
	case FS_INO_CTL:
		rc = fs_exports_refuse(fs, p, "rmdir", name);
		if (!rc)
			rc = -ENOTDIR;
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
	struct fs *fs = fs_of(req);
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
	if (fs_exports_refuse(fs, p, "rename", name) ||
	    fs_exports_refuse(fs, np, "rename", newname)) {
		fuse_reply_err(req, EACCES);
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
		if (fs_scratch_name(FS_SLOT_DIR, name)) {
			rc = fs_scratch_rename(fs, p.id, FS_SLOT_DIR, name,
					       newname, noreplace);
			break;
		}
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
			fs_open_forget_name(fs, np.id, newname);
		rc = be->ops->node_rename(be, p.id, name, np.id, newname,
					  noreplace);
		break;
	case FS_INO_CTL:
		if (fs_csv_slot_kind(p.slot) < 0)
			rc = -ENOTDIR;
		else if (fs_scratch_name(p.slot, name))
			rc = fs_scratch_rename(fs, p.id, p.slot, name, newname,
					       noreplace);
		else
			rc = -EPERM;      /* embeddings are not renamed */
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
	/* exports/ (issue 21 item 5): refused with its reason in log */
	fuse_reply_err(req, fs_exports_refuse(fs_of(req),
					      fs_ino_decode(newparent), "link",
					      newname) ? EACCES : EPERM);
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	(void)link;
	fuse_reply_err(req, fs_exports_refuse(fs_of(req),
					      fs_ino_decode(parent), "symlink",
					      name) ? EACCES : EPERM);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
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
	.setattr = fs_op_setattr,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = fs_op_open,
	.read = fs_op_read,
	.write = fs_op_write,
	.flush = fs_op_flush,
	.release = fs_op_release,
	.fsync = fs_op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.statfs = op_statfs,
	.setxattr = fs_op_setxattr,
	.getxattr = fs_op_getxattr,
	.listxattr = fs_op_listxattr,
	.removexattr = fs_op_removexattr,
	.create = op_create,
};
