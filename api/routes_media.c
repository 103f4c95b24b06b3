/*
 * routes_media.c — what the web app shows of a sample (docs/api.md,
 * "Thumbnails and images"), and their table (srv_routes_media):
 *
 *   GET|HEAD /v1/nodes/{ino}/thumbnail   a JPEG, longest side at most 128
 *   GET|HEAD /v1/nodes/{ino}/image       the sample's bytes, ranges allowed
 *   POST /v1/blob-urls                   presigned URLs of many blobs
 *
 * Bytes without a server hop (issue 19 item 4). When the blob engine can
 * presign (S3: core_blob_url), a read is answered, after the same grant
 * check as the bytes, with a short-lived URL of the object store instead
 * of the bytes, when the request asks with ?redirect=1: /image, a sent
 * thumbnail and GET /v1/blobs/{sha} answer 307 with Location (a browser
 * follows it: the web app's image and download links ask; the object
 * store's origin is in the app's img-src, srv_media_origin). Without
 * ?redirect=1 they keep sending the bytes (the server's own byte route,
 * which clients of the v1 API already use: ranges, HEAD, headers),
 * and POST /v1/blob-urls {"sha256":[HEX…]} with {"expires_in":S,
 * "urls":{HEX:URL…}} for up to BATCH_MAX hashes at once — the remote
 * mount asks it once per folder, so a cold read of many small files costs
 * one server request per folder, not one per file. A hash the user may not
 * read is simply absent from "urls" (as one whose blob is gone: knowing a
 * hash gives nothing). "presign": false says the engine gives no URLs (the
 * local engine): read the bytes from the server. URLs live
 * SIEVEFS_PRESIGN_TTL seconds (PRESIGN_TTL by default: long enough for a
 * listing's files to be read, short enough that a URL leaked in a log is
 * soon worthless); SIEVEFS_PRESIGN=off turns them off for the whole server
 * (every read through the server's byte route; bench/scale compares the
 * two). A URL is a bearer capability: never logged. Local blobs: nothing
 * changes (core_blob_url answers 0 at once, before any query). Thumbnails
 * the server makes stay its own (STORE/thumbs, store/thumbs.c: on each
 * server's disk, not in the object store), so they are sent as before.
 *
 * Who may see what. The node must be in a dataset of the request's user
 * (else 404 as if absent, srv_own_node), and then only bytes that user may
 * read are shown, by the rules the embedder follows (core_blob_source,
 * store/kept.c): the bytes the user sent (a grant), else the thumbnail the
 * user's upload=thumbnails mount sent; never bytes or a thumbnail another
 * user sent, even of the same hash. Nothing readable: the "kept"
 * placeholder (metadata only). /image follows GET /v1/blobs/{sha} exactly:
 * a granted blob, or 404 bytes_kept_by_uploader for the user's own kept
 * sample, else 404.
 *
 * Thumbnails are made from the bytes the user may read and cached under
 * their hash (core/thumbs.c, store/thumbs.c), so the ETag is "t<hash of
 * those bytes>": a request naming it is answered 304 after the ownership
 * check and one query (core_blob_source), before anything is opened. A
 * cached thumbnail is one open and a file response (the kernel copies it,
 * MHD_create_response_from_fd); a cold one is decoded here, in this MHD
 * thread, at most CORE_THUMB_DECODERS at a time. A thumbnail the user's
 * mount sent is served as it is (the mount made it with the same code).
 *
 * Answers that are not the image (placeholders) are small SVGs of our own
 * with the text escaped, served with a CSP that forbids everything and
 * X-Content-Type-Options: nosniff, as are the user's bytes on /image.
 *
 * Threads: handlers run in MHD's threads; no state of their own.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/json.h"
#include "api/server_int.h"
#include "core/thumbs.h"
#include "core/util.h"

#define THUMB_CACHE "private, no-cache"  /* a node's bytes may change: revalidate by ETag (304) */
#define KEPT_TEXT "metadata only \xe2\x80\x94 bytes stay with the uploader"
#define MEDIA_CSP "default-src 'none'; style-src 'unsafe-inline'; sandbox"
#define PRESIGN_TTL 900              /* seconds a presigned URL works */
#define BATCH_MAX 10000              /* hashes per POST /v1/blob-urls */
#define PURL_MAX 2048                /* a presigned URL, at most */

