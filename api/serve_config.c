/*
 * serve_config.c — the catalog, blob store and secrets of `sievefs serve`,
 * `sievefs token` and `sievefs store migrate`: --catalog, --catalog-file,
 * --blobs and the --config file (the format and its rules are in
 * serve_config.h).
 *
 * Both files that may hold a password (--catalog-file, --config) are read
 * by one function, private_read: opened without following a FIFO's block
 * (O_NOCTTY, a regular file checked on the open fd, so the mode checked is
 * the file read), refused when group or others have any permission, read
 * whole under a cap, and wiped before they are freed. Nothing here prints
 * a value read from such a file: messages name the file, the line and the
 * key.
 */
#include <ctype.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/serve_config.h"

#define CATALOG_FILE_MAX 4096
#define CONFIG_FILE_MAX (64 * 1024)
#define CONFIG_LINE_MAX 4096

/* The file at path, whole, NUL-terminated, into *out (malloc'd; *len its
 * bytes): refused when not a regular file, when group or others have any
 * permission, or when it holds cap bytes or more. `what` names the option
 * in messages ("--config"). 0, or 1 with the reason on stderr. */
static int private_read(const char *what, const char *path, size_t cap,
			char **out, size_t *len)
{
	char *buf = NULL;
	struct stat sb;
	ssize_t n;
	size_t got = 0;
	int fd, rc = 1;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, &sb)) {
		fprintf(stderr, "sievefs: %s %s: %s\n", what, path,
			strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		fprintf(stderr, "sievefs: %s %s: not a regular file\n", what,
			path);
		goto out;
	}
	if (sb.st_mode & 077) {
		fprintf(stderr, "sievefs: %s %s has mode %04o: group or others"
			" may read it, and it may hold a password or a secret"
			" key; refusing it (chmod 600 %s)\n", what, path,
			(unsigned)(sb.st_mode & 07777), path);
		goto out;
	}
	if ((uint64_t)sb.st_size >= cap || !(buf = calloc(1, cap))) {
		fprintf(stderr, "sievefs: %s %s: %s\n", what, path,
			buf || (uint64_t)sb.st_size >= cap ?
			"too large" : "out of memory");
		goto out;
	}
	while (got < cap - 1 && (n = read(fd, buf + got, cap - 1 - got)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "sievefs: %s %s: %s\n", what, path,
				strerror(errno));
			goto out;
		}
		got += (size_t)n;
	}
	if (got >= cap - 1) {
		fprintf(stderr, "sievefs: %s %s: too large\n", what, path);
		goto out;
	}
	*out = buf;
	*len = got;
	buf = NULL;
	rc = 0;
out:
	if (buf) {
		explicit_bzero(buf, cap);
		free(buf);
	}
	if (fd >= 0)
		close(fd);
	return rc;
}

void srv_secret_free(char *s)
{
	if (!s)
		return;
	explicit_bzero(s, strlen(s));
	free(s);
}

/* ---- the catalog's target ---- */

/* 1 if target begins with a scheme the PostgreSQL engine takes. */
static int catalog_is_pg(const char *t)
{
	return !strncmp(t, "postgresql://", 13) || !strncmp(t, "postgres://", 11);
}

/* 1 if the URI t carries a secret: "user:password@" in its authority, or
 * a password= or sslpassword= (the client key's passphrase) parameter.
 * Such a URI is refused on argv, which every user of the machine reads
 * (/proc/PID/cmdline, ps). */
static int catalog_has_password(const char *t)
{
	const char *a = strstr(t, "://"), *end, *at = NULL;

	for (const char *p = t; (p = strstr(p, "password=")) != NULL; p++) {
		const char *k = p - t >= 3 && !strncmp(p - 3, "ssl", 3) ?
				p - 3 : p;
		if (k == t || k[-1] == '?' || k[-1] == '&')
			return 1;
	}
	if (!a)
		return 0;
	a += 3;
	end = a + strcspn(a, "/?");
	for (const char *p = a; p < end; p++)
		if (*p == '@')
			at = p;
	return at && memchr(a, ':', (size_t)(at - a)) != NULL;
}

/* The URI in --catalog-file `path` into *out (malloc'd): its one line that
 * is not blank or a # comment. 0, or 1 with the reason on stderr. */
