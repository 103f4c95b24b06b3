/*
 * server.c — `sievefs serve`: the v1 HTTP API (docs/api.md) on
 * libmicrohttpd, over the embedded backend of core/; and `sievefs token`.
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
 * Every route runs the same operations a local mount does, through a
 * per-user view of one backend (core/view.h): one store, one sampling
 * runner. Ownership: a view checks the owner only for dataset ids, so every
 * route first resolves the dataset of the tag, node or embedding it names
 * and answers 404 unless the token's user owns it (no existence leak). A
 * blob is readable only when a node of the user references it.
 *
 * Revalidation: a folder listing carries an ETag built from the folder's
 * change counter (r_children); a request whose If-None-Match names it gets
 * 304 after auth, the ownership check and one indexed read, before any row
 * is listed or any JSON built.
 *
 * Auth: "Authorization: Bearer svf_…", checked against hashed tokens
 * (store/users.c). Failed checks are counted per client address in a small
 * fixed table (rl): more than RL_MAX failures within RL_WINDOW seconds and
 * every bad token from that address gets 429 until the window ends; valid
 * tokens still pass (see authenticate). Limits, so that one client cannot
 * starve the rest: each user has a token bucket of requests (rate,
 * --user-rate N/S: bursts of N, N per S seconds sustained), and each
 * address at most --conns-per-addr connections at once (libmicrohttpd
 * closes the one over, before reading it). Over a limit: 429 + Retry-After.
 * In all at most --max-conns connections, and silent ones do not keep
 * their place: per-connection deadlines (on_conn). A body length with two
 * readings is refused before the body is read (framing_bad: request
 * smuggling). Plain http listens only on loopback unless --insecure-http.
 *
 * Uploads no node names (PUT /v1/blobs without a commit): each user may
 * hold at most `upload_cap` bytes of them (UPLOAD_CAP, --upload-cap); a PUT
 * that would go over is answered 507 "upload_quota" and stores nothing,
 * checked from Content-Length before the body is read and again, exactly,
 * before the blob is kept (quota_lock serialises that check with the keep,
 * so parallel PUTs cannot add up past the cap). A sweep thread collects
 * those older than `grace` (ORPHAN_GRACE, --orphan-grace) every
 * sweep_every(grace) seconds (store_blob_sweep): the grace is the window
 * between a client's PUT and its commit; after it, the commit gets 409
 * blob_missing and the client sends the bytes again.
 *
 * Threads: MHD's internal thread pool (one epoll per thread, as many threads
 * as cores); handlers block on SQLite and disk I/O in those threads; one
 * sweep thread. State shared between threads: the backend (thread-safe),
 * the limit tables (rl_lock), the quota check (quota_lock) and the sweep's
 * stop flag (sweep_lock). Memory per connection is bounded: MHD's pool plus at most one
 * JSON body (1 MiB).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <openssl/evp.h>

#include "api/json.h"
#include "api/server.h"
#include "api/server_probe.h"
#include "core/backend.h"
#include "core/log.h"
#include "core/view.h"

#define RAW_MAX 8192                     /* request target, bytes */
#define CAP_JSON (1u << 20)
#define CAP_LINE 4096u
#define CAP_SELECTION (256ull << 20)
#define CAP_CSV (512ull << 20)
#define CAP_BLOB (64ull << 30)
#define DISCARD_MAX (16ull << 20) /* swallowed past a cap before closing */
#define PAGE_DEFAULT 1000
#define PAGE_MAX 10000
/* GnuTLS priorities (MHD_OPTION_HTTPS_PRIORITIES): TLS 1.2 and 1.3 only;
 * in 1.2 only forward-secret ECDHE key exchange with AEAD ciphers (no CBC,
 * no RSA key transport, no SHA-1 MACs); the server's order wins. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
	"-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:" \
	"-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"
#define UPLOAD_CAP (1ull << 30)   /* pending bytes per user, default */
#define PENDING_MAX 100000        /* pending blobs per user */
#define ORPHAN_GRACE 3600         /* seconds, default */
#define RL_SLOTS 1024
#define RL_MAX 10                /* failed token checks per address... */
#define RL_WINDOW 60             /* ...per this many seconds */
#define RATE_SLOTS 1024
#define RATE_DEFAULT "20000/10"  /* requests per seconds, per user */
#define CONNS_DEFAULT 128        /* concurrent connections per address */
#define MAX_CONNS_DEFAULT 1000   /* concurrent connections in all */
#define FD_SPARE 256             /* descriptors kept for the store, logs */
/* Connection deadlines, seconds without a byte moving (MHD's timeout is
 * one of inactivity): see on_conn. */
#define HEAD_TIMEOUT 10          /* to send a request head (or a TLS
                                  * handshake), and between body chunks */
#define PRESSED_TIMEOUT 2        /* the same, under pressure */
#define IDLE_TIMEOUT 120         /* an authenticated keep-alive, between
                                  * requests */

enum body { B_NONE, B_JSON, B_LINE, B_FILE, B_BLOB };

/* One key's state in a limit table (rl: by address, rate: by user). */
struct rl_slot {
	char key[STORE_USER_MAX + 64];
	int used;
	double start;        /* rl: window start (monotonic s) */
	double last;         /* last use; rate: last refill */
	int count;           /* rl: failures in the window */
	double tokens;       /* rate: requests left in the bucket */
	int over;            /* rate: the last request was refused */
};

struct srv {
	struct backend *base;
	store *st;
	uint64_t boot;                    /* random per start: in every ETag */
	double rate_n, rate_s;            /* --user-rate N/S */
	pthread_mutex_t rl_lock;          /* protects rl and rate */
	struct rl_slot rl[RL_SLOTS];
	struct rl_slot rate[RATE_SLOTS];
	uint64_t upload_cap;              /* pending bytes per user */
	unsigned grace;                   /* seconds before a sweep takes one */
	pthread_mutex_t quota_lock;       /* the cap's check + the blob's keep */
	pthread_mutex_t sweep_lock;       /* protects sweep_stop */
	pthread_cond_t sweep_cond;        /* signalled to stop the sweep */
	int sweep_stop;
	unsigned max_conns;               /* the global cap MHD enforces */
	unsigned pressure;                /* conns from which on_conn presses */
	atomic_uint conns;                /* open connections (on_conn) */
};

struct req;
typedef enum MHD_Result (*route_fn)(struct srv *, struct req *,
				    struct MHD_Connection *);

struct route {
	const char *key;          /* collection["/#"]["/sub"] */
	const char *method;
	route_fn fn;
	enum body body;
	uint64_t cap;
};

struct req {
	char raw[RAW_MAX];
	int raw_bad;              /* target too long, or none */
	const char *target;       /* MHD's request target (compared, never
	                           * read after on_uri) */
	size_t target_len;        /* its strlen */
	int started;
	const struct route *rt;
	struct api_path path;
	const char *query;        /* into raw, "" if none */
	int64_t id;               /* the id segment, 0 if none */
	unsigned char sha[STORE_SHA_LEN];   /* blob routes */
	char user[STORE_USER_MAX + 1];
	struct backend *be;       /* the user's view */
	/* body sink */
	uint64_t got;
	char *buf;
	size_t len;
	int fd;
	char staged[STORE_PATH_MAX];
	EVP_MD_CTX *md;
	int ioerr;                /* first write error, -errno */
	int over;                 /* Content-Length over the cap: answered */
	uint64_t discard;         /* bytes dropped past the cap (chunked) */
};

/* ---- responses ---- */

static enum MHD_Result send_resp(struct MHD_Connection *c, unsigned status,
				 struct MHD_Response *resp, const char *ctype)
{
	enum MHD_Result ret;

	if (!resp)
		return MHD_NO;
	if (ctype)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					ctype);
	ret = MHD_queue_response(c, status, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* Sends a malloc'd buffer (taken over, also on failure). */
static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status,
				const char *ctype, char *buf, size_t len)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(len, buf ? buf : (char *)"",
						buf ? MHD_RESPMEM_MUST_FREE :
						MHD_RESPMEM_PERSISTENT);
	if (!resp)
		free(buf);
	return send_resp(c, status, resp, ctype);
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status,
				 cJSON *j)
{
	char *text = j ? cJSON_PrintUnformatted(j) : NULL;

	cJSON_Delete(j);
	if (!text)
		return MHD_NO;
	return send_buf(c, status, "application/json", text, strlen(text));
}

static enum MHD_Result send_err(struct MHD_Connection *c, unsigned status,
				const char *code, const char *ename,
				const char *msg)
{
	return send_json(c, status, api_error_json(code, ename, msg));
}

/* An error from an operation: -errno, with a reason when msg is set. */
static enum MHD_Result send_errno(struct MHD_Connection *c, int rc,
				  const char *msg)
{
	const char *code;
	unsigned status = (unsigned)api_status_for_errno(rc, &code);

	return send_err(c, status, code, api_errno_name(rc),
			msg && *msg ? msg : strerror(rc < 0 ? -rc : rc));
}

static enum MHD_Result send_empty(struct MHD_Connection *c, unsigned status)
{
	return send_buf(c, status, NULL, NULL, 0);
}

/* Sends a resource encoded by `enc`, or the encoder's error. */
static enum MHD_Result send_obj(struct MHD_Connection *c, unsigned status,
				int rc, cJSON *j)
{
	return rc ? send_errno(c, rc, NULL) : send_json(c, status, j);
}

/* 200 with j (taken over) and its validator. */
static enum MHD_Result send_tagged(struct MHD_Connection *c, cJSON *j,
				   const char *etag)
{
	char *text = cJSON_PrintUnformatted(j);
	struct MHD_Response *resp;

	cJSON_Delete(j);
	if (!text)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(text), text,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	return send_resp(c, MHD_HTTP_OK, resp, "application/json");
}

/* 304 Not Modified: no body, the validator again (RFC 9110 15.4.5). */
static enum MHD_Result send_not_modified(struct MHD_Connection *c,
					 const char *etag)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(0, (char *)"",
						MHD_RESPMEM_PERSISTENT);

	if (resp)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	return send_resp(c, MHD_HTTP_NOT_MODIFIED, resp, NULL);
}

/* 1 if the request's If-None-Match names etag ("*" too), else 0. A list
 * of validators is allowed; weak ones ("W/...") compare by their opaque
 * part, as RFC 9110 13.1.2 asks for If-None-Match. */
static int none_match_hit(struct MHD_Connection *c, const char *etag)
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

