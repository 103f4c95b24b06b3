/*
 * client_upload.c — remote mode's uploads: the staging file of a write
 * (in the blob cache's tmp/), the commit of a node's bytes in each upload
 * mode, and the pins that keep upload=meta bytes while a sample names
 * them. Declared in api/client_int.h.
 *
 * A commit (node_commit, at close or fsync), one request after another on
 * the calling thread:
 *   full        HEAD /v1/blobs/SHA, PUT it if missing (push_blob); PUT
 *               /v1/nodes/INO/content (put_content) — if the server
 *               collected the blob meanwhile (-EAGAIN), PUT it once more
 *               and commit again; then the staging file is adopted into
 *               the blob cache, so committed bytes are read locally.
 *   meta        the bytes are pinned in the cache first (commit_kept),
 *               then the commit says "bytes": "kept": they never leave.
 *   thumbnails  as meta, with a 128 px JPEG made here and pushed before
 *               the commit (thumb_push); not an image: meta only.
 *
 * Invariants: node_commit returns 0 only once the server has committed the
 * node (or the node went while open, as in embedded mode: its bytes go
 * with it); upload=meta bytes are pinned before anything is sent; a pin is
 * released only when the server says no sample of the user names the hash,
 * and never while a commit is under way (c->pinning, and the cache's pin
 * generation: see cl_pins_release).
 *
 * Threads: any thread; `pinning` is atomic and the cache locks itself; no
 * lock is held across a request. Ownership: fd and the staging file are
 * the caller's (core/upload.c), but the staging path is unlinked here,
 * whatever the outcome. Failure: 0 or -errno, logged with the node; a
 * commit that sent anything, failed or not, drops the node metadata
 * (cl_changed_nodes).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "api/client_int.h"
#include "api/json.h"
#include "cache/blobs.h"
#include "core/log.h"
#include "core/util.h"
#include "embed/thumb.h"

/* ---- pins ---- */

/*
 * Pins follow the samples that need them (issue 16). Bytes pinned by
 * upload=meta exist only in this cache, so a pin may go only when no node of
 * this user's datasets on the server — live or in a frozen tag — names the
 * hash (POST /v1/kept answers which still do). Checked for a file's hash
 * when this mount removes it, for every pin when it deletes a tag, and
 * for every pin when the mount starts (what other mounts of the
 * user deleted, overwrites, renames over a file). A pin made while the
 * server is asked may belong to an upload whose commit it has not seen yet:
 * no release then (c->pinning counts commits under way, and
 * cache_blob_unpin refuses if any pin happened since the generation read
 * before asking). Released bytes become ordinary cache entries. Errors only
 * postpone a release (the next check retries); returns how many went.
 */
#define KEPT_BATCH 5000
size_t cl_pins_release(struct client *c,
		       const unsigned char (*sha)[STORE_SHA_LEN], size_t n)
{
	uint64_t gen = cache_blobs_pin_gen(c->blobs);
	size_t gone = 0;
	char hexs[65];

	for (size_t at = 0; at < n; at += KEPT_BATCH) {
		size_t k = n - at < KEPT_BATCH ? n - at : KEPT_BATCH;
		cJSON *b = cJSON_CreateObject(), *arr, *j = NULL, *named;
		unsigned char *keep = calloc(k, 1);
		int rc = -ENOMEM;

		if (atomic_load(&c->pinning)) {
			cJSON_Delete(b);
			free(keep);
			break;
		}
		arr = b ? cJSON_AddArrayToObject(b, "sha256") : NULL;
		for (size_t i = 0; arr && i < k; i++) {
			core_sha_hex(sha[at + i], hexs);
			if (!cJSON_AddItemToArray(arr, cJSON_CreateString(hexs)))
				arr = NULL;
		}
		if (arr && keep)
			rc = cl_send_json(c, "POST", "/v1/kept", b, &j, NULL);
		cJSON_Delete(b);
		named = rc ? NULL : cJSON_GetObjectItemCaseSensitive(j, "named");
		if (!cJSON_IsArray(named)) {
			if (!rc)
				log_warn("remote: the server's answer to /v1/kept"
					 " has no list: pins kept");
			else if (rc != -ENOENT)
				log_warn("remote: cannot ask which pinned bytes"
					 " are still needed (%s): kept",
					 strerror(-rc));
			cJSON_Delete(j);
			free(keep);
			break;
		}
		for (cJSON *it = named->child; it; it = it->next) {
			unsigned char h[STORE_SHA_LEN];
			if (!cJSON_IsString(it) ||
			    api_sha_from_hex(it->valuestring, h))
				continue;
			for (size_t i = 0; i < k; i++)
				if (!memcmp(h, sha[at + i], STORE_SHA_LEN))
					keep[i] = 1;
		}
		cJSON_Delete(j);
		for (size_t i = 0; i < k; i++)
			if (!keep[i] && !atomic_load(&c->pinning) &&
			    !cache_blob_unpin(c->blobs, sha[at + i], gen))
				gone++;
		free(keep);
	}
	return gone;
}

