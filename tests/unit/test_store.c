/*
 * test_store.c — unit tests for store/: the catalog (datasets, tags, nodes,
 * selection, events, folder generations, embedding uploads) and the
 * content-addressed blob store.
 *
 * Fixture: every test gets a fresh temp dir (mkdtemp under /tmp) holding a
 * store in TMP/store, opened in setup, plus one dataset `alice/leaves`;
 * teardown closes the store and removes the temp dir recursively. Tests that
 * reopen the store update fx->st so teardown closes the live handle.
 *
 * The tests check the contract in store/store.h, and where the contract
 * speaks of files on disk (blobs, staging) they look at the disk directly:
 * STORE/blobs/<first 2 hex>/<sha hex>, STORE/staging/.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "tests/unit/tstore.h"
#include "store/store.h"

/* Fixed times, so attribute checks do not depend on the clock. */
#define T1 1700000000123456789LL
#define T2 1700000999000000001LL

/* Asserts a 0/-errno result, printing both values readably on failure. */
#define assert_rc(expr, want) do {                                       \
	int rc_ = (expr), want_ = (want);                                \
	if (rc_ != want_)                                                \
		fail_msg("%s: got %d (%s), want %d (%s)", #expr, rc_,     \
			 strerror(-rc_), want_, strerror(-want_));        \
} while (0)

struct fx {
	char tmp[64];                  /* mkdtemp dir, removed in teardown */
	char dir[128];                 /* the store: tmp/store */
	store *st;
	struct store_dataset ds;       /* alice/leaves */
};

/* ---- fixture ---- */

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	if (!f || tstore_open("store", f->tmp, sizeof(f->tmp), f->dir,
			      sizeof(f->dir), &f->st)) {
		free(f);
		return -1;
	}
	if (store_dataset_create(f->st, "alice", "leaves", &f->ds) != 0) {
		tstore_close(f->tmp, f->st);
		free(f);
		return -1;
	}
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	tstore_close(f->tmp, f->st);
	free(f);
	return 0;
}

/* Closes and reopens the fixture's store (a remount). */
static void reopen(struct fx *f)
{
	char msg[STORE_ERRMSG] = "";
	int rc;

	store_close(f->st);
	f->st = NULL;
	rc = store_open(f->dir, STORE_OPEN_OWNER, &f->st, msg, sizeof(msg));
	if (rc)
		fail_msg("reopen: %d %s", rc, msg);
}

/* ---- helpers ---- */

static int exists(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0;
}

static int is_dir(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void blob_file(const struct fx *f, const unsigned char *sha,
		      char *buf, size_t len)
{
	char hex[65];

	store_sha_hex(sha, hex);
	snprintf(buf, len, "%s/blobs/%.2s/%s", f->dir, hex, hex);
}

static int blob_exists(const struct fx *f, const unsigned char *sha)
{
	char path[STORE_PATH_MAX];

	blob_file(f, sha, path, sizeof(path));
	return exists(path);
}

/* Regular entries (not . or ..) in directory `path`. */
static int count_entries(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

/* Files in all of STORE/blobs/xx/. */
static int count_blobs(const struct fx *f)
{
	char path[STORE_PATH_MAX];
	int n = 0;

	for (int b = 0; b < 256; b++) {
		snprintf(path, sizeof(path), "%s/blobs/%02x", f->dir, b);
		n += count_entries(path);
	}
	return n;
}

static int count_staging(const struct fx *f)
{
	char path[STORE_PATH_MAX];

	snprintf(path, sizeof(path), "%s/staging", f->dir);
	return count_entries(path);
}

static int64_t mk(struct fx *f, int64_t parent, const char *name, int kind,
		  uint32_t mode)
{
	struct store_newnode nn = { .kind = kind, .mode = mode,
				    .uid = 1000, .gid = 1000,
				    .mtime_ns = T1 };
	struct store_node n;

	assert_rc(store_node_create(f->st, parent, name, &nn, &n), 0);
	return n.ino;
}

static int64_t mkdir_node(struct fx *f, int64_t parent, const char *name)
{
	return mk(f, parent, name, STORE_DIR, 0755);
}

static int64_t mkfile_pending(struct fx *f, int64_t parent, const char *name)
{
	return mk(f, parent, name, STORE_FILE, 0644);
}

/* Uploads `data` to file node ino the way fs/ does: staging file, hash,
 * commit. Fills sha (may be NULL). */
static void commit_str(struct fx *f, int64_t ino, const char *data,
		       unsigned char *sha)
{
	char staged[STORE_PATH_MAX];
	unsigned char h[STORE_SHA_LEN];
	size_t len = strlen(data);
	int fd = store_staging_create(f->st, staged, sizeof(staged));

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, len), len);
	assert_rc(store_sha256_fd(fd, h), 0);
	assert_rc(store_node_commit(f->st, ino, fd, staged, h, (int64_t)len, T2,
				    0), 0);
	close(fd);
	assert_false(exists(staged));
	if (sha)
		memcpy(sha, h, STORE_SHA_LEN);
}

/* A committed file `name` with content `data` under parent. */
static int64_t put(struct fx *f, int64_t parent, const char *name,
		   const char *data, unsigned char *sha)
{
	int64_t ino = mkfile_pending(f, parent, name);

	commit_str(f, ino, data, sha);
	return ino;
}

/* Asserts store_node_path(ino) == want; reports the caller's line. */
#define assert_path(f, ino, want) \
	assert_path_at((f), (ino), (want), __FILE__, __LINE__)

static void assert_path_at(struct fx *f, int64_t ino, const char *want,
			   const char *file, int line)
{
	char buf[STORE_PATH_MAX];
	int rc = store_node_path(f->st, ino, buf, sizeof(buf));

	_assert_int_equal((LargestIntegralType)rc, 0, file, line);
	_assert_string_equal(buf, want, file, line);
}

/* Reads the whole blob of sha into buf (NUL-terminated) and compares. */
static void assert_blob_content(struct fx *f, const unsigned char *sha,
				const char *want)
{
	char buf[256];
	int fd = store_blob_open(f->st, sha);
	ssize_t r;

	assert_true(fd >= 0);
	r = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	assert_true(r >= 0);
	buf[r] = '\0';
	assert_string_equal(buf, want);
}

static int64_t lookup_ino(struct fx *f, int64_t parent, const char *name)
{
	struct store_node n;

	assert_rc(store_node_lookup(f->st, parent, name, &n), 0);
	return n.ino;
}

/* Asserts the children of dir node `parent` are exactly `names` in order. */
static void assert_children(struct fx *f, int64_t parent,
			    const char *const *names, size_t count)
{
	struct store_node *v;
	size_t n;

	assert_rc(store_node_children(f->st, parent, &v, &n), 0);
	if (n != count) {
		free(v);
		fail_msg("node %lld: %zu children, want %zu", (long long)parent,
			 n, count);
	}
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].name, names[i])) {
			char got[STORE_NAME_MAX + 1];
			snprintf(got, sizeof(got), "%s", v[i].name);
			free(v);
			fail_msg("child %zu: got '%s', want '%s'", i, got,
				 names[i]);
		}
	}
	free(v);
}

/* Collects selection paths. */
struct paths {
	size_t n;
	int stop_at;                   /* return 7 at this call (1-based), 0 never */
	char p[16][128];
};

static int collect_path(void *arg, const char *path)
{
	struct paths *ps = arg;

	if (ps->n < 16)
		snprintf(ps->p[ps->n], sizeof(ps->p[0]), "%s", path);
	ps->n++;
	return ps->stop_at && (int)ps->n == ps->stop_at ? 7 : 0;
}

static void assert_selection(struct fx *f, const char *const *want,
			     size_t count)
{
	struct paths ps = { 0 };
	int64_t n = -1;

	assert_rc(store_selection_each(f->st, f->ds.id, collect_path, &ps), 0);
	assert_int_equal(ps.n, count);
	for (size_t i = 0; i < count; i++)
		assert_string_equal(ps.p[i], want[i]);
	assert_rc(store_selection_count(f->st, f->ds.id, &n), 0);
	assert_int_equal(n, count);
}

static struct store_dataset reload_ds(struct fx *f)
{
	struct store_dataset d;

	assert_rc(store_dataset_get_id(f->st, f->ds.id, &d), 0);
	return d;
}

/* ==== opening ==== */

static void open_creates_layout(void **state)
{
	struct fx *f = *state;
	char path[STORE_PATH_MAX];

	/* the catalog is a file in the store, or a PostgreSQL database and
	 * no file at all */
	snprintf(path, sizeof(path), "%s/catalog.db", f->dir);
	if (!strcmp(tstore_engine(), "sqlite"))
		assert_true(exists(path) && !is_dir(path));
	else
		assert_false(exists(path));
	snprintf(path, sizeof(path), "%s/staging", f->dir);
	assert_true(is_dir(path));
	assert_int_equal(count_entries(path), 0);
	snprintf(path, sizeof(path), "%s/blobs", f->dir);
	assert_true(is_dir(path));
	for (int b = 0; b < 256; b++) {
		snprintf(path, sizeof(path), "%s/blobs/%02x", f->dir, b);
		assert_true(is_dir(path));
	}
	assert_int_equal(count_blobs(f), 0);
}

static void open_reopen_keeps_datasets_and_nodes(void **state)
{
	struct fx *f = *state;
	unsigned char sha[STORE_SHA_LEN];
	struct store_dataset d;
	struct store_node n;
	int64_t sub = mkdir_node(f, f->ds.live_root, "sub");
	int64_t file = put(f, sub, "a.txt", "hello", sha);

	reopen(f);
	assert_rc(store_dataset_get(f->st, "alice", "leaves", &d), 0);
	assert_int_equal(d.id, f->ds.id);
	assert_string_equal(d.uid, f->ds.uid);
	assert_int_equal(d.live_root, f->ds.live_root);
	assert_int_equal(lookup_ino(f, f->ds.live_root, "sub"), sub);
	assert_rc(store_node_lookup(f->st, sub, "a.txt", &n), 0);
	assert_int_equal(n.ino, file);
	assert_true(n.has_sha);
	assert_memory_equal(n.sha, sha, STORE_SHA_LEN);
	assert_int_equal(n.size, 5);
	assert_path(f, file, "sub/a.txt");
	assert_blob_content(f, sha, "hello");
	/* ino numbers are never reused across remounts */
	assert_true(mkdir_node(f, f->ds.live_root, "later") > file);
}

static void open_on_regular_file_fails_with_message(void **state)
{
	struct fx *f = *state;
	char path[STORE_PATH_MAX], msg[STORE_ERRMSG] = "";
	store *st = (store *)&msg;          /* must come back NULL */
	int fd;

	snprintf(path, sizeof(path), "%s/plainfile", f->tmp);
	fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_rc(store_open(path, STORE_OPEN_OWNER, &st, msg, sizeof(msg)), -ENOTDIR);
	assert_null(st);
	assert_true(msg[0] != '\0');
	assert_non_null(strstr(msg, "plainfile"));
}

static void open_creates_missing_parents(void **state)
{
	struct fx *f = *state;
	char path[STORE_PATH_MAX], sub[STORE_PATH_MAX + 16];
	char msg[STORE_ERRMSG] = "";
	store *st = NULL;

	snprintf(path, sizeof(path), "%s/no/such/dir", f->tmp);
	assert_rc(store_open(path, STORE_OPEN_OWNER, &st, msg, sizeof(msg)), 0);
	assert_non_null(st);
	snprintf(sub, sizeof(sub), "%s/blobs/7f", path);
	assert_true(is_dir(sub));
	store_close(st);
}

static void open_below_regular_file_fails_with_message(void **state)
{
	struct fx *f = *state;
	char file[STORE_PATH_MAX], path[STORE_PATH_MAX + 16];
	char msg[STORE_ERRMSG] = "";
	store *st = (store *)&msg;          /* must come back NULL */
	int fd;

	snprintf(file, sizeof(file), "%s/plainfile", f->tmp);
	fd = open(file, O_CREAT | O_WRONLY | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);
	snprintf(path, sizeof(path), "%s/sub/store", file);
	assert_rc(store_open(path, STORE_OPEN_OWNER, &st, msg, sizeof(msg)), -ENOTDIR);
	assert_null(st);
	assert_non_null(strstr(msg, "plainfile"));
	/* a NULL message buffer is allowed */
	assert_rc(store_open(file, STORE_OPEN_OWNER, &st, NULL, 0), -ENOTDIR);
	assert_null(st);
}

static void open_on_foreign_catalog_fails_with_message(void **state)
{
	struct fx *f = *state;
	char dir[256], path[STORE_PATH_MAX], junk[8192];
	char msg[STORE_ERRMSG] = "";
	store *st = NULL;
	int fd;

	snprintf(dir, sizeof(dir), "%s/foreign", f->tmp);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(path, sizeof(path), "%s/catalog.db", dir);
	fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0644);
	assert_true(fd >= 0);
	memset(junk, 'J', sizeof(junk));
	assert_int_equal(write(fd, junk, sizeof(junk)), sizeof(junk));
	close(fd);
	assert_true(store_open(dir, STORE_OPEN_OWNER, &st, msg, sizeof(msg)) < 0);
	assert_null(st);
	assert_non_null(strstr(msg, "catalog"));
}

static void statvfs_and_close_null(void **state)
{
	struct fx *f = *state;
	struct statvfs sv;

	memset(&sv, 0, sizeof(sv));
	assert_rc(store_statvfs(f->st, &sv), 0);
	assert_true(sv.f_bsize > 0 && sv.f_blocks > 0);
	store_close(NULL);                          /* a no-op */
}

/* ==== datasets ==== */

static void dataset_create_has_live_initial_tag_with_root(void **state)
{
	struct fx *f = *state;
	struct store_dataset d;
	struct store_tag t;
	struct store_node root;

	assert_rc(store_dataset_create(f->st, "alice", "oaks", &d), 0);
	assert_string_equal(d.name, "oaks");
	assert_string_equal(d.owner, "alice");
	assert_int_equal(strlen(d.uid), 24);
	assert_int_equal(strspn(d.uid, "0123456789abcdef"), 24);
	assert_string_not_equal(d.uid, f->ds.uid);
	assert_true(d.created_ns > 0);
	assert_true(d.live_tree > 0 && d.live_root > 0);
	assert_int_equal(d.sel_tree, d.live_tree);
	assert_int_equal(d.sel_explicit, 0);

	assert_rc(store_tag_get(f->st, d.id, "initial-tag", &t), 0);
	assert_int_equal(t.id, d.live_tree);
	assert_int_equal(t.dataset, d.id);
	assert_int_equal(t.live, 1);
	assert_int_equal(t.parent, 0);
	assert_string_equal(t.parent_name, "");
	assert_int_equal(t.root, d.live_root);

	assert_rc(store_node_get(f->st, d.live_root, &root), 0);
	assert_int_equal(root.kind, STORE_DIR);
	assert_int_equal(root.tree, d.live_tree);
	assert_int_equal(root.dataset, d.id);
	assert_int_equal(root.tree_live, 1);
	assert_true(root.parent <= 0);
	assert_path(f, d.live_root, "");
	assert_children(f, d.live_root, NULL, 0);
}

static void dataset_get_and_get_id_agree(void **state)
{
	struct fx *f = *state;
	struct store_dataset a, b;

	assert_rc(store_dataset_get(f->st, "alice", "leaves", &a), 0);
	assert_rc(store_dataset_get_id(f->st, f->ds.id, &b), 0);
	assert_int_equal(a.id, b.id);
	assert_string_equal(a.uid, b.uid);
	assert_int_equal(a.live_tree, b.live_tree);
	assert_int_equal(a.live_root, b.live_root);
	assert_int_equal(a.created_ns, b.created_ns);
}

static void dataset_get_unknown_is_enoent(void **state)
{
	struct fx *f = *state;
	struct store_dataset d;

	assert_rc(store_dataset_get(f->st, "alice", "nope", &d), -ENOENT);
	assert_rc(store_dataset_get(f->st, "bob", "leaves", &d), -ENOENT);
	assert_rc(store_dataset_get_id(f->st, f->ds.id + 1000, &d), -ENOENT);
}

static void dataset_create_duplicate_is_eexist(void **state)
{
	struct fx *f = *state;
	struct store_dataset d;

	assert_rc(store_dataset_create(f->st, "alice", "leaves", &d), -EEXIST);
	/* the same name under another owner is a different dataset */
	assert_rc(store_dataset_create(f->st, "bob", "leaves", &d), 0);
	assert_true(d.id != f->ds.id);
}

