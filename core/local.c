/*
 * local.c — the embedded backend: the operations of backend.h over store/.
 *
 * This is where the platform's rules that are not storage rules live: name
 * validation, reserved names, recording events and errors in the dataset's
 * log. Everything a user can get wrong produces a message that goes both to
 * the caller (msg) and to the dataset's log. A tag is not made while a
 * sample request of its dataset is queued or running (EBUSY): it would
 * freeze the selection that run is about to replace.
 *
 * This file holds the backend's lifetime (open, view, destroy), its ops
 * table, the helpers its files share, and the tree: datasets, tags, nodes
 * and uploads. The control files' text (turning `selection` text into a
 * selection, rendering `info` and `log`, sampling) is in local_text.c; the
 * embeddings, selection inputs, image metadata and exports in
 * local_data.c; what they share in local_int.h.
 *
 * Ownership: the backend owns the store; one owner (user) per backend.
 * Threads: stateless apart from the store handle, so every op is as
 * thread-safe as store/ is.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/blobs.h"
#include "core/layout.h"
#include "core/log.h"
#include "core/names.h"
#include "core/runs.h"
#include "core/text.h"
#include "core/view.h"
#include "core/imgmeta.h"
#include "core/local_int.h"
#include "store/store.h"

static void set_msg(char *msg, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void set_msg(char *msg, const char *fmt, ...)
{
	va_list ap;

	if (!msg)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, BE_MSG, fmt, ap);
	va_end(ap);
}

void l_log_event(struct backend *be, int64_t ds, int level, const char *msg)
{
	if (level == STORE_ERROR)
		log_warn("%s", msg);
	else
		log_debug("%s", msg);
	if (ds > 0)
		store_event_add(L(be)->st, ds, level, msg);
}

/* Reports a user error: into msg and the dataset's log. Returns rc. */
int user_error(struct backend *be, int64_t ds, char *msg, int rc,
	       const char *text)
{
	set_msg(msg, "%s", text);
	l_log_event(be, ds, STORE_ERROR, text);
	return rc;
}

/* ---- datasets ---- */

static int l_dataset_list(struct backend *be, be_dataset **out, size_t *n)
{
	return store_dataset_list(L(be)->st, L(be)->owner, out, n);
}

static int l_dataset_get(struct backend *be, const char *name, be_dataset *out)
{
	return store_dataset_get(L(be)->st, L(be)->owner, name, out);
}

int l_dataset_get_id(struct backend *be, int64_t id, be_dataset *out)
{
	int rc = store_dataset_get_id(L(be)->st, id, out);

	/* Another user's dataset does not exist for this one. */
	if (!rc && strcmp(out->owner, L(be)->owner))
		rc = -ENOENT;
	return rc;
}

/* The mount root's own control file (fs/ops.c, "The root's log"): the
 * mount refuses mkdir of it (the name exists), and so do the other doors. */
#define ROOT_LOG "log"

static int l_dataset_create(struct backend *be, const char *name,
			    be_dataset *out, char *msg)
{
	char text[BE_MSG];
	int rc;

	if (!core_name_valid(name)) {
		set_msg(msg, "'%.200s' is not a valid dataset name: use 1-128 of"
			" A-Z a-z 0-9 . _ - starting with a letter or digit",
			name);
		log_warn("%s", msg ? msg : "invalid dataset name");
		return -EINVAL;
	}
	if (!strcmp(name, ROOT_LOG)) {
		set_msg(msg, "'%s' is taken: a mount's root has its own '%s'"
			" file (the mount's warnings and errors), which a dataset"
			" of that name would hide", name, ROOT_LOG);
		return -EEXIST;
	}
	rc = store_dataset_create(L(be)->st, L(be)->owner, name, out);
	if (rc == 0) {
		snprintf(text, sizeof(text), "dataset '%s' created", name);
		l_log_event(be, out->id, STORE_INFO, text);
	}
	return rc;
}

static int l_dataset_delete(struct backend *be, int64_t id, char *msg)
{
	be_dataset d;
	int rc = l_dataset_get_id(be, id, &d);

	if (rc)
		return rc;
	rc = store_dataset_delete(L(be)->st, id);
	if (rc == -ENOTEMPTY)
		return user_error(be, id, msg, rc, "cannot delete a dataset"
				  " that has samples or tags: remove them first");
	if (rc == 0)
		log_info("dataset '%s' deleted", d.name);
	return rc;
}

