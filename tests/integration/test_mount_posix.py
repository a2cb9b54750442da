"""POSIX behaviour of the mount, checked on the mount and in Drive.

Files seeded in Drive are seeded BEFORE the daemon starts (the mounts run
with --poll-interval 0, so they never hear of later remote changes).
"""

import ctypes
import errno
import hashlib
import json
import os
import random
import stat
import subprocess
import time

import pytest

from mountlib import (SLASH, assert_drive_mirrors, create_requests,
                      drive_paths, drive_time, md5_of, poll_until,
                      sha256_of, wait_synced, xattr)

GDOC = "application/vnd.google-apps.document"
XATTRS = ("user.drive.id", "user.drive.md5", "user.drive.version",
          "user.drivefs.state")
# "a clear errno" for operations the mount does not support
UNSUPPORTED = {errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.ENOSYS,
               errno.EMLINK, errno.EXDEV, errno.EACCES}
READ_ONLY = {errno.EPERM, errno.EACCES, errno.EROFS, errno.ENOTSUP,
             errno.EOPNOTSUPP}


def synced(m, drive, rel):
    """Wait until Drive holds everything, return the Drive file at rel."""
    wait_synced(m)
    paths = drive_paths(drive)
    assert rel in paths, "%s is not in Drive; Drive holds %s" % (
        rel, sorted(paths)[:50])
    return paths[rel]


def prng_bytes(seed, n):
    return random.Random(seed).randbytes(n)


# ---------------------------------------------------------------- content

def test_create_and_read(xmount, drive):
    p = xmount.path / "hello.txt"
    p.write_bytes(b"hello\n")
    assert p.read_bytes() == b"hello\n"
    assert p.stat().st_size == 6
    f = synced(xmount, drive, "hello.txt")
    assert drive.content(f.id) == b"hello\n"
    assert xattr(p, "user.drive.id").decode() == f.id


def test_overwrite_at_offset(mount, drive):
    p = mount.path / "seek.txt"
    p.write_bytes(b"hello world\n")
    fid = synced(mount, drive, "seek.txt").id
    with open(p, "r+b") as fh:
        fh.seek(6)
        fh.write(b"WORLD")
    assert p.read_bytes() == b"hello WORLD\n"
    f = synced(mount, drive, "seek.txt")
    assert f.id == fid
    assert drive.content(fid) == b"hello WORLD\n"


def test_write_past_end_leaves_zeros(mount, drive):
    p = mount.path / "hole.bin"
    with open(p, "wb") as fh:
        fh.write(b"head")
        fh.seek(100000)
        fh.write(b"tail")
    want = b"head" + bytes(100000 - 4) + b"tail"
    assert p.read_bytes() == want
    f = synced(mount, drive, "hole.bin")
    assert drive.content(f.id) == want


def test_append(mount, drive):
    p = mount.path / "log.txt"
    p.write_bytes(b"one\n")
    fid = synced(mount, drive, "log.txt").id
    with open(p, "ab") as fh:
        fh.write(b"two\n")
    fd = os.open(p, os.O_WRONLY | os.O_APPEND)
    try:
        os.lseek(fd, 0, os.SEEK_SET)      # O_APPEND ignores the offset
        os.write(fd, b"three\n")
    finally:
        os.close(fd)
    assert p.read_bytes() == b"one\ntwo\nthree\n"
    f = synced(mount, drive, "log.txt")
    assert f.id == fid
    assert drive.content(fid) == b"one\ntwo\nthree\n"


@pytest.mark.parametrize("size", [0, 5, 70000], ids=["to0", "shrink",
                                                     "grow"])
def test_truncate(mount, drive, size):
    p = mount.path / "t.bin"
    orig = prng_bytes(1, 20000)
    p.write_bytes(orig)
    fid = synced(mount, drive, "t.bin").id
    os.truncate(p, size)
    want = orig[:size] + bytes(max(0, size - len(orig)))
    assert p.stat().st_size == size
    assert p.read_bytes() == want
    f = synced(mount, drive, "t.bin")
    assert f.id == fid
    assert drive.content(fid) == want
    assert int(f["size"]) == size