/* Every pin of the cache checked against the server (cl_pins_release). */
void cl_pins_reconcile(struct client *c, const char *why)
{
	unsigned char (*v)[STORE_SHA_LEN] = NULL;
	size_t n = 0, gone;

	if (cache_blobs_pinned_list(c->blobs, &v, &n) || !n) {
		free(v);
		return;
	}
	gone = cl_pins_release(c, (const unsigned char (*)[STORE_SHA_LEN])v, n);
	if (gone)
		log_info("remote: released %zu of %zu pinned file(s) no sample"
			 " names any more (%s)", gone, n, why);
	free(v);
}

/* ---- staging and commits ---- */

int cl_staging_create(struct backend *be, char *path, size_t len)
{
	return cache_blob_tmp(C(be)->blobs, path, len);
}

/* Makes sure the server has blob `sha`: HEAD, and PUT it if missing. */
static int push_blob(struct client *c, int fd, const char *hexs, int64_t size)
{
	char path[96];
	struct req h = REQ("HEAD", path), p = REQ("PUT", path);
	int rc;

	cl_pathf(path, sizeof(path), "/v1/blobs/%s", hexs);
	h.quiet404 = 1;
	rc = cl_http(c, &h);
	cl_req_free(&h);
	if (rc != -ENOENT)
		return rc;
	p.in_fd = fd;
	p.in_size = size;
	p.ctype = "application/octet-stream";
	rc = cl_http(c, &p);
	cl_req_free(&p);
	return rc;
}

#define THUMB_SRC_MAX (256 << 20)   /* larger files get no thumbnail */
/* Files up to this size go in one request (put_bytes): the bytes cost
 * less than the HEAD that would spare them when the server has them. */
#define SMALL_MAX (256 << 10)

/* A thumbnail sent along with a kept commit (upload=thumbnails). */
struct thumb_ref {
	char hex[65];
	int64_t size;
};

/* PUT /v1/nodes/{ino}/content. kept: the bytes stay here ("bytes":"kept"),
 * with thumbnail `t` when not NULL. */
static int put_content(struct client *c, int64_t ino, const char *hexs,
		       int64_t size, int64_t mtime_ns, int durable, int kept,
		       const struct thumb_ref *t)
{
	cJSON *b = cJSON_CreateObject(), *tj;
	char path[64];
	int rc = -ENOMEM, ok;

	ok = b && (!kept || cJSON_AddStringToObject(b, "bytes", "kept"));
	if (ok && t) {
		tj = cJSON_AddObjectToObject(b, "thumbnail");
		ok = tj && cJSON_AddStringToObject(tj, "sha256", t->hex) &&
		     cJSON_AddNumberToObject(tj, "size", (double)t->size);
	}
	if (ok && cJSON_AddStringToObject(b, "sha256", hexs) &&
	    cJSON_AddNumberToObject(b, "size", (double)size) &&
	    !api_add_i64_str(b, "mtime_ns", mtime_ns) &&
	    cJSON_AddBoolToObject(b, "durable", durable)) {
		cl_pathf(path, sizeof(path), "/v1/nodes/%lld/content",
			 (long long)ino);
		rc = cl_send_json(c, "PUT", path, b, NULL, NULL);
	}
	cJSON_Delete(b);
	/* Node removed while open: the bytes go with it, as in embedded
	 * mode (the backend's node_commit), and close() succeeds. */
	return rc == -ENOENT ? 0 : rc;
}

