/*
 * local_text.c — the embedded backend's control files (core/backend.h):
 * the text of `selection` and its writes, `duplicates`, `info` and `log`,
 * and the sampling files, `sample`, `scores.csv` and the plots, over the
 * runner (core/runs.h).
 *
 * A read builds the whole text in a tbuf capped at TEXT_MAX and hands it
 * to the caller (who frees it). A write is parsed and checked whole before
 * anything changes; a refusal goes into msg and the dataset's log
 * (user_error), an accepted write into the log. A selection written here
 * tells the runner (runner_selection_written), so that `sample` no longer
 * shows the last `keep` as the selection's.
 *
 * Code moved from core/local.c; struct local and the helpers the
 * backend's files share are in core/local_int.h. Threads: no state of its
 * own, so every op is as thread-safe as store/ and the runner are.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/dups.h"
#include "core/local_int.h"
#include "core/names.h"
#include "core/runs.h"
#include "core/tagalg.h"
#include "core/text.h"
#include "store/store.h"

#define TEXT_MAX (256u << 20)   /* cap on a control file's text */
#define LOG_SHOWN 1000

/* ---- control files ---- */

/* One path per line, quoted when it must be (core/text.h) so that the text
 * can always be written back. */
static int put_line(void *arg, const char *path)
{
	struct tbuf *b = arg;

	tbuf_put_path_line(b, path);
	return b->err;
}

int l_selection_read(struct backend *be, int64_t ds, char **out,
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

int l_selection_write(struct backend *be, int64_t ds, const char *text,
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
int l_dups_read(struct backend *be, int64_t ds, char **out,
		size_t *len)
{
	be_dataset d;
	int rc = l_dataset_get_id(be, ds, &d);     /* the user's, or absent */

	return rc ? rc : core_dups_text(L(be)->st, ds, out, len);
}

int l_dups_config(struct backend *be, int64_t ds, const char *line,
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

int l_info_read(struct backend *be, int64_t ds, char **out,
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

int l_log_read(struct backend *be, int64_t ds, char **out, size_t *len)
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

int l_sample_request(struct backend *be, int64_t ds, const char *line,
		     char *msg)
{
	be_dataset d;
	int rc = l_dataset_get_id(be, ds, &d);

	if (rc)
		return rc;
	return runner_request(L(be)->runner, ds, line, msg, msg ? BE_MSG : 0);
}

int l_sample_read(struct backend *be, int64_t ds, char **out,
		  size_t *len)
{
	return runner_status_text(L(be)->runner, ds, out, len);
}

int l_scores_read(struct backend *be, int64_t ds, char **out,
		  size_t *len)
{
	return runner_scores_text(L(be)->runner, ds, out, len);
}

int l_plot_read(struct backend *be, int64_t ds, int method, char **out,
		size_t *len)
{
	be_dataset d;
	int rc = l_dataset_get_id(be, ds, &d);

	return rc ? rc : runner_plot_svg(L(be)->runner, ds, d.name, method,
					 out, len);
}
