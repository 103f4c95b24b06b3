/*
 * client.c — remote mode: every backend op as requests to a sievefs server
 * (docs/api.md), over libcurl, with cache/ in front. This file holds the
 * backend_ops table, the ops that are one request each (datasets, tags,
 * control files, embeddings, statfs), and the opening and closing of a
 * client. The rest, declared in api/client_int.h:
 *   client_http.c    the transport: one request with retries, errors to
 *                    errno, JSON requests, cache invalidation
 *   client_nodes.c   node ops, node records, lookups by listing
 *   client_fetch.c   reading sample bytes: blob fetch, prefetch
 *   client_upload.c  writing them: staging, commits per upload mode, pins
 *
 * Caches. Sample bytes: cache/blobs, by content hash — GET once, verified
 * against the hash, then served from disk; an upload's staging file is linked
 * into the cache as it is committed. Without -o cache_dir, one cache per
 * server and user under the default root (open_user_cache says why).
 * Metadata (JSON of GETs of datasets, tags, nodes, embeddings, statfs):
 * cache/meta for meta_ttl seconds, keyed by request path; our own changes
 * drop the affected prefixes at once. When the server cannot be reached, an
 * expired metadata entry is served rather than nothing (so cached files stay
 * readable with the server down). Control files (selection, info, log,
 * sample, scores, plot) are never cached. A lookup that misses is answered
 * by one listing of its folder (when the folder fits in a page and this
 * mount is not busy writing), which also primes the node records open
 * wants: warm reads of a tree cost a request per folder per meta_ttl, not
 * three per file (client_nodes.c). A blob missing at open queues its
 * folder's other blobs for background fetching (client_fetch.c).
 *
 * Invariants: every change this mount makes drops what it may have made
 * wrong in the metadata cache before the op returns, whether or not the
 * server took it (cl_changed_all after a dataset, tag, selection or
 * embedding change; cl_changed_nodes after a node change), so a mount
 * never reads back its own stale metadata. A URL is checked (url_check)
 * before anything is sent: http(s) only, plain http only to a literal
 * loopback host.
 *
 * Ownership: api_client_open allocates the struct client, which is the
 * backend; ops->destroy frees it once no op is running (prefetch threads
 * joined, every thread's curl handle freed, the token wiped). Records an op
 * returns in an array are malloc'd; the caller frees them.
 *
 * Threads: every op may run on any thread at once. A client's fields are
 * set at open and only read after, but for those under the locks of
 * client_int.h and the atomic `pinning`; the caches lock themselves. No
 * lock is held across a request. Not fork-safe (api/client.h).
 *
 * Failure: 0 or -errno, the errno a local mount would give (client_http.c
 * maps the server's answer); a reason for the user in msg where the op
 * has one. Opening fails with a message for the terminal.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "api/client.h"
#include "api/client_int.h"
#include "api/json.h"
#include "cache/blobs.h"
#include "cache/meta.h"
#include "core/exports.h"
#include "core/layout.h"
#include "core/log.h"

#define TEXT_MAX (512u << 20)          /* cap on a control file's text */
#define META_BYTES (64u << 20)

/* A body {"name": name}. */
static cJSON *name_body(const char *name)
{
	cJSON *j = cJSON_CreateObject();

	if (j && !cJSON_AddStringToObject(j, "name", name)) {
		cJSON_Delete(j);
		j = NULL;
	}
	return j;
}

static int one_dataset(const cJSON *j, void *out)
{
	return api_dataset_from_json(j, out);
}

static int one_tag(const cJSON *j, void *out)
{
	return api_tag_from_json(j, out);
}

static int one_emb(const cJSON *j, void *out)
{
	return api_embedding_from_json(j, out);
}

/* GET path and decode one record with `one`. */
static int get_one(struct client *c, const char *path,
		   int (*one)(const cJSON *, void *), void *out)
{
	cJSON *j;
	int rc = cl_get_json(c, path, 1, &j);

	if (!rc) {
		rc = one(j, out) ? -EIO : 0;
		cJSON_Delete(j);
	}
	return rc;
}