static int catalog_read_file(const char *path, char **out)
{
	char *buf, *line = NULL;
	size_t len;
	int lines = 0, rc = 1;

	*out = NULL;
	if (private_read("--catalog-file", path, CATALOG_FILE_MAX, &buf, &len))
		return 1;
	for (char *p = buf, *nl; *p; p = nl) {
		char *e;

		nl = p + strcspn(p, "\n");
		if (*nl)
			*nl++ = '\0';
		while (*p == ' ' || *p == '\t')
			p++;
		e = p + strlen(p);
		while (e > p && (e[-1] == ' ' || e[-1] == '\t' ||
				 e[-1] == '\r'))
			*--e = '\0';
		if (!*p || *p == '#')
			continue;
		lines++;
		line = p;
	}
	if (lines != 1 || !catalog_is_pg(line)) {
		fprintf(stderr, "sievefs: --catalog-file %s: want one line"
			" holding a postgresql:// URI (blank lines and # comments"
			" aside)\n", path);
		goto out;
	}
	if (!(*out = strdup(line))) {
		fprintf(stderr, "sievefs: out of memory\n");
		goto out;
	}
	rc = 0;
out:
	explicit_bzero(buf, len);
	free(buf);
	return rc;
}

int srv_catalog_target(const char *uri, const char *file, const char *conf_cat,
		       char **out)
{
	*out = NULL;
	if (!!uri + !!file + !!conf_cat > 1) {
		fprintf(stderr, "sievefs: give the catalog once: --catalog,"
			" --catalog-file or the --config file's catalog line\n");
		return 2;
	}
	if (file)
		return catalog_read_file(file, out) ? 1 : 0;
	if (conf_cat) {
		if (!catalog_is_pg(conf_cat)) {
			fprintf(stderr, "sievefs: --config: catalog: want a"
				" postgresql:// URI\n");
			return 1;
		}
		if (!(*out = strdup(conf_cat))) {
			fprintf(stderr, "sievefs: out of memory\n");
			return 1;
		}
		return 0;
	}
	if (!uri)
		return 0;
	if (!catalog_is_pg(uri)) {
		fprintf(stderr, "sievefs: --catalog: want a postgresql:// URI"
			" (postgresql://USER@HOST:PORT/DATABASE); without"
			" --catalog the catalog is STORE/catalog.db\n");
		return 2;
	}
	if (catalog_has_password(uri)) {
		fprintf(stderr, "sievefs: --catalog: the URI holds a password,"
			" which any user of this machine can read on a command"
			" line; give it in PGPASSWORD, ~/.pgpass, or put the URI"
			" in a --catalog-file or --config file (mode 0600)\n");
		return 2;
	}
	if (!(*out = strdup(uri))) {
		fprintf(stderr, "sievefs: out of memory\n");
		return 1;
	}
	return 0;
}

/* ---- the blob store ---- */

int srv_blobs_argv_check(const char *spec)
{
	static const char *const bad[] = { "key", "secret", "password",
					   "token", "signature", "credential" };
	const char *q = strchr(spec, '?'), *scheme = strstr(spec, "://");
	const char *host_end;

	/* s3://user:secret@bucket/…: the authority before the bucket */
	if (scheme) {
		const char *a = scheme + 3;
		host_end = a + strcspn(a, "/?");
		if (memchr(a, '@', (size_t)(host_end - a)))
			goto refuse;
	}
	for (const char *p = q ? q + 1 : NULL; p && *p;) {
		size_t n = strcspn(p, "&"), kl = strcspn(p, "=&");
		char key[64];

		/* endpoint=http://user:pw@host: '@' anywhere in a value */
		if (memchr(p, '@', n))
			goto refuse;
		snprintf(key, sizeof(key), "%.*s", (int)(kl < 63 ? kl : 63), p);
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
			for (char *k = key; *k; k++)
				if (!strncasecmp(k, bad[i], strlen(bad[i])))
					goto refuse;
		p += n;
		if (*p)
			p++;
	}
	return 0;
refuse:
	fprintf(stderr, "sievefs: --blobs: the spec carries a credential, which"
		" any user of this machine can read on a command line; give S3"
		" credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or"
		" in a --config file (mode 0600: s3_access_key_id,"
		" s3_secret_access_key)\n");
	return 2;
}

int srv_blobs_settings(const char *argv_blobs, const struct srv_config *conf,
		       const char **blobs, const char **key_id,
		       const char **secret)
{
	*blobs = argv_blobs;
	*key_id = conf ? conf->s3_key_id : NULL;
	*secret = conf ? conf->s3_secret : NULL;
	if (argv_blobs && conf && conf->blobs) {
		fprintf(stderr, "sievefs: give the blob store once: --blobs or"
			" the --config file's blobs line\n");
		return 2;
	}
	if (!argv_blobs && conf)
		*blobs = conf->blobs;
	return 0;
}

/* ---- the config file ---- */

struct conf_key {
	const char *name;
	size_t off;   /* of its char * in struct srv_config */
};

