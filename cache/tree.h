/*
 * The tree: every file, folder and symlink the mount knows, in memory, as
 * struct node, indexed by inode number, by Drive id and by (parent, display
 * name). INTERNALS.md "The tree" explains the model: each node holds the
 * LOCAL state the mount shows and the REMOTE state Drive holds as far as we
 * know; the syncer (sync.c) pushes the difference.
 *
 * LOCK ORDERING. There is one metadata lock, tree->lock, and it is almost
 * a leaf: the only locks taken while holding it are the log's and the
 * poller's queue lock (poll.c, poll_queue_inval()), which are leaves
 * themselves (http.c's and the id pool's locks are taken only with it
 * released). It is never held across
 * a drive_*() call, content I/O (read/write/fsync/unlink of cache files),
 * fuse_reply_*() or any wait but on the condition variables that use it
 * (tree->cond; the cache's sync_cond and fetch_cond, cache_i.h).
 * Work that must block: take a reference (tree_ref_locked()), note the
 * generation counter you depend on (c.data_gen for the bytes, c.epoch for
 * the cached copy of them), unlock, do it, relock, and apply the result
 * only if the counter is unchanged (STYLE.md section 5).
 *
 * Lifetime: a node lives while it is in the namespace (linked under a
 * parent), or the kernel holds lookups on it (nlookup), or we hold
 * references (refs: open handles, workers), or it still has sync work
 * (pending). tree_maybe_free_locked() frees it when none holds. Unlinked
 * nodes that Drive still has are tombstones: deleted, off the namespace,
 * on the pending list until the syncer trashed them.
 *
 * All fields below `ino` are protected by tree->lock.
 */
#ifndef CACHE_TREE_H
#define CACHE_TREE_H

#include "common/compat.h"

#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

#include "cache/local_only.h"
#include "cache/ranges.h"
#include "common/hmap.h"
#include "common/list.h"
#include "drive/drive.h"

#define TREE_ROOT_INO 1

/* appProperties keys that carry POSIX state through Drive. */
#define TREE_PROP_MODE "drivefs_mode"	    /* "755" / "644" */
#define TREE_PROP_SYMLINK "drivefs_symlink" /* target, or "" = in content */
/* Set on every create: which machine made it (twins.c). */
#define TREE_PROP_HOST "drivefs_host"
/* Drive limits one appProperty to 124 bytes of key + value. */
#define TREE_PROP_KV_MAX 124

enum node_kind {
	NODE_FILE,
	NODE_DIR,
	NODE_SYMLINK,
	NODE_NATIVE, /* read-only stub: Google-native document, shortcut */
};

/* What the mount shows. */
struct node_local {
	struct node *parent; /* NULL: root, or unlinked */
	char *name;	     /* Drive name (names_decode of dname) */
	char *dname;	     /* display name; NULL when unlinked */
	int64_t size;
	struct timespec mtime, atime, ctime;
	bool exec;     /* the executable bit (0755 vs 0644) */
	char *symlink; /* symlink target; NULL: not known yet */
	char *mime;    /* NODE_NATIVE: Drive MIME type; else NULL */
	char shortcut[DRIVE_ID_MAX + 1]; /* shortcut target id, or "" */
	int64_t created_ms; /* Drive createdTime (names_assign order) */
	bool deleted;	    /* unlinked: a tombstone */
	bool local_only;    /* never uploaded (local_only.h), while it
			       does not exist in Drive */
};

/* What Drive holds, as far as we know. Meaningful when exists. */
struct node_remote {
	bool exists;
	char parent[DRIVE_ID_MAX + 1];
	char *name;
	int64_t version;
	char md5[DRIVE_MD5_HEX + 1];
	int64_t size;
	int64_t mtime_ms;
	bool exec;
	char *symlink;	 /* drivefs_symlink property, NULL if none */
	bool by_drivefs; /* created by a drivefs mount (drivefs_host) */
	bool by_us;	 /* ...on this machine (tree.host) */
	int64_t seen_ms; /* monotonic time Drive last told us of it */
};

