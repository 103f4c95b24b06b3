/*
 * coreset.c — exact k-center greedy (farthest-first traversal), accelerated
 * with the triangle inequality.
 *
 * Decision rule (the brute force one): m[i] = min over picked centers c of
 * D(i, c), D = smp_dist2_ref (squared, double, fixed order); the next pick
 * is the unpicked i with the largest m[i], ties to the lowest index. We
 * compute the same m[i] bit for bit while skipping most evaluations of D,
 * so every pick is the brute force pick.
 *
 * Pruning. Cluster j = the points whose m came from pick j (center c_j).
 * With q = 1/(4(1+τ)²) and thr_j = q·D(c_j, c), a point i of cluster j can
 * only get closer to a new center c if m[i] > thr_j: only those are
 * evaluated (the "candidates"). A cluster whose largest m is <= thr_j is
 * skipped whole, and one whose largest m is <= q·M (M = the new center's
 * own m) without even computing D(c_j, c), since M <= D(c_j, c) for all j.
 *
 * Why skipping never changes a value (hence never a decision). Let u =
 * 2^-53. Every computed D̃ is within a factor (1 ± γ) of the exact squared
 * distance, γ <= (d/8 + 5)·u < 2^-30 for d <= SMP_D_MAX (one rounding in
 * each difference, one in each square, one per addition along the lane
 * sums and the final tree). Take i in cluster j with m = D̃(i, c_j) and
 * D̃(c_j, c) >= 4(1+τ)² m, τ = 2^-20. Exactly, |c_j - c| >= 2(1+τ)√m/√(1+γ)
 * and |i - c_j| <= √m/√(1-γ), so by the triangle inequality
 * |i - c| >= √m (2(1+τ)/√(1+γ) - 1/√(1-γ)) > √m (1+τ), and the computed
 * D̃(i, c) >= m (1+τ)²(1-γ) > m: the brute force would evaluate it and keep
 * m. The q·M shortcut is the same test, because M = min over j of
 * D̃(c_j, c) (D̃ is symmetric: a-b and b-a round to exact negatives) and
 * rounding of q·v is monotone in v. Float copies of m and thr (flat mode)
 * are rounded up and down respectively, so their test only adds
 * candidates. The margin τ costs nothing measurable.
 *
 * Two layouts, chosen per pick.
 *   flat   per point in row order: m, mf (m rounded up to float), cl, and
 *          per block of BLK rows bmax/barg. Every pick streams mf and cl
 *          (8 bytes per point) and the candidates' rows in address order.
 *          When little can be pruned (data with no cluster structure, or
 *          the first picks of any data) this is a plain fused pass, never
 *          worse. Runs of RUN blocks are dealt to the T threads
 *          round-robin (thread s owns block b when (b / RUN) % T == s),
 *          so each sees every region of the data and owns its points
 *          alone, and no two write the same cache line of bmax/barg.
 *   parts  (clusters stored contiguously) per cluster, a segment of one
 *          arena of (m, idx) pairs plus rmax/arg (max m, lowest index
 *          having it; -1 when empty). A skipped cluster costs nothing; a
 *          candidate costs a row fetched from anywhere in the matrix (a
 *          random 128-byte gather: ~6 GB/s where a scan streams at 12-20
 *          GB/s). Members that move are compacted out of their segment
 *          and appended to the new cluster's, always the last one, which
 *          therefore is a few runs in index order. The arena holds 2n
 *          entries; when the free tail is shorter than the part about to
 *          be scanned (all of which could move) every segment slides down
 *          over the holes, which always frees enough (at most n live).
 *          Run by thread 0 alone (below).
 * Which is cheaper depends on the candidates per pick: parts wins while
 * they are a small share of n (64-component Gaussian mixture, N=1M, d=32,
 * k=1000: ~16k per pick after the first ~60 picks; parts alone 2.1 s vs
 * flat alone 5.3 s), flat wins when most points are candidates (isotropic
 * Gaussian: parts was 5x slower than a plain pass). So the candidates per
 * pick, smoothed (ema += (count - ema)/4), decide: to parts below n/12, to
 * flat above n/6; the hysteresis keeps switches rare, and a switch costs
 * one pass over the points.
 *
 * Invariants between picks (in the current layout):
 *   I1  every unpicked point has m = the brute-force min distance =
 *       D(point, center of its cluster); parts: it is in exactly one part,
 *       its cluster's; flat: cl holds its cluster and mf >= m is the
 *       nearest float;
 *   I2  picked points are in no part; flat: their m and mf are -1;
 *   I3  rmax/arg (parts) and bmax/barg (flat, -1 when all picked) exact.
 *   The flat arrays stay allocated in parts mode (stale) and are rebuilt
 *   from the parts on a switch back.
 *
 * Threads: the traversal is one team job. In flat, per pick, every thread
 * processes its own blocks, publishes its best (max m, lowest index, its
 * cluster), its candidate count and a stop flag into slot[pick & 1][tid],
 * meets the others at a barrier, and computes the same argmax and the
 * same layout decision from the slots. Slots alternate by pick parity, so
 * a fast thread writing the next pick's slot never races a slow one
 * reading this pick's. Parts picks are short (a millisecond or less), and
 * a barrier per pick made two threads slower than one on a loaded
 * machine, so thread 0 runs the parts layout alone while the helpers
 * park on a condition variable; it waits until all have parked (so none
 * still reads the slots it will overwrite), and on a switch back to flat
 * it hands them the pick to resume at (t, p, M, ema). Only thread 0 (the
 * caller's) writes picks[]/pickm[], reports progress and polls cancel
 * between picks; a thread that sees cancel inside a long scan stops early
 * and raises its stop flag, which ends the traversal for everyone.
 *
 * Scores: a pick's score is sqrt(its M) / sqrt(M of the second pick) (the
 * largest after the first, since M never increases), the first pick scores
 * 1; an unpicked point scores sqrt(its final m) / the same normaliser,
 * clamped to [0,1], and is ranked after the picks by score. With a single
 * pick the normaliser is the distance the second pick would have had; a
 * zero normaliser (all remaining points on the picks) gives 0.
 *
 * Memory: the result 8 bytes per point, which holds mf and cl until the
 * end; m 8, the parts arena 24 (allocated at the first switch to parts),
 * and the final sort of the unpicked 16 (allocated after the traversal's
 * arrays are freed). m and the arena are advised as huge pages
 * (big_alloc). Measured peak RSS of a process holding a 1M x 32 matrix:
 * 1.37x the matrix (1.40x before mf and cl moved into the result).
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sampling/internal.h"

#define BLK 64            /* rows per block */
#define RUN 16            /* blocks per run dealt to one thread */
#define WIN 1024          /* members examined per batch of a parts scan */
#define BATCH 256         /* flat: candidates gathered per batch (min) */
#define TAU 0x1.0p-20
#define CANCEL_EVERY 256  /* blocks or windows between cancel polls */
#define TO_FLAT 6         /* to flat when candidates > n / TO_FLAT */
#define TO_PARTS 12       /* to parts when candidates < n / TO_PARTS */

