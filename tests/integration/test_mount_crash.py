"""Crash recovery (docs/SEMANTICS.md "Crash recovery", INTERNALS.md
"Journal"): kill -9 the daemon at several points, restart it on the same
cache dir, and check that Drive ends up holding every acknowledged byte and
rename. Also: a torn journal tail is ignored, a second daemon on one cache
dir is refused."""

import glob
import hashlib
import os
import subprocess

import pytest

from mountlib import (_build_argv, ctl_file, drive_files, drive_paths,
                      poll_until, wait_synced)

LONG = 3600          # writeback delay that keeps everything queued
DEADLINE = 60
TORN = r"ignored \d+ bytes of a torn or damaged journal tail"


def md5(b):
    return hashlib.md5(b).hexdigest()


def kill9(m):
    """SIGKILL the daemon by its PID (no drain, no clean exit)."""
    m.expect_exit = (-9,)
    m._kill()
    m._stopped = True
    assert m.proc.returncode == -9


def journal_of(m):
    found = glob.glob(os.path.join(str(m.cache_dir), "*", "journal"))
    assert len(found) == 1, found
    return found[0]


def restart(mount_factory, m, **kw):
    m2 = mount_factory(cache_dir=m.cache_dir, **kw)
    wait_synced(m2, DEADLINE)
    return m2


def assert_files(drive, want):
    files = drive_files(drive)
    for path, data in want.items():
        assert path in files, (path, sorted(files))
        assert files[path]["md5Checksum"] == md5(data), path


# ------------------------------------------------------ before the upload

# Killed within the journal's sync period: acknowledged records are in the
# journal file (page cache) but not yet fdatasync'ed, which kill -9 must not
# lose; --journal-sync fdatasyncs each before the reply.
@pytest.mark.parametrize("extra", [(), ("--journal-sync",)],
                         ids=["default", "journal-sync"])
def test_crash_before_upload(mount_factory, drive, extra):
    old = drive.seed("edit.txt", b"version one\n")
    drive.seed("deep/er/est/old.txt", b"old\n")
    m = mount_factory(writeback_delay=LONG, extra_args=extra)
    want = {}
    for i in range(20):
        data = os.urandom(1000 + i * 517)
        (m.path / ("f%02d.bin" % i)).write_bytes(data)
        want["f%02d.bin" % i] = data
    os.mkdir(m.path / "sub")
    (m.path / "sub" / "inner.txt").write_bytes(b"inside\n")
    want["sub/inner.txt"] = b"inside\n"
    with open(m.path / "edit.txt", "ab") as f:
        f.write(b"version two\n")
    want["edit.txt"] = b"version one\nversion two\n"
    # A folder deep in Drive: found again by listing down to it.
    (m.path / "deep" / "er" / "est" / "new.txt").write_bytes(b"new\n")
    want["deep/er/est/new.txt"] = b"new\n"
    assert "f00.bin" not in drive_files(drive)   # still queued
    kill9(m)

    m2 = restart(mount_factory, m)
    assert "recovered" in m2.log()
    assert_files(drive, want)
    # The edit went into the same Drive file (its base was journaled).
    assert drive_files(drive)["edit.txt"]["id"] == old.id
    for name, data in want.items():
        assert (m2.path / name).read_bytes() == data


# ------------------------------------------- in the middle of an upload

def test_crash_mid_resumable_upload(mount_factory, drive):
    size = 12 << 20                     # resumable (over 5 MiB)
    data = os.urandom(size)
    drive.config(bandwidth=1 << 20)     # about 12 s: time to kill it
    m = mount_factory(writeback_delay=0.2)
    (m.path / "big.bin").write_bytes(data)

    def uploading():
        try:
            return ctl_file(m, "big.bin")["state"] == "uploading"
        except OSError:
            return False
    poll_until(uploading, DEADLINE, "big.bin uploading")
    kill9(m)
    drive.config(bandwidth=0)

    restart(mount_factory, m)
    assert_files(drive, {"big.bin": data})


# -------------------------------------------------- between namespace ops

def test_crash_between_namespace_ops(mount_factory, drive):
    drive.seed("keep/moved.txt", b"moved\n")
    drive.seed("trash-me.txt", b"bye\n")
    m = mount_factory(writeback_delay=LONG)
    os.listdir(m.path / "keep")
    os.mkdir(m.path / "d")
    (m.path / "d" / "a.txt").write_bytes(b"alpha\n")
    os.rename(m.path / "d" / "a.txt", m.path / "d" / "b.txt")
    (m.path / "scratch.txt").write_bytes(b"never\n")
    os.unlink(m.path / "scratch.txt")
    os.mkdir(m.path / "e")
    os.rename(m.path / "d", m.path / "e" / "d2")
    os.rename(m.path / "keep" / "moved.txt", m.path / "e" / "moved.txt")
    os.unlink(m.path / "trash-me.txt")
    kill9(m)

    restart(mount_factory, m)
    paths = drive_paths(drive)
    assert_files(drive, {"e/d2/b.txt": b"alpha\n",
                         "e/moved.txt": b"moved\n"})
    for gone in ("d", "d/a.txt", "scratch.txt", "trash-me.txt",
                 "keep/moved.txt", "e/d2/a.txt"):
        assert gone not in paths, gone
    assert "keep" in paths


