"""Both spec files together: environments, the dbt project path, names, references, cron, zones."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from floe.errors import SpecError, SpecIssue
from floe.spec.project import load_project

PIPELINE = """\
name: shop
transforms:
  - type: dbt
    path: ./dbt
jobs:
  - name: marts
    select: "+marts"
schedules:
  - name: marts_daily
    job: marts
    cron: "0 6 * * *"
    timezone: Europe/Berlin
"""

PLATFORM = """\
environments:
  dev:
    compute:
      type: duckdb
  prod:
    compute:
      type: duckdb
      threads: 8
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A valid project in the current directory; no dbt needed, only dbt_project.yml."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("FLOE_PLATFORM_FILE", raising=False)
    (tmp_path / "floe.yaml").write_text(PIPELINE, encoding="utf-8")
    (tmp_path / "platform.yaml").write_text(PLATFORM, encoding="utf-8")
    (tmp_path / "dbt").mkdir()
    (tmp_path / "dbt" / "dbt_project.yml").write_text("name: shop\n", encoding="utf-8")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, old
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _issues(root: Path, *, environment: str | None = None, environ: dict[str, str] | None = None,
            platform_path: Path | None = None) -> list[SpecIssue]:
    with pytest.raises(SpecError) as caught:
        load_project(root / "floe.yaml", environment=environment, environ=environ or {},
                     platform_path=platform_path)
    return caught.value.issues


def _one(root: Path, **kwargs: Any) -> SpecIssue:
    issues = _issues(root, **kwargs)
    assert len(issues) == 1, issues
    return issues[0]


# --- a valid project ----------------------------------------------------------------------


def test_valid_project(project: Path) -> None:
    loaded = load_project(project / "floe.yaml", environ={})
    assert loaded.environment_name == "dev"
    assert loaded.environment.compute.type == "duckdb"
    assert loaded.root == project.resolve()
    assert loaded.dbt_project_dir == (project / "dbt").resolve()
    assert loaded.platform_path == project / "platform.yaml"
    assert loaded.variables == frozenset()


def test_variables_from_both_files_are_collected(project: Path) -> None:
    _edit(project / "floe.yaml", "path: ./dbt", "path: ${DBT_DIR:-./dbt}")
    _edit(project / "platform.yaml", "threads: 8", "threads: ${THREADS}")
    loaded = load_project(project / "floe.yaml", environ={"THREADS": "2"})
    assert loaded.variables == frozenset({"DBT_DIR", "THREADS"})


# --- environments -------------------------------------------------------------------------


def test_environment_is_chosen_by_argument_then_floe_env(project: Path) -> None:
    assert load_project(project / "floe.yaml", environment="prod", environ={}).environment_name == "prod"
    assert load_project(project / "floe.yaml", environ={"FLOE_ENV": "prod"}).environment_name == "prod"
    chosen = load_project(project / "floe.yaml", environment="dev", environ={"FLOE_ENV": "prod"})
    assert chosen.environment_name == "dev"


def test_single_environment_is_the_default_whatever_its_name(project: Path) -> None:
    (project / "platform.yaml").write_text("environments:\n  local: {}\n", encoding="utf-8")
    assert load_project(project / "floe.yaml", environ={}).environment_name == "local"


def test_unknown_environment(project: Path) -> None:
    issue = _one(project, environment="nope")
    assert issue == SpecIssue(
        "platform.yaml", 1, 1, "environments", "environment 'nope' is not defined",
        "defined environments: dev, prod; pass --env NAME or add 'nope:'",
    )


def test_several_environments_without_dev_need_a_choice(project: Path) -> None:
    (project / "platform.yaml").write_text("environments:\n  staging: {}\n  prod: {}\n", encoding="utf-8")
    issue = _one(project)
    assert issue.message == "environment 'dev' is not defined"
    assert issue.hint == "defined environments: staging, prod; pass --env NAME or add 'dev:'"


def test_unknown_floe_env_is_reported(project: Path) -> None:
    assert _one(project, environ={"FLOE_ENV": "qa"}).message == "environment 'qa' is not defined"


# --- the dbt project path -------------------------------------------------------------------


def test_missing_dbt_directory(project: Path) -> None:
    _edit(project / "floe.yaml", "path: ./dbt", "path: ./transform")
    assert _one(project) == SpecIssue(
        "floe.yaml", 4, 11, "transforms[0].path", "directory './transform' does not exist",
        "create it, or run 'floe init NAME --from-dbt PATH'",
    )


