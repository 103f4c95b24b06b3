/*
 * routes_data.c — the v1 routes of datasets, tags, nodes and blobs
 * (docs/api.md), and their table (srv_routes_data; api/server_int.h says
 * how a route is called and answers).
 *
 * Every route runs the same operations a local mount does, through a
 * per-user view of one backend (core/view.h): one store, one sampling
 * runner. Ownership: a view checks the owner only for dataset ids, so every
 * route first resolves the dataset of the tag, node or embedding it names
 * and answers 404 unless the token's user owns it (no existence leak). A
 * blob is readable only when a node of the user references it.
 *
 * Revalidation: a folder listing carries an ETag built from the folder's
 * change counter (r_children); a request whose If-None-Match names it gets
 * 304 after auth, the ownership check and one indexed read, before any row
 * is listed or any JSON built.
 *
 * Uploads no node names (PUT /v1/blobs without a commit): each user may
 * hold at most `upload_cap` bytes of them (--upload-cap); a PUT
 * that would go over is answered 507 "upload_quota" and stores nothing,
 * checked from Content-Length before the body is read and again, exactly,
 * when the blob is kept: inside the keep's write transaction, which
 * excludes every other writer of the catalog (store_blob_put_capped), so
 * parallel PUTs, to this server or to others on the same catalog, cannot
 * add up past the cap. The sweep of api/server_run.c collects those older
 * than the grace.
 *
 * Threads: handlers run in MHD's threads and block on the catalog and disk
 * I/O; they share the backend (thread-safe).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/server_int.h"
#include "core/log.h"
#include "core/util.h"

#define PAGE_DEFAULT 1000
#define PAGE_MAX 10000
#define PENDING_MAX 100000        /* pending blobs per user */

/* ---- routes: misc ---- */

static enum MHD_Result r_whoami(struct srv *s, struct req *r,
				struct MHD_Connection *c)
{
	cJSON *j = cJSON_CreateObject();

	(void)s;
	if (j && !cJSON_AddStringToObject(j, "user", r->user)) {
		cJSON_Delete(j);
		j = NULL;
	}
	return srv_send_json(c, MHD_HTTP_OK, j);
}

static enum MHD_Result r_statfs(struct srv *s, struct req *r,
				struct MHD_Connection *c)
{
	struct statvfs sv;
	cJSON *j = NULL;
	int rc = r->be->ops->statfs(r->be, &sv);

	(void)s;
	if (!rc)
		rc = api_statfs_to_json(&sv, &j);
	return srv_send_obj(c, MHD_HTTP_OK, rc, j);
}

/* ---- routes: datasets ---- */

static enum MHD_Result send_dataset(struct MHD_Connection *c, unsigned st,
				    int rc, const struct store_dataset *d)
{
	cJSON *j = NULL;

	if (!rc)
		rc = api_dataset_to_json(d, &j);
	return srv_send_obj(c, st, rc, j);
}

static enum MHD_Result r_datasets(struct srv *s, struct req *r,
				  struct MHD_Connection *c)
{
	struct store_dataset d, *v = NULL;
	char name[STORE_NAME_MAX + 1];
	enum MHD_Result ret;
	size_t n = 0;
	cJSON *j = NULL;
	int q = srv_query(r, c, "name", name, sizeof(name), &ret), rc;

	(void)s;
	if (q < 0)
		return ret;
	if (q)
		return send_dataset(c, MHD_HTTP_OK,
				    r->be->ops->dataset_get(r->be, name, &d), &d);
	rc = r->be->ops->dataset_list(r->be, &v, &n);
	if (!rc)
		rc = api_list_to_json("datasets", v, n, sizeof(*v),
				      api_dataset_any, &j);
	free(v);
	return srv_send_obj(c, MHD_HTTP_OK, rc, j);
}

/* Reads {"name": ...} of a create/rename body: 0, or answered (1). */
static int name_body(struct req *r, struct MHD_Connection *c, char *name,
		     size_t len, enum MHD_Result *ret)
{
	cJSON *j = srv_body_json(r, c, ret);
	int rc;

	if (!j)
		return 1;
	rc = api_get_str(j, "name", name, len, 1);
	cJSON_Delete(j);
	if (rc == -ENAMETOOLONG) {
		*ret = srv_send_errno(c, -EINVAL, "name too long");
		return 1;
	}
	if (rc) {
		*ret = srv_bad_field(c, "name");
		return 1;
	}
	return 0;
}

static enum MHD_Result r_dataset_create(struct srv *s, struct req *r,
					struct MHD_Connection *c)
{
	struct store_dataset d;
	char name[STORE_NAME_MAX + 1], msg[BE_MSG] = "";
	enum MHD_Result ret;
	int rc;

	(void)s;
	if (name_body(r, c, name, sizeof(name), &ret))
		return ret;
	rc = r->be->ops->dataset_create(r->be, name, &d, msg);
	if (rc)
		return srv_send_errno(c, rc, msg);
	return send_dataset(c, MHD_HTTP_CREATED, 0, &d);
}

