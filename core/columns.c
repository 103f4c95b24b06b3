/*
 * columns.c — PLACEHOLDER of i21a's module (core/columns.h): knows no
 * input yet, so every column is refused and the list is empty. The merge
 * takes i21a's file instead of this one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/columns.h"

int core_column_load(store *st, int64_t ds, const char *spec,
                     const int64_t *ids, size_t n, struct sv_column *out,
                     char *why, size_t whylen)
{
	const char *dot = strchr(spec, '.');
	int len = dot ? (int)(dot - spec) : (int)strlen(spec);

	(void)st;
	(void)ds;
	(void)ids;
	(void)n;
	memset(out, 0, sizeof(*out));
	snprintf(why, whylen, "no input named '%.*s' (this dataset has no"
		 " predictions or metadata)", len, spec);
	return -EINVAL;
}

void sv_column_free(struct sv_column *c)
{
	if (!c)
		return;
	free(c->v);
	free(c->cat);
	for (size_t i = 0; i < c->ncat; i++)
		free(c->names[i]);
	free(c->names);
	memset(c, 0, sizeof(*c));
}

int core_column_list(store *st, int64_t ds, char ***names, size_t *n)
{
	(void)st;
	(void)ds;
	*names = NULL;
	*n = 0;
	return 0;
}
