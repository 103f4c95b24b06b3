/*
 * fuzz/http.c — libFuzzer harness for the whole request handling of
 * `sievefs serve`: libmicrohttpd's parsing, the token check, the router,
 * the path and query parsers, the headers the server reads (Range,
 * If-None-Match, Content-Length, chunked bodies) and every route's body
 * handling (JSON, blobs, sample lines, selections, embedding CSVs) down to
 * the store.
 *
 * LLVMFuzzerInitialize starts the real server in-process, once
 * (api_server_start of api/server_probe.h, the daemon `sievefs serve` runs),
 * on a fresh store in a temporary directory, listening on 127.0.0.1 on a
 * free port, with the per-user rate limit and the connection cap per
 * address out of the way (the failed-token count never blocks a valid
 * token, so it stays as it is), and a small web root (index.html, one
 * asset) for the web app's static files. It creates two users, alice and bob, with a
 * token each, and one dataset of alice's ("seed", id 1) so that seeds can
 * name ids that exist.
 *
 * Feeds: the raw bytes of one or more HTTP requests, sent as they are on a
 * fresh TCP connection, except that "@TOKEN@" becomes alice's token and
 * "@TOKEN2@" bob's (so the fuzzer reaches the authenticated routes and the
 * cross-user checks). After the input the harness half-closes the
 * connection (the server answers a complete request and drops an
 * incomplete one) and reads until the server closes, or nothing came for
 * 200 ms (30 ms if no header block ends in the input: libmicrohttpd keeps
 * such a connection open after the half-close), or 3 s passed.
 *
 * Checks: no crash, no ASan/UBSan error, no leak (the server is stopped
 * and its store closed at exit, so LSan sees only real leaks); what the
 * server sends starts with a status line "HTTP/1.x NNN " (or it sends
 * nothing and closes) and is not a 500 (the errors a client can cause are
 * 4xx; a 505 for an unknown HTTP version, or a 503, are fine); and every
 * SANITY_EVERY inputs, and at exit, GET /v1/whoami with alice's token still
 * answers 200 within 5 s (the server is alive and not wedged). At exit it prints how many answers had which
 * status class.
 *
 * State grows with what the inputs create (datasets, nodes, blobs): every
 * RESET_EVERY inputs the harness checks the server, stops it (which also
 * puts api_server_stop under ASan/LSan), removes the store and starts
 * again on a fresh one (new port, new tokens: seeds name them only through
 * the placeholders). The store is removed at exit (not after a crash).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/server_probe.h"
#include "core/log.h"
#include "fuzz/fuzz.h"
#include "store/store.h"

#define SANITY_EVERY 500
#define RESET_EVERY 5000       /* a new server on a new store */
#define IDLE_MS 200            /* no byte for this long: done */
#define IDLE_PART_MS 30        /* the same when no header block ends */
#define INPUT_MS 3000          /* one input's exchange at most */
#define SANITY_MS 5000

int LLVMFuzzerInitialize(int *argc, char ***argv);

static struct api_server *srv;
static struct api_server_opts opts;
static unsigned port;
static char dir[] = "/tmp/sievefs-fuzz-http.XXXXXX";
static char tok_a[STORE_TOKEN_LEN + 1], tok_b[STORE_TOKEN_LEN + 1];
static unsigned long inputs, restarts, classes[7];   /* [0] nothing, [1..5] 1xx..5xx,
					    * [6] cut by the harness's timer */

static double now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/*
 * Sends req[0..n) on a new connection, half-closes, and reads the answer
 * until close, `idle_ms` without a byte, or `total_ms`. The first bytes of
 * the answer (up to headlen - 1) go into head, NUL-terminated. Returns 1 if
 * the server closed the connection, 0 if the harness gave up waiting, -1 if
 * it could not connect.
 */
static int exchange(const char *req, size_t n, int idle_ms, int total_ms,
		    char *head, size_t headlen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons((uint16_t)port) };
	char buf[16384];
	size_t sent = 0, got = 0;
	double start = now_ms(), last = start;
	int fd, closed = 0, wr_open = 1;

	head[0] = '\0';
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	/* A connect refused for a moment (a full accept queue, no free
	 * local port while earlier connections wait out TIME_WAIT) is
	 * tried again for up to a second; a server that never accepts still
	 * fails the check. Each failure says why. */
	for (int tries = 0;; tries++) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
			break;
		fprintf(stderr, "fuzz/http: no connection to the server: %s\n",
			strerror(errno));
		if (fd >= 0)
			close(fd);
		if (tries == 20)
			return -1;
		usleep(50000);
	}
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
	if (n == 0) {
		shutdown(fd, SHUT_WR);
		wr_open = 0;
	}
	while (!closed) {
		struct pollfd p = { .fd = fd,
				    .events = POLLIN | (wr_open ? POLLOUT : 0) };
		double t = now_ms();
		int wait = idle_ms - (int)(t - last);

		if (wait > total_ms - (int)(t - start))
			wait = total_ms - (int)(t - start);
		if (wait <= 0)
			break;
		if (poll(&p, 1, wait) <= 0)
			continue;
		if (wr_open && (p.revents & (POLLOUT | POLLERR | POLLHUP))) {
			ssize_t w = send(fd, req + sent, n - sent,
					 MSG_NOSIGNAL);
			if (w > 0)
				sent += (size_t)w;
			if ((w < 0 && errno != EAGAIN) || sent == n) {
				shutdown(fd, SHUT_WR);
				wr_open = 0;
			}
		}
		if (p.revents & (POLLIN | POLLERR | POLLHUP)) {
			ssize_t r = recv(fd, buf, sizeof(buf), 0);
			if (r > 0) {
				if (got < headlen - 1) {
					size_t k = (size_t)r;
					if (k > headlen - 1 - got)
						k = headlen - 1 - got;
					memcpy(head + got, buf, k);
					got += k;
					head[got] = '\0';
				}
				last = now_ms();
			} else if (r == 0 || errno != EAGAIN) {
				closed = 1;
			}
		}
	}
	close(fd);
	return closed;
}

