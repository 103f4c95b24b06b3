/*
 * local.c — the embedded backend: the operations of backend.h over store/.
 *
 * This is where the platform's rules that are not storage rules live: name
 * validation, reserved names, turning `selection` text into a selection,
 * recording events and errors in the dataset's log, and rendering `info` and
 * `log`. Everything a user can get wrong produces a message that goes both to
 * the caller (msg) and to the dataset's log. A tag is not made while a
 * sample request of its dataset is queued or running (EBUSY): it would
 * freeze the selection that run is about to replace.
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
#include <unistd.h>

#include "core/backend.h"
#include "core/blobs.h"
#include "core/csv.h"
#include "core/layout.h"
#include "core/log.h"
#include "core/names.h"
#include "core/tagalg.h"
#include "core/dups.h"
#include "core/runs.h"
#include "core/text.h"
#include "core/view.h"
#include "core/incsv.h"
#include "core/inputs.h"
#include "core/imgmeta.h"
#include "core/exports.h"
#include "store/store.h"

#define TEXT_MAX (256u << 20)   /* cap on a control file's text */
#define LOG_SHOWN 1000

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

static struct local *L(struct backend *be)
{
	return (struct local *)be;
}

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

static void l_log_event(struct backend *be, int64_t ds, int level,
			const char *msg)
{
	if (level == STORE_ERROR)
		log_warn("%s", msg);
	else
		log_debug("%s", msg);
	if (ds > 0)
		store_event_add(L(be)->st, ds, level, msg);
}

