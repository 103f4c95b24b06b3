/*
 * client_fetch.c — remote mode's reads of sample bytes: node_open answers
 * from the blob cache (cache/blobs.h), else fetches the blob (GET
 * /v1/blobs/SHA) into it, and queues the folder's other blobs for the
 * prefetch threads. Declared in api/client_int.h.
 *
 * Invariants: bytes enter the cache only after their SHA-256 matched the
 * hash they were asked for (fetch_blob), so a cached blob is never wrong
 * and never stale; a blob is fetched by one thread at a time (pf_claim);
 * speculation is bounded (the queue holds at most half the cache's bound,
 * PF_QUEUE items, PF_BUSY transfers).
 *
 * Threads: pf_lock protects every pf_ field of struct client, and no other
 * lock is taken while it is held; it is never held across a transfer. Up
 * to PF_THREADS workers start on demand and run until cl_prefetch_stop
 * (at destroy) joins them. node_open may run on any thread.
 *
 * Ownership: node_open returns an fd the caller closes; a queued item
 * belongs to the queue until a worker takes it.
 *
 * Presigned reads (issue 19 item 4). Where the server's blobs live in an
 * object store, the bytes come from it directly: fetch_blob takes a
 * presigned GET URL of the blob (pu_take) — asked of the server with POST
 * /v1/blob-urls for the blob and up to PU_BATCH-1 blobs queued for
 * prefetch at once, so a cold folder costs one server request per
 * PU_BATCH files, not one per file — and GETs it with no credential of
 * ours (req.abs), over the same kept-alive connection pool (per host), its
 * bytes hashed and checked before they enter the cache as any fetch. A
 * refusal by the store (403: the URL expired, the server's clock and the
 * store's apart, the server's key refused) asks the server for a new URL
 * once; refused again, the open is -EIO and the log says so. A URL is kept until used or until
 * PU_MARGIN_S (a quarter of its life, when shorter) before it expires,
 * and never logged (the log names the URL without its query). The server answers "presign": false (local blobs),
 * or SIEVEFS_PRESIGN=off is set for the mount: every blob through GET
 * /v1/blobs/SHA, as before (pu_off). The store unreachable: the open is
 * -EIO with curl's reason logged; cached blobs read on.
 *
 * Failure: an open whose blob cannot be had is -EIO (-ENOMEM), logged with
 * the file's name (a sample whose bytes stay with their uploader,
 * upload=meta, says so). A failed prefetch only skips the rest of its
 * folder; while the server is down, queued items are dropped.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>

#include "api/client_int.h"
#include "api/json.h"
#include "cache/blobs.h"
#include "cache/meta.h"
#include "core/log.h"
#include "core/util.h"

/* ---- presigned URLs ---- */

#define PU_BATCH 256                   /* hashes per POST /v1/blob-urls */
#define PU_MARGIN_S 30.0               /* a URL this close to expiry: ask
					* again (at most a quarter of its
					* life) */
#define PU_URL_MAX 2048

struct purl {
	unsigned char sha[STORE_SHA_LEN];
	double good_until;             /* now_s() clock: expiry - margin */
	struct purl *next;
	char url[];
};

static size_t pu_bucket(const unsigned char *sha)
{
	return ((size_t)sha[0] << 8 | sha[1]) % PU_BUCKETS;
}

/* 1 when presigned URLs are not to be asked for (under pf_lock). */
static int pu_is_off(struct client *c)
{
	const char *v = getenv("SIEVEFS_PRESIGN");

	return c->pu_off || (v && (!strcmp(v, "off") || !strcmp(v, "0") ||
				   !strcmp(v, "no")));
}

/* Finds sha's entry (under pf_lock): its link, or where it would go. */
static struct purl **pu_find(struct client *c, const unsigned char *sha)
{
	struct purl **p = &c->pu[pu_bucket(sha)];

	while (*p && memcmp((*p)->sha, sha, STORE_SHA_LEN))
		p = &(*p)->next;
	return p;
}

/* Drops the URLs that expire within the margin (under pf_lock). */
static void pu_expire(struct client *c)
{
	double now = now_s();

	for (size_t i = 0; i < PU_BUCKETS; i++)
		for (struct purl **p = &c->pu[i]; *p;) {
			struct purl *u = *p;
			if (u->good_until > now) {
				p = &u->next;
				continue;
			}
			*p = u->next;
			free(u);
			c->pu_n--;
		}
}

/* Keeps a URL for sha (under pf_lock); silently not when over PU_MAX. */
static void pu_put(struct client *c, const unsigned char *sha, const char *url,
		   double good_until)
{
	struct purl **p = pu_find(c, sha), *u;
	size_t len = strlen(url);

	if (c->pu_n >= PU_MAX)
		pu_expire(c);
	if (c->pu_n >= PU_MAX || len >= PU_URL_MAX ||
	    !(u = malloc(sizeof(*u) + len + 1)))
		return;
	if (*p) {                      /* a newer URL replaces the old */
		struct purl *old = *p;
		*p = old->next;
		free(old);
		c->pu_n--;
	}
	memcpy(u->sha, sha, STORE_SHA_LEN);
	u->good_until = good_until;
	memcpy(u->url, url, len + 1);
	u->next = c->pu[pu_bucket(sha)];
	c->pu[pu_bucket(sha)] = u;
	c->pu_n++;
}

