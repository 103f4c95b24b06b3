/*
 * routes_lightly.c — the lightly pip package's API (the platform-era client,
 * 1.1.x) under /lightly, so that its scripts run against `sievefs serve`
 * unchanged with LIGHTLY_SERVER_LOCATION=http(s)://HOST:PORT/lightly
 * (docs/api.md "The lightly door"; issue 18).
 *
 * A thin translation onto what sievefs has, never a second implementation:
 *   dataset      a sievefs dataset; its id is the dataset's uid (24 hex)
 *   sample       a file of the live tree (initial-tag); its id is the
 *                node's ino as 24 hex digits. POST .../samples makes the
 *                file and commits it metadata-only (upload=meta: a "kept"
 *                commit naming the SHA-256 of the door's record of the
 *                sample, since the client never sends the original's
 *                bytes); a thumbnail PUT makes it upload=thumbnails (kept
 *                with that thumbnail), a full PUT a normal commit of the
 *                bytes sent. So the client's modes are the mounts' modes.
 *   tag          a sievefs tag (id: its uid); bitMaskData is Python's
 *                hex() of an integer whose bit k is the k-th sample of the
 *                `mappings` order, which is the sample table's order
 *                (core/table.c: committed files of the live tree sorted
 *                bytewise by path); totSize is that table's count
 *   embedding    (lightly_jobs.c) a sievefs embedding, by name; the
 *                24-hex id the client holds (given before the CSV
 *                exists) is a row of store/lightly.c; the CSV goes
 *                through emb_put, the v1 route's validation
 *   sampling     (lightly_jobs.c) a `sample` request line (core/runs.c):
 *                RANDOM → random, CORESET → coreset n= min_distance=; a
 *                job id names the run; the first poll that finds it done
 *                freezes the selection as the requested tag (tag_create)
 *
 * Auth: `?token=` (the client's only way) on /lightly routes only — the v1
 * router never reads it; the two version routes take none (the client's
 * constructor asks them without one). Uploads and downloads go to signed
 * URLs (api/lightly_urls.c: HMAC over method, path, user, object and
 * expiry; a write URL works once), whose routes act as the URL's user. The
 * same ownership (another user's id → 404), limits and caps as v1.
 * Query strings are never logged (nothing here logs a target; the server
 * logs none).
 *
 * Threads: handlers run in MHD's threads; shared are the store and the
 * web app's table cache (srv_table_cache: thread-safe), so a dataset's
 * table is built once for both doors and held under one bound.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "api/lightly_int.h"
#include "api/server_int.h"
#include "core/names.h"
#include "core/table.h"

#define MIN_VERSION "1.0.0"          /* GET versions/pip/minimum */
#define LATEST_VERSION "1.1.7"       /* GET versions/pip/latest */
#define MAX_DATASET_SIZE "1000000"   /* GET quota (samples) */

/* ---- small helpers ---- */

int64_t srv_lightly_ms(int64_t ns)
{
	return ns / 1000000;
}

static enum MHD_Result not_impl(struct srv *s, struct req *r,
				struct MHD_Connection *c)
{
	(void)s;
	(void)r;
	return srv_send_err(c, 501, "not_implemented", "ENOSYS",
			    "not supported by sievefs's lightly door"
			    " (docs/api.md, \"The lightly door\")");
}

static enum MHD_Result send_str(struct MHD_Connection *c, unsigned status,
				const char *text)
{
	return srv_send_json(c, status, cJSON_CreateString(text));
}

/* The path segment after `word` in the request's path, or NULL. */
const char *srv_lightly_seg(const struct req *r, const char *word)
{
	for (size_t i = 1; i + 1 < r->path.n; i++)
		if (!strcmp(r->path.seg[i], word))
			return r->path.seg[i + 1];
	return NULL;
}

/* The request's dataset (the segment after "datasets", a uid) among the
 * owner's: 0, -ENOENT. */
int srv_lightly_ds(struct req *r, struct store_dataset *out)
{
	const char *uid = srv_lightly_seg(r, "datasets");
	struct store_dataset *all = NULL;
	size_t n = 0;
	int rc;

	if (!uid)
		return -ENOENT;
	rc = r->be->ops->dataset_list(r->be, &all, &n);
	if (rc)
		return rc;
	rc = -ENOENT;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(all[i].uid, uid)) {
			*out = all[i];
			rc = 0;
			break;
		}
	free(all);
	return rc;
}

enum MHD_Result srv_lightly_ds_err(struct MHD_Connection *c, int rc)
{
	return srv_send_errno(c, rc, rc == -ENOENT ? "no such dataset: the id"
			      " is not one GET /v1/datasets lists for this"
			      " token" : NULL);
}

