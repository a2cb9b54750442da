"""Mount fixtures and helpers for the drivefs integration tests.

    def test_x(mount, drive):            # a fresh daemon on the emulator
        (mount.path / "a.txt").write_bytes(b"hi")
        wait_synced(mount)               # until Drive holds everything
        assert drive.content(drive_paths(drive)["a.txt"].id) == b"hi"

    def test_y(mount_factory, drive):    # options, seeds first, remounts
        drive.seed("doc.txt", b"x")
        m = mount_factory(fsync="remote", writeback_delay=30)
        ...
        m.unmount()
        m2 = mount_factory()             # fresh cache dir: read from Drive

Every daemon is started with `drivefs mount -f` on the `drive` emulator and
stopped by its own PID at teardown, even when the test failed: fusermount3 -u
(retried while busy, then -uz), wait for that PID with a deadline, SIGKILL
only that PID if it is still alive. Teardown then fails the test if the
daemon exited badly or its log holds an ERROR/WARN line or a sanitizer
report, unless the test allowed the pattern with mount.allow_log(regex) or
mount_factory(allow_log=[regex]). No sleep() is used as synchronisation:
everything waits by polling a condition with a deadline (poll_until).

Sync state comes from the daemon's control socket (ctl_file(), the
"file" request drivefs-status --file makes), never from xattrs: a mount
answers getxattr with ENOSYS unless started with --xattrs
(mount_factory(xattrs=True)).

Imported into conftest.py with `from mountlib import *`; only the names in
__all__ are exported.
"""

import errno
import fnmatch
import hashlib
import json
import os
import pathlib
import re
import shlex
import signal
import socket
import stat
import subprocess
import threading
import time

import pytest

__all__ = [
    "DRIVEFS_BIN", "SLASH", "DEFAULT_LOCAL_ONLY", "Mount", "mount",
    "mount_factory", "xmount", "poll_until", "wait_synced", "is_mounted",
    "drive_paths", "drive_files", "create_requests", "mutating_requests",
    "request_total", "assert_drive_mirrors", "local_tree", "md5_of",
    "sha256_of", "xattr", "drive_time", "is_local_only", "ctl_socket",
    "ctl_request", "ctl_file",
]

REPO = pathlib.Path(__file__).resolve().parents[2]
DRIVEFS_BIN = pathlib.Path(os.environ.get("DRIVEFS_BIN") or REPO / "bin")
SLASH = "\u2215"            # how a "/" inside a Drive name shows on the mount
FOLDER_MIME = "application/vnd.google-apps.folder"

# The daemon's built-in --local-only patterns (fs/options.c).
DEFAULT_LOCAL_ONLY = ("__pycache__/", "*.pyc", ".*.sw?", ".*.swx",
                      "*~.nfs*", ".~lock.*#")

START_DEADLINE_S = 10
EXIT_DEADLINE_S = 60        # unmount -> daemon exit (it drains its queue)
WATCHDOG_S = 270            # a hung FUSE call must not hang the whole run

# Log lines that fail a test. The daemon logs "HH:MM:SS.mmm LEVEL subsys: ".
BAD_LOG = re.compile(r"\b(ERROR|WARN|WARNING)\b|AddressSanitizer|"
                     r"LeakSanitizer|ThreadSanitizer|runtime error:|"
                     r"Invalid (read|write) of size|definitely lost: [1-9]")
BENIGN_LOG = re.compile(r"ERROR SUMMARY: 0 errors")   # valgrind's all-clear


# ---------------------------------------------------------------------------
# polling
# ---------------------------------------------------------------------------

def poll_until(pred, timeout, what, interval=0.02):
    """Call pred() until it returns a true value (returned); fail with
    `what` once `timeout` seconds have passed."""
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() > end:
            raise AssertionError("timed out after %gs waiting for %s"
                                 % (timeout, what() if callable(what)
                                    else what))
        time.sleep(interval)


