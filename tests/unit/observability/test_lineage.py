"""RunLineage against the real manifest of the ecommerce template, every event checked against
the official OpenLineage JSON Schemas; the transports against real files and sockets; and
``floe lineage`` reading the file back."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from floe.cli.lineage_cmd import lineage as lineage_command
from floe.errors import FloeError
from floe.node_events import NodeEvent
from floe.observability.lineage import RunLineage
from floe.observability.lineage_naming import DatasetNamer, iceberg_namespace, warehouse_namespace
from floe.spec.observability import ConsoleLineage, FileLineage, HttpLineage, NoLineage
from floe.spec.platform import EnvironmentSpec
from tests.conftest import SHARED
from tests.support.openlineage_schema import openlineage_validator

# Every test reads the ecommerce template compiled once, and compiling runs `dbt parse`.
pytestmark = pytest.mark.process

OPENLINEAGE = SHARED / "reference" / "openlineage"
BRONZE = ("customers", "products", "orders", "order_items")
FAILING = "mart_revenue"
TRACE_ID = "0af7651916cd43dd8448eb211c80319c"


# -- fixtures ---------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def shop(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The ecommerce template compiled once: its root, manifest and environment."""
    from floe.compiler import compile_project
    from floe.contract.v1 import ArtifactsV1
    from floe.scaffold import init_project
    from floe.spec.project import load_project

    root = init_project(tmp_path_factory.mktemp("lineage") / "shop", template="ecommerce").root
    compile_project(load_project(root / "floe.yaml"))
    artifacts = ArtifactsV1.model_validate_json((root / ".floe" / "artifacts.json").read_text())
    manifest = json.loads((root / ".floe" / "dbt" / "manifest.json").read_text())
    return {"root": root, "manifest": manifest, "environment": artifacts.environment,
            "pipeline": artifacts.project.name,
            "iceberg": [f"{s.namespace}.{t}" for s in artifacts.ingestion for t in s.tables]}


def _jobs(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: n for k, n in manifest["nodes"].items() if n["resource_type"] in ("model", "seed", "snapshot")}


def make_lineage(shop: dict[str, Any], spec: Any, *, timeout: float = 2.0,
                 environ: dict[str, str] | None = None) -> RunLineage:
    return RunLineage(spec, namespace=shop["pipeline"], manifest=shop["manifest"],
                      environment=shop["environment"], project_root=shop["root"],
                      timeout=timedelta(seconds=timeout), environ=environ or {})


def feed_run(lineage: RunLineage, manifest: dict[str, Any], run_id: str, target: Path | None = None) -> None:
    """A whole run: ingestion of the four bronze tables, every model (one failing), a test."""
    if target is not None:
        lineage.set_target_path(target)
    lineage.start_run(run_id, "all", trace_id=TRACE_ID)
    for table in BRONZE:
        # Ingestion reports only its outcome, as floe.orchestration.ingestion_assets does.
        lineage.node_finished(NodeEvent(f"ingestion.shop.{table}", f"bronze.{table}", "ingestion", "success",
                                        rows=1000, relation=f"bronze.{table}", materialized="iceberg"),
                              trace_id=TRACE_ID)
    for unique_id, node in _jobs(manifest).items():
        name = node["name"]
        lineage.node_started(NodeEvent(unique_id, name, node["resource_type"], "started"), trace_id=TRACE_ID)
        if name == FAILING:
            done = NodeEvent(unique_id, name, "model", "error", message="Binder Error: column x not found")
        else:
            done = NodeEvent(unique_id, name, node["resource_type"], "success", rows=42)
        lineage.node_finished(done, trace_id=TRACE_ID)
    test_id = next(k for k in manifest["nodes"] if k.startswith("test."))
    lineage.node_started(NodeEvent(test_id, "a test", "test", "started"))
    lineage.node_finished(NodeEvent(test_id, "a test", "test", "pass"))
    lineage.finish_run(False, error="1 model failed", trace_id=TRACE_ID)


