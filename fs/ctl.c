/*
 * The control socket server (ctl.h): drivefs-status talks to the daemon
 * here. Protocol and socket location: common/ctl_proto.h; the reply's
 * schema: docs/STATUS.md (keep the two in step).
 *
 * One thread, "drivefs-ctl", serves connections one at a time: each is one
 * request line and one reply line, with 2 s send/receive timeouts, so a
 * stuck client delays others by at most that and can never block the
 * daemon. Requests are small JSON objects and untrusted: bounded at
 * CTL_REQ_MAX, type-checked, unknown commands refused. The peer must be
 * our own uid (SO_PEERCRED); the socket (0600) in a 0700 directory already
 * keeps others out, the check is the second lock.
 *
 * The status reply combines cache_status_get() (queue, transfers, cache,
 * conflicts, duplicates: one snapshot under the tree lock),
 * http_activity_get() (API calls per kind, rate limits, network state) and
 * log_recent_get() (the last warnings and errors). No lock of ours is held
 * while those run; the thread takes only theirs.
 *
 * The file reply (drivefs-status --file) is cache_file_info(): what the
 * user.drive.* xattrs show with --xattrs, and more. It may list a folder
 * that was never listed (one Drive request per folder on the path), so a
 * slow Drive can delay the next client by that much.
 */
#include "common/compat.h"

#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <jansson.h>

#include "cache/status.h"
#include "common/clock.h"
#include "common/ctl_proto.h"
#include "common/log.h"
#include "common/str.h"
#include "fs/ctl.h"

#define SUB "ctl"
#define CTL_IO_TIMEOUT_S 2
#define CTL_VERSION "0.1"

struct ctl {
	/* Immutable after ctl_start(). */
	char *mountpoint, *account, *root, *root_id, *cache_dir;
	int64_t poll_interval_ms, writeback_delay_ms, cache_size;
	struct cache *c; /* borrowed */
	struct http *h;	 /* borrowed */
	char path[CTL_PATH_MAX];
	dev_t sock_dev; /* the socket file we bound, to remove only ours */
	ino_t sock_ino;
	int lfd;	  /* listening socket */
	int stop_pipe[2]; /* ctl_stop() writes, the thread polls */
	pthread_t thread;
	bool started;
};

/* ---- JSON helpers ---- */

/* Length of the valid UTF-8 sequence at @s (of @n bytes), 0: invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len = s[0] < 0x80		    ? 1
		     : s[0] >= 0xc2 && s[0] <= 0xdf ? 2
		     : (s[0] & 0xf0) == 0xe0	    ? 3
		     : s[0] >= 0xf0 && s[0] <= 0xf4 ? 4
						    : 0;

	if (len == 0 || len > n)
		return 0;
	for (size_t k = 1; k < len; k++)
		if ((s[k] & 0xc0) != 0x80)
			return 0;
	if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] >= 0xa0) ||
	    (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] >= 0x90))
		return 0; /* overlong, surrogate, past U+10FFFF */
	return len;
}

/*
 * A JSON string of @s. Paths and log lines are UTF-8, but a log line cut
 * at its bound may end inside a character: invalid bytes become '?'.
 */
static json_t *jstr(const char *s)
{
	json_t *j = json_string(s ? s : "");
	char *copy;
	size_t i, n;

	if (j || !s)
		return j;
	n = strlen(s);
	copy = malloc(n + 1);
	if (!copy)
		return NULL;
	for (i = 0; i < n;) {
		size_t len = utf8_len((const unsigned char *)s + i, n - i);

		if (!len) {
			copy[i++] = '?';
			continue;
		}
		memcpy(copy + i, s + i, len);
		i += len;
	}
	copy[n] = '\0';
	j = json_string(copy);
	free(copy);
	return j;
}

/* Set @o[@k] = @v (stolen); remember a failure (OOM) in *@bad. */
static void put(json_t *o, const char *k, json_t *v, bool *bad)
{
	if (!v || json_object_set_new(o, k, v) < 0)
		*bad = true;
}

