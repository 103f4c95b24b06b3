/*
 * exports.c — a tag's exports (exports.h): renderers and the gathering of
 * what they show from a store.
 *
 * The tag's files are paged out of the catalog in path order
 * (store_tree_files_page: bounded memory per query, no read transaction
 * held across pages). The CSV's columns are loaded with
 * core_column_load_inputs_paths (each input read and parsed once for all
 * its columns and files, no query per file); builtin.* shows the cached values of the tag's own bytes (a
 * decode never runs here, on a stat's thread) and their sizes. The Label
 * Studio tasks are written one cJSON object per line, so the text is valid
 * JSON that `grep` and `wc -l` still read. The score column is the latest
 * finished ranking run's (store_run_latest_done): scores are kept per run,
 * not per tag, so a tag made from the selection of that run shows its
 * scores and a tag whose files it did not rank shows empty cells.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "core/columns.h"
#include "core/csv.h"
#include "core/exports.h"
#include "core/imgmeta.h"
#include "core/text.h"
#include "store/store.h"

#define EXPORT_MAX (256u << 20)   /* cap on one export's text (-EFBIG), as
				   local_text.c's on a control file's */
#define PAGE 4096                 /* tag files per catalog query */
#define IMAGE_MAX 4096            /* one image path or URL */

static const char *const suffix[CORE_EXPORT_NFMT] = {
	".txt", ".label-studio.json", ".csv"
};
static const char *const word[CORE_EXPORT_NFMT] = {
	"txt", "label-studio", "csv"
};

const char *core_export_suffix(int fmt)
{
	return fmt >= 0 && fmt < CORE_EXPORT_NFMT ? suffix[fmt] : NULL;
}

const char *core_export_word(int fmt)
{
	return fmt >= 0 && fmt < CORE_EXPORT_NFMT ? word[fmt] : NULL;
}

int core_export_format(const char *w)
{
	for (int i = 0; w && i < CORE_EXPORT_NFMT; i++)
		if (!strcmp(w, word[i]))
			return i;
	return -EINVAL;
}

int core_export_split(const char *file, char *tag, size_t len, int *fmt)
{
	size_t fl = strlen(file);

	/* longest suffix first: "x.label-studio.json" is not a .txt/.csv */
	static const int order[CORE_EXPORT_NFMT] = {
		CORE_EXPORT_LS, CORE_EXPORT_TXT, CORE_EXPORT_CSV
	};
	for (int k = 0; k < CORE_EXPORT_NFMT; k++) {
		int i = order[k];
		size_t sl = strlen(suffix[i]);
		if (fl > sl && !strcmp(file + fl - sl, suffix[i])) {
			if (fl - sl >= len)
				return -ENOENT;
			memcpy(tag, file, fl - sl);
			tag[fl - sl] = '\0';
			*fmt = i;
			return 0;
		}
	}
	return -ENOENT;
}

/* ---- renderers ---- */

void core_export_txt(struct tbuf *b, const char *const *paths, size_t n)
{
	for (size_t i = 0; i < n; i++)
		tbuf_put_path_line(b, paths[i]);
}

void core_export_ls(struct tbuf *b, size_t n, const char *const *images)
{
	tbuf_put(b, "[", 1);
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject(), *d = cJSON_CreateObject();
		char *s = NULL;
		if (o && d) {
			cJSON_AddNumberToObject(o, "id", (double)(i + 1));
			if (images[i])
				cJSON_AddStringToObject(d, "image", images[i]);
			else
				cJSON_AddNullToObject(d, "image");
			cJSON_AddItemToObject(o, "data", d);
			d = NULL;
			s = cJSON_PrintUnformatted(o);
		}
		cJSON_Delete(o);
		cJSON_Delete(d);
		if (!s) {
			if (!b->err)
				b->err = -ENOMEM;
			return;
		}
		tbuf_put(b, i ? ",\n" : "\n", i ? 2 : 1);
		tbuf_put(b, s, strlen(s));
		cJSON_free(s);
	}
	tbuf_put(b, "\n]\n", 3);
}

/* A number as the CSV shows it: the shortest %.*g that reads back as v. */
static void put_number(struct tbuf *b, double v)
{
	char s[40];

	for (int p = 6; p <= 17; p++) {
		snprintf(s, sizeof(s), "%.*g", p, v);
		if (strtod(s, NULL) == v)
			break;
	}
	tbuf_put(b, s, strlen(s));
}

