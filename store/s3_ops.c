/*
 * s3_ops.c — the S3 operations of s3.h over one request (s3i_run, s3.c):
 * PUT from a buffer or an fd, multipart uploads step by step and whole
 * (s3_put_file), GET of a range into an fd or a buffer, HEAD, DELETE,
 * server-side copy, and the two listings (objects, open multipart
 * uploads), page by page.
 *
 * Hashes. Every body goes up with its SHA-256 in x-amz-content-sha256,
 * given by the caller or computed here first (for an fd: one more read
 * pass), so the server refuses bytes the hash does not name.
 *
 * XML. Answers (UploadId, listings, a 200 whose body is an <Error>) are
 * read with expat through s3i_xml (s3_xml.c): a listing's entries are
 * gathered field by field and handed to the caller at each </Contents> or
 * </Upload>; a callback's non-zero stops the parse and the listing.
 * Listing keys are asked url-encoded (encoding-type=url: XML 1.0 cannot
 * carry every byte a key may hold) and decoded here.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "store/s3_int.h"

/* ------------------------------------------------------------ PUT */

/* SHA-256 of [off, off+len) of fd into hex. */
static int fd_sha256(int fd, off_t off, uint64_t len, char out[65])
{
	unsigned char md[32];
	unsigned char *buf;
	EVP_MD_CTX *ctx;
	int rc = 0;

	if (!(buf = malloc(1 << 20)))
		return -ENOMEM;
	if (!(ctx = EVP_MD_CTX_new())) {
		free(buf);
		return -ENOMEM;
	}
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	for (uint64_t done = 0; done < len;) {
		size_t want = len - done < (1 << 20) ? (size_t)(len - done) : 1 << 20;
		ssize_t k = pread(fd, buf, want, off + (off_t)done);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			rc = k < 0 ? -errno : -EIO;   /* 0: shorter than len */
			goto out;
		}
		EVP_DigestUpdate(ctx, buf, (size_t)k);
		done += (uint64_t)k;
	}
	EVP_DigestFinal_ex(ctx, md, NULL);
	s3_hex(md, 32, out);
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

static int put(s3 *h, const char *key, const void *buf, int fd, off_t off,
	       uint64_t len, const unsigned char sha[32], const char *query,
	       char *etag, struct s3_err *err)
{
	char path[S3I_URL_MAX], shahex[65];
	struct req r;
	int rc;

	s3i_req_init(&r, h, err);
	if ((rc = s3i_key_path(h, key, path, sizeof path, err)))
		return rc;
	if (!buf && fd < 0 && len) {
		s3i_err_set(err, 0, NULL, "a body of %" PRIu64
			    " bytes and neither a buffer nor an fd", len);
		return -EINVAL;
	}
	if (sha)
		s3_hex(sha, 32, shahex);
	else if (buf || !len)
		s3_sha256_hex(buf ? buf : "", buf ? (size_t)len : 0, shahex);
	else if ((rc = fd_sha256(fd, off, len, shahex))) {
		s3i_err_set(err, 0, NULL, "reading the body to hash it: %s",
			strerror(-rc));
		return rc;
	}
	r.up_buf = buf;
	r.up_fd = fd;
	r.up_off = off;
	r.up_len = len;
	rc = s3i_run(&r, "PUT", path, query ? query : "", NULL, shahex, 0);
	if (!rc && etag)
		snprintf(etag, S3_ETAG_MAX, "%s", r.etag);
	return rc;
}

int s3_put_buf(s3 *h, const char *key, const void *buf, size_t len,
	       const unsigned char sha256[32], struct s3_err *err)
{
	return put(h, key, buf ? buf : "", -1, 0, len, sha256, NULL, NULL, err);
}

int s3_put_fd(s3 *h, const char *key, int fd, off_t off, uint64_t len,
	      const unsigned char sha256[32], struct s3_err *err)
{
	return put(h, key, NULL, fd, off, len, sha256, NULL, NULL, err);
}

/* ------------------------------------------------------------ multipart */

/* POSTs body (a C string) to path?query, answer text into r (dynamic). */
static int post_xml(struct req *r, const char *path, const char *query,
		    const char *body)
{
	char shahex[65];
	struct curl_slist ct = { (char *)"Content-Type: application/xml", NULL };

	s3_sha256_hex(body, strlen(body), shahex);
	r->up_buf = (const unsigned char *)body;
	r->up_len = strlen(body);
	r->out_dyn = 1;
	return s3i_run(r, "POST", path, query, &ct, shahex, 0);
}

