/*
 * test_cache.c — the client caches (cache/): the blob cache's insert and
 * read, LRU eviction order and size bound, pinned entries, adoption of an
 * upload's staging file, rebuild of the index from disk, crash leftovers;
 * the metadata cache's TTL expiry, prefix invalidation and byte bound, and
 * its groups: validators, refresh of a head and its members, members
 * leaving, heads replaced or dropped.
 * Each blob test runs in its own temp directory (fixture).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "cache/blobs.h"
#include "cache/meta.h"

struct fx {
	char dir[256];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s/test_cache.XXXXXX",
		 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(f->dir))
		return -1;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[400];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
	if (system(cmd) != 0)
		return -1;
	free(f);
	return 0;
}

/* A fake "hash": distinct per id; the cache trusts callers to verify. */
static void sha_of(int id, unsigned char sha[CACHE_SHA_LEN])
{
	memset(sha, 0, CACHE_SHA_LEN);
	sha[0] = (unsigned char)(id * 37);
	sha[1] = (unsigned char)id;
	sha[31] = 0xab;
}

/* Inserts `size` bytes of value id under sha_of(id). */
static void put(struct cache_blobs *c, int id, size_t size, int pin)
{
	unsigned char sha[CACHE_SHA_LEN];
	char tmp[4096], *buf = malloc(size + 1);
	int fd;

	assert_non_null(buf);
	memset(buf, 'a' + id % 26, size);
	sha_of(id, sha);
	fd = cache_blob_tmp(c, tmp, sizeof(tmp));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, size), (ssize_t)size);
	close(fd);
	fd = cache_blob_commit(c, tmp, sha, (int64_t)size, pin);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(access(tmp, F_OK), -1);
	free(buf);
}

static int has(struct cache_blobs *c, int id)
{
	unsigned char sha[CACHE_SHA_LEN];
	int fd;

	sha_of(id, sha);
	fd = cache_blob_open(c, sha);
	if (fd < 0) {
		assert_int_equal(fd, -ENOENT);
		return 0;
	}
	close(fd);
	return 1;
}

static void test_insert_read(void **state)
{
	struct fx *f = *state;
	struct cache_blobs *c;
	unsigned char sha[CACHE_SHA_LEN];
	char buf[16] = "";
	uint64_t bytes;
	size_t n;
	int fd;

	assert_int_equal(cache_blobs_open(f->dir, 1 << 20, &c, NULL, 0), 0);
	sha_of(1, sha);
	assert_int_equal(cache_blob_open(c, sha), -ENOENT);
	put(c, 1, 10, 0);
	fd = cache_blob_open(c, sha);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 10);
	assert_memory_equal(buf, "bbbbbbbbbb", 10);
	close(fd);
	/* The same bytes again: one entry, counted once. */
	put(c, 1, 10, 0);
	cache_blobs_usage(c, &bytes, NULL, &n, NULL);
	assert_int_equal(bytes, 10);
	assert_int_equal(n, 1);
	cache_blobs_close(c);
	cache_blobs_close(NULL);
}

static void test_eviction_order(void **state)
{
	struct fx *f = *state;
	struct cache_blobs *c;
	uint64_t bytes;

	/* Room for three 100-byte entries. */
	assert_int_equal(cache_blobs_open(f->dir, 300, &c, NULL, 0), 0);
	put(c, 1, 100, 0);
	put(c, 2, 100, 0);
	put(c, 3, 100, 0);
	assert_true(has(c, 1));      /* 1 becomes the most recently used */
	put(c, 4, 100, 0);           /* evicts 2, the least recently used */
	assert_false(has(c, 2));
	assert_true(has(c, 4));      /* touch order now: 4, 3, 1 */
	assert_true(has(c, 3));
	assert_true(has(c, 1));
	put(c, 5, 100, 0);           /* so 4 is the least recently used */
	assert_false(has(c, 4));
	assert_true(has(c, 3));
	assert_true(has(c, 1));
	cache_blobs_usage(c, &bytes, NULL, NULL, NULL);
	assert_true(bytes <= 300);
	cache_blobs_close(c);
}

