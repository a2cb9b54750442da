/*
 * The write-back cache as fs/ sees it: one call per filesystem operation,
 * by inode number, with POSIX results. fs/ops_*.c translate FUSE requests to
 * these and replies back; everything the mount means (INTERNALS.md,
 * docs/SEMANTICS.md) is decided below this header.
 *
 * Every function returns 0 (or a length) or a negative errno. Calls may
 * block: on the tree lock (briefly), on cache-file I/O, on Drive when a
 * folder is listed or bytes are downloaded the first time, and in
 * cache_fsync() until Drive holds the file. None may be called with a lock
 * of the caller held. Thread-safe.
 */
#ifndef CACHE_CACHE_H
#define CACHE_CACHE_H

#include "common/compat.h"

#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>

#include "cache/tree.h"
#include "drive/drive.h"

struct cache;
struct cache_handle; /* an open file */
struct cache_dir;    /* an open folder: a snapshot of its entries */

/* What to do when a file changed both here and in Drive. */
enum cache_conflict_policy {
	CACHE_CONFLICT_KEEP_BOTH, /* remote keeps name + id, local a copy */
	CACHE_CONFLICT_LOCAL_WINS,
	CACHE_CONFLICT_REMOTE_WINS,
};

struct cache_opts {
	const char *dir;  /* this mount's cache directory */
	int64_t size_max; /* cap for clean cached bytes */
	int64_t writeback_delay_ms;
	int64_t drain_timeout_ms; /* cache_drain() gives up after it (0: no
				     limit) */
	bool fsync_remote;	  /* fsync waits for Drive */
	bool journal_sync;	  /* fdatasync the journal before every
				     acknowledgement (journal.h) */
	int upload_workers;	  /* pushes in flight (default 8) */
	int fetch_workers;	  /* readahead downloads in flight (4) */
	int64_t whole_max;	  /* fetch files up to this whole (8 MiB) */
	const char *const *local_only; /* patterns (local_only.h) */
	size_t n_local_only;
	const struct tree_naming *naming; /* borrowed, outlives the cache */
	enum cache_conflict_policy conflict;
	const char *host; /* names conflict copies; NULL: gethostname() */
	/* Who the snapshot (snapshot.h) must belong to: an opaque key of
	 * the account and the API endpoint from fs/; NULL: no snapshot. */
	const char *account;
	int64_t snapshot_period_ms; /* periodic writes at most this often
				       (0: 5 minutes) */
	uid_t uid;		    /* owner shown for every file */
	gid_t gid;
};

void cache_opts_init(struct cache_opts *o);

/*
 * A cache for the Drive folder @root_id using @d (borrowed, outlives the
 * cache). Creates o->dir/content, takes o->dir/lock (-EBUSY when another
 * mount uses it), loads the metadata snapshot of a previous run when it
 * belongs to o->account and @root_id (snapshot.h) and discards content a
 * previous run left but for the journal's dirty files. Starts no thread.
 * Returns 0 or -errno with a message logged.
 */
int cache_new(const struct cache_opts *o, struct drive *d, const char *root_id,
	      struct cache **out);
/* A metadata snapshot was loaded (cache_new()): the tree is warm. */
bool cache_snapshot_loaded(struct cache *c);
/* The account's address the snapshot or cache_set_about() gave ("").
 * Stable once the cache is started. */
const char *cache_account_email(struct cache *c);
/* The Drive id of the mounted folder. */
const char *cache_root_id(struct cache *c);
/* Start the uploaders, readahead workers and the id pool. */
int cache_start(struct cache *c);
/*
 * Push everything that is pending, ignoring the writeback delay, and return
 * when nothing is pending (0) or cache_drain_abort() was called (-EINTR),
 * or after o.drain_timeout_ms, or when all that is left is quarantined
 * (-ETIMEDOUT: each path still queued is logged). Logs progress every 10 s.
 */
int cache_drain(struct cache *c);
/* Make a running cache_drain() return; safe from a signal-handling thread. */
void cache_drain_abort(struct cache *c);
/* Stop every thread and free everything. */
void cache_free(struct cache *c);

