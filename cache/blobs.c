/*
 * blobs.c — see blobs.h for the on-disk layout and the guarantees.
 *
 * Index: a chained hash table keyed by the hash's first 8 bytes, plus one
 * doubly linked LRU list of the evictable entries (head = most recently
 * used). Pinned entries are in the table but never in the list, so eviction
 * walks only candidates. `used` counts evictable bytes, `pinned` the rest.
 *
 * Eviction unlinks files under the lock; a reader holding an fd on an evicted
 * entry keeps reading it (POSIX unlink semantics).
 *
 * Threads: `lock` protects every field below it in struct cache_blobs and
 * every entry. Nothing else is locked here.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/blobs.h"

#define PATH_CAP 4096
#define DIR_CAP 3900            /* leaves room for /pinned/ab/<sha256> */
#define NBUCKETS_MIN 1024

struct entry {
	unsigned char sha[CACHE_SHA_LEN];
	int64_t size;
	int pinned;
	struct entry *hnext;           /* hash chain */
	struct entry *prev, *next;     /* LRU list (unpinned only) */
};

struct cache_blobs {
	char dir[DIR_CAP];
	uint64_t limit;
	pthread_mutex_t lock;
	struct entry **bucket;         /* nbuckets chains */
	size_t nbuckets, count, npinned;
	struct entry *head, *tail;     /* LRU: head newest, tail oldest */
	uint64_t used, pinned;
	uint64_t pin_gen;              /* bumped by every pinning commit */
	int lockfd;                    /* DIR/lock, flock'd while open */
};

static void hex(const unsigned char *sha, char out[65])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < CACHE_SHA_LEN; i++) {
		out[2 * i] = digits[sha[i] >> 4];
		out[2 * i + 1] = digits[sha[i] & 15];
	}
	out[64] = '\0';
}

static int unhex(const char *s, unsigned char *sha)
{
	for (int i = 0; i < 64; i++) {
		int v = s[i] >= '0' && s[i] <= '9' ? s[i] - '0' :
			s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 10 : -1;
		if (v < 0)
			return -1;
		if (i & 1)
			sha[i / 2] |= (unsigned char)v;
		else
			sha[i / 2] = (unsigned char)(v << 4);
	}
	return s[64] == '\0' ? 0 : -1;
}

