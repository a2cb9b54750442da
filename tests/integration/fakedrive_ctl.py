"""Test-side client for the fakedrive emulator (tests/fakedrive/).

    fd = launch(tmp_path / "drive")          # start a fresh emulator
    f = fd.seed("src/notes.py", b"old")      # AttrDict: f.id, f["size"]
    fd.content(f.id) == b"old"
    fd.count("files.create")                 # API calls of one kind
    fd.fault(kind="files.list", count=1, status=503)
    r = fd.api("GET", "/drive/v3/files", params={"q": "'root' in parents"})
    r.status, r.json()
    fd.stop()

Only the Python standard library. The control API is documented in
tests/fakedrive/README.md.
"""

import base64
import http.client
import json
import os
import select
import subprocess
import sys
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
FAKEDRIVE_PY = os.path.join(os.path.dirname(HERE), "fakedrive",
                            "fakedrive.py")


class AttrDict(dict):
    """A dict whose keys also read as attributes: f.id == f["id"]."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name)


def _attr(obj):
    if isinstance(obj, dict):
        return AttrDict({k: _attr(v) for k, v in obj.items()})
    if isinstance(obj, list):
        return [_attr(v) for v in obj]
    return obj


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers          # http.client.HTTPMessage
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name, default=None):
        return self.headers.get(name, default)

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:200])


class ControlError(Exception):
    pass


class FakeDrive:
    """Client for one running emulator (optionally owning its process)."""

    def __init__(self, url, proc=None, data_dir=None, log_path=None,
                 args=()):
        self.url = url.rstrip("/")
        self.token_url = self.url + "/token"
        self.proc = proc
        self.data_dir = data_dir
        self.log_path = log_path
        self.args = list(args)
        self._token = None
        self._root_id = None
        parts = urllib.parse.urlsplit(self.url)
        self.host, self.port = parts.hostname, parts.port

    # ----------------------------------------------------------- transport

    def request(self, method, path, params=None, body=None, headers=None,
                timeout=60):
        """One HTTP request; returns Response (never raises on status)."""
        if params:
            path += ("&" if "?" in path else "?") + \
                urllib.parse.urlencode(params)
        conn = http.client.HTTPConnection(self.host, self.port,
                                          timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            data = resp.read()
            return Response(resp.status, resp.headers, data)
        finally:
            conn.close()

    def _ctl(self, method, name, body=None, raw=False):
        data = None
        headers = {}
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        r = self.request(method, "/__control/" + name, body=data,
                         headers=headers)
        if r.status >= 400:
            raise ControlError("%s %s -> %d %s" % (method, name, r.status,
                                                    r.body[:500]))
        return r.body if raw else _attr(r.json())

    # ------------------------------------------------------------- control

    def health(self):
        return self._ctl("GET", "health")

    @property
    def root_id(self):
        """The My Drive root's real id (stable across reset and restart)."""
        if self._root_id is None:
            self._root_id = self.health()["root_id"]
        return self._root_id

    def reset(self):
        self._token = None
        return self._ctl("POST", "reset")

    @staticmethod
    def _spec(path=None, content=None, **kw):
        spec = dict(kw)
        if path is not None:
            spec["path"] = path
        if content is not None:
            if isinstance(content, str):
                spec["content"] = content
            else:
                spec["content_b64"] = base64.b64encode(content).decode()
        return spec

    def seed(self, path=None, content=b"", **kw):
        """Create a file as the owner; returns the full resource (+ path).

        seed("a/b/c.txt", b"bytes") creates missing folders a and b;
        seed("dir/") makes a folder; seed(name=..., parent=ID) is also
        accepted, as are mimeType, createdTime, modifiedTime,
        appProperties, properties, description, starred, id, trashed,
        readOnly, targetId (shortcut).
        """
        return self._ctl("POST", "seed", self._spec(path, content, **kw))

    def seed_many(self, specs):
        """Seed a list of specs (dicts as for seed()) in one request."""
        return self._ctl("POST", "seed", {"files": [
            self._spec(**s) for s in specs]})["files"]

    def tree(self, under=None):
        """Every file (trashed too); under="a/b": only those below a/b."""
        if under:
            return self._ctl("GET", "tree?" + urllib.parse.urlencode(
                {"under": under}))
        return self._ctl("GET", "tree")

    def file(self, file_id):
        return self._ctl("GET", "file/" + file_id)

    def by_path(self, path, trashed=False):
        """The file at path ("a/b.txt"); untrashed first unless trashed=None
        (any) or True (only trashed). The oldest wins among duplicates."""
        hits = [f for f in self.tree() if f["path"] == path.strip("/")]
        if trashed is not None:
            hits = [f for f in hits if f["trashed"] == trashed]
        hits.sort(key=lambda f: (f["createdTime"], f["id"]))
        return hits[0] if hits else None

    def content(self, file_id):
        return self._ctl("GET", "content/" + file_id, raw=True)

    def stats(self):
        return self._ctl("GET", "stats")

    def count(self, kind):
        return self.stats()["requests"].get(kind, 0)

    def reset_stats(self):
        return self._ctl("POST", "stats/reset")

    def fault(self, **rule):
        return self._ctl("POST", "faults", {"rules": [rule]})

    def clear_faults(self):
        return self._ctl("DELETE", "faults")

    def config(self, **kw):
        return self._ctl("POST", "config", kw) if kw else \
            self._ctl("GET", "config")

    def expire_tokens(self):
        return self._ctl("POST", "tokens/expire")

    def revoke(self, refresh_token):
        return self._ctl("POST", "tokens/revoke",
                         {"refresh_token": refresh_token})

    def register_client(self, **kw):
        return self._ctl("POST", "clients", kw)

    def register_service_account(self, client_email, public_key_pem):
        return self._ctl("POST", "service_accounts",
                         {"client_email": client_email,
                          "public_key_pem": public_key_pem})

    def expire_uploads(self):
        return self._ctl("POST", "uploads/expire")

    def act(self, op, **kw):
        """Act as another client: edit, rename, move, trash, untrash,
        delete, update, create."""
        body = {"op": op}
        content = kw.pop("content", None)
        path = kw.pop("path", None)
        body.update(self._spec(path, content, **kw))
        return self._ctl("POST", "act", body)

    def credentials(self):
        return self._ctl("GET", "credentials")

    # ----------------------------------------------------------------- api

    def token(self, fresh=False):
        """An access token for the default user (refresh-token grant)."""
        if self._token is None or fresh:
            c = self.credentials()
            body = urllib.parse.urlencode({
                "grant_type": "refresh_token", "client_id": c["client_id"],
                "client_secret": c["client_secret"],
                "refresh_token": c["refresh_token"]}).encode()
            r = self.request("POST", "/token", body=body, headers={
                "Content-Type": "application/x-www-form-urlencoded"})
            if r.status != 200:
                raise ControlError("token: %d %r" % (r.status, r.body))
            self._token = r.json()["access_token"]
        return self._token

    def api(self, method, path, token=None, params=None, json_body=None,
            data=None, headers=None, timeout=60, **kw):
        """A raw API call with a bearer token (fetched when not given;
        token="" sends none). Returns Response."""
        if "json" in kw:
            json_body = kw.pop("json")
        if kw:
            raise TypeError("unexpected arguments %r" % list(kw))
        hdrs = dict(headers or {})
        if token is None:
            token = self.token()
        if token:
            hdrs.setdefault("Authorization", "Bearer " + token)
        body = data
        if json_body is not None:
            body = json.dumps(json_body).encode()
            hdrs.setdefault("Content-Type", "application/json; charset=UTF-8")
        return self.request(method, path, params=params, body=body,
                            headers=hdrs, timeout=timeout)

    # ------------------------------------------------------------- process

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def stop(self, timeout=10):
        """SIGTERM this emulator's PID, wait, SIGKILL that PID if needed."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout)

    def kill(self):
        """SIGKILL (kill -9) this emulator's PID."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def restart(self, kill=False, extra_args=None):
        """Stop (or kill -9) and start again on the same port and data."""
        if kill:
            self.kill()
        else:
            self.stop()
        new = launch(self.data_dir, log_path=self.log_path,
                     args=self.args if extra_args is None else extra_args,
                     port=self.port)
        self.proc = new.proc
        self._token = None
        return self

    def log_text(self):
        if not self.log_path or not os.path.exists(self.log_path):
            return ""
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")


