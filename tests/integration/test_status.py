"""drivefs-status and the control socket (docs/SEMANTICS.md "Status",
schema in docs/STATUS.md): what a mount shows, --wait, --pause/--resume,
--sync-now, offline, conflicts, the uid check, --watch on a terminal, and
the daemon's log file.

Every daemon here gets its own runtime directory (XDG_RUNTIME_DIR, a short
path under /tmp so the socket path fits sun_path), so parallel runs never
see each other's sockets."""

import json
import os
import pathlib
import re
import shutil
import signal
import stat
import subprocess
import tempfile
import time

import pytest

from mountlib import (DRIVEFS_BIN, ctl_request, drive_files, drive_paths,
                      is_mounted, poll_until)

STATUS = DRIVEFS_BIN / "drivefs-status"
DEADLINE = 30
# What must never reach a log or the status output (STYLE.md section 6).
SECRETS = ("ya29.", "Bearer", "fakedrive-refresh-token",
           "fakedrive-client-secret")
SCHEMA = {
    "ok": bool, "proto": int, "version": str, "pid": int, "now_ms": int,
    "mountpoint": str, "account": str, "root": str, "root_id": str,
    "cache_dir": str, "state": str, "paused": bool,
    "writeback_delay_ms": int, "queue": dict, "uploads": list,
    "downloads": list, "cache": dict, "api": dict, "network": dict,
    "poll": dict, "conflicts": dict, "duplicates": dict, "errors": list,
}
SUBSCHEMA = {
    "queue": {"files": int, "bytes": int, "failing": int, "in_flight": int,
              "truncated": bool, "items": list},
    "cache": {"bytes": int, "cap": int, "hits": int, "misses": int},
    "api": {"calls_last_minute": int, "calls_total": int,
            "last_minute": dict, "total": dict,
            "rate_limited_last_minute": int},
    "network": {"online": bool},
    "poll": {"interval_ms": int},
    "conflicts": {"total": int, "items": list},
    "duplicates": {"total": int, "items": list},
}


@pytest.fixture
def rundir():
    """A private runtime directory (0700), removed afterwards."""
    d = tempfile.mkdtemp(prefix="dfs-rt-", dir="/tmp")
    os.chmod(d, 0o700)
    try:
        yield pathlib.Path(d)
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def smount(mount_factory, rundir):
    """mount_factory with the private runtime directory."""
    def make(**kw):
        env = dict(kw.pop("env", None) or {})
        env["XDG_RUNTIME_DIR"] = str(rundir)
        return mount_factory(env=env, **kw)
    return make


def run_status(rundir, *args, timeout=DEADLINE + 30, user=None):
    env = dict(os.environ, XDG_RUNTIME_DIR=str(rundir))
    env.pop("NO_COLOR", None)
    cmd = [str(STATUS)] + [str(a) for a in args]
    if user:
        cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user,
               "--clear-groups"] + cmd
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, timeout=timeout)
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    for s in SECRETS:
        assert s not in out and s not in err, "secret %r in output" % s
    assert "Sanitizer" not in err and "runtime error" not in err, err
    return p.returncode, out, err


def status(rundir, m, *args):
    rc, out, err = run_status(rundir, "--json", *args, m.path)
    assert rc == 0, "drivefs-status failed (%d): %s" % (rc, err)
    return json.loads(out)


def wait_state(rundir, m, pred, what):
    last = {}

    def check():
        last["st"] = status(rundir, m)
        return pred(last["st"])
    poll_until(check, DEADLINE, lambda: "%s; last status %s" % (
        what, json.dumps(last.get("st"), indent=1)[:3000]))
    return last["st"]


def socket_of(rundir):
    socks = list((rundir / "drivefs").glob("*.sock"))
    assert len(socks) == 1, socks
    return socks[0]


# ---------------------------------------------------------------- Status

def test_status_idle(smount, rundir):
    m = smount()
    st = status(rundir, m)
    assert st["ok"] is True and st["proto"] == 1
    assert st["state"] == "idle"
    assert st["mountpoint"] == str(m.path)
    assert st["pid"] == m.pid
    assert st["account"] == "user@example.com"
    assert st["root"] == "root" and st["root_id"]
    assert st["queue"]["files"] == 0 and st["queue"]["items"] == []
    assert st["network"]["online"] is True
    assert st["api"]["calls_total"] == sum(st["api"]["total"].values())
    rc, out, err = run_status(rundir, m.path)
    assert rc == 0, err
    assert str(m.path) in out and "idle" in out
    assert "user@example.com" in out
    assert "\x1b[" not in out   # no colors when stdout is not a terminal


