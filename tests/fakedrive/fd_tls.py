"""Opt-in `--connect-tls CERT KEY`: serve Google's https hosts in place.

A client whose API base is compiled in (rclone's drive backend:
https://www.googleapis.com/) can still be pointed at the emulator through
the proxy settings every HTTP stack honours: with
`HTTPS_PROXY=http://127.0.0.1:PORT` it sends `CONNECT www.googleapis.com:443`
to this server. We answer `200 Connection established`, wrap that very
socket server-side with TLS (CERT must name the hosts the client asks for
and chain to a CA the client trusts, e.g. via `SSL_CERT_FILE`), and go on
serving ordinary requests on it with the same handler: no relay, no second
hop in the client's data path. The request inside the tunnel is routed by
its path, as on the plain port.

Connection set-up costs nothing here (no latency for the CONNECT or the
handshake, as for a plain connection), and CONNECT is not counted in the
stats: it is not an API call. Clients must wait for the 200 before sending
the TLS ClientHello (every proxy client does), since the buffered reader
of the plain connection is dropped at the switch.
"""

import ssl

from fd_common import log

# CONNECT targets we wrap: Google's API and OAuth hosts on 443. Anything
# else is refused, so this never becomes a general proxy.
CONNECT_HOSTS = ("www.googleapis.com", "oauth2.googleapis.com",
                 "accounts.google.com")


def server_context(cert, key):
    """The server-side TLS context for --connect-tls (HTTP/1.1 only: the
    handlers speak nothing else, so ALPN never picks h2)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(cert, key)
    ctx.set_alpn_protocols(["http/1.1"])
    return ctx


class ConnectMixin:
    """Mixed into fakedrive.Handler: do_CONNECT and the https scheme."""

    scheme = "http"

    def do_CONNECT(self):
        ctx = self.server.tls_context
        host, _, port = self.path.rpartition(":")
        if ctx is None or port != "443" or host not in CONNECT_HOSTS:
            self.close_connection = True
            self.send_error(405 if ctx is None else 403,
                            "CONNECT not served here")
            return
        self.send_response_only(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        try:
            tls = ctx.wrap_socket(self.connection, server_side=True)
        except (ssl.SSLError, OSError) as e:
            if self.server.verbose:
                log("TLS handshake for %s failed: %s" % (self.path, e))
            self.close_connection = True
            return
        self.rfile.close()
        self.request = tls
        self.setup()            # connection, rfile, wfile on the TLS socket
        self.scheme = "https"
        self.close_connection = False

    def finish(self):
        super().finish()
        if self.scheme == "https":
            # wrap_socket detached the accepted socket, so the server's
            # shutdown_request() no longer closes this one.
            try:
                self.connection.close()
            except OSError:
                pass