static void test_size_bound(void **state)
{
	struct fx *f = *state;
	struct cache_blobs *c;
	unsigned char sha[CACHE_SHA_LEN];
	char tmp[4096], buf[600];
	uint64_t bytes;
	int fd;

	assert_int_equal(cache_blobs_open(f->dir, 1000, &c, NULL, 0), 0);
	for (int i = 0; i < 50; i++) {
		put(c, i, 97, 0);
		cache_blobs_usage(c, &bytes, NULL, NULL, NULL);
		assert_true(bytes <= 1000);
	}
	/* Larger than the whole cache: evicted at once, but the fd reads. */
	memset(buf, 'z', sizeof(buf));
	sha_of(999, sha);
	fd = cache_blob_tmp(c, tmp, sizeof(tmp));
	assert_true(fd >= 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(write(fd, buf, sizeof(buf)), (ssize_t)sizeof(buf));
	close(fd);
	fd = cache_blob_commit(c, tmp, sha, 1800, 0);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, buf, 10, 1790), 10);
	assert_int_equal(buf[0], 'z');
	close(fd);
	assert_int_equal(cache_blob_open(c, sha), -ENOENT);
	cache_blobs_usage(c, &bytes, NULL, NULL, NULL);
	assert_true(bytes <= 1000);
	cache_blobs_close(c);
}

static void test_pinning(void **state)
{
	struct fx *f = *state;
	struct cache_blobs *c;
	unsigned char sha[CACHE_SHA_LEN];
	uint64_t bytes, pinned;
	size_t n, np;

	assert_int_equal(cache_blobs_open(f->dir, 150, &c, NULL, 0), 0);
	put(c, 1, 150, 1);           /* pinned: not counted, never evicted */
	put(c, 2, 100, 0);
	put(c, 3, 100, 0);           /* evicts 2, never 1 */
	assert_true(has(c, 1));
	assert_false(has(c, 2));
	assert_true(has(c, 3));
	sha_of(1, sha);
	assert_true(cache_blob_pinned(c, sha));
	sha_of(3, sha);
	assert_false(cache_blob_pinned(c, sha));
	/* cache_blob_has: pinned or not, and only what is held. */
	assert_true(cache_blob_has(c, sha));
	sha_of(1, sha);
	assert_true(cache_blob_has(c, sha));
	sha_of(2, sha);
	assert_false(cache_blob_has(c, sha));
	sha_of(3, sha);
	/* Pinning an evictable entry moves it out of the candidates. */
	put(c, 3, 100, 1);
	assert_true(cache_blob_pinned(c, sha));
	cache_blobs_usage(c, &bytes, &pinned, &n, &np);
	assert_int_equal(bytes, 0);
	assert_int_equal(pinned, 250);
	assert_int_equal(n, 0);
	assert_int_equal(np, 2);
	/* Lots of traffic later, the pinned ones are still there. */
	for (int i = 10; i < 40; i++)
		put(c, i, 90, 0);
	assert_true(has(c, 1));
	assert_true(has(c, 3));
	cache_blobs_close(c);
}

/* Releasing pins: the list holds every pinned hash; an unpin with a stale
 * generation (a pin happened since) is refused; an unpinned entry becomes
 * evictable and obeys the size bound; unpinning what is not pinned is
 * -ENOENT. */
