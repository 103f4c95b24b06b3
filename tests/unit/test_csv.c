/*
 * test_csv.c — the embeddings CSV (core/csv.c): files as lightly's
 * save_embeddings writes them (CRLF and LF, with and without a last newline,
 * quoted names), the values Python prints (1e-05, -0.0, float64 text),
 * parse -> write -> parse bit for bit, numpy's str() of float32 for the
 * writer, the shapes lightly's check_embeddings accepts (flag and extra
 * columns, embedding columns in any order, int64 labels), a table of
 * malformed inputs each with the message it must give,
 * and a large synthetic file for counts and values.
 *
 * Expected float strings were taken from numpy 1.24's str(np.float32(v)).
 * No test asserts a time; the parser's speed is measured by hand (see the
 * report that added this file), not here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"
#include "core/text.h"

/* A small deterministic generator (xorshift64), so failures reproduce. */
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint32_t rnd32(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (uint32_t)(rng_state >> 16);
}

static float bits_float(uint32_t u)
{
	float f;

	memcpy(&f, &u, sizeof(f));
	return f;
}

static uint32_t float_bits(float f)
{
	uint32_t u;

	memcpy(&u, &f, sizeof(u));
	return u;
}

/* A random finite float32, any exponent, any sign. */
static float rnd_float(void)
{
	float f;

	do
		f = bits_float(rnd32());
	while (!isfinite(f));
	return f;
}

static int parse_ok(const char *text, size_t len, struct core_emb *e)
{
	char msg[512] = "";
	int rc = core_csv_parse(text, len, e, msg, sizeof(msg));

	if (rc)
		print_error("unexpected failure %d: %s\n", rc, msg);
	return rc;
}

#define PARSE_OK(text, e) \
	assert_int_equal(parse_ok((text), strlen(text), (e)), 0)

/* ---- valid files ------------------------------------------------------ */

static void check_abc(const struct core_emb *e)
{
	assert_int_equal(e->n, 3);
	assert_int_equal(e->d, 2);
	assert_string_equal(e->names[0], "a.jpg");
	assert_string_equal(e->names[1], "sub/b.jpg");
	assert_string_equal(e->names[2], "c.png");
	assert_true(e->x[0] == 0.1f && e->x[1] == -1.5f);
	assert_true(e->x[2] == 2.0f && e->x[3] == 0.0f);
	assert_true(e->x[4] == 1e-05f && e->x[5] == 3.0f);
	assert_int_equal(e->labels[0], 0);
	assert_int_equal(e->labels[1], 7);
	assert_int_equal(e->labels[2], -1);
}

static void test_line_ends(void **state)
{
	static const char *const texts[] = {
		/* CRLF, as Python's csv module writes */
		"filenames,embedding_0,embedding_1,labels\r\n"
		"a.jpg,0.1,-1.5,0\r\nsub/b.jpg,2.0,0.0,7\r\n"
		"c.png,1e-05,3.0,-1\r\n",
		/* CRLF, no final newline */
		"filenames,embedding_0,embedding_1,labels\r\n"
		"a.jpg,0.1,-1.5,0\r\nsub/b.jpg,2.0,0.0,7\r\n"
		"c.png,1e-05,3.0,-1",
		/* LF */
		"filenames,embedding_0,embedding_1,labels\n"
		"a.jpg,0.1,-1.5,0\nsub/b.jpg,2.0,0.0,7\nc.png,1e-05,3.0,-1\n",
		/* LF, no final newline */
		"filenames,embedding_0,embedding_1,labels\n"
		"a.jpg,0.1,-1.5,0\nsub/b.jpg,2.0,0.0,7\nc.png,1e-05,3.0,-1",
		/* lone CR (old Mac), mixed, and empty lines at the end */
		"filenames,embedding_0,embedding_1,labels\r"
		"a.jpg,0.1,-1.5,0\nsub/b.jpg,2.0,0.0,7\r\nc.png,1e-05,3.0,-1"
		"\r\n\r\n\n",
		/* a UTF-8 byte-order mark, as Excel saves */
		"\xef\xbb\xbf" "filenames,embedding_0,embedding_1,labels\r\n"
		"a.jpg,0.1,-1.5,0\r\nsub/b.jpg,2.0,0.0,7\r\n"
		"c.png,1e-05,3.0,-1\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		struct core_emb e;
		PARSE_OK(texts[i], &e);
		check_abc(&e);
		core_csv_free(&e);
	}
}

static void test_quoted_names(void **state)
{
	const char text[] =
		"filenames,embedding_0,labels\r\n"
		"\"with, comma.jpg\",1,0\r\n"
		"\"say \"\"cheese\"\".jpg\",2,0\r\n"
		"with space/and more.jpg,3,0\r\n"
		"\"a/b/c/deep, folder/x.jpg\",4,0\r\n"
		"\"two\r\nlines.jpg\",5,0\r\n"
		"\"plain.jpg\",6,0\r\n"
		"un\"quoted.jpg,7,0\r\n"
		"\"\"\"lead.jpg\",8,0\r\n"
		"\"\xc3\xa9t\xc3\xa9.jpg\",9,0\r\n";
	struct core_emb e;

	(void)state;
	PARSE_OK(text, &e);
	assert_int_equal(e.n, 9);
	assert_string_equal(e.names[0], "with, comma.jpg");
	assert_string_equal(e.names[1], "say \"cheese\".jpg");
	assert_string_equal(e.names[2], "with space/and more.jpg");
	assert_string_equal(e.names[3], "a/b/c/deep, folder/x.jpg");
	assert_string_equal(e.names[4], "two\r\nlines.jpg");
	assert_string_equal(e.names[5], "plain.jpg");
	assert_string_equal(e.names[6], "un\"quoted.jpg");
	assert_string_equal(e.names[7], "\"lead.jpg");
	assert_string_equal(e.names[8], "\xc3\xa9t\xc3\xa9.jpg");
	for (size_t i = 0; i < e.n; i++)
		assert_true(e.x[i] == (float)(i + 1));
	core_csv_free(&e);
}