static void push(json_t *a, json_t *v, bool *bad)
{
	if (!v || json_array_append_new(a, v) < 0)
		*bad = true;
}

/* A wall-clock time in ms, or null for 0 ("never"). */
static json_t *jtime(int64_t wall_ms)
{
	return wall_ms > 0 ? json_integer(wall_ms) : json_null();
}

static json_t *jerrno(int neg_errno)
{
	return neg_errno ? jstr(strerror(-neg_errno)) : json_null();
}

/* ---- the status reply ---- */

static const char *state_of(const struct cache_status *st,
			    const struct http_activity *a)
{
	if (http_activity_offline(a))
		return CTL_STATE_OFFLINE;
	if (st->paused)
		return CTL_STATE_PAUSED;
	if (st->failing > 0)
		return CTL_STATE_ERROR;
	if (st->pending || st->n_uploads || st->n_downloads)
		return CTL_STATE_SYNCING;
	return CTL_STATE_IDLE;
}

static json_t *queue_json(const struct cache_status *st, bool *bad)
{
	json_t *q = json_object(), *items = json_array();

	if (!q || !items) {
		json_decref(q);
		json_decref(items);
		*bad = true;
		return NULL;
	}
	put(q, "files", json_integer((json_int_t)st->pending), bad);
	put(q, "bytes", json_integer(st->pending_bytes), bad);
	put(q, "failing", json_integer((json_int_t)st->failing), bad);
	put(q, "quarantined", json_integer((json_int_t)st->quarantined), bad);
	put(q, "in_flight", json_integer((json_int_t)st->in_flight), bad);
	put(q, "truncated", json_boolean(st->n_items < st->pending), bad);
	for (size_t i = 0; i < st->n_items; i++) {
		const struct cache_status_item *it = &st->items[i];
		json_t *o = json_object();

		if (!o) {
			*bad = true;
			break;
		}
		put(o, "path", jstr(it->path), bad);
		put(o, "size", json_integer(it->size), bad);
		put(o, "op", jstr(it->op), bad);
		put(o, "state", jstr(it->state), bad);
		put(o, "fails", json_integer(it->fails), bad);
		put(o, "error", jerrno(it->last_err), bad);
		put(o, "error_class",
		    it->err_class ? jstr(it->err_class) : json_null(), bad);
		put(o, "quarantined", json_boolean(it->quarantined), bad);
		put(o, "due_in_ms", json_integer(it->due_in_ms), bad);
		push(items, o, bad);
	}
	put(q, "items", items, bad);
	return q;
}

static json_t *uploads_json(const struct cache_status *st, bool *bad)
{
	json_t *a = json_array();
	int64_t now = clock_mono_ms();

	for (size_t i = 0; a && i < st->n_uploads; i++) {
		const struct cache_upload_progress *u = &st->uploads[i];
		int64_t el = MAX(now - u->start_ms, 1);
		double rate = (double)u->done * 1000.0 / (double)el;
		json_t *o = json_object();

		if (!o) {
			*bad = true;
			break;
		}
		put(o, "path", jstr(u->path), bad);
		put(o, "done", json_integer(u->done), bad);
		put(o, "total", json_integer(u->total), bad);
		put(o, "elapsed_ms", json_integer(el), bad);
		put(o, "rate_bps", json_integer((json_int_t)rate), bad);
		put(o, "eta_s",
		    rate >= 1
			? json_integer(
			      (json_int_t)((double)(u->total - u->done) / rate +
					   0.999))
			: json_null(),
		    bad);
		push(a, o, bad);
	}
	if (!a)
		*bad = true;
	return a;
}

static json_t *downloads_json(const struct cache_status *st, bool *bad)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < st->n_downloads; i++) {
		const struct cache_status_download *d = &st->downloads[i];
		json_t *o = json_object();

		if (!o) {
			*bad = true;
			break;
		}
		put(o, "path", jstr(d->path), bad);
		put(o, "fetching", json_integer(d->fetching), bad);
		put(o, "present", json_integer(d->present), bad);
		put(o, "size", json_integer(d->size), bad);
		push(a, o, bad);
	}
	if (!a)
		*bad = true;
	return a;
}

