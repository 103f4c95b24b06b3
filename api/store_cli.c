/*
 * store_cli.c — `sievefs store migrate`: the command line over
 * core_store_migrate (store/migrate.h), with the catalog, blob store and
 * secrets given as to `sievefs serve` (api/serve_config.h: --config,
 * --catalog, --catalog-file, --blobs; never a secret on argv).
 *
 * Output: progress lines and the summary on stderr ("sievefs: …"); exit
 * 0 when the store was copied whole, 1 on failure (a re-run resumes), 2
 * on a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api/serve_config.h"
#include "api/server.h"
#include "core/serve.h"
#include "store/migrate.h"

static int store_usage(int help)
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
		"--config FILE (or the same --catalog and --blobs).\n");
	return help ? 0 : 2;
}

static void progress(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "sievefs: migrate: %s\n", line);
	fflush(stderr);
}

static int migrate_cli(int argc, char **argv)
{
	const char *src = NULL, *cat_uri = NULL, *cat_file = NULL,
		   *conf_path = NULL, *blobs_arg = NULL, *blobs, *kid, *sec;
	struct srv_config conf = { 0 };
	struct store_migrate_stats st;
	char *catalog = NULL, msg[512] = "";
	int rc, ret = 1;

	for (int i = 2; i < argc; i++) {
		const char **opt = !strcmp(argv[i], "--catalog") ? &cat_uri :
				   !strcmp(argv[i], "--catalog-file") ? &cat_file :
				   !strcmp(argv[i], "--config") ? &conf_path :
				   !strcmp(argv[i], "--blobs") ? &blobs_arg : NULL;
		if (opt && i + 1 < argc)
			*opt = argv[++i];
		else if (!opt && argv[i][0] != '-' && !src)
			src = argv[i];
		else
			return store_usage(0);
	}
	if (!src || (!cat_uri && !cat_file && !conf_path))
		return store_usage(0);
	if (blobs_arg && (rc = srv_blobs_argv_check(blobs_arg)) != 0)
		return rc;
	if (conf_path && srv_config_read(conf_path, &conf))
		return 1;
	if ((ret = srv_blobs_settings(blobs_arg, &conf, &blobs, &kid, &sec)) ||
	    (ret = srv_catalog_target(cat_uri, cat_file, conf.catalog,
				      &catalog)))
		goto out;
	ret = 2;
	if (!catalog) {
		fprintf(stderr, "sievefs: store migrate: the config file names"
			" no catalog\n");
		goto out;
	}
	const struct store_migrate_opts o = {
		.src_dir = src, .catalog = catalog, .blobs = blobs,
		.s3_key_id = kid, .s3_secret = sec, .progress = progress,
	};
	fprintf(stderr, "sievefs: migrate: %s into the PostgreSQL catalog%s\n",
		src, blobs && *blobs ? " and the blob store" : "");
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
	srv_secret_free(catalog);
	srv_config_free(&conf);
	return ret;
}

int api_store_cli(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return store_usage(1);
	if (argc > 1 && !strcmp(argv[1], "migrate"))
		return migrate_cli(argc, argv);
	return store_usage(0);
}
