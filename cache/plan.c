/*
 * The syncer's decision (plan.h). Order of the checks matters:
 *
 *  1. Tombstones. Drive never had it: forget. A folder above it in Drive is
 *     being trashed too: wait, that trash takes it along (one request for a
 *     deleted subtree). A folder that Drive still has live nodes in (moved
 *     out here, not yet there): wait, trashing now would take them along.
 *  2. Not in Drive yet: local-only names stay local; otherwise the parent
 *     must exist first, then one create carries name, parent, times,
 *     properties and (files) the bytes.
 *  3. In Drive: send every difference in one update (a move waits until
 *     the new parent exists there and is not inside the node). (Whether
 *     dirty bytes really differ from Drive's is known only after hashing
 *     them: the uploader checks, sync.c.)
 */
#include "common/compat.h"

#include "cache/plan.h"

static bool str_differs(const char *a, const char *b)
{
	if (!a || !b)
		return a != b;
	return strcmp(a, b) != 0;
}

struct plan plan_node(const struct plan_in *in)
{
	struct plan p = {PLAN_NONE, 0};

	if (in->deleted) {
		if (!in->remote_exists)
			p.op = PLAN_FORGET;
		else if (in->covered || (in->is_dir && in->live_inside))
			p.op = PLAN_WAIT;
		else
			p.op = PLAN_TRASH;
		return p;
	}
	if (!in->remote_exists) {
		if (in->local_only)
			return p;
		if (!in->parent_exists) {
			p.op = PLAN_WAIT;
			return p;
		}
		p.op = PLAN_CREATE;
		if (!in->is_dir)
			p.flags |= PLAN_CONTENT;
		return p;
	}
	if (str_differs(in->name, in->remote_name))
		p.flags |= PLAN_NAME;
	if (str_differs(in->parent_id, in->remote_parent))
		p.flags |= PLAN_MOVE;
	if (in->attrs) {
		if (in->mtime_ms != in->remote_mtime_ms)
			p.flags |= PLAN_MTIME;
		if (in->exec != in->remote_exec ||
		    str_differs(in->symlink, in->remote_symlink))
			p.flags |= PLAN_PROPS;
	}
	if (in->dirty && !in->is_dir)
		p.flags |= PLAN_CONTENT;
	if ((p.flags & PLAN_MOVE) && (!in->parent_exists || in->parent_below)) {
		p.op = PLAN_WAIT;
		p.flags = 0;
		return p;
	}
	if (p.flags)
		p.op = PLAN_UPDATE;
	return p;
}

const char *plan_op_name(enum plan_op op)
{
	switch (op) {
	case PLAN_NONE:
		return "none";
	case PLAN_WAIT:
		return "wait";
	case PLAN_CREATE:
		return "create";
	case PLAN_UPDATE:
		return "update";
	case PLAN_TRASH:
		return "trash";
	case PLAN_FORGET:
		return "forget";
	}
	return "?";
}

/* Drive's bytes differ from the base (by md5, else by version). */
static bool remote_moved_on(const struct plan_check_in *in)
{
	if (in->base_md5[0] && in->remote_md5[0])
		return strcmp(in->base_md5, in->remote_md5) != 0;
	/* No checksums (never for blobs in Drive, but be safe): any new
	 * version may be new bytes. */
	return in->base_version < 0 || in->remote_version != in->base_version;
}

bool plan_check_needs_local_md5(const struct plan_check_in *in)
{
	return !in->remote_gone && remote_moved_on(in) && in->remote_md5[0];
}

enum plan_check plan_content_check(const struct plan_check_in *in)
{
	if (in->remote_gone)
		return PLAN_CHECK_GONE;
	if (!remote_moved_on(in))
		return PLAN_CHECK_UPLOAD;
	if (in->local_md5[0] && in->remote_md5[0] &&
	    !strcmp(in->local_md5, in->remote_md5))
		return PLAN_CHECK_SAME;
	return PLAN_CHECK_CONFLICT;
}