static json_t *cache_json(const struct cache_status *st, bool *bad)
{
	json_t *o = json_object();
	uint64_t total = st->hits + st->misses;

	if (!o) {
		*bad = true;
		return NULL;
	}
	put(o, "bytes", json_integer(st->cached_bytes), bad);
	put(o, "cap", json_integer(st->cache_max), bad);
	put(o, "hits", json_integer((json_int_t)st->hits), bad);
	put(o, "misses", json_integer((json_int_t)st->misses), bad);
	put(o, "hit_rate",
	    total ? json_real((double)st->hits / (double)total) : json_null(),
	    bad);
	return o;
}

static json_t *api_json(const struct http_activity *a, bool *bad)
{
	json_t *o = json_object(), *minute = json_object(),
	       *total = json_object();
	uint64_t sum_minute = 0, sum_total = 0;

	if (!o || !minute || !total) {
		json_decref(o);
		json_decref(minute);
		json_decref(total);
		*bad = true;
		return NULL;
	}
	for (int k = 0; k < HTTP_KIND_N; k++) {
		sum_minute += a->last_minute[k];
		sum_total += a->total[k];
		if (a->last_minute[k])
			put(minute, http_kind_name((enum http_kind)k),
			    json_integer((json_int_t)a->last_minute[k]), bad);
		if (a->total[k])
			put(total, http_kind_name((enum http_kind)k),
			    json_integer((json_int_t)a->total[k]), bad);
	}
	put(o, "calls_last_minute", json_integer((json_int_t)sum_minute), bad);
	put(o, "calls_total", json_integer((json_int_t)sum_total), bad);
	put(o, "last_minute", minute, bad);
	put(o, "total", total, bad);
	put(o, "rate_limited_last_minute",
	    json_integer((json_int_t)a->rate_limited_last_minute), bad);
	return o;
}

static json_t *network_json(const struct http_activity *a, bool *bad)
{
	json_t *o = json_object();

	if (!o) {
		*bad = true;
		return NULL;
	}
	put(o, "online", json_boolean(!http_activity_offline(a)), bad);
	put(o, "last_response_ms", jtime(a->last_response_wall_ms), bad);
	put(o, "last_unreachable_ms", jtime(a->last_unreachable_wall_ms), bad);
	put(o, "last_unreachable_error",
	    a->last_unreachable[0] ? jstr(a->last_unreachable) : json_null(),
	    bad);
	return o;
}

static json_t *conflicts_json(const struct cache_status *st, bool *bad)
{
	json_t *o = json_object(), *items = json_array();

	if (!o || !items) {
		json_decref(o);
		json_decref(items);
		*bad = true;
		return NULL;
	}
	put(o, "total", json_integer((json_int_t)st->conflicts_total), bad);
	/* Newest first: what a reader wants to see at the top. */
	for (size_t i = st->n_conflicts; i-- > 0;) {
		const struct cache_conflict *cf = &st->conflicts[i];
		json_t *e = json_object();

		if (!e) {
			*bad = true;
			break;
		}
		put(e, "path", jstr(cf->path), bad);
		put(e, "copy", cf->copy[0] ? jstr(cf->copy) : json_null(), bad);
		put(e, "kind", jstr(cf->kind), bad);
		put(e, "when_ms", jtime(cf->wall_ms), bad);
		push(items, e, bad);
	}
	put(o, "items", items, bad);
	return o;
}