static void test_unpin(void **state)
{
	struct fx *f = *state;
	struct cache_blobs *c;
	unsigned char sha[CACHE_SHA_LEN], (*v)[CACHE_SHA_LEN] = NULL;
	uint64_t gen, bytes, pinned;
	size_t n = 0, np;

	assert_int_equal(cache_blobs_open(f->dir, 150, &c, NULL, 0), 0);
	put(c, 1, 100, 1);
	put(c, 2, 100, 1);
	put(c, 3, 100, 0);
	assert_int_equal(cache_blobs_pinned_list(c, &v, &n), 0);
	assert_int_equal(n, 2);
	sha_of(1, sha);
	assert_true(!memcmp(v[0], sha, CACHE_SHA_LEN) ||
		    !memcmp(v[1], sha, CACHE_SHA_LEN));
	free(v);
	gen = cache_blobs_pin_gen(c);
	put(c, 4, 10, 1);             /* a pin after the generation was read */
	assert_int_equal(cache_blob_unpin(c, sha, gen), -EAGAIN);
	assert_true(cache_blob_pinned(c, sha));
	gen = cache_blobs_pin_gen(c);
	assert_int_equal(cache_blob_unpin(c, sha, gen), 0);
	assert_false(cache_blob_pinned(c, sha));
	assert_true(has(c, 1));       /* still readable: now a cached entry */
	cache_blobs_usage(c, &bytes, &pinned, NULL, &np);
	assert_int_equal(pinned, 110);
	assert_int_equal(np, 2);
	assert_true(bytes <= 150);    /* the bound holds: 3 or 1 went */
	assert_int_equal(cache_blob_unpin(c, sha, gen), -ENOENT);
	sha_of(2, sha);
	assert_int_equal(cache_blob_unpin(c, sha, gen), 0);
	cache_blobs_close(c);
	/* the index rebuilt from disk agrees */
	assert_int_equal(cache_blobs_open(f->dir, 150, &c, NULL, 0), 0);
	cache_blobs_usage(c, NULL, &pinned, NULL, &np);
	assert_int_equal(pinned, 10);
	assert_int_equal(np, 1);
	cache_blobs_close(c);
}

static void test_adopt(void **state)
{
	struct fx *f = *state;
	struct cache_blobs *c;
	unsigned char sha[CACHE_SHA_LEN];
	char path[4096], buf[8];
	int fd, fd2;

	assert_int_equal(cache_blobs_open(f->dir, 1 << 20, &c, NULL, 0), 0);
	/* A named staging file: hard-linked, the caller keeps its name. */
	snprintf(path, sizeof(path), "%s/staged", f->dir);
	fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "hello", 5), 5);
	sha_of(7, sha);
	assert_int_equal(cache_blob_adopt(c, fd, path, sha, 5, 1), 0);
	assert_int_equal(access(path, F_OK), 0);
	close(fd);
	unlink(path);
	fd2 = cache_blob_open(c, sha);
	assert_true(fd2 >= 0);
	assert_int_equal(read(fd2, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);
	close(fd2);
	/* An unnamed one (O_TMPFILE where supported; else a plain file). */
	fd = open(f->dir, O_TMPFILE | O_RDWR, 0600);
	if (fd < 0) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
		unlink(path);
	}
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "world", 5), 5);
	sha_of(8, sha);
	assert_int_equal(cache_blob_adopt(c, fd, "", sha, 5, 0), 0);
	close(fd);
	fd2 = cache_blob_open(c, sha);
	assert_true(fd2 >= 0);
	assert_int_equal(read(fd2, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "world", 5);
	close(fd2);
	cache_blobs_close(c);
}

static void test_rebuild(void **state)
{
	struct fx *f = *state;
	struct cache_blobs *c;
	char path[4096];
	uint64_t bytes, pinned;
	size_t n, np;
	int fd;

	assert_int_equal(cache_blobs_open(f->dir, 1000, &c, NULL, 0), 0);
	put(c, 1, 100, 0);
	usleep(20000);               /* distinct mtimes: rebuild order */
	put(c, 2, 100, 0);
	usleep(20000);
	put(c, 3, 100, 0);
	put(c, 4, 50, 1);
	/* A crash leftover in tmp/ must vanish at the next open. */
	fd = cache_blob_tmp(c, path, sizeof(path));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "part", 4), 4);
	close(fd);
	cache_blobs_close(c);

	/* Reopen with room for two: the oldest on disk (1) goes. */
	assert_int_equal(cache_blobs_open(f->dir, 200, &c, NULL, 0), 0);
	assert_int_equal(access(path, F_OK), -1);
	cache_blobs_usage(c, &bytes, &pinned, &n, &np);
	assert_int_equal(bytes, 200);
	assert_int_equal(pinned, 50);
	assert_int_equal(n, 2);
	assert_int_equal(np, 1);
	assert_false(has(c, 1));
	assert_true(has(c, 2));
	assert_true(has(c, 3));
	assert_true(has(c, 4));
	cache_blobs_close(c);
}

