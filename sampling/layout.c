/*
 * layout.c — a neighbour-preserving 2-D layout (UMAP-style) for plot.svg
 * and the server's /layout, and the exact kNN it stands on.
 *
 * Steps (smp_layout2_ex):
 *   1. kNN, exact, over OpenBLAS: queries in blocks of KNN_QB rows against
 *      the reference rows in chunks of KNN_RB, G = Q·Rᵀ by SGEMM and
 *      |q|² + |r|² − 2G as the squared distance, the K smallest kept per
 *      query in a sorted array (scanning references in index order with a
 *      strict `<`, so among equal distances the lowest index wins).
 *   2. Fuzzy simplicial set as UMAP builds it: per point, rho = distance to
 *      the nearest neighbour at a distance > 0, sigma by bisection so that
 *      Σ exp(−max(0, d − rho)/sigma) = log2(K); w = that term; the
 *      directed graph symmetrised as w_ij + w_ji − w_ij·w_ji.
 *   3. Start from PCA (smp_pca2), centred and scaled so its largest
 *      coordinate is 10, with a jitter of 1e-4 of that (random in [−10,
 *      10] when PCA is all zeros: identical points).
 *   4. SGD with negative sampling (UMAP's schedule: an edge of weight w is
 *      sampled every max_w/w epochs, NEG negatives per positive sample,
 *      learning rate falling linearly to 0), with the kernel
 *      1/(1 + d²) (UMAP's a = b = 1): no pow() per update, which is what
 *      makes 100k points affordable; clusters come out a little wider
 *      than UMAP's default min_dist = 0.1.
 *   Over max_full points: steps 1–4 on a seeded random sample of max_full
 *   rows; every other row is placed at the weighted mean of the layout of
 *   its PLACE_K nearest sampled rows (kNN as in step 1 against the
 *   sample, weights as in step 2).
 *
 * Determinism: same input and seed -> same bytes, whatever ctl->threads.
 * The kNN is split across threads by whole query blocks whose SGEMM shapes
 * depend only on the block's position (never on the thread count), and
 * every other parallel step is per row; the SGD runs on the caller's
 * thread alone (a lock-free parallel SGD would race). OpenBLAS runs one
 * thread (smp_blas_init).
 *
 * Cost: kNN O(n²·d) flops (SGEMM) + O(n²) compares; SGD O(epochs·n·K·NEG).
 * Measured figures are in bench/layout and README.
 *
 * Threads: a team for one call, joined before returning (internal.h).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "sampling/internal.h"

#define KNN_QB 256          /* query rows per SGEMM block */
#define KNN_RB 2048         /* reference rows per SGEMM chunk */
#define LAYOUT_K 15         /* neighbours of the fuzzy graph */
#define PLACE_K 10          /* sampled neighbours placing a left-out row */
#define NEG 5               /* negative samples per positive one */
#define CLIP 4.0f           /* gradient clip, as UMAP */
#ifndef LAYOUT_EPOCHS_BIG
#define LAYOUT_EPOCHS_BIG 200 /* SGD epochs over 10,000 rows (UMAP: 200) */
#endif

/* ---- exact kNN ----------------------------------------------------------- */

struct knn_job {
	const float *q, *r;     /* nq × d queries, nr × d references */
	size_t nq, nr, d, k;
	const float *qn, *rn;   /* squared norms */
	int self;               /* q == r: skip j == i */
	uint32_t *idx;          /* OUT nq × k */
	float *dist;            /* OUT nq × k, squared, >= 0 */
	float **g;              /* per thread KNN_QB × KNN_RB scratch */
	const struct smp_ctl *ctl;
	int cancelled;          /* set by any member */
};

/* Inserts (v, j) into the sorted arrays kd/ki of length k when v beats the
 * last entry. */
static void topk_insert(float *kd, uint32_t *ki, size_t k, float v,
			uint32_t j)
{
	size_t p = k - 1;

	while (p > 0 && kd[p - 1] > v) {
		kd[p] = kd[p - 1];
		ki[p] = ki[p - 1];
		p--;
	}
	kd[p] = v;
	ki[p] = j;
}

