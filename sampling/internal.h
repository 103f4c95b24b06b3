/*
 * internal.h — helpers shared by the strategies of sampling/ (not part of
 * the module's contract; only the .c files of sampling/ include it).
 *
 *   rng     xoshiro256** seeded through splitmix64: reproducible on every
 *           platform, one generator per call (no global state, no rand()).
 *   ctl     cancellation polling and rate-limited progress reports.
 *   team    a tiny fork-join pool of pthreads created for one call and
 *           joined before it returns; the caller's thread is member 0.
 *   rank    the common tail of every strategy: sort "the rest" by score.
 *   dist    the reference squared distance (see sampling.h) and its fast
 *           forms, which return bit-identical values.
 *
 * Threading: none of these keep global state; a team belongs to one call.
 */
#ifndef SIEVEFS_SAMPLING_INTERNAL_H
#define SIEVEFS_SAMPLING_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "sampling/sampling.h"

/* ---- rng ---------------------------------------------------------------- */
struct smp_rng {
	uint64_t s[4];
};

void smp_rng_init(struct smp_rng *r, uint64_t seed);
uint64_t smp_rng_next(struct smp_rng *r);
/* Uniform in [0, n), unbiased (Lemire's multiply-and-reject); n > 0. */
uint64_t smp_rng_below(struct smp_rng *r, uint64_t n);
/* Uniform double in [0, 1), 53 random bits. */
double smp_rng_unit(struct smp_rng *r);
/* Fisher-Yates shuffle of a[0..n). */
void smp_shuffle_u32(uint32_t *a, size_t n, struct smp_rng *r);
/* idx[0..n) = 0..n-1, then idx[0..m) a uniform random m-subset in random
 * order (partial Fisher-Yates from the front: step i swaps idx[i] with
 * idx[i + below(n - i)]). m <= n. */
void smp_sample_u32(uint32_t *idx, size_t n, size_t m, struct smp_rng *r);

/* ---- ctl ---------------------------------------------------------------- */
int smp_ctl_threads(const struct smp_ctl *ctl);
int smp_cancelled(const struct smp_ctl *ctl);
double smp_now(void); /* monotonic seconds */

/* Rate-limited progress: tick() reports at most every 10 ms, end() always. */
struct smp_prog {
	const struct smp_ctl *ctl;
	size_t total;
	double next;
};
void smp_prog_init(struct smp_prog *p, const struct smp_ctl *ctl,
		   size_t total);
void smp_prog_tick(struct smp_prog *p, size_t done);
void smp_prog_end(struct smp_prog *p);

/* A ctl for one phase of a longer job: its progress (done/total of the
 * phase) is reported to `outer` as lo + span·done/total out of `total`.
 * Pass &s->in to the phase. */
struct smp_subctl {
	struct smp_ctl in;
	const struct smp_ctl *outer;
	size_t lo, span, total;
};
void smp_subctl_init(struct smp_subctl *s, const struct smp_ctl *outer,
		     size_t lo, size_t span, size_t total);
/* ctl->progress(done, total) if there is one. */
void smp_report(const struct smp_ctl *ctl, size_t done, size_t total);

/* ---- team --------------------------------------------------------------- */
struct smp_team;
typedef void (*smp_team_fn)(void *arg, int tid, int nthreads);

/* Creates a team of up to `threads` members (the caller included). If a
 * thread cannot be started the team is simply smaller; returns NULL only
 * on -ENOMEM, and a NULL team runs everything on the caller's thread. */
struct smp_team *smp_team_create(int threads);
/* Runs fn(arg, tid, n) on every member, tid 0 on the caller; returns when
 * all have returned. fn must not fail (it records errors in arg). */
void smp_team_run(struct smp_team *t, smp_team_fn fn, void *arg);
int smp_team_size(const struct smp_team *t);
void smp_team_destroy(struct smp_team *t); /* joins; NULL-safe */

/* ---- result and ranking ------------------------------------------------- */
/* Allocates out->order and out->score for n; -ENOMEM. */
int smp_result_alloc(struct smp_result *out, size_t n);
/* Sorts idx[0..m) by score[idx] descending, ties by idx ascending. Scores
 * must be in [0,1] (not NaN). Radix sort, O(m) extra memory; -ENOMEM. */
int smp_rank_by_score(uint32_t *idx, size_t m, const float *score);
/* Fills out->order as: picks[0..npicks) in that order, then every other
 * candidate by score descending (ties: index ascending). out->score must
 * already hold every score. Returns 0 or -ENOMEM. */
int smp_finish_order(struct smp_result *out, const uint32_t *picks,
		     size_t npicks);

/* smp_coreset with its layout pinned (tests, benchmarks): AUTO switches
 * by candidate counts, FLAT never leaves the flat layout, PARTS switches
 * to parts after the first pick and stays, ALTERNATE switches at every
 * pick. *switches (may be NULL) gets the number of layout switches. Same
 * picks and scores in every case. */
enum {
	SMP_LAYOUT_AUTO,
	SMP_LAYOUT_FLAT,
	SMP_LAYOUT_PARTS,
	SMP_LAYOUT_ALTERNATE
};
int smp_coreset_ex(const float *x, size_t n, size_t d, size_t k,
		   size_t start, float min_distance,
		   const struct smp_ctl *ctl, int layout, size_t *switches,
		   struct smp_result *out);

