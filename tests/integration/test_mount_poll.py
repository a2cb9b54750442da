"""Change polling (docs/SEMANTICS.md "Change polling"): what another client
does in Drive shows up on the mount within the poll interval."""

import os

import pytest

from mountlib import poll_until, wait_synced

POLL = "0.3"
DEADLINE = 15


def polled(mount_factory, **kw):
    kw.setdefault("writeback_delay", 0.1)
    return mount_factory(extra_args=("--poll-interval", POLL), **kw)


def read_or_none(p):
    try:
        with open(p, "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


def names(p):
    try:
        return set(os.listdir(p))
    except FileNotFoundError:
        return None


def test_remote_edit_shows_in_cat(mount_factory, drive):
    f = drive.seed("notes.txt", b"old bytes")
    m = polled(mount_factory)
    assert (m.path / "notes.txt").read_bytes() == b"old bytes"
    drive.act("edit", id=f.id, content=b"new, longer bytes")
    poll_until(lambda: read_or_none(m.path / "notes.txt") ==
               b"new, longer bytes", DEADLINE, "the remote edit")


def test_remote_create_appears(mount_factory, drive):
    drive.seed("a.txt", b"a")
    m = polled(mount_factory)
    assert names(m.path) == {"a.txt"}
    drive.act("create", path="b.txt", content=b"bee")
    poll_until(lambda: "b.txt" in names(m.path), DEADLINE, "b.txt in ls")
    assert (m.path / "b.txt").read_bytes() == b"bee"


def test_remote_rename(mount_factory, drive):
    f = drive.seed("old.txt", b"x")
    m = polled(mount_factory)
    assert (m.path / "old.txt").exists()
    drive.act("rename", id=f.id, name="new.txt")
    poll_until(lambda: names(m.path) == {"new.txt"}, DEADLINE,
               lambda: "rename, ls says %r" % names(m.path))
    assert (m.path / "new.txt").read_bytes() == b"x"
    assert not (m.path / "old.txt").exists()


def test_remote_move(mount_factory, drive):
    f = drive.seed("f.txt", b"moved")
    d = drive.seed("dir/")
    m = polled(mount_factory)
    assert names(m.path / "dir") == set()
    drive.act("move", id=f.id, parent=d.id)
    poll_until(lambda: names(m.path / "dir") == {"f.txt"}, DEADLINE,
               "f.txt in dir")
    assert "f.txt" not in names(m.path)
    assert (m.path / "dir" / "f.txt").read_bytes() == b"moved"


@pytest.mark.parametrize("op", ["trash", "delete"])
def test_remote_removal_disappears(mount_factory, drive, op):
    f = drive.seed("gone.txt", b"bye")
    m = polled(mount_factory)
    assert (m.path / "gone.txt").read_bytes() == b"bye"
    drive.act(op, id=f.id)
    poll_until(lambda: "gone.txt" not in names(m.path), DEADLINE,
               "gone.txt to disappear")
    assert not (m.path / "gone.txt").exists()
    wait_synced(m)
    # Nothing was sent back: the mount did not re-create or trash it.
    if op == "trash":
        assert drive.file(f.id)["trashed"] is True


def test_move_out_of_root_disappears(mount_factory, drive):
    drive.seed("sub/")
    outside = drive.seed("elsewhere/")
    f = drive.seed("sub/inside.txt", b"in")
    m = polled(mount_factory, root="sub")
    assert names(m.path) == {"inside.txt"}
    drive.act("move", id=f.id, parent=outside.id)
    poll_until(lambda: names(m.path) == set(), DEADLINE,
               "inside.txt to leave the mount")
    wait_synced(m)
    assert drive.file(f.id)["parents"] == [outside.id]


def test_move_into_root_appears(mount_factory, drive):
    sub = drive.seed("sub/")
    f = drive.seed("elsewhere/came.txt", b"came in")
    m = polled(mount_factory, root="sub")
    assert names(m.path) == set()
    drive.act("move", id=f.id, parent=sub.id)
    poll_until(lambda: names(m.path) == {"came.txt"}, DEADLINE,
               "came.txt to enter the mount")
    assert (m.path / "came.txt").read_bytes() == b"came in"


def test_change_outside_root_ignored(mount_factory, drive):
    drive.seed("sub/")
    f = drive.seed("elsewhere/x.txt", b"x")
    m = polled(mount_factory, root="sub")
    assert names(m.path) == set()
    drive.act("edit", id=f.id, content=b"y")
    marker = drive.act("create", path="sub/marker.txt", content=b"m")
    poll_until(lambda: "marker.txt" in names(m.path), DEADLINE,
               "the marker to appear")
    assert names(m.path) == {"marker.txt"}
    assert marker.id


def test_open_reader_sees_one_version(mount_factory, drive):
    old = b"A" * 5000
    new = b"B" * 7000
    f = drive.seed("r.txt", old)
    m = polled(mount_factory)
    fd = os.open(m.path / "r.txt", os.O_RDONLY)
    try:
        assert os.pread(fd, 100, 0) == old[:100]
        drive.reset_stats()
        drive.act("edit", id=f.id, content=new)

        # While polls apply the edit, and after, every whole read through
        # the open descriptor (and a second open meanwhile) is one
        # version, never a mix.
        def check():
            got = os.pread(fd, 65536, 0)
            assert got in (old, new), "mixed read: %d bytes %r...%r" % (
                len(got), got[:8], got[-8:])
            again = read_or_none(m.path / "r.txt")
            assert again in (old, new), "mixed second open"
            return drive.count("changes.list") >= 3
        poll_until(check, DEADLINE, "three polls")
    finally:
        os.close(fd)
    poll_until(lambda: read_or_none(m.path / "r.txt") == new, DEADLINE,
               "the edit after the last close")


def test_edit_on_one_mount_appears_on_other(mount_factory, drive):
    drive.seed("shared.txt", b"v1")
    a = polled(mount_factory)
    b = polled(mount_factory)
    assert (a.path / "shared.txt").read_bytes() == b"v1"
    assert (b.path / "shared.txt").read_bytes() == b"v1"
    (a.path / "shared.txt").write_bytes(b"v2 from mount A")
    wait_synced(a)
    poll_until(lambda: read_or_none(b.path / "shared.txt") ==
               b"v2 from mount A", DEADLINE, "mount B to see A's edit")


def test_own_upload_not_reapplied(mount_factory, drive):
    m = polled(mount_factory)
    (m.path / "mine.txt").write_bytes(b"local")
    wait_synced(m)
    f = drive.by_path("mine.txt")
    drive.reset_stats()
    # A few polls go by; the file stays as written, nothing is re-sent.
    poll_until(lambda: drive.count("changes.list") >= 3, DEADLINE,
               "three polls")
    assert (m.path / "mine.txt").read_bytes() == b"local"
    assert drive.count("files.get.media") == 0
    assert drive.content(f["id"]) == b"local"


def test_remote_folder_rename_keeps_children(mount_factory, drive):
    d = drive.seed("old_dir/")
    drive.seed("old_dir/in.txt", b"inside")
    m = polled(mount_factory)
    assert names(m.path / "old_dir") == {"in.txt"}
    drive.act("rename", id=d.id, name="new_dir")
    poll_until(lambda: names(m.path) == {"new_dir"}, DEADLINE,
               "the folder rename")
    assert (m.path / "new_dir" / "in.txt").read_bytes() == b"inside"


def test_remote_swap_of_nested_folders(mount_factory, drive):
    # a/b becomes b/a in Drive: both stay reachable, no cycle.
    a = drive.seed("a/")
    b = drive.seed("a/b/")
    drive.seed("a/b/f.txt", b"f")
    m = polled(mount_factory)
    assert names(m.path / "a" / "b") == {"f.txt"}
    drive.act("move", id=b.id, parent=drive.root_id)
    drive.act("move", id=a.id, parent=b.id)
    poll_until(lambda: names(m.path) == {"b"} and
               names(m.path / "b") == {"a", "f.txt"}, DEADLINE,
               lambda: "b/a, ls says %r" % names(m.path))
    assert names(m.path / "b" / "a") == set()


def test_poll_failure_warns_once_and_recovers(mount_factory, drive):
    f = drive.seed("p.txt", b"before")
    m = polled(mount_factory)
    m.allow_log(r"polling Drive for changes failed")
    assert (m.path / "p.txt").read_bytes() == b"before"
    drive.reset_stats()
    drive.fault(kind="changes.list", status=400, reason="badRequest")
    drive.act("edit", id=f.id, content=b"after")
    poll_until(lambda: drive.count("changes.list") >= 4, DEADLINE,
               "failing polls")
    assert m.log().count("polling Drive for changes failed") == 1
    drive.clear_faults()
    # The token was kept: the edit made during the outage arrives.
    poll_until(lambda: read_or_none(m.path / "p.txt") == b"after",
               DEADLINE, "the edit after the outage")


def test_remote_swap_seen_in_reverse_order(mount_factory, drive):
    # Drive lists each file once, at its last change: a's move into b can
    # come before b's move out of a. The mount must not make a cycle.
    a = drive.seed("a/")
    b = drive.seed("a/b/")
    drive.seed("a/b/f.txt", b"f")
    m = polled(mount_factory)
    assert names(m.path / "a" / "b") == {"f.txt"}
    drive.act("move", id=b.id, parent=drive.root_id)
    drive.act("move", id=a.id, parent=b.id)
    drive.act("rename", id=b.id, name="b2")
    poll_until(lambda: names(m.path) == {"b2"} and
               names(m.path / "b2") == {"a", "f.txt"}, DEADLINE,
               lambda: "b2/a, ls says %r" % names(m.path))
    assert (m.path / "b2" / "f.txt").read_bytes() == b"f"


def test_dirty_file_keeps_local_bytes(mount_factory, drive):
    f = drive.seed("d.txt", b"base")
    m = polled(mount_factory, writeback_delay=30,
               allow_log=[r"conflict \(keep-both\)"])
    (m.path / "d.txt").write_bytes(b"local edit")
    drive.reset_stats()
    drive.act("edit", id=f.id, content=b"remote edit")
    poll_until(lambda: drive.count("changes.list") >= 3, DEADLINE,
               "three polls")
    assert (m.path / "d.txt").read_bytes() == b"local edit"
    assert "keeping the local state" in m.log()
    # At unmount the upload meets the remote edit: both are kept
    # (test_mount_conflicts.py has the details).
    m.unmount()
    got = sorted(drive.content(x["id"]) for x in drive.tree()
                 if not x.get("trashed"))
    assert got == [b"local edit", b"remote edit"]


def test_namespace_changes_on_one_mount_appear_on_other(mount_factory, drive):
    # Within writeback delay + poll interval + a margin (DEADLINE).
    drive.seed("keep/", None)
    a = polled(mount_factory)
    b = polled(mount_factory)
    assert names(b.path) == {"keep"}
    (a.path / "new.txt").write_bytes(b"created on A")
    poll_until(lambda: read_or_none(b.path / "new.txt") == b"created on A",
               DEADLINE, "B to see A's create")
    os.rename(a.path / "new.txt", a.path / "renamed.txt")
    poll_until(lambda: names(b.path) == {"keep", "renamed.txt"}, DEADLINE,
               lambda: "B to see A's rename, ls says %r" % names(b.path))
    os.rename(a.path / "renamed.txt", a.path / "keep" / "moved.txt")
    poll_until(lambda: names(b.path / "keep") == {"moved.txt"} and
               names(b.path) == {"keep"}, DEADLINE, "B to see A's move")
    assert (b.path / "keep" / "moved.txt").read_bytes() == b"created on A"
    os.mkdir(a.path / "dir")
    poll_until(lambda: "dir" in names(b.path), DEADLINE, "B to see A's mkdir")
    os.unlink(a.path / "keep" / "moved.txt")
    poll_until(lambda: names(b.path / "keep") == set(), DEADLINE,
               "B to see A's delete")
    wait_synced(a)
    wait_synced(b)
