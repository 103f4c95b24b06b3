/*
 * server.c — `sievefs serve`: the v1 HTTP API (docs/api.md) on
 * libmicrohttpd, over the embedded backend of core/; and `sievefs token`.
 * This file holds the command lines, the server's startup and shutdown
 * (api_server_start: the store, the sweep thread, MHD's daemon and its
 * options) and the sweep; the requests themselves are api/server_http.c's
 * and the routes' (api/server_int.h says which file holds what).
 *
 * The web app (api/web.c) gets its root from --web-root, else the default
 * (default_web_root: the source tree's web/dist for a binary run from
 * inside that tree, such as ./sievefs or build/sievefs, so `make` then
 * `./sievefs serve` serves the app just built; otherwise SIEVEFS_WEB_DIR,
 * Makefile: $(PREFIX)/share/sievefs/web) when that exists, opened once at
 * start, and its sessions' lifetime from --session-ttl.
 *
 * Plain http listens only on loopback unless --insecure-http. The global
 * connection cap (--max-conns) is kept FD_SPARE below the descriptor
 * limit, so the store always has descriptors.
 *
 * Uploads no node names (PUT /v1/blobs without a commit): each user may
 * hold at most `upload_cap` bytes of them (UPLOAD_CAP, --upload-cap;
 * routes_data.c enforces it). A sweep thread collects
 * those older than `grace` (ORPHAN_GRACE, --orphan-grace) every
 * sweep_every(grace) seconds (store_blob_sweep): the grace is the window
 * between a client's PUT and its commit; after it, the commit gets 409
 * blob_missing and the client sends the bytes again.
 *
 * Threads: MHD's internal thread pool (one epoll per thread, as many threads
 * as cores); handlers block on SQLite and disk I/O in those threads; one
 * sweep thread. State shared between threads: the backend (thread-safe),
 * the limit tables (rl_lock), the quota check (quota_lock) and the sweep's
 * stop flag (sweep_lock). All of it is set up before the threads start and
 * torn down after they stop (api_server_start, api_server_stop).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/server.h"
#include "api/server_int.h"
#include "api/server_probe.h"
#include "core/log.h"
#include "core/view.h"

/* GnuTLS priorities (MHD_OPTION_HTTPS_PRIORITIES): TLS 1.2 and 1.3 only;
 * in 1.2 only forward-secret ECDHE key exchange with AEAD ciphers (no CBC,
 * no RSA key transport, no SHA-1 MACs); the server's order wins. */
#define TLS_PRIORITIES "NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:" \
	"-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:" \
	"-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE"
#define UPLOAD_CAP (1ull << 30)   /* pending bytes per user, default */
#define ORPHAN_GRACE 3600         /* seconds, default */
#define RATE_DEFAULT "20000/10"  /* requests per seconds, per user */
#define CONNS_DEFAULT 128        /* concurrent connections per address */
#define MAX_CONNS_DEFAULT 1000   /* concurrent connections in all */
#define FD_SPARE 256             /* descriptors kept for the store, logs */
#define SESSION_TTL 604800       /* web sessions, seconds (7 days) */
/* The built web app `make install` puts in place (Makefile); --web-root
 * replaces it. Used only when it exists. */
#ifndef SIEVEFS_WEB_DIR
#define SIEVEFS_WEB_DIR "/usr/local/share/sievefs/web"
#endif
/* The source tree the binary was built in (Makefile: $(CURDIR)); a binary
 * run from inside it takes its app from SIEVEFS_SRC_DIR/web/dist. "": none. */
#ifndef SIEVEFS_SRC_DIR
#define SIEVEFS_SRC_DIR ""
#endif

/* The web root used without --web-root: SIEVEFS_SRC_DIR "/web/dist" when
 * this executable (/proc/self/exe) lies inside SIEVEFS_SRC_DIR, else
 * SIEVEFS_WEB_DIR. Never fails (an unreadable link: the installed one). */