def _mountinfo_points():
    out = set()
    with open("/proc/self/mountinfo", "rb") as f:
        for line in f:
            field = line.split()[4].decode("utf-8", "surrogateescape")
            out.add(re.sub(r"\\([0-7]{3})",
                           lambda m: chr(int(m.group(1), 8)), field))
    return out


def is_mounted(path):
    """True when `path` is a mount point. Reads /proc/self/mountinfo, so it
    never calls into the (possibly hung) FUSE daemon."""
    return os.path.realpath(str(path)) in _mountinfo_points()


def _mnt_path(m):
    return m.path if isinstance(m, Mount) else pathlib.Path(m)


def _fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h


def _runtime_dir(env):
    """Where drivefs puts control sockets (common/ctl_proto.c
    ctl_runtime_dir()) for a daemon started with `env`."""
    xdg = env.get("XDG_RUNTIME_DIR")
    if xdg and xdg.startswith("/"):
        return os.path.join(xdg, "drivefs")
    uid = os.geteuid()
    run = "/run/user/%d" % uid
    try:
        st = os.stat(run)
        if stat.S_ISDIR(st.st_mode) and st.st_uid == uid:
            return run + "/drivefs"
    except OSError:
        pass
    return "/tmp/drivefs-%d" % uid


def ctl_socket(m, env=None):
    """The control socket of the mount `m` (a Mount or a path): named after
    an FNV-1a hash of the mount point's real path. Resolves only the
    parent, so nothing calls into the mount."""
    path = _mnt_path(m)
    if env is None:
        env = m.env if isinstance(m, Mount) else os.environ
    real = os.path.join(os.path.realpath(str(path.parent)), path.name)
    return os.path.join(_runtime_dir(env), "%016x.sock" % _fnv1a64(
        real.encode("utf-8", "surrogateescape")))


