/*
 * drivefs: the daemon's entry point. `drivefs mount [options] MOUNTPOINT`
 * checks everything it can before mounting (options, credentials, that
 * Drive answers, the --root folder, the cache directory), mounts, and
 * unless -f detaches; on unmount or SIGTERM/SIGINT it uploads what is
 * pending and exits 0.
 *
 * THREADS, and what each may block on:
 *   main            setup (network: token, about.get, --root lookup), then
 *                   waits in fuse_session_loop_mt(), then in cache_drain()
 *                   until the upload queue is empty.
 *   FUSE workers    (libfuse, up to max_threads) one request each: the tree
 *                   lock briefly; cache-file I/O; Drive for the first
 *                   listing of a folder and the first read of bytes;
 *                   cache_fsync() until Drive holds the file (--fsync
 *                   remote).
 *   drivefs-http    drive/http.c: the one libcurl multi handle; blocks in
 *                   poll() only. Everyone else's requests wait on it.
 *   drivefs-sync-N  cache/sync.c uploaders (8): the tree lock, Drive
 *                   requests, reading cache files to hash and send them.
 *   drivefs-stream  cache/stream.c: the streamed upload of a file still
 *                   being written (at most one): the tree lock, Drive
 *                   requests, reading its cache file.
 *   drivefs-fetch-N cache/fetch.c readahead (4): Drive downloads, cache-file
 *                   writes, the tree lock.
 *   drivefs-ids     cache/idpool.c: files.generateIds refills.
 *   drivefs-poll    cache/poll.c: changes.list every --poll-interval, the
 *                   tree lock per change, then kernel invalidations
 *                   (fuse_lowlevel_notify_inval_*) with no lock held. After
 *                   a warm start it first catches up from the snapshot's
 *                   token (with --poll-interval 0 only that, then ends).
 *   drivefs-journal cache/journal.c: flushes journal records every second
 *                   (disk) and writes the metadata snapshot now and then
 *                   (cache/snapshot.c: the tree lock to copy, then disk).
 *   drivefs-signal  only while draining: a second SIGTERM/SIGINT aborts it.
 *   drivefs-ctl     fs/ctl.c: the control socket, one request at a time
 *                   (2 s I/O timeouts); the tree lock briefly for a status
 *                   snapshot. Runs until teardown, so drivefs-status also
 *                   sees the drain after an unmount.
 * Token refreshes (oauth/token.c) run on whichever thread needs a token.
 * SIGTERM/SIGINT/SIGHUP are blocked in our own threads (they inherit the
 * mask main has while creating them), so they reach main or a FUSE worker:
 * before the mount they end the process, after it libfuse's handlers end
 * the session loop, while draining drivefs-signal takes them.
 *
 * Daemon mode forks before any thread exists; the parent waits on a pipe
 * until the child has mounted (exit 0) or failed (exit 1, the child has
 * printed why on the inherited stderr). The child then logs to syslog.
 */
#include "common/compat.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache.h"
#include "common/log.h"
#include "common/str.h"
#include "drive/drive.h"
#include "drive/http.h"
#include "fs/ctl.h"
#include "fs/fs.h"
#include "fs/auth.h"
#include "fs/options.h"
#include "oauth/cred.h"
#include "oauth/token.h"

#define SUB "mount"
#define ENTRY_TIMEOUT_S 1.0
#define ATTR_TIMEOUT_S 1.0

static void usage_top(FILE *out)
{
	fputs("usage: drivefs mount [options] MOUNTPOINT\n"
	      "       drivefs auth login|status|logout [options]\n"
	      "       drivefs --help | drivefs mount --help | drivefs auth "
	      "--help\n"
	      "\n"
	      "drivefs mounts a Google Drive folder through the Drive v3 API,\n"
	      "with a local write-back cache: edits land in the cache at disk\n"
	      "speed and reach the same Drive file shortly after the last "
	      "close.\n"
	      "\n",
	      out);
	fs_opts_usage(out);
}

/* Everything the daemon owns, torn down in reverse order by teardown(). */
struct daemon {
	struct fs_opts opts;
	struct http *http;
	struct oauth_token *token;
	struct drive_auth auth;
	struct drive *drive;
	struct cache *cache;
	struct fs fs;
	struct fuse_session *se;
	struct ctl *ctl; /* control socket; NULL if it could not be made */
	bool mounted;
	int ready_fd; /* daemon mode: pipe to the parent */
	char mountpoint[PATH_MAX];
	char cache_base[PATH_MAX]; /* --cache-dir or its default */
	char cache_dir[PATH_MAX];  /* cache_base/<root id> */
	char account[65];	   /* cred_identity(): the snapshot's owner */
	bool warm;		   /* started from a metadata snapshot */
};