int s3_mp_create(s3 *h, const char *key, char *upload_id, struct s3_err *err)
{
	char path[S3I_URL_MAX];
	struct req r;
	int rc;

	s3i_req_init(&r, h, err);
	if ((rc = s3i_key_path(h, key, path, sizeof path, err)))
		return rc;
	rc = post_xml(&r, path, "?uploads=", "");
	if (!rc) {
		const char *t = s3i_req_text(&r);

		if (s3i_xml_get(t, strlen(t), NULL, "UploadId", upload_id,
				S3_UPLOAD_ID_MAX) || !upload_id[0]) {
			s3i_err_set(err, r.status, NULL,
				"POST %s?uploads: no UploadId in the answer", path);
			rc = -EIO;
		}
	}
	free(r.out);
	return rc;
}

static int upload_query(const char *upload_id, int partno, char *q, size_t cap)
{
	int rc;

	q[0] = 0;
	if (partno > 0) {
		char n[48];

		snprintf(n, sizeof n, "?partNumber=%d&uploadId=", partno);
		rc = s3i_cat(q, cap, n);
	} else {
		rc = s3i_cat(q, cap, "?uploadId=");
	}
	return rc ? rc : s3i_uri_enc(q, cap, upload_id, 0);
}

int s3_mp_part_fd(s3 *h, const char *key, const char *upload_id, int partno,
		  int fd, off_t off, uint64_t len, char *etag,
		  struct s3_err *err)
{
	char q[S3_UPLOAD_ID_MAX * 3 + 64];

	if (partno < 1 || partno > S3_PARTS_MAX || !upload_id || !*upload_id ||
	    upload_query(upload_id, partno, q, sizeof q)) {
		s3i_err_set(err, 0, NULL, "bad part number or upload id");
		return -EINVAL;
	}
	return put(h, key, NULL, fd, off, len, NULL, q, etag, err);
}

int s3_mp_part_buf(s3 *h, const char *key, const char *upload_id,
		   int partno, const void *buf, size_t len,
		   const unsigned char sha256[32], char *etag,
		   struct s3_err *err)
{
	char q[S3_UPLOAD_ID_MAX * 3 + 64];

	if (partno < 1 || partno > S3_PARTS_MAX || !upload_id || !*upload_id ||
	    upload_query(upload_id, partno, q, sizeof q)) {
		s3i_err_set(err, 0, NULL, "bad part number or upload id");
		return -EINVAL;
	}
	return put(h, key, buf ? buf : "", -1, 0, len, sha256, q, etag, err);
}

int s3_mp_complete(s3 *h, const char *key, const char *upload_id,
		   char (*etags)[S3_ETAG_MAX], int nparts, struct s3_err *err)
{
	char path[S3I_URL_MAX], q[S3_UPLOAD_ID_MAX * 3 + 32];
	size_t cap = 64 + (size_t)nparts * (S3_ETAG_MAX + 80), n;
	char *body;
	struct req r;
	int rc;

	s3i_req_init(&r, h, err);
	if ((rc = s3i_key_path(h, key, path, sizeof path, err)))
		return rc;
	if (nparts < 1 || nparts > S3_PARTS_MAX || !upload_id ||
	    upload_query(upload_id, 0, q, sizeof q)) {
		s3i_err_set(err, 0, NULL, "bad upload id or part count (%d)",
			    nparts);
		return -EINVAL;
	}
	if (!(body = malloc(cap)))
		return -ENOMEM;
	n = (size_t)snprintf(body, cap, "<CompleteMultipartUpload>");
	for (int i = 0; i < nparts; i++) {
		/* an ETag is a quoted hex digest: nothing to escape but the
		 * quotes, which XML text allows */
		if (strpbrk(etags[i], "<&")) {
			free(body);
			s3i_err_set(err, 0, NULL, "bad ETag of part %d", i + 1);
			return -EINVAL;
		}
		n += (size_t)snprintf(body + n, cap - n,
			"<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>",
			i + 1, etags[i]);
	}
	snprintf(body + n, cap - n, "</CompleteMultipartUpload>");
	rc = post_xml(&r, path, q, body);
	if (!rc) {
		/* 200 with an <Error> body: the join failed after all */
		rc = s3i_error_body(&r, "POST ?uploadId", path);
	}
	free(r.out);
	free(body);
	return rc;
}

