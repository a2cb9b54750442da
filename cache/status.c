/*
 * The snapshot drivefs-status shows (status.h). Everything about the tree
 * is read in one hold of the tree lock, so the queue, the byte counts and
 * the lists agree; the few pieces other files own (uploads in progress,
 * conflicts, pause state, last poll) come from their own functions, which
 * take the same lock briefly, just before.
 *
 * The item states are a reading of the node's sync bookkeeping (tree.h
 * struct node_sync), in the order the uploader would give them: in flight,
 * failed and backing off, held by a pause, held open by a writer, inside
 * its writeback delay, due.
 *
 * cache_file_info() answers drivefs-status --file: one node, found by
 * walking display names from the root like kernel lookups would.
 */
#include "common/compat.h"

#include <limits.h>

#include "cache/cache_i.h"
#include "cache/status.h"
#include "common/clock.h"

void cache_status_note_read_locked(struct cache *c, bool hit)
{
	if (hit)
		c->reads_hit++;
	else
		c->reads_miss++;
}

static const char *item_op(const struct node *n)
{
	if (n->l.deleted)
		return "trash";
	if (n->kind == NODE_DIR)
		return "folder";
	if (n->c.dirty)
		return "upload";
	return "metadata";
}

static const char *item_state(const struct cache *c, const struct node *n,
			      int64_t now, int64_t *due_in)
{
	*due_in = 0;
	if (n->s.in_flight)
		return "uploading";
	if (n->s.quarantined) {
		*due_in = MAX(n->s.retry_ms - now, 0);
		return "quarantined";
	}
	if (n->s.fails > 0 && n->s.retry_ms > now) {
		*due_in = n->s.retry_ms - now;
		return "retrying";
	}
	if (c->paused && !n->s.urgent)
		return "paused";
	if (n->c.open_writers > 0 && !n->s.urgent)
		return "open";
	if (n->s.due_ms > now) {
		*due_in = n->s.due_ms - now;
		return "waiting";
	}
	return "queued";
}

/* @it for @n, which has pending work. */
static void item_fill_locked(const struct cache *c, const struct node *n,
			     int64_t now, struct cache_status_item *it)
{
	bool content = n->c.dirty && !n->l.deleted && n->kind != NODE_DIR;

	tree_path_locked(n, it->path, sizeof(it->path));
	it->size = content ? n->l.size : 0;
	it->op = item_op(n);
	it->state = item_state(c, n, now, &it->due_in_ms);
	it->fails = n->s.fails;
	it->last_err = n->s.last_err;
	it->err_class =
	    n->s.last_err ? drive_err_class_name(n->s.err_class) : NULL;
	it->quarantined = n->s.quarantined;
}

static void fill_items_locked(struct cache *c, struct cache_status *st)
{
	struct tree *t = &c->t;
	int64_t now = clock_mono_ms();
	struct list_head *pos;

	list_for_each(pos, &t->pending)
	{
		struct node *n = list_entry(pos, struct node, s.pending);
		bool content =
		    n->c.dirty && !n->l.deleted && n->kind != NODE_DIR;

		st->pending++;
		if (content)
			st->pending_bytes += n->l.size;
		if (n->s.last_err)
			st->failing++;
		if (n->s.quarantined)
			st->quarantined++;
		if (n->s.in_flight)
			st->in_flight++;
		if (st->n_items < CACHE_STATUS_ITEMS_MAX)
			item_fill_locked(c, n, now, &st->items[st->n_items++]);
	}
}

/* A display name "stem~<id prefix>..." made for a duplicate (names.c). */
static bool is_alias(const struct node *n)
{
	const char *p;

	if (!n->l.dname || !n->id[0] || !n->l.name)
		return false;
	if (!strcmp(n->l.dname, n->l.name))
		return false;
	for (p = strchr(n->l.dname, '~'); p; p = strchr(p + 1, '~')) {
		size_t k =
		    strspn(p + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
				  "abcdefghijklmnopqrstuvwxyz0123456789_-");

		if (k >= 6 && !strncmp(p + 1, n->id, MIN(k, strlen(n->id))))
			return true;
	}
	return false;
}

/* Downloads in flight and duplicates: one pass over every node. */
static void fill_nodes_locked(struct cache *c, struct cache_status *st)
{
	const struct hmap *m = &c->t.by_ino;

	for (size_t b = 0; b < m->nbuckets; b++) {
		for (struct hmap_node *h = m->buckets[b]; h; h = h->next) {
			struct node *n = list_entry(h, struct node, by_ino);

			if (n->c.fetching.n &&
			    st->n_downloads < CACHE_STATUS_DOWNLOADS_MAX) {
				struct cache_status_download *d =
				    &st->downloads[st->n_downloads++];

				tree_path_locked(n, d->path, sizeof(d->path));
				d->fetching = ranges_total(&n->c.fetching);
				d->present = ranges_total(&n->c.present);
				d->size = n->l.size;
			}
			if (n->l.parent && !n->l.deleted && is_alias(n)) {
				struct cache_status_dup *d;

				st->dups_total++;
				if (st->n_dups >= CACHE_STATUS_DUPS_MAX)
					continue;
				d = &st->dups[st->n_dups++];
				tree_path_locked(n, d->path, sizeof(d->path));
				snprintf(d->name, sizeof(d->name), "%s",
					 n->l.name);
				snprintf(d->id, sizeof(d->id), "%s", n->id);
			}
		}
	}
}

