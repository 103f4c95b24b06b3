/*
 * test_imgstats.c — the built-in image metadata (embed/imgstats.c) against
 * values computed by hand on tiny images: brightness and contrast of a grey
 * checker, the variance of the Laplacian over a 4x3 image's two interior
 * pixels, Hasler-Suesstrunk colourfulness of a red and a blue pixel, and 0
 * sharpness / colourfulness where there is no interior / no colour.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "embed/imgstats.h"

#define NEAR(a, b) assert_true(fabs((a) - (b)) < 1e-6)

/* 2x2 grey 0 255 / 0 255: mean 0.5, std 0.5, no interior. */
static void test_grey_checker(void **state)
{
	unsigned char px[] = { 0, 255, 0, 255 };
	struct emb_image im = { 2, 2, 1, px };
	struct emb_imgstats s;

	(void)state;
	emb_imgstats(&im, &s);
	NEAR(s.v[0], 2);
	NEAR(s.v[1], 2);
	NEAR(s.v[2], 0.5);
	NEAR(s.v[3], 0.5);
	NEAR(s.v[4], 0);
	NEAR(s.v[5], 0);
}

/* 4x3 grey, one white pixel at (1,1): interior (1,1) and (2,1); their
 * Laplacians are -4 and +1, mean -1.5, variance 6.25. Mean luma 1/12,
 * std sqrt(1/12 - 1/144) = sqrt(11)/12. */
static void test_laplacian(void **state)
{
	unsigned char px[12] = { 0 };
	struct emb_image im = { 4, 3, 1, px };
	struct emb_imgstats s;

	(void)state;
	px[1 * 4 + 1] = 255;
	emb_imgstats(&im, &s);
	NEAR(s.v[2], 1.0 / 12);
	NEAR(s.v[3], sqrt(11.0) / 12);
	NEAR(s.v[4], 6.25);
}

/* A red and a blue pixel: rg = 1, 0 (mean 0.5, var 0.25); yb = 0.5, -1
 * (mean -0.25, var 0.5625); colourfulness sqrt(0.8125) + 0.3 sqrt(0.3125)
 * = 1.069093; luma 0.299 and 0.114, mean 0.2065. */
static void test_colourfulness(void **state)
{
	unsigned char px[] = { 255, 0, 0, 0, 0, 255 };
	struct emb_image im = { 2, 1, 3, px };
	struct emb_imgstats s;

	(void)state;
	emb_imgstats(&im, &s);
	NEAR(s.v[2], 0.2065);
	NEAR(s.v[3], (0.299 - 0.114) / 2);
	NEAR(s.v[4], 0);
	NEAR(s.v[5], sqrt(0.8125) + 0.3 * sqrt(0.3125));
	assert_true(fabs(s.v[5] - 1.069093) < 1e-6);
	/* a grey RGB image has none */
	unsigned char g[] = { 9, 9, 9, 200, 200, 200 };
	struct emb_image gi = { 2, 1, 3, g };
	emb_imgstats(&gi, &s);
	NEAR(s.v[5], 0);
	assert_string_equal(emb_imgstats_names[4], "sharpness");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_grey_checker),
		cmocka_unit_test(test_laplacian),
		cmocka_unit_test(test_colourfulness),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
