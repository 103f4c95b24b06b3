/*
 * tagalg_run.c — tag algebra over the catalog (core/tagalg.h,
 * core_tagalg_run): reads each operand's files with their nodes
 * (store/selalg.c), computes the result with core_tagalg_apply, and
 * writes it as the selection in one transaction. Paths are copied into
 * one arena per operand; the result points into them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/tagalg.h"
#include "store/store.h"

struct operand {
	struct core_tagfile *f;
	size_t n, cap;
	char **paths;                  /* owned copies, one per file */
};

static int add_file(void *arg, int64_t node, const char *path)
{
	struct operand *o = arg;

	if (o->n == o->cap) {
		size_t ncap = o->cap ? 2 * o->cap : 256;
		struct core_tagfile *nf = realloc(o->f, ncap * sizeof(*nf));
		char **np;
		if (!nf)
			return -ENOMEM;
		o->f = nf;
		np = realloc(o->paths, ncap * sizeof(*np));
		if (!np)
			return -ENOMEM;
		o->paths = np;
		o->cap = ncap;
	}
	if (!(o->paths[o->n] = strdup(path)))
		return -ENOMEM;
	o->f[o->n].path = o->paths[o->n];
	o->f[o->n].node = node;
	o->n++;
	return 0;
}

static void operand_free(struct operand *o)
{
	for (size_t i = 0; i < o->n; i++)
		free(o->paths[i]);
	free(o->paths);
	free(o->f);
}

int core_tagalg_run(store *st, int64_t ds, const struct core_tagalg *a,
		    int check, int64_t *count, int64_t *src, char *srcname,
		    char *why, size_t whylen)
{
	struct operand ops[CORE_TAGALG_MAX];
	const struct core_tagfile *sets[CORE_TAGALG_MAX];
	size_t ns[CORE_TAGALG_MAX], total = 0, nout = 0;
	struct core_tagfile *out = NULL;
	int64_t *nodes = NULL, first = 0;
	struct store_dataset d;
	int rc;

	memset(ops, 0, sizeof(ops));
	*count = 0;
	rc = store_dataset_get_id(st, ds, &d);
	if (rc)
		return rc;
	for (size_t i = 0; i < a->n && !rc; i++) {
		struct store_tag t;
		int64_t tree;

		if (!strcmp(a->names[i], CORE_TAGALG_SELECTION)) {
			tree = d.sel_tree;
			rc = store_tag_get_id(st, tree, &t);
			if (!rc && i == 0) {
				first = t.id;
				snprintf(srcname, 129, "%s", t.name);
			}
			if (!rc && !check)
				rc = store_selection_files_each(st, ds,
								add_file,
								&ops[i]);
		} else {
			rc = store_tag_get(st, ds, a->names[i], &t);
			if (rc == -ENOENT) {
				snprintf(why, whylen, "%s: no tag named '%s'",
					 core_tagop_name(a->op), a->names[i]);
				rc = -EINVAL;
				break;
			}
			if (!rc && i == 0) {
				first = t.id;
				snprintf(srcname, 129, "%s", t.name);
			}
			if (!rc && !check)
				rc = store_tree_nodes_each(st, t.id, add_file,
							   &ops[i]);
		}
		sets[i] = ops[i].f;
		ns[i] = ops[i].n;
		total += ops[i].n;
	}
	if (!rc && !check) {
		out = malloc((total ? total : 1) * sizeof(*out));
		nodes = malloc((total ? total : 1) * sizeof(*nodes));
		if (!out || !nodes)
			rc = -ENOMEM;
	}
	if (!rc && !check)
		rc = core_tagalg_apply(a->op, sets, ns, a->n, out, &nout);
	for (size_t i = 0; !rc && !check && i < nout; i++)
		nodes[i] = out[i].node;
	if (!rc && !check)
		rc = store_selection_set_nodes(st, ds, first, nodes, nout);
	if (!rc) {
		*count = (int64_t)nout;
		*src = first;
	}
	free(out);
	free(nodes);
	for (size_t i = 0; i < a->n; i++)
		operand_free(&ops[i]);
	return rc;
}
