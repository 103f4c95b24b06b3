/*
 * runs.h — sampling runs of the embedded backend: the `sample` request
 * grammar, a background worker that runs strategies (sampling/) over the
 * vectors of an embedding (store/), and the texts of `sample`, `scores.csv`
 * and `plot.svg`.
 *
 * One worker thread per backend, started on the first request, runs queued
 * requests one at a time, oldest first. A request is accepted (and written
 * to the catalog as `queued`) before the write that carried it returns; the
 * work happens afterwards. Progress and cancellation of the running request
 * live in memory, under the runner's mutex; everything else is in the
 * catalog, so a remount shows the last finished run. Runs are numbered
 * 1, 2, 3… in each dataset (store_run.seq); that is the number users see.
 */
#ifndef SIEVEFS_CORE_RUNS_H
#define SIEVEFS_CORE_RUNS_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"

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
	int dim;                /* embed: 0 = the dataset's current option */
	int color;              /* embed: -1 = the dataset's, else 0/1 */
};

/* Parses one request line. 0, or -EINVAL with the reason in msg (unknown
 * strategy or key, bad value, missing argument). Pure. */
int core_req_parse(const char *line, struct core_req *out, char *msg,
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
int runner_plot_svg(struct runner *r, int64_t ds, const char *dsname,
		    char **out, size_t *len);

#endif
