/*
 * csv.c — see csv.h. The embeddings CSV, read and written.
 *
 * Format. What lightly's save_embeddings writes with Python's csv module
 * (excel dialect: ',' separator, '"' quote, quotes doubled inside a quoted
 * field, minimal quoting, "\r\n" after every row) and numpy's str() of each
 * float32. We read what Python's csv.reader reads with strict=True, and
 * reject the rest:
 *   - rows end with "\r\n", "\n" or a lone "\r"; the last one may have no
 *     line end; empty lines after the last row are ignored, an empty line
 *     between rows is an error;
 *   - a field that starts with '"' is quoted and may hold ',', '"' (doubled)
 *     and line ends; after its closing quote only ',' or a line end may
 *     follow; a '"' inside an unquoted field is an ordinary character (as in
 *     Python); a quote never closed is an error;
 *   - a UTF-8 byte-order mark before the header is skipped (Excel writes one).
 * Header. What lightly's check_embeddings accepts (lightly/utils/io.py),
 * read as its upload did after remove_additional_columns: 'filenames'
 * first; the first 'labels' column somewhere after it; between them only
 * embedding columns (a name starting "embedding_" and a digit, as its
 * re.match takes them; in any order: the vector is the columns in file
 * order, as its load_embeddings reads them) and 'masked' or 'selected'
 * (ignored, values unread); after 'labels' any columns (ignored, values
 * unread). A header name with spaces around it is refused, as there.
 * Every row has the header's number of columns. Unlike lightly: empty
 * lines at the end are ignored (it refuses them); d = 0, non-finite values
 * and bad labels are errors here (numpy would fail later, or take them).
 * Row numbers are line numbers: a row whose quoted name holds a newline spans
 * two lines, and errors inside it name the line where it starts.
 *
 * Values. Embedding fields are what Python's float() accepts, less what it
 * cannot mean here: ASCII whitespace around the number is stripped (float()
 * strips it); a decimal with optional sign, point and exponent ("1", "-0.0",
 * ".5", "1.", "1e-05", "3.4028234663852886e+38") is read and rounded once,
 * correctly, to float32 — float64 text is rounded straight to float32, not
 * through a double; "nan", "inf", "infinity" (any case, any sign) and values
 * that overflow float32 (1e39) are rejected as not finite; values too small
 * for float32 become subnormals or zero, as numpy's astype would make them;
 * underscores between digits ("1_000", which float() takes) and hex are
 * rejected. Labels are what int() accepts without underscores: optional
 * whitespace, optional sign, decimal digits, within int64 (numpy's int64,
 * what lightly writes from a label array). Names are taken
 * byte for byte (no whitespace stripping; paths may hold spaces) and must be
 * relative paths of plain components: not empty, no leading '/', no NUL, no
 * empty, "." or ".." component. Names are unique (a hash set over the pool).
 *
 * Speed. One pass over the text, in place: fields are spans into it, names
 * are copied once into a growing pool, floats land straight in the matrix.
 * Decimals with at most 19 significant digits and a power of ten within
 * 1e±22 are read with Clinger's fast path (one exact double operation, then
 * rounding to float32, which is exact unless the double falls on a float32
 * rounding midpoint; those, and everything else, go to strtof). No malloc
 * per field: the arrays are sized once from the text's line count (growing
 * by doubling if quoted newlines fooled the count), and the hash set of
 * names is sized with them. Measured on a shared 2-core VM: 1,000,000
 * rows x 32 dims of numpy text (378 MB) in 2.7-3.6 s of CPU on one core,
 * about 0.7 s of it the kernel faulting in the new arrays. (Parsing eight
 * digits at once, SWAR, gained nothing measurable there; not kept.)
 *
 * Writing. Floats are printed with Ryu (Ulf Adams, 2018, f2s): the shortest
 * decimal that reads back to the same float32, the closest one if several;
 * then laid out as numpy's scalar str(): positional for 1e-4 <= |v| < 1e16
 * ("0.1", "123456790.0"), else scientific with a two-digit exponent
 * ("1e-05", "3.4028235e+38"). strtof and the decimal point assume the C
 * locale for LC_NUMERIC; sievefs never calls setlocale.
 *
 * Limits. A record longer than CORE_CSV_LINE_MAX bytes is rejected (the
 * parser needs no line buffer, but the cap bounds the per-record field
 * table and protects downstream consumers). At most UINT32_MAX - 1 rows.
 * Messages quote at most MSG_VAL_MAX bytes of a bad value, control bytes
 * shown as '?'.
 *
 * Threads and ownership. No global state: calls on different texts may run
 * at once. The result owns its arrays; the text is only read, never kept.
 * The name hash is unseeded: a file built to collide slows only the parse
 * of that file, which its own user uploads.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/csv.h"
#include "core/text.h"

#define MSG_VAL_MAX 60      /* bytes of a bad value quoted in a message */

struct span {
	const char *s, *e;  /* field bytes, without surrounding quotes */
	int esc;            /* quoted, and holds doubled quotes */
};

struct parser {
	const char *p, *end;    /* cursor, end of text */
	size_t line;            /* 1-based line of the cursor */
	size_t row;             /* line where the current record starts */
	struct span *f;         /* fields of the current record */
	size_t nf, fcap;        /* fields seen (may exceed fcap), room */
	char *msg;
	size_t msglen;

	struct span *hdr;       /* the header's fields (messages name them) */
	size_t ncols;           /* columns of the header, so of every row */
	size_t lab;             /* column of 'labels' (the first one) */
	size_t *emb;            /* d: the column of embedding j */

	size_t n, d, cap;       /* rows, dims, room in the arrays below */
	float *x;
	int64_t *labels;
	size_t *off;            /* name i starts at pool + off[i] */
	size_t *rows;           /* line of sample i, for duplicate messages */
	char *pool;
	size_t pool_len, pool_cap;
	uint64_t *ht;           /* (hash32 << 32) | (index + 1); 0 = empty */
	size_t ht_cap, ht_used;
	char *scratch;          /* NUL-terminated copy of a number for strtof */
	size_t scratch_cap;
	int check;              /* core_csv_check: rows are checked, not kept
				   (x and labels hold one row) */
};

/* ---- messages ---------------------------------------------------------- */

