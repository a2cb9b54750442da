"""Streamed uploads (docs/SEMANTICS.md "Streamed uploads", INTERNALS.md
"Streamed uploads"): a new file written sequentially goes to Drive in
chunks while it is still open, and is finished at its close; anything that
breaks the append-only pattern abandons the stream and the file is uploaded
after close as usual. Whatever happens, Drive ends up with exactly the bytes
written, under one id."""

import hashlib
import os
import random

from mountlib import (ctl_request, ctl_socket, drive_files, poll_until,
                      wait_synced)

MiB = 1 << 20
CHUNK = 64 * MiB       # DRIVE_CHUNK_DEFAULT
DEADLINE = 120


class Writer:
    """Writes 1 MiB blocks of seeded random bytes and keeps what the file
    should hold."""

    def __init__(self, path, seed=1):
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        self.rnd = random.Random(seed)
        self.data = bytearray()
        self.off = 0

    def append(self, mib):
        for _ in range(mib):
            b = self.rnd.randbytes(MiB)
            assert os.pwrite(self.fd, b, self.off) == len(b)
            self.data[self.off:self.off + len(b)] = b
            self.off += len(b)

    def pwrite(self, off, b):
        assert os.pwrite(self.fd, b, off) == len(b)
        self.data[off:off + len(b)] = b

    def truncate(self, size):
        os.ftruncate(self.fd, size)
        del self.data[size:]
        self.off = size

    def close(self):
        os.close(self.fd)

    def md5(self):
        return hashlib.md5(self.data).hexdigest()


def chunks(drive):
    return drive.count("upload.resumable.chunk")


def wait_streamed(drive, n=1):
    poll_until(lambda: chunks(drive) >= n, DEADLINE,
               "%d chunk(s) streamed while the file is open" % n)


def assert_one(drive, name, md5):
    files = drive_files(drive)
    assert files[name]["md5Checksum"] == md5
    assert [f.name for f in drive.tree()].count(name) == 1   # no twin


def test_stream_uploads_while_open(mount, drive):
    w = Writer(mount.path / "big.bin")
    w.append(100)
    wait_streamed(drive)
    # drivefs-status lists it among the uploads in flight.
    ups = ctl_request(ctl_socket(mount), {"cmd": "status"})["uploads"]
    assert [u["path"] for u in ups] == ["big.bin"], ups
    assert ups[0]["done"] > 0, ups
    w.append(100)
    before = chunks(drive)
    assert "big.bin" not in drive_files(drive)   # no file before the end
    w.close()
    wait_synced(mount, DEADLINE)
    assert before >= 1
    assert_one(drive, "big.bin", w.md5())
    assert drive.count("upload.resumable.start") == 1   # one session
    assert drive.count("upload.multipart") == 0
    assert (mount.path / "big.bin").stat().st_size == 200 * MiB


def test_stream_write_below_streamed_offset(mount, drive):
    w = Writer(mount.path / "big.bin")
    w.append(150)
    wait_streamed(drive)
    w.pwrite(0, b"rewritten head" * 300)
    w.append(50)
    w.close()
    wait_synced(mount, DEADLINE)
    assert_one(drive, "big.bin", w.md5())
    assert drive.count("upload.resumable.cancel") >= 1
    assert (mount.path / "big.bin").read_bytes()[:14] == b"rewritten head"


def test_stream_truncate_midway(mount, drive):
    w = Writer(mount.path / "big.bin")
    w.append(100)
    wait_streamed(drive)
    w.truncate(30 * MiB)
    w.append(60)
    w.close()
    wait_synced(mount, DEADLINE)
    assert_one(drive, "big.bin", w.md5())
    assert drive_files(drive)["big.bin"]["size"] == str(90 * MiB)


def test_stream_file_unlinked_while_open(mount, drive):
    w = Writer(mount.path / "big.bin")
    w.append(100)
    wait_streamed(drive)
    os.unlink(mount.path / "big.bin")
    w.append(10)
    w.close()
    (mount.path / "after.txt").write_bytes(b"after\n")
    wait_synced(mount, DEADLINE)
    poll_until(lambda: drive.count("upload.resumable.cancel") >= 1,
               DEADLINE, "the session cancelled")
    names = [f.name for f in drive.tree()]
    assert "big.bin" not in names       # not even in the trash
    assert "after.txt" in names


def test_stream_renamed_while_open(mount, drive):
    w = Writer(mount.path / "big.bin")
    w.append(100)
    wait_streamed(drive)
    os.rename(mount.path / "big.bin", mount.path / "moved.bin")
    w.append(20)
    w.close()
    wait_synced(mount, DEADLINE)
    assert_one(drive, "moved.bin", w.md5())
    assert "big.bin" not in [f.name for f in drive.tree()]


def test_stream_crash_then_remount(mount_factory, drive):
    m = mount_factory()
    w = Writer(m.path / "big.bin")
    w.append(100)
    wait_streamed(drive)
    m.expect_exit = (-9,)
    m._kill()
    m._stopped = True
    try:
        w.close()
    except OSError:
        pass
    m2 = mount_factory(cache_dir=m.cache_dir)
    wait_synced(m2, DEADLINE)
    assert_one(drive, "big.bin", w.md5())
    assert (m2.path / "big.bin").stat().st_size == 100 * MiB


def fired(drive):
    return {k: v for k, v in drive._ctl("GET", "faults")["fired"].items()
            if v}


def test_stream_faults_mid_chunk(mount_factory, drive):
    m = mount_factory(allow_log=(r"upload|503|backendError|dropped",))
    drive.fault(kind="upload.resumable.chunk", action="drop_mid_body",
                bytes=5 * MiB, count=1)
    drive.fault(kind="upload.resumable.chunk", action="error", status=503,
                count=1)
    w = Writer(m.path / "big.bin")
    w.append(150)
    wait_streamed(drive, 3)
    # Both hit the stream, before the close.
    poll_until(lambda: len(fired(drive)) == 2, DEADLINE, "faults fired")
    assert fired(drive) == {"drop_mid_body": 1, "error": 1}
    w.append(50)
    w.close()
    wait_synced(m, DEADLINE)
    assert_one(drive, "big.bin", w.md5())
    assert drive.stats().get("requests", {}).get("upload.resumable.start") \
        == 1


def test_stream_fsync_while_open(mount, drive):
    w = Writer(mount.path / "big.bin")
    w.append(100)
    wait_streamed(drive)
    os.fsync(w.fd)                   # the whole file now, as without streams
    assert drive_files(drive)["big.bin"]["md5Checksum"] == w.md5()
    w.append(20)
    w.close()
    wait_synced(mount, DEADLINE)
    assert_one(drive, "big.bin", w.md5())
