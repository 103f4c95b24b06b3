/*
 * dups.c — duplicate groups (core/dups.h): a union-find over the pairs
 * found, exact ones by sorting the hashes, near ones by a sorted sweep
 * along the principal direction.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/dups.h"

void core_dups_free(struct core_dups *g)
{
	if (!g)
		return;
	free(g->start);
	free(g->member);
	memset(g, 0, sizeof(*g));
}

static size_t uf_find(size_t *p, size_t i)
{
	while (p[i] != i) {
		p[i] = p[p[i]];
		i = p[i];
	}
	return i;
}

static void uf_join(size_t *p, size_t a, size_t b)
{
	a = uf_find(p, a);
	b = uf_find(p, b);
	if (a < b)
		p[b] = a;
	else if (b < a)
		p[a] = b;
}

/* The groups of the union-find p (roots are each set's least index). */
static int groups_of(size_t *p, size_t n, struct core_dups *out)
{
	size_t *count = calloc(n ? n : 1, sizeof(*count));
	size_t *slot = NULL, ng = 0, nm = 0;

	memset(out, 0, sizeof(*out));
	if (!count)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		count[uf_find(p, i)]++;
	for (size_t i = 0; i < n; i++)
		if (count[i] > 1) {
			ng++;
			nm += count[i];
		}
	out->start = malloc((ng + 1) * sizeof(*out->start));
	out->member = malloc((nm ? nm : 1) * sizeof(*out->member));
	slot = malloc((n ? n : 1) * sizeof(*slot));
	if (!out->start || !out->member || !slot) {
		free(count);
		free(slot);
		core_dups_free(out);
		return -ENOMEM;
	}
	/* roots ascending = groups by first member; members ascending */
	size_t off = 0, g = 0;
	for (size_t i = 0; i < n; i++)
		if (count[i] > 1) {
			out->start[g++] = off;
			slot[i] = off;
			off += count[i];
		}
	out->start[ng] = off;
	for (size_t i = 0; i < n; i++) {
		size_t r = uf_find(p, i);
		if (count[r] > 1)
			out->member[slot[r]++] = i;
	}
	out->ngroups = ng;
	free(count);
	free(slot);
	return 0;
}

struct hkey {
	const unsigned char *h;
	size_t i, len;
};

static int by_hash(const void *a, const void *b)
{
	const struct hkey *x = a, *y = b;
	int c = memcmp(x->h, y->h, x->len);

	return c ? c : (x->i > y->i) - (x->i < y->i);
}

int core_dups_exact(const unsigned char *sha, size_t hlen, size_t n,
		    struct core_dups *out)
{
	struct hkey *k = malloc((n ? n : 1) * sizeof(*k));
	size_t *p = malloc((n ? n : 1) * sizeof(*p));
	int rc;

	memset(out, 0, sizeof(*out));
	if (!k || !p) {
		free(k);
		free(p);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		k[i] = (struct hkey){ .h = sha + i * hlen, .i = i, .len = hlen };
		p[i] = i;
	}
	qsort(k, n, sizeof(*k), by_hash);
	for (size_t i = 1; i < n; i++)
		if (!memcmp(k[i].h, k[i - 1].h, hlen))
			uf_join(p, k[i - 1].i, k[i].i);
	free(k);
	rc = groups_of(p, n, out);
	free(p);
	return rc;
}

/* The principal direction of x (centred), by power iteration, into u
 * (unit length); a coordinate axis when the data has no spread. */
static void principal(const float *x, size_t n, size_t dim, double *mean,
		      double *u, double *v)
{
	for (size_t j = 0; j < dim; j++)
		mean[j] = 0;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < dim; j++)
			mean[j] += isfinite(x[i * dim + j]) ? x[i * dim + j] : 0;
	for (size_t j = 0; j < dim; j++) {
		mean[j] /= (double)(n ? n : 1);
		u[j] = 1.0 / sqrt((double)dim) * (1.0 + 0.01 * (double)j);
	}
	for (int it = 0; it < 12; it++) {
		double norm = 0;
		for (size_t j = 0; j < dim; j++)
			v[j] = 0;
		for (size_t i = 0; i < n; i++) {
			const float *r = x + i * dim;
			double s = 0;
			for (size_t j = 0; j < dim; j++)
				s += isfinite(r[j]) ? (r[j] - mean[j]) * u[j] : 0;
			for (size_t j = 0; j < dim; j++)
				v[j] += isfinite(r[j]) ? s * (r[j] - mean[j]) : 0;
		}
		for (size_t j = 0; j < dim; j++)
			norm += v[j] * v[j];
		if (!(norm > 0))
			break;
		norm = sqrt(norm);
		for (size_t j = 0; j < dim; j++)
			u[j] = v[j] / norm;
	}
	double norm = 0;
	for (size_t j = 0; j < dim; j++)
		norm += u[j] * u[j];
	norm = sqrt(norm);
	for (size_t j = 0; j < dim; j++)
		u[j] = norm > 0 ? u[j] / norm : (j == 0);
}