/* ---- datasets ---- */

/* GET a list (datasets or tags) at path, priming each item under
 * name_pre + its name and /v1/KIND/ + its id (see cl_prime), decoded by one. */
static int list_primed(struct client *c, const char *path, const char *key,
		       const char *name_pre, const char *id_pre, size_t size,
		       int (*one)(const cJSON *, void *), void **out,
		       size_t *n)
{
	cJSON *j;
	int fresh, rc = cl_get_json_f(c, path, 1, &j, &fresh);

	if (rc)
		return rc;
	if (fresh)
		cl_prime(c, j, key, path, name_pre, "id", id_pre);
	rc = cl_decode_list(j, key, size, one, out, n);
	cJSON_Delete(j);
	return rc;
}

/* POST {"name": name} to path (a new dataset or tag), decoded by one.
 * Names and counts anywhere may change: drop the cache. */
static int create_named(struct client *c, const char *path, const char *name,
			int (*one)(const cJSON *, void *), void *out, char *msg)
{
	cJSON *b = name_body(name), *j = NULL;
	int rc;

	if (!b)
		return -ENOMEM;
	rc = cl_send_json(c, "POST", path, b, &j, msg);
	cJSON_Delete(b);
	cl_changed_all(c);
	if (!rc)
		rc = j && !one(j, out) ? 0 : -EIO;
	cJSON_Delete(j);
	return rc;
}

static int c_dataset_list(struct backend *be, be_dataset **out, size_t *n)
{
	return list_primed(C(be), "/v1/datasets", "datasets",
			   "/v1/datasets?name=", "/v1/datasets/", sizeof(**out),
			   one_dataset, (void **)out, n);
}

static int c_dataset_get(struct backend *be, const char *name, be_dataset *out)
{
	char q[800], path[900];

	if (cl_pct(name, q, sizeof(q)) ||
	    cl_pathf(path, sizeof(path), "/v1/datasets?name=%s", q))
		return -ENOENT;
	return get_one(C(be), path, one_dataset, out);
}

static int c_dataset_get_id(struct backend *be, int64_t id, be_dataset *out)
{
	char path[64];

	if (id <= 0)
		return -ENOENT;
	cl_pathf(path, sizeof(path), "/v1/datasets/%lld", (long long)id);
	return get_one(C(be), path, one_dataset, out);
}

static int c_dataset_create(struct backend *be, const char *name,
			    be_dataset *out, char *msg)
{
	double t0 = now_s();
	int rc = create_named(C(be), "/v1/datasets", name, one_dataset, out,
			      msg);

	/* its initial-tag was empty when the request went out:
	 * client_whole.c (`mkdir ds; cp -r files ds/initial-tag/`) */
	if (!rc)
		cl_whole_made(C(be), out->live_root, t0);
	return rc;
}

/* DELETE /v1/KIND/ID (name NULL), or PATCH it to {"name": name}: a
 * dataset or a tag. Names and counts anywhere may change: drop the cache. */
static int change_by_id(struct backend *be, const char *kind, int64_t id,
			const char *name, char *msg)
{
	cJSON *b = name ? name_body(name) : NULL;
	char path[64];
	int rc;

	if (name && !b)
		return -ENOMEM;
	cl_pathf(path, sizeof(path), "/v1/%s/%lld", kind, (long long)id);
	rc = cl_send_json(C(be), name ? "PATCH" : "DELETE", path, b, NULL, msg);
	cJSON_Delete(b);
	cl_changed_all(C(be));
	return rc;
}

static int c_dataset_delete(struct backend *be, int64_t id, char *msg)
{
	return change_by_id(be, "datasets", id, NULL, msg);
}

static int c_dataset_rename(struct backend *be, int64_t id, const char *name,
			    char *msg)
{
	return change_by_id(be, "datasets", id, name, msg);
}

