/*
 * test_thumbs.c — server-made thumbnails (core/thumbs.c) and their cache
 * (store/thumbs.c), on a fresh temp store per test.
 *
 * Covered: a cold request decodes and caches, the next one opens the
 * cache (CORE_THUMB_CACHED, the same bytes, by fd); a planted cache file
 * is what a request gets (nothing decoded), an empty one is made again; bytes that are no image are
 * "not an image" with a reason, cached as such; an absent blob is
 * -ENOENT; a put for a blob that is gone leaves nothing; a side the cache
 * does not keep is -EINVAL; collecting the blob (the sweep of unnamed
 * uploads) removes its thumbnail; reopening the store drops stale cache
 * files and temp files; threads putting the same thumbnail while others
 * read it never see a partial file. And the pure pieces: the size probe
 * of PNG and BMP headers, the not-an-image record, the placeholder SVG (escaping, control bytes, wrapping, cap),
 * image types by magic bytes, Content-Disposition (ASCII fallback,
 * filename*, too long).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jpeglib.h>

#include "tests/unit/tstore.h"
#include "core/blobs.h"
#include "core/thumbs.h"
#include "embed/decode.h"

/* core_thumb_get through the local blob store over st (core/blobs.h), as
 * the server's backend gives it. */
static int thumb_get(store *st, const unsigned char *sha, int side,
		     struct core_thumb *out)
{
	struct core_blobs *b = NULL;
	int rc = core_blobs_open(st, &b);

	if (!rc)
		rc = core_thumb_get(b, sha, side, out);
	core_blobs_free(b);
	return rc;
}

static int setup(void **state)
{
	return tstore_fx_setup(state, "thumbs");
}

/* len bytes into the store as an upload of alice no node names. */
static void put_blob(struct tstore_fx *f, const void *data, size_t len,
		     unsigned char *sha)
{
	char staged[STORE_PATH_MAX];
	int fd = store_staging_create(f->st, staged, sizeof(staged));

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(store_sha256_fd(fd, sha), 0);
	assert_int_equal(store_blob_put(f->st, fd, staged, sha, "alice"), 0);
	close(fd);
}

/* A w x h colour JPEG in memory (free()). */
static unsigned char *make_jpeg(int w, int h, size_t *len)
{
	struct jpeg_compress_struct ci;
	struct jpeg_error_mgr em;
	unsigned char *mem = NULL, *row = malloc((size_t)w * 3);
	unsigned long size = 0;

	assert_non_null(row);
	ci.err = jpeg_std_error(&em);
	jpeg_create_compress(&ci);
	jpeg_mem_dest(&ci, &mem, &size);
	ci.image_width = (JDIMENSION)w;
	ci.image_height = (JDIMENSION)h;
	ci.input_components = 3;
	ci.in_color_space = JCS_RGB;
	jpeg_set_defaults(&ci);
	jpeg_start_compress(&ci, TRUE);
	while (ci.next_scanline < ci.image_height) {
		for (int x = 0; x < w * 3; x++)
			row[x] = (unsigned char)((x + ci.next_scanline) & 255);
		jpeg_write_scanlines(&ci, &row, 1);
	}
	jpeg_finish_compress(&ci);
	jpeg_destroy_compress(&ci);
	free(row);
	*len = size;
	return mem;
}

/* The first bytes of a w x h 3-component JPEG: SOI, an APP0 segment and
 * a frame header SOFn (0xc2: progressive) — all the size probe reads. */
static unsigned char *jpeg_head(int sof, int w, int h, size_t *len)
{
	static const unsigned char app0[] = { 0xff, 0xe0, 0, 6, 'J', 'F',
					      'I', 'F' };
	unsigned char *b = calloc(1, 64), *p;

	assert_non_null(b);
	b[0] = 0xff;
	b[1] = 0xd8;
	memcpy(b + 2, app0, sizeof(app0));
	p = b + 2 + sizeof(app0);
	*p++ = 0xff;
	*p++ = (unsigned char)sof;
	*p++ = 0;
	*p++ = 17;
	*p++ = 8;
	*p++ = (unsigned char)(h >> 8);
	*p++ = (unsigned char)h;
	*p++ = (unsigned char)(w >> 8);
	*p++ = (unsigned char)w;
	*p++ = 3;
	for (int c = 1; c <= 3; c++) {
		*p++ = (unsigned char)c;
		*p++ = 0x11;
		*p++ = 0;
	}
	*len = (size_t)(p - b);
	return b;
}

