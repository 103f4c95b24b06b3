/*
 * cmdline.h — the mount command line:
 *   sievefs SOURCE MOUNTPOINT [-o opt,...] [-f] [-d] [-s]
 * which is also the form mount(8) and mount.fuse3 pass (`-o rw,dev,...`).
 * SOURCE is a store directory (embedded mode). Options mount(8) keeps for
 * itself (defaults, noauto, nofail, _netdev, user, users, x-*) are dropped;
 * libfuse's own options pass through.
 */
#ifndef SIEVEFS_FS_CMDLINE_H
#define SIEVEFS_FS_CMDLINE_H

#include "fs/fs.h"

struct fs_cmdline {
	char *source;                  /* malloc'd */
	struct fuse_args args;         /* what libfuse gets (fuse_opt_free_args) */
	struct fuse_cmdline_opts opts; /* mountpoint malloc'd by libfuse */
};

/* Parses argv. Returns 0, 1 when --help/--version was answered (exit 0), or
 * -EINVAL with a message printed to stderr. Free with fs_cmdline_free(). */
int fs_cmdline_parse(int argc, char **argv, struct fs_cmdline *out);
void fs_cmdline_free(struct fs_cmdline *cl);
/* Usage text, for --help and errors. */
void fs_usage(const char *prog);

#endif