static int entry_path(const struct cache_blobs *c, const unsigned char *sha,
		      int pinned, char *buf, size_t len)
{
	char h[65];
	int n;

	hex(sha, h);
	n = snprintf(buf, len, "%s/%s%.2s/%s", c->dir, pinned ? "pinned/" : "",
		     h, h);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- index (lock held) ---- */

static size_t bucket_of(const struct cache_blobs *c, const unsigned char *sha)
{
	uint64_t h;

	memcpy(&h, sha, sizeof(h));
	return (size_t)(h % c->nbuckets);
}

static struct entry *find(struct cache_blobs *c, const unsigned char *sha)
{
	struct entry *e = c->bucket[bucket_of(c, sha)];

	while (e && memcmp(e->sha, sha, CACHE_SHA_LEN))
		e = e->hnext;
	return e;
}

static void lru_unlink(struct cache_blobs *c, struct entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		c->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		c->tail = e->prev;
	e->prev = e->next = NULL;
}

static void lru_push_head(struct cache_blobs *c, struct entry *e)
{
	e->prev = NULL;
	e->next = c->head;
	if (c->head)
		c->head->prev = e;
	c->head = e;
	if (!c->tail)
		c->tail = e;
}

static void grow(struct cache_blobs *c)
{
	size_t n = c->nbuckets * 2;
	struct entry **b = calloc(n, sizeof(*b));

	if (!b)
		return;                /* longer chains, still correct */
	for (size_t i = 0; i < c->nbuckets; i++) {
		struct entry *e = c->bucket[i], *next;
		for (; e; e = next) {
			uint64_t h;
			next = e->hnext;
			memcpy(&h, e->sha, sizeof(h));
			e->hnext = b[h % n];
			b[h % n] = e;
		}
	}
	free(c->bucket);
	c->bucket = b;
	c->nbuckets = n;
}

static struct entry *add(struct cache_blobs *c, const unsigned char *sha,
			 int64_t size, int pinned)
{
	struct entry *e = calloc(1, sizeof(*e));
	size_t b;

	if (!e)
		return NULL;
	if (c->count >= c->nbuckets)
		grow(c);
	memcpy(e->sha, sha, CACHE_SHA_LEN);
	e->size = size;
	e->pinned = pinned;
	b = bucket_of(c, sha);
	e->hnext = c->bucket[b];
	c->bucket[b] = e;
	c->count++;
	if (pinned) {
		c->npinned++;
		c->pinned += (uint64_t)size;
	} else {
		lru_push_head(c, e);
		c->used += (uint64_t)size;
	}
	return e;
}

static void drop(struct cache_blobs *c, struct entry *e)
{
	struct entry **p = &c->bucket[bucket_of(c, e->sha)];

	while (*p != e)
		p = &(*p)->hnext;
	*p = e->hnext;
	c->count--;
	if (e->pinned) {
		c->npinned--;
		c->pinned -= (uint64_t)e->size;
	} else {
		lru_unlink(c, e);
		c->used -= (uint64_t)e->size;
	}
	free(e);
}

/* Unlinks least recently used entries until `used` fits the limit. */
static void evict(struct cache_blobs *c)
{
	char path[PATH_CAP];

	while (c->used > c->limit && c->tail) {
		struct entry *e = c->tail;
		if (!entry_path(c, e->sha, 0, path, sizeof(path)))
			unlink(path);
		drop(c, e);
	}
}

/* ---- opening: scan the directory ---- */

/* Owner-only, whatever the umask: cached bytes are samples the server gave
 * only to this user. A folder or file left wider by an older sievefs (or
 * made by hand) is narrowed (owner bits kept) when the cache is opened. */
#define CACHE_DIR_MODE 0700
#define CACHE_FILE_MODE 0600

static void narrow_at(int dfd, const char *name, const struct stat *st)
{
	mode_t want = S_ISDIR(st->st_mode) ? CACHE_DIR_MODE : CACHE_FILE_MODE;

	if ((S_ISDIR(st->st_mode) || S_ISREG(st->st_mode)) &&
	    (st->st_mode & 077))
		fchmodat(dfd, name, st->st_mode & want, 0);
}


struct found {
	unsigned char sha[CACHE_SHA_LEN];
	int64_t size;
	struct timespec mtime;
};

static int by_mtime(const void *a, const void *b)
{
	const struct found *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return 0;
}

/* Collects the entries of one DIR/xx (or DIR/pinned/xx) directory. */
static int scan_sub(const char *sub, struct found **v, size_t *n, size_t *cap)
{
	DIR *d = opendir(sub);
	struct dirent *de;
	struct stat st;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		struct found f;
		if (strlen(de->d_name) != 64 || unhex(de->d_name, f.sha) ||
		    fstatat(dirfd(d), de->d_name, &st, 0) || !S_ISREG(st.st_mode))
			continue;
		narrow_at(dirfd(d), de->d_name, &st);
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 1024;
			struct found *nv = realloc(*v, nc * sizeof(*nv));
			if (!nv) {
				closedir(d);
				return -ENOMEM;
			}
			*v = nv;
			*cap = nc;
		}
		f.size = st.st_size;
		f.mtime = st.st_mtim;
		(*v)[(*n)++] = f;
	}
	closedir(d);
	return 0;
}

static int mkdir_p(const char *path)
{
	struct stat st;

	if (mkdir(path, CACHE_DIR_MODE) == 0)
		return chmod(path, CACHE_DIR_MODE) ? -errno : 0;
	if (errno != EEXIST)
		return -errno;
	if (lstat(path, &st) == 0)
		narrow_at(AT_FDCWD, path, &st);
	return 0;
}

/* The files directly in the cache folder (lock, source, ...). */
static void narrow_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	struct stat st;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (!fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) &&
		    S_ISREG(st.st_mode))
			narrow_at(dirfd(d), de->d_name, &st);
	closedir(d);
}

/* Makes DIR/xx (or DIR/pinned/xx) for every xx and scans them. */
static int scan(struct cache_blobs *c, int pinned)
{
	struct found *v = NULL;
	size_t n = 0, cap = 0;
	char sub[PATH_CAP];
	int rc = 0;

	for (int i = 0; i < 256 && !rc; i++) {
		snprintf(sub, sizeof(sub), "%s/%s%02x", c->dir,
			 pinned ? "pinned/" : "", i);
		rc = mkdir_p(sub);
		if (!rc)
			rc = scan_sub(sub, &v, &n, &cap);
	}
	if (!rc && n > 1)             /* qsort(NULL, 0) is undefined */
		qsort(v, n, sizeof(*v), by_mtime);
	for (size_t i = 0; i < n && !rc; i++)
		if (!find(c, v[i].sha) && !add(c, v[i].sha, v[i].size, pinned))
			rc = -ENOMEM;
	free(v);
	return rc;
}

