/*
 * serve.c — core/serve.h over store/: the owner checks of ids the server
 * is given, pages, change counters, runs, kept commits. Each function is
 * one purpose of a route; the queries are store/'s, unchanged.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/serve.h"
#include "store/migrate.h"
#include "store/store.h"

int core_own_dataset(store *st, const char *owner, int64_t id,
		     struct store_dataset *out)
{
	int rc = store_dataset_get_id(st, id, out);

	return !rc && strcmp(out->owner, owner) ? -ENOENT : rc;
}

int core_own_tag(store *st, const char *owner, int64_t id,
		 struct store_tag *out, struct store_dataset *d)
{
	struct store_dataset tmp;
	int rc = store_tag_get_id(st, id, out);

	return rc ? rc : core_own_dataset(st, owner, out->dataset,
					  d ? d : &tmp);
}

int core_own_node(store *st, const char *owner, int64_t ino,
		  struct store_node *out)
{
	struct store_dataset d;
	int rc = store_node_get(st, ino, out);

	return rc ? rc : core_own_dataset(st, owner, out->dataset, &d);
}

int core_own_folder(store *st, const char *owner, int64_t ino,
		    struct store_node *out, uint64_t *gen)
{
	return store_node_owned_gen(st, owner, ino, out, gen);
}

int core_own_embedding(store *st, const char *owner, int64_t id,
		       struct store_embedding *out)
{
	struct store_dataset d;
	int rc = store_embedding_get_id(st, id, out);

	return rc ? rc : core_own_dataset(st, owner, out->dataset, &d);
}

int core_catalog_epoch(store *st, uint64_t *epoch)
{
	return store_catalog_epoch(st, epoch);
}

int core_catalog_renew_epoch(const char *dir, const char *catalog,
			     uint64_t *old, uint64_t *fresh, int64_t *live,
			     int64_t *lease_s, char *msg, size_t msglen)
{
	int mode = store_catalog_shared(catalog) ? STORE_OPEN_ADMIN :
						   STORE_OPEN_OWNER;
	store *st;
	int rc;

	*old = *fresh = 0;
	*live = 0;
	*lease_s = store_lease_ns() / 1000000000;
	rc = store_open_catalog(dir, catalog, mode, &st, msg, msglen);
	if (rc)
		return rc;
	if (msg && msglen)
		msg[0] = 0;     /* the open's warning (modes repaired): not ours */
	rc = store_catalog_epoch_renew(st, old, fresh, live);
	store_close(st);
	return rc;
}

int core_folder_page(store *st, int64_t parent, const char *after,
		     size_t limit, struct store_node **out, size_t *n)
{
	return store_node_children_page(st, parent, after, limit, out, n);
}

int core_tree_files_page(store *st, int64_t tree, const char *after,
			 size_t limit, struct store_tree_file **out,
			 size_t *n)
{
	return store_tree_files_page(st, tree, after, limit, out, n);
}

void core_tree_files_free(struct store_tree_file *v, size_t n)
{
	store_tree_files_free(v, n);
}

int core_tree_count(store *st, int64_t tree, int64_t *files, int64_t *bytes)
{
	return store_tree_count(st, tree, files, bytes);
}

int core_dataset_changes(store *st, int64_t ds, struct store_changes *out)
{
	return store_changes_get(st, ds, out);
}

int core_run_list(store *st, int64_t ds, int limit, struct store_run **out,
		  size_t *n)
{
	return store_run_list(st, ds, limit, out, n);
}

int core_run_latest_done(store *st, int64_t ds, struct store_run *out)
{
	return store_run_latest_done(st, ds, out);
}

int core_embedding_newest(store *st, int64_t ds, struct store_embedding *out)
{
	struct store_embedding *v = NULL;
	size_t n = 0;
	int rc = store_embedding_list(st, ds, &v, &n);

	if (!rc && !n)
		rc = -ENOENT;
	if (!rc)
		*out = v[n - 1];
	free(v);
	return rc;
}

int core_node_commit_kept(store *st, int64_t ino,
			  const unsigned char sha[STORE_SHA_LEN], int64_t size,
			  int64_t mtime_ns, const unsigned char *thumb,
			  int64_t thumb_size, int durable)
{
	return store_node_commit_kept(st, ino, sha, size, mtime_ns, thumb,
				      thumb_size, durable);
}

int core_node_add_thumb(store *st, const struct store_node *n,
			const unsigned char thumb[STORE_SHA_LEN], int64_t size)
{
	int kept = n->has_sha ? store_blob_kept(st, n->sha) : 0;

	if (kept != 1)
		return kept < 0 ? kept : 0;
	return store_node_commit_kept(st, n->ino, n->sha, n->size, 0, thumb,
				      size, 1);
}

int core_store_migrate(const struct core_migrate_opts *o,
		       struct core_migrate_stats *stats, char *msg,
		       size_t msglen)
{
	const struct store_migrate_opts so = {
		.src_dir = o->src_dir, .catalog = o->catalog,
		.blobs = o->blobs, .s3_key_id = o->s3_key_id,
		.s3_secret = o->s3_secret, .progress = o->progress,
		.arg = o->arg,
	};
	struct store_migrate_stats ss;
	int rc = store_migrate(&so, &ss, msg, msglen);

	*stats = (struct core_migrate_stats){
		.datasets = ss.datasets, .tags = ss.tags, .nodes = ss.nodes,
		.tokens = ss.tokens, .users = ss.users, .tables = ss.tables,
		.rows = ss.rows, .blobs = ss.blobs,
		.blob_bytes = ss.blob_bytes, .blobs_there = ss.blobs_there,
		.corrupt = ss.corrupt,
	};
	return rc;
}
