/*
 * colcache.h — a process-wide cache of per-sample columns for the web app's
 * columns route (api/routes_columns.c; issue 21 item 6). Reading a column
 * (core/columns.h) parses its input's CSV and matches every sample's path:
 * tens of milliseconds per column at 20,000 samples, paid again by every
 * request and every revalidation. Here a column's values are kept per
 * (dataset, table gen, inputs stamp, column name) and a dataset's column
 * names per (dataset, inputs stamp), so a repeated ask, a 304 included,
 * costs one catalog read (the stamp) and a copy.
 *
 * The stamp is a 64-bit digest of the dataset's inputs as the catalog lists
 * them (id, kind, name, bytes, created_ns): an upload, replacement or
 * removal of a predictions/ or metadata/ CSV changes it, through any server
 * of the catalog. The table gen (core/table.h, "COUNTER-EPOCH") names the
 * samples and their order; builtin.* values depend only on the samples'
 * content, which the gen covers.
 *
 * Bounded: at most COLCACHE_MAX columns (least recently used first out)
 * and 32 name lists. Thread-safe (one mutex; loads run outside it, so two
 * threads may load the same column once each: the second result is kept).
 * Functions return 0 or -errno (as core/columns.h: -EINVAL with why).
 */
#ifndef SIEVEFS_CORE_COLCACHE_H
#define SIEVEFS_CORE_COLCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "core/columns.h"

#define COLCACHE_MAX 64

/* The stamp of dataset ds's inputs (one catalog read). */
int colcache_stamp(store *st, int64_t ds, uint64_t *stamp);
/* core_column_list through the cache: *names a copy the caller frees with
 * core_column_list_free. */
int colcache_names(store *st, int64_t ds, uint64_t stamp, char ***names,
		   size_t *n);
/* core_column_load_paths_nowait of spec for the table `gen` (its n paths
 * in order) through the cache: *out a copy the caller frees with
 * sv_column_free; *pending (may be NULL) the samples whose builtin.*
 * value is not computed yet — such a column is answered (NAN there) but
 * not kept, so a later ask sees what was computed meanwhile. Never
 * decodes an image. */
int colcache_column(store *st, int64_t ds, const char *gen, uint64_t stamp,
		    const char *spec, const char *const *paths, size_t n,
		    struct sv_column *out, size_t *pending, char *why,
		    size_t whylen);
/* colcache_column of specs[0..k) into out[0..k), *pending the largest
 * over them; the builtin.* ones not kept are read in one pass for all
 * (core_builtin_load_all), not once each. On an error every out[] is
 * freed (why names the column). */
int colcache_columns(store *st, int64_t ds, const char *gen, uint64_t stamp,
		     const char *const *specs, size_t k,
		     const char *const *paths, size_t n,
		     struct sv_column *out, size_t *pending, char *why,
		     size_t whylen);

#endif
