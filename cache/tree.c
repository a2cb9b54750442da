/*
 * The in-memory tree (tree.h): node allocation, the three indexes, folder
 * membership, display names, lookup counts and freeing, and turning a
 * listed Drive file into a node.
 *
 * Indexes: by_ino and by_id hash the key; by_name hashes (parent inode,
 * display name), so a lookup in a folder of 100,000 files is one hash probe.
 * Only live, named nodes are in by_name; only nodes with a Drive id are in
 * by_id; every node is in by_ino until it is freed. Inode numbers count up
 * from 2 and are never reused during a mount.
 */
#include "common/compat.h"

#include <inttypes.h>

#include "cache/tree.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/str.h"

#define SUB "tree"

static uint64_t ino_hash(uint64_t ino)
{
	return hmap_hash(&ino, sizeof(ino), 0);
}

static uint64_t id_hash(const char *id)
{
	return hmap_hash(id, strlen(id), 1);
}

static uint64_t name_hash(uint64_t parent_ino, const char *dname)
{
	return hmap_hash(dname, strlen(dname), parent_ino);
}

static struct timespec ms_to_ts(int64_t ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(ms / 1000);
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	if (ts.tv_nsec < 0) {
		ts.tv_sec--;
		ts.tv_nsec += 1000000000;
	}
	return ts;
}

static struct timespec now_ts(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts;
}

void tree_lock(struct tree *t)
{
	pthread_mutex_lock(&t->lock);
}

void tree_unlock(struct tree *t)
{
	pthread_mutex_unlock(&t->lock);
}

void tree_wait_locked(struct tree *t)
{
	pthread_cond_wait(&t->cond, &t->lock);
}

void tree_wait_until_locked(struct tree *t, int64_t deadline_ms)
{
	int64_t left = deadline_ms - clock_mono_ms();
	struct timespec ts;

	if (left <= 0)
		return;
	/* t->cond runs on CLOCK_MONOTONIC (tree_init). */
	clock_mono_timespec_after(left, &ts);
	pthread_cond_timedwait(&t->cond, &t->lock, &ts);
}

void tree_broadcast_locked(struct tree *t)
{
	pthread_cond_broadcast(&t->cond);
}

struct node *tree_node_new_locked(struct tree *t, enum node_kind kind)
{
	struct node *n = calloc(1, sizeof(*n));
	struct timespec now = now_ts();

	if (!n)
		return NULL;
	n->ino = t->next_ino++;
	n->kind = kind;
	n->l.mtime = n->l.atime = n->l.ctime = now;
	n->l.created_ms = clock_wall_ms();
	n->r.version = -1;
	n->r.size = -1;
	n->r.mtime_ms = -1;
	ranges_init(&n->c.present);
	ranges_init(&n->c.fetching);
	list_init(&n->c.lru);
	list_init(&n->s.pending);
	list_init(&n->s.tomb);
	list_init(&n->children);
	list_init(&n->sibling);
	hmap_insert(&t->by_ino, &n->by_ino, ino_hash(n->ino));
	return n;
}

/* Remember @ino's cache file for removal (tree_take_dead_locked()). */
static void bury(struct tree *t, uint64_t ino)
{
	if (t->n_dead == t->cap_dead) {
		size_t cap = t->cap_dead ? t->cap_dead * 2 : 64;
		uint64_t *v = realloc(t->dead, cap * sizeof(*v));

		if (!v) {
			log_warn(SUB,
				 "cache file of inode %" PRIu64
				 " left behind: out of memory",
				 ino);
			return;
		}
		t->dead = v;
		t->cap_dead = cap;
	}
	t->dead[t->n_dead++] = ino;
}

void tree_take_dead_locked(struct tree *t, uint64_t **out, size_t *n)
{
	*out = t->dead;
	*n = t->n_dead;
	t->dead = NULL;
	t->n_dead = t->cap_dead = 0;
}

