/*
 * blobs.h — THE interface for sample bytes: what the server (api/) and
 * core/ use to open, stage, store, sweep and hand out the immutable blobs
 * a content hash names, and the thumbnails made of them. Nothing above
 * core/ reaches store/'s blob functions; they reach this.
 *
 * Two halves:
 *
 *   - the bytes: the store's blob functions (store/blob.c), which keep
 *     them through an engine of store/blobstore.h — the local directory
 *     STORE/blobs/ab/<sha256> today; the S3 engine (one bucket, keys by
 *     hash, presigned GET URLs) is built behind that interface and comes
 *     here without touching a caller once the store holds it (§2.9).
 *   - the facts about blobs that live in the catalog whatever the engine
 *     (who sent which bytes — grants —, which are pending, which a
 *     sample keeps on the uploader's machine, which thumbnail a user may
 *     see): implemented once, in core/blobs.c, over store/.
 *
 * Why engines below, in store/, and this interface in core/: the engines
 * are persistence (bytes named by their hash, the catalog's collection
 * deciding when one goes, under the catalog's write lock), while what
 * callers program against here needs core/'s rules (the web door's owner
 * "" reads what its mount names), which store/ must not know.
 *
 * Invariants every engine keeps: the bytes under a hash are exactly the
 * bytes that hash names (a put is verified by its caller and never
 * overwrites or deletes an existing blob); a failed or cut put leaves at
 * most staging garbage the owner's recovery or a sweep removes; a blob a
 * committed node names is never collected.
 *
 * Layers (docs/design.md §2.1): api/ and core/ reach bytes only through
 * this header; engines call down into store/ (and their own clients);
 * store/ calls nothing here.
 *
 * Ownership and threads: a struct core_blobs belongs to the backend that
 * made it (core_local_open; the server borrows it through
 * core_local_blobs) and is used from any number of threads at once.
 * Errors: 0 or a negative errno (store/'s, or the engine's: -EIO with the
 * reason in the log for a remote store that failed); fds are the
 * caller's to close. Every call may block on I/O.
 */
#ifndef SIEVEFS_CORE_BLOBS_H
#define SIEVEFS_CORE_BLOBS_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"

struct core_blobs;

/* The blob store of the catalog st: bytes and the facts about them. It
 * borrows st: free it before closing st. 0 or -ENOMEM. */
int core_blobs_open(store *st, struct core_blobs **out);
/* Frees the blob store (not the catalog it borrows). NULL is a no-op. */
void core_blobs_free(struct core_blobs *b);

/* ---- bytes (the engine's) ---- */

int core_blob_open(struct core_blobs *b, const unsigned char sha[STORE_SHA_LEN]);
/* 1 with a short-lived URL for reading blob sha, 0 when the engine gives
 * none (read it with core_blob_open), -errno. The caller has checked the
 * user may read it (core_blob_readable). */
int core_blob_url(struct core_blobs *b, const unsigned char sha[STORE_SHA_LEN],
		  unsigned ttl_s, char *url, size_t len);
int core_blob_staging(struct core_blobs *b, char *path, size_t len);
int core_blob_put(struct core_blobs *b, int fd, const char *staged,
		  const unsigned char sha[STORE_SHA_LEN], const char *user);
/* core_blob_put under user's upload cap (cap_bytes pending bytes,
 * cap_count pending blobs), checked inside the put's write
 * transaction (store_blob_put_capped): -EDQUOT, with the pending rows
 * the check saw in *count and *bytes, when it would go over. */
int core_blob_put_capped(struct core_blobs *b, int fd, const char *staged,
			 const unsigned char sha[STORE_SHA_LEN],
			 const char *user, uint64_t cap_bytes,
			 size_t cap_count, size_t *count, int64_t *bytes);
int core_blob_sweep(struct core_blobs *b, int64_t grace_ns, size_t *removed,
		    int64_t *bytes);
int core_thumbcache_open(struct core_blobs *b,
			 const unsigned char sha[STORE_SHA_LEN], int side);
int core_thumbcache_put(struct core_blobs *b,
			const unsigned char sha[STORE_SHA_LEN], int side,
			const void *buf, size_t len);

/* ---- who may read what (the catalog's, the same for every engine) ---- */

/* 1 if `owner` may read blob sha, 0 if not, -errno. A server user (owner
 * not "") reads only bytes they have sent (a grant: knowing a hash is not
 * enough); the embedded owner "" (a mount's web door) also reads every
 * blob a node of its datasets names. One or two indexed probes. */
int core_blob_readable(struct core_blobs *b, const char *owner,
		       const unsigned char sha[STORE_SHA_LEN]);
/* core_blob_readable, then the bytes: an fd, -ENOENT when the owner may
 * not read them or they are gone (the same answer), or -errno. */
int core_blob_open_for(struct core_blobs *b, const char *owner,
		       const unsigned char sha[STORE_SHA_LEN]);
/* 1 if a node (live or frozen) of a dataset of `owner` names sha, 0 if
 * none, -errno. */
int core_blob_named(struct core_blobs *b, const char *owner,
		    const unsigned char sha[STORE_SHA_LEN]);
/* 1 if the bytes of sha were committed as kept by their uploader
 * (upload=meta|thumbnails) — and, with owner non-NULL, a node of owner's
 * names them, so the answer tells nothing of other users' samples —, 0 if
 * not, -errno. */
int core_blob_kept(struct core_blobs *b, const char *owner,
		   const unsigned char sha[STORE_SHA_LEN]);
/* How many blobs `user` has sent that no node names yet, and their bytes
 * (the upload cap's count). 0 or -errno. */
int core_blob_pending(struct core_blobs *b, const char *user, size_t *count,
		      int64_t *bytes);
/* Which bytes `owner` may read for a node naming sha, into src: sha
 * itself, or its thumbnail sent by that user (upload=thumbnails); the
 * web door's owner "" also reads sha when a node of its names it. 0,
 * -ENOENT (nothing this owner may read), -errno. */
int core_blob_source(struct core_blobs *b, const char *owner,
		     const unsigned char sha[STORE_SHA_LEN],
		     unsigned char src[STORE_SHA_LEN]);
/* The thumbnail of original sha that `user` sent (user "": any), its hash
 * and size. 0, -ENOENT, -errno. */
int core_blob_thumb_for(struct core_blobs *b, const char *user,
			const unsigned char sha[STORE_SHA_LEN],
			unsigned char thumb[STORE_SHA_LEN], int64_t *size);

#endif