def test_ftruncate_open_file(mount, drive):
    p = mount.path / "ft.txt"
    p.write_bytes(b"0123456789")
    fid = synced(mount, drive, "ft.txt").id
    with open(p, "r+b") as fh:
        fh.truncate(3)
        fh.seek(0, os.SEEK_END)
        fh.write(b"X")
    assert p.read_bytes() == b"012X"
    assert synced(mount, drive, "ft.txt").id == fid
    assert drive.content(fid) == b"012X"


# ------------------------------------------------------------ directories

def test_mkdir_p(mount, drive):
    os.makedirs(mount.path / "a" / "b" / "c")
    assert (mount.path / "a" / "b" / "c").is_dir()
    wait_synced(mount)
    paths = drive_paths(drive)
    for p in ("a", "a/b", "a/b/c"):
        assert p in paths, sorted(paths)
        assert paths[p].mimeType == "application/vnd.google-apps.folder"
    assert paths["a/b/c"].parents == [paths["a/b"].id]


def test_rmdir_empty_trashes_folder(mount, drive):
    d = mount.path / "empty"
    d.mkdir()
    fid = synced(mount, drive, "empty").id
    os.rmdir(d)
    assert not d.exists()
    wait_synced(mount)
    assert "empty" not in drive_paths(drive)
    assert drive.file(fid).trashed is True


def test_rmdir_not_empty(mount, drive):
    d = mount.path / "full"
    d.mkdir()
    (d / "child.txt").write_bytes(b"c")
    with pytest.raises(OSError) as ei:
        os.rmdir(d)
    assert ei.value.errno == errno.ENOTEMPTY
    assert (d / "child.txt").read_bytes() == b"c"
    wait_synced(mount)
    assert drive.content(drive_paths(drive)["full/child.txt"].id) == b"c"


def test_rmdir_after_emptying(mount, drive):
    d = mount.path / "tmpdir"
    d.mkdir()
    (d / "x.txt").write_bytes(b"x")
    wait_synced(mount)
    ids = {p: f.id for p, f in drive_paths(drive).items()}
    os.unlink(d / "x.txt")
    os.rmdir(d)
    wait_synced(mount)
    paths = drive_paths(drive)
    assert "tmpdir" not in paths and "tmpdir/x.txt" not in paths
    assert drive.file(ids["tmpdir"]).trashed is True
    assert drive.file(ids["tmpdir/x.txt"]).trashed is True


# ----------------------------------------------------------------- unlink

@pytest.mark.parametrize("origin", ["drive", "mount"])
def test_unlink_trashes(mount_factory, drive, origin):
    if origin == "drive":
        fid = drive.seed("gone.txt", b"bye").id
        m = mount_factory()
    else:
        m = mount_factory()
        (m.path / "gone.txt").write_bytes(b"bye")
        fid = synced(m, drive, "gone.txt").id
    os.unlink(m.path / "gone.txt")
    assert "gone.txt" not in os.listdir(m.path)
    wait_synced(m)
    assert "gone.txt" not in drive_paths(drive)
    f = drive.file(fid)                 # trashed, not deleted for ever
    assert f.trashed is True
    assert drive.content(fid) == b"bye"


# ----------------------------------------------------------------- rename

def test_rename_file_in_dir(mount, drive):
    d = mount.path / "d"
    d.mkdir()
    (d / "x.txt").write_bytes(b"x")
    fid = synced(mount, drive, "d/x.txt").id
    before = drive.stats()
    os.rename(d / "x.txt", d / "y.txt")
    assert sorted(os.listdir(d)) == ["y.txt"]
    f = synced(mount, drive, "d/y.txt")
    assert f.id == fid
    assert "d/x.txt" not in drive_paths(drive)
    assert drive.content(fid) == b"x"
    assert create_requests(drive.stats(), before) == []


