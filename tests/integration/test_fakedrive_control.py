"""Tests of the emulator's control API: faults, quotas, latency, bandwidth,
stats, seeding, acting as another client, reset and persistence.

The rate-limit and quota errors follow the Drive reference
(guides/handle-errors: 403 userRateLimitExceeded and storageQuotaExceeded,
domain usageLimits)."""

import http.client
import json
import os
import stat
import time

import pytest


@pytest.fixture
def sdrive(shared_drive):
    return shared_drive


def list_files(drive, **params):
    return drive.api("GET", "/drive/v3/files", params=params)


# ------------------------------------------------------------------ faults

def test_fault_count_then_success(sdrive):
    sdrive.fault(kind="files.list", count=2, status=503,
                 reason="backendError", retry_after=7)
    r = list_files(sdrive)
    assert r.status == 503 and r.header("Retry-After") == "7"
    assert r.json()["error"]["errors"][0]["reason"] == "backendError"
    assert list_files(sdrive).status == 503
    assert list_files(sdrive).status == 200
    assert sdrive.count("files.list") == 3


def test_fault_kind_pattern_and_path_filter(sdrive):
    a = sdrive.seed("a", b"A")
    b = sdrive.seed("b", b"B")
    sdrive.fault(kind="files.get*", path_contains=a.id, status=500,
                 reason="internalError", probability=1.0)
    media = {"alt": "media"}
    assert sdrive.api("GET", "/drive/v3/files/" + a.id,
                      params=media).status == 500
    assert sdrive.api("GET", "/drive/v3/files/" + b.id,
                      params=media).status == 200
    sdrive.clear_faults()
    assert sdrive.api("GET", "/drive/v3/files/" + a.id,
                      params=media).status == 200


def test_fault_drop_closes_without_response(sdrive):
    sdrive.fault(kind="files.list", count=1, action="drop")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        list_files(sdrive)
    assert list_files(sdrive).status == 200


def test_fault_drop_after_applies_the_request(sdrive):
    sdrive.fault(kind="files.create", count=1, action="drop_after")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        sdrive.api("POST", "/drive/v3/files", json={"name": "made.txt"})
    assert sdrive.by_path("made.txt") is not None


def test_fault_truncate_body_on_download(sdrive):
    f = sdrive.seed("t.bin", b"x" * 1000)
    sdrive.fault(kind="files.get.media", count=1, action="truncate_body",
                 bytes=100)
    with pytest.raises(http.client.IncompleteRead) as e:
        sdrive.api("GET", "/drive/v3/files/" + f.id,
                   params={"alt": "media"})
    assert len(e.value.partial) == 100


def test_fault_drop_mid_body_on_download(sdrive):
    f = sdrive.seed("t.bin", b"y" * 100000)
    sdrive.fault(kind="files.get.media", count=1, action="drop_mid_body")
    with pytest.raises((http.client.IncompleteRead, ConnectionError)):
        sdrive.api("GET", "/drive/v3/files/" + f.id,
                   params={"alt": "media"})


def test_fault_malformed_json(sdrive):
    sdrive.fault(kind="files.list", count=1, action="malformed_json")
    r = list_files(sdrive)
    assert r.status == 200
    with pytest.raises(ValueError):
        json.loads(r.body)
    assert list_files(sdrive).json()["kind"] == "drive#fileList"


def test_fault_delay(sdrive):
    sdrive.fault(kind="about.get", count=1, action="delay", delay_ms=300)
    t = time.monotonic()
    r = sdrive.api("GET", "/drive/v3/about", params={"fields": "kind"})
    assert r.status == 200 and time.monotonic() - t >= 0.3


def test_fault_on_token_endpoint(sdrive):
    sdrive.fault(kind="oauth.token", count=1, status=500,
                 reason="internalError")
    with pytest.raises(Exception):
        sdrive.token(fresh=True)
    assert sdrive.token(fresh=True)


def test_qps_quota_gives_user_rate_limit_exceeded(sdrive):
    sdrive.config(qps=3)
    statuses = [list_files(sdrive).status for _ in range(8)]
    assert statuses[:3] == [200, 200, 200]
    assert 403 in statuses
    sdrive.config(qps=0)
    sdrive.config(qps=1)
    list_files(sdrive)
    r = list_files(sdrive)
    assert r.status == 403
    assert r.json()["error"]["errors"][0] == {
        "message": "User Rate Limit Exceeded", "domain": "usageLimits",
        "reason": "userRateLimitExceeded"}


def test_storage_quota_exceeded(sdrive):
    sdrive.config(quota_limit=100)
    r = sdrive.api("POST", "/upload/drive/v3/files",
                   params={"uploadType": "media"}, data=b"x" * 200)
    assert r.status == 403
    err = r.json()["error"]["errors"][0]
    assert err["reason"] == "storageQuotaExceeded"
    assert err["domain"] == "usageLimits"
    r = sdrive.api("GET", "/drive/v3/about",
                   params={"fields": "storageQuota(limit)"})
    assert r.json() == {"storageQuota": {"limit": "100"}}


# --------------------------------------------------- latency and bandwidth

def test_latency_config(sdrive):
    sdrive.config(latency_ms=200)
    t = time.monotonic()
    assert list_files(sdrive).status == 200
    assert time.monotonic() - t >= 0.2
    t = time.monotonic()
    sdrive.stats()                       # control calls are not delayed
    assert time.monotonic() - t < 0.2


def test_bandwidth_config(sdrive):
    f = sdrive.seed("bw.bin", b"b" * 300000)
    sdrive.config(bandwidth=1000000)
    t = time.monotonic()
    r = sdrive.api("GET", "/drive/v3/files/" + f.id, params={"alt": "media"})
    assert r.body == b"b" * 300000
    assert time.monotonic() - t >= 0.25


