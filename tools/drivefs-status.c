/*
 * drivefs-status: what a drivefs mount is doing, and a way to wait until
 * Drive holds everything (what drive.flush_and_unmount() is for on Colab).
 *
 * It talks to each daemon's control socket (common/ctl_proto.h): one
 * connection per request, a JSON line each way. The socket of a mount is
 * found from the mount point's path alone (no call into the mount, which
 * may be the thing that hangs); without a MOUNTPOINT every socket in the
 * user's runtime directory is asked. The status object is printed as it
 * came (--json, schema in docs/STATUS.md) or rendered for people: colors
 * and progress bars only when stdout is a terminal.
 *
 * --file PATH describes one file or folder (Drive id, md5, version, sync
 * state, sizes): the mount is the longest prefix of PATH that has a socket,
 * found without a lookup inside the mount when PATH is given as the mount
 * shows it; the daemon resolves the rest of the path in its own tree.
 *
 * Exit status: 0 done; 1 --wait timed out; 2 an error (no such mount, the
 * daemon refused or went away, bad arguments).
 */
#include "common/compat.h"

#include <dirent.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "common/clock.h"
#include "common/ctl_proto.h"
#include "common/str.h"

#define PROG "drivefs-status"
#define MAX_MOUNTS 64
#define IO_TIMEOUT_S 5
#define WAIT_POLL_MS 250
#define BAR_WIDTH 24

static struct {
	bool json, watch, wait, pause, resume, sync_now;
	const char *file; /* --file PATH */
	double timeout_s; /* --wait; < 0: none */
	const char *socket;
	const char *mountpoint;
	bool tty;   /* stdout is a terminal: colors, bars, redraws */
	bool color; /* use ANSI colors */
} opt = {.timeout_s = -1};

static void usage(FILE *out)
{
	fputs("usage: drivefs-status [options] [MOUNTPOINT]\n"
	      "       drivefs-status --file PATH [--json]\n"
	      "\n"
	      "Show what a drivefs mount is doing: state, upload queue,\n"
	      "transfers, cache, API calls, conflicts, duplicates, errors.\n"
	      "Without MOUNTPOINT: every drivefs mount of this user.\n"
	      "\n"
	      "  --json          print the status as JSON (docs/STATUS.md)\n"
	      "  --watch         redraw every second until interrupted\n"
	      "  --wait          wait until Drive holds everything: exit 0,\n"
	      "                  1 on --timeout, 2 on error\n"
	      "  --timeout SEC   give up waiting after SEC seconds\n"
	      "  --pause         pause uploads (changes keep queueing)\n"
	      "  --resume        resume uploads\n"
	      "  --sync-now      poll Drive now and push everything pending\n"
	      "                  without the writeback delay\n"
	      "  --file PATH     one file or folder inside a mount: Drive id,\n"
	      "                  md5, version, sync state, sizes\n"
	      "  --socket PATH   talk to this control socket\n"
	      "  --color WHEN    auto (default: on a terminal), always, never\n"
	      "  -h, --help      this text\n",
	      out);
}

/* ---- talking to a daemon ---- */

/* Connect to @path; -errno. */
static int ctl_connect(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
	int fd;

	if (str_copy(sa.sun_path, sizeof(sa.sun_path), path) < 0)
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	return fd;
}

/*
 * Send the request line @req (ending in '\n') to @path; *@out is the reply
 * (new) when it says ok. Returns 0, -errno of the socket, -EPROTO (not a
 * reply), or -EREMOTEIO with the daemon's message in @why.
 */
static int ctl_send(const char *path, const char *req, json_t **out, char *why,
		    size_t whysz)
{
	char *buf = NULL;
	size_t n = 0, cap = 0;
	json_t *rep;
	int fd, rc = 0;

	*out = NULL;
	why[0] = '\0';
	fd = ctl_connect(path);
	if (fd < 0)
		return fd;
	/* A daemon that refuses us may answer and close before reading:
	 * then the send fails (EPIPE) but its reply is there to read. */
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0 && errno != EPIPE &&
	    errno != ECONNRESET) {
		rc = -errno;
		goto out;
	}
	for (;;) {
		ssize_t r;

		if (n + 1 >= cap) {
			char *nb;

			if (cap >= CTL_REPLY_MAX) {
				rc = -E2BIG;
				goto out;
			}
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap);
			if (!nb) {
				rc = -ENOMEM;
				goto out;
			}
			buf = nb;
		}
		r = recv(fd, buf + n, cap - n - 1, 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rc = -errno;
			goto out;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (memchr(buf + n - r, '\n', (size_t)r))
			break;
	}
	if (!buf || n == 0) {
		rc = -EPROTO;
		goto out;
	}
	buf[n] = '\0';
	rep = json_loads(buf, JSON_DISABLE_EOF_CHECK, NULL);
	if (!json_is_object(rep)) {
		json_decref(rep);
		rc = -EPROTO;
		goto out;
	}
	if (!json_is_true(json_object_get(rep, "ok"))) {
		const char *e =
		    json_string_value(json_object_get(rep, "error"));

		snprintf(why, whysz, "%s", e ? e : "refused");
		json_decref(rep);
		rc = -EREMOTEIO;
		goto out;
	}
	*out = rep;