static const char *default_web_root(void)
{
	char exe[PATH_MAX];
	size_t n = strlen(SIEVEFS_SRC_DIR);
	ssize_t len;

	if (!n)
		return SIEVEFS_WEB_DIR;
	len = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (len <= (ssize_t)n)
		return SIEVEFS_WEB_DIR;
	exe[len] = '\0';
	if (strncmp(exe, SIEVEFS_SRC_DIR, n) || exe[n] != '/')
		return SIEVEFS_WEB_DIR;
	return SIEVEFS_SRC_DIR "/web/dist";
}

/* ---- command line ---- */

static int read_file(const char *path, char **out)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return -errno;
	if (fseek(f, 0, SEEK_END) || (n = ftell(f)) < 0 || n > (1 << 20) ||
	    fseek(f, 0, SEEK_SET) || !(buf = malloc((size_t)n + 1)) ||
	    fread(buf, 1, (size_t)n, f) != (size_t)n) {
		fclose(f);
		free(buf);
		return -EIO;
	}
	buf[n] = '\0';
	fclose(f);
	*out = buf;
	return 0;
}

/* "HOST:PORT" or "[V6]:PORT" → a socket address. */
static int parse_listen(const char *spec, struct sockaddr_storage *ss,
			int *v6)
{
	char host[256];
	const char *colon, *port;
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE }, *ai = NULL;

	if (spec[0] == '[') {
		const char *rb = strchr(spec, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - spec - 1) >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec + 1, (size_t)(rb - spec - 1));
		host[rb - spec - 1] = '\0';
		port = rb + 2;
	} else {
		colon = strrchr(spec, ':');
		if (!colon || (size_t)(colon - spec) >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec, (size_t)(colon - spec));
		host[colon - spec] = '\0';
		port = colon + 1;
	}
	if (!*port || getaddrinfo(host[0] ? host : NULL, port, &hints, &ai))
		return -EINVAL;
	memcpy(ss, ai->ai_addr, ai->ai_addrlen);
	*v6 = ai->ai_family == AF_INET6;
	freeaddrinfo(ai);
	return 0;
}

/* Whether a bound address only this machine can reach: 127.0.0.0/8, ::1,
 * or ::ffff:127.x.y.z. A wildcard (0.0.0.0, ::) is not. */
static int listen_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		return (ntohl(a->sin_addr.s_addr) >> 24) == 127;
	}
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)ss)->sin6_addr;
		return IN6_IS_ADDR_LOOPBACK(a) ||
		       (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
	}
	return 0;
}

/* ---- the sweep of uploads no node names ---- */

/* How often the sweep runs: a quarter of the grace (so a blob goes at
 * most 1.25 graces after its PUT), between 1 s and 5 min. */
static unsigned sweep_every(unsigned grace)
{
	unsigned t = grace / 4;

	return t < 1 ? 1 : t > 300 ? 300 : t;
}

static void *sweep_main(void *arg)
{
	struct srv *s = arg;
	struct timespec until;
	int64_t bytes;
	size_t n;
	int rc;

	pthread_mutex_lock(&s->sweep_lock);
	while (!s->sweep_stop) {
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += sweep_every(s->grace);
		while (!s->sweep_stop &&
		       pthread_cond_timedwait(&s->sweep_cond, &s->sweep_lock,
					      &until) != ETIMEDOUT)
			;
		if (s->sweep_stop)
			break;
		pthread_mutex_unlock(&s->sweep_lock);
		rc = store_blob_sweep(s->st, (int64_t)s->grace * 1000000000,
				      &n, &bytes);
		if (rc)
			log_warn("sweep of unused uploads failed: %s",
				 strerror(-rc));
		else if (n)
			log_info("collected %zu uploaded blob(s), %lld bytes,"
				 " that no node named %u s after their PUT", n,
				 (long long)bytes, s->grace);
		pthread_mutex_lock(&s->sweep_lock);
	}
	pthread_mutex_unlock(&s->sweep_lock);
	return NULL;
}

static void sweep_stop(struct srv *s, pthread_t t)
{
	pthread_mutex_lock(&s->sweep_lock);
	s->sweep_stop = 1;
	pthread_cond_signal(&s->sweep_cond);
	pthread_mutex_unlock(&s->sweep_lock);
	pthread_join(t, NULL);
}

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
		"Tokens for the users: sievefs token create --store STORE USER."
		" Stops on\n"
		"SIGINT or SIGTERM.\n", CONNS_DEFAULT, MAX_CONNS_DEFAULT,
		HEAD_TIMEOUT, PRESSED_TIMEOUT, default_web_root(), SESSION_TTL);
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

