/*
 * main.c — the `sievefs` command: mounts a store (see fs/cmdline.h).
 *
 * Order matters: the store is opened once before mounting so that a bad
 * store is reported on the terminal (and crash recovery runs before anyone
 * can see the files), then closed, because SQLite connections and their
 * POSIX locks must not cross the fork of fuse_daemonize(); after
 * daemonising it is opened again for good.
 * Both opens take the store's owner lock (store.h), so a store another
 * process owns is refused on the terminal ("store in use by PID N"), and
 * the lock file names the PID of the process that stays, the daemon. Both
 * run recovery; the second finds nothing left to do. A second mount started
 * in the instant between the two opens can pass its first check; its own
 * second open is then refused, logged, and it unmounts itself.
 *
 * Remote mode (SOURCE is an http(s):// URL) follows the same order: the
 * server and the token are checked before mounting, so an unreachable
 * server or a bad, absent or revoked token fails on the terminal; curl's
 * handles and threads must not cross the fork either, so the client is made
 * again after daemonising.
 *
 * The web door (-o web=ADDR, embedded mode only) follows it too: its
 * address is checked and bound before mounting (api_web_bind: a bad or
 * busy address fails on the terminal with nothing mounted), the address
 * is printed as `sievefs serve` prints it, and the server's threads start
 * in the daemon over the mount's own backend (api_web_start) — `sievefs
 * serve` cannot run beside a mount: the store has one owner. Whose
 * datasets: an embedded mount's datasets belong to the mount's owner ""
 * (OWNER_LOCAL), a name no token can have; the web door of this
 * single-user mount shows them, the ones `ls MNT` shows, to any valid
 * token of the store (docs/api.md, "Who serves the API"). The server is
 * stopped before the backend is destroyed, whatever ended the session
 * (fusermount3 -u, SIGTERM, SIGINT), so no request runs on a destroyed
 * backend; after a kill -9 the kernel frees the port and the lock.
 * Changes made over HTTP bypass the kernel: the hooks below keep the
 * mount's caches true when a dataset or tag goes or is renamed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/client.h"
#include "api/server.h"
#include "core/log.h"
#include "fs/cmdline.h"
#include "fs/fs.h"
#include "fs/ino.h"
#include "fs/sample_cli.h"

#define OWNER_LOCAL ""

static void fuse_log_to_ours(enum fuse_log_level level, const char *fmt,
			     va_list ap)
{
	char buf[1024];
	size_t len;
	enum log_level ours = level <= FUSE_LOG_ERR ? LOG_LVL_ERROR :
			      level == FUSE_LOG_WARNING ? LOG_LVL_WARN :
			      level <= FUSE_LOG_INFO ? LOG_LVL_INFO :
			      LOG_LVL_DEBUG;

	vsnprintf(buf, sizeof(buf), fmt, ap);
	len = strlen(buf);
	if (len && buf[len - 1] == '\n')
		buf[len - 1] = '\0';
	log_msg(ours, "%s", buf);
}

static int add_opt(struct fuse_args *args, const char *opt)
{
	char *escaped = NULL;
	int rc;

	if (fuse_opt_add_opt_escaped(&escaped, opt))
		return -ENOMEM;
	rc = fuse_opt_add_arg(args, "-o");
	if (!rc)
		rc = fuse_opt_add_arg(args, escaped);
	free(escaped);
	return rc ? -ENOMEM : 0;
}

/* 1 if an -o option lets other users into the mount. */
static int shared_mount(const struct fuse_args *a)
{
	for (int i = 0; i < a->argc; i++)
		if (strstr(a->argv[i], "allow_other") ||
		    strstr(a->argv[i], "allow_root"))
			return 1;
	return 0;
}

/* ---- the web door's hooks (api/server.h): arg is the struct fs ---- */

/* Open files of the tag or dataset keep their bytes (as rmdir does). */
static void web_before_remove(void *arg)
{
	fs_open_blobs_now(arg);
}

