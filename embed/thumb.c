/*
 * thumb.c — see thumb.h.
 *
 * Decoding asks emb_decode for min_side = side, so a JPEG decodes at the
 * smallest DCT scale whose shorter side (hence also its longer one) is still
 * at least `side`: the downscale never needs to invent pixels. Downscaling
 * is a box filter with exact fractional coverage, in two separable passes
 * (rows, then columns) through a float buffer of h x tw x ch; every output
 * pixel is the average of the source area it covers, so stripes and text do
 * not alias as they would with point sampling.
 *
 * Encoding: libjpeg with jpeg_mem_dest (the library mallocs the output);
 * libjpeg's error_exit would exit(), so ours longjmps back and the call
 * fails with -EIO.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "embed/thumb.h"

void emb_thumb_size(int w, int h, int side, int *tw, int *th)
{
	int m = w > h ? w : h;

	if (m <= side || side <= 0) {
		*tw = w;
		*th = h;
		return;
	}
	*tw = (int)(((long long)w * side + m / 2) / m);
	*th = (int)(((long long)h * side + m / 2) / m);
	if (*tw < 1)
		*tw = 1;
	if (*th < 1)
		*th = 1;
}

/* Output index o of dst covers source [o*src/dst, (o+1)*src/dst). */
static void span(int o, int src, int dst, double *a, double *b)
{
	*a = (double)o * src / dst;
	*b = (double)(o + 1) * src / dst;
}

int emb_thumb_scale(const struct emb_image *in, int side,
		    struct emb_image *out)
{
	int w = in->w, h = in->h, ch = in->ch, tw, th;
	float *tmp;

	memset(out, 0, sizeof(*out));
	if (w <= 0 || h <= 0 || (ch != 1 && ch != 3) || !in->px)
		return -EINVAL;
	emb_thumb_size(w, h, side, &tw, &th);
	out->px = malloc((size_t)tw * th * ch);
	tmp = malloc((size_t)h * tw * ch * sizeof(float));
	if (!out->px || !tmp) {
		free(out->px);
		free(tmp);
		out->px = NULL;
		return -ENOMEM;
	}
	/* rows: w -> tw */
	for (int ox = 0; ox < tw; ox++) {
		double a, b;
		span(ox, w, tw, &a, &b);
		for (int y = 0; y < h; y++) {
			const unsigned char *row = in->px + (size_t)y * w * ch;
			double acc[3] = { 0, 0, 0 };
			for (int s = (int)a; s < w && s < b; s++) {
				double wt = (s + 1 < b ? s + 1 : b) -
					    (s > a ? s : a);
				for (int c = 0; c < ch; c++)
					acc[c] += wt * row[(size_t)s * ch + c];
			}
			for (int c = 0; c < ch; c++)
				tmp[((size_t)y * tw + ox) * ch + c] =
					(float)(acc[c] / (b - a));
		}
	}
	/* columns: h -> th */
	for (int oy = 0; oy < th; oy++) {
		double a, b;
		span(oy, h, th, &a, &b);
		for (int x = 0; x < tw * ch; x++) {
			double acc = 0;
			for (int s = (int)a; s < h && s < b; s++) {
				double wt = (s + 1 < b ? s + 1 : b) -
					    (s > a ? s : a);
				acc += wt * tmp[(size_t)s * tw * ch + x];
			}
			acc = acc / (b - a) + 0.5;
			out->px[(size_t)oy * tw * ch + x] = (unsigned char)
				(acc < 0 ? 0 : acc > 255 ? 255 : acc);
		}
	}
	free(tmp);
	out->w = tw;
	out->h = th;
	out->ch = ch;
	return 0;
}

struct jerr {
	struct jpeg_error_mgr mgr;
	jmp_buf jb;
};

static void on_jpeg_error(j_common_ptr ci)
{
	longjmp(((struct jerr *)ci->err)->jb, 1);
}

/* JPEG of img into *out (malloc'd by libjpeg). 0 or -EIO. */
static int encode(const struct emb_image *img, unsigned char **out,
		  size_t *outlen)
{
	struct jpeg_compress_struct ci;
	struct jerr je;
	unsigned char *mem = NULL;     /* address taken: lives in memory */
	unsigned long size = 0;

	ci.err = jpeg_std_error(&je.mgr);
	je.mgr.error_exit = on_jpeg_error;
	if (setjmp(je.jb)) {
		jpeg_destroy_compress(&ci);
		free(mem);
		return -EIO;
	}
	jpeg_create_compress(&ci);
	jpeg_mem_dest(&ci, &mem, &size);
	ci.image_width = (JDIMENSION)img->w;
	ci.image_height = (JDIMENSION)img->h;
	ci.input_components = img->ch;
	ci.in_color_space = img->ch == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&ci);
	jpeg_set_quality(&ci, EMB_THUMB_QUALITY, TRUE);
	jpeg_start_compress(&ci, TRUE);
	while (ci.next_scanline < ci.image_height) {
		JSAMPROW row = img->px + (size_t)ci.next_scanline * img->w *
			       img->ch;
		jpeg_write_scanlines(&ci, &row, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	*out = mem;
	*outlen = size;
	return 0;
}

int emb_thumb_jpeg(const void *buf, size_t len, int side, unsigned char **out,
		   size_t *outlen, char *why, size_t whylen)
{
	struct emb_image img, small;
	int rc;

	*out = NULL;
	*outlen = 0;
	rc = emb_decode(buf, len, side, &img, why, whylen);
	if (rc)
		return rc;
	rc = emb_thumb_scale(&img, side, &small);
	emb_image_free(&img);
	if (rc)
		return rc;
	rc = encode(&small, out, outlen);
	emb_image_free(&small);
	if (rc && why && whylen)
		snprintf(why, whylen, "jpeg: the encoder failed");
	return rc;
}