TLS_HOSTS = ("www.googleapis.com", "oauth2.googleapis.com")


def make_tls_certs(dirpath, hosts=TLS_HOSTS, days=2):
    """A throwaway CA and a server certificate for `hosts` signed by it,
    made with the openssl command in `dirpath` (keys mode 0600, never kept
    anywhere else). Returns {"ca": PEM path, "cert": ..., "key": ...} for
    the emulator's --connect-tls CERT KEY and the client's trust store
    (SSL_CERT_FILE for Go, cafile for Python's ssl)."""
    d = os.path.abspath(str(dirpath))
    os.makedirs(d, exist_ok=True)
    p = {n: os.path.join(d, n) for n in (
        "ca.pem", "ca.key", "server.pem", "server.key", "server.csr",
        "server.ext")}
    with open(p["server.ext"], "w") as f:
        f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                "keyUsage=digitalSignature,keyEncipherment\n"
                "extendedKeyUsage=serverAuth\n" %
                ",".join("DNS:" + h for h in hosts))

    def run(*argv):
        subprocess.run(["openssl"] + list(argv), check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.PIPE)

    old = os.umask(0o077)
    try:
        run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days",
            str(days), "-subj", "/CN=fakedrive throwaway CA", "-keyout",
            p["ca.key"], "-out", p["ca.pem"])
        run("req", "-newkey", "rsa:2048", "-nodes", "-subj",
            "/CN=" + hosts[0], "-keyout", p["server.key"], "-out",
            p["server.csr"])
        run("x509", "-req", "-in", p["server.csr"], "-CA", p["ca.pem"],
            "-CAkey", p["ca.key"], "-CAcreateserial", "-days", str(days),
            "-extfile", p["server.ext"], "-out", p["server.pem"])
    finally:
        os.umask(old)
    return {"ca": p["ca.pem"], "cert": p["server.pem"],
            "key": p["server.key"]}


