/*
 * test_select.c — sampling/select.c (one selection, several objectives)
 * and the selection form of the request grammar (core/request.c).
 *
 *   Each objective alone against a brute-force reference on small inputs
 *   (diversity = farthest-first from the first row, also equal to
 *   smp_coreset's picks from start 0; typicality and similarity ranked by
 *   a naive kNN density / max cosine; weights by value; balance as the
 *   D'Hondt apportionment); the combination (thresholds first, then the
 *   argmax of the product of objective^strength) against a reference
 *   written here in double, whatever select.c does to be fast;
 *   preselected (never picked, counted as picked), proportion,
 *   min_distance (no two picks nearer), the path regex (and regerror's
 *   text), the result's invariants, bad specs; the grammar: every form
 *   parses to what it says, round-trips through core_objs_format, and
 *   each refusal says why.
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

#include <cmocka.h>

#include "core/request.h"
#include "core/runs.h"
#include "sampling/sampling.h"

static uint64_t lcg;

static double urand(void)
{
	lcg = lcg * 6364136223846793005ULL + 1442695040888963407ULL;
	return (double)(lcg >> 11) / 9007199254740992.0;
}

static double nrand(void)
{
	double u = urand(), v = urand();
	return sqrt(-2 * log(u + 1e-300)) * cos(6.283185307179586 * v);
}

static float *gauss(size_t n, size_t d, uint64_t seed)
{
	float *x = malloc(n * d * sizeof(*x));

	lcg = seed;
	for (size_t i = 0; i < n * d; i++)
		x[i] = (float)nrand();
	return x;
}

static double dist(const float *a, const float *b, size_t d)
{
	double s = 0;

	for (size_t j = 0; j < d; j++)
		s += ((double)a[j] - b[j]) * ((double)a[j] - b[j]);
	return sqrt(s);
}

/* order is a permutation, scores in [0,1] non-increasing along it. */
static void check_result(const struct smp_result *r, size_t n)
{
	uint8_t *seen = calloc(n, 1);

	assert_int_equal(r->n, n);
	for (size_t i = 0; i < n; i++) {
		assert_true(r->order[i] < n);
		assert_false(seen[r->order[i]]);
		seen[r->order[i]] = 1;
		assert_true(r->score[i] >= 0 && r->score[i] <= 1);
		if (i)
			assert_true(r->score[r->order[i]] <=
				    r->score[r->order[i - 1]]);
	}
	free(seen);
}

/* ---- the reference: brute force, in double ---------------------------- */

static void ref_density(const float *x, size_t n, size_t d, double *t)
{
	size_t K = n / 10;
	double mbar = 0;
	double *dd = malloc(n * sizeof(*dd));

	K = K < 5 ? 5 : K > 50 ? 50 : K;
	K = n - 1 < K ? n - 1 : K;
	for (size_t i = 0; i < n; i++) {
		size_t m = 0;
		for (size_t j = 0; j < n; j++)
			if (j != i)
				dd[m++] = dist(x + i * d, x + j * d, d);
		/* partial selection sort: the K smallest */
		double s = 0;
		for (size_t a = 0; a < K; a++) {
			size_t b = a;
			for (size_t c = a + 1; c < m; c++)
				if (dd[c] < dd[b])
					b = c;
			double tmp = dd[a];
			dd[a] = dd[b];
			dd[b] = tmp;
			s += dd[a];
		}
		t[i] = s / (double)K;
		mbar += t[i];
	}
	mbar /= (double)n;
	for (size_t i = 0; i < n; i++)
		t[i] = 1.0 / (1.0 + t[i] / mbar);
	free(dd);
}

static void ref_similarity(const float *x, size_t n, size_t d,
			   const float *q, size_t nq, double *v)
{
	for (size_t i = 0; i < n; i++) {
		double best = -1;
		for (size_t j = 0; j < nq; j++) {
			double ab = 0, aa = 0, bb = 0;
			for (size_t c = 0; c < d; c++) {
				ab += (double)x[i * d + c] * q[j * d + c];
				aa += (double)x[i * d + c] * x[i * d + c];
				bb += (double)q[j * d + c] * q[j * d + c];
			}
			double cs = ab / sqrt(aa * bb);
			best = cs > best ? cs : best;
		}
		v[i] = (1 + best) / 2;
	}
}

static int ref_pass(const struct smp_threshold *t, double v)
{
	return t->op == SMP_OP_LT ? v < t->value : t->op == SMP_OP_LE ?
	       v <= t->value : t->op == SMP_OP_GT ? v > t->value :
	       v >= t->value;
}

