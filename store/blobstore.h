/*
 * blobstore.h — the blob-store engine interface (issue 19 item 1): bytes
 * only, no catalog. A blob is named by the SHA-256 of its bytes and never
 * changes; which node names which blob, and when a blob may go, is the
 * catalog's business (store/blob.c), never an engine's.
 *
 * Engines, each its own file behind this interface:
 *   local  store/blobs_local.c — a directory, docs/design.md §2.2:
 *          DIR/blobs/ab/<sha> (ab = the first byte in hex), DIR/staging/
 *          for uploads in progress, folders 0700, files 0600
 *   S3     store/blobs_s3.c over store/s3.h — one bucket and key prefix:
 *          PREFIX/blobs/ab/<sha>, PREFIX/staging/<24 random hex>
 *
 * An upload. blobs_begin gives a writer; blobs_write takes the bytes in
 * order as they stream in and hashes them on the way (local: into an
 * unnamed staging file; S3: into a part-sized buffer, sent as one part of
 * a multipart upload under a staging key each time it fills, so a large
 * upload never sits whole in memory nor on a local disk). blobs_finish
 * computes the hash, refuses the bytes when the caller named another hash
 * (a lying or cut upload), and makes the blob appear under its final key
 * atomically: local — link the staging file into blobs/ab/<sha> (fsync'd
 * first when durable); S3 — a small blob is one PUT of the final key with
 * x-amz-content-sha256 (RGW refuses bytes that do not match), a multipart
 * one is completed under its staging key, copied server-side onto the
 * final key, and the staging object deleted. blobs_abort drops it all.
 *
 * Invariants (issue 19 item 4) and how each engine keeps them:
 *  1. An object under a blob's key always holds exactly the bytes its hash
 *     names. Both: the hash is computed over the very bytes written, and
 *     checked against the caller's before anything reaches a final key.
 *     Local: the final name is made by link(2) of a complete, closed
 *     staging file: the name appears with all its bytes or not at all. S3:
 *     a PUT is all-or-nothing and checked by the server against its
 *     x-amz-content-sha256; a multipart upload's parts are each checked
 *     the same way, and the final key is only ever made by a server-side
 *     copy of a completed staging object whose whole hash we computed.
 *  2. A failed, cut or lying upload never overwrites or deletes an existing
 *     blob. A hash mismatch never touches the final key. Local: link(2)
 *     fails with EEXIST rather than replace; a blob already there (same
 *     name, so same bytes) only drops the staging. S3: a multipart upload
 *     looks for the final key first and, when it is there, only drops its
 *     staging; a one-part blob is PUT whether or not the key is there (a
 *     HEAD first would cost a round trip as long as the PUT), and so may
 *     a concurrent upload of the same hash — always the same, verified
 *     bytes, so a reader sees those bytes before and after.
 *  3. A blob a committed node names is never deleted: engines delete only
 *     when told (blobs_remove), and the catalog calls it under its write
 *     lock when no node names the hash (store/blob.c). The engines never
 *     remove a final key on their own — not on failure, not in a sweep.
 *     The catalog must also keep a collection from running between an
 *     upload's finish (which may find the blob there and send nothing)
 *     and the commit of the node naming it: the local commit links under
 *     the write lock; an S3 upload, finished outside any lock, needs its
 *     hash recorded as pending (the `pending` table) before finish, and
 *     collection spares pending hashes (store/blob.c's blob_collect; the
 *     order is said at the top of blob.c). Also when a node names the
 *     hash already (the same bytes sent again): that node may go before
 *     the new commit, and the blob with it, were the row not there
 *     (store/users.c's record_put).
 *  4. A crash leaves at most garbage under the staging area: uploads write
 *     nothing but staging until finish; blobs_sweep removes what is older
 *     than a given age (local: files in staging/; S3: objects under
 *     staging/ and open multipart uploads there). Choose an age longer than
 *     any upload takes: a sweep cannot tell a dead upload from a slow one.
 *
 * Threads. A blobstore is shared by any number of threads; a blob_upload
 * belongs to one thread at a time. Every call blocks (S3: network I/O).
 *
 * Failure: every call returns 0 (or an fd) or a negative errno: -ENOENT no
 * such blob, -EBADMSG the bytes do not match the hash given, -ENOTSUP the
 * engine cannot (the local engine's presigned URL: the caller then serves
 * the bytes itself), -ENOSPC, -EDQUOT,
 * -EFBIG (S3: a multipart blob over 5 GiB cannot be copied yet), -EIO,
 * -ETIMEDOUT, -EAGAIN (S3: try later), -ENOMEM, -EINVAL. S3's reason for
 * a failure is in blobs_last_error's answer on the same thread.
 */