static void dataset_list_sorted_by_name_per_owner(void **state)
{
	struct fx *f = *state;
	struct store_dataset *v;
	size_t n;

	assert_rc(store_dataset_create(f->st, "bob", "zeta", NULL), 0);
	assert_rc(store_dataset_create(f->st, "bob", "alpha", NULL), 0);
	assert_rc(store_dataset_create(f->st, "bob", "mid", NULL), 0);
	assert_rc(store_dataset_create(f->st, "carol", "beta", NULL), 0);
	assert_rc(store_dataset_list(f->st, "bob", &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "alpha");
	assert_string_equal(v[1].name, "mid");
	assert_string_equal(v[2].name, "zeta");
	for (size_t i = 0; i < n; i++)
		assert_string_equal(v[i].owner, "bob");
	free(v);
	assert_rc(store_dataset_list(f->st, "nobody", &v, &n), 0);
	assert_int_equal(n, 0);
	free(v);
}

static void dataset_rename(void **state)
{
	struct fx *f = *state;
	struct store_dataset d;

	assert_rc(store_dataset_rename(f->st, f->ds.id, "ferns"), 0);
	assert_rc(store_dataset_get(f->st, "alice", "leaves", &d), -ENOENT);
	assert_rc(store_dataset_get(f->st, "alice", "ferns", &d), 0);
	assert_int_equal(d.id, f->ds.id);
	assert_string_equal(d.uid, f->ds.uid);
	assert_int_equal(d.live_root, f->ds.live_root);

	assert_rc(store_dataset_create(f->st, "alice", "oaks", NULL), 0);
	assert_rc(store_dataset_rename(f->st, f->ds.id, "oaks"), -EEXIST);
	assert_rc(store_dataset_get_id(f->st, f->ds.id, &d), 0);
	assert_string_equal(d.name, "ferns");
	assert_rc(store_dataset_rename(f->st, f->ds.id + 1000, "x"), -ENOENT);
}

static void dataset_delete_empty_removes_everything(void **state)
{
	struct fx *f = *state;
	struct store_dataset d;
	struct store_tag t;
	struct store_node n;
	int64_t sub = mkdir_node(f, f->ds.live_root, "empty-folder");

	assert_rc(store_event_add(f->st, f->ds.id, STORE_INFO, "hi"), 0);
	assert_rc(store_dataset_delete(f->st, f->ds.id), 0);
	assert_rc(store_dataset_get_id(f->st, f->ds.id, &d), -ENOENT);
	assert_rc(store_dataset_get(f->st, "alice", "leaves", &d), -ENOENT);
	assert_rc(store_tag_get_id(f->st, f->ds.live_tree, &t), -ENOENT);
	assert_rc(store_node_get(f->st, f->ds.live_root, &n), -ENOENT);
	assert_rc(store_node_get(f->st, sub, &n), -ENOENT);
	/* the name is free again */
	assert_rc(store_dataset_create(f->st, "alice", "leaves", &d), 0);
	assert_true(d.id != f->ds.id);
	assert_rc(store_dataset_delete(f->st, f->ds.id), -ENOENT);
}

static void dataset_delete_with_committed_file_is_enotempty(void **state)
{
	struct fx *f = *state;
	struct store_dataset d;
	int64_t sub = mkdir_node(f, f->ds.live_root, "sub");

	put(f, sub, "a.txt", "sample", NULL);
	assert_rc(store_dataset_delete(f->st, f->ds.id), -ENOTEMPTY);
	assert_rc(store_dataset_get_id(f->st, f->ds.id, &d), 0);
	assert_int_equal(lookup_ino(f, f->ds.live_root, "sub"), sub);
}

static void dataset_delete_with_tag_is_enotempty(void **state)
{
	struct fx *f = *state;
	struct store_dataset d;
	struct store_tag t;

	assert_rc(store_tag_create(f->st, f->ds.id, "v1", T1, &t), 0);
	assert_rc(store_dataset_delete(f->st, f->ds.id), -ENOTEMPTY);
	assert_rc(store_dataset_get_id(f->st, f->ds.id, &d), 0);
	assert_rc(store_tag_delete(f->st, t.id), 0);
	assert_rc(store_dataset_delete(f->st, f->ds.id), 0);
}

/* ==== nodes ==== */

static void node_create_dir_and_file_under_live_root(void **state)
{
	struct fx *f = *state;
	struct store_newnode nd = { .kind = STORE_DIR, .mode = 040750,
				    .uid = 1234, .gid = 5678, .mtime_ns = T1 };
	struct store_newnode nf = { .kind = STORE_FILE, .mode = 0100640,
				    .uid = 4000000000u, .gid = 7,
				    .mtime_ns = T2 };
	struct store_node d, fl, got;

	assert_rc(store_node_create(f->st, f->ds.live_root, "dir", &nd, &d), 0);
	assert_true(d.ino > f->ds.live_root);
	assert_int_equal(d.kind, STORE_DIR);
	assert_int_equal(d.mode, 0750);
	assert_int_equal(d.uid, 1234);
	assert_int_equal(d.gid, 5678);
	assert_int_equal(d.mtime_ns, T1);
	assert_true(d.ctime_ns > 0);
	assert_int_equal(d.parent, f->ds.live_root);
	assert_int_equal(d.tree, f->ds.live_tree);
	assert_int_equal(d.dataset, f->ds.id);
	assert_int_equal(d.tree_live, 1);
	assert_string_equal(d.name, "dir");

	assert_rc(store_node_create(f->st, d.ino, "f.bin", &nf, &fl), 0);
	assert_int_equal(fl.kind, STORE_FILE);
	assert_int_equal(fl.mode, 0640);
	assert_int_equal(fl.uid, 4000000000u);
	assert_int_equal(fl.gid, 7);
	assert_int_equal(fl.mtime_ns, T2);
	assert_int_equal(fl.has_sha, 0);         /* pending until committed */
	assert_int_equal(fl.size, 0);
	assert_int_equal(fl.parent, d.ino);

	assert_rc(store_node_get(f->st, fl.ino, &got), 0);
	assert_memory_equal(&got, &fl, sizeof(got));
}

static void node_create_mtime_zero_means_now(void **state)
{
	struct fx *f = *state;
	struct store_newnode nn = { .kind = STORE_DIR, .mode = 0755 };
	struct store_node n;
	int64_t before = store_now_ns();

	assert_rc(store_node_create(f->st, f->ds.live_root, "d", &nn, &n), 0);
	assert_true(n.mtime_ns >= before && n.mtime_ns <= store_now_ns());
}

static void node_lookup_finds_child_or_enoent(void **state)
{
	struct fx *f = *state;
	struct store_node n;
	int64_t sub = mkdir_node(f, f->ds.live_root, "sub");
	int64_t file = mkfile_pending(f, sub, "x");

	assert_rc(store_node_lookup(f->st, sub, "x", &n), 0);
	assert_int_equal(n.ino, file);
	assert_string_equal(n.name, "x");
	assert_rc(store_node_lookup(f->st, f->ds.live_root, "x", &n), -ENOENT);
	assert_rc(store_node_lookup(f->st, sub, "X", &n), -ENOENT);
	assert_rc(store_node_get(f->st, file + 1000, &n), -ENOENT);
}

static void node_children_sorted_by_name(void **state)
{
	struct fx *f = *state;
	static const char *const want[] = { "A", "a", "b.txt", "b_dir", "c" };
	int64_t root = f->ds.live_root, empty;

	mkfile_pending(f, root, "c");
	mkdir_node(f, root, "b_dir");
	mkfile_pending(f, root, "a");
	put(f, root, "b.txt", "x", NULL);
	mkdir_node(f, root, "A");
	assert_children(f, root, want, 5);
	empty = lookup_ino(f, root, "b_dir");
	assert_children(f, empty, NULL, 0);
	assert_children(f, lookup_ino(f, root, "c"), NULL, 0);
}

static void node_path_of_nested_nodes(void **state)
{
	struct fx *f = *state;
	char small[4];
	int64_t a = mkdir_node(f, f->ds.live_root, "a");
	int64_t b = mkdir_node(f, a, "b");
	int64_t c = mkfile_pending(f, b, "c.txt");

	assert_path(f, f->ds.live_root, "");
	assert_path(f, a, "a");
	assert_path(f, b, "a/b");
	assert_path(f, c, "a/b/c.txt");
	assert_rc(store_node_path(f->st, c, small, sizeof(small)),
		  -ENAMETOOLONG);
	assert_rc(store_node_path(f->st, c + 1000, small, sizeof(small)),
		  -ENOENT);
}

static void node_create_duplicate_is_eexist(void **state)
{
	struct fx *f = *state;
	struct store_newnode nn = { .kind = STORE_FILE, .mode = 0644 };
	int64_t root = f->ds.live_root;

	mkdir_node(f, root, "dup");
	assert_rc(store_node_create(f->st, root, "dup", &nn, NULL), -EEXIST);
	nn.kind = STORE_DIR;
	assert_rc(store_node_create(f->st, root, "dup", &nn, NULL), -EEXIST);
	{
		struct store_node n;
		assert_rc(store_node_lookup(f->st, root, "dup", &n), 0);
		assert_int_equal(n.kind, STORE_DIR);   /* the first one stays */
	}
}

static void node_create_bad_parent(void **state)
{
	struct fx *f = *state;
	struct store_newnode nn = { .kind = STORE_FILE, .mode = 0644 };
	char longname[STORE_NAME_MAX + 2];
	int64_t file = mkfile_pending(f, f->ds.live_root, "file");

	assert_rc(store_node_create(f->st, file, "x", &nn, NULL), -ENOTDIR);
	assert_rc(store_node_create(f->st, file + 1000, "x", &nn, NULL),
		  -ENOENT);
	memset(longname, 'n', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	assert_rc(store_node_create(f->st, f->ds.live_root, longname, &nn,
				    NULL), -ENAMETOOLONG);
	longname[STORE_NAME_MAX] = '\0';            /* exactly the maximum */
	assert_rc(store_node_create(f->st, f->ds.live_root, longname, &nn,
				    NULL), 0);
}

static void node_remove_file_and_empty_dir(void **state)
{
	struct fx *f = *state;
	struct store_node n;
	int64_t root = f->ds.live_root;
	int64_t d = mkdir_node(f, root, "d");
	int64_t pend = mkfile_pending(f, root, "pending");
	int64_t done = put(f, root, "done", "bytes", NULL);

	assert_rc(store_node_remove(f->st, root, "pending", 0), 0);
	assert_rc(store_node_remove(f->st, root, "done", 0), 0);
	assert_rc(store_node_remove(f->st, root, "d", 1), 0);
	assert_rc(store_node_get(f->st, pend, &n), -ENOENT);
	assert_rc(store_node_get(f->st, done, &n), -ENOENT);
	assert_rc(store_node_get(f->st, d, &n), -ENOENT);
	assert_children(f, root, NULL, 0);
	assert_rc(store_node_remove(f->st, root, "done", 0), -ENOENT);
}

static void node_rmdir_non_empty_is_enotempty(void **state)
{
	struct fx *f = *state;
	int64_t root = f->ds.live_root;
	int64_t d = mkdir_node(f, root, "d");
	static const char *const one[] = { "x" };

	mkfile_pending(f, d, "x");
	assert_rc(store_node_remove(f->st, root, "d", 1), -ENOTEMPTY);
	assert_int_equal(lookup_ino(f, root, "d"), d);
	assert_children(f, d, one, 1);
	/* a sub-folder alone also makes it non-empty */
	assert_rc(store_node_remove(f->st, d, "x", 0), 0);
	mkdir_node(f, d, "inner");
	assert_rc(store_node_remove(f->st, root, "d", 1), -ENOTEMPTY);
}

static void node_unlink_dir_is_eisdir(void **state)
{
	struct fx *f = *state;
	int64_t d = mkdir_node(f, f->ds.live_root, "d");

	assert_rc(store_node_remove(f->st, f->ds.live_root, "d", 0), -EISDIR);
	assert_int_equal(lookup_ino(f, f->ds.live_root, "d"), d);
}

static void node_rmdir_file_is_enotdir(void **state)
{
	struct fx *f = *state;
	int64_t x = put(f, f->ds.live_root, "x", "data", NULL);

	assert_rc(store_node_remove(f->st, f->ds.live_root, "x", 1), -ENOTDIR);
	assert_int_equal(lookup_ino(f, f->ds.live_root, "x"), x);
}

static void node_rename_file(void **state)
{
	struct fx *f = *state;
	unsigned char sha[STORE_SHA_LEN];
	struct store_node n;
	int64_t root = f->ds.live_root;
	int64_t d = mkdir_node(f, root, "d");
	int64_t x = put(f, root, "x.txt", "content", sha);

	assert_rc(store_node_rename(f->st, root, "x.txt", root, "y.txt", 0), 0);
	assert_rc(store_node_lookup(f->st, root, "x.txt", &n), -ENOENT);
	assert_rc(store_node_lookup(f->st, root, "y.txt", &n), 0);
	assert_int_equal(n.ino, x);
	assert_string_equal(n.name, "y.txt");
	assert_memory_equal(n.sha, sha, STORE_SHA_LEN);
	assert_path(f, x, "y.txt");

	assert_rc(store_node_rename(f->st, root, "y.txt", d, "z.txt", 0), 0);
	assert_rc(store_node_get(f->st, x, &n), 0);
	assert_int_equal(n.parent, d);
	assert_string_equal(n.name, "z.txt");
	assert_path(f, x, "d/z.txt");
	assert_rc(store_node_lookup(f->st, root, "y.txt", &n), -ENOENT);
	assert_rc(store_node_rename(f->st, root, "missing", d, "m", 0), -ENOENT);
	/* onto itself: nothing changes */
	assert_rc(store_node_rename(f->st, d, "z.txt", d, "z.txt", 0), 0);
	assert_path(f, x, "d/z.txt");
}

static void node_rename_dir_rewrites_descendant_paths(void **state)
{
	struct fx *f = *state;
	int64_t root = f->ds.live_root;
	int64_t a = mkdir_node(f, root, "a");
	int64_t b = mkdir_node(f, a, "b");
	int64_t c = put(f, b, "c.txt", "deep", NULL);
	int64_t sib = put(f, root, "a.txt", "sibling", NULL);
	int64_t sib2 = mkdir_node(f, root, "ab");
	int64_t sib2c = mkfile_pending(f, sib2, "k");
	int64_t other = mkdir_node(f, root, "other");
	struct store_node n;

	assert_rc(store_node_rename(f->st, root, "a", root, "z", 0), 0);
	assert_path(f, a, "z");
	assert_path(f, b, "z/b");
	assert_path(f, c, "z/b/c.txt");
	/* siblings whose paths share the prefix are untouched */
	assert_path(f, sib, "a.txt");
	assert_path(f, sib2, "ab");
	assert_path(f, sib2c, "ab/k");
	assert_int_equal(lookup_ino(f, a, "b"), b);

	assert_rc(store_node_rename(f->st, root, "z", other, "moved", 0), 0);
	assert_path(f, a, "other/moved");
	assert_path(f, b, "other/moved/b");
	assert_path(f, c, "other/moved/b/c.txt");
	assert_rc(store_node_get(f->st, a, &n), 0);
	assert_int_equal(n.parent, other);
	/* the selection (default: by path) sees the new path */
	{
		static const char *const want[] = { "a.txt",
						    "other/moved/b/c.txt" };
		assert_selection(f, want, 2);
	}
}

/* Names are UTF-8 (any byte but '/' and NUL); paths of a renamed folder's
 * descendants must be rewritten byte-exactly. */
static void node_rename_non_ascii_dir_rewrites_descendant_paths(void **state)
{
	struct fx *f = *state;
	int64_t root = f->ds.live_root;
	int64_t d = mkdir_node(f, root, "h\xc3\xa9tre");        /* "hêtre" */
	int64_t c = mkfile_pending(f, d, "leaf.jpg");

	assert_path(f, c, "h\xc3\xa9tre/leaf.jpg");
	assert_rc(store_node_rename(f->st, root, "h\xc3\xa9tre", root, "oak", 0),
		  0);
	assert_path(f, d, "oak");
	assert_path(f, c, "oak/leaf.jpg");
}

/* Names are bytes (any but '/' and NUL), UTF-8 or not, on both engines
 * (PostgreSQL: an SQL_ASCII database): moving a subtree whose names mix
 * bytes that are not UTF-8 (\377, a lone lead byte \xc3, a lone
 * continuation byte \xa9) with multi-byte UTF-8 rewrites every
 * descendant's path byte-exactly, and leaves a sibling that shares the
 * folder's leading bytes. */
static void node_rename_subtree_of_byte_names(void **state)
{
	struct fx *f = *state;
	int64_t root = f->ds.live_root;
	int64_t d = mkdir_node(f, root, "b\377d\xc3\xa9");
	int64_t e = mkdir_node(f, d, "\xc3");
	int64_t g = mkfile_pending(f, e, "\xa9z\xe6\x9c\xa8.jpg");
	int64_t h = mkfile_pending(f, d, "\377\xfe");
	int64_t sib = mkdir_node(f, root, "b\377d\xc3\xa9x");
	int64_t sibc = mkfile_pending(f, sib, "k");
	int64_t to = mkdir_node(f, root, "\xe6\x9c\xa8\377");

	assert_path(f, g, "b\377d\xc3\xa9/\xc3/\xa9z\xe6\x9c\xa8.jpg");
	/* to a longer name in the same folder (more characters, more
	 * bytes), then into a folder of another tree level */
	assert_rc(store_node_rename(f->st, root, "b\377d\xc3\xa9", root,
				    "\xce\xb1\xce\xb2\377\xc3", 0), 0);
	assert_path(f, d, "\xce\xb1\xce\xb2\377\xc3");
	assert_path(f, e, "\xce\xb1\xce\xb2\377\xc3/\xc3");
	assert_path(f, g, "\xce\xb1\xce\xb2\377\xc3/\xc3/\xa9z\xe6\x9c\xa8.jpg");
	assert_path(f, h, "\xce\xb1\xce\xb2\377\xc3/\377\xfe");
	assert_path(f, sib, "b\377d\xc3\xa9x");
	assert_path(f, sibc, "b\377d\xc3\xa9x/k");
	assert_rc(store_node_rename(f->st, root, "\xce\xb1\xce\xb2\377\xc3",
				    to, "q", 0), 0);
	assert_path(f, d, "\xe6\x9c\xa8\377/q");
	assert_path(f, e, "\xe6\x9c\xa8\377/q/\xc3");
	assert_path(f, g, "\xe6\x9c\xa8\377/q/\xc3/\xa9z\xe6\x9c\xa8.jpg");
	assert_path(f, h, "\xe6\x9c\xa8\377/q/\377\xfe");
	/* and an inner folder named by a lone lead byte, to a shorter name */
	assert_rc(store_node_rename(f->st, d, "\xc3", root, "\xa9", 0), 0);
	assert_path(f, e, "\xa9");
	assert_path(f, g, "\xa9/\xa9z\xe6\x9c\xa8.jpg");
	assert_int_equal(lookup_ino(f, e, "\xa9z\xe6\x9c\xa8.jpg"), g);
}

/* A tree's paths are not capped at PATH_MAX (issue 16): a file 4,095 bytes
 * deep is made, and renaming a folder above it lengthens its path past
 * 4,096 bytes; every descendant's path is rewritten. (The real cap,
 * STORE_TREE_PATH_MAX, is 1 MiB: memory, not use.) */
static void node_rename_dir_lengthens_descendant_paths(void **state)
{
	struct fx *f = *state;
	char name[STORE_NAME_MAX + 1], top[STORE_NAME_MAX + 1];
	char buf[2 * STORE_PATH_MAX];
	int64_t p = f->ds.live_root, file;
	size_t len = 0;

	for (int i = 0; i < 16; i++) {                 /* 16 x "250 chars/" */
		memset(name, 'a' + i, 250);
		name[250] = '\0';
		p = mkdir_node(f, p, name);
		len += 251;
	}
	memset(name, 'z', STORE_PATH_MAX - 1 - len);   /* path = 4095 bytes */
	name[STORE_PATH_MAX - 1 - len] = '\0';
	file = mkfile_pending(f, p, name);
	assert_rc(store_node_path(f->st, file, buf, sizeof(buf)), 0);
	assert_int_equal(strlen(buf), STORE_PATH_MAX - 1);

	memset(top, 'a', 250);
	top[250] = '\0';
	memset(name, 'Q', STORE_NAME_MAX);             /* +5 bytes */
	name[STORE_NAME_MAX] = '\0';
	assert_rc(store_node_rename(f->st, f->ds.live_root, top,
				    f->ds.live_root, name, 0), 0);
	assert_rc(store_node_path(f->st, file, buf, sizeof(buf)), 0);
	assert_int_equal(buf[0], 'Q');
	assert_int_equal(strlen(buf), STORE_PATH_MAX + 4);
	/* and deeper still: a chain below the 4,100-byte path's folder */
	for (int i = 0; i < 4; i++) {
		memset(name, 'k' + i, 250);
		name[250] = '\0';
		p = mkdir_node(f, p, name);
	}
	file = mkfile_pending(f, p, "f.txt");
	assert_rc(store_node_path(f->st, file, buf, sizeof(buf)), 0);
	assert_int_equal(strlen(buf), 255 + 15 * 251 + 4 * 251 + 6);
}

static void node_rename_over_existing_file_replaces_it(void **state)
{
	struct fx *f = *state;
	unsigned char sha_src[STORE_SHA_LEN], sha_dst[STORE_SHA_LEN];
	struct store_node n;
	int64_t root = f->ds.live_root;
	int64_t src = put(f, root, "src", "new bytes", sha_src);
	int64_t dst = put(f, root, "dst", "old bytes", sha_dst);
	static const char *const left[] = { "dst" };

	assert_true(blob_exists(f, sha_dst));
	assert_rc(store_node_rename(f->st, root, "src", root, "dst", 0), 0);
	assert_rc(store_node_get(f->st, dst, &n), -ENOENT);
	assert_rc(store_node_lookup(f->st, root, "dst", &n), 0);
	assert_int_equal(n.ino, src);
	assert_memory_equal(n.sha, sha_src, STORE_SHA_LEN);
	assert_children(f, root, left, 1);
	/* the replaced file's blob had no other reference */
	assert_false(blob_exists(f, sha_dst));
	assert_true(blob_exists(f, sha_src));
}

static void node_rename_noreplace(void **state)
{
	struct fx *f = *state;
	unsigned char sa[STORE_SHA_LEN], sb[STORE_SHA_LEN];
	struct store_node n;
	int64_t root = f->ds.live_root;
	int64_t a = put(f, root, "a", "aaa", sa);
	int64_t b = put(f, root, "b", "bbb", sb);
	int64_t d = mkdir_node(f, root, "d");

	assert_rc(store_node_rename(f->st, root, "a", root, "b", 1), -EEXIST);
	assert_rc(store_node_rename(f->st, root, "a", root, "d", 1), -EEXIST);
	assert_int_equal(lookup_ino(f, root, "a"), a);
	assert_rc(store_node_lookup(f->st, root, "b", &n), 0);
	assert_int_equal(n.ino, b);
	assert_memory_equal(n.sha, sb, STORE_SHA_LEN);
	assert_true(blob_exists(f, sa) && blob_exists(f, sb));
	assert_int_equal(lookup_ino(f, root, "d"), d);
	/* to a free name it is an ordinary rename */
	assert_rc(store_node_rename(f->st, root, "a", d, "a2", 1), 0);
	assert_path(f, a, "d/a2");
}

static void node_rename_dir_into_own_subtree_is_einval(void **state)
{
	struct fx *f = *state;
	int64_t root = f->ds.live_root;
	int64_t a = mkdir_node(f, root, "a");
	int64_t b = mkdir_node(f, a, "b");

	assert_rc(store_node_rename(f->st, root, "a", b, "a", 0), -EINVAL);
	assert_rc(store_node_rename(f->st, root, "a", a, "self", 0), -EINVAL);
	assert_path(f, a, "a");
	assert_path(f, b, "a/b");
}

static void node_rename_kind_mismatch_and_nonempty_target(void **state)
{
	struct fx *f = *state;
	int64_t root = f->ds.live_root;
	int64_t d1 = mkdir_node(f, root, "d1");
	int64_t d2 = mkdir_node(f, root, "d2");
	int64_t full = mkdir_node(f, root, "full");
	struct store_node n;

	mkfile_pending(f, root, "file");
	mkfile_pending(f, full, "inside");
	mkfile_pending(f, d1, "child");
	assert_rc(store_node_rename(f->st, root, "file", root, "d2", 0), -EISDIR);
	assert_rc(store_node_rename(f->st, root, "d1", root, "file", 0),
		  -ENOTDIR);
	assert_rc(store_node_rename(f->st, root, "d1", root, "full", 0),
		  -ENOTEMPTY);
	assert_int_equal(lookup_ino(f, root, "full"), full);
	/* over an empty folder: replaces it */
	assert_rc(store_node_rename(f->st, root, "d1", root, "d2", 0), 0);
	assert_rc(store_node_get(f->st, d2, &n), -ENOENT);
	assert_int_equal(lookup_ino(f, root, "d2"), d1);
	assert_path(f, lookup_ino(f, d1, "child"), "d2/child");
	/* into a file: not a directory */
	assert_rc(store_node_rename(f->st, root, "d2", lookup_ino(f, root,
				    "file"), "x", 0), -ENOTDIR);
}

static void node_rename_across_datasets_is_exdev(void **state)
{
	struct fx *f = *state;
	struct store_dataset other;

	assert_rc(store_dataset_create(f->st, "alice", "other", &other), 0);
	mkfile_pending(f, f->ds.live_root, "x");
	assert_rc(store_node_rename(f->st, f->ds.live_root, "x",
				    other.live_root, "x", 0), -EXDEV);
	lookup_ino(f, f->ds.live_root, "x");
}

static void node_setattr_mode_uid_gid_mtime(void **state)
{
	struct fx *f = *state;
	struct store_node n;
	int64_t x = put(f, f->ds.live_root, "x", "data", NULL);

	assert_rc(store_node_setattr(f->st, x, STORE_SET_MODE, 0104600, 9, 9,
				     9, 0), 0);
	assert_rc(store_node_get(f->st, x, &n), 0);
	assert_int_equal(n.mode, 04600);
	assert_int_equal(n.uid, 1000);
	assert_int_equal(n.gid, 1000);
	assert_int_equal(n.mtime_ns, T2);
	assert_true(n.has_sha);                    /* content untouched */

	assert_rc(store_node_setattr(f->st, x, STORE_SET_UID, 0, 42, 9, 9, 0), 0);
	assert_rc(store_node_setattr(f->st, x, STORE_SET_GID, 0, 9, 43, 9, 0), 0);
	assert_rc(store_node_get(f->st, x, &n), 0);
	assert_int_equal(n.mode, 04600);
	assert_int_equal(n.uid, 42);
	assert_int_equal(n.gid, 43);
	assert_int_equal(n.mtime_ns, T2);

	assert_rc(store_node_setattr(f->st, x, STORE_SET_MTIME, 0, 0, 0, T1, 0),
		  0);
	assert_rc(store_node_get(f->st, x, &n), 0);
	assert_int_equal(n.mtime_ns, T1);
	assert_int_equal(n.mode, 04600);
	assert_int_equal(n.uid, 42);

	assert_rc(store_node_setattr(f->st, f->ds.live_root, STORE_SET_MODE |
				     STORE_SET_UID | STORE_SET_GID, 0700, 1, 2,
				     0, 0), 0);
	assert_rc(store_node_get(f->st, f->ds.live_root, &n), 0);
	assert_int_equal(n.mode, 0700);
	assert_int_equal(n.uid, 1);
	assert_int_equal(n.gid, 2);
	assert_rc(store_node_setattr(f->st, x + 1000, STORE_SET_MODE, 0, 0, 0,
				     0, 0), -ENOENT);
}

/* atime is its own attribute: a new node starts with atime = mtime, and
 * STORE_SET_ATIME / STORE_SET_MTIME each leave the other alone. */
static void node_setattr_atime_apart_from_mtime(void **state)
{
	struct fx *f = *state;
	struct store_node n;
	int64_t x = mkfile_pending(f, f->ds.live_root, "x"), made;

	assert_rc(store_node_get(f->st, x, &n), 0);
	assert_int_equal(n.atime_ns, n.mtime_ns);
	made = n.atime_ns;
	commit_str(f, x, "data", NULL);           /* a write leaves atime */
	assert_rc(store_node_get(f->st, x, &n), 0);
	assert_int_equal(n.atime_ns, made);
	assert_int_equal(n.mtime_ns, T2);
	assert_rc(store_node_setattr(f->st, x, STORE_SET_ATIME, 0, 0, 0, 0, T1),
		  0);
	assert_rc(store_node_get(f->st, x, &n), 0);
	assert_int_equal(n.atime_ns, T1);
	assert_int_equal(n.mtime_ns, T2);
	assert_rc(store_node_setattr(f->st, x, STORE_SET_MTIME, 0, 0, 0, T1 + 5,
				     0), 0);
	assert_rc(store_node_get(f->st, x, &n), 0);
	assert_int_equal(n.atime_ns, T1);
	assert_int_equal(n.mtime_ns, T1 + 5);
	assert_rc(store_node_setattr(f->st, x, STORE_SET_ATIME | STORE_SET_MTIME,
				     0, 0, 0, 7, 8), 0);
	assert_rc(store_node_get(f->st, x, &n), 0);
	assert_int_equal(n.atime_ns, 8);
	assert_int_equal(n.mtime_ns, 7);
}

/* A folder counts its child folders (st_nlink = 2 + subdirs), not files. */
static void node_subdirs_counted(void **state)
{
	struct fx *f = *state;
	struct store_node n;
	int64_t a = mkdir_node(f, f->ds.live_root, "a");

	mkdir_node(f, a, "x");
	mkdir_node(f, a, "y");
	put(f, a, "file", "z", NULL);
	assert_rc(store_node_get(f->st, a, &n), 0);
	assert_int_equal(n.subdirs, 2);
	assert_rc(store_node_get(f->st, f->ds.live_root, &n), 0);
	assert_int_equal(n.subdirs, 1);
	assert_rc(store_node_remove(f->st, a, "y", 1), 0);
	assert_rc(store_node_lookup(f->st, f->ds.live_root, "a", &n), 0);
	assert_int_equal(n.subdirs, 1);
}

/* A catalog made before nodes.atime existed gets the column on open, with
 * atime = mtime; opening it again changes nothing. */
static void open_migrates_catalog_without_atime(void **state)
{
	struct fx *f = *state;
	struct store_node n;
	int64_t x = put(f, f->ds.live_root, "x", "data", NULL);
	char db[200];
	sqlite3 *h;

	store_close(f->st);
	f->st = NULL;
	snprintf(db, sizeof(db), "%s/catalog.db", f->dir);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "DROP INDEX nodes_subdir;"
				      "ALTER TABLE nodes DROP COLUMN atime;"
				      "UPDATE nodes SET mtime=1234;", NULL, NULL,
				      NULL), SQLITE_OK);
	sqlite3_close(h);
	reopen(f);
	assert_rc(store_node_get(f->st, x, &n), 0);
	assert_int_equal(n.atime_ns, 1234);
	assert_int_equal(n.mtime_ns, 1234);
	assert_rc(store_node_setattr(f->st, x, STORE_SET_ATIME, 0, 0, 0, 0, 99),
		  0);
	reopen(f);
	assert_rc(store_node_get(f->st, x, &n), 0);
	assert_int_equal(n.atime_ns, 99);
	assert_int_equal(n.mtime_ns, 1234);
}