out:
	free(buf);
	close(fd);
	return rc;
}

/* Send {"cmd": @cmd}: ctl_send(). */
static int ctl_request(const char *path, const char *cmd, json_t **out,
		       char *why, size_t whysz)
{
	char req[128];

	snprintf(req, sizeof(req), "{\"cmd\":\"%s\"}\n", cmd);
	return ctl_send(path, req, out, why, whysz);
}

/* Why a request to @where failed, on stderr. */
static void report(const char *where, int rc, const char *why)
{
	if (rc == -EREMOTEIO)
		fprintf(stderr, PROG ": %s: %s\n", where, why);
	else if (rc == -EACCES || rc == -EPERM)
		fprintf(stderr,
			PROG ": %s: permission denied (only the user who "
			     "mounted it may ask)\n",
			where);
	else if (rc == -ENOENT || rc == -ECONNREFUSED)
		fprintf(stderr, PROG ": %s: no drivefs daemon answers\n",
			where);
	else if (rc == -EPROTO)
		fprintf(stderr, PROG ": %s: not a drivefs reply\n", where);
	else
		fprintf(stderr, PROG ": %s: %s\n", where, strerror(-rc));
}

/* ---- finding the daemons ---- */

struct target {
	char sock[CTL_PATH_MAX];
	char name[PATH_MAX]; /* the mount point, or the socket path */
};

static int runtime_dir(char *dir, size_t dirsz, bool quiet)
{
	char why[160];
	int rc = ctl_runtime_dir(geteuid(), dir, dirsz);

	if (rc < 0) {
		fprintf(stderr, PROG ": runtime directory path too long\n");
		return rc;
	}
	rc = ctl_dir_check(dir, geteuid(), false, why, sizeof(why));
	if (rc < 0 && !(quiet && rc == -ENOENT)) {
		fprintf(stderr, PROG ": runtime directory '%s': %s\n", dir,
			why);
	}
	return rc;
}

/* runtime_dir() for the argument @arg, which is @what if it exists. */
static int daemon_dir(const char *arg, const char *what, char *dir,
		      size_t dirsz)
{
	int rc = runtime_dir(dir, dirsz, true);

	if (rc == -ENOENT)
		fprintf(stderr, PROG ": %s: %s (no daemon of this user runs)\n",
			arg, what);
	return rc;
}

/* The target for MOUNTPOINT @mp. Returns 0 or -errno (reported). */
static int find_mount(const char *mp, struct target *t)
{
	char dir[CTL_PATH_MAX], clean[PATH_MAX], real[PATH_MAX];
	struct stat st;
	int rc;

	rc = daemon_dir(mp, "not a drivefs mount", dir, sizeof(dir));
	if (rc < 0)
		return rc;
	/* The path as given first: no lookup inside a possibly hung mount. */
	rc = ctl_path_clean(mp, clean, sizeof(clean));
	if (rc == 0 &&
	    ctl_socket_path(dir, clean, t->sock, sizeof(t->sock)) == 0 &&
	    lstat(t->sock, &st) == 0) {
		snprintf(t->name, sizeof(t->name), "%s", clean);
		return 0;
	}
	if (realpath(mp, real) &&
	    ctl_socket_path(dir, real, t->sock, sizeof(t->sock)) == 0 &&
	    lstat(t->sock, &st) == 0) {
		snprintf(t->name, sizeof(t->name), "%s", real);
		return 0;
	}
	fprintf(stderr, PROG ": %s: not a drivefs mount of this user\n", mp);
	return -ENOENT;
}

/*
 * The mount holding @abs (absolute, clean) in @dir: the longest prefix of
 * @abs with a socket. @rel gets the rest ("" for the mount point itself).
 * Returns 0 or -ENOENT.
 */