/* Tag `uid` of dataset ds: 0 or -ENOENT. */
int srv_lightly_tag(struct req *r, int64_t ds, const char *uid,
		    struct store_tag *out)
{
	struct store_tag *all = NULL;
	size_t n = 0;
	int rc = r->be->ops->tag_list(r->be, ds, &all, &n);

	if (rc)
		return rc;
	rc = -ENOENT;
	for (size_t i = 0; i < n; i++)
		if (!strcmp(all[i].uid, uid)) {
			*out = all[i];
			rc = 0;
			break;
		}
	free(all);
	return rc;
}

/* Sample id (24 hex: the ino) → a file of dataset ds's live tree owned by
 * the request's owner: 0 or -ENOENT. */
static int find_sample(struct srv *s, struct req *r, const char *id,
		       int64_t ds, struct store_node *n)
{
	char *end;
	unsigned long long ino;
	int rc;

	if (!srv_lightly_hex24(id))
		return -ENOENT;
	ino = strtoull(id, &end, 16);
	if (*end || !ino || ino > INT64_MAX)
		return -ENOENT;
	rc = srv_own_node(s, r, (int64_t)ino, n);
	if (!rc && (n->dataset != ds || !n->tree_live || n->kind != STORE_FILE))
		rc = -ENOENT;
	return rc;
}

static void sample_id(int64_t ino, char out[25])
{
	snprintf(out, 25, "%024" PRIx64, (uint64_t)ino);
}

/* ---- JSON of the lightly models ---- */

/* The sample table of ds (a reference: tbl_put it). */
static int table_of(struct srv *s, int64_t ds, struct tbl **t)
{
	struct tbl_cache *tc = srv_table_cache(s);

	return tc ? tbl_get(tc, s->st, ds, t) : -ENOMEM;
}

static void table_done(struct srv *s, struct tbl *t)
{
	if (t)
		tbl_put(srv_table_cache(s), &t->o);
}

/* DatasetData. NULL when out of memory. nSamples and sizeInBytes count
 * the sample table's rows (the live tree's committed files) with one
 * query, without building the table. */
static cJSON *dataset_json(struct srv *s, const struct store_dataset *d)
{
	cJSON *j = cJSON_CreateObject();
	char img[16] = "full";
	int64_t n = 0, bytes = 0;

	if (core_lightly_img_type(s->st, d->id, img, sizeof(img)) <= 0)
		snprintf(img, sizeof(img), "full");
	if (core_tree_count(s->st, d->live_tree, &n, &bytes))
		n = bytes = 0;
	if (!j)
		return NULL;
	cJSON_AddStringToObject(j, "id", d->uid);
	cJSON_AddStringToObject(j, "name", d->name);
	cJSON_AddStringToObject(j, "type", "Images");
	cJSON_AddStringToObject(j, "imgType", img);
	cJSON_AddNumberToObject(j, "nSamples", (double)n);
	cJSON_AddNumberToObject(j, "sizeInBytes", (double)bytes);
	cJSON_AddNumberToObject(j, "createdAt", (double)srv_lightly_ms(d->created_ns));
	cJSON_AddNumberToObject(j, "lastModifiedAt",
				(double)srv_lightly_ms(d->created_ns));
	return j;
}

/* Python's hex() of the integer whose bit k is bits[k] (n of them). */
static char *bitmask_hex(const uint8_t *bits, size_t n)
{
	size_t nib = (n + 3) / 4, o = 2;
	char *out = malloc(nib + 4);
	int started = 0;

	if (!out)
		return NULL;
	out[0] = '0';
	out[1] = 'x';
	for (size_t j = nib; j-- > 0;) {
		unsigned v = 0;
		for (unsigned b = 0; b < 4; b++) {
			size_t k = 4 * j + b;
			if (k < n && bits[k])
				v |= 1u << b;
		}
		if (!v && !started)
			continue;
		started = 1;
		out[o++] = "0123456789abcdef"[v];
	}
	if (!started)
		out[o++] = '0';
	out[o] = '\0';
	return out;
}

/* For api/lightly_tags.c (issue 21, i21c). */
int srv_lightly_table(struct srv *s, int64_t ds, struct tbl **t)
{
	return table_of(s, ds, t);
}

void srv_lightly_table_done(struct srv *s, struct tbl *t)
{
	table_done(s, t);
}

char *srv_lightly_bitmask_hex(const uint8_t *bits, size_t n)
{
	return bitmask_hex(bits, n);
}

/* TagData of tag (of dataset d) in table t's order. NULL when out of
 * memory or on a store error. */