/* The bytes in the cache file content/<ino> (store.h). */
struct node_content {
	struct ranges present;	/* bytes of the cache file that are valid */
	struct ranges fetching; /* being downloaded now */
	bool dirty;		/* differs from Drive: an upload is pending */
	uint64_t data_gen;	/* bumped on every local change of the bytes */
	uint64_t synced_gen;	/* data_gen that Drive holds */
	bool have_xxh;		/* xxh is the xxh3-128 of what Drive holds */
	uint8_t xxh[16];
	char md5[DRIVE_MD5_HEX + 1]; /* remote md5 the present bytes are of */
	int open_count;		     /* open handles */
	int open_writers;	     /* of which opened for writing */
	uint64_t epoch;		     /* bumped when the bytes are replaced by
					something the kernel has not seen */
	uint64_t kernel_epoch;	     /* epoch at the last open */
	struct list_head lru;	     /* on tree->lru while the file has bytes */
	int64_t bytes;		     /* present bytes counted in cached_bytes */
	bool has_file;		     /* a cache file may exist (store_open) */
	bool orphan;   /* the bytes belong to a Drive file this node
			  no longer has the id of (the old target of
			  a rename-over): never download more */
	bool evicting; /* eviction is unlinking the file */
	int pins;      /* I/O on the file outside a handle: not evictable */
	int sweeps;    /* sweep jobs queued or running (fetch.c) */
	/* Bytes kept from the last run (snapshot.c): not to be used, served
	 * or uploaded before fetch_verify_kept_locked() compared their md5
	 * with Drive's. Cleared with the bytes (store_account_locked()). */
	bool unverified;
	bool verifying; /* that check is hashing the file (others wait) */
};

/* Upload bookkeeping (sync.c). */
struct node_sync {
	struct list_head pending; /* on tree->pending while work remains */
	struct list_head tomb;	  /* on tree->tombs while pending and deleted */
	bool in_flight;		  /* a worker is pushing this node */
	bool urgent;		  /* fsync: push now, even while open */
	int64_t due_ms;		  /* writeback delay: not before this */
	int64_t retry_ms;	  /* after a failure: not before this */
	int fails;		  /* consecutive failures */
	int last_err;		  /* -errno of the last failure, 0 */
	int64_t last_fail_ms;	  /* monotonic time of it */
	bool remote_changed;	  /* Drive changed it while it had local
				     work: re-read it once it has none */
	bool placed_here;	  /* this mount put it at its Drive name and
				     folder (create, rename, move, merge) */
	/* Quarantine (sync.c, docs/SEMANTICS.md "Failures"): past the retry
	 * budget the work is parked, kept, listed by drivefs-status, and
	 * retried on --sync-now, at the next start or after an hour. Both
	 * are part of the pending state a journal persists. */
	bool quarantined;
	uint8_t err_class; /* enum drive_err_class of the last failure */
	bool journaled;	   /* the journal holds a PUT of it (journal.c) */
	/* Hashes of that PUT's payload, whole and without size and mtime. */
	uint64_t jhash, jmeta;
};

struct node {
	uint64_t ino;	     /* immutable */
	enum node_kind kind; /* immutable once the kernel can see it */

	char id[DRIVE_ID_MAX + 1]; /* Drive id, "" until one is assigned */
	uint64_t nlookup;	   /* kernel lookups (forget) */
	int refs;		   /* our own references */

	struct node_local l;
	struct node_remote r;
	struct node_content c;
	struct node_sync s;

	/* Directories. */
	struct list_head children; /* live children, by sibling */
	struct list_head sibling;
	size_t n_children;
	bool listed;	   /* children are known (listed or created here) */
	bool names_aliased; /* folders: some child shows under another name
			       than its Drive name (alias, encoding) */
	bool names_stale;   /* ...and a child left since the names were
			       assigned: tree_names_fresh_locked() */
	bool listing;	   /* a listing is running */
	uint64_t list_gen; /* folders: listings made; children: the one
			      that last saw them (fetch.c prunes) */
	int64_t relist_ms; /* folders: last verification listing
			      (twins.c), monotonic */

	struct hmap_node by_ino, by_id, by_name;
};

/*
 * The display-name policy, supplied by fs/ (names.h) so that cache/ need
 * not know it. Both callbacks are pure and thread-safe.
 */
struct tree_name {
	const char *id;
	const char *drive_name;
	const char *mime; /* NULL: ordinary file or folder */
	int64_t created_ms;
	char *display; /* out: new (free()) */
};
struct tree_naming {
	/* names_assign(): distinct display names for one folder's children. */
	int (*assign)(void *ctx, struct tree_name *e, size_t n);
	/*
	 * The Drive name for display name @display that a user typed, into
	 * @out; @mime is the node's (a native suffix is dropped). Returns 0,
	 * -EINVAL, -EILSEQ (not UTF-8) or -ENAMETOOLONG.
	 */
	int (*decode)(void *ctx, const char *display, const char *mime,
		      char *out, size_t outsz);
	void *ctx;
};

