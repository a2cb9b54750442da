/*
 * Reading from Drive into the tree and the cache files: folder listings on
 * first access, file bytes on first read.
 *
 * Listings: one files.list of the folder's children (pageSize 1000, every
 * page), applied to the tree page by page under the lock, then display
 * names assigned for the whole folder. Concurrent callers wait for the one
 * listing in progress (dir->listing).
 *
 * Bytes: n->c.present says which bytes of the cache file are valid,
 * n->c.fetching which are being downloaded. A reader claims the gaps it
 * needs (at most CACHE_FETCH_CHUNK per request), downloads them itself with
 * the lock dropped and waits for gaps others have claimed. Readahead
 * claims further gaps and hands them to the fetch workers
 * ("drivefs-fetch-N"), so several ranges of a big file download at once.
 * Random reads of a big file start a SWEEP after a few misses: one stream
 * per worker, each starting at its share of the file and walking on gap
 * by gap (one chunk in flight each, so a miss never queues behind the
 * whole file) while the file is open; misses meanwhile fetch only a little
 * around themselves, as the sweep brings the rest.
 * A download applies only if n->c.epoch did not change meanwhile (the bytes
 * were discarded, truncated or evicted), and never to a dirty file: local
 * writes happen only after the whole file is present and no download is
 * running (fetch_wait_idle_locked()).
 */
#include "common/compat.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache_i.h"
#include "cache/hash.h"
#include "common/clock.h"
#include "common/log.h"

#define SUB "fetch"
/* Downloads that came back short or failed the md5 check, for a version
 * Drive still says it holds, tried again before a read fails with EIO (a
 * transfer went wrong; under a fault storm two in a row happen). */
#define FETCH_STALE_TRIES 5

struct list_ctx {
	struct cache *c;
	struct node *dir;
};

static int apply_one(void *arg, const struct drive_file *f)
{
	struct list_ctx *lc = arg;
	int rc;

	tree_lock(&lc->c->t);
	rc = tree_apply_listed_locked(&lc->c->t, lc->dir, f);
	if (rc == 0) {
		struct node *n = tree_by_id_locked(&lc->c->t, f->id);

		if (n)
			n->list_gen = lc->dir->list_gen;
	}
	tree_unlock(&lc->c->t);
	return rc;
}

static void gone_inval(void *ctx, uint64_t dir, const char *dname)
{
	poll_queue_inval(ctx, dir, dname);
}

/*
 * After a listing of @dir (generation dir->list_gen): a clean child that
 * Drive listed here before but not this time has left (a change we missed
 * or skipped while it had local work): forget it, as the poller would.
 */
static void prune_unlisted_locked(struct cache *c, struct node *dir,
				  int64_t start_ms)
{
	struct list_head *pos, *tmp;

	list_for_each_safe(pos, tmp, &dir->children)
	{
		struct node *n = list_entry(pos, struct node, sibling);

		/* Heard of after the listing began: newer than it. */
		if (n->list_gen == dir->list_gen || n->r.seen_ms >= start_ms ||
		    !n->id[0] || !n->r.exists || strcmp(n->r.parent, dir->id) ||
		    tree_subtree_busy_locked(n))
			continue;
		/* A folder with children goes only after the change feed
		 * was restarted (poll.c): then listings are all we have.
		 * Otherwise the poller says when a folder left. */
		if (n->kind == NODE_DIR && !list_empty(&n->children) &&
		    !c->prune_folders)
			continue;
		log_debug(SUB, "'%s' (%s) is no longer in Drive's folder %s",
			  tree_name_for_log(n), n->id, dir->id);
		tree_drop_subtree_locked(&c->t, n, gone_inval, c);
	}
}

/* Levels of folders below one the user listed that are listed ahead. */
#define PREFETCH_DEPTH 4
/* Listing jobs queued at most (each up to FETCH_LIST_BATCH folders). */
#define PREFETCH_JOBS_MAX 64

static void prefetch_children_locked(struct cache *c, struct node *dir,
				     int depth);

/* A listing of @dir (generation dir->list_gen, begun at @start_ms) is
 * complete: make its children visible. */
