/*
 * client.c — remote mode: every backend op as requests to a sievefs server
 * (docs/api.md), over libcurl, with cache/ in front.
 *
 * Transport. One CURLSH shares connections, DNS and TLS sessions between
 * threads (its locks: one mutex per curl_lock_data); each thread has its own
 * easy handle (a pthread key), so requests run in parallel over kept-alive
 * connections. Connect timeout 5 s; a transfer that moves nothing for 30 s is
 * aborted; JSON requests have 60 s in all.
 *
 * Retries: up to 3 more tries after 0.2, 0.4 and 0.8 s on network errors and
 * 5xx, never on 4xx. Requests that are not idempotent (POST, PATCH, DELETE)
 * are retried on a network error only when nothing reached the server
 * (could not connect). After a network failure the server counts as down for
 * 2 s: requests in that window make one try each, so a mount whose server is
 * gone answers from its caches without stalling on backoff.
 *
 * Caches. Sample bytes: cache/blobs, by content hash — GET once, verified
 * against the hash, then served from disk; an upload's staging file is linked
 * into the cache as it is committed. Without -o cache_dir, one cache per
 * server and user under the default root (open_user_cache says why). Metadata (JSON of GETs of datasets,
 * tags, nodes, embeddings, statfs): cache/meta for meta_ttl seconds, keyed by
 * request path; our own changes drop the affected prefixes at once. When the
 * server cannot be reached, an expired metadata entry is served rather than
 * nothing (so cached files stay readable with the server down). Control
 * files (selection, info, log, sample, scores, plot) are never cached.
 * A lookup that misses is answered by one listing of its folder (when the
 * folder fits in a page and this mount is not busy writing), which also
 * primes the node records open wants: warm reads of a tree cost a request
 * per folder per meta_ttl, not three per file. A blob missing at open queues
 * its folder's other blobs for background fetching (see "prefetch").
 *
 * Revalidation. A listing comes with an ETag (the folder's change counter
 * on the server) and is cached with it; the records primed from it join its
 * group in cache/meta. When it expires, the next GET carries If-None-Match;
 * a 304 (no body) extends the listing and every record of its group in one
 * step, and lookups go on being answered from those records: an unchanged
 * folder costs one small request per meta_ttl, nothing parsed or primed.
 * A 200 replaces the listing and primes again, as a first fetch does. Our
 * own changes drop listings and records at once (changed_nodes), so the
 * next request is unconditional; the unreachable-server fallback serves the
 * expired copy as before (get_body).
 *
 * Errors: translated once, here: the error body's errno name (api/json.h),
 * else 401/403 → EACCES, 404 → ENOENT, anything else EIO. Each failed request
 * logs one line (404s at debug level: a lookup of a missing name is normal).
 *
 * Threads: `hlock` protects the handle list; `down_lock` the down-until time;
 * the caches lock themselves. No lock is held across a request.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "api/client.h"
#include "api/json.h"
#include "cache/blobs.h"
#include "cache/meta.h"
#include "core/log.h"
#include "embed/thumb.h"

#define URL_MAX 2048
#define JSON_MAX (64u << 20)           /* cap on a JSON response */
#define TEXT_MAX (512u << 20)          /* cap on a control file's text */
#define META_BYTES (64u << 20)
#define RETRIES 3
#define DOWN_S 2.0
#define PF_THREADS 4                   /* background blob transfers */
#define PF_BUSY 32                     /* blobs being fetched, at most */
#define PF_DIRS 256                    /* folders remembered as queued */
#define PF_QUEUE 65536                 /* queued blobs, at most */

struct pf_item {
	unsigned char sha[STORE_SHA_LEN];
	int64_t size, parent;
	struct pf_item *next;
};

struct hnode {
	CURL *h;
	struct client *c;
	struct hnode *prev, *next;
};

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
	pthread_cond_t pf_done;        /* a pf_busy slot was freed */
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
	atomic_int pinning;            /* upload=meta commits under way */
};

static struct client *C(struct backend *be)
{
	return (struct client *)be;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- handles ---- */

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a,
		       void *arg)
{
	struct client *c = arg;

	(void)h;
	(void)a;
	pthread_mutex_lock(&c->share_lock[d < CURL_LOCK_DATA_LAST ? d : 0]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *arg)
{
	struct client *c = arg;

	(void)h;
	pthread_mutex_unlock(&c->share_lock[d < CURL_LOCK_DATA_LAST ? d : 0]);
}

static void hnode_free(struct hnode *n)
{
	curl_easy_cleanup(n->h);
	free(n);
}

/* Thread exit: the thread's handle goes. */
static void handle_dtor(void *p)
{
	struct hnode *n = p;
	struct client *c = n->c;

	pthread_mutex_lock(&c->hlock);
	if (n->prev)
		n->prev->next = n->next;
	else
		c->handles = n->next;
	if (n->next)
		n->next->prev = n->prev;
	pthread_mutex_unlock(&c->hlock);
	hnode_free(n);
}

static CURL *handle(struct client *c)
{
	struct hnode *n = pthread_getspecific(c->key);

	if (n)
		return n->h;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->h = curl_easy_init();
	if (!n->h) {
		free(n);
		return NULL;
	}
	n->c = c;
	if (pthread_setspecific(c->key, n)) {
		hnode_free(n);
		return NULL;
	}
	pthread_mutex_lock(&c->hlock);
	n->next = c->handles;
	if (c->handles)
		c->handles->prev = n;
	c->handles = n;
	pthread_mutex_unlock(&c->hlock);
	return n->h;
}

/* ---- one request ---- */

struct rbuf {
	char *p;
	size_t len, cap, max;
	int over;
};

struct req {
	const char *method;
	const char *path;              /* "/v1/...", query included, encoded */
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

static size_t on_write(char *data, size_t size, size_t nmemb, void *arg)
{
	struct req *r = arg;
	size_t n = size * nmemb;
	long st = 0;

	curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &st);
	if (r->out_fd >= 0 && st >= 200 && st < 300) {
		for (size_t off = 0; off < n;) {
			ssize_t w = write(r->out_fd, data + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0) {
				r->out_err = -errno;
				return 0;
			}
			off += (size_t)w;
		}
		if (r->out_sha)
			EVP_DigestUpdate(r->out_sha, data, n);
		r->out_len += (int64_t)n;
		return n;
	}
	struct rbuf *b = &r->resp;
	if (b->len + n + 1 > b->max) {
		b->over = 1;
		return 0;
	}
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->over = 1;
			return 0;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

static size_t on_read(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct req *r = arg;
	size_t want = size * nmemb;
	ssize_t got;

	if (r->in_off >= r->in_size)
		return 0;
	if ((int64_t)want > r->in_size - r->in_off)
		want = (size_t)(r->in_size - r->in_off);
	do
		got = pread(r->in_fd, buf, want, r->in_off);
	while (got < 0 && errno == EINTR);
	if (got <= 0)
		return CURL_READFUNC_ABORT;   /* file shrank or failed */
	r->in_off += got;
	return (size_t)got;
}

static int is_idempotent(const char *m)
{
	return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "PUT");
}

static int retryable(const struct req *r, CURLcode res)
{
	if (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST)
		return 1;
	if (!is_idempotent(r->method))
		return 0;
	return res == CURLE_OPERATION_TIMEDOUT || res == CURLE_SEND_ERROR ||
	       res == CURLE_RECV_ERROR || res == CURLE_GOT_NOTHING ||
	       res == CURLE_PARTIAL_FILE || res == CURLE_SSL_CONNECT_ERROR;
}

static void setup(struct client *c, struct req *r, struct curl_slist *hdr,
		  const char *url)
{
	CURL *h = r->h;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_SHARE, c->share);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 5L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 30L);
	if (r->in_fd < 0 && r->out_fd < 0)
		curl_easy_setopt(h, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, r->curlerr);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	/* Plain http is allowed to loopback only because it stays on this
	 * machine: an http_proxy of the environment would carry the token
	 * off it in clear. (https through a proxy is an end-to-end tunnel.) */
	if (c->plain)
		curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (c->cafile[0])
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cafile);
	if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (r->in_fd >= 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, r);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE,
				 (curl_off_t)r->in_size);
	} else if (r->body) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)r->blen);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	} else if (strcmp(r->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
}

/* Resets what a try accumulates, so a retry starts clean. */
static int restart(struct req *r, off_t out_start)
{
	r->resp.len = 0;
	r->resp.over = 0;
	if (r->resp.p)
		r->resp.p[0] = '\0';
	r->in_off = 0;
	r->out_len = 0;
	r->out_err = 0;
	r->code[0] = '\0';
	r->curlerr[0] = '\0';
	r->status = 0;
	r->net = 0;
	r->etag[0] = '\0';
	if (r->out_fd >= 0) {
		if (ftruncate(r->out_fd, out_start) ||
		    lseek(r->out_fd, out_start, SEEK_SET) < 0)
			return -errno;
		if (r->out_sha && !EVP_DigestInit_ex(r->out_sha, EVP_sha256(),
						     NULL))
			return -ENOMEM;
	}
	return 0;
}

static int server_down(struct client *c)
{
	int down;

	pthread_mutex_lock(&c->down_lock);
	down = now_s() < c->down_until;
	pthread_mutex_unlock(&c->down_lock);
	return down;
}

static void mark_down(struct client *c, int down)
{
	pthread_mutex_lock(&c->down_lock);
	c->down_until = down ? now_s() + DOWN_S : 0;
	pthread_mutex_unlock(&c->down_lock);
}

/* What to do about a request that reached no HTTP answer, from libcurl's
 * result: "" when there is nothing more to say than curl's own text. */
static const char *net_hint(const struct client *c, CURLcode res)
{
	int http = !strncmp(c->base, "http://", 7);

	if (res == CURLE_PEER_FAILED_VERIFICATION)
		return c->cafile[0] ? " (the certificate does not verify"
		       " against -o cafile=: is it the server's CA?)" :
		       " (the server's certificate is not trusted here: if it"
		       " is self-signed or from your own CA, mount with -o"
		       " cafile=CA.pem)";
	if (http && (res == CURLE_GOT_NOTHING || res == CURLE_RECV_ERROR ||
		     res == CURLE_WEIRD_SERVER_REPLY ||
		     res == CURLE_UNSUPPORTED_PROTOCOL))
		return " (the URL says http://, but this port may speak"
		       " https: try https://)";
	if (!http && res == CURLE_SSL_CONNECT_ERROR)
		return " (the URL says https://, but the server may speak plain"
		       " http: a server without --tls-cert is reached with"
		       " http://, on loopback only)";
	if (res == CURLE_COULDNT_CONNECT)
		return " (is `sievefs serve` running at this address and"
		       " port?)";
	return "";
}

/* Maps a finished request to 0 or -errno; fills msg; logs failures. */
static int outcome(struct client *c, struct req *r, CURLcode res)
{
	char name[32] = "", message[BE_MSG] = "";
	int err;

	if (res == CURLE_OK && r->status >= 200 && r->status < 300)
		return r->out_err;
	if (res == CURLE_OK && r->status == 304 && r->inm)
		return 0;
	if (res != CURLE_OK && r->status == 0) {
		const char *hint = net_hint(c, res);
		r->net = 1;
		log_error("remote: %s %s%s: %s%s", r->method, c->base, r->path,
			  r->curlerr[0] ? r->curlerr : curl_easy_strerror(res),
			  hint);
		if (r->msg)
			snprintf(r->msg, BE_MSG, "server %.120s unreachable:"
				 " %.150s%s", c->base, r->curlerr[0] ?
				 r->curlerr : curl_easy_strerror(res), hint);
		return r->out_err ? r->out_err : -EIO;
	}
	if (r->resp.len) {
		cJSON *j = cJSON_ParseWithLength(r->resp.p, r->resp.len);
		if (j)
			api_error_from_json(j, r->code, sizeof(r->code), name,
					    sizeof(name), message,
					    sizeof(message));
		cJSON_Delete(j);
	}
	if (name[0])
		err = api_errno_from_name(name);
	else if (r->status == 401 || r->status == 403)
		err = EACCES;
	else if (r->status == 404)
		err = ENOENT;
	else
		err = EIO;
	if (r->msg && message[0])
		snprintf(r->msg, BE_MSG, "%s", message);
	log_msg(r->status == 404 && r->quiet404 ? LOG_LVL_DEBUG : LOG_LVL_WARN,
		"remote: %s %s: HTTP %ld %s%s%s", r->method, r->path, r->status,
		name[0] ? name : strerror(err), message[0] ? ": " : "",
		message);
	return -err;
}

/* The answer's ETag into r->etag (curl_easy_header: libcurl >= 7.83). */
static void keep_etag(struct req *r)
{
	struct curl_header *hd;

	if (curl_easy_header(r->h, "ETag", 0, CURLH_HEADER, -1, &hd) ==
	    CURLHE_OK && strlen(hd->value) < sizeof(r->etag))
		snprintf(r->etag, sizeof(r->etag), "%s", hd->value);
}

/* Runs a request with retries. 0 for a 2xx answer (or a 304 to r->inm),
 * else -errno. */
static int http(struct client *c, struct req *r)
{
	struct curl_slist *hdr = NULL, *h2;
	char url[URL_MAX], ct[96], inm[128];
	off_t out_start = 0;
	CURLcode res = CURLE_OK;
	int rc, tries;

	r->h = handle(c);
	if (!r->h)
		return -ENOMEM;
	if (!r->max)
		r->max = JSON_MAX;
	r->resp.max = r->max;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", c->base, r->path) >=
	    sizeof(url))
		return -ENAMETOOLONG;
	if (r->out_fd >= 0) {
		out_start = lseek(r->out_fd, 0, SEEK_CUR);
		if (out_start < 0)
			out_start = 0;
	}
	hdr = curl_slist_append(NULL, c->auth);
	/* No "Expect: 100-continue" round trip before bodies. */
	h2 = hdr ? curl_slist_append(hdr, "Expect:") : NULL;
	if (h2 && r->ctype) {
		snprintf(ct, sizeof(ct), "Content-Type: %s", r->ctype);
		h2 = curl_slist_append(h2, ct);
	}
	if (h2 && r->inm) {
		snprintf(inm, sizeof(inm), "If-None-Match: %s", r->inm);
		h2 = curl_slist_append(h2, inm);
	}
	if (!h2) {
		curl_slist_free_all(hdr);
		return -ENOMEM;
	}
	tries = server_down(c) ? 1 : RETRIES + 1;
	for (int t = 0; t < tries; t++) {
		if (t) {
			struct timespec ts = { 0, 200000000L << (t - 1) };
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec = ts.tv_nsec / 1000000000L;
				ts.tv_nsec %= 1000000000L;
			}
			nanosleep(&ts, NULL);
		}
		rc = restart(r, out_start);
		if (rc)
			goto out;
		setup(c, r, hdr, url);
		res = curl_easy_perform(r->h);
		curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->status);
		if (res == CURLE_WRITE_ERROR && r->status)
			res = CURLE_OK;     /* our cap or fd: judged below */
		if (res == CURLE_OK && r->status == 429 && t + 1 < tries) {
			/* over a limit of the server's (docs/api.md): the
			 * request was not run, so any method may wait and
			 * go again (Retry-After, at most 5 s here) */
			curl_off_t ra = 0;
			curl_easy_getinfo(r->h, CURLINFO_RETRY_AFTER, &ra);
			sleep((unsigned)(ra < 1 ? 1 : ra > 5 ? 5 : ra));
			continue;
		}
		if (res == CURLE_OK && r->status < 500)
			break;
		if (res != CURLE_OK && !retryable(r, res))
			break;
		if (res == CURLE_OK && !is_idempotent(r->method) &&
		    r->status != 502 && r->status != 503)
			break;
	}
	if (res == CURLE_OK && r->resp.over)
		rc = -EFBIG;
	else
		rc = outcome(c, r, res);
	if (!rc && r->want_etag)
		keep_etag(r);
	mark_down(c, r->net);
	log_debug("remote: %s %s: %ld", r->method, r->path, r->status);
