"""RunTracer: span trees over OTLP (HTTP and gRPC, to a test-double collector), to a JSON
Lines file and to the console; bounded, single-warning failures; OTEL_* variables."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from floe.node_events import NodeEvent
from floe.observability._otel_config import http_traces_url
from floe.observability.tracing import RunTracer
from floe.spec.observability import ConsoleTracing, FileTracing, NoTracing, OtlpTracing
from floe.spec.secrets import SecretRef
from tests.support.otlp_receiver import GrpcOtlpReceiver, HttpOtlpReceiver, OtlpReceiver

RUN_ATTRIBUTES = {"floe.pipeline": "shop", "floe.environment": "dev", "floe.compute": "duckdb"}
FAILURE = "Binder Error: column amount not found"
# What a bounded shutdown may take beyond its timeout on a busy shared machine: generous, since
# the property is "bounded" (an unbounded one waits for the OS's minutes-long TCP timeout, or
# forever on a trickling server), not "fast".
SLACK_S = 10


def make_tracer(spec: Any, tmp_path: Path, *, timeout_s: float = 5, environ: Mapping[str, str] | None = None,
                **kwargs: Any) -> RunTracer:
    return RunTracer(
        spec, service_name="shop", namespace="data-team", timeout=timedelta(seconds=timeout_s),
        project_root=tmp_path, environ={} if environ is None else environ, **kwargs,
    )


def run_two_nodes(tracer: RunTracer, run_id: str = "run-1") -> list[str]:
    """A run where stg_orders succeeds and fct_orders fails; returns shutdown's warnings."""
    tracer.start_run(run_id, "all_assets", RUN_ATTRIBUTES)
    tracer.node_started(NodeEvent("model.shop.stg_orders", "stg_orders", "model", "started"))
    tracer.node_finished(NodeEvent(
        "model.shop.stg_orders", "stg_orders", "model", "success", duration_s=0.2, rows=12,
        relation='"warehouse"."main"."stg_orders"', materialized="table",
    ))
    tracer.node_started(NodeEvent("model.shop.fct_orders", "fct_orders", "model", "started"))
    tracer.node_finished(NodeEvent("model.shop.fct_orders", "fct_orders", "model", "error", message=FAILURE))
    tracer.finish_run(False, "1 of 2 models failed")
    return tracer.shutdown()


def assert_run_tree(spans: list[dict[str, Any]], trace_id: str | None) -> None:
    """Spans (as dicts: name, trace_id, span_id, parent, status, message, attributes) form the run tree."""
    by_name = {span["name"]: span for span in spans}
    assert set(by_name) == {"floe.run", "dbt.model stg_orders", "dbt.model fct_orders"}
    run = by_name["floe.run"]
    assert not run["parent"]
    assert run["trace_id"] == trace_id
    assert run["status"] == "ERROR" and run["message"] == "1 of 2 models failed"
    assert run["attributes"]["floe.run_id"] == "run-1"
    assert run["attributes"]["floe.job"] == "all_assets"
    assert run["attributes"]["floe.compute"] == "duckdb"
    ok, failed = by_name["dbt.model stg_orders"], by_name["dbt.model fct_orders"]
    for node in (ok, failed):
        assert node["parent"] == run["span_id"]
        assert node["trace_id"] == run["trace_id"]
    assert ok["status"] == "UNSET"
    assert ok["attributes"]["floe.node.unique_id"] == "model.shop.stg_orders"
    assert ok["attributes"]["floe.node.resource_type"] == "model"
    assert ok["attributes"]["floe.node.status"] == "success"
    assert ok["attributes"]["floe.node.rows"] == 12
    assert ok["attributes"]["floe.node.materialized"] == "table"
    assert ok["attributes"]["floe.node.relation"] == '"warehouse"."main"."stg_orders"'
    assert failed["status"] == "ERROR" and failed["message"] == FAILURE
    assert failed["attributes"]["floe.node.status"] == "error"


def received_as_dicts(receiver: OtlpReceiver) -> list[dict[str, Any]]:
    return [
        {"name": s.name, "trace_id": s.trace_id, "span_id": s.span_id, "parent": s.parent_span_id,
         "status": s.status_code, "message": s.status_message, "attributes": s.attributes}
        for s in receiver.spans
    ]


def jsonl_as_dicts(path: Path) -> list[dict[str, Any]]:
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [
        {**r, "parent": r["parent_span_id"], "status": r["status"]["code"], "message": r["status"]["message"]}
        for r in records
    ]


@pytest.fixture(params=["http", "grpc"])
def receiver(request: pytest.FixtureRequest) -> Iterator[OtlpReceiver]:
    with (HttpOtlpReceiver() if request.param == "http" else GrpcOtlpReceiver()) as collector:
        collector.protocol = request.param  # type: ignore[attr-defined]
        yield collector


