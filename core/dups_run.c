/*
 * dups_run.c — the `duplicates` file of a dataset (core/dups.h): its
 * setting (a row of the catalog, store_dups_setting_*: it outlives the
 * process and every server on the catalog reads the same), and its text,
 * from the live tree's hashes (store/) and, when set, the vectors of an
 * embedding (store_matrix_load), grouped by core_dups_exact and
 * core_dups_near.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/dups.h"
#include "core/text.h"
#include "store/store.h"

#define DUPS_TEXT_MAX (256u << 20)

/* The dataset's setting, read from the catalog (store/dups.c). */
struct setting {
	double max_distance;
	char emb[129];
};

static int get_setting(store *st, int64_t ds, struct setting *out)
{
	return store_dups_setting_get(st, ds, &out->max_distance, out->emb,
				      sizeof(out->emb));
}

/* The embedding names of ds, "a, b", into buf ("none" when none). */
static void emb_names(store *st, int64_t ds, char *buf, size_t len)
{
	struct store_embedding *e = NULL;
	size_t n = 0, o = 0;

	buf[0] = '\0';
	if (store_embedding_list(st, ds, &e, &n) == 0)
		for (size_t i = 0; i < n && o < len; i++)
			o += (size_t)snprintf(buf + o, len - o, "%s%s",
					      i ? ", " : "", e[i].name);
	if (!n)
		snprintf(buf, len, "none");
	free(e);
}

int core_dups_config(store *st, int64_t ds, const char *line, char *why,
		     size_t whylen)
{
	char *copy = strdup(line), *save = NULL, *w;
	double d = -1;
	char emb[129] = "";
	int exact = 0, rc = 0;
	struct store_embedding e;

	if (!copy)
		return -ENOMEM;
	for (w = strtok_r(copy, " \t\r\n", &save); w && !rc;
	     w = strtok_r(NULL, " \t\r\n", &save)) {
		char *end;
		if (!strcmp(w, "exact")) {
			exact = 1;
		} else if (!strncmp(w, "max_distance=", 13)) {
			if (d >= 0) {
				snprintf(why, whylen, "duplicates: max_distance"
					 " is given twice");
				rc = -EINVAL;
				break;
			}
			d = strtod(w + 13, &end);
			if (end == w + 13 || *end || !isfinite(d) || d < 0 ||
			    d > 1e6) {
				snprintf(why, whylen, "duplicates: max_distance"
					 " '%.40s' is not a number in [0, 1e6]",
					 w + 13);
				rc = -EINVAL;
			}
		} else if (!strncmp(w, "embedding=", 10)) {
			if (emb[0] || strlen(w + 10) >= sizeof(emb) ||
			    !w[10]) {
				snprintf(why, whylen, emb[0] ? "duplicates:"
					 " embedding is given twice" :
					 "duplicates: embedding= names no"
					 " embedding");
				rc = -EINVAL;
				break;
			}
			snprintf(emb, sizeof(emb), "%s", w + 10);
		} else {
			snprintf(why, whylen, "duplicates: unknown word '%.40s'"
				 " (the forms: 'max_distance=D embedding=NAME',"
				 " or 'exact')", w);
			rc = -EINVAL;
		}
	}
	free(copy);
	if (rc)
		return rc;
	if (exact && (d >= 0 || emb[0])) {
		snprintf(why, whylen, "duplicates: 'exact' takes no other word");
		return -EINVAL;
	}
	if (!exact && (d < 0 || !emb[0])) {
		snprintf(why, whylen, "duplicates: %s (the forms:"
			 " 'max_distance=D embedding=NAME', or 'exact')",
			 d < 0 && !emb[0] ? "nothing asked" : d < 0 ?
			 "max_distance= is missing" : "embedding= is missing");
		return -EINVAL;
	}
	if (!exact) {
		rc = store_embedding_get(st, ds, emb, &e);
		if (rc == -ENOENT) {
			char names[256];
			emb_names(st, ds, names, sizeof(names));
			snprintf(why, whylen, "duplicates: no embedding named"
				 " '%s' (embeddings: %s)", emb, names);
			return -EINVAL;
		}
		if (rc)
			return rc;
	}
	return store_dups_setting_set(st, ds, d, exact ? NULL : emb);
}

