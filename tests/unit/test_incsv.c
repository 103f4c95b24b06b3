/*
 * test_incsv.c — the predictions/ and metadata/ CSVs (core/incsv.c) and the
 * columns read from them (core/columns.c): a table of malformed files each
 * with the message it must give (whole-file parse, and the checker fed in
 * pieces of 1, 5, 64 bytes and whole), good files of both kinds (quoting,
 * CRLF/LF/CR, BOM, empty metadata values, numeric vs categorical columns),
 * the probabilities-or-logits rule, uncertainty scores against values
 * computed by hand, the scores export, and core_column_load_paths /
 * core_column_list over a temporary store (both catalog engines), with
 * builtin.* columns computed from a committed PPM.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/columns.h"
#include "core/blobs.h"
#include "core/imgmeta.h"
#include "core/incsv.h"
#include "core/text.h"
#include "tests/unit/tstore.h"

#define P CORE_INPUT_PREDICTIONS
#define M CORE_INPUT_METADATA

static const struct bad {
	int kind;
	const char *text;
	const char *want;
} bad_inputs[] = {
	{ P, "", "empty file; expected a header (filename,CLASS_1,CLASS_2,...)" },
	{ M, "", "empty file; expected a header (filename,COLUMN,...)" },
	{ P, "name,cat,dog\r\na.jpg,0.5,0.5\r\n",
	  "row 1, column 1: the header must start with 'filename' (got 'name')" },
	{ P, "filename,cat\r\na.jpg,1\r\n",
	  "row 1: 1 class column; a predictions file has at least 2" },
	{ M, "filename\r\na.jpg\r\n",
	  "row 1: no column after filename; a metadata file has at least 1" },
	{ P, "filename,cat,\r\na.jpg,0.5,0.5,\r\n",
	  "row 1, column 3: empty column name" },
	{ M, "filename,w,h,w\r\na.jpg,1,2,3\r\n",
	  "row 1, column 4: duplicate column name 'w' (also column 2)" },
	{ M, "filename, w\r\na.jpg,1\r\n",
	  "row 1, column 2: column name ' w' has spaces around it" },
	{ P, "filename,cat,class\r\na.jpg,0.5,0.5\r\n",
	  "row 1, column 3: 'class' is reserved" },
	{ P, "filename,uncertainty_margin,dog\r\na.jpg,0.5,0.5\r\n",
	  "row 1, column 2: 'uncertainty_margin' is reserved" },
	{ P, "filename,cat,dog\r\n", "no rows after the header" },
	{ P, "filename,cat,dog\r\na.jpg,0.5\r\n",
	  "row 2: 2 columns, the header has 3" },
	{ M, "filename,w\r\na.jpg,1\r\nb.jpg,2,3\r\n",
	  "row 3: 3 columns, the header has 2" },
	{ P, "filename,cat,dog\r\na.jpg,0.5,abc\r\n",
	  "row 2, column 3 (dog): 'abc' is not a number" },
	{ P, "filename,cat,dog\r\na.jpg,nan,0.5\r\n",
	  "row 2, column 2 (cat): 'nan' is not finite" },
	{ P, "filename,cat,dog\r\na.jpg,1e999,0.5\r\n",
	  "row 2, column 2 (cat): '1e999' is not finite" },
	{ P, "filename,cat,dog\r\na.jpg,,0.5\r\n",
	  "row 2, column 2 (cat): empty value" },
	{ P, "filename,cat,dog\r\na.jpg,0x1,0.5\r\n",
	  "row 2, column 2 (cat): '0x1' is not a number" },
	{ M, "filename,w\r\na.jpg,1\r\na.jpg,2\r\n",
	  "row 3, column 1 (filename): filename 'a.jpg' is also on row 2" },
	{ M, "filename,w\r\n,1\r\n",
	  "row 2, column 1 (filename): empty filename" },
	{ M, "filename,w\r\n/etc/passwd,1\r\n",
	  "row 2, column 1 (filename): absolute filename '/etc/passwd'" },
	{ M, "filenames,w\r\na/../b.jpg,1\r\n",
	  "row 2, column 1 (filenames): filename 'a/../b.jpg' has a '..' path "
	  "component" },
	{ M, "filename,w\r\na//b.jpg,1\r\n",
	  "filename 'a//b.jpg' has an empty path component" },
	{ M, "filename,w\r\na.jpg,1\r\n\r\nb.jpg,2\r\n",
	  "row 3: empty line between rows" },
	{ M, "\r\nfilename,w\r\na.jpg,1\r\n", "row 1: empty line before the header" },
	{ M, "filename,w\r\n\"a.jpg\"x,1\r\n",
	  "row 2, column 1: text after a closing quote" },
	{ M, "filename,w\r\n\"a.jpg,1\r\n", "row 2: a quote is never closed" },
	{ M, "filename,w\r\n\"a\nb.jpg\",1\r\nc.jpg,1,2\r\n",
	  "row 4: 3 columns, the header has 2" },
};

static void test_malformed(void **state)
{
	(void)state;
	assert_true(sizeof(bad_inputs) / sizeof(bad_inputs[0]) >= 15);
	for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]);
	     i++) {
		const struct bad *t = &bad_inputs[i];
		struct core_input in, zero;
		char msg[512] = "";
		int rc;

		memset(&in, 0x5a, sizeof(in));
		memset(&zero, 0, sizeof(zero));
		rc = core_input_parse(t->kind, t->text, strlen(t->text), &in,
				      msg, sizeof(msg));
		if (rc != -EINVAL || !strstr(msg, t->want))
			fail_msg("case %zu: rc %d, message \"%s\", expected "
				 "-EINVAL and \"%s\"", i, rc, msg, t->want);
		assert_memory_equal(&in, &zero, sizeof(in));
	}
	core_input_free(NULL);
}

/* The checker gives the parse's message, whatever the pieces; whole-file
 * rules (empty, no rows, a quote never closed) are the final parse's. */
