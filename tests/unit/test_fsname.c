/*
 * test_fsname.c — fs/ name handling: inode numbering (fs/ino.c) round trips
 * and rejects numbers fs/ never hands out; control-file names (fs/ctl.c)
 * resolve both ways and are all reserved names of the platform.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/names.h"
#include "fs/fs.h"
#include "fs/ino.h"

static void test_root(void **state)
{
	(void)state;
	assert_int_equal(fs_ino_decode(1).kind, FS_INO_ROOT);
	assert_int_equal(fs_ino_decode(0).kind, FS_INO_BAD);
}

static void test_node_roundtrip(void **state)
{
	const int64_t ids[] = { 1, 2, 1000, INT64_C(1) << 40 };

	(void)state;
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		struct fs_ino d = fs_ino_decode(fs_ino_node(ids[i]));
		assert_int_equal(d.kind, FS_INO_NODE);
		assert_int_equal(d.id, ids[i]);
	}
	/* node 1 must not collide with the root */
	assert_int_not_equal(fs_ino_node(1), 1);
}

static void test_dataset_and_ctl(void **state)
{
	struct fs_ino d;

	(void)state;
	d = fs_ino_decode(fs_ino_dataset(7));
	assert_int_equal(d.kind, FS_INO_DATASET);
	assert_int_equal(d.id, 7);
	d = fs_ino_decode(fs_ino_ctl(7, FS_SLOT_INFO));
	assert_int_equal(d.kind, FS_INO_CTL);
	assert_int_equal(d.id, 7);
	assert_int_equal(d.slot, FS_SLOT_INFO);
	/* distinct datasets, distinct numbers */
	assert_int_not_equal(fs_ino_ctl(7, FS_SLOT_LOG),
			     fs_ino_ctl(8, FS_SLOT_LOG));
	assert_int_not_equal(fs_ino_dataset(7), fs_ino_node(7));
}

/* Embeddings, uploads into embeddings/ and scratch files never share a
 * number. */
static void test_emb_upload_scratch(void **state)
{
	struct fs_ino d;

	(void)state;
	d = fs_ino_decode(fs_ino_scratch(5));
	assert_int_equal(d.kind, FS_INO_SCRATCH);
	assert_int_equal(d.id, 5);
	d = fs_ino_decode(fs_ino_emb_upload(5));
	assert_int_equal(d.kind, FS_INO_EMB_UPLOAD);
	assert_int_equal(d.id, 5);
	d = fs_ino_decode(fs_ino_emb(5));
	assert_int_equal(d.kind, FS_INO_EMB);
	assert_int_equal(d.id, 5);
	assert_int_equal(fs_ino_decode(fs_ino_scratch(0)).kind, FS_INO_BAD);
	assert_int_equal(fs_ino_decode(fs_ino_scratch(5) |
				       fs_ino_emb_upload(5)).kind, FS_INO_BAD);
}

static void test_bad_numbers(void **state)
{
	(void)state;
	/* dataset 0 is never handed out */
	assert_int_equal(fs_ino_decode(UINT64_C(1) << 62).kind, FS_INO_BAD);
	/* top bit set */
	assert_int_equal(fs_ino_decode(UINT64_MAX).kind, FS_INO_BAD);
}

static void test_ctl_names(void **state)
{
	size_t n;
	const struct fs_ctl *all = fs_ctl_all(&n);

	(void)state;
	assert_true(n >= 3);
	for (size_t i = 0; i < n; i++) {
		assert_ptr_equal(fs_ctl_by_name(all[i].name), &all[i]);
		assert_ptr_equal(fs_ctl_by_slot(all[i].slot), &all[i]);
		assert_true(core_name_reserved(all[i].name));
		assert_int_not_equal(all[i].slot, FS_SLOT_DIR);
	}
	assert_null(fs_ctl_by_name("initial-tag"));
	assert_null(fs_ctl_by_name("Selection"));
	assert_null(fs_ctl_by_slot(FS_SLOT_DIR));
	/* only selection is writable */
	assert_true(fs_ctl_by_name("selection")->mode & 0200);
	assert_false(fs_ctl_by_name("info")->mode & 0222);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root),
		cmocka_unit_test(test_node_roundtrip),
		cmocka_unit_test(test_dataset_and_ctl),
		cmocka_unit_test(test_emb_upload_scratch),
		cmocka_unit_test(test_bad_numbers),
		cmocka_unit_test(test_ctl_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
