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
#include "common/str.h"

#define SUB "poll"
#define TOKEN_MAX 256

/* One kernel invalidation to send after the lock is dropped. */
struct inval {
	uint64_t ino; /* parent for an entry */
	char *name;   /* NULL: an inode */
};

struct invals {
	struct inval *v;
	size_t n, cap;
};

struct poller {
	struct cache *c;
	struct cache_notify nf;
	int64_t interval_ms;
	bool periodic; /* interval_ms > 0: else only the start catch-up */
	bool catchup;  /* started from a snapshot's token: poll at once */
	char token[TOKEN_MAX]; /* written by the poll thread under lock */
	pthread_t thread;
	bool running;

	pthread_mutex_t lock; /* protects stop, wake, last_ok_wall_ms,
				 token (for other threads' reads) */
	pthread_cond_t cond;
	bool stop;
	bool wake; /* poll_wake(): poll now */
	int64_t last_ok_wall_ms;
	struct invals queued; /* poll_queue_inval(), sent before a poll */
	char (*refresh)[DRIVE_ID_MAX + 1]; /* poll_queue_refresh() */
	size_t n_refresh, cap_refresh;
	uint64_t *relist; /* poll_queue_relist() */
	size_t n_relist, cap_relist;

	/* Owned by the poll thread. */
	struct invals inv;
	bool failing;	  /* the last poll failed (warned once) */
	size_t n_changes; /* changes seen by the current poll */
};

static void invals_add(struct invals *l, uint64_t ino, const char *name)
{
	struct inval *v;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;

		v = realloc(l->v, cap * sizeof(*v));
		if (!v)
			return; /* attributes time out anyway */
		l->v = v;
		l->cap = cap;
	}
	v = &l->v[l->n];
	v->ino = ino;
	v->name = NULL;
	if (name) {
		v->name = strdup(name);
		if (!v->name)
			return;
	}
	l->n++;
}

static void invals_release(struct invals *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	memset(l, 0, sizeof(*l));
}

static void add_inval(struct poller *p, uint64_t ino, const char *name)
{
	invals_add(&p->inv, ino, name);
}

/* Send the invalidations of @l (no lock held) and empty it. */
static void send_invals(struct poller *p, struct invals *l)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		struct inval *v = &l->v[i];

		if (v->name && p->nf.inval_entry)
			p->nf.inval_entry(p->nf.ctx, v->ino, v->name);
		else if (!v->name && p->nf.inval_inode)
			p->nf.inval_inode(p->nf.ctx, v->ino);
		free(v->name);
	}
	l->n = 0;
}

static void flush_invals(struct poller *p)
{
	struct invals q;

	send_invals(p, &p->inv);
	pthread_mutex_lock(&p->lock);
	q = p->queued;
	memset(&p->queued, 0, sizeof(p->queued));
	pthread_mutex_unlock(&p->lock);
	send_invals(p, &q);
	invals_release(&q);
}

