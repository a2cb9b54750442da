/*
 * Namespace operations (cache.h): lookup, forget, getattr, mkdir, symlink,
 * readlink, unlink, rmdir, rename. Each applies to the tree at once, under
 * the tree lock, and notes the nodes it changed for the uploaders
 * (sync_note_locked()); nothing here talks to Drive except the first
 * listing of a folder (fetch_ensure_listed_locked()) and reading a symlink
 * target that only Drive holds.
 *
 * Every operation on a folder lists it first, so a name Drive already has
 * is always found: creating it binds to that file instead of making a twin
 * (DESIGN.md "Write-back"). Rename over a file hands the TARGET's Drive id
 * to the source node (tree_swap_identity_locked()): the path keeps its id,
 * history and sharing, while the inode, like on a local disk, is the
 * source's. The old target becomes a tombstone carrying the source's old
 * identity, trashed in Drive only if Drive had it.
 */
#include "common/compat.h"

#include <fcntl.h>
#include <limits.h>
#include <linux/fs.h>
#include <unistd.h>

#include "cache/cache_i.h"
#include "cache/journal.h"
#include "common/log.h"

#define SUB "ns"

/* A folder by inode, referenced and listed. */
static int get_dir_locked(struct cache *c, uint64_t ino, struct node **out)
{
	struct node *dir = cache_get_locked(c, ino);
	int rc;

	if (!dir)
		return -ESTALE;
	if (dir->kind != NODE_DIR) {
		tree_unref_locked(&c->t, dir);
		return -ENOTDIR;
	}
	rc = fetch_ensure_listed_locked(c, dir);
	if (rc < 0) {
		tree_unref_locked(&c->t, dir);
		return rc;
	}
	*out = dir;
	return 0;
}

/* Local change of @dir's entries: its mtime and ctime are now. */
static void dir_changed_locked(struct node *dir)
{
	dir->l.mtime = cache_now_ts();
	tree_touch_locked(dir);
}

int cache_lookup(struct cache *c, uint64_t parent, const char *name,
		 struct stat *st)
{
	struct node *dir, *n;
	int rc;

	tree_lock(&c->t);
	rc = get_dir_locked(c, parent, &dir);
	if (rc < 0)
		goto out;
	n = tree_child_locked(&c->t, dir, name);
	if (n) {
		n->nlookup++;
		cache_stat_locked(c, n, st);
	} else {
		rc = -ENOENT;
	}
	tree_unref_locked(&c->t, dir);
out:
	tree_unlock(&c->t);
	return rc;
}

void cache_forget(struct cache *c, uint64_t ino, uint64_t nlookup)
{
	struct node *n;

	tree_lock(&c->t);
	n = tree_get_locked(&c->t, ino);
	if (n)
		tree_forget_locked(&c->t, n, nlookup);
	tree_unlock(&c->t);
}

int cache_getattr(struct cache *c, uint64_t ino, struct stat *st)
{
	struct node *n;
	int rc = 0;

	tree_lock(&c->t);
	n = tree_get_locked(&c->t, ino);
	if (n)
		cache_stat_locked(c, n, st);
	else
		rc = -ESTALE;
	tree_unlock(&c->t);
	return rc;
}

int ns_prepare_locked(struct cache *c, uint64_t parent, const char *name,
		      struct node **dirp, struct node **existing,
		      char *drive_name, size_t drive_namesz)
{
	const struct tree_naming *nm = c->t.naming;
	struct node *dir, *n;
	int rc;

	*existing = NULL;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	rc = get_dir_locked(c, parent, &dir);
	if (rc < 0)
		return rc;
	if (dir->l.deleted && dir != c->t.root) {
		rc = -ENOENT;
		goto fail;
	}
	n = tree_child_locked(&c->t, dir, name);
	if (n) {
		tree_ref_locked(n);
		*existing = n;
		rc = -EEXIST;
		goto fail;
	}
	rc = nm->decode(nm->ctx, name, NULL, drive_name, drive_namesz);
	if (rc < 0)
		goto fail;
	*dirp = dir;
	return 0;
fail:
	tree_unref_locked(&c->t, dir);
	return rc;
}