static void clean_tmp(const char *tmpdir)
{
	DIR *d = opendir(tmpdir);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			unlinkat(dirfd(d), de->d_name, 0);
	closedir(d);
}

/* The PID the holder of the lock file wrote into it, or 0. */
static long lock_holder(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	char *end;
	long pid;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	pid = strtol(buf, &end, 10);
	return end != buf && pid > 0 ? pid : 0;
}

int cache_blobs_open(const char *dir, uint64_t limit, struct cache_blobs **out,
		     char *msg, size_t msglen)
{
	struct cache_blobs *c = calloc(1, sizeof(*c));
	char sub[PATH_CAP];
	long holder = 0;
	int rc = 0;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	pthread_mutex_init(&c->lock, NULL);
	c->limit = limit;
	c->lockfd = -1;
	c->nbuckets = NBUCKETS_MIN;
	c->bucket = calloc(c->nbuckets, sizeof(*c->bucket));
	if (!c->bucket) {
		rc = -ENOMEM;
		goto out;
	}
	if ((size_t)snprintf(c->dir, sizeof(c->dir), "%s", dir) >=
	    sizeof(c->dir)) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	rc = mkdir_p(c->dir);
	snprintf(sub, sizeof(sub), "%s/pinned", c->dir);
	if (!rc)
		rc = mkdir_p(sub);
	snprintf(sub, sizeof(sub), "%s/tmp", c->dir);
	if (!rc)
		rc = mkdir_p(sub);
	if (rc)
		goto out;
	/* One process per cache: another one's temp files are not leftovers,
	 * and its index would disagree with ours. */
	snprintf(sub, sizeof(sub), "%s/lock", c->dir);
	narrow_files(c->dir);
	c->lockfd = open(sub, O_RDWR | O_CREAT | O_CLOEXEC, CACHE_FILE_MODE);
	if (c->lockfd < 0) {
		rc = -errno;
		goto out;
	}
	if (flock(c->lockfd, LOCK_EX | LOCK_NB)) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (rc == -EBUSY)
			holder = lock_holder(c->lockfd);
		goto out;
	}
	/* Who holds it, for the message a second mount gets. */
	if (ftruncate(c->lockfd, 0) == 0)
		dprintf(c->lockfd, "%ld\n", (long)getpid());
	snprintf(sub, sizeof(sub), "%s/tmp", c->dir);
	clean_tmp(sub);
	rc = scan(c, 1);
	if (!rc)
		rc = scan(c, 0);
	if (!rc)
		evict(c);              /* the limit may have shrunk */
out:
	if (rc == -EBUSY && msg && msglen)
		snprintf(msg, msglen, "cache directory %s: in use by another"
			 " mount (PID %ld); give each mount its own"
			 " -o cache_dir=", dir, holder);
	else if (rc && msg && msglen)
		snprintf(msg, msglen, "cache directory %s: %s", dir,
			 strerror(-rc));
	if (rc) {
		cache_blobs_close(c);
		return rc;
	}
	*out = c;
	return 0;
}