static json_t *dups_json(const struct cache_status *st, bool *bad)
{
	json_t *o = json_object(), *items = json_array();

	if (!o || !items) {
		json_decref(o);
		json_decref(items);
		*bad = true;
		return NULL;
	}
	put(o, "total", json_integer((json_int_t)st->dups_total), bad);
	for (size_t i = 0; i < st->n_dups; i++) {
		json_t *e = json_object();

		if (!e) {
			*bad = true;
			break;
		}
		put(e, "path", jstr(st->dups[i].path), bad);
		put(e, "name", jstr(st->dups[i].name), bad);
		put(e, "id", jstr(st->dups[i].id), bad);
		push(items, e, bad);
	}
	put(o, "items", items, bad);
	return o;
}

static json_t *errors_json(bool *bad)
{
	struct log_recent r[LOG_RECENT_MAX];
	size_t n = log_recent_get(r, ARRAY_SIZE(r));
	json_t *a = json_array();

	/* Newest first. */
	for (size_t i = n; a && i-- > 0;) {
		json_t *e = json_object();

		if (!e) {
			*bad = true;
			break;
		}
		put(e, "when_ms", json_integer(r[i].wall_ms), bad);
		put(e, "level", jstr(log_level_name(r[i].lvl)), bad);
		put(e, "subsys", jstr(r[i].subsys), bad);
		put(e, "message", jstr(r[i].msg), bad);
		push(a, e, bad);
	}
	if (!a)
		*bad = true;
	return a;
}

/* The status object (docs/STATUS.md); -ENOMEM on failure. */
static int status_json(struct ctl *ctl, json_t *o)
{
	struct cache_status st;
	struct http_activity a;
	json_t *poll;
	bool bad = false;
	int rc;

	rc = cache_status_get(ctl->c, &st);
	if (rc < 0)
		return rc;
	http_activity_get(ctl->h, &a);
	put(o, "version", jstr(CTL_VERSION), &bad);
	put(o, "pid", json_integer((json_int_t)getpid()), &bad);
	put(o, "now_ms", json_integer(clock_wall_ms()), &bad);
	put(o, "mountpoint", jstr(ctl->mountpoint), &bad);
	put(o, "account", jstr(ctl->account), &bad);
	put(o, "root", jstr(ctl->root), &bad);
	put(o, "root_id", jstr(ctl->root_id), &bad);
	put(o, "cache_dir", jstr(ctl->cache_dir), &bad);
	put(o, "state", jstr(state_of(&st, &a)), &bad);
	put(o, "paused", json_boolean(st.paused), &bad);
	put(o, "writeback_delay_ms", json_integer(ctl->writeback_delay_ms),
	    &bad);
	put(o, "queue", queue_json(&st, &bad), &bad);
	put(o, "uploads", uploads_json(&st, &bad), &bad);
	put(o, "downloads", downloads_json(&st, &bad), &bad);
	put(o, "cache", cache_json(&st, &bad), &bad);
	put(o, "api", api_json(&a, &bad), &bad);
	put(o, "network", network_json(&a, &bad), &bad);
	poll = json_object();
	if (poll) {
		put(poll, "interval_ms", json_integer(ctl->poll_interval_ms),
		    &bad);
		put(poll, "last_ok_ms", jtime(st.last_poll_wall_ms), &bad);
	}
	put(o, "poll", poll, &bad);
	put(o, "conflicts", conflicts_json(&st, &bad), &bad);
	put(o, "duplicates", dups_json(&st, &bad), &bad);
	put(o, "errors", errors_json(&bad), &bad);
	cache_status_release(&st);
	return bad ? -ENOMEM : 0;
}

/* ---- one file (drivefs-status --file) ---- */

/*
 * The "file" object of @rel (relative to the mount root) into @rep, or an
 * error message in *@err. May block while Drive lists a folder on the way.
 */
