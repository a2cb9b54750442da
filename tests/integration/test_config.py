"""The config file $XDG_CONFIG_HOME/drivefs/config (fs/options.c).

Options set once (root folder, cache size, conflict policy, poll interval,
...) live in the file; the command line overrides it. `drivefs mount
--show-config` prints what is in effect, which the first tests read; the
mount tests check that values from the file really drive a mount (the
mounted folder, the poll interval).
"""
import os
import pathlib
import subprocess

import pytest

from mountlib import DRIVEFS_BIN, Mount, poll_until

DRIVEFS = DRIVEFS_BIN / "drivefs"

pytestmark = pytest.mark.skipif(not DRIVEFS.exists(),
                                reason="%s not built" % DRIVEFS)


@pytest.fixture
def env(tmp_path):
    e = dict(os.environ)
    e.pop("GOOGLE_APPLICATION_CREDENTIALS", None)
    e["HOME"] = str(tmp_path / "home")
    e["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    (tmp_path / "xdg/drivefs").mkdir(parents=True)
    return e


def write_config(env, text):
    p = pathlib.Path(env["XDG_CONFIG_HOME"]) / "drivefs/config"
    p.write_text(text)
    return p


def show(env, *args):
    p = subprocess.run([str(DRIVEFS), "mount", "--show-config", *args],
                       env=env, capture_output=True, text=True, timeout=30)
    return p


def effective(env, *args):
    p = show(env, *args)
    assert p.returncode == 0, p.stderr
    out = {}
    for line in p.stdout.splitlines():
        if line.startswith("#"):
            continue
        k, v = line.split(" = ", 1)
        out.setdefault(k, []).append(v)
    return {k: v[0] if len(v) == 1 else v for k, v in out.items()}


def test_defaults_without_config(env):
    o = effective(env)
    assert o["root"] == "root"
    assert o["conflict"] == "keep-both"
    assert o["poll-interval"] == "15000ms"
    assert o["cache-size"] == str(10 << 30)


def test_config_sets_options(env):
    write_config(env, """# set once
root = Projects/dev
cache-size = 2G
conflict = remote-wins
poll-interval = 30
local-only = *.o
local-only = build/
""")
    o = effective(env)
    assert o["root"] == "Projects/dev"
    assert o["cache-size"] == str(2 << 30)
    assert o["conflict"] == "remote-wins"
    assert o["poll-interval"] == "30000ms"
    assert o["local-only"] == ["*.o", "build/"]


def test_command_line_overrides_config(env):
    write_config(env, "root = Projects/dev\nconflict = remote-wins\n"
                      "local-only = *.o\n")
    o = effective(env, "--root", "Other", "--conflict", "local-wins",
                  "--local-only", "*.tmp", "/mnt/x")
    assert o["root"] == "Other"
    assert o["conflict"] == "local-wins"
    assert o["local-only"] == ["*.o", "*.tmp"]     # patterns add up


def test_config_option_and_no_config(env, tmp_path):
    write_config(env, "root = FromDefault\n")
    other = tmp_path / "other.conf"
    other.write_text("root = FromOther\n")
    assert effective(env)["root"] == "FromDefault"
    assert effective(env, "--config", other)["root"] == "FromOther"
    assert effective(env, "--config=%s" % other)["root"] == "FromOther"
    assert effective(env, "--no-config")["root"] == "root"
    p = show(env, "--config", tmp_path / "missing.conf")
    assert p.returncode == 2 and "missing.conf" in p.stderr


@pytest.mark.parametrize("text,msg", [
    ("root\n", "line 1: expected 'key = value'"),
    ("\nfoo = bar\n", "line 2: unknown or not allowed key 'foo'"),
    ("cache-size = huge\n", "line 1: --cache-size 'huge'"),
    ("conflict = mine\n", "--conflict 'mine'"),
    ("foreground = true\n", "not allowed key 'foreground'"),
])
def test_bad_config_is_refused(env, text, msg):
    cfg = write_config(env, text)
    p = subprocess.run([str(DRIVEFS), "mount", "-f", "/nonexistent"],
                       env=env, capture_output=True, text=True, timeout=30)
    assert p.returncode == 2
    assert str(cfg) in p.stderr and msg in p.stderr


def test_show_config_round_trips(env, tmp_path):
    """--show-config prints config syntax: its output is a valid config."""
    write_config(env, "root = A b\nwriteback-delay = 0.5\nqps = 7\n"
                      "fsync = local\n")
    first = show(env).stdout
    again = tmp_path / "again.conf"
    again.write_text(first)
    assert show(env, "--config", again).stdout == first


# ------------------------------------------------------------ real mounts

def start_mount(tmp_path, drive, creds_file, env, extra=(), name="m"):
    mnt = tmp_path / name
    cache = tmp_path / (name + "-cache")
    argv = [str(DRIVEFS), "mount", "-f", "--credentials", str(creds_file),
            "--api-url", drive.url, "--token-url", drive.url + "/token",
            "--cache-dir", str(cache), *extra, str(mnt)]
    m = Mount(mnt, cache, tmp_path / (name + ".log"), argv, env)
    return m.start()


@pytest.fixture
def mounts():
    started = []
    yield started
    problems = []
    for m in reversed(started):
        problems += m.finish()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


def test_config_root_and_poll_interval_drive_the_mount(tmp_path, drive,
                                                       creds_file, env,
                                                       mounts):
    drive.seed("Projects/dev/inside.txt", b"in")
    drive.seed("outside.txt", b"out")
    write_config(env, "root = Projects/dev\npoll-interval = 0.2\n"
                      "writeback-delay = 0.2\n")
    m = start_mount(tmp_path, drive, creds_file, env)
    mounts.append(m)
    assert sorted(os.listdir(m.path)) == ["inside.txt"]
    # Another client adds a file: the 0.2 s poll from the file shows it.
    folder = drive.by_path("Projects/dev")
    drive.act("create", name="remote.txt", parent=folder["id"],
              content=b"r")
    poll_until(lambda: "remote.txt" in os.listdir(m.path), 20,
               "remote.txt to appear through the configured poll")


def test_command_line_root_wins_in_a_mount(tmp_path, drive, creds_file, env,
                                           mounts):
    drive.seed("Projects/dev/inside.txt", b"in")
    drive.seed("Other/o.txt", b"o")
    write_config(env, "root = Projects/dev\n")
    m = start_mount(tmp_path, drive, creds_file, env,
                    extra=["--root", "Other", "--poll-interval", "0"])
    mounts.append(m)
    assert sorted(os.listdir(m.path)) == ["o.txt"]
