/*
 * names.c — see names.h. The reserved names are the control entries of
 * docs/design.md §1 "Inside a dataset"; a dataset or tag may not take them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/names.h"
#include "core/text.h"
#include "store/store.h"

static const char *const reserved[] = {
	"initial-tag", "sample", "selection", "scores.csv", "embeddings",
	"plot.svg", "info", "log",
	"plot-umap.svg",            /* issue 21, the layout (i21d) */
	"predictions", "metadata",      /* issue 21 (i21a) */
	"duplicates",                       /* issue 21, i21c */
	"exports",                          /* issue 21 item 5 */
};

static int is_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9');
}

int core_name_valid(const char *name)
{
	size_t i;

	if (!name || !is_alnum(name[0]))
		return 0;
	for (i = 0; name[i]; i++) {
		char c = name[i];
		if (i >= CORE_NAME_MAX)
			return 0;
		if (!is_alnum(c) && c != '.' && c != '_' && c != '-')
			return 0;
	}
	return 1;
}

int core_tag_folders_parse(const char *value, int *mode)
{
	if (value && !strcmp(value, "all"))
		*mode = STORE_TAG_FOLDERS_ALL;
	else if (value && !strcmp(value, "selected"))
		*mode = STORE_TAG_FOLDERS_SELECTED;
	else
		return -EINVAL;
	return 0;
}

const char *core_tag_folders_name(int mode)
{
	return mode == STORE_TAG_FOLDERS_SELECTED ? "selected" : "all";
}

int core_name_reserved(const char *name)
{
	for (size_t i = 0; i < sizeof(reserved) / sizeof(reserved[0]); i++)
		if (!strcmp(name, reserved[i]))
			return 1;
	return 0;
}

int core_component_check(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || !strcmp(name, ".") || !strcmp(name, "..") ||
	    strchr(name, '/'))
		return -EINVAL;
	return len > 255 ? -ENAMETOOLONG : 0;
}

void core_sel_free(struct core_sel *sel)
{
	if (!sel)
		return;
	free(sel->paths);
	free(sel->lines);
	free(sel->buf);
	memset(sel, 0, sizeof(*sel));
}

#define SEL_LINE_MAX CORE_SEL_PATH_MAX
#define FROM_PREFIX "# from:"

int core_sel_parse(const char *text, size_t len, struct core_sel *out,
		   char *msg, size_t msglen)
{
	size_t cap = 0, lineno = 0, pos = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (memchr(text, '\0', len)) {
		snprintf(msg, msglen, "the text contains a NUL byte");
		return -EINVAL;
	}
	out->buf = malloc(len + 1);
	if (!out->buf)
		return -ENOMEM;
	memcpy(out->buf, text, len);
	out->buf[len] = '\0';
	while (pos < len && !rc) {
		char *line = out->buf + pos;
		char *nl = memchr(line, '\n', len - pos);
		size_t l = nl ? (size_t)(nl - line) : len - pos;

		pos += l + (nl ? 1 : 0);
		lineno++;
		line[l] = '\0';
		if (l && line[l - 1] == '\r')
			line[--l] = '\0';
		/* A quoted line may spell each byte of a path in 4. */
		if (l > (line[0] == '"' ? 4 * SEL_LINE_MAX + 2 : SEL_LINE_MAX)) {
			snprintf(msg, msglen, "line %zu: longer than %d bytes",
				 lineno, (int)SEL_LINE_MAX);
			rc = -EINVAL;
			break;
		}
		if (l == 0)
			continue;
		/* A quoted path (core/text.h); a line that does not parse as
		 * one is taken as it is, as lists written before quoting. */
		if (line[0] == '"') {
			rc = core_path_unquote(line, &l);
			if (rc == -ENOMEM)
				break;
			rc = 0;
			if (l == 0 || l > SEL_LINE_MAX) {
				snprintf(msg, msglen, l ? "line %zu: the path is"
					 " longer than %u bytes" : "line %zu: an"
					 " empty path", lineno,
					 (unsigned)SEL_LINE_MAX);
				rc = -EINVAL;
				break;
			}
			if (line[0] != '/')
				goto path;
		}
		if (lineno == 1 && !strncmp(line, FROM_PREFIX,
					    strlen(FROM_PREFIX))) {
			char *tag = line + strlen(FROM_PREFIX);
			while (*tag == ' ' || *tag == '\t')
				tag++;
			char *end = tag + strlen(tag);
			while (end > tag && (end[-1] == ' ' || end[-1] == '\t'))
				*--end = '\0';
			if (!core_name_valid(tag)) {
				snprintf(msg, msglen, "line 1: '%s' is not a"
					 " valid tag name", tag);
				rc = -EINVAL;
				break;
			}
			out->from = tag;
			continue;
		}
		while (line[0] == '.' && line[1] == '/')
			line += 2;
		if (line[0] == '\0')
			continue;
		if (line[0] == '/') {
			snprintf(msg, msglen, "line %zu: '%s' is an absolute"
				 " path; list paths relative to the tag",
				 lineno, line);
			rc = -EINVAL;
			break;
		}
path:
		if (out->n == cap) {
			size_t ncap = cap ? cap * 2 : 256;
			char **np = realloc(out->paths, ncap * sizeof(*np));
			size_t *nlines = np ? realloc(out->lines,
						      ncap * sizeof(*nlines)) : NULL;
			if (np)
				out->paths = np;
			if (!np || !nlines) {
				rc = -ENOMEM;
				break;
			}
			out->lines = nlines;
			cap = ncap;
		}
		out->paths[out->n] = line;
		out->lines[out->n] = lineno;
		out->n++;
	}
	return rc;
}
