/*
 * text.h — a growable text buffer with a size cap (every buffer fed by data
 * that can grow without bound has one), and time formatting for the text of
 * control files. Not thread-safe per buffer; buffers are per call.
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

/* "s" unless n is 1 (or -1): "%lld sample%s", n, core_s(n). Static text. */
static inline const char *core_s(long long n)
{
	return n == 1 || n == -1 ? "" : "s";
}

/* ISO 8601 UTC, e.g. 2026-11-24T02:00:00Z (buf of 32 bytes). */
void core_fmt_time(int64_t ns, char buf[32]);

#endif
