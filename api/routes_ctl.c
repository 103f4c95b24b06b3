/*
 * routes_ctl.c — the v1 routes of a dataset's control files (selection,
 * info, log, sample, scores.csv, plot.svg) and of embeddings
 * (docs/api.md), and their table (srv_routes_ctl; api/server_int.h says how
 * a route is called and answers).
 *
 * As in routes_data.c, each route first checks that the token's user owns
 * the dataset (srv_own_ds, srv_own_emb: 404 otherwise), then runs the
 * backend operation of a local mount through the user's view. Texts a
 * client sends (a selection, an embeddings CSV) arrive in a staged file
 * (B_FILE) and are read mapped (srv_body_map); texts sent back are built
 * whole by the backend.
 *
 * Threads: handlers run in MHD's threads and block on SQLite and disk I/O;
 * they share only the backend (thread-safe).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/server_int.h"
#include "core/layout.h"
#include "core/log.h"

/* ---- routes: control files ---- */

static enum MHD_Result r_selection(struct srv *s, struct req *r,
				   struct MHD_Connection *c)
{
	struct store_dataset d;
	char *text = NULL;
	size_t len = 0;
	int rc = srv_own_ds(s, r, r->id, &d);

	if (!rc)
		rc = r->be->ops->selection_read(r->be, r->id, &text, &len);
	return srv_send_text(c, rc, "text/plain; charset=utf-8", text, len);
}

static enum MHD_Result r_selection_put(struct srv *s, struct req *r,
				       struct MHD_Connection *c)
{
	struct store_dataset d;
	char msg[BE_MSG] = "", v[8];
	const char *text;
	size_t len;
	void *map;
	enum MHD_Result ret;
	int rc = srv_own_ds(s, r, r->id, &d), flags = 0, q;

	if (rc)
		return srv_send_errno(c, rc, NULL);
	/* ?append=1: add to the selection; ?check=1: change nothing */
	if ((q = srv_query(r, c, "append", v, sizeof(v), &ret)) < 0)
		return ret;
	if (q)
		flags |= strcmp(v, "1") ? -1 : BE_SEL_APPEND;
	if ((q = srv_query(r, c, "check", v, sizeof(v), &ret)) < 0)
		return ret;
	if (q)
		flags |= strcmp(v, "1") ? -1 : BE_SEL_CHECK;
	if (flags < 0)
		return srv_send_errno(c, -EINVAL, "append and check take the"
				      " value 1");
	rc = srv_body_map(r, &text, &len, &map);
	if (!rc)
		rc = r->be->ops->selection_write(r->be, r->id, text, len,
						 flags, msg);
	if (map)
		munmap(map, len);
	return rc ? srv_send_errno(c, rc, msg) :
		    srv_send_empty(c, MHD_HTTP_NO_CONTENT);
}

typedef int (*text_op)(struct backend *, int64_t, char **, size_t *);

static enum MHD_Result text_route(struct srv *s, struct req *r,
				  struct MHD_Connection *c, text_op op,
				  const char *ctype)
{
	struct store_dataset d;
	char *text = NULL;
	size_t len = 0;
	int rc = srv_own_ds(s, r, r->id, &d);

	if (!rc)
		rc = op(r->be, r->id, &text, &len);
	return srv_send_text(c, rc, ctype, text, len);
}

static enum MHD_Result r_info(struct srv *s, struct req *r,
			      struct MHD_Connection *c)
{
	return text_route(s, r, c, r->be->ops->info_read,
			  "text/plain; charset=utf-8");
}

static enum MHD_Result r_log(struct srv *s, struct req *r,
			     struct MHD_Connection *c)
{
	return text_route(s, r, c, r->be->ops->log_read,
			  "text/plain; charset=utf-8");
}

static enum MHD_Result r_sample(struct srv *s, struct req *r,
				struct MHD_Connection *c)
{
	return text_route(s, r, c, r->be->ops->sample_read,
			  "text/plain; charset=utf-8");
}

static enum MHD_Result r_scores(struct srv *s, struct req *r,
				struct MHD_Connection *c)
{
	return text_route(s, r, c, r->be->ops->scores_read, "text/csv");
}

/* ?method=pca|umap (issue 21, the layout): pca without it. */
static enum MHD_Result r_plot(struct srv *s, struct req *r,
			      struct MHD_Connection *c)
{
	struct store_dataset d;
	enum MHD_Result ret;
	char v[16];
	char *text = NULL;
	size_t len = 0;
	int m = CORE_LAYOUT_PCA, q, rc;

