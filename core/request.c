/*
 * request.c — the selection form of the `sample` request: parsing, the
 * request-time checks, and the run (see request.h for the grammar).
 *
 * The run: candidates are the rows of the embedding matrix core/runs.c
 * loaded (from= tag, in path order); path=REGEX (POSIX extended,
 * regcomp) sets the allowed flags; preselected=TAG's samples are matched
 * to the candidates by path (the flag `pre`; those not among the
 * candidates join as extra rows for diversity); query=TAG's vectors are
 * the similarity rows; every column (weights, threshold, balance) comes
 * from core_column_load, one call per column, aligned with the
 * candidates. Then sampling/select.c does the work.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/columns.h"
#include "core/names.h"
#include "core/request.h"
#include "core/runs.h"
#include "core/text.h"
#include "sampling/sampling.h"
#include "store/store.h"

static const char *const obj_names[] = {
	[SMP_OBJ_DIVERSITY] = "diversity",   [SMP_OBJ_TYPICALITY] = "typicality",
	[SMP_OBJ_SIMILARITY] = "similarity", [SMP_OBJ_WEIGHTS] = "weights",
	[SMP_OBJ_BALANCE] = "balance",       [SMP_OBJ_RANDOM] = "random",
};
#define NOBJ_NAMES (sizeof(obj_names) / sizeof(obj_names[0]))
#define THRESHOLD (-1) /* the `threshold` word: not an objective */
#define KNOWN_OBJ "diversity, typicality, similarity, weights, threshold," \
		  " balance, random"
static const char *const op_names[] = { "<", "<=", ">", ">=" };
static const char *const op_words[] = { "lt", "le", "gt", "ge" };

/* dst = val, the rest of dst zeroed (a value given twice leaves no trace
 * of the first: parses compare whole structs). */
static void set_str(char *dst, size_t size, const char *val)
{
	memset(dst, 0, size);
	snprintf(dst, size, "%s", val);
}

static int word_kind(const char *w)
{
	if (!strcmp(w, "threshold"))
		return THRESHOLD;
	for (size_t i = 0; i < NOBJ_NAMES; i++)
		if (!strcmp(w, obj_names[i]))
			return (int)i;
	return -2;
}

static int sel_key(const char *k)
{
	static const char *const keys[] = { "strength", "column", "query",
					    "target", "op", "value",
					    "proportion", "path",
					    "preselected" };
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (!strcmp(k, keys[i]))
			return 1;
	return 0;
}

/* glibc's regcomp copies a repeated subexpression once per repetition,
 * so stacked quantifiers (`a++++…`) and large bounds (`(a{1,200}){1,200}`)
 * cost memory exponential in the pattern (the fuzzer found a 60-byte
 * path= taking 2 GB). Refused before regcomp: a quantifier right after
 * another, or bounds whose product passes 1,000. Bracket expressions
 * and escapes are skipped. 0, or -EINVAL with why. */
static int re_guard(const char *re, char *why, size_t whylen)
{
	double prod = 1;
	int after_q = 0;

	for (const char *p = re; *p; p++) {
		if (*p == '\\') {
			if (p[1])
				p++;
			after_q = 0;
			continue;
		}
		if (*p == '[') {
			p++;
			if (*p == '^')
				p++;
			if (*p == ']')
				p++;
			while (*p && *p != ']') {
				if (*p == '[' && (p[1] == ':' || p[1] == '=' ||
						  p[1] == '.')) {
					char close = p[1];
					p += 2;
					while (*p && !(p[0] == close && p[1] == ']'))
						p++;
					if (*p)
						p++;
				}
				if (*p)
					p++;
			}
			if (!*p)
				break;
			after_q = 0;
			continue;
		}
		if (*p == '*' || *p == '+' || *p == '?' || *p == '{') {
			long hi = 1;
			if (after_q) {
				snprintf(why, whylen, "path=%.64s: a repetition"
					 " right after another (e.g. '++' or"
					 " '*{2}') is not allowed", re);
				return -EINVAL;
			}
			if (*p == '{') {
				char *end;
				long lo = strtol(p + 1, &end, 10);
				lo = lo < 0 ? 0 : lo > 1000 ? 1001 : lo;
				hi = lo;
				if (*end == ',')
					hi = end[1] == '}' ? lo + 1
					     : strtol(end + 1, &end, 10);
				hi = hi < 0 ? 0 : hi > 1000 ? 1001 : hi;
				p = strchr(p, '}');
				if (!p)
					break;
			}
			prod *= (double)(hi > 1 ? hi : 1);
			if (prod > 1000) {
				snprintf(why, whylen, "path=%.64s: repetition"
					 " bounds too large (their product is at"
					 " most 1000)", re);
				return -EINVAL;
			}
			after_q = 1;
			continue;
		}
		after_q = 0;
	}
	return 0;
}

