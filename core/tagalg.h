/*
 * tagalg.h — tag algebra (issue 21): union, intersection and difference
 * of tags and of the selection, written to the `selection` file as one
 * line a shell user can type:
 *
 *     union: A B [C ...]        files of A, then those of B... not in A
 *     intersection: A B [...]   files of A that every other operand has
 *     difference: A B [...]     files of A that no other operand has
 *
 * Operands are tag names, `initial-tag`, or the word `selection` (the
 * current selection; a reserved name, so no tag is called so). A file is
 * the same in two operands when its path relative to the tag is (frozen
 * tags keep their source's paths). The result keeps the first operand's
 * order, then (union) each later operand's own; its source, and so the
 * parent of a tag frozen from it, is the first operand's tag.
 *
 * Pure functions, no I/O, thread-safe. Callers: core/local_text.c (the
 * `selection` write, which the server's route also reaches) and
 * api/routes_lightly.c (POST /v1/datasets/{id}/tags/arithmetics).
 */
#ifndef SIEVEFS_CORE_TAGALG_H
#define SIEVEFS_CORE_TAGALG_H

#include <stddef.h>
#include <stdint.h>

enum core_tagop { CORE_TAG_UNION = 1, CORE_TAG_INTERSECTION,
		  CORE_TAG_DIFFERENCE };

#define CORE_TAGALG_MAX 16     /* operands in one line */
#define CORE_TAGALG_SELECTION "selection"

struct core_tagalg {
	enum core_tagop op;
	size_t n;                          /* 2..CORE_TAGALG_MAX */
	char names[CORE_TAGALG_MAX][129];  /* tag names or "selection" */
};

/* Is text (a whole `selection` text) an algebra form? 0: no (its first
 * non-empty line does not start with "union:", "intersection:" or
 * "difference:"; a path so named is written quoted, "\"union: x\""),
 * 1: yes, parsed into *out; -EINVAL with the reason in msg: an algebra
 * form that is malformed (fewer than two operands, more than
 * CORE_TAGALG_MAX, a name that is no valid tag name, a second line). */
int core_tagalg_parse(const char *text, size_t len, struct core_tagalg *out,
		      char *msg, size_t msglen);

/* The word of an operation ("union"...); NULL for none. parse_word: the
 * operation of a word (also the lightly API's "UNION", "INTERSECTION",
 * "DIFFERENCE"), 0 for none. */
const char *core_tagop_name(enum core_tagop op);
enum core_tagop core_tagop_parse_word(const char *w);

/* One operand's files: path (relative to its tag) and node. */
struct core_tagfile {
	const char *path;
	int64_t node;
};

/* out[] (room for the sum of the operands' n) receives the result of op
 * over sets[0..nsets), as described above (each operand lists a path
 * once: a tree's and a selection's paths are unique). *nout its count.
 * 0 or -ENOMEM. The paths of out point into the operands' (which the
 * caller keeps). */
int core_tagalg_apply(enum core_tagop op, const struct core_tagfile *const *sets,
		      const size_t *ns, size_t nsets, struct core_tagfile *out,
		      size_t *nout);

#endif

/* ---- over the catalog (tagalg_run.c) ---- */

typedef struct store store;

/* Runs algebra `a` on dataset ds: each operand resolved (a tag of ds, or
 * the selection), the result computed, and unless `check`, made the
 * selection with the first operand's tag as its source. 0 with the
 * result's count in *count and the source tag's id and name in *src and
 * srcname (129 bytes); -EINVAL with the reason in why ("no tag named
 * 'x'"), nothing changed; or another -errno. */
int core_tagalg_run(store *st, int64_t ds, const struct core_tagalg *a,
		    int check, int64_t *count, int64_t *src, char *srcname,
		    char *why, size_t whylen);