#ifndef SIEVEFS_STORE_BLOBSTORE_H
#define SIEVEFS_STORE_BLOBSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "store/s3.h"

#define BLOBS_SHA_LEN 32

typedef struct blobstore blobstore;
typedef struct blob_upload blob_upload;

/* The local engine on DIR (the store's folder): makes DIR/blobs/00..ff and
 * DIR/staging (0700) when missing. -errno of a mkdir, -ENOMEM. */
int blobs_local_open(const char *dir, blobstore **out);
/* The S3 engine on cfg (copied; bucket, prefix, keys, part size — the
 * size of the buffer each upload holds). Sends nothing. -EINVAL with a
 * reason in msg, -ENOMEM. */
int blobs_s3_open(const struct s3_config *cfg, blobstore **out, char *msg,
		  size_t msglen);
/* The engine a store's blobs live in, from the text of `serve --blobs`:
 * NULL or "" the local engine on dir; "s3://BUCKET[/PREFIX]?endpoint=
 * http(s)://HOST[:PORT]&region=REGION" the S3 engine (store/blobs_spec.c
 * says the strict form). Credentials: key_id and secret (a config file's
 * s3_access_key_id, s3_secret_access_key; both or neither), else the
 * environment's AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY. Sends
 * nothing. -EINVAL with a reason in msg naming the bad part (never the
 * secret), -ENOMEM, a mkdir's errno (local). Caller closes with
 * blobs_close. */
int blobs_open_spec(const char *dir, const char *spec, const char *key_id,
		    const char *secret, blobstore **out, char *msg,
		    size_t msglen);
/* Closes an engine; no call or upload may be running on it. NULL: no-op. */
void blobs_close(blobstore *b);
/* "local" or "s3". */
const char *blobs_engine(const blobstore *b);

/* Starts an upload. -ENOMEM, or the staging area's errno. */
int blobs_begin(blobstore *b, blob_upload **out);
/* Appends len bytes (in order) to the upload. On failure the upload is
 * still open and must be aborted. */
int blobs_write(blob_upload *u, const void *buf, size_t len);
/* Ends the upload and frees u, whatever the outcome: the bytes become the
 * blob named by their SHA-256, given in got (may be NULL). When want is
 * non-NULL and the bytes hash otherwise, -EBADMSG and nothing but the
 * staging changes. durable: the local engine fsyncs the bytes and the
 * folder (S3 answers only once its bytes are stored). Whatever fails,
 * the staging is dropped (or left to a sweep when dropping fails too). */
int blobs_finish(blob_upload *u, const unsigned char want[BLOBS_SHA_LEN],
		 unsigned char got[BLOBS_SHA_LEN], int durable);
/* Drops an upload and its staging; frees u. NULL: no-op. */
void blobs_abort(blob_upload *u);
/* Bytes given to the upload so far. */
uint64_t blobs_upload_size(const blob_upload *u);

/* An fd open for reading on the blob (the caller closes it); -ENOTSUP
 * when the engine has no files (S3: use blobs_read or a presigned URL). */
int blobs_open_fd(blobstore *b, const unsigned char sha[BLOBS_SHA_LEN]);
/* Reads up to len bytes at off into buf; *got is how many (fewer at the
 * end, 0 at or past it). S3: one ranged GET. */
int blobs_read(blobstore *b, const unsigned char sha[BLOBS_SHA_LEN],
	       uint64_t off, void *buf, size_t len, size_t *got);
/* 0 and its size (size may be NULL) when the blob exists, else -ENOENT. */
int blobs_stat(blobstore *b, const unsigned char sha[BLOBS_SHA_LEN],
	       uint64_t *size);
/* Removes the blob: 0 whether it existed or not. Only the catalog calls
 * this, once no node names the hash (invariant 3). */
int blobs_remove(blobstore *b, const unsigned char sha[BLOBS_SHA_LEN]);
/* A URL anyone may GET the blob's bytes from for expires_s seconds (S3:
 * SigV4 presigned; the bucket stays private). -ENOTSUP on the local
 * engine; -ENAMETOOLONG (cap), -EINVAL. Sends nothing. */
int blobs_presign(blobstore *b, const unsigned char sha[BLOBS_SHA_LEN],
		  unsigned expires_s, char *url, size_t cap);
/* Removes staging left by uploads that began more than older_than_s
 * seconds ago (a crashed process's), and counts them in *removed (may be
 * NULL). Never touches a blob. */
int blobs_sweep(blobstore *b, int64_t older_than_s, unsigned *removed);

