/*
 * Create races (DESIGN.md "Two machines"): two mounts create the same new
 * path before either has seen the other's file, so Drive ends up with two
 * files of one name in one folder ("twins"). Exactly one side acts, on its
 * own file: the mount that created the NEWER of the two (createdTime, then
 * id), so the two never undo each other; every create carries the
 * drivefs_host appProperty, so a mount knows a twin made by another tool,
 * which nobody else would settle: then our file yields even when older.
 * The side that acts
 *   - files with the same bytes (md5): trashes its own file; its node (same
 *     inode, same bytes) takes the other file's id;
 *   - files with other bytes: renames its own file to a conflict copy
 *     (conflict.h), the other one keeps the name;
 *   - folders: merges, its node takes the older folder's id, its children
 *     move there (the syncer sends the moves), its own folder is trashed
 *     once empty; the older folder is listed again so both sets of
 *     children show (and twins among them are settled the same way).
 * Files this mount did not create are never touched: duplicates made by
 * other tools stay as they are, shown under aliases (names.c).
 */
#include "common/compat.h"

#include "cache/cache_i.h"
#include "cache/conflict.h"
#include "common/log.h"

#define SUB "conflict"

/* @a was created after @b (Drive's order: createdTime, then id). */
static bool newer(const struct node *a, const struct node *b)
{
	if (a->l.created_ms != b->l.created_ms)
		return a->l.created_ms > b->l.created_ms;
	return strcmp(a->id, b->id) > 0;
}

/* We made @o's place (created, renamed or moved it there): a twin of it
 * is ours to settle. */
static bool ours(const struct node *o)
{
	return o->r.by_us || o->s.placed_here;
}

static bool settled_twin(const struct node *n)
{
	return n->id[0] && n->r.exists && !n->l.deleted && n->l.parent &&
	       !list_linked(&n->s.pending) && !n->s.in_flight && !n->c.dirty &&
	       !n->c.open_writers;
}

/*
 * The twin of our @o that @o must settle with, or NULL: the oldest other
 * node in @o's folder with @o's Drive name and kind class, unless that one
 * is newer than @o and was made by another drivefs mount (which settles
 * it: the newer side acts). A newer twin from another tool (a web upload
 * racing ours) has no drivefs to settle it, so ours yields to it.
 */
static struct node *twin_to_settle(const struct node *o)
{
	struct node *dir = o->l.parent, *best = NULL;
	struct list_head *pos;

	list_for_each(pos, &dir->children)
	{
		struct node *x = list_entry(pos, struct node, sibling);

		if (x == o || !x->id[0] || !x->r.exists || x->l.deleted ||
		    !x->l.name || strcmp(x->l.name, o->l.name))
			continue;
		if ((x->kind == NODE_DIR) != (o->kind == NODE_DIR) ||
		    x->kind == NODE_NATIVE)
			continue;
		if (!best || newer(best, x))
			best = x;
	}
	if (best && newer(best, o) && best->r.by_drivefs)
		return NULL;
	return best;
}

/*
 * @o takes the Drive identity of its twin @x; @x leaves the tree; @o's
 * own Drive file becomes a tombstone the syncer trashes. Returns 0 or
 * -ENOMEM (nothing changed).
 */
static int take_twin_id_locked(struct cache *c, struct node *o, struct node *x)
{
	struct tree *t = &c->t;
	struct node *dir = o->l.parent;
	struct node *tomb = tree_node_new_locked(t, o->kind);
	bool hx = o->c.have_xxh;
	uint8_t xxh[16];
	char md5[DRIVE_MD5_HEX + 1];

	if (!tomb)
		return -ENOMEM;
	memcpy(xxh, o->c.xxh, sizeof(xxh));
	memcpy(md5, o->c.md5, sizeof(md5));
	tree_ref_locked(tomb);
	tree_swap_identity_locked(t, o, tomb); /* tomb: o's file */
	tree_swap_identity_locked(t, o, x);    /* o: x's file */
	/* Same bytes: what o knew of its bytes still holds. */
	o->c.have_xxh = hx;
	memcpy(o->c.xxh, xxh, sizeof(xxh));
	memcpy(o->c.md5, md5, sizeof(md5));
	o->l.created_ms = x->l.created_ms;
	tomb->l.deleted = true;
	sync_note_locked(c, tomb);
	tree_unref_locked(t, tomb);

	poll_queue_inval(c, dir->ino, x->l.dname);
	poll_queue_inval(c, x->ino, NULL);
	tree_ref_locked(x);
	tree_detach_locked(t, x);
	x->l.deleted = true; /* no id, not in Drive: forgotten */
	x->c.orphan = true;
	sync_recheck_locked(c, x);
	tree_unref_locked(t, x);
	return tree_assign_names_locked(t, dir);
}