static void test_open_fails(void **state)
{
	struct fx *f = *state;
	struct cache_blobs *c = (void *)1;
	char path[4096], msg[256] = "";

	snprintf(path, sizeof(path), "%s/file", f->dir);
	fclose(fopen(path, "w"));
	assert_int_equal(cache_blobs_open(path, 100, &c, msg, sizeof(msg)),
			 -ENOTDIR);
	assert_null(c);
	assert_non_null(strstr(msg, "cache directory"));
}

/* Pinned entries of an old cache directory are linked into a new one;
 * evictable ones and what the new one has already are left alone. */
static void test_adopt_pinned(void **state)
{
	struct fx *f = *state;
	struct cache_blobs *old, *c;
	char dir[300];
	uint64_t bytes, pinned;
	size_t n, np;

	assert_int_equal(cache_blobs_open(f->dir, 1000, &old, NULL, 0), 0);
	put(old, 1, 10, 1);
	put(old, 2, 20, 1);
	put(old, 3, 30, 0);          /* evictable: not adopted */
	cache_blobs_close(old);
	snprintf(dir, sizeof(dir), "%s/new", f->dir);
	assert_int_equal(cache_blobs_open(dir, 1000, &c, NULL, 0), 0);
	put(c, 2, 20, 1);            /* already here */
	assert_int_equal(cache_blobs_adopt_pinned(c, f->dir), 1);
	assert_true(has(c, 1));
	assert_true(has(c, 2));
	assert_false(has(c, 3));
	cache_blobs_usage(c, &bytes, &pinned, &n, &np);
	assert_int_equal(pinned, 30);
	assert_int_equal(np, 2);
	assert_int_equal(cache_blobs_adopt_pinned(c, f->dir), 0);
	cache_blobs_close(c);
	/* Still pinned after a reopen (a file of its own, not a memory). */
	assert_int_equal(cache_blobs_open(dir, 1000, &c, NULL, 0), 0);
	assert_true(has(c, 1));
	cache_blobs_close(c);
	/* A directory with no pinned/ at all adopts nothing. */
	assert_int_equal(cache_blobs_open(dir, 1000, &c, NULL, 0), 0);
	snprintf(dir, sizeof(dir), "%s/none", f->dir);
	assert_int_equal(cache_blobs_adopt_pinned(c, dir), 0);
	cache_blobs_close(c);
}

static void test_one_user(void **state)
{
	struct fx *f = *state;
	struct cache_blobs *c, *c2 = (void *)1;
	char msg[256] = "", want[40];

	assert_int_equal(cache_blobs_open(f->dir, 100, &c, NULL, 0), 0);
	assert_int_equal(cache_blobs_open(f->dir, 100, &c2, msg, sizeof(msg)),
			 -EBUSY);
	assert_null(c2);
	assert_non_null(strstr(msg, "in use"));
	/* flock is per open file, so the same process is told its own PID. */
	snprintf(want, sizeof(want), "PID %ld)", (long)getpid());
	assert_non_null(strstr(msg, want));
	cache_blobs_close(c);
	assert_int_equal(cache_blobs_open(f->dir, 100, &c2, NULL, 0), 0);
	cache_blobs_close(c2);
}

