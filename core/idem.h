/*
 * idem.h — idempotency keys of state-changing requests, for the server
 * (api/server_idem.c); part "deploy", issue 19 item 8. Implemented in
 * core/idem.c over store/idem.c, whose header comment holds the design:
 * a key is recorded in the catalog in the same transaction as the first
 * write the request commits, and its answer is stored right after, so a
 * retry of the request (same user, same key) finds what the first try did
 * instead of doing it again. Keys are per user.
 *
 * Layers: the server calls these, never store/. The claim is per thread:
 * arm, run the route in this thread, then read its state.
 *
 * Errors: 0 or a negative errno of the catalog.
 */
#ifndef SIEVEFS_CORE_IDEM_H
#define SIEVEFS_CORE_IDEM_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"

enum core_idem_state {
	CORE_IDEM_NONE = 0,       /* the route committed no write */
	CORE_IDEM_RECORDED = 1,   /* the key went in with the change */
	CORE_IDEM_TAKEN = 2,      /* another try holds the key: this try's
	                           * write was rolled back */
};

/* A stored key: status 0 = recorded with its change, no answer yet. */
struct core_idem_row {
	int status;
	char ctype[96];
	char *body;               /* malloc'd (free()), NUL-terminated */
	size_t len;
	int has_body;             /* 0: the answer had no body kept */
};

/* 1 if key has the accepted form (16..64 of [0-9A-Za-z_-]). */
int core_idem_key_ok(const char *key);
/* The row of (user, key): 0, -ENOENT, or -errno. */
int core_idem_get(store *st, const char *user, const char *key,
		  struct core_idem_row *out);
/* Arms the calling thread with (user, key) for st's next commit. */
void core_idem_arm(store *st, const char *user, const char *key);
/* The armed key's state so far (enum core_idem_state). */
int core_idem_state(void);
/* Disarms the calling thread: the key's state (enum core_idem_state). */
int core_idem_disarm(void);
/* Keeps the answer of a recorded key (body NULL: none). */
int core_idem_answer(store *st, const char *user, const char *key,
		     int status, const char *ctype, const char *body,
		     size_t len);
/* Forgets keys older than age_ns; how many into *n (may be NULL). */
int core_idem_sweep(store *st, int64_t age_ns, int64_t *n);

#endif
