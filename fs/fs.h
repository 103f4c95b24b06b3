/*
 * fs.h — the FUSE layer: the namespace of docs/design.md §1 over the backend
 * interface (core/backend.h), with the low-level libfuse API.
 *
 * What the kernel may cache, and for how long:
 *  - frozen tags never change: names, attributes and pages are cached for a
 *    day (`keep_cache` on every open), so re-reading a tag runs near native
 *    speed;
 *  - live trees (initial-tag) change only through this mount in embedded
 *    mode, so the kernel's own caches stay coherent; names and attributes are
 *    cached for backend->live_ttl seconds anyway (remote mode shortens it);
 *  - control files are generated when opened, served with direct_io and an
 *    attribute timeout of 0: always fresh, never cached; their sizes are the
 *    true sizes of the texts (ctl.c "Sizes"), as are those of embedding
 *    exports (emb.c).
 * No file descriptor is kept per inode: blob files are open only while a file
 * is open (a 100k-entry tag must not exhaust fds).
 *
 * Read path costs (issue 12; counted with -d, instructions with callgrind):
 * a warm Python open().read() of a frozen file sends OPEN, IOCTL, RELEASE
 * (no LOOKUP, GETATTR or READ: dentry, attributes and pages are the
 * kernel's); a warm `ls -l` of a frozen folder sends OPENDIR, and GNU ls
 * asks for security.selinux and system.posix_acl_access (GETXATTR) until
 * the first "not supported" (below). What is done about each, and what was
 * decided against:
 *  - OPEN: the node record of a frozen file comes from memory (nodecache.h,
 *    embedded mode), the open-files table has a lock per bucket, and the
 *    blob is opened at the first READ (one fd per open node, shared by its
 *    handles), so a warm re-open opens no file: 15.5 k instructions per
 *    OPEN before, 4.0 k with the node cache (2.4 k of them opening the
 *    blob), 1.45 k with the lazy blob. Removing a tag or dataset first
 *    opens the blobs of open files not read yet (openfiles.c fs_open_blobs_now),
 *    since the removal collects blobs no other node names. Remote mode
 *    opens the blob at OPEN: fetching may fail, and that belongs to open.
 *  - FUSE_CAP_NO_OPEN_SUPPORT (OPEN answered ENOSYS) would drop OPEN and
 *    RELEASE, but for the whole mount: initial-tag's uploads need their
 *    opens and releases (a writer's open, a reader sharing the upload), and
 *    it is not per file. Not used.
 *  - IOCTL: Python's isatty() (TCGETS). fs_ops has no ioctl; the kernel
 *    sends FUSE_IOCTL anyway and libfuse answers ENOSYS (the daemon does no
 *    work; the kernel does not remember the answer). No lever on 3.14.
 *  - GETXATTR: only the user namespace exists (setxattr refuses every
 *    name but a dataset's user.sievefs.tag_folders, xattr.c), so
 *    security.*, system.* and trusted.* names are answered EOPNOTSUPP,
 *    without the catalog, as a filesystem without them does;
 *    user.* names other than user.sievefs.* are ENODATA. GNU ls (gnulib's
 *    getfilecon/file_has_acl caches) stops asking for a label and an ACL
 *    for the rest of a listing once a device said "not supported": a warm
 *    `ls -l` of a 100,000-entry tag went from 2 GETXATTR per entry
 *    (~6.8 s; native ext4 0.69 s, bindfs 22.7 s) to 2 in all (0.20-0.28 s;
 *    native 0.46-0.61 s, which asks ext4 for both on every entry).
 *    Decided against: ENOSYS (the kernel then sends no GETXATTR for the
 *    whole mount: user.sievefs.* disappear); FUSE_CAP_POSIX_ACL (the kernel
 *    caches only the ACL half, and it turns on default_permissions, which
 *    costs one GETATTR per file of a `cp -r` and changes the errors a
 *    non-root owner gets: EACCES before the daemon's EROFS). The kernel's
 *    own probe before each write to a file (security.capability) still
 *    costs a round trip per write(): only ENOSYS or
 *    FUSE_HANDLE_KILLPRIV_V2 (not in libfuse 3.14) would stop it.
 *  - OPENDIR of a frozen folder: its listing is read at the first READDIR,
 *    which a warm `ls` never sends (cache_readdir); 13.1 M instructions per
 *    OPENDIR of 2,000 entries before, none after.
 *
 * The read gap (issue 20). bench/fs's "floor" side (bench/floor.c) is the
 * least a FUSE file system can do: read-only, OPEN and OPENDIR answered
 * ENOSYS, so the kernel sends no OPEN, FLUSH or RELEASE for the whole
 * connection and keeps pages across opens. A warm re-read then costs no
 * request at all with open(p, 'rb', buffering=0) (workload 9), and one
 * IOCTL with a buffered open (workload 3). sievefs pays OPEN, IOCTL and
 * RELEASE per warm re-read (OPEN and RELEASE with buffering=0) — two
 * requests more than the floor: the OPEN the reader waits for, a wake-up
 * of an idle CPU (bench/fs prints the cpuidle driver) and the largest part
 * of the gap, and the RELEASE it does not wait for, daemon CPU only
 * (bench/PROFILE.md, "The read floor, measured", has the counts). The
 * one-connection design keeps it: no-open mode holds for every file of a
 * connection, and this connection also carries initial-tag's writable
 * files, whose OPEN and RELEASE mark when an upload starts and becomes a
 * sample. Closing the gap would take a second connection for frozen tags
 * alone (a read-only mount in no-open mode beside the live one), with its
 * own inode space and cache lifetime — not built.
 *
 * Open files outlive their names (POSIX unlink): fs/ keeps a small table of
 * the file nodes that have an open handle, with their attributes as last
 * seen, so that fstat and f*() calls on a descriptor whose file was removed
 * (or replaced by a rename) still answer until the last close. Reads need
 * nothing more: a handle holds its own fd on the blob (blobs are collected
 * by unlink, so the fd keeps the bytes) or a reference on the upload.
 * Times: atime and mtime are kept apart (utimensat sets either); reads never
 * move atime, as on a noatime mount, which spares a catalog write per open.
 *
 * Errors: helpers in fs/ return 0 or -errno; replies are made once, at the
 * end of each operation.
 */
