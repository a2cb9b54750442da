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
  RCLONE=1        also run the workloads on `rclone mount --vfs-cache-mode
                  full` against the same emulator (via its --connect-tls
                  mode) and compare: rclone column, "ahead" per row
  BENCH_RCLONE_ARGS extra rclone mount options (shell words)
  BENCH_ONLY      comma list of workload ids to run (e.g. "3,5,ceil";
                  6 and ceil need 5; 8 needs 10), for profiling one
  BENCH_DRIVEFS_LOG  drivefs --log SPEC (e.g. "info,sync=debug")
  BENCH_DRIVEFS_ARGS extra drivefs mount options (shell words), e.g.
                  "--xattrs" for the behaviour before xattrs were made
                  opt-in (rows 2a, 2b, 3a)
  BENCH_EMU_VERBOSE=1  the emulator logs one line per request
  BENCH_PERF      comma list of workload ids to profile: `perf record -g`
                  of the running drivefs during each, to BENCH_DIR/perf-ID.data

Python standard library only (plus the openssl command and rclone for
RCLONE=1); every process it starts is stopped by its own PID, every mount it
makes is unmounted with fusermount3 -u.
"""

import errno
import hashlib
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
import urllib.request

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "integration"))
from fakedrive_ctl import FakeDrive, make_tls_certs  # noqa: E402

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
        self.rclone_args = shlex.split(os.environ.get("BENCH_RCLONE_ARGS",
                                                      ""))
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

def launch_emulator(workdir, s, tls=None):
    """The emulator without --data (no state file is rewritten while we
    seed 20,000 files), on a free loopback port; tls (make_tls_certs())
    adds --connect-tls for rclone. Returns FakeDrive."""
    log = open(workdir / "fakedrive.log", "ab")
    code = "import sys; sys.path.insert(0, %r)\n" % str(FAKEDRIVE_PY.parent)
    code += "import fakedrive\nsys.exit(fakedrive.main())\n"
    cmd = [sys.executable, "-S", "-c", code, "--port", "0",
           "--host", "127.0.0.1", "--latency-ms", str(s.rtt_ms),
           "--bandwidth", str(s.bw)] + (["--verbose"] if s.emu_verbose
                                         else [])
    if tls:
        cmd += ["--connect-tls", tls["cert"], tls["key"]]
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
    """One `drivefs mount -f` (or rclone mount) process. drive_prefix: the
    Drive path of the mount's root in /__control/tree ("" = My Drive)."""

    kind = "drivefs"

    def __init__(self, argv, path, log_path, cache=None, drive_prefix="",
                 env=None):
        self.argv = [str(a) for a in argv]
        self.path = pathlib.Path(path)
        self.log_path = pathlib.Path(log_path)
        self.cache = pathlib.Path(cache) if cache else None
        self.drive_prefix = drive_prefix
        self.env = env
        self.proc = None

    def cache_file(self, size):
        """drivefs' cache file of `size` bytes (the reference of 6b/6c)."""
        best = None
        for dirpath, _, files in os.walk(str(self.cache)):
            for f in files:
                p = os.path.join(dirpath, f)
                try:
                    st = os.stat(p)
                except OSError:
                    continue
                if st.st_size == size and "/content/" in p:
                    best = p
        return best

    def start(self, timeout=20):
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=logf, stderr=logf,
                                         env=self.env)
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


