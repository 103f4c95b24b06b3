/*
 * test_dups.c — duplicate groups (core/dups.h): exact groups by hash;
 * near groups against a brute-force reference written here (every pair,
 * union-find) on random data with planted near-copies, at several
 * distances and dimensions, including a distance of 0, NaN rows and the
 * transitive chain; the mask dedup uses; refusals. With
 * SIEVEFS_DUPS_BENCH=1 it also times 60,000 x 50 (printed, never
 * asserted).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/dups.h"

static void test_exact(void **state)
{
	/* hashes of 2 bytes: 0 1 0 2 1 3 0 */
	const unsigned char h[] = { 0, 0, 0, 1, 0, 0, 0, 2, 0, 1, 0, 3, 0, 0 };
	struct core_dups g;
	uint8_t drop[7];

	(void)state;
	assert_int_equal(core_dups_exact(h, 2, 7, &g), 0);
	assert_int_equal(g.ngroups, 2);
	assert_int_equal(g.start[0], 0);
	assert_int_equal(g.start[1], 3);
	assert_int_equal(g.start[2], 5);
	assert_int_equal(g.member[0], 0);
	assert_int_equal(g.member[1], 2);
	assert_int_equal(g.member[2], 6);
	assert_int_equal(g.member[3], 1);
	assert_int_equal(g.member[4], 4);
	core_dups_mask(&g, 7, drop);
	assert_memory_equal(drop, ((uint8_t[]){ 0, 0, 1, 0, 1, 0, 1 }), 7);
	core_dups_free(&g);
	assert_int_equal(core_dups_exact(h, 2, 0, &g), 0);
	assert_int_equal(g.ngroups, 0);
	core_dups_free(&g);
}

/* The reference: every pair, a label per sample = least index of its
 * component. */
static void brute(const float *x, size_t n, size_t dim, double d,
		  size_t *label)
{
	for (size_t i = 0; i < n; i++)
		label[i] = i;
	for (int changed = 1; changed;) {
		changed = 0;
		for (size_t i = 0; i < n; i++)
			for (size_t j = i + 1; j < n; j++) {
				double s = 0;
				int ok = 1;
				for (size_t k = 0; k < dim; k++) {
					double t = x[i * dim + k] - x[j * dim + k];
					ok &= isfinite(t) != 0;
					s += t * t;
				}
				if (!ok || s > d * d)
					continue;
				size_t m = label[i] < label[j] ? label[i] : label[j];
				if (label[i] != m || label[j] != m) {
					label[i] = label[j] = m;
					changed = 1;
				}
			}
	}
}

static void check_against_brute(const float *x, size_t n, size_t dim,
				double d)
{
	size_t *want = malloc(n * sizeof(*want)), *got = malloc(n * sizeof(*got));
	struct core_dups g;

	assert_non_null(want);
	assert_non_null(got);
	brute(x, n, dim, d, want);
	assert_int_equal(core_dups_near(x, n, dim, d, &g), 0);
	for (size_t i = 0; i < n; i++)
		got[i] = i;
	for (size_t k = 0; k < g.ngroups; k++) {
		assert_true(g.start[k + 1] - g.start[k] >= 2);
		for (size_t m = g.start[k]; m < g.start[k + 1]; m++) {
			got[g.member[m]] = g.member[g.start[k]];
			if (m > g.start[k])
				assert_true(g.member[m] > g.member[m - 1]);
		}
	}
	for (size_t i = 0; i < n; i++)
		if (want[i] != got[i]) {
			print_error("sample %zu: reference group %zu, got %zu"
				    " (n %zu dim %zu d %g)\n", i, want[i],
				    got[i], n, dim, d);
			fail();
		}
	core_dups_free(&g);
	free(want);
	free(got);
}

static double urand(unsigned *s)
{
	*s = *s * 1103515245u + 12345u;
	return ((*s >> 8) & 0xffffff) / (double)0x1000000;
}

static void test_near_vs_brute(void **state)
{
	const size_t dims[] = { 1, 2, 5, 16 };
	const double ds[] = { 0, 0.01, 0.05, 0.2, 0.6 };
	unsigned seed = 7;

	(void)state;
	for (size_t a = 0; a < 4; a++) {
		size_t n = 300, dim = dims[a];
		float *x = malloc(n * dim * sizeof(*x));
		assert_non_null(x);
		for (size_t i = 0; i < n * dim; i++)
			x[i] = (float)urand(&seed);
		/* planted copies: 30 near-copies and 10 exact ones */
		for (size_t c = 0; c < 40; c++) {
			size_t src = c * 5, dst = 200 + c;
			for (size_t k = 0; k < dim; k++)
				x[dst * dim + k] = x[src * dim + k] +
					(c < 30 ? (float)(0.004 * (urand(&seed) - 0.5)) : 0);
		}
		x[299 * dim] = NAN;
		for (size_t b = 0; b < 5; b++)
			check_against_brute(x, n, dim, ds[b]);
		free(x);
	}
}

