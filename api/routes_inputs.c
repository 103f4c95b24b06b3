/*
 * routes_inputs.c — the v1 routes of a dataset's selection inputs (issue
 * 21, i21a): the predictions/ and metadata/ CSVs (core/incsv.h), the same
 * way as embeddings (routes_ctl.c), and their table (srv_routes_inputs):
 *
 *   GET    /v1/datasets/{id}/inputs[?kind=K][&name=N]   list, or one
 *   PUT    /v1/datasets/{id}/inputs?kind=K&name=N       upload (text/csv)
 *   GET    /v1/inputs/{id}                              one
 *   DELETE /v1/inputs/{id}
 *   GET    /v1/inputs/{id}/csv[?what=scores]            the CSV as uploaded,
 *                                                       or its scores
 *   GET    /v1/datasets/{id}/builtin.csv                built-in image
 *                                                       metadata (imgmeta.h)
 *   GET    /v1/nodes/{id}/imgmeta                       one file's values:
 *          {"image":true,"width":…,…} or {"image":false}
 * K is "predictions" or "metadata". Every route checks that the token's
 * user owns the dataset (srv_own_ds) or the input (the backend's
 * input_get_id through the user's view): 404 otherwise. A refused upload
 * answers 400 with the reason (row and column), nothing stored.
 *
 * Threads: as every route (routes_ctl.c).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/server_int.h"
#include "core/incsv.h"
#include "core/inputs.h"

static enum MHD_Result send_input(struct MHD_Connection *c, unsigned st,
				  int rc, const struct store_input *e)
{
	cJSON *j = NULL;

	if (!rc)
		rc = api_input_to_json(e, &j);
	return srv_send_obj(c, st, rc, j);
}

/* ?kind= into *kind (0 when absent); -1 after answering. */
static int kind_query(struct req *r, struct MHD_Connection *c, int *kind,
		      enum MHD_Result *ret)
{
	char v[32];
	int q = srv_query(r, c, "kind", v, sizeof(v), ret);

	*kind = 0;
	if (q <= 0)
		return q;
	if (!(*kind = core_input_kind_of(v))) {
		*ret = srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
				    "EINVAL", "kind is predictions or metadata");
		return -1;
	}
	return 1;
}

static enum MHD_Result r_inputs(struct srv *s, struct req *r,
				struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_input e, *v = NULL;
	char name[STORE_NAME_MAX + 1];
	enum MHD_Result ret;
	size_t n = 0;
	cJSON *j = NULL;
	int rc = srv_own_ds(s, r, r->id, &d), q, kind;

	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (kind_query(r, c, &kind, &ret) < 0)
		return ret;
	q = srv_query(r, c, "name", name, sizeof(name), &ret);
	if (q < 0)
		return ret;
	if (q && !kind)
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
				    "EINVAL", "?name= needs ?kind=");
	if (q)
		return send_input(c, MHD_HTTP_OK, r->be->ops->input_get(r->be,
				  r->id, kind, name, &e), &e);
	rc = r->be->ops->input_list(r->be, r->id, kind, &v, &n);
	if (!rc)
		rc = api_list_to_json("inputs", v, n, sizeof(*v),
				      api_input_any, &j);
	free(v);
	return srv_send_obj(c, MHD_HTTP_OK, rc, j);
}

static enum MHD_Result r_input_put(struct srv *s, struct req *r,
				   struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_input e;
	char name[STORE_NAME_MAX + 1], msg[BE_MSG] = "";
	enum MHD_Result ret;
	const char *text;
	size_t len;
	void *map;
	int rc = srv_own_ds(s, r, r->id, &d), q, kind;

	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (kind_query(r, c, &kind, &ret) < 0)
		return ret;
	q = srv_query(r, c, "name", name, sizeof(name), &ret);
	if (q < 0)
		return ret;
	if (!q || !kind)
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
				    "EINVAL", "upload needs ?kind= and ?name=");
	rc = srv_body_map(r, &text, &len, &map);
	if (!rc)
		rc = r->be->ops->input_put(r->be, r->id, kind, name, text, len,
					   msg);
	if (map)
		munmap(map, len);
	if (rc)
		return srv_send_errno(c, rc, msg);
	return send_input(c, MHD_HTTP_CREATED, r->be->ops->input_get(r->be,
			  r->id, kind, name, &e), &e);
}