/* ==== folder generations (change counters for ETags) ==== */

static uint64_t gen_of(struct fx *f, int64_t dir)
{
	uint64_t g = 12345;

	assert_rc(store_node_gen(f->st, dir, &g), 0);
	return g;
}

/* Asserts that `op` moved dir's counter, and returns the new value. */
#define assert_bumps(f, dir, before, op) do {                             \
	op;                                                               \
	if (gen_of((f), (dir)) == (before))                               \
		fail_msg("%s did not change the generation of %lld", #op, \
			 (long long)(dir));                               \
	(before) = gen_of((f), (dir));                                    \
} while (0)

static void gen_moves_with_every_change_of_a_child(void **state)
{
	struct fx *f = *state;
	int64_t a = mkdir_node(f, f->ds.live_root, "a");
	int64_t b = mkdir_node(f, f->ds.live_root, "b");
	int64_t other = mkdir_node(f, f->ds.live_root, "other"), x, y;
	uint64_t ga = gen_of(f, a), gb = gen_of(f, b);
	uint64_t go = gen_of(f, other);
	struct store_node n, *v;
	char path[STORE_PATH_MAX];
	size_t cnt;

	assert_int_equal(go, 0);                     /* never changed */
	assert_bumps(f, a, ga, x = mkfile_pending(f, a, "x"));
	assert_bumps(f, a, ga, commit_str(f, x, "hello", NULL));
	assert_bumps(f, a, ga, assert_rc(store_node_setattr(
		f->st, x, STORE_SET_MODE, 0600, 0, 0, 0, 0), 0));
	assert_bumps(f, a, ga, assert_rc(store_node_setattr(
		f->st, x, STORE_SET_MTIME, 0, 0, 0, T1, 0), 0));
	assert_bumps(f, a, ga, y = mkdir_node(f, a, "sub"));
	/* rename inside a folder, then out of it (both folders move) */
	assert_bumps(f, a, ga, assert_rc(store_node_rename(f->st, a, "x", a,
							   "x2", 0), 0));
	assert_bumps(f, b, gb, assert_rc(store_node_rename(f->st, a, "x2", b,
							   "x", 0), 0));
	assert_true(gen_of(f, a) != ga);             /* moved out of a */
	ga = gen_of(f, a);
	assert_bumps(f, a, ga, assert_rc(store_node_rename(f->st, b, "x", a,
							   "x", 0), 0));
	assert_bumps(f, a, ga, assert_rc(store_node_remove(f->st, a, "x", 0),
					 0));
	assert_bumps(f, b, gb, put(f, b, "z", "zz", NULL));
	assert_bumps(f, b, gb, assert_rc(store_node_remove(f->st, b, "z", 0),
					 0));
	assert_bumps(f, a, ga, assert_rc(store_node_remove(f->st, a, "sub", 1),
					 0));
	(void)y;

	/* reads change nothing */
	ga = gen_of(f, a);
	gb = gen_of(f, b);
	put(f, a, "r", "read me", NULL);
	ga = gen_of(f, a);
	assert_rc(store_node_get(f->st, a, &n), 0);
	assert_rc(store_node_lookup(f->st, a, "r", &n), 0);
	assert_rc(store_node_children(f->st, a, &v, &cnt), 0);
	free(v);
	assert_rc(store_node_children_page(f->st, a, "", 10, &v, &cnt), 0);
	free(v);
	assert_rc(store_node_path(f->st, n.ino, path, sizeof(path)), 0);
	assert_int_equal(gen_of(f, a), ga);
	assert_int_equal(gen_of(f, b), gb);
	/* unrelated folders never moved */
	assert_int_equal(gen_of(f, other), go);
	/* a folder that does not exist reads as 0, not an error */
	assert_int_equal(gen_of(f, a + 100000), 0);
}

/* A renamed ancestor rewrites the paths below it; the folders below show
 * nothing new, so their counters stay (only the two parents move). */
static void gen_ignores_path_rewrites_below_a_renamed_dir(void **state)
{
	struct fx *f = *state;
	int64_t d = mkdir_node(f, f->ds.live_root, "d");
	int64_t e = mkdir_node(f, d, "e");
	uint64_t gd, ge, groot;

	put(f, e, "leaf", "x", NULL);
	gd = gen_of(f, d);
	ge = gen_of(f, e);
	groot = gen_of(f, f->ds.live_root);
	assert_rc(store_node_rename(f->st, f->ds.live_root, "d",
				    f->ds.live_root, "d2", 0), 0);
	assert_true(gen_of(f, f->ds.live_root) != groot);
	assert_int_equal(gen_of(f, d), gd);
	assert_int_equal(gen_of(f, e), ge);
}

/* Blob bytes into the store (a verified upload, no node), hash into sha. */
static void stage_blob(struct fx *f, const char *data, unsigned char *sha)
{
	char staged[STORE_PATH_MAX];
	int fd = store_staging_create(f->st, staged, sizeof(staged));

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	assert_rc(store_sha256_fd(fd, sha), 0);
	assert_rc(store_blob_put(f->st, fd, staged, sha, NULL), 0);
	close(fd);
}