out:
	curl_slist_free_all(hdr);
	return rc;
}

static void req_free(struct req *r)
{
	free(r->resp.p);
	r->resp.p = NULL;
}

#define REQ(m, p) { .method = (m), .path = (p), .in_fd = -1, .out_fd = -1 }

/* ---- paths ---- */

/* Percent-encodes s (RFC 3986 unreserved bytes kept) into out. */
static int pct(const char *s, char *out, size_t len)
{
	static const char hexd[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		int keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
			   (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' ||
			   ch == '_' || ch == '~';
		if (o + (keep ? 1 : 3) >= len)
			return -ENAMETOOLONG;
		if (keep) {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hexd[ch >> 4];
			out[o++] = hexd[ch & 15];
		}
	}
	out[o] = '\0';
	return 0;
}

static int pathf(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- JSON requests ---- */

/* How get_body answered. */
enum got {
	GOT_CACHED,        /* a fresh cached copy, no request */
	GOT_FETCHED,       /* a full answer (cached, when asked, with its ETag) */
	GOT_REVALIDATED,   /* 304: the expired copy is current, and it and the
			    * records primed from it are fresh again */
	GOT_STALE,         /* the server unreachable: an expired copy */
};

/* GET path, through the metadata cache when `cached`: a fresh copy, else a
 * request — conditional (If-None-Match) when an expired copy has an ETag.
 * A 304 refreshes the copy and its group (cache/meta.h) without reading a
 * body; if some records primed from it were dropped meanwhile, the copy is
 * put again and reported GOT_FETCHED, so the caller primes them again.
 * With the server unreachable, an expired copy is better than an error.
 * *out malloc'd (NUL-terminated), caller frees. */
static int get_body(struct client *c, const char *path, int cached,
		    char **out, size_t *len, enum got *how)
{
	struct req r = REQ("GET", path);
	char etag[96];
	int rc, fr;

	*out = NULL;
	*len = 0;
	*how = GOT_FETCHED;
	if (cached && cache_meta_get(c->meta, path, out, len) == 0) {
		*how = GOT_CACHED;
		return 0;
	}
	r.quiet404 = 1;
	r.want_etag = cached;
	if (cached && cache_meta_etag(c->meta, path, etag, sizeof(etag)) == 0)
		r.inm = etag;
	rc = http(c, &r);
	if (!rc && r.status == 304) {
		req_free(&r);
		fr = cache_meta_refresh(c->meta, path, etag);
		if (fr >= 0 && cache_meta_get(c->meta, path, out, len) == 0) {
			*how = GOT_REVALIDATED;
			if (fr > 0) {
				cache_meta_put_etag(c->meta, path, *out, *len,
						    etag);
				*how = GOT_FETCHED;
			}
			return 0;
		}
		/* Our copy went meanwhile (our own change dropped it): ask
		 * for the whole body. */
		r = (struct req)REQ("GET", path);
		r.quiet404 = 1;
		r.want_etag = 1;
		rc = http(c, &r);
		if (!rc && r.status == 304)
			rc = -EIO;      /* no If-None-Match was sent */
	}
	if (rc) {
		int net = r.net;
		req_free(&r);
		if (net && cached &&
		    cache_meta_get_stale(c->meta, path, out, len) == 0) {
			log_info("remote: serving %s from the cache (server"
				 " unreachable)", path);
			*how = GOT_STALE;
			return 0;
		}
		return rc;
	}
	*out = r.resp.p ? r.resp.p : strdup("");
	*len = r.resp.len;
	r.resp.p = NULL;
	if (!*out)
		return -ENOMEM;
	if (cached)
		cache_meta_put_etag(c->meta, path, *out, *len, r.etag);
	return 0;
}

static cJSON *parse_body(const char *path, const char *body, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(body, len);

	if (!j)
		log_warn("remote: GET %s: malformed JSON from the server", path);
	return j;
}

/* GET path as JSON (get_body); *fresh: a full answer just arrived (the
 * caller primes from it). */
static int get_json_f(struct client *c, const char *path, int cached,
		      cJSON **out, int *fresh)
{
	char *body;
	size_t len;
	enum got how;
	int rc = get_body(c, path, cached, &body, &len, &how);

	*out = NULL;
	if (fresh)
		*fresh = 0;
	if (rc)
		return rc;
	*out = parse_body(path, body, len);
	free(body);
	if (!*out)
		return -EIO;
	if (fresh)
		*fresh = how == GOT_FETCHED;
	return 0;
}

static int get_json(struct client *c, const char *path, int cached,
		    cJSON **out)
{
	return get_json_f(c, path, cached, out, NULL);
}

static void thumb_view(struct client *c, const cJSON *j, be_node *n);
static void memo_put(struct client *c, const char *path, const be_node *n,
		     const char *head);

/* A list just fetched also answers the lookups of its items: cache each
 * item under the paths that would fetch it alone: name_pre + its name,
 * id_pre + its id. Saves a request per name after a readdir, and lets a
 * lookup be answered from the cache when the server is unreachable. Node
 * items go in decoded (memo_put), everything else as JSON text. Each goes
 * into the group of `head`, the list's own cache key: when a 304 says the
 * list is unchanged, they are all fresh again with it (get_body). */
static void prime(struct client *c, const cJSON *list, const char *key,
		  const char *head, const char *name_pre,
		  const char *id_field, const char *id_pre)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(list, key), *it;
	char q[3 * STORE_NAME_MAX + 1], path[3 * STORE_NAME_MAX + 120];

	int nodes = !strcmp(id_pre, "/v1/nodes/");

	cJSON_ArrayForEach(it, a) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
		int64_t id = 0;
		char *text = NULL;
		be_node n;

		if (!cJSON_IsString(nm) || pct(nm->valuestring, q, sizeof(q)) ||
		    api_get_i64(it, id_field, &id, 1))
			continue;
		if (nodes) {            /* decoded once, no JSON re-printed */
			if (api_node_from_json(it, &n))
				continue;
			thumb_view(c, it, &n);
			if (!pathf(path, sizeof(path), "%s%s", name_pre, q))
				memo_put(c, path, &n, head);
			if (!pathf(path, sizeof(path), "%s%lld", id_pre,
				   (long long)id))
				memo_put(c, path, &n, head);
			continue;
		}
		text = cJSON_PrintUnformatted(it);
		if (!text)
			return;
		if (!pathf(path, sizeof(path), "%s%s", name_pre, q))
			cache_meta_put_member(c->meta, path, text,
					      strlen(text), head);
		if (!pathf(path, sizeof(path), "%s%lld", id_pre, (long long)id))
			cache_meta_put_member(c->meta, path, text,
					      strlen(text), head);
		free(text);
	}
}