static int l_dataset_rename(struct backend *be, int64_t id, const char *name,
			    char *msg)
{
	be_dataset d;
	int rc = l_dataset_get_id(be, id, &d);

	if (rc)
		return rc;
	if (!core_name_valid(name)) {
		char text[BE_MSG];
		snprintf(text, sizeof(text), "cannot rename dataset '%s':"
			 " '%.200s' is not a valid dataset name: use 1-128 of"
			 " A-Z a-z 0-9 . _ - starting with a letter or digit",
			 d.name, name);
		return user_error(be, id, msg, -EINVAL, text);
	}
	if (!strcmp(name, ROOT_LOG)) {
		char text[BE_MSG];
		snprintf(text, sizeof(text), "cannot rename dataset '%s' to '%s':"
			 " a mount's root has its own '%s' file (the mount's"
			 " warnings and errors), which a dataset of that name"
			 " would hide", d.name, name, ROOT_LOG);
		return user_error(be, id, msg, -EEXIST, text);
	}
	return store_dataset_rename(L(be)->st, id, name);
}

static int l_dataset_set_tag_folders(struct backend *be, int64_t id,
				     const char *value, char *msg)
{
	char text[BE_MSG];
	be_dataset d;
	int mode, rc = l_dataset_get_id(be, id, &d);

	if (rc)
		return rc;
	if (core_tag_folders_parse(value, &mode)) {
		snprintf(text, sizeof(text), "tag_folders not changed: '%.64s'"
			 " is not 'all' (every folder of the source tag, the"
			 " default) or 'selected' (only folders holding a"
			 " selected file)", value);
		return user_error(be, id, msg, -EINVAL, text);
	}
	rc = store_dataset_set_tag_folders(L(be)->st, id, mode);
	if (rc == 0 && mode != d.tag_folders) {
		snprintf(text, sizeof(text), "tag_folders: %s (later tags get"
			 " %s)", value, mode == STORE_TAG_FOLDERS_SELECTED ?
			 "only the folders holding a selected file" :
			 "every folder of their source tag");
		l_log_event(be, id, STORE_INFO, text);
	}
	return rc;
}

/* ---- tags ---- */

static int l_tag_list(struct backend *be, int64_t ds, be_tag **out, size_t *n)
{
	return store_tag_list(L(be)->st, ds, out, n);
}

static int l_tag_get(struct backend *be, int64_t ds, const char *name,
		     be_tag *out)
{
	return store_tag_get(L(be)->st, ds, name, out);
}

static int l_tag_get_id(struct backend *be, int64_t id, be_tag *out)
{
	return store_tag_get_id(L(be)->st, id, out);
}

static int l_tag_create(struct backend *be, int64_t ds, const char *name,
			be_tag *out, char *msg)
{
	char text[BE_MSG];
	int rc;

	if (core_name_reserved(name))
		return -EEXIST;
	if (!core_name_valid(name)) {
		snprintf(text, sizeof(text), "'%.200s' is not a valid tag name:"
			 " use 1-128 of A-Z a-z 0-9 . _ - starting with a"
			 " letter or digit", name);
		return user_error(be, ds, msg, -EINVAL, text);
	}
	/* A run that will replace the selection: freezing now would freeze
	 * the previous one without a word. */
	int64_t seq = 0;
	int running = 0;
	if (runner_busy(L(be)->runner, ds, &seq, &running)) {
		struct store_dataset d;
		if (store_dataset_get_id(L(be)->st, ds, &d))
			snprintf(d.name, sizeof(d.name), "DATASET");
		snprintf(text, sizeof(text), "tag '%.128s' not created: sampling"
			 " run %lld is %s and will replace the selection; wait"
			 " for it with `sievefs sample MOUNT/%.128s` (with no"
			 " request it waits for the run in progress) or write"
			 " `cancel` to sample, then mkdir again", name,
			 (long long)seq, running ? "running" : "queued",
			 d.name);
		return user_error(be, ds, msg, -EBUSY, text);
	}
	rc = store_tag_create(L(be)->st, ds, name, store_now_ns(), out);
	if (rc == 0) {
		snprintf(text, sizeof(text), "tag '%s' created from '%s'"
			 " (%lld sample%s)", name, out->parent_name,
			 (long long)out->files, core_s(out->files));
		l_log_event(be, ds, STORE_INFO, text);
	}
	return rc;
}

