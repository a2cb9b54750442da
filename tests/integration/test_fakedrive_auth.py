"""Fidelity tests of the OAuth 2 token endpoint and API authentication.

References: developers.google.com/identity/protocols/oauth2 (refresh token
grant; error JSON {"error","error_description"}), .../oauth2/service-account
("Preparing to make an authorized API call": JWT header {"alg":"RS256",
"typ":"JWT"}, claims iss/scope/aud/exp/iat, optional sub for domain-wide
delegation, exp at most one hour after iat, grant_type
urn:ietf:params:oauth:grant-type:jwt-bearer), Drive guides/handle-errors
(401 invalid credentials), and PKCE (RFC 7636) for the installed-app flow."""

import base64
import hashlib
import json
import os
import subprocess
import time
import urllib.parse

import pytest

SCOPE = "https://www.googleapis.com/auth/drive"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
SA_EMAIL = "robot@project.iam.gserviceaccount.com"


@pytest.fixture
def drive(shared_drive):
    return shared_drive


def token_request(drive, form):
    return drive.request("POST", "/token",
                         body=urllib.parse.urlencode(form).encode(),
                         headers={"Content-Type":
                                  "application/x-www-form-urlencoded"})


def refresh_form(creds, **over):
    form = {"grant_type": "refresh_token", "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "refresh_token": creds["refresh_token"]}
    form.update(over)
    return form


def about_email(drive, token):
    r = drive.api("GET", "/drive/v3/about", token=token,
                  params={"fields": "user(emailAddress)"})
    return r.status, (r.json().get("user", {}).get("emailAddress")
                      if r.status == 200 else r.json())


# ------------------------------------------------------------ refresh grant

def test_refresh_grant(drive):
    creds = drive.credentials()
    assert creds["type"] == "authorized_user"
    r = token_request(drive, refresh_form(creds))
    assert r.status == 200
    body = r.json()
    assert set(body) == {"access_token", "expires_in", "scope", "token_type"}
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert about_email(drive, body["access_token"]) == (200,
                                                        "user@example.com")


def test_refresh_grant_errors(drive):
    creds = drive.credentials()
    r = token_request(drive, refresh_form(creds, refresh_token="bogus"))
    assert r.status == 400 and r.json()["error"] == "invalid_grant"
    r = token_request(drive, refresh_form(creds, client_id="nobody"))
    assert r.status == 401 and r.json() == {
        "error": "invalid_client",
        "error_description": "The OAuth client was not found."}
    r = token_request(drive, refresh_form(creds, client_secret="wrong"))
    assert r.status == 401 and r.json()["error"] == "invalid_client"
    r = token_request(drive, {"grant_type": "password"})
    assert r.status == 400 and r.json()["error"] == "unsupported_grant_type"


def test_revoked_refresh_token(drive):
    creds = drive.register_client(user="user@example.com")
    assert token_request(drive, refresh_form(creds)).status == 200
    drive.revoke(creds["refresh_token"])
    r = token_request(drive, refresh_form(creds))
    assert r.status == 400
    assert r.json() == {"error": "invalid_grant",
                        "error_description":
                        "Token has been expired or revoked."}


# ------------------------------------------------------ API authentication

def test_missing_and_invalid_tokens_are_401(drive):
    r = drive.api("GET", "/drive/v3/files", token="")
    assert r.status == 401
    err = r.json()["error"]
    assert err["status"] == "UNAUTHENTICATED"
    assert err["errors"][0]["reason"] == "required"
    assert r.header("WWW-Authenticate").startswith("Bearer")
    r = drive.api("GET", "/drive/v3/files", token="ya29.unknown")
    assert r.status == 401
    assert r.json() == {"error": {
        "code": 401,
        "message": "Request had invalid authentication credentials. "
                   "Expected OAuth 2 access token, login cookie or other "
                   "valid authentication credential. See https://developers."
                   "google.com/identity/sign-in/web/devconsole-project.",
        "errors": [{"message": "Invalid Credentials", "domain": "global",
                    "reason": "authError", "location": "Authorization",
                    "locationType": "header"}],
        "status": "UNAUTHENTICATED"}}
    assert 'error="invalid_token"' in r.header("WWW-Authenticate")


def test_expired_tokens_401_then_refresh_works(drive):
    token = drive.token(fresh=True)
    assert drive.api("GET", "/drive/v3/files", token=token).status == 200
    drive.expire_tokens()
    r = drive.api("GET", "/drive/v3/files", token=token)
    assert r.status == 401
    assert r.json()["error"]["errors"][0]["reason"] == "authError"
    assert drive.api("GET", "/drive/v3/files",
                     token=drive.token(fresh=True)).status == 200


def test_token_lifetime_is_enforced(drive):
    drive.config(token_lifetime=1)
    r = token_request(drive, refresh_form(drive.credentials()))
    assert r.json()["expires_in"] == 1
    token = r.json()["access_token"]
    deadline = time.monotonic() + 10
    status = 200
    while status == 200 and time.monotonic() < deadline:
        status = drive.api("GET", "/drive/v3/files", token=token).status
        time.sleep(0.05)
    assert status == 401


def test_access_token_query_parameter(drive):
    token = drive.token()
    r = drive.api("GET", "/drive/v3/files", token="",
                  params={"access_token": token})
    assert r.status == 200


def test_readonly_scope_cannot_write(drive):
    creds = drive.register_client(scope=SCOPE + ".readonly")
    token = token_request(drive, refresh_form(creds)).json()["access_token"]
    assert drive.api("GET", "/drive/v3/files", token=token).status == 200
    r = drive.api("POST", "/drive/v3/files", token=token,
                  json={"name": "x"})
    assert r.status == 403
    assert r.json()["error"]["errors"][0]["reason"] == \
        "insufficientPermissions"


def test_non_drive_scope_is_refused(drive):
    creds = drive.register_client(
        scope="https://www.googleapis.com/auth/cloud-platform")
    token = token_request(drive, refresh_form(creds)).json()["access_token"]
    assert drive.api("GET", "/drive/v3/files", token=token).status == 403


# ------------------------------------------------------- service accounts

@pytest.fixture(scope="module")
def sa_key(tmp_path_factory):
    d = tmp_path_factory.mktemp("sa")
    key = d / "key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", str(key)], check=True,
                   capture_output=True)
    pub = subprocess.run(["openssl", "pkey", "-in", str(key), "-pubout"],
                         check=True, capture_output=True).stdout.decode()
    return key, pub


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(key_path, claims, header=None):
    head = b64url(json.dumps(header or {"alg": "RS256", "typ": "JWT"}
                             ).encode())
    body = b64url(json.dumps(claims).encode())
    signing_input = (head + "." + body).encode()
    sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign",
                          str(key_path)], input=signing_input, check=True,
                         capture_output=True).stdout
    return head + "." + body + "." + b64url(sig)


