/*
 * runs.c — see runs.h for the design.
 *
 * Request grammar (one line; tokens separated by blanks):
 *   [STRATEGY] [n=N] [from=TAG] [embedding=NAME] [seed=S] [min_distance=F]
 *     [dedup=D]
 *   keep N
 *   cancel
 *   embed [dim=N] [color=on|off]
 * STRATEGY is random, coreset, typicality, kmeans or balance; a line of
 * only key=value words is a sample request with the default strategy, an
 * empty (or blank) line is refused. A line combining objectives
 * (`diversity + typicality n=100`, path=, preselected=, ...: the
 * selection form, core/request.h) is parsed by core/request.c and runs
 * as strategy "select". A sample
 * request whose embedding is the built-in one (named, or none uploaded)
 * first brings it up to date (core/embedder.c), in the same job; `embed`
 * alone does only that, and its options become the dataset's.
 *
 * Runs are numbered per dataset (store_run.seq): that number is what
 * `sample`, `log` and `info` show; the catalog id is internal.
 *
 * Threads and locking: the worker (claims and runs; owns the matrix it
 * loads and frees it before the next claim) and the beat (the active
 * run's lease and progress in the catalog). runner.lock protects the
 * active run's id, progress, phase and cancel/lost flags, kick and stop
 * (the per-dataset last errors and keeps are the catalog's run_notes); it
 * is never held while a strategy runs or the catalog is written.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/csv.h"
#include "core/dups.h"
#include "core/embedder.h"
#include "core/log.h"
#include "core/names.h"
#include "core/plot.h"
#include "core/request.h"
#include "core/runs.h"
#include "core/text.h"
#include "sampling/sampling.h"
#include "store/store.h"

#define TEXT_MAX (512u << 20)

static const char *const strategies[] = {
	"random", "coreset", "typicality", "kmeans", "balance",
};


struct runner {
	store *st;
	struct core_blobs *blobs;  /* the samples' bytes (core/blobs.h) */
	int64_t srv;            /* store_server_id: who claims (0: embedded) */
	int shared;             /* a shared catalog: poll for runs other
	                         * servers queued or left, release on stop */
	pthread_mutex_t lock;
	pthread_cond_t cond;    /* kick, stop; the beat's timer */
	pthread_t thread, beat;
	int started, stop, kick;
	int64_t active_run, active_ds;
	uint64_t ends;          /* runs this runner has let go of */
	volatile int cancel;    /* the active run stops (user, stop, lost) */
	int lost;               /* ... because its lease is no longer ours */
	size_t done, total;
	const char *phase;      /* of the active run: "embedding", "sampling" */
	const char *hold;       /* SIEVEFS_TEST_RUN_HOLD (test_hold), read
	                         * once; NULL when unset */
};

/* How often an idle worker of a shared catalog looks for runs other
 * servers queued or left behind, and how often the active run's beat
 * writes progress (a lease is renewed at least every third of it). */
#define POLL_NS 1000000000LL

/* ---- request parsing ---- */

