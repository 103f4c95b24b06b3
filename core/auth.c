/*
 * auth.c — core/auth.h over store/'s users, tokens and sessions. The
 * per-request checks are a direct call into store/ (its cached statement):
 * this layer adds no query to the hot path. Token creation reads the new
 * row back, so the caller shows what the catalog holds.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/auth.h"
#include "core/backend.h"
#include "core/util.h"
#include "store/store.h"

int core_user_valid(const char *name)
{
	return store_user_valid(name);
}

int core_token_name_valid(const char *name)
{
	return store_token_name_valid(name);
}

int core_auth_token(store *st, const char *token, char *user, int64_t *id)
{
	return store_token_auth(st, token, user, id);
}

int core_auth_session(store *st, const char *sid, char *user, int64_t *token)
{
	return store_session_auth(st, sid, user, token);
}

int core_rate_lease(store *st, const char *user, double burst, double per_s,
		    double want, double *got, double *left)
{
	return store_rate_lease(st, user, burst, per_s, want, core_now_ns(),
				got, left);
}

int core_session_create(store *st, const char *token, int64_t ttl_ns,
			char *sid, char *user)
{
	return store_session_create(st, token, ttl_ns, sid, user);
}

int core_session_end(store *st, const char *sid)
{
	return store_session_delete(st, sid);
}

int core_token_create(store *st, const char *user, const char *name,
		      char *token, struct store_token *out)
{
	struct store_token *v = NULL;
	int64_t id = 0;
	size_t n = 0;
	int rc = store_token_create_named(st, user, name, token, &id);

	if (rc || !out)
		return rc;
	/* the row as the catalog has it (its time, its name); if it cannot
	 * be read back now, what was asked for */
	memset(out, 0, sizeof(*out));
	out->id = id;
	out->created_ns = core_now_ns();
	snprintf(out->user, sizeof(out->user), "%s", user);
	snprintf(out->name, sizeof(out->name), "%s", name ? name : "");
	if (!store_token_list_user(st, user, &v, &n))
		for (size_t i = 0; i < n; i++)
			if (v[i].id == id)
				*out = v[i];
	free(v);
	return 0;
}

int core_token_list(store *st, const char *user, struct store_token **out,
		    size_t *n)
{
	return user ? store_token_list_user(st, user, out, n) :
		      store_token_list(st, out, n);
}

int core_token_revoke(store *st, const char *user, int64_t id)
{
	return user ? store_token_revoke_own(st, user, id) :
		      store_token_revoke(st, id);
}

int core_auth_admin_open(const struct core_store_cfg *cfg, store **out,
			 char *msg, size_t msglen)
{
	return store_open_catalog(cfg->dir, cfg->catalog, STORE_OPEN_ADMIN,
				  out, msg, msglen);
}

void core_auth_admin_close(store *st)
{
	store_close(st);
}
