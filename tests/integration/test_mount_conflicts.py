"""Two machines on one Drive (docs/SEMANTICS.md "Conflicts"): concurrent
edits end as one file that keeps its name and id plus, under keep-both, one
conflict copy; two creates of one path never leave a twin."""

import os
import re

import pytest

from mountlib import drive_files, drive_paths, poll_until, wait_synced

POLL = "0.3"
DEADLINE = 20
CONFLICT_LOG = r"conflict \("


def two_machines(mount_factory, a_delay=0.1, b_delay=1.0, b_policy=None,
                 poll=POLL):
    """Mounts A and B of one Drive folder; B uploads later than A, so when
    both edit before either polls, A's upload lands first and B meets the
    conflict."""
    a = mount_factory(writeback_delay=a_delay, allow_log=[CONFLICT_LOG],
                      extra_args=("--poll-interval", poll),
                      env={"DRIVEFS_HOSTNAME": "hosta"})
    extra = ["--poll-interval", poll]
    if b_policy:
        extra += ["--conflict", b_policy]
    b = mount_factory(writeback_delay=b_delay, allow_log=[CONFLICT_LOG],
                      extra_args=tuple(extra),
                      env={"DRIVEFS_HOSTNAME": "hostb"})
    return a, b


def read_or_none(p):
    try:
        with open(p, "rb") as f:
            return f.read()
    except (FileNotFoundError, IsADirectoryError):
        return None


def mount_files(m, sub=""):
    """{relative path: bytes} of every file under the mount."""
    out = {}
    top = os.path.join(str(m.path), sub)
    for d, _, fs in os.walk(top):
        for f in fs:
            p = os.path.join(d, f)
            out[os.path.relpath(p, str(m.path))] = read_or_none(p)
    return out


def drive_contents(drive, prefix=""):
    return {p: drive.content(f["id"])
            for p, f in drive_files(drive, prefix=prefix).items()}


def converged(drive, *mounts, prefix=""):
    """Every mount shows exactly what Drive holds (paths and bytes), and
    Drive has one file per path."""
    try:
        want = drive_contents(drive, prefix)
    except AssertionError:  # two files on one path: not settled yet
        return False
    return all(mount_files(m, prefix) == want for m in mounts)


def wait_converged(drive, *mounts, prefix=""):
    for m in mounts:
        wait_synced(m)
    poll_until(lambda: converged(drive, *mounts, prefix=prefix), DEADLINE,
               lambda: "mounts to match Drive: drive %r, mounts %r" % (
                   sorted(p for p, f in drive_paths(drive, strict=False)
                          .items()),
                   [sorted(mount_files(m, prefix)) for m in mounts]))


COPY_RE = re.compile(r"^f\.conflict-host[ab]-\d{8}-\d{6}\.txt$")


def both_edit(a, b, name="f.txt"):
    assert (a.path / name).read_bytes() == b"base"
    assert (b.path / name).read_bytes() == b"base"
    (a.path / name).write_bytes(b"edit from A")
    (b.path / name).write_bytes(b"edit from B")


def test_keep_both_on_concurrent_edits(mount_factory, drive):
    f = drive.seed("f.txt", b"base")
    a, b = two_machines(mount_factory)
    both_edit(a, b)
    wait_converged(drive, a, b)
    files = drive_contents(drive)
    assert set(files) - {"f.txt"}, "no conflict copy: %r" % files
    assert len(files) == 2, files
    copy = (set(files) - {"f.txt"}).pop()
    assert COPY_RE.match(copy), copy
    assert "hostb" in copy  # B met the conflict: its bytes are the copy
    assert files["f.txt"] == b"edit from A"
    assert files[copy] == b"edit from B"
    # The name kept its Drive id: one file, bound to one id.
    assert drive.by_path("f.txt")["id"] == f.id
    assert "conflict (keep-both)" in b.log()


def test_local_wins(mount_factory, drive):
    f = drive.seed("f.txt", b"base")
    a, b = two_machines(mount_factory, b_policy="local-wins")
    both_edit(a, b)
    wait_converged(drive, a, b)
    assert drive_contents(drive) == {"f.txt": b"edit from B"}
    assert drive.by_path("f.txt")["id"] == f.id
    assert "conflict (local-wins)" in b.log()


