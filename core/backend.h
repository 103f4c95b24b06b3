/*
 * backend.h — the one interface fs/ talks to: the platform's operations on
 * datasets, tags, the nodes of trees, uploads, the selection, and the text of
 * the control files.
 *
 * core/local.c implements it over store/ (embedded mode); the remote client
 * in api/ implements the same table over HTTP (remote mode). The record types
 * are the value types of core/records.h (store/ fills them; they carry no
 * function): fs/ and the remote client read their fields and include
 * nothing of store/ (docs/design.md §2.1).
 *
 * Errors: every operation returns 0 or a negative errno, ready for FUSE.
 * Operations that can fail because of user input write a reason into `msg`
 * (when non-NULL) and also record it in the dataset's log.
 *
 * Threads: every operation may be called from any thread concurrently and
 * may block on disk or network I/O.
 */
#ifndef SIEVEFS_CORE_BACKEND_H
#define SIEVEFS_CORE_BACKEND_H

#include <stddef.h>
#include <stdint.h>
#include <sys/statvfs.h>

#include "core/records.h"
#include "embed/imgstats.h"

typedef struct store_node be_node;
typedef struct store_dataset be_dataset;
typedef struct store_tag be_tag;

#define BE_MSG 512

struct backend;

/* selection_write flags. APPEND: the text's paths are added after the
 * current selection (a path already selected, or listed twice, keeps its
 * first place), resolved in the selection's source tag unless the text's
 * first line names another (`# from: TAG`, which then becomes the source
 * of all of it). CHECK: the text is parsed and every path resolved as the
 * write would, and nothing changes (a path listed twice is found only by
 * the write); a refusal is logged like the write's. */
#define BE_SEL_APPEND 1
#define BE_SEL_CHECK 2

struct backend_ops {
	/* Datasets of the mount's user. Lists are malloc'd; caller free()s. */
	int (*dataset_list)(struct backend *, be_dataset **out, size_t *n);
	int (*dataset_get)(struct backend *, const char *name, be_dataset *out);
	int (*dataset_get_id)(struct backend *, int64_t id, be_dataset *out);
	int (*dataset_create)(struct backend *, const char *name,
			      be_dataset *out, char *msg);
	int (*dataset_delete)(struct backend *, int64_t id, char *msg);
	int (*dataset_rename)(struct backend *, int64_t id, const char *name,
			      char *msg);
	/* Sets which folders later tags of the dataset get: value "all" or
	 * "selected" (core_tag_folders_parse); anything else -EINVAL, with
	 * the reason in msg and the log, and nothing changed. */
	int (*dataset_set_tag_folders)(struct backend *, int64_t id,
				       const char *value, char *msg);

	int (*tag_list)(struct backend *, int64_t ds, be_tag **out, size_t *n);
	int (*tag_get)(struct backend *, int64_t ds, const char *name,
		       be_tag *out);
	int (*tag_get_id)(struct backend *, int64_t id, be_tag *out);
	/* Freezes the current selection as tag `name`. */
	int (*tag_create)(struct backend *, int64_t ds, const char *name,
			  be_tag *out, char *msg);
	int (*tag_delete)(struct backend *, int64_t tag, char *msg);
	int (*tag_rename)(struct backend *, int64_t tag, const char *name,
			  char *msg);

	int (*node_get)(struct backend *, int64_t ino, be_node *out);
	int (*node_lookup)(struct backend *, int64_t parent, const char *name,
			   be_node *out);
	int (*node_children)(struct backend *, int64_t parent, be_node **out,
			     size_t *n);
	int (*node_create)(struct backend *, int64_t parent, const char *name,
			   const struct store_newnode *nn, be_node *out);
	int (*node_remove)(struct backend *, int64_t parent, const char *name,
			   int is_dir);
	int (*node_rename)(struct backend *, int64_t parent, const char *name,
			   int64_t newparent, const char *newname,
			   int noreplace);
	/* Sets the STORE_SET_* fields of `what`. mode is permission bits
	 * only (07777): a mode with file type bits is -EINVAL remotely. */
	int (*node_setattr)(struct backend *, int64_t ino, int what,
			    uint32_t mode, uint32_t uid, uint32_t gid,
			    int64_t mtime_ns, int64_t atime_ns);
	/* An fd on the committed bytes of a file node (caller closes). */
	int (*node_open)(struct backend *, const be_node *n);
	/* A new local staging file for an upload: fd, path in `path`. */
	int (*staging_create)(struct backend *, char *path, size_t len);
	/* Makes staged bytes (fd; staged = its path, "" if unnamed) the
	 * content of file node `ino` (see store_node_commit). */
	int (*node_commit)(struct backend *, int64_t ino, int fd,
			   const char *staged,
			   const unsigned char sha[STORE_SHA_LEN], int64_t size,
			   int64_t mtime_ns, int durable);

