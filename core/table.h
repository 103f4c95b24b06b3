/*
 * table.h — a dataset's sample table and the arrays in its order, for the
 * web app (docs/api.md "Samples in bulk"; core/table.c has the design).
 *
 * A table is immutable once built and shared by reference: every tbl_get
 * or tbl_layout_get is paired with a tbl_put of what it gave. The cache
 * that holds them is bounded in bytes and safe to use from any number of
 * threads. Functions return 0 or -errno (store errors as store/ gives
 * them, -ENOMEM); they block on SQLite.
 */
#ifndef SIEVEFS_CORE_TABLE_H
#define SIEVEFS_CORE_TABLE_H

#include <stddef.h>
#include <pthread.h>
#include <stdint.h>

#include "core/records.h"

/* What the cache holds: a table or a layout. Read-only for callers. */
struct tbl_obj {
	int kind;                  /* TBL_TABLE, or TBL_LAYOUT + method */
	const store *st;           /* the store it was read from */
	int64_t key;               /* table: dataset id; layout: embedding */
	uint64_t gen;              /* the table's counter (store/table.h) */
	size_t bytes;              /* memory held, for the bound */
	unsigned refs;             /* under the cache's lock */
	uint64_t used;             /* last use (a tick), for LRU */
	struct tbl_obj *next;      /* the cache's list, under its lock */
};
enum { TBL_TABLE = 1, TBL_LAYOUT = 2 };
/* A layout's kind is TBL_LAYOUT + its method (core/layout.h: PCA 0,
 * umap 1), so each method is cached apart. */

/* The live tree's committed files sorted bytewise by path. */
struct tbl {
	struct tbl_obj o;
	char gen_s[48];            /* the wire `gen`: "COUNTER-EPOCH" */
	size_t n;
	const char **path;         /* n, into pool */
	int64_t *size, *ino;       /* n each */
	uint8_t *kept;             /* n: 1 = bytes stay with the uploader */
	char *pool;
	char *json;                /* the GET .../table answer */
	size_t json_len;
	/* A hash index of the paths for unsorted lookups, built on first
	 * need (tbl_lookup): slot[h] = index + 1, 0 = empty. */
	pthread_mutex_t hlock;     /* protects the building of slot */
	uint32_t *slot;            /* nslot entries, NULL until built */
	size_t nslot;              /* a power of two, > 2n */
};

/* The 2-D layout of an embedding in a table's order. (Functions taking a
 * non-const table may build its path index: tbl_lookup.) */
struct tbl_layout {
	struct tbl_obj o;
	size_t n;                  /* the table's n */
	size_t rows;               /* samples that have a vector */
	float *xy;                 /* n*2: x0,y0,x1,y1…; NaN,NaN: no row */
};

struct tbl_cache;

/* A cache of at most about cap bytes (the newest entry stays even when
 * it alone is larger). epoch goes into every gen string (the catalog's
 * epoch, core_catalog_epoch: every server of the catalog names a table
 * alike, and another catalog's counters never match).
 * NULL when out of memory; free with tbl_cache_free (entries still held
 * are freed by their last tbl_put). */
struct tbl_cache *tbl_cache_new(size_t cap, uint64_t epoch);
void tbl_cache_free(struct tbl_cache *c);

/* The table of `dataset` as the catalog has it now: one indexed read when
 * the cache holds it at the current counter, else built (one query) and
 * cached. *out is a reference: tbl_put it. -ENOENT: no such dataset. */
int tbl_get(struct tbl_cache *c, store *st, int64_t dataset,
	    struct tbl **out);
/* The layout by method (CORE_LAYOUT_*: PCA, umap) of embedding emb (of
 * t's dataset; the caller checked) in t's order, cached per (emb, method,
 * t's gen); umap's coordinates are also cached by content (core/layout.c),
 * so a new gen that leaves the rows alone costs no new layout. A
 * reference: tbl_put it. */
int tbl_layout_get(struct tbl_cache *c, store *st, struct tbl *t,
		   int64_t emb, int method, struct tbl_layout **out);
/* Drops a reference from tbl_get / tbl_layout_get. NULL is a no-op. */
void tbl_put(struct tbl_cache *c, struct tbl_obj *o);

/* The index of path in t, or -1. O(log n). */
int64_t tbl_find(const struct tbl *t, const char *path);
/* The same through the hash index (built on the first call: O(n) once,
 * then O(1)); falls back to tbl_find when out of memory. */
int64_t tbl_lookup(struct tbl *t, const char *path);

/* Membership (out: t->n bytes, 1 = in): the committed files of tree
 * `tree` (any tag of t's dataset), matched by path. */
int tbl_members_tree(struct tbl *t, store *st, int64_t tree, uint8_t *out);
/* The same for the dataset's current selection. */
int tbl_members_selection(struct tbl *t, store *st, uint8_t *out);
/* Scores of ranked run `run` (catalog id): score (t->n floats, NaN when
 * not ranked) and rank (t->n int32, 0 = picked first, -1 = not ranked). */
int tbl_scores(struct tbl *t, store *st, int64_t run, float *score,
	       int32_t *rank);

/* Scales m points (xy, 2m floats) into [-1, 1] keeping the aspect ratio:
 * the bounding box's centre goes to 0 and its longer side to [-1, 1]. A
 * single point (or all equal) goes to 0,0. */
void tbl_scale_xy(float *xy, size_t m);
/* Appends s (len bytes) to buf as a JSON string with quotes, escaped as
 * cJSON prints it (", \, control bytes; other bytes as they are): the
 * bytes written. buf must have room for 6*len + 2 bytes. */
size_t tbl_json_str(char *buf, const char *s, size_t len);

#endif