static int c_dataset_set_tag_folders(struct backend *be, int64_t id,
				     const char *value, char *msg)
{
	cJSON *b = cJSON_CreateObject();
	char path[64];
	int rc;

	if (!b || !cJSON_AddStringToObject(b, "tag_folders", value)) {
		cJSON_Delete(b);
		return -ENOMEM;
	}
	cl_pathf(path, sizeof(path), "/v1/datasets/%lld", (long long)id);
	rc = cl_send_json(C(be), "PATCH", path, b, NULL, msg);
	cJSON_Delete(b);
	cl_changed_all(C(be));
	return rc;
}

/* ---- tags ---- */

static int c_tag_list(struct backend *be, int64_t ds, be_tag **out, size_t *n)
{
	char path[64], fmt[96];

	cl_pathf(path, sizeof(path), "/v1/datasets/%lld/tags", (long long)ds);
	cl_pathf(fmt, sizeof(fmt), "/v1/datasets/%lld/tags?name=",
		 (long long)ds);
	return list_primed(C(be), path, "tags", fmt, "/v1/tags/",
			   sizeof(**out), one_tag, (void **)out, n);
}

static int c_tag_get(struct backend *be, int64_t ds, const char *name,
		     be_tag *out)
{
	char q[800], path[900];

	if (cl_pct(name, q, sizeof(q)) ||
	    cl_pathf(path, sizeof(path), "/v1/datasets/%lld/tags?name=%s",
		     (long long)ds, q))
		return -ENOENT;
	return get_one(C(be), path, one_tag, out);
}

static int c_tag_get_id(struct backend *be, int64_t id, be_tag *out)
{
	char path[64];

	if (id <= 0)
		return -ENOENT;
	cl_pathf(path, sizeof(path), "/v1/tags/%lld", (long long)id);
	return get_one(C(be), path, one_tag, out);
}

static int c_tag_create(struct backend *be, int64_t ds, const char *name,
			be_tag *out, char *msg)
{
	char path[64];

	cl_pathf(path, sizeof(path), "/v1/datasets/%lld/tags", (long long)ds);
	return create_named(C(be), path, name, one_tag, out, msg);
}

static int c_tag_delete(struct backend *be, int64_t tag, char *msg)
{
	int rc = change_by_id(be, "tags", tag, NULL, msg);

	if (!rc)
		cl_pins_reconcile(C(be), "a tag was deleted");
	return rc;
}

static int c_tag_rename(struct backend *be, int64_t tag, const char *name,
			char *msg)
{
	return change_by_id(be, "tags", tag, name, msg);
}

/* ---- control files ---- */

static int get_text(struct client *c, const char *path, char **out,
		    size_t *len)
{
	struct req r = REQ("GET", path);
	int rc;

	r.max = TEXT_MAX;
	rc = cl_http(c, &r);
	if (rc) {
		cl_req_free(&r);
		return rc;
	}
	*out = r.resp.p ? r.resp.p : strdup("");
	*len = r.resp.len;
	return *out ? 0 : -ENOMEM;
}

static int ds_text(struct backend *be, int64_t ds, const char *what,
		   char **out, size_t *len)
{
	char path[96];

	cl_pathf(path, sizeof(path), "/v1/datasets/%lld/%s", (long long)ds,
		 what);
	return get_text(C(be), path, out, len);
}

static int c_selection_read(struct backend *be, int64_t ds, char **out,
			    size_t *len)
{
	return ds_text(be, ds, "selection", out, len);
}

static int send_text(struct client *c, const char *method, const char *path,
		     const char *ctype, const char *text, size_t len,
		     char *msg)
{
	struct req r = REQ(method, path);
	int rc;

	r.body = text ? text : "";
	r.blen = len;
	r.ctype = ctype;
	r.msg = msg;
	rc = cl_http(c, &r);
	cl_req_free(&r);
	return rc;
}