#ifndef SIEVEFS_FS_FS_H
#define SIEVEFS_FS_FS_H

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "core/backend.h"
#include "core/upload.h"
#include "fs/ino.h"
#include "fs/nodecache.h"

/* Buckets of the table of open file nodes (openfiles.c). */
#define FS_OPEN_BUCKETS 256
/* Slots of the cache of frozen node records (nodecache.h): ~130 bytes each,
 * touched only when used. */
#define FS_NODECACHE_SLOTS 65536
struct fs_open;

struct fs {
	struct backend *be;          /* owned */
	struct upload_table *up;     /* owned */
	uid_t uid;                   /* owner shown for the root and datasets */
	gid_t gid;
	double frozen_ttl, live_ttl;
	struct fuse_session *se;
	pthread_mutex_t emb_lock;    /* protects the three fields below */
	struct emb_upload *emb_pending;   /* CSVs being copied in (emb.c) */
	int64_t emb_seq;
	/* open_locks[i] protects bucket open_files[i]; made in op_init,
	 * before any request. One lock per bucket: opens and closes of
	 * parallel readers do not serialise (openfiles.c). */
	pthread_mutex_t open_locks[FS_OPEN_BUCKETS];
	struct fs_open *open_files[FS_OPEN_BUCKETS];
	_Atomic size_t nopen;        /* entries in open_files */
	int node_cache;              /* set before mounting: 1 = keep frozen
					node records in memory (embedded
					mode; remote mode has its own memo) */
	struct nodecache *nc;        /* made in op_init; NULL = none */
	int64_t started_ns;          /* when the mount started (op_init) */
	char *mountpoint;            /* absolute, for exports/ (owned; NULL:
					unknown, Label Studio paths then
					start at the dataset) */
};

