/*
 * s3.c — one S3 request over libcurl: the pool of easy handles, the
 * callbacks that move a body up (from a buffer or an fd) and an answer
 * down (into an fd, a caller's buffer, or a growing buffer for XML), and
 * S3's errors translated once into a negative errno (s3.h's table). The
 * operations built on it are in s3_ops.c, signing and config in
 * s3_sign.c, XML reading in s3_xml.c (s3_int.h says who does what).
 *
 * Wire. Path-style URLs, ENDPOINT/BUCKET/PREFIX+KEY, the key percent-encoded
 * (s3i_object_path: S3's canonical URI, so the path curl sends is the path
 * SigV4 signs; CURLOPT_PATH_AS_IS keeps curl from squashing "/../").
 * libcurl 7.88 signs with CURLOPT_AWS_SIGV4 but (1) hashes no body it reads
 * from a callback — we send x-amz-content-sha256 ourselves, the body's
 * SHA-256 (RGW answers 403 without it, and refuses a body that does not
 * match it) — and (2) signs the query string as written, unsorted: every
 * URL here writes its query parameters already in SigV4's canonical order,
 * each as name=value (so "?uploads=" rather than "?uploads").
 *
 * Bodies go up with Content-Length (never chunked: RGW answers 411). curl
 * adds "Expect: 100-continue" to bodies over 1 MiB, and it must stay: curl
 * 7.88 signs a header the caller removes ("Expect:") as if it were sent,
 * and RGW answers SignatureDoesNotMatch. A growing answer buffer is capped
 * at S3I_XML_MAX; an error's body (capped at 8 KiB) is kept apart, never
 * written to the caller's sink, and its <Code> and <Message> (read with
 * expat, s3_xml.c) go to struct s3_err.
 *
 * Threads: s3.mu guards the pool of idle easy handles (idle, nidle); a call
 * owns the easy handle it took until it returns it. Nothing else in a
 * handle changes after s3_open.
 *
 * Secrets: the secret key lives in the handle (wiped by s3_close) and is
 * given to libcurl with CURLOPT_PASSWORD per request (cleared after it).
 * No message built here contains it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "store/s3_int.h"

/* ------------------------------------------------------------ small helpers */

void s3i_err_set(struct s3_err *e, long http, const char *code,
		    const char *fmt, ...)
{
	va_list ap;

	if (!e)
		return;
	e->http = http;
	snprintf(e->code, sizeof e->code, "%s", code ? code : "");
	va_start(ap, fmt);
	vsnprintf(e->message, sizeof e->message, fmt, ap);
	va_end(ap);
}
/* ------------------------------------------------------- curl callbacks */

static size_t on_read(char *buf, size_t size, size_t n, void *arg)
{
	struct req *r = arg;
	uint64_t left = r->up_len - r->up_pos;
	size_t want = size * n;

	if (want > left)
		want = (size_t)left;
	if (!want)
		return 0;
	if (r->up_buf) {
		memcpy(buf, r->up_buf + r->up_pos, want);
	} else {
		ssize_t k;

		do
			k = pread(r->up_fd, buf, want,
				  r->up_off + (off_t)r->up_pos);
		while (k < 0 && errno == EINTR);
		if (k <= 0) {
			/* the file shrank (0) or failed: no short body */
			r->cb_err = k < 0 ? -errno : -EIO;
			return CURL_READFUNC_ABORT;
		}
		want = (size_t)k;
	}
	r->up_pos += want;
	return want;
}

/* curl rewinds a body to resend it on a fresh connection when a kept-alive
 * one turned out dead. */
static int on_seek(void *arg, curl_off_t off, int origin)
{
	struct req *r = arg;

	if (origin != SEEK_SET || off < 0 || (uint64_t)off > r->up_len)
		return CURL_SEEKFUNC_CANTSEEK;
	r->up_pos = (uint64_t)off;
	return CURL_SEEKFUNC_OK;
}

