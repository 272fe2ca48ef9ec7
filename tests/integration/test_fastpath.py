"""The fence around Dagster's and dagster-dbt's private code holds on the installed versions.

Every method floe overrides or patches, every private name it imports, with the parameters it
expects, is listed in ``floe.orchestration.fastpath.seams``; these tests fail when an upgrade
moves one, and show that the check and the gate notice what moved instead of running on. With
the fast path off (the switch, or an untested version) a real run on stock parts builds what
the fast path builds.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from floe.orchestration import fastpath
from floe.orchestration.fastpath import seams

pytestmark = pytest.mark.integration

SRC = Path(fastpath.__file__).resolve().parents[2]
FENCE = Path(fastpath.__file__).resolve().parent
GOLDEN_ARTIFACTS = Path(__file__).resolve().parents[1] / "fixtures" / "artifacts" / "v1_minimal.json"


@pytest.fixture
def compiled_minimal(tmp_path: Path) -> object:
    """The golden v1 artifacts (SQLite orchestrator storage) as a compiled project in tmp_path."""
    from floe.contract.io import load_artifacts
    from floe.contract.project import CompiledProject

    return CompiledProject(load_artifacts(GOLDEN_ARTIFACTS), tmp_path / ".floe" / "artifacts.json", tmp_path)


def test_every_seam_holds_on_the_installed_dagster_and_dagster_dbt() -> None:
    assert seams.problems() == []


def test_the_installed_versions_are_the_tested_ones() -> None:
    state = fastpath.fast_path()
    assert state.enabled, state.reason


def test_a_renamed_method_and_a_changed_signature_are_found() -> None:
    renamed = seams.Seam("dagster", "dagster._core.execution.context.system",
                         "StepExecutionContext.get_output_asset_keys_v2", ("self",))
    reshaped = seams.Seam("dagster", "dagster._core.execution.context.data_version_cache",
                          "DataVersionCache._fetch_asset_records", ("self", "keys"))
    gone = seams.Seam("dagster", "dagster._core.no_such_module", "Thing")
    assert seams._check(renamed) == "no longer exists"
    assert seams._check(reshaped) == "takes (self, asset_keys), floe expects (self, keys)"
    assert seams._check(gone).startswith("cannot be imported")


def test_a_moved_seam_turns_the_fast_path_off_and_says_why_once(monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    moved = seams.Seam("dagster", "dagster._core.execution.context.system", "StepExecutionContext.gone", ("self",))
    monkeypatch.setattr(seams, "SEAMS", (*seams.SEAMS, moved))
    monkeypatch.setattr(seams, "_verified", {})
    with caplog.at_level("WARNING", logger="floe.fastpath"):
        assert seams.verify("dagster") is False
        assert seams.verify("dagster") is False
    state = fastpath.fast_path()
    assert not state.enabled and state.fell_back
    assert "StepExecutionContext.gone no longer exists" in (state.reason or "")
    assert len([r for r in caplog.records if "fast path" in r.getMessage()]) == 1


def test_an_untested_version_means_stock_parts_said_once(monkeypatch: pytest.MonkeyPatch,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setitem(fastpath.TESTED, "dagster", ((1, 12), (1, 13)))
    fastpath.reset()
    with caplog.at_level("WARNING", logger="floe.fastpath"):
        first, second = fastpath.fast_path(), fastpath.fast_path()
    assert first is second and not first.enabled and first.fell_back
    assert "dagster 1.13 is outside the versions" in (first.reason or "")
    assert len(caplog.records) == 1


@pytest.mark.parametrize("value", ["0", "false", "off"])
def test_the_switch_turns_everything_off_without_a_warning(monkeypatch: pytest.MonkeyPatch, value: str,
                                                          caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setenv(fastpath.SWITCH_ENV, value)
    fastpath.reset()
    with caplog.at_level("WARNING", logger="floe.fastpath"):
        state = fastpath.fast_path()
    assert not state.enabled and not state.fell_back
    assert caplog.records == []
    assert seams.verify("dagster") is False, "no seam is used while the switch is off"


def test_the_instance_names_floes_storage_only_on_the_fast_path(compiled_minimal: object,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    from floe.orchestration.instance import instance_config

    fast = instance_config(compiled_minimal)  # type: ignore[arg-type]
    monkeypatch.setenv(fastpath.SWITCH_ENV, "0")
    fastpath.reset()
    stock = instance_config(compiled_minimal)  # type: ignore[arg-type]
    assert fast["storage"]["custom"]["module"] == "floe.orchestration.fastpath.sqlite_storage"  # type: ignore[index]
    assert set(stock["storage"]) == {"sqlite"}  # type: ignore[arg-type]
    assert stock["storage"]["sqlite"]["base_dir"] == fast["storage"]["custom"]["config"]["base_dir"]  # type: ignore[index]


def test_no_module_outside_the_fence_names_dagster_private_code() -> None:
    """Lint bans the imports (banned-api); this also catches module paths written as strings."""
    private = re.compile(r"\bdagster(?:_dbt)?\._[a-z]")
    offenders = [str(path.relative_to(SRC)) for path in SRC.rglob("*.py")
                 if FENCE not in path.parents and private.search(path.read_text(encoding="utf-8"))]
    assert offenders == []


def _run_json(floe: Any, root: Path, **env: str) -> dict[str, Any]:
    done = floe("run", "--json", cwd=root, env={"FLOE_PROJECT_DIR": str(root), **env})
    assert done.returncode == 0, done.stderr
    document: dict[str, Any] = json.loads(done.stdout)
    return document


def _outcomes(document: dict[str, Any]) -> list[tuple[str, str, Any]]:
    return sorted((n["unique_id"], n["status"], n["rows"]) for n in document["nodes"])


def test_stock_parts_build_what_the_fast_path_builds(floe: Any, compiled_project: Path, tmp_path: Path) -> None:
    """FLOE_FAST_PATH=0: Dagster's own storage, dagster-dbt's own @dbt_assets and cli(), plain dbt."""
    import yaml

    stock_root = tmp_path / "stock"
    shutil.copytree(compiled_project, stock_root)
    fast = _run_json(floe, compiled_project)
    stock = _run_json(floe, stock_root, FLOE_FAST_PATH="0")
    assert _outcomes(stock) == _outcomes(fast)
    assert fast["warnings"] == stock["warnings"] == [], "switching it off is the user's choice: no warning"
    home = stock_root / ".floe" / "dagster"
    assert set(yaml.safe_load((home / "dagster.yaml").read_text())["storage"]) == {"sqlite"}
    log = Path(stock["log_path"]).read_text(encoding="utf-8", errors="replace")
    assert "floe-dbt" not in log and "floe.orchestration.fastpath" not in log
    # A subset too: dagster-dbt's own cli(context=...) computes the selection.
    done = floe("run", "--json", "--select", "stg_orders", cwd=stock_root,
                env={"FLOE_PROJECT_DIR": str(stock_root), "FLOE_FAST_PATH": "0"})
    assert done.returncode == 0, done.stderr
    models = {n["name"] for n in json.loads(done.stdout)["nodes"] if n["resource_type"] == "model"}
    assert models == {"stg_orders"}


def test_a_run_on_an_untested_version_uses_stock_parts_and_says_so(compiled_project: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from floe.contract.project import open_compiled_project
    from floe.orchestration.runner import run_pipeline

    monkeypatch.setitem(fastpath.TESTED, "dagster-dbt", ((0, 28), (0, 29)))
    monkeypatch.setenv("FLOE_PROJECT_DIR", str(compiled_project))
    monkeypatch.chdir(compiled_project)
    fastpath.reset()
    outcome = run_pipeline(open_compiled_project(compiled_project / ".floe" / "artifacts.json"))
    assert outcome.success, outcome.errors
    notices = [w for w in outcome.warnings if "outside the versions floe's fast path was tested with" in w]
    assert len(notices) == 1, outcome.warnings
    stored = (compiled_project / ".floe" / "dagster" / "dagster.yaml").read_text()
    assert "FloeSqliteStorage" not in stored


def test_a_moved_dagster_dbt_seam_stops_the_step_with_its_name_and_the_switch(compiled_project: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """dagster-dbt's seams are checked when the step imports it: the step stops, never half-patched."""
    from floe.contract.project import open_compiled_project
    from floe.orchestration.runner import run_pipeline

    moved = seams.Seam(seams.DAGSTER_DBT, "dagster_dbt", "DbtCliResource._renamed_upstream", ("self",))
    monkeypatch.setattr(seams, "SEAMS", (*seams.SEAMS, moved))
    monkeypatch.setenv("FLOE_PROJECT_DIR", str(compiled_project))
    monkeypatch.chdir(compiled_project)
    compiled = open_compiled_project(compiled_project / ".floe" / "artifacts.json")
    outcome = run_pipeline(compiled)
    assert not outcome.success
    assert any("DbtCliResource._renamed_upstream no longer exists" in e and "FLOE_FAST_PATH=0" in e
               for e in outcome.errors), outcome.errors
    # The rest of the process runs on stock parts: the next run succeeds.
    again = run_pipeline(compiled)
    assert again.success, again.errors
    assert not fastpath.enabled()
