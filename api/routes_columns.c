/*
 * routes_columns.c — the web app's per-sample columns (issue 21 item 6,
 * docs/api.md "Samples in bulk"): the names of a dataset's columns
 * (core/columns.h: predictions' uncertainty scores and classes, metadata
 * columns, builtin.* image metadata) and their values for every sample of
 * the sample table (core/table.h), in the table's order, as columnar JSON,
 * and their table (srv_routes_columns).
 *
 *   GET /v1/datasets/{id}/columns                      {"columns":[names]}
 *   GET /v1/datasets/{id}/columns?cols=all|I,J,..[&tag=TAGID|&selection=1]
 *       {"count":N,"gen":G,"columns":[{"name","kind":"number","values"} |
 *        {"name","kind":"category","categories":[..],"values":[k|-1..]}]}
 *
 * I, J index the name list (a column name comes from a user's CSV header
 * and may hold any byte, so the query names columns by position; each
 * answer echoes the names it holds). Values are in the table's order
 * (X-Sievefs-Count, X-Sievefs-Gen as the other bulk routes): a number or
 * null (no value), a category index or -1. With tag= (or selection=1) a
 * sample outside that tag has null / -1: the answer stays aligned with the
 * table and the tag's non-members cost two bytes each.
 *
 * Validator: the answer's ETag is a SHA-256 of its body (inputs live
 * outside the tree, so the table's gen alone does not name them); an
 * If-None-Match that matches answers 304 without the body. Names and
 * values come through core/colcache.h (kept per table gen and inputs
 * stamp): a repeated ask costs one catalog read, a copy and the JSON; the
 * first ask of a column parses its input's CSV, and builtin.* reads the
 * image metadata cache only: a value not computed yet is null and counted
 * in "pending" (never a decode inside a request: a first ask over 100k
 * photos would take minutes), the backend's filler is kicked to compute
 * them, and a later ask has them.
 *
 * Ownership: the dataset and tag are checked against the request's user
 * (404 as if absent); a tag of another dataset is a 404 too.
 * Threads: as every route (MHD's threads; the table cache is shared and
 * thread-safe).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server_int.h"
#include "core/colcache.h"
#include "core/columns.h"
#include "core/table.h"
#include "core/text.h"

#define COLS_MAX 64                 /* columns per request */

/* An answer's JSON at most (64 columns of ~700,000 samples): past it the
 * request is refused (413) rather than the server holding gigabytes. */
#define BODY_MAX ((size_t)1 << 30)

#define PUT(b, lit) tbuf_put(b, lit, sizeof(lit) - 1)

/* s as a JSON string (tbl_json_str: at most 6 bytes a byte, 2 quotes). */
static void put_str(struct tbuf *b, const char *s)
{
	size_t n = strlen(s);
	char small[256];
	char *q = 6 * n + 2 <= sizeof(small) ? small : malloc(6 * n + 2);

	if (!q) {
		if (!b->err)
			b->err = -ENOMEM;
		return;
	}
	tbuf_put(b, q, tbl_json_str(q, s, n));
	if (q != small)
		free(q);
}

/* "cols": "all" or I,J,... into idx (at most COLS_MAX, each < n): the
 * count, or -1 when malformed. */
static int parse_cols(const char *v, size_t n, size_t *idx)
{
	int k = 0;

	if (!strcmp(v, "all")) {
		for (size_t i = 0; i < n && i < COLS_MAX; i++)
			idx[k++] = i;
		return k;
	}
	while (*v) {
		char *end;
		unsigned long x;

		if (*v < '0' || *v > '9' || k == COLS_MAX)
			return -1;
		x = strtoul(v, &end, 10);
		if (x >= n)
			return -1;
		idx[k++] = x;
		v = end;
		if (*v == ',' && v[1])
			v++;
		else if (*v)
			return -1;
	}
	return k;
}

/* v into buf after sep as the shortest of %.15g and %.17g that reads back
 * as v (0.1 stays "0.1"; 1700000000123 keeps every digit). */
static int put_num(char *buf, size_t len, const char *sep, double v)
{
	int m = snprintf(buf, len, "%s%.15g", sep, v);

	if (strtod(buf + strlen(sep), NULL) != v)
		m = snprintf(buf, len, "%s%.17g", sep, v);
	return m;
}

