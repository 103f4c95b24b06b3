/*
 * fuzz/json.c — libFuzzer harness for the JSON decoders of the v1 wire
 * format (api/json.c): every api_*_from_json, the field helpers, and the
 * error-body reader.
 *
 * Feeds: the input bytes parsed by cJSON (cJSON_ParseWithLength, as the
 * server's body_json and the client do), then the same tree to every
 * decoder — a body that is valid for one resource is a hostile one for
 * the others, which is what a confused or malicious peer sends.
 *
 * Checks: no crash, no ASan/UBSan error, no leak; decoders return 0 or a
 * negative errno. Property: for every decoder that accepts the tree,
 * decode → encode → decode succeeds and encodes to the same text (the
 * second decode sees exactly what our own encoder writes). Skipped for a
 * value whose encoding holds an integer beyond 2^53: ids are JSON numbers
 * by the documented format, and only *_ns fields travel as strings.
 *
 * Property of api_json_has_nul (the server's NUL check on JSON bodies),
 * against texts whose answer is known by construction, since cJSON's C
 * strings cannot show a decoded NUL: a raw 0 byte in the input → 1; the
 * tree printed again by cJSON (C strings: no NUL, no \u0000) → 0; the
 * same tree with "\x01" put in front of one of its strings (a key or a
 * value, chosen by the input), printed (cJSON writes \u0001) → 0, and
 * that one escape turned into \u0000 → 1. Skipped when the printed text
 * already holds "u0001" (the escape to change would not be unique).
 */
#include <errno.h>
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api/json.h"
#include "fuzz/fuzz.h"

/* 1 if any number in j is outside the exactly-representable range. */
static int has_big_number(const cJSON *j)
{
	for (const cJSON *c = j ? j->child : NULL; c; c = c->next)
		if ((cJSON_IsNumber(c) && fabs(c->valuedouble) > 9007199254740992.0) ||
		    has_big_number(c))
			return 1;
	return 0;
}

