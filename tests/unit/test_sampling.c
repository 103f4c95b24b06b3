/*
 * test_sampling.c — the strategies of sampling/ against brute-force
 * references on small inputs.
 *
 *   coreset     picks identical to a naive O(n·k) farthest-first from the
 *               same start, using the reference distance, on random,
 *               clustered, duplicate-rich (exact ties) and 1-D data, k = n,
 *               1..3 threads, and each layout pinned (flat, parts, auto,
 *               switching at every pick);
 *               scores equal to the naive distances normalised.
 *   random, balance, kmeans, typicality
 *               deterministic under a seed, different under another;
 *               balance's per-label counts exactly as water-filling says;
 *               k-means centroids equal to a naive Lloyd from the same
 *               k-means++ init; typicality's picks the most typical of
 *               their clusters by a naive kNN.
 *   pca2        against power iteration on the covariance.
 *   every result: order a permutation, scores in [0,1], non-increasing
 *   along order; bad arguments (-EINVAL); a cancel flag (-ECANCELED, all
 *   memory freed: run under ASan).
 * White-box: includes sampling/internal.h for the k-means++ init, the
 * layout switch and the ranking sort.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sampling/internal.h"
#include "sampling/sampling.h"

/* ---- helpers ------------------------------------------------------------ */

static uint64_t lcg_state;

static double urand(void)
{
	lcg_state = lcg_state * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(lcg_state >> 11) * 0x1.0p-53;
}