static enum MHD_Result r_dataset(struct srv *s, struct req *r,
				 struct MHD_Connection *c)
{
	struct store_dataset d;

	return send_dataset(c, MHD_HTTP_OK, srv_own_ds(s, r, r->id, &d), &d);
}

static enum MHD_Result r_dataset_rename(struct srv *s, struct req *r,
					struct MHD_Connection *c)
{
	struct store_dataset d;
	char name[STORE_NAME_MAX + 1], msg[BE_MSG] = "";
	enum MHD_Result ret;
	int rc = srv_own_ds(s, r, r->id, &d);

	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (name_body(r, c, name, sizeof(name), &ret))
		return ret;
	rc = r->be->ops->dataset_rename(r->be, r->id, name, msg);
	if (rc)
		return srv_send_errno(c, rc, msg);
	srv_name_gone(s, 0, d.name);
	return send_dataset(c, MHD_HTTP_OK, srv_own_ds(s, r, r->id, &d), &d);
}

/* PATCH datasets/#: {"tag_folders": "all"|"selected"} sets which folders
 * later tags get (core/backend.h); any other body is a rename. */
static enum MHD_Result r_dataset_patch(struct srv *s, struct req *r,
				       struct MHD_Connection *c)
{
	struct store_dataset d;
	char val[64], msg[BE_MSG] = "";
	enum MHD_Result ret;
	cJSON *j;
	int rc = srv_own_ds(s, r, r->id, &d), has;

	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (!(j = srv_body_json(r, c, &ret)))
		return ret;
	has = cJSON_HasObjectItem(j, "tag_folders");
	rc = has ? api_get_str(j, "tag_folders", val, sizeof(val), 1) : 0;
	cJSON_Delete(j);
	if (!has)
		return r_dataset_rename(s, r, c);
	if (rc == -ENAMETOOLONG)   /* refused below, with a reason */
		snprintf(val, sizeof(val), "(a value of over 63 bytes)");
	else if (rc)
		return srv_bad_field(c, "tag_folders");
	rc = r->be->ops->dataset_set_tag_folders(r->be, r->id, val, msg);
	if (rc)
		return srv_send_errno(c, rc, msg);
	return send_dataset(c, MHD_HTTP_OK, srv_own_ds(s, r, r->id, &d), &d);
}

static enum MHD_Result r_dataset_delete(struct srv *s, struct req *r,
					struct MHD_Connection *c)
{
	struct store_dataset d;
	char msg[BE_MSG] = "";
	int rc = srv_own_ds(s, r, r->id, &d);

	if (!rc) {
		srv_before_remove(s);
		rc = r->be->ops->dataset_delete(r->be, r->id, msg);
	}
	if (!rc)
		srv_name_gone(s, 0, d.name);
	return rc ? srv_send_errno(c, rc, msg) :
		    srv_send_empty(c, MHD_HTTP_NO_CONTENT);
}

/* ---- routes: tags ---- */

static enum MHD_Result send_tag(struct MHD_Connection *c, unsigned st, int rc,
				const struct store_tag *t)
{
	cJSON *j = NULL;

	if (!rc)
		rc = api_tag_to_json(t, &j);
	return srv_send_obj(c, st, rc, j);
}

static enum MHD_Result r_tags(struct srv *s, struct req *r,
			      struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_tag t, *v = NULL;
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
		return send_tag(c, MHD_HTTP_OK,
				r->be->ops->tag_get(r->be, r->id, name, &t), &t);
	rc = r->be->ops->tag_list(r->be, r->id, &v, &n);
	if (!rc)
		rc = api_list_to_json("tags", v, n, sizeof(*v), api_tag_any, &j);
	free(v);
	return srv_send_obj(c, MHD_HTTP_OK, rc, j);
}

static enum MHD_Result r_tag_create(struct srv *s, struct req *r,
				    struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_tag t;
	char name[STORE_NAME_MAX + 1], msg[BE_MSG] = "";
	enum MHD_Result ret;
	int rc = srv_own_ds(s, r, r->id, &d);

	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (name_body(r, c, name, sizeof(name), &ret))
		return ret;
	rc = r->be->ops->tag_create(r->be, r->id, name, &t, msg);
	/* a sampling run will replace the selection (msg says which): a
	 * conflict with the dataset's state, not a transient 503 to retry */
	if (rc == -EBUSY && *msg)
		return srv_send_err(c, MHD_HTTP_CONFLICT, "run_active", "EBUSY", msg);
	if (rc)
		return srv_send_errno(c, rc, msg);
	return send_tag(c, MHD_HTTP_CREATED, 0, &t);
}

static enum MHD_Result r_tag(struct srv *s, struct req *r,
			     struct MHD_Connection *c)
{
	struct store_tag t;

	return send_tag(c, MHD_HTTP_OK, srv_own_tag(s, r, r->id, &t), &t);
}

