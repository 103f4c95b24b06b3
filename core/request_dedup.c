/*
 * request_dedup.c — dedup=D in a selection of several objectives (issue
 * 21 item 3 meets item 2; see request.h): before sampling/select.c picks,
 * every member of each duplicate group of the candidates but one stops
 * being a candidate (its `allowed` flag cleared), so a selection never
 * holds two copies of one sample.
 *
 * Two passes over the groups of core/dups.h, in this order: the exact
 * duplicates (the same content hash: the files of the tree the
 * candidates' vectors were loaded from, matched to them by path), then the near ones (vectors
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

/* The walk of candidate_hashes: the tree's files and the candidates
 * (m->paths) both come in bytewise path order (store_tree_files_each,
 * store_matrix_load), so one pass matches them. */
struct hash_walk {
	const struct store_matrix *m;
	unsigned char *sha;
	size_t i;                /* the next candidate not matched yet */
};

static int hash_file(void *arg, const char *path, const unsigned char *sha,
		     int64_t size)
{
	struct hash_walk *w = arg;

	(void)size;
	while (w->i < w->m->n && strcmp(w->m->paths[w->i], path) < 0)
		w->i++;
	if (w->i < w->m->n && !strcmp(w->m->paths[w->i], path))
		memcpy(w->sha + w->i++ * STORE_SHA_LEN, sha, STORE_SHA_LEN);
	return 0;
}

/* sha[i] = the content hash of candidate i (m->paths[i]) in tree; a
 * candidate not found (none should be) gets a hash no other has. */
static int candidate_hashes(store *st, int64_t tree,
			    const struct store_matrix *m, unsigned char *sha)
{
	struct hash_walk w = { .m = m, .sha = sha };

	for (size_t i = 0; i < m->n; i++) {
		unsigned char *h = sha + i * STORE_SHA_LEN;
		memset(h, 0xff, STORE_SHA_LEN);
		memcpy(h, &i, sizeof(i));
	}
	return store_tree_files_each(st, tree, hash_file, &w);
}

int core_objs_dedup(store *st, int64_t tree, const struct core_req *q,
		    const struct store_matrix *m, const uint8_t *pre,
		    const struct smp_threshold *thr, size_t nthr,
		    uint8_t *allowed, char *why, size_t whylen)
{
	struct core_dups g;
	unsigned char *sha;
	int rc;

	if (!(sha = malloc((m->n ? m->n : 1) * STORE_SHA_LEN)))
		return -ENOMEM;
	rc = candidate_hashes(st, tree, m, sha);
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
