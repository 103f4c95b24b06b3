/*
 * client_nodes.c — remote mode's nodes: the node ops of the backend
 * (get, lookup, children, create, remove, rename, setattr) and the node
 * records they keep in the metadata cache. Declared in api/client_int.h.
 *
 * Records. A node is cached decoded (memo_put: a be_node under its request
 * path + NODE_MEMO), so a warm lookup or open is a copy, not a JSON parse.
 * A listing primes the records of its items (cl_prime) under the lookup and
 * id paths that would fetch them alone. A record is a node as this machine
 * sees it (cl_thumb_view): with upload=thumbnails, a file whose bytes are
 * not pinned here reads as its thumbnail, hash and size both, so stat and
 * read agree.
 *
 * Lookups. A lookup that misses the cache is answered by one listing of its
 * folder when the folder fits in one page (DIR_PAGE) and this mount is not
 * writing nodes (a writing mount would invalidate the listing with every
 * file); a larger folder is marked and looked up name by name.
 *
 * Revalidation. A listing comes with an ETag (the folder's change counter
 * on the server) and is cached with it; the records primed from it join its
 * group in cache/meta. When it expires, the next GET carries If-None-Match;
 * a 304 (no body) extends the listing and every record of its group in one
 * step, and lookups go on being answered from those records: an unchanged
 * folder costs one small request per meta_ttl, nothing parsed or primed.
 * A 200 replaces the listing and primes again, as a first fetch does. Our
 * own changes drop listings and records at once (cl_changed_nodes), so the
 * next request is unconditional; the unreachable-server fallback serves the
 * expired copy as before (cl_get_body).
 *
 * Invariants: a record primed from a listing is fresh exactly as long as
 * that listing; a name absent from a listing the server just vouched for
 * is absent (-ENOENT), from an older one it is asked for by name; every
 * node change of this mount calls cl_changed_nodes, whatever its outcome.
 *
 * Threads: no lock of its own; wrote_at is read under down_lock. Ownership:
 * records are copied out by value; node_children's array is malloc'd, the
 * caller frees it. Failure: 0 or -errno from the request; with the server
 * unreachable a node is answered from its last known record (get_node).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/client_int.h"
#include "api/json.h"
#include "cache/blobs.h"
#include "cache/meta.h"
#include "core/log.h"

/* ---- node records ---- */

static void memo_put(struct client *c, const char *path, const be_node *n,
		     const char *head);

/* A list just fetched also answers the lookups of its items: cache each
 * item under the paths that would fetch it alone: name_pre + its name,
 * id_pre + its id. Saves a request per name after a readdir, and lets a
 * lookup be answered from the cache when the server is unreachable. Node
 * items go in decoded (memo_put), everything else as JSON text. Each goes
 * into the group of `head`, the list's own cache key: when a 304 says the
 * list is unchanged, they are all fresh again with it (cl_get_body). */
void cl_prime(struct client *c, const cJSON *list, const char *key,
	      const char *head, const char *name_pre,
	      const char *id_field, const char *id_pre)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(list, key), *it;
	char q[3 * STORE_NAME_MAX + 1], path[3 * STORE_NAME_MAX + 120];

	int nodes = !strcmp(id_pre, "/v1/nodes/");

	cJSON_ArrayForEach(it, a) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
		int64_t id = 0;
		char *text = NULL;
		be_node n;

		if (!cJSON_IsString(nm) ||
		    cl_pct(nm->valuestring, q, sizeof(q)) ||
		    api_get_i64(it, id_field, &id, 1))
			continue;
		if (nodes) {            /* decoded once, no JSON re-printed */
			if (api_node_from_json(it, &n))
				continue;
			cl_thumb_view(c, it, &n);
			if (!cl_pathf(path, sizeof(path), "%s%s", name_pre, q))
				memo_put(c, path, &n, head);
			if (!cl_pathf(path, sizeof(path), "%s%lld", id_pre,
				      (long long)id))
				memo_put(c, path, &n, head);
			continue;
		}
		text = cJSON_PrintUnformatted(it);
		if (!text)
			return;
		if (!cl_pathf(path, sizeof(path), "%s%s", name_pre, q))
			cache_meta_put_member(c->meta, path, text,
					      strlen(text), head);
		if (!cl_pathf(path, sizeof(path), "%s%lld", id_pre,
			      (long long)id))
			cache_meta_put_member(c->meta, path, text,
					      strlen(text), head);
		free(text);
	}
}