/* A score as the dataset's scores.csv shows it: scores are kept as
 * float32 (store_run_scores_each widens them), so a value that is one is
 * the shortest text of that float32 (core_csv_fmt_float: "0.1", not
 * 0.10000000149011612's digits); anything else as put_number. */
static void put_score(struct tbuf *b, double v)
{
	char s[32];

	if ((double)(float)v != v) {
		put_number(b, v);
		return;
	}
	tbuf_put(b, s, core_csv_fmt_float((float)v, s));
}

void core_export_csv(struct tbuf *b, const char *const *paths, size_t n,
		     const double *score, const struct sv_column *cols,
		     char *const *names, size_t ncols)
{
	tbuf_put(b, "filename,score", 14);
	for (size_t k = 0; k < ncols; k++) {
		tbuf_put(b, ",", 1);
		tbuf_put_csv_field(b, names[k]);
	}
	tbuf_put(b, "\r\n", 2);
	for (size_t i = 0; i < n; i++) {
		tbuf_put_csv_field(b, paths[i]);
		tbuf_put(b, ",", 1);
		if (score && !isnan(score[i]))
			put_score(b, score[i]);
		for (size_t k = 0; k < ncols; k++) {
			const struct sv_column *c = &cols[k];
			tbuf_put(b, ",", 1);
			if (i >= c->n)
				continue;
			if (c->categorical && c->cat && c->cat[i] >= 0 &&
			    (size_t)c->cat[i] < c->ncat)
				tbuf_put_csv_field(b, c->names[c->cat[i]]);
			else if (!c->categorical && c->v && !isnan(c->v[i]))
				put_number(b, c->v[i]);
		}
		tbuf_put(b, "\r\n", 2);
	}
}

/* ---- gathering ---- */

struct tfiles {
	struct store_tree_file *v;
	size_t n, cap;
};

static void tfiles_free(struct tfiles *t)
{
	store_tree_files_free(t->v, t->n);
	memset(t, 0, sizeof(*t));
}

/* Every file of tree (tag id), in path order: bytewise, as strcmp and
 * cmp_tfile compare (the nodes_path index's order; PostgreSQL's text
 * columns are COLLATE "C"). */
static int tfiles_load(store *st, int64_t tree, struct tfiles *t)
{
	const char *after = "";
	int rc;

	memset(t, 0, sizeof(*t));
	for (;;) {
		struct store_tree_file *v;
		size_t n;
		rc = store_tree_files_page(st, tree, after, PAGE, &v, &n);
		if (rc)
			break;
		if (t->n + n > t->cap) {
			size_t c = t->cap ? t->cap * 2 : PAGE;
			while (c < t->n + n)
				c *= 2;
			struct store_tree_file *g = realloc(t->v, c * sizeof(*g));
			if (!g) {
				store_tree_files_free(v, n);
				rc = -ENOMEM;
				break;
			}
			t->v = g;
			t->cap = c;
		}
		memcpy(t->v + t->n, v, n * sizeof(*v));
		free(v);                 /* the paths now belong to t */
		t->n += n;
		if (n < PAGE)
			break;
		after = t->v[t->n - 1].path;
	}
	if (rc)
		tfiles_free(t);
	return rc;
}

static int cmp_tfile(const void *a, const void *b)
{
	return strcmp(((const struct store_tree_file *)a)->path,
		      ((const struct store_tree_file *)b)->path);
}

struct score_kv {
	const char *path;
	double v;
};

struct score_acc {
	struct score_kv *v;
	size_t n, cap;
};

static int score_add(void *arg, const char *path, double score)
{
	struct score_acc *a = arg;

	if (a->n == a->cap) {
		size_t c = a->cap ? a->cap * 2 : 1024;
		struct score_kv *g = realloc(a->v, c * sizeof(*g));
		if (!g)
			return -ENOMEM;
		a->v = g;
		a->cap = c;
	}
	if (!(a->v[a->n].path = strdup(path)))
		return -ENOMEM;
	a->v[a->n++].v = score;
	return 0;
}

static int cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct score_kv *)a)->path,
		      ((const struct score_kv *)b)->path);
}

/* score[i] of paths[i] from the dataset's latest finished ranking run
 * (NAN where none). */