enum layout { FLAT, PARTS };

struct part {
	size_t off, len; /* members: am/aidx[off .. off+len) of the arena */
	double rmax;     /* max m, -1 when empty */
	uint32_t arg;    /* lowest id with m == rmax */
};

struct shard {
	double *c;          /* current center widened to double, d */
	float *thrf;        /* flat: per cluster, threshold rounded down */
	struct part *parts; /* parts: one per cluster, k (thread 0 only) */
	uint32_t *wpos;     /* parts scan window: candidate positions, WIN */
	uint32_t *widx;     /* candidate ids (parts: of a window, flat: of a
			     * batch), WIN */
	double *wd;         /* their distances to c, WIN */
	size_t nw;          /* flat: candidates batched in widx */
	size_t ncand;       /* candidates evaluated in this pick */
	unsigned polls;     /* blocks/windows since the last cancel poll */
	int err;            /* first error this shard hit */
};

struct slot {
	double max;
	uint32_t arg, cl;
	size_t ncand;
	int stop;
};

struct cs {
	const float *x;
	size_t n, d, k, nb; /* nb = number of blocks */
	uint32_t start;
	double min_dist;    /* 0 = never stop early */
	const struct smp_ctl *ctl;
	int nt;
	double *m;          /* flat layout, n */
	float *mf;          /* = out->score (see smp_coreset_ex) */
	uint32_t *cl;       /* = out->order */
	double *bmax;       /* flat layout, nb */
	uint32_t *barg;
	double *am;         /* parts arena (tid 0): m of each member */
	uint32_t *aidx;     /* and its id; acap entries, [0, atop) in use */
	size_t acap, atop;
	pthread_barrier_t bar;
	struct shard sh[SMP_THREADS_MAX];
	struct slot slot[2][SMP_THREADS_MAX];
	uint32_t *picks;    /* k, written by tid 0 */
	double *pickm;      /* M of each pick, written by tid 0 */
	size_t npicks;      /* set by tid 0 at the end */
	int stopped;        /* set by tid 0: cancelled or failed */
	size_t switches;    /* layout switches, for tests and benchmarks */
	int force;          /* SMP_LAYOUT_*: tests pin a layout */
	pthread_mutex_t park_mu; /* protects the fields below */
	pthread_cond_t park_cv;  /* any change of them */
	unsigned solo_done; /* solo phases ended by tid 0 */
	int nparked;        /* helpers parked now */
	int over;           /* the traversal ended during a solo phase */
	uint32_t resume_t, resume_p;
	double resume_m, resume_ema;
	struct smp_prog prog;
	float *score;       /* out->score */
};

