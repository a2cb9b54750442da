/*
 * The content store: one cache file per node, <dir>/content/<ino>, sparse
 * for large files, holding the bytes that node->c.present says are valid;
 * byte accounting and LRU eviction of clean files past --cache-size.
 *
 * Files are named by inode number, not Drive id: a node's Drive id can
 * change while its bytes and open fds must not (a generated id replaces the
 * placeholder of a file made offline; a rename over another file takes the
 * target's id, tree_swap_identity_locked()). Dirty files are never evicted;
 * neither are open ones or ones with a download or upload running.
 */
#ifndef CACHE_STORE_H
#define CACHE_STORE_H

#include "common/compat.h"

#include "cache/tree.h"

struct store {
	int dirfd; /* <dir>/content, O_PATH|O_DIRECTORY */
};

struct journal;
/*
 * Create <@dir>/content and empty it, but for the files journal @keep
 * (NULL: none) still needs (dirty bytes of a crashed run, journal.h) and
 * those of nodes of @t (NULL: none) holding bytes the snapshot kept
 * (n->c.unverified, snapshot.h). Takes @t's lock. Returns 0 or -errno.
 */
int store_init(struct store *s, const char *dir, const struct journal *keep,
	       struct tree *t);
void store_release(struct store *s);

/* Open (creating, 0600) the cache file of @ino with @flags. Returns fd or
 * -errno. */
int store_open(struct store *s, uint64_t ino, int flags);
/* Remove it; a missing file is fine. Returns 0 or -errno. */
int store_unlink(struct store *s, uint64_t ino);

/* After n->c.present changed: update byte counts and LRU membership. */
void store_account_locked(struct tree *t, struct node *n);
/* @n was used: move it to the young end of the LRU. */
void store_touch_locked(struct tree *t, struct node *n);

/* One cache file in LRU order, for store_evict_pick(). */
struct store_cand {
	int64_t bytes;
	bool busy; /* dirty, open, downloading or uploading */
};
/*
 * Pure: walk @v (oldest first) and mark in @evict[] the clean files to drop
 * until @usage is at most @max. Returns the number marked.
 */
size_t store_evict_pick(const struct store_cand *v, size_t n, int64_t usage,
			int64_t max, bool *evict);

#endif
