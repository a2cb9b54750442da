/*
 * What the syncer sends for one node: a pure function of the node's local
 * and remote state and a few facts about its neighbours (INTERNALS.md
 * "Write-back"). Coalescing falls out of comparing states instead of
 * replaying operations: a file created and deleted before upload plans
 * FORGET; create + rename plans one CREATE with the final name; a chain of
 * renames plans one UPDATE. When to send (writeback delay, open files,
 * retries) is sync.c's business, not this file's.
 */
#ifndef CACHE_PLAN_H
#define CACHE_PLAN_H

#include "common/compat.h"

struct plan_in {
	/* Local state. */
	bool is_dir;
	bool attrs;	       /* mtime and appProperties are synced (files,
				  symlinks; not folders or Google docs) */
	bool deleted;	       /* unlinked here */
	bool local_only;       /* never created in Drive */
	bool dirty;	       /* the bytes changed since Drive got them */
	const char *name;      /* Drive name */
	const char *parent_id; /* the local parent's Drive id ("" none yet) */
	bool exec;
	int64_t mtime_ms;
	const char *symlink; /* appProperty value to hold, NULL: none */

	/* Remote state. */
	bool remote_exists;
	const char *remote_name;
	const char *remote_parent;
	bool remote_exec;
	int64_t remote_mtime_ms;
	const char *remote_symlink; /* NULL: none */

	/* Facts about the neighbours. */
	bool parent_exists; /* the local parent exists in Drive */
	bool parent_below;  /* ...but inside this node there (a move now
			       would make a cycle) */
	bool covered;	    /* deleted, inside a deleted folder in Drive
			       whose trashing takes it along */
	bool live_inside;   /* folder: Drive still holds live nodes inside
			       it that were moved out here */
};

enum plan_op {
	PLAN_NONE,   /* in sync */
	PLAN_WAIT,   /* work remains but depends on another node first */
	PLAN_CREATE, /* files.create / multipart upload with the id */
	PLAN_UPDATE, /* files.update, with media when PLAN_CONTENT */
	PLAN_TRASH,  /* files.update trashed=true */
	PLAN_FORGET, /* a tombstone Drive never had: drop it, no request */
};

enum plan_flags {
	PLAN_CONTENT = 1 << 0, /* send the bytes */
	PLAN_NAME = 1 << 1,    /* rename */
	PLAN_MOVE = 1 << 2,    /* addParents/removeParents */
	PLAN_MTIME = 1 << 3,   /* modifiedTime */
	PLAN_PROPS = 1 << 4,   /* appProperties (mode, symlink) */
};

struct plan {
	enum plan_op op;
	unsigned flags; /* enum plan_flags, for CREATE and UPDATE */
};

struct plan plan_node(const struct plan_in *in);

/* "create", "update", ... for logs and tests. */
const char *plan_op_name(enum plan_op op);

/*
 * Before uploading bytes edited from a base version of a Drive file, what
 * Drive holds now decides (DESIGN.md "Two machines").
 */
struct plan_check_in {
	const char *base_md5;	/* what the local bytes were edited from */
	int64_t base_version;	/* -1: unknown */
	bool remote_gone;	/* deleted or trashed in Drive */
	const char *remote_md5; /* Drive's now ("" unknown) */
	int64_t remote_version;
	const char *local_md5; /* of the local bytes, "" when not computed */
};
enum plan_check {
	PLAN_CHECK_UPLOAD,   /* Drive still has the base: upload in place */
	PLAN_CHECK_SAME,     /* Drive already has the local bytes: clean */
	PLAN_CHECK_CONFLICT, /* Drive has other bytes: a conflict */
	PLAN_CHECK_GONE,     /* Drive lost the file: create it again */
};
/* Whether plan_content_check() needs local_md5 to decide. */
bool plan_check_needs_local_md5(const struct plan_check_in *in);
enum plan_check plan_content_check(const struct plan_check_in *in);

#endif
