/*
 * The uploaders: a pool of workers ("drivefs-sync-N", default 8, so many
 * pushes are in flight) that take nodes off the pending list and make Drive
 * match them (INTERNALS.md "Write-back").
 *
 * The pending list holds every node whose plan (plan.c) is not NONE,
 * sorted by due time. A worker scans it under the tree lock for a node that
 * is
 *   - due: the writeback delay since its last change or close has passed
 *     (fsync and drain skip it), nobody has it open for writing (same), and
 *     no retry backoff is running;
 *   - not being pushed: neither the node (s.in_flight) nor its Drive id
 *     (c->sync_busy; a rename-over can move an id between nodes while a
 *     push of it runs), so two requests never race on one Drive file;
 *   - actionable (plan CREATE/UPDATE/TRASH, not WAIT on another node),
 * snapshots what the request needs, drops the lock, sends it, relocks and
 * records the result in the remote state of the node that now holds the
 * Drive id. Content is marked clean only if no write happened meanwhile
 * (data_gen), so an upload racing a write is simply followed by another.
 *
 * Failures never drop work: the node stays pending, is retried with a
 * backoff (1 s doubling to 60 s; drive/http.c has already retried transient
 * errors), and is logged once per run of failures with its path, id and
 * error. Past the retry budget (quarantine_due()) it is quarantined: kept,
 * listed by drivefs-status with its error class, retried on --sync-now,
 * fsync, the next start or an hour later. A file Drive no longer has (404)
 * is created again.
 */
#include "common/compat.h"

#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>

#include "cache/cache_i.h"
#include "cache/conflict.h"
#include "cache/hash.h"
#include "cache/journal.h"
#include "cache/plan.h"
#include "common/clock.h"
#include "common/log.h"
#include "common/str.h"

#define SUB "sync"
#define RETRY_MAX_MS 60000
#define RETRY_OFFLINE_MAX_MS 10000
#define SYNC_BUDGET 10
#define SYNC_BUDGET_PERMANENT 3
#define SYNC_BUDGET_NOT_FOUND 5
#define QUARANTINE_RETRY_MS (3600 * 1000)
#define DEPTH_MAX 4096

/* ---- the plan of a node, from the tree around it ---- */

/* The drivefs_symlink value @n's local state asks for (NULL: none). */
static const char *symlink_prop(const struct node *n)
{
	if (n->kind != NODE_SYMLINK || n->l.shortcut[0])
		return NULL;
	if (!n->l.symlink)
		return n->r.symlink; /* listed, target not read: unchanged */
	if (strlen(TREE_PROP_SYMLINK) + strlen(n->l.symlink) <=
	    TREE_PROP_KV_MAX)
		return n->l.symlink;
	return ""; /* too long for a property: the content holds it */
}

/* Is @dir above @n in Drive (moving @n into @dir would make a cycle)? */
static bool remote_below(struct tree *t, struct node *n, struct node *dir)
{
	struct node *q = dir;

	for (int depth = 0; q && depth < DEPTH_MAX; depth++) {
		if (q == n)
			return true;
		if (!q->r.exists)
			return false;
		q = tree_by_id_locked(t, q->r.parent);
	}
	return false;
}

static bool live_inside(struct tree *t, const struct node *dir)
{
	struct list_head *pos;

	list_for_each(pos, &t->pending)
	{
		struct node *m = list_entry(pos, struct node, s.pending);

		if (!m->l.deleted && m->r.exists &&
		    !strcmp(m->r.parent, dir->id))
			return true;
	}
	return false;
}

static struct plan plan_for_locked(struct cache *c, struct node *n)
{
	struct tree *t = &c->t;
	struct node *p = n->l.parent;
	struct plan_in in = {0};

	in.is_dir = n->kind == NODE_DIR;
	in.attrs = (n->kind == NODE_FILE || n->kind == NODE_SYMLINK) &&
		   !n->l.shortcut[0];
	in.deleted = n->l.deleted;
	in.local_only = n->l.local_only;
	in.dirty = n->c.dirty;
	in.name = n->l.name;
	in.parent_id = p ? p->id : "";
	in.exec = n->l.exec;
	in.mtime_ms = cache_ts_ms(&n->l.mtime);
	in.symlink = symlink_prop(n);
	in.remote_exists = n->r.exists;
	in.remote_name = n->r.name;
	in.remote_parent = n->r.parent;
	in.remote_exec = n->r.exec;
	in.remote_mtime_ms = n->r.mtime_ms;
	in.remote_symlink = n->r.symlink;
	if (p) {
		in.parent_exists = p->r.exists && p->id[0];
		in.parent_below = in.is_dir && n->r.exists &&
				  strcmp(p->id, n->r.parent) &&
				  remote_below(t, n, p);
	}
	if (n->l.deleted && n->r.exists) {
		struct node *q = tree_by_id_locked(t, n->r.parent);

		in.covered = q && q->l.deleted && q->r.exists;
		in.live_inside = in.is_dir && live_inside(t, n);
	}
	return plan_node(&in);
}

/* ---- pending list ---- */

/*
 * t->pending is kept sorted by s.due_ms, so a worker's scan stops at the
 * first node that is not due yet. A change sets due = now + delay, the
 * latest of all: the node goes to the tail in O(1). fsync sets due 0: the
 * head. Anything else is placed by walking from the tail.
 */
static void pending_insert_locked(struct tree *t, struct node *n)
{
	struct list_head *pos;

	if (list_empty(&t->pending) ||
	    list_entry(t->pending.prev, struct node, s.pending)->s.due_ms <=
		n->s.due_ms) {
		list_add_tail(&n->s.pending, &t->pending);
		return;
	}
	if (list_entry(t->pending.next, struct node, s.pending)->s.due_ms >=
	    n->s.due_ms) {
		list_add(&n->s.pending, &t->pending);
		return;
	}
	for (pos = t->pending.prev; pos != &t->pending; pos = pos->prev)
		if (list_entry(pos, struct node, s.pending)->s.due_ms <=
		    n->s.due_ms)
			break;
	list_insert_between(&n->s.pending, pos, pos->next);
}

/* Wake a sleeping worker if @n is due before they would wake. */
static void kick_locked(struct cache *c, const struct node *n)
{
	int64_t at = MAX(n->s.due_ms, n->s.retry_ms);

	if (at < c->sync_wake_ms || c->draining) {
		c->sync_wake_ms = at;
		pthread_cond_signal(&c->sync_cond);
	}
}

