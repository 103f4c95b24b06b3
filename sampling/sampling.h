/*
 * sampling.h — the sampling strategies of sievefs: pure algorithms over
 * float32 matrices (docs/design.md §2.1 "sampling/"). No file or network I/O.
 *
 * Conventions shared by every function here:
 *   - Inputs are row-major `const float *x`, n rows of d floats; never
 *     modified and never kept after the call returns.
 *   - Return 0, or a negative errno: -EINVAL (bad arguments), -ENOMEM,
 *     -ECANCELED (ctl->cancel became non-zero; everything is freed and *out
 *     is left empty). Nothing aborts on bad input or on out-of-memory.
 *   - Every strategy fills a struct smp_result: `order` ranks ALL n
 *     candidates (order[0] is the most important) and score[i] in [0,1] is
 *     candidate i's importance, non-increasing along `order`. On failure
 *     *out is zeroed, so smp_result_free() is always safe.
 *   - Blocking: every call runs to completion on the caller's thread and may
 *     use up to ctl->threads threads of its own (joined before returning).
 *     Calls share no state: any number may run at once on different threads.
 *   - OpenBLAS: the first call that needs it (kmeans, typicality, pca2)
 *     sets OpenBLAS to one thread for the whole process
 *     (openblas_set_num_threads(1), once), as STYLE.md asks; our own
 *     threads split the work. coreset, random and balance do not use BLAS.
 */
#ifndef SIEVEFS_SAMPLING_H
#define SIEVEFS_SAMPLING_H

#include <stddef.h>
#include <stdint.h>

/* Caps: indices are uint32_t, so n < 2^32; d and k are bounded so that
 * n*d and k*d fit in size_t on 64-bit hosts with room to spare. */
#define SMP_N_MAX ((size_t)UINT32_MAX)
#define SMP_D_MAX ((size_t)1 << 20)
#define SMP_THREADS_MAX 64

/* Result of a strategy. Owned by the caller; free with smp_result_free(). */
struct smp_result {
	uint32_t *order; /* n indices, a permutation of 0..n-1, best first */
	float *score;    /* n scores in [0,1], score[i] is candidate i's */
	size_t n;
	size_t picked;   /* order[0..picked) were picked; smp_coreset sets it
			  * (it may stop early at min_distance); 0 from the
			  * other strategies means "the k asked for" */
};

/* Progress and cancellation. Every field may be 0/NULL; ctl itself may be
 * NULL (no cancel, no progress, 2 threads). */
struct smp_ctl {
	const volatile int *cancel; /* non-zero = stop: the call returns
				     * -ECANCELED; polled at least every
				     * ~50 ms of work */
	void (*progress)(void *arg, size_t done, size_t total);
				    /* picks done / picks total; called from the
				     * caller's thread only, at most every
				     * ~10 ms and once at the end; must be
				     * cheap and must not call back into us */
	void *arg;                  /* passed to progress */
	int threads;                /* threads to use; <= 0 means 2 */
};

/* Frees r's arrays and zeroes it. NULL-safe, idempotent. */
void smp_result_free(struct smp_result *r);

/* Sets OpenBLAS to one thread for the whole process, once (see above).
 * Other users of BLAS in the process (embed/) call it too, so that every
 * BLAS result is the same at every call. */
void smp_blas_init(void);

/* Random: a seeded uniform permutation (xoshiro256**, reproducible across
 * platforms); the first k are the picks, the rest follow in random order.
 * score = 1 - rank/(n-1), i.e. linear in rank. k <= n (k = 0 is allowed:
 * nothing is "picked", the order is random all the same). */
int smp_random(size_t n, size_t k, uint64_t seed, const struct smp_ctl *ctl,
	       struct smp_result *out);

/* Coreset: exact k-center greedy (farthest-first, Euclidean). First pick is
 * `start`; each next pick is the not-yet-picked point farthest from the
 * picked set (ties: lowest index). Stops after k picks, or before a pick
 * whose distance would be < min_distance (0 = never). The picks are
 * identical to a brute-force O(n·k) farthest-first that uses
 * smp_dist2_ref() as its distance (see coreset.c for why pruning never
 * changes a decision). Scores: see coreset.c. 1 <= k <= n, start < n,
 * min_distance >= 0 and finite; a non-finite value in x is -EINVAL.
 * Memory: 16 to 40 bytes per point besides x and the result. */
