/*
 * lightly_urls.c — the lightly door's signed URLs (docs/api.md "The lightly
 * door"; api/routes_lightly.c has the rest of the door).
 *
 * Form: /lightly/signed/sample/{sample}?k=full|thumb&u=USER&e=EXP&s=MAC
 * (GET: read, PUT: write) and /lightly/signed/csv/{embedding}?u=USER&e=EXP
 * &s=MAC (PUT). MAC is HMAC-SHA256, hex, keyed with the store's secret
 * (core_lightly_key: the catalog's, one for every server), over
 * "METHOD\nPATH\nUSER\nOBJECT\nKIND\nEXP": so it binds the method (a read
 * URL does not write), the path (the object), the user and the expiry (EXP,
 * Unix seconds, url_ttl() after the URL was made). Checked in constant time
 * before the body is read; any change, an unparsable path, or a past EXP →
 * 403. A write URL works once: its MAC is claimed in the catalog
 * (core_lightly_claim, lightly_used) when the body is in, before anything
 * is stored, and given back only when the write fails, so a replay → 403
 * and two concurrent uses of one URL cannot both write; a refusal before
 * the route runs (413, 507, 429) leaves the URL usable. The routes then
 * act as USER with the v1 rules: ownership (another user's sample → 404),
 * the upload quota, caps. No target is ever logged.
 *
 * Reads where the blobs live in an object store (issue 19 item 4): a
 * read URL handed out (readurl) is the object store's presigned URL of
 * the bytes the user may read (srv_lightly_read_url, after the same checks
 * as GET below), and a signed GET of ours answers 307 to one; the lightly
 * client reads a read URL with a plain urllib GET (no header of ours),
 * which either form serves. Local blobs: our own signed URL, as before.
 *
 * Threads: MHD's; the secret is read once, under key_lock.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include "api/lightly_int.h"

#define URL_TTL_DEFAULT 600          /* seconds a signed URL works */

/* ---- shared state ---- */

static pthread_mutex_t key_lock = PTHREAD_MUTEX_INITIALIZER;
static int key_ok;                                  /* under key_lock */
static unsigned char secret[STORE_LIGHTLY_KEY_LEN]; /* under key_lock */

/* The signing secret into out: 0 or -errno. */
static int the_key(struct srv *s, unsigned char out[STORE_LIGHTLY_KEY_LEN])
{
	int rc = 0;

	pthread_mutex_lock(&key_lock);
	if (!key_ok && !(rc = core_lightly_key(s->st, secret)))
		key_ok = 1;
	memcpy(out, secret, sizeof(secret));
	pthread_mutex_unlock(&key_lock);
	return rc;
}

/* Seconds a signed URL works: SIEVEFS_LIGHTLY_URL_TTL (1-3600), else
 * URL_TTL_DEFAULT. */
static long url_ttl(void)
{
	const char *v = getenv("SIEVEFS_LIGHTLY_URL_TTL");
	char *end;
	long t;

	if (!v || !*v)
		return URL_TTL_DEFAULT;
	t = strtol(v, &end, 10);
	return *end || t < 1 || t > 3600 ? URL_TTL_DEFAULT : t;
}

/* ---- signed URLs ---- */

