/*
 * runs.h — sampling runs of the embedded backend: the `sample` request
 * grammar, a background worker that runs strategies (sampling/) over the
 * vectors of an embedding (store/), and the texts of `sample`, `scores.csv`
 * and `plot.svg`.
 *
 * Runs are a queue in the catalog (store/queue.c, store.h "the run
 * queue"): a request is written as a `queued` run before the write that
 * carried it returns, and a worker claims it (oldest first) under a lease.
 * One worker thread per backend runs claimed runs one at a time; a beat
 * thread renews the active run's lease every second and writes its
 * progress and phase, and reads whether `cancel` was asked, so `sample`
 * reads the same from every server of a shared catalog (the worker's own
 * server shows its memory's progress, at most one beat fresher). On an
 * embedded store (store_server_id 0) the worker starts on the first
 * request and sleeps until the next, as before; on a shared catalog
 * (PostgreSQL, several `sievefs serve`) it starts at once and also looks
 * every second for runs other servers queued, or left when they died (a
 * run whose lease expired is taken over and run again from its start; the
 * stale worker's writes are refused, so it completes once). A server
 * that stops hands its active run back (lease 0). The last rejected
 * request, the latest `keep` and a hand-written selection of each dataset
 * (the `rejected:` and `kept:` lines, plot.svg's note) are the catalog's
 * too (store_run_note_*). Runs are numbered 1, 2,
 * 3… in each dataset (store_run.seq); that is the number users see.
 *
 * SIEVEFS_LEASE_MS (store_lease_ns) shortens the lease for tests.
 */
#ifndef SIEVEFS_CORE_RUNS_H
#define SIEVEFS_CORE_RUNS_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"
#include "core/request.h"

struct runner;

/* The strategy used when a request names none: the one bench/quality
 * measured best. */
#define CORE_DEFAULT_STRATEGY "typicality"

/* A parsed request line of the `sample` file. */
enum core_req_kind { REQ_SAMPLE, REQ_KEEP, REQ_CANCEL, REQ_EMBED };
struct core_req {
	enum core_req_kind kind;
	char strategy[32];
	int64_t n;              /* 0 = all candidates (SAMPLE), count (KEEP) */
	char from[129];         /* "" = initial-tag */
	char embedding[129];    /* "" = latest uploaded */
	uint64_t seed;
	float min_distance;     /* coreset only; 0 = off */
	int dedup_on;           /* dedup=D (issue 21, i21c; core/dups.h): */
	float dedup;            /* near-duplicates within D ranked last */
	int dim;                /* embed: 0 = the dataset's current option */
	int color;              /* embed: -1 = the dataset's, else 0/1 */
	struct core_objs sel;    /* strategy "select": the objectives
				 * (core/request.h); sel.on = 0 otherwise */
};

/* Parses one request line. 0, or -EINVAL with the reason in msg (unknown
 * strategy or key, bad value, missing argument). Pure. */
int core_req_parse(const char *line, struct core_req *out, char *msg,
		   size_t msglen);
/* The value of dedup=D, in either form of request line (this one's and
 * core/request.c's): sets out->dedup_on and out->dedup. 0, or -EINVAL with
 * the reason in msg (not a number, not finite, negative). */
int core_req_dedup(const char *val, struct core_req *out, char *msg,
		   size_t msglen);

/* Returns NULL on out-of-memory. The runner does not own the store nor
 * the blob store it reads the samples' bytes from (core/blobs.h). */
struct core_blobs;
struct runner *runner_new(store *st, struct core_blobs *blobs);
/* Cancels the running request, stops the worker, frees. NULL is a no-op. */
void runner_free(struct runner *r);

/* Handles one request line for dataset ds: validates it against the
 * dataset (tags, embeddings), then queues it, keeps or cancels. 0 or -EINVAL
 * (reason in msg, also kept for the `sample` text) or another -errno. */
int runner_request(struct runner *r, int64_t ds, const char *line, char *msg,
		   size_t msglen);

/* 1 if dataset ds has a request queued or running that will set the
 * selection when it ends (a sample request; `embed` alone does not), with
 * the first such run's number in *seq and *running = 1 if it is the one
 * running (0: queued). 0 otherwise. Takes the runner's lock only. */
int runner_busy(struct runner *r, int64_t ds, int64_t *seq, int *running);
/* The selection of ds was written by other means than `keep`: `sample` no
 * longer says "kept:". */
void runner_selection_written(struct runner *r, int64_t ds);

/* "queued", "running", "done", "cancelled", "failed" (enum
 * store_run_status), "unknown" otherwise. */
const char *core_run_status_name(int status);

/* Texts of the control files; *out malloc'd (caller frees). */
int runner_status_text(struct runner *r, int64_t ds, char **out, size_t *len);
int runner_scores_text(struct runner *r, int64_t ds, char **out, size_t *len);
/* method: CORE_LAYOUT_* (core/layout.h). */
int runner_plot_svg(struct runner *r, int64_t ds, const char *dsname,
		    int method, char **out, size_t *len);

#endif
