/*
 * ctl.c — the control files of a dataset: `selection` and `sample` (rw),
 * `info`, `log`, `scores.csv` and `plot.svg` (r).
 *
 * Reading: the whole text is generated once when the file is opened, so one
 * `cat` sees one consistent snapshot however many read calls it makes.
 * Writing `selection`: the text written since the open is collected
 * (capped at CTL_WRITE_MAX); each line is checked as soon as it is complete
 * (the backend resolves it, BE_SEL_CHECK), and a refused line fails that
 * write() with EINVAL — which a shell shows (`write error: Invalid
 * argument`) — and poisons the open file: later writes and closes fail
 * too, and nothing of it is ever applied. An O_APPEND open adds to the
 * selection and keeps its source tag (BE_SEL_APPEND); writes to it always
 * continue the stream, whatever offset the kernel derives from the size.
 *
 * When a write ends: fs/README.md has the rule, the same for every
 * writable file. In short: a close() by the process that opened the file
 * applies the whole text written since the open, if anything was written
 * since the last apply, and returns the verdict; other closes (bash's
 * after dup2, a child's that inherited the descriptor) apply nothing; with
 * nothing written at all, the opener's second close is the end (`: >
 * selection` empties the selection there); the last close (RELEASE)
 * applies what no close did. Opening never changes the selection, which
 * stays as it was until a text is accepted. `sample` needs little of it:
 * each complete line is a request, answered by its write(); a close sends
 * an unfinished last line.

 * Sizes (fs_ctl_stat). stat reports the true size of the text — rsync, tar,
 * shutil.copy and `test -s` trust it — so a stat generates the text (and
 * frees it). What is kept per (dataset, slot) is small: the length, a 64-bit
 * hash of the content and the time that content was first seen, which is the
 * file's mtime and ctime: both stay put while the text does not change
 * (rsync's quick check, tar's "file changed as we read it"), and move when it
 * does. A stat within a window after the last generation reuses the kept
 * length, so that bursts of stats (`ls -l`, tar's lstat then fstat) cost
 * little: the window is four times what that generation took (at most 30 s).
 * A plot.svg or scores.csv of 100k samples takes most of a second, so stats
 * in a loop spend at most a fifth of the time generating; a text made in a
 * millisecond is reused for four. `sample` (cheap, and its progress moves)
 * has no window: every stat generates it. An open always generates afresh (a
 * `cat` right after a change sees it) and updates the kept record, so tar's
 * fstat after reading agrees with what it read. A write through this mount
 * forgets the dataset's records. A change made otherwise (an upload, the end
 * of a run, another mount) can thus show in stat up to a window late, never
 * in read. readdir and lookup (gen = 0) never generate — a plain `ls` of a
 * dataset must not render plot.svg, a `cat` should render it once — and
 * report the kept length, or 0, with attribute timeout 0, so any stat asks
 * again. Handles are still served with direct_io: reads reach the daemon and
 * return the snapshot of the open.
 *
 * Threads: the records are protected by gen_lock (never held while a text is
 * generated). One mount per process, so they are this file's.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/layout.h"
#include "core/log.h"
#include "core/tagalg.h"
#include "fs/fs.h"

#define CTL_WRITE_MAX (256u << 20)

/* What is known of a generated text; see "Sizes" above. */
struct gen_rec {
	int64_t ds;
	int slot;
	struct fs_textrec t;
	struct gen_rec *next;
};

static pthread_mutex_t gen_lock = PTHREAD_MUTEX_INITIALIZER;
static struct gen_rec *gen_recs;     /* protected by gen_lock */