static void test_values(void **state)
{
	const char text[] =
		"filenames,embedding_0,embedding_1,embedding_2,embedding_3,"
		"labels\r\n"
		"a,1e-05,-0.0,0.0,3.4028234663852886e+38,2147483647\r\n"
		"b,3.4028235e+38,-3.4028235e+38,1e-45,1e-50,-2147483648\r\n"
		"c, 0.5 ,\"-2.25\",\t+1.,.5, 3 \r\n"
		"d,0.1000000000000000055511151231257827,1E3,1e+2,-7e-1,+0\r\n"
		"e,16777217,16777219,0.5000000298023223876953125,"
		"0.30000001192092896,007\r\n";
	struct core_emb e;

	(void)state;
	PARSE_OK(text, &e);
	assert_int_equal(e.n, 5);
	assert_int_equal(e.d, 4);
	assert_true(e.x[0] == 1e-05f);
	assert_true(e.x[1] == 0.0f && signbit(e.x[1]));
	assert_true(e.x[2] == 0.0f && !signbit(e.x[2]));
	assert_true(e.x[3] == FLT_MAX);   /* float64 text of float32 max */
	assert_int_equal(e.labels[0], INT32_MAX);
	assert_true(e.x[4] == FLT_MAX && e.x[5] == -FLT_MAX);
	assert_int_equal(float_bits(e.x[6]), 1);     /* smallest subnormal */
	assert_true(e.x[7] == 0.0f);                 /* underflows to 0 */
	assert_int_equal(e.labels[1], INT32_MIN);
	assert_true(e.x[8] == 0.5f && e.x[9] == -2.25f);
	assert_true(e.x[10] == 1.0f && e.x[11] == 0.5f);
	assert_int_equal(e.labels[2], 3);
	assert_true(e.x[12] == 0.1f && e.x[13] == 1000.0f);
	assert_true(e.x[14] == 100.0f && e.x[15] == -0.7f);
	assert_int_equal(e.labels[3], 0);
	/* ties round to even; the exact midpoint of 0.5 and its successor */
	assert_true(e.x[16] == 16777216.0f && e.x[17] == 16777220.0f);
	assert_int_equal(float_bits(e.x[18]), float_bits(0.5f));
	assert_true(e.x[19] == 0.3f);
	assert_int_equal(e.labels[4], 7);
	core_csv_free(&e);
}

/* What lightly's check_embeddings accepts: 'masked'/'selected' before
 * 'labels' and any columns after it (ignored, whatever they hold), and
 * embedding columns in any order and numbering (the vector is the file's
 * column order); labels over the whole int64 range. */
static void test_lightly_shapes(void **state)
{
	static const struct {
		const char *text;
		size_t d;
		float x0, x1;           /* the first row's values */
		int64_t label0;
	} ok[] = {
		/* lightly's own test file: flags after labels */
		{ "filenames,embedding_0,embedding_1,labels,selected,masked\r\n"
		  "image_0.jpg,3.4,0.23,0,1,0\r\nimage_1.jpg,3.4,0.23,1,0,1\r\n",
		  2, 3.4f, 0.23f, 0 },
		/* and its "special order": masked before labels */
		{ "filenames,embedding_0,embedding_1,masked,labels,selected\r\n"
		  "image_0.jpg,3.4,0.23,0,1,0\r\nimage_1.jpg,3.4,0.23,1,0,1\r\n",
		  2, 3.4f, 0.23f, 1 },
		/* flags first; extra columns of any name and content after */
		{ "filenames,selected,masked,embedding_0,embedding_1,labels,"
		  "note,labels,embedding_9\n"
		  "a.jpg,,yes,1.5,-2,7,\"free, text\",zzz,\n"
		  "b.jpg,1,0,1,2,8,,,\n", 2, 1.5f, -2.0f, 7 },
		/* embedding columns out of order, and any number after '_':
		 * taken in file order */
		{ "filenames,embedding_1,embedding_0,labels\r\na,1,2,0\r\n",
		  2, 1.0f, 2.0f, 0 },
		{ "filenames,embedding_0,embedding_2,embedding_2x,labels\r\n"
		  "a,1,2,3,0\r\n", 3, 1.0f, 2.0f, 0 },
		/* 64-bit labels */
		{ "filenames,embedding_0,embedding_1,labels\na,1,2,"
		  "9007199254740993\n", 2, 1.0f, 2.0f, 9007199254740993LL },
		{ "filenames,embedding_0,embedding_1,labels\na,1,2,"
		  "-9223372036854775808\nb,1,2,9223372036854775807\n", 2, 1.0f,
		  2.0f, INT64_MIN },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		struct core_emb e;
		if (parse_ok(ok[i].text, strlen(ok[i].text), &e))
			fail_msg("case %zu refused", i);
		assert_int_equal(e.d, ok[i].d);
		assert_true(e.n >= 1);
		assert_true(e.x[0] == ok[i].x0 && e.x[1] == ok[i].x1);
		assert_true(e.labels[0] == ok[i].label0);
		core_csv_free(&e);
	}
	{
		struct core_emb e;
		PARSE_OK(ok[2].text, &e);
		assert_int_equal(e.n, 2);
		assert_string_equal(e.names[1], "b.jpg");
		assert_true(e.x[2] == 1.0f && e.x[3] == 2.0f);
		assert_true(e.labels[1] == 8);
		core_csv_free(&e);
		PARSE_OK(ok[6].text, &e);
		assert_true(e.labels[1] == INT64_MAX);
		core_csv_free(&e);
	}
}