static void listed_locked(struct cache *c, struct node *dir, int64_t start_ms)
{
	prune_unlisted_locked(c, dir, start_ms);
	tree_settle_shortcuts_locked(&c->t, dir);
	dir->listed = true;
	twins_check_dir_locked(c, dir);
}

int fetch_ensure_listed_locked(struct cache *c, struct node *dir)
{
	struct tree *t = &c->t;
	char id[DRIVE_ID_MAX + 1];
	struct drive_err err;
	struct list_ctx lc = {c, dir};
	int64_t start_ms;
	int rc;

	while (!dir->listed) {
		if (dir->listing) {
			tree_wait_locked(t);
			continue;
		}
		if (!dir->r.exists || !dir->id[0]) {
			dir->listed = true; /* made here: nothing to list */
			break;
		}
		dir->listing = true;
		dir->list_gen++;
		start_ms = clock_mono_ms();
		memcpy(id, dir->id, sizeof(id));
		tree_ref_locked(dir);
		tree_unlock(t);
		drive_err_init(&err);
		rc = drive_files_list_children(c->d, id, apply_one, &lc, &err);
		tree_lock(t);
		dir->listing = false;
		if (rc == 0)
			rc = tree_assign_names_locked(t, dir);
		if (rc == 0) {
			listed_locked(c, dir, start_ms);
			/* `ls -R`, `find`, `git status` come next: list the
			 * folders below ahead, several per request. */
			prefetch_children_locked(c, dir, PREFETCH_DEPTH);
		}
		tree_broadcast_locked(t);
		tree_unref_locked(t, dir);
		if (rc < 0) {
			char why[256];

			log_warn(SUB, "listing of folder '%s' (%s) failed: %s",
				 tree_name_for_log(dir), id,
				 err.http_status || err.curl_code ||
					 err.reason[0]
				     ? drive_err_str(&err, why, sizeof(why))
				     : strerror(-rc));
			return rc;
		}
	}
	tree_names_fresh_locked(t, dir);
	return 0;
}

/*
 * Download [off, end) of @n, which the caller marked in n->c.fetching and
 * holds a reference on. Drops the lock for the transfer; clears the mark,
 * records the bytes and wakes waiters. Returns 0 or -errno.
 */
static int download_locked(struct cache *c, struct node *n, int64_t off,
			   int64_t end, uint64_t epoch)
{
	struct tree *t = &c->t;
	char id[DRIVE_ID_MAX + 1];
	struct drive_err err;
	int64_t got = 0;
	int fd, rc;

	memcpy(id, n->id, sizeof(id));
	n->c.has_file = true;
	tree_unlock(t);
	log_debug(SUB, "download of '%s' (%s) bytes %" PRId64 "-%" PRId64,
		  tree_name_for_log(n), id, off, end);
	drive_err_init(&err);
	fd = store_open(&c->store, n->ino, O_RDWR);
	rc = fd;
	if (fd >= 0) {
		rc = drive_files_read_fd(c->d, id, off, end - off, fd, off,
					 &got, &err);
		if (rc == 0 && got < end - off) {
			/* Drive's file is shorter than we know it: it
			 * changed (the caller looks again). */
			drive_err_set(&err, 0, "shortRead",
				      "got %" PRId64 " of %" PRId64 " bytes",
				      got, end - off);
			rc = -ESTALE;
		}
		close(fd);
	}
	tree_lock(t);
	ranges_remove(&n->c.fetching, off, end);
	if (rc == 0 && n->c.epoch == epoch && !n->c.dirty) {
		bool whole = tree_content_whole_locked(n);

		/* The first bytes say which version the file holds. */
		if (!n->c.present.n)
			memcpy(n->c.md5, n->r.md5, sizeof(n->c.md5));
		if (ranges_add(&n->c.present, off, end) < 0)
			rc = -ENOMEM;
		store_account_locked(t, n);
		/* All cached now: the next snapshot keeps the file. */
		if (!whole && tree_content_whole_locked(n))
			t->changes++;
	}
	if (rc == -ECANCELED) {
		/* Shutdown cut a readahead short: expected, nothing lost. */
		log_debug(SUB, "download of '%s' (%s) cancelled",
			  tree_name_for_log(n), id);
	} else if (rc == -ESTALE || rc == -ENOENT) {
		log_debug(SUB, "download of '%s' (%s): it changed in Drive",
			  tree_name_for_log(n), id);
	} else if (rc < 0) {
		char why[256];

		log_warn(SUB,
			 "download of '%s' (%s) bytes %" PRId64 "-%" PRId64
			 " failed: %s",
			 tree_name_for_log(n), id, off, end,
			 err.http_status || err.curl_code || err.reason[0]
			     ? drive_err_str(&err, why, sizeof(why))
			     : strerror(-rc));
	}
	tree_broadcast_locked(t);
	return rc;
}

