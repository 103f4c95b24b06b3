/*
 * store.h — persistence for sievefs: the catalog and the content-addressed
 * blob store, behind one opaque handle. The catalog is SQL behind one
 * engine interface (store/sql.h): SQLite, the default and the embedded
 * store's, in STORE/catalog.db (WAL); PostgreSQL for a team server.
 *
 * Layout of a store directory:
 *   STORE/catalog.db         SQLite catalog (WAL, synchronous=NORMAL);
 *                            none when store_open_catalog names another
 *   STORE/blobs/ab/<sha256>  immutable sample bytes, named by their SHA-256
 *   STORE/thumbs/ab/<sha>.128
 *                            server-made thumbnails of blob <sha> (thumbs.c),
 *                            removed with the blob
 *   STORE/staging/           uploads in progress (deleted by the owner's
 *                            recovery: never valid)
 *   STORE/lock               the owner lock (flock) and the owner's PID
 *   STORE/reserve            STORE_RESERVE_BYTES of preallocated space that
 *                            lets deletes run on a full disk (see blob.c)
 *
 * Modes. A store holds every user's samples, so it is owner-only: folders
 * STORE_DIR_MODE (0700), files STORE_FILE_MODE (0600), set explicitly
 * whatever the umask (SQLite gives -wal/-shm the mode of catalog.db). The
 * owner's open repairs a store made before this (anything wider is narrowed,
 * with one warning saying how many); admin opens change nothing.
 *
 * Model. A dataset owns trees. A tree is either the live tree (the dataset's
 * `initial-tag`, writable) or a frozen tag (immutable snapshot). A tree is a
 * set of nodes (dirs and files) rooted at a root dir node; a file node names a
 * blob by hash. A frozen tag is a copy of nodes, so nothing done to the live
 * tree can change it. A file node whose hash is unset is an upload in
 * progress ("pending"): the owner's store_open() deletes those, so after a
 * crash a file is either committed whole or absent.
 *
 * One owner per store. The process that serves a store (an embedded mount,
 * or `sievefs serve`) opens it with STORE_OPEN_OWNER: it takes an exclusive
 * flock on STORE/lock for the life of the handle, writes its PID there, and
 * only then runs crash recovery, which is safe only because nobody else can
 * have uploads in progress or a sampling run going. A second owner is
 * refused with -EBUSY ("store in use by PID N"). Admin commands (`sievefs
 * token ...`) open with STORE_OPEN_ADMIN: no lock, no recovery, no cleanup;
 * they only run short catalog transactions, which the catalog's engine
 * serialises with the owner's (SQLite: WAL and a busy timeout). The lock
 * is on the open file description (O_CLOEXEC): a fork shares it, an exec
 * does not inherit it.
 *
 * A shared catalog (an engine with sql.h `shared`: PostgreSQL;
 * store_open_catalog, `sievefs serve --catalog`): any number of servers
 * own it at once, each with its own STORE directory (its staging, local
 * blobs, reserve), each still the one flock owner of that directory. What
 * the flock guarded in the catalog is done by leases instead (servers.c,
 * queue.c; "servers of a shared catalog" and "the run queue" below): the
 * owner's open recovers its STORE directory as before (staging, orphan
 * blobs of its folder) but not the catalog — it registers in `servers`
 * under a renewed lease, pending file nodes carry the id of the server
 * whose upload they are, and a sweep deletes only those of servers whose
 * lease expired (or of no live server, older than a grace), never at
 * another server's start; runs are not failed at open but claimed again
 * once their own lease expires. Admin opens reach the catalog without
 * STORE/lock, as before (PostgreSQL's advisory lock serialises their
 * writes with the servers': store/sql.h). On SQLite nothing of this runs.
 *
 * Node numbers (`ino`) are the catalog's ids of node rows (AUTOINCREMENT
 * in SQLite): stable across remounts and never reused.
 *
 * Errors: every function returns 0 or a negative errno value (the catalog
 * engine's errors are translated once, by the engine (store/sql.h):
 * constraint → -EEXIST, full → -ENOSPC, busy → -EBUSY, read-only → -EROFS,
 * nomem → -ENOMEM, a statement timeout → -ETIMEDOUT, a lost PostgreSQL
 * connection, serialization failure or deadlock → -EAGAIN (the write was
 * rolled back whole; nothing in store/ runs it again), everything else →
 * -EIO). Functions that can fail because of user input also fill an
 * optional message buffer.
 *
 * Layers: store/ is the bottom of sievefs. It calls nothing above it (no
 * core/ operation, no core/log.h); the one header it takes from above is
 * core/records.h, the value types it fills, which has no function and no
 * state (docs/design.md §2.1). Above store/, only core/ calls it.
 *
 * Threads: a store may be used from any number of threads at once. Each thread
 * gets its own catalog connection on first use (closed when the thread exits
 * or at store_close). Writes are serialised by one in-process mutex held
 * only for the duration of one short transaction; reads never take it.
 */
#ifndef SIEVEFS_STORE_H
#define SIEVEFS_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "core/records.h"

/* The records (struct store_node, store_dataset, store_tag, ...) and their
 * limits are value types every layer reads: core/records.h, types only. */
#define STORE_ERRMSG 256
#define STORE_DIR_MODE 0700
#define STORE_FILE_MODE 0600

/* ---- opening ---- */

enum store_open_mode {
	/* The serving process: takes the owner lock (held until store_close),
	 * then runs crash recovery: deletes pending uploads, marks queued and
	 * running sampling runs failed, empties staging, collects orphan
	 * blobs; keeps the space reserve. -EBUSY when another process (or
	 * another handle of this one) owns the store. On a shared catalog
	 * the catalog's part of the recovery is the sweep by lease instead
	 * (store.h "A shared catalog"): the pending nodes and runs of other
	 * live servers are left alone. */
	STORE_OPEN_OWNER = 1,
	/* Catalog access beside a running owner (token commands): no lock,
	 * no recovery, no staging or blob cleanup, no reserve. */
	STORE_OPEN_ADMIN = 2,
};

