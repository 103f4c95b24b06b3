/*
 * features.c — one image → its raw feature vector (see features.h for the
 * blocks and why). Works on EMB_SIDE² float planes; the costly part of an
 * image is decoding it, not this.
 *
 * Resampling is an area average with fractional coverage, separable: each
 * output pixel is the mean of the source rectangle it covers, so shrinking
 * never aliases and enlarging (small images) interpolates piecewise.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "embed/features.h"

#define S EMB_SIDE
#define THUMB 16
#define CELLS 4
#define BINS 9
#define HUES 8
#define W_SHAPE 1.0f
#define W_EDGES 1.0f
#define W_COLOR 2.0f

_Static_assert(THUMB * THUMB + CELLS * CELLS * BINS == EMB_FEAT_GRAY,
	       "grey blocks");
_Static_assert(EMB_FEAT_GRAY + 2 * CELLS * CELLS + HUES == EMB_FEAT_COLOR,
	       "colour block");

size_t emb_feature_dim(int color)
{
	return color ? EMB_FEAT_COLOR : EMB_FEAT_GRAY;
}

const char *emb_feature_kind(int color)
{
	return color ? "v2 s32 t16 hog4x9 color" : "v2 s32 t16 hog4x9 grey";
}

/* Area weights mapping n source samples onto S outputs: output o covers
 * [o·n/S, (o+1)·n/S); lo[o] is its first source index, w[o][k] the share
 * of source lo[o]+k (k < span). */
struct axis {
	int lo[S], cnt[S], span;   /* cnt[o]: sources of output o (<= span) */
	float *w;                  /* S × span */
};

static int axis_init(struct axis *a, int n)
{
	a->span = n / S + 2;
	a->w = calloc((size_t)S * (size_t)a->span, sizeof(float));
	if (!a->w)
		return -ENOMEM;
	for (int o = 0; o < S; o++) {
		double x0 = (double)o * n / S, x1 = (double)(o + 1) * n / S;
		int first = (int)floor(x0);
		double tot = 0;
		a->lo[o] = first;
		a->cnt[o] = 0;
		for (int k = 0; k < a->span; k++) {
			int j = first + k;
			if (j >= n)
				break;
			a->cnt[o] = k + 1;
			double c = fmin(x1, j + 1.0) - fmax(x0, (double)j);
			if (c > 0) {
				a->w[o * a->span + k] = (float)c;
				tot += c;
			}
		}
		for (int k = 0; k < a->span; k++)
			a->w[o * a->span + k] = (float)(a->w[o * a->span + k] / tot);
	}
	return 0;
}

/* Resamples channel c of img into out[S*S], values 0..1. tmp: h × S. */
static void resample(const struct emb_image *img, int c, const struct axis *ax,
		     const struct axis *ay, float *tmp, float *out)
{
	const unsigned char *px = img->px;
	size_t stride = (size_t)img->w * (size_t)img->ch;

	for (int y = 0; y < img->h; y++) {
		const unsigned char *row = px + (size_t)y * stride + c;
		for (int o = 0; o < S; o++) {
			const float *w = ax->w + o * ax->span;
			const unsigned char *src = row + (size_t)ax->lo[o] * img->ch;
			float acc = 0;
			for (int k = 0; k < ax->cnt[o]; k++)
				acc += w[k] * src[(size_t)k * img->ch];
			tmp[y * S + o] = acc;
		}
	}
	for (int o = 0; o < S; o++) {
		const float *w = ay->w + o * ay->span;
		const float *src = tmp + ay->lo[o] * S;
		float acc[S] = { 0 };
		for (int k = 0; k < ay->cnt[o]; k++)   /* row-wise: vectorises */
			for (int x = 0; x < S; x++)
				acc[x] += w[k] * src[k * S + x];
		for (int x = 0; x < S; x++)
			out[o * S + x] = acc[x] * (1.0f / 255.0f);
	}
}

static void normalise(float *v, size_t n, float weight)
{
	double ss = 0;

	for (size_t i = 0; i < n; i++)
		ss += (double)v[i] * v[i];
	float k = weight / (float)(sqrt(ss) + 1e-6);
	for (size_t i = 0; i < n; i++)
		v[i] *= k;
}

/* 16×16 thumbnail: 2×2 means of the luminance plane. */
static void shape_block(const float *lum, float *out)
{
	for (int y = 0; y < THUMB; y++)
		for (int x = 0; x < THUMB; x++) {
			const float *p = lum + (2 * y) * S + 2 * x;
			out[y * THUMB + x] = 0.25f * (p[0] + p[1] + p[S] + p[S + 1]);
		}
	normalise(out, THUMB * THUMB, W_SHAPE);
}

/* atan2 for orientation binning: an odd minimax polynomial for atan on
 * [0, 1] (max error about 1e-5 rad, far below a 20° bin), with the octant
 * folded by hand. Ours rather than libm's: 6× cheaper, and the same bits
 * on every machine, so cached features never depend on the libm. */
