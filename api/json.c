/*
 * json.c — the v1 wire format (docs/api.md): resources ⇄ JSON with cJSON,
 * error bodies, the errno-name table, and strict parsing of request paths
 * and query strings.
 *
 * The errno table is the single place where an errno crosses the wire in
 * both directions: the server names errno values, the client maps names
 * back, so a remote mount returns exactly what a local one would. Unknown
 * names map to EIO.
 *
 * Path parsing works on the raw request target (before any decoding), so a
 * "%2e%2e" or "%2F" cannot sneak past the checks after a decoding step.
 * For the same reason a JSON body is scanned for NUL (raw, or the escape
 * \u0000) before cJSON decodes it into C strings that would end there.
 * Pure functions, no global mutable state: thread-safe.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/json.h"
#include "core/incsv.h"
#include "core/names.h"
#include "core/util.h"

/* ---- field helpers ---- */

static const cJSON *field(const cJSON *j, const char *key)
{
	return cJSON_IsObject(j) ? cJSON_GetObjectItemCaseSensitive(j, key) :
				   NULL;
}

int api_get_str(const cJSON *j, const char *key, char *buf, size_t len,
		int required)
{
	const cJSON *f = field(j, key);
	size_t n;

	if (!f)
		return required ? -EINVAL : 1;
	if (!cJSON_IsString(f) || !f->valuestring)
		return -EINVAL;
	n = strlen(f->valuestring);
	if (n >= len)
		return -ENAMETOOLONG;
	memcpy(buf, f->valuestring, n + 1);
	return 0;
}

