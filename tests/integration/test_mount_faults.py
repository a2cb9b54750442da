"""Durability under server faults (issue 5): a fault storm from the
emulator's control API, permanent errors, offline, a full cache disk,
credentials that stop working, the bounded unmount drain.

The storm test ends by printing one summary line:
  FAULT STORM: faults injected N, operations N, bytes verified N, bytes lost 0
DRIVEFS_FAULTS_SEED=N repeats one storm's workload."""

import hashlib
import json
import os
import random
import signal
import subprocess

import pytest

from mountlib import FOLDER_MIME, drive_files, poll_until, wait_synced

SEED = int(os.environ.get("DRIVEFS_FAULTS_SEED", random.randrange(1 << 30)))

# What the daemon rightly logs while Drive misbehaves: a push that failed
# and will be retried, a quarantined one, a refused token, offline.
FAULT_LOGS = [r"sync: .*(failed|quarantin|retrying|not uploaded|"
              r"still queued)",
              r"WARN http: ", r"ERROR http: ", r"oauth|token|auth",
              r"poll: ", r"fetch: ", r"offline|unreachable"]

# The storm: about 30% of requests are faulted (first matching rule wins).
STORM = [
    dict(kind="*", action="error", status=503, reason="backendError",
         probability=0.10),
    dict(kind="*", action="error", status=500, reason="internalError",
         probability=0.04),
    dict(kind="*", action="error", status=502, reason="badGateway",
         probability=0.03),
    dict(kind="*", action="error", status=403,
         reason="userRateLimitExceeded", probability=0.03),
    dict(kind="*", action="error", status=403, reason="rateLimitExceeded",
         probability=0.02),
    dict(kind="*", action="error", status=429, reason="rateLimitExceeded",
         retry_after=1, probability=0.03),
    dict(kind="*", action="drop", probability=0.02),
    dict(kind="files.*", action="drop_after", probability=0.02),
    dict(kind="upload.*", action="drop_after", probability=0.02),
    dict(kind="upload.*", action="drop_mid_body", probability=0.03),
    dict(kind="files.*", action="truncate_body", probability=0.04),
    dict(kind="files.*", action="malformed_json", probability=0.04),
    dict(kind="*", action="delay", delay_ms=1500, probability=0.02),
]


def md5(b):
    return hashlib.md5(b).hexdigest()


def blob(rng, n):
    return rng.randbytes(n) if hasattr(rng, "randbytes") else \
        bytes(rng.getrandbits(8) for _ in range(n))


