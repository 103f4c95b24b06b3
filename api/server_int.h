/*
 * server_int.h — the inside of `sievefs serve`, shared by the files that
 * make it up. Not an interface: only those files include it (the public
 * entry points are in api/server.h, the test ones in api/server_probe.h).
 *
 *   api/server_http.c  the HTTP plumbing on libmicrohttpd: a request's life
 *                      cycle, connection deadlines, the request line and
 *                      framing checks, auth and limits, the router, body
 *                      sinks, responses, and what every route uses
 *                      (ownership checks, bodies, query parameters)
 *   api/server_ranged.c  the bytes of an open file with one Range:
 *                      200, 206 or 416 (srv_send_fd_ranged)
 *   api/routes_data.c  the v1 routes of datasets, tags, nodes and blobs
 *   api/routes_ctl.c   the v1 routes of control files and embeddings
 *   api/routes_app.c   the v1 routes the web app adds: tokens, a
 *                      dataset's change counters and runs, a tag's
 *                      file names and .tar stream
 *   api/routes_samples.c  the web app's bulk routes: a dataset's sample
 *                      table and the arrays in its order (core/table.c)
 *   api/routes_columns.c  the web app's per-sample columns (issue 21):
 *                      names, and values in the table's order
 *   api/routes_media.c the v1 routes of thumbnails and images of samples
 *   api/routes_lightly.c  the lightly pip package's API under /lightly
 *                      (its own auth by ?token= and signed URLs; its
 *                      router), api/lightly_jobs.c its embeddings,
 *                      sampling and jobs, api/lightly_urls.c its signed
 *                      URLs (api/lightly_int.h between them)
 *   api/web.c          the web app's side: sign-in sessions (/app/...),
 *                      cookie auth's CSRF rule, static files at /, the
 *                      headers every app answer carries
 *   api/server.c       `sievefs serve` and `sievefs token`: their command
 *                      lines
 *   api/server_run.c   startup and shutdown (over a store of its own, or
 *                      over the backend of a mount: api_web_*), the
 *                      listening address, the sweep of uploads no node
 *                      names
 *
 * A route is one row of a table (struct route): the key of its path, its
 * method, its handler, the kind of body it takes and that body's cap. Each
 * routes file exports its table, ended by a row with a NULL key; the router
 * (server_http.c) looks a request up in the tables it lists, so a new
 * group of routes is a file of its own with its table, added to that list.
 * Targets under /lightly are routed by routes_lightly.c (its own table
 * and auth). Other targets whose first segment is not "v1" are the web
 * app's (api/web.c):
 * those under /app/ are looked up by their whole path in srv_routes_app,
 * the rest are static files (srv_route_static); the router does not
 * authenticate them, their handlers call srv_authenticate when they need
 * a user. A handler runs in one of libmicrohttpd's threads
 * once the whole body is in, and returns what its srv_send_* answer
 * returned (MHD_NO closes the connection).
 *
 * Layers (docs/design.md §2.1): these files reach data only through
 * core/ — the per-user view of the backend (core/view.h) and core/'s
 * server operations (core/auth.h, core/serve.h, core/lightly.h) over the
 * opaque store handle s->st — and bytes only through the blob store
 * s->blobs (core/blobs.h). None calls store/ or includes its headers.
 *
 * Names: srv_ for what these files share; api_ stays the prefix of the
 * public entry points. The constants below are the ones more than one of
 * the files needs; the others stay in the file that uses them.
 */
#ifndef SIEVEFS_API_SERVER_INT_H
#define SIEVEFS_API_SERVER_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <microhttpd.h>
#include <openssl/evp.h>

#include "api/json.h"
#include "api/server.h"
#include "core/auth.h"
#include "core/backend.h"
#include "core/blobs.h"
#include "core/serve.h"

#define RAW_MAX 8192                     /* request target, bytes */
#define CAP_JSON (1u << 20)
#define CAP_LINE 4096u
#define CAP_SELECTION (256ull << 20)
#define CAP_CSV (512ull << 20)
#define CAP_BLOB (64ull << 30)
#define RL_SLOTS 1024
#define RATE_SLOTS 1024
/* Connection deadlines, seconds without a byte moving (MHD's timeout is
 * one of inactivity): see srv_on_conn. */
#define HEAD_TIMEOUT 10          /* to send a request head (or a TLS
                                  * handshake), and between body chunks */