/* A thumbnail recorded for some bytes shows in the listing of every folder
 * of its sender with a node naming those bytes: their counters move; a
 * thumbnail another user sent moves none (the listing does not show it),
 * until the owner sends its bytes too. */
static void gen_moves_when_a_thumbnail_appears(void **state)
{
	struct fx *f = *state;
	int64_t a = mkdir_node(f, f->ds.live_root, "a");
	int64_t b = mkdir_node(f, f->ds.live_root, "b"), q;
	unsigned char sha[STORE_SHA_LEN], th[STORE_SHA_LEN];
	unsigned char bth[STORE_SHA_LEN];
	struct store_dataset bob;
	char staged[STORE_PATH_MAX];
	uint64_t ga;
	int fd;

	put(f, a, "p", "an image", sha);
	ga = gen_of(f, a);
	fd = store_staging_create(f->st, staged, sizeof(staged));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "thumb", 5), 5);
	assert_rc(store_sha256_fd(fd, th), 0);
	assert_rc(store_blob_put(f->st, fd, staged, th, NULL), 0);
	close(fd);
	assert_rc(store_blob_grant(f->st, "alice", th), 0);
	q = mkfile_pending(f, b, "q");
	assert_rc(store_node_commit_kept(f->st, q, sha, 8, T2, th, 5, 0), 0);
	assert_true(gen_of(f, a) != ga);

	/* bob's own thumbnail of the same bytes: alice's folders stay */
	assert_rc(store_dataset_create(f->st, "bob", "b", &bob), 0);
	stage_blob(f, "bob's thumb", bth);
	assert_rc(store_blob_grant(f->st, "bob", bth), 0);
	ga = gen_of(f, a);
	q = mkfile_pending(f, bob.live_root, "q");
	assert_rc(store_node_commit_kept(f->st, q, sha, 8, T2, bth, 11, 0), 0);
	assert_int_equal(gen_of(f, a), ga);
	/* alice sends bob's thumbnail bytes: now her listing shows it */
	assert_rc(store_blob_grant(f->st, "alice", bth), 0);
	assert_true(gen_of(f, a) != ga);
}

/* What a run may read (issue 11 item 2): a server user only bytes they
 * sent, the original before its thumbnail; another user's upload and a
 * hash nobody has give the same -ENOENT; the embedded user reads what
 * exists. The thumbnail in a listing follows the same rule. */
static void blob_source_follows_grants(void **state)
{
	struct fx *f = *state;
	unsigned char a[STORE_SHA_LEN], o[STORE_SHA_LEN], th[STORE_SHA_LEN];
	unsigned char rnd[STORE_SHA_LEN], src[STORE_SHA_LEN], t[STORE_SHA_LEN];
	int64_t q, size;

	put(f, f->ds.live_root, "a", "alice's image", a);
	assert_rc(store_blob_grant(f->st, "alice", a), 0);
	stage_blob(f, "alice's thumbnail", th);
	assert_rc(store_blob_grant(f->st, "alice", th), 0);
	memset(o, 0x5a, sizeof(o));      /* an original kept by alice */
	memset(rnd, 0xa5, sizeof(rnd));  /* a hash nobody has */
	q = mkfile_pending(f, f->ds.live_root, "o");
	assert_rc(store_node_commit_kept(f->st, q, o, 1000, T2, th, 17, 0), 0);

	assert_rc(store_blob_source(f->st, "alice", a, src), 0);
	assert_memory_equal(src, a, STORE_SHA_LEN);
	assert_rc(store_blob_source(f->st, "alice", o, src), 0);
	assert_memory_equal(src, th, STORE_SHA_LEN);
	assert_rc(store_blob_source(f->st, "alice", rnd, src), -ENOENT);
	/* a grant whose blob is gone reads as not there; the thumbnail
	 * still serves the original */
	assert_rc(store_blob_grant(f->st, "alice", rnd), 0);
	assert_rc(store_blob_source(f->st, "alice", rnd, src), -ENOENT);
	assert_rc(store_blob_grant(f->st, "alice", o), 0);
	assert_rc(store_blob_source(f->st, "alice", o, src), 0);
	assert_memory_equal(src, th, STORE_SHA_LEN);

	assert_rc(store_blob_source(f->st, "bob", a, src), -ENOENT);
	assert_rc(store_blob_source(f->st, "bob", o, src), -ENOENT);
	assert_rc(store_blob_source(f->st, "bob", th, src), -ENOENT);
	assert_rc(store_blob_source(f->st, "bob", rnd, src), -ENOENT);
	assert_rc(store_thumb_get_for(f->st, "bob", o, t, &size), -ENOENT);
	assert_rc(store_thumb_get_for(f->st, "alice", o, t, &size), 0);
	assert_memory_equal(t, th, STORE_SHA_LEN);
	assert_int_equal(size, 17);

	assert_rc(store_blob_source(f->st, "", a, src), 0);
	assert_memory_equal(src, a, STORE_SHA_LEN);
	assert_rc(store_blob_source(f->st, "", o, src), 0);
	assert_memory_equal(src, th, STORE_SHA_LEN);
	assert_rc(store_blob_source(f->st, "", rnd, src), -ENOENT);
	assert_rc(store_thumb_get_for(f->st, "", o, t, &size), 0);

	/* bob sends the thumbnail's bytes: the sample named by the original
	 * reads them; sending alice's image makes it his too */
	assert_rc(store_blob_grant(f->st, "bob", th), 0);
	assert_rc(store_blob_source(f->st, "bob", o, src), 0);
	assert_memory_equal(src, th, STORE_SHA_LEN);
	assert_rc(store_thumb_get_for(f->st, "bob", o, t, &size), 0);
	assert_rc(store_blob_source(f->st, "bob", a, src), -ENOENT);
	assert_rc(store_blob_grant(f->st, "bob", a), 0);
	assert_rc(store_blob_source(f->st, "bob", a, src), 0);
	assert_memory_equal(src, a, STORE_SHA_LEN);
}

/* Two users' thumbnails of the same original: each sees and reads his
 * own, neither replaces the other; both go with the last node naming the
 * original. A catalog whose thumbs table had one row per original is
 * rebuilt on open, its rows kept. */
static void thumbs_one_per_sender_in(struct fx *f, int older)
{
	unsigned char o[STORE_SHA_LEN], th[STORE_SHA_LEN], bth[STORE_SHA_LEN];
	unsigned char t[STORE_SHA_LEN], src[STORE_SHA_LEN];
	struct store_dataset bob;
	char db[200];
	sqlite3 *h;
	int64_t qa, qb, size;

	memset(o, 0x33, sizeof(o));
	stage_blob(f, "alice's thumb", th);
	assert_rc(store_blob_grant(f->st, "alice", th), 0);
	qa = mkfile_pending(f, f->ds.live_root, "o");
	assert_rc(store_node_commit_kept(f->st, qa, o, 100, T2, th, 13, 0), 0);

	/* an older catalog: one thumbnail per original (older: the SQLite
	 * file's upgrade; else a plain reopen, either engine) */
	store_close(f->st);
	f->st = NULL;
	if (older) {
		snprintf(db, sizeof(db), "%s/catalog.db", f->dir);
		assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
		assert_int_equal(sqlite3_exec(h, "CREATE TABLE old AS SELECT *"
					      " FROM thumbs; DROP TABLE thumbs;"
					      "CREATE TABLE thumbs(sha BLOB"
					      " PRIMARY KEY, thumb BLOB NOT NULL,"
					      " size INTEGER NOT NULL) WITHOUT"
					      " ROWID;"
					      "INSERT INTO thumbs SELECT * FROM"
					      " old; DROP TABLE old;", NULL, NULL,
					      NULL), SQLITE_OK);
		sqlite3_close(h);
	}
	reopen(f);
	assert_rc(store_thumb_get_for(f->st, "alice", o, t, &size), 0);
	assert_memory_equal(t, th, STORE_SHA_LEN);

	assert_rc(store_dataset_create(f->st, "bob", "b", &bob), 0);
	stage_blob(f, "bob's thumbnail", bth);
	assert_rc(store_blob_grant(f->st, "bob", bth), 0);
	qb = mkfile_pending(f, bob.live_root, "o");
	assert_rc(store_node_commit_kept(f->st, qb, o, 100, T2, bth, 15, 0), 0);
	assert_rc(store_thumb_get_for(f->st, "alice", o, t, &size), 0);
	assert_memory_equal(t, th, STORE_SHA_LEN);
	assert_int_equal(size, 13);
	assert_rc(store_thumb_get_for(f->st, "bob", o, t, &size), 0);
	assert_memory_equal(t, bth, STORE_SHA_LEN);
	assert_rc(store_blob_source(f->st, "alice", o, src), 0);
	assert_memory_equal(src, th, STORE_SHA_LEN);
	assert_rc(store_blob_source(f->st, "bob", o, src), 0);
	assert_memory_equal(src, bth, STORE_SHA_LEN);

	assert_rc(store_node_remove(f->st, f->ds.live_root, "o", 0), 0);
	assert_true(blob_exists(f, th));     /* bob's node names o still */
	assert_rc(store_node_remove(f->st, bob.live_root, "o", 0), 0);
	assert_false(blob_exists(f, th));
	assert_false(blob_exists(f, bth));
	assert_rc(store_thumb_get(f->st, o, t, &size), -ENOENT);
}

static void thumbs_one_per_sender(void **state)
{
	thumbs_one_per_sender_in(*state, 0);
}

static void thumbs_one_per_sender_of_an_older_catalog(void **state)
{
	thumbs_one_per_sender_in(*state, 1);
}

/* A catalog from before features were keyed by the bytes read: its rows
 * under an original that has a thumbnail, and its cached "bytes not on the
 * server", go once on open; other rows stay. */
static void features_of_the_old_keying_dropped_on_open(void **state)
{
	struct fx *f = *state;
	unsigned char a[STORE_SHA_LEN], o[STORE_SHA_LEN], th[STORE_SHA_LEN];
	unsigned char z[STORE_SHA_LEN];
	const char *errs[3] = { NULL, NULL,
		"no vector: bytes not on the server (upload=meta)" };
	unsigned char shas[3 * STORE_SHA_LEN];
	float vecs[3 * 2] = { 1, 2, 3, 4, 5, 6 }, v[2];
	char db[200];
	sqlite3 *h;
	int64_t q;

	put(f, f->ds.live_root, "a", "an image", a);
	stage_blob(f, "a thumbnail", th);
	memset(o, 0x11, sizeof(o));
	memset(z, 0x22, sizeof(z));
	q = mkfile_pending(f, f->ds.live_root, "o");
	assert_rc(store_node_commit_kept(f->st, q, o, 1000, T2, th, 11, 0), 0);
	memcpy(shas, a, STORE_SHA_LEN);
	memcpy(shas + STORE_SHA_LEN, o, STORE_SHA_LEN);
	memcpy(shas + 2 * STORE_SHA_LEN, z, STORE_SHA_LEN);
	assert_rc(store_feature_put(f->st, "k", 3, shas, vecs, 2, errs), 0);
	store_close(f->st);
	f->st = NULL;
	snprintf(db, sizeof(db), "%s/catalog.db", f->dir);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "DELETE FROM meta WHERE"
				      " key='features_v2'", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(h);
	reopen(f);
	assert_rc(store_feature_get(f->st, "k", a, v, 2, NULL, 0), 0);
	assert_rc(store_feature_get(f->st, "k", o, v, 2, NULL, 0), -ENOENT);
	assert_rc(store_feature_get(f->st, "k", z, v, 2, NULL, 0), -ENOENT);
	/* once: a later row under the same hash stays */
	assert_rc(store_feature_put(f->st, "k", 1, shas + 2 * STORE_SHA_LEN,
				    vecs, 2, errs + 2), 0);
	reopen(f);
	assert_rc(store_feature_get(f->st, "k", z, v, 2, NULL, 0), 1);
}

/* features is a rowid table (issue 16): a vector of 440 floats stays in
 * the b-tree's leaves, no overflow page per row; an older catalog's
 * WITHOUT ROWID table is rebuilt at open with its rows. */
static void features_kept_in_leaves(void **state)
{
	struct fx *f = *state;
	enum { DIM = 440, N = 40 };
	static float vecs[N * DIM], v[DIM];
	unsigned char shas[N * STORE_SHA_LEN];
	char db[200];
	sqlite3 *h;
	sqlite3_stmt *s;

	for (int i = 0; i < N * DIM; i++)
		vecs[i] = (float)i;
	for (int i = 0; i < N * STORE_SHA_LEN; i++)
		shas[i] = (unsigned char)(i * 7 + i / STORE_SHA_LEN);
	store_close(f->st);
	f->st = NULL;
	snprintf(db, sizeof(db), "%s/catalog.db", f->dir);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "DROP TABLE features;"
				      "CREATE TABLE features(sha BLOB NOT NULL,"
				      " kind TEXT NOT NULL, vec BLOB, err TEXT,"
				      " PRIMARY KEY(sha, kind)) WITHOUT ROWID;"
				      "INSERT INTO features VALUES(x'01','k',"
				      " zeroblob(8),NULL)", NULL, NULL, NULL),
			 SQLITE_OK);
	sqlite3_close(h);
	reopen(f);
	assert_rc(store_feature_put(f->st, "k", N, shas, vecs, DIM, NULL), 0);
	assert_rc(store_feature_get(f->st, "k", shas + 3 * STORE_SHA_LEN, v,
				    DIM, NULL, 0), 0);
	assert_memory_equal(v, vecs + 3 * DIM, sizeof(v));
	store_close(f->st);
	f->st = NULL;
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT (SELECT count(*) FROM"
					    " features), (SELECT count(*) FROM"
					    " sqlite_master WHERE name="
					    "'features' AND sql LIKE"
					    " '%WITHOUT ROWID%')", -1, &s,
					    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), N + 1);  /* the old row kept */
	assert_int_equal(sqlite3_column_int(s, 1), 0);
	sqlite3_finalize(s);
	/* no overflow page (the old layout had one per row) */
	assert_int_equal(sqlite3_prepare_v2(h, "SELECT count(*) FROM dbstat"
					    " WHERE name='features' AND"
					    " pagetype='overflow'", -1, &s,
					    NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(s, 0), 0);
	sqlite3_finalize(s);
	sqlite3_close(h);
	reopen(f);
}

/* A catalog made before generations existed (no dirgen table, no
 * triggers) opens, and its folders count from then on. */
static void gen_added_to_an_older_catalog(void **state)
{
	struct fx *f = *state;
	int64_t a = mkdir_node(f, f->ds.live_root, "a");
	char db[200];
	sqlite3 *h;

	put(f, a, "x", "x", NULL);
	store_close(f->st);
	f->st = NULL;
	snprintf(db, sizeof(db), "%s/catalog.db", f->dir);
	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, "DROP TRIGGER nodes_gen_ins;"
				      "DROP TRIGGER nodes_gen_del;"
				      "DROP TRIGGER nodes_gen_upd;"
				      "DROP TRIGGER nodes_gen_move;"
				      "DROP TRIGGER thumbs_gen;"
				      "DROP TABLE dirgen;", NULL, NULL,
				      NULL), SQLITE_OK);
	sqlite3_close(h);
	reopen(f);
	assert_int_equal(gen_of(f, a), 0);
	put(f, a, "y", "y", NULL);
	assert_true(gen_of(f, a) > 0);
}

/* A write transaction stops at its first failed statement and answers
 * its error, as on PostgreSQL (where the rest could not run): planted
 * triggers make dataset delete's DELETE of the live tree's nodes fail
 * with a constraint (-EEXIST) and its later DELETE of the dataset row
 * fail to prepare (-EIO, a trigger naming a dropped table). Nothing of
 * the dataset goes; without the triggers the delete works. */
static void sql_on_catalog(const struct fx *f, const char *sql);

static void write_stops_at_first_failed_statement(void **state)
{
	struct fx *f = *state;
	struct store_dataset d;

	sql_on_catalog(f, "CREATE TABLE gone(x);"
		       "CREATE TRIGGER t_nodes BEFORE DELETE ON nodes"
		       " BEGIN SELECT RAISE(ABORT, 'planted'); END;"
		       "CREATE TRIGGER t_ds BEFORE DELETE ON datasets"
		       " BEGIN INSERT INTO gone VALUES(1); END;"
		       "DROP TABLE gone");
	assert_rc(store_dataset_delete(f->st, f->ds.id), -EEXIST);
	assert_rc(store_dataset_get_id(f->st, f->ds.id, &d), 0);
	sql_on_catalog(f, "DROP TRIGGER t_nodes; DROP TRIGGER t_ds");
	assert_rc(store_dataset_delete(f->st, f->ds.id), 0);
	assert_rc(store_dataset_get_id(f->st, f->ds.id, &d), -ENOENT);
}

/* ==== blobs and upload commit ==== */

static void sha256_and_hex_known_vector(void **state)
{
	struct fx *f = *state;
	char path[STORE_PATH_MAX], hex[65];
	unsigned char sha[STORE_SHA_LEN];
	int fd = store_staging_create(f->st, path, sizeof(path));

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	assert_rc(store_sha256_fd(fd, sha), 0);
	close(fd);
	unlink(path);
	store_sha_hex(sha, hex);
	assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223"
			    "b00361a396177a9cb410ff61f20015ad");
}

/* On a filesystem with O_TMPFILE (ext4, tmpfs, xfs, btrfs) staging files
 * have no name: nothing is left in STORE/staging, even before a commit. */