/* Takes sha's URL out of the table into url (PU_URL_MAX), under pf_lock:
 * 1, or 0 when there is none still good. */
static int pu_take(struct client *c, const unsigned char *sha, char *url)
{
	struct purl **p = pu_find(c, sha), *u = *p;
	int rc = 0;

	if (u) {
		*p = u->next;
		c->pu_n--;
		rc = u->good_until > now_s();
		if (rc)
			memcpy(url, u->url, strlen(u->url) + 1);
		free(u);
	}
	return rc;
}

/* Frees every URL kept. */
static void pu_clear(struct client *c)
{
	for (size_t i = 0; i < PU_BUCKETS; i++)
		while (c->pu[i]) {
			struct purl *u = c->pu[i];
			c->pu[i] = u->next;
			free(u);
		}
	c->pu_n = 0;
}

/* Asks the server for URLs of sha and of up to PU_BATCH-1 queued blobs
 * that have none yet, and keeps them. 0 (whatever URLs came: a hash this
 * user may not read has none), or -errno of the request. */
static int pu_ask(struct client *c, const unsigned char *sha)
{
	cJSON *body = cJSON_CreateObject(), *a, *out = NULL, *urls, *e;
	char hexs[65];
	double asked = now_s(), ttl;
	int rc = -ENOMEM, n = 1;

	a = body ? cJSON_AddArrayToObject(body, "sha256") : NULL;
	core_sha_hex(sha, hexs);
	if (!a || !cJSON_AddItemToArray(a, cJSON_CreateString(hexs)))
		goto out;
	pthread_mutex_lock(&c->pf_lock);
	for (struct pf_item *it = c->pf_head; it && n < PU_BATCH;
	     it = it->next) {
		if (*pu_find(c, it->sha) || !memcmp(it->sha, sha,
						    STORE_SHA_LEN))
			continue;
		core_sha_hex(it->sha, hexs);
		if (!cJSON_AddItemToArray(a, cJSON_CreateString(hexs)))
			break;
		n++;
	}
	pthread_mutex_unlock(&c->pf_lock);
	rc = cl_send_json(c, "POST", "/v1/blob-urls", body, &out, NULL);
	if (rc == -ENOENT || rc == -EINVAL) {
		/* a server without the route (404/405): no URLs from it */
		pthread_mutex_lock(&c->pf_lock);
		c->pu_off = 1;
		pthread_mutex_unlock(&c->pf_lock);
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	e = cJSON_GetObjectItemCaseSensitive(out, "presign");
	ttl = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(
		out, "expires_in"));
	urls = cJSON_GetObjectItemCaseSensitive(out, "urls");
	pthread_mutex_lock(&c->pf_lock);
	if (cJSON_IsFalse(e)) {
		c->pu_off = 1;
		log_info("remote: the server sends blob bytes itself (its"
			 " blobs are not in an object store)");
	}
	cJSON_ArrayForEach(e, urls) {
		unsigned char h[STORE_SHA_LEN];
		if (cJSON_IsString(e) && !api_sha_from_hex(e->string, h) &&
		    ttl > 0)
			pu_put(c, h, e->valuestring, asked + ttl -
			       (ttl / 4 < PU_MARGIN_S ? ttl / 4 :
				PU_MARGIN_S));
	}
	pthread_mutex_unlock(&c->pf_lock);
out:
	cJSON_Delete(body);
	cJSON_Delete(out);
	return rc;
}

/* The URL of blob sha into url (PU_URL_MAX): 1, 0 when the server gives
 * none for it (read it from the server), -errno. fresh: ask, whatever is
 * kept. One thread asks at a time (pu_asking): the prefetch threads that
 * miss together would otherwise ask for the same batch each; the others
 * wait, then find their URL in what came. */
static int pu_get(struct client *c, const unsigned char *sha, char *url,
		  int fresh)
{
	int rc;

	pthread_mutex_lock(&c->pf_lock);
	for (;;) {
		if (pu_is_off(c)) {
			pthread_mutex_unlock(&c->pf_lock);
			return 0;
		}
		if (!fresh && pu_take(c, sha, url)) {
			pthread_mutex_unlock(&c->pf_lock);
			return 1;
		}
		if (!c->pu_asking)
			break;
		pthread_cond_wait(&c->pf_done, &c->pf_lock);
	}
	c->pu_asking = 1;
	pthread_mutex_unlock(&c->pf_lock);
	rc = pu_ask(c, sha);
	pthread_mutex_lock(&c->pf_lock);
	c->pu_asking = 0;
	pthread_cond_broadcast(&c->pf_done);
	if (!rc)
		rc = !pu_is_off(c) && pu_take(c, sha, url);
	pthread_mutex_unlock(&c->pf_lock);
	return rc;
}

