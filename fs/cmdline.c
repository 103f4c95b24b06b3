/*
 * cmdline.c — see cmdline.h. The first non-option argument is the source;
 * everything else goes through fuse_parse_cmdline, so -f, -d, -s and
 * -o max_idle_threads= behave as in every libfuse filesystem.
 *
 * Paths in options may start with ~ or ~user: mount(8) and fstab pass them
 * unexpanded, so we expand them ($HOME, else the password database).
 * libfuse 3 mounts over anything; we refuse a folder that is already a
 * mount point or not empty (what it holds would be hidden) unless
 * -o nonempty asks for it.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/cmdline.h"

#ifndef SIEVEFS_VERSION
#define SIEVEFS_VERSION "0.1.0"
#endif

enum { KEY_DISCARD = 100, KEY_HELP, KEY_VERSION, KEY_TOKEN, KEY_NONEMPTY };

struct parse_state {
	struct fs_cmdline *cl;
	int help, version, extra, token, nonempty;
	char *token_file, *cache_dir, *cache_size, *meta_ttl, *upload;
	char *cafile;
	char *web, *web_root, *web_tls_cert, *web_tls_key;
	int web_insecure;
	int nonopts;            /* positional arguments seen */
	char *surplus;          /* the first one after MOUNTPOINT */
};

/* Remote-mode options: fuse_opt stores their values in parse_state. */
#define CL_OPT(t, f) { t, offsetof(struct parse_state, f), 0 }

static const struct fuse_opt opt_spec[] = {
	CL_OPT("token_file=%s", token_file),
	CL_OPT("cafile=%s", cafile),
	CL_OPT("cache_dir=%s", cache_dir),
	CL_OPT("cache_size=%s", cache_size),
	CL_OPT("meta_ttl=%s", meta_ttl),
	CL_OPT("upload=%s", upload),
	CL_OPT("web=%s", web),
	CL_OPT("web_root=%s", web_root),
	CL_OPT("web_tls_cert=%s", web_tls_cert),
	CL_OPT("web_tls_key=%s", web_tls_key),
	{ "web_insecure_http", offsetof(struct parse_state, web_insecure), 1 },
	FUSE_OPT_KEY("token=", KEY_TOKEN),
	FUSE_OPT_KEY("nonempty", KEY_NONEMPTY),
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
	case KEY_TOKEN:
		ps->token = 1;
		return 0;
	case KEY_NONEMPTY:
		ps->nonempty = 1;
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		if (!ps->cl->source) {
			ps->nonopts++;
			ps->cl->source = strdup(arg);
			return ps->cl->source ? 0 : -1;
		}
		if (++ps->nonopts > 2 && !ps->surplus) {
			/* libfuse would say "invalid argument `X'" */
			ps->surplus = strdup(arg);
			return ps->surplus ? 0 : -1;
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
	       "       %s https://HOST:PORT MOUNTPOINT -o token_file=PATH [...]\n"
	       "       %s COMMAND ... (below)\n"
	       "\n"
	       "Mounts the sievefs store in directory STORE (created if missing)"
	       " at MOUNTPOINT\n"
	       "(an empty folder), or the datasets of a token's owner on a"
	       " sievefs server\n"
	       "(remote mode).\n"
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
	       "    -o nonempty            mount even on a folder that is not"
	       " empty or is\n"
	       "                           already a mount point (hides what"
	       " is there)\n"
	       "    -o max_idle_threads=N  idle worker threads kept (default 16)\n"
	       "    -o web=HOST[:PORT]     also serve the web app and the HTTP"
	       " API from this\n"
	       "                           mount (e.g. 127.0.0.1:8420; port"
	       " 0: any free one);\n"
	       "                           sign in with a token of sievefs"
	       " token create\n"
	       "                           --store STORE USER\n"
	       "    -o web_tls_cert=FILE,web_tls_key=FILE  https (needed off"
	       " loopback)\n"
	       "    -o web_insecure_http   plain http on an address other"
	       " machines reach\n"
	       "    -o web_root=DIR        the built web app (default: the"
	       " installed one)\n"
	       "remote mode:\n"
	       "    -o token_file=PATH     file holding the API token (or set"
	       " SIEVEFS_TOKEN)\n"
	       "    -o cafile=PATH         https: trust the CA certificate(s) in"
	       " PATH\n"
	       "    -o cache_dir=DIR       sample cache (default: one per"
	       " server and user in ~/.cache/sievefs)\n"
	       "    -o cache_size=N[KMG]   cache size bound (default 1G)\n"
	       "    -o meta_ttl=SECONDS    metadata reuse time (default 2)\n"
	       "    -o upload=full         send sample bytes to the server"
	       " (default)\n"
	       "    -o upload=meta         send metadata only; the bytes stay"
	       " pinned in this\n"
	       "                           machine's cache\n"
	       "    -o upload=thumbnails   as meta, plus a JPEG copy (longest"
	       " side 128 px) that\n"
	       "                           other machines read instead\n"
	       "    -h, --help             this text\n"
	       "    -V, --version          the version\n"
	       "Paths in options may start with ~ (expanded even from fstab).\n"
	       "\n"
	       "commands (each has --help):\n"
	       "    sample DATASET_DIR REQUEST...   sample a dataset of a"
	       " mount and wait,\n"
	       "                           e.g. sievefs sample mnt/leaves"
	       " coreset n=500\n"
	       "    serve STORE --listen HOST:PORT  serve a store to remote"
	       " mounts (HTTP)\n"
	       "    token create|list|revoke --store STORE ...  API tokens of"
	       " a server\n"
	       "    help [COMMAND]         this text, or a command's\n"
	       "\n"
	       "Also usable as: mount -t fuse.sievefs STORE MOUNTPOINT,"
	       " or in /etc/fstab:\n"
	       "    /srv/sievefs-store  /mnt/data  fuse.sievefs  defaults  0 0\n",
	       prog, prog, prog);
}