/* Sends a JSON body (NULL: none); the JSON answer into *out (may be NULL,
 * and is NULL after a 204). */
static int send_json(struct client *c, const char *method, const char *path,
		     const cJSON *body, cJSON **out, char *msg)
{
	struct req r = REQ(method, path);
	char *text = NULL;
	int rc;

	if (out)
		*out = NULL;
	if (body) {
		text = cJSON_PrintUnformatted(body);
		if (!text)
			return -ENOMEM;
		r.body = text;
		r.blen = strlen(text);
		r.ctype = "application/json";
	}
	r.msg = msg;
	rc = http(c, &r);
	free(text);
	if (!rc && out && r.resp.len) {
		*out = cJSON_ParseWithLength(r.resp.p, r.resp.len);
		if (!*out)
			rc = -EIO;
	}
	req_free(&r);
	return rc;
}

/* A body {"name": name}. */
static cJSON *name_body(const char *name)
{
	cJSON *j = cJSON_CreateObject();

	if (j && !cJSON_AddStringToObject(j, "name", name)) {
		cJSON_Delete(j);
		j = NULL;
	}
	return j;
}

/* Decodes {"key":[...]} into a malloc'd array of n records. */
static int decode_list(const cJSON *j, const char *key, size_t size,
		       int (*one)(const cJSON *, void *), void **out,
		       size_t *n)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(j, key), *it;
	size_t i = 0, cnt;
	char *v;

	*out = NULL;
	*n = 0;
	if (!cJSON_IsArray(a))
		return -EIO;
	cnt = (size_t)cJSON_GetArraySize(a);
	v = calloc(cnt ? cnt : 1, size);
	if (!v)
		return -ENOMEM;
	cJSON_ArrayForEach(it, a) {
		if (i == cnt || one(it, v + i * size)) {
			free(v);
			return -EIO;
		}
		i++;
	}
	*out = v;
	*n = i;
	return 0;
}

static int one_dataset(const cJSON *j, void *out)
{
	return api_dataset_from_json(j, out);
}

static int one_tag(const cJSON *j, void *out)
{
	return api_tag_from_json(j, out);
}

static int one_node(const cJSON *j, void *out)
{
	return api_node_from_json(j, out);
}

static int one_emb(const cJSON *j, void *out)
{
	return api_embedding_from_json(j, out);
}

/* upload=thumbnails, as another machine sees it: a node whose bytes have a
 * thumbnail on the server ("thumb_sha") and are not pinned in our cache
 * reads as that thumbnail: its hash and size replace the original's, so
 * stat and read agree. The uploading machine (bytes pinned) keeps the
 * original. */
static void thumb_view(struct client *c, const cJSON *j, be_node *n)
{
	unsigned char t[STORE_SHA_LEN];
	char hex[80];
	int64_t size;

	if (!n->has_sha || api_get_str(j, "thumb_sha", hex, sizeof(hex), 1) ||
	    api_sha_from_hex(hex, t) || api_get_i64(j, "thumb_size", &size, 1) ||
	    size < 0 || cache_blob_pinned(c->blobs, n->sha))
		return;
	memcpy(n->sha, t, STORE_SHA_LEN);
	n->size = size;
}

/* Decoded node records are cached too, as raw be_node bytes under the
 * request's path + NODE_MEMO: the same TTL and prefix invalidation as the
 * JSON, but a lookup or open costs a copy instead of a JSON parse (which,
 * with number formatting when priming, was most of a warm read's CPU). */
#define NODE_MEMO "\001node"

/* head: the listing it was primed from (its group), or NULL. */
static void memo_put(struct client *c, const char *path, const be_node *n,
		     const char *head)
{
	char key[3 * STORE_NAME_MAX + 130];

	if (!pathf(key, sizeof(key), "%s" NODE_MEMO, path))
		cache_meta_put_member(c->meta, key, (const char *)n,
				      sizeof(*n), head);
}

/* 0 and *out from the memo of path (stale: also an expired one). */
static int memo_get(struct client *c, const char *path, be_node *out,
		    int stale)
{
	char key[3 * STORE_NAME_MAX + 130], *b = NULL;
	size_t len = 0;
	int rc;

	if (pathf(key, sizeof(key), "%s" NODE_MEMO, path))
		return -ENOENT;
	rc = stale ? cache_meta_get_stale(c->meta, key, &b, &len)
		   : cache_meta_get(c->meta, key, &b, &len);
	if (!rc && len == sizeof(*out))
		memcpy(out, b, len);
	else
		rc = -ENOENT;
	free(b);
	return rc;
}

/* GET path and decode one node, as this machine sees it (thumb_view). */
static int get_node(struct client *c, const char *path, be_node *out)
{
	cJSON *j;
	int rc;

	if (memo_get(c, path, out, 0) == 0)
		return 0;
	rc = get_json(c, path, 1, &j);
	if (!rc) {
		rc = api_node_from_json(j, out) ? -EIO : 0;
		if (!rc)
			thumb_view(c, j, out);
		cJSON_Delete(j);
		if (!rc)
			memo_put(c, path, out, NULL);
	} else if (rc == -EIO && memo_get(c, path, out, 1) == 0) {
		rc = 0;                 /* server unreachable: last known */
	}
	return rc;
}

/* GET path and decode one record with `one`. */
static int get_one(struct client *c, const char *path,
		   int (*one)(const cJSON *, void *), void *out)
{
	cJSON *j;
	int rc = get_json(c, path, 1, &j);

	if (!rc) {
		rc = one(j, out) ? -EIO : 0;
		cJSON_Delete(j);
	}
	return rc;
}

/* Invalidation after our own changes. Node changes touch node records,
 * lookups, listings, and the counts in tags and datasets. */
static void changed_nodes(struct client *c)
{
	pthread_mutex_lock(&c->down_lock);
	c->wrote_at = now_s();
	pthread_mutex_unlock(&c->down_lock);
	cache_meta_invalidate(c->meta, "/v1/nodes/");
	cache_meta_invalidate(c->meta, "/v1/tags/");
	cache_meta_invalidate(c->meta, "/v1/datasets/");
	cache_meta_invalidate(c->meta, "/v1/statfs");
}

static void changed_all(struct client *c)
{
	cache_meta_invalidate(c->meta, "");
}

/* ---- datasets ---- */

/* GET a list (datasets or tags) at path, priming each item under
 * name_pre + its name and /v1/KIND/ + its id (see prime), decoded by one. */
static int list_primed(struct client *c, const char *path, const char *key,
		       const char *name_pre, const char *id_pre, size_t size,
		       int (*one)(const cJSON *, void *), void **out,
		       size_t *n)
{
	cJSON *j;
	int fresh, rc = get_json_f(c, path, 1, &j, &fresh);

	if (rc)
		return rc;
	if (fresh)
		prime(c, j, key, path, name_pre, "id", id_pre);
	rc = decode_list(j, key, size, one, out, n);
	cJSON_Delete(j);
	return rc;
}

/* POST {"name": name} to path (a new dataset or tag), decoded by one.
 * Names and counts anywhere may change: drop the cache. */
static int create_named(struct client *c, const char *path, const char *name,
			int (*one)(const cJSON *, void *), void *out, char *msg)
{
	cJSON *b = name_body(name), *j = NULL;
	int rc;

	if (!b)
		return -ENOMEM;
	rc = send_json(c, "POST", path, b, &j, msg);
	cJSON_Delete(b);
	changed_all(c);
	if (!rc)
		rc = j && !one(j, out) ? 0 : -EIO;
	cJSON_Delete(j);
	return rc;
}

static int c_dataset_list(struct backend *be, be_dataset **out, size_t *n)
{
	return list_primed(C(be), "/v1/datasets", "datasets",
			   "/v1/datasets?name=", "/v1/datasets/", sizeof(**out),
			   one_dataset, (void **)out, n);
}

static int c_dataset_get(struct backend *be, const char *name, be_dataset *out)
{
	char q[800], path[900];

	if (pct(name, q, sizeof(q)) ||
	    pathf(path, sizeof(path), "/v1/datasets?name=%s", q))
		return -ENOENT;
	return get_one(C(be), path, one_dataset, out);
}

static int c_dataset_get_id(struct backend *be, int64_t id, be_dataset *out)
{
	char path[64];

	if (id <= 0)
		return -ENOENT;
	pathf(path, sizeof(path), "/v1/datasets/%lld", (long long)id);
	return get_one(C(be), path, one_dataset, out);
}

static int c_dataset_create(struct backend *be, const char *name,
			    be_dataset *out, char *msg)
{
	return create_named(C(be), "/v1/datasets", name, one_dataset, out,
			    msg);
}

/* DELETE /v1/KIND/ID (name NULL), or PATCH it to {"name": name}: a
 * dataset or a tag. Names and counts anywhere may change: drop the cache. */
static int change_by_id(struct backend *be, const char *kind, int64_t id,
			const char *name, char *msg)
{
	cJSON *b = name ? name_body(name) : NULL;
	char path[64];
	int rc;

	if (name && !b)
		return -ENOMEM;
	pathf(path, sizeof(path), "/v1/%s/%lld", kind, (long long)id);
	rc = send_json(C(be), name ? "PATCH" : "DELETE", path, b, NULL, msg);
	cJSON_Delete(b);
	changed_all(C(be));
	return rc;
}

/*
 * Pins follow the samples that need them (issue 16). Bytes pinned by
 * upload=meta exist only in this cache, so a pin may go only when no node of
 * this user's datasets on the server — live or in a frozen tag — names the
 * hash (POST /v1/kept answers which still do). Checked for a file's hash
 * when this mount removes it, for every pin when it deletes a tag, and
 * for every pin when the mount starts (what other mounts of the
 * user deleted, overwrites, renames over a file). A pin made while the
 * server is asked may belong to an upload whose commit it has not seen yet:
 * no release then (c->pinning counts commits under way, and
 * cache_blob_unpin refuses if any pin happened since the generation read
 * before asking). Released bytes become ordinary cache entries. Errors only
 * postpone a release (the next check retries); returns how many went.
 */
