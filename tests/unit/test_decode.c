/*
 * test_decode.c — the image decoders (embed/decode.c). Every image is made
 * here, in memory, by the libraries' own encoders (libjpeg to memory, libpng's
 * write API, libwebp's one-call encoders) or, for BMP and PNM, by writing the
 * header bytes by hand; nothing is read from disk.
 *
 * Covered: each format at its right size and channel count, pixels equal
 * (lossless) or close (lossy) to what was encoded; grey vs colour; PNG
 * palette, tRNS, 1/2/4/16-bit and interlaced; alpha composited over black;
 * CMYK JPEG; JPEG and WebP at min_side; then strictness: every prefix of
 * every format, checksum and bit flips, garbage, text and empty input,
 * headers claiming huge sizes; and several threads decoding at once.
 *
 * Inputs are copied into heap blocks of their exact size so that ASan sees
 * any read past the end. No test asserts a time (see the report that added
 * this file for the speed measured by hand).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>
#include <png.h>
#include <webp/encode.h>

#include "embed/decode.h"

/* A small deterministic generator (xorshift64), so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd32(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

/* A copy of buf in a block of exactly len bytes (ASan sees overreads). */
static unsigned char *exact(const void *buf, size_t len)
{
	unsigned char *p = malloc(len ? len : 1);

	assert_non_null(p);
	if (len)
		memcpy(p, buf, len);
	return p;
}

/* Decodes and expects success; prints the reason otherwise. */
static void decode_ok(const void *buf, size_t len, int min_side,
		      struct emb_image *img)
{
	char why[256] = "";
	unsigned char *b = exact(buf, len);
	int rc = emb_decode(b, len, min_side, img, why, sizeof(why));

	free(b);
	if (rc)
		print_error("decode failed %d: %s\n", rc, why);
	assert_int_equal(rc, 0);
	assert_non_null(img->px);
}

/* Decodes and expects failure rc with a non-empty reason; returns it in why. */
static void decode_fails(const void *buf, size_t len, int rc_want, char *why,
			 size_t whylen)
{
	struct emb_image img;
	unsigned char *b = exact(buf, len);
	int rc;

	memset(&img, 0xa5, sizeof(img));
	why[0] = '\0';
	rc = emb_decode(b, len, 0, &img, why, whylen);
	free(b);
	if (rc != rc_want)
		print_error("len %zu: rc %d, want %d (%s)\n", len, rc, rc_want, why);
	assert_int_equal(rc, rc_want);
	assert_true(why[0] != '\0');
	assert_null(strchr(why, '\n'));
	assert_null(img.px);
	assert_int_equal(img.w, 0);
	assert_int_equal(img.h, 0);
	assert_int_equal(img.ch, 0);
}

/* Mean absolute difference of two sample arrays; *maxd the largest one. */
static double mad(const unsigned char *a, const unsigned char *b, size_t n,
		  int *maxd)
{
	double sum = 0;
	int m = 0;

	for (size_t i = 0; i < n; i++) {
		int d = abs((int)a[i] - (int)b[i]);

		sum += d;
		if (d > m)
			m = d;
	}
	if (maxd)
		*maxd = m;
	return n ? sum / (double)n : 0;
}

static unsigned char round_mul(unsigned v, unsigned a)
{
	return (unsigned char)((v * a * 2 + 255) / 510);
}

/* A smooth colour gradient (JPEG-friendly), nc = 1 or 3. */
static unsigned char *gradient(int w, int h, int nc)
{
	unsigned char *p = malloc((size_t)w * h * nc);

	assert_non_null(p);
	for (int y = 0; y < h; y++)
		for (int x = 0; x < w; x++) {
			unsigned char *q = p + ((size_t)y * w + x) * nc;

			q[0] = (unsigned char)(x * 255 / (w - 1));
			if (nc == 3) {
				q[1] = (unsigned char)(y * 255 / (h - 1));
				q[2] = (unsigned char)((x + y) * 255 / (w + h - 2));
			}
		}
	return p;
}

/* Random samples (for lossless formats). */
static unsigned char *noise(size_t n)
{
	unsigned char *p = malloc(n ? n : 1);

	assert_non_null(p);
	for (size_t i = 0; i < n; i++)
		p[i] = (unsigned char)rnd32();
	return p;
}

/* ---- encoders ----------------------------------------------------------- */

/* libjpeg to memory. cs: JCS_GRAYSCALE, JCS_RGB or JCS_CMYK. Caller frees. */
static unsigned char *jpeg_enc(const unsigned char *px, int w, int h,
			       J_COLOR_SPACE cs, int quality, int progressive,
			       size_t *len)
{
	struct jpeg_compress_struct c;
	struct jpeg_error_mgr e;
	unsigned char *out = NULL;
	unsigned long n = 0;
	int nc = cs == JCS_GRAYSCALE ? 1 : cs == JCS_CMYK ? 4 : 3;

	c.err = jpeg_std_error(&e);
	jpeg_create_compress(&c);
	jpeg_mem_dest(&c, &out, &n);
	c.image_width = (JDIMENSION)w;
	c.image_height = (JDIMENSION)h;
	c.input_components = nc;
	c.in_color_space = cs;
	jpeg_set_defaults(&c);
	jpeg_set_quality(&c, quality, TRUE);
	if (progressive)
		jpeg_simple_progression(&c);
	jpeg_start_compress(&c, TRUE);
	while (c.next_scanline < c.image_height) {
		JSAMPROW r = (JSAMPROW)px + (size_t)c.next_scanline * w * nc;

		jpeg_write_scanlines(&c, &r, 1);
	}
	jpeg_finish_compress(&c);
	jpeg_destroy_compress(&c);
	*len = n;
	return out;
}

struct membuf {
	unsigned char *p;
	size_t len, cap;
};

static void mb_write(png_structp png, png_bytep data, size_t n)
{
	struct membuf *m = png_get_io_ptr(png);

	if (m->len + n > m->cap) {
		m->cap = (m->len + n) * 2;
		m->p = realloc(m->p, m->cap);
		if (!m->p)
			png_error(png, "oom");
	}
	memcpy(m->p + m->len, data, n);
	m->len += n;
}

