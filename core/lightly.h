/*
 * lightly.h — the lightly door's own records (api/routes_lightly.c,
 * lightly_jobs.c, lightly_urls.c) as core/ operations over store/lightly.h:
 * the 24-hex ids the lightly client holds for embeddings and sampling
 * jobs, a job's run and the tag it made, each dataset's image type, the
 * signed write URLs already used, and the secret that signs URLs.
 *
 * Design: the door is a thin translation onto core/'s operations; what it
 * keeps beside them is here, so api/ reaches no store/ function. An id
 * found for a request is checked in one call: the record exists, is of
 * the kind the route names, and its dataset is the request owner's —
 * else -ENOENT, the same answer for all three. Everything is in the
 * catalog (no server process holds state another needs): claims of write
 * URLs are rows, so a URL works once across every server.
 *
 * Layers (docs/design.md §2.1): the server (api/) calls these instead of
 * store/, which they call; store/ calls nothing here. The handle is the
 * opaque store of core/records.h, which callers only pass back.
 *
 * Errors: 0 or a negative errno. Thread-safe; every call blocks on the
 * catalog (core_lightly_key too: meta's lightly_key row).
 */
#ifndef SIEVEFS_CORE_LIGHTLY_H
#define SIEVEFS_CORE_LIGHTLY_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"

/* The id of (kind, dataset, name), made when there is none; for a job,
 * ref (its run) replaces the one recorded and its tag is reset. */
int core_lightly_id(store *st, int kind, int64_t ds, const char *name,
		    int64_t ref, struct store_lightly_id *out);
/* The record of id if it is of `kind` and its dataset is owner's (that
 * dataset into *d, may be NULL): 0 or -ENOENT. */
int core_lightly_find(store *st, const char *owner, int kind, const char *id,
		      struct store_lightly_id *out, struct store_dataset *d);
/* A job of owner's and its sampling run: 0 or -ENOENT. */
int core_lightly_job(store *st, const char *owner, const char *id,
		     struct store_lightly_id *job, struct store_run *run);
/* Records the tag a job made. */
int core_lightly_job_done(store *st, const char *id, int64_t tag);
/* The run a sample request `line` just queued in dataset ds: the newest
 * of the latest runs with that request (another may have been queued
 * meanwhile, by any door). 0 or -ENOENT. */
int core_lightly_run_of(store *st, int64_t ds, const char *line,
			struct store_run *out);

/* The dataset's image type as its initial tag recorded it ("full",
 * "thumbnail", "meta") into buf: 1, 0 when none was recorded, -errno. */
int core_lightly_img_type(store *st, int64_t ds, char *buf, size_t len);
int core_lightly_set_img_type(store *st, int64_t ds, const char *img);

/* Claims a signed write URL (its signature) until expires_ns: 0, or
 * -EEXIST when it was used before (a replay). */
int core_lightly_claim(store *st, const char *sig, int64_t expires_ns);
/* Gives a claim back (the write it guarded failed). */
void core_lightly_unclaim(store *st, const char *sig);
/* The server's secret for signed URLs (STORE_LIGHTLY_KEY_LEN bytes, made
 * on first use, owner-only). */
int core_lightly_key(store *st, unsigned char key[STORE_LIGHTLY_KEY_LEN]);

#endif
