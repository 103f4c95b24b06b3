/*
 * files.c — the FUSE handlers of open files and their attributes: setattr
 * (truncate, chmod, utimens), open, read, write, flush, fsync, release.
 *
 * A handle (struct fs_fh, fs.h) is one of: a committed blob of a frozen
 * file (FH_BLOB: read spliced from the blob, opened lazily at the first
 * READ), an upload of a live file (FH_UPLOAD: core/upload.h; a writer's
 * flush commits it, so close() returns once the sample is in the catalog),
 * a control file (FH_CTL, ctl.c) or an embeddings CSV (FH_EMB_UPLOAD,
 * emb.c). Every handle on a file node also holds a reference in the
 * open-files table (openfiles.c), which keeps an unlinked file answerable
 * until its last close. Errors: -errno from helpers, one reply per request.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "fs/emb.h"
#include "fs/exports.h"
#include "fs/fs.h"
#include "fs/scratch.h"

/* Changes the size of file node n: through the writer's upload when the
 * call came with one (ftruncate), else as a whole upload committed now
 * (truncate by path: no open handle will close it). */
static int truncate_node(struct fs *fs, const be_node *n, off_t size,
			 struct fs_fh *fh, int gone)
{
	struct upload *u = NULL;
	int rc;

	if (n->kind == STORE_DIR)
		return -EISDIR;
	if (fh && fh->kind == FH_UPLOAD)
		return upload_truncate(fh->u, size);
	if (gone) {
		/* Removed, and this is no writer's handle: only an upload
		 * still has the bytes. */
		u = upload_find(fs->up, n->ino);
		rc = u ? upload_truncate(u, size) : -EBADF;
		upload_release(fs->up, u);
		return rc;
	}
	rc = upload_get(fs->up, n, size == 0, &u);
	if (!rc)
		rc = upload_truncate(u, size);
	if (!rc)
		rc = upload_commit(u, 0);
	upload_release(fs->up, u);
	return rc;
}

/* setattr of a node of a tree. Times follow utimensat(2): atime and mtime
 * each set to a given time, to now, or left; a size change (truncate and
 * ftruncate alike) sets mtime (and ctime) to now unless a time is given,
 * as ext4 does. Reads never move atime (see README, "POSIX"). A node
 * removed while open (gone) changes only its copy in the open-files table
 * (fchmod, futimens on the descriptor); nothing can bring it back. */
static int setattr_node(struct fs *fs, int64_t id, struct stat *attr,
			int to_set, struct fuse_file_info *fi)
{
	struct backend *be = fs->be;
	struct fs_fh *fh = fi ? fs_fh_of(fi) : NULL;
	struct upload *u;
	be_node n;
	int what = 0, gone, rc;
	int64_t now = fs_now_ns(), mtime = 0, atime = 0;

	rc = fs_node_get_open(fs, id, &n, &gone);
	if (rc)
		return rc;
	if (!n.tree_live)
		return -EROFS;
	if (to_set & FUSE_SET_ATTR_SIZE) {
		rc = truncate_node(fs, &n, attr->st_size, fh, gone);
		if (rc)
			return rc;
		what |= STORE_SET_MTIME;
		mtime = now;
	}
	if (to_set & FUSE_SET_ATTR_MODE)
		what |= STORE_SET_MODE;
	if (to_set & FUSE_SET_ATTR_UID)
		what |= STORE_SET_UID;
	if (to_set & FUSE_SET_ATTR_GID)
		what |= STORE_SET_GID;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW) {
		mtime = now;
		what |= STORE_SET_MTIME;
	} else if (to_set & FUSE_SET_ATTR_MTIME) {
		mtime = fs_ts_ns(&attr->st_mtim);
		what |= STORE_SET_MTIME;
	}
	if (to_set & FUSE_SET_ATTR_ATIME_NOW) {
		atime = now;
		what |= STORE_SET_ATIME;
	} else if (to_set & FUSE_SET_ATTR_ATIME) {
		atime = fs_ts_ns(&attr->st_atim);
		what |= STORE_SET_ATIME;
	}
	if (!what)
		return 0;
	if (gone) {
		if (what & STORE_SET_MODE)
			n.mode = attr->st_mode & 07777;
		if (what & STORE_SET_UID)
			n.uid = attr->st_uid;
		if (what & STORE_SET_GID)
			n.gid = attr->st_gid;
		if (what & STORE_SET_MTIME)
			n.mtime_ns = mtime;
		if (what & STORE_SET_ATIME)
			n.atime_ns = atime;
		n.ctime_ns = now;
		fs_open_update(fs, &n);
	} else {
		/* The backend takes permission bits only: st_mode also
		 * holds the file type (the server refuses it, EINVAL). */
		rc = be->ops->node_setattr(be, id, what, attr->st_mode & 07777,
					   attr->st_uid, attr->st_gid, mtime,
					   atime);
		if (rc)
			return rc;
	}
	if ((what & STORE_SET_MTIME) && n.kind == STORE_FILE) {
		/* An open upload commits later: keep the time. */
		u = upload_find(fs->up, id);
		if (u) {
			upload_set_mtime(u, mtime);
			upload_release(fs->up, u);
		}
	}
	return 0;
}

