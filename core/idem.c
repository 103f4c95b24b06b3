/*
 * idem.c — core/idem.h over store/idem.c: the server's idempotency keys,
 * unchanged but for the record types.
 */
#include <string.h>

#include "core/idem.h"
#include "store/store.h"

int core_idem_key_ok(const char *key)
{
	return store_idem_key_ok(key);
}

int core_idem_get(store *st, const char *user, const char *key,
		  struct core_idem_row *out)
{
	struct store_idem_answer a;
	int rc = store_idem_lookup(st, user, key, &a);

	memset(out, 0, sizeof(*out));
	if (rc)
		return rc;
	out->status = a.status;
	memcpy(out->ctype, a.ctype, sizeof(out->ctype));
	out->body = a.body;
	out->len = a.len;
	out->has_body = a.has_body;
	return 0;
}

void core_idem_arm(store *st, const char *user, const char *key)
{
	store_idem_arm(st, user, key);
}

static int state_of(int s)
{
	return s == STORE_IDEM_RECORDED ? CORE_IDEM_RECORDED :
	       s == STORE_IDEM_TAKEN ? CORE_IDEM_TAKEN : CORE_IDEM_NONE;
}

int core_idem_state(void)
{
	return state_of(store_idem_state());
}

int core_idem_disarm(void)
{
	return state_of(store_idem_disarm());
}

int core_idem_answer(store *st, const char *user, const char *key,
		     int status, const char *ctype, const char *body,
		     size_t len)
{
	return store_idem_answer(st, user, key, status, ctype, body, len);
}

int core_idem_sweep(store *st, int64_t age_ns, int64_t *n)
{
	return store_idem_sweep(st, store_now_ns() - age_ns, n);
}
