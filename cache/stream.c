/*
 * Streamed uploads: the content of a new file that is being written
 * sequentially goes to Drive while it is still open, so "write 1 GiB, then
 * wait until Drive has it" costs about the upload time, not write time plus
 * upload time (issue 8; docs/INTERNALS.md "Streamed uploads").
 *
 * At most one stream runs, on its own thread ("drivefs-stream"); all state
 * is c->stream under t.lock. A stream is claimed by a write
 * (stream_note_write_locked) to a file that Drive does not have yet (plan
 * CREATE, its folder in Drive), is open for writing, and holds more than one
 * chunk (drive_chunk_size(), 64 MiB). The thread then opens a resumable
 * session of unknown size for the create, with the file's generated id
 * (journaled first, as for any create), and PUTs what has been written
 * since its last request ("bytes S-E/ *", up to STREAM_PUT_MAX, rounded down
 * to 256 KiB, never the last byte): bytes whose writes have returned. The
 * session never finishes on its own: only a request giving the total size
 * does.
 *
 * The invariant: s->limit is the end of every byte read for Drive. A write
 * that starts below it, or any truncate, kills the stream (s->dead); so
 * does the file being deleted or created by someone else, an fsync or an
 * unmount while it is open (those upload the whole file at once, as
 * without streams). A killed stream is abandoned: the session is cancelled
 * (best effort; an unfinished session is no file in Drive) and the file is
 * uploaded after close the usual way. The file is not streamed again until
 * its last writer closes.
 *
 * The finish is the uploader's (sync.c): at the last close the node is due
 * at once (no writeback delay), and run_locked() takes the session over
 * (stream_take_locked) if its metadata still matches (a rename or chmod
 * meanwhile: abandoned); drive_files_upload() then asks the session what it
 * holds, sends the rest with the total size and compares Drive's MD5 of the
 * whole file with the cache file's, as for every upload. The usual settle,
 * retry and journal paths apply; nothing about a stream is journaled, so
 * after a crash the file is uploaded again from the cache file (the stale
 * session expires unfinished).
 */
#include "common/compat.h"

#include <fcntl.h>
#include <inttypes.h>
#include <unistd.h>

#include "cache/cache_i.h"
#include "cache/journal.h"
#include "common/clock.h"
#include "common/log.h"

#define SUB "stream"
#define STREAM_IDLE_MS 1000 /* look again this often (deletes, pauses) */
/*
 * Longest stream request. Longer ones cost fewer round trips, but an fsync
 * or close that comes meanwhile waits for the request in flight: 256 MiB is
 * about 2.5 s at 100 MB/s.
 */
#define STREAM_PUT_MAX (INT64_C(256) << 20)

static void signal_locked(struct cache *c)
{
	pthread_cond_signal(&c->stream_cond);
}

/* Mark the stream to be abandoned by its thread, for @why (static). */
static void kill_locked(struct cache *c, const char *why)
{
	if (!c->stream.dead) {
		c->stream.dead = true;
		c->stream.why = why;
	}
	signal_locked(c);
}

/* Forget the stream (not busy). Returns the session to cancel in @url. */
static void clear_locked(struct cache *c, char url[CACHE_STREAM_URL_MAX])
{
	struct cache_stream *s = &c->stream;
	struct node *n = s->n;

	if (url)
		memcpy(url, s->url, CACHE_STREAM_URL_MAX);
	free(s->name);
	s->name = NULL;
	s->n = NULL;
	s->url[0] = '\0';
	s->held = s->limit = 0;
	s->dead = false;
	s->why = NULL;
	c->stream_prog.total = 0;
	if (n)
		tree_unref_locked(&c->t, n);
	/* An uploader may wait for the stream to let go of the node. */
	pthread_cond_broadcast(&c->sync_cond);
}

/* Abandon the stream: cancel its session. Drops the lock. */
static void drop_locked(struct cache *c, const char *why)
{
	struct cache_stream *s = &c->stream;
	char url[CACHE_STREAM_URL_MAX];
	char path[1024] = "";

	if (s->n->c.open_writers)
		s->refused_ino = s->n->ino;
	if (s->held > 0) {
		tree_path_locked(s->n, path, sizeof(path));
		log_info(
		    SUB, "streamed upload of '%s' abandoned (%s)%s", path, why,
		    s->n->l.deleted ? ""
				    : ": the whole file is uploaded instead");
	}
	clear_locked(c, url);
	if (!url[0])
		return;
	tree_unlock(&c->t);
	drive_stream_cancel(c->d, url);
	tree_lock(&c->t);
}

static bool eligible_locked(struct cache *c, const struct node *n)
{
	return n->kind == NODE_FILE && !n->r.exists && !n->l.deleted &&
	       !n->l.local_only && !n->l.shortcut[0] && !n->s.in_flight &&
	       !n->s.urgent && n->c.open_writers && !c->draining &&
	       !c->paused && n->l.parent && n->l.parent->r.exists &&
	       n->ino != c->stream.refused_ino &&
	       n->l.size > drive_chunk_size(c->d);
}

