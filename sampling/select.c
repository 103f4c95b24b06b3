/*
 * select.c — one greedy selection combining several objectives (issue 21
 * item 2), as LightlyOne's selection config does it.
 *
 * 1. Eligibility, once: a candidate is eligible when it is allowed (the
 *    caller's path regex), not preselected, and passes every threshold
 *    (NAN fails). Ineligible candidates are never picked.
 * 2. The number of picks: k, or ceil(proportion · eligible), the smaller
 *    of those given; fewer if the eligible run out (or min_distance
 *    excludes the rest).
 * 3. Each step scores every remaining eligible candidate i as
 *        S(i) = Π_o  s_o(i) ^ strength_o
 *    and picks the largest (ties: the first from row seed % n on,
 *    cyclically: the seed chooses among equals, e.g. diversity's first
 *    pick when nothing is preselected). Each s_o is in [0,1]:
 *      DIVERSITY   m(i) / max m over the remaining, m(i) the Euclidean
 *                  distance to the nearest picked or preselected row; 1
 *                  for all while nothing is picked.
 *      TYPICALITY  t(i) / max t, t = 1 / (1 + m/m̄), m the mean distance
 *                  to the K nearest rows (smp_density, typicality.c's
 *                  pass over one cluster), m̄ its mean; 0 when n = 1.
 *      SIMILARITY  c(i) / max c, c = (1 + max cosine to a query row) / 2.
 *      WEIGHTS     (w(i) - min) / (max - min) over the eligible; NAN 0.
 *      BALANCE     D'Hondt: b(i) = p_c / (picked_c + 1) for i's class c
 *                  (p the target share, picked_c the picks and
 *                  preselected of class c so far), / max b; a candidate
 *                  without a class scores 0. Greedy on this quotient is
 *                  the D'Hondt apportionment: alone it reaches the target
 *                  shares as closely as whole counts allow.
 *      RANDOM      a seeded uniform value in [0,1), / max.
 *    An objective equal for every remaining candidate (max 0, or max =
 *    min for weights) scores 1 for all: it cannot tell them apart.
 *    Constant factors do not change the argmax, so the normalisation
 *    only shapes the scores reported.
 * 4. min_distance > 0: a candidate nearer than it to a picked or
 *    preselected row leaves the remaining set (for diversity alone this
 *    is farthest-first's stop: the farthest is nearer, so all are).
 * Distances: after each pick one SGEMV of the candidate rows against it
 * (||x||² + ||p||² - 2 x·p, clamped at 0) updates every nearest-picked
 * distance: O(n·d) per pick, only when diversity or min_distance asks.
 * Similarity: SGEMM blocks of the rows against the query rows.
 * Single-threaded besides OpenBLAS (one thread, smp_blas_init); cancel
 * and progress are polled at each pick.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>

#include "sampling/internal.h"

#define SIM_ROWS 256 /* candidate rows per SGEMM block */

struct sel {
	const struct smp_select_spec *s;
	uint8_t *elig;          /* remaining eligible (cleared when picked) */
	double *stat;           /* nobj*n static scores (NULL for dynamic) */
	double *base;           /* n: the product of the static objectives'
				 * score^strength, made once */
	double *mind2;          /* n: squared distance to the nearest picked */
	float *xn;              /* n row norms² */
	float *g;               /* n dot products with the new pick */
	size_t *cnt;            /* per objective: BALANCE counts (ncat) */
	double **share;         /* per objective: BALANCE target shares */
	size_t **cnts;
	int havepick;           /* a row is picked or preselected */
	int dist;               /* distances are kept */
};

