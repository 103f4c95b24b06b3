/*
 * blobs.h — the client's disk cache of sample bytes, by content hash.
 *
 * Layout of a cache directory:
 *   DIR/ab/<sha256>         cached bytes, evictable (least recently used first)
 *   DIR/pinned/ab/<sha256>  bytes that exist only here (upload=meta): never
 *                           evicted, not counted against the size limit;
 *                           released (made evictable) once no sample on the
 *                           server names them (api/client_upload.c,
 *                           cl_pins_release)
 *   DIR/tmp/                downloads and uploads in progress; emptied at open
 *   DIR/lock                flock'd by the one process using the cache
 *                           (a second one gets -EBUSY); holds its PID
 * An entry appears only by rename(2) of a complete temp file, so a crash never
 * leaves a partial entry under its hash. Bytes are named by their SHA-256, so
 * an entry is never stale.
 *
 * The index (hash -> size, LRU position) lives in memory and is rebuilt from
 * the directory at open, oldest modification first; access order is not
 * written to disk (a restart forgets which entries were read recently).
 *
 * Threads: every function may be called from any thread; one mutex protects
 * the index and is never held across a download, only across short
 * rename/unlink/open calls.
 */
#ifndef SIEVEFS_CACHE_BLOBS_H
#define SIEVEFS_CACHE_BLOBS_H

#include <stddef.h>
#include <stdint.h>

#define CACHE_SHA_LEN 32

struct cache_blobs;

/* Opens (creating) the cache in `dir`, bounded by `limit` bytes of evictable
 * entries. Removes leftover temp files and rebuilds the index. Returns 0 or
 * -errno with a reason in msg; free with cache_blobs_close(). */
int cache_blobs_open(const char *dir, uint64_t limit, struct cache_blobs **out,
		     char *msg, size_t msglen);
/* Takes in the pinned entries of another cache directory `old` that this
 * one lacks, as hard links (the bytes stay in `old` too): for a cache that
 * replaces an older one, since pinned bytes may exist nowhere else. An
 * entry that cannot be linked (another filesystem) is left where it is.
 * Returns how many were adopted. */
int cache_blobs_adopt_pinned(struct cache_blobs *c, const char *old);
/* Frees the index (the files stay). NULL is a no-op. */
void cache_blobs_close(struct cache_blobs *c);

/* Opens the cached bytes of `sha` read-only and marks them most recently
 * used. Returns an fd (caller closes) or -ENOENT when not cached. */
int cache_blob_open(struct cache_blobs *c, const unsigned char sha[CACHE_SHA_LEN]);

/* A new empty temp file in DIR/tmp for bytes on their way in; its path goes
 * into `path`. Returns an fd open read/write (caller closes, and unlinks the
 * path unless cache_blob_commit() consumed it) or -errno. */
int cache_blob_tmp(struct cache_blobs *c, char *path, size_t len);

/* Makes the complete temp file `tmp` (from cache_blob_tmp, `size` bytes,
 * content hashing to `sha` — the caller verified it) the entry for `sha`,
 * pinned or not, then evicts least recently used unpinned entries until the
 * limit holds (the new entry last: one larger than the limit is evicted at
 * once, but the returned fd still reads it). Returns an fd on the entry
 * (caller closes) or -errno; `tmp` is gone either way. */
int cache_blob_commit(struct cache_blobs *c, const char *tmp,
		      const unsigned char sha[CACHE_SHA_LEN], int64_t size,
		      int pin);

/* Like cache_blob_commit for bytes already in an open file `fd` that is not
 * from cache_blob_tmp (an upload's staging file; `path` its name or "" for an
 * unnamed one): hard-links it in when it is on the cache's filesystem, else
 * copies. The caller keeps fd and path. Returns 0 or -errno. */
int cache_blob_adopt(struct cache_blobs *c, int fd, const char *path,
		     const unsigned char sha[CACHE_SHA_LEN], int64_t size,
		     int pin);

/* 1 if `sha` is cached (pinned or not), else 0. Touches nothing on disk and
 * leaves the LRU order alone: for deciding whether to fetch. */
int cache_blob_has(struct cache_blobs *c,
		   const unsigned char sha[CACHE_SHA_LEN]);

/* 1 if `sha` is pinned here (its bytes exist only in this cache). */
int cache_blob_pinned(struct cache_blobs *c,
		      const unsigned char sha[CACHE_SHA_LEN]);

/* Releasing pins (upload=meta bytes no sample names any more). The caller
 * reads the generation, finds out (from the server) which pins nothing
 * needs, and unpins each with that generation: cache_blob_unpin refuses
 * (-EAGAIN) if any entry was pinned since, because that pin may belong to an
 * upload the server had not seen yet. An unpinned entry becomes an ordinary
 * evictable one (it stays readable while it fits the size bound).
 * cache_blobs_pinned_list: every pinned hash into a malloc'd array (caller
 * frees) and its length; 0 or -ENOMEM. cache_blob_unpin: 0, -EAGAIN,
 * -ENOENT (not pinned) or -errno. */
uint64_t cache_blobs_pin_gen(struct cache_blobs *c);
int cache_blobs_pinned_list(struct cache_blobs *c,
			    unsigned char (**out)[CACHE_SHA_LEN], size_t *n);
int cache_blob_unpin(struct cache_blobs *c,
		     const unsigned char sha[CACHE_SHA_LEN], uint64_t gen);

/* Bytes held by evictable entries, by pinned entries, and their counts. */
void cache_blobs_usage(struct cache_blobs *c, uint64_t *bytes,
		       uint64_t *pinned_bytes, size_t *entries,
		       size_t *pinned_entries);

#endif
