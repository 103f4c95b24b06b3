/*
 * client_whole.c — folders this mount knows whole (issue 20): a remote
 * create is preceded by lookups of names that do not exist yet (the tool's
 * stat(), rsync's of its temporary name and of the rename's target), each
 * a request answered 404. For a folder whose every name this mount knows,
 * those answers are known here.
 *
 * A folder is known whole from a moment t0 on when
 *   - this mount created it (cl_whole_made: it was empty at t0, the time
 *     before the mkdir's request went out; a new dataset's initial-tag
 *     too), or
 *   - it was known whole, and a listing of all of it was fetched from the
 *     server while its record stayed (cl_whole_vouch, t0 again the time
 *     before the request: client_nodes.c renews an expired record that
 *     way while the mount is writing, one request instead of one per
 *     name; a reader's lookup drops it instead, and goes by
 *     client_nodes.c's revalidated listing as before);
 * and stays so for the kernel's live TTL (live_ttl, half of meta_ttl)
 * after t0. Meanwhile every name this mount creates or renames into it is
 * added (cl_whole_named) — before its request is sent, whatever its
 * outcome, so a name in a request under way is never called absent. A
 * name not in the record of a fresh folder is absent: cl_whole_absent
 * answers 1, and the lookup costs no request. Names never leave a record
 * (a removed one is asked for by name: a superset is always safe).
 *
 * What another mount does shows as late as it does today: a name another
 * mount makes after t0 is answered absent for at most live_ttl after t0,
 * and the kernel keeps that negative entry live_ttl more — within
 * meta_ttl, the bound api/client.c promises (and the same as a 404 the
 * kernel caches). A create still goes to the server, which refuses a name
 * taken meanwhile (EEXIST for O_EXCL) as before.
 *
 * Bounds: WHOLE_DIRS folders (the oldest record gives way), WHOLE_NAMES
 * names each (a bigger folder is dropped and looked up by name).
 * Threads: one mutex (c->whole->lock), never held across a request or
 * another lock. Ownership: the table is the client's (cl_whole_init /
 * cl_whole_free). Failure: none visible — without memory a folder is
 * simply not known whole, and lookups ask the server as before.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api/client_int.h"

#define WHOLE_DIRS 64
#define WHOLE_NAMES 1000          /* a folder listed in one page */

struct whole_dir {
	int64_t dir;              /* 0: free slot */
	double t0;                /* known whole from here on */
	size_t n, cap;
	uint64_t *hash;           /* hash[i] of names[i], compared first */
	char **names;
};

struct cl_whole {
	pthread_mutex_t lock;
	struct whole_dir d[WHOLE_DIRS];
};

static uint64_t name_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;     /* FNV-1a */

	while (*s)
		h = (h ^ (unsigned char)*s++) * 1099511628211ULL;
	return h;
}

static void dir_clear(struct whole_dir *w)
{
	for (size_t i = 0; i < w->n; i++)
		free(w->names[i]);
	free(w->names);
	free(w->hash);
	memset(w, 0, sizeof(*w));
}

int cl_whole_init(struct client *c)
{
	c->whole = calloc(1, sizeof(*c->whole));
	if (!c->whole)
		return -ENOMEM;
	pthread_mutex_init(&c->whole->lock, NULL);
	return 0;
}

void cl_whole_free(struct client *c)
{
	if (!c->whole)
		return;
	for (size_t i = 0; i < WHOLE_DIRS; i++)
		dir_clear(&c->whole->d[i]);
	pthread_mutex_destroy(&c->whole->lock);
	free(c->whole);
	c->whole = NULL;
}

/* Under the lock: the record of dir, or NULL. */
static struct whole_dir *find(struct cl_whole *t, int64_t dir)
{
	for (size_t i = 0; i < WHOLE_DIRS; i++)
		if (t->d[i].dir == dir)
			return &t->d[i];
	return NULL;
}