static int l_tag_delete(struct backend *be, int64_t tag, char *msg)
{
	be_tag t;
	char text[BE_MSG];
	int rc = store_tag_get_id(L(be)->st, tag, &t);

	if (rc)
		return rc;
	rc = store_tag_delete(L(be)->st, tag);
	if (rc == -ENOTEMPTY) {
		snprintf(text, sizeof(text), "cannot delete tag '%s': other"
			 " tags were made from it; delete them first", t.name);
		return user_error(be, t.dataset, msg, rc, text);
	}
	if (rc == -EPERM)
		return user_error(be, t.dataset, msg, rc, "initial-tag holds"
				  " the dataset's samples and cannot be deleted");
	if (rc == 0) {
		snprintf(text, sizeof(text), "tag '%s' deleted", t.name);
		l_log_event(be, t.dataset, STORE_INFO, text);
	}
	return rc;
}

static int l_tag_rename(struct backend *be, int64_t tag, const char *name,
			char *msg)
{
	be_tag t;
	int rc = store_tag_get_id(L(be)->st, tag, &t);

	if (rc)
		return rc;
	if (t.live)
		return -EPERM;
	if (core_name_reserved(name))
		return -EEXIST;
	if (!core_name_valid(name)) {
		char text[BE_MSG];
		snprintf(text, sizeof(text), "cannot rename tag '%s': '%.200s'"
			 " is not a valid tag name: use 1-128 of A-Z a-z 0-9 . _"
			 " - starting with a letter or digit", t.name, name);
		return user_error(be, t.dataset, msg, -EINVAL, text);
	}
	return store_tag_rename(L(be)->st, tag, name);
}

/* ---- nodes ---- */

int l_node_get(struct backend *be, int64_t ino, be_node *out)
{
	return store_node_get(L(be)->st, ino, out);
}

static int l_node_lookup(struct backend *be, int64_t parent, const char *name,
			 be_node *out)
{
	return store_node_lookup(L(be)->st, parent, name, out);
}

static int l_node_children(struct backend *be, int64_t parent, be_node **out,
			   size_t *n)
{
	return store_node_children(L(be)->st, parent, out, n);
}

static int l_node_create(struct backend *be, int64_t parent, const char *name,
			 const struct store_newnode *nn, be_node *out)
{
	int rc = core_component_check(name);

	return rc ? rc : store_node_create(L(be)->st, parent, name, nn, out);
}

static int l_node_remove(struct backend *be, int64_t parent, const char *name,
			 int is_dir)
{
	return store_node_remove(L(be)->st, parent, name, is_dir);
}

static int l_node_rename(struct backend *be, int64_t parent, const char *name,
			 int64_t newparent, const char *newname, int noreplace)
{
	int rc = core_component_check(newname);

	return rc ? rc : store_node_rename(L(be)->st, parent, name, newparent,
					   newname, noreplace);
}

static int l_node_setattr(struct backend *be, int64_t ino, int what,
			  uint32_t mode, uint32_t uid, uint32_t gid,
			  int64_t mtime_ns, int64_t atime_ns)
{
	return store_node_setattr(L(be)->st, ino, what, mode, uid, gid,
				  mtime_ns, atime_ns);
}

static int l_node_open(struct backend *be, const be_node *n)
{
	if (n->kind != STORE_FILE || !n->has_sha)
		return -EIO;
	return core_blob_open(L(be)->blobs, n->sha);
}

static int l_staging_create(struct backend *be, char *path, size_t len)
{
	return core_blob_staging(L(be)->blobs, path, len);
}

static int l_node_commit(struct backend *be, int64_t ino, int fd,
			 const char *staged,
			 const unsigned char sha[STORE_SHA_LEN], int64_t size,
			 int64_t mtime_ns, int durable)
{
	int rc = store_node_commit(L(be)->st, ino, fd, staged, sha, size,
				   mtime_ns, durable);
	if (rc) {
		char text[BE_MSG];
		be_node n;
		if (store_node_get(L(be)->st, ino, &n) == 0) {
			snprintf(text, sizeof(text), "upload of '%s'"
				 " failed: %s", n.name, strerror(-rc));
			l_log_event(be, n.dataset, STORE_ERROR, text);
		}
		/* the operator's half: why the blob store refused (S3) */
		if (store_blob_engine_error()[0])
			log_warn("upload of inode %lld: blob store: %s",
				 (long long)ino, store_blob_engine_error());
	}
	return rc;
}

static int l_statfs(struct backend *be, struct statvfs *out)
{
	return store_statvfs(L(be)->st, out);
}

static void l_destroy(struct backend *be)
{
	if (!be)
		return;
	if (L(be)->view) {
		free(be);
		return;
	}
	core_imgmeta_filler_free(L(be)->filler);
	runner_free(L(be)->runner);
	core_blobs_free(L(be)->blobs);
	store_close(L(be)->st);
	free(be);
}

