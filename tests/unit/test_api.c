/*
 * test_api.c — the v1 wire format (api/json.c) and the token helpers of
 * store/users.c: JSON round trips of every resource (including int64 times
 * past 2^53 and names with odd bytes), rejection of mistyped fields, error
 * bodies, the errno-name table, token format, hashing, constant-time
 * comparison and the create/check/revoke cycle on a temp store, and a table
 * of request paths and query strings that must be accepted or refused, and
 * a table of server URLs: plain http only to a literal loopback host, and
 * the scan of JSON text for NUL characters.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/client.h"
#include "api/json.h"
#include "store/store.h"

#define BIG_NS INT64_C(1795498098696076019)   /* > 2^53 */

/* Encodes, prints, parses back: the path a record takes over the wire. */
static cJSON *wire(cJSON *j)
{
	char *text = cJSON_PrintUnformatted(j);
	cJSON *back;

	assert_non_null(text);
	back = cJSON_Parse(text);
	assert_non_null(back);
	free(text);
	cJSON_Delete(j);
	return back;
}

static void test_node_round_trip(void **state)
{
	struct store_node n = { .ino = 42, .tree = 5, .parent = 9, .dataset = 3,
				.tree_live = 1, .kind = STORE_FILE,
				.mode = 0640, .uid = 1000, .gid = 4294967295u,
				.size = INT64_C(5000000000),
				.mtime_ns = BIG_NS, .ctime_ns = BIG_NS + 1,
				.has_sha = 1 }, back;
	cJSON *j;

	(void)state;
	for (int i = 0; i < STORE_SHA_LEN; i++)
		n.sha[i] = (unsigned char)(i * 7 + 1);
	snprintf(n.name, sizeof(n.name), "my file \"q\" \xc3\xa9+%%.jpg");
	assert_int_equal(api_node_to_json(&n, &j), 0);
	j = wire(j);
	memset(&back, 0x5a, sizeof(back));
	assert_int_equal(api_node_from_json(j, &back), 0);
	cJSON_Delete(j);
	assert_memory_equal(&n, &back, sizeof(n));

	/* A pending file has no sha; a dir round-trips too. */
	n.has_sha = 0;
	memset(n.sha, 0, sizeof(n.sha));
	n.kind = STORE_DIR;
	n.parent = -5;
	assert_int_equal(api_node_to_json(&n, &j), 0);
	assert_null(cJSON_GetObjectItem(j, "sha"));
	j = wire(j);
	assert_int_equal(api_node_from_json(j, &back), 0);
	cJSON_Delete(j);
	assert_memory_equal(&n, &back, sizeof(n));
}

static void test_dataset_tag_emb_round_trip(void **state)
{
	struct store_dataset d = { .id = 3, .created_ns = BIG_NS,
				   .live_tree = 5, .live_root = 9,
				   .sel_tree = 6, .sel_explicit = 1,
				   .tag_folders = STORE_TAG_FOLDERS_SELECTED },
			    d2;
	struct store_tag t = { .id = 8, .dataset = 3, .parent = 5,
			       .created_ns = BIG_NS, .root = 77,
			       .files = 500, .bytes = INT64_C(1) << 40,
			       .live = 0 }, t2;
	struct store_embedding e = { .id = 7, .dataset = 3, .dim = 128,
				     .rows = 5000, .created_ns = BIG_NS }, e2;
	cJSON *j;

	(void)state;
	snprintf(d.uid, sizeof(d.uid), "0123456789abcdef01234567");
	snprintf(d.name, sizeof(d.name), "leaves");
	snprintf(d.owner, sizeof(d.owner), "alice");
	snprintf(t.name, sizeof(t.name), "best-500");
	snprintf(t.parent_name, sizeof(t.parent_name), "initial-tag");
	snprintf(e.name, sizeof(e.name), "simclr");

	assert_int_equal(api_dataset_to_json(&d, &j), 0);
	j = wire(j);
	memset(&d2, 0x5a, sizeof(d2));
	assert_int_equal(api_dataset_from_json(j, &d2), 0);
	cJSON_Delete(j);
	assert_memory_equal(&d, &d2, sizeof(d));

	assert_int_equal(api_tag_to_json(&t, &j), 0);
	j = wire(j);
	memset(&t2, 0x5a, sizeof(t2));
	assert_int_equal(api_tag_from_json(j, &t2), 0);
	cJSON_Delete(j);
	assert_memory_equal(&t, &t2, sizeof(t));

	assert_int_equal(api_embedding_to_json(&e, &j), 0);
	j = wire(j);
	memset(&e2, 0x5a, sizeof(e2));
	assert_int_equal(api_embedding_from_json(j, &e2), 0);
	cJSON_Delete(j);
	assert_memory_equal(&e, &e2, sizeof(e));
}

