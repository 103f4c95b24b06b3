/*
 * imgstats.h — the built-in image metadata of issue 21 (i21a), computed from
 * a decoded image (embed/decode.h). Pure: no I/O, no state; thread-safe.
 *
 * On luma Y = 0.299 R + 0.587 G + 0.114 B (Rec. 601; a grey image's value),
 * every sample scaled to [0, 1]:
 *   brightness     mean of Y
 *   contrast       standard deviation of Y (population)
 *   sharpness      variance of the Laplacian of Y (4-neighbour kernel
 *                  0 1 0 / 1 -4 1 / 0 1 0) over the interior pixels; 0 for an
 *                  image narrower or lower than 3 pixels
 *   colourfulness  Hasler and Suesstrunk (2003) on R, G, B in [0, 1]:
 *                  rg = R - G, yb = (R + G) / 2 - B,
 *                  sqrt(var rg + var yb) + 0.3 sqrt(mean rg^2 + mean yb^2);
 *                  0 for a grey image
 */
#ifndef SIEVEFS_EMBED_IMGSTATS_H
#define SIEVEFS_EMBED_IMGSTATS_H

#include "embed/decode.h"

/* The names, in the order of struct emb_imgstats's fields and of the
 * columns of metadata/builtin.csv (file_size last, from the catalog). */
#define EMB_IMGSTATS_N 6
extern const char *const emb_imgstats_names[EMB_IMGSTATS_N];

struct emb_imgstats {
	double v[EMB_IMGSTATS_N];   /* width, height, brightness, contrast,
				       sharpness, colourfulness */
};

/* Fills *out from img (ch 1 or 3, w, h >= 1). */
void emb_imgstats(const struct emb_image *img, struct emb_imgstats *out);

#endif
