"""Write-back: what reaches Drive, when, and at what API cost
(DESIGN.md "Write-back: one file id, ever")."""

import os

import pytest

from mountlib import (assert_drive_mirrors, create_requests, drive_paths,
                      mutating_requests, wait_synced)


def settle(m):
    """List the root and wait until nothing is pending, so that request
    counts taken afterwards belong to the test's own actions."""
    os.listdir(m.path)
    wait_synced(m)


def names_ever_in_drive(drive):
    """Every name in Drive, trashed or not."""
    return {f.name for f in drive.tree()}


# ------------------------------------------------- short-lived temp files

def _write_unlink(root):
    p = root / "scratch.tmp"
    p.write_bytes(b"scratch" * 1000)
    assert p.read_bytes() == b"scratch" * 1000
    os.unlink(p)


def _empty_create_unlink(root):
    p = root / "scratch.tmp"
    p.touch()
    os.unlink(p)


def _rename_then_unlink(root):
    (root / "scratch.tmp").write_bytes(b"x")
    os.rename(root / "scratch.tmp", root / "scratch2.tmp")
    os.unlink(root / "scratch2.tmp")


def _dir_tree_removed(root):
    d = root / "scratchdir"
    (d / "sub").mkdir(parents=True)
    (d / "sub" / "scratch.tmp").write_bytes(b"x")
    os.unlink(d / "sub" / "scratch.tmp")
    os.rmdir(d / "sub")
    os.rmdir(d)


TEMP_PATTERNS = {
    "write_unlink": _write_unlink,
    "empty_create_unlink": _empty_create_unlink,
    "rename_then_unlink": _rename_then_unlink,
    "dir_tree_removed": _dir_tree_removed,
}


@pytest.mark.parametrize("pattern", list(TEMP_PATTERNS))
def test_temp_file_within_delay_costs_no_upload(mount_factory, drive,
                                                pattern):
    m = mount_factory(writeback_delay=2)
    settle(m)
    before = drive.stats()
    TEMP_PATTERNS[pattern](m.path)
    # A marker made after the temp file: once it is in Drive, the uploader
    # has passed the moment the temp file would have been sent.
    (m.path / "marker.txt").write_bytes(b"marker")
    wait_synced(m)
    assert "marker.txt" in drive_paths(drive)
    sent = mutating_requests(drive.stats(), before)
    assert len(sent) == 1 and create_requests(drive.stats(), before) == \
        sent, "expected only the marker's create, got %s" % sent
    leaked = names_ever_in_drive(drive) & {"scratch.tmp", "scratch2.tmp",
                                           "scratchdir", "sub"}
    assert not leaked


# ------------------------------------------------------------- API cost

def test_1000_small_files_cost_about_one_request_each(mount, drive):
    settle(mount)
    before = drive.stats()
    d = mount.path / "many"
    d.mkdir()
    for i in range(1000):
        (d / ("f%04d.txt" % i)).write_bytes(
            (b"%04d" % i) * 1024)                      # 4 KiB each
    wait_synced(mount, timeout=180)
    used = drive.stats()["total"] - before["total"]
    assert used <= 1.1 * 1000 + 20, \
        "1000 files of 4 KiB cost %d API requests" % used
    local, _ = assert_drive_mirrors(mount, drive, sub="many")
    assert len(local) == 1000


# -------------------------------------------------------------- unmount

def test_unmount_drains_new_files(mount_factory, drive):
    m = mount_factory(writeback_delay=60)
    d = m.path / "out"
    d.mkdir()
    want = {}
    for i in range(20):
        want["out/r%02d.txt" % i] = b"result %d\n" % i
        (m.path / ("out/r%02d.txt" % i)).write_bytes(want["out/r%02d.txt"
                                                          % i])
    assert m.unmount() == 0
    paths = drive_paths(drive)
    for p, data in want.items():
        assert p in paths, "%s did not reach Drive before exit" % p
        assert drive.content(paths[p].id) == data


def test_unmount_drains_edits_renames_deletes(mount_factory, drive):
    a = drive.seed("a.txt", b"a old")
    b = drive.seed("b.txt", b"b")
    c = drive.seed("c.txt", b"c")
    m = mount_factory(writeback_delay=60)
    (m.path / "a.txt").write_bytes(b"a new")
    os.rename(m.path / "b.txt", m.path / "b-renamed.txt")
    os.unlink(m.path / "c.txt")
    assert m.unmount() == 0
    paths = drive_paths(drive)
    assert drive.content(a.id) == b"a new"
    assert paths["b-renamed.txt"].id == b.id and "b.txt" not in paths
    assert drive.file(c.id).trashed is True
    assert sorted(paths) == ["a.txt", "b-renamed.txt"]


# ----------------------------------------------------------- local-only