/* "HTTP/1.0 NNN " or "HTTP/1.1 NNN ": the status (100-599), else 0. */
static int status_of(const char *head)
{
	if (strncmp(head, "HTTP/1.", 7) || (head[7] != '0' && head[7] != '1') ||
	    head[8] != ' ')
		return 0;
	for (int i = 9; i < 12; i++)
		if (head[i] < '0' || head[i] > '9')
			return 0;
	if (head[12] != ' ')
		return 0;
	int st = (head[9] - '0') * 100 + (head[10] - '0') * 10 + head[11] - '0';
	return st >= 100 && st <= 599 ? st : 0;
}

static int request(const char *req, char *head, size_t headlen)
{
	exchange(req, strlen(req), SANITY_MS, SANITY_MS, head, headlen);
	return status_of(head);
}

static void sanity(void)
{
	char req[256], head[64];

	snprintf(req, sizeof(req), "GET /v1/whoami HTTP/1.1\r\nHost: fuzz\r\n"
		 "Authorization: Bearer %s\r\nConnection: close\r\n\r\n",
		 tok_a);
	if (request(req, head, sizeof(head)) != 200) {
		fprintf(stderr, "fuzz_http: after %lu inputs GET /v1/whoami"
			" answered '%.40s'\n", inputs, head);
		check(0, "the server still answers whoami with 200");
	}
}

static int rm_one(const char *path, const struct stat *st, int flag,
		  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_http: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	abort();
}

/* A fresh store in a new temporary directory, served; the two users'
 * tokens; alice's dataset "seed". Aborts on failure. */
static void server_up(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	char msg[256] = "", req[512], head[64];
	store *st = NULL;
	int rc;

	memcpy(dir, "/tmp/sievefs-fuzz-http.XXXXXX", sizeof(dir));
	if (!mkdtemp(dir))
		die("mkdtemp", errno);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	rc = api_server_start(dir, (struct sockaddr *)&sa, &opts, &srv, &port);
	if (rc)
		die("api_server_start", rc);
	/* tokens beside the running owner, as `sievefs token create` does */
	rc = store_open(dir, STORE_OPEN_ADMIN, &st, msg, sizeof(msg));
	if (rc)
		die(msg, rc);
	rc = store_token_create(st, "alice", tok_a, NULL);
	if (!rc)
		rc = store_token_create(st, "bob", tok_b, NULL);
	store_close(st);
	if (rc)
		die("store_token_create", rc);
	snprintf(req, sizeof(req), "POST /v1/datasets HTTP/1.1\r\nHost: fuzz\r\n"
		 "Authorization: Bearer %s\r\nConnection: close\r\n"
		 "Content-Length: 15\r\n\r\n{\"name\":\"seed\"}", tok_a);
	if (request(req, head, sizeof(head)) != 201)
		die("creating the seed dataset", EIO);
	sanity();
}

/* Checks the server is alive, stops it, removes its store. */
static void server_down(void)
{
	sanity();
	api_server_stop(srv);
	srv = NULL;
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* A web root with an index.html and an asset, for the static files of
 * api/web.c; made once, removed at exit. Aborts on failure. */
static char web[] = "/tmp/sievefs-fuzz-web.XXXXXX";

static void web_up(void)
{
	static const char *const files[][2] = {
		{ "index.html", "<!doctype html><p>app</p>\n" },
		{ "assets/app-1.js", "console.log(1)\n" },
	};
	char path[128];

	if (!mkdtemp(web))
		die("mkdtemp", errno);
	snprintf(path, sizeof(path), "%s/assets", web);
	if (mkdir(path, 0700))
		die("mkdir", errno);
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		FILE *f;
		snprintf(path, sizeof(path), "%s/%s", web, files[i][0]);
		f = fopen(path, "w");
		if (!f || fputs(files[i][1], f) < 0 || fclose(f))
			die("writing the web root", EIO);
	}
	opts.web_root = web;
}