/* Large working arrays are aligned to 2 MiB and advised as transparent
 * huge pages: one page fault per 2 MiB instead of per 4 KiB. On virtual
 * machines a fault can cost 20 us (measured on the 2-vCPU bench VM: the
 * 16k faults of this file's arrays were a tenth of the run). Small ones
 * come from malloc. Free with big_free(). */
#define HUGE_SZ ((size_t)2 << 20)

static void *big_alloc(size_t bytes)
{
	void *p;

	if (bytes < HUGE_SZ)
		return malloc(bytes ? bytes : 1);
	if (bytes > SIZE_MAX - HUGE_SZ)
		return NULL;
	bytes = (bytes + HUGE_SZ - 1) / HUGE_SZ * HUGE_SZ;
	if (posix_memalign(&p, HUGE_SZ, bytes))
		return NULL;
#ifdef MADV_HUGEPAGE
	(void)madvise(p, bytes, MADV_HUGEPAGE); /* a hint: failure is fine */
#endif
	return p;
}

static void big_free(void *p)
{
	free(p);
}

/* The float nearest v rounded up (down), for v >= 0: one step in the bit
 * pattern, which for non-negative floats is the next (previous) float,
 * +inf included. */
static float round_up(double v)
{
	float f = (float)v;
	uint32_t u;

	if ((double)f >= v)
		return f;
	memcpy(&u, &f, sizeof(u));
	u++;
	memcpy(&f, &u, sizeof(f));
	return f;
}

static float round_down(double v)
{
	float f = (float)v;
	uint32_t u;

	if ((double)f <= v)
		return f;
	memcpy(&u, &f, sizeof(u));
	u--;
	memcpy(&f, &u, sizeof(f));
	return f;
}

static void widen(const float *r, size_t d, double *c)
{
	for (size_t j = 0; j < d; j++)
		c[j] = r[j];
}

static int poll_cancel(struct cs *cs, struct shard *sh)
{
	if (++sh->polls < CANCEL_EVERY)
		return 0;
	sh->polls = 0;
	return smp_cancelled(cs->ctl) ? -ECANCELED : 0;
}

static void better(double *best, uint32_t *arg, double m, uint32_t id)
{
	if (m > *best || (m == *best && m >= 0 && id < *arg)) {
		*best = m;
		*arg = id;
	}
}

static void block_range(const struct cs *cs, size_t b, size_t *lo,
			size_t *hi)
{
	*lo = b * BLK;
	*hi = *lo + BLK < cs->n ? *lo + BLK : cs->n;
}

/* Thread tid owns the blocks of every nt-th run of RUN blocks, starting
 * with run tid: it sees every region of the data, and no two threads
 * write the same cache line of bmax/barg. */
static int block_owner(const struct cs *cs, size_t b)
{
	return (int)(b / RUN % (size_t)cs->nt);
}

static size_t block_first(int tid)
{
	return (size_t)tid * RUN;
}

static size_t block_next(const struct cs *cs, size_t b)
{
	b++;
	return b % RUN ? b : b + (size_t)(cs->nt - 1) * RUN;
}

static void block_max(struct cs *cs, size_t b)
{
	size_t lo, hi;
	double best = -1;
	uint32_t arg;

	block_range(cs, b, &lo, &hi);
	arg = (uint32_t)lo;
	for (size_t i = lo; i < hi; i++)
		if (cs->m[i] > best) { /* strict: the lowest index wins ties */
			best = cs->m[i];
			arg = (uint32_t)i;
		}
	cs->bmax[b] = best;
	cs->barg[b] = arg;
}

/* ---- parts layout ------------------------------------------------------- */

/* Slides every part (they lie in the arena in cluster order, the one being
 * built last) down over the holes left by members that moved out. */
static void arena_compact(struct cs *cs, uint32_t nparts)
{
	struct part *parts = cs->sh[0].parts;
	size_t top = 0;

	for (uint32_t j = 0; j < nparts; j++) {
		struct part *pt = &parts[j];
		if (pt->off != top) {
			memmove(cs->am + top, cs->am + pt->off,
				pt->len * sizeof(*cs->am));
			memmove(cs->aidx + top, cs->aidx + pt->off,
				pt->len * sizeof(*cs->aidx));
			pt->off = top;
		}
		top += pt->len;
	}
	cs->atop = top;
}

/* Appends to the part being built, which ends at atop; room checked. */
static void part_push(struct cs *cs, struct part *np, double m, uint32_t id)
{
	cs->am[cs->atop] = m;
	cs->aidx[cs->atop++] = id;
	np->len++;
	better(&np->rmax, &np->arg, m, id);
}

/* Re-examines one part against the new center c: members with m > thr get
 * their distance to c; those closer to c move to np; `p` (the new center,
 * if here) is dropped; the rest are compacted in place, rmax recomputed. */