static int parse_u64(const char *s, uint64_t *out)
{
	char *end;

	if (!*s || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = v;
	return 0;
}

int core_req_dedup(const char *val, struct core_req *out, char *msg,
		   size_t msglen)
{
	char *end;
	float f = strtof(val, &end);

	if (!*val || *end || !isfinite(f) || f < 0) {
		snprintf(msg, msglen, "dedup=%.64s: expected a distance >= 0",
			 val);
		return -EINVAL;
	}
	out->dedup_on = 1;
	out->dedup = f;
	return 0;
}

int core_req_parse(const char *line, struct core_req *out, char *msg,
		   size_t msglen)
{
	char buf[1024], *rest = buf, *tok;
	int first = 1;

	memset(out, 0, sizeof(*out));
	if (strlen(line) >= sizeof(buf)) {
		snprintf(msg, msglen, "request longer than %zu bytes",
			 sizeof(buf) - 1);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", line);
	if (!buf[strspn(buf, " \t\r\n")]) {
		snprintf(msg, msglen, "empty request: write one, e.g. `coreset"
			 " n=100`, `n=100` (default strategy %s), `keep 20`,"
			 " `cancel` or `embed`", CORE_DEFAULT_STRATEGY);
		return -EINVAL;
	}
	if (core_objs_detect(buf))   /* several objectives: request.c */
		return core_objs_parse(line, out, msg, msglen);
	out->kind = REQ_SAMPLE;
	out->color = -1;
	snprintf(out->strategy, sizeof(out->strategy), "%s",
		 CORE_DEFAULT_STRATEGY);
	for (; (tok = core_next_token(&rest)) != NULL; first = 0) {
		char *eq = strchr(tok, '=');
		if (first && !eq) {
			if (!strcmp(tok, "cancel") || !strcmp(tok, "keep")) {
				out->kind = !strcmp(tok, "cancel") ? REQ_CANCEL
								   : REQ_KEEP;
				continue;
			}
			if (!strcmp(tok, "embed")) {
				out->kind = REQ_EMBED;
				snprintf(out->strategy, sizeof(out->strategy),
					 "embed");
				continue;
			}
			size_t i, ns = sizeof(strategies) / sizeof(strategies[0]);
			for (i = 0; i < ns && strcmp(tok, strategies[i]); i++)
				;
			if (i == ns) {
				snprintf(msg, msglen, "unknown strategy '%.64s'"
					 " (known: random, coreset, typicality,"
					 " kmeans, balance; objectives"
					 " diversity, similarity, weights,"
					 " threshold joined by +; or keep N,"
					 " cancel, embed)",
					 tok);
				return -EINVAL;
			}
			snprintf(out->strategy, sizeof(out->strategy), "%s",
				 strategies[i]);
			continue;
		}
		if (out->kind == REQ_KEEP && !eq) {
			uint64_t v;
			if (out->n || parse_u64(tok, &v) || v == 0 ||
			    v > INT32_MAX) {
				snprintf(msg, msglen, "keep: '%.64s' is not a"
					 " positive count", tok);
				return -EINVAL;
			}
			out->n = (int64_t)v;
			continue;
		}
		if (out->kind == REQ_EMBED && eq) {
			struct core_embed_opts o = { out->dim, out->color };
			*eq = '\0';
			if (core_embed_opt(&o, tok, eq + 1, msg, msglen))
				return -EINVAL;
			out->dim = o.dim;
			out->color = o.color;
			continue;
		}
		if (out->kind != REQ_SAMPLE || !eq) {
			snprintf(msg, msglen, "unexpected '%.64s'", tok);
			return -EINVAL;
		}
		*eq = '\0';
		const char *key = tok, *val = eq + 1;
		uint64_t v;
		if (!strcmp(key, "n")) {
			if (parse_u64(val, &v) || v == 0 || v > INT32_MAX) {
				snprintf(msg, msglen, "n=%.64s: expected a"
					 " positive count", val);
				return -EINVAL;
			}
			out->n = (int64_t)v;
		} else if (!strcmp(key, "seed")) {
			if (parse_u64(val, &v)) {
				snprintf(msg, msglen, "seed=%.64s: expected a"
					 " non-negative integer", val);
				return -EINVAL;
			}
			out->seed = v;
		} else if (!strcmp(key, "from") || !strcmp(key, "embedding")) {
			if (!core_name_valid(val)) {
				snprintf(msg, msglen, "%s=%.64s: not a valid"
					 " name", key, val);
				return -EINVAL;
			}
			if (key[0] == 'f')
				snprintf(out->from, sizeof(out->from), "%s", val);
			else
				snprintf(out->embedding, sizeof(out->embedding),
					 "%s", val);
		} else if (!strcmp(key, "min_distance")) {
			char *end;
			float f = strtof(val, &end);
			if (!*val || *end || !isfinite(f) || f < 0) {
				snprintf(msg, msglen, "min_distance=%.64s:"
					 " expected a number >= 0", val);
				return -EINVAL;
			}
			out->min_distance = f;
		} else if (!strcmp(key, "dedup")) {   /* issue 21, i21c */
			if (core_req_dedup(val, out, msg, msglen))
				return -EINVAL;
		} else {
			snprintf(msg, msglen, "unknown key '%.64s' (known: n,"
				 " from, embedding, seed, min_distance, dedup)", key);
			return -EINVAL;
		}
	}
	if (out->kind == REQ_KEEP && out->n == 0) {
		snprintf(msg, msglen, "keep: expected a count, e.g. keep 20");
		return -EINVAL;
	}
	if (out->min_distance > 0 && strcmp(out->strategy, "coreset")) {
		snprintf(msg, msglen, "min_distance applies to coreset only");
		return -EINVAL;
	}
	return 0;
}

/* ---- runner state ---- */

/* The rejected request's reason, the latest keep and the hand-written
 * selection are the catalog's (store_run_note_*), so `sample` and
 * plot.svg say the same on every server and after a remount; a failed
 * write of them loses only that line, never the request's answer. */
static void note_error(struct runner *r, int64_t ds, const char *why)
{
	char line[600];

	store_run_note_error(r->st, ds, why, store_now_ns());
	snprintf(line, sizeof(line), "sample: %s", why);
	store_event_add(r->st, ds, STORE_ERROR, line);
}

static void note_keep(struct runner *r, int64_t ds, int64_t n, int64_t got,
		      int64_t seq)
{
	store_run_note_keep(r->st, ds, n, got, seq, store_now_ns());
}

void runner_selection_written(struct runner *r, int64_t ds)
{
	store_run_note_hand(r->st, ds, store_now_ns());
}

int runner_busy(struct runner *r, int64_t ds, int64_t *seq, int *running)
{
	struct store_run run;

	/* the catalog's, so every server answers alike */
	if (store_run_active(r->st, ds, &run))
		return 0;
	*seq = run.seq;
	*running = run.status == STORE_RUN_RUNNING;
	return 1;
}

/* Test-only: while the file SIEVEFS_TEST_RUN_HOLD names exists, the
 * run's worker waits at each progress step (its lease beat goes on; a
 * cancel still ends the wait), so a test can act on a run that is surely
 * still running whatever the machine's speed (t_runq_takeover kills the
 * server running it). */
static void test_hold(struct runner *r)
{
	while (r->hold && !r->cancel && access(r->hold, F_OK) == 0)
		usleep(10000);
}

static void on_progress(void *arg, size_t done, size_t total)
{
	struct runner *r = arg;

	test_hold(r);
	pthread_mutex_lock(&r->lock);
	r->done = done;
	r->total = total;
	pthread_mutex_unlock(&r->lock);
}

/* A step with no count of its own: `sample` shows its name and no
 * progress (the counts of the step before stay: an embed run reports
 * them). */
static void on_phase(void *arg, const char *name)
{
	struct runner *r = arg;

	pthread_mutex_lock(&r->lock);
	r->phase = name;
	pthread_mutex_unlock(&r->lock);
}

/* Runs the strategy of run `run` over matrix m. */
static int run_strategy(struct runner *r, const struct store_run *run,
			const struct store_matrix *m, size_t k, float mind,
			struct smp_result *res, char *why, size_t whylen)
{
	struct smp_ctl ctl = { .cancel = &r->cancel, .progress = on_progress,
			       .arg = r, .threads = 2 };
	uint64_t seed = (uint64_t)run->seed;
	const char *s = run->strategy;

	if (!strcmp(s, "random"))
		return smp_random(m->n, k, seed, &ctl, res);
	if (!strcmp(s, "coreset"))
		return smp_coreset(m->x, m->n, m->dim, k,
				   (size_t)(seed % m->n), mind, &ctl, res);
	if (!strcmp(s, "typicality"))
		return smp_typicality(m->x, m->n, m->dim, k, seed, &ctl, res);
	if (!strcmp(s, "kmeans"))
		return smp_kmeans(m->x, m->n, m->dim, k, seed, &ctl, res);
	if (!strcmp(s, "balance"))
		return smp_balance(m->labels, m->n, k, seed, &ctl, res);
	if (!strcmp(s, "select")) {
		struct core_req q;
		char ign[256];
		if (core_req_parse(run->request, &q, ign, sizeof(ign)) ||
		    !q.sel.on)
			return -EINVAL;
		return core_objs_run(r->st, run->dataset, run->emb,
				    run->from_tag, &q, seed, m, &ctl, res,
				    why, whylen);
	}
	return -EINVAL;
}

/* The `log` line of run's end with rc (status, counts and error set). */
static void end_line(struct runner *r, const struct store_run *run, int rc,
		     char *line, size_t len)
{
	struct store_tag t;

	if (store_tag_get_id(r->st, run->from_tag, &t))
		snprintf(t.name, sizeof(t.name), "?");
	if (rc == 0 && !strcmp(run->strategy, "embed"))
		snprintf(line, len, "sample: run %" PRId64 " done:"
			 " embed, %" PRId64 " sample%s", run->seq, run->total,
			 core_s(run->total));
	else if (rc == 0)
		snprintf(line, len, "sample: run %" PRId64 " done: %s"
			 " picked %" PRId64 " of %" PRId64 " candidate%s from"
			 " '%s' (%" PRId64 " skipped: no vector)",
			 run->seq, run->strategy, run->done, run->candidates,
			 core_s(run->candidates), t.name, run->skipped);
	else if (rc == -ECANCELED)
		snprintf(line, len, "sample: run %" PRId64 " cancelled",
			 run->seq);
	else
		snprintf(line, len, "sample: run %" PRId64 " failed: %s",
			 run->seq, run->error);
}

/* Ends run `run` with rc, unless `written` (store_run_finish_log wrote
 * the result, the status and the log line already): its final state and
 * its `log` line are written in one transaction only while this server
 * still holds it, so a run taken over is reported once, by the server
 * that finished it, and its line is in `log` once `sample` says it
 * ended. A run stopped because this server stops is handed back instead
 * on a shared catalog (its lease dropped: another server takes it over at
 * once). */
static void finish_run(struct runner *r, struct store_run *run, int rc,
		       const char *why, int written)
{
	char line[700];
	int lost, stop;

	if (written)
		return;
	pthread_mutex_lock(&r->lock);
	lost = r->lost;
	stop = r->stop;
	pthread_mutex_unlock(&r->lock);
	if (lost || rc == -ESTALE) {
		log_info("sample: run %" PRId64 " was taken over by another"
			 " server; this one's result is dropped", run->seq);
		return;
	}
	if (rc == -ECANCELED && stop && r->shared) {
		store_run_beat(r->st, run->id, r->srv, 0, 0, 0, "", NULL);
		return;
	}
	run->finished_ns = store_now_ns();
	if (rc == -ECANCELED) {
		run->status = STORE_RUN_CANCELLED;
		run->error[0] = '\0';     /* the status says it all */
	} else if (rc) {
		run->status = STORE_RUN_FAILED;
		snprintf(run->error, sizeof(run->error), "%s",
			 why ? why : strerror(-rc));
	} else {
		run->status = STORE_RUN_DONE;
	}
	end_line(r, run, rc, line, sizeof(line));
	if (store_run_end(r->st, run, rc && rc != -ECANCELED ? STORE_ERROR :
			  STORE_INFO, line) == -ESTALE)
		log_info("sample: run %" PRId64 " was taken over by another"
			 " server; this one's end is dropped", run->seq);
}

/* Brings the built-in embedding up to date for run `run` (an `embed`
 * request, or a sample request over the built-in embedding); sets
 * run->emb. The options: the dataset's, overridden by an embed request's. */
static int embed_phase(struct runner *r, struct store_run *run, char *why,
		       size_t whylen)
{
	struct core_embed_opts o;
	struct core_req q;
	char ign[256];
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	struct core_embed_ctl ctl = { .cancel = &r->cancel,
				      .progress = on_progress,
				      .phase = on_phase, .arg = r,
				      .threads = ncpu < 1 ? 1 : ncpu > 16 ? 16
							   : (int)ncpu };

	core_embed_opts_of(r->st, run->dataset, &o);
	if (!strcmp(run->strategy, "embed") &&
	    core_req_parse(run->request, &q, ign, sizeof(ign)) == 0) {
		if (q.dim)
			o.dim = q.dim;
		if (q.color >= 0)
			o.color = q.color;
	}
	pthread_mutex_lock(&r->lock);
	r->phase = "embedding";
	r->done = r->total = 0;
	pthread_mutex_unlock(&r->lock);
	return core_embed_builtin(r->st, r->blobs, run->dataset, &o, &ctl,
				  &run->emb, why, whylen);
}

/* 1 if the matrix's labels tell at least two classes apart. */
static int has_labels(const struct store_matrix *m)
{
	for (size_t i = 1; i < m->n; i++)
		if (m->labels[i] != m->labels[0])
			return 1;
	return 0;
}

/* Runs the claimed run `claimed` (status running, held by r->srv). */
static void do_job(struct runner *r, const struct store_run *claimed)
{
	struct store_run run = *claimed;
	struct store_matrix m;
	struct smp_result res = { 0 };
	struct store_embedding e;
	struct store_tag t;
	const char **paths = NULL;
	float *scores = NULL;
	char why[400];
	struct core_req q;
	size_t k;
	float mind = 0;
	int rc, written = 0;

	if (run.cancel) {       /* asked while its last holder ran it */
		finish_run(r, &run, -ECANCELED, NULL, 0);
		return;
	}
	if (!strcmp(run.strategy, "embed") || run.emb == 0) {
		why[0] = '\0';
		rc = embed_phase(r, &run, why, sizeof(why));
		if (rc || !strcmp(run.strategy, "embed")) {
			pthread_mutex_lock(&r->lock);
			run.done = (int64_t)r->done;
			run.total = (int64_t)r->total;
			pthread_mutex_unlock(&r->lock);
			finish_run(r, &run, rc, why[0] ? why : NULL, 0);
			return;
		}
		/* records run.emb, and the step that comes next (the claim's
		 * "starting" would be stale), in memory first so the beat
		 * cannot write the older phase over it; a run no longer ours
		 * stops here */
		on_phase(r, "loading");
		snprintf(run.phase, sizeof(run.phase), "loading");
		rc = store_run_put(r->st, &run);
		if (rc == -ESTALE) {
			finish_run(r, &run, rc, NULL, 0);
			return;
		}
	}
	on_phase(r, "loading");     /* the candidates' vectors, one query */
	rc = store_matrix_load(r->st, run.emb, run.from_tag, &m);
	if (rc) {
		finish_run(r, &run, rc, "cannot load the embedding", 0);
		return;
	}
	run.skipped = (int64_t)m.skipped;
	if (m.n == 0) {
		store_embedding_get_id(r->st, run.emb, &e);
		store_tag_get_id(r->st, run.from_tag, &t);
		snprintf(why, sizeof(why), "no candidates: no file of '%s' has a"
			 " vector in embedding '%s'", t.name, e.name);
		store_matrix_free(&m);
		finish_run(r, &run, -EINVAL, why, 0);
		return;
	}
	if (!strcmp(run.strategy, "balance") && !has_labels(&m)) {
		store_embedding_get_id(r->st, run.emb, &e);
		snprintf(why, sizeof(why), "balance: embedding '%s' has no"
			 " labels (all %zu candidates have the same one), so"
			 " there is nothing to balance; upload a CSV whose"
			 " labels column holds the classes, or use another"
			 " strategy", e.name, m.n);
		store_matrix_free(&m);
		finish_run(r, &run, -EINVAL, why, 0);
		return;
	}
	k = run.n > 0 && (size_t)run.n < m.n ? (size_t)run.n : m.n;
	/* The request was valid when accepted; only min_distance is not
	 * kept in its own column. */
	if (core_req_parse(run.request, &q, why, sizeof(why)) == 0)
		mind = q.min_distance;
	else
		q.dedup_on = 0;
	pthread_mutex_lock(&r->lock);
	r->phase = "sampling";
	r->done = 0;
	r->total = k;
	pthread_mutex_unlock(&r->lock);
	why[0] = '\0';
	rc = run_strategy(r, &run, &m, k, mind, &res, why, sizeof(why));
	/* a selection's picks are what it picked (thresholds, min_distance,
	 * proportion): never more */
	if (!rc && !strcmp(run.strategy, "select"))
		k = res.picked;
	/* dedup=D: near-duplicates of a better-ranked sample go last, and
	 * are never among the k kept (a selection of several objectives
	 * drops them from its candidates before it picks: request.c) */
	if (!rc && q.dedup_on && strcmp(run.strategy, "select")) {
		size_t kept = m.n;
		rc = core_dups_rerank(m.x, m.n, m.dim, q.dedup, res.order,
				      res.score, &kept);
		if (!rc && kept < k)
			k = kept;
		if (!rc && res.picked > k)
			res.picked = k;
	}
	if (!rc) {
		paths = malloc(m.n * sizeof(*paths));
		scores = malloc(m.n * sizeof(*scores));
		if (!paths || !scores)
			rc = -ENOMEM;
	}
	if (!rc) {
		for (size_t i = 0; i < m.n; i++) {
			paths[i] = m.paths[res.order[i]];
			scores[i] = res.score[res.order[i]];
		}
		/* coreset stops early at min_distance: keep what it picked */
		if (strcmp(run.strategy, "select") && res.picked > 0 &&
		    res.picked < k)
			k = res.picked;
		run.done = run.total = (int64_t)k;
		run.candidates = (int64_t)m.n;
		run.finished_ns = store_now_ns();
		run.error[0] = '\0';
		run.status = STORE_RUN_DONE;
		/* the result, status done and the log line in one
		 * transaction, only if the run is still ours (queue.c) */
		char line[700];
		end_line(r, &run, 0, line, sizeof(line));
		rc = store_run_finish_log(r->st, &run, m.n, paths, scores, k,
					  STORE_INFO, line);
		written = rc == 0;
	}
	finish_run(r, &run, rc, why[0] ? why : NULL, written);
	free(paths);
	free(scores);
	smp_result_free(&res);
	store_matrix_free(&m);
}

/* Claims and runs every claimable run, until none is left or the
 * runner stops: 0, or -errno when the catalog failed (the worker then
 * tries again after POLL_NS, embedded or not). */
static int drain(struct runner *r)
{
	struct store_run run;
	int rc;

	for (;;) {
		pthread_mutex_lock(&r->lock);
		int stop = r->stop;
		pthread_mutex_unlock(&r->lock);
		if (stop)
			return 0;
		rc = store_run_claimable(r->st);
		if (rc > 0)
			rc = store_run_claim(r->st, r->srv, store_now_ns() +
					     store_lease_ns(), &run);
		else if (rc == 0)
			rc = -ENOENT;
		if (rc)
			return rc == -ENOENT ? 0 : rc;
		pthread_mutex_lock(&r->lock);
		r->active_run = run.id;
		r->active_ds = run.dataset;
		r->cancel = r->stop;    /* a stop since the check above */
		r->lost = 0;
		r->done = r->total = 0;
		r->phase = "starting";
		pthread_cond_broadcast(&r->cond);       /* the beat */
		pthread_mutex_unlock(&r->lock);
		do_job(r, &run);
		pthread_mutex_lock(&r->lock);
		r->ends++;
		r->active_run = 0;
		r->active_ds = 0;
		pthread_mutex_unlock(&r->lock);
	}
}

/* r->lock held: waits until `until` (CLOCK_REALTIME ns) or a signal. */
static void wait_until(struct runner *r, int64_t until)
{
	struct timespec ts = { .tv_sec = until / 1000000000,
			       .tv_nsec = until % 1000000000 };

	pthread_cond_timedwait(&r->cond, &r->lock, &ts);
}

static void *worker(void *arg)
{
	struct runner *r = arg;

	pthread_mutex_lock(&r->lock);
	for (;;) {
		/* embedded: only this runner queues, so it sleeps until
		 * kicked; shared: other servers queue and die, so it also
		 * looks every POLL_NS */
		int64_t until = store_now_ns() + POLL_NS;
		while (!r->kick && !r->stop &&
		       (!r->shared || store_now_ns() < until)) {
			if (r->shared)
				wait_until(r, until);
			else
				pthread_cond_wait(&r->cond, &r->lock);
		}
		if (r->stop)
			break;
		r->kick = 0;
		pthread_mutex_unlock(&r->lock);
		int rc = drain(r);
		pthread_mutex_lock(&r->lock);
		if (rc && !r->stop) {
			/* the catalog failed (busy, unreachable): a queued run
			 * must not wait for the next request to be tried */
			log_warn("sample: cannot take the next run: %s; trying"
				 " again", strerror(-rc));
			wait_until(r, store_now_ns() + POLL_NS);
			r->kick = 1;
		}
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* The active run's heartbeat: every POLL_NS (well within a lease) its
 * progress goes to the catalog, its lease is renewed, and a cancel asked
 * on any server, or the loss of the lease, reaches the strategy. */
static void *beat_main(void *arg)
{
	struct runner *r = arg;

	pthread_mutex_lock(&r->lock);
	while (!r->stop) {
		int64_t id = r->active_run, done = (int64_t)r->done,
			total = (int64_t)r->total;
		char phase[16];
		snprintf(phase, sizeof(phase), "%s", r->phase ? r->phase : "");
		if (id) {
			int cancel = 0, rc;
			pthread_mutex_unlock(&r->lock);
			rc = store_run_beat(r->st, id, r->srv, store_now_ns() +
					    store_lease_ns(), done, total,
					    phase, &cancel);
			pthread_mutex_lock(&r->lock);
			if (r->active_run == id && (rc == -ESTALE || cancel)) {
				r->cancel = 1;
				r->lost |= rc == -ESTALE;
			}
		}
		/* idle: sleep until a claim wakes us (no timer while no run
		 * is active, so an idle mount does not wake each second) */
		if (!r->active_run && !r->stop) {
			pthread_cond_wait(&r->cond, &r->lock);
			continue;
		}
		int64_t until = store_now_ns() + POLL_NS;
		while (!r->stop && store_now_ns() < until)
			wait_until(r, until);
	}
	pthread_mutex_unlock(&r->lock);
	return NULL;
}

/* r->lock held: starts the worker and its beat once. */
static int start_locked(struct runner *r)
{
	if (r->started)
		return 0;
	if (pthread_create(&r->thread, NULL, worker, r))
		return -EAGAIN;
	if (pthread_create(&r->beat, NULL, beat_main, r)) {
		r->stop = 1;
		pthread_cond_broadcast(&r->cond);
		pthread_mutex_unlock(&r->lock);
		pthread_join(r->thread, NULL);
		pthread_mutex_lock(&r->lock);
		r->stop = 0;
		return -EAGAIN;
	}
	r->started = 1;
	return 0;
}

struct runner *runner_new(store *st, struct core_blobs *blobs)
{
	struct runner *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->st = st;
	r->blobs = blobs;
	r->srv = store_server_id(st);
	r->shared = r->srv != 0;
	/* read here, not at each progress step (on_progress runs per
	 * sample of a strategy's loop) */
	r->hold = getenv("SIEVEFS_TEST_RUN_HOLD");
	if (r->hold && !*r->hold)
		r->hold = NULL;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	/* a server of a shared catalog takes runs from the start: those
	 * queued on, or left by, other servers */
	if (r->shared) {
		pthread_mutex_lock(&r->lock);
		r->kick = 1;
		if (start_locked(r))
			log_warn("sample: cannot start the run worker; runs"
				 " queued here wait for another server");
		pthread_mutex_unlock(&r->lock);
	}
	return r;
}

void runner_free(struct runner *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = 1;
	r->cancel = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	if (r->started) {
		pthread_join(r->thread, NULL);
		pthread_join(r->beat, NULL);
	}
	pthread_cond_destroy(&r->cond);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* A run was queued here: wake the worker (starting it on first use). */
static int kick(struct runner *r)
{
	int rc;

	pthread_mutex_lock(&r->lock);
	rc = start_locked(r);
	r->kick = 1;
	pthread_cond_broadcast(&r->cond);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

/* Cancels the dataset's running request and everything it has queued,
 * on whichever server they are: 1 if there was any. */
static int cancel_ds(struct runner *r, int64_t ds)
{
	int64_t q = 0, a = 0;

	if (store_run_cancel(r->st, ds, &q, &a))
		return 0;
	pthread_mutex_lock(&r->lock);
	if (r->active_ds == ds && r->active_run)
		r->cancel = 1;          /* here: at once, not at the beat */
	pthread_mutex_unlock(&r->lock);
	return q + a > 0;
}

/* "top N of run R", and how many of those picks are gone (removed from
 * the run's tag since): what `sample` shows after `kept: ` and `log`
 * after `sample: kept `. */
static void keep_text(char *out, size_t len, int64_t n, int64_t got,
		      int64_t seq)
{
	if (got >= n)
		snprintf(out, len, "top %" PRId64 " of run %" PRId64, n, seq);
	else
		snprintf(out, len, "%" PRId64 " of the top %" PRId64 " of run"
			 " %" PRId64 " (%" PRId64 " of those picks were removed"
			 " since the run)", got, n, seq, n - got);
}

int runner_request(struct runner *r, int64_t ds, const char *line, char *msg,
		   size_t msglen)
{
	struct core_req q;
	struct store_run run = { 0 }, last;
	struct store_tag t;
	struct store_embedding e, *embs = NULL;
	size_t nemb = 0;
	char why[400];
	int rc;

	rc = core_req_parse(line, &q, why, sizeof(why));
	if (rc)
		goto bad;
	if (q.kind == REQ_CANCEL) {
		if (!cancel_ds(r, ds)) {
			snprintf(why, sizeof(why), "cancel: no request is queued"
				 " or running");
			rc = -EINVAL;
			goto bad;
		}
		store_event_add(r->st, ds, STORE_INFO, "sample: cancel requested");
		return 0;
	}
	if (q.kind == REQ_KEEP) {
		rc = store_run_latest_done(r->st, ds, &last);
		if (rc == -ENOENT) {
			snprintf(why, sizeof(why), "keep: no finished run to"
				 " keep from");
			rc = -EINVAL;
			goto bad;
		}
		int64_t ranked = 0;
		if (!rc)
			rc = store_run_keep(r->st, last.id, (size_t)q.n, &ranked);
		if (rc == -EINVAL) {
			snprintf(why, sizeof(why), "keep %" PRId64 ": the latest"
				 " run ranked only %" PRId64 " sample%s", q.n,
				 ranked, core_s(ranked));
			goto bad;
		}
		if (!rc) {
			int64_t got = q.n;
			store_selection_count(r->st, ds, &got);
			note_keep(r, ds, q.n, got, last.seq);
			char kt[200];
			keep_text(kt, sizeof(kt), q.n, got, last.seq);
			snprintf(why, sizeof(why), "sample: kept %s", kt);
			store_event_add(r->st, ds, STORE_INFO, why);
		}
		return rc;
	}
	if (q.kind == REQ_EMBED) {
		rc = store_tag_get(r->st, ds, "initial-tag", &t);
		if (rc)
			return rc;
		e.id = 0;
		goto queue;
	}
	rc = store_tag_get(r->st, ds, q.from[0] ? q.from : "initial-tag", &t);
	if (rc == -ENOENT) {
		snprintf(why, sizeof(why), "from=%s: no such tag", q.from);
		rc = -EINVAL;
		goto bad;
	}
	if (rc)
		return rc;
	if (!strcmp(q.embedding, CORE_BUILTIN_NAME)) {
		e.id = 0;               /* brought up to date by the job */
	} else if (q.embedding[0]) {
		rc = store_embedding_get(r->st, ds, q.embedding, &e);
		if (rc == -ENOENT) {
			snprintf(why, sizeof(why), "embedding=%s: no such"
				 " embedding (see embeddings/)", q.embedding);
			rc = -EINVAL;
			goto bad;
		}
	} else {
		/* the latest uploaded one, else the built-in embedder */
		rc = store_embedding_list(r->st, ds, &embs, &nemb);
		e.id = 0;
		for (size_t i = nemb; !rc && i-- > 0;)
			if (strcmp(embs[i].name, CORE_BUILTIN_NAME)) {
				e = embs[i];
				break;
			}
		free(embs);
	}
	if (rc)
		return rc;
	if (q.sel.on && (rc = core_objs_check(r->st, ds, &q, why,
					     sizeof(why)))) {
		if (rc == -EINVAL)
			goto bad;
		return rc;
	}
	if (!strcmp(q.strategy, "balance") && e.id == 0) {
		snprintf(why, sizeof(why), "balance: the built-in embedding"
			 " has no labels (all 0), so there is nothing to"
			 " balance; upload a CSV whose labels column holds the"
			 " classes (embedding=NAME), or use another strategy");
		rc = -EINVAL;
		goto bad;
	}
queue:
	run.dataset = ds;
	snprintf(run.request, sizeof(run.request), "%s", line);
	snprintf(run.strategy, sizeof(run.strategy), "%s", q.strategy);
	run.n = q.n;
	run.from_tag = t.id;
	run.emb = e.id;
	run.seed = (int64_t)q.seed;
	run.status = STORE_RUN_QUEUED;
	rc = store_run_create(r->st, &run);
	if (!rc)
		rc = kick(r);
	if (!rc) {
		snprintf(why, sizeof(why), "sample: run %" PRId64 " queued: %s",
			 run.seq, line);
		store_event_add(r->st, ds, STORE_INFO, why);
	}
	return rc;
bad:
	note_error(r, ds, why);
	snprintf(msg, msglen, "%s", why);
	return rc;
}

/* ---- texts ---- */

const char *core_run_status_name(int s)
{
	static const char *const names[] = { "queued", "running", "done",
					     "cancelled", "failed" };
	return s >= 0 && s <= 4 ? names[s] : "unknown";
}

/* The `selection:` line, and `kept:` when the latest `keep` made it. */
static void status_selection(struct runner *r, int64_t ds,
			     const struct store_run *run, struct tbuf *b)
{
	int64_t nsel = 0, keep_n = 0, keep_got = 0, keep_seq = 0;
	struct store_run_note nt;
	char kt[200];

	if (store_run_note_get(r->st, ds, &nt) == 0 && nt.keep_n &&
	    (!run || nt.keep_ns > run->created_ns)) {
		keep_n = nt.keep_n;
		keep_got = nt.keep_got;
		keep_seq = nt.keep_seq;
	}
	if (store_selection_count(r->st, ds, &nsel) == 0)
		tbuf_printf(b, "selection: %" PRId64 " sample%s\n", nsel,
			    core_s(nsel));
	if (keep_n) {
		keep_text(kt, sizeof(kt), keep_n, keep_got, keep_seq);
		tbuf_printf(b, "kept: %s\n", kt);
	}
}

/* What a phase without a count is doing, for `phase:`. */
static const char *phase_note(const char *phase)
{
	if (!strcmp(phase, "projecting"))
		return " (built-in embedder: PCA of the images' features,"
		       " storing the vectors)";
	if (!strcmp(phase, "loading"))
		return " (reading the candidates' vectors)";
	return "";
}

/* `skipped: N (no vector: WHY)`: the built-in embedder gives none to a
 * file it cannot decode (log says which and why); a CSV has no row for
 * it. */
static void skipped_text(struct tbuf *b, const struct store_run *run,
			 const struct store_embedding *e)
{
	tbuf_printf(b, "skipped: %" PRId64, run->skipped);
	if (run->emb == 0 || !strcmp(e->name, CORE_BUILTIN_NAME))
		tbuf_printf(b, " (no vector: not images)\n");
	else
		tbuf_printf(b, " (no vector: not in %s.csv)\n", e->name);
}

int runner_status_text(struct runner *r, int64_t ds, char **out, size_t *len)
{
	struct store_run run;
	struct store_tag t;
	struct store_embedding e;
	struct tbuf b;
	char err[512] = "";
	int64_t err_ns = 0;
	int rc;

	struct store_run_note nt;

	tbuf_init(&b, 1 << 20);
	if (store_run_note_get(r->st, ds, &nt) == 0) {
		snprintf(err, sizeof(err), "%s", nt.error);
		err_ns = nt.error_ns;
	}
	pthread_mutex_lock(&r->lock);
	uint64_t ends = r->ends;        /* before the row is read */
	pthread_mutex_unlock(&r->lock);
	rc = store_run_latest(r->st, ds, &run);
	if (rc == -ENOENT) {
		tbuf_printf(&b, "status: idle\n");
		status_selection(r, ds, NULL, &b);
		if (*err)
			tbuf_printf(&b, "rejected: %s\n", err);
		tbuf_printf(&b, "usage: echo \"[STRATEGY] [n=N] [from=TAG]"
			    " [embedding=NAME] [seed=S]\" > sample\n"
			    "       echo \"OBJECTIVE [KEY=V].. [+ OBJECTIVE"
			    " ..] [n=N|proportion=P] [path=REGEX]"
			    " [preselected=TAG]\" > sample\n"
			    "objectives: diversity typicality similarity"
			    " weights threshold balance random (README)\n"
			    "       echo \"embed [dim=N] [color=on|off]\" >"
			    " sample\n"
			    "strategies: random coreset typicality kmeans"
			    " balance (default %s)\n", CORE_DEFAULT_STRATEGY);
		return tbuf_finish(&b, out, len);
	}
	if (rc) {
		tbuf_free(&b);
		return rc;
	}
	if (store_tag_get_id(r->st, run.from_tag, &t))
		snprintf(t.name, sizeof(t.name), "(deleted)");
	if (run.emb == 0)
		snprintf(e.name, sizeof(e.name), "%s (to be computed)",
			 CORE_BUILTIN_NAME);
	else if (store_embedding_get_id(r->st, run.emb, &e))
		snprintf(e.name, sizeof(e.name), "(deleted)");
	/* The catalog's progress, which the run's worker writes at each
	 * beat wherever it runs; the worker's own server reads its memory,
	 * fresher by at most one beat (POLL_NS). */
	const char *phase = run.status == STORE_RUN_RUNNING && run.phase[0] ?
			    run.phase : NULL;
	pthread_mutex_lock(&r->lock);
	int here = r->active_run == run.id;
	int ended_since = r->ends != ends;
	if (here) {
		run.done = (int64_t)r->done;
		run.total = (int64_t)r->total;
		phase = r->phase;
	}
	pthread_mutex_unlock(&r->lock);
	/* The row was read before the lock: this runner may have ended the
	 * run since. It writes the end before it lets go of the run, so a
	 * row read now is at least as new as the memory just looked at (a
	 * stale row showed a running run's claim-time phase after its last
	 * one, t_messages). Only when this runner let go of a run between
	 * the two reads: another server's running run costs no second
	 * query. */
	if (!here && ended_since && run.status == STORE_RUN_RUNNING) {
		struct store_run now;

		if (store_run_get(r->st, run.id, &now) == 0) {
			run = now;
			phase = run.status == STORE_RUN_RUNNING &&
				run.phase[0] ? run.phase : NULL;
		}
	}
	int64_t end = run.finished_ns ? run.finished_ns : store_now_ns();
	double elapsed = run.started_ns ? (double)(end - run.started_ns) / 1e9
					: 0.0;
	int embedding = phase && !strcmp(phase, "embedding");
	int uncounted = phase && *phase_note(phase);
	tbuf_printf(&b, "status: %s\nrun: %" PRId64 "\nrequest: %s\n",
		    core_run_status_name(run.status), run.seq, run.request);
	if (!strcmp(run.strategy, "embed")) {
		struct core_embed_opts o;
		char opts[64];
		core_embed_opts_of(r->st, ds, &o);
		core_embed_opts_format(&o, opts, sizeof(opts));
		tbuf_printf(&b, "strategy: embed\nembedding: %s (%s)\n",
			    CORE_BUILTIN_NAME, run.status == STORE_RUN_DONE ?
			    opts : "as requested");
		if (phase)
			tbuf_printf(&b, "phase: %s%s\n", phase,
				    phase_note(phase));
		if (run.total > 0 && !uncounted)
			tbuf_printf(&b, "progress: %" PRId64 "/%" PRId64
				    " samples\n", run.done, run.total);
	} else {
		tbuf_printf(&b, "strategy: %s\nn: %s%" PRId64 "\nfrom: %s\n"
			    "embedding: %s\nseed: %" PRId64 "\n",
			    run.strategy, run.n ? "" : "all ", run.n, t.name,
			    e.name, run.seed);
		if (phase)
			tbuf_printf(&b, "phase: %s%s\n", phase, embedding ?
				    " (built-in embedder; progress counts"
				    " samples)" : phase_note(phase));
		if (run.total > 0 && !uncounted)
			tbuf_printf(&b, "progress: %" PRId64 "/%" PRId64 "\n",
				    run.done, run.total);
		if (run.status == STORE_RUN_DONE)
			tbuf_printf(&b, "candidates: %" PRId64 "\n",
				    run.candidates);
		skipped_text(&b, &run, &e);
	}
	tbuf_printf(&b, "elapsed: %.2fs\n", elapsed);
	status_selection(r, ds, &run, &b);
	if (run.error[0] && run.status != STORE_RUN_DONE)
		tbuf_printf(&b, "reason: %s\n", run.error);
	if (*err && err_ns > run.created_ns)
		tbuf_printf(&b, "rejected: %s\n", err);
	return tbuf_finish(&b, out, len);
}

static void put_csv_field(struct tbuf *b, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		tbuf_put(b, s, strlen(s));
		return;
	}
	tbuf_put(b, "\"", 1);
	for (const char *p = s; *p; p++) {
		if (*p == '"')
			tbuf_put(b, "\"", 1);
		tbuf_put(b, p, 1);
	}
	tbuf_put(b, "\"", 1);
}

static int put_score(void *arg, const char *path, double score)
{
	struct tbuf *b = arg;
	char num[32];

	put_csv_field(b, path);
	core_csv_fmt_float((float)score, num);
	tbuf_printf(b, ",%s\n", num);
	return b->err;
}

int runner_scores_text(struct runner *r, int64_t ds, char **out, size_t *len)
{
	struct store_run run;
	struct tbuf b;
	int rc;

	tbuf_init(&b, TEXT_MAX);
	tbuf_printf(&b, "filename,score\n");
	rc = store_run_latest_done(r->st, ds, &run);
	if (rc == 0)
		rc = store_run_scores_each(r->st, run.id, INT32_MAX, put_score,
					   &b);
	if (rc && rc != -ENOENT) {
		tbuf_free(&b);
		return rc;
	}
	return tbuf_finish(&b, out, len);
}

/* What made the selection of ds, for plot.svg's title: the latest `keep`
 * or hand-written list if it came after the latest finished run, else that
 * run (the catalog's run_notes: the same on every server and after a
 * restart). */
static void selection_note(struct runner *r, int64_t ds, char *out,
			   size_t len)
{
	struct store_run run;
	struct store_dataset d;
	struct store_tag t;
	int64_t keep_n = 0, keep_got = 0, keep_seq = 0, hand_ns = 0, nsel = 0;
	int have_run = store_run_latest_done(r->st, ds, &run) == 0;
	char kt[200];

	out[0] = '\0';
	if (store_dataset_get_id(r->st, ds, &d))
		return;
	if (store_tag_get_id(r->st, d.sel_tree, &t))
		snprintf(t.name, sizeof(t.name), "?");
	struct store_run_note nt;
	if (store_run_note_get(r->st, ds, &nt) == 0) {
		if (nt.keep_n && (!have_run || nt.keep_ns > run.created_ns)) {
			keep_n = nt.keep_n;
			keep_got = nt.keep_got;
			keep_seq = nt.keep_seq;
		}
		hand_ns = nt.hand_ns;
	}
	if (!d.sel_explicit) {
		snprintf(out, len, "all of %s: nothing sampled or written",
			 t.name);
	} else if (keep_n && have_run) {
		keep_text(kt, sizeof(kt), keep_n, keep_got, keep_seq);
		snprintf(out, len, "%s, %s", kt, run.strategy);
	} else if (hand_ns && (!have_run || hand_ns > run.finished_ns)) {
		snprintf(out, len, "written by hand, from %s", t.name);
	} else if (have_run && store_selection_count(r->st, ds, &nsel) == 0 &&
		   nsel == run.done && run.from_tag == d.sel_tree) {
		snprintf(out, len, "run %" PRId64 ", %s", run.seq,
			 run.strategy);
	} else {
		snprintf(out, len, "from %s", t.name);
	}
}

int runner_plot_svg(struct runner *r, int64_t ds, const char *dsname,
		    int method, char **out, size_t *len)
{
	char note[400];

	selection_note(r, ds, note, sizeof(note));
	return core_plot_svg(r->st, ds, dsname, note, method, out, len);
}
