/*
 * sample_cli.c — `sievefs sample DATASET_DIR [STRATEGY] [key=value ...]`:
 * the shell-friendly way to sample. It only uses the mount: it writes the
 * request to DATASET_DIR/sample, then reads that file every 200 ms and
 * shows the progress (a bar on a terminal, nothing otherwise) until the run
 * ends. Exit status: 0 done, 1 failed or cancelled, 2 request rejected or
 * bad usage. Ctrl-C writes `cancel` and waits for the run to stop.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fs/sample_cli.h"

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Reads the whole (small) file into buf; returns its length or -errno. */
static ssize_t read_text(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	size_t got = 0;

	if (fd < 0)
		return -errno;
	while (got + 1 < len) {
		ssize_t n = read(fd, buf + got, len - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = '\0';
	return (ssize_t)got;
}

/* Value of "key: value" in text, copied into out ("" if absent). */
static void field(const char *text, const char *key, char *out, size_t len)
{
	size_t kl = strlen(key);

	out[0] = '\0';
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p) {
		if (!strncmp(p, key, kl) && p[kl] == ':' && p[kl + 1] == ' ') {
			const char *v = p + kl + 2, *e = strchr(v, '\n');
			size_t n = e ? (size_t)(e - v) : strlen(v);
			snprintf(out, len, "%.*s", (int)(n < len ? n : len - 1), v);
			return;
		}
	}
}

static int write_request(const char *path, const char *line)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	size_t len = strlen(line);
	int rc = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, line, len) != (ssize_t)len)
		rc = -errno;
	if (close(fd) && !rc)
		rc = -errno;
	return rc;
}

static void draw_bar(const char *status, long done, long total, const char *el)
{
	int width = 30, fill = total > 0 ? (int)(done * width / total) : 0;
	char bar[64];

	for (int i = 0; i < width; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[width] = '\0';
	fprintf(stderr, "\r[%s] %ld/%ld %-9s %s   ", bar, done, total, status,
		el);
}

int fs_sample_cli(int argc, char **argv)
{
	char path[4096], line[1024] = "", text[8192], status[64], run[32];
	char first_run[32] = "", progress[64], elapsed[32], reason[512];
	int tty = isatty(STDERR_FILENO), cancel_sent = 0;
	size_t len = 0;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		fprintf(argc < 2 ? stderr : stdout,
			"usage: sievefs sample DATASET_DIR [STRATEGY] [n=N]"
			" [from=TAG] [embedding=NAME] [seed=S]\n"
			"       sievefs sample DATASET_DIR keep N\n"
			"Writes the request to DATASET_DIR/sample and waits for"
			" the run to end.\n");
		return argc < 2 ? 2 : 0;
	}
	snprintf(path, sizeof(path), "%s/sample", argv[1]);
	for (int i = 2; i < argc; i++) {
		int n = snprintf(line + len, sizeof(line) - len, "%s%s",
				 i > 2 ? " " : "", argv[i]);
		if (n < 0 || (size_t)n >= sizeof(line) - len) {
			fprintf(stderr, "sievefs sample: request too long\n");
			return 2;
		}
		len += (size_t)n;
	}
	if (len + 1 < sizeof(line))
		line[len] = '\n', line[len + 1] = '\0';
	if (read_text(path, text, sizeof(text)) < 0) {
		fprintf(stderr, "sievefs sample: %s: %s (is %s a dataset of a"
			" sievefs mount?)\n", path, strerror(errno), argv[1]);
		return 2;
	}
	field(text, "run", first_run, sizeof(first_run));
	int rc = write_request(path, line);
	if (rc) {
		read_text(path, text, sizeof(text));
		field(text, "rejected", reason, sizeof(reason));
		fprintf(stderr, "sievefs sample: %s\n", *reason ? reason :
			strerror(-rc));
		return 2;
	}
	if (!strncmp(line, "keep ", 5) || !strcmp(line, "cancel\n"))
		return 0;
	signal(SIGINT, on_sigint);
	for (;;) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		if (interrupted && !cancel_sent) {
			write_request(path, "cancel\n");
			cancel_sent = 1;
		}
		if (read_text(path, text, sizeof(text)) < 0) {
			fprintf(stderr, "\nsievefs sample: %s: %s\n", path,
				strerror(errno));
			return 1;
		}
		field(text, "status", status, sizeof(status));
		field(text, "run", run, sizeof(run));
		field(text, "progress", progress, sizeof(progress));
		field(text, "elapsed", elapsed, sizeof(elapsed));
		long done = 0, total = 0;
		sscanf(progress, "%ld/%ld", &done, &total);
		int ours = strcmp(run, first_run) != 0;
		if (tty && ours)
			draw_bar(status, done, total, elapsed);
		if (ours && (!strcmp(status, "done") ||
			     !strcmp(status, "failed") ||
			     !strcmp(status, "cancelled"))) {
			if (tty)
				fputc('\n', stderr);
			field(text, "reason", reason, sizeof(reason));
			if (!strcmp(status, "done")) {
				char strategy[64];
				field(text, "strategy", strategy,
				      sizeof(strategy));
				printf("done: run %s %s %ld in %s\n", run,
				       strcmp(strategy, "embed") ? "picked"
				       : "embedded", done, elapsed);
				return 0;
			}
			fprintf(stderr, "sievefs sample: run %s %s%s%s\n", run,
				status, *reason ? ": " : "", reason);
			return 1;
		}
		nanosleep(&ts, NULL);
	}
}
