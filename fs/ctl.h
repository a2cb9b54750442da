/*
 * The control socket server (common/ctl_proto.h, docs/STATUS.md): one
 * thread, "drivefs-ctl", that answers drivefs-status. Each connection is
 * one request and one reply; a peer whose uid is not ours is refused
 * (SO_PEERCRED) and logged.
 */
#ifndef FS_CTL_H
#define FS_CTL_H

#include "common/compat.h"

#include "cache/cache.h"
#include "drive/http.h"

/* What the daemon knows that the cache does not; strings are copied. */
struct ctl_info {
	const char *mountpoint; /* absolute, as mounted */
	const char *account;	/* the Drive user's e-mail */
	const char *root;	/* --root as given */
	const char *root_id;
	const char *cache_dir;
	int64_t poll_interval_ms;
	int64_t writeback_delay_ms;
	int64_t cache_size; /* --cache-size */
};

struct ctl;

/*
 * Create the runtime directory and the socket of @info->mountpoint and
 * start the thread. @c and @h are borrowed and must outlive ctl_stop().
 * Call with the termination signals blocked (the thread inherits the mask).
 * Returns 0; -EADDRINUSE when a live daemon already serves this mount
 * point; -EPERM when the runtime directory is not safely ours; -errno.
 * Every failure is logged.
 */
int ctl_start(const struct ctl_info *info, struct cache *c, struct http *h,
	      struct ctl **out);
/* Stop the thread (at most one request's I/O timeout), remove the socket
 * if it is still ours, free. NULL is a no-op. */
void ctl_stop(struct ctl *ctl);

#endif