struct node *ns_add_locked(struct cache *c, struct node *dir,
			   enum node_kind kind, const char *drive_name,
			   const char *name)
{
	struct node *n = tree_node_new_locked(&c->t, kind);

	if (!n)
		return NULL;
	if (tree_attach_locked(&c->t, n, dir, drive_name, name) < 0) {
		tree_maybe_free_locked(&c->t, n);
		return NULL;
	}
	tree_ref_locked(n);
	n->listed = true; /* made here: nothing in Drive to list */
	tree_update_local_only_locked(&c->t, n);
	dir_changed_locked(dir);
	idpool_want(c->ids); /* its upload will need one */
	return n;
}

int cache_mkdir(struct cache *c, uint64_t parent, const char *name,
		struct stat *st)
{
	char drive_name[NAME_MAX * 4 + 1];
	struct node *dir, *n, *old;
	int rc;

	tree_lock(&c->t);
	rc = ns_prepare_locked(c, parent, name, &dir, &old, drive_name,
			       sizeof(drive_name));
	if (rc < 0)
		goto out;
	n = ns_add_locked(c, dir, NODE_DIR, drive_name, name);
	if (!n) {
		rc = -ENOMEM;
		goto out_dir;
	}
	n->nlookup++;
	cache_stat_locked(c, n, st);
	sync_note_locked(c, n);
	tree_unref_locked(&c->t, n);
out_dir:
	tree_unref_locked(&c->t, dir);
out:
	if (old)
		tree_unref_locked(&c->t, old);
	tree_unlock(&c->t);
	if (rc == 0)
		rc = journal_commit(c->j); /* durable before the ack */
	return rc;
}

/* Write @len bytes of @p as the whole content of @n's cache file. */
static int write_content(struct cache *c, struct node *n, const char *p,
			 size_t len)
{
	int fd = store_open(&c->store, n->ino, O_WRONLY | O_TRUNC);
	ssize_t w;

	if (fd < 0)
		return fd;
	w = pwrite(fd, p, len, 0);
	close(fd);
	if (w < 0)
		return -errno;
	return (size_t)w == len ? 0 : -EIO;
}

/*
 * Take @n (referenced, linked, never pushed) off the namespace again after
 * a failed creation.
 */
static void undo_add_locked(struct cache *c, struct node *n)
{
	tree_detach_locked(&c->t, n);
	n->l.deleted = true;
	sync_recheck_locked(c, n);
}

int cache_symlink(struct cache *c, uint64_t parent, const char *name,
		  const char *target, struct stat *st)
{
	char drive_name[NAME_MAX * 4 + 1];
	struct node *dir = NULL, *n = NULL, *old = NULL;
	size_t len = strlen(target);
	char *copy = NULL;
	int rc;

	if (len == 0 || len >= PATH_MAX)
		return len ? -ENAMETOOLONG : -ENOENT;
	copy = strdup(target);
	if (!copy)
		return -ENOMEM;
	tree_lock(&c->t);
	rc = ns_prepare_locked(c, parent, name, &dir, &old, drive_name,
			       sizeof(drive_name));
	if (rc < 0)
		goto out;
	n = ns_add_locked(c, dir, NODE_SYMLINK, drive_name, name);
	if (!n) {
		rc = -ENOMEM;
		goto out;
	}
	n->l.symlink = copy;
	copy = NULL;
	n->l.size = (int64_t)len;
	n->c.has_file = true;
	/* The target is also the file's content in Drive (too long for an
	 * appProperty, or read by other tools). Not yet noted: no uploader
	 * can see it before the bytes are there. */
	tree_unlock(&c->t);
	rc = write_content(c, n, target, len);
	tree_lock(&c->t);
	if (rc < 0) {
		undo_add_locked(c, n);
		goto out;
	}
	ranges_add(&n->c.present, 0, (int64_t)len);
	store_account_locked(&c->t, n);
	n->c.dirty = true;
	n->c.data_gen++;
	n->nlookup++;
	cache_stat_locked(c, n, st);
	ns_arrived_locked(c, n);
	sync_note_locked(c, n);
out:
	if (n)
		tree_unref_locked(&c->t, n);
	if (dir)
		tree_unref_locked(&c->t, dir);
	if (old)
		tree_unref_locked(&c->t, old);
	tree_unlock(&c->t);
	free(copy);
	if (rc == 0)
		rc = journal_commit(c->j);
	return rc;
}