/*
 * The first gap of [off, end) that is neither present nor being fetched,
 * cut to CACHE_FETCH_CHUNK. Returns false when there is none.
 */
static bool unclaimed_gap(const struct node *n, int64_t off, int64_t end,
			  int64_t *gs, int64_t *ge)
{
	int64_t ps, pe;

	while (ranges_first_gap(&n->c.present, off, end, &ps, &pe)) {
		int64_t fs, fe;

		if (ranges_first_gap(&n->c.fetching, ps, pe, &fs, &fe)) {
			*gs = fs;
			*ge = MIN(fe, fs + CACHE_FETCH_CHUNK);
			return true;
		}
		off = pe;
	}
	return false;
}

/*
 * Bytes of @n can come from Drive (it has them and ours are not newer),
 * and they are of the version the present bytes are of: a file that
 * changed in Drive while open keeps its old bytes until the last close
 * (poll.c), and must never be completed with the new version's.
 */
static bool fetchable(const struct node *n)
{
	if (n->c.present.n && n->c.md5[0] && strcmp(n->c.md5, n->r.md5))
		return false;
	return n->r.exists && n->id[0] && !n->c.dirty;
}

/*
 * A download found Drive's file other than we know it (shorter, or gone):
 * it changed and the poller has not told us yet. Read its metadata now and
 * take the new version as the poller would, if nothing holds bytes of the
 * old one; Drive's md5 of it into @seen_md5 (33 bytes) unless NULL.
 * Returns 0 (a new version: try again), -EAGAIN (the version we
 * know, or one we cannot take now: the download itself went wrong, so try
 * it again), -ENOENT (gone from Drive) or -EIO.
 */
static int revalidate_locked(struct cache *c, struct node *n, char *seen_md5)
{
	struct tree *t = &c->t;
	char id[DRIVE_ID_MAX + 1];
	struct drive_file *f = NULL;
	struct drive_err err;
	int rc;

	if (n->l.deleted || !n->id[0])
		return -ENOENT; /* the poller found it gone meanwhile */
	memcpy(id, n->id, sizeof(id));
	drive_err_init(&err);
	tree_unlock(t);
	rc = drive_files_get(c->d, id, &f, &err);
	tree_lock(t);
	if (rc == 0 && f->trashed)
		rc = -ENOENT;
	if (rc < 0)
		goto out;
	if (seen_md5)
		memcpy(seen_md5, f->md5, DRIVE_MD5_HEX + 1);
	if (n->l.deleted || !n->id[0]) {
		rc = -ENOENT; /* the poller found it gone meanwhile */
		goto out;
	}
	rc = -EAGAIN;
	if (strcmp(n->id, id) || n->c.dirty || !n->l.parent ||
	    n->c.fetching.n || n->c.pins || n->c.evicting) {
		log_debug(SUB, "'%s' (%s) changed in Drive but is busy here",
			  tree_name_for_log(n), id);
		goto out; /* the poller sorts it out */
	}
	if (f->version == n->r.version && !strcmp(f->md5, n->r.md5) &&
	    !strcmp(f->md5, n->c.md5) && f->size == n->l.size) {
		log_debug(SUB,
			  "'%s' (%s): Drive's version %" PRId64 " is the "
			  "one we know",
			  tree_name_for_log(n), id, f->version);
		goto out; /* not a new version: a real short read */
	}
	log_debug(SUB, "'%s' (%s) changed in Drive (version %" PRId64 ")",
		  tree_name_for_log(n), id, f->version);
	n->c.epoch++;
	n->c.have_xxh = false;
	ranges_clear(&n->c.present);
	store_account_locked(t, n);
	rc = tree_adopt_remote_locked(t, n, n->l.parent, f);
	n->c.md5[0] = '\0';
	poll_queue_inval(c, n->ino, NULL);
out:
	drive_file_free(f);
	return rc == -ENOENT || rc == 0 || rc == -ENOMEM || rc == -EAGAIN
		   ? rc
		   : -EIO;
}

