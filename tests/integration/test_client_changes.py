"""drive/changes.c against the emulator: the start token, the changes made
by "another client" (the control API's act), removals, paging past 1000
changes, and the token to poll with next."""

import pytest

FILE_FIELDS = ("id,name,mimeType,parents,size,version,createdTime,"
               "modifiedTime,md5Checksum,headRevisionId,trashed,"
               "appProperties,shortcutDetails,capabilities/canEdit")


def by_id(changes):
    out = {}
    for c in changes:
        out.setdefault(c.fileId, []).append(c)
    return out


def test_no_changes_since_a_fresh_token(drive, drivecli):
    drive.seed("c/a.txt", b"a")
    tok = drivecli("changes-token").token
    out = drivecli("changes", tok)
    assert out.changes == []
    assert out.next == tok


def test_changes_made_by_another_client(drive, drivecli):
    edited = drive.seed("c/edit.txt", b"old")
    renamed = drive.seed("c/old-name.txt", b"r")
    trashed = drive.seed("c/trash.txt", b"t")
    deleted = drive.seed("c/delete.txt", b"d")
    tok = drivecli("changes-token").token
    drive.act("edit", id=edited.id, content=b"new bytes")
    drive.act("rename", id=renamed.id, name="new-name.txt")
    drive.act("trash", id=trashed.id)
    drive.act("delete", id=deleted.id)
    made = drive.act("create", path="c/made-elsewhere.txt", content=b"m")

    out = drivecli("changes", tok)
    seen = by_id(out.changes)
    last = {fid: cs[-1] for fid, cs in seen.items()}
    assert set(last) >= {edited.id, renamed.id, trashed.id, deleted.id,
                         made.id}
    assert last[edited.id].file.md5Checksum == drive.file(edited.id)[
        "md5Checksum"]
    assert last[edited.id].file.size == len(b"new bytes")
    assert last[renamed.id].file.name == "new-name.txt"
    assert last[trashed.id].removed is False
    assert last[trashed.id].file.trashed is True
    assert last[deleted.id].removed is True
    assert last[deleted.id].file is None
    assert last[made.id].file.name == "made-elsewhere.txt"
    assert all(c.time for c in out.changes)

    # The token to poll with next sees nothing new, then the next edit.
    assert drivecli("changes", out.next).changes == []
    drive.act("rename", id=edited.id, name="edited.txt")
    again = drivecli("changes", out.next)
    assert [c.fileId for c in again.changes] == [edited.id]


def test_changes_walk_every_page_past_1000(drive, drivecli):
    tok = drivecli("changes-token").token
    made = drive.seed_many([{"path": "many/f%04d.txt" % i, "content": "x"}
                            for i in range(1200)])
    drive.reset_stats()
    out = drivecli("changes", tok)
    assert {f.id for f in made} <= {c.fileId for c in out.changes}
    pages = [e for e in drive.stats()["log"] if e["kind"] == "changes.list"]
    assert len(pages) == 2
    for p in pages:
        q = p["query"]
        assert q["pageSize"] == "1000"
        assert q["includeRemoved"] == "true"
        assert q["fields"] == ("nextPageToken,newStartPageToken,changes("
                               "changeType,fileId,removed,time,file(%s))"
                               % FILE_FIELDS)
    assert pages[0]["query"]["pageToken"] == tok
    assert pages[1]["query"]["pageToken"] != tok


def test_bad_page_token_is_einval(drivecli):
    err = drivecli.fail("changes", "not-a-token")
    assert err.error == "EINVAL" and err.status == 400


@pytest.mark.parametrize("action", ["malformed_json", "truncate_body"])
def test_bad_changes_page_is_an_error_not_a_crash(drive, drivecli, action):
    drive.seed("c/x.txt", b"x")
    tok = drivecli("changes-token").token
    drive.act("rename", id=drive.by_path("c/x.txt").id, name="y.txt")
    drive.fault(kind="changes.list", action=action, count=8)
    err = drivecli.fail("changes", tok, opts=["--max-retries", "3"])
    assert err.error == "EIO"
