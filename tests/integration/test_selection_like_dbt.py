"""floe's selection is dbt's: what ``floe run --select/--exclude`` picks equals ``dbt ls`` on the
same project, from any folder, and dbt is handed the selection as the user wrote it.

The project (``selection_project.py``) has staging views, an intermediate table, an incremental
mart, seeds, a snapshot, generic and singular tests and tags; a state folder holds the manifest
from before ``stg_orders`` was edited, for ``state:modified``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration.selection_project import write_selection_project

pytestmark = pytest.mark.integration

# What floe's selection turns into assets (models, seeds, snapshots) and checks (tests).
_BUILT_TYPES = frozenset({"model", "seed", "snapshot", "test"})


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The compiled selection project, a state folder from before an edit, and a job selecting by path."""
    from floe.compiler import compile_project
    from floe.scaffold import init_project
    from floe.spec.project import load_project

    base = tmp_path_factory.mktemp("selection")
    root = init_project(base / "shop").root
    write_selection_project(root / "dbt")
    floe_yaml = root / "floe.yaml"
    floe_yaml.write_text(floe_yaml.read_text().replace(
        "jobs:\n", 'jobs:\n  - name: marts_by_path\n    select: "path:models/marts"\n'))
    compile_project(load_project(floe_yaml))
    (base / "state").mkdir()
    shutil.copy(root / ".floe" / "dbt" / "manifest.json", base / "state" / "manifest.json")
    stg_orders = root / "dbt" / "models" / "staging" / "stg_orders.sql"
    stg_orders.write_text(stg_orders.read_text().replace("amount from", "amount * 1 as amount from"))
    compile_project(load_project(floe_yaml))
    (base / "elsewhere").mkdir()
    return root


@pytest.fixture(scope="module")
def built(project: Path) -> Path:
    """The project after a first whole run (the staging views need the seeds' tables)."""
    result = _floe("run", cwd=project.parent / "elsewhere", project=project)
    assert result.returncode == 0, result.stderr[-3000:]
    return project


