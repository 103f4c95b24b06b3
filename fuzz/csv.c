/*
 * fuzz/csv.c — libFuzzer harness for the embeddings CSV parser
 * (core_csv_parse in core/csv.c).
 *
 * Feeds: the input bytes as a whole CSV file, as an upload of
 * `embeddings/NAME.csv` does (not NUL-terminated; the harness passes the
 * length, so reading past it is an ASan error).
 *
 * Checks: no crash, no ASan/UBSan error, no leak; a failure leaves *out zeroed
 * and a NUL-terminated message; a success has n >= 1 rows of d >= 1 dims.
 * Property (cheap, found by the writer's round trip): what parses, written
 * back with core_csv_write, parses again to the same rows — same names,
 * labels and float32 bits (any NaN equals any NaN). And the checker that
 * judges a file as it is written (core_csv_check_feed), fed the same bytes
 * in pieces whose sizes come from the input, refuses only what the whole
 * parse refuses, with the same message.
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include "core/csv.h"
#include "core/text.h"
#include "fuzz/fuzz.h"

static int same_float(float a, float b)
{
	if (isnan(a) || isnan(b))
		return isnan(a) && isnan(b);
	return memcmp(&a, &b, sizeof(a)) == 0;
}

static void round_trip(const struct core_emb *e)
{
	struct core_emb e2;
	struct tbuf b;
	char msg[512], *text = NULL;
	size_t len = 0;
	int rc;

	tbuf_init(&b, (size_t)1 << 28);
	core_csv_write(&b, e->n, e->d, (const char *const *)e->names, e->x,
		       e->labels);
	if (tbuf_finish(&b, &text, &len))
		return;                  /* out of memory: not a finding */
	rc = core_csv_parse(text, len, &e2, msg, sizeof(msg));
	if (rc)
		fprintf(stderr, "re-parse failed: %s\n", msg);
	check(rc == 0, "a written CSV parses again");
	check(e2.n == e->n && e2.d == e->d, "same shape after the round trip");
	for (size_t i = 0; i < e->n; i++)
		check(!strcmp(e2.names[i], e->names[i]), "same names");
	check(!memcmp(e2.labels, e->labels, e->n * sizeof(*e->labels)),
	      "same labels");
	for (size_t i = 0; i < e->n * e->d; i++)
		check(same_float(e2.x[i], e->x[i]), "same float32 values");
	core_csv_free(&e2);
	free(text);
}

/* Feeds the checker in pieces of 1..64 bytes (sizes from the data). A
 * refusal must be the whole parse's: rc and message equal. */
static void check_in_pieces(const uint8_t *data, size_t size, int rc,
			    const char *msg)
{
	struct core_csv_check *ck = core_csv_check_new();
	char cmsg[512] = "";
	int crc = 0;

	if (!ck)
		return;
	for (size_t o = 0, k; o < size && !crc; o += k) {
		k = 1 + data[o] % 64;
		if (k > size - o)
			k = size - o;
		crc = core_csv_check_feed(ck, (const char *)data + o, k, cmsg,
					  sizeof(cmsg));
	}
	core_csv_check_free(ck);
	if (crc == -ENOMEM || rc == -ENOMEM)
		return;
	if (crc)
		fprintf(stderr, "checker: %s / parse: %s\n", cmsg, msg);
	check(!crc || rc == crc, "the checker refuses only what the parse does");
	check(!crc || !strcmp(cmsg, msg), "with the parse's message");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct core_emb zero;
	struct core_emb e;
	char msg[512];
	int rc;

	msg[0] = '\0';
	rc = core_csv_parse((const char *)data, size, &e, msg, sizeof(msg));
	check_in_pieces(data, size, rc, msg);
	if (rc) {
		check(rc == -EINVAL || rc == -ENOMEM, "fails with EINVAL");
		check(!memcmp(&e, &zero, sizeof(e)), "*out zeroed on failure");
		check(memchr(msg, '\0', sizeof(msg)) != NULL, "message ends");
		check(rc != -EINVAL || msg[0], "an EINVAL says why");
		return 0;
	}
	check(e.n >= 1 && e.d >= 1, "n >= 1 rows of d >= 1 dims");
	for (size_t i = 0; i < e.n; i++)
		check(e.names[i] != NULL, "every row has a name");
	round_trip(&e);
	core_csv_free(&e);
	return 0;
}
