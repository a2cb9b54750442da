"""tools/colab-setup.sh on a fake Colab layout, against the emulator.

A temporary directory stands in for /content (DRIVEFS_CONTENT_DIR): it
holds .config/application_default_credentials.json as
auth.authenticate_user() writes it, and drive/ where the stock mount
lives. DRIVEFS_API_URL / DRIVEFS_TOKEN_URL point the script at the
emulator. The Debian packages are installed on CI, so the apt step only
checks them (no network). The script leaves a detached daemon behind, as
on Colab; each test unmounts it and waits for that PID (from
CONTENT/.drivefs.pid) to exit, killing only that PID if it hangs.
"""
import json
import os
import pathlib
import re
import signal
import subprocess
import time

import pytest

from mountlib import DRIVEFS_BIN, is_mounted, poll_until, wait_synced

REPO = pathlib.Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools/colab-setup.sh"
BAD_LOG = re.compile(r"\b(ERROR|WARN)\b|Sanitizer|runtime error:")

pytestmark = pytest.mark.skipif(
    not (DRIVEFS_BIN / "drivefs").exists() or
    not (DRIVEFS_BIN / "drivefs-status").exists(),
    reason="drivefs not built")


def alive(pid):
    """Running (a zombie nobody has reaped yet has finished its work)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


class Colab:
    def __init__(self, tmp_path, drive):
        self.tmp = tmp_path
        self.drive = drive
        self.content = tmp_path / "content"
        (self.content / ".config").mkdir(parents=True)
        self.adc = self.content / ".config/application_default_credentials.json"
        self.adc.write_text(json.dumps(drive.credentials()))
        self.adc.chmod(0o600)
        (tmp_path / "home").mkdir()
        self.env = dict(os.environ)
        # Not the variables of an outer `make integ`/`make asan` either:
        # the script's own make must build as a user's would.
        for k in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG",
                  "XDG_CONFIG_HOME", "MAKEFLAGS", "MFLAGS", "MAKELEVEL"):
            self.env.pop(k, None)
        self.env.update({
            "HOME": str(tmp_path / "home"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "XDG_RUNTIME_DIR": str(tmp_path / "run"),
            "DRIVEFS_CONTENT_DIR": str(self.content),
            "DRIVEFS_API_URL": drive.url,
            "DRIVEFS_TOKEN_URL": drive.url + "/token",
        })
        (tmp_path / "run").mkdir(mode=0o700)
        self.mountpoints = []

    @property
    def pidfile(self):
        return self.content / ".drivefs.pid"

    def run(self, *args, bin_dir=DRIVEFS_BIN, timeout=120):
        env = dict(self.env)
        if bin_dir is not None:
            env["DRIVEFS_BIN_DIR"] = str(bin_dir)
        p = subprocess.run(["bash", str(SCRIPT), *map(str, args)], env=env,
                           capture_output=True, text=True, timeout=timeout)
        mnt = self.content / "drive/MyDrive"
        if "--mountpoint" in args:
            mnt = pathlib.Path(args[list(args).index("--mountpoint") + 1])
        if mnt not in self.mountpoints:
            self.mountpoints.append(mnt)
        return p

    def daemon_pid(self):
        try:
            return int(self.pidfile.read_text())
        except (FileNotFoundError, ValueError):
            return None

    def log(self):
        p = self.content / "drivefs.log"
        return p.read_text() if p.exists() else ""

    def cleanup(self):
        pid = self.daemon_pid()
        for m in self.mountpoints:
            if is_mounted(m):
                subprocess.run(["fusermount3", "-u", str(m)],
                               capture_output=True)
        if pid:
            end = time.monotonic() + 60
            while time.monotonic() < end and alive(pid):
                time.sleep(0.05)
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
        for m in self.mountpoints:
            if is_mounted(m):
                subprocess.run(["fusermount3", "-uz", str(m)],
                               capture_output=True)


@pytest.fixture
def colab(tmp_path, drive):
    c = Colab(tmp_path, drive)
    yield c
    c.cleanup()
    bad = [ln for ln in c.log().splitlines() if BAD_LOG.search(ln)]
    assert not bad, "daemon log:\n" + "\n".join(bad)


def assert_ok(p):
    assert p.returncode == 0, "exit %d\nstdout:\n%s\nstderr:\n%s" % (
        p.returncode, p.stdout, p.stderr)


def test_mounts_my_drive_at_the_colab_path(colab, drive):
    drive.seed("notebooks/a.py", b"print(1)\n")
    p = colab.run()
    assert_ok(p)
    mnt = colab.content / "drive/MyDrive"
    assert is_mounted(mnt)
    assert "== Debian packages" in p.stdout
    assert "== drivefs-status" in p.stdout
    assert "source: Colab application default credentials" in p.stdout
    assert (mnt / "notebooks/a.py").read_bytes() == b"print(1)\n"
    (mnt / "notebooks/b.py").write_bytes(b"print(2)\n")
    wait_synced(mnt, env=colab.env)
    b = [f for f in drive.tree() if f["name"] == "b.py"]
    assert len(b) == 1 and drive.content(b[0]["id"]) == b"print(2)\n"
    for secret in ("fakedrive-client-secret", "fakedrive-refresh-token",
                   "ya29."):
        assert secret not in p.stdout + p.stderr + colab.log()


def test_subfolder_and_other_mountpoint(colab, drive, tmp_path):
    drive.seed("proj/dev/x.txt", b"x")
    drive.seed("elsewhere.txt", b"e")
    mnt = tmp_path / "work"
    p = colab.run("--root", "proj/dev", "--mountpoint", mnt)
    assert_ok(p)
    assert sorted(os.listdir(mnt)) == ["x.txt"]


def test_passes_mount_options(colab, drive):
    p = colab.run("--", "--poll-interval", "0.2", "--conflict", "keep-both")
    assert_ok(p)
    mnt = colab.content / "drive/MyDrive"
    drive.act("create", name="remote.txt", content=b"r")
    poll_until(lambda: "remote.txt" in os.listdir(mnt), 20,
               "remote.txt through --poll-interval 0.2")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting tmpfs needs root")
def test_replaces_the_stock_mount(colab, drive):
    """Whatever is mounted at /content/drive (here a tmpfs standing in for
    Colab's own FUSE mount) is unmounted first."""
    stock = colab.content / "drive"
    stock.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "stock",
                    str(stock)], check=True)
    try:
        (stock / "MyDrive").mkdir()
        (stock / "MyDrive/stock-file").write_text("from the stock mount")
        p = colab.run()
        assert_ok(p)
        assert "unmounting the stock mount (tmpfs)" in p.stdout
        assert is_mounted(stock / "MyDrive")
        assert not is_mounted(stock)
        assert "stock-file" not in os.listdir(stock / "MyDrive")
    finally:
        colab.cleanup()
        if is_mounted(stock):
            subprocess.run(["umount", "-l", str(stock)])


