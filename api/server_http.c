/*
 * server_http.c — the HTTP plumbing of `sievefs serve` (api/server_int.h):
 * what happens to a request on libmicrohttpd before and after its route
 * runs.
 *
 * Request life cycle (MHD calls the access handler several times per
 * request): the URI-log callback allocates our `struct req` and keeps the raw
 * request target (before MHD decodes it, so "%2e%2e" and "%2F" are checked
 * by api_path_parse). On the first handler call we authenticate, route,
 * check ids and Content-Length against the route's cap, and open the body
 * sink; errors are answered right away, without reading the body. Body
 * chunks then go to the sink: JSON and request lines into a capped memory
 * buffer, selection and CSV texts and blobs into an unnamed staging file of
 * the store (blobs hashed on the way). The last call runs the route. The
 * completion callback frees everything, whatever happened.
 *
 * Auth: "Authorization: Bearer svf_…", checked against hashed tokens
 * (store/users.c). Failed checks are counted per client address in a small
 * fixed table (rl): more than RL_MAX failures within RL_WINDOW seconds and
 * every bad token from that address gets 429 until the window ends; valid
 * tokens still pass (see authenticate). Limits, so that one client cannot
 * starve the rest: each user has a token bucket of requests (rate,
 * --user-rate N/S: bursts of N, N per S seconds sustained; kept in the
 * catalog and shared by every server on it, spent from leases: rate_take),
 * and each
 * address at most --conns-per-addr connections at once (libmicrohttpd
 * closes the one over, before reading it). Over a limit: 429 + Retry-After.
 * In all at most --max-conns connections, and silent ones do not keep
 * their place: per-connection deadlines (srv_on_conn). A body length with two
 * readings is refused before the body is read (framing_bad: request
 * smuggling).
 *
 * Routing: the raw target's path, /v1/COLLECTION[/ID[/SUB]], becomes a
 * key ("nodes/#/children") looked up with the method in the route tables
 * of the routes_*.c files (tables[] below); no path: 404, no method on a
 * known path: 405. A target under /lightly is the lightly door's
 * (routes_lightly.c: its table, its auth by ?token= or signed URL). Any
 * other target whose first segment is not "v1" is the web app's
 * (web_target): /app/... is looked up by its whole path in web.c's
 * table, anything else is a static file; those are routed before any
 * authentication (their handlers authenticate when they need a user),
 * and every answer to them carries the app's headers (web_answer). /v1
 * is authenticated first, then routed, as before the app existed.
 *
 * A session cookie (web.c) authenticates like a token when there is no
 * Authorization header; a change by cookie must carry the server's own
 * Origin (CSRF), see cookie_auth.
 *
 * The failure count per address (rl) stays in this process: k servers
 * answer an address k × RL_MAX failures a window before 429 (a catalog
 * write per bad token would hand whoever sends them a write amplifier).
 *
 * Threads: everything here runs in MHD's threads; shared between them are
 * the limit tables (s->rl_lock; s->lease_lock, taken first, makes one
 * lease from the catalog at a time) and the count of open connections
 * (s->conns, atomic). A struct req belongs to its request's connection,
 * one thread at a time. Memory per connection is bounded: MHD's pool plus
 * at most one JSON body (1 MiB).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/server_int.h"
#include "api/server_probe.h"
#include "core/log.h"
#include "core/view.h"

#define DISCARD_MAX (16ull << 20) /* swallowed past a cap before closing */
#define RL_MAX 10                /* failed token checks per address... */
#define RL_WINDOW 60             /* ...per this many seconds */
#define RATE_SLICE 10.0          /* a lease: at most burst / this */

/* ---- responses ---- */

/* 1 while this thread runs srv_handler for a request of the web app (set
 * at each call's start: MHD queues a response only from inside the
 * handler, in the handler's thread), so that every answer to it, the
 * plumbing's errors too, carries the app's headers (srv_web_headers),
 * and no answer under /v1 changes. */
static _Thread_local int web_answer;

enum MHD_Result srv_send_resp(struct MHD_Connection *c, unsigned status,
			      struct MHD_Response *resp, const char *ctype)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	/* a keyed request's answer is kept, or replaced (server_idem.c) */
	resp = srv_idem_answer(c, &status, resp, ctype);
	if (!resp)
		return MHD_NO;
	if (web_answer)
		srv_web_headers(resp);
	if (ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					ctype);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Sends a malloc'd buffer (taken over, also on failure). */
enum MHD_Result srv_send_buf(struct MHD_Connection *c, unsigned status,
			     const char *ctype, char *buf, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, buf ? buf : (char *)"",
						buf ? MHD_RESPMEM_MUST_FREE :
						MHD_RESPMEM_PERSISTENT);
	if (!resp)
		free(buf);
	srv_idem_body(resp, buf, len);
	return srv_send_resp(c, status, resp, ctype);
}

struct MHD_Response *srv_json_resp(cJSON *j)
{
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;
	struct MHD_Response *resp;

	cJSON_Delete(j);
	if (!text)
		return NULL;
	resp = MHD_create_response_from_buffer(strlen(text), text,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp)
		free(text);
	srv_idem_body(resp, text, strlen(text));
	return resp;
}