/* Appends column c (aligned with t; in[i] = 0 leaves sample i out). */
static void put_column(struct tbuf *b, const char *name,
		       const struct sv_column *c, const uint8_t *in)
{
	char num[40];

	PUT(b, "{\"name\":");
	put_str(b, name);
	if (c->categorical) {
		PUT(b, ",\"kind\":\"category\",\"categories\":[");
		for (size_t k = 0; k < c->ncat; k++) {
			if (k)
				PUT(b, ",");
			put_str(b, c->names[k]);
		}
		PUT(b, "],\"values\":[");
		for (size_t i = 0; i < c->n; i++) {
			int32_t v = in && !in[i] ? -1 : c->cat[i];
			int m = snprintf(num, sizeof(num), i ? ",%d" : "%d",
					 (int)v);
			tbuf_put(b, num, (size_t)m);
		}
	} else {
		PUT(b, ",\"kind\":\"number\",\"values\":[");
		for (size_t i = 0; i < c->n; i++) {
			double v = c->v[i];
			int m;

			if ((in && !in[i]) || !isfinite(v))
				m = snprintf(num, sizeof(num), i ? ",null" :
					     "null");
			else
				m = put_num(num, sizeof(num), i ? "," : "", v);
			tbuf_put(b, num, (size_t)m);
		}
	}
	PUT(b, "]}");
}

/* The ETag of body: a quoted hex SHA-256 (prefix of 32 hex digits). */
static int body_etag(const char *p, size_t len, char etag[40])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned mdlen = 0;

	if (!EVP_Digest(p, len, md, &mdlen, EVP_sha256(), NULL) || mdlen < 16)
		return -ENOMEM;
	etag[0] = '"';
	for (int i = 0; i < 16; i++)
		snprintf(etag + 1 + 2 * i, 3, "%02x", md[i]);
	etag[33] = '"';
	etag[34] = 0;
	return 0;
}

static enum MHD_Result send_names(struct MHD_Connection *c, char **names,
				  size_t n)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *a = j ? cJSON_AddArrayToObject(j, "columns") : NULL;

	for (size_t i = 0; a && i < n; i++) {
		cJSON *s = cJSON_CreateString(names[i]);
		if (!s) {
			a = NULL;
			break;
		}
		cJSON_AddItemToArray(a, s);
	}
	if (!a) {
		cJSON_Delete(j);
		return srv_send_errno(c, -ENOMEM, NULL);
	}
	return srv_send_json(c, MHD_HTTP_OK, j);
}

/* The membership asked for by tag= / selection=1 into *in (t->n bytes,
 * malloc'd), or NULL with none asked: 0, or -1 answered into *ret. */
static int members(struct srv *s, struct req *r, struct MHD_Connection *c,
		   struct tbl *t, uint8_t **in, enum MHD_Result *ret)
{
	char v[32];
	int64_t tid = 0;
	int qt, qs;

	*in = NULL;
	if ((qt = srv_query(r, c, "tag", v, sizeof(v), ret)) < 0)
		return -1;
	if (qt && api_id_parse(v, &tid)) {
		*ret = srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
				    "EINVAL", "tag must be an id (a decimal"
				    " integer > 0)");
		return -1;
	}
	if ((qs = srv_query(r, c, "selection", v, sizeof(v), ret)) < 0)
		return -1;
	if (qs && strcmp(v, "1")) {
		*ret = srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
				    "EINVAL", "selection must be 1");
		return -1;
	}
	if (qt && qs) {
		*ret = srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
				    "EINVAL", "give tag or selection, not both");
		return -1;
	}
	if (!qt && !qs)
		return 0;
	return srv_table_members(s, r, c, t, qt ? tid : 0, in, ret);
}

static enum MHD_Result r_columns(struct srv *s, struct req *r,
				 struct MHD_Connection *c)
{
	struct store_dataset d;
	struct tbl_cache *tc = NULL;
	struct tbl *t = NULL;
	struct tbuf b;
	enum MHD_Result ret;
	size_t idx[COLS_MAX], nn = 0, pending = 0, len = 0;
	const char *specs[COLS_MAX];
	struct sv_column col[COLS_MAX];
	char **names = NULL, cols[1024], why[512], etag[40], *body = NULL;
	uint8_t *in = NULL;
	uint64_t stamp = 0;
	int q, k, rc;

