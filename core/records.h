/*
 * records.h — the platform's records as plain values: a dataset, a tag, a
 * node of a tree, an embedding, a sampling run, a token, and the limits
 * and flags that go with them. Every layer reads them: store/ fills them
 * from the catalog, core/ passes them through the backend interface
 * (core/backend.h), fs/ turns them into stat and listings, api/ turns them
 * into JSON and back.
 *
 * The rule (docs/design.md §2.1): this header is types only — structs,
 * enums, limits, and the opaque handle of an open store — with no function
 * and no state, so the lowest layer (store/store.h includes it) and the
 * highest (fs/, the remote client) share one definition without anyone
 * calling across a layer. The names keep their historical store_ / STORE_
 * prefix: the catalog is what defines their fields, and renaming hundreds
 * of uses would say nothing new. Functions over these values live in the
 * layer that owns the operation (core/util.h for hex and the clock).
 */
#ifndef SIEVEFS_CORE_RECORDS_H
#define SIEVEFS_CORE_RECORDS_H

#include <stdint.h>

/* An open store (catalog + blobs). Opaque everywhere but store/: core/'s
 * operations take it; callers above core/ only hand it back. */
typedef struct store store;

#define STORE_NAME_MAX 255     /* one path component, bytes */
#define STORE_PATH_MAX 4096    /* a path on this machine (store files) */
/* A node's path inside its tree, bytes. ext4 sets no limit on a tree's
 * depth (only on one syscall's path argument, PATH_MAX, which a deep tree
 * is reached around with relative paths), so this cap only bounds memory:
 * catalog.c builds these paths on the heap, at their length. */
#define STORE_TREE_PATH_MAX (1u << 20)
#define STORE_SHA_LEN 32

enum store_kind { STORE_DIR = 1, STORE_FILE = 2 };

/* One node as the catalog has it. `tree_live` and `dataset` come from the
 * node's tree. has_sha == 0 on a file node means "upload pending". */
struct store_node {
	int64_t ino;
	int64_t tree;           /* tag id of the tree it belongs to */
	int64_t parent;         /* parent node; a tree root has parent <= 0 */
	int64_t dataset;
	int tree_live;          /* 1 = initial-tag (writable), 0 = frozen tag */
	int kind;               /* enum store_kind */
	uint32_t mode;          /* permission bits only (07777) */
	uint32_t uid, gid;
	int64_t size;
	int64_t mtime_ns, ctime_ns;
	int64_t atime_ns;       /* set by utimensat only; reads leave it */
	int64_t subdirs;        /* a dir: its child dirs (for st_nlink) */
	int has_sha;
	unsigned char sha[STORE_SHA_LEN];
	char name[STORE_NAME_MAX + 1];
};

struct store_dataset {
	int64_t id;
	char uid[25];           /* stable public id, 24 hex digits */
	char name[129];
	char owner[65];
	int64_t created_ns;
	int64_t live_tree;      /* tag id of initial-tag */
	int64_t live_root;      /* root node of initial-tag */
	int64_t sel_tree;       /* tag the selection was taken from */
	int sel_explicit;       /* 0 = "all of sel_tree" (the default) */
	int tag_folders;        /* enum store_tag_folders: which folders a
	                         * new tag gets (store_tag_create) */
};

/* Which folders of the selection's source tag a new tag gets. */
enum store_tag_folders {
	STORE_TAG_FOLDERS_ALL = 0,      /* every one (the default) */
	STORE_TAG_FOLDERS_SELECTED = 1, /* those holding a selected file */
};

struct store_tag {
	int64_t id;             /* catalog row id: what the API's URLs name */
	char uid[25];           /* stable public id, 24 hex digits, as a
				 * dataset's: user.sievefs.id, info */
	int64_t dataset;
	char name[129];
	int64_t parent;         /* parent tag id, 0 for initial-tag */
	char parent_name[129];  /* "" for initial-tag */
	int64_t created_ns;
	int64_t root;           /* root dir node */
	int64_t files, bytes;   /* frozen at creation; live: counted on demand */
	int live;
};

/* Attributes for a new node or a change; see store_node for meaning. */
struct store_newnode {
	int kind;
	uint32_t mode, uid, gid;
	int64_t mtime_ns;       /* 0 = now */
};

/* Which attributes a setattr sets (store_node_setattr, the backend's
 * node_setattr). */
#define STORE_SET_MODE  1
#define STORE_SET_UID   2
#define STORE_SET_GID   4
#define STORE_SET_MTIME 8
#define STORE_SET_ATIME 16

