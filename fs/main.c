/*
 * main.c — the `sievefs` command: mounts a store (see fs/cmdline.h).
 *
 * Order matters: the store is opened once before mounting so that a bad
 * store is reported on the terminal (and crash recovery runs before anyone
 * can see the files), then closed, because SQLite connections and their
 * POSIX locks must not cross the fork of fuse_daemonize(); after
 * daemonising it is opened again for good.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "fs/cmdline.h"
#include "fs/fs.h"
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

static int run_mount(struct fs_cmdline *cl)
{
	struct fs fs = { .uid = getuid(), .gid = getgid(),
			 .emb_lock = PTHREAD_MUTEX_INITIALIZER };
	struct fuse_loop_config *cfg = NULL;
	char msg[512] = "", fsname[4200];
	struct backend *be = NULL;
	struct stat st;
	int rc, ret = 1;

	if (stat(cl->opts.mountpoint, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "sievefs: mount point %s: %s\n",
			cl->opts.mountpoint,
			errno && !S_ISDIR(st.st_mode) ? strerror(errno) :
			"not a directory");
		return 1;
	}
	rc = core_local_open(cl->source, OWNER_LOCAL, &be, msg, sizeof(msg));
	if (rc) {
		fprintf(stderr, "sievefs: %s\n", *msg ? msg : strerror(-rc));
		return 1;
	}
	be->ops->destroy(be);
	be = NULL;

	/* fuse_daemonize() changes to "/": keep the store's absolute path. */
	char *abs = realpath(cl->source, NULL);
	if (!abs) {
		fprintf(stderr, "sievefs: %s: %s\n", cl->source, strerror(errno));
		return 1;
	}
	free(cl->source);
	cl->source = abs;
	snprintf(fsname, sizeof(fsname), "fsname=%s", cl->source);
	/* Only the mounting user can enter a mount without allow_other, so
	 * the kernel's mode checks would only cost a GETATTR of the folder
	 * before every name looked up after a change (measured: one per file
	 * of a cp -r). A shared mount gets them. */
	if (add_opt(&cl->args, fsname) || add_opt(&cl->args, "subtype=sievefs") ||
	    (shared_mount(&cl->args) &&
	     add_opt(&cl->args, "default_permissions"))) {
		fprintf(stderr, "sievefs: out of memory\n");
		return 1;
	}
	fs.se = fuse_session_new(&cl->args, &fs_ops, sizeof(fs_ops), &fs);
	if (!fs.se)
		return 1;
	if (fuse_set_signal_handlers(fs.se))
		goto out_session;
	if (fuse_session_mount(fs.se, cl->opts.mountpoint))
		goto out_signals;
	if (fuse_daemonize(cl->opts.foreground))
		goto out_unmount;
	log_setup(!cl->opts.foreground, cl->opts.debug ? LOG_LVL_DEBUG :
		  LOG_LVL_INFO);

	rc = core_local_open(cl->source, OWNER_LOCAL, &fs.be, msg, sizeof(msg));
	if (rc) {
		log_error("%s", *msg ? msg : strerror(-rc));
		goto out_unmount;
	}
	fs.up = upload_table_new(fs.be);
	if (!fs.up)
		goto out_backend;
	fs.frozen_ttl = fs.be->ops->frozen_cache_ok ? 86400.0 : fs.be->ops->live_ttl;
	fs.live_ttl = fs.be->ops->live_ttl;

	if (cl->opts.singlethread) {
		rc = fuse_session_loop(fs.se);
	} else {
		cfg = fuse_loop_cfg_create();
		if (!cfg)
			goto out_uploads;
		fuse_loop_cfg_set_clone_fd(cfg, cl->opts.clone_fd);
		fuse_loop_cfg_set_idle_threads(cfg, cl->opts.max_idle_threads ?
					       cl->opts.max_idle_threads : 16);
		if (cl->opts.max_threads && cl->opts.max_threads <= 100000)
			fuse_loop_cfg_set_max_threads(cfg, cl->opts.max_threads);
		rc = fuse_session_loop_mt(fs.se, cfg);
		fuse_loop_cfg_destroy(cfg);
	}
	ret = rc < 0 ? 1 : 0;
out_uploads:
	upload_table_free(fs.up);
out_backend:
	fs.be->ops->destroy(fs.be);
out_unmount:
	fuse_session_unmount(fs.se);
out_signals:
	fuse_remove_signal_handlers(fs.se);
out_session:
	fuse_session_destroy(fs.se);
	return ret;
}

int main(int argc, char **argv)
{
	struct fs_cmdline cl;
	int rc, ret;

	log_setup(0, LOG_LVL_INFO);
	if (argc > 1 && !strcmp(argv[1], "sample"))
		return fs_sample_cli(argc - 1, argv + 1);
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
