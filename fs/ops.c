/*
 * The FUSE low-level operations table and the reply helpers every adapter
 * uses. The adapters themselves live by concern in fs/ops_dir.c (names and
 * folders), fs/ops_file.c (open files and attributes) and fs/ops_fs.c
 * (init, statfs, extended attributes).
 *
 * Errors are logged here, once, as they reach the user: expected outcomes
 * (ENOENT from a lookup, EEXIST, ENOTEMPTY, ...) at debug level, anything
 * that means the mount is failing the user (EIO, ENOMEM, ...) as a warning.
 */
#include "common/compat.h"

#include <inttypes.h>

#include "common/log.h"
#include "fs/fs.h"

#define SUB "fuse"

struct fs *fs_from_req(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

void fs_reply_entry(fuse_req_t req, const struct stat *st)
{
	struct fs *fs = fs_from_req(req);
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = st->st_ino;
	e.attr = *st;
	e.attr_timeout = fs->attr_timeout_s;
	e.entry_timeout = fs->entry_timeout_s;
	fuse_reply_entry(req, &e);
}

static bool expected(int err)
{
	switch (err) {
	case ENOENT:
	case EEXIST:
	case ENOTEMPTY:
	case ENOTDIR:
	case EISDIR:
	case ENODATA:
	case ERANGE:
	case ENOTSUP:
	case EPERM:
	case EACCES:
	case EINVAL:
	case EXDEV:
	case ELOOP:
	case ENAMETOOLONG:
	case EILSEQ:
		return true;
	default:
		return false;
	}
}

void fs_reply_err(fuse_req_t req, const char *op, uint64_t ino, int rc)
{
	int err = -rc;

	if (rc >= 0 || err <= 0)
		DFS_BUG("fs_reply_err(%s) with %d", op, rc);
	if (expected(err))
		log_debug(SUB, "%s of inode %" PRIu64 ": %s", op, ino,
			  strerror(err));
	else
		log_warn(SUB, "%s of inode %" PRIu64 " failed: %s", op, ino,
			 strerror(err));
	fuse_reply_err(req, err);
}

const struct fuse_lowlevel_ops fs_ops = {
    .init = fs_op_init,
    .lookup = fs_op_lookup,
    .forget = fs_op_forget,
    .forget_multi = fs_op_forget_multi,
    .getattr = fs_op_getattr,
    .setattr = fs_op_setattr,
    .readlink = fs_op_readlink,
    .mknod = fs_op_mknod,
    .mkdir = fs_op_mkdir,
    .unlink = fs_op_unlink,
    .rmdir = fs_op_rmdir,
    .symlink = fs_op_symlink,
    .rename = fs_op_rename,
    .link = fs_op_link,
    .open = fs_op_open,
    .read = fs_op_read,
    .write_buf = fs_op_write_buf,
    .flush = fs_op_flush,
    .release = fs_op_release,
    .fsync = fs_op_fsync,
    .opendir = fs_op_opendir,
    .readdir = fs_op_readdir,
    .readdirplus = fs_op_readdirplus,
    .releasedir = fs_op_releasedir,
    .fsyncdir = fs_op_fsyncdir,
    .statfs = fs_op_statfs,
    .setxattr = fs_op_setxattr,
    .getxattr = fs_op_getxattr,
    .listxattr = fs_op_listxattr,
    .removexattr = fs_op_removexattr,
    .create = fs_op_create,
};
