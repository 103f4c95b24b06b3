/*
 * cmdline.c — see cmdline.h. The first non-option argument is the source;
 * everything else goes through fuse_parse_cmdline, so -f, -d, -s and
 * -o max_idle_threads= behave as in every libfuse filesystem.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs/cmdline.h"

#ifndef SIEVEFS_VERSION
#define SIEVEFS_VERSION "0.1.0"
#endif

enum { KEY_DISCARD = 100, KEY_HELP, KEY_VERSION };

static const struct fuse_opt opt_spec[] = {
	FUSE_OPT_KEY("defaults", KEY_DISCARD),
	FUSE_OPT_KEY("noauto", KEY_DISCARD),
	FUSE_OPT_KEY("auto", KEY_DISCARD),
	FUSE_OPT_KEY("nofail", KEY_DISCARD),
	FUSE_OPT_KEY("_netdev", KEY_DISCARD),
	FUSE_OPT_KEY("user", KEY_DISCARD),
	FUSE_OPT_KEY("nouser", KEY_DISCARD),
	FUSE_OPT_KEY("users", KEY_DISCARD),
	FUSE_OPT_KEY("x-", KEY_DISCARD),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_END
};

struct parse_state {
	struct fs_cmdline *cl;
	int help, version, extra;
};

static int opt_proc(void *data, const char *arg, int key,
		    struct fuse_args *outargs)
{
	struct parse_state *ps = data;

	(void)outargs;
	switch (key) {
	case KEY_DISCARD:
		return 0;
	case KEY_HELP:
		ps->help = 1;
		return 0;
	case KEY_VERSION:
		ps->version = 1;
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		if (!ps->cl->source) {
			ps->cl->source = strdup(arg);
			return ps->cl->source ? 0 : -1;
		}
		return 1;
	case FUSE_OPT_KEY_OPT:
		/* x-systemd.* and friends */
		if (!strncmp(arg, "x-", 2))
			return 0;
		return 1;
	default:
		return 1;
	}
}

void fs_usage(const char *prog)
{
	printf("usage: %s STORE MOUNTPOINT [-o opt[,opt...]] [-f] [-d] [-s]\n"
	       "\n"
	       "Mounts the sievefs store in directory STORE (created if missing)"
	       " at MOUNTPOINT.\n"
	       "Each dataset is a folder; copy files into DATASET/initial-tag/"
	       " to upload them,\n"
	       "write paths to DATASET/selection, and mkdir DATASET/TAG to"
	       " freeze the selection.\n"
	       "Unmount with: fusermount3 -u MOUNTPOINT\n"
	       "\n"
	       "options:\n"
	       "    -f                     stay in the foreground\n"
	       "    -d                     debug output (implies -f)\n"
	       "    -s                     single-threaded\n"
	       "    -o allow_other         let other users see the mount\n"
	       "    -o max_idle_threads=N  idle worker threads kept (default 16)\n"
	       "    -h, --help             this text\n"
	       "    -V, --version          the version\n"
	       "\n"
	       "Also usable as: mount -t fuse.sievefs STORE MOUNTPOINT,"
	       " or in /etc/fstab:\n"
	       "    /srv/sievefs-store  /mnt/data  fuse.sievefs  defaults  0 0\n",
	       prog);
}

int fs_cmdline_parse(int argc, char **argv, struct fs_cmdline *out)
{
	struct parse_state ps = { .cl = out };

	memset(out, 0, sizeof(*out));
	out->args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	if (fuse_opt_parse(&out->args, &ps, opt_spec, opt_proc) == -1)
		return -EINVAL;
	if (ps.help) {
		fs_usage(argv[0]);
		return 1;
	}
	if (ps.version) {
		printf("sievefs %s (libfuse %s)\n", SIEVEFS_VERSION,
		       fuse_pkgversion());
		return 1;
	}
	if (fuse_parse_cmdline(&out->args, &out->opts) != 0)
		return -EINVAL;
	if (!out->source || !out->opts.mountpoint) {
		fprintf(stderr, "sievefs: %s\n", !out->source ?
			"missing STORE and MOUNTPOINT" : "missing MOUNTPOINT");
		fprintf(stderr, "usage: %s STORE MOUNTPOINT [-o opts] [-f]"
			" (see --help)\n", argv[0]);
		return -EINVAL;
	}
	return 0;
}

void fs_cmdline_free(struct fs_cmdline *cl)
{
	free(cl->source);
	free(cl->opts.mountpoint);
	fuse_opt_free_args(&cl->args);
	memset(cl, 0, sizeof(*cl));
}