static size_t on_write(char *data, size_t size, size_t n, void *arg)
{
	struct req *r = arg;
	size_t len = size * n;

	if (!r->status)
		curl_easy_getinfo(r->c, CURLINFO_RESPONSE_CODE, &r->status);
	if (r->status >= 300 || r->status < 200) {
		size_t room = sizeof r->ebody - 1 - r->elen;

		if (len < room)
			room = len;
		memcpy(r->ebody + r->elen, data, room);
		r->elen += room;
		r->ebody[r->elen] = 0;
		return len;
	}
	if (r->out_fd >= 0) {
		for (size_t done = 0; done < len;) {
			ssize_t k = write(r->out_fd, data + done, len - done);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0) {
				r->cb_err = k < 0 ? -errno : -EIO;
				return 0;
			}
			done += (size_t)k;
		}
	} else if (r->out_dyn) {
		if (r->out_len + len + 1 > S3I_XML_MAX) {
			r->cb_err = -EOVERFLOW;
			return 0;
		}
		if (r->out_len + len + 1 > r->out_cap) {
			size_t cap = r->out_cap ? r->out_cap : 16384;
			unsigned char *p;

			while (cap < r->out_len + len + 1)
				cap *= 2;
			if (!(p = realloc(r->out, cap))) {
				r->cb_err = -ENOMEM;
				return 0;
			}
			r->out = p;
			r->out_cap = cap;
		}
		memcpy(r->out + r->out_len, data, len);
		r->out_len += len;
		r->out[r->out_len] = 0;
	} else {
		if (len > r->out_cap - r->out_len) {
			r->cb_err = -EOVERFLOW;
			return 0;
		}
		memcpy(r->out + r->out_len, data, len);
		r->out_len += len;
	}
	r->out_total += len;
	return len;
}

static void header_val(const char *line, size_t len, const char *name,
		       char *out, size_t cap)
{
	size_t nl = strlen(name);
	const char *v, *e;

	if (len <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
		return;
	v = line + nl + 1;
	e = line + len;
	while (v < e && (*v == ' ' || *v == '\t'))
		v++;
	while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
		e--;
	if ((size_t)(e - v) < cap) {
		memcpy(out, v, (size_t)(e - v));
		out[e - v] = 0;
	}
}

static size_t on_header(char *line, size_t size, size_t n, void *arg)
{
	struct req *r = arg;
	size_t len = size * n;

	if (len > 5 && !strncmp(line, "HTTP/", 5)) {
		/* a new answer (after a 100 Continue, say) */
		r->etag[0] = 0;
	}
	header_val(line, len, "ETag", r->etag, sizeof r->etag);
	if (r->err)
		header_val(line, len, "x-amz-request-id", r->err->request_id,
			   sizeof r->err->request_id);
	return len;
}

/* ------------------------------------------------------------ the pool */

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static int global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT) ? -EIO : 0;
}

static CURL *pool_get(s3 *h)
{
	CURL *c = NULL;

	pthread_mutex_lock(&h->mu);
	if (h->nidle > 0)
		c = h->idle[--h->nidle];
	pthread_mutex_unlock(&h->mu);
	if (c)
		curl_easy_reset(c);   /* keeps its live connections */
	else
		c = curl_easy_init();
	return c;
}