int core_objs_detect(const char *line)
{
	char buf[1024], *rest = buf, *tok;
	int first = 1;

	snprintf(buf, sizeof(buf), "%s", line);
	for (; (tok = core_next_token(&rest)) != NULL; first = 0) {
		char *eq = strchr(tok, '=');
		if (!strcmp(tok, "+"))
			return 1;
		if (!eq && first && (!strcmp(tok, "diversity") ||
				     !strcmp(tok, "similarity") ||
				     !strcmp(tok, "weights") ||
				     !strcmp(tok, "threshold")))
			return 1;
		if (eq) {
			*eq = '\0';
			if (sel_key(tok))
				return 1;
		}
	}
	return 0;
}

static int parse_num(const char *v, double *out)
{
	char *end;

	if (!*v)
		return -EINVAL;
	*out = strtod(v, &end);
	return *end || !isfinite(*out) ? -EINVAL : 0;
}

static int parse_count(const char *v, int64_t *out)
{
	char *end;

	if (!*v || *v == '-' || *v == '+')
		return -EINVAL;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || *end)
		return -EINVAL;
	*out = (int64_t)(x > INT64_MAX ? INT64_MAX : x);
	return 0;
}

/* A column spec: INPUT.COLUMN, printable, no blank. */
static int column_ok(const char *v)
{
	const char *dot = strchr(v, '.');

	if (!dot || dot == v || !dot[1] || strlen(v) >= CORE_OBJS_COL)
		return 0;
	for (const char *p = v; *p; p++)
		if ((unsigned char)*p < 0x21 || *p == 0x7f)
			return 0;
	return 1;
}

/* One key=value of the current group (obj, or thr when the group is a
 * threshold; both NULL before the first objective word). */