static enum MHD_Result r_input(struct srv *s, struct req *r,
			       struct MHD_Connection *c)
{
	struct store_input e;

	(void)s;
	return send_input(c, MHD_HTTP_OK,
			  r->be->ops->input_get_id(r->be, r->id, &e), &e);
}

static enum MHD_Result r_input_delete(struct srv *s, struct req *r,
				      struct MHD_Connection *c)
{
	struct store_input e;
	int rc = r->be->ops->input_get_id(r->be, r->id, &e);

	(void)s;
	if (!rc)
		rc = r->be->ops->input_delete(r->be, r->id);
	return rc ? srv_send_errno(c, rc, NULL)
		  : srv_send_empty(c, MHD_HTTP_NO_CONTENT);
}

static enum MHD_Result r_input_csv(struct srv *s, struct req *r,
				   struct MHD_Connection *c)
{
	struct store_input e;
	struct MHD_Response *resp;
	char path[STORE_PATH_MAX], v[16];
	enum MHD_Result ret;
	struct stat sb;
	int rc = r->be->ops->input_get_id(r->be, r->id, &e), fd, q, what;

	if (rc)
		return srv_send_errno(c, rc, NULL);
	q = srv_query(r, c, "what", v, sizeof(v), &ret);
	if (q < 0)
		return ret;
	what = q && !strcmp(v, "scores") ? CORE_INPUT_SCORES : CORE_INPUT_TEXT;
	if (q && what == CORE_INPUT_TEXT && strcmp(v, "csv"))
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
				    "EINVAL", "what is csv or scores");
	fd = core_blob_staging(s->blobs, path, sizeof(path));
	if (fd < 0)
		return srv_send_errno(c, fd, NULL);
	if (path[0])
		unlink(path);
	rc = r->be->ops->input_export(r->be, r->id, what, fd);
	if (!rc && fstat(fd, &sb))
		rc = -errno;
	if (rc) {
		close(fd);
		return srv_send_errno(c, rc, NULL);
	}
	resp = MHD_create_response_from_fd_at_offset64((uint64_t)sb.st_size,
						       fd, 0);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	return srv_send_resp(c, MHD_HTTP_OK, resp, "text/csv");
}

static enum MHD_Result r_builtin_csv(struct srv *s, struct req *r,
				     struct MHD_Connection *c)
{
	struct store_dataset d;
	char *text = NULL;
	size_t len = 0;
	int rc = srv_own_ds(s, r, r->id, &d);

	if (!rc)
		rc = r->be->ops->imgmeta_read(r->be, r->id, &text, &len);
	return srv_send_text(c, rc, "text/csv", text, len);
}

static enum MHD_Result r_node_imgmeta(struct srv *s, struct req *r,
				      struct MHD_Connection *c)
{
	struct store_node n;
	struct emb_imgstats v;
	cJSON *j;
	int rc = srv_own_node(s, r, r->id, &n);

	if (rc)
		return srv_send_errno(c, rc, NULL);
	rc = r->be->ops->node_imgmeta(r->be, r->id, &v);
	if (rc && rc != -ENODATA)
		return srv_send_errno(c, rc, NULL);
	j = cJSON_CreateObject();
	if (j && !cJSON_AddBoolToObject(j, "image", rc == 0)) {
		cJSON_Delete(j);
		j = NULL;
	}
	for (int k = 0; j && !rc && k < EMB_IMGSTATS_N; k++)
		if (!cJSON_AddNumberToObject(j, emb_imgstats_names[k],
					     v.v[k])) {
			cJSON_Delete(j);
			j = NULL;
		}
	return srv_send_obj(c, MHD_HTTP_OK, j ? 0 : -ENOMEM, j);
}

const struct route srv_routes_inputs[] = {
	{ "datasets/#/builtin.csv", "GET", r_builtin_csv, B_NONE, 0 },
	{ "nodes/#/imgmeta", "GET", r_node_imgmeta, B_NONE, 0 },
	{ "datasets/#/inputs", "GET", r_inputs, B_NONE, 0 },
	{ "datasets/#/inputs", "PUT", r_input_put, B_FILE, CAP_CSV },
	{ "inputs/#", "GET", r_input, B_NONE, 0 },
	{ "inputs/#", "DELETE", r_input_delete, B_NONE, 0 },
	{ "inputs/#/csv", "GET", r_input_csv, B_NONE, 0 },
	{ NULL, NULL, NULL, B_NONE, 0 },
};
