/*
 * Conflicts: naming conflict copies and remembering what was resolved, for
 * the log and drivefs-status (docs/SEMANTICS.md "Conflicts"). Deciding
 * that there is a conflict is plan.c's (plan_content_check()); acting on
 * it is sync.c's (before an upload) and twins.c's (two creates of one
 * path).
 */
#include "common/compat.h"

#include <time.h>
#include <unistd.h>

#include "cache/cache_i.h"
#include "cache/conflict.h"
#include "common/clock.h"
#include "common/log.h"

#define SUB "conflict"
/* A display name is at most this many bytes (NAME_MAX). */
#define NAME_BYTES 255

void conflict_host_init(struct cache *c, const char *host)
{
	char buf[256] = "";
	size_t i, n = 0;

	if (host && host[0])
		snprintf(buf, sizeof(buf), "%s", host);
	else if (gethostname(buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	/* The short name, and only characters safe in any file name. */
	for (i = 0; buf[i] && buf[i] != '.' && n < sizeof(c->host) - 1; i++) {
		char ch = buf[i];

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_')
			c->host[n++] = ch;
	}
	c->host[n] = '\0';
	if (!n)
		snprintf(c->host, sizeof(c->host), "host");
}

/* Cut @len back to a UTF-8 character boundary of @s. */
static size_t utf8_cut(const char *s, size_t len)
{
	while (len > 0 && ((unsigned char)s[len] & 0xC0) == 0x80)
		len--;
	return len;
}

int conflict_name(const struct cache *c, const char *name, int64_t wall_ms,
		  int nth, char *out, size_t outsz)
{
	const char *dot = strrchr(name, '.');
	size_t stem_len, ext_len, tag_len;
	char tag[128], stamp[32], seq[16] = "";
	time_t secs = (time_t)(wall_ms / 1000);
	struct tm tm;

	/* ".bashrc" has no extension; "a.tar.gz" has ".gz". */
	if (!dot || dot == name)
		dot = name + strlen(name);
	stem_len = (size_t)(dot - name);
	ext_len = strlen(dot);
	if (!gmtime_r(&secs, &tm))
		return -EINVAL;
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	if (nth > 1)
		snprintf(seq, sizeof(seq), "-%d", nth);
	tag_len = (size_t)snprintf(tag, sizeof(tag), ".conflict-%s-%s%s",
				   c->host, stamp, seq);
	if (ext_len > 32) { /* not an extension */
		ext_len = 0;
		stem_len = strlen(name);
	}
	if (tag_len + ext_len >= NAME_BYTES)
		return -ENAMETOOLONG;
	if (stem_len + tag_len + ext_len > NAME_BYTES)
		stem_len = utf8_cut(name, NAME_BYTES - tag_len - ext_len);
	if (stem_len + tag_len + ext_len + 1 > outsz)
		return -ENAMETOOLONG;
	memcpy(out, name, stem_len);
	memcpy(out + stem_len, tag, tag_len);
	memcpy(out + stem_len + tag_len, name + strlen(name) - ext_len,
	       ext_len);
	out[stem_len + tag_len + ext_len] = '\0';
	return 0;
}

void conflict_record_locked(struct cache *c, const struct node *kept,
			    const struct node *copy, const char *kind)
{
	struct cache_conflict *r = &c->conflicts[c->conflict_next];

	memset(r, 0, sizeof(*r));
	if (kept)
		tree_path_locked(kept, r->path, sizeof(r->path));
	if (copy)
		tree_path_locked(copy, r->copy, sizeof(r->copy));
	r->kind = kind;
	r->wall_ms = clock_wall_ms();
	c->conflict_next = (c->conflict_next + 1) % CACHE_CONFLICTS_KEPT;
	c->conflicts_total++;
	if (copy)
		log_warn(SUB, "conflict (%s): '%s' keeps Drive's version, the "
			      "local bytes are in '%s'",
			 kind, r->path, r->copy);
	else
		log_warn(SUB, "conflict (%s): '%s'", kind, r->path);
}

size_t cache_conflicts(struct cache *c, struct cache_conflict *out, size_t max)
{
	size_t n = 0, kept, i;

	tree_lock(&c->t);
	kept = MIN(c->conflicts_total, (uint64_t)CACHE_CONFLICTS_KEPT);
	for (i = 0; i < kept && n < max; i++) {
		size_t slot = (c->conflict_next + CACHE_CONFLICTS_KEPT - kept +
			       i) %
			      CACHE_CONFLICTS_KEPT;

		out[n++] = c->conflicts[slot];
	}
	tree_unlock(&c->t);
	return n;
}

uint64_t cache_conflicts_total(struct cache *c)
{
	uint64_t n;

	tree_lock(&c->t);
	n = c->conflicts_total;
	tree_unlock(&c->t);
	return n;
}

/* Drop @n's cached bytes: they are not the version it now shows. */
static void drop_bytes_locked(struct cache *c, struct node *n)
{
	n->c.epoch++; /* downloads in flight are stale */
	n->c.have_xxh = false;
	n->c.md5[0] = '\0';
	if (!n->c.evicting && !n->c.fetching.n) {
		ranges_clear(&n->c.present);
		store_account_locked(&c->t, n);
	}
}

/*
 * Rename the linked node @n (which has an id), in its folder, to a free
 * conflict name made from its Drive name; its display name before goes to
 * *@old (new, free()). Returns 0 or -errno (nothing changed).
 */
static int rename_to_copy_locked(struct cache *c, struct node *n, char **old)
{
	struct tree *t = &c->t;
	struct node *dir = n->l.parent;
	char name[NAME_BYTES * 4 + 1];
	int64_t now = clock_wall_ms();
	int rc = -EEXIST, nth;

	*old = NULL;
	if (!dir || !n->l.dname || !n->l.name || !n->id[0])
		return -ENOENT;
	for (nth = 1; nth < 100 && rc == -EEXIST; nth++) {
		rc = conflict_name(c, n->l.name, now, nth, name, sizeof(name));
		/* The same string is the display name until names are
		 * assigned (below): they differ only for names with '/'. */
		if (rc == 0 && tree_child_locked(t, dir, name))
			rc = -EEXIST;
	}
	if (rc < 0)
		return rc;
	*old = strdup(n->l.dname);
	if (!*old)
		return -ENOMEM;
	rc = tree_move_locked(t, n, dir, name, name);
	if (rc == 0)
		rc = tree_assign_names_locked(t, dir);
	if (rc < 0) {
		free(*old);
		*old = NULL;
		return rc;
	}
	poll_queue_inval(c, dir->ino, *old);
	poll_queue_inval(c, dir->ino, n->l.dname);
	poll_queue_inval(c, n->ino, NULL);
	return 0;
}

/* The folder of Drive id @id if the mount shows it (listed, inside the
 * root), else NULL: Drive's file is then out of view. */
static struct node *shown_dir_locked(struct tree *t, const char *id)
{
	struct node *d = id[0] ? tree_by_id_locked(t, id) : NULL, *q;

	if (!d || d->kind != NODE_DIR || !d->listed)
		return NULL;
	for (q = d; q != t->root; q = q->l.parent)
		if (!q || q->l.deleted)
			return NULL;
	return d;
}

int conflict_keep_both_locked(struct cache *c, struct node *n,
			      const struct drive_file *remote,
			      const char *kind)
{
	struct tree *t = &c->t;
	struct node *dir, *m = NULL;
	char *old;
	int rc;

	tree_ref_locked(n);
	rc = rename_to_copy_locked(c, n, &old);
	if (rc < 0)
		goto out;
	/* The copy is a new file (the syncer creates it); Drive's file
	 * gets a node of its own where Drive has it (the old name, unless
	 * someone moved or renamed it there). */
	tree_set_id_locked(t, n, "");
	n->r.exists = false;
	n->c.dirty = n->kind == NODE_FILE;
	n->c.have_xxh = false;
	dir = shown_dir_locked(t, remote->parent);
	if (dir) {
		rc = tree_apply_listed_locked(t, dir, remote);
		if (rc == 0)
			rc = tree_assign_names_locked(t, dir);
		m = tree_by_id_locked(t, remote->id);
	}
	conflict_record_locked(c, m ? m : n, n, kind);
	sync_note_locked(c, n);
	free(old);
	/* Drive's file may bring a name one of ours has meanwhile. */
	if (rc == 0 && m && m->l.name)
		twins_check_name_locked(c, dir, m->l.name);
out:
	tree_unref_locked(t, n);
	return rc;
}

int conflict_rename_copy_locked(struct cache *c, struct node *n,
				const struct node *kept, const char *kind)
{
	char *old;
	int rc;

	tree_ref_locked(n);
	rc = rename_to_copy_locked(c, n, &old);
	if (rc == 0) {
		conflict_record_locked(c, kept, n, kind);
		sync_note_locked(c, n); /* the rename goes to Drive */
		free(old);
	}
	tree_unref_locked(&c->t, n);
	return rc;
}

int conflict_remote_wins_locked(struct cache *c, struct node *n,
				const struct drive_file *remote)
{
	struct tree *t = &c->t;
	struct node *old_dir = n->l.parent;
	struct node *dir = shown_dir_locked(t, remote->parent);
	int rc = 0;

	if (!old_dir)
		return -ENOENT;
	n->c.dirty = false;
	n->c.synced_gen = n->c.data_gen;
	drop_bytes_locked(c, n);
	conflict_record_locked(c, n, NULL, "remote-wins");
	poll_queue_inval(c, old_dir->ino, n->l.dname);
	poll_queue_inval(c, n->ino, NULL);
	tree_ref_locked(n);
	tree_detach_locked(t, n);
	if (!dir) {
		/* Drive's version is out of view: so is the file. */
		tree_set_id_locked(t, n, "");
		n->r.exists = false;
		n->l.deleted = true;
		n->c.orphan = true;
		tree_unref_locked(t, n);
		return 0;
	}
	rc = tree_adopt_remote_locked(t, n, dir, remote);
	if (rc == 0)
		rc = tree_attach_locked(t, n, dir, remote->name, NULL);
	if (rc == 0)
		rc = tree_assign_names_locked(t, dir);
	if (rc == 0 && old_dir != dir)
		rc = tree_assign_names_locked(t, old_dir);
	if (rc == 0 && n->r.name)
		twins_check_name_locked(c, dir, n->r.name);
	tree_unref_locked(t, n);
	return rc;
}

void conflict_remote_gone_locked(struct cache *c, struct node *n)
{
	tree_set_id_locked(&c->t, n, "");
	n->r.exists = false;
	n->c.dirty = n->kind == NODE_FILE;
	n->c.have_xxh = false;
	conflict_record_locked(c, n, NULL, "remote-deleted");
}