static int group_key(struct core_req *q, struct core_objs_obj *obj,
		     struct core_objs_thr *thr, int *have_op, int *have_val,
		     const char *key, const char *val, char *msg,
		     size_t msglen)
{
	struct core_objs *s = &q->sel;
	double f;

	if (!strcmp(key, "n")) {
		if (parse_count(val, &q->n) || q->n == 0 || q->n > INT32_MAX) {
			snprintf(msg, msglen, "n=%.64s: expected a positive"
				 " count", val);
			return -EINVAL;
		}
	} else if (!strcmp(key, "proportion")) {
		if (parse_num(val, &f) || !(f > 0 && f <= 1)) {
			snprintf(msg, msglen, "proportion=%.64s: expected a"
				 " number in (0, 1]", val);
			return -EINVAL;
		}
		s->proportion = f;
	} else if (!strcmp(key, "seed")) {
		int64_t v;
		if (parse_count(val, &v) || v == INT64_MAX) {
			snprintf(msg, msglen, "seed=%.64s: expected a"
				 " non-negative integer", val);
			return -EINVAL;
		}
		q->seed = (uint64_t)v;
	} else if (!strcmp(key, "min_distance")) {
		if (parse_num(val, &f) || f < 0 || f > 3e38) {
			snprintf(msg, msglen, "min_distance=%.64s: expected a"
				 " number >= 0", val);
			return -EINVAL;
		}
		q->min_distance = (float)f;
	} else if (!strcmp(key, "dedup")) {
		/* the one-strategy form's dedup=D (core/runs.c) */
		if (core_req_dedup(val, q, msg, msglen))
			return -EINVAL;
	} else if (!strcmp(key, "from") || !strcmp(key, "embedding") ||
		   !strcmp(key, "preselected") || !strcmp(key, "query")) {
		if (!core_name_valid(val)) {
			snprintf(msg, msglen, "%s=%.64s: not a valid name",
				 key, val);
			return -EINVAL;
		}
		if (key[0] == 'q') {
			if (!obj || obj->kind != SMP_OBJ_SIMILARITY) {
				snprintf(msg, msglen, "query= belongs to"
					 " similarity, e.g. `similarity"
					 " query=TAG`");
				return -EINVAL;
			}
			set_str(obj->query, sizeof(obj->query), val);
		} else {
			char *dst = key[0] == 'f' ? q->from : key[0] == 'e' ?
				    q->embedding : s->preselected;
			set_str(dst, 129, val);
		}
	} else if (!strcmp(key, "path")) {
		regex_t re;
		char err[200];
		int e;
		if (!*val || strlen(val) >= sizeof(s->path)) {
			snprintf(msg, msglen, "path=: expected a regular"
				 " expression of 1 to %zu bytes",
				 sizeof(s->path) - 1);
			return -EINVAL;
		}
		if ((e = re_guard(val, msg, msglen)))
			return e;
		if ((e = regcomp(&re, val, REG_EXTENDED | REG_NOSUB))) {
			regerror(e, &re, err, sizeof(err));
			snprintf(msg, msglen, "path=%.64s: %s", val, err);
			return -EINVAL;
		}
		regfree(&re);
		set_str(s->path, sizeof(s->path), val);
	} else if (!strcmp(key, "strength")) {
		if (!obj) {
			snprintf(msg, msglen, "strength= belongs to an"
				 " objective (%s), e.g. `diversity"
				 " strength=2`", thr ? "not threshold" :
				 "none named before it");
			return -EINVAL;
		}
		if (parse_num(val, &f) || !(f > 0 && f <= 100)) {
			snprintf(msg, msglen, "strength=%.64s: expected a"
				 " number in (0, 100]", val);
			return -EINVAL;
		}
		obj->strength = f;
	} else if (!strcmp(key, "column")) {
		if (!column_ok(val)) {
			snprintf(msg, msglen, "column=%.64s: expected"
				 " INPUT.COLUMN, e.g. preds.uncertainty_entropy"
				 " or builtin.brightness", val);
			return -EINVAL;
		}
		if (thr)
			set_str(thr->column, sizeof(thr->column), val);
		else if (obj && (obj->kind == SMP_OBJ_WEIGHTS ||
				 obj->kind == SMP_OBJ_BALANCE))
			set_str(obj->column, sizeof(obj->column), val);
		else {
			snprintf(msg, msglen, "column= belongs to weights,"
				 " threshold or balance");
			return -EINVAL;
		}
	} else if (!strcmp(key, "target")) {
		if (!obj || obj->kind != SMP_OBJ_BALANCE) {
			snprintf(msg, msglen, "target= belongs to balance");
			return -EINVAL;
		}
		if (!*val || strlen(val) >= sizeof(obj->target)) {
			snprintf(msg, msglen, "target=: expected uniform or"
				 " CLASS:SHARE,... (at most %zu bytes)",
				 sizeof(obj->target) - 1);
			return -EINVAL;
		}
		set_str(obj->target, sizeof(obj->target), val);
	} else if (!strcmp(key, "op") || !strcmp(key, "value")) {
		if (!thr) {
			snprintf(msg, msglen, "%s= belongs to threshold, e.g."
				 " `threshold column=builtin.brightness op=>"
				 " value=0.2`", key);
			return -EINVAL;
		}
		if (key[0] == 'v') {
			if (parse_num(val, &thr->value)) {
				snprintf(msg, msglen, "value=%.64s: expected a"
					 " number", val);
				return -EINVAL;
			}
			*have_val = 1;
			return 0;
		}
		for (int i = 0; i < 4; i++)
			if (!strcmp(val, op_names[i]) ||
			    !strcmp(val, op_words[i])) {
				thr->op = i;
				*have_op = 1;
				return 0;
			}
		snprintf(msg, msglen, "op=%.64s: unknown operator (known: <,"
			 " <=, >, >=, or lt, le, gt, ge)", val);
		return -EINVAL;
	} else {
		snprintf(msg, msglen, "unknown key '%.64s' (known: n,"
			 " proportion, from, embedding, seed, min_distance,"
			 " dedup, path, preselected; per objective: strength, column,"
			 " query, target, op, value)", key);
		return -EINVAL;
	}
	return 0;
}