def status_json(m):
    exe = os.path.join(os.environ.get("DRIVEFS_BIN") or
                       os.path.join(os.path.dirname(__file__), "..", "..",
                                    "bin"), "drivefs-status")
    r = subprocess.run([exe, "--json", str(m.path)], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def verify(drive, expected):
    """(bytes verified, bytes lost, problems) of Drive against
    {path: bytes}."""
    have = drive_files(drive)
    ok = lost = 0
    problems = []
    for p, data in sorted(expected.items()):
        f = have.get(p)
        if f is None or f.get("md5Checksum") != md5(data):
            lost += len(data)
            problems.append("%s: %s" % (p, "missing" if f is None else
                                        "md5 %s != %s" % (
                                            f.get("md5Checksum"),
                                            md5(data))))
        else:
            ok += len(data)
    extra = sorted(set(have) - set(expected))
    if extra:
        problems.append("unexpected in Drive: %s" % extra[:20])
    return ok, lost, problems


def test_fault_storm_loses_nothing(mount_factory, drive, capsys):
    rng = random.Random(SEED)
    # Files in Drive before the mount, read back during the storm (whole
    # downloads, and range reads of one over 8 MiB).
    seeded = {"old/s%02d.bin" % i: blob(rng, rng.choice([10, 70000]))
              for i in range(15)}
    seeded["old/large.bin"] = blob(rng, 9 * 1024 * 1024 + 123)
    for p, data in seeded.items():
        drive.seed(p, data)
    drive.config(qps=40)                      # a quota: 403 above it
    m = mount_factory(writeback_delay=0.2, allow_log=FAULT_LOGS)
    drive.clear_faults()
    drive._ctl("POST", "faults", {"rules": STORM})
    root = str(m.path)
    expected = {}
    ops = 0
    dirs = ["d%d" % i for i in range(8)] + ["d0/sub", "d3/sub"]
    for d in dirs:
        os.mkdir(os.path.join(root, d))
        ops += 1
    for i in range(280):
        p = "%s/f%03d.txt" % (rng.choice(dirs), i)
        data = blob(rng, rng.choice([0, 1, 100, 4096, 30000, 200000]))
        with open(os.path.join(root, p), "wb") as f:
            f.write(data)
        expected[p] = data
        ops += 1
    for i in range(3):                        # resumable uploads
        p = "d%d/big%d.bin" % (i, i)
        data = blob(rng, 5 * 1024 * 1024 + rng.randrange(1, 2 << 20))
        with open(os.path.join(root, p), "wb") as f:
            f.write(data)
        expected[p] = data
        ops += 1
    for p in rng.sample(sorted(expected), 30):    # renames and moves
        q = "%s/r-%s" % (rng.choice(dirs), os.path.basename(p))
        if q in expected:
            continue
        os.rename(os.path.join(root, p), os.path.join(root, q))
        expected[q] = expected.pop(p)
        ops += 1
    for p in rng.sample(sorted(expected), 30):    # deletes
        if "big" in p:
            continue
        os.unlink(os.path.join(root, p))
        del expected[p]
        ops += 1
    for p, data in sorted(seeded.items()):       # downloads under faults
        with open(os.path.join(root, p), "rb") as f:
            assert f.read() == data, p
        ops += 1
    expected.update(seeded)
    for p in rng.sample(sorted(expected), 20):    # rewrites
        data = blob(rng, rng.choice([10, 5000, 70000]))
        with open(os.path.join(root, p), "wb") as f:
            f.write(data)
        expected[p] = data
        ops += 1
    wait_synced(m, timeout=240)
    faults = drive._ctl("GET", "faults")
    drive.clear_faults()
    drive.config(qps=0)
    stats = drive.stats()
    quota = sum(1 for e in stats["log"] if e["status"] == 403)
    injected = sum(faults["fired"].values())
    ok, lost, problems = verify(drive, expected)
    # The mount reads back what it wrote.
    for p in rng.sample(sorted(expected), 20):
        with open(os.path.join(root, p), "rb") as f:
            assert f.read() == expected[p], p
    with capsys.disabled():
        print("\nFAULT STORM (seed %d): faults injected %d (%s; plus %d "
              "replies 403 from the qps quota or rules), operations %d, "
              "requests %d, bytes verified %d, bytes lost %d"
              % (SEED, injected, ", ".join("%s %d" % kv for kv in
                                           sorted(faults["fired"].items())),
                 quota, ops, stats["total"], ok, lost))
    assert injected >= 100, faults
    assert not problems, "\n".join(problems[:40])
    assert lost == 0


# ------------------------------------------------------- permanent errors

from test_status import rundir, run_status, smount, status  # noqa: E402,F401


def item(st, path):
    for it in st["queue"]["items"]:
        if it["path"] == path:
            return it
    return None


def wait_item(rundir, m, path, pred, what):
    last = {}

    def check():
        last["st"] = status(rundir, m)
        it = item(last["st"], path)
        return it is not None and pred(it)
    poll_until(check, 60, lambda: "%s; last status %s" % (
        what, json.dumps(last.get("st"), indent=1)[:3000]))
    return item(last["st"], path), last["st"]


@pytest.mark.parametrize("cls", ["permission", "quota exceeded",
                                 "daily upload cap"])
def test_permanent_error_is_quarantined_kept_and_retried(smount, rundir,
                                                         drive, cls):
    m = smount(allow_log=FAULT_LOGS)
    if cls == "permission":
        drive.fault(kind="upload.*", status=403,
                    reason="insufficientFilePermissions")
    elif cls == "quota exceeded":
        drive.config(quota_limit=1)
    else:
        drive.fault(kind="upload.*", status=403, reason="dailyLimitExceeded")
    (m.path / "p.txt").write_bytes(b"mine, only here")
    it, st = wait_item(rundir, m, "p.txt", lambda i: i["quarantined"],
                       "p.txt quarantined")
    assert it["error_class"] == cls and it["state"] == "quarantined"
    assert it["error"] and it["fails"] >= 1
    assert st["queue"]["quarantined"] == 1 and st["state"] == "error"
    assert any("quarantined" in e["message"] and "p.txt" in e["message"]
               for e in st["errors"]), st["errors"]
    assert "quarantined" in m.log() and "p.txt" in m.log()
    rc, out, _ = run_status(rundir, m.path)
    assert "1 quarantined" in out and cls + ": " in out, out
    assert (m.path / "p.txt").read_bytes() == b"mine, only here"
    assert "p.txt" not in drive_files(drive)
    # Fixed: --sync-now gives it a fresh budget and it goes.
    drive.clear_faults()
    drive.config(quota_limit=1 << 40)
    rc, _, err = run_status(rundir, "--sync-now", "--wait", "--timeout",
                            60, m.path)
    assert rc == 0, err
    assert drive.content(drive_files(drive)["p.txt"]["id"]) == \
        b"mine, only here"
    assert status(rundir, m)["queue"]["quarantined"] == 0


def test_parent_deleted_in_drive_is_not_found_and_kept(smount, rundir,
                                                        drive):
    d = drive.seed("gone/")
    m = smount(allow_log=FAULT_LOGS)
    assert os.listdir(m.path / "gone") == []
    drive.act("delete", id=d.id)
    (m.path / "gone" / "new.txt").write_bytes(b"written into a ghost")
    it, st = wait_item(rundir, m, "gone/new.txt",
                       lambda i: i["quarantined"], "gone/new.txt parked")
    assert it["error_class"] == "not found"
    assert (m.path / "gone" / "new.txt").read_bytes() == \
        b"written into a ghost"
    # Unmount: only quarantined work is left; it is listed, not waited
    # for (exit 1: work remains queued for the next start).
    m.expect_exit = (1,)
    assert m.unmount() == 1
    log = m.log()
    assert "only quarantined work is left" in log
    assert "still queued: 'gone/new.txt'" in log


def test_local_change_lifts_quarantine(smount, rundir, drive):
    """Moving a parked file out of a folder deleted in Drive is new local
    work: it gets a fresh budget and reaches Drive without --sync-now."""
    d = drive.seed("lost/")
    m = smount(allow_log=FAULT_LOGS)
    assert os.listdir(m.path / "lost") == []
    drive.act("delete", id=d.id)
    (m.path / "lost" / "x.txt").write_bytes(b"rescued")
    wait_item(rundir, m, "lost/x.txt", lambda i: i["quarantined"],
              "lost/x.txt parked")
    os.rename(m.path / "lost" / "x.txt", m.path / "x.txt")
    wait_synced(m)
    assert drive.content(drive_files(drive)["x.txt"]["id"]) == b"rescued"
    assert status(rundir, m)["queue"]["quarantined"] == 0


# ------------------------------------------------------------------ drain

@pytest.mark.parametrize("how", ["unmount", "sigterm"])
def test_drain_timeout_bounds_the_unmount_and_lists_what_is_left(
        mount_factory, drive, how):
    m = mount_factory(allow_log=FAULT_LOGS,
                      extra_args=["--drain-timeout", "2"])
    (m.path / "ok.txt").write_bytes(b"ok")
    wait_synced(m)
    drive.fault(kind="upload.*", status=503, reason="backendError")
    (m.path / "stuck.txt").write_bytes(b"never reaches Drive")
    m.expect_exit = (1,)
    if how == "sigterm":
        os.kill(m.pid, signal.SIGTERM)
        m.proc.wait(60)
    assert m.unmount(timeout=60) == 1
    log = m.log()
    assert "--drain-timeout reached: 1 changes not uploaded" in log
    assert "still queued: 'stuck.txt' (upload" in log
    assert "stuck.txt" not in drive_files(drive)


# ---------------------------------------------------------------- offline

def test_offline_reads_writes_queue_then_drain_in_order(smount, rundir,
                                                        drive):
    drive.seed("a.txt", b"cached before")
    drive.seed("d/b.txt", b"listed before")
    drive.seed("d/e/")
    m = smount(allow_log=FAULT_LOGS + [r"WARN", r"ERROR"])
    root = m.path
    assert (root / "a.txt").read_bytes() == b"cached before"
    assert sorted(os.listdir(root / "d")) == ["b.txt", "e"]
    assert os.listdir(root / "d" / "e") == []
    # Ids generated now and lost with the emulator's restart are refused
    # (400 fileIdNotUsable): the uploader takes new ones.
    (root / "warm.txt").write_bytes(b"x")
    wait_synced(m)
    drive.stop()
    # cached reads, listed metadata, new writes, a new folder, renames
    assert (root / "a.txt").read_bytes() == b"cached before"
    assert os.stat(root / "d" / "b.txt").st_size == len(b"listed before")
    assert sorted(os.listdir(root / "d")) == ["b.txt", "e"]
    os.mkdir(root / "new")
    for i in range(20):
        (root / "new" / ("n%02d.txt" % i)).write_bytes(b"offline %d" % i)
    (root / "d" / "e" / "deep.txt").write_bytes(b"deep")
    (root / "a.txt").write_bytes(b"edited offline")
    os.rename(root / "d" / "b.txt", root / "new" / "b-moved.txt")
    os.unlink(root / "warm.txt")
    st = status(rundir, m)
    poll_until(lambda: status(rundir, m)["state"] == "offline", 60,
               "state offline")
    st = status(rundir, m)
    assert st["network"]["online"] is False
    assert st["queue"]["files"] >= 20
    assert all(not i["quarantined"] for i in st["queue"]["items"])
    assert (root / "new" / "n03.txt").read_bytes() == b"offline 3"
    drive.restart()
    rc, _, err = run_status(rundir, "--sync-now", "--wait", "--timeout",
                            90, m.path, timeout=120)
    assert rc == 0, err
    have = drive_files(drive)
    for i in range(20):
        p = "new/n%02d.txt" % i
        assert drive.content(have[p]["id"]) == b"offline %d" % i
    assert drive.content(have["a.txt"]["id"]) == b"edited offline"
    assert drive.content(have["new/b-moved.txt"]["id"]) == b"listed before"
    assert drive.content(have["d/e/deep.txt"]["id"]) == b"deep"
    assert "warm.txt" not in have and "d/b.txt" not in have
    assert status(rundir, m)["state"] == "idle"


# ------------------------------------------------------------ credentials

def test_expired_and_revoked_tokens_wait_then_drain(smount, rundir, drive):
    m = smount(allow_log=FAULT_LOGS)
    (m.path / "one.txt").write_bytes(b"1")
    wait_synced(m)
    drive.expire_tokens()                     # refreshed on the 401
    (m.path / "two.txt").write_bytes(b"2")
    wait_synced(m)
    creds = drive.credentials()
    drive.revoke(creds["refresh_token"])
    drive.expire_tokens()
    (m.path / "three.txt").write_bytes(b"3")
    it, st = wait_item(rundir, m, "three.txt", lambda i: i["fails"] >= 1,
                       "three.txt failing")
    assert it["error_class"] == "auth" and not it["quarantined"]
    assert any("refused" in e["message"] or "sign in" in e["message"]
               for e in st["errors"]), st["errors"]
    assert (m.path / "three.txt").read_bytes() == b"3"
    # The same refresh token accepted again (a new sign-in).
    drive.register_client(client_id=creds["client_id"],
                          client_secret=creds["client_secret"],
                          refresh_token=creds["refresh_token"])
    rc, _, err = run_status(rundir, "--sync-now", "--wait", "--timeout",
                            60, m.path)
    assert rc == 0, err
    have = drive_files(drive)
    assert drive.content(have["three.txt"]["id"]) == b"3"


def test_generated_id_refused_takes_a_new_one(mount_factory, drive):
    # What an emulator restart does to ids generated before it.
    m = mount_factory(allow_log=FAULT_LOGS)
    drive.fault(kind="upload.multipart", status=400,
                reason="fileIdNotUsable", count=2)
    drive.fault(kind="files.create", status=400, reason="fileIdNotUsable",
                count=1)
    os.mkdir(m.path / "dir")
    (m.path / "dir" / "f.txt").write_bytes(b"fresh id")
    wait_synced(m, timeout=60)
    have = drive_files(drive)
    assert drive.content(have["dir/f.txt"]["id"]) == b"fresh id"


def test_lost_create_reply_then_edit_updates_that_file(mount_factory, drive):
    """A create reaches Drive but its reply is lost; the push fails, the
    file is edited, and the next try of the create meets 409 fileIdInUse
    with other bytes. The file with our generated id is ours: it gets the
    new bytes, and no second file appears."""
    m = mount_factory(allow_log=FAULT_LOGS)
    drive.fault(kind="upload.multipart", action="drop_after", count=1)
    drive.fault(kind="upload.multipart", status=503, reason="backendError")
    (m.path / "lost.txt").write_bytes(b"first bytes")
    poll_until(lambda: "lost.txt" in drive_files(drive), 30,
               "the first create applied in Drive")
    first_id = drive_files(drive)["lost.txt"]["id"]
    (m.path / "lost.txt").write_bytes(b"second, longer bytes")
    drive.clear_faults()
    wait_synced(m, timeout=60)
    have = drive_files(drive)
    assert have["lost.txt"]["id"] == first_id
    assert drive.content(first_id) == b"second, longer bytes"
    assert [n for n in have if "lost" in n] == ["lost.txt"], sorted(have)
    assert "had reached Drive though its reply was lost" in m.log()


# ---------------------------------------------------------- cache disk full

@pytest.fixture
def small_tmpfs(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    d = tmp_path / "tmpfs-cache"
    d.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs",
                        str(d)], stderr=subprocess.PIPE)
    if r.returncode != 0:
        pytest.skip("cannot mount a tmpfs: %s" % r.stderr.decode())
    try:
        yield d
    finally:
        subprocess.run(["umount", "-l", str(d)])


