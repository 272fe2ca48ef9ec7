"""The fast path's early launch runs exactly what dagster-dbt's ``DbtCliResource.cli`` would have run.

dagster-dbt's own ``cli()`` is called for real with ``subprocess.Popen`` recorded; floe's
``cli_command`` must give the same command line, environment and working directory (up to the
random suffix of the target folder). Whole-project runs go through the early launch, subsets
through dagster-dbt's ``cli()``, and both build the same nodes.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

SUFFIX = re.compile(r"-[0-9a-f]{7}$")


def _normalized(value: str) -> str:
    return SUFFIX.sub("-XXXXXXX", value)


@pytest.fixture
def location(compiled_project: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    from floe.contract.project import open_compiled_project
    from floe.orchestration.builder import build_code_location

    monkeypatch.setenv("FLOE_PROJECT_DIR", str(compiled_project))
    monkeypatch.delenv("DBT_TARGET_PATH", raising=False)
    compiled = open_compiled_project(compiled_project / ".floe" / "artifacts.json")
    return compiled, build_code_location(compiled)


@pytest.mark.parametrize("args", [["build"], ["build", "--full-refresh"], ["build", "--vars", '{"min_amount":10}']])
def test_the_command_equals_dagster_dbts(location: Any, monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    import dagster_dbt.core.dbt_cli_invocation as invocation_module
    from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings

    from floe.orchestration.dbt_specs import load_manifest
    from floe.orchestration.fastpath.dbt_step import SELECT_TAG, cli_command

    compiled, code = location
    dbt = code.defs.resources["dbt"]
    op = code.dbt_assets.op
    run_id = "0123456789abcdef"
    recorded: dict[str, Any] = {}
    real_popen = subprocess.Popen

    def recording_popen(*popen_args: Any, **kwargs: Any) -> subprocess.Popen[bytes]:
        recorded.update(args=kwargs.get("args", popen_args[0] if popen_args else None), env=kwargs["env"],
                        cwd=kwargs["cwd"])
        return real_popen(["true"], stdout=subprocess.PIPE)

    monkeypatch.setattr(invocation_module.subprocess, "Popen", recording_popen)
    cli = dbt.cli_resource()
    # The step's usual path: dagster-dbt's default selection for a step that is not a subset.
    selection = ["--select", op.tags[SELECT_TAG]]
    # What _get_unique_target_path gives the step: under $DBT_TARGET_PATH (the code location sets it).
    target = Path(os.environ.get("DBT_TARGET_PATH", "target")) / f"{op.name}-{run_id[:7]}-abcdef0"
    invocation = cli.cli([*args, *selection], manifest=load_manifest(compiled.manifest_path),
                         dagster_dbt_translator=DagsterDbtTranslator(
                             settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
                         target_path=target)
    invocation.process.wait()
    command, env, cwd, target_path = cli_command(cli.dbt_executable, dbt, args, op.tags, op.name, run_id)

    assert [_normalized(a) for a in command] == [_normalized(a) for a in recorded["args"]]
    assert {k: _normalized(v) for k, v in env.items()} == {k: _normalized(v) for k, v in recorded["env"].items()}
    assert Path(cwd) == Path(recorded["cwd"])
    assert _normalized(str(target_path)) == _normalized(str(invocation.target_path))


def test_whole_runs_launch_early_and_subsets_do_not(compiled_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from floe.contract.project import open_compiled_project
    from floe.orchestration.fastpath import dbt_step as fast_dbt_step
    from floe.orchestration.runner import run_pipeline

    launched: list[bool] = []
    original = fast_dbt_step.launch_early

    def recording(*args: Any, **kwargs: Any) -> Any:
        early = original(*args, **kwargs)
        launched.append(early is not None)
        return early

    monkeypatch.setattr(fast_dbt_step, "launch_early", recording)
    monkeypatch.setenv("FLOE_PROJECT_DIR", str(compiled_project))
    monkeypatch.chdir(compiled_project)
    compiled = open_compiled_project(compiled_project / ".floe" / "artifacts.json")
    whole = run_pipeline(compiled)
    subset = run_pipeline(compiled, select="stg_orders")
    assert whole.success and subset.success
    assert launched == [True, False]
    # The whole run's dbt was the one started before the run was set up; the subset's was not.
    assert any(fast_dbt_step.STARTED_BEFORE_RUN in m for m in _run_messages(compiled, whole.run_id))
    assert not any(fast_dbt_step.STARTED_BEFORE_RUN in m for m in _run_messages(compiled, subset.run_id))
    assert {n.name for n in subset.nodes if n.resource_type == "model"} == {"stg_orders"}
    assert {n.name for n in whole.nodes} > {n.name for n in subset.nodes}


def _run_messages(compiled: Any, run_id: str) -> list[str]:
    from floe.orchestration.instance import open_instance

    return [entry.user_message for entry in open_instance(compiled).all_logs(run_id)]


def test_an_early_command_that_differs_is_replaced(compiled_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If the environment changes between the early start and the step, the step's command wins."""
    from floe.contract.project import open_compiled_project
    from floe.orchestration import runner
    from floe.orchestration.fastpath.dbt_step import COMMAND_DIFFERS, STARTED_BEFORE_RUN

    original = runner._execute

    def changing_environment(*args: Any, **kwargs: Any) -> Any:
        monkeypatch.setenv("FLOE_TEST_CHANGED_AFTER_EARLY_LAUNCH", "1")
        return original(*args, **kwargs)

    monkeypatch.setattr(runner, "_execute", changing_environment)
    monkeypatch.setenv("FLOE_PROJECT_DIR", str(compiled_project))
    monkeypatch.chdir(compiled_project)
    compiled = open_compiled_project(compiled_project / ".floe" / "artifacts.json")
    outcome = runner.run_pipeline(compiled)
    messages = _run_messages(compiled, outcome.run_id)
    assert outcome.success, outcome.errors
    assert any(COMMAND_DIFFERS in m for m in messages)
    assert not any(STARTED_BEFORE_RUN in m for m in messages)
    models = {n.name for n in outcome.nodes if n.resource_type == "model"}
    assert models == {"stg_orders", "stg_customers", "customer_revenue"}


def test_an_early_dbt_no_step_takes_is_interrupted(compiled_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from floe.contract.project import open_compiled_project
    from floe.orchestration.builder import build_code_location
    from floe.orchestration.dbt_run_args import dbt_build_args
    from floe.orchestration.dbt_worker.start import DbtWorker
    from floe.orchestration.fastpath import dbt_step as fast_dbt_step

    monkeypatch.setenv("FLOE_PROJECT_DIR", str(compiled_project))
    monkeypatch.chdir(compiled_project)
    compiled = open_compiled_project(compiled_project / ".floe" / "artifacts.json")
    location = build_code_location(compiled)
    job_def = location.defs.resolve_job_def("all")
    args = dbt_build_args(full_refresh=False, dbt_vars={})
    with DbtWorker(compiled.artifacts.environment.compute.type):
        with fast_dbt_step.early_launch_for_run(compiled, job_def, location.dbt, "0123456789abcdef", args,
                                                subset=False) as early:
            assert early is not None
            assert early.process.poll() is None  # dbt is running, waiting for its step
        assert early.process.returncode is not None  # interrupted when the block ended without a step
        assert not fast_dbt_step._waiting  # nothing left for a step to take
        with fast_dbt_step.early_launch_for_run(compiled, job_def, location.dbt, "fedcba9876543210", args,
                                                subset=True) as none:
            assert none is None  # a subset of the job: the step's selection decides, nothing starts early