/* What the doc of select.c says, naively: returns the picks' count. */
static size_t ref_select(const struct smp_select_spec *s, uint32_t *picks)
{
	size_t n = s->n, d = s->d, np = 0, left = 0, k;
	uint8_t *el = calloc(n, 1);
	double **stat = calloc(s->nobj, sizeof(*stat));
	size_t **cnt = calloc(s->nobj, sizeof(*cnt));
	double *sc = malloc(n * sizeof(*sc)), *v = malloc(n * sizeof(*v));
	int any = 0;

	for (size_t i = 0; i < n; i++) {
		el[i] = (!s->allowed || s->allowed[i]) && (!s->pre || !s->pre[i]);
		for (size_t t = 0; el[i] && t < s->nthr; t++)
			el[i] = ref_pass(&s->thr[t], s->thr[t].v[i]);
		left += el[i];
		any |= s->pre && s->pre[i];
	}
	any |= s->npre > 0;
	k = s->k ? s->k : n;
	if (s->proportion > 0 && (size_t)ceil(s->proportion * left - 1e-9) < k)
		k = (size_t)ceil(s->proportion * left - 1e-9);
	for (size_t o = 0; o < s->nobj; o++) {
		const struct smp_objective *b = &s->obj[o];
		stat[o] = calloc(n, sizeof(double));
		cnt[o] = calloc(b->ncat + 1, sizeof(size_t));
		if (b->kind == SMP_OBJ_TYPICALITY)
			ref_density(s->x, n, d, stat[o]);
		else if (b->kind == SMP_OBJ_SIMILARITY)
			ref_similarity(s->x, n, d, b->q, b->nq, stat[o]);
		else if (b->kind == SMP_OBJ_WEIGHTS) {
			double lo = INFINITY, hi = -INFINITY;
			for (size_t i = 0; i < n; i++)
				if (el[i] && !isnan(b->w[i])) {
					lo = fmin(lo, b->w[i]);
					hi = fmax(hi, b->w[i]);
				}
			for (size_t i = 0; i < n; i++)
				stat[o][i] = isnan(b->w[i]) ? 0 : hi > lo ?
					(b->w[i] - lo) / (hi - lo) : 1;
		} else if (b->kind == SMP_OBJ_BALANCE) {
			for (size_t i = 0; s->pre && i < n; i++)
				if (s->pre[i] && b->cat[i] >= 0)
					cnt[o][b->cat[i]]++;
		}
	}
	for (;;) {
		/* min_distance: drop the near ones */
		for (size_t i = 0; i < n && s->min_distance > 0; i++) {
			if (!el[i])
				continue;
			for (size_t j = 0; j < np && el[i]; j++)
				if (dist(s->x + i * d, s->x + picks[j] * d, d) <
				    s->min_distance)
					el[i] = 0;
			for (size_t j = 0; s->pre && j < n && el[i]; j++)
				if (s->pre[j] && dist(s->x + i * d, s->x + j * d,
						      d) < s->min_distance)
					el[i] = 0;
			for (size_t j = 0; j < s->npre && el[i]; j++)
				if (dist(s->x + i * d, s->prex + j * d, d) <
				    s->min_distance)
					el[i] = 0;
		}
		left = 0;
		for (size_t i = 0; i < n; i++)
			left += el[i];
		if (np == k || left == 0)
			break;
		for (size_t i = 0; i < n; i++)
			sc[i] = 1;
		for (size_t o = 0; o < s->nobj; o++) {
			const struct smp_objective *b = &s->obj[o];
			double mx = 0;
			for (size_t i = 0; i < n; i++) {
				if (b->kind == SMP_OBJ_DIVERSITY) {
					double m = INFINITY;
					for (size_t j = 0; j < np; j++)
						m = fmin(m, dist(s->x + i * d,
								 s->x + picks[j] * d, d));
					for (size_t j = 0; s->pre && j < n; j++)
						if (s->pre[j])
							m = fmin(m, dist(s->x + i * d,
									 s->x + j * d, d));
					for (size_t j = 0; j < s->npre; j++)
						m = fmin(m, dist(s->x + i * d,
								 s->prex + j * d, d));
					v[i] = np || any ? m : 1;
				} else if (b->kind == SMP_OBJ_BALANCE) {
					double share = b->target ? b->target[b->cat[i] < 0 ? 0 : b->cat[i]] : 1;
					v[i] = b->cat[i] < 0 ? 0 :
					       share / (double)(cnt[o][b->cat[i]] + 1);
				} else {
					v[i] = stat[o][i];
				}
				if (el[i] && v[i] > mx)
					mx = v[i];
			}
			for (size_t i = 0; i < n; i++) {
				double nv = b->kind == SMP_OBJ_WEIGHTS ? v[i] :
					    mx > 0 ? v[i] / mx : 1;
				sc[i] *= pow(nv, b->strength);
			}
		}
		size_t best = n;
		for (size_t j = 0; j < n; j++) {
			size_t i = (j + s->seed) % n;
			if (el[i] && (best == n || sc[i] > sc[best]))
				best = i;
		}
		picks[np++] = (uint32_t)best;
		el[best] = 0;
		for (size_t o = 0; o < s->nobj; o++)
			if (s->obj[o].kind == SMP_OBJ_BALANCE &&
			    s->obj[o].cat[best] >= 0)
				cnt[o][s->obj[o].cat[best]]++;
	}
	for (size_t o = 0; o < s->nobj; o++) {
		free(stat[o]);
		free(cnt[o]);
	}
	free(stat);
	free(cnt);
	free(sc);
	free(v);
	free(el);
	return np;
}