char *fs_expand_tilde(const char *p)
{
	const char *rest, *home = NULL;
	char user[LOGIN_NAME_MAX + 1], *out;
	struct passwd pw, *res = NULL;
	char pwbuf[4096];
	size_t ul;

	if (p[0] != '~')
		return strdup(p);
	rest = p + 1 + strcspn(p + 1, "/");
	ul = (size_t)(rest - p - 1);
	if (ul == 0) {
		home = getenv("HOME");
		if (!home || home[0] != '/') {
			getpwuid_r(getuid(), &pw, pwbuf, sizeof(pwbuf), &res);
			home = res ? res->pw_dir : NULL;
		}
	} else if (ul < sizeof(user)) {
		memcpy(user, p + 1, ul);
		user[ul] = '\0';
		getpwnam_r(user, &pw, pwbuf, sizeof(pwbuf), &res);
		home = res ? res->pw_dir : NULL;
	}
	if (!home) {
		errno = ENOENT;
		return NULL;
	}
	size_t n = strlen(home) + strlen(rest) + 1;
	out = malloc(n);
	if (out)
		snprintf(out, n, "%s%s", home, rest);
	return out;
}

/* Expands ~ in an option's value in place. 0, or -EINVAL with a message. */
static int expand_opt(char **v, const char *name)
{
	char *e;

	if (!*v || (*v)[0] != '~')
		return 0;
	e = fs_expand_tilde(*v);
	if (!e) {
		fprintf(stderr, "sievefs: -o %s=%s: cannot expand ~: %s\n",
			name, *v, errno == ENOENT ? "no such user, or no home"
			" directory" : strerror(errno));
		return -EINVAL;
	}
	free(*v);
	*v = e;
	return 0;
}

/* The mount of absolute path abs in /proc/self/mountinfo ("TYPE SOURCE"
 * into what), 1 if there is one. */