enum MHD_Result srv_send_json(struct MHD_Connection *c, unsigned status,
			      cJSON *j)
{
	return srv_send_resp(c, status, srv_json_resp(j), "application/json");
}

enum MHD_Result srv_send_err(struct MHD_Connection *c, unsigned status,
			     const char *code, const char *ename,
			     const char *msg)
{
	return srv_send_json(c, status, api_error_json(code, ename, msg));
}

/* An error from an operation: -errno, with a reason when msg is set. */
enum MHD_Result srv_send_errno(struct MHD_Connection *c, int rc,
			       const char *msg)
{
	const char *code;
	unsigned status = (unsigned)api_status_for_errno(rc, &code);

	return srv_send_err(c, status, code, api_errno_name(rc),
			    msg && *msg ? msg : strerror(rc < 0 ? -rc : rc));
}

enum MHD_Result srv_send_empty(struct MHD_Connection *c, unsigned status)
{
	return srv_send_buf(c, status, NULL, NULL, 0);
}

/* Sends a resource encoded by `enc`, or the encoder's error. */
enum MHD_Result srv_send_obj(struct MHD_Connection *c, unsigned status,
			     int rc, cJSON *j)
{
	return rc ? srv_send_errno(c, rc, NULL) : srv_send_json(c, status, j);
}

/* 200 with j (taken over) and its validator. */
enum MHD_Result srv_send_tagged(struct MHD_Connection *c, cJSON *j,
				const char *etag)
{
	struct MHD_Response *resp = srv_json_resp(j);

	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	return srv_send_resp(c, MHD_HTTP_OK, resp, "application/json");
}

/* 304 Not Modified: no body, the validator again (RFC 9110 15.4.5). */
enum MHD_Result srv_send_not_modified(struct MHD_Connection *c,
				      const char *etag)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(0, (char *)"",
						MHD_RESPMEM_PERSISTENT);

	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	return srv_send_resp(c, MHD_HTTP_NOT_MODIFIED, resp, NULL);
}

/* 1 if the request's If-None-Match names etag ("*" too), else 0. A list
 * of validators is allowed; weak ones ("W/...") compare by their opaque
 * part, as RFC 9110 13.1.2 asks for If-None-Match. */
