/*
 * imgstats.c — see imgstats.h. One pass for the means and variances (sums
 * in double, which is exact enough for 100 megapixels of 8-bit values), and
 * one over the interior for the Laplacian; luma is computed on the fly, so
 * nothing beyond the decoded image is allocated.
 */
#include <math.h>

#include "embed/imgstats.h"

const char *const emb_imgstats_names[EMB_IMGSTATS_N] = {
	"width", "height", "brightness", "contrast", "sharpness",
	"colourfulness"
};

static double luma(const struct emb_image *im, long i)
{
	const unsigned char *p = im->px + i * im->ch;

	if (im->ch == 1)
		return p[0] / 255.0;
	return (0.299 * p[0] + 0.587 * p[1] + 0.114 * p[2]) / 255.0;
}

void emb_imgstats(const struct emb_image *im, struct emb_imgstats *out)
{
	long n = (long)im->w * im->h;
	double s = 0, s2 = 0, rg = 0, rg2 = 0, yb = 0, yb2 = 0;

	for (long i = 0; i < n; i++) {
		double y = luma(im, i);
		s += y;
		s2 += y * y;
		if (im->ch == 3) {
			const unsigned char *p = im->px + i * 3;
			double r = p[0] / 255.0, g = p[1] / 255.0,
			       b = p[2] / 255.0;
			double a = r - g, c = (r + g) / 2 - b;
			rg += a;
			rg2 += a * a;
			yb += c;
			yb2 += c * c;
		}
	}
	double mean = s / (double)n, var = s2 / (double)n - mean * mean;
	out->v[0] = im->w;
	out->v[1] = im->h;
	out->v[2] = mean;
	out->v[3] = sqrt(var > 0 ? var : 0);
	out->v[5] = 0;
	if (im->ch == 3) {
		double mrg = rg / (double)n, myb = yb / (double)n;
		double vrg = rg2 / (double)n - mrg * mrg;
		double vyb = yb2 / (double)n - myb * myb;
		if (vrg < 0)
			vrg = 0;
		if (vyb < 0)
			vyb = 0;
		out->v[5] = sqrt(vrg + vyb) + 0.3 * sqrt(mrg * mrg + myb * myb);
	}
	double ls = 0, ls2 = 0;
	long m = 0;
	for (int y = 1; y + 1 < im->h; y++)
		for (int x = 1; x + 1 < im->w; x++) {
			long i = (long)y * im->w + x;
			double l = luma(im, i - 1) + luma(im, i + 1) +
				   luma(im, i - im->w) + luma(im, i + im->w) -
				   4 * luma(im, i);
			ls += l;
			ls2 += l * l;
			m++;
		}
	if (m) {
		double lm = ls / (double)m, lv = ls2 / (double)m - lm * lm;
		out->v[4] = lv > 0 ? lv : 0;
	} else {
		out->v[4] = 0;
	}
}