def test_status_json_schema(smount, rundir, drive):
    drive.seed("a.txt", b"hello")
    m = smount()
    assert (m.path / "a.txt").read_bytes() == b"hello"
    st = status(rundir, m)
    for k, t in SCHEMA.items():
        assert isinstance(st.get(k), t), (k, st.get(k))
    for k, sub in SUBSCHEMA.items():
        for kk, t in sub.items():
            assert isinstance(st[k].get(kk), t), (k, kk, st[k].get(kk))
    assert st["state"] in ("idle", "syncing", "offline", "error", "paused")
    # the open fetched a.txt: one miss, recorded as such
    assert st["cache"]["misses"] >= 1
    assert isinstance(st["cache"]["hit_rate"], float)
    assert st["cache"]["bytes"] >= 5
    assert st["api"]["total"].get("files.get.media", 0) >= 1
    assert st["poll"]["interval_ms"] == 0 and st["poll"]["last_ok_ms"] is None


def test_status_queue_pause_resume_wait(smount, rundir, drive):
    m = smount()
    rc, _, err = run_status(rundir, "--pause", m.path)
    assert rc == 0, err
    sizes = {"a.txt": 10, "b.bin": 300000, "c.py": 1}
    for name, n in sizes.items():
        (m.path / name).write_bytes(b"x" * n)
    st = wait_state(rundir, m, lambda s: s["queue"]["files"] == 3,
                    "three files queued")
    assert st["state"] == "paused" and st["paused"] is True
    items = {i["path"]: i for i in st["queue"]["items"]}
    assert set(items) == set(sizes)
    for name, n in sizes.items():
        assert items[name]["size"] == n
        assert items[name]["op"] == "upload"
        assert items[name]["state"] == "paused"
    assert st["queue"]["bytes"] == sum(sizes.values())
    rc, out, _ = run_status(rundir, m.path)
    assert "paused" in out and "b.bin" in out and "3 files" in out
    assert drive_files(drive) == {}   # nothing left while paused
    rc, _, err = run_status(rundir, "--resume", m.path)
    assert rc == 0, err
    rc, _, err = run_status(rundir, "--wait", "--timeout", DEADLINE, m.path)
    assert rc == 0, err
    files = drive_files(drive)
    assert sorted(files) == sorted(sizes)
    for name, n in sizes.items():
        assert int(files[name]["size"]) == n
    st = status(rundir, m)
    assert st["state"] == "idle" and st["queue"]["files"] == 0


def test_status_upload_progress(smount, rundir, drive):
    size = 24 << 20   # resumable, 8 MiB chunks: progress per chunk
    drive.config(bandwidth=6 << 20)
    m = smount()
    with open(m.path / "big.bin", "wb") as f:
        f.write(os.urandom(size))
    seen = {}

    def uploading():
        st = status(rundir, m)
        for u in st["uploads"]:
            if u["path"] == "big.bin" and u["total"] == size:
                seen.setdefault("first", u)
                if u["done"] > 0:
                    seen["moving"] = (u, st)
                    return True
        return False
    poll_until(uploading, DEADLINE, lambda: "big.bin uploading: %r" % seen)
    u, st = seen["moving"]
    assert 0 < u["done"] < size
    assert u["rate_bps"] > 0 and u["eta_s"] is not None
    assert st["state"] == "syncing" and st["queue"]["in_flight"] == 1
    assert st["queue"]["items"][0]["state"] == "uploading"
    rc, out, _ = run_status(rundir, m.path)
    assert re.search(r"uploading +\d+%  big\.bin", out), out
    drive.config(bandwidth=0)
    rc, _, err = run_status(rundir, "--wait", "--timeout", DEADLINE, m.path)
    assert rc == 0, err
    assert int(drive_files(drive)["big.bin"]["size"]) == size


def test_status_wait_timeout_while_paused(smount, rundir):
    m = smount()
    rc, _, _ = run_status(rundir, "--pause", m.path)
    assert rc == 0
    (m.path / "held.txt").write_bytes(b"held")
    t0 = time.monotonic()
    rc, _, err = run_status(rundir, "--wait", "--timeout", "1.5", m.path)
    assert rc == 1, err
    assert time.monotonic() - t0 >= 1.5
    assert "timed out" in err and "1 pending" in err
    rc, _, _ = run_status(rundir, "--resume", m.path)
    assert rc == 0
    rc, _, err = run_status(rundir, "--wait", "--timeout", DEADLINE, m.path)
    assert rc == 0, err