/*
 * Change polling (poll.c, docs/SEMANTICS.md "Change polling"). fs/ supplies
 * the kernel invalidations; they are called from the poll thread with no
 * lock held, never from a FUSE request.
 */
struct cache_notify {
	/* The kernel's entry @name in folder @parent is stale. */
	void (*inval_entry)(void *ctx, uint64_t parent, const char *name);
	/* The attributes and page cache of @ino are stale. */
	void (*inval_inode)(void *ctx, uint64_t ino);
	void *ctx;
};
/*
 * Set up the change feed for polling every @interval_ms (0: no polling):
 * the snapshot's page token when cache_new() loaded one (no request; the
 * poll thread then catches up at once, also with @interval_ms 0), else a
 * start token from Drive (blocks; taken even without polling, as the
 * position a snapshot saves). Call before the root is first listed.
 * Returns 0 or -errno (logged).
 */
int cache_poll_prepare(struct cache *c, int64_t interval_ms);
/* Start the "drivefs-poll" thread; @nf is copied (NULL: no kernel
 * notifications). A no-op without cache_poll_prepare(). */
int cache_poll_start(struct cache *c, const struct cache_notify *nf);
/* Stop the thread and wait for it (prompt: it waits on a condvar). Call
 * before the FUSE session the callbacks use goes away. Idempotent. */
void cache_poll_stop(struct cache *c);

/* Nodes with pending sync work (queued, waiting or uploading). */
size_t cache_pending(struct cache *c);

/* ---- Control (drivefs-status --pause/--resume/--sync-now) ---- */

/*
 * Pause or resume background uploads. While paused nothing is pushed but
 * what fsync() or the unmount drain asks for; changes keep queueing.
 */
void cache_pause(struct cache *c, bool paused);
bool cache_paused(struct cache *c);
/* Poll Drive for changes now and push every pending change without
 * waiting for its writeback delay. */
void cache_sync_now(struct cache *c);
/* Wall-clock ms of the last successful poll, 0: none yet (or no poller). */
int64_t cache_last_poll_wall_ms(struct cache *c);

/* ---- Conflicts (conflict.c, docs/SEMANTICS.md "Conflicts") ---- */

#define CACHE_CONFLICT_PATH_MAX 1024
/* One conflict, as drivefs-status lists it. */
struct cache_conflict {
	char path[CACHE_CONFLICT_PATH_MAX]; /* the file that kept the name */
	char copy[CACHE_CONFLICT_PATH_MAX]; /* the conflict copy, or "" */
	/* "keep-both", "local-wins", "remote-wins", "remote-deleted",
	 * "create-race", "create-race-same" (a twin with the same bytes
	 * trashed): a static string. */
	const char *kind;
	int64_t wall_ms; /* when it was resolved */
};
/* The most recent conflicts (at most CACHE_CONFLICTS_KEPT), oldest
 * first, into @out; returns how many were copied. */
#define CACHE_CONFLICTS_KEPT 64
size_t cache_conflicts(struct cache *c, struct cache_conflict *out, size_t max);
/* How many conflicts were resolved since the mount (all, not just kept). */
uint64_t cache_conflicts_total(struct cache *c);

/* ---- Uploads in flight (for progress bars) ---- */

struct cache_upload_progress {
	char path[CACHE_CONFLICT_PATH_MAX];
	int64_t done, total; /* bytes */
	int64_t start_ms;    /* monotonic */
};
/* The uploads of content running now into @out; returns how many. */
size_t cache_uploads(struct cache *c, struct cache_upload_progress *out,
		     size_t max);

/* Namespace. Functions that fill @st add one kernel lookup on success. */
int cache_lookup(struct cache *c, uint64_t parent, const char *name,
		 struct stat *st);
void cache_forget(struct cache *c, uint64_t ino, uint64_t nlookup);
int cache_getattr(struct cache *c, uint64_t ino, struct stat *st);