static void staging_create_makes_distinct_unnamed_files(void **state)
{
	struct fx *f = *state;
	char p1[STORE_PATH_MAX], p2[STORE_PATH_MAX];
	struct stat a, b;
	int fd1 = store_staging_create(f->st, p1, sizeof(p1));
	int fd2 = store_staging_create(f->st, p2, sizeof(p2));

	assert_true(fd1 >= 0 && fd2 >= 0);
	assert_string_equal(p1, "");
	assert_string_equal(p2, "");
	assert_int_equal(fstat(fd1, &a), 0);
	assert_int_equal(fstat(fd2, &b), 0);
	assert_true(a.st_ino != b.st_ino);
	assert_int_equal(count_staging(f), 0);
	assert_int_equal(write(fd1, "x", 1), 1);
	assert_int_equal(pread(fd1, p2, 1, 0), 1);
	assert_int_equal(p2[0], 'x');
	close(fd1);
	close(fd2);
	assert_int_equal(count_staging(f), 0);
}

static void commit_sets_sha_size_and_blob_reads_back(void **state)
{
	struct fx *f = *state;
	unsigned char sha[STORE_SHA_LEN];
	char staged[STORE_PATH_MAX], blob[STORE_PATH_MAX];
	struct store_node n;
	int64_t ino = mkfile_pending(f, f->ds.live_root, "s.bin");
	int fd = store_staging_create(f->st, staged, sizeof(staged));
	int64_t t0 = store_now_ns();

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "abc", 3), 3);
	assert_rc(store_sha256_fd(fd, sha), 0);
	assert_rc(store_node_commit(f->st, ino, fd, staged, sha, 3, 0, 1), 0);
	close(fd);
	assert_false(exists(staged));
	assert_int_equal(count_staging(f), 0);

	assert_rc(store_node_get(f->st, ino, &n), 0);
	assert_true(n.has_sha);
	assert_memory_equal(n.sha, sha, STORE_SHA_LEN);
	assert_int_equal(n.size, 3);
	assert_true(n.mtime_ns >= t0);              /* 0 = now */
	assert_int_equal(n.mode, 0644);

	blob_file(f, sha, blob, sizeof(blob));
	assert_non_null(strstr(blob, "/blobs/ba/ba7816bf"));
	assert_true(exists(blob));
	assert_int_equal(count_blobs(f), 1);
	assert_blob_content(f, sha, "abc");

	/* explicit mtime is kept */
	commit_str(f, ino, "abc", NULL);
	assert_rc(store_node_get(f->st, ino, &n), 0);
	assert_int_equal(n.mtime_ns, T2);
	assert_int_equal(count_blobs(f), 1);
}

static void blob_open_unknown_sha_is_enoent(void **state)
{
	struct fx *f = *state;
	unsigned char sha[STORE_SHA_LEN];

	memset(sha, 0x5a, sizeof(sha));
	assert_rc(store_blob_open(f->st, sha), -ENOENT);
}

static void commit_identical_bytes_dedupes(void **state)
{
	struct fx *f = *state;
	unsigned char s1[STORE_SHA_LEN], s2[STORE_SHA_LEN];
	char hex[65], sub[STORE_PATH_MAX];
	int64_t a = put(f, f->ds.live_root, "a", "same bytes", s1);
	int64_t d = mkdir_node(f, f->ds.live_root, "d");
	int64_t b = put(f, d, "b", "same bytes", s2);

	assert_true(a != b);
	assert_memory_equal(s1, s2, STORE_SHA_LEN);
	store_sha_hex(s1, hex);
	snprintf(sub, sizeof(sub), "%s/blobs/%.2s", f->dir, hex);
	assert_int_equal(count_entries(sub), 1);
	assert_int_equal(count_blobs(f), 1);
	assert_int_equal(count_staging(f), 0);
	assert_blob_content(f, s1, "same bytes");
}

static void commit_overwrite_keeps_blob_of_other_node(void **state)
{
	struct fx *f = *state;
	unsigned char shared[STORE_SHA_LEN], fresh[STORE_SHA_LEN];
	struct store_node n;
	int64_t a = put(f, f->ds.live_root, "a", "shared", shared);
	int64_t b = put(f, f->ds.live_root, "b", "shared", NULL);

	commit_str(f, a, "fresh content", fresh);
	assert_rc(store_node_get(f->st, a, &n), 0);
	assert_memory_equal(n.sha, fresh, STORE_SHA_LEN);
	assert_int_equal(n.size, 13);
	assert_rc(store_node_get(f->st, b, &n), 0);
	assert_memory_equal(n.sha, shared, STORE_SHA_LEN);
	assert_true(blob_exists(f, shared));
	assert_true(blob_exists(f, fresh));
	assert_int_equal(count_blobs(f), 2);
	assert_blob_content(f, shared, "shared");
	assert_blob_content(f, fresh, "fresh content");
}

static void commit_overwrite_collects_unreferenced_old_blob(void **state)
{
	struct fx *f = *state;
	unsigned char old[STORE_SHA_LEN], cur[STORE_SHA_LEN];
	int64_t a = put(f, f->ds.live_root, "a", "version 1", old);

	commit_str(f, a, "version 2", cur);
	assert_false(blob_exists(f, old));
	assert_true(blob_exists(f, cur));
	assert_int_equal(count_blobs(f), 1);
}

static void remove_last_reference_unlinks_blob(void **state)
{
	struct fx *f = *state;
	unsigned char sha[STORE_SHA_LEN];
	char path[STORE_PATH_MAX];
	struct stat sb;
	int64_t d = mkdir_node(f, f->ds.live_root, "d");

	put(f, f->ds.live_root, "a", "twice", sha);
	put(f, d, "b", "twice", NULL);
	blob_file(f, sha, path, sizeof(path));
	assert_rc(store_node_remove(f->st, f->ds.live_root, "a", 0), 0);
	assert_int_equal(stat(path, &sb), 0);
	assert_rc(store_node_remove(f->st, d, "b", 0), 0);
	assert_int_equal(stat(path, &sb), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(count_blobs(f), 0);
}

static void commit_to_dir_fails_and_removes_staged(void **state)
{
	struct fx *f = *state;
	unsigned char sha[STORE_SHA_LEN];
	char staged[STORE_PATH_MAX];
	struct store_node n;
	int64_t d = mkdir_node(f, f->ds.live_root, "d");
	int fd = store_staging_create(f->st, staged, sizeof(staged));

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "zz", 2), 2);
	assert_rc(store_sha256_fd(fd, sha), 0);
	assert_true(store_node_commit(f->st, d, fd, staged, sha, 2, 0, 0) < 0);
	close(fd);
	assert_false(exists(staged));
	assert_false(blob_exists(f, sha));
	assert_rc(store_node_get(f->st, d, &n), 0);
	assert_int_equal(n.kind, STORE_DIR);
	assert_false(n.has_sha);
}

/* ==== crash recovery ==== */

static void reopen_recovers_from_crash(void **state)
{
	struct fx *f = *state;
	unsigned char kept[STORE_SHA_LEN], orphan[STORE_SHA_LEN];
	char path[STORE_PATH_MAX], hex[65];
	struct store_node n;
	int64_t root = f->ds.live_root;
	int64_t d = mkdir_node(f, root, "d");
	int64_t good = put(f, d, "good", "committed", kept);
	int64_t pend = mkfile_pending(f, d, "half-uploaded");
	int fd;

	/* a stray named staging file, as a crash mid-upload leaves on a
	 * filesystem without O_TMPFILE (unnamed ones vanish by themselves) */
	snprintf(path, sizeof(path), "%s/staging/0123456789abcdef01234567",
		 f->dir);
	fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "partial", 7), 7);
	close(fd);
	/* an orphan blob: renamed into place, catalog commit never happened */
	memset(orphan, 0xc3, sizeof(orphan));
	store_sha_hex(orphan, hex);
	blob_file(f, orphan, path, sizeof(path));
	fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(count_staging(f), 1);
	assert_int_equal(count_blobs(f), 2);

	reopen(f);
	assert_rc(store_node_get(f->st, pend, &n), -ENOENT);
	assert_rc(store_node_lookup(f->st, d, "half-uploaded", &n), -ENOENT);
	assert_int_equal(count_staging(f), 0);
	assert_false(exists(path));
	assert_false(blob_exists(f, orphan));
	assert_rc(store_node_get(f->st, good, &n), 0);
	assert_true(n.has_sha);
	assert_memory_equal(n.sha, kept, STORE_SHA_LEN);
	assert_true(blob_exists(f, kept));
	assert_blob_content(f, kept, "committed");
	assert_int_equal(count_blobs(f), 1);
	assert_int_equal(lookup_ino(f, root, "d"), d);
}

/* ==== one owner per store ==== */

/* Runs SQL on the fixture's catalog through a connection of its own. */
static int sql_changes(const struct fx *f, const char *sql);

static void sql_on_catalog(const struct fx *f, const char *sql)
{
	(void)sql_changes(f, sql);
}

/* The status of run 1, read with a connection of its own (tstore: the
 * catalog on either engine); -1 when there is no run 1. */
static int run_status(const struct fx *f)
{
	int64_t st = -1;
	int rc = tstore_catalog_int(f->dir, "SELECT status FROM runs"
				    " WHERE id=1", &st);

	if (rc != -ENOENT)
		assert_int_equal(rc, 0);
	return (int)st;
}

static void second_owner_is_refused_with_pid(void **state)
{
	struct fx *f = *state;
	char msg[STORE_ERRMSG] = "", want[64], path[STORE_PATH_MAX];
	char buf[32] = "";
	store *st = (store *)&msg;          /* must come back NULL */
	int fd;

	assert_rc(store_open(f->dir, STORE_OPEN_OWNER, &st, msg, sizeof(msg)),
		  -EBUSY);
	assert_null(st);
	snprintf(want, sizeof(want), "store in use by PID %ld",
		 (long)getpid());
	assert_non_null(strstr(msg, want));
	/* the lock file names the owner */
	snprintf(path, sizeof(path), "%s/lock", f->dir);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	assert_true(read(fd, buf, sizeof(buf) - 1) > 0);
	close(fd);
	snprintf(want, sizeof(want), "%ld\n", (long)getpid());
	assert_string_equal(buf, want);
	/* the refused open changed nothing: the owner goes on */
	assert_int_equal(mkdir_node(f, f->ds.live_root, "still") > 0, 1);
	/* the owner's close frees the store for the next one */
	reopen(f);
	assert_non_null(f->st);
}

static void admin_open_beside_owner_recovers_nothing(void **state)
{
	struct fx *f = *state;
	char msg[STORE_ERRMSG] = "", path[STORE_PATH_MAX];
	char token[STORE_TOKEN_LEN + 1], user[STORE_USER_MAX + 1];
	struct store_token *v = NULL;
	struct store_node n;
	int64_t pend = mkfile_pending(f, f->ds.live_root, "uploading");
	int64_t id = 0;
	size_t cnt = 0;
	store *adm = NULL;
	int fd;

	/* what a running owner has in progress: an upload (a pending node and
	 * a named staging file) and a sampling run */
	snprintf(path, sizeof(path), "%s/staging/00000000000000000000beef",
		 f->dir);
	fd = open(path, O_CREAT | O_WRONLY | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);
	sql_on_catalog(f, "INSERT INTO runs(dataset, request, strategy, n,"
		       " from_tag, emb, seed, status, created)"
		       " VALUES(1, 'random', 'random', 1, 1, 0, 0, 1, 0)");

	assert_rc(store_open(f->dir, STORE_OPEN_ADMIN, &adm, msg, sizeof(msg)),
		  0);
	assert_rc(store_token_create(adm, "carol", token, &id), 0);
	assert_rc(store_token_list(adm, &v, &cnt), 0);
	assert_int_equal(cnt, 1);
	free(v);
	store_close(adm);

	assert_rc(store_node_get(f->st, pend, &n), 0);
	assert_false(n.has_sha);
	assert_true(exists(path));
	assert_int_equal(run_status(f), 1);
	/* the owner sees the admin's token */
	assert_rc(store_token_check(f->st, token, user), 0);
	assert_string_equal(user, "carol");
	/* a second admin beside the first and the owner */
	assert_rc(store_open(f->dir, STORE_OPEN_ADMIN, &adm, msg, sizeof(msg)),
		  0);
	store_close(adm);

	/* the next owner recovers */
	reopen(f);
	assert_rc(store_node_get(f->st, pend, &n), -ENOENT);
	assert_false(exists(path));
	if (!strcmp(tstore_engine(), "postgresql"))
		/* a shared catalog fails no run at a server's start (other
		 * servers may be running theirs): a run whose lease ran out
		 * is claimed again and run to its end (test_queue) */
		assert_int_equal(store_run_claimable(f->st), 1);
	else
		assert_int_equal(run_status(f), 4);
}

static void admin_open_without_owner_works(void **state)
{
	struct fx *f = *state;
	char msg[STORE_ERRMSG] = "", dir[STORE_PATH_MAX];
	char token[STORE_TOKEN_LEN + 1], user[STORE_USER_MAX + 1];
	store *adm = NULL, *own = NULL;

	/* a store that does not exist yet: made, catalog only */
	snprintf(dir, sizeof(dir), "%s/fresh", f->tmp);
	assert_rc(store_open(dir, STORE_OPEN_ADMIN, &adm, msg, sizeof(msg)), 0);
	assert_rc(store_token_create(adm, "dave", token, NULL), 0);
	/* an admin handle holds no lock: an owner may come while it is open */
	assert_rc(store_open(dir, STORE_OPEN_OWNER, &own, msg, sizeof(msg)), 0);
	assert_rc(store_token_check(own, token, user), 0);
	store_close(own);
	store_close(adm);
	assert_rc(store_open(dir, 0, &adm, msg, sizeof(msg)), -EINVAL);
	assert_null(adm);
}

/* Runs SQL on the fixture's catalog through a connection of its own;
 * returns the rows it changed. */
static int sql_changes(const struct fx *f, const char *sql)
{
	int64_t n = -1;

	assert_int_equal(tstore_catalog_exec(f->dir, sql, &n), 0);
	return (int)n;
}

/* Sessions: made from a valid token only, checked by id, ended by
 * sign-out, by the token's revocation and by expiry; the catalog holds no
 * session id. */
static void sessions_follow_their_token(void **state)
{
	struct fx *f = *state;
	char token[STORE_TOKEN_LEN + 1], other[STORE_TOKEN_LEN + 1];
	char sid[STORE_SESSION_LEN + 1], sid2[STORE_SESSION_LEN + 1];
	char user[STORE_USER_MAX + 1] = "", sql[256];
	int64_t id = 0;

	assert_rc(store_token_create(f->st, "erin", token, &id), 0);
	assert_rc(store_token_create(f->st, "erin", other, NULL), 0);
	/* a wrong, malformed or empty token makes nothing */
	snprintf(sid, sizeof(sid), "x");
	assert_rc(store_session_create(f->st, "svf_00", 1000000000, sid,
				       user), -EACCES);
	assert_string_equal(sid, "");
	other[10] ^= 1;
	assert_rc(store_session_create(f->st, other, 1000000000, sid, user),
		  -EACCES);
	other[10] ^= 1;

	assert_rc(store_session_create(f->st, token, 3600000000000LL, sid,
				       user), 0);
	assert_string_equal(user, "erin");
	assert_true(store_session_format_ok(sid));
	assert_rc(store_session_create(f->st, other, 3600000000000LL, sid2,
				       user), 0);
	assert_string_not_equal(sid, sid2);
	memset(user, 0, sizeof(user));
	assert_rc(store_session_check(f->st, sid, user), 0);
	assert_string_equal(user, "erin");
	/* the catalog keeps a hash: no row holds the id's bytes */
	snprintf(sql, sizeof(sql), "DELETE FROM sessions WHERE %s"
		 " LIKE '%%' || upper('%s') || '%%'",
		 strcmp(tstore_engine(), "sqlite") ?
		 "upper(encode(hash, 'hex'))" : "hex(hash)", sid);
	assert_int_equal(sql_changes(f, sql), 0);
	/* a forged id, one digit off, or a token as an id: refused */
	sid[0] = sid[0] == 'a' ? 'b' : 'a';
	assert_rc(store_session_check(f->st, sid, user), -EACCES);
	sid[0] = sid[0] == 'a' ? 'b' : 'a';
	assert_rc(store_session_check(f->st, token, user), -EACCES);
	assert_rc(store_session_check(f->st, "", user), -EACCES);

	/* revoking the token ends its session, not the other token's */
	assert_rc(store_token_revoke(f->st, id), 0);
	assert_rc(store_session_check(f->st, sid, user), -EACCES);
	assert_rc(store_session_check(f->st, sid2, user), 0);
	assert_rc(store_session_create(f->st, token, 3600000000000LL, sid,
				       user), -EACCES);
	/* sign-out ends it; signing out twice is fine */
	assert_rc(store_session_delete(f->st, sid2), 0);
	assert_rc(store_session_check(f->st, sid2, user), -EACCES);
	assert_rc(store_session_delete(f->st, sid2), 0);
	/* expiry: a session whose time is up is refused */
	assert_rc(store_session_create(f->st, other, 3600000000000LL, sid2,
				       user), 0);
	assert_int_equal(sql_changes(f, "UPDATE sessions SET expires=1"), 1);
	assert_rc(store_session_check(f->st, sid2, user), -EACCES);
	/* and the next sign-in sweeps the expired row away */
	assert_rc(store_session_create(f->st, other, 3600000000000LL, sid,
				       user), 0);
	assert_int_equal(sql_changes(f, "UPDATE sessions SET created=created"),
			 1);
}

static void owner_keeps_a_space_reserve(void **state)
{
	struct fx *f = *state;
	char path[STORE_PATH_MAX];
	struct stat sb;

	snprintf(path, sizeof(path), "%s/reserve", f->dir);
	assert_int_equal(stat(path, &sb), 0);
	assert_true((int64_t)sb.st_blocks * 512 >= STORE_RESERVE_BYTES);
	/* a lost reserve comes back with the next owner, or the next upload */
	assert_int_equal(unlink(path), 0);
	reopen(f);
	assert_int_equal(stat(path, &sb), 0);
}

/* ==== tags ==== */