#define PRESSED_TIMEOUT 2        /* the same, under pressure */
#define IDLE_TIMEOUT 120         /* an authenticated keep-alive, between
                                  * requests */

/* Defaults of `sievefs serve`'s options, which a mount's web door keeps. */
#define UPLOAD_CAP (1ull << 30)   /* pending bytes per user */
#define ORPHAN_GRACE 3600         /* seconds */
#define RATE_DEFAULT "20000/10"   /* requests per seconds, per user */
#define RATE_N 20000.0            /* the same, as numbers */
#define RATE_S 10.0
#define CONNS_DEFAULT 128         /* concurrent connections per address */
#define MAX_CONNS_DEFAULT 1000    /* concurrent connections in all */
#define SESSION_TTL 604800        /* web sessions, seconds (7 days) */
/* The built web app `make install` puts in place (Makefile); --web-root
 * replaces it. Used only when it exists. */
#ifndef SIEVEFS_WEB_DIR
#define SIEVEFS_WEB_DIR "/usr/local/share/sievefs/web"
#endif
/* The web root used without --web-root (server_run.c): the source tree's
 * web/dist (SIEVEFS_SRC_DIR, Makefile: $(CURDIR)) when this executable
 * lies inside that tree (./sievefs, build/sievefs: `make` then `./sievefs
 * serve` serves the app just built), else SIEVEFS_WEB_DIR. Never fails. */
const char *srv_default_web_root(void);

enum body { B_NONE, B_JSON, B_LINE, B_FILE, B_BLOB };

/* One key's state in a limit table (rl: by address, rate: by user). */
struct rl_slot {
	char key[STORE_USER_MAX + 64];
	int used;
	double start;        /* rl: window start (monotonic s) */
	double last;         /* last use */
	int count;           /* rl: failures in the window */
	double tokens;       /* rate: requests leased, not yet spent */
	double retry;        /* rate: the catalog's bucket is empty until
	                      * then (monotonic s): refused without asking */
	int over;            /* rate: the last request was refused */
};

struct srv {
	struct backend *base;
	store *st;                        /* the catalog, for core/'s server
	                                   * operations (core/auth.h, serve.h,
	                                   * lightly.h): borrowed from base */
	struct core_blobs *blobs;         /* the bytes (core/blobs.h): base's */
	uint64_t boot;                    /* the catalog's epoch (random, made
	                                   * with it, the same on every server:
	                                   * core_catalog_epoch): in every ETag
	                                   * and table gen */
	double rate_n, rate_s;            /* --user-rate N/S */
	pthread_mutex_t rl_lock;          /* protects rl and rate */
	pthread_mutex_t lease_lock;       /* one lease from the catalog at a
	                                   * time (server_http.c, rate_take);
	                                   * taken before rl_lock */
	struct rl_slot rl[RL_SLOTS];
	struct rl_slot rate[RATE_SLOTS];
	uint64_t upload_cap;              /* pending bytes per user */
	unsigned grace;                   /* seconds before a sweep takes one */
	pthread_mutex_t sweep_lock;       /* protects sweep_stop */
	pthread_cond_t sweep_cond;        /* signalled to stop the sweep */
	int sweep_stop;
	unsigned max_conns;               /* the global cap MHD enforces */
	unsigned pressure;                /* conns from which srv_on_conn
	                                   * presses */
	atomic_uint conns;                /* open connections (srv_on_conn) */
	int tls;                          /* 1: https (cookies get Secure,
	                                   * origins are https://) */
	unsigned session_ttl;             /* --session-ttl, seconds */
	int web_fd;                       /* --web-root (O_PATH), -1: none */
	const char *owner;                /* NULL: every user owns datasets
	                                   * of their own (serve); else every
	                                   * signed-in user acts as this owner
	                                   * (a mount's web door: the mount's
	                                   * owner "", see api/server.h) */
	int own_base;                     /* base opened here: stop closes it */
	const struct api_web_hooks *hooks;  /* the mount's, or NULL */
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
	                           * read after srv_on_uri) */
	size_t target_len;        /* its strlen */
	int started;
	const struct route *rt;
	struct api_path path;
	const char *query;        /* into raw, "" if none */
	int64_t id;               /* the id segment, 0 if none */
	unsigned char sha[STORE_SHA_LEN];   /* blob routes */
	char user[STORE_USER_MAX + 1];   /* who signed in: tokens, sessions,
	                                  * the request budget, whoami */
	char owner[STORE_USER_MAX + 1];  /* whose datasets and blobs the
	                                  * request reaches: user, or the
	                                  * srv's fixed owner (a mount's) */
	struct backend *be;       /* the owner's view */
	int web;                  /* the web app's (not under /v1): its
	                           * answers carry srv_web_headers */
	int by_cookie;            /* authenticated by a session cookie */
	int64_t token_id;         /* the token behind this request (the
	                           * session's, by cookie); 0 before auth */
	/* body sink */
	uint64_t got;
	char *buf;
	size_t len;
	int fd;
	char staged[STORE_PATH_MAX];
	EVP_MD_CTX *md;
	struct core_blob_stream *up;  /* B_BLOB: the body also streamed to
	                               * the blob engine (S3), or NULL */
	int ioerr;                /* first write error, -errno */
	int over;                 /* Content-Length over the cap: answered */
	uint64_t discard;         /* bytes dropped past the cap (chunked) */
};