static void test_check_malformed(void **state)
{
	size_t steps[] = { 1, 5, 64, (size_t)1 << 20 }, caught = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(bad_inputs) / sizeof(bad_inputs[0]);
	     i++) {
		const struct bad *t = &bad_inputs[i];
		size_t len = strlen(t->text);
		for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
			struct core_input_check *ck =
				core_input_check_new(t->kind);
			char msg[512] = "";
			int rc = 0;
			assert_non_null(ck);
			for (size_t o = 0; o < len && !rc; o += steps[s]) {
				size_t k = len - o < steps[s] ? len - o
							      : steps[s];
				rc = core_input_check_feed(ck, t->text + o, k,
							   msg, sizeof(msg));
			}
			if (!rc)
				rc = core_input_check_feed(ck, "\r\n", 2, msg,
							   sizeof(msg));
			if (rc == -EINVAL)
				assert_int_equal(core_input_check_feed(
					ck, "x", 1, NULL, 0), -EINVAL);
			core_input_check_free(ck);
			if (rc == 0 && (strstr(t->want, "empty file") ||
					strstr(t->want, "no rows") ||
					strstr(t->want, "never closed")))
				continue;
			if (rc != -EINVAL || !strstr(msg, t->want))
				fail_msg("case %zu, pieces of %zu: rc %d, "
					 "\"%s\"", i, steps[s], rc, msg);
			caught++;
		}
	}
	assert_true(caught >= 4 * 20);
	assert_null(core_input_check_new(0));
	core_input_check_free(NULL);
}

static void test_predictions_good(void **state)
{
	const char text[] = "\xef\xbb\xbf" "filename,cat,dog,bird\r\n"
			    "a.jpg,0.7,0.2,0.1\r\n"
			    "\"b, c.jpg\",0.25,0.25,0.5\n"
			    "sub/\"q\".jpg,1,0,0\r"
			    "d.jpg,0.3333,0.3333,0.3334";
	struct core_input in;
	char msg[256];

	(void)state;
	assert_int_equal(core_input_parse(P, text, sizeof(text) - 1, &in, msg,
					  sizeof(msg)), 0);
	assert_int_equal(in.n, 4);
	assert_int_equal(in.ncols, 3);
	assert_string_equal(in.cols[2], "bird");
	assert_string_equal(in.names[1], "b, c.jpg");
	assert_string_equal(in.names[2], "sub/\"q\".jpg");
	assert_int_equal(in.logits, 0);
	assert_true(fabs(in.x[0] - 0.7) < 1e-12);
	assert_true(fabs(in.x[3 * 3 + 2] - 0.3334) < 1e-12);
	core_input_free(&in);
}

