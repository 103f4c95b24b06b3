/*
 * pca.c — the dataset-level projection of raw features (features.h).
 *
 * Fit: mean and covariance in double over at most EMB_PCA_FIT_ROWS rows
 * taken evenly (row i·n/m), the covariance by DSYRK over blocks of centred
 * rows, then the top `dim` eigenpairs by LAPACK's dsyevr. Each eigenvector's
 * sign is fixed (its largest |component| positive) so refits of the same
 * data give the same axes; each is scaled by eigenvalue^-1/4 (half
 * whitening, measured better for neighbour search than none or full).
 * Apply: one SGEMM of the centred rows against the scaled basis.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <cblas.h>
#include <lapacke.h>

#include "embed/features.h"

#define BLOCK 1024

void emb_pca_free(struct emb_pca *p)
{
	if (!p)
		return;
	free(p->mean);
	free(p->basis);
	memset(p, 0, sizeof(*p));
}

int emb_pca_fit(const float *x, size_t n, size_t f, size_t dim,
		struct emb_pca *out)
{
	size_t m = n < EMB_PCA_FIT_ROWS ? n : EMB_PCA_FIT_ROWS;
	double *mean = NULL, *cov = NULL, *blk = NULL, *w = NULL, *z = NULL;
	lapack_int *isuppz = NULL, found = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (!x || f == 0 || dim == 0 || dim > f || dim > n)
		return -EINVAL;
	mean = calloc(f, sizeof(double));
	cov = calloc(f * f, sizeof(double));
	blk = malloc(BLOCK * f * sizeof(double));
	w = malloc(f * sizeof(double));
	z = malloc(f * dim * sizeof(double));
	isuppz = malloc(2 * dim * sizeof(*isuppz));
	out->mean = malloc(f * sizeof(float));
	out->basis = malloc(f * dim * sizeof(float));
	if (!mean || !cov || !blk || !w || !z || !isuppz || !out->mean ||
	    !out->basis) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t r = 0; r < m; r++) {
		const float *row = x + (r * n / m) * f;
		for (size_t j = 0; j < f; j++)
			mean[j] += row[j];
	}
	for (size_t j = 0; j < f; j++)
		mean[j] /= (double)m;
	for (size_t r0 = 0; r0 < m; r0 += BLOCK) {
		size_t rows = m - r0 < BLOCK ? m - r0 : BLOCK;
		for (size_t r = 0; r < rows; r++) {
			const float *row = x + ((r0 + r) * n / m) * f;
			for (size_t j = 0; j < f; j++)
				blk[r * f + j] = row[j] - mean[j];
		}
		cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, (int)f,
			    (int)rows, 1.0 / (double)m, blk, (int)f, 1.0, cov,
			    (int)f);
	}
	/* eigenvalues ascending: the top dim are indices f-dim .. f-1 */
	if (LAPACKE_dsyevr(LAPACK_ROW_MAJOR, 'V', 'I', 'U', (lapack_int)f, cov,
			   (lapack_int)f, 0, 0, (lapack_int)(f - dim + 1),
			   (lapack_int)f, 0, &found, w, z, (lapack_int)dim,
			   isuppz) != 0 || (size_t)found != dim) {
		rc = -EIO;
		goto out;
	}
	for (size_t j = 0; j < f; j++)
		out->mean[j] = (float)mean[j];
	for (size_t k = 0; k < dim; k++) {
		size_t src = dim - 1 - k;       /* largest eigenvalue first */
		double big = 0, sign = 1;
		for (size_t j = 0; j < f; j++)
			if (fabs(z[j * dim + src]) > big) {
				big = fabs(z[j * dim + src]);
				sign = z[j * dim + src] < 0 ? -1 : 1;
			}
		double ev = w[src] > 1e-12 ? w[src] : 1e-12;
		double scale = sign / pow(ev, 0.25);
		for (size_t j = 0; j < f; j++)
			out->basis[j * dim + k] = (float)(z[j * dim + src] * scale);
	}
	out->f = f;
	out->dim = dim;
out:
	if (rc)
		emb_pca_free(out);
	free(mean);
	free(cov);
	free(blk);
	free(w);
	free(z);
	free(isuppz);
	return rc;
}

int emb_pca_apply(const struct emb_pca *p, const float *x, size_t n,
		  float *out)
{
	float *blk = malloc(BLOCK * p->f * sizeof(float));

	if (!blk)
		return -ENOMEM;
	for (size_t r0 = 0; r0 < n; r0 += BLOCK) {
		size_t rows = n - r0 < BLOCK ? n - r0 : BLOCK;
		for (size_t r = 0; r < rows; r++)
			for (size_t j = 0; j < p->f; j++)
				blk[r * p->f + j] = x[(r0 + r) * p->f + j] -
						    p->mean[j];
		cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans,
			    (int)rows, (int)p->dim, (int)p->f, 1.0f, blk,
			    (int)p->f, p->basis, (int)p->dim, 0.0f,
			    out + r0 * p->dim, (int)p->dim);
	}
	free(blk);
	return 0;
}
