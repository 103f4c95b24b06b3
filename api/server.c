/*
 * server.c — the command lines of `sievefs serve` (the v1 HTTP API of
 * docs/api.md, on libmicrohttpd, over the embedded backend of core/) and
 * of `sievefs token`. Startup and shutdown are api/server_run.c's, the
 * requests api/server_http.c's and the routes' (api/server_int.h says
 * which file holds what).
 *
 * Plain http listens only on loopback unless --insecure-http.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/server.h"
#include "api/server_int.h"
#include "api/server_probe.h"
#include "api/serve_config.h"
#include "core/log.h"

/* "N", "N[KMG]" (binary) into *out; 0, or -1 if not that or 0. */
static int parse_bytes(const char *v, uint64_t *out)
{
	unsigned long long n, mul = 1;
	char *end;

	errno = 0;
	n = strtoull(v, &end, 10);
	if (errno || end == v || *v == '-')
		return -1;
	if (*end == 'K' || *end == 'k')
		mul = 1ull << 10;
	else if (*end == 'M' || *end == 'm')
		mul = 1ull << 20;
	else if (*end == 'G' || *end == 'g')
		mul = 1ull << 30;
	if (mul > 1)
		end++;
	if (*end || n == 0 || n > UINT64_MAX / mul)
		return -1;
	*out = n * mul;
	return 0;
}

/* Seconds, lo to hi, into *out; 0 or -1. */
static int parse_secs(const char *v, unsigned long lo, unsigned long hi,
		      unsigned *out)
{
	unsigned long n;
	char *end;

	errno = 0;
	n = strtoul(v, &end, 10);
	if (errno || end == v || *end || *v == '-' || n < lo || n > hi)
		return -1;
	*out = (unsigned)n;
	return 0;
}

/* Usage on stdout with status 0 (--help), else on stderr with 2. */
static int serve_usage(int help)
{
	fprintf(help ? stdout : stderr,
		"usage: sievefs serve STORE --listen HOST:PORT"
		" [--tls-cert FILE --tls-key FILE]\n"
		"                     [--orphan-grace SECS] [--upload-cap BYTES]\n"
		"                     [--user-rate N/S] [--conns-per-addr N]"
		" [--max-conns N]\n"
		"                     [--insecure-http] [--web-root DIR]"
		" [--session-ttl SECS]\n"
		"                     [--catalog URI | --catalog-file FILE]"
		" [--blobs SPEC]\n"
		"                     [--config FILE]\n"
		"Serves the datasets of the store in directory STORE (created if"
		" missing) over\n"
		"HTTP (docs/api.md) to remote mounts: sievefs"
		" http(s)://HOST:PORT MOUNTPOINT.\n"
		"  --listen HOST:PORT   address to listen on (127.0.0.1:8420;"
		" port 0: any free)\n"
		"  --tls-cert FILE      https: the certificate chain (PEM), with"
		" --tls-key\n"
		"  --tls-key FILE       https: its private key (PEM)\n"
		"  --insecure-http      allow plain http on an address other"
		" machines reach\n"
		"                       (without TLS only a loopback --listen is"
		" accepted:\n"
		"                       tokens and samples would cross the"
		" network in clear)\n"
		"  --orphan-grace SECS  uploaded blobs no node names are"
		" collected after this\n"
		"                       (3600; a commit after it sends the"
		" bytes again)\n"
		"  --upload-cap BYTES   per user, bytes of such blobs at once"
		" (1G; K, M, G)\n"
		"  --user-rate N/S      at most N requests per S seconds per"
		" user, in bursts\n"
		"                       of up to N (default " RATE_DEFAULT "); over"
		" it: 429\n"
		"  --conns-per-addr N   at most N connections at once from one"
		" address\n"
		"                       (default %d)\n"
		"  --max-conns N        at most N connections at once in all"
		" (default %d, less\n"
		"                       if the descriptor limit is low); a"
		" request head must\n"
		"                       arrive within %d s (%d s when the"
		" server is nearly full)\n"
		"  --web-root DIR       the built web app, served at / (without"
		" one, / says how\n"
		"                       to build it); default, when it exists:\n"
		"                       %s\n"
		"  --session-ttl SECS   web sign-in sessions expire after this"
		" (default %d,\n"
		"                       7 days; 60 to 31536000)\n"
		"  --catalog URI        the catalog in PostgreSQL 15:"
		" postgresql://USER@HOST:PORT/DB\n"
		"                       (an SQL_ASCII database; schema created"
		" or upgraded at\n"
		"                       start); STORE keeps blobs, staging and"
		" thumbnails.\n"
		"                       The password: PGPASSWORD or ~/.pgpass,"
		" never the URI\n"
		"                       here. Default: the SQLite file"
		" STORE/catalog.db\n"
		"  --catalog-file FILE  the URI from FILE's one line (mode 0600"
		" or 0400; may\n"
		"                       hold the password)\n"		"  --blobs SPEC         the blobs in S3:"
		" s3://BUCKET/PREFIX?endpoint=URL&region=R\n"
		"                       (credentials: AWS_ACCESS_KEY_ID and"
		" AWS_SECRET_ACCESS_KEY,\n"
		"                       or the config file; never in SPEC)."
		" Default: STORE/blobs\n"
		"  --config FILE        settings, one KEY = VALUE a line (#"
		" comments): catalog,\n"
		"                       blobs, s3_access_key_id,"
		" s3_secret_access_key, listen,\n"
		"                       tls_cert, tls_key, web_root; mode 0600"
		" or 0400 (it may\n"
		"                       hold secrets); a setting given here and"
		" as an option\n"
		"                       is refused\n"
		"Tokens for the users: sievefs token create --store STORE USER."
		" Stops on\n"
		"SIGINT or SIGTERM.\n", CONNS_DEFAULT, MAX_CONNS_DEFAULT,
		HEAD_TIMEOUT, PRESSED_TIMEOUT, srv_default_web_root(), SESSION_TTL);
	return help ? 0 : 2;
}

