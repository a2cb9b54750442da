"""Warm remount (docs/SEMANTICS.md "Mounting and unmounting", INTERNALS.md
"Snapshot"): a clean unmount (or a periodic write) leaves a metadata
snapshot in the cache dir; a remount with the same cache dir serves its
first `ls` from it with at most a token refresh and one changes.list
catch-up, applies what changed in Drive meanwhile, ignores a damaged or
foreign snapshot, and still lands the journal's pending work."""

import glob
import os
import shutil
import signal
import time

from mountlib import drive_files, poll_until, wait_synced

DEADLINE = 30
IGNORED = r"ignored the metadata snapshot"


def listing(path):
    return sorted(os.listdir(path))


def walk(root):
    """{relative path: bytes or None (folder)} of everything under root."""
    out = {}
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        for n in dirs:
            out[os.path.normpath(os.path.join(rel, n))] = None
        for n in files:
            p = os.path.join(d, n)
            with open(p, "rb") as f:
                out[os.path.normpath(os.path.join(rel, n))] = f.read()
    return out


def seed_tree(drive):
    return {
        "a.txt": drive.seed("a.txt", b"alpha\n"),
        "b.txt": drive.seed("b.txt", b"bravo\n"),
        "sub/c.txt": drive.seed("sub/c.txt", b"charlie\n"),
        "sub/deep/d.txt": drive.seed("sub/deep/d.txt", b"delta\n"),
        "other/e.txt": drive.seed("other/e.txt", b"echo\n"),
    }


def snapshot_of(m):
    found = glob.glob(os.path.join(str(m.cache_dir), "*", "snapshot"))
    assert len(found) == 1, found
    return found[0]


def first_mount(mount_factory, **kw):
    """Mount cold, walk everything (ls -lR), unmount cleanly."""
    m = mount_factory(**kw)
    tree = walk(m.path)
    assert m.unmount() == 0
    return m, tree


def api_calls(drive):
    st = drive.stats()
    return st["total"], st["requests"]


def test_remount_lists_from_snapshot(mount_factory, drive):
    seed_tree(drive)
    m, tree = first_mount(mount_factory)
    assert os.path.getsize(snapshot_of(m)) > 0
    drive.reset_stats()
    m2 = mount_factory(cache_dir=m.cache_dir)
    assert listing(m2.path) == ["a.txt", "b.txt", "other", "sub"]
    assert listing(m2.path / "sub") == ["c.txt", "deep"]
    total, kinds = api_calls(drive)
    assert total <= 2, kinds
    assert "files.list" not in kinds and "about.get" not in kinds, kinds
    assert walk(m2.path) == tree
    assert "loaded the metadata snapshot" in m2.log()


def test_changes_while_unmounted_appear(mount_factory, drive):
    f = seed_tree(drive)
    m, _ = first_mount(mount_factory)
    drive.act("create", path="sub/new.txt", content=b"new\n")
    drive.act("edit", id=f["a.txt"]["id"], content=b"alpha, edited\n")
    drive.act("rename", id=f["b.txt"]["id"], name="b-renamed.txt")
    drive.act("move", id=f["other/e.txt"]["id"],
              parent=f["sub/c.txt"]["parents"][0])
    drive.act("delete", id=f["sub/deep/d.txt"]["id"])
    m2 = mount_factory(cache_dir=m.cache_dir)
    want = {
        ".": ["a.txt", "b-renamed.txt", "other", "sub"],
        "sub": ["c.txt", "deep", "e.txt", "new.txt"],
        "sub/deep": [],
        "other": [],
    }
    poll_until(lambda: all(listing(m2.path / d) == v
                           for d, v in want.items()),
               DEADLINE, lambda: "the catch-up; log:\n" + m2.log_tail())
    assert (m2.path / "a.txt").read_bytes() == b"alpha, edited\n"
    assert (m2.path / "sub/new.txt").read_bytes() == b"new\n"
    assert (m2.path / "sub/e.txt").read_bytes() == b"echo\n"