static void cache_path(struct tstore_fx *f, const unsigned char *sha, char *buf,
		       size_t len)
{
	char hex[65];

	store_sha_hex(sha, hex);
	snprintf(buf, len, "%s/thumbs/%.2s/%s.%d", f->dir, hex, hex,
		 STORE_THUMB_SIDE);
}

static unsigned char *read_fd(int fd, int64_t size)
{
	unsigned char *b = malloc((size_t)size + 1);

	assert_non_null(b);
	assert_int_equal(pread(fd, b, (size_t)size, 0), (ssize_t)size);
	return b;
}

static void cold_then_cached(void **state)
{
	struct tstore_fx *f = *state;
	unsigned char sha[STORE_SHA_LEN], *src, *cached;
	struct core_thumb t, t2;
	struct emb_image img;
	char path[STORE_PATH_MAX];
	size_t len;

	src = make_jpeg(1024, 512, &len);
	put_blob(f, src, len, sha);
	free(src);
	assert_int_equal(thumb_get(f->st, sha, STORE_THUMB_SIDE, &t), 0);
	assert_int_equal(t.how, CORE_THUMB_MADE);
	assert_false(t.not_image);
	assert_non_null(t.buf);
	assert_int_equal(emb_decode(t.buf, (size_t)t.size, 0, &img, NULL, 0), 0);
	assert_int_equal(img.w, 128);
	assert_int_equal(img.h, 64);
	emb_image_free(&img);
	cache_path(f, sha, path, sizeof(path));
	assert_int_equal(access(path, F_OK), 0);

	assert_int_equal(thumb_get(f->st, sha, STORE_THUMB_SIDE, &t2), 0);
	assert_int_equal(t2.how, CORE_THUMB_CACHED);
	assert_true(t2.fd >= 0);
	assert_null(t2.buf);
	assert_int_equal(t2.size, t.size);
	cached = read_fd(t2.fd, t2.size);
	assert_memory_equal(cached, t.buf, (size_t)t.size);
	free(cached);
	core_thumb_release(&t);
	core_thumb_release(&t2);
	core_thumb_release(&t2);                 /* idempotent */
	core_thumb_release(NULL);
}

static void planted_cache_is_served(void **state)
{
	struct tstore_fx *f = *state;
	unsigned char sha[STORE_SHA_LEN], *src;
	static const unsigned char fake[] = { 0xff, 0xd8, 0xff, 'x', 'y' };
	struct core_thumb t;
	size_t len;

	src = make_jpeg(300, 300, &len);
	put_blob(f, src, len, sha);
	free(src);
	assert_int_equal(store_thumbcache_put(f->st, sha, STORE_THUMB_SIDE,
					      fake, sizeof(fake)), 0);
	assert_int_equal(thumb_get(f->st, sha, STORE_THUMB_SIDE, &t), 0);
	assert_int_equal(t.how, CORE_THUMB_CACHED);
	assert_int_equal(t.size, (int64_t)sizeof(fake));
	core_thumb_release(&t);
}

/* A cache file that is not what we write (empty: a power loss after the
 * rename) is made again and replaced. */
