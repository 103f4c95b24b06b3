/*
 * layout.h — the 2-D layouts of an embedding that plot.svg and the
 * server's /layout draw: PCA or the neighbour-preserving layout of
 * sampling/layout.c ("umap"), with a small process-wide cache for the
 * slow one (design in core/layout.c).
 */
#ifndef SIEVEFS_CORE_LAYOUT_H
#define SIEVEFS_CORE_LAYOUT_H

#include <stddef.h>

enum { CORE_LAYOUT_PCA = 0, CORE_LAYOUT_UMAP = 1, CORE_LAYOUT_N = 2 };
#define CORE_LAYOUT_DEFAULT CORE_LAYOUT_PCA
#define CORE_LAYOUT_SEED 1    /* the seed of every umap layout */

/* The method named s ("pca", "umap"), or -EINVAL. */
int core_layout_parse(const char *s);
/* The name of method m ("pca", "umap"); "pca" for an unknown m. */
const char *core_layout_name(int m);
/* The axis titles of method m's picture (two strings, static). */
void core_layout_axes(int m, const char **x, const char **y);
/* The layout of n rows of d floats by method m into out (n*2 floats).
 * umap answers from the cache when it holds the same rows (by content),
 * else computes (seconds: sampling/layout.c) and caches. Blocks; thread-
 * safe (two callers missing at once both compute). 0, -EINVAL (a value
 * not finite, bad m), -ENOMEM, -EIO. */
int core_layout_xy(int m, const float *x, size_t n, size_t d, float *out);
/* core_layout_xy that never computes umap on the caller's thread: on a
 * cache miss it starts the computation in the background (layout.c) and
 * answers -EINPROGRESS — read again later; a failed computation's error
 * is answered from then on. PCA is computed as by core_layout_xy. */
int core_layout_xy_nowait(int m, const float *x, size_t n, size_t d,
			  float *out);

#endif
