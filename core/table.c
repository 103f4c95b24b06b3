/*
 * table.c — a dataset's sample table and the arrays in its order (the web
 * app's bulk routes, api/routes_samples.c; docs/api.md "Samples in bulk").
 *
 * The table. Every committed file of a dataset's live tree is one sample;
 * sorted bytewise by path (SQLite's BINARY collation is memcmp, so the
 * catalog's ORDER BY path and strcmp agree) they get indices 0..n-1. It is
 * read in one query, in one snapshot with the live tree's change counter
 * (store/table.c), and kept whole in memory with its JSON answer built
 * once: the counter names exactly these rows, so "is the cached table
 * current?" costs one indexed read. The JSON is written by hand, in one
 * pass over the rows into one buffer sized beforehand: measured in CPU
 * time at 100,000 samples (kept files, so both subqueries run), the query
 * took 0.13-0.18 s, query and this writer 0.12-0.15 s, query and cJSON
 * (400,000 nodes, then printed) 0.25-0.33 s.
 *
 * Arrays in table order. Paths from elsewhere (a tag's files, the
 * selection, a run's ranking, an embedding's rows) are matched by path:
 * sorted inputs by a merge walk (galloping: O(1) a path when they
 * interleave), the others (the selection in importance order, a run's
 * ranking) through a hash index of the table's paths built on first need
 * and kept with the table. A path not in the table is not in the answer
 * (a frozen tag's file since removed).
 *
 * The layout: the embedding's rows that name a sample (a merge of its
 * path-ordered rows with the table), laid out in 2-D by the method asked
 * (core_layout_xy: PCA as plot.svg, or umap as plot-umap.svg), scaled
 * into [-1, 1] keeping the aspect ratio, scattered into table order
 * (NaN,NaN for a sample without a row). Cached per (embedding, method,
 * table counter): a new embedding of the same name is a new id, and any
 * change of the tree a new counter (umap's costly part is cached by the
 * rows' content too, core/layout.c).
 *
 * The cache. One list of tables and layouts, LRU by a tick, bounded by the
 * bytes they hold; entries are reference counted, so eviction only unlinks
 * and the last tbl_put frees. Two requests missing the same entry at once
 * both build it; the second to finish uses the first's (no lock is held
 * while building). Lock: c->lock protects the list, every entry's refs,
 * used and next, and c->bytes; nothing else is taken under it.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/layout.h"
#include "core/table.h"
#include "sampling/sampling.h"
#include "store/table.h"

struct tbl_cache {
	pthread_mutex_t lock;
	struct tbl_obj *head;      /* every cached entry */
	size_t cap, bytes;
	uint64_t tick;
	uint64_t epoch;
	int dead;                  /* tbl_cache_free ran: puts free */
};

/* ---- the cache ---- */

static void obj_free(struct tbl_obj *o)
{
	if (!o)
		return;
	if (o->kind == TBL_TABLE) {
		struct tbl *t = (struct tbl *)o;
		free(t->path);
		free(t->size);
		free(t->ino);
		free(t->kept);
		free(t->pool);
		free(t->json);
		free(t->slot);
		pthread_mutex_destroy(&t->hlock);
	} else {
		free(((struct tbl_layout *)o)->xy);
	}
	free(o);
}

struct tbl_cache *tbl_cache_new(size_t cap, uint64_t epoch)
{
	struct tbl_cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	c->cap = cap;
	c->epoch = epoch;
	return c;
}

void tbl_cache_free(struct tbl_cache *c)
{
	struct tbl_obj *o, *next;

	if (!c)
		return;
	pthread_mutex_lock(&c->lock);
	for (o = c->head; o; o = next) {
		next = o->next;
		o->next = NULL;
		if (!o->refs)
			obj_free(o);
	}
	c->head = NULL;
	pthread_mutex_unlock(&c->lock);
	/* entries still held leak rather than race: callers put first */
	pthread_mutex_destroy(&c->lock);
	free(c);
}