/* "../" for each folder between @from's folder and the root, then @to. */
static int shortcut_path_locked(const struct node *from, const struct node *to,
				char *buf, size_t size)
{
	char path[PATH_MAX];
	size_t pos = 0;
	const struct node *p;
	int rc;

	rc = tree_path_locked(to, path, sizeof(path));
	if (rc < 0)
		return rc;
	for (p = from->l.parent; p && p->l.parent; p = p->l.parent) {
		if (pos + 3 >= size)
			return -ENAMETOOLONG;
		memcpy(buf + pos, "../", 3);
		pos += 3;
	}
	if (pos + strlen(path) + 1 > size)
		return -ENAMETOOLONG;
	memcpy(buf + pos, path, strlen(path) + 1);
	return 0;
}

int cache_readlink(struct cache *c, uint64_t ino, char *buf, size_t size)
{
	struct tree *t = &c->t;
	struct node *n;
	int64_t len;
	int rc = 0;

	tree_lock(t);
	n = cache_get_locked(c, ino);
	if (!n) {
		rc = -ESTALE;
		goto out;
	}
	if (n->kind != NODE_SYMLINK) {
		rc = -EINVAL;
		goto out_n;
	}
	if (n->l.shortcut[0]) {
		struct node *to = tree_by_id_locked(t, n->l.shortcut);

		rc = to && (to->l.parent || to == t->root)
			 ? shortcut_path_locked(n, to, buf, size)
			 : -ENOENT;
		goto out_n;
	}
	if (!n->l.symlink) {
		/* The target is the content: read it from Drive once. */
		int fd;
		ssize_t got;

		len = n->l.size;
		if (len <= 0 || len >= PATH_MAX) {
			rc = -EIO;
			goto out_n;
		}
		rc = fetch_ensure_whole_locked(c, n);
		if (rc < 0)
			goto out_n;
		n->c.pins++; /* no eviction while the lock is dropped */
		tree_unlock(t);
		fd = store_open(&c->store, n->ino, O_RDONLY);
		got =
		    fd < 0 ? fd : pread(fd, buf, MIN((size_t)len, size - 1), 0);
		if (fd >= 0)
			close(fd);
		tree_lock(t);
		n->c.pins--;
		if (got < 0) {
			rc = fd < 0 ? fd : -errno;
			goto out_n;
		}
		buf[got] = '\0';
		if (!n->l.symlink)
			n->l.symlink = strdup(buf);
		goto out_n;
	}
	if (strlen(n->l.symlink) >= size)
		rc = -ENAMETOOLONG;
	else
		memcpy(buf, n->l.symlink, strlen(n->l.symlink) + 1);
out_n:
	tree_unref_locked(t, n);
out:
	tree_unlock(t);
	return rc;
}

/*
 * @n (live, a file Drive does not have) takes over the Drive identity of
 * @old (a file Drive has, being deleted or replaced): Drive's file keeps
 * its id and gets @n's bytes. @old is left with @n's former identity.
 */
static void take_over_locked(struct cache *c, struct node *n, struct node *old)
{
	tree_swap_identity_locked(&c->t, n, old);
	n->c.dirty = true; /* the bytes go to the id (unless Drive has them) */
	n->c.data_gen++;
	old->c.orphan = true; /* its cached bytes are of an id it lost */
}

/* Can @n take over @old's Drive identity without a request or download? */
static bool can_take_over(const struct node *n, const struct node *old)
{
	if (n->kind == NODE_DIR || n->kind == NODE_NATIVE ||
	    old->kind == NODE_DIR || old->kind == NODE_NATIVE ||
	    n->l.shortcut[0] || old->l.shortcut[0])
		return false;
	/*
	 * A push of either id may be in flight: that is fine, the uploaders
	 * never start a second push of a busy id and apply a result to
	 * whichever node holds the id when it returns (sync.c).
	 */
	return old->r.exists && tree_content_whole_locked(n);
}

/*
 * Editors that save with "move the old file aside, write a new one, delete
 * the old one" (vim backupcopy=no, JetBrains safe write): when @old, just
 * deleted, had been moved away from where Drive has it and a new file now
 * sits there, that file takes over the Drive id.
 */