int srv_none_match_hit(struct MHD_Connection *c, const char *etag)
{
	const char *h = MHD_lookup_connection_value(
		c, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	size_t len = strlen(etag);

	while (h && *h) {
		size_t n;
		while (*h == ' ' || *h == '\t' || *h == ',')
			h++;
		if (!strncmp(h, "W/", 2))
			h += 2;
		n = strcspn(h, ", \t");
		if ((n == 1 && *h == '*') || (n == len && !memcmp(h, etag, n)))
			return 1;
		h += n;
	}
	return 0;
}

enum MHD_Result srv_send_text(struct MHD_Connection *c, int rc,
			      const char *ctype, char *text, size_t len)
{
	if (rc)
		return srv_send_errno(c, rc, NULL);
	return srv_send_buf(c, MHD_HTTP_OK, ctype, text, len);
}

/* ---- limits: failed token checks per address, requests per user ---- */

static void client_addr(struct MHD_Connection *c, char *out, size_t len)
{
	const union MHD_ConnectionInfo *ci =
		MHD_get_connection_info(c, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	socklen_t sl = sizeof(struct sockaddr_in6);

	snprintf(out, len, "?");
	if (!ci || !ci->client_addr)
		return;
	if (ci->client_addr->sa_family == AF_INET)
		sl = sizeof(struct sockaddr_in);
	getnameinfo(ci->client_addr, sl, out, (socklen_t)len, NULL, 0,
		    NI_NUMERICHOST);
}

static uint32_t addr_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/* Seconds on a clock that never jumps (limits are about durations). */
static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The slot of key in a table of n (claiming the stalest of a few probed
 * slots for a new key: a table full of keys forgets the idlest). Call
 * with the table's lock held. */
static struct rl_slot *rl_find(struct rl_slot *tab, size_t n,
			       const char *key, double now, int *fresh)
{
	uint32_t h = addr_hash(key);
	struct rl_slot *victim = NULL;

	*fresh = 0;
	for (int i = 0; i < 8; i++) {
		struct rl_slot *e = &tab[(h + (uint32_t)i) % n];
		if (e->used && !strcmp(e->key, key))
			return e;
		if (!victim || !e->used || (victim->used && e->last < victim->last))
			victim = e;
	}
	snprintf(victim->key, sizeof(victim->key), "%s", key);
	victim->used = 1;
	victim->start = victim->last = now;
	victim->count = 0;
	*fresh = 1;
	return victim;
}

/* Counts one failed token check from addr. Returns 0, or the seconds
 * until its window ends when the address is over RL_MAX failures. */
static unsigned rl_fail(struct srv *s, const char *addr)
{
	double now = mono_now();
	unsigned wait = 0;
	int fresh;

	pthread_mutex_lock(&s->rl_lock);
	struct rl_slot *e = rl_find(s->rl, RL_SLOTS, addr, now, &fresh);
	if (now - e->start >= RL_WINDOW) {
		e->start = now;
		e->count = 0;
	}
	e->last = now;
	if (++e->count > RL_MAX)
		wait = (unsigned)(e->start + RL_WINDOW - now) + 1;
	pthread_mutex_unlock(&s->rl_lock);
	return wait;
}

/* Takes one request from the user's budget: a token bucket in the
 * catalog (s->rate_n requests, refilled at rate_n per rate_s seconds),
 * shared by every server on it (core_rate_lease). A request spends a
 * token this server leased before (e->tokens), so a listing writes
 * nothing; when none is left, one lease of up to a tenth of the burst
 * (RATE_SLICE) is taken from the catalog, one at a time per server
 * (lease_lock, not held with rl_lock). An empty bucket says when it holds
 * a request again; until then this server refuses that user without
 * asking (e->retry), as no server can lease it sooner.
 *
 * The bound, for k servers: in any span of t seconds a user is admitted
 * at most rate_n + t × rate_n / rate_s requests (the bucket's own
 * arithmetic, exact in the catalog) plus what the servers held leased and
 * unspent at the span's start, at most k × (slice + 1) with slice =
 * rate_n / RATE_SLICE: with the defaults (20000/10, 2 servers) 20,000 +
 * 2,000 a second + 4,002. A lease
 * left unspent on one server is not given back (the user's requests on
 * the others find less): that, not more, is the cost of the slices.
 * When the catalog cannot take the lease (a full disk, a read-only
 * catalog), this server grants itself the slice and says so in the log:
 * limits go on per server rather than every request being refused.
 *
 * Returns 0, or the seconds until the bucket holds a request again. */
static unsigned rate_take(struct srv *s, const char *user)
{
	double now = mono_now(), per_s = s->rate_n / s->rate_s;
	double want = s->rate_n / RATE_SLICE, got = 0, left = 0;
	unsigned wait = 0;
	int fresh, first = 0, rc;
	struct rl_slot *e;

	if (want < 1)
		want = 1;
	pthread_mutex_lock(&s->rl_lock);
	e = rl_find(s->rate, RATE_SLOTS, user, now, &fresh);
	if (fresh) {
		e->tokens = 0;
		e->retry = 0;
		e->over = 0;
	}
	e->last = now;
	if (e->tokens >= 1.0) {
		e->tokens -= 1.0;
		e->over = 0;
		pthread_mutex_unlock(&s->rl_lock);
		return 0;
	}
	if (now < e->retry) {
		wait = (unsigned)(e->retry - now) + 1;
		pthread_mutex_unlock(&s->rl_lock);
		return wait;
	}
	pthread_mutex_unlock(&s->rl_lock);

	pthread_mutex_lock(&s->lease_lock);
	/* another thread of this server may have leased meanwhile */
	pthread_mutex_lock(&s->rl_lock);
	e = rl_find(s->rate, RATE_SLOTS, user, now, &fresh);
	if (!fresh && e->tokens >= 1.0) {
		e->tokens -= 1.0;
		e->over = 0;
		pthread_mutex_unlock(&s->rl_lock);
		pthread_mutex_unlock(&s->lease_lock);
		return 0;
	}
	pthread_mutex_unlock(&s->rl_lock);
	rc = core_rate_lease(s->st, user, s->rate_n, per_s, want, &got, &left);
	if (rc) {
		log_warn("cannot lease requests of user '%s' from the catalog"
			 " (%s): limiting them on this server alone", user,
			 strerror(-rc));
		got = want;
	}
	now = mono_now();
	pthread_mutex_lock(&s->rl_lock);
	e = rl_find(s->rate, RATE_SLOTS, user, now, &fresh);
	if (fresh) {
		e->tokens = 0;
		e->over = 0;
	}
	e->tokens += got;
	e->last = now;
	e->retry = 0;
	if (e->tokens >= 1.0) {
		e->tokens -= 1.0;
		e->over = 0;
	} else {
		double need = (1.0 - (left > 0 ? left : 0)) / per_s;
		e->retry = now + need;
		wait = (unsigned)need + 1;
		first = !e->over;
		e->over = 1;
	}
	pthread_mutex_unlock(&s->rl_lock);
	pthread_mutex_unlock(&s->lease_lock);
	if (first)      /* once per episode, not per refused request */
		log_warn("user '%s' is over --user-rate %g/%g: answering 429",
			 user, s->rate_n, s->rate_s);
	return wait;
}

/* 429 with Retry-After (RFC 6585, RFC 9110 10.2.3). */
static enum MHD_Result send_429(struct MHD_Connection *c, unsigned wait,
				const char *msg)
{
	char text[32];
	struct MHD_Response *resp =
		srv_json_resp(api_error_json("rate_limited", "EAGAIN", msg));

	if (!resp)
		return MHD_NO;
	snprintf(text, sizeof(text), "%u", wait);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, text);
	return srv_send_resp(c, MHD_HTTP_TOO_MANY_REQUESTS, resp,
			     "application/json");
}

enum MHD_Result srv_refuse_secret(struct srv *s, struct MHD_Connection *c,
				  const char *what, const char *msg)
{
	char addr[64], text[160];
	unsigned wait;

	client_addr(c, addr, sizeof(addr));
	wait = rl_fail(s, addr);
	log_warn("rejected %s from %s", what, addr);
	if (!wait)
		return srv_send_err(c, MHD_HTTP_UNAUTHORIZED, "unauthorized",
				    "EACCES", msg);
	snprintf(text, sizeof(text), "too many failed token checks from this"
		 " address: retry in %u s (valid tokens are not affected)",
		 wait);
	return send_429(c, wait, text);
}

/* 503 for a token or session the catalog could not check (it is down or
 * unreachable: rc): the message says so, and that a retry may pass. */
static enum MHD_Result send_catalog_down(struct MHD_Connection *c,
					 const char *what, int rc)
{
	char msg[192];

	snprintf(msg, sizeof(msg), "cannot check the %s now: the catalog did"
		 " not answer (%s); retry shortly, or tell the server's admin"
		 " if it lasts", what, strerror(rc < 0 ? -rc : rc));
	return srv_send_errno(c, -EBUSY, msg);
}

/* A session cookie instead of a token (the web app's, web.c): 0 with
 * r->user set, or 1 answered. A cookie sent by a browser is sent whoever
 * made the page that sends it, so a change (a method other than GET and
 * HEAD) by cookie must come from a page of this server: its Origin
 * (srv_origin_ok), or 403 before anything runs. */
static int cookie_auth(struct srv *s, struct req *r, struct MHD_Connection *c,
		       const char *sid, const char *method,
		       enum MHD_Result *ret)
{
	int rc = core_auth_session(s->st, sid, r->user, &r->token_id);

	if (rc == -EACCES) {
		*ret = srv_refuse_secret(s, c, "a session cookie",
					 "unknown, expired or revoked session:"
					 " sign in again");
		return 1;
	}
	if (rc) {
		*ret = send_catalog_down(c, "session", rc);
		return 1;
	}
	r->by_cookie = 1;
	if (strcmp(method, "GET") && strcmp(method, "HEAD") &&
	    !srv_origin_ok(s, c, 1)) {
		*ret = srv_send_csrf(c);
		return 1;
	}
	return 0;
}

/*
 * 0 with r->user set, or an answered error (401/403/429/503): returns 1.
 * A valid token always passes the failure count: one mistyped token in a
 * script must not lock out everyone behind the same address (a NAT'd
 * team). That costs a brute-forcer nothing: tokens hold 256 random bits,
 * and checking one is one SHA-256 and one indexed lookup whatever the
 * answer; the count only stops an address from being answered 401 (and
 * logged) at full speed. Session ids are checked the same way. The
 * Authorization header wins over a cookie. Authenticated requests then
 * draw on their user's request budget.
 */
int srv_authenticate(struct srv *s, struct req *r, struct MHD_Connection *c,
		     const char *method, enum MHD_Result *ret)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	const char *sid = h ? NULL :
			  MHD_lookup_connection_value(c, MHD_COOKIE_KIND,
						      SRV_COOKIE);
	if (sid) {
		if (cookie_auth(s, r, c, sid, method, ret))
			return 1;
	} else if (!h || strncmp(h, "Bearer ", 7)) {
		*ret = srv_send_err(c, MHD_HTTP_UNAUTHORIZED, "unauthorized",
				    "EACCES", r->web ? "not signed in (no"
				    " session cookie, no 'Authorization:"
				    " Bearer TOKEN' header)" : "missing"
				    " 'Authorization: Bearer TOKEN' header");
		return 1;
	} else {
		h += 7;
		while (*h == ' ')
			h++;
		return srv_auth_token(s, r, c, h, ret);
	}
	return srv_auth_user(s, r, c, r->user, ret);
}

