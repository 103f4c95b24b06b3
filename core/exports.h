/*
 * exports.h — a tag's exports (issue 21 item 5): the texts of a dataset's
 * read-only `exports/` folder, one of each format per tag (never inside a
 * tag folder, which loaders read):
 *   TAG.txt                the tag's files, relative paths as its folder
 *                          lists them, one per line (path order);
 *   TAG.label-studio.json  Label Studio import tasks,
 *                          [{"id":N,"data":{"image":IMAGE}}, ...], N from 1
 *                          in path order, IMAGE what the caller's image
 *                          function makes of the file (an absolute path
 *                          through the mount, a URL from a server; null
 *                          when it makes none);
 *   TAG.csv                filename, score (the dataset's latest finished
 *                          ranking run's score of the file, as scores.csv
 *                          writes it; empty when that run did not rank
 *                          it), then every column
 *                          core_column_list names (predictions' uncertainty
 *                          scores and classes, metadata, builtin.* with
 *                          metadata/builtin.csv's text), RFC 4180 fields
 *                          as Python's csv module writes them.
 * The same bytes every time for the same state (getattr sizes are exact).
 *
 * The renderers (core_export_txt/_ls/_csv) are pure functions of their
 * arguments, for unit tests; core_export_render gathers the arguments from
 * a store (embedded mode and the server) and blocks on the catalog.
 * Errors: 0 or -errno (-ENOMEM, -EFBIG past the text cap).
 */
#ifndef SIEVEFS_CORE_EXPORTS_H
#define SIEVEFS_CORE_EXPORTS_H

#include <stddef.h>
#include <stdint.h>

#include "core/records.h"

struct tbuf;
struct sv_column;             /* core/columns.h */

enum core_export_fmt { CORE_EXPORT_TXT = 0, CORE_EXPORT_LS = 1,
		       CORE_EXPORT_CSV = 2, CORE_EXPORT_NFMT = 3 };

/* ".txt", ".label-studio.json", ".csv"; NULL for another value. */
const char *core_export_suffix(int fmt);
/* The API's ?format= word of fmt ("txt", "label-studio", "csv"); NULL
 * for another value. */
const char *core_export_word(int fmt);
/* The format named by the API's ?format= word ("txt", "label-studio",
 * "csv"), or -EINVAL. */
int core_export_format(const char *word);
/* Splits an exports/ file name into tag name and format: 0, or -ENOENT
 * for a name no export has (no known suffix, or nothing before it). */
int core_export_split(const char *file, char *tag, size_t len, int *fmt);

/* A file of the tag, for the image function: its relative path, its
 * bytes' hash (has_sha 0: none), and the node of the same path in the
 * dataset's live tree (0: none there) with whether it has the same bytes;
 * both 0 for embedded mode's images (core_export_local), which never read
 * them. */
struct core_export_file {
	const char *path;
	const unsigned char *sha;
	int has_sha;
	int64_t live_ino;
	int live_same;
};
/* Writes the image of a file into out (NUL-terminated): 1, 0 for none
 * (null in the JSON), or -errno (the render fails with it). */
typedef int (*core_export_image_fn)(void *arg,
				    const struct core_export_file *f,
				    char *out, size_t len);

void core_export_txt(struct tbuf *b, const char *const *paths, size_t n);
/* images[i]: the image of paths[i], NULL for none. */
void core_export_ls(struct tbuf *b, size_t n, const char *const *images);
/* score: n values (NAN: empty) or NULL (all empty); cols[0..ncols) named
 * names[k], each aligned with paths. */
void core_export_csv(struct tbuf *b, const char *const *paths, size_t n,
		     const double *score, const struct sv_column *cols,
		     char *const *names, size_t ncols);

/* The text of export fmt of tag `tag` (its dataset's latest run and
 * columns), malloc'd into *out. image/arg: for CORE_EXPORT_LS. */
int core_export_render(store *st, const struct store_tag *tag, int fmt,
		       core_export_image_fn image, void *arg, char **out,
		       size_t *len);

/* Embedded mode's export_read (core/backend.h): tag `tag` of a dataset of
 * `owner` (else -ENOENT), Label Studio images PREFIX/PATH. */
int core_export_local(store *st, const char *owner, int64_t tag, int fmt,
		      const char *prefix, char **out, size_t *len);

#endif