struct files {
	char **path;
	unsigned char *sha;
	size_t n, cap;
};

static int add_file(void *arg, const char *path, const unsigned char *sha,
		    int64_t size)
{
	struct files *f = arg;

	(void)size;
	if (f->n == f->cap) {
		size_t ncap = f->cap ? 2 * f->cap : 256;
		char **np = realloc(f->path, ncap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		f->path = np;
		unsigned char *ns = realloc(f->sha, ncap * STORE_SHA_LEN);
		if (!ns)
			return -ENOMEM;
		f->sha = ns;
		f->cap = ncap;
	}
	if (!(f->path[f->n] = strdup(path)))
		return -ENOMEM;
	memcpy(f->sha + f->n * STORE_SHA_LEN, sha, STORE_SHA_LEN);
	f->n++;
	return 0;
}

static void put_groups(struct tbuf *b, const struct core_dups *g,
		       char *const *paths)
{
	for (size_t k = 0; k < g->ngroups; k++) {
		if (k)
			tbuf_put(b, "\n", 1);
		for (size_t m = g->start[k]; m < g->start[k + 1]; m++)
			tbuf_put_path_line(b, paths[g->member[m]]);
	}
}

static size_t members(const struct core_dups *g)
{
	return g->ngroups ? g->start[g->ngroups] : 0;
}

int core_dups_text(store *st, int64_t ds, char **out, size_t *len)
{
	struct store_dataset d;
	struct files f = { 0 };
	struct core_dups ex = { 0 }, near = { 0 };
	struct store_matrix m;
	struct setting s;
	struct tbuf b;
	int have = 0, rc;

	memset(&m, 0, sizeof(m));
	rc = store_dataset_get_id(st, ds, &d);
	if (!rc)
		rc = store_tree_files_each(st, d.live_tree, add_file, &f);
	if (!rc)
		rc = core_dups_exact(f.sha, STORE_SHA_LEN, f.n, &ex);
	if (!rc && (have = get_setting(st, ds, &s)) < 0) {
		rc = have;
		have = 0;
	}
	if (!rc && have) {
		struct store_embedding e;
		rc = store_embedding_get(st, ds, s.emb, &e);
		if (!rc)
			rc = store_matrix_load(st, e.id, d.live_tree, &m);
		if (!rc)
			rc = core_dups_near(m.x, m.n, m.dim, s.max_distance,
					    &near);
		if (rc == -ENOENT) {   /* deleted since: say so, no group */
			have = -1;
			rc = 0;
		}
	}
	tbuf_init(&b, DUPS_TEXT_MAX);
	if (!rc) {
		tbuf_printf(&b, "# exact duplicates (the same content) in"
			    " initial-tag: %zu group%s, %zu files\n",
			    ex.ngroups, ex.ngroups == 1 ? "" : "s",
			    members(&ex));
		put_groups(&b, &ex, f.path);
		if (have == 1) {
			tbuf_printf(&b, "%s# near duplicates (embedding '%s',"
				    " distance <= %g): %zu group%s, %zu"
				    " files\n", ex.ngroups ? "\n" : "", s.emb,
				    s.max_distance, near.ngroups,
				    near.ngroups == 1 ? "" : "s",
				    members(&near));
			put_groups(&b, &near, m.paths);
		} else {
			tbuf_printf(&b, "%s# near duplicates: %s; echo"
				    " 'max_distance=0.05 embedding=NAME' >"
				    " duplicates\n", ex.ngroups ? "\n" : "",
				    have < 0 ? "the embedding set was deleted"
				    : "not asked");
		}
	}
	for (size_t i = 0; i < f.n; i++)
		free(f.path[i]);
	free(f.path);
	free(f.sha);
	core_dups_free(&ex);
	core_dups_free(&near);
	if (m.x || m.paths)
		store_matrix_free(&m);
	if (rc) {
		tbuf_free(&b);
		return rc;
	}
	return tbuf_finish(&b, out, len);
}
