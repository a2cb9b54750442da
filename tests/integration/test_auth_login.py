"""`drivefs auth login | status | logout` against the emulator.

The test plays the browser: it reads the authorization URL that
`drivefs auth login --no-browser` prints, GETs it from the emulator's
/o/oauth2/v2/auth without following the redirect, and either GETs the
Location (drivefs' loopback listener on 127.0.0.1) or pastes it on the
command's stdin (the headless path). The emulator checks the PKCE verifier
against the S256 challenge, the redirect_uri and the client at the code
exchange, so a login that ends with a working token file proves the whole
flow.

Also here: the credential search order as `drivefs auth status` reports
it (the same cred_locate() that `drivefs mount` uses), service-account
keys with --subject, and Google's /revoke as the emulator implements it.
Every command runs with a private HOME / XDG_CONFIG_HOME /
DRIVEFS_CONTENT_DIR, and its output is checked for secrets.
"""
import http.client
import json
import os
import pathlib
import re
import select
import shutil
import stat
import subprocess
import time
import urllib.parse

import pytest

from mountlib import DRIVEFS_BIN, wait_synced

DRIVEFS = DRIVEFS_BIN / "drivefs"
CLIENT_ID = "fakedrive-client-id.apps.googleusercontent.com"
CLIENT_SECRET = "fakedrive-client-secret"
DRIVE_SCOPE = "https://www.googleapis.com/auth/drive"
FILE_SCOPE = "https://www.googleapis.com/auth/drive.file"

pytestmark = pytest.mark.skipif(not DRIVEFS.exists(),
                                reason="%s not built" % DRIVEFS)


# --------------------------------------------------------------- helpers