/* A decimal int64 in a string: optional '-', 1-19 digits, nothing else. */
static int parse_i64_text(const char *s, int64_t *out)
{
	int neg = 0;
	uint64_t v = 0;
	size_t digits = 0;

	if (*s == '-') {
		neg = 1;
		s++;
	}
	for (; *s; s++, digits++) {
		if (*s < '0' || *s > '9' || digits >= 19)
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (!digits || v > (uint64_t)INT64_MAX)
		return -EINVAL;
	*out = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

int api_get_i64(const cJSON *j, const char *key, int64_t *out, int required)
{
	const cJSON *f = field(j, key);
	double d;

	if (!f)
		return required ? -EINVAL : 1;
	if (cJSON_IsString(f) && f->valuestring)
		return parse_i64_text(f->valuestring, out);
	if (!cJSON_IsNumber(f))
		return -EINVAL;
	d = f->valuedouble;
	/* Beyond 2^53 a double is no longer an exact integer. */
	if (!isfinite(d) || d != floor(d) || fabs(d) > 9007199254740992.0)
		return -EINVAL;
	*out = (int64_t)d;
	return 0;
}

int api_get_bool(const cJSON *j, const char *key, int *out, int required)
{
	const cJSON *f = field(j, key);

	if (!f)
		return required ? -EINVAL : 1;
	if (cJSON_IsBool(f)) {
		*out = cJSON_IsTrue(f);
		return 0;
	}
	if (cJSON_IsNumber(f) && (f->valuedouble == 0 || f->valuedouble == 1)) {
		*out = f->valuedouble == 1;
		return 0;
	}
	return -EINVAL;
}

int api_add_i64_str(cJSON *j, const char *key, int64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%" PRId64, v);
	return cJSON_AddStringToObject(j, key, buf) ? 0 : -ENOMEM;
}

static int add_num(cJSON *j, const char *key, int64_t v)
{
	return cJSON_AddNumberToObject(j, key, (double)v) ? 0 : -ENOMEM;
}

static int add_str(cJSON *j, const char *key, const char *v)
{
	return cJSON_AddStringToObject(j, key, v) ? 0 : -ENOMEM;
}

static int add_bool(cJSON *j, const char *key, int v)
{
	return cJSON_AddBoolToObject(j, key, v ? 1 : 0) ? 0 : -ENOMEM;
}

/* Ends an encoder: hands the object over, or frees it on error. */
static int finish(cJSON *j, int rc, cJSON **out)
{
	if (rc) {
		cJSON_Delete(j);
		*out = NULL;
		return rc;
	}
	*out = j;
	return 0;
}

/* Reads an integer field into a narrower type, range-checked. */
static int get_u32(const cJSON *j, const char *key, uint32_t *out,
		   int required)
{
	int64_t v;
	int rc = api_get_i64(j, key, &v, required);

	if (rc)
		return rc;
	if (v < 0 || v > UINT32_MAX)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

static int get_int(const cJSON *j, const char *key, int *out)
{
	int64_t v;
	int rc = api_get_i64(j, key, &v, 1);

	if (rc)
		return rc;
	if (v < INT32_MIN || v > INT32_MAX)
		return -EINVAL;
	*out = (int)v;
	return 0;
}

/* ---- hashes ---- */

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int api_sha_from_hex(const char *hex, unsigned char sha[STORE_SHA_LEN])
{
	if (!hex || strlen(hex) != 2 * STORE_SHA_LEN)
		return -EINVAL;
	for (int i = 0; i < STORE_SHA_LEN; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -EINVAL;
		sha[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

/* ---- resources ---- */

int api_node_to_json(const struct store_node *n, cJSON **out)
{
	cJSON *j = cJSON_CreateObject();
	char hex[65];
	int rc = j ? 0 : -ENOMEM;

	if (!rc) rc = add_num(j, "ino", n->ino);
	if (!rc) rc = add_num(j, "tree", n->tree);
	if (!rc) rc = add_num(j, "parent", n->parent);
	if (!rc) rc = add_num(j, "dataset", n->dataset);
	if (!rc) rc = add_bool(j, "tree_live", n->tree_live);
	if (!rc) rc = add_num(j, "kind", n->kind);
	if (!rc) rc = add_num(j, "mode", n->mode);
	if (!rc) rc = add_num(j, "uid", n->uid);
	if (!rc) rc = add_num(j, "gid", n->gid);
	if (!rc) rc = add_num(j, "size", n->size);
	if (!rc) rc = api_add_i64_str(j, "mtime_ns", n->mtime_ns);
	if (!rc) rc = api_add_i64_str(j, "ctime_ns", n->ctime_ns);
	if (!rc) rc = api_add_i64_str(j, "atime_ns", n->atime_ns);
	if (!rc && n->kind == STORE_DIR) rc = add_num(j, "subdirs", n->subdirs);
	if (!rc) rc = add_bool(j, "has_sha", n->has_sha);
	if (!rc && n->has_sha) {
		core_sha_hex(n->sha, hex);
		rc = add_str(j, "sha", hex);
	}
	if (!rc) rc = add_str(j, "name", n->name);
	return finish(j, rc, out);
}

int api_node_from_json(const cJSON *j, struct store_node *out)
{
	struct store_node n;
	char hex[65];
	int rc;

	memset(&n, 0, sizeof(n));
	rc = api_get_i64(j, "ino", &n.ino, 1);
	if (!rc) rc = api_get_i64(j, "tree", &n.tree, 1);
	if (!rc) rc = api_get_i64(j, "parent", &n.parent, 1);
	if (!rc) rc = api_get_i64(j, "dataset", &n.dataset, 1);
	if (!rc) rc = api_get_bool(j, "tree_live", &n.tree_live, 1);
	if (!rc) rc = get_int(j, "kind", &n.kind);
	if (!rc && n.kind != STORE_DIR && n.kind != STORE_FILE)
		rc = -EINVAL;
	if (!rc) rc = get_u32(j, "mode", &n.mode, 1);
	if (!rc) rc = get_u32(j, "uid", &n.uid, 1);
	if (!rc) rc = get_u32(j, "gid", &n.gid, 1);
	if (!rc) rc = api_get_i64(j, "size", &n.size, 1);
	if (!rc) rc = api_get_i64(j, "mtime_ns", &n.mtime_ns, 1);
	if (!rc) rc = api_get_i64(j, "ctime_ns", &n.ctime_ns, 1);
	/* optional: servers before issue 10 kept no atime */
	if (!rc && api_get_i64(j, "atime_ns", &n.atime_ns, 0) == 1)
		n.atime_ns = n.mtime_ns;
	if (!rc && api_get_i64(j, "subdirs", &n.subdirs, 0) < 0)
		rc = -EINVAL;
	if (!rc) rc = api_get_bool(j, "has_sha", &n.has_sha, 1);
	if (!rc && n.has_sha) {
		rc = api_get_str(j, "sha", hex, sizeof(hex), 1);
		if (!rc)
			rc = api_sha_from_hex(hex, n.sha);
	}
	if (!rc) rc = api_get_str(j, "name", n.name, sizeof(n.name), 1);
	if (rc)
		return rc == -ENAMETOOLONG ? -EINVAL : rc;
	*out = n;
	return 0;
}

int api_dataset_to_json(const struct store_dataset *d, cJSON **out)
{
	cJSON *j = cJSON_CreateObject();
	int rc = j ? 0 : -ENOMEM;

	if (!rc) rc = add_num(j, "id", d->id);
	if (!rc) rc = add_str(j, "uid", d->uid);
	if (!rc) rc = add_str(j, "name", d->name);
	if (!rc) rc = add_str(j, "owner", d->owner);
	if (!rc) rc = api_add_i64_str(j, "created_ns", d->created_ns);
	if (!rc) rc = add_num(j, "live_tree", d->live_tree);
	if (!rc) rc = add_num(j, "live_root", d->live_root);
	if (!rc) rc = add_num(j, "sel_tree", d->sel_tree);
	if (!rc) rc = add_bool(j, "sel_explicit", d->sel_explicit);
	if (!rc) rc = add_str(j, "tag_folders",
			      core_tag_folders_name(d->tag_folders));
	return finish(j, rc, out);
}

int api_dataset_from_json(const cJSON *j, struct store_dataset *out)
{
	struct store_dataset d;
	int rc;

	memset(&d, 0, sizeof(d));
	rc = api_get_i64(j, "id", &d.id, 1);
	if (!rc) rc = api_get_str(j, "uid", d.uid, sizeof(d.uid), 1);
	if (!rc) rc = api_get_str(j, "name", d.name, sizeof(d.name), 1);
	if (!rc) rc = api_get_str(j, "owner", d.owner, sizeof(d.owner), 1);
	if (!rc) rc = api_get_i64(j, "created_ns", &d.created_ns, 1);
	if (!rc) rc = api_get_i64(j, "live_tree", &d.live_tree, 1);
	if (!rc) rc = api_get_i64(j, "live_root", &d.live_root, 1);
	if (!rc) rc = api_get_i64(j, "sel_tree", &d.sel_tree, 1);
	if (!rc) rc = api_get_bool(j, "sel_explicit", &d.sel_explicit, 1);
	/* optional: a server older than issue 16 sends none (all) */
	char tf[16];
	int got = rc ? rc : api_get_str(j, "tag_folders", tf, sizeof(tf), 0);
	if (got == 0)
		rc = core_tag_folders_parse(tf, &d.tag_folders);
	else if (got < 0)
		rc = got;
	if (rc)
		return -EINVAL;
	*out = d;
	return 0;
}

int api_tag_to_json(const struct store_tag *t, cJSON **out)
{
	cJSON *j = cJSON_CreateObject();
	int rc = j ? 0 : -ENOMEM;

	if (!rc) rc = add_num(j, "id", t->id);
	if (!rc) rc = add_str(j, "uid", t->uid);
	if (!rc) rc = add_num(j, "dataset", t->dataset);
	if (!rc) rc = add_str(j, "name", t->name);
	if (!rc) rc = add_num(j, "parent", t->parent);
	if (!rc) rc = add_str(j, "parent_name", t->parent_name);
	if (!rc) rc = api_add_i64_str(j, "created_ns", t->created_ns);
	if (!rc) rc = add_num(j, "root", t->root);
	if (!rc) rc = add_num(j, "files", t->files);
	if (!rc) rc = add_num(j, "bytes", t->bytes);
	if (!rc) rc = add_bool(j, "live", t->live);
	return finish(j, rc, out);
}

int api_tag_from_json(const cJSON *j, struct store_tag *out)
{
	struct store_tag t;
	int rc;

	memset(&t, 0, sizeof(t));
	rc = api_get_i64(j, "id", &t.id, 1);
	/* optional: a server older than tag uids sends none */
	if (!rc && api_get_str(j, "uid", t.uid, sizeof(t.uid), 0) < 0)
		rc = -EINVAL;
	if (!rc) rc = api_get_i64(j, "dataset", &t.dataset, 1);
	if (!rc) rc = api_get_str(j, "name", t.name, sizeof(t.name), 1);
	if (!rc) rc = api_get_i64(j, "parent", &t.parent, 1);
	if (!rc) rc = api_get_str(j, "parent_name", t.parent_name,
				  sizeof(t.parent_name), 1);
	if (!rc) rc = api_get_i64(j, "created_ns", &t.created_ns, 1);
	if (!rc) rc = api_get_i64(j, "root", &t.root, 1);
	if (!rc) rc = api_get_i64(j, "files", &t.files, 1);
	if (!rc) rc = api_get_i64(j, "bytes", &t.bytes, 1);
	if (!rc) rc = api_get_bool(j, "live", &t.live, 1);
	if (rc)
		return -EINVAL;
	*out = t;
	return 0;
}

int api_embedding_to_json(const struct store_embedding *e, cJSON **out)
{
	cJSON *j = cJSON_CreateObject();
	int rc = j ? 0 : -ENOMEM;

	if (!rc) rc = add_num(j, "id", e->id);
	if (!rc) rc = add_num(j, "dataset", e->dataset);
	if (!rc) rc = add_str(j, "name", e->name);
	if (!rc) rc = add_num(j, "dim", e->dim);
	if (!rc) rc = add_num(j, "rows", e->rows);
	if (!rc) rc = api_add_i64_str(j, "created_ns", e->created_ns);
	return finish(j, rc, out);
}

int api_embedding_from_json(const cJSON *j, struct store_embedding *out)
{
	struct store_embedding e;
	int rc;

	memset(&e, 0, sizeof(e));
	rc = api_get_i64(j, "id", &e.id, 1);
	if (!rc) rc = api_get_i64(j, "dataset", &e.dataset, 1);
	if (!rc) rc = api_get_str(j, "name", e.name, sizeof(e.name), 1);
	if (!rc) rc = api_get_i64(j, "dim", &e.dim, 1);
	if (!rc) rc = api_get_i64(j, "rows", &e.rows, 1);
	if (!rc) rc = api_get_i64(j, "created_ns", &e.created_ns, 1);
	if (rc)
		return -EINVAL;
	*out = e;
	return 0;
}

int api_input_to_json(const struct store_input *e, cJSON **out)
{
	cJSON *j = cJSON_CreateObject();
	int rc = j ? 0 : -ENOMEM;
	const char *kind = core_input_kind_name(e->kind);

	if (!rc) rc = add_num(j, "id", e->id);
	if (!rc) rc = add_num(j, "dataset", e->dataset);
	if (!rc) rc = add_str(j, "kind", kind ? kind : "");
	if (!rc) rc = add_str(j, "name", e->name);
	if (!rc) rc = add_num(j, "rows", e->rows);
	if (!rc) rc = add_num(j, "cols", e->cols);
	if (!rc) rc = add_num(j, "bytes", e->bytes);
	if (!rc) rc = api_add_i64_str(j, "created_ns", e->created_ns);
	return finish(j, rc, out);
}

int api_input_from_json(const cJSON *j, struct store_input *out)
{
	struct store_input e;
	char kind[32];
	int rc;

	memset(&e, 0, sizeof(e));
	rc = api_get_i64(j, "id", &e.id, 1);
	if (!rc) rc = api_get_i64(j, "dataset", &e.dataset, 1);
	if (!rc) rc = api_get_str(j, "kind", kind, sizeof(kind), 1);
	if (!rc) rc = api_get_str(j, "name", e.name, sizeof(e.name), 1);
	if (!rc) rc = api_get_i64(j, "rows", &e.rows, 1);
	if (!rc) rc = api_get_i64(j, "cols", &e.cols, 1);
	if (!rc) rc = api_get_i64(j, "bytes", &e.bytes, 1);
	if (!rc) rc = api_get_i64(j, "created_ns", &e.created_ns, 1);
	if (rc || !(e.kind = core_input_kind_of(kind)))
		return -EINVAL;
	*out = e;
	return 0;
}

int api_statfs_to_json(const struct statvfs *s, cJSON **out)
{
	cJSON *j = cJSON_CreateObject();
	int rc = j ? 0 : -ENOMEM;

	if (!rc) rc = add_num(j, "bsize", (int64_t)s->f_bsize);
	if (!rc) rc = add_num(j, "frsize", (int64_t)s->f_frsize);
	if (!rc) rc = add_num(j, "blocks", (int64_t)s->f_blocks);
	if (!rc) rc = add_num(j, "bfree", (int64_t)s->f_bfree);
	if (!rc) rc = add_num(j, "bavail", (int64_t)s->f_bavail);
	if (!rc) rc = add_num(j, "files", (int64_t)s->f_files);
	if (!rc) rc = add_num(j, "ffree", (int64_t)s->f_ffree);
	if (!rc) rc = add_num(j, "favail", (int64_t)s->f_favail);
	if (!rc) rc = add_num(j, "namemax", (int64_t)s->f_namemax);
	return finish(j, rc, out);
}

int api_statfs_from_json(const cJSON *j, struct statvfs *out)
{
	static const char *const keys[] = { "bsize", "frsize", "blocks",
		"bfree", "bavail", "files", "ffree", "favail", "namemax" };
	int64_t v[9];
	struct statvfs s;

	for (size_t i = 0; i < 9; i++)
		if (api_get_i64(j, keys[i], &v[i], 1) || v[i] < 0)
			return -EINVAL;
	memset(&s, 0, sizeof(s));
	s.f_bsize = (unsigned long)v[0];
	s.f_frsize = (unsigned long)v[1];
	s.f_blocks = (fsblkcnt_t)v[2];
	s.f_bfree = (fsblkcnt_t)v[3];
	s.f_bavail = (fsblkcnt_t)v[4];
	s.f_files = (fsfilcnt_t)v[5];
	s.f_ffree = (fsfilcnt_t)v[6];
	s.f_favail = (fsfilcnt_t)v[7];
	s.f_namemax = (unsigned long)v[8];
	*out = s;
	return 0;
}

int api_newnode_to_json(const char *name, const struct store_newnode *nn,
			cJSON **out)
{
	cJSON *j = cJSON_CreateObject();
	int rc = j ? 0 : -ENOMEM;

	if (!rc) rc = add_str(j, "name", name);
	if (!rc) rc = add_num(j, "kind", nn->kind);
	if (!rc) rc = add_num(j, "mode", nn->mode);
	if (!rc) rc = add_num(j, "uid", nn->uid);
	if (!rc) rc = add_num(j, "gid", nn->gid);
	if (!rc) rc = api_add_i64_str(j, "mtime_ns", nn->mtime_ns);
	return finish(j, rc, out);
}

int api_newnode_from_json(const cJSON *j, char *name, size_t namelen,
			  struct store_newnode *out)
{
	struct store_newnode nn = { 0 };
	int rc;

	rc = api_get_str(j, "name", name, namelen, 1);
	if (rc)
		return rc;
	rc = get_int(j, "kind", &nn.kind);
	if (rc || (nn.kind != STORE_DIR && nn.kind != STORE_FILE))
		return -EINVAL;
	nn.mode = nn.kind == STORE_DIR ? 0755 : 0644;
	if ((rc = get_u32(j, "mode", &nn.mode, 0)) < 0 ||
	    (rc = get_u32(j, "uid", &nn.uid, 0)) < 0 ||
	    (rc = get_u32(j, "gid", &nn.gid, 0)) < 0 ||
	    (rc = api_get_i64(j, "mtime_ns", &nn.mtime_ns, 0)) < 0)
		return -EINVAL;
	if (nn.mode > 07777)            /* mtime_ns: 0 = now, < 0 is 1969 */
		return -EINVAL;
	*out = nn;
	return 0;
}

int api_list_to_json(const char *key, const void *items, size_t n,
		     size_t size, int (*one)(const void *, cJSON **),
		     cJSON **out)
{
	cJSON *j = cJSON_CreateObject(), *arr, *item;
	int rc = 0;

	arr = j ? cJSON_AddArrayToObject(j, key) : NULL;
	if (!arr)
		rc = -ENOMEM;
	for (size_t i = 0; !rc && i < n; i++) {
		rc = one((const char *)items + i * size, &item);
		if (!rc && !cJSON_AddItemToArray(arr, item)) {
			cJSON_Delete(item);
			rc = -ENOMEM;
		}
	}
	return finish(j, rc, out);
}

int api_node_any(const void *n, cJSON **out) { return api_node_to_json(n, out); }
int api_dataset_any(const void *d, cJSON **out) { return api_dataset_to_json(d, out); }
int api_tag_any(const void *t, cJSON **out) { return api_tag_to_json(t, out); }
int api_embedding_any(const void *e, cJSON **out) { return api_embedding_to_json(e, out); }
int api_input_any(const void *e, cJSON **out) { return api_input_to_json(e, out); }

/* ---- errors ---- */

static const struct {
	int err;
	const char *name;
	int status;
	const char *code;
} errtab[] = {
	{ ENOENT, "ENOENT", 404, "not_found" },
	{ EEXIST, "EEXIST", 409, "exists" },
	{ ENOTEMPTY, "ENOTEMPTY", 409, "not_empty" },
	{ EROFS, "EROFS", 403, "read_only" },
	{ EPERM, "EPERM", 403, "not_permitted" },
	{ EACCES, "EACCES", 403, "forbidden" },
	{ EINVAL, "EINVAL", 400, "invalid" },
	{ EXDEV, "EXDEV", 400, "cross_tree" },
	{ ENAMETOOLONG, "ENAMETOOLONG", 400, "name_too_long" },
	{ ENOTDIR, "ENOTDIR", 400, "not_a_directory" },
	{ EISDIR, "EISDIR", 400, "is_a_directory" },
	{ ENOSPC, "ENOSPC", 507, "no_space" },
	{ EFBIG, "EFBIG", 413, "too_large" },
	{ EBUSY, "EBUSY", 503, "busy" },
	{ ENOMEM, "ENOMEM", 503, "busy" },
	{ EAGAIN, "EAGAIN", 503, "busy" },
	{ EIO, "EIO", 500, "internal" },
	{ ENOTSUP, "ENOTSUP", 400, "not_supported" },
	{ ECANCELED, "ECANCELED", 409, "cancelled" },
	{ EDQUOT, "EDQUOT", 507, "no_space" },
	{ EMLINK, "EMLINK", 409, "too_many_links" },
	{ ERANGE, "ERANGE", 400, "invalid" },
	{ EOVERFLOW, "EOVERFLOW", 400, "invalid" },
	/* a keyed request applied by an earlier try whose answer was lost
	 * (api/server_idem.c) */
	{ EALREADY, "EALREADY", 409, "answer_lost" },
};

#define NERR (sizeof(errtab) / sizeof(errtab[0]))

const char *api_errno_name(int err)
{
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < NERR; i++)
		if (errtab[i].err == err)
			return errtab[i].name;
	return "EIO";
}

int api_errno_from_name(const char *name)
{
	if (!name)
		return EIO;
	for (size_t i = 0; i < NERR; i++)
		if (!strcmp(errtab[i].name, name))
			return errtab[i].err;
	return EIO;
}

int api_status_for_errno(int err, const char **code)
{
	if (err < 0)
		err = -err;
	for (size_t i = 0; i < NERR; i++)
		if (errtab[i].err == err) {
			if (code)
				*code = errtab[i].code;
			return errtab[i].status;
		}
	if (code)
		*code = "internal";
	return 500;
}

cJSON *api_error_json(const char *code, const char *errno_name,
		      const char *msg)
{
	cJSON *j = cJSON_CreateObject();
	cJSON *e = j ? cJSON_AddObjectToObject(j, "error") : NULL;

	if (!e || !cJSON_AddStringToObject(e, "code", code ? code : "internal") ||
	    !cJSON_AddStringToObject(e, "errno", errno_name ? errno_name : "EIO") ||
	    !cJSON_AddStringToObject(e, "message", msg ? msg : "")) {
		cJSON_Delete(j);
		return NULL;
	}
	return j;
}

static void copy_trunc(char *dst, size_t len, const char *src)
{
	if (dst && len)
		snprintf(dst, len, "%s", src);
}

int api_error_from_json(const cJSON *j, char *code, size_t codelen,
			char *name, size_t namelen, char *msg, size_t msglen)
{
	const cJSON *e = field(j, "error"), *c, *n, *m;

	c = field(e, "code");
	n = field(e, "errno");
	m = field(e, "message");
	if (!cJSON_IsString(c) || !cJSON_IsString(n))
		return -EINVAL;
	copy_trunc(code, codelen, c->valuestring);
	copy_trunc(name, namelen, n->valuestring);
	copy_trunc(msg, msglen, cJSON_IsString(m) ? m->valuestring : "");
	return 0;
}

/* ---- paths and queries ---- */

/* A hex digit of a % escape, either case. */
static int hexdig(char c)
{
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return hexval(c);
}

long api_pct_decode(const char *in, size_t n, char *out, size_t outlen,
		    int plus_space)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = in[i];
		if (c == '%') {
			int hi, lo;
			if (n - i < 3)
				return -EINVAL;
			hi = hexdig(in[i + 1]);
			lo = hexdig(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_space) {
			c = ' ';
		}
		if (c == '\0')
			return -EINVAL;
		if (o + 1 >= outlen)
			return -ENAMETOOLONG;
		out[o++] = c;
	}
	if (!outlen)
		return -ENAMETOOLONG;
	out[o] = '\0';
	return (long)o;
}

int api_path_parse(const char *raw, struct api_path *out)
{
	const char *p = raw, *end;

	out->n = 0;
	if (!raw || raw[0] != '/')
		return -EINVAL;
	p++;
	while (*p) {
		long len;
		char *seg;

		end = strchr(p, '/');
		if (!end)
			end = p + strlen(p);
		if (end == p)             /* "//" or a trailing "/" */
			return end[0] == '/' || out->n == 0 ? -EINVAL : 0;
		if (out->n == API_SEGS_MAX)
			return -EINVAL;
		seg = out->seg[out->n];
		len = api_pct_decode(p, (size_t)(end - p), seg, API_SEG_MAX, 0);
		if (len < 0)
			return -EINVAL;
		if (strchr(seg, '/') || !strcmp(seg, ".") || !strcmp(seg, ".."))
			return -EINVAL;
		out->n++;
		p = *end ? end + 1 : end;
		if (*end && !*p)          /* one trailing '/' is tolerated */
			break;
	}
	return out->n ? 0 : -EINVAL;
}

int api_id_parse(const char *s, int64_t *out)
{
	int64_t v;

	if (!s || s[0] < '1' || s[0] > '9')
		return -EINVAL;
	if (parse_i64_text(s, &v) || v <= 0)
		return -EINVAL;
	*out = v;
	return 0;
}

int api_query_get(const char *query, const char *key, char *out,
		  size_t outlen)
{
	size_t klen = strlen(key);
	const char *p = query;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t len = amp ? (size_t)(amp - p) : strlen(p);
		if (len > klen && !strncmp(p, key, klen) && p[klen] == '=') {
			long r = api_pct_decode(p + klen + 1, len - klen - 1,
						out, outlen, 1);
			return r < 0 ? (int)r : 1;
		}
		if (len == klen && !strncmp(p, key, klen)) {
			if (!outlen)
				return -ENAMETOOLONG;
			out[0] = '\0';
			return 1;
		}
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

/* ---- NUL in JSON text ---- */

/* A small scanner of JSON's lexical structure, enough to find escapes:
 * outside a string nothing can hide a NUL but a raw 0 byte; inside one a
 * backslash takes exactly the next byte with it, so "\\u0000" (an escaped
 * backslash, then the text u0000) is not an escape of NUL while "\u0000"
 * is. Malformed text is left to the parser. */
int api_json_has_nul(const char *text, size_t len)
{
	int in_str = 0;

	for (size_t i = 0; i < len; i++) {
		char ch = text[i];

		if (ch == '\0')
			return 1;
		if (!in_str) {
			in_str = ch == '"';
			continue;
		}
		if (ch == '"') {
			in_str = 0;
		} else if (ch == '\\') {
			if (++i >= len)
				return 0;
			if (text[i] == 'u' && len - i > 4 &&
			    !memcmp(text + i + 1, "0000", 4))
				return 1;
			if (text[i] == '\0')
				return 1;
		}
	}
	return 0;
}