#define KEPT_BATCH 5000
static size_t pins_release(struct client *c,
			   const unsigned char (*sha)[STORE_SHA_LEN], size_t n)
{
	uint64_t gen = cache_blobs_pin_gen(c->blobs);
	size_t gone = 0;
	char hexs[65];

	for (size_t at = 0; at < n; at += KEPT_BATCH) {
		size_t k = n - at < KEPT_BATCH ? n - at : KEPT_BATCH;
		cJSON *b = cJSON_CreateObject(), *arr, *j = NULL, *named;
		unsigned char *keep = calloc(k, 1);
		int rc = -ENOMEM;

		if (atomic_load(&c->pinning)) {
			cJSON_Delete(b);
			free(keep);
			break;
		}
		arr = b ? cJSON_AddArrayToObject(b, "sha256") : NULL;
		for (size_t i = 0; arr && i < k; i++) {
			store_sha_hex(sha[at + i], hexs);
			if (!cJSON_AddItemToArray(arr, cJSON_CreateString(hexs)))
				arr = NULL;
		}
		if (arr && keep)
			rc = send_json(c, "POST", "/v1/kept", b, &j, NULL);
		cJSON_Delete(b);
		named = rc ? NULL : cJSON_GetObjectItemCaseSensitive(j, "named");
		if (!cJSON_IsArray(named)) {
			if (!rc)
				log_warn("remote: the server's answer to /v1/kept"
					 " has no list: pins kept");
			else if (rc != -ENOENT)
				log_warn("remote: cannot ask which pinned bytes"
					 " are still needed (%s): kept",
					 strerror(-rc));
			cJSON_Delete(j);
			free(keep);
			break;
		}
		for (cJSON *it = named->child; it; it = it->next) {
			unsigned char h[STORE_SHA_LEN];
			if (!cJSON_IsString(it) ||
			    api_sha_from_hex(it->valuestring, h))
				continue;
			for (size_t i = 0; i < k; i++)
				if (!memcmp(h, sha[at + i], STORE_SHA_LEN))
					keep[i] = 1;
		}
		cJSON_Delete(j);
		for (size_t i = 0; i < k; i++)
			if (!keep[i] && !atomic_load(&c->pinning) &&
			    !cache_blob_unpin(c->blobs, sha[at + i], gen))
				gone++;
		free(keep);
	}
	return gone;
}

/* Every pin of the cache checked against the server (pins_release). */
static void pins_reconcile(struct client *c, const char *why)
{
	unsigned char (*v)[STORE_SHA_LEN] = NULL;
	size_t n = 0, gone;

	if (cache_blobs_pinned_list(c->blobs, &v, &n) || !n) {
		free(v);
		return;
	}
	gone = pins_release(c, (const unsigned char (*)[STORE_SHA_LEN])v, n);
	if (gone)
		log_info("remote: released %zu of %zu pinned file(s) no sample"
			 " names any more (%s)", gone, n, why);
	free(v);
}

static int c_dataset_delete(struct backend *be, int64_t id, char *msg)
{
	return change_by_id(be, "datasets", id, NULL, msg);
}

static int c_dataset_rename(struct backend *be, int64_t id, const char *name,
			    char *msg)
{
	return change_by_id(be, "datasets", id, name, msg);
}

static int c_dataset_set_tag_folders(struct backend *be, int64_t id,
				     const char *value, char *msg)
{
	cJSON *b = cJSON_CreateObject();
	char path[64];
	int rc;

	if (!b || !cJSON_AddStringToObject(b, "tag_folders", value)) {
		cJSON_Delete(b);
		return -ENOMEM;
	}
	pathf(path, sizeof(path), "/v1/datasets/%lld", (long long)id);
	rc = send_json(C(be), "PATCH", path, b, NULL, msg);
	cJSON_Delete(b);
	changed_all(C(be));
	return rc;
}

/* ---- tags ---- */

static int c_tag_list(struct backend *be, int64_t ds, be_tag **out, size_t *n)
{
	char path[64], fmt[96];

	pathf(path, sizeof(path), "/v1/datasets/%lld/tags", (long long)ds);
	pathf(fmt, sizeof(fmt), "/v1/datasets/%lld/tags?name=", (long long)ds);
	return list_primed(C(be), path, "tags", fmt, "/v1/tags/",
			   sizeof(**out), one_tag, (void **)out, n);
}

static int c_tag_get(struct backend *be, int64_t ds, const char *name,
		     be_tag *out)
{
	char q[800], path[900];

	if (pct(name, q, sizeof(q)) ||
	    pathf(path, sizeof(path), "/v1/datasets/%lld/tags?name=%s",
		  (long long)ds, q))
		return -ENOENT;
	return get_one(C(be), path, one_tag, out);
}

static int c_tag_get_id(struct backend *be, int64_t id, be_tag *out)
{
	char path[64];

	if (id <= 0)
		return -ENOENT;
	pathf(path, sizeof(path), "/v1/tags/%lld", (long long)id);
	return get_one(C(be), path, one_tag, out);
}

static int c_tag_create(struct backend *be, int64_t ds, const char *name,
			be_tag *out, char *msg)
{
	char path[64];

	pathf(path, sizeof(path), "/v1/datasets/%lld/tags", (long long)ds);
	return create_named(C(be), path, name, one_tag, out, msg);
}

static int c_tag_delete(struct backend *be, int64_t tag, char *msg)
{
	int rc = change_by_id(be, "tags", tag, NULL, msg);

	if (!rc)
		pins_reconcile(C(be), "a tag was deleted");
	return rc;
}

static int c_tag_rename(struct backend *be, int64_t tag, const char *name,
			char *msg)
{
	return change_by_id(be, "tags", tag, name, msg);
}

/* ---- nodes ---- */

static int revalidate_listing(struct client *c, int64_t parent);

/* A record primed from a listing that has expired since is refreshed by
 * revalidating that listing (a 304 for the whole folder) rather than by a
 * GET of the node alone, whose answer would leave the listing's group. */
static int c_node_get(struct backend *be, int64_t ino, be_node *out)
{
	struct client *c = C(be);
	char path[64];
	be_node old;

	if (ino <= 0)
		return -ENOENT;
	pathf(path, sizeof(path), "/v1/nodes/%lld", (long long)ino);
	if (memo_get(c, path, out, 0) == 0)
		return 0;
	if (memo_get(c, path, &old, 1) == 0 && old.parent > 0 &&
	    revalidate_listing(c, old.parent) == 0 &&
	    memo_get(c, path, out, 0) == 0)
		return 0;
	return get_node(c, path, out);
}

#define DIR_PAGE 1000

/* The cache key (request path) of parent's one-page listing. */
static void listing_path(char *path, size_t len, int64_t parent)
{
	pathf(path, len, "/v1/nodes/%lld/children?limit=%d",
	      (long long)parent, DIR_PAGE);
}

/* 1 when the listing j holds the whole folder (no "next" page). */
static int whole_folder(const cJSON *j)
{
	const cJSON *next = cJSON_GetObjectItemCaseSensitive(j, "next");

	return !cJSON_IsString(next) || !next->valuestring[0];
}

/* Primes the lookups and node records of a listing of parent just
 * fetched (path: its cache key, the group's head). */
static void prime_children(struct client *c, int64_t parent,
			   const char *path, const cJSON *j)
{
	char fmt[96];

	pathf(fmt, sizeof(fmt), "/v1/nodes/%lld/lookup?name=",
	      (long long)parent);
	prime(c, j, "children", path, fmt, "ino", "/v1/nodes/");
}

/* A lookup that missed the cache, answered by one listing of the whole
 * directory: a loader reading a folder then costs one request per folder
 * per meta_ttl instead of one per name, and the listing primes the node
 * records that open and getattr want next. Once the listing expires, it is
 * revalidated: a 304 makes it and every record primed from it fresh again
 * (get_body), and the name is answered from its record (lpath, the
 * lookup's own path) without parsing the listing. Only for directories
 * that fit in one page of DIR_PAGE entries: a larger one is marked ("#big"
 * key, kept while the cache holds it) and looked up name by name, as are
 * all names while this mount is writing nodes.
 * Returns 0, -ENOENT (absent from a listing that is current), or -EAGAIN:
 * ask by name instead. */
static int lookup_by_listing(struct client *c, int64_t parent,
			     const char *name, const char *lpath,
			     be_node *out)
{
	char path[96], big[112], *marker = NULL, *body;
	const cJSON *a, *it;
	size_t mlen, blen;
	enum got how;
	cJSON *j;
	int rc, writing;

	listing_path(path, sizeof(path), parent);
	pathf(big, sizeof(big), "%s#big", path);
	if (cache_meta_get_stale(c->meta, big, &marker, &mlen) == 0) {
		free(marker);
		return -EAGAIN;
	}
	/* A mount that is writing (cp -r in) invalidates listings with every
	 * file it creates: re-listing for each new name would cost more than
	 * the name's own request. */
	pthread_mutex_lock(&c->down_lock);
	writing = c->wrote_at > 0 && now_s() - c->wrote_at < c->meta_ttl;
	pthread_mutex_unlock(&c->down_lock);
	if (writing)
		return -EAGAIN;
	rc = get_body(c, path, 1, &body, &blen, &how);
	if (rc)
		return rc == -ENOENT ? rc : -EAGAIN;
	if (how == GOT_REVALIDATED && memo_get(c, lpath, out, 0) == 0) {
		free(body);
		return 0;
	}
	j = parse_body(path, body, blen);
	free(body);
	if (!j)
		return -EAGAIN;
	if (!whole_folder(j)) {
		cache_meta_put(c->meta, big, "1", 1);
		cJSON_Delete(j);
		return -EAGAIN;
	}
	if (how == GOT_FETCHED)
		prime_children(c, parent, path, j);
	/* Absent from a listing the server just vouched for: absent. From
	 * an older one: ask by name, so a name made elsewhere shows within
	 * the TTL. */
	rc = how == GOT_FETCHED || how == GOT_REVALIDATED ? -ENOENT : -EAGAIN;
	a = cJSON_GetObjectItemCaseSensitive(j, "children");
	cJSON_ArrayForEach(it, a) {
		const cJSON *nm = cJSON_GetObjectItemCaseSensitive(it, "name");
		if (cJSON_IsString(nm) && !strcmp(nm->valuestring, name)) {
			rc = api_node_from_json(it, out) ? -EIO : 0;
			if (!rc)
				thumb_view(c, it, out);
			break;
		}
	}
	cJSON_Delete(j);
	return rc;
}

/* Brings the one-page listing of parent up to date when an expired copy
 * with a validator is cached (a 304, or a 200 primed again). 0, or -errno
 * (-ENOENT: no such copy) — the caller then asks for what it wanted. */
static int revalidate_listing(struct client *c, int64_t parent)
{
	char path[96], etag[96], *body;
	size_t blen;
	enum got how;
	cJSON *j;
	int rc;

	listing_path(path, sizeof(path), parent);
	if (cache_meta_etag(c->meta, path, etag, sizeof(etag)))
		return -ENOENT;
	rc = get_body(c, path, 1, &body, &blen, &how);
	if (rc || how != GOT_FETCHED) {
		if (!rc)
			free(body);
		return rc ? rc : how == GOT_STALE ? -EAGAIN : 0;
	}
	j = parse_body(path, body, blen);
	free(body);
	if (!j)
		return -EIO;
	if (whole_folder(j))
		prime_children(c, parent, path, j);
	cJSON_Delete(j);
	return 0;
}

