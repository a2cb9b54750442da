/*
 * The journal of the pending set (journal.h; INTERNALS.md "Journal").
 *
 * Writers: journal_note_locked() runs under the tree lock from place_locked()
 * (sync.c), so every change of a node's pending state is seen; it encodes a
 * PUT (or a DONE) into j->buf and bumps j->appended. Records are skipped
 * when they equal the last one of the node (n->s.jhash), and, while a file
 * is open for writing and stays dirty, when only its size and mtime moved:
 * the close (or fsync) writes the final one, and replay takes the size from
 * the cache file anyway.
 *
 * Two levels: WRITTEN (in the journal file, so in the page cache: kill -9
 * of the daemon loses nothing) and DURABLE (fdatasync'ed: a power cut loses
 * nothing). journal_commit() waits until j->written covers what was
 * appended when it was called (j->durable with --journal-sync);
 * journal_sync() until j->durable does. If nobody is writing, the caller
 * becomes the flusher: it takes the whole buffer (its own records and
 * everybody's who came meanwhile), drops the lock, writes the records,
 * relocks and wakes the others. A syncing flusher first fdatasyncs the
 * cache files whose dirty bytes the records claim (those written earlier
 * too; syncfs() of the cache filesystem when there are more than
 * JOURNAL_CLAIMS of them), then writes, then fdatasyncs the journal. The
 * drivefs-journal thread syncs every JOURNAL_SYNC_MS, so a record is
 * durable within a second. A failed write keeps the records for the next
 * try and fails the operations that waited (nothing is acknowledged that
 * is not written).
 *
 * Compaction: when the file passes JOURNAL_COMPACT_MIN and four times the
 * last snapshot, the flusher takes the tree lock, encodes every pending
 * node (and the carried records, below) as a snapshot, drops the buffer
 * (the snapshot covers it), writes journal.new, fdatasyncs, renames it over
 * journal and fsyncs the folder. On failure the dropped buffer is written
 * to the old file as usual.
 *
 * Recovery keeps the last record per inode; a node whose folder cannot be
 * found (offline at start, folder gone) is not rebuilt but CARRIED: its
 * record goes into every snapshot until a later start can place it.
 */
#include "common/compat.h"

#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

#include "cache/cache_i.h"
#include "cache/journal.h"
#include "cache/snapshot.h"
#include "common/clock.h"
#include "common/io.h"
#include "common/log.h"

#define SUB "journal"
#define JOURNAL_COMPACT_MIN (1 << 20)
#define JOURNAL_SYNC_MS 1000
#define RESOLVE_DEPTH_MAX 64

struct jraw {
	uint64_t ino;
	size_t seq; /* order in the file */
	uint8_t *p; /* payload, owned */
	size_t len;
};

/* Cache files whose bytes records in a batch claim. */
#define JOURNAL_CLAIMS 16
struct claims {
	uint64_t ino[JOURNAL_CLAIMS];
	size_t n;
	bool all; /* too many: syncfs() */
};

static void claims_add(struct claims *cl, uint64_t ino)
{
	for (size_t i = 0; i < cl->n; i++)
		if (cl->ino[i] == ino)
			return;
	if (cl->n < JOURNAL_CLAIMS)
		cl->ino[cl->n++] = ino;
	else
		cl->all = true;
}

static void claims_merge(struct claims *to, const struct claims *from)
{
	to->all |= from->all;
	for (size_t i = 0; i < from->n; i++)
		claims_add(to, from->ino[i]);
}

struct journal {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int fd, dirfd;
	struct cache *c; /* set by journal_recover() */

	/* Protected by lock. */
	uint8_t *buf; /* records noted, not yet written */
	size_t len, cap;
	/* Record sequence numbers: noted, in the file, fdatasync'ed. */
	uint64_t appended, written, durable;
	bool flushing;
	bool sync_each;	       /* --journal-sync: commit = sync */
	struct claims claims;  /* bytes the records in buf claim */
	struct claims wclaims; /* ... and those written, not yet synced */
	int64_t file_size, snap_size;
	bool stop;
	uint64_t flushes; /* fdatasyncs of the journal (group commits) */

	/* Loaded at open: live PUT records, by inode (sorted). Then the
	 * ones recovery could not place (carried into every snapshot). */
	struct jraw *live;
	size_t n_live;
	struct jraw *carry;
	size_t n_carry;
	size_t torn_bytes;

	pthread_t thread;
	bool thread_started;
};

