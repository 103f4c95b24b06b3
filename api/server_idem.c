/*
 * server_idem.c — idempotent state-changing requests (issue 19 item 8,
 * part "deploy"): a client sends `Idempotency-Key: K` (16 to 64
 * characters of [0-9A-Za-z_-]; the remote client and the Python client
 * send 32 hex digits of a random 128-bit id) on a request that changes
 * state, and keeps K for every retry of that request. Behind a balancer a
 * request whose server died may have been applied or not; its retry, on
 * any server, then never applies it a second time:
 *
 *   - no row for (user, K): the route runs with K armed (core/idem.h): the
 *     first write transaction it commits carries the row (status 0) — the
 *     change and the key commit together or not at all; once the route
 *     has its answer, srv_send_resp hands it here and it is stored in the
 *     row (status, Content-Type, body);
 *   - a row with its answer: the answer is replayed (same status and body,
 *     header `Idempotent-Replayed: true`), nothing runs;
 *   - a row without an answer: the first try is still running, or died
 *     between its COMMIT and its answer. We wait up to IDEM_WAIT_MS for
 *     the answer, then answer 409 "answer_lost" (errno EALREADY): the
 *     change was applied, its answer is gone; the client looks the result
 *     up (api/client_nodes.c does for a created node);
 *   - two tries at once: the second's commit meets the first's row and is
 *     rolled back whole (core_idem_state: TAKEN); its own answer is
 *     replaced by the first's (waited for as above).
 *
 * A request that commits nothing (a refused one, a 4xx) leaves no row: its
 * retry runs again, which is right, since nothing was done. Keys are per
 * signed-in user (r->user): another user's K is another key; and per
 * request: the catalog keeps SHA-256(K, method, path, query) in hex
 * (scoped_key), so K sent again on another method or path (a client that
 * reuses keys) runs as a request of its own instead of being answered
 * with the other request's stored answer. GET and HEAD
 * ignore the header (they change nothing); so does the web app (its
 * requests never carry one). Rows older than IDEM_TTL_S (24 h, or
 * SIEVEFS_IDEM_TTL seconds) are deleted, at most once a minute per
 * process, by the request that notices it is time.
 *
 * Only answers made from a buffer (srv_send_buf, srv_json_resp: every JSON
 * answer) have their body kept; any other answer keeps its status only, and
 * its replay is "answer_lost" unless it was a 204.
 *
 * Test-only fault point: SIEVEFS_FAULT_IDEM=after_commit kills the server
 * (SIGKILL, as kill -9) when a keyed request's change has committed, before
 * its answer is stored or sent; =after_answer after the answer is stored,
 * before it is sent. tests/integration/t_remote_idem.sh uses them to lose
 * an answer deterministically.
 *
 * Threads: the current request is per thread (_Thread_local): MHD runs a
 * request's handler, and its route, in one thread.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "api/server_int.h"
#include "core/idem.h"
#include "core/log.h"
#include "core/util.h"

#define IDEM_TTL_S (24 * 3600)
#define IDEM_WAIT_MS 5000
#define IDEM_BODY_MAX (1u << 20)    /* a bigger answer keeps its status only */
#define SWEEP_EVERY_S 60

/* The keyed request this thread is running, and its answer's body. */
struct idem_cur {
	struct srv *s;
	struct req *r;
	const char *key;                  /* the client's, for the log */
	const char *skey;                 /* the catalog's: scoped_key */
	int answered;
	struct MHD_Response *body_resp;   /* the response body_p belongs to */
	const char *body_p;
	size_t body_len;
};
static _Thread_local struct idem_cur *cur;

static atomic_llong last_sweep;

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

static int64_t ttl_s(void)
{
	const char *v = getenv("SIEVEFS_IDEM_TTL");
	long long t = v ? atoll(v) : 0;

	return t > 0 ? t : IDEM_TTL_S;
}

static void maybe_sweep(struct srv *s)
{
	long long now = (long long)time(NULL), last = atomic_load(&last_sweep);
	int64_t n = 0;
	int rc;

	if (now - last < SWEEP_EVERY_S ||
	    !atomic_compare_exchange_strong(&last_sweep, &last, now))
		return;
	rc = core_idem_sweep(s->st, ttl_s() * 1000000000LL, &n);
	if (rc)
		log_warn("idempotency keys: sweep failed: %s", strerror(-rc));
	else if (n)
		log_debug("idempotency keys: %lld expired keys deleted",
			  (long long)n);
}

static void fault(const char *point)
{
	const char *f = getenv("SIEVEFS_FAULT_IDEM");

	if (f && !strcmp(f, point)) {
		log_warn("SIEVEFS_FAULT_IDEM=%s: killing this server (test"
			 " fault point)", point);
		raise(SIGKILL);
	}
}

/* The stored answer of a row, as a response into *resp and *status; NULL
 * *resp when the row has no answer to give (answer lost). */
static void replay_resp(const struct core_idem_row *row,
			struct MHD_Response **resp, unsigned *status)
{
	*resp = NULL;
	if (row->status <= 0 || (!row->has_body && row->status != 204))
		return;
	*resp = MHD_create_response_from_buffer(row->len, row->body,
						MHD_RESPMEM_MUST_COPY);
	if (!*resp)
		return;
	MHD_add_response_header(*resp, "Idempotent-Replayed", "true");
	if (row->ctype[0])
		MHD_add_response_header(*resp, MHD_HTTP_HEADER_CONTENT_TYPE,
					row->ctype);
	*status = (unsigned)row->status;
}

/* Waits for the answer of (user, key): 0 with its response, -ENOENT (no
 * row), -EALREADY (applied, no answer came), or -errno of the catalog. */
