/*
 * inputs.h — storing and exporting the predictions/ and metadata/ inputs
 * (issue 21; format: core/incsv.h, catalog: store/inputs.c), shared by the
 * embedded backend (core/local.c) and through it by the server. Ownership
 * is the caller's check. Blocks on the catalog; thread-safe as store/ is.
 */
#ifndef SIEVEFS_CORE_INPUTS_H
#define SIEVEFS_CORE_INPUTS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

/* What an export renders: the CSV as uploaded, or (predictions only) its
 * uncertainty scores (core_input_write_scores). */
enum { CORE_INPUT_TEXT = 0, CORE_INPUT_SCORES = 1 };

/* Validates text as input kind/name of dataset ds and stores it as is,
 * replacing the input of that kind and name. Rows naming no committed
 * file of live_tree are kept in the text but counted as skipped; a file
 * none of whose rows names a sample is refused. 0 with the log line
 * ("predictions 'm' stored: 3 samples, 2 classes (logits, softmaxed)") in
 * line; -EINVAL with the reason ("predictions/m.csv not stored: row 3,
 * ...") in line, nothing changed; or another -errno. */
int core_input_put(store *st, int64_t ds, int64_t live_tree, int kind,
		   const char *name, const char *text, size_t len, char *line,
		   size_t linelen);
/* Writes the export `what` of input in to fd. -EINVAL: scores of a
 * metadata input. */
int core_input_export(store *st, const struct store_input *in, int what,
		      int fd);

#endif
