/*
 * incsv.c — see incsv.h. The predictions and metadata CSVs, read.
 *
 * One engine serves both the whole-file parse and the check as a file is
 * written: bytes are fed in order; the bytes of an unfinished record wait in
 * `tail` (capped at CORE_INCSV_LINE_MAX); each completed record is split into
 * fields (quoted fields unquoted, as Python's csv.reader with strict=True)
 * and judged at once. The parse also keeps the fields of every row and, at
 * the end, applies the whole-file rules (a header, at least one row, the
 * probabilities-or-logits decision). These files are small beside
 * embeddings (a few numbers per sample), so a row's fields are plain
 * malloc'd strings: simplicity over the embeddings parser's speed.
 *
 * Filenames are unique: an open-addressing hash set of the names seen
 * (names and their rows), grown by doubling.
 */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/incsv.h"
#include "core/text.h"

#define VAL_SHOW 60          /* bytes of a bad value quoted in a message */
#define PROB_TOL 1e-3

struct seen {
	char *name;
	size_t row;
};

struct row {
	char **f;            /* nf fields */
};

struct core_input_check {
	int kind;
	int failed;
	char *tail;          /* bytes of the unfinished record */
	size_t tlen, tcap;
	size_t line;         /* line number where the next record starts */
	int started;         /* the BOM question is settled */
	char **hdr;          /* header names, nhdr (filename first) */
	size_t nhdr;
	size_t empty_line;   /* an empty line seen after the header (0: no) */
	struct seen *set;    /* hash set of filenames */
	size_t setcap, setn;
	int collect;         /* keep rows (the whole-file parse) */
	int borrowed;        /* tail is the caller's text: never written */
	struct row *rows;
	size_t nrows, rowcap;
	char msg[512];
};

const char *core_input_kind_name(int kind)
{
	return kind == CORE_INPUT_PREDICTIONS ? "predictions"
	     : kind == CORE_INPUT_METADATA ? "metadata" : NULL;
}

int core_input_kind_of(const char *folder)
{
	return !strcmp(folder, "predictions") ? CORE_INPUT_PREDICTIONS
	     : !strcmp(folder, "metadata") ? CORE_INPUT_METADATA : 0;
}

__attribute__((format(printf, 2, 3)))
static int fail(struct core_input_check *ck, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(ck->msg, sizeof(ck->msg), fmt, ap);
	va_end(ap);
	ck->failed = 1;
	return -EINVAL;
}

/* s shortened for a message (control bytes as '?'). */
static const char *show(char out[VAL_SHOW + 4], const char *s)
{
	size_t n = strlen(s), k = n > VAL_SHOW ? VAL_SHOW : n;

	for (size_t i = 0; i < k; i++)
		out[i] = (unsigned char)s[i] < 0x20 ? '?' : s[i];
	if (n > k)
		memcpy(out + k, "...", 4);
	else
		out[k] = '\0';
	return out;
}

static void free_fields(char **f, size_t n)
{
	if (!f)
		return;
	for (size_t i = 0; i < n; i++)
		free(f[i]);
	free(f);
}

