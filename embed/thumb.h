/*
 * thumb.h — thumbnails for remote mounts with -o upload=thumbnails: an image
 * file in, a small JPEG out. Pure (no I/O, no global state): any number of
 * threads may make thumbnails at once.
 */
#ifndef SIEVEFS_EMBED_THUMB_H
#define SIEVEFS_EMBED_THUMB_H

#include <stddef.h>

#include "embed/decode.h"

#define EMB_THUMB_SIDE 128      /* longest side of a thumbnail, pixels */
#define EMB_THUMB_QUALITY 85    /* JPEG quality */

/* The size of the thumbnail of a w x h image: longest side `side`, aspect
 * kept (rounded, at least 1), never larger than the image. */
void emb_thumb_size(int w, int h, int side, int *tw, int *th);

/* Area-averaging downscale of `in` to its thumbnail size (emb_thumb_size);
 * an image already small enough is copied. Same channel count. 0, or
 * -ENOMEM / -EINVAL (empty image); free out with emb_image_free. */
int emb_thumb_scale(const struct emb_image *in, int side,
		    struct emb_image *out);

/* Makes the JPEG (quality EMB_THUMB_QUALITY; grey stays grey) thumbnail of
 * the image file in buf (decoded with emb_decode). 0 and *out (malloc'd,
 * caller free()s) of *outlen bytes, or emb_decode's errors (-EINVAL not an
 * image, -EFBIG, with a reason in why), -ENOMEM, -EIO (the encoder failed). */
int emb_thumb_jpeg(const void *buf, size_t len, int side, unsigned char **out,
		   size_t *outlen, char *why, size_t whylen);

#endif
