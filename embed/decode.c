/*
 * decode.c — see decode.h. Image files in memory to 8-bit grey/RGB arrays.
 *
 * One decoder per format, each filling a struct emb_image and cleaning up
 * after itself; emb_decode only sniffs the format, dispatches, and zeroes
 * *out on failure. Every failure formats its reason once, as "FORMAT: what".
 *
 * Strictness. The libraries are lenient by default; we are not:
 *   - JPEG: every libjpeg warning (emit_message level -1: "Premature end of
 *     JPEG file", "Corrupt JPEG data: ...", bad Huffman code, ...) ends the
 *     decode like an error. jpeg_finish_decompress is called so that a file
 *     cut off after its last scan but before EOI is caught too. Bytes after
 *     EOI are ignored, as by every JPEG reader.
 *   - PNG: CRC errors fail in every chunk (PNG_CRC_ERROR_QUIT for critical
 *     and ancillary), benign errors are errors, warnings are errors, and
 *     png_read_end checks everything up to IEND (a missing IEND is
 *     "truncated"). Ancillary chunks other than tRNS are skipped unread
 *     (their CRC is still checked): we apply no gamma and no colour profile,
 *     and an odd iCCP profile cannot fail a good image.
 *   - WebP: the RIFF size must fit in the buffer; WebPDecode is given the
 *     whole file (have-all-data), so a cut bitstream is NOT_ENOUGH_DATA.
 *     Animated WebP is refused (one frame of many is not the image).
 *   - BMP: stb_image pads a short file with zeros, so we read the header
 *     ourselves first and demand every byte of the pixel array (the last
 *     row's padding may be missing) before stb decodes.
 *   - PNM: our own reader (Debian's stb snapshot reads 16-bit samples in host
 *     byte order, ignores maxval and pads a short raster with zeros): exact
 *     header grammar, the raster complete, no sample above maxval.
 *
 * Alpha is composited over black, in place, as the last step: the decoder
 * writes RGBA (or grey+alpha) into the output buffer, which is then packed
 * to RGB (grey) and shrunk with realloc. CMYK JPEG is packed the same way
 * (Adobe files store inverted CMYK: R = C*K/255; others R = (255-C)(255-K)/255).
 *
 * Speed. JPEG is the hot path (an upload of photos is embedded as it lands):
 * scanlines are decoded straight into the output buffer, at the smallest
 * DCT scale that keeps the shorter side >= min_side, with plain
 * (non-fancy) upsampling when scaled and JDCT_ISLOW (see JPEG_DCT). WebP
 * scales inside the decoder to the requested size. The others are rare.
 *
 * Threads. No global state of ours. libjpeg errors go through a per-call
 * error manager and longjmp; libpng through its per-struct jmpbuf; libwebp
 * keeps only its once-initialised DSP tables; stb_image's failure reason is
 * thread-local in Debian's libstb (checked: stbi__g_failure_reason is a TLS
 * symbol in libstb.so.0). Each setjmp sits in a small *_run function whose
 * state lives in a struct owned by its caller, so nothing the run changes
 * after setjmp is one of its own automatic variables (C11 7.13.2.1).
 *
 * Ownership. The input is only read and never kept. out->px is malloc'd;
 * decoders that get memory from a library (stb) copy it into our own block,
 * so emb_image_free is always plain free().
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jerror.h>
#include <jpeglib.h>
#include <png.h>
#include <stb_image.h>
#include <webp/decode.h>

#include "embed/decode.h"

/* JDCT_ISLOW vs JDCT_IFAST, measured (thread CPU time, median of 15 x 500
 * decodes, shared 2-core AMD EPYC VM, libjpeg-turbo 2.1.5) on a real photo
 * resampled to 640x480, 4:2:0, q75 (49 KB) and q90 (81 KB): at the 1/8..1/2
 * scales min_side asks for, the reduced IDCTs ignore the method (same
 * times: ~450 / ~660 us at 1/8, nearly all of it Huffman decoding); at full
 * size IFAST was ~4% faster (717 vs 745 us at q75), within the machine's
 * noise. ISLOW is exact, so ISLOW. Fancy upsampling: no measurable cost at
 * full size, ~10% at 3/8; kept at full size only. */
