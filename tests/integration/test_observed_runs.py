"""Every run observed the same way, however it starts: a run Dagster executes itself (as its
daemon, the UI or a run pod do: a reconstructable job, the project's instance, the job's own
multiprocess executor, each step in a process of its own) reports its ingestion and dbt nodes
in one trace and one OpenLineage run; a failing model says why, its downstream says skipped.

Spans arrive at a real OTLP receiver over HTTP; every OpenLineage event is validated against
the official JSON Schemas.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.demo_project import observe_dev
from tests.support.openlineage_schema import openlineage_validator
from tests.support.otlp_receiver import HttpOtlpReceiver, ReceivedSpan

pytestmark = [pytest.mark.integration, pytest.mark.process]

REPO = Path(__file__).resolve().parents[2]
ANSI = "\x1b["


def _observe(project: Path, endpoint: str) -> None:
    """Traces to ``endpoint``, lineage to the default file; compiled (a run reads the artifacts only)."""
    from floe.compiler import compile_project
    from floe.spec.project import load_project

    observe_dev(project, {"tracing": {"type": "otlp", "protocol": "http", "endpoint": endpoint},
                          "lineage": {"type": "file"}, "timeout": "60s"})
    compile_project(load_project(project / "floe.yaml"))


def _daemon_run(project: Path, job: str = "all", **env: str) -> str:
    """Execute ``job`` through Dagster's own APIs (tests/support/daemon_run.py); its run id."""
    environ = {**os.environ, "FLOE_ARTIFACTS_PATH": str(project / ".floe" / "artifacts.json"),
               "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]), **env}
    result = subprocess.run([sys.executable, "-m", "tests.support.daemon_run", job], cwd=project, env=environ,
                            capture_output=True, text=True, check=False, timeout=1800)
    assert result.returncode == 0, result.stderr[-4000:]
    return result.stdout.split()[-2]


def _events(project: Path) -> list[dict[str, Any]]:
    lines = (project / ".floe" / "lineage.jsonl").read_text().splitlines()
    events = [json.loads(line) for line in lines]
    validate = openlineage_validator()
    for event in events:
        validate(event)
    return events


def _of_run(events: list[dict[str, Any]], run_id: str) -> list[dict[str, Any]]:
    """The pipeline run's own events and those of its nodes (parent = the run)."""
    return [e for e in events if e["run"]["runId"] == run_id
            or e["run"]["facets"].get("parent", {}).get("run", {}).get("runId") == run_id]


def _reaches(span: ReceivedSpan, root: ReceivedSpan, spans: list[ReceivedSpan]) -> bool:
    by_id = {s.span_id: s for s in spans}
    current: ReceivedSpan | None = span
    while current is not None and current.parent_span_id:
        if current.parent_span_id == root.span_id:
            return True
        current = by_id.get(current.parent_span_id)
    return False


@pytest.fixture(scope="module")
def _compiled_shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from floe.compiler import compile_project
    from floe.scaffold import init_project
    from floe.spec.project import load_project

    root = init_project(tmp_path_factory.mktemp("observed") / "shop", template="ecommerce").root
    compile_project(load_project(root / "floe.yaml"))
    return root


def test_a_run_dagster_executes_reports_ingestion_and_dbt_in_one_trace(_compiled_shop: Path) -> None:
    project = _compiled_shop
    with HttpOtlpReceiver() as receiver:
        _observe(project, receiver.endpoint)
        run_id = _daemon_run(project)
        spans = list(receiver.spans)

    events = _of_run(_events(project), run_id)
    pipeline = [e["eventType"] for e in events if e["run"]["runId"] == run_id]
    assert pipeline == ["START", "COMPLETE"]  # once, from the run's process, not once per step
    tables = ["customers", "order_items", "orders", "products"]
    for table in tables:
        ingested = [e for e in events if e["job"]["name"] == f"shop.ingestion.shop.{table}"]
        assert [e["eventType"] for e in ingested] == ["START", "COMPLETE"], table
        done = ingested[-1]
        assert done["inputs"][0]["namespace"] == "floe-synthetic://ecommerce"
        assert done["inputs"][0]["name"] == f"shop.{table}"
        output = done["outputs"][0]
        assert output["name"] == f"bronze.{table}" and output["namespace"].startswith("file://")
        assert "schema" in output["facets"]  # the dataset facets the dbt source declares
        assert output["outputFacets"]["outputStatistics"]["rowCount"] >= 0
    # dbt reads what ingestion wrote: the same dataset on both sides.
    staging = next(e for e in events if e["eventType"] == "COMPLETE" and e["job"]["name"].endswith("stg_orders"))
    assert any(i["name"] == "bronze.orders" and i["namespace"].startswith("file://") for i in staging["inputs"])
    # Tables (incremental marts here) carry the rows they hold.
    marts = [e for e in events if e["eventType"] == "COMPLETE" and ".mart_" in e["job"]["name"]]
    counted = [e for e in marts if e["outputs"][0].get("outputFacets", {}).get("outputStatistics")]
    assert counted and all(e["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] > 0 for e in counted)

    roots = [s for s in spans if s.name == "floe.run"]
    assert len(roots) == 1 and roots[0].attributes["floe.run_id"] == run_id
    root = roots[0]
    assert root.trace_id == run_id.replace("-", "")  # the trace id follows from the run id
    ingestion = [s for s in spans if s.name.startswith("ingestion bronze.")]
    assert sorted(s.name for s in ingestion) == [f"ingestion bronze.{t}" for t in tables]
    models = [s for s in spans if s.name.startswith("dbt.model ")]
    assert any("mart_revenue" in s.name for s in models)
    for span in [*ingestion, *models]:
        assert span.trace_id == root.trace_id and _reaches(span, root, spans), span.name
    # Every lineage event points at the run's trace.
    assert {e["run"]["facets"]["floe_trace"]["traceId"] for e in events} == {root.trace_id}
    revenue = next(s for s in models if s.name == "dbt.model mart_revenue")
    mart = next(e for e in counted if e["job"]["name"].endswith("mart_revenue"))
    assert revenue.attributes["floe.node.rows"] == mart["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"]


def test_a_failing_model_says_why_and_its_downstream_is_reported_skipped(compiled_project: Path) -> None:
    project = compiled_project
    (project / "dbt" / "models" / "staging" / "stg_orders.sql").write_text(
        "select *, no_such_column from {{ ref('raw_orders') }}\n")
    with HttpOtlpReceiver() as receiver:
        _observe(project, receiver.endpoint)
        # dbt colours its output when told to: none of it may reach a span or an event.
        run_id = _daemon_run(project, DBT_USE_COLORS="true")
        spans = list(receiver.spans)

    events = _of_run(_events(project), run_id)
    assert [e["eventType"] for e in events if e["run"]["runId"] == run_id] == ["START", "FAIL"]
    failed = [e for e in events if e["job"]["name"].endswith("model.shop.stg_orders")]
    assert [e["eventType"] for e in failed] == ["START", "FAIL"]
    error = failed[-1]["run"]["facets"]["errorMessage"]
    assert "no_such_column" in error["message"] and ANSI not in error["message"]
    assert error["programmingLanguage"] == "SQL" and len(error["message"]) <= 2000
    skipped = [e for e in events if e["job"]["name"].endswith("model.shop.customer_revenue")]
    assert [e["eventType"] for e in skipped] == ["START", "ABORT"]
    tags = {t["key"]: t["value"] for t in skipped[-1]["run"]["facets"]["tags"]["tags"]}
    assert tags["floe.skipped"] == "true"
    run_error = next(e for e in events if e["run"]["runId"] == run_id and e["eventType"] == "FAIL")
    assert "stg_orders" in run_error["run"]["facets"]["errorMessage"]["message"]

    assert any(s.name == "dbt.model stg_orders" for s in spans), sorted(s.name for s in spans)
    model = next(s for s in spans if s.name == "dbt.model stg_orders")
    assert model.status_code == "ERROR" and "no_such_column" in model.status_message
    assert ANSI not in model.status_message
    downstream = next(s for s in spans if s.name == "dbt.model customer_revenue")
    assert downstream.attributes["floe.node.skipped"] is True and downstream.attributes["floe.node.status"] == "skipped"
    assert all(ANSI not in s.status_message for s in spans)
