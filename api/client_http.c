/*
 * client_http.c — remote mode's transport: one request to the server over
 * libcurl, with retries, its answer mapped to 0 or -errno; and the JSON
 * requests the operations are made of (GETs through the metadata cache,
 * bodies sent as JSON), with the cache invalidation after our own changes.
 * Declared in api/client_int.h.
 *
 * Transport. One CURLSH shares connections, DNS and TLS sessions between
 * threads (its locks: one mutex per curl_lock_data); each thread has its own
 * easy handle (a pthread key), so requests run in parallel over kept-alive
 * connections. Connect timeout 5 s; a transfer that moves nothing for 30 s is
 * aborted; JSON requests have 60 s in all. Only http and https; plain http
 * (to loopback, checked at open) never goes through a proxy; -o cafile=
 * replaces the system's CA store.
 *
 * Retries: up to 3 more tries after 0.2, 0.4 and 0.8 s on network errors and
 * 5xx, never on 4xx. Requests that are not idempotent (POST, PATCH, DELETE)
 * are retried on a network error only when nothing reached the server
 * (could not connect) — unless they carry a request id (below).
 *
 * Request ids (issue 19 item 8, part "deploy"): every request that may
 * change state (any method but GET and HEAD) carries `Idempotency-Key:`
 * 32 hex digits of a random 128-bit id, drawn once per cl_http call and
 * sent again on each of its retries (but a request marked unkeyed, whose
 * repeat changes nothing more, is sent without one and retried as a PUT
 * is: a small file's bytes and commit, which commits the same bytes again;
 * a setattr, which sets the same values again — no key rows). The
 * server records (user, key) with
 * the change, in its transaction, and answers a retry with the first
 * answer (api/server_idem.c), so a keyed request is safe to retry: it is
 * retried as a GET is when its connection failed before any byte of an
 * answer came (a timeout, a send or receive error, an empty answer: the
 * server died after the request reached it; a cut answer is not retried),
 * and on a 502, 503 or 504 (a balancer whose server died). A retry whose
 * first try was applied but whose answer was lost with its server gets
 * 409 "answer_lost" (-EALREADY): cl_node_create then looks the node up;
 * a change without an answer body (rename, delete, setattr) takes it as
 * done. Without randomness (getrandom failed) no key is sent and the old
 * rule holds. After a network failure the server counts as down for
 * 2 s: requests in that window make one try each, so a mount whose server is
 * gone answers from its caches without stalling on backoff. A 429 waits for
 * its Retry-After (1 to 5 s) and goes again, whatever the method: the server
 * did not run it.
 *
 * A request with req.abs goes to that whole URL instead — an object
 * store's presigned one (client_fetch.c) — with no Authorization header,
 * no -o cafile (the system's CAs), its failures never marking the server
 * down, and logged by req.path (the URL without its signature).
 *
 * Invariants. A try starts clean (restart): an answer streamed to a file
 * is cut back to where it began, its hash restarted, so a retry never
 * appends to a partial body. An in-memory answer never grows past r->max
 * (JSON_MAX unless the caller says): beyond it the request fails -EFBIG.
 * The cached GET (cl_get_body) answers from a fresh copy, else asks,
 * conditionally when an expired copy has an ETag; only a request that got
 * no HTTP answer at all may fall back to an expired copy.
 *
 * Ownership: a struct req lives on the caller's stack; its answer
 * (r->resp) is malloc'd by cl_http, and the caller frees it with
 * cl_req_free whatever cl_http returned. The easy handles belong to their
 * threads (freed at thread exit, or by cl_transport_free).
 *
 * Errors: translated once, here: the error body's errno name (api/json.h),
 * else 401/403 → EACCES, 404 → ENOENT, anything else EIO. Each failed
 * request logs one line (404s at debug level: a lookup of a missing name is
 * normal); one that got no HTTP answer adds a hint to curl's text
 * (net_hint: an untrusted certificate, http:// to an https port and the
 * reverse, nothing listening). A 502, 503 or 504 without the server's JSON
 * error body comes from a proxy in front (HAProxy with no live server):
 * it counts as no HTTP answer (r->net), so the server is marked down and
 * expired cached copies may answer, as for a refused connection.
 * cl_http blocks for the whole of its tries.
 *
 * Threads: `hlock` protects the handle list; `down_lock` the down-until time
 * (and the nodes' wrote_at); the share locks are libcurl's. No two of them
 * are held at once, and none across a request. The caches lock themselves.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <openssl/evp.h>

#include "api/client_int.h"
#include "api/json.h"
#include "cache/meta.h"
#include "core/log.h"

#define URL_MAX 2048
#define JSON_MAX (64u << 20)           /* cap on a JSON response */
#define RETRIES 3
#define DOWN_S 2.0