/* The entry (kind, st, key, gen) with a reference, or NULL. Under lock. */
static struct tbl_obj *lookup(struct tbl_cache *c, int kind, const store *st,
			      int64_t key, uint64_t gen)
{
	for (struct tbl_obj *o = c->head; o; o = o->next)
		if (o->kind == kind && o->st == st && o->key == key &&
		    o->gen == gen) {
			o->refs++;
			o->used = ++c->tick;
			return o;
		}
	return NULL;
}

/* Unlinks least recently used entries until the bytes fit (keeping
 * `keep`). Under lock. */
static void evict(struct tbl_cache *c, const struct tbl_obj *keep)
{
	while (c->bytes > c->cap) {
		struct tbl_obj **pp, **victim = NULL;
		for (pp = &c->head; *pp; pp = &(*pp)->next)
			if (*pp != keep &&
			    (!victim || (*pp)->used < (*victim)->used))
				victim = pp;
		if (!victim)
			return;
		struct tbl_obj *o = *victim;
		*victim = o->next;
		o->next = NULL;
		c->bytes -= o->bytes;
		if (!o->refs)
			obj_free(o);
		else
			o->kind = -o->kind;     /* unlinked: freed by the last put */
	}
}

/* Publishes a built entry (taken over) and returns the cached one with a
 * reference: o itself, or an equal entry another thread published first
 * (then o is freed). */
static struct tbl_obj *publish(struct tbl_cache *c, struct tbl_obj *o)
{
	struct tbl_obj *had;

	pthread_mutex_lock(&c->lock);
	had = lookup(c, o->kind, o->st, o->key, o->gen);
	if (had) {
		pthread_mutex_unlock(&c->lock);
		obj_free(o);
		return had;
	}
	/* the same key at an older counter is stale for good (a dataset's
	 * counter only grows; an embedding belongs to one dataset) */
	for (struct tbl_obj **pp = &c->head; *pp;) {
		struct tbl_obj *x = *pp;
		if (x->kind == o->kind && x->st == o->st && x->key == o->key &&
		    x->gen < o->gen) {
			*pp = x->next;
			x->next = NULL;
			c->bytes -= x->bytes;
			if (!x->refs)
				obj_free(x);
			else
				x->kind = -x->kind;
			continue;
		}
		pp = &x->next;
	}
	o->refs = 1;
	o->used = ++c->tick;
	o->next = c->head;
	c->head = o;
	c->bytes += o->bytes;
	evict(c, o);
	pthread_mutex_unlock(&c->lock);
	return o;
}

void tbl_put(struct tbl_cache *c, struct tbl_obj *o)
{
	int gone;

	if (!o)
		return;
	pthread_mutex_lock(&c->lock);
	gone = --o->refs == 0 && o->kind < 0;
	pthread_mutex_unlock(&c->lock);
	if (gone) {
		o->kind = -o->kind;
		obj_free(o);
	}
}

/* ---- JSON ---- */

size_t tbl_json_str(char *buf, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	char *p = buf;

	*p++ = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		const char *esc = NULL;
		switch (ch) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		default: break;
		}
		if (esc) {
			*p++ = esc[0];
			*p++ = esc[1];
		} else if (ch < 0x20) {
			memcpy(p, "\\u00", 4);
			p[4] = hex[ch >> 4];
			p[5] = hex[ch & 15];
			p += 6;
		} else {
			*p++ = (char)ch;
		}
	}
	*p++ = '"';
	return (size_t)(p - buf);
}

/* Decimal of v into p: the bytes written (at most 20). */
static size_t put_i64(char *p, int64_t v)
{
	char tmp[24];
	size_t n = 0, k = 0;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		p[k++] = '-';
	while (n)
		p[k++] = tmp[--n];
	return k;
}

/* t->json: {"gen":…,"count":N,"path":[…],"size":[…],"ino":[…],
 * "kept":[…]}. The size is bounded before writing, so one malloc. */