/* Opens (creating if needed) the store in directory `dir` in `mode` (enum
 * store_open_mode). On failure returns -errno and writes a reason into msg
 * (may be NULL): -EBUSY "store in use by PID N" for a second owner. On
 * success msg is empty, or holds a warning for the caller to report (an
 * owner's open narrowed modes, store.h "Modes"). The caller frees the
 * handle with store_close(). */
int store_open(const char *dir, int mode, store **out, char *msg,
	       size_t msglen);
/* store_open with the catalog at `catalog` (sql.h's target: a
 * "postgresql://" URI or a SQLite file) instead of DIR/catalog.db; the
 * blobs stay under DIR. NULL: DIR/catalog.db. */
int store_open_catalog(const char *dir, const char *catalog, int mode,
		       store **out, char *msg, size_t msglen);

/* 1 when `catalog` names an engine several servers share (PostgreSQL):
 * its owners hold leases, not the STORE directory's flock alone. */
int store_catalog_shared(const char *catalog);

/* store_open_catalog with the blob engine `blobs` (store/blobstore.h's
 * blobs_open_spec: NULL or "" the local folder DIR/blobs; "s3://…" an S3
 * bucket, with key_id and secret from a config file, else the
 * environment's AWS_* keys; neither is kept past the engine's open). With
 * a remote engine DIR still holds the catalog (SQLite), the staging files
 * and the read cache (DIR/cache, STORE_BLOB_CACHE_BYTES). -EINVAL with
 * the reason in msg for a bad spec. */
int store_open_engines(const char *dir, const char *catalog,
		       const char *blobs, const char *key_id,
		       const char *secret, int mode, store **out, char *msg,
		       size_t msglen);
/* "local" or "s3": the store's blob engine. */
const char *store_blob_engine(const store *st);
/* The blob engine's reason for this thread's last failure ("" when none;
 * never a secret): for the caller's log line (store/ does not log). */
const char *store_blob_engine_error(void);
/* The read cache's bound for a remote engine: the blobs most recently
 * read stay in DIR/cache until their bytes pass it (then the least
 * recently used go). SIEVEFS_BLOB_CACHE_MB in the environment changes it. */
#define STORE_BLOB_CACHE_BYTES (1ull << 30)

/* Bytes STORE/reserve holds for deletes on a full disk. */
#define STORE_RESERVE_BYTES (4 << 20)

/* Closes every connection of every thread, releases the owner lock and
 * frees the handle. Must not race with any other call on the same store.
 * NULL is a no-op. */
void store_close(store *st);

/* Filesystem statistics of the store's disk (for statfs). */
int store_statvfs(store *st, struct statvfs *out);

/* ---- datasets ---- */

/* Creates dataset `name` of `owner` with its initial-tag. -EEXIST if taken. */
int store_dataset_create(store *st, const char *owner, const char *name,
			 struct store_dataset *out);
int store_dataset_get(store *st, const char *owner, const char *name,
		      struct store_dataset *out);               /* -ENOENT */
int store_dataset_get_id(store *st, int64_t id, struct store_dataset *out);
/* Lists the datasets of `owner`, sorted by name. *out is malloc'd (free()). */
int store_dataset_list(store *st, const char *owner,
		       struct store_dataset **out, size_t *n);
/* Deletes a dataset that has no sample (file node in initial-tag) and no tag
 * but initial-tag: else -ENOTEMPTY. */
int store_dataset_delete(store *st, int64_t id);
int store_dataset_rename(store *st, int64_t id, const char *newname);
/* A dataset's `duplicates` setting (store/dups.c; core/dups.h says what
 * it means): get → 1 with *max_distance and emb (NUL-terminated, cut to
 * emblen) when set, 0 when not (exact duplicates only), -errno. set:
 * emb NULL clears it; the caller validated the values. 0 or -errno. */
int store_dups_setting_get(store *st, int64_t ds, double *max_distance,
			   char *emb, size_t emblen);
int store_dups_setting_set(store *st, int64_t ds, double max_distance,
			   const char *emb);
/* Sets the dataset's tag_folders (enum store_tag_folders; the caller
 * checks the value). -ENOENT if there is no such dataset. */
int store_dataset_set_tag_folders(store *st, int64_t id, int mode);

/* ---- tags ---- */

int store_tag_get(store *st, int64_t dataset, const char *name,
		  struct store_tag *out);                     /* -ENOENT */
int store_tag_get_id(store *st, int64_t id, struct store_tag *out);
/* All tags of a dataset, initial-tag first then by creation. free(*out). */
int store_tag_list(store *st, int64_t dataset, struct store_tag **out,
		   size_t *n);
/* Freezes the dataset's current selection as tag `name` (parent = the
 * selection's source tag), in one transaction: the selected files, and
 * the folders of the source tag (same paths, modes, owners and mtimes):
 * every one, also those holding no selected file, or with the dataset's
 * tag_folders = SELECTED only those holding one (at any depth).
 * -EEXIST if the name is taken. */
int store_tag_create(store *st, int64_t dataset, const char *name,
		     int64_t now_ns, struct store_tag *out);
/* Deletes a frozen tag and its nodes (never the live samples); collects blobs
 * nobody references any more. -ENOTEMPTY if another tag names it as parent,
 * -EPERM for initial-tag. Resets the selection if it came from this tag. */
int store_tag_delete(store *st, int64_t tag);
int store_tag_rename(store *st, int64_t tag, const char *newname);
/* Files and bytes of a tree, counted (committed files only). */
int store_tree_count(store *st, int64_t tree, int64_t *files, int64_t *bytes);

/* ---- nodes ---- */

int store_node_get(store *st, int64_t ino, struct store_node *out);
int store_node_lookup(store *st, int64_t parent, const char *name,
		      struct store_node *out);                /* -ENOENT */
/* Children of a dir node sorted by name; *out is malloc'd (free()). */
int store_node_children(store *st, int64_t parent, struct store_node **out,
			size_t *n);
/* Relative path of a node inside its tree ("" for the root) into buf;
 * -ENAMETOOLONG when it does not fit. */
int store_node_path(store *st, int64_t ino, char *buf, size_t len);
/* Creates a dir node, or a pending file node, under `parent` (must be a dir
 * of a live tree). -EEXIST, -ENOTDIR, -EROFS; -EINVAL for a name that is
 * empty, "." or ".." or contains '/'; -ENAMETOOLONG past the limits. */