static void knn_block(struct knn_job *jb, float *g, size_t lo)
{
	size_t rows = jb->nq - lo < KNN_QB ? jb->nq - lo : KNN_QB, k = jb->k;
	float *kd = jb->dist + lo * k;
	uint32_t *ki = jb->idx + lo * k;

	for (size_t i = 0; i < rows * k; i++) {
		kd[i] = INFINITY;
		ki[i] = UINT32_MAX;
	}
	for (size_t c0 = 0; c0 < jb->nr; c0 += KNN_RB) {
		size_t cols = jb->nr - c0 < KNN_RB ? jb->nr - c0 : KNN_RB;
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows,
			    (int)cols, (int)jb->d, 1.0f, jb->q + lo * jb->d,
			    (int)jb->d, jb->r + c0 * jb->d, (int)jb->d, 0.0f,
			    g, (int)cols);
		for (size_t a = 0; a < rows; a++) {
			float *rd = kd + a * k, qn = jb->qn[lo + a];
			float thr = rd[k - 1];
			uint32_t *ri = ki + a * k;
			float *ga = g + a * cols;
			const float *rn = jb->rn + c0;
			/* a row is not its own neighbour: its distance +inf */
			if (jb->self && lo + a >= c0 && lo + a < c0 + cols)
				ga[lo + a - c0] = -INFINITY;
			for (size_t b = 0; b < cols; b++) {
				float v = qn + rn[b] - 2 * ga[b];
				if (v < thr) {
					topk_insert(rd, ri, k, v,
						    (uint32_t)(c0 + b));
					thr = rd[k - 1];
				}
			}
		}
	}
	for (size_t i = 0; i < rows * k; i++)
		if (!(kd[i] > 0))   /* rounding below 0; never NaN out */
			kd[i] = 0;
}

static void knn_member(void *arg, int tid, int nth)
{
	struct knn_job *jb = arg;
	size_t nblk = (jb->nq + KNN_QB - 1) / KNN_QB;

	for (size_t b = (size_t)tid; b < nblk; b += (size_t)nth) {
		if (jb->cancelled || smp_cancelled(jb->ctl)) {
			jb->cancelled = 1;
			return;
		}
		knn_block(jb, jb->g[tid], b * KNN_QB);
	}
}

/* The k nearest references of every query (squared distances ascending,
 * ties by lower index). self: q == r and a row is not its own neighbour.
 * k <= nr - self. 0, -ENOMEM or -ECANCELED. */
static int knn(struct smp_team *team, const float *q, size_t nq,
	       const float *r, size_t nr, size_t d, size_t k, int self,
	       const struct smp_ctl *ctl, uint32_t *idx, float *dist)
{
	struct knn_job jb = { q, r, nq, nr, d, k, NULL, NULL, self, idx, dist,
			      NULL, ctl, 0 };
	int nth = smp_team_size(team), rc = 0;
	float *qn = malloc((nq ? nq : 1) * sizeof(*qn));
	float *rn = self ? qn : malloc((nr ? nr : 1) * sizeof(*rn));

	jb.g = calloc((size_t)nth, sizeof(*jb.g));
	if (!qn || !rn || !jb.g) {
		rc = -ENOMEM;
		goto out;
	}
	for (int t = 0; t < nth; t++)
		if (!(jb.g[t] = malloc((size_t)KNN_QB * KNN_RB * sizeof(float)))) {
			rc = -ENOMEM;
			goto out;
		}
	smp_row_norms(q, nq, d, qn);
	if (!self)
		smp_row_norms(r, nr, d, rn);
	jb.qn = qn;
	jb.rn = rn;
	smp_team_run(team, knn_member, &jb);
	if (jb.cancelled)
		rc = -ECANCELED;
out:
	for (int t = 0; jb.g && t < nth; t++)
		free(jb.g[t]);
	free(jb.g);
	if (rn != qn)
		free(rn);
	free(qn);
	return rc;
}