/* Under the lock: dir's record, emptied, or a slot for it (the oldest). */
static struct whole_dir *slot(struct cl_whole *t, int64_t dir)
{
	struct whole_dir *w = find(t, dir), *old = &t->d[0];

	if (!w) {
		for (size_t i = 0; i < WHOLE_DIRS && !w; i++)
			if (!t->d[i].dir)
				w = &t->d[i];
			else if (t->d[i].t0 < old->t0)
				old = &t->d[i];
		if (!w)
			w = old;
	}
	dir_clear(w);
	w->dir = dir;
	return w;
}

static int has(const struct whole_dir *w, const char *name, uint64_t h)
{
	for (size_t i = 0; i < w->n; i++)
		if (w->hash[i] == h && !strcmp(w->names[i], name))
			return 1;
	return 0;
}

/* Under the lock: adds name; 0, or -1 when the record had to go (too many
 * names, no memory): the folder is then no longer known whole. */
static int add(struct whole_dir *w, const char *name)
{
	uint64_t h = name_hash(name);

	if (has(w, name, h))
		return 0;
	if (w->n == WHOLE_NAMES)
		goto drop;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 16;
		uint64_t *hv = realloc(w->hash, cap * sizeof(*hv));
		if (hv)
			w->hash = hv;
		char **nv = hv ? realloc(w->names, cap * sizeof(*nv)) : NULL;
		if (!nv)
			goto drop;
		w->names = nv;
		w->cap = cap;
	}
	if (!(w->names[w->n] = strdup(name)))
		goto drop;
	w->hash[w->n++] = h;
	return 0;
drop:
	dir_clear(w);
	return -1;
}

void cl_whole_made(struct client *c, int64_t dir, double t0)
{
	if (!c->whole || dir <= 0)
		return;
	pthread_mutex_lock(&c->whole->lock);
	slot(c->whole, dir)->t0 = t0;
	pthread_mutex_unlock(&c->whole->lock);
}

void cl_whole_vouch(struct client *c, int64_t dir, double t0,
		    const char *const *names, size_t n)
{
	struct whole_dir *w;

	if (!c->whole || dir <= 0)
		return;
	pthread_mutex_lock(&c->whole->lock);
	/* Only a record still there is renewed, and its names stay: a name
	 * this mount added while the listing was on its way (its create may
	 * reach the server after the listing did) is in it. A record dropped
	 * or given way meanwhile took such names with it; one made here from
	 * the listing alone would call them absent. */
	w = find(c->whole, dir);
	if (w)
		w->t0 = t0;
	for (size_t i = 0; w && i < n && w->dir; i++)
		add(w, names[i]);
	pthread_mutex_unlock(&c->whole->lock);
}

void cl_whole_drop(struct client *c, int64_t dir)
{
	struct whole_dir *w;

	if (!c->whole)
		return;
	pthread_mutex_lock(&c->whole->lock);
	if ((w = find(c->whole, dir)) != NULL)
		dir_clear(w);
	pthread_mutex_unlock(&c->whole->lock);
}

void cl_whole_named(struct client *c, int64_t dir, const char *name)
{
	struct whole_dir *w;

	if (!c->whole)
		return;
	pthread_mutex_lock(&c->whole->lock);
	if ((w = find(c->whole, dir)) != NULL)
		add(w, name);
	pthread_mutex_unlock(&c->whole->lock);
}

int cl_whole_absent(struct client *c, int64_t dir, const char *name)
{
	struct whole_dir *w;
	int rc = 0;

	if (!c->whole)
		return 0;
	pthread_mutex_lock(&c->whole->lock);
	if ((w = find(c->whole, dir)) != NULL) {
		if (now_s() - w->t0 >= c->ops.live_ttl)
			rc = -1;
		else
			rc = !has(w, name, name_hash(name));
	}
	pthread_mutex_unlock(&c->whole->lock);
	return rc;
}
