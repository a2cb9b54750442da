"""Constants, exceptions and small helpers shared by the fakedrive modules."""

import json
import json.encoder
import sys
from itertools import chain, compress

import fd_errors as E

SCOPE = "https://www.googleapis.com/auth/"
DRIVE_SCOPE = SCOPE + "drive"
READ_SCOPES = {SCOPE + s for s in (
    "drive", "drive.readonly", "drive.file", "drive.appdata",
    "drive.metadata", "drive.metadata.readonly", "drive.photos.readonly",
    "drive.meet.readonly")}
CONTENT_SCOPES = {SCOPE + s for s in (
    "drive", "drive.readonly", "drive.file", "drive.appdata",
    "drive.photos.readonly", "drive.meet.readonly")}
WRITE_SCOPES = {SCOPE + s for s in ("drive", "drive.file", "drive.appdata")}
META_WRITE_SCOPES = WRITE_SCOPES | {SCOPE + "drive.metadata"}

GOOGLE_TOKEN_URL = "https://oauth2.googleapis.com/token"
ACCEPTED_AUDIENCES = {GOOGLE_TOKEN_URL,
                      "https://www.googleapis.com/oauth2/v4/token",
                      "https://accounts.google.com/o/oauth2/token"}
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"

DEFAULT_CLIENT_ID = "fakedrive-client-id.apps.googleusercontent.com"
DEFAULT_CLIENT_SECRET = "fakedrive-client-secret"
DEFAULT_REFRESH_TOKEN = "fakedrive-refresh-token"
DEFAULT_USER = "user@example.com"
OTHER_USER = "other@example.com"

CHUNK_GRANULARITY = 256 * 1024
IO_CHUNK = 1 << 20
MAX_JSON_BODY = 64 << 20
LOG_LIMIT = 10000

KIND_SCOPES = {
    "about.get": READ_SCOPES, "files.list": READ_SCOPES,
    "files.get": READ_SCOPES, "changes.getStartPageToken": READ_SCOPES,
    "changes.list": READ_SCOPES, "files.get.media": CONTENT_SCOPES,
    "files.export": CONTENT_SCOPES, "files.update": META_WRITE_SCOPES,
}

CONFIG_KEYS = {"latency_ms", "bandwidth", "qps", "token_lifetime",
               "quota_limit", "upload_session_lifetime"}

FAULT_ACTIONS = {"error", "drop", "drop_after", "drop_mid_body",
                 "truncate_body", "malformed_json", "delay"}


class ClientGone(Exception):
    """The client connection broke (or a fault cut it)."""


class NoResponse(Exception):
    """The handler chose to close the connection without replying."""


class Handled(Exception):
    """The response was already sent (by a fault); skip the handler."""


def log(msg):
    sys.stderr.write("fakedrive: %s\n" % msg)
    sys.stderr.flush()


SECRET_PARAMS = {"access_token", "oauth_token", "token", "code",
                 "refresh_token", "client_secret", "assertion",
                 "code_verifier"}


def redact_query(query):
    """Query parameters safe to log: credentials replaced."""
    return {k: ("<redacted>" if k in SECRET_PARAMS else v)
            for k, v in query.items()}


def parse_bool(query, name, default=False):
    if name not in query:
        return default
    v = query[name].lower()
    if v in ("true", "1"):
        return True
    if v in ("false", "0"):
        return False
    raise E.invalid_value(name)


def parse_int(query, name, default, lo, hi, coerce_high=False):
    if name not in query:
        return default
    try:
        v = int(query[name])
    except ValueError:
        raise E.invalid_value(name)
    if v > hi and coerce_high:
        return hi
    if v < lo or v > hi:
        raise E.invalid_value(name)
    return v


# ------------------------------------------------------ pretty JSON, fast
#
# Replies are pretty-printed (prettyPrint defaults to true, as Google's), as
# json.dumps(obj, indent=1, ensure_ascii=False) always printed them. On
# CPython < 3.13 json.dumps with an indent cannot use the C encoder and runs
# a generator per value: ~35 ms for a 1000-entry files.list page, the
# largest single cost of a page. dumps_pretty() prints the same bytes:
#   - a plain recursive printer (_pretty) for small containers;
#   - for a list of records (>= _RECORDS_MIN non-empty dicts whose values
#     are plain: a files.list page, a changes page), one call of the C
#     encoder for the whole list with the records' item separator, nested
#     containers swapped for a sentinel and printed apart (_containers),
#     then the few separators that differ fixed up by string replacement.
#     Raw newlines appear in the C output only as separators (inside
#     strings they are escaped), which is what makes the fix-up exact; a
#     sentinel count that does not match (a string that looks like one)
#     falls back to _pretty.
# Anything else (non-string keys, subclasses, other types, cycles) goes to
# json.dumps itself, so errors and corner cases behave as before.

_encode_str = json.encoder.encode_basestring      # C version when available
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_INFINITY = float("inf")
_RECORDS_MIN = 8
_SENTINEL = "\x00"
_SENTINEL_JSON = _encode_str(_SENTINEL)           # '"\\u0000"'
_PLAIN_TYPES = frozenset((str, int, float, bool, type(None), dict, list,
                          tuple))