static void node_free(struct tree *t, struct node *n)
{
	if (n->c.has_file)
		bury(t, n->ino);
	hmap_remove(&t->by_ino, &n->by_ino);
	if (n->id[0])
		hmap_remove(&t->by_id, &n->by_id);
	if (list_linked(&n->c.lru)) {
		t->cached_bytes -= n->c.bytes;
		list_del_init(&n->c.lru);
	}
	ranges_release(&n->c.present);
	ranges_release(&n->c.fetching);
	free(n->l.name);
	free(n->l.dname);
	free(n->l.symlink);
	free(n->l.mime);
	free(n->r.name);
	free(n->r.symlink);
	free(n);
}

int tree_init(struct tree *t, const char *root_id,
	      const struct tree_naming *naming, const struct local_only *lo)
{
	pthread_condattr_t ca;
	struct node *root;

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cond, &ca);
	pthread_condattr_destroy(&ca);
	hmap_init(&t->by_ino);
	hmap_init(&t->by_id);
	hmap_init(&t->by_name);
	list_init(&t->pending);
	list_init(&t->tombs);
	list_init(&t->lru);
	t->naming = naming;
	t->lo = lo;
	t->next_ino = TREE_ROOT_INO;

	root = tree_node_new_locked(t, NODE_DIR);
	if (!root)
		goto nomem;
	root->l.name = strdup("");
	root->l.dname = strdup("");
	root->r.name = strdup("");
	if (!root->l.name || !root->l.dname || !root->r.name)
		goto nomem;
	root->r.exists = true;
	root->nlookup = 1; /* the kernel never forgets the root */
	tree_set_id_locked(t, root, root_id);
	t->root = root;
	return 0;
nomem:
	tree_release(t);
	return -ENOMEM;
}

void tree_release(struct tree *t)
{
	/* Every node is in by_ino: free them bucket by bucket. */
	for (size_t i = 0; i < t->by_ino.nbuckets; i++) {
		while (t->by_ino.buckets[i]) {
			struct node *n = list_entry(t->by_ino.buckets[i],
						    struct node, by_ino);

			if (n->l.dname && n->l.parent)
				hmap_remove(&t->by_name, &n->by_name);
			node_free(t, n);
		}
	}
	free(t->dead);
	t->dead = NULL;
	t->n_dead = t->cap_dead = 0;
	hmap_release(&t->by_ino);
	hmap_release(&t->by_id);
	hmap_release(&t->by_name);
	pthread_cond_destroy(&t->cond);
	pthread_mutex_destroy(&t->lock);
	t->root = NULL;
}

struct node *tree_get_locked(struct tree *t, uint64_t ino)
{
	struct hmap_node *h;

	for (h = hmap_first(&t->by_ino, ino_hash(ino)); h; h = hmap_next(h)) {
		struct node *n = list_entry(h, struct node, by_ino);

		if (n->ino == ino)
			return n;
	}
	return NULL;
}

struct node *tree_by_id_locked(struct tree *t, const char *id)
{
	struct hmap_node *h;

	if (!id[0])
		return NULL;
	for (h = hmap_first(&t->by_id, id_hash(id)); h; h = hmap_next(h)) {
		struct node *n = list_entry(h, struct node, by_id);

		if (!strcmp(n->id, id))
			return n;
	}
	return NULL;
}

void tree_names_fresh_locked(struct tree *t, struct node *dir)
{
	if (dir->names_stale && tree_assign_names_locked(t, dir) < 0)
		dir->names_stale = true; /* out of memory: next time */
}

struct node *tree_child_locked(struct tree *t, struct node *dir,
			       const char *dname)
{
	struct hmap_node *h;

	for (h = hmap_first(&t->by_name, name_hash(dir->ino, dname)); h;
	     h = hmap_next(h)) {
		struct node *n = list_entry(h, struct node, by_name);

		if (n->l.parent == dir && !strcmp(n->l.dname, dname))
			return n;
	}
	return NULL;
}