/* The end of a group: what its objective needs is there. */
static int group_end(const struct core_objs_obj *obj,
		     const struct core_objs_thr *thr, int have_op,
		     int have_val, char *msg, size_t msglen)
{
	if (thr && (!thr->column[0] || !have_op || !have_val)) {
		snprintf(msg, msglen, "threshold: expected column=INPUT.COLUMN"
			 " op=OP value=F, e.g. `threshold"
			 " column=builtin.brightness op=gt value=0.2`");
		return -EINVAL;
	}
	if (obj && obj->kind == SMP_OBJ_SIMILARITY && !obj->query[0]) {
		snprintf(msg, msglen, "similarity: expected query=TAG (the"
			 " samples to be similar to)");
		return -EINVAL;
	}
	if (obj && obj->kind == SMP_OBJ_WEIGHTS && !obj->column[0]) {
		snprintf(msg, msglen, "weights: expected column=INPUT.COLUMN,"
			 " e.g. preds.uncertainty_entropy");
		return -EINVAL;
	}
	return 0;
}

int core_objs_parse(const char *line, struct core_req *q, char *msg,
		   size_t msglen)
{
	char buf[1024], *rest = buf, *tok;
	struct core_objs *s = &q->sel;
	struct core_objs_obj *obj = NULL;
	struct core_objs_thr *thr = NULL;
	int start = 1, have_op = 0, have_val = 0, rc;

	memset(q, 0, sizeof(*q));
	q->kind = REQ_SAMPLE;
	q->color = -1;
	snprintf(q->strategy, sizeof(q->strategy), "select");
	s->on = 1;
	if (strlen(line) >= sizeof(buf)) {
		snprintf(msg, msglen, "request longer than %zu bytes",
			 sizeof(buf) - 1);
		return -EINVAL;
	}
	snprintf(buf, sizeof(buf), "%s", line);
	while ((tok = core_next_token(&rest)) != NULL) {
		char *eq = strchr(tok, '=');
		if (!strcmp(tok, "+")) {
			if (start || (!obj && !thr)) {
				snprintf(msg, msglen, "'+' joins two objectives:"
					 " one is missing, e.g. `diversity +"
					 " typicality n=100`");
				return -EINVAL;
			}
			if ((rc = group_end(obj, thr, have_op, have_val, msg,
					    msglen)))
				return rc;
			obj = NULL;
			thr = NULL;
			start = 1;
			continue;
		}
		if (!eq) {
			int kind = word_kind(tok);
			if (!start || kind == -2) {
				snprintf(msg, msglen, "unknown objective"
					 " '%.64s' (known: %s; objectives are"
					 " joined by a lone +)", tok,
					 KNOWN_OBJ);
				return -EINVAL;
			}
			start = 0;
			if (kind == THRESHOLD) {
				if (s->nthr == CORE_OBJS_MAX)
					goto toomany;
				thr = &s->thr[s->nthr++];
				have_op = have_val = 0;
				continue;
			}
			if (s->nobj == CORE_OBJS_MAX)
				goto toomany;
			obj = &s->obj[s->nobj++];
			obj->kind = kind;
			obj->strength = 1;
			continue;
		}
		if (start && (s->nobj || s->nthr)) {
			snprintf(msg, msglen, "'+' joins two objectives: one"
				 " is missing before '%.64s', e.g. `diversity"
				 " + typicality n=100`", tok);
			return -EINVAL;
		}
		start = 0;
		*eq = '\0';
		if ((rc = group_key(q, obj, thr, &have_op, &have_val, tok,
				    eq + 1, msg, msglen)))
			return rc;
	}
	if (start && (obj || thr || s->nobj || s->nthr)) {
		snprintf(msg, msglen, "'+' at the end: an objective is"
			 " missing after it");
		return -EINVAL;
	}
	if ((rc = group_end(obj, thr, have_op, have_val, msg, msglen)))
		return rc;
	if (s->nobj == 0) {     /* only thresholds or globals: the default */
		s->obj[0] = (struct core_objs_obj){ .kind = SMP_OBJ_TYPICALITY,
						   .strength = 1 };
		s->obj[1] = (struct core_objs_obj){ .kind = SMP_OBJ_DIVERSITY,
						   .strength = 1 };
		s->nobj = 2;
	}
	return 0;
toomany:
	snprintf(msg, msglen, "at most %d objectives and %d thresholds",
		 CORE_OBJS_MAX, CORE_OBJS_MAX);
	return -EINVAL;
}