__attribute__((format(printf, 2, 3)))
static int fail(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	if (ps->msg && ps->msglen) {
		va_start(ap, fmt);
		vsnprintf(ps->msg, ps->msglen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static int fail_nomem(struct parser *ps)
{
	if (ps->msg && ps->msglen)
		snprintf(ps->msg, ps->msglen, "out of memory");
	return -ENOMEM;
}

/* A value as a message shows it: at most MSG_VAL_MAX bytes, control bytes
 * as '?', "..." when cut. out must hold MSG_VAL_MAX + 4 bytes. */
static const char *show(char *out, const char *s, size_t n)
{
	size_t k = n > MSG_VAL_MAX ? MSG_VAL_MAX : n;

	for (size_t i = 0; i < k; i++) {
		unsigned char c = (unsigned char)s[i];
		out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (k < n) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
	return out;
}

/* The header's name of 0-based column c ("filenames", "embedding_3",
 * "labels"), as a message shows it. buf holds MSG_VAL_MAX + 4 bytes. */
static const char *colname(const struct parser *ps, size_t c, char *buf)
{
	if (c == 0)
		return "filenames";
	if (c == ps->lab)
		return "labels";
	return show(buf, ps->hdr[c].s, (size_t)(ps->hdr[c].e - ps->hdr[c].s));
}

/* ---- lexing ------------------------------------------------------------ */

static int is_eol(char c)
{
	return c == '\r' || c == '\n';
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' ||
	       c == '\f';
}

static int add_field(struct parser *ps, size_t limit, struct span sp)
{
	if (ps->nf < ps->fcap) {
		ps->f[ps->nf++] = sp;
		return 0;
	}
	if (ps->nf >= limit) {  /* counted, not kept */
		ps->nf++;
		return 0;
	}
	size_t ncap = ps->fcap ? ps->fcap * 2 : 64;
	if (ncap > limit)
		ncap = limit;
	struct span *nf = realloc(ps->f, ncap * sizeof(*nf));
	if (!nf)
		return fail_nomem(ps);
	ps->f = nf;
	ps->fcap = ncap;
	ps->f[ps->nf++] = sp;
	return 0;
}

/* Scans a quoted field whose opening quote is at ps->p. Counts the lines
 * inside it. Leaves ps->p after the closing quote. */
static int lex_quoted(struct parser *ps, struct span *sp, size_t col)
{
	const char *q = ps->p + 1, *end = ps->end;
	int esc = 0;

	for (;;) {
		const char *hit = q;
		while (hit < end && *hit != '"' && !is_eol(*hit))
			hit++;
		if (hit >= end)
			return fail(ps, "row %zu, column %zu: unterminated quote",
				    ps->row, col + 1);
		if (*hit == '"') {
			if (hit + 1 < end && hit[1] == '"') {
				esc = 1;
				q = hit + 2;
				continue;
			}
			q = hit;
			break;
		}
		if (*hit == '\r' && hit + 1 < end && hit[1] == '\n')
			hit++;
		ps->line++;
		q = hit + 1;
	}
	sp->s = ps->p + 1;
	sp->e = q;
	sp->esc = esc;
	ps->p = q + 1;
	if (ps->p < end && *ps->p != ',' && !is_eol(*ps->p)) {
		char v[MSG_VAL_MAX + 4];
		return fail(ps, "row %zu, column %zu: unexpected '%s' after a "
			    "closing quote", ps->row, col + 1,
			    show(v, ps->p, 1));
	}
	return 0;
}

/* Reads one record at ps->p into ps->f (at most `limit` spans kept, all
 * counted in ps->nf). Returns 0, 1 at the end of the text, 2 for an empty
 * line (consumed), or -EINVAL/-ENOMEM. */
static int lex_record(struct parser *ps, size_t limit)
{
	const char *rec = ps->p, *end = ps->end;
	int rc;

	ps->nf = 0;
	ps->row = ps->line;
	if (ps->p >= end)
		return 1;
	if (is_eol(*ps->p)) {
		ps->p += (*ps->p == '\r' && ps->p + 1 < end && ps->p[1] == '\n')
			 ? 2 : 1;
		ps->line++;
		return 2;
	}
	for (;;) {
		struct span sp = { NULL, NULL, 0 };

		if (ps->p < end && *ps->p == '"') {
			rc = lex_quoted(ps, &sp, ps->nf);
			if (rc)
				return rc;
		} else {
			const char *q = ps->p;
			while (q < end && *q != ',' && !is_eol(*q))
				q++;
			sp.s = ps->p;
			sp.e = q;
			sp.esc = 0;
			ps->p = q;
		}
		if ((size_t)(ps->p - rec) > CORE_CSV_LINE_MAX)
			return fail(ps, "row %zu: longer than %zu bytes",
				    ps->row, CORE_CSV_LINE_MAX);
		rc = add_field(ps, limit, sp);
		if (rc)
			return rc;
		if (ps->p >= end)
			return 0;
		if (*ps->p == ',') {
			ps->p++;
			continue;
		}
		ps->p += (*ps->p == '\r' && ps->p + 1 < end && ps->p[1] == '\n')
			 ? 2 : 1;
		ps->line++;
		return 0;
	}
}

static int span_is(const struct span *sp, const char *want)
{
	size_t n = strlen(want);

	return !sp->esc && (size_t)(sp->e - sp->s) == n &&
	       !memcmp(sp->s, want, n);
}

/* ---- header ------------------------------------------------------------ */

/* An embedding column as lightly's check_embeddings takes one:
 * re.match(r"embedding_\d+", name), a match of the name's start. */
static int is_emb_col(const struct span *sp)
{
	size_t n = (size_t)(sp->e - sp->s);

	return n > 10 && !memcmp(sp->s, "embedding_", 10) &&
	       sp->s[10] >= '0' && sp->s[10] <= '9';
}

static int parse_header(struct parser *ps)
{
	char v[MSG_VAL_MAX + 4];
	const struct span *f;
	int rc;

	rc = lex_record(ps, (size_t)-1);
	if (rc == 2) {
		for (const char *q = ps->p; q < ps->end; q++)
			if (!is_eol(*q))
				return fail(ps, "row %zu: empty line; expected the "
					    "header 'filenames,embedding_0,...,"
					    "labels'", ps->row);
		rc = 1;
	}
	if (rc == 1)
		return fail(ps, "empty file");
	if (rc)
		return rc;
	f = ps->f;
	for (size_t i = 0; i < ps->nf; i++)
		if (f[i].e > f[i].s && (is_space(f[i].s[0]) ||
					is_space(f[i].e[-1])))
			return fail(ps, "row %zu, column %zu: header '%s' has "
				    "spaces around it", ps->row, i + 1,
				    show(v, f[i].s, (size_t)(f[i].e - f[i].s)));
	if (!span_is(&f[0], "filenames"))
		return fail(ps, "row %zu, column 1: expected the header "
			    "'filenames,embedding_0,...,labels', found '%s'",
			    ps->row, show(v, f[0].s, (size_t)(f[0].e - f[0].s)));
	if (ps->nf < 2)
		return fail(ps, "row %zu: the header has 1 column; expected "
			    "'filenames,embedding_0,...,labels'", ps->row);
	for (ps->lab = 1; ps->lab < ps->nf; ps->lab++)
		if (span_is(&f[ps->lab], "labels"))
			break;
	if (ps->lab == ps->nf)
		return fail(ps, "row %zu: the header has no 'labels' column; "
			    "expected 'filenames,embedding_0,...,labels'",
			    ps->row);
	ps->emb = malloc(ps->lab * sizeof(*ps->emb));
	if (!ps->emb)
		return fail_nomem(ps);
	/* Before 'labels': embeddings, in file order, and lightly's flag
	 * columns (ignored); after it: anything (ignored). */
	for (size_t i = 1; i < ps->lab; i++) {
		if (is_emb_col(&f[i]))
			ps->emb[ps->d++] = i;
		else if (!span_is(&f[i], "masked") &&
			 !span_is(&f[i], "selected"))
			return fail(ps, "row %zu, column %zu: expected "
				    "'embedding_N', 'masked' or 'selected' "
				    "before 'labels', found '%s'", ps->row,
				    i + 1, show(v, f[i].s,
						(size_t)(f[i].e - f[i].s)));
	}
	if (ps->d == 0)
		return fail(ps, "row %zu: no embedding columns (d = 0)", ps->row);
	ps->ncols = ps->nf;
	ps->hdr = ps->f;        /* kept for messages; rows get their own */
	ps->f = NULL;
	ps->fcap = 0;
	return 0;
}

/* ---- numbers ----------------------------------------------------------- */

enum { NUM_OK, NUM_BAD, NUM_NONFINITE, NUM_RANGE };

static int ieq(const char *s, size_t n, const char *lower)
{
	size_t k = strlen(lower);

	if (n != k)
		return 0;
	for (size_t i = 0; i < k; i++) {
		char c = s[i];
		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != lower[i])
			return 0;
	}
	return 1;
}

static void strip(const char **s, const char **e)
{
	while (*s < *e && is_space(**s))
		(*s)++;
	while (*e > *s && is_space((*e)[-1]))
		(*e)--;
}

static const double pow10_tab[23] = {
	1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
	1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
};

/* strtof on a copy of [s, e), which holds only [0-9.eE+-]. */
static int slow_float(struct parser *ps, const char *s, const char *e,
		      float *out)
{
	size_t n = (size_t)(e - s);
	char *end;

	if (n + 1 > ps->scratch_cap) {
		char *ns = realloc(ps->scratch, n + 1);
		if (!ns)
			return -ENOMEM;
		ps->scratch = ns;
		ps->scratch_cap = n + 1;
	}
	memcpy(ps->scratch, s, n);
	ps->scratch[n] = '\0';
	*out = strtof(ps->scratch, &end);
	if (end != ps->scratch + n)
		return NUM_BAD;
	return isinf(*out) ? NUM_RANGE : NUM_OK;
}

/* Reads a float as described atop this file. Returns a NUM_ value, or
 * -ENOMEM. */
static int parse_float(struct parser *ps, const char *s, const char *e,
		       float *out)
{
	const char *p, *num;
	uint64_t m = 0;
	int64_t e10 = 0, ex = 0;
	int neg = 0, digits = 0, nsig = 0, inexact = 0, seen_point = 0;

	strip(&s, &e);
	p = num = s;
	if (p < e && (*p == '+' || *p == '-'))
		neg = *p++ == '-';
	if (p < e && !(*p >= '0' && *p <= '9') && *p != '.')
		return (ieq(p, (size_t)(e - p), "nan") ||
			ieq(p, (size_t)(e - p), "inf") ||
			ieq(p, (size_t)(e - p), "infinity"))
		       ? NUM_NONFINITE : NUM_BAD;
	for (; p < e; p++) {
		if (*p == '.') {
			if (seen_point)
				return NUM_BAD;
			seen_point = 1;
			continue;
		}
		if (!(*p >= '0' && *p <= '9'))
			break;
		digits = 1;
		unsigned dv = (unsigned)(*p - '0');
		if (nsig < 19) {
			if (m || dv) {
				m = m * 10 + dv;
				nsig++;
			}
			if (seen_point)
				e10--;
		} else {
			inexact |= dv != 0;
			if (!seen_point)
				e10++;
		}
	}
	if (!digits)
		return NUM_BAD;
	if (p < e && (*p == 'e' || *p == 'E')) {
		int eneg = 0, edig = 0;
		p++;
		if (p < e && (*p == '+' || *p == '-'))
			eneg = *p++ == '-';
		for (; p < e && *p >= '0' && *p <= '9'; p++) {
			edig = 1;
			if (ex < 100000)
				ex = ex * 10 + (*p - '0');
		}
		if (!edig)
			return NUM_BAD;
		if (eneg)
			ex = -ex;
	}
	if (p != e)
		return NUM_BAD;
	if (m == 0 && !inexact) {
		*out = neg ? -0.0f : 0.0f;
		return NUM_OK;
	}
	e10 += ex;
	if (!inexact && m <= ((uint64_t)1 << 53) && e10 >= -22 && e10 <= 22) {
		double dv = (double)m;
		uint64_t bits;
		dv = e10 < 0 ? dv / pow10_tab[-e10] : dv * pow10_tab[e10];
		memcpy(&bits, &dv, sizeof(bits));
		/* float32 keeps 24 of the double's 53 bits; a double exactly
		 * halfway between two floats may be a rounded image of a value
		 * that is not, so only those go the slow way. */
		if ((bits & 0x1fffffffu) != 0x10000000u) {
			*out = (float)(neg ? -dv : dv);
			return NUM_OK;
		}
	}
	return slow_float(ps, num, e, out);
}

/* Reads an int64 label. Returns a NUM_ value (NUM_RANGE: out of int64). */
static int parse_label(const char *s, const char *e, int64_t *out)
{
	uint64_t v = 0;
	int neg = 0, digits = 0, big = 0;

	strip(&s, &e);
	if (s < e && (*s == '+' || *s == '-'))
		neg = *s++ == '-';
	for (; s < e && *s >= '0' && *s <= '9'; s++) {
		digits = 1;
		if (v > (UINT64_MAX - 9) / 10)
			big = 1;
		else
			v = v * 10 + (uint64_t)(*s - '0');
	}
	if (!digits || s != e)
		return NUM_BAD;
	if (big || v > (uint64_t)INT64_MAX + (uint64_t)neg)
		return NUM_RANGE;
	*out = !neg ? (int64_t)v : v == (uint64_t)INT64_MAX + 1 ? INT64_MIN
	     : -(int64_t)v;
	return NUM_OK;
}

/* ---- names ------------------------------------------------------------- */

/* How many rows the rest of the text can hold: its line count, but no more
 * than rows of the shortest form "a,0,...,0,0\n" (ignored columns empty:
 * ncols + d + 1 bytes with the line end) fit, as quoted names may hold
 * line ends. Sizing the arrays once spares the copies of growing a large
 * matrix by doubling. */
static size_t estimate_rows(const struct parser *ps)
{
	size_t len = (size_t)(ps->end - ps->p), lines = 1, most;
	const char *q = ps->p;

	while ((q = memchr(q, '\n', (size_t)(ps->end - q)))) {
		lines++;
		q++;
	}
	if (lines == 1)  /* lone CRs, or a single row */
		for (q = ps->p; (q = memchr(q, '\r', (size_t)(ps->end - q)));
		     q++)
			lines++;
	most = len / (ps->ncols + ps->d + 1) + 1;
	return lines < most ? lines : most;
}

static int grow_rows(struct parser *ps)
{
	size_t ncap = ps->cap ? ps->cap * 2 : estimate_rows(ps);
	void *p;

	size_t xcap = ps->check ? 1 : ncap;

	if (xcap > SIZE_MAX / sizeof(float) / ps->d)
		return -ENOMEM;
	if (!(p = realloc(ps->x, xcap * ps->d * sizeof(float))))
		return -ENOMEM;
	ps->x = p;
	if (!(p = realloc(ps->labels, xcap * sizeof(int64_t))))
		return -ENOMEM;
	ps->labels = p;
	if (!(p = realloc(ps->off, ncap * sizeof(size_t))))
		return -ENOMEM;
	ps->off = p;
	if (!(p = realloc(ps->rows, ncap * sizeof(size_t))))
		return -ENOMEM;
	ps->rows = p;
	ps->cap = ncap;
	return 0;
}

static uint64_t hash_name(const char *s, size_t n)
{
	uint64_t h = 0x9e3779b97f4a7c15ull ^ n, w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = (h ^ w) * 0xff51afd7ed558ccdull;
		h ^= h >> 32;
	}
	w = 0;
	memcpy(&w, s, n);
	h = (h ^ w) * 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 29);
}

/* Length of name j, j < ps->n (so name j + 1 is in the pool too). */
static size_t name_len(const struct parser *ps, size_t j)
{
	return ps->off[j + 1] - ps->off[j] - 1;
}

static int ht_grow(struct parser *ps)
{
	size_t ncap = ps->ht_cap ? ps->ht_cap * 2 : 1024;

	while (ncap < 2 * ps->cap)  /* sized once for the estimated rows */
		ncap *= 2;
	uint64_t *nt = calloc(ncap, sizeof(*nt));

	if (!nt)
		return -ENOMEM;
	for (size_t i = 0; i < ps->ht_cap; i++) {
		uint64_t v = ps->ht[i];
		if (!v)
			continue;
		size_t k = (size_t)(v >> 32) & (ncap - 1);
		while (nt[k])
			k = (k + 1) & (ncap - 1);
		nt[k] = v;
	}
	free(ps->ht);
	ps->ht = nt;
	ps->ht_cap = ncap;
	return 0;
}

/* Inserts name ps->n (the last one in the pool). Returns 0, 1 with *first
 * set when the name is already there, or -ENOMEM. */
static int ht_insert(struct parser *ps, size_t *first)
{
	const char *s = ps->pool + ps->off[ps->n];
	size_t len = ps->pool_len - ps->off[ps->n] - 1;
	uint32_t h = (uint32_t)hash_name(s, len);
	size_t k;

	if ((ps->ht_used + 1) * 2 > ps->ht_cap && ht_grow(ps))
		return -ENOMEM;
	for (k = h & (ps->ht_cap - 1); ps->ht[k];
	     k = (k + 1) & (ps->ht_cap - 1)) {
		uint64_t v = ps->ht[k];
		size_t j = (size_t)(uint32_t)v - 1;
		if ((uint32_t)(v >> 32) == h && name_len(ps, j) == len &&
		    !memcmp(ps->pool + ps->off[j], s, len)) {
			*first = j;
			return 1;
		}
	}
	ps->ht[k] = ((uint64_t)h << 32) | (uint64_t)(ps->n + 1);
	ps->ht_used++;
	return 0;
}

/* Appends the (unescaped) name of field sp to the pool as name ps->n. */
static int pool_add(struct parser *ps, const struct span *sp)
{
	size_t n = (size_t)(sp->e - sp->s);

	if (ps->pool_len + n + 1 > ps->pool_cap) {
		size_t ncap = ps->pool_cap ? ps->pool_cap : 65536;
		while (ncap < ps->pool_len + n + 1)
			ncap *= 2;
		char *np = realloc(ps->pool, ncap);
		if (!np)
			return -ENOMEM;
		ps->pool = np;
		ps->pool_cap = ncap;
	}
	char *dst = ps->pool + ps->pool_len;
	ps->off[ps->n] = ps->pool_len;
	if (!sp->esc) {
		memcpy(dst, sp->s, n);
		dst += n;
	} else {
		for (const char *q = sp->s; q < sp->e; q++) {
			*dst++ = *q;
			if (*q == '"')
				q++;  /* the second of a doubled quote */
		}
	}
	*dst++ = '\0';
	ps->pool_len = (size_t)(dst - ps->pool);
	return 0;
}

/* Checks name ps->n: a relative path of plain components. */
static int check_name(struct parser *ps)
{
	const char *s = ps->pool + ps->off[ps->n];
	size_t len = ps->pool_len - ps->off[ps->n] - 1;
	char v[MSG_VAL_MAX + 4];
	const char *why = NULL;

	if (len == 0)
		return fail(ps, "row %zu, column 1 (filenames): empty filename",
			    ps->row);
	if (memchr(s, '\0', len))
		return fail(ps, "row %zu, column 1 (filenames): filename '%s' "
			    "contains a NUL byte", ps->row, show(v, s, len));
	if (s[0] == '/')
		return fail(ps, "row %zu, column 1 (filenames): absolute "
			    "filename '%s'; expected a path relative to the "
			    "dataset", ps->row, show(v, s, len));
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
		return fail(ps, "row %zu, column 1 (filenames): filename '%s' "
			    "has %s path component", ps->row,
			    show(v, s, len), why);
	return 0;
}

/* ---- rows -------------------------------------------------------------- */

static int num_fail(struct parser *ps, int r, size_t col, const struct span *sp)
{
	char v[MSG_VAL_MAX + 4], cn[MSG_VAL_MAX + 4];
	const char *what;

	if (r < 0)
		return fail_nomem(ps);
	show(v, sp->s, (size_t)(sp->e - sp->s));
	if (col == ps->lab)
		what = r == NUM_RANGE ? "is out of int64 range"
				      : "is not an integer";
	else
		what = r == NUM_NONFINITE ? "is not finite"
		     : r == NUM_RANGE ? "is not finite (overflows float32)"
		     : "is not a number";
	return fail(ps, "row %zu, column %zu (%s): '%s' %s", ps->row, col + 1,
		    colname(ps, col, cn), v, what);
}

static int parse_row(struct parser *ps)
{
	const size_t cols = ps->ncols;
	size_t first;
	float *xr;
	int r;

	if (ps->nf != cols)
		return fail(ps, "row %zu: expected %zu columns, found %zu",
			    ps->row, cols, ps->nf);
	if (ps->n >= (size_t)UINT32_MAX - 1)
		return fail(ps, "row %zu: too many rows", ps->row);
	if (ps->n == ps->cap && grow_rows(ps))
		return fail_nomem(ps);
	if (pool_add(ps, &ps->f[0]))
		return fail_nomem(ps);
	if ((r = check_name(ps)))
		return r;
	r = ht_insert(ps, &first);
	if (r < 0)
		return fail_nomem(ps);
	if (r) {
		char v[MSG_VAL_MAX + 4];
		const char *s = ps->pool + ps->off[ps->n];
		return fail(ps, "row %zu: duplicate filename '%s' (first at "
			    "row %zu)", ps->row,
			    show(v, s, ps->pool_len - ps->off[ps->n] - 1),
			    ps->rows[first]);
	}
	xr = ps->x + (ps->check ? 0 : ps->n * ps->d);
	for (size_t j = 0; j < ps->d; j++) {
		const struct span *sp = &ps->f[ps->emb[j]];
		r = parse_float(ps, sp->s, sp->e, &xr[j]);
		if (r)
			return num_fail(ps, r, ps->emb[j], sp);
	}
	r = parse_label(ps->f[ps->lab].s, ps->f[ps->lab].e,
			&ps->labels[ps->check ? 0 : ps->n]);
	if (r)
		return num_fail(ps, r, ps->lab, &ps->f[ps->lab]);
	ps->rows[ps->n] = ps->row;
	ps->n++;
	return 0;
}

/* After an empty line: fine if only line ends follow, else an error. */
static int trailing_empty(struct parser *ps)
{
	size_t row = ps->row;

	for (const char *q = ps->p; q < ps->end; q++)
		if (!is_eol(*q))
			return fail(ps, "row %zu: empty line (expected %zu "
				    "columns)", row, ps->ncols);
	ps->p = ps->end;
	return 0;
}

static void parser_free(struct parser *ps)
{
	free(ps->f);
	free(ps->hdr);
	free(ps->emb);
	free(ps->x);
	free(ps->labels);
	free(ps->off);
	free(ps->rows);
	free(ps->pool);
	free(ps->ht);
	free(ps->scratch);
}

int core_csv_parse(const char *text, size_t len, struct core_emb *out,
		   char *msg, size_t msglen)
{
	struct parser ps;
	char **names = NULL;
	size_t first_row;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	memset(&ps, 0, sizeof(ps));
	ps.p = text;
	ps.end = text + len;
	ps.line = 1;
	ps.msg = msg;
	ps.msglen = msglen;
	if (msg && msglen)
		msg[0] = '\0';
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		ps.p += 3;

	rc = parse_header(&ps);
	if (rc)
		goto out;
	first_row = ps.line;
	for (;;) {
		rc = lex_record(&ps, ps.lab + 1);  /* the rest: counted */
		if (rc == 1) {
			rc = 0;
			break;
		}
		if (rc == 2) {
			rc = trailing_empty(&ps);
			if (rc)
				goto out;
			break;
		}
		if (rc)
			goto out;
		rc = parse_row(&ps);
		if (rc)
			goto out;
	}
	if (ps.n == 0) {
		rc = fail(&ps, "row %zu: the file has a header but no rows "
			  "(0 samples)", first_row);
		goto out;
	}

	if (ps.cap > ps.n) {  /* give back the slack; keep it if this fails */
		float *nx = realloc(ps.x, ps.n * ps.d * sizeof(float));
		int64_t *nl = realloc(ps.labels, ps.n * sizeof(int64_t));
		if (nx)
			ps.x = nx;
		if (nl)
			ps.labels = nl;
	}
	char *np = realloc(ps.pool, ps.pool_len);  /* before pointing into it */
	if (np)
		ps.pool = np;
	names = malloc(ps.n * sizeof(*names));
	if (!names) {
		rc = fail_nomem(&ps);
		goto out;
	}
	for (size_t i = 0; i < ps.n; i++)
		names[i] = ps.pool + ps.off[i];
	out->n = ps.n;
	out->d = ps.d;
	out->names = names;
	out->x = ps.x;
	out->labels = ps.labels;
	out->pool = ps.pool;
	ps.x = NULL;
	ps.labels = NULL;
	ps.pool = NULL;
out:
	parser_free(&ps);
	return rc;
}

void core_csv_free(struct core_emb *e)
{
	if (!e)
		return;
	free(e->names);
	free(e->x);
	free(e->labels);
	free(e->pool);
	memset(e, 0, sizeof(*e));
}

/* ---- checking as the bytes arrive -------------------------------------- */

/* A file being written is checked record by record (core_csv_check_feed):
 * the header once, then every complete row with the rules above (columns,
 * numbers, names, duplicates), keeping only the names seen. Where the last
 * complete record ends is found by a scan that follows the lexer's quoting
 * (a field is quoted when it starts with '"'; "" inside is a quote); the
 * bytes after it wait in `tail` for the next feed. A lone CR line end is
 * not taken as the end of a record (its LF may come next): such a file,
 * and one whose unfinished record outgrows CHECK_TAIL_MAX, is checked by
 * the final parse only. */
#define CHECK_TAIL_MAX (CORE_CSV_LINE_MAX + 65536)

struct core_csv_check {
	struct parser ps;        /* header, names seen, line counter */
	char *head;              /* the bytes holding the header (ps.hdr
				    points into them) */
	char *tail;              /* an unfinished record */
	size_t tail_len, tail_cap;
	size_t empty_row;        /* row of an empty line, 0 = none seen */
	int started;             /* the header is checked */
	int off;                 /* gave up: the final parse judges */
	int failed;              /* a record was refused */
};

struct core_csv_check *core_csv_check_new(void)
{
	struct core_csv_check *ck = calloc(1, sizeof(*ck));

	if (ck) {
		ck->ps.line = 1;
		ck->ps.check = 1;
	}
	return ck;
}

void core_csv_check_free(struct core_csv_check *ck)
{
	if (!ck)
		return;
	parser_free(&ck->ps);
	free(ck->head);
	free(ck->tail);
	free(ck);
}

/* Offset just past the last complete record of b[from..len) (0 = none). */
static size_t record_end(const char *b, size_t from, size_t len)
{
	enum { START, PLAIN, QUOTED, QUOTE } st = START;
	size_t last = 0;

	for (size_t i = from; i < len; i++) {
		char c = b[i];
		switch (st) {
		case QUOTED:
			if (c == '"')
				st = QUOTE;
			continue;
		case QUOTE:
			if (c == '"') {
				st = QUOTED;
				continue;
			}
			break;
		case START:
			if (c == '"') {
				st = QUOTED;
				continue;
			}
			break;
		case PLAIN:
			break;
		}
		if (c == '\n') {
			last = i + 1;
			st = START;
		} else if (c == ',' || c == '\r') {
			st = START;
		} else {
			st = PLAIN;
		}
	}
	return last;
}

/* Checks the complete records of [p, end): the header first, then rows. */
static int check_records(struct core_csv_check *ck, const char *p,
			 const char *end)
{
	struct parser *ps = &ck->ps;
	int rc;

	ps->p = p;
	ps->end = end;
	if (!ck->started) {
		if (end - p >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
			ps->p += 3;
		rc = parse_header(ps);
		if (rc)
			return rc;
		ck->started = 1;
	}
	for (;;) {
		if (ck->empty_row) {
			/* After an empty line only line ends may follow
			 * (trailing_empty): anything else is refused at once,
			 * before it is lexed, as the whole parse does. */
			for (const char *q = ps->p; q < ps->end; q++)
				if (!is_eol(*q))
					return fail(ps, "row %zu: empty line "
						    "(expected %zu columns)",
						    ck->empty_row, ps->ncols);
			return 0;
		}
		rc = lex_record(ps, ps->lab + 1);
		if (rc == 1)
			return 0;
		if (rc == 2) {
			ck->empty_row = ps->row;
			continue;
		}
		if (rc)
			return rc;
		rc = parse_row(ps);
		if (rc)
			return rc;
	}
}

int core_csv_check_feed(struct core_csv_check *ck, const char *data,
			size_t len, char *msg, size_t msglen)
{
	size_t end, bom;
	int rc;

	if (msg && msglen)
		msg[0] = '\0';
	if (ck->failed) {
		if (msg && msglen)
			snprintf(msg, msglen, "an earlier row was refused");
		return -EINVAL;
	}
	if (ck->off || !len)
		return 0;
	if (ck->tail_len + len > CHECK_TAIL_MAX) {
		/* No record end within reach: the final parse decides. */
		ck->off = 1;
		free(ck->tail);
		ck->tail = NULL;
		ck->tail_len = ck->tail_cap = 0;
		return 0;
	}
	if (ck->tail_len + len > ck->tail_cap) {
		size_t ncap = ck->tail_cap ? ck->tail_cap : 65536;
		while (ncap < ck->tail_len + len)
			ncap *= 2;
		char *nt = realloc(ck->tail, ncap);
		if (!nt)
			return -ENOMEM;
		ck->tail = nt;
		ck->tail_cap = ncap;
	}
	memcpy(ck->tail + ck->tail_len, data, len);
	ck->tail_len += len;
	/* The parser skips a byte-order mark before the header; so must the
	 * scans, or a quoted first field would look unquoted to them. */
	bom = !ck->started && ck->tail_len >= 3 &&
	      !memcmp(ck->tail, "\xef\xbb\xbf", 3) ? 3 : 0;
	end = record_end(ck->tail, bom, ck->tail_len);
	if (!end)
		return 0;
	if (!ck->started) {
		/* Only line ends so far: an empty file, or an empty first
		 * line before a header — the bytes after them tell which. */
		size_t i = bom;
		while (i < end && is_eol(ck->tail[i]))
			i++;
		if (i == end)
			return 0;
	}
	ck->ps.msg = msg;
	ck->ps.msglen = msglen;
	if (!ck->started) {
		/* The header's spans must outlive this call: its bytes move
		 * to `head`, and a fresh tail takes what follows. */
		ck->head = ck->tail;
		ck->tail = NULL;
		ck->tail_cap = 0;
		rc = check_records(ck, ck->head, ck->head + end);
		if (!rc && ck->tail_len > end) {
			ck->tail = malloc(ck->tail_len - end);
			if (!ck->tail)
				rc = -ENOMEM;
			else
				memcpy(ck->tail, ck->head + end,
				       ck->tail_len - end);
			ck->tail_cap = ck->tail_len - end;
		}
	} else {
		rc = check_records(ck, ck->tail, ck->tail + end);
		if (!rc)
			memmove(ck->tail, ck->tail + end, ck->tail_len - end);
	}
	ck->ps.msg = NULL;
	ck->ps.msglen = 0;
	ck->tail_len -= end;
	if (rc == -EINVAL)
		ck->failed = 1;
	return rc;
}

/* ---- writing: Ryu f2s -------------------------------------------------- */

/* FLOAT_POW5_INV_SPLIT[i] = floor(2^(pow5bits(i) - 1 + 59) / 5^i) + 1 and
 * FLOAT_POW5_SPLIT[i] = floor(5^i * 2^(61 - pow5bits(i))), as in Ryu's
 * f2s.c; generated with Python's integers. pow5_split has one entry more
 * than Ryu's 47, for the i + 1 lookup at the smallest subnormals. */
#define POW5_INV_BITCOUNT 59
#define POW5_BITCOUNT 61

static const uint64_t pow5_inv_split[31] = {
	576460752303423489u, 461168601842738791u, 368934881474191033u,
	295147905179352826u, 472236648286964522u, 377789318629571618u,
	302231454903657294u, 483570327845851670u, 386856262276681336u,
	309485009821345069u, 495176015714152110u, 396140812571321688u,
	316912650057057351u, 507060240091291761u, 405648192073033409u,
	324518553658426727u, 519229685853482763u, 415383748682786211u,
	332306998946228969u, 531691198313966350u, 425352958651173080u,
	340282366920938464u, 544451787073501542u, 435561429658801234u,
	348449143727040987u, 557518629963265579u, 446014903970612463u,
	356811923176489971u, 570899077082383953u, 456719261665907162u,
	365375409332725730u,
};

static const uint64_t pow5_split[48] = {
	1152921504606846976u, 1441151880758558720u, 1801439850948198400u,
	2251799813685248000u, 1407374883553280000u, 1759218604441600000u,
	2199023255552000000u, 1374389534720000000u, 1717986918400000000u,
	2147483648000000000u, 1342177280000000000u, 1677721600000000000u,
	2097152000000000000u, 1310720000000000000u, 1638400000000000000u,
	2048000000000000000u, 1280000000000000000u, 1600000000000000000u,
	2000000000000000000u, 1250000000000000000u, 1562500000000000000u,
	1953125000000000000u, 1220703125000000000u, 1525878906250000000u,
	1907348632812500000u, 1192092895507812500u, 1490116119384765625u,
	1862645149230957031u, 1164153218269348144u, 1455191522836685180u,
	1818989403545856475u, 2273736754432320594u, 1421085471520200371u,
	1776356839400250464u, 2220446049250313080u, 1387778780781445675u,
	1734723475976807094u, 2168404344971008868u, 1355252715606880542u,
	1694065894508600678u, 2117582368135750847u, 1323488980084844279u,
	1654361225106055349u, 2067951531382569187u, 1292469707114105741u,
	1615587133892632177u, 2019483917365790221u, 1262177448353618888u,
};

static uint32_t pow5bits(int32_t e)
{
	return (uint32_t)(((e * 1217359) >> 19) + 1);
}

static uint32_t log10_pow2(int32_t e)
{
	return (uint32_t)((e * 78913) >> 18);
}

static uint32_t log10_pow5(int32_t e)
{
	return (uint32_t)((e * 732923) >> 20);
}

static uint32_t pow5_factor(uint32_t v)
{
	uint32_t count = 0;

	while (v % 5 == 0) {
		v /= 5;
		count++;
	}
	return count;
}

static int mult_pow5(uint32_t v, uint32_t p)
{
	return pow5_factor(v) >= p;
}

static int mult_pow2(uint32_t v, uint32_t p)
{
	return (v & ((1u << p) - 1)) == 0;
}

static uint32_t mul_shift(uint32_t m, uint64_t factor, int32_t shift)
{
	uint64_t lo = (uint64_t)m * (uint32_t)factor;
	uint64_t hi = (uint64_t)m * (uint32_t)(factor >> 32);

	return (uint32_t)(((lo >> 32) + hi) >> (shift - 32));
}

/* Ryu's state for one float: the value and the ends of its rounding
 * interval, scaled to integers vr, vp, vm times 10^e10, and what is known
 * about the digits already cut off. */
struct ryu {
	uint32_t vr, vp, vm;
	int32_t e10;
	int vm_tz, vr_tz;       /* the cut digits of vm / vr were all zeros */
	uint8_t last;           /* the last digit cut from vr */
};

/* Step 3 for e2 >= 0: divide by 5^q 2^... with the inverse tables. */
static void ryu_pos(struct ryu *r, int32_t e2, uint32_t mv, uint32_t mp,
		    uint32_t mm, int accept)
{
	uint32_t q = log10_pow2(e2);
	int32_t k = POW5_INV_BITCOUNT + (int32_t)pow5bits((int32_t)q) - 1;
	int32_t i = -e2 + (int32_t)q + k;

	r->e10 = (int32_t)q;
	r->vr = mul_shift(mv, pow5_inv_split[q], i);
	r->vp = mul_shift(mp, pow5_inv_split[q], i);
	r->vm = mul_shift(mm, pow5_inv_split[q], i);
	if (q != 0 && (r->vp - 1) / 10 <= r->vm / 10) {
		/* one removed digit is needed even if the loop will not run */
		int32_t l = POW5_INV_BITCOUNT +
			    (int32_t)pow5bits((int32_t)q - 1) - 1;
		r->last = (uint8_t)(mul_shift(mv, pow5_inv_split[q - 1],
					      -e2 + (int32_t)q - 1 + l) % 10);
	}
	if (q <= 9) {  /* only one of mp, mv, mm can be a multiple of 5 */
		if (mv % 5 == 0)
			r->vr_tz = mult_pow5(mv, q);
		else if (accept)
			r->vm_tz = mult_pow5(mm, q);
		else
			r->vp -= (uint32_t)mult_pow5(mp, q);
	}
}

/* Step 3 for e2 < 0: multiply by 5^i 2^... with the direct tables. */
static void ryu_neg(struct ryu *r, int32_t e2, uint32_t mv, uint32_t mp,
		    uint32_t mm, int accept, uint32_t mm_shift)
{
	uint32_t q = log10_pow5(-e2);
	int32_t i = -e2 - (int32_t)q;
	int32_t k = (int32_t)pow5bits(i) - POW5_BITCOUNT;
	int32_t j = (int32_t)q - k;

	r->e10 = (int32_t)q + e2;
	r->vr = mul_shift(mv, pow5_split[i], j);
	r->vp = mul_shift(mp, pow5_split[i], j);
	r->vm = mul_shift(mm, pow5_split[i], j);
	if (q != 0 && (r->vp - 1) / 10 <= r->vm / 10) {
		j = (int32_t)q - 1 - ((int32_t)pow5bits(i + 1) - POW5_BITCOUNT);
		r->last = (uint8_t)(mul_shift(mv, pow5_split[i + 1], j) % 10);
	}
	if (q <= 1) {  /* mv = 4 m2 has two trailing zero bits */
		r->vr_tz = 1;
		if (accept)
			r->vm_tz = mm_shift == 1;
		else
			r->vp--;
	} else if (q < 31) {
		r->vr_tz = mult_pow2(mv, q - 1);
	}
}

static void ryu_cut(struct ryu *r)
{
	r->vm_tz &= r->vm % 10 == 0;
	r->vr_tz &= r->last == 0;
	r->last = (uint8_t)(r->vr % 10);
	r->vr /= 10;
	r->vp /= 10;
	r->vm /= 10;
	r->e10++;
}

/* Shortest digits of a finite nonzero float: *digits * 10^*exp, the
 * closest to the value among the shortest (ties to even). */
static void f2d(uint32_t mant, uint32_t bexp, uint32_t *digits, int32_t *exp)
{
	struct ryu r = { 0, 0, 0, 0, 0, 0, 0 };
	int32_t e2 = bexp ? (int32_t)bexp - 127 - 23 - 2 : 1 - 127 - 23 - 2;
	uint32_t m2 = bexp ? (1u << 23) | mant : mant;
	uint32_t mm_shift = mant != 0 || bexp <= 1;
	uint32_t mv = 4 * m2, mp = 4 * m2 + 2, mm = 4 * m2 - 1 - mm_shift;
	int accept = (m2 & 1) == 0;  /* round-half-even keeps the bounds */

	if (e2 >= 0)
		ryu_pos(&r, e2, mv, mp, mm, accept);
	else
		ryu_neg(&r, e2, mv, mp, mm, accept, mm_shift);

	if (r.vm_tz || r.vr_tz) {
		while (r.vp / 10 > r.vm / 10)
			ryu_cut(&r);
		if (r.vm_tz)
			while (r.vm % 10 == 0)
				ryu_cut(&r);
		if (r.vr_tz && r.last == 5 && r.vr % 2 == 0)
			r.last = 4;  /* an exact tie: round half to even */
		*digits = r.vr + ((r.vr == r.vm && (!accept || !r.vm_tz)) ||
				  r.last >= 5);
	} else {
		while (r.vp / 10 > r.vm / 10)
			ryu_cut(&r);  /* the _tz flags stay 0 */
		*digits = r.vr + (r.vr == r.vm || r.last >= 5);
	}
	*exp = r.e10;
}

/* Lays out digits dg (nd of them, most significant first) times 10^sci as
 * numpy does: positional with at least one digit after the point, or
 * d.ddde±XX. Returns the bytes written. */
static size_t layout(char *buf, const char *dg, int32_t nd, int32_t sci,
		     int positional)
{
	size_t k = 0;

	if (!positional) {
		buf[k++] = dg[0];
		if (nd > 1) {
			buf[k++] = '.';
			memcpy(buf + k, dg + 1, (size_t)nd - 1);
			k += (size_t)nd - 1;
		}
		buf[k++] = 'e';
		buf[k++] = sci < 0 ? '-' : '+';
		uint32_t ae = (uint32_t)(sci < 0 ? -sci : sci);  /* <= 45 */
		buf[k++] = (char)('0' + ae / 10);
		buf[k++] = (char)('0' + ae % 10);
		return k;
	}
	if (sci < 0) {
		buf[k++] = '0';
		buf[k++] = '.';
		for (int32_t i = -1; i > sci; i--)
			buf[k++] = '0';
		memcpy(buf + k, dg, (size_t)nd);
		return k + (size_t)nd;
	}
	for (int32_t i = 0; i <= sci; i++)  /* integer part, zero padded */
		buf[k++] = i < nd ? dg[i] : '0';
	buf[k++] = '.';
	if (sci + 1 >= nd)
		buf[k++] = '0';
	for (int32_t i = sci + 1; i < nd; i++)
		buf[k++] = dg[i];
	return k;
}

size_t core_csv_fmt_float(float v, char buf[32])
{
	uint32_t bits, digits, mant, bexp;
	int32_t exp, nd = 0;
	char dg[12] = { 0 };  /* at most 9 digits; digits > 0 */
	size_t k = 0;
	double a = fabs((double)v);

	memcpy(&bits, &v, sizeof(bits));
	mant = bits & 0x7fffffu;
	bexp = (bits >> 23) & 0xffu;
	if (bexp == 0xff) {
		const char *s = mant ? "nan" : (bits >> 31) ? "-inf" : "inf";
		k = strlen(s);
		memcpy(buf, s, k + 1);
		return k;
	}
	if (bits >> 31)
		buf[k++] = '-';
	if (bexp == 0 && mant == 0) {
		memcpy(buf + k, "0.0", 4);
		return k + 3;
	}
	f2d(mant, bexp, &digits, &exp);
	for (uint32_t t = digits; t; t /= 10)
		nd++;
	for (int32_t i = nd - 1; i >= 0; i--, digits /= 10)
		dg[i] = (char)('0' + digits % 10);
	/* numpy's scalar str(): positional for 1e-4 <= |v| < 1e16 */
	k += layout(buf + k, dg, nd, exp + nd - 1, a >= 1e-4 && a < 1e16);
	buf[k] = '\0';
	return k;
}

/* ---- writing: rows ----------------------------------------------------- */

/* Rows are assembled in a stack buffer and handed to b in blocks. */
struct wbuf {
	struct tbuf *b;
	size_t len;
	char p[16384];
};

static void wflush(struct wbuf *w)
{
	tbuf_put(w->b, w->p, w->len);
	w->len = 0;
}

static void wput(struct wbuf *w, const char *s, size_t n)
{
	if (w->len + n > sizeof(w->p)) {
		wflush(w);
		if (n > sizeof(w->p)) {
			tbuf_put(w->b, s, n);
			return;
		}
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

/* A name, quoted as Python's csv does when it holds ',', '"', CR or LF. */
static void wname(struct wbuf *w, const char *s)
{
	size_t n = strlen(s);

	if (!strpbrk(s, ",\"\r\n")) {
		wput(w, s, n);
		return;
	}
	wput(w, "\"", 1);
	for (const char *q; (q = memchr(s, '"', n)); ) {
		size_t k = (size_t)(q - s) + 1;
		wput(w, s, k);
		wput(w, "\"", 1);
		s += k;
		n -= k;
	}
	wput(w, s, n);
	wput(w, "\"", 1);
}

void core_csv_write(struct tbuf *b, size_t n, size_t d,
		    const char *const *names, const float *x,
		    const int64_t *labels)
{
	struct wbuf wb, *w = &wb;
	char num[40];
	size_t k;

	w->b = b;
	w->len = 0;
	wput(w, "filenames", 9);
	for (size_t j = 0; j < d; j++) {
		k = (size_t)snprintf(num, sizeof(num), ",embedding_%zu", j);
		wput(w, num, k);
	}
	wput(w, ",labels\r\n", 9);
	for (size_t i = 0; i < n && !b->err; i++) {
		wname(w, names[i]);
		for (size_t j = 0; j < d; j++) {
			num[0] = ',';
			k = core_csv_fmt_float(x[i * d + j], num + 1);
			wput(w, num, k + 1);
		}
		k = (size_t)snprintf(num, sizeof(num), ",%lld\r\n",
				     (long long)labels[i]);
		wput(w, num, k);
	}
	wflush(w);
}