/* Put @n in by_name under its parent and dname (both set). */
static void index_name(struct tree *t, struct node *n)
{
	hmap_insert(&t->by_name, &n->by_name,
		    name_hash(n->l.parent->ino, n->l.dname));
}

int tree_attach_locked(struct tree *t, struct node *n, struct node *dir,
		       const char *name, const char *dname)
{
	char *nm = strdup(name);
	char *dn = dname ? strdup(dname) : NULL;

	if (!nm || (dname && !dn)) {
		free(nm);
		free(dn);
		return -ENOMEM;
	}
	if (n->l.parent)
		DFS_BUG("attach of a linked node %" PRIu64, n->ino);
	free(n->l.name);
	free(n->l.dname);
	n->l.name = nm;
	n->l.dname = dn;
	t->changes++;
	n->l.parent = dir;
	n->l.deleted = false;
	tree_ref_locked(dir);
	list_add_tail(&n->sibling, &dir->children);
	dir->n_children++;
	if (dn)
		index_name(t, n);
	return 0;
}

int tree_move_locked(struct tree *t, struct node *n, struct node *dir,
		     const char *name, const char *dname)
{
	char *nm = strdup(name);
	char *dn = strdup(dname);

	if (!nm || !dn) {
		free(nm);
		free(dn);
		return -ENOMEM;
	}
	tree_ref_locked(n); /* not freed while off the namespace */
	tree_detach_locked(t, n);
	free(n->l.name);
	free(n->l.dname);
	n->l.name = nm;
	n->l.dname = dn;
	n->l.parent = dir;
	tree_ref_locked(dir);
	list_add_tail(&n->sibling, &dir->children);
	dir->n_children++;
	index_name(t, n);
	tree_unref_locked(t, n);
	return 0;
}

void tree_detach_locked(struct tree *t, struct node *n)
{
	struct node *dir = n->l.parent;

	t->changes++;
	if (!dir)
		return;
	if (n->l.dname)
		hmap_remove(&t->by_name, &n->by_name);
	list_del_init(&n->sibling);
	dir->n_children--;
	if (dir->names_aliased)
		dir->names_stale = true;
	n->l.parent = NULL;
	tree_unref_locked(t, dir);
}

void tree_set_id_locked(struct tree *t, struct node *n, const char *id)
{
	t->changes++;
	if (n->id[0])
		hmap_remove(&t->by_id, &n->by_id);
	str_copy(n->id, sizeof(n->id), id);
	if (n->id[0])
		hmap_insert(&t->by_id, &n->by_id, id_hash(n->id));
}

void tree_swap_identity_locked(struct tree *t, struct node *a, struct node *b)
{
	char ida[DRIVE_ID_MAX + 1];
	struct node_remote r;
	bool hx;
	uint8_t xxh[16];
	char md5[DRIVE_MD5_HEX + 1];

	memcpy(ida, a->id, sizeof(ida));
	tree_set_id_locked(t, a, b->id);
	tree_set_id_locked(t, b, ida);
	r = a->r;
	a->r = b->r;
	b->r = r;
	/* What Drive holds travels with the id; the bytes stay. */
	hx = a->c.have_xxh;
	memcpy(xxh, a->c.xxh, sizeof(xxh));
	a->c.have_xxh = b->c.have_xxh;
	memcpy(a->c.xxh, b->c.xxh, sizeof(xxh));
	b->c.have_xxh = hx;
	memcpy(b->c.xxh, xxh, sizeof(xxh));
	memcpy(md5, a->c.md5, sizeof(md5));
	memcpy(a->c.md5, b->c.md5, sizeof(md5));
	memcpy(b->c.md5, md5, sizeof(md5));
}

void tree_ref_locked(struct node *n)
{
	n->refs++;
}

