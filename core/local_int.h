/*
 * local_int.h — private to the embedded backend (core/local*.c): its struct
 * and the functions its files share. Nothing else includes it; the rest of
 * the project reaches the backend through core/backend.h and core/view.h.
 *
 * The backend's files, along its seams:
 *   local.c       its lifetime (open, view, destroy), the ops table, the
 *                 shared helpers below, and the tree: datasets, tags, nodes
 *                 and uploads
 *   local_text.c  the control files' text: selection, duplicates, info,
 *                 log, and the sampling files (sample, scores.csv, plot)
 *   local_data.c  the tables beside the samples: embeddings, selection
 *                 inputs, built-in image metadata, and exports/
 * The l_* functions are the ops of core/backend.h (local_ops in local.c
 * names them); they keep the names they had as statics of one file. No
 * other module defines an l_* symbol.
 *
 * Ownership: a struct local is calloc'd by core_local_open_cfg or
 * core_local_view and freed by its ops->destroy. An opened backend owns
 * st, blobs, runner and filler; a view (view = 1) borrows them from its
 * base and must be destroyed before it. Fields are set at the open and never
 * written again, so every file reads them without a lock; each op is as
 * thread-safe as store/ and the runner are.
 *
 * Failure: as in core/backend.h, every op returns 0 or a negative errno;
 * a user's mistake also goes into msg (BE_MSG bytes, when non-NULL) and the
 * dataset's log through user_error.
 */
#ifndef SIEVEFS_CORE_LOCAL_INT_H
#define SIEVEFS_CORE_LOCAL_INT_H

#include "core/backend.h"
#include "store/store.h"

struct local {
	struct backend be;
	store *st;
	struct core_blobs *blobs;  /* the bytes (core/blobs.h), over st */
	struct runner *runner;     /* sampling runs; owns a worker thread */
	struct core_imgmeta_filler *filler;  /* builtin.csv's background
	                            * decodes (core/imgmeta.h); NULL: none */
	char owner[65];
	int view;                  /* 1 = borrows st, blobs and runner
	                            * (core_local_view) */
};

static inline struct local *L(struct backend *be)
{
	return (struct local *)be;
}

/* Records an event in the daemon's log and, when ds > 0, the dataset's
 * (ops->log_event). A failure to store it is not reported. */
void l_log_event(struct backend *be, int64_t ds, int level, const char *msg);
/* Reports a user error: text into msg (when non-NULL) and the dataset's
 * log. Returns rc. */
int user_error(struct backend *be, int64_t ds, char *msg, int rc,
	       const char *text);
/* The dataset `id` if this backend's owner owns it; another user's is
 * -ENOENT, as if absent. Every op addressed by a dataset id checks it. */
int l_dataset_get_id(struct backend *be, int64_t id, be_dataset *out);
/* Node `ino` (no owner check: see core/view.h). 0 or -ENOENT. */
int l_node_get(struct backend *be, int64_t ino, be_node *out);

/* local_text.c: the control files (ops of core/backend.h, which say how
 * each fails; the texts are malloc'd, the caller frees them). */
int l_selection_read(struct backend *be, int64_t ds, char **out, size_t *len);
int l_selection_write(struct backend *be, int64_t ds, const char *text,
		      size_t len, int flags, char *msg);
int l_dups_read(struct backend *be, int64_t ds, char **out, size_t *len);
int l_dups_config(struct backend *be, int64_t ds, const char *line,
		  char *msg);
int l_info_read(struct backend *be, int64_t ds, char **out, size_t *len);
int l_log_read(struct backend *be, int64_t ds, char **out, size_t *len);
int l_sample_request(struct backend *be, int64_t ds, const char *line,
		     char *msg);
int l_sample_read(struct backend *be, int64_t ds, char **out, size_t *len);
int l_scores_read(struct backend *be, int64_t ds, char **out, size_t *len);
int l_plot_read(struct backend *be, int64_t ds, int method, char **out,
		size_t *len);

/* local_data.c: embeddings, selection inputs, image metadata, exports/
 * (ops of core/backend.h, which say how each fails and who frees what). */
int l_emb_list(struct backend *be, int64_t ds, struct store_embedding **out,
	       size_t *n);
int l_emb_get(struct backend *be, int64_t ds, const char *name,
	      struct store_embedding *out);
int l_emb_get_id(struct backend *be, int64_t id, struct store_embedding *out);
int l_emb_put(struct backend *be, int64_t ds, const char *name,
	      const char *text, size_t len, char *msg);
int l_emb_delete(struct backend *be, int64_t id);
int l_emb_export(struct backend *be, int64_t id, int fd);
int l_input_list(struct backend *be, int64_t ds, int kind,
		 struct store_input **out, size_t *n);
int l_input_get(struct backend *be, int64_t ds, int kind, const char *name,
		struct store_input *out);
int l_input_get_id(struct backend *be, int64_t id, struct store_input *out);
int l_input_put(struct backend *be, int64_t ds, int kind, const char *name,
		const char *text, size_t len, char *msg);
int l_input_delete(struct backend *be, int64_t id);
int l_input_export(struct backend *be, int64_t id, int what, int fd);
int l_imgmeta_read(struct backend *be, int64_t ds, char **out, size_t *len);
int l_imgmeta_fill(struct backend *be, int64_t ds, size_t missing);
int l_node_imgmeta(struct backend *be, int64_t ino, struct emb_imgstats *out);
int l_export_read(struct backend *be, int64_t tag, int fmt,
		  const char *prefix, char **out, size_t *len);
int l_export_tree_gen(struct backend *be, int64_t ds, uint64_t *gen);

#endif
