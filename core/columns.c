/*
 * columns.c — placeholder of i21a's module for the merge (see columns.h):
 * no inputs yet, so every column is refused with the reason and the list
 * is empty. The integrator takes i21a's file.
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
	const char *dot = spec ? strchr(spec, '.') : NULL;
	int len = dot ? (int)(dot - spec) : spec ? (int)strlen(spec) : 0;

	(void)st;
	(void)ds;
	(void)ids;
	(void)n;
	if (out)
		memset(out, 0, sizeof(*out));
	snprintf(why, whylen, "no input named '%.*s' (this dataset has no"
		 " predictions or metadata)", len > 64 ? 64 : len,
		 spec ? spec : "");
	return -EINVAL;
}

void sv_column_free(struct sv_column *c)
{
	if (!c)
		return;
	free(c->v);
	free(c->cat);
	for (size_t i = 0; c->names && i < c->ncat; i++)
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