int s3_mp_abort(s3 *h, const char *key, const char *upload_id,
		struct s3_err *err)
{
	char path[S3I_URL_MAX], q[S3_UPLOAD_ID_MAX * 3 + 32];
	struct req r;

	int rc;

	s3i_req_init(&r, h, err);
	if ((rc = s3i_key_path(h, key, path, sizeof path, err)))
		return rc;
	if (!upload_id || upload_query(upload_id, 0, q, sizeof q)) {
		s3i_err_set(err, 0, NULL, "bad upload id");
		return -EINVAL;
	}
	r.out_dyn = 1;
	rc = s3i_run(&r, "DELETE", path, q, NULL, NULL, 0);
	free(r.out);
	return rc;
}

int s3_put_file(s3 *h, const char *key, int fd, uint64_t size,
		struct s3_err *err)
{
	uint64_t ps = h->cfg.part_size;
	char id[S3_UPLOAD_ID_MAX];
	char (*etags)[S3_ETAG_MAX];
	uint64_t nparts;
	int rc = 0;

	if (size <= ps)
		return s3_put_fd(h, key, fd, 0, size, NULL, err);
	nparts = (size + ps - 1) / ps;
	if (nparts > S3_PARTS_MAX) {
		s3i_err_set(err, 0, NULL, "%" PRIu64 " bytes need more than %d parts of %" PRIu64,
			size, S3_PARTS_MAX, ps);
		return -EFBIG;
	}
	if (!(etags = calloc(nparts, sizeof *etags)))
		return -ENOMEM;
	if ((rc = s3_mp_create(h, key, id, err)))
		goto out;
	for (uint64_t i = 0; i < nparts && !rc; i++) {
		uint64_t off = i * ps, len = size - off < ps ? size - off : ps;

		rc = s3_mp_part_fd(h, key, id, (int)i + 1, fd, (off_t)off, len,
				   etags[i], err);
	}
	if (!rc)
		rc = s3_mp_complete(h, key, id, etags, (int)nparts, err);
	if (rc) {
		/* keep the first failure's reason; the abort is best effort
		 * (a sweep of incomplete uploads catches what it misses) */
		struct s3_err e2;

		s3_mp_abort(h, key, id, &e2);
	}
out:
	free(etags);
	return rc;
}

/* ------------------------------------------------------------ GET, HEAD */

static int get(s3 *h, const char *key, uint64_t off, uint64_t len,
	       struct req *r)
{
	char path[S3I_URL_MAX], range[80];
	struct curl_slist rh = { range, NULL };

	int rc;

	if ((rc = s3i_key_path(h, key, path, sizeof path, r->err)))
		return rc;
	if (len == 0) {
		return 0;
	}
	if (off == 0 && len == S3_TO_END)
		return s3i_run(r, "GET", path, "", NULL, NULL, 0);
	if (len == S3_TO_END || off + len < off)
		snprintf(range, sizeof range, "Range: bytes=%" PRIu64 "-", off);
	else
		snprintf(range, sizeof range, "Range: bytes=%" PRIu64 "-%" PRIu64,
			 off, off + len - 1);
	rc = s3i_run(r, "GET", path, "", &rh, NULL, 0);
	if (!rc && r->status != 206) {
		/* a server that ignored the Range sent the whole object */
		s3i_err_set(r->err, r->status, NULL,
			"GET %s: HTTP %ld to a ranged request (206 expected)",
			path, r->status);
		rc = -EIO;
	}
	return rc;
}

int s3_get_fd(s3 *h, const char *key, uint64_t off, uint64_t len, int fd,
	      uint64_t *got, struct s3_err *err)
{
	struct req r;
	int rc;

	s3i_req_init(&r, h, err);
	r.out_fd = fd;
	rc = get(h, key, off, len, &r);
	if (got)
		*got = rc ? 0 : r.out_total;
	return rc;
}

int s3_get_buf(s3 *h, const char *key, uint64_t off, uint64_t len,
	       void *buf, size_t cap, size_t *got, struct s3_err *err)
{
	struct req r;
	int rc;

	s3i_req_init(&r, h, err);
	r.out = buf;
	r.out_cap = cap;
	rc = get(h, key, off, len, &r);
	if (got)
		*got = rc ? 0 : r.out_len;
	return rc;
}

