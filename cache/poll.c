/*
 * The change poller ("drivefs-poll"): every poll interval one
 * changes.list from the saved page token, each change applied to the tree
 * under the tree lock, then the kernel's caches invalidated through the
 * callbacks fs/ supplied (struct cache_notify) with no lock held. The start
 * token is taken by cache_poll_prepare() before the root is first listed,
 * so no change between the listing and the first poll is missed (one seen
 * twice is harmless: applying a change is idempotent).
 *
 * Scope: a file is inside the mount when its new parent is a live folder
 * whose chain reaches the root node. A change that puts a known node
 * outside (trashed, deleted, moved out, moved into a folder not listed
 * yet) detaches it; one that puts an unknown file into a listed folder
 * adds it. Nodes with local work (pending, in flight, dirty, open for
 * writing) are never changed here: the syncer owns them until Drive holds
 * their state, and the remote change they lost to is a conflict for a
 * later step (logged at info). A change equal to what we know (our own
 * upload coming back) does nothing.
 *
 * Open files: a clean file that is open keeps its bytes and its size until
 * the last close (cache_release() then takes the new size; the next open
 * drops the old bytes), so a reader never sees a mix of two versions in
 * what is already cached.
 *
 * A failed poll logs once at warn, keeps the token and tries again next
 * interval. cache_poll_stop() wakes the thread and joins it.
 */
#include "common/compat.h"

#include <inttypes.h>

#include "cache/cache_i.h"
#include "common/clock.h"
#include "common/log.h"

#define SUB "poll"
#define TOKEN_MAX 256

/* One kernel invalidation to send after the lock is dropped. */
struct inval {
	uint64_t ino; /* parent for an entry */
	char *name;   /* NULL: an inode */
};

struct poller {
	struct cache *c;
	struct cache_notify nf;
	int64_t interval_ms;
	char token[TOKEN_MAX];
	pthread_t thread;
	bool running;

	pthread_mutex_t lock; /* protects stop */
	pthread_cond_t cond;
	bool stop;

	/* Owned by the poll thread. */
	struct inval *inv;
	size_t n_inv, cap_inv;
	bool failing; /* the last poll failed (warned once) */
};

static void add_inval(struct poller *p, uint64_t ino, const char *name)
{
	struct inval *v;

	if (p->n_inv == p->cap_inv) {
		size_t cap = p->cap_inv ? p->cap_inv * 2 : 16;

		v = realloc(p->inv, cap * sizeof(*v));
		if (!v)
			return; /* attributes time out anyway */
		p->inv = v;
		p->cap_inv = cap;
	}
	v = &p->inv[p->n_inv];
	v->ino = ino;
	v->name = NULL;
	if (name) {
		v->name = strdup(name);
		if (!v->name)
			return;
	}
	p->n_inv++;
}

static void flush_invals(struct poller *p)
{
	size_t i;

	for (i = 0; i < p->n_inv; i++) {
		struct inval *v = &p->inv[i];

		if (v->name && p->nf.inval_entry)
			p->nf.inval_entry(p->nf.ctx, v->ino, v->name);
		else if (!v->name && p->nf.inval_inode)
			p->nf.inval_inode(p->nf.ctx, v->ino);
		free(v->name);
	}
	p->n_inv = 0;
}

/* @n is linked and its chain reaches the root. */
static bool inside(struct tree *t, const struct node *n)
{
	while (n) {
		if (n == t->root)
			return true;
		if (n->l.deleted)
			return false;
		n = n->l.parent;
	}
	return false;
}

/* @d is @n or below it. */
static bool below(const struct node *d, const struct node *n)
{
	for (; d; d = d->l.parent)
		if (d == n)
			return true;
	return false;
}

static bool has_work(const struct node *n)
{
	/* An open writer may write any moment: its bytes must survive. */
	return list_linked(&n->s.pending) || n->s.in_flight || n->c.dirty ||
	       n->c.open_writers;
}

/* @n or anything below it has local work. */
static bool subtree_busy(const struct node *n)
{
	struct list_head *pos;

	if (has_work(n))
		return true;
	if (n->kind != NODE_DIR)
		return false;
	list_for_each(pos, &n->children)
	{
		if (subtree_busy(list_entry(pos, struct node, sibling)))
			return true;
	}
	return false;
}

/*
 * Forget @n and everything below it: Drive no longer has it here. Each is
 * detached, loses its id (a later move back in makes a new node) and
 * becomes a tombstone Drive never had, so the syncer has nothing to send.
 */
static void drop_subtree(struct poller *p, struct node *n)
{
	struct tree *t = &p->c->t;
	struct node *dir = n->l.parent;

	tree_ref_locked(n);
	while (n->kind == NODE_DIR && !list_empty(&n->children))
		drop_subtree(
		    p, list_entry(n->children.next, struct node, sibling));
	if (dir && n->l.dname)
		add_inval(p, dir->ino, n->l.dname);
	tree_detach_locked(t, n);
	n->l.deleted = true;
	n->r.exists = false;
	tree_set_id_locked(t, n, "");
	n->c.orphan = true;
	n->c.epoch++;
	tree_unref_locked(t, n);
}