static void mb_flush(png_structp png)
{
	(void)png;
}

static void enc_error(png_structp png, png_const_charp msg)
{
	print_error("libpng (encoding): %s\n", msg);
	png_longjmp(png, 1);
}

struct png_spec {
	int w, h, type, depth, interlace;
	const png_color *pal;
	int npal;
	const png_byte *trns;   /* palette alpha, or NULL */
	int ntrns;
	const png_color_16 *trns_color; /* grey/RGB transparent colour */
	int text;               /* add a tEXt chunk */
};

/* libpng's write API to memory; data rows packed as PNG stores them
 * (16-bit big-endian, low depths MSB first). Caller frees. */
static unsigned char *png_enc(const struct png_spec *s, const unsigned char *data,
			      size_t *len)
{
	static struct membuf m;         /* static: survives a longjmp */
	png_structp png;
	png_infop info;
	int chans = s->type == PNG_COLOR_TYPE_GRAY ? 1
		    : s->type == PNG_COLOR_TYPE_GRAY_ALPHA ? 2
		    : s->type == PNG_COLOR_TYPE_RGB ? 3
		    : s->type == PNG_COLOR_TYPE_RGBA ? 4 : 1;
	size_t stride = ((size_t)s->w * chans * s->depth + 7) / 8;

	memset(&m, 0, sizeof(m));
	png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, enc_error,
				      NULL);
	assert_non_null(png);
	info = png_create_info_struct(png);
	assert_non_null(info);
	if (setjmp(png_jmpbuf(png)))
		fail_msg("png_enc: libpng error");
	png_set_write_fn(png, &m, mb_write, mb_flush);
	png_set_IHDR(png, info, (png_uint_32)s->w, (png_uint_32)s->h, s->depth,
		     s->type, s->interlace, PNG_COMPRESSION_TYPE_DEFAULT,
		     PNG_FILTER_TYPE_DEFAULT);
	if (s->pal)
		png_set_PLTE(png, info, s->pal, s->npal);
	if (s->trns || s->trns_color)
		png_set_tRNS(png, info, s->trns, s->ntrns, s->trns_color);
	if (s->text) {
		png_text t = { .compression = PNG_TEXT_COMPRESSION_NONE,
			       .key = (png_charp)"Comment",
			       .text = (png_charp)"made by test_decode" };
		png_set_text(png, info, &t, 1);
	}
	png_write_info(png, info);
	int passes = png_set_interlace_handling(png);
	for (int p = 0; p < passes; p++)
		for (int y = 0; y < s->h; y++)
			png_write_row(png, data + (size_t)y * stride);
	png_write_end(png, info);
	png_destroy_write_struct(&png, &info);
	*len = m.len;
	return m.p;
}

/* The standard CRC-32 of PNG chunks, for patching headers. */
static uint32_t crc32_png(const unsigned char *p, size_t n)
{
	uint32_t c = 0xffffffffu;

	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
	}
	return c ^ 0xffffffffu;
}

static void put32be(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)(v >> 24);
	p[1] = (unsigned char)(v >> 16);
	p[2] = (unsigned char)(v >> 8);
	p[3] = (unsigned char)v;
}

static void put32le(unsigned char *p, uint32_t v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
	p[2] = (unsigned char)(v >> 16);
	p[3] = (unsigned char)(v >> 24);
}

static void put16le(unsigned char *p, unsigned v)
{
	p[0] = (unsigned char)v;
	p[1] = (unsigned char)(v >> 8);
}

/* A BMP: 24 or 32 bits (rgb: w*h*3 or *4 RGB(A)), or 8 bits with a palette
 * of npal BGRX entries and indices in rgb (w*h). h < 0: top-down. */
static unsigned char *bmp_enc(const unsigned char *rgb, int w, int h, int bpp,
			      const unsigned char *pal, int npal, size_t *len)
{
	int ah = h < 0 ? -h : h;
	size_t stride = ((size_t)w * bpp + 31) / 32 * 4;
	size_t off = 14 + 40 + (size_t)npal * 4, n = off + stride * ah;
	unsigned char *b = calloc(1, n);

	assert_non_null(b);
	b[0] = 'B';
	b[1] = 'M';
	put32le(b + 2, (uint32_t)n);
	put32le(b + 10, (uint32_t)off);
	put32le(b + 14, 40);
	put32le(b + 18, (uint32_t)w);
	put32le(b + 22, (uint32_t)h);
	put16le(b + 26, 1);
	put16le(b + 28, (unsigned)bpp);
	put32le(b + 46, (uint32_t)npal);
	if (npal)
		memcpy(b + 54, pal, (size_t)npal * 4);
	for (int y = 0; y < ah; y++) {
		int fy = h < 0 ? y : ah - 1 - y;        /* file row of image row y */
		unsigned char *row = b + off + (size_t)fy * stride;

		for (int x = 0; x < w; x++) {
			const unsigned char *s;

			if (bpp == 8) {
				row[x] = rgb[(size_t)y * w + x];
				continue;
			}
			s = rgb + ((size_t)y * w + x) * (bpp / 8);
			row[x * (bpp / 8) + 0] = s[2];
			row[x * (bpp / 8) + 1] = s[1];
			row[x * (bpp / 8) + 2] = s[0];
			if (bpp == 32)
				row[x * 4 + 3] = s[3];
		}
	}
	*len = n;
	return b;
}

/* A binary PNM with the given header text and raster. Caller frees. */
static unsigned char *pnm_enc(const char *hdr, const void *raster, size_t rlen,
			      size_t *len)
{
	size_t hl = strlen(hdr);
	unsigned char *b = malloc(hl + rlen + 1);

	assert_non_null(b);
	memcpy(b, hdr, hl);
	if (rlen)
		memcpy(b + hl, raster, rlen);
	*len = hl + rlen;
	return b;
}