_CONTAINER_TYPES = frozenset((dict, list, tuple))
_SCALAR_TYPES = frozenset((str, int, float, bool, type(None)))
_STR_TYPE = frozenset((str,))
_record_encoders = {}
_nested_encoder = _c_make_encoder and _c_make_encoder(
    None, None, _encode_str, None, ": ", "\x01", False, False, True)


class _NotPlain(Exception):
    """A value the fast printers do not handle; json.dumps takes over."""


def _float_str(o):
    # json.encoder.floatstr with allow_nan=True
    if o != o:
        return "NaN"
    if o == _INFINITY:
        return "Infinity"
    if o == -_INFINITY:
        return "-Infinity"
    return float.__repr__(o)


def _pretty(o, pad, out):
    """Append json.dumps(o, indent=1, ensure_ascii=False) of o, nested at
    indent pad (a string of spaces), to the list out."""
    if isinstance(o, str):
        out.append(_encode_str(o))
    elif o is None:
        out.append("null")
    elif o is True:
        out.append("true")
    elif o is False:
        out.append("false")
    elif isinstance(o, int):
        out.append(int.__repr__(o))
    elif isinstance(o, float):
        out.append(_float_str(o))
    elif isinstance(o, dict):
        if not o:
            out.append("{}")
            return
        inner = pad + " "
        sep = "{\n" + inner
        for k, v in o.items():
            if not isinstance(k, str):
                raise _NotPlain()
            out.append(sep)
            out.append(_encode_str(k))
            out.append(": ")
            _pretty(v, inner, out)
            sep = ",\n" + inner
        out.append("\n" + pad + "}")
    elif isinstance(o, (list, tuple)):
        if not o:
            out.append("[]")
            return
        if len(o) >= _RECORDS_MIN and _records(o, pad, out):
            return
        inner = pad + " "
        sep = "[\n" + inner
        for v in o:
            out.append(sep)
            _pretty(v, inner, out)
            sep = ",\n" + inner
        out.append("\n" + pad + "]")
    else:
        raise _NotPlain()


def _records(o, pad, out):
    """The list-of-records fast path of _pretty; False when o is not one
    (nothing appended then)."""
    if _c_make_encoder is None:
        return False
    flat, nested = [], []
    is_container = _CONTAINER_TYPES.__contains__
    for d in o:
        if type(d) is not dict or not d:
            return False
        types = set(map(type, d.values()))
        if not types <= _PLAIN_TYPES or \
                not _STR_TYPE.issuperset(map(type, d)):
            return False
        if types.isdisjoint(_CONTAINER_TYPES):
            flat.append(d)
            continue
        # Empty containers print the same compact or pretty: keep them.
        d = dict(d)
        for k in compress(d, map(is_container, map(type, d.values()))):
            v = d[k]
            if v:
                d[k] = _SENTINEL
                nested.append(v)
        flat.append(d)
    pad1, pad2 = pad + " ", pad + "  "
    enc = _record_encoders.get(pad)
    if enc is None:
        enc = _c_make_encoder(None, None, _encode_str, None, ": ",
                              ",\n" + pad2, False, False, True)
        _record_encoders[pad] = enc
    # "[{" ... "}" SEP "{" ... "}]", SEP the records' item separator.
    text = "".join(enc(flat, 0)).replace(
        "},\n" + pad2 + "{", "\n" + pad1 + "},\n" + pad1 + "{\n" + pad2)
    text = "[\n" + pad1 + "{\n" + pad2 + text[2:-2] + "\n" + pad1 + "}\n" + \
        pad + "]"
    if not nested:
        out.append(text)
        return True
    pieces = text.split(_SENTINEL_JSON)
    if len(pieces) != len(nested) + 1:
        return False
    out.append(pieces[0])
    out.extend(chain.from_iterable(zip(_containers(nested, pad2),
                                       pieces[1:])))
    return True


def _containers(values, pad):
    """Pretty texts of the non-empty containers `values`, each nested at
    indent pad. When they hold only scalars (parents, capabilities,
    appProperties), one C call prints them all, separated by a raw \\x01
    (inside strings it would be escaped): between two containers it comes
    after a closing and before an opening bracket, inside one never, since
    the items are scalars."""
    dicts = [v for v in values if type(v) is dict]
    lists = [v for v in values if type(v) is not dict]
    if _STR_TYPE.issuperset(map(type, chain.from_iterable(dicts))) and \
            _SCALAR_TYPES.issuperset(map(type, chain.from_iterable(
                map(dict.values, dicts)))) and \
            _SCALAR_TYPES.issuperset(map(type, chain.from_iterable(lists))):
        inner = pad + " "
        text = "".join(_nested_encoder(values, 0))[1:-1]
        for a in "]}":
            for b in "[{":
                text = text.replace(a + "\x01" + b, "\n" + pad + a + "\x02" +
                                    b + "\n" + inner)
        text = text.replace("\x01", ",\n" + inner)
        text = text[0] + "\n" + inner + text[1:-1] + "\n" + pad + text[-1]
        texts = text.split("\x02")
        if len(texts) == len(values):
            return texts
    texts = []
    for v in values:
        sub = []
        _pretty(v, pad, sub)
        texts.append("".join(sub))
    return texts


def dumps_pretty(obj):
    """Exactly json.dumps(obj, indent=1, ensure_ascii=False), faster."""
    out = []
    try:
        _pretty(obj, "", out)
    except (_NotPlain, RecursionError):
        return json.dumps(obj, indent=1, ensure_ascii=False)
    return "".join(out)
