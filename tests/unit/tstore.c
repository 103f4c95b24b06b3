/*
 * tstore.c — see tstore.h. The directory is removed with nftw, depth
 * first, without following symlinks.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tests/unit/tstore.h"

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

int tstore_open(const char *name, char *tmp, size_t tmplen, char *dir,
		size_t dirlen, store **st)
{
	char msg[STORE_ERRMSG] = "";

	snprintf(tmp, tmplen, "/tmp/sievefs-test-%s-XXXXXX", name);
	if (!mkdtemp(tmp)) {
		perror("setup: mkdtemp");
		return -1;
	}
	snprintf(dir, dirlen, "%s/store", tmp);
	if (store_open(dir, STORE_OPEN_OWNER, st, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "setup: %s\n", msg);
		tstore_close(tmp, NULL);
		return -1;
	}
	return 0;
}

void tstore_close(const char *tmp, store *st)
{
	if (st)
		store_close(st);
	nftw(tmp, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int tstore_fx_setup(void **state, const char *name)
{
	struct tstore_fx *f = calloc(1, sizeof(*f));

	if (!f)
		return -1;
	if (tstore_open(name, f->tmp, sizeof(f->tmp), f->dir, sizeof(f->dir),
			&f->st)) {
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

int tstore_fx_teardown(void **state)
{
	struct tstore_fx *f = *state;

	tstore_close(f->tmp, f->st);
	free(f);
	return 0;
}
