"""A TEST DOUBLE of ingress-nginx's basic authentication in front of a Dagster webserver.

The chart's Ingress (``ingress.auth.type: basic``) has ingress-nginx check every request against
an htpasswd file from a Secret and answer 401 with ``WWW-Authenticate: Basic`` otherwise;
ingress-nginx cannot run here. This double does the same over HTTP: it reads htpasswd lines
in the ``{SHA}`` scheme nginx accepts, answers 401 without valid credentials, and forwards
everything else to the webserver, headers and body as they came.
"""

from __future__ import annotations

import base64
import hashlib
import http.server
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager

_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "host", "authorization"}


def htpasswd_line(user: str, password: str) -> str:
    """One htpasswd entry, ``{SHA}`` scheme (``htpasswd -s``)."""
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
    return f"{user}:{{SHA}}{digest}"


def _accepts(htpasswd: str, header: str | None) -> bool:
    if not header or not header.startswith("Basic "):
        return False
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return False
    return htpasswd_line(user, password) in htpasswd.splitlines()


@contextmanager
def basic_auth_proxy(upstream: str, htpasswd: str) -> Iterator[str]:
    """Serve the proxy on a free loopback port while inside; yields its URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def _forward(self) -> None:
            if not _accepts(htpasswd, self.headers.get("Authorization")):
                self.send_response(401)
                self.send_header("WWW-Authenticate", 'Basic realm="Authentication Required - dagster"')
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            request = urllib.request.Request(upstream + self.path, data=body, method=self.command)
            for name, value in self.headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    request.add_header(name, value)
            try:
                with urllib.request.urlopen(request, timeout=120) as response:
                    status, headers, payload = response.status, response.headers, response.read()
            except urllib.error.HTTPError as exc:
                status, headers, payload = exc.code, exc.headers, exc.read()
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() not in _HOP_BY_HOP:
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = _forward
        do_POST = _forward

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: the test reads its own output."""

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, name="basic-auth-proxy", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