/* The kernel forgets the name (a frozen tag's entry is kept a day), and
 * the node cache its records. */
static void web_name_gone(void *arg, int64_t ds, const char *name)
{
	struct fs *fs = arg;

	nodecache_clear(fs->nc);
	fuse_lowlevel_notify_inval_entry(fs->se, ds ? fs_ino_dataset(ds) :
					 FUSE_ROOT_ID, name, strlen(name));
}

/* The web door's options go together, and with embedded mode: 0, or 1
 * with the reason on stderr. Before anything is contacted or opened. */
static int web_opts_check(const struct fs_cmdline *cl)
{
	if (!cl->web && (cl->web_root || cl->web_tls_cert || cl->web_tls_key ||
			 cl->web_insecure)) {
		fprintf(stderr, "sievefs: web_root, web_tls_cert, web_tls_key"
			" and web_insecure_http go with -o web=HOST[:PORT]\n");
		return 1;
	}
	if (cl->web && api_is_url(cl->source)) {
		fprintf(stderr, "sievefs: -o web= serves a store of this"
			" machine from its mount; %s is a server, which serves"
			" the web app itself (open it in a browser)\n",
			cl->source);
		return 1;
	}
	return 0;
}

/* Binds the web door's address, before mounting: 0 (*w NULL without
 * -o web=), or 1 with the reason on stderr. */
static int web_bind(const struct fs_cmdline *cl, struct api_web **w,
		    char *url, size_t len)
{
	struct api_web_opts o = { .addr = cl->web, .tls_cert = cl->web_tls_cert,
				  .tls_key = cl->web_tls_key,
				  .web_root = cl->web_root,
				  .insecure_http = cl->web_insecure };
	char msg[1024] = "";
	int rc;

	*w = NULL;
	if (!cl->web)
		return 0;
	rc = api_web_bind(&o, w, url, len, msg, sizeof(msg));
	if (rc) {
		fprintf(stderr, "sievefs: %s\n", *msg ? msg : strerror(-rc));
		return 1;
	}
	return 0;
}

/* Opens the backend of cl->source: a local store or a remote server. */
static int open_backend(struct fs_cmdline *cl, struct fs_remote *rem,
			struct backend **be, char *msg, size_t len)
{
	if (api_is_url(cl->source))
		return api_client_open(&rem->o, be, msg, len);
	return core_local_open(cl->source, OWNER_LOCAL, be, msg, len);
}

/* Before mounting: settings of remote mode, and the server's answer to our
 * token. Embedded mode refuses the remote-only options. */
static int check_source(struct fs_cmdline *cl, struct fs_remote *rem)
{
	char msg[1024] = "", user[128] = "";
	struct backend *be = NULL;
	int rc;

	if (!api_is_url(cl->source)) {
		if (cl->token_file || cl->cache_dir || cl->cache_size ||
		    cl->meta_ttl || cl->upload || cl->cafile) {
			fprintf(stderr, "sievefs: token_file, cafile, cache_dir,"
				" cache_size, meta_ttl and upload are options of"
				" remote mode (SOURCE an http(s):// URL)\n");
			return -EINVAL;
		}
		return 0;
	}
	rc = fs_remote_opts(cl, rem, msg, sizeof(msg));
	if (!rc)
		rc = api_client_open(&rem->o, &be, msg, sizeof(msg));
	if (!rc)
		rc = api_client_check(be, user, sizeof(user), msg, sizeof(msg));
	if (be)
		be->ops->destroy(be);
	if (rc) {
		fprintf(stderr, "sievefs: %s\n", *msg ? msg : strerror(-rc));
		return rc;
	}
	log_info("%s: mounting the datasets of '%s'", cl->source, user);
	return 0;
}

