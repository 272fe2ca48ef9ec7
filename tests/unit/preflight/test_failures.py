"""Network failures map to distinct messages: DNS, refused, timeout, TLS, reset, HTTP statuses."""

from __future__ import annotations

import socket
import ssl
import threading
import urllib.error
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from floe.preflight.failures import failure_kind, network_failure
from floe.preflight.framework import CheckContext, CheckFailed, SecretBook
from floe.preflight.http import HttpAnswer, request, status_failure
from tests.support.servers import SilentServer, closed_port


def real_error(host: str, port: int, timeout: float = 1.0) -> OSError:
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        return exc
    raise AssertionError("expected the connection to fail")


def test_real_socket_errors_are_told_apart() -> None:
    assert failure_kind(real_error("127.0.0.1", closed_port())) == "refused"
    assert failure_kind(real_error("no-such-host.invalid", 80)) == "dns"
    with SilentServer() as silent, socket.create_connection(("127.0.0.1", silent.port)) as connection:
        connection.settimeout(0.2)
        with pytest.raises(TimeoutError) as timeout:
            connection.recv(1)
    assert failure_kind(timeout.value) == "timeout"


def test_wrapped_and_textual_causes() -> None:
    wrapped = urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
    assert failure_kind(wrapped) == "refused"
    try:
        try:
            raise ssl.SSLCertVerificationError("certificate verify failed")
        except ssl.SSLError as inner:
            raise RuntimeError("client failed") from inner
    except RuntimeError as outer:
        assert failure_kind(outer) == "tls-cert"
    libpq = Exception('could not translate host name "db.invalid" to address: Name or service not known')
    assert failure_kind(libpq) == "dns"
    assert failure_kind(Exception("timeout expired")) == "timeout"
    assert failure_kind(ValueError("bad literal")) is None


def test_each_kind_has_its_own_message_and_remediation() -> None:
    kinds = {
        "dns": socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
        "refused": ConnectionRefusedError(111, "Connection refused"),
        "timeout": TimeoutError("timed out"),
        "tls": ssl.SSLError("wrong version number"),
        "reset": ConnectionResetError(104, "Connection reset by peer"),
    }
    seen = set()
    for exc in kinds.values():
        failure = network_failure(exc, what="the thing", host="h.example", port=9, timeout_s=2, field="x.endpoint")
        assert failure is not None and failure.remediation
        seen.add((failure.message, failure.remediation))
    assert len(seen) == len(kinds)


def context(tmp_path: Path, timeout_s: float = 1.0) -> CheckContext:
    return CheckContext(project_root=tmp_path, timeout_s=timeout_s, secrets=SecretBook())


def test_http_request_answers_any_status_and_fails_on_the_network(tmp_path: Path) -> None:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(403)
            self.send_header("Content-Length", "27")
            self.end_headers()
            self.wfile.write(b'{"error": {"message": "no"}}'[:27])

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        answer = request("GET", f"http://127.0.0.1:{server.server_address[1]}/x", context=context(tmp_path),
                         what="svc", field="f")
    finally:
        server.shutdown()
    assert answer.status == 403
    with pytest.raises(CheckFailed, match="connection refused"):
        request("GET", f"http://127.0.0.1:{closed_port()}/", context=context(tmp_path), what="svc", field="f")
    with SilentServer() as silent, pytest.raises(CheckFailed, match=r"no answer from 127\.0\.0\.1:\d+ within 0\.3s"):
        request("GET", f"http://127.0.0.1:{silent.port}/", context=context(tmp_path, 0.3), what="svc", field="f")


@pytest.mark.parametrize(("status", "body", "headers", "expected"), [
    (401, b'{"error": "invalid_token", "error_description": "token expired"}', {}, "credential has expired"),
    (401, b"", {"www-authenticate": 'Bearer error="invalid_token", error_description="expired"'},
     "credential has expired"),
    (401, b"{}", {}, "rejected the credentials (401)"),
    (403, b"{}", {}, "refused access (403)"),
    (404, b"{}", {}, "was not found"),
    (503, b"{}", {}, "failed with HTTP 503"),
])
def test_http_statuses_have_distinct_messages(status: int, body: bytes, headers: dict[str, str],
                                              expected: str) -> None:
    failure = status_failure(HttpAnswer(status, headers, body), what="svc", url="http://h/p?q=1", field="f",
                             credential="f.key")
    assert expected in failure.message and failure.remediation
    assert "q=1" not in failure.message