/* Runs smp_select and the reference on s: the same picks. */
static size_t same_as_ref(const struct smp_select_spec *s,
			  struct smp_result *r)
{
	uint32_t *want = malloc(s->n * sizeof(*want));
	size_t nw = ref_select(s, want);

	assert_int_equal(smp_select(s, NULL, r), 0);
	check_result(r, s->n);
	assert_int_equal(r->picked, nw);
	for (size_t i = 0; i < nw; i++)
		assert_int_equal(r->order[i], want[i]);
	free(want);
	return nw;
}

/* ---- each objective alone --------------------------------------------- */

static void test_diversity(void **state)
{
	(void)state;
	size_t n = 300, d = 8, k = 40;
	float *x = gauss(n, d, 1);
	struct smp_objective o = { .kind = SMP_OBJ_DIVERSITY, .strength = 1 };
	struct smp_select_spec s = { .x = x, .n = n, .d = d, .obj = &o,
				     .nobj = 1, .k = k };
	struct smp_result r, c;

	same_as_ref(&s, &r);
	/* farthest-first from row 0: smp_coreset's picks from start 0 */
	assert_int_equal(smp_coreset(x, n, d, k, 0, 0, NULL, &c), 0);
	for (size_t i = 0; i < k; i++)
		assert_int_equal(r.order[i], c.order[i]);
	/* a seed: farthest-first from row seed % n, as coreset's start */
	smp_result_free(&r);
	smp_result_free(&c);
	s.seed = 1234;
	same_as_ref(&s, &r);
	assert_int_equal(smp_coreset(x, n, d, k, 1234 % n, 0, NULL, &c), 0);
	for (size_t i = 0; i < k; i++)
		assert_int_equal(r.order[i], c.order[i]);
	smp_result_free(&r);
	smp_result_free(&c);
	s.seed = 0;
	same_as_ref(&s, &r);
	assert_int_equal(smp_coreset(x, n, d, k, 0, 0, NULL, &c), 0);
	/* the strength does not change a single objective's argmax */
	smp_result_free(&r);
	o.strength = 3;
	same_as_ref(&s, &r);
	for (size_t i = 0; i < k; i++)
		assert_int_equal(r.order[i], c.order[i]);
	smp_result_free(&r);
	smp_result_free(&c);
	free(x);
}

static void test_typicality(void **state)
{
	(void)state;
	size_t n = 200, d = 5;
	float *x = gauss(n, d, 2);
	double *t = malloc(n * sizeof(*t));
	struct smp_objective o = { .kind = SMP_OBJ_TYPICALITY, .strength = 1 };
	struct smp_select_spec s = { .x = x, .n = n, .d = d, .obj = &o,
				     .nobj = 1, .k = 30 };
	struct smp_result r;

	same_as_ref(&s, &r);
	/* the picks are the 30 densest, densest first */
	ref_density(x, n, d, t);
	for (size_t i = 0; i + 1 < 30; i++)
		assert_true(t[r.order[i]] >= t[r.order[i + 1]]);
	for (size_t i = 30; i < n; i++)
		assert_true(t[r.order[i]] <= t[r.order[29]]);
	smp_result_free(&r);
	free(t);
	free(x);
}

static void test_similarity(void **state)
{
	(void)state;
	size_t n = 150, d = 6;
	float *x = gauss(n, d, 3);
	float q[12];
	struct smp_objective o = { .kind = SMP_OBJ_SIMILARITY, .strength = 1,
				   .q = q, .nq = 2 };
	struct smp_select_spec s = { .x = x, .n = n, .d = d, .obj = &o,
				     .nobj = 1, .k = 10 };
	struct smp_result r;

	/* the queries: rows 17 and 90, slightly moved */
	for (size_t j = 0; j < d; j++) {
		q[j] = x[17 * d + j] * 1.01f;
		q[d + j] = x[90 * d + j] + 0.001f;
	}
	same_as_ref(&s, &r);
	/* the near-copies of the queries come first */
	assert_true((r.order[0] == 17 && r.order[1] == 90) ||
		    (r.order[0] == 90 && r.order[1] == 17));
	smp_result_free(&r);
	free(x);
}

static void test_weights(void **state)
{
	(void)state;
	size_t n = 50, d = 2;
	float *x = gauss(n, d, 4);
	double w[50];
	struct smp_objective o = { .kind = SMP_OBJ_WEIGHTS, .strength = 2,
				   .w = w };
	struct smp_select_spec s = { .x = x, .n = n, .d = d, .obj = &o,
				     .nobj = 1, .k = n };
	struct smp_result r;

	for (size_t i = 0; i < n; i++)
		w[i] = (double)((i * 37) % 50);
	w[3] = NAN;             /* no value: last */
	w[4] = w[5];            /* a tie: lower index first */
	same_as_ref(&s, &r);
	for (size_t i = 0; i + 1 < n - 1; i++)
		assert_true(w[r.order[i]] >= w[r.order[i + 1]]);
	assert_int_equal(r.order[n - 1], 3);
	for (size_t i = 0; i < n; i++)
		if (r.order[i] == 4 || r.order[i] == 5) {
			assert_int_equal(r.order[i], 4);
			break;
		}
	smp_result_free(&r);
	free(x);
}