def test_status_wait_error_without_daemon(rundir, tmp_path):
    rc, _, err = run_status(rundir, "--wait", tmp_path)
    assert rc == 2
    assert "not a drivefs mount" in err


def test_status_sync_now_skips_delay(smount, rundir, drive):
    m = smount(writeback_delay=600)
    (m.path / "late.txt").write_bytes(b"soon")
    st = wait_state(rundir, m, lambda s: s["queue"]["files"] == 1,
                    "late.txt queued")
    assert st["queue"]["items"][0]["state"] == "waiting"
    assert st["queue"]["items"][0]["due_in_ms"] > 500000
    rc, _, err = run_status(rundir, "--sync-now", "--wait", "--timeout",
                            DEADLINE, m.path)
    assert rc == 0, err
    assert "late.txt" in drive_files(drive)


def test_status_offline(smount, rundir, drive):
    # An edit of a file Drive has: no new id is needed while Drive is down
    # (ids generated just before a stop can be lost by the emulator).
    f = drive.seed("down.txt", b"before")
    m = smount(allow_log=[r"WARN", r"ERROR"])
    assert (m.path / "down.txt").read_bytes() == b"before"
    drive.stop()
    (m.path / "down.txt").write_bytes(b"queued offline")
    st = wait_state(rundir, m, lambda s: s["state"] == "offline",
                    "state offline")
    assert st["network"]["online"] is False
    assert st["network"]["last_unreachable_ms"] is not None
    assert st["network"]["last_unreachable_error"]
    assert st["queue"]["files"] >= 1
    rc, out, _ = run_status(rundir, m.path)
    assert "offline" in out and "OFFLINE" in out
    # cached reads keep working, the queue drains when Drive is back
    assert (m.path / "down.txt").read_bytes() == b"queued offline"
    drive.restart()
    rc, _, err = run_status(rundir, "--sync-now", "--wait", "--timeout",
                            90, m.path, timeout=120)
    assert rc == 0, err
    st = status(rundir, m)
    assert st["network"]["online"] is True and st["state"] == "idle"
    assert drive.content(f.id) == b"queued offline"


def test_status_conflict_listed(smount, rundir, drive):
    f = drive.seed("c.txt", b"base")
    m = smount(allow_log=[r"conflict \("],
               env={"DRIVEFS_HOSTNAME": "hosta"})
    assert (m.path / "c.txt").read_bytes() == b"base"
    assert run_status(rundir, "--pause", m.path)[0] == 0
    (m.path / "c.txt").write_bytes(b"mine")
    drive.act("edit", id=f.id, content="theirs")
    assert run_status(rundir, "--resume", m.path)[0] == 0
    rc, _, err = run_status(rundir, "--wait", "--timeout", DEADLINE, m.path)
    assert rc == 0, err
    st = wait_state(rundir, m, lambda s: s["conflicts"]["total"] == 1,
                    "one conflict")
    c = st["conflicts"]["items"][0]
    assert c["path"] == "c.txt"
    assert c["kind"] == "keep-both"
    assert re.match(r"^c\.conflict-hosta-\d{8}-\d{6}\.txt$", c["copy"]), c
    assert abs(c["when_ms"] - st["now_ms"]) < 120000
    rc, out, _ = run_status(rundir, m.path)
    assert "conflicts  1" in out and c["copy"] in out


def test_status_duplicates_listed(smount, rundir, drive):
    drive.seed("d.txt", b"old", createdTime="2020-01-01T00:00:00.000Z")
    new = drive.seed("d.txt", b"new", createdTime="2021-01-01T00:00:00.000Z")
    m = smount()
    names = sorted(os.listdir(m.path))
    assert len(names) == 2 and "d.txt" in names
    st = status(rundir, m)
    assert st["duplicates"]["total"] == 1
    d = st["duplicates"]["items"][0]
    assert d["id"] == new.id and d["name"] == "d.txt"
    assert d["path"] in names and d["path"] != "d.txt"


