/*
 * What drivefs-status shows about the cache (docs/STATUS.md): one snapshot
 * of the upload queue, uploads and downloads in flight, cache use, hit
 * rate, conflicts and duplicates, taken under the tree lock so the numbers
 * agree with each other. fs/ctl.c turns it into the JSON reply; nothing
 * here knows about JSON or sockets.
 */
#ifndef CACHE_STATUS_H
#define CACHE_STATUS_H

#include "common/compat.h"

#include "cache/cache.h"

/* Lists are cut to these lengths; the counts stay exact. */
#define CACHE_STATUS_ITEMS_MAX 200
#define CACHE_STATUS_UPLOADS_MAX 32
#define CACHE_STATUS_DOWNLOADS_MAX 32
#define CACHE_STATUS_DUPS_MAX 64

/* One node with pending work. */
struct cache_status_item {
	char path[CACHE_CONFLICT_PATH_MAX]; /* from the mount root */
	int64_t size; /* bytes to send, 0: metadata only */
	/* "upload" (content), "metadata" (rename, chmod, ...), "folder"
	 * (create or move a folder), "trash": static strings. */
	const char *op;
	/* "uploading" (in flight), "quarantined" (failed past the retry
	 * budget, parked), "retrying" (failed, backing off),
	 * "paused", "open" (waits for the last writer to close),
	 * "waiting" (writeback delay), "queued" (due): static strings. */
	const char *state;
	int fails;    /* consecutive failures */
	int last_err; /* -errno of the last failure, 0 */
	/* drive_err_class_name() of the last failure, or NULL. */
	const char *err_class;
	bool quarantined;  /* parked past the retry budget (sync.c) */
	int64_t due_in_ms; /* until the delay or backoff ends, 0: due */
};

/* A file with bytes being downloaded now. */
struct cache_status_download {
	char path[CACHE_CONFLICT_PATH_MAX];
	int64_t fetching; /* bytes requested and not arrived yet */
	int64_t present;  /* bytes of it in the cache */
	int64_t size;
};

/* A Drive file shown under an alias because its folder has another file
 * of the same name (DESIGN.md "Identity and names"). */
struct cache_status_dup {
	char path[CACHE_CONFLICT_PATH_MAX]; /* the alias path */
	char name[CACHE_CONFLICT_PATH_MAX]; /* the Drive name */
	char id[DRIVE_ID_MAX + 1];
};

struct cache_status {
	size_t pending;			 /* nodes with pending work (all) */
	int64_t pending_bytes;		 /* content bytes they will send */
	size_t failing;			 /* of which the last push failed */
	size_t quarantined;		 /* of which parked (quarantine) */
	size_t in_flight;		 /* of which being pushed now */
	struct cache_status_item *items; /* the first ITEMS_MAX, queue order */
	size_t n_items;
	struct cache_upload_progress *uploads; /* cache_uploads() */
	size_t n_uploads;
	struct cache_status_download *downloads;
	size_t n_downloads;
	int64_t cached_bytes;  /* bytes of files in the cache */
	int64_t cache_max;     /* --cache-size (for clean bytes) */
	uint64_t hits, misses; /* cache_status_note_read_locked() */
	bool paused;
	int64_t last_poll_wall_ms;	  /* 0: no successful poll */
	struct cache_conflict *conflicts; /* oldest first */
	size_t n_conflicts;
	uint64_t conflicts_total;
	struct cache_status_dup *dups;
	size_t n_dups;
	size_t dups_total;
};

/*
 * What drivefs-status --file shows about one path (what the user.drive.*
 * and user.drivefs.* xattrs show with --xattrs): identity in Drive, sync
 * state, sizes.
 */
struct cache_file_info {
	char path[CACHE_CONFLICT_PATH_MAX]; /* from the mount root, "" root */
	const char *kind;	     /* "file", "folder", "symlink", "native" */
	char id[DRIVE_ID_MAX + 1];   /* "" until one is assigned */
	char md5[DRIVE_MD5_HEX + 1]; /* Drive's, "" if none (folders) */
	int64_t version;	     /* Drive's, -1 unknown */
	bool in_drive;		     /* Drive holds it (as far as we know) */
	int64_t size;		     /* the mount's size */
	int64_t drive_size;	     /* Drive's, -1 unknown */
	int64_t cached;		     /* bytes of it in the cache */
	int64_t mtime_ms;	     /* the mount's mtime */
	/* user.drivefs.state: "clean", "dirty", "uploading", "local-only". */
	const char *sync;
	/* "clean" or "local-only" (sync) when nothing is pending, else
	 * work.state: static strings. */
	const char *state;
	bool pending;		       /* it has sync work: @work is set */
	struct cache_status_item work; /* as listed in the queue */
	size_t mount_pending; /* user.drivefs.pending: the whole mount */
};

/*
 * Look @path up (relative to the mount root, "/"-separated display names
 * as the mount shows them; "" or "." is the root) and describe it in @out.
 * Lists folders on the way that were never listed, like a lookup from the
 * kernel would (may block on Drive). Returns 0, -ENOENT, -ENOTDIR,
 * -EINVAL (a ".." component, or @path is absolute) or -errno of a listing.
 */
int cache_file_info(struct cache *c, const char *path,
		    struct cache_file_info *out);

/*
 * Fill @st (its arrays are new: cache_status_release()). Walks the pending
 * list and, for downloads and duplicates, every node: O(nodes) under the
 * tree lock, meant for one call a second. Returns 0 or -ENOMEM.
 */
int cache_status_get(struct cache *c, struct cache_status *st);
void cache_status_release(struct cache_status *st);

#endif
