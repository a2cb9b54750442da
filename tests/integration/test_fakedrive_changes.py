"""Fidelity tests of the changes feed.

References: changes.getStartPageToken, changes.list (pageToken required,
pageSize 1..1000, includeRemoved default true), ChangeList ("nextPageToken
... absent if the end of the changes list has been reached";
"newStartPageToken ... present only if the end ... has been reached"),
Change (removed, file present unless removed), guides/manage-changes."""

import pytest


@pytest.fixture
def drive(shared_drive):
    return shared_drive


def start_token(drive):
    r = drive.api("GET", "/drive/v3/changes/startPageToken")
    assert r.status == 200
    body = r.json()
    assert body["kind"] == "drive#startPageToken"
    return body["startPageToken"]


def changes(drive, token, **params):
    params["pageToken"] = token
    r = drive.api("GET", "/drive/v3/changes", params=params)
    assert r.status == 200, r
    return r.json()


def drain(drive, token, **params):
    out = []
    while True:
        body = changes(drive, token, **params)
        out += body["changes"]
        if "newStartPageToken" in body:
            return out, body["newStartPageToken"]
        token = body["nextPageToken"]


def test_default_change_shape(drive):
    tok = start_token(drive)
    f = drive.seed("a.txt", b"x")
    body = changes(drive, tok)
    assert set(body) == {"kind", "newStartPageToken", "changes"}
    assert body["kind"] == "drive#changeList"
    (ch,) = body["changes"]
    assert ch["kind"] == "drive#change" and ch["changeType"] == "file"
    assert ch["removed"] is False and ch["fileId"] == f.id
    assert ch["time"].endswith("Z")
    assert ch["file"] == {"kind": "drive#file", "id": f.id, "name": "a.txt",
                          "mimeType": "text/plain"}


def test_no_changes_returns_same_start_token(drive):
    tok = start_token(drive)
    body = changes(drive, tok)
    assert body["changes"] == [] and body["newStartPageToken"] == tok


def test_next_page_token_versus_new_start_page_token(drive):
    tok = start_token(drive)
    for i in range(5):
        drive.seed("f%d" % i, b"")
    first = changes(drive, tok, pageSize=2)
    assert len(first["changes"]) == 2
    assert "nextPageToken" in first and "newStartPageToken" not in first
    got, new_start = drain(drive, tok, pageSize=2)
    assert [c["file"]["name"] for c in got] == ["f%d" % i for i in range(5)]
    assert changes(drive, new_start)["changes"] == []


def test_a_page_lists_each_file_once_with_latest_state(drive):
    tok = start_token(drive)
    f = drive.seed("a.txt", b"1")
    drive.api("PATCH", "/drive/v3/files/" + f.id, json={"name": "b.txt"})
    drive.act("edit", id=f.id, content=b"2")
    got, _ = drain(drive, tok, fields="changes(fileId,file(name,md5Checksum)),"
                                      "newStartPageToken,nextPageToken")
    assert len(got) == 1
    assert got[0]["file"]["name"] == "b.txt"
    assert got[0]["file"]["md5Checksum"] == drive.file(f.id)["md5Checksum"]


def test_delete_is_a_removed_change_without_file(drive):
    f = drive.seed("a.txt", b"1")
    tok = start_token(drive)
    assert drive.api("DELETE", "/drive/v3/files/" + f.id).status == 204
    (ch,) = changes(drive, tok)["changes"]
    assert ch["removed"] is True and ch["fileId"] == f.id
    assert "file" not in ch
    assert changes(drive, tok, includeRemoved="false")["changes"] == []


def test_trash_is_a_change_with_trashed_file(drive):
    f = drive.seed("a.txt", b"1")
    tok = start_token(drive)
    drive.api("PATCH", "/drive/v3/files/" + f.id, json={"trashed": True})
    (ch,) = changes(drive, tok, fields="changes(removed,file(trashed)),"
                                       "newStartPageToken")["changes"]
    assert ch == {"removed": False, "file": {"trashed": True}}


def test_other_client_edit_shows_new_md5_and_modifier(drive):
    f = drive.seed("a.txt", b"mine")
    tok = start_token(drive)
    drive.act("edit", id=f.id, content=b"theirs")
    (ch,) = changes(drive, tok, fields="changes(file(md5Checksum,version,"
                                       "lastModifyingUser(emailAddress)))"
                                       )["changes"]
    file = ch["file"]
    assert file["md5Checksum"] != f.md5Checksum
    assert int(file["version"]) > int(f.version)
    assert file["lastModifyingUser"] == {"emailAddress": "other@example.com"}


def test_move_and_rename_by_other_client_are_changes(drive):
    f = drive.seed("a/x.txt", b"")
    b = drive.seed("b/")
    tok = start_token(drive)
    drive.act("move", id=f.id, parent=b.id)
    drive.act("rename", id=f.id, name="y.txt")
    (ch,) = changes(drive, tok, fields="changes(file(name,parents))"
                    )["changes"]
    assert ch["file"] == {"name": "y.txt", "parents": [b.id]}


def test_page_token_is_required_and_validated(drive):
    r = drive.api("GET", "/drive/v3/changes")
    assert r.status == 400
    assert r.json()["error"]["errors"][0]["reason"] == "required"
    r = drive.api("GET", "/drive/v3/changes", params={"pageToken": "abc"})
    assert r.status == 400