static int mount_of(const char *dir, const char *abs, struct target *t,
		    char *rel, size_t relsz)
{
	char pre[PATH_MAX];
	size_t len = strlen(abs);
	struct stat st;

	if (len >= sizeof(pre))
		return -ENAMETOOLONG;
	memcpy(pre, abs, len + 1);
	for (;;) {
		if (ctl_socket_path(dir, pre, t->sock, sizeof(t->sock)) == 0 &&
		    lstat(t->sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
			const char *r = abs + len;

			while (*r == '/')
				r++;
			snprintf(t->name, sizeof(t->name), "%s", pre);
			snprintf(rel, relsz, "%s", r);
			return 0;
		}
		if (len <= 1)
			return -ENOENT;
		while (len > 1 && pre[len - 1] != '/')
			len--;
		if (len > 1)
			len--; /* the '/' itself, but keep "/" */
		pre[len] = '\0';
	}
}

/*
 * The target for --file @path and the path inside the mount into @rel.
 * First the path as given (no lookup inside a possibly hung mount), then
 * with symlinks resolved: realpath() of the path, else of its folder.
 * Returns 0 or -errno (reported).
 */
static int find_file(const char *path, struct target *t, char *rel,
		     size_t relsz)
{
	char dir[CTL_PATH_MAX], clean[PATH_MAX], real[PATH_MAX];
	char parent[PATH_MAX], *slash;
	int rc;

	rc = daemon_dir(path, "not inside a drivefs mount", dir, sizeof(dir));
	if (rc < 0)
		return rc;
	rc = ctl_path_clean(path, clean, sizeof(clean));
	if (rc == 0 && mount_of(dir, clean, t, rel, relsz) == 0)
		return 0;
	if (rc == 0 && realpath(clean, real) &&
	    mount_of(dir, real, t, rel, relsz) == 0)
		return 0;
	if (rc == 0 && (slash = strrchr(clean, '/')) && slash != clean) {
		*slash = '\0';
		if (realpath(clean, parent)) {
			int k = snprintf(real, sizeof(real), "%s/%.*s",
					 strcmp(parent, "/") ? parent : "",
					 NAME_MAX, slash + 1);

			if (k > 0 && (size_t)k < sizeof(real) &&
			    mount_of(dir, real, t, rel, relsz) == 0)
				return 0;
		}
	}
	if (rc < 0)
		fprintf(stderr, PROG ": %s: %s\n", path, strerror(-rc));
	else
		fprintf(stderr,
			PROG ": %s: not inside a drivefs mount of this user\n",
			path);
	return -ENOENT;
}

/* Every socket in the runtime directory; *@n set. Returns 0 or -errno. */
static int find_all(struct target *t, size_t max, size_t *n)
{
	char dir[CTL_PATH_MAX];
	struct dirent *e;
	DIR *d;
	int rc;

	*n = 0;
	rc = runtime_dir(dir, sizeof(dir), true);
	if (rc == -ENOENT)
		return 0;
	if (rc < 0)
		return rc;
	d = opendir(dir);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d)) && *n < max) {
		struct target *x = &t[*n];

		if (!str_has_suffix(e->d_name, CTL_SOCK_SUFFIX))
			continue;
		if (snprintf(x->sock, sizeof(x->sock), "%s/%s", dir,
			     e->d_name) >= (int)sizeof(x->sock))
			continue;
		str_copy(x->name, sizeof(x->name), x->sock);
		(*n)++;
	}
	closedir(d);
	return 0;
}

/* ---- rendering ---- */

static const char *C(const char *code)
{
	return opt.color ? code : "";
}
#define BOLD C("\033[1m")
#define DIM C("\033[2m")
#define RED C("\033[31m")
#define GREEN C("\033[32m")
#define YELLOW C("\033[33m")
#define MAGENTA C("\033[35m")
#define CYAN C("\033[36m")
#define RESET C("\033[0m")

static json_int_t jint(const json_t *o, const char *k)
{
	return json_integer_value(json_object_get(o, k));
}

static const char *jstrv(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));

	return s ? s : "";
}