enum cache_set {
	CACHE_SET_SIZE = 1 << 0,
	CACHE_SET_MODE = 1 << 1,
	CACHE_SET_ATIME = 1 << 2,
	CACHE_SET_MTIME = 1 << 3,
	CACHE_SET_ATIME_NOW = 1 << 4,
	CACHE_SET_MTIME_NOW = 1 << 5,
	CACHE_SET_OWNER = 1 << 6, /* uid and/or gid */
};
struct cache_setattr {
	unsigned valid; /* enum cache_set */
	int64_t size;
	mode_t mode;
	struct timespec atime, mtime;
};
/* @h: the open file of an ftruncate/futimens, or NULL. */
int cache_setattr(struct cache *c, uint64_t ino, const struct cache_setattr *sa,
		  struct cache_handle *h, struct stat *st);

int cache_mkdir(struct cache *c, uint64_t parent, const char *name,
		struct stat *st);
int cache_symlink(struct cache *c, uint64_t parent, const char *name,
		  const char *target, struct stat *st);
/* The target of a symlink into @buf (NUL-terminated). */
int cache_readlink(struct cache *c, uint64_t ino, char *buf, size_t size);
int cache_unlink(struct cache *c, uint64_t parent, const char *name);
int cache_rmdir(struct cache *c, uint64_t parent, const char *name);
/* @flags: 0 or RENAME_NOREPLACE; RENAME_EXCHANGE gives -EINVAL. */
int cache_rename(struct cache *c, uint64_t parent, const char *name,
		 uint64_t newparent, const char *newname, unsigned flags);

/* Folders. */
int cache_opendir(struct cache *c, uint64_t ino, struct cache_dir **out);
/*
 * Called for each entry from offset @off on, under the tree lock (it must
 * only copy into a buffer); @next is the offset of the entry after it.
 * Return 0 to go on, 1 when the buffer is full (the entry was not taken).
 */
typedef int (*cache_dirent_cb)(void *ctx, const char *name,
			       const struct stat *st, off_t next);
/*
 * Entries of the snapshot taken at opendir (offset 0 takes a fresh one).
 * Offsets are positions in the snapshot: stable across calls. With @plus,
 * each entry taken (but . and ..) adds one kernel lookup.
 */
int cache_readdir(struct cache *c, struct cache_dir *d, off_t off, bool plus,
		  cache_dirent_cb cb, void *ctx);
void cache_releasedir(struct cache *c, struct cache_dir *d);

/* Files. */
/* @flags: open(2) flags. *@keep_cache: the kernel's page cache is valid. */
int cache_open(struct cache *c, uint64_t ino, int flags,
	       struct cache_handle **out, bool *keep_cache);
/* Create-or-open @name (O_EXCL honoured). @out NULL: mknod, nothing open. */
int cache_create(struct cache *c, uint64_t parent, const char *name,
		 mode_t mode, int flags, struct stat *st,
		 struct cache_handle **out);

/* Where the bytes of a read are: [off, off + len) of fd, or len at mem. */
struct cache_data {
	int fd; /* borrowed from the handle; -1: use mem */
	int64_t off;
	size_t len;
	char *mem; /* new: free() after the reply */
};
int cache_read(struct cache *c, struct cache_handle *h, int64_t off,
	       size_t size, struct cache_data *out);
/*
 * A write of @size bytes at @off: cache_write_begin() makes the whole file
 * local and gives the fd to write to; the caller writes, then reports the
 * bytes written (or -errno) to cache_write_end(), which marks the file dirty.
 */
int cache_write_begin(struct cache *c, struct cache_handle *h, int64_t off,
		      size_t size, int *fd);
void cache_write_end(struct cache *c, struct cache_handle *h, int64_t off,
		     ssize_t written);
int cache_fsync(struct cache *c, uint64_t ino, struct cache_handle *h,
		bool datasync);
void cache_release(struct cache *c, struct cache_handle *h);

/* Filesystem. */
/* Seed the statfs numbers (from the about.get made at mount). */
void cache_set_about(struct cache *c, const struct drive_about *a);
int cache_statfs(struct cache *c, struct statvfs *st);
/*
 * Extended attribute @name into @buf of @size (0: just the length).
 * Returns the length, -ENODATA, -ERANGE.
 */
ssize_t cache_getxattr(struct cache *c, uint64_t ino, const char *name,
		       char *buf, size_t size);
/* NUL-separated names into @buf (0: the length). */
ssize_t cache_listxattr(struct cache *c, uint64_t ino, char *buf, size_t size);

#endif