static const struct fs_ctl ctls[] = {
	{ "selection", FS_SLOT_SELECTION, S_IFREG | 0644 },
	{ "sample", FS_SLOT_SAMPLE, S_IFREG | 0644 },
	{ "scores.csv", FS_SLOT_SCORES, S_IFREG | 0444 },
	{ "plot.svg", FS_SLOT_PLOT, S_IFREG | 0444 },
	{ "embeddings", FS_SLOT_EMBDIR, S_IFDIR | 0755 },
	/* issue 21, the layout (i21d) */
	{ "plot-umap.svg", FS_SLOT_PLOT_UMAP, S_IFREG | 0444 },
	/* issue 21 (i21a): the selection inputs */
	{ "predictions", FS_SLOT_PREDDIR, S_IFDIR | 0755 },
	{ "metadata", FS_SLOT_METADIR, S_IFDIR | 0755 },
	{ "info", FS_SLOT_INFO, S_IFREG | 0444 },
	{ "log", FS_SLOT_LOG, S_IFREG | 0444 },
	/* issue 21, i21c: a line per setting, as `sample` takes requests */
	{ "duplicates", FS_SLOT_DUPS, S_IFREG | 0644 },
	/* issue 21 item 5: read-only, a tag's exports (fs/exports.c) */
	{ "exports", FS_SLOT_EXPORTDIR, S_IFDIR | 0555 },
};

const struct fs_ctl *fs_ctl_all(size_t *n)
{
	*n = sizeof(ctls) / sizeof(ctls[0]);
	return ctls;
}

const struct fs_ctl *fs_ctl_by_name(const char *name)
{
	for (size_t i = 0; i < sizeof(ctls) / sizeof(ctls[0]); i++)
		if (!strcmp(ctls[i].name, name))
			return &ctls[i];
	return NULL;
}

/* metadata/builtin.csv (issue 21, i21a): a generated file like the
 * others, shown in metadata/ (fs/ops.c), not in the dataset folder. */
static const struct fs_ctl builtin_meta = {
	"builtin.csv", FS_SLOT_BUILTINMETA, S_IFREG | 0444
};

const struct fs_ctl *fs_ctl_builtin_meta(void)
{
	return &builtin_meta;
}

const struct fs_ctl *fs_ctl_by_slot(int slot)
{
	if (slot == FS_SLOT_BUILTINMETA)
		return &builtin_meta;
	for (size_t i = 0; i < sizeof(ctls) / sizeof(ctls[0]); i++)
		if (ctls[i].slot == slot)
			return &ctls[i];
	return NULL;
}

double fs_mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void fs_textrec_note(struct fs_textrec *r, uint64_t h, size_t len,
		     double started)
{
	if (r->hash != h || r->len != len) {
		r->hash = h;
		r->len = len;
		clock_gettime(CLOCK_REALTIME, &r->mtime);
	}
	r->checked = fs_mono_now();
	r->cost = r->checked - started;
}

void fs_textrec_unkept(struct fs_textrec *out, size_t len)
{
	memset(out, 0, sizeof(*out));
	out->len = len;
	clock_gettime(CLOCK_REALTIME, &out->mtime);
}

int fs_textrec_recent(const struct fs_textrec *r, double now)
{
	return now - r->checked < (r->cost < 7.5 ? 4 * r->cost : 30);
}

static uint64_t text_hash(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ULL;
	return h;
}

/* The record of (ds, slot), or NULL. Caller holds gen_lock. */
static struct gen_rec *rec_find(int64_t ds, int slot)
{
	for (struct gen_rec *r = gen_recs; r; r = r->next)
		if (r->ds == ds && r->slot == slot)
			return r;
	return NULL;
}

/* Records a freshly generated text; *out gets the record's values. A text
 * that differs from the last one seen gets mtime = now. */
static void rec_note(int64_t ds, int slot, const char *text, size_t len,
		     double started, struct fs_textrec *out)
{
	uint64_t h = text_hash(text, len);
	struct gen_rec *r;

	pthread_mutex_lock(&gen_lock);
	r = rec_find(ds, slot);
	if (!r && (r = calloc(1, sizeof(*r)))) {
		r->ds = ds;
		r->slot = slot;
		r->next = gen_recs;
		gen_recs = r;
		r->t.hash = ~h;      /* differs: mtime set below */
	}
	if (r) {
		fs_textrec_note(&r->t, h, len, started);
		*out = r->t;
	} else {
		fs_textrec_unkept(out, len);
	}
	pthread_mutex_unlock(&gen_lock);
}