static cJSON *tag_json(struct srv *s, struct req *r,
		       const struct store_dataset *d, const struct store_tag *tg,
		       struct tbl *t)
{
	uint8_t *bits = malloc(t->n ? t->n : 1);
	char *hex = NULL;
	cJSON *j = NULL;
	struct store_tag p;

	if (!bits)
		return NULL;
	if (tg->live)
		memset(bits, 1, t->n);
	else if (tbl_members_tree(t, s->st, tg->id, bits))
		goto out;
	if (!(hex = bitmask_hex(bits, t->n)) || !(j = cJSON_CreateObject()))
		goto out;
	cJSON_AddStringToObject(j, "id", tg->uid);
	cJSON_AddStringToObject(j, "datasetId", d->uid);
	if (tg->parent > 0 && !r->be->ops->tag_get_id(r->be, tg->parent, &p))
		cJSON_AddStringToObject(j, "prevTagId", p.uid);
	else
		cJSON_AddNullToObject(j, "prevTagId");
	cJSON_AddStringToObject(j, "name", tg->name);
	cJSON_AddStringToObject(j, "bitMaskData", hex);
	cJSON_AddNumberToObject(j, "totSize", (double)t->n);
	cJSON_AddNumberToObject(j, "createdAt",
				(double)srv_lightly_ms(tg->created_ns));
	cJSON_AddNullToObject(j, "changes");
out:
	free(bits);
	free(hex);
	return j;
}

/* ---- routes: versions, quota ---- */

static enum MHD_Result r_min_version(struct srv *s, struct req *r,
				     struct MHD_Connection *c)
{
	(void)s;
	(void)r;
	return send_str(c, MHD_HTTP_OK, MIN_VERSION);
}

static enum MHD_Result r_latest_version(struct srv *s, struct req *r,
					struct MHD_Connection *c)
{
	(void)s;
	(void)r;
	return send_str(c, MHD_HTTP_OK, LATEST_VERSION);
}

static enum MHD_Result r_quota(struct srv *s, struct req *r,
			       struct MHD_Connection *c)
{
	(void)s;
	(void)r;
	return send_str(c, MHD_HTTP_OK, MAX_DATASET_SIZE);
}

/* ---- routes: datasets ---- */

static enum MHD_Result r_datasets(struct srv *s, struct req *r,
				  struct MHD_Connection *c)
{
	struct store_dataset *all = NULL;
	size_t n = 0;
	cJSON *arr;
	int rc = r->be->ops->dataset_list(r->be, &all, &n);

	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (!(arr = cJSON_CreateArray())) {
		free(all);
		return MHD_NO;
	}
	for (size_t i = 0; i < n; i++) {
		cJSON *j = dataset_json(s, &all[i]);
		if (!j) {
			free(all);
			cJSON_Delete(arr);
			return MHD_NO;
		}
		cJSON_AddItemToArray(arr, j);
	}
	free(all);
	return srv_send_json(c, MHD_HTTP_OK, arr);
}

static enum MHD_Result r_dataset_create(struct srv *s, struct req *r,
					struct MHD_Connection *c)
{
	char name[STORE_NAME_MAX + 1], msg[BE_MSG] = "";
	struct store_dataset d;
	enum MHD_Result ret;
	cJSON *j, *o;
	int rc;

	(void)s;
	if (!(j = srv_body_json(r, c, &ret)))
		return ret;
	rc = api_get_str(j, "name", name, sizeof(name), 1);
	cJSON_Delete(j);
	if (rc)
		return srv_bad_field(c, "name");
	rc = r->be->ops->dataset_create(r->be, name, &d, msg);
	if (rc)
		return srv_send_errno(c, rc, msg[0] ? msg : NULL);
	if (!(o = cJSON_CreateObject()))
		return MHD_NO;
	cJSON_AddStringToObject(o, "id", d.uid);
	return srv_send_json(c, MHD_HTTP_CREATED, o);
}

static enum MHD_Result r_dataset(struct srv *s, struct req *r,
				 struct MHD_Connection *c)
{
	struct store_dataset d;
	int rc = srv_lightly_ds(r, &d);
	cJSON *j;

	if (rc)
		return srv_lightly_ds_err(c, rc);
	if (!(j = dataset_json(s, &d)))
		return MHD_NO;
	return srv_send_json(c, MHD_HTTP_OK, j);
}