/* ---- format sniffing ---------------------------------------------------- */

static void test_format(void **state)
{
	(void)state;
	assert_string_equal(emb_format("\xff\xd8\xff\xe0", 4), "jpeg");
	assert_string_equal(emb_format("\x89PNG\r\n\x1a\n", 8), "png");
	assert_string_equal(emb_format("RIFF\0\0\0\0WEBPVP8 ", 16), "webp");
	assert_string_equal(emb_format("P5 1 1 255\n\0", 12), "pnm");
	assert_string_equal(emb_format("P3\n", 3), "pnm");
	assert_string_equal(emb_format("BM", 2), "bmp");
	assert_string_equal(emb_format("BM\0\0\0\0\0\0\0\0\0\0\0\0\x28\0\0\0", 18),
			    "bmp");
	assert_null(emb_format("BMW is a car maker\n", 19));
	assert_null(emb_format("RIFF\0\0\0\0WAVEfmt ", 16));
	assert_null(emb_format("\x89PNG", 4));
	assert_null(emb_format("P7\n", 3));
	assert_null(emb_format("Pa", 2));
	assert_null(emb_format("hello", 5));
	assert_null(emb_format("", 0));
	assert_null(emb_format(NULL, 10));
}

/* ---- JPEG --------------------------------------------------------------- */

static void test_jpeg_rgb_grey(void **state)
{
	struct emb_image img;
	unsigned char *px = gradient(64, 48, 3), *g = gradient(64, 48, 1), *j;
	size_t len;
	int maxd;

	(void)state;
	j = jpeg_enc(px, 64, 48, JCS_RGB, 95, 0, &len);
	decode_ok(j, len, 0, &img);
	assert_int_equal(img.w, 64);
	assert_int_equal(img.h, 48);
	assert_int_equal(img.ch, 3);
	assert_true(mad(img.px, px, 64 * 48 * 3, &maxd) < 3.0);
	assert_true(maxd < 40);
	emb_image_free(&img);
	free(j);

	j = jpeg_enc(px, 64, 48, JCS_RGB, 90, 1, &len);       /* progressive */
	decode_ok(j, len, 0, &img);
	assert_int_equal(img.ch, 3);
	assert_true(mad(img.px, px, 64 * 48 * 3, NULL) < 3.0);
	emb_image_free(&img);
	free(j);

	j = jpeg_enc(g, 64, 48, JCS_GRAYSCALE, 95, 0, &len);
	decode_ok(j, len, 0, &img);
	assert_int_equal(img.w, 64);
	assert_int_equal(img.h, 48);
	assert_int_equal(img.ch, 1);
	assert_true(mad(img.px, g, 64 * 48, &maxd) < 1.5);
	emb_image_free(&img);
	emb_image_free(&img);           /* idempotent */
	emb_image_free(NULL);
	free(j);
	free(px);
	free(g);
}

/* Adobe CMYK as Photoshop writes it: inverted, so (r, g, b, 255) is RGB. */
static void test_jpeg_cmyk(void **state)
{
	unsigned char *rgb = gradient(32, 32, 3), *cmyk = malloc(32 * 32 * 4), *j;
	struct emb_image img;
	size_t len;

	(void)state;
	assert_non_null(cmyk);
	for (int i = 0; i < 32 * 32; i++) {
		memcpy(cmyk + i * 4, rgb + i * 3, 3);
		cmyk[i * 4 + 3] = 255;
	}
	j = jpeg_enc(cmyk, 32, 32, JCS_CMYK, 95, 0, &len);
	decode_ok(j, len, 0, &img);
	assert_int_equal(img.ch, 3);
	assert_int_equal(img.w, 32);
	assert_true(mad(img.px, rgb, 32 * 32 * 3, NULL) < 3.0);
	emb_image_free(&img);
	free(j);
	free(cmyk);
	free(rgb);
}

/* 640x480 at min_side 32 is 80x60, every pixel near its 8x8 block mean. */
static void test_jpeg_scaled(void **state)
{
	static const struct {
		int w, h, min_side, ow, oh;
	} cases[] = {
		{ 640, 480, 32, 80, 60 },
		{ 640, 480, 60, 80, 60 },
		{ 640, 480, 61, 160, 120 },   /* 2/8 */
		{ 640, 480, 100, 160, 120 },
		{ 640, 480, 170, 240, 180 },  /* 3/8 */
		{ 640, 480, 480, 640, 480 },
		{ 640, 480, 1000, 640, 480 }, /* never upscaled */
		{ 100, 75, 10, 13, 10 },      /* ceil(100/8) x ceil(75/8) */
		{ 480, 640, 32, 60, 80 },     /* portrait */
		{ 640, 480, 0, 640, 480 },
	};
	unsigned char *px = gradient(640, 480, 3), *j;
	struct emb_image img;
	size_t len;

	(void)state;
	j = jpeg_enc(px, 640, 480, JCS_RGB, 90, 0, &len);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		unsigned char *src = px, *jj = j, *own = NULL;
		size_t jl = len;

		if (cases[c].w != 640 || cases[c].h != 480) {
			own = src = gradient(cases[c].w, cases[c].h, 3);
			jj = jpeg_enc(src, cases[c].w, cases[c].h, JCS_RGB, 90, 0,
				      &jl);
		}
		decode_ok(jj, jl, cases[c].min_side, &img);
		assert_int_equal(img.w, cases[c].ow);
		assert_int_equal(img.h, cases[c].oh);
		assert_int_equal(img.ch, 3);
		if (cases[c].w == 640 && cases[c].ow == 80) {
			double sum = 0;

			for (int y = 0; y < 60; y++)
				for (int x = 0; x < 80; x++)
					for (int k = 0; k < 3; k++) {
						double m = 0;

						for (int v = 0; v < 8; v++)
							for (int u = 0; u < 8; u++)
								m += src[((size_t)(y * 8 + v) * 640 + x * 8 + u) * 3 + k];
						sum += abs((int)(m / 64 + 0.5) -
							   img.px[((size_t)y * 80 + x) * 3 + k]);
					}
			assert_true(sum / (80 * 60 * 3) < 3.0);
		}
		emb_image_free(&img);
		if (own) {
			free(own);
			free(jj);
		}
	}
	free(j);
	free(px);
}