struct tree {
	pthread_mutex_t lock;
	/* Broadcast whenever a listing, a download, an eviction or a push
	 * finishes: waiters re-check their condition. */
	pthread_cond_t cond;

	struct hmap by_ino, by_id, by_name;
	uint64_t next_ino;
	struct node *root;

	struct list_head pending; /* nodes with sync work (sync.c) */
	size_t n_pending;
	struct list_head tombs; /* the deleted ones among them */
	struct list_head lru;	/* nodes with cached bytes, oldest first */
	int64_t cached_bytes;	/* sum of present bytes over all nodes */

	/* Bumped when a node is attached, detached, gets another id or
	 * another remote state, or a download made all of a file cached:
	 * the snapshot is rewritten only after it moved (snapshot.c). */
	uint64_t changes;

	/* Inodes of freed nodes whose cache files are still to be removed
	 * (with the lock dropped: tree_take_dead_locked()). */
	uint64_t *dead;
	size_t n_dead, cap_dead;

	const struct tree_naming *naming; /* borrowed */
	const char *host; /* this machine, as drivefs_host says (borrowed) */
	const struct local_only *lo; /* borrowed */
};

/*
 * Set up @t with a root folder of Drive id @root_id (listed on first use).
 * Borrows @naming and @lo. Returns 0 or -ENOMEM.
 */
int tree_init(struct tree *t, const char *root_id,
	      const struct tree_naming *naming, const struct local_only *lo);
/* Free every node. No other thread may use @t any more. */
void tree_release(struct tree *t);

void tree_lock(struct tree *t);
void tree_unlock(struct tree *t);
/* Wait on t->cond; the caller holds the lock. */
void tree_wait_locked(struct tree *t);
/* As tree_wait_locked(), at most until monotonic @deadline_ms. */
void tree_wait_until_locked(struct tree *t, int64_t deadline_ms);
void tree_broadcast_locked(struct tree *t);

/* The node of inode @ino, or NULL. */
struct node *tree_get_locked(struct tree *t, uint64_t ino);
/* The node of Drive id @id, or NULL. */
struct node *tree_by_id_locked(struct tree *t, const char *id);
/*
 * Assign @dir's display names again if a child left since they were
 * assigned while some were aliases (a twin that leaves gives its name back
 * to the other). Called before names of @dir are looked up or listed.
 */
void tree_names_fresh_locked(struct tree *t, struct node *dir);
/* The live child of @dir shown as @dname, or NULL. */
struct node *tree_child_locked(struct tree *t, struct node *dir,
			       const char *dname);

/*
 * A new node of @kind with the next inode number, in no folder, with
 * refs 0 and nlookup 0: attach it or hold it before unlocking.
 * Returns NULL on ENOMEM.
 */
struct node *tree_node_new_locked(struct tree *t, enum node_kind kind);
/*
 * Link @n under @dir as @dname (Drive name @name): both are copied. @n must
 * be unlinked and no live child of @dir may have @dname.
 * Returns 0 or -ENOMEM (nothing changed).
 */
int tree_attach_locked(struct tree *t, struct node *n, struct node *dir,
		       const char *name, const char *dname);
/*
 * Move the linked node @n to @dir as @dname (Drive name @name): copied.
 * No live child of @dir may have @dname. Returns 0 or -ENOMEM (unchanged).
 */
int tree_move_locked(struct tree *t, struct node *n, struct node *dir,
		     const char *name, const char *dname);
/* Unlink @n from its folder (it keeps its names for the log). */
void tree_detach_locked(struct tree *t, struct node *n);
/* Give @n Drive id @id ("" to clear), reindexing. */
void tree_set_id_locked(struct tree *t, struct node *n, const char *id);
/* Swap the Drive identity (id and remote state) of @a and @b. */
void tree_swap_identity_locked(struct tree *t, struct node *a, struct node *b);
/*
 * Recompute the display names of @dir's children from their Drive names
 * (tree_naming.assign). Returns 0 or -errno (names unchanged).
 */