/* ---- the fuzzy graph ----------------------------------------------------- */

/* Membership weights of one row's k neighbours (dist: squared, ascending)
 * into w[k], as UMAP's smooth kNN distances. */
static void fuzzy_row(const float *dist2, size_t k, float *w)
{
	double d[64], rho = 0, target = log2((double)k);
	double lo = 0, hi = INFINITY, sigma = 1, mean = 0;

	for (size_t j = 0; j < k; j++) {
		d[j] = sqrt((double)dist2[j]);
		mean += d[j];
		if (rho == 0 && d[j] > 0)
			rho = d[j];
	}
	mean /= (double)k;
	for (int it = 0; it < 64; it++) {
		double s = 0;
		for (size_t j = 0; j < k; j++) {
			double e = d[j] - rho;
			s += e > 0 ? exp(-e / sigma) : 1;
		}
		if (fabs(s - target) < 1e-5)
			break;
		if (s > target) {
			hi = sigma;
			sigma = (lo + hi) / 2;
		} else {
			lo = sigma;
			sigma = isinf(hi) ? sigma * 2 : (lo + hi) / 2;
		}
	}
	if (sigma < 1e-3 * mean)
		sigma = 1e-3 * mean;
	if (!(sigma > 0))
		sigma = 1;
	for (size_t j = 0; j < k; j++) {
		double e = d[j] - rho;
		w[j] = (float)(e > 0 ? exp(-e / sigma) : 1);
	}
}

struct edge {
	uint32_t a, b;          /* a < b after symmetrising */
	float w;
};

static int edge_cmp(const void *x, const void *y)
{
	const struct edge *p = x, *q = y;

	if (p->a != q->a)
		return p->a < q->a ? -1 : 1;
	if (p->b != q->b)
		return p->b < q->b ? -1 : 1;
	return p->w < q->w ? -1 : p->w > q->w ? 1 : 0;
}

/* The symmetric fuzzy graph of n rows with k neighbours each, as
 * undirected edges (a < b), sorted. *out malloc'd. 0 or -ENOMEM. */
static int fuzzy_graph(const uint32_t *idx, const float *dist, size_t n,
		       size_t k, struct edge **out, size_t *nout)
{
	struct edge *e = malloc((n * k > 0 ? n * k : 1) * sizeof(*e));
	float w[64];
	size_t m = 0, u = 0;

	*out = NULL;
	*nout = 0;
	if (!e)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		fuzzy_row(dist + i * k, k, w);
		for (size_t j = 0; j < k; j++) {
			uint32_t t = idx[i * k + j];
			if (t == UINT32_MAX || t == i)
				continue;
			e[m].a = (uint32_t)i < t ? (uint32_t)i : t;
			e[m].b = (uint32_t)i < t ? t : (uint32_t)i;
			e[m++].w = w[j];
		}
	}
	qsort(e, m, sizeof(*e), edge_cmp);
	for (size_t i = 0; i < m; i++) {
		if (u && e[u - 1].a == e[i].a && e[u - 1].b == e[i].b) {
			float p = e[u - 1].w, q = e[i].w;
			e[u - 1].w = p + q - p * q;
		} else {
			e[u++] = e[i];
		}
	}
	*out = e;
	*nout = u;
	return 0;
}

/* ---- initialisation and SGD ---------------------------------------------- */

static int init_pca(const float *x, size_t n, size_t d, struct smp_rng *rng,
		    float *y)
{
	double mid[2] = { 0, 0 }, big = 0;
	int rc = smp_pca2(x, n, d, y);

	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++)
		for (int a = 0; a < 2; a++)
			mid[a] += y[2 * i + a];
	for (int a = 0; a < 2; a++)
		mid[a] /= (double)n;
	for (size_t i = 0; i < 2 * n; i++) {
		double v = fabs(y[i] - mid[i & 1]);
		if (v > big)
			big = v;
	}
	for (size_t i = 0; i < 2 * n; i++) {
		double v = big > 0 ? (y[i] - mid[i & 1]) * 10 / big
				   : 20 * smp_rng_unit(rng) - 10;
		y[i] = (float)(v + 1e-3 * (smp_rng_unit(rng) - 0.5));
	}
	return 0;
}