static int mounted_at(const char *abs, char *what, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[8192], mp[4096];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		/* id parent maj:min root MOUNTPOINT opts... - TYPE SOURCE ... */
		char *p = line, *sep;
		size_t o = 0;
		for (int field = 0; field < 4 && p; field++) {
			p = strchr(p, ' ');
			p = p ? p + 1 : NULL;
		}
		if (!p)
			continue;
		for (; *p && *p != ' ' && o + 1 < sizeof(mp); p++) {
			/* octal escapes: \040 for a space, \134 for \ ... */
			if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' &&
			    p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
			    p[3] <= '7') {
				mp[o++] = (char)((p[1] - '0') * 64 +
						 (p[2] - '0') * 8 + (p[3] - '0'));
				p += 3;
			} else {
				mp[o++] = *p;
			}
		}
		mp[o] = '\0';
		if (strcmp(mp, abs))
			continue;
		found = 1;
		sep = strstr(p, " - ");
		if (sep) {
			char type[256] = "", src[1024] = "";
			if (sscanf(sep + 3, "%255s %1023s", type, src) >= 1)
				snprintf(what, len, "%s %s", type, src);
		}
	}
	fclose(f);
	return found;
}

int fs_mountpoint_check(const char *mnt, int nonempty, char *msg,
			size_t len)
{
	char what[1400] = "?", *abs;
	struct dirent *de;
	DIR *d;
	int rc = 0;

	if (nonempty)
		return 0;
	abs = realpath(mnt, NULL);
	if (!abs) {
		snprintf(msg, len, "mount point %s: %s", mnt, strerror(errno));
		return -errno;
	}
	if (mounted_at(abs, what, sizeof(what))) {
		snprintf(msg, len, "mount point %s is already mounted (%s):"
			 " unmount it first (fusermount3 -u %s), or pass -o"
			 " nonempty to mount over it", mnt, what, mnt);
		rc = -EBUSY;
		goto out;
	}
	d = opendir(abs);
	if (!d) {
		snprintf(msg, len, "mount point %s: %s", mnt, strerror(errno));
		rc = -errno;
		goto out;
	}
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(msg, len, "mount point %s is not empty (it"
				 " holds '%.200s'…): the mount would hide its"
				 " files; use an empty folder, or pass -o"
				 " nonempty", mnt, de->d_name);
			rc = -ENOTEMPTY;
			break;
		}
	closedir(d);
out:
	free(abs);
	return rc;
}

int fs_cmdline_parse(int argc, char **argv, struct fs_cmdline *out)
{
	struct parse_state ps = { .cl = out };

	memset(out, 0, sizeof(*out));
	out->args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	int prc = fuse_opt_parse(&out->args, &ps, opt_spec, opt_proc);

	out->token_file = ps.token_file;
	out->cache_dir = ps.cache_dir;
	out->cache_size = ps.cache_size;
	out->meta_ttl = ps.meta_ttl;
	out->upload = ps.upload;
	out->cafile = ps.cafile;
	out->nonempty = ps.nonempty;
	out->web = ps.web;
	out->web_root = ps.web_root;
	out->web_tls_cert = ps.web_tls_cert;
	out->web_tls_key = ps.web_tls_key;
	out->web_insecure = ps.web_insecure;
	if (prc == -1) {
		free(ps.surplus);
		return -EINVAL;
	}
	if (ps.surplus) {
		fprintf(stderr, "sievefs: one argument too many: '%s'"
			" (usage: sievefs STORE MOUNTPOINT [-o opt,...];"
			" `sievefs --help` lists the commands)\n", ps.surplus);
		if (out->source && !strcmp(out->source, "mount"))
			fprintf(stderr, "sievefs: there is no 'mount' command:"
				" `sievefs STORE MOUNTPOINT` mounts\n");
		free(ps.surplus);
		return -EINVAL;
	}
	if (expand_opt(&out->token_file, "token_file") ||
	    expand_opt(&out->cache_dir, "cache_dir") ||
	    expand_opt(&out->cafile, "cafile") ||
	    expand_opt(&out->web_root, "web_root") ||
	    expand_opt(&out->web_tls_cert, "web_tls_cert") ||
	    expand_opt(&out->web_tls_key, "web_tls_key"))
		return -EINVAL;
	if (ps.token) {
		fprintf(stderr, "sievefs: -o token= is refused: a token on the"
			" command line is visible to every user in `ps` and"
			" stays in shell history. Put it in a file readable"
			" only by you and pass -o token_file=PATH, or set"
			" SIEVEFS_TOKEN.\n");
		return -EINVAL;
	}
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
	free(cl->token_file);
	free(cl->cache_dir);
	free(cl->cache_size);
	free(cl->meta_ttl);
	free(cl->upload);
	free(cl->cafile);
	free(cl->web);
	free(cl->web_root);
	free(cl->web_tls_cert);
	free(cl->web_tls_key);
	free(cl->opts.mountpoint);
	fuse_opt_free_args(&cl->args);
	memset(cl, 0, sizeof(*cl));
}

