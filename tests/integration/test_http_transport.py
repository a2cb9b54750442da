"""drive/http.c against a real local HTTP/1.1 server.

tests/tools/httpget drives the transport (keep-alive, retries, Retry-After,
sinks, body taps, the 401 refresh, cancel); the server here runs in this
process on 127.0.0.1, port 0, plays a script of replies and records what the
client sent, so each test asserts both the client's verdict and the wire.
The binary comes from $DRIVEFS_TOOLS (set by `make integ`), else
build/tests/tools.
"""
import errno
import hashlib
import os
import pathlib
import socket
import subprocess
import threading
import time
import http.server
import json

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOLS = pathlib.Path(os.environ.get("DRIVEFS_TOOLS", ROOT / "build/tests/tools"))
HTTPGET = TOOLS / "httpget"

pytestmark = pytest.mark.skipif(not HTTPGET.exists(),
                                reason=f"{HTTPGET} not built")

TOKEN_OLD = "ya29.OLD-tok3n-never-logged"
TOKEN_NEW = "ya29.NEW-tok3n-never-logged"


def google_error(code, reason, message=None):
    message = message or reason
    return json.dumps({"error": {
        "code": code, "message": message,
        "errors": [{"domain": "global", "reason": reason,
                    "message": message}]}}).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep pytest output clean
        pass

    def _handle(self):
        srv = self.server
        with srv.lock:
            action = srv.script.pop(0) if srv.script else {}
        length = self.headers.get("Content-Length")
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "")
        if isinstance(action, dict) and action.get("reset_unread"):
            body = b""  # close with the body unread: the client gets RST
        else:
            body = self.rfile.read(int(length)) if length else b""
        with srv.lock:
            srv.requests.append({
                "method": self.command, "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body": body, "chunked": chunked,
                "conn": self.client_address, "t": time.monotonic()})
        if action.get("reset_unread") if isinstance(action, dict) else False:
            self.close_connection = True
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       b"\x01\x00\x00\x00\x00\x00\x00\x00")
            self.connection.close()
            return
        if callable(action):
            action = action(self, srv.requests[-1])
        if action.get("hang"):
            srv.release.wait(30)
            self.close_connection = True
            return
        status = action.get("status", 200)
        payload = action.get("body", b"ok")
        self.send_response(status)
        for k, v in action.get("headers", {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command == "HEAD":
            return
        drop = action.get("drop_after")
        if drop is not None:
            self.wfile.write(payload[:drop])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _handle


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self):
        super().__init__(("127.0.0.1", 0), Handler)
        self.lock = threading.Lock()
        self.requests = []
        self.script = []
        self.release = threading.Event()

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}"

    def connections(self):
        return {r["conn"] for r in self.requests}


@pytest.fixture
def server():
    srv = Server()  # bound and listening before the thread starts
    thread = threading.Thread(target=srv.serve_forever, args=(0.05,),
                              daemon=True)
    thread.start()
    yield srv
    srv.release.set()
    srv.shutdown()
    srv.server_close()
    thread.join(10)


def httpget(*args, env_extra=None, timeout=60):
    env = dict(os.environ)
    env["DRIVEFS_LOG"] = "debug"
    env.update(env_extra or {})
    proc = subprocess.run([str(HTTPGET), *map(str, args)], env=env,
                          capture_output=True, timeout=timeout)
    head, _, body = proc.stdout.partition(b"--\n")
    out = dict(line.split("=", 1)
               for line in head.decode().splitlines() if "=" in line)
    out["body"] = body
    out["stderr"] = proc.stderr.decode(errors="replace")
    out["exit"] = proc.returncode
    for bad in ("Sanitizer", "runtime error:", "WARNING: ThreadSanitizer"):
        assert bad not in out["stderr"], out["stderr"]
    assert proc.returncode in (0, 1), out["stderr"]
    for k in ("rc", "status", "attempts", "errno", "http_status",
              "curl_code", "retry_after_s", "body_len", "tap_bytes",
              "tap_resets", "token_forced", "failures", "stats_requests",
              "stats_retries", "stats_rate_limited", "stats_bytes_up",
              "stats_bytes_down"):
        out[k] = int(out[k])
    return out


