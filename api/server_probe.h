/*
 * server_probe.h — a test entry point into the router of
 * api/server_http.c, for fuzz/route.c: it routes a raw request target the
 * way the request handler does, without a connection or a store; and
 * api_server_start/stop, the
 * daemon of `sievefs serve` without its command line and signals, which
 * api_serve_cli and fuzz/http.c use. Not part of the server's interface.
 */
#ifndef SIEVEFS_API_SERVER_PROBE_H
#define SIEVEFS_API_SERVER_PROBE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Routes `target` (raw, still percent-encoded, with any "?query") for
 * `method`. Returns 0 with the route's key (e.g. "nodes/#/children") in key
 * and its id segment in *id (0 if none); 1 when the router answers an error
 * (400, 404 or 405; the error body is built, then dropped); -ENOMEM. */
int api_server_route_probe(const char *target, const char *method,
			   char *key, size_t keylen, int64_t *id);

/* What `sievefs serve`'s options set; see its usage for the defaults. */
struct api_server_opts {
	const char *cert_pem, *key_pem;   /* both (https) or neither; PEM */
	double rate_n, rate_s;            /* --user-rate N/S, both >= 1 */
	unsigned per_addr;                /* --conns-per-addr */
	unsigned max_conns;               /* --max-conns; 0: the default */
	uint64_t upload_cap;              /* --upload-cap, bytes */
	unsigned grace;                   /* --orphan-grace, seconds */
	int quiet;                        /* 1: no libmicrohttpd error log */
	unsigned session_ttl;             /* --session-ttl, seconds; 0: the
	                                   * default */
	const char *web_root;             /* --web-root; NULL: none */
	const char *catalog;              /* --catalog(-file): the catalog's
	                                   * target (core_store_cfg); NULL:
	                                   * STORE/catalog.db */
	const char *blobs;                /* --blobs: the blob store's spec
	                                   * (core_store_cfg); NULL: local */
	const char *s3_key_id, *s3_secret;  /* the config file's S3
	                                   * credentials; NULL: the
	                                   * environment's */
};

struct api_server;

/* Opens (creating if missing) the store in `dir` and serves it on `sa`
 * (AF_INET or AF_INET6; port 0 picks a free one) from threads of its own,
 * which inherit the caller's signal mask; `o` and its PEMs must outlive the
 * server. 0 with *out (free with api_server_stop) and the bound port in
 * *port; or -errno with the reason on stderr, except -EADDRNOTAVAIL
 * (libmicrohttpd would not listen on sa), which the caller words. */
int api_server_start(const char *dir, const struct sockaddr *sa,
		     const struct api_server_opts *o, struct api_server **out,
		     unsigned *port);

/* Stops the server (answers under way are finished or cut) and closes its
 * store; frees h. NULL is a no-op. */
void api_server_stop(struct api_server *h);

#endif
