"""drive/ content calls (download.c, upload.c) against the emulator: ranged
reads, whole downloads resumed after a drop, export, multipart and
resumable uploads whose MD5 must match what Drive stores, and the ways an
upload survives dropped connections, 5xx and lost sessions."""

import base64
import hashlib
import os

import pytest

MIB = 1024 * 1024
CHUNK = 64 * MIB                # DRIVE_CHUNK_DEFAULT


def blob(n, seed=0):
    """n deterministic, incompressible-enough bytes."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(b"%d/%d" % (seed, i)).digest()
        i += 1
    return bytes(out[:n])


def md5(b):
    return hashlib.md5(b).hexdigest()


def write(tmp_path, name, data):
    p = tmp_path / name
    p.write_bytes(data)
    return p


def requests_of(drive, kind):
    return [e for e in drive.stats()["log"] if e["kind"] == kind]


# ------------------------------------------------------------ downloads


@pytest.fixture
def three_mib(drive):
    data = blob(3 * MIB + 17, seed=3)
    return drive.seed("content/three.bin", data), data


@pytest.mark.parametrize("off,length", [(0, 10), (1000, 4096),
                                        (3 * MIB, 17), (12345, 2 * MIB)])
def test_read_returns_exactly_the_range(drivecli, three_mib, off, length):
    f, data = three_mib
    out = drivecli("read", f.id, off, length)
    assert out.got == length
    assert base64.b64decode(out.b64) == data[off:off + length]


def test_read_across_the_end_is_short(drivecli, three_mib):
    f, data = three_mib
    out = drivecli("read", f.id, len(data) - 10, 100)
    assert out.got == 10
    assert base64.b64decode(out.b64) == data[-10:]


def test_read_past_the_end_is_empty_not_an_error(drivecli, three_mib):
    f, data = three_mib
    assert drivecli("read", f.id, len(data) + 5, 100).got == 0


def test_read_of_an_empty_file(drive, drivecli):
    f = drive.seed("content/empty.bin", b"")
    assert drivecli("read", f.id, 0, 100).got == 0


def test_download_uses_bounded_range_requests(drive, drivecli, tmp_path):
    data = blob(20 * MIB + 5, seed=4)
    f = drive.seed("content/twenty.bin", data)
    drive.reset_stats()
    out = drivecli("download", f.id, tmp_path / "out.bin")
    assert out.got == len(data)
    assert (tmp_path / "out.bin").read_bytes() == data
    assert drive.count("files.get.media") == 2   # 16 MiB ranges


def test_download_resumes_from_the_stored_byte_after_a_drop(drive, drivecli,
                                                            tmp_path):
    data = blob(20 * MIB + 5, seed=5)
    f = drive.seed("content/drop.bin", data)
    drive.reset_stats()
    drive.fault(kind="files.get.media", action="drop_mid_body", count=2)
    out = drivecli("download", f.id, tmp_path / "out.bin")
    assert out.got == len(data)
    assert md5((tmp_path / "out.bin").read_bytes()) == md5(data)
    assert drive.count("files.get.media") == 4
    # Each drop was followed by a request for the rest of its range, from
    # the first byte not yet stored: never from the start of the range.
    # (The emulator's bytes_down cannot tell: it counts bytes the RST of a
    # dropped connection discards before they reach the client.)
    resumed = [int(line.rsplit(b"resumed at byte ", 1)[1].split()[0])
               for line in drivecli.stderr.splitlines()
               if b"download resumed at byte" in line]
    assert len(resumed) == 2
    assert all(at % (16 * MIB) != 0 for at in resumed)


def test_read_into_memory_resumes_after_a_drop(drive, drivecli, three_mib):
    f, data = three_mib
    drive.fault(kind="files.get.media", action="drop_mid_body", count=1)
    out = drivecli("read", f.id, 100, 2 * MIB)
    assert base64.b64decode(out.b64) == data[100:100 + 2 * MIB]


def test_export_of_a_google_doc(drive, drivecli, tmp_path):
    doc = drive.seed(name="Notes", parent="root",
                     mimeType="application/vnd.google-apps.document",
                     content="hello doc")
    out = drivecli("export", doc.id, "text/plain", tmp_path / "doc.txt")
    assert (tmp_path / "doc.txt").read_bytes() == b"hello doc"
    assert out.bytes == len(b"hello doc")


def test_media_of_a_google_doc_is_not_downloadable(drive, drivecli):
    doc = drive.seed(name="Notes", parent="root",
                     mimeType="application/vnd.google-apps.document",
                     content="hello doc")
    err = drivecli.fail("read", doc.id, 0, 10)
    assert err.error == "EACCES"
    assert err.status == 403 and err.reason == "fileNotDownloadable"


def test_export_of_a_binary_file_is_refused(drive, drivecli, tmp_path):
    f = drive.seed("content/a.bin", b"abc")
    err = drivecli.fail("export", f.id, "text/plain", tmp_path / "x")
    assert err.status == 403 and err.reason == "fileNotExportable"


# -------------------------------------------------------------- uploads


@pytest.mark.parametrize("size", [0, 1, 100 * 1000, 5 * MIB])
def test_multipart_upload_stores_the_bytes(drive, drivecli, tmp_path, size):
    data = blob(size, seed=size)
    out = drivecli("upload", drive.root_id, "up.bin",
                   write(tmp_path, "up.bin", data))
    assert out.md5Checksum == md5(data)
    assert out.size == size
    assert drive.content(out.id) == data
    assert drive.file(out.id).md5Checksum == md5(data)
    assert drive.count("upload.multipart") == 1
    assert drive.count("upload.resumable.start") == 0


def test_multipart_upload_sends_type_and_fields(drive, drivecli, tmp_path):
    out = drivecli("upload", drive.root_id, "page.html",
                   write(tmp_path, "p.html", b"<p>hi</p>"),
                   "--mime", "text/html")
    assert drive.file(out.id).mimeType == "text/html"
    (req,) = requests_of(drive, "upload.multipart")
    assert req["query"]["uploadType"] == "multipart"
    assert "md5Checksum" in req["query"]["fields"].split(",")


@pytest.mark.parametrize("size", [5 * MIB + 1, 20 * MIB + 3, 64 * MIB + 5])
def test_resumable_upload_stores_the_bytes(drive, drivecli, tmp_path, size):
    data = blob(size, seed=size)
    out = drivecli("upload", drive.root_id, "big.bin",
                   write(tmp_path, "big.bin", data))
    assert out.md5Checksum == md5(data)
    assert drive.content(out.id) == data
    assert drive.count("upload.resumable.start") == 1
    assert drive.count("upload.resumable.chunk") == -(-size // CHUNK)


def test_resumable_chunks_are_256k_multiples(drive, drivecli, tmp_path):
    """--chunk-size 256 KiB: the emulator refuses any non-final chunk that
    is not a multiple of 256 KiB, as Drive does."""
    data = blob(6 * MIB + 7, seed=9)
    out = drivecli("upload", drive.root_id, "c.bin",
                   write(tmp_path, "c.bin", data),
                   opts=["--chunk-size", str(256 * 1024)])
    assert out.md5Checksum == md5(data)
    assert drive.count("upload.resumable.chunk") == 25


def test_resumable_upload_survives_drops_mid_chunk(drive, drivecli,
                                                   tmp_path):
    data = blob(20 * MIB + 3, seed=11)
    drive.fault(kind="upload.resumable.chunk", action="drop_mid_body",
                count=3)
    out = drivecli("upload", drive.root_id, "dropped.bin",
                   write(tmp_path, "d.bin", data))
    assert out.md5Checksum == md5(data)
    assert drive.content(out.id) == data
    assert drive.count("upload.resumable.start") == 1   # same session
    assert [f.id for f in drive.tree() if f.name == "dropped.bin"] == \
        [out.id]


def test_resumable_upload_resumes_after_a_5xx_on_a_chunk(drive, drivecli,
                                                         tmp_path):
    data = blob(12 * MIB, seed=12)
    drive.fault(kind="upload.resumable.chunk", status=503, count=1)
    out = drivecli("upload", drive.root_id, "five.bin",
                   write(tmp_path, "f.bin", data))
    assert out.md5Checksum == md5(data)
    assert drive.count("upload.resumable.start") == 1


def open_session(drive, name, size):
    """Start a resumable upload as an earlier run of the client would have
    (the session URL is what the uploader persists)."""
    r = drive.api("POST", "/upload/drive/v3/files",
                  params={"uploadType": "resumable",
                          "fields": "id,name,md5Checksum"},
                  json={"name": name, "parents": [drive.root_id]},
                  headers={"X-Upload-Content-Length": str(size),
                           "X-Upload-Content-Type":
                               "application/octet-stream"})
    assert r.status == 200, r
    return r.header("Location")


def test_resumable_upload_continues_a_stored_session(drive, drivecli,
                                                     tmp_path):
    """An earlier run sent the first chunk; this one asks the session where
    it is, hashes the bytes the server already holds from the file, and
    sends only the rest."""
    data = blob(20 * MIB + 9, seed=15)
    first = 8 * MIB  # what the earlier run sent
    url = open_session(drive, "half.bin", len(data))
    r = drive.request("PUT", url[url.index("/upload/"):],
                      body=data[:first], headers={
                          "Authorization": "Bearer " + drive.token(),
                          "Content-Range": "bytes 0-%d/%d" % (first - 1,
                                                              len(data))})
    assert r.status == 308
    drive.reset_stats()
    out = drivecli("upload", drive.root_id, "half.bin",
                   write(tmp_path, "h.bin", data), "--session-url", url)
    assert out.md5Checksum == md5(data)
    assert drive.content(out.id) == data
    assert drive.count("upload.resumable.start") == 0
    # One status query, then the chunks of the rest.
    assert drive.count("upload.resumable.chunk") == \
        1 + -(-(len(data) - first) // CHUNK)
    assert drive.stats()["bytes_up"] < len(data) - first + 64 * 1024


def test_resumable_upload_restarts_when_the_session_is_gone(drive, drivecli,
                                                            tmp_path):
    data = blob(12 * MIB, seed=13)
    url = open_session(drive, "lost.bin", len(data))
    drive.expire_uploads()
    drive.reset_stats()
    out = drivecli("upload", drive.root_id, "lost.bin",
                   write(tmp_path, "l.bin", data), "--session-url", url)
    assert out.md5Checksum == md5(data)
    assert drive.content(out.id) == data
    assert drive.count("upload.resumable.start") == 1
    assert [f.id for f in drive.tree() if f.name == "lost.bin"] == [out.id]


def test_stored_session_on_another_host_is_not_used(drive, drivecli,
                                                    tmp_path):
    """The session URL gets our token: one that is not on the API host is
    dropped and a new session started."""
    data = blob(6 * MIB, seed=16)
    out = drivecli("upload", drive.root_id, "host.bin",
                   write(tmp_path, "s.bin", data), "--session-url",
                   "http://127.0.0.2:9/upload/drive/v3/files?upload_id=x")
    assert out.md5Checksum == md5(data)
    assert drive.count("upload.resumable.start") == 1
    assert b"not on the API host" in drivecli.stderr


def test_update_content_keeps_the_id(drive, drivecli, tmp_path):
    f = drive.seed("content/keep.txt", b"old")
    for size, name in ((3, "small"), (6 * MIB, "large")):
        data = blob(size, seed=size + 1)
        out = drivecli("update", f.id, write(tmp_path, name, data))
        assert out.id == f.id and out.name == "keep.txt"
        assert out.md5Checksum == md5(data)
        assert drive.content(f.id) == data
    assert int(drive.file(f.id).version) > int(f.version)
    assert drive.count("files.create") == 0


def test_upload_with_generated_id(drive, drivecli, tmp_path):
    (gid,) = drivecli("genids", 1).ids
    out = drivecli("upload", drive.root_id, "gen.bin",
                   write(tmp_path, "g.bin", b"gen"), "--id", gid)
    assert out.id == gid
    assert drive.content(gid) == b"gen"


@pytest.mark.parametrize("kind,size", [("upload.multipart", 1000),
                                       ("upload.resumable.chunk", 6 * MIB)])
def test_upload_whose_reply_is_lost_creates_one_file(drive, drivecli,
                                                     tmp_path, kind, size):
    data = blob(size, seed=14)
    drive.fault(kind=kind, action="drop_after", count=1)
    out = drivecli("upload", drive.root_id, "once.bin",
                   write(tmp_path, "o.bin", data))
    assert out.md5Checksum == md5(data)
    assert [f.id for f in drive.tree() if f.name == "once.bin"] == [out.id]


def test_upload_of_a_missing_parent_is_enoent(drive, drivecli, tmp_path):
    err = drivecli.fail("upload", "1NoSuchFolder", "x.bin",
                        write(tmp_path, "x.bin", b"x"))
    assert err.error == "ENOENT"