void stream_note_write_locked(struct cache *c, struct node *n, int64_t off,
			      int64_t end)
{
	struct cache_stream *s = &c->stream;

	(void)end;
	if (!c->stream_running)
		return;
	if (s->n == n) {
		if (off < s->limit && !s->dead) {
			/* These bytes may have gone already. */
			kill_locked(c, "written below the bytes sent");
			log_debug(SUB,
				  "write at %" PRId64 " below the streamed "
				  "%" PRId64 ": stream stopped",
				  off, s->limit);
		}
		signal_locked(c);
		return;
	}
	if (s->n || !eligible_locked(c, n))
		return;
	s->n = n;
	tree_ref_locked(n);
	s->url[0] = '\0';
	s->held = s->limit = 0;
	s->dead = false;
	s->why = NULL;
	signal_locked(c);
}

void stream_note_truncate_locked(struct cache *c, struct node *n)
{
	if (c->stream.n == n && !c->stream.dead)
		kill_locked(c, "truncated");
}

void stream_note_release_locked(struct cache *c, struct node *n)
{
	if (n->c.open_writers)
		return;
	if (c->stream.refused_ino == n->ino)
		c->stream.refused_ino = 0;
	if (c->stream.n == n)
		signal_locked(c);
}

bool stream_busy_locked(struct cache *c, const struct node *n)
{
	return c->stream.n == n && c->stream.busy;
}

bool stream_ready_locked(struct cache *c, const struct node *n)
{
	const struct cache_stream *s = &c->stream;

	return s->n == n && !s->dead && s->url[0] && s->held > 0 &&
	       !n->c.open_writers;
}

bool stream_take_locked(struct cache *c, struct node *n, bool create,
			const char *name, const char *parent, bool exec,
			char url[CACHE_STREAM_URL_MAX])
{
	struct cache_stream *s = &c->stream;
	bool ok;

	url[0] = '\0';
	if (s->n != n)
		return false;
	ok = create && !s->busy && stream_ready_locked(c, n) && name &&
	     s->name && !strcmp(name, s->name) && !strcmp(parent, s->parent) &&
	     exec == s->exec && !strcmp(n->id, s->id);
	if (!ok) {
		/* The uploader sends the whole file: abandon the session. */
		kill_locked(c, n->c.open_writers ? "fsync or unmount while open"
						 : "renamed, moved or chmod");
		return false;
	}
	clear_locked(c, url);
	return true;
}

/* Open the session for s->n. Drops the lock. */
static void open_locked(struct cache *c)
{
	struct cache_stream *s = &c->stream;
	struct node *n = s->n;
	struct drive_prop props[2];
	struct drive_upload u;
	struct drive_meta m;
	struct drive_err err;
	char id[DRIVE_ID_MAX + 1];
	int rc;

	if (!sync_create_ready_locked(c, n)) {
		kill_locked(c, "not a create any more");
		return;
	}
	if (!n->id[0]) {
		tree_unlock(&c->t);
		rc = idpool_take(c->ids, id);
		tree_lock(&c->t);
		if (rc < 0 || s->n != n) {
			kill_locked(c, "no id");
			return;
		}
		if (!n->id[0])
			tree_set_id_locked(&c->t, n, id);
	}
	free(s->name);
	s->name = strdup(n->l.name);
	if (!s->name) {
		kill_locked(c, "out of memory");
		return;
	}
	memcpy(s->id, n->id, sizeof(s->id));
	memcpy(s->parent, n->l.parent->id, sizeof(s->parent));
	s->exec = n->l.exec;
	s->mtime_ms = cache_ts_ms(&n->l.mtime);
	/* The id on disk before Drive can have it (sync.c run_locked). */
	journal_note_locked(c, n);
	drive_meta_init(&m);
	m.id = s->id;
	m.name = s->name;
	m.parent = s->parent;
	m.modified_ms = s->mtime_ms;
	props[0].key = TREE_PROP_HOST;
	props[0].value = c->host;
	props[1].key = (char *)TREE_PROP_MODE;
	props[1].value = (char *)"755";
	m.app_props = props;
	m.n_app_props = s->exec ? 2 : 1;
	memset(&u, 0, sizeof(u));
	u.meta = &m;
	u.fd = -1;
	drive_err_init(&err);
	tree_path_locked(n, c->stream_prog.path, sizeof(c->stream_prog.path));
	c->stream_prog.done = 0;
	c->stream_prog.total = n->l.size;
	c->stream_prog.start_ms = clock_mono_ms();
	s->busy = true;
	tree_unlock(&c->t);
	rc = journal_sync(c->j); /* the id, before Drive has it */
	if (rc == 0)
		rc = drive_stream_open(c->d, &u, &err);
	tree_lock(&c->t);
	s->busy = false;
	if (rc < 0) {
		log_info(SUB, "opening a streamed upload of '%s' failed: %s",
			 c->stream_prog.path,
			 err.reason[0] ? err.reason : strerror(-rc));
		kill_locked(c, "session not opened");
		/* A session may be open all the same: cancel it too. */
	}
	memcpy(s->url, u.session_url, sizeof(s->url));
	pthread_cond_broadcast(&c->sync_cond);
}