@pytest.fixture
def env(tmp_path):
    """A private environment: nothing of the real user's is looked at."""
    e = dict(os.environ)
    for k in ("GOOGLE_APPLICATION_CREDENTIALS", "CLOUDSDK_CONFIG",
              "DRIVEFS_CLIENT_SECRETS", "DRIVEFS_AUTH_URL",
              "DRIVEFS_TOKEN_URL", "DRIVEFS_REVOKE_URL", "DISPLAY",
              "WAYLAND_DISPLAY"):
        e.pop(k, None)
    e["HOME"] = str(tmp_path / "home")
    e["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    e["DRIVEFS_CONTENT_DIR"] = str(tmp_path / "content")
    e["DRIVEFS_LOG"] = "debug"
    (tmp_path / "home").mkdir()
    return e


def token_file(env):
    return pathlib.Path(env["XDG_CONFIG_HOME"]) / "drivefs/credentials.json"


def client_secrets(tmp_path, drive, client_id=CLIENT_ID,
                   secret=CLIENT_SECRET):
    """A client_secret.json as the Cloud console downloads it, pointing at
    the emulator."""
    p = tmp_path / "client_secret.json"
    p.write_text(json.dumps({"installed": {
        "client_id": client_id, "project_id": "proj",
        "auth_uri": drive.url + "/o/oauth2/v2/auth",
        "token_uri": drive.url + "/token",
        "auth_provider_x509_cert_url":
            "https://www.googleapis.com/oauth2/v1/certs",
        "client_secret": secret, "redirect_uris": ["http://localhost"]}}))
    p.chmod(0o600)
    return p


def secrets_of(drive, extra=()):
    return [CLIENT_SECRET, "ya29.", "1//"] + [s for s in extra if s]


def assert_no_secret(text, secrets):
    for s in secrets:
        assert s not in text, "a secret reached the output: %r" % s[:8]


def run(env, *args, timeout=60, input=None):
    p = subprocess.run([str(DRIVEFS), *map(str, args)], env=env,
                       capture_output=True, text=True, timeout=timeout,
                       input=input)
    for bad in ("Sanitizer", "runtime error:"):
        assert bad not in p.stderr, p.stderr
    return p


class Login:
    """A running `drivefs auth login --no-browser`."""

    def __init__(self, env, *args):
        self.proc = subprocess.Popen(
            [str(DRIVEFS), "auth", "login", "--no-browser", *map(str, args)],
            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE)
        self.out = b""
        self.url = None

    def read_url(self, deadline_s=15):
        """Read stdout until the authorization URL shows up."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            m = re.search(rb"^\s+(http://\S+)$", self.out, re.M)
            if m and b"waiting" in self.out.lower():
                self.url = m.group(1).decode()
                return self.url
            if self.proc.poll() is not None:
                break
            r, _, _ = select.select([self.proc.stdout], [], [], 0.2)
            if r:
                chunk = os.read(self.proc.stdout.fileno(), 65536)
                if not chunk:
                    break
                self.out += chunk
        raise AssertionError("no authorization URL; output %r, stderr %r"
                             % (self.out, self.proc.stderr.read()
                                if self.proc.poll() is not None else b""))

    @property
    def params(self):
        q = urllib.parse.urlsplit(self.url).query
        return dict(urllib.parse.parse_qsl(q))

    def paste(self, text):
        self.proc.stdin.write(text.encode() + b"\n")
        self.proc.stdin.flush()

    def finish(self, timeout=30):
        """Wait for the exit; returns (status, stdout, stderr)."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()            # by its own PID only
            out, err = self.proc.communicate()
            raise AssertionError("drivefs auth login did not exit: %r %r"
                                 % (out, err))
        self.out += out
        text_err = err.decode("utf-8", "replace")
        for bad in ("Sanitizer", "runtime error:"):
            assert bad not in text_err, text_err
        return (self.proc.returncode, self.out.decode("utf-8", "replace"),
                text_err)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def login(env):
    started = []

    def start(*args, environ=None):
        lg = Login(environ or env, *args)
        started.append(lg)
        return lg
    yield start
    for lg in started:
        lg.kill()


def browser_consent(url):
    """GET the authorization URL without following the redirect; returns
    the Location the browser would go to."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("GET", u.path + "?" + u.query)
        r = conn.getresponse()
        r.read()
        assert r.status == 302, "authorize answered %d" % r.status
        return r.getheader("Location")
    finally:
        conn.close()


def browser_get(url):
    """GET `url` as the browser would after the redirect: (status, body)."""
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
    try:
        conn.request("GET", u.path + ("?" + u.query if u.query else ""))
        r = conn.getresponse()
        return r.status, r.read().decode("utf-8", "replace")
    finally:
        conn.close()


def with_param(url, **kw):
    u = urllib.parse.urlsplit(url)
    q = dict(urllib.parse.parse_qsl(u.query))
    q.update(kw)
    return urllib.parse.urlunsplit(u._replace(
        query=urllib.parse.urlencode(q)))


def refresh_works(drive, cred):
    body = urllib.parse.urlencode({
        "grant_type": "refresh_token", "client_id": cred["client_id"],
        "client_secret": cred["client_secret"],
        "refresh_token": cred["refresh_token"]}).encode()
    r = drive.request("POST", "/token", body=body, headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    return r.status == 200


# ------------------------------------------------------------ the login

def test_login_loopback_redirect(tmp_path, drive, env, login):
    cs = client_secrets(tmp_path, drive)
    lg = login("--client-secrets", cs, "--timeout", "60")
    url = lg.read_url()
    p = lg.params
    # PKCE S256, a state, and a loopback redirect on a random port.
    assert url.startswith(drive.url + "/o/oauth2/v2/auth?")
    assert p["client_id"] == CLIENT_ID
    assert p["response_type"] == "code"
    assert p["code_challenge_method"] == "S256"
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", p["code_challenge"])
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", p["state"])
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+/", p["redirect_uri"])
    assert p["scope"] == DRIVE_SCOPE
    assert CLIENT_SECRET not in url

    location = browser_consent(url)
    assert location.startswith(p["redirect_uri"])
    status, page = browser_get(location)
    assert status == 200 and "Signed in" in page
    rc, out, err = lg.finish()
    assert rc == 0, (out, err)
    assert "Signed in" in out

    f = token_file(env)
    assert stat.S_IMODE(f.stat().st_mode) == 0o600
    cred = json.loads(f.read_text())
    assert cred["type"] == "authorized_user"
    assert cred["client_id"] == CLIENT_ID
    assert cred["client_secret"] == CLIENT_SECRET
    assert cred["token_uri"] == drive.url + "/token"
    assert cred["scopes"] == [DRIVE_SCOPE]
    assert refresh_works(drive, cred)
    assert drive.count("oauth.authorize") == 1
    assert_no_secret(out + err, secrets_of(drive, [cred["refresh_token"]]))
    # No temporary file is left next to the token file.
    assert sorted(os.listdir(f.parent)) == ["credentials.json"]


def test_login_headless_paste(tmp_path, drive, env, login):
    lg = login("--client-secrets", client_secrets(tmp_path, drive))
    url = lg.read_url()
    assert "paste" in lg.out.decode().lower()
    location = browser_consent(url)
    # What a terminal paste looks like: surrounding blanks, CR LF.
    lg.paste("  " + location + " \r")
    rc, out, err = lg.finish()
    assert rc == 0, (out, err)
    cred = json.loads(token_file(env).read_text())
    assert refresh_works(drive, cred)
    # Signed in: `auth status` finds the token file and Drive answers.
    st = run(env, "auth", "status", "--api-url", drive.url)
    assert st.returncode == 0, st.stdout + st.stderr
    assert "credentials: %s" % token_file(env) in st.stdout
    assert "source: drivefs token file" in st.stdout
    assert "drive: ok, signed in as user@example.com" in st.stdout
    assert_no_secret(out + err + st.stdout + st.stderr,
                     secrets_of(drive, [cred["refresh_token"]]))


def test_login_paste_not_the_redirect_asks_again(tmp_path, drive, env,
                                                 login):
    lg = login("--client-secrets", client_secrets(tmp_path, drive))
    url = lg.read_url()
    lg.paste("")
    lg.paste("http://example.com/nothing-here")
    lg.paste(browser_consent(url))
    rc, out, err = lg.finish()
    assert rc == 0, (out, err)
    assert "not the redirected address" in out


def test_login_several_lines_in_one_read(tmp_path, drive, env, login):
    """A paste (or a pipe) can bring several lines at once: each is
    looked at, none is dropped with the buffer."""
    lg = login("--client-secrets", client_secrets(tmp_path, drive))
    url = lg.read_url()
    lg.paste("\nhttp://example.com/nothing-here\n" + browser_consent(url))
    rc, out, err = lg.finish()
    assert rc == 0, (out, err)
    assert out.count("not the redirected address") == 2, out


def test_login_state_mismatch_refused(tmp_path, drive, env, login):
    lg = login("--client-secrets", client_secrets(tmp_path, drive))
    url = lg.read_url()
    forged = with_param(browser_consent(url), state="A" * 43)
    lg.paste(forged)
    rc, out, err = lg.finish()
    assert rc == 1
    assert "state does not match" in err
    assert not token_file(env).exists()


def test_login_forged_loopback_request_refused(tmp_path, drive, env, login):
    lg = login("--client-secrets", client_secrets(tmp_path, drive))
    lg.read_url()
    redirect = lg.params["redirect_uri"]
    # Something that is not the redirect is ignored (404), the wait goes on.
    assert browser_get(redirect + "favicon.ico")[0] == 404
    assert lg.proc.poll() is None
    status, _ = browser_get(redirect + "?code=4/stolen&state=wrong")
    assert status == 400
    rc, out, err = lg.finish()
    assert rc == 1 and "state does not match" in err
    assert not token_file(env).exists()


def test_login_access_denied(tmp_path, drive, env, login):
    lg = login("--client-secrets", client_secrets(tmp_path, drive))
    lg.read_url()
    p = lg.params
    lg.paste(p["redirect_uri"] + "?" + urllib.parse.urlencode(
        {"error": "access_denied", "state": p["state"]}))
    rc, out, err = lg.finish()
    assert rc == 1
    assert "authorization refused: access_denied" in err
    assert not token_file(env).exists()


def test_login_pkce_verifier_is_checked(tmp_path, drive, env, login):
    """A code obtained with another challenge cannot be exchanged with this
    login's verifier: the emulator refuses, nothing is stored."""
    lg = login("--client-secrets", client_secrets(tmp_path, drive))
    url = lg.read_url()
    tampered = with_param(url, code_challenge="B" * 43)
    lg.paste(browser_consent(tampered))
    rc, out, err = lg.finish()
    assert rc == 1
    assert "invalid_grant" in err
    assert not token_file(env).exists()


def test_login_scope_drive_file(tmp_path, drive, env, login):
    lg = login("--client-secrets", client_secrets(tmp_path, drive),
               "--scope", "drive.file")
    url = lg.read_url()
    assert lg.params["scope"] == FILE_SCOPE
    lg.paste(browser_consent(url))
    rc, out, err = lg.finish()
    assert rc == 0, (out, err)
    assert json.loads(token_file(env).read_text())["scopes"] == [FILE_SCOPE]


def test_login_endpoints_from_environment(tmp_path, drive, env, login):
    """A client secrets file without endpoints (Google's defaults) is
    pointed at the emulator with DRIVEFS_AUTH_URL / DRIVEFS_TOKEN_URL."""
    cs = tmp_path / "cs.json"
    cs.write_text(json.dumps({"installed": {"client_id": CLIENT_ID,
                                            "client_secret": CLIENT_SECRET}}))
    e = dict(env, DRIVEFS_AUTH_URL=drive.url + "/o/oauth2/v2/auth",
             DRIVEFS_TOKEN_URL=drive.url + "/token",
             DRIVEFS_CLIENT_SECRETS=str(cs))
    lg = login(environ=e)
    lg.paste(browser_consent(lg.read_url()))
    rc, out, err = lg.finish()
    assert rc == 0, (out, err)


def test_login_without_client_secrets(env):
    p = run(env, "auth", "login", "--no-browser")
    assert p.returncode == 1
    assert "Desktop app" in p.stderr
    assert "client_secret.json" in p.stderr


def test_login_times_out(tmp_path, drive, env, login):
    lg = login("--client-secrets", client_secrets(tmp_path, drive),
               "--timeout", "1")
    rc, out, err = lg.finish(timeout=30)
    assert rc == 1 and "in time" in err
    assert not token_file(env).exists()


def test_login_web_client_refused(tmp_path, env):
    cs = tmp_path / "web.json"
    cs.write_text(json.dumps({"web": {"client_id": "x", "client_secret":
                                      "y"}}))
    p = run(env, "auth", "login", "--no-browser", "--client-secrets", cs)
    assert p.returncode == 1 and "Desktop app" in p.stderr


# ---------------------------------------------------------------- logout

def test_logout_revokes_and_removes(tmp_path, drive, env, login):
    lg = login("--client-secrets", client_secrets(tmp_path, drive))
    lg.paste(browser_consent(lg.read_url()))
    assert lg.finish()[0] == 0
    cred = json.loads(token_file(env).read_text())
    p = run(env, "auth", "logout")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "Revoked" in p.stdout
    assert not token_file(env).exists()
    assert drive.count("oauth.revoke") == 1
    assert not refresh_works(drive, cred)
    assert_no_secret(p.stdout + p.stderr,
                     secrets_of(drive, [cred["refresh_token"]]))
    # Again: nothing to do.
    p = run(env, "auth", "logout")
    assert p.returncode == 0 and "Not signed in" in p.stdout


def test_logout_already_revoked(tmp_path, drive, env):
    cred = drive.register_client()
    f = token_file(env)
    f.parent.mkdir(parents=True)
    f.write_text(json.dumps(dict(cred, token_uri=drive.url + "/token")))
    drive.revoke(cred["refresh_token"])
    p = run(env, "auth", "logout")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "already invalid" in p.stdout
    assert not f.exists()


def test_logout_revoke_url_override(tmp_path, drive, env):
    cred = drive.register_client()
    f = token_file(env)
    f.parent.mkdir(parents=True)
    f.write_text(json.dumps(cred))      # no token_uri: Google's default
    p = run(env, "auth", "logout", "--revoke-url", drive.url + "/revoke")
    assert p.returncode == 0, p.stdout + p.stderr
    assert not refresh_works(drive, cred)


def test_logout_keeps_other_tools_files(tmp_path, drive, env):
    gcloud = pathlib.Path(env["HOME"]) / \
        ".config/gcloud/application_default_credentials.json"
    gcloud.parent.mkdir(parents=True)
    gcloud.write_text(json.dumps(drive.credentials()))
    p = run(env, "auth", "logout")
    assert p.returncode == 0
    assert gcloud.exists()
    assert "would now use %s" % gcloud in p.stdout


# ------------------------------------------------- search order, status

SOURCES = ["option", "env", "drivefs", "gcloud", "colab"]


def place(env, tmp_path, drive, which):
    """Write a working credential file where source `which` looks."""
    home = pathlib.Path(env["HOME"])
    paths = {
        "option": tmp_path / "given.json",
        "env": tmp_path / "gac.json",
        "drivefs": token_file(env),
        "gcloud": home / ".config/gcloud/application_default_credentials.json",
        "colab": pathlib.Path(env["DRIVEFS_CONTENT_DIR"]) /
        ".config/application_default_credentials.json",
    }
    p = paths[which]
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(drive.credentials()))
    p.chmod(0o600)
    return p