/* ---- PNG ---------------------------------------------------------------- */

static void png_expect(const struct png_spec *s, const unsigned char *data,
		       int ch, const unsigned char *want)
{
	struct emb_image img;
	size_t len;
	unsigned char *p = png_enc(s, data, &len);

	decode_ok(p, len, 0, &img);
	assert_int_equal(img.w, s->w);
	assert_int_equal(img.h, s->h);
	assert_int_equal(img.ch, ch);
	assert_memory_equal(img.px, want, (size_t)s->w * s->h * ch);
	/* min_side never changes a PNG */
	emb_image_free(&img);
	decode_ok(p, len, 4, &img);
	assert_int_equal(img.w, s->w);
	emb_image_free(&img);
	free(p);
}

static void test_png_grey(void **state)
{
	enum { W = 37, H = 11, N = W * H };
	unsigned char *v = noise(N), *want = malloc(N), *data = malloc(N * 2);

	(void)state;
	assert_non_null(want);
	assert_non_null(data);
	/* 8-bit */
	struct png_spec s = { .w = W, .h = H, .type = PNG_COLOR_TYPE_GRAY,
			      .depth = 8 };
	png_expect(&s, v, 1, v);
	/* 1, 2, 4 bits: values scale to the full 0..255 range */
	for (int depth = 1; depth <= 4; depth *= 2) {
		size_t stride = ((size_t)W * depth + 7) / 8;
		int maxv = (1 << depth) - 1;

		memset(data, 0, stride * H);
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++) {
				int q = v[y * W + x] & maxv, bit = x * depth;

				data[y * stride + bit / 8] |=
					(unsigned char)(q << (8 - depth - bit % 8));
				want[y * W + x] = (unsigned char)(q * 255 / maxv);
			}
		s.depth = depth;
		png_expect(&s, data, 1, want);
	}
	/* 16-bit: v*257 comes back as v */
	for (int i = 0; i < N; i++)
		data[2 * i] = data[2 * i + 1] = v[i];
	s.depth = 16;
	png_expect(&s, data, 1, v);
	/* grey + alpha: composited over black */
	for (int i = 0; i < N; i++) {
		data[2 * i] = v[i];
		data[2 * i + 1] = (unsigned char)(i * 7);
		want[i] = round_mul(v[i], (unsigned)(i * 7) & 255);
	}
	s.depth = 8;
	s.type = PNG_COLOR_TYPE_GRAY_ALPHA;
	png_expect(&s, data, 1, want);
	/* tRNS grey: that one value becomes black */
	png_color_16 tc = { .gray = v[5] };
	for (int i = 0; i < N; i++)
		want[i] = v[i] == v[5] ? 0 : v[i];
	s.type = PNG_COLOR_TYPE_GRAY;
	s.trns_color = &tc;
	png_expect(&s, v, 1, want);
	free(v);
	free(want);
	free(data);
}

static void test_png_colour(void **state)
{
	enum { W = 29, H = 17, N = W * H };
	unsigned char *v = noise(N * 4), *want = malloc(N * 3), *data = malloc(N * 8);
	png_color pal[200];
	png_byte trns[200];

	(void)state;
	assert_non_null(want);
	assert_non_null(data);
	/* RGB 8-bit, plain and interlaced */
	struct png_spec s = { .w = W, .h = H, .type = PNG_COLOR_TYPE_RGB,
			      .depth = 8 };
	png_expect(&s, v, 3, v);
	s.interlace = PNG_INTERLACE_ADAM7;
	png_expect(&s, v, 3, v);
	s.interlace = PNG_INTERLACE_NONE;
	/* RGB 16-bit */
	for (int i = 0; i < N * 3; i++)
		data[2 * i] = data[2 * i + 1] = v[i];
	s.depth = 16;
	png_expect(&s, data, 3, v);
	/* RGBA: composited over black */
	for (int i = 0; i < N; i++)
		for (int k = 0; k < 3; k++)
			want[i * 3 + k] = round_mul(v[i * 4 + k], v[i * 4 + 3]);
	s.depth = 8;
	s.type = PNG_COLOR_TYPE_RGB_ALPHA;
	png_expect(&s, v, 3, want);
	/* RGBA 16-bit, interlaced */
	for (int i = 0; i < N * 4; i++)
		data[2 * i] = data[2 * i + 1] = v[i];
	s.depth = 16;
	s.interlace = PNG_INTERLACE_ADAM7;
	png_expect(&s, data, 3, want);
	s.interlace = PNG_INTERLACE_NONE;
	/* palette (8-bit and 4-bit indices), then with tRNS */
	for (int i = 0; i < 200; i++) {
		pal[i].red = (png_byte)rnd32();
		pal[i].green = (png_byte)rnd32();
		pal[i].blue = (png_byte)rnd32();
		trns[i] = (png_byte)rnd32();
	}
	for (int i = 0; i < N; i++) {
		data[i] = (unsigned char)(v[i] % 200);
		want[i * 3] = pal[data[i]].red;
		want[i * 3 + 1] = pal[data[i]].green;
		want[i * 3 + 2] = pal[data[i]].blue;
	}
	s.type = PNG_COLOR_TYPE_PALETTE;
	s.depth = 8;
	s.pal = pal;
	s.npal = 200;
	png_expect(&s, data, 3, want);
	for (int i = 0; i < N; i++) {
		int a = trns[data[i]];

		want[i * 3] = round_mul(pal[data[i]].red, (unsigned)a);
		want[i * 3 + 1] = round_mul(pal[data[i]].green, (unsigned)a);
		want[i * 3 + 2] = round_mul(pal[data[i]].blue, (unsigned)a);
	}
	s.trns = trns;
	s.ntrns = 200;
	png_expect(&s, data, 3, want);
	s.trns = NULL;
	s.ntrns = 0;
	s.depth = 4;
	s.npal = 16;
	{
		size_t stride = (W * 4 + 7) / 8;
		unsigned char *d4 = calloc(stride, H);

		assert_non_null(d4);
		for (int y = 0; y < H; y++)
			for (int x = 0; x < W; x++) {
				int q = v[y * W + x] & 15;

				d4[y * stride + x / 2] |=
					(unsigned char)(x % 2 ? q : q << 4);
				want[(y * W + x) * 3] = pal[q].red;
				want[(y * W + x) * 3 + 1] = pal[q].green;
				want[(y * W + x) * 3 + 2] = pal[q].blue;
			}
		png_expect(&s, d4, 3, want);
		free(d4);
	}
	free(v);
	free(want);
	free(data);
}

