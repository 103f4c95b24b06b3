/*
 * whiten.c — the rescaled copy of a matrix that typicality clusters in
 * (see typicality.c for why and for the measurements).
 *
 * Given a first clustering (centroids c, assignment a), W is the pooled
 * within-cluster covariance, W = (1/n) Σ (x_i - c_{a_i})(x_i - c_{a_i})ᵀ,
 * with eigenvectors V and eigenvalues λ; the copy is
 *     z = (x - μ) · V · diag(λ^(-p/2)) / (largest scale),
 * μ the mean of x. With p = 1 the Euclidean distance in z is the
 * Mahalanobis distance of W: k-means in z is a hard-assignment EM step
 * of a Gaussian mixture with one covariance shared by the clusters
 * ("tied"), so the clusters are fitted to the shape the clusters actually
 * have rather than to the direction the whole cloud is longest in. The
 * division by the largest scale keeps z's coordinates no larger than x's
 * (a uniform factor changes no k-means decision). Eigenvalues below
 * 1e-6 of the largest are raised to that floor first (a constant column
 * or a rank-deficient x must not divide by zero). Eigenvector signs do
 * not matter: flipping a column of z changes no distance.
 *
 * Precision and determinism: μ and W in double; W accumulated as SSYRK
 * over blocks of BLOCK residual rows (float within a block, double across
 * blocks, as pca.c does); all eigenpairs by LAPACKE_dsyevr; the
 * projection one SGEMM per block. Everything runs on the caller's thread
 * in a fixed order, so z depends only on the inputs. Cost O(n·d² + d³):
 * ~0.3 s for 1M × 32. Memory: BLOCK·d floats and a few d×d matrices.
 * The fit (μ, scaled axes) and the projection are separate calls, so a
 * caller can project a sample of rows, or rows a block at a time, without
 * holding all of z (typicality.c does both).
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "sampling/internal.h"

#define BLOCK 4096

/* w[r*d + j] = V[r][j] · s_j / max s, s_j = λ_j^(-p/2): the scaled axes. */
static int scaled_axes(const double *cov, size_t d, double p, float *w)
{
	double *a = malloc(d * d * sizeof(*a)), *ev = malloc(d * sizeof(*ev));
	double *v = malloc(d * d * sizeof(*v)), top, smax = 0;
	lapack_int m = 0, *isuppz = malloc(2 * d * sizeof(*isuppz));
	int rc = 0;

	if (!a || !ev || !v || !isuppz) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(a, cov, d * d * sizeof(*a));
	if (LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'V', 'A', 'U', (lapack_int)d, a,
			   (lapack_int)d, 0.0, 0.0, 0, 0, 0.0, &m, ev, v,
			   (lapack_int)d, isuppz) != 0 || m != (lapack_int)d) {
		rc = -EIO;
		goto out;
	}
	top = ev[d - 1] > 0 ? ev[d - 1] : 1.0;
	for (size_t j = 0; j < d; j++) {
		double l = ev[j] > top * 1e-6 ? ev[j] : top * 1e-6;
		ev[j] = pow(l, -p / 2);
		if (ev[j] > smax)
			smax = ev[j];
	}
	for (size_t r = 0; r < d; r++)
		for (size_t j = 0; j < d; j++)
			w[r * d + j] = (float)(v[r * d + j] * ev[j] / smax);
out:
	free(isuppz);
	free(v);
	free(ev);
	free(a);
	return rc;
}

/* blk = rows [lo, lo+rows) of x minus ref (c[asg[i]] or mu). */
static void residuals(float *blk, const float *x, size_t d, size_t lo,
		      size_t rows, const float *c, const uint32_t *asg,
		      const double *mu)
{
	for (size_t r = 0; r < rows; r++) {
		const float *xi = x + (lo + r) * d;
		if (c) {
			const float *ci = c + (size_t)asg[lo + r] * d;
			for (size_t j = 0; j < d; j++)
				blk[r * d + j] = xi[j] - ci[j];
		} else {
			for (size_t j = 0; j < d; j++)
				blk[r * d + j] = (float)(xi[j] - mu[j]);
		}
	}
}