void tree_unref_locked(struct tree *t, struct node *n)
{
	if (n->refs <= 0)
		DFS_BUG("unref of node %" PRIu64 " with refs %d", n->ino,
			n->refs);
	n->refs--;
	tree_maybe_free_locked(t, n);
}

void tree_forget_locked(struct tree *t, struct node *n, uint64_t count)
{
	if (count > n->nlookup) {
		log_warn(SUB,
			 "forget of %" PRIu64 " lookups of inode %" PRIu64
			 " that has %" PRIu64,
			 count, n->ino, n->nlookup);
		count = n->nlookup;
	}
	n->nlookup -= count;
	tree_maybe_free_locked(t, n);
}

void tree_maybe_free_locked(struct tree *t, struct node *n)
{
	if (n == t->root || n->l.parent || n->nlookup || n->refs ||
	    list_linked(&n->s.pending) || n->s.in_flight || n->c.evicting ||
	    n->c.pins)
		return;
	node_free(t, n);
}

bool tree_has_work_locked(const struct node *n)
{
	/* An open writer may write any moment: its bytes must survive. */
	return list_linked(&n->s.pending) || n->s.in_flight || n->c.dirty ||
	       n->c.open_writers;
}

bool tree_subtree_busy_locked(const struct node *n)
{
	struct list_head *pos;

	if (tree_has_work_locked(n))
		return true;
	if (n->kind != NODE_DIR)
		return false;
	list_for_each(pos, &n->children)
	{
		if (tree_subtree_busy_locked(
			list_entry(pos, struct node, sibling)))
			return true;
	}
	return false;
}

void tree_drop_subtree_locked(struct tree *t, struct node *n,
			      void (*gone)(void *ctx, uint64_t dir,
					   const char *dname),
			      void *ctx)
{
	struct node *dir = n->l.parent;

	tree_ref_locked(n);
	while (n->kind == NODE_DIR && !list_empty(&n->children))
		tree_drop_subtree_locked(
		    t, list_entry(n->children.next, struct node, sibling), gone,
		    ctx);
	if (dir && n->l.dname && gone)
		gone(ctx, dir->ino, n->l.dname);
	tree_detach_locked(t, n);
	n->l.deleted = true;
	n->r.exists = false;
	tree_set_id_locked(t, n, "");
	n->c.orphan = true;
	n->c.epoch++;
	tree_unref_locked(t, n);
}

bool tree_content_whole_locked(const struct node *n)
{
	return ranges_covers(&n->c.present, 0, n->l.size);
}

void tree_touch_locked(struct node *n)
{
	n->l.ctime = now_ts();
}

void tree_stat_locked(const struct node *n, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = n->ino;
	switch (n->kind) {
	case NODE_DIR:
		st->st_mode = S_IFDIR | 0755;
		break;
	case NODE_SYMLINK:
		st->st_mode = S_IFLNK | 0777;
		break;
	case NODE_NATIVE:
		st->st_mode = S_IFREG | 0444;
		break;
	default:
		st->st_mode = S_IFREG | (n->l.exec ? 0755 : 0644);
		break;
	}
	/* Folders: 1 = "unknown", so find(1) does not count subfolders. */
	st->st_nlink = n->l.deleted ? 0 : 1;
	st->st_size = n->kind == NODE_DIR ? 4096 : n->l.size;
	st->st_blksize = 4096;
	st->st_blocks = (st->st_size + 511) / 512;
	st->st_mtim = n->l.mtime;
	st->st_atim = n->l.atime;
	st->st_ctim = n->l.ctime;
}