static void broken_cache_is_remade(void **state)
{
	struct tstore_fx *f = *state;
	unsigned char sha[STORE_SHA_LEN], *src;
	struct core_thumb t;
	char path[STORE_PATH_MAX];
	struct stat sb;
	size_t len;

	src = make_jpeg(300, 200, &len);
	put_blob(f, src, len, sha);
	free(src);
	assert_int_equal(store_thumbcache_put(f->st, sha, STORE_THUMB_SIDE,
					      "", 0), 0);
	assert_int_equal(thumb_get(f->st, sha, STORE_THUMB_SIDE, &t), 0);
	assert_int_equal(t.how, CORE_THUMB_MADE);
	assert_non_null(t.buf);
	cache_path(f, sha, path, sizeof(path));
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal(sb.st_size, t.size);
	core_thumb_release(&t);
}

static void not_an_image_is_cached(void **state)
{
	struct tstore_fx *f = *state;
	unsigned char sha[STORE_SHA_LEN], *src;
	static const char text[] = "hello, not an image\n";
	struct core_thumb t;
	char why[CORE_THUMB_WHY];
	size_t len;

	put_blob(f, text, strlen(text), sha);
	assert_int_equal(thumb_get(f->st, sha, STORE_THUMB_SIDE, &t), 0);
	assert_true(t.not_image);
	assert_int_equal(t.how, CORE_THUMB_MADE);
	assert_true(t.fd < 0 && !t.buf);
	assert_non_null(strstr(t.why, "not an image"));
	snprintf(why, sizeof(why), "%s", t.why);
	assert_int_equal(thumb_get(f->st, sha, STORE_THUMB_SIDE, &t), 0);
	assert_true(t.not_image);
	assert_int_equal(t.how, CORE_THUMB_CACHED);
	assert_string_equal(t.why, why);

	/* a truncated JPEG: the decoder's reason */
	src = make_jpeg(200, 100, &len);
	put_blob(f, src, len / 2, sha);
	free(src);
	assert_int_equal(thumb_get(f->st, sha, STORE_THUMB_SIDE, &t), 0);
	assert_true(t.not_image);
	assert_non_null(strstr(t.why, "jpeg"));

	/* an empty file */
	put_blob(f, "", 0, sha);
	assert_int_equal(thumb_get(f->st, sha, STORE_THUMB_SIDE, &t), 0);
	assert_true(t.not_image);
	assert_non_null(strstr(t.why, "empty"));
}

static void absent_and_bad_side(void **state)
{
	struct tstore_fx *f = *state;
	unsigned char sha[STORE_SHA_LEN] = { 1, 2, 3 };
	struct core_thumb t;
	char path[STORE_PATH_MAX];

	assert_int_equal(thumb_get(f->st, sha, STORE_THUMB_SIDE, &t),
			 -ENOENT);
	/* the blob is gone: a put leaves nothing behind */
	assert_int_equal(store_thumbcache_put(f->st, sha, STORE_THUMB_SIDE,
					      "\xff\xd8\xff", 3), -ENOENT);
	cache_path(f, sha, path, sizeof(path));
	assert_int_not_equal(access(path, F_OK), 0);
	assert_int_equal(store_thumbcache_put(f->st, sha, 64, "x", 1), -EINVAL);
	assert_int_equal(store_thumbcache_open(f->st, sha, 64), -EINVAL);
	assert_int_equal(store_thumbcache_open(f->st, sha, STORE_THUMB_SIDE),
			 -ENOENT);
}

static void collected_with_the_blob(void **state)
{
	struct tstore_fx *f = *state;
	unsigned char sha[STORE_SHA_LEN], *src;
	struct core_thumb t;
	char path[STORE_PATH_MAX];
	size_t len, removed = 0;

	src = make_jpeg(256, 256, &len);
	put_blob(f, src, len, sha);
	free(src);
	assert_int_equal(thumb_get(f->st, sha, STORE_THUMB_SIDE, &t), 0);
	core_thumb_release(&t);
	cache_path(f, sha, path, sizeof(path));
	assert_int_equal(access(path, F_OK), 0);
	/* no node names the upload: the sweep collects it, and the thumbnail */
	assert_int_equal(store_blob_sweep(f->st, -1, &removed, NULL), 0);
	assert_int_equal(removed, 1);
	assert_int_not_equal(access(path, F_OK), 0);
}

