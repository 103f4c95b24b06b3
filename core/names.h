/*
 * names.h — the naming rules of the platform, in one place: dataset and tag
 * names, names reserved inside a dataset, file names inside a tree, and the
 * text format of the `selection` file. Pure functions, no I/O, thread-safe.
 */
#ifndef SIEVEFS_CORE_NAMES_H
#define SIEVEFS_CORE_NAMES_H

#include <stddef.h>

#include "core/records.h"

#define CORE_NAME_MAX 128

/* 1 if `name` is a valid dataset or tag name: 1-128 characters of
 * A-Z a-z 0-9 . _ -, starting with a letter or digit. */
int core_name_valid(const char *name);

/* 1 if `name` is one of the entries every dataset has (initial-tag, sample,
 * selection, scores.csv, embeddings, plot.svg, info, log, duplicates). */
int core_name_reserved(const char *name);

/* 0 if `name` may name a file or folder inside a tree, else -EINVAL
 * (empty, ".", "..", contains '/') or -ENAMETOOLONG (over 255 bytes). */
int core_component_check(const char *name);

/* The values of a dataset's tag_folders setting (the extended attribute
 * user.sievefs.tag_folders): "all" (STORE_TAG_FOLDERS_ALL, the default)
 * and "selected". parse: 0 and *mode, or -EINVAL for anything else
 * (case-sensitive, no spaces). name: the word of a mode ("all" for an
 * unknown one). */
int core_tag_folders_parse(const char *value, int *mode);
const char *core_tag_folders_name(int mode);

/* Longest path a `selection` line may name: a tree's (store.h). */
#define CORE_SEL_PATH_MAX STORE_TREE_PATH_MAX

/* A parsed `selection` text. Lines end with \n or \r\n; empty lines are
 * ignored; a leading "./" is dropped; an optional first line
 * "# from: TAG" names the tag the paths are resolved in. */
struct core_sel {
	char *from;        /* NULL = initial-tag */
	char **paths;      /* n pointers into buf */
	size_t *lines;     /* 1-based line number of each path */
	size_t n;
	char *buf;         /* owns the strings */
};

/* Parses text. Returns 0, or -EINVAL with "line N: reason" in msg (an
 * absolute path, a line over 4096 bytes, a NUL byte, a bad tag name), or
 * -ENOMEM. Free with core_sel_free() (also after failure). */
int core_sel_parse(const char *text, size_t len, struct core_sel *out,
		   char *msg, size_t msglen);
void core_sel_free(struct core_sel *sel);

#endif