/* A negative value or a row not summing to 1 makes the whole file logits:
 * every row is softmaxed. */
static void test_logits(void **state)
{
	const char text[] = "filename,a,b\r\nx.jpg,0,0\r\ny.jpg,2,-1\r\n"
			    "z.jpg,0.5,0.5\r\n";
	struct core_input in;
	double e3 = exp(3.0);

	(void)state;
	assert_int_equal(core_input_parse(P, text, sizeof(text) - 1, &in,
					  NULL, 0), 0);
	assert_int_equal(in.logits, 1);
	assert_true(fabs(in.x[0] - 0.5) < 1e-12);
	assert_true(fabs(in.x[2] - e3 / (e3 + 1)) < 1e-12);
	assert_true(fabs(in.x[3] - 1 / (e3 + 1)) < 1e-12);
	/* softmax(0.5, 0.5): equal, as the probabilities were */
	assert_true(fabs(in.x[4] - 0.5) < 1e-12);
	core_input_free(&in);
}

/* Hand-computed: p = (0.7, 0.2, 0.1), C = 3:
 *   least confidence = (1 - 0.7) / (1 - 1/3) = 0.45
 *   margin = 1 - (0.7 - 0.2) = 0.5
 *   entropy = -(0.7 ln 0.7 + 0.2 ln 0.2 + 0.1 ln 0.1) / ln 3
 *           = (0.249672 + 0.321888 + 0.230259) / 1.098612 = 0.729847
 * p = (1, 0): all three 0; p = (0.5, 0.5): all three 1. */
static void test_scores(void **state)
{
	double p1[] = { 0.7, 0.2, 0.1 }, p2[] = { 1, 0 }, p3[] = { 0.5, 0.5 };
	double p4[] = { 0.1, 0.3, 0.3, 0.3 };
	struct core_pred_scores s;

	(void)state;
	core_pred_scores(p1, 3, &s);
	assert_true(fabs(s.least_confidence - 0.45) < 1e-12);
	assert_true(fabs(s.margin - 0.5) < 1e-12);
	assert_true(fabs(s.entropy - 0.729847) < 1e-6);
	assert_int_equal(s.argmax, 0);
	core_pred_scores(p2, 2, &s);
	assert_true(s.least_confidence == 0 && s.margin == 0 &&
		    s.entropy == 0);
	core_pred_scores(p3, 2, &s);
	assert_true(fabs(s.least_confidence - 1) < 1e-12);
	assert_true(fabs(s.margin - 1) < 1e-12);
	assert_true(fabs(s.entropy - 1) < 1e-12);
	/* ties: the first class of highest probability; margin 1 */
	core_pred_scores(p4, 4, &s);
	assert_int_equal(s.argmax, 1);
	assert_true(fabs(s.margin - 1) < 1e-12);
	assert_true(fabs(s.least_confidence - 0.7 / 0.75) < 1e-12);
}

/* Row 2, p = (0.1, 0.1, 0.8): least confidence 0.2 / (2/3) = 0.3, margin
 * 1 - 0.7 = 0.3, entropy (2 * 0.230259 + 0.178515) / 1.098612 = 0.581672. */
static void test_scores_export(void **state)
{
	const char text[] = "filename,cat,dog,bird\r\na.jpg,0.7,0.2,0.1\r\n"
			    "\"b,c.jpg\",0.1,0.1,0.8\r\n";
	struct core_input in;
	struct tbuf b;
	char *out;
	size_t len;

	(void)state;
	assert_int_equal(core_input_parse(P, text, sizeof(text) - 1, &in,
					  NULL, 0), 0);
	tbuf_init(&b, 1 << 20);
	core_input_write_scores(&b, &in);
	assert_int_equal(tbuf_finish(&b, &out, &len), 0);
	assert_string_equal(out,
		"filename,uncertainty_least_confidence,uncertainty_margin,"
		"uncertainty_entropy,class\r\n"
		"a.jpg,0.45,0.5,0.729847,cat\r\n"
		"\"b,c.jpg\",0.3,0.3,0.581672,bird\r\n");
	free(out);
	core_input_free(&in);
}