def test_cache_disk_full_is_enospc_and_loses_nothing(mount_factory, drive,
                                                     small_tmpfs):
    drive.seed("seeded.txt", b"read me later")
    m = mount_factory(cache_dir=small_tmpfs / "c", allow_log=FAULT_LOGS +
                      [r"No space left|ENOSPC|space"])
    assert (m.path / "seeded.txt").read_bytes() == b"read me later"
    rng = random.Random(SEED)
    acked = {}
    full = None
    for i in range(40):
        p = "f%02d.bin" % i
        data = blob(rng, 512 * 1024)
        try:
            with open(m.path / p, "wb") as f:
                f.write(data)
        except OSError as e:
            full = e
            break
        acked[p] = data
    assert full is not None and full.errno == 28, full   # ENOSPC
    assert acked
    # Reads keep working, of cached and of acknowledged files.
    assert (m.path / "seeded.txt").read_bytes() == b"read me later"
    for p, data in acked.items():
        assert (m.path / p).read_bytes() == data
    wait_synced(m, timeout=120)
    have = drive_files(drive)
    for p, data in acked.items():
        assert have[p]["md5Checksum"] == md5(data), p


# ------------------------------------------------------ untrusted input

HOSTILE = ["a/b", "../../../etc/passwd", "..", ".", "", "ctl\x01\x1b[31mred",
           "new\nline", "x" * 300, "\u00e9" * 200, "/", "slash/../..",
           "tab\there", "\x7f"]


