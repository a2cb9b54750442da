"""Shared pytest fixtures for drivefs integration tests.

Sections (add new fixtures to the section they belong to):
  1. Drive emulator   fakedrive_proc / drive / fakedrive, creds_file
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


@pytest.fixture
def creds_file(tmp_path, drive):
    """An authorized_user credentials JSON (mode 0600) valid for `drive`."""
    import json
    path = tmp_path / "application_default_credentials.json"
    fd = os.open(str(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(drive.credentials(), f)
    return path