static int c_selection_write(struct backend *be, int64_t ds, const char *text,
			     size_t len, int flags, char *msg)
{
	char path[128];
	int rc;

	cl_pathf(path, sizeof(path), "/v1/datasets/%lld/selection%s%s",
		 (long long)ds, flags & BE_SEL_APPEND ? "?append=1" : "",
		 !(flags & BE_SEL_CHECK) ? "" : flags & BE_SEL_APPEND ?
		 "&check=1" : "?check=1");
	rc = send_text(C(be), "PUT", path, "text/plain", text, len, msg);
	if (!(flags & BE_SEL_CHECK))
		cl_changed_all(C(be));
	return rc;
}

static int c_info_read(struct backend *be, int64_t ds, char **out, size_t *len)
{
	return ds_text(be, ds, "info", out, len);
}

static int c_log_read(struct backend *be, int64_t ds, char **out, size_t *len)
{
	return ds_text(be, ds, "log", out, len);
}

static void c_log_event(struct backend *be, int64_t ds, int level,
			const char *msg)
{
	cJSON *b;
	char path[96];

	if (level == STORE_ERROR)
		log_warn("%s", msg);
	else
		log_debug("%s", msg);
	if (ds <= 0)
		return;
	b = cJSON_CreateObject();
	if (b && cJSON_AddStringToObject(b, "level", level == STORE_ERROR ?
					 "error" : "info") &&
	    cJSON_AddStringToObject(b, "message", msg)) {
		cl_pathf(path, sizeof(path), "/v1/datasets/%lld/log",
			 (long long)ds);
		cl_send_json(C(be), "POST", path, b, NULL, NULL);
	}
	cJSON_Delete(b);
}

static int c_sample_request(struct backend *be, int64_t ds, const char *line,
			    char *msg)
{
	char path[96];

	cl_pathf(path, sizeof(path), "/v1/datasets/%lld/sample", (long long)ds);
	return send_text(C(be), "POST", path, "text/plain", line, strlen(line),
			 msg);
}

static int c_sample_read(struct backend *be, int64_t ds, char **out,
			 size_t *len)
{
	return ds_text(be, ds, "sample", out, len);
}

static int c_scores_read(struct backend *be, int64_t ds, char **out,
			 size_t *len)
{
	return ds_text(be, ds, "scores.csv", out, len);
}

static int c_plot_read(struct backend *be, int64_t ds, int method, char **out,
		       size_t *len)
{
	return ds_text(be, ds, method == CORE_LAYOUT_UMAP ?
		       "plot.svg?method=umap" : "plot.svg", out, len);
}

/* issue 21 item 5: a tag's export, made by the server (its Label Studio
 * images are URLs it serves; prefix is for embedded mode only). */
static int c_export_read(struct backend *be, int64_t tag, int fmt,
			 const char *prefix, char **out, size_t *len)
{
	const char *word = core_export_word(fmt);
	char path[96];

	(void)prefix;
	if (!word)
		return -EINVAL;
	cl_pathf(path, sizeof(path), "/v1/tags/%lld/export?format=%s",
		 (long long)tag, word);
	return get_text(C(be), path, out, len);
}

/* issue 21 (i21c): the `duplicates` file, on the server. */
static int c_dups_read(struct backend *be, int64_t ds, char **out,
		       size_t *len)
{
	return ds_text(be, ds, "duplicates", out, len);
}

static int c_dups_config(struct backend *be, int64_t ds, const char *line,
			 char *msg)
{
	char path[96];

	cl_pathf(path, sizeof(path), "/v1/datasets/%lld/duplicates",
		 (long long)ds);
	return send_text(C(be), "POST", path, "text/plain", line, strlen(line),
			 msg);
}

/* ---- embeddings ---- */

static int c_emb_list(struct backend *be, int64_t ds,
		      struct store_embedding **out, size_t *n)
{
	char path[96];
	cJSON *j;
	int rc;

	cl_pathf(path, sizeof(path), "/v1/datasets/%lld/embeddings",
		 (long long)ds);
	rc = cl_get_json(C(be), path, 1, &j);
	if (rc)
		return rc;
	rc = cl_decode_list(j, "embeddings", sizeof(**out), one_emb,
			    (void **)out, n);
	cJSON_Delete(j);
	return rc;
}

