/*
 * FUSE adapters for names and folders: lookup, forget, mkdir, mknod,
 * unlink, rmdir, symlink, readlink, rename, link, and reading folders.
 *
 * Choices (docs/SEMANTICS.md): hard links are EPERM (Drive has no second
 * name for a file; git and others fall back to rename or copy); device
 * nodes, FIFOs and sockets are EPERM; only regular files come from mknod.
 * A failed lookup is answered as a negative entry cached for
 * entry_timeout_s, which saves Python's import machinery many requests.
 */
#include "common/compat.h"

#include <limits.h>

#include "fs/fs.h"

void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_from_req(req);
	struct stat st;
	int rc = cache_lookup(fs->cache, parent, name, &st);

	if (rc == -ENOENT) {
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.entry_timeout = fs->entry_timeout_s;
		fuse_reply_entry(req, &e);
	} else if (rc < 0) {
		fs_reply_err(req, "lookup", parent, rc);
	} else {
		fs_reply_entry(req, &st);
	}
}

void fs_op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	cache_forget(fs_from_req(req)->cache, ino, nlookup);
	fuse_reply_none(req);
}

void fs_op_forget_multi(fuse_req_t req, size_t count,
			struct fuse_forget_data *forgets)
{
	struct fs *fs = fs_from_req(req);

	for (size_t i = 0; i < count; i++)
		cache_forget(fs->cache, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode)
{
	struct stat st;
	int rc = cache_mkdir(fs_from_req(req)->cache, parent, name, &st);

	(void)mode; /* folders are 0755 */
	if (rc < 0)
		fs_reply_err(req, "mkdir", parent, rc);
	else
		fs_reply_entry(req, &st);
}

void fs_op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		 mode_t mode, dev_t rdev)
{
	struct stat st;
	int rc;

	(void)rdev;
	if (!S_ISREG(mode)) {
		fs_reply_err(req, "mknod", parent, -EPERM);
		return;
	}
	rc = cache_create(fs_from_req(req)->cache, parent, name, mode,
			  O_CREAT | O_EXCL, &st, NULL);
	if (rc < 0)
		fs_reply_err(req, "mknod", parent, rc);
	else
		fs_reply_entry(req, &st);
}

void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int rc = cache_unlink(fs_from_req(req)->cache, parent, name);

	if (rc < 0)
		fs_reply_err(req, "unlink", parent, rc);
	else
		fuse_reply_err(req, 0);
}

void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	int rc = cache_rmdir(fs_from_req(req)->cache, parent, name);

	if (rc < 0)
		fs_reply_err(req, "rmdir", parent, rc);
	else
		fuse_reply_err(req, 0);
}

void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		   const char *name)
{
	struct stat st;
	int rc =
	    cache_symlink(fs_from_req(req)->cache, parent, name, link, &st);

	if (rc < 0)
		fs_reply_err(req, "symlink", parent, rc);
	else
		fs_reply_entry(req, &st);
}

void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char buf[PATH_MAX];
	int rc = cache_readlink(fs_from_req(req)->cache, ino, buf, sizeof(buf));

	if (rc < 0)
		fs_reply_err(req, "readlink", ino, rc);
	else
		fuse_reply_readlink(req, buf);
}

void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		  fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	int rc = cache_rename(fs_from_req(req)->cache, parent, name, newparent,
			      newname, flags);

	if (rc < 0)
		fs_reply_err(req, "rename", parent, rc);
	else
		fuse_reply_err(req, 0);
}

void fs_op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		const char *newname)
{
	(void)newparent;
	(void)newname;
	fs_reply_err(req, "link", ino, -EPERM);
}

void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct cache_dir *d;
	int rc = cache_opendir(fs_from_req(req)->cache, ino, &d);

	if (rc < 0) {
		fs_reply_err(req, "opendir", ino, rc);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	if (fuse_reply_open(req, fi) != 0)
		cache_releasedir(fs_from_req(req)->cache, d);
}

struct dirbuf {
	fuse_req_t req;
	struct fs *fs;
	char *buf;
	size_t size, len;
	bool plus;
};

static int add_entry(void *ctx, const char *name, const struct stat *st,
		     off_t next)
{
	struct dirbuf *b = ctx;
	size_t need;

	if (b->plus) {
		struct fuse_entry_param e;

		memset(&e, 0, sizeof(e));
		e.ino = st->st_ino;
		e.attr = *st;
		e.attr_timeout = b->fs->attr_timeout_s;
		e.entry_timeout = b->fs->entry_timeout_s;
		need = fuse_add_direntry_plus(b->req, b->buf + b->len,
					      b->size - b->len, name, &e, next);
	} else {
		need = fuse_add_direntry(b->req, b->buf + b->len,
					 b->size - b->len, name, st, next);
	}
	if (need > b->size - b->len)
		return 1;
	b->len += need;
	return 0;
}

static void readdir_common(fuse_req_t req, size_t size, off_t off,
			   struct fuse_file_info *fi, bool plus)
{
	struct fs *fs = fs_from_req(req);
	struct dirbuf b = {req, fs, NULL, size, 0, plus};
	int rc;

	b.buf = malloc(size ? size : 1);
	if (!b.buf) {
		fs_reply_err(req, "readdir", 0, -ENOMEM);
		return;
	}
	rc = cache_readdir(fs->cache, (struct cache_dir *)(uintptr_t)fi->fh,
			   off, plus, add_entry, &b);
	if (rc < 0)
		fs_reply_err(req, "readdir", 0, rc);
	else
		fuse_reply_buf(req, b.buf, b.len);
	free(b.buf);
}

void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		   struct fuse_file_info *fi)
{
	(void)ino;
	readdir_common(req, size, off, fi, false);
}

void fs_op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	(void)ino;
	readdir_common(req, size, off, fi, true);
}

void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	cache_releasedir(fs_from_req(req)->cache,
			 (struct cache_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

void fs_op_fsyncdir(fuse_req_t req, fuse_ino_t ino, int datasync,
		    struct fuse_file_info *fi)
{
	int rc;

	(void)fi;
	rc = cache_fsync(fs_from_req(req)->cache, ino, NULL, datasync);
	if (rc < 0)
		fs_reply_err(req, "fsyncdir", ino, rc);
	else
		fuse_reply_err(req, 0);
}
