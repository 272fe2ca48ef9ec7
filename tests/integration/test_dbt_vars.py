"""dbt vars from floe.yaml and ``floe run --vars`` reach dbt: at parse (compile) and at run.

A project written for the test: ``big_orders`` keeps the orders of at least
``var('min_amount', 0)``, ``run_label`` shows ``var('label')``, and dbt_project.yml enables
``extra`` only when ``var('with_extra')`` is true, which dbt decides when it parses.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

pytestmark = pytest.mark.integration

FLOE_YAML = """\
name: varshop
transforms:
  - type: dbt
    path: ./dbt
    vars:
      with_extra: false
      min_amount: 5
jobs:
  - name: everything
    vars: {min_amount: 20}
  - name: labelled
    select: run_label
schedules:
  - name: everything_hourly
    job: everything
    cron: "0 * * * *"
    enabled: false
    vars:
      label: scheduled
"""

PLATFORM_YAML = """\
environments:
  dev:
    compute: {type: duckdb, path: .floe/warehouse.duckdb, threads: 2}
    orchestrator:
      storage: {type: sqlite, path: .floe/dagster}
"""

DBT_PROJECT = """\
name: varshop
version: "0.1.0"
config-version: 2
profile: varshop
model-paths: ["models"]
seed-paths: ["seeds"]
vars:
  with_extra: true
models:
  varshop:
    +materialized: table
    extra:
      +enabled: "{{ var('with_extra') | as_bool }}"
"""

MODELS = {
    "big_orders.sql": "select * from {{ ref('orders') }} where amount >= {{ var('min_amount', 0) }}\n",
    "run_label.sql": "select '{{ var(\"label\", \"none\") }}' as label\n",
    "extra/extra.sql": "select 1 as one\n",
}
ORDERS = "id,amount\n1,1\n2,5\n3,10\n4,20\n5,50\n"
SCHEDULED_AMOUNTS = [20, 50]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "varshop"
    (root / "dbt" / "seeds").mkdir(parents=True)
    (root / "floe.yaml").write_text(FLOE_YAML)
    (root / "platform.yaml").write_text(PLATFORM_YAML)
    (root / "dbt" / "dbt_project.yml").write_text(DBT_PROJECT)
    (root / "dbt" / "seeds" / "orders.csv").write_text(ORDERS)
    for name, sql in MODELS.items():
        path = root / "dbt" / "models" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sql)
    return root


def _amounts(project: Path) -> list[int]:
    with duckdb.connect(str(project / ".floe" / "warehouse.duckdb"), read_only=True) as connection:
        return [row[0] for row in connection.execute("select amount from big_orders order by amount").fetchall()]


def _label(project: Path) -> str:
    with duckdb.connect(str(project / ".floe" / "warehouse.duckdb"), read_only=True) as connection:
        row = connection.execute("select label from run_label").fetchone()
    assert row is not None
    return str(row[0])


def _manifest_models(project: Path) -> set[str]:
    manifest = json.loads((project / ".floe" / "dbt" / "manifest.json").read_text())
    return {node["name"] for node in manifest["nodes"].values() if node["resource_type"] == "model"}


def test_transform_vars_reach_parse_and_are_recorded(floe, project: Path) -> None:
    compiled = floe("compile", cwd=project)
    assert compiled.returncode == 0, compiled.stderr
    # with_extra: false from floe.yaml beat dbt_project.yml's default at parse time.
    assert _manifest_models(project) == {"big_orders", "run_label"}
    artifacts = json.loads((project / ".floe" / "artifacts.json").read_text())
    assert artifacts["dbt"]["vars"] == {"with_extra": False, "min_amount": 5}
    jobs = {job["name"]: job for job in artifacts["jobs"]}
    assert jobs["everything"]["vars"] == {"min_amount": 20}
    assert "vars" not in jobs["all"] and "vars" not in jobs["labelled"]  # none: left out
    assert artifacts["schedules"][0]["vars"] == {"label": "scheduled"}

    # Changing the vars in floe.yaml makes the artifacts stale: the next run compiles again.
    spec = project / "floe.yaml"
    spec.write_text(spec.read_text().replace("with_extra: false", "with_extra: true"))
    run = floe("run", "--select", "extra", cwd=project)
    assert run.returncode == 0, run.stderr
    assert run.stderr.startswith("compiled (")
    assert _manifest_models(project) == {"big_orders", "run_label", "extra"}
    assert json.loads((project / ".floe" / "artifacts.json").read_text())["dbt"]["vars"]["with_extra"] is True


def test_run_vars_follow_transform_job_and_command_line(floe, project: Path) -> None:
    run = floe("run", cwd=project)
    assert run.returncode == 0, run.stderr
    assert _amounts(project) == [5, 10, 20, 50]  # the transform's min_amount: 5
    assert _label(project) == "none"

    job = floe("run", "--job", "everything", cwd=project)
    assert job.returncode == 0, job.stderr
    assert _amounts(project) == [20, 50]  # the job's min_amount: 20 over the transform's

    given = floe("run", "--job", "everything", "--vars", "{min_amount: 10, label: cli}", "--json", cwd=project)
    assert given.returncode == 0, given.stderr
    assert _amounts(project) == [10, 20, 50]  # --vars over the job's
    assert _label(project) == "cli"
    assert 'vars {"label":"cli","min_amount":10}' in given.stderr
    assert json.loads(given.stdout)["success"] is True

    # JSON, as dbt's --vars also takes it; the model parsed at compile still holds.
    as_json = floe("run", "--vars", '{"min_amount": 50}', cwd=project)
    assert as_json.returncode == 0, as_json.stderr
    assert _amounts(project) == [50]
    assert "extra" not in as_json.stderr  # disabled at parse by the transform's with_extra

    # A run var that enables a model dbt_project.yml disabled at parse: dbt parses again and
    # builds a model the compiled project lacks; the run says which var and where it belongs.
    reshaped = floe("run", "--vars", "{with_extra: true}", cwd=project)
    assert reshaped.returncode == 1
    assert ("dbt ran model.varshop.extra, which the compiled project does not have: this run's vars "
            "(with_extra) change what dbt parses") in reshaped.stdout


@pytest.mark.parametrize(("given", "message"), [
    ("[1, 2]", "--vars: expected a mapping of var names to values, got a list"),
    ("min_amount", "--vars: expected a mapping of var names to values, got a single value ('min_amount')"),
    ("{min_amount: 10", "--vars: not valid YAML"),
    ("{start: 2024-01-01}", '--vars: start: 2024-01-01 is read by YAML as a date; quote it to pass it as text'),
    ("{1: x}", "--vars: the key 1 is not text"),
])
def test_invalid_vars_exit_1_before_anything_runs(floe, project: Path, given: str, message: str) -> None:
    result = floe("run", "--vars", given, cwd=project)
    assert result.returncode == 1, result.stderr
    assert message in result.stderr
    assert "hint: give a YAML or JSON mapping" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (project / ".floe").exists()  # refused before compiling


_SCHEDULE_PROBE = """
import json, sys
from dagster import DagsterInstance, build_schedule_context
from floe.orchestration.definitions import defs

