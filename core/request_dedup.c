/*
 * request_dedup.c — dedup=D in a selection of several objectives (issue
 * 21 item 3 meets item 2; see request.h): before sampling/select.c picks,
 * every member of each duplicate group of the candidates but one stops
 * being a candidate (its `allowed` flag cleared), so a selection never
 * holds two copies of one sample.
 *
 * Two passes over the groups of core/dups.h, in this order: the exact
 * duplicates (the same content hash: the files of the request's from=
 * tag, matched to the candidates by path), then the near ones (vectors
 * within D, transitively). Of a group, the first candidate in path order
 * that path= and the thresholds let through stays; none when a member is
 * preselected (a copy of a labelled sample is no new information).
 *
 * Ownership: reads the catalog (the tag, its files' hashes), writes only
 * the caller's flags. Failure: -EINVAL with why, -ENOMEM, -errno; the
 * flags are then partly updated and the caller abandons the run.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dups.h"
#include "core/request.h"
#include "core/runs.h"
#include "sampling/sampling.h"
#include "store/store.h"

/* Does candidate j pass every threshold (a NaN value fails)? */
static int thr_pass(const struct smp_threshold *thr, size_t nthr, size_t j)
{
	for (size_t i = 0; i < nthr; i++) {
		double v = thr[i].v[j], t = thr[i].value;
		int ok = thr[i].op == SMP_OP_LT ? v < t :
			 thr[i].op == SMP_OP_LE ? v <= t :
			 thr[i].op == SMP_OP_GT ? v > t : v >= t;
		if (isnan(v) || !ok)
			return 0;
	}
	return 1;
}

void core_objs_dedup_groups(const struct core_dups *g, const uint8_t *pre,
			    const struct smp_threshold *thr, size_t nthr,
			    uint8_t *allowed)
{
	for (size_t gi = 0; gi < g->ngroups; gi++) {
		const size_t *mem = g->member + g->start[gi];
		size_t cnt = g->start[gi + 1] - g->start[gi], keep = SIZE_MAX;
		int labelled = 0;
		for (size_t i = 0; i < cnt; i++)
			labelled |= pre && pre[mem[i]];
		for (size_t i = 0; i < cnt && !labelled; i++) {
			size_t j = mem[i];
			if (allowed[j] && !(pre && pre[j]) &&
			    thr_pass(thr, nthr, j)) {
				keep = j;
				break;
			}
		}
		for (size_t i = 0; i < cnt; i++)
			if (mem[i] != keep && !(pre && pre[mem[i]]))
				allowed[mem[i]] = 0;
	}
}

int core_objs_dedup_mask(const float *x, size_t n, size_t dim, double d,
			 const uint8_t *pre, const struct smp_threshold *thr,
			 size_t nthr, uint8_t *allowed)
{
	struct core_dups g;
	int rc = core_dups_near(x, n, dim, d, &g);

	if (rc)
		return rc;
	core_objs_dedup_groups(&g, pre, thr, nthr, allowed);
	core_dups_free(&g);
	return 0;
}

/* The files of a tree, as store_tree_files_each gives them. */
struct tree_files {
	size_t n, cap;
	char **path;
	unsigned char *sha;
	int err;
};

static int add_file(void *arg, const char *path, const unsigned char *sha,
		    int64_t size)
{
	struct tree_files *f = arg;

	(void)size;
	if (f->n == f->cap) {
		size_t nc = f->cap ? 2 * f->cap : 256;
		char **np = realloc(f->path, nc * sizeof(*np));
		if (!np)
			return f->err = -ENOMEM;
		f->path = np;
		unsigned char *ns = realloc(f->sha, nc * STORE_SHA_LEN);
		if (!ns)
			return f->err = -ENOMEM;
		f->sha = ns;
		f->cap = nc;
	}
	if (!(f->path[f->n] = strdup(path)))
		return f->err = -ENOMEM;
	memcpy(f->sha + f->n * STORE_SHA_LEN, sha, STORE_SHA_LEN);
	f->n++;
	return 0;
}

static int cmp_idx(const void *a, const void *b, void *arg)
{
	char *const *p = arg;

	return strcmp(p[*(const size_t *)a], p[*(const size_t *)b]);
}

/* sha[i] = the content hash of candidate i (m->paths[i]) in tree; a
 * candidate not found (none should be) gets a hash no other has. */
static int candidate_hashes(store *st, int64_t tree,
			    const struct store_matrix *m, unsigned char *sha)
{
	struct tree_files f = { 0 };
	size_t *idx = NULL;
	int rc = store_tree_files_each(st, tree, add_file, &f);

	if (f.err)
		rc = f.err;
	if (!rc && !(idx = malloc((f.n ? f.n : 1) * sizeof(*idx))))
		rc = -ENOMEM;
	if (!rc) {
		for (size_t i = 0; i < f.n; i++)
			idx[i] = i;
		qsort_r(idx, f.n, sizeof(*idx), cmp_idx, f.path);
		for (size_t i = 0; i < m->n; i++) {
			size_t lo = 0, hi = f.n;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (strcmp(f.path[idx[mid]], m->paths[i]) < 0)
					lo = mid + 1;
				else
					hi = mid;
			}
			unsigned char *h = sha + i * STORE_SHA_LEN;
			if (lo < f.n && !strcmp(f.path[idx[lo]], m->paths[i])) {
				memcpy(h, f.sha + idx[lo] * STORE_SHA_LEN,
				       STORE_SHA_LEN);
			} else {
				memset(h, 0xff, STORE_SHA_LEN);
				memcpy(h, &i, sizeof(i));
			}
		}
	}
	for (size_t i = 0; i < f.n; i++)
		free(f.path[i]);
	free(f.path);
	free(f.sha);
	free(idx);
	return rc;
}

int core_objs_dedup(store *st, int64_t ds, const struct core_req *q,
		    const struct store_matrix *m, const uint8_t *pre,
		    const struct smp_threshold *thr, size_t nthr,
		    uint8_t *allowed, char *why, size_t whylen)
{
	const char *from = q->from[0] ? q->from : "initial-tag";
	struct store_tag t;
	struct core_dups g;
	unsigned char *sha;
	int rc = store_tag_get(st, ds, from, &t);

	if (rc == -ENOENT) {
		snprintf(why, whylen, "from=%s: no such tag", from);
		return -EINVAL;
	}
	if (rc)
		return rc;
	if (!(sha = malloc((m->n ? m->n : 1) * STORE_SHA_LEN)))
		return -ENOMEM;
	rc = candidate_hashes(st, t.id, m, sha);
	if (!rc)
		rc = core_dups_exact(sha, STORE_SHA_LEN, m->n, &g);
	free(sha);
	if (rc)
		return rc;
	core_objs_dedup_groups(&g, pre, thr, nthr, allowed);
	core_dups_free(&g);
	rc = core_objs_dedup_mask(m->x, m->n, m->dim, q->dedup, pre, thr,
				  nthr, allowed);
	if (rc == -EINVAL)
		snprintf(why, whylen, "dedup=%g: not a distance the search"
			 " takes", (double)q->dedup);
	return rc;
}
