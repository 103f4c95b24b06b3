/*
 * meta.c — see meta.h. A chained hash table (FNV-1a of the key) for lookups
 * plus one list in insertion order (oldest first) for eviction; prefix
 * invalidation walks that list, which is fine at the sizes a TTL of seconds
 * keeps alive.
 *
 * Groups (meta.h, "Revalidation"): a head entry owns a struct mgroup that
 * holds the expiry it shares with its members; an entry's expiry is its
 * group's when it has one (expiry()), so a refresh writes one double. The
 * group counts its live members and how many ever joined; it is freed when
 * neither the head nor any member points to it any more.
 *
 * Threads: `lock` protects everything in struct cache_meta, the entries and
 * the groups.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache/meta.h"

#define NBUCKETS 4096

struct mgroup {
	double expires;                /* of the head and every member */
	size_t members;                /* member entries pointing here */
	size_t joined;                 /* member puts ever: > members = some left */
	int headed;                    /* the head entry still points here */
};

struct mentry {
	char *key;
	char *body;
	char *etag;                    /* a head's validator, else NULL */
	size_t len;
	size_t cost;                   /* bytes counted against max_bytes */
	double expires;                /* when grp is NULL */
	struct mgroup *grp;            /* head's or member's group, or NULL */
	int head;                      /* this entry heads grp */
	struct mentry *hnext;          /* hash chain */
	struct mentry *prev, *next;    /* age list */
};

struct cache_meta {
	double ttl;
	size_t max_bytes, bytes, count;
	pthread_mutex_t lock;
	struct mentry *bucket[NBUCKETS];
	struct mentry *oldest, *newest;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static size_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return (size_t)(h % NBUCKETS);
}