int tree_path_locked(const struct node *n, char *out, size_t outsz)
{
	size_t pos = outsz - 1;
	const struct node *p;
	int rc = 0;

	if (outsz == 0)
		return -ENAMETOOLONG;
	out[pos] = '\0';
	for (p = n; p && p->l.parent; p = p->l.parent) {
		const char *nm = p->l.dname ? p->l.dname : p->l.name;
		size_t len = strlen(nm) + (p == n ? 0 : 1);

		if (len > pos) {
			rc = -ENAMETOOLONG;
			break;
		}
		pos -= len;
		memcpy(out + pos, nm, strlen(nm));
		if (p != n)
			out[pos + len - 1] = '/';
	}
	if (p == n && !p->l.parent && n->l.deleted && n->l.name) {
		/* Unlinked: just the last name. */
		str_copy(out, outsz, n->l.name);
		return 0;
	}
	memmove(out, out + pos, outsz - pos);
	return rc;
}

static void set_local_only_below(struct node *dir, bool v)
{
	struct list_head *pos;

	list_for_each(pos, &dir->children)
	{
		struct node *c = list_entry(pos, struct node, sibling);

		c->l.local_only = v;
		if (c->kind == NODE_DIR)
			set_local_only_below(c, v);
	}
}

void tree_update_local_only_locked(struct tree *t, struct node *n)
{
	char path[4096];
	struct node *p = n->l.parent;
	bool v;

	if (!p || !t->lo)
		return;
	if (p->l.local_only && !p->r.exists)
		v = true;
	else if (tree_path_locked(n, path, sizeof(path)) < 0)
		v = false;
	else
		v = local_only_match(t->lo, path, n->kind == NODE_DIR);
	if (v == n->l.local_only)
		return;
	n->l.local_only = v;
	if (n->kind == NODE_DIR)
		set_local_only_below(n, v);
}

const char *tree_name_for_log(const struct node *n)
{
	if (n->l.name)
		return n->l.name;
	if (n->r.name)
		return n->r.name;
	return "?";
}

int tree_assign_names_locked(struct tree *t, struct node *dir)
{
	struct tree_name *e = NULL;
	struct node **nodes = NULL;
	char(*local_ids)[24] = NULL;
	struct list_head *pos;
	size_t n = 0, i;
	int rc;

	e = calloc(dir->n_children + 1, sizeof(*e));
	nodes = calloc(dir->n_children + 1, sizeof(*nodes));
	local_ids = calloc(dir->n_children + 1, sizeof(*local_ids));
	if (!e || !nodes || !local_ids) {
		rc = -ENOMEM;
		goto out;
	}
	list_for_each(pos, &dir->children)
	{
		struct node *c = list_entry(pos, struct node, sibling);

		if (!c->id[0] && (!c->l.name || !c->l.dname))
			continue;
		e[n].id = c->id;
		e[n].drive_name = c->l.name;
		e[n].mime = c->kind == NODE_NATIVE ? c->l.mime : NULL;
		e[n].created_ms = c->l.created_ms;
		if (!c->id[0]) {
			/* Not in Drive yet: it keeps the name it was created
			 * with, so it goes first and a file of that name
			 * arriving from Drive (a create race, twins.c) is
			 * the one given an alias. */
			snprintf(local_ids[n], sizeof(local_ids[n]),
				 "0local%" PRIu64, c->ino);
			e[n].id = local_ids[n];
			e[n].created_ms = INT64_MIN;
		}
		nodes[n++] = c;
	}
	rc = t->naming->assign(t->naming->ctx, e, n);
	if (rc < 0)
		goto out;
	dir->names_aliased = false;
	dir->names_stale = false;
	for (i = 0; i < n; i++) {
		struct node *c = nodes[i];

		if (strcmp(e[i].display, e[i].drive_name))
			dir->names_aliased = true;

		if (!c->id[0])
			continue;
		if (c->l.dname && !strcmp(c->l.dname, e[i].display))
			continue;
		if (c->l.dname)
			hmap_remove(&t->by_name, &c->by_name);
		free(c->l.dname);
		c->l.dname = e[i].display;
		e[i].display = NULL;
		index_name(t, c);
	}
out:
	for (i = 0; e && i < n; i++)
		free(e[i].display);
	free(e);
	free(nodes);
	free(local_ids);
	return rc;
}