static void reopen_drops_stale(void **state)
{
	struct tstore_fx *f = *state;
	unsigned char sha[STORE_SHA_LEN], *src;
	struct core_thumb t;
	char live[STORE_PATH_MAX], stale[STORE_PATH_MAX], tmp[STORE_PATH_MAX];
	char msg[STORE_ERRMSG];
	size_t len;
	FILE *fp;

	src = make_jpeg(200, 200, &len);
	put_blob(f, src, len, sha);
	free(src);
	assert_int_equal(thumb_get(f->st, sha, STORE_THUMB_SIDE, &t), 0);
	core_thumb_release(&t);
	cache_path(f, sha, live, sizeof(live));
	snprintf(stale, sizeof(stale), "%s/thumbs/ab/%s.128", f->dir,
		 "abababababababababababababababababababababababababababababababab");
	snprintf(tmp, sizeof(tmp), "%s/thumbs/ab/.tmp-0000000000000000",
		 f->dir);
	{
		char d[STORE_PATH_MAX];
		snprintf(d, sizeof(d), "%s/thumbs/ab", f->dir);
		mkdir(d, 0700);
	}
	assert_non_null(fp = fopen(stale, "w"));
	fclose(fp);
	assert_non_null(fp = fopen(tmp, "w"));
	fclose(fp);
	store_close(f->st);
	f->st = NULL;
	/* the owner's open collects every blob no node names, this one too */
	assert_int_equal(store_open(f->dir, STORE_OPEN_OWNER, &f->st, msg,
				    sizeof(msg)), 0);
	assert_int_not_equal(access(stale, F_OK), 0);
	assert_int_not_equal(access(tmp, F_OK), 0);
	/* ... and its thumbnail went with it */
	assert_int_not_equal(access(live, F_OK), 0);
}

struct racer {
	store *st;
	const unsigned char *sha;
	const unsigned char *a, *b;      /* two versions, same length */
	size_t len;
	int writer, bad;
};

static void *race(void *arg)
{
	struct racer *r = arg;
	unsigned char *got = malloc(r->len + 1);

	for (int i = 0; i < 200 && got; i++) {
		if (r->writer) {
			if (store_thumbcache_put(r->st, r->sha, STORE_THUMB_SIDE,
						 i & 1 ? r->a : r->b, r->len))
				r->bad++;
			continue;
		}
		int fd = store_thumbcache_open(r->st, r->sha, STORE_THUMB_SIDE);
		if (fd < 0)
			continue;
		ssize_t n = pread(fd, got, r->len + 1, 0);
		if (n != (ssize_t)r->len || (memcmp(got, r->a, r->len) &&
					     memcmp(got, r->b, r->len)))
			r->bad++;
		close(fd);
	}
	free(got);
	return NULL;
}

static void concurrent_puts_never_tear(void **state)
{
	struct tstore_fx *f = *state;
	unsigned char sha[STORE_SHA_LEN], a[4096], b[4096];
	struct racer r[6];
	pthread_t th[6];
	char dir[STORE_PATH_MAX];
	int bad = 0;

	put_blob(f, "some bytes", 10, sha);
	memset(a, 0xaa, sizeof(a));
	memset(b, 0xbb, sizeof(b));
	for (int i = 0; i < 6; i++) {
		r[i] = (struct racer){ f->st, sha, a, b, sizeof(a), i < 3, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, race, &r[i]), 0);
	}
	for (int i = 0; i < 6; i++) {
		pthread_join(th[i], NULL);
		bad += r[i].bad;
	}
	assert_int_equal(bad, 0);
	/* no temp file left */
	{
		char hex[65], cmd[STORE_PATH_MAX + 64];
		store_sha_hex(sha, hex);
		snprintf(dir, sizeof(dir), "%s/thumbs/%.2s", f->dir, hex);
		snprintf(cmd, sizeof(cmd), "ls -A '%s' | grep -q '^\\.tmp-'",
			 dir);
		assert_int_not_equal(system(cmd), 0);
	}
}

/* ---- pure pieces ---- */