	/* Control files: the whole text, malloc'd into *out (caller frees). */
	int (*selection_read)(struct backend *, int64_t ds, char **out,
			      size_t *len);
	/* Replaces the selection from the text of the `selection` file;
	 * flags: BE_SEL_* below. -EINVAL with the reason in msg (and the
	 * log), nothing changed. */
	int (*selection_write)(struct backend *, int64_t ds, const char *text,
			       size_t len, int flags, char *msg);
	int (*info_read)(struct backend *, int64_t ds, char **out, size_t *len);
	int (*log_read)(struct backend *, int64_t ds, char **out, size_t *len);
	/* Records an event (level: STORE_INFO / STORE_ERROR) in a dataset's
	 * log; ds 0 = the daemon log only. */
	void (*log_event)(struct backend *, int64_t ds, int level,
			  const char *msg);

	/* Sampling (docs/design.md "The sample control file"): one request line;
	 * 0 once accepted (the work runs in the background), -EINVAL with
	 * the reason in msg. */
	int (*sample_request)(struct backend *, int64_t ds, const char *line,
			      char *msg);
	int (*sample_read)(struct backend *, int64_t ds, char **out,
			   size_t *len);
	int (*scores_read)(struct backend *, int64_t ds, char **out,
			   size_t *len);
	/* method: CORE_LAYOUT_* (core/layout.h): plot.svg is PCA,
	 * plot-umap.svg the neighbour-preserving layout (issue 21). */
	int (*plot_read)(struct backend *, int64_t ds, int method, char **out,
			 size_t *len);

	/* Embeddings: list (free(*out)), get by name or id, upload a whole
	 * CSV text (validated: -EINVAL and msg names row and column; nothing
	 * stored), delete, export as CSV text into fd. */
	int (*emb_list)(struct backend *, int64_t ds,
			struct store_embedding **out, size_t *n);
	int (*emb_get)(struct backend *, int64_t ds, const char *name,
		       struct store_embedding *out);
	int (*emb_get_id)(struct backend *, int64_t id,
			  struct store_embedding *out);
	int (*emb_put)(struct backend *, int64_t ds, const char *name,
		       const char *text, size_t len, char *msg);
	int (*emb_delete)(struct backend *, int64_t id);
	int (*emb_export)(struct backend *, int64_t id, int fd);