# ------------------------------------------------------------------- stats

def test_stats_count_kinds_bytes_and_log(sdrive):
    f = sdrive.seed("s.txt", b"12345")
    sdrive.reset_stats()
    sdrive.token(fresh=True)
    sdrive.api("GET", "/drive/v3/files", params={"fields": "files(id)"})
    sdrive.api("GET", "/drive/v3/files/" + f.id, params={"alt": "media"})
    sdrive.api("POST", "/upload/drive/v3/files",
               params={"uploadType": "media"}, data=b"abc")
    sdrive.api("GET", "/drive/v3/files/generateIds")
    st = sdrive.stats()
    assert st["requests"] == {"oauth.token": 1, "files.list": 1,
                              "files.get.media": 1, "upload.media": 1,
                              "files.generateIds": 1}
    assert st["total"] == 5
    assert st["bytes_up"] >= 3 and st["bytes_down"] >= 5
    entry = st["log"][1]
    assert entry == {"kind": "files.list", "method": "GET",
                     "path": "/drive/v3/files",
                     "query": {"fields": "files(id)"}, "status": 200}
    assert sdrive.count("files.list") == 1


def test_stats_never_log_tokens(sdrive):
    token = sdrive.token()
    sdrive.api("GET", "/drive/v3/files", token="",
               params={"access_token": token})
    assert token not in json.dumps(sdrive.stats())


# -------------------------------------------------------- seed, tree, act

def test_seed_tree_and_paths(sdrive):
    a = sdrive.seed("p/q/r.txt", b"1")
    sdrive.seed("p/q/r.txt", b"2")                      # a duplicate
    doc = sdrive.seed("p/Doc", "text", mimeType=
                      "application/vnd.google-apps.document")
    sdrive.seed("p/old.txt", b"", trashed=True)
    tree = sdrive.tree()
    paths = sorted(f["path"] for f in tree)
    assert paths == ["p", "p/Doc", "p/old.txt", "p/q", "p/q/r.txt",
                     "p/q/r.txt"]
    assert sdrive.by_path("p/q/r.txt")["id"] == a.id
    assert sdrive.by_path("p/old.txt") is None
    assert sdrive.by_path("p/old.txt", trashed=True)["trashed"] is True
    assert "md5Checksum" not in doc
    assert sdrive.content(a.id) == b"1"


def test_tree_under_a_folder(sdrive):
    sdrive.seed("p/q/r.txt", b"1")
    sdrive.seed("p/s.txt", b"2")
    sdrive.seed("pq/t.txt", b"3")                       # a prefix, not below
    assert [f["path"] for f in sdrive.tree(under="p")] == [
        "p/q", "p/q/r.txt", "p/s.txt"]
    assert [f["path"] for f in sdrive.tree(under="p/q/")] == ["p/q/r.txt"]
    assert sdrive.tree(under="none") == []


def test_seed_with_explicit_times_and_id(sdrive):
    f = sdrive.seed("t.txt", b"", id="1seededIdForTests",
                    createdTime="2020-01-02T03:04:05Z",
                    modifiedTime="2021-01-02T03:04:05.5Z")
    assert f.id == "1seededIdForTests"
    assert f.createdTime == "2020-01-02T03:04:05.000Z"
    assert f.modifiedTime == "2021-01-02T03:04:05.500Z"


def test_act_as_other_client(sdrive):
    f = sdrive.seed("w.txt", b"v1")
    edited = sdrive.act("edit", id=f.id, content=b"v2")
    assert edited.md5Checksum != f.md5Checksum
    assert int(edited.version) > int(f.version)
    assert edited.lastModifyingUser["emailAddress"] == "other@example.com"
    assert sdrive.content(f.id) == b"v2"
    assert sdrive.act("rename", id=f.id, name="x.txt").name == "x.txt"
    d = sdrive.seed("d/")
    assert sdrive.act("move", id=f.id, parent=d.id).path == "d/x.txt"
    assert sdrive.act("trash", id=f.id).trashed is True
    assert sdrive.act("untrash", id=f.id).trashed is False
    made = sdrive.act("create", path="d/new.txt", content=b"n")
    assert made.owners[0]["emailAddress"] == "user@example.com"
    assert made.lastModifyingUser["emailAddress"] == "other@example.com"
    sdrive.act("delete", id=f.id)
    assert [x["path"] for x in sdrive.tree()] == ["d", "d/new.txt"]


def test_reset_empties_drive_and_restores_config(sdrive):
    sdrive.seed("a", b"")
    sdrive.config(latency_ms=5)
    sdrive.fault(kind="*", count=100)
    sdrive.reset()
    assert sdrive.tree() == []
    assert sdrive.config()["latency_ms"] == 0
    assert list_files(sdrive).status == 200


# -------------------------------------------------------- process fixtures

def test_restart_keeps_tree_and_tokens(drive):
    f = drive.seed("keep/me.txt", b"persist")
    token = drive.token()
    drive.restart()
    assert drive.by_path("keep/me.txt")["id"] == f.id
    assert drive.content(f.id) == b"persist"
    r = drive.api("GET", "/drive/v3/files/" + f.id, token=token)
    assert r.status == 200


def test_sigterm_exits_cleanly(drive):
    drive.stop()
    assert drive.proc.returncode == 0


def test_creds_file_fixture(creds_file, drive):
    assert stat.S_IMODE(os.stat(creds_file).st_mode) == 0o600
    creds = json.loads(creds_file.read_text())
    assert creds["type"] == "authorized_user"
    assert creds["refresh_token"] == drive.credentials()["refresh_token"]