int srv_auth_token(struct srv *s, struct req *r, struct MHD_Connection *c,
		   const char *token, enum MHD_Result *ret)
{
	int rc = core_auth_token(s->st, token, r->user, &r->token_id);

	if (rc == -EACCES) {
		*ret = srv_refuse_secret(s, c, "a token",
					 "unknown or revoked token");
		return 1;
	}
	if (rc) {
		*ret = send_catalog_down(c, "token", rc);
		return 1;
	}
	return srv_auth_user(s, r, c, r->user, ret);
}

int srv_auth_user(struct srv *s, struct req *r, struct MHD_Connection *c,
		  const char *user, enum MHD_Result *ret)
{
	char msg[160];
	unsigned wait;

	if (user != r->user)
		snprintf(r->user, sizeof(r->user), "%s", user);
	/* whose data: a mount's web door serves its owner's datasets to
	 * every valid token of the store (api/server.h) */
	snprintf(r->owner, sizeof(r->owner), "%s", s->owner ? s->owner : r->user);
	wait = rate_take(s, r->user);
	if (wait) {
		snprintf(msg, sizeof(msg), "user '%s' is over %g requests per"
			 " %g s: retry in %u s", r->user, s->rate_n, s->rate_s,
			 wait);
		*ret = send_429(c, wait, msg);
		return 1;
	}
	return 0;
}

/* ---- ownership ---- */

int srv_own_ds(struct srv *s, struct req *r, int64_t id,
	       struct store_dataset *d)
{
	return core_own_dataset(s->st, r->owner, id, d);
}

int srv_own_tag(struct srv *s, struct req *r, int64_t id,
		struct store_tag *t)
{
	return core_own_tag(s->st, r->owner, id, t, NULL);
}

int srv_own_node(struct srv *s, struct req *r, int64_t ino,
		 struct store_node *n)
{
	return core_own_node(s->st, r->owner, ino, n);
}

