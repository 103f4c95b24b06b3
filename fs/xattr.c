/*
 * xattr.c — extended attributes: user.sievefs.* names (id of a dataset or
 * tag, parent of a tag, sha256 of a file; of an image file its built-in
 * metadata, issue 21: width, height, brightness, contrast, sharpness,
 * colourfulness, and of any file file_size: read-only), and one setting,
 * user.sievefs.tag_folders on a dataset folder ("all" or "selected":
 * which folders later tags get, core/backend.h), which setfattr sets and
 * removexattr puts back to "all"; nothing else. The setting lives in the
 * catalog (local or the server's), so it outlives the mount and a remote
 * mount's tags, built by the server, follow it too. Why other namespaces
 * answer EOPNOTSUPP rather than ENODATA or ENOSYS: fs.h, "Read path
 * costs".
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/xattr.h>

#include "core/names.h"
#include "core/util.h"
#include "fs/fs.h"

#define XATTR_PREFIX "user.sievefs."

/* Value of attribute `key` (after the prefix) of inode ino. */
static int xattr_value(struct fs *fs, fuse_ino_t ino, const char *key,
		       char *val, size_t len)
{
	struct backend *be = fs->be;
	struct fs_ino i = fs_ino_decode(ino);
	be_dataset d;
	be_node n;
	be_tag t;
	int rc;

	if (i.kind == FS_INO_DATASET) {
		rc = be->ops->dataset_get_id(be, i.id, &d);
		if (rc)
			return rc;
		if (!strcmp(key, "tag_folders")) {
			snprintf(val, len, "%s",
				 core_tag_folders_name(d.tag_folders));
			return 0;
		}
		if (strcmp(key, "id"))
			return -ENODATA;
		snprintf(val, len, "%s", d.uid);
		return 0;
	}
	if (i.kind != FS_INO_NODE)
		return -ENODATA;
	rc = be->ops->node_get(be, i.id, &n);
	if (rc)
		return rc;
	if (n.kind == STORE_FILE && n.has_sha && !strcmp(key, "sha256")) {
		core_sha_hex(n.sha, val);
		return 0;
	}
	/* issue 21 (i21a): built-in image metadata (core/imgmeta.h),
	 * computed at the first read of one of them */
	if (n.kind == STORE_FILE && n.has_sha && !strcmp(key, "file_size")) {
		snprintf(val, len, "%lld", (long long)n.size);
		return 0;
	}
	for (int k = 0; n.kind == STORE_FILE && n.has_sha &&
			k < EMB_IMGSTATS_N; k++) {
		struct emb_imgstats st;
		if (strcmp(key, emb_imgstats_names[k]))
			continue;
		rc = be->ops->node_imgmeta(be, i.id, &st);
		if (rc)
			return rc;
		snprintf(val, len, k < 2 ? "%.0f" : "%.6g", st.v[k]);
		return 0;
	}
	if (n.parent <= 0) {
		rc = be->ops->tag_get_id(be, n.tree, &t);
		if (rc)
			return rc;
		if (!strcmp(key, "parent") && !t.live) {
			snprintf(val, len, "%s", t.parent_name);
			return 0;
		}
		if (!strcmp(key, "id")) {
			/* the 24-hex uid (a server older than
			 * tag uids sends none: its row id) */
			if (t.uid[0])
				snprintf(val, len, "%s", t.uid);
			else
				snprintf(val, len, "%lld", (long long)t.id);
			return 0;
		}
	}
	return -ENODATA;
}

/* Answers a getxattr/listxattr of `len` bytes to a caller with a buffer of
 * `size`: size 0 asks for the length only; a short buffer is ERANGE. */
static void reply_value(fuse_req_t req, const char *val, size_t len,
			size_t size)
{
	if (size == 0)
		fuse_reply_xattr(req, len);
	else if (size < len)
		fuse_reply_err(req, ERANGE);
	else
		fuse_reply_buf(req, val, len);
}

void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			size_t size)
{
	char val[256];
	int rc;

	/* Only the user namespace exists here (setxattr refuses every
	 * name): a security.*, system.* or trusted.* name is "not
	 * supported", as on a filesystem without them. That is also what
	 * makes listings cheap: GNU ls -l asks for security.selinux and
	 * system.posix_acl_access on every entry (two round trips each,
	 * the kernel caches neither answer), but stops asking for the
	 * rest of a listing once a device said EOPNOTSUPP. ENOSYS would
	 * stop the kernel sending any GETXATTR for the whole mount, and
	 * hide user.sievefs.*; FUSE_CAP_POSIX_ACL would let the kernel
	 * cache only the ACL half, at the price of default_permissions
	 * (fs.h, "Read path costs"). */
	if (strncmp(name, "user.", 5)) {
		fuse_reply_err(req, EOPNOTSUPP);
		return;
	}
	if (strncmp(name, XATTR_PREFIX, strlen(XATTR_PREFIX))) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	rc = xattr_value(fs_of(req), ino, name + strlen(XATTR_PREFIX), val,
			 sizeof(val));
	if (rc) {
		fuse_reply_err(req, -rc);
		return;
	}
	reply_value(req, val, strlen(val), size);
}

void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	static const char *const keys[] = { "id", "parent", "sha256",
					    "tag_folders", "width", "height",
					    "brightness", "contrast",
					    "sharpness", "colourfulness",
					    "file_size" };
	char list[400], val[256];
	size_t len = 0;
	int image = 0;

	for (size_t k = 0; k < sizeof(keys) / sizeof(keys[0]); k++) {
		/* keys 4-9 come from one node_imgmeta: all there or none, so
		 * "width" answers for the five after it (one call, not six) */
		if (k > 4 && k < 10) {
			if (!image)
				continue;
		} else if (xattr_value(fs_of(req), ino, keys[k], val,
				       sizeof(val))) {
			continue;
		} else if (k == 4) {
			image = 1;
		}
		len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s",
					XATTR_PREFIX, keys[k]) + 1;
	}
	reply_value(req, list, len, size);
}

#define TAG_FOLDERS XATTR_PREFIX "tag_folders"

/* Sets a dataset's tag_folders from the bytes of a setxattr (not a C
 * string): a NUL or other control byte becomes '?' and a long value is
 * cut to 60 bytes and "...", so what the backend refuses (anything but the two
 * words) shows readably in log. 0 or -errno. */
static int set_tag_folders(struct fs *fs, fuse_ino_t ino, const char *value,
			   size_t size)
{
	struct fs_ino i = fs_ino_decode(ino);
	char val[64], msg[BE_MSG] = "";
	size_t n = size < 60 ? size : 60;

	if (i.kind != FS_INO_DATASET)
		return -ENOTSUP;
	for (size_t k = 0; k < n; k++)
		val[k] = (unsigned char)value[k] < 0x20 ? '?' : value[k];
	snprintf(val + n, sizeof(val) - n, "%s", size > n ? "..." : "");
	return fs->be->ops->dataset_set_tag_folders(fs->be, i.id, val, msg);
}

void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
			const char *value, size_t size, int flags)
{
	int rc = -ENOTSUP;

	if (!strcmp(name, TAG_FOLDERS)) {
		/* the setting always has a value: it can only be replaced */
		rc = flags & XATTR_CREATE ? -EEXIST :
		     set_tag_folders(fs_of(req), ino, value, size);
	}
	fuse_reply_err(req, -rc);
}

void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	int rc = -ENOTSUP;

	if (!strcmp(name, TAG_FOLDERS))   /* back to the default */
		rc = set_tag_folders(fs_of(req), ino, "all", 3);
	fuse_reply_err(req, -rc);
}
