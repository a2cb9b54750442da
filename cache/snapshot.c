/*
 * The metadata snapshot (snapshot.h; INTERNALS.md "Snapshot").
 *
 * Writing: under the tree lock every node Drive has as far as we know is
 * copied as the drive_file a listing would have returned for it (Drive
 * name, parent id, MIME type by kind, size, version, md5, times, and the
 * appProperties drivefs reads: mode, symlink, host), with its inode and
 * whether a folder is listed; the poller's page token is read from the
 * poller (it only moves after every change up to it was applied, so any
 * change the tree misses is after the token). Encoding and I/O run with
 * no lock held.
 *
 * Loading: records are decoded and checked as Drive's replies are
 * (drive/record.c bounds: ids, md5, UTF-8 names without NUL), then applied
 * with tree_apply_listed_locked() folder by folder from the root down (the
 * path a listing takes, so names get the same display-name policy), each
 * node keeping its old inode number. Records whose folder is not reached
 * are dropped. The journal's recovery runs afterwards and takes over the
 * nodes it has pending work for (journal.c build_locked()).
 */
#include "common/compat.h"

#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "cache/cache_i.h"
#include "cache/journal.h"
#include "cache/snapshot.h"
#include "common/clock.h"
#include "common/io.h"
#include "common/log.h"

#define SUB "snapshot"
#define SNAP_FILE "snapshot"
#define SNAP_TMP "snapshot.new"
/* Bounds as drive/record.h has them for Drive's replies. */
#define SNAP_NAME_MAX 32767
#define SNAP_MIME_MAX 255
#define SNAP_PROPS_MAX 100
#define SNAP_PROP_MAX 1024
#define SNAP_SIZE_MAX (INT64_C(1) << 53)
#define SNAP_FILE_MAX ((size_t)1 << 31)
/* Periodic writes: at most this often (a crash loses at most this much
 * of the tree; the catch-up brings it back anyway). */
#define SNAP_PERIOD_MS (5 * 60 * 1000)
/* ...once the tree has had no change for this long. */
#define SNAP_IDLE_MS (10 * 1000)
/* Header flag: the root folder is listed. */
#define SNAP_ROOT_LISTED 1u

/* ---- encoding (pure) ---- */

struct sbuf {
	uint8_t *p;
	size_t len, cap;
	bool bad;
};