static int c_node_lookup(struct backend *be, int64_t parent, const char *name,
			 be_node *out)
{
	char q[3 * STORE_NAME_MAX + 1], path[3 * STORE_NAME_MAX + 80];
	char *body = NULL;
	size_t len;
	int rc;

	if (pct(name, q, sizeof(q)))
		return -ENAMETOOLONG;
	if (pathf(path, sizeof(path), "/v1/nodes/%lld/lookup?name=%s",
		  (long long)parent, q))
		return -ENAMETOOLONG;
	if (memo_get(C(be), path, out, 0) == 0)
		return 0;               /* primed by a listing, or seen */
	if (cache_meta_get(C(be)->meta, path, &body, &len) == 0)
		free(body);             /* fresh: get_node answers, no request */
	else if ((rc = lookup_by_listing(C(be), parent, name, path, out)) !=
		 -EAGAIN)
		return rc;
	return get_node(C(be), path, out);
}

static int c_node_children(struct backend *be, int64_t parent, be_node **out,
			   size_t *n)
{
	char q[3 * STORE_NAME_MAX + 1], path[3 * STORE_NAME_MAX + 120];
	char after[STORE_NAME_MAX + 1] = "";
	be_node *all = NULL, *page;
	size_t nall = 0, np;
	int rc = 0;

	*out = NULL;
	*n = 0;
	for (;;) {
		cJSON *j, *next;
		if (pct(after, q, sizeof(q)))
			return -EIO;
		pathf(path, sizeof(path), "/v1/nodes/%lld/children?limit=10000"
		      "%s%s", (long long)parent, after[0] ? "&after=" : "",
		      after[0] ? q : "");
		int fresh;
		rc = get_json_f(C(be), path, 1, &j, &fresh);
		if (rc)
			break;
		if (fresh)
			prime_children(C(be), parent, path, j);
		rc = decode_list(j, "children", sizeof(*page), one_node,
				 (void **)&page, &np);
		if (!rc) {
			const cJSON *it, *a = cJSON_GetObjectItemCaseSensitive(
				j, "children");
			size_t i = 0;
			cJSON_ArrayForEach(it, a)
				if (i < np)
					thumb_view(C(be), it, &page[i++]);
		}
		next = cJSON_GetObjectItemCaseSensitive(j, "next");
		if (!rc && np) {
			be_node *v = realloc(all, (nall + np) * sizeof(*v));
			if (!v)
				rc = -ENOMEM;
			else {
				memcpy(v + nall, page, np * sizeof(*v));
				all = v;
				nall += np;
			}
		}
		if (!rc)
			free(page);
		int more = !rc && cJSON_IsString(next) && next->valuestring[0];
		if (more)
			snprintf(after, sizeof(after), "%s", next->valuestring);
		cJSON_Delete(j);
		if (!more)
			break;
	}
	if (rc) {
		free(all);
		return rc;
	}
	*out = all;
	*n = nall;
	return 0;
}

static int c_node_create(struct backend *be, int64_t parent, const char *name,
			 const struct store_newnode *nn, be_node *out)
{
	cJSON *b = NULL, *j = NULL;
	char path[64];
	int rc;

	rc = api_newnode_to_json(name, nn, &b);
	if (rc)
		return rc;
	pathf(path, sizeof(path), "/v1/nodes/%lld/children", (long long)parent);
	rc = send_json(C(be), "POST", path, b, &j, NULL);
	cJSON_Delete(b);
	changed_nodes(C(be));
	if (!rc)
		rc = j && !api_node_from_json(j, out) ? 0 : -EIO;
	cJSON_Delete(j);
	return rc;
}

static int c_node_remove(struct backend *be, int64_t parent, const char *name,
			 int is_dir)
{
	char q[3 * STORE_NAME_MAX + 1], path[3 * STORE_NAME_MAX + 100];
	struct client *c = C(be);
	be_node n;
	int rc, pinned = 0;

	if (pct(name, q, sizeof(q)))
		return -ENAMETOOLONG;
	/* a file whose bytes we pinned: release them if it was the last
	 * sample naming them (pins_release) */
	if (!is_dir && !c_node_lookup(be, parent, name, &n) && n.has_sha)
		pinned = cache_blob_pinned(c->blobs, n.sha);
	pathf(path, sizeof(path), "/v1/nodes/%lld/children?name=%s&is_dir=%d",
	      (long long)parent, q, is_dir ? 1 : 0);
	rc = send_json(c, "DELETE", path, NULL, NULL, NULL);
	changed_nodes(c);
	if (!rc && pinned)
		pins_release(c, (const unsigned char (*)[STORE_SHA_LEN])&n.sha,
			     1);
	return rc;
}

static int c_node_rename(struct backend *be, int64_t parent, const char *name,
			 int64_t newparent, const char *newname,
			 int noreplace)
{
	cJSON *b = cJSON_CreateObject();
	char path[64];
	int rc = -ENOMEM;

	if (b && cJSON_AddStringToObject(b, "name", name) &&
	    cJSON_AddNumberToObject(b, "newparent", (double)newparent) &&
	    cJSON_AddStringToObject(b, "newname", newname) &&
	    cJSON_AddBoolToObject(b, "noreplace", noreplace)) {
		pathf(path, sizeof(path), "/v1/nodes/%lld/rename",
		      (long long)parent);
		rc = send_json(C(be), "POST", path, b, NULL, NULL);
		changed_nodes(C(be));
	}
	cJSON_Delete(b);
	return rc;
}

static int c_node_setattr(struct backend *be, int64_t ino, int what,
			  uint32_t mode, uint32_t uid, uint32_t gid,
			  int64_t mtime_ns, int64_t atime_ns)
{
	cJSON *b = cJSON_CreateObject();
	char path[64];
	int rc = -ENOMEM;

	if (!b)
		return -ENOMEM;
	/* The contract (core/backend.h, docs/api.md): permission bits only;
	 * the server would answer 400 — say here whose bug it is. */
	if ((what & STORE_SET_MODE) && (mode & ~07777u)) {
		log_error("remote: setattr of node %lld: mode 0%o is not"
			  " permission bits only (07777): refused",
			  (long long)ino, (unsigned)mode);
		rc = -EINVAL;
		goto out;
	}
	if ((what & STORE_SET_MODE) &&
	    !cJSON_AddNumberToObject(b, "mode", mode))
		goto out;
	if ((what & STORE_SET_UID) && !cJSON_AddNumberToObject(b, "uid", uid))
		goto out;
	if ((what & STORE_SET_GID) && !cJSON_AddNumberToObject(b, "gid", gid))
		goto out;
	if ((what & STORE_SET_MTIME) && api_add_i64_str(b, "mtime_ns", mtime_ns))
		goto out;
	if ((what & STORE_SET_ATIME) && api_add_i64_str(b, "atime_ns", atime_ns))
		goto out;
	pathf(path, sizeof(path), "/v1/nodes/%lld", (long long)ino);
	rc = send_json(C(be), "PATCH", path, b, NULL, NULL);
	changed_nodes(C(be));
out:
	cJSON_Delete(b);
	return rc;
}

/* ---- content ---- */