static void test_meta_ttl(void **state)
{
	struct cache_meta *m = cache_meta_new(0.05, 1 << 20);
	char *body;
	size_t len;

	(void)state;
	assert_non_null(m);
	assert_int_equal(cache_meta_get(m, "/v1/datasets", &body, &len),
			 -ENOENT);
	assert_int_equal(cache_meta_put(m, "/v1/datasets", "[1]", 3), 0);
	assert_int_equal(cache_meta_get(m, "/v1/datasets", &body, &len), 0);
	assert_int_equal(len, 3);
	assert_string_equal(body, "[1]");
	free(body);
	/* Replacing a key keeps one entry. */
	assert_int_equal(cache_meta_put(m, "/v1/datasets", "[1,2]", 5), 0);
	assert_int_equal(cache_meta_count(m), 1);
	usleep(80000);
	assert_int_equal(cache_meta_get(m, "/v1/datasets", &body, &len),
			 -ENOENT);
	/* Expired, but still there for when the server is unreachable. */
	assert_int_equal(cache_meta_count(m), 1);
	assert_int_equal(cache_meta_get_stale(m, "/v1/datasets", &body, &len),
			 0);
	assert_string_equal(body, "[1,2]");
	free(body);
	assert_int_equal(cache_meta_get_stale(m, "/nope", &body, &len),
			 -ENOENT);
	cache_meta_free(m);

	/* TTL 0: nothing is cached. */
	m = cache_meta_new(0, 1 << 20);
	assert_int_equal(cache_meta_put(m, "/k", "v", 1), 0);
	assert_int_equal(cache_meta_get(m, "/k", &body, &len), -ENOENT);
	cache_meta_free(m);
	cache_meta_free(NULL);
}

static void test_meta_invalidate(void **state)
{
	struct cache_meta *m = cache_meta_new(60, 1 << 20);
	char *body;
	size_t len;

	(void)state;
	cache_meta_put(m, "/v1/datasets", "a", 1);
	cache_meta_put(m, "/v1/datasets/1/tags", "b", 1);
	cache_meta_put(m, "/v1/datasets/12/tags", "c", 1);
	cache_meta_put(m, "/v1/nodes/5", "d", 1);
	cache_meta_invalidate(m, "/v1/datasets/1/");
	assert_int_equal(cache_meta_get(m, "/v1/datasets/1/tags", &body, &len),
			 -ENOENT);
	assert_int_equal(cache_meta_get(m, "/v1/datasets/12/tags", &body,
					&len), 0);
	free(body);
	assert_int_equal(cache_meta_get(m, "/v1/datasets", &body, &len), 0);
	free(body);
	cache_meta_invalidate(m, "");
	assert_int_equal(cache_meta_count(m), 0);
	cache_meta_free(m);
}

static void test_meta_bound(void **state)
{
	struct cache_meta *m = cache_meta_new(60, 100);
	char key[32], big[200], *body;
	size_t len;

	(void)state;
	for (int i = 0; i < 50; i++) {
		snprintf(key, sizeof(key), "/k%d", i);
		assert_int_equal(cache_meta_put(m, key, "0123456789", 10), 0);
	}
	/* 13-14 bytes each within 100: only the newest few survive. */
	assert_true(cache_meta_count(m) <= 8);
	assert_int_equal(cache_meta_get(m, "/k49", &body, &len), 0);
	free(body);
	assert_int_equal(cache_meta_get(m, "/k0", &body, &len), -ENOENT);
	memset(big, 'x', sizeof(big));
	assert_int_equal(cache_meta_put(m, "/big", big, sizeof(big)), 0);
	assert_int_equal(cache_meta_get(m, "/big", &body, &len), -ENOENT);
	cache_meta_free(m);
}

/* 0 if key is fresh (the body is dropped), else get's error. */
static int fresh(struct cache_meta *m, const char *key)
{
	char *body = NULL;
	size_t len;
	int rc = cache_meta_get(m, key, &body, &len);

	free(body);
	return rc;
}

/* A listing (head, with its ETag) and the records primed from it: after
 * the TTL all are stale; a refresh with the right validator makes the head
 * and every member fresh again at once, and nothing else. */