/* (Re)place @n on the pending list or take it off, per its plan. */
static void place_locked(struct cache *c, struct node *n, bool moved)
{
	struct tree *t = &c->t;
	struct plan p = plan_for_locked(c, n);

	if (p.op != PLAN_NONE && p.op != PLAN_FORGET) {
		if (!list_linked(&n->s.pending)) {
			t->n_pending++;
			pending_insert_locked(t, n);
		} else if (moved) {
			list_del_init(&n->s.pending);
			pending_insert_locked(t, n);
		}
		if (n->l.deleted && !list_linked(&n->s.tomb))
			list_add_tail(&n->s.tomb, &t->tombs);
		kick_locked(c, n);
		journal_note_locked(c, n); /* the new state, before the ack */
		return;
	}
	if (n->s.in_flight)
		return; /* the push in progress decides */
	if (list_linked(&n->s.pending)) {
		list_del_init(&n->s.pending);
		list_del_init(&n->s.tomb);
		t->n_pending--;
		tree_broadcast_locked(t);
	}
	if (n->s.remote_changed && n->id[0] && !n->c.dirty &&
	    !n->c.open_writers && !n->l.deleted) {
		/* Drive changed it while we had work: look at it again. */
		n->s.remote_changed = false;
		poll_queue_refresh(c, n->id);
	}
	n->s.urgent = false;
	n->s.fails = 0;
	n->s.last_err = 0;
	n->s.quarantined = false;
	n->s.err_class = 0;
	journal_note_locked(c, n); /* done: retire its record */
	tree_maybe_free_locked(t, n);
}

void sync_recheck_locked(struct cache *c, struct node *n)
{
	place_locked(c, n, false);
}

void sync_note_locked(struct cache *c, struct node *n)
{
	if (n->s.quarantined) {
		/* New local work (a rename out of a deleted folder, say) may
		 * be what cures it: a fresh budget. */
		n->s.quarantined = false;
		n->s.fails = 0;
		n->s.retry_ms = 0;
	}
	/* A closed file whose stream has bytes in Drive: no delay. */
	n->s.due_ms = n->s.urgent || stream_ready_locked(c, n)
			  ? 0
			  : clock_mono_ms() + c->o.writeback_delay_ms;
	place_locked(c, n, true);
}

/* Push @n without waiting for its delay (fsync). */
static void make_urgent_locked(struct cache *c, struct node *n)
{
	n->s.urgent = true;
	n->s.due_ms = 0;
	place_locked(c, n, true);
}

const char *sync_state_locked(const struct node *n)
{
	if (n->s.in_flight)
		return "uploading";
	if (list_linked(&n->s.pending))
		return "dirty";
	return "clean";
}

/* ---- one push ---- */

struct job {
	struct cache *c;
	int worker;
	struct node *n; /* referenced */
	struct plan p;
	char id[DRIVE_ID_MAX + 1];
	char parent[DRIVE_ID_MAX + 1]; /* local parent (create, move) */
	char old_parent[DRIVE_ID_MAX + 1];
	char *name;
	enum node_kind kind;
	bool attrs; /* mtime and properties are synced */
	int64_t mtime_ms;
	bool exec;
	char *symlink;	  /* drivefs_symlink to set, or NULL */
	bool symlink_del; /* ...or delete it */
	int64_t size;
	uint64_t data_gen;
	uint64_t epoch; /* n->c.epoch: the cached bytes were replaced */
	bool have_xxh;	/* Drive's hash, at snapshot time */
	uint8_t old_xxh[HASH_LEN];
	uint8_t xxh[HASH_LEN]; /* of the bytes sent */
	bool hashed;
	bool content_same; /* the bytes were Drive's already */
	char path[1024];   /* for logs */
	/* The content check before an update (check_remote()). */
	char base_md5[DRIVE_MD5_HEX + 1]; /* what the bytes were edited from */
	int64_t base_version;
	enum plan_check verdict;   /* PLAN_CHECK_UPLOAD unless checked */
	bool local_wins;	   /* a conflict, uploaded over (--conflict) */
	bool lost_create;	   /* lost_create() found Drive holding it */
	bool id_unusable;	   /* ...or the id can no longer be used */
	struct drive_file *remote; /* Drive's state at the check */
	/* A create finishing the streamed upload's session (stream.c). */
	char stream_url[CACHE_STREAM_URL_MAX];
};

static void job_release(struct job *j)
{
	free(j->name);
	free(j->symlink);
	drive_file_free(j->remote);
}

/* Copy what the request needs out of the tree. Returns 0 or -ENOMEM. */
static int snapshot_locked(struct node *n, const struct plan *p, struct job *j)
{
	const char *sl = symlink_prop(n);

	j->n = n;
	j->p = *p;
	memcpy(j->id, n->id, sizeof(j->id));
	if (n->l.parent)
		memcpy(j->parent, n->l.parent->id, sizeof(j->parent));
	memcpy(j->old_parent, n->r.parent, sizeof(j->old_parent));
	j->kind = n->kind;
	j->attrs = (n->kind == NODE_FILE || n->kind == NODE_SYMLINK) &&
		   !n->l.shortcut[0];
	j->mtime_ms = cache_ts_ms(&n->l.mtime);
	j->exec = n->l.exec;
	j->size = n->l.size;
	j->data_gen = n->c.data_gen;
	j->epoch = n->c.epoch;
	j->have_xxh = n->c.have_xxh;
	memcpy(j->old_xxh, n->c.xxh, sizeof(j->old_xxh));
	memcpy(j->base_md5, n->r.md5, sizeof(j->base_md5));
	j->base_version = n->r.version;
	tree_path_locked(n, j->path, sizeof(j->path));
	j->name = n->l.name ? strdup(n->l.name) : NULL;
	if (n->l.name && !j->name)
		return -ENOMEM;
	if (sl) {
		j->symlink = strdup(sl);
		if (!j->symlink)
			return -ENOMEM;
	} else if (n->r.symlink && n->kind != NODE_SYMLINK) {
		j->symlink_del = true;
	}
	return 0;
}

/* appProperties for the request into @props; returns how many. */
static size_t job_props(const struct job *j, bool create,
			struct drive_prop props[3])
{
	size_t n = 0;

	if (create) {
		props[n].key = TREE_PROP_HOST;
		props[n].value = j->c->host;
		n++;
	}
	if (!create || j->exec) {
		props[n].key = (char *)TREE_PROP_MODE;
		props[n].value = (char *)(j->exec ? "755" : "644");
		n++;
	}
	if (j->symlink || (j->symlink_del && !create)) {
		props[n].key = (char *)TREE_PROP_SYMLINK;
		props[n].value = j->symlink;
		n++;
	}
	return n;
}

/*
 * drive_progress_cb: the worker's entry in c->sync_prog. It may run on the
 * HTTP I/O thread, which must never wait for the tree lock; total is fixed
 * by progress_begin, so only done moves, atomically.
 */
