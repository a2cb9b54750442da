"""The files.list `q` search language: tokenizer, recursive-descent parser,
compiler to a predicate.

Reference: "Search query terms and operators" (drive/api/guides/
ref-search-terms) and "Search for files and folders" (guides/search-files):

  query   := term (and|or term)* with `not`, parentheses
  term    := name contains|=|!= 'str'        fullText contains 'str'
           | mimeType contains|=|!= 'str'    modifiedTime|createdTime|
             viewedByMeTime|sharedWithMeTime <=|<|=|!=|>|>= 'RFC 3339'
           | trashed|starred|sharedWithMe =|!= true|false
           | 'id' in parents|owners|writers|readers
           | properties|appProperties has { key='k' and value='v' }
           | visibility =|!= 'str'      shortcutDetails.targetId =|!= 'str'
  strings are single-quoted; \\' and \\\\ escape a quote and a backslash.

Anything else is 400 invalid "Invalid Value" (location q).

Matching details (documented behaviour, see the guide's notes):
  - `name contains` does prefix matching on the name's alphanumeric tokens,
    case-insensitive ("HelloWorld" matches 'Hello', not 'World').
  - `fullText contains` matches whole tokens; a double-quoted phrase matches
    a contiguous run of tokens.
  - `name =` compares case-insensitively (Drive search is case-insensitive);
    clients must re-check exact names themselves.
"""

import re
import datetime

from fd_errors import invalid_value

CMP_OPS = {"<", "<=", "=", "!=", ">", ">="}
EQ_OPS = {"=", "!="}

# field -> (value type, allowed operators)
FIELDS = {
    "name": ("str", {"contains", "=", "!="}),
    "fullText": ("str", {"contains"}),
    "mimeType": ("str", {"contains", "=", "!="}),
    "modifiedTime": ("date", CMP_OPS),
    "viewedByMeTime": ("date", CMP_OPS),
    "createdTime": ("date", CMP_OPS),
    "sharedWithMeTime": ("date", CMP_OPS),
    "trashed": ("bool", EQ_OPS),
    "starred": ("bool", EQ_OPS),
    "sharedWithMe": ("bool", EQ_OPS),
    "visibility": ("str", EQ_OPS),
    "shortcutDetails.targetId": ("str", EQ_OPS),
}
COLLECTIONS = {"parents", "owners", "writers", "readers"}
HAS_FIELDS = {"properties", "appProperties"}
KEYWORDS = {"and", "or", "not", "in", "has", "contains", "true", "false"}


class QueryError(Exception):
    pass


def _err(msg="syntax"):
    raise QueryError(msg)


# ---------------------------------------------------------------- tokenizer

_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_NUM = re.compile(r"-?[0-9]+")


def tokenize(text):
    toks = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
        elif c in "(){}":
            toks.append(("P", c))
            i += 1
        elif c in "<>!=":
            if text.startswith(("<=", ">=", "!="), i):
                toks.append(("OP", text[i:i + 2]))
                i += 2
            elif c == "!":
                _err("bad operator")
            else:
                toks.append(("OP", c))
                i += 1
        elif c in "'\"":
            quote = c
            i += 1
            buf = []
            while True:
                if i >= n:
                    _err("unterminated string")
                c = text[i]
                if c == "\\":
                    if i + 1 >= n or text[i + 1] not in ("'", '"', "\\"):
                        _err("bad escape")
                    buf.append(text[i + 1])
                    i += 2
                elif c == quote:
                    i += 1
                    break
                else:
                    buf.append(c)
                    i += 1
            toks.append(("STR", "".join(buf)))
        else:
            m = _WORD.match(text, i)
            if m:
                w = m.group(0)
                if w.lower() in KEYWORDS:
                    toks.append(("KW", w.lower()))
                else:
                    toks.append(("WORD", w))
                i = m.end()
                continue
            m = _NUM.match(text, i)
            if m:
                toks.append(("NUM", int(m.group(0))))
                i = m.end()
                continue
            _err("unexpected character %r" % c)
    return toks


# ------------------------------------------------------------------- parser