static float clip(float g)
{
	return g > CLIP ? CLIP : g < -CLIP ? -CLIP : g;
}

/* UMAP's optimisation, directed edges both ways, on the caller's thread. */
static int sgd(float *y, size_t n, const struct edge *e, size_t ne,
	       int epochs, struct smp_rng *rng, const struct smp_ctl *ctl)
{
	float maxw = 0;
	size_t nd = 0;
	double *per = NULL, *next = NULL, *nextneg = NULL;
	uint32_t *head = NULL, *tail = NULL;
	int rc = 0;

	for (size_t i = 0; i < ne; i++)
		if (e[i].w > maxw)
			maxw = e[i].w;
	per = malloc((2 * ne + 1) * sizeof(*per));
	next = malloc((2 * ne + 1) * sizeof(*next));
	nextneg = malloc((2 * ne + 1) * sizeof(*nextneg));
	head = malloc((2 * ne + 1) * sizeof(*head));
	tail = malloc((2 * ne + 1) * sizeof(*tail));
	if (!per || !next || !nextneg || !head || !tail) {
		rc = -ENOMEM;
		goto out;
	}
	/* edges too weak to be sampled once in the run are dropped (UMAP) */
	for (size_t i = 0; i < ne; i++) {
		if (!(e[i].w >= maxw / (float)epochs))
			continue;
		for (int dir = 0; dir < 2; dir++) {
			head[nd] = dir ? e[i].b : e[i].a;
			tail[nd] = dir ? e[i].a : e[i].b;
			per[nd] = (double)maxw / e[i].w;
			next[nd] = per[nd];
			nextneg[nd] = per[nd] / NEG;
			nd++;
		}
	}
	for (int ep = 0; ep < epochs; ep++) {
		float alpha = 1.0f - (float)ep / (float)epochs;
		if (smp_cancelled(ctl)) {
			rc = -ECANCELED;
			goto out;
		}
		for (size_t s = 0; s < nd; s++) {
			if (next[s] > ep + 1)
				continue;
			float *p = y + 2 * (size_t)head[s];
			float *q = y + 2 * (size_t)tail[s];
			float dx = p[0] - q[0], dy = p[1] - q[1];
			float d2 = dx * dx + dy * dy;
			float c = d2 > 0 ? -2.0f / (1.0f + d2) : 0;
			float gx = clip(c * dx) * alpha, gy = clip(c * dy) * alpha;
			p[0] += gx;
			p[1] += gy;
			q[0] -= gx;
			q[1] -= gy;
			next[s] += per[s];
			int nneg = (int)((ep + 1 - nextneg[s]) / (per[s] / NEG));
			if (nneg < 0)
				nneg = 0;
			for (int t = 0; t < nneg; t++) {
				uint32_t o = (uint32_t)smp_rng_below(rng, n);
				if (o == head[s])
					continue;
				float *r = y + 2 * (size_t)o;
				dx = p[0] - r[0];
				dy = p[1] - r[1];
				d2 = dx * dx + dy * dy;
				if (d2 > 0) {
					c = 2.0f / ((0.001f + d2) * (1.0f + d2));
					p[0] += clip(c * dx) * alpha;
					p[1] += clip(c * dy) * alpha;
				} else {
					p[0] += CLIP * alpha;
					p[1] += CLIP * alpha;
				}
			}
			nextneg[s] += nneg * (per[s] / NEG);
		}
	}
out:
	free(per);
	free(next);
	free(nextneg);
	free(head);
	free(tail);
	return rc;
}

/* ---- the layout ---------------------------------------------------------- */

