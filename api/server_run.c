/*
 * server_run.c — the server's startup and shutdown: `sievefs serve`'s
 * (api_server_start: a store of its own) and a mount's web door
 * (api_web_*: the mount's backend), one path for both (server_new,
 * server_run); the listening address; the sweep of uploads no node names.
 * The requests themselves are api/server_http.c's and the routes'
 * (api/server_int.h says which file holds what).
 *
 * The web app (api/web.c) gets its root from --web-root (-o web_root=),
 * else srv_default_web_root() when that exists (a binary run from its
 * source tree: that tree's web/dist; else SIEVEFS_WEB_DIR, Makefile:
 * $(PREFIX)/share/sievefs/web), opened once at start, and its sessions'
 * lifetime from --session-ttl.
 *
 * The global connection cap (--max-conns) is kept FD_SPARE below the
 * descriptor limit, so the store always has descriptors.
 *
 * Uploads no node names (PUT /v1/blobs without a commit): each user may
 * hold at most `upload_cap` bytes of them (UPLOAD_CAP, --upload-cap;
 * routes_data.c enforces it). A sweep thread collects
 * those older than `grace` (ORPHAN_GRACE, --orphan-grace) every
 * sweep_every(grace) seconds (core_blob_sweep): the grace is the window
 * between a client's PUT and its commit; after it, the commit gets 409
 * blob_missing and the client sends the bytes again.
 *
 * Threads: MHD's internal thread pool (one epoll per thread, as many threads
 * as cores); handlers block on SQLite and disk I/O in those threads; one
 * sweep thread. State shared between threads: the backend (thread-safe),
 * the limit tables (rl_lock, lease_lock) and the sweep's
 * stop flag (sweep_lock). All of it is set up before the threads start and
 * torn down after they stop (server_run, api_server_stop).
 *
 * Inside a mount daemon (api_web_*, the design is in api/server.h): the
 * socket is bound before the daemon forks, so a bad or busy address fails
 * the mount on the terminal, and MHD gets it (MHD_OPTION_LISTEN_SOCKET)
 * once the daemon runs. What `sievefs serve` starts and the daemon does
 * not: the store (the mount's backend is used, with its one sampling
 * runner and the recovery its open ran) — so one store, one runner, one
 * lock. What it does start: MHD's pool and the sweep (no other part of the
 * daemon collects unused uploads; only HTTP makes them). Every signed-in
 * user acts as the mount's owner (srv.owner). The server's threads block
 * the signals libfuse handles: a SIGTERM taken by one of them would set
 * the session's exit flag without waking the thread that waits for it.
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
#define FD_SPARE 256             /* descriptors kept for the store, logs */

/* ---- addresses and files ---- */

int srv_read_file(const char *path, char **out)
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