# ------------------------------------------------ after an editor's save

def test_crash_after_rename_over(mount_factory, drive):
    target = drive.seed("notes.py", b"print('old')\n")
    m = mount_factory(writeback_delay=LONG)
    assert (m.path / "notes.py").read_bytes() == b"print('old')\n"
    (m.path / "notes.py.tmp").write_bytes(b"print('new')\n")
    os.rename(m.path / "notes.py.tmp", m.path / "notes.py")
    kill9(m)
    creates = drive.count("files.create")

    restart(mount_factory, m)
    files = drive_files(drive)
    assert sorted(files) == ["notes.py"]
    assert files["notes.py"]["id"] == target.id      # same Drive file
    assert files["notes.py"]["md5Checksum"] == md5(b"print('new')\n")
    assert drive.count("files.create") == creates    # no twin


# ------------------------------------------------- --fsync local, compaction

def test_crash_after_fsync_local(mount_factory, drive):
    m = mount_factory(writeback_delay=LONG, fsync="local")
    data = os.urandom(300000)
    fd = os.open(m.path / "synced.bin", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
        kill9(m)                         # still open: no release came
    finally:
        try:
            os.close(fd)
        except OSError:
            pass

    restart(mount_factory, m)
    assert_files(drive, {"synced.bin": data})


def test_crash_after_compaction(mount_factory, drive):
    # Long symlink targets make big records: the journal passes 1 MiB
    # and is compacted while the daemon runs; most of the links are then
    # removed again (DONE records after the snapshot).
    m = mount_factory(writeback_delay=LONG,
                      env={"DRIVEFS_LOG": "info,journal=debug"})
    target = "x/" * 1500
    for i in range(400):
        os.symlink(target + str(i), m.path / ("l%03d" % i))
    for i in range(40, 400):
        os.unlink(m.path / ("l%03d" % i))
    poll_until(lambda: "compacted the journal" in m.log(), DEADLINE,
               "a compaction")
    kill9(m)

    m2 = restart(mount_factory, m)
    names = sorted(p for p in drive_paths(drive))
    assert names == ["l%03d" % i for i in range(40)]
    for i in range(40):
        assert os.readlink(m2.path / ("l%03d" % i)) == target + str(i)


# ------------------------------------------------------ a torn journal

def test_torn_tail_truncated(mount_factory, drive):
    m = mount_factory(writeback_delay=LONG)
    (m.path / "first.txt").write_bytes(b"first\n")
    (m.path / "second.txt").write_bytes(b"second\n")
    kill9(m)
    j = journal_of(m)
    size = os.path.getsize(j)
    os.truncate(j, size - 5)            # the last record is cut

    m2 = restart(mount_factory, m, allow_log=[TORN])
    assert "torn" in m2.log()
    # Every record before the cut applied; nothing garbled reached Drive.
    files = drive_files(drive)
    assert files["first.txt"]["md5Checksum"] == md5(b"first\n")
    for f in files.values():
        assert f["name"] in ("first.txt", "second.txt")


def test_torn_tail_garbage(mount_factory, drive):
    m = mount_factory(writeback_delay=LONG)
    (m.path / "a.txt").write_bytes(b"a\n")
    os.mkdir(m.path / "dir")
    (m.path / "dir" / "b.txt").write_bytes(b"b\n")
    kill9(m)
    with open(journal_of(m), "ab") as f:
        f.write(b"\x30\x00\x00\x00garbage that is not a record" * 3)

    m2 = restart(mount_factory, m, allow_log=[TORN])
    assert "torn" in m2.log()
    assert_files(drive, {"a.txt": b"a\n", "dir/b.txt": b"b\n"})
    assert sorted(drive_files(drive)) == ["a.txt", "dir/b.txt"]


def test_clean_restart_leaves_empty_journal(mount_factory, drive):
    m = mount_factory()
    (m.path / "x.txt").write_bytes(b"x\n")
    wait_synced(m)
    m.unmount()
    assert m.proc.returncode == 0
    # Only the magic is left: nothing to recover.
    assert os.path.getsize(journal_of(m)) == 8
    m2 = mount_factory(cache_dir=m.cache_dir)
    assert "recovered" not in m2.log()


# ------------------------------------------------- one daemon per cache

def test_second_daemon_refused(mount_factory, drive, creds_file, tmp_path):
    m = mount_factory()
    mnt = tmp_path / "second"
    mnt.mkdir()
    argv = _build_argv(drive, creds_file, mnt, m.cache_dir, 0.2, None, (),
                       False, None, 1000, False, ())
    r = subprocess.run(argv, stdin=subprocess.DEVNULL,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=DEADLINE)
    out = r.stdout.decode("utf-8", "replace")
    assert r.returncode != 0
    assert "in use by another drivefs daemon (pid %d)" % m.pid in out, out
    assert not os.path.ismount(mnt)
    # The first mount is unharmed.
    (m.path / "still.txt").write_bytes(b"ok\n")
    wait_synced(m)
