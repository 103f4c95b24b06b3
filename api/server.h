/*
 * server.h — `sievefs serve` (the v1 HTTP API of docs/api.md over the
 * embedded backend of core/) and `sievefs token` (users' API tokens).
 *
 * Both are command-line entry points called by fs/main.c with argv starting
 * at the subcommand ("serve", "token"). They print their errors on stderr and
 * return the process exit status (0 ok, 1 error, 2 usage). They block: serve
 * runs until SIGINT or SIGTERM.
 */
#ifndef SIEVEFS_API_SERVER_H
#define SIEVEFS_API_SERVER_H

/* sievefs serve STORE --listen HOST:PORT [--tls-cert F --tls-key F]
 *               [--user-rate N/S] [--conns-per-addr N] [--max-conns N]
 *               [--insecure-http]   (needed for plain http off loopback)
 *               [--web-root DIR] [--session-ttl SECS]   (the web app)
 * Port 0 picks a free port; the address actually bound is printed on stderr
 * as "sievefs: listening on http(s)://HOST:PORT". */
int api_serve_cli(int argc, char **argv);

/* sievefs token create --store STORE USER   (prints the new token once)
 * sievefs token list --store STORE
 * sievefs token revoke --store STORE ID */
int api_token_cli(int argc, char **argv);

#endif
