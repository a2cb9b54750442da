"""Drive state: file records, blobs on disk, the changes log, generated ids.

One Store holds one user's My Drive. Every mutating method takes the store
lock itself (an RLock, so callers may hold it across several calls), bumps the
file's version and appends to the changes log exactly as the public API
would. Blob bytes live in files under DATA/blobs (one immutable file per
head revision); only metadata is kept in memory.
"""

import datetime
import functools
import hashlib
import mimetypes
import os
import queue
import secrets
import shutil
import string
import tempfile
import threading
import time
from collections import defaultdict

import fd_errors as E
import fd_fields

FOLDER = "application/vnd.google-apps.folder"
SHORTCUT = "application/vnd.google-apps.shortcut"
GOOGLE = "application/vnd.google-apps."
DOCUMENT = GOOGLE + "document"
SPREADSHEET = GOOGLE + "spreadsheet"
PRESENTATION = GOOGLE + "presentation"

# files.export targets per Google type (About.exportFormats, 2025).
EXPORT_FORMATS = {
    DOCUMENT: [
        "application/rtf", "application/vnd.oasis.opendocument.text",
        "text/html", "application/pdf", "text/markdown", "text/x-markdown",
        "application/epub+zip", "application/zip",
        "application/vnd.openxmlformats-officedocument.wordprocessingml."
        "document", "text/plain"],
    SPREADSHEET: [
        "application/x-vnd.oasis.opendocument.spreadsheet",
        "text/tab-separated-values", "application/pdf",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "text/csv", "application/zip",
        "application/vnd.oasis.opendocument.spreadsheet"],
    PRESENTATION: [
        "application/vnd.oasis.opendocument.presentation", "application/pdf",
        "application/vnd.openxmlformats-officedocument.presentationml."
        "presentation", "text/plain"],
    GOOGLE + "drawing": ["application/pdf", "image/svg+xml", "image/png",
                         "image/jpeg"],
    GOOGLE + "script": ["application/vnd.google-apps.script+json"],
    GOOGLE + "jam": ["application/pdf"],
    GOOGLE + "form": ["application/zip"],
    GOOGLE + "site": ["text/plain"],
    GOOGLE + "vid": ["video/mp4"],
}

_EDIT_LINKS = {
    DOCUMENT: "https://docs.google.com/document/d/%s/edit?usp=drivesdk",
    SPREADSHEET: "https://docs.google.com/spreadsheets/d/%s/edit?usp=drivesdk",
    PRESENTATION:
        "https://docs.google.com/presentation/d/%s/edit?usp=drivesdk",
    GOOGLE + "drawing":
        "https://docs.google.com/drawings/d/%s/edit?usp=drivesdk",
    GOOGLE + "form": "https://docs.google.com/forms/d/%s/edit?usp=drivesdk",
    GOOGLE + "script": "https://script.google.com/d/%s/edit?usp=drivesdk",
}

# Fields a request body may set (File resource, "writable" in the reference).
CREATE_WRITABLE = {
    "id", "name", "mimeType", "parents", "description", "starred",
    "appProperties", "properties", "createdTime", "modifiedTime",
    "viewedByMeTime", "originalFilename", "contentHints", "shortcutDetails",
    "folderColorRgb", "copyRequiresWriterPermission", "writersCanShare",
    "trashed", "contentRestrictions", "inheritedPermissionsDisabled",
    "downloadRestrictions", "viewersCanCopyContent", "kind",
}
UPDATE_WRITABLE = CREATE_WRITABLE - {"id", "parents", "createdTime",
                                     "shortcutDetails"}
COPY_WRITABLE = CREATE_WRITABLE - {"shortcutDetails"}

MAX_PROPERTY_BYTES = 124
MAX_PROPERTIES = 30
DEFAULT_QUOTA = 15 * 1024 ** 3
EXPORT_LIMIT = 10 * 1024 * 1024

_ID_CHARS = string.ascii_letters + string.digits + "-_"


def _rand(n):
    return "".join(secrets.choice(_ID_CHARS) for _ in range(n))


def new_file_id():
    return "1" + _rand(32)


def new_root_id():
    return "0A" + _rand(11) + "Uk9PVA"


def new_revision_id():
    return "0B" + _rand(40)


def now_ms():
    return int(time.time() * 1000)


