/*
 * Open files (cache.h): open, create, read, write, fsync, release.
 *
 * Each handle has its own fd on the node's cache file. Reads make sure the
 * bytes are present first (small files are fetched whole at open; large
 * ones by ranges, with readahead while reads are sequential), then hand fs/
 * the fd so the reply can splice straight from the page cache. Writes first
 * make the whole file present and wait out any download (the cache file
 * then holds exactly the file, so Drive can get it in one upload), write
 * with the lock dropped, and mark the file dirty. The upload is due
 * --writeback-delay after the last writer closes (sync.c).
 *
 * Google-native documents and shortcuts read as a small JSON stub made on
 * the fly; opening one for writing is EACCES.
 */
#include "common/compat.h"

#include <inttypes.h>
#include <limits.h>
#include <fcntl.h>
#include <unistd.h>

#include "cache/cache_i.h"
#include "cache/journal.h"
#include "common/log.h"

#define SUB "file"

static bool writable(int flags)
{
	return (flags & O_ACCMODE) != O_RDONLY;
}

/* Local change of @n's bytes: dirty, mtime now, restart the delay. */
static void bytes_changed_locked(struct cache *c, struct node *n)
{
	n->c.dirty = true;
	n->c.data_gen++;
	n->l.mtime = cache_now_ts();
	tree_touch_locked(n);
	store_account_locked(&c->t, n);
	sync_note_locked(c, n);
}

int cache_truncate_locked(struct cache *c, struct node *n, int64_t size, int fd)
{
	int64_t old;
	int rc = 0, own = -1;

	if (size != 0) {
		rc = fetch_ensure_whole_locked(c, n); /* checks kept bytes */
		if (rc < 0)
			return rc;
	} else {
		fetch_forget_kept_locked(c, n);
	}
	fetch_wait_idle_locked(c, n);
	while (n->c.evicting)
		tree_wait_locked(&c->t);
	n->c.has_file = true;
	n->c.pins++; /* no eviction while the lock is dropped */
	/* Before the bytes change: an upload reading them meanwhile is
	 * overtaken, not failed (sync.c fail_locked()). */
	n->c.data_gen++;
	tree_unlock(&c->t);
	if (fd < 0)
		fd = own = store_open(&c->store, n->ino, O_RDWR);
	if (fd >= 0 && ftruncate(fd, size) < 0)
		rc = -errno;
	else if (fd < 0)
		rc = fd;
	if (own >= 0)
		close(own);
	tree_lock(&c->t);
	n->c.pins--;
	if (rc < 0)
		return rc;
	stream_note_truncate_locked(c, n);
	old = n->l.size;
	n->l.size = size;
	ranges_remove(&n->c.present, size, INT64_MAX);
	if (size > old)
		ranges_add(&n->c.present, old, size);
	if (size == 0)
		ranges_clear(&n->c.present);
	bytes_changed_locked(c, n);
	return 0;
}

/* Open @n (referenced by the caller) for a new handle. */
static int open_locked(struct cache *c, struct node *n, int flags,
		       struct cache_handle **out, bool *keep_cache)
{
	struct cache_handle *h;
	bool trunc = (flags & O_TRUNC) && writable(flags);
	int rc = 0, fd = -1;