/* Lays out all n rows of x (n >= 2) into y. */
static int layout_full(struct smp_team *team, const float *x, size_t n,
		       size_t d, struct smp_rng *rng, const struct smp_ctl *ctl,
		       float *y)
{
	size_t k = n - 1 < LAYOUT_K ? n - 1 : LAYOUT_K, ne = 0;
	uint32_t *idx = malloc(n * k * sizeof(*idx));
	float *dist = malloc(n * k * sizeof(*dist));
	struct edge *e = NULL;
	int rc;

	if (!idx || !dist) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = init_pca(x, n, d, rng, y)) ||
	    (rc = knn(team, x, n, x, n, d, k, 1, ctl, idx, dist)) ||
	    (rc = fuzzy_graph(idx, dist, n, k, &e, &ne)))
		goto out;
	free(idx);
	free(dist);
	idx = NULL;
	dist = NULL;
	rc = sgd(y, n, e, ne, n <= 10000 ? 500 : LAYOUT_EPOCHS_BIG, rng, ctl);
out:
	free(e);
	free(idx);
	free(dist);
	return rc;
}

/* Places the nq rows q at the weighted mean of the layout ys of their
 * PLACE_K nearest rows among the ns rows s. */
static int place(struct smp_team *team, const float *q, size_t nq,
		 const float *s, const float *ys, size_t ns, size_t d,
		 const struct smp_ctl *ctl, float *yq)
{
	size_t k = ns < PLACE_K ? ns : PLACE_K;
	uint32_t *idx = malloc((nq ? nq : 1) * k * sizeof(*idx));
	float *dist = malloc((nq ? nq : 1) * k * sizeof(*dist)), w[64];
	int rc = 0;

	if (!idx || !dist) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = knn(team, q, nq, s, ns, d, k, 0, ctl, idx, dist)))
		goto out;
	for (size_t i = 0; i < nq; i++) {
		double sx = 0, sy = 0, sw = 0;
		if (k > 1)
			fuzzy_row(dist + i * k, k, w);
		else
			w[0] = 1;
		for (size_t j = 0; j < k; j++) {
			const float *p = ys + 2 * (size_t)idx[i * k + j];
			sx += w[j] * p[0];
			sy += w[j] * p[1];
			sw += w[j];
		}
		yq[2 * i] = (float)(sx / sw);
		yq[2 * i + 1] = (float)(sy / sw);
	}
out:
	free(idx);
	free(dist);
	return rc;
}

int smp_layout2_ex(const float *x, size_t n, size_t d, uint64_t seed,
		   size_t max_full, const struct smp_ctl *ctl, float *out)
{
	struct smp_team *team = NULL;
	struct smp_rng rng;
	uint32_t *pick = NULL;
	float *xs = NULL, *ys = NULL, *xr = NULL, *yr = NULL;
	size_t m;
	int rc = 0;

	if (!out || smp_check_matrix(x, n, d) || max_full < 2)
		return -EINVAL;
	for (size_t i = 0; i < n * d; i++)
		if (!isfinite(x[i]))
			return -EINVAL;
	if (n == 1) {
		out[0] = out[1] = 0;
		return 0;
	}
	smp_blas_init();
	smp_rng_init(&rng, seed);
	team = smp_team_create(smp_ctl_threads(ctl));
	if (n <= max_full) {
		rc = layout_full(team, x, n, d, &rng, ctl, out);
		goto out;
	}
	/* a sample laid out, in index order for locality; the rest placed */
	m = max_full;
	pick = malloc(n * sizeof(*pick));
	xs = malloc(m * d * sizeof(*xs));
	ys = malloc(m * 2 * sizeof(*ys));
	xr = malloc((n - m) * d * sizeof(*xr));
	yr = malloc((n - m) * 2 * sizeof(*yr));
	if (!pick || !xs || !ys || !xr || !yr) {
		rc = -ENOMEM;
		goto out;
	}
	smp_sample_u32(pick, n, m, &rng);
	{
		uint8_t *in = calloc(n, 1);
		size_t a = 0, b = 0;
		if (!in) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < m; i++)
			in[pick[i]] = 1;
		for (size_t i = 0; i < n; i++)
			if (in[i])
				pick[a++] = (uint32_t)i;
		for (size_t i = 0; i < n; i++)
			if (!in[i])
				pick[m + b++] = (uint32_t)i;
		free(in);
	}
	for (size_t i = 0; i < n; i++) {
		float *dst = i < m ? xs + i * d : xr + (i - m) * d;
		memcpy(dst, x + (size_t)pick[i] * d, d * sizeof(float));
	}
	if ((rc = layout_full(team, xs, m, d, &rng, ctl, ys)) ||
	    (rc = place(team, xr, n - m, xs, ys, m, d, ctl, yr)))
		goto out;
	for (size_t i = 0; i < n; i++) {
		const float *src = i < m ? ys + 2 * i : yr + 2 * (i - m);
		out[2 * (size_t)pick[i]] = src[0];
		out[2 * (size_t)pick[i] + 1] = src[1];
	}
