/*
 * routes_media.c — what the web app shows of a sample (docs/api.md,
 * "Thumbnails and images"), and their table (srv_routes_media):
 *
 *   GET|HEAD /v1/nodes/{ino}/thumbnail   a JPEG, longest side at most 128
 *   GET|HEAD /v1/nodes/{ino}/image       the sample's bytes, ranges allowed
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/server_int.h"
#include "core/thumbs.h"
#include "core/util.h"

#define THUMB_CACHE "private, no-cache"  /* a node's bytes may change: revalidate by ETag (304) */
#define KEPT_TEXT "metadata only \xe2\x80\x94 bytes stay with the uploader"
#define MEDIA_CSP "default-src 'none'; style-src 'unsafe-inline'; sandbox"

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
static enum MHD_Result send_sent(struct srv *s, struct MHD_Connection *c,
				 const unsigned char *t, const char *etag)
{
	struct stat sb;
	int fd = core_blob_open(s->blobs, t), rc;

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
		return send_sent(s, c, src, etag);
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
	char etag[72], hex[65], disp[3 * STORE_NAME_MAX + 64];
	unsigned char head[16];
	struct store_node n;
	enum MHD_Result ret;
	struct stat sb;
	ssize_t got;
	int fd, rc;

	if (own_file(s, r, c, &n, &ret))
		return ret;
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
	{ NULL, NULL, NULL, B_NONE, 0 },
};