int store_node_create(store *st, int64_t parent, const char *name,
		      const struct store_newnode *nn, struct store_node *out);
/* Removes a file node (unlink) or an empty dir node (rmdir: -ENOTEMPTY) of a
 * live tree. Collects its blob if nothing else references it. Works on a
 * full disk: when the catalog has no room for the delete (-ENOSPC) it gives
 * up the space reserve and retries once. */
int store_node_remove(store *st, int64_t parent, const char *name, int is_dir);
/* rename(2) inside one live tree. noreplace: -EEXIST if the target exists
 * (RENAME_NOREPLACE). Replacing a dir requires it empty. Paths of the moved
 * subtree are rewritten. -EXDEV across trees. */
int store_node_rename(store *st, int64_t parent, const char *name,
		      int64_t newparent, const char *newname, int noreplace);
/* Sets mode/uid/gid/mtime/atime (flags from STORE_SET_*); ctime becomes
 * now. -ENOENT, -EROFS (frozen tree). */
int store_node_setattr(store *st, int64_t ino, int what, uint32_t mode,
		       uint32_t uid, uint32_t gid, int64_t mtime_ns,
		       int64_t atime_ns);
/* Commits content to a file node (a node removed meanwhile: returns 0 and
 * discards the bytes, as writes to an unlinked open file vanish). The bytes
 * are in a staging file from store_staging_create(): `fd`, and `staged` its
 * path ("" for an unnamed one). Gives them their blob name and points the
 * node at them in one transaction; collects the node's previous blob if
 * unreferenced. mtime_ns 0 = now. durable: fsync file, directory and WAL.
 * On failure the node keeps its previous content. Either way the caller
 * still owns fd; after success it reads the blob. */
int store_node_commit(store *st, int64_t ino, int fd, const char *staged,
		      const unsigned char sha[STORE_SHA_LEN], int64_t size,
		      int64_t mtime_ns, int durable);

/* ---- blobs ---- */

/* Opens the blob of `sha` read-only. Returns an fd (caller closes) or -errno. */
int store_blob_open(store *st, const unsigned char sha[STORE_SHA_LEN]);
/* 1 with a URL anyone may GET blob sha's bytes from for ttl_s seconds
 * (the S3 engine's presigned GET; the bucket stays private), 0 when the
 * engine gives none (local files: the caller sends the bytes), -errno
 * (-ENAMETOOLONG: len too small). Sends nothing. The caller has checked
 * the user may read sha. */
int store_blob_url(store *st, const unsigned char sha[STORE_SHA_LEN],
		   unsigned ttl_s, char *url, size_t len);
/* Removes what uploads older than age_s seconds left in the engine's
 * staging area (a crashed server's; S3: objects and open multipart
 * uploads under PREFIX/staging/), counting them into *removed (may be
 * NULL). Local: nothing (the owner's open empties staging/). 0 or -errno;
 * blocks on I/O. */
int store_blob_engine_sweep(store *st, int64_t age_s, unsigned *removed);
/* Makes a new, empty staging file: unnamed (O_TMPFILE, path set to "")
 * where the filesystem allows, else named in STORE/staging (path set).
 * First re-creates the space reserve if it was given up and there is room
 * again, so uploads cannot take the space deletes need.
 * Returns an fd open for read/write; the caller closes it and commits it or
 * unlinks a named path. */
int store_staging_create(store *st, char *path, size_t len);

/* ---- selection ---- */

/* Calls fn for each selected file path in importance order; stops early when
 * fn returns non-zero (and returns that value). */
typedef int (*store_path_fn)(void *arg, const char *path);
int store_selection_each(store *st, int64_t dataset, store_path_fn fn,
			 void *arg);
int store_selection_count(store *st, int64_t dataset, int64_t *n);
/* Calls fn with the node (ino) of each entry of an explicit selection, in
 * no promised order, without reading the nodes (one pass over the
 * selection's primary key); fn returning non-zero stops the walk. The nodes
 * are those of the selection's source tree (struct store_dataset.sel_tree):
 * the caller checks it is the tree it means. */
typedef int (*store_node_fn)(void *arg, int64_t node);
int store_selection_nodes_each(store *st, int64_t dataset, store_node_fn fn,
			       void *arg);
/* Replaces the selection with `paths` (n relative paths) resolved in tree
 * `tree` of the dataset, in order. Unknown path, directory, pending file or
 * duplicate: -EINVAL, *bad = index of the offending entry, msg says why
 * (naming the path), and nothing changes. bad and msg may be NULL. */
int store_selection_set(store *st, int64_t dataset, int64_t tree,
			const char *const *paths, size_t n, size_t *bad,
			char *msg, size_t msglen);
/* As store_selection_set, but a path listed again (also one naming the
 * same file) keeps its first place instead of being refused: appending. */
int store_selection_set_once(store *st, int64_t dataset, int64_t tree,
			     const char *const *paths, size_t n, size_t *bad,
			     char *msg, size_t msglen);
/* Adds `paths` after an explicit selection taken from tree `tree` (the
 * caller checked both), each path not selected yet, in order; the rows
 * there stay. Errors as store_selection_set's; nothing changes then. */
int store_selection_append(store *st, int64_t dataset, int64_t tree,
			   const char *const *paths, size_t n, size_t *bad,
			   char *msg, size_t msglen);
/* Checks, without changing anything, that each of `paths` is a file of
 * tree `tree` (duplicates are not looked for): 0, or -EINVAL with *bad
 * and msg as store_selection_set gives them. Reads only. */
int store_selection_check(store *st, int64_t dataset, int64_t tree,
			  const char *const *paths, size_t n, size_t *bad,
			  char *msg, size_t msglen);
/* Back to the default: all of initial-tag. */
int store_selection_reset(store *st, int64_t dataset);

/* Tag algebra (selalg.c, issue 21 i21c). fn gets each committed file's
 * node and path; non-zero stops the walk (and is returned). Of a tree,
 * by path; of the selection, in its order (all of its source tree when
 * it is implicit). */