static int part_scan(struct cs *cs, struct shard *sh, struct part *pt,
		     double thr, uint32_t p, struct part *np)
{
	double *pm = cs->am + pt->off;
	uint32_t *pidx = cs->aidx + pt->off;
	size_t len = pt->len, w = 0;
	double best = -1;
	uint32_t barg = 0;
	int rc;

	/* At most len members move to np. The arena holds 2n entries and
	 * at most n are live, len among them: compaction always suffices. */
	if (cs->acap - cs->atop < len) {
		arena_compact(cs, (uint32_t)(np - sh->parts) + 1);
		pm = cs->am + pt->off;
		pidx = cs->aidx + pt->off;
	}

	for (size_t base = 0; base < len; base += WIN) {
		size_t end = len - base < WIN ? len : base + WIN, nc = 0, ci = 0;

		if ((rc = poll_cancel(cs, sh)))
			return rc;
		for (size_t i = base; i < end; i++) {
			sh->wpos[nc] = (uint32_t)(i - base);
			sh->widx[nc] = pidx[i];
			nc += pm[i] > thr;
		}
		sh->ncand += nc;
		smp_dist2_gather(cs->x, cs->d, sh->widx, nc, sh->c, sh->wd);
		for (size_t i = base; i < end; i++) {
			double mi = pm[i];
			uint32_t id = pidx[i];
			int cand = ci < nc && sh->wpos[ci] == i - base;
			double s = cand ? sh->wd[ci++] : 0;

			if (id == p)
				continue;
			if (cand && s < mi) {
				part_push(cs, np, s, id);
				continue;
			}
			pm[w] = mi;
			pidx[w++] = id;
			better(&best, &barg, mi, id);
		}
	}
	pt->len = w;
	pt->rmax = best;
	pt->arg = barg;
	return 0;
}

/* Pick number t is p (m was M, cluster a); tid 0, all points. */
static int parts_pick(struct cs *cs, int tid, uint32_t t, uint32_t p,
		      double M, uint32_t a, double q)
{
	struct shard *sh = &cs->sh[tid];
	struct part *np = &sh->parts[t];
	double lo = q * M;
	int rc;

	np->off = cs->atop;
	np->len = 0;
	np->rmax = -1;
	for (uint32_t j = 0; j < t; j++) {
		struct part *pt = &sh->parts[j];
		int force = j == a; /* p must leave this part */
		double thr;

		if (pt->rmax <= lo && !force)
			continue;
		thr = q * smp_dist2_fd(cs->x + (size_t)cs->picks[j] * cs->d,
				       sh->c, cs->d);
		if (pt->rmax <= thr && !force)
			continue;
		if ((rc = part_scan(cs, sh, pt, thr, p, np)))
			return rc;
	}
	return 0;
}

static void parts_best(struct cs *cs, int tid, uint32_t nparts, double *best,
		       uint32_t *arg, uint32_t *cl)
{
	struct shard *sh = &cs->sh[tid];

	*best = -1;
	*arg = 0;
	*cl = 0;
	for (uint32_t j = 0; j < nparts; j++) {
		struct part *pt = &sh->parts[j];
		if (pt->rmax > *best || (pt->rmax == *best && pt->rmax >= 0 &&
					 pt->arg < *arg)) {
			*best = pt->rmax;
			*arg = pt->arg;
			*cl = j;
		}
	}
}

/* flat -> parts, by tid 0 alone: every unpicked point joins its cluster's
 * part, laid out in cluster order in the arena (allocated on the first
 * switch, kept until the end). The parts come out in index order. */
static int to_parts(struct cs *cs, uint32_t nparts)
{
	struct part *parts = cs->sh[0].parts;
	size_t off = 0;

	if (!cs->am) {
		if (cs->n > SIZE_MAX / 2 / sizeof(*cs->am))
			return -ENOMEM;
		cs->acap = 2 * cs->n;
		cs->am = big_alloc(cs->acap * sizeof(*cs->am));
		cs->aidx = big_alloc(cs->acap * sizeof(*cs->aidx));
		if (!cs->am || !cs->aidx)
			return -ENOMEM;
	}
	for (uint32_t j = 0; j < nparts; j++) {
		parts[j].len = 0;
		parts[j].rmax = -1;
	}
	for (size_t i = 0; i < cs->n; i++)
		if (cs->m[i] >= 0)
			parts[cs->cl[i]].len++;
	for (uint32_t j = 0; j < nparts; j++) {
		parts[j].off = off;
		off += parts[j].len;
		parts[j].len = 0;
	}
	cs->atop = off;
	for (size_t i = 0; i < cs->n; i++) {
		struct part *pt;
		size_t e;
		if (cs->m[i] < 0)
			continue;
		pt = &parts[cs->cl[i]];
		e = pt->off + pt->len++;
		cs->am[e] = cs->m[i];
		cs->aidx[e] = (uint32_t)i;
		better(&pt->rmax, &pt->arg, cs->m[i], (uint32_t)i);
	}
	return 0;
}

/* ---- flat layout -------------------------------------------------------- */

