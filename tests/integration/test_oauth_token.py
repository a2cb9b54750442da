"""oauth/ against the emulator's token endpoint, through tests/tools/tokencli.

Each test gets its own fakedrive from conftest.py (`drive`, and
`creds_file`, its default authorized_user credentials), so revocations and
registered keys never leak between tests. tokencli prints one JSON line and
never the token; these tests check the grants (refresh_token, service-account
JWT with PKCS#8 and PKCS#1 keys, with and without a subject), the refusals
(revoked refresh token, wrong client secret, unknown key: -EACCES with a
message that says what to do), and that no token, secret or key reaches
stdout or stderr even with DRIVEFS_LOG=debug. Binaries come from
$DRIVEFS_TOOLS (set by `make integ`), else build/tests/tools.
"""
import json
import os
import pathlib
import shutil
import socket
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
TOOLS = pathlib.Path(os.environ.get("DRIVEFS_TOOLS",
                                    ROOT / "build/tests/tools"))
TOKENCLI = TOOLS / "tokencli"

CLIENT_ID = "fakedrive-client-id.apps.googleusercontent.com"
CLIENT_SECRET = "fakedrive-client-secret"
REFRESH_TOKEN = "fakedrive-refresh-token"
# Every access token the emulator issues starts with this.
ACCESS_PREFIX = "ya29."

pytestmark = pytest.mark.skipif(not TOKENCLI.exists(),
                                reason=f"{TOKENCLI} not built")


def write_cred(path, obj):
    path.write_text(json.dumps(obj))
    path.chmod(0o600)
    return path


def make_key(tmp_path, pkcs1=False):
    """A fresh 2048-bit RSA key as PEM text (PKCS#8, or PKCS#1)."""
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    key = tmp_path / "key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", str(key)],
                   check=True, capture_output=True)
    if pkcs1:
        subprocess.run(["openssl", "rsa", "-traditional", "-in", str(key),
                        "-out", str(key)], check=True, capture_output=True)
    return key.read_text()


SA_EMAIL = "drivefs-sa@proj.iam.gserviceaccount.com"


def sa_file(tmp_path, drive, pem, email=SA_EMAIL, register=True):
    if register:
        drive.register_service_account(email, pem)
    return write_cred(tmp_path / "sa.json", {
        "type": "service_account", "project_id": "proj",
        "private_key_id": "0123456789abcdef", "private_key": pem,
        "client_email": email, "client_id": "1234567890",
        "token_uri": drive.token_url})


def tokencli(*args, log="debug"):
    env = dict(os.environ, DRIVEFS_LOG=log)
    p = subprocess.run([str(TOKENCLI), *map(str, args)], env=env,
                       capture_output=True, text=True, timeout=60)
    for bad in ("Sanitizer", "runtime error:"):
        assert bad not in p.stderr, p.stderr
    lines = p.stdout.strip().splitlines()
    out = json.loads(lines[-1]) if lines else None
    return p, out


def assert_no_secrets(p, *extra):
    text = p.stdout + p.stderr
    for s in (REFRESH_TOKEN, CLIENT_SECRET, ACCESS_PREFIX, "Bearer ",
              "assertion=", "eyJ", *extra):
        assert s not in text, "secret-looking %r in output:\n%s" % (s, text)


def key_lines(pem):
    """Lines of the key body: none may appear in any output."""
    return [ln for ln in pem.splitlines() if ln and not ln.startswith("-")]


def test_refresh_token_grant(drive, creds_file):
    p, out = tokencli("--credentials", creds_file, "--token-url",
                      drive.token_url, "--check-no-secret")
    assert p.returncode == 0, p.stderr
    assert out["ok"] is True
    assert 3590 <= out["expires_in"] <= 3600
    assert out["token_len"] > len(ACCESS_PREFIX)
    assert out["refreshes"] == 1
    assert drive.count("oauth.token") == 1
    assert_no_secrets(p)


def test_force_refreshes_again(drive, creds_file):
    p, out = tokencli("--credentials", creds_file, "--token-url",
                      drive.token_url, "--force")
    assert p.returncode == 0, p.stderr
    assert out["refreshes"] == 2
    assert drive.count("oauth.token") == 2
    assert_no_secrets(p)


def test_short_lived_token(drive, creds_file):
    drive.config(token_lifetime=60)
    p, out = tokencli("--credentials", creds_file, "--token-url",
                      drive.token_url)
    assert p.returncode == 0, p.stderr
    assert 55 <= out["expires_in"] <= 60


def test_token_uri_from_file_when_no_token_url(drive, tmp_path):
    f = write_cred(tmp_path / "adc.json", {
        "type": "authorized_user", "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN,
        "token_uri": drive.token_url})
    p, out = tokencli("--credentials", f)
    assert p.returncode == 0, p.stderr
    assert drive.count("oauth.token") == 1


def test_revoked_refresh_token_is_eacces(drive, creds_file):
    drive.revoke(REFRESH_TOKEN)
    p, out = tokencli("--credentials", creds_file, "--token-url",
                      drive.token_url, "--retries", "0", "--check-no-secret")
    assert p.returncode == 1, p.stderr
    assert out["ok"] is False
    assert out["errno"] == "EACCES"
    assert out["status"] == 400
    assert out["reason"] == "invalid_grant"
    # Says which file, what happened, and what to do.
    assert str(creds_file) in out["message"]
    assert "revoked" in out["message"]
    assert "sign in again" in out["message"]
    assert "ERROR oauth: token refresh failed" in p.stderr
    # Refused once, not retried.
    assert drive.count("oauth.token") == 1
    assert_no_secrets(p)


