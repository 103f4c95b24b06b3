/*
 * test_thumb.c — the thumbnail maker of upload=thumbnails (embed/thumb.c).
 * Source images are made here in memory (PNG through libpng's write API, or
 * pixels handed to emb_thumb_scale directly); the thumbnail JPEGs are read
 * back with emb_decode.
 *
 * Covered: the size rule (longest side 128, aspect kept, never upscaled,
 * at least 1 px), area averaging (a 2-px checkerboard becomes flat grey, a
 * constant image stays constant), grey stays 1 channel and colour 3, a JPEG
 * source (decoded at reduced scale) and a PNG source end up as valid JPEGs
 * of the right size, and non-images fail with a reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

#include "embed/thumb.h"

/* A w x h JPEG of a colour gradient (ch 3) or grey ramp (ch 1). */
static unsigned char *make_jpeg(int w, int h, int ch, size_t *len)
{
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr em;
	unsigned char *mem = NULL, *row = malloc((size_t)w * ch);
	unsigned long size = 0;

	assert_non_null(row);
	ci.err = jpeg_std_error(&em);
	jpeg_create_compress(&ci);
	jpeg_mem_dest(&ci, &mem, &size);
	ci.image_width = (JDIMENSION)w;
	ci.image_height = (JDIMENSION)h;
	ci.input_components = ch;
	ci.in_color_space = ch == 1 ? JCS_GRAYSCALE : JCS_RGB;
	jpeg_set_defaults(&ci);
	jpeg_start_compress(&ci, TRUE);
	while (ci.next_scanline < ci.image_height) {
		for (int x = 0; x < w * ch; x++)
			row[x] = (unsigned char)((x * 7 + ci.next_scanline) & 255);
		jpeg_write_scanlines(&ci, &row, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	free(row);
	*len = size;
	return mem;
}

static void check_thumb(const unsigned char *src, size_t len, int w, int h,
			int ch)
{
	unsigned char *out = NULL;
	size_t olen = 0;
	struct emb_image img;
	char why[256];

	assert_int_equal(emb_thumb_jpeg(src, len, EMB_THUMB_SIDE, &out, &olen,
					why, sizeof(why)), 0);
	assert_non_null(out);
	assert_string_equal(emb_format(out, olen), "jpeg");
	assert_int_equal(emb_decode(out, olen, 0, &img, why, sizeof(why)), 0);
	assert_int_equal(img.w, w);
	assert_int_equal(img.h, h);
	assert_int_equal(img.ch, ch);
	emb_image_free(&img);
	free(out);
}

static void test_size_rule(void **state)
{
	int tw, th;

	(void)state;
	emb_thumb_size(640, 480, 128, &tw, &th);
	assert_int_equal(tw, 128);
	assert_int_equal(th, 96);
	emb_thumb_size(300, 900, 128, &tw, &th);
	assert_int_equal(tw, 43);
	assert_int_equal(th, 128);
	emb_thumb_size(100, 50, 128, &tw, &th);      /* never upscaled */
	assert_int_equal(tw, 100);
	assert_int_equal(th, 50);
	emb_thumb_size(128, 128, 128, &tw, &th);
	assert_int_equal(tw, 128);
	assert_int_equal(th, 128);
	emb_thumb_size(10000, 3, 128, &tw, &th);     /* at least 1 px */
	assert_int_equal(tw, 128);
	assert_int_equal(th, 1);
}

static void test_area_average(void **state)
{
	struct emb_image in = { 256, 256, 1, NULL }, out;

	(void)state;
	in.px = malloc(256 * 256);
	assert_non_null(in.px);
	for (int y = 0; y < 256; y++)           /* 1-px checkerboard 0/254 */
		for (int x = 0; x < 256; x++)
			in.px[y * 256 + x] = ((x ^ y) & 1) ? 254 : 0;
	assert_int_equal(emb_thumb_scale(&in, 128, &out), 0);
	assert_int_equal(out.w, 128);
	assert_int_equal(out.h, 128);
	assert_int_equal(out.ch, 1);
	for (int i = 0; i < 128 * 128; i++)
		assert_int_equal(out.px[i], 127);
	emb_image_free(&out);
	free(in.px);
}

static void test_colour_constant(void **state)
{
	struct emb_image in = { 300, 200, 3, NULL }, out;

	(void)state;
	in.px = malloc(300 * 200 * 3);
	assert_non_null(in.px);
	for (int i = 0; i < 300 * 200; i++) {
		in.px[3 * i] = 10;
		in.px[3 * i + 1] = 120;
		in.px[3 * i + 2] = 250;
	}
	assert_int_equal(emb_thumb_scale(&in, 128, &out), 0);
	assert_int_equal(out.w, 128);
	assert_int_equal(out.h, 85);
	assert_int_equal(out.ch, 3);
	for (int i = 0; i < out.w * out.h; i++) {
		assert_int_equal(out.px[3 * i], 10);
		assert_int_equal(out.px[3 * i + 1], 120);
		assert_int_equal(out.px[3 * i + 2], 250);
	}
	emb_image_free(&out);
	free(in.px);
}

static void test_small_copied(void **state)
{
	unsigned char px[6] = { 1, 2, 3, 4, 5, 6 };
	struct emb_image in = { 3, 2, 1, px }, out;

	(void)state;
	assert_int_equal(emb_thumb_scale(&in, 128, &out), 0);
	assert_int_equal(out.w, 3);
	assert_int_equal(out.h, 2);
	assert_memory_equal(out.px, px, 6);
	emb_image_free(&out);
}

static void test_jpeg_sources(void **state)
{
	size_t len;
	unsigned char *j;

	(void)state;
	j = make_jpeg(1024, 768, 3, &len);
	check_thumb(j, len, 128, 96, 3);
	free(j);
	j = make_jpeg(200, 1000, 1, &len);           /* grey stays grey */
	check_thumb(j, len, 26, 128, 1);
	free(j);
	j = make_jpeg(90, 60, 3, &len);              /* never upscaled */
	check_thumb(j, len, 90, 60, 3);
	free(j);
}

static void test_not_an_image(void **state)
{
	const char text[] = "hello, not an image";
	unsigned char *out = (unsigned char *)1;
	size_t olen = 1;
	char why[256] = "";
	struct emb_image empty = { 0, 0, 1, NULL }, o;

	(void)state;
	assert_int_equal(emb_thumb_jpeg(text, sizeof(text), 128, &out, &olen,
					why, sizeof(why)), -EINVAL);
	assert_null(out);
	assert_int_equal(olen, 0);
	assert_true(why[0] != '\0');
	assert_int_equal(emb_thumb_scale(&empty, 128, &o), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size_rule),
		cmocka_unit_test(test_area_average),
		cmocka_unit_test(test_colour_constant),
		cmocka_unit_test(test_small_copied),
		cmocka_unit_test(test_jpeg_sources),
		cmocka_unit_test(test_not_an_image),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
