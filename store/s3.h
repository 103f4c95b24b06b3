/*
 * s3.h — a small S3 client: the transport under the blob store's S3 engine
 * (store/blobs_s3.c, issue 19). It knows objects, keys and buckets,
 * nothing of blobs: key naming, hashing policy, staging prefixes
 * and garbage collection belong to the engine above.
 *
 * What it does. One handle names one bucket and one key prefix on one
 * endpoint (path-style URLs: ENDPOINT/BUCKET/PREFIX+KEY, which Ceph RGW,
 * MinIO and AWS all accept). Requests are signed with SigV4 by libcurl
 * (CURLOPT_AWS_SIGV4); every request carries x-amz-content-sha256 with the
 * SHA-256 of its body, so the server refuses a body whose bytes are not the
 * ones the hash names (a cut or lying upload never becomes an object, and
 * an existing object under that key is left as it was). Presigned GET and
 * PUT URLs are signed here (SigV4 query signing over OpenSSL's HMAC): the
 * server checks a grant and hands a client a short-lived URL, and the
 * client fetches the bytes from the object store without a server hop.
 *
 * Files: s3.c (requests, pool, errors), s3_sign.c (config, URI encoding,
 * presigned URLs), s3_ops.c (the operations below), s3_xml.c (S3's XML
 * answers, read with libexpat); s3_int.h is what they share.
 *
 * Ownership. s3_open copies the configuration (secret included) into the
 * handle; s3_close wipes and frees it. The caller's struct s3_config may be
 * wiped right after s3_open (s3_config_wipe). Buffers and fds passed to a
 * call are the caller's and are not kept after it returns.
 *
 * Threads. A handle is shared by any number of threads: each call takes a
 * libcurl easy handle from the handle's pool (made on demand, returned
 * after the call, kept-alive connections with it), so concurrent calls run
 * in parallel on separate connections. Every call blocks until its request
 * ends (or times out: connect timeout, then a transfer that moves no byte
 * for `stall_s` seconds). libcurl's global init is done once, by s3_open.
 *
 * Failure. Every call returns 0 or a negative errno:
 *   -ENOENT     404 (NoSuchKey, NoSuchBucket, NoSuchUpload)
 *   -EACCES     403 (AccessDenied, SignatureDoesNotMatch, InvalidAccessKeyId,
 *               RequestTimeTooSkewed, an expired presigned URL)
 *   -EBADMSG    the body does not match its x-amz-content-sha256 (or its
 *               Content-MD5): nothing was written
 *   -ENOSPC     507 / InsufficientCapacity (a full cluster; not provoked
 *               in the tests)
 *   -EDQUOT     QuotaExceeded
 *   -EFBIG      EntityTooLarge, a copy over 5 GiB, more than 10,000 parts
 *   -ERANGE     416: a range beyond the object's end
 *   -EOVERFLOW  an answer larger than the caller's buffer
 *   -EAGAIN     503 SlowDown / ServiceUnavailable: retry later
 *   -ETIMEDOUT  no answer in time
 *   -EIO        the network (connection refused or cut) or any other answer
 *   -EINVAL     a bad key, target or argument (nothing was sent)
 *   -ENOMEM
 *   or the errno of a read or write of the caller's fd.
 * Each call takes an optional struct s3_err (NULL: none) that it fills on
 * failure with the HTTP status, S3's error code and message and a text a
 * person can act on, for a log line. None of them ever holds the secret.
 * No call retries (libcurl alone resends a request, body rewound, when a
 * kept-alive connection turns out dead before any answer): a failed call
 * may have changed nothing or everything (a PUT is all-or-nothing per
 * object); the caller decides.
 */
#ifndef SIEVEFS_STORE_S3_H
#define SIEVEFS_STORE_S3_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct s3 s3;

#define S3_KEY_MAX 1024         /* bytes of PREFIX+KEY (S3's limit) */
#define S3_PART_MIN (5u << 20)  /* S3's smallest part (but the last) */
#define S3_PARTS_MAX 10000
#define S3_ETAG_MAX 80          /* a quoted ETag, NUL-terminated */
#define S3_UPLOAD_ID_MAX 256
#define S3_PRESIGN_MAX_S 604800 /* SigV4's longest expiry: 7 days */

struct s3_config {
	char endpoint[512];     /* http[s]://host[:port], no path */
	char region[64];        /* the SigV4 scope's region, e.g. "us-east-1" */
	char bucket[64];
	char prefix[512];       /* "" or ending in '/': put before every key */
	char access_key[128];   /* AWS_ACCESS_KEY_ID */
	char secret_key[128];   /* AWS_SECRET_ACCESS_KEY: never logged */
	uint64_t part_size;     /* s3_put_file's multipart part size (0: 16 MiB;
	                         * at least S3_PART_MIN) */
	long connect_timeout_s; /* 0: 10 s */
	long stall_s;           /* a transfer moving no byte this long fails
	                         * with -ETIMEDOUT (0: 60 s) */
};

