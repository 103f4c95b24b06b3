/*
 * scratch.h — temporary files beside the writable generated files (see
 * scratch.c): what rsync and editors write before renaming it over
 * `selection`, `sample` or `embeddings/NAME.csv`. Helpers return 0 or
 * -errno; handles they make (FH_SCRATCH) are freed by fs_scratch_release.
 */
#ifndef SIEVEFS_FS_SCRATCH_H
#define SIEVEFS_FS_SCRATCH_H

#include "fs/fs.h"

/* 1 if `name` may name a scratch file of folder slot (FS_SLOT_DIR or
 * FS_SLOT_EMBDIR): it starts with '.' (and is not "." or ".."), which no
 * dataset entry, tag or embedding name does — and in embeddings/ it does
 * not end in ".csv" (that is an embedding's name, refused as one). */
int fs_scratch_name(int slot, const char *name);
/* The scratch file `name` of folder (ds, slot): 0 or -ENOENT. slot is
 * FS_SLOT_DIR (the dataset folder) or FS_SLOT_EMBDIR. */
int fs_scratch_lookup(int64_t ds, int slot, const char *name,
		      struct fuse_entry_param *e);
int fs_scratch_getattr(int64_t n, struct stat *st);
/* chmod, chown, utimens, truncate (kept with the file). */
int fs_scratch_setattr(int64_t n, const struct stat *attr, int to_set);
/* A new scratch file, open for writing: -EEXIST if the name is taken. */
int fs_scratch_create(struct fs *fs, int64_t ds, int slot, const char *name,
		      mode_t mode, uid_t uid, gid_t gid, struct fs_fh **out,
		      struct fuse_entry_param *e);
int fs_scratch_open(int64_t n, int flags, struct fs_fh **out);
ssize_t fs_scratch_write(struct fs_fh *fh, const char *buf, size_t size,
			 off_t off);
void fs_scratch_release(struct fs_fh *fh);
int fs_scratch_unlink(int64_t ds, int slot, const char *name);
/* Renames scratch file `name` of folder (ds, slot) onto `newname`: another
 * scratch name, or a writable generated file of the folder, whose text it
 * then becomes, by the rules of a write (-EINVAL, reason in `log`, nothing
 * changed, the scratch file kept). Anything else: -EPERM. */
int fs_scratch_rename(struct fs *fs, int64_t ds, int slot, const char *name,
		      const char *newname, int noreplace);
typedef int (*fs_scratch_fn)(void *arg, const char *name,
			     const struct fuse_entry_param *e);
/* Calls fn for each scratch file of the folder; stops at fn's non-zero. */
int fs_scratch_list(int64_t ds, int slot, fs_scratch_fn fn, void *arg);
/* At unmount: forgets every scratch file. */
void fs_scratch_free_all(void);

#endif