/* Kinds of open file handles (fuse_file_info.fh points at one). */
enum fs_fh_kind { FH_BLOB, FH_UPLOAD, FH_CTL, FH_EMB_UPLOAD, FH_SCRATCH };

struct fs_fh {
	enum fs_fh_kind kind;
	int64_t ino;                 /* FH_BLOB, FH_UPLOAD: the node (its
					entry in fs.open_files); FH_SCRATCH:
					the scratch file's number */
	int fd;                      /* FH_SCRATCH: its bytes;
					FH_BLOB: the blob, -1 = empty file,
					-2 = opened at the first READ, in
					o (files.c, fs_op_open) */
	struct fs_open *o;           /* FH_BLOB, FH_UPLOAD: the node's entry
					in fs.open_files */
	struct upload *u;            /* FH_UPLOAD */
	struct emb_upload *emb;      /* FH_EMB_UPLOAD */
	int wr;                      /* FH_UPLOAD opened for writing: its
					close commits; a reader's does not */
	int64_t ds;                  /* FH_CTL: dataset and slot */
	int slot;
	char *text;                  /* FH_CTL read: snapshot; write: input */
	size_t len, cap;
	size_t base;                 /* `sample`: stream offset of text[0] */
	int writing;                 /* FH_CTL opened for writing */
	pid_t opener;                /* FH_CTL, FH_EMB_UPLOAD: the process
					(thread) whose open made it */
	int dirty;                   /* written since the last apply */
	int append;                  /* FH_CTL opened with O_APPEND */
	int trunc;                   /* FH_CTL opened with O_TRUNC */
	int applied;                 /* the text was applied (or tried) */
	int idle_closes;             /* the opener's closes with nothing
					written since the open */
	int failed;                  /* a write was refused: nothing of this
					open file is ever applied */
	size_t checked;              /* `selection`: bytes of text whose lines
					were checked, and their lines: */
	size_t checked_lines;
	pthread_mutex_t wlock;       /* FH_CTL opened for writing: protects
					the written text and the fields
					above; the kernel may send a WRITE
					and a FLUSH (a child's close) of one
					open file at once */
	int refs;                    /* FH_CTL: the open file, plus each read
					replying from `text`: the kernel may
					send RELEASE as soon as it has a
					READ's reply, before the reply call
					has returned here */
};

/* Shared by the handlers of ops.c, files.c and xattr.c. */
static inline struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static inline struct fs_fh *fs_fh_of(struct fuse_file_info *fi)
{
	return (struct fs_fh *)(uintptr_t)fi->fh;
}

static inline int64_t fs_now_ns(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec * 1000000000 + now.tv_nsec;
}

static inline int64_t fs_ts_ns(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec;
}

/* Attributes of any inode, with how long the kernel may keep them: 0 or
 * -errno (-ENOENT for a name that no longer resolves). */
int fs_getattr(struct fs *fs, fuse_ino_t ino, struct stat *st, double *ttl);

/* The open-files table (openfiles.c). fs_fh.fd and the table's fd of a
 * frozen file's blob not opened yet: */
#define FS_BLOB_LAZY (-2)
/* A handle on file node n was opened: 0 or -ENOMEM. *out (if out is not
 * NULL): the node's entry, valid until the handle's fs_open_unref. */
int fs_open_ref_get(struct fs *fs, const be_node *n, struct fs_open **out);
int fs_open_ref(struct fs *fs, const be_node *n);
/* The last handle on node ino was closed: drops its entry (and blob fd). */
void fs_open_unref(struct fs *fs, int64_t ino);
/* The blob fd of open frozen file o, opened at the first call: fd or
 * -errno; owned by the table (closed with the node's last handle). */
int fs_open_blob_fd(struct fs *fs, struct fs_open *o);
/* Before a tag or dataset removal: every open frozen file not read yet
 * gets its blob fd, so its handles keep their bytes. */
void fs_open_blobs_now(struct fs *fs);
/* Refreshes the copy of an open node (no-op for a node not open). */
void fs_open_update(struct fs *fs, const be_node *n);
/* Node `name` of `parent` is about to go: if open, its copy is refreshed. */
void fs_open_forget_name(struct fs *fs, int64_t parent, const char *name);
/* A node by number, or the last attributes of an open one removed
 * meanwhile (*gone set): 0 or -errno. */