/* The next stat of any of dataset ds's texts generates afresh. */
static void rec_expire(int64_t ds)
{
	pthread_mutex_lock(&gen_lock);
	for (struct gen_rec *r = gen_recs; r; r = r->next)
		if (r->ds == ds)
			r->t.checked = -1e18;
	pthread_mutex_unlock(&gen_lock);
}

static void rec_drop(int64_t ds, int slot)
{
	pthread_mutex_lock(&gen_lock);
	for (struct gen_rec **p = &gen_recs; *p; p = &(*p)->next)
		if ((*p)->ds == ds && (*p)->slot == slot) {
			struct gen_rec *r = *p;
			*p = r->next;
			free(r);
			break;
		}
	pthread_mutex_unlock(&gen_lock);
}

/* The whole text of a readable control file, malloc'd into *out. */
static int generate(struct fs *fs, int64_t ds, int slot, char **out,
		    size_t *len)
{
	struct backend *be = fs->be;

	switch (slot) {
	case FS_SLOT_SELECTION:
		return be->ops->selection_read(be, ds, out, len);
	case FS_SLOT_INFO:
		return be->ops->info_read(be, ds, out, len);
	case FS_SLOT_LOG:       /* ds 0: the mount's own (fs/ops.c) */
		return ds ? be->ops->log_read(be, ds, out, len) :
			    log_recent(out, len);
	case FS_SLOT_SAMPLE:
		return be->ops->sample_read(be, ds, out, len);
	case FS_SLOT_SCORES:
		return be->ops->scores_read(be, ds, out, len);
	case FS_SLOT_PLOT:
		return be->ops->plot_read(be, ds, CORE_LAYOUT_PCA, out, len);
	case FS_SLOT_PLOT_UMAP:     /* issue 21, the layout (i21d) */
		return be->ops->plot_read(be, ds, CORE_LAYOUT_UMAP, out, len);
	case FS_SLOT_BUILTINMETA:
		return be->ops->imgmeta_read(be, ds, out, len);
	case FS_SLOT_DUPS:
		return be->ops->dups_read(be, ds, out, len);
	default:
		return -ENOENT;
	}
}

int fs_ctl_stat(struct fs *fs, int64_t ds, int slot, int gen, off_t *size,
		struct timespec *mtime)
{
	struct fs_textrec r;
	char *text = NULL;
	size_t len = 0;
	double started;
	int found, rc;

	pthread_mutex_lock(&gen_lock);
	struct gen_rec *p = rec_find(ds, slot);
	found = p != NULL;
	if (found)
		r = p->t;
	pthread_mutex_unlock(&gen_lock);
	started = fs_mono_now();
	if (found && (!gen || (slot != FS_SLOT_SAMPLE &&
			       fs_textrec_recent(&r, started)))) {
		*size = (off_t)r.len;
		*mtime = r.mtime;
		return 0;
	}
	if (!gen)
		return -ENOENT;
	rc = generate(fs, ds, slot, &text, &len);
	if (rc) {
		if (rc == -ENOENT)
			rec_drop(ds, slot);
		return rc;
	}
	rec_note(ds, slot, text, len, started, &r);
	free(text);
	*size = (off_t)r.len;
	*mtime = r.mtime;
	return 0;
}

int fs_ctl_open(struct fs *fs, int64_t ds, int slot, int flags,
		struct fs_fh **out)
{
	const struct fs_ctl *c = fs_ctl_by_slot(slot);
	struct fs_textrec r;
	double started;
	struct fs_fh *fh;
	int acc = flags & O_ACCMODE;
	int rc = 0;