struct api_server {
	struct srv *s;
	struct MHD_Daemon *d;
	pthread_t sweeper;
	int sweeping;
};

void api_server_stop(struct api_server *h)
{
	if (!h)
		return;
	if (h->d)
		MHD_stop_daemon(h->d);
	if (h->sweeping)
		sweep_stop(h->s, h->sweeper);
	if (h->s) {
		if (h->s->base)
			h->s->base->ops->destroy(h->s->base);
		pthread_mutex_destroy(&h->s->rl_lock);
		pthread_mutex_destroy(&h->s->quota_lock);
		pthread_mutex_destroy(&h->s->sweep_lock);
		pthread_cond_destroy(&h->s->sweep_cond);
		if (h->s->web_fd >= 0)
			close(h->s->web_fd);
	}
	free(h->s);
	free(h);
}

/* The web root's directory (O_PATH) into *fd: `dir` (an error if it
 * cannot be opened), else default_web_root() when it exists, else -1 (the
 * app is not installed: web.c says so). 0 or -errno, said on stderr. */
static int open_web_root(const char *dir, int *fd)
{
	const char *d = dir ? dir : default_web_root();
	int err;

	*fd = open(d, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*fd >= 0 || !dir)
		return 0;
	err = errno;
	fprintf(stderr, "sievefs: --web-root %s: %s\n", dir, strerror(err));
	return -err;
}

/* The global connection cap: `want` (0: MAX_CONNS_DEFAULT), lowered so
 * that FD_SPARE descriptors stay for the store, staging files and logs. */
static unsigned max_conns(unsigned want)
{
	struct rlimit rl;
	unsigned n = want ? want : MAX_CONNS_DEFAULT;

	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur != RLIM_INFINITY) {
		rlim_t room = rl.rlim_cur > 2 * FD_SPARE ?
			      rl.rlim_cur - FD_SPARE : rl.rlim_cur / 2;
		if ((rlim_t)n > room)
			n = (unsigned)room;
	}
	return n < 8 ? 8 : n;
}

int api_server_start(const char *dir, const struct sockaddr *sa,
		     const struct api_server_opts *o, struct api_server **out,
		     unsigned *port)
{
	char msg[512] = "";
	struct api_server *h;
	struct srv *s;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	int rc;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 (o->quiet ? 0 : MHD_USE_ERROR_LOG);

	*out = NULL;
	if (o->cert_pem)
		flags |= MHD_USE_TLS;
	if (sa->sa_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	h = calloc(1, sizeof(*h));
	s = h ? calloc(1, sizeof(*s)) : NULL;
	if (!s) {
		free(h);
		return -ENOMEM;
	}
	h->s = s;
	pthread_mutex_init(&s->rl_lock, NULL);
	s->rate_n = o->rate_n;
	s->rate_s = o->rate_s;
	pthread_mutex_init(&s->quota_lock, NULL);
	pthread_mutex_init(&s->sweep_lock, NULL);
	pthread_cond_init(&s->sweep_cond, NULL);
	s->upload_cap = o->upload_cap;
	s->grace = o->grace;
	s->max_conns = max_conns(o->max_conns);
	s->pressure = s->max_conns - s->max_conns / 4;
	atomic_init(&s->conns, 0);
	s->tls = o->cert_pem != NULL;
	s->session_ttl = o->session_ttl ? o->session_ttl : SESSION_TTL;
	s->web_fd = -1;
	rc = open_web_root(o->web_root, &s->web_fd);
	if (rc)
		goto fail;
	if (getrandom(&s->boot, sizeof(s->boot), 0) != (ssize_t)sizeof(s->boot))
		s->boot = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32;
	rc = core_local_open(dir, "", &s->base, msg, sizeof(msg));
	if (rc) {
		s->base = NULL;
		fprintf(stderr, "sievefs: %s\n", *msg ? msg : strerror(-rc));
		goto fail;
	}
	s->st = core_local_store(s->base);

	/* the sweeper inherits the caller's signal mask */
	rc = pthread_create(&h->sweeper, NULL, sweep_main, s);
	if (rc) {
		fprintf(stderr, "sievefs: cannot start the upload sweep: %s\n",
			strerror(rc));
		rc = -rc;
		goto fail;
	}
	h->sweeping = 1;

	/* TLS (when on) is the only option that differs between runs:
	 * TLS_PRIORITIES, and the key pair. */
	struct MHD_OptionItem tls[] = {
		{ MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)o->cert_pem },
		{ MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)o->key_pem },
		{ MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)TLS_PRIORITIES },
		{ MHD_OPTION_END, 0, NULL },
	};
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, srv_handler, s,
				MHD_OPTION_SOCK_ADDR, sa,
				MHD_OPTION_THREAD_POOL_SIZE,
				(unsigned)(cores > 0 ? cores : 1),
				MHD_OPTION_URI_LOG_CALLBACK, srv_on_uri, s,
				MHD_OPTION_NOTIFY_COMPLETED, srv_on_done, s,
				MHD_OPTION_NOTIFY_CONNECTION, srv_on_conn, s,
				MHD_OPTION_CONNECTION_LIMIT, s->max_conns,
				MHD_OPTION_CONNECTION_TIMEOUT,
				(unsigned)HEAD_TIMEOUT,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT,
				(size_t)65536,
				MHD_OPTION_PER_IP_CONNECTION_LIMIT, o->per_addr,
				o->cert_pem ? MHD_OPTION_ARRAY : MHD_OPTION_END,
				tls, MHD_OPTION_END);
	if (!h->d) {
		rc = -EADDRNOTAVAIL;
		goto fail;
	}
	{
		const union MHD_DaemonInfo *di =
			MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
		*port = di ? (unsigned)di->port : 0;
	}
	*out = h;
	return 0;