	if (n->kind == NODE_DIR)
		return -EISDIR;
	if (n->kind == NODE_SYMLINK)
		return -ELOOP;
	if (n->kind == NODE_NATIVE && (writable(flags) || (flags & O_TRUNC)))
		return -EACCES;
	/* Bytes kept from the last run: checked before anyone sees them
	 * (before counting the open, so a change the poller applies
	 * meanwhile drops them as for a closed file). */
	if (trunc)
		fetch_forget_kept_locked(c, n);
	else
		fetch_verify_kept_locked(c, n);
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	list_add(&h->link, &c->handles);
	h->fd = -1;
	h->flags = flags;
	while (n->c.evicting)
		tree_wait_locked(&c->t);
	/* Counted open from here on, so eviction leaves the file alone
	 * while the lock is dropped below. */
	n->c.open_count++;
	if (writable(flags))
		n->c.open_writers++;
	if (n->kind == NODE_NATIVE)
		goto done;
	/* Bytes of an older Drive version are of no use, unless another
	 * handle still reads them (the version stays until the last close:
	 * poll.c). */
	if (!n->c.dirty && n->c.open_count == 1 && n->c.present.n &&
	    n->r.exists && n->r.md5[0] && strcmp(n->c.md5, n->r.md5)) {
		fetch_wait_idle_locked(c, n);
		ranges_clear(&n->c.present);
		n->c.have_xxh = false;
		n->c.epoch++;
		store_account_locked(&c->t, n);
	}
	if (!trunc && n->l.size <= c->o.whole_max) {
		cache_status_note_read_locked(c, tree_content_whole_locked(n));
		rc = fetch_ensure_whole_locked(c, n);
		if (rc < 0)
			goto fail;
	}
	n->c.has_file = true;
	tree_unlock(&c->t);
	fd = store_open(&c->store, n->ino, O_RDWR);
	tree_lock(&c->t);
	if (fd < 0) {
		rc = fd;
		log_err(SUB, "opening the cache file of '%s' failed: %s",
			tree_name_for_log(n), strerror(-rc));
		goto fail;
	}
	h->fd = fd;
	if (trunc) {
		rc = cache_truncate_locked(c, n, 0, fd);
		if (rc < 0)
			goto fail;
	}
done:
	tree_ref_locked(n);
	h->n = n;
	*keep_cache = n->c.kernel_epoch == n->c.epoch;
	n->c.kernel_epoch = n->c.epoch;
	store_touch_locked(&c->t, n);
	*out = h;
	return 0;
fail:
	n->c.open_count--;
	if (writable(flags))
		n->c.open_writers--;
	if (fd >= 0)
		close(fd);
	list_del_init(&h->link);
	free(h);
	return rc;
}

int cache_open(struct cache *c, uint64_t ino, int flags,
	       struct cache_handle **out, bool *keep_cache)
{
	struct node *n;
	int rc;

	tree_lock(&c->t);
	n = cache_get_locked(c, ino);
	if (!n) {
		rc = -ESTALE;
	} else {
		rc = open_locked(c, n, flags, out, keep_cache);
		tree_unref_locked(&c->t, n);
	}
	tree_unlock(&c->t);
	return rc;
}

int cache_create(struct cache *c, uint64_t parent, const char *name,
		 mode_t mode, int flags, struct stat *st,
		 struct cache_handle **out)
{
	char drive_name[NAME_MAX * 4 + 1];
	struct node *dir = NULL, *n = NULL;
	bool keep;
	int rc;

	tree_lock(&c->t);
	rc = ns_prepare_locked(c, parent, name, &dir, &n, drive_name,
			       sizeof(drive_name));
	if (rc == -EEXIST && !(flags & O_EXCL) && out) {
		/* The name exists (maybe only in Drive so far): open it. */
		rc = open_locked(c, n, flags, out, &keep);
		goto done;
	}
	if (rc < 0)
		goto out;
	n = ns_add_locked(c, dir, NODE_FILE, drive_name, name);
	if (!n) {
		rc = -ENOMEM;
		goto out;
	}
	n->l.exec = (mode & 0111) != 0;
	/* An empty file, all present, to be created in Drive. */
	n->c.dirty = true;
	n->c.data_gen++;
	n->c.has_file = true;
	ns_arrived_locked(c, n);
	sync_note_locked(c, n);
	if (out)
		rc = open_locked(c, n, flags & ~O_TRUNC, out, &keep);
done:
	if (rc == 0) {
		n->nlookup++;
		cache_stat_locked(c, n, st);
	}
out:
	if (n)
		tree_unref_locked(&c->t, n);
	if (dir)
		tree_unref_locked(&c->t, dir);
	tree_unlock(&c->t);
	if (rc == 0)
		rc = journal_commit(c->j); /* durable before the ack */
	return rc;
}