#define JPEG_DCT JDCT_ISLOW

/* Everything a decoder needs: the input, the request, where to put results. */
struct dec {
	const unsigned char *buf;
	size_t len;
	int min_side;
	struct emb_image *out;
	char *why;
	size_t whylen;
};

/* Writes "fmt..." as the reason (one line: control bytes become spaces) and
 * returns rc. */
static int fail(struct dec *d, int rc, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(struct dec *d, int rc, const char *fmt, ...)
{
	va_list ap;
	size_t i;

	if (!d->why || !d->whylen)
		return rc;
	va_start(ap, fmt);
	vsnprintf(d->why, d->whylen, fmt, ap);
	va_end(ap);
	for (i = 0; d->why[i]; i++)
		if ((unsigned char)d->why[i] < 0x20 || d->why[i] == 0x7f)
			d->why[i] = ' ';
	/* Library messages may end in a newline: trim trailing blanks. */
	while (i > 0 && d->why[i - 1] == ' ')
		d->why[--i] = '\0';
	return rc;
}

/* 0 if a w x h source may be decoded, else -EINVAL (empty) or -EFBIG. */
static int check_size(struct dec *d, const char *fmt, long long w, long long h)
{
	if (w <= 0 || h <= 0)
		return fail(d, -EINVAL, "%s: bad image size %lldx%lld", fmt, w, h);
	if (w > EMB_MAX_SIDE || h > EMB_MAX_SIDE ||
	    (unsigned long long)w * (unsigned long long)h > EMB_MAX_PIXELS)
		return fail(d, -EFBIG,
			    "%s: %lldx%lld is too large (limit %u pixels, %d a side)",
			    fmt, w, h, EMB_MAX_PIXELS, EMB_MAX_SIDE);
	return 0;
}

/* round(v * a / 255) for v, a in 0..255, exactly. */
static inline unsigned mul255(unsigned v, unsigned a)
{
	unsigned t = v * a + 128;

	return (t + (t >> 8)) >> 8;
}

/* Packs n pixels of nc channels (the last one alpha) to nc-1 channels,
 * composited over black, in place. */
static void drop_alpha(unsigned char *px, size_t n, int nc)
{
	const unsigned char *s = px;
	unsigned char *o = px;
	size_t i;

	if (nc == 2) {
		for (i = 0; i < n; i++, s += 2)
			*o++ = (unsigned char)mul255(s[0], s[1]);
		return;
	}
	for (i = 0; i < n; i++, s += 4, o += 3) {
		o[0] = (unsigned char)mul255(s[0], s[3]);
		o[1] = (unsigned char)mul255(s[1], s[3]);
		o[2] = (unsigned char)mul255(s[2], s[3]);
	}
}

/* Hands px (w*h pixels of nc channels, nc in 1..4) to d->out: alpha
 * composited, packed, shrunk. Takes ownership of px. */
static void finish(struct dec *d, unsigned char *px, int w, int h, int nc)
{
	size_t n = (size_t)w * (size_t)h;
	int ch = nc;

	if (nc == 2 || nc == 4) {
		drop_alpha(px, n, nc);
		ch = nc - 1;
		unsigned char *p = realloc(px, n * (size_t)ch);
		if (p)          /* else the larger block serves as well */
			px = p;
	}
	d->out->w = w;
	d->out->h = h;
	d->out->ch = ch;
	d->out->px = px;
}

/* ---- JPEG --------------------------------------------------------------- */

struct jerr {
	struct jpeg_error_mgr pub;
	jmp_buf jb;
	char msg[JMSG_LENGTH_MAX];
};

struct jdec {
	struct jpeg_decompress_struct ci;
	struct jerr err;
	unsigned char *px;      /* output, freed by the caller on failure */
	int created;
};

static void jerr_exit(j_common_ptr ci)
{
	struct jerr *e = (struct jerr *)ci->err;

	e->pub.format_message(ci, e->msg);
	longjmp(e->jb, 1);
}

/* Level -1 is a warning about corrupt data: fatal for us. Trace messages
 * (level >= 0) are dropped, never printed. */
static void jerr_emit(j_common_ptr ci, int level)
{
	if (level < 0)
		jerr_exit(ci);
}

/* The smallest M/8 scale whose output keeps both sides >= min_side. */
static void jpeg_pick_scale(struct jpeg_decompress_struct *ci, int min_side)
{
	unsigned m;

	for (m = 1; m <= 8; m++) {
		ci->scale_num = m;
		ci->scale_denom = 8;
		jpeg_calc_output_dimensions(ci);
		if (ci->output_width >= (unsigned)min_side &&
		    ci->output_height >= (unsigned)min_side)
			break;
	}
	if (m > 8)
		ci->scale_num = 8;
	ci->do_fancy_upsampling = ci->scale_num == 8;
}

/* Returns 0, a -errno already explained in d, or 1 after a libjpeg error
 * (message in j->err.msg). j->px is left for the caller to free. */
static int jpeg_run(struct jdec *j, struct dec *d)
{
	struct jpeg_decompress_struct *ci = &j->ci;

	if (setjmp(j->err.jb))
		return 1;
	jpeg_create_decompress(ci);
	j->created = 1;
	jpeg_mem_src(ci, d->buf, (unsigned long)d->len);
	jpeg_read_header(ci, TRUE);
	int rc = check_size(d, "jpeg", ci->image_width, ci->image_height);
	if (rc)
		return rc;
	switch (ci->jpeg_color_space) {
	case JCS_GRAYSCALE:
		ci->out_color_space = JCS_GRAYSCALE;
		break;
	case JCS_CMYK:
	case JCS_YCCK:
		ci->out_color_space = JCS_CMYK;
		break;
	default:
		ci->out_color_space = JCS_RGB;
		break;
	}
	ci->dct_method = JPEG_DCT;
	if (d->min_side > 0)
		jpeg_pick_scale(ci, d->min_side);
	jpeg_start_decompress(ci);

	size_t stride = (size_t)ci->output_width * (size_t)ci->output_components;
	j->px = malloc(stride * ci->output_height);
	if (!j->px)
		return fail(d, -ENOMEM, "jpeg: out of memory");
	while (ci->output_scanline < ci->output_height) {
		JSAMPROW rows[16];
		unsigned y = ci->output_scanline;
		unsigned k, n = ci->output_height - y;

		if (n > 16)
			n = 16;
		for (k = 0; k < n; k++)
			rows[k] = j->px + (size_t)(y + k) * stride;
		jpeg_read_scanlines(ci, rows, n);
	}
	jpeg_finish_decompress(ci);
	return 0;
}

/* CMYK (4 channels) to RGB (3), in place. */
static void cmyk_to_rgb(unsigned char *px, size_t n, int inverted)
{
	const unsigned char *s = px;
	unsigned char *o = px;
	size_t i;

	for (i = 0; i < n; i++, s += 4, o += 3) {
		unsigned c = s[0], m = s[1], y = s[2], k = s[3];

		if (!inverted) {
			c = 255 - c;
			m = 255 - m;
			y = 255 - y;
			k = 255 - k;
		}
		o[0] = (unsigned char)mul255(c, k);
		o[1] = (unsigned char)mul255(m, k);
		o[2] = (unsigned char)mul255(y, k);
	}
}

static int dec_jpeg(struct dec *d)
{
	struct jdec j;
	int rc;

	memset(&j, 0, sizeof(j));
	j.ci.err = jpeg_std_error(&j.err.pub);
	j.err.pub.error_exit = jerr_exit;
	j.err.pub.emit_message = jerr_emit;
	rc = jpeg_run(&j, d);
	if (rc == 1) {
		if (j.err.pub.msg_code == JERR_OUT_OF_MEMORY)
			rc = fail(d, -ENOMEM, "jpeg: %s", j.err.msg);
		else if (j.err.pub.msg_code == JERR_IMAGE_TOO_BIG)
			rc = fail(d, -EFBIG, "jpeg: %s", j.err.msg);
		else
			rc = fail(d, -EINVAL, "jpeg: %s", j.err.msg);
	}
	if (rc == 0) {
		int w = (int)j.ci.output_width, h = (int)j.ci.output_height;
		int nc = j.ci.output_components;

		if (nc == 4) {
			cmyk_to_rgb(j.px, (size_t)w * h, j.ci.saw_Adobe_marker);
			nc = 3;
			unsigned char *p = realloc(j.px, (size_t)w * h * 3);
			if (p)
				j.px = p;
		}
		finish(d, j.px, w, h, nc);
		j.px = NULL;
	}
	if (j.created)
		jpeg_destroy_decompress(&j.ci);
	free(j.px);
	return rc;
}

/* ---- PNG ---------------------------------------------------------------- */

struct pdec {
	png_structp png;
	png_infop info;
	const unsigned char *buf;
	size_t len, pos;
	unsigned char *px;      /* output, freed by the caller on failure */
	int w, h, nc;
	int oom;                /* an allocation inside libpng failed */
	char msg[160];
};

static void png_fail_fn(png_structp png, png_const_charp msg)
{
	struct pdec *p = png_get_error_ptr(png);

	snprintf(p->msg, sizeof(p->msg), "%s", msg ? msg : "error");
	png_longjmp(png, 1);
}

static void png_read_fn(png_structp png, png_bytep dst, size_t n)
{
	struct pdec *p = png_get_io_ptr(png);

	if (n > p->len - p->pos)
		png_error(png, "truncated (file ends early)");
	memcpy(dst, p->buf + p->pos, n);
	p->pos += n;
}

static png_voidp png_malloc_fn(png_structp png, png_alloc_size_t n)
{
	struct pdec *p = png_get_mem_ptr(png);
	void *r = malloc(n);

	if (!r && p)
		p->oom = 1;
	return r;
}

static void png_free_fn(png_structp png, png_voidp ptr)
{
	(void)png;
	free(ptr);
}

/* Returns 0, a -errno already explained in d, or 1 after a libpng error
 * (message in p->msg). */
static int png_run(struct pdec *p, struct dec *d)
{
	png_structp png = p->png;
	png_infop info = p->info;

	if (setjmp(png_jmpbuf(png)))
		return 1;
	png_set_read_fn(png, p, png_read_fn);
	png_set_crc_action(png, PNG_CRC_ERROR_QUIT, PNG_CRC_ERROR_QUIT);
	png_set_benign_errors(png, 0);
	png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_NEVER, NULL, -1);
	png_set_user_limits(png, 0x7fffffff, 0x7fffffff);
	png_read_info(png, info);

	int rc = check_size(d, "png", png_get_image_width(png, info),
			    png_get_image_height(png, info));
	if (rc)
		return rc;
	int type = png_get_color_type(png, info);
	int depth = png_get_bit_depth(png, info);

	if (type == PNG_COLOR_TYPE_PALETTE)
		png_set_palette_to_rgb(png);
	if (type == PNG_COLOR_TYPE_GRAY && depth < 8)
		png_set_expand_gray_1_2_4_to_8(png);
	if (png_get_valid(png, info, PNG_INFO_tRNS))
		png_set_tRNS_to_alpha(png);
	if (depth == 16)
		png_set_scale_16(png);
	int passes = png_set_interlace_handling(png);
	png_read_update_info(png, info);

	p->w = (int)png_get_image_width(png, info);
	p->h = (int)png_get_image_height(png, info);
	p->nc = png_get_channels(png, info);
	size_t stride = (size_t)p->w * (size_t)p->nc;
	if (png_get_bit_depth(png, info) != 8 || p->nc < 1 || p->nc > 4 ||
	    png_get_rowbytes(png, info) != stride)
		png_error(png, "unexpected row layout after transforms");
	p->px = malloc(stride * (size_t)p->h);
	if (!p->px)
		return fail(d, -ENOMEM, "png: out of memory");
	for (int pass = 0; pass < passes; pass++)
		for (int y = 0; y < p->h; y++)
			png_read_row(png, p->px + (size_t)y * stride, NULL);
	png_read_end(png, NULL);
	return 0;
}

