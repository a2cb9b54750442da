/*
 * Private to cache/: the cache struct all of cache/ shares, and the
 * functions they call on each other. Nothing outside cache/ (and its unit
 * tests) includes this file.
 *
 * Locking: everything in struct cache that changes after cache_start() is
 * protected by c->t.lock (tree.h), which is also the mutex of the three
 * condition variables: t.cond (listing/download/push/eviction finished),
 * sync_cond (work for uploaders) and fetch_cond (work for readahead
 * workers). about_lock protects only the statfs numbers.
 */
#ifndef CACHE_CACHE_I_H
#define CACHE_CACHE_I_H

#include "common/compat.h"

#include <pthread.h>

#include "cache/cache.h"
#include "cache/idpool.h"
#include "cache/local_only.h"
#include "cache/snapshot.h"
#include "cache/store.h"
#include "cache/tree.h"
#include "drive/drive.h"

/* Readahead window: doubles per sequential read up to this. */
#define CACHE_READAHEAD_MAX (64 << 20)
/* A read this close to where the last one ended counts as sequential. */
#define CACHE_SEQ_SLACK (2 << 20)
/* A read that misses downloads at least this much... */
#define CACHE_FETCH_MIN (4 << 20)
/* ...or this much while a sweep fills the file: the miss then only has to
 * wait for its own bytes, the sweep brings the rest. */
#define CACHE_FETCH_MIN_SWEEP (256 << 10)
/* Non-sequential reads that missed on one handle before the rest of the
 * file is fetched in the background (a sweep, fetch.c). */
#define CACHE_SWEEP_AFTER_MISSES 4
/* One download request is at most this long. */
#define CACHE_FETCH_CHUNK (16 << 20)
/* statfs numbers are refreshed when older than this. */
#define CACHE_ABOUT_TTL_MS 60000

struct cache_handle {
	struct node *n;	   /* referenced */
	int fd;		   /* the cache file, -1 for stubs */
	int flags;	   /* open(2) flags */
	int64_t ra_next;   /* where a sequential read would go on (t.lock) */
	int64_t ra_window; /* current readahead window (t.lock) */
	int misses;	   /* non-sequential reads that missed (t.lock) */
	struct list_head link; /* on c->handles (t.lock) */
};

/* Folders listed together in one query by a prefetch (fetch.c). */
#define FETCH_LIST_BATCH 20

struct fetch_job {
	struct list_head link;
	struct node *n;	  /* referenced; NULL for a listing */
	int64_t off, end; /* marked in n->c.fetching */
	uint64_t epoch;	  /* n->c.epoch when queued */
	bool sweep;	  /* part of a sweep: queues the next gap when done */
	/* A prefetch listing: these folders (referenced), and how many
	 * levels below them to prefetch next. */
	struct node *dirs[FETCH_LIST_BATCH];
	size_t n_dirs;
	int depth;
};

/* Longest resumable session URL we keep (drive_upload.session_url). */
#define CACHE_STREAM_URL_MAX 2048

/* Longest request of a streamed upload (a multiple of DRIVE_CHUNK_UNIT). */
#define STREAM_CHUNK_MAX (INT64_C(1) << 30)

/* The streamed upload (stream.c): at most one. Protected by t.lock. */
struct cache_stream {
	struct node *n; /* referenced; NULL: none */
	char id[DRIVE_ID_MAX + 1];
	char parent[DRIVE_ID_MAX + 1];
	char *name; /* the session's metadata: id, parent, name, exec */
	bool exec;
	int64_t mtime_ms;
	char url[CACHE_STREAM_URL_MAX]; /* "" until the session is open */
	int64_t held;			/* bytes Drive confirmed */
	int64_t limit;			/* end of the bytes read for Drive */
	bool busy;			/* a request in flight (lock dropped) */
	bool dead;			/* to be abandoned */
	const char *why;		/* ...because (a static string) */
	uint64_t refused_ino; /* killed while open: not again until closed */
};

struct cache {
	struct cache_opts o;
	char *dir;	 /* owned copy of o.dir */
	struct drive *d; /* borrowed */
	struct tree t;
	bool t_ready; /* t initialised (tree_init) */
	struct local_only lo;
	struct store store;
	struct idpool *ids;
	int lock_fd; /* flock on <dir>/lock */
	/* The pending set on disk (journal.h). */
	struct journal *j;

	/* Uploaders (sync.c). Protected by t.lock. */
	pthread_cond_t sync_cond;
	pthread_t *sync_threads;
	struct sync_worker *sync_workers;
	char (*sync_busy)[DRIVE_ID_MAX + 1]; /* Drive id each worker pushes */
	int n_sync_threads;
	int64_t sync_wake_ms; /* when sleeping uploaders wake */
	bool sync_stop;
	bool draining;
	bool drain_abort;
	bool paused;				 /* cache_pause() */
	struct cache_upload_progress *sync_prog; /* per worker; total 0: idle */

	/* Streamed upload (stream.c). Protected by t.lock. */
	struct cache_stream stream;
	pthread_cond_t stream_cond;
	pthread_t stream_thread;
	bool stream_running;
	bool stream_stop;
	struct cache_upload_progress stream_prog;

