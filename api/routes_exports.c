/*
 * routes_exports.c — GET /v1/tags/{id}/export?format=txt|label-studio|csv
 * (issue 21 item 5): the texts of a dataset's exports/ folder
 * (core/exports.h), for remote mounts and any HTTP client.
 *
 * The tag is checked against the request's owner first (srv_own_tag:
 * another user's tag is 404 as if absent). Label Studio tasks name each
 * file by a URL this server serves its bytes at for this user, with no
 * header of ours (Label Studio fetches it as is):
 *  - blobs in an object store: the store's presigned GET URL of the
 *    tag's bytes (srv_presign, kept only if the grant check
 *    srv_blob_readable passes),
 *    valid for what the engine signs (store/blobs_s3.c);
 *  - local blobs: the lightly door's signed read URL of the sample of the
 *    same path in initial-tag (api/lightly_urls.c: HMAC-bound to the
 *    user and an expiry, SIEVEFS_LIGHTLY_URL_TTL seconds, default 600),
 *    only when that sample still has the tag's bytes; else null.
 * URLs expire: an export is made when it is read, so re-read it (or the
 * mount's exports/ file) for fresh ones. They are never logged.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/lightly_int.h"
#include "core/exports.h"

struct img_ctx {
	struct srv *s;
	struct req *r;
	struct MHD_Connection *c;
};

static int server_image(void *arg, const struct core_export_file *f,
			char *out, size_t len)
{
	struct img_ctx *x = arg;
	char id[32];
	int rc = 0;

	/* the signature first: it reads no catalog (srv_media_origin signs
	 * a made-up hash) and is 0 at once where blobs are local files, so
	 * only an object store's URL pays the grant check's catalog read,
	 * not every file of every render (a remote mount makes this text at
	 * its stats); a URL of bytes the user may not read is dropped */
	if (f->has_sha) {
		rc = srv_presign(x->s, f->sha, out, len);
		if (rc == 1)
			rc = srv_blob_readable(x->s, x->r, f->sha);
		if (rc < 0)
			return rc;
		if (rc == 1)
			return 1;
	}
	if (!f->live_ino || !f->live_same)
		return 0;
	snprintf(id, sizeof(id), "%024llx", (unsigned long long)f->live_ino);
	rc = srv_lightly_make_url(x->s, x->r, x->c, "GET", "sample", id,
				  "full", out, len);
	return rc ? rc : 1;
}

static enum MHD_Result r_export(struct srv *s, struct req *r,
				struct MHD_Connection *c)
{
	static const char *const ctype[CORE_EXPORT_NFMT] = {
		"text/plain; charset=utf-8", "application/json", "text/csv"
	};
	struct img_ctx x = { s, r, c };
	struct store_tag t;
	enum MHD_Result ret;
	char v[32], *text = NULL;
	size_t len = 0;
	int fmt, q, rc = srv_own_tag(s, r, r->id, &t);

	if (rc)
		return srv_send_errno(c, rc, rc == -ENOENT ? "no such tag" :
				      NULL);
	q = srv_query(r, c, "format", v, sizeof(v), &ret);
	if (q < 0)
		return ret;
	fmt = q ? core_export_format(v) : CORE_EXPORT_TXT;
	if (fmt < 0)
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "invalid",
				    "EINVAL", "format is txt, label-studio or"
				    " csv");
	rc = core_export_render(s->st, &t, fmt, server_image, &x, &text,
				&len);
	return srv_send_text(c, rc, ctype[fmt], text, len);
}

const struct route srv_routes_exports[] = {
	{ "tags/#/export", "GET", r_export, B_NONE, 0 },
	{ NULL, NULL, NULL, B_NONE, 0 },
};
