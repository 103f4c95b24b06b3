/*
 * test_layout.c — sampling/layout.c: the neighbour-preserving 2-D layout.
 *
 *   determinism   the same seed gives the same bytes with 1, 2 and 3
 *                 threads; another seed gives other bytes
 *   quality       on clusters PCA cannot separate (their means differ in
 *                 dimensions of small variance), the 10-NN kept share of
 *                 the layout is well above PCA's
 *   sampled       max_full below n: the sample is laid out and the rest
 *                 placed; placed rows land by their own cluster; same
 *                 bytes whatever the threads
 *   degenerate    n = 1, 2, 3, identical rows, d = 1: finite coordinates
 *   refusals      bad arguments, NaN input, cancellation
 *   kept          the measure itself: 1 for the identity, refusals
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

#include "sampling/sampling.h"

/* A deterministic generator of the test's own (not the module's). */
static uint64_t rs = 88172645463325252ULL;
static double urand(void)
{
	rs ^= rs << 13;
	rs ^= rs >> 7;
	rs ^= rs << 17;
	return (double)(rs >> 11) / 9007199254740992.0;
}
static double nrand(void)
{
	double u = urand() + 1e-12, v = urand();
	return sqrt(-2 * log(u)) * cos(2 * M_PI * v);
}

/* n rows in d dims: c clusters whose means differ by `sep` along the last
 * d/2 dimensions (noise 0.3 there), while the first d/2 carry large noise
 * (3.0) shared by all: PCA's two axes are noise. lab: OUT cluster. */
static float *clusters(size_t n, size_t d, size_t c, double sep, int *lab)
{
	float *x = malloc(n * d * sizeof(*x));
	double *mu = malloc(c * d * sizeof(*mu));

	assert_non_null(x);
	assert_non_null(mu);
	rs = 88172645463325252ULL;
	for (size_t k = 0; k < c * d; k++)
		mu[k] = sep * nrand();
	for (size_t i = 0; i < n; i++) {
		size_t k = i % c;
		if (lab)
			lab[i] = (int)k;
		for (size_t j = 0; j < d; j++)
			x[i * d + j] = (float)(j < d / 2 ? 3.0 * nrand()
					       : mu[k * d + j] + 0.3 * nrand());
	}
	free(mu);
	return x;
}

static void all_finite(const float *xy, size_t n)
{
	for (size_t i = 0; i < 2 * n; i++)
		assert_true(isfinite(xy[i]));
}

static void test_determinism(void **state)
{
	size_t n = 600, d = 8;
	float *x = clusters(n, d, 6, 2.0, NULL);
	float *a = malloc(n * 2 * sizeof(float)), *b = malloc(n * 2 * sizeof(float));
	(void)state;

	for (int th = 1; th <= 3; th++) {
		struct smp_ctl ctl = { .threads = th };
		assert_int_equal(smp_layout2(x, n, d, 42, &ctl, th == 1 ? a : b), 0);
		if (th > 1)
			assert_memory_equal(a, b, n * 2 * sizeof(float));
	}
	all_finite(a, n);
	assert_int_equal(smp_layout2(x, n, d, 43, NULL, b), 0);
	assert_memory_not_equal(a, b, n * 2 * sizeof(float));
	free(x);
	free(a);
	free(b);
}

static void test_quality_over_pca(void **state)
{
	size_t n = 1200, d = 16;
	float *x = clusters(n, d, 8, 2.0, NULL);
	float *u = malloc(n * 2 * sizeof(float)), *p = malloc(n * 2 * sizeof(float));
	double ku, kp;
	(void)state;

	assert_int_equal(smp_layout2(x, n, d, 1, NULL, u), 0);
	assert_int_equal(smp_pca2(x, n, d, p), 0);
	assert_int_equal(smp_layout_kept(x, n, d, u, 10, 0, 1, &ku), 0);
	assert_int_equal(smp_layout_kept(x, n, d, p, 10, 0, 1, &kp), 0);
	print_message("10-NN kept: layout %.3f, PCA %.3f\n", ku, kp);
	assert_true(ku > kp + 0.1);
	assert_true(ku > 1.5 * kp);
	free(x);
	free(u);
	free(p);
}

