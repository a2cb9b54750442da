"""files.list in the emulator checked against a brute-force evaluation.

The emulator answers `'X' in parents` queries (alone, and-ed, or-ed) from a
parent -> children index that the store keeps through creates, moves
(addParents/removeParents, another client's move), trash, untrash, deletes,
emptyTrash and restarts; it prints pages with a faster pretty-printer and
renders only the selected fields. None of that may show: each listing here
must equal what a scan of every file (GET /__control/tree) gives for the
same query, in Drive's order (the emulator's default: modifiedTime desc,
then id), page after page; each listed file must equal files.get with the
same fields; and the reply bytes must be json.dumps(..., indent=1).
"""

import json
import random

import pytest

FOLDER = "application/vnd.google-apps.folder"
DOC = "application/vnd.google-apps.document"
FILES = "/drive/v3/files"


@pytest.fixture
def sdrive(shared_drive):
    return shared_drive


def list_pages(drive, q, page_size=7, fields="nextPageToken,files(id)",
               **params):
    """Every page of q: a list of pages, each a list of file dicts."""
    pages, token = [], None
    while True:
        p = dict(params, q=q, pageSize=page_size, fields=fields)
        if token:
            p["pageToken"] = token
        r = drive.api("GET", FILES, params=p)
        assert r.status == 200, r
        body = r.json()
        pages.append(body["files"])
        token = body.get("nextPageToken")
        if not token:
            return pages


def list_ids(drive, q, **kw):
    return [f["id"] for page in list_pages(drive, q, **kw) for f in page]


def in_order(files):
    """Drive's order without orderBy, as the emulator chose it (README):
    modifiedTime desc, then id. RFC 3339 times with milliseconds compare
    as strings."""
    files = sorted(files, key=lambda f: f["id"])
    files.sort(key=lambda f: f["modifiedTime"], reverse=True)
    return [f["id"] for f in files]


def queries(folders, root_id):
    """(q, predicate over a /__control/tree entry) pairs."""
    a, b, c = folders[0], folders[1], folders[2]

    def parent(f):
        return (f.get("parents") or [None])[0]

    return [
        ("'%s' in parents" % a, lambda f: parent(f) == a),
        ("'%s' in parents and trashed = false" % b,
         lambda f: parent(f) == b and not f["trashed"]),
        ("('%s' in parents or '%s' in parents or '%s' in parents) and "
         "trashed = false" % (a, b, c),
         lambda f: parent(f) in (a, b, c) and not f["trashed"]),
        ("'%s' in parents or name = 'n3'" % c,
         lambda f: parent(f) == c or f["name"].lower() == "n3"),
        ("'%s' in parents and '%s' in parents" % (a, b), lambda f: False),
        ("not '%s' in parents and trashed = true" % a,
         lambda f: parent(f) != a and f["trashed"]),
        ("'root' in parents", lambda f: parent(f) == root_id),
        ("('%s' in parents or '%s' in parents) and mimeType = '%s'"
         % (b, c, FOLDER),
         lambda f: parent(f) in (b, c) and f["mimeType"] == FOLDER),
        ("trashed = false", lambda f: not f["trashed"]),
    ]


def check_listings(drive, folders):
    tree = drive.tree()
    for q, pred in queries(folders, drive.root_id):
        assert list_ids(drive, q) == in_order(f for f in tree if pred(f)), q


def test_listings_match_a_full_scan_through_every_change(sdrive):
    drive = sdrive
    rnd = random.Random(7)
    top = [drive.seed("t%d/" % i).id for i in range(4)]
    sub = [drive.seed("t%d/s%d/" % (i % 4, i)).id for i in range(4)]
    folders = top + sub
    drive.seed_many([{"name": "n%d" % i, "parent": rnd.choice(folders)}
                     for i in range(60)])
    check_listings(drive, folders)

    def a_file():
        return rnd.choice([f for f in drive.tree()
                           if f["mimeType"] != FOLDER])

    ops = ["create", "move", "orphan", "trash", "untrash", "delete",
           "act_move", "trash_folder", "untrash_folder"]
    for step in range(60):
        op = ops[step % len(ops)] if step < len(ops) else rnd.choice(ops)
        if op == "create":
            r = drive.api("POST", FILES, json={
                "name": "n%d" % rnd.randrange(10),
                "parents": [rnd.choice(folders)]})
            assert r.status == 200
        elif op == "move":
            f = a_file()
            params = {"addParents": rnd.choice(folders)}
            if f.get("parents"):
                params["removeParents"] = f["parents"][0]
            r = drive.api("PATCH", FILES + "/" + f["id"], params=params,
                          json={})
            assert r.status == 200
        elif op == "orphan":
            f = a_file()
            if f.get("parents"):
                r = drive.api("PATCH", FILES + "/" + f["id"], json={},
                              params={"removeParents": f["parents"][0]})
                assert r.status == 200
        elif op in ("trash", "untrash"):
            r = drive.api("PATCH", FILES + "/" + a_file()["id"],
                          json={"trashed": op == "trash"})
            assert r.status == 200
        elif op == "delete":
            assert drive.api("DELETE", FILES + "/" + a_file()["id"]) \
                .status == 204
        elif op == "act_move":
            drive.act("move", id=a_file()["id"], parent=rnd.choice(folders))
        else:
            r = drive.api("PATCH", FILES + "/" + rnd.choice(sub),
                          json={"trashed": op == "trash_folder"})
            assert r.status == 200
        if step % 6 == 5:
            check_listings(drive, folders)
    # A folder moved under another: its children follow it.
    r = drive.api("PATCH", FILES + "/" + sub[0],
                  params={"addParents": top[3], "removeParents": top[0]},
                  json={})
    assert r.status == 200
    check_listings(drive, folders)
    # Deleting a folder deletes its children; emptying the trash too.
    assert drive.api("DELETE", FILES + "/" + sub[1]).status == 204
    drive.api("PATCH", FILES + "/" + sub[2], json={"trashed": True})
    assert drive.api("DELETE", FILES + "/trash").status == 204
    check_listings(drive, folders)