static void pool_put(s3 *h, CURL *c)
{
	if (!c)
		return;
	pthread_mutex_lock(&h->mu);
	if (h->nidle < S3I_POOL_MAX) {
		h->idle[h->nidle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&h->mu);
	if (c)
		curl_easy_cleanup(c);
}

/* ------------------------------------------------------- error answers */

struct efields {
	char *code, *msg;
	size_t msgcap;
	int seen;               /* an <Error> element ended */
};

static int on_error_elem(void *arg, const char *parent, const char *name,
			 const char *text)
{
	struct efields *f = arg;

	if (!strcmp(name, "Error")) {
		f->seen = 1;
	} else if (!strcmp(parent, "Error")) {
		/* a code longer than its field is no code we know: cut it
		 * as the message is, it only lands in a log line */
		if (!strcmp(name, "Code"))
			snprintf(f->code, 64, "%s", text);
		else if (!strcmp(name, "Message"))
			snprintf(f->msg, f->msgcap, "%s", text);
	}
	return 0;
}

/* S3's <Error><Code>, <Message> from an answer's body (code: 64 bytes).
 * A body cut at its cap, or not XML at all (a proxy's HTML page), gives
 * what was read before the break, or nothing. Returns whether the body
 * was an <Error> document. */
static int error_fields(const char *body, size_t len, char *code, char *msg,
			size_t msgcap)
{
	struct efields f = { code, msg, msgcap, 0 };

	code[0] = msg[0] = 0;
	s3i_xml(body, len, on_error_elem, &f);
	return f.seen;
}

int s3i_error_body(const struct req *r, const char *what, const char *path)
{
	char code[64], msg[200];
	const char *t = s3i_req_text(r);

	if (!error_fields(t, strlen(t), code, msg, sizeof msg))
		return 0;
	s3i_err_set(r->err, r->status, code, "%s %s: %s %s", what, path, code,
		    msg);
	/* the join or copy failed after the 200 went out */
	return s3i_map_status(500, code);
}

/* ------------------------------------------------------- one request */

int s3i_map_status(long st, const char *code)
{
	if (!strcmp(code, "XAmzContentSHA256Mismatch") ||
	    !strcmp(code, "BadDigest") || !strcmp(code, "InvalidDigest"))
		return -EBADMSG;
	if (!strcmp(code, "QuotaExceeded"))
		return -EDQUOT;
	if (st == 507 || !strcmp(code, "InsufficientCapacity"))
		return -ENOSPC;
	if (!strcmp(code, "EntityTooLarge"))
		return -EFBIG;
	if (st == 404)
		return -ENOENT;
	if (st == 403 || st == 401)
		return -EACCES;
	if (st == 416)
		return -ERANGE;
	if (st == 503 || !strcmp(code, "SlowDown"))
		return -EAGAIN;
	if (st == 408)
		return -ETIMEDOUT;
	if (st == 400 && !strcmp(code, "InvalidArgument"))
		return -EINVAL;
	return -EIO;
}

static int map_curl(CURLcode cc)
{
	switch (cc) {
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
		return -EINVAL;
	default:
		return -EIO;
	}
}

/* Runs one request: method on path+query ("" or "?a=1&b=2", canonical
 * order), with the extra headers, body sha256 hex (NULL: empty body).
 * Answers 2xx → 0; else the mapped errno with r->err filled. */
int s3i_run(struct req *r, const char *method, const char *path,
	       const char *query, struct curl_slist *extra,
	       const char *sha_hex, int nobody)
{
	s3 *h = r->h;
	char url[S3I_URL_MAX], hdr[128];
	struct curl_slist *hl = NULL, *t;
	CURLcode cc;
	int rc = 0;

	url[0] = 0;
	if (s3i_cat(url, sizeof url, h->cfg.endpoint) || s3i_cat(url, sizeof url, path) ||
	    s3i_cat(url, sizeof url, query)) {
		s3i_err_set(r->err, 0, NULL, "URL longer than %zu bytes", sizeof url);
		return -ENAMETOOLONG;
	}
	if (!(r->c = pool_get(h))) {
		s3i_err_set(r->err, 0, NULL, "out of memory (curl handle)");
		return -ENOMEM;
	}
	snprintf(hdr, sizeof hdr, "x-amz-content-sha256: %s",
		 sha_hex ? sha_hex : S3I_EMPTY_SHA256);
	if (!(t = curl_slist_append(hl, hdr)))
		goto nomem;
	hl = t;
	for (; extra; extra = extra->next) {
		if (!(t = curl_slist_append(hl, extra->data)))
			goto nomem;
		hl = t;
	}
	r->errbuf[0] = 0;
	r->status = 0;
	CURL *c = r->c;
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PATH_AS_IS, 1L);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_AWS_SIGV4, h->sigv4);
	curl_easy_setopt(c, CURLOPT_USERNAME, h->cfg.access_key);
	curl_easy_setopt(c, CURLOPT_PASSWORD, h->cfg.secret_key);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, r->errbuf);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, h->cfg.connect_timeout_s);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, h->cfg.stall_s);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
	curl_easy_setopt(c, CURLOPT_SEEKDATA, r);
	if (!strcmp(method, "PUT")) {
		curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, r);
		curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)r->up_len);
		if (r->up_len > (1 << 20))
			curl_easy_setopt(c, CURLOPT_UPLOAD_BUFFERSIZE, 512L << 10);
	} else if (!strcmp(method, "POST")) {
		curl_easy_setopt(c, CURLOPT_POST, 1L);
		curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(c, CURLOPT_READDATA, r);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)r->up_len);
	} else if (nobody) {
		curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
	} else if (strcmp(method, "GET")) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	} else if (!r->out_dyn) {
		/* object bytes: fewer, larger reads and callbacks */
		curl_easy_setopt(c, CURLOPT_BUFFERSIZE, 512L << 10);
	}

	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	r->clen = -1;
	curl_easy_getinfo(c, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &r->clen);
	if (cc != CURLE_OK) {
		if (r->cb_err) {
			rc = r->cb_err;
			s3i_err_set(r->err, r->status, NULL, "%s %s: %s", method,
				path, rc == -EOVERFLOW ?
				"answer larger than the buffer" : strerror(-rc));
		} else {
			rc = map_curl(cc);
			s3i_err_set(r->err, r->status, NULL, "%s %s%s: %s", method,
				h->cfg.endpoint, path, r->errbuf[0] ? r->errbuf :
				curl_easy_strerror(cc));
		}
	} else if (r->status < 200 || r->status >= 300) {
		char code[64] = "", msg[200] = "";

		error_fields(r->ebody, r->elen, code, msg, sizeof msg);
		rc = s3i_map_status(r->status, code);
		snprintf(r->code, sizeof r->code, "%s", code);
		s3i_err_set(r->err, r->status, code, "%s %s: HTTP %ld%s%s%s%s", method,
			path, r->status, code[0] ? " " : "", code,
			msg[0] ? ": " : "", msg);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c, CURLOPT_PASSWORD, "");
	curl_slist_free_all(hl);
	pool_put(h, c);
	r->c = NULL;
	return rc;