/* The cluster of the 2-D nearest of `from`'s rows to row i. */
static int nearest_lab(const float *xy, size_t n, size_t i, const int *lab,
		       const uint8_t *from)
{
	double best = INFINITY;
	int l = -1;

	for (size_t j = 0; j < n; j++) {
		double dx = xy[2 * i] - xy[2 * j], dy = xy[2 * i + 1] - xy[2 * j + 1];
		if (j == i || !from[j] || dx * dx + dy * dy >= best)
			continue;
		best = dx * dx + dy * dy;
		l = lab[j];
	}
	return l;
}

static void test_sampled_and_placed(void **state)
{
	size_t n = 1500, d = 12, m = 400, same = 0, placed = 0;
	int *lab = malloc(n * sizeof(int));
	float *x = clusters(n, d, 5, 3.0, lab);
	float *a = malloc(n * 2 * sizeof(float)), *b = malloc(n * 2 * sizeof(float));
	float *full = malloc(n * 2 * sizeof(float));
	uint8_t *in = calloc(n, 1);
	struct smp_ctl one = { .threads = 1 }, two = { .threads = 2 };
	double ka, kp;
	(void)state;

	assert_int_equal(smp_layout2_ex(x, n, d, 5, m, &one, a), 0);
	assert_int_equal(smp_layout2_ex(x, n, d, 5, m, &two, b), 0);
	assert_memory_equal(a, b, n * 2 * sizeof(float));
	all_finite(a, n);
	/* a sampled layout differs from the full one: the path was taken */
	assert_int_equal(smp_layout2_ex(x, n, d, 5, n, &two, full), 0);
	assert_memory_not_equal(a, full, n * 2 * sizeof(float));
	/* Which rows were laid out: those not at a weighted mean of others
	 * cannot be told from outside, so judge every row by its nearest
	 * other row in 2-D: it is of the same cluster. */
	for (size_t i = 0; i < n; i++)
		in[i] = 1;
	for (size_t i = 0; i < n; i++) {
		placed++;
		same += nearest_lab(a, n, i, lab, in) == lab[i];
	}
	print_message("sampled layout: %zu of %zu rows next to their own"
		      " cluster\n", same, placed);
	assert_true(same >= placed * 95 / 100);
	assert_int_equal(smp_layout_kept(x, n, d, a, 10, 0, 1, &ka), 0);
	assert_int_equal(smp_pca2(x, n, d, b), 0);
	assert_int_equal(smp_layout_kept(x, n, d, b, 10, 0, 1, &kp), 0);
	print_message("10-NN kept: sampled layout %.3f, PCA %.3f\n", ka, kp);
	assert_true(ka > kp);
	free(lab);
	free(x);
	free(a);
	free(b);
	free(full);
	free(in);
}

static void test_degenerate(void **state)
{
	float x1[3] = { 1, 2, 3 }, xy[400 * 2];
	float x2[4] = { 0, 0, 1, 1 };
	float x3[6] = { 0, 0, 0, 1, 5, 5 };
	float same[50 * 4], line[200];
	double k;
	(void)state;

	assert_int_equal(smp_layout2(x1, 1, 3, 1, NULL, xy), 0);
	assert_true(xy[0] == 0 && xy[1] == 0);
	assert_int_equal(smp_layout2(x2, 2, 2, 1, NULL, xy), 0);
	all_finite(xy, 2);
	assert_int_equal(smp_layout2(x3, 3, 2, 1, NULL, xy), 0);
	all_finite(xy, 3);
	for (size_t i = 0; i < 50 * 4; i++)
		same[i] = 0.25f;
	assert_int_equal(smp_layout2(same, 50, 4, 1, NULL, xy), 0);
	all_finite(xy, 50);
	/* d = 1: two groups on a line stay apart */
	for (size_t i = 0; i < 200; i++)
		line[i] = (float)(i < 100 ? i * 0.01 : 50 + i * 0.01);
	assert_int_equal(smp_layout2(line, 200, 1, 1, NULL, xy), 0);
	all_finite(xy, 200);
	assert_int_equal(smp_layout_kept(line, 200, 1, xy, 5, 0, 1, &k), 0);
	print_message("d = 1: 5-NN kept %.3f\n", k);
	assert_true(k > 0.5);
	/* the sampled path with tiny sizes: a sample of 2 */
	assert_int_equal(smp_layout2_ex(line, 200, 1, 1, 2, NULL, xy), 0);
	all_finite(xy, 200);
}