def test_listing_survives_a_restart(drive):
    folders = [drive.seed("a/").id, drive.seed("b/").id, drive.seed("c/").id]
    drive.seed_many([{"name": "n%d" % i, "parent": folders[i % 3]}
                     for i in range(30)])
    before = {q: list_ids(drive, q)
              for q, _ in queries(folders, drive.root_id)}
    drive.restart()
    after = {q: list_ids(drive, q)
             for q, _ in queries(folders, drive.root_id)}
    assert after == before
    moved = list_ids(drive, "'%s' in parents" % folders[0])[0]
    drive.api("PATCH", FILES + "/" + moved,
              params={"addParents": folders[1], "removeParents": folders[0]},
              json={})
    check_listings(drive, folders)


def test_paging_across_changes_keeps_the_first_pages_order(sdrive):
    drive = sdrive
    folder = drive.seed("d/").id
    other = drive.seed("o/").id
    drive.seed_many([{"name": "f%02d" % i, "parent": folder}
                     for i in range(40)])
    stray = drive.seed_many([{"name": "g%d" % i, "parent": other}
                             for i in range(3)])
    q = "'%s' in parents and trashed = false" % folder
    snapshot = in_order(f for f in drive.tree()
                        if f.get("parents") == [folder])
    r = drive.api("GET", FILES, params={"q": q, "pageSize": 10,
                                        "fields": "nextPageToken,files(id)"})
    got = [f["id"] for f in r.json()["files"]]
    token = r.json()["nextPageToken"]
    assert got == snapshot[:10]
    # Changes to files not listed yet, and new files.
    rest = snapshot[10:]
    gone = {rest[0], rest[5], rest[9]}
    drive.api("PATCH", FILES + "/" + rest[0],
              params={"addParents": other, "removeParents": folder}, json={})
    drive.api("PATCH", FILES + "/" + rest[5], json={"trashed": True})
    drive.api("DELETE", FILES + "/" + rest[9])
    drive.api("PATCH", FILES + "/" + rest[12], json={"name": "renamed"})
    drive.api("PATCH", FILES + "/" + stray[0]["id"],
              params={"addParents": folder, "removeParents": other}, json={})
    drive.seed_many([{"name": "new%d" % i, "parent": folder}
                     for i in range(5)])
    while token:
        r = drive.api("GET", FILES, params={
            "q": q, "pageSize": 10, "pageToken": token,
            "fields": "nextPageToken,files(id)"})
        assert r.status == 200
        got += [f["id"] for f in r.json()["files"]]
        token = r.json().get("nextPageToken")
    assert got == [i for i in snapshot if i not in gone]
    # A fresh listing sees the present state.
    tree = drive.tree()
    assert list_ids(drive, q) == in_order(
        f for f in tree if f.get("parents") == [folder] and not f["trashed"])


WEIRD_NAMES = ["plain", "é ünïcode ☃", 'q"uote', "back\\slash", "nul\x00",
               "\x00", "ctl\x01\x02", "},\n   {", "[{", "}]", '"\\u0000"',
               "\u2028line"]

FIELDS = [
    "id,name,mimeType,parents,size,version,createdTime,modifiedTime,"
    "md5Checksum,headRevisionId,trashed,appProperties,shortcutDetails,"
    "capabilities/canEdit",
    "kind,id,name,owners(emailAddress,me),lastModifyingUser,permissions,"
    "exportLinks,properties,description,starred,explicitlyTrashed",
    "id,capabilities(canEdit,canTrash,canAddChildren),spaces,webViewLink,"
    "webContentLink,iconLink,folderColorRgb,quotaBytesUsed,permissionIds",
    "*",
]