static void test_balance(void **state)
{
	(void)state;
	size_t n = 120, d = 3;
	float *x = gauss(n, d, 5);
	int32_t cat[120];
	double target[3] = { 0.5, 0.25, 0.25 };
	struct smp_objective o = { .kind = SMP_OBJ_BALANCE, .strength = 1,
				   .cat = cat, .ncat = 3 };
	struct smp_select_spec s = { .x = x, .n = n, .d = d, .obj = &o,
				     .nobj = 1, .k = 40 };
	struct smp_result r;
	size_t got[3] = { 0 };

	/* class 0 is rare (10), class 1 common (90), class 2 has 20 */
	for (size_t i = 0; i < n; i++)
		cat[i] = i < 10 ? 0 : i < 100 ? 1 : 2;
	cat[50] = -1;
	/* uniform: D'Hondt gives 10 (all of class 0), 15, 15 */
	same_as_ref(&s, &r);
	for (size_t i = 0; i < 40; i++)
		got[cat[r.order[i]]]++;
	assert_int_equal(got[0], 10);
	assert_int_equal(got[1], 15);
	assert_int_equal(got[2], 15);
	smp_result_free(&r);
	/* a target: 0.25, 0.5, 0.25 of 20 -> 5, 10, 5 */
	target[0] = 0.25;
	target[1] = 0.5;
	o.target = target;
	s.k = 20;
	memset(got, 0, sizeof(got));
	same_as_ref(&s, &r);
	for (size_t i = 0; i < 20; i++)
		got[cat[r.order[i]]]++;
	assert_int_equal(got[0], 5);
	assert_int_equal(got[1], 10);
	assert_int_equal(got[2], 5);
	smp_result_free(&r);
	free(x);
}

/* ---- the combination --------------------------------------------------- */

static void test_combination(void **state)
{
	(void)state;
	size_t n = 160, d = 6;
	float *x = gauss(n, d, 6);
	double w[160], m[160];
	int32_t cat[160];
	float q[6];
	struct smp_objective o[5] = {
		{ .kind = SMP_OBJ_DIVERSITY, .strength = 1.5 },
		{ .kind = SMP_OBJ_WEIGHTS, .strength = 0.5, .w = w },
		{ .kind = SMP_OBJ_BALANCE, .strength = 2, .cat = cat,
		  .ncat = 4 },
		{ .kind = SMP_OBJ_SIMILARITY, .strength = 0.7, .q = q,
		  .nq = 1 },
		{ .kind = SMP_OBJ_TYPICALITY, .strength = 0.3 },
	};
	struct smp_threshold t[2] = { { .v = m, .op = SMP_OP_GT, .value = 0.2 },
				      { .v = w, .op = SMP_OP_LE, .value = 0.9 } };
	struct smp_select_spec s = { .x = x, .n = n, .d = d, .obj = o,
				     .nobj = 5, .thr = t, .nthr = 2, .k = 25 };
	struct smp_result r;

	lcg = 77;
	for (size_t i = 0; i < n; i++) {
		w[i] = urand();
		m[i] = urand();
		cat[i] = (int32_t)(urand() * 4);
	}
	m[7] = NAN;             /* fails every threshold */
	for (size_t j = 0; j < d; j++)
		q[j] = (float)nrand();
	same_as_ref(&s, &r);
	/* thresholds first: no pick fails one */
	for (size_t i = 0; i < r.picked; i++) {
		assert_true(m[r.order[i]] > 0.2 && w[r.order[i]] <= 0.9);
		assert_true(r.score[r.order[i]] >= 0.5);
	}
	/* the ones failing a threshold rank last, score 0 */
	assert_true(r.score[7] == 0);
	assert_true(r.score[r.order[n - 1]] == 0);
	smp_result_free(&r);
	/* every subset of objectives, two strengths each */
	for (unsigned mask = 1; mask < 32; mask++) {
		struct smp_objective sub[5];
		size_t ns = 0;
		for (size_t i = 0; i < 5; i++)
			if (mask & (1u << i)) {
				sub[ns] = o[i];
				sub[ns++].strength = (mask & 1) ? 2.0 : 0.5;
			}
		s.obj = sub;
		s.nobj = ns;
		same_as_ref(&s, &r);
		smp_result_free(&r);
	}
	free(x);
}

/* ---- preselected, proportion, min_distance -------------------------------- */