/* decode(j) was ok into *a: encode, decode, encode again; same texts. */
#define ROUND_TRIP(type, enc, dec, a)                                        \
	do {                                                                 \
		type b_;                                                     \
		cJSON *j1_ = NULL, *j2_ = NULL;                              \
		char *t1_ = NULL, *t2_ = NULL;                               \
		if (enc(a, &j1_) || has_big_number(j1_)) {                   \
			cJSON_Delete(j1_);                                   \
			break;                                               \
		}                                                            \
		check(dec(j1_, &b_) == 0, #dec " accepts what " #enc " writes"); \
		check(enc(&b_, &j2_) == 0, #enc " encodes again");           \
		t1_ = cJSON_PrintUnformatted(j1_);                           \
		t2_ = cJSON_PrintUnformatted(j2_);                           \
		check(t1_ && t2_ && !strcmp(t1_, t2_),                       \
		      #dec "/" #enc " round trip is stable");                \
		free(t1_);                                                   \
		free(t2_);                                                   \
		cJSON_Delete(j1_);                                           \
		cJSON_Delete(j2_);                                           \
	} while (0)

static void resources(const cJSON *j)
{
	struct store_node n;
	struct store_dataset d;
	struct store_tag t;
	struct store_embedding e;
	struct statvfs s;
	int rc;

	if ((rc = api_node_from_json(j, &n)) == 0)
		ROUND_TRIP(struct store_node, api_node_to_json,
			   api_node_from_json, &n);
	check(rc <= 0, "node: 0 or -errno");
	if ((rc = api_dataset_from_json(j, &d)) == 0)
		ROUND_TRIP(struct store_dataset, api_dataset_to_json,
			   api_dataset_from_json, &d);
	check(rc <= 0, "dataset: 0 or -errno");
	if ((rc = api_tag_from_json(j, &t)) == 0)
		ROUND_TRIP(struct store_tag, api_tag_to_json,
			   api_tag_from_json, &t);
	check(rc <= 0, "tag: 0 or -errno");
	if ((rc = api_embedding_from_json(j, &e)) == 0)
		ROUND_TRIP(struct store_embedding, api_embedding_to_json,
			   api_embedding_from_json, &e);
	check(rc <= 0, "embedding: 0 or -errno");
	if ((rc = api_statfs_from_json(j, &s)) == 0)
		ROUND_TRIP(struct statvfs, api_statfs_to_json,
			   api_statfs_from_json, &s);
	check(rc <= 0, "statfs: 0 or -errno");
}

static void newnode(const cJSON *j)
{
	struct store_newnode nn, nn2;
	char name[STORE_NAME_MAX + 1], name2[STORE_NAME_MAX + 1];
	cJSON *j1 = NULL;

	if (api_newnode_from_json(j, name, sizeof(name), &nn))
		return;
	check(nn.mode <= 07777, "newnode: permission bits only");
	check(nn.kind == STORE_DIR || nn.kind == STORE_FILE, "newnode: a kind");
	if (api_newnode_to_json(name, &nn, &j1))
		return;
	check(api_newnode_from_json(j1, name2, sizeof(name2), &nn2) == 0,
	      "newnode: accepts what it writes");
	check(!strcmp(name, name2) && nn.kind == nn2.kind &&
	      nn.mode == nn2.mode && nn.uid == nn2.uid && nn.gid == nn2.gid &&
	      nn.mtime_ns == nn2.mtime_ns, "newnode: same after the round trip");
	cJSON_Delete(j1);
}

static void helpers(const cJSON *j)
{
	static const char *const keys[] = { "name", "id", "error", "" };
	char buf[64], code[32], ename[32], msg[128];
	int64_t v;
	int b;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		int rc = api_get_str(j, keys[i], buf, sizeof(buf), 0);
		check(rc <= 1, "get_str: 1, 0 or -errno");
		check(rc != 0 || strlen(buf) < sizeof(buf), "get_str fits");
		check(api_get_i64(j, keys[i], &v, 1) <= 0, "get_i64 required");
		check(api_get_bool(j, keys[i], &b, 0) <= 1, "get_bool");
	}
	if (api_error_from_json(j, code, sizeof(code), ename, sizeof(ename),
				msg, sizeof(msg)) == 0) {
		check(strlen(code) < sizeof(code) && strlen(ename) < sizeof(ename) &&
		      strlen(msg) < sizeof(msg), "error strings fit");
		(void)api_errno_from_name(ename);
	}
}

/* The k-th string of j (keys and string values, depth first), counting
 * down *k; NULL if fewer. *is_key says which. */
static cJSON *nth_string(cJSON *j, size_t *k, int *is_key)
{
	for (cJSON *c = j ? j->child : NULL; c; c = c->next) {
		cJSON *r;

		if (c->string && (*k)-- == 0) {
			*is_key = 1;
			return c;
		}
		if (cJSON_IsString(c) && c->valuestring && (*k)-- == 0) {
			*is_key = 0;
			return c;
		}
		r = nth_string(c, k, is_key);
		if (r)
			return r;
	}
	return NULL;
}

static void nul_check(const uint8_t *data, size_t size, cJSON *j)
{
	char *t0, *t1 = NULL, *u, *s, *ns;
	size_t k = 0, n = 0;
	int is_key = 0;
	cJSON *c;

	t0 = cJSON_PrintUnformatted(j);
	if (!t0)
		return;
	check(api_json_has_nul(t0, strlen(t0)) == 0,
	      "has_nul: 0 for what cJSON prints");
	if (strstr(t0, "u0001"))
		goto out;
	for (size_t i = 0; i < size; i++)
		k = k * 31 + data[i];
	if (cJSON_IsString(j)) {
		c = j;
	} else {
		size_t cnt = (size_t)-1;
		nth_string(j, &cnt, &is_key);      /* counts them all */
		n = (size_t)-1 - cnt;
		if (!n)
			goto out;
		k %= n;
		c = nth_string(j, &k, &is_key);
	}
	s = is_key ? c->string : c->valuestring;
	ns = malloc(strlen(s) + 2);
	if (!ns)
		goto out;
	ns[0] = '\x01';
	memcpy(ns + 1, s, strlen(s) + 1);
	cJSON_free(s);
	if (is_key)
		c->string = ns;
	else
		c->valuestring = ns;
	t1 = cJSON_PrintUnformatted(j);
	if (!t1)
		goto out;
	check(api_json_has_nul(t1, strlen(t1)) == 0, "has_nul: 0 for \\u0001");
	u = strstr(t1, "\\u0001");
	check(u && !strstr(u + 6, "u0001"), "one \\u0001, the one put in");
	u[5] = '0';
	check(api_json_has_nul(t1, strlen(t1)) == 1, "has_nul: 1 for \\u0000");
out:
	free(t0);
	free(t1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *j = cJSON_ParseWithLength((const char *)data, size);

	if (memchr(data, 0, size))
		check(api_json_has_nul((const char *)data, size) == 1,
		      "has_nul: a raw NUL byte");
	if (!j)
		return 0;
	resources(j);
	newnode(j);
	helpers(j);
	/* A list body: each element is decoded as the client decodes pages. */
	if (cJSON_IsObject(j))
		for (const cJSON *c = j->child; c; c = c->next)
			if (cJSON_IsArray(c))
				for (const cJSON *e = c->child; e; e = e->next)
					resources(e);
	nul_check(data, size, j);       /* last: it changes the tree */
	cJSON_Delete(j);
	return 0;
}
