/*
 * thumbs.c — see thumbs.h. Server-made thumbnails and the pure pieces of
 * the media routes.
 *
 * A thumbnail is a function of the bytes it is made from, so it is cached
 * under their hash (store/thumbs.c: one file per (sha, side), no catalog
 * row) and shared by every user who may read those bytes; the route
 * checks that right before it asks here. The cache holds the outcome for
 * bytes that are no image too ("!" + the reason), so a text file is
 * decoded once, not at every request for it.
 *
 * Cold path: the blob is mmap'd (never copied; blobs are immutable, and an
 * unlink while mapped leaves the mapping valid), decoded by emb_decode
 * with min_side = side, so a JPEG decodes at the smallest DCT scale M/8
 * whose shorter side is still >= side, then area-averaged down and
 * encoded at quality 85 (emb_thumb_jpeg). The bytes made are answered from
 * memory; the next request opens the cache file.
 *
 * Memory. emb_decode refuses images of more than EMB_MAX_PIXELS pixels or
 * a side over EMB_MAX_SIDE before it allocates pixels, but PNG and BMP
 * always decode at full size, up to 4 bytes per pixel (RGBA before it is
 * packed): 400 MB for a 100-Mpixel PNG a few KB long; and libjpeg keeps
 * every DCT coefficient of a progressive JPEG (2 bytes per pixel and
 * component) whatever the scale it outputs. So the server reads those
 * headers first and does not thumbnail an image that would take more than
 * CORE_THUMB_MAX_BYTES (a baseline JPEG decodes at 1/8 scale a few rows
 * at a time, and WebP scales inside its decoder: EMB_MAX_PIXELS is their
 * limit); at most
 * CORE_THUMB_DECODERS decodes run at once (`gate`: the others wait on its
 * condition); blobs over CORE_THUMB_SRC_MAX bytes are not thumbnailed.
 *
 * Threads: the gate's mutex protects `busy`; nothing else is shared.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/blobs.h"
#include "core/thumbs.h"
#include "embed/thumb.h"

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static int busy;                  /* decodes running, under gate_lock */

static void gate_enter(void)
{
	pthread_mutex_lock(&gate_lock);
	while (busy >= CORE_THUMB_DECODERS)
		pthread_cond_wait(&gate_cond, &gate_lock);
	busy++;
	pthread_mutex_unlock(&gate_lock);
}

static void gate_leave(void)
{
	pthread_mutex_lock(&gate_lock);
	busy--;
	pthread_cond_signal(&gate_cond);
	pthread_mutex_unlock(&gate_lock);
}

int core_thumb_record_parse(const unsigned char *head, size_t len, char *why,
			    size_t whylen)
{
	size_t n;

	if (len == 0 || head[0] != CORE_THUMB_NOT_IMAGE)
		return 0;
	n = len - 1 < whylen - 1 ? len - 1 : whylen - 1;
	memcpy(why, head + 1, n);
	why[n] = '\0';
	why[strcspn(why, "\r\n")] = '\0';
	return 1;
}

/* Fills out from an open cache file: 0, -EAGAIN when the file is not one
 * we write (make it again), or -errno (fd closed then). */
static int from_cache(int fd, struct core_thumb *out)
{
	unsigned char head[CORE_THUMB_WHY];
	struct stat sb;
	ssize_t got = pread(fd, head, sizeof(head), 0);

	if (got < 0 || fstat(fd, &sb)) {
		int rc = -errno;
		close(fd);
		return rc;
	}
	out->how = CORE_THUMB_CACHED;
	if (core_thumb_record_parse(head, (size_t)got, out->why,
				    sizeof(out->why))) {
		close(fd);
		out->not_image = 1;
		return 0;
	}
	if (got < 3 || head[0] != 0xff) {
		/* not what we write (a file cut short by a power loss after
		 * its rename, say): made again, and renamed over it */
		close(fd);
		return -EAGAIN;
	}
	out->fd = fd;
	out->size = sb.st_size;
	return 0;
}

