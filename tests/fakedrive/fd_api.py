"""Drive v3 metadata endpoints: about, files.*, changes.*, export."""

import base64
import re
from operator import itemgetter

import fd_errors as E
import fd_fields as F
import fd_query as Q
import fd_store as S
from fd_common import parse_bool, parse_int

_DROP = object()    # a `fields` selection without files


class ApiMixin:
    """Mixed into fakedrive.Handler."""

    # ------------------------------------------------------------ handlers

    def h_not_found(self):
        raise E.ApiError(404, "notFound", "Not Found")

    def h_bad_upload_type(self):
        raise E.ApiError(400, "badRequest",
                         "Invalid upload request: uploadType must be one of "
                         "media, multipart or resumable.",
                         location="uploadType")

    def h_about(self):
        # Reference: about.get "Required: The fields parameter must be set."
        if not self.q.get("fields", "").strip():
            raise E.ApiError(400, "required",
                             "The 'fields' parameter is required for this "
                             "method.", location="fields")
        tree = self.fields(F.ABOUT, None)
        store = self.server.store
        with store.lock:
            used, trash = store.usage()
            user = store.user_obj(self.me(), self.me())
        about = {
            "kind": "drive#about", "user": user,
            "storageQuota": {"limit": str(store.quota_limit),
                             "usage": str(used), "usageInDrive": str(used),
                             "usageInDriveTrash": str(trash)},
            "importFormats": {"text/plain": [S.DOCUMENT],
                              "text/csv": [S.SPREADSHEET]},
            "exportFormats": S.EXPORT_FORMATS,
            "maxImportSizes": {S.DOCUMENT: "10485760",
                               S.SPREADSHEET: "104857600"},
            "maxUploadSize": "5497558138880",
            "appInstalled": False,
            "folderColorPalette": ["#ac725e", "#d06b64", "#f83a22",
                                   "#fa573c", "#8f8f8f"],
            "teamDriveThemes": [], "driveThemes": [],
            "canCreateTeamDrives": True, "canCreateDrives": True,
        }
        self.send_json(200, F.apply(tree, about))

    ORDER_KEYS = {"createdTime", "folder", "modifiedByMeTime", "modifiedTime",
                  "name", "name_natural", "quotaBytesUsed", "recency",
                  "sharedWithMeTime", "starred", "viewedByMeTime"}

    def parse_order(self):
        text = self.q.get("orderBy", "")
        keys = []
        for item in text.split(","):
            item = item.strip()
            if not item:
                continue
            words = item.split()
            if words[0] not in self.ORDER_KEYS or len(words) > 2 or (
                    len(words) == 2 and words[1].lower() not in ("desc",
                                                                 "asc")):
                raise E.invalid_value("orderBy")
            keys.append((words[0], len(words) == 2 and
                         words[1].lower() == "desc"))
        return keys

    @staticmethod
    def _natural(name):
        return [(0, int(t), "") if t.isdigit() else (1, 0, t.lower())
                for t in re.findall(r"\d+|\D+", name)]

    def sort_records(self, recs, order):
        def key_of(k):
            if k == "folder":
                return lambda r: 0 if r["mimeType"] == S.FOLDER else 1
            if k == "name":
                return lambda r: (r["name"].lower(), r["name"])
            if k == "name_natural":
                return lambda r: self._natural(r["name"])
            if k == "quotaBytesUsed":
                return lambda r: r.get("size") or 0
            if k == "starred":
                return lambda r: bool(r.get("starred"))
            if k == "recency":
                return lambda r: max(r.get("modifiedTime") or 0,
                                     r.get("viewedByMeTime") or 0,
                                     r.get("createdTime") or 0)
            if k == "sharedWithMeTime":
                return lambda r: 0
            return lambda r: r.get(k) or 0
        recs.sort(key=itemgetter("id"))
        if not order:
            recs.sort(key=itemgetter("modifiedTime"), reverse=True)
        for k, desc in reversed(order):
            recs.sort(key=key_of(k), reverse=desc)
        return recs

    def h_files_list(self):
        srv, store = self.server, self.server.store
        tree = self.fields(F.FILE_LIST, F.DEFAULT_FILE_LIST)
        page_size = parse_int(self.q, "pageSize", 100, 1, 1000,
                              coerce_high=True)
        order = self.parse_order()
        for s in self.list_param("spaces"):
            if s not in ("drive", "appDataFolder", "photos"):
                raise E.invalid_value("spaces")
        corpora = self.q.get("corpora")
        if corpora and any(c not in ("user", "domain", "drive", "allDrives")
                           for c in corpora.split(",")):
            raise E.invalid_value("corpora")
        if corpora == "drive" and not self.q.get("driveId"):
            raise E.ApiError(400, "badRequest",
                             "The driveId parameter must be specified if and "
                             "only if corpora is set to drive.",
                             location="driveId")
        for b in ("supportsAllDrives", "includeItemsFromAllDrives",
                  "supportsTeamDrives", "includeTeamDriveItems"):
            parse_bool(self.q, b)
        qtext = self.q.get("q", "").strip()
        ast = Q.parse(qtext) if qtext else None
        if ast is not None and order and Q.uses_full_text(ast):
            raise E.ApiError(400, "badRequest",
                             "Sorting is not supported for queries with "
                             "fullText terms. Results are always in "
                             "descending relevance order.",
                             location="orderBy")
        me = self.me()
        # The files part of the selection: render only the keys it keeps.
        if "files" in tree:
            ftree = tree["files"]
        else:
            ftree = tree.get("*", _DROP)
        want = None if ftree is None or ftree is _DROP or "*" in ftree \
            else frozenset(ftree)
        # render(want=...) builds only the selected keys, so of the
        # selection only the keys with a sub-selection are left to apply.
        subs = [(k, sub) for k, sub in ftree.items() if sub is not None] \
            if want is not None else None
        only_app_data = self.list_param("spaces") == ["appDataFolder"]
        with store.lock:
            class Ctx:
                root_id = store.root_id

            ctx = Ctx()
            ctx.me = me
            ctx.trashed = store.trashed_memo()
            ctx.owner = lambda r: r["owner"]
            ctx.full_text = store.full_text
            pred = Q.compile_query(ast, ctx) if ast is not None else \
                (lambda r: True)
            key = None
            if "pageToken" in self.q:
                key, snap, offset = srv.read_page_token(self.q["pageToken"])
                ids = snap["ids"]
            else:
                offset = 0
                if only_app_data:
                    cands = []
                else:
                    pids = Q.parent_candidates(ast, store.root_id) \
                        if ast is not None else None
                    if pids is not None:
                        # The children index, not a scan of the store.
                        cands = [store.files[c] for p in pids
                                 for c in store.children.get(p, ())
                                 if c in store.files]
                    else:
                        cands = [r for r in store.files.values()
                                 if not r.get("root")]
                recs = self.sort_records([r for r in cands if pred(r)], order)
                ids = [r["id"] for r in recs]
            page_ids = ids[offset:offset + page_size]
            out = []
            for fid in page_ids:
                rec = store.files.get(fid)
                if rec is not None and pred(rec):
                    out.append(rec)
            result = {"kind": "drive#fileList", "incompleteSearch": False}
            if offset + page_size < len(ids):
                if key is None:
                    key = srv.new_snapshot(ids, qtext)
                result["nextPageToken"] = srv.page_token(key,
                                                         offset + page_size)
            # "files" comes last in the reply, so it can be added after the
            # rest is filtered; each file is rendered and filtered once.
            result = F.apply(tree, result)
            if ftree is not _DROP:
                trashed = ctx.trashed
                files = result["files"] = []
                for rec in out:
                    d = store.render(rec, me, want, trashed)
                    if want is None:
                        d = F.apply(ftree, d)
                    else:
                        for k, sub in subs:
                            if k in d:
                                d[k] = F.apply(sub, d[k])
                    files.append(d)
        self.send_json(200, result)

    def h_files_get(self, fid):
        tree = self.fields(F.FILE, F.DEFAULT_FILE)
        parse_bool(self.q, "supportsAllDrives")
        parse_bool(self.q, "acknowledgeAbuse")
        with self.server.store.lock:
            rec = self.server.store.get(fid)
        self.send_file(rec, tree)

    def h_media(self, fid):
        store = self.server.store
        with store.lock:
            rec = store.get(fid)
            if not S.is_binary(rec["mimeType"]):
                raise E.ApiError(403, "fileNotDownloadable",
                                 "Only files with binary content can be "
                                 "downloaded. Use Export with Docs Editors "
                                 "files.", location="alt")
            path = store.blob_path(rec)
            size = rec.get("size", 0)
            mime = rec["mimeType"]
            f = open(path, "rb")
        try:
            headers = [("Content-Type", mime), ("Accept-Ranges", "bytes"),
                       ("X-Goog-Hash", "md5=" + base64.b64encode(
                           bytes.fromhex(rec["md5"])).decode())]
            rng = self.headers.get("Range")
            start, end = 0, size - 1
            status = 200
            if rng:
                parsed = self.parse_range(rng, size)
                if parsed == "unsatisfiable":
                    err = E.ApiError(416, "requestedRangeNotSatisfiable",
                                     "Request range not satisfiable")
                    err.headers["Content-Range"] = "bytes */%d" % size
                    raise err
                if parsed is not None:
                    start, end = parsed
                    status = 206
                    headers.append(("Content-Range", "bytes %d-%d/%d"
                                    % (start, end, size)))
            count = max(0, end - start + 1)
            self.send_raw(status, headers, file=f, offset=start, count=count)
        finally:
            f.close()

    @staticmethod
    def parse_range(value, size):
        """RFC 9110 single byte range; None = ignore the header."""
        m = re.match(r"^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$", value)
        if not m or (m.group(1) == "" and m.group(2) == ""):
            return None
        a, b = m.group(1), m.group(2)
        if a == "":
            n = int(b)
            if n == 0 or size == 0:
                return "unsatisfiable"
            return max(0, size - n), size - 1
        a = int(a)
        if b != "" and int(b) < a:
            return None
        if a >= size:
            return "unsatisfiable"
        b = int(b) if b != "" else size - 1
        return a, min(b, size - 1)

    def h_files_create(self):
        tree = self.fields(F.FILE, F.DEFAULT_FILE)
        meta = self.read_json()
        store = self.server.store
        with store.lock:
            rec = store.create(meta, self.user)
            data = self.rendered(rec)
        self.send_rendered(data, tree)

    def h_files_update(self, fid):
        tree = self.fields(F.FILE, F.DEFAULT_FILE)
        meta = self.read_json()
        store = self.server.store
        with store.lock:
            rec = store.get(fid)
            rec = store.update(rec, meta, self.user,
                               self.list_param("addParents"),
                               self.list_param("removeParents"))
            data = self.rendered(rec)
        self.send_rendered(data, tree)

    def h_files_delete(self, fid):
        store = self.server.store
        with store.lock:
            rec = store.get(fid)
            store.delete(rec)
        self.send_empty(204)

    def h_empty_trash(self):
        self.server.store.empty_trash()
        self.send_empty(204)

    def h_files_copy(self, fid):
        tree = self.fields(F.FILE, F.DEFAULT_FILE)
        meta = self.read_json()
        store = self.server.store
        with store.lock:
            src = store.get(fid)
            rec = store.copy(src, meta, self.user)
            data = self.rendered(rec)
        self.send_rendered(data, tree)

    def h_generate_ids(self):
        tree = self.fields(F.GENERATED_IDS, None)
        count = parse_int(self.q, "count", 10, 1, 1000)
        space = self.q.get("space", "drive")
        kind = self.q.get("type", "files")
        if space not in ("drive", "appDataFolder"):
            raise E.invalid_value("space")
        if kind not in ("files", "shortcuts"):
            raise E.invalid_value("type")
        if kind == "shortcuts" and space != "drive":
            raise E.bad_request("Shortcuts can only be created in the drive "
                                "space.", location="type")
        ids = self.server.store.generate_ids(count, space, kind)
        self.send_json(200, F.apply(tree, {"kind": "drive#generatedIds",
                                           "space": space, "ids": ids}))

    def h_export(self, fid):
        target = self.q.get("mimeType")
        if not target:
            raise E.required("mimeType")
        store = self.server.store
        with store.lock:
            rec = store.get(fid)
            mime = rec["mimeType"]
            if mime not in S.EXPORT_FORMATS:
                raise E.ApiError(403, "fileNotExportable",
                                 "Export only supports Docs Editors files.")
            if target not in S.EXPORT_FORMATS[mime]:
                raise E.ApiError(400, "badRequest",
                                 "The requested conversion is not supported.",
                                 location="convertTo")
            text = store.read_content(rec)
        if target == "application/pdf":
            data = make_pdf(text.decode("utf-8", "replace"))
        elif target == "text/html":
            data = b"<html><body><pre>" + text + b"</pre></body></html>"
        else:
            data = text
        if len(data) > S.EXPORT_LIMIT:
            raise E.ApiError(403, "exportSizeLimitExceeded",
                             "This file is too large to be exported.")
        self.send_raw(200, [("Content-Type", target)], data)

    def h_start_page_token(self):
        tree = self.fields(F.START_PAGE_TOKEN, None)
        self.send_json(200, F.apply(tree, {
            "kind": "drive#startPageToken",
            "startPageToken": self.server.store.start_page_token()}))

    def h_changes_list(self):
        tree = self.fields(F.CHANGE_LIST, F.DEFAULT_CHANGE_LIST)
        token = self.q.get("pageToken")
        if not token:
            raise E.required("pageToken")
        try:
            token = int(token)
        except ValueError:
            raise E.invalid_value("pageToken")
        page_size = parse_int(self.q, "pageSize", 100, 1, 1000)
        include_removed = parse_bool(self.q, "includeRemoved", True)
        for b in ("restrictToMyDrive", "supportsAllDrives",
                  "includeItemsFromAllDrives", "includeCorpusRemovals"):
            parse_bool(self.q, b)
        store = self.server.store
        me = self.me()
        with store.lock:
            if token > store.next_change or token < 1:
                raise E.invalid_value("pageToken")
            entries, nxt, new_start = store.list_changes(token, page_size,
                                                         include_removed)
            changes = []
            for ch, rec in entries:
                item = {"kind": "drive#change", "removed": bool(ch[3])}
                if rec is not None:
                    item["file"] = store.render(rec, me)
                item.update({"fileId": ch[1], "time": S.rfc3339(ch[2]),
                             "type": "file", "changeType": "file"})
                changes.append(item)
        result = {"kind": "drive#changeList"}
        if nxt:
            result["nextPageToken"] = nxt
        if new_start:
            result["newStartPageToken"] = new_start
        result["changes"] = changes
        self.send_json(200, F.apply(tree, result))


def make_pdf(text):
    """A minimal valid one-page PDF showing the first lines of text."""
    lines = (text or " ").splitlines()[:40] or [" "]
    esc = [ln.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
           for ln in lines]
    stream = "BT /F1 11 Tf 50 780 Td 14 TL " + " ".join(
        "(%s) '" % ln for ln in esc) + " ET"
    objs = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] "
        "/Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>",
        "<< /Length %d >>\nstream\n%s\nendstream" % (len(stream.encode(
            "latin-1", "replace")), stream),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += ("%d 0 obj\n%s\nendobj\n" % (i, o)).encode("latin-1",
                                                         "replace")
    xref = len(out)
    out += ("xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)).encode()
    for off in offsets:
        out += ("%010d 00000 n \n" % off).encode()
    out += ("trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n"
            % (len(objs) + 1, xref)).encode()
    return out