/* "N/S" (N, S integers >= 1) into *n, *sec: 0 or -EINVAL. */
static int parse_rate(const char *spec, double *n, double *sec)
{
	char *end;
	unsigned long a, b;

	errno = 0;
	a = strtoul(spec, &end, 10);
	if (errno || end == spec || *end != '/' || a < 1 || a > 100000000ul ||
	    spec[0] == '-')
		return -EINVAL;
	spec = end + 1;
	b = strtoul(spec, &end, 10);
	if (errno || end == spec || *end || b < 1 || b > 86400ul ||
	    spec[0] == '-')
		return -EINVAL;
	*n = (double)a;
	*sec = (double)b;
	return 0;
}

/* A positive count: 0 or -EINVAL. */
static int parse_count(const char *spec, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(spec, &end, 10);
	if (errno || end == spec || *end || v < 1 || v > 65535 ||
	    spec[0] == '-')
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* A store argument that is a URL would create ./http:/… directories. */
static int url_as_store(const char *dir)
{
	if (!dir || !strstr(dir, "://"))
		return 0;
	fprintf(stderr, "sievefs: STORE %s is a URL; STORE is the directory of"
		" a store on this machine (a server's URL is what a remote"
		" mount takes: sievefs URL MOUNTPOINT)\n", dir);
	return 1;
}

/* A setting from the command line, else from the config file (conf_val,
 * may be NULL): 0, or 2 (said on stderr) when both give it. */
static int from_conf(const char **opt, const char *flag, const char *conf_val,
		     const char *key)
{
	if (*opt && conf_val) {
		fprintf(stderr, "sievefs: %s and the --config file's %s line"
			" both give it: say it once\n", flag, key);
		return 2;
	}
	if (!*opt)
		*opt = conf_val;
	return 0;
}

int api_serve_cli(int argc, char **argv)
{
	const char *dir = NULL, *listen = NULL, *cert = NULL, *key = NULL,
		   *rate = RATE_DEFAULT, *conns = NULL, *maxc = NULL,
		   *ttl = NULL, *cat_uri = NULL, *cat_file = NULL,
		   *conf_path = NULL, *blobs_arg = NULL;
	char *catalog = NULL;
	struct srv_config conf = { 0 };
	struct api_server_opts o = { .per_addr = CONNS_DEFAULT,
				     .upload_cap = UPLOAD_CAP,
				     .grace = ORPHAN_GRACE };
	const char *grace = NULL, *cap = NULL;
	char *cert_pem = NULL, *key_pem = NULL, host[128];
	struct sockaddr_storage ss;
	struct api_server *h = NULL;
	sigset_t sigs;
	unsigned port = 0;
	int v6 = 0, rc, sig, ret = 1, insecure = 0;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help"))
			return serve_usage(1);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--insecure-http")) {
			insecure = 1;
			continue;
		}
		const char **opt = !strcmp(argv[i], "--listen") ? &listen :
				   !strcmp(argv[i], "--tls-cert") ? &cert :
				   !strcmp(argv[i], "--tls-key") ? &key :
				   !strcmp(argv[i], "--orphan-grace") ? &grace :
				   !strcmp(argv[i], "--upload-cap") ? &cap :
				   !strcmp(argv[i], "--user-rate") ? &rate :
				   !strcmp(argv[i], "--conns-per-addr") ? &conns :
				   !strcmp(argv[i], "--max-conns") ? &maxc :
				   !strcmp(argv[i], "--web-root") ? &o.web_root :
				   !strcmp(argv[i], "--session-ttl") ? &ttl :
				   !strcmp(argv[i], "--catalog") ? &cat_uri :
				   !strcmp(argv[i], "--catalog-file") ? &cat_file :
				   !strcmp(argv[i], "--config") ? &conf_path :
				   !strcmp(argv[i], "--blobs") ? &blobs_arg :
				   NULL;
		if (opt && i + 1 < argc)
			*opt = argv[++i];
		else if (!opt && argv[i][0] != '-' && !dir)
			dir = argv[i];
		else
			return serve_usage(0);
	}
	if (!dir)
		return serve_usage(0);
	if (url_as_store(dir))
		return 2;
	if (blobs_arg && (rc = srv_blobs_argv_check(blobs_arg)) != 0)
		return rc;
	if (conf_path && srv_config_read(conf_path, &conf))
		return 1;
	if ((ret = from_conf(&listen, "--listen", conf.listen, "listen")) ||
	    (ret = from_conf(&cert, "--tls-cert", conf.tls_cert, "tls_cert")) ||
	    (ret = from_conf(&key, "--tls-key", conf.tls_key, "tls_key")) ||
	    (ret = from_conf(&o.web_root, "--web-root", conf.web_root,
			     "web_root")) ||
	    (ret = srv_blobs_settings(blobs_arg, &conf, &o.blobs, &o.s3_key_id,
				      &o.s3_secret)))
		goto out;
	ret = 2;
	if (!listen || !cert != !key) {
		serve_usage(0);
		goto out;
	}
	if (grace && parse_secs(grace, 1, 2592000, &o.grace)) {
		fprintf(stderr, "sievefs: --orphan-grace %s: want seconds, 1 to"
			" 2592000 (30 days)\n", grace);
		goto out;
	}
	if (ttl && parse_secs(ttl, 60, 31536000, &o.session_ttl)) {
		fprintf(stderr, "sievefs: --session-ttl %s: want seconds, 60 to"
			" 31536000 (a year)\n", ttl);
		goto out;
	}
	if (cap && parse_bytes(cap, &o.upload_cap)) {
		fprintf(stderr, "sievefs: --upload-cap %s: want a size above 0,"
			" such as 500M or 2G\n", cap);
		goto out;
	}
	if (srv_parse_listen(listen, &ss, &v6)) {
		fprintf(stderr, "sievefs: --listen %s: expected HOST:PORT\n",
			listen);
		goto out;
	}
	if (!cert && !insecure && !srv_listen_loopback(&ss)) {
		fprintf(stderr, "sievefs: --listen %s: refusing plain http on an"
			" address other machines can reach: tokens and samples"
			" would cross the network unencrypted. Give --tls-cert"
			" and --tls-key, listen on 127.0.0.1 behind a TLS proxy,"
			" or add --insecure-http if the network is trusted\n",
			listen);
		goto out;
	}
	if (parse_rate(rate, &o.rate_n, &o.rate_s)) {
		fprintf(stderr, "sievefs: --user-rate %s: expected N/SECONDS"
			" (integers >= 1), e.g. " RATE_DEFAULT "\n", rate);
		goto out;
	}
	if (conns && parse_count(conns, &o.per_addr)) {
		fprintf(stderr, "sievefs: --conns-per-addr %s: expected a"
			" number from 1 to 65535\n", conns);
		goto out;
	}
	if (maxc && parse_count(maxc, &o.max_conns)) {
		fprintf(stderr, "sievefs: --max-conns %s: expected a number"
			" from 1 to 65535\n", maxc);
		goto out;
	}
	if ((ret = srv_catalog_target(cat_uri, cat_file, conf.catalog,
				      &catalog)) != 0)
		goto out;
	ret = 1;
	o.catalog = catalog;
	if (cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			fprintf(stderr, "sievefs: this libmicrohttpd has no TLS\n");
			goto out;
		}
		if (srv_read_file(cert, &cert_pem) || srv_read_file(key, &key_pem)) {
			fprintf(stderr, "sievefs: cannot read %s or %s\n", cert,
				key);
			goto out;
		}
		o.cert_pem = cert_pem;
		o.key_pem = key_pem;
	}
	struct stat dst;
	if (stat(dir, &dst) && errno == ENOENT)
		fprintf(stderr, "sievefs: creating new store in %s\n", dir);


	/* Signals are taken by sigwait below; the server's threads (started
	 * after the mask) inherit it. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	rc = api_server_start(dir, (struct sockaddr *)&ss, &o, &h, &port);
	if (rc) {
		if (rc == -EADDRNOTAVAIL)
			fprintf(stderr, "sievefs: cannot listen on %s\n",
				listen);
		goto out;
	}
	srv_url(&ss, port, cert != NULL, host, sizeof(host));
	if (catalog)
		log_info("the catalog is in PostgreSQL; %s", o.blobs && *o.blobs ?
			 "blobs in S3" : "blobs, staging and thumbnails in STORE");
	fprintf(stderr, "sievefs: listening on %s\n", host);
	fflush(stderr);
	do {
		if (sigwait(&sigs, &sig))
			break;
	} while (sig != SIGINT && sig != SIGTERM);
	log_info("stopping the server");
	ret = 0;
out:
	api_server_stop(h);
	free(cert_pem);
	free(key_pem);
	srv_secret_free(catalog);
	srv_config_free(&conf);   /* wipes the secrets it held */
	return ret;
}

