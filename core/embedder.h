/*
 * embedder.h — the built-in embedding of a dataset, kept up to date.
 *
 * The embedding named `builtin` covers the images of the dataset's
 * initial-tag. Computing it:
 *   1. lists initial-tag's files and fingerprints them (paths, content
 *      hashes, options); if `builtin` was made from exactly that, done;
 *   2. for every distinct content hash without cached raw features (store:
 *      features), reads the blob, decodes and describes it (embed/) on all
 *      cores, in rounds whose results are committed one transaction each —
 *      so adding samples costs only the new ones, and a cancelled or killed
 *      run keeps what it finished;
 *   3. fits the projection (PCA) on the raw features and stores `builtin`.
 * Files that are not images (corrupt, truncated, unknown format) stay
 * samples but get no vector; the first time each is seen, `log` says why.
 */
#ifndef SIEVEFS_CORE_EMBEDDER_H
#define SIEVEFS_CORE_EMBEDDER_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"

#define CORE_BUILTIN_NAME "builtin"

struct core_embed_opts {
	int dim;        /* output dimension, 2..EMB_DIM_MAX */
	int color;      /* 1: colour features on */
};

void core_embed_defaults(struct core_embed_opts *o);
/* Applies one "key=value" option (dim=N, color=on|off) to o: 0, or -EINVAL
 * with the reason in why. */
int core_embed_opt(struct core_embed_opts *o, const char *key,
		   const char *val, char *why, size_t whylen);
/* "dim=48 color=on", parsed back by core_embed_opts_parse. */
void core_embed_opts_format(const struct core_embed_opts *o, char *buf,
			    size_t len);
int core_embed_opts_parse(const char *text, struct core_embed_opts *o);
/* The dataset's options: those of its last `embed` request, else the
 * defaults. */
void core_embed_opts_of(store *st, int64_t ds, struct core_embed_opts *o);

struct core_embed_ctl {
	volatile int *cancel;   /* polled; set to stop (-ECANCELED) */
	/* samples (files of initial-tag) done so far, of total: a content
	 * that several files share counts once per file */
	void (*progress)(void *arg, size_t done, size_t total);
	/* the step after the features: "projecting" (PCA of every image's
	 * features to vectors, then storing them); no count. May be NULL. */
	void (*phase)(void *arg, const char *name);
	void *arg;
	int threads;            /* decoding threads, >= 1 */
};

/* Brings dataset ds's `builtin` embedding up to date for options o (see
 * above), reading the samples' bytes from blob store b (core/blobs.h).
 * *emb = its id. 0; -ECANCELED; -EINVAL with the reason in why
 * (no sample, no sample is an image); another -errno (why says where). */
struct core_blobs;
int core_embed_builtin(store *st, struct core_blobs *b, int64_t ds,
		       const struct core_embed_opts *o,
		       const struct core_embed_ctl *ctl, int64_t *emb,
		       char *why, size_t whylen);

#endif