/* An event's level; `log` shows info, ERROR, warning. A warning is
 * something the user may want to fix that failed nothing (a file the
 * built-in embedder cannot decode). */
enum store_level { STORE_INFO = 0, STORE_ERROR = 1, STORE_WARN = 2 };

/* An embedding: one float32 vector (and an int64 label) per sample path.
 * Vectors are keyed by path, so they apply to every tree holding the path. */
struct store_embedding {
	int64_t id, dataset;
	char name[129];
	int64_t dim, rows, created_ns;
};

/* A predictions/ or metadata/ input (store/inputs.c): its CSV text is kept
 * as uploaded. kind: enum core_input_kind (core/incsv.h). */
struct store_input {
	int64_t id, dataset;
	int kind;
	char name[129];
	int64_t rows;        /* rows naming a sample when uploaded */
	int64_t cols;        /* value columns (classes, metadata columns) */
	int64_t bytes;       /* of the CSV text */
	int64_t created_ns;
};

enum store_run_status { STORE_RUN_QUEUED = 0, STORE_RUN_RUNNING = 1,
			STORE_RUN_DONE = 2, STORE_RUN_CANCELLED = 3,
			STORE_RUN_FAILED = 4 };

/* A sampling request and its state. */
struct store_run {
	int64_t id, dataset;
	int64_t seq;            /* the run's number in its dataset: 1, 2, 3… */
	char request[512];      /* as written by the user */
	char strategy[32];
	int64_t n;              /* selection size asked for (0 = all) */
	int64_t from_tag, emb, seed;
	int status;
	int64_t done, total, skipped;
	int64_t candidates;     /* files the strategy ranked (when done) */
	int64_t created_ns, started_ns, finished_ns;
	char error[256];
	/* the queue (store/queue.c): the server whose worker holds it
	 * (0: none yet, or the embedded store's one worker), until when
	 * (ns), whether `cancel` was asked while it ran, and the phase the
	 * worker is in ("embedding", "loading", "sampling"; "" otherwise) */
	int64_t srv, lease_ns;
	int cancel;
	char phase[16];
};

/* What the web app polls (store/schema_sqlite.c, "Dataset change
 * counters"): each counter moves with every change of its kind, through
 * any door; 0 = never changed. Opaque: compare for equality only. */
struct store_changes {
	uint64_t tree;          /* the live tree: store_table_gen's counter
	                         * (store/table.h), the sample table's gen */
	uint64_t tags;          /* tags made, deleted, renamed */
	uint64_t selection;     /* the selection's rows and source */
	uint64_t runs;          /* any write to a run */
	uint64_t embeddings;    /* embeddings and the built-in embedder */
	int run_active;         /* the latest run is queued or running */
};

/* A file of a tree with its path in the tree ("a/b.jpg", no leading '/'). */
struct store_tree_file {
	struct store_node n;
	char *path;             /* malloc'd */
};

/* A token is "svf_" + 64 hex digits (32 random bytes). Only its SHA-256 is
 * stored; the token itself is shown once, at creation. */
#define STORE_TOKEN_LEN 68
#define STORE_USER_MAX 64
#define STORE_TOKEN_NAME_MAX 64   /* a token's name, bytes */

struct store_token {
	int64_t id;
	char user[STORE_USER_MAX + 1];
	char name[STORE_TOKEN_NAME_MAX + 1];   /* "" when none was given */
	int64_t created_ns;
	int64_t last_used_ns;   /* 0 = never; else within STORE_TOKEN_TOUCH_NS
	                         * (store/store.h) of its last authentication */
	int revoked;
};

/* A web app session id is 64 hex digits (32 random bytes); only its
 * SHA-256 is stored. */
#define STORE_SESSION_LEN 64

/* The one side (longest, pixels) server-made thumbnails are kept at. */
#define STORE_THUMB_SIDE 128

/* The lightly door's records (store/lightly.h). */
#define STORE_LIGHTLY_KEY_LEN 32

enum store_lightly_kind { STORE_LIGHTLY_EMB = 1, STORE_LIGHTLY_JOB = 2 };

/* One id the lightly client holds: kind, dataset, a name (embedding name,
 * or the job's new tag), ref (a job: its run's catalog id) and tag (a
 * job: the tag it made, 0 until then). */
struct store_lightly_id {
	char id[25];
	int kind;
	int64_t dataset;
	char name[129];
	int64_t ref, tag;
};

#endif
