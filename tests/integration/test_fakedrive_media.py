"""Fidelity tests of downloads, exports and the three upload protocols.

References: guides/manage-downloads (alt=media, Range), files.export,
guides/manage-uploads (uploadType=media|multipart|resumable; resumable:
"308 Resume Incomplete", Range header, chunks a multiple of 256 KB except
the last, status query with "Content-Range: bytes */TOTAL", 404 when the
session expired)."""

import hashlib
import http.client
import json
import socket
import urllib.parse

import pytest

DOC = "application/vnd.google-apps.document"
KIB256 = 256 * 1024


@pytest.fixture
def drive(shared_drive):
    return shared_drive


def auth(drive, **extra):
    h = {"Authorization": "Bearer " + drive.token()}
    h.update(extra)
    return h


def location_path(resp):
    loc = resp.header("Location")
    parts = urllib.parse.urlsplit(loc)
    return parts.path + "?" + parts.query


def start_resumable(drive, meta, total=None, file_id=None, fields=None):
    headers = {"X-Upload-Content-Type": "application/octet-stream"}
    if total is not None:
        headers["X-Upload-Content-Length"] = str(total)
    params = {"uploadType": "resumable"}
    if fields:
        params["fields"] = fields
    path = "/upload/drive/v3/files" + ("/" + file_id if file_id else "")
    r = drive.api("PATCH" if file_id else "POST", path, params=params,
                  json=meta, headers=headers)
    assert r.status == 200, r
    assert r.body == b""
    return location_path(r)


def put(drive, session, data, content_range):
    return drive.request("PUT", session, body=data, headers=auth(
        drive, **{"Content-Range": content_range}))


# ---------------------------------------------------------------- download

@pytest.mark.parametrize("rng,status,body,content_range", [
    (None, 200, b"0123456789", None),
    ("bytes=0-3", 206, b"0123", "bytes 0-3/10"),
    ("bytes=6-", 206, b"6789", "bytes 6-9/10"),
    ("bytes=-3", 206, b"789", "bytes 7-9/10"),
    ("bytes=8-100", 206, b"89", "bytes 8-9/10"),
])
def test_download_ranges(drive, rng, status, body, content_range):
    f = drive.seed("n.bin", b"0123456789")
    headers = {"Range": rng} if rng else {}
    r = drive.api("GET", "/drive/v3/files/" + f.id,
                  params={"alt": "media"}, headers=headers)
    assert r.status == status
    assert r.body == body
    assert r.header("Content-Range") == content_range
    assert int(r.header("Content-Length")) == len(body)


def test_download_unsatisfiable_range_is_416(drive):
    f = drive.seed("n.bin", b"0123456789")
    r = drive.api("GET", "/drive/v3/files/" + f.id, params={"alt": "media"},
                  headers={"Range": "bytes=10-"})
    assert r.status == 416
    assert r.header("Content-Range") == "bytes */10"


def test_download_alias_path(drive):
    f = drive.seed("n.bin", b"abc")
    r = drive.api("GET", "/download/drive/v3/files/" + f.id,
                  params={"alt": "media"})
    assert r.status == 200 and r.body == b"abc"


def test_google_doc_is_not_downloadable_but_exportable(drive):
    doc = drive.seed("Notes", "hello doc", mimeType=DOC)
    r = drive.api("GET", "/drive/v3/files/" + doc.id, params={"alt": "media"})
    assert r.status == 403
    assert r.json()["error"]["errors"][0] == {
        "message": "Only files with binary content can be downloaded. Use "
                   "Export with Docs Editors files.",
        "domain": "global", "reason": "fileNotDownloadable",
        "location": "alt", "locationType": "parameter"}
    r = drive.api("GET", "/drive/v3/files/%s/export" % doc.id,
                  params={"mimeType": "text/plain"})
    assert r.status == 200 and r.body == b"hello doc"
    r = drive.api("GET", "/drive/v3/files/%s/export" % doc.id,
                  params={"mimeType": "application/pdf"})
    assert r.status == 200 and r.body.startswith(b"%PDF-")
    assert r.header("Content-Type") == "application/pdf"


