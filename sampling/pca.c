/*
 * pca.c — 2-D PCA projection for plot.svg.
 *
 * Mean in double; covariance C = Σ (x-μ)(x-μ)ᵀ accumulated as SSYRK over
 * centred blocks of BLOCK rows (float inside a block, double across
 * blocks, so a million rows lose no precision); the top two eigenvectors
 * of C by LAPACKE_dsyevr (eigenvalues ascending: the last two); each
 * eigenvector is flipped so that its largest-magnitude component (the
 * first of equals) is positive, which makes the picture the same from run
 * to run and machine to machine. Projections in double.
 *
 * d is capped at PCA_D_MAX (a d×d double matrix: 512 MB at the cap).
 * Single-threaded (OpenBLAS is set single-threaded, see kmeans.c); cost
 * O(n·d² + d³), ~0.1 s for 1M × 32.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "sampling/internal.h"

#define BLOCK 4096
#define PCA_D_MAX 8192

static void fix_sign(double *v, size_t d, size_t stride)
{
	size_t arg = 0;

	for (size_t j = 1; j < d; j++)
		if (fabs(v[j * stride]) > fabs(v[arg * stride]))
			arg = j;
	if (v[arg * stride] < 0)
		for (size_t j = 0; j < d; j++)
			v[j * stride] = -v[j * stride];
}

int smp_pca2(const float *x, size_t n, size_t d, float *out)
{
	double *mu = NULL, *cov = NULL, w[2], *z = NULL;
	float *blk = NULL, *cb = NULL;
	lapack_int m = 0, isuppz[4];
	int rc = 0;

	if (!out || smp_check_matrix(x, n, d) || d > PCA_D_MAX)
		return -EINVAL;
	mu = calloc(d, sizeof(*mu));
	cov = calloc(d * d, sizeof(*cov));
	z = calloc(d * 2, sizeof(*z));
	blk = malloc((n < BLOCK ? n : BLOCK) * d * sizeof(*blk));
	cb = malloc(d * d * sizeof(*cb));
	if (!mu || !cov || !z || !blk || !cb) {
		rc = -ENOMEM;
		goto out;
	}
	smp_blas_init();
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < d; j++)
			mu[j] += x[i * d + j];
	for (size_t j = 0; j < d; j++)
		mu[j] /= (double)n;
	for (size_t lo = 0; lo < n; lo += BLOCK) {
		size_t rows = n - lo < BLOCK ? n - lo : BLOCK;
		for (size_t r = 0; r < rows; r++)
			for (size_t j = 0; j < d; j++)
				blk[r * d + j] =
					(float)(x[(lo + r) * d + j] - mu[j]);
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d,
			    (int)rows, 1.0f, blk, (int)d, 0.0f, cb, (int)d);
		for (size_t a = 0; a < d; a++)
			for (size_t b = a; b < d; b++)
				cov[a * d + b] += cb[a * d + b];
	}
	if (LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'V', 'I', 'U', (lapack_int)d,
			   cov, (lapack_int)d, 0.0, 0.0,
			   (lapack_int)(d > 1 ? d - 1 : 1), (lapack_int)d, 0.0,
			   &m, w, z, 2, isuppz) != 0 ||
	    m != (d > 1 ? 2 : 1)) {
		rc = -EIO;
		goto out;
	}
	/* Row-major z: column c is eigenvector c; the last is the largest. */
	for (lapack_int c = 0; c < m; c++)
		fix_sign(z + c, d, 2);
	for (size_t i = 0; i < n; i++) {
		double p1 = 0, p2 = 0;
		for (size_t j = 0; j < d; j++) {
			double v = x[i * d + j] - mu[j];
			p1 += v * z[j * 2 + (size_t)(m - 1)];
			if (m == 2)
				p2 += v * z[j * 2];
		}
		out[2 * i] = (float)p1;
		out[2 * i + 1] = (float)p2;
	}
out:
	free(cb);
	free(blk);
	free(z);
	free(cov);
	free(mu);
	return rc;
}
