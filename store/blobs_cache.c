/*
 * blobs_cache.c — the catalog's side of a blob engine without files (S3):
 * blob_eng_remote (db.h), the table store/blob.c drives such an engine by,
 * the bounded local read cache by hash that gives the store's callers the
 * fds they read with (decoders, sendfile, the tar of a tag), and the
 * store's choice of engine at open (blob_engines_open).
 *
 * The read cache is itself a local engine (blobs_local.c) on STORE/cache:
 * STORE/cache/blobs/ab/<sha256>, STORE/cache/staging/. A miss fetches the
 * blob from the remote engine into a cache upload and finishes it with the
 * hash it must have (blobs_finish's want): bytes that do not hash to their
 * name never become a cache file (-EIO, the reason in the engine's last
 * error), and concurrent misses of one hash each write their own staging
 * file, the second link finding the first (same name, same bytes). An
 * upload's staging file, once sent, becomes the cache's copy by link(2)
 * (no copy, no GET for the commit and the first reads after an upload).
 *
 * Bound and eviction: STORE_BLOB_CACHE_BYTES (SIEVEFS_BLOB_CACHE_MB in the
 * environment overrides it). The bytes cached are summed once, at the
 * first fetch, then counted as files are added; when the sum passes the
 * bound, one thread (cache_lock) lists the cache, sorts it by mtime, and
 * unlinks the oldest until three quarters of the bound are left. A hit
 * touches its file's mtime (futimens), so the order is least recently
 * used. An fd already open keeps its bytes after an eviction (unlink).
 * A cached blob the catalog collects goes from the cache with it (remove);
 * one collected by another server stays here until evicted — it is still
 * the bytes its hash names, only not reachable: every read is checked
 * against the catalog first.
 *
 * Threads: any number; cache_lock protects the sum and serialises the
 * eviction. Every call blocks (network, disk).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "db.h"
#include "store/blobstore.h"

#define FETCH_CHUNK (1u << 20)   /* bytes per ranged GET of a miss */
#define SEND_CHUNK (1u << 20)    /* bytes per read of a staging file */

/* ------------------------------------------------------------ the cache */

struct centry {
	int64_t mtime_ns;
	int64_t size;
	char path[STORE_PATH_MAX];
};

static int by_mtime(const void *a, const void *b)
{
	const struct centry *x = a, *y = b;

	return x->mtime_ns < y->mtime_ns ? -1 : x->mtime_ns > y->mtime_ns;
}

/* Every cached blob into *out (caller frees), their bytes into *total. */
static int cache_list(store *st, struct centry **out, size_t *n,
		      uint64_t *total)
{
	struct centry *v = NULL;
	size_t cap = 0;

	*n = 0;
	*total = 0;
	for (int b = 0; b < 256; b++) {
		char dir[STORE_PATH_MAX];
		struct dirent *de;
		DIR *d;

		snprintf(dir, sizeof dir, "%s/blobs/%02x", st->cachedir, b);
		if (!(d = opendir(dir)))
			continue;
		while ((de = readdir(d)) != NULL) {
			struct stat sb;

			if (de->d_name[0] == '.' ||
			    fstatat(dirfd(d), de->d_name, &sb, 0) ||
			    !S_ISREG(sb.st_mode))
				continue;
			*total += (uint64_t)sb.st_size;
			if (!out)
				continue;
			if (*n == cap) {
				size_t nc = cap ? 2 * cap : 256;
				struct centry *t = realloc(v, nc * sizeof *t);

				if (!t) {
					closedir(d);
					free(v);
					return -ENOMEM;
				}
				v = t;
				cap = nc;
			}
			v[*n].mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 +
					 sb.st_mtim.tv_nsec;
			v[*n].size = sb.st_size;
			if ((size_t)snprintf(v[*n].path, sizeof v[*n].path,
					     "%s/%.70s", dir, de->d_name) <
			    sizeof v[*n].path)
				(*n)++;
		}
		closedir(d);
	}
	if (out)
		*out = v;
	return 0;
}

/* Counts `added` more bytes cached; evicts the least recently used when
 * over the bound. */