static int check_spec(const struct smp_select_spec *s)
{
	if (!s || smp_check_matrix(s->x, s->n, s->d) || s->d > INT32_MAX ||
	    s->n > INT32_MAX || !s->obj || s->nobj == 0 || s->nobj > 64 ||
	    (s->nthr && !s->thr) || (s->npre && !s->prex) ||
	    !(s->proportion >= 0 && s->proportion <= 1) ||
	    !(s->min_distance >= 0) || !isfinite(s->min_distance))
		return -EINVAL;
	for (size_t o = 0; o < s->nobj; o++) {
		const struct smp_objective *b = &s->obj[o];
		if (!(b->strength > 0) || !isfinite(b->strength))
			return -EINVAL;
		switch (b->kind) {
		case SMP_OBJ_DIVERSITY:
		case SMP_OBJ_TYPICALITY:
		case SMP_OBJ_RANDOM:
			break;
		case SMP_OBJ_SIMILARITY:
			if (!b->q || b->nq == 0 || b->nq > INT32_MAX)
				return -EINVAL;
			break;
		case SMP_OBJ_WEIGHTS:
			if (!b->w)
				return -EINVAL;
			break;
		case SMP_OBJ_BALANCE:
			if (!b->cat || b->ncat == 0 || b->ncat > INT32_MAX)
				return -EINVAL;
			for (size_t i = 0; i < s->n; i++)
				if (b->cat[i] >= (int32_t)b->ncat)
					return -EINVAL;
			for (size_t c = 0; b->target && c < b->ncat; c++)
				if (!(b->target[c] >= 0) ||
				    !isfinite(b->target[c]))
					return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
	}
	for (size_t t = 0; t < s->nthr; t++)
		if (!s->thr[t].v || s->thr[t].op < SMP_OP_LT ||
		    s->thr[t].op > SMP_OP_GE || isnan(s->thr[t].value))
			return -EINVAL;
	return 0;
}

static int passes(const struct smp_threshold *t, double v)
{
	switch (t->op) {
	case SMP_OP_LT: return v < t->value;
	case SMP_OP_LE: return v <= t->value;
	case SMP_OP_GT: return v > t->value;
	default:        return v >= t->value;
	}
}

/* Divides v[i] of the eligible by their max (all 1 when the max is not
 * positive). */
static void by_max(double *v, const uint8_t *elig, size_t n)
{
	double mx = 0;

	for (size_t i = 0; i < n; i++)
		if (elig[i] && v[i] > mx)
			mx = v[i];
	for (size_t i = 0; i < n; i++)
		v[i] = mx > 0 ? v[i] / mx : 1.0;
}

/* c(i) = (1 + max cosine to a query row) / 2 into v. */
static int similarity(const struct smp_select_spec *s,
		      const struct smp_objective *b, double *v)
{
	size_t d = s->d, nq = b->nq;
	float *qn = malloc(nq * sizeof(*qn));
	float *g = malloc(SIM_ROWS * nq * sizeof(*g));
	float *xn = malloc(SIM_ROWS * sizeof(*xn));

	if (!qn || !g || !xn) {
		free(qn);
		free(g);
		free(xn);
		return -ENOMEM;
	}
	smp_row_norms(b->q, nq, d, qn);
	for (size_t lo = 0; lo < s->n; lo += SIM_ROWS) {
		size_t rows = s->n - lo < SIM_ROWS ? s->n - lo : SIM_ROWS;
		smp_row_norms(s->x + lo * d, rows, d, xn);
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, (int)rows,
			    (int)nq, (int)d, 1.0f, s->x + lo * d, (int)d, b->q,
			    (int)d, 0.0f, g, (int)nq);
		for (size_t r = 0; r < rows; r++) {
			double best = -1;
			for (size_t j = 0; j < nq; j++) {
				double den = sqrt((double)xn[r]) *
					     sqrt((double)qn[j]);
				double c = den > 0 ? g[r * nq + j] / den : 0;
				c = c > 1 ? 1 : c < -1 ? -1 : c;
				if (c > best)
					best = c;
			}
			v[lo + r] = (1 + best) / 2;
		}
	}
	free(qn);
	free(g);
	free(xn);
	return 0;
}

