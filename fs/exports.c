/*
 * exports.c — a dataset's read-only `exports/` folder (issue 21 item 5):
 * TAG.txt, TAG.label-studio.json and TAG.csv for every tag, at dataset
 * level (never inside a tag folder, which loaders read). The texts are the
 * backend's (export_read: core/exports.c in embedded mode, the server's
 * GET /v1/tags/{id}/export remotely); on an embedded mount Label Studio
 * images are absolute paths through this mount's tag folder
 * (MOUNTPOINT/DATASET/TAG/PATH).
 *
 * Sizes are exact, as ctl.c's "Sizes" does for control files: a stat
 * makes the text and keeps its length, a 64-bit hash and when that content
 * was first seen (mtime = ctime, stable while the text is, so rsync's quick
 * check and tar's "file changed as we read it" hold); stats within four
 * times the last making's cost (at most 30 s) reuse the length, and a
 * frozen tag's TAG.txt, whose paths are frozen with the tag, is made by
 * its first stat or open only (no re-making at every `ls -l`), as is its
 * TAG.label-studio.json where the backend's images are PREFIX/PATH
 * (export_paths: embedded mode), while the tag's folder path is the same
 * (a dataset or tag renamed makes it again); a live tag's (initial-tag's)
 * texts of those kinds are made again only when the live tree's change
 * counter moved (export_tree_gen: embedded mode; read before the making,
 * so a change during it makes the next stat make the text again); an open
 * always makes the text afresh and updates the record, and reads serve
 * that snapshot (direct_io). Lookups and listings never make a text: they
 * show the kept length or 0 with attribute and entry timeouts 0, so the
 * kernel asks again at every stat and name: tags made or removed (by any
 * door) appear and go at once, with no invalidation needed. Negative
 * entries in exports/ are not cached either (ops.c).
 *
 * Every change in exports/ (create, write, truncate, unlink, mkdir, rmdir,
 * rename to or from it) is refused with EACCES, and the reason goes to the
 * dataset's log; nothing changes.
 *
 * Threads: the records are protected by rec_lock, never held while a text
 * is made. One mount per process, so they are this file's.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/exports.h"
#include "core/log.h"
#include "fs/exports.h"

struct xrec {
	int64_t tag;
	int fmt;
	int64_t created_ns;          /* the tag's (an id made again is another
					tag) */
	int fixed;                   /* the text never changes while the tag's
					folder path (pkey) does not: a frozen
					tag's TXT, and its Label Studio text
					where images are PREFIX/PATH */
	uint64_t pkey;               /* FNV-1a of MOUNT/DATASET/TAG */
	int has_tgen;                /* tgen was read: the live tree's change
					counter before the making (tree_gen) */
	uint64_t tgen;
	struct fs_textrec t;         /* its hash: text_hash below */
	struct xrec *next;
};

static pthread_mutex_t rec_lock = PTHREAD_MUTEX_INITIALIZER;
static struct xrec *recs;            /* protected by rec_lock */

/* FNV-1a of the text; of a Label Studio text (fmt 1) without the query
 * strings of its URLs (from a '?' after "://" to the string's closing
 * '"'): a server's read URLs carry an expiry and a signature made afresh
 * at every read, of fixed length, and a text whose files and URL paths did
 * not change keeps its mtime (tar's "file changed as we read it", rsync's
 * quick check). Only a URL's '?' starts one: an embedded mount's images are
 * paths, and a file name's '?' is content (renaming "a?1.jpg" to "a?2.jpg"
 * gives the text a new mtime, so rsync copies it again). */
static uint64_t text_hash(const char *p, size_t len, int fmt)
{
	uint64_t h = 1469598103934665603ULL;
	int query = 0, url = 0;

	for (size_t i = 0; i < len; i++) {
		if (p[i] == '"')
			query = url = 0;
		else if (fmt == CORE_EXPORT_LS && !url && p[i] == ':' &&
			 i + 2 < len && p[i + 1] == '/' && p[i + 2] == '/')
			url = 1;
		else if (url && p[i] == '?')
			query = 1;
		if (!query)
			h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	}
	return h;
}

/* Caller holds rec_lock. */
static struct xrec *rec_find(int64_t tag, int fmt)
{
	for (struct xrec *r = recs; r; r = r->next)
		if (r->tag == tag && r->fmt == fmt)
			return r;
	return NULL;
}

/* The absolute path of tag t's folder through this mount into buf, and
 * its FNV-1a into *key. */
static int tag_prefix(struct fs *fs, const be_dataset *d, const be_tag *t,
		      char *buf, size_t len, uint64_t *key)
{
	int n = snprintf(buf, len, "%s/%s/%s",
			 fs->mountpoint ? fs->mountpoint : "", d->name,
			 t->name);

	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	*key = text_hash(buf, (size_t)n, CORE_EXPORT_TXT);
	return 0;
}

/* Whether export fmt of t is fixed once made (struct xrec). */
static int text_fixed(struct fs *fs, const be_tag *t, int fmt)
{
	return !t->live && (fmt == CORE_EXPORT_TXT ||
			    (fmt == CORE_EXPORT_LS && fs->be->ops->export_paths));
}

