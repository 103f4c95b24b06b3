/*
 * text.c — see text.h. Growth doubles up to the cap; past the cap the buffer
 * stops growing and remembers -EFBIG so the caller fails cleanly instead of
 * returning a truncated text as if it were whole.
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

void core_fmt_time(int64_t ns, char buf[32])
{
	time_t t = (time_t)(ns / 1000000000);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}
