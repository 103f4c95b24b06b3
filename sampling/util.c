/*
 * util.c — the helpers of internal.h: random numbers, cancellation and
 * progress, the fork-join team, results and the final ranking sort.
 *
 * rng: splitmix64 expands the 64-bit seed into xoshiro256** state (the
 * generators' published reference algorithms), so a seed gives the same
 * stream on every platform and compiler.
 *
 * team: members block on a condition variable between jobs; one job costs
 * two wake-ups (tens of microseconds), so callers only hand it jobs worth
 * far more than that. Lock: team->mu protects gen, pending, stop, fn, arg.
 *
 * rank: LSD radix sort on 64-bit keys (~score bits << 32 | index), 11-bit
 * digits, skipping digits that are equal in every key; stable, O(m) extra
 * memory (two key arrays), no comparison callbacks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sampling/internal.h"

/* ---- rng ---------------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void smp_rng_init(struct smp_rng *r, uint64_t seed)
{
	uint64_t x = seed;

	for (int i = 0; i < 4; i++)
		r->s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

uint64_t smp_rng_next(struct smp_rng *r)
{
	uint64_t *s = r->s;
	uint64_t res = rotl(s[1] * 5, 7) * 9;
	uint64_t t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return res;
}

uint64_t smp_rng_below(struct smp_rng *r, uint64_t n)
{
	__uint128_t m = (__uint128_t)smp_rng_next(r) * n;
	uint64_t lo = (uint64_t)m;

	if (lo < n) {
		uint64_t thr = (0 - n) % n;
		while (lo < thr) {
			m = (__uint128_t)smp_rng_next(r) * n;
			lo = (uint64_t)m;
		}
	}
	return (uint64_t)(m >> 64);
}

double smp_rng_unit(struct smp_rng *r)
{
	return (double)(smp_rng_next(r) >> 11) * 0x1.0p-53;
}

void smp_shuffle_u32(uint32_t *a, size_t n, struct smp_rng *r)
{
	for (size_t i = n; i > 1; i--) {
		size_t j = (size_t)smp_rng_below(r, i);
		uint32_t t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

void smp_sample_u32(uint32_t *idx, size_t n, size_t m, struct smp_rng *r)
{
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	for (size_t i = 0; i < m; i++) {
		size_t j = i + (size_t)smp_rng_below(r, n - i);
		uint32_t t = idx[i];
		idx[i] = idx[j];
		idx[j] = t;
	}
}

/* ---- ctl ---------------------------------------------------------------- */

int smp_ctl_threads(const struct smp_ctl *ctl)
{
	if (!ctl || ctl->threads <= 0)
		return 2;
	return ctl->threads > SMP_THREADS_MAX ? SMP_THREADS_MAX : ctl->threads;
}

int smp_cancelled(const struct smp_ctl *ctl)
{
	return ctl && ctl->cancel && *ctl->cancel;
}

double smp_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void smp_prog_init(struct smp_prog *p, const struct smp_ctl *ctl,
		   size_t total)
{
	p->ctl = ctl;
	p->total = total;
	p->next = 0;
}

void smp_prog_tick(struct smp_prog *p, size_t done)
{
	double t;

	if (!p->ctl || !p->ctl->progress)
		return;
	t = smp_now();
	if (t < p->next)
		return;
	p->next = t + 0.010;
	p->ctl->progress(p->ctl->arg, done, p->total);
}

void smp_prog_end(struct smp_prog *p)
{
	if (p->ctl && p->ctl->progress)
		p->ctl->progress(p->ctl->arg, p->total, p->total);
}

static void sub_progress(void *arg, size_t done, size_t total)
{
	struct smp_subctl *s = arg;
	size_t v = total ? s->lo + (size_t)((double)s->span * (double)done /
					    (double)total)
			 : s->lo;

	s->outer->progress(s->outer->arg, v, s->total);
}

void smp_subctl_init(struct smp_subctl *s, const struct smp_ctl *outer,
		     size_t lo, size_t span, size_t total)
{
	memset(s, 0, sizeof(*s));
	s->outer = outer;
	s->lo = lo;
	s->span = span;
	s->total = total;
	if (!outer)
		return;
	s->in.cancel = outer->cancel;
	s->in.threads = outer->threads;
	if (outer->progress) {
		s->in.progress = sub_progress;
		s->in.arg = s;
	}
}

void smp_report(const struct smp_ctl *ctl, size_t done, size_t total)
{
	if (ctl && ctl->progress)
		ctl->progress(ctl->arg, done, total);
}

/* ---- team --------------------------------------------------------------- */

struct member {
	struct smp_team *team;
	int tid;
};

struct smp_team {
	int n;               /* members, the caller included */
	pthread_mutex_t mu;
	pthread_cond_t go;   /* signalled when gen changes or stop is set */
	pthread_cond_t done; /* signalled when pending drops to 0 */
	uint64_t gen;        /* job number, bumped by smp_team_run */
	int pending;         /* helpers still running the current job */
	int stop;
	smp_team_fn fn;
	void *arg;
	pthread_t th[SMP_THREADS_MAX];
	struct member mem[SMP_THREADS_MAX];
};

static void *member_main(void *p)
{
	struct member *m = p;
	struct smp_team *t = m->team;
	uint64_t seen = 0;

	pthread_mutex_lock(&t->mu);
	for (;;) {
		while (t->gen == seen && !t->stop)
			pthread_cond_wait(&t->go, &t->mu);
		if (t->stop)
			break;
		seen = t->gen;
		smp_team_fn fn = t->fn;
		void *arg = t->arg;
		pthread_mutex_unlock(&t->mu);
		fn(arg, m->tid, t->n);
		pthread_mutex_lock(&t->mu);
		if (--t->pending == 0)
			pthread_cond_signal(&t->done);
	}
	pthread_mutex_unlock(&t->mu);
	return NULL;
}

