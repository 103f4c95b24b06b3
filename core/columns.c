/*
 * columns.c — see columns.h. A column is read by parsing the input's CSV
 * text as uploaded (store/inputs.c; parse: core/incsv.c) and matching its
 * rows to the samples asked for by relative path: the input's names are
 * sorted once (an index array) and each sample's path is looked up by
 * binary search, so a column over n samples and r rows costs
 * O((n + r) log r) beside the parse. Nothing is cached: inputs are small and
 * a sampling run reads each column once.
 *
 * SPEC "INPUT.COLUMN": an input name may itself hold dots, so the input is
 * the longest name of the dataset's inputs that SPEC starts with followed
 * by '.'; names are unique per kind, and a name both a predictions and a
 * metadata input have resolves to the predictions (say so in the README).
 * Sample ids are node ids (store_node_path gives their paths). builtin.*
 * columns read the image metadata cache (core/imgmeta.h), computing the
 * missing values of the samples asked for, and the catalog's file sizes.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/columns.h"
#include "core/blobs.h"
#include "core/imgmeta.h"
#include "core/incsv.h"
#include "core/text.h"

#define BUILTIN_PREFIX "builtin."

void sv_column_free(struct sv_column *c)
{
	if (!c)
		return;
	if (c->names)
		for (size_t k = 0; k < c->ncat; k++)
			free(c->names[k]);
	free(c->names);
	free(c->v);
	free(c->cat);
	memset(c, 0, sizeof(*c));
}

void core_column_list_free(char **names, size_t n)
{
	if (!names)
		return;
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

/* "predictions: a, b; metadata: c" into b (or "this dataset has no
 * predictions or metadata"). */
static void inputs_text(const struct store_input *v, size_t n, struct tbuf *b)
{
	int kinds[2] = { CORE_INPUT_PREDICTIONS, CORE_INPUT_METADATA };
	int any = 0;

	for (int k = 0; k < 2; k++) {
		int first = 1;
		for (size_t i = 0; i < n; i++) {
			if (v[i].kind != kinds[k])
				continue;
			tbuf_printf(b, "%s%s%s", first ? (any ? "; " : "") : ", ",
				    first ? core_input_kind_name(kinds[k]) : "",
				    first ? ": " : "");
			tbuf_printf(b, "%s", v[i].name);
			first = 0;
			any = 1;
		}
	}
	if (!any)
		tbuf_printf(b, "this dataset has no predictions or metadata");
}

/* The input SPEC names: *in and the column part (*col into spec). */
static int resolve_in(const struct store_input *v, size_t n,
		      const char *spec, struct store_input *in,
		      const char **col, char *why, size_t whylen)
{
	const struct store_input *best = NULL;
	size_t bl = 0;
	int rc = 0;

	for (size_t i = 0; i < n; i++) {
		size_t l = strlen(v[i].name);
		if (strncmp(spec, v[i].name, l) || spec[l] != '.')
			continue;
		if (!best || l > bl || (l == bl &&
					v[i].kind == CORE_INPUT_PREDICTIONS)) {
			best = &v[i];
			bl = l;
		}
	}
	if (best) {
		*in = *best;
		*col = spec + bl + 1;
	} else {
		struct tbuf b;
		char *t = NULL;
		size_t tl, il = strcspn(spec, ".");
		tbuf_init(&b, 4096);
		if (!strchr(spec, '.'))
			tbuf_printf(&b, "column '%.100s': name it INPUT.COLUMN"
				    " (", spec);
		else
			tbuf_printf(&b, "no input named '%.*s' (",
				    (int)(il > 100 ? 100 : il), spec);
		inputs_text(v, n, &b);
		tbuf_printf(&b, ")");
		if (!tbuf_finish(&b, &t, &tl))
			snprintf(why, whylen, "%s", t);
		free(t);
		rc = -EINVAL;
	}
	return rc;
}

/* resolve_in over the dataset's inputs (one catalog read). */
static int resolve(store *st, int64_t ds, const char *spec,
		   struct store_input *in, const char **col, char *why,
		   size_t whylen)
{
	struct store_input *v = NULL;
	size_t n = 0;
	int rc = store_input_list(st, ds, 0, &v, &n);

	if (!rc)
		rc = resolve_in(v, n, spec, in, col, why, whylen);
	free(v);
	return rc;
}