static void test_meta_group_refresh(void **state)
{
	struct cache_meta *m = cache_meta_new(0.3, 1 << 20);
	char tag[32], tiny[4], *body;
	size_t len;

	(void)state;
	assert_int_equal(cache_meta_put_etag(m, "/L", "[a,b]", 5, "\"e1\""),
			 0);
	assert_int_equal(cache_meta_put_member(m, "/L/a", "A", 1, "/L"), 0);
	assert_int_equal(cache_meta_put_member(m, "/L/b", "B", 1, "/L"), 0);
	assert_int_equal(cache_meta_put(m, "/x", "X", 1), 0);
	/* no such head: a plain entry */
	assert_int_equal(cache_meta_put_member(m, "/y", "Y", 1, "/none"), 0);
	/* a head without a validator heads nothing */
	assert_int_equal(cache_meta_put_etag(m, "/P", "p", 1, ""), 0);
	assert_int_equal(cache_meta_put_member(m, "/P/z", "Z", 1, "/P"), 0);
	assert_int_equal(cache_meta_etag(m, "/L", tag, sizeof(tag)), 0);
	assert_string_equal(tag, "\"e1\"");
	assert_int_equal(cache_meta_etag(m, "/L", tiny, sizeof(tiny)),
			 -ENAMETOOLONG);
	assert_int_equal(cache_meta_etag(m, "/L/a", tag, sizeof(tag)),
			 -ENOENT);
	assert_int_equal(cache_meta_etag(m, "/P", tag, sizeof(tag)), -ENOENT);
	assert_int_equal(fresh(m, "/L/a"), 0);
	usleep(400000);
	assert_int_equal(fresh(m, "/L"), -ENOENT);
	assert_int_equal(fresh(m, "/L/a"), -ENOENT);
	/* the validator survives expiry: it is what the request sends */
	assert_int_equal(cache_meta_etag(m, "/L", tag, sizeof(tag)), 0);
	/* another validator: not this body, nothing changes */
	assert_int_equal(cache_meta_refresh(m, "/L", "\"e2\""), -ENOENT);
	assert_int_equal(cache_meta_refresh(m, "/nope", "\"e1\""), -ENOENT);
	assert_int_equal(cache_meta_refresh(m, "/L/a", "\"e1\""), -ENOENT);
	assert_int_equal(fresh(m, "/L"), -ENOENT);
	assert_int_equal(cache_meta_refresh(m, "/L", "\"e1\""), 0);
	assert_int_equal(fresh(m, "/L"), 0);
	assert_int_equal(fresh(m, "/L/a"), 0);
	assert_int_equal(cache_meta_get(m, "/L/b", &body, &len), 0);
	assert_int_equal(len, 1);
	assert_string_equal(body, "B");
	free(body);
	assert_int_equal(fresh(m, "/x"), -ENOENT);
	assert_int_equal(fresh(m, "/y"), -ENOENT);
	assert_int_equal(fresh(m, "/P/z"), -ENOENT);
	/* stale copies of the others are still there */
	assert_int_equal(cache_meta_get_stale(m, "/x", &body, &len), 0);
	free(body);
	cache_meta_free(m);
}

/* Members leave a group on their own; a replaced or dropped head leaves
 * its old members to age out; refresh says when members are missing. */