int smp_coreset(const float *x, size_t n, size_t d, size_t k, size_t start,
		float min_distance, const struct smp_ctl *ctl,
		struct smp_result *out);

/* k-means (Lloyd) fit: k-means++ init from a seeded subsample, then up to
 * `iters` Lloyd updates (iters <= 0: 25), stopping early once at most
 * n/1000 points change cluster; see kmeans.c. centroids: OUT k*d floats
 * (caller-allocated). assign: OUT n cluster ids (those of the returned
 * centroids), or NULL. The result depends only on the inputs and the
 * seed, not on the thread count. 1 <= k <= n. */
int smp_kmeans_fit(const float *x, size_t n, size_t d, size_t k,
		   uint64_t seed, int iters, const struct smp_ctl *ctl,
		   float *centroids, uint32_t *assign);

/* k-means strategy: fits k centroids (smp_kmeans_fit, default iters), then
 * for each centroid the real sample nearest it (distinct samples). Picks are ranked by their
 * cluster's size (largest first); every other sample follows, ranked by its
 * distance to its own centroid, nearest first. Scores: see kmeans.c.
 * 1 <= k <= n. */
int smp_kmeans(const float *x, size_t n, size_t d, size_t k, uint64_t seed,
	       const struct smp_ctl *ctl, struct smp_result *out);

/* Typicality (TypiClust): k-means into k clusters; picks visit clusters from
 * largest and least covered, taking each cluster's most typical sample
 * (1 / mean distance to its 5 nearest neighbours within the cluster).
 * The rest follow by typicality. See typicality.c. 1 <= k <= n. */
int smp_typicality(const float *x, size_t n, size_t d, size_t k,
		   uint64_t seed, const struct smp_ctl *ctl,
		   struct smp_result *out);

/* Balance: k picks spread as evenly over the labels as their counts allow
 * (water-filling), uniformly random within a label (seeded); the rest
 * follow in random order. See balance.c. k <= n. */
int smp_balance(const int32_t *labels, size_t n, size_t k, uint64_t seed,
		const struct smp_ctl *ctl, struct smp_result *out);

/* 2-D PCA projection: centres x, computes the d×d covariance (SSYRK) and its
 * top-2 eigenvectors (LAPACKE_ssyevr), each signed so its largest-magnitude
 * component is positive, and writes out[2i], out[2i+1] = the projections
 * of row i. d = 1: the second coordinate is 0. out: OUT n*2 floats.
 * d <= 8192 (a d×d matrix in double). Single-threaded, no ctl: about
 * 0.1 s for 1M × 32. Returns 0, -EINVAL, -ENOMEM, or -EIO if LAPACK
 * fails to converge. */
int smp_pca2(const float *x, size_t n, size_t d, float *out);

/* Neighbour-preserving 2-D layout (UMAP-style; sampling/layout.c has the
 * design): exact kNN over OpenBLAS, UMAP's fuzzy graph, PCA start, SGD
 * with negative sampling. out: OUT n*2 floats (x0,y0,x1,y1,...), in
 * arbitrary units centred near 0. Same x, n, d and seed -> same bytes,
 * whatever ctl->threads. Over max_full rows, a seeded sample of max_full
 * is laid out and every other row placed at the weighted mean of its
 * nearest sampled rows (smp_layout2 uses SMP_LAYOUT_FULL). n = 1: (0,0).
 * 0, -EINVAL (bad matrix, a value not finite, max_full < 2), -ENOMEM,
 * -ECANCELED, -EIO (the PCA start failed). Blocks: about 6 s for 20k × 48
 * and 28 s for 100k × 48 on 2 cores at load 9 (bench/layout). */
#define SMP_LAYOUT_FULL 25000
int smp_layout2(const float *x, size_t n, size_t d, uint64_t seed,
		const struct smp_ctl *ctl, float *out);
int smp_layout2_ex(const float *x, size_t n, size_t d, uint64_t seed,
		   size_t max_full, const struct smp_ctl *ctl, float *out);
/* How well xy (n*2) keeps x's neighbourhoods: over m rows drawn with seed
 * (m = 0 or >= n: all), the share of each row's k nearest rows in x that
 * are among its k nearest in xy (exact kNN; 1 is perfect). 0, -EINVAL
 * (k = 0 or k >= n), -ENOMEM. For tests and bench/layout. */
