/*
 * routes_upload.c — a small file's upload in one request (issue 20):
 *
 *   PUT /v1/nodes/{id}/bytes?sha256=HEX[&mtime_ns=N][&durable=1]
 *       body: the file's bytes (application/octet-stream)
 *
 * does what HEAD /v1/blobs/HEX, PUT /v1/blobs/HEX and PUT
 * /v1/nodes/{id}/content do one after another, in one round trip: the body
 * is taken as a blob PUT's is (server_http.c, B_BLOB: hashed as it comes,
 * checked against the upload cap before and exactly when kept, streamed to
 * the blob engine — S3 — as it arrives), kept with the owner's grant
 * (srv_blob_keep), then committed as the node's content
 * (srv_commit_blob). The remote client uses it for files up to its small
 * limit (api/client_upload.c); larger ones keep HEAD-then-PUT, which
 * sends nothing the server already has.
 *
 * Order and failure: the node is checked first (404 as if absent unless the
 * caller owns it, a folder is 400, a frozen tag's 403), before anything is
 * kept; a body that
 * does not hash to `sha256` is 400 "hash_mismatch" and nothing is stored.
 * Keeping the blob and the commit are two catalog transactions: a crash or
 * a failed commit between them leaves a blob no node names, pending under
 * the caller's upload cap until the sweep collects it (api/server_run.c),
 * never a node with part of its bytes. The node keeps its previous content
 * until the commit, as with the content route. A node removed between the
 * check and the commit: 204, the bytes go with it (as PUT .../content).
 *
 * Threads: runs in MHD's threads like every route; nothing of its own.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/server_int.h"

/* mtime_ns (0: the time of the commit) and durable (0 or 1) from the
 * query: 0, or answered 400 into *ret (1). */
static int bytes_query(struct req *r, struct MHD_Connection *c,
		       int64_t *mtime, int *durable, enum MHD_Result *ret)
{
	char v[32], *end;
	int q;

	*mtime = 0;
	*durable = 0;
	if ((q = srv_query(r, c, "mtime_ns", v, sizeof(v), ret)) < 0)
		return 1;
	if (q) {
		errno = 0;
		long long m = strtoll(v, &end, 10);
		if (errno || end == v || *end) {
			*ret = srv_bad_field(c, "mtime_ns (an integer)");
			return 1;
		}
		*mtime = m;
	}
	if ((q = srv_query(r, c, "durable", v, sizeof(v), ret)) < 0)
		return 1;
	if (q) {
		if (strcmp(v, "0") && strcmp(v, "1")) {
			*ret = srv_bad_field(c, "durable (0 or 1)");
			return 1;
		}
		*durable = v[0] == '1';
	}
	return 0;
}

static enum MHD_Result r_node_bytes(struct srv *s, struct req *r,
				    struct MHD_Connection *c)
{
	struct store_node n;
	enum MHD_Result ret;
	int64_t mtime;
	int durable, rc;

	if ((rc = srv_own_node(s, r, r->id, &n)) != 0)
		return srv_send_errno(c, rc, NULL);
	if (n.kind != STORE_FILE)
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "not_a_file",
				    "EISDIR", "only a file has bytes");
	if (!n.tree_live)            /* before keeping anything */
		return srv_send_errno(c, -EROFS, NULL);
	if (bytes_query(r, c, &mtime, &durable, &ret))
		return ret;
	if (!srv_blob_body_ok(r, c, "the body does not hash to sha256;"
			      " nothing stored", &ret))
		return ret;
	if (srv_blob_keep(s, r, c, &ret))
		return ret;          /* srv_on_done drops the staged bytes */
	rc = srv_commit_blob(s, r, r->id, r->sha, (int64_t)r->got, mtime,
			     durable);
	if (rc == -ENOENT)       /* collected meanwhile (never this fresh) */
		return srv_blob_missing(c);
	if (rc)
		return srv_send_errno(c, rc, NULL);
	rc = srv_own_node(s, r, r->id, &n);
	if (rc == -ENOENT)       /* removed meanwhile: bytes discarded */
		return srv_send_empty(c, MHD_HTTP_NO_CONTENT);
	return srv_send_node(s, r, c, MHD_HTTP_OK, rc, &n);
}

const struct route srv_routes_upload[] = {
	{ "nodes/#/bytes", "PUT", r_node_bytes, B_BLOB, CAP_BLOB },
	{ NULL, NULL, NULL, B_NONE, 0 },
};