/* parts -> flat, by tid 0 alone; empties the parts (the arena stays). */
static void to_flat(struct cs *cs, uint32_t nparts)
{
	struct shard *sh = &cs->sh[0];

	for (size_t i = 0; i < cs->n; i++) {
		cs->m[i] = -1;
		cs->mf[i] = -1;
	}
	for (uint32_t j = 0; j < nparts; j++) {
		struct part *pt = &sh->parts[j];
		for (size_t e = pt->off; e < pt->off + pt->len; e++) {
			uint32_t i = cs->aidx[e];
			cs->m[i] = cs->am[e];
			cs->mf[i] = round_up(cs->am[e]);
			cs->cl[i] = j;
		}
		pt->len = 0;
		pt->rmax = -1;
	}
	cs->atop = 0;
	for (size_t b = 0; b < cs->nb; b++)
		block_max(cs, b);
}

/* First pick: every point's distance to `start`, in the flat layout. Also
 * rejects non-finite input: D is finite iff both rows are. */
static int flat_init(struct cs *cs, int tid)
{
	struct shard *sh = &cs->sh[tid];
	size_t d = cs->d;
	int rc;

	widen(cs->x + (size_t)cs->start * d, d, sh->c);
	for (size_t b = block_first(tid); b < cs->nb; b = block_next(cs, b)) {
		size_t lo, hi;

		if ((rc = poll_cancel(cs, sh)))
			return rc;
		block_range(cs, b, &lo, &hi);
		smp_dist2_rows(cs->x, d, lo, hi, sh->c, cs->m + lo);
		for (size_t i = lo; i < hi; i++) {
			if (!(cs->m[i] <= 0x1.fffffffffffffp1023))
				return -EINVAL;
			cs->mf[i] = round_up(cs->m[i]);
			cs->cl[i] = 0;
		}
		if (cs->start >= lo && cs->start < hi) {
			cs->m[cs->start] = -1;
			cs->mf[cs->start] = -1;
		}
		block_max(cs, b);
	}
	sh->ncand = 0;
	for (size_t b = block_first(tid); b < cs->nb; b = block_next(cs, b)) {
		size_t lo, hi;
		block_range(cs, b, &lo, &hi);
		sh->ncand += hi - lo;
	}
	return 0;
}

/* Evaluates the batched candidates of flat_pick. A block's max needs a
 * rescan only when the point holding it moved (the others only went down
 * and were not above it); candidates come in index order, so each such
 * block is rescanned once, after its last candidate. */
static void flat_flush(struct cs *cs, struct shard *sh, uint32_t t)
{
	double *restrict m = cs->m;
	float *restrict mf = cs->mf;
	uint32_t *restrict cl = cs->cl;
	const uint32_t *widx = sh->widx;
	const double *wd = sh->wd;
	size_t dirty = SIZE_MAX;

	smp_dist2_gather(cs->x, cs->d, widx, sh->nw, sh->c, sh->wd);
	sh->ncand += sh->nw;
	for (size_t r = 0; r < sh->nw; r++) {
		uint32_t i = widx[r];
		size_t b = i / BLK;

		if (dirty != SIZE_MAX && b != dirty) {
			block_max(cs, dirty);
			dirty = SIZE_MAX;
		}
		if (!(wd[r] < m[i]))
			continue;
		m[i] = wd[r];
		mf[i] = round_up(wd[r]);
		cl[i] = t;
		if (i == cs->barg[b])
			dirty = b;
	}
	if (dirty != SIZE_MAX)
		block_max(cs, dirty);
	sh->nw = 0;
}

/* Queues the candidates of rows [lo, hi) in widx[nw..]; returns the new
 * count. Local restrict pointers: the stores to widx must not make the
 * compiler reload everything each row. */
static size_t flat_filter(const struct cs *cs, const float *restrict thrf,
			  size_t lo, size_t hi, uint32_t *restrict widx,
			  size_t nw)
{
	const float *restrict mf = cs->mf;
	const uint32_t *restrict cl = cs->cl;

	for (size_t i = lo; i < hi; i++) {
		widx[nw] = (uint32_t)i;
		nw += mf[i] > thrf[cl[i]];
	}
	return nw;
}

static int flat_pick(struct cs *cs, int tid, uint32_t t, uint32_t p,
		     double M, double q)
{
	struct shard *sh = &cs->sh[tid];
	size_t pb = p / BLK;
	double lo = q * M;
	int rc;

	/* Every threshold, eagerly: t distances, small next to a scan of
	 * n/T points; thrf[j] >= q·M rounded down for every j. */
	for (uint32_t j = 0; j < t; j++)
		sh->thrf[j] = round_down(
			q * smp_dist2_fd(cs->x + (size_t)cs->picks[j] * cs->d,
					 sh->c, cs->d));
	if (block_owner(cs, pb) == tid) {
		cs->m[p] = -1;
		cs->mf[p] = -1;
		block_max(cs, pb);
	}
	sh->nw = 0;
	for (size_t b = block_first(tid); b < cs->nb; b = block_next(cs, b)) {
		size_t blo, bhi;

		if ((rc = poll_cancel(cs, sh)))
			return rc;
		if (cs->bmax[b] <= lo)
			continue;
		block_range(cs, b, &blo, &bhi);
		sh->nw = flat_filter(cs, sh->thrf, blo, bhi, sh->widx, sh->nw);
		if (sh->nw >= BATCH)
			flat_flush(cs, sh, t);
	}
	if (sh->nw)
		flat_flush(cs, sh, t);
	return 0;
}