/* upload=thumbnails: makes the thumbnail of the bytes in fd and makes
 * sure the server has it. 0 and *t, or -errno (not an image: the sample
 * goes as meta only, with a log line). */
static int thumb_push(struct client *c, int fd, int64_t size,
		      struct thumb_ref *t)
{
	unsigned char *buf = NULL, *jpg = NULL, sha[STORE_SHA_LEN];
	char why[256] = "", tmp[4096];
	size_t jlen = 0, got = 0;
	int tfd = -1, rc = 0;

	if (size > THUMB_SRC_MAX) {
		snprintf(why, sizeof(why), "larger than %d MiB",
			 THUMB_SRC_MAX >> 20);
		rc = -EFBIG;
		goto out;
	}
	if (!(buf = malloc((size_t)size + 1))) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)size) {
		ssize_t r = pread(fd, buf + got, (size_t)size - got,
				  (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			goto out;
		}
		got += (size_t)r;
	}
	rc = emb_thumb_jpeg(buf, got, EMB_THUMB_SIDE, &jpg, &jlen, why,
			    sizeof(why));
	if (rc)
		goto out;
	if (!EVP_Digest(jpg, jlen, sha, NULL, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	tfd = cache_blob_tmp(c->blobs, tmp, sizeof(tmp));
	if (tfd < 0) {
		rc = tfd;
		goto out;
	}
	if (write(tfd, jpg, jlen) != (ssize_t)jlen) {
		rc = -EIO;
		goto out;
	}
	core_sha_hex(sha, t->hex);
	t->size = (int64_t)jlen;
	rc = push_blob(c, tfd, t->hex, t->size);
out:
	if (tfd >= 0) {
		close(tfd);
		unlink(tmp);
	}
	if (rc == -EINVAL || rc == -EFBIG)
		log_warn("remote: no thumbnail (%s): the sample goes as"
			 " upload=meta", why[0] ? why : strerror(-rc));
	else if (rc)
		log_error("remote: thumbnail upload failed (%s): the sample"
			  " goes as upload=meta", strerror(-rc));
	free(jpg);
	free(buf);
	return rc;
}

/* upload=meta|thumbnails: the bytes are pinned in our cache before
 * anything is sent (once committed they exist nowhere else; a commit that
 * fails leaves a pinned entry no node names, which costs only disk), then
 * the commit sends metadata only. */
static int commit_kept(struct client *c, int64_t ino, int fd,
		       const char *staged,
		       const unsigned char sha[STORE_SHA_LEN], int64_t size,
		       int64_t mtime_ns, int durable)
{
	struct thumb_ref t, *tp = NULL;
	char hexs[65];
	int rc;

	core_sha_hex(sha, hexs);
	atomic_fetch_add(&c->pinning, 1); /* before the pin: cl_pins_release */
	rc = cache_blob_adopt(c->blobs, fd, staged, sha, size, 1);
	if (staged && staged[0])
		unlink(staged);
	if (rc) {
		atomic_fetch_sub(&c->pinning, 1);
		log_error("remote: upload of node %lld: cannot pin its bytes"
			  " in the cache (%s); nothing sent", (long long)ino,
			  strerror(-rc));
		return rc;
	}
	if (c->upload == API_UPLOAD_THUMBNAILS && !thumb_push(c, fd, size, &t))
		tp = &t;
	rc = put_content(c, ino, hexs, size, mtime_ns, durable, 1, tp);
	if (rc == -EAGAIN && tp && !thumb_push(c, fd, size, &t))
		rc = put_content(c, ino, hexs, size, mtime_ns, durable, 1, tp);
	atomic_fetch_sub(&c->pinning, 1);
	if (rc)
		log_error("remote: upload of node %lld (metadata only) failed:"
			  " %s", (long long)ino, strerror(-rc));
	cl_changed_nodes(c);
	return rc;
}

/* PUT /v1/nodes/{ino}/bytes: a small file's bytes and its commit in one
 * request (api/routes_upload.c). 0, or -errno: -ENOENT when the node is
 * gone or the server has no such route (the caller falls back to the
 * three requests, which tell the two apart), -EAGAIN blob collected
 * between keep and commit (the caller falls back too). */
static int put_bytes(struct client *c, int64_t ino, int fd, const char *hexs,
		     int64_t size, int64_t mtime_ns, int durable)
{
	char path[200];
	struct req p = REQ("PUT", path);
	int rc;

	cl_pathf(path, sizeof(path),
		 "/v1/nodes/%lld/bytes?sha256=%s&mtime_ns=%lld&durable=%d",
		 (long long)ino, hexs, (long long)mtime_ns, durable ? 1 : 0);
	p.in_fd = fd;
	p.in_size = size;
	p.ctype = "application/octet-stream";
	p.quiet404 = 1;
	/* A repeat (a retry after a lost answer) keeps the same bytes and
	 * commits them again: the same state, but for an mtime of 0 ("the
	 * time of the commit") taken anew. No request id needed, and the
	 * server writes no key rows. */
	p.unkeyed = 1;
	rc = cl_http(c, &p);
	cl_changed_nodes(c);             /* whatever the outcome; and before
	                                  * the fresh record goes in */
	if (!rc && p.resp.len) {
		cJSON *j = cJSON_ParseWithLength(p.resp.p, p.resp.len);

		cl_node_remember(c, j);
		cJSON_Delete(j);
	}
	cl_req_free(&p);
	return rc;
}

int cl_node_commit(struct backend *be, int64_t ino, int fd,
		   const char *staged,
		   const unsigned char sha[STORE_SHA_LEN], int64_t size,
		   int64_t mtime_ns, int durable)
{
	struct client *c = C(be);
	char hexs[65];
	int rc, one = 0;

	core_sha_hex(sha, hexs);
	if (c->upload != API_UPLOAD_FULL)
		return commit_kept(c, ino, fd, staged, sha, size, mtime_ns,
				   durable);
	/* A small file: one request. Anything but a clear answer (node
	 * gone, an older server, a collected blob) takes the long way,
	 * which sorts it out. */
	rc = size <= SMALL_MAX ?
	     put_bytes(c, ino, fd, hexs, size, mtime_ns, durable) : -ENOENT;
	if (rc != -ENOENT && rc != -EAGAIN) {
		one = 1;                 /* its answer is the node's record */
		goto done;
	}
	rc = push_blob(c, fd, hexs, size);
	/* The server may collect an unreferenced blob between our PUT and
	 * the commit (blob_missing): send it once more. */
	for (int t = 0; !rc && t < 2; t++) {
		rc = put_content(c, ino, hexs, size, mtime_ns, durable, 0,
				 NULL);
		if (rc == -EAGAIN && t == 0) {
			char path[96];
			struct req p = REQ("PUT", path);
			cl_pathf(path, sizeof(path), "/v1/blobs/%s", hexs);
			p.in_fd = fd;
			p.in_size = size;
			p.ctype = "application/octet-stream";
			rc = cl_http(c, &p);
			cl_req_free(&p);
			continue;
		}
		break;
	}
done:
	/* Committed bytes are read from our cache from now on. */
	if (!rc && cache_blob_adopt(c->blobs, fd, staged, sha, size, 0))
		log_warn("remote: could not keep '%s' in the cache", hexs);
	if (staged && staged[0])
		unlink(staged);
	if (rc)
		log_error("remote: upload of node %lld failed: %s",
			  (long long)ino, strerror(-rc));
	if (!one)
		cl_changed_nodes(c);
	return rc;
}