int smp_whiten_fit(const float *x, size_t n, size_t d, const float *c,
		   const uint32_t *asg, double p, const struct smp_ctl *ctl,
		   double *mu, float *w)
{
	double *cov = NULL;
	float *blk = NULL, *cb = NULL;
	size_t rows0 = n < BLOCK ? n : BLOCK;
	int rc = 0;

	if (!mu || !w || smp_check_matrix(x, n, d) || d > 8192 || !(p >= 0) ||
	    p > 4 || !c != !asg)
		return -EINVAL;
	cov = calloc(d * d, sizeof(*cov));
	blk = malloc(rows0 * d * sizeof(*blk));
	cb = malloc(d * d * sizeof(*cb));
	if (!cov || !blk || !cb) {
		rc = -ENOMEM;
		goto out;
	}
	smp_blas_init();
	memset(mu, 0, d * sizeof(*mu));
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < d; j++)
			mu[j] += x[i * d + j];
	for (size_t j = 0; j < d; j++)
		mu[j] /= (double)n;
	for (size_t lo = 0; lo < n; lo += BLOCK) {
		size_t rows = n - lo < BLOCK ? n - lo : BLOCK;

		if (smp_cancelled(ctl)) {
			rc = -ECANCELED;
			goto out;
		}
		residuals(blk, x, d, lo, rows, c, asg, mu);
		cblas_ssyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)d,
			    (int)rows, 1.0f, blk, (int)d, 0.0f, cb, (int)d);
		for (size_t a = 0; a < d; a++)
			for (size_t b = a; b < d; b++)
				cov[a * d + b] += cb[a * d + b];
	}
	for (size_t a = 0; a < d; a++)
		for (size_t b = a; b < d; b++)
			cov[a * d + b] /= (double)n;
	rc = scaled_axes(cov, d, p, w);
out:
	free(cb);
	free(blk);
	free(cov);
	return rc;
}

int smp_whiten_apply(const float *x, size_t d, const uint32_t *idx,
		     size_t lo, size_t rows, const double *mu, const float *w,
		     const struct smp_ctl *ctl, float *z)
{
	float *blk = malloc((rows < BLOCK ? rows : BLOCK) * d * sizeof(*blk));

	if (!blk)
		return -ENOMEM;
	for (size_t b = 0; b < rows; b += BLOCK) {
		size_t m = rows - b < BLOCK ? rows - b : BLOCK;

		if (smp_cancelled(ctl)) {
			free(blk);
			return -ECANCELED;
		}
		for (size_t r = 0; r < m; r++) {
			const float *xi = x + (idx ? (size_t)idx[b + r]
						   : lo + b + r) * d;
			for (size_t j = 0; j < d; j++)
				blk[r * d + j] = (float)(xi[j] - mu[j]);
		}
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, (int)m,
			    (int)d, (int)d, 1.0f, blk, (int)d, w, (int)d, 0.0f,
			    z + b * d, (int)d);
	}
	free(blk);
	return 0;
}

int smp_whiten(const float *x, size_t n, size_t d, const float *c,
	       const uint32_t *asg, double p, const struct smp_ctl *ctl,
	       float *z)
{
	double *mu = NULL;
	float *w = NULL;
	int rc;

	if (!z || smp_check_matrix(x, n, d) || d > 8192)
		return -EINVAL;
	mu = malloc(d * sizeof(*mu));
	w = malloc(d * d * sizeof(*w));
	if (!mu || !w)
		rc = -ENOMEM;
	else if (!(rc = smp_whiten_fit(x, n, d, c, asg, p, ctl, mu, w)))
		rc = smp_whiten_apply(x, d, NULL, 0, n, mu, w, ctl, z);
	free(w);
	free(mu);
	return rc;
}
