/*
 * Unit tests for cache/plan.c: what the syncer sends for a node, as a pure
 * function of its local and remote state. Each row is one situation the
 * write-back must coalesce or order correctly (INTERNALS.md "Write-back").
 */
#include "common/compat.h"

#include "cache/plan.h"
#include "tests/unit/unit.h"

/* A synced file "a.py" in folder P: nothing to do. */
static struct plan_in synced_file(void)
{
	struct plan_in in;

	memset(&in, 0, sizeof(in));
	in.attrs = true;
	in.name = "a.py";
	in.parent_id = "P";
	in.mtime_ms = 1000;
	in.remote_exists = true;
	in.remote_name = "a.py";
	in.remote_parent = "P";
	in.remote_mtime_ms = 1000;
	in.parent_exists = true;
	return in;
}

/* A file made here and never pushed. */
static struct plan_in new_file(void)
{
	struct plan_in in = synced_file();

	in.remote_exists = false;
	in.remote_name = NULL;
	in.remote_parent = NULL;
	in.dirty = true;
	return in;
}

struct row {
	const char *what;
	struct plan_in in;
	enum plan_op op;
	unsigned flags;
};

static void check_rows(const struct row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct plan p = plan_node(&rows[i].in);

		if (p.op != rows[i].op || p.flags != rows[i].flags)
			unit_fail(__FILE__, __LINE__,
				  "%s: got %s/0x%x, want %s/0x%x", rows[i].what,
				  plan_op_name(p.op), p.flags,
				  plan_op_name(rows[i].op), rows[i].flags);
		else
			unit_passed++;
	}
}

static void test_table(void)
{
	struct row rows[32];
	size_t n = 0;
	struct plan_in in;

	rows[n++] = (struct row){"synced", synced_file(), PLAN_NONE, 0};

	/* create: one request with the bytes, once the parent exists */
	rows[n++] =
	    (struct row){"new file", new_file(), PLAN_CREATE, PLAN_CONTENT};
	in = new_file();
	in.parent_exists = false;
	rows[n++] =
	    (struct row){"new file, parent not in Drive yet", in, PLAN_WAIT, 0};
	in = new_file();
	in.is_dir = true;
	in.attrs = false;
	in.dirty = false;
	rows[n++] = (struct row){"new folder", in, PLAN_CREATE, 0};
	in = new_file();
	in.name = "final.py"; /* create + rename before upload */
	rows[n++] = (struct row){"create then rename: one create", in,
				 PLAN_CREATE, PLAN_CONTENT};
	in = new_file();
	in.local_only = true;
	rows[n++] = (struct row){"local-only never created", in, PLAN_NONE, 0};

	/* create + delete before upload: nothing reaches Drive */
	in = new_file();
	in.deleted = true;
	rows[n++] = (struct row){"create then delete", in, PLAN_FORGET, 0};
	in = new_file();
	in.deleted = true;
	in.local_only = true;
	rows[n++] = (struct row){"local-only deleted", in, PLAN_FORGET, 0};

	/* rename chains collapse into one update to the final place */
	in = synced_file();
	in.name = "c.py"; /* a.py -> b.py -> c.py */
	in.parent_id = "Q";
	rows[n++] = (struct row){"rename chain across folders", in, PLAN_UPDATE,
				 PLAN_NAME | PLAN_MOVE};
	in = synced_file();
	in.name = "a.py"; /* a.py -> b.py -> a.py: back where it was */
	rows[n++] = (struct row){"rename there and back", in, PLAN_NONE, 0};
	in = synced_file();
	in.parent_id = "Q";
	in.parent_exists = false;
	rows[n++] = (struct row){"move into a folder not in Drive yet", in,
				 PLAN_WAIT, 0};
	in = synced_file();
	in.is_dir = true;
	in.attrs = false;
	in.parent_id = "Q";
	in.parent_below = true;
	rows[n++] =
	    (struct row){"folder moved below its old child", in, PLAN_WAIT, 0};

	/* content and attributes travel with the rename in one update */
	in = synced_file();
	in.dirty = true;
	in.mtime_ms = 2000;
	in.name = "b.py";
	rows[n++] = (struct row){"edit + rename", in, PLAN_UPDATE,
				 PLAN_CONTENT | PLAN_MTIME | PLAN_NAME};
	in = synced_file();
	in.exec = true;
	rows[n++] = (struct row){"chmod +x", in, PLAN_UPDATE, PLAN_PROPS};
	in = synced_file();
	in.symlink = "target";
	in.remote_symlink = "target";
	rows[n++] = (struct row){"symlink in sync", in, PLAN_NONE, 0};
	in = synced_file();
	in.is_dir = true;
	in.attrs = false;
	in.mtime_ms = 5000; /* folder times stay local */
	rows[n++] = (struct row){"folder mtime", in, PLAN_NONE, 0};

	/*
	 * Rename over an existing file, after the identity swap: the source
	 * node holds the target's remote state and its own (dirty) bytes;
	 * the old target, now a tombstone, holds the source's identity.
	 */
	in = synced_file();
	in.dirty = true;
	in.mtime_ms = 3000;
	rows[n++] = (struct row){"rename-over: the target id gets the bytes",
				 in, PLAN_UPDATE, PLAN_CONTENT | PLAN_MTIME};
	in = new_file();
	in.deleted = true;
	rows[n++] = (struct row){"rename-over: temp file never in Drive", in,
				 PLAN_FORGET, 0};
	in = synced_file();
	in.deleted = true;
	rows[n++] = (struct row){"rename-over: source was in Drive: trash", in,
				 PLAN_TRASH, 0};

	/* deleting a subtree: one trash of its top, after moves out */
	in = synced_file();
	in.is_dir = true;
	in.attrs = false;
	in.deleted = true;
	rows[n++] = (struct row){"deleted folder", in, PLAN_TRASH, 0};
	in.live_inside = true;
	rows[n++] = (struct row){"deleted folder, a child moved out first", in,
				 PLAN_WAIT, 0};
	in = synced_file();
	in.deleted = true;
	in.covered = true;
	rows[n++] =
	    (struct row){"deleted inside a deleted folder", in, PLAN_WAIT, 0};
	in = synced_file();
	in.deleted = true;
	in.covered = true;
	in.remote_exists = false; /* its folder's trash took it */
	rows[n++] = (struct row){"covered, after the folder's trash", in,
				 PLAN_FORGET, 0};
	check_rows(rows, n);
}

