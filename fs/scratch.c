/*
 * scratch.c — temporary files beside the writable generated files.
 *
 * rsync (and other tools that never write a file in place) write the new
 * version into a temporary file in the target's folder — `.selection.Ab12Cd`
 * — then rename it over the target. A dataset folder and embeddings/ hold
 * only their own entries, so such a file is a scratch file: a file whose
 * name starts with '.' (no dataset entry, tag or embedding name does) may be
 * created there, written, read, chmod'ed, chown'ed, timed, truncated and
 * removed like any file. It lives in an unnamed temporary file of this mount
 * (O_TMPFILE in $TMPDIR or /tmp) and is never stored: it is gone at unmount,
 * and it reaches the dataset only by a rename onto `selection` or `sample`
 * (in the dataset folder) or onto NAME.csv (in embeddings/). That rename is
 * the write: the text is applied whole, by the same rules as a write of the
 * target (fs/README.md) — a refused text fails the rename with EINVAL (the
 * reason in `log`), changes nothing and leaves the scratch file, which the
 * tool then removes. Accepted, the scratch file is gone.
 *
 * The kernel moves the renamed dentry to the target's name; scratch entries
 * are therefore given an entry timeout of 0, so the next use of the name
 * looks it up again and finds the generated file.
 *
 * Threads: the list and every field of its entries are protected by lock;
 * file I/O goes through a handle's own dup of the entry's fd, without the
 * lock. One mount per process, so the list is this file's.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/embedder.h"
#include "core/incsv.h"
#include "fs/emb.h"
#include "fs/scratch.h"

struct scratch {
	int64_t n;                /* inode number part */
	int64_t ds;
	int slot;                 /* FS_SLOT_DIR or a CSV folder's
				     (fs_csv_slot_kind) */
	char name[256];
	int fd;                   /* the bytes (O_TMPFILE) */
	mode_t mode;
	uid_t uid;
	gid_t gid;
	struct timespec atime, mtime, ctime;
	int refs;                 /* open handles, + 1 while it has a name */
	int linked;
	struct scratch *next;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct scratch *list;          /* protected by lock */
static int64_t seq;

int fs_scratch_name(int slot, const char *name)
{
	size_t l = strlen(name);

	if (name[0] != '.' || !strcmp(name, ".") || !strcmp(name, ".."))
		return 0;
	return fs_csv_slot_kind(slot) < 0 || l < 4 ||
	       strcmp(name + l - 4, ".csv");
}

/* Caller holds lock. */
static struct scratch *find(int64_t ds, int slot, const char *name)
{
	for (struct scratch *s = list; s; s = s->next)
		if (s->linked && s->ds == ds && s->slot == slot &&
		    !strcmp(s->name, name))
			return s;
	return NULL;
}

static struct scratch *find_n(int64_t n)
{
	for (struct scratch *s = list; s; s = s->next)
		if (s->n == n)
			return s;
	return NULL;
}

/* Drops a reference; the last frees. Caller holds lock. */
static void put(struct scratch *s)
{
	if (--s->refs)
		return;
	for (struct scratch **p = &list; *p; p = &(*p)->next)
		if (*p == s) {
			*p = s->next;
			break;
		}
	close(s->fd);
	free(s);
}

/* Caller holds lock. */
static int attr(const struct scratch *s, struct stat *st)
{
	struct stat fst;

	if (fstat(s->fd, &fst))
		return -errno;
	memset(st, 0, sizeof(*st));
	st->st_ino = fs_ino_scratch(s->n);
	st->st_mode = S_IFREG | (s->mode & 07777);
	st->st_nlink = s->linked;
	st->st_uid = s->uid;
	st->st_gid = s->gid;
	st->st_size = fst.st_size;
	st->st_blocks = fst.st_blocks;
	st->st_blksize = 4096;
	st->st_atim = s->atime;
	st->st_mtim = s->mtime;
	st->st_ctim = s->ctime;
	return 0;
}

static void entry(const struct stat *st, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = st->st_ino;
	e->attr = *st;
	e->attr_timeout = 0;
	e->entry_timeout = 0;
}

int fs_scratch_lookup(int64_t ds, int slot, const char *name,
		      struct fuse_entry_param *e)
{
	struct scratch *s;
	struct stat st;
	int rc = -ENOENT;

	pthread_mutex_lock(&lock);
	s = find(ds, slot, name);
	if (s)
		rc = attr(s, &st);
	pthread_mutex_unlock(&lock);
	if (!rc)
		entry(&st, e);
	return rc;
}

int fs_scratch_getattr(int64_t n, struct stat *st)
{
	struct scratch *s;
	int rc = -ENOENT;

	pthread_mutex_lock(&lock);
	s = find_n(n);
	if (s)
		rc = attr(s, st);
	pthread_mutex_unlock(&lock);
	return rc;
}

