/*
 * thumbs.h — server-made thumbnails, cached by content hash (the routes of
 * api/routes_media.c), and the small pieces of the media routes that are
 * pure logic: the placeholder SVG, the image type by magic bytes, the
 * Content-Disposition of a name.
 *
 * Thread-safe: any number of threads may ask for thumbnails at once; at
 * most CORE_THUMB_DECODERS decode at a time (the others wait), which bounds
 * the memory decoding takes (docs/api.md, "Thumbnails and images").
 */
#ifndef SIEVEFS_CORE_THUMBS_H
#define SIEVEFS_CORE_THUMBS_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"

struct core_blobs;             /* core/blobs.h */

#define CORE_THUMB_DECODERS 2          /* decodes at once, process-wide */
#define CORE_THUMB_SRC_MAX (256ll << 20) /* larger blobs: not thumbnailed */
#define CORE_THUMB_WHY 160             /* a reason, bytes with the NUL */
/* PNG and BMP decode at full size (4 bytes a pixel), a progressive JPEG
 * keeps all its coefficients (2 bytes a pixel and component): those that
 * would take more than this (by their header) are not thumbnailed */
#define CORE_THUMB_MAX_BYTES (160ull * 1000 * 1000)

enum core_thumb_how {
	CORE_THUMB_CACHED = 0,   /* opened from the cache: nothing decoded */
	CORE_THUMB_MADE = 1,     /* decoded and encoded by this call */
};

/* What core_thumb_get found. Exactly one of: fd >= 0 (a JPEG of size
 * bytes at offset 0, the caller closes it), buf != NULL (a JPEG of size
 * bytes, the caller free()s it: made, but it could not be cached), or
 * not_image = 1 with the reason in why. */
struct core_thumb {
	int fd;
	unsigned char *buf;
	int64_t size;
	int not_image;
	char why[CORE_THUMB_WHY];
	int how;                 /* enum core_thumb_how */
};

/* The thumbnail (longest side `side`, STORE_THUMB_SIDE) of the bytes of
 * blob src, from the blob store b (core/blobs.h): from the cache when it is there (one open and one pread),
 * else decoded (embed/decode.c, at a reduced JPEG DCT scale), encoded as a
 * JPEG (embed/thumb.c) and cached (core_thumbcache_put) — bytes that are
 * no decodable image are cached as such too. The caller has checked that
 * the user may read src. 0 and *out filled, -ENOENT (no such blob),
 * -ENOMEM, -EIO. Blocks on I/O and, while CORE_THUMB_DECODERS others
 * decode, on them. */
int core_thumb_get(struct core_blobs *b, const unsigned char src[STORE_SHA_LEN],
		   int side, struct core_thumb *out);
/* Closes or frees what out holds; NULL-safe, idempotent. */
void core_thumb_release(struct core_thumb *out);

/* 1 with the reason in why when buf (len bytes of a file) is a PNG, a BMP
 * or a progressive JPEG whose header says decoding would take more than
 * CORE_THUMB_MAX_BYTES, else 0. Reads the headers only. */
int core_thumb_too_big(const unsigned char *buf, size_t len, char *why,
		       size_t whylen);

/* Cached "not an image" records: the first byte of a cache file is
 * CORE_THUMB_NOT_IMAGE, the rest the reason (a JPEG starts with 0xFF).
 * core_thumb_record_parse: 1 and the reason into why when head (the first
 * len bytes of a cache file) is such a record, else 0. */
#define CORE_THUMB_NOT_IMAGE '!'
int core_thumb_record_parse(const unsigned char *head, size_t len, char *why,
			    size_t whylen);

/* The placeholder SVG (128 x 128) showing `text` (XML-escaped here;
 * control bytes dropped, at most 200 bytes shown). A malloc'd string
 * (*len bytes) the caller free()s, or NULL when out of memory. */
char *core_thumb_svg(const char *text, size_t *len);

/* "image/jpeg", "image/png", "image/webp", "image/gif", "image/bmp" by
 * the first bytes of a file (len of them), else
 * "application/octet-stream". A static string. */
const char *core_image_type(const unsigned char *head, size_t len);

/* The value of a Content-Disposition header (RFC 6266) for a file named
 * `name` (untrusted bytes): `inline; filename="…"` with an ASCII fallback
 * (quotes, backslashes, control and non-ASCII bytes become '_'), and
 * `; filename*=UTF-8''…` (percent-encoded) when the name is not plain
 * ASCII. 0, or -ENAMETOOLONG when it does not fit in len bytes. */
int core_disposition(const char *name, char *buf, size_t len);

#endif