def test_status_refuses_other_uid(smount, rundir):
    m = smount(allow_log=[r"ctl: control connection from uid 65534"])
    sock = socket_of(rundir)
    assert stat.S_IMODE(sock.stat().st_mode) == 0o600
    assert stat.S_IMODE((rundir / "drivefs").stat().st_mode) == 0o700
    # As created, the socket is out of reach for anyone else.
    rc, out, err = run_status(rundir, "--socket", sock, user=65534)
    assert rc == 2 and out == "", (rc, out, err)
    assert "permission denied" in err or "Permission denied" in err
    # With the file permissions opened up, the daemon itself refuses
    # (SO_PEERCRED) and says so in its log.
    os.chmod(rundir, 0o711)
    os.chmod(rundir / "drivefs", 0o711)
    os.chmod(sock, 0o666)
    try:
        rc, out, err = run_status(rundir, "--socket", sock, user=65534)
        assert rc == 2 and out == "", (rc, out, err)
        assert "not the mount's owner" in err
        for cmd in ("--pause", "--sync-now"):
            rc, _, err = run_status(rundir, cmd, "--socket", sock,
                                    user=65534)
            assert rc == 2, err
    finally:
        os.chmod(sock, 0o600)
        os.chmod(rundir / "drivefs", 0o700)
        os.chmod(rundir, 0o700)
    poll_until(lambda: "uid 65534" in m.log(), 5, "the refusal logged")
    st = status(rundir, m)
    assert st["paused"] is False   # the refused --pause did nothing


def test_status_bad_requests(smount, rundir):
    import socket
    m = smount()
    sock = str(socket_of(rundir))

    def ask(data, eof=False):
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(10)
            c.connect(sock)
            try:
                c.sendall(data)
                if eof:
                    c.shutdown(socket.SHUT_WR)
            except (BrokenPipeError, ConnectionResetError):
                pass
            out = b""
            while not out.endswith(b"\n"):
                try:
                    chunk = c.recv(65536)
                except ConnectionResetError:
                    break
                if not chunk:
                    break
                out += chunk
        return json.loads(out)

    for bad in (b"garbage\n", b"[1,2]\n", b'{"cmd": 5}\n', b"\n",
                b'{"cmd": "status", "cmd": "pause"}\n'):
        r = ask(bad)
        assert r["ok"] is False and "bad request" in r["error"], (bad, r)
    r = ask(b'{"cmd": "rm -rf"}\n')
    assert r["ok"] is False and r["error"] == "unknown command"
    r = ask(b"x" * 10000 + b"\n")
    assert r["ok"] is False and "too long" in r["error"]
    r = ask(b'{"cmd": "status"}', eof=True)   # EOF ends a request too
    assert r["ok"] is True and r["state"] == "idle"
    r = ask(b'{"cmd": "status"')       # no end: refused after the timeout
    assert r["ok"] is False and r["error"] == "request unreadable"
    assert status(rundir, m)["paused"] is False


def test_status_all_mounts(smount, rundir):
    a = smount()
    b = smount()
    rc, out, err = run_status(rundir, "--json")
    assert rc == 0, err
    mps = sorted(s["mountpoint"] for s in json.loads(out)["mounts"])
    assert mps == sorted([str(a.path), str(b.path)])
    rc, out, err = run_status(rundir)
    assert rc == 0, err
    assert str(a.path) in out and str(b.path) in out


def test_status_no_mounts(rundir):
    rc, out, err = run_status(rundir)
    assert rc == 0, err
    assert "no drivefs mounts" in out
    rc, out, err = run_status(rundir, "--json")
    assert rc == 0 and json.loads(out) == {"mounts": []}


def test_status_stale_socket_replaced(smount, rundir):
    m = smount()
    sock = socket_of(rundir)
    m.unmount()
    assert not sock.exists()   # removed at exit
    m2 = smount()
    assert status(rundir, m2)["state"] == "idle"


# ---------------------------------------------------------------- --file
# What the user.drive.* / user.drivefs.* xattrs show with --xattrs, for
# every mount (docs/SEMANTICS.md "Extended attributes", docs/STATUS.md).

FILE_SCHEMA = {
    "path": str, "kind": str, "in_drive": bool, "size": int, "cached": int,
    "mtime_ms": int, "sync": str, "state": str, "fails": int,
    "due_in_ms": int, "mount_pending": int, "mountpoint": str,
}


def file_info(rundir, path, *args):
    rc, out, err = run_status(rundir, "--file", path, "--json", *args)
    assert rc == 0, "drivefs-status --file %s failed (%d): %s" % (
        path, rc, err)
    fi = json.loads(out)
    for k, t in FILE_SCHEMA.items():
        assert isinstance(fi.get(k), t), (k, fi)
    return fi