static void record_parse(void **state)
{
	char why[16];

	(void)state;
	assert_int_equal(core_thumb_record_parse((const unsigned char *)
						 "!bad\nrest", 9, why,
						 sizeof(why)), 1);
	assert_string_equal(why, "bad");
	assert_int_equal(core_thumb_record_parse((const unsigned char *)
						 "!a very long reason here",
						 24, why, sizeof(why)), 1);
	assert_int_equal(strlen(why), sizeof(why) - 1);
	assert_int_equal(core_thumb_record_parse((const unsigned char *)
						 "\xff\xd8\xff", 3, why,
						 sizeof(why)), 0);
	assert_int_equal(core_thumb_record_parse((const unsigned char *)"", 0,
						 why, sizeof(why)), 0);
}

static void svg_placeholder(void **state)
{
	size_t len;
	char *s, long_text[400];

	(void)state;
	s = core_thumb_svg("a <b> & \"c\" 'd'\x01\x7f", &len);
	assert_non_null(s);
	assert_int_equal(strlen(s), len);
	assert_non_null(strstr(s, "a &lt;b&gt; &amp; &quot;c&quot; &apos;d&apos;"
				  "</tspan>"));
	assert_null(strchr(s, '\x01'));
	assert_null(strchr(s, '\x7f'));
	assert_true(!strncmp(s, "<svg xmlns=\"http://www.w3.org/2000/svg\"", 39));
	free(s);
	s = core_thumb_svg("metadata only \xe2\x80\x94 bytes stay with the"
			   " uploader", &len);
	assert_non_null(s);
	assert_non_null(strstr(s, "<title>metadata only \xe2\x80\x94 bytes"
				  " stay with the uploader</title>"));
	assert_non_null(strstr(s, "</tspan><tspan"));      /* wrapped */
	free(s);
	memset(long_text, 'x', sizeof(long_text) - 1);
	long_text[sizeof(long_text) - 1] = '\0';
	s = core_thumb_svg(long_text, &len);
	assert_non_null(s);
	assert_null(strstr(s, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			      "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
			      "xxxxx"));                   /* capped at 200 */
	free(s);
	s = core_thumb_svg("", &len);
	assert_non_null(s);
	free(s);
}

/* A PNG signature and IHDR of w x h (CRC not checked by the probe). */
static void png_head(unsigned char *b, uint32_t w, uint32_t h)
{
	memcpy(b, "\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR", 16);
	for (int i = 0; i < 4; i++) {
		b[16 + i] = (unsigned char)(w >> (24 - 8 * i));
		b[20 + i] = (unsigned char)(h >> (24 - 8 * i));
	}
}

static void too_big(void **state)
{
	unsigned char b[32] = { 0 };
	char why[CORE_THUMB_WHY];

	(void)state;
	png_head(b, 20000, 20000);
	assert_int_equal(core_thumb_too_big(b, sizeof(b), why, sizeof(why)), 1);
	assert_non_null(strstr(why, "png: 20000x20000 is too large"));
	png_head(b, 7000, 7000);                  /* 49 Mpixels: 196 MB */
	assert_int_equal(core_thumb_too_big(b, sizeof(b), why, sizeof(why)), 1);
	png_head(b, 6000, 6000);                  /* 36 Mpixels: 144 MB */
	assert_int_equal(core_thumb_too_big(b, sizeof(b), why, sizeof(why)), 0);
	png_head(b, 0xffffffffu, 0xffffffffu);    /* no overflow */
	assert_int_equal(core_thumb_too_big(b, sizeof(b), why, sizeof(why)), 1);
	assert_int_equal(core_thumb_too_big(b, 20, why, sizeof(why)), 0);
	memset(b, 0, sizeof(b));                  /* BMP, top-down (h < 0) */
	b[0] = 'B';
	b[1] = 'M';
	b[18] = 0x40; b[19] = 0x1f;               /* 8000 */
	b[22] = 0xc0; b[23] = 0xe0; b[24] = 0xff; b[25] = 0xff;   /* -8000 */
	assert_int_equal(core_thumb_too_big(b, sizeof(b), why, sizeof(why)), 1);
	assert_non_null(strstr(why, "bmp: 8000x8000"));
	/* JPEG: only a progressive one keeps the whole image in memory */
	{
		size_t len;
		unsigned char *j = make_jpeg(64, 48, &len);
		assert_int_equal(core_thumb_too_big(j, len, why, sizeof(why)), 0);
		free(j);
		j = jpeg_head(0xc2, 10000, 10000, &len);
		assert_int_equal(core_thumb_too_big(j, len, why, sizeof(why)), 1);
		assert_non_null(strstr(why, "jpeg (progressive): 10000x10000"));
		free(j);
		j = jpeg_head(0xc2, 4000, 3000, &len);   /* 12 MP x 3 x 2 */
		assert_int_equal(core_thumb_too_big(j, len, why, sizeof(why)), 0);
		free(j);
		j = jpeg_head(0xc0, 60000, 60000, &len);   /* baseline */
		assert_int_equal(core_thumb_too_big(j, len, why, sizeof(why)), 0);
		free(j);
	}
	assert_int_equal(core_thumb_too_big((const unsigned char *)
					    "\xff\xd8\xff", 3, why,
					    sizeof(why)), 0);
}