static enum MHD_Result r_tag_rename(struct srv *s, struct req *r,
				    struct MHD_Connection *c)
{
	struct store_tag t;
	char name[STORE_NAME_MAX + 1], msg[BE_MSG] = "";
	enum MHD_Result ret;
	int rc = srv_own_tag(s, r, r->id, &t);

	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (name_body(r, c, name, sizeof(name), &ret))
		return ret;
	rc = r->be->ops->tag_rename(r->be, r->id, name, msg);
	if (rc)
		return srv_send_errno(c, rc, msg);
	srv_name_gone(s, t.dataset, t.name);
	return send_tag(c, MHD_HTTP_OK, srv_own_tag(s, r, r->id, &t), &t);
}

static enum MHD_Result r_tag_delete(struct srv *s, struct req *r,
				    struct MHD_Connection *c)
{
	struct store_tag t;
	char msg[BE_MSG] = "";
	int rc = srv_own_tag(s, r, r->id, &t);

	if (!rc) {
		srv_before_remove(s);
		rc = r->be->ops->tag_delete(r->be, r->id, msg);
	}
	if (!rc)
		srv_name_gone(s, t.dataset, t.name);
	return rc ? srv_send_errno(c, rc, msg) :
		    srv_send_empty(c, MHD_HTTP_NO_CONTENT);
}

/* ---- routes: nodes ---- */

/* Adds "thumb_sha" and "thumb_size" to a node's JSON when its bytes have a
 * thumbnail on the server (upload=thumbnails, docs/api.md "Content") that
 * `user` sent: another user's would say who has those bytes. */
static int add_thumb(struct core_blobs *b, const char *user,
		     const struct store_node *n, cJSON *j)
{
	unsigned char t[STORE_SHA_LEN];
	char hex[65];
	int64_t size;

	if (n->kind != STORE_FILE || !n->has_sha ||
	    core_blob_thumb_for(b, user, n->sha, t, &size))
		return 0;
	core_sha_hex(t, hex);
	if (!cJSON_AddStringToObject(j, "thumb_sha", hex) ||
	    !cJSON_AddNumberToObject(j, "thumb_size", (double)size))
		return -ENOMEM;
	return 0;
}

enum MHD_Result srv_send_node(struct srv *s, const struct req *r,
			      struct MHD_Connection *c, unsigned st, int rc,
			      const struct store_node *n)
{
	cJSON *j = NULL;

	if (!rc)
		rc = api_node_to_json(n, &j);
	if (!rc)
		rc = add_thumb(s->blobs, r->owner, n, j);
	return srv_send_obj(c, st, rc, j);
}

static enum MHD_Result r_node(struct srv *s, struct req *r,
			      struct MHD_Connection *c)
{
	struct store_node n;

	return srv_send_node(s, r, c, MHD_HTTP_OK, srv_own_node(s, r, r->id, &n),
			 &n);
}

static enum MHD_Result r_node_lookup(struct srv *s, struct req *r,
				     struct MHD_Connection *c)
{
	struct store_node n;
	char name[STORE_NAME_MAX + 1];
	enum MHD_Result ret;
	int rc = srv_own_node(s, r, r->id, &n), q;

	if (rc)
		return srv_send_errno(c, rc, NULL);
	q = srv_query(r, c, "name", name, sizeof(name), &ret);
	if (q < 0)
		return ret;
	if (!q)
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
				    "EINVAL", "lookup needs ?name=");
	rc = r->be->ops->node_lookup(r->be, r->id, name, &n);
	return srv_send_node(s, r, c, MHD_HTTP_OK, rc, &n);
}

/* A listing's content is a function of its folder's children, so the
 * folder's change counter (core_own_folder) is its validator: ETag
 * "g<ino>-<gen>-<epoch>" (epoch: the catalog's, core_catalog_epoch: the
 * same on every server of the catalog, so a 304 of one is right at any
 * other; another catalog, such as a migrated one, starts new ETags). Paging is in the URL, so each page is its own resource. The
 * counter is read before the rows: a change in between labels the newer
 * rows with the older counter, which only costs the client one more 200. */
static enum MHD_Result r_children(struct srv *s, struct req *r,
				  struct MHD_Connection *c)
{
	struct store_node n, *v = NULL;
	char after[STORE_NAME_MAX + 1] = "", num[24], etag[80];
	enum MHD_Result ret;
	int64_t limit = PAGE_DEFAULT;
	uint64_t gen;
	size_t cnt = 0;
	cJSON *j = NULL;
	/* the owner check and the validator in one query (core/serve.h) */
	int rc = core_own_folder(s->st, r->owner, r->id, &n, &gen), q;

	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (srv_query(r, c, "after", after, sizeof(after), &ret) < 0)
		return ret;
	q = srv_query(r, c, "limit", num, sizeof(num), &ret);
	if (q < 0)
		return ret;
	if (q && (api_id_parse(num, &limit) || limit > PAGE_MAX))
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "invalid",
				    "EINVAL", "limit must be 1-10000");
	/* Ownership was checked above: a 304 tells nothing about a folder
	 * of another user's (that was a 404). */
	snprintf(etag, sizeof(etag), "\"g%lld-%" PRIu64 "-%016" PRIx64 "\"",
		 (long long)r->id, gen, s->boot);
	if (srv_none_match_hit(c, etag))
		return srv_send_not_modified(c, etag);
	/* One more than asked tells whether another page follows. */
	rc = core_folder_page(s->st, r->id, after, (size_t)limit + 1, &v,
			      &cnt);
	int more = cnt > (size_t)limit;
	if (more)
		cnt = (size_t)limit;
	if (!rc)
		rc = api_list_to_json("children", v, cnt, sizeof(*v),
				      api_node_any, &j);
	if (!rc) {
		cJSON *it, *a = cJSON_GetObjectItemCaseSensitive(j, "children");
		size_t i = 0;
		cJSON_ArrayForEach(it, a) {
			if (i >= cnt || (rc = add_thumb(s->blobs, r->owner,
							&v[i++], it)))
				break;
		}
	}
	if (!rc && !(more ? cJSON_AddStringToObject(j, "next", v[cnt - 1].name)
			  : cJSON_AddNullToObject(j, "next")))
		rc = -ENOMEM;
	free(v);
	if (rc) {
		cJSON_Delete(j);
		return srv_send_errno(c, rc, NULL);
	}
	return srv_send_tagged(c, j, etag);
}