static void test_refusals(void **state)
{
	float x[8] = { 0, 1, 2, 3, 4, 5, 6, 7 }, xy[8];
	volatile int stop = 1;
	struct smp_ctl ctl = { .cancel = &stop };
	size_t n = 300, d = 4;
	float *big = clusters(n, d, 3, 2.0, NULL), *out = malloc(n * 2 * sizeof(float));
	(void)state;

	assert_int_equal(smp_layout2(x, 4, 2, 1, NULL, NULL), -EINVAL);
	assert_int_equal(smp_layout2(NULL, 4, 2, 1, NULL, xy), -EINVAL);
	assert_int_equal(smp_layout2(x, 0, 2, 1, NULL, xy), -EINVAL);
	assert_int_equal(smp_layout2(x, 4, 0, 1, NULL, xy), -EINVAL);
	assert_int_equal(smp_layout2_ex(x, 4, 2, 1, 1, NULL, xy), -EINVAL);
	x[3] = NAN;
	assert_int_equal(smp_layout2(x, 4, 2, 1, NULL, xy), -EINVAL);
	x[3] = INFINITY;
	assert_int_equal(smp_layout2(x, 4, 2, 1, NULL, xy), -EINVAL);
	assert_int_equal(smp_layout2(big, n, d, 1, &ctl, out), -ECANCELED);
	assert_int_equal(smp_layout2_ex(big, n, d, 1, 100, &ctl, out), -ECANCELED);
	free(big);
	free(out);
}

static void test_kept_measure(void **state)
{
	size_t n = 300;
	float *x = clusters(n, 2, 3, 2.0, NULL);
	float *y = malloc(n * 2 * sizeof(float));
	double k;
	(void)state;

	assert_int_equal(smp_layout_kept(x, n, 2, x, 10, 0, 1, &k), 0);
	assert_true(k > 0.999);
	assert_int_equal(smp_layout_kept(x, n, 2, x, 10, 50, 1, &k), 0);
	assert_true(k > 0.999);
	/* a layout that reverses nothing but swaps the axes keeps all too */
	for (size_t i = 0; i < n; i++) {
		y[2 * i] = x[2 * i + 1];
		y[2 * i + 1] = x[2 * i];
	}
	assert_int_equal(smp_layout_kept(x, n, 2, y, 10, 0, 1, &k), 0);
	assert_true(k > 0.999);
	/* all rows at one point in 2-D: at most chance */
	memset(y, 0, n * 2 * sizeof(float));
	assert_int_equal(smp_layout_kept(x, n, 2, y, 10, 0, 1, &k), 0);
	assert_true(k < 0.2);
	assert_int_equal(smp_layout_kept(x, n, 2, y, 0, 0, 1, &k), -EINVAL);
	assert_int_equal(smp_layout_kept(x, n, 2, y, n, 0, 1, &k), -EINVAL);
	assert_int_equal(smp_layout_kept(x, n, 2, NULL, 10, 0, 1, &k), -EINVAL);
	free(x);
	free(y);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_determinism),
		cmocka_unit_test(test_quality_over_pca),
		cmocka_unit_test(test_sampled_and_placed),
		cmocka_unit_test(test_degenerate),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_kept_measure),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
