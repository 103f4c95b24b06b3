/*
 * fuzz/selection.c — libFuzzer harness for the `selection` text parser
 * (core_sel_parse in core/names.c).
 *
 * Feeds: the input bytes as the text a user writes to DATASET/selection
 * (length-delimited, not NUL-terminated).
 *
 * Checks: no crash, no ASan/UBSan error, no leak (core_sel_free after both
 * outcomes); a failure says why; every parsed path is non-empty and
 * relative (no leading '/'), with strictly increasing line numbers.
 * Property: parse → print → parse gives the same `from` and the same paths,
 * printing as the daemon prints the file (l_selection_read in core/local_text.c:
 * tbuf_put_path_line, which quotes a path that would not read back as
 * itself), with the "# from: TAG" first line when a tag was named. The
 * property covers selections whose paths are all paths a tree can hold
 * (every component passes core_component_check: no empty, "." or ".."
 * component), as only those are ever printed; the parser also accepts lines
 * no tree path matches (e.g. a quoted "./x", taken literally), which then
 * fail as "not a sample" when the selection is applied.
 */
#include <errno.h>
#include <string.h>

#include "core/names.h"
#include "core/text.h"
#include "fuzz/fuzz.h"
#include "store/store.h"

/* 1 if every path of s is one a tree can hold. */
static int tree_paths(const struct core_sel *s)
{
	char comp[STORE_NAME_MAX + 2];

	for (size_t i = 0; i < s->n; i++) {
		const char *p = s->paths[i];
		for (;;) {
			const char *sl = strchr(p, '/');
			size_t l = sl ? (size_t)(sl - p) : strlen(p);
			if (l >= sizeof(comp))
				return 0;
			memcpy(comp, p, l);
			comp[l] = '\0';
			if (core_component_check(comp))
				return 0;
			if (!sl)
				break;
			p = sl + 1;
		}
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
	for (size_t i = 0; i < s->n; i++)
		tbuf_put_path_line(&b, s->paths[i]);
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
		check(i == 0 || s.lines[i] > s.lines[i - 1], "lines increase");
	}
	if (tree_paths(&s))
		round_trip(&s);
	core_sel_free(&s);
	return 0;
}