/* What we know of @n equals @f: nothing happened (or it was us). */
static bool same_as_known(const struct node *n, const struct drive_file *f)
{
	return n->r.exists && n->r.name && !strcmp(n->r.name, f->name) &&
	       !strcmp(n->r.parent, f->parent) && n->r.version == f->version &&
	       !strcmp(n->r.md5, f->md5);
}

static void gone(struct poller *p, struct node *n, const char *why)
{
	if (n == p->c->t.root)
		return;
	if (subtree_busy(n)) {
		log_info(SUB,
			 "'%s' (%s) was %s in Drive but has local changes: "
			 "kept",
			 tree_name_for_log(n), n->id, why);
		return;
	}
	log_debug(SUB, "'%s' (%s) %s in Drive", tree_name_for_log(n), n->id,
		  why);
	drop_subtree(p, n);
}

/* A known clean node @n now in folder @dir (inside, listed) as @f. */
static int update_known(struct poller *p, struct node *n, struct node *dir,
			const struct drive_file *f)
{
	struct tree *t = &p->c->t;
	struct node *old_dir = n->l.parent;
	char *old_dname = n->l.dname ? strdup(n->l.dname) : NULL;
	bool content = n->kind == NODE_FILE &&
		       (n->r.version != f->version || strcmp(n->r.md5, f->md5));
	bool place = old_dir != dir || !n->l.name ||
		     strcmp(n->l.name, f->name) || !n->l.dname;
	int64_t size = n->l.size;
	struct timespec mt = n->l.mtime, at = n->l.atime, ct = n->l.ctime;
	int rc;

	if (n->l.dname && !old_dname)
		return -ENOMEM;
	rc = tree_apply_listed_locked(t, dir, f);
	if (rc < 0)
		goto out;
	if (content) {
		if (n->c.open_count) {
			/* Readers keep the version they opened. */
			n->l.size = size;
			n->l.mtime = mt;
			n->l.atime = at;
			n->l.ctime = ct;
		} else {
			n->c.epoch++; /* downloads in flight are stale */
			if (!n->c.pins && !n->c.evicting && !n->c.fetching.n) {
				ranges_clear(&n->c.present);
				n->c.have_xxh = false;
				store_account_locked(t, n);
			}
		}
		log_debug(SUB,
			  "'%s' (%s) changed in Drive (version %" PRId64 ")",
			  tree_name_for_log(n), n->id, f->version);
	}
	if (place) {
		tree_ref_locked(n);
		tree_detach_locked(t, n);
		rc = tree_attach_locked(t, n, dir, f->name, NULL);
		if (rc == 0)
			rc = tree_assign_names_locked(t, dir);
		if (rc == 0 && old_dir && old_dir != dir)
			rc = tree_assign_names_locked(t, old_dir);
		tree_unref_locked(t, n);
		if (old_dir && old_dname)
			add_inval(p, old_dir->ino, old_dname);
		if (n->l.dname)
			add_inval(p, dir->ino, n->l.dname);
	}
	add_inval(p, n->ino, NULL);
out:
	free(old_dname);
	return rc;
}