/* 1 and the live tree's change counter into *g when export fmt of live
 * tag t is a function of the tree's paths and the prefix alone (fmt as in
 * text_fixed) and the backend tells the counter; else 0. */
static int tree_gen(struct fs *fs, const be_tag *t, int fmt, uint64_t *g)
{
	*g = 0;
	return t->live && fs->be->ops->export_tree_gen &&
	       (fmt == CORE_EXPORT_TXT ||
		(fmt == CORE_EXPORT_LS && fs->be->ops->export_paths)) &&
	       !fs->be->ops->export_tree_gen(fs->be, t->dataset, g);
}

static void rec_note(struct fs *fs, const be_tag *t, int fmt, uint64_t pkey,
		     int has_tgen, uint64_t tgen, const char *text, size_t len,
		     double started, struct xrec *out)
{
	uint64_t h = text_hash(text, len, fmt);
	struct xrec *r;

	pthread_mutex_lock(&rec_lock);
	r = rec_find(t->id, fmt);
	if (!r && (r = calloc(1, sizeof(*r)))) {
		r->tag = t->id;
		r->fmt = fmt;
		r->t.hash = ~h;
		r->next = recs;
		recs = r;
	}
	if (r) {
		r->fixed = text_fixed(fs, t, fmt);
		r->pkey = pkey;
		r->has_tgen = has_tgen;
		r->tgen = tgen;
		if (r->created_ns != t->created_ns) {
			r->created_ns = t->created_ns;
			r->t.hash = ~h;
		}
		fs_textrec_note(&r->t, h, len, started);
		*out = *r;
	} else {
		memset(out, 0, sizeof(*out));
		fs_textrec_unkept(&out->t, len);
	}
	pthread_mutex_unlock(&rec_lock);
}

static void rec_drop(int64_t tag)
{
	pthread_mutex_lock(&rec_lock);
	for (struct xrec **p = &recs; *p;) {
		if ((*p)->tag == tag) {
			struct xrec *r = *p;
			*p = r->next;
			free(r);
		} else {
			p = &(*p)->next;
		}
	}
	pthread_mutex_unlock(&rec_lock);
}

/* The text of export fmt of tag t (of dataset d). */
static int make_text(struct fs *fs, const be_dataset *d, const be_tag *t,
		     int fmt, char **out, size_t *len, uint64_t *pkey)
{
	char prefix[4096 + 2 * 130];
	int rc = tag_prefix(fs, d, t, prefix, sizeof(prefix), pkey);

	return rc ? rc : fs->be->ops->export_read(fs->be, t->id, fmt, prefix,
						  out, len);
}

/* Tag id and its dataset (checked by the backend: another user's is
 * -ENOENT). */
static int tag_of(struct fs *fs, int64_t tag, be_tag *t, be_dataset *d)
{
	int rc = fs->be->ops->tag_get_id(fs->be, tag, t);

	if (!rc)
		rc = fs->be->ops->dataset_get_id(fs->be, t->dataset, d);
	if (rc == -ENOENT)
		rec_drop(tag);
	return rc;
}

static void fill_attr(struct fs *fs, int64_t tag, int fmt, size_t len,
		      const struct timespec *mtime, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = fs_ino_export(tag, fmt);
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	st->st_size = (off_t)len;
	st->st_blocks = ((off_t)len + 511) / 512;
	st->st_mtim = *mtime;
	st->st_ctim = st->st_atim = *mtime;
}

/* Attributes without making the text (gen 0) or exact (gen 1). */
static int export_attr(struct fs *fs, const be_dataset *d, const be_tag *t,
		       int fmt, int gen, struct stat *st)
{
	struct xrec r;
	struct timespec ct;
	char *text = NULL, prefix[4096 + 2 * 130];
	size_t len = 0;
	uint64_t pkey = 0, tgen = 0;
	double started = fs_mono_now();
	int found, has_tgen = 0, rc = tag_prefix(fs, d, t, prefix,
						 sizeof(prefix), &pkey);

	if (rc)
		return rc;
	if (gen)
		has_tgen = tree_gen(fs, t, fmt, &tgen);
	pthread_mutex_lock(&rec_lock);
	struct xrec *p = rec_find(t->id, fmt);
	found = p != NULL;
	if (found)
		r = *p;
	pthread_mutex_unlock(&rec_lock);
	if (found && r.created_ns != t->created_ns)
		found = 0;                   /* a former tag of this id */
	if (found && (!gen || (r.fixed && r.pkey == pkey) ||
		      (has_tgen && r.has_tgen && r.tgen == tgen &&
		       r.pkey == pkey) ||
		      fs_textrec_recent(&r.t, started))) {
		fill_attr(fs, t->id, fmt, r.t.len, &r.t.mtime, st);
		return 0;
	}
	if (!gen) {
		ct.tv_sec = (time_t)(t->created_ns / 1000000000);
		ct.tv_nsec = (long)(t->created_ns % 1000000000);
		fill_attr(fs, t->id, fmt, 0, &ct, st);
		return 0;
	}
	rc = make_text(fs, d, t, fmt, &text, &len, &pkey);
	if (rc)
		return rc;
	rec_note(fs, t, fmt, pkey, has_tgen, tgen, text, len, started, &r);
	free(text);
	fill_attr(fs, t->id, fmt, r.t.len, &r.t.mtime, st);
	return 0;
}