void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_ino i = fs_ino_decode(ino);
	struct stat st;
	double ttl;
	int rc = 0;

	switch (i.kind) {
	case FS_INO_NODE:
		rc = setattr_node(fs, i.id, attr, to_set, fi);
		break;
	case FS_INO_SCRATCH:
		rc = fs_scratch_setattr(i.id, attr, to_set);
		break;
	case FS_INO_EXPORT:                    /* issue 21 item 5 */
		if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			      FUSE_SET_ATTR_GID | FUSE_SET_ATTR_SIZE))
			rc = fs_exports_refuse(fs, i, "setattr", NULL);
		break;
	case FS_INO_EMB:
	case FS_INO_EMB_UPLOAD:
	case FS_INO_INPUT:
	case FS_INO_CTL:
		/* Truncation is how shells open for writing; the text is
		 * replaced on close anyway. */
		if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			      FUSE_SET_ATTR_GID))
			rc = -EPERM;
		break;
	default:
		/* Datasets and the root have fixed owners and modes; times
		 * (rsync, touch) are accepted and not kept. */
		if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID |
			      FUSE_SET_ATTR_GID | FUSE_SET_ATTR_SIZE))
			rc = -EPERM;
	}
	if (!rc)
		rc = fs_getattr(fs, ino, &st, &ttl);
	if (rc)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_attr(req, &st, ttl);
}

/* Answers the open of a generated file (control file, embeddings export):
 * served with direct_io, its size being the text's, never the kernel's
 * cache. rc: the open's result; on 0, fh is the new handle. */
