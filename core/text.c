/*
 * text.c — see text.h. Growth doubles up to the cap; past the cap the buffer
 * stops growing and remembers -EFBIG so the caller fails cleanly instead of
 * returning a truncated text as if it were whole.
 *
 * Selection lines: the quoting of text.h is the one place that decides how
 * a path is written; core/names.c (core_sel_parse) reads it back with
 * core_path_unquote, so whatever `selection` shows can be written back.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/text.h"

void tbuf_init(struct tbuf *b, size_t max)
{
	memset(b, 0, sizeof(*b));
	b->max = max;
}

static int tbuf_grow(struct tbuf *b, size_t need)
{
	size_t ncap = b->cap ? b->cap : 4096;
	char *np;

	if (b->err)
		return b->err;
	if (need > b->max) {
		b->err = -EFBIG;
		return b->err;
	}
	while (ncap < need)
		ncap *= 2;
	if (ncap > b->max)
		ncap = b->max;
	np = realloc(b->p, ncap);
	if (!np) {
		b->err = -ENOMEM;
		return b->err;
	}
	b->p = np;
	b->cap = ncap;
	return 0;
}

void tbuf_put(struct tbuf *b, const char *s, size_t n)
{
	if (b->err || (b->len + n + 1 > b->cap && tbuf_grow(b, b->len + n + 1)))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void tbuf_printf(struct tbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	for (int pass = 0; pass < 2; pass++) {
		size_t room = b->cap - b->len;
		va_start(ap, fmt);
		n = vsnprintf(b->cap ? b->p + b->len : NULL, b->cap ? room : 0,
			      fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = -EINVAL;
			return;
		}
		if ((size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		if (tbuf_grow(b, b->len + (size_t)n + 1))
			return;
	}
}

int tbuf_finish(struct tbuf *b, char **out, size_t *len)
{
	if (b->err) {
		int rc = b->err;
		tbuf_free(b);
		return rc;
	}
	if (!b->p && tbuf_grow(b, 1))
		return b->err;
	if (b->len == 0)
		b->p[0] = '\0';
	*out = b->p;
	*len = b->len;
	b->p = NULL;
	return 0;
}

void tbuf_free(struct tbuf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

static int is_ctl(unsigned char c)
{
	return c < 0x20 || c == 0x7f;
}

int core_path_needs_quote(const char *path)
{
	size_t n = strlen(path);

	if (n == 0 || path[0] == '"' || path[0] == '#' || path[0] == ' ' ||
	    path[n - 1] == ' ')
		return 1;
	for (size_t i = 0; i < n; i++)
		if (is_ctl((unsigned char)path[i]))
			return 1;
	/* a first line so written is a tag algebra form (core/tagalg.h) */
	return !strncmp(path, "union:", 6) ||
	       !strncmp(path, "intersection:", 13) ||
	       !strncmp(path, "difference:", 11);
}

/* The escape letter of a named control byte, or 0. */
static char named_escape(unsigned char c)
{
	static const char from[] = "\a\b\t\n\v\f\r";
	static const char to[] = "abtnvfr";
	const char *p = c ? memchr(from, c, sizeof(from) - 1) : NULL;

	return p ? to[p - from] : 0;
}

void tbuf_put_csv_field(struct tbuf *b, const char *s)
{
	if (!strpbrk(s, ",\"\r\n")) {
		tbuf_put(b, s, strlen(s));
		return;
	}
	tbuf_put(b, "\"", 1);
	for (const char *q; (q = strchr(s, '"')); s = q + 1) {
		tbuf_put(b, s, (size_t)(q - s) + 1);
		tbuf_put(b, "\"", 1);
	}
	tbuf_put(b, s, strlen(s));
	tbuf_put(b, "\"", 1);
}

void tbuf_put_path_line(struct tbuf *b, const char *path)
{
	char esc[5];

	if (!core_path_needs_quote(path)) {
		tbuf_put(b, path, strlen(path));
		tbuf_put(b, "\n", 1);
		return;
	}
	tbuf_put(b, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)path; *p; p++) {
		char letter = named_escape(*p);
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			tbuf_put(b, esc, 2);
		} else if (letter) {
			esc[0] = '\\';
			esc[1] = letter;
			tbuf_put(b, esc, 2);
		} else if (is_ctl(*p)) {
			esc[0] = '\\';
			esc[1] = (char)('0' + (*p >> 6));
			esc[2] = (char)('0' + ((*p >> 3) & 7));
			esc[3] = (char)('0' + (*p & 7));
			tbuf_put(b, esc, 4);
		} else {
			tbuf_put(b, (const char *)p, 1);
		}
	}
	tbuf_put(b, "\"\n", 2);
}

int core_path_unquote(char *line, size_t *len)
{
	static const char letters[] = "abtnvfr";
	static const char bytes[] = "\a\b\t\n\v\f\r";
	size_t n = *len, o = 0;
	char *out;

	if (n < 2 || line[0] != '"' || line[n - 1] != '"')
		return -EINVAL;
	/* Decode into a copy first: the line stays as it was on failure. */
	out = malloc(n);
	if (!out)
		return -ENOMEM;
	for (size_t i = 1; i < n - 1; i++) {
		unsigned char c = (unsigned char)line[i];
		const char *l;
		if (c == '"')
			goto bad;          /* an unescaped quote inside */
		if (c != '\\') {
			out[o++] = (char)c;
			continue;
		}
		if (++i >= n - 1)
			goto bad;
		c = (unsigned char)line[i];
		if (c == '"' || c == '\\') {
			out[o++] = (char)c;
		} else if (c >= '0' && c <= '7') {
			unsigned v = 0;
			for (int k = 0; k < 3; k++, i++) {
				if (i >= n - 1 || line[i] < '0' || line[i] > '7')
					goto bad;
				v = v * 8 + (unsigned)(line[i] - '0');
			}
			i--;
			if (v == 0 || v > 0xff)
				goto bad;
			out[o++] = (char)v;
		} else if (c && (l = strchr(letters, (char)c))) {
			out[o++] = bytes[l - letters];
		} else {
			goto bad;
		}
	}
	memcpy(line, out, o);
	line[o] = '\0';
	*len = o;
	free(out);
	return 0;
bad:
	free(out);
	return -EINVAL;
}

void core_fmt_time(int64_t ns, char buf[32])
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *core_next_token(char **s)
{
	char *p = *s, *tok;

	while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
		p++;
	if (!*p)
		return NULL;
	tok = p;
	while (*p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n')
		p++;
	if (*p)
		*p++ = '\0';
	*s = p;
	return tok;
}
