"""drive/ against replies no honest server sends: a scripted HTTP server in
this process answers the API calls (tokens still come from the emulator),
so each test can hand the client one hostile reply and check that it ends
in a clear error (and never a crash, a wrong success or a request it
should not make)."""

import http.server
import json
import threading

import pytest

MIB = 1024 * 1024
GOOD_MD5 = "0" * 32


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def _handle(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        srv = self.server
        req = {"method": self.command, "path": self.path,
               "headers": {k.lower(): v for k, v in self.headers.items()},
               "body": body}
        with srv.lock:
            srv.requests.append(req)
        status, headers, payload = srv.reply(req)
        if isinstance(payload, (dict, list)):
            payload = json.dumps(payload).encode()
            headers = dict(headers, **{"Content-Type": "application/json"})
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle


@pytest.fixture
def api():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.lock = threading.Lock()
    srv.requests = []
    srv.reply = lambda req: (500, {}, b"no script")
    srv.url = "http://127.0.0.1:%d" % srv.server_address[1]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        t.join(10)


def run(drivecli, api, *args, ok=False):
    """drivecli against the scripted API; the emulator issues tokens."""
    opts = ["--api-url", api.url, "--max-retries", "1"]
    return drivecli(*args, opts=opts) if ok else \
        drivecli.fail(*args, opts=opts)


def record(fid="f1", **kw):
    r = {"id": fid, "name": "n.bin", "mimeType": "application/octet-stream",
         "parents": ["p1"], "size": "3", "version": "1",
         "md5Checksum": GOOD_MD5}
    r.update(kw)
    return r


def routes(table):
    """reply() from {(method, path prefix): (status, headers, body)}."""
    def reply(req):
        for (m, prefix), out in table.items():
            if req["method"] == m and req["path"].startswith(prefix):
                return out(req) if callable(out) else out
        return 404, {}, {"error": {"code": 404, "message": "no route",
                                   "errors": [{"reason": "notFound"}]}}
    return reply


IDS = ("GET", "/drive/v3/files/generateIds")


def test_multipart_md5_mismatch_is_eio(drivecli, api, tmp_path):
    api.reply = routes({
        IDS: (200, {}, {"ids": ["gen1"]}),
        ("POST", "/upload/drive/v3/files?uploadType=multipart"):
            (200, {}, record("gen1", md5Checksum="1" * 32)),
    })
    p = tmp_path / "a.bin"
    p.write_bytes(b"abc")
    err = run(drivecli, api, "upload", "p1", "a.bin", p)
    assert err.error == "EIO" and err.reason == "md5Mismatch"
    assert "900150983cd24fb0d6963f7d28e17f72" in err.message  # md5("abc")


def test_missing_md5_in_the_reply_is_a_mismatch(drivecli, api, tmp_path):
    r = record("gen1")
    del r["md5Checksum"]
    api.reply = routes({
        IDS: (200, {}, {"ids": ["gen1"]}),
        ("POST", "/upload/drive/v3/files?uploadType=multipart"):
            (200, {}, r),
    })
    p = tmp_path / "a.bin"
    p.write_bytes(b"abc")
    assert run(drivecli, api, "upload", "p1", "a.bin", p).reason == \
        "md5Mismatch"


def test_resumable_md5_mismatch_is_eio(drivecli, api, tmp_path):
    api.reply = routes({
        IDS: (200, {}, {"ids": ["gen1"]}),
        ("POST", "/upload/drive/v3/files?uploadType=resumable"):
            (200, {"Location": api.url + "/upload/drive/v3/files?"
                               "upload_id=s1"}, b""),
        ("PUT", "/upload/drive/v3/files?upload_id=s1"):
            (200, {}, record("gen1", md5Checksum="2" * 32)),
    })
    p = tmp_path / "big.bin"
    p.write_bytes(b"z" * (6 * MIB))
    err = run(drivecli, api, "upload", "p1", "big.bin", p)
    assert err.reason == "md5Mismatch"


def test_session_on_another_host_never_gets_a_request(drivecli, api,
                                                      tmp_path):
    api.reply = routes({
        IDS: (200, {}, {"ids": ["gen1"]}),
        ("POST", "/upload/drive/v3/files?uploadType=resumable"):
            (200, {"Location": "http://127.0.0.2:1/steal?upload_id=x"},
             b""),
    })
    p = tmp_path / "big.bin"
    p.write_bytes(b"z" * (6 * MIB))
    err = run(drivecli, api, "upload", "p1", "big.bin", p)
    assert err.error == "EIO" and "session URL" in err.message
    assert [r["method"] for r in api.requests] == ["GET", "POST"]


def test_308_claiming_more_than_was_sent_is_eio(drivecli, api, tmp_path):
    api.reply = routes({
        IDS: (200, {}, {"ids": ["gen1"]}),
        ("POST", "/upload/drive/v3/files?uploadType=resumable"):
            (200, {"Location": api.url + "/upload/drive/v3/files?"
                               "upload_id=s1"}, b""),
        ("PUT", "/upload/drive/v3/files?upload_id=s1"):
            # one byte more than the whole file, all of it in one chunk
            (308, {"Range": "bytes=0-%d" % (12 * MIB)}, b""),
    })
    p = tmp_path / "big.bin"
    p.write_bytes(b"z" * (12 * MIB))
    err = run(drivecli, api, "upload", "p1", "big.bin", p)
    assert err.error == "EIO" and err.reason == "malformedResponse"


@pytest.mark.parametrize("bad,field", [
    ({"id": "../../etc"}, "files[1].id"),
    ({"size": "99999999999999999999"}, "files[1].size"),
    ({"size": 3.5}, "files[1].size"),
    ({"parents": ["a/b"]}, "files[1].parents"),
    ({"name": 7}, "files[1].name"),
    ({"modifiedTime": "yesterday"}, "files[1].modifiedTime"),
    ({"appProperties": {"k": ["v"]}}, "files[1].appProperties"),
])
def test_hostile_record_in_a_listing_is_eio(drivecli, api, bad, field):
    api.reply = routes({("GET", "/drive/v3/files?"): (
        200, {}, {"files": [record("f1"), record("f2", **bad)]})})
    err = run(drivecli, api, "ls", "p1")
    assert err.error == "EIO" and err.reason == "malformedResponse"
    assert field in err.message


def test_listing_whose_token_repeats_stops(drivecli, api):
    api.reply = routes({("GET", "/drive/v3/files?"): (
        200, {}, {"files": [record()], "nextPageToken": "same"})})
    err = run(drivecli, api, "ls", "p1")
    assert err.error == "EIO" and "repeats" in err.message
    assert len(api.requests) == 2


@pytest.mark.parametrize("second", [
    (403, {}, {"error": {"code": 403, "message": "no",
                         "errors": [{"reason": "forbidden"}]}}),
    (200, {}, {"files": [{"id": "../x"}]}),
], ids=["refused", "malformed"])
def test_listing_whose_second_page_fails_is_an_error(drivecli, api, second):
    # The next page is asked for while the first is handed over: its
    # failure still ends the listing with that page's error.
    def page(req):
        if "pageToken=two" in req["path"]:
            return second
        return 200, {}, {"files": [record()], "nextPageToken": "two"}
    api.reply = routes({("GET", "/drive/v3/files?"): page})
    err = run(drivecli, api, "ls", "p1")
    assert err.error == ("EACCES" if second[0] == 403 else "EIO"), err
    if second[0] == 200:
        assert err.reason == "malformedResponse"
    assert [("pageToken=two" in r["path"]) for r in api.requests] == \
        [False, True]


def test_listing_token_with_an_escape_is_followed(drivecli, api):
    # The next page is asked for from a scan of the reply; a token the
    # scan does not read (an escape) is taken from the parse instead.
    def page(req):
        if "pageToken=ab" in req["path"]:
            return 200, {}, {"files": [record("f2")]}
        return 200, {}, b'{"nextPageToken": "a\\u0062", "files": [' + \
            json.dumps(record("f1")).encode() + b']}'
    api.reply = routes({("GET", "/drive/v3/files?"): page})
    out = run(drivecli, api, "ls", "p1", ok=True)
    assert [f.id for f in out.files] == ["f1", "f2"], out
    assert [("pageToken=ab" in r["path"]) for r in api.requests] == \
        [False, True]


def test_non_json_success_is_eio(drivecli, api):
    api.reply = routes({("GET", "/drive/v3/files/f1"): (
        200, {"Content-Type": "text/html"}, b"<html>captive portal</html>")})
    err = run(drivecli, api, "get", "f1")
    assert err.error == "EIO" and "not JSON" in err.message


def test_changes_page_with_both_tokens_is_eio(drivecli, api):
    api.reply = routes({("GET", "/drive/v3/changes?"): (
        200, {}, {"changes": [], "nextPageToken": "2",
                  "newStartPageToken": "3"})})
    err = run(drivecli, api, "changes", "1")
    assert err.reason == "malformedResponse"


def test_read_with_a_wrong_content_range_is_eio(drivecli, api):
    api.reply = routes({("GET", "/drive/v3/files/f1?alt=media"): (
        206, {"Content-Range": "bytes 0-9/100"}, b"0123456789")})
    err = run(drivecli, api, "read", "f1", "50", "10")
    assert err.error == "EIO" and err.reason == "malformedResponse"


def test_read_answered_with_the_whole_file_from_an_offset_is_eio(drivecli,
                                                                 api):
    api.reply = routes({("GET", "/drive/v3/files/f1?alt=media"): (
        200, {}, b"0123456789")})
    err = run(drivecli, api, "read", "f1", "5", "3")
    assert err.error == "EIO"


def test_read_from_zero_accepts_a_whole_file_200(drivecli, api):
    api.reply = routes({("GET", "/drive/v3/files/f1?alt=media"): (
        200, {}, b"0123456789")})
    out = run(drivecli, api, "read", "f1", "0", "100", ok=True)
    assert out.got == 10
    assert api.requests[-1]["headers"]["range"] == "bytes=0-99"