int srv_parse_listen(const char *spec, struct sockaddr_storage *ss,
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

int srv_listen_loopback(const struct sockaddr_storage *ss)
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
		rc = core_blob_sweep(s->blobs, (int64_t)s->grace * 1000000000,
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

/* ---- startup and shutdown ---- */

struct api_server {
	struct srv *s;
	struct MHD_Daemon *d;
	int lfd;                 /* the socket bound ahead (api_web_bind) until
	                          * MHD has its duplicate; -1: none */
	pthread_t sweeper;
	int sweeping;
	char *cert_pem, *key_pem;   /* owned here (api_web_bind), or NULL */
	int v6;
};

void api_server_stop(struct api_server *h)
{
	if (!h)
		return;
	if (h->d)                /* closes the listening socket too */
		MHD_stop_daemon(h->d);
	if (h->lfd >= 0)         /* bound ahead, MHD never started */
		close(h->lfd);
	if (h->sweeping)
		sweep_stop(h->s, h->sweeper);
	if (h->s) {
		if (h->s->base && h->s->own_base)
			h->s->base->ops->destroy(h->s->base);
		pthread_mutex_destroy(&h->s->rl_lock);
		pthread_mutex_destroy(&h->s->lease_lock);
		pthread_mutex_destroy(&h->s->sweep_lock);
		pthread_cond_destroy(&h->s->sweep_cond);
		if (h->s->web_fd >= 0)
			close(h->s->web_fd);
	}
	free(h->cert_pem);
	free(h->key_pem);
	free(h->s);
	free(h);
}

#ifndef SIEVEFS_SRC_DIR
#define SIEVEFS_SRC_DIR ""
#endif

const char *srv_default_web_root(void)
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

/* The web root's directory (O_PATH) into *fd: `dir` (an error if it
 * cannot be opened), else srv_default_web_root() when it exists, else -1 (the
 * app is not installed: web.c says so). 0, or -errno with the reason in
 * msg. */
static int open_web_root(const char *dir, int *fd, char *msg, size_t len)
{
	const char *d = dir ? dir : srv_default_web_root();
	int err;

	*fd = open(d, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (*fd >= 0 || !dir)
		return 0;
	err = errno;
	snprintf(msg, len, "web root %s: %s", dir, strerror(err));
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

/* The server's state from its options, no store, no thread: NULL when out
 * of memory, or with the web root's error in msg (*rc). */
static struct api_server *server_new(const struct api_server_opts *o,
				     int *rc, char *msg, size_t len)
{
	struct api_server *h = calloc(1, sizeof(*h));
	struct srv *s = h ? calloc(1, sizeof(*s)) : NULL;

	*rc = -ENOMEM;
	if (!s) {
		free(h);
		return NULL;
	}
	h->s = s;
	h->lfd = -1;
	pthread_mutex_init(&s->rl_lock, NULL);
	pthread_mutex_init(&s->lease_lock, NULL);
	s->rate_n = o->rate_n;
	s->rate_s = o->rate_s;
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
	*rc = open_web_root(o->web_root, &s->web_fd, msg, len);
	if (*rc) {
		api_server_stop(h);
		return NULL;
	}
	return h;
}

/* Starts the sweep and MHD's daemon over h->s->base, on h->lfd when bound
 * ahead, else on sa: 0 with the bound port in *port, -EADDRNOTAVAIL (MHD
 * would not listen), or another -errno (said on stderr and in the log). */
static int server_run(struct api_server *h, const struct sockaddr *sa,
		      const struct api_server_opts *o, unsigned *port)
{
	struct srv *s = h->s;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
			 (o->quiet ? 0 : MHD_USE_ERROR_LOG);
	int rc;

	if (o->cert_pem)
		flags |= MHD_USE_TLS;
	if (sa ? sa->sa_family == AF_INET6 : h->v6)
		flags |= MHD_USE_IPv6;
	s->st = core_local_store(s->base);
	s->blobs = core_local_blobs(s->base);
	/* ETags and table gens carry the catalog's epoch, not one of this
	 * process: every server on the catalog answers the same validator
	 * for the same state (core_catalog_epoch) */
	rc = core_catalog_epoch(s->st, &s->boot);
	if (rc) {
		log_error("cannot read the catalog's epoch: %s", strerror(-rc));
		return rc;
	}

	/* the sweeper inherits the caller's signal mask */
	rc = pthread_create(&h->sweeper, NULL, sweep_main, s);
	if (rc) {
		log_error("cannot start the upload sweep: %s", strerror(rc));
		return -rc;
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
	/* Where to listen: the socket bound ahead, or the address. MHD gets
	 * a duplicate: whether it closes a socket it was given when it fails
	 * to start is its business; ours is closed by api_server_stop. */
	int mfd = h->lfd >= 0 ? fcntl(h->lfd, F_DUPFD_CLOEXEC, 0) : -1;
	if (h->lfd >= 0 && mfd < 0) {
		rc = -errno;
		log_error("cannot duplicate the listening socket: %s",
			  strerror(-rc));
		return rc;
	}
	struct MHD_OptionItem where[] = {
		{ mfd >= 0 ? MHD_OPTION_LISTEN_SOCKET : MHD_OPTION_SOCK_ADDR,
		  mfd, (void *)sa },
		{ MHD_OPTION_END, 0, NULL },
	};
	h->d = MHD_start_daemon(flags, 0, NULL, NULL, srv_handler, s,
				MHD_OPTION_ARRAY, where,
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
	if (!h->d)
		return -EADDRNOTAVAIL;
	if (h->lfd >= 0)         /* MHD has its own: MHD_stop_daemon closes it */
		close(h->lfd);
	h->lfd = -1;
	const union MHD_DaemonInfo *di =
		MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
	*port = di ? (unsigned)di->port : 0;
	return 0;
}

int api_server_start(const char *dir, const struct sockaddr *sa,
		     const struct api_server_opts *o, struct api_server **out,
		     unsigned *port)
{
	char msg[512] = "";
	struct api_server *h;
	int rc;

	*out = NULL;
	h = server_new(o, &rc, msg, sizeof(msg));
	if (!h) {
		fprintf(stderr, "sievefs: %s\n", *msg ? msg : strerror(-rc));
		return rc;
	}
	const struct core_store_cfg cfg = { .dir = dir, .catalog = o->catalog,
					    .blobs = o->blobs,
					    .s3_key_id = o->s3_key_id,
					    .s3_secret = o->s3_secret };
	rc = core_local_open_cfg(&cfg, "", &h->s->base, msg, sizeof(msg));
	if (rc) {
		h->s->base = NULL;
		fprintf(stderr, "sievefs: %s\n", *msg ? msg : strerror(-rc));
		goto fail;
	}
	h->s->own_base = 1;
	rc = server_run(h, sa, o, port);
	if (rc)
		goto fail;
	*out = h;
	return 0;
fail:
	api_server_stop(h);
	return rc;
}

/* ---- the web door of a mount (api/server.h) ---- */

struct api_web {
	struct api_server *h;
	struct api_server_opts o;   /* serve's defaults; PEMs in h */
};

void srv_url(const struct sockaddr_storage *ss, unsigned port, int tls,
	     char *buf, size_t len)
{
	char host[64] = "?";
	int v6 = ss->ss_family == AF_INET6;

	getnameinfo((const struct sockaddr *)ss, v6 ?
		    sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in),
		    host, sizeof(host), NULL, 0, NI_NUMERICHOST);
	snprintf(buf, len, "%s://%s%s%s:%u", tls ? "https" : "http",
		 v6 ? "[" : "", host, v6 ? "]" : "", port);
}

/* addr with API_WEB_PORT when it names none, into buf: 0 or -EINVAL. */
static int with_port(const char *addr, char *buf, size_t len)
{
	const char *rb = addr[0] == '[' ? strchr(addr, ']') : NULL;
	int has = addr[0] == '[' ? rb && rb[1] == ':' : strchr(addr, ':') != NULL;

	if (addr[0] == '[' ? !rb || (rb[1] && rb[1] != ':') :
	    strchr(addr, ':') != strrchr(addr, ':'))
		return -EINVAL;   /* "[v6" or a bare v6 address: brackets */
	if ((size_t)snprintf(buf, len, has ? "%s" : "%s:%d", addr,
			     API_WEB_PORT) >= len)
		return -EINVAL;
	return 0;
}

/* A listening TCP socket on ss (SO_REUSEADDR, as MHD's own): fd or
 * -errno. */
static int bind_socket(const struct sockaddr_storage *ss)
{
	socklen_t sl = ss->ss_family == AF_INET6 ?
		       sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC |
			SOCK_NONBLOCK, 0), on = 1, err;

	if (fd < 0)
		return -errno;
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on));
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
	    bind(fd, (const struct sockaddr *)ss, sl) || listen(fd, 128)) {
		err = errno;
		close(fd);
		return -err;
	}
	return fd;
}

int api_web_bind(const struct api_web_opts *o, struct api_web **out,
		 char *url, size_t urllen, char *msg, size_t msglen)
{
	struct api_web *w;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	char addr[300];
	int rc, v6 = 0;

	*out = NULL;
	if (with_port(o->addr, addr, sizeof(addr)) ||
	    srv_parse_listen(addr, &ss, &v6)) {
		snprintf(msg, msglen, "-o web=%s: expected HOST[:PORT], e.g."
			 " 127.0.0.1:%d ([ADDRESS]:PORT for IPv6)", o->addr,
			 API_WEB_PORT);
		return -EINVAL;
	}
	if (!o->tls_cert != !o->tls_key) {
		snprintf(msg, msglen, "-o web_tls_cert= and -o web_tls_key= go"
			 " together: give both (https) or neither");
		return -EINVAL;
	}
	if (!o->tls_cert && !o->insecure_http && !srv_listen_loopback(&ss)) {
		snprintf(msg, msglen, "-o web=%s: refusing plain http on an"
			 " address other machines can reach: tokens and samples"
			 " would cross the network unencrypted. Give -o"
			 " web_tls_cert=FILE,web_tls_key=FILE, listen on"
			 " 127.0.0.1 behind a TLS proxy, or add -o"
			 " web_insecure_http if the network is trusted", o->addr);
		return -EINVAL;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->o = (struct api_server_opts){ .rate_n = RATE_N, .rate_s = RATE_S,
					 .per_addr = CONNS_DEFAULT,
					 .upload_cap = UPLOAD_CAP,
					 .grace = ORPHAN_GRACE,
					 .web_root = o->web_root };
	if (o->tls_cert) {
		char *c = NULL, *k = NULL;
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(msg, msglen, "this libmicrohttpd has no TLS");
			free(w);
			return -ENOTSUP;
		}
		if ((rc = srv_read_file(o->tls_cert, &c)) ||
		    (rc = srv_read_file(o->tls_key, &k))) {
			snprintf(msg, msglen, "cannot read %s: %s", c ?
				 o->tls_key : o->tls_cert, strerror(-rc));
			free(c);
			free(w);
			return rc;
		}
		w->o.cert_pem = c;
		w->o.key_pem = k;
	}
	w->h = server_new(&w->o, &rc, msg, msglen);
	w->o.web_root = NULL;    /* opened: o's string need not live on */
	if (!w->h) {
		free((char *)w->o.cert_pem);
		free((char *)w->o.key_pem);
		free(w);
		if (rc == -ENOMEM)
			snprintf(msg, msglen, "out of memory");
		return rc;
	}
	w->h->cert_pem = (char *)w->o.cert_pem;   /* freed with h */
	w->h->key_pem = (char *)w->o.key_pem;
	w->h->v6 = v6;
	rc = bind_socket(&ss);
	if (rc < 0) {
		snprintf(msg, msglen, "-o web=%s: cannot listen on %s: %s%s",
			 o->addr, addr, strerror(-rc), rc == -EADDRINUSE ?
			 " (another server, or another mount's web door, has"
			 " that port: pick another, or port 0 for any free"
			 " one)" : "");
		api_web_stop(w);
		return rc;
	}
	w->h->lfd = rc;
	if (getsockname(rc, (struct sockaddr *)&ss, &sl) == 0)
		srv_url(&ss, ntohs(ss.ss_family == AF_INET6 ?
				   ((struct sockaddr_in6 *)&ss)->sin6_port :
				   ((struct sockaddr_in *)&ss)->sin_port),
			o->tls_cert != NULL, url, urllen);
	*out = w;
	return 0;
}

int api_web_start(struct api_web *w, struct backend *be, const char *owner,
		  const struct api_web_hooks *hooks)
{
	sigset_t block, old;
	unsigned port;
	int rc;

	w->h->s->base = be;
	w->h->s->own_base = 0;
	w->h->s->owner = owner;
	w->h->s->hooks = hooks;
	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = server_run(w->h, NULL, &w->o, &port);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (rc == -EADDRNOTAVAIL)
		log_error("the web server did not start (libmicrohttpd)");
	return rc;
}

void api_web_stop(struct api_web *w)
{
	if (!w)
		return;
	api_server_stop(w->h);
	free(w);
}
