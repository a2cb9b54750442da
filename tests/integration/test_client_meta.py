"""drive/ metadata calls (files.c, drive.c) against the emulator, through
tests/tools/drivecli: what the client returns, what Drive then holds, and
what the client asked for (fields, pageSize, resends)."""

import pytest

from fakedrive_ctl import ControlError

FILE_FIELDS = ("id,name,mimeType,parents,size,version,createdTime,"
               "modifiedTime,md5Checksum,headRevisionId,trashed,"
               "appProperties,shortcutDetails,capabilities/canEdit")
FOLDER = "application/vnd.google-apps.folder"


def requests_of(drive, kind):
    return [e for e in drive.stats()["log"] if e["kind"] == kind]


def test_about_reports_user_quota_and_root(drive, drivecli):
    out = drivecli("about")
    assert out.email == "user@example.com"
    assert out.rootId == drive.root_id
    assert out.quotaLimit > 0 and out.quotaUsage >= 0
    assert out.maxUploadSize > 0


def test_get_returns_every_field(drive, drivecli):
    f = drive.seed("src/notes.py", b"print(1)\n",
                   appProperties={"mode": "755"})
    out = drivecli("get", f.id)
    assert out.id == f.id
    assert out.name == "notes.py"
    assert out.parent == f.parents[0]
    assert out.size == 9
    assert out.md5Checksum == f.md5Checksum
    assert out.version == int(f.version)
    assert out.headRevisionId == f.headRevisionId
    assert out.createdTime and out.modifiedTime
    assert out.appProperties == {"mode": "755"}
    assert out.canEdit is True and out.trashed is False


def test_get_missing_file_is_enoent(drivecli):
    err = drivecli.fail("get", "1NoSuchFileAtAll")
    assert err.error == "ENOENT"
    assert err.status == 404 and err.reason == "notFound"
    assert err.attempts == 1


def test_get_invalid_id_is_refused_before_any_request(drive, drivecli):
    err = drivecli.fail("get", "../about")
    assert err.error == "EINVAL"
    assert drive.count("files.get") == 0


def test_listing_walks_every_page_of_2500_children(drive, drivecli):
    folder = drive.seed("big/")
    files = drive.seed_many([{"name": "f%04d.txt" % i, "parent": folder.id}
                             for i in range(2500)])
    drive.seed(name="gone.txt", parent=folder.id, trashed=True)
    drive.reset_stats()
    out = drivecli("ls", folder.id)
    assert out.count == 2500
    assert sorted(f.id for f in out.files) == sorted(f.id for f in files)
    assert all(f.parent == folder.id for f in out.files)
    pages = requests_of(drive, "files.list")
    assert len(pages) == 3
    assert all(p["query"]["pageSize"] == "1000" for p in pages)
    assert "pageToken" not in pages[0]["query"]
    assert all("pageToken" in p["query"] for p in pages[1:])
    assert pages[0]["query"]["q"] == \
        "'%s' in parents and trashed = false" % folder.id


@pytest.mark.parametrize("name", [
    "it's.txt", "back\\slash.txt", "both\\'.txt", "caf\u00e9 \u2215 x.txt",
    "a and name = 'b'", "q\"uote"])
def test_find_by_name_quotes_the_query(drive, drivecli, name):
    target = drive.seed(name=name, parent="root", content=b"x")
    drive.seed(name=name + "2", parent="root", content=b"y")
    out = drivecli("find", drive.root_id, name)
    assert [f.id for f in out.files] == [target.id]


def test_list_with_query(drive, drivecli):
    a = drive.seed("q/a.py", b"a")
    drive.seed("q/b.txt", b"b")
    out = drivecli("list", "name contains '.py' and trashed = false")
    assert [f.id for f in out.files] == [a.id]


def test_mkdir_makes_a_folder_in_the_parent(drive, drivecli):
    parent = drive.seed("p/")
    out = drivecli("mkdir", parent.id, "sub dir")
    held = drive.file(out.id)
    assert held.mimeType == FOLDER
    assert held.parents == [parent.id]
    assert held.name == "sub dir"


def test_create_makes_an_empty_file(drive, drivecli):
    out = drivecli("create", drive.root_id, "empty.txt")
    held = drive.file(out.id)
    assert held.name == "empty.txt"
    assert drive.content(out.id) == b""


def test_rename_changes_only_the_name(drive, drivecli):
    f = drive.seed("r/old.txt", b"keep")
    out = drivecli("rename", f.id, "new.txt")
    assert out.id == f.id and out.name == "new.txt"
    held = drive.file(f.id)
    assert held.name == "new.txt" and held.parents == f.parents
    assert drive.content(f.id) == b"keep"