int fs_scratch_setattr(int64_t n, const struct stat *a, int to_set)
{
	struct scratch *s;
	struct timespec now;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &now);
	pthread_mutex_lock(&lock);
	s = find_n(n);
	if (!s) {
		pthread_mutex_unlock(&lock);
		return -ENOENT;
	}
	if ((to_set & FUSE_SET_ATTR_SIZE) && ftruncate(s->fd, a->st_size))
		rc = -errno;
	if (!rc && (to_set & FUSE_SET_ATTR_SIZE))
		s->mtime = now;
	if (!rc && (to_set & FUSE_SET_ATTR_MODE))
		s->mode = a->st_mode & 07777;
	if (!rc && (to_set & FUSE_SET_ATTR_UID))
		s->uid = a->st_uid;
	if (!rc && (to_set & FUSE_SET_ATTR_GID))
		s->gid = a->st_gid;
	if (!rc && (to_set & FUSE_SET_ATTR_MTIME_NOW))
		s->mtime = now;
	else if (!rc && (to_set & FUSE_SET_ATTR_MTIME))
		s->mtime = a->st_mtim;
	if (!rc && (to_set & FUSE_SET_ATTR_ATIME_NOW))
		s->atime = now;
	else if (!rc && (to_set & FUSE_SET_ATTR_ATIME))
		s->atime = a->st_atim;
	if (!rc)
		s->ctime = now;
	pthread_mutex_unlock(&lock);
	return rc;
}

/* A handle on s (reference taken by the caller). */
static int handle(struct scratch *s, struct fs_fh **out)
{
	struct fs_fh *fh = calloc(1, sizeof(*fh));

	if (!fh)
		return -ENOMEM;
	fh->kind = FH_SCRATCH;
	fh->ino = s->n;
	fh->fd = dup(s->fd);
	if (fh->fd < 0) {
		free(fh);
		return -errno;
	}
	*out = fh;
	return 0;
}

int fs_scratch_create(struct fs *fs, int64_t ds, int slot, const char *name,
		      mode_t mode, uid_t uid, gid_t gid, struct fs_fh **out,
		      struct fuse_entry_param *e)
{
	struct scratch *s;
	struct stat st;
	int rc;

	(void)fs;
	*out = NULL;
	if (strlen(name) >= sizeof(s->name))
		return -ENAMETOOLONG;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->fd = fs_tmpfile_fd();
	if (s->fd < 0) {
		rc = s->fd;
		free(s);
		return rc;
	}
	s->ds = ds;
	s->slot = slot;
	snprintf(s->name, sizeof(s->name), "%s", name);
	s->mode = mode & 07777;
	s->uid = uid;
	s->gid = gid;
	clock_gettime(CLOCK_REALTIME, &s->mtime);
	s->atime = s->ctime = s->mtime;
	s->linked = 1;
	s->refs = 2;              /* the name, and the creator's handle */
	pthread_mutex_lock(&lock);
	if (find(ds, slot, name)) {
		pthread_mutex_unlock(&lock);
		close(s->fd);
		free(s);
		return -EEXIST;
	}
	s->n = ++seq;
	s->next = list;
	list = s;
	rc = attr(s, &st);
	if (!rc)
		rc = handle(s, out);
	if (rc) {
		s->linked = 0;
		s->refs = 1;
		put(s);
	}
	pthread_mutex_unlock(&lock);
	if (!rc)
		entry(&st, e);
	return rc;
}

int fs_scratch_open(int64_t n, int flags, struct fs_fh **out)
{
	struct scratch *s;
	int rc;

	*out = NULL;
	pthread_mutex_lock(&lock);
	s = find_n(n);
	if (!s) {
		pthread_mutex_unlock(&lock);
		return -ENOENT;
	}
	rc = (flags & O_TRUNC) && ftruncate(s->fd, 0) ? -errno : 0;
	if (!rc)
		rc = handle(s, out);
	if (!rc)
		s->refs++;
	pthread_mutex_unlock(&lock);
	return rc;
}

ssize_t fs_scratch_write(struct fs_fh *fh, const char *buf, size_t size,
			 off_t off)
{
	ssize_t n = pwrite(fh->fd, buf, size, off);
	struct scratch *s;

	if (n < 0)
		return -errno;
	pthread_mutex_lock(&lock);
	s = find_n(fh->ino);
	if (s) {
		clock_gettime(CLOCK_REALTIME, &s->mtime);
		s->ctime = s->mtime;
	}
	pthread_mutex_unlock(&lock);
	return n;
}

void fs_scratch_release(struct fs_fh *fh)
{
	struct scratch *s;

	pthread_mutex_lock(&lock);
	s = find_n(fh->ino);
	if (s)
		put(s);
	pthread_mutex_unlock(&lock);
	close(fh->fd);
	free(fh);
}

/* Takes s's name away. Caller holds lock. */
static void unlink_locked(struct scratch *s)
{
	s->linked = 0;
	put(s);
}

