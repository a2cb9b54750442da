"""Constants, exceptions and small helpers shared by the fakedrive modules."""

import sys

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
