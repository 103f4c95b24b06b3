/*
 * auth.h — who is asking: the server's users, their API tokens and the web
 * app's sessions, as operations of core/ over the catalog (store/users.c,
 * store/sessions.c). api/ authenticates every request, signs in and out,
 * and manages tokens through these, never through store/.
 *
 * Design: a token is "svf_" + 64 hex digits and a session id 64 hex
 * digits; only their SHA-256 is in the catalog, so nothing one server
 * process holds is needed by another. The per-request checks
 * (core_auth_token, core_auth_session) are one cached, indexed statement
 * each — a call straight into store/, no extra query — and record a
 * token's last use at most once a minute. A session is tied to the token
 * that made it: revoking the token ends its sessions.
 *
 * The handle is the store a backend serves (core_local_store), or one an
 * admin command opened with core_auth_admin_open beside a running owner.
 *
 * Layers (docs/design.md §2.1): the server (api/) calls these instead of
 * store/, which they call; store/ calls nothing here. The handle is the
 * opaque store of core/records.h, which callers only pass back.
 *
 * Errors: 0 or a negative errno; -EACCES for a malformed, unknown,
 * revoked or expired secret (one answer for all, so a guess learns
 * nothing); -EINVAL for a bad name. Thread-safe; every call blocks on the
 * catalog. No secret goes to a log line.
 */
#ifndef SIEVEFS_CORE_AUTH_H
#define SIEVEFS_CORE_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"

/* 1 if `name` may name a user: 1-64 of A-Z a-z 0-9 . _ -, starting with a
 * letter or digit. */
int core_user_valid(const char *name);
/* 1 if `name` may name a token: at most STORE_TOKEN_NAME_MAX bytes of
 * valid UTF-8 without control characters ("" is valid: no name). */
int core_token_name_valid(const char *name);

/* The user of a valid token into user (STORE_USER_MAX + 1 bytes) and the
 * token's id into *id (may be NULL); records its use. 0 or -EACCES, or
 * another -errno when the catalog cannot answer. */
int core_auth_token(store *st, const char *token, char *user, int64_t *id);
/* The same for a session id (the web app's cookie): *token is the id of
 * the token that made it. */
int core_auth_session(store *st, const char *sid, char *user,
		      int64_t *token);

/* Leases up to `want` requests of user's budget (burst, per_s a second)
 * from the catalog, shared by every server on it: *got leased, *left in
 * the bucket after (store_rate_lease). One write. 0 or -errno. */
int core_rate_lease(store *st, const char *user, double burst, double per_s,
		    double want, double *got, double *left);

/* Signs in with `token`: a new session valid ttl_ns, its id into sid
 * (STORE_SESSION_LEN + 1 bytes), the user into user. -EACCES as above. */
int core_session_create(store *st, const char *token, int64_t ttl_ns,
			char *sid, char *user);
/* Signs out: ends session sid; 0 also when there was none. */
int core_session_end(store *st, const char *sid);

/* Makes a token for `user` (creating the user) named `name` (NULL or "":
 * none): its text into token (STORE_TOKEN_LEN + 1 bytes, shown once,
 * never stored), its row as the catalog has it into *out (may be NULL).
 * -EINVAL for a bad user or token name, -EIO without randomness. */
int core_token_create(store *st, const char *user, const char *name,
		      char *token, struct store_token *out);
/* The unrevoked tokens of `user`, newest first; or, user NULL, every
 * token by id (the admin's list). free(*out). */
int core_token_list(store *st, const char *user, struct store_token **out,
		    size_t *n);
/* Revokes token id and ends its sessions: with user non-NULL only a token
 * of that user (-ENOENT otherwise, also for another user's); user NULL
 * (the admin) any token, twice is fine. -ENOENT: no such token. */
int core_token_revoke(store *st, const char *user, int64_t id);

/* For `sievefs token`: the catalog of the store cfg names (core/backend.h:
 * DIR/catalog.db, or cfg->catalog, whose schema is created or upgraded),
 * opened beside a running owner (no lock, no recovery). -errno with a
 * reason in msg (never the catalog's password). Close with
 * core_auth_admin_close (NULL is a no-op). */
struct core_store_cfg;
int core_auth_admin_open(const struct core_store_cfg *cfg, store **out,
			 char *msg, size_t msglen);
void core_auth_admin_close(store *st);

#endif
