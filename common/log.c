/*
 * Logging. The level table is written once by log_init() before threads
 * start and only read afterwards, so log_msg() takes no lock; each line is
 * formatted into one buffer and written with a single write() so lines from
 * different threads never interleave. Warnings and errors are also kept in
 * a small ring for drivefs-status (log_recent_get()), the one lock here,
 * taken only for those rare lines. Sinks: stderr (foreground), syslog, or
 * an append-only file (daemon --log-to file: <cache dir>/drivefs.log).
 */
#include "common/compat.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"

#define LOG_MAX_SUBSYS 16
#define LOG_SUBSYS_LEN 16

struct log_rule {
	char subsys[LOG_SUBSYS_LEN];
	enum log_level lvl;
};

static struct {
	enum log_level dflt;
	struct log_rule rules[LOG_MAX_SUBSYS];
	size_t n_rules;
	enum log_sink sink;
	int fd; /* LOG_SINK_FILE */
} logcfg = {.dflt = LOG_LVL_INFO, .fd = -1};

/* The last warnings and errors (log_recent_get()), under recent_lock. */
static pthread_mutex_t recent_lock = PTHREAD_MUTEX_INITIALIZER;
static struct log_recent recent[LOG_RECENT_MAX];
static size_t recent_next, recent_n;

static int parse_level(const char *s, size_t n, enum log_level *out)
{
	static const struct {
		const char *name;
		enum log_level lvl;
	} names[] = {
		{"error", LOG_LVL_ERR}, {"err", LOG_LVL_ERR},
		{"warn", LOG_LVL_WARN}, {"warning", LOG_LVL_WARN},
		{"info", LOG_LVL_INFO}, {"debug", LOG_LVL_DEBUG},
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (strlen(names[i].name) == n && !strncmp(s, names[i].name, n)) {
			*out = names[i].lvl;
			return 0;
		}
	}
	return -EINVAL;
}

/* Parse into @dflt/@rules; either may be NULL to only validate. */
static int parse_spec(const char *spec, enum log_level *dflt,
		      struct log_rule *rules, size_t *n_rules)
{
	const char *p = spec;
	size_t n = 0;

	while (*p) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		const char *eq = memchr(p, '=', len);
		enum log_level lvl;

		if (len == 0)
			return -EINVAL;
		if (!eq) {
			if (parse_level(p, len, &lvl) < 0)
				return -EINVAL;
			if (dflt)
				*dflt = lvl;
		} else {
			size_t sublen = (size_t)(eq - p);

			if (sublen == 0 || sublen >= LOG_SUBSYS_LEN ||
			    n >= LOG_MAX_SUBSYS)
				return -EINVAL;
			if (parse_level(eq + 1, len - sublen - 1, &lvl) < 0)
				return -EINVAL;
			if (rules) {
				memcpy(rules[n].subsys, p, sublen);
				rules[n].subsys[sublen] = '\0';
				rules[n].lvl = lvl;
			}
			n++;
		}
		p += len;
		if (*p == ',')
			p++;
	}
	if (n_rules)
		*n_rules = n;
	return 0;
}

int log_spec_check(const char *spec)
{
	return parse_spec(spec, NULL, NULL, NULL);
}

void log_init(const char *spec, enum log_sink sink)
{
	if (!spec)
		spec = getenv("DRIVEFS_LOG");
	if (!spec || !*spec)
		spec = "info";
	logcfg.dflt = LOG_LVL_INFO;
	logcfg.n_rules = 0;
	if (parse_spec(spec, &logcfg.dflt, logcfg.rules, &logcfg.n_rules) < 0) {
		logcfg.dflt = LOG_LVL_INFO;
		logcfg.n_rules = 0;
		fprintf(stderr, "drivefs: ignoring malformed DRIVEFS_LOG\n");
	}
	logcfg.sink = sink;
	if (sink == LOG_SINK_SYSLOG)
		openlog("drivefs", LOG_PID, LOG_DAEMON);
}

bool log_enabled(const char *subsys, enum log_level lvl)
{
	for (size_t i = 0; i < logcfg.n_rules; i++)
		if (!strcmp(logcfg.rules[i].subsys, subsys))
			return lvl <= logcfg.rules[i].lvl;
	return lvl <= logcfg.dflt;
}

