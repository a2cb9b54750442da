"""The emulator's opt-in CONNECT + TLS mode (`--connect-tls CERT KEY`,
tests/fakedrive/README.md): a client that only knows Google's https hosts
(rclone) reaches the emulator through HTTPS_PROXY. Checked here with
Python's ssl client against a throwaway CA made by openssl, so it needs no
rclone."""

import http.client
import json
import os
import ssl
import urllib.parse

import pytest

from fakedrive_ctl import launch, make_tls_certs

API_HOST = "www.googleapis.com"
OAUTH_HOST = "oauth2.googleapis.com"


@pytest.fixture(scope="module")
def tls_env(tmp_path_factory):
    base = tmp_path_factory.mktemp("fakedrive-tls")
    certs = make_tls_certs(base / "tls")
    fd = launch(base / "data", log_path=base / "fakedrive.log",
                args=["--connect-tls", certs["cert"], certs["key"]])
    try:
        yield fd, certs
    finally:
        fd.stop()
    text = fd.log_text()
    assert "Traceback" not in text and "internal error" not in text, text


@pytest.fixture
def tdrive(tls_env):
    tls_env[0].reset()
    return tls_env


def tunnel(fd, cafile, host=API_HOST):
    """An HTTPS connection to `host` through the emulator as the proxy,
    trusting only `cafile` (None: the system store)."""
    ctx = ssl.create_default_context(cafile=cafile)  # cafile: only it
    conn = http.client.HTTPSConnection(fd.host, fd.port, context=ctx,
                                       timeout=30)
    conn.set_tunnel(host, 443)
    return conn


def call(conn, method, path, body=None, headers=None):
    conn.request(method, path, body=body, headers=headers or {})
    r = conn.getresponse()
    return r.status, r.headers, r.read()


def bearer(fd):
    return {"Authorization": "Bearer " + fd.token()}


def test_tunnel_serves_api_requests_on_one_connection(tdrive):
    fd, certs = tdrive
    fd.seed("a.txt", b"A")
    conn = tunnel(fd, certs["ca"])
    try:
        for _ in range(2):
            st, _, body = call(conn, "GET", "/drive/v3/files?fields=files"
                               "(name)", headers=bearer(fd))
            assert st == 200
            assert json.loads(body)["files"] == [{"name": "a.txt"}]
        assert conn.sock.version() in ("TLSv1.2", "TLSv1.3")
    finally:
        conn.close()
    # the CONNECT itself is no API call
    assert fd.stats()["requests"] == {"oauth.token": 1, "files.list": 2}


def test_token_endpoint_over_tunnel(tdrive):
    fd, certs = tdrive
    c = fd.credentials()
    form = urllib.parse.urlencode({
        "grant_type": "refresh_token", "client_id": c["client_id"],
        "client_secret": c["client_secret"],
        "refresh_token": c["refresh_token"]})
    conn = tunnel(fd, certs["ca"], OAUTH_HOST)
    try:
        st, _, body = call(conn, "POST", "/token", form, {
            "Content-Type": "application/x-www-form-urlencoded"})
    finally:
        conn.close()
    assert st == 200
    tok = json.loads(body)["access_token"]
    assert fd.api("GET", "/drive/v3/about", token=tok,
                  params={"fields": "user"}).status == 200


def test_resumable_upload_and_download_over_tunnel(tdrive):
    fd, certs = tdrive
    data = os.urandom(3 * 262144 + 5)
    conn = tunnel(fd, certs["ca"])
    try:
        st, hdrs, _ = call(conn, "POST", "/upload/drive/v3/files?uploadType="
                           "resumable", json.dumps({"name": "up.bin"}),
                           dict(bearer(fd), **{
                               "Content-Type": "application/json"}))
        assert st == 200
        loc = urllib.parse.urlsplit(hdrs["Location"])
        # the session URI names the host the client asked for, over https
        assert (loc.scheme, loc.netloc) == ("https", API_HOST)
        st, _, body = call(conn, "PUT", loc.path + "?" + loc.query, data,
                           bearer(fd))
        assert st == 200
        fid = json.loads(body)["id"]
        assert fd.content(fid) == data
        for bw in (0, 50 * 10**6):      # sendfile path, throttled path
            fd.config(bandwidth=bw)
            st, _, body = call(conn, "GET", "/drive/v3/files/%s?alt=media"
                               % fid, headers=bearer(fd))
            assert st == 200 and body == data
            st, _, body = call(conn, "GET", "/drive/v3/files/%s?alt=media"
                               % fid, headers=dict(bearer(fd), Range=
                                                   "bytes=10-19"))
            assert st == 206 and body == data[10:20]
    finally:
        conn.close()


def test_untrusted_certificate_is_refused_by_the_client(tdrive):
    fd, _ = tdrive
    conn = tunnel(fd, None)             # system CAs only
    try:
        with pytest.raises(ssl.SSLCertVerificationError):
            call(conn, "GET", "/drive/v3/about?fields=user")
    finally:
        conn.close()


def test_connect_to_other_hosts_is_refused(tdrive):
    fd, certs = tdrive
    conn = tunnel(fd, certs["ca"], "example.com")
    try:
        with pytest.raises(OSError, match="403"):
            call(conn, "GET", "/")
    finally:
        conn.close()


def test_connect_is_refused_without_the_option(shared_drive):
    conn = http.client.HTTPConnection(shared_drive.host, shared_drive.port,
                                      timeout=30)
    try:
        conn.request("CONNECT", "%s:443" % API_HOST)
        assert conn.getresponse().status == 405
    finally:
        conn.close()
