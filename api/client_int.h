/*
 * client_int.h — what the files of the remote client share; not part of
 * the client's interface (api/client.h). Names here start with cl_.
 *
 *   api/client.c         the backend_ops table, datasets, tags, control
 *                        files, embeddings, statfs; opening and closing
 *   api/client_http.c    the transport: curl handles, one request with
 *                        retries, errors to errno, JSON requests
 *   api/client_nodes.c   nodes: lookups, listings, node records
 *   api/client_fetch.c   sample bytes read: blob fetch, prefetch, node_open
 *   api/client_upload.c  sample bytes written: staging, commits in each
 *                        upload mode, upload=meta pins
 *   api/client_whole.c   folders this mount knows whole (absent names
 *                        answered without a request)
 *
 * One struct client per mount (api_client_open); every file works on it
 * through these declarations, none reaches into another's statics.
 * Every function returns 0 or -errno unless its comment says otherwise;
 * none holds a lock across a request.
 *
 * Locks of struct client: share_lock[] (libcurl's share handle), hlock
 * (the handle list), down_lock (down_until, wrote_at), pf_lock (the pf_
 * fields). No two are ever held at once, so there is no lock order.
 */
#ifndef SIEVEFS_API_CLIENT_INT_H
#define SIEVEFS_API_CLIENT_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "api/client.h"
#include "core/backend.h"

#define PF_THREADS 4                   /* background blob transfers */
#define PF_BUSY 32                     /* blobs being fetched, at most */
#define PF_DIRS 256                    /* folders remembered as queued */
#define PF_QUEUE 65536                 /* queued blobs, at most */
#define PU_BUCKETS 4096                /* presigned URLs kept: hash buckets */
#define PU_MAX 16384                   /* presigned URLs kept, at most */

struct purl;                           /* client_fetch.c */

struct pf_item {
	unsigned char sha[STORE_SHA_LEN];
	int64_t size, parent;
	struct pf_item *next;
};

struct hnode;                          /* client_http.c */
struct cl_whole;                       /* client_whole.c */

struct client {
	struct backend be;
	struct backend_ops ops;        /* per client: live_ttl is an option */
	char base[512];                /* scheme://host:port, no trailing / */
	char auth[160];                /* "Authorization: Bearer ..." */
	char cafile[4096];             /* "" = the system's CA store */
	int plain;                     /* http:// (to loopback): no proxy */
	enum api_upload upload;
	CURLSH *share;
	pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
	pthread_key_t key;
	pthread_mutex_t hlock;         /* protects handles */
	struct hnode *handles;
	pthread_mutex_t down_lock;     /* protects down_until, wrote_at */
	double down_until;
	double wrote_at;               /* last change of nodes by this mount */
	struct cache_blobs *blobs;
	struct cache_meta *meta;
	double meta_ttl;
	uint64_t cache_size;           /* the blob cache's bound */
	/* Prefetch (see there). pf_lock protects every pf_ field; no other
	 * lock is taken while it is held. */
	pthread_mutex_t pf_lock;
	pthread_cond_t pf_work;        /* queue not empty, or pf_stop */
	pthread_cond_t pf_done;        /* a pf_busy slot was freed, or an
					* ask for URLs ended (pu_asking) */
	struct pf_item *pf_head, *pf_tail;
	size_t pf_len;
	uint64_t pf_bytes;             /* sizes of the queued items */
	unsigned char pf_busy[PF_BUSY][STORE_SHA_LEN]; /* being fetched */
	int pf_busy_on[PF_BUSY];
	int64_t pf_dirs[PF_DIRS];      /* folders queued lately (a ring) */
	size_t pf_dir_next;
	int64_t pf_failed;             /* folder whose last fetch failed */
	pthread_t pf_tid[PF_THREADS];
	int pf_threads, pf_stop;
	/* Presigned URLs of the object store (client_fetch.c), also under
	 * pf_lock: the ones asked for and not used yet, by hash. */
	struct purl *pu[PU_BUCKETS];
	size_t pu_n;
	int pu_off;                    /* 1: the server gives none (or off) */
	int pu_asking;                 /* a thread is asking for URLs: the
					* others wait on pf_done */
	atomic_int pinning;            /* upload=meta commits under way */
	struct cl_whole *whole;        /* folders known whole; own lock */
};