@pytest.fixture(scope="session")
def recorded(shop: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One run written by the file transport, with compiled SQL for one model."""
    target = tmp_path_factory.mktemp("target")
    stg = shop["manifest"]["nodes"][f"model.{shop['pipeline']}.stg_orders"]
    sql_file = target / "compiled" / stg["package_name"] / stg["original_file_path"]
    sql_file.parent.mkdir(parents=True)
    sql_file.write_text("select * from bronze.orders -- compiled\n")
    lineage_file = tmp_path_factory.mktemp("out") / "deep" / "lineage.jsonl"
    lineage = make_lineage(shop, FileLineage(type="file", path=str(lineage_file)))
    run_id = str(uuid.uuid4())
    feed_run(lineage, shop["manifest"], run_id, target)
    assert lineage.close() == []
    events = [json.loads(line) for line in lineage_file.read_text().splitlines()]
    return {"events": events, "run_id": run_id, "file": lineage_file}


# -- schema validation ------------------------------------------------------------------------

@pytest.fixture(scope="session")
def validate() -> Any:
    """Validates an event and each facet in it against the official schemas (floe_trace: its own)."""
    return openlineage_validator()


def test_every_event_validates_against_the_official_schemas(recorded: dict[str, Any], validate: Any) -> None:
    for event in recorded["events"]:
        validate(event)


def test_one_start_and_one_end_per_job_and_the_failure_is_reported(shop: dict[str, Any],
                                                                   recorded: dict[str, Any]) -> None:
    events = recorded["events"]
    jobs = len(_jobs(shop["manifest"])) + len(BRONZE)
    states = [e["eventType"] for e in events]
    assert states.count("START") == jobs + 1
    assert states.count("COMPLETE") == jobs - 1
    assert states.count("FAIL") == 2  # the failing model and the pipeline run
    assert len(events) == 2 * (jobs + 1)
    assert not any(".test." in e["job"]["name"] or e["job"]["name"].startswith("test.") for e in events)
    by_id: dict[str, list[str]] = {}
    for event in events:
        by_id.setdefault(event["run"]["runId"], []).append(event["eventType"])
    assert all(len(s) == 2 and s[0] == "START" for s in by_id.values())
    failed = next(e for e in events if e["eventType"] == "FAIL" and e["job"]["name"].endswith(FAILING))
    error = failed["run"]["facets"]["errorMessage"]
    assert error["message"] == "Binder Error: column x not found" and error["programmingLanguage"] == "SQL"
    pipeline_end = events[-1]
    assert pipeline_end["eventType"] == "FAIL" and pipeline_end["job"]["name"] == f"{shop['pipeline']}.all"
    assert pipeline_end["run"]["facets"]["errorMessage"]["message"] == "1 model failed"


def test_node_runs_point_at_the_pipeline_run(shop: dict[str, Any], recorded: dict[str, Any]) -> None:
    run_id = recorded["run_id"]
    for event in recorded["events"]:
        facets = event["run"]["facets"]
        assert facets["floe_trace"]["traceId"] == TRACE_ID
        if event["job"]["name"] == f"{shop['pipeline']}.all":
            assert event["run"]["runId"] == run_id and "parent" not in facets
            continue
        parent = facets["parent"]
        assert parent["run"]["runId"] == run_id == parent["root"]["run"]["runId"]
        assert parent["job"] == {"namespace": shop["pipeline"], "name": f"{shop['pipeline']}.all"}
        unique_id = event["job"]["name"].removeprefix(f"{shop['pipeline']}.")
        assert event["run"]["runId"] == str(uuid.uuid5(uuid.UUID(run_id), unique_id))


def test_dataset_graph_equals_the_manifest_graph(shop: dict[str, Any], recorded: dict[str, Any]) -> None:
    manifest, root = shop["manifest"], shop["root"]
    duckdb = f"duckdb://{(root / '.floe' / 'warehouse.duckdb').resolve().as_posix()}"
    iceberg = (root / ".floe" / "lakehouse").resolve().as_uri()

    def name_of(unique_id: str) -> tuple[str, str]:
        entry = manifest["nodes"].get(unique_id) or manifest["sources"][unique_id]
        if entry["resource_type"] == "source":
            return (iceberg, f"{entry['schema']}.{entry['identifier']}")
        return (duckdb, f"{entry['database']}.{entry['schema']}.{entry['alias']}")

    expected = {(name_of(parent), name_of(unique_id))
                for unique_id, node in _jobs(manifest).items() for parent in node["depends_on"]["nodes"]}
    seen: set[tuple[tuple[str, str], tuple[str, str]]] = set()
    outputs: set[tuple[str, str]] = set()
    for event in recorded["events"]:
        if event["eventType"] in ("COMPLETE", "FAIL"):
            ins = [(d["namespace"], d["name"]) for d in event["inputs"]]
            outs = [(d["namespace"], d["name"]) for d in event["outputs"]]
            outputs.update(outs)
            seen.update((i, o) for i in ins for o in outs)
    assert seen == expected
    # Ingestion writes exactly the Iceberg tables the dbt sources read: one graph, no gap.
    assert {(iceberg, f"bronze.{t}") for t in BRONZE} <= outputs
    assert {parent for parent, _ in expected if parent[0] == iceberg} == {(iceberg, f"bronze.{t}") for t in BRONZE}


def test_facets_carry_schema_column_lineage_sql_and_row_counts(shop: dict[str, Any],
                                                               recorded: dict[str, Any]) -> None:
    pipeline = shop["pipeline"]
    complete = {e["job"]["name"]: e for e in recorded["events"] if e["eventType"] in ("COMPLETE", "FAIL")}
    stg = complete[f"{pipeline}.model.{pipeline}.stg_orders"]
    assert stg["job"]["facets"]["sql"] == {**stg["job"]["facets"]["sql"],
                                           "query": "select * from bronze.orders -- compiled\n", "dialect": "duckdb"}
    assert stg["job"]["facets"]["jobType"]["integration"] == "DBT"
    assert stg["job"]["facets"]["jobType"]["jobType"] == "MODEL"
    output = stg["outputs"][0]
    declared = list(shop["manifest"]["nodes"][f"model.{pipeline}.stg_orders"]["columns"])
    assert [f["name"] for f in output["facets"]["schema"]["fields"]] == declared
    assert output["outputFacets"]["outputStatistics"]["rowCount"] == 42
    # Column lineage traced through the compiled SQL (a * over the source: its declared columns).
    lineage = output["facets"]["columnLineage"]["fields"]
    assert list(lineage) == list(shop["manifest"]["sources"][f"source.{pipeline}.bronze.orders"]["columns"])
    assert lineage["order_id"]["inputFields"] == [
        {"namespace": stg["inputs"][0]["namespace"], "name": "bronze.orders", "field": "order_id",
         "transformations": [{"type": "DIRECT", "subtype": "IDENTITY", "masking": False}]}]
    # No compiled file: no SQL facet and no column lineage.
    enriched = complete[f"{pipeline}.model.{pipeline}.int_order_items_enriched"]
    assert len(enriched["inputs"]) == 3 and "columnLineage" not in enriched["outputs"][0]["facets"]
    assert "sql" not in enriched["job"]["facets"]
    # The failed model has no row count; ingestion reports its rows.
    assert "outputFacets" not in complete[f"{pipeline}.model.{pipeline}.{FAILING}"]["outputs"][0]
    ingest = complete[f"{pipeline}.ingestion.shop.orders"]
    assert ingest["inputs"] == [] and ingest["outputs"][0]["outputFacets"]["outputStatistics"]["rowCount"] == 1000


def test_type_none_does_nothing(shop: dict[str, Any], tmp_path: Path) -> None:
    lineage = make_lineage(shop, NoLineage(type="none"))
    assert lineage.enabled is False
    feed_run(lineage, shop["manifest"], str(uuid.uuid4()))
    assert lineage.close() == []


def test_console_transport_writes_to_stderr(shop: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    lineage = make_lineage(shop, ConsoleLineage(type="console"))
    lineage.start_run(str(uuid.uuid4()), "all")
    lineage.finish_run(True)
    assert lineage.close() == []
    captured = capsys.readouterr()
    assert captured.out == ""
    assert [json.loads(line)["eventType"] for line in captured.err.splitlines()] == ["START", "COMPLETE"]


def test_unwritable_file_gives_one_warning(shop: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "blocker").write_text("a file where a directory should be")
    lineage = RunLineage(FileLineage(type="file", path="blocker/lineage.jsonl"), namespace="shop",
                         manifest=shop["manifest"], environment=shop["environment"], project_root=tmp_path,
                         timeout=timedelta(seconds=1))
    feed_run(lineage, shop["manifest"], str(uuid.uuid4()))
    warnings = lineage.close()
    assert len(warnings) == 1
    assert "cannot write blocker/lineage.jsonl" in warnings[0] and "observability.lineage.path" in warnings[0]


# -- HTTP -------------------------------------------------------------------------------------

class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, str | None, dict[str, Any]]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((self.path, self.headers.get("Authorization"), json.loads(body)))
        self.send_response(201)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_http_transport_posts_every_event_with_the_bearer_key(shop: dict[str, Any], validate: Any) -> None:
    handler = type("Receiver", (_Receiver,), {"received": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        spec = HttpLineage.model_validate({"type": "http", "url": f"http://127.0.0.1:{server.server_port}/",
                                           "api_key": {"secret_ref": "MARQUEZ_KEY"}})
        lineage = make_lineage(shop, spec, environ={"MARQUEZ_KEY": "s3cret"})
        feed_run(lineage, shop["manifest"], str(uuid.uuid4()))
        assert lineage.close() == []
    finally:
        server.shutdown()
        server.server_close()
    received = handler.received
    assert len(received) == 2 * (len(_jobs(shop["manifest"])) + len(BRONZE) + 1)
    assert {(path, auth) for path, auth, _ in received} == {("/api/v1/lineage", "Bearer s3cret")}
    # In order: the pipeline run's START first, its FAIL last.
    first, last = received[0][2], received[-1][2]
    assert first["eventType"] == "START" and "parent" not in first["run"]["facets"]
    assert last["eventType"] == "FAIL" and last["run"]["runId"] == first["run"]["runId"]
    for *_, event in received:
        validate(event)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_unreachable_endpoint_gives_one_warning(shop: dict[str, Any]) -> None:
    port = _closed_port()
    spec = HttpLineage(type="http", url=f"http://127.0.0.1:{port}")
    lineage = make_lineage(shop, spec, timeout=1.0)
    started = time.monotonic()
    feed_run(lineage, shop["manifest"], str(uuid.uuid4()))
    warnings = lineage.close()
    assert time.monotonic() - started < 1 + 10  # the timeout plus a loaded machine's slack: bounded
    assert len(warnings) == 1
    assert f"http://127.0.0.1:{port}/api/v1/lineage unreachable (connection refused)" in warnings[0]
    assert "were dropped" in warnings[0] and "observability.lineage.url" in warnings[0]


def test_silent_endpoint_never_delays_the_run_beyond_the_timeout(shop: dict[str, Any]) -> None:
    # A server that accepts connections and never answers: the worst case for a client.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        spec = HttpLineage(type="http", url=f"http://127.0.0.1:{silent.getsockname()[1]}")
        lineage = make_lineage(shop, spec, timeout=3.0)
        started = time.monotonic()
        feed_run(lineage, shop["manifest"], str(uuid.uuid4()))
        fed = time.monotonic() - started
        warnings = lineage.close()
        elapsed = time.monotonic() - started
    # Waiting for the endpoint would cost the 3 s timeout at least; a loaded machine does not.
    assert fed < 3.0, "emitting must not wait for the endpoint"
    assert elapsed < 3.0 + 10  # bounded by the timeout, plus slack for a loaded machine
    assert len(warnings) == 1 and "unreachable (no answer within the 3s timeout)" in warnings[0]


def test_missing_api_key_secret_gives_one_warning(shop: dict[str, Any]) -> None:
    spec = HttpLineage.model_validate({"type": "http", "url": "http://127.0.0.1:9",
                                       "api_key": {"secret_ref": "NOT_SET_ANYWHERE"}})
    lineage = make_lineage(shop, spec, environ={"FLOE_SECRETS_DIR": "/nonexistent"})
    feed_run(lineage, shop["manifest"], str(uuid.uuid4()))
    warnings = lineage.close()
    assert len(warnings) == 1 and "NOT_SET_ANYWHERE" in warnings[0]


# -- naming -----------------------------------------------------------------------------------

@pytest.mark.parametrize(("compute", "namespace", "name"), [
    ({"type": "postgres", "host": "db", "port": 5433, "user": "u", "database": "shop"},
     "postgres://db:5433", "warehouse.main.stg_orders"),
    ({"type": "snowflake", "account": "XY12345.eu-west-1", "user": "u", "warehouse": "wh", "database": "d",
      "schema": "s"}, "snowflake://xy12345.eu-west-1", "WAREHOUSE.MAIN.STG_ORDERS"),
    ({"type": "bigquery", "project": "p", "dataset": "d"}, "bigquery", "warehouse.main.stg_orders"),
    ({"type": "trino", "host": "trino", "port": 8080, "user": "u", "database": "c", "schema": "s"},
     "trino://trino:8080", "warehouse.main.stg_orders"),
])
def test_warehouse_naming_follows_the_openlineage_spec(shop: dict[str, Any], compute: dict[str, Any],
                                                       namespace: str, name: str) -> None:
    environment = EnvironmentSpec.model_validate({"compute": compute})
    namer = DatasetNamer(shop["manifest"], environment, shop["root"])
    assert warehouse_namespace(environment, shop["root"]) == namespace
    dataset = namer.node(f"model.{shop['pipeline']}.stg_orders")
    assert dataset is not None and (dataset.namespace, dataset.name) == (namespace, name)
    # Without ingestion, a dbt source is the warehouse relation it names.
    source = namer.node(f"source.{shop['pipeline']}.bronze.orders")
    assert source is not None and source.namespace == namespace


def test_iceberg_namespace_is_the_table_root(tmp_path: Path) -> None:
    s3 = EnvironmentSpec.model_validate({"storage": {"type": "s3", "bucket": "lake", "prefix": "/prod/"}})
    assert iceberg_namespace(s3, tmp_path) == "s3://lake/prod"
    warehouse = EnvironmentSpec.model_validate({"catalog": {"type": "sql", "warehouse": "wh"}})
    assert iceberg_namespace(warehouse, tmp_path) == (tmp_path / "wh").resolve().as_uri()
    assert iceberg_namespace(EnvironmentSpec(), tmp_path) == (tmp_path / ".floe/lakehouse").resolve().as_uri()


def test_declared_ingestion_tables_name_sources_before_any_ingestion_event(shop: dict[str, Any]) -> None:
    namer = DatasetNamer(shop["manifest"], shop["environment"], shop["root"], shop["iceberg"])
    source = namer.node(f"source.{shop['pipeline']}.bronze.orders")
    assert source is not None and (source.namespace, source.name) == (namer.iceberg_namespace, "bronze.orders")


# -- floe lineage -----------------------------------------------------------------------------

def test_cli_tree(shop: dict[str, Any], recorded: dict[str, Any]) -> None:
    result = CliRunner().invoke(lineage_command, ["--file", str(recorded["file"])])
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith(f"run {recorded['run_id']}  {shop['pipeline']}/{shop['pipeline']}.all  FAIL")
    block = lines[lines.index(f"  model.{shop['pipeline']}.stg_orders  COMPLETE"):][:3]
    assert block[1:] == ["    ← bronze.orders  [file]", "    → warehouse.main.stg_orders  [duckdb]  42 rows"]
    assert f"  model.{shop['pipeline']}.{FAILING}  FAIL" in lines
    assert "    ✗ Binder Error: column x not found" in lines


def test_cli_mermaid_and_json(shop: dict[str, Any], recorded: dict[str, Any]) -> None:
    mermaid = CliRunner().invoke(lineage_command, ["--file", str(recorded["file"]), "--format", "mermaid"])
    assert mermaid.exit_code == 0, mermaid.output
    assert mermaid.output.startswith("flowchart LR\n")
    assert '[("bronze.orders")]' in mermaid.output and f'["model.{shop["pipeline"]}.stg_orders"]' in mermaid.output
    assert "classDef failed" in mermaid.output
    result = CliRunner().invoke(lineage_command, ["--file", str(recorded["file"]), "--format", "json",
                                                  "--run", recorded["run_id"][:8]])
    assert result.exit_code == 0, result.output
    graph = json.loads(result.output)
    assert graph["run"]["runId"] == recorded["run_id"] and graph["run"]["state"] == "FAIL"
    jobs = [n for n in graph["nodes"] if n["type"] == "job"]
    assert len(jobs) == len(_jobs(shop["manifest"])) + len(BRONZE)
    ids = {n["id"] for n in graph["nodes"]}
    assert all(e["from"] in ids and e["to"] in ids for e in graph["edges"])
    stg = f"job:{shop['pipeline']}/{shop['pipeline']}.model.{shop['pipeline']}.stg_orders"
    assert {e["from"] for e in graph["edges"] if e["to"] == stg} == {
        next(n["id"] for n in graph["nodes"] if n.get("name") == "bronze.orders")}


def test_cli_picks_the_last_run_and_explains_missing_files(shop: dict[str, Any], recorded: dict[str, Any],
                                                          tmp_path: Path) -> None:
    combined = tmp_path / "lineage.jsonl"
    lineage = make_lineage(shop, FileLineage(type="file", path=str(combined)))
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    for run_id in (first, second):
        lineage.start_run(run_id, "marts")
        lineage.finish_run(True)
    lineage.close()
    with combined.open("a") as handle:
        handle.write('{"torn": ')  # a run killed mid-write leaves a partial line
    result = CliRunner().invoke(lineage_command, ["--file", str(combined), "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.output)["run"]["runId"] == second
    missing = CliRunner().invoke(lineage_command, ["--file", str(tmp_path / "nope.jsonl")])
    assert isinstance(missing.exception, FloeError) and "no lineage file" in str(missing.exception)
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = CliRunner().invoke(lineage_command, ["--file", str(empty)])
    assert isinstance(result.exception, FloeError) and "holds no pipeline run" in str(result.exception)
    result = CliRunner().invoke(lineage_command, ["--file", str(combined), "--run", "zzz"])
    assert isinstance(result.exception, FloeError) and "no run" in str(result.exception)