def test_rerun_replaces_its_own_mount(colab, drive):
    assert_ok(colab.run("--", "--writeback-delay", "30"))
    first = colab.daemon_pid()
    mnt = colab.content / "drive/MyDrive"
    (mnt / "queued.txt").write_bytes(b"q")        # pending for 30 s
    p = colab.run()
    assert_ok(p)
    assert "unmounting the earlier drivefs mount" in p.stdout
    assert not alive(first)
    # The earlier daemon drained its queue before it exited.
    q = [f for f in drive.tree() if f["name"] == "queued.txt"]
    assert len(q) == 1 and drive.content(q[0]["id"]) == b"q"
    assert colab.daemon_pid() != first
    assert (mnt / "queued.txt").read_bytes() == b"q"


def test_without_credentials_says_what_to_do(colab):
    colab.adc.unlink()
    p = colab.run()
    assert p.returncode == 1
    assert "auth.authenticate_user()" in p.stderr
    assert not is_mounted(colab.content / "drive/MyDrive")


def test_refuses_a_non_empty_mountpoint(colab, tmp_path):
    mnt = tmp_path / "full"
    mnt.mkdir()
    (mnt / "keep.txt").write_text("mine")
    p = colab.run("--mountpoint", mnt)
    assert p.returncode == 1 and "not empty" in p.stderr
    assert (mnt / "keep.txt").read_text() == "mine"


def test_builds_from_source(colab, drive, tmp_path):
    """Without --bin-dir the script builds drivefs (into --build-dir)."""
    build = tmp_path / "build"
    p = colab.run("--build-dir", build, bin_dir=None, timeout=600)
    assert_ok(p)
    assert (build / "bin/drivefs").exists()
    assert (build / "bin/drivefs-status").exists()
    assert is_mounted(colab.content / "drive/MyDrive")