typedef int (*store_file_node_fn)(void *arg, int64_t node, const char *path);
int store_tree_nodes_each(store *st, int64_t tree, store_file_node_fn fn,
			  void *arg);
int store_selection_files_each(store *st, int64_t dataset,
			       store_file_node_fn fn, void *arg);
/* Replaces the selection with `nodes` in order: committed files of any
 * tree of the dataset, distinct, whose paths the caller made distinct;
 * the source (sel_tree, the parent of a tag frozen from it) is `tree`.
 * -EINVAL when tree or a node is not of the dataset (nothing changes). */
int store_selection_set_nodes(store *st, int64_t dataset, int64_t tree,
			      const int64_t *nodes, size_t n);

/* ---- events (the dataset's `log`) ---- */

/* Appends an event; keeps the newest 1000 per dataset. */
int store_event_add(store *st, int64_t dataset, int level, const char *msg);
/* Calls fn for each of the newest `limit` events, oldest first. */
typedef int (*store_event_fn)(void *arg, int64_t ts_ns, int level,
			      const char *msg);
int store_event_each(store *st, int64_t dataset, int limit, store_event_fn fn,
		     void *arg);

/* ---- embeddings ---- */


/* Rows of an upload that name no sample (store_embedding_put). */
#define STORE_EMB_SKIP_SHOW 3
struct store_emb_skip {
	size_t n;                           /* rows skipped */
	size_t first[STORE_EMB_SKIP_SHOW];  /* indices of the first min(n, 3) */
};

/* Stores (or replaces) embedding `name` in one transaction: of n rows of
 * dim floats, those whose path is a committed file of tree `tree`; the
 * others are skipped and reported in *skip (may be NULL): an export read
 * back after a sample was removed, or a CSV made over a larger folder,
 * uploads as is. No row naming a file: -ENOENT and nothing changes. A path
 * given twice: -EINVAL, *bad = its index, nothing changes. out->rows
 * counts the rows kept. */
int store_embedding_put(store *st, int64_t dataset, int64_t tree,
			const char *name, size_t n, size_t dim,
			const char *const *paths, const float *x,
			const int64_t *labels, size_t *bad,
			struct store_emb_skip *skip,
			struct store_embedding *out);
int store_embedding_get(store *st, int64_t dataset, const char *name,
			struct store_embedding *out);          /* -ENOENT */
int store_embedding_get_id(store *st, int64_t id, struct store_embedding *out);
/* By creation, newest last. free(*out). */
int store_embedding_list(store *st, int64_t dataset,
			 struct store_embedding **out, size_t *n);
int store_embedding_delete(store *st, int64_t id);
/* Calls fn for each row in path order. */
typedef int (*store_vec_fn)(void *arg, const char *path, const float *vec,
			    int64_t label);
int store_embedding_each(store *st, int64_t emb, store_vec_fn fn, void *arg);

/* The candidates of a run: the committed files of `tree` that have a vector
 * in `emb`, in path order. Everything malloc'd; free with
 * store_matrix_free(). */
struct store_matrix {
	size_t n, dim;
	char **paths;          /* n, into pool */
	float *x;              /* n*dim */
	int32_t *labels;       /* n: each label's rank among the distinct
				* labels (order kept: equal, less and greater
				* are those of the int64 labels) */
	int64_t *raw_labels;   /* n: the labels as the CSV gave them */
	size_t skipped;        /* files of the tree without a vector */
	char *pool;
};
int store_matrix_load(store *st, int64_t emb, int64_t tree,
		      struct store_matrix *out);
void store_matrix_free(struct store_matrix *m);

/* ---- predictions/ and metadata/ inputs (inputs.c) ---- */

/* Stores (or replaces) input kind/name of dataset with its CSV text (as
 * uploaded, already validated by the caller), in one transaction. */
int store_input_put(store *st, int64_t dataset, int kind, const char *name,
		    const char *text, size_t len, int64_t rows, int64_t cols,
		    struct store_input *out);
int store_input_get(store *st, int64_t dataset, int kind, const char *name,
		    struct store_input *out);                  /* -ENOENT */
int store_input_get_id(store *st, int64_t id, struct store_input *out);
/* Of one kind (0: all), by creation. free(*out). */
int store_input_list(store *st, int64_t dataset, int kind,
		     struct store_input **out, size_t *n);
int store_input_delete(store *st, int64_t id);                /* -ENOENT */
/* The CSV text of input id, malloc'd (NUL-terminated; caller frees). */
int store_input_text(store *st, int64_t id, char **text, size_t *len);
/* has[i] = whether paths[i] is a committed file of tree (one statement
 * for all n, as store_embedding_put checks its rows). 0 or -errno. */
int store_tree_has_files(store *st, int64_t tree, char *const *paths,
			 size_t n, unsigned char *has);

/* ---- built-in embedder ---- */

/* Calls fn for each committed file of tree `tree` (path order) with its
 * blob hash and size; stops when fn returns non-zero (and returns that). */
typedef int (*store_file_fn)(void *arg, const char *path,
			     const unsigned char *sha, int64_t size);
int store_tree_files_each(store *st, int64_t tree, store_file_fn fn,
			  void *arg);
/* Cached raw features of blob `sha` under extractor `kind` (dim floats into
 * vec), sha being the hash of the bytes they were computed from. Derived
 * from those bytes, so readable exactly as they are: server code asks only
 * for a hash store_blob_source() gave for the user. 0 = found; 1 = the blob is known not to be a usable image (the
 * reason in why, may be NULL); -ENOENT = not computed yet (or computed with
 * another dimension). */
int store_feature_get(store *st, const char *kind,
		      const unsigned char sha[STORE_SHA_LEN], float *vec,
		      size_t dim, char *why, size_t whylen);
/* Stores n results in one transaction: shas n*32 bytes, vecs n*dim floats;
 * errs[i] non-NULL marks entry i as not an image with that reason (its vec
 * is ignored). errs may be NULL. */
int store_feature_put(store *st, const char *kind, size_t n,
		      const unsigned char *shas, const float *vecs,
		      size_t dim, const char *const *errs);
/* The dataset's embedder options and the fingerprint of the inputs its
 * `builtin` embedding was made from. -ENOENT if never set. */