static void test_metadata_good(void **state)
{
	const char text[] = "filename,weather,score,empty\n"
			    "a.jpg,sunny,1.5,\n"
			    "b.jpg,, 2 ,\n"
			    "c.jpg,rain,-1e3,\n";
	struct core_input in;

	(void)state;
	assert_int_equal(core_input_parse(M, text, sizeof(text) - 1, &in,
					  NULL, 0), 0);
	assert_int_equal(in.n, 3);
	assert_int_equal(in.ncols, 3);
	assert_int_equal(in.numeric[0], 0);
	assert_int_equal(in.numeric[1], 1);
	assert_int_equal(in.numeric[2], 1);
	assert_true(isnan(in.x[0]));
	assert_true(in.x[1] == 1.5 && in.x[4] == 2 && in.x[7] == -1000);
	assert_string_equal(in.cells[3], "");
	assert_string_equal(in.cells[6], "rain");
	core_input_free(&in);
}

/* ---- columns over a store ---- */

struct fx {
	char tmp[256], dir[256];
	store *st;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || tstore_open("incsv", f->tmp, sizeof(f->tmp), f->dir,
			      sizeof(f->dir), &f->st)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tstore_close(f->tmp, f->st);
	free(f);
	return 0;
}

static void put(store *st, int kind, const char *name, const char *text)
{
	struct store_input in;

	assert_int_equal(store_input_put(st, 7, kind, name, text, strlen(text),
					 2, 2, &in), 0);
	assert_string_equal(in.name, name);
	assert_int_equal(in.kind, kind);
	assert_int_equal(in.bytes, (int64_t)strlen(text));
}

