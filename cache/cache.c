/*
 * The cache's life cycle (cache.h): creating the cache directory and its
 * lock, wiring the tree, the content store and the id pool, starting and
 * stopping the worker threads. Shutdown order matters: readahead workers,
 * then uploaders (after cache_drain() emptied the queue), then the id pool,
 * then the tree they all point into.
 */
#include "common/compat.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache_i.h"
#include "cache/conflict.h"
#include "cache/journal.h"
#include "cache/snapshot.h"
#include "common/clock.h"
#include "common/log.h"

#define SUB "cache"

void cache_opts_init(struct cache_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->size_max = (int64_t)10 << 30;
	o->writeback_delay_ms = 2000;
	o->fsync_remote = true;
	o->upload_workers = 8;
	o->fetch_workers = 4;
	o->whole_max = 8 << 20;
	o->uid = getuid();
	o->gid = getgid();
}

int64_t cache_ts_ms(const struct timespec *ts)
{
	return (int64_t)ts->tv_sec * 1000 + ts->tv_nsec / 1000000;
}

struct timespec cache_now_ts(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

struct node *cache_get_locked(struct cache *c, uint64_t ino)
{
	struct node *n = tree_get_locked(&c->t, ino);

	if (n)
		tree_ref_locked(n);
	return n;
}

void cache_stat_locked(struct cache *c, const struct node *n, struct stat *st)
{
	tree_stat_locked(n, st);
	st->st_uid = c->o.uid;
	st->st_gid = c->o.gid;
}

/* mkdir -p @path with mode 0700 for what it creates. */
static int mkdir_p(const char *path)
{
	char *p = strdup(path);
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1;; s++) {
		bool end = *s == '\0';

		if (*s != '/' && !end)
			continue;
		*s = '\0';
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		if (end)
			break;
		*s = '/';
	}
	free(p);
	return rc;
}

/*
 * One daemon per cache dir: an flock on <dir>/lock, which holds the pid of
 * the daemon that has it (*@holder, for the message, when it is taken).
 */
static int take_lock(struct cache *c, long *holder)
{
	char path[4096], buf[32];
	ssize_t got;
	int len;

	*holder = 0;
	snprintf(path, sizeof(path), "%s/lock", c->dir);
	c->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (c->lock_fd < 0)
		return -errno;
	if (flock(c->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		if (errno != EWOULDBLOCK)
			return -errno;
		got = pread(c->lock_fd, buf, sizeof(buf) - 1, 0);
		buf[got > 0 ? got : 0] = '\0';
		*holder = strtol(buf, NULL, 10);
		return -EBUSY;
	}
	len = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(c->lock_fd, 0) < 0 ||
	    pwrite(c->lock_fd, buf, (size_t)len, 0) != len)
		log_debug(SUB, "writing the pid into '%s' failed", path);
	return 0;
}

static void init_cond(pthread_cond_t *cv)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(cv, &ca);
	pthread_condattr_destroy(&ca);
}

int cache_new(const struct cache_opts *o, struct drive *d, const char *root_id,
	      struct cache **out)
{
	struct cache *c = calloc(1, sizeof(*c));
	const char *step = "memory";
	long holder = 0;
	int rc = -ENOMEM;