/* Small derived objects kept beside the blobs (server-made thumbnails):
 * NAME is a relative key of [a-z0-9./_-], e.g. "thumbs/ab/<sha>.128";
 * its bytes are whatever the caller put, replaced whole by a put (S3:
 * PREFIX/NAME, one PUT checked against its SHA-256). get: 0 and *got
 * bytes into buf (cap; -EOVERFLOW when larger), -ENOENT. remove: 0 also
 * when absent. The local engine has none (-ENOTSUP): the store keeps
 * them as its own files. */
int blobs_aux_put(blobstore *b, const char *name, const void *buf,
		  size_t len);
int blobs_aux_get(blobstore *b, const char *name, void *buf, size_t cap,
		  size_t *got);
int blobs_aux_remove(blobstore *b, const char *name);

/* The last failure's reason on this thread ("" when none): for a log
 * line; never holds a secret. */
const char *blobs_last_error(void);

/* ---- the local engine's file operations, for store/blob.c (its catalog
 * side commits uploads written at random offsets; these are the only
 * copies of the file operations). DIR is the store's folder. */

/* DIR/blobs/ab/<sha> into buf. -ENAMETOOLONG when it does not fit. */
int blobs_local_path(const char *dir, const unsigned char sha[BLOBS_SHA_LEN],
		     char *buf, size_t len);
/* A new staging file, 0600, open read-write: unnamed (O_TMPFILE, path
 * set to "") where the filesystem can, else DIR/staging/<random> (its
 * path in path, len bytes). Returns the fd or -errno. */
int blobs_local_stage(const char *dir, char *path, size_t len);
/* Gives a complete staging file (fd; staged its path, "" if unnamed) its
 * blob name, or drops it when that blob exists already (same name, same
 * bytes; never replaced). durable: fsync the blob's folder after the link;
 * the caller has fsync'd fd already (a file's fsync is the slow one: done
 * once, outside the catalog's write lock). The staging name is gone after
 * the call whatever the outcome; fd stays the caller's. */
int blobs_local_link(const char *dir, int fd, const char *staged,
		     const unsigned char sha[BLOBS_SHA_LEN], int durable);
/* Drops a staging file's name ("" : nothing to do). */
void blobs_local_unstage(const char *staged);
/* Unlinks the files in DIR/staging/ whose ctime is older_than_s or more
 * seconds ago (0: all), counting them into *removed (may be NULL); the
 * engine's sweep, and the owner's recovery at open. */
int blobs_local_sweep(const char *dir, int64_t older_than_s,
		      unsigned *removed);
/* Opens the blob read-only: the fd or -errno (-ENOENT). */
int blobs_local_open_fd(const char *dir,
			const unsigned char sha[BLOBS_SHA_LEN]);
/* Unlinks the blob: 0, also when it was not there. */
int blobs_local_unlink(const char *dir,
		       const unsigned char sha[BLOBS_SHA_LEN]);

/* ---- for the engines only: the table each fills in. */
struct blobs_ops {
	const char *name;
	int (*begin)(blobstore *b, blob_upload **out);
	int (*write)(blob_upload *u, const void *buf, size_t len);
	/* sha: the verified hash of the bytes; frees u */
	int (*finish)(blob_upload *u, const unsigned char *sha, int durable);
	void (*abort)(blob_upload *u);
	int (*open_fd)(blobstore *b, const unsigned char *sha);
	int (*read)(blobstore *b, const unsigned char *sha, uint64_t off,
		    void *buf, size_t len, size_t *got);
	int (*stat)(blobstore *b, const unsigned char *sha, uint64_t *size);
	int (*remove)(blobstore *b, const unsigned char *sha);
	int (*presign)(blobstore *b, const unsigned char *sha,
		       unsigned expires_s, char *url, size_t cap);
	int (*sweep)(blobstore *b, int64_t older_than_s, unsigned *removed);
	/* NULL: no derived objects (blobs_aux_*: -ENOTSUP) */
	int (*aux_put)(blobstore *b, const char *name, const void *buf,
		       size_t len);
	int (*aux_get)(blobstore *b, const char *name, void *buf, size_t cap,
		       size_t *got);
	int (*aux_remove)(blobstore *b, const char *name);
	void (*close)(blobstore *b);
};
/* An engine's handle and upload start with these. */
struct blobstore {
	const struct blobs_ops *ops;
};
struct blob_upload {
	blobstore *b;
	void *md;               /* EVP_MD_CTX: SHA-256 of the bytes so far */
	uint64_t size;
};
/* Sets this thread's reason (printf-style); "" clears it. */
void blobs_set_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

#endif
