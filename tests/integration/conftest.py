"""Shared pytest fixtures for drivefs integration tests.

Sections (add new fixtures to the section they belong to):
  1. Drive emulator   fakedrive_proc / drive / fakedrive, shared_drive,
                      creds_file
  2. (mounts, the C test CLI, ... are added below by their owners)

Every process a fixture starts is stopped by its PID at teardown.
"""

import os

import pytest

from fakedrive_ctl import launch

# ---------------------------------------------------------------------------
# 1. Drive emulator (tests/fakedrive/fakedrive.py)
# ---------------------------------------------------------------------------


def _check_emulator_log(fd):
    """An emulator traceback is a bug in the emulator: fail the test."""
    text = fd.log_text()
    if "Traceback" in text or "internal error" in text:
        pytest.fail("fakedrive logged an internal error:\n" + text[-4000:])


@pytest.fixture
def fakedrive_proc(tmp_path):
    """A fresh emulator on 127.0.0.1 (port 0) with its own --data dir.
    Yields a fakedrive_ctl.FakeDrive; stopped by PID at teardown."""
    fd = launch(tmp_path / "fakedrive-data",
                log_path=tmp_path / "fakedrive.log")
    try:
        yield fd
    finally:
        fd.stop()
    _check_emulator_log(fd)


@pytest.fixture
def drive(fakedrive_proc):
    """The emulator's control client (seed, tree, stats, faults, act)."""
    return fakedrive_proc


@pytest.fixture
def fakedrive(fakedrive_proc):
    """Alias used by STYLE.md examples."""
    return fakedrive_proc


@pytest.fixture(scope="module")
def _fakedrive_module(tmp_path_factory):
    base = tmp_path_factory.mktemp("fakedrive-shared")
    fd = launch(base / "data", log_path=base / "fakedrive.log")
    try:
        yield fd
    finally:
        fd.stop()
    _check_emulator_log(fd)


@pytest.fixture
def shared_drive(_fakedrive_module):
    """One emulator per test module, reset (POST /__control/reset) before
    each test: much faster than `drive`. Use `drive` when a test restarts
    the process or needs command-line options."""
    _fakedrive_module.reset()
    return _fakedrive_module


@pytest.fixture
def creds_file(tmp_path, drive):
    """An authorized_user credentials JSON (mode 0600) valid for `drive`."""
    import json
    path = tmp_path / "application_default_credentials.json"
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(drive.credentials(), f)
    return path


# ---------------------------------------------------------------------------
# 3. The Drive client CLI (tests/tools/drivecli.c), run against `drive`
# ---------------------------------------------------------------------------

import json as _json
import pathlib as _pathlib
import subprocess as _subprocess

_ROOT = _pathlib.Path(__file__).resolve().parents[2]
_TOOLS = _pathlib.Path(os.environ.get("DRIVEFS_TOOLS",
                                      _ROOT / "build/tests/tools"))
# What must never reach drivecli's stderr, even at -v (STYLE.md section 6).
_SECRETS = (b"ya29.", b"Bearer", b"fakedrive-refresh-token",
            b"fakedrive-client-secret")


class DriveCli:
    """Runs drivecli once per call; returns its JSON output as an AttrDict.

        cli("get", file_id).md5Checksum
        cli.fail("get", "nope").error == "ENOENT"
        cli("read", fid, "0", "10", opts=["--max-retries", "0"])

    Retries use a 10 ms backoff base so fault tests run fast. Every run is
    -v and its stderr is checked for secrets; the last one is in .stderr.
    """

    def __init__(self, binary, drive, creds):
        self.binary = binary
        self.drive = drive
        self.creds = creds
        self.stderr = b""

    def _run(self, args, opts, timeout):
        from fakedrive_ctl import _attr
        cmd = [str(self.binary), "--api-url", self.drive.url,
               "--token-url", self.drive.token_url,
               "--credentials", str(self.creds), "--backoff-base-ms", "10",
               "--max-retries", "6", "-v"] + list(opts) + \
            [str(a) for a in args]
        # subprocess.run kills this child (by PID) if it overruns.
        p = _subprocess.run(cmd, stdout=_subprocess.PIPE,
                            stderr=_subprocess.PIPE, timeout=timeout)
        self.stderr = p.stderr
        for s in _SECRETS:
            assert s not in p.stderr, "drivecli logged a secret: %r" % s
        assert b"runtime error" not in p.stderr, p.stderr.decode()[-3000:]
        assert b"Sanitizer" not in p.stderr, \
            p.stderr.decode()[-3000:]
        try:
            out = _json.loads(p.stdout)
        except ValueError:
            raise AssertionError("drivecli %s: exit %d, no JSON: %r\n%s" % (
                args[0], p.returncode, p.stdout[:500],
                p.stderr.decode("utf-8", "replace")[-3000:]))
        return p.returncode, _attr(out)

    def __call__(self, *args, opts=(), timeout=120):
        rc, out = self._run(args, opts, timeout)
        assert rc == 0, "drivecli %s failed: %r\n%s" % (
            " ".join(map(str, args)), out,
            self.stderr.decode("utf-8", "replace")[-3000:])
        return out

    def fail(self, *args, opts=(), timeout=120):
        """Run a command that must fail; returns the error object."""
        rc, out = self._run(args, opts, timeout)
        assert rc == 1 and "error" in out, "expected a failure, got %r" % (
            out,)
        return out


@pytest.fixture
def drivecli(drive, creds_file):
    """drivecli wired to the emulator (see DriveCli)."""
    binary = _TOOLS / "drivecli"
    if not binary.exists():
        pytest.skip("%s not built" % binary)
    return DriveCli(binary, drive, creds_file)
from mountlib import *  # noqa: E402,F401,F403  (mount fixtures)
