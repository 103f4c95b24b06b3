/*
 * util.h — small pure helpers every layer above store/ may use: the hex
 * text of a content hash and the wall clock. No state, no I/O beyond
 * reading the clock, never fails. They are store/'s store_sha_hex and
 * store_now_ns (store/ calls nothing above it, so the definition is
 * there), under the name the server, the remote client and fs/ may call.
 */
#ifndef SIEVEFS_CORE_UTIL_H
#define SIEVEFS_CORE_UTIL_H

#include <stdint.h>

#include "core/records.h"

/* The 64 lowercase hex digits of sha and a NUL into hex. */
void core_sha_hex(const unsigned char sha[STORE_SHA_LEN], char hex[65]);
/* Now, CLOCK_REALTIME, in nanoseconds since the epoch. */
int64_t core_now_ns(void);

#endif