/* The static scores of objective b into v (n), normalised over elig. */
static int static_scores(const struct smp_select_spec *s,
			 const struct smp_objective *b, const uint8_t *elig,
			 const struct smp_ctl *ctl, double *v)
{
	size_t n = s->n;
	int rc = 0;

	switch (b->kind) {
	case SMP_OBJ_TYPICALITY: {
		double mbar = 0;
		size_t cnt = 0;
		if ((rc = smp_density(s->x, n, s->d, s->seed, ctl, v)))
			return rc;
		for (size_t i = 0; i < n; i++)
			if (v[i] >= 0) {
				mbar += v[i];
				cnt++;
			}
		mbar = cnt && mbar > 0 ? mbar / (double)cnt : 1.0;
		for (size_t i = 0; i < n; i++)
			v[i] = v[i] < 0 ? 0 : 1.0 / (1.0 + v[i] / mbar);
		by_max(v, elig, n);
		break;
	}
	case SMP_OBJ_SIMILARITY:
		if ((rc = similarity(s, b, v)))
			return rc;
		by_max(v, elig, n);
		break;
	case SMP_OBJ_WEIGHTS: {
		double lo = INFINITY, hi = -INFINITY;
		for (size_t i = 0; i < n; i++)
			if (elig[i] && !isnan(b->w[i])) {
				lo = b->w[i] < lo ? b->w[i] : lo;
				hi = b->w[i] > hi ? b->w[i] : hi;
			}
		for (size_t i = 0; i < n; i++)
			v[i] = isnan(b->w[i]) ? 0
			     : !(hi > lo) || !isfinite(hi - lo) ? 1
			     : (b->w[i] - lo) / (hi - lo);
		for (size_t i = 0; i < n; i++)
			v[i] = v[i] < 0 ? 0 : v[i] > 1 ? 1 : v[i];
		break;
	}
	case SMP_OBJ_RANDOM: {
		struct smp_rng rng;
		smp_rng_init(&rng, s->seed ^ 0x5e1ec7ULL);
		for (size_t i = 0; i < n; i++)
			v[i] = smp_rng_unit(&rng);
		by_max(v, elig, n);
		break;
	}
	default:
		break;
	}
	return rc;
}

/* mind2[i] = min(mind2[i], |x_i - p|²) for every candidate. */
static void update_dist(struct sel *t, const float *p)
{
	const struct smp_select_spec *s = t->s;
	float pn = 0;

	smp_row_norms(p, 1, s->d, &pn);
	cblas_sgemv(CblasRowMajor, CblasNoTrans, (int)s->n, (int)s->d, 1.0f,
		    s->x, (int)s->d, p, 1, 0.0f, t->g, 1);
	for (size_t i = 0; i < s->n; i++) {
		double d2 = (double)t->xn[i] + pn - 2.0 * t->g[i];
		d2 = d2 > 0 ? d2 : 0;
		if (d2 < t->mind2[i])
			t->mind2[i] = d2;
	}
	t->havepick = 1;
}

/* Drops the candidates nearer than min_distance to a picked row. */
static size_t drop_near(struct sel *t)
{
	const struct smp_select_spec *s = t->s;
	double m2 = s->min_distance * s->min_distance;
	size_t left = 0;

	for (size_t i = 0; i < s->n; i++) {
		if (t->elig[i] && s->min_distance > 0 && t->mind2[i] < m2)
			t->elig[i] = 0;
		left += t->elig[i];
	}
	return left;
}

/* The combined score S(i) of every remaining candidate into sc (0 for
 * the others). */
