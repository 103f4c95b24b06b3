/*
 * blobs_local.c — the blob store's local engine (blobstore.h): a directory.
 *
 * Layout (docs/design.md §2.2): DIR/blobs/ab/<sha256 hex> holds a blob's
 * bytes (ab: the hash's first byte in hex; all 256 folders exist),
 * DIR/staging/ the uploads in progress — normally unnamed O_TMPFILE files,
 * which a crash cannot leave behind; named DIR/staging/<24 random hex>
 * files only where the filesystem has no O_TMPFILE, and those a sweep
 * removes. Folders 0700, files 0600, set explicitly whatever the umask.
 *
 * A blob appears by link(2) of a complete staging file onto its name
 * (linkat of /proc/self/fd/N for an unnamed one): the name comes with all
 * its bytes, and a name already there is never replaced (EEXIST: same
 * name, same bytes, the staging is dropped). Durable: the file is fsync'd
 * before the link (by the caller of blobs_local_link, outside any lock it
 * holds: the engine's finish, store/blob.c's commit before its write lock)
 * and the blob's folder after it, so the name and its bytes survive a
 * power loss once the call returns.
 *
 * The dir-level functions (blobs_local_path, _stage, _link, _unstage,
 * _open_fd, _unlink, _sweep) are the only copies of these file operations; the
 * catalog's side (store/blob.c) calls them for its uploads, which are
 * written at random offsets and hashed there, and the engine's streaming
 * writer below calls them too.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/blobstore.h"

#define DIR_MODE 0700
#define FILE_MODE 0600

/* ------------------------------------------------- the file operations */

int blobs_local_path(const char *dir, const unsigned char sha[BLOBS_SHA_LEN],
		     char *buf, size_t len)
{
	char h[2 * BLOBS_SHA_LEN + 1];

	s3_hex(sha, BLOBS_SHA_LEN, h);
	if ((size_t)snprintf(buf, len, "%s/blobs/%.2s/%s", dir, h, h) >= len)
		return -ENAMETOOLONG;
	return 0;
}

/* A staging file gets FILE_MODE exactly, whatever the umask took. */
static int owner_only(int fd)
{
	fchmod(fd, FILE_MODE);
	return fd;
}

int blobs_local_stage(const char *dir, char *path, size_t len)
{
	char stagedir[PATH_MAX], h[25];
	unsigned char rnd[12];
	int fd;

	if ((size_t)snprintf(stagedir, sizeof stagedir, "%s/staging", dir) >=
	    sizeof stagedir)
		return -ENAMETOOLONG;
	/* An unnamed file: nothing to clean up if we crash, no directory
	 * entry to make and remove per upload. */
	fd = open(stagedir, O_TMPFILE | O_RDWR | O_CLOEXEC, FILE_MODE);
	if (fd >= 0) {
		if (len)
			path[0] = '\0';
		return owner_only(fd);
	}
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return -errno;
	for (int tries = 0; tries < 8; tries++) {
		if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
			return -EIO;
		s3_hex(rnd, sizeof(rnd), h);
		if ((size_t)snprintf(path, len, "%s/%s", stagedir, h) >= len)
			return -ENAMETOOLONG;
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC,
			  FILE_MODE);
		if (fd >= 0)
			return owner_only(fd);
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

void blobs_local_unstage(const char *staged)
{
	if (staged && staged[0])
		unlink(staged);
}

static int fsync_dir_of(const char *path)
{
	char d[PATH_MAX];
	int fd, rc = 0;

	snprintf(d, sizeof d, "%s", path);
	*strrchr(d, '/') = '\0';
	fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd))
		rc = -errno;
	close(fd);
	return rc;
}

int blobs_local_link(const char *dir, int fd, const char *staged,
		     const unsigned char sha[BLOBS_SHA_LEN], int durable)
{
	char blob[PATH_MAX], proc[64];
	int rc;

	if ((rc = blobs_local_path(dir, sha, blob, sizeof blob)))
		goto out;
	if (staged && staged[0]) {
		rc = link(staged, blob) == 0 || errno == EEXIST ? 0 : -errno;
	} else {
		snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
		rc = linkat(AT_FDCWD, proc, AT_FDCWD, blob, AT_SYMLINK_FOLLOW) == 0 ||
		     errno == EEXIST ? 0 : -errno;
	}
	if (rc == 0 && durable)
		rc = fsync_dir_of(blob);
out:
	blobs_local_unstage(staged);
	return rc;
}

int blobs_local_open_fd(const char *dir, const unsigned char sha[BLOBS_SHA_LEN])
{
	char path[PATH_MAX];
	int fd, rc;

	if ((rc = blobs_local_path(dir, sha, path, sizeof path)))
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

int blobs_local_unlink(const char *dir, const unsigned char sha[BLOBS_SHA_LEN])
{
	char path[PATH_MAX];
	int rc;

	if ((rc = blobs_local_path(dir, sha, path, sizeof path)))
		return rc;
	return unlink(path) == 0 || errno == ENOENT ? 0 : -errno;
}

int blobs_local_sweep(const char *dir, int64_t older_than_s,
		      unsigned *removed)
{
	char d[PATH_MAX], path[PATH_MAX];
	time_t cut = time(NULL) - (time_t)older_than_s;
	struct dirent *de;
	DIR *dp;

	snprintf(d, sizeof d, "%s/staging", dir);
	if (!(dp = opendir(d)))
		return -errno;
	while ((de = readdir(dp)) != NULL) {
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(path, sizeof path, "%s/%s", d, de->d_name) >=
		    sizeof path)
			continue;
		/* ctime: when the upload began or last wrote, whatever
		 * mtime the writer set */
		if (lstat(path, &sb) || !S_ISREG(sb.st_mode) || sb.st_ctime > cut)
			continue;
		if (unlink(path) == 0 && removed)
			(*removed)++;
	}
	closedir(dp);
	return 0;
}