def test_export_errors(drive):
    doc = drive.seed("Notes", "x", mimeType=DOC)
    blob = drive.seed("b.txt", b"x")
    r = drive.api("GET", "/drive/v3/files/%s/export" % blob.id,
                  params={"mimeType": "text/plain"})
    assert r.status == 403
    assert r.json()["error"]["errors"][0]["reason"] == "fileNotExportable"
    r = drive.api("GET", "/drive/v3/files/%s/export" % doc.id,
                  params={"mimeType": "image/gif"})
    assert r.status == 400
    r = drive.api("GET", "/drive/v3/files/%s/export" % doc.id)
    assert r.status == 400
    assert r.json()["error"]["errors"][0]["reason"] == "required"


def test_keep_alive_reuses_one_connection(drive):
    f = drive.seed("k.bin", b"abc")
    conn = http.client.HTTPConnection(drive.host, drive.port, timeout=10)
    socks = set()
    for _ in range(3):
        conn.request("GET", "/drive/v3/files/%s?alt=media" % f.id,
                     headers=auth(drive))
        r = conn.getresponse()
        assert r.read() == b"abc"
        socks.add(id(conn.sock))
    conn.close()
    assert len(socks) == 1


# ----------------------------------------------------------- simple upload

def test_upload_media_creates_untitled_file(drive):
    data = b"raw bytes"
    r = drive.api("POST", "/upload/drive/v3/files",
                  params={"uploadType": "media",
                          "fields": "id,name,mimeType,size,md5Checksum"},
                  data=data, headers={"Content-Type": "text/plain"})
    body = r.json()
    assert r.status == 200
    assert body["name"] == "Untitled" and body["mimeType"] == "text/plain"
    assert body["size"] == "9"
    assert body["md5Checksum"] == hashlib.md5(data).hexdigest()
    assert drive.content(body["id"]) == data


def multipart(meta, data, media_type="application/octet-stream",
              boundary="fd_boundary_1"):
    return (b"--" + boundary.encode() + b"\r\n"
            b"Content-Type: application/json; charset=UTF-8\r\n\r\n"
            + json.dumps(meta).encode() + b"\r\n"
            b"--" + boundary.encode() + b"\r\n"
            b"Content-Type: " + media_type.encode() + b"\r\n\r\n"
            + data + b"\r\n--" + boundary.encode() + b"--\r\n",
            "multipart/related; boundary=" + boundary)


def test_upload_multipart_create(drive):
    folder = drive.seed("dir/")
    data = bytes(range(256)) * 10 + b"\r\n--fd_boundary_not_it"
    body, ctype = multipart({"name": "m.bin", "parents": [folder.id],
                             "appProperties": {"mode": "755"}}, data)
    r = drive.api("POST", "/upload/drive/v3/files",
                  params={"uploadType": "multipart",
                          "fields": "id,name,parents,md5Checksum,mimeType,"
                                    "appProperties"},
                  data=body, headers={"Content-Type": ctype})
    f = r.json()
    assert r.status == 200, r
    assert f["name"] == "m.bin" and f["parents"] == [folder.id]
    assert f["mimeType"] == "application/octet-stream"
    assert f["md5Checksum"] == hashlib.md5(data).hexdigest()
    assert f["appProperties"] == {"mode": "755"}
    assert drive.content(f["id"]) == data


def test_upload_multipart_update_in_place(drive):
    f = drive.seed("u.txt", b"old")
    body, ctype = multipart({"modifiedTime": "2030-01-01T00:00:00Z"}, b"new",
                            "text/plain")
    r = drive.api("PATCH", "/upload/drive/v3/files/" + f.id,
                  params={"uploadType": "multipart",
                          "fields": "id,md5Checksum,version,headRevisionId,"
                                    "modifiedTime"},
                  data=body, headers={"Content-Type": ctype})
    u = r.json()
    assert r.status == 200 and u["id"] == f.id
    assert u["md5Checksum"] == hashlib.md5(b"new").hexdigest()
    assert u["md5Checksum"] != f.md5Checksum
    assert u["headRevisionId"] != f.headRevisionId
    assert int(u["version"]) > int(f.version)
    assert u["modifiedTime"] == "2030-01-01T00:00:00.000Z"
    assert drive.content(f.id) == b"new"


def test_upload_requires_known_upload_type(drive):
    r = drive.api("POST", "/upload/drive/v3/files", data=b"x")
    assert r.status == 400