def test_changes_catch_up_with_polling(mount_factory, drive):
    f = seed_tree(drive)
    m, _ = first_mount(mount_factory, extra_args=["--poll-interval", "1"])
    drive.act("trash", id=f["a.txt"]["id"])
    m2 = mount_factory(cache_dir=m.cache_dir,
                       extra_args=["--poll-interval", "1"])
    poll_until(lambda: "a.txt" not in listing(m2.path), DEADLINE,
               "a.txt to go")
    drive.act("create", path="late.txt", content=b"late\n")
    poll_until(lambda: "late.txt" in listing(m2.path), DEADLINE,
               "late.txt to appear (polling after the catch-up)")


def damage(path, how):
    data = open(path, "rb").read()
    if how == "truncated":
        data = data[:len(data) // 2]
    elif how == "flipped":
        b = bytearray(data)
        b[len(b) - 3] ^= 0x40
        data = bytes(b)
    elif how == "empty":
        data = b""
    elif how == "version":
        b = bytearray(data)
        b[8] = 99
        data = bytes(b)
    with open(path, "wb") as f:
        f.write(data)


def test_damaged_snapshot_ignored(mount_factory, drive):
    seed_tree(drive)
    m, tree = first_mount(mount_factory)
    for how in ("truncated", "flipped", "empty", "version"):
        damage(snapshot_of(m), how)
        drive.reset_stats()
        m2 = mount_factory(cache_dir=m.cache_dir, allow_log=[IGNORED])
        assert walk(m2.path) == tree, how
        assert drive.stats()["requests"].get("files.list", 0) >= 1, how
        if how != "empty":
            assert "ignored the metadata snapshot" in m2.log(), how
        assert m2.unmount() == 0


def test_foreign_snapshot_ignored(mount_factory, drive):
    seed_tree(drive)
    m, _ = first_mount(mount_factory, root="sub")
    # The same cache dir, another --root: its own subfolder, cold.
    m2 = mount_factory(cache_dir=m.cache_dir, root="other")
    assert listing(m2.path) == ["e.txt"]
    assert m2.unmount() == 0
    # Plant sub's snapshot in other's folder: refused (root id differs).
    dirs = {os.path.basename(os.path.dirname(p)): p for p in
            glob.glob(os.path.join(str(m.cache_dir), "*", "snapshot"))}
    assert len(dirs) == 2
    sub_id = drive.by_path("sub")["id"]
    other_id = drive.by_path("other")["id"]
    shutil.copyfile(dirs[sub_id], dirs[other_id])
    m3 = mount_factory(cache_dir=m.cache_dir, root="other",
                       allow_log=[IGNORED])
    assert listing(m3.path) == ["e.txt"]
    assert "of another account or root folder" in m3.log()


def test_crash_after_changes_then_remount(mount_factory, drive):
    seed_tree(drive)
    m, _ = first_mount(mount_factory)
    m2 = mount_factory(cache_dir=m.cache_dir)
    (m2.path / "made.txt").write_bytes(b"made here\n")
    os.rename(m2.path / "b.txt", m2.path / "sub" / "b-moved.txt")
    (m2.path / "sub" / "deep" / "d.txt").unlink()
    wait_synced(m2, DEADLINE)
    m2.expect_exit = (-9,)
    m2._kill()
    m2._stopped = True
    m3 = mount_factory(cache_dir=m.cache_dir)
    want = {".": ["a.txt", "made.txt", "other", "sub"],
            "sub": ["b-moved.txt", "c.txt", "deep"], "sub/deep": []}
    poll_until(lambda: all(listing(m3.path / d) == v
                           for d, v in want.items()),
               DEADLINE, lambda: "the catch-up; log:\n" + m3.log_tail())
    assert (m3.path / "made.txt").read_bytes() == b"made here\n"
    assert (m3.path / "sub" / "b-moved.txt").read_bytes() == b"bravo\n"


def test_journal_work_lands_after_remount(mount_factory, drive):
    f = seed_tree(drive)
    m, _ = first_mount(mount_factory)
    m2 = mount_factory(cache_dir=m.cache_dir, writeback_delay=3600)
    (m2.path / "sub" / "queued.txt").write_bytes(b"queued\n")
    (m2.path / "a.txt").write_bytes(b"alpha, local\n")
    os.rename(m2.path / "other", m2.path / "other-renamed")
    m2.expect_exit = (-9,)
    m2._kill()
    m2._stopped = True
    m3 = mount_factory(cache_dir=m.cache_dir)
    assert (m3.path / "sub" / "queued.txt").read_bytes() == b"queued\n"
    assert (m3.path / "a.txt").read_bytes() == b"alpha, local\n"
    assert listing(m3.path) == ["a.txt", "b.txt", "other-renamed", "sub"]
    wait_synced(m3, DEADLINE)
    files = drive_files(drive)
    assert "sub/queued.txt" in files
    assert "other-renamed/e.txt" in files
    assert files["a.txt"]["id"] == f["a.txt"]["id"]
    assert drive.content(f["a.txt"]["id"]) == b"alpha, local\n"


def test_refused_token_relists(mount_factory, drive):
    f = seed_tree(drive)
    m, _ = first_mount(mount_factory)
    drive.act("create", path="sub/while-away.txt", content=b"w\n")
    drive.act("delete", id=f["b.txt"]["id"])
    # Drive no longer takes the saved token (as after a very long time).
    drive.fault(kind="changes.list", status=400, reason="invalid",
                count=1)
    m2 = mount_factory(cache_dir=m.cache_dir,
                       allow_log=[r"Drive refused the saved changes token"])
    poll_until(lambda: "Drive refused the saved changes token" in m2.log(),
               DEADLINE, "the refused token")
    poll_until(lambda: listing(m2.path) == ["a.txt", "other", "sub"],
               DEADLINE, lambda: "the relisted root: %r" % listing(m2.path))
    assert listing(m2.path / "sub") == ["c.txt", "deep", "while-away.txt"]


def test_rename_over_after_snapshot_then_crash(mount_factory, drive):
    # The journal's record moves a.txt's Drive id to another inode than
    # the snapshot's: the snapshot's node of it must give way.
    f = seed_tree(drive)
    m, _ = first_mount(mount_factory)
    m2 = mount_factory(cache_dir=m.cache_dir, writeback_delay=3600)
    (m2.path / "a.txt.tmp").write_bytes(b"alpha, saved\n")
    os.rename(m2.path / "a.txt.tmp", m2.path / "a.txt")
    m2.expect_exit = (-9,)
    m2._kill()
    m2._stopped = True
    m3 = mount_factory(cache_dir=m.cache_dir)
    assert listing(m3.path) == ["a.txt", "b.txt", "other", "sub"]
    assert (m3.path / "a.txt").read_bytes() == b"alpha, saved\n"
    wait_synced(m3, DEADLINE)
    assert drive.content(f["a.txt"]["id"]) == b"alpha, saved\n"
    assert drive_files(drive)["a.txt"]["id"] == f["a.txt"]["id"]


def test_periodic_snapshot_survives_crash(mount_factory, drive):
    seed_tree(drive)
    env = {"DRIVEFS_SNAPSHOT_PERIOD_MS": "400"}
    m = mount_factory(env=env)
    tree = walk(m.path)
    walked = time.time()

    def written():
        # One written after the walk, or (if the walk changed nothing
        # after an earlier write) any once two periods have passed.
        found = glob.glob(os.path.join(str(m.cache_dir), "*", "snapshot"))
        return found and (os.stat(found[0]).st_mtime > walked or
                          time.time() > walked + 2)
    poll_until(written, DEADLINE, "a periodic snapshot")
    m.expect_exit = (-9,)
    m._kill()
    m._stopped = True
    drive.reset_stats()
    m2 = mount_factory(cache_dir=m.cache_dir)
    assert listing(m2.path) == ["a.txt", "b.txt", "other", "sub"]
    total, kinds = api_calls(drive)
    assert total <= 2 and "files.list" not in kinds, kinds
    assert walk(m2.path) == tree


def test_sigterm_leaves_snapshot(mount_factory, drive):
    seed_tree(drive)
    m = mount_factory()
    tree = walk(m.path)
    os.kill(m.pid, signal.SIGTERM)
    assert m.proc.wait(DEADLINE) == 0
    assert os.path.getsize(snapshot_of(m)) > 0
    drive.reset_stats()
    m2 = mount_factory(cache_dir=m.cache_dir)
    assert walk(m2.path) == tree
    total, kinds = api_calls(drive)
    assert "files.list" not in kinds, kinds