/* score[order[r]] = 1 - r/(n-1) (1 when n = 1): scores linear in rank. */
void smp_linear_scores(struct smp_result *out);

/* ---- dist --------------------------------------------------------------- */
/* smp_dist2_ref(a, b, d) with b already widened to double: bit-identical. */
double smp_dist2_fd(const float *a, const double *b, size_t d);
/* out[i - lo] = smp_dist2_fd(x + i*d, c, d) for i in [lo, hi). */
void smp_dist2_rows(const float *x, size_t d, size_t lo, size_t hi,
		    const double *c, double *out);
/* out[i] = smp_dist2_fd(x + idx[i]*d, c, d) for i in [0, m). */
void smp_dist2_gather(const float *x, size_t d, const uint32_t *idx,
		      size_t m, const double *c, double *out);

/* The instruction set of the three kernels above: AUTO (the best the CPU
 * runs; the default), or one pinned for tests, which compare them bit for
 * bit. Process-wide, not for use while another thread runs a strategy.
 * 0, or -ENOTSUP if the CPU lacks it. */
enum { SMP_ISA_AUTO, SMP_ISA_GENERIC, SMP_ISA_AVX2, SMP_ISA_AVX512 };
int smp_dist_isa(int isa);

/* argmin over j < k of cn[j] - 2·g[j] (ties: lowest j; NaN never wins),
 * its value in *minval (INFINITY and 0 when k = 0). */
uint32_t smp_argmin_bias(const float *g, const float *cn, size_t k,
			 float *minval);

/* Plain squared distances for k-means and kNN (float inputs, double sum,
 * any order: no exactness contract). */
double smp_sqdist(const float *a, const float *b, size_t d);

/* Checks a matrix argument: x non-NULL, 1 <= n <= SMP_N_MAX,
 * 1 <= d <= SMP_D_MAX, n*d*4 fits in size_t. 0 or -EINVAL. */
int smp_check_matrix(const float *x, size_t n, size_t d);

/* Makes OpenBLAS single-threaded, once per process (our own threads split
 * the work; see kmeans.c). */
void smp_blas_init(void);

/* One k-means assignment pass: assign[i] = nearest of the k centroids c
 * (ties: lowest id), dist2[i] = its squared distance (clamped at 0; dist2
 * may be NULL); xn[i] = ||x_i||². SGEMM over blocks whose size depends
 * only on k, so the result does not depend on the team's size. 0, -EINVAL
 * (k or d over INT32_MAX), -ENOMEM, -ECANCELED. */
int smp_assign(struct smp_team *team, const float *x, size_t n, size_t d,
	       const float *c, size_t k, const float *xn, uint32_t *assign,
	       float *dist2, const struct smp_ctl *ctl);

/* Lloyd iterations from the centroids in c (k*d, updated in place); see
 * kmeans.c for the rules. assign, dist2: OUT, n each (required). */
int smp_lloyd(struct smp_team *team, const float *x, size_t n, size_t d,
	      size_t k, int iters, const struct smp_ctl *ctl, float *c,
	      uint32_t *assign, float *dist2);

/* The rescaled copy of x that typicality clusters in (see whiten.c):
 * z = (x - mean) · V · diag(λ^(-p/2)) / max scale, V and λ the
 * eigenpairs of the within-cluster covariance of the clustering (c: k*d
 * centroids, asg: n cluster ids), or of the plain covariance when c and
 * asg are both NULL. 0 <= p <= 4. z: OUT n*d floats. d <= 8192. 0,
 * -EINVAL, -ENOMEM, -EIO (LAPACK failed), -ECANCELED. Single-threaded;
 * depends only on its inputs. */
int smp_whiten(const float *x, size_t n, size_t d, const float *c,
	       const uint32_t *asg, double p, const struct smp_ctl *ctl,
	       float *z);
/* The two halves of smp_whiten. smp_whiten_fit: the mean (mu, OUT d
 * doubles) and the scaled axes (w, OUT d*d floats) from all of x; same
 * arguments and errors as smp_whiten. smp_whiten_apply: z = (x_r - mu)·w
 * for `rows` rows r — x[idx[i]] when idx is non-NULL, else x[lo + i] —
 * in blocks, one SGEMM each (so a row's result does not depend on how the
 * rows are split between calls of whole blocks); z: OUT rows*d floats; d
 * at most INT32_MAX. 0, -ENOMEM, -ECANCELED. */
int smp_whiten_fit(const float *x, size_t n, size_t d, const float *c,
		   const uint32_t *asg, double p, const struct smp_ctl *ctl,
		   double *mu, float *w);
int smp_whiten_apply(const float *x, size_t d, const uint32_t *idx,
		     size_t lo, size_t rows, const double *mu, const float *w,
		     const struct smp_ctl *ctl, float *z);

/* out[i] = ||x_i||² (summed in double) for n rows of d floats. */
void smp_row_norms(const float *x, size_t n, size_t d, float *out);

/* k-means++ centroids (see kmeans.c) from a seeded subsample into c. */
int smp_kpp_init(const float *x, size_t n, size_t d, size_t k,
		 struct smp_rng *rng, const struct smp_ctl *ctl, float *c);

#endif