static void test_list_statfs_newnode(void **state)
{
	struct store_tag tags[3];
	struct statvfs sv = { .f_bsize = 4096, .f_frsize = 4096,
			      .f_blocks = 1000, .f_bfree = 500,
			      .f_bavail = 400, .f_files = 100, .f_ffree = 50,
			      .f_favail = 40, .f_namemax = 255 }, sv2;
	struct store_newnode nn = { .kind = STORE_FILE, .mode = 0600,
				    .uid = 1, .gid = 2, .mtime_ns = BIG_NS },
			     nn2;
	char name[STORE_NAME_MAX + 1];
	cJSON *j, *arr;

	(void)state;
	memset(tags, 0, sizeof(tags));
	for (int i = 0; i < 3; i++) {
		tags[i].id = i + 1;
		snprintf(tags[i].name, sizeof(tags[i].name), "t%d", i);
	}
	assert_int_equal(api_list_to_json("tags", tags, 3, sizeof(tags[0]),
					  api_tag_any, &j), 0);
	j = wire(j);
	arr = cJSON_GetObjectItem(j, "tags");
	assert_int_equal(cJSON_GetArraySize(arr), 3);
	struct store_tag t;
	assert_int_equal(api_tag_from_json(cJSON_GetArrayItem(arr, 2), &t), 0);
	assert_string_equal(t.name, "t2");
	cJSON_Delete(j);

	assert_int_equal(api_statfs_to_json(&sv, &j), 0);
	j = wire(j);
	assert_int_equal(api_statfs_from_json(j, &sv2), 0);
	cJSON_Delete(j);
	assert_int_equal(sv2.f_bavail, 400);
	assert_int_equal(sv2.f_namemax, 255);

	assert_int_equal(api_newnode_to_json("a.jpg", &nn, &j), 0);
	j = wire(j);
	assert_int_equal(api_newnode_from_json(j, name, sizeof(name), &nn2), 0);
	cJSON_Delete(j);
	assert_string_equal(name, "a.jpg");
	assert_memory_equal(&nn, &nn2, sizeof(nn));

	/* Defaults for absent attributes. */
	j = cJSON_Parse("{\"name\":\"d\",\"kind\":1}");
	assert_int_equal(api_newnode_from_json(j, name, sizeof(name), &nn2), 0);
	cJSON_Delete(j);
	assert_int_equal(nn2.mode, 0755);
	assert_int_equal(nn2.mtime_ns, 0);

	/* The largest mode; a time before 1970. */
	j = cJSON_Parse("{\"name\":\"f\",\"kind\":2,\"mode\":4095,"
			"\"mtime_ns\":\"-14182940500000000\"}");
	assert_int_equal(api_newnode_from_json(j, name, sizeof(name), &nn2), 0);
	cJSON_Delete(j);
	assert_int_equal(nn2.mode, 07777);
	assert_true(nn2.mtime_ns == INT64_C(-14182940500000000));
}

