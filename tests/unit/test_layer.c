/*
 * test_layer.c — core/'s operations for the server (core/auth.h,
 * core/serve.h, core/lightly.h) and the blob-store interface
 * (core/blobs.h) over a real temporary store: the owner checks answer
 * -ENOENT for another owner's ids exactly as for missing ones; who may
 * read a blob (a grant, or for the web door's owner "" a node naming it);
 * kept bytes told only to an owner whose node names them; the local
 * engine's URL is "none"; tokens made, listed, checked and revoked per
 * user; core_sha_hex against a known digest.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/auth.h"
#include "core/blobs.h"
#include "core/lightly.h"
#include "core/serve.h"
#include "core/util.h"
#include "store/store.h"
#include "tests/unit/tstore.h"

static int setup(void **state)
{
	return tstore_fx_setup(state, "layer");
}

/* len bytes staged and put as sent by `user`; its hash into sha. */
static void put_blob(struct core_blobs *b, const char *user, const void *data,
		     size_t len, unsigned char *sha)
{
	char staged[STORE_PATH_MAX];
	int fd = core_blob_staging(b, staged, sizeof(staged));

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), (ssize_t)len);
	assert_int_equal(store_sha256_fd(fd, sha), 0);
	assert_int_equal(core_blob_put(b, fd, staged, sha, user), 0);
	close(fd);
}

/* A committed file `name` of dataset d's live tree naming the bytes of
 * sha (len bytes, already a blob). */
static void commit_file(store *st, struct core_blobs *b,
			const struct store_dataset *d, const char *name,
			const unsigned char *sha, struct store_node *out)
{
	struct store_newnode nn = { STORE_FILE, 0644, 0, 0, 0 };
	int fd;

	assert_int_equal(store_node_create(st, d->live_root, name, &nn, out), 0);
	fd = core_blob_open(b, sha);
	assert_true(fd >= 0);
	assert_int_equal(store_node_commit(st, out->ino, fd, "", sha,
					   (int64_t)lseek(fd, 0, SEEK_END), 0,
					   0), 0);
	close(fd);
	assert_int_equal(store_node_get(st, out->ino, out), 0);
}

static void test_own_ids(void **state)
{
	struct tstore_fx *f = *state;
	struct store_dataset a, b, d;
	struct store_tag t;
	struct store_node n;
	struct core_blobs *bs;
	unsigned char sha[STORE_SHA_LEN];

	assert_int_equal(core_blobs_open(f->st, &bs), 0);
	assert_int_equal(store_dataset_create(f->st, "alice", "da", &a), 0);
	assert_int_equal(store_dataset_create(f->st, "bob", "db", &b), 0);
	put_blob(bs, "alice", "x", 1, sha);
	commit_file(f->st, bs, &a, "x.bin", sha, &n);

	assert_int_equal(core_own_dataset(f->st, "alice", a.id, &d), 0);
	assert_string_equal(d.name, "da");
	assert_int_equal(core_own_dataset(f->st, "bob", a.id, &d), -ENOENT);
	assert_int_equal(core_own_dataset(f->st, "alice", 999999, &d), -ENOENT);

	memset(&d, 0, sizeof(d));
	assert_int_equal(core_own_tag(f->st, "alice", a.live_tree, &t, &d), 0);
	assert_int_equal(t.dataset, a.id);
	assert_int_equal(d.id, a.id);           /* the dataset comes along */
	assert_int_equal(core_own_tag(f->st, "alice", b.live_tree, &t, NULL),
			 -ENOENT);

	assert_int_equal(core_own_node(f->st, "alice", n.ino, &n), 0);
	assert_int_equal(core_own_node(f->st, "bob", n.ino, &n), -ENOENT);
	assert_int_equal(core_own_node(f->st, "", n.ino, &n), -ENOENT);
	core_blobs_free(bs);
}