/* ---- presigned URLs ---- */

/* Seconds a presigned URL works: SIEVEFS_PRESIGN_TTL (10-604800, SigV4's
 * longest), else PRESIGN_TTL. */
static unsigned presign_ttl(void)
{
	const char *v = getenv("SIEVEFS_PRESIGN_TTL");
	char *end;
	long t;

	if (!v || !*v)
		return PRESIGN_TTL;
	t = strtol(v, &end, 10);
	return *end || t < 10 || t > 604800 ? PRESIGN_TTL : (unsigned)t;
}

/* 0 when SIEVEFS_PRESIGN=off (or 0, no): the server sends every byte. */
static int presign_on(void)
{
	const char *v = getenv("SIEVEFS_PRESIGN");

	return !v || (strcmp(v, "off") && strcmp(v, "0") && strcmp(v, "no"));
}

/* The object store's origin ("scheme://host[:port]"), once a URL was made
 * (under origin_lock): the web app's CSP lets images load from it. */
static pthread_mutex_t origin_lock = PTHREAD_MUTEX_INITIALIZER;
static char origin[256];

static void keep_origin(const char *url)
{
	const char *p = strstr(url, "://"), *e;

	if (!p)
		return;
	e = strpbrk(p + 3, "/?#");
	if (!e)
		e = p + strlen(p);
	/* only what a CSP source may hold: no quote, space, ';' or ',' */
	if ((size_t)(e - url) >= sizeof(origin) ||
	    strcspn(url, " ;,'\"\\") < (size_t)(e - url))
		return;
	pthread_mutex_lock(&origin_lock);
	if (!origin[0])
		snprintf(origin, sizeof(origin), "%.*s", (int)(e - url), url);
	pthread_mutex_unlock(&origin_lock);
}

int srv_media_origin(struct srv *s, char *out, size_t len)
{
	static const unsigned char zero[STORE_SHA_LEN];
	char url[PURL_MAX];
	int rc;

	pthread_mutex_lock(&origin_lock);
	rc = origin[0] != '\0';
	pthread_mutex_unlock(&origin_lock);
	/* a URL of any hash tells the origin: sending nothing */
	if (!rc && s && srv_presign(s, zero, url, sizeof(url)) == 1)
		keep_origin(url);
	pthread_mutex_lock(&origin_lock);
	rc = origin[0] && strlen(origin) < len;
	snprintf(out, len, "%s", rc ? origin : "");
	pthread_mutex_unlock(&origin_lock);
	return rc;
}

int srv_presign(struct srv *s, const unsigned char sha[STORE_SHA_LEN],
		char *url, size_t len)
{
	int rc;

	if (!presign_on())
		return 0;
	rc = core_blob_url(s->blobs, sha, presign_ttl(), url, len);
	if (rc == -ENOTSUP)
		rc = 0;
	if (rc == 1)
		keep_origin(url);
	return rc;
}

enum MHD_Result srv_send_redirect(struct MHD_Connection *c, const char *url)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		0, (char *)"", MHD_RESPMEM_PERSISTENT);

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, url);
	/* the URL expires: never keep the redirect */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-store");
	MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	return srv_send_resp(c, MHD_HTTP_TEMPORARY_REDIRECT, resp, NULL);
}

/* POST /v1/blob-urls {"sha256":[HEX…]}: see the top. */
static enum MHD_Result r_blob_urls(struct srv *s, struct req *r,
				   struct MHD_Connection *c)
{
	enum MHD_Result ret;
	cJSON *j = srv_body_json(r, c, &ret), *in, *out = NULL, *urls, *it;
	unsigned char sha[STORE_SHA_LEN];
	char url[PURL_MAX];
	int rc = 0, engine = 1;