static int wait_answer(struct srv *s, const char *user, const char *key,
		       struct MHD_Response **resp, unsigned *status)
{
	struct core_idem_row row;
	int rc;

	for (int waited = 0;; waited += 50) {
		rc = core_idem_get(s->st, user, key, &row);
		if (rc)
			return rc;
		if (row.status > 0 || waited >= IDEM_WAIT_MS) {
			replay_resp(&row, resp, status);
			free(row.body);
			return *resp ? 0 : -EALREADY;
		}
		free(row.body);
		sleep_ms(50);
	}
}

/* The catalog's key of a request: hex SHA-256 of the client's key, the
 * method and the target (path and query, as sent), so that one key is one
 * request. 0, or -ENOMEM. */
static int scoped_key(const char *key, const char *method,
		      const struct req *r, char out[65])
{
	unsigned char md[STORE_SHA_LEN];
	EVP_MD_CTX *x = EVP_MD_CTX_new();
	int ok = x && EVP_DigestInit_ex(x, EVP_sha256(), NULL) &&
		 EVP_DigestUpdate(x, key, strlen(key) + 1) &&
		 EVP_DigestUpdate(x, method, strlen(method) + 1) &&
		 EVP_DigestUpdate(x, r->raw, strlen(r->raw) + 1) &&
		 EVP_DigestUpdate(x, r->query, strlen(r->query)) &&
		 EVP_DigestFinal_ex(x, md, NULL);

	EVP_MD_CTX_free(x);
	if (!ok)
		return -ENOMEM;
	core_sha_hex(md, out);
	return 0;
}

static enum MHD_Result send_lost(struct MHD_Connection *c)
{
	return srv_send_err(c, 409, "answer_lost", "EALREADY",
			    "this request (its Idempotency-Key) was already"
			    " applied, but its answer was lost: look the"
			    " result up");
}

enum MHD_Result srv_idem_run(struct srv *s, struct req *r,
			     struct MHD_Connection *c, const char *method)
{
	struct idem_cur ctx = { 0 };
	struct MHD_Response *resp = NULL;
	unsigned status = 0;
	enum MHD_Result ret;
	const char *key;
	char skey[65];
	int rc;

	key = strcmp(method, "GET") && strcmp(method, "HEAD") && !r->web &&
	      r->user[0] && s && s->st ?
	      MHD_lookup_connection_value(c, MHD_HEADER_KIND,
					  "Idempotency-Key") : NULL;
	if (!key)
		return r->rt->fn(s, r, c);
	if (!core_idem_key_ok(key))
		return srv_send_err(c, MHD_HTTP_BAD_REQUEST, "bad_request",
				    "EINVAL", "Idempotency-Key must be 16 to"
				    " 64 characters of [0-9A-Za-z_-]");
	if ((rc = scoped_key(key, method, r, skey)) != 0)
		return srv_send_errno(c, rc, NULL);
	maybe_sweep(s);
	rc = wait_answer(s, r->user, skey, &resp, &status);
	if (!rc) {
		log_debug("%s %s: replayed the answer of Idempotency-Key %.8s…",
			  method, r->path.seg[1] ? r->path.seg[1] : "", key);
		return srv_send_resp(c, status, resp, NULL);
	}
	if (rc == -EALREADY)
		return send_lost(c);
	if (rc != -ENOENT)
		return srv_send_errno(c, rc, "cannot read the request's"
				      " Idempotency-Key from the catalog");
	ctx.s = s;
	ctx.r = r;
	ctx.key = key;
	ctx.skey = skey;
	core_idem_arm(s->st, r->user, skey);
	cur = &ctx;
	ret = r->rt->fn(s, r, c);
	cur = NULL;
	core_idem_disarm();
	return ret;
}

void srv_idem_body(struct MHD_Response *resp, const char *body, size_t len)
{
	if (!cur || !resp)
		return;
	cur->body_resp = resp;
	cur->body_p = body;
	cur->body_len = len;
}

struct MHD_Response *srv_idem_answer(struct MHD_Connection *c,
				     unsigned *status,
				     struct MHD_Response *resp,
				     const char *ctype)
{
	struct idem_cur *x = cur;
	struct MHD_Response *other = NULL;
	const char *body = NULL;
	size_t len = 0;
	int rc, state;

	(void)c;
	if (!x || x->answered || !resp)
		return resp;
	x->answered = 1;
	state = core_idem_state();
	if (state == CORE_IDEM_TAKEN) {
		/* another try holds the key and did the change: its answer
		 * is this request's (ours was rolled back) */
		MHD_destroy_response(resp);
		rc = wait_answer(x->s, x->r->user, x->skey, &other, status);
		if (rc) {
			*status = 409;
			return srv_json_resp(api_error_json(
				"answer_lost", "EALREADY", "this request (its"
				" Idempotency-Key) was already applied, but"
				" its answer was lost: look the result up"));
		}
		return other;
	}
	if (state != CORE_IDEM_RECORDED)
		return resp;
	fault("after_commit");
	if (x->body_resp == resp && x->body_len <= IDEM_BODY_MAX) {
		body = x->body_p ? x->body_p : "";
		len = x->body_len;
	}
	rc = core_idem_answer(x->s->st, x->r->user, x->skey, (int)*status,
			      body ? ctype : NULL, body, len);
	if (rc)
		log_warn("Idempotency-Key %.8s…: the answer (HTTP %u) was not"
			 " kept (%s): a retry will be told it was lost",
			 x->key, *status, strerror(-rc));
	fault("after_answer");
	return resp;
}