static void test_preselected(void **state)
{
	(void)state;
	size_t n = 100, d = 4;
	float *x = gauss(n, d, 8);
	float *extra = gauss(3, d, 9);
	uint8_t pre[100] = { 0 };
	int32_t cat[100];
	struct smp_objective o[2] = {
		{ .kind = SMP_OBJ_DIVERSITY, .strength = 1 },
		{ .kind = SMP_OBJ_BALANCE, .strength = 1, .cat = cat, .ncat = 2 },
	};
	struct smp_select_spec s = { .x = x, .n = n, .d = d, .obj = o,
				     .nobj = 1, .pre = pre, .prex = extra,
				     .npre = 3, .k = 20 };
	struct smp_result r;

	for (size_t i = 0; i < n; i++) {
		pre[i] = i % 7 == 0;
		cat[i] = i < 50 ? 0 : 1;
	}
	same_as_ref(&s, &r);
	for (size_t i = 0; i < r.picked; i++)
		assert_false(pre[r.order[i]]);
	/* the first pick is the farthest from every preselected row */
	double best = -1;
	size_t arg = 0;
	for (size_t i = 0; i < n; i++) {
		double m = INFINITY;
		if (pre[i])
			continue;
		for (size_t j = 0; j < n; j++)
			if (pre[j])
				m = fmin(m, dist(x + i * d, x + j * d, d));
		for (size_t j = 0; j < 3; j++)
			m = fmin(m, dist(x + i * d, extra + j * d, d));
		if (m > best) {
			best = m;
			arg = i;
		}
	}
	assert_int_equal(r.order[0], arg);
	/* preselected rank last (score 0) */
	for (size_t i = 0; i < n; i++)
		if (pre[i])
			assert_true(r.score[i] == 0);
	smp_result_free(&r);
	/* balance counts the preselected: 8 of class 0 (0,7,..,49) and 7
	 * of class 1 preselected; 15 picks of 30 in all -> 7 more of 0, 8
	 * of 1 */
	s.obj = o + 1;
	s.k = 15;
	same_as_ref(&s, &r);
	size_t c0 = 0;
	for (size_t i = 0; i < 15; i++)
		c0 += cat[r.order[i]] == 0;
	assert_int_equal(c0, 7);
	smp_result_free(&r);
	free(extra);
	free(x);
}

static void test_proportion(void **state)
{
	(void)state;
	size_t n = 90, d = 3;
	float *x = gauss(n, d, 10);
	uint8_t allow[90];
	struct smp_objective o = { .kind = SMP_OBJ_DIVERSITY, .strength = 1 };
	struct smp_select_spec s = { .x = x, .n = n, .d = d, .obj = &o,
				     .nobj = 1, .allowed = allow,
				     .proportion = 0.1 };
	struct smp_result r;

	for (size_t i = 0; i < n; i++)
		allow[i] = i % 3 != 0;       /* 60 allowed */
	same_as_ref(&s, &r);
	assert_int_equal(r.picked, 6);  /* ceil(0.1 · 60) */
	for (size_t i = 0; i < r.picked; i++)
		assert_true(allow[r.order[i]]);
	smp_result_free(&r);
	s.proportion = 0.33;            /* ceil(19.8) = 20 */
	same_as_ref(&s, &r);
	assert_int_equal(r.picked, 20);
	smp_result_free(&r);
	s.k = 5;
	same_as_ref(&s, &r);
	assert_int_equal(r.picked, 5);
	smp_result_free(&r);
	free(x);
}

static void test_min_distance(void **state)
{
	(void)state;
	size_t n = 200, d = 2;
	float *x = gauss(n, d, 11);
	double w[200];
	struct smp_objective o[2] = {
		{ .kind = SMP_OBJ_DIVERSITY, .strength = 1 },
		{ .kind = SMP_OBJ_WEIGHTS, .strength = 1, .w = w },
	};
	struct smp_select_spec s = { .x = x, .n = n, .d = d, .obj = o,
				     .nobj = 1, .min_distance = 0.8 };
	struct smp_result r, c;

	for (size_t i = 0; i < n; i++)
		w[i] = (double)i;
	size_t np = same_as_ref(&s, &r);
	assert_true(np > 3 && np < n);
	/* diversity alone: farthest-first's own stop */
	assert_int_equal(smp_coreset(x, n, d, n, 0, 0.8f, NULL, &c), 0);
	assert_int_equal(c.picked, np);
	smp_result_free(&c);
	for (size_t i = 0; i < np; i++)
		for (size_t j = 0; j < i; j++)
			assert_true(dist(x + r.order[i] * d, x + r.order[j] * d,
					 d) >= 0.8);
	smp_result_free(&r);
	/* weights with min_distance: still no two picks nearer */
	s.obj = o + 1;
	np = same_as_ref(&s, &r);
	for (size_t i = 0; i < np; i++)
		for (size_t j = 0; j < i; j++)
			assert_true(dist(x + r.order[i] * d, x + r.order[j] * d,
					 d) >= 0.8);
	smp_result_free(&r);
	free(x);
}

