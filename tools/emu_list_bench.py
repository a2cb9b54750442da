#!/usr/bin/env python3
"""Time the emulator's files.list: CPU per 1000-entry page.

Seeds what `make bench` workload 1 seeds (10,000 files in 100 folders of
tree/, 10,000 in flat/; 20,000 files in all), then lists as drivefs does
(pageSize 1000, DRIVE_LIST_FIELDS, pretty-printed replies):

  flat   'FLAT' in parents and trashed = false            (10 chained pages)
  tree   ('D1' in parents or ... 'D20') and trashed = false, 5 queries of 20
         folders (2 pages each)

and reports, per page, the wall time on loopback (with --latency-ms N, if
given) and the emulator's CPU time (utime + stime from /proc/PID/stat, so
the number is the server's work, not the client's).

  tools/emu_list_bench.py [--rounds N] [--emulator DIR] [--latency-ms N]
      emulator in a child process (DIR/fakedrive.py: compare two versions)
  tools/emu_list_bench.py --profile [--top N]
      emulator in this process; cProfile around the listing requests (not
      the seeding), printed sorted by cumulative and by internal time.

Measured on 2 vCPUs, the numbers move with the machine's load: compare two
emulators in the same minute (--emulator) rather than with old numbers.
"""

import argparse
import cProfile
import os
import pstats
import select
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
sys.path.insert(0, str(REPO / "tests" / "fakedrive"))

from fakedrive_ctl import FakeDrive  # noqa: E402

FOLDER = "application/vnd.google-apps.folder"
FIELDS = ("nextPageToken,files(id,name,mimeType,parents,size,version,"
          "createdTime,modifiedTime,md5Checksum,headRevisionId,trashed,"
          "appProperties,shortcutDetails,capabilities/canEdit)")


def seed(drive):
    tree = drive.seed("tree/")
    flat = drive.seed("flat/")
    folders = drive.seed_many([{"name": "d%03d" % i, "parent": tree["id"],
                                "mimeType": FOLDER} for i in range(100)])
    specs = [{"name": "f%04d.txt" % j, "parent": f["id"],
              "content": "%d/%d\n" % (i, j)}
             for i, f in enumerate(folders) for j in range(100)]
    specs += [{"name": "f%05d.txt" % j, "parent": flat["id"],
               "content": "%d\n" % j} for j in range(10000)]
    for k in range(0, len(specs), 2000):
        drive.seed_many(specs[k:k + 2000])
    return flat["id"], [f["id"] for f in folders]


def cpu_s(pid):
    with open("/proc/%d/stat" % pid) as f:
        parts = f.read().rsplit(")", 1)[1].split()
    return (int(parts[11]) + int(parts[12])) / os.sysconf("SC_CLK_TCK")


def list_all(drive, q):
    """Every page of q; returns (pages, files)."""
    pages, files, token = 0, 0, None
    while True:
        params = {"q": q, "pageSize": 1000, "fields": FIELDS}
        if token:
            params["pageToken"] = token
        r = drive.api("GET", "/drive/v3/files", params=params)
        if r.status != 200:
            raise RuntimeError("files.list: %r" % r)
        body = r.json()
        pages += 1
        files += len(body["files"])
        token = body.get("nextPageToken")
        if not token:
            return pages, files


def workloads(flat_id, folder_ids):
    yield "flat", "'%s' in parents and trashed = false" % flat_id
    for k in range(0, 100, 20):
        yield "tree", "(%s) and trashed = false" % " or ".join(
            "'%s' in parents" % f for f in folder_ids[k:k + 20])


def measure(drive, flat_id, folder_ids, pid, rounds):
    for rnd in range(rounds):
        totals = {}
        for name, q in workloads(flat_id, folder_ids):
            c0, t0 = cpu_s(pid), time.monotonic()
            pages, files = list_all(drive, q)
            c1, t1 = cpu_s(pid), time.monotonic()
            tot = totals.setdefault(name, [0, 0, 0.0, 0.0])
            tot[0] += pages
            tot[1] += files
            tot[2] += c1 - c0
            tot[3] += t1 - t0
        for name, (pages, files, c, w) in totals.items():
            print("round %d %-4s %2d pages %5d files: %6.1f ms CPU/page, "
                  "%6.1f ms wall/page" % (rnd + 1, name, pages, files,
                                          1000 * c / pages, 1000 * w / pages))


def launch_plain(emu_dir, latency_ms=0):
    """The emulator without --data (as tools/bench.py runs it: no state
    file is rewritten while we seed), on a free loopback port."""
    cmd = [sys.executable, "-S", str(Path(emu_dir) / "fakedrive.py"),
           "--port", "0", "--host", "127.0.0.1",
           "--latency-ms", str(latency_ms)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    line = b""
    end = time.monotonic() + 20
    while time.monotonic() < end and b"\n" not in line:
        if select.select([proc.stdout], [], [], 0.1)[0]:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            line += chunk
    text = line.decode().strip()
    prefix = "fakedrive listening on "
    if not text.startswith(prefix):
        proc.kill()
        proc.wait(10)
        raise RuntimeError("fakedrive did not start: %r" % text)
    return FakeDrive(text[len(prefix):], proc=proc)


def run_child(args):
    drive = launch_plain(args.emulator, args.latency_ms)
    try:
        t0 = time.monotonic()
        flat_id, folder_ids = seed(drive)
        print("seeded 20,000 files in %.1f s" % (time.monotonic() - t0))
        measure(drive, flat_id, folder_ids, drive.proc.pid, args.rounds)
    finally:
        drive.stop()


def run_profile(args):
    import fakedrive
    ns = argparse.Namespace(latency_ms=0, bandwidth=0, qps=0,
                            token_lifetime=3600,
                            quota=fakedrive.S.DEFAULT_QUOTA, verbose=False)
    tmp = tempfile.mkdtemp(prefix="emu-list-")
    server = fakedrive.FakeDriveServer(("127.0.0.1", 0), ns, tmp, False)
    prof = cProfile.Profile()
    lock = threading.Lock()
    orig = fakedrive.Handler.handle_one_request
    listing = threading.Event()

    def profiled(self):
        if not listing.is_set():
            return orig(self)
        with lock:
            prof.enable()
            try:
                return orig(self)
            finally:
                prof.disable()

    fakedrive.Handler.handle_one_request = profiled
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        drive = FakeDrive(server.url)
        flat_id, folder_ids = seed(drive)
        drive.token()
        listing.set()
        for name, q in workloads(flat_id, folder_ids):
            list_all(drive, q)
    finally:
        server.shutdown()
        server.server_close()
        shutil.rmtree(tmp, ignore_errors=True)
    st = pstats.Stats(prof)
    st.sort_stats("cumulative").print_stats(args.top)
    st.sort_stats("tottime").print_stats(args.top)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--emulator", default=str(REPO / "tests" / "fakedrive"),
                    help="directory of the fakedrive.py to time (e.g. an "
                         "older one from `git archive`), child mode only")
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--latency-ms", type=float, default=0,
                    help="the emulator's --latency-ms (child mode; the "
                         "bench uses 50): wall per page = it + CPU")
    args = ap.parse_args()
    if args.profile:
        run_profile(args)
    else:
        run_child(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
