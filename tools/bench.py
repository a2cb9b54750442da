#!/usr/bin/env python3
"""drivefs benchmark suite (issue 8): `make bench`.

Starts the Drive emulator (tests/fakedrive/) with a round-trip latency and a
bandwidth cap, mounts drivefs on it, runs each workload of issue 8 on the
mount and on a local directory (the reference), measures the emulator's own
ceilings with a plain HTTP client (curl) in the same run, prints one row per
workload with its target as met / not met, and writes bench/results.json.

Environment (all optional):
  RTT_MS          emulator latency per request, ms (default 50)
  BW              emulator bandwidth cap, MB/s (10^6 B/s) each way (200)
  BENCH_SCALE     size factor: 1 = the sizes of issue 8; 0.001 = smoke (1)
  BENCH_QPS       drivefs --qps (default 200: Drive's documented per-user
                  quota of 12,000 requests/min; the daemon's default is 10)
  BENCH_WRITEBACK_DELAY  drivefs --writeback-delay, s (default 0.5)
  BENCH_OUT       results file (default bench/results.json)
  BENCH_DIR       scratch directory (default: a fresh one under /tmp,
                  removed at the end unless BENCH_KEEP=1)
  DRIVEFS_BIN     directory holding drivefs and drivefs-status (bin/)
  RCLONE=1        also run the workloads on `rclone mount` where possible
  BENCH_ONLY      comma list of workload ids to run (e.g. "3,5,ceil";
                  6 and ceil need 5; 8 needs 10), for profiling one
  BENCH_DRIVEFS_LOG  drivefs --log SPEC (e.g. "info,sync=debug")
  BENCH_DRIVEFS_ARGS extra drivefs mount options (shell words), e.g.
                  "--xattrs" for the behaviour before xattrs were made
                  opt-in (rows 2a, 2b, 3a)
  BENCH_EMU_VERBOSE=1  the emulator logs one line per request
  BENCH_PERF      comma list of workload ids to profile: `perf record -g`
                  of the running drivefs during each, to BENCH_DIR/perf-ID.data

Python standard library only; every process it starts is stopped by its own
PID, every mount it makes is unmounted with fusermount3 -u.
"""

import errno
import json
import math
import os
import pathlib
import platform
import random
import re
import select
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import time

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from fakedrive_ctl import FakeDrive  # noqa: E402  (stdlib-only client)

FAKEDRIVE_PY = REPO / "tests" / "fakedrive" / "fakedrive.py"
MiB = 1 << 20
KiB = 1 << 10
UPLOADS_IN_FLIGHT = 8       # cache/sync.c: "drivefs-sync-N", default 8
FOLDER_MIME = "application/vnd.google-apps.folder"


def env_float(name, default):
    v = os.environ.get(name, "")
    return float(v) if v.strip() else default


# ---------------------------------------------------------------------------
# settings
# ---------------------------------------------------------------------------

class Settings:
    def __init__(self):
        self.rtt_ms = env_float("RTT_MS", 50.0)
        self.bw_mbs = env_float("BW", 200.0)
        self.bw = int(self.bw_mbs * 1e6)
        self.scale = env_float("BENCH_SCALE", 1.0)
        self.qps = env_float("BENCH_QPS", 200.0)
        self.wb_delay = env_float("BENCH_WRITEBACK_DELAY", 0.5)
        self.out = pathlib.Path(os.environ.get("BENCH_OUT") or
                                REPO / "bench" / "results.json")
        self.bin = pathlib.Path(os.environ.get("DRIVEFS_BIN") or
                                REPO / "bin").resolve()
        self.rclone = os.environ.get("RCLONE", "") not in ("", "0")
        self.keep = os.environ.get("BENCH_KEEP", "") not in ("", "0")
        only = os.environ.get("BENCH_ONLY", "").strip()
        self.only = set(only.split(",")) if only else None
        self.log_spec = os.environ.get("BENCH_DRIVEFS_LOG", "")
        self.extra_args = shlex.split(os.environ.get("BENCH_DRIVEFS_ARGS",
                                                     ""))
        self.emu_verbose = os.environ.get("BENCH_EMU_VERBOSE", "") not in (
            "", "0")
        s = self.scale
        r = math.sqrt(s)
        self.tree_folders = max(2, round(100 * r))
        self.tree_per_folder = max(2, round(100 * r))
        self.flat_files = max(10, round(10000 * s))
        self.creates = max(10, round(1000 * s))
        self.saves = max(3, round(100 * s))
        self.big = max(4 * MiB, round(1024 * s) * MiB)
        self.rand_cold = max(10, round(300 * s))
        self.rand_warm = max(200, round(20000 * s))
        self.git_files = max(20, round(2000 * s))
        self.sync_timeout = max(120.0, 900.0 * s)

    def as_dict(self):
        return {
            "rtt_ms": self.rtt_ms, "bandwidth_MBps": self.bw_mbs,
            "scale": self.scale, "qps": self.qps,
            "writeback_delay_s": self.wb_delay,
            "drivefs_extra_args": self.extra_args,
            "uploads_in_flight": UPLOADS_IN_FLIGHT,
            "drivefs_bin": str(self.bin),
            "sizes": {
                "tree_folders": self.tree_folders,
                "tree_files_per_folder": self.tree_per_folder,
                "flat_files": self.flat_files, "creates": self.creates,
                "saves": self.saves, "big_bytes": self.big,
                "random_reads_cold": self.rand_cold,
                "random_reads_warm": self.rand_warm,
                "git_files": self.git_files},
        }


