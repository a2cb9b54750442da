"""The `fields` partial-response parameter: parse, validate, apply.

Reference: "Return specific fields" (drive/api/guides/fields-parameter) and
"Performance tips: partial response":
  - comma-separated list:            fields=kind,files
  - a/b selects b inside a:          fields=files/id
  - a(b,c) selects b and c inside a: fields=files(id,name),nextPageToken
  - * is a wildcard:                 fields=*  or  files(*)
A name that is not in the resource's schema is an error:
  400 invalidParameter "Invalid field selection NAME" (location fields).

The schema below is transcribed from the Drive v3 discovery document
(drive-api.json, revision 20250723). LEAF is a scalar or a list of scalars,
a dict is an object (lists of objects are transparent), MAP an object with
arbitrary keys (appProperties), ANY an object we do not model field by field.
"""

from fd_errors import invalid_fields

LEAF = None
MAP = "map"
ANY = "any"


def _leaves(*names):
    return {n: LEAF for n in names}


USER = _leaves("displayName", "emailAddress", "kind", "me", "permissionId",
               "photoLink")

FILE_CAPABILITIES = _leaves(
    "canAcceptOwnership", "canAddChildren", "canAddFolderFromAnotherDrive",
    "canAddMyDriveParent", "canChangeCopyRequiresWriterPermission",
    "canChangeItemDownloadRestriction", "canChangeSecurityUpdateEnabled",
    "canChangeViewersCanCopyContent", "canComment", "canCopy", "canDelete",
    "canDeleteChildren", "canDisableInheritedPermissions", "canDownload",
    "canEdit", "canEnableInheritedPermissions", "canListChildren",
    "canModifyContent", "canModifyContentRestriction",
    "canModifyEditorContentRestriction", "canModifyLabels",
    "canModifyOwnerContentRestriction", "canMoveChildrenOutOfDrive",
    "canMoveChildrenOutOfTeamDrive", "canMoveChildrenWithinDrive",
    "canMoveChildrenWithinTeamDrive", "canMoveItemIntoTeamDrive",
    "canMoveItemOutOfDrive", "canMoveItemOutOfTeamDrive",
    "canMoveItemWithinDrive", "canMoveItemWithinTeamDrive",
    "canMoveTeamDriveItem", "canReadDrive", "canReadLabels",
    "canReadRevisions", "canReadTeamDrive", "canRemoveChildren",
    "canRemoveContentRestriction", "canRemoveMyDriveParent", "canRename",
    "canShare", "canTrash", "canTrashChildren", "canUntrash")

DOWNLOAD_RESTRICTION = _leaves("restrictedForReaders", "restrictedForWriters")

FILE = {
    "appProperties": MAP,
    "capabilities": FILE_CAPABILITIES,
    "contentHints": {"indexableText": LEAF,
                     "thumbnail": _leaves("image", "mimeType")},
    "contentRestrictions": dict(
        _leaves("ownerRestricted", "readOnly", "reason", "restrictionTime",
                "systemRestricted", "type"), restrictingUser=USER),
    "copyRequiresWriterPermission": LEAF,
    "createdTime": LEAF,
    "description": LEAF,
    "downloadRestrictions": {
        "effectiveDownloadRestrictionWithContext": DOWNLOAD_RESTRICTION,
        "itemDownloadRestriction": DOWNLOAD_RESTRICTION},
    "driveId": LEAF,
    "explicitlyTrashed": LEAF,
    "exportLinks": MAP,
    "fileExtension": LEAF,
    "folderColorRgb": LEAF,
    "fullFileExtension": LEAF,
    "hasAugmentedPermissions": LEAF,
    "hasThumbnail": LEAF,
    "headRevisionId": LEAF,
    "iconLink": LEAF,
    "id": LEAF,
    "imageMediaMetadata": dict(
        _leaves("aperture", "cameraMake", "cameraModel", "colorSpace",
                "exposureBias", "exposureMode", "exposureTime", "flashUsed",
                "focalLength", "height", "isoSpeed", "lens",
                "maxApertureValue", "meteringMode", "rotation", "sensor",
                "subjectDistance", "time", "whiteBalance", "width"),
        location=_leaves("altitude", "latitude", "longitude")),
    "inheritedPermissionsDisabled": LEAF,
    "isAppAuthorized": LEAF,
    "kind": LEAF,
    "labelInfo": {"labels": ANY},
    "lastModifyingUser": USER,
    "linkShareMetadata": _leaves("securityUpdateEligible",
                                 "securityUpdateEnabled"),
    "md5Checksum": LEAF,
    "mimeType": LEAF,
    "modifiedByMe": LEAF,
    "modifiedByMeTime": LEAF,
    "modifiedTime": LEAF,
    "name": LEAF,
    "originalFilename": LEAF,
    "ownedByMe": LEAF,
    "owners": USER,
    "parents": LEAF,
    "permissionIds": LEAF,
    "permissions": ANY,
    "properties": MAP,
    "quotaBytesUsed": LEAF,
    "resourceKey": LEAF,
    "sha1Checksum": LEAF,
    "sha256Checksum": LEAF,
    "shared": LEAF,
    "sharedWithMeTime": LEAF,
    "sharingUser": USER,
    "shortcutDetails": _leaves("targetId", "targetMimeType",
                               "targetResourceKey"),
    "size": LEAF,
    "spaces": LEAF,
    "starred": LEAF,
    "teamDriveId": LEAF,
    "thumbnailLink": LEAF,
    "thumbnailVersion": LEAF,
    "trashed": LEAF,
    "trashedTime": LEAF,
    "trashingUser": USER,
    "version": LEAF,
    "videoMediaMetadata": _leaves("durationMillis", "height", "width"),
    "viewedByMe": LEAF,
    "viewedByMeTime": LEAF,
    "viewersCanCopyContent": LEAF,
    "webContentLink": LEAF,
    "webViewLink": LEAF,
    "writersCanShare": LEAF,
}