/* Why a call failed, for a log line (never holds a secret). */
struct s3_err {
	long http;              /* HTTP status, 0 when none came */
	char code[64];          /* S3's <Code>, e.g. "NoSuchKey"; "" if none */
	char message[256];      /* S3's <Message>, or libcurl's, or ours */
	char request_id[64];    /* x-amz-request-id, "" if none */
};

/* Fills cfg's endpoint, region, bucket and prefix from a target
 * "s3://BUCKET[/PREFIX][?endpoint=URL&region=NAME]" (endpoint defaults to
 * https://s3.REGION.amazonaws.com, region to us-east-1; a prefix gets a
 * trailing '/'); the rest of cfg is zeroed. -EINVAL with a reason in msg
 * (when msg is non-NULL) on a bad target. */
int s3_config_parse(const char *target, struct s3_config *cfg,
		    char *msg, size_t msglen);
/* Fills cfg's keys from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.
 * -EINVAL with a reason in msg when either is missing or too long. */
int s3_config_env(struct s3_config *cfg, char *msg, size_t msglen);
/* Wipes cfg (the secret with it). NULL is a no-op. */
void s3_config_wipe(struct s3_config *cfg);

/* Opens a handle on cfg (copied). Sends nothing: a wrong endpoint or key
 * shows at the first request. -EINVAL (reason in msg) on a config missing
 * a field, -ENOMEM, -EIO when libcurl cannot be initialised. */
int s3_open(const struct s3_config *cfg, s3 **out, char *msg, size_t msglen);
/* Closes the handle: its connections, and its copy of the secret wiped.
 * No call may be running on it. NULL is a no-op. */
void s3_close(s3 *h);

/* The handle's bucket, prefix and endpoint (for log lines; no secret). */
const char *s3_bucket(const s3 *h);
const char *s3_prefix(const s3 *h);
const char *s3_endpoint(const s3 *h);

/* PUT: writes the object KEY (under the handle's prefix) from len bytes.
 * sha256 is the body's SHA-256 as the caller knows it, sent as
 * x-amz-content-sha256; NULL computes it from the bytes first (for an fd:
 * one more read pass). If the bytes sent do not match it the server
 * refuses (-EBADMSG) and an object already under KEY stays as it was.
 * s3_put_fd reads [off, off+len) of fd with pread (its offset is not
 * moved). Whole-or-nothing per object. */
int s3_put_buf(s3 *h, const char *key, const void *buf, size_t len,
	       const unsigned char sha256[32], struct s3_err *err);
int s3_put_fd(s3 *h, const char *key, int fd, off_t off, uint64_t len,
	      const unsigned char sha256[32], struct s3_err *err);
/* Writes KEY from the first `size` bytes of fd: one PUT when size is at most
 * the part size, else a multipart upload in parts of that size, each
 * checked by the server against the SHA-256 read from fd, aborted (nothing
 * left behind) when any step fails. */
int s3_put_file(s3 *h, const char *key, int fd, uint64_t size,
		struct s3_err *err);

/* Multipart upload, step by step. s3_mp_create starts one for KEY and
 * gives its id (upload_id, S3_UPLOAD_ID_MAX bytes). s3_mp_part_fd sends
 * part `partno` (1..S3_PARTS_MAX; all but the last at least S3_PART_MIN
 * bytes) from [off, off+len) of fd, its SHA-256 read first, and gives its
 * ETag (S3_ETAG_MAX bytes). s3_mp_complete joins the parts (etags[i] is
 * part i+1's) into the object; s3_mp_abort drops the upload and its
 * parts. Until complete, KEY (and an object already there) is untouched. */
int s3_mp_create(s3 *h, const char *key, char *upload_id,
		 struct s3_err *err);
int s3_mp_part_fd(s3 *h, const char *key, const char *upload_id, int partno,
		  int fd, off_t off, uint64_t len, char *etag,
		  struct s3_err *err);
/* The same from len bytes of buf, with their SHA-256 when the caller has it
 * (NULL: computed), for a body streamed through memory part by part. */
int s3_mp_part_buf(s3 *h, const char *key, const char *upload_id,
		   int partno, const void *buf, size_t len,
		   const unsigned char sha256[32], char *etag,
		   struct s3_err *err);
int s3_mp_complete(s3 *h, const char *key, const char *upload_id,
		   char (*etags)[S3_ETAG_MAX], int nparts, struct s3_err *err);
int s3_mp_abort(s3 *h, const char *key, const char *upload_id,
		struct s3_err *err);

