/*
 * Cache files and eviction (store.h). Byte accounting: t->cached_bytes is
 * the sum of every node's present bytes (n->c.bytes caches its share), so
 * a sparse file counts only what was downloaded or written.
 *
 * Eviction runs in whichever thread just added bytes (a download, a write):
 * victims are chosen under the tree lock and marked evicting (open() waits
 * for that flag), their bytes forgotten, then the files are unlinked with
 * the lock dropped and the flag cleared. A node is a candidate only when
 * clean, closed and idle, so no fd of it is open anywhere.
 */
#include "common/compat.h"

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache/cache_i.h"
#include "cache/journal.h"
#include "cache/store.h"
#include "common/log.h"

#define SUB "cache"

/* Does the content file of @ino hold bytes this run still needs? */
static bool keeps(const struct journal *keep, struct tree *t, uint64_t ino)
{
	const struct node *n;
	bool kept;

	/* Dirty bytes the journal still has to upload. */
	if (journal_keeps(keep, ino))
		return true;
	if (!t)
		return false;
	/* Clean bytes the snapshot kept (checked before their first use). */
	tree_lock(t);
	n = tree_get_locked(t, ino);
	kept = n && n->c.unverified && n->c.has_file;
	tree_unlock(t);
	return kept;
}

static int wipe(int dirfd, const struct journal *keep, struct tree *t)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (keeps(keep, t, strtoull(de->d_name, NULL, 10)))
			continue;
		if (unlinkat(dirfd, de->d_name, 0) == 0)
			n++;
	}
	closedir(d);
	if (n)
		log_info(SUB, "discarded %zu cached files of an earlier run",
			 n);
	return 0;
}

int store_init(struct store *s, const char *dir, const struct journal *keep,
	       struct tree *t)
{
	int dfd = -1, rc;

	s->dirfd = -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0) {
		rc = -errno;
		goto out;
	}
	if (mkdirat(dfd, "content", 0700) < 0 && errno != EEXIST) {
		rc = -errno;
		goto out;
	}
	s->dirfd = openat(dfd, "content", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		rc = -errno;
		goto out;
	}
	rc = wipe(s->dirfd, keep, t);
out:
	if (dfd >= 0)
		close(dfd);
	if (rc < 0)
		store_release(s);
	return rc;
}

void store_release(struct store *s)
{
	if (s->dirfd >= 0)
		close(s->dirfd);
	s->dirfd = -1;
}

int store_open(struct store *s, uint64_t ino, int flags)
{
	char name[32];
	int fd;

	snprintf(name, sizeof(name), "%" PRIu64, ino);
	fd = openat(s->dirfd, name, flags | O_CREAT | O_CLOEXEC, 0600);
	return fd < 0 ? -errno : fd;
}

int store_unlink(struct store *s, uint64_t ino)
{
	char name[32];

	snprintf(name, sizeof(name), "%" PRIu64, ino);
	if (unlinkat(s->dirfd, name, 0) < 0 && errno != ENOENT)
		return -errno;
	return 0;
}

void store_account_locked(struct tree *t, struct node *n)
{
	int64_t now = ranges_total(&n->c.present);
	int64_t before = list_linked(&n->c.lru) ? n->c.bytes : 0;

	t->cached_bytes += now - before;
	n->c.bytes = now;
	if (now == 0)
		n->c.unverified = false; /* no kept bytes left to check */
	if (now > 0 && !list_linked(&n->c.lru))
		list_add_tail(&n->c.lru, &t->lru);
	else if (now == 0 && list_linked(&n->c.lru))
		list_del_init(&n->c.lru);
}

void store_touch_locked(struct tree *t, struct node *n)
{
	if (list_linked(&n->c.lru))
		list_move_tail(&n->c.lru, &t->lru);
}

size_t store_evict_pick(const struct store_cand *v, size_t n, int64_t usage,
			int64_t max, bool *evict)
{
	size_t picked = 0;

	for (size_t i = 0; i < n; i++) {
		evict[i] = false;
		if (usage <= max || v[i].busy || v[i].bytes <= 0)
			continue;
		evict[i] = true;
		usage -= v[i].bytes;
		picked++;
	}
	return picked;
}

static bool busy(const struct node *n)
{
	return n->c.dirty || n->c.open_count || n->c.pins || n->c.evicting ||
	       n->c.fetching.n || n->s.in_flight;
}

void cache_evict(struct cache *c)
{
	struct tree *t = &c->t;
	struct store_cand *cand = NULL;
	struct node **nodes = NULL;
	bool *evict = NULL;
	struct list_head *pos;
	size_t n = 0, k;

	tree_lock(t);
	if (t->cached_bytes <= c->o.size_max)
		goto out;
	list_for_each(pos, &t->lru) n++;
	cand = calloc(n, sizeof(*cand));
	nodes = calloc(n, sizeof(*nodes));
	evict = calloc(n, sizeof(*evict));
	if (!cand || !nodes || !evict)
		goto out;
	k = 0;
	list_for_each(pos, &t->lru)
	{
		struct node *v = list_entry(pos, struct node, c.lru);

		cand[k].bytes = v->c.bytes;
		cand[k].busy = busy(v);
		nodes[k++] = v;
	}
	if (!store_evict_pick(cand, n, t->cached_bytes, c->o.size_max, evict))
		goto out;
	for (k = 0; k < n; k++) {
		if (!evict[k])
			continue;
		nodes[k]->c.evicting = true;
		ranges_clear(&nodes[k]->c.present);
		nodes[k]->c.epoch++;
		store_account_locked(t, nodes[k]);
	}
	tree_unlock(t);
	for (k = 0; k < n; k++)
		if (evict[k])
			store_unlink(&c->store, nodes[k]->ino);
	tree_lock(t);
	for (k = 0; k < n; k++) {
		if (!evict[k])
			continue;
		log_debug(SUB, "evicted '%s' (%" PRId64 " bytes)",
			  tree_name_for_log(nodes[k]), cand[k].bytes);
		nodes[k]->c.evicting = false;
		tree_maybe_free_locked(t, nodes[k]);
	}
	tree_broadcast_locked(t);
out:
	tree_unlock(t);
	free(cand);
	free(nodes);
	free(evict);
}