/* ---- the route tables (routes_*.c), each ended by a NULL key ---- */

extern const struct route srv_routes_data[];   /* datasets, tags, nodes,
                                                * blobs */
extern const struct route srv_routes_ctl[];    /* control files,
                                                * embeddings */
extern const struct route srv_routes_app_v1[]; /* tokens, state, runs,
                                                * tag downloads
                                                * (routes_app.c) */
extern const struct route srv_routes_samples[]; /* the sample table and
                                                  * arrays in its order */
/* issue 21 (i21a): predictions/ and metadata/ inputs (routes_inputs.c) */
extern const struct route srv_routes_inputs[];
/* issue 21 item 5 (x1): a tag's exports (routes_exports.c) */
extern const struct route srv_routes_exports[];
/* issue 21 item 6: per-sample columns for the web app (routes_columns.c) */
extern const struct route srv_routes_columns[];
extern const struct route srv_routes_media[];  /* thumbnails, images,
                                                * blob URLs */
extern const struct route srv_routes_upload[]; /* a small file's bytes
                                                * and commit in one
                                                * request (routes_upload.c) */
/* Presigned reads (routes_media.c, issue 19 item 4). srv_presign: 1 with
 * a short-lived URL of the object store for blob sha, 0 when the engine
 * gives none (local blobs, or SIEVEFS_PRESIGN=off), -errno; the caller
 * checks the grant (srv_blob_readable) before handing it out, and never
 * logs it. srv_send_redirect: 307 to url, never cached.
 * srv_blob_redirect: GET /v1/blobs/{sha}?redirect=1 answered with 307
 * after the grant check (1, *ret set), else 0: send the bytes as before.
 * srv_media_origin: the object store's "scheme://host:port" into out (1),
 * or "" (0) when the engine gives no URLs (s may be NULL: only what is
 * known already). */
int srv_presign(struct srv *s, const unsigned char sha[STORE_SHA_LEN],
		char *url, size_t len);
enum MHD_Result srv_send_redirect(struct MHD_Connection *c, const char *url);
int srv_blob_redirect(struct srv *s, struct req *r, struct MHD_Connection *c,
		      enum MHD_Result *ret);
int srv_media_origin(struct srv *s, char *out, size_t len);
struct tbl_cache;
/* The process's one cache of sample tables and layouts (core/table.h),
 * made on first use (routes_samples.c), shared by the web app's bulk
 * routes and the lightly door; NULL when out of memory. */
struct tbl_cache *srv_table_cache(struct srv *s);
struct tbl;
/* X-Sievefs-Count and X-Sievefs-Gen of table t on resp (the bulk routes'
 * answers, routes_samples.c). */
void srv_table_headers(struct MHD_Response *resp, const struct tbl *t);
/* The members of tag tid (0: the dataset's selection) in t's order, one
 * byte a sample, into *out (malloc'd, the caller frees): the tag checked
 * against the request's user and dataset (404 "no such tag in this
 * dataset"). 0, or -1 with the error answered in *ret. */
int srv_table_members(struct srv *s, struct req *r, struct MHD_Connection *c,
		      struct tbl *t, int64_t tid, uint8_t **out,
		      enum MHD_Result *ret);
extern const struct route srv_routes_app[];    /* /app/..., keyed by the
                                                * whole path (web.c) */
/* Looks key and method up in tabs: 0 with r->rt, or 404 (no such key) /
 * 405 (the key, not with this method) answered (1). */