def test_status_file_clean(smount, rundir, drive):
    seeded = drive.seed("dir/a.txt", b"hello")
    m = smount()
    assert (m.path / "dir/a.txt").read_bytes() == b"hello"
    fi = file_info(rundir, m.path / "dir/a.txt")
    assert fi["mountpoint"] == str(m.path) and fi["path"] == "dir/a.txt"
    assert fi["kind"] == "file" and fi["in_drive"] is True
    assert fi["id"] == seeded.id
    assert fi["md5"] == seeded.md5Checksum
    assert fi["version"] == int(seeded.version)
    assert fi["size"] == 5 and fi["drive_size"] == 5 and fi["cached"] == 5
    assert fi["sync"] == "clean" and fi["state"] == "clean"
    assert fi["op"] is None and fi["error"] is None
    assert fi["mount_pending"] == 0
    rc, out, err = run_status(rundir, "--file", m.path / "dir/a.txt")
    assert rc == 0, err
    assert seeded.id in out and seeded.md5Checksum in out
    assert "clean" in out and str(m.path / "dir/a.txt") in out
    # Folders and the mount point itself; a relative path from inside.
    d = file_info(rundir, m.path / "dir")
    assert d["kind"] == "folder" and d["id"] == drive_paths(drive)["dir"].id
    root = file_info(rundir, m.path)
    assert root["path"] == "" and root["kind"] == "folder"
    env = dict(os.environ, XDG_RUNTIME_DIR=str(rundir))
    p = subprocess.run([str(STATUS), "--file", "a.txt", "--json"],
                       cwd=str(m.path / "dir"), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       timeout=DEADLINE)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["id"] == seeded.id


def test_status_file_dirty_then_uploaded(smount, rundir, drive):
    m = smount()
    rc, _, err = run_status(rundir, "--pause", m.path)
    assert rc == 0, err
    (m.path / "new.txt").write_bytes(b"pending bytes")
    fi = file_info(rundir, m.path / "new.txt")
    assert fi["sync"] == "dirty" and fi["state"] == "paused", fi
    assert fi["op"] == "upload" and fi["in_drive"] is False
    assert fi["md5"] is None and fi["version"] is None
    assert fi["size"] == 13 and fi["mount_pending"] >= 1
    rc, out, err = run_status(rundir, "--file", m.path / "new.txt")
    assert rc == 0, err
    assert "paused" in out and "not in Drive yet" in out
    rc, _, err = run_status(rundir, "--resume", m.path)
    assert rc == 0, err
    rc, _, err = run_status(rundir, "--wait", "--timeout", DEADLINE, m.path)
    assert rc == 0, err
    f = drive_files(drive)["new.txt"]
    fi = file_info(rundir, m.path / "new.txt")
    assert fi["sync"] == "clean" and fi["state"] == "clean", fi
    assert fi["id"] == f["id"] and fi["in_drive"] is True
    assert fi["md5"] == f["md5Checksum"]
    assert fi["version"] == int(f["version"])
    assert fi["drive_size"] == 13 and fi["mount_pending"] == 0


def test_status_file_errors(smount, rundir, tmp_path):
    m = smount()
    # A path outside every mount: clear message, exit 2.
    outside = tmp_path / "elsewhere.txt"
    outside.write_bytes(b"x")
    rc, out, err = run_status(rundir, "--file", outside)
    assert rc == 2 and out == ""
    assert "not inside a drivefs mount" in err, err
    # Inside the mount, but no such file.
    rc, out, err = run_status(rundir, "--file", m.path / "nope/x.txt")
    assert rc == 2 and "no such file" in err, err
    # --file finds its own mount: no MOUNTPOINT, no --wait with it.
    rc, _, err = run_status(rundir, "--file", m.path, m.path)
    assert rc == 2 and "--file" in err
    rc, _, err = run_status(rundir, "--file", m.path, "--wait")
    assert rc == 2 and "--file" in err
    # The request is checked by the daemon too.
    sock = socket_of(rundir)
    for req in ({"cmd": "file"}, {"cmd": "file", "path": 5},
                {"cmd": "file", "path": "../etc/passwd"},
                {"cmd": "file", "path": "/etc/passwd"}):
        r = ctl_request(sock, req)
        assert r["ok"] is False and r["error"], (req, r)


def test_status_file_without_daemon(rundir, tmp_path):
    rc, out, err = run_status(rundir, "--file", tmp_path)
    assert rc == 2 and "not inside a drivefs mount" in err, err