static void on_progress(void *ctx, int64_t done, int64_t total)
{
	struct job *j = ctx;
	struct cache_upload_progress *pr = &j->c->sync_prog[j->worker];

	(void)total;
	__atomic_store_n(&pr->done, done, __ATOMIC_RELAXED);
}

static void progress_begin(struct job *j)
{
	struct cache_upload_progress *pr = &j->c->sync_prog[j->worker];

	tree_lock(&j->c->t);
	snprintf(pr->path, sizeof(pr->path), "%s", j->path);
	pr->done = 0;
	pr->total = MAX(j->size, 1);
	pr->start_ms = clock_mono_ms();
	tree_unlock(&j->c->t);
}

static void progress_end(struct job *j)
{
	tree_lock(&j->c->t);
	j->c->sync_prog[j->worker].total = 0;
	tree_unlock(&j->c->t);
}

/*
 * Before sending new bytes over Drive's: does Drive still hold the version
 * they were edited from? Sets j->verdict (and j->remote). One files.get:
 * Drive v3 has no conditional update, so a change landing between this
 * check and the upload is overwritten (a window of one round trip).
 */
static int check_remote(struct cache *c, struct job *j, int fd,
			struct drive_err *err)
{
	char local[DRIVE_MD5_HEX + 1] = "";
	struct plan_check_in in;
	int rc;

	rc = drive_files_get(c->d, j->id, &j->remote, err);
	if (rc == -ENOENT) {
		drive_err_init(err);
		j->verdict = PLAN_CHECK_GONE;
		return 0;
	}
	if (rc < 0)
		return rc;
	in.base_md5 = j->base_md5;
	in.base_version = j->base_version;
	in.remote_gone = j->remote->trashed;
	in.remote_md5 = j->remote->md5;
	in.remote_version = j->remote->version;
	in.local_md5 = local;
	if (plan_check_needs_local_md5(&in)) {
		rc = hash_fd_md5(fd, j->size, local);
		if (rc < 0)
			return rc;
	}
	j->verdict = plan_content_check(&in);
	if (j->verdict == PLAN_CHECK_CONFLICT &&
	    c->o.conflict == CACHE_CONFLICT_LOCAL_WINS) {
		j->local_wins = true;
		j->verdict = PLAN_CHECK_UPLOAD;
	}
	return 0;
}

/*
 * Before trashing a file deleted here: an edit made elsewhere since the
 * version we saw wins over our delete (nothing written is thrown away).
 * Sets j->verdict: UPLOAD (trash it), GONE (already gone) or CONFLICT.
 */
static int check_trash(struct cache *c, struct job *j, struct drive_err *err)
{
	int rc = drive_files_get(c->d, j->id, &j->remote, err);

	if (rc == -ENOENT || (rc == 0 && j->remote->trashed)) {
		drive_err_init(err);
		j->verdict = PLAN_CHECK_GONE;
		return 0;
	}
	if (rc < 0)
		return rc;
	if (j->remote->md5[0] && strcmp(j->remote->md5, j->base_md5))
		j->verdict = PLAN_CHECK_CONFLICT;
	return 0;
}

/* Upload the cache file's bytes, with @m as metadata. */
static int upload(struct cache *c, struct job *j, const struct drive_meta *m,
		  bool create, struct drive_file **res, struct drive_err *err)
{
	struct drive_upload u;
	int fd, rc;

	fd = store_open(&c->store, j->n->ino, O_RDONLY);
	if (fd < 0)
		return fd;
	rc = hash_fd(fd, j->size, j->xxh);
	if (rc < 0)
		goto out;
	j->hashed = true;
	if (!create && j->have_xxh && !memcmp(j->xxh, j->old_xxh, HASH_LEN)) {
		/* Same bytes as Drive's: send the metadata alone, if any. */
		j->content_same = true;
		if (j->p.flags &
		    (PLAN_NAME | PLAN_MOVE | PLAN_MTIME | PLAN_PROPS))
			rc = drive_files_update(c->d, j->id, m, res, err);
		goto out;
	}
	if (!create) {
		rc = check_remote(c, j, fd, err);
		if (rc < 0 || j->verdict != PLAN_CHECK_UPLOAD)
			goto out;
	}
	memset(&u, 0, sizeof(u));
	u.update_id = create ? NULL : j->id;
	u.meta = m;
	u.fd = fd;
	u.size = j->size;
	u.progress = on_progress;
	u.progress_ctx = j;
	if (create && j->stream_url[0]) {
		memcpy(u.session_url, j->stream_url, sizeof(u.session_url));
		/* The rest in one request: most is in Drive already, and
		 * each chunk costs a round trip (stream.c). */
		u.chunk_size = STREAM_CHUNK_MAX;
	}
	progress_begin(j);
	rc = drive_files_upload(c->d, &u, res, err);
	progress_end(j);
out:
	close(fd);
	return rc;
}

/*
 * An update, which moves the file when m->add_parent is set. Drive wants
 * the parent it has now in removeParents; another client may have moved
 * the file since we last heard (the poller keeps quiet about files with
 * local work), which Drive refuses as "cannotAddParent": then ask Drive
 * where the file is and send the move again once.
 */
static int update_moving(struct cache *c, struct job *j, struct drive_meta *m,
			 struct drive_file **res, struct drive_err *err)
{
	bool content = j->p.flags & PLAN_CONTENT;
	struct drive_file *now = NULL;
	int rc;

	rc = content ? upload(c, j, m, false, res, err)
		     : drive_files_update(c->d, j->id, m, res, err);
	if (rc == 0 || !m->add_parent || strcmp(err->reason, "cannotAddParent"))
		return rc;
	drive_err_init(err);
	rc = drive_files_get(c->d, j->id, &now, err);
	if (rc == 0 && now->parent[0]) {
		log_debug(SUB,
			  "'%s' (%s) was moved in Drive meanwhile: moving "
			  "it from there",
			  j->path, j->id);
		memcpy(j->old_parent, now->parent, sizeof(j->old_parent));
		m->remove_parent = j->old_parent;
		drive_file_free(j->remote);
		j->remote = NULL;
		j->verdict = PLAN_CHECK_UPLOAD;
		rc = content ? upload(c, j, m, false, res, err)
			     : drive_files_update(c->d, j->id, m, res, err);
	}
	drive_file_free(now);
	return rc;
}

/* Send the request of @j. Blocks on Drive; no lock held. */
static int push(struct cache *c, struct job *j, struct drive_file **res,
		struct drive_err *err)
{
	struct drive_prop props[3];
	struct drive_meta m;
	unsigned f = j->p.flags;