	/* Selection inputs (issue 21, i21a): the predictions/ and metadata/
	 * CSVs (core/incsv.h); kind: enum core_input_kind. list: of one
	 * kind (0: all), free(*out). put: validated (-EINVAL, msg names row
	 * and column; nothing stored), stored as the bytes given. export:
	 * what CORE_INPUT_TEXT (the CSV as uploaded) or CORE_INPUT_SCORES
	 * (predictions: NAME.scores.csv) into fd. Another user's input or
	 * dataset: -ENOENT. */
	int (*input_list)(struct backend *, int64_t ds, int kind,
			  struct store_input **out, size_t *n);
	int (*input_get)(struct backend *, int64_t ds, int kind,
			 const char *name, struct store_input *out);
	int (*input_get_id)(struct backend *, int64_t id,
			    struct store_input *out);
	int (*input_put)(struct backend *, int64_t ds, int kind,
			 const char *name, const char *text, size_t len,
			 char *msg);
	int (*input_delete)(struct backend *, int64_t id);
	int (*input_export)(struct backend *, int64_t id, int what, int fd);
	/* Built-in image metadata (core/imgmeta.h): metadata/builtin.csv of
	 * the dataset's initial-tag (malloc'd; the values computed so far,
	 * never a decode: what is missing is computed in the background), and
	 * the values of one file node (0; -ENODATA not an image or bytes not
	 * here). fill: starts the background computing of the `missing`
	 * values a caller found absent, without making the text (NULL in
	 * remote mode: the server computes); 0 or -errno. */
	int (*imgmeta_read)(struct backend *, int64_t ds, char **out,
			    size_t *len);
	int (*imgmeta_fill)(struct backend *, int64_t ds, size_t missing);
	int (*node_imgmeta)(struct backend *, int64_t ino,
			    struct emb_imgstats *out);
	/* issue 21 (i21c): the `duplicates` file (core/dups.h). read: its
	 * text; config: one line ("max_distance=D embedding=NAME" or
	 * "exact"), 0 or -EINVAL with the reason in msg (and the log),
	 * nothing changed. */
	int (*dups_read)(struct backend *, int64_t ds, char **out,
			 size_t *len);
	int (*dups_config)(struct backend *, int64_t ds, const char *line,
			   char *msg);

	/* issue 21 item 5: the text of export fmt (CORE_EXPORT_*,
	 * core/exports.h) of tag `tag`, malloc'd. prefix: the absolute path
	 * of the tag's folder through the mount (embedded mode's Label Studio
	 * images are PREFIX/PATH); a remote backend's server makes URLs
	 * instead. Another user's tag: -ENOENT. */
	int (*export_read)(struct backend *, int64_t tag, int fmt,
			   const char *prefix, char **out, size_t *len);
	/* export_read's Label Studio images are PREFIX/PATH and nothing
	 * else: a frozen tag's text is fixed while its prefix is. */
	int export_paths;
	/* The change counter of dataset ds's live tree (store_table_gen: it
	 * moves with every create, commit, rename and removal in it), so a
	 * live tag's TXT, and its Label Studio text where export_paths, is
	 * made again only when it moves. NULL: none (made at stats outside
	 * the reuse window, fs/exports.c). */
	int (*export_tree_gen)(struct backend *, int64_t ds, uint64_t *gen);

	int (*statfs)(struct backend *, struct statvfs *out);
	/* Frozen trees never change: may the kernel cache them for long? */
	int frozen_cache_ok;
	/* Seconds the kernel may cache names and attributes of live trees. */
	double live_ttl;
	void (*destroy)(struct backend *);
};

struct backend {
	const struct backend_ops *ops;
};

/* Where a store lives: its directory (blobs, staging, thumbnails, the
 * owner lock; created if missing) and its catalog. */
struct core_store_cfg {
	const char *dir;
	/* NULL: the SQLite file DIR/catalog.db; else the catalog engine's
	 * target (store/sql.h), e.g. a "postgresql://" URI, whose schema is
	 * created or upgraded at the open. It may hold a password (read from
	 * a --catalog-file): never copied into a message. */
	const char *catalog;
	/* NULL or "": the blobs in DIR/blobs (the local engine); else the
	 * blob engine's spec (store/blobstore.h, blobs_open_spec), e.g.
	 * "s3://BUCKET/PREFIX?endpoint=…&region=…". It holds no secret. */
	const char *blobs;
	/* The S3 credentials of a config file, both or neither; NULL: the
	 * engine reads AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. The
	 * secret is never copied into a message nor a log line. */
	const char *s3_key_id, *s3_secret;
};

/* Embedded mode: a backend over the store in `dir` for user `owner`.
 * Runs crash recovery. Returns 0 or -errno with a reason in msg.
 * Free with be->ops->destroy(be). */
int core_local_open(const char *dir, const char *owner, struct backend **out,
		    char *msg, size_t msglen);
/* The same for the store cfg names (`sievefs serve --catalog`). */
int core_local_open_cfg(const struct core_store_cfg *cfg, const char *owner,
			struct backend **out, char *msg, size_t msglen);

#endif