/* Removes everything under folder `dir` of a live tree (depth first). */
static int empty_dir(struct backend *be, int64_t dir, int depth)
{
	struct store_node *kids = NULL;
	size_t n = 0;
	int rc;

	if (depth > 512)
		return -ELOOP;
	rc = be->ops->node_children(be, dir, &kids, &n);
	for (size_t i = 0; !rc && i < n; i++) {
		if (kids[i].kind == STORE_DIR)
			rc = empty_dir(be, kids[i].ino, depth + 1);
		if (!rc)
			rc = be->ops->node_remove(be, dir, kids[i].name,
						  kids[i].kind == STORE_DIR);
	}
	free(kids);
	return rc;
}

/*
 * DELETE a dataset, as the platform did: with its tags, samples and
 * embeddings. Through the backend's own operations (tags youngest first,
 * since a tag that is another's parent cannot go; then the live tree's
 * files; then the embeddings; then the dataset), so every door sees each
 * step. Not atomic: a failure midway leaves what was not removed yet, and
 * the answer says why.
 */
static enum MHD_Result r_dataset_delete(struct srv *s, struct req *r,
					struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_tag *tags = NULL;
	struct store_embedding *embs = NULL;
	char msg[BE_MSG] = "";
	size_t n = 0;
	int rc = srv_lightly_ds(r, &d);

	if (rc)
		return srv_lightly_ds_err(c, rc);
	srv_before_remove(s);
	rc = r->be->ops->tag_list(r->be, d.id, &tags, &n);
	for (size_t i = n; !rc && i-- > 0;)
		if (!tags[i].live)
			rc = r->be->ops->tag_delete(r->be, tags[i].id, msg);
	free(tags);
	if (!rc)
		rc = empty_dir(r->be, d.live_root, 0);
	if (!rc && !(rc = r->be->ops->emb_list(r->be, d.id, &embs, &n))) {
		for (size_t i = 0; !rc && i < n; i++)
			rc = r->be->ops->emb_delete(r->be, embs[i].id);
		free(embs);
	}
	if (!rc)
		rc = r->be->ops->dataset_delete(r->be, d.id, msg);
	if (rc)
		return srv_send_errno(c, rc, msg[0] ? msg : NULL);
	srv_name_gone(s, d.id, d.name);
	return srv_send_empty(c, MHD_HTTP_OK);
}

/* ---- routes: tags ---- */

static enum MHD_Result r_tags(struct srv *s, struct req *r,
			      struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_tag *tags = NULL;
	struct tbl *t = NULL;
	char img[16];
	size_t n = 0;
	cJSON *arr = NULL;
	int rc = srv_lightly_ds(r, &d), made;

	if (rc)
		return srv_lightly_ds_err(c, rc);
	made = core_lightly_img_type(s->st, d.id, img, sizeof(img));
	if (made < 0 || (rc = table_of(s, d.id, &t)))
		return srv_send_errno(c, made < 0 ? made : rc, NULL);
	if (!(arr = cJSON_CreateArray()))
		goto oom;
	/* the platform had no tag before the initial one: a dataset nobody
	 * uploaded to has none (the client's upload_dataset checks that) */
	if (!made && t->n == 0)
		goto send;
	if ((rc = r->be->ops->tag_list(r->be, d.id, &tags, &n)))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		cJSON *j = tag_json(s, r, &d, &tags[i], t);
		if (!j)
			goto oom;
		cJSON_AddItemToArray(arr, j);
	}
send:
	free(tags);
	table_done(s, t);
	return srv_send_json(c, MHD_HTTP_OK, arr);
oom:
	rc = -ENOMEM;
fail:
	free(tags);
	table_done(s, t);
	cJSON_Delete(arr);
	return srv_send_errno(c, rc, NULL);
}

static enum MHD_Result r_tag(struct srv *s, struct req *r,
			     struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_tag tg;
	struct tbl *t = NULL;
	cJSON *j;
	int rc = srv_lightly_ds(r, &d);

	if (!rc)
		rc = srv_lightly_tag(r, d.id, srv_lightly_seg(r, "tags"), &tg);
	if (!rc)
		rc = table_of(s, d.id, &t);
	if (rc)
		return srv_send_errno(c, rc, NULL);
	j = tag_json(s, r, &d, &tg, t);
	table_done(s, t);
	return j ? srv_send_json(c, MHD_HTTP_OK, j) :
		   srv_send_errno(c, -ENOMEM, NULL);
}