/* The optional "sha256" and "size" of a file's create (both or neither):
 * *with = 1 when present. 0 or -EINVAL. */
static int content_fields(const cJSON *j, int *with,
			  unsigned char sha[STORE_SHA_LEN], int64_t *size)
{
	char hex[80];
	int h = api_get_str(j, "sha256", hex, sizeof(hex), 0);
	int z = api_get_i64(j, "size", size, 0);

	*with = 0;
	if (h < 0 || z < 0 || (h == 0) != (z == 0))
		return -EINVAL;
	if (h)                          /* absent: api_get_* answered 1 */
		return 0;
	if (api_sha_from_hex(hex, sha) || *size < 0)
		return -EINVAL;
	*with = 1;
	return 0;
}

/*
 * A file created with its content in one request (the web app's upload):
 * the blob must be readable by the caller and of that size before
 * anything is created; then create and commit (durable unless the body
 * says "durable":false). If the commit fails the
 * new node is removed, so a browser tab closed mid-upload never leaves a
 * pending, empty file behind (the handler runs to its end whatever the
 * client does).
 */
static enum MHD_Result create_with_content(struct srv *s, struct req *r,
					   struct MHD_Connection *c,
					   const char *name,
					   const struct store_newnode *nn,
					   const unsigned char *sha,
					   int64_t size, int durable)
{
	struct store_node n;
	int rc = srv_blob_readable(s, r, sha);

	if (rc < 0)
		return srv_send_errno(c, rc, NULL);
	if (rc == 0)
		return srv_blob_missing(c);
	rc = r->be->ops->node_create(r->be, r->id, name, nn, &n);
	if (rc)
		return srv_send_node(s, r, c, MHD_HTTP_CREATED, rc, &n);
	rc = srv_commit_blob(s, r, n.ino, sha, size, nn->mtime_ns, durable);
	if (rc) {
		r->be->ops->node_remove(r->be, r->id, name, 0);
		if (rc == -ENOENT)
			return srv_blob_missing(c);
		return srv_send_errno(c, rc, rc == -EINVAL ?
				      "size does not match the blob" : NULL);
	}
	rc = srv_own_node(s, r, n.ino, &n);
	return srv_send_node(s, r, c, MHD_HTTP_CREATED, rc, &n);
}

static enum MHD_Result r_node_create(struct srv *s, struct req *r,
				     struct MHD_Connection *c)
{
	struct store_node n;
	struct store_newnode nn;
	unsigned char sha[STORE_SHA_LEN];
	char name[STORE_NAME_MAX + 2];
	int64_t size = 0;
	int with = 0, durable = 1;
	enum MHD_Result ret;
	cJSON *j;
	int rc = srv_own_node(s, r, r->id, &n);

	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (!(j = srv_body_json(r, c, &ret)))
		return ret;
	rc = api_newnode_from_json(j, name, sizeof(name), &nn);
	if (!rc)
		rc = content_fields(j, &with, sha, &size);
	if (!rc && api_get_bool(j, "durable", &durable, 0) < 0)
		rc = -EINVAL;
	cJSON_Delete(j);
	if (rc == -ENAMETOOLONG)
		return srv_send_errno(c, rc, "name longer than 255 bytes");
	if (rc || (with && nn.kind != STORE_FILE))
		return srv_bad_field(c, "name, kind (1 or 2), mode, uid, gid,"
				     " mtime_ns, sha256 and size (files)");
	if (with)
		return create_with_content(s, r, c, name, &nn, sha, size,
					   durable);
	rc = r->be->ops->node_create(r->be, r->id, name, &nn, &n);
	return srv_send_node(s, r, c, MHD_HTTP_CREATED, rc, &n);
}

static enum MHD_Result r_node_remove(struct srv *s, struct req *r,
				     struct MHD_Connection *c)
{
	struct store_node n;
	char name[STORE_NAME_MAX + 1], isdir[8] = "0";
	enum MHD_Result ret;
	int rc = srv_own_node(s, r, r->id, &n), q;

