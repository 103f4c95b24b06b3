/*
 * layout_driver.c — the C side of bench/layout (built by that script with
 * the project's flags, -O2 -g, against the .c files of sampling/).
 *
 *   driver FILE N D METHOD THREADS SEED KEPT_M [OUT]
 *       FILE: N*D raw little-endian float32. METHOD: pca (smp_pca2) or
 *       umap (smp_layout2). Times the layout call alone (monotonic clock)
 *       and prints "time SECONDS"; then, when KEPT_M > 0, "kept SHARE":
 *       smp_layout_kept with k = 10 over KEPT_M rows drawn with seed 1
 *       (the same rows for every method). OUT, if given: the N*2 float32
 *       coordinates, for determinism checks and pictures.
 * Exit 0, or 1 with a message on stderr.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sampling/sampling.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int to_size(const char *s, size_t *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s || *end)
		return -1;
	*out = (size_t)v;
	return 0;
}

int main(int argc, char **argv)
{
	size_t n, d, threads, seed, m;
	float *x, *xy;
	FILE *f;
	double t0, kept;
	int rc;

	if (argc < 8 || to_size(argv[2], &n) || to_size(argv[3], &d) ||
	    to_size(argv[5], &threads) || to_size(argv[6], &seed) ||
	    to_size(argv[7], &m) || !n || !d) {
		fprintf(stderr, "usage: driver FILE N D pca|umap THREADS SEED"
			" KEPT_M [OUT]\n");
		return 1;
	}
	x = malloc(n * d * sizeof(*x));
	xy = malloc(n * 2 * sizeof(*xy));
	if (!x || !xy || !(f = fopen(argv[1], "rb")) ||
	    fread(x, sizeof(*x), n * d, f) != n * d) {
		fprintf(stderr, "driver: cannot read %zu x %zu floats from %s\n",
			n, d, argv[1]);
		return 1;
	}
	fclose(f);
	struct smp_ctl ctl = { .threads = (int)threads };
	t0 = now();
	if (!strcmp(argv[4], "pca"))
		rc = smp_pca2(x, n, d, xy);
	else if (!strcmp(argv[4], "umap"))
		rc = smp_layout2(x, n, d, seed, &ctl, xy);
	else
		rc = -EINVAL;
	if (rc) {
		fprintf(stderr, "driver: %s: %s\n", argv[4], strerror(-rc));
		return 1;
	}
	printf("time %.3f\n", now() - t0);
	if (m) {
		rc = smp_layout_kept(x, n, d, xy, 10, m, 1, &kept);
		if (rc) {
			fprintf(stderr, "driver: kept: %s\n", strerror(-rc));
			return 1;
		}
		printf("kept %.4f\n", kept);
	}
	if (argc > 8) {
		if (!(f = fopen(argv[8], "wb")) ||
		    fwrite(xy, sizeof(*xy), n * 2, f) != n * 2 || fclose(f)) {
			fprintf(stderr, "driver: cannot write %s\n", argv[8]);
			return 1;
		}
	}
	free(x);
	free(xy);
	return 0;
}
