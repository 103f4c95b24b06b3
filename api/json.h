/*
 * json.h — the wire format of the v1 API (docs/api.md), shared by the server
 * (api/server_http.c, api/routes_*.c) and the remote client: JSON
 * encoding and decoding of every resource, error bodies, errno names, and
 * validation of request paths and query strings.
 *
 * Everything here is pure: no I/O, no global state, thread-safe.
 *
 * Conventions: field names are those of the records (core/records.h). The nanosecond
 * times (*_ns) are encoded as strings of decimal digits (they exceed 2^53,
 * which a JSON number parsed as a double cannot hold); every integer field
 * decodes from a number or such a string. Flags encode as booleans and
 * decode from booleans or 0/1.
 *
 * Errors: functions return 0 or a negative errno: -ENOMEM (encoding), -EINVAL
 * (a missing or mistyped field, a bad path). Encoders hand a new cJSON tree
 * to the caller, who frees it with cJSON_Delete(); on failure *out is NULL.
 * Decoders never keep pointers into the cJSON tree they read.
 */
#ifndef SIEVEFS_API_JSON_H
#define SIEVEFS_API_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <sys/statvfs.h>

#include <cjson/cJSON.h>

#include "core/records.h"

/* ---- resources ---- */

int api_node_to_json(const struct store_node *n, cJSON **out);
int api_node_from_json(const cJSON *j, struct store_node *out);
int api_dataset_to_json(const struct store_dataset *d, cJSON **out);
int api_dataset_from_json(const cJSON *j, struct store_dataset *out);
int api_tag_to_json(const struct store_tag *t, cJSON **out);
int api_tag_from_json(const cJSON *j, struct store_tag *out);
int api_embedding_to_json(const struct store_embedding *e, cJSON **out);
int api_embedding_from_json(const cJSON *j, struct store_embedding *out);
/* A predictions/ or metadata/ input (issue 21): id, dataset, kind
 * ("predictions" | "metadata"), name, rows, cols, bytes, created_ns. */
int api_input_to_json(const struct store_input *e, cJSON **out);
int api_input_from_json(const cJSON *j, struct store_input *out);
int api_statfs_to_json(const struct statvfs *s, cJSON **out);
int api_statfs_from_json(const cJSON *j, struct statvfs *out);

/* The body of POST /v1/nodes/{parent}/children: a name and the attributes
 * of the new node. from_json fills defaults for absent mode/uid/gid/mtime
 * (0644 file, 0755 dir, 0, 0, now) and checks kind; name must fit namelen
 * (else -ENAMETOOLONG). */
int api_newnode_to_json(const char *name, const struct store_newnode *nn,
			cJSON **out);
int api_newnode_from_json(const cJSON *j, char *name, size_t namelen,
			  struct store_newnode *out);

/* A list `{"<key>":[...]}` of n records, each encoded by `one`. */
int api_list_to_json(const char *key, const void *items, size_t n,
		     size_t size, int (*one)(const void *, cJSON **),
		     cJSON **out);
/* Adapters with the generic signature, for api_list_to_json. */
int api_node_any(const void *n, cJSON **out);
int api_dataset_any(const void *d, cJSON **out);
int api_tag_any(const void *t, cJSON **out);
int api_embedding_any(const void *e, cJSON **out);
int api_input_any(const void *e, cJSON **out);

/* Field helpers, usable on any object: a string field copied into buf
 * (-EINVAL absent/not a string, -ENAMETOOLONG too long), an integer field
 * (number or decimal string), a flag (bool or 0/1). `required` 0 leaves
 * *out untouched and returns 1 when the field is absent. */
int api_get_str(const cJSON *j, const char *key, char *buf, size_t len,
		int required);
int api_get_i64(const cJSON *j, const char *key, int64_t *out, int required);
int api_get_bool(const cJSON *j, const char *key, int *out, int required);
/* Adds a decimal-string integer field (for *_ns). 0 or -ENOMEM. */
int api_add_i64_str(cJSON *j, const char *key, int64_t v);

/* 1 if the JSON text holds a NUL character: a raw 0 byte anywhere, or the
 * escape \u0000 in a string (cJSON would decode it into a C string that
 * ends there: "zz\u0000evil" would become "zz"). An escaped backslash
 * followed by "u0000" is ordinary text, not a NUL. Else 0. */
int api_json_has_nul(const char *text, size_t len);

/* ---- hashes ---- */

/* 64 lower-case hex digits → 32 bytes. 0 or -EINVAL (upper case refused:
 * one spelling per blob). */
int api_sha_from_hex(const char *hex, unsigned char sha[STORE_SHA_LEN]);

/* ---- errors ---- */

/* {"error":{"code":..,"errno":..,"message":..}}; NULL on out-of-memory. */
cJSON *api_error_json(const char *code, const char *errno_name,
		      const char *msg);
/* Reads an error body back. 0, or -EINVAL if j is not one. code and name
 * may be NULL; strings are truncated to their buffers. */
int api_error_from_json(const cJSON *j, char *code, size_t codelen,
			char *name, size_t namelen, char *msg, size_t msglen);
/* "ENOENT" for ENOENT or -ENOENT; "EIO" for any errno not in the table. */
const char *api_errno_name(int err);
/* ENOENT for "ENOENT" (positive); EIO for NULL or an unknown name. */
int api_errno_from_name(const char *name);
/* The HTTP status and stable code the server answers for errno err
 * (positive or negative): e.g. ENOENT → 404 "not_found", unknown → 500
 * "internal". */
int api_status_for_errno(int err, const char **code);

/* ---- paths and queries ---- */

#define API_SEGS_MAX 8
#define API_SEG_MAX 256

/* A request path split into decoded segments. */
struct api_path {
	size_t n;
	char seg[API_SEGS_MAX][API_SEG_MAX];
};

/* Splits an absolute raw (still percent-encoded) path such as
 * "/v1/nodes/17/children". -EINVAL for: not starting with '/', an empty
 * segment (except one trailing '/'), "." or ".." (also as %2e%2e), a bad
 * % escape, a decoded NUL or '/', a segment over API_SEG_MAX-1 bytes, more
 * than API_SEGS_MAX segments. */
int api_path_parse(const char *raw, struct api_path *out);

/* An id segment: decimal int64 > 0, no sign, no leading zero, no spaces.
 * 0 or -EINVAL. */
int api_id_parse(const char *s, int64_t *out);

/* Percent-decodes n bytes of `in` into out (NUL-terminated); '+' means a
 * space when plus_space. Returns the decoded length, -EINVAL for a bad
 * escape or a decoded NUL, -ENAMETOOLONG if it does not fit. */
long api_pct_decode(const char *in, size_t n, char *out, size_t outlen,
		    int plus_space);

/* Value of `key` in a raw query string ("a=1&name=x%20y"), decoded.
 * 1 found, 0 absent, -EINVAL malformed (bad escape, NUL), -ENAMETOOLONG. */
int api_query_get(const char *query, const char *key, char *out,
		  size_t outlen);

#endif