static void pass_identity_locked(struct cache *c, struct node *old)
{
	struct node *dir = tree_by_id_locked(&c->t, old->r.parent);
	struct list_head *pos;

	if (!dir || !old->r.exists || !old->r.name)
		return;
	list_for_each(pos, &dir->children)
	{
		struct node *n = list_entry(pos, struct node, sibling);

		if (n->r.exists || strcmp(n->l.name, old->r.name) ||
		    !can_take_over(n, old))
			continue;
		take_over_locked(c, n, old);
		sync_note_locked(c, n);
		return;
	}
}

/*
 * The other order: @n (a file Drive does not have) arrived where a file
 * deleted here moments ago still is in Drive ("rm f; create f", "rm f;
 * mv tmp f"): it takes over that file's id rather than making a twin.
 */
static void adopt_tombstone_locked(struct cache *c, struct node *n)
{
	struct list_head *pos;
	struct node *dir = n->l.parent;

	if (n->r.exists || !dir || !dir->id[0])
		return;
	list_for_each(pos, &c->t.tombs)
	{
		struct node *old = list_entry(pos, struct node, s.tomb);

		/* A trash in flight may land any moment: too late. */
		if (!old->r.exists || !old->r.name || old->s.in_flight ||
		    strcmp(old->r.parent, dir->id) ||
		    strcmp(old->r.name, n->l.name) || !can_take_over(n, old))
			continue;
		take_over_locked(c, n, old);
		sync_note_locked(c, old); /* nothing left to do: forgotten */
		return;
	}
}

void ns_arrived_locked(struct cache *c, struct node *n)
{
	adopt_tombstone_locked(c, n);
}

/* Take @n off the namespace: a tombstone until Drive has caught up. */
static void remove_locked(struct cache *c, struct node *n)
{
	struct node *dir = n->l.parent;
	bool moved =
	    n->r.exists && n->r.name &&
	    (strcmp(dir->id, n->r.parent) || strcmp(n->l.name, n->r.name));

	dir_changed_locked(dir);
	tree_detach_locked(&c->t, n);
	n->l.deleted = true;
	tree_touch_locked(n);
	tree_ref_locked(n);
	if (moved)
		pass_identity_locked(c, n);
	sync_note_locked(c, n);
	tree_unref_locked(&c->t, n); /* may free n */
}

static int remove_entry(struct cache *c, uint64_t parent, const char *name,
			bool want_dir)
{
	struct node *dir, *n;
	int rc;

	tree_lock(&c->t);
	rc = get_dir_locked(c, parent, &dir);
	if (rc < 0)
		goto out;
	n = tree_child_locked(&c->t, dir, name);
	if (!n) {
		rc = -ENOENT;
		goto out_dir;
	}
	if (!want_dir && n->kind == NODE_DIR) {
		rc = -EISDIR;
		goto out_dir;
	}
	if (want_dir && n->kind != NODE_DIR) {
		rc = -ENOTDIR;
		goto out_dir;
	}
	if (want_dir) {
		/* Emptiness needs the listing; it may drop the lock. */
		tree_ref_locked(n);
		rc = fetch_ensure_listed_locked(c, n);
		if (rc == 0 && n->l.parent != dir)
			rc = -ENOENT; /* moved meanwhile */
		else if (rc == 0 && n->n_children)
			rc = -ENOTEMPTY;
		if (rc == 0)
			remove_locked(c, n);
		tree_unref_locked(&c->t, n);
		goto out_dir;
	}
	remove_locked(c, n);
out_dir:
	tree_unref_locked(&c->t, dir);
out:
	tree_unlock(&c->t);
	if (rc == 0)
		rc = journal_commit(c->j);
	return rc;
}

int cache_unlink(struct cache *c, uint64_t parent, const char *name)
{
	return remove_entry(c, parent, name, false);
}

int cache_rmdir(struct cache *c, uint64_t parent, const char *name)
{
	return remove_entry(c, parent, name, true);
}

/* Would moving @n under @dir put it inside itself? */
static bool inside(const struct node *dir, const struct node *n)
{
	for (const struct node *p = dir; p; p = p->l.parent)
		if (p == n)
			return true;
	return false;
}