def test_chunked_transfer_encoding_body(drive):
    conn = http.client.HTTPConnection(drive.host, drive.port, timeout=10)
    conn.request("POST", "/upload/drive/v3/files?uploadType=media&fields=id",
                 body=iter([b"part1-", b"part2"]),
                 headers=auth(drive, **{"Content-Type": "text/plain",
                                        "Transfer-Encoding": "chunked"}),
                 encode_chunked=True)
    r = conn.getresponse()
    fid = json.loads(r.read())["id"]
    conn.close()
    assert drive.content(fid) == b"part1-part2"


def raw_request(drive, head):
    s = socket.create_connection((drive.host, drive.port), timeout=10)
    s.sendall(head)
    return s


def read_until(s, marker):
    buf = b""
    while marker not in buf:
        chunk = s.recv(65536)
        if not chunk:
            break
        buf += chunk
    return buf


def test_expect_100_continue(drive):
    data = b"z" * 1000
    s = raw_request(drive, (
        "POST /upload/drive/v3/files?uploadType=media&fields=size HTTP/1.1\r\n"
        "Host: x\r\nAuthorization: Bearer %s\r\nContent-Type: text/plain\r\n"
        "Content-Length: %d\r\nExpect: 100-continue\r\n\r\n"
        % (drive.token(), len(data))).encode())
    assert read_until(s, b"\r\n\r\n").startswith(b"HTTP/1.1 100")
    s.sendall(data)
    resp = read_until(s, b'"1000"')
    s.close()
    assert resp.startswith(b"HTTP/1.1 200") and b'"size": "1000"' in resp


def test_expect_100_continue_refused_early_without_body(drive):
    s = raw_request(drive, (
        "POST /upload/drive/v3/files?uploadType=media HTTP/1.1\r\nHost: x\r\n"
        "Authorization: Bearer nope\r\nContent-Length: 1000000\r\n"
        "Expect: 100-continue\r\n\r\n").encode())
    resp = read_until(s, b"}\n}")
    s.close()
    assert resp.startswith(b"HTTP/1.1 401")


# --------------------------------------------------------- resumable upload

def test_resumable_protocol_308_and_range(drive):
    data = bytes(range(256)) * 1024 * 3 + b"tail"          # 768 KiB + 4
    total = len(data)
    session = start_resumable(drive, {"name": "big.bin"}, total,
                              fields="id,name,size,md5Checksum")
    # Status query before any byte: 308 without Range.
    r = put(drive, session, b"", "bytes */%d" % total)
    assert r.status == 308 and r.header("Range") is None
    r = put(drive, session, data[:KIB256], "bytes 0-%d/%d"
            % (KIB256 - 1, total))
    assert r.status == 308
    assert r.header("Range") == "bytes=0-%d" % (KIB256 - 1)
    r = put(drive, session, b"", "bytes */%d" % total)
    assert r.status == 308 and r.header("Range") == "bytes=0-262143"
    r = put(drive, session, data[KIB256:3 * KIB256],
            "bytes %d-%d/%d" % (KIB256, 3 * KIB256 - 1, total))
    assert r.status == 308 and r.header("Range") == "bytes=0-786431"
    r = put(drive, session, data[3 * KIB256:],
            "bytes %d-%d/%d" % (3 * KIB256, total - 1, total))
    assert r.status == 200
    body = r.json()
    assert body["name"] == "big.bin" and body["size"] == str(total)
    assert body["md5Checksum"] == hashlib.md5(data).hexdigest()
    assert drive.content(body["id"]) == data
    # The finished session answers with the file again.
    again = put(drive, session, b"", "bytes */%d" % total)
    assert again.status == 200 and again.json()["id"] == body["id"]


def test_resumable_chunk_not_multiple_of_256k_is_400(drive):
    session = start_resumable(drive, {"name": "x"}, 1000000)
    r = put(drive, session, b"a" * 1000, "bytes 0-999/1000000")
    assert r.status == 400
    r = put(drive, session, b"", "bytes */1000000")
    assert r.status == 308 and r.header("Range") is None