/* Live tree used by the tag tests:
 *   a/ (0700)  a/x.txt "xx"  a/pending (no commit)
 *   b/c/deep.txt "deep!"     empty/     top.txt "top" */
struct tree {
	int64_t a, x, pending, b, c, deep, empty, top;
	unsigned char sx[STORE_SHA_LEN], sdeep[STORE_SHA_LEN],
		      stop[STORE_SHA_LEN];
};

static void build_tree(struct fx *f, struct tree *t)
{
	int64_t root = f->ds.live_root;

	t->a = mk(f, root, "a", STORE_DIR, 0700);
	t->x = put(f, t->a, "x.txt", "xx", t->sx);
	t->pending = mkfile_pending(f, t->a, "pending");
	t->b = mkdir_node(f, root, "b");
	t->c = mkdir_node(f, t->b, "c");
	t->deep = put(f, t->c, "deep.txt", "deep!", t->sdeep);
	t->empty = mkdir_node(f, root, "empty");
	t->top = put(f, root, "top.txt", "top", t->stop);
}

static void tag_create_copies_committed_files_and_empty_dirs(void **state)
{
	struct fx *f = *state;
	static const char *const top[] = { "a", "b", "empty", "top.txt" };
	static const char *const in_a[] = { "x.txt" };
	struct tree t;
	struct store_tag tag, got;
	struct store_node n, a;
	int64_t files = -1, bytes = -1, ta, tx, tdeep;

	build_tree(f, &t);
	assert_rc(store_tag_create(f->st, f->ds.id, "v1", T1, &tag), 0);
	assert_string_equal(tag.name, "v1");
	assert_int_equal(tag.dataset, f->ds.id);
	assert_int_equal(tag.live, 0);
	assert_int_equal(tag.parent, f->ds.live_tree);
	assert_string_equal(tag.parent_name, "initial-tag");
	assert_int_equal(tag.created_ns, T1);
	assert_int_equal(tag.files, 3);
	assert_int_equal(tag.bytes, 2 + 5 + 3);
	assert_true(tag.root > 0 && tag.root != f->ds.live_root);
	assert_rc(store_tag_get(f->st, f->ds.id, "v1", &got), 0);
	assert_int_equal(got.id, tag.id);
	assert_int_equal(got.files, 3);
	assert_rc(store_tree_count(f->st, tag.id, &files, &bytes), 0);
	assert_int_equal(files, 3);
	assert_int_equal(bytes, 10);

	assert_children(f, tag.root, top, 4);
	ta = lookup_ino(f, tag.root, "a");
	assert_children(f, ta, in_a, 1);          /* pending not copied */
	assert_children(f, lookup_ino(f, tag.root, "empty"), NULL, 0);
	tx = lookup_ino(f, ta, "x.txt");
	tdeep = lookup_ino(f, lookup_ino(f, lookup_ino(f, tag.root, "b"), "c"),
			   "deep.txt");
	assert_true(tx != t.x && tdeep != t.deep);
	assert_path(f, tx, "a/x.txt");
	assert_path(f, tdeep, "b/c/deep.txt");
	assert_path(f, tag.root, "");

	assert_rc(store_node_get(f->st, tx, &n), 0);
	assert_int_equal(n.tree, tag.id);
	assert_int_equal(n.tree_live, 0);
	assert_int_equal(n.dataset, f->ds.id);
	assert_true(n.has_sha);
	assert_memory_equal(n.sha, t.sx, STORE_SHA_LEN);
	assert_int_equal(n.size, 2);
	assert_int_equal(n.mtime_ns, T2);
	assert_int_equal(n.mode, 0644);
	assert_rc(store_node_get(f->st, ta, &a), 0);
	assert_int_equal(a.mode, 0700);           /* folder attributes kept */
	assert_int_equal(a.uid, 1000);
	/* the live tree is untouched, pending file included */
	assert_int_equal(lookup_ino(f, t.a, "pending"), t.pending);
	assert_rc(store_tree_count(f->st, f->ds.live_tree, &files, &bytes), 0);
	assert_int_equal(files, 3);
	assert_int_equal(bytes, 10);
	/* blobs are shared, not copied */
	assert_int_equal(count_blobs(f), 3);
}

static void tag_list_initial_first_then_by_creation(void **state)
{
	struct fx *f = *state;
	struct store_tag *v;
	size_t n;

	assert_rc(store_tag_create(f->st, f->ds.id, "zz", T1, NULL), 0);
	assert_rc(store_tag_create(f->st, f->ds.id, "aa", T2, NULL), 0);
	assert_rc(store_tag_list(f->st, f->ds.id, &v, &n), 0);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].name, "initial-tag");
	assert_int_equal(v[0].live, 1);
	assert_string_equal(v[1].name, "zz");
	assert_string_equal(v[2].name, "aa");
	free(v);
}

static void tag_is_frozen_erofs(void **state)
{
	struct fx *f = *state;
	struct store_newnode nn = { .kind = STORE_DIR, .mode = 0755 };
	unsigned char sha[STORE_SHA_LEN];
	char staged[STORE_PATH_MAX];
	struct store_tag tag;
	struct store_node n;
	struct tree t;
	int64_t ta, tx;
	int fd;

	build_tree(f, &t);
	assert_rc(store_tag_create(f->st, f->ds.id, "v1", T1, &tag), 0);
	ta = lookup_ino(f, tag.root, "a");
	tx = lookup_ino(f, ta, "x.txt");

	assert_rc(store_node_create(f->st, tag.root, "new", &nn, NULL), -EROFS);
	assert_rc(store_node_create(f->st, ta, "new", &nn, NULL), -EROFS);
	assert_rc(store_node_remove(f->st, ta, "x.txt", 0), -EROFS);
	assert_rc(store_node_remove(f->st, tag.root, "empty", 1), -EROFS);
	assert_rc(store_node_rename(f->st, ta, "x.txt", ta, "y.txt", 0), -EROFS);
	assert_rc(store_node_rename(f->st, ta, "x.txt", t.a, "y.txt", 0), -EROFS);
	assert_rc(store_node_rename(f->st, t.a, "x.txt", ta, "y.txt", 0), -EROFS);
	assert_rc(store_node_setattr(f->st, tx, STORE_SET_MODE, 0777, 0, 0, 0, 0),
		  -EROFS);
	assert_rc(store_node_setattr(f->st, tag.root, STORE_SET_MTIME, 0, 0, 0,
				     T2, 0), -EROFS);

	fd = store_staging_create(f->st, staged, sizeof(staged));
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "evil", 4), 4);
	assert_rc(store_sha256_fd(fd, sha), 0);
	assert_rc(store_node_commit(f->st, tx, fd, staged, sha, 4, 0, 0),
		  -EROFS);
	close(fd);
	assert_false(exists(staged));
	assert_false(blob_exists(f, sha));

	assert_rc(store_node_get(f->st, tx, &n), 0);
	assert_string_equal(n.name, "x.txt");
	assert_int_equal(n.mode, 0644);
	assert_memory_equal(n.sha, t.sx, STORE_SHA_LEN);
	assert_path(f, tx, "a/x.txt");
	assert_int_equal(lookup_ino(f, t.a, "x.txt"), t.x);
}

static void tag_survives_live_overwrite_and_remove(void **state)
{
	struct fx *f = *state;
	unsigned char fresh[STORE_SHA_LEN];
	struct store_tag tag;
	struct store_node n;
	struct tree t;
	int64_t tx, ttop;

	build_tree(f, &t);
	assert_rc(store_tag_create(f->st, f->ds.id, "v1", T1, &tag), 0);
	tx = lookup_ino(f, lookup_ino(f, tag.root, "a"), "x.txt");
	ttop = lookup_ino(f, tag.root, "top.txt");

	commit_str(f, t.x, "changed", fresh);
	assert_rc(store_node_remove(f->st, f->ds.live_root, "top.txt", 0), 0);
	assert_rc(store_node_rename(f->st, f->ds.live_root, "b",
				    f->ds.live_root, "renamed", 0), 0);

	assert_rc(store_node_get(f->st, tx, &n), 0);
	assert_memory_equal(n.sha, t.sx, STORE_SHA_LEN);
	assert_int_equal(n.size, 2);
	assert_true(blob_exists(f, t.sx));
	assert_blob_content(f, t.sx, "xx");
	assert_rc(store_node_get(f->st, ttop, &n), 0);
	assert_memory_equal(n.sha, t.stop, STORE_SHA_LEN);
	assert_true(blob_exists(f, t.stop));
	assert_blob_content(f, t.stop, "top");
	assert_path(f, lookup_ino(f, lookup_ino(f, lookup_ino(f, tag.root,
			"b"), "c"), "deep.txt"), "b/c/deep.txt");
	assert_true(blob_exists(f, fresh));
}

static void tag_delete_collects_unreferenced_blobs(void **state)
{
	struct fx *f = *state;
	struct store_tag tag, got;
	struct store_node n;
	struct tree t;
	int64_t tx;

	build_tree(f, &t);
	assert_rc(store_tag_create(f->st, f->ds.id, "v1", T1, &tag), 0);
	tx = lookup_ino(f, lookup_ino(f, tag.root, "a"), "x.txt");
	assert_rc(store_node_remove(f->st, t.a, "x.txt", 0), 0);
	assert_true(blob_exists(f, t.sx));        /* the tag still uses it */

	assert_rc(store_tag_delete(f->st, tag.id), 0);
	assert_rc(store_tag_get(f->st, f->ds.id, "v1", &got), -ENOENT);
	assert_rc(store_tag_get_id(f->st, tag.id, &got), -ENOENT);
	assert_rc(store_node_get(f->st, tag.root, &n), -ENOENT);
	assert_rc(store_node_get(f->st, tx, &n), -ENOENT);
	assert_false(blob_exists(f, t.sx));
	/* blobs the live tree still uses stay */
	assert_true(blob_exists(f, t.sdeep));
	assert_true(blob_exists(f, t.stop));
	assert_int_equal(count_blobs(f), 2);
	assert_int_equal(lookup_ino(f, f->ds.live_root, "top.txt"), t.top);
	assert_rc(store_tag_delete(f->st, tag.id), -ENOENT);
}

static void tag_delete_parent_of_other_tag_is_enotempty(void **state)
{
	struct fx *f = *state;
	static const char *const one[] = { "top.txt" };
	struct store_tag v1, v2, got;
	struct tree t;

	build_tree(f, &t);
	assert_rc(store_tag_create(f->st, f->ds.id, "v1", T1, &v1), 0);
	assert_rc(store_selection_set(f->st, f->ds.id, v1.id, one, 1, NULL, NULL, 0),
		  0);
	assert_rc(store_tag_create(f->st, f->ds.id, "v2", T2, &v2), 0);
	assert_int_equal(v2.parent, v1.id);
	assert_rc(store_tag_delete(f->st, v1.id), -ENOTEMPTY);
	assert_rc(store_tag_get_id(f->st, v1.id, &got), 0);
	assert_rc(store_tag_delete(f->st, v2.id), 0);
	assert_rc(store_tag_delete(f->st, v1.id), 0);
}

static void tag_delete_initial_tag_is_eperm(void **state)
{
	struct fx *f = *state;
	struct store_tag got;

	assert_rc(store_tag_delete(f->st, f->ds.live_tree), -EPERM);
	assert_rc(store_tag_get_id(f->st, f->ds.live_tree, &got), 0);
	assert_int_equal(got.live, 1);
}

static void tag_create_duplicate_name_is_eexist(void **state)
{
	struct fx *f = *state;
	struct store_tag *v;
	size_t n;

	assert_rc(store_tag_create(f->st, f->ds.id, "v1", T1, NULL), 0);
	assert_rc(store_tag_create(f->st, f->ds.id, "v1", T2, NULL), -EEXIST);
	assert_rc(store_tag_create(f->st, f->ds.id, "initial-tag", T2, NULL),
		  -EEXIST);
	assert_rc(store_tag_list(f->st, f->ds.id, &v, &n), 0);
	free(v);
	assert_int_equal(n, 2);
}

static void tag_rename(void **state)
{
	struct fx *f = *state;
	struct store_tag v1, got;

	assert_rc(store_tag_create(f->st, f->ds.id, "v1", T1, &v1), 0);
	assert_rc(store_tag_create(f->st, f->ds.id, "v2", T1, NULL), 0);
	assert_rc(store_tag_rename(f->st, v1.id, "best"), 0);
	assert_rc(store_tag_get(f->st, f->ds.id, "v1", &got), -ENOENT);
	assert_rc(store_tag_get(f->st, f->ds.id, "best", &got), 0);
	assert_int_equal(got.id, v1.id);
	assert_rc(store_tag_rename(f->st, v1.id, "v2"), -EEXIST);
	/* initial-tag keeps its name */
	assert_true(store_tag_rename(f->st, f->ds.live_tree, "other") < 0);
	assert_rc(store_tag_get(f->st, f->ds.id, "initial-tag", &got), 0);
}

static void assert_hex24(const char *uid)
{
	if (strlen(uid) != 24 || strspn(uid, "0123456789abcdef") != 24)
		fail_msg("uid '%s' is not 24 lowercase hex digits", uid);
}

/* Tags have a public 24-hex uid like datasets, kept across reopens; a
 * catalog made before tag uids gets one for each of its tags on open. */
/* A tag's uid: 24 hex digits, the live tree's differs from the tag's, the
 * same after a reopen. */
static void tag_uid_stable_in(struct fx *f)
{
	struct store_tag live, v1, got;

	assert_rc(store_tag_create(f->st, f->ds.id, "v1", T1, &v1), 0);
	assert_rc(store_tag_get_id(f->st, f->ds.live_tree, &live), 0);
	assert_hex24(v1.uid);
	assert_hex24(live.uid);
	assert_string_not_equal(v1.uid, live.uid);
	reopen(f);
	assert_rc(store_tag_get(f->st, f->ds.id, "v1", &got), 0);
	assert_string_equal(got.uid, v1.uid);
	assert_rc(store_tag_get_id(f->st, f->ds.live_tree, &got), 0);
	assert_string_equal(got.uid, live.uid);
}

static void tag_uid_is_24_hex_and_stable(void **state)
{
	tag_uid_stable_in(*state);
}

static void tag_uid_is_24_hex_stable_and_migrated(void **state)
{
	struct fx *f = *state;
	struct store_tag got;
	char path[192], uid_live[25], uid_v1[25];
	sqlite3 *db;

	tag_uid_stable_in(f);
	/* an old catalog: the column is not there */
	store_close(f->st);
	f->st = NULL;
	snprintf(path, sizeof(path), "%s/catalog.db", f->dir);
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "DROP INDEX tags_uid;"
				      "ALTER TABLE tags DROP COLUMN uid",
				      NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	reopen(f);
	assert_rc(store_tag_get(f->st, f->ds.id, "v1", &got), 0);
	assert_hex24(got.uid);
	snprintf(uid_v1, sizeof(uid_v1), "%s", got.uid);
	assert_rc(store_tag_get_id(f->st, f->ds.live_tree, &got), 0);
	assert_hex24(got.uid);
	snprintf(uid_live, sizeof(uid_live), "%s", got.uid);
	assert_string_not_equal(uid_v1, uid_live);
	/* given once: the next open keeps them */
	reopen(f);
	assert_rc(store_tag_get(f->st, f->ds.id, "v1", &got), 0);
	assert_string_equal(got.uid, uid_v1);
	assert_rc(store_tag_get_id(f->st, f->ds.live_tree, &got), 0);
	assert_string_equal(got.uid, uid_live);
	/* and new tags get theirs as usual */
	assert_rc(store_tag_create(f->st, f->ds.id, "v2", T2, &got), 0);
	assert_hex24(got.uid);
}

static void tag_create_from_explicit_live_selection(void **state)
{
	struct fx *f = *state;
	static const char *const pick[] = { "top.txt", "b/c/deep.txt" };
	static const char *const top[] = { "a", "b", "empty", "top.txt" };
	static const char *const dirs[] = { "a", "b", "empty" };
	struct store_tag v1;
	struct store_node a;
	struct tree t;

	build_tree(f, &t);
	assert_rc(store_selection_set(f->st, f->ds.id, f->ds.live_tree, pick, 2,
				      NULL, NULL, 0), 0);
	assert_rc(store_tag_create(f->st, f->ds.id, "v1", T1, &v1), 0);
	assert_int_equal(v1.parent, f->ds.live_tree);
	assert_string_equal(v1.parent_name, "initial-tag");
	assert_int_equal(v1.files, 2);
	assert_int_equal(v1.bytes, 3 + 5);
	/* the picked files, and every folder of the source (issue 10 item 8:
	 * a loader mapping folders to classes sees the same classes) */
	assert_children(f, v1.root, top, 4);
	assert_rc(store_node_lookup(f->st, v1.root, "a", &a), 0);
	assert_children(f, a.ino, NULL, 0);         /* x.txt not picked */
	assert_int_equal(a.mode, 0700);             /* the source's mode */
	assert_path(f, lookup_ino(f, lookup_ino(f, lookup_ino(f, v1.root, "b"),
				  "c"), "deep.txt"), "b/c/deep.txt");
	/* the selection itself is left as it was */
	assert_selection(f, pick, 2);
	/* an empty explicit selection freezes the folders, no file */
	assert_rc(store_selection_set(f->st, f->ds.id, f->ds.live_tree, NULL, 0,
				      NULL, NULL, 0), 0);
	assert_rc(store_tag_create(f->st, f->ds.id, "none", T2, &v1), 0);
	assert_int_equal(v1.files, 0);
	assert_int_equal(v1.bytes, 0);
	assert_children(f, v1.root, dirs, 3);
	assert_rc(store_tag_create(f->st, f->ds.id + 1000, "x", T2, NULL),
		  -ENOENT);
}