class RcloneMount(Mount):
    """`rclone mount`; its remote control (--rc on a loopback port it
    picks, found in its log) says when the VFS cache has nothing left to
    upload."""

    kind = "rclone"
    rc_url = None

    def start(self, timeout=20):
        super().start(timeout)
        end = time.monotonic() + timeout
        while self.rc_url is None:
            m = re.search(r"Serving remote control on (http://[^ /]+)/",
                          self.log_tail(1 << 20))
            if m:
                self.rc_url = m.group(1)
            elif time.monotonic() > end:
                self.stop()
                raise RuntimeError("rclone rc not found: " + self.log_tail())
            else:
                time.sleep(0.01)
        return self

    def rc(self, command, **params):
        req = urllib.request.Request(
            "%s/%s" % (self.rc_url, command), method="POST",
            data=json.dumps(params).encode(),
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.loads(r.read().decode())

    def cache_file(self, size):
        """The VFS cache copy of a `size`-byte file (--cache-dir/vfs/...)."""
        best = None
        for dirpath, _, files in os.walk(str(self.cache / "vfs")):
            for f in files:
                p = os.path.join(dirpath, f)
                if os.path.getsize(p) == size:
                    best = p
        return best


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
        self.side = "drivefs"       # whose mount the workloads run on
        self.tls = None             # make_tls_certs() when rclone runs
        self.rclone = {"run": False, "why": "RCLONE=1 not set"}
        self.rclone_conf = None
        self._local = {}
        self._md5 = {}              # (path, size, mtime, ino) -> md5

    def nm(self, name):
        """Mount and cache names of the side being run."""
        return name if self.side == "drivefs" else "rc-" + name

    def local_once(self, key, fn):
        """fn() the first time (the local reference, or a setup step),
        its result again when the other side runs the same workload."""
        if key not in self._local:
            self._local[key] = fn()
        return self._local[key]

    def side_mount(self, cache, name, root=None):
        """A fresh mount of the side being run; root: a top folder of My
        Drive to mount instead of the side's own root."""
        if self.side == "rclone":
            return self.rclone_mount(cache, name, root)
        return self.drivefs_mount(cache, name,
                                  extra=("--root", root) if root else ())

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
        m = Mount(argv, mnt, self.w / ("drivefs-%s.log" % name), cache)
        self.mounts.append(m)
        return m.start()

    def wait_all_in_drive(self, mnt):
        """Block until Drive holds everything written on `mnt`; returns
        the time.monotonic() at which that was seen."""
        if mnt.kind == "rclone":
            return self.rclone_wait(mnt)
        self.drivefs_wait(mnt)
        return time.monotonic()

    def drivefs_wait(self, mnt):
        """`drivefs-status --wait MNT` when it works (exit 0), else poll the
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
        if self.side == "rclone":
            return self.add_rclone(wid, workload, mount_s, api_calls, extra)
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
        if self.side == "rclone":
            row = self.add_rclone(wid, workload, None, None, {})
            row["rclone_error"] = "%s: %s" % (type(exc).__name__, exc)
            print("     rclone ERROR " + row["rclone_error"][:300],
                  flush=True)
            return
        row = {"id": wid, "workload": workload, "mount_s": None,
               "local_s": None, "ratio": None, "api_calls": None,
               "target": None, "met": False,
               "error": "%s: %s" % (type(exc).__name__, exc)}
        self.rows.append(row)
        print_row(row)

    # --------------------------------------------------------- the run

    def run(self):
        s = self.s
        if s.rclone:
            self.rclone_prepare()
        self.drive = launch_emulator(self.w, s, self.tls)
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
        self.workloads()
        if self.tls is not None:
            self.rclone_side()

    def workloads(self):
        """Every workload on the side being run (self.side), in order:
        rows 1-5, 10, 8 on one mount; 9 remounts its cache; 6 and 7b on a
        fresh cache; 7a on another."""
        cache_a = self.w / self.nm("cache-a")
        a = self.side_mount(cache_a, self.nm("mnt-a"))
        self.guard("1", "cold/warm listing", self.w_listing, a)
        self.guard("3", "small-file creates", self.w_creates, a)
        self.guard("4", "editor save", self.w_saves, a)
        self.guard("5", "sequential write", self.w_seq_write, a)
        if self.side == "drivefs":
            self.guard("ceil", "emulator ceilings", self.w_ceilings)
        self.guard("10", "git on the mount", self.w_git, a)
        self.guard("8", "git warm", self.w_git_warm, a)
        if self.s.only is not None and "9" in self.s.only and \
                self.side == "drivefs" and \
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
        c = self.side_mount(self.w / self.nm("cache-c"), self.nm("mnt-c"))
        self.guard("6", "sequential read", self.w_seq_read, c)
        self.guard("7b", "warm random read", self.w_rand_warm, c)
        c.stop()
        d = self.side_mount(self.w / self.nm("cache-d"), self.nm("mnt-d"))
        self.guard("7a", "cold random read", self.w_rand_cold, d)
        d.stop()

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
                    self.notes.append("%s %s exited: %s" % (
                        m.kind, m.path.name, m.log_tail(1500)))
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
            mm = self.side_mount(self.w / self.nm("cache-ls-" + key),
                                 self.nm("mnt-ls-" + key), root=sub)
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
                     calls_by_kind=kinds, max_calls=max_calls,
                     chained_pages=(math.ceil(nfiles / 1000)
                                    if key != "tree" else None))
            ok2 = warm <= 3 * local
            self.add("2" + ("a" if key == "tree" else "b"),
                     "warm ls -lR (%s)" % key, warm, local, warm_calls,
                     "<= 3x local", ok2)

    # ------------------------------------------------- 3: creates

    def make_small_tar(self):
        return self.local_once("small.tar", self._make_small_tar)

    def _make_small_tar(self):
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
        sync = self.wait_all_in_drive(m) - t
        total, kinds = self.calls()
        local = self.local_once("3", lambda: self.timed_cmd(
            ["tar", "xf", str(tar), "-C", str(self.local)]))
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
        ld.mkdir(exist_ok=True)
        (ld / "doc.txt").write_bytes(b"original\n")
        self.wait_all_in_drive(m)
        ids_before = {f["id"] for f in self.drive.tree()}
        doc_path = m.drive_prefix + "edit/doc.txt"
        doc_id = self.drive.by_path(doc_path)["id"]
        self.drive.reset_stats()
        mt = lt = 0.0
        sync = 0.0
        for i in range(s.saves):
            mt += self.save_once(d, i)
            t = time.monotonic()
            sync += self.wait_all_in_drive(m) - t
            lt += self.save_once(ld, i)
        st = self.stats()
        tree = self.drive.tree()
        new_ids = len({f["id"] for f in tree} - ids_before)
        now = self.drive.by_path(doc_path)
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
        sync = self.wait_all_in_drive(m) - t
        total, kinds = self.calls()
        lt = self.local_once("5", lambda: self.write_big(
            self.local / "big.bin"))
        self.big_local = self.local / "big.bin"
        rate = s.big / (wt + sync) / 1e6
        if self.side == "drivefs":
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
        # drivefs' own fields (drive/drive_i.h DRIVE_LIST_FIELDS): the
        # pages it asks for, built by the emulator for a plain client.
        fields = ("nextPageToken,files(id,name,mimeType,parents,size,"
                  "version,createdTime,modifiedTime,md5Checksum,"
                  "headRevisionId,trashed,appProperties,shortcutDetails,"
                  "capabilities/canEdit)")
        list_s, nlist, chain_s, chain_pages = None, 0, None, 0
        if flat is not None:
            # The first page, then the whole chain of the folder's pages
            # (later pages cost less: the first sorts the folder).
            token, t0 = None, time.monotonic()
            while True:
                params = {"q": "'%s' in parents and trashed = false" %
                          flat["id"], "pageSize": 1000, "fields": fields}
                if token:
                    params["pageToken"] = token
                t = time.monotonic()
                page = self.drive.api("GET", "/drive/v3/files",
                                      params=params).json()
                chain_pages += 1
                if list_s is None:
                    list_s = time.monotonic() - t
                    nlist = len(page.get("files", []))
                token = page.get("nextPageToken")
                if not token:
                    break
            chain_s = time.monotonic() - t0
        dl_ceiling = max(one, par_rate)
        dl_bound = min(s.bw_mbs, dl_ceiling)
        ul_bound = min(s.bw_mbs, up_rate)
        self.ceil = {
            "download_1_stream_MBps": one,
            "download_%d_streams_MBps" % par: par_rate,
            "upload_1_resumable_session_MBps": up_rate,
            "upload_status": code_u, "download_status": code,
            "list_page_s": list_s, "list_page_entries": nlist,
            "list_chain_s": chain_s, "list_chain_pages": chain_pages,
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
        if self.tls is not None:
            self.tls_ceilings(auth, url, size)
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
            if row.get("chained_pages") and chain_s and \
                    row["chained_pages"] == chain_pages:
                # Pages of one folder are chained by nextPageToken: no
                # client lists it faster than this emulator builds them.
                row["chain_floor_s"] = chain_s
                print("  -> row %s: its %d chained pages take %.2f s with "
                      "a plain client (first page %.0f ms): this "
                      "emulator's floor; measured %.2f s beyond warm" % (
                          row["id"], chain_pages, chain_s, list_s * 1000,
                          row["cold_beyond_warm_s"]), flush=True)

    def tls_ceilings(self, auth, url, size):
        """The same download and upload through the emulator's CONNECT +
        TLS mode (rclone's path): what TLS costs rclone here."""
        api = "https://www.googleapis.com"
        tunnel = ["--proxy", self.drive.url, "--cacert", self.tls["ca"]]
        _, down, _, tt = self.curl(auth + tunnel + [
            url.replace(self.drive.url, api)])
        r = self.drive.api(
            "POST", "/upload/drive/v3/files",
            params={"uploadType": "resumable"},
            json_body={"name": "ceiling-tls.bin"},
            headers={"X-Upload-Content-Length": str(size)})
        loc = r.header("Location").replace(self.drive.url, api)
        _, _, up, ttu = self.curl(auth + tunnel + [
            "-X", "PUT", "-T", str(self.big_local), "-H", "Expect:", loc])
        self.ceil["tls_download_1_stream_MBps"] = down / tt / 1e6
        self.ceil["tls_upload_1_resumable_session_MBps"] = up / ttu / 1e6
        print("  through CONNECT + TLS (rclone's path): download 1 stream "
              "%.0f MB/s, upload 1 session %.0f MB/s" % (
                  down / tt / 1e6, up / ttu / 1e6), flush=True)

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
        self.local_once("src", lambda: self.make_source_tree(src))
        shutil.copytree(src, m.path / "repo")
        self.local_once("repo", lambda: shutil.copytree(
            src, self.local / "repo"))
        self.wait_all_in_drive(m)
        before = {f["id"] for f in self.drive.tree()}
        self.drive.reset_stats()
        cmd = self.git(m.path / "repo", self.GIT_SETUP)
        t = time.monotonic()
        sync = self.wait_all_in_drive(m) - t
        total, kinds = self.calls()
        new = len({f["id"] for f in self.drive.tree()} - before)
        local = self.local_once("10", lambda: self.git(
            self.local / "repo", self.GIT_SETUP))
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
        m = self.side_mount(cache, self.nm("mnt-a2"))
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
        cf = m.cache_file(s.big)
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

    # rclone mount settings (docs/PERFORMANCE.md "rclone"): those a user
    # tuning for speed would pick, matched to the drivefs run where there
    # is a counterpart. --vfs-write-back, --drive-pacer-min-sleep and
    # --transfers are filled in from the settings in rclone_mount().
    RCLONE_FLAGS = (
        "--vfs-cache-mode", "full",
        "--dir-cache-time", "1h",       # drivefs keeps listings until a poll
        "--poll-interval", "0",         # as drivefs --poll-interval 0
        "--drive-chunk-size", "64M",    # drivefs DRIVE_CHUNK_DEFAULT
        "--attr-timeout", "1s",         # drivefs ATTR_TIMEOUT_S (default)
    )

    def rclone_prepare(self):
        """Before the emulator starts: is rclone there, and a throwaway CA
        for the emulator's --connect-tls (rclone's API base is compiled in:
        it reaches the emulator as HTTPS_PROXY). Sets self.tls."""
        exe = shutil.which("rclone")
        if not exe:
            self.rclone = {"run": False, "why": "rclone not installed "
                           "(apt-get install rclone)"}
            print("rclone: not installed", flush=True)
            return
        if not shutil.which("openssl"):
            self.rclone = {"run": False, "why": "no openssl command for "
                           "the throwaway CA"}
            print("rclone: no openssl", flush=True)
            return
        ver = subprocess.run([exe, "version"], stdout=subprocess.PIPE,
                             stderr=subprocess.DEVNULL).stdout.decode()
        self.rclone_exe = exe
        self.rclone_version = (ver.split() + ["?", "?"])[1]
        self.tls = make_tls_certs(self.w / "tls")

    def rclone_env(self):
        env = dict(os.environ, HTTPS_PROXY=self.drive.url,
                   SSL_CERT_FILE=self.tls["ca"],
                   RCLONE_CONFIG=str(self.rclone_conf))
        for k in ("NO_PROXY", "no_proxy", "https_proxy", "HTTP_PROXY",
                  "http_proxy", "ALL_PROXY", "all_proxy", "SSL_CERT_DIR"):
            env.pop(k, None)
        return env

    def rclone_write_config(self):
        """Remote "emu": the emulator's default client, a token it issued
        (rclone refreshes it through the tunnel when it expires), root =
        My Drive, like the drivefs mounts."""
        c = self.drive.credentials()
        tok = {"access_token": self.drive.token(), "token_type": "Bearer",
               "refresh_token": c["refresh_token"],
               "expiry": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(
                   time.time() + 1800))}
        text = ("[emu]\ntype = drive\nclient_id = %s\nclient_secret = %s\n"
                "scope = drive\nroot_folder_id = %s\ntoken = %s\n" % (
                    c["client_id"], c["client_secret"], self.drive.root_id,
                    json.dumps(tok)))
        self.rclone_conf = self.w / "rclone.conf"
        fd = os.open(str(self.rclone_conf), os.O_WRONLY | os.O_CREAT |
                     os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(text)

    def rclone_flags(self):
        s = self.s
        return list(self.RCLONE_FLAGS) + [
            "--vfs-write-back", "%gs" % s.wb_delay,
            "--drive-pacer-min-sleep", "%gms" % (1000.0 / s.qps),
            "--transfers", str(UPLOADS_IN_FLIGHT)] + list(s.rclone_args)

    def rclone_mount(self, cache, name, root=None):
        """`rclone mount emu:ROOT` (ROOT: the "rclone" folder, where the
        workloads write, or a listing tree)."""
        self.n_mount += 1
        root = root or "rclone"
        mnt = self.w / name
        s = self.s
        argv = [self.rclone_exe, "mount", "emu:" + root, mnt,
                "--cache-dir", cache] + self.rclone_flags() + [
                    "--rc", "--rc-addr", "127.0.0.1:0", "--rc-no-auth",
                    "--log-file", self.w / ("rclone-%s.log" % name)]
        pathlib.Path(cache).mkdir(parents=True, exist_ok=True)
        m = RcloneMount(argv, mnt, self.w / ("rclone-%s.log" % name), cache,
                        drive_prefix=root + "/", env=self.rclone_env())
        self.mounts.append(m)
        return m.start()

    def rclone_wait(self, m):
        """Poll rclone's `vfs/stats` until no upload is queued or running
        (the counterpart of drivefs-status --wait); then check that the
        emulator holds every file the mount shows, same size and (up to
        1 MiB) same MD5. The check is not timed: the result is when rclone
        went idle in the round whose check passed (a close whose release
        rclone had not seen yet fails the check and waits again)."""
        self.rclone_wait_method = ("rclone rc vfs/stats idle, checked "
                                   "against the emulator's tree")
        end = time.monotonic() + self.s.sync_timeout
        last = None
        while True:
            while True:
                if m.proc.poll() is not None:
                    raise RuntimeError("rclone exited while syncing: " +
                                       m.log_tail())
                dc = m.rc("vfs/stats")["diskCache"]
                last = dc
                if dc["uploadsInProgress"] + dc["uploadsQueued"] == 0:
                    break
                if time.monotonic() > end:
                    raise RuntimeError("rclone not synced after %ss: %r" %
                                       (self.s.sync_timeout, last))
                time.sleep(0.005)
            idle = time.monotonic()
            missing = self.drive_misses(m)
            if not missing:
                return idle
            if time.monotonic() > end:
                raise RuntimeError("rclone idle but Drive lacks %r" %
                                   missing[:5])
            time.sleep(0.05)

    def drive_misses(self, m):
        """Files on mount m that the emulator lacks or holds differently
        (a list of relative paths; empty when Drive has them all)."""
        have = {}
        for f in self.drive.tree(under=m.drive_prefix):
            if not f["trashed"] and f["mimeType"] != FOLDER_MIME and \
                    f["path"].startswith(m.drive_prefix):
                have.setdefault(f["path"][len(m.drive_prefix):], []).append(f)
        bad = []
        for dirpath, _, files in os.walk(str(m.path)):
            for name in files:
                p = os.path.join(dirpath, name)
                rel = os.path.relpath(p, str(m.path))
                st = os.lstat(p)
                if not os.path.isfile(p):
                    continue
                cands = [f for f in have.get(rel, ())
                         if int(f.get("size", -1)) == st.st_size]
                if cands and st.st_size <= MiB:
                    key = (p, st.st_size, st.st_mtime_ns, st.st_ino)
                    md5 = self._md5.get(key)
                    if md5 is None:
                        with open(p, "rb") as fh:
                            md5 = hashlib.md5(fh.read()).hexdigest()
                        self._md5[key] = md5
                    cands = [f for f in cands if f.get("md5Checksum") == md5]
                if not cands:
                    bad.append(rel)
        return bad

    def add_rclone(self, wid, workload, secs, calls, extra):
        """Record rclone's result on the drivefs row of the same id:
        rclone_s, rclone_calls, rclone (details) and ahead (drivefs took
        less time)."""
        row = next((r for r in self.rows if r["id"] == wid), None)
        if row is None:
            row = {"id": wid, "workload": workload, "mount_s": None,
                   "local_s": None, "ratio": None, "api_calls": None,
                   "target": None, "met": None}
            self.rows.append(row)
        row["rclone_s"] = secs
        row["rclone_calls"] = calls
        row["rclone"] = {k: v for k, v in extra.items()
                         if k != "reference"}
        row["ahead"] = None if secs is None or row["mount_s"] is None \
            else row["mount_s"] < secs
        if secs is not None:
            print_rclone_row(row)
        return row

    def rclone_side(self):
        """The same workloads on rclone mount, after every drivefs mount
        is gone: its own folder "rclone" for the writes, the same listing
        trees, fresh caches."""
        self.rclone_write_config()
        self.drive.seed("rclone/")
        print("rclone %s: mount --vfs-cache-mode full via HTTPS_PROXY=%s "
              "(emulator --connect-tls)" % (self.rclone_version,
                                            self.drive.url), flush=True)
        self.side = "rclone"
        try:
            self.workloads()
        finally:
            self.side = "drivefs"
        self.rclone = {
            "run": True, "version": self.rclone_version,
            "flags": self.rclone_flags(),
            "wait_method": getattr(self, "rclone_wait_method", None),
            "transport": "HTTPS_PROXY=emulator (CONNECT, TLS in place), "
                         "SSL_CERT_FILE=throwaway CA"}
        print_comparison(self.rows)


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


def print_rclone_row(r):
    x = r.get("rclone", {})
    extra = ""
    if x.get("MBps") is not None:
        extra = " (%.0f MB/s)" % x["MBps"]
    elif x.get("iops") is not None:
        extra = " (%.0f IOPS)" % x["iops"]
    print(COLS % (r["id"], "  on rclone mount" + extra, fmt_s(r["rclone_s"]),
                  "", "",
                  "-" if r["rclone_calls"] is None else r["rclone_calls"],
                  "drivefs %s: ahead %s" % (
                      fmt_s(r["mount_s"]),
                      {True: "yes", False: "NO", None: "-"}[r["ahead"]])),
          flush=True)


def print_comparison(rows):
    """drivefs against rclone mount, row by row (time: less is better)."""
    fmt = "%-4s %-40s %9s %9s %7s %7s %7s  %s"
    print("\ndrivefs vs rclone mount --vfs-cache-mode full (same emulator)",
          flush=True)
    print(fmt % ("id", "workload", "drivefs s", "rclone s", "rc/dfs",
                 "dfs cl", "rc cl", "drivefs ahead?"), flush=True)
    ahead = judged = 0
    for r in rows:
        if "rclone_s" not in r:
            continue
        d, c = r["mount_s"], r["rclone_s"]
        ratio = "-" if not d or c is None else "%.2fx" % (c / d)
        verdict = {True: "yes", False: "NO", None: "-"}[r["ahead"]]
        if r.get("rclone_error"):
            verdict = "rclone ERROR " + r["rclone_error"][:60]
        if r["ahead"] is not None:
            judged += 1
            ahead += r["ahead"]
        print(fmt % (r["id"], r["workload"][:40], fmt_s(d), fmt_s(c), ratio,
                     "-" if r["api_calls"] is None else r["api_calls"],
                     "-" if r["rclone_calls"] is None else r["rclone_calls"],
                     verdict), flush=True)
    print("drivefs ahead on %d of %d rows" % (ahead, judged), flush=True)


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
        "rclone": b.rclone,
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