int store_builtin_get(store *st, int64_t dataset, char *params, size_t plen,
		      char *fp, size_t fplen);
int store_builtin_set(store *st, int64_t dataset, const char *params,
		      const char *fp);

/* ---- sampling runs ---- */


/* Sets r->id (catalog-wide, the key) and r->seq (max + 1 in r->dataset). */
int store_run_create(store *st, struct store_run *r);
/* Writes status, progress, candidates, times, error and embedding of r. */
int store_run_update(store *st, const struct store_run *r);
int store_run_get(store *st, int64_t id, struct store_run *out);
int store_run_latest(store *st, int64_t dataset, struct store_run *out);
/* The latest finished run that ranked samples (not an `embed` run). */
int store_run_latest_done(store *st, int64_t dataset, struct store_run *out);
/* Stores the ranking of a finished run (paths in rank order with scores) and
 * makes its top `keep` the dataset's selection (from tag r->from_tag), all
 * in one transaction with r's state written as done — only while r->srv
 * holds r (queue.c): -ESTALE and nothing written otherwise. */
int store_run_finish(store *st, const struct store_run *r, size_t n,
		     const char *const *paths, const float *scores,
		     size_t keep);
/* store_run_finish that also writes r's state as done (store_run_put's
 * check: -ESTALE, nothing written, when r->srv no longer holds it) and
 * event (NULL: none) at level into the dataset's log, all in one
 * transaction. (store_run_finish does the same with no event.) */
int store_run_finish_log(store *st, const struct store_run *r, size_t n,
			 const char *const *paths, const float *scores,
			 size_t keep, int level, const char *event);
/* The selection becomes the top `keep` of run `run`. -EINVAL if the run is
 * not done or ranked fewer than `keep` samples (*ranked tells how many;
 * may be NULL). */
int store_run_keep(store *st, int64_t run, size_t keep, int64_t *ranked);
/* The dataset's latest runs, newest first, at most limit (1..128, else
 * -EINVAL); free(*out). Reads only. */
int store_run_list(store *st, int64_t dataset, int limit,
		   struct store_run **out, size_t *n);

int store_run_scores_each(store *st, int64_t run, int limit,
			  int (*fn)(void *arg, const char *path, double score),
			  void *arg);

/* ---- the run queue (queue.c) ----
 *
 * Runs are a queue in the catalog, so any server of a shared catalog may
 * run any dataset's request and `sample` reads the same from each. A
 * worker claims the oldest run that is queued, or running under a lease
 * that expired (its server died or stalled): one statement, the row
 * picked with SQL_SKIP_LOCKED (sql.h) inside a write transaction, so two
 * claimers never get the same run. The claimer holds the run under a
 * lease (runs.srv, runs.lease) it renews with store_run_beat, which also
 * writes its progress and reads whether `cancel` was asked. Every later
 * write of the run's state by its worker (store_run_put, store_run_finish)
 * checks, in the statement that writes, that the lease is still its own:
 * a worker whose run was taken over gets -ESTALE and its result is not
 * written, so a run completes exactly once. Times are each server's
 * CLOCK_REALTIME: servers of one catalog need clocks in step (NTP) to
 * well within a lease. */

/* The length of a lease (a run's and a server's), renewed every third
 * of it: 30 s, or SIEVEFS_LEASE_MS from the environment (500 ms .. 1 h;
 * for tests that kill a server and wait for the takeover). Read once. */
int64_t store_lease_ns(void);
/* This process's id among the servers of a shared catalog (servers.c),
 * the `srv` its workers claim runs with; 0 for an embedded store (its
 * flock makes it the one owner) and for admin handles. */
int64_t store_server_id(store *st);
/* Claims the oldest claimable run for server srv until lease_ns (ns, an
 * absolute time): status running, started set when it was queued, its
 * progress reset (a taken-over run starts again), into *out. 0, -ENOENT
 * when there is none, or -errno. */
int store_run_claim(store *st, int64_t srv, int64_t lease_ns,
		    struct store_run *out);
/* 1 if a run is claimable now, 0 if not: one read, no transaction, what
 * an idle worker polls before it claims. Or -errno. */
int store_run_claimable(store *st);
/* The worker's heartbeat: extends the lease of run id held by srv to
 * lease_ns and records its progress (done of total, phase); *cancel
 * (may be NULL) = 1 when cancel was asked. -ESTALE when srv no longer
 * holds it (taken over, or ended); nothing written then. */
int store_run_beat(store *st, int64_t id, int64_t srv, int64_t lease_ns,
		   int64_t done, int64_t total, const char *phase,
		   int *cancel);
/* The worker's write of r's state (status, done, total, skipped, times,
 * error, emb, candidates, phase), only if r->srv still holds r: the end
 * of a failed, cancelled or `embed` run, or the embedding it now has.
 * -ESTALE when not (nothing written). */
int store_run_put(store *st, const struct store_run *r);
/* store_run_put and, in the same transaction, event `event` (NULL: none)
 * at `level` in the run's dataset's `log`: a run's end is logged once,
 * by the server whose write landed, and is in `log` as soon as the
 * status says it ended. */
int store_run_end(store *st, const struct store_run *r, int level,
		  const char *event);
/* `cancel` for dataset ds: its queued runs become cancelled at once, its
 * running ones get the cancel flag their worker reads at its next beat.
 * How many of each into *queued and *running (either may be NULL). */
int store_run_cancel(store *st, int64_t ds, int64_t *queued,
		     int64_t *running);
/* The first run of ds that is queued or running and will set the
 * selection (not `embed`), into *out: 0, or -ENOENT when none. */
int store_run_active(store *st, int64_t ds, struct store_run *out);

/* What `sample` says of a dataset besides its runs, kept in the catalog
 * so every server says the same (run_notes; all 0 / "" when never set). */
struct store_run_note {
	char error[512];        /* the last rejected request's reason */
	int64_t error_ns;
	/* the latest `keep`, until the selection is written otherwise:
	 * keep_n asked, keep_got in the selection, of run keep_seq */
	int64_t keep_n, keep_got, keep_seq, keep_ns;
	int64_t hand_ns;        /* the selection was last written by hand */
};
/* Reads ds's note into *out (zeroed when there is none). 0 or -errno. */
int store_run_note_get(store *st, int64_t ds, struct store_run_note *out);
/* Sets the rejected request's reason (at ns), the latest keep, or that
 * the selection was written by hand (which forgets the keep). Each one
 * upsert. 0 or -errno. */
