"""`make install DESTDIR=...`: binaries, man pages, the systemd user unit.

The unit cannot be started under systemd in CI, so the last test does
what systemd would: runs the installed unit's ExecStartPre/ExecStart with
%h and %I expanded (options from the config file, as on a desktop), then
stops it the way the unit says (KillSignal=SIGTERM to the main process)
and checks that the pending upload reached Drive before the exit.
"""
import os
import pathlib
import re
import shutil
import signal
import subprocess

import pytest

from mountlib import DRIVEFS_BIN, is_mounted, poll_until

REPO = pathlib.Path(__file__).resolve().parents[2]
PREFIX = "/usr/local"


def build_dir():
    """The make B= that produced DRIVEFS_BIN (bin/ is B=build's)."""
    b = DRIVEFS_BIN.resolve()
    if b == (REPO / "bin").resolve():
        return "build"
    return str(b.parent)


@pytest.fixture(scope="module")
def destdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("destdir")
    # -o: install the binaries under test as they are; never rebuild them
    # here (without the flavour's flags, e.g. ASan's).
    progs = [str(DRIVEFS_BIN / n) for n in ("drivefs", "drivefs-status")]
    p = subprocess.run(["make", "-C", str(REPO), "-s", "install",
                        "DESTDIR=%s" % d, "PREFIX=%s" % PREFIX,
                        "B=%s" % build_dir(), "-o", progs[0],
                        "-o", progs[1]],
                       capture_output=True, text=True, timeout=600,
                       env={k: v for k, v in os.environ.items()
                            if k not in ("MAKEFLAGS", "MFLAGS",
                                         "MAKELEVEL")})
    assert p.returncode == 0, p.stdout + p.stderr
    return d


def installed(destdir, rel):
    return destdir / rel.lstrip("/")


def mode(p):
    return oct(p.stat().st_mode & 0o7777)


def test_installs_binaries(destdir):
    for name in ("drivefs", "drivefs-status"):
        p = installed(destdir, PREFIX + "/bin/" + name)
        assert mode(p) == "0o755"
    out = subprocess.run([str(installed(destdir, PREFIX + "/bin/drivefs")),
                          "auth", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "auth login" in out.stdout


def test_installs_man_pages(destdir):
    for name in ("drivefs.1", "drivefs-status.1"):
        p = installed(destdir, PREFIX + "/share/man/man1/" + name)
        assert mode(p) == "0o644"
        if shutil.which("groff"):
            r = subprocess.run(["groff", "-man", "-ww", "-z", str(p)],
                               capture_output=True, text=True)
            assert r.returncode == 0 and not r.stderr, r.stderr


def test_man_page_documents_search_order_and_config(destdir):
    text = installed(destdir, PREFIX + "/share/man/man1/drivefs.1"
                     ).read_text()
    for word in ("GOOGLE_APPLICATION_CREDENTIALS", "credentials.json",
                 "application_default_credentials.json", "\\-\\-subject",
                 "drivefs/config", "auth login", "auth logout"):
        assert word in text, word


def unit_path(destdir):
    return installed(destdir, PREFIX + "/lib/systemd/user/drivefs@.service")


def test_installs_user_unit(destdir):
    p = unit_path(destdir)
    assert mode(p) == "0o644"
    text = p.read_text()
    assert "@BINDIR@" not in text
    assert "ExecStart=%s/bin/drivefs mount -f %%h/%%I\n" % PREFIX in text
    assert "KillSignal=SIGTERM" in text
    assert "WantedBy=default.target" in text


@pytest.mark.skipif(not shutil.which("systemd-analyze"),
                    reason="systemd-analyze not installed")
def test_unit_verifies(destdir, tmp_path):
    # Point ExecStart at the staged binary so verify can check it.
    unit = tmp_path / "drivefs@Drive.service"
    unit.write_text(unit_path(destdir).read_text().replace(
        PREFIX + "/bin", str(installed(destdir, PREFIX + "/bin"))))
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", str(unit)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and not r.stderr.strip(), r.stderr


def unit_commands(destdir, home, instance):
    """ExecStartPre and ExecStart of the installed unit, expanded."""
    cmds = {}
    for line in unit_path(destdir).read_text().splitlines():
        m = re.match(r"(ExecStartPre|ExecStart)=(.*)", line)
        if m:
            argv = m.group(2).replace("%h", str(home)).replace(
                "%I", instance).split()
            argv[0] = argv[0].replace(
                PREFIX + "/bin", str(installed(destdir, PREFIX + "/bin")))
            cmds[m.group(1)] = argv
    return cmds


def test_unit_mounts_configured_folder_and_drains_on_stop(
        destdir, tmp_path, drive, creds_file):
    drive.seed("Work/notes.txt", b"n")
    home = tmp_path / "home"
    cfgdir = home / ".config/drivefs"
    cfgdir.mkdir(parents=True)
    (cfgdir / "config").write_text(
        "credentials = %s\napi-url = %s\ntoken-url = %s/token\n"
        "root = Work\nwriteback-delay = 60\npoll-interval = 0\n"
        "cache-dir = %s\n" % (creds_file, drive.url, drive.url,
                              tmp_path / "cache"))
    env = {k: v for k, v in os.environ.items()
           if k not in ("XDG_CONFIG_HOME", "XDG_CACHE_HOME",
                        "GOOGLE_APPLICATION_CREDENTIALS")}
    env["HOME"] = str(home)
    cmds = unit_commands(destdir, home, "Drive")
    subprocess.run(cmds["ExecStartPre"], check=True, env=env)
    mnt = home / "Drive"
    log = open(tmp_path / "unit.log", "wb")
    proc = subprocess.Popen(cmds["ExecStart"], env=env, stdin=subprocess.
                            DEVNULL, stdout=log, stderr=log)
    try:
        poll_until(lambda: is_mounted(mnt) or proc.poll() is not None, 15,
                   "the unit's drivefs to mount ~/Drive")
        assert proc.poll() is None, (tmp_path / "unit.log").read_text()
        assert os.listdir(mnt) == ["notes.txt"]          # root = Work
        (mnt / "pending.txt").write_bytes(b"queued for 60 s")
        # systemctl --user stop: SIGTERM to the main process.
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0, (tmp_path / "unit.log").read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        if is_mounted(mnt):
            subprocess.run(["fusermount3", "-uz", str(mnt)])
        log.close()
    assert not is_mounted(mnt)
    files = [f for f in drive.tree() if f["name"] == "pending.txt"]
    assert len(files) == 1
    assert drive.content(files[0]["id"]) == b"queued for 60 s"