/* d = 1 and d = 64, built with the writer's own header. */
static void test_dims(void **state)
{
	static const size_t dims[] = { 1, 64 };

	(void)state;
	for (size_t t = 0; t < 2; t++) {
		size_t d = dims[t], n = 50;
		struct tbuf b;
		struct core_emb e;
		char *text, name[32];

		tbuf_init(&b, (size_t)1 << 24);
		tbuf_put(&b, "filenames", 9);
		for (size_t j = 0; j < d; j++)
			tbuf_printf(&b, ",embedding_%zu", j);
		tbuf_put(&b, ",labels\n", 8);
		for (size_t i = 0; i < n; i++) {
			snprintf(name, sizeof(name), "img_%zu.jpg", i);
			tbuf_put(&b, name, strlen(name));
			for (size_t j = 0; j < d; j++)
				tbuf_printf(&b, ",%zu.25", i * 100 + j);
			tbuf_printf(&b, ",%zu\n", i % 10);
		}
		size_t len;
		assert_int_equal(tbuf_finish(&b, &text, &len), 0);
		assert_int_equal(parse_ok(text, len, &e), 0);
		assert_int_equal(e.n, n);
		assert_int_equal(e.d, d);
		for (size_t i = 0; i < n; i++) {
			for (size_t j = 0; j < d; j++)
				assert_true(e.x[i * d + j] ==
					    (float)(i * 100 + j) + 0.25f);
			assert_int_equal(e.labels[i], (int)(i % 10));
		}
		assert_string_equal(e.names[49], "img_49.jpg");
		core_csv_free(&e);
		free(text);
	}
}

/* ---- the writer ------------------------------------------------------- */

static void test_fmt_float(void **state)
{
	static const struct { float v; const char *s; } cases[] = {
		{ 0.1f, "0.1" }, { -0.0f, "-0.0" }, { 0.0f, "0.0" },
		{ 1e-05f, "1e-05" }, { 1.5e-05f, "1.5e-05" },
		{ 0.0001f, "1e-04" },   /* float32(1e-4) < 1e-4 */
		{ 0.00012345f, "0.00012345" },
		{ FLT_MAX, "3.4028235e+38" }, { -FLT_MAX, "-3.4028235e+38" },
		{ 1e15f, "1000000000000000.0" }, { 1e16f, "1e+16" },
		{ 123456789.0f, "123456790.0" }, { 16777216.0f, "16777216.0" },
		{ 1.0f, "1.0" }, { 100.0f, "100.0" }, { 1.5f, "1.5" },
		{ 0.3f, "0.3" }, { -2.25f, "-2.25" },
		{ 1e-45f, "1e-45" }, { FLT_MIN, "1.1754944e-38" },
		{ 30000001024.0f, "30000000000.0" },  /* a midpoint taken */
		{ 29999998976.0f, "29999999000.0" },
		{ 1e10f, "10000000000.0" }, { 1e-10f, "1e-10" },
		{ 7e22f, "7e+22" }, { 65504.0f, "65504.0" },
		{ 0.33333334f, "0.33333334" }, { 2.7182817f, "2.7182817" },
	};
	char buf[32];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t k = core_csv_fmt_float(cases[i].v, buf);
		assert_string_equal(buf, cases[i].s);
		assert_int_equal(k, strlen(cases[i].s));
	}
	core_csv_fmt_float(NAN, buf);
	assert_string_equal(buf, "nan");
	core_csv_fmt_float(INFINITY, buf);
	assert_string_equal(buf, "inf");
	core_csv_fmt_float(-INFINITY, buf);
	assert_string_equal(buf, "-inf");
}

/* Shortest: the output reads back to the same float, and the closest
 * decimal with one significant digit fewer does not. (The full check, both
 * bracketing decimals of every length, against 2M random floats, and
 * numpy's own str() on 1.5M, was run by hand when this was written.) */
static void test_fmt_shortest(void **state)
{
	(void)state;
	for (int i = 0; i < 40000; i++) {
		float v = rnd_float(), back;
		char s[32], t[48];
		size_t nd = 0;

		core_csv_fmt_float(v, s);
		back = strtof(s, NULL);
		assert_int_equal(float_bits(back), float_bits(v));
		for (const char *p = s; *p && *p != 'e'; p++)
			if (*p >= '1' && *p <= '9')
				nd = (size_t)(p - s) + 1;  /* mark last nonzero */
		/* significant digits = digits from first nonzero to last */
		size_t first = strcspn(s, "123456789"), sig = 0;
		for (size_t p = first; p < nd; p++)
			sig += s[p] >= '0' && s[p] <= '9';
		if (sig <= 1)
			continue;
		snprintf(t, sizeof(t), "%.*e", (int)sig - 2, (double)v);
		assert_int_not_equal(float_bits(strtof(t, NULL)), float_bits(v));
	}
}