def seed_variety(drive):
    folder = drive.seed("v/", appProperties={"k": "v"})
    target = drive.seed("v/target.txt", b"t")
    specs = [{"name": n, "parent": folder.id, "content": "x"}
             for n in WEIRD_NAMES]
    specs += [
        {"name": "doc", "parent": folder.id, "mimeType": DOC,
         "content": "text", "description": "d", "starred": True},
        {"name": "sub", "parent": folder.id, "mimeType": FOLDER},
        {"name": "ro.txt", "parent": folder.id, "readOnly": True,
         "properties": {"p": "1"}},
        {"name": "bin.tar.gz", "parent": folder.id, "trashed": True},
        {"name": "link", "parent": folder.id, "targetId": target.id},
    ]
    drive.seed_many(specs)
    drive.act("create", name="by-other.txt", parent=folder.id, content="o")
    return folder.id


@pytest.mark.parametrize("fields", FIELDS)
def test_listed_file_equals_files_get(sdrive, fields):
    drive = sdrive
    folder = seed_variety(drive)
    q = "'%s' in parents" % folder
    listed = [f for page in list_pages(drive, q, page_size=5,
                                       fields="nextPageToken,files(%s)"
                                       % fields) for f in page]
    assert len(listed) == len(WEIRD_NAMES) + 7
    for f in listed:
        r = drive.api("GET", FILES + "/" + f["id"], params={"fields": fields})
        assert f == r.json()


@pytest.mark.parametrize("fields", [None, "*", "files", "files/id",
                                    "kind,files(id,name,parents)",
                                    "nextPageToken,incompleteSearch"])
def test_selection_outside_files_is_unchanged(sdrive, fields):
    drive = sdrive
    folder = seed_variety(drive)
    params = {"q": "'%s' in parents" % folder, "pageSize": 9}
    if fields is not None:
        params["fields"] = fields
    body = drive.api("GET", FILES, params=params).json()
    want = {None: {"kind", "incompleteSearch", "nextPageToken", "files"},
            "*": {"kind", "incompleteSearch", "nextPageToken", "files"},
            "files": {"files"}, "files/id": {"files"},
            "kind,files(id,name,parents)": {"kind", "files"},
            "nextPageToken,incompleteSearch": {"nextPageToken",
                                               "incompleteSearch"}}[fields]
    assert set(body) == want
    if "files" in body:
        assert len(body["files"]) == 9
    if fields in ("*", "files"):
        full = drive.api("GET", FILES + "/" + body["files"][0]["id"],
                         params={"fields": "*"}).json()
        assert body["files"][0] == full


@pytest.mark.parametrize("weird", [True, False])
@pytest.mark.parametrize("fields", FIELDS)
def test_pretty_reply_is_json_dumps_indent_1(sdrive, fields, weird):
    drive = sdrive
    if weird:
        folder = seed_variety(drive)
    else:   # no string that looks like the printer's placeholder
        folder = drive.seed("p/").id
        drive.seed_many([{"name": "f%d.txt" % i, "parent": folder,
                          "appProperties": {"a": str(i), "b": "2"}
                          if i % 2 else {}}
                         for i in range(25)])
    params = {"q": "'%s' in parents or trashed = true" % folder,
              "pageSize": 30, "fields": "nextPageToken,files(%s)" % fields}
    pretty = drive.api("GET", FILES, params=params).body
    compact = drive.api("GET", FILES,
                        params=dict(params, prettyPrint="false")).body
    value = json.loads(compact)
    assert json.loads(pretty) == value
    assert pretty == (json.dumps(value, indent=1, ensure_ascii=False)
                      + "\n").encode()


def test_pretty_printer_is_json_dumps_on_odd_values():
    """fd_common.dumps_pretty directly, on what replies never hold but the
    printer must still get right: NaN, big ints, tuples, non-string keys,
    empty records, records of records, strings that look like its
    placeholders or separators."""
    import os
    import sys
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__))), "fakedrive"))
    import fd_common

    scalars = ["", "x", "\x00", "a\x00", 'q"\x00', "\x01", "\x02", "]\x01[",
               "},\n   {", "[{", "}]", "é\u2028", 0, -5, 10 ** 30, 1.5,
               float("nan"), float("inf"), -float("inf"), True, False, None]
    rnd = random.Random(3)

    def value(depth):
        r = rnd.random()
        if depth > 3 or r < 0.3:
            return rnd.choice(scalars)
        if r < 0.5:
            return {rnd.choice(["k", "\x00", '"', ""]) + str(i):
                    value(depth + 1) for i in range(rnd.randrange(4))}
        if r < 0.8:     # a list of records, the printer's fast path
            return [{"k%d" % j: value(depth + 2)
                     for j in range(rnd.randrange(0 if rnd.random() < 0.1
                                                  else 1, 4))}
                    for _ in range(rnd.choice([0, 1, 8, 12]))]
        return tuple(value(depth + 1) for _ in range(rnd.randrange(4)))

    cases = [value(0) for _ in range(3000)]
    cases += [{1: 2, None: [], True: 1.5}, [{"a": 1}, {}] * 5,
              [{1: "x"}] * 9, [{"a": [1, [2]], "b": {}}] * 9,
              [{"a": ["x", "y"], "b": {"c": None, "d": 1.5}}] * 9]
    for v in cases:
        assert fd_common.dumps_pretty(v) == json.dumps(
            v, indent=1, ensure_ascii=False), v