int s3_head(s3 *h, const char *key, uint64_t *size, char *etag,
	    struct s3_err *err)
{
	char path[S3I_URL_MAX];
	struct req r;
	int rc;

	s3i_req_init(&r, h, err);
	if ((rc = s3i_key_path(h, key, path, sizeof path, err)))
		return rc;
	rc = s3i_run(&r, "HEAD", path, "", NULL, NULL, 1);
	if (rc)
		return rc;
	if (r.clen < 0) {
		s3i_err_set(err, r.status, NULL, "HEAD %s: no Content-Length", path);
		return -EIO;
	}
	if (size)
		*size = (uint64_t)r.clen;
	if (etag)
		snprintf(etag, S3_ETAG_MAX, "%s", r.etag);
	return 0;
}

/* ------------------------------------------------------------ DELETE, COPY */

int s3_delete(s3 *h, const char *key, struct s3_err *err)
{
	char path[S3I_URL_MAX];
	struct req r;
	int rc;

	s3i_req_init(&r, h, err);
	if ((rc = s3i_key_path(h, key, path, sizeof path, err)))
		return rc;
	r.out_dyn = 1;
	rc = s3i_run(&r, "DELETE", path, "", NULL, NULL, 0);
	free(r.out);
	return rc == -ENOENT ? 0 : rc;
}

int s3_copy(s3 *h, const char *src_key, const char *dst_key,
	    struct s3_err *err)
{
	char path[S3I_URL_MAX], src[S3I_URL_MAX + 32];
	struct curl_slist sh = { src, NULL };
	struct req r;
	int rc;

	s3i_req_init(&r, h, err);
	snprintf(src, sizeof src, "x-amz-copy-source: ");
	if ((rc = s3i_key_path(h, dst_key, path, sizeof path, err)) ||
	    (rc = s3i_key_path(h, src_key, src + strlen(src),
			       sizeof src - strlen(src), err)))
		return rc;
	r.out_dyn = 1;
	r.up_buf = (const unsigned char *)"";
	rc = s3i_run(&r, "PUT", path, "", &sh, NULL, 0);
	if (!rc) {
		rc = s3i_error_body(&r, "PUT (copy)", path);
	} else if (!strcmp(r.code, "InvalidRequest") && r.status == 400) {
		rc = -EFBIG;    /* "copy source is larger than the maximum" */
	}
	free(r.out);
	return rc;
}

/* ------------------------------------------------------------ LIST */

/* Decodes a listing's url-encoded key in place (%XX, and '+' for a space
 * as AWS writes it; RGW writes %20 and %2B). -1 on a bad escape or a NUL. */
static int key_decode(char *k)
{
	char *o = k;

	for (char *p = k; *p; p++) {
		if (*p == '+') {
			*o++ = ' ';
		} else if (*p == '%') {
			char b[3];
			long v;

			if (!isxdigit((unsigned char)p[1]) ||
			    !isxdigit((unsigned char)p[2]))
				return -1;
			b[0] = p[1];
			b[1] = p[2];
			b[2] = 0;
			v = strtol(b, NULL, 16);
			if (!v)
				return -1;
			*o++ = (char)v;
			p += 2;
		} else {
			*o++ = *p;
		}
	}
	*o = 0;
	return 0;
}

/* One listing page as expat hands it over: an entry's fields gathered
 * until its end tag, then given to the caller; the page's truncation
 * flag and markers. */
struct page {
	s3 *h;
	const char *entry;      /* "Contents" or "Upload" */
	s3_list_fn lfn;
	s3_upload_fn ufn;
	void *arg;
	struct s3_err *err;
	const char *path;
	long status;
	/* the entry being read */
	char key[3 * S3_KEY_MAX + 1];   /* url-encoded, then decoded */
	char size[32], etag[S3_ETAG_MAX], when[64], id[S3_UPLOAD_ID_MAX];
	int has_key, has_size, has_id, too_long;
	/* the page */
	char trunc[8];
	char token[1024];               /* NextContinuationToken */
	char kmark[3 * S3_KEY_MAX + 1]; /* NextKeyMarker */
	char umark[S3_UPLOAD_ID_MAX];   /* NextUploadIdMarker */
	int by_fn;              /* the caller's fn stopped the walk */
};

/* Copies a field; 1 when it fits, else marks the entry (0). */
static int fld(struct page *pg, char *dst, size_t cap, const char *text)
{
	size_t l = strlen(text);

	if (l >= cap) {
		pg->too_long = 1;
		return 0;
	}
	memcpy(dst, text, l + 1);
	return 1;
}

