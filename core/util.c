/*
 * util.c — the helpers of core/util.h: a hash as hex text, the clock.
 * Pure functions, safe from any thread.
 */
#include <time.h>

#include "core/util.h"

void core_sha_hex(const unsigned char sha[STORE_SHA_LEN], char hex[65])
{
	static const char digits[] = "0123456789abcdef";

	for (int i = 0; i < STORE_SHA_LEN; i++) {
		hex[2 * i] = digits[sha[i] >> 4];
		hex[2 * i + 1] = digits[sha[i] & 15];
	}
	hex[2 * STORE_SHA_LEN] = '\0';
}

int64_t core_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}
