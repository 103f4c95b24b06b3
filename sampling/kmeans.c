/*
 * kmeans.c — k-means (k-means++ init, Lloyd iterations) and the `kmeans`
 * strategy.
 *
 * Fit.
 *   init   k-means++ (D² sampling) on a seeded subsample of
 *          s = min(n, max(16·k, 8192)) points: k-means++ costs O(s·k·d),
 *          which on all of n = 1M points and k = 1000 would cost more than
 *          the Lloyd iterations themselves; 16 candidates per center are
 *          plenty for the seeding's purpose. Distances in double. If the
 *          subsample runs out of distinct points, the remaining centers are
 *          drawn uniformly among the subsample points not yet chosen.
 *   Lloyd  assign every point to its nearest centroid with
 *          ||x||² - 2 x·c + ||c||², the dot products by SGEMM over blocks
 *          of `blk` rows (ties: lowest centroid); then centroids = means of
 *          their points (sums in double, in index order). An empty cluster
 *          is re-seeded at the point farthest from its centroid (largest
 *          squared distance from the last assignment, ties: lowest index,
 *          each point used once). Stops after `iters` updates, or when at
 *          most n/1000 points changed cluster (0 for n < 1000: a fixed
 *          point). On return the assignment is that of the final
 *          centroids.
 *   Determinism: the block size depends only on k and every block is one
 *   SGEMM call whichever thread runs it, so results do not depend on the
 *   thread count. OpenBLAS runs single-threaded (set once per process, as
 *   STYLE.md asks: "OpenBLAS inside our own worker threads: one BLAS
 *   thread each"); the blocks are spread over our own team.
 *
 * Strategy. After the fit, each cluster's pick is its member nearest the
 * centroid; an empty cluster takes the unpicked sample nearest its
 * centroid. Picks are ranked by cluster size (largest first, ties: lower
 * sample index) and score 0.5 + 0.5·size/largest size; every other sample
 * follows by its distance to its own centroid, nearest first, scoring
 * 0.5 / (1 + dist / mean dist) — so scores fall with the rank, stay in
 * [0,1], and the rest never outrank a pick.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "sampling/internal.h"

#define DEFAULT_ITERS 25

static pthread_once_t blas_once = PTHREAD_ONCE_INIT;

static void blas_single(void)
{
	openblas_set_num_threads(1);
}

void smp_blas_init(void)
{
	pthread_once(&blas_once, blas_single);
}

int smp_check_matrix(const float *x, size_t n, size_t d)
{
	if (!x || n == 0 || d == 0 || n > SMP_N_MAX || d > SMP_D_MAX ||
	    n > SIZE_MAX / sizeof(float) / d)
		return -EINVAL;
	return 0;
}

/* ---- assignment --------------------------------------------------------- */

struct asg {
	const float *x, *c;
	size_t n, d, k, blk, nblk;
	float *xn, *cn;     /* squared norms of rows and centroids */
	uint32_t *assign;
	float *dist2;
	float *g[SMP_THREADS_MAX]; /* per member: blk x k dot products */
	const struct smp_ctl *ctl;
	int cancelled;      /* written by any member, read after the join */
};

static void asg_member(void *arg, int tid, int nt)
{
	struct asg *a = arg;
	float *g = a->g[tid];

	for (size_t b = (size_t)tid; b < a->nblk; b += (size_t)nt) {
		size_t lo = b * a->blk;
		size_t rows = a->n - lo < a->blk ? a->n - lo : a->blk;

		if (smp_cancelled(a->ctl)) {
			a->cancelled = 1;
			return;
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows,
			    (int)a->k, (int)a->d, 1.0f, a->x + lo * a->d,
			    (int)a->d, a->c, (int)a->d, 0.0f, g, (int)a->k);
		for (size_t r = 0; r < rows; r++) {
			float best, v;
			uint32_t j = smp_argmin_bias(g + r * a->k, a->cn, a->k,
						     &best);

			v = a->xn[lo + r] + best;
			a->assign[lo + r] = j;
			if (a->dist2)
				a->dist2[lo + r] = v > 0 ? v : 0;
		}
	}
}

