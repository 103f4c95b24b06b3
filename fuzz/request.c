/*
 * fuzz/request.c — libFuzzer harness for the `sample` request grammar
 * (core_req_parse in core/runs.c).
 *
 * Feeds: the input bytes, cut at the first NUL, as one request line (what a
 * write to DATASET/sample or POST /v1/datasets/{id}/sample carries).
 *
 * Checks: no crash, no ASan/UBSan error; a failure says why; a success is
 * well-formed (a known kind; a known strategy; n >= 0, > 0 for keep;
 * names NUL-terminated and valid; min_distance finite, >= 0, coreset or
 * a selection only; a selection (strategy "select", core/request.c) has
 * 1..8 known objectives with strengths in (0, 100] and its thresholds
 * known operators).
 * Property: the parsed request printed in canonical form (harness-side
 * printer: only the fields that differ from the defaults) parses again to
 * the same request.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <string.h>

#include "core/names.h"
#include "core/runs.h"
#include "fuzz/fuzz.h"

static const char *const known[] = {
	"random", "coreset", "typicality", "kmeans", "balance", "select",
};

static int known_strategy(const char *s)
{
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(s, known[i]))
			return 1;
	return 0;
}

static void print_req(const struct core_req *q, char *buf, size_t len)
{
	size_t o = 0;

#define PUT(...) o += (size_t)snprintf(buf + o, o < len ? len - o : 0, __VA_ARGS__)
	switch (q->kind) {
	case REQ_CANCEL:
		PUT("cancel");
		break;
	case REQ_KEEP:
		PUT("keep %" PRId64, q->n);
		break;
	case REQ_EMBED:
		PUT("embed");
		if (q->dim)
			PUT(" dim=%d", q->dim);
		if (q->color >= 0)
			PUT(" color=%s", q->color ? "on" : "off");
		break;
	case REQ_SAMPLE:
		if (q->sel.on) {
			core_objs_format(q, buf, len);
			break;
		}
		PUT("%s", q->strategy);
		if (q->n)
			PUT(" n=%" PRId64, q->n);
		if (q->from[0])
			PUT(" from=%s", q->from);
		if (q->embedding[0])
			PUT(" embedding=%s", q->embedding);
		if (q->seed)
			PUT(" seed=%" PRIu64, q->seed);
		if (q->min_distance > 0)
			PUT(" min_distance=%.9g", (double)q->min_distance);
		break;
	}
#undef PUT
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct core_req q, q2;
	char *line, msg[512], text[2048];
	int rc;

	line = malloc(size + 1);
	if (!line)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	msg[0] = '\0';
	rc = core_req_parse(line, &q, msg, sizeof(msg));
	free(line);
	if (rc) {
		check(rc == -EINVAL, "fails with EINVAL");
		check(msg[0] != '\0', "an EINVAL says why");
		check(memchr(msg, '\0', sizeof(msg)) != NULL, "message ends");
		return 0;
	}
	check(q.kind == REQ_SAMPLE || q.kind == REQ_KEEP ||
	      q.kind == REQ_CANCEL || q.kind == REQ_EMBED, "a known kind");
	check(memchr(q.strategy, '\0', sizeof(q.strategy)) != NULL, "strategy ends");
	check(memchr(q.from, '\0', sizeof(q.from)) != NULL, "from ends");
	check(memchr(q.embedding, '\0', sizeof(q.embedding)) != NULL,
	      "embedding ends");
	check(q.n >= 0 && q.n <= INT32_MAX, "n in 0..INT32_MAX");
	check(q.kind != REQ_KEEP || q.n > 0, "keep has a count");
	check(q.kind != REQ_SAMPLE || known_strategy(q.strategy),
	      "a known strategy");
	check(!q.from[0] || core_name_valid(q.from), "from is a valid name");
	check(!q.embedding[0] || core_name_valid(q.embedding),
	      "embedding is a valid name");
	check(isfinite(q.min_distance) && q.min_distance >= 0,
	      "min_distance finite and >= 0");
	check(q.min_distance == 0 || !strcmp(q.strategy, "coreset") ||
	      q.sel.on, "min_distance only for coreset or a selection");
	check(q.sel.on == !strcmp(q.strategy, "select"),
	      "a selection is strategy select");
	if (q.sel.on) {
		check(q.sel.nobj >= 1 && q.sel.nobj <= CORE_OBJS_MAX &&
		      q.sel.nthr <= CORE_OBJS_MAX, "objective counts");
		for (size_t i = 0; i < q.sel.nobj; i++)
			check(q.sel.obj[i].strength > 0 &&
			      q.sel.obj[i].strength <= 100, "strength range");
		for (size_t i = 0; i < q.sel.nthr; i++)
			check(q.sel.thr[i].op >= 0 && q.sel.thr[i].op <= 3 &&
			      isfinite(q.sel.thr[i].value), "a known operator");
		check(q.sel.proportion >= 0 && q.sel.proportion <= 1,
		      "proportion range");
	}

	print_req(&q, text, sizeof(text));
	msg[0] = '\0';
	rc = core_req_parse(text, &q2, msg, sizeof(msg));
	if (rc)
		fprintf(stderr, "re-parse of '%s' failed: %s\n", text, msg);
	check(rc == 0, "the canonical form parses again");
	check(q2.kind == q.kind && !strcmp(q2.strategy, q.strategy) &&
	      q2.n == q.n && !strcmp(q2.from, q.from) &&
	      !strcmp(q2.embedding, q.embedding) && q2.seed == q.seed &&
	      q2.min_distance == q.min_distance && q2.dim == q.dim &&
	      q2.color == q.color &&
	      !memcmp(&q2.sel, &q.sel, sizeof(q.sel)),
	      "the same request after the round trip");
	return 0;
}