static enum MHD_Result r_tag_initial(struct srv *s, struct req *r,
				     struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_tag tg;
	char img[16];
	enum MHD_Result ret;
	cJSON *j, *o;
	int rc = srv_lightly_ds(r, &d);

	if (rc)
		return srv_lightly_ds_err(c, rc);
	if (!(j = srv_body_json(r, c, &ret)))
		return ret;
	rc = api_get_str(j, "imgType", img, sizeof(img), 1);
	cJSON_Delete(j);
	if (rc || (strcmp(img, "full") && strcmp(img, "thumbnail") &&
		   strcmp(img, "meta")))
		return srv_bad_field(c, "imgType (full, thumbnail, meta)");
	rc = r->be->ops->tag_get_id(r->be, d.live_tree, &tg);
	if (!rc)
		rc = core_lightly_set_img_type(s->st, d.id, img);
	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (!(o = cJSON_CreateObject()))
		return MHD_NO;
	cJSON_AddStringToObject(o, "id", tg.uid);
	return srv_send_json(c, MHD_HTTP_CREATED, o);
}

/* GET .../tags/{tag}/filenames: the tag's files, a JSON list, in the
 * mappings order. */
static enum MHD_Result r_tag_filenames(struct srv *s, struct req *r,
				       struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_tag tg;
	struct tbl *t = NULL;
	uint8_t *bits = NULL;
	cJSON *arr = NULL;
	int rc = srv_lightly_ds(r, &d);

	if (!rc)
		rc = srv_lightly_tag(r, d.id, srv_lightly_seg(r, "tags"), &tg);
	if (!rc)
		rc = table_of(s, d.id, &t);
	if (!rc && (!(bits = malloc(t->n ? t->n : 1)) ||
		    !(arr = cJSON_CreateArray())))
		rc = -ENOMEM;
	if (!rc) {
		if (tg.live)
			memset(bits, 1, t->n);
		else
			rc = tbl_members_tree(t, s->st, tg.id, bits);
	}
	for (size_t i = 0; !rc && t && i < t->n; i++)
		if (bits[i])
			cJSON_AddItemToArray(arr, cJSON_CreateString(t->path[i]));
	free(bits);
	table_done(s, t);
	if (rc) {
		cJSON_Delete(arr);
		return srv_send_errno(c, rc, NULL);
	}
	return srv_send_json(c, MHD_HTTP_OK, arr);
}

/* ---- routes: samples ---- */

/* 0 if path is a relative path of names (no empty, "." or ".."
 * component, none over 255 bytes), else -EINVAL. */
static int path_check(char *p)
{
	char *slash;
	int rc;

	if (!*p || *p == '/')
		return -EINVAL;
	/* every component first: a bad path makes no folder */
	for (char *q = p;; q = slash + 1) {
		if (!(slash = strchr(q, '/')))
			return core_component_check(q) ? -EINVAL : 0;
		*slash = '\0';
		rc = core_component_check(q);
		*slash = '/';
		if (rc)
			return -EINVAL;
	}
}

/* The folder for fileName's last component under the live root, made as
 * needed: its ino into *dir and the last component's offset into *base.
 * 0, -EINVAL (a bad path), or the backend's error. */
static int sample_dir(struct backend *be, int64_t root, char *path,
		      int64_t *dir, size_t *base)
{
	struct store_newnode nn = { STORE_DIR, 0755, 0, 0, 0 };
	struct store_node n;
	char *p = path, *slash;
	int rc = path_check(path);

	*dir = root;
	if (rc)
		return rc;
	while ((slash = strchr(p, '/'))) {
		*slash = '\0';
		rc = be->ops->node_lookup(be, *dir, p, &n);
		if (rc == -ENOENT) {
			rc = be->ops->node_create(be, *dir, p, &nn, &n);
			/* the client uploads with 8 threads: another one's
			 * sample may have made this folder meanwhile */
			if (rc == -EEXIST)
				rc = be->ops->node_lookup(be, *dir, p, &n);
		}
		if (!rc && n.kind != STORE_DIR)
			rc = -ENOTDIR;
		*slash = '/';
		if (rc)
			return rc;
		*dir = n.ino;
		p = slash + 1;
	}
	*base = (size_t)(p - path);
	return core_component_check(p);
}

static enum MHD_Result r_sample_create(struct srv *s, struct req *r,
				       struct MHD_Connection *c)
{
	struct store_newnode nn = { STORE_FILE, 0644, 0, 0, 0 };
	char name[STORE_TREE_PATH_MAX + 1], id[25], *meta = NULL;
	unsigned char sha[STORE_SHA_LEN];
	struct store_dataset d;
	struct store_node n;
	enum MHD_Result ret;
	const cJSON *m;
	int64_t dir, size = 0;
	size_t base = 0;
	EVP_MD_CTX *md = NULL;
	cJSON *j, *o;
	int rc = srv_lightly_ds(r, &d);