/* tag_folders = SELECTED (issue 16 item 6): only the folders of selected
 * files, at any depth, with the source's attributes; persisted; the
 * default stays "every folder". */
static void tag_create_selected_folders_only(void **state)
{
	struct fx *f = *state;
	static const char *const pick[] = { "b/c/deep.txt" };
	static const char *const top_sel[] = { "b" };
	static const char *const top_whole[] = { "a", "b", "top.txt" };
	static const char *const top_all[] = { "a", "b", "empty" };
	struct store_dataset d;
	struct store_tag v;
	struct store_node a;
	struct tree t;

	build_tree(f, &t);
	assert_rc(store_dataset_get_id(f->st, f->ds.id, &d), 0);
	assert_int_equal(d.tag_folders, STORE_TAG_FOLDERS_ALL);
	assert_rc(store_dataset_set_tag_folders(f->st, f->ds.id,
						STORE_TAG_FOLDERS_SELECTED), 0);
	assert_rc(store_dataset_set_tag_folders(f->st, f->ds.id + 1000,
						STORE_TAG_FOLDERS_SELECTED),
		  -ENOENT);
	reopen(f);
	assert_rc(store_dataset_get_id(f->st, f->ds.id, &d), 0);
	assert_int_equal(d.tag_folders, STORE_TAG_FOLDERS_SELECTED);
	/* no explicit selection: every file, and the folders holding one
	 * (not "empty") */
	assert_rc(store_tag_create(f->st, f->ds.id, "whole", T1, &v), 0);
	assert_int_equal(v.files, 3);
	assert_children(f, v.root, top_whole, 3);
	assert_rc(store_node_lookup(f->st, v.root, "a", &a), 0);
	assert_int_equal(a.mode, 0700);             /* the source's mode */
	assert_rc(store_selection_set(f->st, f->ds.id, f->ds.live_tree, pick, 1,
				      NULL, NULL, 0), 0);
	assert_rc(store_tag_create(f->st, f->ds.id, "sel", T1, &v), 0);
	assert_int_equal(v.files, 1);
	assert_children(f, v.root, top_sel, 1);
	assert_path(f, lookup_ino(f, lookup_ino(f, lookup_ino(f, v.root, "b"),
				  "c"), "deep.txt"), "b/c/deep.txt");
	/* back to all: every folder again */
	assert_rc(store_dataset_set_tag_folders(f->st, f->ds.id,
						STORE_TAG_FOLDERS_ALL), 0);
	assert_rc(store_tag_create(f->st, f->ds.id, "all", T2, &v), 0);
	assert_children(f, v.root, top_all, 3);
}

/* ==== embeddings ==== */

struct got_vec {
	int n;
	char path[4][64];
	int64_t label[4];
};

static int collect_vec(void *arg, const char *path, const float *vec,
		       int64_t label)
{
	struct got_vec *g = arg;

	(void)vec;
	if (g->n == 4)
		return -E2BIG;
	snprintf(g->path[g->n], sizeof(g->path[0]), "%s", path);
	g->label[g->n++] = label;
	return 0;
}

/* Rows naming no committed file (unknown path, folder, pending upload) are
 * skipped and reported; nothing matching is -ENOENT and changes nothing;
 * labels are int64 in and out; a matrix carries their ranks. */
static void embedding_put_skips_rows_naming_no_sample(void **state)
{
	struct fx *f = *state;
	static const char *const paths[] = { "a/x.txt", "gone.txt", "a",
					     "a/pending", "b/c/deep.txt",
					     "top.txt", "zz" };
	const int64_t labels[] = { INT64_MAX, 1, 2, 3, INT64_MAX, INT64_MIN,
				   4 };
	static const char *const nope[] = { "nope", "also/nope" };
	static const char *const dup[] = { "top.txt", "top.txt" };
	float x[7 * 2] = { 0 };
	struct store_emb_skip sk;
	struct store_embedding e, got;
	struct store_matrix m;
	struct got_vec g = { 0 };
	struct tree t;
	size_t bad = 99;

	build_tree(f, &t);
	assert_rc(store_embedding_put(f->st, f->ds.id, f->ds.live_tree, "e",
				      7, 2, paths, x, labels, &bad, &sk, &e), 0);
	assert_int_equal(e.rows, 3);
	assert_int_equal(sk.n, 4);
	assert_int_equal(sk.first[0], 1);
	assert_int_equal(sk.first[1], 2);
	assert_int_equal(sk.first[2], 3);
	assert_rc(store_embedding_each(f->st, e.id, collect_vec, &g), 0);
	assert_int_equal(g.n, 3);
	assert_string_equal(g.path[0], "a/x.txt");
	assert_true(g.label[0] == INT64_MAX);
	assert_string_equal(g.path[2], "top.txt");
	assert_true(g.label[2] == INT64_MIN);
	assert_rc(store_matrix_load(f->st, e.id, f->ds.live_tree, &m), 0);
	assert_int_equal(m.n, 3);
	assert_int_equal(m.labels[0], 1);     /* INT64_MAX: above ... */
	assert_int_equal(m.labels[1], 1);     /* ... equal to it ... */
	assert_int_equal(m.labels[2], 0);     /* INT64_MIN: the lowest */
	store_matrix_free(&m);

	/* nothing matches: -ENOENT, the embedding of that name unchanged */
	assert_rc(store_embedding_put(f->st, f->ds.id, f->ds.live_tree, "e",
				      2, 2, nope, x, labels, &bad, &sk, NULL),
		  -ENOENT);
	assert_int_equal(sk.n, 2);
	assert_rc(store_embedding_get(f->st, f->ds.id, "e", &got), 0);
	assert_int_equal(got.rows, 3);
	/* a path twice: -EINVAL naming the second */
	assert_rc(store_embedding_put(f->st, f->ds.id, f->ds.live_tree, "e",
				      2, 2, dup, x, labels, &bad, NULL, NULL),
		  -EINVAL);
	assert_int_equal(bad, 1);
	assert_rc(store_embedding_get(f->st, f->ds.id, "e", &got), 0);
	assert_int_equal(got.rows, 3);
}

/* ==== selection ==== */

static void selection_default_is_committed_files_sorted_by_path(void **state)
{
	struct fx *f = *state;
	static const char *const want[] = { "a/x.txt", "b/c/deep.txt",
					    "top.txt" };
	struct store_dataset d;
	struct tree t;

	assert_selection(f, NULL, 0);
	build_tree(f, &t);
	assert_selection(f, want, 3);
	d = reload_ds(f);
	assert_int_equal(d.sel_explicit, 0);
	assert_int_equal(d.sel_tree, f->ds.live_tree);
}

static void selection_each_stops_early_with_callback_value(void **state)
{
	struct fx *f = *state;
	struct paths ps = { .stop_at = 2 };
	struct tree t;

	build_tree(f, &t);
	assert_int_equal(store_selection_each(f->st, f->ds.id, collect_path,
					      &ps), 7);
	assert_int_equal(ps.n, 2);
}

static void selection_set_keeps_order(void **state)
{
	struct fx *f = *state;
	static const char *const want[] = { "top.txt", "a/x.txt" };
	struct store_dataset d;
	struct tree t;
	char msg[STORE_ERRMSG] = "";

	build_tree(f, &t);
	assert_rc(store_selection_set(f->st, f->ds.id, f->ds.live_tree, want,
				      2, NULL, msg, sizeof(msg)), 0);
	assert_selection(f, want, 2);
	d = reload_ds(f);
	assert_int_equal(d.sel_explicit, 1);
	assert_int_equal(d.sel_tree, f->ds.live_tree);

	/* a new list replaces the old one */
	assert_rc(store_selection_set(f->st, f->ds.id, f->ds.live_tree,
				      &want[1], 1, NULL, msg, sizeof(msg)), 0);
	assert_selection(f, &want[1], 1);
	/* and an empty list selects nothing */
	assert_rc(store_selection_set(f->st, f->ds.id, f->ds.live_tree, NULL,
				      0, NULL, msg, sizeof(msg)), 0);
	assert_selection(f, NULL, 0);
}

/* Sets a valid selection, then tries `paths` and checks it fails with -EINVAL,
 * *bad = want_bad, a message containing `needle`, and the selection as it
 * was. */
static void check_rejected(struct fx *f, const char *const *paths, size_t n,
			   size_t want_bad, const char *needle)
{
	static const char *const good[] = { "b/c/deep.txt", "top.txt" };
	char msg[STORE_ERRMSG] = "";
	struct store_dataset d;
	size_t bad = 999;

	assert_rc(store_selection_set(f->st, f->ds.id, f->ds.live_tree, good,
				      2, NULL, NULL, 0), 0);
	assert_rc(store_selection_set(f->st, f->ds.id, f->ds.live_tree, paths,
				      n, &bad, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(bad, want_bad);
	if (!strstr(msg, needle))
		fail_msg("message '%s' does not name '%s'", msg, needle);
	assert_selection(f, good, 2);
	d = reload_ds(f);
	assert_int_equal(d.sel_explicit, 1);
	assert_int_equal(d.sel_tree, f->ds.live_tree);
	/* bad and msg are optional */
	assert_rc(store_selection_set(f->st, f->ds.id, f->ds.live_tree, paths,
				      n, NULL, NULL, 0), -EINVAL);
	assert_selection(f, good, 2);
}

static void selection_set_unknown_path_is_einval(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = { "a/x.txt", "no/such.jpg" };
	struct tree t;

	build_tree(f, &t);
	check_rejected(f, bad, 2, 1, "no/such.jpg");
}

static void selection_set_directory_is_einval(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = { "top.txt", "b/c" };
	struct tree t;

	build_tree(f, &t);
	check_rejected(f, bad, 2, 1, "'b/c'");
}

static void selection_set_empty_string_is_einval(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = { "top.txt", "" };
	struct tree t;

	build_tree(f, &t);
	check_rejected(f, bad, 2, 1, "''");
}

static void selection_set_duplicate_is_einval(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = { "top.txt", "a/x.txt", "top.txt" };
	struct tree t;

	build_tree(f, &t);
	check_rejected(f, bad, 3, 2, "top.txt");
}

/* Appending (store_selection_set_once): a path listed again keeps its
 * first place; an unknown one is still refused and changes nothing. */
static void selection_set_once_keeps_first(void **state)
{
	struct fx *f = *state;
	static const char *const twice[] = { "top.txt", "a/x.txt", "top.txt" };
	static const char *const want[] = { "top.txt", "a/x.txt" };
	static const char *const bad[] = { "top.txt", "nope.txt" };
	size_t badi = 9;
	struct tree t;

	build_tree(f, &t);
	assert_rc(store_selection_set_once(f->st, f->ds.id, f->ds.live_tree,
					   twice, 3, NULL, NULL, 0), 0);
	assert_selection(f, want, 2);
	assert_rc(store_selection_set_once(f->st, f->ds.id, f->ds.live_tree,
					   bad, 2, &badi, NULL, 0), -EINVAL);
	assert_int_equal(badi, 1);
	assert_selection(f, want, 2);
}

/* store_selection_append: new paths after the rows there, which stay;
 * one already selected is skipped; a bad one changes nothing. */
static void selection_append_adds_after(void **state)
{
	struct fx *f = *state;
	static const char *const first[] = { "a/x.txt" };
	static const char *const more[] = { "top.txt", "a/x.txt" };
	static const char *const want[] = { "a/x.txt", "top.txt" };
	static const char *const bad[] = { "b/c/deep.txt", "nope.txt" };
	size_t badi = 9;
	struct tree t;

	build_tree(f, &t);
	assert_rc(store_selection_set(f->st, f->ds.id, f->ds.live_tree,
				      first, 1, NULL, NULL, 0), 0);
	assert_rc(store_selection_append(f->st, f->ds.id, f->ds.live_tree,
					 more, 2, NULL, NULL, 0), 0);
	assert_selection(f, want, 2);
	assert_rc(store_selection_append(f->st, f->ds.id, f->ds.live_tree,
					 bad, 2, &badi, NULL, 0), -EINVAL);
	assert_int_equal(badi, 1);
	assert_selection(f, want, 2);
}

static void selection_set_pending_file_is_einval(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = { "a/pending" };
	struct tree t;

	build_tree(f, &t);
	check_rejected(f, bad, 1, 0, "a/pending");
}

static void selection_set_failure_keeps_default(void **state)
{
	struct fx *f = *state;
	static const char *const bad[] = { "nope" };
	static const char *const all[] = { "a/x.txt", "b/c/deep.txt",
					   "top.txt" };
	char msg[STORE_ERRMSG] = "";
	struct store_dataset d;
	struct tree t;
	size_t idx = 999;

	build_tree(f, &t);
	assert_rc(store_selection_set(f->st, f->ds.id, f->ds.live_tree, bad, 1,
				      &idx, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(idx, 0);
	assert_non_null(strstr(msg, "nope"));
	d = reload_ds(f);
	assert_int_equal(d.sel_explicit, 0);
	assert_selection(f, all, 3);
}

static void selection_set_tree_of_other_dataset_is_einval(void **state)
{
	struct fx *f = *state;
	struct store_dataset other;
	static const char *const one[] = { "top.txt" };
	struct tree t;

	build_tree(f, &t);
	assert_rc(store_dataset_create(f->st, "alice", "other", &other), 0);
	assert_rc(store_selection_set(f->st, other.id, f->ds.live_tree, one, 1, NULL,
				      NULL, 0), -EINVAL);
	assert_true(store_selection_set(f->st, f->ds.id, f->ds.live_tree +
					1000, one, 1, NULL, NULL, 0) < 0);
	assert_int_equal(reload_ds(f).sel_explicit, 0);
}

static void selection_from_frozen_tag_becomes_parent_of_new_tag(void **state)
{
	struct fx *f = *state;
	static const char *const pick[] = { "b/c/deep.txt", "a/x.txt" };
	static const char *const top[] = { "a", "b", "empty" };
	struct store_tag v1, v2;
	struct store_dataset d;
	struct tree t;
	int64_t files, bytes;

	build_tree(f, &t);
	assert_rc(store_tag_create(f->st, f->ds.id, "v1", T1, &v1), 0);
	/* the live tree changes after v1; the selection reads v1 */
	commit_str(f, t.x, "live only", NULL);
	assert_rc(store_selection_set(f->st, f->ds.id, v1.id, pick, 2, NULL, NULL, 0),
		  0);
	d = reload_ds(f);
	assert_int_equal(d.sel_tree, v1.id);
	assert_int_equal(d.sel_explicit, 1);
	assert_selection(f, pick, 2);

	assert_rc(store_tag_create(f->st, f->ds.id, "v2", T2, &v2), 0);
	assert_int_equal(v2.parent, v1.id);
	assert_string_equal(v2.parent_name, "v1");
	assert_int_equal(v2.files, 2);
	assert_int_equal(v2.bytes, 2 + 5);
	assert_rc(store_tree_count(f->st, v2.id, &files, &bytes), 0);
	assert_int_equal(files, 2);
	assert_int_equal(bytes, 7);
	assert_children(f, v2.root, top, 3);       /* v1's folders, no top.txt */
	{
		struct store_node n;
		int64_t a = lookup_ino(f, v2.root, "a");
		assert_rc(store_node_lookup(f->st, a, "x.txt", &n), 0);
		assert_memory_equal(n.sha, t.sx, STORE_SHA_LEN);  /* v1's bytes */
		assert_path(f, n.ino, "a/x.txt");
		assert_rc(store_node_get(f->st, a, &n), 0);
		assert_int_equal(n.mode, 0700);
	}
}

static void tag_delete_resets_selection_taken_from_it(void **state)
{
	struct fx *f = *state;
	static const char *const pick[] = { "top.txt" };
	static const char *const all[] = { "a/x.txt", "b/c/deep.txt",
					   "top.txt" };
	struct store_dataset d;
	struct store_tag v1;
	struct tree t;

	build_tree(f, &t);
	assert_rc(store_tag_create(f->st, f->ds.id, "v1", T1, &v1), 0);
	assert_rc(store_selection_set(f->st, f->ds.id, v1.id, pick, 1, NULL, NULL, 0),
		  0);
	assert_rc(store_tag_delete(f->st, v1.id), 0);
	d = reload_ds(f);
	assert_int_equal(d.sel_explicit, 0);
	assert_int_equal(d.sel_tree, f->ds.live_tree);
	assert_selection(f, all, 3);
}

static void selection_reset_returns_to_default(void **state)
{
	struct fx *f = *state;
	static const char *const pick[] = { "top.txt" };
	static const char *const all[] = { "a/x.txt", "b/c/deep.txt",
					   "top.txt" };
	struct store_dataset d;
	struct store_tag v1;
	struct tree t;

	build_tree(f, &t);
	assert_rc(store_tag_create(f->st, f->ds.id, "v1", T1, &v1), 0);
	assert_rc(store_selection_set(f->st, f->ds.id, v1.id, pick, 1, NULL, NULL, 0),
		  0);
	assert_rc(store_selection_reset(f->st, f->ds.id), 0);
	d = reload_ds(f);
	assert_int_equal(d.sel_explicit, 0);
	assert_int_equal(d.sel_tree, f->ds.live_tree);
	assert_selection(f, all, 3);
}

static void removing_selected_live_file_drops_it(void **state)
{
	struct fx *f = *state;
	static const char *const pick[] = { "top.txt", "a/x.txt" };
	struct tree t;

	build_tree(f, &t);
	assert_rc(store_selection_set(f->st, f->ds.id, f->ds.live_tree, pick, 2, NULL,
				      NULL, 0), 0);
	assert_rc(store_node_remove(f->st, f->ds.live_root, "top.txt", 0), 0);
	assert_selection(f, &pick[1], 1);
	/* a renamed selected file keeps its place under its new path */
	assert_rc(store_node_rename(f->st, t.a, "x.txt", f->ds.live_root,
				    "moved.txt", 0), 0);
	{
		static const char *const want[] = { "moved.txt" };
		assert_selection(f, want, 1);
	}
}

/* ==== events ==== */

struct events {
	int n, bad_order;
	int64_t last_ts;
	int levels[8];
	char first[64], last[64];
};

static int collect_event(void *arg, int64_t ts, int level, const char *msg)
{
	struct events *e = arg;

	if (ts < e->last_ts)
		e->bad_order = 1;
	e->last_ts = ts;
	if (e->n < 8)
		e->levels[e->n] = level;
	if (e->n == 0)
		snprintf(e->first, sizeof(e->first), "%s", msg);
	snprintf(e->last, sizeof(e->last), "%s", msg);
	e->n++;
	return 0;
}

static void events_each_oldest_first_with_limit(void **state)
{
	struct fx *f = *state;
	struct store_dataset other;
	struct events e = { 0 };
	int64_t t0 = store_now_ns();

	assert_rc(store_event_add(f->st, f->ds.id, STORE_INFO, "one"), 0);
	assert_rc(store_event_add(f->st, f->ds.id, STORE_ERROR, "two"), 0);
	assert_rc(store_event_add(f->st, f->ds.id, STORE_INFO, "three"), 0);
	assert_rc(store_dataset_create(f->st, "alice", "other", &other), 0);
	assert_rc(store_event_add(f->st, other.id, STORE_INFO, "elsewhere"), 0);

	assert_rc(store_event_each(f->st, f->ds.id, 10, collect_event, &e), 0);
	assert_int_equal(e.n, 3);
	assert_string_equal(e.first, "one");
	assert_string_equal(e.last, "three");
	assert_int_equal(e.levels[0], STORE_INFO);
	assert_int_equal(e.levels[1], STORE_ERROR);
	assert_false(e.bad_order);
	assert_true(e.last_ts >= t0);

	memset(&e, 0, sizeof(e));
	assert_rc(store_event_each(f->st, f->ds.id, 2, collect_event, &e), 0);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.first, "two");
	assert_string_equal(e.last, "three");
}

static void events_trimmed_to_newest_1000(void **state)
{
	struct fx *f = *state;
	struct store_dataset other;
	struct events e = { 0 };
	char msg[32];

	assert_rc(store_dataset_create(f->st, "alice", "other", &other), 0);
	assert_rc(store_event_add(f->st, other.id, STORE_INFO, "keep me"), 0);
	for (int i = 0; i < 1005; i++) {
		snprintf(msg, sizeof(msg), "event %d", i);
		assert_rc(store_event_add(f->st, f->ds.id, STORE_INFO, msg), 0);
	}
	assert_rc(store_event_each(f->st, f->ds.id, 5000, collect_event, &e),
		  0);
	assert_int_equal(e.n, 1000);
	assert_string_equal(e.first, "event 5");
	assert_string_equal(e.last, "event 1004");
	assert_false(e.bad_order);
	/* trimming one dataset's log leaves the others alone */
	memset(&e, 0, sizeof(e));
	assert_rc(store_event_each(f->st, other.id, 5000, collect_event, &e),
		  0);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.first, "keep me");
}

/* ==== threads ==== */

#define NTHREADS 4
#define PER_THREAD 20

struct worker {
	store *st;
	int64_t dir;
	int id, rc;
	unsigned char shared[STORE_SHA_LEN];
};

/* Uploads PER_THREAD files into its own folder: even ones all have the same
 * bytes (dedupe across threads), odd ones unique bytes; reads as it goes. */
static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct store_newnode nn = { .kind = STORE_FILE, .mode = 0644 };

	for (int i = 0; i < PER_THREAD && !w->rc; i++) {
		char name[32], data[64], staged[STORE_PATH_MAX];
		unsigned char sha[STORE_SHA_LEN];
		struct store_node n;
		size_t len;
		int fd;

		snprintf(name, sizeof(name), "f%02d", i);
		len = (size_t)snprintf(data, sizeof(data), i % 2 ? "t%d-%d" :
				       "shared", w->id, i);
		w->rc = store_node_create(w->st, w->dir, name, &nn, &n);
		if (w->rc)
			break;
		fd = store_staging_create(w->st, staged, sizeof(staged));
		if (fd < 0 || write(fd, data, len) != (ssize_t)len ||
		    store_sha256_fd(fd, sha)) {
			w->rc = fd < 0 ? fd : -EIO;
			if (fd >= 0)
				close(fd);
			break;
		}
		w->rc = store_node_commit(w->st, n.ino, fd, staged, sha,
					  (int64_t)len, 0, 0);
		close(fd);
		if (!w->rc && i % 2 == 0)
			memcpy(w->shared, sha, STORE_SHA_LEN);
		if (!w->rc)
			w->rc = store_node_lookup(w->st, w->dir, name, &n);
		if (!w->rc && !n.has_sha)
			w->rc = -EIO;
	}
	return NULL;
}

static void threads_upload_concurrently(void **state)
{
	struct fx *f = *state;
	struct worker w[NTHREADS];
	pthread_t th[NTHREADS];
	int64_t files, bytes;

	for (int i = 0; i < NTHREADS; i++) {
		char name[16];
		snprintf(name, sizeof(name), "t%d", i);
		w[i] = (struct worker){ .st = f->st, .id = i,
					.dir = mkdir_node(f, f->ds.live_root,
							  name) };
		assert_int_equal(pthread_create(&th[i], NULL, worker_main,
						&w[i]), 0);
	}
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_join(th[i], NULL), 0);
	for (int i = 0; i < NTHREADS; i++) {
		struct store_node *v;
		size_t n;
		assert_rc(w[i].rc, 0);
		assert_rc(store_node_children(f->st, w[i].dir, &v, &n), 0);
		free(v);
		assert_int_equal(n, PER_THREAD);
		assert_memory_equal(w[i].shared, w[0].shared, STORE_SHA_LEN);
	}
	assert_rc(store_tree_count(f->st, f->ds.live_tree, &files, &bytes), 0);
	assert_int_equal(files, NTHREADS * PER_THREAD);
	/* one shared blob plus one per odd file */
	assert_int_equal(count_blobs(f), 1 + NTHREADS * PER_THREAD / 2);
	assert_int_equal(count_staging(f), 0);
	assert_blob_content(f, w[0].shared, "shared");
}

