/*
 * test_lightly.c — unit tests for what store/ keeps for the lightly door
 * (store/lightly.c): the 24-hex ids (stable per kind, dataset and name; a
 * job's run replaced when it is asked again), the datasets whose initial
 * tag was made, the single use of write URLs (a claim, a replay, a claim
 * given back, expired claims dropped), and the signing secret (made once,
 * owner-only, the same on every call and after reopening).
 *
 * Fixture: a fresh store in a temp dir (mkdtemp under /tmp) opened as
 * owner; teardown closes it and removes the dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/lightly.h"
#include "tests/unit/tstore.h"
#include "store/store.h"

#define assert_rc(expr, want) do {                                       \
	int rc_ = (expr), want_ = (want);                                \
	if (rc_ != want_)                                                \
		fail_msg("%s: got %d (%s), want %d (%s)", #expr, rc_,     \
			 strerror(-rc_), want_, strerror(-want_));        \
} while (0)

static int setup(void **state)
{
	return tstore_fx_setup(state, "lightly");
}

static int is_hex24(const char *s)
{
	return strlen(s) == 24 && strspn(s, "0123456789abcdef") == 24;
}

/* An id is made once per (kind, dataset, name) and found again by id. */
static void ids_stable(void **state)
{
	struct tstore_fx *f = *state;
	struct store_lightly_id a, b, c, found;

	/* nothing made yet: no table, an unknown id */
	assert_rc(store_lightly_id_find(f->st, "0123456789abcdef01234567",
					&found), -ENOENT);
	assert_rc(store_lightly_id_get(f->st, STORE_LIGHTLY_EMB, 3, "simclr",
				       0, &a), 0);
	assert_true(is_hex24(a.id));
	assert_rc(store_lightly_id_get(f->st, STORE_LIGHTLY_EMB, 3, "simclr",
				       0, &b), 0);
	assert_string_equal(a.id, b.id);
	/* another dataset, another kind, another name: other ids */
	assert_rc(store_lightly_id_get(f->st, STORE_LIGHTLY_EMB, 4, "simclr",
				       0, &c), 0);
	assert_string_not_equal(a.id, c.id);
	assert_rc(store_lightly_id_get(f->st, STORE_LIGHTLY_JOB, 3, "simclr",
				       7, &c), 0);
	assert_string_not_equal(a.id, c.id);
	assert_rc(store_lightly_id_find(f->st, a.id, &found), 0);
	assert_int_equal(found.kind, STORE_LIGHTLY_EMB);
	assert_int_equal(found.dataset, 3);
	assert_string_equal(found.name, "simclr");
	assert_rc(store_lightly_id_find(f->st, "ffffffffffffffffffffffff",
					&found), -ENOENT);
}

/* A job remembers its run and its tag; asked again with another run (a
 * retried sampling into the same tag name) the run is replaced and the
 * tag forgotten, under the same id. */
static void job_rows(void **state)
{
	struct tstore_fx *f = *state;
	struct store_lightly_id j, k, found;

	assert_rc(store_lightly_id_get(f->st, STORE_LIGHTLY_JOB, 1, "best",
				       11, &j), 0);
	assert_int_equal(j.ref, 11);
	assert_int_equal(j.tag, 0);
	assert_rc(store_lightly_job_done(f->st, j.id, 5), 0);
	assert_rc(store_lightly_id_find(f->st, j.id, &found), 0);
	assert_int_equal(found.tag, 5);
	assert_rc(store_lightly_id_get(f->st, STORE_LIGHTLY_JOB, 1, "best",
				       12, &k), 0);
	assert_string_equal(j.id, k.id);
	assert_int_equal(k.ref, 12);
	assert_int_equal(k.tag, 0);
	assert_rc(store_lightly_id_find(f->st, j.id, &found), 0);
	assert_int_equal(found.ref, 12);
	assert_int_equal(found.tag, 0);
}