static void entry_reset(struct page *pg)
{
	pg->key[0] = pg->size[0] = pg->etag[0] = pg->when[0] = pg->id[0] = 0;
	pg->has_key = pg->has_size = pg->has_id = pg->too_long = 0;
}

/* An entry ended: checked, its key decoded, handed to the caller. */
static int entry_done(struct page *pg)
{
	size_t pl = strlen(pg->h->cfg.prefix);
	const char *key;
	int rc;

	if (pg->too_long || !pg->has_key || key_decode(pg->key) ||
	    (pg->lfn && !pg->has_size) || (pg->ufn && !pg->has_id)) {
		s3i_err_set(pg->err, pg->status, NULL,
			    "GET %s: a listing entry without %s", pg->path,
			    pg->lfn ? "Key or Size" : "Key or UploadId");
		return -EIO;
	}
	key = strncmp(pg->key, pg->h->cfg.prefix, pl) ? pg->key : pg->key + pl;
	if (pg->lfn) {
		struct s3_obj o = {
			.key = key, .size = strtoull(pg->size, NULL, 10),
			.etag = pg->etag, .last_modified = pg->when,
		};
		rc = pg->lfn(pg->arg, &o);
	} else {
		struct s3_upload u = {
			.key = key, .upload_id = pg->id, .initiated = pg->when,
		};
		rc = pg->ufn(pg->arg, &u);
	}
	pg->by_fn = rc != 0;
	entry_reset(pg);
	return rc;
}

static int on_page_elem(void *arg, const char *parent, const char *name,
			const char *text)
{
	struct page *pg = arg;

	if (!strcmp(name, pg->entry))
		return entry_done(pg);
	if (!strcmp(parent, pg->entry)) {
		if (!strcmp(name, "Key"))
			pg->has_key = fld(pg, pg->key, sizeof pg->key, text);
		else if (!strcmp(name, "Size"))
			pg->has_size = fld(pg, pg->size, sizeof pg->size, text);
		else if (!strcmp(name, "UploadId"))
			pg->has_id = fld(pg, pg->id, sizeof pg->id, text);
		else if (!strcmp(name, "ETag"))
			fld(pg, pg->etag, sizeof pg->etag, text);
		else if (!strcmp(name, "LastModified") ||
			 !strcmp(name, "Initiated"))
			fld(pg, pg->when, sizeof pg->when, text);
		return 0;
	}
	/* the page's own fields (an entry's are handled above) */
	if (!strcmp(name, "IsTruncated"))
		fld(pg, pg->trunc, sizeof pg->trunc, text);
	else if (!strcmp(name, "NextContinuationToken"))
		fld(pg, pg->token, sizeof pg->token, text);
	else if (!strcmp(name, "NextKeyMarker"))
		fld(pg, pg->kmark, sizeof pg->kmark, text);
	else if (!strcmp(name, "NextUploadIdMarker"))
		fld(pg, pg->umark, sizeof pg->umark, text);
	return 0;
}

/* GETs one listing page (path?q) and walks it: 0 with the page's fields
 * in pg, the caller's fn's non-zero, or a negative errno. */
static int list_page(struct page *pg, const char *q)
{
	struct req r;
	const char *t;
	int rc;

	s3i_req_init(&r, pg->h, pg->err);
	r.out_dyn = 1;
	rc = s3i_run(&r, "GET", pg->path, q, NULL, NULL, 0);
	if (rc) {
		free(r.out);
		return rc;
	}
	pg->status = r.status;
	pg->trunc[0] = pg->token[0] = pg->kmark[0] = pg->umark[0] = 0;
	pg->by_fn = 0;
	entry_reset(pg);
	t = s3i_req_text(&r);
	rc = s3i_xml(t, strlen(t), on_page_elem, pg);
	if (rc && !pg->by_fn && rc != -EIO && rc != -ENOMEM) {
		s3i_err_set(pg->err, r.status, NULL,
			    "GET %s: a listing that is not S3's XML (%s)",
			    pg->path, strerror(-rc));
		rc = -EIO;
	}
	free(r.out);
	return rc;
}

int s3_list(s3 *h, const char *prefix, s3_list_fn fn, void *arg,
	    struct s3_err *err)
{
	char path[S3I_URL_MAX], q[S3I_URL_MAX], full[S3_KEY_MAX + 1];
	struct page *pg;
	int rc = 0;