/* Kind of a listed file. */
static enum node_kind listed_kind(struct tree *t, const struct drive_file *f)
{
	if (drive_file_is_folder(f))
		return NODE_DIR;
	if (!strcmp(f->mime_type, DRIVE_MIME_SHORTCUT)) {
		struct node *target = tree_by_id_locked(t, f->shortcut_target);

		return target && !target->l.deleted ? NODE_SYMLINK
						    : NODE_NATIVE;
	}
	if (str_has_prefix(f->mime_type, DRIVE_MIME_GOOGLE_PREFIX))
		return NODE_NATIVE;
	if (drive_file_app_prop(f, TREE_PROP_SYMLINK))
		return NODE_SYMLINK;
	return NODE_FILE;
}

static bool prop_exec(const struct drive_file *f)
{
	const char *m = drive_file_app_prop(f, TREE_PROP_MODE);

	/* Any x bit in an octal mode string: "755", "0700", "711". */
	return m && strspn(m, "01234567") == strlen(m) &&
	       (strtol(m, NULL, 8) & 0111);
}

/*
 * Copy what Drive says about @n, listed in @dir, into @n->r. The parent is
 * @dir even when Drive's first parent is another (old multi-parent files):
 * that is where the mount shows it, so no move is planned.
 * Returns 0 or -ENOMEM.
 */
static int set_remote(struct tree *t, struct node *n,
		      const struct drive_file *f, const char *parent_id)
{
	const char *sl = drive_file_app_prop(f, TREE_PROP_SYMLINK);
	const char *host;
	char *name = strdup(f->name);
	char *symlink = sl ? strdup(sl) : NULL;

	if (!name || (sl && !symlink)) {
		free(name);
		free(symlink);
		return -ENOMEM;
	}
	free(n->r.name);
	free(n->r.symlink);
	t->changes++;
	n->r.name = name;
	n->r.symlink = symlink;
	n->r.exists = true;
	snprintf(n->r.parent, sizeof(n->r.parent), "%s", parent_id);
	n->r.version = f->version;
	memcpy(n->r.md5, f->md5, sizeof(n->r.md5));
	n->r.size = f->size;
	n->r.mtime_ms = f->modified_ms;
	n->r.exec = prop_exec(f);
	host = drive_file_app_prop(f, TREE_PROP_HOST);
	n->r.by_drivefs = host != NULL;
	n->r.seen_ms = clock_mono_ms();
	n->r.by_us = host && t->host && !strcmp(host, t->host);
	return 0;
}

/* The JSON a read-only stub holds; returns its length (snprintf style). */
static int stub_json(const struct node *n, char *buf, size_t size)
{
	if (n->l.shortcut[0])
		return snprintf(buf, size,
				"{\"id\": \"%s\", \"url\": "
				"\"https://drive.google.com/open?id=%s\", "
				"\"mimeType\": \"%s\", \"targetId\": \"%s\"}\n",
				n->id, n->l.shortcut, DRIVE_MIME_SHORTCUT,
				n->l.shortcut);
	return snprintf(buf, size,
			"{\"id\": \"%s\", \"url\": "
			"\"https://drive.google.com/open?id=%s\", "
			"\"mimeType\": \"%s\"}\n",
			n->id, n->id, n->l.mime ? n->l.mime : "");
}

int tree_native_stub_locked(const struct node *n, char *buf, size_t size)
{
	return stub_json(n, buf, size);
}