def test_otlp_run_arrives_as_a_tree_with_secret_headers(
    receiver: OtlpReceiver, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FLOE_TEST_OTLP_TOKEN", "Bearer s3cret")
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-tenant=acme")
    spec = OtlpTracing(
        type="otlp", endpoint=receiver.endpoint, protocol=receiver.protocol,  # type: ignore[attr-defined]
        insecure=True, headers={"Authorization": SecretRef(secret_ref="FLOE_TEST_OTLP_TOKEN")},
    )
    # No ``environ``: the tracer reads the process environment, as in a real run.
    tracer = RunTracer(spec, service_name="shop", namespace="data-team", timeout=timedelta(seconds=5),
                       project_root=tmp_path)
    assert tracer.enabled
    warnings = run_two_nodes(tracer)

    assert warnings == []
    trace_id = tracer.trace_id()
    assert trace_id is not None and len(trace_id) == 32
    assert_run_tree(received_as_dicts(receiver), trace_id)
    assert receiver.headers and all(h.get("authorization") == "Bearer s3cret" for h in receiver.headers)
    assert all(h.get("x-tenant") == "acme" for h in receiver.headers)
    resource = receiver.spans[0].resource
    assert resource["service.name"] == "shop"
    assert resource["service.namespace"] == "data-team"


def test_missing_header_secret_is_one_warning_not_an_error(tmp_path: Path) -> None:
    spec = OtlpTracing(type="otlp", endpoint="http://127.0.0.1:9", protocol="http",
                       headers={"authorization": SecretRef(secret_ref="FLOE_TEST_UNSET_TOKEN")})
    tracer = make_tracer(spec, tmp_path, environ={"FLOE_SECRETS_DIR": str(tmp_path / "no-secrets")})
    started = time.monotonic()
    warnings = run_two_nodes(tracer)
    assert time.monotonic() - started < 2 + SLACK_S
    assert len(warnings) == 1
    assert "FLOE_TEST_UNSET_TOKEN" in warnings[0] and "not sent" in warnings[0]


def test_file_exporter_appends_jsonl_that_rebuilds_the_tree(tmp_path: Path) -> None:
    spec = FileTracing(type="file", path="out/traces/run.jsonl")
    first = make_tracer(spec, tmp_path)
    assert run_two_nodes(first) == []
    path = tmp_path / "out/traces/run.jsonl"
    assert_run_tree(jsonl_as_dicts(path), first.trace_id())

    second = make_tracer(spec, tmp_path)
    assert run_two_nodes(second) == []
    records = jsonl_as_dicts(path)
    assert len(records) == 6, "a second run appends"
    assert {r["trace_id"] for r in records} == {first.trace_id(), second.trace_id()}
    assert_run_tree([r for r in records if r["trace_id"] == second.trace_id()], second.trace_id())
    run = next(r for r in records if r["name"] == "floe.run")
    assert run["end_time_unix_nano"] >= run["start_time_unix_nano"] > 0
    assert run["resource"]["service.name"] == "shop"


def test_console_prints_spans_as_json_lines_to_stderr(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    tracer = make_tracer(ConsoleTracing(type="console"), tmp_path)
    assert run_two_nodes(tracer) == []
    out, err = capfd.readouterr()
    assert out == ""
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    assert_run_tree(
        [{**r, "parent": r["parent_span_id"], "status": r["status"]["code"], "message": r["status"]["message"]}
         for r in records],
        tracer.trace_id(),
    )


def test_none_is_a_no_op(tmp_path: Path) -> None:
    tracer = make_tracer(NoTracing(type="none"), tmp_path)
    assert not tracer.enabled
    assert run_two_nodes(tracer) == []
    with tracer.span("floe.compile.parse") as span:
        assert span is None
    assert tracer.trace_id() is None
    assert list(tmp_path.iterdir()) == []


def test_otel_sdk_disabled_switches_tracing_off(tmp_path: Path) -> None:
    tracer = make_tracer(FileTracing(type="file"), tmp_path, environ={"OTEL_SDK_DISABLED": "true"})
    assert not tracer.enabled
    assert run_two_nodes(tracer) == []
    assert not (tmp_path / ".floe").exists()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def blackhole() -> Iterator[int]:
    """A port that accepts TCP connections (kernel backlog) and never says a word."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


@pytest.mark.parametrize("protocol", ["grpc", "http"])
@pytest.mark.parametrize("failure", ["refused", "blackholed"])
def test_unreachable_endpoint_is_one_warning_within_the_timeout(
    protocol: str, failure: str, blackhole: int, tmp_path: Path
) -> None:
    port = _free_port() if failure == "refused" else blackhole
    endpoint = f"http://127.0.0.1:{port}"
    spec = OtlpTracing(type="otlp", endpoint=endpoint, protocol=protocol, insecure=True)  # type: ignore[arg-type]
    tracer = make_tracer(spec, tmp_path, timeout_s=1)
    tracer.start_run("run-1", "all_assets")
    tracer.node_finished(NodeEvent("model.shop.stg_orders", "stg_orders", "model", "success", duration_s=0.1))
    tracer.finish_run(True)

    started = time.monotonic()
    warnings = tracer.shutdown()
    elapsed = time.monotonic() - started

    assert elapsed < 1 + SLACK_S, f"shutdown took {elapsed:.2f}s with a 1s timeout"
    assert len(warnings) == 1
    assert warnings[0].startswith(f"traces: OTLP endpoint {endpoint} unreachable (")
    expected = "connection refused" if failure == "refused" else "no answer within 1s"
    assert expected in warnings[0]
    assert "observability.tracing.type: none" in warnings[0]
    assert "Traceback" not in warnings[0]
    assert tracer.shutdown() == warnings, "a second shutdown adds nothing"


@pytest.fixture
def trickler() -> Iterator[int]:
    """An HTTP server that answers one byte every 0.2 s: each read is quick, the whole never ends.

    The HTTP client's timeout applies per read, so only floe's own deadline bounds this.
    """
    stop = threading.Event()
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.1)

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            threading.Thread(target=dribble, args=(conn,), daemon=True).start()

    def dribble(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
            while not stop.wait(0.2):
                try:
                    conn.sendall(b"a")
                except OSError:
                    return

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    thread.join()
    listener.close()


def test_a_collector_that_never_finishes_answering_is_cut_off_at_the_timeout(trickler: int, tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{trickler}"
    tracer = make_tracer(OtlpTracing(type="otlp", endpoint=endpoint, protocol="http"), tmp_path, timeout_s=1)
    started = time.monotonic()
    warnings = run_two_nodes(tracer)
    assert time.monotonic() - started < 1 + SLACK_S
    assert len(warnings) == 1
    assert warnings[0].startswith(f"traces: OTLP endpoint {endpoint} unreachable (no answer within 1s)")


def test_rejected_export_says_rejected_not_unreachable(tmp_path: Path) -> None:
    with HttpOtlpReceiver(reject_with=401) as collector:
        tracer = make_tracer(OtlpTracing(type="otlp", endpoint=collector.endpoint, protocol="http"), tmp_path)
        warnings = run_two_nodes(tracer)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"traces: OTLP endpoint {collector.endpoint} rejected the spans (HTTP 401)")
    assert "observability.tracing.headers" in warnings[0]


def test_grpc_tls_to_a_plain_text_collector_suggests_insecure(tmp_path: Path) -> None:
    with GrpcOtlpReceiver() as collector:
        spec = OtlpTracing(type="otlp", endpoint=collector.endpoint, protocol="grpc", insecure=False)
        # 3 s, not 1: on a loaded 2-core machine the handshake's failure can take over a
        # second to surface, and then the export is reported as a timeout instead.
        tracer = make_tracer(spec, tmp_path, timeout_s=3)
        started = time.monotonic()
        warnings = run_two_nodes(tracer)
        assert time.monotonic() - started < 3 + SLACK_S
        assert collector.spans == []
    assert len(warnings) == 1
    assert "TLS handshake failed" in warnings[0] and "insecure: true" in warnings[0]


def test_unwritable_file_is_one_warning(tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be", encoding="utf-8")
    tracer = make_tracer(FileTracing(type="file", path="blocker/traces.jsonl"), tmp_path)
    warnings = run_two_nodes(tracer)
    assert len(warnings) == 1
    assert warnings[0].startswith(f"traces: cannot write to {tmp_path / 'blocker/traces.jsonl'} (")
    assert "observability.tracing.path" in warnings[0]


def test_span_records_an_exception_and_nests(tmp_path: Path) -> None:
    tracer = make_tracer(FileTracing(type="file"), tmp_path)
    tracer.start_run("run-1", "ingest")
    with tracer.span("floe.ingestion.batch", {"floe.source": "orders", "floe.skip": None}) as batch:
        batch.set_attribute("floe.batch", 3)
        with pytest.raises(ValueError, match="schema drift"), tracer.span("floe.iceberg.append"):
            raise ValueError("schema drift in bronze.orders")
    tracer.finish_run(True)
    assert tracer.shutdown() == []
    with tracer.span("floe.compile.parse") as after_shutdown:
        assert after_shutdown is None

    records = {r["name"]: r for r in jsonl_as_dicts(tmp_path / ".floe/traces.jsonl")}
    run, batch_span, append = records["floe.run"], records["floe.ingestion.batch"], records["floe.iceberg.append"]
    assert batch_span["parent"] == run["span_id"]
    assert append["parent"] == batch_span["span_id"]
    assert batch_span["attributes"] == {"floe.source": "orders", "floe.batch": 3}
    assert batch_span["status"] == "UNSET"
    assert append["status"] == "ERROR"
    assert append["message"] == "ValueError: schema drift in bronze.orders"
    [event] = append["events"]
    assert event["name"] == "exception"
    assert event["attributes"]["exception.type"] == "ValueError"


def test_span_without_a_run_is_a_root(tmp_path: Path) -> None:
    tracer = make_tracer(FileTracing(type="file"), tmp_path)
    with tracer.span("floe.compile.parse", {"floe.stage": "parse"}):
        pass
    assert tracer.shutdown() == []
    [record] = jsonl_as_dicts(tmp_path / ".floe/traces.jsonl")
    assert record["name"] == "floe.compile.parse" and record["parent"] is None


def test_finish_without_start_spans_its_duration_and_open_nodes_end_with_the_run(tmp_path: Path) -> None:
    tracer = make_tracer(FileTracing(type="file"), tmp_path)
    tracer.start_run("run-1", "ingest")
    tracer.node_started(NodeEvent("", "dbt", "dbt_invocation", "started", relation="/tmp/target"))
    tracer.node_finished(NodeEvent(
        "ingestion.orders.orders", "bronze.orders", "ingestion", "success", duration_s=2.5, rows=1000,
        relation="bronze.orders", materialized="iceberg_append",
    ))
    tracer.node_started(NodeEvent("model.shop.slow", "slow", "model", "started"))
    tracer.finish_run(True)
    assert tracer.shutdown() == []

    records = {r["name"]: r for r in jsonl_as_dicts(tmp_path / ".floe/traces.jsonl")}
    assert set(records) == {"floe.run", "ingestion bronze.orders", "dbt.model slow"}
    ingestion = records["ingestion bronze.orders"]
    assert ingestion["parent"] == records["floe.run"]["span_id"]
    duration_s = (ingestion["end_time_unix_nano"] - ingestion["start_time_unix_nano"]) / 1e9
    assert duration_s == pytest.approx(2.5, abs=0.05)
    assert ingestion["attributes"]["floe.node.rows"] == 1000
    assert records["dbt.model slow"]["attributes"]["floe.node.interrupted"] is True


def test_otel_resource_attributes_and_service_name_are_honoured(tmp_path: Path) -> None:
    environ = {"OTEL_RESOURCE_ATTRIBUTES": "deployment.region=eu%2Cwest,team=data,service.namespace=ignored",
               "OTEL_SERVICE_NAME": "orders-service"}
    tracer = make_tracer(FileTracing(type="file"), tmp_path, environ=environ,
                         resource_attributes={"deployment.environment": "dev"})
    tracer.start_run("run-1", "all_assets")
    tracer.finish_run(True)
    assert tracer.shutdown() == []
    [record] = jsonl_as_dicts(tmp_path / ".floe/traces.jsonl")
    resource = record["resource"]
    assert resource["deployment.region"] == "eu,west"
    assert resource["team"] == "data"
    assert resource["service.name"] == "orders-service"
    assert resource["service.namespace"] == "data-team", "platform.yaml wins over the environment"
    assert resource["deployment.environment"] == "dev"


def test_tracers_do_not_share_spans(tmp_path: Path) -> None:
    one = make_tracer(FileTracing(type="file", path="one.jsonl"), tmp_path)
    two = make_tracer(FileTracing(type="file", path="two.jsonl"), tmp_path)
    one.start_run("run-1", "a")
    two.start_run("run-2", "b")
    with one.span("outer"), two.span("inner"):
        pass
    one.finish_run(True)
    two.finish_run(True)
    assert one.shutdown() == [] and two.shutdown() == []
    inner = next(r for r in jsonl_as_dicts(tmp_path / "two.jsonl") if r["name"] == "inner")
    assert inner["trace_id"] == two.trace_id() != one.trace_id()


@pytest.mark.parametrize(
    ("endpoint", "url"),
    [("http://c:4318", "http://c:4318/v1/traces"), ("http://c:4318/", "http://c:4318/v1/traces"),
     ("https://c/otlp/v1/traces", "https://c/otlp/v1/traces")],
)
def test_http_traces_url(endpoint: str, url: str) -> None:
    assert http_traces_url(endpoint) == url
