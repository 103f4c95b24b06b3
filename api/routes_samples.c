/*
 * routes_samples.c — the web app's bulk routes over a dataset's sample
 * table (docs/api.md "Samples in bulk"), and their table
 * (srv_routes_samples; api/server_int.h says how a route is called).
 *
 *   GET /v1/datasets/{id}/table               the table, JSON (ETag)
 *   GET /v1/datasets/{id}/members?tag=TAGID   N bytes, 1 = in the tag
 *                                             (no tag: the selection)
 *   GET /v1/datasets/{id}/scores              N float32 + N int32
 *   GET /v1/datasets/{id}/layout?embedding=ID&method=pca|umap
 *                                             N×2 float32
 *
 * Every answer names the table it is in the order of: X-Sievefs-Count and
 * X-Sievefs-Gen (the app reloads the table when they differ from its own).
 * Binary arrays are little-endian with no header: the host's own order,
 * which the build checks below.
 *
 * Tables and layouts come from one cache per process (core/table.c,
 * srv_table_cache: the lightly door's routes use it too), made on first
 * use with the catalog's epoch (s->boot, core_catalog_epoch: the same on
 * every server of the catalog) as the gen's epoch and bounded to
 * TABLE_CACHE_BYTES; it lives as long as the process. Another server's
 * writes cannot make it serve a stale table: each request reads the live
 * tree's counter from the catalog (tbl_get: store_table_gen, moved by
 * triggers in the writer's transaction) and an entry is found only by
 * that counter, so a table and its gen, and thus the ETag, are the same
 * whichever server answers. The
 * table's JSON and a layout are sent from the cache without a copy: the
 * answer holds a reference, dropped by MHD's free callback once sent (so
 * an entry evicted meanwhile stays whole until then).
 * Ownership: the dataset, tag and embedding are checked against the
 * request's user (404 as if absent); a tag or embedding of another
 * dataset of the same user is a 404 too.
 *
 * Threads: handlers run in MHD's threads; they share only the cache
 * (thread-safe) and the store.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server_int.h"
#include "core/layout.h"
#include "core/table.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the bulk arrays are sent in host order, which must be little-endian"
#endif

#define TABLE_CACHE_BYTES (512u << 20)

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tbl_cache *cache;           /* under cache_lock until set */

struct tbl_cache *srv_table_cache(struct srv *s)
{
	struct tbl_cache *c;

	pthread_mutex_lock(&cache_lock);
	if (!cache)
		cache = tbl_cache_new(TABLE_CACHE_BYTES, s->boot);
	c = cache;
	pthread_mutex_unlock(&cache_lock);
	return c;
}

/* The count and gen headers of every answer in t's order. */
void srv_table_headers(struct MHD_Response *resp, const struct tbl *t)
{
	char n[24];

	snprintf(n, sizeof(n), "%zu", t->n);
	MHD_add_response_header(resp, "X-Sievefs-Count", n);
	MHD_add_response_header(resp, "X-Sievefs-Gen", t->gen_s);
}

/* 200 with resp (NULL: MHD_NO), an array in t's order. */
static enum MHD_Result send_array_resp(struct MHD_Connection *c,
				       const struct tbl *t,
				       struct MHD_Response *resp,
				       const char *name, const char *value)
{
	if (!resp)
		return MHD_NO;
	srv_table_headers(resp, t);
	if (name)
		MHD_add_response_header(resp, name, value);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"private, no-cache");
	return srv_send_resp(c, MHD_HTTP_OK, resp, "application/octet-stream");
}

/* The same with buf (malloc'd, taken over; len may be 0). */
static enum MHD_Result send_array(struct MHD_Connection *c,
				  const struct tbl *t, char *buf, size_t len,
				  const char *name, const char *value)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, buf,
						MHD_RESPMEM_MUST_FREE);

	if (!resp)
		free(buf);
	return send_array_resp(c, t, resp, name, value);
}

/* The caller's dataset r->id and its table: 0, or answered (1). */
static int own_table(struct srv *s, struct req *r, struct MHD_Connection *c,
		     struct tbl_cache **tc, struct tbl **t,
		     enum MHD_Result *ret)
{
	struct store_dataset d;
	int rc = srv_own_ds(s, r, r->id, &d);