/* a chain 0 - 0.1 - 0.2 - 0.3 at d 0.1: one group; at d 0.09: none */
static void test_near_chain(void **state)
{
	const float x[] = { 0.0f, 0.1f, 0.2f, 0.3f, 5.0f };
	struct core_dups g;

	(void)state;
	assert_int_equal(core_dups_near(x, 5, 1, 0.1001, &g), 0);
	assert_int_equal(g.ngroups, 1);
	assert_int_equal(g.start[1], 4);
	core_dups_free(&g);
	assert_int_equal(core_dups_near(x, 5, 1, 0.09, &g), 0);
	assert_int_equal(g.ngroups, 0);
	core_dups_free(&g);
	assert_int_equal(core_dups_near(x, 5, 1, -1, &g), -EINVAL);
	assert_int_equal(core_dups_near(x, 5, 1, NAN, &g), -EINVAL);
	assert_int_equal(core_dups_near(x, 5, 0, 0.1, &g), -EINVAL);
	assert_int_equal(core_dups_near(x, 0, 1, 0.1, &g), 0);
	assert_int_equal(g.ngroups, 0);
	core_dups_free(&g);
}

/* dedup: of each near group the best-ranked member stays, the others go
 * last with score 0, in their order */
static void test_rerank(void **state)
{
	/* 0 and 3 within 0.1, 1 and 4 too; 2 alone */
	const float x[] = { 0.0f, 5.0f, 9.0f, 0.05f, 5.05f };
	uint32_t order[] = { 3, 1, 2, 4, 0 };
	float score[] = { 0.2f, 0.9f, 0.8f, 1.0f, 0.7f };
	size_t kept = 0;

	(void)state;
	assert_int_equal(core_dups_rerank(x, 5, 1, 0.1, order, score, &kept), 0);
	assert_int_equal(kept, 3);
	assert_memory_equal(order, ((uint32_t[]){ 3, 1, 2, 4, 0 }), 5 * 4);
	assert_true(score[4] == 0 && score[0] == 0 && score[3] == 1.0f);
	assert_int_equal(core_dups_rerank(x, 5, 1, -1, order, score, &kept),
			 -EINVAL);
}

static void test_bench(void **state)
{
	size_t n = 60000, dim = 50, planted = 600;
	float *x;
	struct core_dups g;
	struct timespec t0, t1, c0, c1;
	unsigned seed = 11;

	(void)state;
	if (!getenv("SIEVEFS_DUPS_BENCH"))
		return;
	x = malloc(n * dim * sizeof(*x));
	assert_non_null(x);
	/* unit-norm Gaussian-like vectors, as an embedder's */
	for (size_t i = 0; i < n; i++) {
		double s = 0;
		for (size_t k = 0; k < dim; k++) {
			double v = urand(&seed) + urand(&seed) + urand(&seed) - 1.5;
			x[i * dim + k] = (float)v;
			s += v * v;
		}
		for (size_t k = 0; k < dim; k++)
			x[i * dim + k] /= (float)sqrt(s);
	}
	for (size_t c = 0; c < planted; c++)
		for (size_t k = 0; k < dim; k++)
			x[(n - 1 - c) * dim + k] = x[c * dim + k] +
				(float)(0.002 * (urand(&seed) - 0.5));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	assert_int_equal(core_dups_near(x, n, dim, 0.05, &g), 0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("# dups bench: n %zu dim %zu max_distance 0.05: %zu groups"
	       " (%zu planted) in %.3f s (%.3f s of CPU)\n", n, dim,
	       g.ngroups, planted, (double)(t1.tv_sec - t0.tv_sec) +
	       1e-9 * (double)(t1.tv_nsec - t0.tv_nsec),
	       (double)(c1.tv_sec - c0.tv_sec) +
	       1e-9 * (double)(c1.tv_nsec - c0.tv_nsec));
	assert_true(g.ngroups >= planted);
	core_dups_free(&g);
	free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exact),
		cmocka_unit_test(test_near_vs_brute),
		cmocka_unit_test(test_near_chain),
		cmocka_unit_test(test_rerank),
		cmocka_unit_test(test_bench),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