/* ---- handles ---- */

/* One thread's easy handle, in the client's list (under hlock). */
struct hnode {
	CURL *h;
	struct client *c;
	struct hnode *prev, *next;
};

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

int cl_transport_init(struct client *c)
{
	for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
		pthread_mutex_init(&c->share_lock[i], NULL);
	pthread_mutex_init(&c->hlock, NULL);
	pthread_mutex_init(&c->down_lock, NULL);
	if (pthread_key_create(&c->key, handle_dtor))
		return -ENOMEM;
	c->share = curl_share_init();
	if (!c->share) {
		pthread_key_delete(c->key);
		return -ENOMEM;
	}
	curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, share_lock);
	curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
	curl_share_setopt(c->share, CURLSHOPT_USERDATA, c);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
	curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
	return 0;
}

void cl_transport_free(struct client *c)
{
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
}

/* ---- one request ---- */

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

/* curl rewinds a body it must send again on a new connection (a kept-alive
 * one the server or a balancer closed under the request): without this it
 * fails the request with "necessary data rewind wasn't possible". The
 * body is read by offset, so a rewind is only moving it. */
static int on_seek(void *arg, curl_off_t off, int origin)
{
	struct req *r = arg;

	if (origin != SEEK_SET || off < 0 || off > r->in_size)
		return CURL_SEEKFUNC_CANTSEEK;
	r->in_off = off;
	return CURL_SEEKFUNC_OK;
}

static int is_idempotent(const char *m)
{
	return !strcmp(m, "GET") || !strcmp(m, "HEAD") || !strcmp(m, "PUT");
}

/* A request whose repeat changes nothing more: GET, HEAD, PUT, or one
 * marked unkeyed (struct req) — retried after any failure. */
static int repeatable(const struct req *r)
{
	return is_idempotent(r->method) || r->unkeyed;
}