	if (!c)
		goto fail_msg;
	c->o = *o;
	c->d = d;
	c->lock_fd = -1;
	c->store.dirfd = -1;
	list_init(&c->fetch_jobs);
	list_init(&c->handles);
	init_cond(&c->sync_cond);
	init_cond(&c->stream_cond);
	init_cond(&c->fetch_cond);
	pthread_mutex_init(&c->about_lock, NULL);
	conflict_host_init(c, o->host);
	c->dir = strdup(o->dir);
	if (!c->dir)
		goto fail;
	step = "creating the directory";
	rc = mkdir_p(c->dir);
	if (rc < 0)
		goto fail;
	step = "locking it";
	rc = take_lock(c, &holder);
	if (rc < 0)
		goto fail;
	step = "reading the journal";
	rc = journal_open(c->dir, o->journal_sync, &c->j);
	if (rc < 0)
		goto fail;
	step = "local-only patterns";
	rc = local_only_init(&c->lo, o->local_only, o->n_local_only);
	if (rc < 0)
		goto fail;
	step = "memory";
	rc = tree_init(&c->t, root_id, o->naming, &c->lo);
	if (rc < 0)
		goto fail;
	c->t_ready = true;
	c->t.host = c->host;
	/* What the last run knew of Drive, then (cache_start()) the
	 * journal's pending work on top of it. */
	step = "loading the metadata snapshot";
	rc = snapshot_load(c);
	if (rc < 0)
		goto fail;
	/* Recovered nodes keep their inode numbers (content/<ino>). */
	c->t.next_ino = MAX(c->t.next_ino, journal_max_ino(c->j) + 1);
	step = "the content directory";
	rc = store_init(&c->store, c->dir, c->j, &c->t);
	if (rc < 0)
		goto fail;
	/* Kept cached files past --cache-size: the oldest go now. */
	cache_evict(c);
	*out = c;
	return 0;
fail:
	if (rc == -EBUSY && holder > 0)
		log_err(SUB,
			"cache directory '%s' is in use by another drivefs "
			"daemon (pid %ld): refusing to start a second one",
			o->dir, holder);
	else
		log_err(SUB, "cache directory '%s': %s failed: %s", o->dir,
			step,
			rc == -EBUSY ? "another drivefs mount uses it"
				     : strerror(-rc));
	cache_free(c);
	return rc;
fail_msg:
	log_err(SUB, "cache: out of memory");
	return rc;
}

bool cache_snapshot_loaded(struct cache *c)
{
	return c->snap_token[0] != '\0';
}

const char *cache_account_email(struct cache *c)
{
	return c->about.email;
}

const char *cache_root_id(struct cache *c)
{
	return c->t.root->id;
}

int cache_start(struct cache *c)
{
	int rc;

	/* Before any uploader runs or the kernel is served: what a crashed
	 * run acknowledged is pending again. */
	/* Before the journal thread starts (it writes snapshots). */
	c->started = true;
	c->snap_ms = clock_mono_ms();
	rc = journal_recover(c);
	if (rc == 0)
		rc = idpool_new(c->d, &c->ids);
	if (rc == 0)
		rc = sync_start(c);
	if (rc == 0)
		rc = stream_start(c);
	if (rc == 0)
		rc = fetch_start(c);
	if (rc < 0)
		log_err(SUB, "starting the cache threads failed: %s",
			strerror(-rc));
	return rc;
}

void cache_free(struct cache *c)
{
	if (!c)
		return;
	cache_poll_stop(c); /* its page token goes into the snapshot */
	if (c->t_ready) {
		fetch_stop(c);
		stream_stop(c);
		sync_stop(c);
		journal_close(c); /* what is left pending stays on disk */
		/* After the journal thread (periodic writes) stopped. */
		snapshot_write(c);
	}
	cache_poll_free(c);
	if (c->kept_files)
		log_info(SUB,
			 "cached files kept from the last run: %zu, of which "
			 "%zu checked and used, %zu dropped when checked "
			 "(changed in Drive, damaged or replaced)",
			 c->kept_files, c->kept_verified, c->kept_dropped);
	idpool_free(c->ids);
	while (c->t_ready && !list_empty(&c->handles)) {
		struct cache_handle *h =
		    list_entry(c->handles.next, struct cache_handle, link);

		list_del_init(&h->link);
		if (h->fd >= 0)
			close(h->fd);
		free(h);
	}
	if (c->t_ready)
		tree_release(&c->t);
	store_release(&c->store);
	journal_free(c->j);
	local_only_release(&c->lo);
	if (c->lock_fd >= 0)
		close(c->lock_fd);
	pthread_cond_destroy(&c->sync_cond);
	pthread_cond_destroy(&c->stream_cond);
	pthread_cond_destroy(&c->fetch_cond);
	pthread_mutex_destroy(&c->about_lock);
	free(c->dir);
	free(c);
}
