/*
 * fuzz/incsv.c — libFuzzer harness for the predictions/ and metadata/ CSV
 * parser (core_input_parse in core/incsv.c; issue 21, i21a).
 *
 * Feeds: the first byte picks the kind (even: predictions, odd: metadata),
 * the rest is the whole CSV file, as an upload of predictions/NAME.csv or
 * metadata/NAME.csv does (not NUL-terminated: reading past it is an ASan
 * error).
 *
 * Checks: no crash, no ASan/UBSan error, no leak; a failure leaves *out
 * zeroed and says why; a success has n >= 1 rows and the kind's columns;
 * predictions rows are probabilities (each in [0, 1], summing to 1) and
 * their scores are in [0, 1]. And the checker that judges a file as it is
 * written (core_input_check_feed), fed the same bytes in pieces whose sizes
 * come from the input, refuses only what the whole parse refuses, with the
 * same message.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "core/incsv.h"
#include "fuzz/fuzz.h"

static void check_in_pieces(int kind, const uint8_t *data, size_t size,
			    int rc, const char *msg)
{
	struct core_input_check *ck = core_input_check_new(kind);
	char cmsg[512] = "";
	int crc = 0;

	if (!ck)
		return;
	for (size_t o = 0, k; o < size && !crc; o += k) {
		k = 1 + data[o] % 64;
		if (k > size - o)
			k = size - o;
		crc = core_input_check_feed(ck, (const char *)data + o, k, cmsg,
					    sizeof(cmsg));
	}
	core_input_check_free(ck);
	if (crc == -ENOMEM || rc == -ENOMEM)
		return;
	if (crc)
		fprintf(stderr, "checker: %s / parse: %s\n", cmsg, msg);
	check(!crc || rc == crc, "the checker refuses only what the parse does");
	check(!crc || !strcmp(cmsg, msg), "with the parse's message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct core_input zero;
	struct core_input in;
	struct core_pred_scores s;
	char msg[512];
	int kind, rc;

	if (size < 1)
		return 0;
	kind = data[0] % 2 ? CORE_INPUT_METADATA : CORE_INPUT_PREDICTIONS;
	data++;
	size--;
	msg[0] = '\0';
	rc = core_input_parse(kind, (const char *)data, size, &in, msg,
			      sizeof(msg));
	check_in_pieces(kind, data, size, rc, msg);
	if (rc) {
		check(rc == -EINVAL || rc == -ENOMEM, "fails with EINVAL");
		check(!memcmp(&in, &zero, sizeof(in)), "*out zeroed on failure");
		check(rc != -EINVAL || msg[0], "an EINVAL says why");
		return 0;
	}
	check(in.n >= 1, "n >= 1 rows");
	check(in.ncols >= (kind == CORE_INPUT_PREDICTIONS ? 2u : 1u),
	      "the kind's columns");
	for (size_t i = 0; kind == CORE_INPUT_PREDICTIONS && i < in.n; i++) {
		const double *p = in.x + i * in.ncols;
		double sum = 0;
		for (size_t k = 0; k < in.ncols; k++) {
			check(p[k] >= 0 && p[k] <= 1, "probabilities in [0, 1]");
			sum += p[k];
		}
		check(fabs(sum - 1) < 1e-6, "a row sums to 1");
		core_pred_scores(p, in.ncols, &s);
		check(s.least_confidence >= 0 && s.least_confidence <= 1 &&
		      s.margin >= 0 && s.margin <= 1 && s.entropy >= 0 &&
		      s.entropy <= 1 && s.argmax < in.ncols, "scores in [0, 1]");
	}
	core_input_free(&in);
	return 0;
}