static int dec_png(struct dec *d)
{
	struct pdec p;
	int rc;

	memset(&p, 0, sizeof(p));
	p.buf = d->buf;
	p.len = d->len;
	p.png = png_create_read_struct_2(PNG_LIBPNG_VER_STRING, &p,
					 png_fail_fn, png_fail_fn, &p,
					 png_malloc_fn, png_free_fn);
	if (p.png)
		p.info = png_create_info_struct(p.png);
	if (!p.png || !p.info) {
		rc = fail(d, -ENOMEM, "png: out of memory");
		goto out;
	}
	rc = png_run(&p, d);
	if (rc == 1)
		rc = p.oom ? fail(d, -ENOMEM, "png: out of memory")
			   : fail(d, -EINVAL, "png: %s", p.msg);
	if (rc == 0) {
		finish(d, p.px, p.w, p.h, p.nc);
		p.px = NULL;
	}
out:
	png_destroy_read_struct(&p.png, p.info ? &p.info : NULL, NULL);
	free(p.px);
	return rc;
}

/* ---- WebP --------------------------------------------------------------- */

static const char *webp_status(VP8StatusCode st)
{
	switch (st) {
	case VP8_STATUS_OUT_OF_MEMORY: return "out of memory";
	case VP8_STATUS_INVALID_PARAM: return "invalid parameter";
	case VP8_STATUS_BITSTREAM_ERROR: return "bitstream error (corrupt data)";
	case VP8_STATUS_UNSUPPORTED_FEATURE: return "unsupported feature";
	case VP8_STATUS_SUSPENDED: return "decoding suspended";
	case VP8_STATUS_USER_ABORT: return "aborted";
	case VP8_STATUS_NOT_ENOUGH_DATA: return "not enough data (truncated)";
	default: return "unknown error";
	}
}