void poll_queue_refresh(struct cache *c, const char *id)
{
	struct poller *p = c->poll;

	if (!p || !p->periodic)
		return;
	pthread_mutex_lock(&p->lock);
	if (p->n_refresh == p->cap_refresh) {
		size_t cap = p->cap_refresh ? p->cap_refresh * 2 : 8;
		void *v = realloc(p->refresh, cap * sizeof(*p->refresh));

		if (!v) {
			pthread_mutex_unlock(&p->lock);
			return; /* a later change of it brings it anyway */
		}
		p->refresh = v;
		p->cap_refresh = cap;
	}
	snprintf(p->refresh[p->n_refresh++], DRIVE_ID_MAX + 1, "%s", id);
	p->wake = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void poll_queue_relist(struct cache *c, uint64_t ino)
{
	struct poller *p = c->poll;

	if (!p || !p->periodic)
		return; /* the next lookup lists it */
	pthread_mutex_lock(&p->lock);
	if (p->n_relist == p->cap_relist) {
		size_t cap = p->cap_relist ? p->cap_relist * 2 : 8;
		uint64_t *v = realloc(p->relist, cap * sizeof(*v));

		if (!v) {
			pthread_mutex_unlock(&p->lock);
			return;
		}
		p->relist = v;
		p->cap_relist = cap;
	}
	p->relist[p->n_relist++] = ino;
	p->wake = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

void poll_queue_inval(struct cache *c, uint64_t ino, const char *name)
{
	struct poller *p = c->poll;

	if (!p || !p->periodic)
		return; /* no poller: the kernel's timeouts do it */
	pthread_mutex_lock(&p->lock);
	invals_add(&p->queued, ino, name);
	p->wake = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
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

static void gone_inval(void *ctx, uint64_t dir, const char *dname)
{
	add_inval(ctx, dir, dname);
}

static bool has_work(const struct node *n)
{
	return tree_has_work_locked(n);
}

static void drop_subtree(struct poller *p, struct node *n)
{
	tree_drop_subtree_locked(&p->c->t, n, gone_inval, p);
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
	if (tree_subtree_busy_locked(n)) {
		n->s.remote_changed = true;
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
	p->n_changes++;
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
			twins_check_name_locked(p->c, dir, f->name);
		}
		goto out;
	}
	if (same_as_known(n, f) && n->l.parent == dir)
		goto out;
	if (has_work(n) || n->l.deleted) {
		/* The syncer owns it; which side wins is the conflict step.
		 * While it uploads, the change may be its own. */
		if (!same_as_known(n, f))
			n->s.remote_changed = true;
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
	if (rc == 0)
		twins_check_name_locked(p->c, dir, f->name);
out:
	tree_broadcast_locked(t);
	tree_unlock(t);
	if (rc < 0)
		log_warn(SUB, "applying the change of %s failed: %s",
			 ch->file_id, strerror(-rc));
	return 0; /* one bad change must not stop the rest */
}

/* Re-read the files poll_queue_refresh() asked for, as changes. */
static void refresh_queued(struct poller *p)
{
	char(*ids)[DRIVE_ID_MAX + 1];
	size_t n;

	pthread_mutex_lock(&p->lock);
	ids = p->refresh;
	n = p->n_refresh;
	p->refresh = NULL;
	p->n_refresh = p->cap_refresh = 0;
	pthread_mutex_unlock(&p->lock);
	for (size_t i = 0; i < n; i++) {
		struct drive_change ch;
		struct drive_file *f = NULL;
		struct drive_err err;
		int rc;

		drive_err_init(&err);
		rc = drive_files_get(p->c->d, ids[i], &f, &err);
		if (rc < 0 && rc != -ENOENT)
			continue; /* its next change brings it */
		memset(&ch, 0, sizeof(ch));
		memcpy(ch.file_id, ids[i], sizeof(ch.file_id));
		ch.removed = rc == -ENOENT;
		ch.file = f;
		apply_change(p, &ch);
		drive_file_free(f);
	}
	free(ids);
}

/* List the folders poll_queue_relist() asked for. */
static void relist_queued(struct poller *p)
{
	struct cache *c = p->c;
	uint64_t *inos;
	size_t n;

	pthread_mutex_lock(&p->lock);
	inos = p->relist;
	n = p->n_relist;
	p->relist = NULL;
	p->n_relist = p->cap_relist = 0;
	pthread_mutex_unlock(&p->lock);
	tree_lock(&c->t);
	for (size_t i = 0; i < n; i++) {
		struct node *d = cache_get_locked(c, inos[i]);

		if (!d)
			continue;
		if (d->kind == NODE_DIR && d->l.parent)
			fetch_ensure_listed_locked(c, d);
		tree_unref_locked(&c->t, d);
	}
	tree_unlock(&c->t);
	free(inos);
}

/* Un-list every folder below @d (listed again on next access). */
static void unlist_locked(struct node *d)
{
	struct list_head *pos;

	if (!d->listing)
		d->listed = false;
	list_for_each(pos, &d->children)
	{
		struct node *n = list_entry(pos, struct node, sibling);

		if (n->kind == NODE_DIR)
			unlist_locked(n);
	}
}

/*
 * Drive refused the page token (too old, or not its own: 400/404/410).
 * Take a new start token, then forget which folders are listed: each is
 * listed again (the root now, the others on their next access), and a
 * listing drops what Drive no longer has (fetch.c). Returns 0 or -errno.
 */
static int restart_feed(struct poller *p, const struct drive_err *why)
{
	struct cache *c = p->c;
	char tok[TOKEN_MAX];
	struct drive_err err;
	int rc;

	log_warn(SUB,
		 "Drive refused the saved changes token (%d %s): listing "
		 "the mounted folders again",
		 (int)why->http_status, why->reason);
	drive_err_init(&err);
	rc = drive_changes_start_token(c->d, tok, sizeof(tok), &err);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&p->lock);
	memcpy(p->token, tok, sizeof(p->token));
	pthread_mutex_unlock(&p->lock);
	tree_lock(&c->t);
	c->prune_folders = true;
	unlist_locked(c->t.root);
	tree_ref_locked(c->t.root);
	rc = fetch_ensure_listed_locked(c, c->t.root);
	tree_unref_locked(&c->t, c->t.root);
	tree_unlock(&c->t);
	add_inval(p, TREE_ROOT_INO, NULL);
	flush_invals(p);
	return rc;
}

/* Drive answers a page token it no longer takes with 400 "invalid"
 * (Invalid Value, location pageToken); 404 and 410 are taken alike. */
static bool token_refused(int rc, const struct drive_err *err)
{
	(void)rc;
	return (err->http_status == 400 && !strcmp(err->reason, "invalid")) ||
	       err->http_status == 404 || err->http_status == 410;
}

static void poll_once(struct poller *p)
{
	char next[TOKEN_MAX];
	struct drive_err err;
	bool restarted = false;
	int rc;

	drive_err_init(&err);
	next[0] = '\0';
	p->n_changes = 0;
	refresh_queued(p);
	relist_queued(p);
	flush_invals(p); /* the syncer's, queued since the last poll */
	rc = drive_changes_list(p->c->d, p->token, apply_change, p, next,
				sizeof(next), &err);
	flush_invals(p);
	if (rc < 0 && token_refused(rc, &err)) {
		rc = restart_feed(p, &err);
		restarted = true;
	}
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
	if (p->catchup)
		log_info(SUB,
			 "caught up with Drive: %zu changes since the "
			 "snapshot",
			 p->n_changes);
	if (!restarted && !p->c->caught_up) {
		/* Every change since the snapshot is applied: cached bytes
		 * kept from the last run are checked against r.md5 from
		 * now on (fetch.c). After a restarted feed only the root
		 * was listed again: checks keep asking Drive. */
		tree_lock(&p->c->t);
		p->c->caught_up = true;
		tree_unlock(&p->c->t);
	}
	p->failing = false;
	p->catchup = false;
	pthread_mutex_lock(&p->lock);
	p->last_ok_wall_ms = clock_wall_ms();
	if (next[0])
		memcpy(p->token, next, sizeof(p->token));
	pthread_mutex_unlock(&p->lock);
}

static void *poll_main(void *arg)
{
	struct poller *p = arg;
	struct timespec ts;

	pthread_setname_np(pthread_self(), "drivefs-poll");
	pthread_mutex_lock(&p->lock);
	/* From a snapshot: catch up with what changed while unmounted now,
	 * while the mount already serves the snapshot (retried every
	 * interval, or every minute without polling, until it works). */
	while (!p->stop && (p->periodic || p->catchup)) {
		int64_t wait_ms = p->periodic ? p->interval_ms : 60000;

		if (!p->catchup || p->failing) {
			clock_mono_timespec_after(wait_ms, &ts);
			while (!p->stop && !p->wake &&
			       pthread_cond_timedwait(&p->cond, &p->lock,
						      &ts) == 0)
				;
		}
		if (p->stop)
			break;
		p->wake = false;
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

	if (c->poll)
		return 0;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->c = c;
	p->interval_ms = interval_ms;
	p->periodic = interval_ms > 0;
	drive_err_init(&err);
	if (c->snap_token[0]) {
		/* The snapshot's position in the feed: no start token. */
		str_copy(p->token, sizeof(p->token), c->snap_token);
		p->catchup = true;
	} else {
		/* Also without polling: a snapshot needs a position. */
		rc = drive_changes_start_token(c->d, p->token, sizeof(p->token),
					       &err);
		if (rc < 0) {
			log_err(SUB,
				"getting the changes start token failed: "
				"%s%s%s",
				strerror(-rc), err.reason[0] ? ": " : "",
				err.reason);
			free(p);
			return rc;
		}
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->cond, &ca);
	pthread_condattr_destroy(&ca);
	c->poll = p;
	return 0;
}

bool cache_poll_token(struct cache *c, char *buf, size_t size)
{
	struct poller *p = c->poll;
	bool ok;

	if (!p)
		return false;
	pthread_mutex_lock(&p->lock);
	ok = p->token[0] && strlen(p->token) < size;
	if (ok)
		memcpy(buf, p->token, strlen(p->token) + 1);
	pthread_mutex_unlock(&p->lock);
	return ok;
}

int cache_poll_start(struct cache *c, const struct cache_notify *nf)
{
	struct poller *p = c->poll;
	int rc;

	if (!p || p->running || (!p->periodic && !p->catchup))
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

void poll_wake(struct cache *c)
{
	struct poller *p = c->poll;

	if (!p || !p->periodic)
		return;
	pthread_mutex_lock(&p->lock);
	p->wake = true;
	pthread_cond_signal(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

int64_t cache_last_poll_wall_ms(struct cache *c)
{
	struct poller *p = c->poll;
	int64_t ms;

	if (!p)
		return 0;
	pthread_mutex_lock(&p->lock);
	ms = p->last_ok_wall_ms;
	pthread_mutex_unlock(&p->lock);
	return ms;
}

void cache_poll_free(struct cache *c)
{
	struct poller *p = c->poll;

	if (!p)
		return;
	cache_poll_stop(c);
	invals_release(&p->inv);
	invals_release(&p->queued);
	free(p->refresh);
	free(p->relist);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
	c->poll = NULL;
}
