"""Runtime commands run from given artifacts as they are: --artifacts > $FLOE_ARTIFACTS_PATH > compile.

A pod mounts the compiled artifacts and sets $FLOE_ARTIFACTS_PATH, while the image's own
(baked) floe.yaml sits in the working directory. Before, ``floe run`` and ``floe demo run``
ignored the variable and compiled that baked project instead.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from floe.compiler.freshness import runtime_artifacts
from floe.errors import FloeError

# Compiled projects (`dbt parse`) and the floe CLI in a subprocess.
pytestmark = pytest.mark.process

ENV = "FLOE_ARTIFACTS_PATH"


@pytest.fixture
def baked_project(tmp_path: Path) -> Path:
    """Another, uncompiled project: the image's baked one in the working directory."""
    from floe.scaffold import init_project

    return init_project(tmp_path / "baked" / "shop").root


def _fingerprint(folder: Path) -> dict[str, tuple[str, int]]:
    """Content hash and mtime of every file of a folder: what 'untouched' means."""
    return {str(path.relative_to(folder)): (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
            for path in sorted(folder.rglob("*")) if path.is_file()}


def _compile_outputs(folder: Path) -> dict[str, tuple[str, int]]:
    return {name: value for name, value in _fingerprint(folder).items()
            if not name.startswith(RUN_STATE)}


RUN_STATE = ("dbt/target/", "logs/", "dagster/")


def test_the_variable_wins_over_a_floe_yaml_in_the_working_directory(
        compiled_project: Path, baked_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mounted = compiled_project / ".floe" / "artifacts.json"
    before = _fingerprint(mounted.parent)
    monkeypatch.setenv(ENV, str(mounted))
    fresh = runtime_artifacts(baked_project / "floe.yaml")
    assert fresh.artifacts_path == mounted
    assert not fresh.compiled
    assert f"${ENV}" in fresh.reason
    assert not (baked_project / ".floe").exists(), "the baked project was compiled"
    assert _fingerprint(mounted.parent) == before


def test_an_explicit_path_wins_over_the_variable(compiled_project: Path, baked_project: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, str(baked_project / "nowhere" / "artifacts.json"))
    given = compiled_project / ".floe" / "artifacts.json"
    fresh = runtime_artifacts(baked_project / "floe.yaml", artifacts_path=given)
    assert (fresh.artifacts_path, fresh.compiled) == (given, False)
    assert "--artifacts" in fresh.reason


def test_without_given_artifacts_floe_yaml_is_compiled(baked_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV, raising=False)
    fresh = runtime_artifacts(baked_project / "floe.yaml")
    assert fresh.compiled
    assert fresh.artifacts_path == baked_project / ".floe" / "artifacts.json"
    assert fresh.artifacts_path.is_file()


def test_a_missing_mounted_file_is_a_floe_error(baked_project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing = baked_project / "mnt" / "artifacts.json"
    monkeypatch.setenv(ENV, str(missing))
    with pytest.raises(FloeError) as caught:
        runtime_artifacts(baked_project / "floe.yaml")
    assert f"${ENV} {missing}" in caught.value.message
    assert "not found" in caught.value.message
    assert caught.value.hint and "unset it" in caught.value.hint
    assert not (baked_project / ".floe").exists()


def test_an_unreadable_mounted_file_is_a_floe_error(tmp_path: Path, baked_project: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    corrupt = tmp_path / "artifacts.json"
    corrupt.write_text("{not json", encoding="utf-8")
    monkeypatch.setenv(ENV, str(corrupt))
    with pytest.raises(FloeError, match=r"\$FLOE_ARTIFACTS_PATH"):
        runtime_artifacts(baked_project / "floe.yaml")


def test_another_environment_than_the_mounted_one_is_refused(compiled_project: Path, baked_project: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV, str(compiled_project / ".floe" / "artifacts.json"))
    with pytest.raises(FloeError, match="compiled for environment 'dev', not 'prod'"):
        runtime_artifacts(baked_project / "floe.yaml", environment="prod")


@pytest.mark.parametrize("command", [["run"], ["demo", "run"], ["cube", "generate"]])
def test_runtime_commands_exit_1_without_traceback_on_a_missing_mounted_file(
        floe, baked_project: Path, command: list[str]) -> None:
    missing = baked_project / "mnt" / "artifacts.json"
    result = floe(*command, cwd=baked_project, env={ENV: str(missing)})
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert f"${ENV} {missing}" in result.stderr
    assert not (baked_project / ".floe").exists(), "a runtime command compiled the project in the working dir"


@pytest.mark.integration
def test_floe_run_runs_the_mounted_artifacts_and_never_recompiles(floe, compiled_project: Path,
                                                                  baked_project: Path) -> None:
    # The working directory holds another project (the image's baked one); the mounted
    # artifacts are those of compiled_project. A run writes its own state (dbt's target folder,
    # run logs; this minimal project keeps its warehouse and instance in .floe too) and leaves
    # what compile wrote alone.
    mounted = compiled_project / ".floe" / "artifacts.json"
    compile_outputs = _compile_outputs(mounted.parent)
    result = floe("run", "--json", cwd=baked_project, env={ENV: str(mounted)})
    assert result.returncode == 0, result.stderr[-3000:]
    assert "compiled (" not in result.stderr
    assert f"using the compiled artifacts at {mounted}" in result.stderr
    assert not (baked_project / ".floe").exists()
    after = _fingerprint(mounted.parent)
    assert {name: after.get(name) for name in compile_outputs} == compile_outputs