/* ---- the record format (pure) ---- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool bad;
};

static void put_bytes(struct wbuf *w, const void *s, size_t n)
{
	if (w->bad || w->len + n > w->cap) {
		w->bad = true;
		return;
	}
	memcpy(w->p + w->len, s, n);
	w->len += n;
}

static void put_u64(struct wbuf *w, uint64_t v)
{
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_bytes(w, b, 8);
}

static void put_u32(struct wbuf *w, uint32_t v)
{
	uint8_t b[4];

	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	put_bytes(w, b, 4);
}

static void put_str(struct wbuf *w, const char *s)
{
	size_t n = s ? strlen(s) : 0;

	if (n > JOURNAL_STR_MAX) {
		w->bad = true;
		return;
	}
	put_u32(w, (uint32_t)n);
	put_bytes(w, s ? s : "", n);
	put_bytes(w, "", 1);
}

static uint32_t check_of(const uint8_t *payload, size_t len)
{
	return (uint32_t)XXH3_64bits_withSeed(payload, len, (uint64_t)len);
}

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

size_t journal_rec_encode(const struct jrec *r, uint8_t *buf, size_t cap)
{
	struct wbuf w = {buf, 0, cap, false};
	uint8_t tk[2] = {r->type, r->kind};
	size_t plen;

	put_u64(&w, 0); /* header, filled below */
	put_bytes(&w, tk, 2);
	put_u64(&w, r->ino);
	if (r->type == JREC_PUT) {
		put_u32(&w, r->flags);
		put_u64(&w, r->parent_ino);
		put_str(&w, r->parent_id);
		put_str(&w, r->id);
		put_str(&w, r->name);
		put_str(&w, r->symlink);
		put_str(&w, r->r_parent);
		put_str(&w, r->r_name);
		put_str(&w, r->r_md5);
		put_str(&w, r->r_symlink);
		put_str(&w, r->mime);
		put_str(&w, r->shortcut);
		put_u64(&w, (uint64_t)r->r_version);
		put_u64(&w, (uint64_t)r->r_size);
		put_u64(&w, (uint64_t)r->r_mtime_ms);
		put_u64(&w, (uint64_t)r->created_ms);
		put_u64(&w, (uint64_t)r->size);
		put_u64(&w, (uint64_t)r->mtime_s);
		put_u64(&w, (uint64_t)r->mtime_ns);
	}
	if (w.bad)
		return 0;
	plen = w.len - JOURNAL_HDR;
	if (plen > JOURNAL_REC_MAX)
		return 0;
	w.len = 0;
	put_u32(&w, (uint32_t)plen);
	put_u32(&w, check_of(buf + JOURNAL_HDR, plen));
	return plen + JOURNAL_HDR;
}

struct rbuf {
	const uint8_t *p;
	size_t len, off;
	bool bad;
};

static uint64_t get_u64(struct rbuf *r)
{
	uint64_t v = 0;

	if (r->bad || r->len - r->off < 8) {
		r->bad = true;
		return 0;
	}
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | r->p[r->off + (size_t)i];
	r->off += 8;
	return v;
}

static const char *get_str(struct rbuf *r)
{
	const char *s;
	uint32_t n;

	if (r->bad || r->len - r->off < 4) {
		r->bad = true;
		return "";
	}
	n = get_u32(r->p + r->off);
	r->off += 4;
	if (n > JOURNAL_STR_MAX || r->len - r->off < (size_t)n + 1 ||
	    r->p[r->off + n] != '\0' || memchr(r->p + r->off, 0, n)) {
		r->bad = true;
		return "";
	}
	s = (const char *)r->p + r->off;
	r->off += (size_t)n + 1;
	return s;
}

int journal_rec_decode(const uint8_t *payload, size_t len, struct jrec *out)
{
	struct rbuf r = {payload, len, 0, false};

	memset(out, 0, sizeof(*out));
	if (len < 10)
		return -EINVAL;
	out->type = payload[0];
	out->kind = payload[1];
	r.off = 2;
	out->ino = get_u64(&r);
	if (out->type == JREC_DONE)
		return r.bad || r.off != len || !out->ino ? -EINVAL : 0;
	if (out->type != JREC_PUT || out->kind > NODE_NATIVE)
		return -EINVAL;
	if (r.len - r.off < 4)
		return -EINVAL;
	out->flags = get_u32(payload + r.off);
	r.off += 4;
	out->parent_ino = get_u64(&r);
	out->parent_id = get_str(&r);
	out->id = get_str(&r);
	out->name = get_str(&r);
	out->symlink = get_str(&r);
	out->r_parent = get_str(&r);
	out->r_name = get_str(&r);
	out->r_md5 = get_str(&r);
	out->r_symlink = get_str(&r);
	out->mime = get_str(&r);
	out->shortcut = get_str(&r);
	out->r_version = (int64_t)get_u64(&r);
	out->r_size = (int64_t)get_u64(&r);
	out->r_mtime_ms = (int64_t)get_u64(&r);
	out->created_ms = (int64_t)get_u64(&r);
	out->size = (int64_t)get_u64(&r);
	out->mtime_s = (int64_t)get_u64(&r);
	out->mtime_ns = (int64_t)get_u64(&r);
	if (r.bad || r.off != len || !out->ino)
		return -EINVAL;
	if (strlen(out->id) > DRIVE_ID_MAX ||
	    strlen(out->parent_id) > DRIVE_ID_MAX ||
	    strlen(out->r_parent) > DRIVE_ID_MAX ||
	    strlen(out->r_md5) > DRIVE_MD5_HEX ||
	    strlen(out->shortcut) > DRIVE_ID_MAX || out->size < 0 ||
	    out->mtime_ns < 0 || out->mtime_ns >= 1000000000)
		return -EINVAL;
	return 0;
}

long journal_scan(const uint8_t *buf, size_t len, journal_scan_cb cb, void *ctx,
		  size_t *good, size_t *ignored)
{
	size_t off = JOURNAL_MAGIC_LEN;
	long n = 0;

	*good = 0;
	*ignored = len;
	if (len < JOURNAL_MAGIC_LEN ||
	    memcmp(buf, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN))
		return len ? -EINVAL : 0;
	while (len - off >= JOURNAL_HDR) {
		uint32_t plen = get_u32(buf + off);
		uint32_t check = get_u32(buf + off + 4);
		const uint8_t *p = buf + off + JOURNAL_HDR;
		struct jrec r;
		int rc;

		if (plen > JOURNAL_REC_MAX || len - off - JOURNAL_HDR < plen ||
		    check_of(p, plen) != check ||
		    journal_rec_decode(p, plen, &r) < 0)
			break;
		if (cb) {
			rc = cb(ctx, p, plen);
			if (rc < 0)
				return rc;
		}
		off += JOURNAL_HDR + plen;
		n++;
	}
	*good = off;
	*ignored = len - off;
	return n;
}

/* ---- loading ---- */

struct load_ctx {
	struct jraw *v;
	size_t n, cap;
};