FAST = ("--backoff-base-ms", "1", "--backoff-max-ms", "5")


def fnv1a64(data):
    h = 0xcbf29ce484222325
    for b in data:
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return f"{h:016x}"


def test_sequential_requests_reuse_one_connection(server):
    r = httpget("--count", "5", server.url + "/a")
    assert r["rc"] == 0 and r["failures"] == 0
    assert len(server.requests) == 5
    assert len(server.connections()) == 1
    assert r["stats_requests"] == 5


def test_concurrent_callers_share_the_pool(server):
    r = httpget("--threads", "8", "--count", "5", "--max-conns", "4",
                "--qps", "0", server.url + "/c")
    assert r["failures"] == 0
    assert len(server.requests) == 40
    assert len(server.connections()) <= 4


def test_503_retried_then_success(server):
    server.script = [
        {"status": 503, "body": google_error(503, "backendError")},
        {"status": 503, "body": google_error(503, "backendError")},
    ]
    r = httpget(*FAST, server.url + "/drive/v3/files?q=secretquery")
    assert r["rc"] == 0 and r["status"] == 200
    assert r["attempts"] == 3
    assert r["stats_retries"] == 2
    assert r["body"] == b"ok"
    assert "GET /drive/v3/files: 503 backendError: backendError, retry 1 in" \
        in r["stderr"]
    assert "secretquery" not in r["stderr"]


def test_retry_after_is_honoured(server):
    server.script = [{"status": 503, "headers": {"Retry-After": "1"},
                      "body": google_error(503, "backendError")}]
    r = httpget(*FAST, server.url + "/ra")
    assert r["rc"] == 0 and r["attempts"] == 2
    # A lower bound only: the backoff alone would wait at most 5 ms.
    gap = server.requests[1]["t"] - server.requests[0]["t"]
    assert gap >= 0.95


def test_429_retried_and_counted(server):
    server.script = [{"status": 429,
                      "body": google_error(429, "rateLimitExceeded")}]
    r = httpget(*FAST, server.url + "/rl")
    assert r["rc"] == 0 and r["attempts"] == 2
    assert r["stats_rate_limited"] == 1


def test_403_rate_limit_retried(server):
    server.script = [{"status": 403,
                      "body": google_error(403, "userRateLimitExceeded")}]
    r = httpget(*FAST, server.url + "/rl403")
    assert r["rc"] == 0 and r["attempts"] == 2
    assert r["stats_rate_limited"] == 1


def test_403_permission_not_retried(server):
    server.script = [{"status": 403, "body": google_error(
        403, "insufficientFilePermissions", "no access")}] * 3
    r = httpget(*FAST, server.url + "/perm")
    assert r["errno"] == errno.EACCES
    assert r["attempts"] == 1 and len(server.requests) == 1
    assert r["reason"] == "insufficientFilePermissions"
    assert r["message"] == "no access"


def test_retries_exhausted_gives_eio(server):
    server.script = [{"status": 503}] * 10
    r = httpget(*FAST, "--max-retries", "2", server.url + "/down")
    assert r["errno"] == errno.EIO
    assert r["attempts"] == 3 and len(server.requests) == 3
    assert "giving up after 3 attempts" in r["stderr"]


def test_no_retry_flag_sends_once(server):
    server.script = [{"status": 503}] * 3
    r = httpget(*FAST, "--no-retry", server.url + "/once")
    assert r["errno"] == errno.EIO
    assert r["attempts"] == 1 and len(server.requests) == 1


def test_dropped_idempotent_get_is_retried(server):
    payload = bytes(range(256)) * 400
    server.script = [{"body": payload, "drop_after": 1000},
                     {"body": payload}]
    r = httpget(*FAST, "--idempotent", server.url + "/big")
    assert r["rc"] == 0 and r["attempts"] == 2
    assert r["body"] == payload


def test_dropped_post_is_not_retried(server):
    server.script = [{"body": b"x" * 100, "drop_after": 10}, {}]
    r = httpget(*FAST, "--method", "POST", "--body", "{}",
                server.url + "/create")
    assert r["errno"] == errno.EIO
    assert r["curl_code"] == 18  # CURLE_PARTIAL_FILE
    assert r["attempts"] == 1 and len(server.requests) == 1