static void test_write_exact(void **state)
{
	const char *const names[] = { "a.jpg", "dir/b c.jpg", "x,y.jpg",
				      "q\"uote.jpg", "new\nline.jpg",
				      "cr\r.jpg" };
	const float x[] = { 0.1f, -0.0f, 1e-05f, FLT_MAX, 1.0f,
			    123456789.0f, 0.0001f, 0.5f, 2.0f, -3.0f,
			    1e16f, 1e-45f };
	const int64_t labels[] = { 0, 1, -2, INT64_MAX, INT64_MIN,
				   9007199254740993LL };
	const char want[] =
		"filenames,embedding_0,embedding_1,labels\r\n"
		"a.jpg,0.1,-0.0,0\r\n"
		"dir/b c.jpg,1e-05,3.4028235e+38,1\r\n"
		"\"x,y.jpg\",1.0,123456790.0,-2\r\n"
		"\"q\"\"uote.jpg\",1e-04,0.5,9223372036854775807\r\n"
		"\"new\nline.jpg\",2.0,-3.0,-9223372036854775808\r\n"
		"\"cr\r.jpg\",1e+16,1e-45,9007199254740993\r\n";
	struct tbuf b;
	char *text;
	size_t len;

	(void)state;
	tbuf_init(&b, 1 << 20);
	core_csv_write(&b, 6, 2, names, x, labels);
	assert_int_equal(tbuf_finish(&b, &text, &len), 0);
	assert_string_equal(text, want);
	assert_int_equal(len, strlen(want));
	free(text);

	/* A cap too small: the error is kept, nothing half-written passes. */
	tbuf_init(&b, 64);
	core_csv_write(&b, 6, 2, names, x, labels);
	assert_int_equal(tbuf_finish(&b, &text, &len), -EFBIG);
}

/* parse -> write -> parse gives the same names, labels and float bits, and
 * the second write is the same text as the first. */
static void test_round_trip(void **state)
{
	const size_t n = 500, d = 16;
	const char *names[500];
	char namebuf[500][48];
	float *x = malloc(n * d * sizeof(float));
	int64_t labels[500];
	struct tbuf b;
	struct core_emb e1, e2;
	char *t1, *t2;
	size_t l1, l2;

	(void)state;
	assert_non_null(x);
	for (size_t i = 0; i < n; i++) {
		static const char *const pre[] = { "", "dir/", "a, b/",
						   "q\"/", "sp ace/" };
		snprintf(namebuf[i], sizeof(namebuf[i]), "%simg %zu.jpg",
			 pre[i % 5], i);
		names[i] = namebuf[i];
		labels[i] = (int64_t)(((uint64_t)rnd32() << 32) | rnd32());
		for (size_t j = 0; j < d; j++)
			x[i * d + j] = rnd_float();
	}
	x[0] = -0.0f;
	x[1] = 1e-45f;
	x[2] = FLT_MAX;
	tbuf_init(&b, (size_t)1 << 26);
	core_csv_write(&b, n, d, names, x, labels);
	assert_int_equal(tbuf_finish(&b, &t1, &l1), 0);
	assert_int_equal(parse_ok(t1, l1, &e1), 0);
	assert_int_equal(e1.n, n);
	assert_int_equal(e1.d, d);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(e1.names[i], names[i]);
		assert_int_equal(e1.labels[i], labels[i]);
	}
	assert_memory_equal(e1.x, x, n * d * sizeof(float));

	tbuf_init(&b, (size_t)1 << 26);
	core_csv_write(&b, e1.n, e1.d, (const char *const *)e1.names, e1.x,
		       e1.labels);
	assert_int_equal(tbuf_finish(&b, &t2, &l2), 0);
	assert_int_equal(l1, l2);
	assert_memory_equal(t1, t2, l1);
	assert_int_equal(parse_ok(t2, l2, &e2), 0);
	assert_memory_equal(e2.x, x, n * d * sizeof(float));
	core_csv_free(&e1);
	core_csv_free(&e2);
	free(t1);
	free(t2);
	free(x);
}

/* The fast path (Clinger) must agree with strtof on every decimal. */
static void test_fast_path_matches_strtof(void **state)
{
	const size_t n = 30000;
	char (*vals)[48] = malloc(n * sizeof(*vals));
	struct tbuf b;
	struct core_emb e;
	char *text;
	size_t len;

	(void)state;
	assert_non_null(vals);
	tbuf_init(&b, (size_t)1 << 24);
	tbuf_put(&b, "filenames,embedding_0,labels\n", 29);
	for (size_t i = 0; i < n; i++) {
		/* 1-20 digits, a point anywhere, exponents -45..15: from
		 * subnormals to 1e35, many near float32 rounding midpoints */
		size_t nd = 1 + rnd32() % 20, point = rnd32() % (nd + 1);
		int ex = (int)(rnd32() % 61) - 45;
		size_t k = 0;

		if (rnd32() & 1)
			vals[i][k++] = '-';
		for (size_t j = 0; j < nd; j++) {
			if (j == point)
				vals[i][k++] = '.';
			vals[i][k++] = (char)('0' + rnd32() % 10);
		}
		vals[i][k] = '\0';
		if (i % 7)  /* every seventh in plain form */
			snprintf(vals[i] + k, sizeof(vals[i]) - k, "e%d", ex);
		tbuf_printf(&b, "n%zu,%s,0\n", i, vals[i]);
	}
	assert_int_equal(tbuf_finish(&b, &text, &len), 0);
	assert_int_equal(parse_ok(text, len, &e), 0);
	for (size_t i = 0; i < n; i++) {
		float want = strtof(vals[i], NULL);
		if (float_bits(e.x[i]) != float_bits(want))
			fail_msg("'%s': got %a, strtof gives %a", vals[i],
				 (double)e.x[i], (double)want);
	}
	core_csv_free(&e);
	free(text);
	free(vals);
}