/* Folders: @o becomes @x (merge), its children move in Drive. */
static int merge_folders_locked(struct cache *c, struct node *o, struct node *x)
{
	struct list_head *pos;
	int rc;

	/* Ours move in Drive, into x: a name they meet there is ours to
	 * settle. */
	list_for_each(pos, &o->children) list_entry(pos, struct node, sibling)
	    ->s.placed_here = true;
	/* x's children we know of come along under o (display names are
	 * assigned afresh: both folders may hold a name). */
	while (!list_empty(&x->children)) {
		struct node *k =
		    list_entry(x->children.next, struct node, sibling);
		char *name = strdup(k->l.name);

		if (!name)
			return -ENOMEM;
		tree_ref_locked(k);
		tree_detach_locked(&c->t, k);
		rc = tree_attach_locked(&c->t, k, o, name, NULL);
		free(name);
		tree_unref_locked(&c->t, k);
		if (rc < 0)
			return rc;
	}
	rc = take_twin_id_locked(c, o, x);
	if (rc < 0)
		return rc;
	/* Ours still sit in our old folder in Drive: the moves are sent
	 * first, then the old folder (a tombstone now) is trashed. */
	list_for_each(pos, &o->children)
	    sync_recheck_locked(c, list_entry(pos, struct node, sibling));
	o->listed = false;
	poll_queue_relist(c, o->ino);
	return 0;
}

void twins_check_locked(struct cache *c, struct node *o)
{
	struct node *x;
	char path[1024];
	int rc = 0;

	if (!ours(o) || !settled_twin(o) || !o->l.name)
		return;
	x = twin_to_settle(o);
	if (!x)
		return;
	tree_path_locked(o, path, sizeof(path));
	tree_ref_locked(o);
	tree_ref_locked(x);
	if (o->kind == NODE_DIR) {
		log_info(SUB,
			 "'%s' was created on another machine too: "
			 "merging the two folders",
			 path);
		rc = merge_folders_locked(c, o, x);
		if (rc == 0)
			conflict_record_locked(c, o, NULL,
					       "create-race-merged");
	} else if (o->r.md5[0] && !strcmp(o->r.md5, x->r.md5)) {
		log_info(SUB,
			 "'%s' was created on another machine with the "
			 "same bytes: keeping one",
			 path);
		rc = take_twin_id_locked(c, o, x);
		if (rc == 0)
			conflict_record_locked(c, o, NULL, "create-race-same");
	} else {
		rc = conflict_rename_copy_locked(c, o, x, "create-race");
	}
	if (rc < 0)
		log_err(SUB, "settling the two files '%s' failed: %s", path,
			strerror(-rc));
	tree_unref_locked(&c->t, x);
	tree_unref_locked(&c->t, o);
}

/* Settle every twin in @dir whose newer half is ours, or those named
 * @name only (when not NULL). */
static void check_children_locked(struct cache *c, struct node *dir,
				  const char *name)
{
	size_t rounds = dir->n_children + 1;
	bool again = true;

	/* Settling one detaches a sibling: scan afresh after each. */
	while (again && rounds--) {
		struct list_head *pos;

		again = false;
		list_for_each(pos, &dir->children)
		{
			struct node *o = list_entry(pos, struct node, sibling);

			if (!ours(o) || !o->l.name ||
			    (name && strcmp(o->l.name, name)) ||
			    !settled_twin(o) || !twin_to_settle(o))
				continue;
			twins_check_locked(c, o);
			again = true;
			break;
		}
	}
}

void twins_check_dir_locked(struct cache *c, struct node *dir)
{
	check_children_locked(c, dir, NULL);
}

void twins_check_name_locked(struct cache *c, struct node *dir,
			     const char *name)
{
	/* @name may be a node's own, which settling it renames (frees). */
	char *copy = strdup(name);

	if (copy)
		check_children_locked(c, dir, copy);
	free(copy);
}