/* Downloads blob `sha` into the cache; returns an fd on it. */
static int fetch_blob(struct client *c, const be_node *n)
{
	unsigned char got[EVP_MAX_MD_SIZE];
	char hexs[65], path[96], tmp[4096];
	struct req r = REQ("GET", path);
	unsigned int glen = 0;
	int fd, rc;

	store_sha_hex(n->sha, hexs);
	pathf(path, sizeof(path), "/v1/blobs/%s", hexs);
	fd = cache_blob_tmp(c->blobs, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
	r.out_fd = fd;
	r.out_sha = EVP_MD_CTX_new();
	rc = r.out_sha ? http(c, &r) : -ENOMEM;
	if (!rc && (!EVP_DigestFinal_ex(r.out_sha, got, &glen) ||
		    glen != STORE_SHA_LEN ||
		    memcmp(got, n->sha, STORE_SHA_LEN))) {
		log_error("remote: blob %s: the bytes received do not match"
			  " their hash", hexs);
		rc = -EIO;
	}
	EVP_MD_CTX_free(r.out_sha);
	req_free(&r);
	if (rc && !strcmp(r.code, "bytes_kept_by_uploader"))
		log_error("remote: '%s': its bytes stay on the machine that"
			  " uploaded them (upload=meta); this mount cannot read"
			  " them", n->name);
	if (close(fd) && !rc)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	return cache_blob_commit(c->blobs, tmp, n->sha, r.out_len, 0);
}

/* ---- prefetch ----
 *
 * A training loader reads whole folders, in its own order. When a file's
 * blob is missing, the blobs of the other files of its folder (from the
 * listing the lookups left in the metadata cache; none is requested for
 * this) are queued, and PF_THREADS threads fetch them into the blob cache,
 * each verified against its hash as any fetch, so later opens find them on
 * disk. A folder is queued once (while PF_DIRS others have not pushed it out
 * of memory); the queue holds at most half the cache's bound, counting what
 * is already cached, so speculation never evicts much. A blob is fetched by
 * one thread at a time (pf_busy): an open that wants a blob being fetched
 * waits for that transfer instead of starting a second one. While the server
 * is down the queue is dropped, and a folder whose fetch failed is skipped
 * (its other blobs would fail alike). */

/* Registers sha as being fetched: a slot index, or -1 when another thread
 * is fetching it. With `wait`, waits for that thread first. */
static int pf_claim(struct client *c, const unsigned char *sha, int wait)
{
	int slot;

	pthread_mutex_lock(&c->pf_lock);
	for (;;) {
		int busy = 0;
		slot = -1;
		for (int i = 0; i < PF_BUSY; i++) {
			if (!c->pf_busy_on[i]) {
				if (slot < 0)
					slot = i;
			} else if (!memcmp(c->pf_busy[i], sha, STORE_SHA_LEN)) {
				busy = 1;
			}
		}
		if (!busy)
			break;
		if (!wait) {
			slot = -1;
			goto out;
		}
		pthread_cond_wait(&c->pf_done, &c->pf_lock);
	}
	if (slot >= 0) {               /* no slot free: fetch unregistered */
		memcpy(c->pf_busy[slot], sha, STORE_SHA_LEN);
		c->pf_busy_on[slot] = 1;
	}
	if (slot < 0)
		slot = PF_BUSY;
out:
	pthread_mutex_unlock(&c->pf_lock);
	return slot;
}

static void pf_release(struct client *c, int slot)
{
	if (slot < 0 || slot >= PF_BUSY)
		return;
	pthread_mutex_lock(&c->pf_lock);
	c->pf_busy_on[slot] = 0;
	pthread_cond_broadcast(&c->pf_done);
	pthread_mutex_unlock(&c->pf_lock);
}

static void *pf_worker(void *arg)
{
	struct client *c = arg;

	pthread_mutex_lock(&c->pf_lock);
	for (;;) {
		struct pf_item *it;
		while (!c->pf_stop && !c->pf_head)
			pthread_cond_wait(&c->pf_work, &c->pf_lock);
		if (c->pf_stop)
			break;
		it = c->pf_head;
		c->pf_head = it->next;
		if (!c->pf_head)
			c->pf_tail = NULL;
		c->pf_len--;
		c->pf_bytes -= (uint64_t)it->size;
		int skip = it->parent == c->pf_failed;
		pthread_mutex_unlock(&c->pf_lock);
		int slot = skip || server_down(c) ? -1 : pf_claim(c, it->sha, 0);
		if (slot >= 0 && !cache_blob_has(c->blobs, it->sha)) {
			be_node n;
			memset(&n, 0, sizeof(n));
			n.kind = STORE_FILE;
			n.has_sha = 1;
			memcpy(n.sha, it->sha, STORE_SHA_LEN);
			snprintf(n.name, sizeof(n.name), "(prefetch)");
			int fd = fetch_blob(c, &n);
			if (fd >= 0)
				close(fd);
			pthread_mutex_lock(&c->pf_lock);
			c->pf_failed = fd < 0 ? it->parent : 0;
			pthread_mutex_unlock(&c->pf_lock);
		}
		pf_release(c, slot);
		free(it);
		pthread_mutex_lock(&c->pf_lock);
	}
	pthread_mutex_unlock(&c->pf_lock);
	return NULL;
}

/* Queues the uncached blobs of the folder of `n` (see above). */
static void prefetch_folder(struct client *c, const be_node *n)
{
	struct pf_item *head = NULL, **tail = &head, *it;
	const cJSON *a, *e;
	char path[96], *body = NULL;
	uint64_t used = 0;
	size_t len;
	cJSON *j;
	int seen = 0;

	if (n->parent <= 0)
		return;
	pthread_mutex_lock(&c->pf_lock);
	for (size_t i = 0; i < PF_DIRS && !seen; i++)
		seen = c->pf_dirs[i] == n->parent;
	if (!seen) {
		c->pf_dirs[c->pf_dir_next] = n->parent;
		c->pf_dir_next = (c->pf_dir_next + 1) % PF_DIRS;
	}
	pthread_mutex_unlock(&c->pf_lock);
	listing_path(path, sizeof(path), n->parent);
	if (seen || cache_meta_get_stale(c->meta, path, &body, &len))
		return;
	j = cJSON_ParseWithLength(body, len);
	free(body);
	a = cJSON_GetObjectItemCaseSensitive(j, "children");
	cJSON_ArrayForEach(e, a) {
		be_node m;
		if (api_node_from_json(e, &m))
			continue;
		thumb_view(c, e, &m);
		if (m.kind != STORE_FILE || !m.has_sha ||
		    !memcmp(m.sha, n->sha, STORE_SHA_LEN) ||
		    cache_blob_has(c->blobs, m.sha) || !(it = calloc(1, sizeof(*it))))
			continue;
		memcpy(it->sha, m.sha, STORE_SHA_LEN);
		it->size = m.size;
		it->parent = n->parent;
		*tail = it;
		tail = &it->next;
	}
	cJSON_Delete(j);
	cache_blobs_usage(c->blobs, &used, NULL, NULL, NULL);
	pthread_mutex_lock(&c->pf_lock);
	while (head && !c->pf_stop && c->pf_len < PF_QUEUE &&
	       used + c->pf_bytes + (uint64_t)head->size <= c->cache_size / 2) {
		it = head;
		head = it->next;
		it->next = NULL;
		if (c->pf_tail)
			c->pf_tail->next = it;
		else
			c->pf_head = it;
		c->pf_tail = it;
		c->pf_len++;
		c->pf_bytes += (uint64_t)it->size;
	}
	while (c->pf_head && !c->pf_stop && c->pf_threads < PF_THREADS &&
	       !pthread_create(&c->pf_tid[c->pf_threads], NULL, pf_worker, c))
		c->pf_threads++;
	pthread_cond_broadcast(&c->pf_work);
	pthread_mutex_unlock(&c->pf_lock);
	while (head) {                 /* over the bounds: not queued */
		it = head;
		head = it->next;
		free(it);
	}
}

/* Stops the prefetch threads (waiting for their transfers) and empties the
 * queue. */
static void prefetch_stop(struct client *c)
{
	pthread_mutex_lock(&c->pf_lock);
	c->pf_stop = 1;
	pthread_cond_broadcast(&c->pf_work);
	pthread_mutex_unlock(&c->pf_lock);
	for (int i = 0; i < c->pf_threads; i++)
		pthread_join(c->pf_tid[i], NULL);
	c->pf_threads = 0;
	while (c->pf_head) {
		struct pf_item *it = c->pf_head;
		c->pf_head = it->next;
		free(it);
	}
	c->pf_tail = NULL;
}

static int c_node_open(struct backend *be, const be_node *n)
{
	struct client *c = C(be);
	char hexs[65];
	int fd, slot;

	if (n->kind != STORE_FILE || !n->has_sha)
		return -EIO;
	fd = cache_blob_open(c->blobs, n->sha);
	if (fd >= 0)
		return fd;
	prefetch_folder(c, n);
	slot = pf_claim(c, n->sha, 1);   /* waits for a fetch under way */
	fd = cache_blob_open(c->blobs, n->sha);
	if (fd < 0)
		fd = fetch_blob(c, n);
	pf_release(c, slot);
	if (fd < 0) {
		store_sha_hex(n->sha, hexs);
		log_error("remote: cannot read '%s' (blob %.16s…): %s", n->name,
			  hexs, strerror(-fd));
		/* Whatever went wrong, the file exists: a read error. */
		return fd == -ENOMEM ? fd : -EIO;
	}
	return fd;
}

static int c_staging_create(struct backend *be, char *path, size_t len)
{
	return cache_blob_tmp(C(be)->blobs, path, len);
}

/* Makes sure the server has blob `sha`: HEAD, and PUT it if missing. */
static int push_blob(struct client *c, int fd, const char *hexs, int64_t size)
{
	char path[96];
	struct req h = REQ("HEAD", path), p = REQ("PUT", path);
	int rc;

	pathf(path, sizeof(path), "/v1/blobs/%s", hexs);
	h.quiet404 = 1;
	rc = http(c, &h);
	req_free(&h);
	if (rc != -ENOENT)
		return rc;
	p.in_fd = fd;
	p.in_size = size;
	p.ctype = "application/octet-stream";
	rc = http(c, &p);
	req_free(&p);
	return rc;
}

#define THUMB_SRC_MAX (256 << 20)   /* larger files get no thumbnail */

/* A thumbnail sent along with a kept commit (upload=thumbnails). */
struct thumb_ref {
	char hex[65];
	int64_t size;
};

/* PUT /v1/nodes/{ino}/content. kept: the bytes stay here ("bytes":"kept"),
 * with thumbnail `t` when not NULL. */
static int put_content(struct client *c, int64_t ino, const char *hexs,
		       int64_t size, int64_t mtime_ns, int durable, int kept,
		       const struct thumb_ref *t)
{
	cJSON *b = cJSON_CreateObject(), *tj;
	char path[64];
	int rc = -ENOMEM, ok;

	ok = b && (!kept || cJSON_AddStringToObject(b, "bytes", "kept"));
	if (ok && t) {
		tj = cJSON_AddObjectToObject(b, "thumbnail");
		ok = tj && cJSON_AddStringToObject(tj, "sha256", t->hex) &&
		     cJSON_AddNumberToObject(tj, "size", (double)t->size);
	}
	if (ok && cJSON_AddStringToObject(b, "sha256", hexs) &&
	    cJSON_AddNumberToObject(b, "size", (double)size) &&
	    !api_add_i64_str(b, "mtime_ns", mtime_ns) &&
	    cJSON_AddBoolToObject(b, "durable", durable)) {
		pathf(path, sizeof(path), "/v1/nodes/%lld/content",
		      (long long)ino);
		rc = send_json(c, "PUT", path, b, NULL, NULL);
	}
	cJSON_Delete(b);
	/* Node removed while open: the bytes go with it, as in embedded
	 * mode (store_node_commit), and close() succeeds. */
	return rc == -ENOENT ? 0 : rc;
}

/* upload=thumbnails: makes the thumbnail of the bytes in fd and makes
 * sure the server has it. 0 and *t, or -errno (not an image: the sample
 * goes as meta only, with a log line). */
static int thumb_push(struct client *c, int fd, int64_t size,
		      struct thumb_ref *t)
{
	unsigned char *buf = NULL, *jpg = NULL, sha[STORE_SHA_LEN];
	char why[256] = "", tmp[4096];
	size_t jlen = 0, got = 0;
	int tfd = -1, rc = 0;

	if (size > THUMB_SRC_MAX) {
		snprintf(why, sizeof(why), "larger than %d MiB",
			 THUMB_SRC_MAX >> 20);
		rc = -EFBIG;
		goto out;
	}
	if (!(buf = malloc((size_t)size + 1))) {
		rc = -ENOMEM;
		goto out;
	}
	while (got < (size_t)size) {
		ssize_t r = pread(fd, buf + got, (size_t)size - got,
				  (off_t)got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			rc = r < 0 ? -errno : -EIO;
			goto out;
		}
		got += (size_t)r;
	}
	rc = emb_thumb_jpeg(buf, got, EMB_THUMB_SIDE, &jpg, &jlen, why,
			    sizeof(why));
	if (rc)
		goto out;
	if (!EVP_Digest(jpg, jlen, sha, NULL, EVP_sha256(), NULL)) {
		rc = -ENOMEM;
		goto out;
	}
	tfd = cache_blob_tmp(c->blobs, tmp, sizeof(tmp));
	if (tfd < 0) {
		rc = tfd;
		goto out;
	}
	if (write(tfd, jpg, jlen) != (ssize_t)jlen) {
		rc = -EIO;
		goto out;
	}
	store_sha_hex(sha, t->hex);
	t->size = (int64_t)jlen;
	rc = push_blob(c, tfd, t->hex, t->size);
out:
	if (tfd >= 0) {
		close(tfd);
		unlink(tmp);
	}
	if (rc == -EINVAL || rc == -EFBIG)
		log_warn("remote: no thumbnail (%s): the sample goes as"
			 " upload=meta", why[0] ? why : strerror(-rc));
	else if (rc)
		log_error("remote: thumbnail upload failed (%s): the sample"
			  " goes as upload=meta", strerror(-rc));
	free(jpg);
	free(buf);
	return rc;
}

/* upload=meta|thumbnails: the bytes are pinned in our cache before
 * anything is sent (once committed they exist nowhere else; a commit that
 * fails leaves a pinned entry no node names, which costs only disk), then
 * the commit sends metadata only. */
static int commit_kept(struct client *c, int64_t ino, int fd,
		       const char *staged,
		       const unsigned char sha[STORE_SHA_LEN], int64_t size,
		       int64_t mtime_ns, int durable)
{
	struct thumb_ref t, *tp = NULL;
	char hexs[65];
	int rc;

	store_sha_hex(sha, hexs);
	atomic_fetch_add(&c->pinning, 1);   /* before the pin: pins_release */
	rc = cache_blob_adopt(c->blobs, fd, staged, sha, size, 1);
	if (staged && staged[0])
		unlink(staged);
	if (rc) {
		atomic_fetch_sub(&c->pinning, 1);
		log_error("remote: upload of node %lld: cannot pin its bytes"
			  " in the cache (%s); nothing sent", (long long)ino,
			  strerror(-rc));
		return rc;
	}
	if (c->upload == API_UPLOAD_THUMBNAILS && !thumb_push(c, fd, size, &t))
		tp = &t;
	rc = put_content(c, ino, hexs, size, mtime_ns, durable, 1, tp);
	if (rc == -EAGAIN && tp && !thumb_push(c, fd, size, &t))
		rc = put_content(c, ino, hexs, size, mtime_ns, durable, 1, tp);
	atomic_fetch_sub(&c->pinning, 1);
	if (rc)
		log_error("remote: upload of node %lld (metadata only) failed:"
			  " %s", (long long)ino, strerror(-rc));
	changed_nodes(c);
	return rc;
}

static int c_node_commit(struct backend *be, int64_t ino, int fd,
			 const char *staged,
			 const unsigned char sha[STORE_SHA_LEN], int64_t size,
			 int64_t mtime_ns, int durable)
{
	struct client *c = C(be);
	char hexs[65];
	int rc;

	store_sha_hex(sha, hexs);
	if (c->upload != API_UPLOAD_FULL)
		return commit_kept(c, ino, fd, staged, sha, size, mtime_ns,
				   durable);
	rc = push_blob(c, fd, hexs, size);
	/* The server may collect an unreferenced blob between our PUT and
	 * the commit (blob_missing): send it once more. */
	for (int t = 0; !rc && t < 2; t++) {
		rc = put_content(c, ino, hexs, size, mtime_ns, durable, 0,
				 NULL);
		if (rc == -EAGAIN && t == 0) {
			char path[96];
			struct req p = REQ("PUT", path);
			pathf(path, sizeof(path), "/v1/blobs/%s", hexs);
			p.in_fd = fd;
			p.in_size = size;
			p.ctype = "application/octet-stream";
			rc = http(c, &p);
			req_free(&p);
			continue;
		}
		break;
	}
	/* Committed bytes are read from our cache from now on. */
	if (!rc && cache_blob_adopt(c->blobs, fd, staged, sha, size, 0))
		log_warn("remote: could not keep '%s' in the cache", hexs);
	if (staged && staged[0])
		unlink(staged);
	if (rc)
		log_error("remote: upload of node %lld failed: %s",
			  (long long)ino, strerror(-rc));
	changed_nodes(c);
	return rc;
}

/* ---- control files ---- */

static int get_text(struct client *c, const char *path, char **out,
		    size_t *len)
{
	struct req r = REQ("GET", path);
	int rc;

	r.max = TEXT_MAX;
	rc = http(c, &r);
	if (rc) {
		req_free(&r);
		return rc;
	}
	*out = r.resp.p ? r.resp.p : strdup("");
	*len = r.resp.len;
	return *out ? 0 : -ENOMEM;
}

static int ds_text(struct backend *be, int64_t ds, const char *what,
		   char **out, size_t *len)
{
	char path[96];

	pathf(path, sizeof(path), "/v1/datasets/%lld/%s", (long long)ds, what);
	return get_text(C(be), path, out, len);
}

static int c_selection_read(struct backend *be, int64_t ds, char **out,
			    size_t *len)
{
	return ds_text(be, ds, "selection", out, len);
}

static int send_text(struct client *c, const char *method, const char *path,
		     const char *ctype, const char *text, size_t len,
		     char *msg)
{
	struct req r = REQ(method, path);
	int rc;

	r.body = text ? text : "";
	r.blen = len;
	r.ctype = ctype;
	r.msg = msg;
	rc = http(c, &r);
	req_free(&r);
	return rc;
}

static int c_selection_write(struct backend *be, int64_t ds, const char *text,
			     size_t len, int flags, char *msg)
{
	char path[128];
	int rc;

	pathf(path, sizeof(path), "/v1/datasets/%lld/selection%s%s",
	      (long long)ds, flags & BE_SEL_APPEND ? "?append=1" : "",
	      !(flags & BE_SEL_CHECK) ? "" : flags & BE_SEL_APPEND ?
	      "&check=1" : "?check=1");
	rc = send_text(C(be), "PUT", path, "text/plain", text, len, msg);
	if (!(flags & BE_SEL_CHECK))
		changed_all(C(be));
	return rc;
}

static int c_info_read(struct backend *be, int64_t ds, char **out, size_t *len)
{
	return ds_text(be, ds, "info", out, len);
}

static int c_log_read(struct backend *be, int64_t ds, char **out, size_t *len)
{
	return ds_text(be, ds, "log", out, len);
}

static void c_log_event(struct backend *be, int64_t ds, int level,
			const char *msg)
{
	cJSON *b;
	char path[96];

	if (level == STORE_ERROR)
		log_warn("%s", msg);
	else
		log_debug("%s", msg);
	if (ds <= 0)
		return;
	b = cJSON_CreateObject();
	if (b && cJSON_AddStringToObject(b, "level", level == STORE_ERROR ?
					 "error" : "info") &&
	    cJSON_AddStringToObject(b, "message", msg)) {
		pathf(path, sizeof(path), "/v1/datasets/%lld/log",
		      (long long)ds);
		send_json(C(be), "POST", path, b, NULL, NULL);
	}
	cJSON_Delete(b);
}

static int c_sample_request(struct backend *be, int64_t ds, const char *line,
			    char *msg)
{
	char path[96];

	pathf(path, sizeof(path), "/v1/datasets/%lld/sample", (long long)ds);
	return send_text(C(be), "POST", path, "text/plain", line, strlen(line),
			 msg);
}

static int c_sample_read(struct backend *be, int64_t ds, char **out,
			 size_t *len)
{
	return ds_text(be, ds, "sample", out, len);
}

static int c_scores_read(struct backend *be, int64_t ds, char **out,
			 size_t *len)
{
	return ds_text(be, ds, "scores.csv", out, len);
}

static int c_plot_read(struct backend *be, int64_t ds, char **out, size_t *len)
{
	return ds_text(be, ds, "plot.svg", out, len);
}

/* ---- embeddings ---- */

static int c_emb_list(struct backend *be, int64_t ds,
		      struct store_embedding **out, size_t *n)
{
	char path[96];
	cJSON *j;
	int rc;

	pathf(path, sizeof(path), "/v1/datasets/%lld/embeddings",
	      (long long)ds);
	rc = get_json(C(be), path, 1, &j);
	if (rc)
		return rc;
	rc = decode_list(j, "embeddings", sizeof(**out), one_emb,
			 (void **)out, n);
	cJSON_Delete(j);
	return rc;
}

static int c_emb_get(struct backend *be, int64_t ds, const char *name,
		     struct store_embedding *out)
{
	char q[800], path[900];

	if (pct(name, q, sizeof(q)) ||
	    pathf(path, sizeof(path), "/v1/datasets/%lld/embeddings?name=%s",
		  (long long)ds, q))
		return -ENOENT;
	return get_one(C(be), path, one_emb, out);
}

static int c_emb_get_id(struct backend *be, int64_t id,
			struct store_embedding *out)
{
	char path[64];

	if (id <= 0)
		return -ENOENT;
	pathf(path, sizeof(path), "/v1/embeddings/%lld", (long long)id);
	return get_one(C(be), path, one_emb, out);
}

static int c_emb_put(struct backend *be, int64_t ds, const char *name,
		     const char *text, size_t len, char *msg)
{
	char q[800], path[900];
	int rc;

	if (pct(name, q, sizeof(q)) ||
	    pathf(path, sizeof(path), "/v1/datasets/%lld/embeddings?name=%s",
		  (long long)ds, q))
		return -ENAMETOOLONG;
	rc = send_text(C(be), "PUT", path, "text/csv", text, len, msg);
	changed_all(C(be));
	return rc;
}

static int c_emb_delete(struct backend *be, int64_t id)
{
	char path[64];
	int rc;

	pathf(path, sizeof(path), "/v1/embeddings/%lld", (long long)id);
	rc = send_json(C(be), "DELETE", path, NULL, NULL, NULL);
	changed_all(C(be));
	return rc;
}

static int c_emb_export(struct backend *be, int64_t id, int fd)
{
	char path[64];
	struct req r = REQ("GET", path);
	int rc;

	pathf(path, sizeof(path), "/v1/embeddings/%lld/csv", (long long)id);
	r.out_fd = fd;
	rc = http(C(be), &r);
	req_free(&r);
	return rc;
}

static int c_statfs(struct backend *be, struct statvfs *out)
{
	cJSON *j;
	int rc = get_json(C(be), "/v1/statfs", 1, &j);

	if (rc)
		return rc;
	memset(out, 0, sizeof(*out));
	rc = api_statfs_from_json(j, out) ? -EIO : 0;
	cJSON_Delete(j);
	return rc;
}

static void c_destroy(struct backend *be)
{
	struct client *c = C(be);

	if (!be)
		return;
	prefetch_stop(c);
	/* No destructor runs after the key is gone: clean up the rest. */
	pthread_key_delete(c->key);
	while (c->handles) {
		struct hnode *n = c->handles;
		c->handles = n->next;
		hnode_free(n);
	}
	if (c->share)
		curl_share_cleanup(c->share);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_destroy(&c->share_lock[i]);
	pthread_mutex_destroy(&c->hlock);
	pthread_mutex_destroy(&c->down_lock);
	pthread_mutex_destroy(&c->pf_lock);
	pthread_cond_destroy(&c->pf_work);
	pthread_cond_destroy(&c->pf_done);
	cache_blobs_close(c->blobs);
	cache_meta_free(c->meta);
	explicit_bzero(c->auth, sizeof(c->auth));
	free(c);
}

static const struct backend_ops client_ops = {
	.dataset_list = c_dataset_list,
	.dataset_get = c_dataset_get,
	.dataset_get_id = c_dataset_get_id,
	.dataset_create = c_dataset_create,
	.dataset_delete = c_dataset_delete,
	.dataset_rename = c_dataset_rename,
	.dataset_set_tag_folders = c_dataset_set_tag_folders,
	.tag_list = c_tag_list,
	.tag_get = c_tag_get,
	.tag_get_id = c_tag_get_id,
	.tag_create = c_tag_create,
	.tag_delete = c_tag_delete,
	.tag_rename = c_tag_rename,
	.node_get = c_node_get,
	.node_lookup = c_node_lookup,
	.node_children = c_node_children,
	.node_create = c_node_create,
	.node_remove = c_node_remove,
	.node_rename = c_node_rename,
	.node_setattr = c_node_setattr,
	.node_open = c_node_open,
	.staging_create = c_staging_create,
	.node_commit = c_node_commit,
	.selection_read = c_selection_read,
	.selection_write = c_selection_write,
	.info_read = c_info_read,
	.log_read = c_log_read,
	.log_event = c_log_event,
	.sample_request = c_sample_request,
	.sample_read = c_sample_read,
	.scores_read = c_scores_read,
	.plot_read = c_plot_read,
	.emb_list = c_emb_list,
	.emb_get = c_emb_get,
	.emb_get_id = c_emb_get_id,
	.emb_put = c_emb_put,
	.emb_delete = c_emb_delete,
	.emb_export = c_emb_export,
	.statfs = c_statfs,
	/* Frozen tags never change, whoever made them. Live trees change
	 * on other machines too: set from meta_ttl at open. */
	.frozen_cache_ok = 1,
	.live_ttl = 1.0,
	.destroy = c_destroy,
};

/* ---- opening ---- */

int api_is_url(const char *s)
{
	return s && (!strncasecmp(s, "http://", 7) ||
		     !strncasecmp(s, "https://", 8));
}

/* 1 if host (as libcurl parsed it out of a URL, so in the spelling curl
 * will connect to) names this machine without asking any resolver: a
 * literal IPv4 address in 127.0.0.0/8, [::1], or "localhost" (RFC 6761;
 * libcurl answers it itself). A name that merely starts with "127." (a
 * DNS name anyone can register) is not one; neither is "localhost." nor
 * "127.0.0.1.", whose trailing dot sends them to DNS. */
static int loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;
	char v6[INET6_ADDRSTRLEN + 1];
	size_t n = strlen(host);

	if (!strcasecmp(host, "localhost"))
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (n < 3 || host[0] != '[' || host[n - 1] != ']' || n - 2 >= sizeof(v6))
		return 0;
	memcpy(v6, host + 1, n - 2);
	v6[n - 2] = '\0';
	return inet_pton(AF_INET6, v6, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

/* 1 if the URL has `part` (CURLUE_NO_* when absent). */
static int url_has(CURLU *u, CURLUPart part)
{
	char *v = NULL;
	CURLUcode uc = curl_url_get(u, part, &v, 0);

	curl_free(v);
	return uc == CURLUE_OK;
}

/* api_url_check, and whether the scheme is plain http. */
static int url_check(const char *url, int *plain, char *msg, size_t msglen)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL;
	CURLUcode uc;
	int rc = -EINVAL;

	if (!u)
		return -ENOMEM;
	/* libcurl's parser, not ours: the host checked is the host that
	 * the requests (this URL + "/v1/...") will connect to. */
	uc = curl_url_set(u, CURLUPART_URL, url, 0);
	if (uc || curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) ||
	    (strcmp(scheme, "http") && strcmp(scheme, "https")) ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) || !host[0]) {
		snprintf(msg, msglen, "%s: not a server URL"
			 " (http(s)://HOST:PORT)%s%s", url, uc ? ": " : "",
			 uc ? curl_url_strerror(uc) : "");
		goto out;
	}
	if (url_has(u, CURLUPART_USER) || url_has(u, CURLUPART_PASSWORD)) {
		snprintf(msg, msglen, "%s: a server URL has no user@ part"
			 " (the token is the only credential)", url);
		goto out;
	}
	if (url_has(u, CURLUPART_QUERY) || url_has(u, CURLUPART_FRAGMENT)) {
		snprintf(msg, msglen, "%s: a server URL has no ?query or"
			 " #fragment", url);
		goto out;
	}
	if (!strcmp(scheme, "http") &&
	    (url_has(u, CURLUPART_ZONEID) || !loopback(host))) {
		snprintf(msg, msglen, "%s: plain http:// is allowed only to a"
			 " loopback address (127.x.x.x, [::1] or localhost,"
			 " literally: host %s is not one) since the token would"
			 " cross the network in clear; use https://", url, host);
		goto out;
	}
	*plain = !strcmp(scheme, "http");
	rc = 0;