static void test_decode_rejects(void **state)
{
	static const char *const bad[] = {
		"[]", "{}", "{\"name\":\"x\",\"kind\":3}",
		"{\"name\":\"x\",\"kind\":\"1\",\"mode\":-1}",
		"{\"name\":\"x\",\"kind\":2,\"mode\":70000}",
		/* 0100644: st_mode with the file type is not a mode */
		"{\"name\":\"x\",\"kind\":2,\"mode\":33188}",
		"{\"name\":\"x\",\"kind\":2,\"mode\":4096}",
		"{\"name\":\"x\",\"kind\":2,\"uid\":1.5}",
		"{\"name\":\"x\",\"kind\":2,\"mtime_ns\":\"12a\"}",
		"{\"name\":\"x\",\"kind\":2,\"mtime_ns\":\"99999999999999999999\"}",
		"{\"name\":\"x\",\"kind\":2,\"gid\":true}",
		"{\"name\":7,\"kind\":2}",
	};
	struct store_newnode nn;
	struct store_node n;
	char name[STORE_NAME_MAX + 1], longname[400];
	cJSON *j;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		j = cJSON_Parse(bad[i]);
		assert_non_null(j);
		assert_int_not_equal(api_newnode_from_json(j, name, sizeof(name),
							   &nn), 0);
		cJSON_Delete(j);
	}
	memset(longname, 'a', sizeof(longname));
	longname[sizeof(longname) - 1] = '\0';
	j = cJSON_CreateObject();
	cJSON_AddStringToObject(j, "name", longname);
	cJSON_AddNumberToObject(j, "kind", 2);
	assert_int_equal(api_newnode_from_json(j, name, sizeof(name), &nn),
			 -ENAMETOOLONG);
	cJSON_Delete(j);

	/* A node with has_sha but a bad hash, and one missing a field. */
	j = cJSON_Parse("{\"ino\":1,\"tree\":1,\"parent\":0,\"dataset\":1,"
			"\"tree_live\":true,\"kind\":2,\"mode\":420,\"uid\":0,"
			"\"gid\":0,\"size\":0,\"mtime_ns\":\"1\",\"ctime_ns\":1,"
			"\"has_sha\":true,\"sha\":\"XYZ\",\"name\":\"a\"}");
	assert_int_equal(api_node_from_json(j, &n), -EINVAL);
	cJSON_DeleteItemFromObject(j, "sha");
	cJSON_ReplaceItemInObject(j, "has_sha", cJSON_CreateFalse());
	assert_int_equal(api_node_from_json(j, &n), 0);
	cJSON_DeleteItemFromObject(j, "size");
	assert_int_equal(api_node_from_json(j, &n), -EINVAL);
	cJSON_Delete(j);

	/* Numbers past 2^53 are not exact as doubles: refused. */
	j = cJSON_Parse("{\"v\":18446744073709551616}");
	int64_t v;
	assert_int_equal(api_get_i64(j, "v", &v, 1), -EINVAL);
	cJSON_Delete(j);
	j = cJSON_Parse("{\"v\":\"-9223372036854775807\"}");
	assert_int_equal(api_get_i64(j, "v", &v, 1), 0);
	assert_true(v == -INT64_MAX);
	cJSON_Delete(j);
}

static void test_sha_hex(void **state)
{
	unsigned char sha[STORE_SHA_LEN];
	char hex[65];

	(void)state;
	assert_int_equal(api_sha_from_hex("5891b5b522d5df086d0ff0b110fbd9d2"
					  "1bb4fc7163af34d08286a2e846f6be03",
					  sha), 0);
	store_sha_hex(sha, hex);
	assert_string_equal(hex, "5891b5b522d5df086d0ff0b110fbd9d2"
			    "1bb4fc7163af34d08286a2e846f6be03");
	assert_int_equal(api_sha_from_hex("5891B5b522d5df086d0ff0b110fbd9d2"
					  "1bb4fc7163af34d08286a2e846f6be03",
					  sha), -EINVAL);
	assert_int_equal(api_sha_from_hex("abc", sha), -EINVAL);
	assert_int_equal(api_sha_from_hex(NULL, sha), -EINVAL);
}