@functools.lru_cache(maxsize=1 << 16)
def rfc3339(ms):
    """Epoch ms -> RFC 3339 with milliseconds. Cached: a 1000-entry
    files.list page formats 2000 times, mostly the same few seconds."""
    dt = datetime.datetime.fromtimestamp(ms / 1000.0, datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + ".%03dZ" % (ms % 1000)


@functools.lru_cache(maxsize=None)
def _capabilities(folder, editable, is_root):
    """File.capabilities: one of eight dicts, built once each (building it
    per file was a third of a files.list page's rendering). Never modified:
    render() hands out copies."""
    return {
        "canAcceptOwnership": False,
        "canAddChildren": folder and editable,
        "canAddMyDriveParent": False,
        "canChangeCopyRequiresWriterPermission": editable,
        "canChangeItemDownloadRestriction": editable,
        "canChangeSecurityUpdateEnabled": False,
        "canChangeViewersCanCopyContent": editable,
        "canComment": True,
        "canCopy": not folder,
        "canDelete": editable and not is_root,
        "canDisableInheritedPermissions": False,
        "canDownload": True,
        "canEdit": editable,
        "canEnableInheritedPermissions": False,
        "canListChildren": folder,
        "canModifyContent": editable and not folder,
        "canModifyContentRestriction": editable,
        "canModifyEditorContentRestriction": editable,
        "canModifyLabels": False,
        "canModifyOwnerContentRestriction": editable,
        "canMoveChildrenWithinDrive": folder and editable,
        "canMoveItemIntoTeamDrive": editable and not is_root,
        "canMoveItemOutOfDrive": editable and not is_root,
        "canMoveItemWithinDrive": editable and not is_root,
        "canReadLabels": False,
        "canReadRevisions": True,
        "canRemoveChildren": folder and editable,
        "canRemoveContentRestriction": False,
        "canRemoveMyDriveParent": editable and not is_root,
        "canRename": editable and not is_root,
        "canShare": editable,
        "canTrash": editable and not is_root,
        "canUntrash": editable and not is_root,
    }


class _Everything:
    """The `want` of a full render: contains every key."""

    def __contains__(self, key):
        return True


_EVERYTHING = _Everything()


def permission_id(email):
    return str(int(hashlib.sha256(email.lower().encode()).hexdigest(), 16)
               % 10 ** 20).rjust(20, "0")


def is_google(mime):
    return mime.startswith(GOOGLE)


def is_binary(mime):
    return not is_google(mime)


def extensions(name):
    """(fileExtension, fullFileExtension) as Drive derives them."""
    base = name.rsplit("/", 1)[-1]
    if "." not in base.strip(".") and not base.startswith("."):
        return None, None
    parts = base.split(".")
    ext = parts[-1]
    if not ext or len(parts) < 2:
        return None, None
    full = ext
    if len(parts) >= 3 and parts[-2].lower() == "tar" and parts[0]:
        full = parts[-2] + "." + ext
    return ext, full


def guess_mime(name):
    mime, _ = mimetypes.guess_type(name, strict=False)
    return mime or "application/octet-stream"


class BlobResult:
    def __init__(self, path, size, md5, sha1, sha256):
        self.path = path
        self.size = size
        self.md5 = md5
        self.sha1 = sha1
        self.sha256 = sha256


class Hasher:
    """MD5 + SHA-1 + SHA-256 of a byte stream. MD5 runs in the caller's
    thread, SHA-1/SHA-256 in a helper thread (hashlib releases the GIL), so
    large uploads are not limited by one core. flush() stops the helper
    (state is kept); hexdigests() flushes and returns (md5, sha1, sha256)."""

    def __init__(self):
        self.md5 = hashlib.md5()
        self.sha1 = hashlib.sha1()
        self.sha256 = hashlib.sha256()
        self.queue = None
        self.thread = None

    def _worker(self):
        while True:
            data = self.queue.get()
            if data is None:
                return
            self.sha1.update(data)
            self.sha256.update(data)

    def update(self, data):
        self.md5.update(data)
        if len(data) < 65536 and self.thread is None:
            self.sha1.update(data)
            self.sha256.update(data)
            return
        if self.thread is None:
            self.queue = queue.Queue(maxsize=16)
            self.thread = threading.Thread(target=self._worker, daemon=True,
                                           name="hash")
            self.thread.start()
        self.queue.put(bytes(data))

    def flush(self):
        if self.thread is not None:
            self.queue.put(None)
            self.thread.join()
            self.thread = None

    def hexdigests(self):
        self.flush()
        return (self.md5.hexdigest(), self.sha1.hexdigest(),
                self.sha256.hexdigest())


class BlobWriter:
    """Streams bytes to a temp file while hashing them."""

    def __init__(self, tmp_dir):
        fd, self.path = tempfile.mkstemp(dir=tmp_dir, prefix="up-")
        self.f = os.fdopen(fd, "wb")
        self.size = 0
        self.hasher = Hasher()

    def write(self, data):
        self.f.write(data)
        self.hasher.update(data)
        self.size += len(data)

    def finish(self):
        self.f.close()
        md5, sha1, sha256 = self.hasher.hexdigests()
        return BlobResult(self.path, self.size, md5, sha1, sha256)

    def abort(self):
        try:
            self.hasher.flush()
            self.f.close()
        finally:
            try:
                os.unlink(self.path)
            except OSError:
                pass


def hash_file(path, start=0):
    h = [hashlib.md5(), hashlib.sha1(), hashlib.sha256()]
    size = 0
    with open(path, "rb") as f:
        f.seek(start)
        while True:
            buf = f.read(4 << 20)
            if not buf:
                break
            size += len(buf)
            for x in h:
                x.update(buf)
    return size, h[0].hexdigest(), h[1].hexdigest(), h[2].hexdigest()


class Store:
    def __init__(self, data_dir, owner="user@example.com",
                 owner_name="Fake User"):
        self.lock = threading.RLock()
        self.data_dir = data_dir
        self.blob_dir = os.path.join(data_dir, "blobs")
        self.tmp_dir = os.path.join(data_dir, "tmp")
        for d in (self.blob_dir, self.tmp_dir):
            os.makedirs(d, exist_ok=True)
        self.owner = owner
        self.users = {}
        self.add_user(owner, owner_name)
        self.add_user("other@example.com", "Other User")
        self.quota_limit = DEFAULT_QUOTA
        self.files = {}
        self.children = defaultdict(set)
        self.changes = []           # [change id, file id, time ms, removed]
        self.next_change = 1000
        self.generated = {}         # id -> [space, type]
        self.seq = 0
        self.dirty = True
        self.root_id = new_root_id()
        self._make_root()

    # ------------------------------------------------------------ basics

    def add_user(self, email, name=None):
        self.users.setdefault(email, {
            "displayName": name or email.split("@")[0].title(),
            "permissionId": permission_id(email)})

    def _make_root(self):
        t = now_ms()
        self.files[self.root_id] = {
            "id": self.root_id, "name": "My Drive", "mimeType": FOLDER,
            "parent": None, "explicitlyTrashed": False, "createdTime": t,
            "modifiedTime": t, "modifiedByMeTime": t, "viewedByMeTime": t,
            "version": 1, "owner": self.owner,
            "lastModifyingUser": self.owner, "appProperties": {},
            "properties": {}, "starred": False, "seq": 0, "root": True,
        }

    def reset(self):
        with self.lock:
            for rec in self.files.values():
                self._unlink_blob(rec)
            root = self.files[self.root_id]
            self.files = {self.root_id: root}
            self.children = defaultdict(set)
            self.changes = []
            self.generated = {}
            self.dirty = True
            for name in os.listdir(self.tmp_dir):
                try:
                    os.unlink(os.path.join(self.tmp_dir, name))
                except OSError:
                    pass

    def resolve(self, file_id):
        return self.root_id if file_id == "root" else file_id

    def lookup(self, file_id):
        return self.files.get(self.resolve(file_id))

    def get(self, file_id, location="fileId"):
        rec = self.lookup(file_id)
        if rec is None:
            raise E.not_found(file_id, location)
        return rec

    def is_trashed(self, rec):
        seen = 0
        while rec is not None and seen < 10000:
            if rec.get("explicitlyTrashed"):
                return True
            p = rec.get("parent")
            rec = self.files.get(p) if p else None
            seen += 1
        return False

    def trashed_memo(self):
        """is_trashed() for one request made under the lock: each folder's
        answer is remembered, so listing N files of one folder walks that
        folder's ancestors once, not N times. Throw it away before the
        lock is released (a trash or move changes the answers)."""
        memo = {}
        files = self.files

        def folder_trashed(fid):
            walked = []
            answer = False
            rec = files.get(fid)
            while rec is not None:
                fid = rec["id"]
                if fid in memo:
                    answer = memo[fid]
                    break
                if len(walked) >= 9999:     # is_trashed()'s bound
                    return self.is_trashed(files[walked[0]])
                walked.append(fid)
                if rec.get("explicitlyTrashed"):
                    answer = True
                    break
                p = rec.get("parent")
                rec = files.get(p) if p else None
            for fid in walked:
                memo[fid] = answer
            return answer

        def trashed(rec):
            if rec.get("explicitlyTrashed"):
                return True
            p = rec.get("parent")
            if not p:
                return False
            answer = memo.get(p)
            return folder_trashed(p) if answer is None else answer

        return trashed

    def ancestors(self, rec):
        out = []
        p = rec.get("parent")
        while p and p in self.files and len(out) < 10000:
            out.append(p)
            p = self.files[p].get("parent")
        return out

    def path_of(self, rec):
        if rec["id"] == self.root_id:
            return ""
        names = [rec["name"]]
        p = rec.get("parent")
        while p and p != self.root_id and p in self.files:
            names.append(self.files[p]["name"])
            p = self.files[p].get("parent")
        if p != self.root_id:
            names.append("<orphan>")
        return "/".join(reversed(names))

    def descendants(self, rec):
        """Every descendant id, parents before children."""
        out = []
        stack = [rec["id"]]
        while stack:
            fid = stack.pop()
            for cid in sorted(self.children.get(fid, ())):
                out.append(cid)
                stack.append(cid)
        return out

    def blob_path(self, rec):
        return os.path.join(self.blob_dir, rec["blob"]) if rec.get("blob") \
            else None

    def read_content(self, rec, limit=None):
        path = self.blob_path(rec)
        if not path:
            return b""
        with open(path, "rb") as f:
            return f.read() if limit is None else f.read(limit)

    def usage(self):
        total = trash = 0
        for rec in self.files.values():
            if rec.get("size") and rec.get("owner") == self.owner:
                total += rec["size"]
                if self.is_trashed(rec):
                    trash += rec["size"]
        return total, trash

    def full_text(self, rec):
        parts = [rec["name"], rec.get("description") or ""]
        mime = rec["mimeType"]
        if rec.get("blob") and (rec.get("size") or 0) <= 1 << 20 and (
                mime.startswith("text/") or is_google(mime)
                or mime in ("application/json", "application/javascript")):
            parts.append(self.read_content(rec).decode("utf-8", "replace"))
        return " ".join(parts)

    # ----------------------------------------------------------- changes

    def _change(self, file_id, removed=False, t=None):
        self.changes.append([self.next_change, file_id, t or now_ms(),
                             removed])
        self.next_change += 1
        self.dirty = True

    def _bump(self, rec, t=None):
        rec["version"] = rec.get("version", 0) + 1
        self._change(rec["id"], False, t)

    def start_page_token(self):
        with self.lock:
            return str(self.next_change)

    def list_changes(self, token, page_size, include_removed=True):
        """Returns ([(change, rec|None)], nextPageToken, newStartPageToken).

        Changes since token are collapsed to the latest per file, as Drive
        does; each file appears once with its current state.
        """
        with self.lock:
            latest = {}
            lo = 0
            hi = len(self.changes)
            while lo < hi:
                mid = (lo + hi) // 2
                if self.changes[mid][0] < token:
                    lo = mid + 1
                else:
                    hi = mid
            for ch in self.changes[lo:]:
                latest[ch[1]] = ch
            entries = sorted(latest.values(), key=lambda c: c[0])
            if not include_removed:
                entries = [c for c in entries if not c[3]]
            page = entries[:page_size]
            out = []
            for ch in page:
                rec = None if ch[3] else self.files.get(ch[1])
                if rec is None and not ch[3]:
                    continue
                out.append((ch, rec))
            if len(entries) > page_size:
                return out, str(page[-1][0] + 1), None
            return out, None, str(self.next_change)

    # -------------------------------------------------------- validation

    def _check_body(self, meta, writable, op):
        if not isinstance(meta, dict):
            raise E.parse_error("Expected a JSON object.")
        for key, val in meta.items():
            if key not in fd_fields.FILE:
                raise E.unknown_body_field(key)
            if key == "parents" and op == "update":
                raise E.field_not_writable(
                    "The parents field is not directly writable in update "
                    "requests. Use the addParents and removeParents "
                    "parameters instead.")
            if key not in writable:
                raise E.field_not_writable()
        for key in ("name", "mimeType", "description", "originalFilename",
                    "folderColorRgb", "id"):
            if key in meta and meta[key] is not None and \
                    not isinstance(meta[key], str):
                raise E.ApiError(400, "invalid", "Invalid value for %s" % key)
        for key in ("starred", "trashed", "copyRequiresWriterPermission",
                    "writersCanShare"):
            if key in meta and not isinstance(meta[key], bool):
                raise E.ApiError(400, "invalid", "Invalid value for %s" % key)
        for key in ("createdTime", "modifiedTime", "viewedByMeTime"):
            if key in meta:
                if not isinstance(meta[key], str) or \
                        parse_time(meta[key]) is None:
                    raise E.ApiError(400, "invalid",
                                     "Invalid value for: %s" % key)
        if "parents" in meta and (
                not isinstance(meta["parents"], list)
                or not all(isinstance(p, str) for p in meta["parents"])):
            raise E.ApiError(400, "invalid", "Invalid value for parents")
        for key in ("appProperties", "properties"):
            if key in meta:
                props = meta[key]
                if not isinstance(props, dict):
                    raise E.ApiError(400, "invalid",
                                     "Invalid value for %s" % key)
                for k, v in props.items():
                    if v is not None and not isinstance(v, str):
                        raise E.ApiError(400, "invalid",
                                         "Invalid value for %s" % key)
                    if v is not None and len(k.encode()) + len(v.encode()) \
                            > MAX_PROPERTY_BYTES:
                        raise E.bad_request(
                            "The size of the property key and value together "
                            "must not exceed %d bytes." % MAX_PROPERTY_BYTES)

    @staticmethod
    def _merge_props(old, new):
        out = dict(old or {})
        for k, v in (new or {}).items():
            if v is None:
                out.pop(k, None)
            else:
                out[k] = v
        if len(out) > MAX_PROPERTIES:
            raise E.bad_request("The limit of %d properties per file and "
                                "visibility has been exceeded."
                                % MAX_PROPERTIES)
        return out

    def _folder(self, pid, location="parents"):
        rec = self.lookup(pid)
        if rec is None:
            raise E.not_found(pid, location)
        if rec["mimeType"] != FOLDER:
            raise E.ApiError(400, "badRequest",
                             "The specified parent is not a folder.",
                             location=location)
        return rec

    def _check_writable(self, rec):
        if rec.get("readOnly"):
            raise E.insufficient_file_permissions()
        if rec.get("root"):
            raise E.insufficient_file_permissions()

    def _check_quota(self, new_bytes, old_bytes=0):
        if self.quota_limit >= DEFAULT_QUOTA:
            return  # no quota configured: skip summing every file's size
        used, _ = self.usage()
        if used - old_bytes + new_bytes > self.quota_limit:
            raise E.storage_quota_exceeded()

    # ----------------------------------------------------------- content

    def _unlink_blob(self, rec):
        path = self.blob_path(rec)
        if path:
            try:
                os.unlink(path)
            except OSError:
                pass

    def _set_content(self, rec, blob):
        name = rec["id"] + "." + secrets.token_hex(8)
        os.replace(blob.path, os.path.join(self.blob_dir, name))
        self._unlink_blob(rec)
        rec["blob"] = name
        rec["size"] = blob.size
        if is_binary(rec["mimeType"]):
            rec["md5"], rec["sha1"], rec["sha256"] = \
                blob.md5, blob.sha1, blob.sha256
            rec["headRevisionId"] = new_revision_id()

    def empty_blob(self):
        w = BlobWriter(self.tmp_dir)
        return w.finish()

    # -------------------------------------------------------- operations

    def generate_ids(self, count, space, kind):
        with self.lock:
            ids = []
            for _ in range(count):
                fid = new_file_id()
                self.generated[fid] = [space, kind]
                ids.append(fid)
            self.dirty = True
            return ids

    def create(self, meta, user, content=None, media_mime=None,
               dry_run=False, t=None, extra=None):
        """files.create. content: BlobResult or None (metadata only)."""
        with self.lock:
            self._check_body(meta, CREATE_WRITABLE, "create")
            fid = meta.get("id")
            if fid is not None:
                if fid in self.files:
                    raise E.ApiError(409, "fileIdInUse",
                                     "A file already exists with the "
                                     "provided ID.", location="file.id")
                if fid not in self.generated:
                    raise E.ApiError(400, "fileIdNotUsable",
                                     "The provided file ID is not usable.",
                                     location="file.id")
            parents = meta.get("parents") or []
            if len(parents) > 1:
                raise E.ApiError(403, "cannotAddParent",
                                 "Increasing the number of parents is not "
                                 "allowed.")
            parent = self.resolve(parents[0]) if parents else self.root_id
            self._folder(parent)
            name = meta.get("name")
            if name is None:
                name = "Untitled"
            mime = meta.get("mimeType") or media_mime or \
                (guess_mime(name) if content is not None or "." in name
                 else "application/octet-stream")
            if mime.startswith("multipart/") or mime in ("", "*/*"):
                mime = guess_mime(name)
            target = None
            if mime == SHORTCUT:
                target_id = (meta.get("shortcutDetails") or {}).get(
                    "targetId")
                if not target_id:
                    raise E.bad_request("The shortcut target must be "
                                        "specified.",
                                        location="shortcutDetails.targetId")
                target = self.get(target_id, "shortcutDetails.targetId")
            elif "shortcutDetails" in meta:
                raise E.bad_request("shortcutDetails may only be set for "
                                    "shortcuts.")
            if content is not None and mime in (FOLDER, SHORTCUT):
                raise E.bad_request("The file of type %s cannot have content."
                                    % mime)
            if content is not None and is_binary(mime):
                self._check_quota(content.size)
            if dry_run:
                return None
            t = t or now_ms()
            if fid is None:
                fid = new_file_id()
            self.generated.pop(fid, None)
            self.seq += 1
            created = parse_time(meta["createdTime"]) if "createdTime" in \
                meta else t
            modified = parse_time(meta["modifiedTime"]) if "modifiedTime" in \
                meta else t
            rec = {
                "id": fid, "name": name, "mimeType": mime, "parent": parent,
                "explicitlyTrashed": bool(meta.get("trashed", False)),
                "createdTime": created, "modifiedTime": modified,
                "modifiedByMeTime": modified if user == self.owner else None,
                "viewedByMeTime": parse_time(meta["viewedByMeTime"])
                if "viewedByMeTime" in meta else
                (t if user == self.owner else None),
                "version": 0, "owner": self.owner,
                "lastModifyingUser": user,
                "appProperties": self._merge_props({}, meta.get(
                    "appProperties")),
                "properties": self._merge_props({}, meta.get("properties")),
                "description": meta.get("description"),
                "starred": bool(meta.get("starred", False)),
                "seq": self.seq,
                "copyRequiresWriterPermission":
                    meta.get("copyRequiresWriterPermission", False),
                "writersCanShare": meta.get("writersCanShare", True),
            }
            if mime == FOLDER and meta.get("folderColorRgb"):
                rec["folderColorRgb"] = meta["folderColorRgb"]
            if target is not None:
                rec["shortcutTargetId"] = target["id"]
                rec["shortcutTargetMimeType"] = target["mimeType"]
            if is_binary(mime):
                rec["originalFilename"] = meta.get("originalFilename") or name
                ext, full = extensions(name)
                if ext:
                    rec["fileExtension"], rec["fullFileExtension"] = ext, full
            if extra:
                rec.update(extra)
            if mime not in (FOLDER, SHORTCUT):
                self._set_content(rec, content or self.empty_blob())
            self.files[fid] = rec
            self.children[parent].add(fid)
            self._bump(rec, t)
            return rec

    def update(self, rec, meta, user, add_parents=(), remove_parents=(),
               content=None, media_mime=None, dry_run=False, t=None,
               force=False):
        """files.update (patch semantics) with optional new content."""
        with self.lock:
            self._check_body(meta, UPDATE_WRITABLE, "update")
            if meta.get("id") not in (None, rec["id"]):
                raise E.field_not_writable()
            changing = bool(set(meta) - {"kind"}) or add_parents or \
                remove_parents or content is not None
            if changing and not force:
                self._check_writable(rec)
            mime = rec["mimeType"]
            new_mime = meta.get("mimeType") or (
                media_mime if content is not None and media_mime and
                not media_mime.startswith("multipart/") else None)
            if new_mime and new_mime != mime:
                if FOLDER in (mime, new_mime) or SHORTCUT in (mime, new_mime) \
                        or (is_google(mime) != is_google(new_mime)):
                    raise E.bad_request("The MIME type of this file cannot "
                                        "be changed to %s." % new_mime)
            if content is not None and mime in (FOLDER, SHORTCUT):
                raise E.bad_request("The file of type %s cannot have content."
                                    % mime)
            # parents
            new_parent = rec.get("parent")
            adds = [self.resolve(p) for p in add_parents if p]
            removes = [self.resolve(p) for p in remove_parents if p]
            parents = [new_parent] if new_parent else []
            for p in removes:
                if p in parents:
                    parents.remove(p)
            for p in adds:
                folder = self._folder(p, "addParents")
                if p in parents:
                    continue
                if p == rec["id"] or rec["id"] in self.ancestors(folder):
                    raise E.bad_request("The parent cannot be the file "
                                        "itself or one of its descendants.",
                                        location="addParents")
                parents.append(p)
            if len(parents) > 1:
                raise E.ApiError(403, "cannotAddParent",
                                 "Increasing the number of parents is not "
                                 "allowed.")
            if content is not None and is_binary(new_mime or mime):
                self._check_quota(content.size, rec.get("size") or 0)
            if dry_run:
                return rec
            t = t or now_ms()
            before = {rid: self.is_trashed(self.files[rid])
                      for rid in self.descendants(rec)} \
                if "trashed" in meta and mime == FOLDER else {}
            changed = False
            touched_content = False
            meta_change = False
            if "name" in meta and meta["name"] != rec["name"]:
                rec["name"] = meta["name"]
                if is_binary(rec["mimeType"]):
                    ext, full = extensions(rec["name"])
                    if ext:
                        rec["fileExtension"], rec["fullFileExtension"] = \
                            ext, full
                changed = meta_change = True
            if new_mime and new_mime != rec["mimeType"]:
                rec["mimeType"] = new_mime
                changed = meta_change = True
            for key in ("description", "folderColorRgb", "originalFilename",
                        "copyRequiresWriterPermission", "writersCanShare"):
                if key in meta and meta[key] != rec.get(key):
                    rec[key] = meta[key]
                    changed = meta_change = True
            for key in ("appProperties", "properties"):
                if key in meta:
                    merged = self._merge_props(rec.get(key), meta[key])
                    if merged != rec.get(key):
                        rec[key] = merged
                        changed = meta_change = True
            if "starred" in meta and meta["starred"] != rec.get("starred"):
                rec["starred"] = meta["starred"]
                changed = True
            if "viewedByMeTime" in meta:
                rec["viewedByMeTime"] = parse_time(meta["viewedByMeTime"])
                changed = True
            new_parent = parents[0] if parents else None
            if new_parent != rec.get("parent"):
                self.children[rec.get("parent")].discard(rec["id"])
                if new_parent:
                    self.children[new_parent].add(rec["id"])
                rec["parent"] = new_parent
                changed = meta_change = True
            if "trashed" in meta and meta["trashed"] != \
                    rec.get("explicitlyTrashed", False):
                rec["explicitlyTrashed"] = meta["trashed"]
                if meta["trashed"]:
                    rec["trashedTime"] = t
                    rec["trashingUser"] = user
                else:
                    rec.pop("trashedTime", None)
                    rec.pop("trashingUser", None)
                changed = True
            if content is not None:
                self._set_content(rec, content)
                changed = touched_content = True
            if "modifiedTime" in meta:
                rec["modifiedTime"] = parse_time(meta["modifiedTime"])
                changed = True
            elif touched_content or meta_change:
                rec["modifiedTime"] = t
            if changed:
                if touched_content or meta_change or "modifiedTime" in meta:
                    rec["lastModifyingUser"] = user
                    if user == self.owner:
                        rec["modifiedByMeTime"] = rec["modifiedTime"]
                self._bump(rec, t)
                for rid, was in before.items():
                    child = self.files[rid]
                    if self.is_trashed(child) != was:
                        self._bump(child, t)
            return rec

    def delete(self, rec, force=False):
        with self.lock:
            if not force or rec.get("root"):
                self._check_writable(rec)
            self._delete_tree(rec)

    def _delete_tree(self, rec, t=None):
        t = t or now_ms()
        ids = self.descendants(rec)
        for fid in reversed(ids):
            self._delete_one(self.files[fid], t)
        self._delete_one(rec, t)

    def _delete_one(self, rec, t):
        self._unlink_blob(rec)
        self.files.pop(rec["id"], None)
        self.children[rec.get("parent")].discard(rec["id"])
        self.children.pop(rec["id"], None)
        self._change(rec["id"], True, t)

    def empty_trash(self):
        with self.lock:
            t = now_ms()
            for rec in list(self.files.values()):
                if rec["id"] in self.files and rec.get("explicitlyTrashed"):
                    self._delete_tree(rec, t)

    def copy(self, src, meta, user):
        with self.lock:
            self._check_body(meta, COPY_WRITABLE, "copy")
            if src["mimeType"] in (FOLDER,):
                raise E.ApiError(403, "cannotCopyFile",
                                 "This file cannot be copied by the user.")
            body = dict(meta)
            body.setdefault("name", "Copy of " + src["name"])
            body.setdefault("mimeType", src["mimeType"])
            if "parents" not in body and src.get("parent"):
                body["parents"] = [src["parent"]]
            for key in ("appProperties", "properties"):
                merged = dict(src.get(key) or {})
                merged.update(body.get(key) or {})
                body[key] = merged
            if src.get("description") and "description" not in body:
                body["description"] = src["description"]
            if src["mimeType"] == SHORTCUT:
                body["shortcutDetails"] = {"targetId": src["shortcutTargetId"]}
            content = None
            if src.get("blob"):
                fd, tmp = tempfile.mkstemp(dir=self.tmp_dir, prefix="cp-")
                os.close(fd)
                os.unlink(tmp)
                try:
                    os.link(self.blob_path(src), tmp)
                except OSError:
                    shutil.copyfile(self.blob_path(src), tmp)
                content = BlobResult(tmp, src.get("size", 0), src.get("md5"),
                                     src.get("sha1"), src.get("sha256"))
            try:
                return self.create(body, user, content=content)
            except Exception:
                if content is not None and os.path.exists(content.path):
                    os.unlink(content.path)
                raise

    # ---------------------------------------------------------- rendering

    def user_obj(self, email, me):
        info = self.users.get(email) or {"displayName": email,
                                         "permissionId": permission_id(email)}
        return {"kind": "drive#user", "displayName": info["displayName"],
                "photoLink": "https://lh3.googleusercontent.com/a/"
                             "default-user=s64",
                "me": email == me, "permissionId": info["permissionId"],
                "emailAddress": email}

    def render(self, rec, me, want=None, trashed=None):
        """The complete File resource as the API would return with fields=*.

        want: None, or the set of top-level keys the caller keeps (its
        `fields` selection); only those are built, so a files.list page of
        a dozen fields does not build capabilities, permissions, users and
        times for every file. Keys keep their order either way. trashed: a
        function rec -> bool to use instead of is_trashed (a per-request
        memo, see trashed_memo())."""
        w = _EVERYTHING if want is None else want
        fid, mime = rec["id"], rec["mimeType"]
        folder = mime == FOLDER
        shortcut = mime == SHORTCUT
        binary = not mime.startswith(GOOGLE)        # is_binary()
        doc = not binary and not folder and not shortcut
        editable = not rec.get("readOnly")
        is_root = bool(rec.get("root"))
        owned = me == rec.get("owner")
        d = {}
        if "kind" in w:
            d["kind"] = "drive#file"
        if "id" in w:
            d["id"] = fid
        if "name" in w:
            d["name"] = rec["name"]
        if "mimeType" in w:
            d["mimeType"] = mime
        if "description" in w and rec.get("description") is not None:
            d["description"] = rec["description"]
        if "starred" in w:
            d["starred"] = bool(rec.get("starred"))
        if "trashed" in w:
            d["trashed"] = (trashed or self.is_trashed)(rec)
        if "explicitlyTrashed" in w:
            d["explicitlyTrashed"] = bool(rec.get("explicitlyTrashed"))
        if "parents" in w and rec.get("parent"):
            d["parents"] = [rec["parent"]]
        if "properties" in w and rec.get("properties"):
            d["properties"] = dict(rec["properties"])
        if "appProperties" in w and rec.get("appProperties"):
            d["appProperties"] = dict(rec["appProperties"])
        if "spaces" in w:
            d["spaces"] = ["drive"]
        if "version" in w:
            d["version"] = str(rec["version"])
        if "webContentLink" in w and binary:
            d["webContentLink"] = ("https://drive.google.com/uc?id=%s"
                                   "&export=download" % fid)
        if "webViewLink" not in w:
            pass
        elif folder:
            d["webViewLink"] = "https://drive.google.com/drive/folders/" + fid
        elif mime in _EDIT_LINKS:
            d["webViewLink"] = _EDIT_LINKS[mime] % fid
        else:
            d["webViewLink"] = ("https://drive.google.com/file/d/%s/view"
                                "?usp=drivesdk" % fid)
        if "iconLink" in w:
            d["iconLink"] = ("https://drive-thirdparty.googleusercontent.com/"
                             "16/type/" + mime)
        if "hasThumbnail" in w:
            d["hasThumbnail"] = False
        if "thumbnailVersion" in w:
            d["thumbnailVersion"] = "0"
        if "viewedByMe" in w:
            d["viewedByMe"] = rec.get("viewedByMeTime") is not None
        if "viewedByMeTime" in w and rec.get("viewedByMeTime") is not None:
            d["viewedByMeTime"] = rfc3339(rec["viewedByMeTime"])
        if "createdTime" in w:
            d["createdTime"] = rfc3339(rec["createdTime"])
        if "modifiedTime" in w:
            d["modifiedTime"] = rfc3339(rec["modifiedTime"])
        if "modifiedByMeTime" in w and owned and \
                rec.get("modifiedByMeTime") is not None:
            d["modifiedByMeTime"] = rfc3339(rec["modifiedByMeTime"])
        if "modifiedByMe" in w:
            d["modifiedByMe"] = rec.get("modifiedByMeTime") is not None \
                and owned
        if "owners" in w:
            d["owners"] = [self.user_obj(rec["owner"], me)]
        if "lastModifyingUser" in w:
            d["lastModifyingUser"] = self.user_obj(rec["lastModifyingUser"],
                                                   me)
        if "shared" in w:
            d["shared"] = False
        if "ownedByMe" in w:
            d["ownedByMe"] = rec["owner"] == me
        if "capabilities" in w:
            d["capabilities"] = dict(_capabilities(folder, editable, is_root))
        if "viewersCanCopyContent" in w:
            d["viewersCanCopyContent"] = True
        if "copyRequiresWriterPermission" in w:
            d["copyRequiresWriterPermission"] = bool(
                rec.get("copyRequiresWriterPermission"))
        if "writersCanShare" in w:
            d["writersCanShare"] = bool(rec.get("writersCanShare", True))
        if "permissions" in w or "permissionIds" in w:
            owner = self.user_obj(rec["owner"], me)
            if "permissions" in w:
                d["permissions"] = [{
                    "kind": "drive#permission", "id": owner["permissionId"],
                    "type": "user", "emailAddress": rec["owner"],
                    "role": "owner", "displayName": owner["displayName"],
                    "photoLink": owner["photoLink"], "deleted": False,
                    "pendingOwner": False}]
            if "permissionIds" in w:
                d["permissionIds"] = [owner["permissionId"]]
        if "folderColorRgb" in w and folder:
            d["folderColorRgb"] = rec.get("folderColorRgb") or "#8f8f8f"
        if binary:
            if "originalFilename" in w:
                d["originalFilename"] = rec.get("originalFilename",
                                                rec["name"])
            if rec.get("fullFileExtension"):
                if "fullFileExtension" in w:
                    d["fullFileExtension"] = rec["fullFileExtension"]
                if "fileExtension" in w:
                    d["fileExtension"] = rec["fileExtension"]
            if "md5Checksum" in w:
                d["md5Checksum"] = rec.get("md5")
            if "sha1Checksum" in w:
                d["sha1Checksum"] = rec.get("sha1")
            if "sha256Checksum" in w:
                d["sha256Checksum"] = rec.get("sha256")
            if "size" in w:
                d["size"] = str(rec.get("size", 0))
            if "headRevisionId" in w:
                d["headRevisionId"] = rec.get("headRevisionId")
        if doc:
            if "size" in w:
                d["size"] = str(rec.get("size", 0))
            if "exportLinks" in w:
                fmt = {"application/pdf": "pdf", "text/plain": "txt",
                       "text/csv": "csv", "text/html": "html"}
                d["exportLinks"] = {
                    m: "https://docs.google.com/feeds/download/documents/"
                       "export/Export?id=%s&exportFormat=%s"
                       % (fid, fmt.get(m, m.rsplit("/", 1)[-1]
                                       .rsplit(".", 1)[-1]))
                    for m in EXPORT_FORMATS.get(mime, [])}
        if "quotaBytesUsed" in w:
            d["quotaBytesUsed"] = str(rec.get("size", 0) if (binary or doc)
                                      else 0)
        if "isAppAuthorized" in w:
            d["isAppAuthorized"] = True
        if "shortcutDetails" in w and shortcut:
            d["shortcutDetails"] = {
                "targetId": rec.get("shortcutTargetId"),
                "targetMimeType": rec.get("shortcutTargetMimeType")}
        if "linkShareMetadata" in w:
            d["linkShareMetadata"] = {"securityUpdateEligible": False,
                                      "securityUpdateEnabled": True}
        if "inheritedPermissionsDisabled" in w:
            d["inheritedPermissionsDisabled"] = False
        return d

    # -------------------------------------------------------- persistence

    def to_json(self):
        return {"files": list(self.files.values()), "changes": self.changes,
                "next_change": self.next_change, "generated": self.generated,
                "seq": self.seq, "root_id": self.root_id,
                "users": self.users, "quota_limit": self.quota_limit}

    def from_json(self, data):
        self.files = {f["id"]: f for f in data["files"]}
        self.children = defaultdict(set)
        for f in self.files.values():
            if f.get("parent"):
                self.children[f["parent"]].add(f["id"])
        self.changes = data["changes"]
        self.next_change = data["next_change"]
        self.generated = data["generated"]
        self.seq = data["seq"]
        self.root_id = data["root_id"]
        self.users.update(data.get("users", {}))
        self.quota_limit = data.get("quota_limit", self.quota_limit)


def parse_time(text):
    from fd_query import parse_time_ms
    return parse_time_ms(text) if isinstance(text, str) else None