static const struct backend_ops local_ops = {
	.dataset_list = l_dataset_list,
	.dataset_get = l_dataset_get,
	.dataset_get_id = l_dataset_get_id,
	.dataset_create = l_dataset_create,
	.dataset_delete = l_dataset_delete,
	.dataset_rename = l_dataset_rename,
	.dataset_set_tag_folders = l_dataset_set_tag_folders,
	.tag_list = l_tag_list,
	.tag_get = l_tag_get,
	.tag_get_id = l_tag_get_id,
	.tag_create = l_tag_create,
	.tag_delete = l_tag_delete,
	.tag_rename = l_tag_rename,
	.node_get = l_node_get,
	.node_lookup = l_node_lookup,
	.node_children = l_node_children,
	.node_create = l_node_create,
	.node_remove = l_node_remove,
	.node_rename = l_node_rename,
	.node_setattr = l_node_setattr,
	.node_open = l_node_open,
	.staging_create = l_staging_create,
	.node_commit = l_node_commit,
	.selection_read = l_selection_read,
	.selection_write = l_selection_write,
	.info_read = l_info_read,
	.log_read = l_log_read,
	.log_event = l_log_event,
	.sample_request = l_sample_request,
	.dups_read = l_dups_read,           /* issue 21, i21c */
	.dups_config = l_dups_config,
	.sample_read = l_sample_read,
	.scores_read = l_scores_read,
	.plot_read = l_plot_read,
	.emb_list = l_emb_list,
	.emb_get = l_emb_get,
	.emb_get_id = l_emb_get_id,
	.emb_put = l_emb_put,
	.emb_delete = l_emb_delete,
	.emb_export = l_emb_export,
	.input_list = l_input_list,
	.input_get = l_input_get,
	.input_get_id = l_input_get_id,
	.input_put = l_input_put,
	.input_delete = l_input_delete,
	.input_export = l_input_export,
	.imgmeta_read = l_imgmeta_read,
	.imgmeta_fill = l_imgmeta_fill,
	.node_imgmeta = l_node_imgmeta,
	.export_read = l_export_read,      /* issue 21 item 5 */
	.export_paths = 1,
	.export_tree_gen = l_export_tree_gen,
	.statfs = l_statfs,
	/* Every change to a local store passes through this mount's kernel,
	 * which keeps its caches coherent itself; only sampling (background)
	 * changes the selection, and control files are never cached. */
	.frozen_cache_ok = 1,
	.live_ttl = 1.0,
	.destroy = l_destroy,
};

int core_local_open(const char *dir, const char *owner, struct backend **out,
		    char *msg, size_t msglen)
{
	const struct core_store_cfg cfg = { .dir = dir };

	return core_local_open_cfg(&cfg, owner, out, msg, msglen);
}

int core_local_open_cfg(const struct core_store_cfg *cfg, const char *owner,
			struct backend **out, char *msg, size_t msglen)
{
	struct local *l = calloc(1, sizeof(*l));
	int rc;

	*out = NULL;
	if (!l)
		return -ENOMEM;
	rc = store_open_engines(cfg->dir, cfg->catalog, cfg->blobs,
				cfg->s3_key_id, cfg->s3_secret,
				STORE_OPEN_OWNER, &l->st, msg, msglen);
	if (rc) {
		free(l);
		return rc;
	}
	/* store_open's warning on success (modes it repaired): ours to
	 * report, the store does not log */
	if (msg && msglen && msg[0]) {
		log_warn("%s", msg);
		msg[0] = '\0';
	}
	if (core_blobs_open(l->st, &l->blobs) ||
	    !(l->runner = runner_new(l->st, l->blobs))) {
		core_blobs_free(l->blobs);
		store_close(l->st);
		free(l);
		return -ENOMEM;
	}
	/* no filler (-ENOMEM): builtin.csv only shows what runs computed */
	l->filler = core_imgmeta_filler_new(l->st, l->blobs);
	l->be.ops = &local_ops;
	snprintf(l->owner, sizeof(l->owner), "%s", owner);
	*out = &l->be;
	return 0;
}

int core_local_view(struct backend *base, const char *owner,
		    struct backend **out)
{
	struct local *l = calloc(1, sizeof(*l));

	*out = NULL;
	if (!l)
		return -ENOMEM;
	*l = *L(base);
	l->view = 1;
	snprintf(l->owner, sizeof(l->owner), "%s", owner);
	*out = &l->be;
	return 0;
}

store *core_local_store(struct backend *be)
{
	return L(be)->st;
}

struct core_blobs *core_local_blobs(struct backend *be)
{
	return L(be)->blobs;
}