int srv_find_route(struct req *r, struct MHD_Connection *c,
		   const struct route *const *tabs, size_t ntabs,
		   const char *key, const char *method, enum MHD_Result *ret);

/* ---- the lightly door (routes_lightly.c), /lightly/... ---- */

/* Cuts the query off r->raw into r->query ("" if none); every router
 * (server_http.c's, the lightly door's) starts with it. */
void srv_split_query(struct req *r);

/* 1 if the raw target's first segment is "lightly". */
int srv_lightly_target(const struct req *r);
/* Authenticates (?token=, or a signed URL's signature) and routes a
 * /lightly target: 0 with r->rt, r->user and r->owner set, or answered
 * (1). s is NULL in the route probe: nothing is authenticated. */
int srv_route_lightly(struct srv *s, struct req *r, struct MHD_Connection *c,
		      const char *method, enum MHD_Result *ret);

extern const struct route srv_route_static;    /* GET/HEAD of anything
                                                * else (web.c) */

/* ---- libmicrohttpd's callbacks (server_http.c), for MHD_start_daemon */

/* MHD_AccessHandlerCallback; cls is the struct srv. */
enum MHD_Result srv_handler(void *cls, struct MHD_Connection *c,
			    const char *url, const char *method,
			    const char *version, const char *data,
			    size_t *data_size, void **con_cls);
/* MHD_OPTION_URI_LOG_CALLBACK: allocates the struct req (NULL if out of
 * memory; srv_handler answers 503). */
void *srv_on_uri(void *cls, const char *uri, struct MHD_Connection *c);
/* MHD_OPTION_NOTIFY_CONNECTION: counts connections, sets deadlines. */
void srv_on_conn(void *cls, struct MHD_Connection *c, void **socket_ctx,
		 enum MHD_ConnectionNotificationCode code);
/* MHD_OPTION_NOTIFY_COMPLETED: frees the struct req, whatever happened. */
void srv_on_done(void *cls, struct MHD_Connection *c, void **con_cls,
		 enum MHD_RequestTerminationCode toe);

/* ---- responses (server_http.c) ----
 * Each queues an answer on c and returns what MHD_queue_response did
 * (MHD_NO when out of memory: MHD closes the connection). Buffers and
 * cJSON trees passed in are taken over, also on failure. */

/* Queues resp (destroyed here; NULL: MHD_NO) with an optional type. */
/* Answers the bytes of fd (size of them; the call owns fd) honouring one
 * Range of the request: 200, 206 with Content-Range, or 416. headers:
 * name, value pairs ended by NULL (a NULL value skips its pair), added to
 * the 200/206, with Accept-Ranges; type is the Content-Type. */
enum MHD_Result srv_send_fd_ranged(struct MHD_Connection *c, int fd,
				   int64_t size, const char *type,
				   const char *const *headers);
enum MHD_Result srv_send_resp(struct MHD_Connection *c, unsigned status,
			      struct MHD_Response *resp, const char *ctype);
/* A malloc'd buffer (NULL: an empty body). */
enum MHD_Result srv_send_buf(struct MHD_Connection *c, unsigned status,
			     const char *ctype, char *buf, size_t len);
enum MHD_Result srv_send_json(struct MHD_Connection *c, unsigned status,
			      cJSON *j);
/* An error body (docs/api.md, "Errors"): code, errno name, message. */
enum MHD_Result srv_send_err(struct MHD_Connection *c, unsigned status,
			     const char *code, const char *ename,
			     const char *msg);
/* An error from an operation: -errno, with a reason when msg is set. */
enum MHD_Result srv_send_errno(struct MHD_Connection *c, int rc,
			       const char *msg);
enum MHD_Result srv_send_empty(struct MHD_Connection *c, unsigned status);
/* j with status, or the error rc when rc is not 0 (j is then NULL). */
enum MHD_Result srv_send_obj(struct MHD_Connection *c, unsigned status,
			     int rc, cJSON *j);
/* 200 with j and its validator. */
enum MHD_Result srv_send_tagged(struct MHD_Connection *c, cJSON *j,
				const char *etag);
/* 304 with the validator. */
enum MHD_Result srv_send_not_modified(struct MHD_Connection *c,
				      const char *etag);
/* 1 if the request's If-None-Match names etag ("*" too), else 0. */
int srv_none_match_hit(struct MHD_Connection *c, const char *etag);
/* 200 with text (malloc'd, taken over), or the error rc. */
enum MHD_Result srv_send_text(struct MHD_Connection *c, int rc,
			      const char *ctype, char *text, size_t len);

