/*
 * request.h — the selection form of the `sample` request (issue 21 item
 * 2): several objectives combined in one greedy selection (sampling/
 * select.c), with thresholds, a path regex, preselected samples and a
 * proportion. core/runs.c parses the old forms and hands a line in this
 * form to core_objs_parse; its worker runs it with core_objs_run.
 *
 * Grammar (blank-separated words; objectives joined by a lone `+`):
 *   OBJ [KEY=VALUE]... [+ OBJ [KEY=VALUE]...]... [GLOBAL=VALUE]...
 *   OBJ:  diversity | typicality | similarity | weights | threshold |
 *         balance | random
 *   per objective: strength=F (0 < F <= 100, default 1);
 *     similarity query=TAG; weights column=INPUT.COLUMN;
 *     threshold column=INPUT.COLUMN op=<|<=|>|>=|lt|le|gt|ge value=F;
 *     balance [column=INPUT.COLUMN] [target=uniform|CLASS:SHARE,...]
 *       (no column: the embedding CSV's labels);
 *   global, anywhere: n=N proportion=P (0 < P <= 1) from=TAG
 *     embedding=NAME seed=S min_distance=F path=REGEX preselected=TAG
 *     dedup=D (D >= 0: of each group of candidates with the same
 *     content, then of each whose vectors lie within D of one another,
 *     transitively — core/dups.h — one stays a candidate, the first by
 *     path that path= and the thresholds let through; none when a member
 *     is preselected; core/request_dedup.c).
 * A line is in this form when it has a `+`, names diversity, similarity,
 * weights or threshold, gives an objective's key (strength, column,
 * query, target, op, value) or one of proportion, path, preselected; so
 * every older request keeps its meaning (`typicality n=100` is still the
 * TypiClust strategy). With no objective named (`n=100 path=^a/`) the
 * objectives are typicality + diversity.
 *
 * Ownership: pure parsing into the caller's struct; core_objs_check and
 * core_objs_run read the catalog (tags, embeddings, columns via
 * core/columns.h) and never write it. Failure: -EINVAL with the reason
 * in why (the caller writes it to the dataset's log and refuses the
 * request), or another -errno.
 */
#ifndef SIEVEFS_CORE_REQUEST_H
#define SIEVEFS_CORE_REQUEST_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"

#define CORE_OBJS_MAX 8          /* objectives, thresholds */
#define CORE_OBJS_COL 160        /* a column spec */

struct core_objs_obj {
	int kind;               /* enum smp_obj_kind (sampling.h) */
	double strength;        /* default 1 */
	char column[CORE_OBJS_COL]; /* weights, balance ("" = labels) */
	char query[129];        /* similarity: a tag */
	char target[256];       /* balance: "" or "uniform" or "C:S,..." */
};
struct core_objs_thr {
	char column[CORE_OBJS_COL];
	int op;                 /* enum smp_op */
	double value;
};
struct core_objs {
	int on;                 /* the request is a selection */
	struct core_objs_obj obj[CORE_OBJS_MAX];
	size_t nobj;
	struct core_objs_thr thr[CORE_OBJS_MAX];
	size_t nthr;
	double proportion;      /* 0 = none */
	char path[256];         /* "" = every path */
	char preselected[129];  /* "" = none */
};

struct core_req;

/* 1 if line is in the selection form (see above). Pure. */
int core_objs_detect(const char *line);
/* Parses a selection line into q (kind REQ_SAMPLE, strategy "select",
 * the common fields and q->sel). 0, or -EINVAL with the reason in msg
 * (unknown objective or key, bad strength, operator, value, regex with
 * regerror's text). Pure. */
int core_objs_parse(const char *line, struct core_req *q, char *msg,
		   size_t msglen);
/* The canonical text of a parsed selection (parses back to the same);
 * the fuzzer's round trip. */
void core_objs_format(const struct core_req *q, char *buf, size_t len);
/* The dataset-dependent checks at request time: the query and
 * preselected tags exist, every column loads. 0, -EINVAL with why, or
 * another -errno. */
int core_objs_check(store *st, int64_t ds, const struct core_req *q,
		   char *why, size_t whylen);

/* allowed[i] = 1 if paths[i] matches the POSIX extended regex re (0
 * otherwise). 0, -EINVAL (why: regerror's text), -ENOMEM. */
int core_objs_path_mask(const char *re, char *const *paths, size_t n,
		       uint8_t *allowed, char *why, size_t whylen);

struct smp_threshold;
struct core_dups;
struct store_matrix;
/* ---- dedup=D (request_dedup.c) ---- */
/* For each group of g (indexes of candidates): clears allowed[] of every
 * member but the first that is allowed, not preselected (pre may be
 * NULL) and passes the nthr thresholds; a group with a preselected
 * member keeps none besides it. */
void core_objs_dedup_groups(const struct core_dups *g, const uint8_t *pre,
			    const struct smp_threshold *thr, size_t nthr,
			    uint8_t *allowed);
/* The exact groups (content hashes of the candidates' files in tree, the
 * one m was loaded from), then the near groups within q->dedup, both as
 * core_objs_dedup_groups. 0, -EINVAL with why, -ENOMEM, -errno. */
int core_objs_dedup(store *st, int64_t tree, const struct core_req *q,
		    const struct store_matrix *m, const uint8_t *pre,
		    const struct smp_threshold *thr, size_t nthr,
		    uint8_t *allowed, char *why, size_t whylen);
/* dedup=D before a selection, near groups only: clears allowed[j] (n flags, 1 = may be
 * picked) of every member of each near-duplicate group of x (n rows of
 * dim floats) but one: the first (in row order) that is allowed, not
 * preselected (pre, may be NULL) and passes the nthr thresholds; a group
 * with a preselected member keeps none besides it. 0, -EINVAL (d not a
 * distance core_dups_near takes), -ENOMEM (allowed unchanged then). */
int core_objs_dedup_mask(const float *x, size_t n, size_t dim, double d,
			 const uint8_t *pre, const struct smp_threshold *thr,
			 size_t nthr, uint8_t *allowed);

struct smp_ctl;
struct smp_result;
/* Runs selection q over the candidates m (embedding emb of dataset ds,
 * loaded from tree: the run's from= tag): loads the query and preselected
 * tags' vectors and the columns, then smp_select. res->picked = the
 * picks. 0, -EINVAL with why, -errno. */
int core_objs_run(store *st, int64_t ds, int64_t emb, int64_t tree,
		 const struct core_req *q, uint64_t seed,
		 const struct store_matrix *m,
		 const struct smp_ctl *ctl, struct smp_result *res, char *why,
		 size_t whylen);

#endif
