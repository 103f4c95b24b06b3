/*
 * openfiles.c — the table of file nodes with an open handle (fs.open_files).
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
 * the table when nothing is open.
 */
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include "fs/fs.h"

struct fs_open {
	int64_t ino;
	int refs;                    /* open handles on the node */
	be_node n;                   /* attributes as last seen */
	_Atomic int fd;              /* lazily opened blob of a frozen file,
					shared by its FH_BLOB handles (set
					under the bucket lock); FS_BLOB_LAZY:
					not opened yet */
	struct fs_open *next;
};


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
 * NULL): the node's entry, valid until the handle's fs_open_unref. */
int fs_open_ref_get(struct fs *fs, const be_node *n, struct fs_open **out)
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
		atomic_init(&o->fd, FS_BLOB_LAZY);
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

int fs_open_ref(struct fs *fs, const be_node *n)
{
	return fs_open_ref_get(fs, n, NULL);
}

/* The blob fd of open frozen file o, opened at the first call (the first
 * READ of any handle on it; see fs_op_open): fd or -errno. The fd is closed
 * with the node's last handle. */
int fs_open_blob_fd(struct fs *fs, struct fs_open *o)
{
	int fd = atomic_load(&o->fd);

	if (fd != FS_BLOB_LAZY)
		return fd;
	pthread_mutex_lock(open_lock(fs, o->ino));
	fd = atomic_load(&o->fd);
	if (fd == FS_BLOB_LAZY) {
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
void fs_open_blobs_now(struct fs *fs)
{
	if (!atomic_load(&fs->nopen))
		return;
	for (size_t b = 0; b < FS_OPEN_BUCKETS; b++) {
		pthread_mutex_lock(&fs->open_locks[b]);
		for (struct fs_open *o = fs->open_files[b]; o; o = o->next) {
			int fd;
			if (atomic_load(&o->fd) != FS_BLOB_LAZY ||
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

void fs_open_unref(struct fs *fs, int64_t ino)
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
void fs_open_update(struct fs *fs, const be_node *n)
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
void fs_open_forget_name(struct fs *fs, int64_t parent, const char *name)
{
	be_node n;

	if (atomic_load(&fs->nopen) &&
	    fs->be->ops->node_lookup(fs->be, parent, name, &n) == 0)
		fs_open_update(fs, &n);
}

/* A node by number, or the last attributes of an open one removed
 * meanwhile (*gone set). */
int fs_node_get_open(struct fs *fs, int64_t ino, be_node *n, int *gone)
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
		fs_open_update(fs, n);
	}
	return rc;
}