static void file_json(struct ctl *ctl, const char *rel, json_t *rep,
		      const char **err, bool *bad)
{
	struct cache_file_info fi;
	json_t *o;
	int rc = cache_file_info(ctl->c, rel, &fi);

	if (rc < 0) {
		*err = rc == -ENOENT	? "no such file or directory"
		       : rc == -ENOTDIR ? "not a directory"
		       : rc == -EINVAL	? "bad path"
					: strerror(-rc);
		return;
	}
	o = json_object();
	if (!o) {
		*bad = true;
		return;
	}
	put(o, "path", jstr(fi.path), bad);
	put(o, "kind", jstr(fi.kind), bad);
	put(o, "id", fi.id[0] ? jstr(fi.id) : json_null(), bad);
	put(o, "in_drive", json_boolean(fi.in_drive), bad);
	put(o, "md5", fi.md5[0] ? jstr(fi.md5) : json_null(), bad);
	put(o, "version",
	    fi.version >= 0 ? json_integer(fi.version) : json_null(), bad);
	put(o, "size", json_integer(fi.size), bad);
	put(o, "drive_size",
	    fi.drive_size >= 0 ? json_integer(fi.drive_size) : json_null(),
	    bad);
	put(o, "cached", json_integer(fi.cached), bad);
	put(o, "mtime_ms", json_integer(fi.mtime_ms), bad);
	put(o, "sync", jstr(fi.sync), bad);
	put(o, "state", jstr(fi.state), bad);
	put(o, "op", fi.pending ? jstr(fi.work.op) : json_null(), bad);
	put(o, "fails", json_integer(fi.work.fails), bad);
	put(o, "error", jerrno(fi.work.last_err), bad);
	put(o, "error_class",
	    fi.work.err_class ? jstr(fi.work.err_class) : json_null(), bad);
	put(o, "due_in_ms", json_integer(fi.work.due_in_ms), bad);
	put(o, "mount_pending", json_integer((json_int_t)fi.mount_pending),
	    bad);
	put(rep, "file", o, bad);
}

/* ---- requests ---- */