	if (!j)
		return ret;
	in = cJSON_GetObjectItemCaseSensitive(j, "sha256");
	if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) > BATCH_MAX) {
		cJSON_Delete(j);
		return srv_bad_field(c, "sha256 (an array of at most 10000"
				     " hashes)");
	}
	out = cJSON_CreateObject();
	urls = out ? cJSON_AddObjectToObject(out, "urls") : NULL;
	if (!urls)
		rc = -ENOMEM;
	cJSON_ArrayForEach(it, in) {
		if (!cJSON_IsString(it) ||
		    api_sha_from_hex(it->valuestring, sha)) {
			cJSON_Delete(j);
			cJSON_Delete(out);
			return srv_bad_field(c, "sha256 (64 hex digits each)");
		}
		if (rc || !engine)
			continue;
		/* the grant first, exactly as GET /v1/blobs/{sha} */
		rc = srv_blob_readable(s, r, sha);
		if (rc != 1)
			continue;       /* not this user's: absent; or -errno */
		rc = srv_presign(s, sha, url, sizeof(url));
		if (rc == 0)
			engine = 0;     /* the engine gives none */
		else if (rc == 1)
			rc = cJSON_AddStringToObject(urls, it->valuestring,
						     url) ? 0 : -ENOMEM;
	}
	/* no URL at all: does the engine give any? (an answer that cannot
	 * say "no" for hashes the user may not read: one empty probe) */
	if (!rc && engine && !cJSON_GetArraySize(urls)) {
		static const unsigned char zero[STORE_SHA_LEN];
		engine = srv_presign(s, zero, url, sizeof(url)) == 1;
	}
	cJSON_Delete(j);
	if (rc < 0 || !cJSON_AddNumberToObject(out, "expires_in",
					       engine ? presign_ttl() : 0) ||
	    !cJSON_AddBoolToObject(out, "presign", engine)) {
		cJSON_Delete(out);
		return srv_send_errno(c, rc < 0 ? rc : -ENOMEM, NULL);
	}
	return srv_send_json(c, MHD_HTTP_OK, out);
}

/* 1 when the request asks for the object store's URL (?redirect=1). */
static int wants_redirect(struct req *r)
{
	char v[8];

	return api_query_get(r->query, "redirect", v, sizeof(v)) == 1 &&
	       !strcmp(v, "1");
}

int srv_blob_redirect(struct srv *s, struct req *r, struct MHD_Connection *c,
		      enum MHD_Result *ret)
{
	char url[PURL_MAX];
	int rc;

	if (!wants_redirect(r))
		return 0;
	rc = srv_presign(s, r->sha, url, sizeof(url));
	if (rc == 1)
		rc = srv_blob_readable(s, r, r->sha);
	if (rc == 0)
		return 0;       /* the bytes themselves, or the route's 404 */
	*ret = rc < 0 ? srv_send_errno(c, rc, NULL) :
	       srv_send_redirect(c, url);
	return 1;
}

/* Headers every answer of these routes carries. */
static void media_headers(struct MHD_Response *resp, const char *etag,
			  const char *cache)
{
	if (etag)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cache);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(resp, "Content-Security-Policy", MEDIA_CSP);
}

/* 304 with the validator and the cache rule of the 200 it stands for. */
static enum MHD_Result not_modified(struct MHD_Connection *c,
				    const char *etag, const char *cache)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		0, (char *)"", MHD_RESPMEM_PERSISTENT);

	if (!resp)
		return MHD_NO;
	media_headers(resp, etag, cache);
	return srv_send_resp(c, MHD_HTTP_NOT_MODIFIED, resp, NULL);
}

/* 200 image/svg+xml showing text, X-Sievefs-Placeholder: kind. */
static enum MHD_Result placeholder(struct MHD_Connection *c, const char *kind,
				   const char *text, const char *etag,
				   const char *cache)
{
	struct MHD_Response *resp;
	size_t len;
	char *svg = core_thumb_svg(text, &len);

	if (!svg)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(len, svg,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(svg);
		return MHD_NO;
	}
	media_headers(resp, etag, cache);
	MHD_add_response_header(resp, "X-Sievefs-Placeholder", kind);
	return srv_send_resp(c, MHD_HTTP_OK, resp, "image/svg+xml");
}

/* The user's file node `r->id` into n: 0, or answered (1): 404 for
 * another user's node, a folder or an upload not committed yet. */
static int own_file(struct srv *s, struct req *r, struct MHD_Connection *c,
		    struct store_node *n, enum MHD_Result *ret)
{
	int rc = srv_own_node(s, r, r->id, n);