static int apply_change(void *arg, const struct drive_change *ch)
{
	struct poller *p = arg;
	struct tree *t = &p->c->t;
	const struct drive_file *f = ch->file;
	struct node *n, *dir = NULL;
	int rc = 0;

	tree_lock(t);
	n = tree_by_id_locked(t, ch->file_id);
	if (n == t->root)
		goto out;
	if (f && !f->trashed && f->parent[0]) {
		dir = tree_by_id_locked(t, f->parent);
		if (dir && (dir->kind != NODE_DIR || !inside(t, dir)))
			dir = NULL;
	}
	if (dir && dir->listing && !dir->listed)
		goto out; /* the listing running now brings its state */
	if (!dir || !dir->listed) {
		/* Not (visibly) inside the mount any more. */
		if (n && n->l.parent)
			gone(p, n,
			     ch->removed       ? "deleted"
			     : f && f->trashed ? "trashed"
			     : dir ? "moved to a folder not listed yet"
				   : "moved out of the mount");
		goto out;
	}
	if (!n) {
		rc = tree_apply_listed_locked(t, dir, f);
		if (rc == 0)
			rc = tree_assign_names_locked(t, dir);
		n = tree_by_id_locked(t, f->id);
		if (rc == 0 && n) {
			if (n->kind == NODE_NATIVE || n->kind == NODE_SYMLINK)
				tree_settle_shortcuts_locked(t, dir);
			log_debug(SUB, "'%s' (%s) appeared in Drive",
				  tree_name_for_log(n), n->id);
			if (n->l.dname)
				add_inval(p, dir->ino, n->l.dname);
		}
		goto out;
	}
	if (same_as_known(n, f) && n->l.parent == dir)
		goto out;
	if (has_work(n) || n->l.deleted) {
		/* The syncer owns it; which side wins is the conflict step.
		 * While it uploads, the change may be its own. */
		if (n->s.in_flight || same_as_known(n, f))
			log_debug(SUB,
				  "'%s' (%s) changed in Drive while "
				  "uploading",
				  tree_name_for_log(n), n->id);
		else
			log_info(SUB,
				 "'%s' (%s) changed in Drive while it has "
				 "local changes: keeping the local state",
				 tree_name_for_log(n), n->id);
		goto out;
	}
	if (n->r.version >= 0 && f->version >= 0 && f->version < n->r.version)
		goto out; /* older than what an upload already told us */
	if (!n->l.parent) {
		/* Unlinked here, still held by the kernel: not shown. */
		goto out;
	}
	if (below(dir, n)) {
		/* A folder moved into one we still show inside it: Drive
		 * moved that one out in a change not applied yet. Forget
		 * this folder; listing its new parent brings it back. */
		gone(p, n, "moved below a folder we show inside it");
		goto out;
	}
	rc = update_known(p, n, dir, f);
out:
	tree_broadcast_locked(t);
	tree_unlock(t);
	if (rc < 0)
		log_warn(SUB, "applying the change of %s failed: %s",
			 ch->file_id, strerror(-rc));
	return 0; /* one bad change must not stop the rest */
}

static void poll_once(struct poller *p)
{
	char next[TOKEN_MAX];
	struct drive_err err;
	int rc;

	drive_err_init(&err);
	next[0] = '\0';
	rc = drive_changes_list(p->c->d, p->token, apply_change, p, next,
				sizeof(next), &err);
	flush_invals(p);
	if (rc < 0) {
		if (!p->failing)
			log_warn(SUB,
				 "polling Drive for changes failed: %s%s%s "
				 "(retrying every %" PRId64 " ms)",
				 strerror(-rc), err.reason[0] ? ": " : "",
				 err.reason, p->interval_ms);
		p->failing = true;
		return;
	}
	if (p->failing)
		log_info(SUB, "polling Drive for changes works again");
	p->failing = false;
	if (next[0])
		memcpy(p->token, next, sizeof(p->token));
}

static void *poll_main(void *arg)
{
	struct poller *p = arg;
	struct timespec ts;

	pthread_setname_np(pthread_self(), "drivefs-poll");
	pthread_mutex_lock(&p->lock);
	while (!p->stop) {
		clock_mono_timespec_after(p->interval_ms, &ts);
		while (!p->stop &&
		       pthread_cond_timedwait(&p->cond, &p->lock, &ts) == 0)
			;
		if (p->stop)
			break;
		pthread_mutex_unlock(&p->lock);
		poll_once(p);
		pthread_mutex_lock(&p->lock);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int cache_poll_prepare(struct cache *c, int64_t interval_ms)
{
	struct poller *p;
	pthread_condattr_t ca;
	struct drive_err err;
	int rc;

	if (interval_ms <= 0 || c->poll)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->c = c;
	p->interval_ms = interval_ms;
	drive_err_init(&err);
	rc = drive_changes_start_token(c->d, p->token, sizeof(p->token), &err);
	if (rc < 0) {
		log_err(SUB, "getting the changes start token failed: %s%s%s",
			strerror(-rc), err.reason[0] ? ": " : "", err.reason);
		free(p);
		return rc;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->poll = p;
	return 0;
}

int cache_poll_start(struct cache *c, const struct cache_notify *nf)
{
	struct poller *p = c->poll;
	int rc;

	if (!p || p->running)
		return 0;
	if (nf)
		p->nf = *nf;
	rc = -pthread_create(&p->thread, NULL, poll_main, p);
	if (rc < 0) {
		log_err(SUB, "starting the poller failed: %s", strerror(-rc));
		return rc;
	}
	p->running = true;
	return 0;
}

void cache_poll_stop(struct cache *c)
{
	struct poller *p = c ? c->poll : NULL;

	if (!p)
		return;
	if (p->running) {
		pthread_mutex_lock(&p->lock);
		p->stop = true;
		pthread_cond_signal(&p->cond);
		pthread_mutex_unlock(&p->lock);
		pthread_join(p->thread, NULL);
		p->running = false;
	}
	memset(&p->nf, 0, sizeof(p->nf));
}

void cache_poll_free(struct cache *c)
{
	struct poller *p = c->poll;
	size_t i;

	if (!p)
		return;
	cache_poll_stop(c);
	for (i = 0; i < p->n_inv; i++)
		free(p->inv[i].name);
	free(p->inv);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
	c->poll = NULL;
}