static uint64_t hash(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* Adds name (row); 0, or the row it was already on, or (size_t)-1 on
 * out-of-memory. */
static size_t set_add(struct core_input_check *ck, const char *name,
		      size_t row)
{
	if (2 * (ck->setn + 1) > ck->setcap) {
		size_t cap = ck->setcap ? 2 * ck->setcap : 256;
		struct seen *s = calloc(cap, sizeof(*s));
		if (!s)
			return (size_t)-1;
		for (size_t i = 0; i < ck->setcap; i++) {
			if (!ck->set[i].name)
				continue;
			size_t j = hash(ck->set[i].name) & (cap - 1);
			while (s[j].name)
				j = (j + 1) & (cap - 1);
			s[j] = ck->set[i];
		}
		free(ck->set);
		ck->set = s;
		ck->setcap = cap;
	}
	size_t j = hash(name) & (ck->setcap - 1);
	for (; ck->set[j].name; j = (j + 1) & (ck->setcap - 1))
		if (!strcmp(ck->set[j].name, name))
			return ck->set[j].row;
	if (!(ck->set[j].name = strdup(name)))
		return (size_t)-1;
	ck->set[j].row = row;
	ck->setn++;
	return 0;
}

/* Python float() less nan/inf, hex and underscores: 0 and *v, 1 not a
 * number, 2 not finite. */
static int parse_num(const char *s, double *v)
{
	const char *b = s, *e = s + strlen(s);
	char buf[128], *end;

	while (b < e && (*b == ' ' || (*b >= '\t' && *b <= '\r')))
		b++;
	while (e > b && (e[-1] == ' ' || (e[-1] >= '\t' && e[-1] <= '\r')))
		e--;
	if (b == e || (size_t)(e - b) >= sizeof(buf))
		return 1;
	for (const char *p = b; p < e; p++) {
		if ((*p >= '0' && *p <= '9') || *p == '.' || *p == '+' ||
		    *p == '-' || *p == 'e' || *p == 'E')
			continue;
		const char *w = b + (*b == '+' || *b == '-');
		size_t l = (size_t)(e - w);
		if ((l == 3 && !strncasecmp(w, "nan", 3)) ||
		    (l == 3 && !strncasecmp(w, "inf", 3)) ||
		    (l == 8 && !strncasecmp(w, "infinity", 8)))
			return 2;
		return 1;
	}
	memcpy(buf, b, (size_t)(e - b));
	buf[e - b] = '\0';
	errno = 0;
	*v = strtod(buf, &end);
	if (*end || end == buf)
		return 1;
	return isfinite(*v) ? 0 : 2;
}

/* ---- records ------------------------------------------------------------ */

/* Where the record starting at b[0] ends: 1 and *end (its last byte + 1,
 * line end excluded), *next (after the line end), *nl (line ends inside
 * it); 0 if not complete yet (final = 0) ; -1 a quote never closed. */
static int record_end(const char *b, size_t len, int final, size_t *end,
		      size_t *next, size_t *nl)
{
	int q = 0, fstart = 1;

	*nl = 0;
	for (size_t i = 0; i < len; i++) {
		char c = b[i];
		if (q) {
			if (c == '"') {
				if (i + 1 == len && !final)
					return 0;
				if (i + 1 < len && b[i + 1] == '"')
					i++;
				else
					q = 0;
			} else if (c == '\n' ||
				   (c == '\r' && (i + 1 >= len ||
						  b[i + 1] != '\n'))) {
				(*nl)++;
			}
			continue;
		}
		if (c == '"' && fstart) {
			q = 1;
			fstart = 0;
			continue;
		}
		if (c == ',') {
			fstart = 1;
			continue;
		}
		if (c == '\n' || c == '\r') {
			*end = i;
			if (c == '\r') {
				if (i + 1 == len && !final)
					return 0;
				*next = i + 1 < len && b[i + 1] == '\n' ?
					i + 2 : i + 1;
			} else {
				*next = i + 1;
			}
			return 1;
		}
		fstart = 0;
	}
	if (!final)
		return 0;
	if (q)
		return -1;
	*end = *next = len;
	return 1;
}

/* Appends v to the field list (taking it); 0 or -ENOMEM (v freed). */
static int push(char ***f, size_t *n, size_t *cap, char *v)
{
	if (!v)
		return -ENOMEM;
	if (*n == *cap) {
		size_t c = *cap ? 2 * *cap : 8;
		char **g = realloc(*f, c * sizeof(*g));
		if (!g) {
			free(v);
			return -ENOMEM;
		}
		*f = g;
		*cap = c;
	}
	(*f)[(*n)++] = v;
	return 0;
}

/* Splits rec[0..len) into fields; 0, -EINVAL (text after a closing quote:
 * *badcol its column), -ENOMEM. */
static int split(const char *rec, size_t len, char ***out, size_t *nf,
		 size_t *badcol)
{
	char **f = NULL;
	size_t n = 0, cap = 0, i = 0;

	for (;;) {
		char *v = malloc(len - i + 1), *d = v;
		if (!v)
			goto nomem;
		if (i < len && rec[i] == '"') {
			for (i++; i < len; i++) {
				if (rec[i] == '"') {
					if (i + 1 < len && rec[i + 1] == '"')
						i++;
					else
						break;
				}
				*d++ = rec[i];
			}
			i++;   /* the closing quote */
			if (i < len && rec[i] != ',') {
				free(v);
				free_fields(f, n);
				*badcol = n + 1;
				return -EINVAL;
			}
		} else {
			while (i < len && rec[i] != ',')
				*d++ = rec[i++];
		}
		*d = '\0';
		if (push(&f, &n, &cap, v))
			goto nomem;
		if (i >= len)
			break;
		/* the ','; one at the very end makes one more, empty field */
		if (++i == len) {
			if (push(&f, &n, &cap, strdup("")))
				goto nomem;
			break;
		}
	}
	*out = f;
	*nf = n;
	return 0;
nomem:
	free_fields(f, n);
	return -ENOMEM;
}

static int check_filename(struct core_input_check *ck, size_t row,
			  const char *s, size_t len)
{
	char v[VAL_SHOW + 4];
	const char *why = NULL;

	if (len == 0)
		return fail(ck, "row %zu, column 1 (%s): empty filename", row,
			    ck->hdr[0]);
	if (s[0] == '/')
		return fail(ck, "row %zu, column 1 (%s): absolute filename "
			    "'%s'; expected a path relative to the dataset",
			    row, ck->hdr[0], show(v, s));
	for (size_t a = 0; a <= len && !why;) {
		const char *slash = memchr(s + a, '/', len - a);
		size_t b = slash ? (size_t)(slash - s) : len;
		if (b == a)
			why = "an empty";
		else if (b - a == 1 && s[a] == '.')
			why = "a '.'";
		else if (b - a == 2 && s[a] == '.' && s[a + 1] == '.')
			why = "a '..'";
		a = b + 1;
	}
	if (why)
		return fail(ck, "row %zu, column 1 (%s): filename '%s' has %s "
			    "path component", row, ck->hdr[0], show(v, s),
			    why);
	return 0;
}

static int header(struct core_input_check *ck, char **f, size_t nf)
{
	char v[VAL_SHOW + 4], w[VAL_SHOW + 4];
	int pred = ck->kind == CORE_INPUT_PREDICTIONS;

	ck->hdr = f;
	ck->nhdr = nf;
	if (strcmp(f[0], "filename") && strcmp(f[0], "filenames"))
		return fail(ck, "row 1, column 1: the header must start with "
			    "'filename' (got '%s'); expected filename,%s",
			    show(v, f[0]), pred ? "CLASS_1,CLASS_2,..."
						: "COLUMN,...");
	if (pred && nf < 3)
		return fail(ck, "row 1: %zu class column%s; a predictions file "
			    "has at least 2 (filename,CLASS_1,CLASS_2,...)",
			    nf - 1, nf == 2 ? "" : "s");
	if (nf < 2)
		return fail(ck, "row 1: no column after filename; a metadata "
			    "file has at least 1 (filename,COLUMN,...)");
	for (size_t c = 1; c < nf; c++) {
		size_t l = strlen(f[c]);
		if (l == 0)
			return fail(ck, "row 1, column %zu: empty column name",
				    c + 1);
		if (f[c][0] == ' ' || f[c][l - 1] == ' ')
			return fail(ck, "row 1, column %zu: column name '%s' "
				    "has spaces around it", c + 1,
				    show(v, f[c]));
		for (size_t k = 0; k < l; k++)
			if ((unsigned char)f[c][k] < 0x20)
				return fail(ck, "row 1, column %zu: column "
					    "name '%s' holds a control "
					    "character", c + 1, show(v, f[c]));
		for (size_t k = 1; k < c; k++)
			if (!strcmp(f[k], f[c]))
				return fail(ck, "row 1, column %zu: duplicate "
					    "column name '%s' (also column "
					    "%zu)", c + 1, show(v, f[c]),
					    k + 1);
		if (pred && (!strcmp(f[c], "class") ||
			     !strncmp(f[c], "uncertainty_", 12)))
			return fail(ck, "row 1, column %zu: '%s' is reserved "
				    "for the scores derived from the "
				    "probabilities; rename the class",
				    c + 1, show(w, f[c]));
	}
	return 0;
}

static int row_fields(struct core_input_check *ck, size_t row, char **f,
		      size_t nf)
{
	char v[VAL_SHOW + 4], w[VAL_SHOW + 4];
	size_t prev;
	double x;

	if (nf != ck->nhdr)
		return fail(ck, "row %zu: %zu column%s, the header has %zu",
			    row, nf, nf == 1 ? "" : "s", ck->nhdr);
	if (check_filename(ck, row, f[0], strlen(f[0])))
		return -EINVAL;
	if (ck->kind == CORE_INPUT_PREDICTIONS)
		for (size_t c = 1; c < nf; c++) {
			int r = f[c][0] ? parse_num(f[c], &x) : 3;
			if (r)
				return fail(ck, "row %zu, column %zu (%s): "
					    "%s%s%s", row, c + 1,
					    show(w, ck->hdr[c]),
					    r == 3 ? "empty value" : "'",
					    r == 3 ? "" : show(v, f[c]),
					    r == 1 ? "' is not a number"
					    : r == 2 ? "' is not finite" : "");
		}
	prev = set_add(ck, f[0], row);
	if (prev == (size_t)-1)
		return -ENOMEM;
	if (prev)
		return fail(ck, "row %zu, column 1 (%s): filename '%s' is also "
			    "on row %zu", row, ck->hdr[0], show(v, f[0]), prev);
	return 0;
}

/* Judges one complete record (rec[0..len), starting on line `row`). */
static int record(struct core_input_check *ck, const char *rec, size_t len,
		  size_t row)
{
	char **f = NULL;
	size_t nf = 0, bad = 0;
	int rc;

	if (len == 0) {
		if (!ck->hdr)
			return fail(ck, "row %zu: empty line before the header",
				    row);
		if (!ck->empty_line)
			ck->empty_line = row;
		return 0;
	}
	if (ck->empty_line)
		return fail(ck, "row %zu: empty line between rows",
			    ck->empty_line);
	rc = split(rec, len, &f, &nf, &bad);
	if (rc == -EINVAL)
		return fail(ck, "row %zu, column %zu: text after a closing "
			    "quote", row, bad);
	if (rc)
		return rc;
	if (!ck->hdr)
		return header(ck, f, nf);
	rc = row_fields(ck, row, f, nf);
	if (rc || !ck->collect) {
		free_fields(f, nf);
		return rc;
	}
	if (ck->nrows == ck->rowcap) {
		size_t cap = ck->rowcap ? 2 * ck->rowcap : 64;
		struct row *r = realloc(ck->rows, cap * sizeof(*r));
		if (!r) {
			free_fields(f, nf);
			return -ENOMEM;
		}
		ck->rows = r;
		ck->rowcap = cap;
	}
	ck->rows[ck->nrows++].f = f;
	return 0;
}

/* Judges every complete record of tail; final: the end of the file. */
static int drain(struct core_input_check *ck, int final)
{
	size_t pos = 0, end, next, nl;
	int r, rc = 0;

	if (!ck->started) {
		if (ck->tlen < 3 && !final)
			return 0;
		if (ck->tlen >= 3 && !memcmp(ck->tail, "\xef\xbb\xbf", 3))
			pos = 3;
		ck->started = 1;
	}
	while (pos < ck->tlen) {
		r = record_end(ck->tail + pos, ck->tlen - pos, final, &end,
			       &next, &nl);
		if (r < 0) {
			rc = fail(ck, "row %zu: a quote is never closed",
				  ck->line);
			break;
		}
		if (r == 0)
			break;
		if (end > CORE_INCSV_LINE_MAX) {
			rc = fail(ck, "row %zu: longer than %zu bytes",
				  ck->line, CORE_INCSV_LINE_MAX);
			break;
		}
		rc = record(ck, ck->tail + pos, end, ck->line);
		if (rc)
			break;
		ck->line += 1 + nl;
		pos += next;
	}
	if (!rc && ck->tlen - pos > CORE_INCSV_LINE_MAX)
		rc = fail(ck, "row %zu: longer than %zu bytes", ck->line,
			  CORE_INCSV_LINE_MAX);
	if (!ck->borrowed)
		memmove(ck->tail, ck->tail + pos, ck->tlen - pos);
	ck->tlen -= pos;
	return rc;
}

struct core_input_check *core_input_check_new(int kind)
{
	struct core_input_check *ck;

	if (!core_input_kind_name(kind))
		return NULL;
	ck = calloc(1, sizeof(*ck));
	if (ck) {
		ck->kind = kind;
		ck->line = 1;
	}
	return ck;
}

void core_input_check_free(struct core_input_check *ck)
{
	if (!ck)
		return;
	free(ck->tail);
	free_fields(ck->hdr, ck->nhdr);
	for (size_t i = 0; i < ck->setcap; i++)
		free(ck->set[i].name);
	free(ck->set);
	for (size_t i = 0; i < ck->nrows; i++)
		free_fields(ck->rows[i].f, ck->nhdr);
	free(ck->rows);
	free(ck);
}

static void give_msg(const struct core_input_check *ck, char *msg,
		     size_t msglen)
{
	if (msg && msglen)
		snprintf(msg, msglen, "%s", ck->msg);
}

int core_input_check_feed(struct core_input_check *ck, const char *data,
			  size_t len, char *msg, size_t msglen)
{
	int rc;

	if (ck->failed) {
		give_msg(ck, msg, msglen);
		return -EINVAL;
	}
	if (ck->tlen + len > ck->tcap) {
		size_t cap = ck->tcap ? ck->tcap : 4096;
		while (cap < ck->tlen + len)
			cap *= 2;
		char *t = realloc(ck->tail, cap);
		if (!t)
			return -ENOMEM;
		ck->tail = t;
		ck->tcap = cap;
	}
	memcpy(ck->tail + ck->tlen, data, len);
	ck->tlen += len;
	rc = drain(ck, 0);
	if (rc == -EINVAL)
		give_msg(ck, msg, msglen);
	return rc;
}

/* ---- the whole file ----------------------------------------------------- */

static void softmax(double *p, size_t c)
{
	double m = p[0], s = 0;

	for (size_t k = 1; k < c; k++)
		if (p[k] > m)
			m = p[k];
	for (size_t k = 0; k < c; k++)
		s += (p[k] = exp(p[k] - m));
	for (size_t k = 0; k < c; k++)
		p[k] /= s;
}

/* Moves the collected rows of ck into out. */
static int build(struct core_input_check *ck, struct core_input *out)
{
	size_t n = ck->nrows, c = ck->nhdr - 1;
	int pred = ck->kind == CORE_INPUT_PREDICTIONS;

	out->kind = ck->kind;
	out->n = n;
	out->ncols = c;
	out->names = calloc(n, sizeof(char *));
	out->cols = calloc(c, sizeof(char *));
	out->x = malloc(n * c * sizeof(double));
	if (!pred) {
		out->cells = calloc(n * c, sizeof(char *));
		out->numeric = calloc(c, 1);
	}
	if (!out->names || !out->cols || !out->x ||
	    (!pred && (!out->cells || !out->numeric)))
		return -ENOMEM;
	for (size_t k = 0; k < c; k++) {
		out->cols[k] = ck->hdr[k + 1];
		ck->hdr[k + 1] = NULL;
	}
	for (size_t i = 0; i < n; i++) {
		char **f = ck->rows[i].f;
		out->names[i] = f[0];
		f[0] = NULL;
		for (size_t k = 0; k < c; k++) {
			double v = NAN;
			if (parse_num(f[k + 1], &v))
				v = NAN;
			out->x[i * c + k] = v;
			if (!pred) {
				out->cells[i * c + k] = f[k + 1];
				f[k + 1] = NULL;
			}
		}
	}
	if (pred) {
		int logits = 0;
		for (size_t i = 0; i < n && !logits; i++) {
			double s = 0;
			for (size_t k = 0; k < c; k++) {
				double v = out->x[i * c + k];
				if (v < 0 || v > 1)
					logits = 1;
				s += v;
			}
			if (fabs(s - 1) > PROB_TOL)
				logits = 1;
		}
		out->logits = logits;
		for (size_t i = 0; i < n; i++) {
			double *p = out->x + i * c, s = 0;
			if (logits) {
				softmax(p, c);
				continue;
			}
			for (size_t k = 0; k < c; k++)
				s += p[k];
			for (size_t k = 0; k < c; k++)
				p[k] /= s;
		}
	} else {
		for (size_t k = 0; k < c; k++) {
			int num = 1;
			for (size_t i = 0; i < n && num; i++)
				if (out->cells[i * c + k][0] &&
				    isnan(out->x[i * c + k]))
					num = 0;
			out->numeric[k] = (unsigned char)num;
			if (!num)
				for (size_t i = 0; i < n; i++)
					out->x[i * c + k] = NAN;
		}
	}
	return 0;
}

int core_input_parse(int kind, const char *text, size_t len,
		     struct core_input *out, char *msg, size_t msglen)
{
	struct core_input_check *ck = core_input_check_new(kind);
	int rc;

	memset(out, 0, sizeof(*out));
	if (msg && msglen)
		msg[0] = '\0';
	if (!ck)
		return core_input_kind_name(kind) ? -ENOMEM : -EINVAL;
	ck->collect = 1;
	ck->borrowed = 1;
	/* the whole text at once: the tail is the text itself */
	ck->tail = (char *)text;
	ck->tlen = len;
	if (len == 0)
		rc = fail(ck, "empty file; expected a header (filename,%s)",
			  kind == CORE_INPUT_PREDICTIONS ?
			  "CLASS_1,CLASS_2,..." : "COLUMN,...");
	else
		rc = drain(ck, 1);
	ck->tail = NULL;
	if (!rc && !ck->hdr)
		rc = fail(ck, "no header (filename,...) and no rows");
	if (!rc && ck->nrows == 0)
		rc = fail(ck, "no rows after the header");
	if (!rc)
		rc = build(ck, out);
	if (rc == -EINVAL)
		give_msg(ck, msg, msglen);
	core_input_check_free(ck);
	if (rc)
		core_input_free(out);
	return rc;
}

void core_input_free(struct core_input *in)
{
	if (!in)
		return;
	if (in->names)
		for (size_t i = 0; i < in->n; i++)
			free(in->names[i]);
	if (in->cols)
		for (size_t k = 0; k < in->ncols; k++)
			free(in->cols[k]);
	if (in->cells)
		for (size_t i = 0; i < in->n * in->ncols; i++)
			free(in->cells[i]);
	free(in->names);
	free(in->cols);
	free(in->cells);
	free(in->x);
	free(in->numeric);
	memset(in, 0, sizeof(*in));
}

/* ---- scores ------------------------------------------------------------- */

static double clamp01(double v)
{
	return v < 0 ? 0 : v > 1 ? 1 : v;
}

void core_pred_scores(const double *p, size_t c, struct core_pred_scores *out)
{
	size_t a = 0;
	double p1, p2 = -1, h = 0;

	for (size_t k = 1; k < c; k++)
		if (p[k] > p[a])
			a = k;
	p1 = p[a];
	for (size_t k = 0; k < c; k++) {
		if (k != a && p[k] > p2)
			p2 = p[k];
		if (p[k] > 0)
			h -= p[k] * log(p[k]);
	}
	out->argmax = a;
	out->least_confidence = clamp01((1 - p1) / (1 - 1.0 / (double)c));
	out->margin = clamp01(1 - (p1 - p2));
	out->entropy = clamp01(h / log((double)c));
}

void core_input_write_scores(struct tbuf *b, const struct core_input *in)
{
	struct core_pred_scores s;

	tbuf_printf(b, "filename,uncertainty_least_confidence,"
		    "uncertainty_margin,uncertainty_entropy,class\r\n");
	for (size_t i = 0; i < in->n; i++) {
		core_pred_scores(in->x + i * in->ncols, in->ncols, &s);
		tbuf_put_csv_field(b, in->names[i]);
		tbuf_printf(b, ",%.6g,%.6g,%.6g,", s.least_confidence,
			    s.margin, s.entropy);
		tbuf_put_csv_field(b, in->cols[s.argmax]);
		tbuf_put(b, "\r\n", 2);
	}
}