	*t = NULL;
	if (!rc && !(*tc = srv_table_cache(s)))
		rc = -ENOMEM;
	if (!rc)
		rc = tbl_get(*tc, s->st, r->id, t);
	if (rc) {
		*ret = srv_send_errno(c, rc, rc == -ENOENT ? "no such dataset" :
				      NULL);
		return 1;
	}
	return 0;
}

/* An id query parameter: 1 with *id, 0 absent, -1 answered (400). */
static int query_id(struct req *r, struct MHD_Connection *c, const char *key,
		    int64_t *id, enum MHD_Result *ret)
{
	char v[32], msg[96];
	int q = srv_query(r, c, key, v, sizeof(v), ret);

	if (q <= 0)
		return q;
	if (api_id_parse(v, id)) {
		snprintf(msg, sizeof(msg), "%s must be an id (a decimal"
			 " integer > 0)", key);
		*ret = srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
				    "EINVAL", msg);
		return -1;
	}
	return 1;
}

/* ---- routes ---- */

/* MHD's free callback of an answer sent from the cache: the reference
 * the handler took stays with the answer until MHD is done with it. */
static void put_sent(void *cls)
{
	tbl_put(cache, cls);
}

/* A response of the cached bytes buf (len) of o, without a copy: o's
 * reference goes with it (also on failure: then dropped here). */
static struct MHD_Response *cached_resp(struct tbl_cache *tc,
					struct tbl_obj *o, void *buf,
					size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer_with_free_callback_cls(
			len, buf, put_sent, o);

	if (!resp)
		tbl_put(tc, o);
	return resp;
}

static enum MHD_Result r_table(struct srv *s, struct req *r,
			       struct MHD_Connection *c)
{
	struct MHD_Response *resp;
	struct tbl_cache *tc;
	struct tbl *t;
	enum MHD_Result ret;
	char etag[sizeof(t->gen_s) + 2];
	unsigned status = MHD_HTTP_OK;

	if (own_table(s, r, c, &tc, &t, &ret))
		return ret;
	snprintf(etag, sizeof(etag), "\"%s\"", t->gen_s);
	if (srv_none_match_hit(c, etag)) {
		status = MHD_HTTP_NOT_MODIFIED;
		resp = MHD_create_response_from_buffer(0, (char *)"",
						       MHD_RESPMEM_PERSISTENT);
		if (resp)
			srv_table_headers(resp, t);
		tbl_put(tc, &t->o);
	} else {
		/* t's reference goes with the response (t lives as long) */
		resp = cached_resp(tc, &t->o, t->json, t->json_len);
		if (resp)
			srv_table_headers(resp, t);
	}
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"private, no-cache");
	return srv_send_resp(c, status, resp, status == MHD_HTTP_OK ?
			     "application/json" : NULL);
}

int srv_table_members(struct srv *s, struct req *r, struct MHD_Connection *c,
		      struct tbl *t, int64_t tid, uint8_t **out,
		      enum MHD_Result *ret)
{
	struct store_tag tag;
	int rc = tid ? srv_own_tag(s, r, tid, &tag) : 0;

	*out = NULL;
	if (!rc && tid && tag.dataset != r->id)
		rc = -ENOENT;
	if (rc) {
		*ret = srv_send_errno(c, rc, rc == -ENOENT ?
				      "no such tag in this dataset" : NULL);
		return -1;
	}
	if (!(*out = malloc(t->n ? t->n : 1)))
		rc = -ENOMEM;
	else
		rc = tid ? tbl_members_tree(t, s->st, tag.id, *out) :
			   tbl_members_selection(t, s->st, *out);
	if (rc) {
		free(*out);
		*out = NULL;
		*ret = srv_send_errno(c, rc, NULL);
		return -1;
	}
	return 0;
}

static enum MHD_Result r_members(struct srv *s, struct req *r,
				 struct MHD_Connection *c)
{
	struct tbl_cache *tc;
	struct tbl *t;
	enum MHD_Result ret;
	int64_t tid = 0;
	uint8_t *buf;