	*out = NULL;
	if (!c)
		return -ENOENT;
	if (acc != O_RDONLY && !(c->mode & 0200))
		return -EACCES;
	fh = calloc(1, sizeof(*fh));
	if (!fh)
		return -ENOMEM;
	fh->kind = FH_CTL;
	fh->fd = -1;
	fh->refs = 1;
	fh->ds = ds;
	fh->slot = slot;
	if (acc != O_RDONLY) {
		/* Nothing changes at open: O_TRUNC empties the selection only
		 * if nothing is written at all ("When a write ends"). */
		fh->writing = 1;
		pthread_mutex_init(&fh->wlock, NULL);
		fh->append = (flags & O_APPEND) != 0;
		fh->trunc = (flags & O_TRUNC) != 0;
		*out = fh;
		return 0;
	}
	started = fs_mono_now();
	rc = generate(fs, ds, slot, &fh->text, &fh->len);
	if (rc) {
		free(fh);
		return rc;
	}
	rec_note(ds, slot, fh->text, fh->len, started, &r);
	*out = fh;
	return 0;
}

/* Appends written bytes to the handle's text. */
static ssize_t text_put(struct fs_fh *fh, const char *buf, size_t size,
			off_t off)
{
	size_t end;

	if (!fh->writing)
		return -EBADF;
	/* The text is one stream: writes must follow each other. With
	 * O_APPEND the kernel sends the size it last saw as the offset. */
	if (fh->append)
		off = (off_t)fh->len;
	if (off < 0 || (size_t)off != fh->len)
		return -EINVAL;
	end = (size_t)off + size;
	if (end > CTL_WRITE_MAX)
		return -EFBIG;
	if (end > fh->cap) {
		size_t ncap = fh->cap ? fh->cap : 65536;
		while (ncap < end)
			ncap *= 2;
		char *np = realloc(fh->text, ncap);
		if (!np)
			return -ENOMEM;
		fh->text = np;
		fh->cap = ncap;
	}
	memcpy(fh->text + off, buf, size);
	fh->len = end;
	fh->dirty = 1;
	return (ssize_t)size;
}

static int sel_flags(const struct fs_fh *fh)
{
	return fh->append ? BE_SEL_APPEND : 0;
}

/* Checks the `selection` lines completed since the last check, as the
 * write would resolve them: the backend is given those lines only, after
 * the text's `# from:` line (when it has one and it was checked before)
 * and as many empty lines (which the format ignores) as precede them, so
 * the line numbers of its reasons are those of the whole text. */
static int check_lines(struct fs *fs, struct fs_fh *fh)
{
	const char *from = "# from:", *chunk = fh->text + fh->checked;
	char *nl = NULL, *buf, msg[BE_MSG];
	size_t clen, flen = 0, pad, lines = 0;
	int rc;

	for (size_t i = fh->len; i > fh->checked; i--)
		if (fh->text[i - 1] == '\n') {
			nl = fh->text + i - 1;
			break;
		}
	if (!nl)
		return 0;
	/* a tag algebra form (core/tagalg.h) is judged whole: its later
	 * lines alone would read as paths */
	{
		struct core_tagalg a;
		size_t upto = (size_t)(nl + 1 - fh->text);
		if (core_tagalg_parse(fh->text, upto, &a, msg,
				      sizeof(msg)) != 0) {
			rc = fs->be->ops->selection_write(fs->be, fh->ds,
							  fh->text, upto,
							  sel_flags(fh) |
							  BE_SEL_CHECK, msg);
			if (!rc) {
				for (const char *p = chunk; p <= nl; p++)
					lines += *p == '\n';
				fh->checked = upto;
				fh->checked_lines += lines;
			}
			return rc;
		}
	}
	clen = (size_t)(nl + 1 - chunk);
	for (const char *p = chunk; p <= nl; p++)
		lines += *p == '\n';
	if (fh->checked && !strncmp(fh->text, from, strlen(from)))
		flen = (size_t)((char *)memchr(fh->text, '\n', fh->len) -
				fh->text) + 1;
	pad = fh->checked_lines - (flen ? 1 : 0);
	buf = malloc(flen + pad + clen);
	if (!buf)
		return -ENOMEM;
	memcpy(buf, fh->text, flen);
	memset(buf + flen, '\n', pad);
	memcpy(buf + flen + pad, chunk, clen);
	rc = fs->be->ops->selection_write(fs->be, fh->ds, buf, flen + pad + clen,
					  sel_flags(fh) | BE_SEL_CHECK, msg);
	free(buf);
	if (!rc) {
		fh->checked += clen;
		fh->checked_lines += lines;
	}
	return rc;
}

