/*
 * thumbs.c — the cache of server-made thumbnails (api/routes_media.c,
 * core/thumbs.c): what a thumbnail of the bytes of blob `sha` at longest
 * side `side` came out as, kept beside the blobs at a name derived from
 * the hash, so finding it is one open(2) and no catalog row.
 *
 * Layout: STORE/thumbs/<first hex byte>/<sha256 hex>.<side>, owner-only
 * (STORE_DIR_MODE folders made on first use, STORE_FILE_MODE files). The
 * content is whatever the caller put: core/thumbs.c writes a JPEG, or a
 * short "not an image" record (its first byte tells them apart). Only
 * sides in `sides[]` are cached, so collecting a blob knows every name
 * its thumbnails can have without listing a folder.
 *
 * Invariant: a cache file of sha exists only while the blob of sha does
 * (the bytes it was made from), so whoever may read the blob may read its
 * thumbnail and nobody else needs a row to tell. Kept by:
 *   - blob_collect() calling thumbcache_forget() after it unlinks the blob;
 *   - store_thumbcache_put() writing to a temp file, renaming it onto its
 *     name, and then looking for the blob: if it is gone the rename may
 *     have come after the collection's unlink of the thumbnail, so the
 *     thumbnail is unlinked again. (Collection unlinks the blob before
 *     the thumbnail; a put renames before it looks: whichever order the
 *     two interleave in, one of them removes it.)
 *   - thumbcache_recover(), at the owner's open (blob_recover), unlinking
 *     temp files left by a crash and any thumbnail whose blob is gone.
 * Concurrent puts of the same thumbnail each write their own temp file and
 * rename it; rename is atomic, so a reader opens one whole file or none,
 * never a mix.
 *
 * No lock: every step is one filesystem call on paths nobody else writes
 * in another way. Threads: any number.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"

static const int sides[] = { STORE_THUMB_SIDE };
#define NSIDES (sizeof(sides) / sizeof(sides[0]))

static int side_ok(int side)
{
	for (size_t i = 0; i < NSIDES; i++)
		if (sides[i] == side)
			return 1;
	return 0;
}

/* STORE/thumbs/ab/<hex>.<side> into buf; with dir set, the folder only. */
static void thumb_path(const store *st, const unsigned char *sha, int side,
		       char *buf, size_t len, int dir)
{
	char hex[65];

	store_sha_hex(sha, hex);
	if (dir)
		snprintf(buf, len, "%s/thumbs/%.2s", st->dir, hex);
	else
		snprintf(buf, len, "%s/thumbs/%.2s/%s.%d", st->dir, hex, hex,
			 side);
}

int store_thumbcache_open(store *st, const unsigned char sha[STORE_SHA_LEN],
			  int side)
{
	char path[STORE_PATH_MAX];
	int fd;

	if (!side_ok(side))
		return -EINVAL;
	thumb_path(st, sha, side, path, sizeof(path), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

/* mkdir STORE/thumbs and STORE/thumbs/ab as needed. 0 or -errno. */
static int make_dirs(const store *st, const char *bucket)
{
	char top[STORE_PATH_MAX];

	if (mkdir(bucket, STORE_DIR_MODE) == 0 || errno == EEXIST)
		return 0;
	if (errno != ENOENT)
		return -errno;
	snprintf(top, sizeof(top), "%s/thumbs", st->dir);
	if (mkdir(top, STORE_DIR_MODE) && errno != EEXIST)
		return -errno;
	return mkdir(bucket, STORE_DIR_MODE) && errno != EEXIST ? -errno : 0;
}

static int write_all(int fd, const unsigned char *p, size_t len)
{
	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

int store_thumbcache_put(store *st, const unsigned char sha[STORE_SHA_LEN],
			 int side, const void *buf, size_t len)
{
	char dir[STORE_PATH_MAX], path[STORE_PATH_MAX], tmp[STORE_PATH_MAX];
	unsigned char rnd[8];
	int fd, rc;

	if (!side_ok(side))
		return -EINVAL;
	thumb_path(st, sha, side, dir, sizeof(dir), 1);
	thumb_path(st, sha, side, path, sizeof(path), 0);
	rc = make_dirs(st, dir);
	if (rc)
		return rc;
	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s/.tmp-%02x%02x%02x%02x%02x"
			     "%02x%02x%02x", dir, rnd[0], rnd[1], rnd[2],
			     rnd[3], rnd[4], rnd[5], rnd[6], rnd[7]) >=
	    sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
		  STORE_FILE_MODE);
	if (fd < 0)
		return -errno;
	rc = write_all(fd, buf, len);
	if (close(fd) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	/* after the rename: see the top of this file */
	if (!blob_exists(st, sha, NULL)) {
		unlink(path);
		return -ENOENT;
	}
	return 0;
}

void thumbcache_forget(store *st, const unsigned char *sha)
{
	char path[STORE_PATH_MAX];

	for (size_t i = 0; i < NSIDES; i++) {
		thumb_path(st, sha, sides[i], path, sizeof(path), 0);
		unlink(path);
	}
}

/* 1 and the hash when name is "<64 hex>.<digits>", else 0. */
static int parse_name(const char *name, unsigned char sha[STORE_SHA_LEN])
{
	for (int i = 0; i < STORE_SHA_LEN; i++) {
		unsigned v = 0;
		for (int k = 0; k < 2; k++) {
			char ch = name[2 * i + k];
			v <<= 4;
			if (ch >= '0' && ch <= '9')
				v |= (unsigned)(ch - '0');
			else if (ch >= 'a' && ch <= 'f')
				v |= (unsigned)(ch - 'a' + 10);
			else
				return 0;
		}
		sha[i] = (unsigned char)v;
	}
	return name[64] == '.';
}

void thumbcache_recover(store *st)
{
	char path[STORE_PATH_MAX];
	struct dirent *de;
	DIR *d;

	for (int b = 0; b < 256; b++) {
		snprintf(path, sizeof(path), "%s/thumbs/%02x", st->dir, b);
		d = opendir(path);
		if (!d)
			continue;
		while ((de = readdir(d)) != NULL) {
			unsigned char sha[STORE_SHA_LEN];
			int stale;

			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			stale = !strncmp(de->d_name, ".tmp-", 5);
			if (!stale && parse_name(de->d_name, sha))
				stale = !blob_exists(st, sha, NULL);
			if (stale)
				unlinkat(dirfd(d), de->d_name, 0);
		}
		closedir(d);
	}
}
