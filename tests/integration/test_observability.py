"""Every floe run tells what it did: a span tree over OTLP and OpenLineage events on file,
correlated by trace id; unreachable destinations cost one warning each, or the run in
strict mode."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest

from tests.support.openlineage_schema import openlineage_validator
from tests.support.otlp_receiver import HttpOtlpReceiver

pytestmark = pytest.mark.integration


def _observe(project: Path, observability: str) -> None:
    platform = project / "platform.yaml"
    platform.write_text(platform.read_text() + "    observability:\n" + observability)


def _fail_a_model(project: Path) -> None:
    bad = project / "dbt" / "models" / "marts" / "customer_revenue.sql"
    bad.write_text("select * from {{ ref('stg_orders') }} where no_such_column > 0\n")


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_failing_run_reports_a_span_tree_and_schema_valid_lineage(floe, compiled_project: Path) -> None:
    _fail_a_model(compiled_project)
    with HttpOtlpReceiver() as receiver:
        # A generous export timeout: on two busy cores a flush can be slow; nothing here is unreachable.
        _observe(compiled_project, f"      tracing: {{type: otlp, protocol: http, endpoint: '{receiver.endpoint}'}}\n"
                                   "      lineage: {type: file}\n      timeout: 60s\n")
        result = floe("run", "--json", cwd=compiled_project)
        spans = receiver.spans
    assert result.returncode == 1, result.stderr[-2000:]
    run_id = json.loads(result.stdout)["run_id"]

    roots = [s for s in spans if s.name == "floe.run"]
    assert len(roots) == 1 and roots[0].attributes["floe.run_id"] == run_id
    root = roots[0]
    assert root.status_code == "ERROR"
    # run → Dagster step → dbt node
    steps = [s for s in spans if s.parent_span_id == root.span_id and s.name.startswith("dagster.step")]
    assert len(steps) == 1 and steps[0].status_code == "ERROR"
    nodes = [s for s in spans if s.parent_span_id == steps[0].span_id]
    names = " ".join(s.name for s in nodes)
    assert "stg_orders" in names and "customer_revenue" in names
    assert all(s.trace_id == root.trace_id for s in spans if s.name != "floe.compile" and
               not s.name.startswith("floe.compile."))
    failing = [s for s in nodes if s.name == "dbt.model customer_revenue"]
    # dbt's own account of the failure, not a bare "error".
    assert failing and failing[0].status_code == "ERROR" and "no_such_column" in failing[0].status_message

    validate = openlineage_validator()
    events = [json.loads(line) for line in (compiled_project / ".floe" / "lineage.jsonl").read_text().splitlines()]
    for event in events:
        validate(event)
    pipeline = [e for e in events if e["run"]["runId"] == run_id]
    assert [e["eventType"] for e in pipeline] == ["START", "FAIL"]
    failed = [e for e in events if e["eventType"] == "FAIL" and e["job"]["name"].endswith("customer_revenue")]
    assert failed and failed[0]["run"]["facets"]["parent"]["run"]["runId"] == run_id
    error = failed[0]["run"]["facets"]["errorMessage"]
    assert "no_such_column" in error["message"] and "\x1b[" not in error["message"]
    assert error["programmingLanguage"] == "SQL"
    # Correlation: each event names the trace of the run's spans.
    assert {e["run"]["facets"]["floe_trace"]["traceId"] for e in events} == {root.trace_id}


def test_unreachable_destinations_warn_once_each_or_fail_in_strict_mode(floe, compiled_project: Path) -> None:
    # The same run with nothing to report to, timed first: a busy machine slows both alike, so the
    # bound below is on what the dead destinations add, not on the machine.
    started = time.perf_counter()
    assert floe("run", cwd=compiled_project).returncode == 0
    baseline = time.perf_counter() - started
    port = _closed_port()
    destinations = (f"      tracing: {{type: otlp, protocol: http, endpoint: 'http://127.0.0.1:{port}'}}\n"
                    f"      lineage: {{type: http, url: 'http://127.0.0.1:{port}'}}\n"
                    "      timeout: 2s\n")
    _observe(compiled_project, destinations)
    started = time.perf_counter()
    result = floe("run", cwd=compiled_project)
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 2, result.stderr[-2000:]
    assert any("traces" in w and str(port) in w for w in warnings)
    assert any("lineage" in w and str(port) in w for w in warnings)
    # Given up after the first refusal: not a 2 s timeout per event (dozens of events).
    assert time.perf_counter() - started < 2 * baseline + 60

    platform = compiled_project / "platform.yaml"
    platform.write_text(platform.read_text() + "      strict: true\n")
    strict = floe("run", cwd=compiled_project)
    assert strict.returncode == 1
    assert "observability.strict" in strict.stderr and "Traceback" not in strict.stderr


_DAEMON_LIKE = """
from dagster import DagsterInstance
from floe.orchestration.definitions import defs

with DagsterInstance.ephemeral() as instance:
    result = defs.resolve_job_def("all").execute_in_process(instance=instance, raise_on_error=False)
print(result.run_id, result.success)
"""


def test_runs_started_outside_floe_run_report_lineage_too(compiled_project: Path) -> None:
    """A schedule or the UI starts runs without floe's runner: the dbt step observes itself."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "FLOE_ARTIFACTS_PATH": str(compiled_project / ".floe" / "artifacts.json")}
    result = subprocess.run([sys.executable, "-c", _DAEMON_LIKE], cwd=compiled_project, env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    run_id, success = result.stdout.split()[-2:]
    assert success == "True"
    events = [json.loads(line) for line in (compiled_project / ".floe" / "lineage.jsonl").read_text().splitlines()]
    validate = openlineage_validator()
    for event in events:
        validate(event)
    assert [e["eventType"] for e in events if e["run"]["runId"] == run_id] == ["START", "COMPLETE"]
    models = {e["job"]["name"].rsplit(".", 1)[-1] for e in events if e["eventType"] == "COMPLETE"}
    assert {"stg_orders", "customer_revenue"} <= models
    # A table's rows, counted once dbt is done, in outputStatistics.
    revenue = next(e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"].endswith("customer_revenue"))
    assert revenue["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] > 0