def test_rename_file_across_dirs(mount, drive):
    for n in ("src", "dst"):
        (mount.path / n).mkdir()
    (mount.path / "src" / "f.txt").write_bytes(b"moving")
    fid = synced(mount, drive, "src/f.txt").id
    os.rename(mount.path / "src" / "f.txt", mount.path / "dst" / "f.txt")
    assert os.listdir(mount.path / "src") == []
    f = synced(mount, drive, "dst/f.txt")
    assert f.id == fid
    assert f.parents == [drive_paths(drive)["dst"].id]
    assert "src/f.txt" not in drive_paths(drive)
    assert drive.content(fid) == b"moving"


@pytest.mark.parametrize("source_synced", [False, True],
                         ids=["tmp-new", "tmp-synced"])
@pytest.mark.parametrize("target_origin", ["drive", "mount"])
def test_rename_over_existing_keeps_target_id(mount_factory, drive,
                                              target_origin, source_synced):
    if target_origin == "drive":
        tid = drive.seed("notes.py", b"old").id
        m = mount_factory(xattrs=True)
        assert (m.path / "notes.py").read_bytes() == b"old"
    else:
        m = mount_factory(xattrs=True)
        (m.path / "notes.py").write_bytes(b"old")
        tid = synced(m, drive, "notes.py").id
    tmp = m.path / "notes.py.tmp"
    tmp.write_bytes(b"new")
    sid = synced(m, drive, "notes.py.tmp").id if source_synced else None
    before = drive.stats()
    os.rename(tmp, m.path / "notes.py")
    assert (m.path / "notes.py").read_bytes() == b"new"
    assert not tmp.exists()
    wait_synced(m)
    paths = drive_paths(drive)
    assert paths["notes.py"].id == tid
    assert drive.content(tid) == b"new"
    assert "notes.py.tmp" not in paths
    assert create_requests(drive.stats(), before) == []
    if sid:
        assert drive.file(sid).trashed is True
    assert xattr(m.path / "notes.py", "user.drive.id").decode() == tid


@pytest.mark.parametrize("dest", ["renamed", "p/renamed"])
@pytest.mark.parametrize("synced_first", [True, False],
                         ids=["synced", "unsynced"])
def test_rename_directory_with_contents(mount, drive, dest, synced_first):
    src = mount.path / "d"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_bytes(b"a")
    (src / "sub" / "b.txt").write_bytes(b"b")
    (mount.path / "p").mkdir()
    ids = {}
    if synced_first:
        wait_synced(mount)
        ids = {p: f.id for p, f in drive_paths(drive).items()
               if p == "d" or p.startswith("d/")}
        assert len(ids) == 4, ids
    os.rename(src, mount.path / dest)
    assert (mount.path / dest / "sub" / "b.txt").read_bytes() == b"b"
    assert not src.exists()
    wait_synced(mount)
    paths = drive_paths(drive)
    assert not [p for p in paths if p == "d" or p.startswith("d/")]
    for old, fid in ids.items():
        new = dest + old[1:]
        assert paths[new].id == fid, (old, new)
    assert drive.content(paths[dest + "/a.txt"].id) == b"a"
    assert drive.content(paths[dest + "/sub/b.txt"].id) == b"b"
    assert_drive_mirrors(mount, drive)


AT_FDCWD = -100
RENAME_NOREPLACE = 1
RENAME_EXCHANGE = 2


def renameat2(src, dst, flags):
    libc = ctypes.CDLL(None, use_errno=True)
    fn = libc.renameat2
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int,
                   ctypes.c_char_p, ctypes.c_uint]
    rc = fn(AT_FDCWD, os.fsencode(src), AT_FDCWD, os.fsencode(dst), flags)
    return 0 if rc == 0 else ctypes.get_errno()


def test_rename_noreplace_existing_is_eexist(mount, drive):
    a, b = mount.path / "a.txt", mount.path / "b.txt"
    a.write_bytes(b"A")
    b.write_bytes(b"B")
    assert renameat2(a, b, RENAME_NOREPLACE) == errno.EEXIST
    assert a.read_bytes() == b"A" and b.read_bytes() == b"B"
    wait_synced(mount)
    paths = drive_paths(drive)
    assert drive.content(paths["a.txt"].id) == b"A"
    assert drive.content(paths["b.txt"].id) == b"B"