void cache_blobs_close(struct cache_blobs *c)
{
	if (!c)
		return;
	for (size_t i = 0; c->bucket && i < c->nbuckets; i++) {
		struct entry *e = c->bucket[i], *next;
		for (; e; e = next) {
			next = e->hnext;
			free(e);
		}
	}
	free(c->bucket);
	if (c->lockfd >= 0)
		close(c->lockfd);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

int cache_blobs_adopt_pinned(struct cache_blobs *c, const char *old)
{
	char from[PATH_CAP], to[PATH_CAP], sub[PATH_CAP];
	unsigned char sha[CACHE_SHA_LEN];
	int adopted = 0;

	for (int i = 0; i < 256; i++) {
		struct dirent *de;
		struct stat st;
		DIR *d;

		snprintf(sub, sizeof(sub), "%s/pinned/%02x", old, i);
		if (!(d = opendir(sub)))
			continue;
		while ((de = readdir(d))) {
			if (strlen(de->d_name) != 64 ||
			    unhex(de->d_name, sha) ||
			    fstatat(dirfd(d), de->d_name, &st, 0) ||
			    !S_ISREG(st.st_mode) ||
			    (size_t)snprintf(from, sizeof(from), "%s/%s", sub,
					     de->d_name) >= sizeof(from))
				continue;
			pthread_mutex_lock(&c->lock);
			/* A link, not a copy: the bytes exist once, and the
			 * old place keeps them for any other cache. */
			if (!find(c, sha) &&
			    !entry_path(c, sha, 1, to, sizeof(to)) &&
			    (link(from, to) == 0 || errno == EEXIST) &&
			    add(c, sha, st.st_size, 1)) {
				narrow_at(AT_FDCWD, to, &st);
				adopted++;
			}
			pthread_mutex_unlock(&c->lock);
		}
		closedir(d);
	}
	return adopted;
}

/* ---- lookups and inserts ---- */

int cache_blob_open(struct cache_blobs *c, 
		    const unsigned char sha[CACHE_SHA_LEN])
{
	char path[PATH_CAP];
	struct entry *e;
	int fd, rc;

	pthread_mutex_lock(&c->lock);
	e = find(c, sha);
	if (!e) {
		pthread_mutex_unlock(&c->lock);
		return -ENOENT;
	}
	rc = entry_path(c, sha, e->pinned, path, sizeof(path));
	fd = rc ? rc : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 && !rc) {
		fd = -errno;
		if (fd == -ENOENT)     /* removed behind our back */
			drop(c, e);
	} else if (fd >= 0 && !e->pinned) {
		lru_unlink(c, e);
		lru_push_head(c, e);
	}
	pthread_mutex_unlock(&c->lock);
	return fd;
}

int cache_blob_has(struct cache_blobs *c,
		   const unsigned char sha[CACHE_SHA_LEN])
{
	int has;

	pthread_mutex_lock(&c->lock);
	has = find(c, sha) != NULL;
	pthread_mutex_unlock(&c->lock);
	return has;
}

int cache_blob_pinned(struct cache_blobs *c, 
		    const unsigned char sha[CACHE_SHA_LEN])
{
	struct entry *e;
	int pinned;

	pthread_mutex_lock(&c->lock);
	e = find(c, sha);
	pinned = e && e->pinned;
	pthread_mutex_unlock(&c->lock);
	return pinned;
}

