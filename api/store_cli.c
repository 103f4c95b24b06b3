/*
 * store_cli.c — `sievefs store migrate` and `sievefs store renew-epoch`:
 * the command lines over core_store_migrate (store/migrate.h) and
 * core_catalog_renew_epoch (core/serve.h), with the catalog, blob store
 * and secrets given as to `sievefs serve` (api/serve_config.h: --config,
 * --catalog, --catalog-file, --blobs; never a secret on argv), parsed
 * once for both (struct target).
 *
 * renew-epoch is for a catalog restored from a backup: its change
 * counters then repeat with other contents, so a client's cached ETag
 * could match a different state. A new epoch (in every ETag and table
 * gen) makes all of them stale. Run it with every server of the catalog
 * stopped: it refuses while a mount or server holds it.
 *
 * Output: progress lines and the summary on stderr ("sievefs: …"); exit
 * 0 done, 1 on failure (migrate: a re-run resumes; nothing half-done by
 * renew-epoch), 2 on a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/serve_config.h"
#include "api/server.h"
#include "core/serve.h"

static int migrate_usage(int help)
{
	fprintf(help ? stdout : stderr,
		"usage: sievefs store migrate STORE (--config FILE |"
		" --catalog URI | --catalog-file FILE)\n"
		"                                    [--blobs SPEC]\n"
		"Copies the embedded store in directory STORE (its catalog.db"
		" and blobs) into\n"
		"a PostgreSQL catalog (an empty SQL_ASCII database) and the"
		" blob store SPEC\n"
		"names (s3://BUCKET/PREFIX?endpoint=URL&region=R; credentials"
		" as for serve:\n"
		"the config file's s3_ keys or AWS_ACCESS_KEY_ID and"
		" AWS_SECRET_ACCESS_KEY),\n"
		"ids kept, every blob's hash checked. Without a blob store the"
		" blobs stay in\n"
		"STORE: serve STORE with the new catalog. Stop the mount or"
		" server of STORE\n"
		"first. Interrupted, run it again: it resumes. Then:"
		" sievefs serve NEWDIR\n"
		"--config FILE (or the same --catalog and --blobs).\n"
		"\n"
		"usage: sievefs store renew-epoch STORE [--config FILE |"
		" --catalog URI |\n"
		"                                        --catalog-file FILE]\n"
		"After restoring a backup of a catalog (STORE/catalog.db, or"
		" the PostgreSQL\n"
		"catalog named as for serve), before any server starts on it:"
		" gives the\n"
		"catalog a new epoch, so no ETag a client cached before can"
		" match a state of\n"
		"the restored catalog. Refused while a mount or server uses"
		" the catalog.\n");
	return help ? 0 : 2;
}

static void progress(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "sievefs: migrate: %s\n", line);
	fflush(stderr);
}

/* STORE and where its catalog is, as for serve: argv[2..] parsed, the
 * config read and the catalog target resolved (*catalog NULL: STORE's
 * own catalog.db). want_blobs: --blobs is an option of the command. 0,
 * or the exit status of a usage error (2) or a failure (1), said on
 * stderr. */
struct target {
	const char *dir, *blobs_arg;
	int named;              /* --catalog, --catalog-file or --config given */
	struct srv_config conf;
	char *catalog;          /* a secret: srv_secret_free */
};

static int target_parse(int argc, char **argv, int want_blobs,
			struct target *t)
{
	const char *cat_uri = NULL, *cat_file = NULL, *conf_path = NULL;

	memset(t, 0, sizeof(*t));
	for (int i = 2; i < argc; i++) {
		const char **opt = !strcmp(argv[i], "--catalog") ? &cat_uri :
				   !strcmp(argv[i], "--catalog-file") ? &cat_file :
				   !strcmp(argv[i], "--config") ? &conf_path :
				   want_blobs && !strcmp(argv[i], "--blobs") ?
				   &t->blobs_arg : NULL;
		if (opt && i + 1 < argc)
			*opt = argv[++i];
		else if (!opt && argv[i][0] != '-' && !t->dir)
			t->dir = argv[i];
		else
			return migrate_usage(0);
	}
	t->named = cat_uri || cat_file || conf_path;
	if (!t->dir)
		return migrate_usage(0);
	if (t->blobs_arg && srv_blobs_argv_check(t->blobs_arg))
		return 2;
	if (conf_path && srv_config_read(conf_path, &t->conf))
		return 1;
	return srv_catalog_target(cat_uri, cat_file, t->conf.catalog,
				  &t->catalog);
}

