/*
 * FUSE adapters for the filesystem as a whole: init (the capabilities we
 * ask the kernel for), statfs, and extended attributes.
 *
 * Capabilities: splice for reads and writes (cached bytes move between the
 * page cache and the kernel without a copy through this process),
 * parallel directory operations, readdirplus, atomic O_TRUNC, 1 MiB
 * writes, cached symlinks. Not FUSE_CAP_WRITEBACK_CACHE: with it the
 * kernel owns mtime and size and flushes writes whenever it likes, so a
 * file's attributes would no longer be the ones this mount keeps stable
 * until its upload settles (docs/SEMANTICS.md "Consistency"); every
 * write(2) reaches the daemon instead.
 *
 * Extended attributes are off unless --xattrs: every xattr request is
 * answered ENOSYS, which makes the kernel set no_getxattr (no_listxattr,
 * no_setxattr, no_removexattr) for the connection and fail later calls
 * with EOPNOTSUPP itself, without a round trip. FUSE has no negative xattr
 * cache, so otherwise `ls -l` costs two requests per entry
 * (security.selinux, system.posix_acl_access) and every write one more
 * (security.capability): docs/PERFORMANCE.md rows 2a, 2b and 3a. What the
 * attributes told (Drive id, md5, version, sync state) is served by the
 * control socket instead (`drivefs-status --file`). With --xattrs they are
 * read-only views (cache/attr.c); setting or removing any is ENOTSUP.
 */
#include "common/compat.h"

#include "common/log.h"
#include "fs/fs.h"

#define SUB "fuse"

static void want(struct fuse_conn_info *conn, unsigned cap)
{
	if (conn->capable & cap)
		conn->want |= cap;
}

void fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	want(conn, FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE |
		       FUSE_CAP_SPLICE_READ);
	want(conn, FUSE_CAP_PARALLEL_DIROPS);
	want(conn, FUSE_CAP_ASYNC_READ);
	want(conn, FUSE_CAP_ATOMIC_O_TRUNC);
	want(conn, FUSE_CAP_READDIRPLUS | FUSE_CAP_READDIRPLUS_AUTO);
	want(conn, FUSE_CAP_CACHE_SYMLINKS);
	want(conn, FUSE_CAP_AUTO_INVAL_DATA);
	conn->want &= ~(unsigned)FUSE_CAP_WRITEBACK_CACHE;
	conn->max_write = 1 << 20;
	conn->max_readahead = 1 << 20;
	conn->time_gran = 1;
	log_debug(SUB, "kernel FUSE protocol %u.%u, capable 0x%x, want 0x%x",
		  conn->proto_major, conn->proto_minor, conn->capable,
		  conn->want);
}

void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs st;
	int rc = cache_statfs(fs_from_req(req)->cache, &st);

	if (rc < 0)
		fs_reply_err(req, "statfs", ino, rc);
	else
		fuse_reply_statfs(req, &st);
}

/*
 * Without --xattrs: ENOSYS, once per kind of request and connection (the
 * kernel remembers it; userspace sees EOPNOTSUPP). Not through
 * fs_reply_err(): it is the expected answer, not worth a log line.
 */
static bool no_xattrs(fuse_req_t req)
{
	if (fs_from_req(req)->xattrs)
		return false;
	fuse_reply_err(req, ENOSYS);
	return true;
}

void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    const char *value, size_t size, int flags)
{
	(void)name;
	(void)value;
	(void)size;
	(void)flags;
	if (no_xattrs(req))
		return;
	fs_reply_err(req, "setxattr", ino, -ENOTSUP);
}

void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)name;
	if (no_xattrs(req))
		return;
	fs_reply_err(req, "removexattr", ino, -ENOTSUP);
}

/* Reply to a getxattr/listxattr that produced @rc bytes into @buf. */
static void reply_xattr(fuse_req_t req, const char *op, fuse_ino_t ino,
			size_t size, ssize_t rc, const char *buf)
{
	if (rc < 0)
		fs_reply_err(req, op, ino, (int)rc);
	else if (size == 0)
		fuse_reply_xattr(req, (size_t)rc);
	else
		fuse_reply_buf(req, buf, (size_t)rc);
}

void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    size_t size)
{
	char buf[512];
	ssize_t rc;

	if (no_xattrs(req))
		return;
	/*
	 * With --xattrs the kernel asks for security.capability before
	 * every write(2) (file_remove_privs(); libfuse 3.14 cannot
	 * negotiate HANDLE_KILLPRIV_V2, which would stop it). We keep no
	 * security.* attributes: answer at once, without the tree lock or
	 * a log line.
	 */
	if (!strncmp(name, "security.", 9)) {
		fuse_reply_err(req, ENODATA);
		return;
	}
	rc = cache_getxattr(fs_from_req(req)->cache, ino, name, buf,
			    MIN(size, sizeof(buf)));
	reply_xattr(req, "getxattr", ino, size, rc, buf);
}

void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	char buf[512];
	ssize_t rc;

	if (no_xattrs(req))
		return;
	rc = cache_listxattr(fs_from_req(req)->cache, ino, buf,
			     MIN(size, sizeof(buf)));
	reply_xattr(req, "listxattr", ino, size, rc, buf);
}