@pytest.mark.parametrize("first", range(len(SOURCES)))
def test_search_order(tmp_path, drive, env, first):
    """With every source from `first` on present, the first one wins."""
    paths = {w: place(env, tmp_path, drive, w) for w in SOURCES[first:]}
    args = ["auth", "status", "--api-url", drive.url,
            "--token-url", drive.url + "/token"]
    if "option" in paths:
        args += ["--credentials", paths["option"]]
    if "env" in paths:
        env["GOOGLE_APPLICATION_CREDENTIALS"] = str(paths["env"])
    p = run(env, *args)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "credentials: %s\n" % paths[SOURCES[first]] in p.stdout
    assert "drive: ok" in p.stdout
    assert_no_secret(p.stdout + p.stderr, secrets_of(drive))


def test_search_order_gcloud_honours_cloudsdk_config(tmp_path, drive, env):
    sdk = tmp_path / "sdk"
    sdk.mkdir()
    (sdk / "application_default_credentials.json").write_text(
        json.dumps(drive.credentials()))
    env["CLOUDSDK_CONFIG"] = str(sdk)
    p = run(env, "auth", "status", "--api-url", drive.url, "--token-url",
            drive.url + "/token")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "credentials: %s/application_default_credentials.json" % sdk \
        in p.stdout
    assert "source: gcloud" in p.stdout