static int build_json(struct tbl *t, size_t pool_len)
{
	size_t cap = 128 + sizeof(t->gen_s) + 6 * pool_len + 3 * t->n +
		     2 * 22 * t->n + 2 * t->n;
	char *p, *b = malloc(cap);

	if (!b)
		return -ENOMEM;
	p = b;
	p += (size_t)snprintf(p, 128 + sizeof(t->gen_s),
			      "{\"gen\":\"%s\",\"count\":%zu,\"path\":[",
			      t->gen_s, t->n);
	for (size_t i = 0; i < t->n; i++) {
		if (i)
			*p++ = ',';
		p += tbl_json_str(p, t->path[i], strlen(t->path[i]));
	}
	memcpy(p, "],\"size\":[", 10);
	p += 10;
	for (size_t i = 0; i < t->n; i++) {
		if (i)
			*p++ = ',';
		p += put_i64(p, t->size[i]);
	}
	memcpy(p, "],\"ino\":[", 9);
	p += 9;
	for (size_t i = 0; i < t->n; i++) {
		if (i)
			*p++ = ',';
		p += put_i64(p, t->ino[i]);
	}
	memcpy(p, "],\"kept\":[", 10);
	p += 10;
	for (size_t i = 0; i < t->n; i++) {
		if (i)
			*p++ = ',';
		*p++ = t->kept[i] ? '1' : '0';
	}
	memcpy(p, "]}", 2);
	p += 2;
	t->json = b;
	t->json_len = (size_t)(p - b);
	return 0;
}

/* ---- building a table ---- */

struct builder {
	struct tbl *t;
	size_t cap, pool_len, pool_cap;
	size_t *offs;              /* into pool while it grows */
};

static int grow(void **v, size_t n, size_t elem)
{
	void *nv = realloc(*v, n * elem);

	if (!nv)
		return -ENOMEM;
	*v = nv;
	return 0;
}

static int add_row(void *arg, const struct store_trow *row)
{
	struct builder *b = arg;
	struct tbl *t = b->t;

	if (t->n == b->cap) {
		size_t ncap = b->cap ? b->cap * 2 : 1024;
		if (grow((void **)&b->offs, ncap, sizeof(*b->offs)) ||
		    grow((void **)&t->size, ncap, sizeof(*t->size)) ||
		    grow((void **)&t->ino, ncap, sizeof(*t->ino)) ||
		    grow((void **)&t->kept, ncap, sizeof(*t->kept)))
			return -ENOMEM;
		b->cap = ncap;
	}
	if (b->pool_len + row->path_len + 1 > b->pool_cap) {
		size_t ncap = b->pool_cap ? b->pool_cap * 2 : 65536;
		while (ncap < b->pool_len + row->path_len + 1)
			ncap *= 2;
		if (grow((void **)&t->pool, ncap, 1))
			return -ENOMEM;
		b->pool_cap = ncap;
	}
	memcpy(t->pool + b->pool_len, row->path, row->path_len);
	t->pool[b->pool_len + row->path_len] = '\0';
	b->offs[t->n] = b->pool_len;
	b->pool_len += row->path_len + 1;
	t->size[t->n] = row->size;
	t->ino[t->n] = row->ino;
	t->kept[t->n] = (uint8_t)(row->kept != 0);
	t->n++;
	return 0;
}

static int build(struct tbl_cache *c, store *st, int64_t dataset,
		 struct tbl **out)
{
	struct builder b = { 0 };
	struct tbl *t = calloc(1, sizeof(*t));
	uint64_t gen;
	int rc;

	*out = NULL;
	if (!t)
		return -ENOMEM;
	pthread_mutex_init(&t->hlock, NULL);
	b.t = t;
	rc = store_table_each(st, dataset, &gen, add_row, &b);
	if (!rc && !(t->path = malloc((t->n ? t->n : 1) * sizeof(*t->path))))
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < t->n; i++)
		t->path[i] = t->pool + b.offs[i];
	free(b.offs);
	if (rc) {
		obj_free(&t->o);
		return rc;
	}
	t->o.kind = TBL_TABLE;
	t->o.st = st;
	t->o.key = dataset;
	t->o.gen = gen;
	snprintf(t->gen_s, sizeof(t->gen_s), "%" PRIu64 "-%016" PRIx64, gen,
		 c->epoch);
	if ((rc = build_json(t, b.pool_len))) {
		obj_free(&t->o);
		return rc;
	}
	t->o.bytes = sizeof(*t) + b.pool_cap + b.cap * (sizeof(*t->size) +
		     sizeof(*t->ino) + sizeof(*t->kept)) +
		     t->n * sizeof(*t->path) + t->json_len +
		     4 * t->n * sizeof(*t->slot);   /* the index, if built */
	*out = t;
	return 0;
}

