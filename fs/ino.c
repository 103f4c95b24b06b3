/*
 * ino.c — see ino.h for the numbering.
 */
#include "fs/ino.h"

#define VBIT (UINT64_C(1) << 62)
#define EBIT (UINT64_C(1) << 61)
#define UBIT (UINT64_C(1) << 60)
#define SBIT (UINT64_C(1) << 59)
#define IBIT (UINT64_C(1) << 58)   /* issue 21: predictions/, metadata/ */
#define RBIT (UINT64_C(1) << 57)   /* predictions/NAME.scores.csv */

uint64_t fs_ino_node(int64_t node)
{
	return (uint64_t)node + 1;
}

uint64_t fs_ino_dataset(int64_t dataset)
{
	return fs_ino_ctl(dataset, FS_SLOT_DIR);
}

uint64_t fs_ino_ctl(int64_t dataset, int slot)
{
	return VBIT | ((uint64_t)dataset << 8) | (uint64_t)slot;
}

uint64_t fs_ino_emb(int64_t embedding)
{
	return EBIT | (uint64_t)embedding;
}

uint64_t fs_ino_emb_upload(int64_t n)
{
	return EBIT | UBIT | (uint64_t)n;
}

uint64_t fs_ino_input(int64_t input, int scores)
{
	return EBIT | IBIT | (scores ? RBIT : 0) | (uint64_t)input;
}

uint64_t fs_ino_export(int64_t tag, int fmt)
{
	return EBIT | IBIT | UBIT | ((uint64_t)tag << 2) | ((uint64_t)fmt & 3);
}

uint64_t fs_ino_scratch(int64_t n)
{
	return EBIT | SBIT | (uint64_t)n;
}

struct fs_ino fs_ino_decode(uint64_t ino)
{
	struct fs_ino r = { FS_INO_BAD, 0, 0 };

	if (ino == 1) {
		r.kind = FS_INO_ROOT;
	} else if (ino & VBIT) {
		if (ino >> 63)
			return r;
		r.id = (int64_t)((ino & ~VBIT) >> 8);
		r.slot = (int)(ino & 0xff);
		if (r.id == 0 && r.slot == FS_SLOT_LOG)
			r.kind = FS_INO_CTL;    /* the root's `log` */
		if (r.id <= 0)
			return r;
		r.kind = r.slot == FS_SLOT_DIR ? FS_INO_DATASET : FS_INO_CTL;
	} else if ((ino & EBIT) && (ino & IBIT) && (ino & UBIT)) {
		r.kind = FS_INO_EXPORT;
		r.id = (int64_t)((ino & ~(EBIT | IBIT | UBIT)) >> 2);
		r.slot = (int)(ino & 3);
		if ((ino & (SBIT | RBIT)) || r.id <= 0 || r.slot == 3)
			r.kind = FS_INO_BAD;
	} else if ((ino & EBIT) && (ino & IBIT)) {
		r.kind = (ino & RBIT) ? FS_INO_INPUT_SCORES : FS_INO_INPUT;
		r.id = (int64_t)(ino & ~(EBIT | IBIT | RBIT));
		if ((ino & (UBIT | SBIT)) || r.id <= 0)
			r.kind = FS_INO_BAD;
	} else if (ino & EBIT) {
		r.kind = (ino & UBIT) ? FS_INO_EMB_UPLOAD
			 : (ino & SBIT) ? FS_INO_SCRATCH : FS_INO_EMB;
		r.id = (int64_t)(ino & ~(EBIT | UBIT | SBIT));
		if ((ino & UBIT) && (ino & SBIT))
			r.kind = FS_INO_BAD;
		if (r.id <= 0)
			r.kind = FS_INO_BAD;
	} else if (ino > 1) {
		r.kind = FS_INO_NODE;
		r.id = (int64_t)ino - 1;
	}
	return r;
}
