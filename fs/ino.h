/*
 * ino.h — how fs/ numbers the inodes it shows the kernel.
 *
 *   1                                  the mount root
 *   node + 1                           a node of a tree (catalog row id + 1,
 *                                      so stable across remounts)
 *   1<<62 | dataset << 8 | slot        a dataset's own entries: its folder
 *                                      (slot 0), its control files and its
 *                                      embeddings/ folder; dataset 0 with
 *                                      FS_SLOT_LOG: the root's `log`
 *   1<<61 | embedding                  embeddings/NAME.csv
 *   1<<61 | 1<<60 | n                  a CSV being copied into embeddings/
 *   1<<61 | 1<<59 | n                  a scratch file (scratch.c)
 *   1<<61 | 1<<58 | input              predictions/ or metadata/NAME.csv
 *   1<<61 | 1<<58 | 1<<57 | input      predictions/NAME.scores.csv
 *   1<<61 | 1<<58 | 1<<60 | tag<<2 | f exports/TAG.* (issue 21 item 5;
 *                                      f: enum core_export_fmt)
 * Node and embedding ids stay far below 2^59, and dataset ids below 2^54.
 * Pure functions, no state.
 */
#ifndef SIEVEFS_FS_INO_H
#define SIEVEFS_FS_INO_H

#include <stdint.h>

enum fs_ino_kind { FS_INO_ROOT, FS_INO_DATASET, FS_INO_CTL, FS_INO_NODE,
		   FS_INO_EMB, FS_INO_EMB_UPLOAD, FS_INO_SCRATCH,
		   FS_INO_INPUT, FS_INO_INPUT_SCORES,
		   FS_INO_EXPORT,       /* issue 21 item 5: exports/TAG.* */
		   FS_INO_BAD };

/* Control files of a dataset; slot numbers are part of the inode numbers
 * users see, so never renumber. */
enum fs_slot { FS_SLOT_DIR = 0, FS_SLOT_SELECTION = 1, FS_SLOT_INFO = 2,
	       FS_SLOT_LOG = 3, FS_SLOT_SAMPLE = 4, FS_SLOT_SCORES = 5,
	       FS_SLOT_PLOT = 6, FS_SLOT_EMBDIR = 7,
	       /* issue 21 (i21a): the selection inputs' folders */
	       FS_SLOT_PREDDIR = 8, FS_SLOT_METADIR = 9,
	       FS_SLOT_BUILTINMETA = 10,   /* metadata/builtin.csv */
	       /* issue 21, the layout (i21d): far from 8.. that the other
		* parts of issue 21 take */
	       FS_SLOT_PLOT_UMAP = 32,
	       FS_SLOT_DUPS = 11,             /* issue 21, i21c: duplicates */
	       FS_SLOT_EXPORTDIR = 40,        /* issue 21 item 5: exports/ */
	       FS_SLOT_MAX = 255 };

struct fs_ino {
	enum fs_ino_kind kind;
	int64_t id;      /* dataset id (DATASET, CTL), node id (NODE),
			    embedding id (EMB), upload number (EMB_UPLOAD),
			    input id (INPUT, INPUT_SCORES),
			    scratch file number (SCRATCH), tag id (EXPORT) */
	int slot;        /* CTL; EXPORT: the format */
};

uint64_t fs_ino_node(int64_t node);
uint64_t fs_ino_dataset(int64_t dataset);
uint64_t fs_ino_ctl(int64_t dataset, int slot);
uint64_t fs_ino_emb(int64_t embedding);
uint64_t fs_ino_emb_upload(int64_t n);
uint64_t fs_ino_scratch(int64_t n);
/* predictions/ or metadata/NAME.csv of input id; scores: NAME.scores.csv */
uint64_t fs_ino_input(int64_t input, int scores);
/* exports/TAG.EXT of tag id, format fmt (0..3) */
uint64_t fs_ino_export(int64_t tag, int fmt);
/* Splits an inode number; FS_INO_BAD for numbers fs/ never hands out. */
struct fs_ino fs_ino_decode(uint64_t ino);

#endif