static void test_columns(void **state)
{
	struct fx *f = *state;
	const char *paths[] = { "b.jpg", "nope.jpg", "a.jpg" };
	const char pred[] = "filename,cat,dog\r\na.jpg,0.8,0.2\r\n"
			    "b.jpg,0.4,0.6\r\n";
	struct sv_column c;
	char why[512], **names, *text;
	size_t n, len;

	(void)state;
	put(f->st, P, "m.v1", pred);
	put(f->st, M, "info", "filename,w,kind\na.jpg,3,x\nb.jpg,,y\n");

	assert_int_equal(core_column_load_paths(f->st, 7,
		"m.v1.uncertainty_margin", paths, 3, &c, why, sizeof(why)), 0);
	assert_int_equal(c.n, 3);
	assert_int_equal(c.categorical, 0);
	assert_true(fabs(c.v[0] - 0.8) < 1e-12);    /* 1 - (0.6 - 0.4) */
	assert_true(isnan(c.v[1]));
	assert_true(fabs(c.v[2] - 0.4) < 1e-12);    /* 1 - (0.8 - 0.2) */
	sv_column_free(&c);

	assert_int_equal(core_column_load_paths(f->st, 7, "m.v1.class", paths,
						3, &c, why, sizeof(why)), 0);
	assert_int_equal(c.categorical, 1);
	assert_int_equal(c.ncat, 2);
	assert_string_equal(c.names[1], "dog");
	assert_int_equal(c.cat[0], 1);
	assert_int_equal(c.cat[1], -1);
	assert_int_equal(c.cat[2], 0);
	sv_column_free(&c);

	assert_int_equal(core_column_load_paths(f->st, 7, "m.v1.dog", paths,
						3, &c, why, sizeof(why)), 0);
	assert_true(fabs(c.v[0] - 0.6) < 1e-12);
	sv_column_free(&c);

	assert_int_equal(core_column_load_paths(f->st, 7, "info.w", paths, 3,
						&c, why, sizeof(why)), 0);
	assert_true(isnan(c.v[0]) && isnan(c.v[1]) && c.v[2] == 3);
	sv_column_free(&c);
	assert_int_equal(core_column_load_paths(f->st, 7, "info.kind", paths,
						3, &c, why, sizeof(why)), 0);
	assert_int_equal(c.categorical, 1);
	assert_int_equal(c.ncat, 2);
	assert_string_equal(c.names[c.cat[0]], "y");
	assert_int_equal(c.cat[1], -1);
	assert_string_equal(c.names[c.cat[2]], "x");
	sv_column_free(&c);

	/* refusals with their reasons */
	assert_int_equal(core_column_load_paths(f->st, 7, "x.y", paths, 3, &c,
						why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "no input named 'x' (predictions: m.v1; "
			    "metadata: info)");
	assert_int_equal(core_column_load_paths(f->st, 7, "info.h", paths, 3,
						&c, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "no column 'h' in metadata/info.csv "
			    "(columns: w, kind)");
	assert_int_equal(core_column_load_paths(f->st, 8, "info.w", paths, 3,
						&c, why, sizeof(why)), -EINVAL);
	assert_string_equal(why, "no input named 'info' (this dataset has no "
			    "predictions or metadata)");
	assert_null(c.v);

	assert_int_equal(core_column_list(f->st, 7, &names, &n), 0);
	assert_int_equal(n, 15);       /* and the 7 builtin.* */
	assert_string_equal(names[0], "m.v1.uncertainty_least_confidence");
	assert_string_equal(names[3], "m.v1.class");
	assert_string_equal(names[5], "m.v1.dog");
	assert_string_equal(names[7], "info.kind");
	assert_string_equal(names[14], "builtin.file_size");
	core_column_list_free(names, n);

	/* the text is kept byte for byte */
	struct store_input in;
	assert_int_equal(store_input_get(f->st, 7, P, "m.v1", &in), 0);
	assert_int_equal(store_input_text(f->st, in.id, &text, &len), 0);
	assert_int_equal(len, sizeof(pred) - 1);
	assert_memory_equal(text, pred, len);
	free(text);
	assert_int_equal(store_input_delete(f->st, in.id), 0);
	assert_int_equal(store_input_delete(f->st, in.id), -ENOENT);
	assert_int_equal(store_input_get(f->st, 7, P, "m.v1", &in), -ENOENT);
}

/* core_column_load_inputs_paths: every column core_column_list names,
 * as core_column_load_paths gives each alone (the input parsed once for
 * all its columns), builtin.* left empty; an unknown name is -EINVAL with
 * why and nothing left allocated. */
static void test_columns_inputs(void **state)
{
	struct fx *f = *state;
	const char *paths[] = { "b.jpg", "nope.jpg", "a.jpg" };
	const char pred[] = "filename,cat,dog\r\na.jpg,0.8,0.2\r\n"
			    "b.jpg,0.4,0.6\r\n";
	const char meta[] = "filename,w,kind\na.jpg,3,x\nb.jpg,,y\n";
	struct store_input in;
	struct sv_column *all, one, bad[2];
	char why[512], **names;
	char *badnames[] = { "info.w", "info.h" };
	size_t n;

	assert_int_equal(store_input_put(f->st, 9, P, "m.v1", pred,
					 strlen(pred), 2, 2, &in), 0);
	assert_int_equal(store_input_put(f->st, 9, M, "info", meta,
					 strlen(meta), 2, 2, &in), 0);
	assert_int_equal(core_column_list(f->st, 9, &names, &n), 0);
	assert_int_equal(n, 15);
	all = calloc(n, sizeof(*all));
	assert_non_null(all);
	assert_int_equal(core_column_load_inputs_paths(f->st, 9, names, n,
						       paths, 3, all, why,
						       sizeof(why)), 0);
	for (size_t k = 0; k < n; k++) {
		if (!strncmp(names[k], "builtin.", 8)) {
			assert_int_equal(all[k].n, 0);
			assert_null(all[k].v);
			continue;
		}
		assert_int_equal(core_column_load_paths(f->st, 9, names[k],
							paths, 3, &one, why,
							sizeof(why)), 0);
		assert_int_equal(all[k].n, one.n);
		assert_int_equal(all[k].categorical, one.categorical);
		assert_int_equal(all[k].ncat, one.ncat);
		for (size_t j = 0; j < one.ncat; j++)
			assert_string_equal(all[k].names[j], one.names[j]);
		for (size_t i = 0; i < one.n; i++) {
			if (one.categorical)
				assert_int_equal(all[k].cat[i], one.cat[i]);
			else if (isnan(one.v[i]))
				assert_true(isnan(all[k].v[i]));
			else
				assert_true(all[k].v[i] == one.v[i]);
		}
		sv_column_free(&one);
		sv_column_free(&all[k]);
	}
	free(all);
	core_column_list_free(names, n);

	assert_int_equal(core_column_load_inputs_paths(f->st, 9, badnames, 2,
						       paths, 3, bad, why,
						       sizeof(why)), -EINVAL);
	assert_string_equal(why, "no column 'h' in metadata/info.csv "
			    "(columns: w, kind)");
	assert_null(bad[0].v);
	assert_int_equal(bad[0].n, 0);
}

/* A committed file `name` holding data[0..len) in ds's initial-tag. */
static void put_file(store *st, const struct store_dataset *ds,
		     const char *name, const void *data, size_t len)
{
	assert_int_equal(tstore_put_file(st, ds->live_root, name, data, len,
					 NULL), 0);
}

/* builtin.* columns: computed on load for the samples asked for (a red +
 * blue PPM: brightness 0.2065, colourfulness 1.069093, 2 x 1), NAN for a
 * file that is not an image and for an unknown path; file_size for any
 * file; then cached (core_imgmeta_cached finds it). */
static void test_builtin_columns(void **state)
{
	struct fx *f = *state;
	static const char ppm[] = "P6\n2 1\n255\n\xff\x00\x00\x00\x00\xff";
	const char *paths[] = { "rb.ppm", "note.txt", "nope" };
	struct store_dataset d;
	struct sv_column c;
	struct emb_imgstats v;
	char why[512];

	assert_int_equal(store_dataset_create(f->st, "", "bi", &d), 0);
	put_file(f->st, &d, "rb.ppm", ppm, sizeof(ppm) - 1);
	put_file(f->st, &d, "note.txt", "hello", 5);
	assert_int_equal(core_column_load_paths(f->st, d.id,
		"builtin.colourfulness", paths, 3, &c, why, sizeof(why)), 0);
	assert_int_equal(c.categorical, 0);
	assert_true(fabs(c.v[0] - 1.069093) < 1e-5);
	assert_true(isnan(c.v[1]) && isnan(c.v[2]));
	sv_column_free(&c);
	assert_int_equal(core_column_load_paths(f->st, d.id, "builtin.width",
						paths, 3, &c, why, sizeof(why)), 0);
	assert_true(c.v[0] == 2);
	sv_column_free(&c);
	assert_int_equal(core_column_load_paths(f->st, d.id,
		"builtin.file_size", paths, 3, &c, why, sizeof(why)), 0);
	assert_true(c.v[0] == sizeof(ppm) - 1 && c.v[1] == 5 && isnan(c.v[2]));
	sv_column_free(&c);
	assert_int_equal(core_column_load_paths(f->st, d.id, "builtin.hue",
						paths, 3, &c, why, sizeof(why)),
			 -EINVAL);
	assert_string_equal(why, "no column 'hue' in metadata/builtin.csv "
			    "(columns: width, height, brightness, contrast, "
			    "sharpness, colourfulness, file_size)");
	/* the value is cached per content hash now */
	unsigned char sha[STORE_SHA_LEN];
	{
		char tmp[] = "/tmp/sievefs-i21a-ppm-XXXXXX";
		int t = mkstemp(tmp);
		assert_true(t >= 0);
		assert_int_equal(write(t, ppm, sizeof(ppm) - 1),
				 (ssize_t)(sizeof(ppm) - 1));
		assert_int_equal(store_sha256_fd(t, sha), 0);
		close(t);
		unlink(tmp);
	}
	assert_int_equal(core_imgmeta_cached(f->st, sha, &v), 0);
	assert_true(fabs(v.v[2] - 0.2065) < 1e-6);
}

/* A committed file whose blob is then removed: its bytes are not here,
 * as an upload=meta sample's on the server. */
static void put_file_gone(struct fx *f, const struct store_dataset *ds,
			  const char *name, const char *data)
{
	unsigned char sha[STORE_SHA_LEN];
	char hex[65], path[4200], tmp[] = "/tmp/sievefs-i21a-gone-XXXXXX";
	int t = mkstemp(tmp);

	put_file(f->st, ds, name, data, strlen(data));
	assert_true(t >= 0);
	assert_int_equal(write(t, data, strlen(data)), (ssize_t)strlen(data));
	assert_int_equal(store_sha256_fd(t, sha), 0);
	close(t);
	unlink(tmp);
	store_sha_hex(sha, hex);
	snprintf(path, sizeof(path), "%s/blobs/%.2s/%s", f->dir, hex, hex);
	assert_int_equal(unlink(path), 0);
}

/* The background filler of builtin.csv: a kick over a tree missing values
 * starts a pass, which caches what it can; a file whose bytes are not
 * here stays missing, and a kick missing no more than that pass left
 * starts no new pass (without this, every stat of builtin.csv walked the
 * whole tree again); a tree missing more starts one, and so does a tree
 * changed since that pass (the file uploaded again with its bytes). */
static void test_filler(void **state)
{
	struct fx *f = *state;
	static const char ppm[] = "P6\n1 1\n255\n\x10\x20\x30";
	struct core_imgmeta_filler *fl;
	struct core_blobs *b;
	struct store_dataset d;
	char *text = NULL;
	size_t len, missing = 0;

	assert_int_equal(store_dataset_create(f->st, "", "fill", &d), 0);
	put_file(f->st, &d, "one.ppm", ppm, sizeof(ppm) - 1);
	put_file(f->st, &d, "two.txt", "two", 3);
	put_file_gone(f, &d, "three.txt", "bytes kept elsewhere");
	assert_int_equal(core_blobs_open(f->st, &b), 0);
	assert_non_null(fl = core_imgmeta_filler_new(f->st, b));
	assert_int_equal(core_imgmeta_csv(f->st, b, d.live_tree, &text, &len,
					  &missing), 0);
	free(text);
	assert_int_equal(missing, 3);
	assert_int_equal(core_imgmeta_filler_kick(fl, d.live_tree, missing), 1);
	for (int i = 0; i < 500 && missing > 1; i++) {
		usleep(10000);
		assert_int_equal(core_imgmeta_csv(f->st, b, d.live_tree, &text,
						  &len, &missing), 0);
		free(text);
	}
	assert_int_equal(missing, 1);       /* three.txt: bytes not here */
	/* while the pass ends, and after: the one it could not cache starts
	 * nothing (a kick that started a pass would answer 1) */
	for (int i = 0; i < 300; i++) {
		assert_int_equal(core_imgmeta_filler_kick(fl, d.live_tree, 1),
				 0);
		usleep(1000);
	}
	assert_int_equal(core_imgmeta_filler_kick(fl, d.live_tree, 2), 1);
	/* three.txt uploaded again, its bytes here now: as many missing as
	 * that pass left, but the tree changed, so a kick starts a pass, and
	 * it caches three.txt */
	{
		struct store_node n;
		unsigned char sha[STORE_SHA_LEN];
		char staged[4096];
		int fd, rc = 0;

		usleep(300000);     /* the pass just kicked ends (as above) */
		assert_int_equal(store_node_lookup(f->st, d.live_root,
						   "three.txt", &n), 0);
		fd = store_staging_create(f->st, staged, sizeof(staged));
		assert_true(fd >= 0);
		assert_int_equal(write(fd, "three, whole", 12), 12);
		assert_int_equal(store_sha256_fd(fd, sha), 0);
		assert_int_equal(store_node_commit(f->st, n.ino, fd, staged,
						   sha, 12, 0, 0), 0);
		close(fd);
		for (int i = 0; i < 500 && rc != 1; i++) {
			rc = core_imgmeta_filler_kick(fl, d.live_tree, 1);
			if (rc != 1)
				usleep(10000);
		}
		assert_int_equal(rc, 1);
		for (int i = 0; i < 500 && missing > 0; i++) {
			usleep(10000);
			assert_int_equal(core_imgmeta_csv(f->st, b,
							  d.live_tree, &text,
							  &len, &missing), 0);
			free(text);
		}
		assert_int_equal(missing, 0);
	}
	core_imgmeta_filler_free(fl);
	core_blobs_free(b);
}

int main(void)
{
	/* one group (its setup opens the store the column case uses), so the
	 * run's count is every case */
	const struct CMUnitTest cases[] = {
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_check_malformed),
		cmocka_unit_test(test_predictions_good),
		cmocka_unit_test(test_logits),
		cmocka_unit_test(test_scores),
		cmocka_unit_test(test_scores_export),
		cmocka_unit_test(test_metadata_good),
		cmocka_unit_test(test_columns),
		cmocka_unit_test(test_columns_inputs),
		cmocka_unit_test(test_builtin_columns),
		cmocka_unit_test(test_filler),
	};

	return cmocka_run_group_tests_name("incsv", cases, setup, teardown);
}