def ctl_request(sock, req, timeout=5):
    """One request on a control socket: send `req` (a dict) as a JSON line,
    return the reply (a dict). OSError when nobody answers."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(sock))
        s.sendall(json.dumps(req).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    return json.loads(buf)


def ctl_file(m, rel="", env=None):
    """What drivefs-status --file shows for `rel` (relative to the mount
    root) as a dict; AssertionError when the daemon refuses."""
    rep = ctl_request(ctl_socket(m, env), {"cmd": "file", "path": rel})
    assert rep.get("ok") is True, "file %r: %s" % (rel, rep)
    return rep["file"]


def wait_synced(m, timeout=30, env=None):
    """Ask the daemon's control socket until no node of the mount has sync
    work left (the "file" request's mount_pending is 0, what the root's
    user.drivefs.pending xattr said): Drive then holds every write and
    namespace change made so far. `env`: the daemon's environment when `m`
    is a path (for XDG_RUNTIME_DIR)."""
    sock = ctl_socket(m, env)
    state = {"last": None}

    def synced():
        if isinstance(m, Mount) and m.proc.poll() is not None:
            raise AssertionError("drivefs exited (status %s) while waiting "
                                 "for sync; log:\n%s"
                                 % (m.proc.returncode, m.log_tail()))
        try:
            rep = ctl_request(sock, {"cmd": "file", "path": ""})
        except (OSError, ValueError) as e:
            # not there yet (the socket comes up just after the mount)
            state["last"] = "control socket %s: %s" % (sock, e)
            return False
        if rep.get("ok") is not True:
            raise AssertionError("control socket %s refused: %s"
                                 % (sock, rep))
        state["last"] = rep["file"]["mount_pending"]
        return state["last"] == 0

    def why():
        s = "mount_pending == 0 on %s (last: %r)" % (
            _mnt_path(m), state["last"])
        if isinstance(m, Mount):
            s += "; log tail:\n" + m.log_tail()
        return s
    poll_until(synced, timeout, why)


# ---------------------------------------------------------------------------
# the daemon
# ---------------------------------------------------------------------------

class Mount:
    """One `drivefs mount -f` process and its mount point."""

    def __init__(self, path, cache_dir, log_path, argv, env, allow=()):
        self.path = pathlib.Path(path)
        self.cache_dir = pathlib.Path(cache_dir)
        self.log_path = pathlib.Path(log_path)
        self.argv = list(argv)
        self.env = env
        self.allowed = [re.compile(p) for p in allow]
        self.proc = None
        self.expect_exit = (0,)        # statuses teardown accepts
        self.problems = []
        self._watchdog = None
        self._stopped = False

    # path-like: mount / "a.txt", os.fspath(mount)
    def __truediv__(self, other):
        return self.path / other

    def __fspath__(self):
        return str(self.path)

    def __repr__(self):
        return "<Mount %s pid=%s>" % (self.path, self.pid)

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def log(self):
        """The daemon's stderr so far."""
        try:
            return self.log_path.read_bytes().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, n=4000):
        return self.log()[-n:]

    def allow_log(self, pattern):
        """Let log lines matching the regex `pattern` pass teardown."""
        self.allowed.append(re.compile(pattern))

    def start(self, timeout=START_DEADLINE_S, watchdog=WATCHDOG_S):
        self.path.mkdir(parents=True, exist_ok=True)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as logf:
            self.proc = subprocess.Popen(
                self.argv, stdin=subprocess.DEVNULL, stdout=logf,
                stderr=logf, env=self.env)
        try:
            poll_until(lambda: self.proc.poll() is not None or
                       is_mounted(self.path), timeout,
                       lambda: "drivefs to mount %s; log:\n%s"
                       % (self.path, self.log_tail()))
        except AssertionError:
            self._kill()
            raise
        if self.proc.poll() is not None:
            raise AssertionError("drivefs exited with status %s before "
                                 "mounting; argv %s\nlog:\n%s"
                                 % (self.proc.returncode,
                                    shlex.join(self.argv), self.log_tail()))
        if watchdog:
            self._watchdog = threading.Timer(watchdog, self._watchdog_fire)
            self._watchdog.daemon = True
            self._watchdog.start()
        return self

    def _watchdog_fire(self):
        if self.proc.poll() is None:
            self.problems.append(
                "watchdog: the test ran over %ss with drivefs pid %d still "
                "mounted; killed it (SIGKILL) so that hung FUSE calls "
                "return ENOTCONN" % (WATCHDOG_S, self.proc.pid))
            self._kill()

    def _kill(self):
        """SIGKILL this daemon's PID only, and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass
        if is_mounted(self.path):
            subprocess.run(["fusermount3", "-uz", str(self.path)],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        # A killed daemon leaves its control socket behind (the next one
        # on this mountpoint would replace it; tests use fresh paths).
        try:
            os.unlink(ctl_socket(self, self.env if self.env is not None
                                 else os.environ))
        except (OSError, TypeError, AttributeError):
            pass

    def _fusermount_u(self, busy_deadline=5):
        """fusermount3 -u, retried while the mount is busy, then -uz.
        Returns False when it had to fall back to the lazy -uz."""
        end = time.monotonic() + busy_deadline
        last = ""
        while is_mounted(self.path):
            r = subprocess.run(["fusermount3", "-u", str(self.path)],
                               stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT)
            if r.returncode == 0:
                return True
            last = r.stdout.decode("utf-8", "replace").strip()
            if time.monotonic() > end:
                self.problems.append("fusermount3 -u %s kept failing (%s); "
                                     "used -uz" % (self.path, last))
                subprocess.run(["fusermount3", "-uz", str(self.path)],
                               stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
                return False
            time.sleep(0.05)
        return True

    def unmount(self, timeout=EXIT_DEADLINE_S):
        """Unmount and wait for the daemon to drain its queue and exit.
        Returns its exit status (-N for a signal)."""
        if self._stopped:
            return self.proc.returncode
        self._stopped = True
        if self._watchdog:
            self._watchdog.cancel()
        if self.proc.poll() is None:
            if not self._fusermount_u():
                # still referenced (an fd left open): it cannot exit yet
                timeout = min(timeout, 5)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.problems.append(
                    "drivefs pid %d did not exit within %ss of the unmount; "
                    "killed" % (self.proc.pid, timeout))
                self._kill()
        elif is_mounted(self.path):
            subprocess.run(["fusermount3", "-uz", str(self.path)],
                           stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
        return self.proc.returncode

    def bad_log_lines(self):
        out = []
        for line in self.log().splitlines():
            if not BAD_LOG.search(line) or BENIGN_LOG.search(line):
                continue
            if any(p.search(line) for p in self.allowed):
                continue
            out.append(line)
        return out

    def finish(self):
        """Teardown: stop by PID, then report everything that went wrong."""
        self.unmount()
        problems = list(self.problems)
        rc = self.proc.returncode
        if rc not in self.expect_exit:
            problems.append("drivefs exited with status %s (expected %s)"
                            % (rc, " or ".join(map(str, self.expect_exit))))
        bad = self.bad_log_lines()
        if bad:
            problems.append("unexpected log lines:\n  " + "\n  ".join(
                bad[:40]))
        if problems:
            problems.insert(0, "mount %s (argv: %s):" % (
                self.path, shlex.join(self.argv)))
            problems.append("log tail:\n" + self.log_tail())
        return problems


def _build_argv(drive, creds_file, mnt, cache_dir, writeback_delay, fsync,
                local_only, no_default_local_only, root, qps, xattrs,
                extra_args):
    exe = DRIVEFS_BIN / "drivefs"
    argv = shlex.split(os.environ.get("DRIVEFS_TEST_WRAPPER", ""))
    # --no-config: the developer's ~/.config/drivefs/config must not leak in.
    argv += [str(exe), "mount", "-f", "--no-config",
             "--credentials", str(creds_file),
             "--api-url", drive.url,
             "--token-url", drive.url + "/token",
             "--cache-dir", str(cache_dir),
             "--writeback-delay", str(writeback_delay),
             "--poll-interval", "0"]
    if qps is not None:
        argv += ["--qps", str(qps)]
    if fsync is not None:
        argv += ["--fsync", fsync]
    for g in local_only:
        argv += ["--local-only", g]
    if no_default_local_only:
        argv.append("--no-default-local-only")
    if root is not None:
        argv += ["--root", root]
    if xattrs:
        argv.append("--xattrs")
    argv += list(extra_args)
    argv.append(str(mnt))
    return argv


@pytest.fixture
def mount_factory(tmp_path, drive, creds_file):
    """mount_factory(**opts) -> a started Mount. Options: writeback_delay
    (0.2), fsync ("remote"/"local"), local_only (list of globs),
    no_default_local_only, root (path or id), cache_dir (reuse one; default
    a fresh dir), qps (1000), xattrs (--xattrs: serve user.drive.* and
    user.drivefs.*), extra_args, allow_log (regexes), env (extra
    variables). Every mount it made is stopped and checked at teardown."""
    exe = DRIVEFS_BIN / "drivefs"
    if not os.access(str(exe), os.X_OK):
        pytest.fail("no drivefs binary at %s (set DRIVEFS_BIN or run make)"
                    % exe)
    mounts = []

    def make(writeback_delay=0.2, fsync=None, local_only=(),
             no_default_local_only=False, root=None, cache_dir=None,
             qps=1000, xattrs=False, extra_args=(), allow_log=(), env=None):
        n = len(mounts)
        mnt = tmp_path / ("mnt%d" % n)
        cache = pathlib.Path(cache_dir) if cache_dir else \
            tmp_path / ("cache%d" % n)
        e = dict(os.environ)
        e.update(env or {})
        argv = _build_argv(drive, creds_file, mnt, cache, writeback_delay,
                           fsync, local_only, no_default_local_only, root,
                           qps, xattrs, extra_args)
        m = Mount(mnt, cache, tmp_path / ("drivefs%d.log" % n), argv, e,
                  allow_log)
        mounts.append(m)
        return m.start()

    try:
        yield make
    finally:
        problems = []
        for m in reversed(mounts):
            if m.proc is not None:
                problems += m.finish()
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def mount(mount_factory):
    """A fresh drivefs mount (--writeback-delay 0.2, own cache dir)."""
    return mount_factory()


@pytest.fixture
def xmount(mount_factory):
    """A fresh drivefs mount with --xattrs (tests of the xattrs)."""
    return mount_factory(xattrs=True)


# ---------------------------------------------------------------------------
# what Drive holds
# ---------------------------------------------------------------------------

def _display(name):
    return name.replace("/", SLASH)


def drive_paths(drive, tree=None, strict=True, trashed=False):
    """{path: file} for every non-trashed file and folder in Drive, paths
    relative to My Drive with "/" inside names shown as the mount shows it
    (U+2215). strict: two files on one path is an assertion failure (the
    mount promises one Drive file per path); otherwise the oldest wins.
    trashed=True maps only the trashed files instead (path → list)."""
    tree = drive.tree() if tree is None else tree
    by_id = {f["id"]: f for f in tree}
    root = drive.root_id
    paths = {}

    def path_of(f):
        names = []
        seen = 0
        while True:
            names.append(_display(f["name"]))
            parents = f.get("parents") or []
            if not parents:
                return None
            if parents[0] == root:
                return "/".join(reversed(names))
            f = by_id.get(parents[0])
            seen += 1
            if f is None or seen > 1000:
                return None

    if trashed:
        out = {}
        for f in tree:
            if f.get("trashed"):
                p = path_of(f)
                if p is not None:
                    out.setdefault(p, []).append(f)
        return out
    dups = {}
    for f in sorted(tree, key=lambda f: (f["createdTime"], f["id"])):
        if f.get("trashed"):
            continue
        p = path_of(f)
        if p is None:
            continue
        if p in paths:
            dups.setdefault(p, [paths[p]]).append(f)
            continue
        paths[p] = f
    if strict and dups:
        raise AssertionError(
            "Drive holds several non-trashed files on one path:\n" +
            "\n".join("  %s: %s" % (p, ", ".join(
                "%s (%s, md5 %s)" % (f["id"], f["createdTime"],
                                     f.get("md5Checksum")) for f in fs))
                for p, fs in sorted(dups.items())))
    return paths


def drive_files(drive, tree=None, prefix=""):
    """{path: file} of non-folder, non-trashed files under `prefix`."""
    pre = prefix.strip("/")
    return {p: f for p, f in drive_paths(drive, tree).items()
            if f["mimeType"] != FOLDER_MIME and
            (not pre or p == pre or p.startswith(pre + "/"))}


def request_total(stats):
    return stats["total"]


_MUTATING = ("files.create", "files.update", "files.delete", "files.copy",
             "files.emptyTrash")


def create_requests(stats, since=None):
    """Requests in stats["log"] that made a new Drive file: files.create,
    files.copy and POST uploads (an upload to an id is a PATCH/PUT).
    `since`: an earlier stats() snapshot whose entries are skipped."""
    log = stats["log"][len(since["log"]):] if since else stats["log"]
    out = []
    for e in log:
        k = e["kind"]
        if k in ("files.create", "files.copy"):
            out.append(e)
        elif k in ("upload.media", "upload.multipart",
                   "upload.resumable.start") and e["method"] == "POST":
            out.append(e)
    return out


def mutating_requests(stats, since=None):
    """Requests that changed Drive (creates, updates, uploads, deletes)."""
    log = stats["log"][len(since["log"]):] if since else stats["log"]
    return [e for e in log if e["kind"] in _MUTATING or
            (e["kind"].startswith("upload.") and
             e["kind"] != "upload.invalid")]


def drive_time(text):
    """Drive's RFC 3339 time ("2001-02-03T04:05:06.789Z") → epoch float."""
    import datetime
    t = datetime.datetime.strptime(text.replace("Z", "+0000"),
                                   "%Y-%m-%dT%H:%M:%S.%f%z")
    return t.timestamp()