/* GET: the bytes [off, off+len) of KEY, or from off to the end when len is
 * S3_TO_END (off 0, S3_TO_END: the whole object, no Range header). -ERANGE
 * when off is past the end. s3_get_fd writes them to fd (at its offset,
 * write(2)) and sets *got (may be NULL) to their count; a failing write
 * stops the transfer with its errno. On any failure fd may have received
 * part of the bytes (the caller truncates or discards). len 0 sends
 * nothing and answers 0. s3_get_buf fills buf (cap bytes;
 * -EOVERFLOW when the answer is larger) and sets *got. */
#define S3_TO_END UINT64_MAX
int s3_get_fd(s3 *h, const char *key, uint64_t off, uint64_t len, int fd,
	      uint64_t *got, struct s3_err *err);
int s3_get_buf(s3 *h, const char *key, uint64_t off, uint64_t len,
	       void *buf, size_t cap, size_t *got, struct s3_err *err);

/* HEAD: 0 and KEY's size (and ETag into etag, S3_ETAG_MAX bytes; either may
 * be NULL) when it exists, -ENOENT when it does not. */
int s3_head(s3 *h, const char *key, uint64_t *size, char *etag,
	    struct s3_err *err);

/* DELETE: 0 whether KEY existed or not (S3's semantics). */
int s3_delete(s3 *h, const char *key, struct s3_err *err);

/* Server-side copy of src_key onto dst_key (both under the handle's prefix):
 * no byte passes through us; dst_key is replaced whole or not at all.
 * -ENOENT when src_key does not exist. S3 copies up to 5 GiB this way;
 * larger objects answer -EFBIG (no multipart copy yet). */
int s3_copy(s3 *h, const char *src_key, const char *dst_key,
	    struct s3_err *err);

/* One object of a listing; valid during the callback only. key is
 * relative to the handle's prefix. */
struct s3_obj {
	const char *key;
	uint64_t size;
	const char *etag;
	const char *last_modified;   /* ISO 8601, as the server wrote it */
};
typedef int (*s3_list_fn)(void *arg, const struct s3_obj *obj);
/* Lists every object whose key starts with prefix (relative to the
 * handle's; "" for all), in key order, page by page (ListObjectsV2, at most
 * 1000 a page), calling fn for each. Stops when fn returns non-zero and
 * returns that. Objects written during the listing may or may not show. */
int s3_list(s3 *h, const char *prefix, s3_list_fn fn, void *arg,
	    struct s3_err *err);

/* One multipart upload not yet completed nor aborted (its parts take
 * space and show in no object listing); valid during the callback. */
struct s3_upload {
	const char *key;         /* relative to the handle's prefix */
	const char *upload_id;
	const char *initiated;   /* ISO 8601, as the server wrote it */
};
typedef int (*s3_upload_fn)(void *arg, const struct s3_upload *u);
/* Lists the open multipart uploads of keys starting with prefix, page by
 * page (ListMultipartUploads), calling fn for each; stops when fn returns
 * non-zero and returns that. For a sweep: s3_mp_abort what a crash left. */
int s3_mp_list(s3 *h, const char *prefix, s3_upload_fn fn, void *arg,
	       struct s3_err *err);

/* A presigned URL for method "GET" or "PUT" on KEY, valid for expires_s
 * seconds (1..S3_PRESIGN_MAX_S) from now, into url (cap bytes). Anyone
 * holding it may do that one request until it expires; a presigned PUT's
 * body is not bound to a hash (UNSIGNED-PAYLOAD). Pure computation, sends
 * nothing. -EINVAL (bad key, method or expiry), -ENAMETOOLONG (cap). */
int s3_presign(s3 *h, const char *method, const char *key,
	       unsigned expires_s, char *url, size_t cap);

/* What a presigned GET's answer says about the bytes (S3's response-*
 * overrides, signed into the URL so a holder cannot change them); NULL
 * fields keep what the object has. */
struct s3_presign_opt {
	const char *content_type;         /* e.g. "image/png" */
	const char *content_disposition;  /* e.g. "attachment; filename=\"a.png\"" */
};
/* s3_presign signed at `now` (unix seconds; for tests of expiry), with
 * opt (may be NULL; GET only, else -EINVAL). */
int s3_presign_ex(s3 *h, const char *method, const char *key,
		  unsigned expires_s, int64_t now,
		  const struct s3_presign_opt *opt, char *url, size_t cap);

/* The lowercase hex SHA-256 of len bytes (65 bytes with the NUL). */
void s3_sha256_hex(const void *buf, size_t len, char hex[65]);
/* n bytes as 2n lowercase hex digits and a NUL (out: 2n + 1 bytes). The
 * store's one hex encoder — SigV4 here, blob and staging names in the
 * blob engines (blobstore.h), store_sha_hex in the catalog (blob.c): this
 * module is the lowest of store/ and every one of them includes it. */
void s3_hex(const unsigned char *b, size_t n, char *out);

#endif