int fs_node_get_open(struct fs *fs, int64_t ino, be_node *n, int *gone);

/* Handlers of files.c and xattr.c (fs_ops lists them). */
void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int to_set, struct fuse_file_info *fi);
void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		 size_t size, off_t off, struct fuse_file_info *fi);
void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    size_t size);
void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    const char *value, size_t size, int flags);
void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

extern const struct fuse_lowlevel_ops fs_ops;

/* Control files (ctl.c). */
struct fs_ctl {
	const char *name;
	int slot;
	mode_t mode;
};
/* The size record of a generated text (the control files, fs/ctl.c, and
 * exports/, fs/exports.c; defined in ctl.c). A stat must give the text's
 * exact size (cp, tar and rsync read st_size), so it makes the text unless
 * the record is recent: made within 4 times its own cost, at most 30 s,
 * ago. mtime moves only when the text does. Callers lock their records. */
struct fs_textrec {
	uint64_t hash;               /* FNV-1a of the content (as its owner
					hashes it) */
	size_t len;
	struct timespec mtime;       /* when this content was first seen */
	double checked, cost;        /* monotonic time of the last making,
					and the seconds it took */
};
/* CLOCK_MONOTONIC in seconds. */
double fs_mono_now(void);
/* r saw a making of a text of hash h and len bytes, begun at `started`
 * (fs_mono_now): a new hash or length sets mtime to now. */
void fs_textrec_note(struct fs_textrec *r, uint64_t h, size_t len,
		     double started);
/* *out: len bytes, mtime now, for a text no record could be kept of. */
void fs_textrec_unkept(struct fs_textrec *out, size_t len);
/* 1 if r may answer a stat at `now` without making the text again. */
int fs_textrec_recent(const struct fs_textrec *r, double now);
/* The control file named `name`, or NULL. */
const struct fs_ctl *fs_ctl_by_name(const char *name);
const struct fs_ctl *fs_ctl_by_slot(int slot);
/* metadata/builtin.csv's entry (slot FS_SLOT_BUILTINMETA; issue 21). */
const struct fs_ctl *fs_ctl_builtin_meta(void);
/* The control files, for readdir; *n set to their count. */
const struct fs_ctl *fs_ctl_all(size_t *n);
/* Size and mtime (= ctime) of a readable control file's text. gen = 0:
 * only what is known without generating (-ENOENT if nothing is). 0 or the
 * backend's -errno. Blocks while the text is generated. */
int fs_ctl_stat(struct fs *fs, int64_t ds, int slot, int gen, off_t *size,
		struct timespec *mtime);
int fs_ctl_open(struct fs *fs, int64_t ds, int slot, int flags,
		struct fs_fh **out);
/* Writes to `selection`: collected; the complete lines are checked at
 * once (-EINVAL refuses the write, and then every later write and close
 * of the open file; nothing of it is ever applied). To `sample`: complete
 * lines are requests, answered at once. */
ssize_t fs_ctl_write(struct fs *fs, struct fs_fh *fh, const char *buf,
		     size_t size, off_t off);
/* A close of a descriptor of the open file (FLUSH) by the process that
 * opened it (by_opener) applies what was written since the last apply, if
 * anything was; 0 or -errno (fs/README.md, "When a write ends"). */
int fs_ctl_flush(struct fs *fs, struct fs_fh *fh, int by_opener);
void fs_ctl_release(struct fs *fs, struct fs_fh *fh);
/* Makes `text` the whole written text of writable control file `slot`
 * (a scratch file renamed onto it): 0, or -errno (EINVAL: refused, the
 * reason in `log`, nothing changed). */
int fs_ctl_apply(struct fs *fs, int64_t ds, int slot, const char *text,
		 size_t len);
/* References on an FH_CTL handle; the last put frees it. */
void fs_ctl_get(struct fs_fh *fh);
void fs_ctl_put(struct fs_fh *fh);

#endif
