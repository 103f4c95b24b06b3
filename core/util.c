/*
 * util.c — the helpers of core/util.h for the layers above core/, which
 * include nothing of store/: each is store/'s own function (store/blob.c),
 * so a hash has one hex writer and the clock one reading, whichever layer
 * asks. Pure, safe from any thread.
 */
#include "core/util.h"
#include "store/store.h"

void core_sha_hex(const unsigned char sha[STORE_SHA_LEN], char hex[65])
{
	store_sha_hex(sha, hex);
}

int64_t core_now_ns(void)
{
	return store_now_ns();
}
