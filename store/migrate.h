/*
 * migrate.h — `sievefs store migrate`: an embedded store (STORE/catalog.db,
 * SQLite, and STORE/blobs) copied into a team server's engines: the
 * catalog into PostgreSQL, the blobs into the blob engine a spec names
 * (S3), so datasets, tags, samples, embeddings, runs, users and tokens
 * carry over with their ids (tokens keep working, clients' ids stay
 * valid).
 *
 * What is copied, in this order:
 *   1. blobs: every STORE/blobs/ab/<sha> through the target engine's
 *      upload (blobs_begin/write/finish with want = the name's hash), so a
 *      corrupt local blob is reported and never stored; one already there
 *      (blobs_stat) is skipped. Without a blob spec the blobs stay in
 *      STORE, and the server is then started on STORE (serve STORE
 *      --catalog …), so nothing is copied.
 *   2. catalog tables: every table of the source (meta and schema_version
 *      aside: the target made its own), each in one transaction with its
 *      progress marker (the target's meta row "migrate_table:NAME"), rows
 *      with their ids; the tables the target's triggers write to (dirgen,
 *      changes, samples_gen, pending) last, emptied first in the same
 *      transaction, so they end as the source had them.
 *   3. the target's identity sequences advanced past the ids copied.
 *   4. meta "migrate_done".
 * Resumable: a run killed at any point and started again skips what is
 * done (blobs by blobs_stat, tables by their marker) and ends identical.
 * The target must be empty or a migration of the same source (meta
 * "migrate_source" = the source's path): a catalog holding other data is
 * refused, nothing written.
 *
 * The source is read under its owner lock (STORE/lock: no mount or server
 * may run on it meanwhile) with its schema brought to this binary's
 * version first. The thumbnail cache (STORE/thumbs) is not copied: the
 * server makes thumbnails again on demand.
 *
 * Engines: the source is always SQLite and the target always PostgreSQL
 * (a migration to SQLite is a copy of the folder), so this file speaks
 * each one's catalog of tables (sqlite_master, information_schema) for
 * what sql.h's portable SQL cannot say — which tables and columns exist.
 *
 * Threads: one; every call blocks. Secrets: the target URI and the S3
 * secret are never copied into a message or a progress line.
 */
#ifndef SIEVEFS_STORE_MIGRATE_H
#define SIEVEFS_STORE_MIGRATE_H

#include <stddef.h>
#include <stdint.h>

struct store_migrate_opts {
	const char *src_dir;     /* the embedded store */
	const char *catalog;     /* the target: a postgresql:// URI */
	const char *blobs;       /* blobs_open_spec's spec; NULL/"": none */
	const char *s3_key_id;   /* NULL: AWS_ACCESS_KEY_ID */
	const char *s3_secret;   /* NULL: AWS_SECRET_ACCESS_KEY */
	/* one line of progress (no newline); may be NULL */
	void (*progress)(void *arg, const char *line);
	void *arg;
};

struct store_migrate_stats {
	uint64_t datasets, tags, nodes, tokens, users;   /* in the source */
	uint64_t tables, rows;          /* copied by this run */
	uint64_t blobs, blob_bytes;     /* copied by this run */
	uint64_t blobs_there;           /* already in the target */
	uint64_t corrupt;               /* local blobs whose bytes lie */
};

/* Copies o->src_dir into the target (above). 0 when all is copied;
 * -EBADMSG when some local blobs were corrupt (stats->corrupt, each named
 * through progress; the catalog is not copied then); -EEXIST the target
 * holds other data; -EBUSY the source is in use; other -errno. The reason
 * is in msg. *stats is filled as far as the run went. */
int store_migrate(const struct store_migrate_opts *o,
		  struct store_migrate_stats *stats, char *msg, size_t msglen);

#endif
