/*
 * csv.h — the embeddings CSV of docs/design.md §1 "Embeddings CSV": the format the
 * lightly Python package's save_embeddings writes (Python csv module, default
 * dialect), read into float32 rows and written back byte-for-byte like numpy
 * and Python would. Pure functions, no I/O, thread-safe (no shared state).
 *
 *   filenames,embedding_0,...,embedding_{d-1},labels\r\n
 *   class a/img 1.jpg,0.1,-0.0,1e-05,...,3\r\n
 *   "with, comma.jpg",...
 *
 * It also reads what lightly's check_embeddings accepts: 'masked' and
 * 'selected' columns before 'labels', any columns after it (both ignored),
 * embedding columns in any order (see csv.c, "Header"); labels are int64.
 *
 * The parser is strict: every malformed input fails as a whole with a message
 * naming the row (a line of the file as a user counts them, header = row 1)
 * and, where there is one, the column (1-based, with its header name).
 */
#ifndef SIEVEFS_CORE_CSV_H
#define SIEVEFS_CORE_CSV_H

#include <stddef.h>
#include <stdint.h>

struct tbuf;

/* Longest record (a row, with any newlines inside quoted names) accepted. */
#define CORE_CSV_LINE_MAX ((size_t)1 << 20)

/* A parsed embedding file; owns everything (free with core_csv_free). */
struct core_emb {
	size_t n, d;         /* n samples (>= 1 when parsed), d dims (>= 1) */
	char **names;        /* n relative paths, NUL-terminated, into pool */
	float *x;            /* n*d, row-major, float32 */
	int64_t *labels;     /* n */
	char *pool;          /* the bytes of all names */
};

/* Parses and validates a whole CSV text (text need not be NUL-terminated).
 * Returns 0 and fills *out; or -EINVAL with a message in msg such as
 * "row 12, column 5 (embedding_3): 'abc' is not a number"; or -ENOMEM. On
 * failure *out is zeroed (nothing to free; core_csv_free on it is harmless).
 * msg may be NULL. Linear time; memory is about the size of the result. */
int core_csv_parse(const char *text, size_t len, struct core_emb *out,
		   char *msg, size_t msglen);

/* Checking a file as it is written: feed each piece of the file in order,
 * from its first byte. Every record completed by a piece is checked with
 * the rules of core_csv_parse (header, columns, numbers, names, duplicate
 * names; line numbers count from the file's start); an unfinished record
 * waits for the next piece. Returns 0 (nothing wrong so far), -EINVAL with
 * the message core_csv_parse would give (and -EINVAL for every later feed),
 * or -ENOMEM. Whole-file rules (no rows at all, an empty file) are the
 * final parse's. The checker keeps the names seen, not the vectors.
 * core_csv_check_new returns NULL on out-of-memory; free is NULL-safe. */
struct core_csv_check;
struct core_csv_check *core_csv_check_new(void);
int core_csv_check_feed(struct core_csv_check *ck, const char *data,
			size_t len, char *msg, size_t msglen);
void core_csv_check_free(struct core_csv_check *ck);

/* Frees what *e owns and zeroes it. NULL-safe. */
void core_csv_free(struct core_emb *e);

/* Appends a whole CSV file — the header for d dimensions, then one row per
 * sample (names[i], x[i*d .. i*d+d), labels[i]) — to b: \r\n line ends and
 * minimal quoting like Python's csv module, floats as numpy's str() of a
 * float32 (the shortest decimal that reads back to the same float32: 0.1,
 * -0.0, 1e-05, 3.4028235e+38). Failures (-ENOMEM, -EFBIG at b's cap) are
 * recorded in b->err, as with every tbuf writer. */
void core_csv_write(struct tbuf *b, size_t n, size_t d,
		    const char *const *names, const float *x,
		    const int64_t *labels);

/* Writes the float32 v as numpy's str() does into buf (NUL-terminated) and
 * returns its length (at most 23). Exposed for tests and for other writers
 * of float text (scores.csv). */
size_t core_csv_fmt_float(float v, char buf[32]);

#endif
