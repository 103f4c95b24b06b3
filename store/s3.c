/*
 * s3.c — the S3 client of s3.h over libcurl and OpenSSL.
 *
 * Wire. Path-style URLs, ENDPOINT/BUCKET/PREFIX+KEY, the key percent-encoded
 * byte by byte except A-Z a-z 0-9 - . _ ~ and '/' (S3's canonical URI, so
 * the path curl sends is the path SigV4 signs; CURLOPT_PATH_AS_IS keeps
 * curl from squashing "/../"). libcurl 7.88 signs with CURLOPT_AWS_SIGV4
 * but (1) hashes no body it reads from a callback — we send
 * x-amz-content-sha256 ourselves, the body's SHA-256 (RGW answers 403
 * without it, and refuses a body that does not match it) — and (2) signs
 * the query string as written, unsorted: every URL here writes its query
 * parameters already in SigV4's canonical order, each as name=value (so
 * "?uploads=" rather than "?uploads").
 *
 * Bodies go up from a buffer or from an fd (pread, so the caller's offset
 * stays), with Content-Length (never chunked: RGW answers 411). curl adds
 * "Expect: 100-continue" to bodies over 1 MiB, and it must stay: curl 7.88
 * signs a header the caller removes ("Expect:") as if it were sent, and
 * RGW answers SignatureDoesNotMatch. Answers go down into an fd, a caller's
 * buffer, or a growing buffer capped at 8 MiB (XML answers); an error's
 * body (capped at 8 KiB) is kept apart, never written to the caller's sink,
 * and its <Code> and <Message> go to struct s3_err.
 *
 * The XML read here (errors, ListObjectsV2, multipart create and complete,
 * copy) is S3's flat, fixed shape: a tag's text is found by name between
 * bounds and its five entities and numeric references decoded. Not a
 * general XML parser and not meant to be.
 *
 * Threads: s3.mu guards the pool of idle easy handles (idle, nidle); a call
 * owns the easy handle it took until it returns it. Nothing else in a
 * handle changes after s3_open.
 *
 * Secrets: the secret key lives in the handle (wiped by s3_close), is given
 * to libcurl with CURLOPT_PASSWORD per request, and is used for HMAC keys
 * in s3_presign (wiped after use). No message built here contains it.
 */
#include "store/s3.h"

#include <ctype.h>
#include <stddef.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#define POOL_MAX 32
#define ERR_BODY_MAX 8192
#define XML_MAX (8u << 20)
#define URL_MAX (3 * S3_KEY_MAX + 1024)
#define EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3 {
	struct s3_config cfg;
	char host[512];         /* host[:port] of the endpoint: SigV4's "host" */
	char sigv4[128];        /* "aws:amz:REGION:s3" */
	pthread_mutex_t mu;     /* guards idle, nidle */
	CURL *idle[POOL_MAX];
	int nidle;
};

/* One request's state, shared with the curl callbacks. */
struct req {
	s3 *h;
	CURL *c;
	struct s3_err *err;
	/* upload: from buf, or from fd at off; pos bytes sent of len */
	const unsigned char *up_buf;
	int up_fd;
	off_t up_off;
	uint64_t up_len, up_pos;
	/* download sink: fd (>= 0), or buf of cap (fixed), or grown (dyn) */
	int out_fd;
	unsigned char *out;
	size_t out_len, out_cap;
	int out_dyn;
	uint64_t out_total;
	/* an error answer's body, apart from the sink */
	char ebody[ERR_BODY_MAX];
	size_t elen;
	long status;
	char code[64];          /* S3's <Code> of an error answer */
	curl_off_t clen;        /* Content-Length of the answer, -1 if none */
	int cb_err;             /* a callback's -errno that stopped curl */
	char etag[S3_ETAG_MAX];
	char errbuf[CURL_ERROR_SIZE];
};

/* ------------------------------------------------------------ small helpers */