static void combine(struct sel *t, double *sc, double *tmp)
{
	const struct smp_select_spec *s = t->s;
	size_t n = s->n;

	for (size_t i = 0; i < n; i++)
		sc[i] = t->elig[i] ? t->base[i] : 0.0;
	for (size_t o = 0; o < s->nobj; o++) {
		const struct smp_objective *b = &s->obj[o];
		const double *v;
		if (b->kind == SMP_OBJ_DIVERSITY) {
			for (size_t i = 0; i < n; i++)
				tmp[i] = t->havepick ? sqrt(t->mind2[i]) : 1.0;
			by_max(tmp, t->elig, n);
			v = tmp;
		} else if (b->kind == SMP_OBJ_BALANCE) {
			for (size_t i = 0; i < n; i++)
				tmp[i] = b->cat[i] < 0 ? 0
				       : t->share[o][b->cat[i]] /
					 (double)(t->cnts[o][b->cat[i]] + 1);
			by_max(tmp, t->elig, n);
			v = tmp;
		} else {
			continue;       /* static: in base */
		}
		for (size_t i = 0; i < n; i++) {
			if (!t->elig[i])
				continue;
			sc[i] *= b->strength == 1.0 ? v[i]
						    : pow(v[i], b->strength);
		}
	}
}

static void sel_free(struct sel *t)
{
	if (t->share)
		for (size_t o = 0; o < t->s->nobj; o++) {
			free(t->share[o]);
			free(t->cnts[o]);
		}
	free(t->share);
	free(t->cnts);
	free(t->elig);
	free(t->stat);
	free(t->base);
	free(t->mind2);
	free(t->xn);
	free(t->g);
}

/* Balance's target shares and the preselected counts of objective b. */
static int balance_init(struct sel *t, size_t o)
{
	const struct smp_select_spec *s = t->s;
	const struct smp_objective *b = &s->obj[o];

	t->share[o] = calloc(b->ncat, sizeof(double));
	t->cnts[o] = calloc(b->ncat, sizeof(size_t));
	if (!t->share[o] || !t->cnts[o])
		return -ENOMEM;
	for (size_t c = 0; c < b->ncat; c++)
		t->share[o][c] = b->target ? b->target[c] : 0;
	for (size_t i = 0; i < s->n; i++) {
		if (b->cat[i] < 0)
			continue;
		if (!b->target && t->elig[i])
			t->share[o][b->cat[i]] = 1;
		if (s->pre && s->pre[i])
			t->cnts[o][b->cat[i]]++;
	}
	return 0;
}