	if ((rc = srv_own_ds(s, r, r->id, &d)))
		return srv_send_text(c, rc, "image/svg+xml", NULL, 0);
	if ((q = srv_query(r, c, "method", v, sizeof(v), &ret)) < 0)
		return ret;
	if (q && (m = core_layout_parse(v)) < 0)
		return srv_send_errno(c, -EINVAL, "method must be pca or umap");
	rc = r->be->ops->plot_read(r->be, r->id, m, &text, &len);
	return srv_send_text(c, rc, "image/svg+xml", text, len);
}

static enum MHD_Result r_log_post(struct srv *s, struct req *r,
				  struct MHD_Connection *c)
{
	struct store_dataset d;
	char level[16], msg[CAP_LINE];
	enum MHD_Result ret;
	cJSON *j;
	int rc = srv_own_ds(s, r, r->id, &d);

	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (!(j = srv_body_json(r, c, &ret)))
		return ret;
	rc = api_get_str(j, "level", level, sizeof(level), 1);
	if (!rc)
		rc = api_get_str(j, "message", msg, sizeof(msg), 1);
	cJSON_Delete(j);
	if (rc || (strcmp(level, "info") && strcmp(level, "error")))
		return srv_bad_field(c, "level (info|error), message");
	r->be->ops->log_event(r->be, r->id, level[0] == 'e' ? STORE_ERROR :
			      STORE_INFO, msg);
	return srv_send_empty(c, MHD_HTTP_NO_CONTENT);
}

/* The B_LINE body (at most CAP_LINE bytes) into line, NUL-terminated,
 * its trailing CR/LF dropped; -EINVAL when it holds a NUL byte. */
static int body_line(struct req *r, char line[CAP_LINE + 1])
{
	memcpy(line, r->buf ? r->buf : "", r->len);
	line[r->len] = '\0';
	if (strlen(line) != r->len)
		return -EINVAL;
	while (r->len && (line[r->len - 1] == '\n' || line[r->len - 1] == '\r'))
		line[--r->len] = '\0';
	return 0;
}

static enum MHD_Result r_sample_post(struct srv *s, struct req *r,
				     struct MHD_Connection *c)
{
	struct store_dataset d;
	char line[CAP_LINE + 1], msg[BE_MSG] = "";
	cJSON *j;
	int rc = srv_own_ds(s, r, r->id, &d);

	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (body_line(r, line))
		return srv_send_errno(c, -EINVAL, "the request contains a NUL byte");
	rc = r->be->ops->sample_request(r->be, r->id, line, msg);
	if (rc)
		return srv_send_errno(c, rc, msg);
	j = cJSON_CreateObject();
	if (j && !cJSON_AddTrueToObject(j, "accepted")) {
		cJSON_Delete(j);
		j = NULL;
	}
	return srv_send_json(c, MHD_HTTP_ACCEPTED, j);
}

/* ---- routes: embeddings ---- */

static enum MHD_Result send_emb(struct MHD_Connection *c, unsigned st, int rc,
				const struct store_embedding *e)
{
	cJSON *j = NULL;

	if (!rc)
		rc = api_embedding_to_json(e, &j);
	return srv_send_obj(c, st, rc, j);
}

static enum MHD_Result r_embs(struct srv *s, struct req *r,
			      struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_embedding e, *v = NULL;
	char name[STORE_NAME_MAX + 1];
	enum MHD_Result ret;
	size_t n = 0;
	cJSON *j = NULL;
	int rc = srv_own_ds(s, r, r->id, &d), q;

	if (rc)
		return srv_send_errno(c, rc, NULL);
	q = srv_query(r, c, "name", name, sizeof(name), &ret);
	if (q < 0)
		return ret;
	if (q)
		return send_emb(c, MHD_HTTP_OK,
				r->be->ops->emb_get(r->be, r->id, name, &e), &e);
	rc = r->be->ops->emb_list(r->be, r->id, &v, &n);
	if (!rc)
		rc = api_list_to_json("embeddings", v, n, sizeof(*v),
				      api_embedding_any, &j);
	free(v);
	return srv_send_obj(c, MHD_HTTP_OK, rc, j);
}

