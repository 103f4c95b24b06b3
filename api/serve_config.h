/*
 * serve_config.h — where `sievefs serve`, `sievefs token` and `sievefs
 * store migrate` find their catalog, their blob store and the secrets of
 * both: the command line (--catalog, --catalog-file, --blobs) and a
 * config file (--config FILE). Private to api/ (server.c, store_cli.c).
 *
 * The config file. Text, one setting a line:
 *
 *     # the team server (comment lines start with '#')
 *     catalog = postgresql://sievefs:PASSWORD@db.example:5432/sievefs
 *     blobs = s3://BUCKET/PREFIX?endpoint=http://HOST:PORT&region=REGION
 *     s3_access_key_id = AKIA…
 *     s3_secret_access_key = …
 *     listen = 127.0.0.1:8420
 *
 * A line is blank, a comment (its first non-blank byte is '#'), or
 * KEY = VALUE: spaces and tabs around KEY and VALUE are dropped, the
 * VALUE is the rest of the line as is (a '#' inside it is part of it:
 * passwords may hold one; no quoting, no escapes). Keys: catalog, blobs,
 * s3_access_key_id, s3_secret_access_key, listen, tls_cert, tls_key,
 * web_root (the same meaning as serve's --catalog, --blobs, --listen,
 * --tls-cert, --tls-key, --web-root; the two s3_ keys go together).
 * Strict: an unknown key, a key given twice, a line without '=', an empty
 * key or value, a NUL byte, a line over 4 KiB or a file over 64 KiB is an
 * error naming FILE:LINE (never the value: it may be a secret). A setting
 * in the file and on the command line too is an error (say it once).
 *
 * Who may read it: the file may hold passwords, so it is refused when its
 * group or others have any permission (mode must be 0600 or 0400: "chmod
 * 600 FILE"), or when it is not a regular file.
 *
 * Secrets: never taken from argv (a --catalog URI with a password, a
 * --blobs spec with a credential: refused, exit 2, without echoing it);
 * never printed; every copy is wiped (explicit_bzero) when freed.
 *
 * Failure: each function returns 0, or the command's exit status (1: the
 * file or the system; 2: a usage error) with the reason already on stderr.
 */
#ifndef SIEVEFS_API_SERVE_CONFIG_H
#define SIEVEFS_API_SERVE_CONFIG_H

/* The settings a config file may hold; NULL when absent. malloc'd; free
 * (and wipe) with srv_config_free. */
struct srv_config {
	char *catalog;
	char *blobs;
	char *s3_key_id;
	char *s3_secret;
	char *listen;
	char *tls_cert;
	char *tls_key;
	char *web_root;
};

/* Reads the config file `path` into *out (zeroed first). 0, or 1 with
 * "sievefs: --config PATH…" on stderr. */
int srv_config_read(const char *path, struct srv_config *out);
/* Wipes and frees every setting; *c is zeroed. NULL: no-op. */
void srv_config_free(struct srv_config *c);

/* The catalog's target from --catalog `uri`, --catalog-file `file` or the
 * config's `conf_cat` (at most one given) into *out (malloc'd; NULL when
 * none: the store's SQLite file). */
int srv_catalog_target(const char *uri, const char *file, const char *conf_cat,
		       char **out);
/* Wipes and frees a string that may hold a secret. NULL: no-op. */
void srv_secret_free(char *s);

/* 2 (with the reason on stderr) when the --blobs `spec` given on the
 * command line carries a credential (user@ before the host, or a query
 * parameter naming a key, secret, password, token, signature or
 * credential); else 0. The spec's form is the blob engine's to check. */
int srv_blobs_argv_check(const char *spec);

/* The blob store's settings with the config's: *blobs is the --blobs
 * `argv_blobs` or the config's (given in both: 2); *key_id and *secret
 * point into conf (NULL when the file has none: the engine then reads
 * AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). conf may be NULL. */
int srv_blobs_settings(const char *argv_blobs, const struct srv_config *conf,
		       const char **blobs, const char **key_id,
		       const char **secret);

#endif
