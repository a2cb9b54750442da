/*
 * Attributes (cache.h): setattr, extended attributes, statfs.
 *
 * What maps to Drive: size (truncate), mtime (modifiedTime) and the
 * executable bit (appProperties drivefs_mode) of files. Other mode bits,
 * owners and atime are accepted and kept in memory or ignored, because
 * tools such as tar, cp -p and git set them and must not fail
 * (docs/SEMANTICS.md "Permissions").
 *
 * Extended attributes are read-only views of the node: user.drive.id,
 * user.drive.md5, user.drive.version, user.drivefs.state, and on the root
 * user.drivefs.pending (nodes with sync work; 0 means Drive holds
 * everything). fs/ops_fs.c serves them only with --xattrs; the same facts
 * reach drivefs-status --file through cache_file_info() (status.c).
 */
#include "common/compat.h"

#include <inttypes.h>

#include "cache/cache_i.h"
#include "cache/journal.h"
#include "common/clock.h"
#include "common/log.h"

#define SUB "attr"

int cache_setattr(struct cache *c, uint64_t ino, const struct cache_setattr *sa,
		  struct cache_handle *h, struct stat *st)
{
	struct tree *t = &c->t;
	struct timespec now = cache_now_ts();
	struct node *n;
	bool changed = false;
	int rc = 0;

	tree_lock(t);
	n = h ? h->n : tree_get_locked(t, ino);
	if (!n) {
		rc = -ESTALE;
		goto out;
	}
	tree_ref_locked(n);
	if (sa->valid & CACHE_SET_SIZE) {
		if (n->kind == NODE_DIR)
			rc = -EISDIR;
		else if (n->kind != NODE_FILE)
			rc = -EACCES; /* stubs are read-only, symlinks fixed */
		else if (sa->size != n->l.size)
			rc = cache_truncate_locked(c, n, sa->size,
						   h ? h->fd : -1);
		if (rc < 0)
			goto out_n;
	}
	if ((sa->valid & CACHE_SET_MODE) && n->kind == NODE_FILE) {
		bool exec = (sa->mode & 0111) != 0;

		if (exec != n->l.exec) {
			n->l.exec = exec;
			changed = true;
		}
	}
	if (sa->valid & (CACHE_SET_ATIME | CACHE_SET_ATIME_NOW))
		n->l.atime =
		    (sa->valid & CACHE_SET_ATIME_NOW) ? now : sa->atime;
	if (sa->valid & (CACHE_SET_MTIME | CACHE_SET_MTIME_NOW)) {
		n->l.mtime =
		    (sa->valid & CACHE_SET_MTIME_NOW) ? now : sa->mtime;
		changed = true;
	}
	if (changed || (sa->valid & (CACHE_SET_MODE | CACHE_SET_OWNER |
				     CACHE_SET_ATIME | CACHE_SET_ATIME_NOW)))
		tree_touch_locked(n);
	if (changed)
		sync_note_locked(c, n);
	cache_stat_locked(c, n, st);
	/* Size and mtime too while it is open for writing. */
	if (list_linked(&n->s.pending))
		journal_note_final_locked(c, n);
out_n:
	tree_unref_locked(t, n);
out:
	tree_unlock(t);
	if (rc == 0)
		rc = journal_commit(c->j);
	return rc;
}

/* Copy @val into @buf per getxattr(2) size rules. */
static ssize_t xattr_value(const char *val, char *buf, size_t size)
{
	size_t len = strlen(val);

	if (size == 0)
		return (ssize_t)len;
	if (len > size)
		return -ERANGE;
	memcpy(buf, val, len);
	return (ssize_t)len;
}

/* Value of attribute @name of @n into @val, or -ENODATA. */
static int xattr_get_locked(struct cache *c, const struct node *n,
			    const char *name, char *val, size_t valsz)
{
	if (!strcmp(name, "user.drive.id") && n->id[0]) {
		snprintf(val, valsz, "%s", n->id);
	} else if (!strcmp(name, "user.drive.md5") && n->r.exists &&
		   n->r.md5[0]) {
		snprintf(val, valsz, "%s", n->r.md5);
	} else if (!strcmp(name, "user.drive.version") && n->r.exists &&
		   n->r.version >= 0) {
		snprintf(val, valsz, "%" PRId64, n->r.version);
	} else if (!strcmp(name, "user.drivefs.state")) {
		snprintf(val, valsz, "%s",
			 n->l.local_only && !n->r.exists
			     ? "local-only"
			     : sync_state_locked(n));
	} else if (!strcmp(name, "user.drivefs.pending") && n == c->t.root) {
		snprintf(val, valsz, "%zu", c->t.n_pending);
	} else {
		return -ENODATA;
	}
	return 0;
}