static void test_error_json(void **state)
{
	char code[32], name[16], msg[64];
	cJSON *j = api_error_json("not_found", "ENOENT", "no such dataset");

	(void)state;
	assert_non_null(j);
	j = wire(j);
	assert_int_equal(api_error_from_json(j, code, sizeof(code), name,
					     sizeof(name), msg, sizeof(msg)), 0);
	assert_string_equal(code, "not_found");
	assert_string_equal(name, "ENOENT");
	assert_string_equal(msg, "no such dataset");
	cJSON_Delete(j);
	j = cJSON_Parse("{\"datasets\":[]}");
	assert_int_equal(api_error_from_json(j, code, sizeof(code), NULL, 0,
					     NULL, 0), -EINVAL);
	cJSON_Delete(j);
}

static void test_errno_names(void **state)
{
	static const int errs[] = { ENOENT, EEXIST, ENOTEMPTY, EROFS, EPERM,
				    EACCES, EINVAL, EXDEV, ENAMETOOLONG,
				    ENOTDIR, EISDIR, ENOSPC, EFBIG, EBUSY,
				    ENOMEM, EAGAIN, EIO };
	const char *code;

	(void)state;
	for (size_t i = 0; i < sizeof(errs) / sizeof(errs[0]); i++) {
		assert_int_equal(api_errno_from_name(api_errno_name(errs[i])),
				 errs[i]);
		assert_string_equal(api_errno_name(-errs[i]),
				    api_errno_name(errs[i]));
	}
	assert_string_equal(api_errno_name(ENOTEMPTY), "ENOTEMPTY");
	assert_string_equal(api_errno_name(12345), "EIO");
	assert_int_equal(api_errno_from_name("EBOGUS"), EIO);
	assert_int_equal(api_errno_from_name(NULL), EIO);
	assert_int_equal(api_status_for_errno(-ENOENT, &code), 404);
	assert_string_equal(code, "not_found");
	assert_int_equal(api_status_for_errno(EEXIST, &code), 409);
	assert_int_equal(api_status_for_errno(-EROFS, &code), 403);
	assert_string_equal(code, "read_only");
	assert_int_equal(api_status_for_errno(-ENOSPC, NULL), 507);
	assert_int_equal(api_status_for_errno(-12345, &code), 500);
	assert_string_equal(code, "internal");
}

static void test_token_format_hash(void **state)
{
	unsigned char a[STORE_SHA_LEN], b[STORE_SHA_LEN];
	char tok[STORE_TOKEN_LEN + 1];

	(void)state;
	snprintf(tok, sizeof(tok), "svf_%064d", 0);
	assert_true(store_token_format_ok(tok));
	tok[10] = 'A';
	assert_false(store_token_format_ok(tok));
	tok[10] = 'g';
	assert_false(store_token_format_ok(tok));
	tok[10] = '0';
	tok[0] = 'x';
	assert_false(store_token_format_ok(tok));
	assert_false(store_token_format_ok("svf_00"));
	assert_false(store_token_format_ok(""));
	assert_false(store_token_format_ok(NULL));

	/* SHA-256("abc"), a FIPS 180-2 test vector. */
	static const unsigned char abc[STORE_SHA_LEN] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41,
		0x40, 0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3,
		0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00,
		0x15, 0xad };
	store_token_hash("abc", a);
	assert_memory_equal(a, abc, STORE_SHA_LEN);
	assert_true(store_hash_equal(a, abc));
	memcpy(b, a, sizeof(b));
	b[STORE_SHA_LEN - 1] ^= 1;
	assert_false(store_hash_equal(a, b));
	b[STORE_SHA_LEN - 1] ^= 1;
	b[0] ^= 0x80;
	assert_false(store_hash_equal(a, b));

	assert_true(store_user_valid("alice"));
	assert_true(store_user_valid("a.b_c-9"));
	assert_false(store_user_valid(""));
	assert_false(store_user_valid("-x"));
	assert_false(store_user_valid("a b"));
	assert_false(store_user_valid("a/b"));
}