void core_objs_format(const struct core_req *q, char *buf, size_t len)
{
	const struct core_objs *s = &q->sel;
	size_t o = 0;

#define PUT(...) o += (size_t)snprintf(buf + o, o < len ? len - o : 0, __VA_ARGS__)
	for (size_t i = 0; i < s->nobj; i++) {
		const struct core_objs_obj *b = &s->obj[i];
		PUT("%s%s strength=%.17g", i ? " + " : "", obj_names[b->kind],
		    b->strength);
		if (b->column[0])
			PUT(" column=%s", b->column);
		if (b->query[0])
			PUT(" query=%s", b->query);
		if (b->target[0])
			PUT(" target=%s", b->target);
	}
	for (size_t i = 0; i < s->nthr; i++)
		PUT(" + threshold column=%s op=%s value=%.17g",
		    s->thr[i].column, op_words[s->thr[i].op], s->thr[i].value);
	if (q->n)
		PUT(" n=%" PRId64, q->n);
	if (s->proportion > 0)
		PUT(" proportion=%.17g", s->proportion);
	if (q->from[0])
		PUT(" from=%s", q->from);
	if (q->embedding[0])
		PUT(" embedding=%s", q->embedding);
	if (q->seed)
		PUT(" seed=%" PRIu64, q->seed);
	if (q->min_distance > 0)
		PUT(" min_distance=%.9g", (double)q->min_distance);
	if (q->dedup_on)
		PUT(" dedup=%.9g", (double)q->dedup);
	if (s->path[0])
		PUT(" path=%s", s->path);
	if (s->preselected[0])
		PUT(" preselected=%s", s->preselected);
#undef PUT
}

/* The single place columns are loaded: aligned with candidates 0..n-1,
 * the matrix's rows, named by their paths (core_column_load_paths: no
 * query per sample); n = 0 only checks the spec. */
static int load_col(store *st, int64_t ds, const char *spec,
		    char *const *paths, size_t n, struct sv_column *c,
		    char *why, size_t whylen)
{
	return core_column_load_paths(st, ds, spec, (const char *const *)paths,
				      n, c, why, whylen);
}

static int tag_check(store *st, int64_t ds, const char *key,
		     const char *name, char *why, size_t whylen)
{
	struct store_tag t;
	int rc = store_tag_get(st, ds, name, &t);

	if (rc == -ENOENT) {
		snprintf(why, whylen, "%s=%s: no such tag", key, name);
		return -EINVAL;
	}
	return rc;
}

