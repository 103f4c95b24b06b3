/*
 * incsv.h — the CSVs of the `predictions/` and `metadata/` folders (issue 21
 * item 1): per-sample inputs beside embeddings. Pure functions, no I/O, no
 * shared state (thread-safe).
 *
 *   predictions/NAME.csv   filename,CLASS_1,...,CLASS_C      (C >= 2)
 *                          img/a.jpg,0.1,0.7,0.2
 *   metadata/NAME.csv      filename,COLUMN_1,...,COLUMN_K    (K >= 1)
 *                          img/a.jpg,0.43,sunny,
 *
 * The dialect is the embeddings CSV's (core/csv.h: Python's csv module,
 * excel dialect, \r\n, \n or \r line ends, minimal quoting, a UTF-8 BOM
 * skipped), and so are the rules and messages: the header is strict, every
 * row has the header's number of columns, filenames are relative paths of
 * plain components and unique, and a malformed file fails as a whole with a
 * message naming the row (a line as a user counts them, header = row 1) and
 * the column (1-based, with its header name). The first header name is
 * `filename` (or `filenames`, the embeddings CSV's word).
 *
 * Predictions: every value is a finite number. Probabilities or logits,
 * judged per FILE: when every value is in [0, 1] and every row sums to 1
 * within 1e-3, the rows are probabilities (used as written, divided by
 * their sum); otherwise the file holds logits (or scores) and every row is
 * turned into probabilities by softmax. Class names must be unique and may
 * not be `class` or start with `uncertainty_` (those are the derived
 * columns' names, core/columns.h).
 *
 * Metadata: values are any text; an empty value means "no value". A column
 * is numeric when every non-empty value is a finite number (what Python's
 * float() reads, less nan and inf), else categorical.
 */
#ifndef SIEVEFS_CORE_INCSV_H
#define SIEVEFS_CORE_INCSV_H

#include <stddef.h>
#include <stdint.h>

struct tbuf;

enum core_input_kind { CORE_INPUT_PREDICTIONS = 1, CORE_INPUT_METADATA = 2 };

/* Longest record accepted, as for embeddings. */
#define CORE_INCSV_LINE_MAX ((size_t)1 << 20)

/* A parsed input file; owns everything (core_input_free). */
struct core_input {
	int kind;              /* enum core_input_kind */
	size_t n, ncols;       /* rows (>= 1), value columns (classes) */
	char **names;          /* n sample paths */
	char **cols;           /* ncols header names */
	double *x;             /* n*ncols row-major: predictions: the
				  probabilities; metadata: the number, or
				  NAN (empty, or a categorical column) */
	char **cells;          /* metadata only: n*ncols texts ("" = none) */
	unsigned char *numeric;/* metadata only: ncols flags */
	int logits;            /* predictions: rows were softmaxed */
};

/* "predictions" / "metadata"; NULL for another kind. */
const char *core_input_kind_name(int kind);
/* The kind of a folder name, or 0. */
int core_input_kind_of(const char *folder);

/* Parses and validates a whole text. 0 and *out filled; -EINVAL with the
 * reason in msg (e.g. "row 3, column 2 (cat): 'x' is not a number"), or
 * -ENOMEM; on failure *out is zeroed. msg may be NULL. */
int core_input_parse(int kind, const char *text, size_t len,
		     struct core_input *out, char *msg, size_t msglen);
/* Frees what *in owns and zeroes it; NULL-safe. */
void core_input_free(struct core_input *in);

/* Checking a file as it is written (as core_csv_check_*): feed the pieces
 * in order from the first byte; each completed record is judged with the
 * rules above (not the whole-file ones: no rows, logits); -EINVAL with the
 * message (and for every later feed), -ENOMEM, or 0. new: NULL on
 * out-of-memory; free: NULL-safe. */
struct core_input_check;
struct core_input_check *core_input_check_new(int kind);
int core_input_check_feed(struct core_input_check *ck, const char *data,
			  size_t len, char *msg, size_t msglen);
void core_input_check_free(struct core_input_check *ck);

/* The uncertainty scores of one row of c >= 2 probabilities, each in
 * [0, 1] (as the original platform's active-learning scorers):
 *   least confidence = (1 - p_max) / (1 - 1/c)
 *   margin           = 1 - (p_max - p_second)
 *   entropy          = -sum p ln p / ln c          (0 ln 0 = 0)
 * *argmax: the first class of highest probability. */
struct core_pred_scores {
	double least_confidence, margin, entropy;
	size_t argmax;
};
void core_pred_scores(const double *p, size_t c, struct core_pred_scores *out);

/* Appends predictions/NAME.scores.csv for in (a predictions input) to b:
 *   filename,uncertainty_least_confidence,uncertainty_margin,
 *   uncertainty_entropy,class\r\n
 * one row per input row in file order, Python csv quoting, %.6g values.
 * Errors recorded in b->err. */
void core_input_write_scores(struct tbuf *b, const struct core_input *in);

#endif
