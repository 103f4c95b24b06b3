/*
 * inputs.c — see inputs.h. An upload is parsed whole (core_input_parse:
 * the same rules as the checker that judged its writes), its rows matched
 * against the live tree to count what names a sample, then stored as the
 * bytes that came (so NAME.csv reads back byte for byte). A name of the
 * predictions folder may not end in ".scores": NAME.scores.csv is the
 * scores export of NAME.csv.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/incsv.h"
#include "core/inputs.h"
#include "core/names.h"
#include "core/text.h"

static int name_ok(int kind, const char *name)
{
	size_t l = strlen(name);

	if (!core_name_valid(name))
		return 0;
	if (kind == CORE_INPUT_PREDICTIONS && l >= 7 &&
	    !strcmp(name + l - 7, ".scores"))
		return 0;
	return kind != CORE_INPUT_METADATA || strcmp(name, "builtin");
}

int core_input_put(store *st, int64_t ds, int64_t live_tree, int kind,
		   const char *name, const char *text, size_t len, char *line,
		   size_t linelen)
{
	const char *folder = core_input_kind_name(kind);
	struct core_input in;
	struct store_input si;
	char why[512], skipped[400] = "";
	size_t kept = 0, nskip = 0;
	unsigned char *has = NULL;
	int rc;

	if (!folder)
		return -EINVAL;
	if (!name_ok(kind, name)) {
		snprintf(line, linelen, "%s/%.200s.csv: '%.200s' is not a valid"
			 " name%s", folder, name, name,
			 kind == CORE_INPUT_PREDICTIONS ?
			 " (NAME.scores.csv is NAME.csv's scores)" :
			 !strcmp(name, "builtin") ? " (builtin.csv is computed"
			 " by sievefs)" : "");
		return -EINVAL;
	}
	rc = core_input_parse(kind, text, len, &in, why, sizeof(why));
	if (rc) {
		snprintf(line, linelen, "%s/%s.csv not stored: %s", folder,
			 name, why);
		return rc;
	}
	has = malloc(in.n ? in.n : 1);
	rc = has ? store_tree_has_files(st, live_tree, in.names, in.n, has)
		 : -ENOMEM;
	for (size_t i = 0; i < in.n && !rc; i++) {
		if (has[i]) {
			kept++;
		} else {
			size_t o = strlen(skipped);
			if (nskip < 3 && o < sizeof(skipped) - 120)
				snprintf(skipped + o, sizeof(skipped) - o,
					 "%s '%.100s'", nskip ? "," : "",
					 in.names[i]);
			nskip++;
		}
	}
	if (rc < 0)
		goto out;
	if (!kept) {
		snprintf(line, linelen, "%s/%s.csv not stored: no row names a"
			 " sample of initial-tag (%zu row%s:%s%s)", folder,
			 name, nskip, core_s((long long)nskip), skipped,
			 nskip > 3 ? ", ..." : "");
		rc = -EINVAL;
		goto out;
	}
	rc = store_input_put(st, ds, kind, name, text, len, (int64_t)kept,
			     (int64_t)in.ncols, &si);
	if (!rc) {
		int o = snprintf(line, linelen, "%s '%s' stored: %zu sample%s, "
				 "%zu %s", folder, name, kept,
				 core_s((long long)kept), in.ncols,
				 kind == CORE_INPUT_PREDICTIONS ?
				 (in.ncols == 1 ? "class" : "classes") :
				 (in.ncols == 1 ? "column" : "columns"));
		if (o > 0 && (size_t)o < linelen && in.logits)
			o += snprintf(line + o, linelen - (size_t)o,
				      " (logits: softmaxed)");
		if (o > 0 && (size_t)o < linelen && nskip)
			snprintf(line + o, linelen - (size_t)o, " (skipped %zu"
				 " row%s naming no sample:%s%s)", nskip,
				 core_s((long long)nskip), skipped,
				 nskip > 3 ? ", ..." : "");
	}
out:
	free(has);
	core_input_free(&in);
	return rc;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

int core_input_export(store *st, const struct store_input *in, int what,
		      int fd)
{
	struct core_input p;
	struct tbuf b;
	char *text = NULL, *out = NULL;
	size_t len = 0, olen = 0;
	int rc;

	if (what == CORE_INPUT_SCORES && in->kind != CORE_INPUT_PREDICTIONS)
		return -EINVAL;
	rc = store_input_text(st, in->id, &text, &len);
	if (rc)
		return rc;
	if (what == CORE_INPUT_TEXT) {
		rc = write_all(fd, text, len);
		free(text);
		return rc;
	}
	rc = core_input_parse(in->kind, text, len, &p, NULL, 0);
	free(text);
	if (rc)
		return rc == -EINVAL ? -EIO : rc;
	tbuf_init(&b, (size_t)1 << 30);
	core_input_write_scores(&b, &p);
	core_input_free(&p);
	rc = tbuf_finish(&b, &out, &olen);
	if (!rc)
		rc = write_all(fd, out, olen);
	free(out);
	return rc;
}