	if (rc) {
		*ret = srv_send_errno(c, rc, NULL);
		return 1;
	}
	if (n->kind != STORE_FILE) {
		*ret = srv_send_err(c, MHD_HTTP_NOT_FOUND, "not_a_file",
				    "EISDIR", "a folder has no thumbnail or"
				    " image");
		return 1;
	}
	if (!n->has_sha) {
		*ret = srv_send_err(c, MHD_HTTP_NOT_FOUND, "pending", "ENOENT",
				    "the file's upload is not committed yet");
		return 1;
	}
	return 0;
}

/* A JPEG from fd (size bytes; taken over) or buf (taken over). */
static enum MHD_Result send_jpeg(struct MHD_Connection *c, int fd,
				 unsigned char *buf, int64_t size,
				 const char *etag)
{
	struct MHD_Response *resp;

	if (buf)
		resp = MHD_create_response_from_buffer((size_t)size, buf,
						       MHD_RESPMEM_MUST_FREE);
	else
		resp = MHD_create_response_from_fd64((uint64_t)size, fd);
	if (!resp) {
		free(buf);
		if (fd >= 0)
			close(fd);
		return MHD_NO;
	}
	media_headers(resp, etag, THUMB_CACHE);
	return srv_send_resp(c, MHD_HTTP_OK, resp, "image/jpeg");
}

/* The thumbnail an upload=thumbnails mount sent, blob `t`, as it is. */
static enum MHD_Result send_sent(struct srv *s, struct req *r,
				 struct MHD_Connection *c,
				 const unsigned char *t, const char *etag)
{
	char url[PURL_MAX];
	struct stat sb;
	int fd, rc = wants_redirect(r) ? srv_presign(s, t, url, sizeof(url)) :
		     0;

	if (rc == 1)             /* core_blob_source checked the grant */
		return srv_send_redirect(c, url);
	fd = rc < 0 ? rc : core_blob_open(s->blobs, t);
	if (fd < 0)
		return srv_send_errno(c, fd, NULL);
	if (fstat(fd, &sb)) {
		rc = -errno;
		close(fd);
		return srv_send_errno(c, rc, NULL);
	}
	return send_jpeg(c, fd, NULL, sb.st_size, etag);
}

/* 1 when blob t starts like a JPEG (the C mount's upload=thumbnails sends
 * one), 0 otherwise (the lightly client sends WebP), -errno. */
static int sent_is_jpeg(struct srv *s, const unsigned char *t)
{
	unsigned char head[16];
	int fd = core_blob_open(s->blobs, t);
	ssize_t got;

	if (fd < 0)
		return fd;
	got = pread(fd, head, sizeof(head), 0);
	close(fd);
	return got > 0 && !strcmp(core_image_type(head, (size_t)got),
				   "image/jpeg");
}

static enum MHD_Result r_thumbnail(struct srv *s, struct req *r,
				   struct MHD_Connection *c)
{
	unsigned char src[STORE_SHA_LEN];
	char etag[72], hex[65], text[CORE_THUMB_WHY + 32];
	struct core_thumb t;
	struct store_node n;
	enum MHD_Result ret;
	int rc;

	if (own_file(s, r, c, &n, &ret))
		return ret;
	core_sha_hex(n.sha, hex);
	/* what this user may read of it: the bytes, or the thumbnail they
	 * sent (a mount's web door, owner "": every blob its files name) */
	rc = core_blob_source(s->blobs, r->owner, n.sha, src);
	if (rc == -ENOENT) {         /* nothing of it this user may read */
		snprintf(etag, sizeof(etag), "\"k%s\"", hex);
		if (srv_none_match_hit(c, etag))
			return not_modified(c, etag, "private, no-cache");
		return placeholder(c, "kept", KEPT_TEXT, etag,
				   "private, no-cache");
	}
	if (rc)
		return srv_send_errno(c, rc, NULL);
	core_sha_hex(src, hex);
	snprintf(etag, sizeof(etag), "\"t%s\"", hex);
	if (srv_none_match_hit(c, etag))
		return not_modified(c, etag, THUMB_CACHE);
	/* a thumbnail the uploader sent: a JPEG as it is, anything else (the
	 * lightly client's WebP) made into one like any image */
	if (memcmp(src, n.sha, STORE_SHA_LEN) && sent_is_jpeg(s, src) == 1)
		return send_sent(s, r, c, src, etag);
	rc = core_thumb_get(s->blobs, src, STORE_THUMB_SIDE, &t);
	if (rc)
		return srv_send_errno(c, rc, NULL);
	if (t.not_image) {
		/* the decoder's reason may say it already */
		snprintf(text, sizeof(text), "%s%s",
			 strncmp(t.why, "not an image", 12) ? "not an image: " : "",
			 t.why);
		return placeholder(c, "not-image", text, etag, THUMB_CACHE);
	}
	return send_jpeg(c, t.fd, t.buf, t.size, etag);
}