def _floe(*args: str, cwd: Path, project: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    from tests.conftest import run_floe

    return run_floe(args[0], "-f", str(project / "floe.yaml"), *args[1:], cwd=cwd, env=env)


# One process lists every case: dbt's own programmatic entry point, one ``dbt ls`` per case.
_LS_SCRIPT = """
import json, sys
from dbt.cli.main import dbtRunner
common, cases = json.loads(sys.argv[1]), json.loads(sys.argv[2])
found = []
for select, exclude, state in cases:
    args = ["ls", *common, *(["--select", select] if select else []), *(["--exclude", exclude] if exclude else []),
            *(["--state", state] if state else [])]
    result = dbtRunner().invoke(args)
    if not result.success:
        sys.exit(f"dbt {args} failed: {result.exception}")
    found.append([json.loads(line) for line in result.result])
print(json.dumps(found))
"""

Case = tuple[str | None, str | None, Path | None]


def _dbt_ls_many(project: Path, cases: list[Case]) -> dict[Case, set[str]]:
    """The unique ids ``dbt ls`` lists for each case (models, seeds, snapshots, tests), from another folder."""
    from floe.contract.project import open_compiled_project

    compiled = open_compiled_project(project / ".floe" / "artifacts.json")
    scratch = project.parent / "ls-target"
    common = ["--project-dir", str(compiled.dbt_project_dir), "--profiles-dir", str(compiled.profiles_dir),
              "--profile", compiled.artifacts.dbt.profile, "--target", compiled.artifacts.dbt.target,
              "--target-path", str(scratch), "--log-path", str(scratch), "--resource-type", "all",
              "--output", "json", "--output-keys", "unique_id", "resource_type", "--quiet"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("DBT_")} | {"FLOE_PROJECT_DIR": str(project)}
    listed = subprocess.run([sys.executable, "-c", _LS_SCRIPT, json.dumps(common),
                             json.dumps([[s, e, str(state) if state else None] for s, e, state in cases])],
                            cwd=project.parent / "elsewhere", env=env, capture_output=True, text=True, check=False)
    assert listed.returncode == 0, listed.stdout[-3000:] + listed.stderr[-3000:]
    rows_per_case = json.loads(listed.stdout.strip().splitlines()[-1])
    return {case: {row["unique_id"] for row in rows if row["resource_type"] in _BUILT_TYPES}
            for case, rows in zip(cases, rows_per_case, strict=True)}


@pytest.fixture(scope="module")
def dbt_ls(project: Path) -> dict[Case, set[str]]:
    """``dbt ls`` of every case of this module, listed once."""
    state = project.parent / "state"
    cases: list[Case] = [(select, exclude, None) for select, exclude in SELECTIONS]
    cases += [(select, exclude, state) for select, exclude in STATE_SELECTIONS]
    cases += [("path:models/marts", None, None)]
    return _dbt_ls_many(project, cases)


def _floe_unique_ids(project: Path, select: str | None, exclude: str | None, state: Path | None = None,
                     job: str | None = None) -> set[str]:
    """The unique ids behind the assets and checks floe's run plan selects."""
    from floe.contract.project import open_compiled_project
    from floe.orchestration.dbt_specs import DbtSpecs, get_node, is_asset_node, load_manifest
    from floe.orchestration.runner import plan_run

    compiled = open_compiled_project(project / ".floe" / "artifacts.json")
    plan = plan_run(compiled, select=select, exclude=exclude, state=state, job=job)
    specs = DbtSpecs(load_manifest(compiled.manifest_path))
    manifest = specs.manifest
    by_key = {specs.key(uid): uid for uid in manifest["nodes"] if is_asset_node(get_node(manifest, uid))}
    by_check = {specs.check_key(uid): uid for uid in manifest["nodes"] if uid.startswith("test.")}
    every_test = {uid for uid in manifest["nodes"] if uid.startswith("test.")}
    assert None not in by_check and len(by_check) == len(every_test), "every test of this project is a check"
    layer = plan.job_def.asset_layer  # the job, narrowed to the run's assets and checks
    assets = plan.asset_selection if plan.asset_selection is not None else layer.executable_asset_keys
    return {by_key[key] for key in assets} | {by_check[key] for key in layer.asset_graph.asset_check_keys}


SELECTIONS = [
    ("stg_orders", None),
    ("path:models/staging", None),
    ("path:models/marts/customer_revenue.sql", None),
    ("path:seeds", None),
    ("test_type:generic", None),
    ("test_type:singular", None),
    ("test_name:unique", None),
    ("test_name:not_null", "resource_type:seed"),
    ("resource_type:test", None),
    ("resource_type:seed resource_type:snapshot", None),
    (None, "resource_type:seed"),
    ("config.materialized:table", None),
    ("config.materialized:incremental", None),
    ("+customer_revenue", None),
    ("stg_customers+", None),
    ("@stg_orders", None),
    ("1+int_customer_orders+1", None),
    ("tag:staging tag:finance", None),
    ("tag:finance,config.materialized:table", None),
    ("path:models,resource_type:model", "tag:daily"),
    ("+customer_revenue", "stg_orders"),
    ("marts", "resource_type:test"),
]


STATE_SELECTIONS = [
    ("state:modified", None),
    ("state:modified+", None),
    ("state:modified+", "resource_type:test"),
    ("state:modified.body", None),
    ("state:modified+,tag:finance", None),
]


@pytest.mark.parametrize("fast_path", ["1", "0"], ids=["fast", "stock"])
@pytest.mark.parametrize(("select", "exclude"), SELECTIONS)
def test_selection_equals_dbt_ls(project: Path, dbt_ls: dict[Case, set[str]], select: str | None,
                                 exclude: str | None, fast_path: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """On the fast path the selector reads a light manifest; off it, dbt's full one: both are dbt's answer."""
    from floe.orchestration import dbt_selection, fastpath

    monkeypatch.setenv(fastpath.SWITCH_ENV, fast_path)
    monkeypatch.setattr(dbt_selection, "_evaluated", {})
    fastpath.reset()
    monkeypatch.setenv("FLOE_PROJECT_DIR", str(project))
    monkeypatch.chdir(project.parent / "elsewhere")  # neither the floe project nor the dbt project
    expected = dbt_ls[select, exclude, None]
    assert expected, "a selection that selects nothing proves nothing"
    assert _floe_unique_ids(project, select, exclude) == expected


@pytest.mark.parametrize(("select", "exclude"), STATE_SELECTIONS)
def test_state_selection_equals_dbt_ls(project: Path, dbt_ls: dict[Case, set[str]], select: str,
                                       exclude: str | None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOE_PROJECT_DIR", str(project))
    monkeypatch.chdir(project.parent / "elsewhere")
    expected = dbt_ls[select, exclude, project.parent / "state"]
    assert expected, "the edit of stg_orders is a modification"
    assert _floe_unique_ids(project, select, exclude, Path("..") / "state") == expected


def test_job_selection_resolves_paths_against_the_dbt_project(project: Path, dbt_ls: dict[Case, set[str]],
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FLOE_PROJECT_DIR", str(project))
    monkeypatch.chdir(project.parent / "elsewhere")
    assert _floe_unique_ids(project, None, None, job="marts_by_path") == dbt_ls["path:models/marts", None, None]


def _outcome(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr[-3000:]
    document: dict[str, Any] = json.loads(result.stdout)
    return document


def _dbt_args(project: Path, run_id: str) -> dict[str, Any]:
    """The arguments dbt recorded for the run's dbt step (its target folder's run_results.json)."""
    [folder] = (project / ".floe" / "dbt" / "target").glob(f"dbt_models-{run_id[:7]}-*")
    args: dict[str, Any] = json.loads((folder / "run_results.json").read_text())["args"]
    return args


@pytest.mark.parametrize("fast_path", ["1", "0"], ids=["fast", "stock"])
def test_run_of_a_path_from_another_folder_builds_exactly_it(built: Path, dbt_ls: dict[Case, set[str]],
                                                             fast_path: str) -> None:
    outcome = _outcome(_floe("run", "--select", "path:models/staging", "--json", cwd=built.parent / "elsewhere",
                             project=built, env={"FLOE_FAST_PATH": fast_path}))
    assert {node["unique_id"] for node in outcome["nodes"]} == dbt_ls["path:models/staging", None, None]
    assert {node["status"] for node in outcome["nodes"]} <= {"success", "pass"}


def test_dbt_gets_the_selection_as_written(built: Path, dbt_ls: dict[Case, set[str]]) -> None:
    result = _floe("run", "--exclude", "resource_type:seed", "--json", cwd=built.parent / "elsewhere", project=built)
    outcome = _outcome(result)
    assert {node["unique_id"] for node in outcome["nodes"]} == dbt_ls[None, "resource_type:seed", None]
    args = _dbt_args(built, outcome["run_id"])
    assert args["exclude"] == ["resource_type:seed"]
    assert not args.get("select")


@pytest.mark.parametrize("fast_path", ["1", "0"], ids=["fast", "stock"])
def test_selected_tests_run_alone_as_checks(built: Path, dbt_ls: dict[Case, set[str]], fast_path: str) -> None:
    outcome = _outcome(_floe("run", "--select", "test_type:generic", "--json", cwd=built.parent / "elsewhere",
                             project=built, env={"FLOE_FAST_PATH": fast_path}))
    ran = {node["unique_id"] for node in outcome["nodes"]}
    assert ran == dbt_ls["test_type:generic", None, None]
    assert all(uid.startswith("test.") for uid in ran)
    assert {node["status"] for node in outcome["nodes"]} == {"pass"}
    if fast_path == "1":
        assert _dbt_args(built, outcome["run_id"])["select"] == ["test_type:generic"]


def test_state_modified_with_defer(built: Path, dbt_ls: dict[Case, set[str]]) -> None:
    elsewhere = built.parent / "elsewhere"
    outcome = _outcome(_floe("run", "--select", "state:modified+", "--state", "../state", "--defer", "--json",
                             cwd=elsewhere, project=built))
    ran = {node["unique_id"] for node in outcome["nodes"]}
    assert ran == dbt_ls["state:modified+", None, built.parent / "state"]
    assert "model.shop.stg_customers" not in ran
    args = _dbt_args(built, outcome["run_id"])
    assert args["select"] == ["state:modified+"]
    assert args["defer"] is True
    assert Path(args["state"]) == (built.parent / "state").resolve()


@pytest.mark.parametrize(("args", "says"), [
    (("--select", "state:modified"), "--state PATH"),
    (("--select", "result:error"), "--state PATH"),
    (("--defer",), "--state PATH"),
    (("--state", "../no-such-folder"), "no manifest.json"),
    (("--state", "../state", "--favor-state"), "--defer"),
    (("--select", "no_such_method:x"), "no_such_method"),
])
def test_selection_mistakes_are_user_errors(project: Path, args: tuple[str, ...], says: str) -> None:
    result = _floe("run", *args, cwd=project.parent / "elsewhere", project=project)
    assert result.returncode == 1, result.stderr[-3000:]
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_whole_run_with_state_and_defer_keeps_the_early_dbt(built: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--state/--defer are part of the command floe starts before the run: the step takes that process."""
    from floe.contract.project import open_compiled_project
    from floe.orchestration.fastpath import dbt_step
    from floe.orchestration.instance import open_instance
    from floe.orchestration.runner import run_pipeline

    monkeypatch.setenv("FLOE_PROJECT_DIR", str(built))
    monkeypatch.chdir(built.parent / "elsewhere")
    compiled = open_compiled_project(built / ".floe" / "artifacts.json")
    outcome = run_pipeline(compiled, state=Path("../state"), defer=True)
    assert outcome.success, outcome.errors
    messages = [entry.user_message for entry in open_instance(compiled).all_logs(outcome.run_id)]
    assert any(dbt_step.STARTED_BEFORE_RUN in message for message in messages)
    assert not any(dbt_step.COMMAND_DIFFERS in message for message in messages)
    args = _dbt_args(built, outcome.run_id)
    assert args["defer"] is True
    assert Path(args["state"]) == (built.parent / "state").resolve()


def test_a_users_indirect_selection_does_not_split_dbt_from_dagster(built: Path, dbt_ls: dict[Case, set[str]]) -> None:
    """floe selects tests eagerly, dbt's default; a cautious DBT_INDIRECT_SELECTION in the shell
    would make dbt skip the relationship test Dagster expects a result for: dbt is told eager."""
    outcome = _outcome(_floe("run", "--select", "stg_orders", "--json", cwd=built.parent / "elsewhere",
                             project=built, env={"DBT_INDIRECT_SELECTION": "cautious"}))
    ran = {node["unique_id"] for node in outcome["nodes"]}
    assert ran == dbt_ls["stg_orders", None, None]
    assert any(uid.startswith("test.shop.relationships_stg_orders") for uid in ran)
    args = _dbt_args(built, outcome["run_id"])
    assert (args["select"], args["indirect_selection"]) == (["stg_orders"], "eager")