static void entry_of(const struct stat *st, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->attr = *st;
	e->ino = st->st_ino;
	e->attr_timeout = 0;
	e->entry_timeout = 0;
}

int fs_exports_lookup(struct fs *fs, int64_t ds, const char *name,
		      struct fuse_entry_param *e)
{
	char tag[STORE_NAME_MAX + 1];
	struct stat st;
	be_dataset d;
	be_tag t;
	int fmt, rc = core_export_split(name, tag, sizeof(tag), &fmt);

	if (rc)
		return -ENOENT;
	rc = fs->be->ops->dataset_get_id(fs->be, ds, &d);
	if (!rc)
		rc = fs->be->ops->tag_get(fs->be, ds, tag, &t);
	if (!rc)
		rc = export_attr(fs, &d, &t, fmt, 0, &st);
	if (!rc)
		entry_of(&st, e);
	return rc;
}

int fs_exports_list(struct fs *fs, int64_t ds, fs_emb_list_fn fn, void *arg)
{
	be_dataset d;
	be_tag *tags = NULL;
	size_t n = 0;
	int rc = fs->be->ops->dataset_get_id(fs->be, ds, &d);

	if (!rc)
		rc = fs->be->ops->tag_list(fs->be, ds, &tags, &n);
	for (size_t i = 0; !rc && i < n; i++)
		for (int f = 0; !rc && f < CORE_EXPORT_NFMT; f++) {
			char name[STORE_NAME_MAX + 32];
			struct fuse_entry_param e;
			struct stat st;
			snprintf(name, sizeof(name), "%s%s", tags[i].name,
				 core_export_suffix(f));
			rc = export_attr(fs, &d, &tags[i], f, 0, &st);
			if (!rc) {
				entry_of(&st, &e);
				rc = fn(arg, name, &e);
			}
		}
	free(tags);
	return rc;
}

int fs_exports_getattr(struct fs *fs, struct fs_ino i, struct stat *st)
{
	be_dataset d;
	be_tag t;
	int rc = tag_of(fs, i.id, &t, &d);

	return rc ? rc : export_attr(fs, &d, &t, i.slot, 1, st);
}

/* The reason for a refused change, into the dataset's log. */
static void refuse_log(struct fs *fs, int64_t ds, const char *op,
		       const char *name)
{
	char msg[BE_MSG];

	snprintf(msg, sizeof(msg), "exports/%.200s: %s refused: exports/ is"
		 " read-only (made from the tags; change a tag, its"
		 " predictions/ or metadata/ instead)", name ? name : "", op);
	fs->be->ops->log_event(fs->be, ds, STORE_ERROR, msg);
}

int fs_exports_open(struct fs *fs, struct fs_ino i, int flags,
		    struct fs_fh **out)
{
	struct fs_fh *fh;
	struct xrec r;
	be_dataset d;
	be_tag t;
	uint64_t pkey = 0, tgen;
	double started = fs_mono_now();
	int has_tgen, rc = tag_of(fs, i.id, &t, &d);

	*out = NULL;
	if (rc)
		return rc;
	if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) {
		char name[STORE_NAME_MAX + 32];
		snprintf(name, sizeof(name), "%s%s", t.name,
			 core_export_suffix(i.slot));
		refuse_log(fs, d.id, "writing", name);
		return -EACCES;
	}
	fh = calloc(1, sizeof(*fh));
	if (!fh)
		return -ENOMEM;
	fh->kind = FH_CTL;
	fh->fd = -1;
	fh->refs = 1;
	fh->ds = d.id;
	fh->slot = FS_SLOT_EXPORTDIR;
	has_tgen = tree_gen(fs, &t, i.slot, &tgen);
	rc = make_text(fs, &d, &t, i.slot, &fh->text, &fh->len, &pkey);
	if (rc) {
		free(fh);
		return rc;
	}
	rec_note(fs, &t, i.slot, pkey, has_tgen, tgen, fh->text, fh->len,
		 started, &r);
	*out = fh;
	return 0;
}

int fs_exports_refuse(struct fs *fs, struct fs_ino p, const char *op,
		      const char *name)
{
	be_dataset d;
	be_tag t;
	char file[STORE_NAME_MAX + 32];

	if (p.kind == FS_INO_CTL && p.slot == FS_SLOT_EXPORTDIR) {
		refuse_log(fs, p.id, op, name);
		return -EACCES;
	}
	if (p.kind != FS_INO_EXPORT)
		return 0;
	if (tag_of(fs, p.id, &t, &d))
		return -EACCES;
	snprintf(file, sizeof(file), "%s%s", t.name,
		 core_export_suffix(p.slot));
	refuse_log(fs, d.id, op, file);
	return -EACCES;
}