fail:
	api_server_stop(h);
	return rc;
}

int api_serve_cli(int argc, char **argv)
{
	const char *dir = NULL, *listen = NULL, *cert = NULL, *key = NULL,
		   *rate = RATE_DEFAULT, *conns = NULL, *maxc = NULL,
		   *ttl = NULL;
	struct api_server_opts o = { .per_addr = CONNS_DEFAULT,
				     .upload_cap = UPLOAD_CAP,
				     .grace = ORPHAN_GRACE };
	const char *grace = NULL, *cap = NULL;
	char *cert_pem = NULL, *key_pem = NULL, host[64];
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
				   NULL;
		if (opt && i + 1 < argc)
			*opt = argv[++i];
		else if (!opt && argv[i][0] != '-' && !dir)
			dir = argv[i];
		else
			return serve_usage(0);
	}
	if (!dir || !listen || !cert != !key)
		return serve_usage(0);
	if (url_as_store(dir))
		return 2;
	if (grace && parse_secs(grace, 1, 2592000, &o.grace)) {
		fprintf(stderr, "sievefs: --orphan-grace %s: want seconds, 1 to"
			" 2592000 (30 days)\n", grace);
		return 2;
	}
	if (ttl && parse_secs(ttl, 60, 31536000, &o.session_ttl)) {
		fprintf(stderr, "sievefs: --session-ttl %s: want seconds, 60 to"
			" 31536000 (a year)\n", ttl);
		return 2;
	}
	if (cap && parse_bytes(cap, &o.upload_cap)) {
		fprintf(stderr, "sievefs: --upload-cap %s: want a size above 0,"
			" such as 500M or 2G\n", cap);
		return 2;
	}
	if (parse_listen(listen, &ss, &v6)) {
		fprintf(stderr, "sievefs: --listen %s: expected HOST:PORT\n",
			listen);
		return 2;
	}
	if (!cert && !insecure && !listen_loopback(&ss)) {
		fprintf(stderr, "sievefs: --listen %s: refusing plain http on an"
			" address other machines can reach: tokens and samples"
			" would cross the network unencrypted. Give --tls-cert"
			" and --tls-key, listen on 127.0.0.1 behind a TLS proxy,"
			" or add --insecure-http if the network is trusted\n",
			listen);
		return 2;
	}
	if (parse_rate(rate, &o.rate_n, &o.rate_s)) {
		fprintf(stderr, "sievefs: --user-rate %s: expected N/SECONDS"
			" (integers >= 1), e.g. " RATE_DEFAULT "\n", rate);
		return 2;
	}
	if (conns && parse_count(conns, &o.per_addr)) {
		fprintf(stderr, "sievefs: --conns-per-addr %s: expected a"
			" number from 1 to 65535\n", conns);
		return 2;
	}
	if (maxc && parse_count(maxc, &o.max_conns)) {
		fprintf(stderr, "sievefs: --max-conns %s: expected a number"
			" from 1 to 65535\n", maxc);
		return 2;
	}
	if (cert) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			fprintf(stderr, "sievefs: this libmicrohttpd has no TLS\n");
			return 1;
		}
		if (read_file(cert, &cert_pem) || read_file(key, &key_pem)) {
			fprintf(stderr, "sievefs: cannot read %s or %s\n", cert,
				key);
			free(cert_pem);
			return 1;
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
	getnameinfo((struct sockaddr *)&ss, v6 ? sizeof(struct sockaddr_in6) :
		    sizeof(struct sockaddr_in), host, sizeof(host), NULL, 0,
		    NI_NUMERICHOST);
	fprintf(stderr, "sievefs: listening on %s://%s%s%s:%u\n",
		cert ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "",
		port);
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
	return ret;
}