# ---------------------------------------------------------------------------
# what the mount holds
# ---------------------------------------------------------------------------

def md5_of(path):
    h = hashlib.md5()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def xattr(path, name):
    return os.getxattr(str(path), name, follow_symlinks=False)


def is_local_only(relpath, patterns=DEFAULT_LOCAL_ONLY):
    """True when a path (relative, "/"-separated) matches a --local-only
    glob: "dir/" patterns match a directory name anywhere in the path,
    others the last component."""
    comps = relpath.split("/")
    for pat in patterns:
        if pat.endswith("/"):
            if any(fnmatch.fnmatchcase(c, pat[:-1]) for c in comps):
                return True
        elif any(fnmatch.fnmatchcase(c, pat) for c in comps[-1:]):
            return True
    return False


def local_tree(root, local_only=DEFAULT_LOCAL_ONLY):
    """{relpath: ("dir"|"file"|"link", md5-or-target)} under root, without
    following symlinks; local-only paths are returned separately."""
    root = str(root)
    out, skipped = {}, []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        rel_dir = "" if rel_dir == "." else rel_dir
        for name in list(dirnames) + filenames:
            rel = (rel_dir + "/" + name) if rel_dir else name
            full = os.path.join(dirpath, name)
            if is_local_only(rel, local_only):
                skipped.append(rel)
                if name in dirnames:
                    dirnames.remove(name)
                continue
            if os.path.islink(full):
                out[rel] = ("link", os.readlink(full))
                if name in dirnames:
                    dirnames.remove(name)
            elif os.path.isdir(full):
                out[rel] = ("dir", None)
            else:
                out[rel] = ("file", md5_of(full))
    return out, skipped