/* Offset of the first chunk of the given type in a PNG, or 0. */
static size_t png_chunk(const unsigned char *p, size_t len, const char *type)
{
	size_t pos = 8;

	while (pos + 8 <= len) {
		size_t n = (size_t)p[pos] << 24 | (size_t)p[pos + 1] << 16 |
			   (size_t)p[pos + 2] << 8 | p[pos + 3];

		if (!memcmp(p + pos + 4, type, 4))
			return pos;
		pos += 12 + n;
	}
	return 0;
}

/* A bad CRC fails in a critical chunk and in an ancillary one too. */
static void test_png_crc(void **state)
{
	unsigned char *v = noise(16 * 16 * 3), *p;
	struct png_spec s = { .w = 16, .h = 16, .type = PNG_COLOR_TYPE_RGB,
			      .depth = 8, .text = 1 };
	struct emb_image img;
	char why[256];
	size_t len, at;

	(void)state;
	p = png_enc(&s, v, &len);
	at = png_chunk(p, len, "IDAT");
	assert_true(at > 0);
	at += 8 + ((size_t)p[at + 2] << 8 | p[at + 3]);  /* its CRC */
	p[at] ^= 0x40;
	decode_fails(p, len, -EINVAL, why, sizeof(why));
	assert_non_null(strstr(why, "CRC"));
	p[at] ^= 0x40;
	decode_ok(p, len, 0, &img);
	emb_image_free(&img);
	at = png_chunk(p, len, "tEXt");
	assert_true(at > 0);
	p[at + 8 + 1] ^= 0x01;
	decode_fails(p, len, -EINVAL, why, sizeof(why));
	assert_non_null(strstr(why, "CRC"));
	assert_memory_equal(why, "png: ", 5);
	free(p);
	free(v);
}

/* ---- WebP --------------------------------------------------------------- */

static void test_webp(void **state)
{
	enum { W = 200, H = 100 };
	unsigned char *g = gradient(W, H, 3), *v = noise(W * H * 4), *want, *out;
	struct emb_image img;
	size_t len;

	(void)state;
	want = malloc(W * H * 3);
	assert_non_null(want);
	/* lossy */
	len = WebPEncodeRGB(g, W, H, W * 3, 95, &out);
	assert_true(len > 0);
	decode_ok(out, len, 0, &img);
	assert_int_equal(img.w, W);
	assert_int_equal(img.h, H);
	assert_int_equal(img.ch, 3);
	assert_true(mad(img.px, g, W * H * 3, NULL) < 3.0);
	emb_image_free(&img);
	/* scaled: shorter side 100 -> 50, the other in proportion */
	decode_ok(out, len, 50, &img);
	assert_int_equal(img.w, 100);
	assert_int_equal(img.h, 50);
	{
		double sum = 0;

		for (int y = 0; y < 50; y++)
			for (int x = 0; x < 100; x++)
				for (int k = 0; k < 3; k++) {
					int m = 0;

					for (int dy = 0; dy < 2; dy++)
						for (int dx = 0; dx < 2; dx++)
							m += g[((2 * y + dy) * W + 2 * x + dx) * 3 + k];
					sum += abs((m + 2) / 4 - img.px[(y * 100 + x) * 3 + k]);
				}
		assert_true(sum / (100 * 50 * 3) < 4.0);
	}
	emb_image_free(&img);
	decode_ok(out, len, 33, &img);
	assert_int_equal(img.w, 66);
	assert_int_equal(img.h, 33);
	emb_image_free(&img);
	decode_ok(out, len, 100, &img); /* already at min_side */
	assert_int_equal(img.w, W);
	assert_int_equal(img.h, H);
	emb_image_free(&img);
	decode_ok(out, len, 500, &img); /* never upscaled */
	assert_int_equal(img.w, W);
	emb_image_free(&img);
	WebPFree(out);

	/* lossless RGB: exact */
	len = WebPEncodeLosslessRGB(v, W, H, W * 3, &out);
	assert_true(len > 0);
	decode_ok(out, len, 0, &img);
	assert_int_equal(img.ch, 3);
	assert_memory_equal(img.px, v, W * H * 3);
	emb_image_free(&img);
	WebPFree(out);

	/* lossless RGBA: composited over black */
	for (int i = 0; i < W * H; i++)
		for (int k = 0; k < 3; k++)
			want[i * 3 + k] = round_mul(v[i * 4 + k], v[i * 4 + 3]);
	len = WebPEncodeLosslessRGBA(v, W, H, W * 4, &out);
	assert_true(len > 0);
	decode_ok(out, len, 0, &img);
	assert_int_equal(img.ch, 3);
	assert_memory_equal(img.px, want, W * H * 3);
	emb_image_free(&img);
	WebPFree(out);
	free(want);
	free(g);
	free(v);
}

/* ---- BMP ---------------------------------------------------------------- */