static void flat_best(struct cs *cs, int tid, double *best, uint32_t *arg,
		      uint32_t *cl)
{
	*best = -1;
	*arg = 0;
	for (size_t b = block_first(tid); b < cs->nb; b = block_next(cs, b))
		better(best, arg, cs->bmax[b], cs->barg[b]);
	*cl = *best >= 0 ? cs->cl[*arg] : 0;
}

/* ---- the traversal ------------------------------------------------------ */

static void publish(struct cs *cs, int tid, enum layout lay, uint32_t nparts,
		    int par, int rc)
{
	struct shard *sh = &cs->sh[tid];
	struct slot *s = &cs->slot[par][tid];

	s->max = -1;
	s->arg = s->cl = 0;
	/* After an error the layout may be half-updated: only stop counts. */
	if (!rc && lay == FLAT)
		flat_best(cs, tid, &s->max, &s->arg, &s->cl);
	else if (!rc)
		parts_best(cs, tid, nparts, &s->max, &s->arg, &s->cl);
	if (rc && !sh->err)
		sh->err = rc;
	s->ncand = sh->ncand;
	s->stop = rc != 0 || (tid == 0 && smp_cancelled(cs->ctl));
}

static void meet(struct cs *cs)
{
	if (cs->nt > 1)
		pthread_barrier_wait(&cs->bar);
}

static float scaled(double m, double norm)
{
	double s = norm > 0 && m > 0 ? sqrt(m) / norm : 0;

	return (float)(s > 1 ? 1 : s);
}

static void write_scores(struct cs *cs, int tid, enum layout lay,
			 uint32_t nparts, double norm)
{
	if (lay == FLAT) {
		for (size_t b = block_first(tid); b < cs->nb; b = block_next(cs, b)) {
			size_t lo, hi;
			block_range(cs, b, &lo, &hi);
			for (size_t i = lo; i < hi; i++)
				cs->score[i] = scaled(cs->m[i], norm);
		}
		return;
	}
	for (uint32_t j = 0; j < nparts; j++) {
		struct part *pt = &cs->sh[tid].parts[j];
		for (size_t e = pt->off; e < pt->off + pt->len; e++)
			cs->score[cs->aidx[e]] = scaled(cs->am[e], norm);
	}
}

/* A helper thread while tid 0 runs the parts layout alone: waits for the
 * end of solo phase number `phase`. Returns 1 if the traversal is over,
 * 0 to resume with the flat pick cs->resume_t. */
static int park(struct cs *cs, unsigned phase)
{
	int over;

	pthread_mutex_lock(&cs->park_mu);
	cs->nparked++;
	pthread_cond_broadcast(&cs->park_cv);
	while (cs->solo_done < phase)
		pthread_cond_wait(&cs->park_cv, &cs->park_mu);
	cs->nparked--;
	over = cs->over;
	pthread_mutex_unlock(&cs->park_mu);
	return over;
}

/* tid 0, starting a solo phase: waits until every helper has parked, i.e.
 * has finished reading the slots that tid 0 is about to overwrite. */
static void await_parked(struct cs *cs)
{
	pthread_mutex_lock(&cs->park_mu);
	while (cs->nparked < cs->nt - 1)
		pthread_cond_wait(&cs->park_cv, &cs->park_mu);
	pthread_mutex_unlock(&cs->park_mu);
}

/* tid 0: ends a solo phase, either resuming the helpers at flat pick t
 * (p, M, and the decision state ema) or telling them the traversal is
 * over. */
static void unpark(struct cs *cs, int over, uint32_t t, uint32_t p, double M,
		   double ema)
{
	pthread_mutex_lock(&cs->park_mu);
	cs->over = over;
	cs->resume_t = t;
	cs->resume_p = p;
	cs->resume_m = M;
	cs->resume_ema = ema;
	cs->solo_done++;
	pthread_cond_broadcast(&cs->park_cv);
	pthread_mutex_unlock(&cs->park_mu);
}