	drive_meta_init(&m);
	switch (j->p.op) {
	case PLAN_CREATE:
		m.id = j->id;
		m.name = j->name;
		m.parent = j->parent;
		m.app_props = props;
		m.n_app_props = job_props(j, true, props);
		if (j->kind == NODE_DIR) {
			m.mime_type = DRIVE_MIME_FOLDER;
			return drive_files_create(c->d, &m, res, err);
		}
		m.modified_ms = j->mtime_ms;
		return upload(c, j, &m, true, res, err);
	case PLAN_UPDATE:
		if (f & PLAN_NAME)
			m.name = j->name;
		if (f & PLAN_MOVE) {
			m.add_parent = j->parent;
			m.remove_parent = j->old_parent;
		}
		/* Always: Drive would otherwise stamp a rename with "now". */
		if (j->attrs)
			m.modified_ms = j->mtime_ms;
		if (f & PLAN_PROPS) {
			m.app_props = props;
			m.n_app_props = job_props(j, false, props);
		}
		return update_moving(c, j, &m, res, err);
	case PLAN_TRASH:
		if (j->kind != NODE_DIR && j->base_md5[0]) {
			int rc = check_trash(c, j, err);

			if (rc < 0 || j->verdict != PLAN_CHECK_UPLOAD)
				return rc;
		}
		m.trashed = 1;
		return drive_files_update(c->d, j->id, &m, res, err);
	default:
		return 0;
	}
}

/* After trashing @x: tombstones inside it in Drive went with it. */
static void bury_covered_locked(struct cache *c, struct node *x)
{
	struct tree *t = &c->t;
	struct list_head *pos;

	list_for_each(pos, &t->tombs)
	{
		struct node *m = list_entry(pos, struct node, s.tomb);
		struct node *q = m;

		if (!m->r.exists || m == x)
			continue;
		for (int depth = 0; q && depth < DEPTH_MAX; depth++) {
			q = tree_by_id_locked(t, q->r.parent);
			if (q == x) {
				m->r.exists = false;
				break;
			}
			if (!q || !q->l.deleted || !q->r.exists)
				break;
		}
	}
}

static int set_str(char **dst, const char *src)
{
	char *s = src ? strdup(src) : NULL;

	if (src && !s)
		return -ENOMEM;
	free(*dst);
	*dst = s;
	return 0;
}

/*
 * Drive holds other bytes than the clean @n has cached: drop them (an
 * open file keeps them until its last close, as with a polled change) and
 * show Drive's size once it is closed.
 */
static void stale_bytes_locked(struct cache *c, struct node *n,
			       const struct drive_file *res)
{
	n->s.remote_changed = true; /* the poller brings the rest */
	if (n->c.open_count)
		return;
	if (res->size >= 0)
		n->l.size = res->size;
	n->c.epoch++;
	n->c.have_xxh = false;
	if (!n->c.pins && !n->c.evicting && !n->c.fetching.n) {
		ranges_clear(&n->c.present);
		store_account_locked(&c->t, n);
	}
	poll_queue_inval(c, n->ino, NULL);
}

/* Record in the tree what the successful push @j did. */
static void apply_locked(struct cache *c, struct job *j,
			 const struct drive_file *res)
{
	struct tree *t = &c->t;
	struct node *n = j->n;
	struct node *m = tree_by_id_locked(t, j->id);
	unsigned f = j->p.flags;
	bool create = j->p.op == PLAN_CREATE;

	if (!m)
		m = n;
	if (j->p.op == PLAN_TRASH) {
		bury_covered_locked(c, m);
		m->r.exists = false;
		if (m != n) {
			/* A new file took the id over while it was being
			 * trashed: it is created afresh, with a new id. */
			tree_set_id_locked(t, m, "");
			m->c.dirty = m->kind == NODE_FILE;
			m->c.have_xxh = false;
		}
		return;
	}
	m->r.exists = true;
	if (create || (f & (PLAN_NAME | PLAN_MOVE)))
		m->s.placed_here = true; /* twins.c */
	if (create || (f & PLAN_NAME))
		set_str(&m->r.name, j->name);
	if (create || (f & PLAN_MOVE))
		memcpy(m->r.parent, j->parent, sizeof(m->r.parent));
	if (j->attrs) {
		m->r.mtime_ms = j->mtime_ms;
		if (create || (f & PLAN_PROPS)) {
			m->r.exec = j->exec;
			set_str(&m->r.symlink, j->symlink);
		}
	}
	if (create) {
		m->r.by_drivefs = m->r.by_us = true; /* drivefs_host */
		if (res && res->created_ms >= 0)
			m->l.created_ms = res->created_ms;
	}
	if (res && !j->hashed && m->kind == NODE_FILE && res->md5[0] &&
	    strcmp(res->md5, m->r.md5)) {
		/* A metadata update's reply shows bytes someone else put in
		 * Drive since we last looked. */
		if (m->c.dirty) {
			m->s.remote_changed = true;
			return; /* r.* stays the base: the upload checks it */
		}
		stale_bytes_locked(c, m, res);
	}
	if (res) {
		m->r.seen_ms = clock_mono_ms();
		m->r.version = res->version;
		if (res->md5[0])
			memcpy(m->r.md5, res->md5, sizeof(m->r.md5));
		if (res->size >= 0)
			m->r.size = res->size;
	}
	if (!j->hashed)
		return;
	/* Drive now holds the bytes we hashed. */
	memcpy(m->c.xxh, j->xxh, HASH_LEN);
	m->c.have_xxh = true;
	if (m == n && n->c.data_gen == j->data_gen) {
		n->c.dirty = false;
		n->c.synced_gen = n->c.data_gen;
		memcpy(n->c.md5, n->r.md5, sizeof(n->c.md5));
	}
}

static void log_done(const struct job *j)
{
	const char *what = plan_op_name(j->p.op);

	if (j->p.op == PLAN_UPDATE && (j->p.flags & PLAN_CONTENT))
		what = j->content_same ? "update (bytes unchanged)" : "upload";
	log_debug(SUB, "%s of '%s' (%s) done", what, j->path, j->id);
}

/*
 * The retry budget (docs/SEMANTICS.md "Failures"): http.c has already
 * retried each request (transient errors, up to 8 times); past
 * SYNC_BUDGET failed pushes in a row (about 5 minutes of backoff), or
 * SYNC_BUDGET_PERMANENT for an error that retrying will not lift
 * (permission, quota, daily cap), the work is parked. A 404 (the folder of
 * a create or move gone from Drive) gets SYNC_BUDGET_NOT_FOUND (about 15 s):
 * time for the poller to bring the news that changes the plan. Offline and
 * refused credentials are not the work's fault: such work keeps retrying (at
 * most RETRY_OFFLINE_MAX_MS apart) and drains when Drive or the token is back.
 */
