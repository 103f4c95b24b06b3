/*
 * features.h — the built-in embedder's per-image features, and the
 * dataset-level projection that turns them into an embedding.
 *
 * Two stages, so that the expensive one is done once per image:
 *  1. emb_features(): one decoded image → a fixed raw vector (EMB_FEAT_*
 *     floats) that depends on that image alone, so it can be cached by the
 *     image's content hash and never recomputed. The image is resampled
 *     (area average) to EMB_SIDE×EMB_SIDE and described by three blocks:
 *       shape    a 16×16 luminance thumbnail, L2-normalised        (256)
 *       edges    gradient-orientation histograms (HOG-style): 4×4 cells,
 *                9 unsigned orientations, L2-normalised             (144)
 *       colour   only with color=1: the mean of two opponent channels
 *                (R-G, R+G-2B) on a 4×4 grid, and an 8-bin hue histogram
 *                weighted by chroma; not normalised, so a grey image has
 *                colour 0 and a vivid one a large colour block       (40)
 *     With color=0 every block reads luminance only: two images that
 *     differ in hue but not in brightness get the same vector.
 *  2. emb_pca_fit()/emb_pca_apply(): PCA of the dataset's raw vectors down
 *     to `dim` dimensions, components scaled by eigenvalue^-1/4 (half
 *     whitening: the leading components, mostly brightness and layout, stop
 *     drowning the rest). Cheap next to decoding; redone when the dataset
 *     changes.
 *
 * Everything here is pure (no I/O, no globals) and deterministic: the same
 * inputs give the same bits on the same machine.
 */
#ifndef SIEVEFS_EMBED_FEATURES_H
#define SIEVEFS_EMBED_FEATURES_H

#include <stddef.h>

#include "embed/decode.h"

#define EMB_SIDE 32               /* images are resampled to SIDE×SIDE */
#define EMB_FEAT_GRAY 400         /* raw dimension, color=0 */
#define EMB_FEAT_COLOR 440        /* raw dimension, color=1 */
#define EMB_DIM_DEFAULT 48        /* output dimension unless asked */
#define EMB_DIM_MAX 256

/* Raw dimension for the colour option (0 or 1). */
size_t emb_feature_dim(int color);
/* Cache key of the extractor: changes whenever the raw vector would. A
 * static string. */
const char *emb_feature_kind(int color);
/* Fills out[emb_feature_dim(color)] from img (ch 1 or 3, w,h >= 1).
 * Returns 0, -EINVAL for an empty image, -ENOMEM. */
int emb_features(const struct emb_image *img, int color, float *out);

/* A fitted projection. Owned by the caller: emb_pca_free(). */
struct emb_pca {
	size_t f, dim;
	float *mean;      /* f */
	float *basis;     /* f × dim, row-major: basis[i*dim + j] */
};
/* Fits PCA on n rows of f floats (at most EMB_PCA_FIT_ROWS of them, taken
 * evenly, are used: plenty for a 440-dimensional covariance). BLAS calls
 * give the same bits only at a fixed OpenBLAS thread count: the caller
 * fixes it (core/ sets one thread, as for sampling/). dim <= f and dim <= n. 0, -EINVAL, -ENOMEM, -EIO (the
 * eigen-solver failed). */
#define EMB_PCA_FIT_ROWS 20000
int emb_pca_fit(const float *x, size_t n, size_t f, size_t dim,
		struct emb_pca *out);
/* out[n × dim] = projection of x[n × f]. 0 or -ENOMEM. */
int emb_pca_apply(const struct emb_pca *p, const float *x, size_t n,
		  float *out);
void emb_pca_free(struct emb_pca *p);

#endif
