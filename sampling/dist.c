/*
 * dist.c — the reference squared distance of sampling.h and its fast forms.
 *
 * Definition (smp_dist2_ref): for each coordinate j, t = (double)a[j] -
 * (double)b[j], lane[j % 8] += t * t in increasing j; then
 * ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). Every operation is a single IEEE
 * double operation, so any implementation that performs the same operations
 * in the same order — scalar, or vectors holding the 8 lanes in one 8-wide
 * register (AVX-512), two 4-wide (AVX2) or four 2-wide (SSE2, NEON) as
 * below — returns the same bits. The value is symmetric in
 * a and b (a-b and b-a round to exact negatives) and cannot overflow for
 * finite floats (at most 2^20 terms of at most (2*FLT_MAX)^2 < 2^258).
 *
 * Why 8 lanes: they fill the registers of every vector unit we meet, so
 * the exact distance costs about what an arbitrary-order one would.
 *
 * Kernels (fd, rows, gather) exist once per instruction set and are chosen
 * once per process by the CPU (smp_dist_isa): generic vector code for the
 * baseline (SSE2 on x86-64, NEON, ...), intrinsics for AVX2 and AVX-512F.
 * We build without -march, so this is how a newer CPU gets its wider
 * registers. The AVX2 gather runs 68 instructions per 32-float row (was
 * 96 with GCC's target_clones of generic code; callgrind, 1M x 32), the
 * AVX-512 one about 45. Tests compare every kernel the CPU runs with the
 * reference, bit for bit.
 *
 * Contraction of t*t + acc into a fused multiply-add would change the bits,
 * so it is switched off here for every compiler (GCC's ISO C mode already
 * has it off; clang's default is "on within an expression").
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "sampling/internal.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

typedef double v2d __attribute__((vector_size(16)));
typedef double v4d __attribute__((vector_size(32)));
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

/* smp_argmin_bias (k-means) keeps GCC's target_clones dispatch. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && \
	defined(__linux__)
#define X86_ISAS 1
#include <immintrin.h>
#define CLONES __attribute__((target_clones("avx2", "default")))
#else
#define X86_ISAS 0
#define CLONES
#endif

/* Adds t*t for the coordinates j..d-1 left over by the vector loop. */
static inline __attribute__((always_inline)) void
tail_d2(const float *a, const double *b, size_t j, size_t d, double *l)
{
	for (; j < d; j++) {
		double t = (double)a[j] - b[j];
		l[j & 7] += t * t;
	}
}

/* Generic: lanes 0..3 in lo, 4..7 in hi, each split in two registers by
 * SSE2 and NEON. Always inlined, as are the row kernels below: a function
 * taking or returning a vector wider than the baseline's registers has a
 * different ABI in each instruction set (GCC's -Wpsabi). */
static inline __attribute__((always_inline)) double
row_d4(const float *a, const double *b, size_t d)
{
	v4d lo = {0, 0, 0, 0}, hi = {0, 0, 0, 0}, s;
	v2d u;
	size_t j = 0;

	for (; j + 8 <= d; j += 8) {
		v8f f;
		v4d c0, c1, t0, t1;
		memcpy(&f, a + j, sizeof(f));
		memcpy(&c0, b + j, sizeof(c0));
		memcpy(&c1, b + j + 4, sizeof(c1));
		t0 = __builtin_convertvector(
			     __builtin_shufflevector(f, f, 0, 1, 2, 3), v4d) -
		     c0;
		t1 = __builtin_convertvector(
			     __builtin_shufflevector(f, f, 4, 5, 6, 7), v4d) -
		     c1;
		lo += t0 * t0;
		hi += t1 * t1;
	}
	if (j < d) {
		double l[8];
		memcpy(l, &lo, sizeof(lo));
		memcpy(l + 4, &hi, sizeof(hi));
		tail_d2(a, b, j, d, l);
		memcpy(&lo, l, sizeof(lo));
		memcpy(&hi, l + 4, sizeof(hi));
	}
	/* (l0+l4, l1+l5, l2+l6, l3+l7), then ((0)+(2)) + ((1)+(3)) */
	s = lo + hi;
	u = __builtin_shufflevector(s, s, 0, 1) +
	    __builtin_shufflevector(s, s, 2, 3);
	return u[0] + u[1];
}

#if X86_ISAS
/* The same operations written with intrinsics for AVX2 and AVX-512: GCC 12
 * widens a generic 4-float vector two lanes at a time, doubling the
 * instructions of the loop. AVX2: lanes 0..3 in lo, 4..7 in hi. */
static inline __attribute__((always_inline, target("avx2"))) double
row_avx2(const float *a, const double *b, size_t d)
{
	__m256d lo = _mm256_setzero_pd(), hi = _mm256_setzero_pd(), s;
	__m128d u;
	size_t j = 0;

	for (; j + 8 <= d; j += 8) {
		__m256d t0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(a + j)),
					   _mm256_loadu_pd(b + j));
		__m256d t1 = _mm256_sub_pd(
			_mm256_cvtps_pd(_mm_loadu_ps(a + j + 4)),
			_mm256_loadu_pd(b + j + 4));
		lo = _mm256_add_pd(lo, _mm256_mul_pd(t0, t0));
		hi = _mm256_add_pd(hi, _mm256_mul_pd(t1, t1));
	}
	if (j < d) {
		double l[8];
		_mm256_storeu_pd(l, lo);
		_mm256_storeu_pd(l + 4, hi);
		tail_d2(a, b, j, d, l);
		lo = _mm256_loadu_pd(l);
		hi = _mm256_loadu_pd(l + 4);
	}
	s = _mm256_add_pd(lo, hi);
	u = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
	return _mm_cvtsd_f64(_mm_add_sd(u, _mm_unpackhi_pd(u, u)));
}