def machine_info():
    info = {"nproc": os.cpu_count(), "kernel": platform.release(),
            "python": platform.python_version(),
            "loadavg_start": os.getloadavg()}
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    info["mem_total_GiB"] = round(
                        int(line.split()[1]) / (1 << 20), 1)
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return info


# ---------------------------------------------------------------------------
# processes: the emulator and the mounts
# ---------------------------------------------------------------------------

def launch_emulator(workdir, s):
    """The emulator without --data (no state file is rewritten while we
    seed 20,000 files), on a free loopback port. Returns FakeDrive."""
    log = open(workdir / "fakedrive.log", "ab")
    code = "import sys; sys.path.insert(0, %r)\n" % str(FAKEDRIVE_PY.parent)
    code += "import fakedrive\nsys.exit(fakedrive.main())\n"
    cmd = [sys.executable, "-S", "-c", code, "--port", "0",
           "--host", "127.0.0.1", "--latency-ms", str(s.rtt_ms),
           "--bandwidth", str(s.bw)] + (["--verbose"] if s.emu_verbose
                                         else [])
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log,
                            stdin=subprocess.DEVNULL)
    log.close()
    line = b""
    end = time.monotonic() + 20
    while time.monotonic() < end and b"\n" not in line:
        if proc.poll() is not None:
            break
        r, _, _ = select.select([proc.stdout], [], [], 0.1)
        if r:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            line += chunk
    text = line.decode().strip()
    prefix = "fakedrive listening on "
    if not text.startswith(prefix):
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        raise RuntimeError("fakedrive did not start: %r" % text)
    return FakeDrive(text[len(prefix):], proc=proc,
                     log_path=str(workdir / "fakedrive.log"))


def mountinfo_points():
    out = set()
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            field = line.split()[4].decode("utf-8", "surrogateescape")
            out.add(re.sub(r"\\([0-7]{3})",
                           lambda m: chr(int(m.group(1), 8)), field))
    return out


def is_mounted(path):
    return os.path.realpath(str(path)) in mountinfo_points()