int tbl_get(struct tbl_cache *c, store *st, int64_t dataset,
	    struct tbl **out)
{
	struct store_dataset d;
	struct tbl_obj *o;
	struct tbl *t;
	uint64_t gen;
	int rc;

	*out = NULL;
	if ((rc = store_dataset_get_id(st, dataset, &d)))
		return rc;
	if ((rc = store_table_gen(st, dataset, &gen)))
		return rc;
	pthread_mutex_lock(&c->lock);
	o = lookup(c, TBL_TABLE, st, dataset, gen);
	pthread_mutex_unlock(&c->lock);
	if (o) {
		*out = (struct tbl *)o;
		return 0;
	}
	if ((rc = build(c, st, dataset, &t)))
		return rc;
	*out = (struct tbl *)publish(c, &t->o);
	return 0;
}

/* ---- arrays in table order ---- */

int64_t tbl_find(const struct tbl *t, const char *path)
{
	size_t lo = 0, hi = t->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(t->path[mid], path);
		if (!cmp)
			return (int64_t)mid;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* FNV-1a, 64 bits. */
static uint64_t path_hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Builds t->slot once (linear probing, load <= 1/2). 0 or -ENOMEM. */
static int index_ready(struct tbl *t)
{
	size_t ns = 16;
	uint32_t *slot;

	pthread_mutex_lock(&t->hlock);
	if (t->slot || t->n >= UINT32_MAX / 4) {
		pthread_mutex_unlock(&t->hlock);
		return t->slot ? 0 : -ENOMEM;
	}
	while (ns < 2 * t->n + 1)
		ns <<= 1;
	slot = calloc(ns, sizeof(*slot));
	for (size_t i = 0; slot && i < t->n; i++) {
		size_t h = (size_t)path_hash(t->path[i]) & (ns - 1);
		while (slot[h])
			h = (h + 1) & (ns - 1);
		slot[h] = (uint32_t)i + 1;
	}
	t->nslot = ns;
	t->slot = slot;
	pthread_mutex_unlock(&t->hlock);
	return slot ? 0 : -ENOMEM;
}

/* A probe of the built index. */
static int64_t index_find(const struct tbl *t, const char *path)
{
	size_t h = (size_t)path_hash(path) & (t->nslot - 1);

	for (; t->slot[h]; h = (h + 1) & (t->nslot - 1))
		if (!strcmp(t->path[t->slot[h] - 1], path))
			return (int64_t)t->slot[h] - 1;
	return -1;
}

int64_t tbl_lookup(struct tbl *t, const char *path)
{
	return index_ready(t) ? tbl_find(t, path) : index_find(t, path);
}

/* A merge walk over paths that come sorted, falling back to binary
 * search once one does not (so a caller's order is a speed-up, never a
 * condition of being right). Invariant while sorted: every table path
 * before i is less than the next input. */
struct walk {
	struct tbl *t;
	size_t i;
	int sorted;
	int indexed;               /* t's index is built (out of order) */
};

static int64_t walk_find(struct walk *w, const char *path)
{
	struct tbl *t = w->t;
	size_t base = w->i, bound = 1, lo, hi;

	if (w->sorted && base > 0 && strcmp(t->path[base - 1], path) >= 0) {
		w->sorted = 0;          /* went back (or repeated) */
		w->indexed = !index_ready(t);
	}
	if (!w->sorted)
		return w->indexed ? index_find(t, path) : tbl_find(t, path);
	/* gallop to the first table path >= path: O(log distance) */
	while (base + bound <= t->n &&
	       strcmp(t->path[base + bound - 1], path) < 0)
		bound *= 2;
	lo = base + bound / 2;
	hi = base + bound < t->n ? base + bound : t->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(t->path[mid], path) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < t->n && !strcmp(t->path[lo], path)) {
		w->i = lo + 1;
		return (int64_t)lo;
	}
	w->i = lo;
	return -1;
}

struct mark {
	struct walk w;
	uint8_t *out;
};

static int mark_path(void *arg, const char *path)
{
	struct mark *m = arg;
	int64_t i = path ? walk_find(&m->w, path) : -1;

	if (i >= 0)
		m->out[i] = 1;
	return 0;
}