/* The stored text of input `in`, parsed into *p (core_input_free it). */
static int load_input(store *st, const struct store_input *in,
		      struct core_input *p, char *why, size_t whylen)
{
	char *text = NULL, msg[512];
	size_t len = 0;
	int rc = store_input_text(st, in->id, &text, &len);

	if (rc)
		return rc;
	rc = core_input_parse(in->kind, text, len, p, msg, sizeof(msg));
	free(text);
	if (rc == -EINVAL) {
		/* stored texts were valid when uploaded */
		snprintf(why, whylen, "%s/%s.csv: %s",
			 core_input_kind_name(in->kind), in->name, msg);
		return -EIO;
	}
	return rc;
}

static const char *const pred_cols[] = {
	"uncertainty_least_confidence", "uncertainty_margin",
	"uncertainty_entropy", "class"
};

/* Which column col is: 0..3 pred_cols, 4 + k value column k; -1 none. */
static long column_index(const struct core_input *p, const char *col)
{
	if (p->kind == CORE_INPUT_PREDICTIONS)
		for (long i = 0; i < 4; i++)
			if (!strcmp(col, pred_cols[i]))
				return i;
	for (size_t k = 0; k < p->ncols; k++)
		if (!strcmp(col, p->cols[k]))
			return 4 + (long)k;
	return -1;
}

static void no_column(const struct store_input *in, const struct core_input *p,
		      const char *col, char *why, size_t whylen)
{
	struct tbuf b;
	char *t = NULL;
	size_t tl;

	tbuf_init(&b, 4096);
	tbuf_printf(&b, "no column '%.100s' in %s/%s.csv (columns: ", col,
		    core_input_kind_name(in->kind), in->name);
	if (p->kind == CORE_INPUT_PREDICTIONS)
		for (int i = 0; i < 4; i++)
			tbuf_printf(&b, "%s, ", pred_cols[i]);
	for (size_t k = 0; k < p->ncols; k++)
		tbuf_printf(&b, "%s%s", p->cols[k],
			    k + 1 < p->ncols ? ", " : "");
	tbuf_printf(&b, ")");
	if (!tbuf_finish(&b, &t, &tl))
		snprintf(why, whylen, "%s", t);
	free(t);
}

static int cmp_row(const void *a, const void *b, void *arg)
{
	const struct core_input *p = arg;

	return strcmp(p->names[*(const size_t *)a],
		      p->names[*(const size_t *)b]);
}