int srv_own_emb(struct srv *s, struct req *r, int64_t id,
		struct store_embedding *e)
{
	return core_own_embedding(s->st, r->owner, id, e);
}

int srv_blob_readable(struct srv *s, struct req *r,
		      const unsigned char sha[STORE_SHA_LEN])
{
	return core_blob_readable(s->blobs, r->owner, sha);
}

/* ---- bodies ---- */

/* The JSON body parsed, or NULL after answering 400. */
cJSON *srv_body_json(struct req *r, struct MHD_Connection *c,
		     enum MHD_Result *ret)
{
	cJSON *j;

	/* before cJSON turns "a\u0000b" into the C string "a" */
	if (r->buf && api_json_has_nul(r->buf, r->len)) {
		*ret = srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_json",
				    "EINVAL", "the body holds a NUL character"
				    " (\\u0000 or a 0 byte): names and texts"
				    " cannot contain one");
		return NULL;
	}
	j = r->buf ? cJSON_ParseWithLength(r->buf, r->len) : NULL;
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		*ret = srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_json",
				    "EINVAL", "the body is not a JSON object");
		return NULL;
	}
	return j;
}

enum MHD_Result srv_bad_field(struct MHD_Connection *c, const char *what)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "missing or mistyped field: %s", what);
	return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_json", "EINVAL", msg);
}

/* Maps the staged body file. *text is "" for an empty body. */
int srv_body_map(struct req *r, const char **text, size_t *len,
		 void **map)
{
	*map = NULL;
	*len = (size_t)r->got;
	*text = "";
	if (r->ioerr)
		return r->ioerr;
	if (!r->got)
		return 0;
	*map = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, r->fd, 0);
	if (*map == MAP_FAILED) {
		*map = NULL;
		return -errno;
	}
	*text = *map;
	return 0;
}

/* A query parameter into buf: 1 present, 0 absent, or answered 400 (-1). */
int srv_query(struct req *r, struct MHD_Connection *c, const char *key,
	      char *buf, size_t len, enum MHD_Result *ret)
{
	int q = api_query_get(r->query, key, buf, len);

	if (q == -ENAMETOOLONG) {
		*ret = srv_send_err(c, MHD_HTTP_BAD_REQUEST, "name_too_long",
				    "ENAMETOOLONG", "query parameter too long");
		return -1;
	}
	if (q < 0) {
		*ret = srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
				    "EINVAL", "malformed query string");
		return -1;
	}
	return q;
}

/* ---- routing ---- */

/* The route tables, looked through in this order (a key and method are in
 * one table at most). A new group of routes adds its table here. */
static const struct route *const tables[] = {
	srv_routes_data,
	srv_routes_ctl,
	srv_routes_app_v1,
	srv_routes_samples,
	srv_routes_media,
	/* issue 21 (i21a): selection inputs */
	srv_routes_inputs,
	srv_routes_columns,
	srv_routes_upload,
	/* issue 21 item 5 (x1): a tag's exports */
	srv_routes_exports,
};

#define NTABLES (sizeof(tables) / sizeof(tables[0]))

int srv_find_route(struct req *r, struct MHD_Connection *c,
		   const struct route *const *tabs, size_t ntabs,
		   const char *key, const char *method, enum MHD_Result *ret)
{
	int found_path = 0;

	for (size_t t = 0; t < ntabs && !r->rt; t++) {
		for (const struct route *e = tabs[t]; e->key; e++) {
			if (strcmp(e->key, key))
				continue;
			found_path = 1;
			if (!strcmp(e->method, method)) {
				r->rt = e;
				break;
			}
		}
	}
	/* HEAD is GET without the body (RFC 9110 9.3.2; libmicrohttpd sends
	 * no body for HEAD) wherever no route says otherwise */
	for (size_t t = 0; t < ntabs && !r->rt && found_path &&
			   !strcmp(method, "HEAD"); t++)
		for (const struct route *e = tabs[t]; e->key; e++)
			if (!strcmp(e->key, key) && !strcmp(e->method, "GET")) {
				r->rt = e;
				break;
			}
	if (r->rt)
		return 0;
	*ret = found_path ?
	       srv_send_err(c, MHD_HTTP_METHOD_NOT_ALLOWED,
			    "method_not_allowed", "EINVAL",
			    "method not allowed on this path") :
	       srv_send_err(c, MHD_HTTP_NOT_FOUND, "not_found", "ENOENT",
			    "no such route");
	return 1;
}

void srv_split_query(struct req *r)
{
	char *q = strchr(r->raw, '?');

	r->query = "";
	if (q) {
		*q = '\0';
		r->query = q + 1;
	}
}

/* 1 if the target is the web app's: a path whose first segment, decoded,
 * is not "v1". Targets that are no path (too long, "*", absolute-form)
 * stay with the v1 router, which refuses them as it always has. */
static int web_target(const struct req *r)
{
	char seg[8];

	if (r->raw_bad || r->raw[0] != '/')
		return 0;
	return api_pct_decode(r->raw + 1, strcspn(r->raw + 1, "/?"), seg,
			      sizeof(seg), 0) != 2 || strcmp(seg, "v1");
}

/* Routes a web app target (web_target): /app/... by its whole path in
 * srv_routes_app; the rest is a static file, GET or HEAD. 0 or answered
 * (1); nothing here authenticates. */