static enum MHD_Result r_emb_put(struct srv *s, struct req *r,
				 struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_embedding e;
	char name[STORE_NAME_MAX + 1], msg[BE_MSG] = "";
	enum MHD_Result ret;
	const char *text;
	size_t len;
	void *map;
	int rc = srv_own_ds(s, r, r->id, &d), q;

	if (rc)
		return srv_send_errno(c, rc, NULL);
	q = srv_query(r, c, "name", name, sizeof(name), &ret);
	if (q < 0)
		return ret;
	if (!q)
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
				    "EINVAL", "upload needs ?name=");
	rc = srv_body_map(r, &text, &len, &map);
	if (!rc)
		rc = r->be->ops->emb_put(r->be, r->id, name, text, len, msg);
	if (map)
		munmap(map, len);
	if (rc)
		return srv_send_errno(c, rc, msg);
	return send_emb(c, MHD_HTTP_CREATED,
			r->be->ops->emb_get(r->be, r->id, name, &e), &e);
}

static enum MHD_Result r_emb(struct srv *s, struct req *r,
			     struct MHD_Connection *c)
{
	struct store_embedding e;

	return send_emb(c, MHD_HTTP_OK, srv_own_emb(s, r, r->id, &e), &e);
}

static enum MHD_Result r_emb_delete(struct srv *s, struct req *r,
				    struct MHD_Connection *c)
{
	struct store_embedding e;
	int rc = srv_own_emb(s, r, r->id, &e);

	if (!rc)
		rc = r->be->ops->emb_delete(r->be, r->id);
	return rc ? srv_send_errno(c, rc, NULL) : srv_send_empty(c, MHD_HTTP_NO_CONTENT);
}

static enum MHD_Result r_emb_csv(struct srv *s, struct req *r,
				 struct MHD_Connection *c)
{
	struct store_embedding e;
	struct MHD_Response *resp;
	char path[STORE_PATH_MAX];
	struct stat sb;
	int rc = srv_own_emb(s, r, r->id, &e), fd;

	if (rc)
		return srv_send_errno(c, rc, NULL);
	/* The export streams through a scratch file of the store. */
	fd = core_blob_staging(s->blobs, path, sizeof(path));
	if (fd < 0)
		return srv_send_errno(c, fd, NULL);
	if (path[0])
		unlink(path);
	rc = r->be->ops->emb_export(r->be, r->id, fd);
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

/* issue 21 (i21c): the `duplicates` file: GET its text, POST a setting
 * line (204, or 400 with the reason; nothing changed). */
static enum MHD_Result r_dups(struct srv *s, struct req *r,
			      struct MHD_Connection *c)
{
	return text_route(s, r, c, r->be->ops->dups_read,
			  "text/plain; charset=utf-8");
}

static enum MHD_Result r_dups_post(struct srv *s, struct req *r,
				   struct MHD_Connection *c)
{
	struct store_dataset d;
	char line[CAP_LINE + 1], msg[BE_MSG] = "";
	int rc = srv_own_ds(s, r, r->id, &d);

	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (body_line(r, line))
		return srv_send_errno(c, -EINVAL, "the request contains a NUL byte");
	rc = r->be->ops->dups_config(r->be, r->id, line, msg);
	if (rc)
		return srv_send_errno(c, rc, msg);
	return srv_send_empty(c, MHD_HTTP_NO_CONTENT);
}

/* ---- the table ---- */

const struct route srv_routes_ctl[] = {
	{ "datasets/#/selection", "GET", r_selection, B_NONE, 0 },
	{ "datasets/#/selection", "PUT", r_selection_put, B_FILE,
	  CAP_SELECTION },
	{ "datasets/#/info", "GET", r_info, B_NONE, 0 },
	{ "datasets/#/log", "GET", r_log, B_NONE, 0 },
	{ "datasets/#/log", "POST", r_log_post, B_JSON, CAP_LINE + 1024 },
	{ "datasets/#/sample", "GET", r_sample, B_NONE, 0 },
	{ "datasets/#/sample", "POST", r_sample_post, B_LINE, CAP_LINE },
	{ "datasets/#/scores.csv", "GET", r_scores, B_NONE, 0 },
	{ "datasets/#/plot.svg", "GET", r_plot, B_NONE, 0 },
	/* issue 21, i21c: duplicates */
	{ "datasets/#/duplicates", "GET", r_dups, B_NONE, 0 },
	{ "datasets/#/duplicates", "POST", r_dups_post, B_LINE, CAP_LINE },
	{ "datasets/#/embeddings", "GET", r_embs, B_NONE, 0 },
	{ "datasets/#/embeddings", "PUT", r_emb_put, B_FILE, CAP_CSV },
	{ "embeddings/#", "GET", r_emb, B_NONE, 0 },
	{ "embeddings/#", "DELETE", r_emb_delete, B_NONE, 0 },
	{ "embeddings/#/csv", "GET", r_emb_csv, B_NONE, 0 },
	{ NULL, NULL, NULL, B_NONE, 0 },
};