int fs_scratch_unlink(int64_t ds, int slot, const char *name)
{
	struct scratch *s;

	pthread_mutex_lock(&lock);
	s = find(ds, slot, name);
	if (s)
		unlink_locked(s);
	pthread_mutex_unlock(&lock);
	return s ? 0 : -ENOENT;
}

/* Makes the bytes of fd the text of (ds, slot)'s generated file `target`. */
static int apply(struct fs *fs, int64_t ds, int slot, const char *target,
		 int fd)
{
	const struct fs_ctl *c = slot == FS_SLOT_DIR ? fs_ctl_by_name(target)
						     : NULL;
	char base[130], msg[BE_MSG] = "";
	struct stat st;
	void *map = NULL;
	int rc;

	if (slot == FS_SLOT_DIR && (!c || !(c->mode & 0200) ||
				    S_ISDIR(c->mode)))
		return -EPERM;
	if (fs_csv_slot_kind(slot) >= 0) {
		int kind = fs_csv_slot_kind(slot);
		size_t l;
		if (fs_emb_base(target, base, sizeof(base)))
			return -EPERM;
		l = strlen(base);
		if ((!kind && !strcmp(base, CORE_BUILTIN_NAME)) ||
		    (kind == CORE_INPUT_METADATA && !strcmp(base, "builtin")) ||
		    (kind == CORE_INPUT_PREDICTIONS && l > 7 &&
		     !strcmp(base + l - 7, ".scores")))
			return -EPERM;
	}
	if (fstat(fd, &st))
		return -errno;
	if (st.st_size > 0) {
		map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE,
			   fd, 0);
		if (map == MAP_FAILED)
			return -errno;
	}
	if (fs_csv_slot_kind(slot) >= 0)
		rc = fs_csv_put(fs, fs_csv_slot_kind(slot), ds, base,
				map ? map : "", (size_t)st.st_size, msg);
	else
		rc = fs_ctl_apply(fs, ds, c->slot, map ? map : "",
				  (size_t)st.st_size);
	if (map)
		munmap(map, (size_t)st.st_size);
	return rc;
}

int fs_scratch_rename(struct fs *fs, int64_t ds, int slot, const char *name,
		      const char *newname, int noreplace)
{
	struct scratch *s, *t;
	int fd, rc;

	pthread_mutex_lock(&lock);
	s = find(ds, slot, name);
	if (!s) {
		pthread_mutex_unlock(&lock);
		return -ENOENT;
	}
	if (fs_scratch_name(slot, newname)) {
		t = find(ds, slot, newname);
		if (t && t != s && noreplace) {
			rc = -EEXIST;
		} else if (strlen(newname) >= sizeof(s->name)) {
			rc = -ENAMETOOLONG;
		} else {
			if (t && t != s)
				unlink_locked(t);
			snprintf(s->name, sizeof(s->name), "%s", newname);
			rc = 0;
		}
		pthread_mutex_unlock(&lock);
		return rc;
	}
	fd = dup(s->fd);
	s->refs++;                /* s stays while its text is applied */
	pthread_mutex_unlock(&lock);
	if (fd < 0)
		rc = -errno;
	else
		rc = noreplace ? -EEXIST : apply(fs, ds, slot, newname, fd);
	if (fd >= 0)
		close(fd);
	pthread_mutex_lock(&lock);
	if (!rc && s->linked) {
		s->linked = 0;     /* its name's reference; ours is put below */
		s->refs--;
	}
	put(s);
	pthread_mutex_unlock(&lock);
	return rc;
}

int fs_scratch_list(int64_t ds, int slot, fs_scratch_fn fn, void *arg)
{
	struct fuse_entry_param *e = NULL;
	char (*names)[256] = NULL;
	size_t n = 0, k = 0;
	struct stat st;
	int rc = 0;

	/* Copied out under the lock, handed to fn without it. */
	pthread_mutex_lock(&lock);
	for (struct scratch *s = list; s; s = s->next)
		n += s->linked && s->ds == ds && s->slot == slot;
	if (n) {
		e = calloc(n, sizeof(*e));
		names = calloc(n, sizeof(*names));
		if (!e || !names)
			rc = -ENOMEM;
	}
	for (struct scratch *s = list; s && !rc; s = s->next) {
		if (!s->linked || s->ds != ds || s->slot != slot)
			continue;
		rc = attr(s, &st);
		if (!rc) {
			entry(&st, &e[k]);
			memcpy(names[k++], s->name, sizeof(s->name));
		}
	}
	pthread_mutex_unlock(&lock);
	for (size_t i = 0; i < k && !rc; i++)
		rc = fn(arg, names[i], &e[i]);
	free(e);
	free(names);
	return rc;
}

void fs_scratch_free_all(void)
{
	pthread_mutex_lock(&lock);
	while (list) {
		struct scratch *s = list;
		list = s->next;
		close(s->fd);
		free(s);
	}
	pthread_mutex_unlock(&lock);
}