	if (rc)
		return srv_send_errno(c, rc, NULL);
	q = srv_query(r, c, "name", name, sizeof(name), &ret);
	if (q < 0)
		return ret;
	if (!q || srv_query(r, c, "is_dir", isdir, sizeof(isdir), &ret) < 0 ||
	    (strcmp(isdir, "0") && strcmp(isdir, "1")))
		return q && isdir[0] == '\0' ? ret :
		       srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
				    "EINVAL",
				    "remove needs ?name=NAME&is_dir=0|1");
	rc = r->be->ops->node_remove(r->be, r->id, name, isdir[0] == '1');
	return rc ? srv_send_errno(c, rc, NULL) :
		    srv_send_empty(c, MHD_HTTP_NO_CONTENT);
}

static enum MHD_Result r_node_rename(struct srv *s, struct req *r,
				     struct MHD_Connection *c)
{
	struct store_node n;
	char name[STORE_NAME_MAX + 2], newname[STORE_NAME_MAX + 2];
	int64_t newparent = 0;
	int noreplace = 0, rc;
	enum MHD_Result ret;
	cJSON *j;

	if ((rc = srv_own_node(s, r, r->id, &n)) != 0)
		return srv_send_errno(c, rc, NULL);
	if (!(j = srv_body_json(r, c, &ret)))
		return ret;
	rc = api_get_str(j, "name", name, sizeof(name), 1);
	if (!rc)
		rc = api_get_str(j, "newname", newname, sizeof(newname), 1);
	if (!rc)
		rc = api_get_i64(j, "newparent", &newparent, 1);
	if (!rc && api_get_bool(j, "noreplace", &noreplace, 0) < 0)
		rc = -EINVAL;
	cJSON_Delete(j);
	if (rc == -ENAMETOOLONG)
		return srv_send_errno(c, rc, "name longer than 255 bytes");
	if (rc)
		return srv_bad_field(c, "name, newparent, newname, noreplace");
	if ((rc = srv_own_node(s, r, newparent, &n)) != 0)
		return srv_send_errno(c, rc, NULL);
	rc = r->be->ops->node_rename(r->be, r->id, name, newparent, newname,
				     noreplace);
	return rc ? srv_send_errno(c, rc, NULL) :
		    srv_send_empty(c, MHD_HTTP_NO_CONTENT);
}

static enum MHD_Result r_node_setattr(struct srv *s, struct req *r,
				      struct MHD_Connection *c)
{
	struct store_node n;
	int64_t mode = 0, uid = 0, gid = 0, mtime = 0, atime = 0;
	int what = 0, q, bad = 0;
	enum MHD_Result ret;
	cJSON *j;
	int rc = srv_own_node(s, r, r->id, &n);

	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (!(j = srv_body_json(r, c, &ret)))
		return ret;
	/* mode is permission bits only (docs/api.md): a file type in it is
	 * a client's bug, refused rather than guessed at. */
	if ((q = api_get_i64(j, "mode", &mode, 0)) == 0)
		what |= STORE_SET_MODE;
	if (q < 0 || mode < 0 || mode > 07777)
		bad = 1;
	if ((q = api_get_i64(j, "uid", &uid, 0)) == 0)
		what |= STORE_SET_UID;
	if (!bad && (q < 0 || uid < 0 || uid > UINT32_MAX))
		bad = 2;
	if ((q = api_get_i64(j, "gid", &gid, 0)) == 0)
		what |= STORE_SET_GID;
	if (!bad && (q < 0 || gid < 0 || gid > UINT32_MAX))
		bad = 3;
	if ((q = api_get_i64(j, "mtime_ns", &mtime, 0)) == 0)
		what |= STORE_SET_MTIME;
	if (!bad && q < 0)
		bad = 4;
	if ((q = api_get_i64(j, "atime_ns", &atime, 0)) == 0)
		what |= STORE_SET_ATIME;
	if (!bad && q < 0)
		bad = 5;
	cJSON_Delete(j);
	if (bad == 1)
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_json",
				    "EINVAL", "mode: permission bits only, a"
				    " number from 0 to 4095 (07777), no file"
				    " type bits");
	if (bad)
		return srv_bad_field(c, bad == 2 ? "uid (0 to 2^32-1)" :
				     bad == 3 ? "gid (0 to 2^32-1)" :
				     bad == 4 ? "mtime_ns (an integer, as a string)" :
				     "atime_ns (an integer, as a string)");
	rc = r->be->ops->node_setattr(r->be, r->id, what, (uint32_t)mode,
				      (uint32_t)uid, (uint32_t)gid, mtime,
				      atime);
	if (rc)
		return srv_send_errno(c, rc, NULL);
	return srv_send_node(s, r, c, MHD_HTTP_OK, srv_own_node(s, r, r->id, &n),
			 &n);
}

enum MHD_Result srv_blob_missing(struct MHD_Connection *c)
{
	return srv_send_err(c, MHD_HTTP_CONFLICT, "blob_missing", "EAGAIN",
			    "the server does not have this blob: PUT"
			    " /v1/blobs/{sha} and retry");
}

