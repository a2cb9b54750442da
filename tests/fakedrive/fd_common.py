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
#   - for a list of records (>= _RECORDS_MIN non-empty dicts with string
#     keys and plain values: a files.list page, a changes page), the
#     values of all records go to the C encoder in one flat list, separated
#     by a raw \x01 (inside strings it would be escaped, so splitting on it
#     is exact), and are interleaved with each record's keys and
#     indentation, prepared once per key sequence; non-empty nested
#     containers are printed apart (_containers) and put in their place.
# Anything else (non-string keys, subclasses, other types, cycles) goes to
# json.dumps itself, so errors and corner cases behave as before.

_encode_str = json.encoder.encode_basestring      # C version when available
_c_make_encoder = getattr(json.encoder, "c_make_encoder", None)
_INFINITY = float("inf")
_RECORDS_MIN = 8
_PLAIN_TYPES = frozenset((str, int, float, bool, type(None), dict, list,
                          tuple))
_CONTAINER_TYPES = frozenset((dict, list, tuple))
_SCALAR_TYPES = frozenset((str, int, float, bool, type(None)))
_STR_TYPE = frozenset((str,))
_DICT_TYPE = frozenset((dict,))
# Prints a list with a raw "\x01" between items (": " in dicts): the values
# of a list of records, the nested containers of a page.
_flat_encoder = _c_make_encoder and _c_make_encoder(
    None, None, _encode_str, None, ": ", "\x01", False, False, True)
_key_prefixes = {}      # (keys, pad) -> what comes before each value


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
    if _flat_encoder is None or set(map(type, o)) != _DICT_TYPE or \
            not all(o) or \
            not _STR_TYPE.issuperset(map(type, chain.from_iterable(o))):
        return False
    values = list(chain.from_iterable(map(dict.values, o)))
    if not _PLAIN_TYPES.issuperset(map(type, values)):
        return False
    # Before each value: its key, after the previous value's separator,
    # or for a record's first key after the previous record's end.
    pad1, pad2 = pad + " ", pad + "  "
    if len(_key_prefixes) > 1024:
        _key_prefixes.clear()
    prefixes = []
    for keys in map(tuple, o):
        p = _key_prefixes.get((keys, pad))
        if p is None:
            p = ["\n" + pad1 + "},\n" + pad1 + "{\n" + pad2 +
                 _encode_str(keys[0]) + ": "]
            p += [",\n" + pad2 + _encode_str(k) + ": " for k in keys[1:]]
            _key_prefixes[(keys, pad)] = p
        prefixes.extend(p)
    prefixes[0] = "[\n" + pad1 + "{\n" + pad2 + \
        _encode_str(next(iter(o[0]))) + ": "
    # Empty containers print the same compact or pretty: the C encoder
    # prints them in place; the others are printed apart.
    where = [i for i in compress(range(len(values)), map(
        _CONTAINER_TYPES.__contains__, map(type, values))) if values[i]]
    nested = [values[i] for i in where]
    for i in where:
        values[i] = None
    pieces = "".join(_flat_encoder(values, 0))[1:-1].split("\x01")
    if len(pieces) != len(values):
        return False        # cannot happen
    for i, text in zip(where, _containers(nested, pad2)):
        pieces[i] = text
    out.extend(chain.from_iterable(zip(prefixes, pieces)))
    out.append("\n" + pad1 + "}\n" + pad + "]")
    return True


def _containers(values, pad):
    """Pretty texts of the non-empty containers `values`, each nested at
    indent pad. When they hold only scalars (parents, capabilities,
    appProperties), one C call prints them all, separated by a raw \\x01
    (inside strings it would be escaped): between two containers it comes
    after a closing and before an opening bracket, inside one never, since
    the items are scalars."""
    if not values:
        return []
    dicts = [v for v in values if type(v) is dict]
    lists = [v for v in values if type(v) is not dict]
    if _STR_TYPE.issuperset(map(type, chain.from_iterable(dicts))) and \
            _SCALAR_TYPES.issuperset(map(type, chain.from_iterable(
                map(dict.values, dicts)))) and \
            _SCALAR_TYPES.issuperset(map(type, chain.from_iterable(lists))):
        inner = pad + " "
        text = "".join(_flat_encoder(values, 0))[1:-1]
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