static int c_emb_get(struct backend *be, int64_t ds, const char *name,
		     struct store_embedding *out)
{
	char q[800], path[900];

	if (cl_pct(name, q, sizeof(q)) ||
	    cl_pathf(path, sizeof(path), "/v1/datasets/%lld/embeddings?name=%s",
		     (long long)ds, q))
		return -ENOENT;
	return get_one(C(be), path, one_emb, out);
}

static int c_emb_get_id(struct backend *be, int64_t id,
			struct store_embedding *out)
{
	char path[64];

	if (id <= 0)
		return -ENOENT;
	cl_pathf(path, sizeof(path), "/v1/embeddings/%lld", (long long)id);
	return get_one(C(be), path, one_emb, out);
}

static int c_emb_put(struct backend *be, int64_t ds, const char *name,
		     const char *text, size_t len, char *msg)
{
	char q[800], path[900];
	int rc;

	if (cl_pct(name, q, sizeof(q)) ||
	    cl_pathf(path, sizeof(path), "/v1/datasets/%lld/embeddings?name=%s",
		     (long long)ds, q))
		return -ENAMETOOLONG;
	rc = send_text(C(be), "PUT", path, "text/csv", text, len, msg);
	cl_changed_all(C(be));
	return rc;
}

static int c_emb_delete(struct backend *be, int64_t id)
{
	char path[64];
	int rc;

	cl_pathf(path, sizeof(path), "/v1/embeddings/%lld", (long long)id);
	rc = cl_send_json(C(be), "DELETE", path, NULL, NULL, NULL);
	cl_changed_all(C(be));
	return rc;
}

static int c_emb_export(struct backend *be, int64_t id, int fd)
{
	char path[64];
	struct req r = REQ("GET", path);
	int rc;

	cl_pathf(path, sizeof(path), "/v1/embeddings/%lld/csv", (long long)id);
	r.out_fd = fd;
	rc = cl_http(C(be), &r);
	cl_req_free(&r);
	return rc;
}

static int c_statfs(struct backend *be, struct statvfs *out)
{
	cJSON *j;
	int rc = cl_get_json(C(be), "/v1/statfs", 1, &j);

	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	rc = api_statfs_from_json(j, out) ? -EIO : 0;
	cJSON_Delete(j);
	return rc;
}

static void c_destroy(struct backend *be)
{
	struct client *c = C(be);

	if (!be)
		return;
	cl_prefetch_stop(c);
	cl_transport_free(c);
	pthread_mutex_destroy(&c->pf_lock);
	pthread_cond_destroy(&c->pf_work);
	pthread_cond_destroy(&c->pf_done);
	cache_blobs_close(c->blobs);
	cache_meta_free(c->meta);
	cl_whole_free(c);
	explicit_bzero(c->auth, sizeof(c->auth));
	free(c);
}