/* A response with j's text (j taken over), or NULL when out of memory. */
struct MHD_Response *srv_json_resp(cJSON *j);

/* ---- idempotency keys (server_idem.c; part "deploy") ---- */

/* Runs the request's route, honouring its Idempotency-Key (replays a
 * stored answer instead when the key was used; see server_idem.c). */
enum MHD_Result srv_idem_run(struct srv *s, struct req *r,
			     struct MHD_Connection *c, const char *method);
/* Tells the keyed request of this thread (if any) the body of resp. */
void srv_idem_body(struct MHD_Response *resp, const char *body, size_t len);
/* srv_send_resp's hook: a keyed request's answer is stored (resp
 * returned), or replaced by the answer of the try that holds the key
 * (*status changed, resp destroyed). NULL when out of memory. */
struct MHD_Response *srv_idem_answer(struct MHD_Connection *c,
				     unsigned *status,
				     struct MHD_Response *resp,
				     const char *ctype);

/* ---- auth (server_http.c) ---- */

/* The name of the session cookie (web.c sets it, the auth reads it). */
#define SRV_COOKIE "sievefs_session"

/* Authenticates the request (a bearer token, else a session cookie, with
 * the CSRF rule of web.c for a cookie on a method other than GET/HEAD)
 * and takes one request of its user's budget: 0 with r->user set, or 1
 * with the error (401, 403, 429, 503) answered into *ret. */
int srv_authenticate(struct srv *s, struct req *r, struct MHD_Connection *c,
		     const char *method, enum MHD_Result *ret);
/* The second half of srv_authenticate, for doors that carry the secret
 * elsewhere (routes_lightly.c: ?token=, signed URLs): checks `token`, or
 * takes `user` as signed in (the caller verified a signature), then sets
 * r->owner and takes one request of the user's budget. 0, or 1 with the
 * error answered into *ret. */
int srv_auth_token(struct srv *s, struct req *r, struct MHD_Connection *c,
		   const char *token, enum MHD_Result *ret);
int srv_auth_user(struct srv *s, struct req *r, struct MHD_Connection *c,
		  const char *user, enum MHD_Result *ret);
/* A failed check of a secret (token or session) from the client's address:
 * counted, logged with `what`; answers 401 with msg, or 429 once the
 * address is over the limit. */
enum MHD_Result srv_refuse_secret(struct srv *s, struct MHD_Connection *c,
				  const char *what, const char *msg);

/* ---- the web app (web.c) ---- */

/* Adds the headers every answer of the web app carries (CSP, nosniff,
 * no referrer, no framing). */
void srv_web_headers(struct MHD_Response *resp);
/* 1 if the request's Origin is the server's own (scheme://Host), or it
 * has none and `required` is 0; else 0. */
int srv_origin_ok(struct srv *s, struct MHD_Connection *c, int required);
/* 403 csrf: a cookie-authenticated change without the server's Origin. */
enum MHD_Result srv_send_csrf(struct MHD_Connection *c);

/* ---- ownership (server_http.c) ----
 * The dataset, tag, node or embedding `id` into the record when the
 * request's owner (r->owner, not r->user: see struct req) owns its
 * dataset: 0, -ENOENT also when another user owns it (no existence leak),
 * or another -errno of the store. Every route that reaches data by id
 * checks it with these, and reads blobs with srv_blob_readable. */

int srv_own_ds(struct srv *s, struct req *r, int64_t id,
	       struct store_dataset *d);
int srv_own_tag(struct srv *s, struct req *r, int64_t id,
		struct store_tag *t);
int srv_own_node(struct srv *s, struct req *r, int64_t ino,
		 struct store_node *n);
int srv_own_emb(struct srv *s, struct req *r, int64_t id,
		struct store_embedding *e);

/* 1 if the request's owner may read or reference blob sha, 0 if not, or
 * -errno (core_blob_readable): a server user once they have sent its bytes;
 * the embedded owner "" (a mount's web door) also when a node of its
 * datasets names it (bytes copied in through the mount carry no grant). */
int srv_blob_readable(struct srv *s, struct req *r,
		      const unsigned char sha[STORE_SHA_LEN]);

/* ---- the mount's hooks (api/server.h, struct api_web_hooks) ----
 * Routes that remove or rename a dataset or a tag call these, so that a
 * mount serving the API keeps its own caches true. No-ops under serve. */
