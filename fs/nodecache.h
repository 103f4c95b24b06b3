/*
 * nodecache.h — an in-memory cache of the node records of frozen trees, so
 * that opening and stat'ing a file of a frozen tag touches no SQLite.
 *
 * A frozen tag never changes, so a record once read stays true until its tag
 * (or dataset) is deleted; the deleting op clears the whole cache
 * (nodecache_clear). Live (initial-tag) records are never cached. The cache
 * is bounded: a direct-mapped table of a fixed number of slots (a newer
 * record evicts the older one in its slot), with a lock per stripe of slots
 * so that parallel readers do not serialise on one lock. Names are not kept
 * (opens and attributes need none): a record read back has name "".
 *
 * Thread safety: every function may be called from any thread.
 */
#ifndef SIEVEFS_FS_NODECACHE_H
#define SIEVEFS_FS_NODECACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"

struct nodecache;

/* A cache of `slots` records (rounded up to a power of two); NULL on
 * ENOMEM. Freed with nodecache_free (NULL is accepted). */
struct nodecache *nodecache_new(size_t slots);
void nodecache_free(struct nodecache *nc);

/* Keeps a copy of n if it is a node of a frozen tree (else nothing). nc may
 * be NULL (no cache). */
void nodecache_put(struct nodecache *nc, const be_node *n);

/* The record of node ino into *out: 0, or -ENOENT if not cached (or nc is
 * NULL). */
int nodecache_get(struct nodecache *nc, int64_t ino, be_node *out);

/* Forgets every record (a tag or dataset was deleted). */
void nodecache_clear(struct nodecache *nc);

#endif
