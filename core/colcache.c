/*
 * colcache.c — see colcache.h. Two small arrays searched linearly (at most
 * 64 and 32 entries: a lookup is far cheaper than the catalog read that
 * precedes it), each entry owning its copy; a hit hands out a fresh copy,
 * so nothing is shared with callers and no reference counts are needed.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/colcache.h"
#include "core/imgmeta.h"

#define NAMES_MAX 32

struct col_ent {
	int64_t ds;
	uint64_t stamp, used;
	char *gen, *spec;              /* NULL: free slot */
	struct sv_column c;
};

struct names_ent {
	int64_t ds;
	uint64_t stamp, used;
	char **names;                  /* NULL: free slot */
	size_t n;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct col_ent cols[COLCACHE_MAX];
static struct names_ent lists[NAMES_MAX];
static uint64_t tick;

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

int colcache_stamp(store *st, int64_t ds, uint64_t *stamp)
{
	struct store_input *v = NULL;
	size_t n = 0;
	uint64_t h = 1469598103934665603ull;
	int rc = store_input_list(st, ds, 0, &v, &n);

	if (rc)
		return rc;
	h = fnv(h, &n, sizeof(n));
	for (size_t i = 0; i < n; i++) {
		h = fnv(h, &v[i].id, sizeof(v[i].id));
		h = fnv(h, &v[i].kind, sizeof(v[i].kind));
		h = fnv(h, v[i].name, strlen(v[i].name) + 1);
		h = fnv(h, &v[i].bytes, sizeof(v[i].bytes));
		h = fnv(h, &v[i].created_ns, sizeof(v[i].created_ns));
	}
	free(v);
	*stamp = h;
	return 0;
}

static int copy_names(char **src, size_t n, char ***out)
{
	char **d = calloc(n ? n : 1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (!(d[i] = strdup(src[i]))) {
			core_column_list_free(d, i);
			return -ENOMEM;
		}
	*out = d;
	return 0;
}

static int copy_column(const struct sv_column *s, struct sv_column *d)
{
	memset(d, 0, sizeof(*d));
	d->n = s->n;
	d->categorical = s->categorical;
	if (s->v && !(d->v = malloc((s->n ? s->n : 1) * sizeof(double))))
		goto fail;
	if (s->v)
		memcpy(d->v, s->v, s->n * sizeof(double));
	if (s->cat && !(d->cat = malloc((s->n ? s->n : 1) * sizeof(int32_t))))
		goto fail;
	if (s->cat)
		memcpy(d->cat, s->cat, s->n * sizeof(int32_t));
	if (s->names) {
		if (copy_names(s->names, s->ncat, &d->names))
			goto fail;
		d->ncat = s->ncat;
	}
	return 0;
fail:
	sv_column_free(d);
	return -ENOMEM;
}

int colcache_names(store *st, int64_t ds, uint64_t stamp, char ***names,
		   size_t *n)
{
	char **got = NULL;
	size_t ng = 0, victim = 0;
	int rc;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < NAMES_MAX; i++) {
		struct names_ent *e = &lists[i];
		if (e->names && e->ds == ds && e->stamp == stamp) {
			e->used = ++tick;
			rc = copy_names(e->names, e->n, names);
			if (!rc)
				*n = e->n;
			pthread_mutex_unlock(&lock);
			return rc;
		}
	}
	pthread_mutex_unlock(&lock);
	if ((rc = core_column_list(st, ds, &got, &ng)))
		return rc;
	if ((rc = copy_names(got, ng, names))) {
		core_column_list_free(got, ng);
		return rc;
	}
	*n = ng;
	pthread_mutex_lock(&lock);
	for (size_t i = 1; i < NAMES_MAX; i++)
		if (!lists[i].names || (lists[victim].names &&
					lists[i].used < lists[victim].used))
			victim = i;
	core_column_list_free(lists[victim].names, lists[victim].n);
	lists[victim] = (struct names_ent){ ds, stamp, ++tick, got, ng };
	pthread_mutex_unlock(&lock);
	return 0;
}

/* Keeps a copy of c (complete: nothing pending) as spec of (ds, gen,
 * stamp), the least recently used entry out; not kept when out of memory. */
static void keep(int64_t ds, const char *gen, uint64_t stamp,
		 const char *spec, const struct sv_column *c)
{
	struct sv_column k;
	char *g, *s;
	size_t victim = 0;

	if (copy_column(c, &k))
		return;
	g = strdup(gen);
	s = strdup(spec);
	if (!g || !s) {
		free(g);
		free(s);
		sv_column_free(&k);
		return;
	}
	pthread_mutex_lock(&lock);
	for (size_t i = 1; i < COLCACHE_MAX; i++)
		if (!cols[i].spec || (cols[victim].spec &&
				      cols[i].used < cols[victim].used))
			victim = i;
	free(cols[victim].gen);
	free(cols[victim].spec);
	sv_column_free(&cols[victim].c);
	cols[victim] = (struct col_ent){ ds, stamp, ++tick, g, s, k };
	pthread_mutex_unlock(&lock);
}

/* A copy of the kept column spec into *out: 1, or 0 when not kept (or
 * -ENOMEM). */
static int find(int64_t ds, const char *gen, uint64_t stamp,
		const char *spec, size_t n, struct sv_column *out)
{
	int rc = 0;

	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < COLCACHE_MAX; i++) {
		struct col_ent *e = &cols[i];
		if (e->spec && e->ds == ds && e->stamp == stamp &&
		    e->c.n == n && !strcmp(e->gen, gen) &&
		    !strcmp(e->spec, spec)) {
			e->used = ++tick;
			rc = copy_column(&e->c, out) ? -ENOMEM : 1;
			break;
		}
	}
	pthread_mutex_unlock(&lock);
	return rc;
}