/* 1536 -> "1.5 KiB" */
static const char *human(int64_t b, char *out, size_t outsz)
{
	static const char *const u[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	size_t i = 0;

	while (v >= 1024 && i + 1 < ARRAY_SIZE(u)) {
		v /= 1024;
		i++;
	}
	if (i == 0)
		snprintf(out, outsz, "%lld B", (long long)b);
	else
		snprintf(out, outsz, "%.1f %s", v, u[i]);
	return out;
}

/* Seconds -> "5s", "3m12s", "2h05m", "4d". */
static const char *age(int64_t ms, char *out, size_t outsz)
{
	int64_t s = ms / 1000;

	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(out, outsz, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(out, outsz, "%lldm%02llds", (long long)(s / 60),
			 (long long)(s % 60));
	else if (s < 86400)
		snprintf(out, outsz, "%lldh%02lldm", (long long)(s / 3600),
			 (long long)(s % 3600 / 60));
	else
		snprintf(out, outsz, "%lldd", (long long)(s / 86400));
	return out;
}

static const char *state_color(const char *s)
{
	if (!strcmp(s, CTL_STATE_IDLE))
		return GREEN;
	if (!strcmp(s, CTL_STATE_SYNCING))
		return CYAN;
	if (!strcmp(s, CTL_STATE_PAUSED))
		return MAGENTA;
	return RED;
}

static void bar(FILE *f, int64_t done, int64_t total)
{
	int fill =
	    total > 0 ? (int)(BAR_WIDTH * (double)done / (double)total) : 0;

	fill = MAX(0, MIN(fill, BAR_WIDTH));
	fputs("[", f);
	fputs(GREEN, f);
	for (int i = 0; i < fill; i++)
		fputs("#", f);
	fputs(RESET, f);
	for (int i = fill; i < BAR_WIDTH; i++)
		fputs(".", f);
	fputs("] ", f);
}

static void render_queue(FILE *f, const json_t *st)
{
	const json_t *q = json_object_get(st, "queue");
	const json_t *items = json_object_get(q, "items");
	const json_t *ups = json_object_get(st, "uploads");
	char b1[32], b2[32], b3[32], a1[32];
	size_t i;
	json_t *it;

	fprintf(f, "%-11s%lld files, %s", "queue", (long long)jint(q, "files"),
		human(jint(q, "bytes"), b1, sizeof(b1)));
	if (jint(q, "in_flight") || jint(q, "failing"))
		fprintf(f, " (%lld uploading, %s%lld failing%s)",
			(long long)jint(q, "in_flight"),
			jint(q, "failing") ? RED : "",
			(long long)jint(q, "failing"), RESET);
	if (jint(q, "quarantined"))
		fprintf(f,
			" %s%lld quarantined: drivefs-status --sync-now "
			"retries them%s",
			RED, (long long)jint(q, "quarantined"), RESET);
	fputs("\n", f);
	json_array_foreach(ups, i, it)
	{
		int64_t done = jint(it, "done"), total = jint(it, "total");
		const json_t *eta = json_object_get(it, "eta_s");

		fprintf(f, "  %s%-10s%s ", CYAN, "uploading", RESET);
		if (opt.tty)
			bar(f, done, total);
		fprintf(f, "%3d%%  %s  %s of %s  %s/s",
			total > 0 ? (int)(100.0 * (double)done / (double)total)
				  : 0,
			jstrv(it, "path"), human(done, b1, sizeof(b1)),
			human(total, b2, sizeof(b2)),
			human(jint(it, "rate_bps"), b3, sizeof(b3)));
		if (json_is_integer(eta))
			fprintf(f, "  ETA %s",
				age(json_integer_value(eta) * 1000, a1,
				    sizeof(a1)));
		fputs("\n", f);
	}
	json_array_foreach(items, i, it)
	{
		const char *state = jstrv(it, "state");
		const char *err =
		    json_string_value(json_object_get(it, "error"));
		const char *cls =
		    json_string_value(json_object_get(it, "error_class"));

		if (!strcmp(state, "uploading") && json_array_size(ups))
			continue; /* shown with its bar above */
		if (i >= 20 && !opt.watch) {
			fprintf(f, "  ... %zu more\n",
				json_array_size(items) - i);
			break;
		}
		fprintf(f, "  %s%-10s%s %s",
			!strcmp(state, "retrying") ||
				!strcmp(state, "quarantined")
			    ? RED
			    : "",
			state, RESET, jstrv(it, "path"));
		if (jint(it, "size"))
			fprintf(f, "  %s",
				human(jint(it, "size"), b1, sizeof(b1)));
		if (strcmp(jstrv(it, "op"), "upload"))
			fprintf(f, "  %s(%s)%s", DIM, jstrv(it, "op"), RESET);
		if (err)
			fprintf(f, "  %s%s%s%s, %lld failures%s", RED,
				cls ? cls : "", cls ? ": " : "", err,
				(long long)jint(it, "fails"), RESET);
		fputs("\n", f);
	}
}

static void render(FILE *f, const json_t *st)
{
	const char *state = jstrv(st, "state");
	const json_t *c = json_object_get(st, "cache");
	const json_t *api = json_object_get(st, "api");
	const json_t *net = json_object_get(st, "network");
	const json_t *poll = json_object_get(st, "poll");
	const json_t *cf = json_object_get(st, "conflicts");
	const json_t *dups = json_object_get(st, "duplicates");
	const json_t *errs = json_object_get(st, "errors");
	const json_t *v;
	int64_t now = jint(st, "now_ms");
	char b1[32], b2[32], a1[32];
	const char *k;
	size_t i;
	json_t *it;

	fprintf(f, "%s%s%s  %s  pid %lld\n", BOLD, jstrv(st, "mountpoint"),
		RESET, jstrv(st, "account"), (long long)jint(st, "pid"));
	fprintf(f, "%-11s%s (%s)\n", "drive root", jstrv(st, "root"),
		jstrv(st, "root_id"));
	fprintf(f, "%-11s%s%s%s%s\n", "state", BOLD, state_color(state), state,
		RESET);
	render_queue(f, st);

	v = json_object_get(st, "downloads");
	if (json_array_size(v)) {
		fprintf(f, "%-11s%zu\n", "downloads", json_array_size(v));
		json_array_foreach(v, i, it)
		{
			fprintf(f, "  %s  %s of %s cached, %s coming\n",
				jstrv(it, "path"),
				human(jint(it, "present"), b1, sizeof(b1)),
				human(jint(it, "size"), b2, sizeof(b2)),
				human(jint(it, "fetching"), a1, sizeof(a1)));
		}
	}

	fprintf(f, "%-11s%s of %s", "cache",
		human(jint(c, "bytes"), b1, sizeof(b1)),
		human(jint(c, "cap"), b2, sizeof(b2)));
	v = json_object_get(c, "hit_rate");
	if (json_is_number(v))
		fprintf(f, ", hit rate %.0f%% (%lld of %lld)",
			100 * json_number_value(v), (long long)jint(c, "hits"),
			(long long)(jint(c, "hits") + jint(c, "misses")));
	fputs("\n", f);

	fprintf(f, "%-11s%lld calls in the last minute", "api",
		(long long)jint(api, "calls_last_minute"));
	v = json_object_get(api, "last_minute");
	if (json_object_size(v)) {
		bool first = true;

		fputs(" (", f);
		json_object_foreach((json_t *)v, k, it)
		{
			fprintf(f, "%s%s %lld", first ? "" : ", ", k,
				(long long)json_integer_value(it));
			first = false;
		}
		fputs(")", f);
	}
	if (jint(api, "rate_limited_last_minute"))
		fprintf(f, ", %s%lld rate-limited%s", YELLOW,
			(long long)jint(api, "rate_limited_last_minute"),
			RESET);
	fputs("\n", f);

	if (json_is_true(json_object_get(net, "online")))
		fprintf(f, "%-11sonline\n", "network");
	else
		fprintf(
		    f, "%-11s%sOFFLINE%s for %s: %s\n", "network", RED, RESET,
		    age(now - jint(net, "last_unreachable_ms"), a1, sizeof(a1)),
		    jstrv(net, "last_unreachable_error"));

	if (jint(poll, "interval_ms") == 0)
		fprintf(f, "%-11sdisabled\n", "last poll");
	else if (!json_is_integer(json_object_get(poll, "last_ok_ms")))
		fprintf(f, "%-11snone yet (every %s)\n", "last poll",
			age(jint(poll, "interval_ms"), a1, sizeof(a1)));
	else
		fprintf(f, "%-11s%s ago (every %s)\n", "last poll",
			age(now - jint(poll, "last_ok_ms"), a1, sizeof(a1)),
			age(jint(poll, "interval_ms"), b1, sizeof(b1)));

	fprintf(f, "%-11s%lld\n", "conflicts", (long long)jint(cf, "total"));
	json_array_foreach(json_object_get(cf, "items"), i, it)
	{
		const char *copy =
		    json_string_value(json_object_get(it, "copy"));

		fprintf(f, "  %s%s%s", YELLOW, jstrv(it, "path"), RESET);
		if (copy)
			fprintf(f, " -> %s", copy);
		fprintf(f, "  (%s, %s ago)\n", jstrv(it, "kind"),
			age(now - jint(it, "when_ms"), a1, sizeof(a1)));
		if (i >= 9 && !opt.watch)
			break;
	}
	fprintf(f, "%-11s%lld\n", "duplicates", (long long)jint(dups, "total"));
	json_array_foreach(json_object_get(dups, "items"), i, it)
	{
		fprintf(f, "  %s  (Drive name \"%s\", id %s)\n",
			jstrv(it, "path"), jstrv(it, "name"), jstrv(it, "id"));
		if (i >= 9 && !opt.watch)
			break;
	}
	if (json_array_size(errs)) {
		fprintf(f, "%-11s\n", "errors");
		json_array_foreach(errs, i, it)
		{
			fprintf(f, "  %s ago %s%s%s %s: %s\n",
				age(now - jint(it, "when_ms"), a1, sizeof(a1)),
				!strcmp(jstrv(it, "level"), "ERROR") ? RED
								     : YELLOW,
				jstrv(it, "level"), RESET, jstrv(it, "subsys"),
				jstrv(it, "message"));
			if (i >= 4 && !opt.watch)
				break;
		}
	}
}

/* --file, for people. */
static void render_file(FILE *f, const char *mp, const json_t *fi)
{
	const json_t *v;
	const char *state = jstrv(fi, "state");
	const char *path = jstrv(fi, "path");
	char b1[32], b2[32], b3[32], a1[32];

	fprintf(f, "%s%s%s%s%s\n", BOLD, mp, *path ? "/" : "", path, RESET);
	fprintf(f, "%-11s%s\n", "kind", jstrv(fi, "kind"));
	v = json_object_get(fi, "id");
	fprintf(f, "%-11s%s%s\n", "drive id",
		json_is_string(v) ? json_string_value(v) : "none yet",
		json_is_true(json_object_get(fi, "in_drive"))
		    ? ""
		    : " (not in Drive yet)");
	v = json_object_get(fi, "md5");
	if (json_is_string(v))
		fprintf(f, "%-11s%s\n", "md5", json_string_value(v));
	v = json_object_get(fi, "version");
	if (json_is_integer(v))
		fprintf(f, "%-11s%lld\n", "version",
			(long long)json_integer_value(v));
	if (strcmp(jstrv(fi, "kind"), "folder")) {
		fprintf(f, "%-11s%s", "size",
			human(jint(fi, "size"), b1, sizeof(b1)));
		v = json_object_get(fi, "drive_size");
		if (json_is_integer(v) &&
		    json_integer_value(v) != jint(fi, "size"))
			fprintf(f, " (Drive: %s)",
				human(json_integer_value(v), b2, sizeof(b2)));
		fprintf(f, ", %s cached\n",
			human(jint(fi, "cached"), b3, sizeof(b3)));
	}
	fprintf(f, "%-11s%s%s%s%s", "state",
		!strcmp(state, "clean") ? GREEN
		: !strcmp(state, "quarantined") || !strcmp(state, "retrying")
		    ? RED
		    : CYAN,
		BOLD, state, RESET);
	v = json_object_get(fi, "op");
	if (json_is_string(v))
		fprintf(f, " (%s pending", json_string_value(v));
	if (json_is_string(v) && jint(fi, "due_in_ms") > 0)
		fprintf(f, ", in %s",
			age(jint(fi, "due_in_ms") + 999, a1, sizeof(a1)));
	if (json_is_string(v))
		fputs(")", f);
	fputs("\n", f);
	v = json_object_get(fi, "error");
	if (json_is_string(v)) {
		const char *cls =
		    json_string_value(json_object_get(fi, "error_class"));

		fprintf(f, "%-11s%s%s%s%s, %lld failures%s\n", "error", RED,
			cls ? cls : "", cls ? ": " : "", json_string_value(v),
			(long long)jint(fi, "fails"), RESET);
	}
}

/* --file: ask the daemon of the mount holding @path. Exit status. */
static int file_info(const char *path)
{
	struct target t;
	char rel[PATH_MAX], why[256], req[CTL_REQ_MAX + 1];
	json_t *r, *rep, *fi;
	char *line;
	int rc, n;

	if (find_file(path, &t, rel, sizeof(rel)) < 0)
		return 2;
	r = json_pack("{s:s, s:s}", "cmd", CTL_CMD_FILE, "path", rel);
	line = r ? json_dumps(r, JSON_COMPACT) : NULL;
	json_decref(r);
	n = line ? snprintf(req, sizeof(req), "%s\n", line) : -1;
	free(line);
	if (n < 0 || (size_t)n >= sizeof(req)) {
		fprintf(stderr, PROG ": %s: %s\n", path,
			n < 0 ? strerror(ENOMEM) : "path too long");
		return 2;
	}
	rc = ctl_send(t.sock, req, &rep, why, sizeof(why));
	if (rc < 0) {
		report(path, rc, why);
		return 2;
	}
	fi = json_object_get(rep, "file");
	if (!json_is_object(fi)) {
		report(path, -EPROTO, why);
		json_decref(rep);
		return 2;
	}
	json_object_set_new(fi, "mountpoint", json_string(t.name));
	if (opt.json) {
		json_dumpf(fi, stdout, JSON_INDENT(2));
		fputs("\n", stdout);
	} else {
		render_file(stdout, t.name, fi);
	}
	fflush(stdout);
	json_decref(rep);
	return 0;
}

/* ---- modes ---- */

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig)
{
	(void)sig;
	interrupted = 1;
}

/* Status of every target into @out (NULL where it failed, reported). */
static int collect(struct target *t, size_t n, json_t **out, bool quiet_dead)
{
	char why[256];
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		int rc = ctl_request(t[i].sock, CTL_CMD_STATUS, &out[i], why,
				     sizeof(why));

		if (rc < 0) {
			/* A stale socket of a dead daemon, when scanning. */
			if (!(quiet_dead &&
			      (rc == -ECONNREFUSED || rc == -ENOENT)))
				report(t[i].name, rc, why);
			if (!quiet_dead ||
			    (rc != -ECONNREFUSED && rc != -ENOENT))
				bad++;
		}
	}
	return bad;
}

