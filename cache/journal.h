/*
 * The journal (private to cache/): the pending set of the write-back cache,
 * made durable in <cache dir>/journal so that kill -9 loses no acknowledged
 * change, and a power cut none older than a second, or none at all with
 * --journal-sync (INTERNALS.md "Journal").
 *
 * It journals STATE, not operations, as the syncer pushes state (INTERNALS
 * "pending state instead of a queue of operations"): a PUT record holds
 * everything a pending node needs to finish its work (local parent, name,
 * size, mtime, mode, symlink, deleted, dirty, and the remote state it was
 * edited from: the BASE version and md5), a DONE record says its work is
 * finished. Replay keeps the last record per inode.
 *
 * File: an 8-byte magic, then records, each
 *     u32 length | u32 check | payload (length bytes)
 * with check = low 32 bits of XXH3_64bits_withSeed(payload, length, length)
 * (so it covers the length too). Reading stops at the first record that is
 * short or fails its check: a torn tail is ignored, never applied.
 *
 * Durability: journal_note_locked() (under the tree lock) encodes a record
 * into memory; journal_commit() (no lock held) returns once every record
 * appended so far is written to the file (kill -9 of the daemon loses
 * nothing), journal_sync() once it is fdatasync'ed (a power cut loses
 * nothing). One thread writes for all the others waiting (group commit);
 * a sync fdatasyncs the cache files whose dirty bytes the records claim
 * first (syncfs() past a few), so the bytes are durable before the record
 * that says they are to be uploaded. A thread syncs what was written every
 * second, and the file is compacted (the live pending set rewritten to a
 * new file, renamed over) when it grows.
 *
 * Locking: j->lock is a leaf taken under the tree lock (journal_note_locked)
 * or alone; no I/O is done under either.
 */
#ifndef CACHE_JOURNAL_H
#define CACHE_JOURNAL_H

#include "common/compat.h"

#include "drive/drive.h"

struct cache;
struct node;
struct journal;

#define JOURNAL_MAGIC "DFSJRN1\n"
#define JOURNAL_MAGIC_LEN 8
#define JOURNAL_HDR 8	      /* length + check */
#define JOURNAL_REC_MAX 16384 /* payload bound */
#define JOURNAL_STR_MAX 8192

enum jrec_type {
	JREC_PUT = 1,
	JREC_DONE = 2,
};

enum jrec_flags {
	JF_DELETED = 1 << 0,
	JF_DIRTY = 1 << 1,
	JF_EXEC = 1 << 2,
	JF_REXISTS = 1 << 3,
	JF_REXEC = 1 << 4,
	JF_PLACED = 1 << 5,
	JF_LOCAL_ONLY = 1 << 6,
	JF_SYMLINK = 1 << 7,  /* symlink is set */
	JF_RSYMLINK = 1 << 8, /* r_symlink is set */
};

/* One record, decoded. Strings are borrowed from the payload. */
struct jrec {
	uint8_t type;
	uint64_t ino;
	uint8_t kind; /* enum node_kind */
	uint32_t flags;
	uint64_t parent_ino;   /* 0: none (tombstone, root) */
	const char *parent_id; /* "" when the parent is not in Drive */
	const char *id;	       /* "" until it has one */
	const char *name;      /* Drive name */
	const char *symlink;
	const char *r_parent, *r_name, *r_md5, *r_symlink;
	const char *mime;     /* NODE_NATIVE: Drive MIME type, else "" */
	const char *shortcut; /* shortcut target id, or "" */
	int64_t r_version, r_size, r_mtime_ms;
	int64_t created_ms;
	/* Last in the payload (journal_note_locked() skips records that
	 * differ only in these while the file is open for writing). */
	int64_t size, mtime_s, mtime_ns;
};

/*
 * Pure: encode @r as one framed record (header + payload) into @buf of
 * @cap bytes. Returns its length, or 0 when it does not fit (a string
 * over JOURNAL_STR_MAX, or the payload over JOURNAL_REC_MAX).
 */
size_t journal_rec_encode(const struct jrec *r, uint8_t *buf, size_t cap);
/*
 * Pure: decode @len bytes of payload into @r (strings borrowed from
 * @payload). Returns 0 or -EINVAL (malformed).
 */
int journal_rec_decode(const uint8_t *payload, size_t len, struct jrec *r);

/* Called by journal_scan() for each good record's payload. */
typedef int (*journal_scan_cb)(void *ctx, const uint8_t *payload, size_t len);
/*
 * Pure: walk the records of a journal file's bytes @buf (magic first).
 * Stops at the first short record, bad check or undecodable payload.
 * *@good: bytes of good records (magic included); *@ignored: the bytes
 * after them. Returns the number of good records, or -EINVAL for a bad
 * magic (all of @buf ignored), or what @cb returned when negative.
 */
long journal_scan(const uint8_t *buf, size_t len, journal_scan_cb cb, void *ctx,
		  size_t *good, size_t *ignored);

/*
 * Open (creating) <@dir>/journal and read what an earlier run left.
 * @sync_each (--journal-sync): journal_commit() is journal_sync().
 * *@out is new: free with journal_free(). Returns 0 or -errno.
 */
int journal_open(const char *dir, bool sync_each, struct journal **out);
/*
 * Is the cache file of @ino needed by a recovered record (dirty bytes
 * still to upload)? For store_init(): the others are discarded.
 */
bool journal_keeps(const struct journal *j, uint64_t ino);
/* The highest inode number a recovered record uses (0: none). */
uint64_t journal_max_ino(const struct journal *j);

/*
 * Rebuild the recovered pending nodes in @c's tree (listing the Drive
 * folders they live in as needed), put them on the pending list, compact
 * the journal and start its thread. Blocks on Drive; no lock held.
 * Returns 0 or -errno.
 */
int journal_recover(struct cache *c);

/*
 * Journal @n's state after a change: a PUT while it has pending work, a
 * DONE when its work is finished. Encodes into memory only; cheap.
 */
void journal_note_locked(struct cache *c, struct node *n);
/* As journal_note_locked(), with the size and mtime of a file still open
 * for writing (fsync). */
void journal_note_final_locked(struct cache *c, struct node *n);

/*
 * Write every record noted so far to the journal file (group commit),
 * before an acknowledgement: in the page cache, they survive kill -9 of
 * the daemon; the drivefs-journal thread makes them durable within a
 * second. No lock held; blocks on disk. Returns 0 or -errno (nothing was
 * acknowledged then).
 */
int journal_commit(struct journal *j);
/*
 * As journal_commit(), and durable: the cache-file bytes the records
 * claim, then the records, fdatasync'ed (a power cut loses nothing). For
 * what must survive one: a create's id before Drive has it, fsync.
 */
int journal_sync(struct journal *j);

/*
 * Stop the flusher thread, write what remains and, when the tree has no
 * pending work, leave an empty journal. The tree must still exist and no
 * uploader run. Blocks on disk.
 */
void journal_close(struct cache *c);
void journal_free(struct journal *j);

#endif
