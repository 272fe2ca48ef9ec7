"""The source hash notices what dbt parses, in a project wrapped where it lives, and nothing else."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe.compiler.hashing import dbt_source_files, source_hash
from tests.support.small_dbt import write_small_dbt_project


def _project(path: Path, extra: str = "") -> Path:
    return write_small_dbt_project(path, extra=extra)


def _hash(project: Path) -> str:
    return source_hash(spec_files=[], dbt_project_dir=project, environment="dev", variables=[], environ={})


@pytest.mark.parametrize("edit", [
    "models/orders.sql", "models/logs/events.sql", "packages.yml", "dependencies.yml", "package-lock.yml",
    "macros/m.sql", "seeds/s.csv", "snapshots/s.sql", "tests/t.sql", "dbt_project.yml", "selectors.yml",
])
def test_what_dbt_reads_changes_the_hash(tmp_path: Path, edit: str) -> None:
    project = _project(tmp_path / "shop")
    before = _hash(project)
    path = project / edit
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text((path.read_text() if path.exists() else "") + "\n-- edited\n")
    assert _hash(project) != before


@pytest.mark.parametrize("output", [
    "target/manifest.json", "logs/dbt.log", "dbt_packages/x/dbt_project.yml", "shop.duckdb", ".floe/artifacts.json",
    "venv/lib/x.py", "notes.md",
])
def test_outputs_and_unrelated_files_do_not(tmp_path: Path, output: str) -> None:
    project = _project(tmp_path / "shop")
    before = _hash(project)
    path = project / output
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("anything")
    assert _hash(project) == before


def test_configured_source_folders_are_the_ones_hashed(tmp_path: Path) -> None:
    project = _project(tmp_path / "shop", "model-paths: [transform]\n")
    (project / "transform").mkdir()
    (project / "transform" / "a.sql").write_text("select 1")
    files = {p.relative_to(project).as_posix() for p in dbt_source_files(project)}
    assert "transform/a.sql" in files
    assert "models/orders.sql" not in files


def test_unreadable_source_folders_hash_the_whole_project(tmp_path: Path) -> None:
    project = _project(tmp_path / "shop", "model-paths: [\"{{ env_var('MODELS') }}\"]\n")
    (project / "target").mkdir()
    (project / "target" / "x.json").write_text("{}")
    files = {p.relative_to(project).as_posix() for p in dbt_source_files(project)}
    assert {"models/orders.sql", "models/logs/events.sql", "dbt_project.yml"} <= files
    assert "target/x.json" not in files


def test_local_package_sources_count(tmp_path: Path) -> None:
    common = _project(tmp_path / "common")
    project = _project(tmp_path / "shop")
    (project / "packages.yml").write_text("packages:\n  - local: ../common\n")
    before = _hash(project)
    (common / "models" / "orders.sql").write_text("select 3 as id")
    assert _hash(project) != before


def test_a_dangling_symlink_does_not_break_the_hash(tmp_path: Path) -> None:
    project = _project(tmp_path / "shop")
    (project / "models" / "gone.sql").symlink_to(tmp_path / "nowhere.sql")
    before = _hash(project)
    (tmp_path / "nowhere.sql").write_text("select 4")
    assert _hash(project) != before