int smp_layout_kept(const float *x, size_t n, size_t d, const float *xy,
		    size_t k, size_t m, uint64_t seed, double *kept);

/* The reference squared distance that defines "farthest" for smp_coreset:
 * the difference and square of each coordinate in double, summed in 8
 * lane-wise partial sums (coordinate j goes to lane j % 8) combined as
 * ((l0+l4)+(l2+l6)) + ((l1+l5)+(l3+l7)). Exposed so tests and callers can
 * reproduce the decisions exactly. */
double smp_dist2_ref(const float *a, const float *b, size_t d);

/* ---- one selection, several objectives (select.c) ----
 *
 * A greedy selection as LightlyOne's selection config does it: candidates
 * failing a threshold (or not allowed, or preselected) are never picked;
 * then each step picks the remaining candidate maximising the product
 * over the objectives of (its normalised score in [0,1]) ^ strength. See
 * select.c for each objective's score. */
enum smp_obj_kind {
	SMP_OBJ_DIVERSITY,  /* distance to the nearest picked (or preselected) */
	SMP_OBJ_TYPICALITY, /* density: 1 / mean distance to K neighbours */
	SMP_OBJ_SIMILARITY, /* max cosine similarity to the query rows */
	SMP_OBJ_WEIGHTS,    /* a per-candidate value, min-max normalised */
	SMP_OBJ_BALANCE,    /* favours classes below their target share */
	SMP_OBJ_RANDOM      /* a seeded uniform value per candidate */
};
struct smp_objective {
	int kind;               /* enum smp_obj_kind */
	double strength;        /* exponent, finite and > 0 */
	const double *w;        /* WEIGHTS: n values; NAN = no value (0) */
	const int32_t *cat;     /* BALANCE: n class ids < ncat, -1 = none */
	size_t ncat;
	const double *target;   /* BALANCE: ncat shares >= 0 (any sum > 0);
				 * NULL = uniform over the classes the
				 * eligible candidates have */
	const float *q;         /* SIMILARITY: nq query rows of d floats */
	size_t nq;
};
enum smp_op { SMP_OP_LT, SMP_OP_LE, SMP_OP_GT, SMP_OP_GE };
struct smp_threshold {
	const double *v;        /* n values; NAN fails every comparison */
	int op;                 /* enum smp_op */
	double value;
};
struct smp_select_spec {
	const float *x;         /* n candidate rows of d floats */
	size_t n, d;
	const struct smp_objective *obj;   /* nobj >= 1 */
	size_t nobj;
	const struct smp_threshold *thr;
	size_t nthr;
	const uint8_t *allowed; /* n flags, 0 = not a candidate; NULL = all */
	const uint8_t *pre;     /* n flags, 1 = preselected: counts as picked
				 * (diversity, balance), never picked; NULL */
	const float *prex;      /* npre preselected rows that are not among
				 * the candidates (diversity only); NULL */
	size_t npre;
	size_t k;               /* picks at most; 0 = no count limit */
	double proportion;      /* in (0,1]: picks at most ceil(p·eligible);
				 * 0 = none. k and proportion: the smaller */
	double min_distance;    /* >= 0: a candidate nearer than this to a
				 * picked or preselected one is never picked
				 * (0 = off) */
	uint64_t seed;          /* RANDOM objective, typicality's subset;
				 * ties go to the first from row seed % n */
};
/* Runs the selection. out ranks all n: the picks in pick order, then the
 * other eligible candidates by their final combined score, then the
 * ineligible ones (thresholds, allowed, preselected). out->picked = the
 * number of picks (0 when none could be made). Scores: pick r scores
 * 1 - 0.5·r/max(1, picks-1); an eligible non-pick 0.25 + 0.249·p/pmax
 * (p its combined score at the end); ineligible 0. 0, -EINVAL (bad spec),
 * -ENOMEM, -ECANCELED. */
int smp_select(const struct smp_select_spec *s, const struct smp_ctl *ctl,
	       struct smp_result *out);

/* The density typicality's objective uses: for every row, the mean
 * Euclidean distance to its K nearest other rows, K = n/10 clamped to
 * [5, 50] and to n-1, searched among a seeded subset of at most 2,000
 * rows (all when n <= 2,000); -1 when n = 1. meand: OUT n doubles. */
int smp_density(const float *x, size_t n, size_t d, uint64_t seed,
		const struct smp_ctl *ctl, double *meand);

#endif