/* ------------------------------------------------------------ the engine */

struct local {
	struct blobstore base;
	char *dir;
};

struct local_upload {
	struct blob_upload base;
	int fd;
	char staged[PATH_MAX];
};

#define L(b) ((struct local *)(b))
#define LU(u) ((struct local_upload *)(u))

static int l_begin(blobstore *b, blob_upload **out)
{
	struct local_upload *u = calloc(1, sizeof *u);

	if (!u)
		return -ENOMEM;
	u->fd = blobs_local_stage(L(b)->dir, u->staged, sizeof u->staged);
	if (u->fd < 0) {
		int rc = u->fd;

		blobs_set_error("cannot create a staging file in %s/staging: %s",
				L(b)->dir, strerror(-rc));
		free(u);
		return rc;
	}
	*out = &u->base;
	return 0;
}

static int l_write(blob_upload *bu, const void *buf, size_t len)
{
	struct local_upload *u = LU(bu);
	const char *p = buf;

	while (len) {
		ssize_t k = write(u->fd, p, len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			int rc = k < 0 ? -errno : -EIO;

			blobs_set_error("writing a staging file: %s", strerror(-rc));
			return rc;
		}
		p += k;
		len -= (size_t)k;
	}
	return 0;
}

static void l_free(struct local_upload *u)
{
	if (u->fd >= 0)
		close(u->fd);
	free(u);
}

static int l_finish(blob_upload *bu, const unsigned char *sha, int durable)
{
	struct local_upload *u = LU(bu);
	int rc = 0;

	if (durable && fsync(u->fd)) {
		rc = -errno;
		blobs_set_error("fsync of a staging file: %s", strerror(-rc));
		blobs_local_unstage(u->staged);
	} else if ((rc = blobs_local_link(L(bu->b)->dir, u->fd, u->staged,
					    sha, durable))) {
		blobs_set_error("linking a staging file to its blob name: %s",
				strerror(-rc));
	}
	l_free(u);
	return rc;
}

static void l_abort(blob_upload *bu)
{
	blobs_local_unstage(LU(bu)->staged);
	l_free(LU(bu));
}

static int l_open_fd(blobstore *b, const unsigned char *sha)
{
	return blobs_local_open_fd(L(b)->dir, sha);
}

static int l_read(blobstore *b, const unsigned char *sha, uint64_t off,
		  void *buf, size_t len, size_t *got)
{
	int fd = blobs_local_open_fd(L(b)->dir, sha), rc = 0;
	size_t done = 0;

	if (fd < 0)
		return fd;
	while (done < len) {
		ssize_t k = pread(fd, (char *)buf + done, len - done,
				  (off_t)(off + done));

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			rc = -errno;
		if (k <= 0)
			break;
		done += (size_t)k;
	}
	close(fd);
	*got = rc ? 0 : done;
	return rc;
}

static int l_stat(blobstore *b, const unsigned char *sha, uint64_t *size)
{
	char path[PATH_MAX];
	struct stat sb;
	int rc;

	if ((rc = blobs_local_path(L(b)->dir, sha, path, sizeof path)))
		return rc;
	if (stat(path, &sb))
		return -errno;
	if (size)
		*size = (uint64_t)sb.st_size;
	return 0;
}

static int l_remove(blobstore *b, const unsigned char *sha)
{
	return blobs_local_unlink(L(b)->dir, sha);
}

static int l_presign(blobstore *b, const unsigned char *sha,
		     unsigned expires_s, char *url, size_t cap)
{
	(void)b, (void)sha, (void)expires_s, (void)url, (void)cap;
	return -ENOTSUP;   /* the caller serves the bytes itself */
}

static int l_sweep(blobstore *b, int64_t older_than_s, unsigned *removed)
{
	return blobs_local_sweep(L(b)->dir, older_than_s, removed);
}

static void l_close(blobstore *b)
{
	free(L(b)->dir);
	free(b);
}

static const struct blobs_ops local_ops = {
	.name = "local", .begin = l_begin, .write = l_write,
	.finish = l_finish, .abort = l_abort, .open_fd = l_open_fd,
	.read = l_read, .stat = l_stat, .remove = l_remove,
	.presign = l_presign, .sweep = l_sweep, .close = l_close,
};

static int mkdir_owner(const char *path)
{
	if (mkdir(path, DIR_MODE) && errno != EEXIST)
		return -errno;
	return 0;
}

int blobs_local_open(const char *dir, blobstore **out)
{
	char p[PATH_MAX];
	struct local *l;
	int rc;

	*out = NULL;
	if (strlen(dir) > PATH_MAX - 200)
		return -ENAMETOOLONG;
	snprintf(p, sizeof p, "%s/blobs", dir);
	if ((rc = mkdir_owner(dir)) || (rc = mkdir_owner(p)))
		return rc;
	for (int i = 0; i < 256; i++) {
		snprintf(p, sizeof p, "%s/blobs/%02x", dir, i);
		if ((rc = mkdir_owner(p)))
			return rc;
	}
	snprintf(p, sizeof p, "%s/staging", dir);
	if ((rc = mkdir_owner(p)))
		return rc;
	if (!(l = calloc(1, sizeof *l)) || !(l->dir = strdup(dir))) {
		free(l);
		return -ENOMEM;
	}
	l->base.ops = &local_ops;
	*out = &l->base;
	return 0;
}