int core_objs_check(store *st, int64_t ds, const struct core_req *q,
		   char *why, size_t whylen)
{
	const struct core_objs *s = &q->sel;
	struct sv_column c;
	int rc;

	if (s->preselected[0] &&
	    (rc = tag_check(st, ds, "preselected", s->preselected, why,
			    whylen)))
		return rc;
	for (size_t i = 0; i < s->nobj; i++) {
		const char *col = s->obj[i].column;
		if (s->obj[i].query[0] &&
		    (rc = tag_check(st, ds, "query", s->obj[i].query, why,
				    whylen)))
			return rc;
		if (!col[0])
			continue;
		if ((rc = load_col(st, ds, col, NULL, 0, &c, why, whylen)))
			return rc;
		sv_column_free(&c);
	}
	for (size_t i = 0; i < s->nthr; i++) {
		if ((rc = load_col(st, ds, s->thr[i].column, NULL, 0, &c, why,
				   whylen)))
			return rc;
		sv_column_free(&c);
	}
	return 0;
}

int core_objs_path_mask(const char *re, char *const *paths, size_t n,
		       uint8_t *allowed, char *why, size_t whylen)
{
	regex_t rx;
	int e = re_guard(re, why, whylen);

	if (e)
		return e;
	if ((e = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB))) {
		char err[200];
		regerror(e, &rx, err, sizeof(err));
		snprintf(why, whylen, "path=%.64s: %s", re, err);
		return e == REG_ESPACE ? -ENOMEM : -EINVAL;
	}
	for (size_t i = 0; i < n; i++)
		allowed[i] = regexec(&rx, paths[i], 0, NULL, 0) == 0;
	regfree(&rx);
	return 0;
}

static int cmp_path(const void *a, const void *b, void *arg)
{
	char *const *p = arg;
	return strcmp(p[*(const uint32_t *)a], p[*(const uint32_t *)b]);
}

/* idx[i] = i sorted by paths; then each of other's paths is found. */
static int match_paths(const struct store_matrix *m,
		       const struct store_matrix *o, uint8_t *pre,
		       float **extra, size_t *nextra)
{
	uint32_t *idx = malloc((m->n ? m->n : 1) * sizeof(*idx));
	float *x = malloc((o->n ? o->n : 1) * m->dim * sizeof(*x));
	size_t ne = 0;

	if (!idx || !x) {
		free(idx);
		free(x);
		return -ENOMEM;
	}
	for (size_t i = 0; i < m->n; i++)
		idx[i] = (uint32_t)i;
	qsort_r(idx, m->n, sizeof(*idx), cmp_path, m->paths);
	for (size_t j = 0; j < o->n; j++) {
		size_t lo = 0, hi = m->n;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (strcmp(m->paths[idx[mid]], o->paths[j]) < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo < m->n && !strcmp(m->paths[idx[lo]], o->paths[j]))
			pre[idx[lo]] = 1;
		else
			memcpy(x + ne++ * m->dim, o->x + j * m->dim,
			       m->dim * sizeof(float));
	}
	free(idx);
	*extra = x;
	*nextra = ne;
	return 0;
}

/* The matrix of tag NAME's samples in embedding emb. */
static int tag_matrix(store *st, int64_t ds, int64_t emb, const char *key,
		      const char *name, struct store_matrix *out, char *why,
		      size_t whylen)
{
	struct store_tag t;
	int rc = tag_check(st, ds, key, name, why, whylen);

	if (!rc)
		rc = store_tag_get(st, ds, name, &t);
	if (!rc)
		rc = store_matrix_load(st, emb, t.id, out);
	return rc;
}

/* Balance's target shares over the column's categories: "" / uniform =
 * NULL; else CLASS:SHARE,... by name. */