static const char *const xattr_names[] = {
    "user.drive.id",	  "user.drive.md5",	  "user.drive.version",
    "user.drivefs.state", "user.drivefs.pending",
};

ssize_t cache_getxattr(struct cache *c, uint64_t ino, const char *name,
		       char *buf, size_t size)
{
	char val[DRIVE_ID_MAX + 64];
	struct node *n;
	ssize_t rc;

	tree_lock(&c->t);
	n = tree_get_locked(&c->t, ino);
	if (!n)
		rc = -ESTALE;
	else
		rc = xattr_get_locked(c, n, name, val, sizeof(val));
	tree_unlock(&c->t);
	if (rc < 0)
		return rc;
	return xattr_value(val, buf, size);
}

ssize_t cache_listxattr(struct cache *c, uint64_t ino, char *buf, size_t size)
{
	char val[DRIVE_ID_MAX + 64];
	size_t len = 0;
	struct node *n;
	ssize_t rc = 0;

	tree_lock(&c->t);
	n = tree_get_locked(&c->t, ino);
	if (!n) {
		rc = -ESTALE;
		goto out;
	}
	for (size_t i = 0; i < ARRAY_SIZE(xattr_names); i++) {
		size_t k = strlen(xattr_names[i]) + 1;

		if (xattr_get_locked(c, n, xattr_names[i], val, sizeof(val)))
			continue;
		if (size && len + k > size) {
			rc = -ERANGE;
			goto out;
		}
		if (size)
			memcpy(buf + len, xattr_names[i], k);
		len += k;
	}
	rc = (ssize_t)len;
out:
	tree_unlock(&c->t);
	return rc;
}

/* The quota numbers, refreshed from about.get when stale. */
static void about_locked(struct cache *c, struct drive_about *out)
{
	int64_t now = clock_mono_ms();

	if ((!c->about_ms || now - c->about_ms > CACHE_ABOUT_TTL_MS) &&
	    !c->about_refreshing) {
		struct drive_about a;
		struct drive_err err;
		int rc;

		c->about_refreshing = true;
		pthread_mutex_unlock(&c->about_lock);
		drive_err_init(&err);
		rc = drive_about_get(c->d, &a, &err);
		pthread_mutex_lock(&c->about_lock);
		c->about_refreshing = false;
		if (rc == 0) {
			c->about = a;
			c->about_ms = now;
		} else {
			char why[256];

			log_warn(SUB, "about.get for statfs failed: %s",
				 drive_err_str(&err, why, sizeof(why)));
			c->about_ms = now - CACHE_ABOUT_TTL_MS / 2;
		}
	}
	*out = c->about;
}

void cache_set_about(struct cache *c, const struct drive_about *a)
{
	pthread_mutex_lock(&c->about_lock);
	c->about = *a;
	c->about_ms = clock_mono_ms();
	pthread_mutex_unlock(&c->about_lock);
}

int cache_statfs(struct cache *c, struct statvfs *st)
{
	const uint64_t bs = 4096, unlimited = (uint64_t)1 << 50;
	struct drive_about a;
	uint64_t total, used;
	size_t nodes;

	tree_lock(&c->t);
	nodes = c->t.by_ino.count;
	tree_unlock(&c->t);
	pthread_mutex_lock(&c->about_lock);
	about_locked(c, &a);
	pthread_mutex_unlock(&c->about_lock);
	total = a.quota_limit >= 0 ? (uint64_t)a.quota_limit : unlimited;
	used = a.quota_usage > 0 ? (uint64_t)a.quota_usage : 0;
	memset(st, 0, sizeof(*st));
	st->f_bsize = bs;
	st->f_frsize = bs;
	st->f_blocks = total / bs;
	st->f_bfree = st->f_bavail = used < total ? (total - used) / bs : 0;
	st->f_files = 1000000000;
	st->f_ffree = st->f_favail = 1000000000 - MIN(nodes, (size_t)1000000);
	st->f_namemax = 255;
	return 0;
}