void smp_row_norms(const float *x, size_t n, size_t d, float *out)
{
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		for (size_t j = 0; j < d; j++)
			s += (double)x[i * d + j] * x[i * d + j];
		out[i] = (float)s;
	}
}

int smp_assign(struct smp_team *team, const float *x, size_t n, size_t d,
	       const float *c, size_t k, const float *xn, uint32_t *assign,
	       float *dist2, const struct smp_ctl *ctl)
{
	struct asg a = {0};
	int nt = smp_team_size(team), rc = 0;
	size_t blk = ((size_t)1 << 18) / k;

	blk = blk < 16 ? 16 : blk > 1024 ? 1024 : blk;
	if (k > INT32_MAX || d > INT32_MAX)
		return -EINVAL;
	a.x = x;
	a.c = c;
	a.n = n;
	a.d = d;
	a.k = k;
	a.blk = blk;
	a.nblk = (n + blk - 1) / blk;
	a.xn = (float *)xn;
	a.assign = assign;
	a.dist2 = dist2;
	a.ctl = ctl;
	if (!(a.cn = malloc(k * sizeof(float))))
		return -ENOMEM;
	smp_row_norms(c, k, d, a.cn);
	for (int t = 0; t < nt; t++)
		if (!(a.g[t] = malloc(blk * k * sizeof(float)))) {
			rc = -ENOMEM;
			goto out;
		}
	smp_blas_init();
	smp_team_run(team, asg_member, &a);
	if (a.cancelled)
		rc = -ECANCELED;
out:
	for (int t = 0; t < nt; t++)
		free(a.g[t]);
	free(a.cn);
	return rc;
}

/* ---- k-means++ on a subsample ------------------------------------------- */

int smp_kpp_init(const float *x, size_t n, size_t d, size_t k,
		 struct smp_rng *rng, const struct smp_ctl *ctl, float *c)
{
	size_t s = 16 * k > 8192 ? 16 * k : 8192;
	uint32_t *idx = NULL;
	double *dmin = NULL;
	uint8_t *used = NULL;
	int rc = 0;

	if (s > n)
		s = n;
	idx = malloc(n * sizeof(*idx));
	dmin = malloc(s * sizeof(*dmin));
	used = calloc(s, 1);
	if (!idx || !dmin || !used) {
		rc = -ENOMEM;
		goto out;
	}
	smp_sample_u32(idx, n, s, rng);
	for (size_t i = 0; i < s; i++)
		dmin[i] = INFINITY;
	size_t pick = (size_t)smp_rng_below(rng, s);
	for (size_t t = 0; t < k; t++) {
		const float *ct = x + (size_t)idx[pick] * d;
		double total = 0;

		if (smp_cancelled(ctl)) {
			rc = -ECANCELED;
			goto out;
		}
		memcpy(c + t * d, ct, d * sizeof(float));
		used[pick] = 1;
		if (t + 1 == k)
			break;
		for (size_t i = 0; i < s; i++) {
			double v = smp_sqdist(x + (size_t)idx[i] * d, ct, d);
			if (v < dmin[i])
				dmin[i] = v;
			if (used[i])
				dmin[i] = 0;
			total += dmin[i];
		}
		if (total > 0) {
			double r = smp_rng_unit(rng) * total, acc = 0;
			pick = SIZE_MAX;
			for (size_t i = 0; i < s; i++) {
				if (dmin[i] <= 0)
					continue;
				acc += dmin[i];
				pick = i; /* the last positive one if r ~ total */
				if (acc > r)
					break;
			}
		} else { /* no distinct point left: uniform over unused */
			size_t left = s - (t + 1), r;
			r = (size_t)smp_rng_below(rng, left);
			for (pick = 0; pick < s; pick++)
				if (!used[pick] && r-- == 0)
					break;
		}
	}
out:
	free(used);
	free(dmin);
	free(idx);
	return rc;
}

/* ---- Lloyd -------------------------------------------------------------- */