/* The row of path in p (order: its names sorted), or -1. */
static long find_row(const struct core_input *p, const size_t *order,
		     const char *path)
{
	size_t lo = 0, hi = p->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(p->names[order[mid]], path);
		if (!c)
			return (long)order[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

/* The categories of metadata column k: distinct values, first seen first. */
static int categories(const struct core_input *p, size_t k,
		      struct sv_column *out)
{
	out->names = calloc(p->n ? p->n : 1, sizeof(char *));
	if (!out->names)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++) {
		const char *v = p->cells[i * p->ncols + k];
		size_t j;
		if (!*v)
			continue;
		for (j = 0; j < out->ncat; j++)
			if (!strcmp(out->names[j], v))
				break;
		if (j == out->ncat &&
		    !(out->names[out->ncat++] = strdup(v)))
			return -ENOMEM;
	}
	return 0;
}

static int32_t cat_of(const struct sv_column *c, const char *v)
{
	if (!*v)
		return -1;
	for (size_t j = 0; j < c->ncat; j++)
		if (!strcmp(c->names[j], v))
			return (int32_t)j;
	return -1;
}

/* Fills out for the samples paths[0..n) from input p, column ci. */
static int fill(const struct core_input *p, long ci, const char *const *paths,
		size_t n, struct sv_column *out)
{
	size_t *order = malloc((p->n ? p->n : 1) * sizeof(size_t));
	int pred = p->kind == CORE_INPUT_PREDICTIONS, rc = 0;

	if (!order)
		return -ENOMEM;
	for (size_t i = 0; i < p->n; i++)
		order[i] = i;
	qsort_r(order, p->n, sizeof(size_t), cmp_row, (void *)p);

	out->n = n;
	out->categorical = (pred && ci == 3) ||
			   (!pred && ci >= 4 && !p->numeric[ci - 4]);
	if (out->categorical) {
		out->cat = malloc((n ? n : 1) * sizeof(int32_t));
		if (!out->cat)
			rc = -ENOMEM;
		else if (pred) {
			out->names = calloc(p->ncols, sizeof(char *));
			if (!out->names)
				rc = -ENOMEM;
			for (size_t k = 0; !rc && k < p->ncols; k++)
				if (!(out->names[out->ncat++] =
				      strdup(p->cols[k])))
					rc = -ENOMEM;
		} else {
			rc = categories(p, (size_t)ci - 4, out);
		}
	} else if (!(out->v = malloc((n ? n : 1) * sizeof(double)))) {
		rc = -ENOMEM;
	}
	for (size_t i = 0; !rc && i < n; i++) {
		long r = find_row(p, order, paths[i]);
		const double *row = r >= 0 ? p->x + (size_t)r * p->ncols : NULL;
		struct core_pred_scores s;
		if (pred && row && ci < 4)
			core_pred_scores(row, p->ncols, &s);
		if (out->categorical) {
			out->cat[i] = !row ? -1 : pred ? (int32_t)s.argmax :
				cat_of(out, p->cells[(size_t)r * p->ncols +
						     (size_t)ci - 4]);
			continue;
		}
		out->v[i] = !row ? NAN
			  : ci == 0 ? s.least_confidence
			  : ci == 1 ? s.margin
			  : ci == 2 ? s.entropy
			  : row[ci - 4];
	}
	free(order);
	return rc;
}

/* ---- builtin.* (core/imgmeta.h) ---- */

struct tfile {
	char *path;
	unsigned char sha[STORE_SHA_LEN];
	int64_t size;
};

struct tfiles {
	struct tfile *v;
	size_t n, cap;
};

static int tfile_add(void *arg, const char *path, const unsigned char *sha,
		     int64_t size)
{
	struct tfiles *t = arg;

	if (t->n == t->cap) {
		size_t c = t->cap ? 2 * t->cap : 256;
		struct tfile *g = realloc(t->v, c * sizeof(*g));
		if (!g)
			return -ENOMEM;
		t->v = g;
		t->cap = c;
	}
	if (!(t->v[t->n].path = strdup(path)))
		return -ENOMEM;
	memcpy(t->v[t->n].sha, sha, STORE_SHA_LEN);
	t->v[t->n].size = size;
	t->n++;
	return 0;
}

static int cmp_tfile(const void *a, const void *b)
{
	return strcmp(((const struct tfile *)a)->path,
		      ((const struct tfile *)b)->path);
}

/* The builtin.* columns of `want` (bit k: core_imgmeta_cols[k]) for paths
 * into out[k]: one tree walk and at most one cache read (or computation) a
 * file, whichever columns are asked. The cached values (imgmeta.h),
 * computing those of the samples asked for that are missing (the blob
 * store of st: cheap to open) unless missing is set (then counted there);
 * NAN for a file that is not an image or whose bytes are not here;
 * file_size from the catalog. */
static int builtin_fill(store *st, int64_t ds, unsigned want,
			const char *const *paths, size_t n, size_t *missing,
			struct sv_column *out)
{
	struct store_dataset d;
	struct tfiles t = { 0 };
	struct core_blobs *b = NULL;
	unsigned stats = want & ((1u << EMB_IMGSTATS_N) - 1);
	int rc;

	rc = store_dataset_get_id(st, ds, &d);
	if (!rc)
		rc = store_tree_files_each(st, d.live_tree, tfile_add, &t);
	for (int k = 0; !rc && k < CORE_IMGMETA_NCOLS; k++) {
		if (!(want & (1u << k)))
			continue;
		out[k].n = n;
		if (!(out[k].v = malloc((n ? n : 1) * sizeof(double))))
			rc = -ENOMEM;
	}
	if (!rc && stats && !missing)
		rc = core_blobs_open(st, &b);
	if (!rc) {
		qsort(t.v, t.n, sizeof(*t.v), cmp_tfile);
		for (size_t i = 0; i < n; i++) {
			struct tfile key = { .path = (char *)paths[i] }, *f;
			struct emb_imgstats v;
			int have = 0;
			f = bsearch(&key, t.v, t.n, sizeof(*t.v), cmp_tfile);
			if (f && stats && missing) {
				rc = core_imgmeta_cached(st, f->sha, &v);
				if (rc == -ENOENT) {
					(*missing)++;
					rc = 0;
				} else if (!rc)
					have = 1;
			} else if (f && stats) {
				rc = core_imgmeta_get(st, b, f->sha, &v, NULL, 0);
				have = rc == 0;
			}
			if (rc > 0)
				rc = 0;       /* not an image: no value */
			if (rc)
				break;
			for (int k = 0; k < CORE_IMGMETA_NCOLS; k++) {
				if (!(want & (1u << k)))
					continue;
				out[k].v[i] = !f ? NAN :
					      k == EMB_IMGSTATS_N ?
					      (double)f->size :
					      have ? v.v[k] : NAN;
			}
		}
	}
	core_blobs_free(b);
	for (size_t i = 0; i < t.n; i++)
		free(t.v[i].path);
	free(t.v);
	if (rc)
		for (int k = 0; k < CORE_IMGMETA_NCOLS; k++)
			sv_column_free(&out[k]);
	return rc;
}

/* builtin.COL for paths (builtin_fill of that one column). */
static int builtin_load(store *st, int64_t ds, const char *col,
			const char *const *paths, size_t n, size_t *missing,
			struct sv_column *out, char *why, size_t whylen)
{
	struct sv_column all[CORE_IMGMETA_NCOLS];
	int k = -1, rc;

	for (int i = 0; i < CORE_IMGMETA_NCOLS; i++)
		if (!strcmp(col, core_imgmeta_cols[i]))
			k = i;
	if (k < 0) {
		snprintf(why, whylen, "no column '%.100s' in metadata/builtin.csv"
			 " (columns: width, height, brightness, contrast,"
			 " sharpness, colourfulness, file_size)", col);
		return -EINVAL;
	}
	memset(all, 0, sizeof(all));
	rc = builtin_fill(st, ds, 1u << k, paths, n, missing, all);
	if (!rc)
		*out = all[k];
	return rc;
}

int core_builtin_load(store *st, int64_t ds, unsigned want,
		      const char *const *paths, size_t n, size_t *missing,
		      struct sv_column *out)
{
	memset(out, 0, CORE_IMGMETA_NCOLS * sizeof(*out));
	return builtin_fill(st, ds, want & ((1u << CORE_IMGMETA_NCOLS) - 1),
			    paths, n, missing, out);
}

int core_column_load_paths(store *st, int64_t ds, const char *spec,
			   const char *const *paths, size_t n,
			   struct sv_column *out, char *why, size_t whylen)
{
	return core_column_load_paths_nowait(st, ds, spec, paths, n, NULL,
					     out, why, whylen);
}

int core_column_load_paths_nowait(store *st, int64_t ds, const char *spec,
				  const char *const *paths, size_t n,
				  size_t *missing, struct sv_column *out,
				  char *why, size_t whylen)
{
	struct store_input in;
	struct core_input p;
	const char *col = NULL;
	char msg[512];
	long ci;
	int rc;

	memset(out, 0, sizeof(*out));
	if (why && whylen)
		why[0] = '\0';
	if (!why || !whylen) {
		why = msg;
		whylen = sizeof(msg);
	}
	if (!strncmp(spec, BUILTIN_PREFIX, strlen(BUILTIN_PREFIX)))
		return builtin_load(st, ds, spec + strlen(BUILTIN_PREFIX),
				    paths, n, missing, out, why, whylen);
	rc = resolve(st, ds, spec, &in, &col, why, whylen);
	if (!rc)
		rc = load_input(st, &in, &p, why, whylen);
	if (rc)
		return rc;
	ci = column_index(&p, col);
	if (ci < 0) {
		no_column(&in, &p, col, why, whylen);
		rc = -EINVAL;
	} else {
		rc = fill(&p, ci, paths, n, out);
	}
	core_input_free(&p);
	if (rc)
		sv_column_free(out);
	return rc;
}

int core_column_load_inputs_paths(store *st, int64_t ds,
				  char *const *specs, size_t ns,
				  const char *const *paths, size_t n,
				  struct sv_column *out, char *why,
				  size_t whylen)
{
	struct store_input *v = NULL, in;
	struct core_input p;
	int64_t cur = 0;                 /* the input p holds (have) */
	size_t nv = 0;
	char msg[512];
	int have = 0, rc;

	memset(out, 0, ns * sizeof(*out));
	if (!why || !whylen) {
		why = msg;
		whylen = sizeof(msg);
	}
	why[0] = '\0';
	rc = store_input_list(st, ds, 0, &v, &nv);
	for (size_t k = 0; !rc && k < ns; k++) {
		const char *col = NULL;
		long ci;
		if (!strncmp(specs[k], BUILTIN_PREFIX, strlen(BUILTIN_PREFIX)))
			continue;
		rc = resolve_in(v, nv, specs[k], &in, &col, why, whylen);
		if (!rc && (!have || in.id != cur)) {
			if (have)
				core_input_free(&p);
			have = 0;
			rc = load_input(st, &in, &p, why, whylen);
			have = !rc;
			cur = in.id;
		}
		if (rc)
			break;
		ci = column_index(&p, col);
		if (ci < 0) {
			no_column(&in, &p, col, why, whylen);
			rc = -EINVAL;
		} else {
			rc = fill(&p, ci, paths, n, &out[k]);
		}
	}
	if (have)
		core_input_free(&p);
	free(v);
	for (size_t k = 0; rc && k < ns; k++)
		sv_column_free(&out[k]);
	return rc;
}

int core_column_load(store *st, int64_t ds, const char *spec,
		     const int64_t *ids, size_t n, struct sv_column *out,
		     char *why, size_t whylen)
{
	char **paths = calloc(n ? n : 1, sizeof(char *));
	char buf[4096];
	int rc = paths ? 0 : -ENOMEM;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; !rc && i < n; i++) {
		rc = store_node_path(st, ids[i], buf, sizeof(buf));
		if (rc == -ENOENT) {
			buf[0] = '\0';   /* no such sample: no value */
			rc = 0;
		}
		if (!rc && !(paths[i] = strdup(buf)))
			rc = -ENOMEM;
	}
	if (!rc)
		rc = core_column_load_paths(st, ds, spec,
					    (const char *const *)paths, n, out,
					    why, whylen);
	if (paths)
		for (size_t i = 0; i < n; i++)
			free(paths[i]);
	free(paths);
	return rc;
}