static void free_all(json_t **st, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		json_decref(st[i]);
		st[i] = NULL;
	}
}

static int show(struct target *t, size_t n, bool scan)
{
	json_t *st[MAX_MOUNTS] = {0};
	int bad = collect(t, n, st, scan);
	size_t shown = 0;

	if (opt.json) {
		json_t *out = NULL;

		if (!scan) {
			out = st[0] ? json_incref(st[0]) : NULL;
		} else {
			json_t *arr = json_array();

			for (size_t i = 0; arr && i < n; i++)
				if (st[i])
					json_array_append(arr, st[i]);
			out = json_pack("{s:o*}", "mounts", arr);
		}
		if (out) {
			json_dumpf(out, stdout,
				   opt.watch ? JSON_COMPACT : JSON_INDENT(2));
			fputs("\n", stdout);
			json_decref(out);
		}
	} else {
		for (size_t i = 0; i < n; i++) {
			if (!st[i])
				continue;
			if (shown++)
				fputs("\n", stdout);
			render(stdout, st[i]);
		}
		if (scan && !shown && !bad)
			puts("no drivefs mounts");
	}
	fflush(stdout);
	free_all(st, n);
	return bad ? 2 : 0;
}

static int watch(struct target *t, size_t n, bool scan)
{
	int rc = 0;

	while (!interrupted) {
		char tb[32];
		time_t now = time(NULL);
		struct tm tm;

		localtime_r(&now, &tm);
		strftime(tb, sizeof(tb), "%H:%M:%S", &tm);
		if (opt.tty && !opt.json)
			fputs("\033[H\033[2J", stdout);
		if (!opt.json)
			printf("%sdrivefs-status  %s%s  (every 1s, ^C to "
			       "stop)\n\n",
			       DIM, tb, RESET);
		rc = show(t, n, scan);
		if (!opt.tty && !opt.json)
			fputs("\n", stdout);
		fflush(stdout);
		if (rc && !scan)
			return rc;
		for (int i = 0; i < 10 && !interrupted; i++)
			usleep(100 * 1000);
	}
	return 0;
}

