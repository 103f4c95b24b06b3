/*
 * ctl.c — the control files of a dataset: `selection` (rw), `info` and `log`
 * (r).
 *
 * Reading: the whole text is generated once when the file is opened, so one
 * `cat` sees one consistent snapshot however many read calls it makes.
 * Writing: the text is collected (capped at CTL_WRITE_MAX) and applied when
 * the file is closed (flush), so a list written in many write() calls is one
 * change; a bad list makes close() fail with the backend's errno (EINVAL) and
 * changes nothing. Handles are served with direct_io: sizes show as 0.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "fs/fs.h"

#define CTL_WRITE_MAX (256u << 20)

static const struct fs_ctl ctls[] = {
	{ "selection", FS_SLOT_SELECTION, S_IFREG | 0644 },
	{ "sample", FS_SLOT_SAMPLE, S_IFREG | 0644 },
	{ "scores.csv", FS_SLOT_SCORES, S_IFREG | 0444 },
	{ "plot.svg", FS_SLOT_PLOT, S_IFREG | 0444 },
	{ "embeddings", FS_SLOT_EMBDIR, S_IFDIR | 0755 },
	{ "info", FS_SLOT_INFO, S_IFREG | 0444 },
	{ "log", FS_SLOT_LOG, S_IFREG | 0444 },
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

const struct fs_ctl *fs_ctl_by_slot(int slot)
{
	for (size_t i = 0; i < sizeof(ctls) / sizeof(ctls[0]); i++)
		if (ctls[i].slot == slot)
			return &ctls[i];
	return NULL;
}

int fs_ctl_open(struct fs *fs, int64_t ds, int slot, int flags,
		struct fs_fh **out)
{
	const struct fs_ctl *c = fs_ctl_by_slot(slot);
	struct backend *be = fs->be;
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
		fh->writing = 1;
		fh->dirty = (flags & O_TRUNC) != 0;
		*out = fh;
		return 0;
	}
	switch (slot) {
	case FS_SLOT_SELECTION:
		rc = be->ops->selection_read(be, ds, &fh->text, &fh->len);
		break;
	case FS_SLOT_INFO:
		rc = be->ops->info_read(be, ds, &fh->text, &fh->len);
		break;
	case FS_SLOT_LOG:
		rc = be->ops->log_read(be, ds, &fh->text, &fh->len);
		break;
	case FS_SLOT_SAMPLE:
		rc = be->ops->sample_read(be, ds, &fh->text, &fh->len);
		break;
	case FS_SLOT_SCORES:
		rc = be->ops->scores_read(be, ds, &fh->text, &fh->len);
		break;
	case FS_SLOT_PLOT:
		rc = be->ops->plot_read(be, ds, &fh->text, &fh->len);
		break;
	default:
		rc = -ENOENT;
	}
	if (rc) {
		free(fh);
		return rc;
	}
	*out = fh;
	return 0;
}

ssize_t fs_ctl_write(struct fs_fh *fh, const char *buf, size_t size,
		     off_t off)
{
	size_t end;

	if (!fh->writing)
		return -EBADF;
	/* The text is one stream: writes must follow each other (the kernel
	 * sends offset 0 first even for O_APPEND, since the size shows 0). */
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

/* `sample` takes one request per line and answers each at once, so that
 * `echo "coreset n=50" > sample` fails in write() when the request is bad.
 * A blank line is an (empty, refused) request too: `echo > sample` must
 * not succeed doing nothing. */
static int sample_lines(struct fs *fs, struct fs_fh *fh, int final)
{
	char msg[BE_MSG];
	size_t start = 0;
	int rc = 0;

	for (size_t i = 0; i < fh->len && !rc; i++) {
		if (fh->text[i] != '\n')
			continue;
		fh->text[i] = '\0';
		rc = fs->be->ops->sample_request(fs->be, fh->ds,
						 fh->text + start, msg);
		start = i + 1;
	}
	if (!rc && final && start < fh->len) {
		char *line = strndup(fh->text + start, fh->len - start);
		if (!line)
			return -ENOMEM;
		rc = fs->be->ops->sample_request(fs->be, fh->ds, line, msg);
		free(line);
		start = fh->len;
	}
	/* Keep an unfinished line for the next write (or close). */
	memmove(fh->text, fh->text + start, fh->len - start);
	fh->len -= start;
	fh->base += start;
	return rc;
}

ssize_t fs_ctl_write_sample(struct fs *fs, struct fs_fh *fh, const char *buf,
			    size_t size, off_t off)
{
	ssize_t n;
	int rc;

	n = fs_ctl_write(fh, buf, size, off - (off_t)fh->base);
	if (n < 0)
		return n;
	rc = sample_lines(fs, fh, 0);
	return rc ? rc : n;
}

int fs_ctl_flush(struct fs *fs, struct fs_fh *fh)
{
	char msg[BE_MSG] = "";
	int rc = 0;

	if (!fh->writing || !fh->dirty)
		return 0;
	fh->dirty = 0;
	if (fh->slot == FS_SLOT_SELECTION)
		rc = fs->be->ops->selection_write(fs->be, fh->ds,
						  fh->text ? fh->text : "",
						  fh->len, msg);
	else if (fh->slot == FS_SLOT_SAMPLE)
		rc = sample_lines(fs, fh, 1);
	else
		rc = -EACCES;
	/* The next close of a dup'd descriptor must not apply it again;
	 * a later write starts a new text. */
	fh->len = 0;
	return rc;
}

void fs_ctl_release(struct fs *fs, struct fs_fh *fh)
{
	if (fh->writing && fh->dirty) {
		int rc = fs_ctl_flush(fs, fh);
		if (rc)
			log_warn("control file write failed at release: %s",
				 strerror(-rc));
	}
	fs_ctl_put(fh);
}

void fs_ctl_get(struct fs_fh *fh)
{
	__atomic_add_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL);
}

void fs_ctl_put(struct fs_fh *fh)
{
	if (__atomic_sub_fetch(&fh->refs, 1, __ATOMIC_ACQ_REL))
		return;
	free(fh->text);
	free(fh);
}
