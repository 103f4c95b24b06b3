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

/* ---- one blob ---- */

/* Downloads blob `sha` into the cache; returns an fd on it. */
static int fetch_blob(struct client *c, const be_node *n)
{
	unsigned char got[EVP_MAX_MD_SIZE];
	char hexs[65], path[96], tmp[4096];
	struct req r = REQ("GET", path);
	unsigned int glen = 0;
	int fd, rc;

	core_sha_hex(n->sha, hexs);
	cl_pathf(path, sizeof(path), "/v1/blobs/%s", hexs);
	fd = cache_blob_tmp(c->blobs, tmp, sizeof(tmp));
	if (fd < 0)
		return fd;
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
