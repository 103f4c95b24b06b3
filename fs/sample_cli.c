/*
 * sample_cli.c — `sievefs sample DATASET_DIR [STRATEGY] [key=value ...]`:
 * the shell-friendly way to sample. It only uses the mount: it writes the
 * request to DATASET_DIR/sample, then reads that file every 200 ms and
 * shows the progress until the run ends. Exit status: 0 done, 1 failed or
 * cancelled, 2 request rejected or bad usage. Ctrl-C writes `cancel` and
 * waits for the run to stop.
 *
 * The progress line (only when stderr is a terminal; nothing otherwise) is
 * redrawn in place: each update starts with \r and ends with "erase to the
 * end of the line", so a shorter line leaves nothing behind, and it is cut
 * to the terminal's width (TIOCGWINSZ, read each time: the window may be
 * resized; 80 when unknown) minus one column, so it never wraps. It names
 * the phase — queued, embedding (the built-in embedder, counting samples),
 * loading (the candidates' vectors, read from the catalog in one query:
 * no count), sampling (the strategy's own steps) — so a counter that
 * restarts at 0 says why.
 *
 * With no REQUEST it writes nothing and waits the same way for the
 * dataset's latest run (the one in progress, if any): what `mkdir TAG`'s
 * EBUSY advice names. Ctrl-C then stops the wait, not the run. The result line counts the samples skipped for lack
 * of a vector, with the reason `sample` gives.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
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

/* Columns of the terminal on fd, 80 if unknown. */
static int term_cols(int fd)
{
	struct winsize ws;

	if (ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* One progress line: "LABEL [####....] DONE/TOTAL UNIT ELAPSED", the bar
 * shrunk (or left out) to fit cols - 1 columns. */
static void draw_bar(const char *label, long done, long total,
		     const char *unit, const char *el)
{
	char text[160], bar[64], line[512];
	int cols = term_cols(STDERR_FILENO) - 1, width, fill;

	/* the bar's width is that of the line at done = total, so it does
	 * not shrink as the count grows */
	if (total > 0)
		snprintf(text, sizeof(text), "%ld/%ld%s%s %s", total, total,
			 *unit ? " " : "", unit, el);
	else
		snprintf(text, sizeof(text), "%s", el);
	width = cols - (int)strlen(label) - (int)strlen(text) - 4;
	if (total > 0)
		snprintf(text, sizeof(text), "%ld/%ld%s%s %s", done, total,
			 *unit ? " " : "", unit, el);
	/* label, a space, "[" bar "]", a space, text */
	if (width > 30)
		width = 30;
	if (total > 0 && width >= 5) {
		fill = done >= total ? width : (int)(done * width / total);
		for (int i = 0; i < width; i++)
			bar[i] = i < fill ? '#' : '.';
		bar[width] = '\0';
		snprintf(line, sizeof(line), "%s [%s] %s", label, bar, text);
	} else {
		snprintf(line, sizeof(line), "%s %s", label, text);
	}
	if (cols > 0 && (size_t)cols < sizeof(line))
		line[cols] = '\0';
	fprintf(stderr, "\r%s\033[K", line);
	fflush(stderr);
}

/* The result line of a done run: "done: run R picked K of M in T", and
 * "; N skipped: WHY" from `skipped: N (no vector: WHY)` when N > 0. */
static void print_done(const char *text, const char *run, long done,
		       const char *elapsed)
{
	char strategy[64], candidates[32], skipped[256], why[256] = "";
	long nskip = 0;

	field(text, "strategy", strategy, sizeof(strategy));
	field(text, "candidates", candidates, sizeof(candidates));
	field(text, "skipped", skipped, sizeof(skipped));
	if (!strcmp(strategy, "embed")) {
		printf("done: run %s embedded %ld sample%s in %s\n", run, done,
		       done == 1 ? "" : "s", elapsed);
		return;
	}
	if (sscanf(skipped, "%ld", &nskip) == 1 && nskip > 0) {
		const char *w = strstr(skipped, "no vector: ");
		snprintf(why, sizeof(why), "; %ld skipped: %s", nskip,
			 w ? w + 11 : "no vector");
		why[strcspn(why, ")")] = '\0';
	}
	if (*candidates)
		printf("done: run %s picked %ld of %s in %s%s\n", run, done,
		       candidates, elapsed, why);
	else
		printf("done: run %s picked %ld in %s%s\n", run, done, elapsed,
		       why);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sievefs sample DATASET_DIR [REQUEST...]\n"
		"Writes REQUEST to DATASET_DIR/sample and waits for its run to"
		" end, with a\n"
		"progress line on a terminal; with no REQUEST, waits for the"
		" run in progress\n"
		"(or reports the latest one; Ctrl-C stops waiting). Requests:\n"
		"  [STRATEGY] [n=N] [from=TAG] [embedding=NAME] [seed=S]"
		" [min_distance=D]\n"
		"      pick N samples (default all) from TAG (default"
		" initial-tag) with the\n"
		"      vectors of embeddings/NAME.csv (default the latest"
		" uploaded, else the\n"
		"      built-in embedder, computed first); min_distance: coreset"
		" (or a selection)\n"
		"  keep N                       the selection becomes the top N"
		" of the latest run\n"
		"  cancel                       stop this dataset's running and"
		" queued requests\n"
		"  embed [dim=N] [color=on|off] compute the built-in embedding"
		" (dim 2..256)\n"
		"  OBJECTIVE [KEY=V]... [+ OBJECTIVE [KEY=V]...]... [n=N |"
		" proportion=P]\n"
		"      [path=REGEX] [preselected=TAG] [min_distance=D] [dedup=D]"
		" [from=TAG]\n"
		"      [embedding=NAME] [seed=S]\n"
		"      one greedy selection combining objectives: the product"
		" of each one's\n"
		"      score^strength, after the thresholds. OBJECTIVE [keys]:\n"
		"        diversity | typicality | random          [strength=F]\n"
		"        similarity query=TAG                     [strength=F]\n"
		"        weights column=INPUT.COLUMN              [strength=F]\n"
		"        balance [column=INPUT.COLUMN] [target=uniform|C:S,...]"
		" [strength=F]\n"
		"        threshold column=INPUT.COLUMN op=<|<=|>|>=|lt|le|gt|ge"
		" value=F\n"
		"      path=REGEX restricts the candidates; preselected=TAG's"
		" samples count\n"
		"      as picked and are never picked again; dedup=D leaves one"
		" candidate of\n"
		"      each group of exact copies and of vectors within D."
		" See README,\n"
		"      \"Selection\".\n"
		"Strategies: typicality (the default), kmeans, coreset, random,"
		" balance.\n"
		"Examples: sievefs sample mnt/leaves n=500\n"
		"          sievefs sample mnt/leaves      (wait for the"
		" running request)\n"
		"          sievefs sample mnt/leaves coreset n=50"
		" from=best-500\n"
		"          sievefs sample mnt/leaves typicality strength=0.5 +"
		" diversity n=100\n"
		"Exit status: 0 done, 1 failed or cancelled (Ctrl-C cancels),"
		" 2 rejected or\n"
		"bad usage (the reason is printed, and in DATASET_DIR/log).\n");
}

int fs_sample_cli(int argc, char **argv)
{
	char path[4096], line[1024] = "", text[8192], status[64], run[32];
	char first_run[32] = "", progress[64], elapsed[32], reason[512];
	char phase[64];
	int tty = isatty(STDERR_FILENO), cancel_sent = 0, drawn = 0;
	size_t len = 0;

	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		}
	if (argc < 2) {
		fprintf(stderr, "sievefs sample: missing DATASET_DIR\n");
		usage(stderr);
		return 2;
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
	if (argc == 2) {
		/* wait for the latest run: every run counts as ours */
		field(text, "status", status, sizeof(status));
		if (!strcmp(status, "idle")) {
			fprintf(stderr, "sievefs sample: no request was made in"
				" %s yet; give one (e.g. n=500)\n", argv[1]);
			usage(stderr);
			return 2;
		}
		goto wait;
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
	if (!strncmp(line, "keep ", 5)) {
		char kept[128] = "";
		if (read_text(path, text, sizeof(text)) >= 0)
			field(text, "kept", kept, sizeof(kept));
		if (*kept)
			printf("kept: %s\n", kept);
		return 0;
	}
	if (!strcmp(line, "cancel\n"))
		return 0;
wait:
	signal(SIGINT, on_sigint);
	for (;;) {
		struct timespec ts = { 0, 200 * 1000 * 1000 };
		if (interrupted && argc == 2) {
			/* only waiting: Ctrl-C stops the wait, not the run */
			if (tty && drawn)
				fputs("\r\033[K", stderr);
			fprintf(stderr, "sievefs sample: stopped waiting; the"
				" run goes on\n");
			return 1;
		}
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
		field(text, "phase", phase, sizeof(phase));
		phase[strcspn(phase, " ")] = '\0';
		long done = 0, total = 0;
		sscanf(progress, "%ld/%ld", &done, &total);
		int ours = strcmp(run, first_run) != 0;
		if (tty && ours && (!strcmp(status, "queued") ||
				    !strcmp(status, "running"))) {
			if (!strcmp(status, "queued"))
				draw_bar("queued", 0, 0, "", "behind another"
					 " request");
			else
				draw_bar(*phase ? phase : status, done, total,
					 !strcmp(phase, "embedding") ?
					 "samples" : "", elapsed);
			drawn = 1;
		}
		if (ours && (!strcmp(status, "done") ||
			     !strcmp(status, "failed") ||
			     !strcmp(status, "cancelled"))) {
			if (tty && drawn)
				fputs("\r\033[K", stderr);
			field(text, "reason", reason, sizeof(reason));
			if (!strcmp(status, "done")) {
				print_done(text, run, done, elapsed);
				return 0;
			}
			fprintf(stderr, "sievefs sample: run %s %s%s%s\n", run,
				status, *reason ? ": " : "", reason);
			return 1;
		}
		nanosleep(&ts, NULL);
	}
}
