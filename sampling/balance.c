/*
 * balance.c — the `balance` strategy: picks spread over the labels as
 * evenly as their counts allow, uniformly random within a label.
 *
 * The whole ranking is built as rounds: round r takes the r-th sample
 * (a seeded shuffle of the label's samples) of every label that has more
 * than r, the labels of a round in a seeded random order. So every prefix
 * of the ranking — the k picks and any later "keep N" — is a water-filling
 * allocation: each label gets min(its count, the level), and the level is
 * the largest that fits, the leftover of the last round going to randomly
 * chosen labels among those that still have samples. Labels are arbitrary
 * int32 values (negative ones too). Scores are linear in the rank, as in
 * random.c. Cost: one sort of the labels plus O(n).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sampling/internal.h"

struct lab {
	int32_t label;
	uint32_t idx;
};

static int cmp_lab(const void *a, const void *b)
{
	const struct lab *x = a, *y = b;

	if (x->label != y->label)
		return x->label < y->label ? -1 : 1;
	return (x->idx > y->idx) - (x->idx < y->idx);
}

struct grp {
	size_t count;
	uint32_t g;
};

static int cmp_grp(const void *a, const void *b)
{
	const struct grp *x = a, *y = b;

	if (x->count != y->count)
		return x->count > y->count ? -1 : 1;
	return (x->g > y->g) - (x->g < y->g);
}

int smp_balance(const int32_t *labels, size_t n, size_t k, uint64_t seed,
		const struct smp_ctl *ctl, struct smp_result *out)
{
	struct lab *v = NULL;
	size_t *start = NULL, *count = NULL, ng = 0, pos = 0;
	uint32_t *groups = NULL, *round = NULL;
	struct grp *key = NULL;
	struct smp_rng rng;
	int rc = 0;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!labels || !out || n == 0 || n > SMP_N_MAX || k > n)
		return -EINVAL;
	v = malloc(n * sizeof(*v));
	start = malloc(n * sizeof(*start));
	count = malloc(n * sizeof(*count));
	groups = malloc(n * sizeof(*groups));
	round = malloc(n * sizeof(*round));
	key = malloc(n * sizeof(*key));
	if (!v || !start || !count || !groups || !round || !key) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		v[i].label = labels[i];
		v[i].idx = (uint32_t)i;
	}
	qsort(v, n, sizeof(*v), cmp_lab);
	if (smp_cancelled(ctl)) {
		rc = -ECANCELED;
		goto out;
	}
	smp_rng_init(&rng, seed);
	for (size_t i = 0; i < n; i++) {
		if (i == 0 || v[i].label != v[i - 1].label) {
			start[ng] = i;
			count[ng++] = 0;
		}
		count[ng - 1]++;
	}
	/* Shuffle within each label; order the labels by count, largest
	 * first, so the labels alive in round r are a prefix. */
	for (size_t g = 0; g < ng; g++) {
		for (size_t i = 0; i < count[g]; i++)
			round[i] = v[start[g] + i].idx;
		smp_shuffle_u32(round, count[g], &rng);
		for (size_t i = 0; i < count[g]; i++)
			v[start[g] + i].idx = round[i];
		key[g].count = count[g];
		key[g].g = (uint32_t)g;
	}
	qsort(key, ng, sizeof(*key), cmp_grp);
	for (size_t g = 0; g < ng; g++)
		groups[g] = key[g].g;
	if ((rc = smp_result_alloc(out, n)))
		goto out;
	for (size_t r = 0, alive = ng; pos < n; r++) {
		while (alive && count[groups[alive - 1]] <= r)
			alive--;
		memcpy(round, groups, alive * sizeof(*round));
		smp_shuffle_u32(round, alive, &rng);
		for (size_t a = 0; a < alive; a++)
			out->order[pos++] = v[start[round[a]] + r].idx;
	}
	smp_linear_scores(out);
	if (ctl && ctl->progress)
		ctl->progress(ctl->arg, k, k);
out:
	free(key);
	free(round);
	free(groups);
	free(count);
	free(start);
	free(v);
	if (rc && out)
		smp_result_free(out);
	return rc;
}