static void worker(void *arg, int tid, int nt)
{
	const double q = 1.0 / (4.0 * (1.0 + TAU) * (1.0 + TAU));
	struct cs *cs = arg;
	enum layout lay = FLAT;
	unsigned phases = 0; /* solo phases begun */
	uint32_t t = 1, p = 0, a = 0;
	double M, norm, ema = 0;
	int rc, stop;

	(void)nt;
	rc = flat_init(cs, tid);
	publish(cs, tid, lay, 1, 0, rc);
	meet(cs);
	for (;;) {
		int ns = lay == PARTS ? 1 : cs->nt;
		struct slot *sl = cs->slot[(t - 1) & 1];
		size_t ncand = 0;

		M = -1;
		stop = 0;
		for (int s = 0; s < ns; s++) {
			stop |= sl[s].stop;
			ncand += sl[s].ncand;
			if (sl[s].max > M || (sl[s].max == M && M >= 0 &&
					      sl[s].arg < p)) {
				M = sl[s].max;
				p = sl[s].arg;
				a = sl[s].cl;
			}
		}
		/* Candidates per pick, smoothed: one pick's count swings. */
		ema = t == 1 ? (double)ncand : ema + ((double)ncand - ema) / 4;
		if (tid == 0)
			smp_prog_tick(&cs->prog, t);
		if (stop || t == cs->k || M < 0 ||
		    (cs->min_dist > 0 && sqrt(M) < cs->min_dist))
			break;
		if (tid == 0) {
			cs->picks[t] = p;
			cs->pickm[t] = M;
		}
		/* Layout: in flat, every thread decides alike from the slots;
		 * parts is tid 0's alone, the helpers parked meanwhile (its
		 * picks are too short to be worth a barrier each). */
		rc = 0;
		if (lay == FLAT && cs->force != SMP_LAYOUT_FLAT &&
		    (ema < (double)(cs->n / TO_PARTS) ||
		     cs->force >= SMP_LAYOUT_PARTS)) {
			phases++;
			if (tid) {
				if (park(cs, phases))
					return;
				t = cs->resume_t;
				p = cs->resume_p;
				M = cs->resume_m;
				ema = cs->resume_ema;
			} else {
				await_parked(cs);
				rc = to_parts(cs, t);
				lay = PARTS;
				cs->switches++;
			}
		} else if (lay == PARTS && cs->force != SMP_LAYOUT_PARTS &&
			   (ema > (double)(cs->n / TO_FLAT) ||
			    cs->force == SMP_LAYOUT_ALTERNATE)) {
			to_flat(cs, t);
			lay = FLAT;
			cs->switches++;
			unpark(cs, 0, t, p, M, ema);
		}
		cs->sh[tid].ncand = 0;
		widen(cs->x + (size_t)p * cs->d, cs->d, cs->sh[tid].c);
		if (!rc)
			rc = lay == FLAT ? flat_pick(cs, tid, t, p, M, q)
					 : parts_pick(cs, tid, t, p, M, a, q);
		publish(cs, tid, lay, t + 1, (int)(t & 1), rc);
		if (lay == FLAT)
			meet(cs);
		t++;
	}
	/* Flat: every thread left the loop at the same t, right after a
	 * barrier, so all agree on t, stop, pickm[] and M (the next pick's
	 * distance). Parts: tid 0 is alone and releases the helpers. */
	if (tid == 0) {
		cs->npicks = t;
		cs->stopped = stop;
		if (lay == PARTS)
			unpark(cs, 1, t, 0, 0, 0);
	}
	if (stop)
		return;
	norm = sqrt(t >= 2 ? cs->pickm[1] : (M > 0 ? M : 0));
	write_scores(cs, tid, lay, t, norm);
	if (lay == FLAT)
		meet(cs); /* the picks' scores overwrite what was written */
	if (tid == 0) {
		cs->score[cs->picks[0]] = 1.0f;
		for (size_t i = 1; i < t; i++)
			cs->score[cs->picks[i]] = scaled(cs->pickm[i], norm);
	}
}

static int check_args(const float *x, size_t n, size_t d, size_t k,
		      size_t start, float min_distance, struct smp_result *out)
{
	if (!x || !out || n == 0 || d == 0 || k == 0 || k > n ||
	    start >= n || n > SMP_N_MAX || d > SMP_D_MAX ||
	    n > SIZE_MAX / sizeof(float) / d)
		return -EINVAL;
	if (!(min_distance >= 0.0f) || isinf(min_distance))
		return -EINVAL;
	return 0;
}

static void arrays_free(struct cs *cs)
{
	for (int s = 0; s < SMP_THREADS_MAX; s++) {
		struct shard *sh = &cs->sh[s];
		free(sh->parts);
		free(sh->c);
		free(sh->thrf);
		free(sh->wpos);
		free(sh->widx);
		free(sh->wd);
		memset(sh, 0, sizeof(*sh));
	}
	big_free(cs->m);
	big_free(cs->am);
	big_free(cs->aidx);
	free(cs->bmax);
	free(cs->barg);
	cs->m = NULL;
	cs->mf = NULL;
	cs->cl = NULL;
	cs->am = NULL;
	cs->aidx = NULL;
	cs->bmax = NULL;
	cs->barg = NULL;
}