def launch(data_dir, log_path=None, args=(), port=0, host="127.0.0.1",
           deadline_s=15, python=None):
    """Start the emulator on a free port (or `port`) with state in data_dir;
    wait for its listening line; return a FakeDrive owning the process."""
    data_dir = str(data_dir)
    os.makedirs(data_dir, exist_ok=True)
    log_path = str(log_path or os.path.join(data_dir, "..",
                                            "fakedrive.log"))
    # -S: the emulator needs only the standard library; skipping site
    # (site-packages .pth files) saves ~0.1 s per start.
    cmd = [python or sys.executable, "-S", FAKEDRIVE_PY, "--port", str(port),
           "--host", host, "--data", data_dir] + list(args)
    log_f = open(log_path, "ab")
    try:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=log_f,
                                stdin=subprocess.DEVNULL)
    finally:
        log_f.close()
    end = time.monotonic() + deadline_s
    line = b""
    while time.monotonic() < end:
        if proc.poll() is not None:
            break
        ready, _, _ = select.select([proc.stdout], [], [], 0.1)
        if ready:
            chunk = os.read(proc.stdout.fileno(), 4096)
            if not chunk:
                break
            line += chunk
            if b"\n" in line:
                break
    text = line.decode("utf-8", "replace").strip()
    prefix = "fakedrive listening on "
    if not text.startswith(prefix):
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        with open(log_path, "rb") as f:
            tail = f.read()[-2000:].decode("utf-8", "replace")
        raise RuntimeError("fakedrive did not start (%r); log:\n%s"
                           % (text, tail))
    return FakeDrive(text[len(prefix):], proc=proc, data_dir=data_dir,
                     log_path=log_path, args=args)