/* ---- remote mode ---- */

/* "1G", "500M", "64k", "12345" → bytes. */
static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;
	uint64_t mul = 1;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	case 't': case 'T': mul = 1ull << 40; end++; break;
	default: break;
	}
	if (*end == 'i' && mul > 1)
		end++;
	if ((*end == 'b' || *end == 'B') && mul > 1)
		end++;
	if (*end || v > UINT64_MAX / mul)
		return -EINVAL;
	*out = v * mul;
	return 0;
}

/* Reads the token: the first line of the file, whitespace trimmed. As ssh
 * does with a private key, a token file others could read or change (any
 * group/other permission bit), or that belongs to someone other than the
 * mounting user (or root), is refused: -EACCES, nothing is read. */
static int read_token(const char *path, char **out, char *msg, size_t len)
{
	char buf[512];
	struct stat st;
	size_t n;
	int rc;
	FILE *f = fopen(path, "re");

	if (!f) {
		rc = -errno;
		snprintf(msg, len, "token file %s: %s", path, strerror(-rc));
		return rc;
	}
	if (fstat(fileno(f), &st)) {
		rc = -errno;
		snprintf(msg, len, "token file %s: %s", path, strerror(-rc));
		fclose(f);
		return rc;
	}
	if (st.st_uid != geteuid() && st.st_uid != 0) {
		snprintf(msg, len, "token file %s belongs to uid %ld, not to you"
			 " (uid %ld): refusing to use it; keep your token in a"
			 " file of your own, chmod 600", path, (long)st.st_uid,
			 (long)geteuid());
		fclose(f);
		return -EACCES;
	}
	if (st.st_mode & 077) {
		snprintf(msg, len, "token file %s has mode %04o: other users"
			 " could read the token; refusing to use it. Run:"
			 " chmod 600 %s (and consider revoking the token)",
			 path, (unsigned)(st.st_mode & 07777), path);
		fclose(f);
		return -EACCES;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	buf[strcspn(buf, "\r\n")] = '\0';
	*out = strdup(buf);
	explicit_bzero(buf, sizeof(buf));
	if (!*out)
		return -ENOMEM;
	return 0;
}

static char *trimmed_dup(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strcspn(s, " \t\r\n");
	return strndup(s, n);
}

/* The default cache root: $XDG_CACHE_HOME/sievefs or ~/.cache/sievefs,
 * created (with ~/.cache) if missing; each server and user gets a cache
 * in it (api/client.c, open_user_cache). */
static int default_cache_dir(char **out)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	char base[3000], dir[3100];

	if (xdg && xdg[0] == '/')
		snprintf(base, sizeof(base), "%s", xdg);
	else if (home && home[0] == '/')
		snprintf(base, sizeof(base), "%s/.cache", home);
	else
		return -ENOENT;
	if (mkdir(base, 0700) && errno != EEXIST)
		return -errno;
	snprintf(dir, sizeof(dir), "%s/sievefs", base);
	*out = strdup(dir);
	return *out ? 0 : -ENOMEM;
}

