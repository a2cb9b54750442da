#!/usr/bin/env python3
"""fakedrive: a Google Drive v3 REST API emulator for drivefs tests.

    python3 tests/fakedrive/fakedrive.py --port PORT [--host 127.0.0.1]
        [--data DIR] [--latency-ms N] [--bandwidth BYTES_PER_S]
        [--token-lifetime S] [--qps N] [--quota BYTES] [--verbose]

Prints exactly one line, "fakedrive listening on http://HOST:PORT", once it
accepts connections. Python 3 standard library only.

Serves, at Google's paths:
  /token, /o/oauth2/v2/auth, /revoke              OAuth 2 (oauth2.googleapis.com)
  /drive/v3/...                                    Drive v3 metadata API
  /upload/drive/v3/files[/ID]                      media, multipart, resumable
  /download/drive/v3/files/ID?alt=media            download alias
  /__control/...                                   test control API (README.md)

Module map: fd_store (Drive state), fd_query (q language), fd_fields (fields
selector + schema), fd_auth (RSA/JWT), fd_errors (Google error bodies).
"""

import argparse
import base64
import fnmatch
import hashlib
import json
import mmap
import os
import random
import re
import secrets
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback
from collections import OrderedDict, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fd_auth as A  # noqa: E402
import fd_errors as E  # noqa: E402
import fd_fields as F  # noqa: E402
import fd_query as Q  # noqa: E402
import fd_store as S  # noqa: E402

SCOPE = "https://www.googleapis.com/auth/"
DRIVE_SCOPE = SCOPE + "drive"
READ_SCOPES = {SCOPE + s for s in (
    "drive", "drive.readonly", "drive.file", "drive.appdata",
    "drive.metadata", "drive.metadata.readonly", "drive.photos.readonly",
    "drive.meet.readonly")}
CONTENT_SCOPES = {SCOPE + s for s in (
    "drive", "drive.readonly", "drive.file", "drive.appdata",
    "drive.photos.readonly", "drive.meet.readonly")}
WRITE_SCOPES = {SCOPE + s for s in ("drive", "drive.file", "drive.appdata")}
META_WRITE_SCOPES = WRITE_SCOPES | {SCOPE + "drive.metadata"}

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
ACCEPTED_AUDIENCES = {GOOGLE_TOKEN_URL,
                      "https://www.googleapis.com/oauth2/v4/token",
                      "https://accounts.google.com/o/oauth2/token"}
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"

DEFAULT_CLIENT_ID = "fakedrive-client-id.apps.googleusercontent.com"
DEFAULT_CLIENT_SECRET = "fakedrive-client-secret"
DEFAULT_REFRESH_TOKEN = "fakedrive-refresh-token"
DEFAULT_USER = "user@example.com"
OTHER_USER = "other@example.com"

CHUNK_GRANULARITY = 256 * 1024
IO_CHUNK = 1 << 20
MAX_JSON_BODY = 64 << 20
LOG_LIMIT = 10000

KIND_SCOPES = {
    "about.get": READ_SCOPES, "files.list": READ_SCOPES,
    "files.get": READ_SCOPES, "changes.getStartPageToken": READ_SCOPES,
    "changes.list": READ_SCOPES, "files.get.media": CONTENT_SCOPES,
    "files.export": CONTENT_SCOPES, "files.update": META_WRITE_SCOPES,
}

CONFIG_KEYS = {"latency_ms", "bandwidth", "qps", "token_lifetime",
               "quota_limit", "upload_session_lifetime"}

FAULT_ACTIONS = {"error", "drop", "drop_after", "drop_mid_body",
                 "truncate_body", "malformed_json", "delay"}


class ClientGone(Exception):
    """The client connection broke (or a fault cut it)."""


class NoResponse(Exception):
    """The handler chose to close the connection without replying."""


class Handled(Exception):
    """The response was already sent (by a fault); skip the handler."""


def log(msg):
    sys.stderr.write("fakedrive: %s\n" % msg)
    sys.stderr.flush()


def redact_query(query):
    return {k: ("<redacted>" if k in ("access_token", "oauth_token",
                                      "token", "code") else v)
            for k, v in query.items()}


def parse_bool(query, name, default=False):
    if name not in query:
        return default
    v = query[name].lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise E.invalid_value(name)


def parse_int(query, name, default, lo, hi, coerce_high=False):
    if name not in query:
        return default
    try:
        v = int(query[name])
    except ValueError:
        raise E.invalid_value(name)
    if v > hi and coerce_high:
        return hi
    if v < lo or v > hi:
        raise E.invalid_value(name)
    return v


# --------------------------------------------------------------- utilities

class Throttle:
    """A shared link of `rate` bytes/s: callers sleep until their bytes
    would have been transmitted."""

    def __init__(self):
        self.lock = threading.Lock()
        self.next_free = 0.0

    def consume(self, n, rate):
        if not rate or n <= 0:
            return
        with self.lock:
            now = time.monotonic()
            start = max(now, self.next_free)
            self.next_free = start + n / float(rate)
            wait = self.next_free - now
        if wait > 0:
            time.sleep(wait)


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.requests = {}
            self.total = 0
            self.bytes_up = 0
            self.bytes_down = 0
            self.log = deque(maxlen=LOG_LIMIT)

    def record(self, kind, method, path, query, status):
        with self.lock:
            self.requests[kind] = self.requests.get(kind, 0) + 1
            self.total += 1
            self.log.append({"kind": kind, "method": method, "path": path,
                             "query": redact_query(query),
                             "status": status})

    def add(self, up=0, down=0):
        with self.lock:
            self.bytes_up += up
            self.bytes_down += down

    def snapshot(self):
        with self.lock:
            return {"requests": dict(self.requests), "total": self.total,
                    "bytes_up": self.bytes_up, "bytes_down": self.bytes_down,
                    "log": list(self.log)}


class Faults:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules = []

    def add(self, rules):
        clean = []
        for r in rules:
            if not isinstance(r, dict):
                raise E.bad_request("each rule must be an object")
            r = dict(r)
            r.setdefault("kind", "*")
            r.setdefault("action", "error")
            if r["action"] not in FAULT_ACTIONS:
                raise E.bad_request("unknown action %r" % r["action"])
            r.setdefault("status", 503)
            r.setdefault("reason", "backendError")
            if "count" in r:
                r["count"] = int(r["count"])
            clean.append(r)
        with self.lock:
            self.rules.extend(clean)

    def clear(self):
        with self.lock:
            self.rules = []

    def list(self):
        with self.lock:
            return [dict(r) for r in self.rules]

    def match(self, kind, target):
        with self.lock:
            for r in list(self.rules):
                if r["kind"] != "*" and not fnmatch.fnmatchcase(kind,
                                                                r["kind"]):
                    continue
                if r.get("path_contains") and r["path_contains"] not in \
                        target:
                    continue
                if "count" in r:
                    if r["count"] <= 0:
                        continue
                    r["count"] -= 1
                    if r["count"] <= 0:
                        self.rules.remove(r)
                    return dict(r)
                if "probability" in r:
                    if random.random() < float(r["probability"]):
                        return dict(r)
                    continue
                return dict(r)
        return None


