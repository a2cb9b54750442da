"""Fidelity tests of the emulator's Drive v3 metadata API, written from the
reference (developers.google.com/workspace/drive/api/reference/rest/v3 and
the guides named in each test). The same expectations must hold against
real Drive."""

import pytest

FOLDER = "application/vnd.google-apps.folder"


@pytest.fixture
def drive(shared_drive):
    return shared_drive


def get(drive, path, **params):
    return drive.api("GET", path, params=params)


def names(resp):
    return [f["name"] for f in resp.json()["files"]]


# ------------------------------------------------------------------ fields
# Reference: guides/fields-parameter ("Return specific fields"); files.get
# and files.list return only a default subset when fields is not given.

def test_files_get_default_fields_are_kind_id_name_mimetype(drive):
    f = drive.seed("a.txt", b"x")
    r = get(drive, "/drive/v3/files/" + f.id)
    assert r.status == 200
    assert r.json() == {"kind": "drive#file", "id": f.id, "name": "a.txt",
                        "mimeType": "text/plain"}


def test_files_list_default_fields(drive):
    drive.seed("a.txt", b"x")
    body = get(drive, "/drive/v3/files").json()
    assert set(body) == {"kind", "incompleteSearch", "files"}
    assert body["kind"] == "drive#fileList"
    assert body["incompleteSearch"] is False
    assert set(body["files"][0]) == {"kind", "id", "name", "mimeType"}


def test_fields_nested_parentheses_and_slash(drive):
    f = drive.seed("d/a.txt", b"x")
    body = get(drive, "/drive/v3/files",
               q="'%s' in parents" % f.parents[0],
               fields="files(id,owners(emailAddress)),files/parents").json()
    assert body == {"files": [{"id": f.id, "parents": f.parents,
                               "owners": [{"emailAddress":
                                           "user@example.com"}]}]}


def test_fields_omitting_next_page_token_hides_it(drive):
    for i in range(3):
        drive.seed("f%d" % i, b"")
    body = get(drive, "/drive/v3/files", pageSize=1,
               fields="files(id)").json()
    assert "nextPageToken" not in body and len(body["files"]) == 1
    body = get(drive, "/drive/v3/files", pageSize=1,
               fields="nextPageToken,files(id)").json()
    assert body["nextPageToken"]


def test_fields_star_returns_full_resource(drive):
    f = drive.seed("a.txt", b"hello")
    body = get(drive, "/drive/v3/files/" + f.id, fields="*").json()
    for key in ("id", "name", "mimeType", "parents", "trashed",
                "explicitlyTrashed", "createdTime", "modifiedTime", "version",
                "size", "quotaBytesUsed", "md5Checksum", "sha1Checksum",
                "sha256Checksum", "headRevisionId", "owners", "capabilities",
                "webViewLink", "iconLink", "spaces", "ownedByMe",
                "lastModifyingUser", "originalFilename", "fileExtension",
                "fullFileExtension", "modifiedByMeTime"):
        assert key in body, key
    assert body["capabilities"]["canEdit"] is True
    assert body["owners"][0]["me"] is True


@pytest.mark.parametrize("fields,bad", [
    ("nosuchfield", "nosuchfield"),
    ("files(id,bogus)", "bogus"),
    ("items(id,title)", "items"),
])
def test_unknown_field_is_400_invalid_parameter(drive, fields, bad):
    r = get(drive, "/drive/v3/files", fields=fields)
    assert r.status == 400
    err = r.json()["error"]
    assert err["code"] == 400
    assert err["message"] == "Invalid field selection " + bad
    assert err["errors"] == [{
        "message": "Invalid field selection " + bad, "domain": "global",
        "reason": "invalidParameter", "location": "fields",
        "locationType": "parameter"}]