def test_move_uses_add_and_remove_parents(drive, drivecli):
    f = drive.seed("from/x.txt", b"x")
    dest = drive.seed("to/")
    drive.reset_stats()
    out = drivecli("move", f.id, f.parents[0], dest.id)
    assert out.parent == dest.id
    assert drive.file(f.id).parents == [dest.id]
    (upd,) = requests_of(drive, "files.update")
    assert upd["query"]["addParents"] == dest.id
    assert upd["query"]["removeParents"] == f.parents[0]


def test_trash_sets_trashed(drive, drivecli):
    f = drive.seed("t.txt", b"t")
    assert drivecli("trash", f.id).trashed is True
    assert drive.file(f.id).trashed is True


def test_setprop_sets_and_null_deletes_an_app_property(drive, drivecli):
    f = drive.seed("p.txt", b"p", appProperties={"keep": "1", "mode": "644"})
    out = drivecli("setprop", f.id, "mode", "755")
    assert out.appProperties == {"keep": "1", "mode": "755"}
    out = drivecli("setprop", f.id, "mode", "--delete")
    assert out.appProperties == {"keep": "1"}
    assert drive.file(f.id).appProperties == {"keep": "1"}


def test_delete_removes_the_file(drive, drivecli):
    f = drive.seed("d.txt", b"d")
    drivecli("delete", f.id)
    with pytest.raises(ControlError):
        drive.file(f.id)


def test_delete_with_lost_reply_leaves_the_file_gone(drive, drivecli):
    """The reply to a delete that went through is lost; the resend (by
    http.c, or libcurl's own on a reused connection) meets 404: success or
    ENOENT, which drive.h tells callers means "gone"."""
    f = drive.seed("d2.txt", b"d")
    drive.fault(kind="files.delete", action="drop_after", count=1)
    args = ("delete", f.id)
    rc, out = drivecli._run(args, (), 60)
    assert rc == 0 or out.error == "ENOENT", out
    assert drive.count("files.delete") == 2
    with pytest.raises(ControlError):
        drive.file(f.id)


def test_generate_ids_then_create_with_one(drive, drivecli):
    ids = drivecli("genids", 3).ids
    assert len(set(ids)) == 3
    out = drivecli("create", drive.root_id, "gen.txt", "--id", ids[1])
    assert out.id == ids[1]
    assert drive.file(ids[1]).name == "gen.txt"


def test_create_with_a_used_id_is_eexist(drive, drivecli):
    (gid,) = drivecli("genids", 1).ids
    drivecli("create", drive.root_id, "one.txt", "--id", gid)
    err = drivecli.fail("create", drive.root_id, "two.txt", "--id", gid)
    assert err.error == "EEXIST" and err.status == 409


def test_create_with_id_resent_after_lost_reply_creates_once(drive, drivecli):
    (gid,) = drivecli("genids", 1).ids
    drive.fault(kind="files.create", action="drop_after", count=1)
    out = drivecli("mkdir", drive.root_id, "made once", "--id", gid)
    assert out.id == gid
    assert drive.count("files.create") == 2       # the resend met 409
    assert [f.id for f in drive.tree() if f.name == "made once"] == [gid]


def test_create_without_id_takes_one_so_a_resend_makes_no_twin(drive,
                                                              drivecli):
    """libcurl silently resends a request whose reused connection died
    before the reply; with a generated id that resend meets 409, resolved,
    instead of making a second folder."""
    drive.fault(kind="files.create", action="drop_after", count=1)
    out = drivecli("mkdir", drive.root_id, "only once")
    assert drive.count("files.generateIds") == 1
    assert drive.count("files.create") == 2
    assert [f.id for f in drive.tree() if f.name == "only once"] == [out.id]


def test_every_request_names_only_the_fields_it_needs(drive, drivecli):
    f = drive.seed("fields/a.txt", b"a")
    drive.reset_stats()
    drivecli("about")
    drivecli("get", f.id)
    drivecli("ls", f.parents[0])
    drivecli("rename", f.id, "b.txt")
    drivecli("genids", 2)
    tok = drivecli("changes-token").token
    drivecli("changes", tok)
    want = {
        "about.get": "user(emailAddress),storageQuota(limit,usage),"
                     "maxUploadSize",
        "files.get": None,  # "root" -> id, the file -> FILE_FIELDS
        "files.list": "nextPageToken,files(%s)" % FILE_FIELDS,
        "files.update": FILE_FIELDS,
        "files.generateIds": "ids",
        "changes.getStartPageToken": "startPageToken",
        "changes.list": "nextPageToken,newStartPageToken,changes(changeType,"
                        "fileId,removed,time,file(%s))" % FILE_FIELDS,
    }
    log = [e for e in drive.stats()["log"] if e["kind"] in want]
    assert {e["kind"] for e in log} == set(want)
    for e in log:
        if e["kind"] == "files.get":
            assert e["query"]["fields"] in ("id", FILE_FIELDS)
        else:
            assert e["query"]["fields"] == want[e["kind"]], e
