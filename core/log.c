/*
 * log.c — stderr or syslog, with a level filter. Each message is formatted
 * into one buffer and written with one call, so lines from threads do not
 * interleave.
 *
 * Warnings and errors are also kept, with their time, in a ring of the
 * last RECENT_MAX (each cut to RECENT_LEN bytes), under recent_lock: the
 * text of the `log` file at a mount's root (fs/ops.c), so a daemonised
 * mount's own errors (server gone, TLS) can be read without syslog.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "core/log.h"

#define RECENT_MAX 200
#define RECENT_LEN 512

static int use_syslog;
static enum log_level max_level = LOG_LVL_INFO;

static struct recent {
	time_t ts;
	enum log_level level;
	char msg[RECENT_LEN];
} recent[RECENT_MAX];
static size_t recent_n, recent_next;    /* count kept, next slot */
static pthread_mutex_t recent_lock = PTHREAD_MUTEX_INITIALIZER;

static void recent_add(enum log_level level, const char *msg)
{
	pthread_mutex_lock(&recent_lock);
	struct recent *r = &recent[recent_next];
	r->ts = time(NULL);
	r->level = level;
	snprintf(r->msg, sizeof(r->msg), "%.*s", RECENT_LEN - 1, msg);
	recent_next = (recent_next + 1) % RECENT_MAX;
	if (recent_n < RECENT_MAX)
		recent_n++;
	pthread_mutex_unlock(&recent_lock);
}

int log_recent(char **out, size_t *len)
{
	size_t cap = RECENT_MAX * (RECENT_LEN + 40) + 128, n = 0;
	char *p = malloc(cap);

	if (!p)
		return -ENOMEM;
	pthread_mutex_lock(&recent_lock);
	if (!recent_n)
		n = (size_t)snprintf(p, cap, "no warning or error since this"
				     " mount started\n");
	for (size_t k = 0; k < recent_n; k++) {
		const struct recent *r = &recent[(recent_next + RECENT_MAX -
						  recent_n + k) % RECENT_MAX];
		char ts[32];
		struct tm tm;
		gmtime_r(&r->ts, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		n += (size_t)snprintf(p + n, cap - n, "%s %s %s\n", ts,
				      r->level == LOG_LVL_ERROR ? "ERROR" :
				      "warning", r->msg);
	}
	pthread_mutex_unlock(&recent_lock);
	*out = p;
	*len = n;
	return 0;
}

void log_setup(int to_syslog, enum log_level level)
{
	use_syslog = to_syslog;
	max_level = level;
	if (to_syslog)
		openlog("sievefs", LOG_PID, LOG_DAEMON);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warning", "info",
					     "debug" };
	static const int prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
	char buf[1024];
	va_list ap;
	int n;

	if (level > max_level)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (level <= LOG_LVL_WARN)
		recent_add(level, buf);
	if (use_syslog) {
		syslog(prio[level], "%s", buf);
		return;
	}
	char line[1100];
	n = snprintf(line, sizeof(line), "sievefs: %s: %s\n", names[level], buf);
	if (n > (int)sizeof(line))
		n = (int)sizeof(line);
	if (write(STDERR_FILENO, line, (size_t)n) < 0)
		return;
}