static void test_bad_spec(void **state)
{
	(void)state;
	float x[4] = { 0, 1, 2, 3 };
	double w[4] = { 0 };
	int32_t cat[4] = { 0, 1, 2, 0 };
	struct smp_objective o = { .kind = SMP_OBJ_DIVERSITY, .strength = 1 };
	struct smp_select_spec s = { .x = x, .n = 4, .d = 1, .obj = &o,
				     .nobj = 1 };
	struct smp_result r;

	o.strength = 0;
	assert_int_equal(smp_select(&s, NULL, &r), -EINVAL);
	o.strength = NAN;
	assert_int_equal(smp_select(&s, NULL, &r), -EINVAL);
	o.strength = 1;
	o.kind = 99;
	assert_int_equal(smp_select(&s, NULL, &r), -EINVAL);
	o.kind = SMP_OBJ_WEIGHTS;       /* no values */
	assert_int_equal(smp_select(&s, NULL, &r), -EINVAL);
	o.w = w;
	assert_int_equal(smp_select(&s, NULL, &r), 0);
	smp_result_free(&r);
	o.kind = SMP_OBJ_BALANCE;       /* class 2 >= ncat */
	o.cat = cat;
	o.ncat = 2;
	assert_int_equal(smp_select(&s, NULL, &r), -EINVAL);
	o.kind = SMP_OBJ_DIVERSITY;
	s.proportion = 1.5;
	assert_int_equal(smp_select(&s, NULL, &r), -EINVAL);
	s.proportion = 0;
	s.min_distance = -1;
	assert_int_equal(smp_select(&s, NULL, &r), -EINVAL);
	s.min_distance = 0;
	s.nobj = 0;
	assert_int_equal(smp_select(&s, NULL, &r), -EINVAL);
	assert_null(r.order);
	/* a cancel flag: -ECANCELED, nothing kept */
	volatile int cancel = 1;
	struct smp_ctl ctl = { .cancel = &cancel };
	s.nobj = 1;
	assert_int_equal(smp_select(&s, &ctl, &r), -ECANCELED);
	assert_null(r.order);
}

/* ---- path regex and the grammar ------------------------------------------ */

static void test_path_mask(void **state)
{
	(void)state;
	char *paths[] = { "cats/a.jpg", "dogs/b.jpg", "cats/c.png", "x.jpg" };
	uint8_t m[4];
	char why[300];

	assert_int_equal(core_objs_path_mask("^cats/.*\\.jpg$", paths, 4, m,
					     why, sizeof(why)), 0);
	assert_int_equal(m[0], 1);
	assert_int_equal(m[1], 0);
	assert_int_equal(m[2], 0);
	assert_int_equal(m[3], 0);
	assert_int_equal(core_objs_path_mask("jpg|png", paths, 4, m, why,
					     sizeof(why)), 0);
	assert_true(m[0] && m[1] && m[2] && m[3]);
	assert_int_equal(core_objs_path_mask("cats/(", paths, 4, m, why,
					     sizeof(why)), -EINVAL);
	assert_non_null(strstr(why, "path=cats/(: "));
	assert_true(strlen(why) > strlen("path=cats/(: "));
}

static void parse_ok(const char *line, struct core_req *q)
{
	char msg[512] = "", text[2048];
	struct core_req q2;

	if (core_req_parse(line, q, msg, sizeof(msg)))
		fail_msg("'%s' refused: %s", line, msg);
	if (!q->sel.on)
		return;
	core_objs_format(q, text, sizeof(text));
	if (core_req_parse(text, &q2, msg, sizeof(msg)))
		fail_msg("canonical '%s' refused: %s", text, msg);
	assert_memory_equal(&q2.sel, &q->sel, sizeof(q->sel));
	assert_int_equal(q2.n, q->n);
	assert_int_equal(q2.seed, q->seed);
	assert_true(q2.min_distance == q->min_distance);
	assert_string_equal(q2.from, q->from);
	assert_string_equal(q2.embedding, q->embedding);
	assert_int_equal(q2.dedup_on, q->dedup_on);
	assert_true(q2.dedup == q->dedup);
}

static void parse_bad(const char *line, const char *want)
{
	struct core_req q;
	char msg[512] = "";

	if (core_req_parse(line, &q, msg, sizeof(msg)) != -EINVAL)
		fail_msg("'%s' was not refused", line);
	if (!strstr(msg, want))
		fail_msg("'%s': message '%s' lacks '%s'", line, msg, want);
}