/* The optional upload=meta|thumbnails fields of a content commit:
 * "bytes":"kept" and "thumbnail":{"sha256","size"} (only with kept).
 * 0 or -EINVAL. */
static int content_kept(const cJSON *j, int *kept, int *thumb,
			unsigned char tsha[STORE_SHA_LEN], int64_t *tsize)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "bytes");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "thumbnail");
	char hex[80];

	*kept = *thumb = 0;
	if (b && !(cJSON_IsString(b) && !strcmp(b->valuestring, "kept")))
		return -EINVAL;
	*kept = b != NULL;
	if (!t || cJSON_IsNull(t))
		return 0;
	if (!*kept || !cJSON_IsObject(t) ||
	    api_get_str(t, "sha256", hex, sizeof(hex), 1) ||
	    api_sha_from_hex(hex, tsha) || api_get_i64(t, "size", tsize, 1) ||
	    *tsize < 0)
		return -EINVAL;
	*thumb = 1;
	return 0;
}

/* Commits a node whose bytes stay with the uploader (store/kept.c). */
static enum MHD_Result commit_kept(struct srv *s, struct req *r,
				   struct MHD_Connection *c,
				   const unsigned char *sha, int64_t size,
				   int64_t mtime, const unsigned char *tsha,
				   int64_t tsize, int durable)
{
	struct store_node n;
	int rc;

	/* a thumbnail must be bytes this user has sent (a grant):
	 * a hash alone is not a right to read */
	if (tsha && (rc = srv_blob_readable(s, r, tsha)) != 1)
		return rc < 0 ? srv_send_errno(c, rc, NULL) : srv_blob_missing(c);
	rc = core_node_commit_kept(s->st, r->id, sha, size, mtime, tsha,
				   tsize, durable);
	if (rc == -EAGAIN)
		return srv_blob_missing(c);
	if (rc)
		return srv_send_errno(c, rc, NULL);
	rc = srv_own_node(s, r, r->id, &n);
	if (rc == -ENOENT)
		return srv_send_empty(c, MHD_HTTP_NO_CONTENT);
	return srv_send_node(s, r, c, MHD_HTTP_OK, rc, &n);
}

/* Points file node `ino` at blob `sha` of the caller: 0, -ENOENT when the
 * caller has not sent it (or it was collected meanwhile), -EINVAL when
 * its size is not `size`, or another -errno. */
int srv_commit_blob(struct srv *s, struct req *r, int64_t ino,
		    const unsigned char *sha, int64_t size, int64_t mtime,
		    int durable)
{
	struct stat sb;
	int fd = core_blob_open_for(s->blobs, r->owner, sha), rc;

	if (fd < 0)
		return fd;
	if (fstat(fd, &sb) || sb.st_size != size) {
		close(fd);
		return -EINVAL;
	}
	rc = r->be->ops->node_commit(r->be, ino, fd, "", sha, size, mtime,
				     durable);
	close(fd);
	return rc;
}

static enum MHD_Result r_content(struct srv *s, struct req *r,
				 struct MHD_Connection *c)
{
	struct store_node n;
	unsigned char sha[STORE_SHA_LEN], tsha[STORE_SHA_LEN];
	int64_t tsize = 0;
	char hex[80];
	int64_t size = -1, mtime = 0;
	int durable = 0, rc, kept = 0, thumb = 0;
	enum MHD_Result ret;
	cJSON *j;

	if ((rc = srv_own_node(s, r, r->id, &n)) != 0)
		return srv_send_errno(c, rc, NULL);
	if (!(j = srv_body_json(r, c, &ret)))
		return ret;
	rc = api_get_str(j, "sha256", hex, sizeof(hex), 1);
	if (!rc)
		rc = api_sha_from_hex(hex, sha);
	if (!rc)
		rc = api_get_i64(j, "size", &size, 1);
	if (!rc && (api_get_i64(j, "mtime_ns", &mtime, 0) < 0 ||
		    api_get_bool(j, "durable", &durable, 0) < 0))
		rc = -EINVAL;
	if (!rc)
		rc = content_kept(j, &kept, &thumb, tsha, &tsize);
	cJSON_Delete(j);
	if (rc || size < 0)         /* mtime: 0 = now, < 0 before 1970 */
		return srv_bad_field(c, "sha256, size, mtime_ns, durable, bytes"
				     " (\"kept\"), thumbnail {sha256, size}");
	if (kept)
		return commit_kept(s, r, c, sha, size, mtime,
				   thumb ? tsha : NULL, tsize, durable);
	rc = srv_commit_blob(s, r, r->id, sha, size, mtime, durable);
	if (rc == -ENOENT)       /* not sent, or collected meanwhile */
		return srv_blob_missing(c);
	if (rc)
		return srv_send_errno(c, rc, rc == -EINVAL ?
				      "size does not match the blob" : NULL);
	rc = srv_own_node(s, r, r->id, &n);
	if (rc == -ENOENT)       /* removed meanwhile: bytes discarded */
		return srv_send_empty(c, MHD_HTTP_NO_CONTENT);
	return srv_send_node(s, r, c, MHD_HTTP_OK, rc, &n);
}