def test_about_requires_fields(drive):
    # Reference: about.get "Required: The fields parameter must be set."
    r = get(drive, "/drive/v3/about")
    assert r.status == 400
    assert r.json()["error"]["errors"][0]["reason"] == "required"
    body = get(drive, "/drive/v3/about",
               fields="user(emailAddress),storageQuota,maxUploadSize").json()
    assert body["user"] == {"emailAddress": "user@example.com"}
    q = body["storageQuota"]
    assert all(isinstance(q[k], str) for k in ("limit", "usage",
                                                "usageInDrive",
                                                "usageInDriveTrash"))
    assert isinstance(body["maxUploadSize"], str)


def test_version_size_quota_are_json_strings(drive):
    # Reference: File resource: version, size, quotaBytesUsed are int64
    # formatted as strings.
    f = drive.seed("a.bin", b"12345")
    body = get(drive, "/drive/v3/files/" + f.id,
               fields="version,size,quotaBytesUsed").json()
    assert body == {"version": body["version"], "size": "5",
                    "quotaBytesUsed": "5"}
    assert isinstance(body["version"], str)


def test_folder_has_no_size_or_checksum(drive):
    folder = drive.seed("dir/")
    body = get(drive, "/drive/v3/files/" + folder.id, fields="*").json()
    assert body["mimeType"] == FOLDER
    for key in ("size", "md5Checksum", "headRevisionId", "fileExtension"):
        assert key not in body


def test_times_are_rfc3339_with_milliseconds(drive):
    f = drive.seed("a", b"", modifiedTime="2026-11-22T10:00:00Z")
    body = get(drive, "/drive/v3/files/" + f.id,
               fields="modifiedTime,createdTime").json()
    assert body["modifiedTime"] == "2026-11-22T10:00:00.000Z"
    assert len(body["createdTime"]) == 24 and body["createdTime"][-1] == "Z"


# ----------------------------------------------------------------------- q
# Reference: guides/ref-search-terms and guides/search-files.

def test_q_in_parents_with_root_alias(drive):
    drive.seed("top.txt", b"")
    drive.seed("dir/inner.txt", b"")
    assert sorted(names(get(drive, "/drive/v3/files",
                            q="'root' in parents"))) == ["dir", "top.txt"]


@pytest.mark.parametrize("name,literal", [
    ("Valentine's Day", r"'Valentine\'s Day'"),
    ("back\\slash", r"'back\\slash'"),
])
def test_q_string_escapes(drive, name, literal):
    drive.seed(name=name, content="x")
    drive.seed(name="other", content="x")
    r = get(drive, "/drive/v3/files", q="name = " + literal)
    assert r.status == 200
    assert names(r) == [name]


def test_q_and_or_not_parentheses(drive):
    drive.seed("a.txt", b"")
    drive.seed("b.txt", b"")
    drive.seed("c/", None)
    q = ("(name = 'a.txt' or name = 'c') and not mimeType = '%s'" % FOLDER)
    assert names(get(drive, "/drive/v3/files", q=q)) == ["a.txt"]
    q = "not (name = 'a.txt' or name = 'b.txt')"
    assert names(get(drive, "/drive/v3/files", q=q)) == ["c"]


def test_q_name_contains_is_prefix_match_on_tokens(drive):
    # Reference: "The contains operator only performs prefix matching for a
    # name term ... HelloWorld ... 'Hello' returns a result, 'World' doesn't"
    drive.seed(name="HelloWorld", content="")
    assert names(get(drive, "/drive/v3/files",
                     q="name contains 'Hello'")) == ["HelloWorld"]
    assert names(get(drive, "/drive/v3/files",
                     q="name contains 'World'")) == []


def test_q_list_includes_trashed_by_default(drive):
    # Reference: files.list "returns *all* files by default, including
    # trashed files ... use trashed=false".
    drive.seed("live.txt", b"")
    drive.seed("gone.txt", b"", trashed=True)
    assert sorted(names(get(drive, "/drive/v3/files"))) == ["gone.txt",
                                                            "live.txt"]
    assert names(get(drive, "/drive/v3/files",
                     q="trashed = false")) == ["live.txt"]
    assert names(get(drive, "/drive/v3/files",
                     q="trashed = true")) == ["gone.txt"]