static const struct backend_ops client_ops = {
	.dataset_list = c_dataset_list,
	.dataset_get = c_dataset_get,
	.dataset_get_id = c_dataset_get_id,
	.dataset_create = c_dataset_create,
	.dataset_delete = c_dataset_delete,
	.dataset_rename = c_dataset_rename,
	.dataset_set_tag_folders = c_dataset_set_tag_folders,
	.tag_list = c_tag_list,
	.tag_get = c_tag_get,
	.tag_get_id = c_tag_get_id,
	.tag_create = c_tag_create,
	.tag_delete = c_tag_delete,
	.tag_rename = c_tag_rename,
	.node_get = cl_node_get,
	.node_lookup = cl_node_lookup,
	.node_children = cl_node_children,
	.node_create = cl_node_create,
	.node_remove = cl_node_remove,
	.node_rename = cl_node_rename,
	.node_setattr = cl_node_setattr,
	.node_open = cl_node_open,
	.staging_create = cl_staging_create,
	.node_commit = cl_node_commit,
	.selection_read = c_selection_read,
	.selection_write = c_selection_write,
	.info_read = c_info_read,
	.log_read = c_log_read,
	.log_event = c_log_event,
	.sample_request = c_sample_request,
	.dups_read = c_dups_read,           /* issue 21, i21c */
	.dups_config = c_dups_config,
	.export_read = c_export_read,      /* issue 21 item 5 */
	.sample_read = c_sample_read,
	.scores_read = c_scores_read,
	.plot_read = c_plot_read,
	.emb_list = c_emb_list,
	.emb_get = c_emb_get,
	.emb_get_id = c_emb_get_id,
	.emb_put = c_emb_put,
	.emb_delete = c_emb_delete,
	.emb_export = c_emb_export,
	.input_list = cl_input_list,
	.input_get = cl_input_get,
	.input_get_id = cl_input_get_id,
	.input_put = cl_input_put,
	.input_delete = cl_input_delete,
	.input_export = cl_input_export,
	.imgmeta_read = cl_imgmeta_read,
	.node_imgmeta = cl_node_imgmeta,
	.statfs = c_statfs,
	/* Frozen tags never change, whoever made them. Live trees change
	 * on other machines too: set from meta_ttl at open. */
	.frozen_cache_ok = 1,
	.live_ttl = 1.0,
	.destroy = c_destroy,
};

/* ---- opening ---- */

int api_is_url(const char *s)
{
	return s && (!strncasecmp(s, "http://", 7) ||
		     !strncasecmp(s, "https://", 8));
}

/* 1 if host (as libcurl parsed it out of a URL, so in the spelling curl
 * will connect to) names this machine without asking any resolver: a
 * literal IPv4 address in 127.0.0.0/8, [::1], or "localhost" (RFC 6761;
 * libcurl answers it itself). A name that merely starts with "127." (a
 * DNS name anyone can register) is not one; neither is "localhost." nor
 * "127.0.0.1.", whose trailing dot sends them to DNS. */