/* Fork; the parent exits with the child's verdict. Returns in the child. */
static int daemonize_begin(struct daemon *dm)
{
	int p[2];
	pid_t pid;
	char c;

	if (pipe(p) < 0)
		return -errno;
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(p[1]);
		if (read(p[0], &c, 1) == 1 && c == '0')
			_exit(0);
		_exit(1);
	}
	close(p[0]);
	dm->ready_fd = p[1];
	return 0;
}

/* In the child, once mounted: tell the parent, detach from the terminal. */
static void daemonize_end(struct daemon *dm)
{
	int fd;

	if (dm->ready_fd < 0)
		return;
	setsid();
	if (chdir("/") < 0)
		log_warn(SUB, "chdir / failed: %s", strerror(errno));
	fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		dup2(fd, STDOUT_FILENO);
		dup2(fd, STDERR_FILENO);
		close(fd);
	}
	if (dm->opts.log_to_file) {
		char path[PATH_MAX + 16];
		int rc;

		snprintf(path, sizeof(path), "%s/drivefs.log", dm->cache_dir);
		rc = log_open_file(path);
		if (rc < 0) {
			log_init(dm->opts.log_spec, LOG_SINK_SYSLOG);
			log_warn(SUB, "log file '%s': %s; logging to syslog",
				 path, strerror(-rc));
		} else {
			log_info(SUB, "detached (pid %d) serving '%s'",
				 (int)getpid(), dm->mountpoint);
		}
	} else {
		log_init(dm->opts.log_spec, LOG_SINK_SYSLOG);
	}
	if (write(dm->ready_fd, "0", 1) != 1)
		log_warn(SUB, "telling the parent we are ready failed");
	close(dm->ready_fd);
	dm->ready_fd = -1;
}

/* Block or unblock the signals that end the daemon, in this thread. */
static void block_signals(int how)
{
	sigset_t s;

	sigemptyset(&s);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGHUP);
	pthread_sigmask(how, &s, NULL);
}

/* Retries of the requests that check Drive before mounting: fail fast. */
#define STARTUP_RETRIES 2

/*
 * Build the client stack (HTTP transport, token source, Drive client) from
 * the credential file @path, with @max_retries per request (-1: default).
 */
static int open_drive(struct daemon *dm, const char *path, int max_retries)
{
	struct oauth_token_opts to = {.token_url = dm->opts.token_url};
	struct drive_opts dopt = {.api_url = dm->opts.api_url};
	struct http_opts ho;
	struct cred cred;
	char why[256];
	int rc;

	http_opts_init(&ho);
	ho.qps = dm->opts.qps;
	ho.burst = MAX(20, (int)dm->opts.qps * 2);
	if (max_retries >= 0)
		ho.max_retries = max_retries;
	block_signals(SIG_BLOCK); /* the I/O thread inherits the mask */
	rc = http_new(&ho, &dm->http);
	block_signals(SIG_UNBLOCK);
	if (rc < 0) {
		fprintf(stderr, "drivefs: starting HTTP failed: %s\n",
			strerror(-rc));
		return rc;
	}
	cred_init(&cred);
	rc = cred_load(path, &cred, why, sizeof(why));
	if (rc == 0 && dm->opts.subject) /* domain-wide delegation */
		rc =
		    cred_set_subject(&cred, dm->opts.subject, why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "drivefs: credentials '%s': %s\n", path,
			why[0] ? why : strerror(-rc));
		cred_release(&cred);
		return rc;
	}
	if (rc == 0)
		rc = cred_identity(&cred,
				   dm->opts.api_url ? dm->opts.api_url : "",
				   dm->account, sizeof(dm->account));
	if (rc < 0) {
		fprintf(stderr, "drivefs: credentials '%s': %s\n", path,
			strerror(-rc));
		cred_release(&cred);
		return rc;
	}
	rc = oauth_token_new(&cred, &to, dm->http, &dm->token);
	cred_release(&cred);
	if (rc < 0) {
		fprintf(stderr, "drivefs: credentials '%s': %s\n", path,
			strerror(-rc));
		return rc;
	}
	oauth_token_auth(dm->token, &dm->auth);
	rc = drive_new(&dopt, dm->http, &dm->auth, &dm->drive);
	if (rc < 0)
		fprintf(stderr, "drivefs: Drive client: %s\n", strerror(-rc));
	return rc;
}