static void cache_added(store *st, int64_t added)
{
	struct centry *v = NULL;
	uint64_t total;
	size_t n;

	pthread_mutex_lock(&st->cache_lock);
	if (!st->cache_counted) {
		/* the sum includes the file just added */
		if (cache_list(st, NULL, &n, &total) == 0)
			st->cache_bytes = total;
		st->cache_counted = 1;
	} else if (added > 0) {
		st->cache_bytes += (uint64_t)added;
	}
	if (st->cache_bytes > st->cache_max &&
	    cache_list(st, &v, &n, &total) == 0) {
		qsort(v, n, sizeof *v, by_mtime);
		for (size_t i = 0; i < n && total > st->cache_max / 4 * 3; i++)
			if (unlink(v[i].path) == 0)
				total -= (uint64_t)v[i].size;
		st->cache_bytes = total;
		free(v);
	}
	pthread_mutex_unlock(&st->cache_lock);
}

/* Fetches blob sha from the engine into the cache: 0, -ENOENT, -errno. */
static int cache_fetch(store *st, const unsigned char *sha)
{
	unsigned char *buf = malloc(FETCH_CHUNK);
	blob_upload *u = NULL;
	uint64_t off = 0;
	size_t got;
	int rc;

	if (!buf)
		return -ENOMEM;
	if ((rc = blobs_begin(st->cache, &u)))
		goto out;
	do {
		rc = blobs_read(st->blobs, sha, off, buf, FETCH_CHUNK, &got);
		if (!rc)
			rc = blobs_write(u, buf, got);
		off += got;
	} while (!rc && got == FETCH_CHUNK);
	if (rc) {
		blobs_abort(u);
		goto out;
	}
	rc = blobs_finish(u, sha, NULL, 0);   /* the hash it must have */
	if (rc == -EBADMSG) {
		blobs_set_error("the object store's bytes of a blob do not hash"
				" to its name; not cached");
		rc = -EIO;
	}
	if (!rc)
		cache_added(st, (int64_t)off);
out:
	free(buf);
	return rc;
}

/* ------------------------------------------------------------ the table */

static int rem_open_fd(store *st, const unsigned char *sha)
{
	int fd = blobs_local_open_fd(st->cachedir, sha), rc;

	if (fd >= 0) {
		futimens(fd, NULL);   /* recently used: evicted last */
		return fd;
	}
	if (fd != -ENOENT)
		return fd;
	if ((rc = cache_fetch(st, sha)))
		return rc;
	return blobs_local_open_fd(st->cachedir, sha);
}

static int rem_stat(store *st, const unsigned char *sha, int64_t *size)
{
	char path[STORE_PATH_MAX];
	struct stat sb;
	uint64_t n = 0;
	int rc;

	/* cached: the bytes are these (a read goes through the catalog's
	 * check first, whatever this says) */
	if (blobs_local_path(st->cachedir, sha, path, sizeof path) == 0 &&
	    stat(path, &sb) == 0) {
		if (size)
			*size = sb.st_size;
		return 0;
	}
	rc = blobs_stat(st->blobs, sha, &n);
	if (!rc && size)
		*size = (int64_t)n;
	return rc;
}

/* The staging file (fd, staged) of a blob just stored becomes the read
 * cache's copy (no copy: a link), unless one is there; staged is gone
 * after the call. */
static void adopt(store *st, int fd, const char *staged,
		  const unsigned char *sha, int64_t size)
{
	char path[STORE_PATH_MAX];
	struct stat cs;

	if (blobs_local_path(st->cachedir, sha, path, sizeof path) ||
	    stat(path, &cs) == 0)
		blobs_local_unstage(staged);
	else if (blobs_local_link(st->cachedir, fd, staged, sha, 0) == 0)
		cache_added(st, size);
}

static int rem_send(store *st, int fd, const char *staged,
		    const unsigned char *sha, int durable)
{
	unsigned char *buf = NULL;
	blob_upload *u = NULL;
	struct stat sb;
	off_t off = 0;
	int rc;

	if (fstat(fd, &sb))
		return -errno;
	/* there already (pending now, so no collection takes it): send
	 * nothing */
	rc = blobs_stat(st->blobs, sha, NULL);
	if (rc == -ENOENT) {
		if (!(buf = malloc(SEND_CHUNK)))
			return -ENOMEM;
		if ((rc = blobs_begin(st->blobs, &u)))
			goto out;
		while (!rc) {
			ssize_t r = pread(fd, buf, SEND_CHUNK, off);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				rc = r < 0 ? -errno : 0;
				break;
			}
			rc = blobs_write(u, buf, (size_t)r);
			off += r;
		}
		if (rc) {
			blobs_abort(u);
			goto out;
		}
		/* verified: bytes that do not hash to sha go nowhere */
		rc = blobs_finish(u, sha, NULL, durable);
	}
	if (!rc)
		adopt(st, fd, staged, sha, (int64_t)sb.st_size);