def test_dbt_path_that_is_a_file(project: Path) -> None:
    (project / "dbt.txt").write_text("", encoding="utf-8")
    _edit(project / "floe.yaml", "path: ./dbt", "path: dbt.txt")
    issue = _one(project)
    assert (issue.line, issue.column, issue.message) == (4, 11, "'dbt.txt' is a file, not a directory")


def test_dbt_directory_without_dbt_project_yml(project: Path) -> None:
    (project / "dbt" / "dbt_project.yml").unlink()
    assert _one(project) == SpecIssue(
        "floe.yaml", 4, 11, "transforms[0].path", "'./dbt' has no dbt_project.yml",
        "point 'path' at the folder that holds dbt_project.yml",
    )


@pytest.mark.parametrize("path", ["/tmp", "/"])
def test_absolute_dbt_path_is_refused(project: Path, path: str) -> None:
    _edit(project / "floe.yaml", "path: ./dbt", f"path: {path}")
    issue = _one(project)
    assert (issue.path, issue.message) == ("transforms[0].path", f"path '{path}' is absolute")
    assert "relative to floe.yaml" in (issue.hint or "")


@pytest.mark.parametrize("path", ["../elsewhere", "dbt/../../elsewhere"])
def test_dbt_project_beside_the_floe_project(project: Path, path: str) -> None:
    outside = project.parent / "elsewhere"
    outside.mkdir(exist_ok=True)
    (outside / "dbt_project.yml").write_text("name: x\n", encoding="utf-8")
    _edit(project / "floe.yaml", "path: ./dbt", f"path: {path}")
    assert load_project(project / "floe.yaml", environ={}).dbt_project_dir == outside.resolve()


def test_missing_dbt_project_outside_says_where_it_must_be(project: Path) -> None:
    _edit(project / "floe.yaml", "path: ./dbt", "path: ../gone")
    issue = _one(project)
    assert issue.message == "directory '../gone' does not exist"
    assert "outside the folder of floe.yaml" in (issue.hint or "")


def test_dbt_path_through_a_symlink_that_leaves_the_project(project: Path) -> None:
    outside = project.parent / "outside_dbt"
    outside.mkdir()
    (outside / "dbt_project.yml").write_text("name: x\n", encoding="utf-8")
    (project / "linked").symlink_to(outside, target_is_directory=True)
    _edit(project / "floe.yaml", "path: ./dbt", "path: linked")
    assert load_project(project / "floe.yaml", environ={}).dbt_project_dir == outside.resolve()


def test_dbt_path_may_be_nested_and_unnormalised(project: Path) -> None:
    (project / "a" / "b").mkdir(parents=True)
    (project / "a" / "b" / "dbt_project.yml").write_text("name: x\n", encoding="utf-8")
    _edit(project / "floe.yaml", "path: ./dbt", "path: ./dbt/../a/b/")
    assert load_project(project / "floe.yaml", environ={}).dbt_project_dir == (project / "a" / "b").resolve()


@pytest.mark.parametrize(("path", "reason"), [
    ('"dbt\\0x"', "the text contains a NUL character"),  # refused by the loader, for every field
    ("a" * 5000, "is not usable: File name too long"),
])
def test_unusable_dbt_path_is_an_issue_not_a_crash(project: Path, path: str, reason: str) -> None:
    _edit(project / "floe.yaml", "path: ./dbt", f"path: {path}")
    issue = _one(project)
    assert (issue.line, issue.column, issue.path) == (4, 11, "transforms[0].path")
    assert reason in issue.message


# --- names and references -------------------------------------------------------------------


def test_job_declared_twice(project: Path) -> None:
    _edit(project / "floe.yaml", "jobs:\n", "jobs:\n  - name: marts\n")
    assert _one(project) == SpecIssue("floe.yaml", 7, 11, "jobs[1].name", "job 'marts' is declared twice",
                                      "the first is jobs[0]; rename one")


@pytest.mark.parametrize("name", ["marts", "all"])
def test_schedule_name_clashing_with_a_job(project: Path, name: str) -> None:
    _edit(project / "floe.yaml", "  - name: marts_daily", f"  - name: {name}")
    assert _one(project) == SpecIssue("floe.yaml", 9, 11, "schedules[0].name", f"name '{name}' is already used",
                                      "job and schedule names share one namespace; rename it")