static void ds_img_type(void **state)
{
	struct tstore_fx *f = *state;
	char img[16] = "";

	assert_rc(store_lightly_ds_get(f->st, 9, img, sizeof(img)), 0);
	assert_rc(store_lightly_ds_set(f->st, 9, "thumbnail"), 0);
	assert_rc(store_lightly_ds_get(f->st, 9, img, sizeof(img)), 1);
	assert_string_equal(img, "thumbnail");
	assert_rc(store_lightly_ds_set(f->st, 9, "full"), 0);
	assert_rc(store_lightly_ds_get(f->st, 9, img, sizeof(img)), 1);
	assert_string_equal(img, "full");
	assert_rc(store_lightly_ds_get(f->st, 10, img, sizeof(img)), 0);
}

/* A write URL's MAC is claimed once; a replay is refused; a claim given
 * back may be claimed again; an expired claim is dropped by the next. */
static void claims(void **state)
{
	struct tstore_fx *f = *state;
	int64_t later = store_now_ns() + 60000000000LL;

	assert_rc(store_lightly_claim(f->st, "aa", later), 0);
	assert_rc(store_lightly_claim(f->st, "aa", later), -EEXIST);
	assert_rc(store_lightly_claim(f->st, "bb", later), 0);
	store_lightly_unclaim(f->st, "aa");
	assert_rc(store_lightly_claim(f->st, "aa", later), 0);
	assert_rc(store_lightly_claim(f->st, "cc", store_now_ns() - 1), 0);
	/* cc expired: the next claim drops it, so it could be claimed
	 * again — harmless, its signature has expired too */
	assert_rc(store_lightly_claim(f->st, "dd", later), 0);
	assert_rc(store_lightly_claim(f->st, "cc", later), 0);
	assert_rc(store_lightly_claim(f->st, "bb", later), -EEXIST);
}

/* The secret: 32 random bytes in the catalog (no file of its own), the
 * same on every call and after the store is reopened. */
static void secret(void **state)
{
	struct tstore_fx *f = *state;
	unsigned char a[STORE_LIGHTLY_KEY_LEN], b[STORE_LIGHTLY_KEY_LEN];
	unsigned char zero[STORE_LIGHTLY_KEY_LEN] = { 0 };
	char path[256], msg[STORE_ERRMSG] = "";
	struct stat sb;

	assert_rc(store_lightly_key(f->st, a), 0);
	assert_memory_not_equal(a, zero, sizeof(a));
	snprintf(path, sizeof(path), "%s/lightly.key", f->dir);
	assert_int_equal(stat(path, &sb), -1);
	assert_rc(store_lightly_key(f->st, b), 0);
	assert_memory_equal(a, b, sizeof(a));
	store_close(f->st);
	f->st = NULL;
	assert_rc(store_open(f->dir, STORE_OPEN_OWNER, &f->st, msg,
			     sizeof(msg)), 0);
	assert_rc(store_lightly_key(f->st, b), 0);
	assert_memory_equal(a, b, sizeof(a));
}

/* An older store kept the secret in STORE/lightly.key: its first use
 * takes that key into the catalog, so the URLs it signed stay valid; a
 * file changed afterwards changes nothing (the catalog's key is the key). */
static void secret_from_older_file(void **state)
{
	struct tstore_fx *f = *state;
	unsigned char old[STORE_LIGHTLY_KEY_LEN], got[STORE_LIGHTLY_KEY_LEN];
	char path[256];
	FILE *fp;

	for (size_t i = 0; i < sizeof(old); i++)
		old[i] = (unsigned char)(0xa0 + i);
	snprintf(path, sizeof(path), "%s/lightly.key", f->dir);
	assert_non_null(fp = fopen(path, "wb"));
	assert_int_equal(fwrite(old, 1, sizeof(old), fp), sizeof(old));
	assert_int_equal(fclose(fp), 0);
	assert_rc(store_lightly_key(f->st, got), 0);
	assert_memory_equal(got, old, sizeof(old));
	assert_non_null(fp = fopen(path, "wb"));
	assert_int_equal(fwrite("0123456789abcdef0123456789abcdef", 1, 32, fp), 32);
	assert_int_equal(fclose(fp), 0);
	assert_rc(store_lightly_key(f->st, got), 0);
	assert_memory_equal(got, old, sizeof(old));
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, tstore_fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(ids_stable),
		T(job_rows),
		T(ds_img_type),
		T(claims),
		T(secret),
		T(secret_from_older_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