def test_colab_cloudsdk_config_is_named_colab(tmp_path, drive, env):
    """Colab sets CLOUDSDK_CONFIG=/content/.config: gcloud's file is then
    Colab's, and status says so."""
    colab = place(env, tmp_path, drive, "colab")
    env["CLOUDSDK_CONFIG"] = str(colab.parent)
    p = run(env, "auth", "status", "--api-url", drive.url, "--token-url",
            drive.url + "/token")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "credentials: %s\n" % colab in p.stdout
    assert "source: Colab" in p.stdout


def test_status_missing_env_file_falls_through(tmp_path, drive, env):
    env["GOOGLE_APPLICATION_CREDENTIALS"] = str(tmp_path / "missing.json")
    colab = place(env, tmp_path, drive, "colab")
    p = run(env, "auth", "status", "--api-url", drive.url, "--token-url",
            drive.url + "/token")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "credentials: %s\n" % colab in p.stdout
    assert "source: Colab" in p.stdout


def test_status_nothing_found(env):
    p = run(env, "auth", "status")
    assert p.returncode == 1
    assert "credentials: none" in p.stdout
    assert "drivefs auth login" in p.stderr


def test_status_revoked_token(tmp_path, drive, env):
    cred = drive.register_client()
    f = place(env, tmp_path, drive, "drivefs")
    f.write_text(json.dumps(cred))
    drive.revoke(cred["refresh_token"])
    p = run(env, "auth", "status", "--api-url", drive.url, "--token-url",
            drive.url + "/token")
    assert p.returncode == 1
    assert "token: failed" in p.stdout
    assert "sign in again" in p.stdout
    assert_no_secret(p.stdout + p.stderr,
                     secrets_of(drive, [cred["refresh_token"],
                                        cred["client_secret"]]))


