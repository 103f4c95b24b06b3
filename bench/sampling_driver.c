/*
 * sampling_driver.c — the C side of bench/sampling (built by that script
 * with the project's flags, -O2 -g, against the .c files of sampling/).
 *
 *   driver bw MIB THREADS
 *       streaming read bandwidth: THREADS threads sum disjoint halves of a
 *       MIB MiB buffer (16 independent accumulators each, so the adds keep
 *       up with memory); best of 7 passes; prints "bw GBPS".
 *   driver coreset FILE N D K START THREADS PICKS_OUT
 *   driver kmeans|typicality FILE N D K SEED THREADS PICKS_OUT
 *   driver select|diversity FILE N D K SEED THREADS PICKS_OUT
 *       select.c's greedy: typicality + diversity, or diversity alone
 *       FILE: N*D raw little-endian float32, read into anonymous memory
 *       as the daemon holds an embedding, then read once more before the
 *       clock starts (see warm()); times the strategy call alone
 *       (monotonic clock) and prints "time SECONDS", "maxrss BYTES"
 *       (getrusage: the whole process, the matrix included) and
 *       "matrix BYTES"; writes the first K of the order, one per line.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
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

/* ---- bandwidth ---------------------------------------------------------- */

struct bw_arg {
	const uint64_t *p;
	size_t n;
	uint64_t sum;
};

static void *bw_run(void *arg)
{
	struct bw_arg *a = arg;
	uint64_t s[16] = {0};

	for (size_t i = 0; i + 16 <= a->n; i += 16)
		for (int l = 0; l < 16; l++)
			s[l] += a->p[i + l];
	for (int l = 0; l < 16; l++)
		a->sum += s[l];
	return NULL;
}

static int bandwidth(size_t mib, int threads)
{
	size_t bytes = mib << 20, words = bytes / 8;
	uint64_t *buf = malloc(bytes), total = 0;
	struct bw_arg arg[16];
	pthread_t th[16];
	double best = 0;

	if (!buf || threads < 1 || threads > 16)
		return 1;
	for (size_t i = 0; i < words; i++)
		buf[i] = i;
	for (int rep = 0; rep < 7; rep++) {
		double t0 = now(), t;
		for (int i = 0; i < threads; i++) {
			arg[i].p = buf + words / (size_t)threads * (size_t)i;
			arg[i].n = words / (size_t)threads;
			arg[i].sum = 0;
			if (i && pthread_create(&th[i], NULL, bw_run, &arg[i]))
				return 1;
		}
		bw_run(&arg[0]);
		for (int i = 1; i < threads; i++)
			pthread_join(th[i], NULL);
		t = now() - t0;
		for (int i = 0; i < threads; i++)
			total += arg[i].sum;
		if (bytes / t > best)
			best = (double)bytes / t;
	}
	printf("bw %.3f\n", best / 1e9);
	fprintf(stderr, "(checksum %llu)\n", (unsigned long long)total);
	free(buf);
	return 0;
}

/* ---- strategies --------------------------------------------------------- */

static float *load(const char *path, size_t n, size_t d)
{
	size_t want = n * d, got;
	float *x = malloc(want * sizeof(*x));
	FILE *f = fopen(path, "rb");

	if (!x || !f) {
		fprintf(stderr, "cannot read %s\n", path);
		exit(1);
	}
	got = fread(x, sizeof(float), want, f);
	fclose(f);
	if (got != want) {
		fprintf(stderr, "%s: short file\n", path);
		exit(1);
	}
	return x;
}

/* Reads one word of every page. The first user-space access to a page
 * that read(2) filled costs ~7 us on the bench VM (0.2 s for 128 MB, then
 * 8 ms a pass); numpy pays it in its first run only and we report its
 * median of 3, so ours is timed warm too, as a daemon holding the matrix
 * would be. */
static float warm(const float *x, size_t n)
{
	float s = 0;

	for (size_t i = 0; i < n; i += 1024)
		s += x[i];
	return s;
}

int main(int argc, char **argv)
{
	size_t n, d, k, arg5, threads;
	struct smp_result r = {0};
	struct rusage ru;
	struct smp_ctl ctl = {0};
	float *x;
	double t0, t;
	FILE *out;
	int rc;

	if (argc == 4 && !strcmp(argv[1], "bw")) {
		size_t mib, th;
		if (to_size(argv[2], &mib) || to_size(argv[3], &th))
			return 2;
		return bandwidth(mib, (int)th);
	}
	if (argc != 9 || to_size(argv[3], &n) || to_size(argv[4], &d) ||
	    to_size(argv[5], &k) || to_size(argv[6], &arg5) ||
	    to_size(argv[7], &threads)) {
		fprintf(stderr, "usage: see the comment atop sampling_driver.c\n");
		return 2;
	}
	x = load(argv[2], n, d);
	ctl.threads = (int)threads;
	if (warm(x, n * d) == 42.0f) /* use the sum: not optimised away */
		fprintf(stderr, "(warm)\n");
	t0 = now();
	if (!strcmp(argv[1], "coreset"))
		rc = smp_coreset(x, n, d, k, arg5, 0, &ctl, &r);
	else if (!strcmp(argv[1], "kmeans"))
		rc = smp_kmeans(x, n, d, k, arg5, &ctl, &r);
	else if (!strcmp(argv[1], "typicality"))
		rc = smp_typicality(x, n, d, k, arg5, &ctl, &r);
	else if (!strcmp(argv[1], "select") || !strcmp(argv[1], "diversity")) {
		/* select: typicality + diversity (a selection naming no
		 * objective); diversity: that objective alone (select.c) */
		struct smp_objective o[2] = {
			{ .kind = SMP_OBJ_DIVERSITY, .strength = 1 },
			{ .kind = SMP_OBJ_TYPICALITY, .strength = 1 },
		};
		struct smp_select_spec sp = { .x = x, .n = n, .d = d, .obj = o,
					      .nobj = argv[1][0] == 's' ? 2 : 1,
					      .k = k, .seed = arg5 };
		rc = smp_select(&sp, &ctl, &r);
	}
	else
		rc = -EINVAL;
	t = now() - t0;
	if (rc) {
		fprintf(stderr, "%s: error %d\n", argv[1], rc);
		return 1;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("time %.4f\nmaxrss %lld\nmatrix %zu\n", t,
	       (long long)ru.ru_maxrss * 1024, n * d * sizeof(float));
	if (!(out = fopen(argv[8], "w")))
		return 1;
	for (size_t i = 0; i < k; i++)
		fprintf(out, "%u\n", r.order[i]);
	fclose(out);
	smp_result_free(&r);
	free(x);
	return 0;
}