	if (rc)
		return srv_lightly_ds_err(c, rc);
	if (!(j = srv_body_json(r, c, &ret)))
		return ret;
	if ((rc = api_get_str(j, "fileName", name, sizeof(name), 1))) {
		cJSON_Delete(j);
		return rc == -ENAMETOOLONG ?
		       srv_send_errno(c, rc, "fileName too long") :
		       srv_bad_field(c, "fileName");
	}
	m = cJSON_GetObjectItemCaseSensitive(j, "metaData");
	if (m && cJSON_IsObject(m)) {
		const cJSON *sz = cJSON_GetObjectItemCaseSensitive(m,
								   "sizeInBytes");
		if (cJSON_IsNumber(sz) && sz->valuedouble >= 0 &&
		    sz->valuedouble < 9e15)
			size = (int64_t)sz->valuedouble;
		meta = cJSON_PrintUnformatted(m);
	}
	cJSON_Delete(j);
	/* the bytes stay with the client until a PUT sends them (a kept
	 * commit, as upload=meta): name the hash of this record of them */
	if (!(md = EVP_MD_CTX_new()) ||
	    !EVP_DigestInit_ex(md, EVP_sha256(), NULL) ||
	    !EVP_DigestUpdate(md, "lightly-meta\n", 13) ||
	    !EVP_DigestUpdate(md, d.uid, strlen(d.uid)) ||
	    !EVP_DigestUpdate(md, "\n", 1) ||
	    !EVP_DigestUpdate(md, name, strlen(name)) ||
	    !EVP_DigestUpdate(md, "\n", 1) ||
	    (meta && !EVP_DigestUpdate(md, meta, strlen(meta))) ||
	    !EVP_DigestFinal_ex(md, sha, NULL))
		rc = -ENOMEM;
	EVP_MD_CTX_free(md);
	free(meta);
	if (!rc)
		rc = sample_dir(r->be, d.live_root, name, &dir, &base);
	if (rc == -EINVAL)
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "invalid",
				    "EINVAL", "fileName must be a relative path"
				    " of names (no empty, \".\" or \"..\""
				    " component)");
	if (!rc)
		rc = r->be->ops->node_create(r->be, dir, name + base, &nn, &n);
	if (!rc) {
		rc = core_node_commit_kept(s->st, n.ino, sha, size, 0, NULL, 0,
					   1);
		if (rc)
			r->be->ops->node_remove(r->be, dir, name + base, 0);
	}
	if (rc)
		return srv_send_errno(c, rc, rc == -EEXIST ?
				      "a sample of this fileName exists" : NULL);
	if (!(o = cJSON_CreateObject()))
		return MHD_NO;
	sample_id(n.ino, id);
	cJSON_AddStringToObject(o, "id", id);
	return srv_send_json(c, MHD_HTTP_CREATED, o);
}

/* 1 for "True", "true", "1"; 0 for anything else. */
static int query_true(struct req *r, const char *key)
{
	char v[8];

	return api_query_get(r->query, key, v, sizeof(v)) == 1 &&
	       (!strcmp(v, "True") || !strcmp(v, "true") || !strcmp(v, "1"));
}

/* GET .../samples/{id}/writeurl?isThumbnail= and .../readurl?type=. */
static enum MHD_Result sample_url(struct srv *s, struct req *r,
				  struct MHD_Connection *c, int write)
{
	struct store_dataset d;
	struct store_node n;
	char url[LIGHTLY_URL_MAX], type[16] = "full";
	const char *kind;
	int rc = srv_lightly_ds(r, &d);

	if (!rc)
		rc = find_sample(s, r, srv_lightly_seg(r, "samples"), d.id, &n);
	if (rc)
		return srv_send_errno(c, rc, rc == -ENOENT ? "no such sample" :
				      NULL);
	if (write) {
		kind = query_true(r, "isThumbnail") ? "thumb" : "full";
	} else {
		if (api_query_get(r->query, "type", type, sizeof(type)) < 0 ||
		    (strcmp(type, "full") && strcmp(type, "thumbnail")))
			return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "invalid",
					    "EINVAL", "type: full or thumbnail");
		kind = strcmp(type, "full") ? "thumb" : "full";
	}
	/* a read where the blobs are in an object store: its presigned URL
	 * (lightly_urls.c); else, and for writes, our own signed URL */
	rc = write ? 0 : srv_lightly_read_url(s, r, &n, kind, url, sizeof(url));
	if (rc == 1)
		return send_str(c, MHD_HTTP_OK, url);
	if (rc == 0)
		rc = srv_lightly_make_url(s, r, c, write ? "PUT" : "GET",
			"sample", srv_lightly_seg(r, "samples"), kind, url,
			sizeof(url));
	return rc ? srv_send_errno(c, rc, NULL) : send_str(c, MHD_HTTP_OK, url);
}