/* Pending work of one status: files queued plus uploads running. */
static int64_t pending_of(const json_t *st)
{
	return jint(json_object_get(st, "queue"), "files") +
	       (int64_t)json_array_size(json_object_get(st, "uploads"));
}

static int wait_all(struct target *t, size_t n, bool scan)
{
	int64_t start = clock_mono_ms(), last_print = -1;
	int64_t last_files = -1;

	while (!interrupted) {
		json_t *st[MAX_MOUNTS] = {0};
		int64_t files = 0, bytes = 0, done_b = 0, total_b = 0;
		char b1[32], b2[32];
		const char *state = NULL;
		int bad = collect(t, n, st, scan);

		if (bad) {
			free_all(st, n);
			return 2;
		}
		for (size_t i = 0; i < n; i++) {
			size_t k;
			json_t *u;

			if (!st[i])
				continue;
			files += pending_of(st[i]);
			bytes += jint(json_object_get(st[i], "queue"), "bytes");
			json_array_foreach(json_object_get(st[i], "uploads"), k,
					   u)
			{
				done_b += jint(u, "done");
				total_b += jint(u, "total");
			}
			if (pending_of(st[i]) || !state)
				state = jstrv(st[i], "state");
		}
		if (files == 0) {
			if (opt.tty)
				fputs("\r\033[K", stderr);
			free_all(st, n);
			fprintf(stderr, PROG ": everything is in Drive\n");
			return 0;
		}
		if (opt.timeout_s >= 0 && clock_mono_ms() - start >=
					      (int64_t)(opt.timeout_s * 1000)) {
			if (opt.tty)
				fputs("\r\033[K", stderr);
			fprintf(stderr,
				PROG ": timed out: %lld pending (%s), "
				     "state %s\n",
				(long long)files, human(bytes, b1, sizeof(b1)),
				state ? state : "?");
			free_all(st, n);
			return 1;
		}
		/* Progress: a redrawn line on a terminal, else a line when
		 * the count changes or every 5 s. */
		if (opt.tty) {
			fprintf(stderr, "\r\033[Kwaiting: %lld pending, %s",
				(long long)files, human(bytes, b1, sizeof(b1)));
			if (total_b)
				fprintf(stderr, ", uploading %s of %s",
					human(done_b, b1, sizeof(b1)),
					human(total_b, b2, sizeof(b2)));
			fprintf(stderr, " (%s)", state ? state : "?");
		} else if (files != last_files || last_print < 0 ||
			   clock_mono_ms() - last_print >= 5000) {
			fprintf(stderr,
				PROG ": waiting: %lld pending, %s (%s)\n",
				(long long)files, human(bytes, b1, sizeof(b1)),
				state ? state : "?");
			last_print = clock_mono_ms();
		}
		last_files = files;
		free_all(st, n);
		usleep(WAIT_POLL_MS * 1000);
	}
	return 2;
}

