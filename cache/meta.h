/*
 * meta.h — a small in-memory cache of metadata responses (JSON bodies of GET
 * requests), keyed by request path, each valid for a fixed TTL.
 *
 * Remote mode reads the same few resources over and over (a dataset, a
 * directory's children, a node's attributes); this keeps the server from
 * seeing every lookup while bounding staleness by the TTL. After a change of
 * our own the client drops every key under the changed resource's prefix, so
 * this mount sees its own writes at once; other mounts' changes show within
 * the TTL.
 *
 * Bounded: at most `max_bytes` of cached bodies; inserting past that drops
 * expired entries, then the oldest ones. Expired entries are kept until then
 * (cache_meta_get_stale serves them when the server is unreachable).
 *
 * Revalidation. An entry may hold its source's validator (an HTTP ETag,
 * cache_meta_put_etag). Such an entry heads a group: entries derived from
 * it (the records a folder listing primes) are put as its members
 * (cache_meta_put_member) and have no expiry of their own — they are
 * fresh exactly while the head is. When the head expires the caller asks
 * the source with the validator; on "unchanged" cache_meta_refresh()
 * extends the head and so, at once, every member: O(1), no body re-read.
 * A member dropped on its own (evicted, invalidated, replaced) leaves the
 * group; refresh reports that, so the caller can re-derive the members
 * from the head's body. When the head itself goes, its members keep the
 * expiry they had and simply age out.
 * Threads: every function may be called from any thread (one mutex).
 */
#ifndef SIEVEFS_CACHE_META_H
#define SIEVEFS_CACHE_META_H

#include <stddef.h>

struct cache_meta;

/* ttl in seconds (0 disables caching). Returns NULL on out-of-memory; free
 * with cache_meta_free(). */
struct cache_meta *cache_meta_new(double ttl, size_t max_bytes);
/* NULL is a no-op. */
void cache_meta_free(struct cache_meta *m);

/* A fresh cached body for `key`: 0 with a malloc'd copy in *out (caller
 * frees; NUL-terminated, *len without it), -ENOENT when absent or expired,
 * -ENOMEM. */
int cache_meta_get(struct cache_meta *m, const char *key, char **out,
		   size_t *len);
/* The same, expired or not: for when the source cannot be reached. */
int cache_meta_get_stale(struct cache_meta *m, const char *key, char **out,
			 size_t *len);
/* Stores a copy of body under key (replacing). Returns 0 or -ENOMEM; a body
 * larger than the whole cache is not stored (0). */
int cache_meta_put(struct cache_meta *m, const char *key, const char *body,
		   size_t len);
/* cache_meta_put, plus the source's validator `etag` (NULL or "": none,
 * a plain put). The entry heads a group (see the top). 0 or -ENOMEM. */
int cache_meta_put_etag(struct cache_meta *m, const char *key,
			const char *body, size_t len, const char *etag);
/* cache_meta_put of an entry derived from `head`: a member of head's group,
 * fresh while head is and refreshed with it. With head absent or holding
 * no validator, a plain put. 0 or -ENOMEM. */
int cache_meta_put_member(struct cache_meta *m, const char *key,
			  const char *body, size_t len, const char *head);
/* The validator stored with key (expired or not) into buf: 0, -ENOENT (no
 * entry, or none stored), -ENAMETOOLONG (buf too small). */
int cache_meta_etag(struct cache_meta *m, const char *key, char *buf,
		    size_t len);
/* The source says key is unchanged since `etag`: key and every member of
 * its group are fresh for another TTL. Returns 0, or 1 when some members
 * put into the group have been dropped since (the caller may put them
 * again), or -ENOENT when key is absent or holds another validator (then
 * nothing changes). */
int cache_meta_refresh(struct cache_meta *m, const char *key,
		       const char *etag);
/* Drops every key that starts with `prefix` ("" drops everything). */
void cache_meta_invalidate(struct cache_meta *m, const char *prefix);
/* Number of entries held (expired ones included). */
size_t cache_meta_count(struct cache_meta *m);

#endif
