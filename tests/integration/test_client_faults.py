"""How drive/ (on http.c) rides out server faults: rate limits and 5xx are
retried to success, exhausted retries and malformed replies end in a clear
error (never a crash), and an access token the server stopped accepting is
refreshed without the caller noticing."""

import json
import subprocess
import time

import pytest

from fakedrive_ctl import _attr


@pytest.fixture
def seeded(drive):
    return drive.seed("faults/a.txt", b"abc")


@pytest.mark.parametrize("status,reason", [
    (403, "userRateLimitExceeded"), (403, "rateLimitExceeded"),
    (429, "rateLimitExceeded"), (500, "internalError"),
    (502, "backendError"), (503, "backendError"), (504, "backendError")])
def test_transient_errors_are_retried_to_success(drive, drivecli, seeded,
                                                 status, reason):
    drive.fault(kind="files.get", status=status, reason=reason, count=2)
    out = drivecli("get", seeded.id)
    assert out.id == seeded.id
    assert drive.count("files.get") == 3


def test_rate_limit_during_a_listing_is_retried(drive, drivecli):
    folder = drive.seed("rl/")
    drive.seed_many([{"name": "f%d" % i, "parent": folder.id}
                     for i in range(1500)])
    drive.fault(kind="files.list", status=403,
                reason="userRateLimitExceeded", count=1,
                path_contains="pageToken")
    assert drivecli("ls", folder.id).count == 1500
    assert drive.count("files.list") == 3


def test_exhausted_retries_end_in_eio_with_the_last_error(drive, drivecli,
                                                          seeded):
    drive.fault(kind="files.get", status=503, reason="backendError")
    err = drivecli.fail("get", seeded.id, opts=["--max-retries", "2"])
    assert err.error == "EIO"
    assert err.status == 503 and err.reason == "backendError"
    assert err.attempts == 3
    assert drive.count("files.get") == 3


def test_permission_errors_are_not_retried(drive, drivecli, seeded):
    drive.fault(kind="files.get", status=403,
                reason="insufficientFilePermissions", count=1)
    err = drivecli.fail("get", seeded.id)
    assert err.error == "EACCES" and err.attempts == 1


def test_quota_exceeded_is_edquot(drive, drivecli, tmp_path):
    drive.fault(kind="upload.multipart", status=403,
                reason="storageQuotaExceeded", count=1)
    p = tmp_path / "q.bin"
    p.write_bytes(b"q")
    err = drivecli.fail("upload", drive.root_id, "q.bin", p)
    assert err.error == "EDQUOT"


@pytest.mark.parametrize("kind,args", [
    ("files.list", ("ls", "root")),
    ("files.get", ("get", "root")),
    ("about.get", ("about",)),
    ("changes.getStartPageToken", ("changes-token",)),
    ("files.generateIds", ("genids", "2"))])
def test_malformed_json_is_a_clear_error(drive, drivecli, kind, args):
    # A GET answered with cut-off JSON is asked again (3 more times).
    drive.fault(kind=kind, action="malformed_json", count=1)
    drivecli(*args)
    assert drive.count(kind) == 2
    # Every time: then it is a clear error.
    drive.fault(kind=kind, action="malformed_json")
    err = drivecli.fail(*args)
    assert err.error == "EIO"
    assert err.reason == "malformedResponse"
    assert "not JSON" in err.message
    assert drive.count(kind) == 2 + 4


def test_truncated_reply_is_retried(drive, drivecli, seeded):
    drive.fault(kind="files.get", action="truncate_body", count=1)
    assert drivecli("get", seeded.id).id == seeded.id
    assert drive.count("files.get") == 2


def test_dropped_connection_is_retried_for_a_get(drive, drivecli, seeded):
    drive.fault(kind="files.get", action="drop", count=2)
    assert drivecli("get", seeded.id).id == seeded.id


def test_refused_token_is_refreshed_once_and_the_call_goes_on(drive,
                                                              drivecli,
                                                              seeded):
    drive.fault(kind="files.get", status=401, reason="authError", count=1)
    assert drivecli("get", seeded.id).id == seeded.id
    assert drive.count("oauth.token") == 2


def test_token_expired_on_the_server_is_refreshed_transparently(
        drive, drivecli, creds_file, seeded):
    """The access token expires (control API tokens/expire) between the
    client fetching it and using it: the 401 makes the client refresh and
    resend, and the caller sees a plain success. The first files.get is
    held in the emulator (a delay fault) until the test has expired the
    tokens, so the order is fixed without sleeping in the test."""
    drive.fault(kind="files.get", action="delay", delay_ms=4000, count=1)
    cmd = [str(drivecli.binary), "--api-url", drive.url, "--token-url",
           drive.token_url, "--credentials", str(creds_file),
           "--backoff-base-ms", "10", "get", seeded.id]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 10
        while drive.count("oauth.token") < 1:
            assert time.monotonic() < deadline, "no token request"
            assert proc.poll() is None, proc.communicate()
        drive.expire_tokens()
        out, errout = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 0, (out, errout)
    assert _attr(json.loads(out)).id == seeded.id
    assert drive.count("oauth.token") == 2
    assert [e["status"] for e in drive.stats()["log"]
            if e["kind"] == "files.get"] == [401, 200]
    assert b"ya29." not in errout


def test_md5_mismatch_is_not_reported_for_a_good_upload_after_retries(
        drive, drivecli, tmp_path):
    """A multipart upload retried after 503s: the MD5 is reset with each
    resend (the tap), so the final check compares one copy of the bytes."""
    data = bytes(range(256)) * 4000
    p = tmp_path / "r.bin"
    p.write_bytes(data)
    drive.fault(kind="upload.multipart", status=503, count=2)
    out = drivecli("upload", drive.root_id, "r.bin", p)
    assert drive.content(out.id) == data
    assert drive.count("upload.multipart") == 3