static int one_node(const cJSON *j, void *out)
{
	return api_node_from_json(j, out);
}

/* upload=thumbnails, as another machine sees it: a node whose bytes have a
 * thumbnail on the server ("thumb_sha") and are not pinned in our cache
 * reads as that thumbnail: its hash and size replace the original's, so
 * stat and read agree. The uploading machine (bytes pinned) keeps the
 * original. */
void cl_thumb_view(struct client *c, const cJSON *j, be_node *n)
{
	unsigned char t[STORE_SHA_LEN];
	char hex[80];
	int64_t size;

	if (!n->has_sha || api_get_str(j, "thumb_sha", hex, sizeof(hex), 1) ||
	    api_sha_from_hex(hex, t) || api_get_i64(j, "thumb_size", &size, 1) ||
	    size < 0 || cache_blob_pinned(c->blobs, n->sha))
		return;
	memcpy(n->sha, t, STORE_SHA_LEN);
	n->size = size;
}

/* Decoded node records are cached too, as raw be_node bytes under the
 * request's path + NODE_MEMO: the same TTL and prefix invalidation as the
 * JSON, but a lookup or open costs a copy instead of a JSON parse (which,
 * with number formatting when priming, was most of a warm read's CPU). */
#define NODE_MEMO "\001node"

/* head: the listing it was primed from (its group), or NULL. */
static void memo_put(struct client *c, const char *path, const be_node *n,
		     const char *head)
{
	char key[3 * STORE_NAME_MAX + 130];

	if (!cl_pathf(key, sizeof(key), "%s" NODE_MEMO, path))
		cache_meta_put_member(c->meta, key, (const char *)n,
				      sizeof(*n), head);
}

/* 0 and *out from the memo of path (stale: also an expired one). */
static int memo_get(struct client *c, const char *path, be_node *out,
		    int stale)
{
	char key[3 * STORE_NAME_MAX + 130], *b = NULL;
	size_t len = 0;
	int rc;

	if (cl_pathf(key, sizeof(key), "%s" NODE_MEMO, path))
		return -ENOENT;
	rc = stale ? cache_meta_get_stale(c->meta, key, &b, &len)
		   : cache_meta_get(c->meta, key, &b, &len);
	if (!rc && len == sizeof(*out))
		memcpy(out, b, len);
	else
		rc = -ENOENT;
	free(b);
	return rc;
}

/* GET path and decode one node, as this machine sees it (cl_thumb_view). */
static int get_node(struct client *c, const char *path, be_node *out)
{
	cJSON *j;
	int rc;

	if (memo_get(c, path, out, 0) == 0)
		return 0;
	rc = cl_get_json(c, path, 1, &j);
	if (!rc) {
		rc = api_node_from_json(j, out) ? -EIO : 0;
		if (!rc)
			cl_thumb_view(c, j, out);
		cJSON_Delete(j);
		if (!rc)
			memo_put(c, path, out, NULL);
	} else if (rc == -EIO && memo_get(c, path, out, 1) == 0) {
		rc = 0;                 /* server unreachable: last known */
	}
	return rc;
}

/* ---- nodes ---- */

static int revalidate_listing(struct client *c, int64_t parent);

/* A record primed from a listing that has expired since is refreshed by
 * revalidating that listing (a 304 for the whole folder) rather than by a
 * GET of the node alone, whose answer would leave the listing's group. */