static enum MHD_Result send_text(struct MHD_Connection *c, int rc,
				 const char *ctype, char *text, size_t len)
{
	if (rc)
		return send_errno(c, rc, NULL);
	return send_buf(c, MHD_HTTP_OK, ctype, text, len);
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

/* Takes one request from the user's token bucket (s->rate_n requests,
 * refilled at rate_n per rate_s seconds). Returns 0, or the seconds until
 * the bucket holds a request again. */
static unsigned rate_take(struct srv *s, const char *user)
{
	double now = mono_now(), per_s = s->rate_n / s->rate_s;
	unsigned wait = 0;
	int fresh, first = 0;

	pthread_mutex_lock(&s->rl_lock);
	struct rl_slot *e = rl_find(s->rate, RATE_SLOTS, user, now, &fresh);
	if (fresh) {
		e->tokens = s->rate_n;
		e->over = 0;
	}
	e->tokens += (now - e->last) * per_s;
	if (e->tokens > s->rate_n)
		e->tokens = s->rate_n;
	e->last = now;
	if (e->tokens >= 1.0) {
		e->tokens -= 1.0;
		e->over = 0;
	} else {
		wait = (unsigned)((1.0 - e->tokens) / per_s) + 1;
		first = !e->over;
		e->over = 1;
	}
	pthread_mutex_unlock(&s->rl_lock);
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
	cJSON *j = api_error_json("rate_limited", "EAGAIN", msg);
	char *body = j ? cJSON_PrintUnformatted(j) : NULL;
	struct MHD_Response *resp;

	cJSON_Delete(j);
	if (!body)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(body), body,
					       MHD_RESPMEM_MUST_FREE);
	if (!resp) {
		free(body);
		return MHD_NO;
	}
	snprintf(text, sizeof(text), "%u", wait);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, text);
	return send_resp(c, MHD_HTTP_TOO_MANY_REQUESTS, resp,
			 "application/json");
}

/*
 * 0 with r->user set, or an answered error (401/429/503): returns 1.
 * A valid token always passes the failure count: one mistyped token in a
 * script must not lock out everyone behind the same address (a NAT'd
 * team). That costs a brute-forcer nothing: tokens hold 256 random bits,
 * and checking one is one SHA-256 and one indexed lookup whatever the
 * answer; the count only stops an address from being answered 401 (and
 * logged) at full speed. Authenticated requests then draw on their user's
 * request budget.
 */
static int authenticate(struct srv *s, struct req *r, struct MHD_Connection *c,
			enum MHD_Result *ret)
{
	const char *h = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						    MHD_HTTP_HEADER_AUTHORIZATION);
	char addr[64], msg[160];
	unsigned wait;
	int rc;

	if (!h || strncmp(h, "Bearer ", 7)) {
		*ret = send_err(c, MHD_HTTP_UNAUTHORIZED, "unauthorized",
				"EACCES", "missing 'Authorization: Bearer"
				" TOKEN' header");
		return 1;
	}
	h += 7;
	while (*h == ' ')
		h++;
	rc = store_token_check(s->st, h, r->user);
	if (rc == -EACCES) {
		client_addr(c, addr, sizeof(addr));
		wait = rl_fail(s, addr);
		log_warn("rejected a token from %s", addr);
		if (wait) {
			snprintf(msg, sizeof(msg), "too many failed token"
				 " checks from this address: retry in %u s"
				 " (valid tokens are not affected)", wait);
			*ret = send_429(c, wait, msg);
		} else {
			*ret = send_err(c, MHD_HTTP_UNAUTHORIZED,
					"unauthorized", "EACCES",
					"unknown or revoked token");
		}
		return 1;
	}
	if (rc) {
		*ret = send_errno(c, -EBUSY, "cannot check the token now");
		return 1;
	}
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

static int own_ds(struct srv *s, struct req *r, int64_t id,
		  struct store_dataset *d)
{
	int rc = store_dataset_get_id(s->st, id, d);

	return !rc && strcmp(d->owner, r->user) ? -ENOENT : rc;
}

static int own_tag(struct srv *s, struct req *r, int64_t id,
		   struct store_tag *t)
{
	struct store_dataset d;
	int rc = store_tag_get_id(s->st, id, t);

	return rc ? rc : own_ds(s, r, t->dataset, &d);
}

static int own_node(struct srv *s, struct req *r, int64_t ino,
		    struct store_node *n)
{
	struct store_dataset d;
	int rc = store_node_get(s->st, ino, n);

	return rc ? rc : own_ds(s, r, n->dataset, &d);
}

static int own_emb(struct srv *s, struct req *r, int64_t id,
		   struct store_embedding *e)
{
	struct store_dataset d;
	int rc = store_embedding_get_id(s->st, id, e);

	return rc ? rc : own_ds(s, r, e->dataset, &d);
}

/* ---- bodies ---- */

/* The JSON body parsed, or NULL after answering 400. */
static cJSON *body_json(struct req *r, struct MHD_Connection *c,
			enum MHD_Result *ret)
{
	cJSON *j;

	/* before cJSON turns "a\u0000b" into the C string "a" */
	if (r->buf && api_json_has_nul(r->buf, r->len)) {
		*ret = send_err(c, MHD_HTTP_BAD_REQUEST, "bad_json", "EINVAL",
				"the body holds a NUL character (\\u0000 or a"
				" 0 byte): names and texts cannot contain one");
		return NULL;
	}
	j = r->buf ? cJSON_ParseWithLength(r->buf, r->len) : NULL;
	if (!cJSON_IsObject(j)) {
		cJSON_Delete(j);
		*ret = send_err(c, MHD_HTTP_BAD_REQUEST, "bad_json", "EINVAL",
				"the body is not a JSON object");
		return NULL;
	}
	return j;
}

static enum MHD_Result bad_field(struct MHD_Connection *c, const char *what)
{
	char msg[160];

	snprintf(msg, sizeof(msg), "missing or mistyped field: %s", what);
	return send_err(c, MHD_HTTP_BAD_REQUEST, "bad_json", "EINVAL", msg);
}

/* Maps the staged body file. *text is "" for an empty body. */
static int body_map(struct req *r, const char **text, size_t *len,
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
static int query(struct req *r, struct MHD_Connection *c, const char *key,
		 char *buf, size_t len, enum MHD_Result *ret)
{
	int q = api_query_get(r->query, key, buf, len);

	if (q == -ENAMETOOLONG) {
		*ret = send_err(c, MHD_HTTP_BAD_REQUEST, "name_too_long",
				"ENAMETOOLONG", "query parameter too long");
		return -1;
	}
	if (q < 0) {
		*ret = send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path", "EINVAL",
				"malformed query string");
		return -1;
	}
	return q;
}

/* ---- routes: misc ---- */

static enum MHD_Result r_whoami(struct srv *s, struct req *r,
				struct MHD_Connection *c)
{
	cJSON *j = cJSON_CreateObject();

	(void)s;
	if (j && !cJSON_AddStringToObject(j, "user", r->user)) {
		cJSON_Delete(j);
		j = NULL;
	}
	return send_json(c, MHD_HTTP_OK, j);
}

static enum MHD_Result r_statfs(struct srv *s, struct req *r,
				struct MHD_Connection *c)
{
	struct statvfs sv;
	cJSON *j = NULL;
	int rc = r->be->ops->statfs(r->be, &sv);

	(void)s;
	if (!rc)
		rc = api_statfs_to_json(&sv, &j);
	return send_obj(c, MHD_HTTP_OK, rc, j);
}

/* ---- routes: datasets ---- */

static enum MHD_Result send_dataset(struct MHD_Connection *c, unsigned st,
				    int rc, const struct store_dataset *d)
{
	cJSON *j = NULL;

	if (!rc)
		rc = api_dataset_to_json(d, &j);
	return send_obj(c, st, rc, j);
}

static enum MHD_Result r_datasets(struct srv *s, struct req *r,
				  struct MHD_Connection *c)
{
	struct store_dataset d, *v = NULL;
	char name[STORE_NAME_MAX + 1];
	enum MHD_Result ret;
	size_t n = 0;
	cJSON *j = NULL;
	int q = query(r, c, "name", name, sizeof(name), &ret), rc;

	(void)s;
	if (q < 0)
		return ret;
	if (q)
		return send_dataset(c, MHD_HTTP_OK,
				    r->be->ops->dataset_get(r->be, name, &d), &d);
	rc = r->be->ops->dataset_list(r->be, &v, &n);
	if (!rc)
		rc = api_list_to_json("datasets", v, n, sizeof(*v),
				      api_dataset_any, &j);
	free(v);
	return send_obj(c, MHD_HTTP_OK, rc, j);
}

/* Reads {"name": ...} of a create/rename body: 0, or answered (1). */
static int name_body(struct req *r, struct MHD_Connection *c, char *name,
		     size_t len, enum MHD_Result *ret)
{
	cJSON *j = body_json(r, c, ret);
	int rc;

	if (!j)
		return 1;
	rc = api_get_str(j, "name", name, len, 1);
	cJSON_Delete(j);
	if (rc == -ENAMETOOLONG) {
		*ret = send_errno(c, -EINVAL, "name too long");
		return 1;
	}
	if (rc) {
		*ret = bad_field(c, "name");
		return 1;
	}
	return 0;
}

static enum MHD_Result r_dataset_create(struct srv *s, struct req *r,
					struct MHD_Connection *c)
{
	struct store_dataset d;
	char name[STORE_NAME_MAX + 1], msg[BE_MSG] = "";
	enum MHD_Result ret;
	int rc;

	(void)s;
	if (name_body(r, c, name, sizeof(name), &ret))
		return ret;
	rc = r->be->ops->dataset_create(r->be, name, &d, msg);
	if (rc)
		return send_errno(c, rc, msg);
	return send_dataset(c, MHD_HTTP_CREATED, 0, &d);
}

static enum MHD_Result r_dataset(struct srv *s, struct req *r,
				 struct MHD_Connection *c)
{
	struct store_dataset d;

	return send_dataset(c, MHD_HTTP_OK, own_ds(s, r, r->id, &d), &d);
}

static enum MHD_Result r_dataset_rename(struct srv *s, struct req *r,
					struct MHD_Connection *c)
{
	struct store_dataset d;
	char name[STORE_NAME_MAX + 1], msg[BE_MSG] = "";
	enum MHD_Result ret;
	int rc = own_ds(s, r, r->id, &d);

	if (rc)
		return send_errno(c, rc, NULL);
	if (name_body(r, c, name, sizeof(name), &ret))
		return ret;
	rc = r->be->ops->dataset_rename(r->be, r->id, name, msg);
	if (rc)
		return send_errno(c, rc, msg);
	return send_dataset(c, MHD_HTTP_OK, own_ds(s, r, r->id, &d), &d);
}

/* PATCH datasets/#: {"tag_folders": "all"|"selected"} sets which folders
 * later tags get (core/backend.h); any other body is a rename. */
static enum MHD_Result r_dataset_patch(struct srv *s, struct req *r,
				       struct MHD_Connection *c)
{
	struct store_dataset d;
	char val[64], msg[BE_MSG] = "";
	enum MHD_Result ret;
	cJSON *j;
	int rc = own_ds(s, r, r->id, &d), has;

	if (rc)
		return send_errno(c, rc, NULL);
	if (!(j = body_json(r, c, &ret)))
		return ret;
	has = cJSON_HasObjectItem(j, "tag_folders");
	rc = has ? api_get_str(j, "tag_folders", val, sizeof(val), 1) : 0;
	cJSON_Delete(j);
	if (!has)
		return r_dataset_rename(s, r, c);
	if (rc == -ENAMETOOLONG)   /* refused below, with a reason */
		snprintf(val, sizeof(val), "(a value of over 63 bytes)");
	else if (rc)
		return bad_field(c, "tag_folders");
	rc = r->be->ops->dataset_set_tag_folders(r->be, r->id, val, msg);
	if (rc)
		return send_errno(c, rc, msg);
	return send_dataset(c, MHD_HTTP_OK, own_ds(s, r, r->id, &d), &d);
}