def test_remote_wins(mount_factory, drive):
    f = drive.seed("f.txt", b"base")
    a, b = two_machines(mount_factory, b_policy="remote-wins")
    both_edit(a, b)
    wait_converged(drive, a, b)
    assert drive_contents(drive) == {"f.txt": b"edit from A"}
    assert drive.by_path("f.txt")["id"] == f.id
    assert "conflict (remote-wins)" in b.log()


def test_edit_by_another_client_before_upload(mount_factory, drive):
    f = drive.seed("notes.md", b"base")
    m = mount_factory(writeback_delay=1.0, allow_log=[CONFLICT_LOG],
                      extra_args=("--poll-interval", POLL),
                      env={"DRIVEFS_HOSTNAME": "colab"})
    (m.path / "notes.md").write_bytes(b"mine")
    drive.act("edit", id=f.id, content=b"theirs")
    wait_converged(drive, m)
    files = drive_contents(drive)
    assert files["notes.md"] == b"theirs"
    copies = [p for p in files if p.startswith("notes.conflict-colab-")]
    assert len(copies) == 1 and files[copies[0]] == b"mine", files
    assert copies[0].endswith(".md")
    assert len(files) == 2


def test_remote_edit_to_same_bytes_is_no_conflict(mount_factory, drive):
    f = drive.seed("same.txt", b"base")
    m = mount_factory(writeback_delay=1.0,
                      extra_args=("--poll-interval", POLL))
    (m.path / "same.txt").write_bytes(b"converged")
    drive.act("edit", id=f.id, content=b"converged")
    drive.reset_stats()
    wait_converged(drive, m)
    assert drive_contents(drive) == {"same.txt": b"converged"}
    assert drive.count("files.update.media") == 0
    assert "conflict" not in m.log()


@pytest.mark.parametrize("op", ["trash", "delete"])
def test_remote_delete_of_modified_file_recreates_it(mount_factory, drive,
                                                     op):
    f = drive.seed("keep.txt", b"base")
    m = mount_factory(writeback_delay=1.0, allow_log=[CONFLICT_LOG],
                      extra_args=("--poll-interval", POLL))
    (m.path / "keep.txt").write_bytes(b"my unsaved work")
    drive.act(op, id=f.id)
    wait_converged(drive, m)
    assert drive_contents(drive) == {"keep.txt": b"my unsaved work"}
    assert drive.by_path("keep.txt")["id"] != f.id
    assert "conflict (remote-deleted)" in m.log()


def test_conflict_copy_name_keeps_dotfiles_whole(mount_factory, drive):
    f = drive.seed(".bashrc", b"base")
    m = mount_factory(writeback_delay=1.0, allow_log=[CONFLICT_LOG],
                      extra_args=("--poll-interval", POLL),
                      env={"DRIVEFS_HOSTNAME": "box.example.org"})
    (m.path / ".bashrc").write_bytes(b"mine")
    drive.act("edit", id=f.id, content=b"theirs")
    wait_converged(drive, m)
    names = sorted(drive_contents(drive))
    assert len(names) == 2 and names[0] == ".bashrc", names
    assert re.match(r"^\.bashrc\.conflict-box-\d{8}-\d{6}$", names[1]), names


def test_open_writer_keeps_writing_to_its_copy(mount_factory, drive):
    f = drive.seed("log.txt", b"base\n")
    m = mount_factory(writeback_delay=0.2, allow_log=[CONFLICT_LOG],
                      extra_args=("--poll-interval", POLL),
                      env={"DRIVEFS_HOSTNAME": "hosta"})
    fd = os.open(m.path / "log.txt", os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, b"line 1\n")
        drive.act("edit", id=f.id, content=b"remote\n")
        os.fsync(fd)  # pushes now: meets the conflict
        os.write(fd, b"line 2\n")
    finally:
        os.close(fd)
    wait_converged(drive, m)
    files = drive_contents(drive)
    assert files["log.txt"] == b"remote\n"
    (copy,) = [p for p in files if p != "log.txt"]
    assert files[copy] == b"base\nline 1\nline 2\n"