def test_status_reads_config_file(tmp_path, drive, env):
    """auth status looks where a mount would: --credentials and the
    endpoints from the config file count."""
    given = place(env, tmp_path, drive, "option")
    cfg = pathlib.Path(env["XDG_CONFIG_HOME"]) / "drivefs/config"
    cfg.parent.mkdir(parents=True, exist_ok=True)
    cfg.write_text("credentials = %s\napi-url = %s\ntoken-url = %s/token\n"
                   % (given, drive.url, drive.url))
    p = run(env, "auth", "status")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "credentials: %s\n" % given in p.stdout
    assert "drive: ok" in p.stdout


# ------------------------------------------ service accounts, --subject

def make_sa(tmp_path, drive, email="drivefs-sa@proj.iam.gserviceaccount.com"):
    if not shutil.which("openssl"):
        pytest.skip("openssl not installed")
    key = tmp_path / "key.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt",
                    "rsa_keygen_bits:2048", "-out", str(key)], check=True,
                   capture_output=True)
    pem = key.read_text()
    drive.register_service_account(email, pem)
    f = tmp_path / "sa.json"
    f.write_text(json.dumps({
        "type": "service_account", "project_id": "proj",
        "private_key_id": "0123456789abcdef", "private_key": pem,
        "client_email": email, "client_id": "1234567890",
        "token_uri": drive.token_url}))
    f.chmod(0o600)
    return f, pem


