"""The benchmark harness (tools/bench.py, `make bench`) at its smallest
scale, so it cannot rot: it must run every workload of issue 8 and write a
results file with one row per workload. No timing is asserted."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import pytest

from mountlib import DRIVEFS_BIN

REPO = pathlib.Path(__file__).resolve().parents[2]
BENCH = REPO / "tools" / "bench.py"

# Every row the harness prints (issue 8, workloads 1-10).
ROWS = {"1a", "1b", "2a", "2b", "3a", "3b", "4", "5", "6a", "6b", "6c",
        "7a", "7b", "7c", "8a", "8b", "9", "10a", "10b"}


def test_bench_smallest_scale(tmp_path):
    out = tmp_path / "results.json"
    env = dict(os.environ, BENCH_SCALE="0.001", RTT_MS="5", BW="200",
               BENCH_WRITEBACK_DELAY="0.1", BENCH_OUT=str(out),
               BENCH_DIR=str(tmp_path / "work"), DRIVEFS_BIN=str(DRIVEFS_BIN),
               RCLONE="")
    # subprocess.run kills the harness (by PID) if it overruns; the harness
    # itself unmounts and stops what it started.
    p = subprocess.run([sys.executable, str(BENCH)], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=120)
    text = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, text[-4000:]
    res = json.loads(out.read_text())
    rows = {r["id"]: r for r in res["rows"]}
    assert set(rows) == ROWS, (sorted(rows), text[-3000:])
    errors = {k: r["error"] for k, r in rows.items() if r.get("error")}
    assert not errors, errors
    for r in rows.values():
        assert r["mount_s"] is not None and r["mount_s"] >= 0, r
        assert r["met"] in (True, False, None), r
    assert res["ceilings"]["download_1_stream_MBps"] > 0
    assert res["ceilings"]["upload_1_resumable_session_MBps"] > 0
    for key in ("nproc", "kernel", "mem_total_GiB"):
        assert key in res["machine"]
    assert res["wait_method"]
    # nothing left mounted under the scratch directory
    with open("/proc/self/mountinfo") as f:
        assert str(tmp_path) not in f.read()


def test_bench_smallest_scale_rclone(tmp_path):
    """RCLONE=1: every row also runs on rclone mount (through the
    emulator's --connect-tls mode) and gets an rclone column and an
    "ahead" verdict. Needs rclone (Debian: apt-get install rclone)."""
    if shutil.which("rclone") is None:
        pytest.skip("rclone not installed")
    out = tmp_path / "results.json"
    env = dict(os.environ, BENCH_SCALE="0.001", RTT_MS="5", BW="200",
               BENCH_WRITEBACK_DELAY="0.1", BENCH_OUT=str(out),
               BENCH_DIR=str(tmp_path / "work"), DRIVEFS_BIN=str(DRIVEFS_BIN),
               RCLONE="1")
    p = subprocess.run([sys.executable, str(BENCH)], env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=240)
    text = p.stdout.decode("utf-8", "replace")
    assert p.returncode == 0, text[-4000:]
    res = json.loads(out.read_text())
    assert res["rclone"]["run"] is True, res["rclone"]
    rows = {r["id"]: r for r in res["rows"]}
    assert set(rows) == ROWS, sorted(rows)
    errors = {k: r.get("rclone_error") for k, r in rows.items()
              if r.get("rclone_error")}
    assert not errors, errors
    for r in rows.values():
        assert r["rclone_s"] is not None and r["rclone_s"] >= 0, r
        assert r["ahead"] in (True, False), r
    assert "drivefs ahead on" in text
    with open("/proc/self/mountinfo") as f:
        assert str(tmp_path) not in f.read()
