"""Editor save patterns: each must leave the file's Drive id unchanged and
make no extra Drive file (DESIGN.md "Write-back: one file id, ever").

Every pattern runs on a file that came from Drive (seeded before the mount)
and on one created through the mount and synced first.
"""

import os
import subprocess

import pytest

from mountlib import create_requests, ctl_file, drive_paths, wait_synced

OLD = b"def f():\n    return 'old line'\n"
NEW = b"def f():\n    return 'new line'\n"
REL = "proj/file.py"


def save_in_place(path):
    """code-server / VS Code: open(O_TRUNC) the file itself and write."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, NEW)
    finally:
        os.close(fd)


def save_temp_rename(path):
    """Emacs (file-precious-flag), atomic writers: write a temp file next
    to the target, rename it over the target."""
    tmp = path.with_name(path.name + "___jb_tmp___")
    tmp.write_bytes(NEW)
    os.chmod(tmp, os.stat(path).st_mode & 0o7777)
    os.rename(tmp, path)


def save_jetbrains_safe_write(path):
    """JetBrains "safe write": write temp, move the original aside, move
    the temp to the name, delete the original."""
    tmp = path.with_name(path.name + "___jb_tmp___")
    old = path.with_name(path.name + "___jb_old___")
    tmp.write_bytes(NEW)
    os.rename(path, old)
    os.rename(tmp, path)
    os.unlink(old)


def save_vim_backupcopy_no(path):
    """vim with backupcopy=no: rename file to file~, write a new file,
    copy the mode, delete the backup."""
    backup = path.with_name(path.name + "~")
    mode = os.stat(path).st_mode & 0o7777
    os.rename(path, backup)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, NEW)
    finally:
        os.close(fd)
    os.chmod(path, mode)
    os.unlink(backup)


def save_sed_i(path):
    """GNU sed -i: a temp file in the same directory renamed over."""
    subprocess.run(["sed", "-i", "s/old line/new line/", str(path)],
                   check=True, cwd="/")


PATTERNS = {
    "in_place": save_in_place,
    "temp_rename": save_temp_rename,
    "jetbrains_safe_write": save_jetbrains_safe_write,
    "vim_backupcopy_no": save_vim_backupcopy_no,
    "sed_i": save_sed_i,
}


@pytest.mark.parametrize("origin", ["drive", "mount"])
@pytest.mark.parametrize("pattern", list(PATTERNS))
def test_editor_save_keeps_drive_id(mount_factory, drive, pattern, origin):
    if origin == "drive":
        fid = drive.seed(REL, OLD).id
        m = mount_factory()
        assert (m.path / REL).read_bytes() == OLD
    else:
        m = mount_factory()
        (m.path / "proj").mkdir()
        (m.path / REL).write_bytes(OLD)
        wait_synced(m)
        fid = drive_paths(drive)[REL].id
    wait_synced(m)
    tree_before = drive.tree()
    paths_before = drive_paths(drive, tree_before)
    stats_before = drive.stats()

    PATTERNS[pattern](m.path / REL)

    assert (m.path / REL).read_bytes() == NEW
    assert sorted(os.listdir(m.path / "proj")) == ["file.py"]
    wait_synced(m)
    tree_after = drive.tree()
    paths_after = drive_paths(drive, tree_after)
    assert paths_after[REL].id == fid, \
        "the save gave %s a new Drive id" % REL
    assert drive.content(fid) == NEW
    assert sorted(paths_after) == sorted(paths_before)
    made = create_requests(drive.stats(), stats_before)
    assert made == [], "the save created Drive files: %s" % made
    new_ids = {f.id for f in tree_after} - {f.id for f in tree_before}
    assert not new_ids, [f for f in tree_after if f.id in new_ids]
    assert ctl_file(m, REL)["id"] == fid
