/*
 * upload.h — uploads in progress: the bytes of a file of a live tree while it
 * is being written, before they are committed as a sample.
 *
 * One `struct upload` per inode being written, shared by every handle open on
 * it (so a reader sees what a writer wrote, as on any filesystem). Writes go
 * to a staging file while a SHA-256 is computed as sequential data arrives;
 * upload_commit() (on close, fsync, or a truncate without open handle) hands
 * the staging file to the backend, which makes it the node's content in one
 * transaction. Until then the node keeps its previous content, so a crash
 * loses the upload but never presents part of it as complete.
 *
 * Threads: the table has one mutex (held only to find/insert/remove entries);
 * each upload has its own mutex, held across its staging I/O. Lock order:
 * table, then upload.
 */
#ifndef SIEVEFS_CORE_UPLOAD_H
#define SIEVEFS_CORE_UPLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/backend.h"

struct upload;
struct upload_table;

/* Returns NULL on out-of-memory. Free with upload_table_free(). */
struct upload_table *upload_table_new(struct backend *be);
/* Commits nothing: callers release every upload first. NULL is a no-op. */
void upload_table_free(struct upload_table *t);

/* Takes a reference on the upload of file node n, making it if needed.
 * trunc: the content starts empty (O_TRUNC, or a newly created file);
 * otherwise the current bytes are copied to staging at the first write.
 * Returns 0 or -errno; release with upload_release(). */
int upload_get(struct upload_table *t, const be_node *n, int trunc,
	       struct upload **out);
/* The upload of ino if one is open (reference taken), else NULL. */
struct upload *upload_find(struct upload_table *t, int64_t ino);
/* Drops a reference; the last one commits what is uncommitted (errors are
 * logged: close() already returned) and frees the upload. */
void upload_release(struct upload_table *t, struct upload *u);

/* pwrite semantics; returns bytes written or -errno. After a failed write
 * every later write and the next commit fail with that error (upload.c). */
ssize_t upload_write(struct upload *u, const void *buf, size_t size,
		     off_t off);
/* pread semantics over the current (possibly uncommitted) bytes. */
ssize_t upload_read(struct upload *u, void *buf, size_t size, off_t off);
/* A new fd on the current bytes (staging or committed), for a read the
 * kernel splices; -ENODATA when there are none yet (an empty file), or
 * -errno. The caller closes it; it stays valid after a commit. */
int upload_read_fd(struct upload *u);
int upload_truncate(struct upload *u, off_t size);
/* mtime to commit with (cp -p, touch on an open file); 0 = time of commit. */
void upload_set_mtime(struct upload *u, int64_t mtime_ns);
/* Current size and mtime, for getattr while the file is open. */
void upload_stat(struct upload *u, int64_t *size, int64_t *mtime_ns);
/* Commits uncommitted bytes. durable: fsync before returning. Returns 0 or
 * -errno: the error of a failed earlier write (ENOSPC, EIO, ...; nothing is
 * committed then) or of the commit itself. On error the upload is discarded:
 * the node keeps its committed bytes, or, if it never had any, is removed. */
int upload_commit(struct upload *u, int durable);

#endif