/* The checks of rename(2), with both folders listed. */
static int rename_check(const struct node *s, const struct node *t,
			const struct node *ndir)
{
	if (s->kind == NODE_DIR && inside(ndir, s))
		return -EINVAL;
	/* Something Drive has cannot move under a folder Drive never gets:
	 * EXDEV makes mv(1) copy and delete instead. */
	if (ndir->l.local_only && !ndir->r.exists && s->r.exists)
		return -EXDEV;
	if (!t)
		return 0;
	if (s->kind == NODE_DIR && t->kind != NODE_DIR)
		return -ENOTDIR;
	if (s->kind != NODE_DIR && t->kind == NODE_DIR)
		return -EISDIR;
	return 0;
}

int cache_rename(struct cache *c, uint64_t parent, const char *name,
		 uint64_t newparent, const char *newname, unsigned flags)
{
	const struct tree_naming *nm = c->t.naming;
	char drive_name[NAME_MAX * 4 + 1];
	struct node *dir = NULL, *ndir = NULL, *s = NULL, *t = NULL;
	struct tree *tr = &c->t;
	int rc;

	if (flags & RENAME_EXCHANGE)
		return -EINVAL;
	if (flags & ~(unsigned)RENAME_NOREPLACE)
		return -EINVAL;
	if (strlen(newname) > NAME_MAX)
		return -ENAMETOOLONG;
	tree_lock(tr);
	rc = get_dir_locked(c, parent, &dir);
	if (rc < 0)
		goto out;
	rc = get_dir_locked(c, newparent, &ndir);
	if (rc < 0)
		goto out;
	if (ndir->l.deleted) {
		rc = -ENOENT;
		goto out;
	}
	/* Listing ndir may have dropped the lock: look names up only now. */
	s = tree_child_locked(tr, dir, name);
	if (!s) {
		rc = -ENOENT;
		goto out;
	}
	tree_ref_locked(s);
	t = tree_child_locked(tr, ndir, newname);
	if (t)
		tree_ref_locked(t);
	if (t == s)
		goto out; /* the same file: nothing to do */
	if (t && (flags & RENAME_NOREPLACE)) {
		rc = -EEXIST;
		goto out;
	}
	rc = rename_check(s, t, ndir);
	if (rc < 0)
		goto out;
	if (t && t->kind == NODE_DIR) {
		rc = fetch_ensure_listed_locked(c, t);
		if (rc == 0 && (t->l.parent != ndir || s->l.parent != dir))
			rc = -EAGAIN; /* moved while we listed: retry */
		if (rc == 0 && t->n_children)
			rc = -ENOTEMPTY;
		if (rc < 0)
			goto out;
	}
	rc = nm->decode(nm->ctx, newname,
			s->kind == NODE_NATIVE ? s->l.mime : NULL, drive_name,
			sizeof(drive_name));
	if (rc < 0)
		goto out;
	if (t && s->c.unverified && can_take_over(s, t)) {
		/* s's bytes are to go to t's Drive id: check them first
		 * (drops the lock), then start over. */
		fetch_verify_kept_locked(c, s);
		rc = -EAGAIN;
		goto out;
	}
	/* Move first: it is the step that can fail (ENOMEM), and until t is
	 * detached below the name is briefly indexed twice, unseen. */
	rc = tree_move_locked(tr, s, ndir, drive_name, newname);
	if (rc < 0)
		goto out;
	if (t) {
		if (can_take_over(s, t))
			take_over_locked(c, s, t);
		tree_detach_locked(tr, t);
		t->l.deleted = true;
		tree_touch_locked(t);
	}
	tree_update_local_only_locked(tr, s);
	tree_touch_locked(s);
	dir_changed_locked(dir);
	dir_changed_locked(ndir);
	if (!t)
		adopt_tombstone_locked(c, s);
	sync_note_locked(c, s);
	if (t)
		sync_note_locked(c, t); /* the tombstone; may free it */
out:
	if (t)
		tree_unref_locked(tr, t);
	if (s)
		tree_unref_locked(tr, s);
	if (ndir)
		tree_unref_locked(tr, ndir);
	if (dir)
		tree_unref_locked(tr, dir);
	tree_unlock(tr);
	if (rc == -EAGAIN)
		return cache_rename(c, parent, name, newparent, newname, flags);
	if (rc == 0)
		rc = journal_commit(c->j);
	return rc;
}
