/*
 * The daemon's filesystem context, shared by fs/main.c and the FUSE
 * adapters fs/ops_*.c. The adapters are thin: they turn a FUSE request
 * into one cache_*() call (cache/cache.h) and its result into one reply.
 * They hold no lock of their own and reply only after the cache call
 * returned, so no lock is ever held across fuse_reply_*().
 */
#ifndef FS_FS_H
#define FS_FS_H

#define FUSE_USE_VERSION 312

#include "common/compat.h"

#include <fuse_lowlevel.h>

#include "cache/cache.h"
#include "drive/drive.h"

struct fs {
	struct cache *cache;	/* owned by main.c */
	double entry_timeout_s; /* positive and negative entries */
	double attr_timeout_s;
	bool xattrs; /* --xattrs: serve cache_getxattr(); else ENOSYS */
	struct fuse_session *se; /* for notifications from a handler */
};

/* The FUSE low-level operations; userdata is a struct fs. */
extern const struct fuse_lowlevel_ops fs_ops;

/* fs/ops.c: helpers for the adapters. */
struct fs *fs_from_req(fuse_req_t req);
/* Reply with an entry for @st (and its timeouts). */
void fs_reply_entry(fuse_req_t req, const struct stat *st);
/*
 * Reply -@rc (a negative errno) for operation @op on inode @ino; logs
 * unexpected errors once, here, where they reach the user.
 */
void fs_reply_err(fuse_req_t req, const char *op, uint64_t ino, int rc);

/* The ops of each concern (fs/ops_*.c), gathered by fs/ops.c. */
void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup);
void fs_op_forget_multi(fuse_req_t req, size_t count,
			struct fuse_forget_data *forgets);
void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode);
void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, dev_t rdev);
void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		   const char *name);
void fs_op_readlink(fuse_req_t req, fuse_ino_t ino);
void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		  fuse_ino_t newparent, const char *newname,
		  unsigned int flags);
void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		const char *newname);
void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi);
void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi);
void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino,
		      struct fuse_file_info *fi);
void fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		    struct fuse_file_info *fi);

void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int to_set, struct fuse_file_info *fi);
void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi);
void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi);
void fs_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv,
		     off_t off, struct fuse_file_info *fi);
void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi);
void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi);

void fs_op_init(void *userdata, struct fuse_conn_info *conn);
void fs_op_statfs(fuse_req_t req, fuse_ino_t ino);
void fs_op_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    const char *value, size_t size, int flags);
void fs_op_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name,
		    size_t size);
void fs_op_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size);
void fs_op_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name);

/* fs/naming.c: the display-name policy of fs/names.h, for the tree. */
extern const struct tree_naming fs_naming;

/*
 * fs/root.c: the Drive id of --root @spec: "root" (My Drive, @my_drive),
 * a folder id, or a path of folders under My Drive ("dev/proj"). Blocks on
 * Drive. Returns 0, or -ENOENT/-ENOTDIR/-errno with a reason in @why.
 */
int fs_root_resolve(struct drive *d, const char *spec, const char *my_drive,
		    char id[DRIVE_ID_MAX + 1], char *why, size_t whysz);
/*
 * The root index: which folder id --root @spec resolved to for account
 * key @account, remembered in <@base>/roots/ so that a remount with a
 * metadata snapshot need not ask Drive. get: 0 or -ENOENT (not known or
 * unreadable); put: 0 or -errno. @key is a hex digest (cred_sha256_hex()
 * of account and spec), computed by the caller.
 */
int fs_root_index_get(const char *base, const char *key,
		      char id[DRIVE_ID_MAX + 1]);
int fs_root_index_put(const char *base, const char *key, const char *id);

#endif
