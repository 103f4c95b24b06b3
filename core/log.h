/*
 * log.h — the one logging facility of the daemon and tools.
 *
 * Messages go to stderr (foreground, CLI) or syslog (daemonised), filtered by
 * level. libfuse's own log is routed here by fs/. The last warnings and
 * errors are also kept in memory for the `log` at a mount's root
 * (log_recent). Per-dataset events that a user reads in DATASET/log are a
 * different thing: see backend_ops.log_event.
 * Thread-safe; never fails (a message that cannot be written is dropped).
 */
#ifndef SIEVEFS_CORE_LOG_H
#define SIEVEFS_CORE_LOG_H

enum log_level { LOG_LVL_ERROR = 0, LOG_LVL_WARN, LOG_LVL_INFO, LOG_LVL_DEBUG };

/* to_syslog: 1 after daemonising. level: the most verbose level printed. */
void log_setup(int to_syslog, enum log_level level);

__attribute__((format(printf, 2, 3)))
void log_msg(enum log_level level, const char *fmt, ...);

/* The kept warnings and errors, oldest first, one "TIME LEVEL message"
 * line each, into *out (malloc'd, caller frees). 0 or -ENOMEM. */
int log_recent(char **out, size_t *len);

#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