static void close_drive(struct daemon *dm)
{
	if (dm->http)
		http_cancel_all(dm->http);
	drive_free(dm->drive);
	oauth_token_free(dm->token);
	http_free(dm->http);
	dm->drive = NULL;
	dm->token = NULL;
	dm->http = NULL;
}

/* --cache-dir, else $XDG_CACHE_HOME/drivefs or ~/.cache/drivefs, made
 * absolute (daemon mode changes to /). */
static int cache_base(struct daemon *dm)
{
	const char *base = dm->opts.cache_dir;
	const char *xdg = getenv("XDG_CACHE_HOME");
	const char *home = getenv("HOME");
	char dflt[PATH_MAX], cwd[PATH_MAX];
	int n;

	if (!base) {
		if (xdg && *xdg)
			snprintf(dflt, sizeof(dflt), "%s/drivefs", xdg);
		else
			snprintf(dflt, sizeof(dflt), "%s/.cache/drivefs",
				 home && *home ? home : "/tmp");
		base = dflt;
	}
	if (base[0] == '/') {
		n = snprintf(dm->cache_base, sizeof(dm->cache_base), "%s",
			     base);
	} else {
		if (!getcwd(cwd, sizeof(cwd)))
			return -errno;
		n = snprintf(dm->cache_base, sizeof(dm->cache_base), "%s/%s",
			     cwd, base);
	}
	return n >= (int)sizeof(dm->cache_base) ? -ENAMETOOLONG : 0;
}

static int start_cache(struct daemon *dm, const char *root_id);

/* The key of this account and --root in the root index (fs/root.c). */
static int root_key(struct daemon *dm, char key[65])
{
	char s[sizeof(dm->account) + PATH_MAX + 2];

	snprintf(s, sizeof(s), "%s\n%s", dm->account, dm->opts.root);
	return cred_sha256_hex(s, key, 65);
}

/*
 * A warm start: --root resolved before (root index) and the cache holds a
 * metadata snapshot of it. The mount then asks Drive for nothing before it
 * serves but an access token (which checks the credentials); the poller
 * catches up in the background. Returns 1 when warm, 0 when a cold start
 * is needed (dm->cache may be set), or -errno.
 */
static int try_warm(struct daemon *dm, char root_id[DRIVE_ID_MAX + 1])
{
	char key[65], tok[4096], why[256];
	struct drive_err err;
	int rc;

	if (root_key(dm, key) < 0 ||
	    fs_root_index_get(dm->cache_base, key, root_id) < 0)
		return 0;
	rc = start_cache(dm, root_id);
	if (rc < 0)
		return rc;
	if (!cache_snapshot_loaded(dm->cache))
		return 0;
	drive_err_init(&err);
	rc = oauth_token_get(dm->token, false, tok, sizeof(tok), &err);
	explicit_bzero(tok, sizeof(tok));
	if (rc < 0) {
		fprintf(stderr,
			"drivefs: Drive at %s does not accept these "
			"credentials: %s\n",
			dm->opts.api_url,
			err.http_status || err.curl_code || err.reason[0]
			    ? drive_err_str(&err, why, sizeof(why))
			    : strerror(-rc));
		return rc;
	}
	return 1;
}

/*
 * Check that the credentials work, Drive answers and --root exists, with
 * few retries so a mistake is reported in seconds (from a snapshot: only
 * the credentials, try_warm()); then run with the normal retries.
 */