static enum MHD_Result r_dataset_delete(struct srv *s, struct req *r,
					struct MHD_Connection *c)
{
	struct store_dataset d;
	char msg[BE_MSG] = "";
	int rc = own_ds(s, r, r->id, &d);

	if (!rc)
		rc = r->be->ops->dataset_delete(r->be, r->id, msg);
	return rc ? send_errno(c, rc, msg) : send_empty(c, MHD_HTTP_NO_CONTENT);
}

/* ---- routes: tags ---- */

static enum MHD_Result send_tag(struct MHD_Connection *c, unsigned st, int rc,
				const struct store_tag *t)
{
	cJSON *j = NULL;

	if (!rc)
		rc = api_tag_to_json(t, &j);
	return send_obj(c, st, rc, j);
}

static enum MHD_Result r_tags(struct srv *s, struct req *r,
			      struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_tag t, *v = NULL;
	char name[STORE_NAME_MAX + 1];
	enum MHD_Result ret;
	size_t n = 0;
	cJSON *j = NULL;
	int rc = own_ds(s, r, r->id, &d), q;

	if (rc)
		return send_errno(c, rc, NULL);
	q = query(r, c, "name", name, sizeof(name), &ret);
	if (q < 0)
		return ret;
	if (q)
		return send_tag(c, MHD_HTTP_OK,
				r->be->ops->tag_get(r->be, r->id, name, &t), &t);
	rc = r->be->ops->tag_list(r->be, r->id, &v, &n);
	if (!rc)
		rc = api_list_to_json("tags", v, n, sizeof(*v), api_tag_any, &j);
	free(v);
	return send_obj(c, MHD_HTTP_OK, rc, j);
}

static enum MHD_Result r_tag_create(struct srv *s, struct req *r,
				    struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_tag t;
	char name[STORE_NAME_MAX + 1], msg[BE_MSG] = "";
	enum MHD_Result ret;
	int rc = own_ds(s, r, r->id, &d);

	if (rc)
		return send_errno(c, rc, NULL);
	if (name_body(r, c, name, sizeof(name), &ret))
		return ret;
	rc = r->be->ops->tag_create(r->be, r->id, name, &t, msg);
	/* a sampling run will replace the selection (msg says which): a
	 * conflict with the dataset's state, not a transient 503 to retry */
	if (rc == -EBUSY && *msg)
		return send_err(c, MHD_HTTP_CONFLICT, "run_active", "EBUSY", msg);
	if (rc)
		return send_errno(c, rc, msg);
	return send_tag(c, MHD_HTTP_CREATED, 0, &t);
}

static enum MHD_Result r_tag(struct srv *s, struct req *r,
			     struct MHD_Connection *c)
{
	struct store_tag t;

	return send_tag(c, MHD_HTTP_OK, own_tag(s, r, r->id, &t), &t);
}

static enum MHD_Result r_tag_rename(struct srv *s, struct req *r,
				    struct MHD_Connection *c)
{
	struct store_tag t;
	char name[STORE_NAME_MAX + 1], msg[BE_MSG] = "";
	enum MHD_Result ret;
	int rc = own_tag(s, r, r->id, &t);

	if (rc)
		return send_errno(c, rc, NULL);
	if (name_body(r, c, name, sizeof(name), &ret))
		return ret;
	rc = r->be->ops->tag_rename(r->be, r->id, name, msg);
	if (rc)
		return send_errno(c, rc, msg);
	return send_tag(c, MHD_HTTP_OK, own_tag(s, r, r->id, &t), &t);
}

static enum MHD_Result r_tag_delete(struct srv *s, struct req *r,
				    struct MHD_Connection *c)
{
	struct store_tag t;
	char msg[BE_MSG] = "";
	int rc = own_tag(s, r, r->id, &t);

	if (!rc)
		rc = r->be->ops->tag_delete(r->be, r->id, msg);
	return rc ? send_errno(c, rc, msg) : send_empty(c, MHD_HTTP_NO_CONTENT);
}

/* ---- routes: nodes ---- */

/* Adds "thumb_sha" and "thumb_size" to a node's JSON when its bytes have a
 * thumbnail on the server (upload=thumbnails, docs/api.md "Content") that
 * `user` sent: another user's would say who has those bytes. */
static int add_thumb(store *st, const char *user, const struct store_node *n,
		     cJSON *j)
{
	unsigned char t[STORE_SHA_LEN];
	char hex[65];
	int64_t size;

	if (n->kind != STORE_FILE || !n->has_sha ||
	    store_thumb_get_for(st, user, n->sha, t, &size))
		return 0;
	store_sha_hex(t, hex);
	if (!cJSON_AddStringToObject(j, "thumb_sha", hex) ||
	    !cJSON_AddNumberToObject(j, "thumb_size", (double)size))
		return -ENOMEM;
	return 0;
}

static enum MHD_Result send_node(struct srv *s, const struct req *r,
				 struct MHD_Connection *c, unsigned st, int rc,
				 const struct store_node *n)
{
	cJSON *j = NULL;

	if (!rc)
		rc = api_node_to_json(n, &j);
	if (!rc)
		rc = add_thumb(s->st, r->user, n, j);
	return send_obj(c, st, rc, j);
}

static enum MHD_Result r_node(struct srv *s, struct req *r,
			      struct MHD_Connection *c)
{
	struct store_node n;

	return send_node(s, r, c, MHD_HTTP_OK, own_node(s, r, r->id, &n), &n);
}

static enum MHD_Result r_node_lookup(struct srv *s, struct req *r,
				     struct MHD_Connection *c)
{
	struct store_node n;
	char name[STORE_NAME_MAX + 1];
	enum MHD_Result ret;
	int rc = own_node(s, r, r->id, &n), q;

	if (rc)
		return send_errno(c, rc, NULL);
	q = query(r, c, "name", name, sizeof(name), &ret);
	if (q < 0)
		return ret;
	if (!q)
		return send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path", "EINVAL",
				"lookup needs ?name=");
	rc = r->be->ops->node_lookup(r->be, r->id, name, &n);
	return send_node(s, r, c, MHD_HTTP_OK, rc, &n);
}

/* A listing's content is a function of its folder's children, so the
 * folder's change counter (store_node_gen) is its validator: ETag
 * "g<ino>-<gen>-<boot>" (boot: a restored or replaced store starts new
 * ETags). Paging is in the URL, so each page is its own resource. The
 * counter is read before the rows: a change in between labels the newer
 * rows with the older counter, which only costs the client one more 200. */
static enum MHD_Result r_children(struct srv *s, struct req *r,
				  struct MHD_Connection *c)
{
	struct store_node n, *v = NULL;
	char after[STORE_NAME_MAX + 1] = "", num[24], etag[80];
	enum MHD_Result ret;
	int64_t limit = PAGE_DEFAULT;
	uint64_t gen;
	size_t cnt = 0;
	cJSON *j = NULL;
	int rc = own_node(s, r, r->id, &n), q;

	if (rc)
		return send_errno(c, rc, NULL);
	if (query(r, c, "after", after, sizeof(after), &ret) < 0)
		return ret;
	q = query(r, c, "limit", num, sizeof(num), &ret);
	if (q < 0)
		return ret;
	if (q && (api_id_parse(num, &limit) || limit > PAGE_MAX))
		return send_err(c, MHD_HTTP_BAD_REQUEST, "invalid", "EINVAL",
				"limit must be 1-10000");
	/* Ownership was checked above: a 304 tells nothing about a folder
	 * of another user's (that was a 404). */
	rc = store_node_gen(s->st, r->id, &gen);
	if (rc)
		return send_errno(c, rc, NULL);
	snprintf(etag, sizeof(etag), "\"g%lld-%" PRIu64 "-%016" PRIx64 "\"",
		 (long long)r->id, gen, s->boot);
	if (none_match_hit(c, etag))
		return send_not_modified(c, etag);
	/* One more than asked tells whether another page follows. */
	rc = store_node_children_page(s->st, r->id, after, (size_t)limit + 1,
				      &v, &cnt);
	int more = cnt > (size_t)limit;
	if (more)
		cnt = (size_t)limit;
	if (!rc)
		rc = api_list_to_json("children", v, cnt, sizeof(*v),
				      api_node_any, &j);
	if (!rc) {
		cJSON *it, *a = cJSON_GetObjectItemCaseSensitive(j, "children");
		size_t i = 0;
		cJSON_ArrayForEach(it, a) {
			if (i >= cnt || (rc = add_thumb(s->st, r->user,
							&v[i++], it)))
				break;
		}
	}
	if (!rc && !(more ? cJSON_AddStringToObject(j, "next", v[cnt - 1].name)
			  : cJSON_AddNullToObject(j, "next")))
		rc = -ENOMEM;
	free(v);
	if (rc) {
		cJSON_Delete(j);
		return send_errno(c, rc, NULL);
	}
	return send_tagged(c, j, etag);
}

static enum MHD_Result r_node_create(struct srv *s, struct req *r,
				     struct MHD_Connection *c)
{
	struct store_node n;
	struct store_newnode nn;
	char name[STORE_NAME_MAX + 2];
	enum MHD_Result ret;
	cJSON *j;
	int rc = own_node(s, r, r->id, &n);

	if (rc)
		return send_errno(c, rc, NULL);
	if (!(j = body_json(r, c, &ret)))
		return ret;
	rc = api_newnode_from_json(j, name, sizeof(name), &nn);
	cJSON_Delete(j);
	if (rc == -ENAMETOOLONG)
		return send_errno(c, rc, "name longer than 255 bytes");
	if (rc)
		return bad_field(c, "name, kind (1 or 2), mode, uid, gid,"
				 " mtime_ns");
	rc = r->be->ops->node_create(r->be, r->id, name, &nn, &n);
	return send_node(s, r, c, MHD_HTTP_CREATED, rc, &n);
}

static enum MHD_Result r_node_remove(struct srv *s, struct req *r,
				     struct MHD_Connection *c)
{
	struct store_node n;
	char name[STORE_NAME_MAX + 1], isdir[8] = "0";
	enum MHD_Result ret;
	int rc = own_node(s, r, r->id, &n), q;

	if (rc)
		return send_errno(c, rc, NULL);
	q = query(r, c, "name", name, sizeof(name), &ret);
	if (q < 0)
		return ret;
	if (!q || query(r, c, "is_dir", isdir, sizeof(isdir), &ret) < 0 ||
	    (strcmp(isdir, "0") && strcmp(isdir, "1")))
		return q && isdir[0] == '\0' ? ret :
		       send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path", "EINVAL",
				"remove needs ?name=NAME&is_dir=0|1");
	rc = r->be->ops->node_remove(r->be, r->id, name, isdir[0] == '1');
	return rc ? send_errno(c, rc, NULL) : send_empty(c, MHD_HTTP_NO_CONTENT);
}

static enum MHD_Result r_node_rename(struct srv *s, struct req *r,
				     struct MHD_Connection *c)
{
	struct store_node n;
	char name[STORE_NAME_MAX + 2], newname[STORE_NAME_MAX + 2];
	int64_t newparent = 0;
	int noreplace = 0, rc;
	enum MHD_Result ret;
	cJSON *j;