#define K(n, f) { n, offsetof(struct srv_config, f) }
static const struct conf_key conf_keys[] = {
	K("catalog", catalog), K("blobs", blobs),
	K("s3_access_key_id", s3_key_id),
	K("s3_secret_access_key", s3_secret), K("listen", listen),
	K("tls_cert", tls_cert), K("tls_key", tls_key),
	K("web_root", web_root),
};
#undef K

void srv_config_free(struct srv_config *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
		srv_secret_free(*(char **)((char *)c + conf_keys[i].off));
	memset(c, 0, sizeof(*c));
}

/* One line (NUL-terminated, no '\n') of the file, number ln, into c. 0 or
 * 1 with FILE:LINE and the reason on stderr (never the value). */
static int conf_line(const char *path, unsigned ln, char *p,
		     struct srv_config *c)
{
	char *eq, *k, *ke, *v, *ve, **slot = NULL;

	while (*p == ' ' || *p == '\t')
		p++;
	if (!*p || *p == '#' || (*p == '\r' && !p[1]))
		return 0;
	if (!(eq = strchr(p, '='))) {
		fprintf(stderr, "sievefs: --config %s:%u: not a KEY = VALUE"
			" line (nor a blank line or a # comment)\n", path, ln);
		return 1;
	}
	k = p;
	ke = eq;
	while (ke > k && (ke[-1] == ' ' || ke[-1] == '\t'))
		ke--;
	*ke = '\0';
	v = eq + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	ve = v + strlen(v);
	while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t' || ve[-1] == '\r'))
		ve--;
	*ve = '\0';
	if (!*k) {
		fprintf(stderr, "sievefs: --config %s:%u: no key before '='\n",
			path, ln);
		return 1;
	}
	for (size_t i = 0; i < sizeof(conf_keys) / sizeof(conf_keys[0]); i++)
		if (!strcmp(k, conf_keys[i].name))
			slot = (char **)((char *)c + conf_keys[i].off);
	if (!slot) {
		/* the key is printed only when it is a plain word: a line
		 * such as "hunter2=" must not be echoed */
		int word = strlen(k) <= 32;
		for (const char *q = k; word && *q; q++)
			word = islower((unsigned char)*q) || *q == '_';
		fprintf(stderr, "sievefs: --config %s:%u: unknown key%s%s%s"
			" (known: catalog, blobs, s3_access_key_id,"
			" s3_secret_access_key, listen, tls_cert, tls_key,"
			" web_root)\n", path, ln, word ? " '" : "",
			word ? k : "", word ? "'" : "");
		return 1;
	}
	if (*slot) {
		fprintf(stderr, "sievefs: --config %s:%u: %s is given twice\n",
			path, ln, k);
		return 1;
	}
	if (!*v) {
		fprintf(stderr, "sievefs: --config %s:%u: %s has no value\n",
			path, ln, k);
		return 1;
	}
	for (const char *q = v; *q; q++)
		if ((unsigned char)*q < 0x20 && *q != '\t') {
			fprintf(stderr, "sievefs: --config %s:%u: %s holds a"
				" control character\n", path, ln, k);
			return 1;
		}
	if (!(*slot = strdup(v))) {
		fprintf(stderr, "sievefs: out of memory\n");
		return 1;
	}
	return 0;
}

int srv_config_read(const char *path, struct srv_config *out)
{
	char *buf;
	size_t len;
	unsigned ln = 0;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (private_read("--config", path, CONFIG_FILE_MAX, &buf, &len))
		return 1;
	if (memchr(buf, '\0', len)) {
		fprintf(stderr, "sievefs: --config %s: holds a NUL byte (not a"
			" text file)\n", path);
		rc = 1;
	}
	for (char *p = buf, *nl; !rc && p < buf + len; p = nl) {
		nl = p + strcspn(p, "\n");
		ln++;
		if ((size_t)(nl - p) > CONFIG_LINE_MAX) {
			fprintf(stderr, "sievefs: --config %s:%u: line longer"
				" than 4 KiB\n", path, ln);
			rc = 1;
			break;
		}
		if (*nl)
			*nl++ = '\0';
		rc = conf_line(path, ln, p, out);
	}
	if (!rc && !out->s3_key_id != !out->s3_secret) {
		fprintf(stderr, "sievefs: --config %s: give both"
			" s3_access_key_id and s3_secret_access_key, or"
			" neither (then AWS_ACCESS_KEY_ID and"
			" AWS_SECRET_ACCESS_KEY)\n", path);
		rc = 1;
	}
	explicit_bzero(buf, len);
	free(buf);
	if (rc)
		srv_config_free(out);
	return rc;
}