static void test_bmp(void **state)
{
	enum { W = 13, H = 7, N = W * H };        /* odd width: row padding */
	unsigned char *v = noise(N * 4), *want = malloc(N * 3), *b, pal[256 * 4];
	struct emb_image img;
	size_t len;

	(void)state;
	assert_non_null(want);
	/* 24-bit, bottom-up and top-down */
	for (int h = H; h >= -H; h -= 2 * H) {
		b = bmp_enc(v, W, h, 24, NULL, 0, &len);
		decode_ok(b, len, 0, &img);
		assert_int_equal(img.w, W);
		assert_int_equal(img.h, H);
		assert_int_equal(img.ch, 3);
		assert_memory_equal(img.px, v, N * 3);
		emb_image_free(&img);
		free(b);
	}
	/* 32-bit with alpha: composited over black */
	for (int i = 0; i < N; i++)
		for (int k = 0; k < 3; k++)
			want[i * 3 + k] = round_mul(v[i * 4 + k], v[i * 4 + 3]);
	b = bmp_enc(v, W, H, 32, NULL, 0, &len);
	decode_ok(b, len, 0, &img);
	assert_int_equal(img.ch, 3);
	assert_memory_equal(img.px, want, N * 3);
	emb_image_free(&img);
	free(b);
	/* 8-bit palette */
	for (int i = 0; i < 256 * 4; i++)
		pal[i] = (unsigned char)rnd32();
	for (int i = 0; i < N; i++) {
		want[i * 3] = pal[v[i] * 4 + 2];
		want[i * 3 + 1] = pal[v[i] * 4 + 1];
		want[i * 3 + 2] = pal[v[i] * 4];
	}
	b = bmp_enc(v, W, H, 8, pal, 256, &len);
	decode_ok(b, len, 0, &img);
	assert_int_equal(img.ch, 3);
	assert_memory_equal(img.px, want, N * 3);
	emb_image_free(&img);
	free(b);
	free(v);
	free(want);
}

/* ---- PNM ---------------------------------------------------------------- */