/* Reports a user error: into msg and the dataset's log. Returns rc. */
static int user_error(struct backend *be, int64_t ds, char *msg, int rc,
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

static int l_dataset_get_id(struct backend *be, int64_t id, be_dataset *out)
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

static int l_node_get(struct backend *be, int64_t ino, be_node *out)
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

/* ---- control files ---- */

/* One path per line, quoted when it must be (core/text.h) so that the text
 * can always be written back. */
static int put_line(void *arg, const char *path)
{
	struct tbuf *b = arg;

	tbuf_put_path_line(b, path);
	return b->err;
}

static int l_selection_read(struct backend *be, int64_t ds, char **out,
			    size_t *len)
{
	struct tbuf b;
	int rc;

	tbuf_init(&b, TEXT_MAX);
	rc = store_selection_each(L(be)->st, ds, put_line, &b);
	if (rc) {
		tbuf_free(&b);
		return rc;
	}
	return tbuf_finish(&b, out, len);
}

/* Paths of the current selection (l_selection_write, BE_SEL_APPEND). */
struct pathv {
	char **v;
	size_t n, cap;
};

static int pathv_add(void *arg, const char *path)
{
	struct pathv *pv = arg;

	if (pv->n == pv->cap) {
		size_t ncap = pv->cap ? 2 * pv->cap : 256;
		char **nv = realloc(pv->v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		pv->v = nv;
		pv->cap = ncap;
	}
	if (!(pv->v[pv->n] = strdup(path)))
		return -ENOMEM;
	pv->n++;
	return 0;
}

static void pathv_free(struct pathv *pv)
{
	for (size_t i = 0; i < pv->n; i++)
		free(pv->v[i]);
	free(pv->v);
}

/* A `selection` text that is a tag algebra form (core/tagalg.h): 1 when
 * it is none (the caller parses paths), else the write's answer. */
static int selection_algebra(struct backend *be, int64_t ds, const char *text,
			     size_t len, int flags, char *msg)
{
	struct core_tagalg a;
	char why[BE_MSG], line[BE_MSG + 64], src[129] = "";
	int64_t count = 0, srcid = 0;
	int rc = core_tagalg_parse(text, len, &a, why, sizeof(why));

	if (rc == 0)
		return 1;
	if (rc == 1 && (flags & BE_SEL_APPEND)) {
		snprintf(why, sizeof(why), "%s: an algebra form replaces the"
			 " selection: write it with '>', not '>>'",
			 core_tagop_name(a.op));
		rc = -EINVAL;
	}
	if (rc == 1)
		rc = core_tagalg_run(L(be)->st, ds, &a,
				     (flags & BE_SEL_CHECK) != 0, &count,
				     &srcid, src, why, sizeof(why));
	if (rc == -EINVAL) {
		snprintf(line, sizeof(line), "selection not changed: %s", why);
		return user_error(be, ds, msg, rc, line);
	}
	if (rc || (flags & BE_SEL_CHECK))
		return rc;
	runner_selection_written(L(be)->runner, ds);
	snprintf(line, sizeof(line), "selection set: %lld sample%s by %s of"
		 " %zu operands, from '%s'", (long long)count,
		 core_s((long long)count), core_tagop_name(a.op), a.n, src);
	l_log_event(be, ds, STORE_INFO, line);
	return 0;
}

static int l_selection_write(struct backend *be, int64_t ds, const char *text,
			     size_t len, int flags, char *msg)
{
	struct core_sel sel;
	struct pathv cur = { 0 };
	char why[BE_MSG], line[BE_MSG + 64];
	const char **paths = NULL;
	size_t bad = 0;
	int64_t total = 0, before = 0;
	int append = (flags & BE_SEL_APPEND) != 0;
	be_dataset d;
	be_tag t;
	int rc;

	rc = l_dataset_get_id(be, ds, &d);
	if (rc)
		return rc;
	rc = selection_algebra(be, ds, text, len, flags, msg);
	if (rc != 1)
		return rc;
	rc = core_sel_parse(text, len, &sel, why, sizeof(why));
	if (rc) {
		core_sel_free(&sel);
		snprintf(line, sizeof(line), "selection not changed: %s", why);
		return rc == -EINVAL ? user_error(be, ds, msg, rc, line) : rc;
	}
	/* Appending keeps the selection's source unless the text names one. */
	if (!sel.from && append)
		rc = store_tag_get_id(L(be)->st, d.sel_tree, &t);
	else
		rc = store_tag_get(L(be)->st, ds,
				   sel.from ? sel.from : "initial-tag", &t);
	if (rc == -ENOENT) {
		snprintf(line, sizeof(line), "selection not changed: line 1:"
			 " no tag named '%s'", sel.from);
		core_sel_free(&sel);
		return user_error(be, ds, msg, -EINVAL, line);
	}
	if (!rc && (flags & BE_SEL_CHECK)) {
		rc = store_selection_check(L(be)->st, ds, t.id,
					   (const char *const *)sel.paths,
					   sel.n, &bad, why, sizeof(why));
	} else if (!rc && append && d.sel_explicit && t.id == d.sel_tree) {
		/* the same source: only the new paths are resolved and
		 * added (a loop of `echo P >> selection` stays linear) */
		rc = store_selection_count(L(be)->st, ds, &before);
		if (!rc)
			rc = store_selection_append(L(be)->st, ds, t.id,
						    (const char *const *)sel.paths,
						    sel.n, &bad, why,
						    sizeof(why));
		if (!rc)
			rc = store_selection_count(L(be)->st, ds, &total);
	} else if (!rc && append) {
		/* another source (or the implicit all-of-initial-tag): the
		 * current paths, resolved again in it, then the new ones; a
		 * path already selected keeps its place */
		rc = store_selection_each(L(be)->st, ds, pathv_add, &cur);
		before = (int64_t)cur.n;
		paths = malloc((cur.n + sel.n + 1) * sizeof(*paths));
		if (!rc && !paths)
			rc = -ENOMEM;
		for (size_t i = 0; !rc && i < cur.n + sel.n; i++)
			paths[i] = i < cur.n ? cur.v[i] : sel.paths[i - cur.n];
		if (!rc)
			rc = store_selection_set_once(L(be)->st, ds, t.id,
						      paths, cur.n + sel.n,
						      &bad, why, sizeof(why));
		if (!rc)
			rc = store_selection_count(L(be)->st, ds, &total);
	} else if (!rc) {
		rc = store_selection_set(L(be)->st, ds, t.id,
					 (const char *const *)sel.paths, sel.n,
					 &bad, why, sizeof(why));
		total = (int64_t)sel.n;
	}
	if (rc == -EINVAL && bad < cur.n)
		snprintf(line, sizeof(line), "selection not changed: %s (a"
			 " path already selected)", why);
	else if (rc == -EINVAL)
		snprintf(line, sizeof(line), "selection not changed: line %zu:"
			 " %s", sel.n ? sel.lines[bad - cur.n] : 0, why);
	if (rc == -EINVAL)
		rc = user_error(be, ds, msg, rc, line);
	if (rc == 0 && !(flags & BE_SEL_CHECK)) {
		runner_selection_written(L(be)->runner, ds);
		long long added = total - before;
		if (append)
			snprintf(line, sizeof(line), "selection: %lld sample%s"
				 " added, %lld in all, from '%s'", added,
				 core_s(added), (long long)total, t.name);
		else
			snprintf(line, sizeof(line), "selection set: %lld"
				 " sample%s from '%s'", (long long)total,
				 core_s((long long)total), t.name);
		l_log_event(be, ds, STORE_INFO, line);
	}
	free(paths);
	pathv_free(&cur);
	core_sel_free(&sel);
	return rc;
}

/* issue 21 (i21c): the `duplicates` file (core/dups.h). */
static int l_dups_read(struct backend *be, int64_t ds, char **out,
		       size_t *len)
{
	be_dataset d;
	int rc = l_dataset_get_id(be, ds, &d);     /* the user's, or absent */

	return rc ? rc : core_dups_text(L(be)->st, ds, out, len);
}

static int l_dups_config(struct backend *be, int64_t ds, const char *line,
			 char *msg)
{
	char why[BE_MSG], text[BE_MSG + 64];
	be_dataset d;
	int rc = l_dataset_get_id(be, ds, &d);     /* the user's, or absent */

	if (rc)
		return rc;
	rc = core_dups_config(L(be)->st, ds, line, why, sizeof(why));

	if (rc == -EINVAL) {
		snprintf(text, sizeof(text), "%s; nothing changed", why);
		return user_error(be, ds, msg, rc, text);
	}
	if (!rc) {
		snprintf(text, sizeof(text), "duplicates: set to '%.200s'",
			 line);
		l_log_event(be, ds, STORE_INFO, text);
	}
	return rc;
}

/* Prints the tag tree below `parent`, depth first, by creation. */
static void info_tags(struct tbuf *b, const be_tag *tags, size_t n,
		      int64_t parent, const char *indent)
{
	size_t last = n;
	char ts[32], next[256];

	for (size_t i = 0; i < n; i++)
		if (tags[i].parent == parent && !tags[i].live)
			last = i;
	for (size_t i = 0; i < n; i++) {
		if (tags[i].parent != parent || tags[i].live)
			continue;
		core_fmt_time(tags[i].created_ns, ts);
		tbuf_printf(b, "%s%s %s: %lld sample%s, %lld byte%s, parent %s,"
			    " created %s, id %s\n", indent,
			    i == last ? "└─" : "├─", tags[i].name,
			    (long long)tags[i].files, core_s(tags[i].files),
			    (long long)tags[i].bytes, core_s(tags[i].bytes),
			    tags[i].parent_name, ts, tags[i].uid);
		if (strlen(indent) + 8 < sizeof(next)) {
			snprintf(next, sizeof(next), "%s%s", indent,
				 i == last ? "   " : "│  ");
			info_tags(b, tags, n, tags[i].id, next);
		}
	}
}

static void info_embeddings(struct local *l, int64_t ds, struct tbuf *b)
{
	struct store_embedding *v = NULL;
	size_t n = 0;

	if (store_embedding_list(l->st, ds, &v, &n) || n == 0) {
		tbuf_printf(b, "embeddings: none\n");
		free(v);
		return;
	}
	tbuf_printf(b, "embeddings: %zu (", n);
	for (size_t i = 0; i < n; i++)
		tbuf_printf(b, "%s%s: %lld sample%s x %lld dim%s", i ? ", " : "",
			    v[i].name, (long long)v[i].rows, core_s(v[i].rows),
			    (long long)v[i].dim, core_s(v[i].dim));
	tbuf_printf(b, ")\n");
	free(v);
}

static void info_run(struct local *l, int64_t ds, struct tbuf *b)
{
	struct store_run r;
	char ts[32];

	if (store_run_latest(l->st, ds, &r)) {
		tbuf_printf(b, "latest run: none\n");
		return;
	}
	core_fmt_time(r.created_ns, ts);
	tbuf_printf(b, "latest run: %lld '%s' %s, %lld/%lld picked, %s\n",
		    (long long)r.seq, r.request,
		    core_run_status_name(r.status),
		    (long long)r.done, (long long)r.total, ts);
}

static int l_info_read(struct backend *be, int64_t ds, char **out,
		       size_t *len)
{
	struct local *l = L(be);
	be_dataset d;
	be_tag *tags = NULL, sel;
	size_t ntags = 0;
	int64_t files = 0, bytes = 0, nsel = 0;
	char ts[32];
	struct tbuf b;
	int rc;

	rc = l_dataset_get_id(be, ds, &d);
	if (!rc)
		rc = store_tree_count(l->st, d.live_tree, &files, &bytes);
	if (!rc)
		rc = store_selection_count(l->st, ds, &nsel);
	if (!rc)
		rc = store_tag_get_id(l->st, d.sel_tree, &sel);
	if (!rc)
		rc = store_tag_list(l->st, ds, &tags, &ntags);
	if (rc)
		return rc;
	tbuf_init(&b, TEXT_MAX);
	core_fmt_time(d.created_ns, ts);
	tbuf_printf(&b, "id: %s\nname: %s\ncreated: %s\nsamples: %lld\n"
		    "bytes: %lld\nselection: %lld sample%s from %s%s\n",
		    d.uid, d.name, ts, (long long)files, (long long)bytes,
		    (long long)nsel, core_s(nsel), sel.name,
		    d.sel_explicit ? "" : " (all of it)");
	tbuf_printf(&b, "tag_folders: %s\n",
		    core_tag_folders_name(d.tag_folders));
	info_embeddings(l, ds, &b);
	info_run(l, ds, &b);
	tbuf_printf(&b, "tags: %zu\n", ntags);
	tbuf_printf(&b, "  initial-tag: %lld sample%s, %lld byte%s, live,"
		    " id %s\n", (long long)files, core_s(files),
		    (long long)bytes, core_s(bytes),
		    ntags && tags[0].live ? tags[0].uid : "");
	info_tags(&b, tags, ntags, d.live_tree, "  ");
	free(tags);
	return tbuf_finish(&b, out, len);
}

static int put_event(void *arg, int64_t ts_ns, int level, const char *msg)
{
	struct tbuf *b = arg;
	char ts[32];

	core_fmt_time(ts_ns, ts);
	tbuf_printf(b, "%s %s %s\n", ts, level == STORE_ERROR ? "ERROR" :
		    level == STORE_WARN ? "warning" : "info", msg);
	return b->err;
}

static int l_log_read(struct backend *be, int64_t ds, char **out, size_t *len)
{
	struct tbuf b;
	int rc;

	tbuf_init(&b, TEXT_MAX);
	rc = store_event_each(L(be)->st, ds, LOG_SHOWN, put_event, &b);
	if (rc) {
		tbuf_free(&b);
		return rc;
	}
	return tbuf_finish(&b, out, len);
}

/* ---- sampling ---- */

static int l_sample_request(struct backend *be, int64_t ds, const char *line,
			    char *msg)
{
	be_dataset d;
	int rc = l_dataset_get_id(be, ds, &d);

	if (rc)
		return rc;
	return runner_request(L(be)->runner, ds, line, msg, msg ? BE_MSG : 0);
}

static int l_sample_read(struct backend *be, int64_t ds, char **out,
			 size_t *len)
{
	return runner_status_text(L(be)->runner, ds, out, len);
}

static int l_scores_read(struct backend *be, int64_t ds, char **out,
			 size_t *len)
{
	return runner_scores_text(L(be)->runner, ds, out, len);
}

static int l_plot_read(struct backend *be, int64_t ds, int method, char **out,
		       size_t *len)
{
	be_dataset d;
	int rc = l_dataset_get_id(be, ds, &d);

	return rc ? rc : runner_plot_svg(L(be)->runner, ds, d.name, method,
					 out, len);
}

/* ---- embeddings ---- */

static int l_emb_list(struct backend *be, int64_t ds,
		      struct store_embedding **out, size_t *n)
{
	return store_embedding_list(L(be)->st, ds, out, n);
}

static int l_emb_get(struct backend *be, int64_t ds, const char *name,
		     struct store_embedding *out)
{
	return store_embedding_get(L(be)->st, ds, name, out);
}

static int l_emb_get_id(struct backend *be, int64_t id,
			struct store_embedding *out)
{
	be_dataset d;
	int rc = store_embedding_get_id(L(be)->st, id, out);

	return rc ? rc : l_dataset_get_id(be, out->dataset, &d);
}

/* " (skipped 2 rows naming no sample: 'a', 'b')" into buf, or "". */
static void skipped_text(const struct store_emb_skip *sk,
			 const struct core_emb *e, char *buf, size_t len)
{
	struct tbuf b;
	char *text = NULL;
	size_t tlen, shown = sk->n < STORE_EMB_SKIP_SHOW ? sk->n
							  : STORE_EMB_SKIP_SHOW;

	buf[0] = '\0';
	if (!sk->n)
		return;
	tbuf_init(&b, len);
	tbuf_printf(&b, "skipped %zu row%s naming no sample:", sk->n,
		    sk->n == 1 ? "" : "s");
	for (size_t i = 0; i < shown; i++)
		tbuf_printf(&b, "%s '%.100s'", i ? "," : "",
			    e->names[sk->first[i]]);
	if (sk->n > shown)
		tbuf_printf(&b, ", ...");
	if (tbuf_finish(&b, &text, &tlen) == 0)
		snprintf(buf, len, "%s", text);
	free(text);
}

static int l_emb_put(struct backend *be, int64_t ds, const char *name,
		     const char *text, size_t len, char *msg)
{
	struct core_emb e;
	struct store_embedding se;
	struct store_emb_skip sk = { 0 };
	be_dataset d;
	char why[BE_MSG], line[BE_MSG + 128], skipped[BE_MSG];
	size_t bad = 0;
	int rc;

	rc = l_dataset_get_id(be, ds, &d);
	if (rc)
		return rc;
	if (!core_name_valid(name)) {
		snprintf(line, sizeof(line), "embeddings/%.200s.csv: '%.200s' is"
			 " not a valid embedding name", name, name);
		return user_error(be, ds, msg, -EINVAL, line);
	}
	rc = core_csv_parse(text, len, &e, why, sizeof(why));
	if (rc) {
		snprintf(line, sizeof(line), "embeddings/%s.csv not stored: %s",
			 name, why);
		return rc == -EINVAL ? user_error(be, ds, msg, rc, line) : rc;
	}
	/* Rows naming no sample (removed since the export, or a CSV made
	 * over a larger folder) are skipped and named; only a file that
	 * matches nothing is refused. */
	rc = store_embedding_put(L(be)->st, ds, d.live_tree, name, e.n, e.d,
				 (const char *const *)e.names, e.x, e.labels,
				 &bad, &sk, &se);
	skipped_text(&sk, &e, skipped, sizeof(skipped));
	if (rc == -ENOENT) {
		snprintf(line, sizeof(line), "embeddings/%s.csv not stored: no"
			 " row names a sample of initial-tag (%s)", name,
			 skipped);
		core_csv_free(&e);
		return user_error(be, ds, msg, -EINVAL, line);
	}
	if (rc == -EINVAL) {
		snprintf(line, sizeof(line), "embeddings/%s.csv not stored: row"
			 " %zu, column 1 (filenames): '%.200s' is listed twice",
			 name, bad + 2, e.names[bad]);
		core_csv_free(&e);
		return user_error(be, ds, msg, rc, line);
	}
	if (rc == 0) {
		snprintf(line, sizeof(line), "embedding '%s' stored: %lld"
			 " sample%s, %zu dimension%s%s%s%s", name,
			 (long long)se.rows, core_s(se.rows), e.d,
			 core_s((long long)e.d), *skipped ? " (" : "", skipped,
			 *skipped ? ")" : "");
		l_log_event(be, ds, STORE_INFO, line);
	}
	core_csv_free(&e);
	return rc;
}

static int l_emb_delete(struct backend *be, int64_t id)
{
	struct store_embedding e;
	char line[BE_MSG];
	int rc = l_emb_get_id(be, id, &e);

	if (!rc)
		rc = store_embedding_delete(L(be)->st, id);
	if (!rc) {
		snprintf(line, sizeof(line), "embedding '%s' deleted", e.name);
		l_log_event(be, e.dataset, STORE_INFO, line);
	}
	return rc;
}

/* Export: rows are written to fd in batches, so a file larger than any
 * text cap streams through a bounded buffer. */
struct exporter {
	int fd, rc;
	size_t d, n;
	char **names;
	float *x;
	int64_t *labels;
	char *pool;
	size_t poollen;
	int header_done;
};

#define EXPORT_BATCH 4096

static int export_flush(struct exporter *ex)
{
	struct tbuf b;
	char *text;
	size_t len;

	if (!ex->n && ex->header_done)
		return 0;
	for (size_t i = 0, off = 0; i < ex->n; i++) {
		ex->names[i] = ex->pool + off;
		off += strlen(ex->pool + off) + 1;
	}
	tbuf_init(&b, 1u << 30);
	core_csv_write(&b, ex->n, ex->d, (const char *const *)ex->names,
		       ex->x, ex->labels);
	int rc = tbuf_finish(&b, &text, &len);
	if (rc)
		return rc;
	/* core_csv_write writes the header each time: keep it once. */
	size_t skip = 0;
	if (ex->header_done) {
		char *nl = memchr(text, '\n', len);
		skip = nl ? (size_t)(nl - text) + 1 : len;
	}
	for (size_t off = skip; off < len;) {
		ssize_t w = write(ex->fd, text + off, len - off);
		if (w < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)w;
	}
	free(text);
	ex->header_done = 1;
	ex->n = 0;
	ex->poollen = 0;
	return rc;
}

static int export_row(void *arg, const char *path, const float *vec,
		      int64_t label)
{
	struct exporter *ex = arg;
	size_t plen = strlen(path) + 1;

	if (ex->poollen + plen > EXPORT_BATCH * 256 || ex->n == EXPORT_BATCH) {
		int rc = export_flush(ex);
		if (rc)
			return rc;
	}
	if (ex->poollen + plen > EXPORT_BATCH * 256)
		return -ENAMETOOLONG;
	memcpy(ex->pool + ex->poollen, path, plen);
	ex->poollen += plen;
	memcpy(ex->x + ex->n * ex->d, vec, ex->d * sizeof(float));
	ex->labels[ex->n] = label;
	ex->n++;
	return 0;
}

static int l_emb_export(struct backend *be, int64_t id, int fd)
{
	struct store_embedding e;
	struct exporter ex = { .fd = fd };
	int rc = l_emb_get_id(be, id, &e);

	if (rc)
		return rc;
	ex.d = (size_t)e.dim;
	ex.names = malloc(EXPORT_BATCH * sizeof(*ex.names));
	ex.x = malloc(EXPORT_BATCH * ex.d * sizeof(float));
	ex.labels = malloc(EXPORT_BATCH * sizeof(*ex.labels));
	ex.pool = malloc(EXPORT_BATCH * 256);
	if (!ex.names || !ex.x || !ex.labels || !ex.pool)
		rc = -ENOMEM;
	if (!rc)
		rc = store_embedding_each(L(be)->st, id, export_row, &ex);
	if (!rc)
		rc = export_flush(&ex);
	free(ex.names);
	free(ex.x);
	free(ex.labels);
	free(ex.pool);
	return rc;
}

/* ---- selection inputs (issue 21, i21a; core/inputs.c) ---- */

static int l_input_list(struct backend *be, int64_t ds, int kind,
			struct store_input **out, size_t *n)
{
	be_dataset d;
	int rc = l_dataset_get_id(be, ds, &d);

	*out = NULL;
	*n = 0;
	return rc ? rc : store_input_list(L(be)->st, ds, kind, out, n);
}

static int l_input_get(struct backend *be, int64_t ds, int kind,
		       const char *name, struct store_input *out)
{
	be_dataset d;
	int rc = l_dataset_get_id(be, ds, &d);

	return rc ? rc : store_input_get(L(be)->st, ds, kind, name, out);
}

static int l_input_get_id(struct backend *be, int64_t id,
			  struct store_input *out)
{
	be_dataset d;
	int rc = store_input_get_id(L(be)->st, id, out);

	return rc ? rc : l_dataset_get_id(be, out->dataset, &d);
}

static int l_input_put(struct backend *be, int64_t ds, int kind,
		       const char *name, const char *text, size_t len,
		       char *msg)
{
	be_dataset d;
	char line[BE_MSG + 256];
	int rc = l_dataset_get_id(be, ds, &d);

	if (rc)
		return rc;
	rc = core_input_put(L(be)->st, ds, d.live_tree, kind, name, text, len,
			    line, sizeof(line));
	if (rc == -EINVAL)
		return user_error(be, ds, msg, rc, line);
	if (!rc)
		l_log_event(be, ds, STORE_INFO, line);
	return rc;
}

static int l_input_delete(struct backend *be, int64_t id)
{
	struct store_input in;
	char line[BE_MSG];
	int rc = l_input_get_id(be, id, &in);

	if (!rc)
		rc = store_input_delete(L(be)->st, id);
	if (!rc) {
		snprintf(line, sizeof(line), "%s '%s' deleted",
			 core_input_kind_name(in.kind), in.name);
		l_log_event(be, in.dataset, STORE_INFO, line);
	}
	return rc;
}

static int l_input_export(struct backend *be, int64_t id, int what, int fd)
{
	struct store_input in;
	int rc = l_input_get_id(be, id, &in);

	return rc ? rc : core_input_export(L(be)->st, &in, what, fd);
}

static int l_imgmeta_read(struct backend *be, int64_t ds, char **out,
			  size_t *len)
{
	be_dataset d;
	int rc = l_dataset_get_id(be, ds, &d);

	size_t missing = 0;

	*out = NULL;
	*len = 0;
	if (rc)
		return rc;
	/* never a decode on a stat's thread: what is computed, and the rest
	 * in the background (core/imgmeta.c). Nothing is logged: a read
	 * must not change another file (log), which tools copying the
	 * dataset twice would see as a change. */
	rc = core_imgmeta_csv(L(be)->st, L(be)->blobs, d.live_tree, out, len,
			      &missing);
	if (!rc && missing)
		core_imgmeta_filler_kick(L(be)->filler, d.live_tree,
					 missing);
	return rc;
}

static int l_node_imgmeta(struct backend *be, int64_t ino,
			  struct emb_imgstats *out)
{
	be_node n;
	int rc = l_node_get(be, ino, &n);

	if (rc)
		return rc;
	if (n.kind != STORE_FILE || !n.has_sha)
		return -ENODATA;
	rc = core_imgmeta_get(L(be)->st, L(be)->blobs, n.sha, out, NULL, 0);
	return rc == 1 ? -ENODATA : rc;
}

/* issue 21 item 5: exports/ (core/exports.h), owner checked there */
static int l_export_read(struct backend *be, int64_t tag, int fmt,
			 const char *prefix, char **out, size_t *len)
{
	return core_export_local(L(be)->st, L(be)->owner, tag, fmt, prefix,
				 out, len);
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
	.node_imgmeta = l_node_imgmeta,
	.export_read = l_export_read,      /* issue 21 item 5 */
	.export_paths = 1,
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