	if ((rc = own_node(s, r, r->id, &n)) != 0)
		return send_errno(c, rc, NULL);
	if (!(j = body_json(r, c, &ret)))
		return ret;
	rc = api_get_str(j, "name", name, sizeof(name), 1);
	if (!rc)
		rc = api_get_str(j, "newname", newname, sizeof(newname), 1);
	if (!rc)
		rc = api_get_i64(j, "newparent", &newparent, 1);
	if (!rc && api_get_bool(j, "noreplace", &noreplace, 0) < 0)
		rc = -EINVAL;
	cJSON_Delete(j);
	if (rc == -ENAMETOOLONG)
		return send_errno(c, rc, "name longer than 255 bytes");
	if (rc)
		return bad_field(c, "name, newparent, newname, noreplace");
	if ((rc = own_node(s, r, newparent, &n)) != 0)
		return send_errno(c, rc, NULL);
	rc = r->be->ops->node_rename(r->be, r->id, name, newparent, newname,
				     noreplace);
	return rc ? send_errno(c, rc, NULL) : send_empty(c, MHD_HTTP_NO_CONTENT);
}

static enum MHD_Result r_node_setattr(struct srv *s, struct req *r,
				      struct MHD_Connection *c)
{
	struct store_node n;
	int64_t mode = 0, uid = 0, gid = 0, mtime = 0, atime = 0;
	int what = 0, q, bad = 0;
	enum MHD_Result ret;
	cJSON *j;
	int rc = own_node(s, r, r->id, &n);

	if (rc)
		return send_errno(c, rc, NULL);
	if (!(j = body_json(r, c, &ret)))
		return ret;
	/* mode is permission bits only (docs/api.md): a file type in it is
	 * a client's bug, refused rather than guessed at. */
	if ((q = api_get_i64(j, "mode", &mode, 0)) == 0)
		what |= STORE_SET_MODE;
	if (q < 0 || mode < 0 || mode > 07777)
		bad = 1;
	if ((q = api_get_i64(j, "uid", &uid, 0)) == 0)
		what |= STORE_SET_UID;
	if (!bad && (q < 0 || uid < 0 || uid > UINT32_MAX))
		bad = 2;
	if ((q = api_get_i64(j, "gid", &gid, 0)) == 0)
		what |= STORE_SET_GID;
	if (!bad && (q < 0 || gid < 0 || gid > UINT32_MAX))
		bad = 3;
	if ((q = api_get_i64(j, "mtime_ns", &mtime, 0)) == 0)
		what |= STORE_SET_MTIME;
	if (!bad && q < 0)
		bad = 4;
	if ((q = api_get_i64(j, "atime_ns", &atime, 0)) == 0)
		what |= STORE_SET_ATIME;
	if (!bad && q < 0)
		bad = 5;
	cJSON_Delete(j);
	if (bad == 1)
		return send_err(c, MHD_HTTP_BAD_REQUEST, "bad_json", "EINVAL",
				"mode: permission bits only, a number from 0"
				" to 4095 (07777), no file type bits");
	if (bad)
		return bad_field(c, bad == 2 ? "uid (0 to 2^32-1)" :
				 bad == 3 ? "gid (0 to 2^32-1)" :
				 bad == 4 ? "mtime_ns (an integer, as a string)" :
				 "atime_ns (an integer, as a string)");
	rc = r->be->ops->node_setattr(r->be, r->id, what, (uint32_t)mode,
				      (uint32_t)uid, (uint32_t)gid, mtime,
				      atime);
	if (rc)
		return send_errno(c, rc, NULL);
	return send_node(s, r, c, MHD_HTTP_OK, own_node(s, r, r->id, &n), &n);
}

static enum MHD_Result blob_missing(struct MHD_Connection *c)
{
	return send_err(c, MHD_HTTP_CONFLICT, "blob_missing", "EAGAIN",
			"the server does not have this blob: PUT"
			" /v1/blobs/{sha} and retry");
}

/* The optional upload=meta|thumbnails fields of a content commit:
 * "bytes":"kept" and "thumbnail":{"sha256","size"} (only with kept).
 * 0 or -EINVAL. */
static int content_kept(const cJSON *j, int *kept, int *thumb,
			unsigned char tsha[STORE_SHA_LEN], int64_t *tsize)
{
	const cJSON *b = cJSON_GetObjectItemCaseSensitive(j, "bytes");
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(j, "thumbnail");
	char hex[80];

	*kept = *thumb = 0;
	if (b && !(cJSON_IsString(b) && !strcmp(b->valuestring, "kept")))
		return -EINVAL;
	*kept = b != NULL;
	if (!t || cJSON_IsNull(t))
		return 0;
	if (!*kept || !cJSON_IsObject(t) ||
	    api_get_str(t, "sha256", hex, sizeof(hex), 1) ||
	    api_sha_from_hex(hex, tsha) || api_get_i64(t, "size", tsize, 1) ||
	    *tsize < 0)
		return -EINVAL;
	*thumb = 1;
	return 0;
}

/* Commits a node whose bytes stay with the uploader (store/kept.c). */
static enum MHD_Result commit_kept(struct srv *s, struct req *r,
				   struct MHD_Connection *c,
				   const unsigned char *sha, int64_t size,
				   int64_t mtime, const unsigned char *tsha,
				   int64_t tsize, int durable)
{
	struct store_node n;
	int rc;

	/* a thumbnail must be bytes this user has sent (store_blob_grant):
	 * a hash alone is not a right to read */
	if (tsha && (rc = store_blob_granted(s->st, r->user, tsha)) != 1)
		return rc < 0 ? send_errno(c, rc, NULL) : blob_missing(c);
	rc = store_node_commit_kept(s->st, r->id, sha, size, mtime, tsha,
				    tsize, durable);
	if (rc == -EAGAIN)
		return blob_missing(c);
	if (rc)
		return send_errno(c, rc, NULL);
	rc = own_node(s, r, r->id, &n);
	if (rc == -ENOENT)
		return send_empty(c, MHD_HTTP_NO_CONTENT);
	return send_node(s, r, c, MHD_HTTP_OK, rc, &n);
}

static enum MHD_Result r_content(struct srv *s, struct req *r,
				 struct MHD_Connection *c)
{
	struct store_node n;
	unsigned char sha[STORE_SHA_LEN], tsha[STORE_SHA_LEN];
	int64_t tsize = 0;
	char hex[80];
	int64_t size = -1, mtime = 0;
	int durable = 0, fd, rc, kept = 0, thumb = 0;
	enum MHD_Result ret;
	struct stat sb;
	cJSON *j;

	if ((rc = own_node(s, r, r->id, &n)) != 0)
		return send_errno(c, rc, NULL);
	if (!(j = body_json(r, c, &ret)))
		return ret;
	rc = api_get_str(j, "sha256", hex, sizeof(hex), 1);
	if (!rc)
		rc = api_sha_from_hex(hex, sha);
	if (!rc)
		rc = api_get_i64(j, "size", &size, 1);
	if (!rc && (api_get_i64(j, "mtime_ns", &mtime, 0) < 0 ||
		    api_get_bool(j, "durable", &durable, 0) < 0))
		rc = -EINVAL;
	if (!rc)
		rc = content_kept(j, &kept, &thumb, tsha, &tsize);
	cJSON_Delete(j);
	if (rc || size < 0)         /* mtime: 0 = now, < 0 before 1970 */
		return bad_field(c, "sha256, size, mtime_ns, durable, bytes"
				 " (\"kept\"), thumbnail {sha256, size}");
	if (kept)
		return commit_kept(s, r, c, sha, size, mtime,
				   thumb ? tsha : NULL, tsize, durable);
	rc = store_blob_granted(s->st, r->user, sha);
	if (rc < 0)
		return send_errno(c, rc, NULL);
	fd = rc ? store_blob_open(s->st, sha) : -ENOENT;  /* not sent: PUT */
	if (fd == -ENOENT)
		return blob_missing(c);
	if (fd < 0)
		return send_errno(c, fd, NULL);
	if (fstat(fd, &sb) || sb.st_size != size) {
		close(fd);
		return send_errno(c, -EINVAL, "size does not match the blob");
	}
	rc = r->be->ops->node_commit(r->be, r->id, fd, "", sha, size, mtime,
				     durable);
	close(fd);
	if (rc == -ENOENT)       /* collected between open and commit */
		return blob_missing(c);
	if (rc)
		return send_errno(c, rc, NULL);
	rc = own_node(s, r, r->id, &n);
	if (rc == -ENOENT)       /* removed meanwhile: bytes discarded */
		return send_empty(c, MHD_HTTP_NO_CONTENT);
	return send_node(s, r, c, MHD_HTTP_OK, rc, &n);
}

/* ---- routes: blobs ---- */

/* Parses "bytes=A-B", "bytes=A-", "bytes=-N": 1 partial (off, len set),
 * 0 serve everything (absent, or several ranges), -1 unsatisfiable. */
static int parse_range(const char *h, int64_t size, int64_t *off,
		       int64_t *len)
{
	char *end;
	long long a = -1, b = -1;

	if (!h)
		return 0;
	if (strncmp(h, "bytes=", 6) || strchr(h, ','))
		return 0;
	h += 6;
	if (*h == '-') {
		b = strtoll(h + 1, &end, 10);
		if (end == h + 1 || *end || b <= 0)
			return -1;
		if (size == 0)
			return -1;
		*off = b >= size ? 0 : size - b;
		*len = size - *off;
		return 1;
	}
	a = strtoll(h, &end, 10);
	if (end == h || a < 0 || *end != '-')
		return -1;
	h = end + 1;
	if (*h) {
		b = strtoll(h, &end, 10);
		if (*end || b < a)
			return -1;
	}
	if (a >= size)
		return -1;
	if (b < 0 || b >= size)
		b = size - 1;
	*off = a;
	*len = b - a + 1;
	return 1;
}

/*
 * POST /v1/kept {"sha256":[HEX…]} (at most KEPT_MAX): which of these hashes
 * a node of the caller's datasets (live tree or frozen tag) still names:
 * {"named":[HEX…]}. A mount with upload=meta asks it to release the bytes it
 * pinned for samples that are gone (docs/api.md, Content). It tells the
 * caller nothing about other users' datasets.
 */
#define KEPT_MAX 10000
static enum MHD_Result r_kept(struct srv *s, struct req *r,
			      struct MHD_Connection *c)
{
	enum MHD_Result ret;
	cJSON *j = body_json(r, c, &ret), *in, *out, *named, *it;
	unsigned char sha[STORE_SHA_LEN];
	int rc = 0;

	if (!j)
		return ret;
	in = cJSON_GetObjectItemCaseSensitive(j, "sha256");
	if (!cJSON_IsArray(in) || cJSON_GetArraySize(in) > KEPT_MAX) {
		cJSON_Delete(j);
		return bad_field(c, "sha256 (an array of at most 10000 hashes)");
	}
	out = cJSON_CreateObject();
	named = out ? cJSON_AddArrayToObject(out, "named") : NULL;
	if (!named)
		rc = -ENOMEM;
	cJSON_ArrayForEach(it, in) {
		if (rc)
			break;
		if (!cJSON_IsString(it) || api_sha_from_hex(it->valuestring, sha)) {
			cJSON_Delete(j);
			cJSON_Delete(out);
			return bad_field(c, "sha256 (64 hex digits each)");
		}
		rc = store_blob_owned(s->st, sha, r->user);
		if (rc == 1) {
			cJSON *h = cJSON_CreateString(it->valuestring);
			rc = h && cJSON_AddItemToArray(named, h) ? 0 : -ENOMEM;
			if (rc)
				cJSON_Delete(h);
		}
	}
	cJSON_Delete(j);
	if (rc < 0) {
		cJSON_Delete(out);
		return send_errno(c, rc, NULL);
	}
	return send_json(c, MHD_HTTP_OK, out);
}