struct proj {
	double p;
	size_t i;
};

static int by_proj(const void *a, const void *b)
{
	const struct proj *x = a, *y = b;

	return (x->p > y->p) - (x->p < y->p);
}

int core_dups_near(const float *x, size_t n, size_t dim, double max_distance,
		   struct core_dups *out)
{
	struct proj *pr = NULL;
	double *mean = NULL, *u = NULL, *v = NULL, d2;
	size_t *p = NULL, m = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!(max_distance >= 0) || !isfinite(max_distance) ||
	    (dim == 0 && n > 0))
		return -EINVAL;
	d2 = max_distance * max_distance;
	pr = malloc((n ? n : 1) * sizeof(*pr));
	p = malloc((n ? n : 1) * sizeof(*p));
	mean = malloc((dim ? dim : 1) * sizeof(*mean));
	u = malloc((dim ? dim : 1) * sizeof(*u));
	v = malloc((dim ? dim : 1) * sizeof(*v));
	if (!pr || !p || !mean || !u || !v) {
		rc = -ENOMEM;
		goto out;
	}
	principal(x, n, dim, mean, u, v);
	for (size_t i = 0; i < n; i++) {
		const float *r = x + i * dim;
		double s = 0;
		int ok = 1;
		p[i] = i;
		for (size_t j = 0; j < dim; j++) {
			ok &= isfinite(r[j]) != 0;
			s += (r[j] - mean[j]) * u[j];
		}
		if (ok)
			pr[m++] = (struct proj){ .p = s, .i = i };
	}
	qsort(pr, m, sizeof(*pr), by_proj);
	for (size_t a = 0; a < m; a++) {
		const float *ra = x + pr[a].i * dim;
		for (size_t b = a + 1; b < m; b++) {
			const float *rb = x + pr[b].i * dim;
			double s = 0;
			size_t j;
			/* the projections differ by at most the distance */
			if (pr[b].p - pr[a].p > max_distance * (1 + 1e-9) + 1e-12)
				break;
			for (j = 0; j < dim && s <= d2; j++) {
				double t = (double)ra[j] - (double)rb[j];
				s += t * t;
			}
			if (j == dim && s <= d2)
				uf_join(p, pr[a].i, pr[b].i);
		}
	}
	rc = groups_of(p, n, out);
out:
	free(pr);
	free(p);
	free(mean);
	free(u);
	free(v);
	return rc;
}

int core_dups_rerank(const float *x, size_t n, size_t dim,
		     double max_distance, uint32_t *order, float *score,
		     size_t *kept)
{
	struct core_dups g;
	size_t *rank = malloc((n ? n : 1) * sizeof(*rank));
	uint32_t *tmp = malloc((n ? n : 1) * sizeof(*tmp));
	uint8_t *drop = calloc(n ? n : 1, 1);
	size_t o = 0;
	int rc = rank && tmp && drop ? 0 : -ENOMEM;

	if (!rc)
		rc = core_dups_near(x, n, dim, max_distance, &g);
	if (rc) {
		free(rank);
		free(tmp);
		free(drop);
		return rc;
	}
	for (size_t i = 0; i < n; i++)
		rank[order[i]] = i;
	for (size_t k = 0; k < g.ngroups; k++) {
		size_t best = g.member[g.start[k]];
		for (size_t m = g.start[k]; m < g.start[k + 1]; m++)
			if (rank[g.member[m]] < rank[best])
				best = g.member[m];
		for (size_t m = g.start[k]; m < g.start[k + 1]; m++)
			drop[g.member[m]] = g.member[m] != best;
	}
	for (size_t i = 0; i < n; i++)
		if (!drop[order[i]])
			tmp[o++] = order[i];
	*kept = o;
	for (size_t i = 0; i < n; i++)
		if (drop[order[i]]) {
			tmp[o++] = order[i];
			score[order[i]] = 0;
		}
	memcpy(order, tmp, n * sizeof(*order));
	core_dups_free(&g);
	free(rank);
	free(tmp);
	free(drop);
	return 0;
}

void core_dups_mask(const struct core_dups *g, size_t n, uint8_t *drop)
{
	memset(drop, 0, n);
	for (size_t k = 0; k < g->ngroups; k++)
		for (size_t m = g->start[k] + 1; m < g->start[k + 1]; m++)
			if (g->member[m] < n)
				drop[g->member[m]] = 1;
}
