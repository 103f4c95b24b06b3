/*
 * emb.h — the embeddings/ folder of a dataset, and the predictions/ and
 * metadata/ folders (issue 21) by the same machinery (see emb.c): `kind` 0
 * is embeddings/, else the folder's enum core_input_kind (fs_csv_slot_kind).
 * Helpers return 0 or -errno; handles they make are freed by
 * fs_emb_release (uploads) or as FH_BLOB handles (exports).
 */
#ifndef SIEVEFS_FS_EMB_H
#define SIEVEFS_FS_EMB_H

#include "fs/fs.h"

/* An unnamed temporary file (O_TMPFILE in $TMPDIR or /tmp: nothing to
 * clean up after a crash), for uploads and scratch files: fd or -errno. */
int fs_tmpfile_fd(void);
/* "NAME.csv" → NAME (validated); -EINVAL otherwise. */
int fs_emb_base(const char *file, char *base, size_t len);
/* The folder kind of a dataset slot: 0 embeddings/, 1 predictions/,
 * 2 metadata/; -1 another slot. fs_csv_folder: its name. */
int fs_csv_slot_kind(int slot);
const char *fs_csv_folder(int kind);
/* Stores a whole text as NAME.csv of folder kind (backend emb_put or
 * input_put): 0 or -errno, the reason in msg (BE_MSG). */
int fs_csv_put(struct fs *fs, int kind, int64_t ds, const char *name,
	       const char *text, size_t len, char *msg);
int fs_emb_lookup(struct fs *fs, int kind, int64_t ds, const char *file,
		  struct fuse_entry_param *e);
int fs_emb_getattr(struct fs *fs, struct fs_ino i, struct stat *st);
typedef int (*fs_emb_list_fn)(void *arg, const char *name,
			      const struct fuse_entry_param *e);
int fs_emb_list(struct fs *fs, int kind, int64_t ds, fs_emb_list_fn fn,
		void *arg);
/* A pending upload of embeddings/FILE; e (may be NULL) gets its entry. */
int fs_emb_upload_new(struct fs *fs, int kind, int64_t ds, const char *file,
		      struct fs_fh **out, struct fuse_entry_param *e);
ssize_t fs_emb_write(struct fs *fs, struct fs_fh *fh, const char *buf,
		     size_t size, off_t off);
/* A close (FLUSH): stores the file when by_opener and written since the
 * last store; 0 or -errno (fs/README.md, "When a write ends"). */
int fs_emb_flush(struct fs *fs, struct fs_fh *fh, int by_opener);
void fs_emb_release(struct fs *fs, struct fs_fh *fh);
/* An FH_BLOB handle on a fresh export of inode i (EMB, INPUT,
 * INPUT_SCORES). */
int fs_emb_open_read(struct fs *fs, struct fs_ino i, struct fs_fh **out);
int fs_emb_unlink(struct fs *fs, int kind, int64_t ds, const char *file);

#endif