static int arrays_alloc(struct cs *cs)
{
	size_t n = cs->n;

	cs->m = big_alloc(n * sizeof(*cs->m));
	cs->bmax = malloc(cs->nb * sizeof(*cs->bmax));
	cs->barg = malloc(cs->nb * sizeof(*cs->barg));
	cs->picks = malloc(cs->k * sizeof(*cs->picks));
	cs->pickm = malloc(cs->k * sizeof(*cs->pickm));
	if (!cs->m || !cs->bmax || !cs->barg ||
	    !cs->picks || !cs->pickm)
		return -ENOMEM;
	for (int s = 0; s < cs->nt; s++) {
		struct shard *sh = &cs->sh[s];
		sh->c = malloc(cs->d * sizeof(*sh->c));
		sh->thrf = malloc(cs->k * sizeof(*sh->thrf));
		sh->parts = s ? NULL : calloc(cs->k, sizeof(*sh->parts));
		sh->wpos = malloc(WIN * sizeof(*sh->wpos));
		sh->widx = malloc(WIN * sizeof(*sh->widx));
		sh->wd = malloc(WIN * sizeof(*sh->wd));
		if (!sh->c || !sh->thrf || (!s && !sh->parts) || !sh->wpos ||
		    !sh->widx || !sh->wd)
			return -ENOMEM;
	}
	return 0;
}

int smp_coreset(const float *x, size_t n, size_t d, size_t k, size_t start,
		float min_distance, const struct smp_ctl *ctl,
		struct smp_result *out)
{
	return smp_coreset_ex(x, n, d, k, start, min_distance, ctl,
			      SMP_LAYOUT_AUTO, NULL, out);
}

int smp_coreset_ex(const float *x, size_t n, size_t d, size_t k,
		   size_t start, float min_distance,
		   const struct smp_ctl *ctl, int layout, size_t *switches,
		   struct smp_result *out)
{
	struct cs *cs = NULL;
	struct smp_team *team = NULL;
	int rc, nt, bar = 0, parked = 0;

	if (out)
		memset(out, 0, sizeof(*out));
	if ((rc = check_args(x, n, d, k, start, min_distance, out)))
		return rc;
	if (!(cs = calloc(1, sizeof(*cs))))
		return -ENOMEM;
	cs->x = x;
	cs->n = n;
	cs->d = d;
	cs->k = k;
	cs->nb = (n + BLK - 1) / BLK;
	cs->start = (uint32_t)start;
	cs->min_dist = min_distance;
	cs->ctl = ctl;
	cs->force = layout;
	/* More shards than runs of blocks would only add barriers. */
	nt = smp_ctl_threads(ctl);
	if ((size_t)nt > (cs->nb + RUN - 1) / RUN)
		nt = (int)((cs->nb + RUN - 1) / RUN);
	if (nt > 1 && !(team = smp_team_create(nt))) {
		rc = -ENOMEM;
		goto out;
	}
	nt = smp_team_size(team);
	cs->nt = nt;
	if ((rc = arrays_alloc(cs)))
		goto out;
	cs->picks[0] = (uint32_t)start;
	cs->pickm[0] = INFINITY;
	if ((rc = smp_result_alloc(out, n)))
		goto out;
	cs->score = out->score;
	/* mf and cl live in the result until the traversal ends: score is
	 * written after their last use, order by the final sort. */
	cs->mf = out->score;
	cs->cl = out->order;
	if (nt > 1) {
		if (pthread_barrier_init(&cs->bar, NULL, (unsigned)nt)) {
			rc = -ENOMEM;
			goto out;
		}
		bar = 1;
	}
	if (pthread_mutex_init(&cs->park_mu, NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	if (pthread_cond_init(&cs->park_cv, NULL)) {
		pthread_mutex_destroy(&cs->park_mu);
		rc = -ENOMEM;
		goto out;
	}
	parked = 1;
	smp_prog_init(&cs->prog, ctl, k);
	smp_team_run(team, worker, cs);
	if (switches)
		*switches = cs->switches;
	for (int s = 0; s < nt; s++)
		if (cs->sh[s].err && (!rc || cs->sh[s].err == -ENOMEM))
			rc = cs->sh[s].err;
	if (!rc && cs->stopped)
		rc = -ECANCELED;
	if (rc)
		goto out;
	arrays_free(cs); /* before the final sort: keeps the peak low */
	rc = smp_finish_order(out, cs->picks, cs->npicks);
	out->picked = cs->npicks;
	if (!rc)
		smp_prog_end(&cs->prog);
out:
	smp_team_destroy(team);
	if (bar)
		pthread_barrier_destroy(&cs->bar);
	if (parked) {
		pthread_cond_destroy(&cs->park_cv);
		pthread_mutex_destroy(&cs->park_mu);
	}
	if (cs) {
		arrays_free(cs);
		free(cs->picks);
		free(cs->pickm);
	}
	free(cs);
	if (rc)
		smp_result_free(out);
	return rc;
}
