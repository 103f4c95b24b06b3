/*
 * sql.c — what sql.h gives every engine: the choice of engine for a
 * catalog target, and sql_txn's retry of a transaction the engine asks to
 * run again (-EAGAIN: a serialization failure, a deadlock, a lost
 * connection).
 *
 * The PostgreSQL engine (sql_pg.c) is linked in only by builds that have
 * it: sql_pg is a weak reference here, and a "postgresql://" target in a
 * build without it is refused by a stub engine with a message, never
 * taken for a file name.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "sql.h"

#pragma weak sql_pg

static int none_open(const char *target, int flags, sql_db **out, char *msg)
{
	(void)target;
	(void)flags;
	*out = NULL;
	if (msg)
		snprintf(msg, 256, "this sievefs was built without the"
			 " PostgreSQL catalog engine");
	return -ENOTSUP;
}

/* Only open is ever called: it always fails. */
static const struct sql_engine sql_none = {
	.name = "postgresql (not built)",
	.open = none_open,
};

static int has_prefix(const char *s, const char *p)
{
	return strncmp(s, p, strlen(p)) == 0;
}

const struct sql_engine *sql_engine_for(const char *target)
{
	if (has_prefix(target, "postgresql://") ||
	    has_prefix(target, "postgres://"))
		return &sql_pg ? &sql_pg : &sql_none;
	return &sql_sqlite;
}

/* A random pause of up to 2^tries ms (capped at 64 ms) between runs. */
static void backoff(int tries)
{
	unsigned int r = 0;
	long cap = 1L << (tries < 6 ? tries : 6);
	struct timespec ts;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != sizeof(r))
		r = (unsigned int)tries * 7919u;
	long us = 100 + (long)(r % (unsigned int)(cap * 1000));
	ts.tv_sec = 0;
	ts.tv_nsec = us * 1000;
	nanosleep(&ts, NULL);
}

int sql_txn(sql_conn *c, int (*body)(sql_conn *c, void *arg), void *arg)
{
	int rc;

	for (int tries = 1;; tries++) {
		rc = c->eng->begin(c);
		if (!rc) {
			rc = body(c, arg);
			if (rc)
				c->eng->rollback(c);
			else
				rc = c->eng->commit(c);
		}
		if (rc != -EAGAIN || tries >= SQL_TXN_TRIES)
			return rc;
		backoff(tries);
	}
}