def test_q_modified_time_comparison(drive):
    drive.seed("old", b"", modifiedTime="2020-01-01T00:00:00Z")
    drive.seed("new", b"", modifiedTime="2025-01-01T00:00:00Z")
    assert names(get(drive, "/drive/v3/files",
                     q="modifiedTime > '2024-01-01T00:00:00'")) == ["new"]
    assert names(get(drive, "/drive/v3/files",
                     q="modifiedTime <= '2020-01-01T00:00:00.000Z'")) == \
        ["old"]


def test_q_app_properties_has(drive):
    drive.seed("x", b"", appProperties={"mode": "755"})
    drive.seed("y", b"", appProperties={"mode": "644"})
    q = "appProperties has { key='mode' and value='755' }"
    assert names(get(drive, "/drive/v3/files", q=q)) == ["x"]


def test_q_mime_type_and_owner(drive):
    drive.seed("d/", None)
    drive.seed("f.txt", b"")
    q = "mimeType = '%s' and 'me' in owners" % FOLDER
    assert names(get(drive, "/drive/v3/files", q=q)) == ["d"]
    q = "mimeType != '%s' and 'user@example.com' in owners" % FOLDER
    assert names(get(drive, "/drive/v3/files", q=q)) == ["f.txt"]


@pytest.mark.parametrize("q", [
    "name = 'unterminated",
    "name == 'x'",
    "title = 'x'",                       # v2 field name
    "trashed = 'false'",                 # boolean must be bare
    "name = 'a' and",
    "(name = 'a'",
    "'x' in name",
    "modifiedTime > 'yesterday'",
    "name = 'bad \\q escape'",
    "appProperties has { key='k' }",
])
def test_invalid_q_is_400_invalid_value(drive, q):
    r = get(drive, "/drive/v3/files", q=q)
    assert r.status == 400
    assert r.json()["error"]["errors"][0] == {
        "message": "Invalid Value", "domain": "global", "reason": "invalid",
        "location": "q", "locationType": "parameter"}


# ------------------------------------------------------------------ paging
# Reference: files.list pageSize (max 1000, larger values coerced),
# pageToken/nextPageToken.

def test_paging_2500_entries_with_page_size_1000(drive):
    folder = drive.seed("big/")
    drive.seed_many([{"name": "f%04d" % i, "parent": folder.id}
                     for i in range(2500)])
    seen, pages, token = [], 0, None
    while True:
        params = {"q": "'%s' in parents" % folder.id, "pageSize": 1000,
                  "fields": "nextPageToken,files(id,name)"}
        if token:
            params["pageToken"] = token
        body = drive.api("GET", "/drive/v3/files", params=params).json()
        pages += 1
        seen += [f["name"] for f in body["files"]]
        token = body.get("nextPageToken")
        if not token:
            break
    assert pages == 3
    assert len(seen) == 2500 and len(set(seen)) == 2500


def test_page_size_above_1000_is_coerced_and_zero_rejected(drive):
    folder = drive.seed("big/")
    drive.seed_many([{"name": "f%d" % i, "parent": folder.id}
                     for i in range(1005)])
    body = get(drive, "/drive/v3/files", q="'%s' in parents" % folder.id,
               pageSize=5000, fields="nextPageToken,files(id)").json()
    assert len(body["files"]) == 1000 and body["nextPageToken"]
    assert get(drive, "/drive/v3/files", pageSize=0).status == 400