/* ---- cached files kept from the last run ---- */

/* After asking Drive about a kept file failed (offline: about 2 s per
 * try), checks use the md5 we know for this long without asking. */
#define KEPT_ASK_PAUSE_MS (60 * 1000)

/* Drop @n's kept bytes; @why for the log (NULL: nothing to say). */
static void drop_kept_locked(struct cache *c, struct node *n, const char *why)
{
	if (why)
		log_debug(SUB, "'%s' (%s): cached bytes of the last run %s",
			  tree_name_for_log(n), n->id, why);
	n->c.epoch++;
	n->c.have_xxh = false;
	n->c.md5[0] = '\0';
	ranges_clear(&n->c.present);
	store_account_locked(&c->t, n); /* clears n->c.unverified */
	n->c.unverified = false;
	c->kept_dropped++;
}

void fetch_forget_kept_locked(struct cache *c, struct node *n)
{
	while (n->c.verifying)
		tree_wait_locked(&c->t);
	if (n->c.unverified)
		drop_kept_locked(c, n, "replaced unread");
}

/* Hash the cache file of @n (pinned, lock dropped): its MD5 into @md5
 * and xxh3-128 into @xxh. Returns 0, or -errno (-EIO: not @size bytes). */
static int hash_kept(struct cache *c, uint64_t ino, int64_t size,
		     char md5[DRIVE_MD5_HEX + 1], uint8_t xxh[HASH_LEN])
{
	struct stat st;
	int fd = store_open(&c->store, ino, O_RDONLY);
	int rc = fd;

	if (fd < 0)
		return rc;
	if (fstat(fd, &st) < 0)
		rc = -errno;
	else if (st.st_size != size)
		rc = -EIO;
	else
		rc = hash_fd_md5(fd, size, md5);
	if (rc == 0)
		rc = hash_fd(fd, size, xxh);
	close(fd);
	return rc;
}

void fetch_verify_kept_locked(struct cache *c, struct node *n)
{
	struct tree *t = &c->t;
	char md5[DRIVE_MD5_HEX + 1], drive_md5[DRIVE_MD5_HEX + 1] = "";
	uint8_t xxh[HASH_LEN];
	bool asked = false;

	while (n->c.unverified) {
		uint64_t epoch = n->c.epoch;
		int64_t size = n->l.size;
		int rc;

		if (n->c.verifying) {
			tree_wait_locked(t);
			continue;
		}
		if (n->c.dirty || n->kind != NODE_FILE) {
			/* Never so (journal.c build_locked() takes dirty
			 * bytes from the journal): not ours to check. */
			n->c.unverified = false;
			break;
		}
		n->c.verifying = true;
		if (!c->caught_up && !asked &&
		    (!c->kept_ask_failed_ms ||
		     clock_mono_ms() - c->kept_ask_failed_ms >
			 KEPT_ASK_PAUSE_MS)) {
			/* The catch-up has not told us what changed while
			 * unmounted: ask Drive for this file. A new version
			 * is taken (and the bytes dropped) as a download
			 * that met it would. */
			asked = true;
			rc = revalidate_locked(c, n, drive_md5);
			n->c.verifying = false;
			tree_broadcast_locked(t);
			if (rc == 0 && !n->c.unverified)
				c->kept_dropped++; /* a new version */
			if (rc == -ENOENT && n->c.unverified)
				drop_kept_locked(c, n, "are of a file gone");
			else if (rc < 0 && rc != -EAGAIN)
				c->kept_ask_failed_ms = clock_mono_ms();
			if (rc < 0 && rc != -EAGAIN && rc != -ENOENT)
				log_debug(SUB,
					  "'%s' (%s): asking Drive failed "
					  "(%s): checking with the md5 we "
					  "know",
					  tree_name_for_log(n), n->id,
					  strerror(-rc));
			continue;
		}
		n->c.pins++; /* no eviction while the lock is dropped */
		tree_unlock(t);
		rc = hash_kept(c, n->ino, size, md5, xxh);
		tree_lock(t);
		n->c.pins--;
		n->c.verifying = false;
		tree_broadcast_locked(t);
		if (!n->c.unverified || n->c.epoch != epoch ||
		    n->l.size != size || n->c.dirty)
			continue; /* changed meanwhile: look again */
		if (rc < 0) {
			drop_kept_locked(c, n, "are unreadable");
		} else if (!n->r.exists || !n->r.md5[0] ||
			   strcmp(md5, n->r.md5) ||
			   (drive_md5[0] && strcmp(md5, drive_md5))) {
			if (!strcmp(n->c.md5, n->r.md5))
				log_info(SUB,
					 "'%s' (%s): the cached bytes kept "
					 "from the last run are damaged (md5 "
					 "%s, Drive's %s): downloading "
					 "again",
					 tree_name_for_log(n), n->id, md5,
					 n->r.md5);
			drop_kept_locked(c, n, "are not Drive's version");
		} else {
			memcpy(n->c.md5, n->r.md5, sizeof(n->c.md5));
			memcpy(n->c.xxh, xxh, sizeof(n->c.xxh));
			n->c.have_xxh = true;
			n->c.unverified = false;
			c->kept_verified++;
			log_debug(SUB,
				  "'%s' (%s): cached bytes of the last run "
				  "are Drive's (md5 %s)",
				  tree_name_for_log(n), n->id, md5);
		}
	}
}