out:
	curl_free(scheme);
	curl_free(host);
	curl_url_cleanup(u);
	return rc;
}

int api_url_check(const char *url, char *msg, size_t msglen)
{
	int plain;

	return url_check(url, &plain, msg, msglen);
}

static int global_init(void)
{
	static pthread_mutex_t once = PTHREAD_MUTEX_INITIALIZER;
	static int done;
	int rc = 0;

	pthread_mutex_lock(&once);
	if (!done)
		rc = curl_global_init(CURL_GLOBAL_DEFAULT) ? -EIO : 0;
	done = !rc;
	pthread_mutex_unlock(&once);
	return rc;
}

/*
 * The default cache: one directory per server and user, ROOT/<id>, id = the
 * first 16 hex digits of SHA-256("URL\nUSER") (USER as the server's whoami
 * names the token's owner). Why per server and user rather than one cache
 * shared by every mount: a cache has one owner process (its in-memory LRU
 * index, its size bound and its tmp/ are that process's), so a shared one
 * would need cross-process locking of the index and of eviction; a
 * directory per (server, user) keeps that simple and keeps the size bound
 * exact, and the same user of the same server always finds the pinned
 * bytes (upload=meta) of their earlier mounts again. Two mounts of the
 * same server and user at once still need distinct -o cache_dir= (the
 * second is told so). The id hides neither URL nor user (both are in
 * ROOT/<id>/source, for people looking at the disk) and holds nothing of
 * the token. ROOT itself was the cache before: its pinned entries are
 * linked into each new cache, so no upload=meta bytes go missing.
 */
