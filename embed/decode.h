/*
 * decode.h — image decoding for the built-in embedder: one image file held in
 * memory in, 8-bit grey or RGB pixels out. Pure: no I/O, no global state, so
 * any number of threads may decode at once (docs/design.md §2.1: embed/ takes and
 * returns arrays).
 *
 * Formats are told by their first bytes, never by a file name: JPEG (libjpeg-
 * turbo), PNG (libpng), WebP (libwebp), BMP (stb_image), binary PGM/PPM
 * (P5/P6, our own reader). Decoding is strict: a file that is truncated,
 * fails a checksum, or makes the library warn is an error with a reason,
 * never an image padded with grey.
 *
 * Output: grey sources give ch=1, colour sources ch=3. Alpha (and PNG tRNS)
 * is composited over black: out = v * a / 255, rounded, so fully transparent
 * pixels are black whatever colour they hide. 16-bit samples are scaled to 8
 * (PNG: v*255/65535 rounded; PNM: v*255/maxval rounded).
 */
#ifndef SIEVEFS_EMBED_DECODE_H
#define SIEVEFS_EMBED_DECODE_H

#include <stddef.h>

/* Images with more pixels, or a side longer than 65535, are refused before
 * any pixel memory is allocated (decompression bombs). */
#define EMB_MAX_PIXELS (100u * 1000 * 1000)
#define EMB_MAX_SIDE 65535

struct emb_image {
	int w, h;            /* pixels */
	int ch;              /* 1 (grey) or 3 (RGB) */
	unsigned char *px;   /* w*h*ch bytes, row-major, 8 bits per sample; malloc'd */
};

/* Decodes one image held in memory (buf, len: the whole file). The format is
 * found by content (emb_format). min_side > 0: the caller needs only the
 * shorter side to be >= min_side pixels, so JPEG decodes at the smallest DCT
 * scale M/8 (M = 1..8) and WebP at the smallest size, aspect kept, whose
 * sides are both >= min_side; never upscaled, and an image already smaller
 * is decoded at its own size. PNG, BMP and PNM always decode at full size.
 * min_side = 0: full size.
 * Returns 0 and fills *out (caller frees with emb_image_free), or
 *   -EINVAL  not an image, unknown format, corrupt, truncated, unsupported
 *            variant (e.g. "jpeg: Premature end of JPEG file", "not an image
 *            (unknown format)", "png: IDAT: CRC error", "pnm: P3 (ASCII
 *            pixmap) is not supported, only binary P5/P6");
 *   -EFBIG   w*h > EMB_MAX_PIXELS or a side > EMB_MAX_SIDE (the source's
 *            size, before any scaling);
 *   -ENOMEM.
 * On error *out is zeroed, nothing is allocated, and why holds a one-line
 * reason. why may be NULL; whylen counts bytes including the NUL.
 * Thread-safe; does not block beyond the CPU work. */
int emb_decode(const void *buf, size_t len, int min_side, struct emb_image *out,
	       char *why, size_t whylen);

/* Frees img->px and zeroes *img. NULL-safe and idempotent. */
void emb_image_free(struct emb_image *img);

/* "jpeg", "png", "webp", "bmp", "pnm" (P1..P6, even those emb_decode refuses),
 * or NULL: by the first bytes only, nothing decoded. Static strings. */
const char *emb_format(const void *buf, size_t len);

#endif