static enum MHD_Result r_blob_get(struct srv *s, struct req *r,
				  struct MHD_Connection *c)
{
	struct MHD_Response *resp;
	char etag[72], cr[96], hex[65];
	int64_t off = 0, len;
	struct stat sb;
	int fd, rc, pr;

	rc = store_blob_granted(s->st, r->user, r->sha);  /* sent it once? */
	if (rc < 0)
		return send_errno(c, rc, NULL);
	/* not sent by this user: their own upload=meta sample (bytes on the
	 * uploading machine) says so; anything else is simply not there */
	fd = rc ? store_blob_open(s->st, r->sha) : -ENOENT;
	if (fd == -ENOENT && store_blob_kept(s->st, r->sha) == 1 &&
	    store_blob_owned(s->st, r->sha, r->user) == 1)
		return send_err(c, MHD_HTTP_NOT_FOUND, "bytes_kept_by_uploader",
				"EIO", "the bytes of this sample stay on the"
				" machine that uploaded it (upload=meta)");
	if (fd < 0)
		return send_errno(c, fd, NULL);
	if (fstat(fd, &sb)) {
		rc = -errno;
		close(fd);
		return send_errno(c, rc, NULL);
	}
	len = sb.st_size;
	pr = parse_range(MHD_lookup_connection_value(c, MHD_HEADER_KIND,
						     MHD_HTTP_HEADER_RANGE),
			 sb.st_size, &off, &len);
	store_sha_hex(r->sha, hex);
	snprintf(etag, sizeof(etag), "\"%s\"", hex);
	if (pr < 0) {
		close(fd);
		resp = MHD_create_response_from_buffer(0, (char *)"",
						       MHD_RESPMEM_PERSISTENT);
		if (!resp)
			return MHD_NO;
		snprintf(cr, sizeof(cr), "bytes */%lld", (long long)sb.st_size);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
		return send_resp(c, MHD_HTTP_RANGE_NOT_SATISFIABLE, resp, NULL);
	}
	resp = MHD_create_response_from_fd_at_offset64((uint64_t)len, fd,
							(uint64_t)off);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, etag);
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
				"private, max-age=31536000, immutable");
	MHD_add_response_header(resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
	if (pr > 0) {
		snprintf(cr, sizeof(cr), "bytes %lld-%lld/%lld", (long long)off,
			 (long long)(off + len - 1), (long long)sb.st_size);
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
	}
	return send_resp(c, pr > 0 ? MHD_HTTP_PARTIAL_CONTENT : MHD_HTTP_OK,
			 resp, "application/octet-stream");
}

/* 0 if `user` may add `more` pending bytes (docs/api.md, "Uploads"), 1
 * with the 507 answered (or the error of the count). A blob this user has
 * sent already costs nothing more (it is pending, and counted, or named). */
static int quota_refuses(struct srv *s, struct req *r, struct MHD_Connection *c,
			 uint64_t more, enum MHD_Result *ret)
{
	char why[320];
	int64_t bytes;
	size_t count;
	int rc = store_blob_granted(s->st, r->user, r->sha);

	if (rc == 0)
		rc = store_blob_pending(s->st, r->user, &count, &bytes);
	if (rc < 0) {
		*ret = send_errno(c, rc, NULL);
		return 1;
	}
	if (rc == 1 || (count < PENDING_MAX &&
			(uint64_t)bytes + more <= s->upload_cap))
		return 0;
	snprintf(why, sizeof(why), "%zu%s uploaded blob(s) of %lld bytes that no"
		 " node names yet; with this one (%llu bytes) over the cap of"
		 " %llu bytes%s: commit them (PUT /v1/nodes/{id}/content), or"
		 " wait %u s for the unused ones to be collected; nothing"
		 " stored", count, count >= PENDING_MAX ? " (the most allowed)" :
		 "", (long long)bytes, (unsigned long long)more,
		 (unsigned long long)s->upload_cap,
		 count >= PENDING_MAX ? " or the count cap" : "", s->grace);
	*ret = send_err(c, MHD_HTTP_INSUFFICIENT_STORAGE, "upload_quota",
			"EDQUOT", why);
	return 1;
}

static enum MHD_Result r_blob_put(struct srv *s, struct req *r,
				  struct MHD_Connection *c)
{
	unsigned char got[EVP_MAX_MD_SIZE];
	unsigned int glen = 0;
	enum MHD_Result ret;
	int rc;

	if (r->ioerr)
		return send_errno(c, r->ioerr, NULL);
	if (!EVP_DigestFinal_ex(r->md, got, &glen) || glen != STORE_SHA_LEN)
		return send_errno(c, -EIO, "hashing failed");
	if (memcmp(got, r->sha, STORE_SHA_LEN))
		return send_err(c, MHD_HTTP_BAD_REQUEST, "hash_mismatch", "EIO",
				"the body does not hash to the blob's name;"
				" nothing stored");
	/* the exact size now (a chunked body has no Content-Length) */
	pthread_mutex_lock(&s->quota_lock);
	if (quota_refuses(s, r, c, r->got, &ret)) {
		pthread_mutex_unlock(&s->quota_lock);
		return ret;          /* on_done drops the staged bytes */
	}
	/* with the grant (this user has shown the bytes) and the pending row */
	rc = store_blob_put(s->st, r->fd, r->staged, r->sha, r->user);
	r->staged[0] = '\0';     /* consumed (renamed or unlinked) */
	pthread_mutex_unlock(&s->quota_lock);
	return rc ? send_errno(c, rc, NULL) : send_empty(c, MHD_HTTP_CREATED);
}

/* ---- routes: control files ---- */

static enum MHD_Result r_selection(struct srv *s, struct req *r,
				   struct MHD_Connection *c)
{
	struct store_dataset d;
	char *text = NULL;
	size_t len = 0;
	int rc = own_ds(s, r, r->id, &d);

	if (!rc)
		rc = r->be->ops->selection_read(r->be, r->id, &text, &len);
	return send_text(c, rc, "text/plain; charset=utf-8", text, len);
}

static enum MHD_Result r_selection_put(struct srv *s, struct req *r,
				       struct MHD_Connection *c)
{
	struct store_dataset d;
	char msg[BE_MSG] = "", v[8];
	const char *text;
	size_t len;
	void *map;
	enum MHD_Result ret;
	int rc = own_ds(s, r, r->id, &d), flags = 0, q;

	if (rc)
		return send_errno(c, rc, NULL);
	/* ?append=1: add to the selection; ?check=1: change nothing */
	if ((q = query(r, c, "append", v, sizeof(v), &ret)) < 0)
		return ret;
	if (q)
		flags |= strcmp(v, "1") ? -1 : BE_SEL_APPEND;
	if ((q = query(r, c, "check", v, sizeof(v), &ret)) < 0)
		return ret;
	if (q)
		flags |= strcmp(v, "1") ? -1 : BE_SEL_CHECK;
	if (flags < 0)
		return send_errno(c, -EINVAL, "append and check take the"
				  " value 1");
	rc = body_map(r, &text, &len, &map);
	if (!rc)
		rc = r->be->ops->selection_write(r->be, r->id, text, len,
						 flags, msg);
	if (map)
		munmap(map, len);
	return rc ? send_errno(c, rc, msg) : send_empty(c, MHD_HTTP_NO_CONTENT);
}

typedef int (*text_op)(struct backend *, int64_t, char **, size_t *);

static enum MHD_Result text_route(struct srv *s, struct req *r,
				  struct MHD_Connection *c, text_op op,
				  const char *ctype)
{
	struct store_dataset d;
	char *text = NULL;
	size_t len = 0;
	int rc = own_ds(s, r, r->id, &d);

	if (!rc)
		rc = op(r->be, r->id, &text, &len);
	return send_text(c, rc, ctype, text, len);
}

static enum MHD_Result r_info(struct srv *s, struct req *r,
			      struct MHD_Connection *c)
{
	return text_route(s, r, c, r->be->ops->info_read,
			  "text/plain; charset=utf-8");
}

static enum MHD_Result r_log(struct srv *s, struct req *r,
			     struct MHD_Connection *c)
{
	return text_route(s, r, c, r->be->ops->log_read,
			  "text/plain; charset=utf-8");
}

static enum MHD_Result r_sample(struct srv *s, struct req *r,
				struct MHD_Connection *c)
{
	return text_route(s, r, c, r->be->ops->sample_read,
			  "text/plain; charset=utf-8");
}

static enum MHD_Result r_scores(struct srv *s, struct req *r,
				struct MHD_Connection *c)
{
	return text_route(s, r, c, r->be->ops->scores_read, "text/csv");
}

static enum MHD_Result r_plot(struct srv *s, struct req *r,
			      struct MHD_Connection *c)
{
	return text_route(s, r, c, r->be->ops->plot_read, "image/svg+xml");
}

static enum MHD_Result r_log_post(struct srv *s, struct req *r,
				  struct MHD_Connection *c)
{
	struct store_dataset d;
	char level[16], msg[CAP_LINE];
	enum MHD_Result ret;
	cJSON *j;
	int rc = own_ds(s, r, r->id, &d);

	if (rc)
		return send_errno(c, rc, NULL);
	if (!(j = body_json(r, c, &ret)))
		return ret;
	rc = api_get_str(j, "level", level, sizeof(level), 1);
	if (!rc)
		rc = api_get_str(j, "message", msg, sizeof(msg), 1);
	cJSON_Delete(j);
	if (rc || (strcmp(level, "info") && strcmp(level, "error")))
		return bad_field(c, "level (info|error), message");
	r->be->ops->log_event(r->be, r->id, level[0] == 'e' ? STORE_ERROR :
			      STORE_INFO, msg);
	return send_empty(c, MHD_HTTP_NO_CONTENT);
}

static enum MHD_Result r_sample_post(struct srv *s, struct req *r,
				     struct MHD_Connection *c)
{
	struct store_dataset d;
	char line[CAP_LINE + 1], msg[BE_MSG] = "";
	cJSON *j;
	int rc = own_ds(s, r, r->id, &d);

	if (rc)
		return send_errno(c, rc, NULL);
	memcpy(line, r->buf ? r->buf : "", r->len);
	line[r->len] = '\0';
	if (strlen(line) != r->len)
		return send_errno(c, -EINVAL, "the request contains a NUL byte");
	while (r->len && (line[r->len - 1] == '\n' || line[r->len - 1] == '\r'))
		line[--r->len] = '\0';
	rc = r->be->ops->sample_request(r->be, r->id, line, msg);
	if (rc)
		return send_errno(c, rc, msg);
	j = cJSON_CreateObject();
	if (j && !cJSON_AddTrueToObject(j, "accepted")) {
		cJSON_Delete(j);
		j = NULL;
	}
	return send_json(c, MHD_HTTP_ACCEPTED, j);
}