class _Parser:
    def __init__(self, toks):
        self.toks = toks
        self.i = 0

    def peek(self):
        return self.toks[self.i] if self.i < len(self.toks) else (None, None)

    def take(self, kind=None, value=None):
        tok = self.peek()
        if tok[0] is None:
            _err("unexpected end")
        if kind and tok[0] != kind:
            _err("expected %s" % kind)
        if value is not None and tok[1] != value:
            _err("expected %s" % value)
        self.i += 1
        return tok

    def parse(self):
        node = self.or_expr()
        if self.i != len(self.toks):
            _err("trailing tokens")
        return node

    def or_expr(self):
        node = self.and_expr()
        while self.peek() == ("KW", "or"):
            self.i += 1
            node = ("or", node, self.and_expr())
        return node

    def and_expr(self):
        node = self.unary()
        while self.peek() == ("KW", "and"):
            self.i += 1
            node = ("and", node, self.unary())
        return node

    def unary(self):
        if self.peek() == ("KW", "not"):
            self.i += 1
            return ("not", self.unary())
        if self.peek() == ("P", "("):
            self.i += 1
            node = self.or_expr()
            self.take("P", ")")
            return node
        return self.term()

    def term(self):
        kind, val = self.take()
        if kind == "STR":
            self.take("KW", "in")
            _, field = self.take("WORD")
            if field not in COLLECTIONS:
                _err("not a collection")
            return ("in", val, field)
        if kind != "WORD":
            _err("expected a query term")
        field = val
        if field in HAS_FIELDS:
            self.take("KW", "has")
            self.take("P", "{")
            self.take("WORD", "key")
            self.take("OP", "=")
            _, key = self.take("STR")
            self.take("KW", "and")
            self.take("WORD", "value")
            self.take("OP", "=")
            _, value = self.take("STR")
            self.take("P", "}")
            return ("has", field, key, value)
        if field not in FIELDS:
            _err("unknown field")
        vtype, ops = FIELDS[field]
        okind, op = self.take()
        if okind == "KW" and op == "contains":
            pass
        elif okind != "OP":
            _err("expected operator")
        if op not in ops:
            _err("operator not allowed")
        vkind, value = self.take()
        if vtype == "bool":
            if vkind != "KW" or value not in ("true", "false"):
                _err("expected boolean")
            value = value == "true"
        elif vtype == "date":
            if vkind != "STR":
                _err("expected date")
            value = parse_time_ms(value)
            if value is None:
                _err("bad date")
        else:
            if vkind != "STR":
                _err("expected string")
        return ("term", field, op, value)


def parse(text):
    """Parse q; raises ApiError 400 invalid (location q) on any error."""
    try:
        toks = tokenize(text)
        if not toks:
            _err("empty")
        return _Parser(toks).parse()
    except QueryError:
        raise invalid_value("q")


_TIME = re.compile(
    r"^(\d{4})-(\d{2})-(\d{2})(?:[Tt ](\d{2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?"
    r"(Z|z|[+-]\d{2}:?\d{2})?$")


def parse_time_ms(text):
    """RFC 3339 date-time (default timezone UTC) -> epoch milliseconds."""
    m = _TIME.match(text.strip())
    if not m:
        return None
    y, mo, d, hh, mm, ss, frac, tz = m.groups()
    try:
        dt = datetime.datetime(int(y), int(mo), int(d), int(hh or 0),
                               int(mm or 0), int(ss or 0),
                               tzinfo=datetime.timezone.utc)
    except ValueError:
        return None
    ms = int(dt.timestamp() * 1000)
    if frac:
        ms += int((frac[1:] + "000")[:3])
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        digits = tz[1:].replace(":", "")
        ms -= sign * (int(digits[:2]) * 60 + int(digits[2:])) * 60000
    return ms


# ----------------------------------------------------------------- matching

_SPLIT = re.compile(r"[^0-9A-Za-z\u00c0-\uffff]+")


def tokens(text):
    return [t for t in _SPLIT.split((text or "").lower()) if t]


def name_contains(name, query):
    want = tokens(query)
    have = tokens(name)
    return all(any(h.startswith(w) for h in have) for w in want)


def full_text_contains(text, query):
    have = tokens(text)
    q = query.strip()
    if len(q) >= 2 and q[0] == '"' and q[-1] == '"':
        phrase = tokens(q[1:-1])
        if not phrase:
            return True
        n = len(phrase)
        return any(have[i:i + n] == phrase for i in range(len(have) - n + 1))
    return all(w in have for w in tokens(q))