static void test_tokens_in_store(void **state)
{
	char dir[] = "/tmp/test_api.XXXXXX", cmd[64], user[STORE_USER_MAX + 1];
	char t1[STORE_TOKEN_LEN + 1], t2[STORE_TOKEN_LEN + 1];
	struct store_token *v = NULL;
	int64_t id1 = 0, id2 = 0;
	size_t n = 0;
	store *st = NULL;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(store_open(dir, STORE_OPEN_OWNER, &st, NULL, 0), 0);
	assert_int_equal(store_token_create(st, "alice", t1, &id1), 0);
	assert_int_equal(store_token_create(st, "bob", t2, &id2), 0);
	assert_int_equal(store_token_create(st, "bad name", t2 + 0, NULL),
			 -EINVAL);
	assert_true(store_token_format_ok(t1));
	assert_true(store_token_format_ok(t2));
	assert_string_not_equal(t1, t2);
	assert_int_equal(store_token_check(st, t1, user), 0);
	assert_string_equal(user, "alice");
	assert_int_equal(store_token_check(st, t2, user), 0);
	assert_string_equal(user, "bob");

	/* One changed digit, a malformed token: refused. */
	char wrong[STORE_TOKEN_LEN + 1];
	memcpy(wrong, t1, sizeof(wrong));
	wrong[20] = wrong[20] == '0' ? '1' : '0';
	assert_int_equal(store_token_check(st, wrong, user), -EACCES);
	assert_int_equal(store_token_check(st, "svf_", user), -EACCES);

	assert_int_equal(store_token_revoke(st, id1), 0);
	assert_int_equal(store_token_check(st, t1, user), -EACCES);
	assert_int_equal(store_token_revoke(st, 9999), -ENOENT);
	/* the admin's revoke of a revoked token is fine (store.h), unlike
	 * store_token_revoke_own's */
	assert_int_equal(store_token_revoke(st, id1), 0);
	assert_int_equal(store_token_revoke_own(st, "alice", id1), -ENOENT);
	/* another user's token is not one's own */
	assert_int_equal(store_token_revoke_own(st, "alice", id2), -ENOENT);
	assert_int_equal(store_token_check(st, t2, user), 0);

	assert_int_equal(store_token_list(st, &v, &n), 0);
	assert_int_equal(n, 2);
	assert_string_equal(v[0].user, "alice");
	assert_true(v[0].revoked);
	assert_false(v[1].revoked);
	free(v);
	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

static void test_paths(void **state)
{
	static const struct { const char *raw; int ok; size_t n; } t[] = {
		{ "/v1/datasets", 1, 2 },
		{ "/v1/datasets/", 1, 2 },
		{ "/v1/nodes/17/children", 1, 4 },
		{ "/v1/a%20b", 1, 2 },
		{ "/", 0, 0 },
		{ "", 0, 0 },
		{ "v1/datasets", 0, 0 },
		{ "/v1//datasets", 0, 0 },
		{ "/v1/datasets//", 0, 0 },
		{ "/v1/../etc", 0, 0 },
		{ "/v1/./datasets", 0, 0 },
		{ "/v1/%2e%2e/x", 0, 0 },
		{ "/v1/%2E%2E", 0, 0 },
		{ "/v1/.%2e", 0, 0 },
		{ "/v1/a%2Fb", 0, 0 },
		{ "/v1/a%00b", 0, 0 },
		{ "/v1/a%zz", 0, 0 },
		{ "/v1/a%4", 0, 0 },
		{ "/1/2/3/4/5/6/7/8/9", 0, 0 },
	};
	struct api_path p;

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		int rc = api_path_parse(t[i].raw, &p);
		if (t[i].ok) {
			assert_int_equal(rc, 0);
			assert_int_equal(p.n, t[i].n);
		} else if (rc != -EINVAL) {
			fail_msg("path '%s' accepted", t[i].raw);
		}
	}
	assert_int_equal(api_path_parse("/v1/a%20b", &p), 0);
	assert_string_equal(p.seg[1], "a b");
	assert_int_equal(api_path_parse(NULL, &p), -EINVAL);
}