/*
 * A read of [@off, @end) of a large file through @h: sequential reads grow
 * a readahead window (doubling up to CACHE_READAHEAD_MAX) that the fetch
 * workers fill. The kernel sends several reads of one stream at once, so
 * "sequential" means near where the last one ended, not exactly there; the
 * window ends on a chunk boundary so each step claims whole chunks. Other
 * reads that miss count towards a sweep of the whole file (fetch.c).
 */
static void readahead_locked(struct cache *c, struct cache_handle *h,
			     int64_t off, int64_t end)
{
	int64_t ra_end;

	if (llabs(off - h->ra_next) > CACHE_SEQ_SLACK) {
		h->ra_window = 0;
		h->ra_next = end;
		if (!ranges_covers(&h->n->c.present, off, end))
			h->misses++; /* cache_read() starts the sweep */
		return;
	}
	h->ra_window = MIN(MAX(h->ra_window * 2, 2 << 20), CACHE_READAHEAD_MAX);
	h->ra_next = MAX(h->ra_next, end);
	ra_end = (end + h->ra_window + CACHE_FETCH_CHUNK - 1) /
		 CACHE_FETCH_CHUNK * CACHE_FETCH_CHUNK;
	fetch_readahead_locked(c, h->n, end, ra_end);
}

int cache_read(struct cache *c, struct cache_handle *h, int64_t off,
	       size_t size, struct cache_data *out)
{
	struct node *n = h->n;
	bool evict = false;
	int64_t end;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	out->fd = -1;
	tree_lock(&c->t);
	if (n->kind == NODE_NATIVE) {
		char stub[TREE_STUB_MAX];
		int len = tree_native_stub_locked(n, stub, sizeof(stub));

		if (off < len)
			out->len = MIN(size, (size_t)(len - off));
		out->mem = malloc(out->len + 1);
		if (!out->mem)
			rc = -ENOMEM;
		else
			memcpy(out->mem, stub + MIN(off, len), out->len);
		goto out;
	}
	end = MIN(off + (int64_t)size, n->l.size);
	if (off >= end)
		goto out;
	if (n->l.size > c->o.whole_max && !n->c.dirty)
		readahead_locked(c, h, off, end);
	if (n->l.size > c->o.whole_max)
		cache_status_note_read_locked(
		    c, ranges_covers(&n->c.present, off, end));
	if (!ranges_covers(&n->c.present, off, end)) {
		if (n->c.orphan) {
			rc = -EIO;
			goto out;
		}
		rc = fetch_ensure_range_locked(c, n, off, end);
		if (rc < 0)
			goto out;
		/* After this read's own bytes: its gap must not wait
		 * behind a sweep chunk that covers it. */
		if (h->misses >= CACHE_SWEEP_AFTER_MISSES)
			fetch_sweep_locked(c, n);
	}
	store_touch_locked(&c->t, n);
	out->fd = h->fd;
	out->off = off;
	out->len = (size_t)(end - off);
	evict = c->t.cached_bytes > c->o.size_max;
out:
	tree_unlock(&c->t);
	if (evict)
		cache_evict(c);
	return rc;
}

int cache_write_begin(struct cache *c, struct cache_handle *h, int64_t off,
		      size_t size, int *fd)
{
	struct node *n = h->n;
	int rc = 0;

	(void)off;
	(void)size;
	if (h->fd < 0)
		return -EBADF;
	tree_lock(&c->t);
	if (!n->c.dirty || !tree_content_whole_locked(n)) {
		if (n->c.orphan && !tree_content_whole_locked(n))
			rc = -EIO;
		else
			rc = fetch_ensure_whole_locked(c, n);
		if (rc == 0)
			fetch_wait_idle_locked(c, n);
	}
	tree_unlock(&c->t);
	*fd = h->fd;
	return rc;
}

