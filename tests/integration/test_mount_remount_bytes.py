"""Warm remount, cached bytes (docs/SEMANTICS.md "Mounting and unmounting",
INTERNALS.md "Snapshot"): a remount with the same cache dir keeps the
clean, whole cached files of the last run. Before their first use each
one's MD5 is compared with Drive's current md5: a file edited in Drive
while unmounted, a cache file damaged, cut, grown or removed, or a file
that was only partly cached is downloaded again; a file whose bytes check
out costs no download."""

import glob
import os
import time

import pytest

from mountlib import poll_until

DEADLINE = 30
CAUGHT_UP = "caught up with Drive"
BIG = 12 << 20  # over the 8 MiB whole-file limit: fetched by ranges


def blob(n, seed):
    """n bytes that differ per seed and per position."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += (b"%s-%08d|" % (seed, i))
        i += 1
    return bytes(out[:n])


def seed_files(drive):
    return {
        "a.txt": (drive.seed("a.txt", b"alpha\n"), b"alpha\n"),
        "sub/b.bin": (drive.seed("sub/b.bin", blob(300000, b"b")),
                      blob(300000, b"b")),
        "big.bin": (drive.seed("big.bin", blob(BIG, b"big")),
                    blob(BIG, b"big")),
    }


def read_all(m, files):
    return {p: (m.path / p).read_bytes() for p in files}


def downloads(drive):
    return drive.stats()["requests"].get("files.get.media", 0)


def content_file(m, data):
    """The cache file holding exactly @data."""
    hits = [p for p in glob.glob(os.path.join(str(m.cache_dir), "*",
                                              "content", "*"))
            if open(p, "rb").read() == data]
    assert len(hits) == 1, hits
    return hits[0]


def warm(mount_factory, drive, **kw):
    """Mount cold, read every file whole, unmount cleanly."""
    files = seed_files(drive)
    m = mount_factory(**kw)
    got = read_all(m, files)
    assert got == {p: want for p, (_, want) in files.items()}
    assert m.unmount() == 0
    return m, files


def caught_up(m):
    poll_until(lambda: CAUGHT_UP in m.log(), DEADLINE,
               lambda: "the catch-up; log:\n" + m.log_tail())


def test_remount_reads_kept_bytes(mount_factory, drive):
    m, files = warm(mount_factory, drive)
    m2 = mount_factory(cache_dir=m.cache_dir)
    caught_up(m2)
    drive.reset_stats()
    assert read_all(m2, files) == {p: w for p, (_, w) in files.items()}
    assert downloads(drive) == 0, drive.stats()["requests"]
    # After the catch-up nothing is asked of Drive to check them.
    assert drive.stats()["requests"].get("files.get", 0) == 0
    assert "kept 3 cached files" in m2.log()
    assert m2.unmount() == 0
    assert "3 checked and used, 0 dropped" in m2.log()


def test_remount_read_before_catch_up(mount_factory, drive):
    m, files = warm(mount_factory, drive)
    # The catch-up is slow: the reads below come before it.
    drive.fault(kind="changes.list", action="delay", delay_ms=3000,
                count=1)
    m2 = mount_factory(cache_dir=m.cache_dir)
    drive.reset_stats()
    assert read_all(m2, files) == {p: w for p, (_, w) in files.items()}
    assert CAUGHT_UP not in m2.log()
    assert downloads(drive) == 0, drive.stats()["requests"]


@pytest.mark.parametrize("when", ["before", "after"])
def test_edited_while_unmounted(mount_factory, drive, when):
    m, files = warm(mount_factory, drive)
    # a.txt keeps its size (only the md5 tells the versions apart);
    # big.bin grows (the kernel must not keep the old size either).
    new_a = b"ALPHA\n"
    new_big = blob(BIG + 5000, b"BIG")
    drive.act("edit", id=files["a.txt"][0]["id"], content=new_a)
    drive.act("edit", id=files["big.bin"][0]["id"], content=new_big)
    if when == "before":
        drive.fault(kind="changes.list", action="delay", delay_ms=3000,
                    count=1)
    m2 = mount_factory(cache_dir=m.cache_dir)
    if when == "after":
        caught_up(m2)
    assert (m2.path / "a.txt").read_bytes() == new_a
    assert (m2.path / "big.bin").read_bytes() == new_big
    assert (m2.path / "sub/b.bin").read_bytes() == files["sub/b.bin"][1]
    if when == "before":
        assert CAUGHT_UP not in m2.log()


@pytest.mark.parametrize("how", ["flipped", "deleted", "truncated",
                                 "grown"])
def test_damaged_cache_file(mount_factory, drive, how):
    m, files = warm(mount_factory, drive)
    want = files["sub/b.bin"][1]
    path = content_file(m, want)
    if how == "flipped":
        with open(path, "r+b") as f:  # same size, other bytes
            f.seek(1000)
            f.write(b"XXXXXXXX")
    elif how == "deleted":
        os.unlink(path)
    elif how == "truncated":
        os.truncate(path, len(want) // 2)
    else:
        with open(path, "ab") as f:
            f.write(b"tail")
    m2 = mount_factory(cache_dir=m.cache_dir)
    drive.reset_stats()
    assert (m2.path / "sub/b.bin").read_bytes() == want
    assert downloads(drive) >= 1
    if how == "flipped":
        assert "are damaged" in m2.log()
    # The others were kept.
    drive.reset_stats()
    assert (m2.path / "a.txt").read_bytes() == b"alpha\n"
    assert downloads(drive) == 0


def test_partly_cached_file_not_kept(mount_factory, drive):
    files = seed_files(drive)
    m = mount_factory()
    # One read in the middle: no readahead, a few MiB fetched.
    fd = os.open(m.path / "big.bin", os.O_RDONLY)
    try:
        mid = os.pread(fd, 4096, 6 << 20)
    finally:
        os.close(fd)
    assert mid == files["big.bin"][1][6 << 20:(6 << 20) + 4096]
    assert m.unmount() == 0
    m2 = mount_factory(cache_dir=m.cache_dir)
    assert "cached files (" not in m2.log()  # nothing kept
    drive.reset_stats()
    assert (m2.path / "big.bin").read_bytes() == files["big.bin"][1]
    assert downloads(drive) >= 1


def read_then_snapshot(mount_factory, drive, **kw):
    """Seed, mount (snapshots every 400 ms), read every file whole and
    wait for a periodic snapshot written after the reads (it records them
    as cached). Returns (files, mount)."""
    files = seed_files(drive)
    m = mount_factory(env={"DRIVEFS_SNAPSHOT_PERIOD_MS": "400"}, **kw)
    assert read_all(m, files) == {p: w for p, (_, w) in files.items()}
    read_done = time.time()
    snap = os.path.join(str(m.cache_dir), "*", "snapshot")

    def written():
        found = glob.glob(snap)
        return found and os.stat(found[0]).st_mtime > read_done
    poll_until(written, DEADLINE, "a periodic snapshot after the reads")
    return files, m


def test_kill9_after_reads(mount_factory, drive):
    files, m = read_then_snapshot(mount_factory, drive)
    m.expect_exit = (-9,)
    m._kill()
    m._stopped = True
    # Drive changed one of them after the snapshot.
    drive.act("edit", id=files["a.txt"][0]["id"], content=b"alpha 2\n")
    m2 = mount_factory(cache_dir=m.cache_dir)
    drive.reset_stats()
    assert (m2.path / "a.txt").read_bytes() == b"alpha 2\n"
    assert (m2.path / "sub/b.bin").read_bytes() == files["sub/b.bin"][1]
    assert (m2.path / "big.bin").read_bytes() == files["big.bin"][1]
    reqs = drive.stats()["requests"]
    assert reqs.get("files.get.media", 0) == 1, reqs  # a.txt only


def test_kept_bytes_respect_cache_size(mount_factory, drive):
    files = seed_files(drive)
    m = mount_factory()
    # The big file is the least recently used one.
    for p in ("big.bin", "a.txt", "sub/b.bin"):
        assert (m.path / p).read_bytes() == files[p][1]
    assert m.unmount() == 0
    # 1 MiB cap: the 12 MiB file cannot stay; the small ones can.
    m2 = mount_factory(cache_dir=m.cache_dir,
                       extra_args=["--cache-size", "1M"])
    caught_up(m2)
    drive.reset_stats()
    assert (m2.path / "a.txt").read_bytes() == b"alpha\n"
    assert downloads(drive) == 0
    assert (m2.path / "big.bin").read_bytes() == files["big.bin"][1]
    assert downloads(drive) >= 1


def test_write_to_kept_file(mount_factory, drive):
    m, files = warm(mount_factory, drive)
    m2 = mount_factory(cache_dir=m.cache_dir)
    with open(m2.path / "sub/b.bin", "r+b") as f:
        f.seek(10)
        f.write(b"local")
    want = bytearray(files["sub/b.bin"][1])
    want[10:15] = b"local"
    assert m2.unmount() == 0
    assert drive.content(files["sub/b.bin"][0]["id"]) == bytes(want)


def test_rename_kept_file_over_another(mount_factory, drive):
    m, files = warm(mount_factory, drive)
    m2 = mount_factory(cache_dir=m.cache_dir)
    os.rename(m2.path / "a.txt", m2.path / "sub" / "b.bin")
    assert m2.unmount() == 0
    # The target keeps its Drive id and gets a.txt's (checked) bytes.
    assert drive.content(files["sub/b.bin"][0]["id"]) == b"alpha\n"


def test_drive_not_answering_before_catch_up(mount_factory, drive):
    # Drive cannot be asked about the files before the catch-up: the
    # check uses the md5 the snapshot had, and cached reads keep working.
    m, files = warm(mount_factory, drive)
    drive.fault(kind="changes.list", action="delay", delay_ms=3000,
                count=1)
    drive.fault(kind="files.get", status=400, reason="badRequest",
                count=100)
    m2 = mount_factory(cache_dir=m.cache_dir)
    drive.reset_stats()
    assert read_all(m2, files) == {p: w for p, (_, w) in files.items()}
    assert downloads(drive) == 0, drive.stats()["requests"]
    # One failed question, then no more for a while.
    assert drive.stats()["requests"].get("files.get", 0) == 1
    drive.clear_faults()


def test_written_after_snapshot_then_kill9(mount_factory, drive):
    # The snapshot says sub/b.bin is cached clean; then it is written
    # (same size) and the daemon killed: the journal's dirty bytes win,
    # are neither checked against Drive nor evicted, and reach Drive.
    files, m = read_then_snapshot(mount_factory, drive,
                                  writeback_delay=3600)
    want = bytearray(files["sub/b.bin"][1])
    want[100:105] = b"LOCAL"
    with open(m.path / "sub/b.bin", "r+b") as f:
        f.seek(100)
        f.write(b"LOCAL")
    m.expect_exit = (-9,)
    m._kill()
    m._stopped = True
    m2 = mount_factory(cache_dir=m.cache_dir,
                       extra_args=["--cache-size", "1K"])
    assert (m2.path / "sub/b.bin").read_bytes() == bytes(want)
    assert m2.unmount() == 0
    assert drive.content(files["sub/b.bin"][0]["id"]) == bytes(want)