def test_paging_is_stable_when_files_are_added_between_pages(drive):
    folder = drive.seed("d/")
    drive.seed_many([{"name": "f%02d" % i, "parent": folder.id}
                     for i in range(30)])
    q = "'%s' in parents" % folder.id
    first = get(drive, "/drive/v3/files", q=q, pageSize=10, orderBy="name",
                fields="nextPageToken,files(name)").json()
    drive.seed_many([{"name": "a%02d" % i, "parent": folder.id}
                     for i in range(5)])
    got = [f["name"] for f in first["files"]]
    token = first["nextPageToken"]
    while token:
        body = get(drive, "/drive/v3/files", q=q, pageSize=10,
                   orderBy="name", pageToken=token,
                   fields="nextPageToken,files(name)").json()
        got += [f["name"] for f in body["files"]]
        token = body.get("nextPageToken")
    assert got == ["f%02d" % i for i in range(30)]


def test_bad_page_token_is_400(drive):
    r = get(drive, "/drive/v3/files", pageToken="garbage")
    assert r.status == 400
    assert r.json()["error"]["errors"][0]["location"] == "pageToken"


# ----------------------------------------------------------------- orderBy

@pytest.mark.parametrize("order,expect", [
    ("name", ["File10", "file2", "folder", "zeta"]),
    ("name desc", ["zeta", "folder", "file2", "File10"]),
    ("name_natural", ["file2", "File10", "folder", "zeta"]),
    ("folder,name", ["folder", "File10", "file2", "zeta"]),
    ("modifiedTime desc", ["zeta", "folder", "file2", "File10"]),
])
def test_order_by(drive, order, expect):
    drive.seed(name="File10", content="", modifiedTime="2020-01-01T00:00:00Z")
    drive.seed(name="file2", content="", modifiedTime="2021-01-01T00:00:00Z")
    drive.seed("folder/", None, modifiedTime="2022-01-01T00:00:00Z")
    drive.seed(name="zeta", content="", modifiedTime="2023-01-01T00:00:00Z")
    assert names(get(drive, "/drive/v3/files", orderBy=order)) == expect


def test_invalid_order_by_is_400(drive):
    r = get(drive, "/drive/v3/files", orderBy="size")
    assert r.status == 400
    assert r.json()["error"]["errors"][0]["location"] == "orderBy"


def test_order_by_with_full_text_is_rejected(drive):
    # Reference: handle-errors badRequest example.
    r = get(drive, "/drive/v3/files", q="fullText contains 'x'",
            orderBy="name")
    assert r.status == 400
    assert r.json()["error"]["errors"][0]["reason"] == "badRequest"


# ------------------------------------------------------- errors and paths

def test_not_found_error_body(drive):
    r = get(drive, "/drive/v3/files/nope")
    assert r.status == 404
    assert r.json() == {"error": {
        "code": 404, "message": "File not found: nope.",
        "errors": [{"message": "File not found: nope.", "domain": "global",
                    "reason": "notFound", "location": "fileId",
                    "locationType": "parameter"}]}}


def test_unknown_path_is_404(drive):
    assert get(drive, "/drive/v3/nothing").status == 404
    assert get(drive, "/elsewhere").status == 404


def test_root_alias_resolves_to_real_root_id(drive):
    body = get(drive, "/drive/v3/files/root", fields="id,name,mimeType").json()
    assert body["id"] == drive.root_id and body["id"].startswith("0A")
    assert body["mimeType"] == FOLDER


# -------------------------------------------------------- create / update

def test_duplicates_are_allowed_in_one_folder(drive):
    a = drive.seed("same.txt", b"1")
    b = drive.seed("same.txt", b"2")
    assert a.id != b.id
    r = drive.api("POST", "/drive/v3/files", json={"name": "same.txt"})
    assert r.status == 200
    assert sorted(names(get(drive, "/drive/v3/files",
                            q="name = 'same.txt'"))) == ["same.txt"] * 3