def claims(drive, **over):
    now = int(time.time())
    c = {"iss": SA_EMAIL, "scope": SCOPE, "aud": drive.token_url,
         "iat": now, "exp": now + 3600}
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def jwt_grant(drive, assertion):
    return token_request(drive, {"grant_type": JWT_GRANT,
                                 "assertion": assertion})


def test_jwt_bearer_grant(drive, sa_key):
    key, pub = sa_key
    drive.register_service_account(SA_EMAIL, pub)
    r = jwt_grant(drive, make_jwt(key, claims(drive)))
    assert r.status == 200, r
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert about_email(drive, body["access_token"]) == (200, SA_EMAIL)
    # Google's own audience is accepted too (what key files name).
    r = jwt_grant(drive, make_jwt(key, claims(
        drive, aud="https://oauth2.googleapis.com/token")))
    assert r.status == 200


def test_jwt_domain_wide_delegation_acts_as_user(drive, sa_key):
    key, pub = sa_key
    drive.register_service_account(SA_EMAIL, pub)
    r = jwt_grant(drive, make_jwt(key, claims(drive,
                                              sub="user@example.com")))
    assert about_email(drive, r.json()["access_token"]) == (
        200, "user@example.com")
    r = jwt_grant(drive, make_jwt(key, claims(drive,
                                              sub="stranger@nowhere.test")))
    assert r.status == 400 and r.json()["error"] == "invalid_grant"


@pytest.mark.parametrize("change,error", [
    ({"exp": -10}, "invalid_grant"),             # already expired
    ({"exp": 7200}, "invalid_grant"),            # exp - iat > 1 hour
    ({"aud": "https://example.com/token"}, "invalid_grant"),
    ({"scope": None}, "invalid_scope"),
    ({"iss": "unknown@project.iam.gserviceaccount.com"}, "invalid_grant"),
])
def test_jwt_claim_checks(drive, sa_key, change, error):
    key, pub = sa_key
    drive.register_service_account(SA_EMAIL, pub)
    over = dict(change)
    now = int(time.time())
    if "exp" in over:
        over["exp"] = now + over["exp"]
    r = jwt_grant(drive, make_jwt(key, claims(drive, **over)))
    assert r.status == 400
    assert r.json()["error"] == error


def test_jwt_bad_signature(drive, sa_key, tmp_path):
    key, pub = sa_key
    other = tmp_path / "other.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", str(other)], check=True,
                   capture_output=True)
    drive.register_service_account(SA_EMAIL, pub)
    r = jwt_grant(drive, make_jwt(other, claims(drive)))
    assert r.status == 400
    assert r.json() == {"error": "invalid_grant",
                        "error_description": "Invalid JWT Signature."}
    tampered = make_jwt(key, claims(drive)).split(".")
    tampered[1] = b64url(json.dumps(claims(drive, sub="x@y")).encode())
    assert jwt_grant(drive, ".".join(tampered)).status == 400


# -------------------------------------------- installed-app flow with PKCE

def test_authorization_code_with_pkce(drive):
    creds = drive.credentials()
    verifier = b64url(os.urandom(40))
    challenge = b64url(hashlib.sha256(verifier.encode()).digest())
    redirect = "http://127.0.0.1:9/callback"
    r = drive.request("GET", "/o/oauth2/v2/auth", params={
        "client_id": creds["client_id"], "redirect_uri": redirect,
        "response_type": "code", "scope": SCOPE, "state": "s1",
        "code_challenge": challenge, "code_challenge_method": "S256"})
    assert r.status == 302
    loc = urllib.parse.urlsplit(r.header("Location"))
    q = dict(urllib.parse.parse_qsl(loc.query))
    assert q["state"] == "s1"
    form = {"grant_type": "authorization_code", "code": q["code"],
            "client_id": creds["client_id"],
            "client_secret": creds["client_secret"],
            "redirect_uri": redirect, "code_verifier": "wrong"}
    assert token_request(drive, form).status == 400      # code now used up
    r = drive.request("GET", "/o/oauth2/v2/auth", params={
        "client_id": creds["client_id"], "redirect_uri": redirect,
        "response_type": "code", "scope": SCOPE,
        "code_challenge": challenge, "code_challenge_method": "S256"})
    code = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(
        r.header("Location")).query))["code"]
    form.update(code=code, code_verifier=verifier)
    r = token_request(drive, form)
    assert r.status == 200
    body = r.json()
    assert body["refresh_token"] and body["access_token"]
    refreshed = token_request(drive, refresh_form(
        creds, refresh_token=body["refresh_token"]))
    assert refreshed.status == 200