static void image_types(void **state)
{
	(void)state;
	assert_string_equal(core_image_type((const unsigned char *)
					    "\xff\xd8\xff\xe0", 4), "image/jpeg");
	assert_string_equal(core_image_type((const unsigned char *)
					    "\x89PNG\r\n\x1a\n", 8), "image/png");
	assert_string_equal(core_image_type((const unsigned char *)
					    "RIFF\0\0\0\0WEBP", 12),
			    "image/webp");
	assert_string_equal(core_image_type((const unsigned char *)"GIF89a",
					    6), "image/gif");
	assert_string_equal(core_image_type((const unsigned char *)
					    "BM\0\0\0\0\0\0\0\0\0\0\0\0", 14),
			    "image/bmp");
	assert_string_equal(core_image_type((const unsigned char *)"\xff\xd8",
					    2), "application/octet-stream");
	assert_string_equal(core_image_type((const unsigned char *)"RIFF", 4),
			    "application/octet-stream");
	assert_string_equal(core_image_type((const unsigned char *)
					    "<svg>", 5),
			    "application/octet-stream");
}

static void disposition(void **state)
{
	char buf[256], tiny[20];

	(void)state;
	assert_int_equal(core_disposition("a.jpg", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "inline; filename=\"a.jpg\"");
	assert_int_equal(core_disposition("q\"b\\c.png", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "inline; filename=\"q_b_c.png\"");
	assert_int_equal(core_disposition("na\xc3\xafve \xc3\xa9.jpg", buf,
					  sizeof(buf)), 0);
	assert_string_equal(buf, "inline; filename=\"na__ve __.jpg\"; "
			    "filename*=UTF-8''na%C3%AFve%20%C3%A9.jpg");
	assert_int_equal(core_disposition("a\r\nSet-Cookie: x", buf,
					  sizeof(buf)), 0);
	assert_null(strchr(buf, '\r'));
	assert_null(strchr(buf, '\n'));
	assert_int_equal(core_disposition("a-rather-long-name.jpg", tiny,
					  sizeof(tiny)), -ENAMETOOLONG);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, tstore_fx_teardown)
	const struct CMUnitTest tests[] = {
		T(cold_then_cached),
		T(planted_cache_is_served),
		T(broken_cache_is_remade),
		T(not_an_image_is_cached),
		T(absent_and_bad_side),
		T(collected_with_the_blob),
		T(reopen_drops_stale),
		T(concurrent_puts_never_tear),
		cmocka_unit_test(record_parse),
		cmocka_unit_test(svg_placeholder),
		cmocka_unit_test(too_big),
		cmocka_unit_test(image_types),
		cmocka_unit_test(disposition),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