static void reply_open_direct(fuse_req_t req, struct fuse_file_info *fi,
			      struct fs_fh *fh, int rc)
{
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fh->opener = fuse_req_ctx(req)->pid;
	fi->fh = (uintptr_t)fh;
	fi->direct_io = 1;
	fuse_reply_open(req, fi);
}

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_ino i = fs_ino_decode(ino);
	int acc = fi->flags & O_ACCMODE;
	int wr = acc != O_RDONLY || (fi->flags & O_TRUNC);
	struct fs_fh *fh = NULL;
	be_node n;
	int rc;

	if (i.kind == FS_INO_EMB) {
		struct store_embedding se;
		char file[140];
		rc = fs->be->ops->emb_get_id(fs->be, i.id, &se);
		if (!rc && wr) {
			snprintf(file, sizeof(file), "%s.csv", se.name);
			rc = fs_emb_upload_new(fs, 0, se.dataset, file, &fh,
					       NULL);
		} else if (!rc) {
			rc = fs_emb_open_read(fs, i, &fh);
		}
		reply_open_direct(req, fi, fh, rc);
		return;
	}
	/* issue 21 (i21a): predictions/ and metadata/ files */
	if (i.kind == FS_INO_INPUT || i.kind == FS_INO_INPUT_SCORES) {
		struct store_input in;
		char file[140];
		rc = fs->be->ops->input_get_id(fs->be, i.id, &in);
		if (!rc && wr && i.kind == FS_INO_INPUT_SCORES) {
			rc = -EACCES;
		} else if (!rc && wr) {
			snprintf(file, sizeof(file), "%s.csv", in.name);
			rc = fs_emb_upload_new(fs, in.kind, in.dataset, file,
					       &fh, NULL);
		} else if (!rc) {
			rc = fs_emb_open_read(fs, i, &fh);
		}
		reply_open_direct(req, fi, fh, rc);
		return;
	}
	if (i.kind == FS_INO_EXPORT) {         /* issue 21 item 5 */
		rc = fs_exports_open(fs, i, fi->flags, &fh);
		reply_open_direct(req, fi, fh, rc);
		return;
	}
	if (i.kind == FS_INO_CTL && (fs_csv_slot_kind(i.slot) >= 0 ||
				     i.slot == FS_SLOT_EXPORTDIR)) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if (i.kind == FS_INO_SCRATCH) {
		rc = fs_scratch_open(i.id, fi->flags, &fh);
		if (rc) {
			fuse_reply_err(req, -rc);
			return;
		}
		fi->fh = (uintptr_t)fh;
		if (fuse_reply_open(req, fi) == -ENOENT)
			fs_scratch_release(fh);
		return;
	}
	if (i.kind == FS_INO_CTL) {
		rc = fs_ctl_open(fs, i.id, i.slot, fi->flags, &fh);
		reply_open_direct(req, fi, fh, rc);
		return;
	}
	if (i.kind != FS_INO_NODE) {
		fuse_reply_err(req, i.kind == FS_INO_BAD ? ENOENT : EISDIR);
		return;
	}
	/* A frozen file's record comes from memory (nodecache.h). */
	rc = nodecache_get(fs->nc, i.id, &n);
	if (rc && (rc = fs->be->ops->node_get(fs->be, i.id, &n)) == 0)
		nodecache_put(fs->nc, &n);
	if (!rc && n.kind == STORE_DIR)
		rc = -EISDIR;
	if (!rc && wr && !n.tree_live)
		rc = -EROFS;
	if (!rc && !(fh = calloc(1, sizeof(*fh))))
		rc = -ENOMEM;
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	fh->fd = -1;
	fh->ino = n.ino;
	if (wr) {
		fh->kind = FH_UPLOAD;
		fh->wr = 1;
		rc = upload_get(fs->up, &n, (fi->flags & O_TRUNC) != 0, &fh->u);
		/* O_TRUNC truncates: mtime moves now (also for an empty file,
		 * as on ext4) */
		if (!rc && (fi->flags & O_TRUNC))
			upload_set_mtime(fh->u, fs_now_ns());
	} else if (n.tree_live && (fh->u = upload_find(fs->up, n.ino))) {
		fh->kind = FH_UPLOAD;     /* read what the writer wrote */
		fi->noflush = 1;
	} else if (n.tree_live && n.has_sha) {
		/* A reader of a live file shares the file's upload with any
		 * writer that comes later, so it reads what they write (and
		 * commit), as on any filesystem. Until one comes the bytes are
		 * the committed blob's: the kernel may keep its pages (a
		 * writer's open drops them; its writes go through them). */
		fh->kind = FH_UPLOAD;
		rc = upload_get(fs->up, &n, 0, &fh->u);
		fi->keep_cache = 1;
		fi->noflush = 1;
	} else {
		fh->kind = FH_BLOB;
		/* Embedded mode: the blob is opened at the first READ, shared
		 * by the node's handles (fs_open_blob_fd): a re-read whose pages
		 * the kernel has opens no file at all. Remote mode opens it
		 * now (it may be fetched: errors belong to open). */
		if (n.has_sha && fs->nc)
			fh->fd = FS_BLOB_LAZY;
		else if (n.has_sha) {
			fh->fd = fs->be->ops->node_open(fs->be, &n);
			rc = fh->fd < 0 ? fh->fd : 0;
		}
		/* Bytes of a committed blob never change: keep the kernel's
		 * page cache across opens (epoch 2+ of training), and a reader's
		 * close() has nothing to commit: spare it the FLUSH round trip. */
		fi->keep_cache = 1;
		fi->noflush = 1;
	}
	if (!rc)
		rc = fs_open_ref_get(fs, &n, &fh->o);
	if (rc) {
		if (fh->u)
			upload_release(fs->up, fh->u);
		if (fh->fd >= 0)
			close(fh->fd);
		free(fh);
		fuse_reply_err(req, -rc);
		return;
	}
	fi->fh = (uintptr_t)fh;
	if (fuse_reply_open(req, fi) == -ENOENT) {
		fs_open_unref(fs, fh->ino);
		if (fh->u)
			upload_release(fs->up, fh->u);
		if (fh->fd >= 0)
			close(fh->fd);
		free(fh);
	}
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct fs_fh *fh = fs_fh_of(fi);
	ssize_t n;

	(void)ino;
	if (fh->kind == FH_BLOB || fh->kind == FH_SCRATCH) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
		int bfd = fh->fd;
		if (bfd == FS_BLOB_LAZY && (bfd = fs_open_blob_fd(fs_of(req), fh->o)) < 0) {
			fuse_reply_err(req, -bfd);
			return;
		}
		if (bfd < 0) {
			fuse_reply_buf(req, NULL, 0);
			return;
		}
		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = bfd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		return;
	}
	if (fh->kind == FH_CTL) {
		if (fh->writing) {
			fuse_reply_err(req, EBADF);
			return;
		}
		if (off < 0 || (size_t)off >= fh->len) {
			fuse_reply_buf(req, NULL, 0);
			return;
		}
		n = (ssize_t)(fh->len - (size_t)off);
		fs_ctl_get(fh);
		fuse_reply_buf(req, fh->text + off,
			       (size_t)n < size ? (size_t)n : size);
		fs_ctl_put(fh);
		return;
	}
	/* An upload: splice from a descriptor of its current bytes (no
	 * buffer per request), the way committed blobs are read. */
	int fd = upload_read_fd(fh->u);
	if (fd >= 0) {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(size);
		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = fd;
		bv.buf[0].pos = off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
		close(fd);
		return;
	}
	if (fd == -ENODATA) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	char *buf = malloc(size);
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	n = upload_read(fh->u, buf, size, off);
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	struct fs_fh *fh = fs_fh_of(fi);
	ssize_t n;

	(void)ino;
	if (fh->kind == FH_UPLOAD && fh->wr) {
		n = upload_write(fh->u, buf, size, off);
		/* A write moves mtime now, as on any filesystem (a time set
		 * before it no longer holds): stat shows it while the file is
		 * open, and the commit keeps it. */
		if (n > 0)
			upload_set_mtime(fh->u, fs_now_ns());
	} else if (fh->kind == FH_EMB_UPLOAD)
		n = fs_emb_write(fs_of(req), fh, buf, size, off);
	else if (fh->kind == FH_SCRATCH)
		n = fs_scratch_write(fh, buf, size, off);
	else if (fh->kind == FH_CTL)
		n = fs_ctl_write(fs_of(req), fh, buf, size, off);
	else
		n = -EBADF;
	if (n < 0)
		fuse_reply_err(req, (int)-n);
	else
		fuse_reply_write(req, (size_t)n);
}

