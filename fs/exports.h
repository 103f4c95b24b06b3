/*
 * exports.h — a dataset's read-only `exports/` folder (issue 21 item 5;
 * core/exports.h has the formats): TAG.txt, TAG.label-studio.json and
 * TAG.csv for every tag, made by the backend (export_read) when read.
 * Helpers return 0 or -errno; the handles they make are FH_CTL read
 * handles (ctl.c frees them).
 */
#ifndef SIEVEFS_FS_EXPORTS_H
#define SIEVEFS_FS_EXPORTS_H

#include "fs/emb.h"
#include "fs/fs.h"

int fs_exports_lookup(struct fs *fs, int64_t ds, const char *name,
		      struct fuse_entry_param *e);
/* Every tag's three files, in tag order. */
int fs_exports_list(struct fs *fs, int64_t ds, fs_emb_list_fn fn, void *arg);
/* Exact size (the text is made, or the length of one reused: made
 * recently, or unchanged since by its key, fs/exports.c). */
int fs_exports_getattr(struct fs *fs, struct fs_ino i, struct stat *st);
/* A read handle on a fresh text; a write open: -EACCES, logged. */
int fs_exports_open(struct fs *fs, struct fs_ino i, int flags,
		    struct fs_fh **out);
/* A change (op: "create", "unlink", ...) of `name` in folder `p` or of
 * export inode p: -EACCES with the reason in the dataset's log when p is
 * exports/ or an export, nothing changed; else 0. */
int fs_exports_refuse(struct fs *fs, struct fs_ino p, const char *op,
		      const char *name);

#endif
