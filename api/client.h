/*
 * client.h — remote mode: a `struct backend` (core/backend.h) whose
 * operations are requests to a sievefs server (docs/api.md), with the
 * client caches of cache/ in front: sample bytes on local disk by content
 * hash, metadata for a short TTL.
 *
 * Errors are those a local mount gives: the server's JSON errno name when it
 * sends one, else 401/403 → -EACCES, 404 → -ENOENT, anything else -EIO
 * (network errors included, after the retries). Every failed request writes
 * one line to the daemon log (core/log.h).
 *
 * Threads: every op may be called from any thread; each thread gets its own
 * curl easy handle, and all share one connection/DNS/TLS-session cache.
 * Not fork-safe: open it after fuse_daemonize(), as fs/main.c does.
 */
#ifndef SIEVEFS_API_CLIENT_H
#define SIEVEFS_API_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"

/* What a commit sends (README "Remote mode"): full = the bytes; meta = only
 * metadata, the bytes stay pinned in this machine's cache; thumbnails = as
 * meta, plus a JPEG copy whose longest side is 128 px. */
enum api_upload { API_UPLOAD_FULL = 0, API_UPLOAD_META, API_UPLOAD_THUMBNAILS };

struct api_client_opts {
	const char *url;          /* http(s)://HOST:PORT; http only on loopback */
	const char *token;        /* svf_...; copied */
	const char *cafile;       /* https: CA file to trust, or NULL (the
	                           * system's store); copied */
	const char *cache_dir;    /* blob cache directory (created) */
	int cache_per_user;       /* 1: cache_dir is a root holding one cache
	                           * per server and user (the default; see
	                           * open_user_cache in client.c) */
	uint64_t cache_size;      /* bytes of evictable cached blobs */
	double meta_ttl;          /* seconds metadata responses are reused */
	enum api_upload upload;
};

/* 1 if `url` looks like a server URL (http:// or https://, any case),
 * else 0. */
int api_is_url(const char *s);

/* Checks a server URL as libcurl parses it, before anything is sent or
 * resolved: scheme http or https, a host, no user@ part, no ?query or
 * #fragment, and plain http only to a literal loopback host (an IPv4
 * address in 127.0.0.0/8, [::1], or localhost; never a name that only
 * looks like one, such as 127.0.0.1.example). 0, or -EINVAL (-ENOMEM)
 * with the reason in msg. */
int api_url_check(const char *url, char *msg, size_t msglen);

/* Makes a remote backend. Does not contact the server (see
 * api_client_check), except with o->cache_per_user: then it asks who the
 * token's user is (api_client_check, its errors and messages) to open that
 * user's cache. Returns 0 or -errno with a reason in msg; free with
 * be->ops->destroy(be). */
int api_client_open(const struct api_client_opts *o, struct backend **out,
		    char *msg, size_t msglen);

/* Contacts the server with the token: GET /v1/whoami and /v1/datasets.
 * 0 and the token's user in `user`, or -errno with a message for the
 * terminal in msg (unreachable server, bad/revoked token, ...). Blocks up to
 * the connect timeout times the retries. */
int api_client_check(struct backend *be, char *user, size_t userlen,
		     char *msg, size_t msglen);

#endif