int cl_node_get(struct backend *be, int64_t ino, be_node *out)
{
	struct client *c = C(be);
	char path[64];
	be_node old;

	if (ino <= 0)
		return -ENOENT;
	cl_pathf(path, sizeof(path), "/v1/nodes/%lld", (long long)ino);
	if (memo_get(c, path, out, 0) == 0)
		return 0;
	if (memo_get(c, path, &old, 1) == 0 && old.parent > 0 &&
	    revalidate_listing(c, old.parent) == 0 &&
	    memo_get(c, path, out, 0) == 0)
		return 0;
	return get_node(c, path, out);
}

#define DIR_PAGE 1000

/* The cache key (request path) of parent's one-page listing. */
void cl_listing_path(char *path, size_t len, int64_t parent)
{
	cl_pathf(path, len, "/v1/nodes/%lld/children?limit=%d",
		 (long long)parent, DIR_PAGE);
}

/* 1 when the listing j holds the whole folder (no "next" page). */
static int whole_folder(const cJSON *j)
{
	const cJSON *next = cJSON_GetObjectItemCaseSensitive(j, "next");

	return !cJSON_IsString(next) || !next->valuestring[0];
}

/* Primes the lookups and node records of a listing of parent just
 * fetched (path: its cache key, the group's head). */
static void prime_children(struct client *c, int64_t parent,
			   const char *path, const cJSON *j)
{
	char fmt[96];

	cl_pathf(fmt, sizeof(fmt), "/v1/nodes/%lld/lookup?name=",
		 (long long)parent);
	cl_prime(c, j, "children", path, fmt, "ino", "/v1/nodes/");
}

/* 1 while this mount is writing nodes (a change within meta_ttl). */
static int writing_nodes(struct client *c)
{
	int w;

	pthread_mutex_lock(&c->down_lock);
	w = c->wrote_at > 0 && now_s() - c->wrote_at < c->meta_ttl;
	pthread_mutex_unlock(&c->down_lock);
	return w;
}

/* A lookup that missed the cache, answered by one listing of the whole
 * directory: a loader reading a folder then costs one request per folder
 * per meta_ttl instead of one per name, and the listing primes the node
 * records that open and getattr want next. Once the listing expires, it is
 * revalidated: a 304 makes it and every record primed from it fresh again
 * (cl_get_body), and the name is answered from its record (lpath, the
 * lookup's own path) without parsing the listing. Only for directories
 * that fit in one page of DIR_PAGE entries: a larger one is marked ("#big"
 * key, kept while the cache holds it) and looked up name by name, as are
 * all names while this mount is writing nodes.
 * Returns 0, -ENOENT (absent from a listing that is current), or -EAGAIN:
 * ask by name instead. */
static int lookup_by_listing(struct client *c, int64_t parent,
			     const char *name, const char *lpath,
			     be_node *out)
{
	char path[96], big[112], *marker = NULL, *body;
	const cJSON *a, *it;
	size_t mlen, blen;
	enum got how;
	cJSON *j;
	int rc;

	cl_listing_path(path, sizeof(path), parent);
	cl_pathf(big, sizeof(big), "%s#big", path);
	if (cache_meta_get_stale(c->meta, big, &marker, &mlen) == 0) {
		free(marker);
		return -EAGAIN;
	}
	/* A mount that is writing (cp -r in) invalidates listings with every
	 * file it creates: re-listing for each new name would cost more than
	 * the name's own request. */
	if (writing_nodes(c))
		return -EAGAIN;
	rc = cl_get_body(c, path, 1, &body, &blen, &how);
	if (rc)
		return rc == -ENOENT ? rc : -EAGAIN;
	if (how == GOT_REVALIDATED && memo_get(c, lpath, out, 0) == 0) {
		free(body);
		return 0;
	}
	j = cl_parse_body(path, body, blen);
	free(body);
	if (!j)
		return -EAGAIN;
	if (!whole_folder(j)) {
		cache_meta_put(c->meta, big, "1", 1);
		cJSON_Delete(j);
		return -EAGAIN;
	}
	if (how == GOT_FETCHED)
		prime_children(c, parent, path, j);
	/* Absent from a listing the server just vouched for: absent. From
	 * an older one: ask by name, so a name made elsewhere shows within
	 * the TTL. */
	rc = how == GOT_FETCHED || how == GOT_REVALIDATED ? -ENOENT : -EAGAIN;
	a = cJSON_GetObjectItemCaseSensitive(j, "children");
	cJSON_ArrayForEach(it, a) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
		if (cJSON_IsString(nm) && !strcmp(nm->valuestring, name)) {
			rc = api_node_from_json(it, out) ? -EIO : 0;
			if (!rc)
				cl_thumb_view(c, it, out);
			break;
		}
	}
	cJSON_Delete(j);
	return rc;
}