/* ---- malformed input -------------------------------------------------- */

#define HDR "filenames,embedding_0,embedding_1,labels\r\n"
#define ONES10 "1111111111"

static const struct bad {
	const char *text;
	size_t len;         /* 0: strlen(text) */
	const char *want;
} bad_inputs[] = {
	{ "", 0, "empty file" },
	{ "\r\n\r\n\n", 0, "empty file" },
	{ "\xef\xbb\xbf", 0, "empty file" },
	{ "\nfilenames,embedding_0,labels\n", 0, "row 1: empty line" },
	/* missing or malformed header */
	{ "a.jpg,0.1,0.2,1\r\nb.jpg,0.3,0.4,1\r\n", 0,
	  "row 1, column 1: expected the header 'filenames,embedding_0,...,"
	  "labels', found 'a.jpg'" },
	{ "filenames,embedding_0,embedding_1\r\na,1,2\r\n", 0,
	  "row 1: the header has no 'labels' column" },
	{ "filenames,labels\r\na,1\r\n", 0,
	  "row 1: no embedding columns (d = 0)" },
	{ "filenames\r\na\r\n", 0, "row 1: the header has 1 column" },
	/* lightly's check_embeddings refuses these too */
	{ "filenames, embedding_0,labels\r\n", 0,
	  "row 1, column 2: header ' embedding_0' has spaces around it" },
	{ "filenames,embedding_0,labels,extra \r\n", 0,
	  "row 1, column 4: header 'extra ' has spaces around it" },
	{ "filenames,embedding_0,foo,labels\r\na,1,2,0\r\n", 0,
	  "row 1, column 3: expected 'embedding_N', 'masked' or 'selected' "
	  "before 'labels', found 'foo'" },
	{ "filenames,embedding_,labels\r\n", 0,
	  "found 'embedding_'" },
	{ "filenames,Embedding_0,labels\r\n", 0, "found 'Embedding_0'" },
	{ "filenames,masked,labels\r\na,1,0\r\n", 0,
	  "row 1: no embedding columns (d = 0)" },
	{ "filenames,labels,embedding_0\r\na,0,1\r\n", 0,
	  "row 1: no embedding columns (d = 0)" },
	/* the ignored columns still count */
	{ "filenames,embedding_0,labels,x\r\na,1,0\r\n", 0,
	  "row 2: expected 4 columns, found 3" },
	{ "filenames,masked,embedding_0,labels\r\na,1,2,0,5\r\n", 0,
	  "row 2: expected 4 columns, found 5" },
	/* messages name a column by its header */
	{ "filenames,selected,embedding_7,embedding_3,labels,z\r\n"
	  "a,1,2,x,0,\r\n", 0,
	  "row 2, column 4 (embedding_3): 'x' is not a number" },
	{ "filenames,embedding_0,masked,labels,z\r\na,1,0,q,\r\n", 0,
	  "row 2, column 4 (labels): 'q' is not an integer" },
	{ "Filenames,embedding_0,labels\r\n", 0,
	  "row 1, column 1: expected the header" },
	{ "filenames,embedding_0,label\r\n", 0,
	  "row 1: the header has no 'labels' column" },
	/* no rows */
	{ HDR, 0, "row 2: the file has a header but no rows (0 samples)" },
	{ "filenames,embedding_0,labels", 0, "but no rows (0 samples)" },
	/* column counts */
	{ HDR "a,1,2,0\r\nb,1,2\r\n", 0, "row 3: expected 4 columns, found 3" },
	{ HDR "a,1,2,0,9\r\n", 0, "row 2: expected 4 columns, found 5" },
	{ HDR "a,1,2,0,\r\n", 0, "row 2: expected 4 columns, found 5" },
	{ HDR "a\r\n", 0, "row 2: expected 4 columns, found 1" },
	{ HDR "a,1,2,0\r\n\r\nb,1,2,0\r\n", 0, "row 3: empty line" },
	/* values */
	{ HDR "a,1,abc,0\r\n", 0,
	  "row 2, column 3 (embedding_1): 'abc' is not a number" },
	{ HDR "a,,2,0\r\n", 0,
	  "row 2, column 2 (embedding_0): '' is not a number" },
	{ HDR "a,1,2,0\r\nb,nan,2,0\r\n", 0,
	  "row 3, column 2 (embedding_0): 'nan' is not finite" },
	{ HDR "a,1,inf,0\r\n", 0, "row 2, column 3 (embedding_1): 'inf' is "
	  "not finite" },
	{ HDR "a,-Infinity,2,0\r\n", 0, "'-Infinity' is not finite" },
	{ HDR "a,1,1e39,0\r\n", 0, "row 2, column 3 (embedding_1): '1e39' is "
	  "not finite (overflows float32)" },
	{ HDR "a,-3.5e38,1,0\r\n", 0, "'-3.5e38' is not finite" },
	{ HDR "a,0x1p3,1,0\r\n", 0, "'0x1p3' is not a number" },
	{ HDR "a,1_000,1,0\r\n", 0, "'1_000' is not a number" },
	{ HDR "a,1.2.3,1,0\r\n", 0, "'1.2.3' is not a number" },
	{ HDR "a,1e,1,0\r\n", 0, "'1e' is not a number" },
	{ HDR "a,.,1,0\r\n", 0, "'.' is not a number" },
	{ HDR "a,1 2,1,0\r\n", 0, "'1 2' is not a number" },
	{ HDR "a,--1,1,0\r\n", 0, "'--1' is not a number" },
	{ HDR "a,1,2,1.5\r\n", 0,
	  "row 2, column 4 (labels): '1.5' is not an integer" },
	{ HDR "a,1,2,\r\n", 0, "row 2, column 4 (labels): '' is not an "
	  "integer" },
	{ HDR "a,1,2,x\r\n", 0, "'x' is not an integer" },
	{ HDR "a,1,2,9223372036854775808\r\n", 0,
	  "row 2, column 4 (labels): '9223372036854775808' is out of int64 "
	  "range" },
	{ HDR "a,1,2,-9223372036854775809\r\n", 0, "is out of int64 range" },
	{ HDR "a,1,2,18446744073709551616\r\n", 0, "is out of int64 range" },
	{ HDR "a,1,2,99999999999999999999999\r\n", 0,
	  "is out of int64 range" },
	/* names */
	{ HDR ",1,2,0\r\n", 0, "row 2, column 1 (filenames): empty filename" },
	{ HDR "\"\",1,2,0\r\n", 0, "row 2, column 1 (filenames): empty "
	  "filename" },
	{ HDR "/abs/x.jpg,1,2,0\r\n", 0, "row 2, column 1 (filenames): "
	  "absolute filename '/abs/x.jpg'" },
	{ HDR "a/../b.jpg,1,2,0\r\n", 0, "row 2, column 1 (filenames): "
	  "filename 'a/../b.jpg' has a '..' path component" },
	{ HDR "..,1,2,0\r\n", 0, "has a '..' path component" },
	{ HDR "a/..,1,2,0\r\n", 0, "has a '..' path component" },
	{ HDR "./a.jpg,1,2,0\r\n", 0, "has a '.' path component" },
	{ HDR "a//b.jpg,1,2,0\r\n", 0, "has an empty path component" },
	{ HDR "dir/,1,2,0\r\n", 0, "has an empty path component" },
	{ HDR "a\0b.jpg,1,2,0\r\n", sizeof(HDR "a\0b.jpg,1,2,0\r\n") - 1,
	  "row 2, column 1 (filenames): filename 'a?b.jpg' contains a NUL "
	  "byte" },
	{ HDR "a.jpg,1,2,0\r\nb.jpg,1,2,0\r\na.jpg,3,4,0\r\n", 0,
	  "row 4: duplicate filename 'a.jpg' (first at row 2)" },
	{ HDR "\"x, y\",1,2,0\r\nx,1,2,0\r\n\"x, y\",1,2,0\r\n", 0,
	  "row 4: duplicate filename 'x, y' (first at row 2)" },
	/* quoting */
	{ HDR "a,1,2,0\r\n\"b.jpg,1,2,0\r\nc,1,2,0\r\n", 0,
	  "row 3, column 1: unterminated quote" },
	{ HDR "a,1,\"2,0\r\n", 0, "row 2, column 3: unterminated quote" },
	{ HDR "\"a\"b,1,2,0\r\n", 0,
	  "row 2, column 1: unexpected 'b' after a closing quote" },
	{ HDR "\"a\" ,1,2,0\r\n", 0, "unexpected ' ' after a closing quote" },
	/* line numbers count the lines inside quoted names */
	{ HDR "\"two\nlines\",1,2,0\r\nc,xyz,2,0\r\n", 0,
	  "row 4, column 2 (embedding_0): 'xyz' is not a number" },
	{ "filenames,embedding_0,labels\nb,1,0\nc,1\n", 0,
	  "row 3: expected 3 columns, found 2" },
	{ "filenames,embedding_0,labels\rb,1,0\rc,1,0\rd,q,0", 0,
	  "row 4, column 2 (embedding_0): 'q' is not a number" },
	/* a long value is cut in the message, control bytes shown as '?' */
	{ HDR "a,1,2,0\r\nb,1,2,\"0\t" ONES10 ONES10 ONES10 ONES10 ONES10
	  ONES10 "111111111\"\r\n", 0,
	  "row 3, column 4 (labels): '0?" ONES10 ONES10 ONES10 ONES10 ONES10
	  "11111111...' is not an integer" },
};