int log_open_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);

	if (fd < 0)
		return -errno;
	if (logcfg.fd >= 0)
		close(logcfg.fd);
	logcfg.fd = fd;
	logcfg.sink = LOG_SINK_FILE;
	return 0;
}

size_t log_recent_get(struct log_recent *out, size_t max)
{
	size_t n, first;

	pthread_mutex_lock(&recent_lock);
	n = MIN(max, recent_n);
	/* The newest @n, oldest first. */
	first = (recent_next + LOG_RECENT_MAX - n) % LOG_RECENT_MAX;
	for (size_t i = 0; i < n; i++)
		out[i] = recent[(first + i) % LOG_RECENT_MAX];
	pthread_mutex_unlock(&recent_lock);
	return n;
}

static void remember(enum log_level lvl, const char *subsys, const char *msg)
{
	struct timespec ts;
	struct log_recent *r;

	clock_gettime(CLOCK_REALTIME, &ts);
	pthread_mutex_lock(&recent_lock);
	r = &recent[recent_next];
	r->wall_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	r->lvl = lvl;
	snprintf(r->subsys, sizeof(r->subsys), "%s", subsys);
	snprintf(r->msg, sizeof(r->msg), "%s", msg);
	recent_next = (recent_next + 1) % LOG_RECENT_MAX;
	if (recent_n < LOG_RECENT_MAX)
		recent_n++;
	pthread_mutex_unlock(&recent_lock);
}

static const char *level_name(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_ERR:
		return "ERROR";
	case LOG_LVL_WARN:
		return "WARN";
	case LOG_LVL_INFO:
		return "INFO";
	default:
		return "DEBUG";
	}
}

const char *log_level_name(enum log_level lvl)
{
	return level_name(lvl);
}

/* Format and write one line; @enabled: the levels let it through. */
static void log_vmsg(enum log_level lvl, const char *subsys, const char *fmt,
		     va_list ap, bool enabled)
{
	char line[2048];
	int off = 0;

	if (logcfg.sink == LOG_SINK_STDERR || logcfg.sink == LOG_SINK_FILE) {
		struct timespec ts;
		struct tm tm;

		clock_gettime(CLOCK_REALTIME, &ts);
		localtime_r(&ts.tv_sec, &tm);
		if (logcfg.sink == LOG_SINK_FILE)
			off = snprintf(line, sizeof(line),
				       "%04d-%02d-%02d ", tm.tm_year + 1900,
				       tm.tm_mon + 1, tm.tm_mday);
		off += snprintf(line + off, sizeof(line) - (size_t)off,
				"%02d:%02d:%02d.%03ld %s %s: ", tm.tm_hour,
				tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
				level_name(lvl), subsys);
	} else {
		off = snprintf(line, sizeof(line), "%s %s: ", level_name(lvl),
			       subsys);
	}
	if (off < 0)
		return;
	int n = vsnprintf(line + off, sizeof(line) - (size_t)off - 1, fmt, ap);
	if (n < 0)
		return;
	size_t len = MIN((size_t)off + (size_t)n, sizeof(line) - 2);
	if (lvl <= LOG_LVL_WARN) {
		line[len] = '\0';
		remember(lvl, subsys, line + off);
	}
	if (!enabled)
		return;
	if (logcfg.sink == LOG_SINK_SYSLOG) {
		line[len] = '\0';
		syslog((int)lvl, "%s", line);
		return;
	}
	line[len++] = '\n';
	ssize_t w = write(logcfg.sink == LOG_SINK_FILE ? logcfg.fd
						       : STDERR_FILENO,
			  line, len);
	(void)w;
}

void log_msg(enum log_level lvl, const char *subsys, const char *fmt, ...)
{
	va_list ap;
	bool enabled = log_enabled(subsys, lvl);

	if (!enabled && lvl > LOG_LVL_WARN)
		return;
	va_start(ap, fmt);
	log_vmsg(lvl, subsys, fmt, ap, enabled);
	va_end(ap);
}

void dfs_bug(const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_msg(LOG_LVL_ERR, "bug", "%s:%d: %s", file, line, msg);
	abort();
}