def test_wrong_client_secret_is_eacces(drive, tmp_path):
    f = write_cred(tmp_path / "adc.json", {
        "type": "authorized_user", "client_id": CLIENT_ID,
        "client_secret": "not-the-secret-0123", "refresh_token":
        REFRESH_TOKEN})
    p, out = tokencli("--credentials", f, "--token-url", drive.token_url)
    assert p.returncode == 1
    assert out["errno"] == "EACCES"
    assert out["reason"] == "invalid_client"
    assert "client_id/client_secret" in out["message"]
    assert_no_secrets(p, "not-the-secret-0123")


@pytest.mark.parametrize("pkcs1", [False, True], ids=["pkcs8", "pkcs1"])
def test_service_account_jwt_grant(drive, tmp_path, pkcs1):
    pem = make_key(tmp_path, pkcs1)
    assert ("BEGIN RSA PRIVATE KEY" in pem) == pkcs1
    f = sa_file(tmp_path, drive, pem)
    p, out = tokencli("--credentials", f, "--check-no-secret")
    assert p.returncode == 0, p.stderr
    assert out["ok"] is True and out["refreshes"] == 1
    assert drive.count("oauth.token") == 1
    assert_no_secrets(p, *key_lines(pem))


def test_service_account_subject(drive, tmp_path):
    drive._ctl("POST", "users", {"email": "delegate@example.com"})
    f = sa_file(tmp_path, drive, make_key(tmp_path))
    p, out = tokencli("--credentials", f, "--subject",
                      "delegate@example.com")
    assert p.returncode == 0, p.stderr
    # A subject the domain does not know is refused by the server: proof
    # that "sub" was sent.
    p, out = tokencli("--credentials", f, "--subject",
                      "stranger@example.com", "--retries", "0")
    assert p.returncode == 1
    assert out["errno"] == "EACCES"
    assert "Invalid email or User ID" in out["message"]


def test_service_account_unknown_key_is_eacces(drive, tmp_path):
    pem = make_key(tmp_path)
    f = sa_file(tmp_path, drive, pem, register=False)
    p, out = tokencli("--credentials", f, "--retries", "0",
                      "--check-no-secret")
    assert p.returncode == 1, p.stderr
    assert out["errno"] == "EACCES"
    assert out["reason"] == "invalid_grant"
    assert "service account key" in out["message"]
    assert SA_EMAIL in out["message"]
    assert_no_secrets(p, *key_lines(pem))


def test_service_account_wrong_key_is_eacces(drive, tmp_path):
    registered = make_key(tmp_path)
    drive.register_service_account(SA_EMAIL, registered)
    other = make_key(tmp_path)
    f = sa_file(tmp_path, drive, other, register=False)
    p, out = tokencli("--credentials", f, "--retries", "0")
    assert p.returncode == 1
    assert out["errno"] == "EACCES"
    assert "Invalid JWT Signature" in out["message"]


def test_corrupt_key_fails_before_any_request(drive, tmp_path):
    pem = make_key(tmp_path)
    body = key_lines(pem)
    bad = pem.replace(body[3], body[3][::-1])
    f = sa_file(tmp_path, drive, bad, register=False)
    p, out = tokencli("--credentials", f)
    assert p.returncode == 2
    assert "cannot be used" in p.stderr
    assert drive.count("oauth.token") == 0
    assert_no_secrets(p, *key_lines(bad))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_endpoint_unreachable_is_eio(creds_file):
    p, out = tokencli("--credentials", creds_file, "--token-url",
                      "http://127.0.0.1:%d/token" % free_port(),
                      "--retries", "0", "--check-no-secret")
    assert p.returncode == 1, p.stderr
    assert out["errno"] in ("EIO", "ETIMEDOUT")
    assert out["status"] == 0
    assert_no_secrets(p)


def test_server_error_is_eio(drive, creds_file):
    drive.fault(kind="oauth.token", action="error", status=503, count=100)
    p, out = tokencli("--credentials", creds_file, "--token-url",
                      drive.token_url, "--retries", "1")
    assert p.returncode == 1
    assert out["errno"] == "EIO"
    assert out["status"] == 503


def test_plain_http_to_a_remote_host_is_refused(creds_file):
    p, out = tokencli("--credentials", creds_file, "--token-url",
                      "http://oauth2.example.com/token")
    assert p.returncode == 2
    assert "token URL" in p.stderr


@pytest.mark.parametrize("text,why", [
    ("{", "not valid JSON"),
    ('{"type":"authorized_user","client_id":"c"}',
     "field 'client_secret' is missing"),
    ('{"type":"external_account"}', "unsupported credential type"),
])
def test_bad_credentials_file(tmp_path, text, why):
    f = tmp_path / "bad.json"
    f.write_text(text)
    p, out = tokencli("--credentials", f)
    assert p.returncode == 2
    assert why in p.stderr