static void test_malformed(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]);
	     i++) {
		const struct bad *t = &bad_inputs[i];
		size_t len = t->len ? t->len : strlen(t->text);
		struct core_emb e, zero;
		char msg[512] = "";
		int rc;

		memset(&e, 0x5a, sizeof(e));
		memset(&zero, 0, sizeof(zero));
		rc = core_csv_parse(t->text, len, &e, msg, sizeof(msg));
		if (rc != -EINVAL || !strstr(msg, t->want))
			fail_msg("case %zu: rc %d, message \"%s\", expected "
				 "-EINVAL and \"%s\"", i, rc, msg, t->want);
		assert_memory_equal(&e, &zero, sizeof(e));  /* nothing out */
		core_csv_free(&e);
	}
	core_csv_free(NULL);
}

/* Feeds text to a checker in pieces of `step` bytes, then a line end (so
 * that the last record is complete). Returns the first failing feed's rc. */
static int check_in_pieces(const char *text, size_t len, size_t step,
			   char *msg, size_t msglen, size_t *at)
{
	struct core_csv_check *ck = core_csv_check_new();
	int rc = 0;

	assert_non_null(ck);
	*at = 0;
	for (size_t o = 0; o < len && !rc; o += step) {
		size_t k = len - o < step ? len - o : step;
		rc = core_csv_check_feed(ck, text + o, k, msg, msglen);
		*at = o + k;
	}
	if (!rc)
		rc = core_csv_check_feed(ck, "\r\n", 2, msg, msglen);
	/* once refused, always refused */
	if (rc == -EINVAL)
		assert_int_equal(core_csv_check_feed(ck, "x", 1, NULL, 0),
				 -EINVAL);
	core_csv_check_free(ck);
	return rc;
}