/* Send the next @chunk bytes of s->n. Drops the lock. */
static void put_locked(struct cache *c, int64_t chunk)
{
	struct cache_stream *s = &c->stream;
	struct node *n = s->n;
	struct drive_upload u;
	struct drive_err err;
	int64_t from = s->held, held = from;
	int fd, rc;

	memset(&u, 0, sizeof(u));
	u.size = -1;
	memcpy(u.session_url, s->url, sizeof(u.session_url));
	s->limit = MAX(s->limit, from + chunk);
	c->stream_prog.total = MAX(n->l.size, 1);
	s->busy = true;
	drive_err_init(&err);
	tree_unlock(&c->t);
	fd = store_open(&c->store, n->ino, O_RDONLY);
	rc = fd;
	if (fd >= 0) {
		u.fd = fd;
		rc = drive_stream_put(c->d, &u, from, chunk, &held, &err);
		close(fd);
	}
	tree_lock(&c->t);
	s->busy = false;
	if (rc < 0) {
		log_info(SUB,
			 "streamed upload of '%s' stopped at byte %" PRId64
			 ": %s",
			 c->stream_prog.path, from,
			 err.reason[0] ? err.reason : strerror(-rc));
		kill_locked(c, "request failed");
		if (rc == -ENOENT)
			s->url[0] = '\0'; /* nothing left to cancel */
	} else {
		log_debug(SUB,
			  "'%s': %" PRId64 " bytes sent from %" PRId64
			  ", Drive holds %" PRId64,
			  c->stream_prog.path, chunk, from, held);
		s->held = held;
		__atomic_store_n(&c->stream_prog.done, held, __ATOMIC_RELAXED);
	}
	/* The node may be due now (closed meanwhile). */
	pthread_cond_broadcast(&c->sync_cond);
}

static void wait_locked(struct cache *c, int64_t ms)
{
	struct timespec ts;

	clock_mono_timespec_after(ms, &ts);
	pthread_cond_timedwait(&c->stream_cond, &c->t.lock, &ts);
}

static void *stream_main(void *arg)
{
	struct cache *c = arg;
	struct cache_stream *s = &c->stream;
	int64_t chunk = drive_chunk_size(c->d);

	pthread_setname_np(pthread_self(), "drivefs-stream");
	tree_lock(&c->t);
	while (!c->stream_stop) {
		struct node *n = s->n;

		if (!n) {
			pthread_cond_wait(&c->stream_cond, &c->t.lock);
			continue;
		}
		if (s->dead || n->l.deleted || n->r.exists) {
			drop_locked(c, s->why	      ? s->why
				       : n->l.deleted ? "deleted"
						      : "created meanwhile");
			continue;
		}
		if (n->s.in_flight || !n->c.open_writers) {
			/* The uploader's now (or soon): it takes the
			 * session over or abandons it. */
			wait_locked(c, STREAM_IDLE_MS);
			continue;
		}
		if (n->s.urgent || c->draining) {
			drop_locked(c, "fsync or unmount while open");
			continue;
		}
		if (c->paused) {
			wait_locked(c, STREAM_IDLE_MS);
		} else if (!s->url[0]) {
			open_locked(c);
		} else if (s->held + chunk < n->l.size) {
			/* All that is written, but never the last byte: the
			 * total is not known yet. */
			int64_t len = n->l.size - 1 - s->held;

			len -= len % DRIVE_CHUNK_UNIT;
			put_locked(c, MIN(len, STREAM_PUT_MAX));
		} else {
			wait_locked(c, STREAM_IDLE_MS);
		}
	}
	tree_unlock(&c->t);
	return NULL;
}

int stream_start(struct cache *c)
{
	int rc = -pthread_create(&c->stream_thread, NULL, stream_main, c);

	if (rc == 0) {
		tree_lock(&c->t);
		c->stream_running = true;
		tree_unlock(&c->t);
	}
	return rc;
}

void stream_stop(struct cache *c)
{
	tree_lock(&c->t);
	if (!c->stream_running) {
		tree_unlock(&c->t);
		return;
	}
	c->stream_stop = true;
	pthread_cond_broadcast(&c->stream_cond);
	tree_unlock(&c->t);
	pthread_join(c->stream_thread, NULL);
	tree_lock(&c->t);
	c->stream_running = false;
	/* The session expires unfinished; the journal has the file. */
	if (c->stream.n)
		clear_locked(c, NULL);
	tree_unlock(&c->t);
}