/* The output size for a w x h source: the shorter side brought down to
 * min_side, the other in proportion (rounded, never below min_side). */
static void webp_scaled(int w, int h, int min_side, int *ow, int *oh)
{
	long long s = w < h ? w : h, l = w < h ? h : w, ns, nl;

	*ow = w;
	*oh = h;
	if (min_side <= 0 || s <= min_side)
		return;
	ns = min_side;
	nl = (l * ns + s / 2) / s;
	if (nl < ns)
		nl = ns;
	*ow = (int)(w < h ? ns : nl);
	*oh = (int)(w < h ? nl : ns);
}

static int dec_webp(struct dec *d)
{
	WebPDecoderConfig cfg;
	VP8StatusCode st;
	unsigned char *px = NULL;
	int rc, ow, oh, nc;
	uint32_t riff;

	if (!WebPInitDecoderConfig(&cfg))
		return fail(d, -EINVAL, "webp: decoder version mismatch");
	riff = (uint32_t)d->buf[4] | (uint32_t)d->buf[5] << 8 |
	       (uint32_t)d->buf[6] << 16 | (uint32_t)d->buf[7] << 24;
	if ((uint64_t)riff + 8 > d->len)
		return fail(d, -EINVAL,
			    "webp: truncated (RIFF size says %llu bytes, file has %zu)",
			    (unsigned long long)riff + 8, d->len);
	st = WebPGetFeatures(d->buf, d->len, &cfg.input);
	if (st != VP8_STATUS_OK)
		return fail(d, st == VP8_STATUS_OUT_OF_MEMORY ? -ENOMEM : -EINVAL,
			    "webp: %s", webp_status(st));
	if (cfg.input.has_animation)
		return fail(d, -EINVAL, "webp: animated WebP is not supported");
	rc = check_size(d, "webp", cfg.input.width, cfg.input.height);
	if (rc)
		return rc;
	webp_scaled(cfg.input.width, cfg.input.height, d->min_side, &ow, &oh);
	nc = cfg.input.has_alpha ? 4 : 3;
	size_t stride = (size_t)ow * nc, size = stride * (size_t)oh;
	px = malloc(size);
	if (!px)
		return fail(d, -ENOMEM, "webp: out of memory");
	if (ow != cfg.input.width || oh != cfg.input.height) {
		cfg.options.use_scaling = 1;
		cfg.options.scaled_width = ow;
		cfg.options.scaled_height = oh;
	}
	cfg.output.colorspace = nc == 4 ? MODE_RGBA : MODE_RGB;
	cfg.output.is_external_memory = 1;
	cfg.output.u.RGBA.rgba = px;
	cfg.output.u.RGBA.stride = (int)stride;
	cfg.output.u.RGBA.size = size;
	st = WebPDecode(d->buf, d->len, &cfg);
	WebPFreeDecBuffer(&cfg.output);
	if (st != VP8_STATUS_OK) {
		free(px);
		return fail(d, st == VP8_STATUS_OUT_OF_MEMORY ? -ENOMEM : -EINVAL,
			    "webp: %s", webp_status(st));
	}
	finish(d, px, ow, oh, nc);
	return 0;
}

