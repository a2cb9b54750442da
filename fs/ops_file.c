/*
 * FUSE adapters for open files and attributes: getattr, setattr, open,
 * create, read, write_buf, flush, release, fsync.
 *
 * Reads reply with the cache file's fd (FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK),
 * so libfuse can splice the bytes from the page cache to the kernel without
 * copying them through this process; writes copy (or splice) the request
 * straight into the cache file with fuse_buf_copy().
 */
#include "common/compat.h"

#include "fs/fs.h"

static struct cache_handle *handle(const struct fuse_file_info *fi)
{
	return (struct cache_handle *)(uintptr_t)fi->fh;
}

void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_from_req(req);
	struct stat st;
	int rc;

	(void)fi;
	rc = cache_getattr(fs->cache, ino, &st);
	if (rc < 0)
		fs_reply_err(req, "getattr", ino, rc);
	else
		fuse_reply_attr(req, &st, fs->attr_timeout_s);
}

void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		   int to_set, struct fuse_file_info *fi)
{
	struct fs *fs = fs_from_req(req);
	struct cache_setattr sa;
	struct stat st;
	int rc;

	memset(&sa, 0, sizeof(sa));
	if (to_set & FUSE_SET_ATTR_SIZE) {
		sa.valid |= CACHE_SET_SIZE;
		sa.size = attr->st_size;
	}
	if (to_set & FUSE_SET_ATTR_MODE) {
		sa.valid |= CACHE_SET_MODE;
		sa.mode = attr->st_mode;
	}
	if (to_set & (FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID))
		sa.valid |= CACHE_SET_OWNER;
	if (to_set & FUSE_SET_ATTR_ATIME_NOW)
		sa.valid |= CACHE_SET_ATIME_NOW;
	else if (to_set & FUSE_SET_ATTR_ATIME)
		sa.valid |= CACHE_SET_ATIME;
	if (to_set & FUSE_SET_ATTR_MTIME_NOW)
		sa.valid |= CACHE_SET_MTIME_NOW;
	else if (to_set & FUSE_SET_ATTR_MTIME)
		sa.valid |= CACHE_SET_MTIME;
	sa.atime = attr->st_atim;
	sa.mtime = attr->st_mtim;
	rc = cache_setattr(fs->cache, ino, &sa, fi ? handle(fi) : NULL, &st);
	if (rc < 0)
		fs_reply_err(req, "setattr", ino, rc);
	else
		fuse_reply_attr(req, &st, fs->attr_timeout_s);
}

void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_from_req(req);
	struct cache_handle *h;
	bool keep;
	int rc;

	rc = cache_open(fs->cache, ino, fi->flags, &h, &keep);
	if (rc < 0) {
		fs_reply_err(req, "open", ino, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->keep_cache = keep;
	fi->noflush = 1; /* close(2) has nothing to do: spare the request */
	/* The bytes were replaced since the kernel last opened the file
	 * (a new version met while opening: a download, kept bytes that
	 * failed their check): the size it caches may be of the old one,
	 * and reads stop there. Attributes only (never blocks without
	 * writeback caching), before the reply so the first read or fstat
	 * asks again. */
	if (!keep && fs->se)
		fuse_lowlevel_notify_inval_inode(fs->se, ino, -1, 0);
	if (fuse_reply_open(req, fi) != 0)
		cache_release(fs->cache, h); /* interrupted: no release comes */
}

void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		  mode_t mode, struct fuse_file_info *fi)
{
	struct fs *fs = fs_from_req(req);
	struct fuse_entry_param e;
	struct cache_handle *h;
	int rc;

	memset(&e, 0, sizeof(e));
	rc =
	    cache_create(fs->cache, parent, name, mode, fi->flags, &e.attr, &h);
	if (rc < 0) {
		fs_reply_err(req, "create", parent, rc);
		return;
	}
	e.ino = e.attr.st_ino;
	e.attr_timeout = fs->attr_timeout_s;
	e.entry_timeout = fs->entry_timeout_s;
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->noflush = 1;
	if (fuse_reply_create(req, &e, fi) != 0) {
		cache_release(fs->cache, h);
		cache_forget(fs->cache, e.ino, 1);
	}
}

void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		struct fuse_file_info *fi)
{
	struct fs *fs = fs_from_req(req);
	struct cache_data d;
	int rc;

	rc = cache_read(fs->cache, handle(fi), off, size, &d);
	if (rc < 0) {
		fs_reply_err(req, "read", ino, rc);
	} else if (d.mem || !d.len) {
		fuse_reply_buf(req, d.mem, d.len);
	} else {
		struct fuse_bufvec bv = FUSE_BUFVEC_INIT(d.len);

		bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
		bv.buf[0].fd = d.fd;
		bv.buf[0].pos = d.off;
		fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
	}
	free(d.mem);
}

void fs_op_write_buf(fuse_req_t req, fuse_ino_t ino, struct fuse_bufvec *bufv,
		     off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = fs_from_req(req);
	size_t size = fuse_buf_size(bufv);
	struct fuse_bufvec out = FUSE_BUFVEC_INIT(size);
	ssize_t w;
	int fd, rc;

	rc = cache_write_begin(fs->cache, handle(fi), off, size, &fd);
	if (rc < 0) {
		fs_reply_err(req, "write", ino, rc);
		return;
	}
	out.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	out.buf[0].fd = fd;
	out.buf[0].pos = off;
	w = fuse_buf_copy(&out, bufv, 0);
	cache_write_end(fs->cache, handle(fi), off, w);
	if (w < 0)
		fs_reply_err(req, "write", ino, (int)w);
	else
		fuse_reply_write(req, (size_t)w);
}

void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	fuse_reply_err(req, 0);
}

void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	cache_release(fs_from_req(req)->cache, handle(fi));
	fuse_reply_err(req, 0);
}

void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		 struct fuse_file_info *fi)
{
	int rc =
	    cache_fsync(fs_from_req(req)->cache, ino, handle(fi), datasync);

	if (rc < 0)
		fs_reply_err(req, "fsync", ino, rc);
	else
		fuse_reply_err(req, 0);
}
