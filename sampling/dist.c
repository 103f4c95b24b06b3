/*
 * dist.c — the reference squared distance of sampling.h and its fast forms.
 *
 * Definition (smp_dist2_ref): for each coordinate j, t = (double)a[j] -
 * (double)b[j], lane[j % 8] += t * t in increasing j; then
 * ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). Every operation is a single IEEE
 * double operation, so any implementation that performs the same operations
 * in the same order — scalar, or 2-wide vectors holding lanes (0,1), (2,3),
 * (4,5), (6,7) as below — returns the same bits. The value is symmetric in
 * a and b (a-b and b-a round to exact negatives) and cannot overflow for
 * finite floats (at most 2^20 terms of at most (2*FLT_MAX)^2 < 2^258).
 *
 * Why 8 lanes: the vector form keeps 4 independent 2-wide accumulators,
 * which is what SSE2 (every x86-64) and NEON run at full speed, so the
 * exact distance costs about what an arbitrary-order one would.
 *
 * Contraction of t*t + acc into a fused multiply-add would change the bits,
 * so it is switched off here for every compiler (GCC's ISO C mode already
 * has it off; clang's default is "on within an expression").
 */
#include <math.h>
#include <string.h>

#include "sampling/internal.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

typedef double v4d __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));

/* The kernels below are compiled twice (target_clones): once for plain
 * x86-64 (SSE2, where GCC splits each 4-wide operation in two) and once
 * for AVX2, picked at load time by the CPU. Both perform the operations of
 * the definition, lane for lane, so they return the same bits. Elsewhere
 * the attribute is dropped and the generic vector code is used. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
	defined(__linux__)
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define CLONES
#endif

/* Macros, not functions: a function returning a 32-byte vector would have
 * a different ABI in the two clones (GCC's -Wpsabi). */
#define LOAD4F(v, p)                                                          \
	do {                                                                  \
		v4f f_;                                                       \
		memcpy(&f_, (p), sizeof(f_));                                 \
		(v) = __builtin_convertvector(f_, v4d);                       \
	} while (0)
#define LOAD4D(v, p) memcpy(&(v), (p), sizeof(v4d))

/* lo holds lanes 0..3, hi lanes 4..7 of the definition. */
static inline __attribute__((always_inline)) double
row_d2(const float *a, const double *b, size_t d)
{
	v4d lo = {0, 0, 0, 0}, hi = {0, 0, 0, 0}, t;
	double l[8];
	size_t j = 0;

	for (; j + 8 <= d; j += 8) {
		v4d a0, a1, b0, b1, t0, t1;
		LOAD4F(a0, a + j);
		LOAD4F(a1, a + j + 4);
		LOAD4D(b0, b + j);
		LOAD4D(b1, b + j + 4);
		t0 = a0 - b0;
		t1 = a1 - b1;
		lo += t0 * t0;
		hi += t1 * t1;
	}
	if (j == d) {
		t = lo + hi; /* (l0+l4, l1+l5, l2+l6, l3+l7) */
		return (t[0] + t[2]) + (t[1] + t[3]);
	}
	memcpy(l, &lo, sizeof(lo));
	memcpy(l + 4, &hi, sizeof(hi));
	for (; j < d; j++) {
		double u = (double)a[j] - b[j];
		l[j & 7] += u * u;
	}
	return ((l[0] + l[4]) + (l[2] + l[6])) +
	       ((l[1] + l[5]) + (l[3] + l[7]));
}

CLONES double smp_dist2_fd(const float *a, const double *b, size_t d)
{
	return row_d2(a, b, d);
}

double smp_dist2_ref(const float *a, const float *b, size_t d)
{
	double l[8] = {0, 0, 0, 0, 0, 0, 0, 0};

	for (size_t j = 0; j < d; j++) {
		double t = (double)a[j] - (double)b[j];
		l[j & 7] += t * t;
	}
	return ((l[0] + l[4]) + (l[2] + l[6])) +
	       ((l[1] + l[5]) + (l[3] + l[7]));
}