static int retryable(const struct req *r, CURLcode res, int keyed)
{
	if (res == CURLE_COULDNT_CONNECT || res == CURLE_COULDNT_RESOLVE_HOST)
		return 1;
	/* a keyed change only when no answer began (status still 0) */
	if (!repeatable(r) && (!keyed || r->status))
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
	if (c->plain || (r->abs && !strncmp(r->abs, "http://", 7)))
		curl_easy_setopt(h, CURLOPT_PROXY, "");
	if (c->cafile[0] && !r->abs)    /* an object store: the system's */
		curl_easy_setopt(h, CURLOPT_CAINFO, c->cafile);
	if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (r->in_fd >= 0) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
		curl_easy_setopt(h, CURLOPT_READDATA, r);
		curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
		curl_easy_setopt(h, CURLOPT_SEEKDATA, r);
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

int cl_server_down(struct client *c)
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
		const char *hint = r->abs ? " (the object store that holds"
				   " the server's blobs)" : net_hint(c, res);
		r->net = 1;
		log_error("remote: %s %s%s: %s%s", r->method,
			  r->abs ? "" : c->base, r->path,
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
	if (!name[0] && !r->abs && (r->status == 502 || r->status == 503 ||
				    r->status == 504)) {
		/* not the server's own error (no errno in a JSON body): a
		 * proxy or balancer in front of it (HAProxy) found no server
		 * to answer — unreachable, as a refused connection is: the
		 * caches may answer from expired copies, and the server
		 * counts as down. (An object store's own 503, r->abs, is
		 * the store's: logged below by its URL, as any status.) */
		r->net = 1;
		log_error("remote: %s %s%s: HTTP %ld from a proxy in front of"
			  " the server (no server behind it answered)",
			  r->method, c->base, r->path, r->status);
		if (r->msg)
			snprintf(r->msg, BE_MSG, "server %.120s unreachable:"
				 " HTTP %ld from its proxy", c->base,
				 r->status);
		return -EIO;
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
	/* an expired presigned URL is asked again (client_fetch.c) */
	log_msg((r->status == 404 && r->quiet404) ||
		(r->status == 403 && r->abs) ? LOG_LVL_DEBUG : LOG_LVL_WARN,
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

/* "Idempotency-Key: " and a new random 128-bit id in hex into out (64
 * bytes): 0, or -EIO without randomness (then no key is sent). */
static int new_key_header(char *out, size_t len)
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char id[16];
	int n;

	if (getrandom(id, sizeof(id), GRND_NONBLOCK) != (ssize_t)sizeof(id))
		return -EIO;
	n = snprintf(out, len, "Idempotency-Key: ");
	for (size_t i = 0; i < sizeof(id) && (size_t)n + 2 < len; i++) {
		out[n++] = hexd[id[i] >> 4];
		out[n++] = hexd[id[i] & 15];
	}
	out[n] = '\0';
	return 0;
}

/* Runs a request with retries. 0 for a 2xx answer (or a 304 to r->inm),
 * else -errno. */
int cl_http(struct client *c, struct req *r)
{
	struct curl_slist *hdr = NULL, *h2;
	char url[URL_MAX], ct[96], inm[128], idem[64];
	int keyed = 0;
	off_t out_start = 0;
	CURLcode res = CURLE_OK;
	int rc, tries;

	r->h = handle(c);
	if (!r->h)
		return -ENOMEM;
	if (!r->max)
		r->max = JSON_MAX;
	r->resp.max = r->max;
	if ((size_t)snprintf(url, sizeof(url), "%s%s", r->abs ? r->abs :
			     c->base, r->abs ? "" : r->path) >= sizeof(url))
		return -ENAMETOOLONG;
	if (r->out_fd >= 0) {
		out_start = lseek(r->out_fd, 0, SEEK_CUR);
		if (out_start < 0)
			out_start = 0;
	}
	/* never a credential of ours to another host (r->abs) */
	hdr = curl_slist_append(NULL, r->abs ? "Expect:" : c->auth);
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
	if (h2 && strcmp(r->method, "GET") && strcmp(r->method, "HEAD") &&
	    !r->unkeyed &&
	    !new_key_header(idem, sizeof(idem))) {
		h2 = curl_slist_append(h2, idem);
		keyed = 1;
	}
	if (!h2) {
		curl_slist_free_all(hdr);
		return -ENOMEM;
	}
	tries = !r->abs && cl_server_down(c) ? 1 : RETRIES + 1;
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
		if (res != CURLE_OK && !retryable(r, res, keyed))
			break;
		if (res == CURLE_OK && !repeatable(r) &&
		    r->status != 502 && r->status != 503 &&
		    !(keyed && r->status == 504))
			break;
	}
	if (res == CURLE_OK && r->resp.over)
		rc = -EFBIG;
	else
		rc = outcome(c, r, res);
	if (!rc && r->want_etag)
		keep_etag(r);
	if (!r->abs)                   /* the object store is not the server */
		mark_down(c, r->net);
	log_debug("remote: %s %s: %ld", r->method, r->path, r->status);
out:
	curl_slist_free_all(hdr);
	return rc;
}

void cl_req_free(struct req *r)
{
	free(r->resp.p);
	r->resp.p = NULL;
}

/* ---- paths ---- */

/* Percent-encodes s (RFC 3986 unreserved bytes kept) into out. */
int cl_pct(const char *s, char *out, size_t len)
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

int cl_pathf(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* ---- JSON requests ---- */


/* GET path, through the metadata cache when `cached`: a fresh copy, else a
 * request — conditional (If-None-Match) when an expired copy has an ETag.
 * A 304 refreshes the copy and its group (cache/meta.h) without reading a
 * body; if some records primed from it were dropped meanwhile, the copy is
 * put again and reported GOT_FETCHED, so the caller primes them again.
 * With the server unreachable, an expired copy is better than an error.
 * *out malloc'd (NUL-terminated), caller frees. */
int cl_get_body(struct client *c, const char *path, int cached,
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
	rc = cl_http(c, &r);
	if (!rc && r.status == 304) {
		cl_req_free(&r);
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
		rc = cl_http(c, &r);
		if (!rc && r.status == 304)
			rc = -EIO;      /* no If-None-Match was sent */
	}
	if (rc) {
		int net = r.net;
		cl_req_free(&r);
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

cJSON *cl_parse_body(const char *path, const char *body, size_t len)
{
	cJSON *j = cJSON_ParseWithLength(body, len);

	if (!j)
		log_warn("remote: GET %s: malformed JSON from the server", path);
	return j;
}

/* GET path as JSON (cl_get_body); *fresh: a full answer just arrived (the
 * caller primes from it). */
int cl_get_json_f(struct client *c, const char *path, int cached,
		  cJSON **out, int *fresh)
{
	char *body;
	size_t len;
	enum got how;
	int rc = cl_get_body(c, path, cached, &body, &len, &how);

	*out = NULL;
	if (fresh)
		*fresh = 0;
	if (rc)
		return rc;
	*out = cl_parse_body(path, body, len);
	free(body);
	if (!*out)
		return -EIO;
	if (fresh)
		*fresh = how == GOT_FETCHED;
	return 0;
}

int cl_get_json(struct client *c, const char *path, int cached,
		cJSON **out)
{
	return cl_get_json_f(c, path, cached, out, NULL);
}

/* Sends a JSON body (NULL: none); the JSON answer into *out (may be NULL,
 * and is NULL after a 204). */
int cl_send_json(struct client *c, const char *method, const char *path,
		 const cJSON *body, cJSON **out, char *msg)
{
	return cl_send_json_u(c, method, path, body, out, msg, 0);
}

int cl_send_json_u(struct client *c, const char *method, const char *path,
		   const cJSON *body, cJSON **out, char *msg, int unkeyed)
{
	struct req r = REQ(method, path);
	char *text = NULL;
	int rc;

	r.unkeyed = unkeyed;
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
	rc = cl_http(c, &r);
	if (rc == -EALREADY && !out && !strcmp(r.code, "answer_lost"))
		rc = 0;     /* applied by a try whose answer was lost */
	free(text);
	if (!rc && out && r.resp.len) {
		*out = cJSON_ParseWithLength(r.resp.p, r.resp.len);
		if (!*out)
			rc = -EIO;
	}
	cl_req_free(&r);
	return rc;
}

/* Decodes {"key":[...]} into a malloc'd array of n records. */
int cl_decode_list(const cJSON *j, const char *key, size_t size,
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

/* Invalidation after our own changes. Node changes touch node records,
 * lookups, listings, and the counts in tags and datasets. */
void cl_changed_nodes(struct client *c)
{
	pthread_mutex_lock(&c->down_lock);
	c->wrote_at = now_s();
	pthread_mutex_unlock(&c->down_lock);
	cache_meta_invalidate(c->meta, "/v1/nodes/");
	cache_meta_invalidate(c->meta, "/v1/tags/");
	cache_meta_invalidate(c->meta, "/v1/datasets/");
	cache_meta_invalidate(c->meta, "/v1/statfs");
}

void cl_changed_all(struct client *c)
{
	cache_meta_invalidate(c->meta, "");
}