static int connect_drive(struct daemon *dm, struct drive_about *about,
			 char root_id[DRIVE_ID_MAX + 1])
{
	char path[PATH_MAX], why[256], key[65];
	struct drive_err err;
	struct http_opts ho;
	int rc;

	memset(about, 0, sizeof(*about));
	if (dm->opts.credentials) {
		str_copy(path, sizeof(path), dm->opts.credentials);
	} else if (cred_find(path, sizeof(path)) < 0) {
		fprintf(stderr,
			"drivefs: no credentials: run drivefs auth login, "
			"pass --credentials FILE or set "
			"GOOGLE_APPLICATION_CREDENTIALS (drivefs auth status "
			"shows where drivefs looks)\n");
		return -ENOENT;
	}
	rc = cache_base(dm);
	if (rc < 0) {
		fprintf(stderr, "drivefs: cache directory: %s\n",
			strerror(-rc));
		return rc;
	}
	rc = open_drive(dm, path, STARTUP_RETRIES);
	if (rc < 0)
		return rc;
	rc = try_warm(dm, root_id);
	if (rc < 0)
		return rc;
	dm->warm = rc == 1;
	if (dm->warm) {
		snprintf(about->email, sizeof(about->email), "%s",
			 cache_account_email(dm->cache));
		log_info(SUB,
			 "connected to Drive as %s (metadata from the "
			 "snapshot)",
			 about->email);
		goto out;
	}
	drive_err_init(&err);
	rc = drive_about_get(dm->drive, about, &err);
	if (rc < 0) {
		fprintf(stderr,
			"drivefs: Drive at %s does not answer with these "
			"credentials (%s): %s\n",
			dm->opts.api_url, path,
			err.http_status || err.curl_code || err.reason[0]
			    ? drive_err_str(&err, why, sizeof(why))
			    : strerror(-rc));
		return rc;
	}
	rc = fs_root_resolve(dm->drive, dm->opts.root, about->root_id, root_id,
			     why, sizeof(why));
	if (rc < 0) {
		fprintf(stderr, "drivefs: --root '%s': %s\n", dm->opts.root,
			why[0] ? why : strerror(-rc));
		return rc;
	}
	if (root_key(dm, key) == 0 &&
	    fs_root_index_put(dm->cache_base, key, root_id) < 0)
		log_debug(SUB, "remembering the --root id failed");
	if (dm->cache && strcmp(cache_root_id(dm->cache), root_id)) {
		cache_free(dm->cache); /* --root moved: another directory */
		dm->cache = NULL;
	}
	if (!dm->cache) {
		rc = start_cache(dm, root_id);
		if (rc < 0)
			return rc;
	}
	cache_set_about(dm->cache, about);
	log_info(SUB, "connected to Drive as %s", about->email);
out:
	http_opts_init(&ho);
	http_set_max_retries(dm->http, ho.max_retries);
	return 0;
}

static int start_cache(struct daemon *dm, const char *root_id)
{
	const char *lo[FS_OPTS_MAX_LOCAL_ONLY + 16];
	struct cache_opts co;
	int rc;

	if (snprintf(dm->cache_dir, sizeof(dm->cache_dir), "%s/%s",
		     dm->cache_base, root_id) >= (int)sizeof(dm->cache_dir)) {
		fprintf(stderr, "drivefs: cache directory: %s\n",
			strerror(ENAMETOOLONG));
		return -ENAMETOOLONG;
	}
	cache_opts_init(&co);
	co.dir = dm->cache_dir;
	co.size_max = dm->opts.cache_size;
	co.writeback_delay_ms = dm->opts.writeback_delay_ms;
	co.drain_timeout_ms = dm->opts.drain_timeout_ms;
	co.fsync_remote = dm->opts.fsync_mode == FS_FSYNC_REMOTE;
	co.journal_sync = dm->opts.journal_sync;
	co.local_only = lo;
	co.n_local_only = fs_opts_local_only(&dm->opts, lo, ARRAY_SIZE(lo));
	co.naming = &fs_naming;
	co.conflict = dm->opts.conflict == FS_CONFLICT_LOCAL_WINS
			  ? CACHE_CONFLICT_LOCAL_WINS
		      : dm->opts.conflict == FS_CONFLICT_REMOTE_WINS
			  ? CACHE_CONFLICT_REMOTE_WINS
			  : CACHE_CONFLICT_KEEP_BOTH;
	co.host = getenv("DRIVEFS_HOSTNAME"); /* tests: two "machines" */
	co.account = dm->account;
	/* Tests: periodic snapshot writes sooner than every 5 minutes. */
	if (getenv("DRIVEFS_SNAPSHOT_PERIOD_MS"))
		co.snapshot_period_ms =
		    strtoll(getenv("DRIVEFS_SNAPSHOT_PERIOD_MS"), NULL, 10);
	rc = cache_new(&co, dm->drive, root_id, &dm->cache);
	if (rc < 0) {
		fprintf(stderr, "drivefs: cache directory '%s': %s\n",
			dm->cache_dir,
			rc == -EBUSY ? "in use by another drivefs mount"
				     : strerror(-rc));
		return rc;
	}
	return 0;
}