/* A random name in tmp/ (not made): 0 or -errno. */
static int tmp_name(struct cache_blobs *c, char *path, size_t len)
{
	unsigned char rnd[12], full[CACHE_SHA_LEN] = { 0 };
	char h[65];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		return -EIO;
	memcpy(full, rnd, sizeof(rnd));
	hex(full, h);
	h[2 * sizeof(rnd)] = '\0';
	if ((size_t)snprintf(path, len, "%s/tmp/%s", c->dir, h) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int cache_blob_tmp(struct cache_blobs *c, char *path, size_t len)
{
	for (int tries = 0; tries < 8; tries++) {
		int rc = tmp_name(c, path, len), fd;

		if (rc)
			return rc;
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* Renames tmp into place and indexes it (lock held). An entry that exists
 * already wins: tmp is dropped. Pinning an unpinned entry moves it. */
static int install(struct cache_blobs *c, const char *tmp,
		   const unsigned char *sha, int64_t size, int pin)
{
	char path[PATH_CAP], old[PATH_CAP];
	struct entry *e = find(c, sha);
	int rc;

	if (pin)
		c->pin_gen++;          /* see cache_blob_unpin */

	if (e && (e->pinned || !pin)) {
		unlink(tmp);
		if (!e->pinned) {
			lru_unlink(c, e);
			lru_push_head(c, e);
		}
		return 0;
	}
	rc = entry_path(c, sha, pin, path, sizeof(path));
	if (rc || rename(tmp, path)) {
		rc = rc ? rc : -errno;
		unlink(tmp);
		return rc;
	}
	if (e) {                       /* was evictable, now pinned */
		if (!entry_path(c, sha, 0, old, sizeof(old)))
			unlink(old);
		drop(c, e);
	}
	return add(c, sha, size, pin) ? 0 : -ENOMEM;
}

int cache_blob_commit(struct cache_blobs *c, const char *tmp,
		      const unsigned char sha[CACHE_SHA_LEN], int64_t size,
		      int pin)
{
	int fd, rc;

	/* Open before renaming, so eviction cannot take it from us. */
	fd = open(tmp, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		unlink(tmp);
		return rc;
	}
	pthread_mutex_lock(&c->lock);
	rc = install(c, tmp, sha, size, pin);
	evict(c);
	pthread_mutex_unlock(&c->lock);
	if (rc) {
		close(fd);
		return rc;
	}
	return fd;
}

static int copy_fd(int from, int to, int64_t size)
{
	char buf[65536];
	int64_t off = 0;

	while (off < size) {
		ssize_t r = pread(from, buf, sizeof(buf), off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return r < 0 ? -errno : -EIO;
		for (ssize_t w = 0; w < r;) {
			ssize_t k = write(to, buf + w, (size_t)(r - w));
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return -errno;
			w += k;
		}
		off += r;
	}
	return 0;
}

int cache_blob_adopt(struct cache_blobs *c, int fd, const char *path,
		     const unsigned char sha[CACHE_SHA_LEN], int64_t size,
		     int pin)
{
	char tmp[PATH_CAP], proc[64];
	int tfd, rc = -1;

	/* A hard link shares the bytes; an unnamed O_TMPFILE file is linked
	 * through /proc. Elsewhere (another filesystem): copy. The link goes
	 * to a fresh random name, tried until one is free: no file is made
	 * and removed to reserve it (an inode made and freed per upload
	 * made ext4's inode allocator scan its recently deleted ones: 60%
	 * of the daemon's CPU in a remote cp -r of small files, perf). */
	for (int tries = 0; rc && tries < 8; tries++) {
		int nrc = tmp_name(c, tmp, sizeof(tmp));

		if (nrc)
			return nrc;
		if (path && path[0])
			rc = link(path, tmp);
		else {
			snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fd);
			rc = linkat(AT_FDCWD, proc, AT_FDCWD, tmp,
				    AT_SYMLINK_FOLLOW);
		}
		if (rc && errno != EEXIST)
			break;
	}
	if (rc) {
		tfd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (tfd < 0)
			return -errno;
		rc = copy_fd(fd, tfd, size);
		if (close(tfd) && !rc)
			rc = -errno;
		if (rc) {
			unlink(tmp);
			return rc;
		}
	}
	pthread_mutex_lock(&c->lock);
	rc = install(c, tmp, sha, size, pin);
	evict(c);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

void cache_blobs_usage(struct cache_blobs *c, uint64_t *bytes,
		       uint64_t *pinned_bytes, size_t *entries,
		       size_t *pinned_entries)
{
	pthread_mutex_lock(&c->lock);
	if (bytes)
		*bytes = c->used;
	if (pinned_bytes)
		*pinned_bytes = c->pinned;
	if (entries)
		*entries = c->count - c->npinned;
	if (pinned_entries)
		*pinned_entries = c->npinned;
	pthread_mutex_unlock(&c->lock);
}

uint64_t cache_blobs_pin_gen(struct cache_blobs *c)
{
	uint64_t g;

	pthread_mutex_lock(&c->lock);
	g = c->pin_gen;
	pthread_mutex_unlock(&c->lock);
	return g;
}

int cache_blobs_pinned_list(struct cache_blobs *c,
			    unsigned char (**out)[CACHE_SHA_LEN], size_t *n)
{
	unsigned char (*v)[CACHE_SHA_LEN];
	size_t k = 0;

	*out = NULL;
	*n = 0;
	pthread_mutex_lock(&c->lock);
	v = malloc((c->npinned ? c->npinned : 1) * sizeof(*v));
	if (!v) {
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	for (size_t b = 0; b < c->nbuckets; b++)
		for (struct entry *e = c->bucket[b]; e; e = e->hnext)
			if (e->pinned && k < c->npinned)
				memcpy(v[k++], e->sha, CACHE_SHA_LEN);
	pthread_mutex_unlock(&c->lock);
	*out = v;
	*n = k;
	return 0;
}

/* The pinned file moves to the evictable side (a rename in the cache
 * directory), so the bytes stay readable while there is room, then go the
 * way of any cached entry. */
int cache_blob_unpin(struct cache_blobs *c,
		     const unsigned char sha[CACHE_SHA_LEN], uint64_t gen)
{
	char from[PATH_CAP], to[PATH_CAP];
	struct entry *e;
	int64_t size;
	int rc = 0;

	pthread_mutex_lock(&c->lock);
	e = find(c, sha);
	if (c->pin_gen != gen)
		rc = -EAGAIN;
	else if (!e || !e->pinned)
		rc = -ENOENT;
	else if ((rc = entry_path(c, sha, 1, from, sizeof(from))) ||
		 (rc = entry_path(c, sha, 0, to, sizeof(to))))
		;
	else if (rename(from, to))
		rc = -errno;
	else {
		size = e->size;
		drop(c, e);
		if (!add(c, sha, size, 0))
			unlink(to);    /* no memory for the entry: just free it */
		evict(c);
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}
