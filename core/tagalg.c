/*
 * tagalg.c — tag algebra over lists of paths (core/tagalg.h): sorted
 * copies of the later operands are searched with bsearch, so an
 * operation over n files costs O(n log n), whatever the order of the
 * first operand (which the result keeps).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/names.h"
#include "core/tagalg.h"

static const struct {
	enum core_tagop op;
	const char *word, *lightly;
} ops[] = {
	{ CORE_TAG_UNION, "union", "UNION" },
	{ CORE_TAG_INTERSECTION, "intersection", "INTERSECTION" },
	{ CORE_TAG_DIFFERENCE, "difference", "DIFFERENCE" },
};

const char *core_tagop_name(enum core_tagop op)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].op == op)
			return ops[i].word;
	return NULL;
}

enum core_tagop core_tagop_parse_word(const char *w)
{
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (!strcmp(w, ops[i].word) || !strcmp(w, ops[i].lightly))
			return ops[i].op;
	return 0;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r';
}

int core_tagalg_parse(const char *text, size_t len, struct core_tagalg *out,
		      char *msg, size_t msglen)
{
	size_t pos = 0, l, i;
	const char *line, *p, *end;
	enum core_tagop op = 0;

	memset(out, 0, sizeof(*out));
	while (pos < len && (text[pos] == '\n' || is_space(text[pos])))
		pos++;
	line = text + pos;
	p = memchr(line, '\n', len - pos);
	l = p ? (size_t)(p - line) : len - pos;
	for (i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t w = strlen(ops[i].word);
		if (l > w && !strncmp(line, ops[i].word, w) && line[w] == ':') {
			op = ops[i].op;
			p = line + w + 1;
			break;
		}
	}
	if (!op)
		return 0;
	if (memchr(text, '\0', len)) {
		snprintf(msg, msglen, "the text contains a NUL byte");
		return -EINVAL;
	}
	out->op = op;
	end = line + l;
	for (const char *q = end; q < text + len; q++)
		if (*q != '\n' && !is_space(*q)) {
			snprintf(msg, msglen, "%s: one line only: the form is"
				 " '%s: TAG TAG...' (a path so named is"
				 " written quoted)", core_tagop_name(op),
				 core_tagop_name(op));
			return -EINVAL;
		}
	while (p < end) {
		const char *w;
		size_t wl;

		while (p < end && is_space(*p))
			p++;
		if (p == end)
			break;
		w = p;
		while (p < end && !is_space(*p))
			p++;
		wl = (size_t)(p - w);
		if (out->n == CORE_TAGALG_MAX) {
			snprintf(msg, msglen, "%s: more than %d operands",
				 core_tagop_name(op), CORE_TAGALG_MAX);
			return -EINVAL;
		}
		if (wl >= sizeof(out->names[0])) {
			snprintf(msg, msglen, "%s: '%.40s...' is not a valid"
				 " tag name", core_tagop_name(op), w);
			return -EINVAL;
		}
		memcpy(out->names[out->n], w, wl);
		out->names[out->n][wl] = '\0';
		if (!core_name_valid(out->names[out->n])) {
			snprintf(msg, msglen, "%s: '%s' is not a valid tag"
				 " name", core_tagop_name(op),
				 out->names[out->n]);
			return -EINVAL;
		}
		out->n++;
	}
	if (out->n < 2) {
		snprintf(msg, msglen, "%s: needs two operands or more: '%s:"
			 " TAG TAG...' (a tag name or 'selection')",
			 core_tagop_name(op), core_tagop_name(op));
		return -EINVAL;
	}
	return 1;
}

static int by_path(const void *a, const void *b)
{
	return strcmp(((const struct core_tagfile *)a)->path,
		      ((const struct core_tagfile *)b)->path);
}

/* A sorted copy of a set (NULL with n 0 is fine). */
static struct core_tagfile *sorted(const struct core_tagfile *s, size_t n)
{
	struct core_tagfile *c = malloc((n ? n : 1) * sizeof(*c));

	if (c && n) {
		memcpy(c, s, n * sizeof(*c));
		qsort(c, n, sizeof(*c), by_path);
	}
	return c;
}

static int has(const struct core_tagfile *s, size_t n, const char *path)
{
	struct core_tagfile key = { .path = path };

	return n && bsearch(&key, s, n, sizeof(*s), by_path) != NULL;
}

int core_tagalg_apply(enum core_tagop op, const struct core_tagfile *const *sets,
		      const size_t *ns, size_t nsets, struct core_tagfile *out,
		      size_t *nout)
{
	struct core_tagfile **srt = calloc(nsets ? nsets : 1, sizeof(*srt));
	struct core_tagfile *seen = NULL;
	size_t total = 0, nseen = 0, k = 0;
	int rc = 0;

	*nout = 0;
	if (!srt)
		return -ENOMEM;
	for (size_t s = 0; s < nsets; s++)
		total += ns[s];
	for (size_t s = 0; s < nsets && !rc; s++)
		if (!(srt[s] = sorted(sets[s], ns[s])))
			rc = -ENOMEM;
	/* the result so far, sorted before each later operand of a union,
	 * so a path already in it is not added again */
	seen = rc ? NULL : malloc((total ? total : 1) * sizeof(*seen));
	if (!rc && !seen)
		rc = -ENOMEM;
	for (size_t s = 0; s < nsets && !rc; s++) {
		if (s > 0 && op != CORE_TAG_UNION)
			break;
		/* out's paths so far, sorted, to skip repeats */
		nseen = k;
		memcpy(seen, out, k * sizeof(*seen));
		qsort(seen, nseen, sizeof(*seen), by_path);
		for (size_t i = 0; i < ns[s]; i++) {
			const struct core_tagfile *f = &sets[s][i];
			int keep = 1;

			if (has(seen, nseen, f->path))
				continue;
			for (size_t o = 1; o < nsets && keep && s == 0; o++) {
				int in = has(srt[o], ns[o], f->path);
				if (op == CORE_TAG_INTERSECTION)
					keep = in;
				else if (op == CORE_TAG_DIFFERENCE)
					keep = !in;
			}
			if (!keep)
				continue;
			out[k++] = *f;
		}
	}
	for (size_t s = 0; s < nsets; s++)
		free(srt[s]);
	free(srt);
	free(seen);
	if (!rc)
		*nout = k;
	return rc;
}
