/*
 * s3_int.h — what the files of the S3 client (s3.h) share, and nothing
 * outside them includes. The client is four modules:
 *
 *   s3.c       one request: the curl easy-handle pool, the callbacks that
 *              move bodies in and out, S3's errors mapped to errno once;
 *              s3_open / s3_close
 *   s3_sign.c  what is pure computation: the target and environment
 *              config, the canonical URI encoding both signers rely on,
 *              SigV4 presigned URLs (OpenSSL HMAC)
 *   s3_ops.c   the S3 operations over s3i_run: PUT, multipart, GET, HEAD,
 *              DELETE, copy, the two listings
 *   s3_xml.c   S3's XML answers read with libexpat (a well-kept parser,
 *              not ours): element by element, with its parent's name
 *
 * Internal names start with s3i_. struct s3 never changes after s3_open
 * but for its pool (mu). A struct req lives on one caller's stack for one
 * request.
 */
#ifndef SIEVEFS_STORE_S3_INT_H
#define SIEVEFS_STORE_S3_INT_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <curl/curl.h>

#include "store/s3.h"

#define S3I_POOL_MAX 32
#define S3I_ERR_BODY_MAX 8192
#define S3I_XML_MAX (8u << 20)   /* cap on an XML answer (a listing page) */
#define S3I_URL_MAX (3 * S3_KEY_MAX + 1024)
#define S3I_EMPTY_SHA256 \
	"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3 {
	struct s3_config cfg;
	char host[512];         /* host[:port] of the endpoint: SigV4's "host" */
	char sigv4[128];        /* "aws:amz:REGION:s3" */
	pthread_mutex_t mu;     /* guards idle, nidle */
	CURL *idle[S3I_POOL_MAX];
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
	char ebody[S3I_ERR_BODY_MAX];
	size_t elen;
	long status;
	char code[64];          /* S3's <Code> of an error answer */
	curl_off_t clen;        /* Content-Length of the answer, -1 if none */
	int cb_err;             /* a callback's -errno that stopped curl */
	char etag[S3_ETAG_MAX];
	char errbuf[CURL_ERROR_SIZE];
};

/* ---- s3.c */

/* Fills e (NULL: no-op) with an HTTP status, S3 code and message. */
void s3i_err_set(struct s3_err *e, long http, const char *code,
		 const char *fmt, ...) __attribute__((format(printf, 4, 5)));
/* Writes a reason into msg (when non-NULL) and returns -EINVAL. */
int s3i_bad(char *msg, size_t msglen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void s3i_req_init(struct req *r, s3 *h, struct s3_err *err);
/* A dynamic answer buffer as C text (NUL-terminated; "" when empty). */
const char *s3i_req_text(const struct req *r);
/* Runs one request: method on path+query ("" or "?a=1&b=2", canonical
 * order), with the extra headers, body sha256 hex (NULL: empty body).
 * 2xx → 0; else the mapped errno with r->err filled. */
int s3i_run(struct req *r, const char *method, const char *path,
	    const char *query, struct curl_slist *extra, const char *sha_hex,
	    int nobody);
/* S3's HTTP status and <Code> as a negative errno (s3.h's table). */
int s3i_map_status(long st, const char *code);
/* A 200 answer whose body is an <Error> (complete, copy): 0 when it is
 * not one, else the mapped errno with err filled ("what" names the
 * request in the message). */
int s3i_error_body(const struct req *r, const char *what, const char *path);

/* ---- s3_sign.c */

/* Appends s to dst (cap bytes) percent-encoded as SigV4 wants: unreserved
 * bytes as they are, '/' too when keep_slash. -ENAMETOOLONG on overflow. */
int s3i_uri_enc(char *dst, size_t cap, const char *s, int keep_slash);
/* Appends a plain string; -ENAMETOOLONG on overflow. */
int s3i_cat(char *dst, size_t cap, const char *s);
/* Whether key is non-empty and PREFIX+KEY fits S3's limit. */
int s3i_key_ok(const s3 *h, const char *key);
/* The path "/BUCKET/PREFIX+KEY" (key NULL: "/BUCKET/"), encoded. */
int s3i_object_path(const s3 *h, const char *key, char *out, size_t cap);
/* A key checked (s3i_key_ok) and its path (s3i_object_path): 0, or
 * -EINVAL with err's reason (an empty key; one too long with the prefix).
 * The one check of every call that names a key. */
int s3i_key_path(const s3 *h, const char *key, char *out, size_t cap,
		 struct s3_err *err);

/* ---- s3_xml.c */

/* Called at the end of each element with its name, its parent's name
 * ("" for the root) and its own text (entities and character references
 * decoded by expat, UTF-8, NUL-terminated; an element with children gets
 * the text after its last child, normally blank). Non-zero stops the
 * parse and is returned by s3i_xml. */
typedef int (*s3i_xml_fn)(void *arg, const char *parent, const char *name,
			  const char *text);
/* Parses len bytes of doc. 0; fn's non-zero; -EBADMSG when doc is not
 * well-formed XML (or an element's text passes 16 KiB); -ENOMEM. */
int s3i_xml(const char *doc, size_t len, s3i_xml_fn fn, void *arg);
/* The text of the first element `name` whose parent is `parent` (NULL:
 * any parent) into out (cap bytes): 0, -ENOENT when none, -EOVERFLOW
 * when it does not fit, -EBADMSG on a document that is not XML. */
int s3i_xml_get(const char *doc, size_t len, const char *parent,
		const char *name, char *out, size_t cap);

#endif