static int route_web(struct req *r, struct MHD_Connection *c,
		     const char *method, enum MHD_Result *ret)
{
	static const struct route *const app[] = { srv_routes_app };

	srv_split_query(r);
	if (!strncmp(r->raw, "/app/", 5) || !strcmp(r->raw, "/app"))
		return srv_find_route(r, c, app, 1, r->raw, method, ret);
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		*ret = srv_send_err(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				    "method_not_allowed", "EINVAL",
				    "method not allowed on this path");
		return 1;
	}
	r->rt = &srv_route_static;
	return 0;
}

/* Finds the route of a /v1 target: 0, or an answered error (1). */
static int route(struct req *r, struct MHD_Connection *c, const char *method,
		 enum MHD_Result *ret)
{
	char key[API_SEG_MAX * 2 + 8];

	srv_split_query(r);
	if (r->raw_bad || api_path_parse(r->raw, &r->path) ||
	    r->path.n < 2 || r->path.n > 4 || strcmp(r->path.seg[0], "v1")) {
		*ret = r->raw_bad || (r->path.n && r->path.n <= 4 &&
				      !api_path_parse(r->raw, &r->path)) ?
		       srv_send_err(c, MHD_HTTP_NOT_FOUND, "not_found",
				    "ENOENT", "no such route") :
		       srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
				    "EINVAL", "malformed path");
		return 1;
	}
	snprintf(key, sizeof(key), "%s%s%s%s", r->path.seg[1],
		 r->path.n >= 3 ? "/#" : "", r->path.n == 4 ? "/" : "",
		 r->path.n == 4 ? r->path.seg[3] : "");
	if (srv_find_route(r, c, tables, NTABLES, key, method, ret))
		return 1;
	if (r->path.n >= 3) {
		int bad = !strcmp(r->path.seg[1], "blobs") ?
			  api_sha_from_hex(r->path.seg[2], r->sha) :
			  api_id_parse(r->path.seg[2], &r->id);
		if (bad) {
			*ret = srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
					    "EINVAL", "bad id in path");
			return 1;
		}
	}
	/* a blob body under another collection (PUT /v1/nodes/{id}/bytes)
	 * names its hash in the query: known before the body, which is
	 * hashed, quota-checked and streamed as a blob PUT's is */
	if (r->rt->body == B_BLOB && strcmp(r->path.seg[1], "blobs")) {
		char hex[80];
		int q = srv_query(r, c, "sha256", hex, sizeof(hex), ret);

		if (q < 0)
			return 1;
		if (q == 0 || api_sha_from_hex(hex, r->sha)) {
			*ret = srv_bad_field(c, "sha256 (64 hex digits, in the"
					     " query)");
			return 1;
		}
	}
	return 0;
}

/* Routes a target of either family (the web app's, or /v1 after its
 * authentication): 0 with r->rt, or answered (1). */
static int dispatch(struct srv *s, struct req *r, struct MHD_Connection *c,
		    const char *method, enum MHD_Result *ret)
{
	if (srv_lightly_target(r)) {
		web_answer = 0;
		return srv_route_lightly(s, r, c, method, ret);
	}
	r->web = web_target(r);
	web_answer = r->web;
	if (r->web)
		return route_web(r, c, method, ret);
	return (s && srv_authenticate(s, r, c, method, ret)) ||
	       route(r, c, method, ret);
}

/* Opens the body sink of the route: 0, or an answered error (1). */
static int body_open(struct srv *s, struct req *r, struct MHD_Connection *c,
		     enum MHD_Result *ret)
{
	const char *cl = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_CONTENT_LENGTH);
	int rc;

	if (cl) {
		char *end;
		unsigned long long v = strtoull(cl, &end, 10);
		if (*end == '\0' && v > r->rt->cap) {
			r->over = 1;
			*ret = srv_send_err(c, MHD_HTTP_CONTENT_TOO_LARGE,
					    "too_large", "EFBIG",
					    "request body over the cap");
			return 1;
		}
	}
	if (r->rt->body != B_FILE && r->rt->body != B_BLOB)
		return 0;
	if (r->rt->body == B_BLOB && cl &&
	    srv_quota_refuses(s, r, c, strtoull(cl, NULL, 10), ret)) {
		r->over = 1;             /* answered: drop the body */
		return 1;
	}
	rc = core_blob_staging(s->blobs, r->staged, sizeof(r->staged));
	if (rc >= 0 && r->rt->body == B_FILE && r->staged[0]) {
		unlink(r->staged);       /* scratch only: never committed */
		r->staged[0] = '\0';
	}
	if (rc >= 0) {
		r->fd = rc;
		if (r->rt->body == B_BLOB &&
		    (!(r->md = EVP_MD_CTX_new()) ||
		     !EVP_DigestInit_ex(r->md, EVP_sha256(), NULL)))
			rc = -ENOMEM;
		/* an engine that takes the bytes as they come (S3): they
		 * travel while the body arrives, parts as they fill */
		if (rc >= 0 && r->rt->body == B_BLOB)
			rc = core_blob_stream_begin(s->blobs, &r->up);
	}
	if (rc < 0) {
		*ret = srv_send_errno(c, rc, NULL);
		return 1;
	}
	return 0;
}