static int parse_target(const char *spec, char *const *names, size_t ncat,
			double **out, char *why, size_t whylen)
{
	char buf[256], *save = NULL, *item;
	double *t;

	*out = NULL;
	if (!spec[0] || !strcmp(spec, "uniform"))
		return 0;
	if (!(t = calloc(ncat ? ncat : 1, sizeof(*t))))
		return -ENOMEM;
	snprintf(buf, sizeof(buf), "%s", spec);
	for (item = strtok_r(buf, ",", &save); item;
	     item = strtok_r(NULL, ",", &save)) {
		char *colon = strrchr(item, ':');
		double f;
		size_t c;
		if (!colon || parse_num(colon + 1, &f) || f < 0) {
			snprintf(why, whylen, "target=%.64s: expected uniform"
				 " or CLASS:SHARE,... with shares >= 0", spec);
			free(t);
			return -EINVAL;
		}
		*colon = '\0';
		for (c = 0; c < ncat && strcmp(names[c], item); c++)
			;
		if (c == ncat) {
			snprintf(why, whylen, "target: no class '%.64s' in the"
				 " column", item);
			free(t);
			return -EINVAL;
		}
		t[c] = f;
	}
	*out = t;
	return 0;
}

/* Everything one run holds besides the matrix. */
struct sel_bufs {
	uint8_t *allowed, *pre;
	float *prex;
	struct store_matrix pm, qm[CORE_OBJS_MAX];
	struct sv_column col[CORE_OBJS_MAX], tcol[CORE_OBJS_MAX];
	double *target[CORE_OBJS_MAX];
	int32_t *labels;
	char **labnames;
	size_t nlab;
};

static void bufs_free(struct sel_bufs *b)
{
	free(b->allowed);
	free(b->pre);
	free(b->prex);
	store_matrix_free(&b->pm);
	for (int i = 0; i < CORE_OBJS_MAX; i++) {
		store_matrix_free(&b->qm[i]);
		sv_column_free(&b->col[i]);
		sv_column_free(&b->tcol[i]);
		free(b->target[i]);
	}
	for (size_t i = 0; i < b->nlab; i++)
		free(b->labnames[i]);
	free(b->labnames);
}

/* Balance over the embedding CSV's labels: class c is label rank c, its
 * name the label as the CSV wrote it. */
static int label_classes(const struct store_matrix *m, struct sel_bufs *b)
{
	size_t ncat = 0;

	for (size_t i = 0; i < m->n; i++)
		if ((size_t)m->labels[i] + 1 > ncat)
			ncat = (size_t)m->labels[i] + 1;
	b->labnames = calloc(ncat ? ncat : 1, sizeof(*b->labnames));
	if (!b->labnames)
		return -ENOMEM;
	b->nlab = ncat;
	for (size_t i = 0; i < m->n; i++) {
		char **nm = &b->labnames[m->labels[i]];
		if (!*nm && asprintf(nm, "%" PRId64, m->raw_labels[i]) < 0) {
			*nm = NULL;
			return -ENOMEM;
		}
	}
	for (size_t c = 0; c < ncat; c++)
		if (!b->labnames[c] && !(b->labnames[c] = strdup("")))
			return -ENOMEM;
	return 0;
}