class Mount:
    """One `drivefs mount -f` (or rclone mount) process."""

    def __init__(self, argv, path, log_path):
        self.argv = [str(a) for a in argv]
        self.path = pathlib.Path(path)
        self.log_path = pathlib.Path(log_path)
        self.proc = None

    def start(self, timeout=20):
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=logf)
        end = time.monotonic() + timeout
        while not is_mounted(self.path):
            if self.proc.poll() is not None:
                raise RuntimeError("%s exited (%s) before mounting: %s" % (
                    self.argv[0], self.proc.returncode, self.log_tail()))
            if time.monotonic() > end:
                self.stop()
                raise RuntimeError("mount timed out: " + self.log_tail())
            time.sleep(0.01)
        return self

    def log_tail(self, n=3000):
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self, timeout=600):
        """fusermount3 -u (retried while busy), wait for the daemon to
        drain and exit; SIGKILL this PID only if it overruns."""
        if self.proc is None:
            return None
        end = time.monotonic() + 10
        while is_mounted(self.path) and self.proc.poll() is None:
            r = subprocess.run(["fusermount3", "-u", str(self.path)],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
            if r.returncode == 0:
                break
            if time.monotonic() > end:
                subprocess.run(["fusermount3", "-uz", str(self.path)],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                break
            time.sleep(0.1)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        if is_mounted(self.path):
            subprocess.run(["fusermount3", "-uz", str(self.path)],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        rc = self.proc.returncode
        self.proc = None
        return rc


class Bench:
    def __init__(self, s, workdir):
        self.s = s
        self.w = workdir
        self.local = workdir / "local"
        self.local.mkdir()
        self.drive = None
        self.creds = workdir / "creds.json"
        self.mounts = []
        self.rows = []
        self.ceil = {}
        self.notes = []
        self.wait_method = None
        self._status_works = None
        self.n_mount = 0

    # ------------------------------------------------------------ plumbing

    def drivefs_mount(self, cache, name=None, extra=()):
        self.n_mount += 1
        name = name or "mnt%d" % self.n_mount
        mnt = self.w / name
        argv = [self.s.bin / "drivefs", "mount", "-f",
                "--credentials", self.creds,
                "--api-url", self.drive.url,
                "--token-url", self.drive.url + "/token",
                "--cache-dir", cache,
                "--writeback-delay", self.s.wb_delay,
                "--poll-interval", 0,
                "--qps", self.s.qps, mnt]
        if self.s.log_spec:
            argv[-1:-1] = ["--log", self.s.log_spec]
        argv[-1:-1] = list(self.s.extra_args) + [str(a) for a in extra]
        pathlib.Path(cache).mkdir(parents=True, exist_ok=True)
        m = Mount(argv, mnt, self.w / ("drivefs-%s.log" % name))
        self.mounts.append(m)
        return m.start()

    def wait_all_in_drive(self, mnt):
        """Block until Drive holds everything written on `mnt`:
        `drivefs-status --wait MNT` when it works (exit 0), else poll the
        root's user.drivefs.pending xattr until it reads 0 (builds before
        the control socket; later ones serve it only with --xattrs)."""
        status = self.s.bin / "drivefs-status"
        if self._status_works is not False and os.access(status, os.X_OK):
            try:
                r = subprocess.run([str(status), "--wait", str(mnt.path)],
                                   stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL,
                                   timeout=self.s.sync_timeout)
                ok = r.returncode == 0
            except subprocess.TimeoutExpired:
                ok = False
            if ok:
                self._status_works = True
                self.wait_method = "drivefs-status --wait"
                return
            self._status_works = False
        self.wait_method = "xattr user.drivefs.pending"
        end = time.monotonic() + self.s.sync_timeout
        last = None
        while time.monotonic() < end:
            if mnt.proc.poll() is not None:
                raise RuntimeError("drivefs exited while syncing: " +
                                   mnt.log_tail())
            try:
                last = os.getxattr(str(mnt.path), "user.drivefs.pending")
                if last == b"0":
                    return
            except OSError as e:
                if e.errno in (errno.ENOTCONN, errno.ENODEV):
                    raise
                last = str(e)
            time.sleep(0.005)
        raise RuntimeError("not synced after %ss (pending %r)"
                           % (self.s.sync_timeout, last))

    def stats(self):
        return self.drive.stats()

    def calls(self):
        st = self.stats()
        return st["total"], st["requests"]

    def add(self, wid, workload, mount_s=None, local_s=None, api_calls=None,
            target=None, met=None, ratio=None, **extra):
        if ratio is None and mount_s is not None and local_s:
            ratio = mount_s / local_s
        row = {"id": wid, "workload": workload, "mount_s": mount_s,
               "local_s": local_s, "ratio": ratio, "api_calls": api_calls,
               "target": target, "met": met}
        row.update(extra)
        self.rows.append(row)
        print_row(row)
        return row

    def failed(self, wid, workload, exc):
        row = {"id": wid, "workload": workload, "mount_s": None,
               "local_s": None, "ratio": None, "api_calls": None,
               "target": None, "met": False,
               "error": "%s: %s" % (type(exc).__name__, exc)}
        self.rows.append(row)
        print_row(row)

    # --------------------------------------------------------- the run

    def run(self):
        s = self.s
        self.drive = launch_emulator(self.w, s)
        fd = os.open(str(self.creds), os.O_WRONLY | os.O_CREAT, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(self.drive.credentials(), f)
        print("emulator %s, RTT %g ms, cap %g MB/s, scale %g, qps %g, "
              "writeback delay %g s" % (self.drive.url, s.rtt_ms, s.bw_mbs,
                                        s.scale, s.qps, s.wb_delay),
              flush=True)
        print_header()
        if self.s.only is None or "1" in self.s.only:
            self.seed_listing_trees()
        cache_a = self.w / "cache-a"
        a = self.drivefs_mount(cache_a, "mnt-a")
        self.guard("1", "cold/warm listing", self.w_listing, a)
        self.guard("3", "small-file creates", self.w_creates, a)
        self.guard("4", "editor save", self.w_saves, a)
        self.guard("5", "sequential write", self.w_seq_write, a)
        self.guard("ceil", "emulator ceilings", self.w_ceilings)
        self.guard("10", "git on the mount", self.w_git, a)
        self.guard("8", "git warm", self.w_git_warm, a)
        if self.s.only is not None and "9" in self.s.only and \
                not set(self.s.only) & {"1", "3", "10", "8"}:
            # Row 9 alone: give the first mount a tree it has listed.
            self.drive.seed_many([{"path": "r9/f%03d.txt" % i,
                                   "content": "x"} for i in range(100)] +
                                 [{"path": "f%03d.txt" % i, "content": "y"}
                                  for i in range(100)])
            subprocess.run(["ls", "-lR", str(a.path)],
                           stdout=subprocess.DEVNULL, check=True)
        a.stop()
        self.guard("9", "warm remount", self.w_remount, cache_a)
        c = self.drivefs_mount(self.w / "cache-c", "mnt-c")
        self.guard("6", "sequential read", self.w_seq_read, c)
        self.guard("7b", "warm random read", self.w_rand_warm, c)
        c.stop()
        d = self.drivefs_mount(self.w / "cache-d", "mnt-d")
        self.guard("7a", "cold random read", self.w_rand_cold, d)
        d.stop()
        self.rclone_side()

    def guard(self, wid, what, fn, *args):
        if self.s.only is not None and wid not in self.s.only:
            return
        perf = None
        if wid in os.environ.get("BENCH_PERF", "").split(","):
            pids = [str(m.proc.pid) for m in self.mounts
                    if m.proc is not None and m.proc.poll() is None]
            if pids and shutil.which("perf"):
                perf = subprocess.Popen(
                    ["perf", "record", "-g", "-o",
                     str(self.w / ("perf-%s.data" % wid)), "-p",
                     ",".join(pids)], stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL)
                time.sleep(0.5)
        try:
            fn(*args)
        except Exception as e:  # one workload failing must not hide others
            self.failed(wid, what, e)
            for m in self.mounts:
                if m.proc is not None and m.proc.poll() is not None:
                    self.notes.append("drivefs %s exited: %s" % (
                        m.path.name, m.log_tail(1500)))
        finally:
            if perf is not None:
                perf.send_signal(signal.SIGINT)
                perf.wait(60)

    def cleanup(self):
        for m in reversed(self.mounts):
            try:
                m.stop(timeout=120)
            except Exception as e:
                print("cleanup: %s: %s" % (m.path, e), file=sys.stderr)
        if self.drive is not None:
            self.drive.stop()

    # ------------------------------------------------- 1, 2: listings

    def seed_listing_trees(self):
        s = self.s
        t0 = time.monotonic()
        tree = self.drive.seed("tree/")
        self.drive.seed("flat/")
        flat = self.drive.by_path("flat")
        folders = self.drive.seed_many(
            [{"name": "d%03d" % i, "parent": tree["id"],
              "mimeType": FOLDER_MIME} for i in range(s.tree_folders)])
        specs = []
        for i, f in enumerate(folders):
            ld = self.local / "tree" / f["name"]
            ld.mkdir(parents=True)
            for j in range(s.tree_per_folder):
                name = "f%04d.txt" % j
                body = ("%d/%d\n" % (i, j)).encode()
                specs.append({"name": name, "parent": f["id"],
                              "content": body.decode()})
                (ld / name).write_bytes(body)
        for k in range(0, len(specs), 2000):
            self.drive.seed_many(specs[k:k + 2000])
        specs = []
        lf = self.local / "flat"
        lf.mkdir()
        for j in range(s.flat_files):
            name = "f%05d.txt" % j
            specs.append({"name": name, "parent": flat["id"],
                          "content": "%d\n" % j})
            (lf / name).write_bytes(b"%d\n" % j)
        for k in range(0, len(specs), 2000):
            self.drive.seed_many(specs[k:k + 2000])
        self.notes.append("seeded %d + %d files in %.1f s" % (
            s.tree_folders * s.tree_per_folder, s.flat_files,
            time.monotonic() - t0))

    def ls_lr(self, path):
        t = time.monotonic()
        subprocess.run(["ls", "-lR", "--color=never", str(path)],
                       stdout=subprocess.DEVNULL, check=True)
        return time.monotonic() - t

    def best(self, fn, n=3):
        return min(fn() for _ in range(n))

    def w_listing(self, m):
        """Each listing on a mount of its own (`--root tree`, `--root
        flat`, fresh cache): on one mount of both, listing the first
        would prefetch the second. API calls count from before the
        mount (its start-up calls included), time from the `ls`."""
        del m
        s = self.s
        rtt = s.rtt_ms / 1000.0
        for key, sub, nfolders, nfiles, depth, slack in (
                ("tree", "tree", s.tree_folders,
                 s.tree_folders * s.tree_per_folder, 2, 20),
                ("flat", "flat", 0, s.flat_files, 1, 15)):
            self.drive.reset_stats()
            mm = self.drivefs_mount(self.w / ("cache-ls-" + key),
                                    "mnt-ls-" + key, extra=("--root", sub))
            try:
                cold = self.ls_lr(mm.path)
                total, kinds = self.calls()
                self.drive.reset_stats()
                warm = self.best(lambda: self.ls_lr(mm.path))
                warm_calls, _ = self.calls()
            finally:
                mm.stop()
            self.ls_lr(self.local / sub)
            local = self.best(lambda: self.ls_lr(self.local / sub))
            entries = nfolders + nfiles
            folders = nfolders + 1
            max_calls = math.ceil(entries / 1000) + \
                math.ceil(folders / 20) + depth + 5
            beyond = cold - warm
            if key == "tree":
                ok = beyond <= slack * rtt and total <= max_calls
                tgt = "cold <= warm + %d RTT (%.2fs); calls <= %d" % (
                    slack, slack * rtt, max_calls)
                label = "cold ls -lR, %d files in %d folders" % (
                    nfiles, nfolders)
            else:
                ok = beyond <= slack * rtt
                tgt = "cold <= warm + %d RTT (%.2fs)" % (slack, slack * rtt)
                label = "cold ls -lR, one folder of %d files" % nfiles
            self.add("1" + ("a" if key == "tree" else "b"), label, cold,
                     local, total, tgt, ok, cold_beyond_warm_s=beyond,
                     calls_by_kind=kinds, max_calls=max_calls)
            ok2 = warm <= 3 * local
            self.add("2" + ("a" if key == "tree" else "b"),
                     "warm ls -lR (%s)" % key, warm, local, warm_calls,
                     "<= 3x local", ok2)

    # ------------------------------------------------- 3: creates

    def make_small_tar(self):
        path = self.w / "small.tar"
        rnd = random.Random(3)
        src = self.w / "small-src" / "small"
        src.mkdir(parents=True)
        for i in range(self.s.creates):
            (src / ("f%04d.dat" % i)).write_bytes(rnd.randbytes(4 * KiB))
        with tarfile.open(path, "w") as t:
            t.add(src, arcname="small")
        return path

    def timed_cmd(self, argv, cwd=None, env=None, stdout=subprocess.DEVNULL):
        t = time.monotonic()
        subprocess.run(argv, cwd=cwd, env=env, check=True, stdout=stdout)
        return time.monotonic() - t

    def w_creates(self, m):
        s = self.s
        tar = self.make_small_tar()
        self.wait_all_in_drive(m)
        self.drive.reset_stats()
        cmd = self.timed_cmd(["tar", "xf", str(tar), "-C", str(m.path)])
        t = time.monotonic()
        self.wait_all_in_drive(m)
        sync = time.monotonic() - t
        total, kinds = self.calls()
        local = self.timed_cmd(["tar", "xf", str(tar), "-C",
                                str(self.local)])
        n = s.creates
        self.add("3a", "create %d x 4 KiB (tar x): returns" % n, cmd, local,
                 None, "<= 3x local", cmd <= 3 * local)
        limit = 1.5 * (n / UPLOADS_IN_FLIGHT) * s.rtt_ms / 1000.0
        per = total / n
        self.add("3b", "create %d x 4 KiB: all in Drive" % n, sync, None,
                 total, "<= %.2fs; <= 1.1 calls/file" % limit,
                 sync <= limit and per <= 1.1, calls_per_file=per,
                 calls_by_kind=kinds, wait_method=self.wait_method)

    # ------------------------------------------------- 4: editor save

    def save_once(self, d, i):
        tmp = d / (".doc.txt.tmp%d" % i)
        t = time.monotonic()
        with open(tmp, "wb") as f:
            f.write(b"version %d\n" % i * 200)
        os.rename(tmp, d / "doc.txt")
        return time.monotonic() - t

    def w_saves(self, m):
        s = self.s
        d = m.path / "edit"
        d.mkdir()
        (d / "doc.txt").write_bytes(b"original\n")
        ld = self.local / "edit"
        ld.mkdir()
        (ld / "doc.txt").write_bytes(b"original\n")
        self.wait_all_in_drive(m)
        ids_before = {f["id"] for f in self.drive.tree()}
        doc_id = self.drive.by_path("edit/doc.txt")["id"]
        self.drive.reset_stats()
        mt = lt = 0.0
        sync = 0.0
        for i in range(s.saves):
            mt += self.save_once(d, i)
            t = time.monotonic()
            self.wait_all_in_drive(m)
            sync += time.monotonic() - t
            lt += self.save_once(ld, i)
        st = self.stats()
        tree = self.drive.tree()
        new_ids = len({f["id"] for f in tree} - ids_before)
        now = self.drive.by_path("edit/doc.txt")
        per = st["total"] / s.saves
        self.add("4", "editor save x%d (temp + rename over)" % s.saves,
                 mt / s.saves, lt / s.saves, st["total"],
                 "<= 2 calls/save; 0 new Drive ids",
                 per <= 2 and new_ids == 0, calls_per_save=per,
                 new_drive_ids=new_ids,
                 same_id_kept=bool(now and now["id"] == doc_id),
                 sync_after_save_s=sync / s.saves,
                 calls_by_kind=st["requests"])

    # ------------------------------------------------- 5: seq write

    def write_big(self, path):
        rnd = random.Random(5)
        block = rnd.randbytes(16 * MiB)
        left = self.s.big
        t = time.monotonic()
        with open(path, "wb") as f:
            while left > 0:
                n = min(left, len(block))
                f.write(memoryview(block)[:n])
                left -= n
        return time.monotonic() - t

    def w_seq_write(self, m):
        s = self.s
        self.wait_all_in_drive(m)
        self.drive.reset_stats()
        wt = self.write_big(m.path / "big.bin")
        t = time.monotonic()
        self.wait_all_in_drive(m)
        sync = time.monotonic() - t
        total, kinds = self.calls()
        lt = self.write_big(self.local / "big.bin")
        self.big_local = self.local / "big.bin"
        rate = s.big / (wt + sync) / 1e6
        self.seq_write = {"write_s": wt, "sync_s": sync, "MBps": rate,
                          "calls": total, "kinds": kinds}
        # judged after the ceilings are measured (w_ceilings)
        self.add("5", "sequential write %d MiB, until synced" % (s.big // MiB),
                 wt + sync, lt, total, "pending ceilings", None,
                 close_s=wt, sync_s=sync, MBps=rate, calls_by_kind=kinds)

    # ------------------------------------------------- emulator ceilings

    def curl(self, args):
        out = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w",
                              "%{http_code} %{size_download} "
                              "%{size_upload} %{time_total}"] + args,
                             stdout=subprocess.PIPE, check=True).stdout
        code, down, up, tt = out.decode().split()
        return int(code), float(down), float(up), float(tt)

    def w_ceilings(self):
        s = self.s
        big = self.drive.by_path("big.bin")
        tok = self.drive.token()
        auth = ["-H", "Authorization: Bearer " + tok]
        url = self.drive.url + "/drive/v3/files/%s?alt=media" % big["id"]
        size = int(big["size"])
        code, down, _, tt = self.curl(auth + [url])
        one = down / tt / 1e6
        par = 4
        step = size // par
        procs = []
        t = time.monotonic()
        for i in range(par):
            lo = i * step
            hi = size - 1 if i == par - 1 else lo + step - 1
            procs.append(subprocess.Popen(
                ["curl", "-sS", "-o", "/dev/null", "-H",
                 "Range: bytes=%d-%d" % (lo, hi)] + auth + [url]))
        for p in procs:
            p.wait()
        par_rate = size / (time.monotonic() - t) / 1e6
        # one resumable session, the whole file in one PUT
        r = self.drive.api(
            "POST", "/upload/drive/v3/files",
            params={"uploadType": "resumable"},
            json_body={"name": "ceiling.bin"},
            headers={"X-Upload-Content-Length": str(size)})
        loc = r.header("Location")
        code_u, _, up, ttu = self.curl(auth + ["-X", "PUT", "-T",
                                               str(self.big_local),
                                               "-H", "Expect:", loc])
        up_rate = up / ttu / 1e6
        # metadata: one files.list page of 1000 entries (latency included)
        flat = self.drive.by_path("flat")
        fields = ("nextPageToken,files(id,name,mimeType,size,md5Checksum,"
                  "modifiedTime,version,parents,appProperties,createdTime)")
        list_s, nlist = None, 0
        if flat is not None:
            t = time.monotonic()
            lr = self.drive.api("GET", "/drive/v3/files", params={
                "q": "'%s' in parents and trashed = false" % flat["id"],
                "pageSize": 1000, "fields": fields})
            list_s = time.monotonic() - t
            nlist = len(lr.json().get("files", []))
        dl_ceiling = max(one, par_rate)
        dl_bound = min(s.bw_mbs, dl_ceiling)
        ul_bound = min(s.bw_mbs, up_rate)
        self.ceil = {
            "download_1_stream_MBps": one,
            "download_%d_streams_MBps" % par: par_rate,
            "upload_1_resumable_session_MBps": up_rate,
            "upload_status": code_u, "download_status": code,
            "list_page_s": list_s, "list_page_entries": nlist,
            "download_bound_MBps": dl_bound,
            "download_bound_is": "bandwidth cap" if s.bw_mbs <= dl_ceiling
            else "emulator ceiling",
            "upload_bound_MBps": ul_bound,
            "upload_bound_is": "bandwidth cap" if s.bw_mbs <= up_rate
            else "emulator ceiling",
        }
        print("  emulator ceilings (curl): download 1 stream %.0f MB/s, "
              "%d streams %.0f MB/s; upload 1 resumable session %.0f MB/s; "
              "files.list page of %d: %.0f ms" % (
                  one, par, par_rate, up_rate, nlist, (list_s or 0) * 1000),
              flush=True)
        print("  bounds: download %.0f MB/s (%s), upload %.0f MB/s (%s)" % (
            dl_bound, self.ceil["download_bound_is"], ul_bound,
            self.ceil["upload_bound_is"]), flush=True)
        for row in self.rows:
            if row["id"] == "5" and "MBps" in row:
                need = 0.8 * ul_bound
                row["target"] = ">= %.0f MB/s (80%% of %.0f, %s)" % (
                    need, ul_bound, self.ceil["upload_bound_is"])
                row["met"] = row["MBps"] >= need
                print("  -> row 5 judged: %.0f MB/s vs %s: %s" % (
                    row["MBps"], row["target"], met_text(row["met"])),
                    flush=True)

    # ------------------------------------------------- 10, 8: git

    def make_source_tree(self, root):
        rnd = random.Random(10)
        n = self.s.git_files
        ndirs = max(2, n // 50)
        words = ["def", "return", "self", "value", "import", "class",
                 "for", "in", "if", "else", "None", "data", "item", "x"]
        for i in range(n):
            d = root / ("pkg%02d" % (i % ndirs))
            d.mkdir(parents=True, exist_ok=True)
            lines = []
            for _ in range(rnd.randint(20, 200)):
                lines.append("    " + " ".join(rnd.choice(words) for _ in
                                               range(rnd.randint(2, 10))))
            (d / ("mod%04d.py" % i)).write_text("\n".join(lines) + "\n")

    def git(self, repo, script):
        env = dict(os.environ, GIT_AUTHOR_NAME="bench",
                   GIT_AUTHOR_EMAIL="bench@example.com",
                   GIT_COMMITTER_NAME="bench",
                   GIT_COMMITTER_EMAIL="bench@example.com",
                   GIT_CONFIG_NOSYSTEM="1", HOME=str(self.w))
        return self.timed_cmd(["sh", "-c", script], cwd=str(repo), env=env)

    GIT_SETUP = ("git init -q && git add -A && "
                 "git commit -q -m 'initial import'")

    def w_git(self, m):
        s = self.s
        src = self.w / "src"
        self.make_source_tree(src)
        shutil.copytree(src, m.path / "repo")
        shutil.copytree(src, self.local / "repo")
        self.wait_all_in_drive(m)
        before = {f["id"] for f in self.drive.tree()}
        self.drive.reset_stats()
        cmd = self.git(m.path / "repo", self.GIT_SETUP)
        t = time.monotonic()
        self.wait_all_in_drive(m)
        sync = time.monotonic() - t
        total, kinds = self.calls()
        new = len({f["id"] for f in self.drive.tree()} - before)
        local = self.git(self.local / "repo", self.GIT_SETUP)
        self.add("10a", "git init+add+commit, %d files: returns"
                 % s.git_files, cmd, local, None, "<= 10x local",
                 cmd <= 10 * local)
        limit = 1.5 * (max(new, 1) / UPLOADS_IN_FLIGHT) * s.rtt_ms / 1000
        per = total / max(new, 1)
        self.add("10b", "git init+add+commit: all in Drive", sync, None,
                 total, "<= %.2fs; <= 1.2 calls/file" % limit,
                 sync <= limit and per <= 1.2, new_drive_files=new,
                 calls_per_file=per, calls_by_kind=kinds)

    def w_git_warm(self, m):
        for wid, what, script in (
                ("8a", "git status (warm)", "git status --porcelain"),
                ("8b", "git log -p (warm)", "git log -p")):
            self.drive.reset_stats()
            self.git(m.path / "repo", script + " >/dev/null")
            mt = self.best(lambda: self.git(m.path / "repo",
                                            script + " >/dev/null"))
            total, _ = self.calls()
            self.git(self.local / "repo", script + " >/dev/null")
            lt = self.best(lambda: self.git(self.local / "repo",
                                            script + " >/dev/null"))
            self.add(wid, what, mt, lt, total, "<= 3x local", mt <= 3 * lt)

    # ------------------------------------------------- 9: remount

    def w_remount(self, cache):
        self.drive.reset_stats()
        m = self.drivefs_mount(cache, "mnt-a2")
        t = time.monotonic()
        subprocess.run(["ls", "-l", "--color=never", str(m.path)],
                       stdout=subprocess.DEVNULL, check=True)
        first = time.monotonic() - t
        total, kinds = self.calls()
        api = total - sum(v for k, v in kinds.items()
                          if k.startswith("oauth."))
        warm = self.best(lambda: self.timed_cmd(
            ["ls", "-l", "--color=never", str(m.path)]))
        local = self.best(lambda: self.timed_cmd(
            ["ls", "-l", "--color=never", str(self.local)]))
        self.add("9", "remount, warm cache: first ls", first, local, total,
                 "<= 2x warm ls (%.3fs); <= 2 API calls" % (2 * warm),
                 first <= 2 * warm and api <= 2, warm_ls_s=warm,
                 api_calls_excl_oauth=api, calls_by_kind=kinds)
        m.stop()

    # ------------------------------------------------- 6, 7: reads

    def read_all(self, path, drop=False):
        """Seconds to open and read `path` to the end (1 MiB reads), and
        the bytes read. drop: evict the kernel's page cache of the file
        first, so every read reaches the filesystem (the daemon)."""
        if drop:
            fd = os.open(str(path), os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
        t = time.monotonic()
        fd = os.open(str(path), os.O_RDONLY)
        try:
            n = 0
            while True:
                b = os.read(fd, MiB)
                if not b:
                    break
                n += len(b)
            return time.monotonic() - t, n
        finally:
            os.close(fd)

    def cache_file_of(self, cache, size):
        best = None
        for dirpath, _, files in os.walk(str(cache)):
            for f in files:
                p = os.path.join(dirpath, f)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                if st.st_size == size and "/content/" in p:
                    best = p
        return best

    def w_seq_read(self, m):
        s = self.s
        path = m.path / "big.bin"
        os.stat(path)
        self.drive.reset_stats()
        cold, n = self.read_all(path)
        total, kinds = self.calls()
        if n != s.big:
            raise RuntimeError("read %d bytes of %d" % (n, s.big))
        lt = self.best(lambda: self.read_all(self.big_local)[0])
        bound = self.ceil.get("download_bound_MBps", s.bw_mbs)
        rate = s.big / cold / 1e6
        self.add("6a", "cold sequential read %d MiB" % (s.big // MiB), cold,
                 lt, total, ">= %.0f MB/s (80%% of %.0f, %s)" % (
                     0.8 * bound, bound,
                     self.ceil.get("download_bound_is", "bandwidth cap")),
                 rate >= 0.8 * bound, MBps=rate, calls_by_kind=kinds)
        cf = self.cache_file_of(self.w / "cache-c", s.big)
        direct = self.best(lambda: self.read_all(cf)[0]) if cf else None
        warm = self.best(lambda: self.read_all(path)[0])
        self.add("6b", "warm sequential read (re-open)", warm, direct, None,
                 ">= 70% of the cache file read directly",
                 direct is not None and warm <= direct / 0.7,
                 MBps=s.big / warm / 1e6, reference="cache file " + str(cf))
        warm2 = self.best(lambda: self.read_all(path, drop=True)[0])
        self.add("6c", "warm sequential read, kernel cache dropped", warm2,
                 direct, None, ">= 70% of the cache file read directly",
                 direct is not None and warm2 <= direct / 0.7,
                 MBps=s.big / warm2 / 1e6)

    def rand_reads(self, path, count, seed, drop=False):
        rnd = random.Random(seed)
        pages = self.s.big // (4 * KiB)
        offs = [rnd.randrange(pages) * 4 * KiB for _ in range(count)]
        if drop:
            fd = os.open(str(path), os.O_RDONLY)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            os.close(fd)
        t = time.monotonic()
        fd = os.open(str(path), os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)
            for o in offs:
                os.pread(fd, 4 * KiB, o)
            return time.monotonic() - t
        finally:
            os.close(fd)

    def w_rand_warm(self, m):
        n = self.s.rand_warm
        path = m.path / "big.bin"
        lt = self.best(lambda: self.rand_reads(self.big_local, n, 7))
        mt = self.best(lambda: self.rand_reads(path, n, 7))
        self.add("7b", "warm random 4 KiB reads x%d (re-open)" % n, mt, lt,
                 None, ">= 50% of local IOPS", mt <= 2 * lt,
                 iops=n / mt, local_iops=n / lt)
        mt2 = self.best(lambda: self.rand_reads(path, n, 8, drop=True))
        lt2 = self.best(lambda: self.rand_reads(self.big_local, n, 8))
        self.add("7c", "warm random 4 KiB reads, kernel cache dropped", mt2,
                 lt2, None, ">= 50% of local IOPS", mt2 <= 2 * lt2,
                 iops=n / mt2, local_iops=n / lt2)

    def w_rand_cold(self, m):
        n = self.s.rand_cold
        path = m.path / "big.bin"
        os.stat(path)
        self.drive.reset_stats()
        mt = self.rand_reads(path, n, 9)
        total, kinds = self.calls()
        lt = self.rand_reads(self.big_local, n, 9)
        self.add("7a", "cold random 4 KiB reads x%d" % n, mt, lt, total,
                 None, None, iops=n / mt, local_iops=n / lt,
                 calls_by_kind=kinds,
                 bytes_down=self.stats()["bytes_down"])

    # ------------------------------------------------- rclone

    def rclone_side(self):
        if not self.s.rclone:
            self.rclone = {"run": False, "why": "RCLONE=1 not set"}
            return
        exe = shutil.which("rclone")
        if not exe:
            self.rclone = {"run": False, "why": "rclone not installed "
                           "(apt-get install rclone)"}
            print("rclone: not installed", flush=True)
            return
        ver = subprocess.run([exe, "version"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout.decode()
        flags = subprocess.run([exe, "help", "flags", "drive"],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL).stdout.decode()
        endpoint = [f for f in re.findall(r"--drive-[a-z-]+", flags)
                    if re.search(r"endpoint|api-url|base-url|server-url",
                                 f)]
        if not endpoint:
            why = ("rclone %s: the drive backend takes only "
                   "--drive-auth-url and --drive-token-url; the API base "
                   "https://www.googleapis.com/ is compiled in "
                   "(google.golang.org/api/drive/v3), so it cannot be "
                   "pointed at the emulator. Not run." % (
                       ver.split()[1] if ver.split()[1:] else "?"))
            self.rclone = {"run": False, "why": why}
            print("rclone: " + why, flush=True)
            return
        self.rclone = {"run": False, "why": "endpoint flag %s found but the "
                       "side-by-side run is not implemented" % endpoint}


# ---------------------------------------------------------------------------
# output
# ---------------------------------------------------------------------------

COLS = "%-4s %-46s %9s %9s %8s %6s  %s"


def met_text(met):
    return {True: "met", False: "NOT MET", None: "-"}[met]


def fmt_s(v):
    return "-" if v is None else "%.3f" % v


def print_header():
    print(COLS % ("id", "workload", "mount s", "local s", "ratio", "calls",
                  "target: met?"), flush=True)


def print_row(r):
    extra = ""
    if r.get("error"):
        extra = " ERROR " + r["error"][:300]
    elif r.get("MBps") is not None:
        extra = " (%.0f MB/s)" % r["MBps"]
    elif r.get("iops") is not None:
        extra = " (%.0f IOPS)" % r["iops"]
    print(COLS % (r["id"], r["workload"][:46], fmt_s(r["mount_s"]),
                  fmt_s(r["local_s"]),
                  "-" if r["ratio"] is None else "%.2fx" % r["ratio"],
                  "-" if r["api_calls"] is None else r["api_calls"],
                  "%s: %s%s" % (r["target"] or "-", met_text(r["met"]),
                                extra)), flush=True)


def main():
    s = Settings()
    for exe in ("drivefs",):
        if not os.access(str(s.bin / exe), os.X_OK):
            sys.exit("bench: no %s in %s (run make, or set DRIVEFS_BIN)"
                     % (exe, s.bin))
    base = os.environ.get("BENCH_DIR")
    if base:
        workdir = pathlib.Path(base)
        workdir.mkdir(parents=True, exist_ok=True)
    else:
        workdir = pathlib.Path(tempfile.mkdtemp(prefix="drivefs-bench-"))
    b = Bench(s, workdir)
    t0 = time.monotonic()
    info = machine_info()
    interrupted = None
    try:
        b.run()
    except BaseException as e:
        interrupted = "%s: %s" % (type(e).__name__, e)
        print("bench aborted: " + interrupted, file=sys.stderr)
    finally:
        b.cleanup()
    info["loadavg_end"] = os.getloadavg()
    result = {
        "machine": info, "settings": s.as_dict(),
        "elapsed_s": time.monotonic() - t0,
        "wait_method": b.wait_method, "ceilings": b.ceil,
        "rows": b.rows, "notes": b.notes,
        "rclone": getattr(b, "rclone", {"run": False}),
        "aborted": interrupted,
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    s.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = s.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n")
    os.replace(tmp, s.out)
    met = sum(1 for r in b.rows if r["met"] is True)
    judged = sum(1 for r in b.rows if r["met"] is not None)
    print("targets met: %d of %d; %s written in %.0f s (scratch %s)" % (
        met, judged, s.out, result["elapsed_s"], workdir), flush=True)
    if not s.keep and not any(is_mounted(m.path) for m in b.mounts):
        shutil.rmtree(workdir, ignore_errors=True)
    return 1 if interrupted else 0


if __name__ == "__main__":
    sys.exit(main())