/* ---- routes: embeddings ---- */

static enum MHD_Result send_emb(struct MHD_Connection *c, unsigned st, int rc,
				const struct store_embedding *e)
{
	cJSON *j = NULL;

	if (!rc)
		rc = api_embedding_to_json(e, &j);
	return send_obj(c, st, rc, j);
}

static enum MHD_Result r_embs(struct srv *s, struct req *r,
			      struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_embedding e, *v = NULL;
	char name[STORE_NAME_MAX + 1];
	enum MHD_Result ret;
	size_t n = 0;
	cJSON *j = NULL;
	int rc = own_ds(s, r, r->id, &d), q;

	if (rc)
		return send_errno(c, rc, NULL);
	q = query(r, c, "name", name, sizeof(name), &ret);
	if (q < 0)
		return ret;
	if (q)
		return send_emb(c, MHD_HTTP_OK,
				r->be->ops->emb_get(r->be, r->id, name, &e), &e);
	rc = r->be->ops->emb_list(r->be, r->id, &v, &n);
	if (!rc)
		rc = api_list_to_json("embeddings", v, n, sizeof(*v),
				      api_embedding_any, &j);
	free(v);
	return send_obj(c, MHD_HTTP_OK, rc, j);
}

static enum MHD_Result r_emb_put(struct srv *s, struct req *r,
				 struct MHD_Connection *c)
{
	struct store_dataset d;
	struct store_embedding e;
	char name[STORE_NAME_MAX + 1], msg[BE_MSG] = "";
	enum MHD_Result ret;
	const char *text;
	size_t len;
	void *map;
	int rc = own_ds(s, r, r->id, &d), q;

	if (rc)
		return send_errno(c, rc, NULL);
	q = query(r, c, "name", name, sizeof(name), &ret);
	if (q < 0)
		return ret;
	if (!q)
		return send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path", "EINVAL",
				"upload needs ?name=");
	rc = body_map(r, &text, &len, &map);
	if (!rc)
		rc = r->be->ops->emb_put(r->be, r->id, name, text, len, msg);
	if (map)
		munmap(map, len);
	if (rc)
		return send_errno(c, rc, msg);
	return send_emb(c, MHD_HTTP_CREATED,
			r->be->ops->emb_get(r->be, r->id, name, &e), &e);
}

static enum MHD_Result r_emb(struct srv *s, struct req *r,
			     struct MHD_Connection *c)
{
	struct store_embedding e;

	return send_emb(c, MHD_HTTP_OK, own_emb(s, r, r->id, &e), &e);
}

static enum MHD_Result r_emb_delete(struct srv *s, struct req *r,
				    struct MHD_Connection *c)
{
	struct store_embedding e;
	int rc = own_emb(s, r, r->id, &e);

	if (!rc)
		rc = r->be->ops->emb_delete(r->be, r->id);
	return rc ? send_errno(c, rc, NULL) : send_empty(c, MHD_HTTP_NO_CONTENT);
}

static enum MHD_Result r_emb_csv(struct srv *s, struct req *r,
				 struct MHD_Connection *c)
{
	struct store_embedding e;
	struct MHD_Response *resp;
	char path[STORE_PATH_MAX];
	struct stat sb;
	int rc = own_emb(s, r, r->id, &e), fd;

	if (rc)
		return send_errno(c, rc, NULL);
	/* The export streams through a scratch file of the store. */
	fd = store_staging_create(s->st, path, sizeof(path));
	if (fd < 0)
		return send_errno(c, fd, NULL);
	if (path[0])
		unlink(path);
	rc = r->be->ops->emb_export(r->be, r->id, fd);
	if (!rc && fstat(fd, &sb))
		rc = -errno;
	if (rc) {
		close(fd);
		return send_errno(c, rc, NULL);
	}
	resp = MHD_create_response_from_fd_at_offset64((uint64_t)sb.st_size,
						       fd, 0);
	if (!resp) {
		close(fd);
		return MHD_NO;
	}
	return send_resp(c, MHD_HTTP_OK, resp, "text/csv");
}

/* ---- routing ---- */

static const struct route routes[] = {
	{ "whoami", "GET", r_whoami, B_NONE, 0 },
	{ "statfs", "GET", r_statfs, B_NONE, 0 },
	{ "datasets", "GET", r_datasets, B_NONE, 0 },
	{ "datasets", "POST", r_dataset_create, B_JSON, CAP_JSON },
	{ "datasets/#", "GET", r_dataset, B_NONE, 0 },
	{ "datasets/#", "PATCH", r_dataset_patch, B_JSON, CAP_JSON },
	{ "datasets/#", "DELETE", r_dataset_delete, B_NONE, 0 },
	{ "datasets/#/tags", "GET", r_tags, B_NONE, 0 },
	{ "datasets/#/tags", "POST", r_tag_create, B_JSON, CAP_JSON },
	{ "datasets/#/selection", "GET", r_selection, B_NONE, 0 },
	{ "datasets/#/selection", "PUT", r_selection_put, B_FILE,
	  CAP_SELECTION },
	{ "datasets/#/info", "GET", r_info, B_NONE, 0 },
	{ "datasets/#/log", "GET", r_log, B_NONE, 0 },
	{ "datasets/#/log", "POST", r_log_post, B_JSON, CAP_LINE + 1024 },
	{ "datasets/#/sample", "GET", r_sample, B_NONE, 0 },
	{ "datasets/#/sample", "POST", r_sample_post, B_LINE, CAP_LINE },
	{ "datasets/#/scores.csv", "GET", r_scores, B_NONE, 0 },
	{ "datasets/#/plot.svg", "GET", r_plot, B_NONE, 0 },
	{ "datasets/#/embeddings", "GET", r_embs, B_NONE, 0 },
	{ "datasets/#/embeddings", "PUT", r_emb_put, B_FILE, CAP_CSV },
	{ "tags/#", "GET", r_tag, B_NONE, 0 },
	{ "tags/#", "PATCH", r_tag_rename, B_JSON, CAP_JSON },
	{ "tags/#", "DELETE", r_tag_delete, B_NONE, 0 },
	{ "nodes/#", "GET", r_node, B_NONE, 0 },
	{ "nodes/#", "PATCH", r_node_setattr, B_JSON, CAP_JSON },
	{ "nodes/#/lookup", "GET", r_node_lookup, B_NONE, 0 },
	{ "nodes/#/children", "GET", r_children, B_NONE, 0 },
	{ "nodes/#/children", "POST", r_node_create, B_JSON, CAP_JSON },
	{ "nodes/#/children", "DELETE", r_node_remove, B_NONE, 0 },
	{ "nodes/#/rename", "POST", r_node_rename, B_JSON, CAP_JSON },
	{ "nodes/#/content", "PUT", r_content, B_JSON, CAP_JSON },
	{ "blobs/#", "GET", r_blob_get, B_NONE, 0 },
	{ "blobs/#", "HEAD", r_blob_get, B_NONE, 0 },
	{ "blobs/#", "PUT", r_blob_put, B_BLOB, CAP_BLOB },
	{ "kept", "POST", r_kept, B_JSON, CAP_JSON },
	{ "embeddings/#", "GET", r_emb, B_NONE, 0 },
	{ "embeddings/#", "DELETE", r_emb_delete, B_NONE, 0 },
	{ "embeddings/#/csv", "GET", r_emb_csv, B_NONE, 0 },
};

#define NROUTES (sizeof(routes) / sizeof(routes[0]))

/* Finds the route: 0, or an answered error (1). */
static int route(struct req *r, struct MHD_Connection *c, const char *method,
		 enum MHD_Result *ret)
{
	char key[API_SEG_MAX * 2 + 8];
	char *q = strchr(r->raw, '?');
	int found_path = 0;

	r->query = "";
	if (q) {
		*q = '\0';
		r->query = q + 1;
	}
	if (r->raw_bad || api_path_parse(r->raw, &r->path) ||
	    r->path.n < 2 || r->path.n > 4 || strcmp(r->path.seg[0], "v1")) {
		*ret = r->raw_bad || (r->path.n && r->path.n <= 4 &&
				      !api_path_parse(r->raw, &r->path)) ?
		       send_err(c, MHD_HTTP_NOT_FOUND, "not_found", "ENOENT",
				"no such route") :
		       send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path", "EINVAL",
				"malformed path");
		return 1;
	}
	snprintf(key, sizeof(key), "%s%s%s%s", r->path.seg[1],
		 r->path.n >= 3 ? "/#" : "", r->path.n == 4 ? "/" : "",
		 r->path.n == 4 ? r->path.seg[3] : "");
	for (size_t i = 0; i < NROUTES; i++) {
		if (strcmp(routes[i].key, key))
			continue;
		found_path = 1;
		if (!strcmp(routes[i].method, method)) {
			r->rt = &routes[i];
			break;
		}
	}
	if (!r->rt) {
		*ret = found_path ?
		       send_err(c, MHD_HTTP_METHOD_NOT_ALLOWED,
				"method_not_allowed", "EINVAL",
				"method not allowed on this path") :
		       send_err(c, MHD_HTTP_NOT_FOUND, "not_found", "ENOENT",
				"no such route");
		return 1;
	}
	if (r->path.n >= 3) {
		int bad = !strcmp(r->path.seg[1], "blobs") ?
			  api_sha_from_hex(r->path.seg[2], r->sha) :
			  api_id_parse(r->path.seg[2], &r->id);
		if (bad) {
			*ret = send_err(c, MHD_HTTP_BAD_REQUEST, "bad_path",
					"EINVAL", "bad id in path");
			return 1;
		}
	}
	return 0;
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
			*ret = send_err(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large",
					"EFBIG", "request body over the cap");
			return 1;
		}
	}
	if (r->rt->body != B_FILE && r->rt->body != B_BLOB)
		return 0;
	if (r->rt->body == B_BLOB && cl &&
	    quota_refuses(s, r, c, strtoull(cl, NULL, 10), ret)) {
		r->over = 1;             /* answered: drop the body */
		return 1;
	}
	rc = store_staging_create(s->st, r->staged, sizeof(r->staged));
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
	}
	if (rc < 0) {
		*ret = send_errno(c, rc, NULL);
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
		*ret = send_err(c, MHD_HTTP_BAD_REQUEST, "bad_request", "EINVAL",
				"malformed request line (a NUL byte, or not"
				" METHOD SP TARGET SP VERSION)");
		return 1;
	}
	if (strcmp(version, MHD_HTTP_VERSION_1_0) &&
	    !MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					 MHD_HTTP_HEADER_HOST)) {
		*ret = send_err(c, MHD_HTTP_BAD_REQUEST, "bad_request", "EINVAL",
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

/* Whether the server is near its connection cap (see on_conn). */
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
	*ret = send_err(c, MHD_HTTP_BAD_REQUEST, "bad_request", "EINVAL",
			f.cl && f.te ? "both Content-Length and"
			" Transfer-Encoding" : f.cl > 1 ? "more than one"
			" Content-Length" : f.te > 1 ? "more than one"
			" Transfer-Encoding" : f.cl_bad ? "a Content-Length"
			" that is not a number" : "a Transfer-Encoding other"
			" than chunked");
	return 1;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c,
			       const char *url, const char *method,
			       const char *version, const char *data,
			       size_t *data_size, void **con_cls)
{
	struct srv *s = cls;
	struct req *r = *con_cls;
	enum MHD_Result ret = MHD_YES;

	(void)url;
	(void)version;
	if (!r)
		return send_err(c, MHD_HTTP_SERVICE_UNAVAILABLE, "busy",
				"ENOMEM", "out of memory");
	if (r->over) {                /* answered 413: drop the rest */
		*data_size = 0;
		return MHD_YES;
	}
	if (!r->started) {
		r->started = 1;
		/* the head is in: now the body's deadline (on_conn) */
		conn_timeout(c, HEAD_TIMEOUT);
		if (request_line_bad(r, c, method, version, &ret) ||
		    framing_bad(c, &ret) || authenticate(s, r, c, &ret) || route(r, c, method, &ret))
			return ret;
		if (core_local_view(s->base, r->user, &r->be))
			return send_errno(c, -ENOMEM, NULL);
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
		return send_err(c, MHD_HTTP_CONTENT_TOO_LARGE, "too_large", "EFBIG",
				"request body over the cap");
	if (r->ioerr && r->rt->body != B_FILE && r->rt->body != B_BLOB)
		return send_errno(c, r->ioerr, NULL);
	return r->rt->fn(s, r, c);
}

static void *on_uri(void *cls, const char *uri, struct MHD_Connection *c)
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
 *   - while a body arrives, the same HEAD_TIMEOUT between chunks (handler);
 *   - between requests (on_done) only a connection whose last request had a
 *     valid token may idle, IDLE_TIMEOUT s (libcurl's pool keeps them for
 *     118 s) — and only while there is no pressure: under pressure, idle
 *     connections are the first to go (PRESSED_TIMEOUT).
 * A client whose connection is closed while idle reconnects (libcurl does).
 */
static void on_conn(void *cls, struct MHD_Connection *c, void **socket_ctx,
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

static void on_done(void *cls, struct MHD_Connection *c, void **con_cls,
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
	struct req *r = on_uri(NULL, target, NULL);
	enum MHD_Result ret;
	int rc;

	if (!r)
		return -ENOMEM;
	rc = route(r, NULL, method, &ret);
	if (!rc) {
		snprintf(key, keylen, "%s", r->rt->key);
		*id = r->id;
	}
	free(r);
	return rc;
}

/* ---- command line ---- */

static int read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > (1 << 20) ||
	    fseek(f, 0, SEEK_SET) || !(buf = malloc((size_t)n + 1)) ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return -EIO;
	}
	buf[n] = '\0';
	fclose(f);
	*out = buf;
	return 0;
}

/* "HOST:PORT" or "[V6]:PORT" → a socket address. */
static int parse_listen(const char *spec, struct sockaddr_storage *ss,
			int *v6)
{
	char host[256];
	const char *colon, *port;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE }, *ai = NULL;

	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - spec - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec + 1, (size_t)(rb - spec - 1));
		host[rb - spec - 1] = '\0';
		port = rb + 2;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		port = colon + 1;
	}
	if (!*port || getaddrinfo(host[0] ? host : NULL, port, &hints, &ai))
		return -EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*v6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	return 0;
}