/* The bytes of @n kept coming back other than Drive's file: EIO, said. */
static int stale_eio(const struct node *n, int tries)
{
	log_warn(SUB,
		 "'%s' (%s): downloads came back short or other than Drive's "
		 "version %d times: giving up (EIO)",
		 tree_name_for_log(n), n->id, tries);
	return -EIO;
}

int fetch_ensure_range_locked(struct cache *c, struct node *n, int64_t off,
			      int64_t end)
{
	struct tree *t = &c->t;
	int64_t gs, ge, want = end;
	int rc, tries = 0;

	fetch_verify_kept_locked(c, n); /* after open: done already */
	end = MIN(want, n->l.size);
	while (!ranges_covers(&n->c.present, off, end)) {
		if (!fetchable(n) && (!n->id[0] || !n->r.exists)) {
			/* Gone from Drive meanwhile (the poller dropped it):
			 * as if the open had come after. */
			return -ENOENT;
		}
		if (!fetchable(n)) {
			log_debug(SUB,
				  "'%s' (%s): bytes %" PRId64 "-%" PRId64
				  " are of no version Drive has",
				  tree_name_for_log(n), n->id, off, end);
			return -EIO; /* nothing can supply the bytes */
		}
		if (!unclaimed_gap(n, off, end, &gs, &ge)) {
			tree_wait_locked(t); /* others are fetching the rest */
			continue;
		}
		/* Ask for at least CACHE_FETCH_MIN: a 128 KiB read per
		 * request would make latency, not bandwidth, the limit
		 * (unless a sweep brings the rest). */
		unclaimed_gap(n, gs,
			      MAX(ge, MIN(n->l.size,
					  gs + (n->c.sweeps
						    ? CACHE_FETCH_MIN_SWEEP
						    : CACHE_FETCH_MIN))),
			      &gs, &ge);
		if (ranges_add(&n->c.fetching, gs, ge) < 0)
			return -ENOMEM;
		rc = download_locked(c, n, gs, ge, n->c.epoch);
		if ((rc == -ESTALE || rc == -ENOENT) &&
		    tries++ < FETCH_STALE_TRIES) {
			rc = revalidate_locked(c, n, NULL);
			if (rc == -EAGAIN)
				rc = 0;
			end = MIN(want, n->l.size);
		}
		if (rc == -ESTALE || rc == -EAGAIN)
			return stale_eio(n, tries);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* Claim [gs, ge) of @n for a fetch worker. Returns false on ENOMEM. */
static bool queue_range_locked(struct cache *c, struct node *n, int64_t gs,
			       int64_t ge, bool sweep)
{
	struct fetch_job *j = calloc(1, sizeof(*j));

	if (!j || ranges_add(&n->c.fetching, gs, ge) < 0) {
		free(j);
		return false;
	}
	j->n = n;
	j->off = gs;
	j->end = ge;
	j->epoch = n->c.epoch;
	j->sweep = sweep;
	n->c.sweeps += sweep;
	tree_ref_locked(n);
	list_add_tail(&j->link, &c->fetch_jobs);
	pthread_cond_signal(&c->fetch_cond);
	return true;
}

void fetch_readahead_locked(struct cache *c, struct node *n, int64_t off,
			    int64_t end)
{
	int64_t gs, ge;

	end = MIN(end, n->l.size);
	if (!fetchable(n) || c->fetch_stop || !c->n_fetch_threads)
		return;
	while (unclaimed_gap(n, off, end, &gs, &ge) &&
	       queue_range_locked(c, n, gs, ge, false))
		off = ge;
}

/* The next step of a sweep stream: the first gap from @from on (then from
 * the start). False when the file has none left, or is no longer read. */
static bool sweep_next_locked(struct cache *c, struct node *n, int64_t from)
{
	int64_t gs, ge;

	if (!n->c.open_count || !fetchable(n) || c->fetch_stop)
		return false;
	if (!unclaimed_gap(n, from, n->l.size, &gs, &ge) &&
	    !unclaimed_gap(n, 0, from, &gs, &ge))
		return false;
	return queue_range_locked(c, n, gs, ge, true);
}

void fetch_sweep_locked(struct cache *c, struct node *n)
{
	int k = c->n_fetch_threads;

	/* Not for a file the cache could not keep whole. */
	if (n->c.sweeps || !k || n->l.size > c->o.size_max / 2)
		return;
	log_debug(SUB, "'%s' (%s): random reads: fetching the rest of it",
		  tree_name_for_log(n), n->id);
	for (int i = 0; i < k; i++)
		sweep_next_locked(c, n,
				  n->l.size / k * i / CACHE_FETCH_CHUNK *
				      CACHE_FETCH_CHUNK);
}

/*
 * A file that just became whole from Drive: check its MD5 against Drive's
 * (ranges fetched while it changed in Drive would mix two versions), and
 * record its hash, so a later rewrite of the same bytes uploads nothing.
 * Drops the lock to hash. Returns 0, or -ESTALE when the bytes are not of
 * the version we know (they are dropped).
 */
static int verify_fetched_locked(struct cache *c, struct node *n)
{
	uint64_t epoch = n->c.epoch;
	int64_t size = n->l.size;
	char md5[DRIVE_MD5_HEX + 1], want[DRIVE_MD5_HEX + 1];
	uint8_t xxh[HASH_LEN];
	int fd, rc;

	if (n->c.have_xxh || n->c.dirty)
		return 0;
	memcpy(want, n->c.md5, sizeof(want));
	n->c.pins++; /* no eviction while the lock is dropped */
	tree_unlock(&c->t);
	fd = store_open(&c->store, n->ino, O_RDONLY);
	rc = fd;
	if (fd >= 0) {
		rc = hash_fd(fd, size, xxh);
		if (rc == 0 && want[0])
			rc = hash_fd_md5(fd, size, md5);
		close(fd);
	}
	tree_lock(&c->t);
	n->c.pins--;
	if (rc < 0 || n->c.epoch != epoch || n->c.dirty || size != n->l.size)
		return 0; /* changed meanwhile: whoever did it decides */
	if (want[0] && strcmp(md5, want)) {
		log_info(SUB,
			 "'%s' (%s): fetched bytes are not Drive's "
			 "version (md5 %s): fetching again",
			 tree_name_for_log(n), n->id, want);
		n->c.epoch++;
		ranges_clear(&n->c.present);
		store_account_locked(&c->t, n);
		return -ESTALE;
	}
	memcpy(n->c.xxh, xxh, sizeof(xxh));
	n->c.have_xxh = true;
	return 0;
}

int fetch_ensure_whole_locked(struct cache *c, struct node *n)
{
	int rc, tries = 0;

	fetch_verify_kept_locked(c, n);
	do {
		if (tree_content_whole_locked(n))
			return 0;
		/* Big files: the workers fetch chunks in parallel with us. */
		if (n->l.size > CACHE_FETCH_CHUNK)
			fetch_readahead_locked(c, n, 0, n->l.size);
		rc = fetch_ensure_range_locked(c, n, 0, n->l.size);
		if (rc == 0 && n->l.size <= c->o.whole_max)
			rc = verify_fetched_locked(c, n);
		if (rc == -ESTALE && tries < FETCH_STALE_TRIES) {
			rc = revalidate_locked(c, n, NULL);
			if (rc == -EAGAIN)
				rc = 0;
		}
	} while (rc == 0 && tries++ < FETCH_STALE_TRIES &&
		 !tree_content_whole_locked(n));
	if (rc == -ESTALE || rc == -EAGAIN)
		return stale_eio(n, tries);
	return rc;
}

/* ---- prefetching listings ---- */

struct batch_ctx {
	struct cache *c;
	struct fetch_job *j;
};

static int apply_batch_one(void *arg, const struct drive_file *f)
{
	struct batch_ctx *bc = arg;
	struct tree *t = &bc->c->t;
	struct node *dir;
	int rc = 0;

	tree_lock(t);
	dir = tree_by_id_locked(t, f->parent);
	for (size_t i = 0; dir && i < bc->j->n_dirs; i++) {
		if (bc->j->dirs[i] != dir || !dir->listing)
			continue;
		rc = tree_apply_listed_locked(t, dir, f);
		if (rc == 0) {
			struct node *n = tree_by_id_locked(t, f->id);

			if (n)
				n->list_gen = dir->list_gen;
		}
		break;
	}
	tree_unlock(t);
	return rc;
}

/* Run the listing job @j (worker thread, lock held; dropped meanwhile). */
static void list_batch_locked(struct cache *c, struct fetch_job *j)
{
	struct tree *t = &c->t;
	const char *ids[FETCH_LIST_BATCH];
	char idbuf[FETCH_LIST_BATCH][DRIVE_ID_MAX + 1];
	struct batch_ctx bc = {c, j};
	struct drive_err err;
	size_t n = 0, i;
	int64_t start_ms = clock_mono_ms();
	int rc;

	/* Someone may have listed some meanwhile: keep the rest. */
	for (i = 0; i < j->n_dirs; i++) {
		struct node *d = j->dirs[i];

		if (d->listed || d->listing || !d->r.exists || !d->id[0] ||
		    d->l.deleted) {
			tree_unref_locked(t, d);
			continue;
		}
		d->listing = true;
		d->list_gen++;
		memcpy(idbuf[n], d->id, sizeof(idbuf[n]));
		ids[n] = idbuf[n];
		j->dirs[n++] = d;
	}
	j->n_dirs = n;
	if (!n)
		return;
	tree_unlock(t);
	drive_err_init(&err);
	rc = drive_files_list_children_many(c->d, ids, n, apply_batch_one, &bc,
					    &err);
	tree_lock(t);
	for (i = 0; i < n; i++) {
		struct node *d = j->dirs[i];

		d->listing = false;
		if (rc == 0)
			rc = tree_assign_names_locked(t, d);
		if (rc == 0)
			listed_locked(c, d, start_ms);
	}
	tree_broadcast_locked(t);
	if (rc < 0)
		log_debug(SUB,
			  "prefetching %zu folder listings failed: %s "
			  "(each is listed when opened)",
			  n, strerror(-rc));
	for (i = 0; i < n; i++) {
		if (rc == 0 && j->depth > 0)
			prefetch_children_locked(c, j->dirs[i], j->depth - 1);
		tree_unref_locked(t, j->dirs[i]);
	}
}

static void queue_batch_locked(struct cache *c, struct fetch_job *j)
{
	list_add_tail(&j->link, &c->fetch_jobs);
	c->prefetch_jobs++;
	pthread_cond_signal(&c->fetch_cond);
}

static void prefetch_children_locked(struct cache *c, struct node *dir,
				     int depth)
{
	struct fetch_job *j = NULL;
	struct list_head *pos;

	if (c->fetch_stop || !c->n_fetch_threads)
		return;
	list_for_each(pos, &dir->children)
	{
		struct node *d = list_entry(pos, struct node, sibling);

		if (d->kind != NODE_DIR || d->listed || d->listing ||
		    !d->r.exists || !d->id[0])
			continue;
		if (!j) {
			if (c->prefetch_jobs >= PREFETCH_JOBS_MAX)
				return; /* enough ahead: the rest on open */
			j = calloc(1, sizeof(*j));
			if (!j)
				return;
			j->depth = depth;
		}
		tree_ref_locked(d);
		j->dirs[j->n_dirs++] = d;
		if (j->n_dirs == FETCH_LIST_BATCH) {
			queue_batch_locked(c, j);
			j = NULL;
		}
	}
	if (j)
		queue_batch_locked(c, j);
}

void fetch_wait_idle_locked(struct cache *c, struct node *n)
{
	while (n->c.fetching.n)
		tree_wait_locked(&c->t);
}

static void *fetch_main(void *arg)
{
	struct cache *c = arg;
	struct tree *t = &c->t;
	char name[16];
	static int seq;

	snprintf(name, sizeof(name), "drivefs-fetch-%d",
		 __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
	pthread_setname_np(pthread_self(), name);
	tree_lock(t);
	while (!c->fetch_stop) {
		struct fetch_job *j;
		bool evict = false;

		if (list_empty(&c->fetch_jobs)) {
			pthread_cond_wait(&c->fetch_cond, &t->lock);
			continue;
		}
		j = list_entry(c->fetch_jobs.next, struct fetch_job, link);
		list_del_init(&j->link);
		if (!j->n) {
			list_batch_locked(c, j);
			c->prefetch_jobs--;
			free(j);
			continue;
		}
		if (fetchable(j->n) && j->n->c.epoch == j->epoch) {
			download_locked(c, j->n, j->off, j->end, j->epoch);
			evict = t->cached_bytes > c->o.size_max;
		} else {
			ranges_remove(&j->n->c.fetching, j->off, j->end);
			tree_broadcast_locked(t);
		}
		if (j->sweep) {
			j->n->c.sweeps--;
			if (j->n->c.epoch == j->epoch)
				sweep_next_locked(c, j->n, j->end);
		}
		tree_unref_locked(t, j->n);
		free(j);
		if (evict) {
			tree_unlock(t);
			cache_evict(c);
			tree_lock(t);
		}
	}
	tree_unlock(t);
	return NULL;
}

int fetch_start(struct cache *c)
{
	int n = c->o.fetch_workers, rc;

	c->fetch_threads = calloc((size_t)n, sizeof(*c->fetch_threads));
	if (!c->fetch_threads)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		rc = -pthread_create(&c->fetch_threads[i], NULL, fetch_main, c);
		if (rc < 0)
			return rc;
		c->n_fetch_threads++;
	}
	return 0;
}

void fetch_stop(struct cache *c)
{
	struct tree *t = &c->t;

	tree_lock(t);
	c->fetch_stop = true;
	pthread_cond_broadcast(&c->fetch_cond);
	tree_unlock(t);
	for (int i = 0; i < c->n_fetch_threads; i++)
		pthread_join(c->fetch_threads[i], NULL);
	c->n_fetch_threads = 0;
	free(c->fetch_threads);
	c->fetch_threads = NULL;
	/* Jobs nobody ran: drop their claims and references. */
	tree_lock(t);
	while (!list_empty(&c->fetch_jobs)) {
		struct fetch_job *j =
		    list_entry(c->fetch_jobs.next, struct fetch_job, link);

		list_del_init(&j->link);
		if (!j->n) {
			for (size_t i = 0; i < j->n_dirs; i++)
				tree_unref_locked(t, j->dirs[i]);
			c->prefetch_jobs--;
			free(j);
			continue;
		}
		ranges_remove(&j->n->c.fetching, j->off, j->end);
		j->n->c.sweeps -= j->sweep;
		tree_unref_locked(t, j->n);
		free(j);
	}
	tree_unlock(t);
}