static int loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char v6[INET6_ADDRSTRLEN + 1];
	size_t n = strlen(host);

	if (!strcasecmp(host, "localhost"))
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n < 3 || host[0] != '[' || host[n - 1] != ']' || n - 2 >= sizeof(v6))
		return 0;
	memcpy(v6, host + 1, n - 2);
	v6[n - 2] = '\0';
	return inet_pton(AF_INET6, v6, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* 1 if the URL has `part` (CURLUE_NO_* when absent). */
static int url_has(CURLU *u, CURLUPart part)
{
	char *v = NULL;
	CURLUcode uc = curl_url_get(u, part, &v, 0);

	curl_free(v);
	return uc == CURLUE_OK;
}

/* api_url_check, and whether the scheme is plain http. */
static int url_check(const char *url, int *plain, char *msg, size_t msglen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	CURLUcode uc;
	int rc = -EINVAL;

	if (!u)
		return -ENOMEM;
	/* libcurl's parser, not ours: the host checked is the host that
	 * the requests (this URL + "/v1/...") will connect to. */
	uc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (uc || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https")) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) || !host[0]) {
		snprintf(msg, msglen, "%s: not a server URL"
			 " (cl_http(s)://HOST:PORT)%s%s", url, uc ? ": " : "",
			 uc ? curl_url_strerror(uc) : "");
		goto out;
	}
	if (url_has(u, CURLUPART_USER) || url_has(u, CURLUPART_PASSWORD)) {
		snprintf(msg, msglen, "%s: a server URL has no user@ part"
			 " (the token is the only credential)", url);
		goto out;
	}
	if (url_has(u, CURLUPART_QUERY) || url_has(u, CURLUPART_FRAGMENT)) {
		snprintf(msg, msglen, "%s: a server URL has no ?query or"
			 " #fragment", url);
		goto out;
	}
	if (!strcmp(scheme, "http") &&
	    (url_has(u, CURLUPART_ZONEID) || !loopback(host))) {
		snprintf(msg, msglen, "%s: plain http:// is allowed only to a"
			 " loopback address (127.x.x.x, [::1] or localhost,"
			 " literally: host %s is not one) since the token would"
			 " cross the network in clear; use https://", url, host);
		goto out;
	}
	*plain = !strcmp(scheme, "http");
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

int api_url_check(const char *url, char *msg, size_t msglen)
{
	int plain;

	return url_check(url, &plain, msg, msglen);
}

static int global_init(void)
{
	static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
	static int done;
	int rc = 0;

	pthread_mutex_lock(&once);
	if (!done)
		rc = curl_global_init(CURL_GLOBAL_DEFAULT) ? -EIO : 0;
	done = !rc;
	pthread_mutex_unlock(&once);
	return rc;
}

/*
 * The default cache: one directory per server and user, ROOT/<id>, id = the
 * first 16 hex digits of SHA-256("URL\nUSER") (USER as the server's whoami
 * names the token's owner). Why per server and user rather than one cache
 * shared by every mount: a cache has one owner process (its in-memory LRU
 * index, its size bound and its tmp/ are that process's), so a shared one
 * would need cross-process locking of the index and of eviction; a
 * directory per (server, user) keeps that simple and keeps the size bound
 * exact, and the same user of the same server always finds the pinned
 * bytes (upload=meta) of their earlier mounts again. Two mounts of the
 * same server and user at once still need distinct -o cache_dir= (the
 * second is told so). The id hides neither URL nor user (both are in
 * ROOT/<id>/source, for people looking at the disk) and holds nothing of
 * the token. ROOT itself was the cache before: its pinned entries are
 * linked into each new cache, so no upload=meta bytes go missing.
 */
static int open_user_cache(struct client *c, const struct api_client_opts *o,
			   char *msg, size_t msglen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char user[128] = "", id[17], dir[4096], text[2600];
	unsigned int mdlen = 0;
	int n, rc, fd, adopted;

	rc = api_client_check(&c->be, user, sizeof(user), msg, msglen);
	if (rc)
		return rc;
	n = snprintf(text, sizeof(text), "%s\n%s", c->base, user);
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    !EVP_Digest(text, (size_t)n, md, &mdlen, EVP_sha256(), NULL))
		return -EIO;
	for (int i = 0; i < 8; i++)
		snprintf(id + 2 * i, 3, "%02x", md[i]);
	n = snprintf(dir, sizeof(dir), "%s/%s", o->cache_dir, id);
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		snprintf(msg, msglen, "cache directory %s: name too long",
			 o->cache_dir);
		return -ENAMETOOLONG;
	}
	if (mkdir(o->cache_dir, 0700) && errno != EEXIST) {
		rc = -errno;
		snprintf(msg, msglen, "cache directory %s: %s", o->cache_dir,
			 strerror(-rc));
		return rc;
	}
	rc = cache_blobs_open(dir, o->cache_size, &c->blobs, msg, msglen);
	if (rc)
		return rc;
	/* For people: whose cache this is (never the token). */
	n = snprintf(dir, sizeof(dir), "%s/%s/source", o->cache_dir, id);
	fd = n > 0 && (size_t)n < sizeof(dir) ?
	     open(dir, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
	if (fd >= 0) {
		dprintf(fd, "server: %s\nuser: %s\n", c->base, user);
		close(fd);
	}
	adopted = cache_blobs_adopt_pinned(c->blobs, o->cache_dir);
	if (adopted > 0)
		log_info("cache %s/%s: took in %d pinned file(s) of the older"
			 " cache %s", o->cache_dir, id, adopted, o->cache_dir);
	return 0;
}

int api_client_open(const struct api_client_opts *o, struct backend **out,
		    char *msg, size_t msglen)
{
	struct client *c;
	size_t blen;
	int rc, plain = 0;

	*out = NULL;
	rc = url_check(o->url, &plain, msg, msglen);
	if (rc)
		return rc;
	if (strlen(o->url) >= sizeof(((struct client *)0)->base)) {
		snprintf(msg, msglen, "the server URL is longer than %zu bytes",
			 sizeof(((struct client *)0)->base) - 1);
		return -ENAMETOOLONG;
	}
	if (!o->token || !o->token[0] || strlen(o->token) > 128 ||
	    strpbrk(o->token, " \t\r\n")) {
		snprintf(msg, msglen, "the token is empty or malformed");
		return -EINVAL;
	}
	if (global_init()) {
		snprintf(msg, msglen, "libcurl initialisation failed");
		return -EIO;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	atomic_init(&c->pinning, 0);
	c->ops = client_ops;
	/* The kernel keeps live names and attributes for half the metadata
	 * TTL: a name made by another mount shows within meta_ttl (we cache
	 * no absence longer than the kernel's half), another mount's change
	 * of an existing node within 1.5 x meta_ttl. */
	c->ops.live_ttl = o->meta_ttl / 2;
	c->be.ops = &c->ops;
	c->upload = o->upload;
	c->plain = plain;
	c->meta_ttl = o->meta_ttl;
	snprintf(c->base, sizeof(c->base), "%s", o->url);
	blen = strlen(c->base);
	while (blen && c->base[blen - 1] == '/')
		c->base[--blen] = '\0';
	snprintf(c->auth, sizeof(c->auth), "Authorization: Bearer %s", o->token);
	if (o->cafile)
		snprintf(c->cafile, sizeof(c->cafile), "%s", o->cafile);
	pthread_mutex_init(&c->pf_lock, NULL);
	pthread_cond_init(&c->pf_work, NULL);
	pthread_cond_init(&c->pf_done, NULL);
	c->cache_size = o->cache_size;
	if (cl_transport_init(c)) {
		free(c);
		return -ENOMEM;
	}
	c->meta = cache_meta_new(o->meta_ttl, META_BYTES);
	if (!c->meta || cl_whole_init(c)) {
		rc = -ENOMEM;
		goto fail;
	}
	if (o->cache_per_user)
		rc = open_user_cache(c, o, msg, msglen);
	else
		rc = cache_blobs_open(o->cache_dir, o->cache_size, &c->blobs,
				      msg, msglen);
	if (rc)
		goto fail;
	cl_pins_reconcile(c, "checked at mount");
	*out = &c->be;
	return 0;
fail:
	c_destroy(&c->be);
	return rc;
}

int api_client_check(struct backend *be, char *user, size_t userlen,
		     char *msg, size_t msglen)
{
	struct client *c = C(be);
	struct req r = REQ("GET", "/v1/whoami");
	char m[BE_MSG] = "";
	cJSON *j = NULL;
	int rc;

	r.msg = m;
	rc = cl_http(c, &r);
	if (!rc) {
		j = cJSON_ParseWithLength(r.resp.p ? r.resp.p : "",
					  r.resp.len);
		if (!j || api_get_str(j, "user", user, userlen, 1))
			rc = -EIO;
		cJSON_Delete(j);
	}
	if (!rc) {
		cl_req_free(&r);
		r = (struct req)REQ("GET", "/v1/datasets");
		r.msg = m;
		rc = cl_http(c, &r);
	}
	if (rc == -EACCES && r.status == 401)
		snprintf(msg, msglen, "the server %s refused the token (absent,"
			 " wrong or revoked): %s", c->base, m[0] ? m :
			 "unauthorized");
	else if (rc == -EAGAIN && r.status == 429)
		snprintf(msg, msglen, "the server %s asks to slow down (HTTP"
			 " 429): %s", c->base, m[0] ? m : "too many requests");
	else if (rc && r.net)
		snprintf(msg, msglen, "%s", m);
	else if (rc)
		snprintf(msg, msglen, "the server %s answered %s (HTTP %ld)%s%s",
			 c->base, strerror(-rc), r.status, m[0] ? ": " : "", m);
	cl_req_free(&r);
	return rc;
}