static int open_user_cache(struct client *c, const struct api_client_opts *o,
			   char *msg, size_t msglen)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	char user[128] = "", id[17], dir[4096], text[2600];
	unsigned int mdlen = 0;
	int n, rc, fd, adopted;

	rc = api_client_check(&c->be, user, sizeof(user), msg, msglen);
	if (rc)
		return rc;
	n = snprintf(text, sizeof(text), "%s\n%s", c->base, user);
	if (n < 0 || (size_t)n >= sizeof(text) ||
	    !EVP_Digest(text, (size_t)n, md, &mdlen, EVP_sha256(), NULL))
		return -EIO;
	for (int i = 0; i < 8; i++)
		snprintf(id + 2 * i, 3, "%02x", md[i]);
	n = snprintf(dir, sizeof(dir), "%s/%s", o->cache_dir, id);
	if (n < 0 || (size_t)n >= sizeof(dir)) {
		snprintf(msg, msglen, "cache directory %s: name too long",
			 o->cache_dir);
		return -ENAMETOOLONG;
	}
	if (mkdir(o->cache_dir, 0700) && errno != EEXIST) {
		rc = -errno;
		snprintf(msg, msglen, "cache directory %s: %s", o->cache_dir,
			 strerror(-rc));
		return rc;
	}
	rc = cache_blobs_open(dir, o->cache_size, &c->blobs, msg, msglen);
	if (rc)
		return rc;
	/* For people: whose cache this is (never the token). */
	n = snprintf(dir, sizeof(dir), "%s/%s/source", o->cache_dir, id);
	fd = n > 0 && (size_t)n < sizeof(dir) ?
	     open(dir, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600) : -1;
	if (fd >= 0) {
		dprintf(fd, "server: %s\nuser: %s\n", c->base, user);
		close(fd);
	}
	adopted = cache_blobs_adopt_pinned(c->blobs, o->cache_dir);
	if (adopted > 0)
		log_info("cache %s/%s: took in %d pinned file(s) of the older"
			 " cache %s", o->cache_dir, id, adopted, o->cache_dir);
	return 0;
}

int api_client_open(const struct api_client_opts *o, struct backend **out,
		    char *msg, size_t msglen)
{
	struct client *c;
	size_t blen;
	int rc, plain = 0;

	*out = NULL;
	rc = url_check(o->url, &plain, msg, msglen);
	if (rc)
		return rc;
	if (strlen(o->url) >= sizeof(((struct client *)0)->base)) {
		snprintf(msg, msglen, "the server URL is longer than %zu bytes",
			 sizeof(((struct client *)0)->base) - 1);
		return -ENAMETOOLONG;
	}
	if (!o->token || !o->token[0] || strlen(o->token) > 128 ||
	    strpbrk(o->token, " \t\r\n")) {
		snprintf(msg, msglen, "the token is empty or malformed");
		return -EINVAL;
	}
	if (global_init()) {
		snprintf(msg, msglen, "libcurl initialisation failed");
		return -EIO;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	atomic_init(&c->pinning, 0);
	c->ops = client_ops;
	/* The kernel keeps live names and attributes for half the metadata
	 * TTL: a name made by another mount shows within meta_ttl (we cache
	 * no absence longer than the kernel's half), another mount's change
	 * of an existing node within 1.5 x meta_ttl. */
	c->ops.live_ttl = o->meta_ttl / 2;
	c->be.ops = &c->ops;
	c->upload = o->upload;
	c->plain = plain;
	c->meta_ttl = o->meta_ttl;
	snprintf(c->base, sizeof(c->base), "%s", o->url);
	blen = strlen(c->base);
	while (blen && c->base[blen - 1] == '/')
		c->base[--blen] = '\0';
	snprintf(c->auth, sizeof(c->auth), "Authorization: Bearer %s", o->token);
	if (o->cafile)
		snprintf(c->cafile, sizeof(c->cafile), "%s", o->cafile);
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_lock[i], NULL);
	pthread_mutex_init(&c->hlock, NULL);
	pthread_mutex_init(&c->down_lock, NULL);
	pthread_mutex_init(&c->pf_lock, NULL);
	pthread_cond_init(&c->pf_work, NULL);
	pthread_cond_init(&c->pf_done, NULL);
	c->cache_size = o->cache_size;
	if (pthread_key_create(&c->key, handle_dtor)) {
		free(c);
		return -ENOMEM;
	}
	c->share = curl_share_init();
	c->meta = cache_meta_new(o->meta_ttl, META_BYTES);
	if (!c->share || !c->meta) {
		rc = -ENOMEM;
		goto fail;
	}
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	if (o->cache_per_user)
		rc = open_user_cache(c, o, msg, msglen);
	else
		rc = cache_blobs_open(o->cache_dir, o->cache_size, &c->blobs,
				      msg, msglen);
	if (rc)
		goto fail;
	pins_reconcile(c, "checked at mount");
	*out = &c->be;
	return 0;
fail:
	c_destroy(&c->be);
	return rc;
}

int api_client_check(struct backend *be, char *user, size_t userlen,
		     char *msg, size_t msglen)
{
	struct client *c = C(be);
	struct req r = REQ("GET", "/v1/whoami");
	char m[BE_MSG] = "";
	cJSON *j = NULL;
	int rc;

	r.msg = m;
	rc = http(c, &r);
	if (!rc) {
		j = cJSON_ParseWithLength(r.resp.p ? r.resp.p : "",
					  r.resp.len);
		if (!j || api_get_str(j, "user", user, userlen, 1))
			rc = -EIO;
		cJSON_Delete(j);
	}
	if (!rc) {
		req_free(&r);
		r = (struct req)REQ("GET", "/v1/datasets");
		r.msg = m;
		rc = http(c, &r);
	}
	if (rc == -EACCES && r.status == 401)
		snprintf(msg, msglen, "the server %s refused the token (absent,"
			 " wrong or revoked): %s", c->base, m[0] ? m :
			 "unauthorized");
	else if (rc == -EAGAIN && r.status == 429)
		snprintf(msg, msglen, "the server %s asks to slow down (HTTP"
			 " 429): %s", c->base, m[0] ? m : "too many requests");
	else if (rc && r.net)
		snprintf(msg, msglen, "%s", m);
	else if (rc)
		snprintf(msg, msglen, "the server %s answered %s (HTTP %ld)%s%s",
			 c->base, strerror(-rc), r.status, m[0] ? ": " : "", m);
	req_free(&r);
	return rc;
}