static inline struct client *C(struct backend *be)
{
	return (struct client *)be;
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- folders known whole (client_whole.c) ---- */

int cl_whole_init(struct client *c);
void cl_whole_free(struct client *c);
/* dir was created by this mount: empty at t0 (now_s() before its request). */
void cl_whole_made(struct client *c, int64_t dir, double t0);
/* A listing of all of dir, asked for at t0, named these n names: renews
 * dir's record, if it still has one (names added meanwhile stay). */
void cl_whole_vouch(struct client *c, int64_t dir, double t0,
		    const char *const *names, size_t n);
/* dir is no longer known whole (a listing failed or was too long). */
void cl_whole_drop(struct client *c, int64_t dir);
/* This mount is about to make `name` in dir (create, rename target). */
void cl_whole_named(struct client *c, int64_t dir, const char *name);
/* 1: name is absent from dir (known whole, fresh); 0: not known; -1: dir
 * was known whole, but that has expired (a listing would renew it). */
int cl_whole_absent(struct client *c, int64_t dir, const char *name);

/* ---- transport (client_http.c) ---- */

struct rbuf {
	char *p;
	size_t len, cap, max;
	int over;
};

struct req {
	const char *method;
	const char *path;              /* "/v1/...", query included, encoded */
	const char *abs;               /* else: this whole URL (an object
					* store's presigned one) with no
					* credential of ours; path then
					* names it in logs, without query */
	const char *body;              /* in-memory request body, or NULL */
	size_t blen;
	const char *ctype;
	int in_fd;                     /* >= 0: PUT body streamed from fd */
	int64_t in_size, in_off;
	int out_fd;                    /* >= 0: 2xx body into this fd */
	int64_t out_len;
	EVP_MD_CTX *out_sha;           /* hashes what goes to out_fd */
	int out_err;
	size_t max;                    /* cap on an in-memory body */
	int quiet404;                  /* 404 is an answer, log at debug */
	int unkeyed;                   /* a change whose repeat changes
	                                * nothing more: no Idempotency-Key
	                                * (spares the server the key's rows),
	                                * retried as a PUT */
	char *msg;                     /* BE_MSG: the server's message */
	const char *inm;               /* If-None-Match: a 304 is an answer */
	int want_etag;                 /* keep the answer's ETag in etag */
	/* results */
	CURL *h;
	long status;
	char etag[96];                 /* "" if none, or too long to keep */
	struct rbuf resp;
	char code[48];                 /* error body's stable code */
	char curlerr[CURL_ERROR_SIZE];
	int net;                       /* failed without an HTTP answer */
};

#define REQ(m, p) { .method = (m), .path = (p), .in_fd = -1, .out_fd = -1 }

/* Sets up the transport of a new (zeroed) client: the locks share_lock[],
 * hlock and down_lock, the key of the per-thread easy handles, and the
 * share handle. 0, or -ENOMEM with nothing left to undo but free(c). */
int cl_transport_init(struct client *c);
/* Undoes cl_transport_init, every thread's easy handle included. No
 * request may be running. */
void cl_transport_free(struct client *c);

/* 1 while the server counts as down (a network failure in the last 2 s). */
int cl_server_down(struct client *c);

/* Runs a request with retries. 0 for a 2xx answer (or a 304 to r->inm),
 * else -errno. The answer's body, if kept in memory, is r->resp: free
 * with cl_req_free. */
int cl_http(struct client *c, struct req *r);
void cl_req_free(struct req *r);

/* Percent-encodes s (RFC 3986 unreserved bytes kept) into out;
 * -ENAMETOOLONG if it does not fit. */
int cl_pct(const char *s, char *out, size_t len);
/* snprintf into buf; -ENAMETOOLONG if it does not fit. */
int cl_pathf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* How cl_get_body answered. */
enum got {
	GOT_CACHED,        /* a fresh cached copy, no request */
	GOT_FETCHED,       /* a full answer (cached, when asked, with its ETag) */
	GOT_REVALIDATED,   /* 304: the expired copy is current, and it and the
			    * records primed from it are fresh again */
	GOT_STALE,         /* the server unreachable: an expired copy */
};

/* GET path, through the metadata cache when `cached` (see there); *out
 * malloc'd and NUL-terminated, caller frees. */
int cl_get_body(struct client *c, const char *path, int cached,
		char **out, size_t *len, enum got *how);
/* Parses a body GOT from path; NULL (logged) if it is not JSON. */
cJSON *cl_parse_body(const char *path, const char *body, size_t len);
/* GET path as JSON; *fresh (may be NULL): a full answer just arrived. */
int cl_get_json_f(struct client *c, const char *path, int cached,
		  cJSON **out, int *fresh);
int cl_get_json(struct client *c, const char *path, int cached,
		cJSON **out);
/* Sends a JSON body (NULL: none); the JSON answer into *out (may be NULL,
 * and is NULL after a 204). msg: the server's message (BE_MSG), or NULL. */
int cl_send_json(struct client *c, const char *method, const char *path,
		 const cJSON *body, cJSON **out, char *msg);
/* The same, unkeyed (struct req): for a change whose repeat changes
 * nothing more. */
int cl_send_json_u(struct client *c, const char *method, const char *path,
		   const cJSON *body, cJSON **out, char *msg, int unkeyed);
/* Decodes {"key":[...]} into a malloc'd array of n records. */
int cl_decode_list(const cJSON *j, const char *key, size_t size,
		   int (*one)(const cJSON *, void *), void **out, size_t *n);

/* Invalidation after our own changes: of nodes (records, lookups,
 * listings, counts), or of everything. */
void cl_changed_nodes(struct client *c);
void cl_changed_all(struct client *c);

/* ---- nodes (client_nodes.c) ---- */

/* Caches each item of a list just fetched under the paths that would
 * fetch it alone, in the group of head (the list's own cache key). */
void cl_prime(struct client *c, const cJSON *list, const char *key,
	      const char *head, const char *name_pre,
	      const char *id_field, const char *id_pre);
/* upload=thumbnails: a node as this machine sees it (its thumbnail's hash
 * and size unless its bytes are pinned here). */
void cl_thumb_view(struct client *c, const cJSON *j, be_node *n);
/* The cache key (request path) of parent's one-page listing. */
void cl_listing_path(char *path, size_t len, int64_t parent);

/* Keeps the node record j (a server's answer to a change of ours, after
 * cl_changed_nodes) as the node's fresh record; anything else is ignored. */
void cl_node_remember(struct client *c, const cJSON *j);

int cl_node_get(struct backend *be, int64_t ino, be_node *out);
int cl_node_lookup(struct backend *be, int64_t parent, const char *name,
		   be_node *out);
int cl_node_children(struct backend *be, int64_t parent, be_node **out,
		     size_t *n);
int cl_node_create(struct backend *be, int64_t parent, const char *name,
		   const struct store_newnode *nn, be_node *out);
int cl_node_remove(struct backend *be, int64_t parent, const char *name,
		   int is_dir);
int cl_node_rename(struct backend *be, int64_t parent, const char *name,
		   int64_t newparent, const char *newname, int noreplace);
int cl_node_setattr(struct backend *be, int64_t ino, int what,
		    uint32_t mode, uint32_t uid, uint32_t gid,
		    int64_t mtime_ns, int64_t atime_ns);

/* ---- reading bytes (client_fetch.c) ---- */

int cl_node_open(struct backend *be, const be_node *n);
/* Stops the prefetch threads (waiting for their transfers) and empties the
 * queue. */
void cl_prefetch_stop(struct client *c);

/* ---- selection inputs (client_inputs.c; issue 21, i21a) ---- */

int cl_input_list(struct backend *be, int64_t ds, int kind,
		  struct store_input **out, size_t *n);
int cl_input_get(struct backend *be, int64_t ds, int kind, const char *name,
		 struct store_input *out);
int cl_input_get_id(struct backend *be, int64_t id, struct store_input *out);
int cl_input_put(struct backend *be, int64_t ds, int kind, const char *name,
		 const char *text, size_t len, char *msg);
int cl_input_delete(struct backend *be, int64_t id);
int cl_input_export(struct backend *be, int64_t id, int what, int fd);
int cl_imgmeta_read(struct backend *be, int64_t ds, char **out, size_t *len);
int cl_node_imgmeta(struct backend *be, int64_t ino, struct emb_imgstats *out);

/* ---- uploads (client_upload.c) ---- */

int cl_staging_create(struct backend *be, char *path, size_t len);
int cl_node_commit(struct backend *be, int64_t ino, int fd,
		   const char *staged,
		   const unsigned char sha[STORE_SHA_LEN], int64_t size,
		   int64_t mtime_ns, int durable);
/* Releases the pins of those of sha[0..n) no sample names any more;
 * returns how many went. cl_pins_reconcile: every pin of the cache. */
size_t cl_pins_release(struct client *c,
		       const unsigned char (*sha)[STORE_SHA_LEN], size_t n);
void cl_pins_reconcile(struct client *c, const char *why);

#endif