static const char *kind_name(enum node_kind k)
{
	switch (k) {
	case NODE_DIR:
		return "folder";
	case NODE_SYMLINK:
		return "symlink";
	case NODE_NATIVE:
		return "native";
	case NODE_FILE:
	default:
		return "file";
	}
}

static void file_info_locked(struct cache *c, const struct node *n,
			     struct cache_file_info *out)
{
	int64_t now = clock_mono_ms();

	tree_path_locked(n, out->path, sizeof(out->path));
	out->kind = kind_name(n->kind);
	snprintf(out->id, sizeof(out->id), "%s", n->id);
	out->in_drive = n->r.exists;
	snprintf(out->md5, sizeof(out->md5), "%s", n->r.exists ? n->r.md5 : "");
	out->version = n->r.exists ? n->r.version : -1;
	out->drive_size = n->r.exists ? n->r.size : -1;
	out->size = n->l.size;
	out->cached = n->kind == NODE_FILE ? ranges_total(&n->c.present) : 0;
	out->mtime_ms =
	    (int64_t)n->l.mtime.tv_sec * 1000 + n->l.mtime.tv_nsec / 1000000;
	out->sync = n->l.local_only && !n->r.exists ? "local-only"
						    : sync_state_locked(n);
	out->mount_pending = c->t.n_pending;
	out->pending = list_linked(&n->s.pending);
	if (out->pending)
		item_fill_locked(c, n, now, &out->work);
	out->state = out->pending ? out->work.state : out->sync;
}

int cache_file_info(struct cache *c, const char *path,
		    struct cache_file_info *out)
{
	struct tree *t = &c->t;
	const char *p = path;
	struct node *n;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (path[0] == '/')
		return -EINVAL;
	tree_lock(t);
	n = t->root;
	tree_ref_locked(n);
	while (*p) {
		char name[NAME_MAX + 1];
		size_t len = strcspn(p, "/");
		struct node *child;

		if (len == 0 || (len == 1 && p[0] == '.')) {
			p += len + (p[len] == '/');
			continue;
		}
		if (len > NAME_MAX) {
			rc = -ENAMETOOLONG;
			break;
		}
		if (len == 2 && p[0] == '.' && p[1] == '.') {
			rc = -EINVAL;
			break;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		p += len + (p[len] == '/');
		if (n->kind != NODE_DIR) {
			rc = -ENOTDIR;
			break;
		}
		/* Drops the lock while Drive lists it; n stays referenced. */
		rc = fetch_ensure_listed_locked(c, n);
		if (rc < 0)
			break;
		child = tree_child_locked(t, n, name);
		if (!child) {
			rc = -ENOENT;
			break;
		}
		tree_ref_locked(child);
		tree_unref_locked(t, n);
		n = child;
	}
	if (rc == 0)
		file_info_locked(c, n, out);
	tree_unref_locked(t, n);
	tree_unlock(t);
	return rc;
}

int cache_status_get(struct cache *c, struct cache_status *st)
{
	memset(st, 0, sizeof(*st));
	st->items = calloc(CACHE_STATUS_ITEMS_MAX, sizeof(*st->items));
	st->uploads = calloc(CACHE_STATUS_UPLOADS_MAX, sizeof(*st->uploads));
	st->downloads =
	    calloc(CACHE_STATUS_DOWNLOADS_MAX, sizeof(*st->downloads));
	st->conflicts = calloc(CACHE_CONFLICTS_KEPT, sizeof(*st->conflicts));
	st->dups = calloc(CACHE_STATUS_DUPS_MAX, sizeof(*st->dups));
	if (!st->items || !st->uploads || !st->downloads || !st->conflicts ||
	    !st->dups) {
		cache_status_release(st);
		return -ENOMEM;
	}
	/* Their own locks, one after the other (t.lock is not reentrant). */
	st->n_uploads = cache_uploads(c, st->uploads, CACHE_STATUS_UPLOADS_MAX);
	st->n_conflicts =
	    cache_conflicts(c, st->conflicts, CACHE_CONFLICTS_KEPT);
	st->conflicts_total = cache_conflicts_total(c);
	st->last_poll_wall_ms = cache_last_poll_wall_ms(c);

	tree_lock(&c->t);
	st->paused = c->paused;
	fill_items_locked(c, st);
	fill_nodes_locked(c, st);
	st->cached_bytes = c->t.cached_bytes;
	st->cache_max = c->o.size_max;
	st->hits = c->reads_hit;
	st->misses = c->reads_miss;
	tree_unlock(&c->t);
	return 0;
}

void cache_status_release(struct cache_status *st)
{
	free(st->items);
	free(st->uploads);
	free(st->downloads);
	free(st->conflicts);
	free(st->dups);
	memset(st, 0, sizeof(*st));
}