static void test_grammar(void **state)
{
	(void)state;
	struct core_req q;

	/* old requests keep their meaning */
	parse_ok("typicality n=100", &q);
	assert_false(q.sel.on);
	assert_string_equal(q.strategy, "typicality");
	parse_ok("balance n=5", &q);
	assert_false(q.sel.on);
	parse_ok("n=100", &q);
	assert_false(q.sel.on);
	assert_string_equal(q.strategy, CORE_DEFAULT_STRATEGY);
	parse_ok("coreset n=10 min_distance=0.5", &q);
	assert_false(q.sel.on);
	/* the new forms */
	parse_ok("diversity strength=1 min_distance=0.2 n=100", &q);
	assert_true(q.sel.on);
	assert_string_equal(q.strategy, "select");
	assert_int_equal(q.sel.nobj, 1);
	assert_int_equal(q.sel.obj[0].kind, SMP_OBJ_DIVERSITY);
	assert_true(q.min_distance == 0.2f);
	assert_int_equal(q.n, 100);
	parse_ok("typicality strength=0.5 + diversity n=100", &q);
	assert_int_equal(q.sel.nobj, 2);
	assert_true(q.sel.obj[0].strength == 0.5);
	assert_int_equal(q.sel.obj[1].kind, SMP_OBJ_DIVERSITY);
	parse_ok("similarity query=TAG + diversity proportion=0.1", &q);
	assert_string_equal(q.sel.obj[0].query, "TAG");
	assert_true(q.sel.proportion == 0.1);
	parse_ok("weights column=preds.uncertainty_entropy strength=2 +"
		 " diversity n=50", &q);
	assert_string_equal(q.sel.obj[0].column, "preds.uncertainty_entropy");
	parse_ok("threshold column=builtin.brightness op=> value=0.2 +"
		 " diversity n=50", &q);
	assert_int_equal(q.sel.nthr, 1);
	assert_int_equal(q.sel.nobj, 1);
	assert_int_equal(q.sel.thr[0].op, SMP_OP_GT);
	assert_true(q.sel.thr[0].value == 0.2);
	parse_ok("threshold column=m.size op=le value=-3 n=5", &q);
	assert_int_equal(q.sel.thr[0].op, SMP_OP_LE);
	assert_int_equal(q.sel.nobj, 2);        /* the default objectives */
	parse_ok("balance column=preds.class target=cat:0.5,dog:0.5 +"
		 " diversity n=100", &q);
	assert_string_equal(q.sel.obj[0].target, "cat:0.5,dog:0.5");
	parse_ok("balance strength=2 target=uniform n=10", &q);
	assert_true(q.sel.on);
	parse_ok("n=20 path=^cats/ preselected=labelled seed=3 from=t1"
		 " embedding=e", &q);
	assert_string_equal(q.sel.path, "^cats/");
	assert_string_equal(q.sel.preselected, "labelled");
	assert_int_equal(q.sel.obj[0].kind, SMP_OBJ_TYPICALITY);
	assert_int_equal(q.sel.obj[1].kind, SMP_OBJ_DIVERSITY);
	parse_ok("random + diversity strength=0.1 n=3", &q);
	assert_int_equal(q.sel.obj[0].kind, SMP_OBJ_RANDOM);
	/* refusals, each with its reason */
	parse_bad("diversity + novelty n=3", "unknown objective 'novelty'");
	parse_bad("diversity + n=3", "'+' joins two objectives");
	parse_bad("diversity n=3 +", "'+' at the end");
	parse_bad("+ diversity", "'+' joins two objectives");
	parse_bad("diversity strength=0", "strength=0: expected a number in"
		  " (0, 100]");
	parse_bad("diversity strength=abc", "strength=abc");
	parse_bad("diversity strength=1e9", "strength=1e9");
	parse_bad("diversity strength=nan", "strength=nan");
	parse_bad("threshold column=a.b op=!= value=1", "op=!=: unknown"
		  " operator");
	parse_bad("threshold column=a.b value=1", "threshold: expected");
	parse_bad("threshold column=nodot op=< value=1", "column=nodot");
	parse_bad("weights n=3", "weights: expected column=");
	parse_bad("similarity n=3", "similarity: expected query=TAG");
	parse_bad("diversity query=t", "query= belongs to similarity");
	parse_bad("diversity target=uniform", "target= belongs to balance");
	parse_bad("diversity op=<", "op= belongs to threshold");
	parse_bad("diversity column=a.b", "column= belongs to");
	parse_bad("n=3 path=a(", "path=a(: ");
	/* regcomp's exponential cases are refused before it runs */
	parse_bad("n=3 path=^]++++++++++++++++/]jpg$", "a repetition right"
		  " after another");
	parse_bad("n=3 path=(a{1,200}){1,200}", "repetition bounds too large");
	parse_bad("n=3 path=(a*){2000}", "repetition bounds too large");
	parse_ok("n=3 path=^a[+*]+\\++b{2}(c|d)?$", &q);
	parse_ok("n=3 path=[[:alpha:]]+x*[]+]", &q);
	parse_bad("n=3 proportion=0", "proportion=0: expected");
	parse_bad("n=3 proportion=1.5", "proportion=1.5");
	parse_bad("diversity colour=red", "unknown key 'colour'");
	parse_bad("diversity preselected=../x", "preselected=../x: not a"
		  " valid name");
	parse_bad("strength=2 n=3", "strength= belongs to an objective");
	parse_bad("diversity n=0", "n=0: expected a positive count");
}

/* dedup=D in a request of several objectives: the grammar, and the
 * mask that leaves one member of each near-duplicate group a candidate
 * (core_objs_dedup_mask) before smp_select. Ten rows far apart (a grid
 * of spacing 1), row 7 an exact copy of row 2, row 8 within 0.01 of 4. */