/* Local state from the remote one, for a node with no local changes. */
static int local_from_remote(struct node *n, const struct drive_file *f)
{
	if (n->kind == NODE_NATIVE) {
		char *mime = strdup(f->mime_type);

		if (!mime)
			return -ENOMEM;
		free(n->l.mime);
		n->l.mime = mime;
		if (!strcmp(f->mime_type, DRIVE_MIME_SHORTCUT))
			memcpy(n->l.shortcut, f->shortcut_target,
			       sizeof(n->l.shortcut));
		char stub[TREE_STUB_MAX];

		n->l.size = stub_json(n, stub, sizeof(stub));
	} else if (n->kind == NODE_SYMLINK) {
		if (!strcmp(f->mime_type, DRIVE_MIME_SHORTCUT)) {
			memcpy(n->l.shortcut, f->shortcut_target,
			       sizeof(n->l.shortcut));
		} else if (n->r.symlink && n->r.symlink[0]) {
			char *target = strdup(n->r.symlink);

			if (!target)
				return -ENOMEM;
			free(n->l.symlink);
			n->l.symlink = target;
		}
		n->l.size = n->l.symlink ? (int64_t)strlen(n->l.symlink)
					 : MAX(f->size, 0);
	} else {
		n->l.size = MAX(f->size, 0);
	}
	n->l.exec = n->r.exec;
	if (f->modified_ms >= 0)
		n->l.mtime = n->l.atime = n->l.ctime = ms_to_ts(f->modified_ms);
	if (f->created_ms >= 0)
		n->l.created_ms = f->created_ms;
	return 0;
}

void tree_settle_shortcuts_locked(struct tree *t, struct node *dir)
{
	struct list_head *pos;

	list_for_each(pos, &dir->children)
	{
		struct node *n = list_entry(pos, struct node, sibling);
		struct node *target;

		if (n->kind != NODE_NATIVE || !n->l.shortcut[0] || n->nlookup)
			continue;
		target = tree_by_id_locked(t, n->l.shortcut);
		if (!target || target->l.deleted)
			continue;
		n->kind = NODE_SYMLINK;
		free(n->l.mime);
		n->l.mime = NULL;
		n->l.size = 0; /* readlink computes the path */
	}
}

int tree_apply_listed_locked(struct tree *t, struct node *dir,
			     const struct drive_file *f)
{
	struct node *n = tree_by_id_locked(t, f->id);
	int rc;

	if (n) {
		/* Known (e.g. listed again): refresh what Drive says, but
		 * dirty bytes keep their base (the version they were edited
		 * from): the uploader compares it with Drive's to find a
		 * conflict. */
		bool clean = !list_linked(&n->s.pending) && !n->s.in_flight;
		int64_t version = n->r.version, size = n->r.size;
		char md5[DRIVE_MD5_HEX + 1];

		memcpy(md5, n->r.md5, sizeof(md5));
		rc = set_remote(t, n, f, dir->id);
		if (rc == 0 && n->c.dirty) {
			n->r.version = version;
			n->r.size = size;
			memcpy(n->r.md5, md5, sizeof(md5));
		}
		if (rc == 0 && clean && !n->l.deleted)
			rc = local_from_remote(n, f);
		return rc;
	}
	n = tree_node_new_locked(t, listed_kind(t, f));
	if (!n)
		return -ENOMEM;
	tree_set_id_locked(t, n, f->id);
	rc = set_remote(t, n, f, dir->id);
	if (rc == 0)
		rc = local_from_remote(n, f);
	if (rc == 0)
		rc = tree_attach_locked(t, n, dir, f->name, NULL);
	if (rc < 0) {
		tree_maybe_free_locked(t, n);
		return rc;
	}
	n->listed = n->kind != NODE_DIR;
	n->l.local_only = false;
	return 0;
}

int tree_adopt_remote_locked(struct tree *t, struct node *n, struct node *dir,
			     const struct drive_file *f)
{
	int rc = set_remote(t, n, f, dir->id);

	if (rc == 0)
		rc = local_from_remote(n, f);
	return rc;
}

int tree_adopt_created_locked(struct tree *t, struct node *n,
			      const struct drive_file *f)
{
	int rc = set_remote(t, n, f, f->parent);

	if (rc == 0)
		n->s.placed_here = true; /* twins.c: our create, not a twin */
	return rc;
}