static inline void srv_before_remove(struct srv *s)
{
	if (s->hooks && s->hooks->before_remove)
		s->hooks->before_remove(s->hooks->arg);
}

static inline void srv_name_gone(struct srv *s, int64_t ds, const char *name)
{
	if (s->hooks && s->hooks->name_gone)
		s->hooks->name_gone(s->hooks->arg, ds, name);
}

/* ---- bodies and query parameters (server_http.c) ---- */

/* The JSON body parsed (free with cJSON_Delete), or NULL after answering
 * 400 into *ret. */
cJSON *srv_body_json(struct req *r, struct MHD_Connection *c,
		     enum MHD_Result *ret);
/* 400 "missing or mistyped field: what". */
enum MHD_Result srv_bad_field(struct MHD_Connection *c, const char *what);
/* Maps a staged (B_FILE) body read-only: 0 with *text ("" when empty) and
 * *map to munmap(*map, *len) when not NULL, or -errno. */
int srv_body_map(struct req *r, const char **text, size_t *len,
		 void **map);
/* A query parameter into buf: 1 present, 0 absent, or answered 400 into
 * *ret (-1). */
int srv_query(struct req *r, struct MHD_Connection *c, const char *key,
	      char *buf, size_t len, enum MHD_Result *ret);

/* ---- startup (server_run.c), for both command lines ---- */

struct sockaddr_storage;
/* "HOST:PORT" or "[V6]:PORT" into *ss (*v6: an IPv6 address): 0 or
 * -EINVAL. */
int srv_parse_listen(const char *spec, struct sockaddr_storage *ss, int *v6);
/* 1 if only this machine can reach ss: 127.0.0.0/8, ::1, ::ffff:127.x.y.z
 * (a wildcard such as 0.0.0.0 is not). */
int srv_listen_loopback(const struct sockaddr_storage *ss);
/* A file of at most 1 MiB into *out (NUL-ended, malloc'd): 0 or -errno. */
int srv_read_file(const char *path, char **out);
/* "http(s)://HOST:PORT" of ss with `port` into buf. */
void srv_url(const struct sockaddr_storage *ss, unsigned port, int tls,
	     char *buf, size_t len);

/* ---- uploads (routes_data.c) ---- */

/* 0 if the request's user may add `more` bytes of uploads no node names
 * (--upload-cap), else 1 with the 507 (or the error of the count)
 * answered into *ret: the early check, before the body, on its
 * Content-Length (srv_blob_keep makes the exact one). */
int srv_quota_refuses(struct srv *s, struct req *r, struct MHD_Connection *c,
		      uint64_t more, enum MHD_Result *ret);
/* Keeps the request's staged body (B_BLOB, r->sha set) as a blob of its
 * owner, with the grant and the pending row, after the exact check of the
 * cap, made inside the keep's write transaction in the catalog (so PUTs
 * in parallel, on any servers of the catalog, cannot add up past it): 0,
 * or 1 with the 507 or the store's error answered into *ret. Every route
 * that takes a blob's bytes keeps them through this. */
int srv_blob_keep(struct srv *s, struct req *r, struct MHD_Connection *c,
		  enum MHD_Result *ret);
/* 1 if the request's body (B_BLOB) arrived whole and hashes to r->sha;
 * else 0 with the error answered into *ret (the read's, or 400
 * "hash_mismatch" with the message `mismatch`). */
int srv_blob_body_ok(struct req *r, struct MHD_Connection *c,
		     const char *mismatch, enum MHD_Result *ret);
/* Points file node `ino` at blob `sha` the request's owner has sent: 0,
 * -ENOENT when not sent (or collected meanwhile), -EINVAL when its size is
 * not `size`, or another -errno of the commit (routes_data.c). */
int srv_commit_blob(struct srv *s, struct req *r, int64_t ino,
		    const unsigned char *sha, int64_t size, int64_t mtime,
		    int durable);
/* A node's JSON (with its thumbnail fields) with status st, or the error
 * rc when not 0. */
enum MHD_Result srv_send_node(struct srv *s, const struct req *r,
			      struct MHD_Connection *c, unsigned st, int rc,
			      const struct store_node *n);
/* 409 "blob_missing" (EAGAIN): PUT the blob and commit again. */
enum MHD_Result srv_blob_missing(struct MHD_Connection *c);

#endif
