/*
 * serve.h — what the server's routes (api/routes_*.c, api/web.c) need
 * from the catalog beyond the backend interface (core/backend.h): records
 * by id with their owner checked, pages of folders and trees, a dataset's
 * change counters, its runs, and commits of samples whose bytes stay with
 * the uploader. Implemented in core/serve.c over store/.
 *
 * Design: the backend's per-user view checks the owner of dataset ids
 * only (core/view.h), so the server resolves every other id it is given
 * — tag, node, embedding — to its dataset and answers 404 unless the
 * request's owner owns it; each core_own_* below is that whole check, one
 * call per id. Pages are one index range each and hold no transaction
 * between pages, so a client pages through a big tree with bounded
 * memory. Nothing here keeps state between calls.
 *
 * Layers (docs/design.md §2.1): the server (api/) calls these instead of
 * store/, which they call; store/ calls nothing here. The handle is the
 * opaque store of core/records.h, which callers only pass back.
 *
 * Errors: 0 or a negative errno; -ENOENT for an id that does not exist
 * and for one of another owner (the same answer). Thread-safe; every call
 * blocks on the catalog. Lists are malloc'd: free() them (tree pages:
 * core_tree_files_free).
 */
#ifndef SIEVEFS_CORE_SERVE_H
#define SIEVEFS_CORE_SERVE_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"

/* ---- records by id, owner checked ---- */

int core_own_dataset(store *st, const char *owner, int64_t id,
		     struct store_dataset *out);
/* The tag, and its dataset into *d (may be NULL). */
int core_own_tag(store *st, const char *owner, int64_t id,
		 struct store_tag *out, struct store_dataset *d);
int core_own_node(store *st, const char *owner, int64_t ino,
		  struct store_node *out);
/* core_own_node and the folder's change counter (a listing's validator:
 * it moves with every change of a child; 0 = never changed) in one
 * catalog query: the owner check and the validator of a listing. */
int core_own_folder(store *st, const char *owner, int64_t ino,
		    struct store_node *out, uint64_t *gen);
int core_own_embedding(store *st, const char *owner, int64_t id,
		       struct store_embedding *out);

/* ---- pages ---- */

/* The catalog's epoch: random, the same for every server on the catalog;
 * with a change counter it names one state for ETags. 0 or -errno. */
int core_catalog_epoch(store *st, uint64_t *epoch);
/* At most limit children of folder parent whose names sort bytewise after
 * `after` ("" = from the start), by name. free(*out). */
int core_folder_page(store *st, int64_t parent, const char *after,
		     size_t limit, struct store_node **out, size_t *n);
/* At most limit files of tree `tree` whose paths sort after `after` (NULL
 * or "" = from the start), in path order. Free with core_tree_files_free. */
int core_tree_files_page(store *st, int64_t tree, const char *after,
			 size_t limit, struct store_tree_file **out,
			 size_t *n);
void core_tree_files_free(struct store_tree_file *v, size_t n);
/* Committed files of a tree and their bytes, counted in one query. */
int core_tree_count(store *st, int64_t tree, int64_t *files, int64_t *bytes);

/* ---- a dataset's state ---- */

/* The counters the web app polls (struct store_changes). */
int core_dataset_changes(store *st, int64_t ds, struct store_changes *out);
/* The dataset's latest runs, newest first, at most limit (1..128). */
int core_run_list(store *st, int64_t ds, int limit, struct store_run **out,
		  size_t *n);
/* The latest finished run that ranked samples: -ENOENT when none. */
int core_run_latest_done(store *st, int64_t ds, struct store_run *out);
/* The dataset's newest embedding: -ENOENT when it has none. */
int core_embedding_newest(store *st, int64_t ds, struct store_embedding *out);

/* ---- samples whose bytes stay with the uploader ---- */

/* Points file node ino at sha (size bytes) without its blob
 * (upload=meta|thumbnails), with thumbnail blob thumb (NULL = none) of
 * thumb_size bytes the uploader sent. A node removed meanwhile: 0, nothing
 * changes. -EROFS, -EAGAIN (the thumbnail blob is gone: send it again),
 * -EINVAL, -EIO. */
int core_node_commit_kept(store *st, int64_t ino,
			  const unsigned char sha[STORE_SHA_LEN], int64_t size,
			  int64_t mtime_ns, const unsigned char *thumb,
			  int64_t thumb_size, int durable);
/* Gives sample n a thumbnail (blob thumb, size bytes, sent by the user)
 * when its bytes are kept by the uploader; a sample whose bytes the
 * server has, or that is not committed, is left as it is (0). */
int core_node_add_thumb(store *st, const struct store_node *n,
			const unsigned char thumb[STORE_SHA_LEN], int64_t size);

/* ---- moving up: `sievefs store migrate` ---- */

/* What to migrate where (store/migrate.h's store_migrate_opts). */
struct core_migrate_opts {
	const char *src_dir;     /* the embedded store */
	const char *catalog;     /* the target: a postgresql:// URI */
	const char *blobs;       /* blobs_open_spec's spec; NULL/"": none */
	const char *s3_key_id;   /* NULL: AWS_ACCESS_KEY_ID */
	const char *s3_secret;   /* NULL: AWS_SECRET_ACCESS_KEY */
	void (*progress)(void *arg, const char *line);   /* may be NULL */
	void *arg;
};
/* What it found and did (store/migrate.h's store_migrate_stats). */
struct core_migrate_stats {
	uint64_t datasets, tags, nodes, tokens, users;   /* in the source */
	uint64_t tables, rows, blobs, blob_bytes;        /* copied by this run */
	uint64_t blobs_there, corrupt;
};

/* An embedded store copied into PostgreSQL and a blob engine: store/
 * migrate.h says what, in which order, how a re-run resumes, and how it
 * fails (0 or -errno with the reason in msg, never a secret). */
int core_store_migrate(const struct core_migrate_opts *o,
		       struct core_migrate_stats *stats, char *msg,
		       size_t msglen);


/* `sievefs store renew-epoch`: opens the store in dir with `catalog`
 * (NULL: dir/catalog.db) — an embedded one as its owner, so -EBUSY with
 * "store in use by PID N" in msg while a mount or server has it — and
 * renews the catalog's epoch (store_catalog_epoch_renew: -EBUSY with
 * *live servers holding a lease on a shared one; *lease_s, the longest
 * a killed server's lease outlives it). 0 or -errno. */
int core_catalog_renew_epoch(const char *dir, const char *catalog,
			     uint64_t *old, uint64_t *fresh, int64_t *live,
			     int64_t *lease_s, char *msg, size_t msglen);
#endif