/* --pause / --resume / --sync-now on every target. */
static int act(struct target *t, size_t n, bool scan, const char *cmd,
	       const char *done)
{
	char why[256];
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		json_t *rep;
		int rc = ctl_request(t[i].sock, cmd, &rep, why, sizeof(why));

		if (rc < 0) {
			if (scan && (rc == -ECONNREFUSED || rc == -ENOENT))
				continue;
			report(t[i].name, rc, why);
			bad++;
			continue;
		}
		if (!opt.json)
			fprintf(stderr, PROG ": %s: %s\n", t[i].name, done);
		json_decref(rep);
	}
	return bad ? 2 : 0;
}

enum {
	OPT_JSON = 256,
	OPT_WATCH,
	OPT_WAIT,
	OPT_TIMEOUT,
	OPT_PAUSE,
	OPT_RESUME,
	OPT_SYNC_NOW,
	OPT_SOCKET,
	OPT_COLOR,
	OPT_FILE
};

static int parse(int argc, char **argv)
{
	static const struct option lo[] = {
	    {"json", no_argument, NULL, OPT_JSON},
	    {"watch", no_argument, NULL, OPT_WATCH},
	    {"wait", no_argument, NULL, OPT_WAIT},
	    {"timeout", required_argument, NULL, OPT_TIMEOUT},
	    {"pause", no_argument, NULL, OPT_PAUSE},
	    {"resume", no_argument, NULL, OPT_RESUME},
	    {"sync-now", no_argument, NULL, OPT_SYNC_NOW},
	    {"socket", required_argument, NULL, OPT_SOCKET},
	    {"color", required_argument, NULL, OPT_COLOR},
	    {"file", required_argument, NULL, OPT_FILE},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *color = "auto";
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		char *end;

		switch (c) {
		case OPT_JSON:
			opt.json = true;
			break;
		case OPT_WATCH:
			opt.watch = true;
			break;
		case OPT_WAIT:
			opt.wait = true;
			break;
		case OPT_TIMEOUT:
			errno = 0;
			opt.timeout_s = strtod(optarg, &end);
			if (end == optarg || *end || errno ||
			    !isfinite(opt.timeout_s) || opt.timeout_s < 0) {
				fprintf(stderr,
					PROG ": --timeout '%s': expected "
					     "seconds\n",
					optarg);
				return -1;
			}
			break;
		case OPT_PAUSE:
			opt.pause = true;
			break;
		case OPT_RESUME:
			opt.resume = true;
			break;
		case OPT_SYNC_NOW:
			opt.sync_now = true;
			break;
		case OPT_SOCKET:
			opt.socket = optarg;
			break;
		case OPT_FILE:
			opt.file = optarg;
			break;
		case OPT_COLOR:
			color = optarg;
			if (strcmp(color, "auto") && strcmp(color, "always") &&
			    strcmp(color, "never")) {
				fprintf(stderr,
					PROG ": --color '%s': expected auto, "
					     "always or never\n",
					color);
				return -1;
			}
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			fprintf(stderr, PROG ": %s: unknown option\n",
				argv[optind - 1]);
			usage(stderr);
			return -1;
		}
	}
	if (optind < argc)
		opt.mountpoint = argv[optind++];
	if (optind < argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n",
			argv[optind]);
		return -1;
	}
	if (opt.pause && opt.resume) {
		fprintf(stderr, PROG ": --pause and --resume together\n");
		return -1;
	}
	if (opt.watch && opt.wait) {
		fprintf(stderr, PROG ": --watch and --wait together\n");
		return -1;
	}
	if (opt.file && (opt.mountpoint || opt.socket || opt.watch ||
			 opt.wait || opt.pause || opt.resume || opt.sync_now)) {
		fprintf(stderr, PROG ": --file takes only --json (and finds "
				     "the mount from PATH)\n");
		return -1;
	}
	if (opt.timeout_s >= 0 && !opt.wait) {
		fprintf(stderr, PROG ": --timeout needs --wait\n");
		return -1;
	}
	opt.tty = isatty(STDOUT_FILENO);
	opt.color = !strcmp(color, "always") ||
		    (!strcmp(color, "auto") && opt.tty && !getenv("NO_COLOR"));
	return 0;
}