def test_rename_noreplace_free_name(mount, drive):
    a = mount.path / "a.txt"
    a.write_bytes(b"A")
    fid = synced(mount, drive, "a.txt").id
    assert renameat2(a, mount.path / "c.txt", RENAME_NOREPLACE) == 0
    assert (mount.path / "c.txt").read_bytes() == b"A"
    assert synced(mount, drive, "c.txt").id == fid


def test_rename_exchange_swaps_or_einval(mount, drive):
    a, b = mount.path / "a.txt", mount.path / "b.txt"
    a.write_bytes(b"A")
    b.write_bytes(b"B")
    err = renameat2(a, b, RENAME_EXCHANGE)
    assert err in (0, errno.EINVAL), os.strerror(err)
    want = {"a.txt": b"B", "b.txt": b"A"} if err == 0 else \
        {"a.txt": b"A", "b.txt": b"B"}
    for n, data in want.items():
        assert (mount.path / n).read_bytes() == data
    wait_synced(mount)
    paths = drive_paths(drive)
    for n, data in want.items():
        assert drive.content(paths[n].id) == data


# ---------------------------------------------------------------- symlinks

def test_symlink_readlink(mount, drive):
    link = mount.path / "link"
    os.symlink("target/dir/x.txt", link)
    assert os.readlink(link) == "target/dir/x.txt"
    assert stat.S_ISLNK(os.lstat(link).st_mode)
    assert "link" in os.listdir(mount.path)
    f = synced(mount, drive, "link")
    assert f.mimeType != "application/vnd.google-apps.folder"
    assert f.get("appProperties"), "symlink target not in appProperties"


def test_symlink_round_trips_after_remount(mount_factory, drive):
    m = mount_factory()
    (m.path / "real.txt").write_bytes(b"real")
    os.symlink("real.txt", m.path / "rel")
    os.symlink("/etc/hostname", m.path / "abs")
    wait_synced(m)
    assert m.unmount() == 0
    m2 = mount_factory()                  # fresh cache: from Drive only
    assert os.readlink(m2.path / "rel") == "real.txt"
    assert os.readlink(m2.path / "abs") == "/etc/hostname"
    assert (m2.path / "rel").read_bytes() == b"real"


# ------------------------------------------------------------- attributes

def test_chmod_exec_after_remount(mount_factory, drive):
    m = mount_factory()
    run, plain = m.path / "run.sh", m.path / "plain.txt"
    run.write_bytes(b"#!/bin/sh\necho hi\n")
    plain.write_bytes(b"plain")
    os.chmod(run, 0o755)
    assert os.stat(run).st_mode & 0o111
    wait_synced(m)
    assert m.unmount() == 0
    m2 = mount_factory()                  # fresh cache: from Drive only
    assert os.stat(m2.path / "run.sh").st_mode & 0o100, \
        oct(os.stat(m2.path / "run.sh").st_mode)
    assert not os.stat(m2.path / "plain.txt").st_mode & 0o111
    assert (m2.path / "run.sh").read_bytes() == b"#!/bin/sh\necho hi\n"


def test_chmod_exec_off_after_remount(mount_factory, drive):
    m = mount_factory()
    run = m.path / "tool"
    run.write_bytes(b"x")
    os.chmod(run, 0o755)
    wait_synced(m)
    os.chmod(run, 0o644)
    assert not os.stat(run).st_mode & 0o111
    wait_synced(m)
    assert m.unmount() == 0
    m2 = mount_factory()
    assert not os.stat(m2.path / "tool").st_mode & 0o111


MTIME_NS = 981173106_789_000_000          # 2001-02-03T04:05:06.789Z


def test_utime_sets_mtime_and_drive_modified_time(mount, drive):
    p = mount.path / "old.txt"
    p.write_bytes(b"old")
    os.utime(p, ns=(MTIME_NS, MTIME_NS))
    assert abs(os.stat(p).st_mtime_ns - MTIME_NS) < 1_000_000
    f = synced(mount, drive, "old.txt")
    assert abs(drive_time(f.modifiedTime) - MTIME_NS / 1e9) < 0.001, \
        f.modifiedTime
    assert abs(os.stat(p).st_mtime_ns - MTIME_NS) < 1_000_000