def test_schedule_declared_twice(project: Path) -> None:
    (project / "floe.yaml").write_text(PIPELINE + "  - name: marts_daily\n    job: marts\n    cron: '@daily'\n",
                                       encoding="utf-8")
    issue = _one(project)
    assert (issue.line, issue.path, issue.message) == (13, "schedules[1].name", "name 'marts_daily' is already used")


def test_schedule_of_an_undeclared_job(project: Path) -> None:
    _edit(project / "floe.yaml", "    job: marts", "    job: nightly")
    assert _one(project) == SpecIssue("floe.yaml", 10, 10, "schedules[0].job", "job 'nightly' is not declared",
                                      "declared jobs: all, marts")


def test_the_implicit_all_job_can_be_scheduled(project: Path) -> None:
    _edit(project / "floe.yaml", "    job: marts", "    job: all")
    load_project(project / "floe.yaml", environ={})


def test_invalid_cron(project: Path) -> None:
    _edit(project / "floe.yaml", '"0 6 * * *"', '"0 6 * *"')
    assert _one(project) == SpecIssue(
        "floe.yaml", 11, 11, "schedules[0].cron",
        "invalid cron '0 6 * *': expected 5 fields (minute hour day month weekday), found 4",
        "example: '0 6 * * *' runs daily at 06:00",
    )


@pytest.mark.parametrize("zone", ["Mars/Olympus", "''", "../../etc/passwd", "Europe/", "x" * 300])
def test_unknown_time_zone(project: Path, zone: str) -> None:
    _edit(project / "floe.yaml", "timezone: Europe/Berlin", f"timezone: {zone}")
    issue = _one(project)
    assert (issue.line, issue.column, issue.path) == (12, 15, "schedules[0].timezone")
    assert issue.message.startswith("unknown time zone '")
    assert issue.hint == "use an IANA name such as 'UTC' or 'Europe/Berlin'"


# --- both files at once ------------------------------------------------------------------------


def test_every_problem_of_both_files_is_raised_together(project: Path) -> None:
    _edit(project / "floe.yaml", "    job: marts", "    job: nightly")
    _edit(project / "floe.yaml", "timezone: Europe/Berlin", "timezone: Nowhere")
    _edit(project / "platform.yaml", "threads: 8", "threads: lots")
    issues = _issues(project)
    assert [(i.file, i.line, i.path) for i in issues] == [
        ("platform.yaml", 8, "environments.prod.compute.threads"),
        ("floe.yaml", 10, "schedules[0].job"),
        ("floe.yaml", 12, "schedules[0].timezone"),
    ]


def test_pipeline_checks_run_even_when_the_platform_is_invalid(project: Path) -> None:
    (project / "dbt" / "dbt_project.yml").unlink()
    (project / "platform.yaml").write_text("environments: [dev]\n", encoding="utf-8")
    issues = _issues(project)
    assert {(i.file, i.path) for i in issues} == {
        ("platform.yaml", "environments"), ("floe.yaml", "transforms[0].path"),
    }


def test_both_files_missing(project: Path) -> None:
    (project / "floe.yaml").unlink()
    (project / "platform.yaml").unlink()
    first, second = _issues(project)
    assert (first.file, first.message) == ("floe.yaml", "file not found")
    assert "-f PATH" in (first.hint or "")
    assert (second.file, second.message) == ("platform.yaml", "file not found")
    assert "--platform PATH" in (second.hint or "") and "-f PATH" not in (second.hint or "")


def test_platform_path_argument_and_environment_override(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "platform.yaml").rename(project / "other.yaml")
    assert load_project(project / "floe.yaml", environ={}, platform_path="other.yaml").platform_path == Path(
        "other.yaml")
    monkeypatch.setenv("FLOE_PLATFORM_FILE", str(project / "other.yaml"))
    assert load_project(project / "floe.yaml", environ={}).platform_path == project / "other.yaml"


def test_files_outside_the_working_directory_keep_their_path(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = project / "sub"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    _edit(project / "floe.yaml", "    job: marts", "    job: nightly")
    (issue,) = _issues(project)
    assert issue.file == os.fspath(project / "floe.yaml")


def test_files_below_the_working_directory_are_shown_relative(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(project.parent)
    _edit(project / "floe.yaml", "    job: marts", "    job: nightly")
    (issue,) = _issues(project)
    assert issue.file == f"{project.name}/floe.yaml"
