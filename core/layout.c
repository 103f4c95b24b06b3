/*
 * layout.c — which 2-D layout plot.svg and /layout draw, and the cache of
 * the slow one.
 *
 * Methods: "pca" (sampling/ smp_pca2: milliseconds, what both doors drew
 * before and still draw by default) and "umap" (smp_layout2 with seed
 * CORE_LAYOUT_SEED: seconds — about 6 s for 20k × 48, 28 s for 100k on a
 * loaded 2-core machine — and far better at keeping neighbours: 0.17 of
 * each point's 10 nearest kept on 20k Fashion-MNIST built-in embeddings
 * against PCA's 0.023, bench/layout).
 *
 * The cache: the umap layout is a function of the rows' bytes (and the
 * fixed seed), so it is keyed by a 64-bit FNV-1a of n, d and the rows,
 * checked again by n and d on a hit. It serves both doors and survives
 * what does not change the rows: a new tag, a new selection, a table
 * counter that moved because of a file with no vector, plot.svg read
 * again. CACHE_SLOTS entries, least recently used out; each holds n*2
 * floats (1.6 MB at 200k rows). A hash collision would show another
 * layout of the same n and d: at 2^-64 per pair, accepted. Hashing reads
 * the rows once (~2 ms for 20k × 48): nothing next to the layout.
 *
 * Without waiting (core_layout_xy_nowait, for plot-umap.svg): a file a
 * plain `ls -l` stats must not take seconds, so a miss starts a detached
 * thread that computes the layout into the cache from its own copy of
 * the rows (one per content at a time: `running`, at most RUN_MAX at
 * once) and answers -EINPROGRESS; the caller draws a note instead, and a
 * read after the thread ends finds the layout cached. A computation that
 * failed on its rows (-EINVAL: a value not finite) is remembered by its
 * key (`failed`), so that error is answered rather than started again;
 * another failure (-ENOMEM) is tried again at the next read.
 *
 * Threads: cache_lock protects the slots and the running/failed lists; no
 * layout is computed under it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/layout.h"
#include "sampling/sampling.h"

#define CACHE_SLOTS 4

static const char *const names[CORE_LAYOUT_N] = { "pca", "umap" };

struct slot {
	uint64_t key, used;
	size_t n, d;
	float *xy;              /* n*2, NULL: empty */
};

#define RUN_MAX 2

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot cache[CACHE_SLOTS];   /* under cache_lock */
static uint64_t tick;                    /* under cache_lock */
static uint64_t running[RUN_MAX];        /* keys being computed; 0 free */
static struct { uint64_t key; int rc; } failed[CACHE_SLOTS];
static unsigned nfailed;                 /* ring index into failed */

int core_layout_parse(const char *s)
{
	for (int m = 0; s && m < CORE_LAYOUT_N; m++)
		if (!strcmp(s, names[m]))
			return m;
	return -EINVAL;
}

const char *core_layout_name(int m)
{
	return m >= 0 && m < CORE_LAYOUT_N ? names[m] : names[0];
}

void core_layout_axes(int m, const char **x, const char **y)
{
	if (m == CORE_LAYOUT_UMAP) {
		*x = "umap 1 (neighbour-preserving; axes carry no meaning)";
		*y = "umap 2";
	} else {
		*x = "principal component 1";
		*y = "principal component 2";
	}
}

static uint64_t rows_hash(const float *x, size_t n, size_t d)
{
	const unsigned char *p = (const unsigned char *)x;
	uint64_t h = 1469598103934665603ULL;
	size_t len = n * d * sizeof(float);

	h = (h ^ n) * 1099511628211ULL;
	h = (h ^ d) * 1099511628211ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 1099511628211ULL;
	return h;
}

static int cache_get(uint64_t key, size_t n, size_t d, float *out)
{
	int hit = 0;

	pthread_mutex_lock(&cache_lock);
	for (int i = 0; i < CACHE_SLOTS; i++)
		if (cache[i].xy && cache[i].key == key && cache[i].n == n &&
		    cache[i].d == d) {
			memcpy(out, cache[i].xy, n * 2 * sizeof(float));
			cache[i].used = ++tick;
			hit = 1;
			break;
		}
	pthread_mutex_unlock(&cache_lock);
	return hit;
}