static void at_exit(void)
{
	if (!srv)
		return;
	server_down();
	nftw(web, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	fprintf(stderr, "fuzz_http: %lu inputs, %lu server restarts; answers:"
		" none %lu, 1xx %lu, 2xx %lu, 3xx %lu, 4xx %lu, 5xx %lu, timed"
		" out %lu\n", inputs, restarts, classes[0], classes[1],
		classes[2], classes[3], classes[4], classes[5], classes[6]);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	struct rlimit rl;

	signal(SIGPIPE, SIG_IGN);
	log_setup(0, LOG_LVL_ERROR);
	/* The server runs in this process: its connections (the fuzzer opens
	 * one per input, and the server may still hold the last ones) and
	 * the harness's sockets share one descriptor limit. Take the hard
	 * limit, so the harness's socket() never meets EMFILE before the
	 * server's own cap (--max-conns, kept below the limit) is reached. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	opts.rate_n = 100000000;
	opts.rate_s = 1;
	opts.per_addr = 65535;
	opts.upload_cap = 64ull << 20;
	opts.grace = 3600;
	opts.quiet = 1;
	web_up();
	server_up();
	atexit(at_exit);
	fprintf(stderr, "fuzz_http: serving %s on 127.0.0.1:%u\n", dir, port);
	return 0;
}

/* data with "@TOKEN@" / "@TOKEN2@" replaced; NUL-terminated; free() it. */
static char *substitute(const uint8_t *data, size_t size, size_t *len)
{
	static const char ph_b[] = "@TOKEN2@", ph_a[] = "@TOKEN@";
	char *out = malloc(size * (STORE_TOKEN_LEN / 7 + 1) + 1);
	size_t o = 0;

	if (!out)
		return NULL;
	for (size_t i = 0; i < size;) {
		if (size - i >= sizeof(ph_b) - 1 &&
		    !memcmp(data + i, ph_b, sizeof(ph_b) - 1)) {
			memcpy(out + o, tok_b, STORE_TOKEN_LEN);
			o += STORE_TOKEN_LEN;
			i += sizeof(ph_b) - 1;
		} else if (size - i >= sizeof(ph_a) - 1 &&
			   !memcmp(data + i, ph_a, sizeof(ph_a) - 1)) {
			memcpy(out + o, tok_a, STORE_TOKEN_LEN);
			o += STORE_TOKEN_LEN;
			i += sizeof(ph_a) - 1;
		} else {
			out[o++] = (char)data[i++];
		}
	}
	out[o] = '\0';
	*len = o;
	return out;
}

/* With FUZZ_HTTP_DUMP=DIR, inputs answered 5xx or cut by the timer are
 * written to DIR/5xx-N, DIR/timeout-N (to look at by hand); with
 * FUZZ_HTTP_TRACE set, each input's first line and answer go to stderr. */
static void dump(const uint8_t *data, size_t size, int cl, const char *head)
{
	static const char *d;
	static int looked;
	char path[4096];
	FILE *f;

	if (!looked) {
		d = getenv("FUZZ_HTTP_DUMP");
		looked = 1;
	}
	if (getenv("FUZZ_HTTP_TRACE")) {
		size_t l = 0;
		while (l < size && l < 200 && data[l] != '\r' && data[l] != '\n')
			l++;
		fprintf(stderr, "fuzz_http: [%.12s] %.*s\n", head, (int)l,
			(const char *)data);
	}
	if (!d || (cl != 5 && cl != 6))
		return;
	snprintf(path, sizeof(path), "%s/%s-%lu", d, cl == 5 ? "5xx" :
		 "timeout", inputs);
	f = fopen(path, "wb");
	if (!f)
		return;
	fwrite(data, 1, size, f);
	fprintf(f, "\n----\n%s\n", head);
	fclose(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char head[64];
	size_t len;
	char *req = substitute(data, size, &len);
	int closed, st;

	if (!req)
		return 0;
	/* A request whose header block never ends cannot be answered (but a
	 * line may be refused early): a short wait is enough there. */
	closed = exchange(req, len, memmem(req, len, "\n\r\n", 3) ||
			  memmem(req, len, "\n\n", 2) ? IDLE_MS : IDLE_PART_MS,
			  INPUT_MS, head, sizeof(head));
	free(req);
	check(closed >= 0, "the server accepts a connection");
	st = status_of(head);
	check(!head[0] || st, "an answer starts with HTTP/1.x NNN");
	/* On a healthy store, what a client sends never makes a 500 (an error
	 * the server did not expect): the request is refused with a 4xx. */
	check(st != 500, "no 500 Internal Server Error");
	int cl = !closed && !head[0] ? 6 : st / 100;
	classes[cl]++;
	dump(data, size, cl, head);
	if (++inputs % RESET_EVERY == 0) {
		server_down();
		server_up();
		restarts++;
	} else if (inputs % SANITY_EVERY == 0) {
		sanity();
	}
	return 0;
}