LOCAL_ONLY_CASES = {
    # id: (extra --local-only globs, local-only path under pkg/)
    "default_pyc": ((), "mod.pyc"),
    "default_pycache_dir": ((), "__pycache__/mod.cpython-311.pyc"),
    "default_vim_swap": ((), ".keep.py.swp"),
    "custom_glob": (("*.scratch",), "work.scratch"),
    "custom_dir": (("build/",), "build/obj/out.o"),
}


@pytest.mark.parametrize("case", list(LOCAL_ONLY_CASES))
def test_local_only_stays_local(mount_factory, drive, case):
    globs, rel = LOCAL_ONLY_CASES[case]
    m = mount_factory(local_only=globs)
    settle(m)
    before = drive.stats()
    pkg = m.path / "pkg"
    pkg.mkdir()
    (pkg / "keep.py").write_bytes(b"kept\n")
    lo = pkg / rel
    lo.parent.mkdir(parents=True, exist_ok=True)
    lo.write_bytes(b"local only bytes")
    assert lo.read_bytes() == b"local only bytes"
    assert lo.name in os.listdir(lo.parent)
    with open(lo, "ab") as fh:                 # still an ordinary file
        fh.write(b"+")
    assert lo.read_bytes() == b"local only bytes+"
    wait_synced(m)
    paths = drive_paths(drive)
    assert drive.content(paths["pkg/keep.py"].id) == b"kept\n"
    assert sorted(p for p in paths if p.startswith("pkg")) == \
        ["pkg", "pkg/keep.py"]
    made = create_requests(drive.stats(), before)
    assert len(made) == 2, made                # pkg/ and pkg/keep.py
    assert lo.read_bytes() == b"local only bytes+"


# ---------------------------------------------------------------- fsync

@pytest.mark.parametrize("fsync", [None, "remote"], ids=["default",
                                                          "remote"])
@pytest.mark.parametrize("origin", ["new", "existing"])
def test_fsync_remote_returns_once_drive_holds_bytes(mount_factory, drive,
                                                     fsync, origin):
    seeded = drive.seed("f.txt", b"old") if origin == "existing" else None
    m = mount_factory(fsync=fsync, writeback_delay=60)
    with open(m.path / "f.txt", "r+b" if seeded else "wb") as fh:
        fh.write(b"durable bytes")
        fh.flush()
        os.fsync(fh.fileno())
        paths = drive_paths(drive)           # right after fsync returned
        assert "f.txt" in paths, "fsync returned before Drive had the file"
        if seeded:
            assert paths["f.txt"].id == seeded.id
        assert drive.content(paths["f.txt"].id) == b"durable bytes"


def test_fsync_local_does_not_wait_for_drive(mount_factory, drive):
    m = mount_factory(fsync="local", writeback_delay=60)
    settle(m)
    before = drive.stats()
    with open(m.path / "f.txt", "wb") as fh:
        fh.write(b"cached")
        fh.flush()
        os.fsync(fh.fileno())
        assert "f.txt" not in drive_paths(drive)
        assert mutating_requests(drive.stats(), before) == []
    assert m.unmount() == 0
    assert drive.content(drive_paths(drive)["f.txt"].id) == b"cached"


# ------------------------------------------------ coalescing before upload

@pytest.mark.parametrize("renames", [1, 3])
def test_create_then_rename_is_one_create(mount_factory, drive, renames):
    m = mount_factory(writeback_delay=2)
    settle(m)
    before = drive.stats()
    names = ["draft%d.txt" % i for i in range(renames)] + ["final.txt"]
    (m.path / names[0]).write_bytes(b"final content")
    for a, b in zip(names, names[1:]):
        os.rename(m.path / a, m.path / b)
    wait_synced(m)
    paths = drive_paths(drive)
    assert drive.content(paths["final.txt"].id) == b"final content"
    assert not names_ever_in_drive(drive) & set(names[:-1])
    made = create_requests(drive.stats(), before)
    assert len(made) == 1, made
    assert mutating_requests(drive.stats(), before) == made


def test_new_directory_renamed_before_upload(mount_factory, drive):
    m = mount_factory(writeback_delay=2)
    settle(m)
    before = drive.stats()
    (m.path / "d" / "sub").mkdir(parents=True)
    (m.path / "d" / "sub" / "x.txt").write_bytes(b"x")
    os.rename(m.path / "d", m.path / "e")
    wait_synced(m)
    paths = drive_paths(drive)
    assert drive.content(paths["e/sub/x.txt"].id) == b"x"
    assert "d" not in names_ever_in_drive(drive)
    made = create_requests(drive.stats(), before)
    assert len(made) == 3, made                # e, e/sub, e/sub/x.txt
    assert mutating_requests(drive.stats(), before) == made
