/*
 * text.h — a growable text buffer with a size cap (every buffer fed by data
 * that can grow without bound has one), time formatting for the text of
 * control files, and how a path is written as one line of the `selection`
 * file. Not thread-safe per buffer; buffers are per call.
 */
#ifndef SIEVEFS_CORE_TEXT_H
#define SIEVEFS_CORE_TEXT_H

#include <stddef.h>
#include <stdint.h>

struct tbuf {
	char *p;
	size_t len, cap, max;
	int err;           /* first error: -ENOMEM or -EFBIG (cap reached) */
};

void tbuf_init(struct tbuf *b, size_t max);
void tbuf_put(struct tbuf *b, const char *s, size_t n);
__attribute__((format(printf, 2, 3)))
void tbuf_printf(struct tbuf *b, const char *fmt, ...);
/* Hands the text to the caller (*out, free()) or returns the first error
 * (and frees the buffer). */
int tbuf_finish(struct tbuf *b, char **out, size_t *len);
void tbuf_free(struct tbuf *b);

/* Selection lines. A path is written as it is — so `wc -l` counts paths
 * and grep works — unless it would not read back as itself: when it holds a
 * control character (a byte below 0x20, such as newline, CR or tab, or 0x7f),
 * starts with '"', '#', a space, "union:", "intersection:" or "difference:"
 * (tag algebra's words, core/tagalg.h), or ends with a space, it is written as a
 * C-style quoted string, as git quotes unusual paths: between double quotes,
 * '"' and '\' escaped with a backslash, \a \b \t \n \v \f \r named, any
 * other control byte as three octal digits (\ooo); other bytes (UTF-8)
 * unchanged. A reader takes a line that starts with '"' as quoted, any other
 * line as the path itself (a backslash there is a plain character). */

/* 1 if path must be quoted on a selection line. */
int core_path_needs_quote(const char *path);
/* Appends path as one selection line, with its "\n". */
void tbuf_put_path_line(struct tbuf *b, const char *path);
/* Appends s as one CSV field as Python's csv module writes it (minimal
 * quoting: quoted, quotes doubled, only when it holds ',', '"', CR or LF). */
void tbuf_put_csv_field(struct tbuf *b, const char *s);
/* Decodes a quoted line (line[0] == '"', *len bytes, no line end) in place
 * and NUL-terminates it; *len becomes the path's length. -EINVAL, line
 * unchanged, when it is not a well-formed quoted string (no closing quote
 * at the end, an unknown escape, an escaped NUL), or -ENOMEM. */
int core_path_unquote(char *line, size_t *len);
/* Splits off the next blank-separated (space, tab, CR, LF) token of *s in
 * place, NUL-terminating it and advancing *s past it; NULL at the end. */
char *core_next_token(char **s);

/* "s" unless n is 1 (or -1): "%lld sample%s", n, core_s(n). Static text. */
static inline const char *core_s(long long n)
{
	return n == 1 || n == -1 ? "" : "s";
}

/* ISO 8601 UTC, e.g. 2026-11-24T02:00:00Z (buf of 32 bytes). */
void core_fmt_time(int64_t ns, char buf[32]);

#endif