def test_connection_refused_is_retried_even_for_post():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now
    r = httpget(*FAST, "--max-retries", "2", "--method", "POST",
                "--body", "{}", f"http://127.0.0.1:{port}/x")
    assert r["errno"] == errno.EIO
    assert r["curl_code"] == 7  # CURLE_COULDNT_CONNECT
    assert r["attempts"] == 3


def test_empty_put_sends_content_length_zero(server):
    r = httpget("--method", "PUT", "--header", "Content-Range: bytes */10",
                server.url + "/upload?upload_id=xyz")
    assert r["rc"] == 0
    req = server.requests[0]
    assert req["method"] == "PUT"
    assert req["headers"].get("content-length") == "0"
    assert not req["chunked"]
    assert "expect" not in req["headers"]
    assert req["headers"]["content-range"] == "bytes */10"


@pytest.mark.parametrize("method", ["POST", "PATCH", "PUT", "DELETE"])
def test_methods_and_bodies(server, method):
    r = httpget("--method", method, "--body", "hello",
                "--header", "Content-Type: application/json",
                server.url + "/m")
    assert r["rc"] == 0
    req = server.requests[0]
    assert req["method"] == method
    assert req["body"] == b"hello"
    assert req["headers"]["content-length"] == "5"
    assert req["headers"]["content-type"] == "application/json"


def test_delete_without_body(server):
    server.script = [{"status": 204, "body": b""}]
    r = httpget("--method", "DELETE", server.url + "/files/abc")
    assert r["rc"] == 0 and r["status"] == 204
    assert server.requests[0]["method"] == "DELETE"
    assert server.requests[0]["body"] == b""


def test_file_body_streams_with_tap(server, tmp_path):
    data = os.urandom(3 * 1024 * 1024 + 17)
    f = tmp_path / "up.bin"
    f.write_bytes(data)
    r = httpget("--method", "POST", "--body", "--boundary\r\n",
                "--body-file", f, server.url + "/upload/drive/v3/files")
    assert r["rc"] == 0
    req = server.requests[0]
    assert req["body"] == b"--boundary\r\n" + data
    assert req["headers"]["content-length"] == str(len(data) + 12)
    assert "expect" not in req["headers"]
    assert not req["chunked"]
    # The tap saw exactly the file's bytes (not the memory segment).
    assert r["tap_bytes"] == len(data)
    assert r["tap_hash"] == fnv1a64(data)
    assert r["tap_resets"] == 0
    assert r["stats_bytes_up"] >= len(data)


def test_tap_reset_before_resend(server, tmp_path):
    data = os.urandom(700 * 1024)
    f = tmp_path / "up.bin"
    f.write_bytes(data)
    server.script = [{"status": 503}]
    r = httpget(*FAST, "--method", "PUT", "--idempotent",
                "--body-file", f, server.url + "/chunk")
    assert r["rc"] == 0 and r["attempts"] == 2
    assert [q["body"] for q in server.requests] == [data, data]
    assert r["tap_resets"] >= 1
    assert r["tap_bytes"] == len(data)
    assert r["tap_hash"] == fnv1a64(data)


def test_download_to_fd_at_offset(server, tmp_path):
    out = tmp_path / "cache"
    out.write_bytes(b"0123456789")
    server.script = [{"status": 206, "body": b"abc",
                      "headers": {"Content-Range": "bytes 4-6/100"}}]
    r = httpget("--out", out, "--out-off", "4", server.url + "/media")
    assert r["rc"] == 0 and r["status"] == 206
    assert r["content_range"] == "bytes 4-6/100"
    assert out.read_bytes() == b"0123abc789"


def test_error_body_never_reaches_the_fd(server, tmp_path):
    out = tmp_path / "cache"
    out.write_bytes(b"")
    server.script = [{"status": 404,
                      "body": google_error(404, "notFound", "File not found")}]
    r = httpget("--out", out, server.url + "/media")
    assert r["errno"] == errno.ENOENT
    assert r["reason"] == "notFound" and r["message"] == "File not found"
    assert out.read_bytes() == b""


def test_memory_sink_overflow_is_e2big(server):
    server.script = [{"body": b"123456"}]
    r = httpget("--mem", "3", server.url + "/m")
    assert r["errno"] == errno.E2BIG
    assert r["attempts"] == 1 and len(server.requests) == 1


