/*
 * dups.h — duplicate groups among a dataset's samples (issue 21 item 3;
 * OWNER: i21c): exact duplicates (the same content hash) and
 * near-duplicates (embedding vectors within a Euclidean distance the
 * user sets), joined transitively (a within d of b, b within d of c: one
 * group). Pure functions over arrays: no I/O, thread-safe, nothing kept.
 *
 * Near search: the vectors are projected on their principal direction
 * (power iteration), sorted by it, and each compared only with those whose
 * projection lies within the distance (a projection on a unit vector
 * never lengthens a distance, so no pair is missed), the squared distance
 * summed with an early stop once it passes the bound. 60,000 x 50 with a
 * small distance takes about a second (bench: tests/unit/test_dups.c
 * prints it with SIEVEFS_DUPS_BENCH=1).
 *
 * For i21b's `dedup` objective: core_dups_mask marks every member of a
 * group but its first (the kept one) so a selection drops them.
 */
#ifndef SIEVEFS_CORE_DUPS_H
#define SIEVEFS_CORE_DUPS_H

#include <stddef.h>
#include <stdint.h>

/* Groups of two or more samples (indexes 0..n-1 of the caller's arrays),
 * each group's members ascending, groups ordered by their first member. */
struct core_dups {
	size_t ngroups;
	size_t *start;     /* ngroups + 1 offsets into member */
	size_t *member;
};

/* Samples with equal hashes (sha: n hashes of hlen bytes). 0 or -ENOMEM
 * (*out empty then). */
int core_dups_exact(const unsigned char *sha, size_t hlen, size_t n,
		    struct core_dups *out);
/* Samples whose vectors (x: n rows of dim floats, row-major) lie within
 * max_distance (Euclidean, >= 0) of one another, transitively. NaN
 * coordinates never match. 0, -EINVAL (max_distance < 0 or not finite,
 * dim 0 with n > 0), -ENOMEM. */
int core_dups_near(const float *x, size_t n, size_t dim, double max_distance,
		   struct core_dups *out);
/* A ranking without near-duplicates (a sample request's dedup=D): of
 * each group of core_dups_near(x, n, dim, max_distance), the member
 * ranked best (earliest in order) stays, the others move to the end of
 * order (in their order) with score 0. *kept = n minus those moved.
 * 0, -EINVAL, -ENOMEM (order and score unchanged then). */
int core_dups_rerank(const float *x, size_t n, size_t dim,
		     double max_distance, uint32_t *order, float *score,
		     size_t *kept);
/* drop[0..n) = 1 for each member of a group but its first, else 0. */
void core_dups_mask(const struct core_dups *g, size_t n, uint8_t *drop);
void core_dups_free(struct core_dups *g);

/* ---- the `duplicates` file of a dataset (dups_run.c) ---- */

typedef struct store store;

/* Sets what the file shows beside exact duplicates, from one line:
 * "max_distance=D embedding=NAME" (D in [0, 1e6], NAME an embedding of
 * the dataset; words in any order, each once) or "exact" (exact ones
 * only, the default). Kept in the catalog (store_dups_setting_set): a
 * restart keeps it, servers sharing the catalog see the same. 0, or -EINVAL with the reason in why
 * ("duplicates: no embedding named 'x' (embeddings: a, b)"), nothing
 * changed; -ENOMEM. */
int core_dups_config(store *st, int64_t ds, const char *line, char *why,
		     size_t whylen);
/* The file's text (malloc'd): the groups of the live tree's files, one
 * path a line (quoted as `selection` quotes), a blank line between
 * groups, the first of each the one a dedup keeps; exact groups first,
 * then near ones when set. 0 or -errno. */
int core_dups_text(store *st, int64_t ds, char **out, size_t *len);

#endif