static int mark_file(void *arg, const char *path, const unsigned char *sha,
		     int64_t size)
{
	(void)sha;
	(void)size;
	return mark_path(arg, path);
}

int tbl_members_tree(struct tbl *t, store *st, int64_t tree, uint8_t *out)
{
	struct mark m = { { t, 0, 1, 0 }, out };

	memset(out, 0, t->n);
	return store_tree_files_each(st, tree, mark_file, &m);
}

struct nodes {
	int64_t *v;
	size_t n, cap;
};

static int add_node(void *arg, int64_t node)
{
	struct nodes *a = arg;

	if (a->n == a->cap) {
		size_t cap = a->cap ? 2 * a->cap : 4096;
		int64_t *v = realloc(a->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		a->v = v;
		a->cap = cap;
	}
	a->v[a->n++] = node;
	return 0;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* out[i] = 1 when t->ino[i] is one of the n sorted nodes. */
static void mark_nodes(const struct tbl *t, const int64_t *v, size_t n,
		       uint8_t *out)
{
	for (size_t i = 0; i < t->n; i++) {
		size_t lo = 0, hi = n;

		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;

			if (v[mid] < t->ino[i])
				lo = mid + 1;
			else
				hi = mid;
		}
		out[i] = lo < n && v[lo] == t->ino[i];
	}
}

int tbl_members_selection(struct tbl *t, store *st, uint8_t *out)
{
	/* importance order (an explicit selection: the walk turns to the
	 * index at the first step back) or path order (the default) */
	struct mark m = { { t, 0, 1, 0 }, out };
	struct store_dataset d;
	int rc = store_dataset_get_id(st, t->o.key, &d);

	if (rc)
		return rc;
	/* The selection taken from the live tree itself (what a sampling run
	 * or a lasso makes): its entries are the table's own nodes, matched
	 * by ino — one pass over the selection's key, no node read, no path
	 * compared (at 1,000,000 samples 0.3 s instead of 3.4 s by path). By
	 * default (not explicit) it is all of that tree: every sample. */
	if (d.sel_tree == d.live_tree && !d.sel_explicit) {
		memset(out, 1, t->n);
		return 0;
	}
	if (d.sel_tree == d.live_tree) {
		struct nodes a = { NULL, 0, 0 };

		rc = store_selection_nodes_each(st, t->o.key, add_node, &a);
		if (!rc) {
			qsort(a.v, a.n, sizeof(*a.v), cmp_i64);
			mark_nodes(t, a.v, a.n, out);
		}
		free(a.v);
		return rc;
	}
	memset(out, 0, t->n);
	return store_selection_each(st, t->o.key, mark_path, &m);
}

struct rankw {
	struct tbl *t;
	float *score;
	int32_t *rank;
	int32_t next;
};

static int rank_one(void *arg, const char *path, double score)
{
	struct rankw *r = arg;
	int64_t i = path ? (r->t->slot ? index_find(r->t, path) :
			    tbl_find(r->t, path)) : -1;

	if (i >= 0 && r->rank[i] < 0) {
		r->score[i] = (float)score;
		r->rank[i] = r->next;
	}
	r->next++;
	return 0;
}

int tbl_scores(struct tbl *t, store *st, int64_t run, float *score,
	       int32_t *rank)
{
	struct rankw r = { t, score, rank, 0 };

	index_ready(t);                 /* rank order: by hash (or search) */
	for (size_t i = 0; i < t->n; i++) {
		score[i] = NAN;
		rank[i] = -1;
	}
	return store_run_scores_each(st, run, -1, rank_one, &r);
}

/* ---- the layout ---- */

void tbl_scale_xy(float *xy, size_t m)
{
	float lo[2] = { INFINITY, INFINITY }, hi[2] = { -INFINITY, -INFINITY };
	double mid[2], half;

	if (!m)
		return;
	for (size_t i = 0; i < m; i++)
		for (int a = 0; a < 2; a++) {
			if (xy[2 * i + a] < lo[a])
				lo[a] = xy[2 * i + a];
			if (xy[2 * i + a] > hi[a])
				hi[a] = xy[2 * i + a];
		}
	for (int a = 0; a < 2; a++)
		mid[a] = ((double)lo[a] + hi[a]) / 2;
	half = ((double)hi[0] - lo[0] > (double)hi[1] - lo[1] ?
		(double)hi[0] - lo[0] : (double)hi[1] - lo[1]) / 2;
	for (size_t i = 0; i < m; i++)
		for (int a = 0; a < 2; a++) {
			double v = half > 0 ? (xy[2 * i + a] - mid[a]) / half : 0;
			/* float rounding must not step past the bounds */
			xy[2 * i + a] = (float)(v > 1 ? 1 : v < -1 ? -1 : v);
		}
}

struct gather {
	struct walk w;
	size_t dim, m, cap;
	float *x;                  /* m*dim */
	uint32_t *at;              /* m: table index of row j */
};

static int gather_row(void *arg, const char *path, const float *vec,
		      int64_t label)
{
	struct gather *g = arg;
	int64_t i = path ? walk_find(&g->w, path) : -1;

	(void)label;
	if (i < 0)
		return 0;
	if (g->m == g->cap) {
		size_t ncap = g->cap ? g->cap * 2 : 4096;
		if (grow((void **)&g->x, ncap * g->dim, sizeof(*g->x)) ||
		    grow((void **)&g->at, ncap, sizeof(*g->at)))
			return -ENOMEM;
		g->cap = ncap;
	}
	memcpy(g->x + g->m * g->dim, vec, g->dim * sizeof(float));
	g->at[g->m++] = (uint32_t)i;
	return 0;
}

static int layout_build(store *st, struct tbl *t, int64_t emb, int method,
			struct tbl_layout **out)
{
	struct store_embedding e;
	struct gather g = { { t, 0, 1, 0 }, 0, 0, 0, NULL, NULL };
	struct tbl_layout *l = calloc(1, sizeof(*l));
	float *xy = NULL;
	int rc;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	rc = store_embedding_get_id(st, emb, &e);
	g.dim = (size_t)e.dim;
	if (!rc && (t->n > UINT32_MAX || !g.dim))
		rc = -EINVAL;
	if (!rc)
		rc = store_embedding_each(st, emb, gather_row, &g);
	l->n = t->n;
	l->rows = g.m;
	if (!rc && !(l->xy = malloc((t->n ? t->n : 1) * 2 * sizeof(float))))
		rc = -ENOMEM;
	if (!rc && g.m && !(xy = malloc(g.m * 2 * sizeof(float))))
		rc = -ENOMEM;
	if (!rc && g.m)
		rc = core_layout_xy(method, g.x, g.m, g.dim, xy);
	if (!rc) {
		tbl_scale_xy(xy, g.m);
		for (size_t i = 0; i < 2 * t->n; i++)
			l->xy[i] = NAN;
		for (size_t j = 0; j < g.m; j++) {
			l->xy[2 * (size_t)g.at[j]] = xy[2 * j];
			l->xy[2 * (size_t)g.at[j] + 1] = xy[2 * j + 1];
		}
	}
	free(xy);
	free(g.x);
	free(g.at);
	if (rc) {
		obj_free(&l->o);
		return rc;
	}
	l->o.kind = TBL_LAYOUT + method;
	l->o.st = st;
	l->o.key = emb;
	l->o.gen = t->o.gen;
	l->o.bytes = sizeof(*l) + t->n * 2 * sizeof(float);
	*out = l;
	return 0;
}

int tbl_layout_get(struct tbl_cache *c, store *st, struct tbl *t,
		   int64_t emb, int method, struct tbl_layout **out)
{
	struct tbl_layout *l;
	struct tbl_obj *o;
	int rc;

	*out = NULL;
	if (method < 0 || method >= CORE_LAYOUT_N)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	o = lookup(c, TBL_LAYOUT + method, st, emb, t->o.gen);
	pthread_mutex_unlock(&c->lock);
	if (o) {
		*out = (struct tbl_layout *)o;
		return 0;
	}
	if ((rc = layout_build(st, t, emb, method, &l)))
		return rc;
	*out = (struct tbl_layout *)publish(c, &l->o);
	return 0;
}