/* The checker refuses, row by row, what the whole-file parse refuses, with
 * the same message, whatever the pieces the file arrives in. Cases it may
 * leave to the final parse: lone-CR line ends (a record's end is not
 * known until its LF could have come), an unterminated quote (a quoted
 * name may hold line ends until the end of the file) and whole-file
 * rules. */
static void test_check_malformed(void **state)
{
	size_t caught = 0, steps[] = { 1, 5, 64, (size_t)1 << 20 };

	(void)state;
	for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]);
	     i++) {
		const struct bad *t = &bad_inputs[i];
		size_t len = t->len ? t->len : strlen(t->text), at;
		int lone_cr = 0;

		for (size_t j = 0; j < len; j++)
			if (t->text[j] == '\r' && (j + 1 == len ||
						   t->text[j + 1] != '\n'))
				lone_cr = 1;
		for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
			char msg[512] = "";
			int rc = check_in_pieces(t->text, len, steps[s], msg,
						 sizeof(msg), &at);
			if (rc == 0 && (lone_cr || strstr(t->want, "empty file")
					|| strstr(t->want, "no rows") ||
					strstr(t->want, "unterminated")))
				continue;
			if (rc != -EINVAL || !strstr(msg, t->want))
				fail_msg("case %zu, pieces of %zu: rc %d, \"%s\"",
					 i, steps[s], rc, msg);
			caught++;
		}
	}
	assert_true(caught > 3 * 40);
}

/* A good file passes every feed; a bad row fails the feed that completes
 * it, not an earlier one. */
static void test_check_good_then_bad(void **state)
{
	const char *good = "filenames,embedding_0,embedding_1,labels\r\n"
			   "\"a, b.jpg\",1,2,0\r\n\"two\nlines\",3,4,1\r\n";
	struct core_csv_check *ck = core_csv_check_new();
	char msg[256];
	size_t at;

	(void)state;
	for (size_t step = 1; step < 9; step++)
		assert_int_equal(check_in_pieces(good, strlen(good), step, msg,
						 sizeof(msg), &at), 0);
	assert_non_null(ck);
	assert_int_equal(core_csv_check_feed(ck, good, strlen(good), msg,
					     sizeof(msg)), 0);
	assert_int_equal(core_csv_check_feed(ck, "c.jpg,5,x", 9, msg,
					     sizeof(msg)), 0);
	assert_int_equal(core_csv_check_feed(ck, "yz,0\r", 5, msg,
					     sizeof(msg)), 0);
	assert_int_equal(core_csv_check_feed(ck, "\n", 1, msg, sizeof(msg)),
			 -EINVAL);
	assert_string_equal(msg, "row 5, column 3 (embedding_1): 'xyz' is "
			    "not a number");
	core_csv_check_free(ck);
	core_csv_check_free(NULL);
}

/* A message buffer too small, or none, is fine. */
static void test_small_msg(void **state)
{
	struct core_emb e;
	char msg[8];
	const char text[] = HDR "a,x,1,0\r\n";

	(void)state;
	assert_int_equal(core_csv_parse(text, strlen(text), &e, msg,
					sizeof(msg)), -EINVAL);
	assert_int_equal(strlen(msg), 7);
	assert_int_equal(core_csv_parse("", 0, &e, NULL, 0), -EINVAL);
}

/* A row over the cap fails with its row number; one just under passes. */
static void test_line_cap(void **state)
{
	const size_t cap = CORE_CSV_LINE_MAX;
	size_t hlen = strlen(HDR), len;
	char *text = malloc(hlen + 40 + 2 * cap);
	char msg[512] = "";
	struct core_emb e;

	(void)state;
	assert_non_null(text);
	/* row 2 ok; row 3 has a name of exactly cap - 6 bytes: ",1,2,0" makes
	 * the row exactly cap bytes long, which is allowed */
	len = 0;
	memcpy(text, HDR "a,1,2,0\r\n", hlen + 9);
	len = hlen + 9;
	memset(text + len, 'n', cap - 6);
	len += cap - 6;
	memcpy(text + len, ",1,2,0\r\n", 8);
	len += 8;
	assert_int_equal(parse_ok(text, len, &e), 0);
	assert_int_equal(e.n, 2);
	assert_int_equal(strlen(e.names[1]), cap - 6);
	core_csv_free(&e);

	/* one byte more: rejected */
	len = hlen + 9;
	memset(text + len, 'n', cap - 5);
	len += cap - 5;
	memcpy(text + len, ",1,2,0\r\n", 8);
	len += 8;
	assert_int_equal(core_csv_parse(text, len, &e, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "row 3: longer than 1048576 bytes"));

	/* a long quoted field over several lines: the row it starts on */
	len = hlen + 9;
	text[len++] = '"';
	for (size_t i = 0; i < cap; i += 1000) {
		memset(text + len, 'q', 999);
		len += 999;
		text[len++] = '\n';
	}
	memcpy(text + len, "\",1,2,0\r\n", 9);
	len += 9;
	assert_int_equal(core_csv_parse(text, len, &e, msg, sizeof(msg)),
			 -EINVAL);
	assert_non_null(strstr(msg, "row 3: longer than 1048576 bytes"));
	free(text);
}