out:
	smp_team_destroy(team);
	free(pick);
	free(xs);
	free(ys);
	free(xr);
	free(yr);
	return rc;
}

int smp_layout2(const float *x, size_t n, size_t d, uint64_t seed,
		const struct smp_ctl *ctl, float *out)
{
	return smp_layout2_ex(x, n, d, seed, SMP_LAYOUT_FULL, ctl, out);
}

/* ---- the measure --------------------------------------------------------- */

int smp_layout_kept(const float *x, size_t n, size_t d, const float *xy,
		    size_t k, size_t m, uint64_t seed, double *kept)
{
	struct smp_team *team = NULL;
	struct smp_rng rng;
	uint32_t *pick = NULL, *ih = NULL, *il = NULL;
	float *q = NULL, *q2 = NULL, *dh = NULL, *dl = NULL;
	size_t hits = 0;
	int rc = 0;

	if (!kept || smp_check_matrix(x, n, d) || !xy || k == 0 || k >= n)
		return -EINVAL;
	m = m && m < n ? m : n;
	smp_blas_init();
	smp_rng_init(&rng, seed);
	team = smp_team_create(2);
	pick = malloc(n * sizeof(*pick));
	q = malloc(m * d * sizeof(*q));
	q2 = malloc(m * 2 * sizeof(*q2));
	ih = malloc(m * (k + 1) * sizeof(*ih));
	il = malloc(m * (k + 1) * sizeof(*il));
	dh = malloc(m * (k + 1) * sizeof(*dh));
	dl = malloc(m * (k + 1) * sizeof(*dl));
	if (!pick || !q || !q2 || !ih || !il || !dh || !dl) {
		rc = -ENOMEM;
		goto out;
	}
	smp_sample_u32(pick, n, m, &rng);
	for (size_t i = 0; i < m; i++) {
		memcpy(q + i * d, x + (size_t)pick[i] * d, d * sizeof(float));
		memcpy(q2 + 2 * i, xy + 2 * (size_t)pick[i], 2 * sizeof(float));
	}
	/* k + 1 neighbours among all rows: the query itself is one of them */
	if ((rc = knn(team, q, m, x, n, d, k + 1, 0, NULL, ih, dh)) ||
	    (rc = knn(team, q2, m, xy, n, 2, k + 1, 0, NULL, il, dl)))
		goto out;
	for (size_t i = 0; i < m; i++) {
		size_t seen = 0;
		/* the first k that are not the query (duplicates may rank
		 * before it); its 2-D list has k + 1 with it, or k others */
		for (size_t a = 0; a <= k && seen < k; a++) {
			if (ih[i * (k + 1) + a] == pick[i])
				continue;
			seen++;
			for (size_t b = 0; b <= k; b++)
				if (il[i * (k + 1) + b] == ih[i * (k + 1) + a]) {
					hits++;
					break;
				}
		}
	}
	*kept = (double)hits / ((double)m * (double)k);
out:
	smp_team_destroy(team);
	free(pick);
	free(q);
	free(q2);
	free(ih);
	free(il);
	free(dh);
	free(dl);
	return rc;
}