static void err_set(struct s3_err *e, long http, const char *code,
		    const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void err_set(struct s3_err *e, long http, const char *code,
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

static void hex(const unsigned char *b, size_t n, char *out)
{
	static const char d[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = d[b[i] >> 4];
		out[2 * i + 1] = d[b[i] & 15];
	}
	out[2 * n] = 0;
}

void s3_sha256_hex(const void *buf, size_t len, char out[65])
{
	unsigned char md[32];

	SHA256(buf, len, md);
	hex(md, 32, out);
}

/* Appends s to dst (cap bytes) percent-encoded as SigV4 wants: unreserved
 * bytes as they are, '/' too when keep_slash. -ENAMETOOLONG on overflow. */
static int uri_enc(char *dst, size_t cap, const char *s, int keep_slash)
{
	static const char d[] = "0123456789ABCDEF";
	size_t n = strlen(dst);

	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		int plain = isalnum(*p) || *p == '-' || *p == '.' ||
			    *p == '_' || *p == '~' || (keep_slash && *p == '/');

		if (n + (plain ? 1 : 3) >= cap)
			return -ENAMETOOLONG;
		if (plain) {
			dst[n++] = (char)*p;
		} else {
			dst[n++] = '%';
			dst[n++] = d[*p >> 4];
			dst[n++] = d[*p & 15];
		}
	}
	dst[n] = 0;
	return 0;
}

/* Appends a plain string. */
static int cat(char *dst, size_t cap, const char *s)
{
	size_t n = strlen(dst), l = strlen(s);

	if (n + l >= cap)
		return -ENAMETOOLONG;
	memcpy(dst + n, s, l + 1);
	return 0;
}

static int key_ok(const s3 *h, const char *key)
{
	size_t l;

	if (!key || !*key)
		return 0;
	l = strlen(h->cfg.prefix) + strlen(key);
	return l <= S3_KEY_MAX;
}

/* The path "/BUCKET/PREFIX+KEY" (key may be NULL: the bucket), encoded. */
static int object_path(const s3 *h, const char *key, char *out, size_t cap)
{
	int rc;

	out[0] = 0;
	if ((rc = cat(out, cap, "/")) || (rc = uri_enc(out, cap, h->cfg.bucket, 0)))
		return rc;
	if (!key)
		return cat(out, cap, "/");
	if ((rc = cat(out, cap, "/")) ||
	    (rc = uri_enc(out, cap, h->cfg.prefix, 1)) ||
	    (rc = uri_enc(out, cap, key, 1)))
		return rc;
	return 0;
}

/* --------------------------------------------------------------- XML bits */

/* Finds the text of the first <tag>...</tag> in [s, end): 1 and its bounds,
 * or 0. */
static int xml_tag(const char *s, const char *end, const char *tag,
		   const char **vs, const char **ve)
{
	char open[72], close[72];
	size_t lo, lc;

	snprintf(open, sizeof open, "<%s>", tag);
	snprintf(close, sizeof close, "</%s>", tag);
	lo = strlen(open);
	lc = strlen(close);
	for (const char *p = s; p && p + lo <= end;) {
		p = memchr(p, '<', (size_t)(end - p));
		if (!p || p + lo > end)
			return 0;
		if (!memcmp(p, open, lo)) {
			const char *q = p + lo;

			for (; q + lc <= end; q++)
				if (*q == '<' && !memcmp(q, close, lc)) {
					*vs = p + lo;
					*ve = q;
					return 1;
				}
			return 0;
		}
		p++;
	}
	return 0;
}

static void utf8_put(char **o, const char *oend, unsigned long c)
{
	char b[4];
	int n;

	if (c < 0x80) {
		b[0] = (char)c;
		n = 1;
	} else if (c < 0x800) {
		b[0] = (char)(0xC0 | (c >> 6));
		b[1] = (char)(0x80 | (c & 0x3F));
		n = 2;
	} else if (c < 0x10000) {
		b[0] = (char)(0xE0 | (c >> 12));
		b[1] = (char)(0x80 | ((c >> 6) & 0x3F));
		b[2] = (char)(0x80 | (c & 0x3F));
		n = 3;
	} else {
		b[0] = (char)(0xF0 | (c >> 18));
		b[1] = (char)(0x80 | ((c >> 12) & 0x3F));
		b[2] = (char)(0x80 | ((c >> 6) & 0x3F));
		b[3] = (char)(0x80 | (c & 0x3F));
		n = 4;
	}
	if (*o + n < oend) {
		memcpy(*o, b, (size_t)n);
		*o += n;
	}
}

/* Decodes [s, e) (XML text) into out (cap bytes, NUL-terminated). -1 when
 * it does not fit. */
static int xml_text(const char *s, const char *e, char *out, size_t cap)
{
	static const struct { const char *name; char c; } ent[] = {
		{ "amp;", '&' }, { "lt;", '<' }, { "gt;", '>' },
		{ "quot;", '"' }, { "apos;", '\'' },
	};
	char *o = out, *oend = out + cap;

	if (!cap)
		return -1;
	while (s < e) {
		if (*s != '&') {
			if (o + 1 >= oend)
				return -1;
			*o++ = *s++;
			continue;
		}
		s++;
		if (s < e && *s == '#') {
			unsigned long c = 0;
			int base = 10;

			s++;
			if (s < e && (*s == 'x' || *s == 'X')) {
				base = 16;
				s++;
			}
			for (; s < e && *s != ';'; s++) {
				int v = isdigit((unsigned char)*s) ? *s - '0' :
					isxdigit((unsigned char)*s) ?
					tolower((unsigned char)*s) - 'a' + 10 : -1;
				if (v < 0 || v >= base || c > 0x10FFFF)
					return -1;
				c = c * (unsigned long)base + (unsigned long)v;
			}
			if (s >= e || c == 0 || c > 0x10FFFF)
				return -1;
			s++;
			if (o + 4 >= oend)
				return -1;
			utf8_put(&o, oend, c);
			continue;
		}
		size_t i;
		for (i = 0; i < sizeof ent / sizeof ent[0]; i++) {
			size_t l = strlen(ent[i].name);

			if ((size_t)(e - s) >= l && !memcmp(s, ent[i].name, l)) {
				if (o + 1 >= oend)
					return -1;
				*o++ = ent[i].c;
				s += l;
				break;
			}
		}
		if (i == sizeof ent / sizeof ent[0])
			return -1;
	}
	*o = 0;
	return 0;
}

/* The decoded text of <tag> in [s, end) into out; 0 if found and fits. */
static int xml_get(const char *s, const char *end, const char *tag,
		   char *out, size_t cap)
{
	const char *vs, *ve;

	if (!xml_tag(s, end, tag, &vs, &ve))
		return -1;
	return xml_text(vs, ve, out, cap);
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
		if (r->out_len + len + 1 > XML_MAX) {
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
	if (h->nidle < POOL_MAX) {
		h->idle[h->nidle++] = c;
		c = NULL;
	}
	pthread_mutex_unlock(&h->mu);
	if (c)
		curl_easy_cleanup(c);
}

/* ------------------------------------------------------- one request */

static int map_status(long st, const char *code)
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
static int run(struct req *r, const char *method, const char *path,
	       const char *query, struct curl_slist *extra,
	       const char *sha_hex, int nobody)
{
	s3 *h = r->h;
	char url[URL_MAX], hdr[128];
	struct curl_slist *hl = NULL, *t;
	CURLcode cc;
	int rc = 0;

	url[0] = 0;
	if (cat(url, sizeof url, h->cfg.endpoint) || cat(url, sizeof url, path) ||
	    cat(url, sizeof url, query)) {
		err_set(r->err, 0, NULL, "URL longer than %zu bytes", sizeof url);
		return -ENAMETOOLONG;
	}
	if (!(r->c = pool_get(h))) {
		err_set(r->err, 0, NULL, "out of memory (curl handle)");
		return -ENOMEM;
	}
	snprintf(hdr, sizeof hdr, "x-amz-content-sha256: %s",
		 sha_hex ? sha_hex : EMPTY_SHA256);
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
			err_set(r->err, r->status, NULL, "%s %s: %s", method,
				path, rc == -EOVERFLOW ?
				"answer larger than the buffer" : strerror(-rc));
		} else {
			rc = map_curl(cc);
			err_set(r->err, r->status, NULL, "%s %s%s: %s", method,
				h->cfg.endpoint, path, r->errbuf[0] ? r->errbuf :
				curl_easy_strerror(cc));
		}
	} else if (r->status < 200 || r->status >= 300) {
		char code[64] = "", msg[200] = "";
		const char *e = r->ebody + r->elen;

		xml_get(r->ebody, e, "Code", code, sizeof code);
		xml_get(r->ebody, e, "Message", msg, sizeof msg);
		rc = map_status(r->status, code);
		snprintf(r->code, sizeof r->code, "%s", code);
		err_set(r->err, r->status, code, "%s %s: HTTP %ld%s%s%s%s", method,
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
	err_set(r->err, 0, NULL, "out of memory");
	return -ENOMEM;
}

static void req_init(struct req *r, s3 *h, struct s3_err *err)
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
static const char *req_text(const struct req *r)
{
	return r->out ? (const char *)r->out : "";
}

/* ------------------------------------------------------------- config */

static int bad(char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int bad(char *msg, size_t msglen, const char *fmt, ...)
{
	va_list ap;

	if (msg && msglen) {
		va_start(ap, fmt);
		vsnprintf(msg, msglen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int pct_decode(const char *s, size_t n, char *out, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '%' && i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
		    isxdigit((unsigned char)s[i + 2])) {
			char b[3] = { s[i + 1], s[i + 2], 0 };

			c = (char)strtol(b, NULL, 16);
			i += 2;
		}
		if (!c || o + 1 >= cap)
			return -1;
		out[o++] = c;
	}
	out[o] = 0;
	return 0;
}

int s3_config_parse(const char *target, struct s3_config *cfg, char *msg,
		    size_t msglen)
{
	const char *p, *q, *slash;
	size_t bl;

	memset(cfg, 0, sizeof *cfg);
	if (!target || strncmp(target, "s3://", 5))
		return bad(msg, msglen, "an S3 target starts with s3://BUCKET");
	p = target + 5;
	q = strchr(p, '?');
	if (!q)
		q = p + strlen(p);
	slash = memchr(p, '/', (size_t)(q - p));
	bl = (size_t)((slash ? slash : q) - p);
	if (bl < 3 || bl > 63)
		return bad(msg, msglen, "bucket name must be 3 to 63 characters");
	for (size_t i = 0; i < bl; i++)
		if (!islower((unsigned char)p[i]) && !isdigit((unsigned char)p[i]) &&
		    p[i] != '-' && p[i] != '.')
			return bad(msg, msglen,
				   "bucket name may hold only a-z, 0-9, '-' and '.'");
	memcpy(cfg->bucket, p, bl);
	if (slash && slash + 1 < q) {
		if (pct_decode(slash + 1, (size_t)(q - slash - 1), cfg->prefix,
			       sizeof cfg->prefix - 1))
			return bad(msg, msglen, "bad or too long prefix");
		size_t l = strlen(cfg->prefix);
		if (cfg->prefix[l - 1] != '/') {
			cfg->prefix[l] = '/';
			cfg->prefix[l + 1] = 0;
		}
	}
	for (const char *a = *q ? q + 1 : q; *a;) {
		const char *amp = strchr(a, '&'), *eq;
		size_t n = amp ? (size_t)(amp - a) : strlen(a);

		eq = memchr(a, '=', n);
		if (!eq)
			return bad(msg, msglen, "target parameter without '=': %.*s",
				   (int)(n > 40 ? 40 : n), a);
		size_t kl = (size_t)(eq - a), vl = n - kl - 1;
		if (kl == 8 && !memcmp(a, "endpoint", 8)) {
			if (pct_decode(eq + 1, vl, cfg->endpoint, sizeof cfg->endpoint))
				return bad(msg, msglen, "bad or too long endpoint");
		} else if (kl == 6 && !memcmp(a, "region", 6)) {
			if (pct_decode(eq + 1, vl, cfg->region, sizeof cfg->region))
				return bad(msg, msglen, "bad or too long region");
		} else {
			return bad(msg, msglen,
				   "unknown target parameter '%.*s' (endpoint, region)",
				   (int)(kl > 40 ? 40 : kl), a);
		}
		a += n + (amp ? 1 : 0);
	}
	if (!cfg->region[0])
		snprintf(cfg->region, sizeof cfg->region, "us-east-1");
	if (!cfg->endpoint[0])
		snprintf(cfg->endpoint, sizeof cfg->endpoint,
			 "https://s3.%s.amazonaws.com", cfg->region);
	if (strncmp(cfg->endpoint, "http://", 7) &&
	    strncmp(cfg->endpoint, "https://", 8))
		return bad(msg, msglen, "endpoint must start with http:// or https://");
	size_t el = strlen(cfg->endpoint);
	while (el > 8 && cfg->endpoint[el - 1] == '/')
		cfg->endpoint[--el] = 0;
	if (strchr(strstr(cfg->endpoint, "//") + 2, '/'))
		return bad(msg, msglen, "endpoint must have no path (path-style URLs)");
	return 0;
}

int s3_config_env(struct s3_config *cfg, char *msg, size_t msglen)
{
	const char *ak = getenv("AWS_ACCESS_KEY_ID");
	const char *sk = getenv("AWS_SECRET_ACCESS_KEY");

	if (!ak || !*ak || !sk || !*sk)
		return bad(msg, msglen,
			   "S3 credentials missing: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY");
	if (strlen(ak) >= sizeof cfg->access_key ||
	    strlen(sk) >= sizeof cfg->secret_key)
		return bad(msg, msglen, "S3 credentials too long (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)");
	snprintf(cfg->access_key, sizeof cfg->access_key, "%s", ak);
	snprintf(cfg->secret_key, sizeof cfg->secret_key, "%s", sk);
	return 0;
}

void s3_config_wipe(struct s3_config *cfg)
{
	if (cfg)
		OPENSSL_cleanse(cfg, sizeof *cfg);
}

/* ------------------------------------------------------------ open/close */

int s3_open(const struct s3_config *cfg, s3 **out, char *msg, size_t msglen)
{
	const char *hs;
	s3 *h;

	*out = NULL;
	if (!cfg->endpoint[0] || !cfg->bucket[0] || !cfg->region[0])
		return bad(msg, msglen, "S3 config needs an endpoint, a region and a bucket");
	if (!cfg->access_key[0] || !cfg->secret_key[0])
		return bad(msg, msglen, "S3 config needs an access key and a secret key");
	if (cfg->part_size && cfg->part_size < S3_PART_MIN)
		return bad(msg, msglen, "S3 part size must be at least 5 MiB");
	pthread_once(&global_once, global_init);
	if (global_rc)
		return bad(msg, msglen, "libcurl failed to initialise"), -EIO;
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
	hex(md, 32, out);
out:
	EVP_MD_CTX_free(ctx);
	free(buf);
	return rc;
}

static int put(s3 *h, const char *key, const void *buf, int fd, off_t off,
	       uint64_t len, const unsigned char sha[32], const char *query,
	       char *etag, struct s3_err *err)
{
	char path[URL_MAX], shahex[65];
	struct req r;
	int rc;

	req_init(&r, h, err);
	if (!key_ok(h, key) || (!buf && fd < 0 && len)) {
		err_set(err, 0, NULL, "bad key or body");
		return -EINVAL;
	}
	if ((rc = object_path(h, key, path, sizeof path))) {
		err_set(err, 0, NULL, "key too long");
		return rc;
	}
	if (sha)
		hex(sha, 32, shahex);
	else if (buf || !len)
		s3_sha256_hex(buf ? buf : "", buf ? (size_t)len : 0, shahex);
	else if ((rc = fd_sha256(fd, off, len, shahex))) {
		err_set(err, 0, NULL, "reading the body to hash it: %s",
			strerror(-rc));
		return rc;
	}
	r.up_buf = buf;
	r.up_fd = fd;
	r.up_off = off;
	r.up_len = len;
	rc = run(&r, "PUT", path, query ? query : "", NULL, shahex, 0);
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
	return run(r, "POST", path, query, &ct, shahex, 0);
}

int s3_mp_create(s3 *h, const char *key, char *upload_id, struct s3_err *err)
{
	char path[URL_MAX];
	struct req r;
	int rc;

	req_init(&r, h, err);
	if (!key_ok(h, key) || object_path(h, key, path, sizeof path)) {
		err_set(err, 0, NULL, "bad key");
		return -EINVAL;
	}
	rc = post_xml(&r, path, "?uploads=", "");
	if (!rc) {
		const char *t = req_text(&r);

		if (xml_get(t, t + strlen(t), "UploadId", upload_id,
			    S3_UPLOAD_ID_MAX) || !upload_id[0]) {
			err_set(err, r.status, NULL,
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
		rc = cat(q, cap, n);
	} else {
		rc = cat(q, cap, "?uploadId=");
	}
	return rc ? rc : uri_enc(q, cap, upload_id, 0);
}

int s3_mp_part_fd(s3 *h, const char *key, const char *upload_id, int partno,
		  int fd, off_t off, uint64_t len, char *etag,
		  struct s3_err *err)
{
	char q[S3_UPLOAD_ID_MAX * 3 + 64];

	if (partno < 1 || partno > S3_PARTS_MAX || !upload_id || !*upload_id ||
	    upload_query(upload_id, partno, q, sizeof q)) {
		err_set(err, 0, NULL, "bad part number or upload id");
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
		err_set(err, 0, NULL, "bad part number or upload id");
		return -EINVAL;
	}
	return put(h, key, buf ? buf : "", -1, 0, len, sha256, q, etag, err);
}

int s3_mp_complete(s3 *h, const char *key, const char *upload_id,
		   char (*etags)[S3_ETAG_MAX], int nparts, struct s3_err *err)
{
	char path[URL_MAX], q[S3_UPLOAD_ID_MAX * 3 + 32];
	size_t cap = 64 + (size_t)nparts * (S3_ETAG_MAX + 80), n;
	char *body;
	struct req r;
	int rc;

	req_init(&r, h, err);
	if (nparts < 1 || nparts > S3_PARTS_MAX || !key_ok(h, key) ||
	    object_path(h, key, path, sizeof path) || !upload_id ||
	    upload_query(upload_id, 0, q, sizeof q)) {
		err_set(err, 0, NULL, "bad key, upload id or part count");
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
			err_set(err, 0, NULL, "bad ETag of part %d", i + 1);
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
		const char *t = req_text(&r), *e = t + strlen(t);
		const char *vs, *ve;

		if (xml_tag(t, e, "Error", &vs, &ve)) {
			char code[64] = "", msg[200] = "";

			xml_get(vs, ve, "Code", code, sizeof code);
			xml_get(vs, ve, "Message", msg, sizeof msg);
			rc = map_status(500, code);
			err_set(err, r.status, code, "POST %s?uploadId: %s %s",
				path, code, msg);
		}
	}
	free(r.out);
	free(body);
	return rc;
}

int s3_mp_abort(s3 *h, const char *key, const char *upload_id,
		struct s3_err *err)
{
	char path[URL_MAX], q[S3_UPLOAD_ID_MAX * 3 + 32];
	struct req r;

	req_init(&r, h, err);
	if (!key_ok(h, key) || object_path(h, key, path, sizeof path) ||
	    !upload_id || upload_query(upload_id, 0, q, sizeof q)) {
		err_set(err, 0, NULL, "bad key or upload id");
		return -EINVAL;
	}
	r.out_dyn = 1;
	int rc = run(&r, "DELETE", path, q, NULL, NULL, 0);
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
		err_set(err, 0, NULL, "%" PRIu64 " bytes need more than %d parts of %" PRIu64,
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
	char path[URL_MAX], range[80];
	struct curl_slist rh = { range, NULL };

	if (!key_ok(h, key) || object_path(h, key, path, sizeof path)) {
		err_set(r->err, 0, NULL, "bad key");
		return -EINVAL;
	}
	if (len == 0) {
		return 0;
	}
	if (off == 0 && len == S3_TO_END)
		return run(r, "GET", path, "", NULL, NULL, 0);
	if (len == S3_TO_END || off + len < off)
		snprintf(range, sizeof range, "Range: bytes=%" PRIu64 "-", off);
	else
		snprintf(range, sizeof range, "Range: bytes=%" PRIu64 "-%" PRIu64,
			 off, off + len - 1);
	int rc = run(r, "GET", path, "", &rh, NULL, 0);
	if (!rc && r->status != 206) {
		/* a server that ignored the Range sent the whole object */
		err_set(r->err, r->status, NULL,
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

	req_init(&r, h, err);
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

	req_init(&r, h, err);
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
	char path[URL_MAX];
	struct req r;
	int rc;

	req_init(&r, h, err);
	if (!key_ok(h, key) || object_path(h, key, path, sizeof path)) {
		err_set(err, 0, NULL, "bad key");
		return -EINVAL;
	}
	rc = run(&r, "HEAD", path, "", NULL, NULL, 1);
	if (rc)
		return rc;
	if (r.clen < 0) {
		err_set(err, r.status, NULL, "HEAD %s: no Content-Length", path);
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
	char path[URL_MAX];
	struct req r;
	int rc;

	req_init(&r, h, err);
	if (!key_ok(h, key) || object_path(h, key, path, sizeof path)) {
		err_set(err, 0, NULL, "bad key");
		return -EINVAL;
	}
	r.out_dyn = 1;
	rc = run(&r, "DELETE", path, "", NULL, NULL, 0);
	free(r.out);
	return rc == -ENOENT ? 0 : rc;
}

int s3_copy(s3 *h, const char *src_key, const char *dst_key,
	    struct s3_err *err)
{
	char path[URL_MAX], src[URL_MAX + 32];
	struct curl_slist sh = { src, NULL };
	struct req r;
	int rc;

	req_init(&r, h, err);
	if (!key_ok(h, src_key) || !key_ok(h, dst_key) ||
	    object_path(h, dst_key, path, sizeof path)) {
		err_set(err, 0, NULL, "bad key");
		return -EINVAL;
	}
	snprintf(src, sizeof src, "x-amz-copy-source: ");
	if (object_path(h, src_key, src + strlen(src),
			sizeof src - strlen(src))) {
		err_set(err, 0, NULL, "key too long");
		return -ENAMETOOLONG;
	}
	r.out_dyn = 1;
	r.up_buf = (const unsigned char *)"";
	rc = run(&r, "PUT", path, "", &sh, NULL, 0);
	if (!rc) {
		const char *t = req_text(&r), *e = t + strlen(t), *vs, *ve;

		if (xml_tag(t, e, "Error", &vs, &ve)) {
			char code[64] = "", msg[200] = "";

			xml_get(vs, ve, "Code", code, sizeof code);
			xml_get(vs, ve, "Message", msg, sizeof msg);
			rc = map_status(500, code);
			err_set(err, r.status, code, "PUT %s (copy): %s %s",
				path, code, msg);
		}
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

int s3_list(s3 *h, const char *prefix, s3_list_fn fn, void *arg,
	    struct s3_err *err)
{
	char path[URL_MAX], q[URL_MAX], token[1024] = "", full[S3_KEY_MAX + 1];
	size_t pl = strlen(h->cfg.prefix);
	int rc = 0;

	if (!prefix)
		prefix = "";
	if (pl + strlen(prefix) > S3_KEY_MAX)
		return -EINVAL;
	snprintf(full, sizeof full, "%s%s", h->cfg.prefix, prefix);
	object_path(h, NULL, path, sizeof path);
	for (;;) {
		struct req r;

		req_init(&r, h, err);
		/* canonical order: continuation-token, encoding-type, list-type,
		 * prefix. Keys come back percent-encoded (encoding-type=url):
		 * XML 1.0 cannot carry every byte a key may hold. */
		q[0] = 0;
		if (token[0] && (cat(q, sizeof q, "?continuation-token=") ||
				 uri_enc(q, sizeof q, token, 0)))
			return -ENAMETOOLONG;
		if (cat(q, sizeof q, token[0] ? "&encoding-type=url&list-type=2&prefix=" :
			"?encoding-type=url&list-type=2&prefix=") ||
		    uri_enc(q, sizeof q, full, 0))
			return -ENAMETOOLONG;
		r.out_dyn = 1;
		rc = run(&r, "GET", path, q, NULL, NULL, 0);
		if (rc) {
			free(r.out);
			return rc;
		}
		const char *t = req_text(&r), *e = t + strlen(t), *vs, *ve;
		const char *p = t;
		char key[S3_KEY_MAX + 1], etag[S3_ETAG_MAX], lm[64], sz[32];
		char trunc[8] = "";

		while (!rc && xml_tag(p, e, "Contents", &vs, &ve)) {
			struct s3_obj o;

			if (xml_get(vs, ve, "Key", key, sizeof key) ||
			    key_decode(key) ||
			    xml_get(vs, ve, "Size", sz, sizeof sz)) {
				err_set(err, r.status, NULL,
					"GET %s: a listing entry without Key or Size", path);
				rc = -EIO;
				break;
			}
			if (xml_get(vs, ve, "ETag", etag, sizeof etag))
				etag[0] = 0;
			if (xml_get(vs, ve, "LastModified", lm, sizeof lm))
				lm[0] = 0;
			o.key = strncmp(key, h->cfg.prefix, pl) ? key : key + pl;
			o.size = strtoull(sz, NULL, 10);
			o.etag = etag;
			o.last_modified = lm;
			rc = fn(arg, &o);
			p = ve;
		}
		xml_get(t, e, "IsTruncated", trunc, sizeof trunc);
		if (!rc && !strcmp(trunc, "true") &&
		    (xml_get(t, e, "NextContinuationToken", token, sizeof token) ||
		     !token[0])) {
			err_set(err, r.status, NULL,
				"GET %s: truncated listing without a continuation token", path);
			rc = -EIO;
		}
		free(r.out);
		if (rc || strcmp(trunc, "true"))
			return rc;
	}
}

int s3_mp_list(s3 *h, const char *prefix, s3_upload_fn fn, void *arg,
	       struct s3_err *err)
{
	char path[URL_MAX], q[URL_MAX], full[S3_KEY_MAX + 1];
	char kmark[3 * S3_KEY_MAX + 1] = "", umark[S3_UPLOAD_ID_MAX] = "";
	size_t pl = strlen(h->cfg.prefix);
	int rc = 0;

	if (!prefix)
		prefix = "";
	if (pl + strlen(prefix) > S3_KEY_MAX)
		return -EINVAL;
	snprintf(full, sizeof full, "%s%s", h->cfg.prefix, prefix);
	object_path(h, NULL, path, sizeof path);
	for (;;) {
		struct req r;

		req_init(&r, h, err);
		/* canonical order: encoding-type, key-marker, prefix,
		 * upload-id-marker, uploads. The key marker is decoded like the
		 * keys and encoded again here. */
		q[0] = 0;
		if (cat(q, sizeof q, "?encoding-type=url"))
			return -ENAMETOOLONG;
		if (kmark[0] && (cat(q, sizeof q, "&key-marker=") ||
				 uri_enc(q, sizeof q, kmark, 0)))
			return -ENAMETOOLONG;
		if (cat(q, sizeof q, "&prefix=") || uri_enc(q, sizeof q, full, 0))
			return -ENAMETOOLONG;
		if (umark[0] && (cat(q, sizeof q, "&upload-id-marker=") ||
				 uri_enc(q, sizeof q, umark, 0)))
			return -ENAMETOOLONG;
		if (cat(q, sizeof q, "&uploads="))
			return -ENAMETOOLONG;
		r.out_dyn = 1;
		rc = run(&r, "GET", path, q, NULL, NULL, 0);
		if (rc) {
			free(r.out);
			return rc;
		}
		const char *t = req_text(&r), *e = t + strlen(t), *vs, *ve;
		const char *p = t;
		char key[S3_KEY_MAX + 1], id[S3_UPLOAD_ID_MAX], init[64];
		char trunc[8] = "";

		/* keys come back url-encoded as asked (RGW 16.2 encodes them
		 * but leaves out <EncodingType>, so we do not look for it) */
		while (!rc && xml_tag(p, e, "Upload", &vs, &ve)) {
			struct s3_upload u;

			if (xml_get(vs, ve, "Key", key, sizeof key) ||
			    key_decode(key) ||
			    xml_get(vs, ve, "UploadId", id, sizeof id)) {
				err_set(err, r.status, NULL,
					"GET %s?uploads: an entry without Key or UploadId", path);
				rc = -EIO;
				break;
			}
			if (xml_get(vs, ve, "Initiated", init, sizeof init))
				init[0] = 0;
			u.key = strncmp(key, h->cfg.prefix, pl) ? key : key + pl;
			u.upload_id = id;
			u.initiated = init;
			rc = fn(arg, &u);
			p = ve;
		}
		xml_get(t, e, "IsTruncated", trunc, sizeof trunc);
		if (!rc && !strcmp(trunc, "true") &&
		    (xml_get(t, e, "NextKeyMarker", kmark, sizeof kmark) ||
		     xml_get(t, e, "NextUploadIdMarker", umark, sizeof umark) ||
		     !kmark[0] || key_decode(kmark))) {
			err_set(err, r.status, NULL,
				"GET %s?uploads: truncated listing without markers", path);
			rc = -EIO;
		}
		free(r.out);
		if (rc || strcmp(trunc, "true"))
			return rc;
	}
}

/* ------------------------------------------------------------ presign */

static void hmac(const void *key, size_t klen, const char *msg,
		 unsigned char out[32])
{
	unsigned char md[32];
	unsigned int n = 32;

	/* out may be key: the digest goes to md first */
	HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg,
	     strlen(msg), md, &n);
	memcpy(out, md, 32);
	OPENSSL_cleanse(md, sizeof md);
}

int s3_presign_ex(s3 *h, const char *method, const char *key,
		  unsigned expires_s, int64_t now,
		  const struct s3_presign_opt *opt, char *url, size_t cap)
{
	char path[URL_MAX], q[1024], canon[URL_MAX + 1536], sts[512];
	char date[9], amzdate[17], scope[160], chex[65], ksecret[160], sig[65];
	unsigned char k[32];
	time_t t = (time_t)now;
	struct tm tm;

	if (!method || (strcmp(method, "GET") && strcmp(method, "PUT")) ||
	    (opt && strcmp(method, "GET") &&
	     (opt->content_type || opt->content_disposition)) ||
	    !expires_s || expires_s > S3_PRESIGN_MAX_S || !key_ok(h, key) ||
	    !gmtime_r(&t, &tm))
		return -EINVAL;
	if (object_path(h, key, path, sizeof path))
		return -ENAMETOOLONG;
	strftime(date, sizeof date, "%Y%m%d", &tm);
	strftime(amzdate, sizeof amzdate, "%Y%m%dT%H%M%SZ", &tm);
	snprintf(scope, sizeof scope, "%s/%s/s3/aws4_request", date,
		 h->cfg.region);
	/* the query, in canonical (sorted) order, the signature left out */
	snprintf(q, sizeof q, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=");
	char cred[320];
	snprintf(cred, sizeof cred, "%s/%s", h->cfg.access_key, scope);
	if (uri_enc(q, sizeof q, cred, 0))
		return -ENAMETOOLONG;
	char rest[128];
	snprintf(rest, sizeof rest,
		 "&X-Amz-Date=%s&X-Amz-Expires=%u&X-Amz-SignedHeaders=host",
		 amzdate, expires_s);
	if (cat(q, sizeof q, rest))
		return -ENAMETOOLONG;
	/* response overrides sort after the X-Amz- ones ('X' < 'r') */
	if (opt && opt->content_disposition &&
	    (cat(q, sizeof q, "&response-content-disposition=") ||
	     uri_enc(q, sizeof q, opt->content_disposition, 0)))
		return -ENAMETOOLONG;
	if (opt && opt->content_type &&
	    (cat(q, sizeof q, "&response-content-type=") ||
	     uri_enc(q, sizeof q, opt->content_type, 0)))
		return -ENAMETOOLONG;
	if ((size_t)snprintf(canon, sizeof canon, "%s\n%s\n%s\nhost:%s\n\nhost\nUNSIGNED-PAYLOAD",
			     method, path, q, h->host) >= sizeof canon)
		return -ENAMETOOLONG;
	s3_sha256_hex(canon, strlen(canon), chex);
	snprintf(sts, sizeof sts, "AWS4-HMAC-SHA256\n%s\n%s\n%s", amzdate,
		 scope, chex);
	snprintf(ksecret, sizeof ksecret, "AWS4%s", h->cfg.secret_key);
	hmac(ksecret, strlen(ksecret), date, k);
	OPENSSL_cleanse(ksecret, sizeof ksecret);
	hmac(k, 32, h->cfg.region, k);
	hmac(k, 32, "s3", k);
	hmac(k, 32, "aws4_request", k);
	hmac(k, 32, sts, k);
	hex(k, 32, sig);
	OPENSSL_cleanse(k, sizeof k);
	if ((size_t)snprintf(url, cap, "%s%s?%s&X-Amz-Signature=%s",
			     h->cfg.endpoint, path, q, sig) >= cap)
		return -ENAMETOOLONG;
	return 0;
}

int s3_presign(s3 *h, const char *method, const char *key,
	       unsigned expires_s, char *url, size_t cap)
{
	return s3_presign_ex(h, method, key, expires_s, (int64_t)time(NULL),
			     NULL, url, cap);
}