def assert_drive_mirrors(mount, drive, sub="",
                         local_only=DEFAULT_LOCAL_ONLY):
    """Drive holds exactly one non-trashed file per path under `sub` with
    the mount's bytes: the same set of paths (folders as folders, files
    with equal md5Checksum, symlinks as files), and no local-only path."""
    base = _mnt_path(mount) / sub if sub else _mnt_path(mount)
    local, skipped = local_tree(base, local_only)
    pre = sub.strip("/")
    remote = {}
    for p, f in drive_paths(drive).items():
        if pre:
            if not p.startswith(pre + "/"):
                continue
            p = p[len(pre) + 1:]
        remote[p] = f
    leaked = sorted(p for p in remote if is_local_only(p, local_only))
    assert not leaked, "local-only paths reached Drive: %s" % leaked[:20]
    missing = sorted(set(local) - set(remote))
    extra = sorted(set(remote) - set(local))
    assert not missing and not extra, (
        "Drive and mount differ under %r:\n  only on the mount (%d): %s\n"
        "  only in Drive (%d): %s" % (sub, len(missing), missing[:30],
                                     len(extra), extra[:30]))
    wrong = []
    for p, (kind, val) in sorted(local.items()):
        f = remote[p]
        is_folder = f["mimeType"] == FOLDER_MIME
        if kind == "dir":
            if not is_folder:
                wrong.append("%s: a directory on the mount, %s in Drive"
                             % (p, f["mimeType"]))
        elif is_folder:
            wrong.append("%s: a %s on the mount, a folder in Drive"
                         % (p, kind))
        elif kind == "file" and f.get("md5Checksum") != val:
            wrong.append("%s: md5 %s on the mount, %s in Drive (id %s)"
                         % (p, val, f.get("md5Checksum"), f["id"]))
    assert not wrong, "Drive content differs from the mount:\n  " + \
        "\n  ".join(wrong[:30])
    return local, skipped