static int load_scores(store *st, int64_t ds, const char *const *paths,
		       size_t n, double *score)
{
	struct store_run r;
	struct score_acc a = { 0 };
	int rc;

	for (size_t i = 0; i < n; i++)
		score[i] = NAN;
	rc = store_run_latest_done(st, ds, &r);
	if (rc == -ENOENT)
		return 0;
	if (!rc)
		rc = store_run_scores_each(st, r.id, -1, score_add, &a);
	if (!rc) {
		qsort(a.v, a.n, sizeof(*a.v), cmp_kv);
		for (size_t i = 0; i < n; i++) {
			struct score_kv key = { paths[i], 0 }, *f;
			f = a.n ? bsearch(&key, a.v, a.n, sizeof(*a.v), cmp_kv)
				: NULL;
			if (f)
				score[i] = f->v;
		}
	}
	for (size_t i = 0; i < a.n; i++)
		free((char *)a.v[i].path);
	free(a.v);
	return rc;
}

/* Value v of builtin column c as metadata/builtin.csv writes it
 * (core/imgmeta.c: %.0f for width and height, %.6g for the rest), read
 * back: the cache keeps float32s, and put_number of the widened double
 * would print its 17 digits ("0.20649999380111694" for builtin.csv's
 * "0.2065"); of this value it prints builtin.csv's text. */
static double as_builtin_csv(double v, int c)
{
	char s[40];

	snprintf(s, sizeof(s), c < 2 ? "%.0f" : "%.6g", v);
	return strtod(s, NULL);
}

/* builtin.* of the tag's own files: the cached values only (a decode
 * never runs on a stat's thread: what metadata/builtin.csv has computed,
 * empty for the rest), file_size from the tag's node; one lookup per file
 * for all the columns. */
static int builtin_cols(store *st, const struct tfiles *t, char *const *names,
			size_t nn, struct sv_column *cols)
{
	struct emb_imgstats *v = NULL;
	signed char *has = NULL;
	int rc = 0, any = 0;

	for (size_t k = 0; k < nn; k++)
		any |= !strncmp(names[k], "builtin.", 8);
	if (!any)
		return 0;
	v = malloc((t->n ? t->n : 1) * sizeof(*v));
	has = malloc(t->n ? t->n : 1);
	if (!v || !has)
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < t->n; i++) {
		int r = t->v[i].n.has_sha ?
			core_imgmeta_cached(st, t->v[i].n.sha, &v[i]) : 1;
		if (r < 0 && r != -ENOENT)
			rc = r;
		has[i] = r == 0;
	}
	for (size_t k = 0; !rc && k < nn; k++) {
		const char *col = names[k] + 8;
		int c = -1;
		if (strncmp(names[k], "builtin.", 8))
			continue;
		for (int j = 0; j < CORE_IMGMETA_NCOLS; j++)
			if (!strcmp(col, core_imgmeta_cols[j]))
				c = j;
		if (!(cols[k].v = malloc((t->n ? t->n : 1) * sizeof(double)))) {
			rc = -ENOMEM;
			break;
		}
		cols[k].n = t->n;
		for (size_t i = 0; i < t->n; i++)
			cols[k].v[i] = c == EMB_IMGSTATS_N ?
				       (double)t->v[i].n.size :
				       c >= 0 && has[i] ?
				       as_builtin_csv(v[i].v[c], c) : NAN;
	}
	free(v);
	free(has);
	return rc;
}

static int render_csv(store *st, const struct store_tag *tag,
		      const struct tfiles *t, const char *const *paths,
		      struct tbuf *b)
{
	char **names = NULL;
	size_t n = t->n, nn = 0;
	struct sv_column *cols = NULL;
	double *score = malloc((n ? n : 1) * sizeof(double));
	int rc = score ? load_scores(st, tag->dataset, paths, n, score)
		       : -ENOMEM;

	if (!rc)
		rc = core_column_list(st, tag->dataset, &names, &nn);
	if (!rc && !(cols = calloc(nn ? nn : 1, sizeof(*cols))))
		rc = -ENOMEM;
	if (!rc)
		rc = core_column_load_inputs_paths(st, tag->dataset, names, nn,
						   paths, n, cols, NULL, 0);
	if (!rc)
		rc = builtin_cols(st, t, names, nn, cols);
	if (!rc)
		core_export_csv(b, paths, n, score, cols, names, nn);
	for (size_t i = 0; cols && i < nn; i++)
		sv_column_free(&cols[i]);
	free(cols);
	core_column_list_free(names, nn);
	free(score);
	return rc;
}