int smp_select(const struct smp_select_spec *s, const struct smp_ctl *ctl,
	       struct smp_result *out)
{
	struct sel t = { .s = s };
	struct smp_prog prog;
	uint32_t *picks = NULL;
	double *sc = NULL, *tmp = NULL;
	size_t n, k, np = 0, left = 0;
	int rc;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!out || check_spec(s))
		return -EINVAL;
	n = s->n;
	smp_blas_init();
	t.elig = malloc(n);
	t.stat = calloc(s->nobj * n, sizeof(double));
	t.share = calloc(s->nobj, sizeof(*t.share));
	t.cnts = calloc(s->nobj, sizeof(*t.cnts));
	sc = malloc(n * sizeof(*sc));
	tmp = malloc(n * sizeof(*tmp));
	picks = malloc(n * sizeof(*picks));
	if (!t.elig || !t.stat || !t.share || !t.cnts || !sc || !tmp ||
	    !picks) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t e = (!s->allowed || s->allowed[i]) &&
			    (!s->pre || !s->pre[i]);
		for (size_t j = 0; e && j < s->nthr; j++)
			e = passes(&s->thr[j], s->thr[j].v[i]);
		t.elig[i] = e;
		left += e;
	}
	k = s->k ? s->k : n;
	if (s->proportion > 0) {
		size_t kp = (size_t)ceil(s->proportion * (double)left - 1e-9);
		k = kp < k ? kp : k;
	}
	for (size_t o = 0; o < s->nobj; o++) {
		int kind = s->obj[o].kind;
		t.dist |= kind == SMP_OBJ_DIVERSITY;
		if (kind == SMP_OBJ_BALANCE)
			rc = balance_init(&t, o);
		else
			rc = static_scores(s, &s->obj[o], t.elig, ctl,
					   t.stat + o * n);
		if (rc)
			goto out;
	}
	t.dist |= s->min_distance > 0;
	if (!(t.base = malloc(n * sizeof(*t.base)))) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		t.base[i] = 1.0;
	for (size_t o = 0; o < s->nobj; o++) {
		const struct smp_objective *b = &s->obj[o];
		const double *v = t.stat + o * n;
		if (b->kind == SMP_OBJ_DIVERSITY || b->kind == SMP_OBJ_BALANCE)
			continue;
		for (size_t i = 0; i < n; i++)
			t.base[i] *= b->strength == 1.0 ? v[i]
						       : pow(v[i], b->strength);
	}
	if (t.dist) {
		t.mind2 = malloc(n * sizeof(*t.mind2));
		t.xn = malloc(n * sizeof(*t.xn));
		t.g = malloc(n * sizeof(*t.g));
		if (!t.mind2 || !t.xn || !t.g) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < n; i++)
			t.mind2[i] = INFINITY;
		smp_row_norms(s->x, n, s->d, t.xn);
		for (size_t i = 0; s->pre && i < n; i++)
			if (s->pre[i])
				update_dist(&t, s->x + i * s->d);
		for (size_t j = 0; j < s->npre; j++)
			update_dist(&t, s->prex + j * s->d);
		left = drop_near(&t);
	}
	smp_prog_init(&prog, ctl, k);
	while (np < k && left > 0) {
		size_t best = n;
		if (smp_cancelled(ctl)) {
			rc = -ECANCELED;
			goto out;
		}
		combine(&t, sc, tmp);
		/* ties: the first from row seed % n on, cyclically (so the
		 * seed picks the start, as coreset's; seed 0: lowest index) */
		for (size_t j = 0, i = s->seed % n; j < n; j++, i = i + 1 < n ?
		     i + 1 : 0)
			if (t.elig[i] && (best == n || sc[i] > sc[best]))
				best = i;
		picks[np++] = (uint32_t)best;
		t.elig[best] = 0;
		left--;
		for (size_t o = 0; o < s->nobj; o++)
			if (s->obj[o].kind == SMP_OBJ_BALANCE &&
			    s->obj[o].cat[best] >= 0)
				t.cnts[o][s->obj[o].cat[best]]++;
		if (t.dist) {
			update_dist(&t, s->x + best * s->d);
			left = drop_near(&t);
		}
		smp_prog_tick(&prog, np);
	}
	smp_prog_end(&prog);
	if ((rc = smp_result_alloc(out, n)))
		goto out;
	/* the rest: by their combined score at the end */
	combine(&t, sc, tmp);
	double mx = 0;
	for (size_t i = 0; i < n; i++)
		if (t.elig[i] && sc[i] > mx)
			mx = sc[i];
	for (size_t i = 0; i < n; i++)
		out->score[i] = !t.elig[i] ? 0.0f
			: (float)(0.25 + 0.249 * (mx > 0 ? sc[i] / mx : 0));
	/* the eligible dropped by min_distance rank after the rest */
	for (size_t i = 0; i < n; i++) {
		uint8_t e = (!s->allowed || s->allowed[i]) &&
			    (!s->pre || !s->pre[i]);
		for (size_t j = 0; e && j < s->nthr; j++)
			e = passes(&s->thr[j], s->thr[j].v[i]);
		if (e && !t.elig[i])
			out->score[i] = 0.125f;
	}
	for (size_t r = 0; r < np; r++)
		out->score[picks[r]] = (float)(1.0 - 0.5 * (double)r /
					       (double)(np > 1 ? np - 1 : 1));
	rc = smp_finish_order(out, picks, np);
	out->picked = np;
out:
	if (rc && out)
		smp_result_free(out);
	sel_free(&t);
	free(sc);
	free(tmp);
	free(picks);
	return rc;
}