/* The URL for logs: scheme://host/path, without the query (the
 * signature). */
static void pu_show(const char *url, char *out, size_t len)
{
	snprintf(out, len, "%.*s", (int)strcspn(url, "?"), url);
}

/* ---- one blob ---- */

/* One try at the bytes of n into fd (a cache temp file, at 0): from the
 * object store's URL (url non-NULL), else from the server. 0, or -errno
 * (-EACCES: the store refused the URL); *len the bytes written. */
static int fetch_once(struct client *c, const be_node *n, const char *url,
		      int fd, int64_t *len, char *code, size_t clen)
{
	unsigned char got[EVP_MAX_MD_SIZE];
	char hexs[65], path[PU_URL_MAX];
	struct req r = REQ("GET", path);
	unsigned int glen = 0;
	int rc;

	core_sha_hex(n->sha, hexs);
	if (url) {
		r.abs = url;
		pu_show(url, path, sizeof(path));
	} else {
		cl_pathf(path, sizeof(path), "/v1/blobs/%s", hexs);
	}
	if (ftruncate(fd, 0) || lseek(fd, 0, SEEK_SET) < 0)
		return -errno;
	r.out_fd = fd;
	r.out_sha = EVP_MD_CTX_new();
	rc = r.out_sha ? cl_http(c, &r) : -ENOMEM;
	if (!rc && (!EVP_DigestFinal_ex(r.out_sha, got, &glen) ||
		    glen != STORE_SHA_LEN ||
		    memcmp(got, n->sha, STORE_SHA_LEN))) {
		log_error("remote: blob %s: the bytes received do not match"
			  " their hash", hexs);
		rc = -EIO;
	}
	EVP_MD_CTX_free(r.out_sha);
	cl_req_free(&r);
	snprintf(code, clen, "%s", r.code);
	*len = r.out_len;
	return rc;
}

/* Downloads blob `sha` into the cache; returns an fd on it. */
static int fetch_blob(struct client *c, const be_node *n)
{
	char tmp[4096], code[48] = "", *url = malloc(PU_URL_MAX);
	int64_t len = 0;
	int fd, rc;

	if (!url)
		return -ENOMEM;
	fd = cache_blob_tmp(c->blobs, tmp, sizeof(tmp));
	if (fd < 0) {
		free(url);
		return fd;
	}
	rc = pu_get(c, n->sha, url, 0);
	if (rc == 1) {
		rc = fetch_once(c, n, url, fd, &len, code, sizeof(code));
		/* refused (expired, or our clock): a new URL, once */
		if (rc == -EACCES && pu_get(c, n->sha, url, 1) == 1) {
			rc = fetch_once(c, n, url, fd, &len, code,
					sizeof(code));
			if (rc == -EACCES) {
				char hexs[65];
				core_sha_hex(n->sha, hexs);
				/* the server signs the URLs and the store
				 * judges them by its own clock: this
				 * machine's plays no part */
				log_error("remote: the object store refused"
					  " two fresh presigned URLs of blob"
					  " %.16s… (HTTP 403): are the"
					  " server's and the object store's"
					  " clocks in step, and may the"
					  " server's S3 key read the bucket?",
					  hexs);
			}
		}
	} else if (rc == 0) {
		rc = fetch_once(c, n, NULL, fd, &len, code, sizeof(code));
	}
	free(url);
	if (rc && !strcmp(code, "bytes_kept_by_uploader"))
		log_error("remote: '%s': its bytes stay on the machine that"
			  " uploaded them (upload=meta); this mount cannot read"
			  " them", n->name);
	if (close(fd) && !rc)
		rc = -errno;
	if (rc) {
		unlink(tmp);
		return rc;
	}
	return cache_blob_commit(c->blobs, tmp, n->sha, len, 0);
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
		int slot = skip || cl_server_down(c) ? -1 :
			   pf_claim(c, it->sha, 0);
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
	cl_listing_path(path, sizeof(path), n->parent);
	if (seen || cache_meta_get_stale(c->meta, path, &body, &len))
		return;
	j = cJSON_ParseWithLength(body, len);
	free(body);
	a = cJSON_GetObjectItemCaseSensitive(j, "children");
	cJSON_ArrayForEach(e, a) {
		be_node m;
		if (api_node_from_json(e, &m))
			continue;
		cl_thumb_view(c, e, &m);
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
void cl_prefetch_stop(struct client *c)
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
	pthread_mutex_lock(&c->pf_lock);
	pu_clear(c);
	pthread_mutex_unlock(&c->pf_lock);
}

int cl_node_open(struct backend *be, const be_node *n)
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
		core_sha_hex(n->sha, hexs);
		log_error("remote: cannot read '%s' (blob %.16s…): %s", n->name,
			  hexs, strerror(-fd));
		/* Whatever went wrong, the file exists: a read error. */
		return fd == -ENOMEM ? fd : -EIO;
	}
	return fd;
}