nomem:
	curl_slist_free_all(hl);
	pool_put(h, r->c);
	r->c = NULL;
	s3i_err_set(r->err, 0, NULL, "out of memory");
	return -ENOMEM;
}

void s3i_req_init(struct req *r, s3 *h, struct s3_err *err)
{
	memset(r, 0, offsetof(struct req, ebody));
	r->elen = 0;
	r->ebody[0] = 0;
	r->cb_err = 0;
	r->etag[0] = 0;
	r->code[0] = 0;
	r->h = h;
	r->err = err;
	r->up_fd = -1;
	r->out_fd = -1;
	if (err)
		memset(err, 0, sizeof *err);
}

/* A dynamic answer buffer as C text (NUL-terminated; "" when empty). */
const char *s3i_req_text(const struct req *r)
{
	return r->out ? (const char *)r->out : "";
}

/* ------------------------------------------------------------ open/close */

int s3_open(const struct s3_config *cfg, s3 **out, char *msg, size_t msglen)
{
	const char *hs;
	s3 *h;

	*out = NULL;
	if (!cfg->endpoint[0] || !cfg->bucket[0] || !cfg->region[0])
		return s3i_bad(msg, msglen, "S3 config needs an endpoint, a region and a bucket");
	if (!cfg->access_key[0] || !cfg->secret_key[0])
		return s3i_bad(msg, msglen, "S3 config needs an access key and a secret key");
	if (cfg->part_size && cfg->part_size < S3_PART_MIN)
		return s3i_bad(msg, msglen, "S3 part size must be at least 5 MiB");
	pthread_once(&global_once, global_init);
	if (global_rc)
		return s3i_bad(msg, msglen, "libcurl failed to initialise"), -EIO;
	if (!(h = calloc(1, sizeof *h)))
		return -ENOMEM;
	h->cfg = *cfg;
	if (!h->cfg.part_size)
		h->cfg.part_size = 16u << 20;
	if (!h->cfg.connect_timeout_s)
		h->cfg.connect_timeout_s = 10;
	if (!h->cfg.stall_s)
		h->cfg.stall_s = 60;
	hs = strstr(h->cfg.endpoint, "//");
	hs = hs ? hs + 2 : h->cfg.endpoint;
	snprintf(h->host, sizeof h->host, "%s", hs);
	snprintf(h->sigv4, sizeof h->sigv4, "aws:amz:%s:s3", h->cfg.region);
	pthread_mutex_init(&h->mu, NULL);
	*out = h;
	return 0;
}

void s3_close(s3 *h)
{
	if (!h)
		return;
	for (int i = 0; i < h->nidle; i++)
		curl_easy_cleanup(h->idle[i]);
	pthread_mutex_destroy(&h->mu);
	OPENSSL_cleanse(h, sizeof *h);
	free(h);
}

const char *s3_bucket(const s3 *h) { return h->cfg.bucket; }
const char *s3_prefix(const s3 *h) { return h->cfg.prefix; }
const char *s3_endpoint(const s3 *h) { return h->cfg.endpoint; }

int s3i_bad(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (msg && msglen) {
		va_start(ap, fmt);
		vsnprintf(msg, msglen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}