static void test_pnm(void **state)
{
	enum { W = 11, H = 5, N = W * H };
	unsigned char *v = noise(N * 3), *want = malloc(N * 3), *r16 = malloc(N * 6);
	unsigned char *b;
	struct emb_image img;
	char why[256];
	size_t len;

	(void)state;
	assert_non_null(want);
	assert_non_null(r16);
	b = pnm_enc("P5\n11 5\n255\n", v, N, &len);
	decode_ok(b, len, 0, &img);
	assert_int_equal(img.w, W);
	assert_int_equal(img.h, H);
	assert_int_equal(img.ch, 1);
	assert_memory_equal(img.px, v, N);
	emb_image_free(&img);
	free(b);
	b = pnm_enc("P6 # a comment\n# another\n 11\t5 255 ", v, N * 3, &len);
	decode_ok(b, len, 0, &img);
	assert_int_equal(img.ch, 3);
	assert_memory_equal(img.px, v, N * 3);
	emb_image_free(&img);
	free(b);
	/* 16-bit, big-endian, v*257 -> v */
	for (int i = 0; i < N * 3; i++)
		r16[2 * i] = r16[2 * i + 1] = v[i];
	b = pnm_enc("P6\n11 5\n65535\n", r16, N * 6, &len);
	decode_ok(b, len, 0, &img);
	assert_int_equal(img.ch, 3);
	assert_memory_equal(img.px, v, N * 3);
	emb_image_free(&img);
	free(b);
	/* maxval 15: scaled to 0..255 */
	for (int i = 0; i < N; i++) {
		r16[i] = v[i] & 15;
		want[i] = (unsigned char)((v[i] & 15) * 17);
	}
	b = pnm_enc("P5 11 5 15\n", r16, N, &len);
	decode_ok(b, len, 0, &img);
	assert_memory_equal(img.px, want, N);
	emb_image_free(&img);
	/* a sample above maxval */
	b[strlen("P5 11 5 15\n") + 3] = 16;
	decode_fails(b, len, -EINVAL, why, sizeof(why));
	assert_non_null(strstr(why, "maxval"));
	free(b);
	/* ASCII and bitmap variants: a clear "not supported" */
	static const char *const ascii[] = { "P1\n2 2\n0 1 1 0\n",
		"P2\n2 2\n255\n0 1 2 3\n", "P3\n1 1\n255\n1 2 3\n",
		"P4\n8 1\n\xaa" };
	for (size_t i = 0; i < 4; i++) {
		decode_fails(ascii[i], strlen(ascii[i]), -EINVAL, why, sizeof(why));
		assert_non_null(strstr(why, "not supported"));
	}
	static const char *const bad[] = { "P5\n11 5\n0\n", "P5\n11 5\n70000\n",
		"P5\n11 5 255", "P5 0 5 255\n", "P5 11 x 255\n", "P5 11 5 255x" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		decode_fails(bad[i], strlen(bad[i]), -EINVAL, why, sizeof(why));
	free(v);
	free(want);
	free(r16);
}

/* ---- strictness ---------------------------------------------------------- */

/* Every prefix of a valid file is refused with a reason. */
static void all_prefixes_fail(const unsigned char *buf, size_t len)
{
	char why[256];

	for (size_t n = 0; n < len; n++)
		decode_fails(buf, n, -EINVAL, why, sizeof(why));
}

static void test_truncated(void **state)
{
	unsigned char *g = gradient(24, 16, 3), *v = noise(24 * 16 * 4), *p;
	char why[256];
	size_t len;

	(void)state;
	p = jpeg_enc(g, 24, 16, JCS_RGB, 90, 0, &len);
	all_prefixes_fail(p, len);
	decode_fails(p, len - 2, -EINVAL, why, sizeof(why));
	assert_string_equal(why, "jpeg: Premature end of JPEG file");
	free(p);
	p = jpeg_enc(g, 24, 16, JCS_RGB, 90, 1, &len);         /* progressive */
	all_prefixes_fail(p, len);
	free(p);

	struct png_spec s = { .w = 24, .h = 16, .type = PNG_COLOR_TYPE_RGB,
			      .depth = 8 };
	p = png_enc(&s, v, &len);
	all_prefixes_fail(p, len);
	free(p);
	s.interlace = PNG_INTERLACE_ADAM7;
	s.type = PNG_COLOR_TYPE_RGBA;
	p = png_enc(&s, v, &len);
	all_prefixes_fail(p, len);
	free(p);

	len = WebPEncodeRGB(g, 24, 16, 24 * 3, 80, &p);
	all_prefixes_fail(p, len);
	WebPFree(p);
	len = WebPEncodeLosslessRGBA(v, 24, 16, 24 * 4, &p);
	all_prefixes_fail(p, len);
	WebPFree(p);

	p = bmp_enc(v, 24, 16, 24, NULL, 0, &len);  /* rows need no padding */
	all_prefixes_fail(p, len);
	free(p);
	p = pnm_enc("P6\n24 16\n255\n", v, 24 * 16 * 3, &len);
	all_prefixes_fail(p, len);
	free(p);
	free(g);
	free(v);
}

/* A libjpeg warning is an error; bytes after the end of a file are not. */
static void test_warnings_and_trailers(void **state)
{
	unsigned char *g = gradient(24, 16, 3), *p, *q;
	struct png_spec s = { .w = 24, .h = 16, .type = PNG_COLOR_TYPE_RGB,
			      .depth = 8 };
	struct emb_image img;
	char why[256];
	size_t len;

	(void)state;
	p = jpeg_enc(g, 24, 16, JCS_RGB, 90, 0, &len);
	q = malloc(len + 64);
	assert_non_null(q);
	/* stray bytes before EOI: "Corrupt JPEG data: N extraneous bytes
	 * before marker 0xd9", a warning libjpeg would decode past (the
	 * first few bytes vanish into the Huffman decoder's bit buffer) */
	memcpy(q, p, len - 2);
	memset(q + len - 2, 0x01, 62);
	memcpy(q + len + 60, "\xff\xd9", 2);
	decode_fails(q, len + 62, -EINVAL, why, sizeof(why));
	assert_non_null(strstr(why, "extraneous bytes"));
	/* garbage after EOI is ignored, as by every JPEG reader */
	memcpy(q, p, len);
	memcpy(q + len, "trailing bytes!!", 16);
	decode_ok(q, len + 16, 0, &img);
	assert_int_equal(img.w, 24);
	emb_image_free(&img);
	free(q);
	free(p);
	p = png_enc(&s, g, &len);
	q = malloc(len + 16);
	assert_non_null(q);
	memcpy(q, p, len);
	memcpy(q + len, "trailing bytes!!", 16);
	decode_ok(q, len + 16, 0, &img);
	assert_memory_equal(img.px, g, 24 * 16 * 3);
	emb_image_free(&img);
	free(q);
	free(p);
	free(g);
}

static void test_not_images(void **state)
{
	static const char text[] =
		"The quick brown fox jumps over the lazy dog.\nLine two.\n";
	unsigned char *v = noise(4096);
	struct emb_image img;
	char why[256];

	(void)state;
	decode_fails(text, sizeof(text) - 1, -EINVAL, why, sizeof(why));
	assert_string_equal(why, "not an image (unknown format)");
	decode_fails(v, 4096, -EINVAL, why, sizeof(why));
	assert_string_equal(why, "not an image (unknown format)");
	decode_fails("", 0, -EINVAL, why, sizeof(why));
	assert_non_null(strstr(why, "not an image"));
	decode_fails("BMW makes cars, not bitmaps.\n", 29, -EINVAL, why,
		     sizeof(why));
	assert_non_null(strstr(why, "not an image"));
	assert_int_equal(emb_decode(NULL, 0, 0, &img, why, sizeof(why)), -EINVAL);
	assert_null(img.px);
	/* why may be NULL, or too small for the whole reason */
	assert_int_equal(emb_decode(text, 10, 0, &img, NULL, 0), -EINVAL);
	assert_int_equal(emb_decode(text, 10, 0, &img, why, 5), -EINVAL);
	assert_string_equal(why, "not");     /* "not ", trailing blank trimmed */
	assert_int_equal(emb_decode(text, 10, -1, &img, why, sizeof(why)),
			 -EINVAL);
	free(v);
}

/* Headers claiming huge images are refused before any pixel is allocated. */
static void test_too_large(void **state)
{
	unsigned char *v = noise(64 * 3), *p, *g = gradient(16, 16, 3);
	char why[256];
	size_t len, at;

	(void)state;
	/* PNG: IHDR patched to 70000 x 70000, CRC fixed up */
	struct png_spec s = { .w = 8, .h = 8, .type = PNG_COLOR_TYPE_RGB,
			      .depth = 8 };
	p = png_enc(&s, v, &len);
	put32be(p + 16, 70000);
	put32be(p + 20, 70000);
	put32be(p + 29, crc32_png(p + 12, 17));
	decode_fails(p, len, -EFBIG, why, sizeof(why));
	assert_non_null(strstr(why, "70000x70000"));
	put32be(p + 16, 20000);         /* sides fine, 400M pixels too many */
	put32be(p + 20, 20000);
	put32be(p + 29, crc32_png(p + 12, 17));
	decode_fails(p, len, -EFBIG, why, sizeof(why));
	free(p);
	/* JPEG: SOF0 patched to 65535 x 65535 */
	p = jpeg_enc(g, 16, 16, JCS_RGB, 90, 0, &len);
	for (at = 2; at + 9 < len; at++)
		if (p[at] == 0xff && p[at + 1] == 0xc0)
			break;
	assert_true(at + 9 < len);
	p[at + 5] = p[at + 6] = p[at + 7] = p[at + 8] = 0xff;
	decode_fails(p, len, -EFBIG, why, sizeof(why));   /* libjpeg's own limit */
	p[at + 5] = p[at + 7] = 20000 >> 8;
	p[at + 6] = p[at + 8] = 20000 & 255;
	decode_fails(p, len, -EFBIG, why, sizeof(why));   /* ours */
	assert_non_null(strstr(why, "20000x20000"));
	free(p);
	/* BMP and PNM */
	p = bmp_enc(v, 8, 8, 24, NULL, 0, &len);
	put32le(p + 18, 70000);
	put32le(p + 22, 70000);
	decode_fails(p, len, -EFBIG, why, sizeof(why));
	put32le(p + 18, 8);
	put32le(p + 22, 0x80000000u);   /* INT_MIN height: no abs() overflow */
	decode_fails(p, len, -EFBIG, why, sizeof(why));
	free(p);
	decode_fails("P5 70000 70000 255\n", 19, -EFBIG, why, sizeof(why));
	decode_fails("P6 99999999999999 1 255\n", 24, -EFBIG, why, sizeof(why));
	free(v);
	free(g);
}

/* Random bit flips and byte stores in valid files: never a crash or a leak;
 * a failure always has a reason, a success a well-formed image. */
static void test_mutations(void **state)
{
	unsigned char *g = gradient(32, 24, 3), *v = noise(32 * 24 * 4);
	unsigned char *files[6];
	size_t lens[6];
	struct png_spec s = { .w = 32, .h = 24, .type = PNG_COLOR_TYPE_RGBA,
			      .depth = 8 };

	(void)state;
	files[0] = jpeg_enc(g, 32, 24, JCS_RGB, 85, 0, &lens[0]);
	files[1] = jpeg_enc(g, 32, 24, JCS_RGB, 85, 1, &lens[1]);
	files[2] = png_enc(&s, v, &lens[2]);
	lens[3] = WebPEncodeRGB(g, 32, 24, 32 * 3, 80, &files[3]);
	files[4] = bmp_enc(v, 32, 24, 32, NULL, 0, &lens[4]);
	lens[5] = WebPEncodeLosslessRGB(v, 32, 24, 32 * 3, &files[5]);
	for (int f = 0; f < 6; f++) {
		for (int it = 0; it < 300; it++) {
			unsigned char *b = exact(files[f], lens[f]);
			struct emb_image img;
			char why[256] = "";
			int rc, nm = 1 + (int)(rnd32() % 4);

			for (int k = 0; k < nm; k++) {
				size_t at = rnd32() % lens[f];

				if (rnd32() % 2)
					b[at] ^= (unsigned char)(1u << (rnd32() % 8));
				else
					b[at] = (unsigned char)rnd32();
			}
			rc = emb_decode(b, lens[f], (int)(rnd32() % 3) * 8, &img,
					why, sizeof(why));
			if (rc) {
				assert_true(rc == -EINVAL || rc == -EFBIG ||
					    rc == -ENOMEM);
				assert_true(why[0] != '\0');
				assert_null(img.px);
			} else {
				assert_true(img.w > 0 && img.h > 0);
				assert_true(img.ch == 1 || img.ch == 3);
				/* touch every byte: ASan checks the size */
				unsigned sum = 0;
				for (size_t i = 0; i < (size_t)img.w * img.h * img.ch; i++)
					sum += img.px[i];
				(void)sum;
			}
			emb_image_free(&img);
			free(b);
		}
	}
	free(files[0]);
	free(files[1]);
	free(files[2]);
	WebPFree(files[3]);
	free(files[4]);
	WebPFree(files[5]);
	free(g);
	free(v);
}

/* ---- threads ------------------------------------------------------------ */

struct tjob {
	const unsigned char *jpg, *png, *webp;
	size_t jlen, plen, wlen;
	int bad;                /* count of wrong results */
};

static void *thread_main(void *arg)
{
	struct tjob *t = arg;

	for (int it = 0; it < 150; it++) {
		struct emb_image img;
		char why[128];

		if (emb_decode(t->jpg, t->jlen, 32, &img, why, sizeof(why)) ||
		    img.w != 80 || img.h != 60)
			t->bad++;
		emb_image_free(&img);
		if (emb_decode(t->jpg, t->jlen / 2, 0, &img, why, sizeof(why)) !=
		    -EINVAL || strcmp(why, "jpeg: Premature end of JPEG file"))
			t->bad++;
		if (emb_decode(t->png, t->plen, 0, &img, why, sizeof(why)) ||
		    img.ch != 3)
			t->bad++;
		emb_image_free(&img);
		if (emb_decode(t->png, t->plen - 5, 0, &img, why, sizeof(why)) !=
		    -EINVAL)
			t->bad++;
		if (emb_decode(t->webp, t->wlen, 16, &img, why, sizeof(why)) ||
		    img.h != 16)
			t->bad++;
		emb_image_free(&img);
	}
	return NULL;
}

static void test_threads(void **state)
{
	enum { T = 4 };
	unsigned char *g = gradient(640, 480, 3), *v = noise(40 * 30 * 4);
	unsigned char *jpg, *png, *webp;
	size_t jlen, plen, wlen;
	struct png_spec s = { .w = 40, .h = 30, .type = PNG_COLOR_TYPE_RGBA,
			      .depth = 8 };
	pthread_t th[T];
	struct tjob job[T];

	(void)state;
	jpg = jpeg_enc(g, 640, 480, JCS_RGB, 85, 0, &jlen);
	png = png_enc(&s, v, &plen);
	wlen = WebPEncodeRGB(g, 64, 48, 640 * 3, 80, &webp);
	assert_true(wlen > 0);
	for (int i = 0; i < T; i++) {
		job[i] = (struct tjob){ jpg, png, webp, jlen, plen, wlen, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, &job[i]), 0);
	}
	for (int i = 0; i < T; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(job[i].bad, 0);
	}
	free(jpg);
	free(png);
	WebPFree(webp);
	free(g);
	free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_jpeg_rgb_grey),
		cmocka_unit_test(test_jpeg_cmyk),
		cmocka_unit_test(test_jpeg_scaled),
		cmocka_unit_test(test_png_grey),
		cmocka_unit_test(test_png_colour),
		cmocka_unit_test(test_png_crc),
		cmocka_unit_test(test_webp),
		cmocka_unit_test(test_bmp),
		cmocka_unit_test(test_pnm),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_warnings_and_trailers),
		cmocka_unit_test(test_not_images),
		cmocka_unit_test(test_too_large),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_threads),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