/* AVX-512: lanes 0..7 in one register. */
static inline __attribute__((always_inline, target("avx512f"))) double
row_avx512(const float *a, const double *b, size_t d)
{
	__m512d acc = _mm512_setzero_pd();
	__m256d s;
	__m128d u;
	size_t j = 0;

	for (; j + 8 <= d; j += 8) {
		__m512d t = _mm512_sub_pd(_mm512_cvtps_pd(_mm256_loadu_ps(a + j)),
					  _mm512_loadu_pd(b + j));
		acc = _mm512_add_pd(acc, _mm512_mul_pd(t, t));
	}
	if (j < d) {
		double l[8];
		_mm512_storeu_pd(l, acc);
		tail_d2(a, b, j, d, l);
		acc = _mm512_loadu_pd(l);
	}
	s = _mm256_add_pd(_mm512_castpd512_pd256(acc),
			  _mm512_extractf64x4_pd(acc, 1));
	u = _mm_add_pd(_mm256_castpd256_pd128(s), _mm256_extractf128_pd(s, 1));
	return _mm_cvtsd_f64(_mm_add_sd(u, _mm_unpackhi_pd(u, u)));
}
#endif

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

/* row: one of the row kernels above, a constant: the call is inlined. */
static inline __attribute__((always_inline)) void
gather_body(const float *x, size_t d, const uint32_t *idx, size_t m,
	    const double *c, double *out,
	    double (*row)(const float *, const double *, size_t))
{
	size_t i = 0;

	for (; i < m && i < PF; i++)
		prefetch_row(x, d, idx[i]);
	for (i = 0; i + PF < m; i++) {
		prefetch_row(x, d, idx[i + PF]);
		out[i] = row(x + (size_t)idx[i] * d, c, d);
	}
	for (; i < m; i++)
		out[i] = row(x + (size_t)idx[i] * d, c, d);
}

/* One set of kernels per instruction set, from the same inlined code. */
struct kern {
	double (*fd)(const float *a, const double *b, size_t d);
	void (*rows)(const float *x, size_t d, size_t lo, size_t hi,
		     const double *c, double *out);
	void (*gather)(const float *x, size_t d, const uint32_t *idx,
		       size_t m, const double *c, double *out);
};

#define KERNELS(sfx, attr, row)                                               \
	attr static double fd_##sfx(const float *a, const double *b,          \
				    size_t d)                                 \
	{                                                                     \
		return row(a, b, d);                                          \
	}                                                                     \
	attr static void rows_##sfx(const float *x, size_t d, size_t lo,      \
				    size_t hi, const double *c, double *out)  \
	{                                                                     \
		for (size_t i = lo; i < hi; i++)                              \
			out[i - lo] = row(x + i * d, c, d);                   \
	}                                                                     \
	attr static void gather_##sfx(const float *x, size_t d,               \
				      const uint32_t *idx, size_t m,          \
				      const double *c, double *out)           \
	{                                                                     \
		gather_body(x, d, idx, m, c, out, row);                       \
	}                                                                     \
	static const struct kern kern_##sfx = {fd_##sfx, rows_##sfx,          \
					       gather_##sfx}

KERNELS(generic, , row_d4);
#if X86_ISAS
KERNELS(avx2, __attribute__((target("avx2"))), row_avx2);
KERNELS(avx512, __attribute__((target("avx512f"))), row_avx512);
#endif

static const struct kern *kern = &kern_generic;
static pthread_once_t kern_once = PTHREAD_ONCE_INIT;

static int isa_ok(int isa)
{
	switch (isa) {
	case SMP_ISA_GENERIC:
		return 1;
#if X86_ISAS
	case SMP_ISA_AVX2:
		return __builtin_cpu_supports("avx2");
	case SMP_ISA_AVX512:
		return __builtin_cpu_supports("avx512f");
#endif
	default:
		return 0;
	}
}

static const struct kern *isa_kern(int isa)
{
#if X86_ISAS
	if (isa == SMP_ISA_AVX512)
		return &kern_avx512;
	if (isa == SMP_ISA_AVX2)
		return &kern_avx2;
#else
	(void)isa;                 /* only the generic kernel is built */
#endif
	return &kern_generic;
}

static int best_isa(void)
{
	if (isa_ok(SMP_ISA_AVX512))
		return SMP_ISA_AVX512;
	if (isa_ok(SMP_ISA_AVX2))
		return SMP_ISA_AVX2;
	return SMP_ISA_GENERIC;
}

static void kern_init(void)
{
	kern = isa_kern(best_isa());
}

static const struct kern *kern_get(void)
{
	pthread_once(&kern_once, kern_init);
	return kern;
}

int smp_dist_isa(int isa)
{
	pthread_once(&kern_once, kern_init);
	if (isa == SMP_ISA_AUTO)
		isa = best_isa();
	if (!isa_ok(isa))
		return -ENOTSUP;
	kern = isa_kern(isa);
	return 0;
}

double smp_dist2_fd(const float *a, const double *b, size_t d)
{
	return kern_get()->fd(a, b, d);
}

void smp_dist2_rows(const float *x, size_t d, size_t lo, size_t hi,
		    const double *c, double *out)
{
	kern_get()->rows(x, d, lo, hi, c, out);
}

void smp_dist2_gather(const float *x, size_t d, const uint32_t *idx,
		      size_t m, const double *c, double *out)
{
	kern_get()->gather(x, d, idx, m, c, out);
}

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
