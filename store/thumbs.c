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
 * With an engine that keeps derived objects (S3: blobs_aux_*), every
 * thumbnail is also put there, under thumbs/ab/<sha>.<side> beside the
 * blobs, so the other servers fetch it (one GET, then their own file here)
 * instead of decoding the image again; the collection of a blob removes
 * that copy too (thumbcache_forget), and a put or a fetch that finds the
 * blob gone removes both again. Whether the blob is there is its engine's
 * answer (blob_exists: a file, or the read cache or a HEAD).
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
#include "store/blobstore.h"

static const int sides[] = { STORE_THUMB_SIDE };
/* The largest thumbnail kept in the engine too (a 128 px JPEG is a few
 * KiB; core/thumbs.c's records are smaller). */
#define THUMB_AUX_MAX (1u << 20)
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

/* Writes the cache file of (sha, side): temp file + rename. 0 or -errno. */
static int local_put(store *st, const unsigned char *sha, int side,
		     const void *buf, size_t len)
{
	char dir[STORE_PATH_MAX], path[STORE_PATH_MAX], tmp[STORE_PATH_MAX];
	unsigned char rnd[8];
	int fd, rc;

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
	if (rc)
		unlink(tmp);
	return rc;
}

/* The engine's name of the thumbnail (sha, side): thumbs/ab/<hex>.<side>. */
static void aux_name(const unsigned char *sha, int side, char *buf,
		     size_t len)
{
	char hex[65];

	store_sha_hex(sha, hex);
	snprintf(buf, len, "thumbs/%.2s/%s.%d", hex, hex, side);
}

/* After a put (here, or a copy fetched from the engine): if the blob is
 * gone the put may have come after the collection's removal, so the
 * thumbnail goes again (see the top of this file). 0 or -ENOENT. */
static int still_blob(store *st, const unsigned char *sha, int side)
{
	char path[STORE_PATH_MAX], name[100];

	if (blob_exists(st, sha, NULL))
		return 0;
	thumb_path(st, sha, side, path, sizeof(path), 0);
	unlink(path);
	aux_name(sha, side, name, sizeof(name));
	blobs_aux_remove(st->blobs, name);
	return -ENOENT;
}

int store_thumbcache_open(store *st, const unsigned char sha[STORE_SHA_LEN],
			  int side)
{
	char path[STORE_PATH_MAX], name[100];
	unsigned char *buf;
	size_t got;
	int fd, rc;

	if (!side_ok(side))
		return -EINVAL;
	thumb_path(st, sha, side, path, sizeof(path), 0);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd >= 0 || errno != ENOENT)
		return fd < 0 ? -errno : fd;
	/* not here: the engine's copy, made by another server (S3) */
	if (!(buf = malloc(THUMB_AUX_MAX)))
		return -ENOMEM;
	aux_name(sha, side, name, sizeof(name));
	rc = blobs_aux_get(st->blobs, name, buf, THUMB_AUX_MAX, &got);
	if (rc == 0)
		rc = local_put(st, sha, side, buf, got);
	free(buf);
	if (rc == 0)
		rc = still_blob(st, sha, side);
	if (rc)   /* none kept anywhere, or unreadable: make it again */
		return -ENOENT;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	return fd < 0 ? -errno : fd;
}

int store_thumbcache_put(store *st, const unsigned char sha[STORE_SHA_LEN],
			 int side, const void *buf, size_t len)
{
	char name[100];
	int rc;

	if (!side_ok(side))
		return -EINVAL;
	rc = local_put(st, sha, side, buf, len);
	if (rc)
		return rc;
	/* the engine's copy for the other servers (S3; the local engine has
	 * none): a failure only costs them making it again */
	if (len <= THUMB_AUX_MAX) {
		aux_name(sha, side, name, sizeof(name));
		blobs_aux_put(st->blobs, name, buf, len);
	}
	/* after the rename and the copy: see the top of this file */
	return still_blob(st, sha, side);
}

void thumbcache_forget(store *st, const unsigned char *sha)
{
	char path[STORE_PATH_MAX], name[100];

	for (size_t i = 0; i < NSIDES; i++) {
		thumb_path(st, sha, sides[i], path, sizeof(path), 0);
		unlink(path);
		aux_name(sha, sides[i], name, sizeof(name));
		blobs_aux_remove(st->blobs, name);   /* -ENOTSUP: local */
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
