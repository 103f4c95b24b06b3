/*
 * nodecache.c — see nodecache.h. Slots hold compact copies of be_node
 * without the name (a be_node is ~350 bytes, its name 256 of them); a slot
 * is valid when its generation equals the cache's: nodecache_clear only
 * bumps the generation, so clearing is O(1) and takes no slot lock.
 * A put racing with a clear may leave one record of a just-deleted tag: its
 * open then fails at the blob (ENOENT), as a kernel-cached dentry of that
 * tag would.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "fs/nodecache.h"

#define NC_STRIPES 64

struct nc_rec {
	int64_t ino;                 /* 0: empty */
	uint64_t gen;
	int64_t tree, parent, dataset;
	int kind;
	uint32_t mode, uid, gid;
	int64_t size, mtime_ns, ctime_ns, atime_ns, subdirs;
	int has_sha;
	unsigned char sha[STORE_SHA_LEN];
};

struct nodecache {
	size_t mask;                 /* slots - 1 */
	_Atomic uint64_t gen;
	pthread_mutex_t locks[NC_STRIPES];
	struct nc_rec *slot;
};

struct nodecache *nodecache_new(size_t slots)
{
	struct nodecache *nc = calloc(1, sizeof(*nc));
	size_t n = 1;

	if (!nc)
		return NULL;
	while (n < slots)
		n <<= 1;
	/* calloc'd pages are mapped when first touched: a small tag costs
	 * little memory */
	nc->slot = calloc(n, sizeof(*nc->slot));
	if (!nc->slot) {
		free(nc);
		return NULL;
	}
	nc->mask = n - 1;
	atomic_init(&nc->gen, 1);
	for (size_t i = 0; i < NC_STRIPES; i++)
		pthread_mutex_init(&nc->locks[i], NULL);
	return nc;
}

void nodecache_free(struct nodecache *nc)
{
	if (!nc)
		return;
	for (size_t i = 0; i < NC_STRIPES; i++)
		pthread_mutex_destroy(&nc->locks[i]);
	free(nc->slot);
	free(nc);
}

static size_t slot_of(const struct nodecache *nc, int64_t ino)
{
	uint64_t h = (uint64_t)ino * 0x9E3779B97F4A7C15ull;

	return (size_t)(h >> 32) & nc->mask;
}

void nodecache_put(struct nodecache *nc, const be_node *n)
{
	struct nc_rec *r;
	size_t i;

	if (!nc || n->tree_live || n->ino <= 0)
		return;
	i = slot_of(nc, n->ino);
	r = &nc->slot[i];
	pthread_mutex_lock(&nc->locks[i % NC_STRIPES]);
	r->ino = n->ino;
	r->gen = atomic_load(&nc->gen);
	r->tree = n->tree;
	r->parent = n->parent;
	r->dataset = n->dataset;
	r->kind = n->kind;
	r->mode = n->mode;
	r->uid = n->uid;
	r->gid = n->gid;
	r->size = n->size;
	r->mtime_ns = n->mtime_ns;
	r->ctime_ns = n->ctime_ns;
	r->atime_ns = n->atime_ns;
	r->subdirs = n->subdirs;
	r->has_sha = n->has_sha;
	memcpy(r->sha, n->sha, sizeof(r->sha));
	pthread_mutex_unlock(&nc->locks[i % NC_STRIPES]);
}

int nodecache_get(struct nodecache *nc, int64_t ino, be_node *out)
{
	const struct nc_rec *r;
	int rc = -ENOENT;
	size_t i;

	if (!nc || ino <= 0)
		return -ENOENT;
	i = slot_of(nc, ino);
	r = &nc->slot[i];
	pthread_mutex_lock(&nc->locks[i % NC_STRIPES]);
	if (r->ino == ino && r->gen == atomic_load(&nc->gen)) {
		out->ino = r->ino;
		out->tree = r->tree;
		out->parent = r->parent;
		out->dataset = r->dataset;
		out->tree_live = 0;
		out->kind = r->kind;
		out->mode = r->mode;
		out->uid = r->uid;
		out->gid = r->gid;
		out->size = r->size;
		out->mtime_ns = r->mtime_ns;
		out->ctime_ns = r->ctime_ns;
		out->atime_ns = r->atime_ns;
		out->subdirs = r->subdirs;
		out->has_sha = r->has_sha;
		memcpy(out->sha, r->sha, sizeof(out->sha));
		out->name[0] = '\0';
		rc = 0;
	}
	pthread_mutex_unlock(&nc->locks[i % NC_STRIPES]);
	return rc;
}

void nodecache_clear(struct nodecache *nc)
{
	if (nc)
		atomic_fetch_add(&nc->gen, 1);
}
