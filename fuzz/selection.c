/*
 * fuzz/selection.c — libFuzzer harness for the `selection` text parser
 * (core_sel_parse in core/names.c).
 *
 * Feeds: the input bytes as the text a user writes to DATASET/selection
 * (length-delimited, not NUL-terminated).
 *
 * Checks: no crash, no ASan/UBSan error, no leak (core_sel_free after both
 * outcomes); a failure says why; every parsed path is non-empty, has no
 * newline, is relative (no leading '/'), with strictly increasing line
 * numbers. Property: parse → print → parse gives the same `from` and the
 * same paths, printing as the daemon prints the file (l_selection_read in
 * core/local.c: one path per line, "\n"), with the "# from: TAG" first line
 * when a tag was named. Two kinds of path are left out of the property, as
 * the line format cannot carry them: one ending in CR (it reads back without
 * the CR, like a name holding a newline), and one starting "# from:" printed
 * on line 1 (it reads back as the tag line). Issue 10 item 7 gives the
 * format an escaping; when it lands, print with it here and drop both
 * exemptions.
 */
#include <errno.h>
#include <string.h>

#include "core/names.h"
#include "core/text.h"
#include "fuzz/fuzz.h"

/* 1 if the current line format can carry every path of s. */
static int printable(const struct core_sel *s)
{
	if (!s->from && s->n && !strncmp(s->paths[0], "# from:", 7))
		return 0;
	for (size_t i = 0; i < s->n; i++) {
		size_t l = strlen(s->paths[i]);
		if (l && s->paths[i][l - 1] == '\r')
			return 0;
	}
	return 1;
}

static void round_trip(const struct core_sel *s)
{
	struct core_sel s2;
	struct tbuf b;
	char msg[512], *text = NULL;
	size_t len = 0;
	int rc;

	tbuf_init(&b, (size_t)1 << 28);
	if (s->from)
		tbuf_printf(&b, "# from: %s\n", s->from);
	for (size_t i = 0; i < s->n; i++) {
		tbuf_put(&b, s->paths[i], strlen(s->paths[i]));
		tbuf_put(&b, "\n", 1);
	}
	if (tbuf_finish(&b, &text, &len))
		return;                  /* out of memory: not a finding */
	msg[0] = '\0';
	rc = core_sel_parse(text, len, &s2, msg, sizeof(msg));
	if (rc)
		fprintf(stderr, "re-parse failed: %s\n", msg);
	check(rc == 0, "a printed selection parses again");
	check(!s->from == !s2.from && (!s->from || !strcmp(s->from, s2.from)),
	      "same from tag");
	check(s2.n == s->n, "same number of paths");
	for (size_t i = 0; i < s->n; i++)
		check(!strcmp(s2.paths[i], s->paths[i]), "same paths");
	core_sel_free(&s2);
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct core_sel s;
	char msg[512];
	int rc;

	msg[0] = '\0';
	rc = core_sel_parse((const char *)data, size, &s, msg, sizeof(msg));
	if (rc) {
		check(rc == -EINVAL || rc == -ENOMEM, "fails with EINVAL");
		check(rc != -EINVAL || msg[0], "an EINVAL says why");
		core_sel_free(&s);
		return 0;
	}
	for (size_t i = 0; i < s.n; i++) {
		check(s.paths[i][0] != '\0', "no empty path");
		check(s.paths[i][0] != '/', "no absolute path");
		check(!strchr(s.paths[i], '\n'), "no newline in a path");
		check(i == 0 || s.lines[i] > s.lines[i - 1], "lines increase");
	}
	if (printable(&s))
		round_trip(&s);
	core_sel_free(&s);
	return 0;
}
