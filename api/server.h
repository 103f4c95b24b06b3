/*
 * server.h — `sievefs serve` (the v1 HTTP API of docs/api.md over the
 * embedded backend of core/), `sievefs token` (users' API tokens), and the
 * same server run inside a mount daemon (`-o web=`, api_web_*).
 *
 * The two commands are entry points called by fs/main.c with argv starting
 * at the subcommand ("serve", "token"). They print their errors on stderr and
 * return the process exit status (0 ok, 1 error, 2 usage). They block: serve
 * runs until SIGINT or SIGTERM.
 */
#ifndef SIEVEFS_API_SERVER_H
#define SIEVEFS_API_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "core/backend.h"

/* sievefs serve STORE --listen HOST:PORT [--tls-cert F --tls-key F]
 *               [--user-rate N/S] [--conns-per-addr N] [--max-conns N]
 *               [--insecure-http]   (needed for plain http off loopback)
 *               [--web-root DIR] [--session-ttl SECS]   (the web app)
 *               [--catalog URI | --catalog-file FILE]
 * --catalog puts the catalog in PostgreSQL (a postgresql:// URI without a
 * password: those come from PGPASSWORD or ~/.pgpass, as libpq reads them;
 * a URI with one is refused on argv); --catalog-file reads the URI from a
 * file only its owner may read (mode 0600 or 0400, else refused). STORE
 * keeps the blobs, staging and thumbnails, and the owner lock.
 * Port 0 picks a free port; the address actually bound is printed on stderr
 * as "sievefs: listening on http(s)://HOST:PORT". */
int api_serve_cli(int argc, char **argv);

/* sievefs token create --store STORE USER   (prints the new token once)
 * sievefs token list --store STORE
 * sievefs token revoke --store STORE ID
 * each with the --catalog or --catalog-file its server was started with. */
int api_token_cli(int argc, char **argv);

/* sievefs store migrate STORE (--config FILE | --catalog URI |
 *                               --catalog-file FILE) [--blobs SPEC]
 * an embedded store copied into PostgreSQL (+ S3): api/store_cli.c. */
int api_store_cli(int argc, char **argv);

/* ---- the web door of a mount: `sievefs STORE MNT -o web=ADDR` ----
 *
 * One process owns a store (its owner lock), so a mount that also serves
 * the API and the web app runs the server in the mount daemon, over the
 * mount's own backend. In two steps, because the daemon forks after
 * mounting (threads do not cross a fork, and an error after the fork no
 * longer reaches the terminal):
 *   api_web_bind   before mounting: checks the options, reads the TLS
 *                  files, opens the web root and binds the listening
 *                  socket (a bad or busy address fails the mount here);
 *                  descriptors and memory only, no thread;
 *   api_web_start  in the daemon, once its backend is open: the server's
 *                  threads (MHD's pool, the sweep of unused uploads);
 *   api_web_stop   before the backend is destroyed.
 * Same defaults as `sievefs serve` (limits, deadlines, session lifetime);
 * plain http only on loopback unless insecure_http. */

struct api_web_opts {
	const char *addr;           /* "HOST[:PORT]" or "[V6][:PORT]"; no
	                             * port: API_WEB_PORT; port 0: any free */
	const char *tls_cert, *tls_key;   /* PEM files: both (https) or none */
	const char *web_root;       /* NULL: serve's default */
	int insecure_http;          /* 1: plain http off loopback too */
};
#define API_WEB_PORT 8420

/* What the mount does when the API changes its namespace behind the
 * kernel's back; called from the server's threads. arg is passed back. */
struct api_web_hooks {
	void *arg;
	/* A dataset or a tag is about to be removed (its blobs may go). */
	void (*before_remove)(void *arg);
	/* `name` no longer means what it did (removed, or renamed away): a
	 * dataset's name at the root when ds is 0, else a tag's name in
	 * dataset ds. */
	void (*name_gone)(void *arg, int64_t ds, const char *name);
};

struct api_web;

/* Checks o and binds its address. 0 with *out and the address clients use
 * ("http://127.0.0.1:8420") in url; else -errno with the reason for the
 * terminal in msg (-EINVAL: a bad option; -EADDRINUSE etc.: cannot listen).
 * Free with api_web_stop. o need not outlive the call. */
int api_web_bind(const struct api_web_opts *o, struct api_web **out,
		 char *url, size_t urllen, char *msg, size_t msglen);

/* Serves over `be` (from core_local_open; not taken over: it must outlive
 * api_web_stop), every signed-in user acting as `owner` (its datasets are
 * what they see), calling hooks (NULL: none; must outlive the server).
 * The server's threads block SIGINT, SIGTERM, SIGHUP and SIGPIPE: those
 * stay the mount's. 0, or -errno with the reason logged. */
int api_web_start(struct api_web *w, struct backend *be, const char *owner,
		  const struct api_web_hooks *hooks);

/* Stops answering (requests under way are finished or cut) and the sweep,
 * closes the socket and frees w; the backend is untouched. NULL: no-op. */
void api_web_stop(struct api_web *w);

#endif