static void test_ids_and_queries(void **state)
{
	static const char *const bad[] = { "0", "-1", "+1", "017", "1x", "",
					   " 1", "1 ", "9223372036854775808",
					   "1.0" };
	char out[16];
	int64_t id;

	(void)state;
	assert_int_equal(api_id_parse("1", &id), 0);
	assert_int_equal(id, 1);
	assert_int_equal(api_id_parse("9223372036854775807", &id), 0);
	assert_true(id == INT64_MAX);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (api_id_parse(bad[i], &id) != -EINVAL)
			fail_msg("id '%s' accepted", bad[i]);
	assert_int_equal(api_id_parse(NULL, &id), -EINVAL);

	assert_int_equal(api_query_get("a=1&name=x%20y+z", "name", out,
				       sizeof(out)), 1);
	assert_string_equal(out, "x y z");
	assert_int_equal(api_query_get("name=a%2Bb", "name", out, sizeof(out)),
			 1);
	assert_string_equal(out, "a+b");
	assert_int_equal(api_query_get("names=1", "name", out, sizeof(out)), 0);
	assert_int_equal(api_query_get("", "name", out, sizeof(out)), 0);
	assert_int_equal(api_query_get("name=", "name", out, sizeof(out)), 1);
	assert_string_equal(out, "");
	assert_int_equal(api_query_get("name=a%00", "name", out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(api_query_get("name=%g1", "name", out, sizeof(out)),
			 -EINVAL);
	assert_int_equal(api_query_get("name=0123456789abcdefXYZ", "name", out,
				       sizeof(out)), -ENAMETOOLONG);
	assert_int_equal(api_pct_decode("%41%62", 6, out, sizeof(out), 0), 2);
	assert_string_equal(out, "Ab");
}

/* Server URLs: plain http only to a literal loopback host, as libcurl
 * parses the URL (issue 11, item 3); https to anything. */
static void test_url_check(void **state)
{
	static const struct { const char *url; int ok; } t[] = {
		{ "http://127.0.0.1:8420", 1 },
		{ "http://127.0.0.1:8420/", 1 },
		{ "http://127.0.0.1", 1 },
		{ "http://127.1.2.3:8420", 1 },
		{ "http://127.255.255.254:1", 1 },
		{ "http://127.1:8420", 1 },          /* curl: 127.0.0.1 */
		{ "http://0x7f000001:8420", 1 },
		{ "http://localhost:8420", 1 },
		{ "http://LocalHost:8420", 1 },
		{ "http://[::1]:8420", 1 },
		{ "HTTP://127.0.0.1:8420", 1 },
		{ "Http://localhost:8420/", 1 },
		{ "https://example.org:8420", 1 },
		{ "https://127.evil.example:8420", 1 },
		{ "HTTPS://10.1.2.3:443/sievefs", 1 },
		/* names that only look like loopback */
		{ "http://127.evil.example:8420", 0 },
		{ "http://127.0.0.1.evil.example:8420", 0 },
		{ "http://127.0.0.1.nip.io:8420", 0 },
		{ "http://localhost.evil.example:8420", 0 },
		{ "http://localhost.:8420", 0 },
		{ "http://127.0.0.1.:8420", 0 },
		{ "http://127.0.0.1%2eevil.example:8420", 0 },
		{ "http://127.0.0.1\\@evil.example/", 0 },
		{ "http://evil.example:8420", 0 },
		{ "HTTP://evil.example:8420", 0 },
		{ "http://10.0.0.1:8420", 0 },
		{ "http://128.0.0.1:8420", 0 },
		{ "http://0.0.0.0:8420", 0 },
		{ "http://[::2]:8420", 0 },
		{ "http://[::ffff:10.0.0.1]:8420", 0 },
		{ "http://[fe80::1%25eth0]:8420", 0 },
		/* userinfo: the host is after the @ */
		{ "http://127.0.0.1@evil.example/", 0 },
		{ "http://127.0.0.1:8420@evil.example:8420/", 0 },
		{ "http://user:pw@127.0.0.1:8420", 0 },
		{ "https://user@example.org", 0 },
		/* what would change the request URL's meaning */
		{ "http://127.0.0.1:8420?x=1", 0 },
		{ "http://127.0.0.1:8420#@evil.example", 0 },
		{ "http://127.0.0.1:8420/ x", 0 },
		{ "ftp://127.0.0.1:8420", 0 },
		{ "file:///etc/passwd", 0 },
		{ "http://", 0 },
		{ "127.0.0.1:8420", 0 },
		{ "", 0 },
	};
	char msg[512];

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		msg[0] = '\0';
		int rc = api_url_check(t[i].url, msg, sizeof(msg));
		if ((rc == 0) != t[i].ok)
			fail_msg("%s: expected %s, got %d (%s)", t[i].url,
				 t[i].ok ? "accepted" : "refused", rc, msg);
		if (!t[i].ok && !msg[0])
			fail_msg("%s: refused without a reason", t[i].url);
	}
	assert_int_equal(api_url_check("http://127.evil.example:8420", msg,
				       sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "loopback"));
	assert_non_null(strstr(msg, "127.evil.example"));
	assert_int_equal(api_url_check("http://127.0.0.1@evil.example/", msg,
				       sizeof(msg)), -EINVAL);
	assert_non_null(strstr(msg, "user@"));
}

/* NUL in JSON text: raw, or \u0000 in any string (key or value), but not
 * an escaped backslash followed by "u0000" (issue 11, item 5). */
static void test_json_nul(void **state)
{
	static const struct { const char *text; int nul; } t[] = {
		{ "{\"name\":\"zz\\u0000evil\"}", 1 },
		{ "{\"name\":\"\\u0000\"}", 1 },
		{ "{\"na\\u0000me\":\"x\"}", 1 },
		{ "[\"a\",\"b\\\\\\u0000\"]", 1 },       /* \\ then \u0000 */
		{ "{\"name\":\"zz\\\\u0000evil\"}", 0 }, /* \\ then u0000 */
		{ "{\"name\":\"\\\\\\\\u0000\"}", 0 },   /* \\\\ then u0000 */
		{ "{\"name\":\"\\u00000\"}", 1 },
		{ "{\"name\":\"\\u0001\\u0100\\u1000\"}", 0 },
		{ "{\"name\":\"\\\"u0000\"}", 0 },       /* \" then u0000 */
		{ "{\"name\":\"u0000\"}", 0 },
		{ "{\"a\":\"\\\"\",\"b\":\"\\u0000\"}", 1 },
		{ "{\"name\":\"x\\u000\"}", 0 },         /* malformed: parser's */
		{ "{\"name\":\"x\\", 0 },
		{ "", 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++)
		if (api_json_has_nul(t[i].text, strlen(t[i].text)) != t[i].nul)
			fail_msg("%s: expected %d", t[i].text, t[i].nul);
	/* a raw 0 byte, inside a string or outside one */
	assert_int_equal(api_json_has_nul("{\"a\":\"x\0y\"}", 11), 1);
	assert_int_equal(api_json_has_nul("{\"a\":1}\0", 8), 1);
	assert_int_equal(api_json_has_nul("{\"a\":\"\\\0\"}", 10), 1);
	/* length, not the terminator, bounds the scan */
	assert_int_equal(api_json_has_nul("{\"a\":\"\\u0000\"}", 7), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_node_round_trip),
		cmocka_unit_test(test_dataset_tag_emb_round_trip),
		cmocka_unit_test(test_list_statfs_newnode),
		cmocka_unit_test(test_decode_rejects),
		cmocka_unit_test(test_sha_hex),
		cmocka_unit_test(test_error_json),
		cmocka_unit_test(test_errno_names),
		cmocka_unit_test(test_token_format_hash),
		cmocka_unit_test(test_tokens_in_store),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_ids_and_queries),
		cmocka_unit_test(test_url_check),
		cmocka_unit_test(test_json_nul),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
