/*
 * server_probe.h — a test entry point into the router of api/server.c, for
 * fuzz/route.c: it routes a raw request target the way the request handler
 * does, without a connection or a store. Not part of the server's interface.
 */
#ifndef SIEVEFS_API_SERVER_PROBE_H
#define SIEVEFS_API_SERVER_PROBE_H

#include <stddef.h>
#include <stdint.h>

/* Routes `target` (raw, still percent-encoded, with any "?query") for
 * `method`. Returns 0 with the route's key (e.g. "nodes/#/children") in key
 * and its id segment in *id (0 if none); 1 when the router answers an error
 * (400, 404 or 405; the error body is built, then dropped); -ENOMEM. */
int api_server_route_probe(const char *target, const char *method,
			   char *key, size_t keylen, int64_t *id);

#endif
