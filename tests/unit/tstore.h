/*
 * tstore.h — the temporary store the CMocka unit tests of store/ and
 * core/ open in their setup: a fresh directory under /tmp with an owner's
 * store in it, removed again in teardown.
 *
 * Ownership: the caller's fixture holds the two paths and the store;
 * tstore_open fills them, tstore_close closes the store and removes the
 * whole directory. On failure tstore_open prints why on stderr, leaves
 * nothing behind and returns -1 (CMocka then fails the group's setup).
 */
#ifndef SIEVEFS_TESTS_TSTORE_H
#define SIEVEFS_TESTS_TSTORE_H

#include <stddef.h>

#include "store/store.h"

/* mkdtemp /tmp/sievefs-test-NAME-XXXXXX into tmp, the store's path
 * (tmp/store) into dir, and the store opened as its owner into *st. */
int tstore_open(const char *name, char *tmp, size_t tmplen, char *dir,
		size_t dirlen, store **st);
/* Closes st (when not NULL) and removes tmp with everything in it. */
void tstore_close(const char *tmp, store *st);

/* The fixture of a test that needs the store and nothing else. */
struct tstore_fx {
	char tmp[64];
	char dir[128];
	store *st;
};
/* CMocka setup: a calloc'd struct tstore_fx, its store opened by
 * tstore_open(name), into *state; -1 (nothing left) on failure. */
int tstore_fx_setup(void **state, const char *name);
/* CMocka teardown of tstore_fx_setup's fixture. */
int tstore_fx_teardown(void **state);

#endif