static void test_blob_rules(void **state)
{
	struct tstore_fx *f = *state;
	struct store_dataset a, e;
	struct store_node n;
	struct core_blobs *b;
	unsigned char sha[STORE_SHA_LEN], src[STORE_SHA_LEN], other[STORE_SHA_LEN];
	char url[64] = "unset";
	int fd;

	assert_int_equal(core_blobs_open(f->st, &b), 0);
	put_blob(b, "alice", "hello", 5, sha);
	memset(other, 0xab, sizeof(other));

	/* a grant: alice sent the bytes, bob did not */
	assert_int_equal(core_blob_readable(b, "alice", sha), 1);
	assert_int_equal(core_blob_readable(b, "bob", sha), 0);
	fd = core_blob_open_for(b, "alice", sha);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(core_blob_open_for(b, "bob", sha), -ENOENT);
	assert_int_equal(core_blob_open_for(b, "alice", other), -ENOENT);
	/* pending until a node names it */
	{
		size_t count = 0;
		int64_t bytes = 0;
		assert_int_equal(core_blob_pending(b, "alice", &count, &bytes), 0);
		assert_int_equal(count, 1);
		assert_int_equal(bytes, 5);
	}

	/* the web door's owner "": readable once a node of its names it */
	assert_int_equal(core_blob_readable(b, "", sha), 0);
	assert_int_equal(store_dataset_create(f->st, "", "emb", &e), 0);
	commit_file(f->st, b, &e, "h.txt", sha, &n);
	assert_int_equal(core_blob_readable(b, "", sha), 1);
	assert_int_equal(core_blob_named(b, "", sha), 1);
	assert_int_equal(core_blob_named(b, "alice", sha), 0);
	assert_int_equal(core_blob_source(b, "", sha, src), 0);
	assert_memory_equal(src, sha, STORE_SHA_LEN);
	assert_int_equal(core_blob_source(b, "bob", sha, src), -ENOENT);

	/* kept bytes: told only to an owner whose node names them */
	assert_int_equal(store_dataset_create(f->st, "alice", "ka", &a), 0);
	{
		struct store_newnode nn = { STORE_FILE, 0644, 0, 0, 0 };
		assert_int_equal(store_node_create(f->st, a.live_root, "k.bin",
						   &nn, &n), 0);
	}
	assert_int_equal(core_node_commit_kept(f->st, n.ino, other, 7, 0, NULL,
					       0, 0), 0);
	assert_int_equal(core_blob_kept(b, NULL, other), 1);
	assert_int_equal(core_blob_kept(b, "alice", other), 1);
	assert_int_equal(core_blob_kept(b, "bob", other), 0);
	assert_int_equal(core_blob_kept(b, NULL, sha), 0);

	/* the local engine hands out no URL */
	assert_int_equal(core_blob_url(b, sha, 60, url, sizeof(url)), 0);
	assert_string_equal(url, "");
	core_blobs_free(b);
	core_blobs_free(NULL);
}

static void test_tokens(void **state)
{
	struct tstore_fx *f = *state;
	char token[STORE_TOKEN_LEN + 1], user[STORE_USER_MAX + 1];
	struct store_token t, *v = NULL;
	int64_t id = 0;
	size_t n = 0;

	assert_int_equal(core_token_create(f->st, "alice", "laptop", token, &t),
			 0);
	assert_int_equal(t.id > 0, 1);
	assert_string_equal(t.name, "laptop");
	assert_true(t.created_ns > 0);
	assert_int_equal(core_auth_token(f->st, token, user, &id), 0);
	assert_string_equal(user, "alice");
	assert_int_equal(id, t.id);

	assert_int_equal(core_token_list(f->st, "alice", &v, &n), 0);
	assert_int_equal(n, 1);
	free(v);
	assert_int_equal(core_token_list(f->st, "bob", &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);

	/* bob cannot revoke alice's token; alice can */
	assert_int_equal(core_token_revoke(f->st, "bob", t.id), -ENOENT);
	assert_int_equal(core_auth_token(f->st, token, user, NULL), 0);
	assert_int_equal(core_token_revoke(f->st, "alice", t.id), 0);
	assert_int_equal(core_auth_token(f->st, token, user, NULL), -EACCES);
	assert_int_equal(core_token_create(f->st, "no/such", NULL, token, NULL),
			 -EINVAL);
	assert_int_equal(core_user_valid("alice"), 1);
	assert_int_equal(core_user_valid("-x"), 0);
}

static void test_lightly_find(void **state)
{
	struct tstore_fx *f = *state;
	struct store_dataset a, d;
	struct store_lightly_id id, got;

	assert_int_equal(store_dataset_create(f->st, "alice", "la", &a), 0);
	assert_int_equal(core_lightly_id(f->st, STORE_LIGHTLY_EMB, a.id, "e1",
					 0, &id), 0);
	assert_int_equal(core_lightly_find(f->st, "alice", STORE_LIGHTLY_EMB,
					   id.id, &got, &d), 0);
	assert_string_equal(got.name, "e1");
	assert_int_equal(d.id, a.id);
	/* another owner, another kind, an unknown id: the same answer */
	assert_int_equal(core_lightly_find(f->st, "bob", STORE_LIGHTLY_EMB,
					   id.id, &got, NULL), -ENOENT);
	assert_int_equal(core_lightly_find(f->st, "alice", STORE_LIGHTLY_JOB,
					   id.id, &got, NULL), -ENOENT);
	assert_int_equal(core_lightly_find(f->st, "alice", STORE_LIGHTLY_EMB,
					   "000000000000000000000000", &got,
					   NULL), -ENOENT);
}

static void test_sha_hex(void **state)
{
	/* SHA-256 of "abc" (FIPS 180-2) */
	static const unsigned char d[STORE_SHA_LEN] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41,
		0x40, 0xde, 0x5d, 0xae, 0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3,
		0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00,
		0x15, 0xad };
	char hex[65];

	(void)state;
	core_sha_hex(d, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
				 "b00361a396177a9cb410ff61f20015ad");
	assert_true(core_now_ns() > 1600000000ll * 1000000000);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, tstore_fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_own_ids),
		T(test_blob_rules),
		T(test_tokens),
		T(test_lightly_find),
		cmocka_unit_test(test_sha_hex),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
