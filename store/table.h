/*
 * table.h — the catalog's queries for a dataset's sample table (table.c
 * has the design): its change counter and its rows. Part of store/'s
 * interface beside store.h (same errors: 0 or -errno).
 */
#ifndef SIEVEFS_STORE_TABLE_H
#define SIEVEFS_STORE_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* The change counter of dataset's live tree into *gen: it moves with every
 * create, commit, rename and removal of a node of that tree, every setattr
 * of a file (a folder's times, mode and owner are in no row), and with a
 * grant that changes a row's `kept`; 0 for a tree never changed.
 * One indexed read. 0 or -EIO. */
int store_table_gen(store *st, int64_t dataset, uint64_t *gen);

/* One sample: a committed file of the live tree. Valid during the call. */
struct store_trow {
	const char *path;       /* relative, no leading '/' */
	size_t path_len;
	int64_t size, ino;
	int kept;               /* 1: the bytes stay with the uploader (for
	                         * the dataset's owner: kept.c) */
};
typedef int (*store_trow_fn)(void *arg, const struct store_trow *row);

/* Calls fn for each committed file of the dataset's live tree, sorted
 * bytewise by path, after setting *gen to the counter of that same
 * snapshot (one read transaction). Stops when fn returns non-zero (and
 * returns that). -ENOENT: no such dataset. */
int store_table_each(store *st, int64_t dataset, uint64_t *gen,
		     store_trow_fn fn, void *arg);

#endif
