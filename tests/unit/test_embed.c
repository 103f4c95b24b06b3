/*
 * test_embed.c — the built-in embedder's features and projection
 * (embed/features.c, embed/pca.c) on images the tests draw: dimensions and
 * cache keys, bit-for-bit determinism, what each block responds to (a flat
 * image has no edges; vertical stripes put all edge energy in one
 * orientation; a picture and its 2× enlargement agree), the colour option
 * (two images that differ only in hue at equal luminance: equal with
 * color=off, far apart with color=on), bad input, and PCA against data
 * whose principal axes are known. The decoders have their own test
 * (test_decode.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "embed/features.h"

#define SHAPE 256          /* thumbnail block: floats [0, 256) */
#define EDGES 144          /* orientation block: [256, 400) */

static uint64_t rng = 88172645463325252ULL;

static uint64_t next(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double unif(void)
{
	return (double)(next() >> 11) / 9007199254740992.0;
}

static struct emb_image image(int w, int h, int ch)
{
	struct emb_image im = { w, h, ch, calloc((size_t)w * h * ch, 1) };

	assert_non_null(im.px);
	return im;
}

static void put(struct emb_image *im, int x, int y, const unsigned char *c)
{
	memcpy(im->px + ((size_t)y * im->w + x) * im->ch, c, (size_t)im->ch);
}

static double dist(const float *a, const float *b, size_t n)
{
	double s = 0;

	for (size_t i = 0; i < n; i++)
		s += ((double)a[i] - b[i]) * ((double)a[i] - b[i]);
	return sqrt(s);
}

static void test_dims_and_kinds(void **state)
{
	(void)state;
	assert_int_equal(emb_feature_dim(0), EMB_FEAT_GRAY);
	assert_int_equal(emb_feature_dim(1), EMB_FEAT_COLOR);
	assert_int_equal(EMB_FEAT_GRAY, SHAPE + EDGES);
	assert_string_not_equal(emb_feature_kind(0), emb_feature_kind(1));
}

static void test_deterministic(void **state)
{
	struct emb_image im = image(97, 61, 3);
	float a[EMB_FEAT_COLOR], b[EMB_FEAT_COLOR];

	(void)state;
	for (size_t i = 0; i < (size_t)97 * 61 * 3; i++)
		im.px[i] = (unsigned char)(next() & 0xff);
	assert_int_equal(emb_features(&im, 1, a), 0);
	memset(b, 0x55, sizeof(b));
	assert_int_equal(emb_features(&im, 1, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	for (size_t i = 0; i < EMB_FEAT_COLOR; i++)
		assert_true(isfinite(a[i]));
	emb_image_free(&im);
}

static void test_flat_image(void **state)
{
	struct emb_image im = image(50, 40, 1);
	float f[EMB_FEAT_GRAY];

	(void)state;
	memset(im.px, 200, 50 * 40);
	assert_int_equal(emb_features(&im, 0, f), 0);
	for (int i = 0; i < SHAPE; i++)   /* uniform, L2-normalised: 1/16 */
		assert_float_equal(f[i], 1.0 / 16, 1e-5);
	for (int i = SHAPE; i < SHAPE + EDGES; i++)
		assert_float_equal(f[i], 0, 1e-9);
	emb_image_free(&im);
}

static void test_stripes_one_orientation(void **state)
{
	struct emb_image im = image(64, 64, 1);
	float f[EMB_FEAT_GRAY];
	double bin0 = 0, all = 0;

	(void)state;
	for (int y = 0; y < 64; y++)
		for (int x = 0; x < 64; x++)
			im.px[y * 64 + x] = (x / 8) % 2 ? 220 : 30;
	assert_int_equal(emb_features(&im, 0, f), 0);
	for (int c = 0; c < 16; c++)
		for (int k = 0; k < 9; k++) {
			double v = f[SHAPE + c * 9 + k];
			assert_true(v >= 0);
			all += v;
			if (k == 0)
				bin0 += v;
		}
	/* gradients are horizontal (angle 0 or π → bin 0) */
	assert_true(all > 0.5);
	assert_true(bin0 > 0.999 * all);
	emb_image_free(&im);
}

static void test_scale_invariance(void **state)
{
	struct emb_image small = image(32, 32, 3), big = image(64, 64, 3);
	float a[EMB_FEAT_COLOR], b[EMB_FEAT_COLOR];

	(void)state;
	for (int y = 0; y < 32; y++)
		for (int x = 0; x < 32; x++) {
			unsigned char c[3] = { (unsigned char)(next() & 0xff),
					       (unsigned char)(x * 8),
					       (unsigned char)(y * 8) };
			put(&small, x, y, c);
			for (int d = 0; d < 4; d++)
				put(&big, 2 * x + d % 2, 2 * y + d / 2, c);
		}
	assert_int_equal(emb_features(&small, 1, a), 0);
	assert_int_equal(emb_features(&big, 1, b), 0);
	assert_true(dist(a, b, EMB_FEAT_COLOR) < 1e-4);
	emb_image_free(&small);
	emb_image_free(&big);
}

/* Leaves: the same texture in green and in brown at equal luminance
 * (299r + 587g + 114b equal for each pair of colours). */
static void leaves(struct emb_image *green, struct emb_image *brown)
{
	const unsigned char g1[3] = { 0, 100, 8 }, b1[3] = { 172, 12, 10 };
	const unsigned char g2[3] = { 0, 100, 1 }, b2[3] = { 187, 3, 10 };
	uint64_t save = rng;

	for (int y = 0; y < 48; y++)
		for (int x = 0; x < 48; x++) {
			int dark = ((x / 6 + y / 4) % 3 == 0) || (next() & 7) == 0;
			put(green, x, y, dark ? g2 : g1);
			put(brown, x, y, dark ? b2 : b1);
		}
	rng = save;
}

static void test_color_option(void **state)
{
	struct emb_image g = image(48, 48, 3), b = image(48, 48, 3);
	float fg[EMB_FEAT_COLOR], fb[EMB_FEAT_COLOR];

	(void)state;
	leaves(&g, &b);
	assert_int_equal(emb_features(&g, 0, fg), 0);
	assert_int_equal(emb_features(&b, 0, fb), 0);
	double off = dist(fg, fb, EMB_FEAT_GRAY);
	assert_true(off < 1e-4);                /* colour-blind: the same */
	assert_int_equal(emb_features(&g, 1, fg), 0);
	assert_int_equal(emb_features(&b, 1, fb), 0);
	assert_true(dist(fg, fb, EMB_FEAT_GRAY) < 1e-4);  /* grey blocks */
	double on = dist(fg + EMB_FEAT_GRAY, fb + EMB_FEAT_GRAY,
			 EMB_FEAT_COLOR - EMB_FEAT_GRAY);
	assert_true(on > 0.5);                  /* colour tells them apart */
	emb_image_free(&g);
	emb_image_free(&b);
}

static void test_grey_image_no_colour(void **state)
{
	struct emb_image im = image(40, 30, 1);
	float f0[EMB_FEAT_GRAY], f1[EMB_FEAT_COLOR];

	(void)state;
	for (size_t i = 0; i < 40 * 30; i++)
		im.px[i] = (unsigned char)(next() & 0xff);
	assert_int_equal(emb_features(&im, 0, f0), 0);
	assert_int_equal(emb_features(&im, 1, f1), 0);
	assert_memory_equal(f0, f1, sizeof(f0));
	for (int i = EMB_FEAT_GRAY; i < EMB_FEAT_COLOR; i++)
		assert_float_equal(f1[i], 0, 0);
	emb_image_free(&im);
}

static void test_bad_images(void **state)
{
	struct emb_image im = image(4, 4, 1);
	float f[EMB_FEAT_COLOR];

	(void)state;
	im.ch = 2;
	assert_int_equal(emb_features(&im, 1, f), -EINVAL);
	im.ch = 1;
	im.w = 0;
	assert_int_equal(emb_features(&im, 1, f), -EINVAL);
	im.w = 4;
	assert_int_equal(emb_features(NULL, 1, f), -EINVAL);
	unsigned char *px = im.px;
	im.px = NULL;
	assert_int_equal(emb_features(&im, 1, f), -EINVAL);
	im.px = px;
	/* one pixel is an image */
	im.w = im.h = 1;
	assert_int_equal(emb_features(&im, 1, f), 0);
	emb_image_free(&im);
}

/* 2000 points in 6-D: variance 100 along u = (1,1,0,0,0,0)/√2, 4 along
 * v = (0,0,0,1,0,0), 0.01 elsewhere; mean (5, -3, 1, 0, 2, 7). */
static float *known_axes(size_t n)
{
	const float mean[6] = { 5, -3, 1, 0, 2, 7 };
	float *x = malloc(n * 6 * sizeof(float));

	assert_non_null(x);
	for (size_t i = 0; i < n; i++) {
		double a = (unif() - 0.5) * sqrt(12.0) * 10;
		double b = (unif() - 0.5) * sqrt(12.0) * 2;
		for (int j = 0; j < 6; j++)
			x[i * 6 + j] = mean[j] + (float)((unif() - 0.5) *
							  sqrt(12.0) * 0.1);
		x[i * 6 + 0] += (float)(a / sqrt(2.0));
		x[i * 6 + 1] += (float)(a / sqrt(2.0));
		x[i * 6 + 3] += (float)b;
	}
	return x;
}

static void test_pca_axes(void **state)
{
	const size_t n = 2000;
	float *x = known_axes(n), *y = malloc(n * 2 * sizeof(float));
	struct emb_pca p, q;

	(void)state;
	assert_non_null(y);
	assert_int_equal(emb_pca_fit(x, n, 6, 2, &p), 0);
	assert_int_equal(p.f, 6);
	assert_int_equal(p.dim, 2);
	/* component 0 along u, 1 along v; the largest entry positive */
	double n0 = 0, n1 = 0;
	for (int j = 0; j < 6; j++) {
		n0 += (double)p.basis[j * 2] * p.basis[j * 2];
		n1 += (double)p.basis[j * 2 + 1] * p.basis[j * 2 + 1];
	}
	double c0 = (p.basis[0] + p.basis[2]) / sqrt(2.0) / sqrt(n0);
	double c1 = p.basis[3 * 2 + 1] / sqrt(n1);
	assert_true(c0 > 0.999);
	assert_true(c1 > 0.999);
	assert_int_equal(emb_pca_apply(&p, x, n, y), 0);
	/* centred, and half-whitened: variance sqrt(eigenvalue) → 10 and 2 */
	double m0 = 0, m1 = 0, v0 = 0, v1 = 0;
	for (size_t i = 0; i < n; i++) {
		m0 += y[i * 2];
		m1 += y[i * 2 + 1];
	}
	m0 /= n;
	m1 /= n;
	for (size_t i = 0; i < n; i++) {
		v0 += (y[i * 2] - m0) * (y[i * 2] - m0);
		v1 += (y[i * 2 + 1] - m1) * (y[i * 2 + 1] - m1);
	}
	v0 /= n;
	v1 /= n;
	assert_true(fabs(m0) < 1e-3 && fabs(m1) < 1e-3);
	assert_true(fabs(v0 / v1 - 5.0) < 0.5);
	/* refit: the same bits */
	assert_int_equal(emb_pca_fit(x, n, 6, 2, &q), 0);
	assert_memory_equal(p.basis, q.basis, 12 * sizeof(float));
	assert_memory_equal(p.mean, q.mean, 6 * sizeof(float));
	emb_pca_free(&p);
	emb_pca_free(&q);
	emb_pca_free(&q);                       /* idempotent */
	free(x);
	free(y);
}

static void test_pca_bad_args(void **state)
{
	float x[12] = { 0 };
	struct emb_pca p;

	(void)state;
	assert_int_equal(emb_pca_fit(x, 2, 6, 7, &p), -EINVAL);  /* dim > f */
	assert_int_equal(emb_pca_fit(x, 2, 6, 3, &p), -EINVAL);  /* dim > n */
	assert_int_equal(emb_pca_fit(x, 2, 6, 0, &p), -EINVAL);
	assert_int_equal(emb_pca_fit(NULL, 2, 6, 1, &p), -EINVAL);
	assert_null(p.basis);
	/* all rows equal: no variance, still a (zero) projection */
	assert_int_equal(emb_pca_fit(x, 2, 6, 2, &p), 0);
	float y[4];
	assert_int_equal(emb_pca_apply(&p, x, 2, y), 0);
	for (int i = 0; i < 4; i++)
		assert_float_equal(y[i], 0, 1e-6);
	emb_pca_free(&p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_dims_and_kinds),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_flat_image),
		cmocka_unit_test(test_stripes_one_orientation),
		cmocka_unit_test(test_scale_invariance),
		cmocka_unit_test(test_color_option),
		cmocka_unit_test(test_grey_image_no_colour),
		cmocka_unit_test(test_bad_images),
		cmocka_unit_test(test_pca_axes),
		cmocka_unit_test(test_pca_bad_args),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