static void test_meta_group_leave(void **state)
{
	struct cache_meta *m = cache_meta_new(0.3, 1 << 20);

	(void)state;
	cache_meta_put_etag(m, "/L", "[a,b,c]", 7, "\"e1\"");
	cache_meta_put_member(m, "/L/a", "A", 1, "/L");
	cache_meta_put_member(m, "/L/b", "B", 1, "/L");
	cache_meta_put_member(m, "/L/c", "C", 1, "/L");
	assert_int_equal(cache_meta_refresh(m, "/L", "\"e1\""), 0);
	/* invalidated, and replaced by a plain entry: both left the group */
	cache_meta_invalidate(m, "/L/a");
	cache_meta_put(m, "/L/b", "B2", 2);
	assert_int_equal(cache_meta_refresh(m, "/L", "\"e1\""), 1);
	usleep(400000);
	assert_int_equal(cache_meta_refresh(m, "/L", "\"e1\""), 1);
	assert_int_equal(fresh(m, "/L/c"), 0);
	assert_int_equal(fresh(m, "/L/b"), -ENOENT);      /* its own TTL */

	/* The listing changed (a 200): the new head has a new group; the old
	 * members are not refreshed with it. */
	cache_meta_put_etag(m, "/L", "[c,d]", 5, "\"e2\"");
	cache_meta_put_member(m, "/L/d", "D", 1, "/L");
	usleep(400000);
	assert_int_equal(cache_meta_refresh(m, "/L", "\"e1\""), -ENOENT);
	assert_int_equal(cache_meta_refresh(m, "/L", "\"e2\""), 0);
	assert_int_equal(fresh(m, "/L/d"), 0);
	assert_int_equal(fresh(m, "/L/c"), -ENOENT);

	/* The head invalidated (our own change): members age out, refresh
	 * finds nothing, and putting into the gone group is a plain put. */
	cache_meta_invalidate(m, "/L");      /* also drops /L/... */
	cache_meta_put_etag(m, "/M", "m", 1, "\"m1\"");
	cache_meta_put_member(m, "/M/a", "A", 1, "/M");
	cache_meta_invalidate(m, "/M");
	assert_int_equal(cache_meta_count(m), 0);
	cache_meta_put_etag(m, "/N", "n", 1, "\"n1\"");
	cache_meta_put_member(m, "/n/a", "A", 1, "/N");
	cache_meta_invalidate(m, "/N");
	assert_int_equal(cache_meta_refresh(m, "/N", "\"n1\""), -ENOENT);
	assert_int_equal(fresh(m, "/n/a"), 0);     /* until its TTL */
	cache_meta_put_member(m, "/n/b", "B", 1, "/N");
	usleep(400000);
	assert_int_equal(fresh(m, "/n/a"), -ENOENT);
	assert_int_equal(fresh(m, "/n/b"), -ENOENT);
	cache_meta_free(m);
}

/* Eviction by the byte bound drops heads and members in any order (the
 * sanitizer build checks the groups are freed exactly once); TTL 0 keeps
 * nothing, validators included. */
static void test_meta_group_bound(void **state)
{
	struct cache_meta *m = cache_meta_new(60, 200);
	char key[32], tag[32];

	(void)state;
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "/h%d", i % 7);
		cache_meta_put_etag(m, key, "0123456789", 10, "\"t\"");
		snprintf(key, sizeof(key), "/m%d", i);
		snprintf(tag, sizeof(tag), "/h%d", (i * 3) % 7);
		cache_meta_put_member(m, key, "0123456789", 10, tag);
	}
	assert_true(cache_meta_count(m) <= 14);
	cache_meta_invalidate(m, "/h");
	cache_meta_free(m);

	m = cache_meta_new(0, 1 << 20);
	assert_int_equal(cache_meta_put_etag(m, "/L", "x", 1, "\"e\""), 0);
	assert_int_equal(cache_meta_etag(m, "/L", tag, sizeof(tag)), -ENOENT);
	assert_int_equal(cache_meta_refresh(m, "/L", "\"e\""), -ENOENT);
	cache_meta_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_insert_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_eviction_order, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_size_bound, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pinning, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unpin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebuild, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_fails, setup, teardown),
		cmocka_unit_test_setup_teardown(test_one_user, setup, teardown),
		cmocka_unit_test_setup_teardown(test_adopt_pinned, setup,
						teardown),
		cmocka_unit_test(test_meta_ttl),
		cmocka_unit_test(test_meta_invalidate),
		cmocka_unit_test(test_meta_bound),
		cmocka_unit_test(test_meta_group_refresh),
		cmocka_unit_test(test_meta_group_leave),
		cmocka_unit_test(test_meta_group_bound),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