static void put(struct sbuf *b, const void *s, size_t n)
{
	if (b->bad)
		return;
	if (b->len + n > b->cap) {
		size_t cap = MAX(b->cap * 2, b->len + n + 4096);
		uint8_t *p = realloc(b->p, cap);

		if (!p) {
			b->bad = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void le_store(uint8_t *d, uint64_t v, int bytes)
{
	for (int i = 0; i < bytes; i++)
		d[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le_load(const uint8_t *s, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = (v << 8) | s[i];
	return v;
}

static void put_int(struct sbuf *b, uint64_t v, int bytes)
{
	uint8_t d[8];

	le_store(d, v, bytes);
	put(b, d, (size_t)bytes);
}

static void put_s(struct sbuf *b, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	put_int(b, n, 4);
	put(b, s ? s : "", n);
}

static void put_node(struct sbuf *b, const struct snap_node *x)
{
	const struct drive_file *f = &x->f;

	put_int(b, x->ino, 8);
	put_int(b, x->flags, 4);
	put_s(b, f->id);
	put_s(b, f->parent);
	put_s(b, f->name);
	put_s(b, f->mime_type);
	put_s(b, f->md5);
	put_s(b, f->shortcut_target);
	put_int(b, (uint64_t)f->size, 8);
	put_int(b, (uint64_t)f->version, 8);
	put_int(b, (uint64_t)f->created_ms, 8);
	put_int(b, (uint64_t)f->modified_ms, 8);
	put_int(b, f->n_app_props, 4);
	for (size_t i = 0; i < f->n_app_props; i++) {
		put_s(b, f->app_props[i].key);
		put_s(b, f->app_props[i].value);
	}
	put_s(b, x->cached_md5);
	put_int(b, x->lru, 8);
}

int snap_encode(const struct snap_head *h, const struct snap_node *v, size_t n,
		uint8_t **out, size_t *len)
{
	struct sbuf b = {0};
	uint64_t sum;

	*out = NULL;
	*len = 0;
	put(&b, SNAP_MAGIC, SNAP_MAGIC_LEN);
	put_int(&b, SNAP_VERSION, 4);
	put_int(&b, 0, 8); /* payload length and check, filled below */
	put_int(&b, 0, 8);
	put_s(&b, h->account);
	put_s(&b, h->root_id);
	put_s(&b, h->email);
	put_s(&b, h->token);
	put_int(&b, (uint64_t)h->wall_ms, 8);
	put_int(&b, h->next_ino, 8);
	put_int(&b, h->root_listed ? SNAP_ROOT_LISTED : 0, 4);
	put_int(&b, n, 8);
	for (size_t i = 0; i < n; i++)
		put_node(&b, &v[i]);
	if (b.bad) {
		free(b.p);
		return -ENOMEM;
	}
	sum = XXH64(b.p + SNAP_HDR, b.len - SNAP_HDR, 0);
	le_store(b.p + SNAP_MAGIC_LEN + 4, b.len - SNAP_HDR, 8);
	le_store(b.p + SNAP_MAGIC_LEN + 12, sum, 8);
	*out = b.p;
	*len = b.len;
	return 0;
}

/* ---- decoding (pure) ---- */

struct rd {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static uint64_t get_int(struct rd *r, int bytes)
{
	uint64_t v;

	if (r->bad || r->len - r->off < (size_t)bytes) {
		r->bad = true;
		return 0;
	}
	v = le_load(r->p + r->off, bytes);
	r->off += (size_t)bytes;
	return v;
}

/* Well-formed UTF-8 (what a JSON string from Drive decodes to). */
static bool utf8_ok(const uint8_t *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = s[i];
		size_t k;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

/* A string of at most @max bytes, UTF-8 without NUL; new, or NULL (bad
 * or out of memory: r->bad is set either way). */
static char *get_s(struct rd *r, size_t max)
{
	size_t n = (size_t)get_int(r, 4);
	char *s;

	if (r->bad || n > max || r->len - r->off < n ||
	    memchr(r->p + r->off, 0, n) || !utf8_ok(r->p + r->off, n)) {
		r->bad = true;
		return NULL;
	}
	s = malloc(n + 1);
	if (!s) {
		r->bad = true;
		return NULL;
	}
	memcpy(s, r->p + r->off, n);
	s[n] = '\0';
	r->off += n;
	return s;
}

/* Copy a string of at most @max bytes into @out (@max + 1 bytes). */
static void get_fixed(struct rd *r, char *out, size_t max)
{
	char *s = get_s(r, max);

	out[0] = '\0';
	if (s)
		memcpy(out, s, strlen(s) + 1);
	free(s);
}

static bool md5_ok(const char *s)
{
	if (!*s)
		return true;
	if (strlen(s) != DRIVE_MD5_HEX)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

static bool token_ok(const char *s)
{
	for (; *s; s++)
		if (*s < 0x21 || *s > 0x7e)
			return false;
	return true;
}

static int get_node(struct rd *r, struct snap_node *x)
{
	struct drive_file *f = &x->f;
	int64_t size, version, created, modified;
	uint32_t np;

	drive_file_init(f);
	x->ino = get_int(r, 8);
	x->flags = (uint32_t)get_int(r, 4);
	get_fixed(r, f->id, DRIVE_ID_MAX);
	get_fixed(r, f->parent, DRIVE_ID_MAX);
	f->name = get_s(r, SNAP_NAME_MAX);
	f->mime_type = get_s(r, SNAP_MIME_MAX);
	get_fixed(r, f->md5, DRIVE_MD5_HEX);
	get_fixed(r, f->shortcut_target, DRIVE_ID_MAX);
	size = (int64_t)get_int(r, 8);
	version = (int64_t)get_int(r, 8);
	created = (int64_t)get_int(r, 8);
	modified = (int64_t)get_int(r, 8);
	np = (uint32_t)get_int(r, 4);
	if (r->bad || x->ino <= TREE_ROOT_INO || !drive_id_valid(f->id) ||
	    !drive_id_valid(f->parent) || !f->mime_type[0] || !md5_ok(f->md5) ||
	    (f->shortcut_target[0] && !drive_id_valid(f->shortcut_target)) ||
	    size < -1 || size > SNAP_SIZE_MAX || version < -1 || created < -1 ||
	    modified < -1 || np > SNAP_PROPS_MAX)
		return -EINVAL;
	f->size = size;
	f->version = version;
	f->created_ms = created;
	f->modified_ms = modified;
	if (np) {
		f->app_props = calloc(np, sizeof(*f->app_props));
		if (!f->app_props)
			return -ENOMEM;
	}
	for (uint32_t i = 0; i < np; i++) {
		struct drive_prop *p = &f->app_props[i];

		p->key = get_s(r, SNAP_PROP_MAX);
		p->value = get_s(r, SNAP_PROP_MAX);
		f->n_app_props = i + 1; /* released even when half-filled */
		if (r->bad || !p->key[0])
			return -EINVAL;
	}
	get_fixed(r, x->cached_md5, DRIVE_MD5_HEX);
	x->lru = get_int(r, 8);
	if (r->bad || !md5_ok(x->cached_md5))
		return -EINVAL;
	/* Cached bytes: of a file (not a folder), with an md5 and a size. */
	if ((x->flags & SNAP_CACHED) &&
	    (!x->cached_md5[0] || f->size <= 0 ||
	     !strcmp(f->mime_type, DRIVE_MIME_FOLDER)))
		return -EINVAL;
	return 0;
}

void snap_nodes_free(struct snap_node *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		drive_file_release(&v[i].f);
	free(v);
}

int snap_decode(const uint8_t *buf, size_t len, struct snap_head *h,
		struct snap_node **out, size_t *outn)
{
	struct rd r = {buf, len, 0, false};
	struct snap_node *v = NULL;
	uint64_t plen, sum, n, flags;
	size_t i = 0;
	int rc = -EINVAL;

	memset(h, 0, sizeof(*h));
	*out = NULL;
	*outn = 0;
	if (len < SNAP_HDR || memcmp(buf, SNAP_MAGIC, SNAP_MAGIC_LEN))
		return -EINVAL;
	r.off = SNAP_MAGIC_LEN;
	if (get_int(&r, 4) != SNAP_VERSION)
		return -EPROTO;
	plen = get_int(&r, 8);
	sum = get_int(&r, 8);
	if (plen != len - SNAP_HDR || XXH64(buf + SNAP_HDR, plen, 0) != sum)
		return -EINVAL;
	get_fixed(&r, h->account, SNAP_KEY_MAX);
	get_fixed(&r, h->root_id, DRIVE_ID_MAX);
	get_fixed(&r, h->email, sizeof(h->email) - 1);
	get_fixed(&r, h->token, SNAP_TOKEN_MAX);
	h->wall_ms = (int64_t)get_int(&r, 8);
	h->next_ino = get_int(&r, 8);
	flags = get_int(&r, 4);
	h->root_listed = flags & SNAP_ROOT_LISTED;
	n = get_int(&r, 8);
	/* Each record takes at least 60 bytes: bound n before allocating. */
	if (r.bad || !drive_id_valid(h->root_id) || !h->token[0] ||
	    !token_ok(h->token) || n > (len - r.off) / 60)
		return -EINVAL;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		rc = get_node(&r, &v[i]);
		if (rc < 0) {
			i++; /* release the half-decoded one too */
			goto fail;
		}
	}
	if (r.off != len) {
		rc = -EINVAL;
		goto fail;
	}
	*out = v;
	*outn = n;
	return 0;
fail:
	snap_nodes_free(v, i);
	return rc;
}

bool snap_head_matches(const struct snap_head *h, const char *account,
		       const char *root_id)
{
	return account && account[0] && !strcmp(h->account, account) &&
	       !strcmp(h->root_id, root_id);
}

/* ---- writing ---- */

/* The drive_file a listing would give for @n (strings new); x->lru set
 * by the caller: its bytes are kept (bytes_kept()). */
static int node_record_locked(const struct tree *t, const struct node *n,
			      struct snap_node *x)
{
	struct drive_file *f = &x->f;
	const char *mime = "application/octet-stream";
	struct drive_prop props[3];
	size_t np = 0;

	drive_file_init(f);
	x->ino = n->ino;
	x->flags = n->kind == NODE_DIR && n->listed ? SNAP_LISTED : 0;
	if (x->lru) {
		x->flags |= SNAP_CACHED;
		memcpy(x->cached_md5, n->c.md5, sizeof(x->cached_md5));
	}
	memcpy(f->id, n->id, sizeof(f->id));
	memcpy(f->parent, n->r.parent, sizeof(f->parent));
	memcpy(f->md5, n->r.md5, sizeof(f->md5));
	f->size = n->r.size;
	f->version = n->r.version;
	f->created_ms = n->l.created_ms;
	f->modified_ms = n->r.mtime_ms;
	if (n->kind == NODE_DIR)
		mime = DRIVE_MIME_FOLDER;
	else if (n->kind == NODE_NATIVE && n->l.mime)
		mime = n->l.mime;
	else if (n->l.shortcut[0])
		mime = DRIVE_MIME_SHORTCUT;
	memcpy(f->shortcut_target, n->l.shortcut, sizeof(f->shortcut_target));
	if (n->r.exec)
		props[np++] = (struct drive_prop){TREE_PROP_MODE, "755"};
	if (n->r.symlink)
		props[np++] =
		    (struct drive_prop){TREE_PROP_SYMLINK, n->r.symlink};
	if (n->r.by_drivefs)
		props[np++] = (struct drive_prop){
		    TREE_PROP_HOST, n->r.by_us && t->host ? t->host : "?"};
	f->name = strdup(n->r.name);
	f->mime_type = strdup(mime);
	if (!f->name || !f->mime_type)
		return -ENOMEM;
	if (np) {
		f->app_props = calloc(np, sizeof(*f->app_props));
		if (!f->app_props)
			return -ENOMEM;
	}
	for (size_t i = 0; i < np; i++) {
		f->app_props[i].key = strdup(props[i].key);
		f->app_props[i].value = strdup(props[i].value);
		f->n_app_props = i + 1;
		if (!f->app_props[i].key || !f->app_props[i].value)
			return -ENOMEM;
	}
	return 0;
}

static bool wanted(const struct tree *t, const struct node *n)
{
	return n != t->root && n->id[0] && n->r.exists && n->r.name &&
	       n->r.parent[0];
}

/*
 * @n's cache file holds all of Drive's current version of it and nothing
 * else is going on with it: the next run may keep the file (SNAP_CACHED).
 * Partly cached files are not kept.
 */
static bool bytes_kept(const struct node *n)
{
	return n->kind == NODE_FILE && n->c.has_file && !n->c.dirty &&
	       !n->c.orphan && !n->c.evicting && !n->c.fetching.n &&
	       !n->c.open_writers && !list_linked(&n->s.pending) &&
	       !n->s.in_flight && !n->l.deleted && n->l.size > 0 &&
	       n->l.size == n->r.size && n->c.md5[0] &&
	       !strcmp(n->c.md5, n->r.md5) && tree_content_whole_locked(n);
}

/* Copy the tree's remote view into *@out (tree lock held). */
static int collect_locked(struct cache *c, struct snap_head *h,
			  struct snap_node **out, size_t *outn)
{
	struct tree *t = &c->t;
	struct list_head *pos;
	struct snap_node *v;
	size_t n = 0, cap = t->by_ino.count;
	int rc = 0;

	*out = NULL;
	*outn = 0;
	v = calloc(cap ? cap : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	/* Files with kept bytes first, in LRU order (oldest first)... */
	list_for_each(pos, &t->lru)
	{
		struct node *x = list_entry(pos, struct node, c.lru);

		if (rc < 0 || !wanted(t, x) || !bytes_kept(x) || n == cap)
			continue;
		v[n].lru = n + 1;
		rc = node_record_locked(t, x, &v[n]);
		n++;
	}
	/* ...then the others. */
	for (size_t b = 0; b < t->by_ino.nbuckets && rc == 0; b++) {
		struct hmap_node *hn;

		for (hn = t->by_ino.buckets[b]; hn && rc == 0; hn = hn->next) {
			struct node *x = list_entry(hn, struct node, by_ino);

			if (!wanted(t, x) || n == cap ||
			    (list_linked(&x->c.lru) && bytes_kept(x)))
				continue;
			rc = node_record_locked(t, x, &v[n]);
			n++;
		}
	}
	if (rc < 0) {
		snap_nodes_free(v, n);
		return rc;
	}
	snprintf(h->root_id, sizeof(h->root_id), "%s", t->root->id);
	h->root_listed = t->root->listed;
	h->next_ino = t->next_ino;
	*out = v;
	*outn = n;
	return 0;
}

int snapshot_write(struct cache *c)
{
	struct snap_head h;
	struct snap_node *v = NULL;
	uint8_t *buf = NULL;
	size_t n = 0, len = 0;
	int dirfd = -1, fd = -1, rc;

	if (!c->o.account || !c->o.account[0] || !c->started)
		return 0;
	memset(&h, 0, sizeof(h));
	if (!cache_poll_token(c, h.token, sizeof(h.token)))
		return 0; /* no feed position: a snapshot could not catch up */
	snprintf(h.account, sizeof(h.account), "%s", c->o.account);
	pthread_mutex_lock(&c->about_lock);
	snprintf(h.email, sizeof(h.email), "%s", c->about.email);
	pthread_mutex_unlock(&c->about_lock);
	h.wall_ms = clock_wall_ms();
	tree_lock(&c->t);
	rc = collect_locked(c, &h, &v, &n);
	c->snap_changes = c->t.changes;
	tree_unlock(&c->t);
	if (rc == 0)
		rc = snap_encode(&h, v, n, &buf, &len);
	snap_nodes_free(v, n);
	if (rc < 0)
		goto out;
	dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0) {
		rc = -errno;
		goto out;
	}
	fd = openat(dirfd, SNAP_TMP, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		    0600);
	if (fd < 0) {
		rc = -errno;
		goto out;
	}
	rc = io_write_all(fd, buf, len);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	if (rc == 0 && renameat(dirfd, SNAP_TMP, dirfd, SNAP_FILE) < 0)
		rc = -errno;
	if (rc == 0 && fsync(dirfd) < 0)
		rc = -errno;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && dirfd >= 0)
		unlinkat(dirfd, SNAP_TMP, 0);
	if (dirfd >= 0)
		close(dirfd);
	free(buf);
	if (rc < 0)
		log_info(SUB,
			 "writing the metadata snapshot failed: %s (the next "
			 "mount lists from Drive)",
			 strerror(-rc));
	else
		log_debug(SUB,
			  "wrote the metadata snapshot: %zu nodes, %zu "
			  "bytes",
			  n, len);
	c->snap_ms = clock_mono_ms();
	return rc;
}

void snapshot_tick(struct cache *c)
{
	int64_t now = clock_mono_ms();
	int64_t period = c->o.snapshot_period_ms > 0 ? c->o.snapshot_period_ms
						     : SNAP_PERIOD_MS;
	int64_t idle = MIN(SNAP_IDLE_MS, period / 4);
	uint64_t changes;

	tree_lock(&c->t);
	changes = c->t.changes;
	tree_unlock(&c->t);
	if (changes != c->seen_changes) {
		c->seen_changes = changes;
		c->seen_ms = now;
	}
	/* Something changed since the last write, and the tree has been
	 * quiet for a while (or busy for a long time). */
	if (changes == c->snap_changes || now - c->snap_ms < period ||
	    (now - c->seen_ms < idle && now - c->snap_ms < 3 * period))
		return;
	snapshot_write(c);
}

/* ---- loading ---- */

static int by_parent(const void *a, const void *b)
{
	const struct snap_node *x = a, *y = b;

	return strcmp(x->f.parent, y->f.parent);
}

/* First record whose parent is @id (sorted by parent), or @n. */
static size_t first_child(const struct snap_node *v, size_t n, const char *id)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(v[mid].f.parent, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Apply @v to the fresh tree, folder by folder from the root. */
static int apply_locked(struct cache *c, struct snap_node *v, size_t n,
			const struct snap_head *h, size_t *placed)
{
	struct tree *t = &c->t;
	struct node **queue = calloc(n + 1, sizeof(*queue));
	uint64_t next = MAX(t->next_ino, h->next_ino);
	size_t qh = 0, qt = 0;
	int rc = 0;

	*placed = 0;
	if (!queue)
		return -ENOMEM;
	qsort(v, n, sizeof(*v), by_parent);
	queue[qt++] = t->root;
	while (qh < qt && rc == 0) {
		struct node *dir = queue[qh++];

		for (size_t i = first_child(v, n, dir->id);
		     i < n && !strcmp(v[i].f.parent, dir->id); i++) {
			struct node *x;

			if (tree_get_locked(t, v[i].ino) ||
			    tree_by_id_locked(t, v[i].f.id))
				continue; /* a duplicate: keep the first */
			t->next_ino = v[i].ino;
			rc = tree_apply_listed_locked(t, dir, &v[i].f);
			next = MAX(next, v[i].ino + 1);
			t->next_ino = next;
			if (rc < 0)
				break;
			x = tree_by_id_locked(t, v[i].f.id);
			if (!x)
				continue;
			(*placed)++;
			if (x->kind == NODE_DIR) {
				x->listed = v[i].flags & SNAP_LISTED;
				queue[qt++] = x;
			}
		}
		if (rc == 0)
			rc = tree_assign_names_locked(t, dir);
		tree_settle_shortcuts_locked(t, dir);
	}
	t->root->listed = h->root_listed;
	free(queue);
	return rc;
}

/*
 * Unlocked, before the records are applied: a file recorded SNAP_CACHED
 * keeps the flag only if its cache file is a regular file of the
 * recorded size (missing, cut short or grown: downloaded as usual).
 */
static void check_cached_files(int dirfd, struct snap_node *v, size_t n)
{
	int cfd = openat(dirfd, "content", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	for (size_t i = 0; i < n; i++) {
		char name[32];
		struct stat st;

		if (!(v[i].flags & SNAP_CACHED))
			continue;
		snprintf(name, sizeof(name), "%" PRIu64, v[i].ino);
		if (cfd < 0 ||
		    fstatat(cfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode) || st.st_size != v[i].f.size) {
			log_debug(SUB,
				  "cached file of inode %" PRIu64
				  " is missing or not of its size: not kept",
				  v[i].ino);
			v[i].flags &= ~(uint32_t)SNAP_CACHED;
		}
	}
	if (cfd >= 0)
		close(cfd);
}

static int by_lru(const void *a, const void *b)
{
	const struct snap_node *x = *(const struct snap_node *const *)a;
	const struct snap_node *y = *(const struct snap_node *const *)b;

	return x->lru < y->lru ? -1 : x->lru > y->lru;
}

/*
 * After apply_locked(): the nodes of records still SNAP_CACHED get their
 * bytes back, all present, unverified (fetch_verify_kept_locked() checks
 * them before their first use), on the LRU in their old order.
 */
static int keep_bytes_locked(struct cache *c, struct snap_node *v, size_t n)
{
	struct tree *t = &c->t;
	struct snap_node **k = calloc(n ? n : 1, sizeof(*k));
	size_t nk = 0;
	int rc = 0;

	if (!k)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++)
		if (v[i].flags & SNAP_CACHED)
			k[nk++] = &v[i];
	qsort(k, nk, sizeof(*k), by_lru);
	for (size_t i = 0; i < nk && rc == 0; i++) {
		struct snap_node *x = k[i];
		struct node *nd = tree_get_locked(t, x->ino);

		/* The node the record made, as the record has it; not one
		 * the journal has dirty bytes of (written after this
		 * snapshot: those bytes are the journal's, never evicted
		 * or checked against Drive). */
		if (journal_keeps(c->j, x->ino))
			continue;
		if (!nd || nd->kind != NODE_FILE || strcmp(nd->id, x->f.id) ||
		    nd->l.size != x->f.size || nd->c.present.n ||
		    strcmp(nd->r.md5, x->cached_md5))
			continue;
		rc = ranges_add(&nd->c.present, 0, nd->l.size);
		if (rc < 0)
			break;
		memcpy(nd->c.md5, x->cached_md5, sizeof(nd->c.md5));
		nd->c.has_file = true;
		nd->c.unverified = true;
		store_account_locked(t, nd);
		c->kept_files++;
		c->kept_bytes += nd->l.size;
	}
	free(k);
	return rc;
}

int snapshot_load(struct cache *c)
{
	struct snap_head h;
	struct snap_node *v = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, n = 0, placed = 0;
	const char *why = NULL;
	int dirfd, fd, rc = 0, drc;

	if (!c->o.account || !c->o.account[0])
		return 0; /* not asked for (unit tests) */
	dirfd = open(c->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return -errno;
	fd = openat(dirfd, SNAP_FILE, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			log_warn(SUB, "reading '%s/%s' failed: %s", c->dir,
				 SNAP_FILE, strerror(errno));
		close(dirfd);
		return 0;
	}
	drc = io_read_all(fd, SNAP_FILE_MAX, &buf, &len);
	if (drc == -ENOMEM) {
		rc = -ENOMEM;
		goto out;
	}
	if (drc < 0 || !len) {
		why = "empty or unreadable";
		goto reject;
	}
	drc = snap_decode(buf, len, &h, &v, &n);
	if (drc == -ENOMEM) {
		rc = -ENOMEM;
		goto out;
	}
	if (drc == -EPROTO) {
		why = "written by another version";
		goto reject;
	}
	if (drc < 0) {
		why = "torn or damaged";
		goto reject;
	}
	if (!snap_head_matches(&h, c->o.account, c->t.root->id)) {
		why = "of another account or root folder";
		goto reject;
	}
	check_cached_files(dirfd, v, n);
	tree_lock(&c->t);
	rc = apply_locked(c, v, n, &h, &placed);
	if (rc == 0)
		rc = keep_bytes_locked(c, v, n);
	tree_unlock(&c->t);
	if (rc < 0)
		goto out;
	snprintf(c->snap_token, sizeof(c->snap_token), "%s", h.token);
	if (!c->about.email[0])
		snprintf(c->about.email, sizeof(c->about.email), "%s", h.email);
	log_info(SUB,
		 "loaded the metadata snapshot: %zu of %zu entries, written "
		 "%" PRId64 " s ago",
		 placed, n, (clock_wall_ms() - h.wall_ms) / 1000);
	if (c->kept_files)
		log_info(SUB,
			 "kept %zu cached files (%" PRId64 " bytes) of the "
			 "last run: each is checked against Drive's md5 "
			 "before its first use",
			 c->kept_files, c->kept_bytes);
	goto out;
reject:
	log_warn(SUB,
		 "ignored the metadata snapshot in '%s' (%s): listing "
		 "from Drive",
		 c->dir, why);
	unlinkat(dirfd, SNAP_FILE, 0);
out:
	close(fd);
	close(dirfd);
	free(buf);
	snap_nodes_free(v, n);
	return rc;
}
