/*
 * imgmeta.h — the built-in image metadata of a dataset's samples (issue 21,
 * i21a): embed/imgstats.h's values per sample, computed with the embedder's
 * decoder from the sample's bytes and cached per content hash in the
 * catalog (the features table, kind CORE_IMGMETA_KIND, as the embedder's
 * features are), plus the file size from the catalog. Computed lazily: when
 * metadata/builtin.csv or a file's user.sievefs.<name> attribute is first
 * read, or core_imgmeta_fill is called; an upload never waits for it.
 * Blocks on the catalog, the blob store and decoding; thread-safe.
 */
#ifndef SIEVEFS_CORE_IMGMETA_H
#define SIEVEFS_CORE_IMGMETA_H

#include <stddef.h>
#include <stdint.h>

#include "embed/imgstats.h"
#include "store/store.h"

struct core_blobs;

#define CORE_IMGMETA_KIND "imgmeta1"
/* Columns of metadata/builtin.csv after filename (file_size last). */
#define CORE_IMGMETA_NCOLS (EMB_IMGSTATS_N + 1)
extern const char *const core_imgmeta_cols[CORE_IMGMETA_NCOLS];

/* The values of the blob sha: 0 and *out; 1 not an image (or its bytes are
 * not here: upload=meta), the reason in why (may be NULL); -errno. */
int core_imgmeta_get(store *st, struct core_blobs *b,
		     const unsigned char sha[STORE_SHA_LEN],
		     struct emb_imgstats *out, char *why, size_t whylen);
/* The cached values only (b not needed): 0, 1 not an image, -ENOENT not
 * computed yet. */
int core_imgmeta_cached(store *st, const unsigned char sha[STORE_SHA_LEN],
			struct emb_imgstats *out);
/* Computes what is missing for every committed file of tree. 0 or -errno. */
int core_imgmeta_fill(store *st, struct core_blobs *b, int64_t tree);
/* metadata/builtin.csv of tree, malloc'd into *out:
 *   filename,width,height,brightness,contrast,sharpness,colourfulness,
 *   file_size\r\n
 * a row per committed file in path order, Python csv quoting, %.6g (width,
 * height and file_size as integers); a file that is not an image has empty
 * values but its file_size. missing NULL: computes what is missing first
 * (blocks: decodes); else the cached values only, a file not computed yet
 * with empty values, counted in *missing. 0 or -errno. */
int core_imgmeta_csv(store *st, struct core_blobs *b, int64_t tree,
		     char **out, size_t *len, size_t *missing);

/* A thread computing what a tree misses, in the background (imgmeta.c):
 * owned by the backend that made it. kick: starts it over tree, which
 * misses `missing` files, unless it runs or its last whole pass over tree,
 * unchanged since, left at least that many it could not cache (1 started,
 * 0 not, -errno);
 * free: stops it after the file at hand and joins it (NULL: no-op). new:
 * NULL on -ENOMEM. */
struct core_imgmeta_filler;
struct core_imgmeta_filler *core_imgmeta_filler_new(store *st,
						    struct core_blobs *b);
int core_imgmeta_filler_kick(struct core_imgmeta_filler *f, int64_t tree,
			      size_t missing);
void core_imgmeta_filler_free(struct core_imgmeta_filler *f);

#endif