/* ---- BMP ---------------------------------------------------------------- */

static uint32_t le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static unsigned le16(const unsigned char *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

/* Checks the BMP headers against the buffer: the pixel array must be all
 * there, because stb_image would pad it with zeros. */
static int bmp_check(struct dec *d)
{
	const unsigned char *b = d->buf;
	long long w, h, stride, need;
	uint32_t off, hsz, comp = 0;
	unsigned bpp;

	if (d->len < 18)
		return fail(d, -EINVAL, "bmp: truncated header");
	off = le32(b + 10);
	hsz = le32(b + 14);
	if (hsz < 12 || d->len < 14 + (size_t)hsz)
		return fail(d, -EINVAL, "bmp: truncated header");
	if (hsz == 12) {
		w = le16(b + 18);
		h = le16(b + 20);
		bpp = le16(b + 24);
	} else if (hsz >= 40) {
		w = (int32_t)le32(b + 18);
		h = (int32_t)le32(b + 22);
		if (h < 0)      /* top-down */
			h = -h;
		bpp = le16(b + 28);
		comp = le32(b + 30);
	} else {
		return fail(d, -EINVAL, "bmp: unknown header size %u",
			    (unsigned)hsz);
	}
	int rc = check_size(d, "bmp", w, h);
	if (rc)
		return rc;
	if (comp != 0 && comp != 3)
		return fail(d, -EINVAL,
			    "bmp: compression %u (RLE/JPEG/PNG) is not supported",
			    (unsigned)comp);
	if (bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 &&
	    bpp != 32)
		return fail(d, -EINVAL, "bmp: %u bits per pixel is not supported",
			    bpp);
	if (off < 14 + hsz)
		return fail(d, -EINVAL, "bmp: pixel data offset %u inside the header",
			    (unsigned)off);
	stride = (w * bpp + 31) / 32 * 4;
	need = (long long)off + stride * (h - 1) + (w * bpp + 7) / 8;
	if ((unsigned long long)need > d->len)
		return fail(d, -EINVAL,
			    "bmp: truncated (pixel data needs %lld bytes, file has %zu)",
			    need, d->len);
	return 0;
}

static int dec_bmp(struct dec *d)
{
	int rc = bmp_check(d), w, h, nc;
	unsigned char *px, *own;

	if (rc)
		return rc;
	if (d->len > INT_MAX)
		return fail(d, -EFBIG, "bmp: file too large");
	px = stbi_load_from_memory(d->buf, (int)d->len, &w, &h, &nc, 0);
	if (!px) {
		const char *r = stbi_failure_reason();

		if (r && !strcmp(r, "outofmem"))
			return fail(d, -ENOMEM, "bmp: out of memory");
		return fail(d, -EINVAL, "bmp: %s", r ? r : "corrupt");
	}
	if (nc != 3 && nc != 4) {
		stbi_image_free(px);
		return fail(d, -EINVAL, "bmp: unexpected %d channels", nc);
	}
	/* Our own block, so that emb_image_free is free() whatever STBI_FREE
	 * the library was built with; alpha is dropped on the way. */
	own = malloc((size_t)w * h * 3);
	if (!own) {
		stbi_image_free(px);
		return fail(d, -ENOMEM, "bmp: out of memory");
	}
	if (nc == 3) {
		memcpy(own, px, (size_t)w * h * 3);
	} else {
		const unsigned char *s = px;
		unsigned char *o = own;

		for (size_t i = 0, n = (size_t)w * h; i < n; i++, s += 4, o += 3) {
			o[0] = (unsigned char)mul255(s[0], s[3]);
			o[1] = (unsigned char)mul255(s[1], s[3]);
			o[2] = (unsigned char)mul255(s[2], s[3]);
		}
	}
	stbi_image_free(px);
	finish(d, own, w, h, 3);
	return 0;
}

/* ---- PNM (P5, P6) ------------------------------------------------------- */

static int pnm_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

/* Skips whitespace and '#' comments, then reads a decimal number (at most
 * 9 digits, else saturated at 999999999). Returns 0 or -1 (no digits, or
 * the buffer ended). */
static int pnm_num(const unsigned char *b, size_t len, size_t *pos, long long *v)
{
	size_t i = *pos;
	int nd = 0;

	for (;;) {
		while (i < len && pnm_space(b[i]))
			i++;
		if (i < len && b[i] == '#') {
			while (i < len && b[i] != '\n' && b[i] != '\r')
				i++;
			continue;
		}
		break;
	}
	*v = 0;
	while (i < len && b[i] >= '0' && b[i] <= '9') {
		if (nd++ < 9)
			*v = *v * 10 + (b[i] - '0');
		else
			*v = 999999999;
		i++;
	}
	*pos = i;
	return nd ? 0 : -1;
}

static int dec_pnm(struct dec *d)
{
	static const char *const kinds[] = {
		"", "P1 (ASCII bitmap)", "P2 (ASCII greymap)", "P3 (ASCII pixmap)",
		"P4 (bitmap)",
	};
	const unsigned char *b = d->buf;
	size_t pos = 2, n, i, need;
	long long w, h, maxv;
	int t = b[1] - '0', nc, rc;
	unsigned char *px;

	if (t < 5)
		return fail(d, -EINVAL,
			    "pnm: %s is not supported, only binary P5/P6", kinds[t]);
	nc = t == 6 ? 3 : 1;
	if (pnm_num(b, d->len, &pos, &w) || pnm_num(b, d->len, &pos, &h) ||
	    pnm_num(b, d->len, &pos, &maxv) || pos >= d->len)
		return fail(d, -EINVAL, "pnm: truncated or malformed header");
	if (!pnm_space(b[pos]))
		return fail(d, -EINVAL, "pnm: malformed header (byte 0x%02x after maxval)",
			    b[pos]);
	pos++;                  /* exactly one whitespace byte before the raster */
	rc = check_size(d, "pnm", w, h);
	if (rc)
		return rc;
	if (maxv < 1 || maxv > 65535)
		return fail(d, -EINVAL, "pnm: maxval %lld out of range 1..65535", maxv);
	n = (size_t)w * (size_t)h * (size_t)nc;
	need = n * (maxv > 255 ? 2 : 1);
	if (d->len - pos < need)
		return fail(d, -EINVAL,
			    "pnm: truncated (%zu of %zu bytes of pixel data)",
			    d->len - pos, need);
	px = malloc(n);
	if (!px)
		return fail(d, -ENOMEM, "pnm: out of memory");
	b += pos;
	for (i = 0; i < n; i++) {
		unsigned v = maxv > 255 ? (unsigned)b[2 * i] << 8 | b[2 * i + 1]
					: b[i];

		if (v > maxv) {
			free(px);
			return fail(d, -EINVAL, "pnm: sample %u above maxval %lld",
				    v, maxv);
		}
		px[i] = maxv == 255 ? (unsigned char)v
			: (unsigned char)((v * 255u + (unsigned)maxv / 2) / (unsigned)maxv);
	}
	finish(d, px, (int)w, (int)h, nc);
	return 0;
}

/* ---- entry points ------------------------------------------------------- */

const char *emb_format(const void *buf, size_t len)
{
	const unsigned char *b = buf;

	if (!b)
		return NULL;
	if (len >= 3 && b[0] == 0xff && b[1] == 0xd8 && b[2] == 0xff)
		return "jpeg";
	if (len >= 8 && !memcmp(b, "\x89PNG\r\n\x1a\n", 8))
		return "png";
	if (len >= 12 && !memcmp(b, "RIFF", 4) && !memcmp(b + 8, "WEBP", 4))
		return "webp";
	if (len >= 2 && b[0] == 'B' && b[1] == 'M') {
		/* "BM" alone is weak (a text may start so): when the info
		 * header's size is there, it must be a known one. */
		if (len < 18)
			return "bmp";
		switch (le32(b + 14)) {
		case 12: case 40: case 52: case 56: case 64: case 108: case 124:
			return "bmp";
		default:
			return NULL;
		}
	}
	if (len >= 3 && b[0] == 'P' && b[1] >= '1' && b[1] <= '6' &&
	    (pnm_space(b[2]) || b[2] == '#'))
		return "pnm";
	return NULL;
}

int emb_decode(const void *buf, size_t len, int min_side, struct emb_image *out,
	       char *why, size_t whylen)
{
	struct dec d = { buf, len, min_side, out, why, whylen };
	const char *fmt;
	int rc;

	if (why && whylen)
		why[0] = '\0';
	if (!out)
		return fail(&d, -EINVAL, "no output image");
	memset(out, 0, sizeof(*out));
	if (!buf && len)
		return fail(&d, -EINVAL, "no input buffer");
	if (min_side < 0)
		return fail(&d, -EINVAL, "min_side %d is negative", min_side);
	if (len == 0)
		return fail(&d, -EINVAL, "not an image (empty file)");
	fmt = emb_format(buf, len);
	if (!fmt)
		rc = fail(&d, -EINVAL, "not an image (unknown format)");
	else if (!strcmp(fmt, "jpeg"))
		rc = dec_jpeg(&d);
	else if (!strcmp(fmt, "png"))
		rc = dec_png(&d);
	else if (!strcmp(fmt, "webp"))
		rc = dec_webp(&d);
	else if (!strcmp(fmt, "bmp"))
		rc = dec_bmp(&d);
	else
		rc = dec_pnm(&d);
	if (rc) {
		free(out->px);
		memset(out, 0, sizeof(*out));
		if (why && whylen && !why[0])
			fail(&d, rc, "%s: decoding failed", fmt ? fmt : "image");
	}
	return rc;
}

void emb_image_free(struct emb_image *img)
{
	if (!img)
		return;
	free(img->px);
	memset(img, 0, sizeof(*img));
}