/* Brings the one-page listing of parent up to date when an expired copy
 * with a validator is cached (a 304, or a 200 primed again). 0, or -errno
 * (-ENOENT: no such copy) — the caller then asks for what it wanted. */
static int revalidate_listing(struct client *c, int64_t parent)
{
	char path[96], etag[96], *body;
	size_t blen;
	enum got how;
	cJSON *j;
	int rc;

	cl_listing_path(path, sizeof(path), parent);
	if (cache_meta_etag(c->meta, path, etag, sizeof(etag)))
		return -ENOENT;
	rc = cl_get_body(c, path, 1, &body, &blen, &how);
	if (rc || how != GOT_FETCHED) {
		if (!rc)
			free(body);
		return rc ? rc : how == GOT_STALE ? -EAGAIN : 0;
	}
	j = cl_parse_body(path, body, blen);
	free(body);
	if (!j)
		return -EIO;
	if (whole_folder(j))
		prime_children(c, parent, path, j);
	cJSON_Delete(j);
	return 0;
}

/*
 * Names just found absent. A create is preceded by two lookups of its name:
 * the tool's stat() and the kernel's own before an O_EXCL create (it
 * revalidates even a negative entry it holds). The second is answered
 * from a record of the first's 404, kept ABSENT_S at most (and dropped with
 * every other node record at our own changes, cl_changed_nodes): a name
 * another mount makes shows at most ABSENT_S later than it would anyway,
 * well inside the kernel's own negative-entry TTL (live_ttl).
 */
#define ABSENT "\001absent"
#define ABSENT_S 0.5

static int absent_get(struct client *c, const char *path)
{
	char key[3 * STORE_NAME_MAX + 130], *b = NULL;
	size_t len = 0;
	double at;
	int hit = 0;

	if (cl_pathf(key, sizeof(key), "%s" ABSENT, path) ||
	    cache_meta_get(c->meta, key, &b, &len))
		return 0;
	if (len == sizeof(at)) {
		memcpy(&at, b, sizeof(at));
		hit = now_s() - at < ABSENT_S;
	}
	free(b);
	return hit;
}

static void absent_put(struct client *c, const char *path)
{
	char key[3 * STORE_NAME_MAX + 130];
	double at = now_s();

	if (!cl_pathf(key, sizeof(key), "%s" ABSENT, path))
		cache_meta_put(c->meta, key, (const char *)&at, sizeof(at));
}

/* Renews a folder known whole whose record expired (client_whole.c), while
 * this mount is writing (a reader's lookups go by lookup_by_listing, which
 * revalidates its cached listing): one listing of all of it, fetched now
 * (never a cached copy: the record's time is when it was asked for). 0,
 * or -errno: the folder is then looked up by name (a folder past one page
 * is no longer known whole). */
