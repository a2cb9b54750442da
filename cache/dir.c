/*
 * Reading folders (cache.h). A readdir at offset 0 snapshots the folder's
 * entries (".", "..", then the children in the order they joined the
 * folder); later calls page through the snapshot, so an offset means the
 * same entry however the folder changes meanwhile, and rewinddir() sees a
 * fresh one. Attributes are read live for each entry returned; an entry
 * whose node is gone by then is skipped.
 */
#include "common/compat.h"

#include "cache/cache_i.h"

struct dent {
	uint64_t ino;
	char *name;
};

struct cache_dir {
	uint64_t ino;
	struct dent *e;
	size_t n;
};

static void clear(struct cache_dir *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->e[i].name);
	free(d->e);
	d->e = NULL;
	d->n = 0;
}

static int snapshot_locked(struct cache_dir *d, struct node *dir)
{
	struct list_head *pos;
	size_t n = 2;

	clear(d);
	d->e = calloc(dir->n_children + 2, sizeof(*d->e));
	if (!d->e)
		return -ENOMEM;
	d->e[0].ino = dir->ino;
	d->e[0].name = strdup(".");
	d->e[1].ino = dir->l.parent ? dir->l.parent->ino : dir->ino;
	d->e[1].name = strdup("..");
	d->n = 2;
	if (!d->e[0].name || !d->e[1].name)
		return -ENOMEM;
	list_for_each(pos, &dir->children)
	{
		struct node *c = list_entry(pos, struct node, sibling);

		if (!c->l.dname)
			continue; /* names not assigned (out of memory) */
		d->e[n].ino = c->ino;
		d->e[n].name = strdup(c->l.dname);
		if (!d->e[n].name)
			return -ENOMEM;
		d->n = ++n;
	}
	return 0;
}

int cache_opendir(struct cache *c, uint64_t ino, struct cache_dir **out)
{
	struct cache_dir *d;
	struct node *n;
	int rc = 0;

	d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->ino = ino;
	tree_lock(&c->t);
	n = cache_get_locked(c, ino);
	if (!n)
		rc = -ESTALE;
	else if (n->kind != NODE_DIR)
		rc = -ENOTDIR;
	else
		rc = fetch_ensure_listed_locked(c, n);
	if (n)
		tree_unref_locked(&c->t, n);
	tree_unlock(&c->t);
	if (rc < 0) {
		free(d);
		return rc;
	}
	*out = d;
	return 0;
}

int cache_readdir(struct cache *c, struct cache_dir *d, off_t off, bool plus,
		  cache_dirent_cb cb, void *ctx)
{
	struct node *dir;
	int rc = 0;

	tree_lock(&c->t);
	if (off == 0) {
		dir = cache_get_locked(c, d->ino);
		if (!dir) {
			rc = -ESTALE;
			goto out;
		}
		rc = fetch_ensure_listed_locked(c, dir);
		if (rc == 0)
			rc = snapshot_locked(d, dir);
		tree_unref_locked(&c->t, dir);
		if (rc < 0)
			goto out;
	}
	for (size_t i = (size_t)MAX(off, 0); i < d->n; i++) {
		struct node *n = tree_get_locked(&c->t, d->e[i].ino);
		struct stat st;

		if (!n || (i >= 2 && n->l.deleted))
			continue;
		cache_stat_locked(c, n, &st);
		if (cb(ctx, d->e[i].name, &st, (off_t)(i + 1)))
			break;
		if (plus && i >= 2)
			n->nlookup++;
	}
out:
	tree_unlock(&c->t);
	return rc;
}

void cache_releasedir(struct cache *c, struct cache_dir *d)
{
	(void)c;
	clear(d);
	free(d);
}
