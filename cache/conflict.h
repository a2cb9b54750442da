/*
 * Conflicts (conflict.c): the names of conflict copies, their resolution
 * in the tree, and the record drivefs-status lists. Private to cache/.
 */
#ifndef CACHE_CONFLICT_H
#define CACHE_CONFLICT_H

#include "common/compat.h"

struct cache;
struct node;
struct drive_file;

/* c->host from @host, or gethostname() when NULL/"": short, [A-Za-z0-9_-]. */
void conflict_host_init(struct cache *c, const char *host);

/*
 * The name of the conflict copy of @name made at @wall_ms into @out:
 * "stem.conflict-<host>-<YYYYmmdd-HHMMSS>.ext" (UTC), with "-<nth>"
 * after the time when @nth > 1; the stem is shortened (on a UTF-8
 * boundary) to keep the name within 255 bytes. Returns 0 or -ENAMETOOLONG.
 */
int conflict_name(const struct cache *c, const char *name, int64_t wall_ms,
		  int nth, char *out, size_t outsz);

/*
 * Remember (and log at warn) a conflict: @kept is the file that has the
 * name, @copy the conflict copy or NULL; @kind a static string
 * (struct cache_conflict).
 */
void conflict_record_locked(struct cache *c, const struct node *kept,
			    const struct node *copy, const char *kind);

/*
 * Keep both: the linked node @n, which holds Drive id @remote->id and
 * local bytes Drive does not have, becomes the conflict copy (same inode,
 * same bytes, a conflict name, no id: the syncer creates it); the Drive
 * file @remote gets a new node at @n's old name. Returns 0 or -errno (the
 * tree unchanged). The kernel's entries are invalidated through the poller.
 */
int conflict_keep_both_locked(struct cache *c, struct node *n,
			      const struct drive_file *remote,
			      const char *kind);

/*
 * Two files of one name (a create race, twins.c): @n, the newer, is
 * renamed to a conflict copy (keeping its id); @kept keeps the name.
 * Returns 0 or -errno.
 */
int conflict_rename_copy_locked(struct cache *c, struct node *n,
				const struct node *kept, const char *kind);

/*
 * Remote wins: @n drops its local bytes and takes @remote's state. Returns
 * 0 or -errno.
 */
int conflict_remote_wins_locked(struct cache *c, struct node *n,
				const struct drive_file *remote);

/*
 * Drive no longer has @n's file (deleted or trashed there) but @n has
 * local bytes: @n loses the id, so the syncer creates it again.
 */
void conflict_remote_gone_locked(struct cache *c, struct node *n);

#endif