/* Usage on stdout with status 0 (--help), else on stderr with 2. */
static int token_usage(int help)
{
	fprintf(help ? stdout : stderr,
		"usage: sievefs token create --store STORE [--name NAME] [USER]\n"
		"       sievefs token list --store STORE\n"
		"       sievefs token revoke --store STORE ID\n"
		"       each with the --catalog URI, --catalog-file FILE or"
		" --config FILE\n"
		"       of a store served so\n"
		"API tokens of a server's users (sievefs serve STORE): create"
		" prints a new\n"
		"token once (only its hash is kept; --name labels it, as the"
		" app's\n"
		"preferences show it), list shows ids, users, names, status and"
		" last use,\n"
		"revoke stops a token at once. USER defaults to the user running"
		" the command.\n");
	return help ? 0 : 2;
}

int api_token_cli(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "", *dir = NULL, *arg = NULL,
		   *name = NULL, *cat_uri = NULL, *cat_file = NULL,
		   *conf_path = NULL;
	char *catalog = NULL;
	struct srv_config conf = { 0 };
	char msg[512] = "", token[STORE_TOKEN_LEN + 1], ts[32];
	char uname[STORE_USER_MAX + 1];
	struct store_token *v = NULL, made;
	store *st = NULL;
	int64_t id = 0;
	size_t n = 0;
	int rc, ret = 1;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") ||
		    (i == 1 && !strcmp(argv[i], "help")))
			return token_usage(1);
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--store") && i + 1 < argc)
			dir = argv[++i];
		else if (!strcmp(argv[i], "--catalog") && i + 1 < argc)
			cat_uri = argv[++i];
		else if (!strcmp(argv[i], "--catalog-file") && i + 1 < argc)
			cat_file = argv[++i];
		else if (!strcmp(argv[i], "--config") && i + 1 < argc)
			conf_path = argv[++i];
		else if (!strcmp(argv[i], "--name") && i + 1 < argc &&
			 !strcmp(cmd, "create"))
			name = argv[++i];
		else if (argv[i][0] != '-' && !arg)
			arg = argv[i];
		else
			return token_usage(0);
	}
	/* create without USER: the user running the command (as the web
	 * door of one's own mount wants it) */
	if (!strcmp(cmd, "create") && !arg) {
		struct passwd *pw = getpwuid(getuid());
		if (!pw || !core_user_valid(pw->pw_name)) {
			fprintf(stderr, "sievefs: token create: give a USER (the"
				" user running this has no name that can name"
				" one)\n");
			return 2;
		}
		snprintf(uname, sizeof(uname), "%s", pw->pw_name);
		arg = uname;
	}
	if (!dir || (strcmp(cmd, "list") ? !arg : arg != NULL) ||
	    (strcmp(cmd, "create") && strcmp(cmd, "list") &&
	     strcmp(cmd, "revoke")))
		return token_usage(0);
	if (url_as_store(dir))
		return 2;
	if (!strcmp(cmd, "create") && !core_user_valid(arg)) {
		fprintf(stderr, "sievefs: '%s' is not a valid user name: use"
			" 1-64 of A-Z a-z 0-9 . _ - starting with a letter or"
			" digit\n", arg);
		return 2;
	}
	if (name && !core_token_name_valid(name)) {
		fprintf(stderr, "sievefs: a token name is at most %d bytes of"
			" UTF-8 without control characters\n",
			STORE_TOKEN_NAME_MAX);
		return 2;
	}
	if (!strcmp(cmd, "revoke") && api_id_parse(arg, &id)) {
		fprintf(stderr, "sievefs: '%s' is not a token id\n", arg);
		return 2;
	}
	/* the config's blob store and listen are the server's: a token
	 * needs only the catalog */
	if (conf_path && srv_config_read(conf_path, &conf))
		return 1;
	rc = srv_catalog_target(cat_uri, cat_file, conf.catalog, &catalog);
	srv_config_free(&conf);
	if (rc)
		return rc;
	const struct core_store_cfg cfg = { .dir = dir, .catalog = catalog };
	rc = core_auth_admin_open(&cfg, &st, msg, sizeof(msg));
	srv_secret_free(catalog);   /* the store keeps its own copy */
	if (rc) {
		fprintf(stderr, "sievefs: %s\n", *msg ? msg : strerror(-rc));
		return 1;
	}
	if (!strcmp(cmd, "create")) {
		rc = core_token_create(st, arg, name, token, &made);
		if (!rc) {            /* made is filled only on success */
			printf("%s\n", token);
			fprintf(stderr, "sievefs: token %lld for user '%s'"
				" created; it is shown only this once\n",
				(long long)made.id, arg);
		}
	} else if (!strcmp(cmd, "list")) {
		rc = core_token_list(st, NULL, &v, &n);
		if (!rc)
			printf("%-6s %-24s %-20s %-8s %-20s %s\n", "ID", "USER",
			       "CREATED", "STATUS", "LAST-USED", "NAME");
		for (size_t i = 0; !rc && i < n; i++) {
			char used[32] = "never";
			time_t t = (time_t)(v[i].created_ns / 1000000000);
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
			if (v[i].last_used_ns > 0) {
				t = (time_t)(v[i].last_used_ns / 1000000000);
				gmtime_r(&t, &tm);
				strftime(used, sizeof(used),
					 "%Y-%m-%dT%H:%M:%SZ", &tm);
			}
			/* the name last: it may hold spaces */
			printf("%-6lld %-24s %-20s %-8s %-20s %s\n",
			       (long long)v[i].id, v[i].user, ts,
			       v[i].revoked ? "revoked" : "active", used,
			       v[i].name);
		}
		free(v);
	} else {
		rc = core_token_revoke(st, NULL, id);
		if (!rc)
			fprintf(stderr, "sievefs: token %lld revoked\n",
				(long long)id);
		else if (rc == -ENOENT)
			fprintf(stderr, "sievefs: no token with id %lld\n",
				(long long)id);
	}
	if (rc && rc != -ENOENT)
		fprintf(stderr, "sievefs: token %s: %s\n", cmd, strerror(-rc));
	ret = rc ? 1 : 0;
	core_auth_admin_close(st);
	return ret;
}