def test_create_folder_and_child(drive):
    r = drive.api("POST", "/drive/v3/files",
                  params={"fields": "id,mimeType,parents"},
                  json={"name": "dir", "mimeType": FOLDER})
    folder = r.json()
    assert folder["mimeType"] == FOLDER and folder["parents"] == [
        drive.root_id]
    r = drive.api("POST", "/drive/v3/files", params={"fields": "*"},
                  json={"name": "e.txt", "parents": [folder["id"]]})
    child = r.json()
    assert child["parents"] == [folder["id"]]
    assert child["size"] == "0"
    assert child["md5Checksum"] == "d41d8cd98f00b204e9800998ecf8427e"


def test_create_under_missing_parent_is_404(drive):
    r = drive.api("POST", "/drive/v3/files",
                  json={"name": "x", "parents": ["missing"]})
    assert r.status == 404


def test_update_rename_bumps_version(drive):
    f = drive.seed("a.txt", b"x")
    r = drive.api("PATCH", "/drive/v3/files/" + f.id,
                  params={"fields": "name,version"}, json={"name": "b.txt"})
    assert r.json()["name"] == "b.txt"
    assert int(r.json()["version"]) > int(f.version)


def test_move_with_add_and_remove_parents(drive):
    f = drive.seed("a/x.txt", b"")
    b = drive.seed("b/")
    r = drive.api("PATCH", "/drive/v3/files/" + f.id,
                  params={"addParents": b.id, "removeParents": f.parents[0],
                          "fields": "parents"}, json={})
    assert r.json() == {"parents": [b.id]}
    assert drive.by_path("b/x.txt")["id"] == f.id


def test_second_parent_is_refused(drive):
    # A file can only have one parent folder (File.parents reference).
    f = drive.seed("a/x.txt", b"")
    b = drive.seed("b/")
    r = drive.api("PATCH", "/drive/v3/files/" + f.id,
                  params={"addParents": b.id}, json={})
    assert r.status == 403
    assert r.json()["error"]["errors"][0]["reason"] == "cannotAddParent"


def test_parents_in_update_body_is_not_writable(drive):
    f = drive.seed("x.txt", b"")
    r = drive.api("PATCH", "/drive/v3/files/" + f.id,
                  json={"parents": [drive.root_id]})
    assert r.status == 403
    assert r.json()["error"]["errors"][0]["reason"] == "fieldNotWritable"


def test_output_only_and_unknown_body_fields(drive):
    r = drive.api("POST", "/drive/v3/files", json={"name": "x", "size": "3"})
    assert r.status == 403
    r = drive.api("POST", "/drive/v3/files", json={"title": "x"})
    assert r.status == 400


def test_app_properties_merge_and_null_deletes(drive):
    # Reference: File.appProperties "Entries with null values are cleared in
    # update and copy requests."
    f = drive.seed("x", b"", appProperties={"a": "1", "b": "2"})
    r = drive.api("PATCH", "/drive/v3/files/" + f.id,
                  params={"fields": "appProperties"},
                  json={"appProperties": {"b": None, "c": "3"}})
    assert r.json() == {"appProperties": {"a": "1", "c": "3"}}


def test_app_property_size_limit(drive):
    f = drive.seed("x", b"")
    r = drive.api("PATCH", "/drive/v3/files/" + f.id,
                  json={"appProperties": {"k": "v" * 200}})
    assert r.status == 400


def test_modified_time_can_be_set(drive):
    f = drive.seed("x", b"")
    r = drive.api("PATCH", "/drive/v3/files/" + f.id,
                  params={"fields": "modifiedTime"},
                  json={"modifiedTime": "2001-02-03T04:05:06.789Z"})
    assert r.json() == {"modifiedTime": "2001-02-03T04:05:06.789Z"}


def test_trash_folder_trashes_descendants(drive):
    child = drive.seed("d/e/f.txt", b"")
    d = drive.by_path("d")
    r = drive.api("PATCH", "/drive/v3/files/" + d["id"],
                  params={"fields": "trashed,explicitlyTrashed"},
                  json={"trashed": True})
    assert r.json() == {"trashed": True, "explicitlyTrashed": True}
    body = get(drive, "/drive/v3/files/" + child.id,
               fields="trashed,explicitlyTrashed").json()
    assert body == {"trashed": True, "explicitlyTrashed": False}