	/* Conflicts resolved (conflict.c), a ring. Protected by t.lock. */
	struct cache_conflict conflicts[CACHE_CONFLICTS_KEPT];
	size_t conflict_next;	  /* next slot to write */
	uint64_t conflicts_total; /* ever recorded */
	char host[64];		  /* names conflict copies */

	/* Open handles (file.c), freed at cache_free() if the kernel never
	 * released them (a SIGTERM ends the session first). t.lock. */
	struct list_head handles;

	/* Readahead workers (fetch.c). Protected by t.lock. */
	pthread_cond_t fetch_cond;
	struct list_head fetch_jobs;
	pthread_t *fetch_threads;
	int n_fetch_threads;
	bool fetch_stop;
	int prefetch_jobs; /* listing jobs queued or running */

	/* Listings drop clean folders with children Drive no longer lists
	 * there (set when the change feed restarts). t.lock. */
	bool prune_folders;

	/* Change poller (poll.c): keeps the page token; polls every
	 * o.poll_interval_ms, or only catches up once at start when 0. */
	struct poller *poll;

	/* Metadata snapshot (snapshot.c). started and snap_token are set
	 * before threads start; the rest is the journal thread's (periodic
	 * writes), then cache_free()'s once that thread is joined. */
	bool started;			     /* cache_start() ran */
	char snap_token[SNAP_TOKEN_MAX + 1]; /* loaded: catch up from it */
	int64_t snap_ms;		     /* last write, monotonic */
	uint64_t snap_changes;		     /* t.changes the last write saw */
	uint64_t seen_changes;		     /* t.changes at the last tick */
	int64_t seen_ms; /* when the last tick saw them move */

	/* statfs (attr.c). */
	pthread_mutex_t about_lock;
	struct drive_about about;
	int64_t about_ms; /* monotonic; 0: never */
	bool about_refreshing;

	/* Hit rate for drivefs-status (status.c). Protected by t.lock. */
	uint64_t reads_hit, reads_miss;

	/* Cached files the snapshot kept from the last run (snapshot.c
	 * loads them, fetch.c checks them before their first use).
	 * caught_up: the first poll after a snapshot load applied every
	 * change since it (poll.c), so r.md5 is as current as polling
	 * makes it; before that a check asks Drive (files.get). t.lock. */
	bool caught_up;
	size_t kept_files, kept_verified, kept_dropped;
	int64_t kept_bytes;
	int64_t kept_ask_failed_ms; /* monotonic; 0: never */
};

/* Helpers shared by the files of cache/. */

/* Milliseconds of a timespec (floor). */
int64_t cache_ts_ms(const struct timespec *ts);
/* Now, as a timespec (CLOCK_REALTIME). */
struct timespec cache_now_ts(void);

/*
 * The node of @ino with a reference, or NULL (-ESTALE for the caller).
 * Locked: the caller holds t.lock.
 */
struct node *cache_get_locked(struct cache *c, uint64_t ino);
/* Fill @st for @n with the mount's owner. */
void cache_stat_locked(struct cache *c, const struct node *n, struct stat *st);

/* ns.c: adding entries. */
/*
 * The folder @parent (referenced, listed) for adding @name to, with the
 * Drive name for @name in @drive_name (NAME_MAX * 4 + 1 bytes). -ESTALE,
 * -ENOTDIR, -ENOENT (folder deleted), -EEXIST with *@existing set
 * (referenced) when the name is taken, -ENAMETOOLONG, -EILSEQ.
 */
int ns_prepare_locked(struct cache *c, uint64_t parent, const char *name,
		      struct node **dirp, struct node **existing,
		      char *drive_name, size_t drive_namesz);
/*
 * A new node of @kind named @name in @dir (ns_prepare_locked()). It gets a
 * Drive id only when the uploader creates it in Drive. Returns it
 * referenced, or NULL (ENOMEM). The caller finishes it and calls
 * sync_note_locked().
 */
struct node *ns_add_locked(struct cache *c, struct node *dir,
			   enum node_kind kind, const char *drive_name,
			   const char *name);

/* file.c */
/*
 * Set @n's size to @size (O_TRUNC, truncate): the bytes past it go, a
 * grown tail reads as zeros; @n becomes dirty. @fd: an open fd of the
 * cache file, or -1. Drops the lock for the I/O; the caller holds a
 * reference. Returns 0 or -errno.
 */
int cache_truncate_locked(struct cache *c, struct node *n, int64_t size,
			  int fd);

/*
 * A new file @n was just linked: if Drive still has a file deleted here
 * moments ago at that place, @n takes over its id (no twin).
 */
void ns_arrived_locked(struct cache *c, struct node *n);

/* store.c: drop clean cached files, oldest first, while over size_max. */
void cache_evict(struct cache *c);

/* fetch.c: listing and downloads. Each drops and retakes t.lock while it
 * talks to Drive; the caller holds a reference on the node. */
int fetch_ensure_listed_locked(struct cache *c, struct node *dir);
int fetch_ensure_range_locked(struct cache *c, struct node *n, int64_t off,
			      int64_t end);