def test_statfs(mount, drive):
    st = os.statvfs(mount.path)
    about = drive.api("GET", "/drive/v3/about",
                      params={"fields": "storageQuota"}).json()
    q = about["storageQuota"]
    limit, usage = int(q["limit"]), int(q.get("usage", 0))
    assert st.f_frsize > 0 and st.f_bsize > 0
    assert st.f_blocks > 0
    assert 0 <= st.f_bavail <= st.f_bfree <= st.f_blocks
    assert abs(st.f_blocks * st.f_frsize - limit) <= st.f_frsize, \
        (st, limit)
    assert abs(st.f_bavail * st.f_frsize - (limit - usage)) <= \
        st.f_frsize + (1 << 20), (st, limit, usage)
    assert st.f_namemax >= 255


# ----------------------------------------------------------------- xattrs

def test_xattrs_off_by_default(mount, drive):
    """Without --xattrs every xattr call fails with EOPNOTSUPP (the daemon
    answers ENOSYS once, then the kernel stops asking), and the tools that
    probe xattrs on every file still work."""
    p = mount.path / "f.txt"
    p.write_bytes(b"x")
    (mount.path / "d").mkdir()
    for target in (p, mount.path, mount.path / "d"):
        for name in XATTRS + ("user.drivefs.pending", "security.selinux"):
            with pytest.raises(OSError) as ei:
                os.getxattr(target, name)
            assert ei.value.errno == errno.EOPNOTSUPP, (target, name)
        # ACLs are answered by the kernel itself (no FUSE_CAP_POSIX_ACL):
        # "no ACL", without a request to the daemon.
        with pytest.raises(OSError) as ei:
            os.getxattr(target, "system.posix_acl_access")
        assert ei.value.errno in (errno.ENODATA, errno.EOPNOTSUPP)
        with pytest.raises(OSError) as ei:
            os.listxattr(target)
        assert ei.value.errno == errno.EOPNOTSUPP
        with pytest.raises(OSError) as ei:
            os.setxattr(target, "user.x", b"y")
        assert ei.value.errno == errno.EOPNOTSUPP
        with pytest.raises(OSError) as ei:
            os.removexattr(target, "user.x")
        assert ei.value.errno == errno.EOPNOTSUPP
    r = subprocess.run(["ls", "-lR", str(mount.path)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=60)
    assert r.returncode == 0 and r.stderr == b"", r.stderr
    assert b"f.txt" in r.stdout and b"d" in r.stdout
    wait_synced(mount)
    assert drive.content(drive_paths(drive)["f.txt"].id) == b"x"


def test_xattrs_present(mount_factory, drive):
    seeded = drive.seed("x.bin", b"xattr bytes")
    m = mount_factory(xattrs=True)
    p = m.path / "x.bin"
    assert set(XATTRS) <= set(os.listxattr(p)), os.listxattr(p)
    assert xattr(p, "user.drive.id").decode() == seeded.id
    assert xattr(p, "user.drive.md5").decode() == seeded.md5Checksum
    assert xattr(p, "user.drive.version").decode() == seeded.version
    assert xattr(p, "user.drivefs.state") == b"clean"


def test_xattr_state_dirty_until_uploaded(mount_factory, drive):
    m = mount_factory(writeback_delay=30, xattrs=True)
    p = m.path / "new.txt"
    p.write_bytes(b"pending")
    assert xattr(p, "user.drivefs.state") in (b"dirty", b"uploading")
    assert int(xattr(m.path, "user.drivefs.pending")) >= 1
    assert m.unmount() == 0               # drains the queue
    f = drive_paths(drive)["new.txt"]
    assert drive.content(f.id) == b"pending"


def test_xattrs_after_upload_match_drive(xmount, drive):
    p = xmount.path / "up.txt"
    p.write_bytes(b"uploaded")
    f = synced(xmount, drive, "up.txt")
    assert xattr(p, "user.drive.id").decode() == f.id
    assert xattr(p, "user.drive.md5").decode() == f.md5Checksum == \
        md5_of(p)
    assert xattr(p, "user.drive.version").decode() == f.version
    assert xattr(p, "user.drivefs.state") == b"clean"


@pytest.mark.parametrize("name", XATTRS + ("user.drivefs.pending",))
def test_xattrs_read_only(xmount, drive, name):
    p = xmount.path / "ro.txt"
    p.write_bytes(b"ro")
    wait_synced(xmount)
    target = xmount.path if name == "user.drivefs.pending" else p
    before = os.getxattr(target, name)
    with pytest.raises(OSError) as ei:
        os.setxattr(target, name, b"forged")
    assert ei.value.errno in READ_ONLY, ei.value
    with pytest.raises(OSError) as ei:
        os.removexattr(target, name)
    assert ei.value.errno in READ_ONLY, ei.value
    assert os.getxattr(target, name) == before


# ------------------------------------------------------- unsupported kinds

def test_hard_link_refused(mount, drive):
    (mount.path / "a.txt").write_bytes(b"a")
    with pytest.raises(OSError) as ei:
        os.link(mount.path / "a.txt", mount.path / "b.txt")
    assert ei.value.errno in UNSUPPORTED, ei.value
    assert not (mount.path / "b.txt").exists()
    wait_synced(mount)
    assert "b.txt" not in drive_paths(drive)


@pytest.mark.parametrize("kind", [stat.S_IFIFO, stat.S_IFCHR, stat.S_IFSOCK],
                         ids=["fifo", "chardev", "socket"])
def test_special_file_refused(mount, drive, kind):
    p = mount.path / "special"
    with pytest.raises(OSError) as ei:
        os.mknod(p, kind | 0o600, os.makedev(1, 3) if kind ==
                 stat.S_IFCHR else 0)
    assert ei.value.errno in UNSUPPORTED, ei.value
    assert not os.path.lexists(p)
    wait_synced(mount)
    assert "special" not in drive_paths(drive)


# ------------------------------------------------------------------ names

ODD_NAMES = [
    "with space.txt",
    "  leading and trailing spaces  ",
    "ünïcødé 日本語.txt",
    "emoji \U0001F642.md",
    "it's.txt",
    'say "hi".txt',
    "100%.txt",
    "%41%2F.txt",
    "-leading-dash.txt",
    "back\\slash.txt",
    "semi;colon&amp=.txt",
    "no_extension",
    ".hidden",
]


@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_names_reach_drive(mount, drive, name):
    data = ("content of %s\n" % name).encode()
    (mount.path / name).write_bytes(data)
    assert name in os.listdir(mount.path)
    f = synced(mount, drive, name)
    assert f.name == name
    assert drive.content(f.id) == data


@pytest.mark.parametrize("name", ODD_NAMES)
def test_odd_names_from_drive(mount_factory, drive, name):
    data = ("seeded %s\n" % name).encode()
    seeded = drive.seed(name=name, parent="root", content=data)
    m = mount_factory(xattrs=True)
    assert os.listdir(m.path) == [name]
    assert (m.path / name).read_bytes() == data
    assert xattr(m.path / name, "user.drive.id").decode() == seeded.id


def test_odd_directory_name_reaches_drive(mount, drive):
    d = mount.path / "dir with 'quotes' & \"more\""
    d.mkdir()
    (d / "inner.txt").write_bytes(b"inner")
    f = synced(mount, drive, d.name + "/inner.txt")
    assert drive.content(f.id) == b"inner"


def test_drive_slash_name_shows_as_division_slash(mount_factory, drive):
    seeded = drive.seed(name="a/b", parent="root", content=b"slashed")
    m = mount_factory(xattrs=True)
    assert "a" + SLASH + "b" in os.listdir(m.path)
    assert "a" not in os.listdir(m.path)
    assert (m.path / ("a" + SLASH + "b")).read_bytes() == b"slashed"
    assert xattr(m.path / ("a" + SLASH + "b"),
                 "user.drive.id").decode() == seeded.id


def test_division_slash_created_on_mount_is_slash_in_drive(mount, drive):
    (mount.path / ("x" + SLASH + "y.txt")).write_bytes(b"xy")
    wait_synced(mount)
    names = [f.name for f in drive.tree() if not f.trashed]
    assert "x/y.txt" in names, names


def _seed_duplicates(drive):
    old = drive.seed(name="dup.txt", parent="root", content=b"old",
                     createdTime="2020-01-01T00:00:00.000Z")
    new = drive.seed(name="dup.txt", parent="root", content=b"new",
                     createdTime="2021-01-01T00:00:00.000Z")
    return old, new


def test_duplicates_show_alias(mount_factory, drive):
    old, new = _seed_duplicates(drive)
    m = mount_factory(xattrs=True)
    alias = "dup~%s.txt" % new.id[:6]
    names = sorted(os.listdir(m.path))
    assert names == sorted(["dup.txt", alias]), names
    assert (m.path / "dup.txt").read_bytes() == b"old"
    assert (m.path / alias).read_bytes() == b"new"
    assert xattr(m.path / alias, "user.drive.id").decode() == new.id
    assert sorted(os.listdir(m.path)) == names   # stable across listings


def test_write_through_duplicate_alias(mount_factory, drive):
    old, new = _seed_duplicates(drive)
    m = mount_factory()
    alias = m.path / ("dup~%s.txt" % new.id[:6])
    before = drive.stats()
    alias.write_bytes(b"changed")
    wait_synced(m)
    assert drive.content(new.id) == b"changed"
    assert drive.content(old.id) == b"old"
    live = [f for f in drive.tree() if not f.trashed]
    assert sorted(f.id for f in live) == sorted([old.id, new.id])
    assert all(f.name == "dup.txt" for f in live)
    assert create_requests(drive.stats(), before) == []


@pytest.mark.parametrize("mime,suffix", [
    (GDOC, ".gdoc"),
    ("application/vnd.google-apps.spreadsheet", ".gsheet"),
    ("application/vnd.google-apps.presentation", ".gslides")],
    ids=["gdoc", "gsheet", "gslides"])
def test_google_doc_stub(mount_factory, drive, mime, suffix):
    doc = drive.seed(name="Report", parent="root", mimeType=mime)
    m = mount_factory()
    assert os.listdir(m.path) == ["Report" + suffix]
    stub = json.loads((m.path / ("Report" + suffix)).read_bytes())
    assert doc.id in json.dumps(stub), stub
    assert os.stat(m.path / ("Report" + suffix)).st_size == \
        len((m.path / ("Report" + suffix)).read_bytes())


def test_google_doc_stub_read_only(mount_factory, drive):
    doc = drive.seed(name="Report", parent="root", mimeType=GDOC)
    m = mount_factory()
    p = m.path / "Report.gdoc"
    assert not os.stat(p).st_mode & 0o222
    with pytest.raises(OSError) as ei:
        with open(p, "wb") as fh:
            fh.write(b"overwrite")
    assert ei.value.errno in READ_ONLY, ei.value
    with pytest.raises(OSError):
        os.truncate(p, 0)
    assert json.loads(p.read_bytes())
    wait_synced(m)
    f = drive.file(doc.id)
    assert f.version == doc.version and f.trashed is False


# --------------------------------------------------------- seeded content

SEEDED = {
    "top.txt": b"top\n",
    "empty.txt": b"",
    "src/main.py": b"print('hi')\n",
    "src/pkg/data.bin": bytes(range(256)) * 300,
    "docs/a b/c d.md": b"# spaced\n",
}


def test_seeded_files_listed_and_readable(mount_factory, drive):
    drive.seed_many([{"path": p, "content": c} for p, c in SEEDED.items()])
    m = mount_factory()
    assert sorted(os.listdir(m.path)) == ["docs", "empty.txt", "src",
                                          "top.txt"]
    for p, c in SEEDED.items():
        assert (m.path / p).read_bytes() == c, p
        assert os.stat(m.path / p).st_size == len(c)


def test_seeded_large_file_sha256(mount_factory, drive):
    data = prng_bytes(20, 20 << 20)
    drive.seed("big/20mib.bin", data)
    m = mount_factory()
    p = m.path / "big" / "20mib.bin"
    assert os.stat(p).st_size == len(data)
    assert sha256_of(p) == hashlib.sha256(data).hexdigest()


def test_seeded_large_file_random_reads(mount_factory, drive):
    data = prng_bytes(21, 20 << 20)
    drive.seed("big/ranges.bin", data)
    m = mount_factory()
    rnd = random.Random(5)
    with open(m.path / "big" / "ranges.bin", "rb") as fh:
        for _ in range(50):
            off = rnd.randrange(len(data))
            n = rnd.randrange(1, 300000)
            fh.seek(off)
            assert fh.read(n) == data[off:off + n], (off, n)


def _random_4k(fh, data, rnd, n):
    for _ in range(n):
        off = rnd.randrange(len(data) - 4096)
        assert os.pread(fh.fileno(), 4096, off) == data[off:off + 4096]


def test_random_reads_fetch_the_rest_while_open(mount_factory, drive):
    """Random reads of a big file that keep missing start a sweep of the
    whole file in the background (docs/SEMANTICS.md "Reading"): later reads
    anywhere are served from the cache."""
    data = prng_bytes(22, 40 << 20)
    drive.seed("big/db.bin", data)
    m = mount_factory()
    p = m.path / "big" / "db.bin"
    os.stat(p)
    rnd = random.Random(6)
    with open(p, "rb", buffering=0) as fh:
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
        _random_4k(fh, data, rnd, 6)
        poll_until(lambda: drive.stats()["bytes_down"] >= len(data), 60,
                   "the whole file fetched")
        time.sleep(0.2)
        drive.reset_stats()
        _random_4k(fh, data, rnd, 50)
        assert drive.count("files.get.media") == 0
    assert sha256_of(p) == hashlib.sha256(data).hexdigest()


def test_random_reads_sweep_stops_at_close(mount_factory, drive):
    size = 160 << 20                    # 10 chunks: more than the streams
    m1 = mount_factory()
    with open(m1.path / "huge.bin", "wb") as fh:
        fh.write(prng_bytes(23, 1 << 20) * (size >> 20))
    wait_synced(m1, timeout=120)
    assert m1.unmount() == 0
    m = mount_factory()                 # a fresh cache: cold
    data = prng_bytes(23, 1 << 20) * (size >> 20)
    p = m.path / "huge.bin"
    os.stat(p)
    drive.reset_stats()
    drive.config(bandwidth=50 << 20)    # the sweep cannot finish at once
    with open(p, "rb", buffering=0) as fh:
        os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_RANDOM)
        _random_4k(fh, data, random.Random(7), 4)
    # What was in flight at the close lands; nothing is asked for after.
    last = [-1, time.monotonic()]

    def settled():
        now = drive.count("files.get.media")
        if now != last[0]:
            last[:] = [now, time.monotonic()]
        return time.monotonic() - last[1] > 2
    poll_until(settled, 60, "downloads to stop", interval=0.25)
    # (bytes_down also counts the stats replies: a few KiB each)
    assert drive.stats()["bytes_down"] < size * 3 // 4, last[0]


def test_a_mount_that_only_reads_asks_for_no_ids(mount_factory, drive):
    """The id pool fills on the first local create, not at mount: reading
    costs no files.generateIds (and the first listing does not share the
    server with one)."""
    drive.seed("docs/a.txt", b"alpha\n")
    drive.reset_stats()
    m = mount_factory()
    assert (m.path / "docs" / "a.txt").read_bytes() == b"alpha\n"
    os.listdir(m.path)
    assert drive.count("files.generateIds") == 0
    (m.path / "docs" / "b.txt").write_bytes(b"beta\n")
    wait_synced(m)
    assert drive.count("files.generateIds") == 1
    assert drive.by_path("docs/b.txt") is not None


def test_readdir_2500_entries(mount_factory, drive):
    names = ["f%04d.txt" % i for i in range(2500)]
    for i in range(0, len(names), 500):
        drive.seed_many([{"path": "big/" + n, "content": n}
                         for n in names[i:i + 500]])
    m = mount_factory()
    listed = os.listdir(m.path / "big")
    assert len(listed) == len(set(listed)) == 2500
    assert sorted(listed) == names
    assert (m.path / "big" / "f1234.txt").read_bytes() == b"f1234.txt"
