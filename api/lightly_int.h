/*
 * lightly_int.h — what the two files of the lightly door share (private to
 * api/routes_lightly.c and api/lightly_urls.c; docs/api.md "The lightly
 * door"). routes_lightly.c has the routes over datasets, samples and
 * tags, and the router; lightly_jobs.c those of embeddings, sampling and
 * jobs; lightly_urls.c the signed URLs and the routes that take them.
 */
#ifndef SIEVEFS_API_LIGHTLY_INT_H
#define SIEVEFS_API_LIGHTLY_INT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "api/server_int.h"
#include "core/lightly.h"

#define LIGHTLY_URL_MAX 2048

/* 1 if s is 24 lower-case hex digits (every id of the door). */
static inline int srv_lightly_hex24(const char *s)
{
	return strlen(s) == 24 && strspn(s, "0123456789abcdef") == 24;
}

/* A signed URL for `method` on /lightly/signed/WHAT/OBJECT for the
 * request's user (kind: "full", "thumb", or "" for a CSV) into url, with
 * the request's Host and the server's scheme. 0 or -errno. */
int srv_lightly_make_url(struct srv *s, struct req *r, struct MHD_Connection *c,
			 const char *method, const char *what,
			 const char *object, const char *kind, char *url,
			 size_t len);
/* The object store's presigned URL of what a read of sample n (kind
 * "full" or "thumb") gives the request's user: 1 with url, 0 when there
 * is none (local blobs, or nothing of it this user may read: the signed
 * URL of ours answers why), -errno. */
int srv_lightly_read_url(struct srv *s, struct req *r,
			 const struct store_node *n, const char *kind,
			 char *url, size_t len);
/* 403 bad_signature with why. */
enum MHD_Result srv_lightly_refuse(struct MHD_Connection *c, const char *why);
/* Checks the request's signed URL (route "signed/WHAT/#"; r->path and
 * r->query set): signature and expiry (a write URL's single use is
 * claimed by its route, once the body is in); then authenticates as its
 * user. 0, or 1 answered into *ret. */
int srv_lightly_check_signed(struct srv *s, struct req *r,
			     struct MHD_Connection *c, const char *method,
			     enum MHD_Result *ret);

/* ---- routes_lightly.c's helpers ---- */

/* ns → ms, the client's times. */
int64_t srv_lightly_ms(int64_t ns);
/* The path segment after `word` in the request's path, or NULL. */
const char *srv_lightly_seg(const struct req *r, const char *word);
/* The request's dataset (the segment after "datasets", a uid) among the
 * owner's: 0, -ENOENT. */
int srv_lightly_ds(struct req *r, struct store_dataset *out);
/* The answer when srv_lightly_ds failed: 404 saying which id is unknown
 * and where the valid ones are listed, or the store's error. */
enum MHD_Result srv_lightly_ds_err(struct MHD_Connection *c, int rc);
/* Tag `uid` of dataset ds: 0 or -ENOENT. */
int srv_lightly_tag(struct req *r, int64_t ds, const char *uid,
		    struct store_tag *out);

/* ---- lightly_scores.c's route (issue 21, i21a): POST
 * /v1/datasets/{id}/tags/{tagId}/scores into metadata/lightly.csv ---- */
enum MHD_Result srv_lightly_scores(struct srv *s, struct req *r,
				   struct MHD_Connection *c);

/* The sample table of ds (a reference: hand it back with _table_done),
 * and Python's hex() of the integer whose bit k is bits[k] (malloc'd,
 * NULL when out of memory). */
struct tbl;
int srv_lightly_table(struct srv *s, int64_t ds, struct tbl **t);
void srv_lightly_table_done(struct srv *s, struct tbl *t);
char *srv_lightly_bitmask_hex(const uint8_t *bits, size_t n);

/* lightly_tags.c (issue 21, i21c): POST .../tags/arithmetics. */
enum MHD_Result srv_lightly_tag_arithmetics(struct srv *s, struct req *r,
					    struct MHD_Connection *c);

/* ---- lightly_jobs.c's routes (route_fn) ---- */

enum MHD_Result srv_lightly_embeddings(struct srv *s, struct req *r,
				       struct MHD_Connection *c);
enum MHD_Result srv_lightly_csv_url(struct srv *s, struct req *r,
				    struct MHD_Connection *c);
enum MHD_Result srv_lightly_sampling(struct srv *s, struct req *r,
				     struct MHD_Connection *c);
enum MHD_Result srv_lightly_job(struct srv *s, struct req *r,
				struct MHD_Connection *c);

/* The routes of signed URLs (route_fn). */
enum MHD_Result srv_lightly_signed_put(struct srv *s, struct req *r,
				       struct MHD_Connection *c);
enum MHD_Result srv_lightly_signed_get(struct srv *s, struct req *r,
				       struct MHD_Connection *c);
enum MHD_Result srv_lightly_signed_csv(struct srv *s, struct req *r,
				       struct MHD_Connection *c);

#endif
