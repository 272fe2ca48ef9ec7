"""Where a project is, and the paths on disk platform.yaml names for the chosen environment."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe.compiler.freshness import ensure_compiled
from floe.errors import SpecError, SpecIssue
from floe.spec.project import load_project, project_root, spec_present

PIPELINE = "name: shop\ntransforms:\n  - type: dbt\n    path: ./dbt\n"
PLATFORM = "environments:\n  dev:\n    compute:\n      type: duckdb\n"


def _project(folder: Path, platform: str = PLATFORM) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "floe.yaml").write_text(PIPELINE, encoding="utf-8")
    (folder / "platform.yaml").write_text(platform, encoding="utf-8")
    (folder / "dbt").mkdir()
    (folder / "dbt" / "dbt_project.yml").write_text("name: shop\n", encoding="utf-8")
    return folder


def _issues(root: Path) -> list[SpecIssue]:
    with pytest.raises(SpecError) as caught:
        load_project(root / "floe.yaml", environ={})
    return caught.value.issues


@pytest.fixture(autouse=True)
def _no_platform_override(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv("FLOE_PLATFORM_FILE", raising=False)
    monkeypatch.chdir(tmp_path)


# --- a linked floe.yaml -------------------------------------------------------------------


def test_a_linked_floe_yaml_belongs_to_the_folder_it_is_linked_into(tmp_path: Path) -> None:
    """The link's folder is the project: platform.yaml, the dbt path and .floe/ all there."""
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "floe.yaml").write_text(PIPELINE, encoding="utf-8")  # no dbt/ and no platform.yaml here
    project = _project(tmp_path / "team")
    (project / "floe.yaml").unlink()
    (project / "floe.yaml").symlink_to("../shared/floe.yaml")
    loaded = load_project(project / "floe.yaml", environ={})
    assert loaded.root == project.resolve()
    assert loaded.dbt_project_dir == (project / "dbt").resolve()
    assert loaded.platform_path == project / "platform.yaml"
    assert project_root(project / "floe.yaml") == project.resolve()


def test_the_folder_itself_may_be_a_link(tmp_path: Path) -> None:
    project = _project(tmp_path / "real")
    (tmp_path / "alias").symlink_to("real")
    assert project_root(tmp_path / "alias" / "floe.yaml") == project.resolve()


def test_a_relative_floe_yaml_is_rooted_in_the_working_folder(tmp_path: Path) -> None:
    _project(tmp_path)
    assert project_root(Path("floe.yaml")) == tmp_path.resolve()


# --- floe.yaml present but not a file -----------------------------------------------------


def test_spec_present_tells_absent_from_not_a_file(tmp_path: Path) -> None:
    (tmp_path / "folder").mkdir()
    (tmp_path / "dangling").symlink_to("nowhere")
    assert spec_present(tmp_path / "folder") and spec_present(tmp_path / "dangling")
    assert not spec_present(tmp_path / "absent")


def test_a_folder_named_floe_yaml_is_reported_as_a_folder_not_as_missing(tmp_path: Path) -> None:
    (tmp_path / "floe.yaml").mkdir()
    (tmp_path / "platform.yaml").write_text(PLATFORM, encoding="utf-8")
    with pytest.raises(SpecError) as caught:
        ensure_compiled(tmp_path / "floe.yaml")  # what floe run does first
    assert [issue.message for issue in caught.value.issues] == ["is a directory, not a YAML file"]


# --- local paths of the chosen environment ------------------------------------------------


def test_an_empty_duckdb_path_is_refused_in_platform_yaml(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", PLATFORM + '      path: ""\n')
    (issue,) = _issues(project)
    assert (issue.file, issue.line, issue.path) == ("p/platform.yaml", 5, "environments.dev.compute.path")
    assert issue.message == "path must not be empty; give the database file (omit it for .floe/warehouse.duckdb)"


def test_a_duckdb_path_that_is_a_folder_is_refused(tmp_path: Path) -> None:
    project = _project(tmp_path / "p", PLATFORM + "      path: warehouse\n")
    (project / "warehouse").mkdir()
    (issue,) = _issues(project)
    assert (issue.line, issue.path) == (5, "environments.dev.compute.path")
    assert issue.message == "'warehouse' is a folder; DuckDB needs a database file here"


def test_a_sqlite_storage_path_that_is_a_file_is_refused(tmp_path: Path) -> None:
    platform = PLATFORM + "    orchestrator:\n      storage: {type: sqlite, path: state}\n"
    project = _project(tmp_path / "p", platform)
    (project / "state").write_text("not a folder\n", encoding="utf-8")
    (issue,) = _issues(project)
    assert (issue.line, issue.path) == (6, "environments.dev.orchestrator.storage.path")
    assert issue.message == "'state' is a file; Dagster keeps its SQLite storage in a folder here"
    (project / "state").unlink()
    (project / "state").mkdir()
    assert load_project(project / "floe.yaml", environ={}).environment_name == "dev"


def test_an_empty_sqlite_storage_path_is_refused(tmp_path: Path) -> None:
    platform = PLATFORM + "    orchestrator:\n      storage: {type: sqlite, path: ' '}\n"
    (issue,) = _issues(_project(tmp_path / "p", platform))
    assert issue.path == "environments.dev.orchestrator.storage.path"
    assert issue.message == "path must not be empty; give a folder (omit it for .floe/dagster)"


def test_only_the_chosen_environment_is_checked_on_disk(tmp_path: Path) -> None:
    platform = PLATFORM + "  prod:\n    orchestrator:\n      storage: {type: sqlite, path: state}\n"
    project = _project(tmp_path / "p", platform)
    (project / "state").write_text("a file, but prod runs elsewhere\n", encoding="utf-8")
    assert load_project(project / "floe.yaml", environ={}).environment_name == "dev"