/* ==== modes and pending uploads ==== */

static unsigned mode_of(const char *dir, const char *rel)
{
	char path[STORE_PATH_MAX];
	struct stat sb;

	snprintf(path, sizeof(path), "%s%s%s", dir, *rel ? "/" : "", rel);
	assert_int_equal(lstat(path, &sb), 0);
	return (unsigned)(sb.st_mode & 07777);
}

/* Whatever the umask, a new store is owner-only; an older store with wide
 * modes is narrowed by the owner's open (not by an admin open). */
static void modes_owner_only_and_repaired(void **state)
{
	struct fx *f = *state;
	char path[STORE_PATH_MAX], dir2[160];
	unsigned char sha[STORE_SHA_LEN];
	mode_t old = umask(0);
	store *adm = NULL;

	put(f, f->ds.live_root, "x", "bytes", sha);
	snprintf(dir2, sizeof(dir2), "%s/new", f->tmp);
	store_close(f->st);
	f->st = NULL;
	assert_rc(store_open(dir2, STORE_OPEN_OWNER, &f->st, NULL, 0), 0);
	umask(old);
	assert_int_equal(mode_of(dir2, ""), 0700);
	assert_int_equal(mode_of(dir2, "blobs"), 0700);
	assert_int_equal(mode_of(dir2, "blobs/ab"), 0700);
	assert_int_equal(mode_of(dir2, "staging"), 0700);
	assert_int_equal(mode_of(dir2, "catalog.db"), 0600);
	assert_int_equal(mode_of(dir2, "lock"), 0600);
	store_close(f->st);
	f->st = NULL;

	/* the fixture's store, made old-style by hand */
	blob_file(f, sha, path, sizeof(path));
	assert_int_equal(chmod(path, 0644), 0);
	snprintf(path, sizeof(path), "%s/blobs", f->dir);
	assert_int_equal(chmod(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/catalog.db", f->dir);
	assert_int_equal(chmod(path, 0664), 0);
	assert_int_equal(chmod(f->dir, 0777), 0);
	snprintf(path, sizeof(path), "%s/notes.txt", f->dir);   /* not ours */
	close(open(path, O_CREAT | O_WRONLY, 0644));
	assert_int_equal(chmod(path, 0644), 0);
	assert_rc(store_open(f->dir, STORE_OPEN_ADMIN, &adm, NULL, 0), 0);
	store_close(adm);
	assert_int_equal(mode_of(f->dir, ""), 0777);   /* admin: untouched */
	reopen(f);
	assert_int_equal(mode_of(f->dir, ""), 0700);
	assert_int_equal(mode_of(f->dir, "blobs"), 0700);
	assert_int_equal(mode_of(f->dir, "catalog.db"), 0600);
	assert_int_equal(mode_of(f->dir, "notes.txt"), 0644);
	blob_file(f, sha, path, sizeof(path));
	assert_int_equal(mode_of(path, ""), 0600);
}

/* PUT-style bytes (store_blob_put with a user) into *sha. */
static void put_blob(struct fx *f, const char *user, const char *data,
		     unsigned char *sha)
{
	char staged[STORE_PATH_MAX];
	int fd = store_staging_create(f->st, staged, sizeof(staged));

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, strlen(data)), strlen(data));
	assert_rc(store_sha256_fd(fd, sha), 0);
	assert_rc(store_blob_put(f->st, fd, staged, sha, user), 0);
	close(fd);
}

static void pending_counted_until_named_and_swept_after_grace(void **state)
{
	struct fx *f = *state;
	unsigned char a[STORE_SHA_LEN], b[STORE_SHA_LEN], c[STORE_SHA_LEN];
	int64_t bytes, ino;
	size_t n, gone;
	int fd;

	put_blob(f, "dave", "aaaa", a);
	put_blob(f, "dave", "bbbbbb", b);
	put_blob(f, "erin", "aaaa", a);       /* the same bytes, another user */
	assert_rc(store_blob_pending(f->st, "dave", &n, &bytes), 0);
	assert_int_equal(n, 2);
	assert_int_equal(bytes, 10);
	assert_int_equal(store_blob_granted(f->st, "dave", b), 1);

	/* a commit names b: no longer pending (trigger) */
	ino = mkfile_pending(f, f->ds.live_root, "b");
	fd = store_blob_open(f->st, b);      /* as the server commits */
	assert_true(fd >= 0);
	assert_rc(store_node_commit(f->st, ino, fd, "", b, 6, T2, 0), 0);
	close(fd);
	assert_rc(store_blob_pending(f->st, "dave", &n, &bytes), 0);
	assert_int_equal(n, 1);
	assert_int_equal(bytes, 4);

	/* within the grace nothing goes */
	assert_rc(store_blob_sweep(f->st, 3600ll * 1000000000, &gone, &bytes), 0);
	assert_int_equal(gone, 0);
	assert_true(blob_exists(f, a));

	/* a named blob sent again is not pending */
	put_blob(f, "dave", "bbbbbb", b);
	put_blob(f, "dave", "cc", c);
	assert_rc(store_blob_sweep(f->st, 0, &gone, &bytes), 0);
	assert_int_equal(gone, 2);           /* a (dave's and erin's), c */
	assert_int_equal(bytes, 6);
	assert_false(blob_exists(f, a));
	assert_false(blob_exists(f, c));
	assert_true(blob_exists(f, b));
	assert_int_equal(store_blob_granted(f->st, "dave", a), 0);
	assert_int_equal(store_blob_granted(f->st, "erin", a), 0);
	assert_int_equal(store_blob_granted(f->st, "dave", b), 1);
	assert_rc(store_blob_pending(f->st, "dave", &n, &bytes), 0);
	assert_int_equal(n, 0);
	assert_rc(store_blob_pending(f->st, "erin", &n, &bytes), 0);
	assert_int_equal(n, 0);
}

/* Collection at the owner's open forgets the pending rows too. */
static void pending_rows_go_with_the_blob_at_open(void **state)
{
	struct fx *f = *state;
	unsigned char a[STORE_SHA_LEN];
	int64_t bytes;
	size_t n;

	put_blob(f, "dave", "aaaa", a);
	reopen(f);
	assert_false(blob_exists(f, a));
	assert_rc(store_blob_pending(f->st, "dave", &n, &bytes), 0);
	assert_int_equal(n, 0);
}

/* ---- runner ---- */

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(open_creates_layout),
		T(sessions_follow_their_token),
		T(open_reopen_keeps_datasets_and_nodes),
		T(open_on_regular_file_fails_with_message),
		T(open_creates_missing_parents),
		T(open_below_regular_file_fails_with_message),
		T(statvfs_and_close_null),

		T(dataset_create_has_live_initial_tag_with_root),
		T(dataset_get_and_get_id_agree),
		T(dataset_get_unknown_is_enoent),
		T(dataset_create_duplicate_is_eexist),
		T(dataset_list_sorted_by_name_per_owner),
		T(dataset_rename),
		T(dataset_delete_empty_removes_everything),
		T(dataset_delete_with_committed_file_is_enotempty),
		T(dataset_delete_with_tag_is_enotempty),

		T(node_create_dir_and_file_under_live_root),
		T(node_create_mtime_zero_means_now),
		T(node_lookup_finds_child_or_enoent),
		T(node_children_sorted_by_name),
		T(node_path_of_nested_nodes),
		T(node_create_duplicate_is_eexist),
		T(node_create_bad_parent),
		T(node_remove_file_and_empty_dir),
		T(node_rmdir_non_empty_is_enotempty),
		T(node_unlink_dir_is_eisdir),
		T(node_rmdir_file_is_enotdir),
		T(node_rename_file),
		T(node_rename_dir_rewrites_descendant_paths),
		T(node_rename_non_ascii_dir_rewrites_descendant_paths),
		T(node_rename_subtree_of_byte_names),
		T(node_rename_dir_lengthens_descendant_paths),
		T(node_rename_over_existing_file_replaces_it),
		T(node_rename_noreplace),
		T(node_rename_dir_into_own_subtree_is_einval),
		T(node_rename_kind_mismatch_and_nonempty_target),
		T(node_rename_across_datasets_is_exdev),
		T(node_setattr_mode_uid_gid_mtime),
		T(node_setattr_atime_apart_from_mtime),
		T(node_subdirs_counted),

		T(gen_moves_with_every_change_of_a_child),
		T(gen_ignores_path_rewrites_below_a_renamed_dir),
		T(gen_moves_when_a_thumbnail_appears),
		T(blob_source_follows_grants),

		T(sha256_and_hex_known_vector),
		T(staging_create_makes_distinct_unnamed_files),
		T(commit_sets_sha_size_and_blob_reads_back),
		T(blob_open_unknown_sha_is_enoent),
		T(commit_identical_bytes_dedupes),
		T(commit_overwrite_keeps_blob_of_other_node),
		T(commit_overwrite_collects_unreferenced_old_blob),
		T(remove_last_reference_unlinks_blob),
		T(commit_to_dir_fails_and_removes_staged),

		T(reopen_recovers_from_crash),
		T(second_owner_is_refused_with_pid),
		T(admin_open_beside_owner_recovers_nothing),
		T(admin_open_without_owner_works),
		T(owner_keeps_a_space_reserve),

		T(tag_create_copies_committed_files_and_empty_dirs),
		T(tag_list_initial_first_then_by_creation),
		T(tag_is_frozen_erofs),
		T(tag_survives_live_overwrite_and_remove),
		T(tag_delete_collects_unreferenced_blobs),
		T(tag_delete_parent_of_other_tag_is_enotempty),
		T(tag_delete_initial_tag_is_eperm),
		T(tag_create_duplicate_name_is_eexist),
		T(tag_rename),
		T(tag_create_from_explicit_live_selection),
		T(tag_create_selected_folders_only),
		T(embedding_put_skips_rows_naming_no_sample),

		T(selection_default_is_committed_files_sorted_by_path),
		T(selection_each_stops_early_with_callback_value),
		T(selection_set_keeps_order),
		T(selection_set_unknown_path_is_einval),
		T(selection_set_directory_is_einval),
		T(selection_set_empty_string_is_einval),
		T(selection_set_duplicate_is_einval),
		T(selection_set_once_keeps_first),
		T(selection_append_adds_after),
		T(selection_set_pending_file_is_einval),
		T(selection_set_failure_keeps_default),
		T(selection_set_tree_of_other_dataset_is_einval),
		T(selection_from_frozen_tag_becomes_parent_of_new_tag),
		T(tag_delete_resets_selection_taken_from_it),
		T(selection_reset_returns_to_default),
		T(removing_selected_live_file_drops_it),

		T(events_each_oldest_first_with_limit),
		T(events_trimmed_to_newest_1000),

		T(threads_upload_concurrently),

		T(pending_counted_until_named_and_swept_after_grace),
		T(pending_rows_go_with_the_blob_at_open),
		T(thumbs_one_per_sender),
		T(tag_uid_is_24_hex_and_stable),
	};
	/* about the SQLite file: an older catalog.db planted with sqlite3
	 * and upgraded at open, the file's modes, a file that is no catalog
	 * (tstore.h) */
	const struct CMUnitTest sqlite_file[] = {
		T(open_on_foreign_catalog_fails_with_message),
		T(open_migrates_catalog_without_atime),
		T(thumbs_one_per_sender_of_an_older_catalog),
		T(features_of_the_old_keying_dropped_on_open),
		T(features_kept_in_leaves),
		T(gen_added_to_an_older_catalog),
		T(tag_uid_is_24_hex_stable_and_migrated),
		T(modes_owner_only_and_repaired),
		T(write_stops_at_first_failed_statement),
	};
	return TSTORE_RUN_GROUP("store", tests, sqlite_file, NULL, NULL);
}