int store_run_note_error(store *st, int64_t ds, const char *why, int64_t ns);
int store_run_note_keep(store *st, int64_t ds, int64_t n, int64_t got,
			int64_t seq, int64_t ns);
int store_run_note_hand(store *st, int64_t ds, int64_t ns);

/* ---- servers of a shared catalog (servers.c) ----
 *
 * On an engine whose catalog is shared (sql.h `shared`: PostgreSQL), an
 * owner's store_open registers the process in `servers` with a lease
 * that a thread of the store renews every third of store_lease_ns(); the
 * same thread sweeps what servers whose lease expired left behind: their
 * pending uploads (file nodes with no hash, which carry the id of the
 * server that made them), and pending nodes of no live server older than
 * STORE_PENDING_GRACE_NS. A live server's in-flight upload is never
 * touched. Their runs need no sweep: they are claimed again once their
 * own lease expires (above). On SQLite none of this runs: the flock is
 * the owner, and its open recovers everything. */
#define STORE_PENDING_GRACE_NS (3600LL * 1000000000LL)
/* One sweep now (the renewing thread calls it; a test may): deletes the
 * pending nodes described above and the rows of expired servers. How
 * many nodes into *nodes (may be NULL). 0 or -errno. */
int store_servers_sweep(store *st, int64_t *nodes);

/* ---- change counters (changes.c) ---- */

/* Reads the counters of dataset (one indexed range, two indexed probes).
 * 0 or -errno; an unknown dataset reads all 0. */
int store_changes_get(store *st, int64_t dataset, struct store_changes *out);
/* The catalog's epoch (changes.c): random, made with the schema, the same
 * for every server on the catalog; ETags and table gens carry it. Made
 * here once for a catalog older than it. 0 or -errno. */
int store_catalog_epoch(store *st, uint64_t *epoch);
/* Renews it (a restored backup of a catalog repeats counters with other
 * contents): *old (0 when none was) and *fresh. -EBUSY, nothing written,
 * when *live servers other than this handle's hold a live lease on the
 * catalog (they keep the epoch they read at their start): the caller
 * opened an embedded store as its owner, so no mount or server has it. */
int store_catalog_epoch_renew(store *st, uint64_t *old, uint64_t *fresh,
			      int64_t *live);

/* At most `limit` files (not folders) of tree `tree` whose paths sort
 * bytewise after `after` ("" = from the start), in path order: one range
 * of the nodes_path index, so a caller pages through a big tree with
 * bounded memory and no read transaction held between pages. Free with
 * store_tree_files_free. 0 or -errno. */
int store_tree_files_page(store *st, int64_t tree, const char *after,
			  size_t limit, struct store_tree_file **out,
			  size_t *n);
/* Frees what store_tree_files_page gave; NULL is a no-op. */
void store_tree_files_free(struct store_tree_file *v, size_t n);

/* ---- users and API tokens (server mode; users.c) ---- */

/* How often a token's last use is written, at most: a busy client must not
 * write the catalog on every request. */
#define STORE_TOKEN_TOUCH_NS (60ll * 1000000000)


/* 1 if `name` may name a user: 1-64 of A-Z a-z 0-9 . _ -, starting with a
 * letter or digit. */
int store_user_valid(const char *name);
/* 1 if `token` has the token format (it may still be unknown). */
int store_token_format_ok(const char *token);
/* SHA-256 of the token text. */
void store_token_hash(const char *token, unsigned char out[STORE_SHA_LEN]);
/* Constant-time comparison of two hashes: 1 if equal. */
int store_hash_equal(const unsigned char a[STORE_SHA_LEN],
		     const unsigned char b[STORE_SHA_LEN]);
/* Creates a token for `user` (creating the user): the token text into
 * `token` (STORE_TOKEN_LEN + 1 bytes), its id into *id (may be NULL).
 * -EINVAL for a bad user name, -EIO if no randomness. */
int store_token_create(store *st, const char *user, char *token, int64_t *id);
/* 1 if `name` may name a token: at most STORE_TOKEN_NAME_MAX bytes of
 * valid UTF-8 without control characters ("" is valid: no name). */
int store_token_name_valid(const char *name);
/* store_token_create with a name (NULL = ""): -EINVAL also for a name
 * store_token_name_valid refuses. */
int store_token_create_named(store *st, const char *user, const char *name,
			     char *token, int64_t *id);
/* Every token, by id; free(*out). */
int store_token_list(store *st, struct store_token **out, size_t *n);
/* The unrevoked tokens of `user`, newest first; free(*out). */
int store_token_list_user(store *st, const char *user,
			  struct store_token **out, size_t *n);
/* Revokes token `id` of `user` and ends its sessions: -ENOENT when no
 * unrevoked token of that user has that id (another user's too). */
int store_token_revoke_own(store *st, const char *user, int64_t id);
/* Revokes a token and ends its sessions: -ENOENT if no such id. Revoking
 * twice is fine. */
int store_token_revoke(store *st, int64_t id);
/* The user of a valid, unrevoked token into user (STORE_USER_MAX + 1
 * bytes): 0, or -EACCES (malformed, unknown or revoked). */
int store_token_check(store *st, const char *token, char *user);
/* store_token_check that also gives the token's id (*id, may be NULL) and
 * records its use (last_used_ns) when the last record is older than
 * STORE_TOKEN_TOUCH_NS: one short write a minute per token at most; a
 * failed record does not fail the check. */
int store_token_auth(store *st, const char *token, char *user, int64_t *id);

/* ---- the web app's sessions (sessions.c) ---- */


/* 1 if `sid` has the session id format (it may still be unknown). */
int store_session_format_ok(const char *sid);
/* Signs in with `token`: a new session of its user, valid ttl_ns from
 * now, its id into sid (STORE_SESSION_LEN + 1 bytes) and the user into
 * user (STORE_USER_MAX + 1). 0; -EACCES for a malformed, unknown or
 * revoked token; -EIO if no randomness; another -errno of the catalog. */