/* ---- routes: blobs ---- */

/*
 * POST /v1/kept {"sha256":[HEX…]} (at most KEPT_MAX): which of these hashes
 * a node of the caller's datasets (live tree or frozen tag) still names:
 * {"named":[HEX…]}. A mount with upload=meta asks it to release the bytes it
 * pinned for samples that are gone (docs/api.md, Content). It tells the
 * caller nothing about other users' datasets.
 */
#define KEPT_MAX 10000
static enum MHD_Result r_kept(struct srv *s, struct req *r,
			      struct MHD_Connection *c)
{
	enum MHD_Result ret;
	cJSON *j = srv_body_json(r, c, &ret), *in, *out, *named, *it;
	unsigned char sha[STORE_SHA_LEN];
	int rc = 0;

	if (!j)
		return ret;
	in = cJSON_GetObjectItemCaseSensitive(j, "sha256");
	if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) > KEPT_MAX) {
		cJSON_Delete(j);
		return srv_bad_field(c, "sha256 (an array of at most 10000 hashes)");
	}
	out = cJSON_CreateObject();
	named = out ? cJSON_AddArrayToObject(out, "named") : NULL;
	if (!named)
		rc = -ENOMEM;
	cJSON_ArrayForEach(it, in) {
		if (rc)
			break;
		if (!cJSON_IsString(it) || api_sha_from_hex(it->valuestring, sha)) {
			cJSON_Delete(j);
			cJSON_Delete(out);
			return srv_bad_field(c, "sha256 (64 hex digits each)");
		}
		rc = core_blob_named(s->blobs, r->owner, sha);
		if (rc == 1) {
			cJSON *h = cJSON_CreateString(it->valuestring);
			rc = h && cJSON_AddItemToArray(named, h) ? 0 : -ENOMEM;
			if (rc)
				cJSON_Delete(h);
		}
	}
	cJSON_Delete(j);
	if (rc < 0) {
		cJSON_Delete(out);
		return srv_send_errno(c, rc, NULL);
	}
	return srv_send_json(c, MHD_HTTP_OK, out);
}

static enum MHD_Result r_blob_get(struct srv *s, struct req *r,
				  struct MHD_Connection *c)
{
	char etag[72], hex[65];
	enum MHD_Result ret;
	struct stat sb;
	int fd, rc;

	if (srv_blob_redirect(s, r, c, &ret))   /* ?redirect=1: 307 */
		return ret;
	/* sent it once? */
	fd = core_blob_open_for(s->blobs, r->owner, r->sha);
	/* not sent by this user: their own upload=meta sample (bytes on the
	 * uploading machine) says so; anything else is simply not there */
	if (fd == -ENOENT && core_blob_kept(s->blobs, r->owner, r->sha) == 1)
		return srv_send_err(c, MHD_HTTP_NOT_FOUND,
				    "bytes_kept_by_uploader", "EIO", "the bytes"
				    " of this sample stay on the machine that"
				    " uploaded it (upload=meta)");
	if (fd < 0)
		return srv_send_errno(c, fd, NULL);
	if (fstat(fd, &sb)) {
		rc = -errno;
		close(fd);
		return srv_send_errno(c, rc, NULL);
	}
	core_sha_hex(r->sha, hex);
	snprintf(etag, sizeof(etag), "\"%s\"", hex);
	{
		const char *h[] = { MHD_HTTP_HEADER_ETAG, etag,
				    MHD_HTTP_HEADER_CACHE_CONTROL,
				    "private, max-age=31536000, immutable",
				    NULL };
		return srv_send_fd_ranged(c, fd, sb.st_size,
					  "application/octet-stream", h);
	}
}

/* 0 if `user` may add `more` pending bytes (docs/api.md, "Uploads"), 1
 * with the 507 answered (or the error of the count). A blob this user has
 * sent already costs nothing more (it is pending, and counted, or named). */
/* 507 upload_quota: count blobs of bytes pending, with `more` over. */
static enum MHD_Result send_quota(struct srv *s, struct MHD_Connection *c,
				  size_t count, int64_t bytes, uint64_t more)
{
	char why[320];

	snprintf(why, sizeof(why), "%zu%s uploaded blob(s) of %lld bytes that no"
		 " node names yet; with this one (%llu bytes) over the cap of"
		 " %llu bytes%s: commit them (PUT /v1/nodes/{id}/content), or"
		 " wait %u s for the unused ones to be collected; nothing"
		 " stored", count, count >= PENDING_MAX ? " (the most allowed)" :
		 "", (long long)bytes, (unsigned long long)more,
		 (unsigned long long)s->upload_cap,
		 count >= PENDING_MAX ? " or the count cap" : "", s->grace);
	return srv_send_err(c, MHD_HTTP_INSUFFICIENT_STORAGE, "upload_quota",
			    "EDQUOT", why);
}