int fetch_ensure_whole_locked(struct cache *c, struct node *n);
/* Queue background downloads of what [off, end) misses. */
void fetch_readahead_locked(struct cache *c, struct node *n, int64_t off,
			    int64_t end);
/* Fetch the rest of @n in the background while it is open (random reads
 * of a big file: each miss alone would cost a round trip). */
void fetch_sweep_locked(struct cache *c, struct node *n);
/* Wait until no download of @n is running (before changing its bytes). */
void fetch_wait_idle_locked(struct cache *c, struct node *n);
/*
 * Before the first use of bytes the snapshot kept (n->c.unverified): the
 * MD5 of the cache file must equal Drive's current md5 of @n (asked with
 * files.get while the catch-up has not run, else r.md5); if it does, the
 * bytes are @n's as a download would have made them, otherwise they are
 * dropped and the next read downloads. Drops the lock to ask and to hash
 * (the node is pinned); the caller holds a reference. Concurrent callers
 * wait for the one check. No-op for other nodes.
 */
void fetch_verify_kept_locked(struct cache *c, struct node *n);
/* Drop bytes @n kept from the last run unchecked (they are about to be
 * replaced whole: O_TRUNC, truncate to 0). */
void fetch_forget_kept_locked(struct cache *c, struct node *n);
int fetch_start(struct cache *c);
void fetch_stop(struct cache *c);

/* sync.c: the uploaders. */
/*
 * A local change of @n: restart its writeback delay and put it on (or take
 * it off) the pending list. May free @n (a tombstone Drive never had).
 */
void sync_note_locked(struct cache *c, struct node *n);
/* As sync_note_locked() without touching the delay. May free @n. */
void sync_recheck_locked(struct cache *c, struct node *n);
/* fsync: push @n (and the folders it needs) now and wait for it. */
int sync_wait_node_locked(struct cache *c, struct node *n);
/* "clean", "dirty", "uploading" for user.drivefs.state. */
const char *sync_state_locked(const struct node *n);
int sync_start(struct cache *c);
void sync_stop(struct cache *c);
/* Is @n a create the uploader could send now (plan CREATE)? */
bool sync_create_ready_locked(struct cache *c, struct node *n);

/*
 * Streamed uploads (stream.c). Hooks: a write of [@off, @end) to @n (may
 * claim the stream for @n, or kill it), a truncate (kills it), the last
 * writer's close. stream_busy_locked(): a request of @n's stream is in
 * flight (the uploader waits). stream_ready_locked(): @n is closed and its
 * stream holds bytes in Drive (no writeback delay). stream_take_locked():
 * the uploader, about to push @n: if @n's stream matches the create
 * (@name, @parent, @exec) it gets the session URL in @url and true, and the
 * stream is over; else an existing stream of @n is abandoned.
 */
void stream_note_write_locked(struct cache *c, struct node *n, int64_t off,
			      int64_t end);
void stream_note_truncate_locked(struct cache *c, struct node *n);
void stream_note_release_locked(struct cache *c, struct node *n);
bool stream_busy_locked(struct cache *c, const struct node *n);
bool stream_ready_locked(struct cache *c, const struct node *n);
bool stream_take_locked(struct cache *c, struct node *n, bool create,
			const char *name, const char *parent, bool exec,
			char url[CACHE_STREAM_URL_MAX]);
int stream_start(struct cache *c);
void stream_stop(struct cache *c);

/*
 * status.c: count one access for the hit rate: an open of a small file
 * (fetched whole) or a read of a large one; @hit: its bytes were cached.
 */
void cache_status_note_read_locked(struct cache *c, bool hit);

/* twins.c: create races (two files of one name, one of them ours). */
/* Settle @o's twin if @o is ours and the newer one. */
void twins_check_locked(struct cache *c, struct node *o);
/* The same for every child of @dir (after a listing). */
void twins_check_dir_locked(struct cache *c, struct node *dir);
/* ...for the children of @dir named @name (a change brought one). */
void twins_check_name_locked(struct cache *c, struct node *dir,
			     const char *name);

/* poll.c: the page token the tree is current to, into @buf; false when
 * there is none. Any lock but t.lock. */
bool cache_poll_token(struct cache *c, char *buf, size_t size);
/* poll.c: stop the poller (cache_poll_stop()) and free it. */
void cache_poll_free(struct cache *c);
/* Make the poller poll now (no-op without one). Any lock but t.lock. */
void poll_wake(struct cache *c);
/*
 * Have the poller invalidate the kernel's entry @name of folder @ino (or
 * inode @ino when @name is NULL) soon, from its thread: callers may hold
 * t.lock (the poller's lock is taken after it, never before).
 */
void poll_queue_inval(struct cache *c, uint64_t ino, const char *name);
/* Have the poller re-read Drive id @id and apply it as a change (its own
 * thread, soon). Callers may hold t.lock. */
void poll_queue_refresh(struct cache *c, const char *id);
/* Have the poller list folder @ino again (a merge brought children). */
void poll_queue_relist(struct cache *c, uint64_t ino);

#endif