/* ---- the whole image ---- */

/* The blob of the node for its user, as GET /v1/blobs/{sha} gives it: an
 * fd, or answered (-1). */
static int open_bytes(struct srv *s, struct req *r, struct MHD_Connection *c,
		      const struct store_node *n, enum MHD_Result *ret)
{
	int fd = core_blob_open_for(s->blobs, r->owner, n->sha);

	if (fd == -ENOENT && core_blob_kept(s->blobs, NULL, n->sha) == 1) {
		/* the node is the user's own (checked): it says so */
		*ret = srv_send_err(c, MHD_HTTP_NOT_FOUND,
				    "bytes_kept_by_uploader", "EIO", "the bytes"
				    " of this sample stay on the machine that"
				    " uploaded it (upload=meta)");
		return -1;
	}
	if (fd < 0) {
		*ret = srv_send_errno(c, fd, NULL);
		return -1;
	}
	return fd;
}

static enum MHD_Result r_image(struct srv *s, struct req *r,
			       struct MHD_Connection *c)
{
	char etag[72], hex[65], disp[3 * STORE_NAME_MAX + 64], url[PURL_MAX];
	unsigned char head[16];
	struct store_node n;
	enum MHD_Result ret;
	struct stat sb;
	ssize_t got;
	int fd, rc;

	if (own_file(s, r, c, &n, &ret))
		return ret;
	/* the object store's URL, after the grant open_bytes checks */
	if (wants_redirect(r) && srv_presign(s, n.sha, url, sizeof(url)) == 1 &&
	    srv_blob_readable(s, r, n.sha) == 1)
		return srv_send_redirect(c, url);
	fd = open_bytes(s, r, c, &n, &ret);
	if (fd < 0)
		return ret;
	got = pread(fd, head, sizeof(head), 0);
	if (got < 0 || fstat(fd, &sb)) {
		rc = -errno;
		close(fd);
		return srv_send_errno(c, rc, NULL);
	}
	core_sha_hex(n.sha, hex);
	snprintf(etag, sizeof(etag), "\"%s\"", hex);
	if (srv_none_match_hit(c, etag)) {
		close(fd);
		return not_modified(c, etag, "private, no-cache");
	}
	/* the node's content may change: revalidate (cheap, by ETag) */
	{
		int dok = !core_disposition(n.name, disp, sizeof(disp));
		const char *h[] = { MHD_HTTP_HEADER_ETAG, etag,
				    MHD_HTTP_HEADER_CACHE_CONTROL,
				    "private, no-cache",
				    "X-Content-Type-Options", "nosniff",
				    "Content-Security-Policy", MEDIA_CSP,
				    MHD_HTTP_HEADER_CONTENT_DISPOSITION,
				    dok ? disp : NULL, NULL };
		return srv_send_fd_ranged(c, fd, sb.st_size,
					  core_image_type(head, got > 0 ?
							  (size_t)got : 0),
					  h);
	}
}

/* ---- the table ---- */

const struct route srv_routes_media[] = {
	{ "nodes/#/thumbnail", "GET", r_thumbnail, B_NONE, 0 },
	{ "nodes/#/image", "GET", r_image, B_NONE, 0 },
	{ "blob-urls", "POST", r_blob_urls, B_JSON, CAP_JSON },
	{ NULL, NULL, NULL, B_NONE, 0 },
};
