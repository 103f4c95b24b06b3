/*
 * columns.h — per-sample columns for selection (issue 21; the interface of
 * /work/wt/I21-CONTRACT.md, owned by i21a): a score or metadata value per
 * sample, read from the dataset's predictions/ and metadata/ inputs
 * (core/incsv.h) and matched to samples by relative path. Runs on a store
 * (embedded mode and the server); thread-safe as store/ is; blocks on the
 * catalog. A sample the input has no row for has no value (NAN / -1).
 */
#ifndef SIEVEFS_CORE_COLUMNS_H
#define SIEVEFS_CORE_COLUMNS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* A per-sample column, aligned with the ids asked for. */
struct sv_column {
	size_t n;
	int categorical;        /* 0: v[] numeric; 1: cat[] indexes names[] */
	double *v;              /* n values, NAN = the sample has no value */
	int32_t *cat;           /* n indexes into names, -1 = no value */
	char **names;           /* ncat category names (classes, labels) */
	size_t ncat;
};
/* Loads column SPEC of dataset ds for samples ids[0..n) (sample ids as
 * core/runs.c uses for candidates). SPEC is "INPUT.COLUMN":
 *   predictions/NAME.csv -> "NAME.uncertainty_least_confidence",
 *       "NAME.uncertainty_margin", "NAME.uncertainty_entropy",
 *       "NAME.class" (categorical: argmax), "NAME.<classname>" (prob.);
 *   metadata/NAME.csv    -> "NAME.<column>" (numeric or categorical);
 *   built-in             -> "builtin.width|height|brightness|contrast|
 *                            sharpness|colourfulness|file_size".
 * 0, or -EINVAL with why (e.g. "no input named 'x' (predictions: a, b;
 * metadata: c)", "no column 'y' in metadata/c.csv (columns: ...)"),
 * or another -errno. Caller frees with sv_column_free. */
int core_column_load(store *st, int64_t ds, const char *spec,
		     const int64_t *ids, size_t n, struct sv_column *out,
		     char *why, size_t whylen);
void sv_column_free(struct sv_column *c);
/* The names of every column the dataset has, "INPUT.COLUMN", for
 * messages and exports; 0 or -errno; *names malloc'd, caller frees. */
int core_column_list(store *st, int64_t ds, char ***names, size_t *n);

/* Beyond the contract (i21a): the same as core_column_load for samples
 * named by their relative paths (what store_matrix_load gives a run's
 * candidates), without a catalog query per sample. */
int core_column_load_paths(store *st, int64_t ds, const char *spec,
			   const char *const *paths, size_t n,
			   struct sv_column *out, char *why, size_t whylen);
/* The same, with missing non-NULL: builtin.* values only as far as they
 * are computed (core_imgmeta_cached: no decode), *missing counting the
 * samples whose value is not computed yet (NAN here); missing NULL:
 * computes them, as core_column_load_paths does. */
int core_column_load_paths_nowait(store *st, int64_t ds, const char *spec,
				  const char *const *paths, size_t n,
				  size_t *missing, struct sv_column *out,
				  char *why, size_t whylen);
/* The builtin.* columns of want at once (bit k: "builtin."
 * core_imgmeta_cols[k], core/imgmeta.h; CORE_IMGMETA_NCOLS of them) into
 * out[k] (the others left empty), for paths as
 * core_column_load_paths_nowait (missing NULL: computes what is missing;
 * else counts each file once, file_size never): one tree walk and one
 * cache read a file, where loading them one by one does each once a
 * column. The caller frees each with sv_column_free. */
int core_builtin_load(store *st, int64_t ds, unsigned want,
		      const char *const *paths, size_t n, size_t *missing,
		      struct sv_column *out);
/* core_column_load_paths of every spec of specs[0..ns) into out[k], but
 * each input read and parsed once however many of its columns are asked
 * (core_column_list names them input by input) and the inputs listed once:
 * not a read and parse of a predictions file per class. builtin.* specs
 * are skipped (out[k] empty: whose bytes they describe is the caller's;
 * core_column_load_paths reads the live tree's). On an error every out[k]
 * is freed. For exports/TAG.csv (core/exports.c). */
int core_column_load_inputs_paths(store *st, int64_t ds,
				  char *const *specs, size_t ns,
				  const char *const *paths, size_t n,
				  struct sv_column *out, char *why,
				  size_t whylen);
/* Frees what core_column_list returned (names[0..n) and the array). */
void core_column_list_free(char **names, size_t n);

#endif