static uint32_t be32(const unsigned char *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static int32_t le32(const unsigned char *p)
{
	return (int32_t)((uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 |
			 (uint32_t)p[1] << 8 | p[0]);
}

/* A JPEG's frame header (SOFn): 1 with w, h, components and whether it is
 * progressive (or otherwise multi-scan: libjpeg then keeps every DCT
 * coefficient of the whole image, 2 bytes each, whatever the scale). */
static int jpeg_frame(const unsigned char *b, size_t len, long long *w,
		      long long *h, int *nc, int *multi)
{
	size_t i = 2;

	while (i + 4 <= len) {
		unsigned m, seg;

		if (b[i] != 0xff)
			return 0;
		while (i < len && b[i] == 0xff)
			i++;
		if (i >= len)
			return 0;
		m = b[i++];
		if (m == 0xd8 || m == 0x01 || (m >= 0xd0 && m <= 0xd7))
			continue;             /* no length */
		if (m == 0xda || m == 0xd9 || i + 2 > len)
			return 0;             /* scan data before a frame */
		seg = (unsigned)b[i] << 8 | b[i + 1];
		if (m >= 0xc0 && m <= 0xcf && m != 0xc4 && m != 0xc8 &&
		    m != 0xcc) {
			if (seg < 8 || i + 8 > len)
				return 0;
			*h = (long long)b[i + 3] << 8 | b[i + 4];
			*w = (long long)b[i + 5] << 8 | b[i + 6];
			*nc = b[i + 7];
			*multi = m != 0xc0 && m != 0xc1 && m != 0xc3 &&
				 m != 0xc5 && m != 0xc7 && m != 0xcb &&
				 m != 0xcd && m != 0xcf;
			return 1;
		}
		i += seg;
	}
	return 0;
}

int core_thumb_too_big(const unsigned char *buf, size_t len, char *why,
		       size_t whylen)
{
	long long w = 0, h = 0;
	unsigned long long per = 0;   /* bytes a pixel while decoding */
	const char *fmt = NULL;
	int nc = 0, multi = 0;

	if (len >= 24 && !memcmp(buf, "\x89PNG\r\n\x1a\n", 8) &&
	    !memcmp(buf + 12, "IHDR", 4)) {
		fmt = "png";
		w = be32(buf + 16);
		h = be32(buf + 20);
		per = 4;                  /* RGBA at full size */
	} else if (len >= 26 && buf[0] == 'B' && buf[1] == 'M') {
		fmt = "bmp";
		w = llabs((long long)le32(buf + 18));
		h = llabs((long long)le32(buf + 22));
		per = 4;
	} else if (len >= 4 && buf[0] == 0xff && buf[1] == 0xd8 &&
		   jpeg_frame(buf, len, &w, &h, &nc, &multi) && multi) {
		fmt = "jpeg (progressive)";
		per = 2ull * (unsigned)(nc > 0 ? nc : 1);   /* coefficients */
	}
	/* w, h < 2^32: w*h fits in 64 bits; the limit is divided, not the
	 * product multiplied */
	if (!fmt || (unsigned long long)w * (unsigned long long)h <=
		    CORE_THUMB_MAX_BYTES / per)
		return 0;
	snprintf(why, whylen, "%s: %lldx%lld is too large to thumbnail (it"
		 " would take over %lld MB to decode)", fmt, w, h,
		 (long long)(CORE_THUMB_MAX_BYTES / 1000000));
	return 1;
}

/* Decodes and encodes the blob in bfd (size bytes): 0 with *jpg, or
 * -EINVAL/-EFBIG with why (not an image), or -errno. */
static int make(int bfd, int64_t size, int side, unsigned char **jpg,
		size_t *jlen, char *why, size_t whylen)
{
	void *map;
	int rc;

	if (size == 0) {
		snprintf(why, whylen, "not an image (empty file)");
		return -EINVAL;
	}
	if (size > CORE_THUMB_SRC_MAX) {
		snprintf(why, whylen, "too large to thumbnail (%lld bytes; at"
			 " most %lld)", (long long)size, CORE_THUMB_SRC_MAX);
		return -EFBIG;
	}
	map = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, bfd, 0);
	if (map == MAP_FAILED)
		return -errno;
	if (core_thumb_too_big(map, (size_t)size, why, whylen)) {
		munmap(map, (size_t)size);
		return -EFBIG;
	}
	gate_enter();
	rc = emb_thumb_jpeg(map, (size_t)size, side, jpg, jlen, why, whylen);
	gate_leave();
	munmap(map, (size_t)size);
	return rc;
}

int core_thumb_get(struct core_blobs *b, const unsigned char src[STORE_SHA_LEN],
		   int side, struct core_thumb *out)
{
	char rec[CORE_THUMB_WHY + 1];
	unsigned char *jpg = NULL;
	size_t jlen = 0;
	struct stat sb;
	int fd, rc;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	fd = core_thumbcache_open(b, src, side);
	if (fd >= 0) {
		rc = from_cache(fd, out);
		if (rc != -EAGAIN)
			return rc;
		memset(out, 0, sizeof(*out));
		out->fd = -1;
	} else if (fd != -ENOENT) {
		return fd;
	}
	fd = core_blob_open(b, src);
	if (fd < 0)
		return fd;
	rc = fstat(fd, &sb) ? -errno :
	     make(fd, sb.st_size, side, &jpg, &jlen, out->why,
		  sizeof(out->why));
	close(fd);
	out->how = CORE_THUMB_MADE;
	if (rc == -EINVAL || rc == -EFBIG) {    /* a property of the bytes */
		int n = snprintf(rec, sizeof(rec), "%c%s", CORE_THUMB_NOT_IMAGE,
				 out->why);
		core_thumbcache_put(b, src, side, rec, (size_t)n);
		out->not_image = 1;
		return 0;
	}
	if (rc)
		return rc;
	/* not cached (disk full, blob collected meanwhile): still answered */
	core_thumbcache_put(b, src, side, jpg, jlen);
	out->buf = jpg;
	out->size = (int64_t)jlen;
	return 0;
}

void core_thumb_release(struct core_thumb *out)
{
	if (!out)
		return;
	if (out->fd >= 0)
		close(out->fd);
	out->fd = -1;
	free(out->buf);
	out->buf = NULL;
}

/* ---- the placeholder ---- */

struct sbuf {
	char *p;
	size_t len, cap;
	int oom;
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	if (b->oom)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = (b->len + n + 1) * 2;
		char *p = realloc(b->p, cap);
		if (!p) {
			b->oom = 1;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct sbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

/* s[0..n) XML-escaped, control bytes dropped. */
static void put_text(struct sbuf *b, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		switch (ch) {
		case '&': puts_(b, "&amp;"); break;
		case '<': puts_(b, "&lt;"); break;
		case '>': puts_(b, "&gt;"); break;
		case '"': puts_(b, "&quot;"); break;
		case '\'': puts_(b, "&apos;"); break;
		default:
			if (ch >= 0x20 && ch != 0x7f)
				put(b, s + i, 1);
		}
	}
}

#define SVG_LINE 22        /* bytes per line of text, about */
#define SVG_LINES 7
#define SVG_TEXT_MAX 200

/* Splits text[0..n) into at most SVG_LINES lines of about SVG_LINE
 * bytes, broken at spaces: starts and lengths into at/ln; the count. */
static int wrap(const char *text, size_t n, size_t *at, size_t *ln)
{
	size_t i = 0;
	int nl = 0;

	while (nl < SVG_LINES) {
		size_t take, cut;

		while (i < n && text[i] == ' ')
			i++;
		if (i >= n)
			break;
		take = n - i;
		if (take > SVG_LINE) {
			cut = SVG_LINE;
			while (cut > 0 && text[i + cut] != ' ')
				cut--;
			take = cut ? cut : SVG_LINE;
		}
		at[nl] = i;
		ln[nl++] = take;
		i += take;
	}
	return nl;
}

char *core_thumb_svg(const char *text, size_t *len)
{
	struct sbuf b = { 0 };
	size_t n = strnlen(text, SVG_TEXT_MAX), at[SVG_LINES], ln[SVG_LINES];
	int nl = wrap(text, n, at, ln);
	char line[96];

	puts_(&b, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"128\""
	      " height=\"128\" viewBox=\"0 0 128 128\" role=\"img\">"
	      "<title>");
	put_text(&b, text, n);
	/* the block of lines centred: 12 px apart, baselines +3 */
	snprintf(line, sizeof(line), "</title><rect width=\"128\""
		 " height=\"128\" fill=\"#eeeeee\"/><text x=\"64\" y=\"%d\"",
		 64 - (nl > 0 ? nl - 1 : 0) * 6 + 3);
	puts_(&b, line);
	puts_(&b, " font-family=\"sans-serif\" font-size=\"10\""
	      " text-anchor=\"middle\" fill=\"#555555\">");
	for (int i = 0; i < nl; i++) {
		snprintf(line, sizeof(line), "<tspan x=\"64\" dy=\"%s\">",
			 i ? "12" : "0");
		puts_(&b, line);
		put_text(&b, text + at[i], ln[i]);
		puts_(&b, "</tspan>");
	}
	puts_(&b, "</text></svg>\n");
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.len;
	return b.p;
}

/* ---- types and names ---- */

const char *core_image_type(const unsigned char *h, size_t len)
{
	if (len >= 3 && h[0] == 0xff && h[1] == 0xd8 && h[2] == 0xff)
		return "image/jpeg";
	if (len >= 8 && !memcmp(h, "\x89PNG\r\n\x1a\n", 8))
		return "image/png";
	if (len >= 12 && !memcmp(h, "RIFF", 4) && !memcmp(h + 8, "WEBP", 4))
		return "image/webp";
	if (len >= 6 && (!memcmp(h, "GIF87a", 6) || !memcmp(h, "GIF89a", 6)))
		return "image/gif";
	if (len >= 14 && h[0] == 'B' && h[1] == 'M')
		return "image/bmp";
	return "application/octet-stream";
}

static int attr_char(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
	       (ch >= '0' && ch <= '9') || strchr("!#$&+-.^_`|~", ch);
}

int core_disposition(const char *name, char *buf, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;
	int plain = 1;

#define OUT(ch) do { if (o + 1 >= len) return -ENAMETOOLONG; \
		     buf[o++] = (char)(ch); } while (0)
	for (const char *p = "inline; filename=\""; *p; p++)
		OUT(*p);
	for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
		int ok = *p >= 0x20 && *p < 0x7f && *p != '"' && *p != '\\';
		if (*p >= 0x80 || *p < 0x20 || *p == 0x7f)
			plain = 0;
		OUT(ok ? *p : '_');
	}
	OUT('"');
	if (!plain) {
		for (const char *p = "; filename*=UTF-8''"; *p; p++)
			OUT(*p);
		for (const unsigned char *p = (const unsigned char *)name; *p;
		     p++) {
			if (attr_char(*p) && *p) {
				OUT(*p);
			} else {
				OUT('%');
				OUT(hex[*p >> 4]);
				OUT(hex[*p & 15]);
			}
		}
	}
#undef OUT
	buf[o] = '\0';
	return 0;
}