int store_session_create(store *st, const char *token, int64_t ttl_ns,
			 char *sid, char *user);
/* The user of a live session (not expired, its token not revoked) into
 * user: 0, or -EACCES (malformed, unknown, expired, revoked); -EIO. */
int store_session_check(store *st, const char *sid, char *user);
/* store_session_check that also gives the id of the token that made the
 * session (*token, may be NULL) and records that token's use as
 * store_token_auth does. */
int store_session_auth(store *st, const char *sid, char *user,
		       int64_t *token);
/* Ends a session (signs out): 0 also when there was none; -errno. */
int store_session_delete(store *st, const char *sid);

/* ---- queries for the server (users.c) ---- */

/* At most `limit` children of dir `parent` whose names sort after `after`
 * ("" = from the start), by name (bytewise). free(*out). */
int store_node_children_page(store *st, int64_t parent, const char *after,
			     size_t limit, struct store_node **out, size_t *n);
/* The change counter of folder `ino` into *gen: it moves whenever a child
 * of ino is created, committed, renamed in or out, removed or has its
 * attributes set (schema_sqlite.c, "Folder generations"); 0 for a folder never
 * changed. One indexed read. 0 or -EIO. */
int store_node_gen(store *st, int64_t ino, uint64_t *gen);
/* Node ino when its dataset belongs to owner (else -ENOENT, also for
 * another owner's), and its change counter (as store_node_gen) into *gen:
 * one statement, for a listing. 0 or -errno. */
int store_node_owned_gen(store *st, const char *owner, int64_t ino,
			 struct store_node *out, uint64_t *gen);
/* Gives staged bytes (fd; staged = path, "" if unnamed) whose hash the
 * caller verified their blob name without pointing any node at them. With
 * `user` (NULL: none), also records in the same transaction that user sent
 * them (store_blob_grant) and, unless a node names them already, that they
 * are pending from now on (a blob sent again has its whole grace again).
 * An unreferenced blob may be collected at any time (next open, when a node
 * with the same bytes goes away, or by store_blob_sweep after its grace):
 * commit a node to it soon. 0 or -errno; the staged file is consumed. */
int store_blob_put(store *st, int fd, const char *staged,
		   const unsigned char sha[STORE_SHA_LEN], const char *user);
/* An upload streamed to the store's engine as its bytes arrive (a
 * server's PUT body), beside the staging file they are also written to.
 * begin: 0 with *out, or 0 with *out NULL when the engine takes the bytes
 * from the staging file at the put instead (local files: a link); -errno.
 * write: the next len bytes, in order; -errno (S3: a part that failed),
 * the upload must then be aborted. abort: drops it (NULL: no-op). */
struct blob_upload;
int store_blob_stream_begin(store *st, struct blob_upload **out);
int store_blob_stream_write(struct blob_upload *u, const void *buf,
			    size_t len);
void store_blob_stream_abort(struct blob_upload *u);
/* store_blob_put for bytes also streamed into u (NULL: store_blob_put):
 * the grant and pending row first, then the engine's finish of u, which
 * refuses bytes that do not hash to sha (-EBADMSG; nothing stored) and
 * makes the blob appear; the staging file then becomes the read cache's
 * copy. u is consumed whatever the outcome. */
int store_blob_put_streamed(store *st, int fd, const char *staged,
			    struct blob_upload *u,
			    const unsigned char sha[STORE_SHA_LEN],
			    const char *user);
/* The upload cap of one user: pending bytes and rows. */
struct store_cap {
	uint64_t bytes;
	size_t count;
};
/* store_blob_put under an upload cap: the check of user's pending rows
 * against cap is made inside the put's write transaction, before the
 * bytes are linked, so puts from any number of servers at once never add
 * up past it (users.c). -EDQUOT when the put would go over (nothing
 * stored; *count and *bytes, when not NULL, get the user's pending rows
 * as the check saw them); a put that adds no pending row (user holds a
 * grant for sha, or something names it) is not capped. cap NULL: no cap.
 * u: as store_blob_put_streamed (consumed). Else as store_blob_put. */
int store_blob_put_capped(store *st, int fd, const char *staged,
			  struct blob_upload *u,
			  const unsigned char sha[STORE_SHA_LEN],
			  const char *user, const struct store_cap *cap,
			  size_t *count, int64_t *bytes);
/* Content addressing makes a hash look like a capability: whoever knows
 * it could point a node at the bytes and read them. So a server user may
 * read or reference a blob only after sending its bytes once (a verified
 * PUT records a grant). Grants go with the blob (blob_collect). */
int store_blob_grant(store *st, const char *user,
		     const unsigned char sha[STORE_SHA_LEN]);
/* 1 if a node (live or frozen, file of any tag) of a dataset of `owner`
 * names sha, 0 if none, or -errno (names, not reads: see
 * store_blob_granted). One indexed probe (nodes_sha). */
int store_blob_owned(store *st, const unsigned char sha[STORE_SHA_LEN],
		     const char *owner);
/* 1 if `user` has sent the bytes of sha, 0 if not, or -errno. */
int store_blob_granted(store *st, const char *user,
		       const unsigned char sha[STORE_SHA_LEN]);

/* Uploaded blobs no node names ("pending": PUT by a user, not committed;
 * a thumbnail is named while its original is). users.c has the design. */
/* How many blobs `user` has pending (*count) and their bytes (*bytes).
 * One indexed read. 0 or -errno. */
int store_blob_pending(store *st, const char *user, size_t *count,
		       int64_t *bytes);
/* Collects every pending blob whose last PUT is older than grace_ns, with
 * its grants (a commit naming it then finds no blob: the client sends it
 * again), unless another user's PUT within the grace still keeps it. Each
 * collection is one short write transaction that checks again under the
 * write lock, so neither a commit nor a PUT again loses its blob to the
 * sweep. Counts into *removed and *bytes (may be NULL). 0 or -errno;
 * blocks on I/O. */
int store_blob_sweep(store *st, int64_t grace_ns, size_t *removed,
		     int64_t *bytes);

/* ---- request budgets shared by servers (users.c) ---- */