static void target_free(struct target *t)
{
	srv_secret_free(t->catalog);
	srv_config_free(&t->conf);
}

static int migrate_cli(int argc, char **argv)
{
	const char *blobs, *kid, *sec;
	struct target t;
	struct core_migrate_stats st;
	char msg[512] = "";
	int rc, ret;

	if ((ret = target_parse(argc, argv, 1, &t)))
		goto out;
	if (!t.named) {
		ret = migrate_usage(0);
		goto out;
	}
	if ((ret = srv_blobs_settings(t.blobs_arg, &t.conf, &blobs, &kid,
				      &sec)))
		goto out;
	ret = 2;
	if (!t.catalog) {
		fprintf(stderr, "sievefs: store migrate: the config file names"
			" no catalog\n");
		goto out;
	}
	const struct core_migrate_opts o = {
		.src_dir = t.dir, .catalog = t.catalog, .blobs = blobs,
		.s3_key_id = kid, .s3_secret = sec, .progress = progress,
	};
	fprintf(stderr, "sievefs: migrate: %s into the PostgreSQL catalog%s\n",
		t.dir, blobs && *blobs ? " and the blob store" : "");
	rc = core_store_migrate(&o, &st, msg, sizeof(msg));
	fprintf(stderr, "sievefs: migrate: the source holds %llu datasets,"
		" %llu tags, %llu nodes, %llu users, %llu tokens; this run"
		" copied %llu tables (%llu rows), %llu blobs (%llu bytes);"
		" %llu blobs were there already\n",
		(unsigned long long)st.datasets, (unsigned long long)st.tags,
		(unsigned long long)st.nodes, (unsigned long long)st.users,
		(unsigned long long)st.tokens, (unsigned long long)st.tables,
		(unsigned long long)st.rows, (unsigned long long)st.blobs,
		(unsigned long long)st.blob_bytes,
		(unsigned long long)st.blobs_there);
	if (rc) {
		fprintf(stderr, "sievefs: migrate failed: %s\n",
			*msg ? msg : strerror(-rc));
		ret = 1;
	} else {
		fprintf(stderr, "sievefs: migrate: done\n");
		ret = 0;
	}
out:
	target_free(&t);
	return ret;
}

static int renew_cli(int argc, char **argv)
{
	struct target t;
	uint64_t old, fresh;
	int64_t live, lease_s;
	char msg[512] = "";
	int rc, ret;

	if ((ret = target_parse(argc, argv, 0, &t)))
		goto out;
	rc = core_catalog_renew_epoch(t.dir, t.catalog, &old, &fresh, &live,
				      &lease_s, msg, sizeof(msg));
	if (rc == -EBUSY && live > 0)
		fprintf(stderr, "sievefs: renew-epoch: refused: %lld server%s"
			" on this catalog hold%s a live lease; stop every"
			" server of the catalog first (one killed without"
			" stopping holds its lease for up to %lld s more;"
			" nothing was changed)\n",
			(long long)live, live == 1 ? "" : "s",
			live == 1 ? "s" : "",
			(long long)lease_s);
	else if (rc)
		fprintf(stderr, "sievefs: renew-epoch: refused: %s (nothing"
			" was changed)\n", *msg ? msg : strerror(-rc));
	else
		fprintf(stderr, "sievefs: renew-epoch: the catalog's epoch was"
			" %016llx, is now %016llx: ETags given before no longer"
			" match\n", (unsigned long long)old,
			(unsigned long long)fresh);
	ret = rc ? 1 : 0;
out:
	target_free(&t);
	return ret;
}

int api_store_cli(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return migrate_usage(1);
	if (argc > 1 && !strcmp(argv[1], "migrate"))
		return migrate_cli(argc, argv);
	if (argc > 1 && !strcmp(argv[1], "renew-epoch"))
		return renew_cli(argc, argv);
	return migrate_usage(0);
}