/* Random damage to a valid file never crashes or leaks (the ASan build
 * checks that): each result is a clean parse or -EINVAL with a message
 * naming a row (or the empty file), and *out is empty on failure. */
static void test_mutations(void **state)
{
	static const char base[] =
		"filenames,embedding_0,embedding_1,labels\r\n"
		"a.jpg,0.1,-1.5,0\r\n\"b, c/d.jpg\",2.0,1e-05,7\r\n"
		"\"say \"\"hi\"\".jpg\",-0.0,3.4028235e+38,-1\r\n"
		"e/f.png,1,2,3\n";
	static const char alphabet[] = ",\"\r\n\0x.e-5 /";
	char text[sizeof(base) + 16], msg[256];

	(void)state;
	for (int it = 0; it < 20000; it++) {
		struct core_emb e;
		size_t len = sizeof(base) - 1;
		int rc;

		memcpy(text, base, len);
		for (int k = 1 + (int)(rnd32() % 3); k > 0; k--) {
			size_t at = rnd32() % len;
			char c = alphabet[rnd32() % (sizeof(alphabet) - 1)];
			switch (rnd32() % 3) {
			case 0:  /* replace */
				text[at] = c;
				break;
			case 1:  /* insert */
				memmove(text + at + 1, text + at, len - at);
				text[at] = c;
				len++;
				break;
			default:  /* delete */
				memmove(text + at, text + at + 1, len - at - 1);
				len--;
			}
		}
		msg[0] = '\0';
		rc = core_csv_parse(text, len, &e, msg, sizeof(msg));
		if (rc == 0) {
			assert_true(e.n >= 1 && e.d >= 1);
			for (size_t i = 0; i < e.n; i++)
				assert_true(isfinite(e.x[i * e.d]) &&
					    e.names[i][0] != '\0');
		} else {
			assert_int_equal(rc, -EINVAL);
			assert_true(!strncmp(msg, "row ", 4) ||
				    !strcmp(msg, "empty file"));
			assert_null(e.names);
		}
		core_csv_free(&e);
	}
}

/* ---- a large file ----------------------------------------------------- */

/* 200,000 rows x 32 dims (about 60 MB of text), values printed with "%.9g"
 * (nine digits always identify a float32): counts, names, every value, and
 * a duplicate at the very end found with the row of its first occurrence. */
static void test_large(void **state)
{
	const size_t n = 200000, d = 32;
	float *x = malloc(n * d * sizeof(float));
	struct tbuf b;
	struct core_emb e;
	char *text, msg[512] = "";
	size_t len;

	(void)state;
	assert_non_null(x);
	tbuf_init(&b, (size_t)1 << 28);
	tbuf_put(&b, "filenames", 9);
	for (size_t j = 0; j < d; j++)
		tbuf_printf(&b, ",embedding_%zu", j);
	tbuf_put(&b, ",labels\r\n", 9);
	for (size_t i = 0; i < n; i++) {
		tbuf_printf(&b, "class_%03zu/img_%07zu.jpg", i % 100, i);
		for (size_t j = 0; j < d; j++) {
			float v = (float)((double)(int32_t)rnd32() / 1e9);
			x[i * d + j] = v;
			tbuf_printf(&b, ",%.9g", (double)v);
		}
		tbuf_printf(&b, ",%zu\r\n", i % 10);
	}
	assert_int_equal(tbuf_finish(&b, &text, &len), 0);
	assert_int_equal(parse_ok(text, len, &e), 0);
	assert_int_equal(e.n, n);
	assert_int_equal(e.d, d);
	assert_string_equal(e.names[0], "class_000/img_0000000.jpg");
	assert_string_equal(e.names[n - 1], "class_099/img_0199999.jpg");
	assert_int_equal(e.labels[n - 1], 9);
	assert_memory_equal(e.x, x, n * d * sizeof(float));
	core_csv_free(&e);

	/* the same file plus a copy of sample 12345's row */
	char *more = realloc(text, len + 64 + 32 * 16);
	assert_non_null(more);
	text = more;
	len += (size_t)snprintf(text + len, 64, "class_045/img_0012345.jpg");
	for (size_t j = 0; j < d; j++)
		len += (size_t)snprintf(text + len, 16, ",0.5");
	len += (size_t)snprintf(text + len, 16, ",1\r\n");
	assert_int_equal(core_csv_parse(text, len, &e, msg, sizeof(msg)),
			 -EINVAL);
	assert_string_equal(msg, "row 200002: duplicate filename "
			    "'class_045/img_0012345.jpg' (first at row 12347)");
	free(text);
	free(x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_line_ends),
		cmocka_unit_test(test_quoted_names),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_dims),
		cmocka_unit_test(test_lightly_shapes),
		cmocka_unit_test(test_fmt_float),
		cmocka_unit_test(test_fmt_shortest),
		cmocka_unit_test(test_write_exact),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_fast_path_matches_strtof),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_small_msg),
		cmocka_unit_test(test_line_cap),
		cmocka_unit_test(test_mutations),
		cmocka_unit_test(test_check_malformed),
		cmocka_unit_test(test_check_good_then_bad),
		cmocka_unit_test(test_large),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