FILE_LIST = {"files": FILE, "incompleteSearch": LEAF, "kind": LEAF,
             "nextPageToken": LEAF}

CHANGE = {"changeType": LEAF, "drive": ANY, "driveId": LEAF, "file": FILE,
          "fileId": LEAF, "kind": LEAF, "removed": LEAF, "teamDrive": ANY,
          "teamDriveId": LEAF, "time": LEAF, "type": LEAF}

CHANGE_LIST = {"changes": CHANGE, "kind": LEAF, "newStartPageToken": LEAF,
               "nextPageToken": LEAF}

THEME = _leaves("backgroundImageLink", "colorRgb", "id")

ABOUT = {
    "appInstalled": LEAF, "canCreateDrives": LEAF,
    "canCreateTeamDrives": LEAF, "driveThemes": THEME, "exportFormats": MAP,
    "folderColorPalette": LEAF, "importFormats": MAP, "kind": LEAF,
    "maxImportSizes": MAP, "maxUploadSize": LEAF,
    "storageQuota": _leaves("limit", "usage", "usageInDrive",
                            "usageInDriveTrash"),
    "teamDriveThemes": THEME, "user": USER,
}

GENERATED_IDS = _leaves("ids", "kind", "space")
START_PAGE_TOKEN = _leaves("kind", "startPageToken")


class FieldsSyntaxError(Exception):
    pass


def parse(text):
    """Parse a fields expression into a selection tree.

    The tree is a dict: name -> None (the whole value) or a sub-tree.
    """
    p = _Parser(text)
    tree = p.parse_list()
    p.skip_ws()
    if p.pos != len(p.text):
        raise FieldsSyntaxError(text[p.pos:])
    return tree


class _Parser:
    NAME_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789_-.$@*")

    def __init__(self, text):
        self.text = text
        self.pos = 0

    def skip_ws(self):
        while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
            self.pos += 1

    def peek(self):
        self.skip_ws()
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def name(self):
        self.skip_ws()
        start = self.pos
        while (self.pos < len(self.text)
               and self.text[self.pos] in self.NAME_CHARS):
            self.pos += 1
        if start == self.pos:
            raise FieldsSyntaxError(self.text[start:] or self.text)
        return self.text[start:self.pos]

    def parse_list(self):
        tree = {}
        while True:
            merge(tree, self.parse_item())
            if self.peek() == ",":
                self.pos += 1
                continue
            return tree

    def parse_item(self):
        path = [self.name()]
        while self.peek() == "/":
            self.pos += 1
            path.append(self.name())
        sub = None
        if self.peek() == "(":
            self.pos += 1
            sub = self.parse_list()
            if self.peek() != ")":
                raise FieldsSyntaxError(self.text[self.pos:] or self.text)
            self.pos += 1
        for name in reversed(path):
            sub = {name: sub}
        return sub


def merge(a, b):
    for key, sub in b.items():
        if key not in a:
            a[key] = sub
        elif a[key] is None or sub is None:
            a[key] = None
        else:
            merge(a[key], sub)
    return a


def validate(tree, schema, prefix=""):
    """Raise ApiError 400 invalidParameter for names not in schema."""
    for key, sub in tree.items():
        if key == "*":
            continue
        if schema in (MAP, ANY):
            continue
        if not isinstance(schema, dict) or key not in schema:
            raise invalid_fields(key)
        child = schema[key]
        if sub is not None:
            if child is LEAF:
                raise invalid_fields(next(iter(sub)))
            validate(sub, child, prefix + key + "/")


def parse_and_validate(text, schema):
    try:
        tree = parse(text)
    except FieldsSyntaxError as e:
        raise invalid_fields(str(e))
    validate(tree, schema)
    return tree


def apply(tree, value):
    """Keep only the selected parts of value (dicts, lists of dicts)."""
    if tree is None:
        return value
    if isinstance(value, list):
        return [apply(tree, v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(tree) == 1 and "*" not in tree:
        # One key (capabilities/canEdit): look it up, do not walk value.
        for key, sub in tree.items():
            if key not in value:
                return {}
            val = value[key]
            return {key: val if sub is None else apply(sub, val)}
    out = {}
    star = tree.get("*", 0)
    for key, val in value.items():
        if key in tree:
            sub = tree[key]
        elif star != 0:
            sub = star
        else:
            continue
        # A leaf selection (None) keeps the value whole: no call needed.
        out[key] = val if sub is None else apply(sub, val)
    return out


DEFAULT_FILE = parse("kind,id,name,mimeType")
DEFAULT_FILE_LIST = parse(
    "kind,incompleteSearch,nextPageToken,files(kind,id,name,mimeType)")
DEFAULT_CHANGE_LIST = parse(
    "kind,nextPageToken,newStartPageToken,changes(kind,removed,fileId,time,"
    "type,changeType,file(kind,id,name,mimeType))")