/* The reply to one request line (NUL-terminated), as a new object. */
static json_t *handle(struct ctl *ctl, const char *line)
{
	json_error_t jerr;
	json_t *req = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
	json_t *rep = json_object();
	const char *cmd = NULL, *err = NULL;
	bool bad = false;
	int rc;

	if (!rep) {
		json_decref(req);
		return NULL;
	}
	put(rep, "proto", json_integer(CTL_PROTO_VERSION), &bad);
	if (!json_is_object(req) ||
	    !json_is_string(json_object_get(req, "cmd"))) {
		err = "bad request: expected {\"cmd\": \"...\"}";
		goto out;
	}
	cmd = json_string_value(json_object_get(req, "cmd"));
	if (!strcmp(cmd, CTL_CMD_STATUS)) {
		rc = status_json(ctl, rep);
		if (rc < 0)
			err = "out of memory";
	} else if (!strcmp(cmd, CTL_CMD_PAUSE) ||
		   !strcmp(cmd, CTL_CMD_RESUME)) {
		bool p = !strcmp(cmd, CTL_CMD_PAUSE);

		cache_pause(ctl->c, p);
		put(rep, "paused", json_boolean(p), &bad);
	} else if (!strcmp(cmd, CTL_CMD_FILE)) {
		json_t *path = json_object_get(req, "path");

		if (!json_is_string(path))
			err = "bad request: \"file\" needs a \"path\" string";
		else
			file_json(ctl, json_string_value(path), rep, &err,
				  &bad);
	} else if (!strcmp(cmd, CTL_CMD_SYNC_NOW)) {
		log_info(SUB, "sync now: polling and pushing everything "
			      "pending");
		cache_sync_now(ctl->c);
	} else {
		err = "unknown command";
	}
out:
	put(rep, "ok", json_boolean(!err && !bad), &bad);
	if (err || bad)
		put(rep, "error", jstr(err ? err : "out of memory"), &bad);
	json_decref(req);
	return rep;
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -errno;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Send @rep (stolen) as one line. */
static void reply(int fd, json_t *rep)
{
	char *s = rep ? json_dumps(rep, JSON_COMPACT) : NULL;
	static const char oom[] =
	    "{\"ok\":false,\"proto\":1,\"error\":\"out of memory\"}\n";

	json_decref(rep);
	if (!s) {
		write_all(fd, oom, sizeof(oom) - 1);
		return;
	}
	if (write_all(fd, s, strlen(s)) == 0)
		write_all(fd, "\n", 1);
	free(s);
}

/* Read one line (without '\n') into @buf; -E2BIG past @size - 1. */
static int read_line(int fd, char *buf, size_t size)
{
	size_t n = 0;

	for (;;) {
		ssize_t r = recv(fd, buf + n, size - 1 - n, 0);
		char *nl;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break; /* EOF ends the request too */
		nl = memchr(buf + n, '\n', (size_t)r);
		n += (size_t)r;
		if (nl) {
			n = (size_t)(nl - buf);
			break;
		}
		if (n >= size - 1)
			return -E2BIG;
	}
	buf[n] = '\0';
	return 0;
}

static void serve(struct ctl *ctl, int fd)
{
	struct timeval tv = {.tv_sec = CTL_IO_TIMEOUT_S};
	struct ucred cred;
	socklen_t len = sizeof(cred);
	char line[CTL_REQ_MAX + 1];
	json_t *rep;
	int rc;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 ||
	    len != sizeof(cred)) {
		log_warn(SUB, "control connection without peer credentials: "
			      "refused");
		return;
	}
	if (cred.uid != geteuid()) {
		log_warn(SUB,
			 "control connection from uid %u (pid %d) refused: "
			 "only uid %u may control this mount",
			 (unsigned)cred.uid, (int)cred.pid,
			 (unsigned)geteuid());
		/* Take the request off the socket first (bounded, and never
		 * parsed): closing on unread data would reset the connection
		 * before the peer reads why. */
		read_line(fd, line, sizeof(line));
		rep = json_pack("{s:b, s:i, s:s}", "ok", 0, "proto",
				CTL_PROTO_VERSION, "error",
				"permission denied: not the mount's owner");
		reply(fd, rep);
		return;
	}
	rc = read_line(fd, line, sizeof(line));
	if (rc < 0) {
		log_debug(SUB, "control request unreadable: %s", strerror(-rc));
		rep = json_pack("{s:b, s:i, s:s}", "ok", 0, "proto",
				CTL_PROTO_VERSION, "error",
				rc == -E2BIG ? "request too long"
					     : "request unreadable");
		reply(fd, rep);
		return;
	}
	reply(fd, handle(ctl, line));
}

static void *ctl_main(void *arg)
{
	struct ctl *ctl = arg;

	pthread_setname_np(pthread_self(), "drivefs-ctl");
	for (;;) {
		struct pollfd p[2] = {
		    {.fd = ctl->lfd, .events = POLLIN},
		    {.fd = ctl->stop_pipe[0], .events = POLLIN}};
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			log_err(SUB, "poll on the control socket failed: %s",
				strerror(errno));
			break;
		}
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		fd = accept4(ctl->lfd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EINTR && errno != EAGAIN &&
			    errno != ECONNABORTED)
				log_warn(SUB, "accept failed: %s",
					 strerror(errno));
			continue;
		}
		serve(ctl, fd);
		close(fd);
	}
	return NULL;
}

/* ---- set-up ---- */

/* Is a daemon answering on @path? */
static bool socket_alive(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool alive;

	if (fd < 0)
		return false;
	str_copy(sa.sun_path, sizeof(sa.sun_path), path);
	alive = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return alive;
}

static int bind_socket(struct ctl *ctl)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;
	int fd;

	if (lstat(ctl->path, &st) == 0) {
		if (socket_alive(ctl->path)) {
			log_warn(SUB,
				 "another drivefs serves '%s' already (%s): "
				 "no control socket for this one",
				 ctl->mountpoint, ctl->path);
			return -EADDRINUSE;
		}
		unlink(ctl->path); /* left by a daemon that died */
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	str_copy(sa.sun_path, sizeof(sa.sun_path), ctl->path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(ctl->path, 0600) < 0 || listen(fd, 16) < 0 ||
	    lstat(ctl->path, &st) < 0) {
		int rc = -errno;

		close(fd);
		return rc;
	}
	ctl->sock_dev = st.st_dev;
	ctl->sock_ino = st.st_ino;
	ctl->lfd = fd;
	return 0;
}