int main(int argc, char **argv)
{
	static struct target t[MAX_MOUNTS];
	struct sigaction sa = {.sa_handler = on_sigint};
	bool scan = false;
	size_t n = 0;
	int rc;

	rc = parse(argc, argv);
	if (rc)
		return rc > 0 ? 0 : 2;
	signal(SIGPIPE, SIG_IGN);
	if (opt.file)
		return file_info(opt.file);
	if (opt.socket) {
		if (str_copy(t[0].sock, sizeof(t[0].sock), opt.socket) < 0) {
			fprintf(stderr, PROG ": --socket path too long\n");
			return 2;
		}
		snprintf(t[0].name, sizeof(t[0].name), "%s",
			 opt.mountpoint ? opt.mountpoint : opt.socket);
		n = 1;
	} else if (opt.mountpoint) {
		if (find_mount(opt.mountpoint, &t[0]) < 0)
			return 2;
		n = 1;
	} else {
		scan = true;
		if (find_all(t, ARRAY_SIZE(t), &n) < 0)
			return 2;
	}
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (opt.pause || opt.resume || opt.sync_now) {
		if (opt.pause)
			rc = act(t, n, scan, CTL_CMD_PAUSE, "uploads paused");
		if (opt.resume)
			rc = act(t, n, scan, CTL_CMD_RESUME, "uploads resumed");
		if (rc == 0 && opt.sync_now)
			rc = act(t, n, scan, CTL_CMD_SYNC_NOW, "syncing now");
		if (rc || (!opt.wait && !opt.watch && !opt.json))
			return rc;
	}
	if (opt.wait)
		return wait_all(t, n, scan);
	if (opt.watch)
		return watch(t, n, scan);
	return show(t, n, scan);
}
