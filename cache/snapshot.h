/*
 * The metadata snapshot (private to cache/): what the mount knows of Drive,
 * saved in <cache dir>/snapshot so that a remount (after a clean unmount or
 * a crash) serves its first `ls` from local state and only catches up with
 * changes.list from the saved page token (INTERNALS.md "Snapshot").
 *
 * It holds the REMOTE view: every node Drive has as far as we know (id,
 * Drive name, parent id, MIME type, size, version, md5, times, the
 * appProperties drivefs uses), its inode number, whether a folder's
 * listing is complete, and whether a clean file's bytes are all in the
 * cache (SNAP_CACHED, with the md5 they are of); plus the poller's page
 * token and the identity it belongs to (account key, root folder id).
 * Local pending work is the journal's (journal.h): at start the snapshot
 * is loaded first and the journal's recovery applies on top of it.
 *
 * File: "DFSSNAP1" | u32 version | u64 payload length | u64 XXH64(payload)
 * | payload; integers little-endian. A file that is short, long, fails its
 * check, has another version or identity, or holds a record that does not
 * decode (ids, md5, names bounded and checked as drive/record.c checks
 * Drive's replies) is ignored as a whole: the mount lists from Drive.
 * Written atomically: snapshot.new, fdatasync, rename, fsync of the folder.
 */
#ifndef CACHE_SNAPSHOT_H
#define CACHE_SNAPSHOT_H

#include "common/compat.h"

#include "drive/drive.h"

struct cache;

#define SNAP_MAGIC "DFSSNAP1"
#define SNAP_MAGIC_LEN 8
#define SNAP_VERSION 2 /* 2: clean cached files (SNAP_CACHED) */
#define SNAP_HDR (SNAP_MAGIC_LEN + 4 + 8 + 8)
#define SNAP_TOKEN_MAX 256
#define SNAP_KEY_MAX 128 /* account key: hex digest */

enum snap_flags {
	SNAP_LISTED = 1 << 0, /* a folder whose children are all known */
	/* A file whose cache file content/<ino> held all its f.size bytes,
	 * clean, of Drive's md5 cached_md5: a remount keeps them, checked
	 * before their first use (fetch_verify_kept_locked()). */
	SNAP_CACHED = 1 << 1,
};

/* Who a snapshot belongs to, and where its change feed stands. */
struct snap_head {
	char account[SNAP_KEY_MAX + 1]; /* opaque, from fs/ */
	char root_id[DRIVE_ID_MAX + 1];
	char email[256];		/* for drivefs-status only */
	char token[SNAP_TOKEN_MAX + 1]; /* changes.list page token */
	int64_t wall_ms;		/* when it was written */
	uint64_t next_ino;		/* the tree's inode counter */
	bool root_listed;
};

/* One node: its inode, flags, and Drive's state of it (strings owned). */
struct snap_node {
	uint64_t ino;
	uint32_t flags;
	struct drive_file f;
	/* SNAP_CACHED: the md5 the cached bytes are of, and the file's
	 * place on the LRU (1 = least recently used); else "" and 0. */
	char cached_md5[DRIVE_MD5_HEX + 1];
	uint64_t lru;
};

/*
 * Pure: encode @h and @v[0..@n) into *@out (new, free()), *@len bytes.
 * Returns 0, -EINVAL (a field over its bound) or -ENOMEM.
 */
int snap_encode(const struct snap_head *h, const struct snap_node *v, size_t n,
		uint8_t **out, size_t *len);
/*
 * Pure: decode a whole snapshot file. *@v is new (snap_nodes_free()).
 * Returns 0, -EPROTO (another format version), -EINVAL (torn, damaged or
 * a record out of bounds) or -ENOMEM.
 */
int snap_decode(const uint8_t *buf, size_t len, struct snap_head *h,
		struct snap_node **v, size_t *n);
void snap_nodes_free(struct snap_node *v, size_t n);
/* Pure: @h belongs to account key @account and root folder @root_id. */
bool snap_head_matches(const struct snap_head *h, const char *account,
		       const char *root_id);

/*
 * Load <dir>/snapshot into @c's fresh tree (from cache_new(), before the
 * journal's recovery and store_init()) when it belongs to @c's account
 * and root; otherwise remove it (logged at info/warn) and leave the tree
 * cold. Sets c->snap_token on success. Files recorded SNAP_CACHED whose
 * cache file is there with the recorded size get their bytes back,
 * marked n->c.unverified (store_init() then keeps those files).
 * Returns 0 or -ENOMEM.
 */
int snapshot_load(struct cache *c);
/*
 * Write the snapshot of @c's tree now (no lock held; takes the tree lock
 * to copy, writes unlocked). Returns 0 or -errno (logged).
 */
int snapshot_write(struct cache *c);
/* A periodic write when one is due (the journal thread, every second). */
void snapshot_tick(struct cache *c);

#endif