/* The content check before an upload (DESIGN.md "Two machines"). */
static void test_content_check(void)
{
	struct plan_check_in in = {"aaa", 3, false, "aaa", 3, ""};

	CHECK_INT(plan_content_check(&in), PLAN_CHECK_UPLOAD);
	CHECK(!plan_check_needs_local_md5(&in));
	in.remote_version = 5; /* renamed there: bytes unchanged */
	CHECK_INT(plan_content_check(&in), PLAN_CHECK_UPLOAD);
	in.remote_md5 = "bbb"; /* edited there */
	CHECK(plan_check_needs_local_md5(&in));
	in.local_md5 = "ccc";
	CHECK_INT(plan_content_check(&in), PLAN_CHECK_CONFLICT);
	in.local_md5 = "bbb"; /* to the same bytes as ours */
	CHECK_INT(plan_content_check(&in), PLAN_CHECK_SAME);
	in.remote_gone = true;
	CHECK_INT(plan_content_check(&in), PLAN_CHECK_GONE);
	CHECK(!plan_check_needs_local_md5(&in));
	/* No checksums: versions decide, conservatively. */
	in = (struct plan_check_in){"", 3, false, "", 3, ""};
	CHECK_INT(plan_content_check(&in), PLAN_CHECK_UPLOAD);
	in.remote_version = 4;
	CHECK_INT(plan_content_check(&in), PLAN_CHECK_CONFLICT);
	in.base_version = -1;
	in.remote_version = 3;
	CHECK_INT(plan_content_check(&in), PLAN_CHECK_CONFLICT);
}

int main(void)
{
	test_table();
	test_content_check();
	return unit_report();
}