static enum MHD_Result r_writeurl(struct srv *s, struct req *r,
				  struct MHD_Connection *c)
{
	return sample_url(s, r, c, 1);
}

static enum MHD_Result r_readurl(struct srv *s, struct req *r,
				 struct MHD_Connection *c)
{
	return sample_url(s, r, c, 0);
}

static enum MHD_Result r_mappings(struct srv *s, struct req *r,
				  struct MHD_Connection *c)
{
	struct store_dataset d;
	struct tbl *t = NULL;
	char field[16], id[25];
	enum MHD_Result ret;
	cJSON *arr;
	int rc = srv_lightly_ds(r, &d), q;

	if (rc)
		return srv_lightly_ds_err(c, rc);
	q = srv_query(r, c, "field", field, sizeof(field), &ret);
	if (q < 0)
		return ret;
	if (!q || (strcmp(field, "fileName") && strcmp(field, "_id")))
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "invalid", "EINVAL",
				    "field: fileName or _id");
	if ((rc = table_of(s, d.id, &t)))
		return srv_send_errno(c, rc, NULL);
	if (!(arr = cJSON_CreateArray())) {
		table_done(s, t);
		return MHD_NO;
	}
	for (size_t i = 0; i < t->n; i++) {
		sample_id(t->ino[i], id);
		cJSON_AddItemToArray(arr, cJSON_CreateString(
			field[0] == '_' ? id : t->path[i]));
	}
	table_done(s, t);
	return srv_send_json(c, MHD_HTTP_OK, arr);
}

/* ---- routing ---- */

/* The table. Keys are the path after /lightly with each id segment
 * (after datasets, tags, samples, embeddings, jobs, and the signed
 * object) as "#". Routes the client has but sievefs does not map answer
 * 501 (not_impl). */
static const struct route routes[] = {
	{ "v1/versions/pip/minimum", "GET", r_min_version, B_NONE, 0 },
	{ "v1/versions/pip/latest", "GET", r_latest_version, B_NONE, 0 },
	{ "v1/quota", "GET", r_quota, B_NONE, 0 },
	{ "v1/datasets", "GET", r_datasets, B_NONE, 0 },
	{ "v1/datasets", "POST", r_dataset_create, B_JSON, CAP_JSON },
	{ "v1/datasets/enriched", "GET", not_impl, B_NONE, 0 },
	{ "v1/datasets/#", "GET", r_dataset, B_NONE, 0 },
	{ "v1/datasets/#", "DELETE", r_dataset_delete, B_JSON, CAP_JSON },
	{ "v1/datasets/#", "PUT", not_impl, B_JSON, CAP_JSON },
	{ "v1/datasets/#/tags", "GET", r_tags, B_NONE, 0 },
	{ "v1/datasets/#/tags", "POST", not_impl, B_JSON, CAP_JSON },
	{ "v1/datasets/#/tags/initial", "POST", r_tag_initial, B_JSON,
	  CAP_JSON },
	/* issue 21, i21c: tag arithmetic (api/lightly_tags.c) */
	{ "v1/datasets/#/tags/arithmetics", "POST",
	  srv_lightly_tag_arithmetics, B_JSON, CAP_JSON },
	{ "v1/datasets/#/tags/#", "GET", r_tag, B_NONE, 0 },
	{ "v1/datasets/#/tags/#/filenames", "GET", r_tag_filenames, B_NONE,
	  0 },
	/* issue 21 (i21a): active-learning scores (lightly_scores.c) */
	{ "v1/datasets/#/tags/#/scores", "POST", srv_lightly_scores, B_JSON,
	  64u << 20 },   /* a float per sample: millions of them */
	{ "v1/datasets/#/samples", "POST", r_sample_create, B_JSON,
	  CAP_JSON },
	{ "v1/datasets/#/samples", "GET", not_impl, B_NONE, 0 },
	{ "v1/datasets/#/samples/#", "GET", not_impl, B_NONE, 0 },
	{ "v1/datasets/#/samples/#", "PUT", not_impl, B_JSON, CAP_JSON },
	{ "v1/datasets/#/samples/#/writeurl", "GET", r_writeurl, B_NONE, 0 },
	{ "v1/datasets/#/samples/#/readurl", "GET", r_readurl, B_NONE, 0 },
	{ "v1/datasets/#/mappings", "GET", r_mappings, B_NONE, 0 },
	{ "v1/datasets/#/embeddings", "GET", srv_lightly_embeddings, B_NONE,
	  0 },
	{ "v1/datasets/#/embeddings", "POST", not_impl, B_JSON, CAP_JSON },
	{ "v1/datasets/#/embeddings/writeCSVUrl", "GET", srv_lightly_csv_url, B_NONE,
	  0 },
	{ "v1/datasets/#/embeddings/#/sampling", "POST", srv_lightly_sampling, B_JSON,
	  CAP_JSON },
	{ "v1/datasets/#/embeddings/#/isProcessed", "PUT", not_impl, B_JSON,
	  CAP_JSON },
	{ "v1/datasets/#/embeddings/#/2d", "GET", not_impl, B_NONE, 0 },
	{ "v1/datasets/#/embeddings/#/2d", "POST", not_impl, B_JSON,
	  CAP_JSON },
	{ "v1/jobs", "GET", not_impl, B_NONE, 0 },
	{ "v1/jobs/#", "GET", srv_lightly_job, B_NONE, 0 },
	{ "signed/sample/#", "PUT", srv_lightly_signed_put, B_BLOB, CAP_BLOB },
	{ "signed/sample/#", "GET", srv_lightly_signed_get, B_NONE, 0 },
	{ "signed/csv/#", "PUT", srv_lightly_signed_csv, B_FILE, CAP_CSV },
	{ NULL, NULL, NULL, B_NONE, 0 },
};

