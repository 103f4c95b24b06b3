/*
 * client_inputs.c — the remote client's selection inputs (issue 21, i21a):
 * the backend operations input_* over the routes of routes_inputs.c, as
 * client.c does embeddings. Lists and records go through the metadata cache
 * (their ETags move with the dataset's embeddings counter, which inputs
 * bump); an upload or a delete drops the cache (cl_changed_all) so this
 * mount sees its own change at once. Threads: as client.c.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/client_int.h"
#include "api/json.h"
#include "core/incsv.h"

static int one_input(const cJSON *j, void *out)
{
	return api_input_from_json(j, out);
}

int cl_input_list(struct backend *be, int64_t ds, int kind,
		  struct store_input **out, size_t *n)
{
	const char *k = core_input_kind_name(kind);
	char path[128];
	cJSON *j;
	int rc;

	*out = NULL;
	*n = 0;
	cl_pathf(path, sizeof(path), "/v1/datasets/%lld/inputs%s%s",
		 (long long)ds, k ? "?kind=" : "", k ? k : "");
	rc = cl_get_json(C(be), path, 1, &j);
	if (rc)
		return rc;
	rc = cl_decode_list(j, "inputs", sizeof(**out), one_input,
			    (void **)out, n);
	cJSON_Delete(j);
	return rc;
}

static int get_input(struct backend *be, const char *path,
		     struct store_input *out)
{
	cJSON *j;
	int rc = cl_get_json(C(be), path, 1, &j);

	if (!rc) {
		rc = api_input_from_json(j, out) ? -EIO : 0;
		cJSON_Delete(j);
	}
	return rc;
}

int cl_input_get(struct backend *be, int64_t ds, int kind, const char *name,
		 struct store_input *out)
{
	const char *k = core_input_kind_name(kind);
	char q[800], path[900];

	if (!k || cl_pct(name, q, sizeof(q)) ||
	    cl_pathf(path, sizeof(path), "/v1/datasets/%lld/inputs?kind=%s"
		     "&name=%s", (long long)ds, k, q))
		return -ENOENT;
	return get_input(be, path, out);
}

int cl_input_get_id(struct backend *be, int64_t id, struct store_input *out)
{
	char path[64];

	if (id <= 0)
		return -ENOENT;
	cl_pathf(path, sizeof(path), "/v1/inputs/%lld", (long long)id);
	return get_input(be, path, out);
}

int cl_input_put(struct backend *be, int64_t ds, int kind, const char *name,
		 const char *text, size_t len, char *msg)
{
	const char *k = core_input_kind_name(kind);
	char q[800], path[900];
	struct req r = REQ("PUT", path);
	int rc;

	if (!k)
		return -EINVAL;
	if (cl_pct(name, q, sizeof(q)) ||
	    cl_pathf(path, sizeof(path), "/v1/datasets/%lld/inputs?kind=%s"
		     "&name=%s", (long long)ds, k, q))
		return -ENAMETOOLONG;
	r.body = text ? text : "";
	r.blen = len;
	r.ctype = "text/csv";
	r.msg = msg;
	rc = cl_http(C(be), &r);
	cl_req_free(&r);
	cl_changed_all(C(be));
	return rc;
}

int cl_input_delete(struct backend *be, int64_t id)
{
	char path[64];
	int rc;

	cl_pathf(path, sizeof(path), "/v1/inputs/%lld", (long long)id);
	rc = cl_send_json(C(be), "DELETE", path, NULL, NULL, NULL);
	cl_changed_all(C(be));
	return rc;
}

int cl_input_export(struct backend *be, int64_t id, int what, int fd)
{
	char path[96];
	struct req r = REQ("GET", path);
	int rc;

	cl_pathf(path, sizeof(path), "/v1/inputs/%lld/csv%s", (long long)id,
		 what ? "?what=scores" : "");
	r.out_fd = fd;
	rc = cl_http(C(be), &r);
	cl_req_free(&r);
	return rc;
}

int cl_imgmeta_read(struct backend *be, int64_t ds, char **out, size_t *len)
{
	char path[96];
	enum got how;

	cl_pathf(path, sizeof(path), "/v1/datasets/%lld/builtin.csv",
		 (long long)ds);
	return cl_get_body(C(be), path, 0, out, len, &how);
}

int cl_node_imgmeta(struct backend *be, int64_t ino, struct emb_imgstats *out)
{
	char path[64];
	cJSON *j, *img;
	int rc;

	cl_pathf(path, sizeof(path), "/v1/nodes/%lld/imgmeta", (long long)ino);
	rc = cl_get_json(C(be), path, 1, &j);
	if (rc)
		return rc;
	img = cJSON_GetObjectItemCaseSensitive(j, "image");
	if (!cJSON_IsTrue(img))
		rc = -ENODATA;
	for (int k = 0; !rc && k < EMB_IMGSTATS_N; k++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(j,
						emb_imgstats_names[k]);
		if (!cJSON_IsNumber(v))
			rc = -EIO;
		else
			out->v[k] = v->valuedouble;
	}
	cJSON_Delete(j);
	return rc;
}