class RateLimiter:
    """Per-user queries per second (sliding one-second window)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.windows = {}

    def allow(self, user, qps):
        if not qps:
            return True
        now = time.monotonic()
        with self.lock:
            win = self.windows.setdefault(user, deque())
            while win and now - win[0] >= 1.0:
                win.popleft()
            if len(win) >= qps:
                return False
            win.append(now)
            return True


# -------------------------------------------------------------- auth state

class AuthState:
    def __init__(self, store):
        self.store = store
        self.clients = {}       # client_id -> {"client_secret"}
        self.refresh = {}       # refresh token -> {client_id,user,scope,revoked}
        self.access = {}        # access token -> {user, scope, exp, client_id}
        self.sas = {}           # client_email -> {"n", "e"}
        self.codes = {}         # authorization codes (not persisted)
        self.add_client(DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET,
                        DEFAULT_REFRESH_TOKEN, DEFAULT_USER, DRIVE_SCOPE)

    def add_client(self, client_id=None, client_secret=None,
                   refresh_token=None, user=None, scope=None):
        client_id = client_id or ("fakedrive-%s.apps.googleusercontent.com"
                                  % secrets.token_hex(6))
        client_secret = client_secret or secrets.token_urlsafe(18)
        refresh_token = refresh_token or ("1//" + secrets.token_urlsafe(40))
        user = user or DEFAULT_USER
        self.store.add_user(user)
        self.clients[client_id] = {"client_secret": client_secret}
        self.refresh[refresh_token] = {"client_id": client_id, "user": user,
                                       "scope": scope or DRIVE_SCOPE,
                                       "revoked": False}
        return {"type": "authorized_user", "client_id": client_id,
                "client_secret": client_secret,
                "refresh_token": refresh_token, "account": "",
                "universe_domain": "googleapis.com"}

    def issue(self, user, scope, client_id, lifetime):
        token = "ya29.fake-" + secrets.token_urlsafe(48)
        self.access[token] = {"user": user, "scope": scope,
                              "client_id": client_id,
                              "exp": time.time() + lifetime}
        # forget long-expired tokens
        if len(self.access) > 5000:
            now = time.time()
            for t in [t for t, v in self.access.items()
                      if v["exp"] < now - 3600]:
                del self.access[t]
        return token

    def check(self, token):
        info = self.access.get(token)
        if info is None or info["exp"] <= time.time():
            return None
        return info

    def expire_all(self):
        now = time.time()
        for info in self.access.values():
            info["exp"] = min(info["exp"], now - 1)

    def to_json(self):
        return {"clients": self.clients, "refresh": self.refresh,
                "access": self.access,
                "sas": {k: {"n": str(v["n"]), "e": v["e"]}
                        for k, v in self.sas.items()}}

    def from_json(self, data):
        self.clients.update(data.get("clients", {}))
        self.refresh.update(data.get("refresh", {}))
        self.access.update(data.get("access", {}))
        for k, v in data.get("sas", {}).items():
            self.sas[k] = {"n": int(v["n"]), "e": v["e"]}


# ------------------------------------------------------------------ server

class FakeDriveServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, addr, args, data_dir, persist):
        if ":" in addr[0]:
            self.address_family = socket.AF_INET6
        super().__init__(addr, Handler)
        self.args = args
        self.verbose = args.verbose
        self.data_dir = data_dir
        self.persist = persist
        self.upload_dir = os.path.join(data_dir, "uploads")
        os.makedirs(self.upload_dir, exist_ok=True)
        self.store = S.Store(data_dir)
        self.auth = AuthState(self.store)
        self.stats = Stats()
        self.faults = Faults()
        self.limiter = RateLimiter()
        self.throttle_up = Throttle()
        self.throttle_down = Throttle()
        self.sessions = {}
        self.hashers = {}
        self.snapshots = OrderedDict()
        self.config = self.default_config()
        self.store.quota_limit = self.config["quota_limit"]
        host, port = self.server_address[:2]
        shown = "[%s]" % host if ":" in host else host
        self.url = "http://%s:%d" % (shown, port)
        self.state_path = os.path.join(data_dir, "state.json")
        if persist and os.path.exists(self.state_path):
            self.load()

    def default_config(self):
        a = self.args
        return {"latency_ms": a.latency_ms, "bandwidth": a.bandwidth,
                "qps": a.qps, "token_lifetime": a.token_lifetime,
                "quota_limit": a.quota, "upload_session_lifetime": 7 * 86400}

    # persistence -------------------------------------------------------

    def load(self):
        with open(self.state_path) as f:
            data = json.load(f)
        self.store.from_json(data["store"])
        self.auth.from_json(data.get("auth", {}))
        self.sessions = data.get("sessions", {})
        self.config.update(data.get("config", {}))
        self.store.quota_limit = self.config["quota_limit"]

    def save(self):
        if not self.persist:
            return
        with self.store.lock:
            if not self.store.dirty:
                return
            data = json.dumps({"store": self.store.to_json(),
                               "auth": self.auth.to_json(),
                               "sessions": self.sessions,
                               "config": self.config})
            self.store.dirty = False
        tmp = self.state_path + ".tmp"
        with open(tmp, "w") as f:
            f.write(data)
        os.replace(tmp, self.state_path)

    def mark_dirty(self):
        self.store.dirty = True

    # list snapshots (stable paging) -----------------------------------

    def new_snapshot(self, ids, query_key):
        key = secrets.token_urlsafe(9)
        with self.store.lock:
            self.snapshots[key] = {"ids": ids, "q": query_key}
            while len(self.snapshots) > 256:
                self.snapshots.popitem(last=False)
        return key

    @staticmethod
    def page_token(key, offset):
        return base64.urlsafe_b64encode(
            ("%s:%d" % (key, offset)).encode()).decode().rstrip("=")

    def read_page_token(self, token):
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            key, offset = raw.decode().rsplit(":", 1)
            snap = self.snapshots[key]
            self.snapshots.move_to_end(key)
            return key, snap, int(offset)
        except Exception:
            raise E.invalid_value("pageToken")


class BodyReader:
    """The request body: Content-Length or chunked; sends 100 Continue on
    first read when the client asked for it."""

    def __init__(self, h):
        self.h = h
        te = h.headers.get("Transfer-Encoding", "")
        self.chunked = "chunked" in te.lower()
        self.count = 0
        self.chunk_left = 0
        self.cut_at = None
        self.broken = False
        self.expect = h.headers.get("Expect", "").lower() == "100-continue"
        self.continued = False
        if self.chunked:
            self.length = None
        else:
            cl = h.headers.get("Content-Length")
            try:
                self.length = int(cl) if cl else 0
            except ValueError:
                self.length = 0
                self.bad_length = True
        self.remaining = self.length
        self.done = self.length == 0

    def _continue(self):
        if self.expect and not self.continued:
            self.continued = True
            try:
                self.h.wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            except OSError:
                raise ClientGone()

    def _raw(self, n):
        try:
            return self.h.rfile.read(n)
        except (OSError, ValueError):
            return b""

    def read(self, n=IO_CHUNK):
        if self.done:
            return b""
        if self.broken:
            raise ClientGone()
        self._continue()
        if self.cut_at is not None:
            n = min(n, self.cut_at - self.count)
            if n <= 0:
                self.broken = True
                raise ClientGone()
        if not self.chunked:
            want = min(n, self.remaining)
            data = self._raw(want)
            self.remaining -= len(data)
            if len(data) < want:
                self.broken = True
            elif self.remaining == 0:
                self.done = True
        else:
            if self.chunk_left == 0:
                line = self.h.rfile.readline(65537)
                if not line:
                    self.broken = True
                    raise ClientGone()
                try:
                    size = int(line.split(b";")[0].strip(), 16)
                except ValueError:
                    self.broken = True
                    raise ClientGone()
                if size == 0:
                    while True:
                        t = self.h.rfile.readline(65537)
                        if t in (b"\r\n", b"\n", b""):
                            break
                    self.done = True
                    return b""
                self.chunk_left = size
            want = min(n, self.chunk_left)
            data = self._raw(want)
            self.chunk_left -= len(data)
            if len(data) < want:
                self.broken = True
            elif self.chunk_left == 0:
                self.h.rfile.readline(3)
        self.count += len(data)
        if data:
            self.h.server.stats.add(up=len(data))
            self.h.server.throttle_up.consume(
                len(data), self.h.server.config["bandwidth"])
        if self.cut_at is not None and self.count >= self.cut_at and \
                not self.done:
            self.broken = True
        if not data and self.broken:
            raise ClientGone()
        return data

    def read_all(self, limit=MAX_JSON_BODY):
        parts = []
        size = 0
        while True:
            d = self.read()
            if not d:
                if self.broken:
                    raise ClientGone()
                return b"".join(parts)
            size += len(d)
            if size > limit:
                raise E.ApiError(413, "uploadTooLarge",
                                 "The request body is too large.")
            parts.append(d)

    def drain_small(self):
        """Discard a small unread body so the connection can be reused."""
        if self.done:
            return True
        if self.broken or (self.expect and not self.continued):
            return False
        if self.length is not None and self.remaining > IO_CHUNK:
            return False
        try:
            while self.read():
                pass
        except ClientGone:
            return False
        return self.done


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    sys_version = ""
    timeout = 300

    def version_string(self):
        return "ESF"

    def handle_expect_100(self):
        # Deferred: BodyReader sends "100 Continue" when the body is read,
        # so a request refused early (401, 404) never invites the body.
        return True

    def log_message(self, fmt, *args):
        pass

    def log_error(self, fmt, *args):
        if self.server.verbose:
            log(fmt % args)

    # ------------------------------------------------------------ dispatch

    def do_GET(self):
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def dispatch(self):
        srv = self.server
        self.t0 = time.time()
        self.status = None
        self.resp_fault = None
        self.user = None
        self.token_info = None
        self.headers_done = False
        parts = urlsplit(self.path)
        self.req_path = unquote(parts.path)
        self.q = {}
        for k, v in parse_qsl(parts.query, keep_blank_values=True):
            self.q.setdefault(k, v)
        self.raw_query = parts.query
        self.body = BodyReader(self)
        kind, fn, args = self.route()
        self.kind = kind
        control = kind == "control"
        try:
            try:
                if getattr(self.body, "bad_length", False):
                    raise E.bad_request("Invalid Content-Length")
                if not control:
                    self.pre_request(kind)
                fn(*args)
            except E.ApiError as e:
                self.send_api_error(e)
        except Handled:
            pass
        except (ClientGone, NoResponse):
            self.close_connection = True
        except (ConnectionError, BrokenPipeError, socket.timeout):
            self.close_connection = True
        except Exception:
            log("internal error handling %s %s:\n%s" % (
                self.command, self.req_path, traceback.format_exc()))
            if not self.headers_done:
                try:
                    self.send_api_error(E.ApiError(
                        500, "internalError", "Internal Error"))
                except Exception:
                    pass
            self.close_connection = True
        finally:
            if not self.close_connection and not self.body.drain_small():
                self.close_connection = True
            if not control:
                srv.stats.record(kind, self.command, self.req_path, self.q,
                                 self.status)
            if srv.verbose:
                log("%s %s?%s -> %s [%s] %.1fms" % (
                    self.command, self.req_path,
                    urlencode(redact_query(self.q)), self.status, kind,
                    (time.time() - self.t0) * 1000))

    def route(self):
        m, p, q = self.command, self.req_path, self.q
        if p.startswith("/__control/"):
            return "control", self.h_control, ()
        if p in ("/token", "/oauth2/v4/token"):
            return "oauth.token", self.only(m, "POST", self.h_token), ()
        if p in ("/o/oauth2/v2/auth", "/o/oauth2/auth"):
            return "oauth.authorize", self.only(m, "GET", self.h_authorize), ()
        if p in ("/revoke", "/o/oauth2/revoke"):
            return "oauth.revoke", self.h_revoke, ()
        mu = re.match(r"^/(resumable/)?upload/drive/v3/files(?:/([^/]+))?$",
                      p)
        if mu:
            fid = mu.group(2)
            if "upload_id" in q:
                if m == "DELETE":
                    return "upload.resumable.cancel", self.h_upload_chunk, \
                        (fid,)
                return "upload.resumable.chunk", self.only(
                    m, ("PUT", "POST"), self.h_upload_chunk), (fid,)
            ok = (m == "POST" and fid is None) or \
                (m in ("PATCH", "PUT") and fid is not None)
            ut = q.get("uploadType") or ("resumable" if mu.group(1) else "")
            kinds = {"media": "upload.media", "multipart": "upload.multipart",
                     "resumable": "upload.resumable.start"}
            if not ok:
                return "unknown", self.h_not_found, ()
            if ut not in kinds:
                return "upload.invalid", self.h_bad_upload_type, ()
            fn = self.h_upload_resumable_start if ut == "resumable" else \
                self.h_upload_simple
            return kinds[ut], fn, (fid, ut)
        md = re.match(r"^/download/drive/v3/files/([^/]+)$", p)
        if md and m == "GET":
            return "files.get.media", self.h_media, (md.group(1),)
        if not p.startswith("/drive/v3/"):
            return "unknown", self.h_not_found, ()
        rest = p[len("/drive/v3/"):]
        if rest == "about" and m == "GET":
            return "about.get", self.h_about, ()
        if rest == "files":
            if m == "GET":
                return "files.list", self.h_files_list, ()
            if m == "POST":
                return "files.create", self.h_files_create, ()
        if rest == "files/generateIds" and m == "GET":
            return "files.generateIds", self.h_generate_ids, ()
        if rest == "files/trash" and m == "DELETE":
            return "files.emptyTrash", self.h_empty_trash, ()
        if rest == "changes/startPageToken" and m == "GET":
            return "changes.getStartPageToken", self.h_start_page_token, ()
        if rest == "changes" and m == "GET":
            return "changes.list", self.h_changes_list, ()
        mf = re.match(r"^files/([^/]+)(/copy|/export)?$", rest)
        if mf:
            fid, sub = mf.group(1), mf.group(2)
            if sub is None:
                if m == "GET":
                    if q.get("alt") == "media":
                        return "files.get.media", self.h_media, (fid,)
                    return "files.get", self.h_files_get, (fid,)
                if m == "PATCH":
                    return "files.update", self.h_files_update, (fid,)
                if m == "DELETE":
                    return "files.delete", self.h_files_delete, (fid,)
            elif sub == "/copy" and m == "POST":
                return "files.copy", self.h_files_copy, (fid,)
            elif sub == "/export" and m == "GET":
                return "files.export", self.h_export, (fid,)
        return "unknown", self.h_not_found, ()

    def only(self, method, allowed, fn):
        allowed = (allowed,) if isinstance(allowed, str) else allowed
        return fn if method in allowed else self.h_not_found

    def pre_request(self, kind):
        """Latency, faults, authentication and per-user rate limit."""
        srv = self.server
        if srv.config["latency_ms"]:
            time.sleep(srv.config["latency_ms"] / 1000.0)
        rule = srv.faults.match(kind, self.path)
        if rule:
            self.apply_fault(rule)
        if kind.startswith("oauth.") or kind in ("unknown", "upload.invalid"):
            return
        self.authenticate(kind)
        if not srv.limiter.allow(self.token_info["user"], srv.config["qps"]):
            raise E.user_rate_limit()

    def authenticate(self, kind):
        h = self.headers.get("Authorization")
        token = None
        if h:
            parts = h.split(None, 1)
            if len(parts) != 2 or parts[0].lower() != "bearer":
                raise E.auth_invalid()
            token = parts[1].strip()
        else:
            token = self.q.get("access_token") or self.q.get("oauth_token")
        if not token:
            raise E.auth_missing()
        with self.server.store.lock:
            info = self.server.auth.check(token)
        if info is None:
            raise E.auth_invalid()
        scopes = set(info["scope"].split())
        need = KIND_SCOPES.get(kind, WRITE_SCOPES)
        if not scopes & need:
            raise E.insufficient_scopes()
        self.token_info = info
        self.user = info["user"]

    # ---------------------------------------------------------------- faults

    def apply_fault(self, rule):
        action = rule["action"]
        if action == "delay":
            time.sleep(float(rule.get("delay_ms", 1000)) / 1000.0)
            return
        if action == "error":
            headers = {}
            if rule.get("retry_after") is not None:
                headers["Retry-After"] = str(rule["retry_after"])
            err = E.fault_error(int(rule["status"]), rule["reason"],
                                rule.get("message"))
            err.headers.update(headers)
            raise err
        if action == "drop":
            raise NoResponse()
        if action == "drop_after":
            self.resp_fault = ("drop", None)
            return
        if action == "malformed_json":
            if not self.body.drain_small():
                self.close_connection = True
            body = b'{"kind": "drive#fileList", "files": [{"id": "1abc", '
            self.send_raw(200, [("Content-Type",
                                 "application/json; charset=UTF-8")], body)
            raise Handled()
        nbytes = rule.get("bytes")
        if action == "drop_mid_body":
            if self.body.length or self.body.chunked:
                total = self.body.length
                self.body.cut_at = int(nbytes) if nbytes is not None else \
                    (total // 2 if total else CHUNK_GRANULARITY // 2)
            else:
                self.resp_fault = ("mid", nbytes)
            return
        if action == "truncate_body":
            self.resp_fault = ("truncate", nbytes)
            return

    # -------------------------------------------------------------- replies

    def send_raw(self, status, headers, body=b"", file=None, offset=0,
                 count=0):
        """Send a response with Content-Length, honouring response faults and
        the bandwidth limit."""
        self.status = status
        fault = self.resp_fault
        if fault and fault[0] == "drop":
            raise NoResponse()
        length = len(body) if file is None else count
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        if status not in (204, 304) and status >= 200:
            self.send_header("Content-Length", str(length))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.headers_done = True
        cut = None
        if fault:
            cut = min(int(fault[1]) if fault[1] is not None else length // 2,
                      length)
        limit = length if cut is None else cut
        srv = self.server
        rate = srv.config["bandwidth"]
        sent = 0
        try:
            if file is not None:
                if not rate and cut is None:
                    sent = self.connection.sendfile(file, offset, count)
                else:
                    file.seek(offset)
                    step = IO_CHUNK if not rate else max(4096, min(
                        IO_CHUNK, rate // 20))
                    while sent < limit:
                        buf = file.read(min(step, limit - sent))
                        if not buf:
                            break
                        srv.throttle_down.consume(len(buf), rate)
                        self.wfile.write(buf)
                        sent += len(buf)
            elif limit:
                step = IO_CHUNK if not rate else max(4096, min(IO_CHUNK,
                                                               rate // 20))
                view = memoryview(body)[:limit]
                while sent < limit:
                    buf = view[sent:sent + step]
                    srv.throttle_down.consume(len(buf), rate)
                    self.wfile.write(buf)
                    sent += len(buf)
        except (OSError, ValueError):
            srv.stats.add(down=sent)
            raise ClientGone()
        srv.stats.add(down=sent)
        if cut is not None:
            if fault[0] == "mid":
                try:
                    self.connection.setsockopt(
                        socket.SOL_SOCKET, socket.SO_LINGER,
                        struct.pack("ii", 1, 0))
                except OSError:
                    pass
            raise NoResponse()

    def send_json(self, status, obj, headers=()):
        pretty = self.q.get("prettyPrint", "true").lower() != "false"
        data = json.dumps(obj, indent=1 if pretty else None,
                          ensure_ascii=False).encode("utf-8")
        if pretty:
            data += b"\n"
        self.send_raw(status, [("Content-Type",
                                "application/json; charset=UTF-8"),
                               ("Vary", "Origin, X-Origin, Referer")]
                      + list(headers), data)

    def send_api_error(self, e):
        if self.headers_done:
            raise ClientGone()
        if not self.body.done and not self.body.drain_small():
            self.close_connection = True
        self.send_json(e.code, e.body(), list(e.headers.items()))

    def send_empty(self, status, headers=()):
        self.send_raw(status, list(headers))

    # ------------------------------------------------------------- helpers

    def fields(self, schema, default):
        text = self.q.get("fields")
        if text is None or text.strip() == "":
            return default
        return F.parse_and_validate(text, schema)

    def me(self):
        return self.user

    def send_file(self, rec, tree, status=200):
        store = self.server.store
        with store.lock:
            data = store.render(rec, self.me())
        self.send_json(status, F.apply(tree, data))

    def read_json(self):
        raw = self.body.read_all()
        if not raw.strip():
            return {}
        try:
            obj = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as ex:
            raise E.parse_error(str(ex))
        if not isinstance(obj, dict):
            raise E.parse_error("Expected a JSON object.")
        return obj

    def list_param(self, name):
        return [p.strip() for p in self.q.get(name, "").split(",")
                if p.strip()]

    def media_type(self, value):
        return (value or "").split(";")[0].strip().lower() or None

    # ------------------------------------------------------------ handlers

    def h_not_found(self):
        raise E.ApiError(404, "notFound", "Not Found")

    def h_bad_upload_type(self):
        raise E.ApiError(400, "badRequest",
                         "Invalid upload request: uploadType must be one of "
                         "media, multipart or resumable.",
                         location="uploadType")

    def h_about(self):
        # Reference: about.get "Required: The fields parameter must be set."
        if not self.q.get("fields", "").strip():
            raise E.ApiError(400, "required",
                             "The 'fields' parameter is required for this "
                             "method.", location="fields")
        tree = self.fields(F.ABOUT, None)
        store = self.server.store
        with store.lock:
            used, trash = store.usage()
            user = store.user_obj(self.me(), self.me())
        about = {
            "kind": "drive#about", "user": user,
            "storageQuota": {"limit": str(store.quota_limit),
                             "usage": str(used), "usageInDrive": str(used),
                             "usageInDriveTrash": str(trash)},
            "importFormats": {"text/plain": [S.DOCUMENT],
                              "text/csv": [S.SPREADSHEET]},
            "exportFormats": S.EXPORT_FORMATS,
            "maxImportSizes": {S.DOCUMENT: "10485760",
                               S.SPREADSHEET: "104857600"},
            "maxUploadSize": "5497558138880",
            "appInstalled": False,
            "folderColorPalette": ["#ac725e", "#d06b64", "#f83a22",
                                   "#fa573c", "#8f8f8f"],
            "teamDriveThemes": [], "driveThemes": [],
            "canCreateTeamDrives": True, "canCreateDrives": True,
        }
        self.send_json(200, F.apply(tree, about))

    ORDER_KEYS = {"createdTime", "folder", "modifiedByMeTime", "modifiedTime",
                  "name", "name_natural", "quotaBytesUsed", "recency",
                  "sharedWithMeTime", "starred", "viewedByMeTime"}

    def parse_order(self):
        text = self.q.get("orderBy", "")
        keys = []
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            words = item.split()
            if words[0] not in self.ORDER_KEYS or len(words) > 2 or (
                    len(words) == 2 and words[1].lower() not in ("desc",
                                                                 "asc")):
                raise E.invalid_value("orderBy")
            keys.append((words[0], len(words) == 2 and
                         words[1].lower() == "desc"))
        return keys

    @staticmethod
    def _natural(name):
        return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower())
                for t in re.findall(r"\d+|\D+", name)]

    def sort_records(self, recs, order):
        def key_of(k):
            if k == "folder":
                return lambda r: 0 if r["mimeType"] == S.FOLDER else 1
            if k == "name":
                return lambda r: (r["name"].lower(), r["name"])
            if k == "name_natural":
                return lambda r: self._natural(r["name"])
            if k == "quotaBytesUsed":
                return lambda r: r.get("size") or 0
            if k == "starred":
                return lambda r: bool(r.get("starred"))
            if k == "recency":
                return lambda r: max(r.get("modifiedTime") or 0,
                                     r.get("viewedByMeTime") or 0,
                                     r.get("createdTime") or 0)
            if k == "sharedWithMeTime":
                return lambda r: 0
            return lambda r: r.get(k) or 0
        recs.sort(key=lambda r: r["id"])
        if not order:
            recs.sort(key=lambda r: r["modifiedTime"], reverse=True)
        for k, desc in reversed(order):
            recs.sort(key=key_of(k), reverse=desc)
        return recs

    def h_files_list(self):
        srv, store = self.server, self.server.store
        tree = self.fields(F.FILE_LIST, F.DEFAULT_FILE_LIST)
        page_size = parse_int(self.q, "pageSize", 100, 1, 1000,
                              coerce_high=True)
        order = self.parse_order()
        for s in self.list_param("spaces"):
            if s not in ("drive", "appDataFolder", "photos"):
                raise E.invalid_value("spaces")
        corpora = self.q.get("corpora")
        if corpora and any(c not in ("user", "domain", "drive", "allDrives")
                           for c in corpora.split(",")):
            raise E.invalid_value("corpora")
        if corpora == "drive" and not self.q.get("driveId"):
            raise E.ApiError(400, "badRequest",
                             "The driveId parameter must be specified if and "
                             "only if corpora is set to drive.",
                             location="driveId")
        for b in ("supportsAllDrives", "includeItemsFromAllDrives",
                  "supportsTeamDrives", "includeTeamDriveItems"):
            parse_bool(self.q, b)
        qtext = self.q.get("q", "").strip()
        ast = Q.parse(qtext) if qtext else None
        if ast is not None and order and Q.uses_full_text(ast):
            raise E.ApiError(400, "badRequest",
                             "Sorting is not supported for queries with "
                             "fullText terms. Results are always in "
                             "descending relevance order.",
                             location="orderBy")
        me = self.me()

        class Ctx:
            root_id = store.root_id

        ctx = Ctx()
        ctx.me = me
        ctx.trashed = store.is_trashed
        ctx.owner = lambda r: r["owner"]
        ctx.full_text = store.full_text
        pred = Q.compile_query(ast, ctx) if ast is not None else \
            (lambda r: True)
        only_app_data = self.list_param("spaces") == ["appDataFolder"]
        with store.lock:
            key = None
            if "pageToken" in self.q:
                key, snap, offset = srv.read_page_token(self.q["pageToken"])
                ids = snap["ids"]
            else:
                offset = 0
                if only_app_data:
                    cands = []
                else:
                    pid = Q.parent_constraint(ast, store.root_id) \
                        if ast is not None else None
                    if pid is not None:
                        cands = [store.files[c] for c in
                                 store.children.get(pid, ())
                                 if c in store.files]
                    else:
                        cands = [r for r in store.files.values()
                                 if not r.get("root")]
                recs = self.sort_records([r for r in cands if pred(r)], order)
                ids = [r["id"] for r in recs]
            page_ids = ids[offset:offset + page_size]
            out = []
            for fid in page_ids:
                rec = store.files.get(fid)
                if rec is not None and pred(rec):
                    out.append(store.render(rec, me))
            result = {"kind": "drive#fileList", "incompleteSearch": False}
            if offset + page_size < len(ids):
                if key is None:
                    key = srv.new_snapshot(ids, qtext)
                result["nextPageToken"] = srv.page_token(key,
                                                         offset + page_size)
            result["files"] = out
        self.send_json(200, F.apply(tree, result))

    def h_files_get(self, fid):
        tree = self.fields(F.FILE, F.DEFAULT_FILE)
        parse_bool(self.q, "supportsAllDrives")
        parse_bool(self.q, "acknowledgeAbuse")
        with self.server.store.lock:
            rec = self.server.store.get(fid)
        self.send_file(rec, tree)

    def h_media(self, fid):
        store = self.server.store
        with store.lock:
            rec = store.get(fid)
            if not S.is_binary(rec["mimeType"]):
                raise E.ApiError(403, "fileNotDownloadable",
                                 "Only files with binary content can be "
                                 "downloaded. Use Export with Docs Editors "
                                 "files.", location="alt")
            path = store.blob_path(rec)
            size = rec.get("size", 0)
            mime = rec["mimeType"]
            f = open(path, "rb")
        try:
            headers = [("Content-Type", mime), ("Accept-Ranges", "bytes"),
                       ("X-Goog-Hash", "md5=" + base64.b64encode(
                           bytes.fromhex(rec["md5"])).decode())]
            rng = self.headers.get("Range")
            start, end = 0, size - 1
            status = 200
            if rng:
                parsed = self.parse_range(rng, size)
                if parsed == "unsatisfiable":
                    err = E.ApiError(416, "requestedRangeNotSatisfiable",
                                     "Request range not satisfiable")
                    err.headers["Content-Range"] = "bytes */%d" % size
                    raise err
                if parsed is not None:
                    start, end = parsed
                    status = 206
                    headers.append(("Content-Range", "bytes %d-%d/%d"
                                    % (start, end, size)))
            count = max(0, end - start + 1)
            self.send_raw(status, headers, file=f, offset=start, count=count)
        finally:
            f.close()

    @staticmethod
    def parse_range(value, size):
        """RFC 9110 single byte range; None = ignore the header."""
        m = re.match(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", value)
        if not m or (m.group(1) == "" and m.group(2) == ""):
            return None
        a, b = m.group(1), m.group(2)
        if a == "":
            n = int(b)
            if n == 0 or size == 0:
                return "unsatisfiable"
            return max(0, size - n), size - 1
        a = int(a)
        b = int(b) if b != "" else size - 1
        if b < a:
            return None
        if a >= size:
            return "unsatisfiable"
        return a, min(b, size - 1)

    def h_files_create(self):
        tree = self.fields(F.FILE, F.DEFAULT_FILE)
        meta = self.read_json()
        store = self.server.store
        with store.lock:
            rec = store.create(meta, self.user)
        self.send_file(rec, tree)

    def h_files_update(self, fid):
        tree = self.fields(F.FILE, F.DEFAULT_FILE)
        meta = self.read_json()
        store = self.server.store
        with store.lock:
            rec = store.get(fid)
            rec = store.update(rec, meta, self.user,
                               self.list_param("addParents"),
                               self.list_param("removeParents"))
        self.send_file(rec, tree)

    def h_files_delete(self, fid):
        store = self.server.store
        with store.lock:
            rec = store.get(fid)
            store.delete(rec)
        self.send_empty(204)

    def h_empty_trash(self):
        self.server.store.empty_trash()
        self.send_empty(204)

    def h_files_copy(self, fid):
        tree = self.fields(F.FILE, F.DEFAULT_FILE)
        meta = self.read_json()
        store = self.server.store
        with store.lock:
            src = store.get(fid)
            rec = store.copy(src, meta, self.user)
        self.send_file(rec, tree)

    def h_generate_ids(self):
        tree = self.fields(F.GENERATED_IDS, None)
        count = parse_int(self.q, "count", 10, 1, 1000)
        space = self.q.get("space", "drive")
        kind = self.q.get("type", "files")
        if space not in ("drive", "appDataFolder"):
            raise E.invalid_value("space")
        if kind not in ("files", "shortcuts"):
            raise E.invalid_value("type")
        if kind == "shortcuts" and space != "drive":
            raise E.bad_request("Shortcuts can only be created in the drive "
                                "space.", location="type")
        ids = self.server.store.generate_ids(count, space, kind)
        self.send_json(200, F.apply(tree, {"kind": "drive#generatedIds",
                                           "space": space, "ids": ids}))

    def h_export(self, fid):
        target = self.q.get("mimeType")
        if not target:
            raise E.required("mimeType")
        store = self.server.store
        with store.lock:
            rec = store.get(fid)
            mime = rec["mimeType"]
            if mime not in S.EXPORT_FORMATS:
                raise E.ApiError(403, "fileNotExportable",
                                 "Export only supports Docs Editors files.")
            if target not in S.EXPORT_FORMATS[mime]:
                raise E.ApiError(400, "badRequest",
                                 "The requested conversion is not supported.",
                                 location="convertTo")
            text = store.read_content(rec)
        if target == "application/pdf":
            data = make_pdf(text.decode("utf-8", "replace"))
        elif target == "text/html":
            data = b"<html><body><pre>" + text + b"</pre></body></html>"
        else:
            data = text
        if len(data) > S.EXPORT_LIMIT:
            raise E.ApiError(403, "exportSizeLimitExceeded",
                             "This file is too large to be exported.")
        self.send_raw(200, [("Content-Type", target)], data)

    def h_start_page_token(self):
        tree = self.fields(F.START_PAGE_TOKEN, None)
        self.send_json(200, F.apply(tree, {
            "kind": "drive#startPageToken",
            "startPageToken": self.server.store.start_page_token()}))

    def h_changes_list(self):
        tree = self.fields(F.CHANGE_LIST, F.DEFAULT_CHANGE_LIST)
        token = self.q.get("pageToken")
        if not token:
            raise E.required("pageToken")
        try:
            token = int(token)
        except ValueError:
            raise E.invalid_value("pageToken")
        page_size = parse_int(self.q, "pageSize", 100, 1, 1000)
        include_removed = parse_bool(self.q, "includeRemoved", True)
        for b in ("restrictToMyDrive", "supportsAllDrives",
                  "includeItemsFromAllDrives", "includeCorpusRemovals"):
            parse_bool(self.q, b)
        store = self.server.store
        me = self.me()
        with store.lock:
            if token > store.next_change or token < 1:
                raise E.invalid_value("pageToken")
            entries, nxt, new_start = store.list_changes(token, page_size,
                                                         include_removed)
            changes = []
            for ch, rec in entries:
                item = {"kind": "drive#change", "removed": bool(ch[3])}
                if rec is not None:
                    item["file"] = store.render(rec, me)
                item.update({"fileId": ch[1], "time": S.rfc3339(ch[2]),
                             "type": "file", "changeType": "file"})
                changes.append(item)
        result = {"kind": "drive#changeList"}
        if nxt:
            result["nextPageToken"] = nxt
        if new_start:
            result["newStartPageToken"] = new_start
        result["changes"] = changes
        self.send_json(200, F.apply(tree, result))

    # -------------------------------------------------------------- uploads

    def h_upload_simple(self, fid, upload_type):
        tree = self.fields(F.FILE, F.DEFAULT_FILE)
        store = self.server.store
        with store.lock:
            rec = store.get(fid) if fid else None
            if rec is not None:
                store.update(rec, {}, self.user, dry_run=True)
                if rec.get("readOnly"):
                    raise E.insufficient_file_permissions()
            if self.body.length:
                store._check_quota(self.body.length,
                                   (rec or {}).get("size") or 0)
        if upload_type == "media":
            meta = {}
            media_mime = self.media_type(self.headers.get("Content-Type"))
            blob = self.receive_blob()
        else:
            meta, media_mime, blob = self.receive_multipart()
        try:
            with store.lock:
                if rec is None:
                    rec = store.create(meta, self.user, content=blob,
                                       media_mime=media_mime)
                else:
                    rec = store.get(fid)
                    rec = store.update(rec, meta, self.user,
                                       self.list_param("addParents"),
                                       self.list_param("removeParents"),
                                       content=blob, media_mime=media_mime)
        finally:
            if os.path.exists(blob.path):
                os.unlink(blob.path)
        self.send_file(rec, tree)

    def receive_blob(self):
        w = S.BlobWriter(self.server.store.tmp_dir)
        try:
            while True:
                d = self.body.read()
                if not d:
                    break
                w.write(d)
        except BaseException:
            w.abort()
            raise
        return w.finish()

    def receive_multipart(self):
        ctype = self.headers.get("Content-Type", "")
        m = re.match(r"^\s*multipart/related\s*;(.*)$", ctype, re.I)
        bm = re.search(r'boundary\s*=\s*(?:"([^"]+)"|([^;\s]+))',
                       m.group(1)) if m else None
        if not bm:
            raise E.bad_request("Bad content type. Please use multipart.")
        boundary = (bm.group(1) or bm.group(2)).encode("latin-1")
        fd, spool = tempfile.mkstemp(dir=self.server.store.tmp_dir,
                                     prefix="mp-")
        try:
            with os.fdopen(fd, "wb") as f:
                while True:
                    d = self.body.read()
                    if not d:
                        break
                    f.write(d)
            return self.parse_multipart(spool, boundary)
        finally:
            os.unlink(spool)

    def parse_multipart(self, path, boundary):
        bad = E.bad_request("Malformed multipart body.")
        with open(path, "rb") as f:
            if os.fstat(f.fileno()).st_size == 0:
                raise bad
            m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            try:
                delim = b"--" + boundary
                pos = m.find(delim)
                if pos < 0:
                    raise bad
                parts = []
                while True:
                    pos += len(delim)
                    if m[pos:pos + 2] == b"--":
                        break
                    eol = m.find(b"\n", pos)
                    if eol < 0:
                        raise bad
                    crlf = m[eol - 1:eol] == b"\r"
                    hdr_end = m.find(b"\r\n\r\n" if crlf else b"\n\n",
                                     eol - (1 if crlf else 0))
                    if hdr_end < 0:
                        raise bad
                    hdr_blob = bytes(m[eol + 1:hdr_end]) \
                        if hdr_end > eol else b""
                    start = hdr_end + (4 if crlf else 2)
                    nxt = m.find((b"\r\n" if crlf else b"\n") + delim, start)
                    if nxt < 0:
                        raise bad
                    headers = {}
                    for line in hdr_blob.decode("latin-1").splitlines():
                        if ":" in line:
                            k, v = line.split(":", 1)
                            headers[k.strip().lower()] = v.strip()
                    parts.append((headers, start, nxt))
                    pos = nxt + (2 if crlf else 1)
                if len(parts) != 2:
                    raise E.bad_request("Multipart upload must have a "
                                        "metadata part and a media part.")
                (h1, s1, e1), (h2, s2, e2) = parts
                try:
                    meta = json.loads(bytes(m[s1:e1]).decode("utf-8")) \
                        if e1 > s1 else {}
                except (UnicodeDecodeError, ValueError) as ex:
                    raise E.parse_error(str(ex))
                if not isinstance(meta, dict):
                    raise E.parse_error("Expected a JSON object.")
                w = S.BlobWriter(self.server.store.tmp_dir)
                try:
                    p = s2
                    while p < e2:
                        q = min(e2, p + IO_CHUNK)
                        w.write(m[p:q])
                        p = q
                except BaseException:
                    w.abort()
                    raise
                blob = w.finish()
                return meta, self.media_type(h2.get("content-type")), blob
            finally:
                m.close()

    def session_url(self, sid):
        host = self.headers.get("Host") or urlsplit(self.server.url).netloc
        query = dict(self.q)
        query["upload_id"] = sid
        query.setdefault("uploadType", "resumable")
        return "http://%s%s?%s" % (host, quote(self.req_path),
                                   urlencode(query))

    def h_upload_resumable_start(self, fid, _ut):
        self.fields(F.FILE, F.DEFAULT_FILE)
        srv, store = self.server, self.server.store
        meta = self.read_json()
        total = self.headers.get("X-Upload-Content-Length")
        if total is not None:
            try:
                total = int(total)
                if total < 0:
                    raise ValueError
            except ValueError:
                raise E.bad_request("Invalid X-Upload-Content-Length.")
        ctype = self.media_type(self.headers.get("X-Upload-Content-Type"))
        with store.lock:
            if fid:
                rec = store.get(fid)
                store.update(rec, meta, self.user,
                             self.list_param("addParents"),
                             self.list_param("removeParents"), dry_run=True)
                if rec.get("readOnly"):
                    raise E.insufficient_file_permissions()
                old = rec.get("size") or 0
            else:
                store.create(meta, self.user, dry_run=True)
                old = 0
            if total:
                store._check_quota(total, old)
            sid = "ADPyc" + secrets.token_urlsafe(48)
            part = os.path.join(srv.upload_dir, sid + ".part")
            open(part, "wb").close()
            now = time.time()
            srv.sessions[sid] = {
                "id": sid, "file_id": store.resolve(fid) if fid else None,
                "meta": meta, "query": dict(self.q), "content_type": ctype,
                "total": total, "received": 0, "created": now,
                "expires": now + srv.config["upload_session_lifetime"],
                "user": self.user, "done": None, "path": part}
            srv.mark_dirty()
        self.send_empty(200, [("Location", self.session_url(sid)),
                              ("X-GUploader-UploadID", sid)])

    def h_upload_chunk(self, fid):
        srv, store = self.server, self.server.store
        sid = self.q.get("upload_id")
        with store.lock:
            sess = srv.sessions.get(sid)
            if sess is not None and sess["expires"] < time.time():
                self.drop_session(sess)
                sess = None
        if sess is None:
            raise E.ApiError(404, "notFound", "Not Found")
        if self.command == "DELETE":
            with store.lock:
                self.drop_session(sess)
            self.send_empty(499)
            return
        tree = self.fields(F.FILE, F.DEFAULT_FILE)
        if sess["done"]:
            with store.lock:
                rec = store.get(sess["done"])
            self.send_file(rec, tree)
            return
        cr = self.headers.get("Content-Range")
        length = self.body.length
        if cr is None:
            if not self.body.chunked and not length:
                return self.upload_status(sess, tree)
            start, end, total = 0, (length - 1) if length else None, length
        else:
            mq = re.match(r"^\s*bytes\s+\*\s*/\s*(\d+|\*)\s*$", cr)
            mc = re.match(r"^\s*bytes\s+(\d+)\s*-\s*(\d+)\s*/\s*(\d+|\*)\s*$",
                          cr)
            if mq:
                if length:
                    raise E.bad_request("Invalid request. A status query "
                                        "must not have a body.")
                if mq.group(1) != "*":
                    t = int(mq.group(1))
                    if sess["total"] is not None and sess["total"] != t:
                        raise E.bad_request("Invalid request. The total size "
                                            "does not match.")
                    sess["total"] = t
                return self.upload_status(sess, tree)
            if not mc:
                raise E.bad_request("Invalid Content-Range header.")
            start, end = int(mc.group(1)), int(mc.group(2))
            total = None if mc.group(3) == "*" else int(mc.group(3))
        if end is not None and (end < start or (length is not None and
                                                end - start + 1 != length)):
            raise E.bad_request("Invalid request. Content-Range and "
                                "Content-Length do not match.")
        if total is not None:
            if sess["total"] is not None and sess["total"] != total:
                raise E.bad_request("Invalid request. The total size does "
                                    "not match the size given when the "
                                    "upload started.")
            if end is not None and end >= total:
                raise E.bad_request("Invalid request. The Content-Range end "
                                    "is beyond the total size.")
        received = sess["received"]
        if start > received:
            raise E.bad_request(
                "Invalid request. According to the Content-Range header, the "
                "upload offset is %d byte(s), which exceeds already uploaded "
                "size of %d byte(s)." % (start, received))
        final = total is not None and end is not None and end + 1 == total
        if end is not None and not final and \
                (end - start + 1) % CHUNK_GRANULARITY:
            # Google's upload server text (not JSON) for this rule.
            self.status = 400
            if not self.body.drain_small():
                self.close_connection = True
            self.send_raw(400, [("Content-Type", "text/plain; charset=utf-8")],
                          ("Invalid request. The number of bytes uploaded is "
                           "required to be equal or greater than %d, except "
                           "for the final request (it's recommended to be the "
                           "exact multiple of %d). The received request "
                           "contained %d bytes, which does not meet this "
                           "requirement." % (CHUNK_GRANULARITY,
                                             CHUNK_GRANULARITY,
                                             end - start + 1)).encode())
            return
        skip = received - start
        hasher = srv.hashers.get(sid)
        hs = hasher[1] if hasher is not None and hasher[0] == received \
            else None
        if hs is None and received == 0:
            hs = [hashlib.md5(), hashlib.sha1(), hashlib.sha256()]
        gone = False
        with open(sess["path"], "r+b") as f:
            f.seek(received)
            f.truncate()
            try:
                while True:
                    d = self.body.read()
                    if not d:
                        break
                    if skip > 0:
                        if len(d) <= skip:
                            skip -= len(d)
                            continue
                        d = d[skip:]
                        skip = 0
                    f.write(d)
                    received += len(d)
                    if hs is not None:
                        for h in hs:
                            h.update(d)
            except ClientGone:
                gone = True
            f.flush()
        with store.lock:
            sess["received"] = received
            if hs is not None:
                srv.hashers[sid] = (received, hs)
            else:
                srv.hashers.pop(sid, None)
            srv.mark_dirty()
        if gone:
            raise ClientGone()
        if total is None and cr is None:
            total = received
        if total is not None:
            sess["total"] = total
        return self.upload_status(sess, tree)

    def drop_session(self, sess):
        srv = self.server
        srv.sessions.pop(sess["id"], None)
        srv.hashers.pop(sess["id"], None)
        try:
            os.unlink(sess["path"])
        except OSError:
            pass
        srv.mark_dirty()

    def upload_status(self, sess, tree):
        total, received = sess["total"], sess["received"]
        if total is not None and received >= total:
            return self.finish_upload(sess, tree)
        headers = []
        if received:
            headers.append(("Range", "bytes=0-%d" % (received - 1)))
        self.send_empty(308, headers + [("X-GUploader-UploadID",
                                         sess["id"])])

    def finish_upload(self, sess, tree):
        srv, store = self.server, self.server.store
        path, total = sess["path"], sess["total"]
        if os.path.getsize(path) > total:
            with open(path, "r+b") as f:
                f.truncate(total)
        h = srv.hashers.get(sess["id"])
        if h is not None and h[0] == total:
            size, md5, sha1, sha256 = total, h[1][0].hexdigest(), \
                h[1][1].hexdigest(), h[1][2].hexdigest()
        else:
            size, md5, sha1, sha256 = S.hash_file(path)
        blob = S.BlobResult(path, size, md5, sha1, sha256)
        q = sess["query"]
        with store.lock:
            if sess["file_id"]:
                rec = store.get(sess["file_id"])
                rec = store.update(
                    rec, sess["meta"], sess["user"],
                    [p for p in q.get("addParents", "").split(",") if p],
                    [p for p in q.get("removeParents", "").split(",") if p],
                    content=blob, media_mime=sess["content_type"])
            else:
                rec = store.create(sess["meta"], sess["user"], content=blob,
                                   media_mime=sess["content_type"])
            sess["done"] = rec["id"]
            srv.hashers.pop(sess["id"], None)
            srv.mark_dirty()
        self.send_file(rec, tree)

    # ---------------------------------------------------------------- oauth

    def oauth_error(self, status, error, description):
        self.send_raw(status, [("Content-Type",
                                "application/json; charset=utf-8")],
                      json.dumps({"error": error,
                                  "error_description": description},
                                 indent=2).encode())

    def read_form(self):
        raw = self.body.read_all(1 << 20).decode("utf-8", "replace")
        ctype = self.media_type(self.headers.get("Content-Type"))
        if ctype == "application/json":
            try:
                obj = json.loads(raw or "{}")
                return {k: str(v) for k, v in obj.items()}
            except (ValueError, AttributeError):
                return {}
        form = dict(parse_qsl(raw, keep_blank_values=True))
        for k, v in self.q.items():
            form.setdefault(k, v)
        return form

    def token_reply(self, user, scope, client_id, refresh_token=None,
                    with_scope=True):
        srv = self.server
        life = int(srv.config["token_lifetime"])
        with srv.store.lock:
            token = srv.auth.issue(user, scope, client_id, life)
            srv.mark_dirty()
        body = {"access_token": token, "expires_in": life}
        if refresh_token:
            body["refresh_token"] = refresh_token
        if with_scope:
            body["scope"] = scope
        body["token_type"] = "Bearer"
        self.send_raw(200, [("Content-Type",
                             "application/json; charset=utf-8"),
                            ("Cache-Control", "no-cache, no-store, max-age=0, "
                             "must-revalidate"), ("Pragma", "no-cache")],
                      json.dumps(body, indent=2).encode())

    def h_token(self):
        form = self.read_form()
        grant = form.get("grant_type", "")
        if grant == "refresh_token":
            return self.grant_refresh(form)
        if grant == JWT_GRANT:
            return self.grant_jwt(form)
        if grant == "authorization_code":
            return self.grant_code(form)
        return self.oauth_error(400, "unsupported_grant_type",
                                "Invalid grant_type: " + grant)

    def check_client(self, form):
        auth = self.server.auth
        cid = form.get("client_id")
        secret = form.get("client_secret")
        basic = self.headers.get("Authorization", "")
        if not cid and basic.lower().startswith("basic "):
            try:
                cid, secret = base64.b64decode(basic[6:]).decode().split(
                    ":", 1)
            except Exception:
                pass
        if not cid:
            self.oauth_error(400, "invalid_request",
                             "Could not determine client ID from request.")
            return None
        client = auth.clients.get(cid)
        if client is None:
            self.oauth_error(401, "invalid_client",
                             "The OAuth client was not found.")
            return None
        if secret != client["client_secret"]:
            self.oauth_error(401, "invalid_client", "Unauthorized")
            return None
        return cid

    def grant_refresh(self, form):
        srv = self.server
        with srv.store.lock:
            cid = self.check_client(form)
            if cid is None:
                return
            rt = form.get("refresh_token")
            if not rt:
                return self.oauth_error(400, "invalid_request",
                                        "Missing required parameter: "
                                        "refresh_token")
            info = srv.auth.refresh.get(rt)
            if info is None or info["client_id"] != cid:
                return self.oauth_error(400, "invalid_grant", "Bad Request")
            if info["revoked"]:
                return self.oauth_error(400, "invalid_grant",
                                        "Token has been expired or revoked.")
            scope = info["scope"]
            if form.get("scope"):
                want = set(form["scope"].split())
                if not want <= set(scope.split()):
                    return self.oauth_error(400, "invalid_scope",
                                            "Bad Request")
                scope = " ".join(sorted(want))
        self.token_reply(info["user"], scope, cid)

    def grant_jwt(self, form):
        srv = self.server
        bad_time = ("Invalid JWT: Token must be a short-lived token (60 "
                    "minutes) and in a reasonable timeframe. Check your iat "
                    "and exp values in the JWT claim.")
        try:
            header, claims, signed, sig = A.jwt_decode(
                form.get("assertion", ""))
        except A.JwtError:
            return self.oauth_error(400, "invalid_grant",
                                    "Invalid JWT Signature.")
        iss = claims.get("iss")
        with srv.store.lock:
            key = srv.auth.sas.get(iss)
        if key is None:
            return self.oauth_error(400, "invalid_grant",
                                    "Invalid grant: account not found")
        if header.get("alg") != "RS256" or not A.rs256_verify(
                key["n"], key["e"], signed, sig):
            return self.oauth_error(400, "invalid_grant",
                                    "Invalid JWT Signature.")
        own = srv.url + "/token"
        aud = claims.get("aud")
        if aud not in ACCEPTED_AUDIENCES and aud != own and \
                aud != "http://%s/token" % self.headers.get("Host", ""):
            return self.oauth_error(400, "invalid_grant",
                                    "Invalid JWT: Failed audience check.")
        now = time.time()
        try:
            exp, iat = float(claims["exp"]), float(claims["iat"])
        except (KeyError, TypeError, ValueError):
            return self.oauth_error(400, "invalid_grant", bad_time)
        if exp <= now or iat > now + 300 or exp - iat > 3600 or exp < iat:
            return self.oauth_error(400, "invalid_grant", bad_time)
        scope = claims.get("scope")
        if not scope or not isinstance(scope, str):
            return self.oauth_error(400, "invalid_scope",
                                    "Invalid OAuth scope or ID token "
                                    "audience provided.")
        user = iss
        sub = claims.get("sub")
        if sub:
            with srv.store.lock:
                known = sub in srv.store.users
            if not known:
                return self.oauth_error(400, "invalid_grant",
                                        "Invalid email or User ID")
            user = sub
        self.token_reply(user, scope, iss, with_scope=False)

    def grant_code(self, form):
        srv = self.server
        with srv.store.lock:
            cid = self.check_client(form)
            if cid is None:
                return
            code = srv.auth.codes.pop(form.get("code", ""), None)
            if code is None or code["client_id"] != cid or \
                    code["exp"] < time.time():
                return self.oauth_error(400, "invalid_grant", "Bad Request")
            if code["redirect_uri"] != form.get("redirect_uri"):
                return self.oauth_error(400, "redirect_uri_mismatch",
                                        "Bad Request")
            if code.get("challenge"):
                verifier = form.get("code_verifier", "")
                method = code.get("method", "plain")
                ok = (A.pkce_s256(verifier) if method == "S256"
                      else verifier) == code["challenge"]
                if not verifier or not ok:
                    return self.oauth_error(400, "invalid_grant",
                                            "Invalid code verifier.")
            rt = "1//" + secrets.token_urlsafe(40)
            srv.auth.refresh[rt] = {"client_id": cid, "user": code["user"],
                                    "scope": code["scope"], "revoked": False}
            srv.mark_dirty()
        self.token_reply(code["user"], code["scope"], cid, refresh_token=rt)

    def h_authorize(self):
        """Consent is automatic: redirect back with a code at once."""
        srv = self.server
        q = self.q
        cid = q.get("client_id")
        redirect = q.get("redirect_uri")
        if not cid or cid not in srv.auth.clients or not redirect:
            return self.send_raw(400, [("Content-Type", "text/html")],
                                 b"<h1>Error 400: invalid_request</h1>")
        if q.get("response_type") != "code":
            return self.send_raw(400, [("Content-Type", "text/html")],
                                 b"<h1>Error 400: unsupported_response_type"
                                 b"</h1>")
        code = "4/" + secrets.token_urlsafe(40)
        scope = q.get("scope") or DRIVE_SCOPE
        with srv.store.lock:
            srv.auth.codes[code] = {
                "client_id": cid, "redirect_uri": redirect,
                "scope": scope, "user": q.get("login_hint") or DEFAULT_USER,
                "challenge": q.get("code_challenge"),
                "method": q.get("code_challenge_method", "plain"),
                "exp": time.time() + 600}
        params = {"code": code, "scope": scope}
        if "state" in q:
            params = {"state": q["state"], **params}
        sep = "&" if "?" in redirect else "?"
        self.send_raw(302, [("Location", redirect + sep + urlencode(params)),
                            ("Content-Type", "text/html")], b"")

    def h_revoke(self):
        form = self.read_form()
        token = form.get("token", "")
        srv = self.server
        with srv.store.lock:
            found = False
            if token in srv.auth.refresh:
                srv.auth.refresh[token]["revoked"] = True
                found = True
            if token in srv.auth.access:
                srv.auth.access[token]["exp"] = 0
                found = True
            srv.mark_dirty()
        if not found:
            return self.oauth_error(400, "invalid_token",
                                    "Token expired or revoked")
        self.send_raw(200, [("Content-Type", "application/json")], b"{}")

    # -------------------------------------------------------------- control

    def h_control(self):
        name = self.req_path[len("/__control/"):].rstrip("/")
        m = self.command
        table = {
            ("GET", "health"): self.c_health,
            ("POST", "reset"): self.c_reset,
            ("POST", "seed"): self.c_seed,
            ("GET", "tree"): self.c_tree,
            ("GET", "stats"): self.c_stats,
            ("POST", "stats/reset"): self.c_stats_reset,
            ("GET", "faults"): self.c_faults_get,
            ("POST", "faults"): self.c_faults_add,
            ("DELETE", "faults"): self.c_faults_clear,
            ("GET", "config"): self.c_config_get,
            ("POST", "config"): self.c_config_set,
            ("POST", "tokens/expire"): self.c_tokens_expire,
            ("POST", "tokens/revoke"): self.c_tokens_revoke,
            ("POST", "clients"): self.c_clients,
            ("POST", "service_accounts"): self.c_service_accounts,
            ("POST", "users"): self.c_users,
            ("GET", "credentials"): self.c_credentials,
            ("POST", "act"): self.c_act,
            ("GET", "uploads"): self.c_uploads,
            ("POST", "uploads/expire"): self.c_uploads_expire,
            ("GET", "changes"): self.c_changes,
        }
        fn = table.get((m, name))
        try:
            if fn is not None:
                return fn()
            mc = re.match(r"^(content|file)/(.+)$", name)
            if mc and m == "GET":
                return self.c_content(mc.group(2)) if mc.group(1) == \
                    "content" else self.c_file(mc.group(2))
            raise E.ApiError(404, "notFound", "Unknown control endpoint " +
                             name)
        except (KeyError, TypeError, ValueError, AttributeError) as ex:
            if self.headers_done:
                raise
            raise E.bad_request("Bad control request: %s: %s" % (
                type(ex).__name__, ex))

    def ctl_json(self, obj, status=200):
        self.q.pop("prettyPrint", None)
        self.send_json(status, obj)

    def full(self, rec, user=None):
        store = self.server.store
        with store.lock:
            d = store.render(rec, user or store.owner)
            d["path"] = store.path_of(rec)
        return d

    def c_health(self):
        srv = self.server
        self.ctl_json({"ok": True, "url": srv.url,
                       "token_url": srv.url + "/token",
                       "root_id": srv.store.root_id, "pid": os.getpid()})

    def c_reset(self):
        srv = self.server
        with srv.store.lock:
            srv.store.reset()
            for sess in list(srv.sessions.values()):
                self.drop_session(sess)
            srv.snapshots.clear()
            srv.config = srv.default_config()
            srv.store.quota_limit = srv.config["quota_limit"]
        srv.faults.clear()
        srv.stats.reset()
        self.ctl_json({"ok": True})

    def seed_one(self, spec, user):
        store = self.server.store
        if not isinstance(spec, dict):
            raise E.bad_request("seed spec must be an object")
        with store.lock:
            meta = {}
            mime = spec.get("mimeType")
            if "path" in spec:
                path = spec["path"].strip("/")
                want_folder = spec["path"].endswith("/")
                comps = [c for c in path.split("/") if c]
                if not comps:
                    raise E.bad_request("empty path")
                parent = store.root_id
                for comp in comps[:-1]:
                    parent = self.seed_folder(parent, comp, user)
                name = comps[-1]
                if want_folder:
                    mime = S.FOLDER
            else:
                name = spec["name"]
                parent = store.resolve(spec.get("parent", "root"))
            meta["name"] = name
            meta["parents"] = [parent]
            if spec.get("targetId"):
                meta["shortcutDetails"] = {"targetId": spec["targetId"]}
                mime = mime or S.SHORTCUT
            if mime:
                meta["mimeType"] = mime
            for key in ("createdTime", "modifiedTime", "viewedByMeTime",
                        "appProperties", "properties", "description",
                        "starred", "originalFilename"):
                if key in spec:
                    meta[key] = spec[key]
            if "id" in spec:
                if spec["id"] not in store.files:
                    store.generated[spec["id"]] = ["drive", "files"]
                meta["id"] = spec["id"]
            content = None
            final_mime = mime or S.guess_mime(name)
            if final_mime not in (S.FOLDER, S.SHORTCUT):
                if "content_b64" in spec:
                    data = base64.b64decode(spec["content_b64"])
                else:
                    data = (spec.get("content") or "").encode("utf-8")
                w = S.BlobWriter(store.tmp_dir)
                w.write(data)
                content = w.finish()
            extra = {"readOnly": True} if spec.get("readOnly") else None
            try:
                rec = store.create(meta, user, content=content, extra=extra)
            finally:
                if content is not None and os.path.exists(content.path):
                    os.unlink(content.path)
            if spec.get("trashed"):
                store.update(rec, {"trashed": True}, user, force=True)
            return self.full(rec)

    def seed_folder(self, parent, name, user):
        store = self.server.store
        found = [store.files[c] for c in store.children.get(parent, ())
                 if c in store.files and store.files[c]["name"] == name and
                 store.files[c]["mimeType"] == S.FOLDER and
                 not store.is_trashed(store.files[c])]
        if found:
            found.sort(key=lambda r: (r["createdTime"], r["id"]))
            return found[0]["id"]
        rec = store.create({"name": name, "parents": [parent],
                            "mimeType": S.FOLDER}, user)
        return rec["id"]

    def c_seed(self):
        spec = self.read_json()
        owner = self.server.store.owner
        if "files" in spec and "path" not in spec and "name" not in spec:
            out = [self.seed_one(s, owner) for s in spec["files"]]
            return self.ctl_json({"files": out})
        self.ctl_json(self.seed_one(spec, owner))

    def c_tree(self):
        store = self.server.store
        with store.lock:
            recs = sorted((r for r in store.files.values()
                           if not r.get("root")),
                          key=lambda r: r.get("seq", 0))
            out = [self.full(r) for r in recs]
        self.ctl_json(out)

    def c_file(self, fid):
        with self.server.store.lock:
            rec = self.server.store.get(fid)
        self.ctl_json(self.full(rec))

    def c_content(self, fid):
        store = self.server.store
        with store.lock:
            rec = store.get(fid)
            data = store.read_content(rec)
        self.send_raw(200, [("Content-Type", "application/octet-stream")],
                      data)

    def c_stats(self):
        self.ctl_json(self.server.stats.snapshot())

    def c_stats_reset(self):
        self.server.stats.reset()
        self.ctl_json({"ok": True})

    def c_faults_get(self):
        self.ctl_json({"rules": self.server.faults.list()})

    def c_faults_add(self):
        body = self.read_json()
        rules = body.get("rules")
        if rules is None:
            rules = [body]
        self.server.faults.add(rules)
        self.ctl_json({"rules": self.server.faults.list()})

    def c_faults_clear(self):
        self.server.faults.clear()
        self.ctl_json({"rules": []})

    def c_config_get(self):
        self.ctl_json(self.server.config)

    def c_config_set(self):
        body = self.read_json()
        srv = self.server
        for k, v in body.items():
            if k not in CONFIG_KEYS:
                raise E.bad_request("unknown config key %r" % k)
            if not isinstance(v, (int, float)) or v < 0:
                raise E.bad_request("config %s must be a number >= 0" % k)
        with srv.store.lock:
            srv.config.update(body)
            srv.store.quota_limit = int(srv.config["quota_limit"])
            srv.mark_dirty()
        self.ctl_json(srv.config)

    def c_tokens_expire(self):
        with self.server.store.lock:
            self.server.auth.expire_all()
            self.server.mark_dirty()
        self.ctl_json({"ok": True})

    def c_tokens_revoke(self):
        body = self.read_json()
        srv = self.server
        with srv.store.lock:
            rt = body.get("refresh_token")
            if rt:
                if rt not in srv.auth.refresh:
                    raise E.bad_request("unknown refresh token")
                srv.auth.refresh[rt]["revoked"] = True
            at = body.get("access_token")
            if at and at in srv.auth.access:
                srv.auth.access[at]["exp"] = 0
            srv.mark_dirty()
        self.ctl_json({"ok": True})

    def c_clients(self):
        body = self.read_json()
        with self.server.store.lock:
            creds = self.server.auth.add_client(
                body.get("client_id"), body.get("client_secret"),
                body.get("refresh_token"), body.get("user"),
                body.get("scope"))
            self.server.mark_dirty()
        self.ctl_json(creds)

    def c_service_accounts(self):
        body = self.read_json()
        email = body["client_email"]
        pem = body.get("public_key_pem") or body.get("private_key")
        try:
            n, e = A.rsa_public_key(pem or "")
        except ValueError as ex:
            raise E.bad_request("bad key: %s" % ex)
        with self.server.store.lock:
            self.server.auth.sas[email] = {"n": n, "e": e}
            self.server.store.add_user(email, "Service Account")
            self.server.mark_dirty()
        self.ctl_json({"client_email": email, "modulus_bits": n.bit_length()})

    def c_users(self):
        body = self.read_json()
        with self.server.store.lock:
            self.server.store.add_user(body["email"],
                                       body.get("displayName"))
            self.server.mark_dirty()
        self.ctl_json({"ok": True})

    def c_credentials(self):
        self.ctl_json({"type": "authorized_user",
                       "client_id": DEFAULT_CLIENT_ID,
                       "client_secret": DEFAULT_CLIENT_SECRET,
                       "refresh_token": DEFAULT_REFRESH_TOKEN,
                       "account": "", "universe_domain": "googleapis.com"})

    def c_act(self):
        body = self.read_json()
        op = body.get("op")
        store = self.server.store
        user = body.get("user") or OTHER_USER
        store.add_user(user)
        if op == "create":
            spec = dict(body)
            spec.pop("op")
            spec.pop("user", None)
            return self.ctl_json(self.seed_one(spec, user))
        with store.lock:
            rec = store.get(body["id"])
            if op == "edit":
                if "content_b64" in body:
                    data = base64.b64decode(body["content_b64"])
                else:
                    data = (body.get("content") or "").encode("utf-8")
                w = S.BlobWriter(store.tmp_dir)
                w.write(data)
                blob = w.finish()
                meta = {k: body[k] for k in ("modifiedTime", "mimeType")
                        if k in body}
                try:
                    store.update(rec, meta, user, content=blob, force=True)
                finally:
                    if os.path.exists(blob.path):
                        os.unlink(blob.path)
            elif op == "rename":
                store.update(rec, {"name": body["name"]}, user, force=True)
            elif op == "move":
                store.update(rec, {}, user, [body["parent"]],
                             [rec["parent"]] if rec.get("parent") else [],
                             force=True)
            elif op in ("trash", "untrash"):
                store.update(rec, {"trashed": op == "trash"}, user,
                             force=True)
            elif op == "update":
                meta = {k: v for k, v in body.items()
                        if k not in ("op", "id", "user")}
                store.update(rec, meta, user, force=True)
            elif op == "delete":
                store.delete(rec, force=True)
                return self.ctl_json({"ok": True, "id": rec["id"]})
            else:
                raise E.bad_request("unknown op %r" % op)
            return self.ctl_json(self.full(rec))

    def c_uploads(self):
        with self.server.store.lock:
            out = [{k: v for k, v in s.items() if k != "path"}
                   for s in self.server.sessions.values()]
        self.ctl_json(out)

    def c_uploads_expire(self):
        with self.server.store.lock:
            for s in self.server.sessions.values():
                s["expires"] = 0
            self.server.mark_dirty()
        self.ctl_json({"ok": True})

    def c_changes(self):
        store = self.server.store
        with store.lock:
            out = [{"id": c[0], "fileId": c[1], "time": S.rfc3339(c[2]),
                    "removed": c[3]} for c in store.changes]
        self.ctl_json({"next": store.next_change, "changes": out})


def make_pdf(text):
    """A minimal valid one-page PDF showing the first lines of text."""
    lines = (text or " ").splitlines()[:40] or [" "]
    esc = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
           for ln in lines]
    stream = "BT /F1 11 Tf 50 780 Td 14 TL " + " ".join(
        "(%s) '" % ln for ln in esc) + " ET"
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] "
        "/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        "<< /Length %d >>\nstream\n%s\nendstream" % (len(stream.encode(
            "latin-1", "replace")), stream),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += ("%d 0 obj\n%s\nendobj\n" % (i, o)).encode("latin-1",
                                                         "replace")
    xref = len(out)
    out += ("xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)).encode()
    for off in offsets:
        out += ("%010d 00000 n \n" % off).encode()
    out += ("trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objs) + 1, xref)).encode()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description="Google Drive v3 emulator")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--data", default=None,
                    help="state directory (kept across restarts); a temp dir "
                         "removed at exit when not given")
    ap.add_argument("--latency-ms", type=float, default=0)
    ap.add_argument("--bandwidth", type=int, default=0,
                    help="bytes/s each direction, 0 = unlimited")
    ap.add_argument("--token-lifetime", type=int, default=3600)
    ap.add_argument("--qps", type=float, default=0,
                    help="per-user queries per second, 0 = unlimited")
    ap.add_argument("--quota", type=int, default=S.DEFAULT_QUOTA,
                    help="storage quota in bytes")
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args(argv)

    persist = args.data is not None
    data_dir = os.path.abspath(args.data) if persist else \
        tempfile.mkdtemp(prefix="fakedrive-")
    os.makedirs(data_dir, exist_ok=True)
    server = FakeDriveServer((args.host, args.port), args, data_dir, persist)

    stop = threading.Event()

    def on_signal(signum, frame):
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    def saver():
        while not stop.wait(0.3):
            try:
                server.save()
            except Exception:
                log("saving state failed:\n" + traceback.format_exc())

    threading.Thread(target=server.serve_forever, kwargs={
        "poll_interval": 0.2}, daemon=True, name="serve").start()
    threading.Thread(target=saver, daemon=True, name="saver").start()
    sys.stdout.write("fakedrive listening on %s\n" % server.url)
    sys.stdout.flush()
    try:
        while not stop.wait(1.0):
            pass
    finally:
        server.shutdown()
        server.server_close()
        server.save()
        if not persist:
            shutil.rmtree(data_dir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