/* The MAC of a signed URL, hex, into out (65 bytes). 0 or -errno. */
static int url_mac(struct srv *s, const char *method, const char *path,
		   const char *user, const char *object, const char *kind,
		   long long exp, char out[65])
{
	unsigned char k[STORE_LIGHTLY_KEY_LEN], mac[EVP_MAX_MD_SIZE];
	unsigned int mlen = 0;
	char msg[LIGHTLY_URL_MAX];
	int rc = the_key(s, k), n;

	if (rc)
		return rc;
	n = snprintf(msg, sizeof(msg), "%s\n%s\n%s\n%s\n%s\n%lld", method,
		     path, user, object, kind, exp);
	if (n < 0 || (size_t)n >= sizeof(msg))
		rc = -ENAMETOOLONG;
	else if (!HMAC(EVP_sha256(), k, sizeof(k), (unsigned char *)msg,
		       (size_t)n, mac, &mlen) || mlen != 32)
		rc = -EIO;
	OPENSSL_cleanse(k, sizeof(k));   /* on every path */
	if (rc)
		return rc;
	for (unsigned i = 0; i < 32; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

/* A signed URL for `method` on /lightly/signed/WHAT/OBJECT (kind: "full",
 * "thumb", or "" for a CSV) into url. 0 or -errno. */
int srv_lightly_make_url(struct srv *s, struct req *r, struct MHD_Connection *c,
		    const char *method, const char *what, const char *object,
		    const char *kind, char *url, size_t len)
{
	const char *host = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						       MHD_HTTP_HEADER_HOST);
	char path[2 * API_SEG_MAX + 32], mac[65];
	long long exp = (long long)time(NULL) + url_ttl();
	int rc, n;

	if (!host || strpbrk(host, "/?#@ \"\\"))
		return -EINVAL;
	snprintf(path, sizeof(path), "/lightly/signed/%s/%s", what, object);
	rc = url_mac(s, method, path, r->user, object, kind, exp, mac);
	if (rc)
		return rc;
	/* a user name is A-Z a-z 0-9 . _ - (core_user_valid, checked when
	 * its token was made): nothing in it needs escaping in a query */
	n = snprintf(url, len, "%s://%s%s?%s%s%su=%s&e=%lld&s=%s",
		     s->tls ? "https" : "http", host, path, *kind ? "k=" : "",
		     kind, *kind ? "&" : "", r->user, exp, mac);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

enum MHD_Result srv_lightly_refuse(struct MHD_Connection *c, const char *why)
{
	return srv_send_err(c, MHD_HTTP_FORBIDDEN, "bad_signature", "EACCES",
			    why);
}

/*
 * Checks the signed URL of the request (route key "signed/WHAT/#"): the
 * MAC over the method, the path, the user, the object, the kind and the
 * expiry, then the expiry (a write URL is claimed by its route, once the
 * body is in: lightly_claim). Then authenticates as its user. 0, or 1
 * answered (403, or the auth's error).
 */
int srv_lightly_check_signed(struct srv *s, struct req *r,
			     struct MHD_Connection *c, const char *method,
			     enum MHD_Result *ret)
{
	char user[STORE_USER_MAX + 1], kind[8] = "", exp_s[24], mac[80];
	char want[65], path[2 * API_SEG_MAX + 32];
	const char *object = r->path.seg[3];
	long long exp;
	char *end;
	int rc;

	if (api_query_get(r->query, "u", user, sizeof(user)) != 1 ||
	    api_query_get(r->query, "e", exp_s, sizeof(exp_s)) != 1 ||
	    api_query_get(r->query, "s", mac, sizeof(mac)) != 1 ||
	    (!strcmp(r->path.seg[2], "sample") &&
	     api_query_get(r->query, "k", kind, sizeof(kind)) != 1)) {
		*ret = srv_lightly_refuse(c, "not a signed URL of this server");
		return 1;
	}
	exp = strtoll(exp_s, &end, 10);
	snprintf(path, sizeof(path), "/lightly/signed/%s/%s", r->path.seg[2],
		 object);
	rc = *end || !*exp_s ? -EINVAL :
	     url_mac(s, method, path, user, object, kind, exp, want);
	if (rc || strlen(mac) != 64 || CRYPTO_memcmp(mac, want, 64)) {
		*ret = srv_lightly_refuse(c, "the URL's signature does not"
					  " match (altered, or not for this"
					  " method)");
		return 1;
	}
	if (exp < (long long)time(NULL)) {
		*ret = srv_lightly_refuse(c, "the signed URL has expired: ask"
					  " for a new one");
		return 1;
	}
	return srv_auth_user(s, r, c, user, ret);
}

/*
 * Claims the request's write URL (its MAC, checked by check_signed) when
 * its body is in: 0, or 1 with 403 (used already) or the store's error
 * answered into *ret. Claimed here rather than before the body so that a
 * refusal before the route runs (413 over the cap, 507 over the quota,
 * 429 over the rate) leaves the URL usable for the client's retry.
 */
static int lightly_claim(struct srv *s, struct req *r,
			 struct MHD_Connection *c, enum MHD_Result *ret)
{
	char mac[80], exp_s[24];
	long long exp = 0;
	int rc = -EINVAL;

	if (api_query_get(r->query, "s", mac, sizeof(mac)) == 1 &&
	    api_query_get(r->query, "e", exp_s, sizeof(exp_s)) == 1) {
		exp = strtoll(exp_s, NULL, 10);
		rc = core_lightly_claim(s->st, mac, (int64_t)(exp + 1) *
					1000000000);
	}
	if (rc == -EEXIST) {
		*ret = srv_lightly_refuse(c, "this write URL was used already:"
					  " a write URL works once");
		return 1;
	}
	if (rc) {
		*ret = srv_send_errno(c, rc, NULL);
		return 1;
	}
	return 0;
}

/* Gives the request's claim back (its write failed). */
static void lightly_give_back(struct srv *s, struct req *r)
{
	char mac[80];

	if (api_query_get(r->query, "s", mac, sizeof(mac)) == 1)
		core_lightly_unclaim(s->st, mac);
}

/* ---- routes: signed uploads and downloads ---- */

/* PUT /lightly/signed/sample/{id}?k=full|thumb: the body (hashed on the
 * way, B_BLOB) becomes a blob of the URL's user, then the sample's bytes
 * (full: a normal commit) or its thumbnail (a kept commit with it). */
enum MHD_Result srv_lightly_signed_put(struct srv *s, struct req *r,
				    struct MHD_Connection *c)
{
	unsigned char got[EVP_MAX_MD_SIZE];
	unsigned int glen = 0;
	struct store_node n;
	char kind[8] = "";
	enum MHD_Result ret;
	int rc, fd;

	if (lightly_claim(s, r, c, &ret))
		return ret;
	api_query_get(r->query, "k", kind, sizeof(kind));
	rc = srv_own_node(s, r, r->id, &n);
	if (!rc && (!n.tree_live || n.kind != STORE_FILE))
		rc = -ENOENT;
	if (rc)
		goto fail;
	if (r->ioerr) {
		rc = r->ioerr;
		goto fail;
	}
	if (!EVP_DigestFinal_ex(r->md, got, &glen) || glen != STORE_SHA_LEN) {
		rc = -EIO;
		goto fail;
	}
	memcpy(r->sha, got, STORE_SHA_LEN);
	if (srv_blob_keep(s, r, c, &ret)) {
		lightly_give_back(s, r);
		return ret;
	}
	if (!strcmp(kind, "full")) {
		fd = core_blob_open(s->blobs, r->sha);
		if (fd < 0) {
			rc = fd;
			goto fail;
		}
		rc = r->be->ops->node_commit(r->be, n.ino, fd, "", r->sha,
					     (int64_t)r->got, 0, 1);
		close(fd);
	} else {
		/* a thumbnail of a sample whose bytes the server has already
		 * (a full upload) is kept as a blob and changes nothing */
		rc = core_node_add_thumb(s->st, &n, r->sha, (int64_t)r->got);
	}
	if (rc)
		goto fail;
	return srv_send_empty(c, MHD_HTTP_OK);
fail:
	lightly_give_back(s, r);
	return srv_send_errno(c, rc, rc == -ENOENT ? "no such sample" : NULL);
}

/* The blob a read of sample n (kind "full" or "thumb") gives the
 * request's user, into sha: 1, 0 when the user may read none of it (its
 * bytes stay with the uploader), -errno. The rule of GET /v1/blobs/{sha}. */
static int read_blob(struct srv *s, struct req *r, const struct store_node *n,
		     const char *kind, unsigned char sha[STORE_SHA_LEN])
{
	int64_t tsize;

	memcpy(sha, n->sha, STORE_SHA_LEN);
	if (!strcmp(kind, "thumb") &&
	    core_blob_thumb_for(s->blobs, r->owner, n->sha, sha, &tsize))
		memcpy(sha, n->sha, STORE_SHA_LEN);
	return srv_blob_readable(s, r, sha);
}

int srv_lightly_read_url(struct srv *s, struct req *r,
			 const struct store_node *n, const char *kind,
			 char *url, size_t len)
{
	unsigned char sha[STORE_SHA_LEN];
	int rc;

	if (!n->has_sha)
		return 0;
	rc = read_blob(s, r, n, kind, sha);
	return rc == 1 ? srv_presign(s, sha, url, len) : rc;
}

/* GET /lightly/signed/sample/{id}?k=full|thumb: the bytes, if the URL's
 * user may read them (the rule of GET /v1/blobs/{sha}); 307 to the object
 * store's presigned URL where the blobs live there. */
enum MHD_Result srv_lightly_signed_get(struct srv *s, struct req *r,
				    struct MHD_Connection *c)
{
	unsigned char sha[STORE_SHA_LEN];
	struct store_node n;
	struct stat sb;
	char kind[8] = "", url[LIGHTLY_URL_MAX];
	int rc = srv_own_node(s, r, r->id, &n), fd;

	api_query_get(r->query, "k", kind, sizeof(kind));
	if (!rc && (!n.tree_live || n.kind != STORE_FILE || !n.has_sha))
		rc = -ENOENT;
	if (rc)
		return srv_send_errno(c, rc, "no such sample");
	rc = read_blob(s, r, &n, kind, sha);
	if (rc < 0)
		return srv_send_errno(c, rc, NULL);
	if (rc == 0)
		return srv_send_err(c, MHD_HTTP_NOT_FOUND,
				    "bytes_kept_by_uploader", "EIO",
				    "the bytes are not on the server (uploaded"
				    " with mode thumbnails or meta)");
	rc = srv_presign(s, sha, url, sizeof(url));
	if (rc == 1)
		return srv_send_redirect(c, url);
	fd = rc < 0 ? rc : core_blob_open(s->blobs, sha);
	if (fd < 0)
		return srv_send_errno(c, fd, NULL);
	if (fstat(fd, &sb)) {
		close(fd);
		return srv_send_errno(c, -EIO, NULL);
	}
	return srv_send_fd_ranged(c, fd, sb.st_size, "application/octet-stream",
				  NULL);
}

/* PUT /lightly/signed/csv/{embedding}: the CSV through emb_put (the v1
 * route's validation); 400 with the reason and nothing stored. */
enum MHD_Result srv_lightly_signed_csv(struct srv *s, struct req *r,
				    struct MHD_Connection *c)
{
	struct store_lightly_id e;
	struct store_dataset d;
	char msg[BE_MSG] = "";
	const char *text;
	size_t len = 0;
	void *map = NULL;
	enum MHD_Result ret;
	int rc;

	if (lightly_claim(s, r, c, &ret))
		return ret;
	rc = core_lightly_find(s->st, r->owner, STORE_LIGHTLY_EMB,
			       r->path.seg[3], &e, &d);
	if (!rc)
		rc = srv_body_map(r, &text, &len, &map);
	if (!rc)
		rc = r->be->ops->emb_put(r->be, d.id, e.name, text, len, msg);
	if (map)
		munmap(map, len);
	if (rc) {
		lightly_give_back(s, r);
		return srv_send_errno(c, rc, msg[0] ? msg : NULL);
	}
	return srv_send_empty(c, MHD_HTTP_OK);
}