int core_objs_run(store *st, int64_t ds, int64_t emb, int64_t tree,
		 const struct core_req *q, uint64_t seed,
		 const struct store_matrix *m,
		 const struct smp_ctl *ctl, struct smp_result *res, char *why,
		 size_t whylen)
{
	const struct core_objs *s = &q->sel;
	struct sel_bufs b;
	struct smp_objective obj[CORE_OBJS_MAX];
	struct smp_threshold thr[CORE_OBJS_MAX];
	struct smp_select_spec spec = { .x = m->x, .n = m->n, .d = m->dim,
					.obj = obj, .nobj = s->nobj,
					.thr = thr, .nthr = s->nthr,
					.k = (size_t)q->n,
					.proportion = s->proportion,
					.min_distance = q->min_distance,
					.seed = seed };
	int rc = 0;

	memset(&b, 0, sizeof(b));
	memset(obj, 0, sizeof(obj));
	memset(thr, 0, sizeof(thr));
	if (s->path[0]) {
		if (!(b.allowed = malloc(m->n)))
			return -ENOMEM;
		if ((rc = core_objs_path_mask(s->path, m->paths, m->n,
					     b.allowed, why, whylen)))
			goto out;
		spec.allowed = b.allowed;
	}
	if (s->preselected[0]) {
		if (!(b.pre = calloc(m->n, 1))) {
			rc = -ENOMEM;
			goto out;
		}
		if ((rc = tag_matrix(st, ds, emb, "preselected",
				     s->preselected, &b.pm, why, whylen)) ||
		    (rc = match_paths(m, &b.pm, b.pre, &b.prex, &spec.npre)))
			goto out;
		spec.pre = b.pre;
		spec.prex = b.prex;
	}
	for (size_t i = 0; i < s->nobj; i++) {
		const struct core_objs_obj *o = &s->obj[i];
		struct smp_objective *so = &obj[i];
		so->kind = o->kind;
		so->strength = o->strength;
		if (o->kind == SMP_OBJ_SIMILARITY) {
			if ((rc = tag_matrix(st, ds, emb, "query", o->query,
					     &b.qm[i], why, whylen)))
				goto out;
			if (b.qm[i].n == 0) {
				snprintf(why, whylen, "query=%s: none of its"
					 " samples has a vector in this"
					 " embedding", o->query);
				rc = -EINVAL;
				goto out;
			}
			so->q = b.qm[i].x;
			so->nq = b.qm[i].n;
			continue;
		}
		if (o->kind == SMP_OBJ_BALANCE && !o->column[0]) {
			if ((rc = label_classes(m, &b)) ||
			    (rc = parse_target(o->target, b.labnames, b.nlab,
					       &b.target[i], why, whylen)))
				goto out;
			so->cat = m->labels;
			so->ncat = b.nlab;
			so->target = b.target[i];
			continue;
		}
		if (!o->column[0])
			continue;
		if ((rc = load_col(st, ds, o->column, m->paths, m->n, &b.col[i], why,
				   whylen)))
			goto out;
		if (o->kind == SMP_OBJ_WEIGHTS) {
			if (b.col[i].categorical) {
				snprintf(why, whylen, "weights: column %s is"
					 " categorical; weights need numbers",
					 o->column);
				rc = -EINVAL;
				goto out;
			}
			so->w = b.col[i].v;
		} else {
			if (!b.col[i].categorical) {
				snprintf(why, whylen, "balance: column %s is"
					 " numeric; balance needs classes",
					 o->column);
				rc = -EINVAL;
				goto out;
			}
			if ((rc = parse_target(o->target, b.col[i].names,
					       b.col[i].ncat, &b.target[i],
					       why, whylen)))
				goto out;
			so->cat = b.col[i].cat;
			so->ncat = b.col[i].ncat;
			so->target = b.target[i];
		}
	}
	for (size_t i = 0; i < s->nthr; i++) {
		if ((rc = load_col(st, ds, s->thr[i].column, m->paths, m->n, &b.tcol[i],
				   why, whylen)))
			goto out;
		if (b.tcol[i].categorical) {
			snprintf(why, whylen, "threshold: column %s is"
				 " categorical; thresholds compare numbers",
				 s->thr[i].column);
			rc = -EINVAL;
			goto out;
		}
		thr[i].v = b.tcol[i].v;
		thr[i].op = s->thr[i].op;
		thr[i].value = s->thr[i].value;
	}
	if (q->dedup_on) {
		if (!b.allowed) {
			if (!(b.allowed = malloc(m->n ? m->n : 1))) {
				rc = -ENOMEM;
				goto out;
			}
			memset(b.allowed, 1, m->n);
			spec.allowed = b.allowed;
		}
		if ((rc = core_objs_dedup(st, tree, q, m, b.pre, thr, s->nthr,
					  b.allowed, why, whylen)))
			goto out;
	}
	rc = smp_select(&spec, ctl, res);
	if (rc == -EINVAL)
		snprintf(why, whylen, "the selection's inputs do not fit"
			 " together (a column or query of another size)");
out:
	bufs_free(&b);
	return rc;
}