static int whole_renew(struct client *c, int64_t parent)
{
	char path[96], *body = NULL;
	const char **names = NULL;
	const cJSON *a, *it;
	double t0 = now_s();
	size_t blen, n = 0;
	enum got how;
	cJSON *j;
	int rc;

	cl_listing_path(path, sizeof(path), parent);
	rc = cl_get_body(c, path, 0, &body, &blen, &how);
	j = !rc && how == GOT_FETCHED ? cl_parse_body(path, body, blen) : NULL;
	free(body);
	a = j ? cJSON_GetObjectItemCaseSensitive(j, "children") : NULL;
	if (!j || !whole_folder(j) || !cJSON_IsArray(a)) {
		cl_whole_drop(c, parent);   /* not again at every lookup */
		cJSON_Delete(j);
		return rc ? rc : -EAGAIN;
	}
	names = calloc((size_t)cJSON_GetArraySize(a) + 1, sizeof(*names));
	cJSON_ArrayForEach(it, a) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
		if (!names || !cJSON_IsString(nm))
			break;
		names[n++] = nm->valuestring;
	}
	rc = names && !it ? 0 : -EAGAIN;
	if (!rc)
		cl_whole_vouch(c, parent, t0, names, n);
	else
		cl_whole_drop(c, parent);
	free(names);
	cJSON_Delete(j);
	return rc;
}

int cl_node_lookup(struct backend *be, int64_t parent, const char *name,
		   be_node *out)
{
	char q[3 * STORE_NAME_MAX + 1], path[3 * STORE_NAME_MAX + 80];
	char *body = NULL;
	size_t len;
	int rc;

	if (cl_pct(name, q, sizeof(q)))
		return -ENAMETOOLONG;
	if (cl_pathf(path, sizeof(path), "/v1/nodes/%lld/lookup?name=%s",
		     (long long)parent, q))
		return -ENAMETOOLONG;
	if (memo_get(C(be), path, out, 0) == 0)
		return 0;               /* primed by a listing, or seen */
	if (absent_get(C(be), path))
		return -ENOENT;
	rc = cl_whole_absent(C(be), parent, name);
	if (rc < 0 && writing_nodes(C(be)) && whole_renew(C(be), parent) == 0)
		rc = cl_whole_absent(C(be), parent, name);
	else if (rc < 0)
		cl_whole_drop(C(be), parent);  /* a reader: lookup_by_listing */
	if (rc == 1)
		return -ENOENT;         /* a folder known whole: client_whole.c */
	if (cache_meta_get(C(be)->meta, path, &body, &len) == 0)
		free(body);             /* fresh: get_node answers, no request */
	else if ((rc = lookup_by_listing(C(be), parent, name, path, out)) !=
		 -EAGAIN)
		return rc;
	rc = get_node(C(be), path, out);
	if (rc == -ENOENT)
		absent_put(C(be), path);
	return rc;
}

int cl_node_children(struct backend *be, int64_t parent, be_node **out,
		     size_t *n)
{
	char q[3 * STORE_NAME_MAX + 1], path[3 * STORE_NAME_MAX + 120];
	char after[STORE_NAME_MAX + 1] = "";
	be_node *all = NULL, *page;
	size_t nall = 0, np;
	int rc = 0;

	*out = NULL;
	*n = 0;
	for (;;) {
		cJSON *j, *next;
		if (cl_pct(after, q, sizeof(q)))
			return -EIO;
		cl_pathf(path, sizeof(path),
			 "/v1/nodes/%lld/children?limit=10000%s%s",
			 (long long)parent, after[0] ? "&after=" : "",
			 after[0] ? q : "");
		int fresh;
		rc = cl_get_json_f(C(be), path, 1, &j, &fresh);
		if (rc)
			break;
		if (fresh)
			prime_children(C(be), parent, path, j);
		rc = cl_decode_list(j, "children", sizeof(*page), one_node,
				    (void **)&page, &np);
		if (!rc) {
			const cJSON *it, *a = cJSON_GetObjectItemCaseSensitive(
				j, "children");
			size_t i = 0;
			cJSON_ArrayForEach(it, a)
				if (i < np)
					cl_thumb_view(C(be), it, &page[i++]);
		}
		next = cJSON_GetObjectItemCaseSensitive(j, "next");
		if (!rc && np) {
			be_node *v = realloc(all, (nall + np) * sizeof(*v));
			if (!v)
				rc = -ENOMEM;
			else {
				memcpy(v + nall, page, np * sizeof(*v));
				all = v;
				nall += np;
			}
		}
		if (!rc)
			free(page);
		int more = !rc && cJSON_IsString(next) && next->valuestring[0];
		if (more)
			snprintf(after, sizeof(after), "%s", next->valuestring);
		cJSON_Delete(j);
		if (!more)
			break;
	}
	if (rc) {
		free(all);
		return rc;
	}
	*out = all;
	*n = nall;
	return 0;
}