/* Whether a bound address only this machine can reach: 127.0.0.0/8, ::1,
 * or ::ffff:127.x.y.z. A wildcard (0.0.0.0, ::) is not. */
static int listen_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)ss)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

/* ---- the sweep of uploads no node names ---- */

/* How often the sweep runs: a quarter of the grace (so a blob goes at
 * most 1.25 graces after its PUT), between 1 s and 5 min. */
static unsigned sweep_every(unsigned grace)
{
	unsigned t = grace / 4;

	return t < 1 ? 1 : t > 300 ? 300 : t;
}

static void *sweep_main(void *arg)
{
	struct srv *s = arg;
	struct timespec until;
	int64_t bytes;
	size_t n;
	int rc;

	pthread_mutex_lock(&s->sweep_lock);
	while (!s->sweep_stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += sweep_every(s->grace);
		while (!s->sweep_stop &&
		       pthread_cond_timedwait(&s->sweep_cond, &s->sweep_lock,
					      &until) != ETIMEDOUT)
			;
		if (s->sweep_stop)
			break;
		pthread_mutex_unlock(&s->sweep_lock);
		rc = store_blob_sweep(s->st, (int64_t)s->grace * 1000000000,
				      &n, &bytes);
		if (rc)
			log_warn("sweep of unused uploads failed: %s",
				 strerror(-rc));
		else if (n)
			log_info("collected %zu uploaded blob(s), %lld bytes,"
				 " that no node named %u s after their PUT", n,
				 (long long)bytes, s->grace);
		pthread_mutex_lock(&s->sweep_lock);
	}
	pthread_mutex_unlock(&s->sweep_lock);
	return NULL;
}

static void sweep_stop(struct srv *s, pthread_t t)
{
	pthread_mutex_lock(&s->sweep_lock);
	s->sweep_stop = 1;
	pthread_cond_signal(&s->sweep_cond);
	pthread_mutex_unlock(&s->sweep_lock);
	pthread_join(t, NULL);
}

/* "N", "N[KMG]" (binary) into *out; 0, or -1 if not that or 0. */
static int parse_bytes(const char *v, uint64_t *out)
{
	unsigned long long n, mul = 1;
	char *end;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v || *v == '-')
		return -1;
	if (*end == 'K' || *end == 'k')
		mul = 1ull << 10;
	else if (*end == 'M' || *end == 'm')
		mul = 1ull << 20;
	else if (*end == 'G' || *end == 'g')
		mul = 1ull << 30;
	if (mul > 1)
		end++;
	if (*end || n == 0 || n > UINT64_MAX / mul)
		return -1;
	*out = n * mul;
	return 0;
}

/* Seconds, 1 to 30 days, into *out; 0 or -1. */
static int parse_grace(const char *v, unsigned *out)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || *v == '-' || n < 1 || n > 2592000)
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* Usage on stdout with status 0 (--help), else on stderr with 2. */
static int serve_usage(int help)
{
	fprintf(help ? stdout : stderr,
		"usage: sievefs serve STORE --listen HOST:PORT"
		" [--tls-cert FILE --tls-key FILE]\n"
		"                     [--orphan-grace SECS] [--upload-cap BYTES]\n"
		"                     [--user-rate N/S] [--conns-per-addr N]"
		" [--max-conns N]\n"
		"                     [--insecure-http]\n"
		"Serves the datasets of the store in directory STORE (created if"
		" missing) over\n"
		"HTTP (docs/api.md) to remote mounts: sievefs"
		" http(s)://HOST:PORT MOUNTPOINT.\n"
		"  --listen HOST:PORT   address to listen on (127.0.0.1:8420;"
		" port 0: any free)\n"
		"  --tls-cert FILE      https: the certificate chain (PEM), with"
		" --tls-key\n"
		"  --tls-key FILE       https: its private key (PEM)\n"
		"  --insecure-http      allow plain http on an address other"
		" machines reach\n"
		"                       (without TLS only a loopback --listen is"
		" accepted:\n"
		"                       tokens and samples would cross the"
		" network in clear)\n"
		"  --orphan-grace SECS  uploaded blobs no node names are"
		" collected after this\n"
		"                       (3600; a commit after it sends the"
		" bytes again)\n"
		"  --upload-cap BYTES   per user, bytes of such blobs at once"
		" (1G; K, M, G)\n"
		"  --user-rate N/S      at most N requests per S seconds per"
		" user, in bursts\n"
		"                       of up to N (default " RATE_DEFAULT "); over"
		" it: 429\n"
		"  --conns-per-addr N   at most N connections at once from one"
		" address\n"
		"                       (default %d)\n"
		"  --max-conns N        at most N connections at once in all"
		" (default %d, less\n"
		"                       if the descriptor limit is low); a"
		" request head must\n"
		"                       arrive within %d s (%d s when the"
		" server is nearly full)\n"
		"Tokens for the users: sievefs token create --store STORE USER."
		" Stops on\n"
		"SIGINT or SIGTERM.\n", CONNS_DEFAULT, MAX_CONNS_DEFAULT,
		HEAD_TIMEOUT, PRESSED_TIMEOUT);
	return help ? 0 : 2;
}

/* "N/S" (N, S integers >= 1) into *n, *sec: 0 or -EINVAL. */
static int parse_rate(const char *spec, double *n, double *sec)
{
	char *end;
	unsigned long a, b;

	errno = 0;
	a = strtoul(spec, &end, 10);
	if (errno || end == spec || *end != '/' || a < 1 || a > 100000000ul ||
	    spec[0] == '-')
		return -EINVAL;
	spec = end + 1;
	b = strtoul(spec, &end, 10);
	if (errno || end == spec || *end || b < 1 || b > 86400ul ||
	    spec[0] == '-')
		return -EINVAL;
	*n = (double)a;
	*sec = (double)b;
	return 0;
}

/* A positive count: 0 or -EINVAL. */
static int parse_count(const char *spec, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(spec, &end, 10);
	if (errno || end == spec || *end || v < 1 || v > 65535 ||
	    spec[0] == '-')
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* A store argument that is a URL would create ./http:/… directories. */
static int url_as_store(const char *dir)
{
	if (!dir || !strstr(dir, "://"))
		return 0;
	fprintf(stderr, "sievefs: STORE %s is a URL; STORE is the directory of"
		" a store on this machine (a server's URL is what a remote"
		" mount takes: sievefs URL MOUNTPOINT)\n", dir);
	return 1;
}

struct api_server {
	struct srv *s;
	struct MHD_Daemon *d;
	pthread_t sweeper;
	int sweeping;
};

void api_server_stop(struct api_server *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	if (h->sweeping)
		sweep_stop(h->s, h->sweeper);
	if (h->s) {
		if (h->s->base)
			h->s->base->ops->destroy(h->s->base);
		pthread_mutex_destroy(&h->s->rl_lock);
		pthread_mutex_destroy(&h->s->quota_lock);
		pthread_mutex_destroy(&h->s->sweep_lock);
		pthread_cond_destroy(&h->s->sweep_cond);
	}
	free(h->s);
	free(h);
}

/* The global connection cap: `want` (0: MAX_CONNS_DEFAULT), lowered so
 * that FD_SPARE descriptors stay for the store, staging files and logs. */
static unsigned max_conns(unsigned want)
{
	struct rlimit rl;
	unsigned n = want ? want : MAX_CONNS_DEFAULT;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY) {
		rlim_t room = rl.rlim_cur > 2 * FD_SPARE ?
			      rl.rlim_cur - FD_SPARE : rl.rlim_cur / 2;
		if ((rlim_t)n > room)
			n = (unsigned)room;
	}
	return n < 8 ? 8 : n;
}

