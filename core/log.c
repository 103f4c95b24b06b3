/*
 * log.c — stderr or syslog, with a level filter. Each message is formatted
 * into one buffer and written with one call, so lines from threads do not
 * interleave.
 */
#include <stdarg.h>
#include <stdio.h>
#include <syslog.h>
#include <unistd.h>

#include "core/log.h"

static int use_syslog;
static enum log_level max_level = LOG_LVL_INFO;

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