int fs_remote_opts(const struct fs_cmdline *cl, struct fs_remote *out,
		   char *msg, size_t len)
{
	const char *env = getenv("SIEVEFS_TOKEN");
	char *end;
	int rc;

	memset(out, 0, sizeof(*out));
	out->o.url = cl->source;
	out->o.cache_size = 1ull << 30;
	out->o.meta_ttl = 2.0;
	out->o.upload = API_UPLOAD_FULL;
	if (cl->upload && !strcmp(cl->upload, "meta"))
		out->o.upload = API_UPLOAD_META;
	else if (cl->upload && !strcmp(cl->upload, "thumbnails"))
		out->o.upload = API_UPLOAD_THUMBNAILS;
	else if (cl->upload && strcmp(cl->upload, "full")) {
		snprintf(msg, len, "-o upload=%s: unknown mode (full,"
			 " thumbnails or meta)", cl->upload);
		return -EINVAL;
	}
	if (cl->cache_size && (parse_size(cl->cache_size, &out->o.cache_size) ||
			       out->o.cache_size < (1u << 20))) {
		snprintf(msg, len, "-o cache_size=%s: want a size of at least"
			 " 1M, such as 500M or 2G", cl->cache_size);
		return -EINVAL;
	}
	if (cl->meta_ttl) {
		errno = 0;
		out->o.meta_ttl = strtod(cl->meta_ttl, &end);
		if (errno || end == cl->meta_ttl || *end ||
		    !(out->o.meta_ttl >= 0 && out->o.meta_ttl <= 3600)) {
			snprintf(msg, len, "-o meta_ttl=%s: want seconds"
				 " between 0 and 3600", cl->meta_ttl);
			return -EINVAL;
		}
	}
	if (cl->cache_dir) {
		out->cache_dir = realpath(cl->cache_dir, NULL);
		if (!out->cache_dir && errno == ENOENT &&
		    mkdir(cl->cache_dir, 0700) == 0)
			out->cache_dir = realpath(cl->cache_dir, NULL);
		if (!out->cache_dir) {
			snprintf(msg, len, "-o cache_dir=%s: %s", cl->cache_dir,
				 strerror(errno));
			return -EINVAL;
		}
	} else {
		out->o.cache_per_user = 1;
		rc = default_cache_dir(&out->cache_dir);
		if (rc) {
			snprintf(msg, len, "no cache directory: set HOME or"
				 " pass -o cache_dir=DIR (%s)", strerror(-rc));
			return rc;
		}
	}
	out->o.cache_dir = out->cache_dir;
	if (cl->cafile) {     /* absolute: the daemon leaves its directory */
		out->cafile = realpath(cl->cafile, NULL);
		if (!out->cafile) {
			snprintf(msg, len, "-o cafile=%s: %s", cl->cafile,
				 strerror(errno));
			return -EINVAL;
		}
		out->o.cafile = out->cafile;
	}
	if (cl->token_file)
		rc = read_token(cl->token_file, &out->token, msg, len);
	else if (env && env[0])
		rc = (out->token = trimmed_dup(env)) ? 0 : -ENOMEM;
	else {
		snprintf(msg, len, "remote mode needs a token: -o"
			 " token_file=PATH (a file holding it) or the"
			 " environment variable SIEVEFS_TOKEN");
		return -EINVAL;
	}
	if (rc)
		return rc;
	if (!out->token[0]) {
		snprintf(msg, len, "the token %s is empty", cl->token_file ?
			 "file" : "in SIEVEFS_TOKEN");
		return -EINVAL;
	}
	out->o.token = out->token;
	return 0;
}

void fs_remote_free(struct fs_remote *r)
{
	if (r->token)
		explicit_bzero(r->token, strlen(r->token));
	free(r->token);
	free(r->cache_dir);
	free(r->cafile);
	memset(r, 0, sizeof(*r));
}