/* Centers of empty clusters go to the points farthest from their
 * centroids: e scans for e empties; fine, since e is almost always tiny. */
static void reseed(const float *x, size_t n, size_t d, float *c,
		   const size_t *cnt, size_t k, float *dist2)
{
	for (size_t j = 0; j < k; j++) {
		float best = -1;
		size_t arg = 0;

		if (cnt[j])
			continue;
		for (size_t i = 0; i < n; i++)
			if (dist2[i] > best) {
				best = dist2[i];
				arg = i;
			}
		memcpy(c + j * d, x + arg * d, d * sizeof(float));
		dist2[arg] = -1; /* used */
	}
}

static int update(const float *x, size_t n, size_t d, size_t k,
		  const uint32_t *assign, float *dist2, float *c)
{
	double *sum = calloc(k * d, sizeof(*sum));
	size_t *cnt = calloc(k, sizeof(*cnt));
	int rc = 0;

	if (!sum || !cnt) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		double *s = sum + (size_t)assign[i] * d;
		cnt[assign[i]]++;
		for (size_t j = 0; j < d; j++)
			s[j] += x[i * d + j];
	}
	for (size_t j = 0; j < k; j++)
		if (cnt[j])
			for (size_t l = 0; l < d; l++)
				c[j * d + l] = (float)(sum[j * d + l] /
						       (double)cnt[j]);
	reseed(x, n, d, c, cnt, k, dist2);
out:
	free(cnt);
	free(sum);
	return rc;
}

int smp_lloyd(struct smp_team *team, const float *x, size_t n, size_t d,
	      size_t k, int iters, const struct smp_ctl *ctl, float *c,
	      uint32_t *assign, float *dist2)
{
	uint32_t *next = NULL;
	float *xn = NULL;
	struct smp_prog prog;
	int rc;

	if (iters <= 0)
		iters = DEFAULT_ITERS;
	next = malloc(n * sizeof(*next));
	xn = malloc(n * sizeof(*xn));
	if (!next || !xn) {
		rc = -ENOMEM;
		goto out;
	}
	smp_prog_init(&prog, ctl, (size_t)iters);
	smp_row_norms(x, n, d, xn);
	if ((rc = smp_assign(team, x, n, d, c, k, xn, assign, dist2, ctl)))
		goto out;
	for (int it = 0; it < iters; it++) {
		size_t changed = 0;

		if ((rc = update(x, n, d, k, assign, dist2, c)))
			goto out;
		if ((rc = smp_assign(team, x, n, d, c, k, xn, next, dist2,
				     ctl)))
			goto out;
		for (size_t i = 0; i < n; i++)
			changed += next[i] != assign[i];
		memcpy(assign, next, n * sizeof(*next));
		smp_prog_tick(&prog, (size_t)it + 1);
		if (changed <= n / 1000)
			break;
	}
	smp_prog_end(&prog);
out:
	free(xn);
	free(next);
	return rc;
}

int smp_kmeans_fit(const float *x, size_t n, size_t d, size_t k,
		   uint64_t seed, int iters, const struct smp_ctl *ctl,
		   float *centroids, uint32_t *assign)
{
	struct smp_team *team = NULL;
	struct smp_rng rng;
	uint32_t *asg = assign;
	float *dist2 = NULL;
	int rc;

	if ((rc = smp_check_matrix(x, n, d)))
		return rc;
	if (!centroids || k == 0 || k > n || k > INT32_MAX || d > INT32_MAX)
		return -EINVAL;
	smp_rng_init(&rng, seed);
	if (!asg && !(asg = malloc(n * sizeof(*asg))))
		return -ENOMEM;
	if (!(dist2 = malloc(n * sizeof(*dist2)))) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = smp_kpp_init(x, n, d, k, &rng, ctl, centroids)))
		goto out;
	team = smp_team_create(smp_ctl_threads(ctl));
	rc = smp_lloyd(team, x, n, d, k, iters, ctl, centroids, asg, dist2);
out:
	smp_team_destroy(team);
	free(dist2);
	if (asg != assign)
		free(asg);
	return rc;
}