static int local_image(void *arg, const struct core_export_file *f,
		       char *out, size_t len);

static int render_ls(store *st, const struct store_tag *tag,
		     const struct tfiles *t, core_export_image_fn image,
		     void *arg, struct tbuf *b)
{
	struct store_dataset d;
	struct tfiles live = { 0 };
	char **images = calloc(t->n ? t->n : 1, sizeof(char *));
	char *buf = malloc(IMAGE_MAX);
	int rc = images && buf ? store_dataset_get_id(st, tag->dataset, &d)
			       : -ENOMEM;
	/* embedded mode's images (local_image) never read live_ino and
	 * live_same: the live tree is not loaded for them (half the cost of
	 * a frozen tag's text, made at every stat and open) */
	int want_live = !rc && image && image != local_image &&
			d.live_tree != tag->id;

	/* already in cmp_tfile's order (tfiles_load): no sort before the
	 * bsearch */
	if (!rc && want_live)
		rc = tfiles_load(st, d.live_tree, &live);
	for (size_t i = 0; !rc && i < t->n; i++) {
		const struct store_tree_file *tf = &t->v[i], *lf = tf;
		struct core_export_file f = { tf->path, tf->n.sha,
					      tf->n.has_sha, 0, 0 };
		if (d.live_tree != tag->id)
			lf = want_live && live.n ? bsearch(tf, live.v, live.n,
					      sizeof(*live.v), cmp_tfile)
				    : NULL;
		if (lf) {
			f.live_ino = lf->n.ino;
			f.live_same = lf->n.has_sha && tf->n.has_sha &&
				      !memcmp(lf->n.sha, tf->n.sha,
					      STORE_SHA_LEN);
		}
		rc = image ? image(arg, &f, buf, IMAGE_MAX) : 0;
		if (rc == 1 && !(images[i] = strdup(buf)))
			rc = -ENOMEM;
		if (rc == 1)
			rc = 0;
	}
	if (!rc)
		core_export_ls(b, t->n, (const char *const *)images);
	for (size_t i = 0; images && i < t->n; i++)
		free(images[i]);
	free(images);
	free(buf);
	tfiles_free(&live);
	return rc;
}

int core_export_render(store *st, const struct store_tag *tag, int fmt,
		       core_export_image_fn image, void *arg, char **out,
		       size_t *len)
{
	struct tfiles t;
	const char **paths = NULL;
	struct tbuf b;
	int rc;

	*out = NULL;
	*len = 0;
	if (!core_export_suffix(fmt))
		return -EINVAL;
	rc = tfiles_load(st, tag->id, &t);
	if (rc)
		return rc;
	if (!(paths = malloc((t.n ? t.n : 1) * sizeof(*paths)))) {
		tfiles_free(&t);
		return -ENOMEM;
	}
	for (size_t i = 0; i < t.n; i++)
		paths[i] = t.v[i].path;
	tbuf_init(&b, EXPORT_MAX);
	if (fmt == CORE_EXPORT_TXT)
		core_export_txt(&b, paths, t.n);
	else if (fmt == CORE_EXPORT_CSV)
		rc = render_csv(st, tag, &t, paths, &b);
	else
		rc = render_ls(st, tag, &t, image, arg, &b);
	free(paths);
	tfiles_free(&t);
	if (rc) {
		tbuf_free(&b);
		return rc;
	}
	return tbuf_finish(&b, out, len);
}

/* PREFIX/PATH (arg: the prefix). */
static int local_image(void *arg, const struct core_export_file *f,
		       char *out, size_t len)
{
	int n = snprintf(out, len, "%s/%s", (const char *)arg, f->path);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 1;
}

int core_export_local(store *st, const char *owner, int64_t tag, int fmt,
		      const char *prefix, char **out, size_t *len)
{
	struct store_tag t;
	struct store_dataset d;
	int rc = store_tag_get_id(st, tag, &t);

	*out = NULL;
	*len = 0;
	if (!rc)
		rc = store_dataset_get_id(st, t.dataset, &d);
	if (!rc && strcmp(d.owner, owner))
		rc = -ENOENT;       /* another user's tag does not exist */
	if (rc)
		return rc;
	return core_export_render(st, &t, fmt, local_image,
				  (void *)(prefix ? prefix : ""), out, len);
}