# ---------------------------------------------------------------- --watch

def test_status_watch_tty(smount, rundir, tmp_path):
    if not shutil.which("tmux"):
        pytest.skip("tmux missing")
    m = smount()
    tsock = str(tmp_path / "tmux.sock")
    env = dict(os.environ, XDG_RUNTIME_DIR=str(rundir))
    env.pop("NO_COLOR", None)
    env.pop("TMUX", None)
    cmd = "%s --watch %s" % (STATUS, m.path)
    subprocess.run(["tmux", "-S", tsock, "new-session", "-d", "-x", "160",
                    "-y", "60", cmd], env=env, check=True)
    try:
        def screen(escapes=False):
            args = ["tmux", "-S", tsock, "capture-pane", "-p", "-t", "0"]
            if escapes:
                args.append("-e")
            return subprocess.run(args, stdout=subprocess.PIPE, env=env,
                                  check=True).stdout.decode("utf-8",
                                                            "replace")

        first = poll_until(lambda: "idle" in screen() and screen(),
                           DEADLINE, lambda: "watch to render: %r"
                           % screen())
        assert str(m.path) in first
        stamp = re.search(r"drivefs-status  (\d\d:\d\d:\d\d)", first)
        assert stamp, first
        # redrawn every second: the clock moves, the screen is not appended
        poll_until(lambda: stamp.group(1) not in screen(), 10,
                   lambda: "a redraw: %r" % screen())
        assert screen().count("drivefs-status  ") == 1
        # and shows changes: pause, queue a file
        assert run_status(rundir, "--pause", m.path)[0] == 0
        (m.path / "w.txt").write_bytes(b"watch me")
        poll_until(lambda: "paused" in screen() and "w.txt" in screen(),
                   DEADLINE, lambda: "the queued file: %r" % screen())
        assert "\x1b[" in screen(escapes=True)   # colors on a terminal
        assert run_status(rundir, "--resume", m.path)[0] == 0
        poll_until(lambda: "idle" in screen() and "w.txt" not in screen(),
                   DEADLINE, lambda: "back to idle: %r" % screen())
    finally:
        subprocess.run(["tmux", "-S", tsock, "kill-server"], env=env,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


# ---------------------------------------------------------------- logs

def test_status_daemon_log_file(drive, creds_file, rundir, tmp_path):
    """Detached with --log-to file: the log goes to <cache>/drivefs.log,
    one line per event, no secrets; status finds the detached daemon."""
    mnt = tmp_path / "mnt"
    cache = tmp_path / "cache"
    mnt.mkdir()
    env = dict(os.environ, XDG_RUNTIME_DIR=str(rundir))
    argv = [str(DRIVEFS_BIN / "drivefs"), "mount", "--credentials",
            str(creds_file), "--api-url", drive.url, "--token-url",
            drive.url + "/token", "--cache-dir", str(cache),
            "--writeback-delay", "0.1", "--poll-interval", "0",
            "--log-to", "file", str(mnt)]
    p = subprocess.run(argv, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=DEADLINE)
    assert p.returncode == 0, p.stderr
    pid = None
    try:
        assert is_mounted(mnt)
        rc, out, err = run_status(rundir, "--json", mnt)
        assert rc == 0, err
        pid = json.loads(out)["pid"]
        (mnt / "logged.txt").write_bytes(b"x")
        rc, _, err = run_status(rundir, "--wait", "--timeout", DEADLINE, mnt)
        assert rc == 0, err
    finally:
        if is_mounted(mnt):
            subprocess.run(["fusermount3", "-u", str(mnt)])
        if pid:
            def gone():
                try:
                    os.kill(pid, 0)
                    return False
                except ProcessLookupError:
                    return True
            try:
                poll_until(gone, DEADLINE, "the daemon to exit")
            except AssertionError:
                os.kill(pid, signal.SIGKILL)
                raise
    logs = list(cache.glob("*/drivefs.log"))
    assert len(logs) == 1, logs
    assert stat.S_IMODE(logs[0].stat().st_mode) == 0o600
    text = logs[0].read_text()
    stamp = r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3} INFO mount: "
    assert re.search(stamp + r"detached \(pid %d\)" % pid, text, re.M), text
    assert re.search(stamp + r"unmounted '%s'" % re.escape(str(mnt)), text,
                     re.M), text
    for s in SECRETS:
        assert s not in text
