/*
 * The control protocol between the daemon (fs/ctl.c) and drivefs-status
 * (tools/drivefs-status.c): where the socket lives and the names both sides
 * use. The schema of the status reply is documented in docs/STATUS.md.
 *
 * Transport: a Unix stream socket, mode 0600, in a directory of mode 0700
 * owned by the user: $XDG_RUNTIME_DIR/drivefs/, else /run/user/UID/drivefs/,
 * else /tmp/drivefs-UID/. One socket per mount, named after a hash of the
 * mount point's absolute path, so a client finds the daemon of a mount
 * without asking anyone; the daemon also checks the peer's uid
 * (SO_PEERCRED) and answers only its own user.
 *
 * Exchange: the client sends one JSON object on one line, the daemon
 * answers one JSON object on one line and closes the connection:
 *   -> {"cmd": "status"}
 *   <- {"ok": true, "proto": 1, ...the status object...}
 *   -> {"cmd": "pause"} | {"cmd": "resume"} | {"cmd": "sync-now"}
 *   <- {"ok": true, "proto": 1, "paused": BOOL}
 *   -> {"cmd": "file", "path": "dir/name"}   (relative to the mount root)
 *   <- {"ok": true, "proto": 1, "file": {...}}   (docs/STATUS.md)
 *   <- {"ok": false, "proto": 1, "error": "message"}   on any failure
 */
#ifndef COMMON_CTL_PROTO_H
#define COMMON_CTL_PROTO_H

#include "common/compat.h"

#include <sys/types.h>

/* Bumped when a field changes meaning; new fields do not bump it. */
#define CTL_PROTO_VERSION 1

/* Request commands ("cmd"). */
#define CTL_CMD_STATUS "status"
#define CTL_CMD_PAUSE "pause"
#define CTL_CMD_RESUME "resume"
#define CTL_CMD_SYNC_NOW "sync-now"
#define CTL_CMD_FILE "file"

/* States ("state" of a status reply), most urgent first. */
#define CTL_STATE_OFFLINE "offline" /* the last requests found no network */
#define CTL_STATE_ERROR "error"	    /* some pending work keeps failing */
#define CTL_STATE_PAUSED "paused"   /* uploads paused by the user */
#define CTL_STATE_SYNCING "syncing" /* work pending or in flight */
#define CTL_STATE_IDLE "idle"	    /* Drive holds everything */

/* A request line is at most this long; longer ones are refused. */
#define CTL_REQ_MAX 4096
/* A reply is at most this long (the daemon caps the lists to fit). */
#define CTL_REPLY_MAX (4 << 20)
/* Socket path bound: sun_path is 108 bytes on Linux. */
#define CTL_PATH_MAX 108
/* Socket file suffix in the runtime directory. */
#define CTL_SOCK_SUFFIX ".sock"

/*
 * The runtime directory for @uid into @out (without trailing '/'):
 * $XDG_RUNTIME_DIR/drivefs when XDG_RUNTIME_DIR is set to an absolute
 * path, else /run/user/UID/drivefs when /run/user/UID is a directory, else
 * /tmp/drivefs-UID. Pure but for one stat(). Returns 0 or -ENAMETOOLONG.
 */
int ctl_runtime_dir(uid_t uid, char *out, size_t outsz);

/*
 * Check that @dir is a directory owned by @uid with no group/other
 * permissions (so nobody else can plant or read a socket there). With
 * @create, make it (and a missing $XDG_RUNTIME_DIR/drivefs parent is not
 * created) with mode 0700 first. Returns 0, -errno of mkdir/lstat, or
 * -EPERM (wrong owner or mode) with a reason in @why.
 */
int ctl_dir_check(const char *dir, uid_t uid, bool create, char *why,
		  size_t whysz);

/*
 * The socket of the mount at @mountpoint (absolute, no trailing '/') in
 * @dir: "<dir>/<16 hex digits of FNV-1a 64 of the path>.sock".
 * Returns 0 or -ENAMETOOLONG (does not fit CTL_PATH_MAX or @outsz).
 */
int ctl_socket_path(const char *dir, const char *mountpoint, char *out,
		    size_t outsz);

/*
 * Make @path absolute (relative to the cwd) and lexically clean ("//",
 * "/./", "/x/../" and a trailing '/' removed) into @out, with no system
 * call but getcwd(): no lookup that a hung mount could block.
 * Returns 0, -ENAMETOOLONG or -errno of getcwd().
 */
int ctl_path_clean(const char *path, char *out, size_t outsz);

#endif