/* ---- the kmeans strategy ------------------------------------------------ */

int smp_kmeans(const float *x, size_t n, size_t d, size_t k, uint64_t seed,
	       const struct smp_ctl *ctl, struct smp_result *out)
{
	float *c = NULL, *dist = NULL;
	uint32_t *asg = NULL, *pick = NULL, *cl = NULL;
	size_t *size = NULL, maxsize = 0, np = 0;
	struct smp_team *team = NULL;
	struct smp_subctl sub;
	struct smp_rng rng;
	uint8_t *picked = NULL;
	double mean = 0;
	int rc;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!out || (rc = smp_check_matrix(x, n, d)))
		return -EINVAL;
	if (k == 0 || k > n || k > INT32_MAX || d > INT32_MAX)
		return -EINVAL;
	c = malloc(k * d * sizeof(*c));
	dist = malloc(n * sizeof(*dist));
	asg = malloc(n * sizeof(*asg));
	pick = malloc(k * sizeof(*pick));
	cl = malloc(k * sizeof(*cl));
	size = calloc(k, sizeof(*size));
	picked = calloc(n, 1);
	if (!c || !dist || !asg || !pick || !cl || !size || !picked) {
		rc = -ENOMEM;
		goto out;
	}
	smp_rng_init(&rng, seed);
	smp_subctl_init(&sub, ctl, 0, k - k / 10, k);
	if ((rc = smp_kpp_init(x, n, d, k, &rng, ctl, c)))
		goto out;
	team = smp_team_create(smp_ctl_threads(ctl));
	if ((rc = smp_lloyd(team, x, n, d, k, 0, &sub.in, c, asg, dist)))
		goto out;
	for (size_t j = 0; j < k; j++)
		pick[j] = UINT32_MAX;
	for (size_t i = 0; i < n; i++) {
		uint32_t j = asg[i];
		size[j]++;
		dist[i] = sqrtf(dist[i]);
		if (pick[j] == UINT32_MAX || dist[i] < dist[pick[j]])
			pick[j] = (uint32_t)i;
	}
	for (size_t j = 0; j < k; j++)
		if (pick[j] != UINT32_MAX)
			picked[pick[j]] = 1;
	for (size_t j = 0; j < k; j++) { /* empty clusters: nearest unpicked */
		double best = INFINITY;
		if (pick[j] != UINT32_MAX)
			continue;
		if (smp_cancelled(ctl)) {
			rc = -ECANCELED;
			goto out;
		}
		for (size_t i = 0; i < n; i++) {
			double v;
			if (picked[i])
				continue;
			v = smp_sqdist(x + i * d, c + j * d, d);
			if (v < best) {
				best = v;
				pick[j] = (uint32_t)i;
			}
		}
		picked[pick[j]] = 1;
	}
	/* Picks by cluster size, largest first (stable: lower id first). */
	for (size_t j = 0; j < k; j++)
		if (size[j] > maxsize)
			maxsize = size[j];
	if ((rc = smp_result_alloc(out, n)))
		goto out;
	for (size_t j = 0; j < k; j++)
		out->score[pick[j]] = (float)(0.5 + 0.5 * (double)size[j] /
						    (double)maxsize);
	for (size_t j = 0; j < k; j++)
		cl[np++] = pick[j];
	if ((rc = smp_rank_by_score(cl, np, out->score)))
		goto out;
	/* The rest: by distance to their centroid. */
	for (size_t i = 0; i < n; i++)
		mean += dist[i];
	mean = mean > 0 ? mean / (double)n : 1.0;
	for (size_t i = 0; i < n; i++)
		if (!picked[i])
			out->score[i] = (float)(0.5 / (1.0 + dist[i] / mean));
	if (!(rc = smp_finish_order(out, cl, np)))
		smp_report(ctl, k, k);
out:
	smp_team_destroy(team);
	free(picked);
	free(size);
	free(cl);
	free(pick);
	free(asg);
	free(dist);
	free(c);
	if (rc && out)
		smp_result_free(out);
	return rc;
}