/* Takes one chunk of body: 0, or over the cap (1). */
static int body_take(struct req *r, const char *data, size_t n)
{
	if (r->got + n > r->rt->cap || r->rt->body == B_NONE)
		return r->rt->body == B_NONE && n == 0 ? 0 : 1;
	r->got += n;
	if (r->rt->body == B_JSON || r->rt->body == B_LINE) {
		char *nb = realloc(r->buf, r->len + n + 1);
		if (!nb) {
			r->ioerr = -ENOMEM;
			return 0;
		}
		r->buf = nb;
		memcpy(r->buf + r->len, data, n);
		r->len += n;
		r->buf[r->len] = '\0';
		return 0;
	}
	if (r->md)
		EVP_DigestUpdate(r->md, data, n);
	if (r->up && !r->ioerr) {
		int rc = core_blob_stream_write(r->up, data, n);

		if (rc)
			r->ioerr = rc;
	}
	while (n && !r->ioerr) {
		ssize_t w = write(r->fd, data, n);
		if (w < 0) {
			if (errno != EINTR)
				r->ioerr = -errno;
			continue;
		}
		data += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * A NUL byte in the request line: libmicrohttpd 0.9 hands us its pieces as
 * C strings cut out of the line in place ("GET /v1/datasets\0/../x
 * HTTP/1.1" arrives as the target "/v1/datasets"), and says nothing. Its
 * parser (connection.c, parse_initial_message_line) splits the line where
 * it is, at the first space after the method and at the last space before
 * the version, so in a line without a NUL the target begins one byte after
 * the method's end and the version one byte after the target's end. Those
 * two pointer equalities are checked (nothing is read). Any other layout --
 * a NUL, two spaces, or a libmicrohttpd that copies the pieces -- refuses
 * the request: the failure is loud (every request 400), never silent.
 * Also HTTP/1.1 without Host (RFC 9112 3.2). 0, or answered 400 (1).
 */
static int request_line_bad(struct req *r, struct MHD_Connection *c,
			    const char *method, const char *version,
			    enum MHD_Result *ret)
{
	if (!r->target || r->target != method + strlen(method) + 1 ||
	    version != r->target + r->target_len + 1) {
		*ret = srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_request", "EINVAL",
				    "malformed request line (a NUL byte, or not"
				    " METHOD SP TARGET SP VERSION)");
		return 1;
	}
	if (strcmp(version, MHD_HTTP_VERSION_1_0) &&
	    !MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					 MHD_HTTP_HEADER_HOST)) {
		*ret = srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_request", "EINVAL",
				    "an HTTP/1.1 request needs a Host header");
		return 1;
	}
	return 0;
}

/* Sets how long connection c may stay silent before MHD closes it. */
static void conn_timeout(struct MHD_Connection *c, unsigned seconds)
{
	MHD_set_connection_option(c, MHD_CONNECTION_OPTION_TIMEOUT, seconds);
}

/* Whether the server is near its connection cap (see srv_on_conn). */
static int pressed(struct srv *s)
{
	return atomic_load(&s->conns) >= s->pressure;
}

/* What framing_bad counts while walking the headers. */
struct framing {
	unsigned cl, te;          /* Content-Length, Transfer-Encoding seen */
	int cl_bad, te_bad;       /* a value that is not digits / "chunked" */
};

static enum MHD_Result framing_count(void *cls, enum MHD_ValueKind kind,
				     const char *key, const char *value)
{
	struct framing *f = cls;

	(void)kind;
	if (!strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
		f->cl++;
		if (!value || !*value || strspn(value, "0123456789") !=
		    strlen(value))
			f->cl_bad = 1;
	} else if (!strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
		f->te++;
		if (!value || strcasecmp(value, "chunked"))
			f->te_bad = 1;
	}
	return MHD_YES;
}

/*
 * Request smuggling: a proxy in front may frame the body by another header
 * than libmicrohttpd does (MHD takes the first Content-Length, and ignores
 * Content-Length whenever Transfer-Encoding is present). So the body's
 * length must have exactly one reading (RFC 9112 6.1, 6.3): at most one
 * Content-Length, all digits; at most one Transfer-Encoding, exactly
 * "chunked"; never both. Anything else is 400, answered before the body is
 * read, which makes MHD close the connection (nothing left in it is taken
 * as a next request). 0, or answered (1).
 */
static int framing_bad(struct MHD_Connection *c, enum MHD_Result *ret)
{
	struct framing f = { 0 };

	MHD_get_connection_values(c, MHD_HEADER_KIND, framing_count, &f);
	if (f.cl <= 1 && f.te <= 1 && !(f.cl && f.te) && !f.cl_bad &&
	    !f.te_bad)
		return 0;
	*ret = srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_request",
			    "EINVAL", f.cl && f.te ? "both Content-Length"
			    " and Transfer-Encoding" : f.cl > 1 ? "more than"
			    " one Content-Length" : f.te > 1 ? "more than one"
			    " Transfer-Encoding" : f.cl_bad ? "a Content-Length"
			    " that is not a number" : "a Transfer-Encoding"
			    " other than chunked");
	return 1;
}