# ---- create races ----------------------------------------------------------

def test_create_race_different_bytes(mount_factory, drive):
    a, b = two_machines(mount_factory, a_delay=0.1, b_delay=0.1)
    (a.path / "x.py").write_bytes(b"print('A')\n")
    (b.path / "x.py").write_bytes(b"print('B')\n")
    wait_converged(drive, a, b)
    files = drive_contents(drive)
    assert len(files) == 2, files
    assert "x.py" in files
    (copy,) = [p for p in files if p != "x.py"]
    assert re.match(r"^x\.conflict-host[ab]-\d{8}-\d{6}\.py$", copy), copy
    assert {files["x.py"], files[copy]} == {b"print('A')\n",
                                            b"print('B')\n"}


def test_create_race_same_bytes(mount_factory, drive):
    a, b = two_machines(mount_factory, a_delay=0.1, b_delay=0.1)
    (a.path / "x.py").write_bytes(b"same\n")
    (b.path / "x.py").write_bytes(b"same\n")
    wait_converged(drive, a, b)
    assert drive_contents(drive) == {"x.py": b"same\n"}
    # The twin went to the trash, not away: nothing is ever lost.
    trashed = [f for f in drive.tree() if f.get("trashed")]
    assert len(trashed) == 1


def test_mkdir_race_merges_folders(mount_factory, drive):
    a, b = two_machines(mount_factory, a_delay=0.1, b_delay=0.1)
    os.mkdir(a.path / "src")
    os.mkdir(b.path / "src")
    (a.path / "src" / "a.py").write_bytes(b"a")
    (b.path / "src" / "b.py").write_bytes(b"b")
    wait_converged(drive, a, b)
    assert drive_contents(drive) == {"src/a.py": b"a", "src/b.py": b"b"}
    folders = [f for f in drive.tree() if not f.get("trashed") and
               f["mimeType"].endswith(".folder") and f["name"] == "src"]
    assert len(folders) == 1


def test_twin_leaving_gives_its_name_back(mount_factory, drive):
    """Two Drive files of one name show as `dup.txt` and an alias; when
    one leaves through the mount (unlink, or a rename away), the other
    shows as `dup.txt` again, as Drive now has one file of that name."""
    drive.seed("d/dup.txt", b"one")
    drive.seed("d/dup.txt", b"two")
    drive.seed("e/dup.txt", b"three")
    drive.seed("e/dup.txt", b"four")
    m = mount_factory()
    for sub, leave in (("d", "unlink"), ("e", "rename")):
        names = sorted(os.listdir(m.path / sub))
        assert len(names) == 2 and "dup.txt" in names, names
        alias = [n for n in names if n != "dup.txt"][0]
        kept = (m.path / sub / alias).read_bytes()
        if leave == "unlink":
            os.unlink(m.path / sub / "dup.txt")
        else:
            os.rename(m.path / sub / "dup.txt", m.path / ("moved-" + sub))
        assert os.listdir(m.path / sub) == ["dup.txt"]
        assert (m.path / sub / "dup.txt").read_bytes() == kept
    wait_synced(m)
    assert (m.path / "moved-e").exists()


def test_existing_duplicates_are_left_alone(mount_factory, drive):
    one = drive.seed("dup.txt", b"one")
    two = drive.seed("dup.txt", b"two")
    a, b = two_machines(mount_factory)
    assert sorted(os.listdir(a.path)) == sorted(os.listdir(b.path))
    assert len(os.listdir(a.path)) == 2
    (a.path / "other.txt").write_bytes(b"o")
    wait_synced(a)
    poll_until(lambda: "other.txt" in os.listdir(b.path), DEADLINE,
               "other.txt on B")
    wait_synced(b)
    assert sorted(os.listdir(a.path)) == sorted(os.listdir(b.path))
    for f in (one, two):
        assert drive.file(f.id)["trashed"] is False