def test_status_service_account_with_subject(tmp_path, drive, env):
    f, pem = make_sa(tmp_path, drive)
    drive._ctl("POST", "users", {"email": "alice@example.com"})
    p = run(env, "auth", "status", "--credentials", f, "--subject",
            "alice@example.com", "--api-url", drive.url)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "type: service_account (drivefs-sa@" in p.stdout
    assert "acting as: alice@example.com" in p.stdout
    assert "drive: ok, signed in as alice@example.com" in p.stdout
    key_line = pem.splitlines()[1]
    assert_no_secret(p.stdout + p.stderr, ["ya29.", key_line])


def test_status_subject_unknown_user(tmp_path, drive, env):
    f, _ = make_sa(tmp_path, drive)
    p = run(env, "auth", "status", "--credentials", f, "--subject",
            "nobody@example.com", "--api-url", drive.url)
    assert p.returncode == 1
    assert "token: failed" in p.stdout


def test_subject_needs_service_account(tmp_path, drive, env):
    f = place(env, tmp_path, drive, "option")
    p = run(env, "auth", "status", "--credentials", f, "--subject",
            "alice@example.com", "--api-url", drive.url)
    assert p.returncode == 1
    assert "needs a service account key" in p.stdout


def test_mount_with_subject_acts_as_user(tmp_path, drive, mount_factory):
    f, _ = make_sa(tmp_path, drive)
    drive._ctl("POST", "users", {"email": "alice@example.com"})
    m = mount_factory(extra_args=["--credentials", str(f), "--subject",
                                  "alice@example.com"])
    (m.path / "from-alice.txt").write_bytes(b"hi")
    wait_synced(m)
    files = [x for x in drive.tree() if x["name"] == "from-alice.txt"]
    assert len(files) == 1
    # The emulator has one My Drive (its owner owns every file); who
    # acted is lastModifyingUser: the impersonated user, not the account.
    assert files[0]["lastModifyingUser"]["emailAddress"] == \
        "alice@example.com"


# ------------------------------------------------ the emulator's /revoke

def _form(**kw):
    return urllib.parse.urlencode(kw).encode()


def test_revoke_endpoint_refresh_token(drive):
    cred = drive.register_client()
    assert refresh_works(drive, cred)
    at = drive.request("POST", "/token", body=_form(
        grant_type="refresh_token", client_id=cred["client_id"],
        client_secret=cred["client_secret"],
        refresh_token=cred["refresh_token"]), headers={
        "Content-Type": "application/x-www-form-urlencoded"}).json()[
        "access_token"]
    # Google's documented form: POST with the token in the query string.
    r = drive.request("POST", "/revoke?" + urllib.parse.urlencode(
        {"token": cred["refresh_token"]}), body=b"", headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200 and r.json() == {}
    assert not refresh_works(drive, cred)
    # The access tokens issued from it die with it.
    assert drive.api("GET", "/drive/v3/about", token=at,
                     params={"fields": "user"}).status == 401
    # A second revocation: invalid_token.
    r = drive.request("POST", "/revoke", body=_form(
        token=cred["refresh_token"]), headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 400
    assert r.json() == {"error": "invalid_token",
                        "error_description": "Token expired or revoked"}


def test_revoke_endpoint_access_token_revokes_refresh(drive):
    cred = drive.register_client()
    at = drive.request("POST", "/token", body=_form(
        grant_type="refresh_token", client_id=cred["client_id"],
        client_secret=cred["client_secret"],
        refresh_token=cred["refresh_token"]), headers={
        "Content-Type": "application/x-www-form-urlencoded"}).json()[
        "access_token"]
    r = drive.request("POST", "/revoke", body=_form(token=at), headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200
    assert not refresh_works(drive, cred)


def test_revoke_endpoint_unknown_token_and_method(drive):
    r = drive.request("POST", "/revoke", body=_form(token="nope"), headers={
        "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 400 and r.json()["error"] == "invalid_token"
    assert drive.request("GET", "/revoke?token=nope").status == 405