	if (!prefix)
		prefix = "";
	if (strlen(h->cfg.prefix) + strlen(prefix) > S3_KEY_MAX)
		return -EINVAL;
	if (!(pg = calloc(1, sizeof *pg)))
		return -ENOMEM;
	*pg = (struct page){ .h = h, .entry = "Contents", .lfn = fn,
			     .arg = arg, .err = err, .path = path };
	snprintf(full, sizeof full, "%s%s", h->cfg.prefix, prefix);
	s3i_object_path(h, NULL, path, sizeof path);
	for (;;) {
		/* canonical order: continuation-token, encoding-type, list-type,
		 * prefix. Keys come back percent-encoded (encoding-type=url). */
		q[0] = 0;
		if ((pg->token[0] &&
		     (s3i_cat(q, sizeof q, "?continuation-token=") ||
		      s3i_uri_enc(q, sizeof q, pg->token, 0))) ||
		    s3i_cat(q, sizeof q, pg->token[0] ?
			    "&encoding-type=url&list-type=2&prefix=" :
			    "?encoding-type=url&list-type=2&prefix=") ||
		    s3i_uri_enc(q, sizeof q, full, 0)) {
			rc = -ENAMETOOLONG;
			break;
		}
		if ((rc = list_page(pg, q)) || strcmp(pg->trunc, "true"))
			break;
		if (!pg->token[0]) {
			s3i_err_set(err, pg->status, NULL,
				    "GET %s: truncated listing without a continuation token",
				    path);
			rc = -EIO;
			break;
		}
	}
	free(pg);
	return rc;
}

int s3_mp_list(s3 *h, const char *prefix, s3_upload_fn fn, void *arg,
	       struct s3_err *err)
{
	char path[S3I_URL_MAX], q[S3I_URL_MAX], full[S3_KEY_MAX + 1];
	char *kmark = NULL, *umark = NULL;
	struct page *pg;
	int rc = 0;

	if (!prefix)
		prefix = "";
	if (strlen(h->cfg.prefix) + strlen(prefix) > S3_KEY_MAX)
		return -EINVAL;
	if (!(pg = calloc(1, sizeof *pg)))
		return -ENOMEM;
	*pg = (struct page){ .h = h, .entry = "Upload", .ufn = fn,
			     .arg = arg, .err = err, .path = path };
	snprintf(full, sizeof full, "%s%s", h->cfg.prefix, prefix);
	s3i_object_path(h, NULL, path, sizeof path);
	for (;;) {
		/* canonical order: encoding-type, key-marker, prefix,
		 * upload-id-marker, uploads. The key marker was decoded like
		 * the keys and is encoded again here. */
		q[0] = 0;
		if (s3i_cat(q, sizeof q, "?encoding-type=url") ||
		    (kmark && (s3i_cat(q, sizeof q, "&key-marker=") ||
			       s3i_uri_enc(q, sizeof q, kmark, 0))) ||
		    s3i_cat(q, sizeof q, "&prefix=") ||
		    s3i_uri_enc(q, sizeof q, full, 0) ||
		    (umark && (s3i_cat(q, sizeof q, "&upload-id-marker=") ||
			       s3i_uri_enc(q, sizeof q, umark, 0))) ||
		    s3i_cat(q, sizeof q, "&uploads=")) {
			rc = -ENAMETOOLONG;
			break;
		}
		/* keys come back url-encoded as asked (RGW 16.2 encodes them
		 * but leaves out <EncodingType>, so we do not look for it) */
		if ((rc = list_page(pg, q)) || strcmp(pg->trunc, "true"))
			break;
		if (!pg->kmark[0] || key_decode(pg->kmark)) {
			s3i_err_set(err, pg->status, NULL,
				    "GET %s?uploads: truncated listing without markers",
				    path);
			rc = -EIO;
			break;
		}
		/* the next page's markers: this page's, kept apart from the
		 * fields the next walk overwrites */
		free(kmark);
		free(umark);
		kmark = strdup(pg->kmark);
		umark = pg->umark[0] ? strdup(pg->umark) : NULL;
		if (!kmark || (pg->umark[0] && !umark)) {
			rc = -ENOMEM;
			break;
		}
	}
	free(kmark);
	free(umark);
	free(pg);
	return rc;
}