/* k of "builtin." core_imgmeta_cols[k], or -1. */
static int builtin_index(const char *spec)
{
	if (strncmp(spec, "builtin.", 8))
		return -1;
	for (int i = 0; i < CORE_IMGMETA_NCOLS; i++)
		if (!strcmp(spec + 8, core_imgmeta_cols[i]))
			return i;
	return -1;
}

/* Which builtin.* columns specs[0..k) name (bit k: core_imgmeta_cols[k]). */
static unsigned builtin_mask(const char *const *specs, size_t k)
{
	unsigned m = 0;

	for (size_t j = 0; j < k; j++) {
		int b = builtin_index(specs[j]);
		if (b >= 0)
			m |= 1u << b;
	}
	return m;
}

int colcache_columns(store *st, int64_t ds, const char *gen, uint64_t stamp,
		     const char *const *specs, size_t k,
		     const char *const *paths, size_t n,
		     struct sv_column *out, size_t *pending, char *why,
		     size_t whylen)
{
	struct sv_column bi[CORE_IMGMETA_NCOLS];
	size_t missing = 0, bmissing = 0;
	int loaded = 0, rc = 0;

	memset(out, 0, k * sizeof(*out));
	memset(bi, 0, sizeof(bi));
	if (pending)
		*pending = 0;
	for (size_t j = 0; !rc && j < k; j++) {
		const char *spec = specs[j];
		int b;

		b = builtin_index(spec);
		if ((rc = find(ds, gen, stamp, spec, n, &out[j])) != 0) {
			rc = rc < 0 ? rc : 0;
			continue;
		}
		if (b >= 0) {
			/* the builtin.* columns from here on in one pass */
			if (!loaded && !(rc = core_builtin_load(st, ds,
					builtin_mask(specs + j, k - j), paths,
					n, &bmissing, bi)))
				loaded = 1;
			if (!rc)
				rc = copy_column(&bi[b], &out[j]);
			/* file_size comes from the catalog: never pending */
			missing = b == EMB_IMGSTATS_N ? 0 : bmissing;
		} else {
			missing = 0;
			rc = core_column_load_paths_nowait(st, ds, spec, paths,
							   n, &missing, &out[j],
							   why, whylen);
		}
		if (rc)
			break;
		if (missing) {        /* answered, not kept: more come */
			if (pending && missing > *pending)
				*pending = missing;
		} else {
			keep(ds, gen, stamp, spec, &out[j]);
		}
	}
	for (int i = 0; i < CORE_IMGMETA_NCOLS; i++)
		sv_column_free(&bi[i]);
	if (rc)
		for (size_t j = 0; j < k; j++)
			sv_column_free(&out[j]);
	return rc;
}

int colcache_column(store *st, int64_t ds, const char *gen, uint64_t stamp,
		    const char *spec, const char *const *paths, size_t n,
		    struct sv_column *out, size_t *pending, char *why,
		    size_t whylen)
{
	return colcache_columns(st, ds, gen, stamp, &spec, 1, paths, n, out,
				pending, why, whylen);
}