static void test_dedup(void **state)
{
	(void)state;
	enum { N = 10, D = 2 };
	float x[N * D];
	uint8_t allow[N], pre[N];
	double tv[N];
	struct smp_threshold thr = { .v = tv, .op = SMP_OP_GT, .value = 0 };
	struct core_req q;

	for (size_t i = 0; i < N; i++) {
		x[i * D] = (float)(i % 4);
		x[i * D + 1] = (float)(i / 4) * 1.5f;
		tv[i] = 1;
	}
	x[7 * D] = x[2 * D];
	x[7 * D + 1] = x[2 * D + 1];
	x[8 * D] = x[4 * D] + 0.01f;
	x[8 * D + 1] = x[4 * D + 1];

	/* the grammar: dedup=D is a global key of the selection form */
	parse_ok("typicality + diversity n=5 dedup=0.05", &q);
	assert_true(q.sel.on);
	assert_true(q.dedup_on);
	assert_true(q.dedup == 0.05f);
	parse_ok("weights column=p.uncertainty_entropy + diversity n=5"
		 " preselected=lab dedup=0", &q);
	assert_true(q.dedup_on);
	assert_true(q.dedup == 0);
	parse_ok("diversity n=5", &q);
	assert_false(q.dedup_on);
	parse_bad("diversity n=3 dedup=-1", "dedup=-1: expected a distance"
		  " >= 0");
	parse_bad("diversity n=3 dedup=abc", "dedup=abc: expected");
	parse_bad("diversity n=3 dedup=nan", "dedup=nan: expected");
	parse_bad("diversity n=3 dedup=", "dedup=: expected");

	/* plain: the first of each group stays */
	memset(allow, 1, N);
	assert_int_equal(core_objs_dedup_mask(x, N, D, 0.05, NULL, NULL, 0,
					      allow), 0);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(allow[i], i != 7 && i != 8);
	/* D = 0 still joins the exact copy, not the near one */
	memset(allow, 1, N);
	assert_int_equal(core_objs_dedup_mask(x, N, D, 0, NULL, NULL, 0,
					      allow), 0);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(allow[i], i != 7);
	/* path= left 2 out: its copy 7 stays instead */
	memset(allow, 1, N);
	allow[2] = 0;
	assert_int_equal(core_objs_dedup_mask(x, N, D, 0.05, NULL, NULL, 0,
					      allow), 0);
	assert_int_equal(allow[2], 0);
	assert_int_equal(allow[7], 1);
	assert_int_equal(allow[8], 0);
	/* a threshold 4 fails: 8 stays */
	memset(allow, 1, N);
	tv[4] = -1;
	assert_int_equal(core_objs_dedup_mask(x, N, D, 0.05, NULL, &thr, 1,
					      allow), 0);
	assert_int_equal(allow[4], 0);  /* not the kept one */
	assert_int_equal(allow[8], 1);
	assert_int_equal(allow[7], 0);
	tv[4] = 1;
	/* 4 preselected (labelled already): its near copy 8 never a pick */
	memset(allow, 1, N);
	memset(pre, 0, N);
	pre[4] = 1;
	assert_int_equal(core_objs_dedup_mask(x, N, D, 0.05, pre, NULL, 0,
					      allow), 0);
	assert_int_equal(allow[4], 1);
	assert_int_equal(allow[8], 0);
	assert_int_equal(allow[7], 0);
	assert_int_equal(allow[2], 1);
	/* a bad distance: refused, nothing changed */
	memset(allow, 1, N);
	assert_int_equal(core_objs_dedup_mask(x, N, D, -1, NULL, NULL, 0,
					      allow), -EINVAL);
	for (size_t i = 0; i < N; i++)
		assert_int_equal(allow[i], 1);

	/* through smp_select: every candidate picked, never both members */
	struct smp_objective o = { .kind = SMP_OBJ_DIVERSITY, .strength = 1 };
	struct smp_select_spec s = { .x = x, .n = N, .d = D, .obj = &o,
				     .nobj = 1, .allowed = allow, .k = N };
	struct smp_result r;
	memset(allow, 1, N);
	assert_int_equal(core_objs_dedup_mask(x, N, D, 0.05, NULL, NULL, 0,
					      allow), 0);
	assert_int_equal(smp_select(&s, NULL, &r), 0);
	check_result(&r, N);
	assert_int_equal(r.picked, N - 2);
	int got[N] = { 0 };
	for (size_t i = 0; i < r.picked; i++)
		got[r.order[i]] = 1;
	assert_false(got[2] && got[7]);
	assert_false(got[4] && got[8]);
	smp_result_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_diversity),
		cmocka_unit_test(test_typicality),
		cmocka_unit_test(test_similarity),
		cmocka_unit_test(test_weights),
		cmocka_unit_test(test_balance),
		cmocka_unit_test(test_combination),
		cmocka_unit_test(test_preselected),
		cmocka_unit_test(test_proportion),
		cmocka_unit_test(test_min_distance),
		cmocka_unit_test(test_bad_spec),
		cmocka_unit_test(test_path_mask),
		cmocka_unit_test(test_grammar),
		cmocka_unit_test(test_dedup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