schedule = defs.resolve_schedule_def("everything_hourly")
with DagsterInstance.ephemeral() as instance:
    requests = schedule.evaluate_tick(build_schedule_context(instance=instance)).run_requests
    job = defs.resolve_job_def(schedule.job_name)
    # What a schedule's run gets: the job's run tags, then the request's (as the daemon merges them).
    result = job.execute_in_process(instance=instance, tags=requests[0].tags, raise_on_error=False)
print(json.dumps({"request_tags": dict(requests[0].tags), "job_tags": dict(job.run_tags),
                  "plain_job_tags": dict(defs.resolve_job_def("labelled").run_tags),
                  "success": result.success}))
"""


def test_schedule_vars_reach_its_runs(floe, project: Path) -> None:
    compiled = floe("compile", cwd=project)
    assert compiled.returncode == 0, compiled.stderr
    env = {**os.environ, "FLOE_ARTIFACTS_PATH": str(project / ".floe" / "artifacts.json")}
    env.pop("DBT_TARGET_PATH", None)
    probe = subprocess.run([sys.executable, "-c", _SCHEDULE_PROBE], cwd=project, env=env, capture_output=True,
                           text=True, check=False, timeout=600)
    assert probe.returncode == 0, probe.stderr
    found: dict[str, Any] = json.loads(probe.stdout.strip().splitlines()[-1])
    # The schedule's tag holds the job's vars and its own; the job's tag alone, its own.
    assert json.loads(found["request_tags"]["floe/dbt_vars"]) == {"min_amount": 20, "label": "scheduled"}
    assert json.loads(found["job_tags"]["floe/dbt_vars"]) == {"min_amount": 20}
    assert "floe/dbt_vars" not in found["plain_job_tags"]  # a job without vars has no tag
    assert found["success"] is True
    assert _amounts(project) == SCHEDULED_AMOUNTS
    assert _label(project) == "scheduled"


def test_early_launch_runs_with_the_steps_vars(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """floe run's dbt started before the run has the same --vars the step computes from its tags."""
    from floe.compiler import compile_project
    from floe.contract.project import open_compiled_project
    from floe.orchestration.fastpath import dbt_step as fast_dbt_step
    from floe.orchestration.instance import open_instance
    from floe.orchestration.runner import run_pipeline
    from floe.spec.project import load_project

    monkeypatch.setenv("FLOE_PROJECT_DIR", str(project))
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    monkeypatch.chdir(project)
    compile_project(load_project(project / "floe.yaml"))
    compiled = open_compiled_project(project / ".floe" / "artifacts.json")
    outcome = run_pipeline(compiled, job="everything", dbt_vars={"label": "early"})
    assert outcome.success, outcome.errors
    messages = [entry.user_message for entry in open_instance(compiled).all_logs(outcome.run_id)]
    assert any(fast_dbt_step.STARTED_BEFORE_RUN in m for m in messages)
    assert not any(fast_dbt_step.COMMAND_DIFFERS in m for m in messages)
    assert _amounts(project) == [20, 50] and _label(project) == "early"