static bool quarantine_due(const struct node *n, enum drive_err_class cls)
{
	if (cls == DRIVE_ERRC_NETWORK || cls == DRIVE_ERRC_AUTH)
		return false;
	if (cls == DRIVE_ERRC_NOT_FOUND)
		return n->s.fails >= SYNC_BUDGET_NOT_FOUND;
	if (drive_err_class_permanent(cls))
		return n->s.fails >= SYNC_BUDGET_PERMANENT;
	return n->s.fails >= SYNC_BUDGET;
}

/*
 * Did the push @j fail because the node changed under it rather than
 * because Drive refused it? Its bytes changed (a truncate shortened the
 * file being read, a conflict or the poller replaced them), or it lost its
 * id (@m holds it now) or its life to a rename-over. Such a push is not a
 * failure: the node's new state is pushed next.
 */
static bool overtaken_locked(const struct job *j, const struct node *m)
{
	const struct node *n = j->n;

	if (j->p.op == PLAN_TRASH)
		return !n->l.deleted &&
		       (n->c.data_gen != j->data_gen || n->c.epoch != j->epoch);
	return n->l.deleted || (j->id[0] && m != n) ||
	       n->c.data_gen != j->data_gen || n->c.epoch != j->epoch;
}

static void fail_locked(struct cache *c, struct job *j, int rc,
			const struct drive_err *err)
{
	struct tree *t = &c->t;
	struct node *n = j->n;
	struct node *m = tree_by_id_locked(t, j->id);
	enum drive_err_class cls;
	char why[256];
	int64_t backoff;

	/* A 404 about this file (not, say, the folder of a move). */
	bool gone =
	    rc == -ENOENT && m && j->id[0] && strstr(err->message, j->id);

	if (gone && j->p.op == PLAN_TRASH) {
		apply_locked(c, j, NULL); /* already gone: as good as trashed */
		return;
	}
	if (gone && j->p.op == PLAN_UPDATE) {
		/*
		 * Deleted in Drive by someone else. What we hold in full is
		 * created again (new id); a file whose bytes we never had is
		 * gone for good, here too. (The poller, issue 4, will see such
		 * deletions before we trip over them.)
		 */
		m->r.exists = false;
		tree_set_id_locked(t, m, "");
		m->c.dirty = m->kind != NODE_DIR; /* the bytes go again */
		if (m->kind == NODE_DIR || tree_content_whole_locked(m)) {
			log_warn(SUB,
				 "'%s' (%s) is gone from Drive: creating "
				 "it again",
				 j->path, j->id);
		} else if (m->l.parent) {
			log_warn(SUB,
				 "'%s' (%s) is gone from Drive: removing "
				 "it here",
				 j->path, j->id);
			tree_detach_locked(t, m);
			m->l.deleted = true;
		}
		return;
	}
	if (j->p.op == PLAN_CREATE &&
	    (!strcmp(err->reason, "fileIdNotUsable") || j->id_unusable) &&
	    !strcmp(n->id, j->id)) {
		/* Drive will not take this generated id (lost with a restart,
		 * or expired): the next try takes a fresh one. */
		tree_set_id_locked(t, n, "");
	}
	if (overtaken_locked(j, m)) {
		log_debug(SUB, "push of '%s' overtaken by a change: %s",
			  j->path, strerror(-rc));
		return;
	}
	n->s.fails++;
	n->s.last_err = rc;
	n->s.last_fail_ms = clock_mono_ms();
	cls = drive_err_class(err);
	n->s.err_class = (uint8_t)cls;
	backoff = MIN((int64_t)1000 << MIN(n->s.fails - 1, 6),
		      cls == DRIVE_ERRC_NETWORK || cls == DRIVE_ERRC_AUTH
			  ? RETRY_OFFLINE_MAX_MS
			  : RETRY_MAX_MS);
	n->s.retry_ms = clock_mono_ms() + backoff;
	if (rc == -ECANCELED)
		return; /* shutting down: http_cancel_all() */
	if (err->http_status || err->curl_code || err->reason[0])
		drive_err_str(err, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", strerror(-rc));
	if (quarantine_due(n, cls)) {
		n->s.quarantined = true;
		n->s.retry_ms = clock_mono_ms() + QUARANTINE_RETRY_MS;
		log_err(SUB,
			"%s of '%s' (%s) quarantined after %d failures (%s): "
			"%s; the local bytes are kept; retried on "
			"drivefs-status --sync-now, at the next start or in "
			"an hour",
			plan_op_name(j->p.op), j->path, j->id[0] ? j->id : "-",
			n->s.fails, drive_err_class_name(cls), why);
		return;
	}
	if (n->s.fails == 1)
		log_err(SUB,
			"%s of '%s' (%s) failed: %s; retrying in %" PRId64 " s",
			plan_op_name(j->p.op), j->path, j->id[0] ? j->id : "-",
			why, backoff / 1000);
	else
		log_debug(SUB, "%s of '%s' (%s) failed again (%d): %s",
			  plan_op_name(j->p.op), j->path, j->id, n->s.fails,
			  why);
}

/* The content check found Drive holding our bytes already: clean. */
static void adopt_same_locked(struct cache *c, struct job *j)
{
	struct node *n = j->n;
	const struct drive_file *f = j->remote;

	(void)c;
	n->r.version = f->version;
	memcpy(n->r.md5, f->md5, sizeof(n->r.md5));
	n->r.size = f->size;
	memcpy(n->c.xxh, j->xxh, HASH_LEN);
	n->c.have_xxh = true;
	if (n->c.data_gen == j->data_gen) {
		n->c.dirty = false;
		n->c.synced_gen = n->c.data_gen;
		memcpy(n->c.md5, f->md5, sizeof(n->c.md5));
	}
	n->s.remote_changed = true; /* its name may have changed too */
	log_info(SUB, "'%s' (%s): Drive already holds these bytes", j->path,
		 j->id);
}

/* The trash @j was sent, found done already, or lost to an edit. */
static void settle_trash_locked(struct cache *c, struct job *j,
				const struct drive_file *res)
{
	struct node *n = j->n;

	if (j->verdict != PLAN_CHECK_CONFLICT ||
	    tree_by_id_locked(&c->t, j->id) != n) {
		apply_locked(c, j, res);
		log_done(j);
		return;
	}
	/* Edited elsewhere since we saw it: keep it, forget our delete and
	 * have the poller bring the file back into view. */
	conflict_record_locked(c, n, NULL, "edit-wins-over-delete");
	tree_set_id_locked(&c->t, n, "");
	n->r.exists = false;
	poll_queue_refresh(c, j->id);
}

/* Record what the push @j did, or act on what its content check found. */
static void settle_locked(struct cache *c, struct job *j,
			  const struct drive_file *res)
{
	struct node *n = j->n;
	/* A rename-over may have moved the id away meanwhile: then the
	 * node's next push checks again. */
	bool ours = tree_by_id_locked(&c->t, j->id) == n && n->l.parent;
	int rc = 0;

	if (j->p.op == PLAN_TRASH) {
		settle_trash_locked(c, j, res);
		return;
	}
	switch (j->verdict) {
	case PLAN_CHECK_UPLOAD:
		apply_locked(c, j, res);
		if (j->stream_url[0] && j->attrs && res &&
		    res->modified_ms >= 0 && ours)
			/* The session was opened before the last write: Drive
			 * has that mtime, the next push sends the final one. */
			n->r.mtime_ms = res->modified_ms;
		if (j->local_wins)
			conflict_record_locked(c, n, NULL, "local-wins");
		if (j->remote && res && j->remote->version >= 0 &&
		    res->version > j->remote->version + 1)
			/* Drive v3 has no conditional update: a change that
			 * lands between our check and our upload is
			 * overwritten (it stays in Drive's revisions). */
			log_info(SUB,
				 "'%s' (%s) changed in Drive during the upload "
				 "(version %" PRId64 " at the check, %" PRId64
				 " after): an edit made meanwhile is only in "
				 "Drive's revision history",
				 j->path, j->id, j->remote->version,
				 res->version);
		log_done(j);
		break;
	case PLAN_CHECK_SAME:
		if (ours)
			adopt_same_locked(c, j);
		break;
	case PLAN_CHECK_GONE:
		if (ours)
			conflict_remote_gone_locked(c, n);
		break;
	case PLAN_CHECK_CONFLICT:
		if (!ours)
			break;
		if (c->o.conflict == CACHE_CONFLICT_REMOTE_WINS)
			rc = conflict_remote_wins_locked(c, n, j->remote);
		else
			rc = conflict_keep_both_locked(c, n, j->remote,
						       "keep-both");
		if (rc < 0)
			log_err(SUB,
				"resolving the conflict on '%s' (%s) "
				"failed: %s; trying again",
				j->path, j->id, strerror(-rc));
		break;
	}
}

bool sync_create_ready_locked(struct cache *c, struct node *n)
{
	return plan_for_locked(c, n).op == PLAN_CREATE && n->l.parent &&
	       n->l.parent->r.exists && n->l.parent->id[0];
}

/* Give @n a Drive id from the pool (blocking). Drops the lock. */
static int assign_id_locked(struct cache *c, struct node *n)
{
	char id[DRIVE_ID_MAX + 1];
	int rc;

	tree_unlock(&c->t);
	rc = idpool_take(c->ids, id);
	tree_lock(&c->t);
	if (rc == 0 && !n->id[0])
		tree_set_id_locked(&c->t, n, id);
	return rc;
}

/*
 * The bytes an upload of @n sends must all be in the cache: fetch what is
 * missing (only possible while Drive has them). Drops the lock.
 */
static int ensure_bytes_locked(struct cache *c, struct node *n)
{
	if (tree_content_whole_locked(n))
		return 0;
	if (n->c.dirty || !n->r.exists) {
		log_err(SUB,
			"bytes of '%s' are not in the cache: not uploading",
			tree_name_for_log(n));
		return -EIO;
	}
	return fetch_ensure_whole_locked(c, n);
}

/*
 * A create met 409 fileIdInUse with the id generated for it, and Drive did
 * not hold exactly the bytes asked for: an earlier try of this create got
 * through (its reply lost) and the file changed since. Nobody else has the
 * id, so that file is ours: fetch it (*@res, j->lost_create). A file gone
 * or trashed since gives the id up (-EEXIST; the next try takes a new one).
 */
static int lost_create(struct cache *c, struct job *j, struct drive_file **res,
		       struct drive_err *err)
{
	struct drive_err gerr;
	int rc;

	drive_err_init(&gerr);
	rc = drive_files_get(c->d, j->id, res, &gerr);
	if (rc == 0 && !(*res)->trashed) {
		j->lost_create = true;
		return 0;
	}
	drive_file_free(*res);
	*res = NULL;
	if (rc == 0 || rc == -ENOENT) {
		j->id_unusable = true;
		return -EEXIST;
	}
	*err = gerr; /* could not look: try the create again later */
	return rc;
}

/* lost_create() found our file: it is the base of the next push. */
static void adopt_created_locked(struct cache *c, struct job *j,
				 const struct drive_file *f)
{
	struct node *n = j->n;

	if (tree_by_id_locked(&c->t, j->id) != n || n->r.exists)
		return;
	if (tree_adopt_created_locked(&c->t, n, f) < 0)
		return;
	log_info(SUB,
		 "create of '%s' (%s) had reached Drive though its reply "
		 "was lost: updating that file",
		 j->path, j->id);
}

/* Is a push of Drive id @id running (on any uploader)? */
static bool id_busy_locked(struct cache *c, const char *id)
{
	if (!id[0])
		return false;
	for (int i = 0; i < c->n_sync_threads; i++)
		if (!strcmp(c->sync_busy[i], id))
			return true;
	return false;
}

/*
 * Push @n (claimed: in_flight, referenced) per @p on worker @w. Drops the
 * lock while talking to Drive.
 */
static void run_locked(struct cache *c, int w, struct node *n,
		       const struct plan *p)
{
	struct tree *t = &c->t;
	struct drive_file *res = NULL;
	struct drive_err err;
	struct plan cur;
	struct node *m;
	struct job j;
	int rc = 0;

	memset(&j, 0, sizeof(j));
	drive_err_init(&err);
	if (p->op == PLAN_CREATE && !n->id[0]) {
		rc = assign_id_locked(c, n);
		if (rc < 0)
			goto done;
	}
	if (p->op != PLAN_TRASH && n->kind != NODE_DIR &&
	    (p->op == PLAN_CREATE || (p->flags & PLAN_CONTENT))) {
		rc = ensure_bytes_locked(c, n);
		if (rc < 0)
			goto done;
	}
	/* The lock was dropped: push what is true now, or look again. */
	cur = plan_for_locked(c, n);
	if (cur.op != p->op || id_busy_locked(c, n->id))
		goto done;
	rc = snapshot_locked(n, &cur, &j);
	if (rc < 0)
		goto done;
	j.c = c;
	j.worker = w;
	stream_take_locked(c, n, cur.op == PLAN_CREATE && j.kind == NODE_FILE,
			   j.name, j.parent, j.exec, j.stream_url);
	memcpy(c->sync_busy[w], j.id, sizeof(j.id));
	if (cur.op == PLAN_CREATE)
		journal_note_locked(c, n); /* the id, before Drive has it */
	tree_unlock(t);
	/* A create is recognised by its id after a crash or a power cut
	 * (journal.c), so the id must be durable first; an error only
	 * risks a twin. */
	if (cur.op == PLAN_CREATE)
		journal_sync(c->j);
	rc = push(c, &j, &res, &err);
	if (rc == -EEXIST && cur.op == PLAN_CREATE &&
	    !strcmp(err.reason, "fileIdInUse"))
		rc = lost_create(c, &j, &res, &err);
	tree_lock(t);
	c->sync_busy[w][0] = '\0';
	if (rc == 0 && j.lost_create)
		adopt_created_locked(c, &j, res);
	else if (rc == 0)
		settle_locked(c, &j, res);
done:
	n->s.in_flight = false;
	if (rc < 0) {
		fail_locked(c, &j, rc, &err);
	} else {
		n->s.fails = 0;
		n->s.last_err = 0;
		n->s.retry_ms = 0;
		n->s.quarantined = false;
		n->s.err_class = 0;
		n->s.urgent = false; /* an fsync still waiting sets it again */
	}
	/* A rename-over may have moved the id to another node meanwhile. */
	m = j.id[0] ? tree_by_id_locked(t, j.id) : NULL;
	if (m && m != n)
		sync_recheck_locked(c, m);
	sync_recheck_locked(c, n);
	/* Drive may now hold two files of this name, one of them ours (a
	 * create or rename racing another machine's): settle them. */
	if (rc == 0 && n->l.parent && n->l.name)
		twins_check_name_locked(c, n->l.parent, n->l.name);
	job_release(&j);
	drive_file_free(res);
	tree_broadcast_locked(t);
	pthread_cond_broadcast(&c->sync_cond);
}

/* ---- workers ---- */

/* Can @n, whose delay is over, be pushed now? Else lower *@wake. */
static bool ready_locked(struct cache *c, const struct node *n, int64_t now,
			 int64_t *wake)
{
	if (n->c.open_writers && !n->l.deleted && !n->s.urgent && !c->draining)
		return false; /* release() notes it again */
	if (stream_busy_locked(c, n))
		return false; /* stream.c wakes us when its request is done */
	if (now >= n->s.retry_ms)
		return true;
	*wake = MIN(*wake, n->s.retry_ms);
	return false;
}

/* A node to push now, or NULL; *@wake: when to look again. */
static struct node *pick_locked(struct cache *c, struct plan *out,
				int64_t *wake)
{
	struct tree *t = &c->t;
	struct list_head *pos, *tmp;
	int64_t now = clock_mono_ms();

	list_for_each_safe(pos, tmp, &t->pending)
	{
		struct node *n = list_entry(pos, struct node, s.pending);
		struct plan p;

		if (n->s.due_ms > now && !c->draining) {
			*wake = MIN(*wake, n->s.due_ms); /* sorted: the rest */
			break;				 /* are later still */
		}
		if (n->s.in_flight || id_busy_locked(c, n->id))
			continue;
		if (c->paused && !n->s.urgent && !c->draining)
			continue; /* cache_pause(): only fsync goes through */
		/* Cheap test first: a node whose folder is not in Drive yet
		 * waits (most of a freshly unpacked tree, for a while). */
		if (!n->r.exists && !n->l.deleted && n->l.parent &&
		    !n->l.parent->r.exists)
			continue;
		p = plan_for_locked(c, n);
		if (p.op == PLAN_NONE || p.op == PLAN_FORGET) {
			/* Safe: only @n can be freed, and tmp is not n. */
			sync_recheck_locked(c, n);
			continue;
		}
		if (p.op == PLAN_WAIT || !ready_locked(c, n, now, wake))
			continue;
		*out = p;
		return n;
	}
	return NULL;
}

static void reap_dead(struct cache *c)
{
	uint64_t *dead;
	size_t n;

	tree_lock(&c->t);
	tree_take_dead_locked(&c->t, &dead, &n);
	tree_unlock(&c->t);
	for (size_t i = 0; i < n; i++)
		store_unlink(&c->store, dead[i]);
	free(dead);
}

static void wait_sync_locked(struct cache *c, int64_t wake)
{
	struct timespec ts;
	int64_t left = wake - clock_mono_ms();

	if (wake == INT64_MAX) {
		pthread_cond_wait(&c->sync_cond, &c->t.lock);
		return;
	}
	if (left <= 0)
		return;
	clock_mono_timespec_after(left, &ts);
	pthread_cond_timedwait(&c->sync_cond, &c->t.lock, &ts);
}

struct sync_worker {
	struct cache *c;
	int index;
};

static void *sync_main(void *arg)
{
	struct sync_worker *wk = arg;
	struct cache *c = wk->c;
	struct tree *t = &c->t;
	char name[16];

	snprintf(name, sizeof(name), "drivefs-sync-%d", wk->index);
	pthread_setname_np(pthread_self(), name);
	tree_lock(t);
	while (!c->sync_stop) {
		int64_t wake = INT64_MAX;
		struct plan p;
		struct node *n = pick_locked(c, &p, &wake);

		if (n) {
			n->s.in_flight = true;
			tree_ref_locked(n);
			run_locked(c, wk->index, n, &p);
			tree_unref_locked(t, n);
		} else if (t->n_dead) {
			tree_unlock(t);
			reap_dead(c);
			tree_lock(t);
		} else {
			c->sync_wake_ms = wake;
			wait_sync_locked(c, wake);
		}
	}
	tree_unlock(t);
	return NULL;
}

int sync_start(struct cache *c)
{
	int n = c->o.upload_workers, rc;

	c->sync_threads = calloc((size_t)n, sizeof(*c->sync_threads));
	c->sync_workers = calloc((size_t)n, sizeof(*c->sync_workers));
	c->sync_busy = calloc((size_t)n, sizeof(*c->sync_busy));
	c->sync_prog = calloc((size_t)n, sizeof(*c->sync_prog));
	if (!c->sync_threads || !c->sync_workers || !c->sync_busy ||
	    !c->sync_prog)
		return -ENOMEM;
	for (int i = 0; i < n; i++) {
		c->sync_workers[i].c = c;
		c->sync_workers[i].index = i;
		rc = -pthread_create(&c->sync_threads[i], NULL, sync_main,
				     &c->sync_workers[i]);
		if (rc < 0)
			return rc;
		tree_lock(&c->t);
		c->n_sync_threads++;
		tree_unlock(&c->t);
	}
	return 0;
}

void sync_stop(struct cache *c)
{
	tree_lock(&c->t);
	c->sync_stop = true;
	pthread_cond_broadcast(&c->sync_cond);
	tree_unlock(&c->t);
	for (int i = 0; i < c->n_sync_threads; i++)
		pthread_join(c->sync_threads[i], NULL);
	c->n_sync_threads = 0;
	free(c->sync_threads);
	free(c->sync_workers);
	free(c->sync_busy);
	free(c->sync_prog);
	c->sync_threads = NULL;
	c->sync_workers = NULL;
	c->sync_busy = NULL;
	c->sync_prog = NULL;
	reap_dead(c);
}

/* ---- fsync and drain ---- */

int sync_wait_node_locked(struct cache *c, struct node *n)
{
	struct tree *t = &c->t;
	uint64_t target = n->c.data_gen;
	int64_t start = clock_mono_ms();
	struct node *q;

	if (!list_linked(&n->s.pending))
		return 0;
	if (n->s.quarantined)
		n->s.retry_ms = 0; /* fsync asks for one more try */
	/* Push it, and the folders Drive needs first, without delay. */
	make_urgent_locked(c, n);
	for (q = n->l.parent; q && !q->r.exists; q = q->l.parent)
		make_urgent_locked(c, q);
	for (;;) {
		if (!list_linked(&n->s.pending) || n->l.deleted)
			return 0;
		if (n->r.exists && !n->s.in_flight &&
		    (n->kind == NODE_DIR || n->c.synced_gen >= target))
			return 0;
		/* A push of it, or of a folder it waits for, failed since. */
		for (q = n; q && q != t->root; q = q->l.parent) {
			if (q->s.last_err && q->s.last_fail_ms >= start)
				return q->s.last_err;
			if (q != n && q->r.exists)
				break;
		}
		if (c->sync_stop)
			return -EIO;
		if (!n->s.urgent)
			make_urgent_locked(c, n);
		tree_wait_locked(t);
	}
}

size_t cache_pending(struct cache *c)
{
	size_t n;

	tree_lock(&c->t);
	n = c->t.n_pending;
	tree_unlock(&c->t);
	return n;
}

/* Pending nodes that are quarantined and not being pushed. */
static size_t parked_locked(struct tree *t)
{
	struct list_head *pos;
	size_t k = 0;

	list_for_each(pos, &t->pending)
	{
		struct node *n = list_entry(pos, struct node, s.pending);

		if (n->s.quarantined && !n->s.in_flight)
			k++;
	}
	return k;
}

/* The drain ends with work left: say exactly what (the journal keeps it
 * for the next start). */
static void log_left_locked(struct cache *c, const char *why)
{
	struct tree *t = &c->t;
	struct list_head *pos;
	size_t k = 0;
	char path[1024];

	log_err(SUB, "%s: %zu changes not uploaded, kept for the next start",
		why, t->n_pending);
	list_for_each(pos, &t->pending)
	{
		struct node *n = list_entry(pos, struct node, s.pending);
		const char *cls = drive_err_class_name(n->s.err_class);

		if (++k > 1000) {
			log_err(SUB, "still queued: ... and %zu more",
				t->n_pending - 1000);
			break;
		}
		tree_path_locked(n, path, sizeof(path));
		log_err(SUB, "still queued: '%s' (%s%s%s%s)", path,
			n->l.deleted	      ? "trash"
			: n->kind == NODE_DIR ? "folder"
			: n->c.dirty	      ? "upload"
					      : "metadata",
			n->s.quarantined ? ", quarantined" : "",
			cls ? ", last error: " : "", cls ? cls : "");
	}
}

int cache_drain(struct cache *c)
{
	struct tree *t = &c->t;
	int64_t next_log = clock_mono_ms() + 10000;
	int64_t end = c->o.drain_timeout_ms > 0
			  ? clock_mono_ms() + c->o.drain_timeout_ms
			  : INT64_MAX;
	int64_t next_park = 0; /* parked_locked() walks the list: 2/s */
	int rc = 0;

	tree_lock(t);
	c->draining = true;
	pthread_cond_broadcast(&c->sync_cond);
	if (t->n_pending)
		log_info(SUB, "unmounting: uploading %zu pending changes",
			 t->n_pending);
	while (t->n_pending) {
		if (c->drain_abort) {
			log_left_locked(c, "exit requested");
			rc = -EINTR;
			break;
		}
		if (clock_mono_ms() >= end) {
			log_left_locked(c, "--drain-timeout reached");
			rc = -ETIMEDOUT;
			break;
		}
		if (clock_mono_ms() >= next_park) {
			if (parked_locked(t) == t->n_pending) {
				log_left_locked(
				    c, "only quarantined work is left");
				rc = -ETIMEDOUT;
				break;
			}
			next_park = clock_mono_ms() + 500;
		}
		if (clock_mono_ms() >= next_log) {
			log_info(SUB, "still uploading %zu pending changes",
				 t->n_pending);
			next_log = clock_mono_ms() + 10000;
		}
		tree_wait_until_locked(t, MIN(MIN(next_log, end), next_park));
	}
	tree_unlock(t);
	return rc;
}

void cache_drain_abort(struct cache *c)
{
	tree_lock(&c->t);
	c->drain_abort = true;
	tree_broadcast_locked(&c->t);
	tree_unlock(&c->t);
}

/* ---- control ---- */

void cache_pause(struct cache *c, bool paused)
{
	tree_lock(&c->t);
	if (c->paused != paused)
		log_info(SUB, "uploads %s", paused ? "paused" : "resumed");
	c->paused = paused;
	pthread_cond_broadcast(&c->sync_cond);
	tree_broadcast_locked(&c->t);
	tree_unlock(&c->t);
}

bool cache_paused(struct cache *c)
{
	bool p;

	tree_lock(&c->t);
	p = c->paused;
	tree_unlock(&c->t);
	return p;
}

void cache_sync_now(struct cache *c)
{
	struct list_head *pos;

	tree_lock(&c->t);
	/* All due now: the list stays sorted (every due_ms is 0). */
	list_for_each(pos, &c->t.pending)
	{
		struct node *n = list_entry(pos, struct node, s.pending);

		n->s.due_ms = 0;
		n->s.retry_ms = 0;
		if (n->s.quarantined) {
			/* A fresh budget: parked work gets another go. */
			n->s.quarantined = false;
			n->s.fails = 0;
		}
	}
	c->sync_wake_ms = 0;
	pthread_cond_broadcast(&c->sync_cond);
	tree_unlock(&c->t);
	poll_wake(c);
}

size_t cache_uploads(struct cache *c, struct cache_upload_progress *out,
		     size_t max)
{
	size_t n = 0;

	tree_lock(&c->t);
	if (c->stream_prog.total > 0 && n < max) {
		out[n] = c->stream_prog;
		out[n++].done =
		    __atomic_load_n(&c->stream_prog.done, __ATOMIC_RELAXED);
	}
	for (int i = 0; i < c->n_sync_threads && n < max; i++)
		if (c->sync_prog && c->sync_prog[i].total > 0) {
			out[n] = c->sync_prog[i];
			out[n++].done = __atomic_load_n(&c->sync_prog[i].done,
							__ATOMIC_RELAXED);
		}
	tree_unlock(&c->t);
	return n;
}
