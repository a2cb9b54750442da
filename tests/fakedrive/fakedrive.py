#!/usr/bin/env python3
"""fakedrive: a Google Drive v3 REST API emulator for drivefs tests.

    python3 tests/fakedrive/fakedrive.py --port PORT [--host 127.0.0.1]
        [--data DIR] [--latency-ms N] [--bandwidth BYTES_PER_S]
        [--token-lifetime S] [--qps N] [--quota BYTES] [--verbose]
        [--connect-tls CERT KEY]

Prints exactly one line, "fakedrive listening on http://HOST:PORT", once it
accepts connections. Python 3 standard library only.

Serves, at Google's paths:
  /token, /o/oauth2/v2/auth, /revoke        OAuth 2 (oauth2.googleapis.com)
  /drive/v3/...                              Drive v3 metadata API
  /upload/drive/v3/files[/ID]                media, multipart, resumable
  /download/drive/v3/files/ID?alt=media      download alias
  /__control/...                             test control API (README.md)
  CONNECT www.googleapis.com:443 (--connect-tls)  the same, over TLS in place

Module map: this file (server, routing, authentication, faults, replies),
fd_api (Drive metadata endpoints), fd_uploads (upload protocols), fd_oauth
(token endpoint), fd_control (/__control/), fd_store (Drive state, blobs,
changes log), fd_query (q language), fd_fields (fields selector + schema),
fd_auth (RSA/JWT), fd_tls (CONNECT + TLS), fd_errors (Google error
bodies), fd_common (shared constants and helpers).
"""

import argparse
import base64
import fnmatch
import json
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
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import fd_errors as E  # noqa: E402
import fd_fields as F  # noqa: E402
import fd_store as S  # noqa: E402
from fd_common import (  # noqa: E402
                       CHUNK_GRANULARITY, ClientGone, DEFAULT_CLIENT_ID,
                       DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN,
                       DEFAULT_USER, DRIVE_SCOPE, FAULT_ACTIONS, Handled,
                       IO_CHUNK, KIND_SCOPES, LOG_LIMIT, MAX_JSON_BODY,
                       NoResponse, WRITE_SCOPES, dumps_pretty, log,
                       redact_query)
from fd_api import ApiMixin  # noqa: E402
from fd_control import ControlMixin  # noqa: E402
from fd_oauth import OAuthMixin  # noqa: E402
from fd_tls import ConnectMixin, server_context  # noqa: E402
from fd_uploads import UploadMixin  # noqa: E402


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
        self.fired = {}     # action -> rules that fired (GET faults)

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
            self.fired = {}

    def list(self):
        with self.lock:
            return [dict(r) for r in self.rules]

    def match(self, kind, target):
        r = self._match(kind, target)
        if r:
            with self.lock:
                self.fired[r["action"]] = self.fired.get(r["action"], 0) + 1
        return r

    def _match(self, kind, target):
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
        self.refresh = {}       # refresh token -> client, user, scope
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

    def issue(self, user, scope, client_id, lifetime, refresh=None):
        """A new access token; `refresh` is the refresh token it came
        from (revoking either revokes both, as Google does)."""
        token = "ya29.fake-" + secrets.token_urlsafe(48)
        self.access[token] = {"user": user, "scope": scope,
                              "client_id": client_id,
                              "exp": time.time() + lifetime}
        if refresh:
            self.access[token]["refresh"] = refresh
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

    def revoke(self, token):
        """Google's /revoke: a refresh token is revoked with every access
        token issued from it; an access token is revoked with the refresh
        token it came from. Returns False for an unknown token."""
        rt = None
        if token in self.refresh:
            rt = token
        elif token in self.access:
            self.access[token]["exp"] = 0
            rt = self.access[token].get("refresh")
        else:
            return False
        if rt and rt in self.refresh:
            self.refresh[rt]["revoked"] = True
            for info in self.access.values():
                if info.get("refresh") == rt:
                    info["exp"] = 0
        return True

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

    def handle_error(self, request, client_address):
        # A client that resets an idle keep-alive connection (a daemon
        # exiting, curl closing a pooled connection) is not our error.
        if isinstance(sys.exc_info()[1], (ConnectionError, socket.timeout)):
            return
        super().handle_error(request, client_address)

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
        self.tls_context = server_context(*args.connect_tls) \
            if getattr(args, "connect_tls", None) else None
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
        # Runtime config (POST /__control/config) is not kept: a restart
        # starts from the command line, like /__control/reset.
        self.store.quota_limit = self.config["quota_limit"]

    def save(self):
        if not self.persist:
            return
        with self.store.lock:
            if not self.store.dirty:
                return
            data = json.dumps({"store": self.store.to_json(),
                               "auth": self.auth.to_json(),
                               "sessions": self.sessions})
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


class Handler(ApiMixin, UploadMixin, OAuthMixin, ControlMixin, ConnectMixin,
              BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ESF"
    sys_version = ""
    timeout = 300
    # Replies go out as headers then body: with Nagle on, each one on a
    # reused connection would wait for the client's delayed ACK (40 ms).
    disable_nagle_algorithm = True

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

    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET

    def dispatch(self):
        srv = self.server
        self.t0 = time.time()
        self.status = None
        self.resp_fault = None
        self.user = None
        self.token_info = None
        self.headers_done = False
        self.recorded = False
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
            self.record_stats()
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

    def record_stats(self):
        """Count the request once; done before the response is written, so
        a client that saw the reply always finds it counted."""
        if not self.recorded and self.kind != "control":
            self.recorded = True
            self.server.stats.record(self.kind, self.command, self.req_path,
                                     self.q, self.status)

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
        self.record_stats()
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
        srv.stats.add(down=limit)
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
            srv.stats.add(down=sent - limit)
            raise ClientGone()
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
        if pretty:
            data = (dumps_pretty(obj) + "\n").encode("utf-8")
        else:
            data = json.dumps(obj, ensure_ascii=False).encode("utf-8")
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

    def rendered(self, rec):
        """The resource as a reply shows it; call with the store lock held
        by the request that changed it, so the reply is that request's
        result even when another client changes the file right after."""
        return self.server.store.render(rec, self.me())

    def send_rendered(self, data, tree, status=200):
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
    ap.add_argument("--connect-tls", nargs=2, metavar=("CERT", "KEY"),
                    help="answer CONNECT to Google's hosts on :443 and serve "
                         "the API over TLS on that socket (README.md)")
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
        "poll_interval": 0.05}, daemon=True, name="serve").start()
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
