/*
 * test_exports.c — the renderers of a tag's exports (core/exports.h),
 * byte for byte on hand-written expectations: TAG.txt (odd paths quoted
 * as `selection` lines), Label Studio tasks (ids from 1, JSON escapes of
 * quotes, backslashes, control characters and UTF-8 checked by parsing
 * them back with cJSON, null images), the CSV (RFC 4180 quoting as
 * Python's csv writes it, empty cells for missing values, categorical
 * names, the shortest number that reads back), empty tags; and the
 * names of exports/ files split into tag and format.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <cjson/cJSON.h>

#include "core/columns.h"
#include "core/exports.h"
#include "core/text.h"

static char *finish(struct tbuf *b, size_t *len)
{
	char *out = NULL;

	assert_int_equal(tbuf_finish(b, &out, len), 0);
	return out;
}

static void test_txt(void **state)
{
	const char *paths[] = { "a.jpg", "sub/b c.png", "q\"uote.bin",
				"\"lead.bin", "new\nline", "ünï.bin" };
	struct tbuf b;
	size_t len;
	char *s;

	(void)state;
	tbuf_init(&b, 1 << 20);
	core_export_txt(&b, paths, 6);
	s = finish(&b, &len);
	assert_string_equal(s, "a.jpg\nsub/b c.png\nq\"uote.bin\n"
			    "\"\\\"lead.bin\"\n\"new\\nline\"\nünï.bin\n");
	assert_int_equal(len, strlen(s));
	free(s);

	tbuf_init(&b, 1 << 20);
	core_export_txt(&b, paths, 0);
	s = finish(&b, &len);
	assert_int_equal(len, 0);
	free(s);
}

static void test_label_studio(void **state)
{
	const char *images[] = { "/mnt/d/t/a.jpg", NULL,
				 "/mnt/d/t/q\"u\\o\te\x01 ü.png" };
	struct tbuf b;
	size_t len;
	char *s;
	cJSON *j, *t;

	(void)state;
	tbuf_init(&b, 1 << 20);
	core_export_ls(&b, 3, images);
	s = finish(&b, &len);
	assert_string_equal(s,
		"[\n{\"id\":1,\"data\":{\"image\":\"/mnt/d/t/a.jpg\"}},\n"
		"{\"id\":2,\"data\":{\"image\":null}},\n"
		"{\"id\":3,\"data\":{\"image\":\"/mnt/d/t/q\\\"u\\\\o\\te"
		"\\u0001 ü.png\"}}\n]\n");
	j = cJSON_Parse(s);
	assert_non_null(j);
	assert_int_equal(cJSON_GetArraySize(j), 3);
	t = cJSON_GetArrayItem(j, 2);
	assert_int_equal(cJSON_GetObjectItem(t, "id")->valueint, 3);
	assert_string_equal(cJSON_GetObjectItem(cJSON_GetObjectItem(t, "data"),
						"image")->valuestring,
			    images[2]);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(
		cJSON_GetObjectItem(cJSON_GetArrayItem(j, 1), "data"),
		"image")));
	cJSON_Delete(j);
	free(s);

	/* an empty tag: an empty list, still valid JSON */
	tbuf_init(&b, 1 << 20);
	core_export_ls(&b, 0, images);
	s = finish(&b, &len);
	assert_string_equal(s, "[\n]\n");
	j = cJSON_Parse(s);
	assert_non_null(j);
	assert_int_equal(cJSON_GetArraySize(j), 0);
	cJSON_Delete(j);
	free(s);
}