static int run_mount_with(struct fs_cmdline *cl, struct fs_remote *rem)
{
	struct fs fs = { .uid = getuid(), .gid = getgid(),
			 .emb_lock = PTHREAD_MUTEX_INITIALIZER };
	struct fuse_loop_config *cfg = NULL;
	char msg[512] = "", fsname[4200], url[160] = "";
	struct backend *be = NULL;
	struct api_web *web = NULL;
	struct api_web_hooks hooks = { .arg = &fs,
				       .before_remove = web_before_remove,
				       .name_gone = web_name_gone };
	struct stat st;
	int rc, ret = 1;

	if (stat(cl->opts.mountpoint, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "sievefs: mount point %s: %s\n",
			cl->opts.mountpoint,
			errno && !S_ISDIR(st.st_mode) ? strerror(errno) :
			"not a directory");
		return 1;
	}
	rc = fs_mountpoint_check(cl->opts.mountpoint, cl->nonempty, msg,
				 sizeof(msg));
	if (rc) {
		fprintf(stderr, "sievefs: %s\n", msg);
		return 1;
	}
	if (web_opts_check(cl) || check_source(cl, rem))
		return 1;

	/* before the store is created or opened: a refused address leaves
	 * nothing behind */
	if (web_bind(cl, &web, url, sizeof(url)))
		return 1;
	/* exports/' Label Studio paths (issue 21 item 5); freed at out_web */
	fs.mountpoint = realpath(cl->opts.mountpoint, NULL);
	if (!api_is_url(cl->source)) {
		if (strstr(cl->source, "://")) {
			fprintf(stderr, "sievefs: %s: a server URL starts with"
				" http:// or https://; anything else is a store"
				" directory\n", cl->source);
			goto out_web;
		}
		if (stat(cl->source, &st) && errno == ENOENT)
			fprintf(stderr, "sievefs: creating new store in %s\n",
				cl->source);
		rc = core_local_open(cl->source, OWNER_LOCAL, &be, msg,
				     sizeof(msg));
		if (rc) {
			fprintf(stderr, "sievefs: %s\n", *msg ? msg :
				strerror(-rc));
			goto out_web;
		}
		be->ops->destroy(be);
		be = NULL;

		/* fuse_daemonize() changes to "/": keep the absolute path. */
		char *abs = realpath(cl->source, NULL);
		if (!abs) {
			fprintf(stderr, "sievefs: %s: %s\n", cl->source,
				strerror(errno));
			goto out_web;
		}
		free(cl->source);
		cl->source = abs;
	}
	snprintf(fsname, sizeof(fsname), "fsname=%s", cl->source);
	/* Only the mounting user can enter a mount without allow_other, so
	 * the kernel's mode checks would only cost a GETATTR of the folder
	 * before every name looked up after a change (measured: one per file
	 * of a cp -r). A shared mount gets them. */
	if (add_opt(&cl->args, fsname) || add_opt(&cl->args, "subtype=sievefs") ||
	    (shared_mount(&cl->args) &&
	     add_opt(&cl->args, "default_permissions"))) {
		fprintf(stderr, "sievefs: out of memory\n");
		goto out_web;
	}
	fs.se = fuse_session_new(&cl->args, &fs_ops, sizeof(fs_ops), &fs);
	if (!fs.se)
		goto out_web;
	if (fuse_set_signal_handlers(fs.se))
		goto out_session;
	if (fuse_session_mount(fs.se, cl->opts.mountpoint))
		goto out_signals;
	if (web) {               /* as `sievefs serve` says it */
		fprintf(stderr, "sievefs: listening on %s\n", url);
		fflush(stderr);
	}
	if (fuse_daemonize(cl->opts.foreground))
		goto out_unmount;
	log_setup(!cl->opts.foreground, cl->opts.debug ? LOG_LVL_DEBUG :
		  LOG_LVL_INFO);

	rc = open_backend(cl, rem, &fs.be, msg, sizeof(msg));
	if (rc) {
		log_error("%s", *msg ? msg : strerror(-rc));
		goto out_unmount;
	}
	fs.up = upload_table_new(fs.be);
	if (!fs.up)
		goto out_backend;
	fs.frozen_ttl = fs.be->ops->frozen_cache_ok ? 86400.0 : fs.be->ops->live_ttl;
	fs.live_ttl = fs.be->ops->live_ttl;
	fs.node_cache = !api_is_url(cl->source);
	if (web) {
		rc = api_web_start(web, fs.be, OWNER_LOCAL, &hooks);
		if (rc) {
			log_error("the web app and API at %s did not start: %s;"
				  " unmounting", url, strerror(-rc));
			goto out_uploads;
		}
		log_info("serving the web app and the API at %s", url);
	}

	if (cl->opts.singlethread) {
		rc = fuse_session_loop(fs.se);
	} else {
		cfg = fuse_loop_cfg_create();
		if (!cfg)
			goto out_uploads;
		fuse_loop_cfg_set_clone_fd(cfg, cl->opts.clone_fd);
		/* fuse_parse_cmdline leaves UINT_MAX for "not given", which
		 * libfuse 3.14.0's setter logs as an invalid value. */
		fuse_loop_cfg_set_idle_threads(cfg,
			cl->opts.max_idle_threads &&
			cl->opts.max_idle_threads <= 100000 ?
			cl->opts.max_idle_threads : 16);
		if (cl->opts.max_threads && cl->opts.max_threads <= 100000)
			fuse_loop_cfg_set_max_threads(cfg, cl->opts.max_threads);
		rc = fuse_session_loop_mt(fs.se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	ret = rc < 0 ? 1 : 0;
out_uploads:
	/* no request may run on a destroyed backend: MHD stops first */
	api_web_stop(web);
	web = NULL;
	upload_table_free(fs.up);
out_backend:
	fs.be->ops->destroy(fs.be);
out_unmount:
	fuse_session_unmount(fs.se);
out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
out_web:
	api_web_stop(web);
	free(fs.mountpoint);
	return ret;
}

static int run_mount(struct fs_cmdline *cl)
{
	struct fs_remote rem = { 0 };
	int ret = run_mount_with(cl, &rem);

	fs_remote_free(&rem);
	return ret;
}

int main(int argc, char **argv)
{
	struct fs_cmdline cl;
	int rc, ret;

	log_setup(0, LOG_LVL_INFO);
	if (argc > 1 && !strcmp(argv[1], "help")) {
		/* `sievefs help CMD` is `sievefs CMD --help` */
		char *sub[] = { argv[2], "--help", NULL };
		if (argc > 2 && !strcmp(argv[2], "sample"))
			return fs_sample_cli(2, sub);
		if (argc > 2 && !strcmp(argv[2], "serve"))
			return api_serve_cli(2, sub);
		if (argc > 2 && !strcmp(argv[2], "token"))
			return api_token_cli(2, sub);
		if (argc > 2 && !strcmp(argv[2], "store"))
			return api_store_cli(2, sub);
		if (argc > 2) {
			fprintf(stderr, "sievefs help: no command '%s' (sample,"
				" serve, token, store)\n", argv[2]);
			return 2;
		}
		fs_usage(argv[0]);
		return 0;
	}
	if (argc > 1 && !strcmp(argv[1], "sample"))
		return fs_sample_cli(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "serve"))
		return api_serve_cli(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "token"))
		return api_token_cli(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "store"))
		return api_store_cli(argc - 1, argv + 1);
	fuse_set_log_func(fuse_log_to_ours);
	rc = fs_cmdline_parse(argc, argv, &cl);
	if (rc) {
		fs_cmdline_free(&cl);
		return rc > 0 ? 0 : 1;
	}
	if (cl.opts.debug)
		log_setup(0, LOG_LVL_DEBUG);
	ret = run_mount(&cl);
	fs_cmdline_free(&cl);
	return ret;
}