static void cache_put(uint64_t key, size_t n, size_t d, const float *xy)
{
	float *copy = malloc(n * 2 * sizeof(float));
	int v = 0;

	if (!copy)
		return;          /* not cached: only slower next time */
	memcpy(copy, xy, n * 2 * sizeof(float));
	pthread_mutex_lock(&cache_lock);
	/* an empty slot, else the least recently used */
	for (int i = 0; i < CACHE_SLOTS; i++) {
		if (!cache[i].xy) {
			v = i;
			break;
		}
		if (cache[i].used < cache[v].used)
			v = i;
	}
	free(cache[v].xy);
	cache[v] = (struct slot){ key, ++tick, n, d, copy };
	pthread_mutex_unlock(&cache_lock);
}

int core_layout_xy(int m, const float *x, size_t n, size_t d, float *out)
{
	struct smp_ctl ctl = { .threads = 2 };
	uint64_t key;
	int rc;

	if (m == CORE_LAYOUT_PCA)
		return smp_pca2(x, n, d, out);
	if (m != CORE_LAYOUT_UMAP || !x || !n || !d)
		return -EINVAL;
	key = rows_hash(x, n, d);
	if (cache_get(key, n, d, out))
		return 0;
	rc = smp_layout2(x, n, d, CORE_LAYOUT_SEED, &ctl, out);
	if (!rc)
		cache_put(key, n, d, out);
	return rc;
}

struct job {
	uint64_t key;
	size_t n, d;
	float *x;               /* the rows, the job's own copy */
};

static void *job_main(void *arg)
{
	struct job *j = arg;
	struct smp_ctl ctl = { .threads = 2 };
	float *xy = malloc(j->n * 2 * sizeof(float));
	int rc = xy ? smp_layout2(j->x, j->n, j->d, CORE_LAYOUT_SEED, &ctl,
				  xy) : -ENOMEM;

	if (!rc)
		cache_put(j->key, j->n, j->d, xy);
	pthread_mutex_lock(&cache_lock);
	for (int i = 0; i < RUN_MAX; i++)
		if (running[i] == j->key)
			running[i] = 0;
	if (rc == -EINVAL) {    /* the rows' fault: the same every time */
		failed[nfailed % CACHE_SLOTS].key = j->key;
		failed[nfailed % CACHE_SLOTS].rc = rc;
		nfailed++;
	}
	pthread_mutex_unlock(&cache_lock);
	free(xy);
	free(j->x);
	free(j);
	return NULL;
}

int core_layout_xy_nowait(int m, const float *x, size_t n, size_t d,
			  float *out)
{
	struct job *j;
	pthread_attr_t a;
	pthread_t t;
	uint64_t key;
	int slot = -1, rc = -EINPROGRESS;

	if (m != CORE_LAYOUT_UMAP)
		return core_layout_xy(m, x, n, d, out);
	if (!x || !n || !d)
		return -EINVAL;
	key = rows_hash(x, n, d);
	if (cache_get(key, n, d, out))
		return 0;
	pthread_mutex_lock(&cache_lock);
	for (int i = 0; i < CACHE_SLOTS; i++)
		if (failed[i].key == key && failed[i].rc) {
			rc = failed[i].rc;
			goto out;
		}
	for (int i = 0; i < RUN_MAX; i++) {
		if (running[i] == key)
			goto out;               /* under way */
		if (!running[i] && slot < 0)
			slot = i;
	}
	if (slot < 0)
		goto out;                       /* others first; read again */
	if (!(j = calloc(1, sizeof(*j))) ||
	    !(j->x = malloc(n * d * sizeof(float)))) {
		if (j)
			free(j);
		rc = -ENOMEM;
		goto out;
	}
	memcpy(j->x, x, n * d * sizeof(float));
	j->key = key;
	j->n = n;
	j->d = d;
	pthread_attr_init(&a);
	pthread_attr_setdetachstate(&a, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&t, &a, job_main, j)) {
		free(j->x);
		free(j);
		rc = -EAGAIN;
	} else {
		running[slot] = key;
	}
	pthread_attr_destroy(&a);
out:
	pthread_mutex_unlock(&cache_lock);
	return rc;
}