/* `sample` takes one request per line and answers each at once, so that
 * `echo "coreset n=50" > sample` fails in write() when the request is bad.
 * A blank line is an (empty, refused) request too: `echo > sample` must
 * not succeed doing nothing. A line holding a NUL byte is refused whole
 * (the backend takes C strings: it would see only what precedes the
 * NUL). After a refused line the open file takes no more requests: its
 * later writes and its close fail too. */
static int line_request(struct fs *fs, struct fs_fh *fh, const char *line,
			char *msg)
{
	if (fh->slot == FS_SLOT_DUPS)       /* issue 21, i21c */
		return fs->be->ops->dups_config(fs->be, fh->ds, line, msg);
	return fs->be->ops->sample_request(fs->be, fh->ds, line, msg);
}

static int sample_lines(struct fs *fs, struct fs_fh *fh, int final)
{
	char msg[BE_MSG] = "";
	size_t start = 0;
	int rc = 0;

	for (size_t i = 0; i < fh->len && !rc; i++) {
		if (fh->text[i] != '\n')
			continue;
		fh->text[i] = '\0';
		if (memchr(fh->text + start, '\0', i - start))
			rc = -EINVAL;
		else
			rc = line_request(fs, fh, fh->text + start, msg);
		start = i + 1;
	}
	if (!rc && final && start < fh->len) {
		if (memchr(fh->text + start, '\0', fh->len - start)) {
			rc = -EINVAL;
		} else {
			char *line = strndup(fh->text + start,
					     fh->len - start);
			if (!line)
				return -ENOMEM;
			rc = line_request(fs, fh, line, msg);
			free(line);
		}
		start = fh->len;
	}
	if (rc == -EINVAL && !*msg)
		fs->be->ops->log_event(fs->be, fh->ds, STORE_ERROR,
				       fh->slot == FS_SLOT_DUPS ?
				       "duplicates: line refused: it holds a"
				       " NUL byte" :
				       "sample: request refused: it holds a"
				       " NUL byte");
	if (rc) {
		fh->failed = 1;
		start = fh->len;
	}
	/* Keep an unfinished line for the next write (or close). */
	memmove(fh->text, fh->text + start, fh->len - start);
	fh->len -= start;
	fh->base += start;
	return rc;
}

static ssize_t ctl_write(struct fs *fs, struct fs_fh *fh, const char *buf,
			 size_t size, off_t off)
{
	int sample = fh->slot == FS_SLOT_SAMPLE || fh->slot == FS_SLOT_DUPS;
	ssize_t n;
	int rc;

	if (fh->failed)
		return -EINVAL;
	/* `sample` keeps only an unfinished line: its stream starts at base */
	n = text_put(fh, buf, size, off - (sample ? (off_t)fh->base : 0));
	if (n < 0)
		return n;
	if (sample) {
		rc = sample_lines(fs, fh, 0);
		rec_expire(fh->ds);
	} else {
		rc = check_lines(fs, fh);
		if (rc == -EINVAL)
			fh->failed = 1;
	}
	return rc ? rc : n;
}

ssize_t fs_ctl_write(struct fs *fs, struct fs_fh *fh, const char *buf,
		     size_t size, off_t off)
{
	ssize_t n;

	if (!fh->writing)
		return -EBADF;
	pthread_mutex_lock(&fh->wlock);
	n = ctl_write(fs, fh, buf, size, off);
	pthread_mutex_unlock(&fh->wlock);
	return n;
}

/* The whole text written since the open, applied (atomically: all or
 * nothing). */