/* Takes a lease of up to `want` requests (>= 1; at most burst) from
 * user's token bucket in the catalog (burst requests, refilled at per_s
 * a second; a new user's starts full), as of now_ns (CLOCK_REALTIME):
 * *got the requests leased (want; or, when fewer are left, all that are
 * if at least one, fractions included; else 0), *left what the bucket
 * holds after. One upsert in its own write transaction, retried on
 * -EAGAIN. The caller spends *got itself. 0, -EINVAL, or -errno. */
int store_rate_lease(store *st, const char *user, double burst,
		     double per_s, double want, int64_t now_ns, double *got,
		     double *left);

/* ---- bytes kept by the uploader (upload=meta|thumbnails; kept.c) ---- */

/* Points file node `ino` at `sha` (size bytes) without the blob: its bytes
 * stay on the uploading machine. thumb (NULL = none): a blob of thumb_size
 * bytes the server has, recorded as a thumbnail of sha (beside any other
 * user's: each sees his own, store_thumb_get_for). One transaction; a node
 * removed meanwhile: 0, nothing changes. -EROFS (frozen/dir), -EAGAIN (the
 * thumbnail blob is missing: upload it again), -EINVAL, -EIO. */
int store_node_commit_kept(store *st, int64_t ino,
			   const unsigned char sha[STORE_SHA_LEN], int64_t size,
			   int64_t mtime_ns,
			   const unsigned char *thumb, int64_t thumb_size,
			   int durable);
/* 1 if the bytes of sha were committed as kept by their uploader, 0 if
 * not, or -errno. (The blob may still exist: a full upload of the same
 * bytes.) */
int store_blob_kept(store *st, const unsigned char sha[STORE_SHA_LEN]);
/* Which bytes a run of `owner`'s dataset may read for a node naming sha,
 * into src: sha itself or its thumbnail (upload=thumbnails). A server user
 * (owner not "") reads only bytes they sent (store_blob_grant): sha when
 * granted, else a granted thumbnail; one query either way, so the answer
 * and its cost say nothing about what other users hold. The embedded user
 * (owner "") reads sha when its blob exists, else its thumbnail's. 0,
 * -ENOENT (nothing this user may read, or its blob is gone: "bytes not on
 * the server"), -EIO. A blob may still be collected before it is opened. */
int store_blob_source(store *st, const char *owner,
		      const unsigned char sha[STORE_SHA_LEN],
		      unsigned char src[STORE_SHA_LEN]);
/* A thumbnail of original sha (the first by hash when several users sent
 * one): its hash and size. For the embedded user; a server user's view is
 * store_thumb_get_for. 0, -ENOENT or -EIO. */
int store_thumb_get(store *st, const unsigned char sha[STORE_SHA_LEN],
		    unsigned char thumb[STORE_SHA_LEN], int64_t *size);
/* The same as `user` may see it: only a thumbnail whose bytes user sent
 * (a grant), one query whether or not another user's exists; user ""
 * (embedded) sees any. 0, -ENOENT or -EIO. */
int store_thumb_get_for(store *st, const char *user,
			const unsigned char sha[STORE_SHA_LEN],
			unsigned char thumb[STORE_SHA_LEN], int64_t *size);

/* ---- the cache of server-made thumbnails (thumbs.c) ---- */


/* Opens the cached thumbnail of the bytes of blob sha at `side`
 * (STORE_THUMB_SIDE) read-only: an fd (caller closes), -ENOENT when none
 * is cached, -EINVAL for another side, or -errno. One open(2), no catalog
 * read: the caller has checked the user may read sha. */
int store_thumbcache_open(store *st, const unsigned char sha[STORE_SHA_LEN],
			  int side);
/* Caches len bytes of buf as that thumbnail (temp file + rename, so
 * concurrent puts of the same one leave one whole file). It goes when the
 * blob of sha is collected; when that blob is already gone it is removed
 * again and the call returns -ENOENT. 0 or -errno; blocks on I/O. */
int store_thumbcache_put(store *st, const unsigned char sha[STORE_SHA_LEN],
			 int side, const void *buf, size_t len);

/* ---- helpers ---- */

/* SHA-256 of a whole file (fd read from offset 0). */
int store_sha256_fd(int fd, unsigned char sha[STORE_SHA_LEN]);
void store_sha_hex(const unsigned char sha[STORE_SHA_LEN], char hex[65]);
int64_t store_now_ns(void);

/* ---- idempotency keys of state-changing requests (idem.c; part
 * "deploy", issue 19 item 8) ---- */

#define STORE_IDEM_KEY_MIN 16
#define STORE_IDEM_KEY_MAX 64
/* What became of the thread's armed key (store_idem_state/_disarm). */
enum store_idem_state {
	STORE_IDEM_ARMED = 0,      /* no write committed (yet) */
	STORE_IDEM_RECORDED = 1,   /* committed with the request's first write */
	STORE_IDEM_TAKEN = 2,      /* another try holds the key: this try's
	                            * write was rolled back */
};
/* A stored row: status 0 = recorded, no answer yet. */
struct store_idem_answer {
	int status;
	char ctype[96];
	char *body;                /* malloc'd, NUL-terminated: free() */
	size_t len;
	int has_body;
};
/* 1 if key is 16..64 characters of [0-9A-Za-z_-]. */
int store_idem_key_ok(const char *key);
/* Arms the calling thread: the next write transaction it commits on st
 * inserts (user, key) with the change, in the same transaction. */
void store_idem_arm(store *st, const char *user, const char *key);
/* The armed key's state (enum store_idem_state), still armed. */
int store_idem_state(void);
/* Disarms the thread; its key's state. */
int store_idem_disarm(void);
/* The row of (user, key): 0 (free out->body), -ENOENT, -errno. */
int store_idem_lookup(store *st, const char *user, const char *key,
		      struct store_idem_answer *out);
/* Stores the answer of a recorded key (body NULL: none kept). 0/-errno. */
int store_idem_answer(store *st, const char *user, const char *key,
		      int status, const char *ctype, const char *body,
		      size_t len);
/* Deletes the keys made before before_ns; how many into *deleted. */
int store_idem_sweep(store *st, int64_t before_ns, int64_t *deleted);

#endif