def test_delete_folder_deletes_descendants(drive):
    child = drive.seed("d/e/f.txt", b"")
    d = drive.by_path("d")
    r = drive.api("DELETE", "/drive/v3/files/" + d["id"])
    assert r.status == 204 and r.body == b""
    assert get(drive, "/drive/v3/files/" + child.id).status == 404
    assert drive.tree() == []


def test_empty_trash(drive):
    drive.seed("keep", b"")
    drive.seed("bin/x", b"")
    bin_ = drive.by_path("bin")
    drive.api("PATCH", "/drive/v3/files/" + bin_["id"], json={"trashed": True})
    assert drive.api("DELETE", "/drive/v3/files/trash").status == 204
    assert [f["path"] for f in drive.tree()] == ["keep"]


def test_copy(drive):
    f = drive.seed("a.txt", b"data", appProperties={"k": "v"})
    r = drive.api("POST", "/drive/v3/files/%s/copy" % f.id,
                  params={"fields": "id,name,md5Checksum,parents,"
                                    "appProperties,headRevisionId"},
                  json={})
    c = r.json()
    assert c["id"] != f.id and c["name"] == "Copy of a.txt"
    assert c["md5Checksum"] == f.md5Checksum
    assert c["parents"] == f.parents and c["appProperties"] == {"k": "v"}
    assert drive.content(c["id"]) == b"data"


def test_read_only_file_refuses_edits(drive):
    f = drive.seed("ro.txt", b"x", readOnly=True)
    r = drive.api("PATCH", "/drive/v3/files/" + f.id, json={"name": "y"})
    assert r.status == 403
    assert r.json()["error"]["errors"][0]["reason"] == \
        "insufficientFilePermissions"
    body = get(drive, "/drive/v3/files/" + f.id,
               fields="capabilities(canEdit)").json()
    assert body == {"capabilities": {"canEdit": False}}


def test_shortcut_details(drive):
    target = drive.seed("t.txt", b"")
    s = drive.seed("link", None, targetId=target.id)
    body = get(drive, "/drive/v3/files/" + s.id,
               fields="mimeType,shortcutDetails").json()
    assert body == {"mimeType": "application/vnd.google-apps.shortcut",
                    "shortcutDetails": {"targetId": target.id,
                                        "targetMimeType": "text/plain"}}


# ------------------------------------------------------------ generateIds
# Reference: files.generateIds (count 1..1000) and files.create with id.

def test_generate_ids_and_create_with_id(drive):
    body = get(drive, "/drive/v3/files/generateIds", count=3).json()
    assert body["kind"] == "drive#generatedIds" and body["space"] == "drive"
    assert len(body["ids"]) == 3
    fid = body["ids"][0]
    r = drive.api("POST", "/drive/v3/files", params={"fields": "id"},
                  json={"id": fid, "name": "pre.txt"})
    assert r.status == 200 and r.json() == {"id": fid}
    again = drive.api("POST", "/drive/v3/files",
                      json={"id": fid, "name": "pre.txt"})
    assert again.status == 409
    assert again.json()["error"]["errors"][0]["reason"] == "fileIdInUse"


def test_create_with_unknown_id_is_refused(drive):
    r = drive.api("POST", "/drive/v3/files",
                  json={"id": "1madeUpByTheClient", "name": "x"})
    assert r.status == 400
    assert r.json()["error"]["errors"][0]["reason"] == "fileIdNotUsable"


@pytest.mark.parametrize("count", [0, 1001, "x"])
def test_generate_ids_count_bounds(drive, count):
    assert get(drive, "/drive/v3/files/generateIds",
               count=count).status == 400