int srv_quota_refuses(struct srv *s, struct req *r, struct MHD_Connection *c,
		      uint64_t more, enum MHD_Result *ret)
{
	int64_t bytes;
	size_t count;
	int rc = srv_blob_readable(s, r, r->sha);

	if (rc == 0)
		rc = core_blob_pending(s->blobs, r->owner, &count, &bytes);
	if (rc < 0) {
		*ret = srv_send_errno(c, rc, NULL);
		return 1;
	}
	if (rc == 1 || (count < PENDING_MAX &&
			(uint64_t)bytes + more <= s->upload_cap))
		return 0;
	*ret = send_quota(s, c, count, bytes, more);
	return 1;
}

int srv_blob_body_ok(struct req *r, struct MHD_Connection *c,
		     const char *mismatch, enum MHD_Result *ret)
{
	unsigned char got[EVP_MAX_MD_SIZE];
	unsigned int glen = 0;

	if (r->ioerr)
		*ret = srv_send_errno(c, r->ioerr, NULL);
	else if (!EVP_DigestFinal_ex(r->md, got, &glen) ||
		 glen != STORE_SHA_LEN)
		*ret = srv_send_errno(c, -EIO, "hashing failed");
	else if (memcmp(got, r->sha, STORE_SHA_LEN))
		*ret = srv_send_err(c, MHD_HTTP_BAD_REQUEST, "hash_mismatch",
				    "EIO", mismatch);
	else
		return 1;
	return 0;
}

static enum MHD_Result r_blob_put(struct srv *s, struct req *r,
				  struct MHD_Connection *c)
{
	enum MHD_Result ret;

	if (!srv_blob_body_ok(r, c, "the body does not hash to the blob's"
			      " name; nothing stored", &ret))
		return ret;
	if (srv_blob_keep(s, r, c, &ret))
		return ret;          /* srv_on_done drops the staged bytes */
	return srv_send_empty(c, MHD_HTTP_CREATED);
}

int srv_blob_keep(struct srv *s, struct req *r, struct MHD_Connection *c,
		  enum MHD_Result *ret)
{
	const struct core_blob_cap cap = { s->upload_cap, PENDING_MAX };
	int64_t bytes = 0;
	size_t count = 0;
	int rc;

	/* the exact size now (a chunked body has no Content-Length), checked
	 * against the catalog's pending rows in the keep's own transaction:
	 * exact across servers (core_blob_put_capped); with the grant (this
	 * user has shown the bytes) and the pending row; the body streamed to
	 * the engine as it came (r->up) is finished or dropped */
	rc = core_blob_put_capped(s->blobs, r->fd, r->staged, r->up, r->sha,
				  r->owner, &cap, &count, &bytes);
	r->staged[0] = '\0';     /* consumed (renamed or unlinked) */
	r->up = NULL;            /* consumed (finished or dropped) */
	if (rc == -EDQUOT) {
		*ret = send_quota(s, c, count, bytes, r->got);
		return 1;
	}
	if (rc) {
		*ret = srv_send_errno(c, rc, NULL);
		return 1;
	}
	return 0;
}

/* ---- the table ---- */

const struct route srv_routes_data[] = {
	{ "whoami", "GET", r_whoami, B_NONE, 0 },
	{ "statfs", "GET", r_statfs, B_NONE, 0 },
	{ "datasets", "GET", r_datasets, B_NONE, 0 },
	{ "datasets", "POST", r_dataset_create, B_JSON, CAP_JSON },
	{ "datasets/#", "GET", r_dataset, B_NONE, 0 },
	{ "datasets/#", "PATCH", r_dataset_patch, B_JSON, CAP_JSON },
	{ "datasets/#", "DELETE", r_dataset_delete, B_NONE, 0 },
	{ "datasets/#/tags", "GET", r_tags, B_NONE, 0 },
	{ "datasets/#/tags", "POST", r_tag_create, B_JSON, CAP_JSON },
	{ "tags/#", "GET", r_tag, B_NONE, 0 },
	{ "tags/#", "PATCH", r_tag_rename, B_JSON, CAP_JSON },
	{ "tags/#", "DELETE", r_tag_delete, B_NONE, 0 },
	{ "nodes/#", "GET", r_node, B_NONE, 0 },
	{ "nodes/#", "PATCH", r_node_setattr, B_JSON, CAP_JSON },
	{ "nodes/#/lookup", "GET", r_node_lookup, B_NONE, 0 },
	{ "nodes/#/children", "GET", r_children, B_NONE, 0 },
	{ "nodes/#/children", "POST", r_node_create, B_JSON, CAP_JSON },
	{ "nodes/#/children", "DELETE", r_node_remove, B_NONE, 0 },
	{ "nodes/#/rename", "POST", r_node_rename, B_JSON, CAP_JSON },
	{ "nodes/#/content", "PUT", r_content, B_JSON, CAP_JSON },
	{ "blobs/#", "GET", r_blob_get, B_NONE, 0 },
	{ "blobs/#", "PUT", r_blob_put, B_BLOB, CAP_BLOB },
	{ "kept", "POST", r_kept, B_JSON, CAP_JSON },
	{ NULL, NULL, NULL, B_NONE, 0 },
};
