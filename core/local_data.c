/*
 * local_data.c — the embedded backend's tables beside the samples
 * (core/backend.h): embeddings (embeddings/NAME.csv), the selection inputs
 * of predictions/ and metadata/ (core/inputs.h), the built-in image
 * metadata (core/imgmeta.h) and the texts of exports/ (core/exports.h).
 *
 * An upload is parsed and checked whole before anything is stored; a
 * refusal names row and column in msg and the dataset's log (user_error),
 * and a stored or deleted table is logged. An embedding exports to an fd
 * in batches of EXPORT_BATCH rows, so a file larger than any text cap
 * streams through a bounded buffer.
 *
 * Owner checks (l_dataset_get_id: another user's is -ENOENT): the ops by
 * an embedding's or input's own id, emb_put, and the inputs' and
 * imgmeta_read's by dataset id; core_export_local checks the tag's owner.
 * emb_list, emb_get and node_imgmeta do not check (as in core/view.h, the
 * server checks the id before it calls a view).
 *
 * Code moved from core/local.c; struct local and the helpers the
 * backend's files share are in core/local_int.h. Threads: no state of its
 * own, so every op is as thread-safe as store/ and core/imgmeta's filler
 * are.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/backend.h"
#include "core/csv.h"
#include "core/exports.h"
#include "core/imgmeta.h"
#include "core/incsv.h"
#include "core/inputs.h"
#include "core/local_int.h"
#include "core/names.h"
#include "core/text.h"
#include "store/store.h"
#include "store/table.h"

/* ---- embeddings ---- */

int l_emb_list(struct backend *be, int64_t ds,
	       struct store_embedding **out, size_t *n)
{
	return store_embedding_list(L(be)->st, ds, out, n);
}

int l_emb_get(struct backend *be, int64_t ds, const char *name,
	      struct store_embedding *out)
{
	return store_embedding_get(L(be)->st, ds, name, out);
}

int l_emb_get_id(struct backend *be, int64_t id,
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

int l_emb_put(struct backend *be, int64_t ds, const char *name,
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

int l_emb_delete(struct backend *be, int64_t id)
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

int l_emb_export(struct backend *be, int64_t id, int fd)
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

int l_input_list(struct backend *be, int64_t ds, int kind,
		 struct store_input **out, size_t *n)
{
	be_dataset d;
	int rc = l_dataset_get_id(be, ds, &d);

	*out = NULL;
	*n = 0;
	return rc ? rc : store_input_list(L(be)->st, ds, kind, out, n);
}

int l_input_get(struct backend *be, int64_t ds, int kind,
		const char *name, struct store_input *out)
{
	be_dataset d;
	int rc = l_dataset_get_id(be, ds, &d);

	return rc ? rc : store_input_get(L(be)->st, ds, kind, name, out);
}

int l_input_get_id(struct backend *be, int64_t id,
		   struct store_input *out)
{
	be_dataset d;
	int rc = store_input_get_id(L(be)->st, id, out);

	return rc ? rc : l_dataset_get_id(be, out->dataset, &d);
}

int l_input_put(struct backend *be, int64_t ds, int kind,
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

int l_input_delete(struct backend *be, int64_t id)
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

int l_input_export(struct backend *be, int64_t id, int what, int fd)
{
	struct store_input in;
	int rc = l_input_get_id(be, id, &in);

	return rc ? rc : core_input_export(L(be)->st, &in, what, fd);
}

int l_imgmeta_read(struct backend *be, int64_t ds, char **out,
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

int l_imgmeta_fill(struct backend *be, int64_t ds, size_t missing)
{
	be_dataset d;
	int rc = l_dataset_get_id(be, ds, &d);

	if (!rc && missing)
		core_imgmeta_filler_kick(L(be)->filler, d.live_tree, missing);
	return rc;
}

int l_node_imgmeta(struct backend *be, int64_t ino,
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
int l_export_read(struct backend *be, int64_t tag, int fmt,
		  const char *prefix, char **out, size_t *len)
{
	return core_export_local(L(be)->st, L(be)->owner, tag, fmt, prefix,
				 out, len);
}

int l_export_tree_gen(struct backend *be, int64_t ds, uint64_t *gen)
{
	be_dataset d;
	int rc = l_dataset_get_id(be, ds, &d);

	return rc ? rc : store_table_gen(L(be)->st, ds, gen);
}