static float orient(float y, float x)
{
	float ax = fabsf(x), ay = fabsf(y);
	float mn = ax < ay ? ax : ay, mx = ax < ay ? ay : ax;
	float t = mn / mx, t2 = t * t;
	float a = t * (0.99997726f + t2 * (-0.33262347f + t2 * (0.19354346f +
		  t2 * (-0.11643287f + t2 * (0.05265332f + t2 *
		  -0.01172120f)))));
	if (ay > ax)
		a = (float)M_PI_2 - a;
	if (x < 0)
		a = (float)M_PI - a;
	return y < 0 ? -a : a;
}

/* Orientation histograms: central differences (0 on the border), unsigned
 * angle in [0, π) spread linearly over the two nearest of BINS bins, per
 * cell of (S/CELLS)² pixels, weighted by gradient magnitude. */
static void edge_block(const float *lum, float *out)
{
	const int cell = S / CELLS;

	memset(out, 0, CELLS * CELLS * BINS * sizeof(float));
	for (int y = 1; y < S - 1; y++)
		for (int x = 1; x < S - 1; x++) {
			float gx = lum[y * S + x + 1] - lum[y * S + x - 1];
			float gy = lum[(y + 1) * S + x] - lum[(y - 1) * S + x];
			float mag = sqrtf(gx * gx + gy * gy);
			if (mag == 0)
				continue;
			float ang = orient(gy, gx);
			if (ang < 0)
				ang += (float)M_PI;
			float pos = ang * (float)(BINS / M_PI);
			int b0 = (int)pos;
			float w1 = pos - (float)b0;
			b0 %= BINS;
			int b1 = (b0 + 1) % BINS;
			float *h = out + ((y / cell) * CELLS + x / cell) * BINS;
			h[b0] += mag * (1 - w1);
			h[b1] += mag * w1;
		}
	normalise(out, CELLS * CELLS * BINS, W_EDGES);
}

/* Opponent colour on a 4×4 grid, and hue weighted by chroma. */
static void color_block(const float *r, const float *g, const float *b,
			float *out)
{
	const int cell = S / CELLS;
	const float k1 = 0.70710678f, k2 = 0.40824829f;
	float *grid = out, *hue = out + 2 * CELLS * CELLS;

	memset(out, 0, (2 * CELLS * CELLS + HUES) * sizeof(float));
	for (int y = 0; y < S; y++)
		for (int x = 0; x < S; x++) {
			int i = y * S + x, c = (y / cell) * CELLS + x / cell;
			float o1 = (r[i] - g[i]) * k1;
			float o2 = (r[i] + g[i] - 2 * b[i]) * k2;
			grid[2 * c] += o1;
			grid[2 * c + 1] += o2;
			float chroma = sqrtf(o1 * o1 + o2 * o2);
			if (chroma > 0) {
				float a = orient(o2, o1) + (float)M_PI;
				int hb = (int)(a * (float)(HUES / (2 * M_PI)));
				hue[hb < HUES ? hb : HUES - 1] += chroma;
			}
		}
	for (int c = 0; c < 2 * CELLS * CELLS; c++)
		grid[c] *= W_COLOR / (float)(cell * cell);
	for (int h = 0; h < HUES; h++)
		hue[h] *= W_COLOR / (float)(S * S);
}

int emb_features(const struct emb_image *img, int color, float *out)
{
	struct axis ax = { 0 }, ay = { 0 };
	float *buf;
	int rc;

	if (!img || !img->px || img->w < 1 || img->h < 1 ||
	    (img->ch != 1 && img->ch != 3))
		return -EINVAL;
	/* tmp (h × S), then planes r, g, b, lum (S × S each) */
	buf = malloc(((size_t)img->h * S + 4 * S * S) * sizeof(float));
	if (!buf)
		return -ENOMEM;
	rc = axis_init(&ax, img->w);
	if (!rc)
		rc = axis_init(&ay, img->h);
	if (rc)
		goto out;
	float *tmp = buf, *r = buf + (size_t)img->h * S, *g = r + S * S,
	      *b = g + S * S, *lum = b + S * S;
	if (img->ch == 1) {
		resample(img, 0, &ax, &ay, tmp, lum);
	} else {
		resample(img, 0, &ax, &ay, tmp, r);
		resample(img, 1, &ax, &ay, tmp, g);
		resample(img, 2, &ax, &ay, tmp, b);
		for (int i = 0; i < S * S; i++)
			lum[i] = 0.299f * r[i] + 0.587f * g[i] + 0.114f * b[i];
	}
	shape_block(lum, out);
	edge_block(lum, out + THUMB * THUMB);
	if (color) {
		float *cb = out + EMB_FEAT_GRAY;
		if (img->ch == 3)
			color_block(r, g, b, cb);
		else
			memset(cb, 0, (EMB_FEAT_COLOR - EMB_FEAT_GRAY) *
			       sizeof(float));
	}
out:
	free(ax.w);
	free(ay.w);
	free(buf);
	return rc;
}
