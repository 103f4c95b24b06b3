/*
 * plot.h — the SVG of `plot.svg` (design in plot.c).
 */
#ifndef SIEVEFS_CORE_PLOT_H
#define SIEVEFS_CORE_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The plot of dataset ds (named dsname) into *out, malloc'd (caller
 * frees). 0, or -errno (-ENOMEM; a catalog error). Blocks on the catalog
 * and on the PCA. */
int core_plot_svg(store *st, int64_t ds, const char *dsname, char **out,
		  size_t *len);

#endif