int api_server_start(const char *dir, const struct sockaddr *sa,
		     const struct api_server_opts *o, struct api_server **out,
		     unsigned *port)
{
	char msg[512] = "";
	struct api_server *h;
	struct srv *s;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 (o->quiet ? 0 : MHD_USE_ERROR_LOG);

	*out = NULL;
	if (o->cert_pem)
		flags |= MHD_USE_TLS;
	if (sa->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h = calloc(1, sizeof(*h));
	s = h ? calloc(1, sizeof(*s)) : NULL;
	if (!s) {
		free(h);
		return -ENOMEM;
	}
	h->s = s;
	pthread_mutex_init(&s->rl_lock, NULL);
	s->rate_n = o->rate_n;
	s->rate_s = o->rate_s;
	pthread_mutex_init(&s->quota_lock, NULL);
	pthread_mutex_init(&s->sweep_lock, NULL);
	pthread_cond_init(&s->sweep_cond, NULL);
	s->upload_cap = o->upload_cap;
	s->grace = o->grace;
	s->max_conns = max_conns(o->max_conns);
	s->pressure = s->max_conns - s->max_conns / 4;
	atomic_init(&s->conns, 0);
	if (getrandom(&s->boot, sizeof(s->boot), 0) != (ssize_t)sizeof(s->boot))
		s->boot = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	rc = core_local_open(dir, "", &s->base, msg, sizeof(msg));
	if (rc) {
		s->base = NULL;
		fprintf(stderr, "sievefs: %s\n", *msg ? msg : strerror(-rc));
		goto fail;
	}
	s->st = core_local_store(s->base);

	/* the sweeper inherits the caller's signal mask */
	rc = pthread_create(&h->sweeper, NULL, sweep_main, s);
	if (rc) {
		fprintf(stderr, "sievefs: cannot start the upload sweep: %s\n",
			strerror(rc));
		rc = -rc;
		goto fail;
	}
	h->sweeping = 1;

	/* TLS (when on) is the only option that differs between runs:
	 * TLS_PRIORITIES, and the key pair. */
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)o->cert_pem },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o->key_pem },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES },
		{ MHD_OPTION_END, 0, NULL },
	};
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, handler, s,
				MHD_OPTION_SOCK_ADDR, sa,
				MHD_OPTION_THREAD_POOL_SIZE,
				(unsigned)(cores > 0 ? cores : 1),
				MHD_OPTION_URI_LOG_CALLBACK, on_uri, s,
				MHD_OPTION_NOTIFY_COMPLETED, on_done, s,
				MHD_OPTION_NOTIFY_CONNECTION, on_conn, s,
				MHD_OPTION_CONNECTION_LIMIT, s->max_conns,
				MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned)HEAD_TIMEOUT,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				(size_t)65536,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->per_addr,
				o->cert_pem ? MHD_OPTION_ARRAY : MHD_OPTION_END,
				tls, MHD_OPTION_END);
	if (!h->d) {
		rc = -EADDRNOTAVAIL;
		goto fail;
	}
	{
		const union MHD_DaemonInfo *di =
			MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
		*port = di ? (unsigned)di->port : 0;
	}
	*out = h;
	return 0;
fail:
	api_server_stop(h);
	return rc;
}

int api_serve_cli(int argc, char **argv)
{
	const char *dir = NULL, *listen = NULL, *cert = NULL, *key = NULL,
		   *rate = RATE_DEFAULT, *conns = NULL, *maxc = NULL;
	struct api_server_opts o = { .per_addr = CONNS_DEFAULT,
				     .upload_cap = UPLOAD_CAP,
				     .grace = ORPHAN_GRACE };
	const char *grace = NULL, *cap = NULL;
	char *cert_pem = NULL, *key_pem = NULL, host[64];
	struct sockaddr_storage ss;
	struct api_server *h = NULL;
	sigset_t sigs;
	unsigned port = 0;
	int v6 = 0, rc, sig, ret = 1, insecure = 0;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return serve_usage(1);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--insecure-http")) {
			insecure = 1;
			continue;
		}
		const char **opt = !strcmp(argv[i], "--listen") ? &listen :
				   !strcmp(argv[i], "--tls-cert") ? &cert :
				   !strcmp(argv[i], "--tls-key") ? &key :
				   !strcmp(argv[i], "--orphan-grace") ? &grace :
				   !strcmp(argv[i], "--upload-cap") ? &cap :
				   !strcmp(argv[i], "--user-rate") ? &rate :
				   !strcmp(argv[i], "--conns-per-addr") ? &conns :
				   !strcmp(argv[i], "--max-conns") ? &maxc :
				   NULL;
		if (opt && i + 1 < argc)
			*opt = argv[++i];
		else if (!opt && argv[i][0] != '-' && !dir)
			dir = argv[i];
		else
			return serve_usage(0);
	}
	if (!dir || !listen || !cert != !key)
		return serve_usage(0);
	if (url_as_store(dir))
		return 2;
	if (grace && parse_grace(grace, &o.grace)) {
		fprintf(stderr, "sievefs: --orphan-grace %s: want seconds, 1 to"
			" 2592000 (30 days)\n", grace);
		return 2;
	}
	if (cap && parse_bytes(cap, &o.upload_cap)) {
		fprintf(stderr, "sievefs: --upload-cap %s: want a size above 0,"
			" such as 500M or 2G\n", cap);
		return 2;
	}
	if (parse_listen(listen, &ss, &v6)) {
		fprintf(stderr, "sievefs: --listen %s: expected HOST:PORT\n",
			listen);
		return 2;
	}
	if (!cert && !insecure && !listen_loopback(&ss)) {
		fprintf(stderr, "sievefs: --listen %s: refusing plain http on an"
			" address other machines can reach: tokens and samples"
			" would cross the network unencrypted. Give --tls-cert"
			" and --tls-key, listen on 127.0.0.1 behind a TLS proxy,"
			" or add --insecure-http if the network is trusted\n",
			listen);
		return 2;
	}
	if (parse_rate(rate, &o.rate_n, &o.rate_s)) {
		fprintf(stderr, "sievefs: --user-rate %s: expected N/SECONDS"
			" (integers >= 1), e.g. " RATE_DEFAULT "\n", rate);
		return 2;
	}
	if (conns && parse_count(conns, &o.per_addr)) {
		fprintf(stderr, "sievefs: --conns-per-addr %s: expected a"
			" number from 1 to 65535\n", conns);
		return 2;
	}
	if (maxc && parse_count(maxc, &o.max_conns)) {
		fprintf(stderr, "sievefs: --max-conns %s: expected a number"
			" from 1 to 65535\n", maxc);
		return 2;
	}
	if (cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			fprintf(stderr, "sievefs: this libmicrohttpd has no TLS\n");
			return 1;
		}
		if (read_file(cert, &cert_pem) || read_file(key, &key_pem)) {
			fprintf(stderr, "sievefs: cannot read %s or %s\n", cert,
				key);
			free(cert_pem);
			return 1;
		}
		o.cert_pem = cert_pem;
		o.key_pem = key_pem;
	}
	struct stat dst;
	if (stat(dir, &dst) && errno == ENOENT)
		fprintf(stderr, "sievefs: creating new store in %s\n", dir);

	/* Signals are taken by sigwait below; the server's threads (started
	 * after the mask) inherit it. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = api_server_start(dir, (struct sockaddr *)&ss, &o, &h, &port);
	if (rc) {
		if (rc == -EADDRNOTAVAIL)
			fprintf(stderr, "sievefs: cannot listen on %s\n",
				listen);
		goto out;
	}
	getnameinfo((struct sockaddr *)&ss, v6 ? sizeof(struct sockaddr_in6) :
		    sizeof(struct sockaddr_in), host, sizeof(host), NULL, 0,
		    NI_NUMERICHOST);
	fprintf(stderr, "sievefs: listening on %s://%s%s%s:%u\n",
		cert ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "",
		port);
	fflush(stderr);
	do {
		if (sigwait(&sigs, &sig))
			break;
	} while (sig != SIGINT && sig != SIGTERM);
	log_info("stopping the server");
	ret = 0;
out:
	api_server_stop(h);
	free(cert_pem);
	free(key_pem);
	return ret;
}

/* Usage on stdout with status 0 (--help), else on stderr with 2. */
static int token_usage(int help)
{
	fprintf(help ? stdout : stderr,
		"usage: sievefs token create --store STORE USER\n"
		"       sievefs token list --store STORE\n"
		"       sievefs token revoke --store STORE ID\n"
		"API tokens of a server's users (sievefs serve STORE): create"
		" prints a new\n"
		"token once (only its hash is kept), list shows ids, users and"
		" status, revoke\n"
		"stops a token at once.\n");
	return help ? 0 : 2;
}

int api_token_cli(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "", *dir = NULL, *arg = NULL;
	char msg[512] = "", token[STORE_TOKEN_LEN + 1], ts[32];
	struct store_token *v = NULL;
	store *st = NULL;
	int64_t id = 0;
	size_t n = 0;
	int rc, ret = 1;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") ||
		    (i == 1 && !strcmp(argv[i], "help")))
			return token_usage(1);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--store") && i + 1 < argc)
			dir = argv[++i];
		else if (argv[i][0] != '-' && !arg)
			arg = argv[i];
		else
			return token_usage(0);
	}
	if (!dir || (strcmp(cmd, "list") ? !arg : arg != NULL) ||
	    (strcmp(cmd, "create") && strcmp(cmd, "list") &&
	     strcmp(cmd, "revoke")))
		return token_usage(0);
	if (url_as_store(dir))
		return 2;
	if (!strcmp(cmd, "create") && !store_user_valid(arg)) {
		fprintf(stderr, "sievefs: '%s' is not a valid user name: use"
			" 1-64 of A-Z a-z 0-9 . _ - starting with a letter or"
			" digit\n", arg);
		return 2;
	}
	if (!strcmp(cmd, "revoke") && api_id_parse(arg, &id)) {
		fprintf(stderr, "sievefs: '%s' is not a token id\n", arg);
		return 2;
	}
	rc = store_open(dir, STORE_OPEN_ADMIN, &st, msg, sizeof(msg));
	if (rc) {
		fprintf(stderr, "sievefs: %s\n", *msg ? msg : strerror(-rc));
		return 1;
	}
	if (!strcmp(cmd, "create")) {
		rc = store_token_create(st, arg, token, &id);
		if (!rc) {
			printf("%s\n", token);
			fprintf(stderr, "sievefs: token %lld for user '%s'"
				" created; it is shown only this once\n",
				(long long)id, arg);
		}
	} else if (!strcmp(cmd, "list")) {
		rc = store_token_list(st, &v, &n);
		if (!rc)
			printf("%-6s %-24s %-20s %s\n", "ID", "USER", "CREATED",
			       "STATUS");
		for (size_t i = 0; !rc && i < n; i++) {
			time_t t = (time_t)(v[i].created_ns / 1000000000);
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf("%-6lld %-24s %-20s %s\n", (long long)v[i].id,
			       v[i].user, ts, v[i].revoked ? "revoked" :
			       "active");
		}
		free(v);
	} else {
		rc = store_token_revoke(st, id);
		if (!rc)
			fprintf(stderr, "sievefs: token %lld revoked\n",
				(long long)id);
		else if (rc == -ENOENT)
			fprintf(stderr, "sievefs: no token with id %lld\n",
				(long long)id);
	}
	if (rc && rc != -ENOENT)
		fprintf(stderr, "sievefs: token %s: %s\n", cmd, strerror(-rc));
	ret = rc ? 1 : 0;
	store_close(st);
	return ret;
}