static void ctl_free(struct ctl *ctl)
{
	struct stat st;

	if (ctl->lfd >= 0) {
		close(ctl->lfd);
		if (lstat(ctl->path, &st) == 0 && st.st_dev == ctl->sock_dev &&
		    st.st_ino == ctl->sock_ino)
			unlink(ctl->path);
	}
	if (ctl->stop_pipe[0] >= 0)
		close(ctl->stop_pipe[0]);
	if (ctl->stop_pipe[1] >= 0)
		close(ctl->stop_pipe[1]);
	free(ctl->mountpoint);
	free(ctl->account);
	free(ctl->root);
	free(ctl->root_id);
	free(ctl->cache_dir);
	free(ctl);
}

int ctl_start(const struct ctl_info *info, struct cache *c, struct http *h,
	      struct ctl **out)
{
	char dir[CTL_PATH_MAX], why[160];
	struct ctl *ctl;
	int rc;

	*out = NULL;
	ctl = calloc(1, sizeof(*ctl));
	if (!ctl)
		return -ENOMEM;
	ctl->lfd = ctl->stop_pipe[0] = ctl->stop_pipe[1] = -1;
	ctl->c = c;
	ctl->h = h;
	ctl->poll_interval_ms = info->poll_interval_ms;
	ctl->writeback_delay_ms = info->writeback_delay_ms;
	ctl->cache_size = info->cache_size;
	ctl->mountpoint = str_dup_or_null(info->mountpoint);
	ctl->account = str_dup_or_null(info->account ? info->account : "");
	ctl->root = str_dup_or_null(info->root ? info->root : "");
	ctl->root_id = str_dup_or_null(info->root_id ? info->root_id : "");
	ctl->cache_dir =
	    str_dup_or_null(info->cache_dir ? info->cache_dir : "");
	rc = -ENOMEM;
	if (!ctl->mountpoint || !ctl->account || !ctl->root || !ctl->root_id ||
	    !ctl->cache_dir)
		goto fail;
	rc = ctl_runtime_dir(geteuid(), dir, sizeof(dir));
	if (rc == 0)
		rc = ctl_socket_path(dir, ctl->mountpoint, ctl->path,
				     sizeof(ctl->path));
	if (rc < 0) {
		log_warn(SUB, "control socket path too long under '%s'", dir);
		goto fail;
	}
	rc = ctl_dir_check(dir, geteuid(), true, why, sizeof(why));
	if (rc < 0) {
		log_warn(SUB,
			 "runtime directory '%s' refused (%s): no "
			 "control socket",
			 dir, why);
		goto fail;
	}
	rc = bind_socket(ctl);
	if (rc < 0) {
		if (rc != -EADDRINUSE)
			log_warn(SUB, "control socket '%s': %s", ctl->path,
				 strerror(-rc));
		goto fail;
	}
	if (pipe2(ctl->stop_pipe, O_CLOEXEC) < 0) {
		rc = -errno;
		goto fail;
	}
	rc = -pthread_create(&ctl->thread, NULL, ctl_main, ctl);
	if (rc < 0) {
		log_warn(SUB, "control thread: %s", strerror(-rc));
		goto fail;
	}
	ctl->started = true;
	log_info(SUB, "control socket '%s'", ctl->path);
	*out = ctl;
	return 0;
fail:
	ctl_free(ctl);
	return rc;
}

void ctl_stop(struct ctl *ctl)
{
	if (!ctl)
		return;
	if (ctl->started) {
		ssize_t w = write(ctl->stop_pipe[1], "x", 1);

		(void)w;
		pthread_join(ctl->thread, NULL);
	}
	ctl_free(ctl);
}