def compile_query(ast, ctx):
    """Compile to a predicate rec -> bool.

    ctx provides: root_id, me (email), parent_of(rec), trashed(rec),
    owner(rec), full_text(rec).
    """
    op = ast[0]
    if op == "and":
        a, b = compile_query(ast[1], ctx), compile_query(ast[2], ctx)
        return lambda r: a(r) and b(r)
    if op == "or":
        return _compile_or(ast, ctx)
    if op == "not":
        a = compile_query(ast[1], ctx)
        return lambda r: not a(r)
    if op == "in":
        value, field = ast[1], ast[2]
        if field == "parents":
            pid = ctx.root_id if value == "root" else value
            return lambda r: r.get("parent") == pid
        who = ctx.me if value == "me" else value
        # Only the owner has access in this emulator: owner, writer, reader.
        return lambda r: ctx.owner(r).lower() == who.lower()
    if op == "has":
        field, key, value = ast[1], ast[2], ast[3]
        return lambda r: (r.get(field) or {}).get(key) == value
    _, field, cmp, value = ast
    if field == "name":
        if cmp == "contains":
            return lambda r: name_contains(r["name"], value)
        low = value.lower()
        if cmp == "=":
            return lambda r: r["name"].lower() == low
        return lambda r: r["name"].lower() != low
    if field == "fullText":
        return lambda r: full_text_contains(ctx.full_text(r), value)
    if field == "mimeType":
        if cmp == "contains":
            return lambda r: value in r["mimeType"]
        if cmp == "=":
            return lambda r: r["mimeType"] == value
        return lambda r: r["mimeType"] != value
    if field in ("trashed", "starred", "sharedWithMe"):
        if field == "trashed":
            get = ctx.trashed
        elif field == "starred":
            def get(r):
                return bool(r.get("starred"))
        else:
            def get(r):
                return False
        if cmp == "=":
            return lambda r: get(r) == value
        return lambda r: get(r) != value
    if field == "visibility":
        return (lambda r: value == "limited") if cmp == "=" else \
            (lambda r: value != "limited")
    if field == "shortcutDetails.targetId":
        if cmp == "=":
            return lambda r: r.get("shortcutTargetId") == value
        return lambda r: r.get("shortcutTargetId") != value
    # dates
    key = field

    def cmpf(r):
        v = r.get(key)
        if v is None:
            return cmp == "!="
        return {"<": v < value, "<=": v <= value, "=": v == value,
                "!=": v != value, ">": v > value, ">=": v >= value}[cmp]
    return cmpf


def _or_terms(ast, out):
    if ast[0] == "or":
        _or_terms(ast[1], out)
        _or_terms(ast[2], out)
    else:
        out.append(ast)
    return out


def _compile_or(ast, ctx):
    """An `or` chain; its `'X' in parents` terms become one set lookup (a
    20-folder listing query was 20 nested calls per file). The terms have
    no side effects, so testing the parents first changes no result."""
    terms = _or_terms(ast, [])
    pids = {ctx.root_id if t[1] == "root" else t[1] for t in terms
            if t[0] == "in" and t[2] == "parents"}
    preds = [compile_query(t, ctx) for t in terms
             if not (t[0] == "in" and t[2] == "parents")]
    if not pids:
        return lambda r: any(p(r) for p in preds)
    if not preds:
        return lambda r: r.get("parent") in pids
    return lambda r: r.get("parent") in pids or any(p(r) for p in preds)


def parent_candidates(ast, root_id):
    """A set of folder ids that holds the parent of every file q can match,
    or None when q does not restrict the parent. `'X' in parents` gives
    {X}; `a and b` the intersection of what its sides give (or either's
    when one side does not restrict); `a or b` the union when both sides
    restrict; `not` nothing. The caller scans only these folders' children
    (the store's parent -> children index) and still applies the whole
    predicate to each, so the set only has to be a superset."""
    op = ast[0]
    if op == "in":
        if ast[2] != "parents":
            return None
        return {root_id if ast[1] == "root" else ast[1]}
    if op in ("and", "or"):
        a = parent_candidates(ast[1], root_id)
        b = parent_candidates(ast[2], root_id)
        if op == "or":
            return a | b if a is not None and b is not None else None
        if a is None or b is None:
            return a if b is None else b
        return a & b
    return None


def uses_full_text(ast):
    if ast[0] in ("and", "or"):
        return uses_full_text(ast[1]) or uses_full_text(ast[2])
    if ast[0] == "not":
        return uses_full_text(ast[1])
    return ast[0] == "term" and ast[1] == "fullText"