/* A node the server just answered a change of ours with (a create, a
 * setattr, a content commit) is its record as of that change: kept under
 * its id, after cl_changed_nodes dropped the older one, so the getattr the
 * kernel sends right after the change costs no request (rsync: a GET after
 * each of its create, chmod and utimes). */
void cl_node_remember(struct client *c, const cJSON *j)
{
	char path[64];
	be_node n;

	if (!j || api_node_from_json(j, &n) || n.ino <= 0)
		return;
	cl_thumb_view(c, j, &n);
	if (!cl_pathf(path, sizeof(path), "/v1/nodes/%lld",
		      (long long)n.ino))
		memo_put(c, path, &n, NULL);
}

int cl_node_create(struct backend *be, int64_t parent, const char *name,
		   const struct store_newnode *nn, be_node *out)
{
	cJSON *b = NULL, *j = NULL;
	char path[64];
	int rc;

	double t0 = now_s();

	rc = api_newnode_to_json(name, nn, &b);
	if (rc)
		return rc;
	cl_pathf(path, sizeof(path), "/v1/nodes/%lld/children",
		 (long long)parent);
	cl_whole_named(C(be), parent, name);
	rc = cl_send_json(C(be), "POST", path, b, &j, NULL);
	cJSON_Delete(b);
	cl_changed_nodes(C(be));
	if (rc == -EALREADY) {
		/* a retry of ours was told the first try made the node and
		 * its answer was lost (client_http.c, request ids): it is
		 * the node by that name now */
		log_info("remote: create %s: the answer was lost with its"
			 " server, looking the node up", name);
		return cl_node_lookup(be, parent, name, out);
	}
	if (!rc)
		rc = j && !api_node_from_json(j, out) ? 0 : -EIO;
	if (!rc)
		cl_node_remember(C(be), j);
	if (!rc && out->kind == STORE_DIR)
		cl_whole_made(C(be), out->ino, t0);  /* empty as of t0 */
	cJSON_Delete(j);
	return rc;
}

int cl_node_remove(struct backend *be, int64_t parent, const char *name,
		   int is_dir)
{
	char q[3 * STORE_NAME_MAX + 1], path[3 * STORE_NAME_MAX + 100];
	struct client *c = C(be);
	size_t npins = 0;
	be_node n;
	int rc, pinned = 0;

	if (cl_pct(name, q, sizeof(q)))
		return -ENAMETOOLONG;
	/* a file whose bytes we pinned: release them if it was the last
	 * sample naming them (cl_pins_release). Only a cache holding pins
	 * (upload=meta) pays the lookup: an rm -r of a full upload must not
	 * ask the server about every file first. */
	cache_blobs_usage(c->blobs, NULL, NULL, NULL, &npins);
	if (npins && !is_dir && !cl_node_lookup(be, parent, name, &n) &&
	    n.has_sha)
		pinned = cache_blob_pinned(c->blobs, n.sha);
	cl_pathf(path, sizeof(path),
		 "/v1/nodes/%lld/children?name=%s&is_dir=%d",
		 (long long)parent, q, is_dir ? 1 : 0);
	rc = cl_send_json(c, "DELETE", path, NULL, NULL, NULL);
	cl_changed_nodes(c);
	if (!rc && pinned)
		cl_pins_release(c,
				(const unsigned char (*)[STORE_SHA_LEN])&n.sha,
				1);
	return rc;
}

