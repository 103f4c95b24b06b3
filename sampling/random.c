/*
 * random.c — the `random` strategy: a seeded uniform permutation.
 *
 * Fisher-Yates over xoshiro256** (internal.h), so a seed gives the same
 * order on every platform. The order does not depend on k: the first k are
 * the picks and the rest follow, also in random order, which makes "keep
 * N" of one run a uniform sample for every N. Scores are linear in the
 * rank: 1 - rank/(n-1) (1 when n = 1).
 */
#include <errno.h>
#include <string.h>

#include "sampling/internal.h"

void smp_linear_scores(struct smp_result *out)
{
	size_t n = out->n;

	for (size_t r = 0; r < n; r++)
		out->score[out->order[r]] =
			n > 1 ? (float)(1.0 - (double)r / (double)(n - 1)) : 1.0f;
}

int smp_random(size_t n, size_t k, uint64_t seed, const struct smp_ctl *ctl,
	       struct smp_result *out)
{
	struct smp_rng rng;
	int rc;

	if (out)
		memset(out, 0, sizeof(*out));
	if (!out || n == 0 || n > SMP_N_MAX || k > n)
		return -EINVAL;
	if (smp_cancelled(ctl))
		return -ECANCELED;
	if ((rc = smp_result_alloc(out, n)))
		return rc;
	for (size_t i = 0; i < n; i++)
		out->order[i] = (uint32_t)i;
	smp_rng_init(&rng, seed);
	smp_shuffle_u32(out->order, n, &rng);
	smp_linear_scores(out);
	if (smp_cancelled(ctl)) {
		smp_result_free(out);
		return -ECANCELED;
	}
	if (ctl && ctl->progress)
		ctl->progress(ctl->arg, k, k);
	return 0;
}