	/* the dataset first: another user's is a 404 whatever the query */
	if (own_table(s, r, c, &tc, &t, &ret))
		return ret;
	if (query_id(r, c, "tag", &tid, &ret) >= 0 &&
	    !srv_table_members(s, r, c, t, tid, &buf, &ret))
		ret = send_array(c, t, (char *)buf, t->n, NULL, NULL);
	tbl_put(tc, &t->o);
	return ret;
}

static enum MHD_Result r_scores(struct srv *s, struct req *r,
				struct MHD_Connection *c)
{
	struct store_run run;
	struct tbl_cache *tc;
	struct tbl *t;
	enum MHD_Result ret;
	char num[24], *buf;
	int rc;

	if (own_table(s, r, c, &tc, &t, &ret))
		return ret;
	rc = core_run_latest_done(s->st, r->id, &run);
	if (rc == -ENOENT) {
		ret = srv_send_err(c, MHD_HTTP_NOT_FOUND, "no_run", "ENOENT",
				   "the dataset has no finished sampling run");
		goto out;
	}
	if (!rc && !(buf = malloc(t->n ? t->n * 8 : 1)))
		rc = -ENOMEM;
	if (!rc) {
		rc = tbl_scores(t, s->st, run.id, (float *)(void *)buf,
				(int32_t *)(void *)(buf + t->n * 4));
		if (rc)
			free(buf);
	}
	if (rc) {
		ret = srv_send_errno(c, rc, NULL);
		goto out;
	}
	snprintf(num, sizeof(num), "%" PRId64, run.seq);
	ret = send_array(c, t, buf, t->n * 8, "X-Sievefs-Run", num);
out:
	tbl_put(tc, &t->o);
	return ret;
}

static enum MHD_Result r_layout(struct srv *s, struct req *r,
				struct MHD_Connection *c)
{
	struct store_embedding e;
	struct tbl_layout *l;
	struct tbl_cache *tc;
	struct tbl *t;
	enum MHD_Result ret;
	int64_t eid = 0;
	int m = CORE_LAYOUT_DEFAULT, q, qm, rc;
	char v[16];

	if (own_table(s, r, c, &tc, &t, &ret))
		return ret;
	if ((q = query_id(r, c, "embedding", &eid, &ret)) < 0)
		goto out;
	/* issue 21, the layout (i21d): ?method=pca|umap */
	if ((qm = srv_query(r, c, "method", v, sizeof(v), &ret)) < 0)
		goto out;
	if (qm && (m = core_layout_parse(v)) < 0) {
		ret = srv_send_errno(c, -EINVAL, "method must be pca or umap");
		goto out;
	}
	if (q) {
		rc = srv_own_emb(s, r, eid, &e);
		if (!rc && e.dataset != r->id)
			rc = -ENOENT;
		if (rc) {
			ret = srv_send_errno(c, rc, rc == -ENOENT ?
					     "no such embedding in this"
					     " dataset" : NULL);
			goto out;
		}
	} else if ((rc = core_embedding_newest(s->st, r->id, &e))) {
		ret = rc == -ENOENT ?
		      srv_send_err(c, MHD_HTTP_NOT_FOUND, "no_embedding",
				   "ENOENT", "the dataset has no embedding") :
		      srv_send_errno(c, rc, NULL);
		goto out;
	}
	rc = tbl_layout_get(tc, s->st, t, e.id, m, &l);
	if (rc) {
		ret = srv_send_errno(c, rc, rc == -EINVAL ?
				     "the embedding's vectors cannot be"
				     " projected (a value is not finite)" :
				     NULL);
		goto out;
	}
	/* sent from the cache: l's reference goes with the response */
	ret = send_array_resp(c, t, cached_resp(tc, &l->o, l->xy, t->n * 8),
			      "X-Sievefs-Layout", core_layout_name(m));
out:
	tbl_put(tc, &t->o);
	return ret;
}

/* ---- the table ---- */

const struct route srv_routes_samples[] = {
	{ "datasets/#/table", "GET", r_table, B_NONE, 0 },
	{ "datasets/#/members", "GET", r_members, B_NONE, 0 },
	{ "datasets/#/scores", "GET", r_scores, B_NONE, 0 },
	{ "datasets/#/layout", "GET", r_layout, B_NONE, 0 },
	{ NULL, NULL, NULL, B_NONE, 0 },
};