void cache_write_end(struct cache *c, struct cache_handle *h, int64_t off,
		     ssize_t written)
{
	struct node *n = h->n;
	int64_t end = off + (written > 0 ? written : 0);
	bool evict, was_dirty;

	if (written <= 0)
		return;
	tree_lock(&c->t);
	was_dirty = n->c.dirty;
	if (end > n->l.size) {
		/* A hole between the old end and off reads as zeros. */
		ranges_add(&n->c.present, n->l.size, end);
		n->l.size = end;
	}
	ranges_add(&n->c.present, off, end);
	bytes_changed_locked(c, n);
	stream_note_write_locked(c, n, off, end);
	evict = c->t.cached_bytes > c->o.size_max;
	tree_unlock(&c->t);
	/* A clean file turned dirty: journaled before the write is
	 * acknowledged (later writes are journaled at close and fsync). */
	if (!was_dirty && journal_commit(c->j) < 0)
		log_err(SUB,
			"journaling the first write of inode %" PRIu64
			" failed",
			n->ino);
	if (evict)
		cache_evict(c);
}

int cache_fsync(struct cache *c, uint64_t ino, struct cache_handle *h,
		bool datasync)
{
	struct node *n;
	int rc = 0;

	tree_lock(&c->t);
	n = h ? h->n : tree_get_locked(&c->t, ino);
	if (!n) {
		rc = -ESTALE;
		goto out;
	}
	if (c->o.fsync_remote && !(n->l.local_only && !n->r.exists)) {
		tree_ref_locked(n);
		rc = sync_wait_node_locked(c, n);
		tree_unref_locked(&c->t, n);
		goto out;
	}
	if (h && h->fd >= 0) {
		tree_unlock(&c->t);
		rc = (datasync ? fdatasync(h->fd) : fsync(h->fd)) < 0 ? -errno
								      : 0;
		/* --fsync=local: the bytes, then the record claiming them. */
		tree_lock(&c->t);
		journal_note_final_locked(c, n);
		tree_unlock(&c->t);
		if (rc == 0)
			rc = journal_sync(c->j);
		return rc;
	}
out:
	tree_unlock(&c->t);
	return rc;
}

void cache_release(struct cache *c, struct cache_handle *h)
{
	struct node *n = h->n;

	tree_lock(&c->t);
	n->c.open_count--;
	if (writable(h->flags)) {
		n->c.open_writers--;
		stream_note_release_locked(c, n);
		/* The writeback delay runs from the last close (none when a
		 * streamed upload has most of the bytes in Drive). */
		if (!n->c.open_writers)
			sync_note_locked(c, n);
	}
	/* The poller kept the size of the version the readers had open
	 * (poll.c): the last close takes Drive's. */
	if (!n->c.open_count && n->kind == NODE_FILE && !n->c.dirty &&
	    !list_linked(&n->s.pending) && !n->s.in_flight && n->r.exists &&
	    n->r.md5[0] && n->c.md5[0] && strcmp(n->c.md5, n->r.md5)) {
		n->l.size = MAX(n->r.size, 0);
		if (n->r.mtime_ms >= 0) {
			n->l.mtime.tv_sec = n->r.mtime_ms / 1000;
			n->l.mtime.tv_nsec = (n->r.mtime_ms % 1000) * 1000000;
		}
	}
	list_del_init(&h->link);
	tree_unref_locked(&c->t, n);
	tree_unlock(&c->t);
	if (h->fd >= 0)
		close(h->fd);
	/* The final size and mtime of what was written (release() cannot
	 * fail; an error is logged by the journal). */
	if (writable(h->flags))
		journal_commit(c->j);
	free(h);
}