static int apply(struct fs *fs, struct fs_fh *fh)
{
	char msg[BE_MSG] = "";
	int rc;

	fh->dirty = 0;
	fh->applied = 1;
	rc = fs->be->ops->selection_write(fs->be, fh->ds,
					  fh->text ? fh->text : "", fh->len,
					  sel_flags(fh), msg);
	rec_expire(fh->ds);
	return rc;
}

static int ctl_flush(struct fs *fs, struct fs_fh *fh, int by_opener)
{
	int rc;

	if (fh->failed)
		return -EINVAL;
	if (!by_opener)
		return 0;
	/* Nothing written at all: the opener's first close is bash's after
	 * dup2; a second is the end (bash restoring its descriptor after
	 * `: > F`, or the exit of the command it ran), so a truncation with
	 * nothing written applies there, in order with what follows, not
	 * only at the RELEASE the kernel does not wait for. */
	if (!fh->dirty && !fh->len && fh->trunc && !fh->applied &&
	    fh->slot == FS_SLOT_SELECTION && ++fh->idle_closes >= 2)
		return apply(fs, fh);
	if (!fh->dirty)
		return 0;
	if (fh->slot == FS_SLOT_SAMPLE || fh->slot == FS_SLOT_DUPS) {
		fh->dirty = 0;
		rc = sample_lines(fs, fh, 1);
		rec_expire(fh->ds);
		return rc;
	}
	if (fh->slot != FS_SLOT_SELECTION)
		return -EACCES;
	return apply(fs, fh);
}

int fs_ctl_flush(struct fs *fs, struct fs_fh *fh, int by_opener)
{
	int rc;

	if (!fh->writing)
		return 0;
	pthread_mutex_lock(&fh->wlock);
	rc = ctl_flush(fs, fh, by_opener);
	pthread_mutex_unlock(&fh->wlock);
	return rc;
}

void fs_ctl_release(struct fs *fs, struct fs_fh *fh)
{
	int rc = 0;

	/* The last close of the open file. What no FLUSH applied is
	 * applied now; the verdict can only go to the log (which the
	 * backend writes for a refused text). */
	if (fh->writing)
		pthread_mutex_lock(&fh->wlock);
	if (fh->writing && !fh->failed && fh->slot == FS_SLOT_SELECTION &&
	    (fh->dirty || (fh->trunc && !fh->applied)))
		rc = apply(fs, fh);
	else if (fh->writing && !fh->failed && fh->dirty)
		rc = ctl_flush(fs, fh, 1);
	if (fh->writing)
		pthread_mutex_unlock(&fh->wlock);
	if (rc && rc != -EINVAL)
		log_warn("control file write failed at release: %s",
			 strerror(-rc));
	fs_ctl_put(fh);
}

int fs_ctl_apply(struct fs *fs, int64_t ds, int slot, const char *text,
		 size_t len)
{
	struct fs_fh fh = { .kind = FH_CTL, .ds = ds, .slot = slot,
			    .writing = 1 };
	char msg[BE_MSG];
	int rc;

	if (slot == FS_SLOT_SELECTION) {
		rc = fs->be->ops->selection_write(fs->be, ds, text, len, 0, msg);
		rec_expire(ds);
		return rc;
	}
	if (slot != FS_SLOT_SAMPLE && slot != FS_SLOT_DUPS)
		return -EPERM;
	/* Requests, one a line, as written (sample_lines edits the text). */
	fh.text = malloc(len + 1);
	if (!fh.text)
		return -ENOMEM;
	memcpy(fh.text, text, len);
	fh.len = fh.cap = len;
	rc = sample_lines(fs, &fh, 1);
	rec_expire(ds);
	free(fh.text);
	return rc;
}

void fs_ctl_get(struct fs_fh *fh)
{
	__atomic_add_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL);
}

void fs_ctl_put(struct fs_fh *fh)
{
	if (__atomic_sub_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL))
		return;
	if (fh->writing)
		pthread_mutex_destroy(&fh->wlock);
	free(fh->text);
	free(fh);
}
