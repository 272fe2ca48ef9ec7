"""`floe demo trigger` against a real `floe dev`: it launches one run per batch through Dagster's
GraphQL API, prints the run ids, follows them to the end, and says what failed and where.

The project is the minimal template plus a small synthetic ingestion source, so each run lands
a batch in Iceberg and builds three dbt models (about a minute a run on a loaded machine).
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from tests.support.process_tree import read_until_ready
from tests.support.servers import closed_port, free_port

pytestmark = [pytest.mark.integration, pytest.mark.process]

RUN_ID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SOURCE = {"type": "synthetic", "name": "shop_orders", "dataset": "ecommerce", "namespace": "bronze", "seed": 7,
          "rate": {"type": "burst", "rows": 50}}
# Runs queue one at a time and each takes about a minute here: generous, never a sleep.
TRIGGER_TIMEOUT_S = 900


@pytest.fixture
def project(tmp_path: Path) -> Path:
    from floe.scaffold import init_project

    root = init_project(tmp_path / "shop").root
    spec = yaml.safe_load((root / "floe.yaml").read_text())
    spec["ingestion"] = [SOURCE]
    (root / "floe.yaml").write_text(yaml.safe_dump(spec, sort_keys=False))
    return root


@pytest.fixture
def dev_url(project: Path) -> Iterator[str]:
    """`floe dev` on a free port, until the test is done (stopped with Ctrl-C, as a user stops it)."""
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "floe", "dev", "--native", "--port", str(port), "--wait", "300"],
                               cwd=project, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    try:
        read_until_ready(process, "floe dev", 420)
        yield f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # floe dev stops the stack it started
            try:
                process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def landed_batches(project: Path) -> dict[str, list[str]]:
    """The batch ids each bronze table holds."""
    from floe.contract.project import open_compiled_project
    from floe.lakehouse.tables import table_batch_ids
    from floe.orchestration.lakehouse import open_project_catalog

    compiled = open_compiled_project(project / ".floe" / "artifacts.json")
    catalog = open_project_catalog(compiled)
    source = compiled.artifacts.ingestion[0]
    found = {}
    for table in ("customers", "orders", "order_items"):
        identifier = f"{source.namespace}.{table}"
        found[identifier] = sorted(table_batch_ids(catalog.load_table(identifier))) \
            if catalog.table_exists(identifier) else []
    return found


def test_trigger_against_floe_dev(floe, project: Path, dev_url: str) -> None:  # type: ignore[no-untyped-def]
    """One floe dev (a minute to start) for all: two batches that land, a run that fails, and a
    batch through an Ingress that asks for basic auth (as the chart's does on Kubernetes)."""
    two_batches_land(floe, project, dev_url)
    a_failing_run_exits_1_naming_it_and_its_logs(floe, project, dev_url)
    behind_basic_auth_with_the_credentials_floe_reads_from_the_environment(floe, project, dev_url)


def two_batches_land(floe, project: Path, dev_url: str) -> None:  # type: ignore[no-untyped-def]
    from floe.platform.dagster_graphql import TRIGGER_BATCH_TAG, TRIGGER_TAG
    from floe.platform.dagster_probe import graphql

    before = landed_batches(project)
    # No --url: the URL floe dev recorded for this project.
    result = floe("demo", "trigger", "-n", "2", cwd=project, timeout=TRIGGER_TIMEOUT_S)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    ids = [line for line in lines if RUN_ID.match(line)]
    assert len(ids) == 2 and len(set(ids)) == 2, result.stdout
    assert f"at {dev_url} (recorded by floe dev in" in result.stderr
    # Followed: status changes on stderr, each run's outcome and duration on stdout.
    for number, run_id in enumerate(ids, start=1):
        assert f"{number}/2 {run_id[:8]}  started" in result.stderr, result.stderr
        assert re.search(rf"✓ {number}/2 {run_id[:8]}  SUCCESS  \d+\.\ds$", result.stdout, re.MULTILINE), result.stdout
    assert "2 of 2 runs succeeded" in result.stderr

    # Two runs, two distinct batches in every bronze table.
    after = landed_batches(project)
    for table, batches in after.items():
        new = sorted(set(batches) - set(before[table]))
        assert len(new) == 2, (table, before[table], batches)

    # The runs carry the job's tags plus the request's, as Dagster recorded them.
    query = """query ($id: ID!) { runOrError(runId: $id) { ... on Run { jobName tags { key value } } } }"""
    run = graphql(dev_url, query, {"id": ids[1]})["runOrError"]
    tags = {tag["key"]: tag["value"] for tag in run["tags"]}
    assert run["jobName"] == "all" and tags[TRIGGER_BATCH_TAG] == "2/2" and tags[TRIGGER_TAG]


def a_failing_run_exits_1_naming_it_and_its_logs(floe, project: Path, dev_url: str) -> None:  # type: ignore[no-untyped-def]
    model = project / "dbt" / "models" / "marts" / "customer_revenue.sql"
    original = model.read_text()
    # dbt re-reads the model in the run: this run's build fails on it.
    model.write_text("select * from no_such_table_anywhere\n")
    try:
        result = floe("demo", "trigger", "--url", dev_url, "--json", cwd=project, timeout=TRIGGER_TIMEOUT_S)
    finally:
        model.write_text(original)
    assert result.returncode == 1, result.stdout + result.stderr
    document = json.loads(result.stdout)
    assert document["success"] is False and document["job"] == "all" and document["waited"] is True
    [run] = document["runs"]
    assert run["status"] == "FAILURE" and run["success"] is False and run["duration_s"] > 0
    assert any("no_such_table_anywhere does not exist" in line for line in run["errors"]), run["errors"]
    assert any(line.startswith("step dbt_models: dbt's log: ") for line in run["errors"]), run["errors"]
    assert f"run {run['run_id'][:8]} (batch 1, failure)" in result.stderr
    assert f"{dev_url}/runs/{run['run_id']}" in result.stderr and "Traceback" not in result.stderr


def behind_basic_auth_with_the_credentials_floe_reads_from_the_environment(floe, project: Path,  # type: ignore[no-untyped-def]
                                                                        dev_url: str) -> None:
    from tests.support.auth_proxy import basic_auth_proxy, htpasswd_line

    with basic_auth_proxy(dev_url, htpasswd_line("ops", "s3cret-word")) as ingress:
        anonymous = floe("demo", "trigger", "--url", ingress, cwd=project)
        assert anonymous.returncode == 1, anonymous.stdout + anonymous.stderr
        assert f"{ingress} asks for credentials (HTTP 401)" in anonymous.stderr
        assert "$FLOE_DAGSTER_USER" in anonymous.stderr and "Traceback" not in anonymous.stderr
        wrong = floe("demo", "trigger", "--url", ingress, cwd=project,
                     env={"FLOE_DAGSTER_USER": "ops", "FLOE_DAGSTER_PASSWORD": "guess"})
        assert wrong.returncode == 1 and "refuses the credentials floe sent (HTTP 401)" in wrong.stderr
        assert "guess" not in wrong.stdout + wrong.stderr
        landed = floe("demo", "trigger", "--url", ingress, "--json", cwd=project, timeout=TRIGGER_TIMEOUT_S,
                      env={"FLOE_DAGSTER_USER": "ops", "FLOE_DAGSTER_PASSWORD": "s3cret-word"})
    assert landed.returncode == 0, landed.stdout + landed.stderr
    document = json.loads(landed.stdout)
    assert document["success"] is True and [run["status"] for run in document["runs"]] == ["SUCCESS"]
    assert "s3cret-word" not in landed.stdout + landed.stderr


def test_no_dagster_at_the_url_is_a_clear_error(floe, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = f"http://127.0.0.1:{closed_port()}"
    result = floe("demo", "trigger", "-n", "2", "--url", url, cwd=tmp_path)
    assert result.returncode == 1
    assert f"no Dagster answers at {url} (--url)" in result.stderr
    assert "floe dev" in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""
    # The variable is the default when no --url is given, and says so.
    from_env = floe("demo", "trigger", cwd=tmp_path, env={"FLOE_DAGSTER_URL": url + "/"})
    assert from_env.returncode == 1 and f"no Dagster answers at {url} ($FLOE_DAGSTER_URL)" in from_env.stderr