/* Usage on stdout with status 0 (--help), else on stderr with 2. */
static int token_usage(int help)
{
	fprintf(help ? stdout : stderr,
		"usage: sievefs token create --store STORE USER\n"
		"       sievefs token list --store STORE\n"
		"       sievefs token revoke --store STORE ID\n"
		"API tokens of a server's users (sievefs serve STORE): create"
		" prints a new\n"
		"token once (only its hash is kept), list shows ids, users and"
		" status, revoke\n"
		"stops a token at once.\n");
	return help ? 0 : 2;
}

int api_token_cli(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "", *dir = NULL, *arg = NULL;
	char msg[512] = "", token[STORE_TOKEN_LEN + 1], ts[32];
	struct store_token *v = NULL;
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
		else if (argv[i][0] != '-' && !arg)
			arg = argv[i];
		else
			return token_usage(0);
	}
	if (!dir || (strcmp(cmd, "list") ? !arg : arg != NULL) ||
	    (strcmp(cmd, "create") && strcmp(cmd, "list") &&
	     strcmp(cmd, "revoke")))
		return token_usage(0);
	if (url_as_store(dir))
		return 2;
	if (!strcmp(cmd, "create") && !store_user_valid(arg)) {
		fprintf(stderr, "sievefs: '%s' is not a valid user name: use"
			" 1-64 of A-Z a-z 0-9 . _ - starting with a letter or"
			" digit\n", arg);
		return 2;
	}
	if (!strcmp(cmd, "revoke") && api_id_parse(arg, &id)) {
		fprintf(stderr, "sievefs: '%s' is not a token id\n", arg);
		return 2;
	}
	rc = store_open(dir, STORE_OPEN_ADMIN, &st, msg, sizeof(msg));
	if (rc) {
		fprintf(stderr, "sievefs: %s\n", *msg ? msg : strerror(-rc));
		return 1;
	}
	if (!strcmp(cmd, "create")) {
		rc = store_token_create(st, arg, token, &id);
		if (!rc) {
			printf("%s\n", token);
			fprintf(stderr, "sievefs: token %lld for user '%s'"
				" created; it is shown only this once\n",
				(long long)id, arg);
		}
	} else if (!strcmp(cmd, "list")) {
		rc = store_token_list(st, &v, &n);
		if (!rc)
			printf("%-6s %-24s %-20s %s\n", "ID", "USER", "CREATED",
			       "STATUS");
		for (size_t i = 0; !rc && i < n; i++) {
			time_t t = (time_t)(v[i].created_ns / 1000000000);
			struct tm tm;
			gmtime_r(&t, &tm);
			strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf("%-6lld %-24s %-20s %s\n", (long long)v[i].id,
			       v[i].user, ts, v[i].revoked ? "revoked" :
			       "active");
		}
		free(v);
	} else {
		rc = store_token_revoke(st, id);
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
	store_close(st);
	return ret;
}