enum MHD_Result srv_handler(void *cls, struct MHD_Connection *c,
			    const char *url, const char *method,
			    const char *version, const char *data,
			    size_t *data_size, void **con_cls)
{
	struct srv *s = cls;
	struct req *r = *con_cls;
	enum MHD_Result ret = MHD_YES;

	(void)url;
	(void)version;
	web_answer = r && r->web;
	if (!r)
		return srv_send_err(c, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
				    "ENOMEM", "out of memory");
	if (r->over) {                /* answered 413: drop the rest */
		*data_size = 0;
		return MHD_YES;
	}
	if (!r->started) {
		r->started = 1;
		/* the head is in: now the body's deadline (srv_on_conn) */
		conn_timeout(c, HEAD_TIMEOUT);
		if (request_line_bad(r, c, method, version, &ret) ||
		    framing_bad(c, &ret) || dispatch(s, r, c, method, &ret))
			return ret;
		if (!r->web && core_local_view(s->base, r->owner, &r->be))
			return srv_send_errno(c, -ENOMEM, NULL);
		if (body_open(s, r, c, &ret))
			return ret;
		return MHD_YES;
	}
	if (*data_size) {
		if (r->discard || body_take(r, data, *data_size)) {
			/* Over the cap without a Content-Length saying so (chunked):
			 * MHD cannot answer before the body ends, so swallow a
			 * bounded amount more, then give up on the connection. */
			r->discard += *data_size;
			*data_size = 0;
			return r->discard > DISCARD_MAX ? MHD_NO : MHD_YES;
		}
		*data_size = 0;
		return MHD_YES;
	}
	if (r->discard)
		return srv_send_err(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "EFBIG",
				    "request body over the cap");
	if (r->ioerr && r->rt->body != B_FILE && r->rt->body != B_BLOB)
		return srv_send_errno(c, r->ioerr, NULL);
	return srv_idem_run(s, r, c, method);
}

void *srv_on_uri(void *cls, const char *uri, struct MHD_Connection *c)
{
	struct req *r = calloc(1, sizeof(*r));

	(void)cls;
	(void)c;
	if (!r)
		return NULL;
	r->fd = -1;
	r->target = uri;
	r->target_len = uri ? strlen(uri) : 0;
	if (!uri || r->target_len >= sizeof(r->raw))
		r->raw_bad = 1;
	else
		memcpy(r->raw, uri, r->target_len + 1);
	return r;
}

/*
 * Connections that send nothing must not hold the server (issue 16: 1,100
 * silent connections from 11 addresses, each under --conns-per-addr, shut
 * out every client for 120 s). MHD enforces the global cap (--max-conns,
 * kept below the descriptor limit, so the store always has descriptors)
 * and closes a connection silent for longer than its timeout; this
 * callback (MHD_OPTION_NOTIFY_CONNECTION, in the connection's own thread)
 * chooses the timeouts so that slots go to clients that talk:
 *   - a new connection has HEAD_TIMEOUT s to send its request head (MHD's
 *     daemon default), PRESSED_TIMEOUT s once a quarter of the cap or less
 *     is left — a real client sends its head at once, so the room that is
 *     left turns over every few seconds;
 *   - while a body arrives, the same HEAD_TIMEOUT between chunks (srv_handler);
 *   - between requests (srv_on_done) only a connection whose last request had a
 *     valid token may idle, IDLE_TIMEOUT s (libcurl's pool keeps them for
 *     118 s) — and only while there is no pressure: under pressure, idle
 *     connections are the first to go (PRESSED_TIMEOUT).
 * A client whose connection is closed while idle reconnects (libcurl does).
 */
void srv_on_conn(void *cls, struct MHD_Connection *c, void **socket_ctx,
		 enum MHD_ConnectionNotificationCode code)
{
	struct srv *s = cls;

	(void)socket_ctx;
	if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
		atomic_fetch_sub(&s->conns, 1);
		return;
	}
	if (atomic_fetch_add(&s->conns, 1) + 1 >= s->pressure)
		conn_timeout(c, PRESSED_TIMEOUT);
}

void srv_on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		 enum MHD_RequestTerminationCode toe)
{
	struct req *r = *con_cls;
	struct srv *s = cls;

	if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && c)
		conn_timeout(c, pressed(s) ? PRESSED_TIMEOUT :
			     r && r->user[0] ? IDLE_TIMEOUT : HEAD_TIMEOUT);
	if (!r)
		return;
	if (r->be)
		r->be->ops->destroy(r->be);
	if (r->fd >= 0)
		close(r->fd);
	if (r->staged[0])
		unlink(r->staged);
	core_blob_stream_abort(r->up);   /* not kept: its staging goes */
	EVP_MD_CTX_free(r->md);
	free(r->buf);
	free(r);
	*con_cls = NULL;
}

/* See server_probe.h. With no connection, MHD_queue_response() refuses the
 * error response route() builds, and it is freed. */
int api_server_route_probe(const char *target, const char *method,
			   char *key, size_t keylen, int64_t *id)
{
	struct req *r = srv_on_uri(NULL, target, NULL);
	enum MHD_Result ret;
	int rc;

	if (!r)
		return -ENOMEM;
	rc = dispatch(NULL, r, NULL, method, &ret);
	web_answer = 0;
	if (!rc) {
		snprintf(key, keylen, "%s", r->rt->key);
		*id = r->id;
	}
	free(r);
	return rc;
}