static void test_csv(void **state)
{
	const char *paths[] = { "a.jpg", "b, c.jpg", "d\"e.jpg" };
	double score[] = { 0.5, NAN, 1.0 / 3 };
	double v[] = { 21.5, NAN, -3e-7 };
	int32_t cat[] = { 1, 0, -1 };
	char *catnames[] = { "rain, heavy", "sun\"ny" };
	struct sv_column cols[2] = {
		{ .n = 3, .categorical = 0, .v = v },
		{ .n = 3, .categorical = 1, .cat = cat, .names = catnames,
		  .ncat = 2 },
	};
	char *names[] = { "info.temp", "info.weather,x" };
	struct tbuf b;
	size_t len;
	char *s;

	(void)state;
	tbuf_init(&b, 1 << 20);
	core_export_csv(&b, paths, 3, score, cols, names, 2);
	s = finish(&b, &len);
	assert_string_equal(s,
		"filename,score,info.temp,\"info.weather,x\"\r\n"
		"a.jpg,0.5,21.5,\"sun\"\"ny\"\r\n"
		"\"b, c.jpg\",,,\"rain, heavy\"\r\n"
		"\"d\"\"e.jpg\",0.3333333333333333,-3e-07,\r\n");
	free(s);

	/* no scores, no columns */
	tbuf_init(&b, 1 << 20);
	core_export_csv(&b, paths, 1, NULL, NULL, NULL, 0);
	s = finish(&b, &len);
	assert_string_equal(s, "filename,score\r\na.jpg,\r\n");
	free(s);

	/* a run's scores are float32, widened: shown as scores.csv shows
	 * them (the float32's shortest text), not the double's 17 digits */
	{
		double fs[] = { (double)0.1f, (double)0.7234f, 1.0 };
		tbuf_init(&b, 1 << 20);
		core_export_csv(&b, paths, 3, fs, NULL, NULL, 0);
		s = finish(&b, &len);
		assert_string_equal(s, "filename,score\r\n"
				    "a.jpg,0.1\r\n"
				    "\"b, c.jpg\",0.7234\r\n"
				    "\"d\"\"e.jpg\",1.0\r\n");
		free(s);
	}
}

static void test_names(void **state)
{
	char tag[130];
	int fmt = -1;

	(void)state;
	assert_int_equal(core_export_split("sel.txt", tag, sizeof(tag), &fmt),
			 0);
	assert_string_equal(tag, "sel");
	assert_int_equal(fmt, CORE_EXPORT_TXT);
	assert_int_equal(core_export_split("v1.0.label-studio.json", tag,
					   sizeof(tag), &fmt), 0);
	assert_string_equal(tag, "v1.0");
	assert_int_equal(fmt, CORE_EXPORT_LS);
	assert_int_equal(core_export_split("x.txt.csv", tag, sizeof(tag),
					   &fmt), 0);
	assert_string_equal(tag, "x.txt");
	assert_int_equal(fmt, CORE_EXPORT_CSV);
	assert_int_equal(core_export_split("x.txt.txt", tag, sizeof(tag),
					   &fmt), 0);
	assert_string_equal(tag, "x.txt");
	assert_int_equal(core_export_split(".txt", tag, sizeof(tag), &fmt),
			 -ENOENT);
	assert_int_equal(core_export_split("sel.json", tag, sizeof(tag),
					   &fmt), -ENOENT);
	assert_int_equal(core_export_split("sel", tag, sizeof(tag), &fmt),
			 -ENOENT);
	assert_int_equal(core_export_split("abcdef.txt", tag, 4, &fmt),
			 -ENOENT);
	assert_int_equal(core_export_format("txt"), CORE_EXPORT_TXT);
	assert_int_equal(core_export_format("label-studio"), CORE_EXPORT_LS);
	assert_int_equal(core_export_format("csv"), CORE_EXPORT_CSV);
	assert_int_equal(core_export_format("json"), -EINVAL);
	assert_int_equal(core_export_format(NULL), -EINVAL);
	assert_string_equal(core_export_suffix(CORE_EXPORT_LS),
			    ".label-studio.json");
	assert_null(core_export_suffix(3));
	/* the word the remote backend sends names the format back */
	for (int f = 0; f < CORE_EXPORT_NFMT; f++)
		assert_int_equal(core_export_format(core_export_word(f)), f);
	assert_null(core_export_word(-1));
	assert_null(core_export_word(CORE_EXPORT_NFMT));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_label_studio),
		cmocka_unit_test(test_csv),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