CLONES void smp_dist2_rows(const float *x, size_t d, size_t lo, size_t hi,
			   const double *c, double *out)
{
	for (size_t i = lo; i < hi; i++)
		out[i - lo] = row_d2(x + i * d, c, d);
}

/* Rows are fetched in the order given, usually far apart: a software
 * prefetch PF rows ahead keeps many misses in flight. Measured on random
 * 128-byte rows of a 128 MB matrix: 36 ns/row at PF 4, 31 at 8, 13 at 32;
 * callers should hand over batches of a few hundred rows, as the pipeline
 * restarts with each call (13 ns/row with 256-row batches, 23 with 64). */
#define PF 32

static inline __attribute__((always_inline)) void
prefetch_row(const float *x, size_t d, uint32_t i)
{
	const char *r = (const char *)(x + (size_t)i * d);

	__builtin_prefetch(r);
	if (d > 16)
		__builtin_prefetch(r + 64);
}

CLONES void smp_dist2_gather(const float *x, size_t d, const uint32_t *idx,
			     size_t m, const double *c, double *out)
{
	size_t i = 0;

	for (; i < m && i < PF; i++)
		prefetch_row(x, d, idx[i]);
	for (i = 0; i + PF < m; i++) {
		prefetch_row(x, d, idx[i + PF]);
		out[i] = row_d2(x + (size_t)idx[i] * d, c, d);
	}
	for (; i < m; i++)
		out[i] = row_d2(x + (size_t)idx[i] * d, c, d);
}

typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

/* Lane l keeps the first j ≡ l (mod 8) with the smallest v (strict <), so
 * the lowest index among the lanes holding the minimum is the first
 * index of the minimum overall, as a scalar scan would find it. */
CLONES uint32_t smp_argmin_bias(const float *g, const float *cn, size_t k,
				float *minval)
{
	v8f best = {INFINITY, INFINITY, INFINITY, INFINITY, INFINITY, INFINITY,
		    INFINITY, INFINITY};
	v8i bidx = {0, 0, 0, 0, 0, 0, 0, 0}, idx = {0, 1, 2, 3, 4, 5, 6, 7};
	const v8i step = {8, 8, 8, 8, 8, 8, 8, 8};
	float bv = INFINITY;
	uint32_t bi = 0;
	size_t j = 0;

	for (; j + 8 <= k; j += 8) {
		v8f a, b, v;
		v8i lt;
		memcpy(&a, cn + j, sizeof(a));
		memcpy(&b, g + j, sizeof(b));
		v = a - 2.0f * b;
		lt = v < best;
		best = (v8f)(((v8i)v & lt) | ((v8i)best & ~lt));
		bidx = (idx & lt) | (bidx & ~lt);
		idx += step;
	}
	for (int l = 0; l < 8; l++)
		if (best[l] < bv || (best[l] == bv && (uint32_t)bidx[l] < bi)) {
			bv = best[l];
			bi = (uint32_t)bidx[l];
		}
	for (; j < k; j++) {
		float v = cn[j] - 2.0f * g[j];
		if (v < bv) {
			bv = v;
			bi = (uint32_t)j;
		}
	}
	*minval = bv;
	return bi;
}

double smp_sqdist(const float *a, const float *b, size_t d)
{
	double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
	size_t j = 0;

	for (; j + 4 <= d; j += 4) {
		double t0 = (double)a[j] - b[j], t1 = (double)a[j + 1] - b[j + 1];
		double t2 = (double)a[j + 2] - b[j + 2];
		double t3 = (double)a[j + 3] - b[j + 3];
		s0 += t0 * t0;
		s1 += t1 * t1;
		s2 += t2 * t2;
		s3 += t3 * t3;
	}
	for (; j < d; j++) {
		double t = (double)a[j] - b[j];
		s0 += t * t;
	}
	return (s0 + s1) + (s2 + s3);
}