static double nrand(void)
{
	double u = urand(), v = urand();

	return sqrt(-2.0 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static float *make_random(size_t n, size_t d, uint64_t seed)
{
	float *x = malloc(n * d * sizeof(*x));

	assert_non_null(x);
	lcg_state = seed;
	for (size_t i = 0; i < n * d; i++)
		x[i] = (float)nrand();
	return x;
}

/* `blobs` tight clusters far apart, rows shuffled. */
static float *make_blobs(size_t n, size_t d, size_t blobs, float spread,
			 uint64_t seed)
{
	float *x = malloc(n * d * sizeof(*x)), *mu = malloc(blobs * d * 4);

	assert_non_null(x);
	assert_non_null(mu);
	lcg_state = seed;
	for (size_t i = 0; i < blobs * d; i++)
		mu[i] = (float)(nrand() * 10.0);
	for (size_t i = 0; i < n; i++) {
		size_t b = (size_t)(urand() * (double)blobs);
		for (size_t j = 0; j < d; j++)
			x[i * d + j] = mu[b * d + j] + spread * (float)nrand();
	}
	free(mu);
	return x;
}

/* Small integers: many exact duplicates and many exactly tied distances. */
static float *make_grid(size_t n, size_t d, int levels, uint64_t seed)
{
	float *x = malloc(n * d * sizeof(*x));

	assert_non_null(x);
	lcg_state = seed;
	for (size_t i = 0; i < n * d; i++)
		x[i] = (float)(int)(urand() * levels);
	return x;
}

/* order is a permutation; scores in [0,1] and non-increasing along it. */
static void check_result(const struct smp_result *r, size_t n)
{
	uint8_t *seen = calloc(n, 1);

	assert_non_null(seen);
	assert_int_equal(r->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_true(r->order[i] < n);
		assert_false(seen[r->order[i]]);
		seen[r->order[i]] = 1;
		assert_true(r->score[i] >= 0.0f && r->score[i] <= 1.0f);
		if (i)
			assert_true(r->score[r->order[i]] <=
				    r->score[r->order[i - 1]]);
	}
	free(seen);
}

static int same_order(const struct smp_result *a, const struct smp_result *b)
{
	return a->n == b->n &&
	       !memcmp(a->order, b->order, a->n * sizeof(*a->order)) &&
	       !memcmp(a->score, b->score, a->n * sizeof(*a->score));
}

/* ---- the reference distance --------------------------------------------- */

/* The definition in sampling.h, written out independently. */
static double ref_d2(const float *a, const float *b, size_t d)
{
	double l[8] = {0};

	for (size_t j = 0; j < d; j++) {
		double t = (double)a[j] - (double)b[j];
		l[j % 8] = l[j % 8] + t * t;
	}
	return ((l[0] + l[4]) + (l[2] + l[6])) +
	       ((l[1] + l[5]) + (l[3] + l[7]));
}

static void check_dist_bitexact(void)
{
	static const size_t dims[] = {1, 3, 7, 8, 9, 13, 16, 32, 67};

	for (size_t t = 0; t < sizeof(dims) / sizeof(dims[0]); t++) {
		size_t d = dims[t], n = 50;
		float *x = make_random(n, d, 7 + d);
		double *c = malloc(d * sizeof(*c)), out[50];
		uint32_t idx[50];

		for (size_t i = 0; i < n * d; i += 5)
			x[i] *= 1e6f; /* mixed magnitudes: rounding matters */
		for (size_t j = 0; j < d; j++)
			c[j] = x[3 * d + j];
		for (size_t i = 0; i < n; i++)
			idx[i] = (uint32_t)((i * 17) % n);
		smp_dist2_gather(x, d, idx, n, c, out);
		for (size_t i = 0; i < n; i++) {
			double r = ref_d2(x + idx[i] * d, x + 3 * d, d);
			assert_true(smp_dist2_ref(x + idx[i] * d, x + 3 * d, d) == r);
			assert_true(smp_dist2_fd(x + idx[i] * d, c, d) == r);
			assert_true(out[i] == r);
			/* symmetric, bit for bit */
			assert_true(ref_d2(x + 3 * d, x + idx[i] * d, d) == r);
		}
		smp_dist2_rows(x, d, 5, 45, c, out);
		for (size_t i = 5; i < 45; i++)
			assert_true(out[i - 5] == ref_d2(x + i * d, x + 3 * d, d));
		free(c);
		free(x);
	}
}

static void test_dist_bitexact(void **state)
{
	(void)state;
	check_dist_bitexact();
}

static void check_coreset(const float *x, size_t n, size_t d, size_t k,
			  size_t start, float min_distance);

/* Every instruction set this CPU runs gives the reference's bits, and so
 * the brute-force picks. */
static void test_dist_isas(void **state)
{
	static const int isas[] = {SMP_ISA_GENERIC, SMP_ISA_AVX2,
				   SMP_ISA_AVX512};
	float *x = make_blobs(3000, 40, 12, 0.3f, 21);

	(void)state;
	assert_int_equal(smp_dist_isa(99), -ENOTSUP);
	for (size_t i = 0; i < sizeof(isas) / sizeof(isas[0]); i++) {
		if (smp_dist_isa(isas[i]))
			continue; /* not on this CPU */
		check_dist_bitexact();
		check_coreset(x, 3000, 40, 120, 7, 0);
	}
	assert_int_equal(smp_dist_isa(SMP_ISA_AUTO), 0);
	assert_int_equal(smp_dist_isa(SMP_ISA_GENERIC), 0);
	assert_int_equal(smp_dist_isa(SMP_ISA_AUTO), 0);
	free(x);
}

/* ---- coreset ------------------------------------------------------------ */

/* Naive farthest-first: picks[0..*np), m[] the final min distances,
 * pickm[] each pick's distance at the moment it was picked. */
static void naive_coreset(const float *x, size_t n, size_t d, size_t k,
			  size_t start, float min_distance, uint32_t *picks,
			  size_t *np, double *m, double *pickm)
{
	uint8_t *picked = calloc(n, 1);
	size_t p = start, t = 0;

	assert_non_null(picked);
	for (size_t i = 0; i < n; i++)
		m[i] = INFINITY;
	pickm[0] = INFINITY;
	for (;;) {
		double best = -1;
		size_t arg = 0;

		picks[t++] = (uint32_t)p;
		picked[p] = 1;
		for (size_t i = 0; i < n; i++) {
			double s = ref_d2(x + i * d, x + p * d, d);
			if (s < m[i])
				m[i] = s;
		}
		if (t == k)
			break;
		for (size_t i = 0; i < n; i++)
			if (!picked[i] && m[i] > best) {
				best = m[i];
				arg = i;
			}
		if (best < 0 || (min_distance > 0 && sqrt(best) < min_distance))
			break;
		pickm[t] = best;
		p = arg;
	}
	*np = t;
	free(picked);
}

static void check_coreset(const float *x, size_t n, size_t d, size_t k,
			  size_t start, float min_distance)
{
	uint32_t *picks = malloc(n * sizeof(*picks));
	double *m = malloc(n * sizeof(*m)), *pickm = malloc(n * sizeof(*pickm));
	size_t np, sw;
	double norm;

	assert_non_null(picks);
	assert_non_null(m);
	assert_non_null(pickm);
	naive_coreset(x, n, d, k, start, min_distance, picks, &np, m, pickm);
	norm = np >= 2 ? sqrt(pickm[1]) : 0;
	if (np < 2) {
		for (size_t i = 0; i < n; i++)
			if (i != picks[0] && sqrt(m[i]) > norm)
				norm = sqrt(m[i]);
	}
	for (int threads = 1; threads <= 3; threads++) {
		for (int lay = SMP_LAYOUT_AUTO; lay <= SMP_LAYOUT_ALTERNATE;
		     lay++) {
			struct smp_ctl ctl = {.threads = threads};
			struct smp_result r;

			assert_int_equal(smp_coreset_ex(x, n, d, k, start,
							min_distance, &ctl,
							lay, &sw, &r),
					 0);
			check_result(&r, n);
			assert_int_equal(r.picked, np);
			for (size_t t = 0; t < np; t++)
				assert_int_equal(r.order[t], picks[t]);
			if (np < n) /* the next one is not a pick */
				assert_true(r.score[r.order[np]] <=
					    r.score[r.order[np - 1]]);
			assert_true(r.score[picks[0]] == 1.0f);
			for (size_t t = 1; t < np; t++) {
				double want = norm > 0 ? sqrt(pickm[t]) / norm : 0;
				assert_float_equal(r.score[picks[t]],
						   want > 1 ? 1 : want, 1e-6);
			}
			for (size_t i = np; i < n; i++) {
				uint32_t id = r.order[i];
				double want = norm > 0 ? sqrt(m[id]) / norm : 0;
				assert_float_equal(r.score[id],
						   want > 1 ? 1 : want, 1e-6);
			}
			if (lay == SMP_LAYOUT_FLAT)
				assert_int_equal(sw, 0);
			if (lay == SMP_LAYOUT_PARTS && np > 1)
				assert_int_equal(sw, 1);
			if (lay == SMP_LAYOUT_ALTERNATE)
				assert_int_equal(sw, np - 1);
			smp_result_free(&r);
		}
	}
	free(pickm);
	free(m);
	free(picks);
}

static void test_coreset_random(void **state)
{
	float *x = make_random(2000, 32, 1);

	(void)state;
	check_coreset(x, 2000, 32, 150, 17, 0);
	check_coreset(x, 2000, 32, 1, 1999, 0);
	free(x);
	x = make_random(3000, 5, 2);
	check_coreset(x, 3000, 5, 400, 0, 0);
	free(x);
}

static void test_coreset_clustered(void **state)
{
	float *x = make_blobs(4000, 16, 12, 0.3f, 3);

	(void)state;
	check_coreset(x, 4000, 16, 300, 123, 0);
	free(x);
	x = make_blobs(3000, 32, 40, 0.05f, 4);
	check_coreset(x, 3000, 32, 200, 5, 0);
	free(x);
}

static void test_coreset_ties(void **state)
{
	/* 3 levels in 2-D: 9 distinct points among 400, every distance tied
	 * many times; k = n so the tail of all-zero distances is ranked by
	 * index too. */
	float *x = make_grid(400, 2, 3, 5);

	(void)state;
	check_coreset(x, 400, 2, 400, 7, 0);
	check_coreset(x, 400, 2, 30, 0, 0);
	free(x);
	x = make_grid(600, 32, 2, 6); /* d = 32, 0/1 coordinates */
	check_coreset(x, 600, 32, 600, 599, 0);
	free(x);
	x = calloc(100 * 4, sizeof(float)); /* all identical */
	check_coreset(x, 100, 4, 100, 50, 0);
	free(x);
}

static void test_coreset_1d_and_k_equals_n(void **state)
{
	float *x = make_random(700, 1, 8);

	(void)state;
	check_coreset(x, 700, 1, 700, 350, 0);
	free(x);
	x = make_grid(500, 1, 40, 9);
	check_coreset(x, 500, 1, 500, 0, 0);
	free(x);
	x = make_random(300, 32, 10);
	check_coreset(x, 300, 32, 300, 299, 0);
	free(x);
}

static void test_coreset_min_distance(void **state)
{
	float *x = make_blobs(2000, 8, 10, 0.2f, 11);
	struct smp_result r;

	(void)state;
	check_coreset(x, 2000, 8, 2000, 3, 2.0f);
	check_coreset(x, 2000, 8, 500, 3, 0.5f);
	/* The stop comes early: ten blobs, radius ~0.2*sqrt(8). */
	assert_int_equal(smp_coreset(x, 2000, 8, 2000, 3, 5.0f, NULL, &r), 0);
	check_result(&r, 2000);
	smp_result_free(&r);
	free(x);
}

/* A larger case where the automatic layout really switches both ways. */
static void test_coreset_switches(void **state)
{
	float *x = make_blobs(40000, 8, 30, 0.5f, 12);
	size_t sw = 0;
	struct smp_result a, b;
	struct smp_ctl ctl = {.threads = 2};

	(void)state;
	assert_int_equal(smp_coreset_ex(x, 40000, 8, 600, 0, 0, &ctl,
					SMP_LAYOUT_AUTO, &sw, &a), 0);
	assert_true(sw >= 1);
	assert_int_equal(smp_coreset_ex(x, 40000, 8, 600, 0, 0, &ctl,
					SMP_LAYOUT_FLAT, NULL, &b), 0);
	assert_true(same_order(&a, &b));
	smp_result_free(&a);
	smp_result_free(&b);
	free(x);
}

/* Large enough for the working arrays to take big_alloc's huge-page path
 * (2 MiB and up) in every layout. */
static void test_coreset_large(void **state)
{
	float *x = make_blobs(300000, 2, 20, 0.3f, 14);

	(void)state;
	check_coreset(x, 300000, 2, 60, 11, 0);
	free(x);
}

static void test_coreset_bad_args(void **state)
{
	float x[8] = {0, 1, 2, 3, 4, 5, 6, 7};
	struct smp_result r = {(uint32_t *)1, (float *)1, 9, 9};

	(void)state;
	assert_int_equal(smp_coreset(NULL, 4, 2, 1, 0, 0, NULL, &r), -EINVAL);
	assert_null(r.order); /* zeroed on failure */
	assert_int_equal(smp_coreset(x, 0, 2, 1, 0, 0, NULL, &r), -EINVAL);
	assert_int_equal(smp_coreset(x, 4, 0, 1, 0, 0, NULL, &r), -EINVAL);
	assert_int_equal(smp_coreset(x, 4, 2, 0, 0, 0, NULL, &r), -EINVAL);
	assert_int_equal(smp_coreset(x, 4, 2, 5, 0, 0, NULL, &r), -EINVAL);
	assert_int_equal(smp_coreset(x, 4, 2, 2, 4, 0, NULL, &r), -EINVAL);
	assert_int_equal(smp_coreset(x, 4, 2, 2, 0, -1.0f, NULL, &r), -EINVAL);
	assert_int_equal(smp_coreset(x, 4, 2, 2, 0, NAN, NULL, &r), -EINVAL);
	assert_int_equal(smp_coreset(x, 4, 2, 2, 0, INFINITY, NULL, &r),
			 -EINVAL);
	assert_int_equal(smp_coreset(x, 4, 2, 2, 0, 0, NULL, NULL), -EINVAL);
	x[5] = NAN; /* non-finite input */
	assert_int_equal(smp_coreset(x, 4, 2, 2, 0, 0, NULL, &r), -EINVAL);
	x[5] = INFINITY;
	assert_int_equal(smp_coreset(x, 4, 2, 2, 0, 0, NULL, &r), -EINVAL);
	assert_null(r.order);
	smp_result_free(&r);
	smp_result_free(NULL);
}

/* ---- cancellation ------------------------------------------------------- */

struct prog_state {
	volatile int cancel;
	size_t calls, last_done, total;
	size_t cancel_at; /* set cancel once done >= this (0 = never) */
};

static void on_progress(void *arg, size_t done, size_t total)
{
	struct prog_state *p = arg;

	p->calls++;
	assert_true(done <= total);
	p->last_done = done;
	p->total = total;
	if (p->cancel_at && done >= p->cancel_at)
		p->cancel = 1;
}

static void test_cancel(void **state)
{
	float *x = make_random(20000, 16, 13);
	int32_t *lab = calloc(20000, sizeof(*lab));
	float pc[2 * 20000];
	struct smp_result r;

	(void)state;
	assert_non_null(lab);
	for (int threads = 1; threads <= 2; threads++) {
		struct prog_state p = {.cancel = 1};
		struct smp_ctl ctl = {.cancel = &p.cancel, .threads = threads};

		assert_int_equal(smp_coreset(x, 20000, 16, 100, 0, 0, &ctl, &r),
				 -ECANCELED);
		assert_null(r.order);
		assert_int_equal(smp_random(20000, 10, 1, &ctl, &r), -ECANCELED);
		assert_int_equal(smp_kmeans(x, 20000, 16, 10, 1, &ctl, &r),
				 -ECANCELED);
		assert_int_equal(smp_typicality(x, 20000, 16, 10, 1, &ctl, &r),
				 -ECANCELED);
		assert_int_equal(smp_balance(lab, 20000, 10, 1, &ctl, &r),
				 -ECANCELED);
		float c[10 * 16];
		assert_int_equal(smp_kmeans_fit(x, 20000, 16, 10, 1, 5, &ctl, c,
						NULL),
				 -ECANCELED);
	}
	/* Cancelled from the progress callback, mid-run, in each layout. */
	for (int lay = SMP_LAYOUT_AUTO; lay <= SMP_LAYOUT_ALTERNATE; lay++) {
		struct prog_state p = {.cancel_at = 3};
		struct smp_ctl ctl = {.cancel = &p.cancel, .progress = on_progress,
				      .arg = &p, .threads = 2};
		assert_int_equal(smp_coreset_ex(x, 20000, 16, 20000, 0, 0, &ctl,
						lay, NULL, &r),
				 -ECANCELED);
		assert_true(p.calls >= 1);
		assert_null(r.order);
	}
	{
		struct prog_state p = {.cancel_at = 1};
		struct smp_ctl ctl = {.cancel = &p.cancel, .progress = on_progress,
				      .arg = &p};
		assert_int_equal(smp_typicality(x, 20000, 16, 50, 1, &ctl, &r),
				 -ECANCELED);
	}
	/* Progress reaches total/total on success. */
	{
		struct prog_state p = {0};
		struct smp_ctl ctl = {.progress = on_progress, .arg = &p};
		assert_int_equal(smp_coreset(x, 20000, 16, 100, 0, 0, &ctl, &r), 0);
		assert_int_equal(p.last_done, 100);
		assert_int_equal(p.total, 100);
		smp_result_free(&r);
		memset(&p, 0, sizeof(p));
		assert_int_equal(smp_kmeans(x, 20000, 16, 20, 1, &ctl, &r), 0);
		assert_int_equal(p.last_done, 20);
		assert_int_equal(p.total, 20);
		smp_result_free(&r);
	}
	assert_int_equal(smp_pca2(x, 20000, 16, pc), 0);
	free(lab);
	free(x);
}

/* ---- random ------------------------------------------------------------- */

static void test_random(void **state)
{
	struct smp_result a, b, c;

	(void)state;
	assert_int_equal(smp_random(1000, 100, 42, NULL, &a), 0);
	assert_int_equal(smp_random(1000, 100, 42, NULL, &b), 0);
	assert_int_equal(smp_random(1000, 100, 43, NULL, &c), 0);
	check_result(&a, 1000);
	assert_true(same_order(&a, &b));
	assert_false(same_order(&a, &c));
	assert_true(a.score[a.order[0]] == 1.0f);
	assert_true(a.score[a.order[999]] == 0.0f);
	smp_result_free(&a);
	smp_result_free(&b);
	smp_result_free(&c);
	assert_int_equal(smp_random(1, 1, 0, NULL, &a), 0);
	assert_int_equal(a.order[0], 0);
	assert_true(a.score[0] == 1.0f);
	smp_result_free(&a);
	assert_int_equal(smp_random(0, 0, 0, NULL, &a), -EINVAL);
	assert_int_equal(smp_random(5, 6, 0, NULL, &a), -EINVAL);
	assert_int_equal(smp_random(5, 1, 0, NULL, NULL), -EINVAL);
}

static void test_rng_reference(void **state)
{
	/* xoshiro256** seeded by splitmix64(0): a fixed stream, so seeds mean
	 * the same thing on every platform and in every release. */
	struct smp_rng r;
	uint64_t a, b;

	(void)state;
	smp_rng_init(&r, 0);
	assert_true(r.s[0] == 0xe220a8397b1dcdafULL); /* splitmix64 of 0 */
	a = smp_rng_next(&r);
	b = smp_rng_next(&r);
	assert_true(a != b);
	smp_rng_init(&r, 0);
	assert_true(smp_rng_next(&r) == a);
	for (int i = 0; i < 1000; i++) {
		uint64_t v = smp_rng_below(&r, 7);
		double u = smp_rng_unit(&r);
		assert_true(v < 7);
		assert_true(u >= 0 && u < 1);
	}
}

static void test_rank_sort(void **state)
{
	size_t n = 5000;
	float *s = malloc(n * sizeof(*s));
	uint32_t *idx = malloc(n * sizeof(*idx));

	(void)state;
	lcg_state = 99;
	for (size_t i = 0; i < n; i++) {
		s[i] = (float)(int)(urand() * 50) / 49.0f; /* many ties */
		idx[i] = (uint32_t)(n - 1 - i);            /* any input order */
	}
	s[3] = -0.0f;
	assert_int_equal(smp_rank_by_score(idx, n, s), 0);
	for (size_t i = 1; i < n; i++) {
		float a = s[idx[i - 1]] > 0 ? s[idx[i - 1]] : 0;
		float b = s[idx[i]] > 0 ? s[idx[i]] : 0;
		assert_true(a > b || (a == b && idx[i - 1] < idx[i]));
	}
	free(idx);
	free(s);
}

static void test_argmin_bias(void **state)
{
	float g[203] = {0}, cn[203] = {0}, v;

	(void)state;
	for (size_t k = 0; k <= 203; k += (k < 20 ? 1 : 37)) {
		lcg_state = 1000 + k;
		for (size_t j = 0; j < k; j++) {
			g[j] = (float)(int)(urand() * 4); /* ties galore */
			cn[j] = (float)(int)(urand() * 8);
		}
		uint32_t got = smp_argmin_bias(g, cn, k, &v), want = 0;
		float best = INFINITY;
		for (size_t j = 0; j < k; j++)
			if (cn[j] - 2.0f * g[j] < best) {
				best = cn[j] - 2.0f * g[j];
				want = (uint32_t)j;
			}
		assert_int_equal(got, want);
		assert_true(v == best);
	}
}

/* ---- balance ------------------------------------------------------------ */

static void label_counts(const struct smp_result *r, const int32_t *lab,
			 size_t k, size_t *cnt, const int32_t *values, size_t nv)
{
	memset(cnt, 0, nv * sizeof(*cnt));
	for (size_t i = 0; i < k; i++)
		for (size_t v = 0; v < nv; v++)
			if (lab[r->order[i]] == values[v])
				cnt[v]++;
}

static void test_balance(void **state)
{
	/* Skewed: A x100, B x10, C x3, D x1 (labels 7, -2, 0, 1000). */
	static const int32_t values[4] = {7, -2, 0, 1000};
	static const size_t counts[4] = {100, 10, 3, 1};
	int32_t lab[114];
	size_t n = 0, cnt[4];
	struct smp_result r, r2, r3;

	(void)state;
	for (int v = 0; v < 4; v++)
		for (size_t i = 0; i < counts[v]; i++)
			lab[n++] = values[v];
	lcg_state = 5; /* interleave, so index order says nothing */
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = (size_t)(urand() * (double)(i + 1));
		int32_t t = lab[i];
		lab[i] = lab[j];
		lab[j] = t;
	}
	assert_int_equal(smp_balance(lab, n, 30, 1, NULL, &r), 0);
	check_result(&r, n);
	label_counts(&r, lab, 30, cnt, values, 4);
	/* level: D 1, C 3, then 26 over A and B: B 10, A 16 */
	assert_int_equal(cnt[0], 16);
	assert_int_equal(cnt[1], 10);
	assert_int_equal(cnt[2], 3);
	assert_int_equal(cnt[3], 1);
	label_counts(&r, lab, 8, cnt, values, 4);
	/* level 2 (7 picks) + 1 leftover to one of A, B, C */
	assert_int_equal(cnt[3], 1);
	assert_int_equal(cnt[0] + cnt[1] + cnt[2], 7);
	for (int v = 0; v < 3; v++)
		assert_true(cnt[v] == 2 || cnt[v] == 3);
	/* Every prefix is water-filled: a label behind another by 2 or more
	 * must be exhausted. */
	for (size_t k = 1; k <= n; k++) {
		label_counts(&r, lab, k, cnt, values, 4);
		for (int a = 0; a < 4; a++)
			for (int b = 0; b < 4; b++)
				if (cnt[a] + 2 <= cnt[b])
					assert_int_equal(cnt[a], counts[a]);
	}
	assert_int_equal(smp_balance(lab, n, 30, 1, NULL, &r2), 0);
	assert_int_equal(smp_balance(lab, n, 30, 2, NULL, &r3), 0);
	assert_true(same_order(&r, &r2));
	assert_false(same_order(&r, &r3));
	smp_result_free(&r);
	smp_result_free(&r2);
	smp_result_free(&r3);
	/* one label; all distinct labels */
	memset(lab, 0, sizeof(lab));
	assert_int_equal(smp_balance(lab, n, n, 3, NULL, &r), 0);
	check_result(&r, n);
	smp_result_free(&r);
	for (size_t i = 0; i < n; i++)
		lab[i] = (int32_t)i;
	assert_int_equal(smp_balance(lab, n, 0, 3, NULL, &r), 0);
	check_result(&r, n);
	smp_result_free(&r);
	assert_int_equal(smp_balance(NULL, n, 1, 0, NULL, &r), -EINVAL);
	assert_int_equal(smp_balance(lab, 0, 0, 0, NULL, &r), -EINVAL);
	assert_int_equal(smp_balance(lab, n, n + 1, 0, NULL, &r), -EINVAL);
	assert_int_equal(smp_balance(lab, n, 1, 0, NULL, NULL), -EINVAL);
}

/* ---- k-means ------------------------------------------------------------ */

/* Naive Lloyd with the documented rules, in double. */
static void naive_lloyd(const float *x, size_t n, size_t d, size_t k,
			int iters, float *c, uint32_t *asg)
{
	double *sum = malloc(k * d * sizeof(*sum));
	size_t *cnt = malloc(k * sizeof(*cnt));
	double *dist = malloc(n * sizeof(*dist));

	for (int it = 0; it <= iters; it++) {
		size_t changed = 0;
		for (size_t i = 0; i < n; i++) {
			double best = INFINITY;
			uint32_t arg = 0;
			for (size_t j = 0; j < k; j++) {
				double v = 0;
				for (size_t l = 0; l < d; l++) {
					double t = (double)x[i * d + l] - c[j * d + l];
					v += t * t;
				}
				if (v < best) {
					best = v;
					arg = (uint32_t)j;
				}
			}
			changed += it == 0 || asg[i] != arg;
			asg[i] = arg;
			dist[i] = best;
		}
		if (it == iters || (it > 0 && changed <= n / 1000))
			break;
		memset(sum, 0, k * d * sizeof(*sum));
		memset(cnt, 0, k * sizeof(*cnt));
		for (size_t i = 0; i < n; i++) {
			cnt[asg[i]]++;
			for (size_t l = 0; l < d; l++)
				sum[asg[i] * d + l] += x[i * d + l];
		}
		for (size_t j = 0; j < k; j++)
			for (size_t l = 0; l < d && cnt[j]; l++)
				c[j * d + l] = (float)(sum[j * d + l] / (double)cnt[j]);
		assert_true(1); /* empty clusters do not occur on this data */
	}
	free(dist);
	free(cnt);
	free(sum);
}

static void test_kmeans_fit_vs_naive(void **state)
{
	size_t n = 600, d = 3, k = 5;
	float *x = make_blobs(n, d, 5, 1.5f, 21);
	float c[5 * 3], cn[5 * 3];
	uint32_t asg[600], asgn[600];
	struct smp_rng rng;

	(void)state;
	assert_int_equal(smp_kmeans_fit(x, n, d, k, 77, 50, NULL, c, asg), 0);
	smp_rng_init(&rng, 77);
	assert_int_equal(smp_kpp_init(x, n, d, k, &rng, NULL, cn), 0);
	naive_lloyd(x, n, d, k, 50, cn, asgn);
	for (size_t i = 0; i < k * d; i++)
		assert_float_equal(c[i], cn[i], 1e-4);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(asg[i], asgn[i]);
	/* a fixed point: each centroid is the mean of its points */
	for (size_t j = 0; j < k; j++) {
		double s[3] = {0}, m = 0;
		for (size_t i = 0; i < n; i++)
			if (asg[i] == j) {
				m++;
				for (size_t l = 0; l < d; l++)
					s[l] += x[i * d + l];
			}
		assert_true(m > 0);
		for (size_t l = 0; l < d; l++)
			assert_float_equal(c[j * d + l], s[l] / m, 1e-4);
	}
	free(x);
}

static void test_kmeans_fit_determinism(void **state)
{
	size_t n = 5000, d = 8, k = 40;
	float *x = make_random(n, d, 22);
	float *a = malloc(k * d * 4), *b = malloc(k * d * 4), *c = malloc(k * d * 4);
	uint32_t *aa = malloc(n * 4), *ab = malloc(n * 4);
	struct smp_ctl one = {.threads = 1}, three = {.threads = 3};

	(void)state;
	assert_int_equal(smp_kmeans_fit(x, n, d, k, 5, 10, &one, a, aa), 0);
	assert_int_equal(smp_kmeans_fit(x, n, d, k, 5, 10, &three, b, ab), 0);
	assert_memory_equal(a, b, k * d * 4);
	assert_memory_equal(aa, ab, n * 4);
	assert_int_equal(smp_kmeans_fit(x, n, d, k, 6, 10, NULL, c, NULL), 0);
	assert_memory_not_equal(a, c, k * d * 4);
	/* duplicates: fewer distinct points than k still works */
	float *g = make_grid(200, 2, 2, 23), cg[10 * 2];
	assert_int_equal(smp_kmeans_fit(g, 200, 2, 10, 1, 0, NULL, cg, NULL), 0);
	/* bad arguments */
	assert_int_equal(smp_kmeans_fit(NULL, n, d, k, 0, 0, NULL, a, NULL), -EINVAL);
	assert_int_equal(smp_kmeans_fit(x, 0, d, k, 0, 0, NULL, a, NULL), -EINVAL);
	assert_int_equal(smp_kmeans_fit(x, n, 0, k, 0, 0, NULL, a, NULL), -EINVAL);
	assert_int_equal(smp_kmeans_fit(x, n, d, 0, 0, 0, NULL, a, NULL), -EINVAL);
	assert_int_equal(smp_kmeans_fit(x, 10, d, 11, 0, 0, NULL, a, NULL), -EINVAL);
	assert_int_equal(smp_kmeans_fit(x, n, d, k, 0, 0, NULL, NULL, NULL), -EINVAL);
	free(g);
	free(aa);
	free(ab);
	free(a);
	free(b);
	free(c);
	free(x);
}

static void test_kmeans_strategy(void **state)
{
	size_t n = 3000, d = 6, k = 25;
	float *x = make_blobs(n, d, 25, 0.4f, 24);
	float *c = malloc(k * d * 4);
	uint32_t *asg = malloc(n * 4);
	size_t *size = calloc(k, sizeof(*size));
	struct smp_result a, b, o;

	(void)state;
	/* Seeds: same seed, same result; another seed, another local
	 * optimum (on data without clusters; well-separated blobs have
	 * one answer whatever the seed). */
	float *u = make_random(n, d, 25);
	assert_int_equal(smp_kmeans(u, n, d, k, 9, NULL, &a), 0);
	assert_int_equal(smp_kmeans(u, n, d, k, 9, NULL, &b), 0);
	assert_int_equal(smp_kmeans(u, n, d, k, 10, NULL, &o), 0);
	check_result(&a, n);
	assert_true(same_order(&a, &b));
	assert_false(same_order(&a, &o));
	smp_result_free(&a);
	smp_result_free(&b);
	smp_result_free(&o);
	free(u);
	assert_int_equal(smp_kmeans(x, n, d, k, 9, NULL, &a), 0);
	check_result(&a, n);
	/* The picks are each cluster's member nearest its centroid, by
	 * cluster size: the fit with the same seed gives the clusters. */
	assert_int_equal(smp_kmeans_fit(x, n, d, k, 9, 0, NULL, c, asg), 0);
	for (size_t i = 0; i < n; i++)
		size[asg[i]]++;
	for (size_t t = 0; t < k; t++) {
		uint32_t p = a.order[t], j = asg[p];
		double dp = smp_sqdist(x + p * d, c + j * d, d);
		for (size_t i = 0; i < n; i++)
			if (asg[i] == j)
				assert_true(smp_sqdist(x + i * d, c + j * d, d) >=
					    dp - 1e-4);
		if (t)
			assert_true(size[asg[a.order[t - 1]]] >= size[j]);
		assert_true(a.score[p] >= 0.5f);
	}
	smp_result_free(&a);
	/* k = n: every sample is a pick */
	assert_int_equal(smp_kmeans(x, 60, d, 60, 1, NULL, &a), 0);
	check_result(&a, 60);
	smp_result_free(&a);
	assert_int_equal(smp_kmeans(x, n, d, 0, 1, NULL, &a), -EINVAL);
	assert_int_equal(smp_kmeans(x, 10, d, 11, 1, NULL, &a), -EINVAL);
	assert_int_equal(smp_kmeans(NULL, n, d, 2, 1, NULL, &a), -EINVAL);
	assert_int_equal(smp_kmeans(x, n, 0, 2, 1, NULL, &a), -EINVAL);
	assert_int_equal(smp_kmeans(x, n, d, 2, 1, NULL, NULL), -EINVAL);
	free(size);
	free(asg);
	free(c);
	free(x);
}

/* ---- typicality --------------------------------------------------------- */

/* typicality.c's constants: the rescaling power, the mean cluster size
 * from which it re-clusters in the rescaled copy, and the neighbourhood
 * K = |C| / 10 clamped to [5, 50] (then to |C| - 1). */
#define TYP_P 0.75
#define TYP_TIED_MIN 200
#define TYP_KMIN 5
#define TYP_KMAX 50
#define TYP_FRAC 10

static size_t typ_k(size_t size)
{
	size_t K = size / TYP_FRAC;

	K = K < TYP_KMIN ? TYP_KMIN : K > TYP_KMAX ? TYP_KMAX : K;
	return K < size - 1 ? K : size - 1;
}

static double naive_meand(const float *x, size_t n, size_t d,
			  const uint32_t *asg, size_t i)
{
	double best[TYP_KMAX];
	size_t nb = 0, K = 0, size = 0;
	double sum = 0;

	for (size_t j = 0; j < n; j++)
		size += asg[j] == asg[i];
	if (size < 2)
		return -1;
	K = typ_k(size);
	for (size_t j = 0; j < n; j++) {
		double v;
		size_t p;
		if (j == i || asg[j] != asg[i])
			continue;
		v = sqrt(smp_sqdist(x + i * d, x + j * d, d));
		if (nb == K && v >= best[K - 1])
			continue;
		p = nb < K ? nb++ : K - 1;
		while (p > 0 && best[p - 1] > v) {
			best[p] = best[p - 1];
			p--;
		}
		best[p] = v;
	}
	for (size_t j = 0; j < nb; j++)
		sum += best[j];
	return sum / (double)nb;
}

/* The clusters typicality picks from, as typicality.c defines them:
 * k-means on x; when n/k >= 200, the copy rescaled by that fit's
 * within-cluster covariance and k-means again on the copy with the same
 * seed. */
static void typ_clusters(const float *x, size_t n, size_t d, size_t k,
			 uint64_t seed, uint32_t *asg)
{
	float *c = malloc(k * d * 4), *z = malloc(n * d * 4);

	assert_non_null(c);
	assert_non_null(z);
	assert_int_equal(smp_kmeans_fit(x, n, d, k, seed, 0, NULL, c, asg), 0);
	if (n / k >= TYP_TIED_MIN) {
		assert_int_equal(smp_whiten(x, n, d, c, asg, TYP_P, NULL, z), 0);
		assert_int_equal(smp_kmeans_fit(z, n, d, k, seed, 0, NULL, c,
						asg), 0);
	}
	free(z);
	free(c);
}

/* typicality on n points of 8 blobs with k picks, against the naive
 * reference: deterministic under the seed, the same for 1, 2 and 3
 * threads, one pick per cluster, largest first, each the most typical
 * member of its cluster; the rest by typicality. */
static void check_typicality(size_t n, size_t k)
{
	size_t d = 4;
	float *x = make_blobs(n, d, 8, 0.7f, 31);
	uint32_t *asg = malloc(n * 4);
	size_t *size = calloc(k, sizeof(*size));
	double *md = malloc(n * sizeof(*md));
	struct smp_result a, b, o, t1, t3;
	struct smp_ctl one = {.threads = 1}, three = {.threads = 3};

	assert_int_equal(smp_typicality(x, n, d, k, 3, NULL, &a), 0);
	assert_int_equal(smp_typicality(x, n, d, k, 3, NULL, &b), 0);
	assert_int_equal(smp_typicality(x, n, d, k, 4, NULL, &o), 0);
	assert_int_equal(smp_typicality(x, n, d, k, 3, &one, &t1), 0);
	assert_int_equal(smp_typicality(x, n, d, k, 3, &three, &t3), 0);
	check_result(&a, n);
	assert_true(same_order(&a, &b));
	assert_true(same_order(&a, &t1));
	assert_true(same_order(&a, &t3));
	assert_false(same_order(&a, &o));
	/* The picks are one per cluster, largest cluster first, each (up to
	 * float rounding) the most typical member of its cluster by a naive
	 * kNN with the size-dependent K. */
	typ_clusters(x, n, d, k, 3, asg);
	for (size_t i = 0; i < n; i++) {
		size[asg[i]]++;
		md[i] = naive_meand(x, n, d, asg, i);
	}
	for (size_t t = 0; t < k; t++) {
		uint32_t p = a.order[t], j = asg[p];
		for (size_t u = 0; u < t; u++)
			assert_true(asg[a.order[u]] != j);
		if (t)
			assert_true(size[asg[a.order[t - 1]]] >= size[j]);
		for (size_t i = 0; i < n; i++)
			if (asg[i] == j && md[i] >= 0)
				assert_true(md[p] <= md[i] * (1 + 1e-4) + 1e-6);
	}
	/* The rest by typicality: mean neighbour distance non-decreasing. */
	for (size_t t = k + 1; t < n; t++)
		if (md[a.order[t]] >= 0 && md[a.order[t - 1]] >= 0)
			assert_true(md[a.order[t]] >=
				    md[a.order[t - 1]] * (1 - 1e-4) - 1e-6);
	smp_result_free(&a);
	smp_result_free(&b);
	smp_result_free(&o);
	smp_result_free(&t1);
	smp_result_free(&t3);
	free(md);
	free(size);
	free(asg);
	free(x);
}

static void test_typicality(void **state)
{
	size_t n = 1500, d = 4;
	float *x = make_blobs(n, d, 8, 0.7f, 31);
	struct smp_result a;

	(void)state;
	check_typicality(1500, 12);     /* n/k = 125: clusters of x */
	check_typicality(2500, 10);     /* n/k = 250: re-clustered (tied) */
	/* A cluster bigger than the 2,000-point reference cap; k = n; a
	 * constant column (a zero eigenvalue of the covariance). */
	float *big = make_random(5000, 3, 32);
	assert_int_equal(smp_typicality(big, 5000, 3, 2, 1, NULL, &a), 0);
	check_result(&a, 5000);
	smp_result_free(&a);
	assert_int_equal(smp_typicality(big, 40, 3, 40, 1, NULL, &a), 0);
	check_result(&a, 40);
	smp_result_free(&a);
	for (size_t i = 0; i < 500; i++)
		big[i * 3 + 1] = 2.0f;
	assert_int_equal(smp_typicality(big, 500, 3, 7, 1, NULL, &a), 0);
	check_result(&a, 500);
	smp_result_free(&a);
	assert_int_equal(smp_typicality(x, n, d, 0, 1, NULL, &a), -EINVAL);
	assert_int_equal(smp_typicality(x, 5, d, 6, 1, NULL, &a), -EINVAL);
	assert_int_equal(smp_typicality(NULL, n, d, 2, 1, NULL, &a), -EINVAL);
	assert_int_equal(smp_typicality(x, n, d, 2, 1, NULL, NULL), -EINVAL);
	free(big);
	free(x);
}

/* More rows than the rescaled fit takes (65,536): the second k-means runs
 * on a seeded sample of z and every row is assigned in blocks. On 10
 * well-separated blobs of 7,000 points each, k = 10 picks one point of
 * each blob; the same seed gives the same order on 1, 2 or 3 threads; a
 * cancel after the first fit ends the call with -ECANCELED. */
static void test_typicality_sampled(void **state)
{
	size_t n = 70000, d = 4, k = 10;
	float *x = malloc(n * d * sizeof(*x));
	struct smp_result a, b, t3;
	struct smp_ctl one = {.threads = 1}, three = {.threads = 3};
	int hit[10] = {0};

	(void)state;
	assert_non_null(x);
	lcg_state = 77;
	for (size_t i = 0; i < n; i++)  /* blob i % 10, centre (30·b, 0, 0, 0) */
		for (size_t j = 0; j < d; j++)
			x[i * d + j] = (j ? 0.0f : 30.0f * (float)(i % k)) +
				       (float)nrand();
	assert_int_equal(smp_typicality(x, n, d, k, 9, &one, &a), 0);
	assert_int_equal(smp_typicality(x, n, d, k, 9, &three, &t3), 0);
	assert_int_equal(smp_typicality(x, n, d, k, 9, NULL, &b), 0);
	check_result(&a, n);
	assert_true(same_order(&a, &t3));
	assert_true(same_order(&a, &b));
	for (size_t t = 0; t < k; t++)
		hit[a.order[t] % k]++;
	for (size_t j = 0; j < k; j++)
		assert_int_equal(hit[j], 1);
	smp_result_free(&a);
	smp_result_free(&b);
	smp_result_free(&t3);
	/* Cancelled once the first fit is done (progress k/4): inside the
	 * second fit or the blockwise assignment, nothing is returned. */
	{
		struct prog_state p = {.cancel_at = k / 4 + 1};
		struct smp_ctl ctl = {.cancel = &p.cancel, .progress = on_progress,
				      .arg = &p};
		assert_int_equal(smp_typicality(x, n, d, k, 9, &ctl, &a),
				 -ECANCELED);
		assert_true(p.last_done >= k / 4);
		assert_null(a.order);
	}
	free(x);
}

/* The neighbourhood grows with the cluster (K = |C|/10): a tight clump of
 * 60 inside a broad cloud of 400 is where the density is at that scale,
 * so the single pick lands in the clump and the clump leads the rest. */
static void test_typicality_neighbourhood(void **state)
{
	size_t n = 460, d = 3;
	float *x = make_random(n, d, 33);
	struct smp_result a;

	(void)state;
	for (size_t i = 400; i < n; i++)
		for (size_t j = 0; j < d; j++)
			x[i * d + j] = 1.5f + 1e-4f * (float)(i - 400 + j);
	assert_int_equal(smp_typicality(x, n, d, 1, 5, NULL, &a), 0);
	check_result(&a, n);
	assert_true(a.order[0] >= 400);
	assert_float_equal(a.score[a.order[0]], 1.0f, 0);
	for (size_t t = 1; t < 60; t++)
		assert_true(a.order[t] >= 400);
	smp_result_free(&a);
	free(x);
}

/* ---- whiten ------------------------------------------------------------- */

/* Covariance (d×d, double) of the rows of z minus their cluster's mean. */
static void within_cov(const float *z, size_t n, size_t d, size_t k,
		       const uint32_t *asg, double *w)
{
	double *mu = calloc(k * d, sizeof(*mu));
	size_t *cnt = calloc(k, sizeof(*cnt));

	assert_non_null(mu);
	assert_non_null(cnt);
	for (size_t i = 0; i < n; i++) {
		cnt[asg[i]]++;
		for (size_t j = 0; j < d; j++)
			mu[asg[i] * d + j] += z[i * d + j];
	}
	for (size_t c = 0; c < k; c++)
		for (size_t j = 0; j < d; j++)
			mu[c * d + j] /= (double)(cnt[c] ? cnt[c] : 1);
	memset(w, 0, d * d * sizeof(*w));
	for (size_t i = 0; i < n; i++)
		for (size_t a = 0; a < d; a++)
			for (size_t b = 0; b < d; b++)
				w[a * d + b] +=
					(z[i * d + a] - mu[asg[i] * d + a]) *
					(z[i * d + b] - mu[asg[i] * d + b]);
	free(cnt);
	free(mu);
}

static void test_whiten(void **state)
{
	size_t n = 3000, d = 5, k = 6;
	float *x = make_blobs(n, d, 6, 0.5f, 51), *z = malloc(n * d * 4);
	float *c = malloc(k * d * 4);
	uint32_t *asg = malloc(n * 4);
	double w[5 * 5];
	volatile int stop = 1;
	struct smp_ctl cancel = {.cancel = &stop};

	(void)state;
	/* Stretch one axis: the brute-force checks below must undo it. */
	for (size_t i = 0; i < n; i++)
		x[i * d + 2] *= 8.0f;
	/* p = 0: a rotation of the centred rows, distances unchanged. */
	assert_int_equal(smp_whiten(x, n, d, NULL, NULL, 0, NULL, z), 0);
	for (size_t i = 0; i + 1 < n; i += 37) {
		double a = smp_sqdist(x + i * d, x + (i + 1) * d, d);
		double b = smp_sqdist(z + i * d, z + (i + 1) * d, d);
		assert_true(fabs(a - b) <= 1e-4 * a + 1e-4);
	}
	/* p = 1 on a clustering: the within-cluster covariance of z is a
	 * multiple of the identity (z is Mahalanobis space for W). The
	 * centroids are the exact cluster means here. */
	assert_int_equal(smp_kmeans_fit(x, n, d, k, 1, 0, NULL, c, asg), 0);
	{
		double *s = calloc(k * d, sizeof(*s));
		size_t *cnt = calloc(k, sizeof(*cnt));
		assert_non_null(s);
		assert_non_null(cnt);
		for (size_t i = 0; i < n; i++) {
			cnt[asg[i]]++;
			for (size_t j = 0; j < d; j++)
				s[asg[i] * d + j] += x[i * d + j];
		}
		for (size_t q = 0; q < k * d; q++)
			c[q] = (float)(s[q] / (double)cnt[q / d]);
		free(cnt);
		free(s);
	}
	assert_int_equal(smp_whiten(x, n, d, c, asg, 1.0, NULL, z), 0);
	within_cov(z, n, d, k, asg, w);
	for (size_t a = 0; a < d; a++)
		for (size_t b = 0; b < d; b++) {
			if (a == b)
				assert_true(fabs(w[a * d + a] / w[0] - 1) < 1e-3);
			else
				assert_true(fabs(w[a * d + b]) < 1e-3 * w[0]);
		}
	/* Bad arguments; cancel. */
	assert_int_equal(smp_whiten(NULL, n, d, NULL, NULL, 0.5, NULL, z), -EINVAL);
	assert_int_equal(smp_whiten(x, n, d, NULL, NULL, 0.5, NULL, NULL), -EINVAL);
	assert_int_equal(smp_whiten(x, n, d, c, NULL, 0.5, NULL, z), -EINVAL);
	assert_int_equal(smp_whiten(x, n, d, NULL, NULL, -1, NULL, z), -EINVAL);
	assert_int_equal(smp_whiten(x, n, d, NULL, NULL, NAN, NULL, z), -EINVAL);
	assert_int_equal(smp_whiten(x, n, d, NULL, NULL, 0.5, &cancel, z),
			 -ECANCELED);
	free(asg);
	free(c);
	free(z);
	free(x);
}

/* ---- pca ---------------------------------------------------------------- */

static void test_pca2(void **state)
{
	size_t n = 400, d = 5;
	float *x = make_random(n, d, 41), *p = malloc(n * 2 * sizeof(float));
	double mu[5] = {0}, cov[25] = {0}, v[2][5];

	(void)state;
	for (size_t i = 0; i < n; i++) { /* stretch: clear eigen-gaps */
		x[i * d + 0] *= 5;
		x[i * d + 1] = x[i * d + 1] * 2 + x[i * d + 0] * 0.3f;
		x[i * d + 2] *= 0.5f;
	}
	assert_int_equal(smp_pca2(x, n, d, p), 0);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < d; j++)
			mu[j] += x[i * d + j] / (double)n;
	for (size_t i = 0; i < n; i++)
		for (size_t a = 0; a < d; a++)
			for (size_t b = 0; b < d; b++)
				cov[a * d + b] += (x[i * d + a] - mu[a]) *
						  (x[i * d + b] - mu[b]);
	for (int e = 0; e < 2; e++) { /* power iteration with deflation */
		double w[5] = {1, 0.5, 0.25, 0.125, 0.0625}, lam = 0;
		for (int it = 0; it < 2000; it++) {
			double y[5] = {0}, nn = 0;
			for (size_t a = 0; a < d; a++)
				for (size_t b = 0; b < d; b++)
					y[a] += cov[a * d + b] * w[b];
			for (size_t a = 0; a < d; a++)
				nn += y[a] * y[a];
			nn = sqrt(nn);
			for (size_t a = 0; a < d; a++)
				w[a] = y[a] / nn;
			lam = nn;
		}
		size_t arg = 0;
		for (size_t a = 1; a < d; a++)
			if (fabs(w[a]) > fabs(w[arg]))
				arg = a;
		for (size_t a = 0; a < d; a++) {
			v[e][a] = w[arg] < 0 ? -w[a] : w[a];
		}
		for (size_t a = 0; a < d; a++)
			for (size_t b = 0; b < d; b++)
				cov[a * d + b] -= lam * v[e][a] * v[e][b];
	}
	for (size_t i = 0; i < n; i++)
		for (int e = 0; e < 2; e++) {
			double s = 0;
			for (size_t a = 0; a < d; a++)
				s += (x[i * d + a] - mu[a]) * v[e][a];
			assert_float_equal(p[2 * i + e], s, 1e-3 * (1 + fabs(s)));
		}
	/* d = 1: the centred value and 0 */
	assert_int_equal(smp_pca2(x, n, 1, p), 0);
	assert_float_equal(p[1], 0, 0);
	assert_int_equal(smp_pca2(x, 1, d, p), 0);
	assert_int_equal(smp_pca2(NULL, n, d, p), -EINVAL);
	assert_int_equal(smp_pca2(x, 0, d, p), -EINVAL);
	assert_int_equal(smp_pca2(x, n, 0, p), -EINVAL);
	assert_int_equal(smp_pca2(x, n, d, NULL), -EINVAL);
	free(p);
	free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dist_bitexact),
		cmocka_unit_test(test_dist_isas),
		cmocka_unit_test(test_coreset_random),
		cmocka_unit_test(test_coreset_clustered),
		cmocka_unit_test(test_coreset_ties),
		cmocka_unit_test(test_coreset_1d_and_k_equals_n),
		cmocka_unit_test(test_coreset_min_distance),
		cmocka_unit_test(test_coreset_switches),
		cmocka_unit_test(test_coreset_large),
		cmocka_unit_test(test_coreset_bad_args),
		cmocka_unit_test(test_cancel),
		cmocka_unit_test(test_random),
		cmocka_unit_test(test_rng_reference),
		cmocka_unit_test(test_rank_sort),
		cmocka_unit_test(test_argmin_bias),
		cmocka_unit_test(test_balance),
		cmocka_unit_test(test_kmeans_fit_vs_naive),
		cmocka_unit_test(test_kmeans_fit_determinism),
		cmocka_unit_test(test_kmeans_strategy),
		cmocka_unit_test(test_typicality),
		cmocka_unit_test(test_typicality_neighbourhood),
		cmocka_unit_test(test_typicality_sampled),
		cmocka_unit_test(test_whiten),
		cmocka_unit_test(test_pca2),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