int cl_node_rename(struct backend *be, int64_t parent, const char *name,
		   int64_t newparent, const char *newname,
		   int noreplace)
{
	cJSON *b = cJSON_CreateObject();
	char path[64];
	int rc = -ENOMEM;

	if (b && cJSON_AddStringToObject(b, "name", name) &&
	    cJSON_AddNumberToObject(b, "newparent", (double)newparent) &&
	    cJSON_AddStringToObject(b, "newname", newname) &&
	    cJSON_AddBoolToObject(b, "noreplace", noreplace)) {
		cl_pathf(path, sizeof(path), "/v1/nodes/%lld/rename",
			 (long long)parent);
		cl_whole_named(C(be), newparent, newname);
		rc = cl_send_json(C(be), "POST", path, b, NULL, NULL);
		cl_changed_nodes(C(be));
	}
	cJSON_Delete(b);
	return rc;
}

int cl_node_setattr(struct backend *be, int64_t ino, int what,
		    uint32_t mode, uint32_t uid, uint32_t gid,
		    int64_t mtime_ns, int64_t atime_ns)
{
	cJSON *b = cJSON_CreateObject(), *j = NULL;
	char path[64];
	int rc = -ENOMEM;

	if (!b)
		return -ENOMEM;
	/* The contract (core/backend.h, docs/api.md): permission bits only;
	 * the server would answer 400 — say here whose bug it is. */
	if ((what & STORE_SET_MODE) && (mode & ~07777u)) {
		log_error("remote: setattr of node %lld: mode 0%o is not"
			  " permission bits only (07777): refused",
			  (long long)ino, (unsigned)mode);
		rc = -EINVAL;
		goto out;
	}
	/* A chmod to the mode the node has (rsync's fchmod of the temporary
	 * file it just created with that mode) changes nothing a stat shows
	 * but ctime: no request, when the record is fresh. */
	if (what == STORE_SET_MODE) {
		be_node cur;

		cl_pathf(path, sizeof(path), "/v1/nodes/%lld", (long long)ino);
		if (memo_get(C(be), path, &cur, 0) == 0 && cur.mode == mode) {
			rc = 0;
			goto out;
		}
	}
	if ((what & STORE_SET_MODE) &&
	    !cJSON_AddNumberToObject(b, "mode", mode))
		goto out;
	if ((what & STORE_SET_UID) && !cJSON_AddNumberToObject(b, "uid", uid))
		goto out;
	if ((what & STORE_SET_GID) && !cJSON_AddNumberToObject(b, "gid", gid))
		goto out;
	if ((what & STORE_SET_MTIME) && api_add_i64_str(b, "mtime_ns", mtime_ns))
		goto out;
	if ((what & STORE_SET_ATIME) && api_add_i64_str(b, "atime_ns", atime_ns))
		goto out;
	cl_pathf(path, sizeof(path), "/v1/nodes/%lld", (long long)ino);
	/* Every field is an absolute value: a repeat (a retry after a lost
	 * answer) sets the same values again, so no request id and no key
	 * rows on the server (rsync -a: a chmod and a utimes per file). */
	rc = cl_send_json_u(C(be), "PATCH", path, b, &j, NULL, 1);
	cl_changed_nodes(C(be));
	if (!rc)
		cl_node_remember(C(be), j);
out:
	cJSON_Delete(j);
	cJSON_Delete(b);
	return rc;
}