int tree_assign_names_locked(struct tree *t, struct node *dir);

void tree_ref_locked(struct node *n);
/* Drop a reference; may free @n. */
void tree_unref_locked(struct tree *t, struct node *n);
/* The kernel forgets @count lookups of @n; may free it. */
void tree_forget_locked(struct tree *t, struct node *n, uint64_t count);
/* Free @n if nothing holds it any more (see the top of this file). */
void tree_maybe_free_locked(struct tree *t, struct node *n);

/* @n has local work: pending, in flight, dirty or open for writing. */
bool tree_has_work_locked(const struct node *n);
/* @n or anything below it has local work. */
bool tree_subtree_busy_locked(const struct node *n);
/*
 * Forget @n and everything below it: Drive no longer has it here. Each is
 * detached, loses its id (a later move back in makes a new node) and
 * becomes a tombstone Drive never had, so the syncer has nothing to send.
 * @gone (may be NULL) is called with (folder inode, display name) of each
 * entry that left a folder, for kernel invalidations. May free nodes.
 */
void tree_drop_subtree_locked(struct tree *t, struct node *n,
			      void (*gone)(void *ctx, uint64_t dir,
					   const char *dname),
			      void *ctx);

/*
 * Hand over the inodes of freed nodes that had cache files: *@out is new
 * (free()), *@n its length. The caller unlinks them unlocked.
 */
void tree_take_dead_locked(struct tree *t, uint64_t **out, size_t *n);

/* True when [0, size) of @n's content is present in the cache. */
bool tree_content_whole_locked(const struct node *n);
/* A local change of @n's metadata: ctime now. */
void tree_touch_locked(struct node *n);

/*
 * Fill @st for @n: st_ino, mode (0644/0755 files, 0755 folders, 0777
 * symlinks, 0444 read-only stubs), nlink, size, times, blocks; uid/gid are
 * left for the caller.
 */
void tree_stat_locked(const struct node *n, struct stat *st);

/*
 * The path of @n from the mount root ("a/b/c", "" for the root) by display
 * names, into @out. Returns 0 or -ENAMETOOLONG (@out holds a suffix ending
 * in the name). Unlinked nodes give their last name.
 */
int tree_path_locked(const struct node *n, char *out, size_t outsz);

/*
 * Whether @n, linked under its parent, is local-only: its parent is a
 * local-only folder Drive does not have, or its path matches. Sets
 * n->l.local_only and, for a folder, that of everything below it.
 */
void tree_update_local_only_locked(struct tree *t, struct node *n);

/*
 * Apply one child of @dir that a listing returned (@f borrowed): a known id
 * gets its remote state refreshed (and its local state, when it has no
 * pending local change); an unknown one becomes a new node under @dir
 * (display name set by tree_assign_names_locked() afterwards, a placeholder
 * until then). Returns 0 or -ENOMEM.
 */
int tree_apply_listed_locked(struct tree *t, struct node *dir,
			     const struct drive_file *f);

/*
 * @n (holding @f's id, in @dir) takes Drive's state @f as both its remote
 * and its local state, whatever local changes it had. Returns 0 or -ENOMEM.
 */
int tree_adopt_remote_locked(struct tree *t, struct node *n, struct node *dir,
			     const struct drive_file *f);

/*
 * @n's create, with the id generated for it, reached Drive although no
 * reply said so (a lost reply, a crash): Drive's @f becomes @n's remote
 * state, its base; its local state stays, so what differs is pushed as an
 * update of that id. Returns 0 or -ENOMEM.
 */
int tree_adopt_created_locked(struct tree *t, struct node *n,
			      const struct drive_file *f);

/*
 * After @dir's listing, before anyone sees its children: a shortcut whose
 * target the listing brought in becomes a symlink (listing order is
 * arbitrary, so the target may have come after the shortcut).
 */
void tree_settle_shortcuts_locked(struct tree *t, struct node *dir);

/*
 * The JSON a read-only stub (NODE_NATIVE) shows: {"id", "url", "mimeType"}
 * (+ "targetId" for a shortcut), into @buf of @size (TREE_STUB_MAX always
 * suffices). Returns its length.
 */
#define TREE_STUB_MAX 1024
int tree_native_stub_locked(const struct node *n, char *buf, size_t size);

/* Drive name of @n for logs: local name, else remote name, else "?". */
const char *tree_name_for_log(const struct node *n);

#endif