struct cache_meta *cache_meta_new(double ttl, size_t max_bytes)
{
	struct cache_meta *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->ttl = ttl;
	m->max_bytes = max_bytes;
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

static double expiry(const struct mentry *e)
{
	return e->grp ? e->grp->expires : e->expires;
}

/* Unlinks e from its group; the last one out frees it. */
static void leave(struct mentry *e)
{
	struct mgroup *g = e->grp;

	if (!g)
		return;
	if (e->head)
		g->headed = 0;
	else
		g->members--;
	if (!g->headed && !g->members)
		free(g);
	e->grp = NULL;
}

static void drop(struct cache_meta *m, struct mentry *e)
{
	struct mentry **p = &m->bucket[hash(e->key)];

	while (*p != e)
		p = &(*p)->hnext;
	*p = e->hnext;
	if (e->prev)
		e->prev->next = e->next;
	else
		m->oldest = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		m->newest = e->prev;
	m->bytes -= e->cost;
	m->count--;
	leave(e);
	free(e->key);
	free(e->body);
	free(e->etag);
	free(e);
}

void cache_meta_free(struct cache_meta *m)
{
	if (!m)
		return;
	while (m->oldest)
		drop(m, m->oldest);
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static struct mentry *find(struct cache_meta *m, const char *key)
{
	struct mentry *e = m->bucket[hash(key)];

	while (e && strcmp(e->key, key))
		e = e->hnext;
	return e;
}

static int get(struct cache_meta *m, const char *key, char **out,
	       size_t *len, int stale)
{
	struct mentry *e;
	int rc = -ENOENT;

	*out = NULL;
	pthread_mutex_lock(&m->lock);
	e = find(m, key);
	/* Expired entries stay (for get_stale) until room is needed. */
	if (e && !stale && expiry(e) <= now_s())
		e = NULL;
	if (e) {
		*out = malloc(e->len + 1);
		rc = *out ? 0 : -ENOMEM;
		if (*out) {
			memcpy(*out, e->body, e->len);
			(*out)[e->len] = '\0';
			if (len)
				*len = e->len;
		}
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int cache_meta_get(struct cache_meta *m, const char *key, char **out,
		   size_t *len)
{
	return get(m, key, out, len, 0);
}

int cache_meta_get_stale(struct cache_meta *m, const char *key, char **out,
			 size_t *len)
{
	return get(m, key, out, len, 1);
}

/* Makes room for `need` more bytes: expired entries first, then oldest. */
static void make_room(struct cache_meta *m, size_t need, double now)
{
	struct mentry *e = m->oldest, *next;

	for (; e && m->bytes + need > m->max_bytes; e = next) {
		next = e->next;
		if (expiry(e) <= now)
			drop(m, e);
	}
	while (m->oldest && m->bytes + need > m->max_bytes)
		drop(m, m->oldest);
}

static void entry_free(struct mentry *e)
{
	if (!e)
		return;
	free(e->key);
	free(e->body);
	free(e->etag);
	free(e->grp);
	free(e);
}

/* The one insertion: a plain entry, a head (etag set) or a member of head's
 * group (head set). */
static int put(struct cache_meta *m, const char *key, const char *body,
	       size_t len, const char *etag, const char *head)
{
	size_t klen = strlen(key), tlen = etag ? strlen(etag) : 0;
	size_t need = len + klen + tlen;
	struct mentry *e, *old, *h;
	double now;

	if (m->ttl <= 0 || need > m->max_bytes)
		return 0;
	e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->key = malloc(klen + 1);
	e->body = malloc(len + 1);
	if (tlen) {
		e->etag = malloc(tlen + 1);
		e->grp = calloc(1, sizeof(*e->grp));
	}
	if (!e->key || !e->body || (tlen && (!e->etag || !e->grp))) {
		entry_free(e);
		return -ENOMEM;
	}
	memcpy(e->key, key, klen + 1);
	memcpy(e->body, body, len);
	e->body[len] = '\0';
	if (tlen)
		memcpy(e->etag, etag, tlen + 1);
	e->len = len;
	e->cost = need;
	pthread_mutex_lock(&m->lock);
	now = now_s();
	e->expires = now + m->ttl;
	if (e->grp) {
		e->head = 1;
		e->grp->headed = 1;
		e->grp->expires = e->expires;
	}
	old = find(m, key);
	if (old)
		drop(m, old);
	make_room(m, need, now);
	/* The head is looked up after make_room, which may drop it (then
	 * this becomes a plain entry, with its own expiry). */
	h = head ? find(m, head) : NULL;
	if (h && h->head && !e->grp) {
		e->grp = h->grp;
		e->grp->members++;
		e->grp->joined++;
	}
	size_t b = hash(key);
	e->hnext = m->bucket[b];
	m->bucket[b] = e;
	e->prev = m->newest;
	if (m->newest)
		m->newest->next = e;
	else
		m->oldest = e;
	m->newest = e;
	m->bytes += need;
	m->count++;
	pthread_mutex_unlock(&m->lock);
	return 0;
}

int cache_meta_put(struct cache_meta *m, const char *key, const char *body,
		   size_t len)
{
	return put(m, key, body, len, NULL, NULL);
}

int cache_meta_put_etag(struct cache_meta *m, const char *key,
			const char *body, size_t len, const char *etag)
{
	return put(m, key, body, len, etag && *etag ? etag : NULL, NULL);
}

int cache_meta_put_member(struct cache_meta *m, const char *key,
			  const char *body, size_t len, const char *head)
{
	return put(m, key, body, len, NULL, head);
}

int cache_meta_etag(struct cache_meta *m, const char *key, char *buf,
		    size_t len)
{
	struct mentry *e;
	int rc = -ENOENT;

	pthread_mutex_lock(&m->lock);
	e = find(m, key);
	if (e && e->etag) {
		size_t n = strlen(e->etag);
		rc = n < len ? 0 : -ENAMETOOLONG;
		if (!rc)
			memcpy(buf, e->etag, n + 1);
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int cache_meta_refresh(struct cache_meta *m, const char *key,
		       const char *etag)
{
	struct mentry *e;
	int rc = -ENOENT;

	pthread_mutex_lock(&m->lock);
	e = find(m, key);
	if (e && e->head && !strcmp(e->etag, etag)) {
		e->grp->expires = now_s() + m->ttl;
		rc = e->grp->members == e->grp->joined ? 0 : 1;
	}
	pthread_mutex_unlock(&m->lock);
	return rc;
}

void cache_meta_invalidate(struct cache_meta *m, const char *prefix)
{
	size_t plen = strlen(prefix);
	struct mentry *e, *next;

	pthread_mutex_lock(&m->lock);
	for (e = m->oldest; e; e = next) {
		next = e->next;
		if (!strncmp(e->key, prefix, plen))
			drop(m, e);
	}
	pthread_mutex_unlock(&m->lock);
}

size_t cache_meta_count(struct cache_meta *m)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->count;
	pthread_mutex_unlock(&m->lock);
	return n;
}
