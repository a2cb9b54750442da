/*
 * Logging: one line per event, syslog levels, per-subsystem thresholds.
 *
 * DRIVEFS_LOG="info,drive=debug,oauth=warn" sets the default level and
 * per-subsystem overrides (read once by log_init()). Lines go to stderr
 * (foreground) or syslog (daemon). Never pass tokens, keys, Authorization
 * headers or file contents: see STYLE.md section 6.
 */
#ifndef COMMON_LOG_H
#define COMMON_LOG_H

#include "common/compat.h"

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

enum log_sink {
	LOG_SINK_STDERR,
	LOG_SINK_SYSLOG,
	LOG_SINK_FILE, /* log_open_file() */
};

/* Parse @spec (NULL: $DRIVEFS_LOG, else "info") and choose @sink. */
void log_init(const char *spec, enum log_sink sink);
/*
 * Send lines to the file @path from now on (appended, created 0600), with
 * the date on each line; the levels stay. Returns 0 or -errno (the sink is
 * then unchanged).
 */
int log_open_file(const char *path);

/*
 * The last warnings and errors (whatever the levels let through), for
 * drivefs-status: a ring of LOG_RECENT_MAX, copied oldest first.
 */
#define LOG_RECENT_MAX 16
struct log_recent {
	int64_t wall_ms;
	enum log_level lvl;
	char subsys[16];
	char msg[512];
};
size_t log_recent_get(struct log_recent *out, size_t max);
/* "ERROR", "WARN", "INFO", "DEBUG". */
const char *log_level_name(enum log_level lvl);

/* Parse a spec without applying it. Returns 0 or -EINVAL. */
int log_spec_check(const char *spec);

bool log_enabled(const char *subsys, enum log_level lvl);

void log_msg(enum log_level lvl, const char *subsys, const char *fmt, ...)
	PRINTF_LIKE(3, 4);

#define log_err(sub, ...) log_msg(LOG_LVL_ERR, sub, __VA_ARGS__)
#define log_warn(sub, ...) log_msg(LOG_LVL_WARN, sub, __VA_ARGS__)
#define log_info(sub, ...) log_msg(LOG_LVL_INFO, sub, __VA_ARGS__)
#define log_debug(sub, ...)                                                    \
	do {                                                                   \
		if (log_enabled(sub, LOG_LVL_DEBUG))                           \
			log_msg(LOG_LVL_DEBUG, sub, __VA_ARGS__);              \
	} while (0)

/* A broken invariant: log file:line and abort, in every build (git BUG()). */
#define DFS_BUG(...) dfs_bug(__FILE__, __LINE__, __VA_ARGS__)
_Noreturn void dfs_bug(const char *file, int line, const char *fmt, ...)
	PRINTF_LIKE(3, 4);

#endif