def test_resumable_unknown_total_then_final(drive):
    data = b"q" * KIB256 + b"end"
    session = start_resumable(drive, {"name": "s.bin"})
    r = put(drive, session, data[:KIB256], "bytes 0-%d/*" % (KIB256 - 1))
    assert r.status == 308
    r = put(drive, session, b"", "bytes */*")
    assert r.status == 308 and r.header("Range") == "bytes=0-262143"
    r = put(drive, session, data[KIB256:],
            "bytes %d-%d/%d" % (KIB256, len(data) - 1, len(data)))
    assert r.status == 200
    assert drive.content(r.json()["id"]) == data


def test_resumable_single_put_and_empty_file(drive):
    session = start_resumable(drive, {"name": "one"}, 5)
    r = drive.request("PUT", session, body=b"12345", headers=auth(drive))
    assert r.status == 200 and drive.content(r.json()["id"]) == b"12345"
    session = start_resumable(drive, {"name": "empty"}, 0)
    r = put(drive, session, b"", "bytes */0")
    assert r.status == 200
    assert drive.content(r.json()["id"]) == b""


def test_resumable_update_keeps_id(drive):
    f = drive.seed("doc.txt", b"v1")
    session = start_resumable(drive, {}, 2, file_id=f.id,
                              fields="id,md5Checksum,version")
    r = put(drive, session, b"v2", "bytes 0-1/2")
    assert r.status == 200
    body = r.json()
    assert body["id"] == f.id
    assert body["md5Checksum"] == hashlib.md5(b"v2").hexdigest()
    assert drive.content(f.id) == b"v2"


def test_resumable_chunk_cut_by_drop_mid_body_is_resumed(drive):
    data = bytes(range(251)) * 4000                      # ~1 MB
    total = len(data)
    session = start_resumable(drive, {"name": "cut.bin"}, total,
                              fields="id,md5Checksum")
    drive.fault(kind="upload.resumable.chunk", count=1,
                action="drop_mid_body", bytes=300000)
    with pytest.raises((ConnectionError, http.client.HTTPException,
                        OSError)):
        put(drive, session, data[:2 * KIB256],
            "bytes 0-%d/%d" % (2 * KIB256 - 1, total))
    r = put(drive, session, b"", "bytes */%d" % total)
    assert r.status == 308 and r.header("Range") == "bytes=0-299999"
    r = put(drive, session, data[300000:],
            "bytes 300000-%d/%d" % (total - 1, total))
    assert r.status == 200
    assert r.json()["md5Checksum"] == hashlib.md5(data).hexdigest()


def test_resumable_overlapping_resend_is_accepted(drive):
    data = b"o" * KIB256 + b"p" * KIB256 + b"!"
    session = start_resumable(drive, {"name": "o"}, len(data))
    put(drive, session, data[:KIB256], "bytes 0-262143/%d" % len(data))
    # The client did not see the reply and resends from 0.
    r = put(drive, session, data[:2 * KIB256], "bytes 0-%d/%d"
            % (2 * KIB256 - 1, len(data)))
    assert r.status == 308 and r.header("Range") == "bytes=0-524287"
    r = put(drive, session, data[2 * KIB256:], "bytes %d-%d/%d"
            % (2 * KIB256, len(data) - 1, len(data)))
    assert r.status == 200 and drive.content(r.json()["id"]) == data


def test_resumable_gap_is_refused(drive):
    session = start_resumable(drive, {"name": "g"}, 3 * KIB256)
    r = put(drive, session, b"x" * KIB256, "bytes %d-%d/%d"
            % (KIB256, 2 * KIB256 - 1, 3 * KIB256))
    assert r.status == 400


def test_resumable_expired_session_is_404(drive):
    session = start_resumable(drive, {"name": "late"}, 10)
    drive.expire_uploads()
    r = put(drive, session, b"0123456789", "bytes 0-9/10")
    assert r.status == 404


def test_resumable_cancel_is_499(drive):
    session = start_resumable(drive, {"name": "c"}, 10)
    r = drive.request("DELETE", session, headers=auth(drive))
    assert r.status == 499
    assert put(drive, session, b"", "bytes */10").status == 404


def test_resumable_start_validates_metadata(drive):
    r = drive.api("POST", "/upload/drive/v3/files",
                  params={"uploadType": "resumable"},
                  json={"name": "x", "parents": ["missing"]})
    assert r.status == 404