	tbuf_init(&b, BODY_MAX);
	/* the dataset first: another user's is a 404 whatever the query */
	rc = srv_own_ds(s, r, r->id, &d);
	if (!rc)
		rc = colcache_stamp(s->st, r->id, &stamp);
	if (!rc)
		rc = colcache_names(s->st, r->id, stamp, &names, &nn);
	if (rc)
		return srv_send_errno(c, rc, rc == -ENOENT ?
				      "no such dataset" : NULL);
	if ((q = srv_query(r, c, "cols", cols, sizeof(cols), &ret)) < 0)
		goto out;
	if (!q) {
		ret = send_names(c, names, nn);
		goto out;
	}
	if ((k = parse_cols(cols, nn, idx)) < 0) {
		snprintf(why, sizeof(why), "cols must be all or up to %d"
			 " indexes into the column list (0..%zu), comma"
			 " separated", COLS_MAX, nn ? nn - 1 : 0);
		ret = srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
				   "EINVAL", why);
		goto out;
	}
	if (!(tc = srv_table_cache(s)))
		rc = -ENOMEM;
	else
		rc = tbl_get(tc, s->st, r->id, &t);
	if (rc) {
		t = NULL;
		ret = srv_send_errno(c, rc, rc == -ENOENT ? "no such dataset" :
				     NULL);
		goto out;
	}
	if (members(s, r, c, t, &in, &ret))
		goto out;
	tbuf_printf(&b, "{\"count\":%zu,\"gen\":", t->n);
	put_str(&b, t->gen_s);
	PUT(&b, ",\"columns\":[");
	for (int j = 0; j < k; j++)
		specs[j] = names[idx[j]];
	why[0] = 0;
	rc = colcache_columns(s->st, r->id, t->gen_s, stamp, specs, (size_t)k,
			      t->path, t->n, col, &pending, why, sizeof(why));
	if (rc) {
		ret = srv_send_errno(c, rc, why[0] ? why : NULL);
		goto out;
	}
	for (int j = 0; j < k; j++) {
		if (j)
			PUT(&b, ",");
		put_column(&b, names[idx[j]], &col[j], in);
		sv_column_free(&col[j]);
	}
	/* "pending": builtin.* values not computed yet (null above); the
	 * backend's filler computes them in the background, and a later ask
	 * has them */
	tbuf_printf(&b, "],\"pending\":%zu}", pending);
	if (pending && r->be->ops->imgmeta_fill)
		r->be->ops->imgmeta_fill(r->be, r->id, pending);
	if ((rc = tbuf_finish(&b, &body, &len)) || body_etag(body, len, etag)) {
		ret = srv_send_errno(c, rc ? rc : -ENOMEM, rc == -EFBIG ?
				     "the answer would be too large: ask for"
				     " fewer columns at once" : NULL);
		goto out;
	}
	{
		struct MHD_Response *resp;
		unsigned status = MHD_HTTP_OK;

		if (srv_none_match_hit(c, etag)) {
			status = MHD_HTTP_NOT_MODIFIED;
			resp = MHD_create_response_from_buffer(
				0, (char *)"", MHD_RESPMEM_PERSISTENT);
		} else {
			resp = MHD_create_response_from_buffer(
				len, body, MHD_RESPMEM_MUST_FREE);
			if (resp)
				body = NULL;
		}
		if (!resp) {
			ret = MHD_NO;
			goto out;
		}
		srv_table_headers(resp, t);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
					"private, no-cache");
		ret = srv_send_resp(c, status, resp, status == MHD_HTTP_OK ?
				    "application/json" : NULL);
	}
out:
	tbuf_free(&b);
	free(body);
	free(in);
	if (t)
		tbl_put(tc, &t->o);
	core_column_list_free(names, nn);
	return ret;
}

const struct route srv_routes_columns[] = {
	{ "datasets/#/columns", "GET", r_columns, B_NONE, 0 },
	{ NULL, NULL, NULL, B_NONE, 0 },
};
