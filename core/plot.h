/*
 * plot.h — the SVG of `plot.svg` (design in plot.c).
 */
#ifndef SIEVEFS_CORE_PLOT_H
#define SIEVEFS_CORE_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"

/* The plot of dataset ds (named dsname) into *out, malloc'd (caller
 * frees). selnote says what made the current selection ("run 3,
 * coreset", "written by hand, from best-500"; NULL or "" for nothing);
 * the title shows it after the selection's size. method: CORE_LAYOUT_PCA
 * or CORE_LAYOUT_UMAP (core/layout.h). 0, or -errno (-ENOMEM; -EINVAL: a
 * vector value not finite; a catalog error). Blocks on the catalog and on
 * the layout (umap: seconds the first time, core/layout.c caches it). */
int core_plot_svg(store *st, int64_t ds, const char *dsname,
		  const char *selnote, int method, char **out, size_t *len);

#endif