/* The poller's kernel invalidations (cache_notify); ctx is the session. */
static void notify_entry(void *ctx, uint64_t parent, const char *name)
{
	int rc =
	    fuse_lowlevel_notify_inval_entry(ctx, parent, name, strlen(name));

	if (rc < 0 && rc != -ENOENT)
		log_debug(SUB, "invalidating entry '%s' failed: %s", name,
			  strerror(-rc));
}

static void notify_inode(void *ctx, uint64_t ino)
{
	int rc = fuse_lowlevel_notify_inval_inode(ctx, ino, 0, 0);

	if (rc < 0 && rc != -ENOENT)
		log_debug(SUB, "invalidating inode %" PRIu64 " failed: %s", ino,
			  strerror(-rc));
}

/* The control socket for drivefs-status; a failure is logged and the
 * mount goes on without it. */
static void start_ctl(struct daemon *dm, const char *root_id,
		      const struct drive_about *about)
{
	struct ctl_info ci = {
	    .mountpoint = dm->mountpoint,
	    .account = about->email,
	    .root = dm->opts.root,
	    .root_id = root_id,
	    .cache_dir = dm->cache_dir,
	    .poll_interval_ms = dm->opts.poll_interval_ms,
	    .writeback_delay_ms = dm->opts.writeback_delay_ms,
	    .cache_size = dm->opts.cache_size,
	};

	if (ctl_start(&ci, dm->cache, dm->http, &dm->ctl) < 0)
		dm->ctl = NULL;
}

static int mount_fuse(struct daemon *dm)
{
	char *argv[5];
	int argc = 0, rc;
	struct fuse_args args;
	char base[] = "fsname=drivefs,subtype=drivefs,default_permissions";

	argv[argc++] = (char *)"drivefs";
	argv[argc++] = (char *)"-o";
	argv[argc++] = base;
	if (dm->opts.fuse_opts) {
		argv[argc++] = (char *)"-o";
		argv[argc++] = (char *)dm->opts.fuse_opts;
	}
	args = (struct fuse_args)FUSE_ARGS_INIT(argc, argv);
	dm->fs.cache = dm->cache;
	dm->fs.entry_timeout_s = ENTRY_TIMEOUT_S;
	dm->fs.attr_timeout_s = ATTR_TIMEOUT_S;
	dm->fs.xattrs = dm->opts.xattrs;
	dm->se = fuse_session_new(&args, &fs_ops, sizeof(fs_ops), &dm->fs);
	dm->fs.se = dm->se;
	fuse_opt_free_args(&args);
	if (!dm->se) {
		fprintf(stderr, "drivefs: bad FUSE options '%s'\n",
			dm->opts.fuse_opts ? dm->opts.fuse_opts : "");
		return -EINVAL;
	}
	/* From now on a signal ends the session loop (at once if it comes
	 * before the loop runs), so a mount is never left behind. */
	if (fuse_set_signal_handlers(dm->se) != 0)
		return -EIO;
	rc = fuse_session_mount(dm->se, dm->mountpoint);
	if (rc != 0) {
		fprintf(stderr, "drivefs: mounting on '%s' failed\n",
			dm->mountpoint);
		return -EIO;
	}
	dm->mounted = true;
	return 0;
}

static volatile int drain_done;

/* While draining: a second SIGTERM/SIGINT gives up on the queue. */
static void *signal_main(void *arg)
{
	struct cache *c = arg;
	sigset_t s;
	int sig;

	pthread_setname_np(pthread_self(), "drivefs-signal");
	sigemptyset(&s);
	sigaddset(&s, SIGTERM);
	sigaddset(&s, SIGINT);
	sigaddset(&s, SIGHUP);
	while (sigwait(&s, &sig) == 0) {
		if (__atomic_load_n(&drain_done, __ATOMIC_ACQUIRE))
			break;
		log_warn(SUB,
			 "signal %d while uploading: giving up on the "
			 "pending changes",
			 sig);
		cache_drain_abort(c);
	}
	return NULL;
}

/* After the session loop: unmount, push everything, stop. */
static int finish(struct daemon *dm)
{
	pthread_t sig_thread;
	bool have_sig;
	int rc;

	block_signals(SIG_BLOCK);
	cache_poll_stop(dm->cache); /* it notifies through the session */
	if (dm->mounted) {
		fuse_session_unmount(dm->se);
		dm->mounted = false;
	}
	have_sig =
	    pthread_create(&sig_thread, NULL, signal_main, dm->cache) == 0;
	rc = cache_drain(dm->cache);
	__atomic_store_n(&drain_done, 1, __ATOMIC_RELEASE);
	if (have_sig) {
		pthread_kill(sig_thread, SIGTERM);
		pthread_join(sig_thread, NULL);
	}
	if (rc == 0)
		log_info(SUB, "unmounted '%s': everything is in Drive",
			 dm->mountpoint);
	return rc;
}