def test_hostile_names_from_drive_stay_inside(mount_factory, drive,
                                              tmp_path):
    specs = [{"name": n, "parent": drive.root_id,
              "content": "content of %r" % n} for n in HOSTILE]
    specs.append({"name": "..", "parent": drive.root_id,
                  "mimeType": FOLDER_MIME})
    made = drive._ctl("POST", "seed", {"files": specs})["files"]
    before = set(os.listdir(tmp_path))
    m = mount_factory(allow_log=FAULT_LOGS)
    names = os.listdir(m.path)
    assert len(names) == len(specs), names
    for n in names:
        assert "/" not in n and n not in (".", "..", "")
        assert len(n.encode()) <= 255
        assert "\x00" not in n
    contents = set()
    for n in names:
        p = m.path / n
        if p.is_dir():
            assert os.listdir(p) == []
            continue
        contents.add(p.read_bytes())
    assert contents == {("content of %r" % n).encode() for n in HOSTILE}
    # Nothing was made outside the mount and the cache dir.
    assert set(os.listdir(tmp_path)) - before <= {"mnt0", "cache0",
                                                  "drivefs0.log"}
    for dirpath, dirs, files in os.walk(m.cache_dir):
        for f in files + dirs:
            assert "/" not in f and f not in ("..", ".")
            assert os.path.realpath(os.path.join(dirpath, f)).startswith(
                os.path.realpath(str(m.cache_dir)) + "/")
    # A write through a hostile name reaches the same Drive file.
    n = [x for x in names if x.startswith("a")][0]
    (m.path / n).write_bytes(b"edited")
    wait_synced(m)
    by_id = {f["id"]: f for f in drive.tree()}
    assert by_id[made[0]["id"]]["name"] == "a/b"
    assert drive.content(made[0]["id"]) == b"edited"