struct smp_team *smp_team_create(int threads)
{
	struct smp_team *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->n = 1;
	if (pthread_mutex_init(&t->mu, NULL))
		goto fail;
	if (pthread_cond_init(&t->go, NULL)) {
		pthread_mutex_destroy(&t->mu);
		goto fail;
	}
	if (pthread_cond_init(&t->done, NULL)) {
		pthread_cond_destroy(&t->go);
		pthread_mutex_destroy(&t->mu);
		goto fail;
	}
	if (threads > SMP_THREADS_MAX)
		threads = SMP_THREADS_MAX;
	for (int i = 1; i < threads; i++) {
		t->mem[i].team = t;
		t->mem[i].tid = i;
		/* A thread that cannot start only makes the team smaller. */
		if (pthread_create(&t->th[i], NULL, member_main, &t->mem[i]))
			break;
		t->n = i + 1;
	}
	return t;
fail:
	free(t);
	return NULL;
}

static void run_alone(smp_team_fn fn, void *arg)
{
	fn(arg, 0, 1);
}

void smp_team_run(struct smp_team *t, smp_team_fn fn, void *arg)
{
	if (!t || t->n == 1) {
		run_alone(fn, arg);
		return;
	}
	pthread_mutex_lock(&t->mu);
	t->fn = fn;
	t->arg = arg;
	t->pending = t->n - 1;
	t->gen++;
	pthread_cond_broadcast(&t->go);
	pthread_mutex_unlock(&t->mu);
	fn(arg, 0, t->n);
	pthread_mutex_lock(&t->mu);
	while (t->pending)
		pthread_cond_wait(&t->done, &t->mu);
	pthread_mutex_unlock(&t->mu);
}

int smp_team_size(const struct smp_team *t)
{
	return t ? t->n : 1;
}

void smp_team_destroy(struct smp_team *t)
{
	if (!t)
		return;
	pthread_mutex_lock(&t->mu);
	t->stop = 1;
	pthread_cond_broadcast(&t->go);
	pthread_mutex_unlock(&t->mu);
	for (int i = 1; i < t->n; i++)
		pthread_join(t->th[i], NULL);
	pthread_cond_destroy(&t->done);
	pthread_cond_destroy(&t->go);
	pthread_mutex_destroy(&t->mu);
	free(t);
}

/* ---- result and ranking ------------------------------------------------- */

void smp_result_free(struct smp_result *r)
{
	if (!r)
		return;
	free(r->order);
	free(r->score);
	r->order = NULL;
	r->score = NULL;
	r->n = 0;
	r->picked = 0;
}

int smp_result_alloc(struct smp_result *out, size_t n)
{
	out->order = malloc(n * sizeof(*out->order));
	out->score = malloc(n * sizeof(*out->score));
	out->n = n;
	if (!out->order || !out->score) {
		smp_result_free(out);
		return -ENOMEM;
	}
	return 0;
}

static uint64_t rank_key(const float *score, uint32_t i)
{
	float s = score[i];
	uint32_t bits;

	if (!(s > 0.0f)) /* NaN, -0.0 and 0.0 all rank as 0 */
		s = 0.0f;
	memcpy(&bits, &s, sizeof(bits));
	return ((uint64_t)(~bits) << 32) | i;
}

#define RDX_BITS 11
#define RDX_SIZE (1u << RDX_BITS)
#define RDX_PASSES ((64 + RDX_BITS - 1) / RDX_BITS)

int smp_rank_by_score(uint32_t *idx, size_t m, const float *score)
{
	uint64_t *a = NULL, *b = NULL;
	size_t (*cnt)[RDX_SIZE] = NULL;
	int rc = 0;

	if (m < 2)
		return 0;
	a = malloc(m * sizeof(*a));
	b = malloc(m * sizeof(*b));
	cnt = calloc(RDX_PASSES, sizeof(*cnt));
	if (!a || !b || !cnt) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < m; i++) {
		a[i] = rank_key(score, idx[i]);
		for (int p = 0; p < RDX_PASSES; p++)
			cnt[p][(a[i] >> (p * RDX_BITS)) & (RDX_SIZE - 1)]++;
	}
	for (int p = 0; p < RDX_PASSES; p++) {
		int shift = p * RDX_BITS;
		size_t sum = 0;

		if (cnt[p][(a[0] >> shift) & (RDX_SIZE - 1)] == m)
			continue; /* this digit is the same in every key */
		for (size_t v = 0; v < RDX_SIZE; v++) {
			size_t c = cnt[p][v];
			cnt[p][v] = sum;
			sum += c;
		}
		for (size_t i = 0; i < m; i++)
			b[cnt[p][(a[i] >> shift) & (RDX_SIZE - 1)]++] = a[i];
		uint64_t *t = a;
		a = b;
		b = t;
	}
	for (size_t i = 0; i < m; i++)
		idx[i] = (uint32_t)a[i];
out:
	free(cnt);
	free(b);
	free(a);
	return rc;
}

int smp_finish_order(struct smp_result *out, const uint32_t *picks,
		     size_t npicks)
{
	size_t n = out->n, m = 0;
	uint8_t *picked = calloc(n ? n : 1, 1);
	int rc;

	if (!picked)
		return -ENOMEM;
	for (size_t i = 0; i < npicks; i++) {
		out->order[i] = picks[i];
		picked[picks[i]] = 1;
	}
	for (size_t i = 0; i < n; i++)
		if (!picked[i])
			out->order[npicks + m++] = (uint32_t)i;
	free(picked);
	rc = smp_rank_by_score(out->order + npicks, m, out->score);
	return rc;
}