out:
	free(buf);
	return rc;
}

static int rem_finish(store *st, struct blob_upload *u, int fd,
		      const char *staged, const unsigned char *sha)
{
	struct stat sb;
	int rc = blobs_finish(u, sha, NULL, 0);   /* consumes u */

	if (!rc && fstat(fd, &sb) == 0)
		adopt(st, fd, staged, sha, (int64_t)sb.st_size);
	else
		blobs_local_unstage(staged);
	return rc;
}

static int rem_link(store *st, int fd, const char *staged,
		    const unsigned char *sha, int durable)
{
	(void)st, (void)fd, (void)sha, (void)durable;
	blobs_local_unstage(staged);   /* sent already (rem_send) */
	return 0;
}

static int rem_remove(store *st, const unsigned char *sha)
{
	int rc = blobs_remove(st->blobs, sha);

	blobs_local_unlink(st->cachedir, sha);
	return rc;
}

/* The owner's open: staging files of a crash, here and in the cache, and
 * the server-made thumbnails (STORE/thumbs, kept per server) whose blob is
 * gone (one HEAD each when not cached). The engine's own staging goes
 * with the periodic sweep (rem_sweep), by age: other servers may be
 * uploading. No walk of the bucket. */
static int rem_recover(struct conn *c)
{
	int rc = blobs_local_sweep(c->st->dir, 0, NULL);

	if (!rc)
		rc = blobs_local_sweep(c->st->cachedir, 0, NULL);
	if (!rc)
		thumbcache_recover(c->st);
	return rc;
}

static int rem_sweep(store *st, int64_t age_s, unsigned *removed)
{
	return blobs_sweep(st->blobs, age_s, removed);
}

const struct blob_eng blob_eng_remote = {
	.name = "remote", .open_fd = rem_open_fd, .stat = rem_stat,
	.send = rem_send, .finish = rem_finish, .link = rem_link,
	.remove = rem_remove,
	.recover = rem_recover, .sweep = rem_sweep,
};

/* ------------------------------------------------------------ opening */

int blob_engines_open(store *st, const char *spec, const char *key_id,
		      const char *secret, char *msg, size_t msglen)
{
	const char *mb = getenv("SIEVEFS_BLOB_CACHE_MB");
	size_t l;
	int rc;

	rc = blobs_open_spec(st->dir, spec, key_id, secret, &st->blobs, msg,
			     msglen);
	if (rc)
		return rc;
	/* the one place the kind of engine is asked: which table drives it */
	if (!strcmp(blobs_engine(st->blobs), "local")) {
		st->eng = &blob_eng_local;
		return 0;
	}
	st->eng = &blob_eng_remote;
	pthread_mutex_init(&st->cache_lock, NULL);
	pthread_mutex_init(&st->sent_lock, NULL);
	st->cache_max = STORE_BLOB_CACHE_BYTES;
	if (mb && *mb) {
		char *end;
		unsigned long long v = strtoull(mb, &end, 10);

		if (*end || v == 0 || v > (1ull << 30)) {
			snprintf(msg, msglen, "SIEVEFS_BLOB_CACHE_MB=%.20s: want"
				 " a number of MiB, 1 or more", mb);
			return -EINVAL;
		}
		st->cache_max = v << 20;
	}
	l = strlen(st->dir) + sizeof "/cache";
	if (!(st->cachedir = malloc(l)))
		return -ENOMEM;
	snprintf(st->cachedir, l, "%s/cache", st->dir);
	rc = blobs_local_open(st->cachedir, &st->cache);
	if (rc)
		snprintf(msg, msglen, "cannot make the read cache %s: %s",
			 st->cachedir, strerror(-rc));
	return rc;
}

void blob_engines_close(store *st)
{
	blobs_close(st->cache);
	blobs_close(st->blobs);
	if (st->cachedir) {
		pthread_mutex_destroy(&st->cache_lock);
		pthread_mutex_destroy(&st->sent_lock);
	}
	free(st->cachedir);
	st->cache = st->blobs = NULL;
	st->cachedir = NULL;
}
