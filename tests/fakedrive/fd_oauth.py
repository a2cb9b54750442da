"""OAuth 2 endpoints: /token (refresh_token, jwt-bearer,
authorization_code with PKCE), /o/oauth2/v2/auth, /revoke."""

import base64
import json
import secrets
import time
from urllib.parse import parse_qsl, urlencode

import fd_auth as A
from fd_common import ACCEPTED_AUDIENCES, DEFAULT_USER, DRIVE_SCOPE, JWT_GRANT


class OAuthMixin:
    """Mixed into fakedrive.Handler."""

    # ---------------------------------------------------------------- oauth

    def oauth_error(self, status, error, description):
        self.send_raw(status, [("Content-Type",
                                "application/json; charset=utf-8")],
                      json.dumps({"error": error,
                                  "error_description": description},
                                 indent=2).encode())

    def read_form(self):
        raw = self.body.read_all(1 << 20).decode("utf-8", "replace")
        ctype = self.media_type(self.headers.get("Content-Type"))
        if ctype == "application/json":
            try:
                obj = json.loads(raw or "{}")
                return {k: str(v) for k, v in obj.items()}
            except (ValueError, AttributeError):
                return {}
        form = dict(parse_qsl(raw, keep_blank_values=True))
        for k, v in self.q.items():
            form.setdefault(k, v)
        return form

    def token_reply(self, user, scope, client_id, refresh_token=None,
                    with_scope=True, from_refresh=None):
        srv = self.server
        life = int(srv.config["token_lifetime"])
        with srv.store.lock:
            token = srv.auth.issue(user, scope, client_id, life,
                                   refresh=from_refresh or refresh_token)
            srv.mark_dirty()
        body = {"access_token": token, "expires_in": life}
        if refresh_token:
            body["refresh_token"] = refresh_token
        if with_scope:
            body["scope"] = scope
        body["token_type"] = "Bearer"
        self.send_raw(200, [("Content-Type",
                             "application/json; charset=utf-8"),
                            ("Cache-Control", "no-cache, no-store, max-age=0, "
                             "must-revalidate"), ("Pragma", "no-cache")],
                      json.dumps(body, indent=2).encode())

    def h_token(self):
        form = self.read_form()
        grant = form.get("grant_type", "")
        if grant == "refresh_token":
            return self.grant_refresh(form)
        if grant == JWT_GRANT:
            return self.grant_jwt(form)
        if grant == "authorization_code":
            return self.grant_code(form)
        return self.oauth_error(400, "unsupported_grant_type",
                                "Invalid grant_type: " + grant)

    def check_client(self, form):
        auth = self.server.auth
        cid = form.get("client_id")
        secret = form.get("client_secret")
        basic = self.headers.get("Authorization", "")
        if not cid and basic.lower().startswith("basic "):
            try:
                cid, secret = base64.b64decode(basic[6:]).decode().split(
                    ":", 1)
            except Exception:
                pass
        if not cid:
            self.oauth_error(400, "invalid_request",
                             "Could not determine client ID from request.")
            return None
        client = auth.clients.get(cid)
        if client is None:
            self.oauth_error(401, "invalid_client",
                             "The OAuth client was not found.")
            return None
        if secret != client["client_secret"]:
            self.oauth_error(401, "invalid_client", "Unauthorized")
            return None
        return cid

    def grant_refresh(self, form):
        srv = self.server
        with srv.store.lock:
            cid = self.check_client(form)
            if cid is None:
                return
            rt = form.get("refresh_token")
            if not rt:
                return self.oauth_error(400, "invalid_request",
                                        "Missing required parameter: "
                                        "refresh_token")
            info = srv.auth.refresh.get(rt)
            if info is None or info["client_id"] != cid:
                return self.oauth_error(400, "invalid_grant", "Bad Request")
            if info["revoked"]:
                return self.oauth_error(400, "invalid_grant",
                                        "Token has been expired or revoked.")
            scope = info["scope"]
            if form.get("scope"):
                want = set(form["scope"].split())
                if not want <= set(scope.split()):
                    return self.oauth_error(400, "invalid_scope",
                                            "Bad Request")
                scope = " ".join(sorted(want))
        self.token_reply(info["user"], scope, cid, from_refresh=rt)

    def grant_jwt(self, form):
        srv = self.server
        bad_time = ("Invalid JWT: Token must be a short-lived token (60 "
                    "minutes) and in a reasonable timeframe. Check your iat "
                    "and exp values in the JWT claim.")
        try:
            header, claims, signed, sig = A.jwt_decode(
                form.get("assertion", ""))
        except A.JwtError:
            return self.oauth_error(400, "invalid_grant",
                                    "Invalid JWT Signature.")
        iss = claims.get("iss")
        with srv.store.lock:
            key = srv.auth.sas.get(iss)
        if key is None:
            return self.oauth_error(400, "invalid_grant",
                                    "Invalid grant: account not found")
        if header.get("alg") != "RS256" or not A.rs256_verify(
                key["n"], key["e"], signed, sig):
            return self.oauth_error(400, "invalid_grant",
                                    "Invalid JWT Signature.")
        own = srv.url + "/token"
        aud = claims.get("aud")
        if aud not in ACCEPTED_AUDIENCES and aud != own and \
                aud != "http://%s/token" % self.headers.get("Host", ""):
            return self.oauth_error(400, "invalid_grant",
                                    "Invalid JWT: Failed audience check.")
        now = time.time()
        try:
            exp, iat = float(claims["exp"]), float(claims["iat"])
        except (KeyError, TypeError, ValueError):
            return self.oauth_error(400, "invalid_grant", bad_time)
        if exp <= now or iat > now + 300 or exp - iat > 3600 or exp < iat:
            return self.oauth_error(400, "invalid_grant", bad_time)
        scope = claims.get("scope")
        if not scope or not isinstance(scope, str):
            return self.oauth_error(400, "invalid_scope",
                                    "Invalid OAuth scope or ID token "
                                    "audience provided.")
        user = iss
        sub = claims.get("sub")
        if sub:
            with srv.store.lock:
                known = sub in srv.store.users
            if not known:
                return self.oauth_error(400, "invalid_grant",
                                        "Invalid email or User ID")
            user = sub
        self.token_reply(user, scope, iss, with_scope=False)

    def grant_code(self, form):
        srv = self.server
        with srv.store.lock:
            cid = self.check_client(form)
            if cid is None:
                return
            code = srv.auth.codes.pop(form.get("code", ""), None)
            if code is None or code["client_id"] != cid or \
                    code["exp"] < time.time():
                return self.oauth_error(400, "invalid_grant", "Bad Request")
            if code["redirect_uri"] != form.get("redirect_uri"):
                return self.oauth_error(400, "redirect_uri_mismatch",
                                        "Bad Request")
            if code.get("challenge"):
                verifier = form.get("code_verifier", "")
                method = code.get("method", "plain")
                ok = (A.pkce_s256(verifier) if method == "S256"
                      else verifier) == code["challenge"]
                if not verifier or not ok:
                    return self.oauth_error(400, "invalid_grant",
                                            "Invalid code verifier.")
            rt = "1//" + secrets.token_urlsafe(40)
            srv.auth.refresh[rt] = {"client_id": cid, "user": code["user"],
                                    "scope": code["scope"], "revoked": False}
            srv.mark_dirty()
        self.token_reply(code["user"], code["scope"], cid, refresh_token=rt)

    def h_authorize(self):
        """Consent is automatic: redirect back with a code at once."""
        srv = self.server
        q = self.q
        cid = q.get("client_id")
        redirect = q.get("redirect_uri")
        if not cid or cid not in srv.auth.clients or not redirect:
            return self.send_raw(400, [("Content-Type", "text/html")],
                                 b"<h1>Error 400: invalid_request</h1>")
        if q.get("response_type") != "code":
            return self.send_raw(400, [("Content-Type", "text/html")],
                                 b"<h1>Error 400: unsupported_response_type"
                                 b"</h1>")
        code = "4/" + secrets.token_urlsafe(40)
        scope = q.get("scope") or DRIVE_SCOPE
        with srv.store.lock:
            srv.auth.codes[code] = {
                "client_id": cid, "redirect_uri": redirect,
                "scope": scope, "user": q.get("login_hint") or DEFAULT_USER,
                "challenge": q.get("code_challenge"),
                "method": q.get("code_challenge_method", "plain"),
                "exp": time.time() + 600}
        params = {"code": code, "scope": scope}
        if "state" in q:
            params = {"state": q["state"], **params}
        sep = "&" if "?" in redirect else "?"
        self.send_raw(302, [("Location", redirect + sep + urlencode(params)),
                            ("Content-Type", "text/html")], b"")

    def h_revoke(self):
        """Google's revocation endpoint (POST https://oauth2.googleapis.com/
        revoke, token= in the form body or the query string): 200 `{}` when
        the token was revoked; 400 `invalid_token` "Token expired or
        revoked" for an unknown or already revoked token. Revoking a refresh
        token also revokes the access tokens issued from it; revoking an
        access token also revokes its refresh token."""
        # The legacy accounts.google.com/o/oauth2/revoke also took GET.
        if self.command != "POST" and not (
                self.command == "GET" and
                self.req_path == "/o/oauth2/revoke"):
            return self.oauth_error(405, "invalid_request",
                                    "Method Not Allowed")
        form = self.read_form()
        token = form.get("token", "")
        srv = self.server
        with srv.store.lock:
            auth = srv.auth
            live = (token in auth.refresh and
                    not auth.refresh[token]["revoked"]) or \
                (token in auth.access and auth.check(token) is not None)
            if live:
                auth.revoke(token)
                srv.mark_dirty()
        if not live:
            return self.oauth_error(400, "invalid_token",
                                    "Token expired or revoked")
        self.send_raw(200, [("Content-Type",
                             "application/json; charset=utf-8")], b"{}")
