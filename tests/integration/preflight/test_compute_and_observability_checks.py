"""Compute (DuckDB, Trino, clients of missing extras) and observability endpoints."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.preflight.conftest import Preflight, only
from tests.support.otlp_receiver import GrpcOtlpReceiver, HttpOtlpReceiver
from tests.support.servers import LineageEndpointDouble, closed_port

pytestmark = pytest.mark.integration


def test_duckdb_with_the_extensions_a_run_loads(preflight: Preflight, tmp_path: Path) -> None:
    result = only(preflight({}, services=["compute"], ingests=True), "compute")
    assert result.status == "ok", result
    assert "extensions avro, iceberg load" in result.message
    assert not (tmp_path / ".floe").exists()  # nothing installed, nothing created


def test_duckdb_damaged_file(preflight: Preflight, tmp_path: Path) -> None:
    (tmp_path / "warehouse.duckdb").write_bytes(b"\x00garbage" * 1000)
    result = only(preflight({"compute": {"type": "duckdb", "path": "warehouse.duckdb"}}, services=["compute"]),
                  "compute")
    assert result.status == "error"
    assert "cannot open" in result.message and "move it away" in (result.remediation or "")


def test_duckdb_file_held_by_a_running_writer(preflight: Preflight, tmp_path: Path) -> None:
    path = tmp_path / "warehouse.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); c.execute('CREATE TABLE t AS SELECT 1 AS x'); "
        "print('ready', flush=True); time.sleep(60)"), str(path)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = only(preflight({"compute": {"type": "duckdb", "path": "warehouse.duckdb"}}, services=["compute"]),
                      "compute")
    finally:
        holder.kill()
        holder.wait()
    assert result.status == "warning"
    assert "in use by another process" in result.message


def test_trino_refused(preflight: Preflight) -> None:
    port = closed_port()
    environment = {"compute": {"type": "trino", "host": "127.0.0.1", "port": port, "user": "floe",
                               "database": "iceberg", "schema": "marts", "http_scheme": "http"}}
    result = only(preflight(environment, services=["compute"]), "compute")
    assert result.status == "error"
    assert "connection refused" in result.message, result.message


@pytest.mark.parametrize(("kind", "module", "environment"), [
    ("snowflake", "snowflake.connector", {"type": "snowflake", "account": "xy123", "user": "u", "warehouse": "w",
                                          "database": "d", "schema": "s"}),
    ("bigquery", "google.cloud.bigquery", {"type": "bigquery", "project": "p", "dataset": "d"}),
])
def test_missing_client_library_is_a_clear_result(preflight: Preflight, kind: str, module: str,
                                                   environment: dict[str, str]) -> None:
    try:
        installed = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        installed = False
    if installed:
        pytest.skip(f"{module} is installed here; this test covers its absence")
    result = only(preflight({"compute": environment}, services=["compute"]), "compute")
    assert result.status == "error"
    assert result.remediation == f"pip install 'floe-runtime[{kind}]'"


def otlp(endpoint: str, protocol: str, **extra: object) -> dict[str, object]:
    return {"observability": {"tracing": {"type": "otlp", "endpoint": endpoint, "protocol": protocol,
                                          "insecure": True, **extra}, "lineage": {"type": "none"}}}


def tracing(report):  # type: ignore[no-untyped-def]
    return next(result for result in report.checks if result.check == "observability.tracing")


def lineage(report):  # type: ignore[no-untyped-def]
    return next(result for result in report.checks if result.check == "observability.lineage")


def test_otlp_http_and_grpc_accept_an_empty_export(preflight: Preflight) -> None:
    with HttpOtlpReceiver() as http_receiver, GrpcOtlpReceiver() as grpc_receiver:
        over_http = tracing(preflight(otlp(http_receiver.endpoint, "http",
                                           headers={"authorization": {"secret_ref": "OTLP_AUTH"}}),
                                      services=["observability"], secrets={"OTLP_AUTH": "Bearer otlp-key-123"}))
        over_grpc = tracing(preflight(otlp(grpc_receiver.endpoint, "grpc"), services=["observability"]))
        headers = http_receiver.headers
    assert over_http.status == "ok", over_http
    assert over_grpc.status == "ok", over_grpc
    assert headers and headers[0]["authorization"] == "Bearer otlp-key-123"  # the real credentials were sent
    assert "otlp-key-123" not in over_http.model_dump_json()


def test_otlp_rejections_and_refusals(preflight: Preflight) -> None:
    with HttpOtlpReceiver(reject_with=401) as receiver:
        rejected = tracing(preflight(otlp(receiver.endpoint, "http"), services=["observability"]))
    assert rejected.status == "error" and "rejected the credentials (401)" in rejected.message
    port = closed_port()
    for protocol in ("http", "grpc"):
        refused = tracing(preflight(otlp(f"http://127.0.0.1:{port}", protocol), services=["observability"]))
        assert refused.status == "error" and "connection refused" in refused.message, (protocol, refused)


def marquez(url: str, **extra: object) -> dict[str, object]:
    return {"observability": {"tracing": {"type": "none"}, "lineage": {"type": "http", "url": url, **extra}}}


def test_lineage_endpoint_answers_without_recording_anything(preflight: Preflight) -> None:
    with LineageEndpointDouble(api_key="lineage-key-456") as endpoint:
        ok = lineage(preflight(marquez(endpoint.url, api_key={"secret_ref": "OL_KEY"}), services=["observability"],
                               secrets={"OL_KEY": "lineage-key-456"}))
        wrong_key = lineage(preflight(marquez(endpoint.url, api_key={"secret_ref": "OL_KEY"}),
                                      services=["observability"], secrets={"OL_KEY": "nope-nope"}))
        wrong_path = lineage(preflight(marquez(endpoint.url, endpoint="api/v2/events"), services=["observability"]))
        recorded = list(endpoint.events)
    assert ok.status == "ok" and "HTTP 422" in ok.message
    assert recorded == []  # the probe is not an event
    assert wrong_key.status == "error" and "(401)" in wrong_key.message
    assert wrong_path.status == "error" and "(404)" in wrong_path.message
    refused = lineage(preflight(marquez(f"http://127.0.0.1:{closed_port()}"), services=["observability"]))
    assert refused.status == "error" and "connection refused" in refused.message


def test_file_destinations_and_switches(tmp_path: Path) -> None:
    from floe.preflight import PreflightTarget, run_preflight
    from floe.spec.platform import EnvironmentSpec

    environment = EnvironmentSpec.model_validate({"observability": {"tracing": {"type": "file"}}})
    on = run_preflight(PreflightTarget("t", environment, tmp_path, "test"), services=["observability"])
    off = run_preflight(PreflightTarget("t", environment, tmp_path, "test", tracing_on=False, lineage_on=False),
                        services=["observability"])
    assert [r.status for r in on.checks] == ["ok", "ok"]
    assert [r.status for r in off.checks] == ["skipped", "skipped"]
    assert "switched off in floe.yaml" in off.checks[0].message


def test_tls_failures_are_told_apart(preflight: Preflight, tmp_path: Path) -> None:
    """A plain-HTTP server behind an https:// URL, and an HTTPS server with an untrusted certificate."""
    import shutil
    import ssl
    import subprocess
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make a self-signed certificate")
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
                    str(cert), "-days", "1", "-subj", "/CN=localhost"], check=True, capture_output=True)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.send_response(422)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    secure = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    secure.socket = context.wrap_socket(secure.socket, server_side=True)
    threading.Thread(target=secure.serve_forever, daemon=True).start()
    try:
        with LineageEndpointDouble() as plain:
            wrong_scheme = lineage(preflight(marquez(plain.url.replace("http://", "https://")),
                                             services=["observability"]))
        untrusted = lineage(preflight(marquez(f"https://127.0.0.1:{secure.server_address[1]}"),
                                      services=["observability"]))
    finally:
        secure.shutdown()
    assert wrong_scheme.status == "error" and "TLS handshake" in wrong_scheme.message, wrong_scheme
    assert untrusted.status == "error" and "certificate" in untrusted.message and "not trusted" in untrusted.message
    assert wrong_scheme.remediation != untrusted.remediation