static int add_name(char ***v, size_t *n, size_t *cap, const char *a,
		    const char *b)
{
	size_t l = strlen(a) + strlen(b) + 2;
	char *s = malloc(l);

	if (!s)
		return -ENOMEM;
	snprintf(s, l, "%s.%s", a, b);
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 16;
		char **g = realloc(*v, c * sizeof(*g));
		if (!g) {
			free(s);
			return -ENOMEM;
		}
		*v = g;
		*cap = c;
	}
	(*v)[(*n)++] = s;
	return 0;
}

int core_column_list(store *st, int64_t ds, char ***names, size_t *n)
{
	struct store_input *v = NULL;
	size_t nv = 0, cap = 0;
	int rc = store_input_list(st, ds, 0, &v, &nv);

	*names = NULL;
	*n = 0;
	for (size_t i = 0; !rc && i < nv; i++) {
		struct core_input p;
		char *text = NULL;
		size_t len;
		rc = store_input_text(st, v[i].id, &text, &len);
		if (!rc)
			rc = core_input_parse(v[i].kind, text, len, &p, NULL,
					      0);
		free(text);
		if (rc)
			break;
		if (p.kind == CORE_INPUT_PREDICTIONS)
			for (int k = 0; !rc && k < 4; k++)
				rc = add_name(names, n, &cap, v[i].name,
					      pred_cols[k]);
		for (size_t k = 0; !rc && k < p.ncols; k++)
			rc = add_name(names, n, &cap, v[i].name, p.cols[k]);
		core_input_free(&p);
	}
	free(v);
	for (int k = 0; !rc && k < CORE_IMGMETA_NCOLS; k++)
		rc = add_name(names, n, &cap, "builtin", core_imgmeta_cols[k]);
	if (rc) {
		core_column_list_free(*names, *n);
		*names = NULL;
		*n = 0;
	}
	return rc;
}