void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs_fh *fh = fs_fh_of(fi);
	int rc = 0;

	(void)ino;
	/* close() returns after this: the upload is a committed sample. */
	if (fh->kind == FH_UPLOAD && fh->wr)
		rc = upload_commit(fh->u, 0);
	else if (fh->kind == FH_CTL)
		rc = fs_ctl_flush(fs_of(req), fh,
				  fuse_req_ctx(req)->pid == fh->opener);
	else if (fh->kind == FH_EMB_UPLOAD)
		rc = fs_emb_flush(fs_of(req), fh,
				  fuse_req_ctx(req)->pid == fh->opener);
	fuse_reply_err(req, -rc);
}

void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	struct fs_fh *fh = fs_fh_of(fi);
	int rc = 0;

	(void)ino;
	(void)datasync;
	if (fh->kind == FH_UPLOAD && fh->wr)
		rc = upload_commit(fh->u, 1);
	fuse_reply_err(req, -rc);
}

void fs_op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_fh *fh = fs_fh_of(fi);

	(void)ino;
	switch (fh->kind) {
	case FH_UPLOAD:
		upload_release(fs->up, fh->u);
		fs_open_unref(fs, fh->ino);
		free(fh);
		break;
	case FH_BLOB:
		if (fh->fd >= 0)
			close(fh->fd);
		fs_open_unref(fs, fh->ino);
		free(fh);
		break;
	case FH_CTL:
		fs_ctl_release(fs, fh);
		break;
	case FH_EMB_UPLOAD:
		fs_emb_release(fs, fh);
		break;
	case FH_SCRATCH:
		fs_scratch_release(fh);
		break;
	}
	fuse_reply_err(req, 0);
}