static int load_one(void *ctx, const uint8_t *payload, size_t len)
{
	struct load_ctx *l = ctx;
	struct jrec r;

	journal_rec_decode(payload, len, &r); /* checked by the scan */
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct jraw *v = realloc(l->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].p = malloc(len);
	if (!l->v[l->n].p)
		return -ENOMEM;
	memcpy(l->v[l->n].p, payload, len);
	l->v[l->n].len = len;
	l->v[l->n].ino = r.ino;
	l->v[l->n].seq = l->n;
	l->n++;
	return 0;
}

static int raw_cmp(const void *a, const void *b)
{
	const struct jraw *x = a, *y = b;

	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* Keep the last record per inode, and only if it is a PUT. */
static void keep_last(struct journal *j, struct load_ctx *l)
{
	size_t k = 0;

	if (l->n)
		qsort(l->v, l->n, sizeof(*l->v), raw_cmp);
	for (size_t i = 0; i < l->n; i++) {
		bool last = i + 1 == l->n || l->v[i + 1].ino != l->v[i].ino;

		if (last && l->v[i].p[0] == JREC_PUT)
			l->v[k++] = l->v[i];
		else
			free(l->v[i].p);
	}
	j->live = l->v;
	j->n_live = k;
}

int journal_open(const char *dir, bool sync_each, struct journal **out)
{
	struct journal *j = calloc(1, sizeof(*j));
	struct load_ctx l = {0};
	uint8_t *data = NULL;
	size_t len = 0, good = 0, ignored = 0;
	long n;
	int rc;

	*out = NULL;
	if (!j)
		return -ENOMEM;
	pthread_mutex_init(&j->lock, NULL);
	pthread_cond_init(&j->cond, NULL);
	j->sync_each = sync_each;
	j->fd = -1;
	j->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (j->dirfd < 0) {
		rc = -errno;
		goto fail;
	}
	j->fd = openat(j->dirfd, "journal", O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (j->fd < 0) {
		rc = -errno;
		goto fail;
	}
	rc = io_read_all(j->fd, SIZE_MAX, &data, &len);
	if (rc < 0)
		goto fail;
	n = journal_scan(data, len, load_one, &l, &good, &ignored);
	if (n == -ENOMEM) {
		rc = -ENOMEM;
		goto fail;
	}
	if (n == -EINVAL)
		log_warn(SUB,
			 "the journal of '%s' is not one this version "
			 "writes (%zu bytes): ignored",
			 dir, len);
	else if (ignored)
		log_warn(SUB,
			 "ignored %zu bytes of a torn or damaged journal tail "
			 "after %ld good records",
			 ignored, n);
	j->torn_bytes = ignored;
	keep_last(j, &l);
	l.v = NULL;
	j->file_size = (int64_t)good;
	free(data);
	data = NULL;
	/* Drop the torn tail now: new records must follow good ones. */
	if (good < JOURNAL_MAGIC_LEN) {
		if (ftruncate(j->fd, 0) < 0 ||
		    pwrite(j->fd, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN, 0) !=
			JOURNAL_MAGIC_LEN) {
			rc = -errno;
			goto fail;
		}
		j->file_size = JOURNAL_MAGIC_LEN;
	} else if (ignored && ftruncate(j->fd, (off_t)good) < 0) {
		rc = -errno;
		goto fail;
	}
	if (lseek(j->fd, j->file_size, SEEK_SET) < 0 || fdatasync(j->fd) < 0) {
		rc = -errno;
		goto fail;
	}
	*out = j;
	return 0;
fail:
	for (size_t i = 0; i < l.n; i++)
		free(l.v[i].p);
	free(l.v);
	free(data);
	journal_free(j);
	return rc;
}

static const struct jraw *live_find(const struct journal *j, uint64_t ino)
{
	size_t lo = 0, hi = j->n_live;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (j->live[mid].ino == ino)
			return &j->live[mid];
		if (j->live[mid].ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

bool journal_keeps(const struct journal *j, uint64_t ino)
{
	const struct jraw *r = j ? live_find(j, ino) : NULL;
	struct jrec rec;

	return r && journal_rec_decode(r->p, r->len, &rec) == 0 &&
	       (rec.flags & JF_DIRTY);
}

uint64_t journal_max_ino(const struct journal *j)
{
	return j->n_live ? j->live[j->n_live - 1].ino : 0;
}

/* ---- noting state ---- */

static void rec_of_locked(const struct node *n, struct jrec *r)
{
	const struct node *p = n->l.parent;

	memset(r, 0, sizeof(*r));
	r->type = JREC_PUT;
	r->ino = n->ino;
	r->kind = (uint8_t)n->kind;
	r->flags =
	    (n->l.deleted ? JF_DELETED : 0) | (n->c.dirty ? JF_DIRTY : 0) |
	    (n->l.exec ? JF_EXEC : 0) | (n->r.exists ? JF_REXISTS : 0) |
	    (n->r.exec ? JF_REXEC : 0) | (n->s.placed_here ? JF_PLACED : 0) |
	    (n->l.local_only ? JF_LOCAL_ONLY : 0) |
	    (n->l.symlink ? JF_SYMLINK : 0) | (n->r.symlink ? JF_RSYMLINK : 0);
	r->parent_ino = p ? p->ino : 0;
	r->parent_id = p ? p->id : "";
	r->id = n->id;
	r->name = n->l.name ? n->l.name : "";
	r->symlink = n->l.symlink;
	r->r_parent = n->r.parent;
	r->r_name = n->r.name;
	r->r_md5 = n->r.md5;
	r->r_symlink = n->r.symlink;
	r->mime = n->l.mime;
	r->shortcut = n->l.shortcut;
	r->r_version = n->r.version;
	r->r_size = n->r.size;
	r->r_mtime_ms = n->r.mtime_ms;
	r->created_ms = n->l.created_ms;
	r->size = n->l.size;
	r->mtime_s = n->l.mtime.tv_sec;
	r->mtime_ns = n->l.mtime.tv_nsec;
}

static bool reserve_locked(struct journal *j, size_t more)
{
	if (j->len + more <= j->cap)
		return true;
	size_t cap = MAX(j->cap * 2, j->len + more + 4096);
	uint8_t *b = realloc(j->buf, cap);

	if (!b)
		return false;
	j->buf = b;
	j->cap = cap;
	return true;
}

/* Append to the buffer what @n asks for; j->lock held. */
static void note_jlocked(struct journal *j, struct node *n, bool snapshot,
			 bool final)
{
	bool pending = list_linked(&n->s.pending);
	struct jrec r;
	uint64_t full, meta;
	uint8_t *at;
	size_t len;

	if (!pending) {
		if (!n->s.journaled)
			return;
		memset(&r, 0, sizeof(r));
		r.type = JREC_DONE;
		r.ino = n->ino;
	} else {
		rec_of_locked(n, &r);
	}
	if (!reserve_locked(j, JOURNAL_REC_MAX + JOURNAL_HDR)) {
		log_err(SUB, "journaling '%s': out of memory",
			tree_name_for_log(n));
		return;
	}
	at = j->buf + j->len;
	len = journal_rec_encode(&r, at, JOURNAL_REC_MAX + JOURNAL_HDR);
	if (!len) {
		log_err(SUB, "'%s' (inode %" PRIu64 ") is too large to journal",
			tree_name_for_log(n), n->ino);
		return;
	}
	if (!pending) {
		n->s.journaled = false;
		n->s.jhash = n->s.jmeta = 0;
	} else {
		full = XXH3_64bits(at + JOURNAL_HDR, len - JOURNAL_HDR);
		meta = XXH3_64bits(at + JOURNAL_HDR, len - JOURNAL_HDR - 24);
		if (!snapshot && n->s.journaled &&
		    (full == n->s.jhash || (!final && n->c.open_writers &&
					    n->c.dirty && meta == n->s.jmeta)))
			return; /* nothing new (or only size/mtime) */
		n->s.journaled = true;
		n->s.jhash = full;
		n->s.jmeta = meta;
		if (n->c.dirty && n->l.size > 0)
			claims_add(&j->claims, n->ino);
	}
	j->len += len;
	j->appended++;
}

void journal_note_locked(struct cache *c, struct node *n)
{
	struct journal *j = c->j;

	if (!j || n == c->t.root)
		return;
	pthread_mutex_lock(&j->lock);
	note_jlocked(j, n, false, false);
	pthread_mutex_unlock(&j->lock);
}

void journal_note_final_locked(struct cache *c, struct node *n)
{
	struct journal *j = c->j;

	if (!j || n == c->t.root)
		return;
	pthread_mutex_lock(&j->lock);
	note_jlocked(j, n, false, true);
	pthread_mutex_unlock(&j->lock);
}

/* ---- writing ---- */

/* Make the bytes @cl claims durable: they go before the records. */
static int sync_claims(struct journal *j, const struct claims *cl)
{
	char name[48];
	int rc;

	if (cl->all)
		return syncfs(j->dirfd) < 0 ? -errno : 0;
	for (size_t i = 0; i < cl->n; i++) {
		int fd;

		snprintf(name, sizeof(name), "content/%" PRIu64, cl->ino[i]);
		fd = openat(j->dirfd, name, O_RDONLY | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT)
			continue; /* gone since: nothing to claim */
		if (fd < 0)
			return -errno;
		rc = fdatasync(fd) < 0 ? -errno : 0;
		close(fd);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/*
 * Write @p (n bytes) at the end of the journal; with @sync, the bytes @cl
 * claims first and an fdatasync after (@cl covers the records written
 * before too: they become durable with these).
 */
static int write_records(struct journal *j, const struct claims *cl,
			 const uint8_t *p, size_t n, bool sync)
{
	int rc = sync ? sync_claims(j, cl) : 0;

	if (rc == 0)
		rc = io_write_all(j->fd, p, n);
	if (rc == 0 && sync && fdatasync(j->fd) < 0)
		rc = -errno;
	return rc;
}

/* The snapshot of the live pending set, into a new buffer; the cache
 * files whose dirty bytes it claims into @cl. */
static int snapshot_locked(struct journal *j, struct cache *c, uint8_t **out,
			   size_t *outlen, struct claims *cl)
{
	struct list_head *pos;
	uint8_t *save_buf = j->buf;
	size_t save_len = j->len, save_cap = j->cap;
	uint64_t save_app = j->appended;
	struct claims save_cl = j->claims;
	int rc = 0;

	/* Encode through the append path into a fresh buffer. */
	j->buf = NULL;
	j->len = j->cap = 0;
	memset(&j->claims, 0, sizeof(j->claims));
	/* Carried records may claim bytes of files we cannot name here. */
	j->claims.all = j->n_carry > 0;
	if (!reserve_locked(j, JOURNAL_MAGIC_LEN)) {
		rc = -ENOMEM;
		goto out;
	}
	memcpy(j->buf, JOURNAL_MAGIC, JOURNAL_MAGIC_LEN);
	j->len = JOURNAL_MAGIC_LEN;
	list_for_each(pos, &c->t.pending)
	{
		struct node *n = list_entry(pos, struct node, s.pending);

		note_jlocked(j, n, true, true);
	}
	for (size_t i = 0; i < j->n_carry; i++) {
		struct jraw *r = &j->carry[i];

		if (!reserve_locked(j, r->len + JOURNAL_HDR)) {
			rc = -ENOMEM;
			goto out;
		}
		memcpy(j->buf + j->len + JOURNAL_HDR, r->p, r->len);
		{
			struct wbuf w = {j->buf + j->len, 0, JOURNAL_HDR, 0};

			put_u32(&w, (uint32_t)r->len);
			put_u32(&w, check_of(r->p, r->len));
		}
		j->len += JOURNAL_HDR + r->len;
	}
out:
	*out = j->buf;
	*outlen = j->len;
	*cl = j->claims;
	if (rc < 0)
		free(j->buf);
	j->buf = save_buf;
	j->len = save_len;
	j->cap = save_cap;
	j->appended = save_app;
	j->claims = save_cl;
	return rc;
}

/*
 * Rewrite the journal as a snapshot. Called by the flusher (j->flushing
 * set) with no lock held. On failure nothing changes.
 */
static int compact(struct journal *j, struct cache *c)
{
	uint8_t *snap = NULL, *old = NULL;
	size_t snap_len = 0, old_len = 0;
	uint64_t upto = 0;
	struct claims cl = {{0}, 0, false}, snap_cl;
	int fd = -1, rc;

	tree_lock(&c->t);
	pthread_mutex_lock(&j->lock);
	rc = snapshot_locked(j, c, &snap, &snap_len, &snap_cl);
	if (rc == 0) {
		/* The snapshot covers what was noted: take it out. */
		old = j->buf;
		old_len = j->len;
		cl = j->claims;
		j->buf = NULL;
		j->len = j->cap = 0;
		memset(&j->claims, 0, sizeof(j->claims));
		upto = j->appended;
	}
	pthread_mutex_unlock(&j->lock);
	tree_unlock(&c->t);
	if (rc < 0)
		return rc;
	fd = openat(j->dirfd, "journal.new",
		    O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	/* The bytes it claims first (not syncfs() of the whole disk when
	 * it claims none: other programs' dirty data is not ours to wait
	 * for, at every start and unmount). */
	rc = sync_claims(j, &snap_cl);
	if (rc < 0)
		goto fail;
	rc = io_write_all(fd, snap, snap_len);
	if (rc == 0 && fdatasync(fd) < 0)
		rc = -errno;
	if (rc == 0 &&
	    renameat(j->dirfd, "journal.new", j->dirfd, "journal") < 0)
		rc = -errno;
	if (rc == 0 && fsync(j->dirfd) < 0)
		rc = -errno;
	if (rc < 0)
		goto fail;
	if (lseek(fd, 0, SEEK_END) < 0) {
		rc = -errno;
		goto fail;
	}
	pthread_mutex_lock(&j->lock);
	close(j->fd);
	j->fd = fd;
	j->file_size = j->snap_size = (int64_t)snap_len;
	j->written = MAX(j->written, upto);
	j->durable = MAX(j->durable, upto);
	/* The snapshot replaced every record written, and its claims were
	 * synced above. */
	memset(&j->wclaims, 0, sizeof(j->wclaims));
	pthread_mutex_unlock(&j->lock);
	log_debug(SUB, "compacted the journal to %zu bytes", snap_len);
	free(snap);
	free(old);
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(j->dirfd, "journal.new", 0);
	log_warn(SUB, "compacting the journal failed: %s", strerror(-rc));
	free(snap);
	/* Write what the snapshot was to replace, the usual way. */
	pthread_mutex_lock(&j->lock);
	claims_merge(&cl, &j->wclaims);
	pthread_mutex_unlock(&j->lock);
	rc = write_records(j, &cl, old, old_len, true);
	pthread_mutex_lock(&j->lock);
	if (rc == 0) {
		j->file_size += (int64_t)old_len;
		j->written = MAX(j->written, upto);
		j->durable = MAX(j->durable, upto);
		memset(&j->wclaims, 0, sizeof(j->wclaims));
	} else if (reserve_locked(j, old_len)) {
		memmove(j->buf + old_len, j->buf, j->len);
		memcpy(j->buf, old, old_len);
		j->len += old_len;
		claims_merge(&j->claims, &cl);
	}
	pthread_mutex_unlock(&j->lock);
	free(old);
	return rc;
}

/*
 * One flush of the buffer, as the flusher: written, and with @sync durable
 * (with every record written before). j->lock held; dropped inside.
 */
static int flush_jlocked(struct journal *j, bool sync)
{
	uint8_t *b = j->buf;
	size_t n = j->len;
	uint64_t upto = j->appended;
	struct claims cl = j->claims;
	bool want_compact;
	int rc;

	j->flushing = true;
	j->buf = NULL;
	j->len = j->cap = 0;
	memset(&j->claims, 0, sizeof(j->claims));
	if (sync)
		claims_merge(&cl, &j->wclaims);
	pthread_mutex_unlock(&j->lock);
	rc = write_records(j, &cl, b, n, sync);
	pthread_mutex_lock(&j->lock);
	if (rc == 0) {
		j->file_size += (int64_t)n;
		j->written = upto;
		if (sync) {
			j->durable = upto;
			memset(&j->wclaims, 0, sizeof(j->wclaims));
			j->flushes++;
		} else {
			claims_merge(&j->wclaims, &cl);
		}
		free(b);
	} else {
		/* Keep them, in front of what came meanwhile. */
		if (ftruncate(j->fd, j->file_size) < 0 ||
		    lseek(j->fd, j->file_size, SEEK_SET) < 0)
			log_warn(SUB, "trimming the journal failed: %s",
				 strerror(errno));
		if (reserve_locked(j, n)) {
			memmove(j->buf + n, j->buf, j->len);
			memcpy(j->buf, b, n);
			j->len += n;
			claims_merge(&j->claims, &cl);
		}
		free(b);
		log_err(SUB, "writing the journal failed: %s", strerror(-rc));
	}
	want_compact = rc == 0 && j->c && j->file_size > JOURNAL_COMPACT_MIN &&
		       j->file_size > 4 * j->snap_size;
	if (want_compact) {
		pthread_mutex_unlock(&j->lock);
		compact(j, j->c);
		pthread_mutex_lock(&j->lock);
	}
	j->flushing = false;
	pthread_cond_broadcast(&j->cond);
	return rc;
}

/* Wait (or flush) until every record noted so far is written, and with
 * @sync durable. */
static int commit(struct journal *j, bool sync)
{
	uint64_t target;
	int rc = 0;

	if (!j)
		return 0;
	pthread_mutex_lock(&j->lock);
	sync |= j->sync_each;
	target = j->appended;
	while ((sync ? j->durable : j->written) < target) {
		if (j->flushing) {
			pthread_cond_wait(&j->cond, &j->lock);
			continue;
		}
		rc = flush_jlocked(j, sync);
		if (rc < 0)
			break;
	}
	pthread_mutex_unlock(&j->lock);
	return rc;
}

int journal_commit(struct journal *j)
{
	return commit(j, false);
}

int journal_sync(struct journal *j)
{
	return commit(j, true);
}

static void *journal_main(void *arg)
{
	struct journal *j = arg;

	pthread_setname_np(pthread_self(), "drivefs-journal");
	pthread_mutex_lock(&j->lock);
	while (!j->stop) {
		struct timespec ts;

		/* j->cond is broadcast after every flush: wait out the whole
		 * period, or this thread would sync after each commit. */
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += JOURNAL_SYNC_MS / 1000;
		while (!j->stop &&
		       pthread_cond_timedwait(&j->cond, &j->lock, &ts) !=
			   ETIMEDOUT)
			;
		if (j->stop)
			continue;
		if (j->c) {
			/* The tree lock comes before ours. */
			pthread_mutex_unlock(&j->lock);
			snapshot_tick(j->c);
			pthread_mutex_lock(&j->lock);
		}
		if (j->stop || j->flushing || j->durable >= j->appended)
			continue;
		flush_jlocked(j, true);
	}
	pthread_mutex_unlock(&j->lock);
	return NULL;
}

/* ---- recovery ---- */

struct rnode {
	struct jrec r;
	const struct jraw *raw;
	struct node *n; /* built, referenced */
	int state;	/* 0 not placed, 1 placing, 2 placed, 3 carried */
};

struct recov {
	struct cache *c;
	struct rnode *v;
	size_t n;
};

static struct rnode *rnode_of(struct recov *rv, uint64_t ino)
{
	for (size_t i = 0; i < rv->n; i++) /* small: pending work only */
		if (rv->v[i].r.ino == ino)
			return &rv->v[i];
	return NULL;
}

static int set_s(char **dst, const char *s, bool has)
{
	char *d = has ? strdup(s) : NULL;

	if (has && !d)
		return -ENOMEM;
	free(*dst);
	*dst = d;
	return 0;
}

/* Build the node of @x, unattached. Tree lock held. */
static int build_locked(struct cache *c, struct rnode *x)
{
	struct tree *t = &c->t;
	const struct jrec *r = &x->r;
	uint64_t next = t->next_ino;
	struct node *n = tree_get_locked(t, r->ino), *holder;

	/* Nodes the snapshot loaded (snapshot.h) are Drive's view; the
	 * journal's record says what this mount did with them since. A
	 * node already rebuilt from the journal is in flight. */
	if (n && n->s.in_flight)
		return -EEXIST;
	if (n && n->kind != (enum node_kind)r->kind) {
		tree_drop_subtree_locked(t, n, NULL, NULL); /* stale */
		n = tree_get_locked(t, r->ino);
		if (n)
			return -EEXIST;
	}
	holder = r->id[0] ? tree_by_id_locked(t, r->id) : NULL;
	if (holder && holder != n) {
		if (holder->s.in_flight)
			return -EEXIST;
		/* The id moved to this node after the snapshot (a rename
		 * over): the snapshot's holder of it is stale. */
		tree_drop_subtree_locked(t, holder, NULL, NULL);
		n = tree_get_locked(t, r->ino);
	}
	if (n) {
		tree_ref_locked(n);
		tree_detach_locked(t, n);
		tree_set_id_locked(t, n, "");
		n->c.orphan = false;
	} else {
		t->next_ino = r->ino;
		n = tree_node_new_locked(t, (enum node_kind)r->kind);
		t->next_ino = MAX(next, r->ino + 1);
		if (!n)
			return -ENOMEM;
		tree_ref_locked(n);
		n->listed = n->kind == NODE_DIR && !(r->flags & JF_REXISTS);
	}
	/* Until it is placed: a listing of its folder must not take its
	 * local state from Drive (tree_apply_listed_locked()). */
	n->s.in_flight = true;
	x->n = n;
	if (set_s(&n->l.name, r->name, true) < 0 ||
	    set_s(&n->l.symlink, r->symlink, r->flags & JF_SYMLINK) < 0 ||
	    set_s(&n->r.name, r->r_name, r->r_name[0] != '\0') < 0 ||
	    set_s(&n->r.symlink, r->r_symlink, r->flags & JF_RSYMLINK) < 0 ||
	    set_s(&n->l.mime, r->mime, r->mime[0] != '\0') < 0)
		return -ENOMEM;
	snprintf(n->l.shortcut, sizeof(n->l.shortcut), "%s", r->shortcut);
	if (r->id[0])
		tree_set_id_locked(t, n, r->id);
	n->l.deleted = r->flags & JF_DELETED;
	n->l.exec = r->flags & JF_EXEC;
	n->l.local_only = r->flags & JF_LOCAL_ONLY;
	n->l.size = r->size;
	n->l.mtime.tv_sec = r->mtime_s;
	n->l.mtime.tv_nsec = r->mtime_ns;
	n->l.ctime = n->l.mtime;
	n->l.created_ms = r->created_ms;
	n->r.exists = r->flags & JF_REXISTS;
	n->r.exec = r->flags & JF_REXEC;
	snprintf(n->r.parent, sizeof(n->r.parent), "%s", r->r_parent);
	snprintf(n->r.md5, sizeof(n->r.md5), "%s", r->r_md5);
	n->r.version = r->r_version;
	n->r.size = r->r_size;
	n->r.mtime_ms = r->r_mtime_ms;
	n->s.placed_here = r->flags & JF_PLACED;
	if (!n->r.exists)
		n->listed = n->kind == NODE_DIR;
	n->c.dirty = r->flags & JF_DIRTY;
	if (n->c.dirty)
		n->c.data_gen = 1;
	if (n->c.dirty && n->c.unverified) {
		/* The snapshot kept this file's clean bytes; the journal
		 * says it was written since: claim_content_locked() takes
		 * the cache file as the dirty bytes. */
		n->c.unverified = false;
		n->c.md5[0] = '\0';
		ranges_clear(&n->c.present);
		store_account_locked(t, n);
	}
	return 0;
}

/* The dirty bytes of @n: the cache file, whole. Unlocked I/O inside. */
static int claim_content_locked(struct cache *c, struct node *n)
{
	struct stat st;
	int fd, rc = 0;

	tree_unlock(&c->t);
	fd = store_open(&c->store, n->ino, O_RDONLY);
	if (fd < 0 || fstat(fd, &st) < 0)
		rc = fd < 0 ? fd : -errno;
	if (fd >= 0)
		close(fd);
	tree_lock(&c->t);
	if (rc < 0)
		return rc;
	n->l.size = st.st_size;
	n->c.has_file = true;
	ranges_clear(&n->c.present);
	if (st.st_size > 0 && ranges_add(&n->c.present, 0, st.st_size) < 0)
		return -ENOMEM;
	store_account_locked(&c->t, n);
	return 0;
}

/* Find the Drive folder @id in the tree, listing its way down from a
 * folder the tree knows. Drops the lock. NULL: not in the mount. */
static struct node *drive_dir_locked(struct cache *c, const char *id, int depth)
{
	struct drive_file *f = NULL;
	struct drive_err err;
	struct node *n = tree_by_id_locked(&c->t, id), *up;
	char parent[DRIVE_ID_MAX + 1];
	int rc;

	if (n || depth > RESOLVE_DEPTH_MAX)
		return n;
	drive_err_init(&err);
	tree_unlock(&c->t);
	rc = drive_files_get(c->d, id, &f, &err);
	tree_lock(&c->t);
	if (rc < 0 || f->trashed || !f->parent[0]) {
		drive_file_free(f);
		return NULL;
	}
	snprintf(parent, sizeof(parent), "%s", f->parent);
	drive_file_free(f);
	up = drive_dir_locked(c, parent, depth + 1);
	if (!up || up->kind != NODE_DIR)
		return NULL;
	tree_ref_locked(up);
	rc = fetch_ensure_listed_locked(c, up);
	tree_unref_locked(&c->t, up);
	return rc < 0 ? NULL : tree_by_id_locked(&c->t, id);
}

/* Attach @x under its folder (placing that first). Tree lock held. */
static int place_rec_locked(struct recov *rv, struct rnode *x, int depth)
{
	struct cache *c = rv->c;
	struct tree *t = &c->t;
	struct node *dir = NULL, *n = x->n;
	struct rnode *px;
	char dname[NAME_MAX * 4 + 32];

	if (x->state == 2)
		return 0;
	if (x->state != 0 || depth > RESOLVE_DEPTH_MAX)
		return -ELOOP;
	x->state = 1;
	if (n->l.deleted)
		goto placed;
	px = x->r.parent_ino ? rnode_of(rv, x->r.parent_ino) : NULL;
	if (px && px->n) {
		if (place_rec_locked(rv, px, depth + 1) < 0)
			goto carry;
		dir = px->n;
	} else if (x->r.parent_id[0]) {
		dir = drive_dir_locked(c, x->r.parent_id, 0);
	} else if (x->r.parent_ino == TREE_ROOT_INO) {
		dir = t->root;
	}
	if (!dir || dir->kind != NODE_DIR || dir->l.deleted)
		goto carry;
	if (n->l.parent) /* a listing of its folder placed it meanwhile */
		goto placed;
	snprintf(dname, sizeof(dname), "%s", n->l.name);
	if (tree_child_locked(t, dir, dname))
		snprintf(dname, sizeof(dname), "%s~%" PRIu64, n->l.name,
			 n->ino);
	if (tree_attach_locked(t, n, dir, n->l.name, dname) < 0)
		goto carry;
	tree_update_local_only_locked(t, n);
	tree_assign_names_locked(t, dir);
placed:
	x->state = 2;
	return 0;
carry:
	x->state = 3;
	return -ENOENT;
}

/* Was the create of @n (id, not known to exist) done before the crash? */
static void check_created_locked(struct cache *c, struct node *n)
{
	struct drive_file *f = NULL;
	struct drive_err err;
	char id[DRIVE_ID_MAX + 1];
	int rc;

	snprintf(id, sizeof(id), "%s", n->id);
	drive_err_init(&err);
	tree_unlock(&c->t);
	rc = drive_files_get(c->d, id, &f, &err);
	tree_lock(&c->t);
	if (rc == 0 && !f->trashed && !n->r.exists && !strcmp(n->id, id))
		tree_adopt_created_locked(&c->t, n, f); /* it was */
	drive_file_free(f);
}

static int add_carry(struct journal *j, const struct jraw *r)
{
	struct jraw *v = realloc(j->carry, (j->n_carry + 1) * sizeof(*v));

	if (!v)
		return -ENOMEM;
	j->carry = v;
	v[j->n_carry].p = malloc(r->len);
	if (!v[j->n_carry].p)
		return -ENOMEM;
	memcpy(v[j->n_carry].p, r->p, r->len);
	v[j->n_carry].len = r->len;
	v[j->n_carry].ino = r->ino;
	v[j->n_carry].seq = 0;
	j->n_carry++;
	return 0;
}

int journal_recover(struct cache *c)
{
	struct journal *j = c->j;
	struct tree *t = &c->t;
	struct recov rv = {c, NULL, 0};
	size_t done = 0, carried = 0;
	int rc = 0;

	if (!j)
		return 0;
	j->c = c;
	rv.v = calloc(j->n_live ? j->n_live : 1, sizeof(*rv.v));
	if (!rv.v)
		return -ENOMEM;
	tree_lock(t);
	for (size_t i = 0; i < j->n_live; i++) {
		struct rnode *x = &rv.v[rv.n];

		x->raw = &j->live[i];
		journal_rec_decode(x->raw->p, x->raw->len, &x->r);
		rv.n++;
		rc = build_locked(c, x);
		if (rc < 0) {
			log_warn(SUB,
				 "journaled inode %" PRIu64 " ('%s') "
				 "cannot be rebuilt: %s; kept for later",
				 x->r.ino, x->r.name, strerror(-rc));
			x->state = 3;
			rc = 0;
		}
	}
	for (size_t i = 0; i < rv.n; i++) {
		struct rnode *x = &rv.v[i];

		if (!x->n)
			continue;
		if (x->n->id[0] && !x->n->r.exists && !x->n->l.deleted)
			check_created_locked(c, x->n);
		if (x->n->c.dirty && x->n->kind != NODE_DIR &&
		    claim_content_locked(c, x->n) < 0) {
			log_err(SUB,
				"the cached bytes of '%s' (inode %" PRIu64
				") are missing: its content change is "
				"lost",
				x->r.name, x->r.ino);
			x->n->c.dirty = false;
		}
	}
	for (size_t i = 0; i < rv.n; i++)
		if (rv.v[i].n && rv.v[i].state == 0)
			place_rec_locked(&rv, &rv.v[i], 0);
	for (size_t i = 0; i < rv.n; i++) {
		struct rnode *x = &rv.v[i];

		if (x->state == 3) {
			if (add_carry(j, x->raw) < 0)
				rc = -ENOMEM;
			carried++;
			if (x->n) {
				/* Not in the tree: free it without a DONE,
				 * keeping its bytes for the next start. */
				x->n->s.in_flight = false;
				x->n->c.has_file = false;
				if (x->n->id[0])
					tree_set_id_locked(t, x->n, "");
				x->n->l.deleted = true;
				x->n->c.dirty = false;
				x->n->r.exists = false;
				tree_unref_locked(t, x->n);
				x->n = NULL;
			}
			continue;
		}
		x->n->s.in_flight = false;
		x->n->s.journaled = false;
		sync_recheck_locked(c, x->n);
		done++;
	}
	for (size_t i = 0; i < rv.n; i++)
		if (rv.v[i].n)
			tree_unref_locked(t, rv.v[i].n);
	tree_unlock(t);
	if (done || carried)
		log_info(SUB, "recovered %zu pending changes from the journal",
			 done);
	if (carried)
		log_warn(SUB,
			 "%zu journaled changes wait for a folder not found "
			 "in Drive: kept for the next start",
			 carried);
	/* The recovered set (and nothing torn) becomes the journal. */
	pthread_mutex_lock(&j->lock);
	j->flushing = true;
	pthread_mutex_unlock(&j->lock);
	compact(j, c); /* on failure the records are appended instead */
	pthread_mutex_lock(&j->lock);
	j->flushing = false;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	for (size_t i = 0; i < j->n_live; i++)
		free(j->live[i].p);
	free(j->live);
	j->live = NULL;
	j->n_live = 0;
	free(rv.v);
	if (pthread_create(&j->thread, NULL, journal_main, j) == 0)
		j->thread_started = true;
	return rc;
}

void journal_close(struct cache *c)
{
	struct journal *j = c->j;

	if (!j)
		return;
	pthread_mutex_lock(&j->lock);
	j->stop = true;
	pthread_cond_broadcast(&j->cond);
	pthread_mutex_unlock(&j->lock);
	if (j->thread_started)
		pthread_join(j->thread, NULL);
	j->thread_started = false;
	if (!j->c)
		return; /* never recovered: leave the file as it was */
	if (j->appended)
		log_info(SUB,
			 "%" PRIu64 " records journaled in %" PRIu64 " commits",
			 j->appended, j->flushes);
	pthread_mutex_lock(&j->lock);
	while (j->flushing)
		pthread_cond_wait(&j->cond, &j->lock);
	j->flushing = true;
	pthread_mutex_unlock(&j->lock);
	/* A snapshot: empty after a full drain, the rest otherwise. */
	compact(j, c);
	pthread_mutex_lock(&j->lock);
	j->flushing = false;
	pthread_mutex_unlock(&j->lock);
}

void journal_free(struct journal *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n_live; i++)
		free(j->live[i].p);
	free(j->live);
	for (size_t i = 0; i < j->n_carry; i++)
		free(j->carry[i].p);
	free(j->carry);
	free(j->buf);
	if (j->fd >= 0)
		close(j->fd);
	if (j->dirfd >= 0)
		close(j->dirfd);
	pthread_mutex_destroy(&j->lock);
	pthread_cond_destroy(&j->cond);
	free(j);
}