static void teardown(struct daemon *dm)
{
	ctl_stop(dm->ctl); /* it uses the cache and the transport */
	dm->ctl = NULL;
	cache_poll_stop(dm->cache);
	if (dm->se) {
		fuse_remove_signal_handlers(dm->se);
		if (dm->mounted)
			fuse_session_unmount(dm->se);
		fuse_session_destroy(dm->se);
	}
	if (dm->http)
		http_cancel_all(dm->http);
	cache_free(dm->cache);
	close_drive(dm);
	if (dm->ready_fd >= 0)
		close(dm->ready_fd);
}

static int run(struct daemon *dm)
{
	char root_id[DRIVE_ID_MAX + 1];
	struct fuse_loop_config *lc;
	struct drive_about about;
	int rc;

	if (!realpath(dm->opts.mountpoint, dm->mountpoint)) {
		fprintf(stderr, "drivefs: mountpoint '%s': %s\n",
			dm->opts.mountpoint, strerror(errno));
		return -errno;
	}
	rc = connect_drive(dm, &about, root_id);
	if (rc < 0)
		return rc;
	/* Before the root's first listing, so no change is missed (from a
	 * snapshot: its token, no request). */
	rc = cache_poll_prepare(dm->cache, dm->opts.poll_interval_ms);
	if (rc < 0) {
		fprintf(stderr, "drivefs: Drive changes: %s\n", strerror(-rc));
		return rc;
	}
	rc = mount_fuse(dm);
	if (rc < 0)
		return rc;
	block_signals(SIG_BLOCK); /* the cache's threads inherit the mask */
	rc = cache_start(dm->cache);
	if (rc == 0) {
		struct cache_notify nf = {notify_entry, notify_inode, dm->se};

		rc = cache_poll_start(dm->cache, &nf);
	}
	if (rc == 0)
		start_ctl(dm, root_id,
			  &about); /* mounts without it if need be */
	block_signals(SIG_UNBLOCK);
	if (rc < 0)
		return rc;
	log_info(SUB, "mounted Drive folder %s on '%s' (cache '%s')", root_id,
		 dm->mountpoint, dm->cache_dir);
	daemonize_end(dm);
	lc = fuse_loop_cfg_create();
	if (!lc)
		return -ENOMEM;
	fuse_loop_cfg_set_max_threads(lc, 16);
	fuse_loop_cfg_set_idle_threads(lc, 4);
	rc = fuse_session_loop_mt(dm->se, lc);
	fuse_loop_cfg_destroy(lc);
	/* libfuse returns the signal that ended the loop, or -errno. */
	if (rc > 0)
		log_info(SUB, "signal %d: unmounting", rc);
	else if (rc < 0)
		log_warn(SUB, "the FUSE session failed: %s", strerror(-rc));
	return finish(dm);
}

static int cmd_mount(int argc, char **argv)
{
	struct daemon dm;
	char why[256];
	int rc;

	memset(&dm, 0, sizeof(dm));
	dm.ready_fd = -1;
	fs_opts_init(&dm.opts);
	/* The config file, then the command line over it. */
	rc = fs_opts_parse_cmdline(&dm.opts, argc, argv, why, sizeof(why),
				   stdout);
	if (rc == 1 || rc < 0) {
		if (rc < 0)
			fprintf(stderr, "drivefs mount: %s\n", why);
		fs_opts_release(&dm.opts);
		return rc == 1 ? 0 : 2;
	}
	log_init(dm.opts.log_spec, LOG_SINK_STDERR);
	if (!dm.opts.foreground) {
		rc = daemonize_begin(&dm);
		if (rc < 0) {
			fprintf(stderr, "drivefs: fork failed: %s\n",
				strerror(-rc));
			return 1;
		}
	}
	rc = run(&dm);
	teardown(&dm);
	fs_opts_release(&dm.opts);
	return rc < 0 ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage_top(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "help")) {
		usage_top(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "mount"))
		return cmd_mount(argc - 1, argv + 1);
	if (!strcmp(argv[1], "auth"))
		return fs_auth_main(argc - 1, argv + 1);
	fprintf(stderr, "drivefs: unknown command '%s'\n\n", argv[1]);
	usage_top(stderr);
	return 2;
}