int srv_lightly_target(const struct req *r)
{
	return !r->raw_bad && !strncmp(r->raw, "/lightly", 8) &&
	       (r->raw[8] == '/' || r->raw[8] == '?' || !r->raw[8]);
}

/* Literal segments that follow an id word (not ids). */
static int literal(const char *seg)
{
	static const char *const lit[] = { "initial", "arithmetics",
		"writeCSVUrl", "enriched", NULL };

	for (size_t i = 0; lit[i]; i++)
		if (!strcmp(seg, lit[i]))
			return 1;
	return 0;
}

/* The route key of r->path (seg[0] = "lightly") into key: 0, or -EINVAL
 * for an id segment that is not 24 hex digits. */
static int path_key(struct req *r, char *key, size_t len)
{
	static const char *const idw[] = { "datasets", "tags", "samples",
		"embeddings", "jobs", NULL };
	size_t o = 0;

	key[0] = '\0';
	for (size_t i = 1; i < r->path.n; i++) {
		const char *seg = r->path.seg[i];
		int id = 0;
		for (size_t w = 0; idw[w]; w++)
			if (!strcmp(r->path.seg[i - 1], idw[w]))
				id = !literal(seg);
		if (i == 3 && !strcmp(r->path.seg[1], "signed"))
			id = 1;
		if (id && !srv_lightly_hex24(seg))
			return -EINVAL;
		o += (size_t)snprintf(key + o, len - o, "%s%s", i > 1 ? "/" : "",
				      id ? "#" : seg);
		if (o >= len)
			return -EINVAL;
	}
	return 0;
}

int srv_route_lightly(struct srv *s, struct req *r, struct MHD_Connection *c,
		      const char *method, enum MHD_Result *ret)
{
	static const struct route *const tabs[] = { routes };
	char key[API_SEG_MAX], token[128];
	size_t plen;
	int signed_url = !strncmp(r->raw, "/lightly/signed/", 16);
	int rc;

	srv_split_query(r);
	/* the client calls both /v1/datasets and /v1/datasets/ */
	plen = strlen(r->raw);
	if (plen > 9 && r->raw[plen - 1] == '/')
		r->raw[plen - 1] = '\0';
	rc = api_path_parse(r->raw, &r->path);
	if (!rc && path_key(r, key, sizeof(key)))
		rc = -EINVAL;
	if (rc) {
		/* a signed URL that does not parse was altered */
		*ret = signed_url ? srv_lightly_refuse(c, "not a signed URL of this"
					       " server") :
		       srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
				    "EINVAL", "malformed path or id");
		return 1;
	}
	if (srv_find_route(r, c, tabs, 1, key, method, ret))
		return 1;
	if (signed_url) {
		char *end;
		unsigned long long v = strtoull(r->path.seg[3], &end, 16);
		r->id = (int64_t)(v > INT64_MAX ? 0 : v);
	}
	if (!s)
		return 0;
	if (signed_url)
		return srv_lightly_check_signed(s, r, c, method, ret);
	/* the client's version check sends no token: the two version
	 * strings are public, as on the platform */
	if (!strncmp(key, "v1/versions/", 12))
		return 0;
	rc = api_query_get(r->query, "token", token, sizeof(token));
	if (rc != 1) {
		*ret = srv_send_err(c, MHD_HTTP_UNAUTHORIZED, "unauthorized",
				    "EACCES", "missing ?token=");
		return 1;
	}
	rc = srv_auth_token(s, r, c, token, ret);
	OPENSSL_cleanse(token, sizeof(token));
	return rc;
}