def test_memory_sink_exact(server):
    server.script = [{"body": b"123456"}]
    r = httpget("--mem", "6", server.url + "/m")
    assert r["rc"] == 0 and r["body"] == b"123456"


def test_buffer_sink_bound_is_e2big(server):
    server.script = [{"body": b"123456"}]
    r = httpget("--max-body", "5", server.url + "/b")
    assert r["errno"] == errno.E2BIG


def test_resumable_headers_captured(server):
    server.script = [{"status": 308, "body": b"", "headers": {
        "Range": "bytes=0-262143",
        "Location": "http://127.0.0.1:1/upload?upload_id=abc",
        "Content-Type": "text/plain; charset=utf-8"}}]
    r = httpget("--method", "PUT", "--no-retry", server.url + "/s")
    assert r["rc"] == 0 and r["status"] == 308
    assert r["range"] == "bytes=0-262143"
    assert r["location"] == "http://127.0.0.1:1/upload?upload_id=abc"
    assert r["content_type"] == "text/plain; charset=utf-8"


def test_401_refreshes_token_once(server):
    def auth(handler, req):
        if req["headers"].get("authorization") != f"Bearer {TOKEN_NEW}":
            return {"status": 401, "body": google_error(401, "authError")}
        return {}
    server.script = [auth, auth]
    r = httpget("--token-seq", f"{TOKEN_OLD},{TOKEN_NEW}",
                server.url + "/about")
    assert r["rc"] == 0 and r["attempts"] == 2
    assert r["token_forced"] == 1
    assert [q["headers"]["authorization"] for q in server.requests] == [
        f"Bearer {TOKEN_OLD}", f"Bearer {TOKEN_NEW}"]
    assert "tok3n" not in r["stderr"]


def test_second_401_is_eacces(server):
    server.script = [{"status": 401, "body": google_error(401, "authError")}
                     ] * 5
    r = httpget(*FAST, "--token-seq", f"{TOKEN_OLD},{TOKEN_NEW}",
                server.url + "/about")
    assert r["errno"] == errno.EACCES
    assert r["attempts"] == 2 and len(server.requests) == 2
    assert "tok3n" not in r["stderr"]


def test_cancel_ends_a_hung_request(server):
    server.script = [{"hang": True}]
    start = time.monotonic()
    r = httpget("--cancel-after-ms", "200", server.url + "/hang", timeout=20)
    assert r["errno"] == errno.ECANCELED
    assert r["reason"] == "cancelled"
    assert time.monotonic() - start < 15


def test_cancel_ends_a_backoff_wait(server):
    server.script = [{"status": 503, "headers": {"Retry-After": "30"}}]
    r = httpget("--cancel-after-ms", "200", server.url + "/slow", timeout=20)
    assert r["errno"] == errno.ECANCELED
    assert len(server.requests) == 1


def test_reset_during_upload_fails_cleanly(server, tmp_path):
    # The peer resets while we are still writing: EPIPE/ECONNRESET, not a
    # SIGPIPE that kills the process; not resent without HTTP_IDEMPOTENT.
    f = tmp_path / "up.bin"
    f.write_bytes(os.urandom(32 * 1024 * 1024))
    server.script = [{"reset_unread": True}, {}]
    r = httpget(*FAST, "--method", "PUT", "--body-file", f,
                server.url + "/chunk")
    assert r["errno"] == errno.EIO
    assert r["curl_code"] in (55, 56)  # CURLE_SEND_ERROR, CURLE_RECV_ERROR
    assert r["attempts"] == 1 and len(server.requests) == 1


def test_reset_during_idempotent_upload_is_resent(server, tmp_path):
    data = os.urandom(32 * 1024 * 1024)
    f = tmp_path / "up.bin"
    f.write_bytes(data)
    server.script = [{"reset_unread": True}, {}]
    r = httpget(*FAST, "--method", "PUT", "--idempotent", "--body-file", f,
                server.url + "/chunk")
    assert r["rc"] == 0 and r["attempts"] == 2
    assert server.requests[1]["body"] == data
    assert r["tap_resets"] >= 1
    assert r["tap_bytes"] == len(data)
