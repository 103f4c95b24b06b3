/*
 * cmdline.h — the mount command line:
 *   sievefs SOURCE MOUNTPOINT [-o opt,...] [-f] [-d] [-s]
 * which is also the form mount(8) and mount.fuse3 pass (`-o rw,dev,...`).
 * SOURCE is a store directory (embedded mode) or an http(s):// URL of a
 * sievefs server (remote mode: -o token_file=, cafile=, cache_dir=, cache_size=,
 * meta_ttl=, upload=; the token itself is refused on the command line,
 * where `ps` and shell history would show it). Options mount(8) keeps for
 * itself (defaults, noauto, nofail, _netdev, user, users, x-*) are dropped;
 * libfuse's own options pass through. -o nonempty is ours (libfuse 3
 * dropped it): see fs_mountpoint_check. ~ in token_file=, cache_dir=,
 * cafile=, web_root=, web_tls_cert= and web_tls_key= is expanded (fstab
 * and mount(8) do not).
 * Embedded mode may also serve the HTTP API and the web app from the mount
 * daemon: -o web=HOST[:PORT] (web_root=, web_tls_cert=, web_tls_key=,
 * web_insecure_http; api/server.h, api_web_*).
 */
#ifndef SIEVEFS_FS_CMDLINE_H
#define SIEVEFS_FS_CMDLINE_H

#include "api/client.h"
#include "fs/fs.h"

struct fs_cmdline {
	char *source;                  /* malloc'd */
	/* Remote mode (all malloc'd by fuse_opt, NULL when not given). */
	char *token_file, *cache_dir, *cache_size, *meta_ttl, *upload;
	char *cafile;                  /* https: trust this CA file */
	int nonempty;                  /* -o nonempty: skip the mount point check */
	/* The web door (embedded mode; malloc'd by fuse_opt, NULL when not
	 * given): -o web=, web_root=, web_tls_cert=, web_tls_key=. */
	char *web, *web_root, *web_tls_cert, *web_tls_key;
	int web_insecure;              /* -o web_insecure_http */
	struct fuse_args args;         /* what libfuse gets (fuse_opt_free_args) */
	struct fuse_cmdline_opts opts; /* mountpoint malloc'd by libfuse */
};

/* Parses argv. Returns 0, 1 when --help/--version was answered (exit 0), or
 * -EINVAL with a message printed to stderr. Free with fs_cmdline_free(). */
int fs_cmdline_parse(int argc, char **argv, struct fs_cmdline *out);
void fs_cmdline_free(struct fs_cmdline *cl);
/* Remote mode's settings, from the options and the environment. */
struct fs_remote {
	struct api_client_opts o;      /* points into this struct and cl */
	char *token;                   /* malloc'd; wiped by fs_remote_free */
	char *cache_dir;               /* malloc'd, absolute */
	char *cafile;                  /* malloc'd, absolute, or NULL */
};
/* Fills out from cl (source is a URL): reads the token from token_file or
 * SIEVEFS_TOKEN, resolves the cache directory (creating it), parses
 * cache_size, meta_ttl and upload. 0, or -errno with a message for the
 * terminal in msg. Free with fs_remote_free() either way. */
int fs_remote_opts(const struct fs_cmdline *cl, struct fs_remote *out,
		   char *msg, size_t len);
void fs_remote_free(struct fs_remote *r);

/* p with a leading ~ (or ~user) replaced by the home directory ($HOME,
 * else the password database). malloc'd, caller frees; NULL with errno
 * (ENOENT: no such user or home, ENOMEM). */
char *fs_expand_tilde(const char *p);

/* Unless nonempty: -EBUSY if mnt is already a mount point, -ENOTEMPTY if
 * it holds anything, with the reason (and the way out) in msg. 0 if fine. */
int fs_mountpoint_check(const char *mnt, int nonempty, char *msg,
			size_t len);

/* Usage text, for --help and errors. */
void fs_usage(const char *prog);

#endif
