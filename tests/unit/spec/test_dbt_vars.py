"""dbt vars: what floe.yaml and --vars accept, how layers merge, how runs carry them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from floe.contract.io import load_artifacts, write_artifacts
from floe.contract.project import CompiledProject
from floe.errors import ContractError, FloeError, SpecError
from floe.orchestration.dbt_run_args import DBT_VARS_TAG, dbt_build_args, dbt_vars_tags, run_dbt_vars, tagged_dbt_vars
from floe.spec.dbt_vars import dbt_vars_json, dbt_vars_problem, merge_dbt_vars, parse_dbt_vars
from floe.spec.loading import load_spec
from floe.spec.pipeline import PipelineSpec

GOLDEN_V1 = Path(__file__).resolve().parents[2] / "fixtures" / "artifacts" / "v1_minimal.json"

PIPELINE = """\
name: shop
transforms:
  - type: dbt
    path: ./dbt
    vars:
      min_amount: 5
      regions: [eu, us]
      window: {days: 7, strict: true}
      cutoff: null
jobs:
  - name: marts
    select: "+marts"
    vars: {min_amount: 20}
schedules:
  - name: marts_daily
    job: marts
    cron: "0 6 * * *"
    vars:
      label: daily
"""


def _load(tmp_path: Path, text: str) -> PipelineSpec:
    path = tmp_path / "floe.yaml"
    path.write_text(text, encoding="utf-8")
    return load_spec(path, PipelineSpec, {}, display_name="floe.yaml", pipeline_file=True).model


def _issue(tmp_path: Path, text: str) -> Any:
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, text)
    assert len(caught.value.issues) == 1, caught.value.issues
    return caught.value.issues[0]


# --- floe.yaml ---------------------------------------------------------------------------


def test_vars_load_on_transform_job_and_schedule(tmp_path: Path) -> None:
    spec = _load(tmp_path, PIPELINE)
    assert spec.transforms[0].vars == {"min_amount": 5, "regions": ["eu", "us"],
                                       "window": {"days": 7, "strict": True}, "cutoff": None}
    assert spec.jobs[0].vars == {"min_amount": 20}
    assert spec.schedules[0].vars == {"label": "daily"}


def test_vars_default_to_none(tmp_path: Path) -> None:
    spec = _load(tmp_path, PIPELINE.replace("    vars: {min_amount: 20}\n", ""))
    assert spec.jobs[0].vars == {}


def test_an_unquoted_date_is_refused_with_the_quoting_that_keeps_it(tmp_path: Path) -> None:
    issue = _issue(tmp_path, PIPELINE.replace("cutoff: null", "cutoff: 2024-01-31"))
    assert issue.path == "transforms[0].vars.cutoff"
    assert issue.line == 9
    assert issue.message == '2024-01-31 is read by YAML as a date; quote it to pass it as text: "2024-01-31"'
    assert _load(tmp_path, PIPELINE.replace("cutoff: null", 'cutoff: "2024-01-31"')).transforms[0].vars[
        "cutoff"] == "2024-01-31"


def test_a_nested_timestamp_is_named_by_its_path(tmp_path: Path) -> None:
    issue = _issue(tmp_path, PIPELINE.replace("strict: true}", "strict: true, since: [2024-01-31 10:00:00]}"))
    assert issue.path == "transforms[0].vars.window"
    assert issue.message.startswith("since[0]: 2024-01-31T10:00:00 is read by YAML as a timestamp")


def test_vars_must_be_a_mapping(tmp_path: Path) -> None:
    issue = _issue(tmp_path, PIPELINE.replace("    vars: {min_amount: 20}\n", "    vars: [min_amount]\n"))
    assert issue.path == "jobs[0].vars"
    assert "expected a mapping" in issue.message or "valid dictionary" in issue.message


def test_not_a_number_is_refused(tmp_path: Path) -> None:
    issue = _issue(tmp_path, PIPELINE.replace("label: daily", "label: .nan"))
    assert issue.path == "schedules[0].vars.label"
    assert issue.message == "nan is not a number dbt can receive"


def test_a_credential_in_vars_is_refused_like_anywhere_in_floe_yaml(tmp_path: Path) -> None:
    issue = _issue(tmp_path, PIPELINE.replace("label: daily", "password: hunter2"))
    assert issue.path == "schedules[0].vars.password"


def test_problem_of_plain_values_is_none() -> None:
    assert dbt_vars_problem({"a": [1, 2.5, "x", None, True, {"b": []}]}) is None
    assert dbt_vars_problem({"a": {1: "x"}}) == "a: the key 1 is not text; quote it to pass it as text: \"1\""
    assert dbt_vars_problem({"a": {1, 2}}) == "a: a set is not a plain YAML value"


# --- floe run --vars ---------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("{min_amount: 10, region: eu}", {"min_amount": 10, "region": "eu"}),
    ('{"min_amount": 10}', {"min_amount": 10}),
    ("min_amount: 10", {"min_amount": 10}),
    ("", {}),
    ("null", {}),
    ("{}", {}),
])
def test_parse_takes_yaml_or_json_as_dbt_does(text: str, expected: dict[str, Any]) -> None:
    assert parse_dbt_vars(text, origin="--vars") == expected


@pytest.mark.parametrize(("text", "message"), [
    ("[1, 2]", "--vars: expected a mapping of var names to values, got a list"),
    ("10", "--vars: expected a mapping of var names to values, got a single value (10)"),
    ("{a: 1", "--vars: not valid YAML"),
    ("{a: [1, 2}", "--vars: not valid YAML at column 10"),
    ("{d: 2024-01-01}", "--vars: d: 2024-01-01 is read by YAML as a date"),
    ("{1: x}", "--vars: the key 1 is not text"),
])
def test_parse_refuses_with_where_and_what(text: str, message: str) -> None:
    with pytest.raises(FloeError) as caught:
        parse_dbt_vars(text, origin="--vars")
    assert str(caught.value).startswith(message)
    assert caught.value.hint is not None and "--vars '{min_amount: 10, region: eu}'" in caught.value.hint


# --- merging and carrying ----------------------------------------------------------------


def test_later_layers_win_by_name_without_deep_merge() -> None:
    transform = {"min_amount": 5, "window": {"days": 7, "strict": True}, "region": "eu"}
    job = {"min_amount": 20}
    schedule = {"window": {"days": 1}}
    given = {"region": "us"}
    assert merge_dbt_vars(transform, job, schedule, given) == {
        "min_amount": 20, "window": {"days": 1}, "region": "us"}
    assert merge_dbt_vars(transform, None, {}) == transform
    assert transform == {"min_amount": 5, "window": {"days": 7, "strict": True}, "region": "eu"}  # untouched


def test_json_is_canonical() -> None:
    assert dbt_vars_json({"b": 1, "a": {"d": "é", "c": None}}) == '{"a":{"c":null,"d":"é"},"b":1}'
    assert dbt_vars_json({"a": 1, "b": 2}) == dbt_vars_json({"b": 2, "a": 1})


def _compiled(tmp_path: Path, transform_vars: dict[str, Any]) -> CompiledProject:
    artifacts = load_artifacts(GOLDEN_V1)
    artifacts = artifacts.model_copy(update={"dbt": artifacts.dbt.model_copy(update={"vars": transform_vars})})
    return CompiledProject(artifacts, tmp_path / ".floe" / "artifacts.json", tmp_path)


def test_run_vars_are_the_transforms_overridden_by_the_run_tag(tmp_path: Path) -> None:
    compiled = _compiled(tmp_path, {"min_amount": 5, "region": "eu"})
    job_tags = dbt_vars_tags({"min_amount": 20})
    assert job_tags == {DBT_VARS_TAG: '{"min_amount":20}'}
    schedule_tags = dbt_vars_tags(tagged_dbt_vars(job_tags), {"label": "daily"})
    assert run_dbt_vars(compiled, schedule_tags) == {"min_amount": 20, "region": "eu", "label": "daily"}
    assert run_dbt_vars(compiled, {}) == {"min_amount": 5, "region": "eu"}
    assert dbt_vars_tags({}, None) == {}  # no vars, no tag
    assert dbt_build_args(full_refresh=True, dbt_vars=run_dbt_vars(compiled, job_tags)) == [
        "build", "--full-refresh", "--vars", '{"min_amount":20,"region":"eu"}']
    assert dbt_build_args(full_refresh=False, dbt_vars={}) == ["build"]


def test_a_tag_edited_into_nonsense_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FloeError) as caught:
        run_dbt_vars(_compiled(tmp_path, {}), {DBT_VARS_TAG: "[1, 2]"})
    assert str(caught.value).startswith(f"run tag '{DBT_VARS_TAG}': expected a mapping")


# --- the artifacts -----------------------------------------------------------------------


def test_artifacts_without_vars_leave_them_out(tmp_path: Path) -> None:
    """So a floe from before vars still reads the artifacts of a project that uses none."""
    artifacts = load_artifacts(GOLDEN_V1)
    assert artifacts.dbt.vars == {} and all(job.vars == {} for job in artifacts.jobs)
    path = tmp_path / "artifacts.json"
    write_artifacts(artifacts, path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert "vars" not in document["dbt"]
    assert all("vars" not in job for job in document["jobs"])
    assert all("vars" not in schedule for schedule in document["schedules"])


def test_artifacts_with_vars_round_trip(tmp_path: Path) -> None:
    artifacts = load_artifacts(GOLDEN_V1)
    artifacts = artifacts.model_copy(update={
        "dbt": artifacts.dbt.model_copy(update={"vars": {"min_amount": 5, "regions": ["eu"]}}),
        "jobs": [artifacts.jobs[0], artifacts.jobs[1].model_copy(update={"vars": {"min_amount": 20}})],
    })
    path = tmp_path / "artifacts.json"
    write_artifacts(artifacts, path)
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["dbt"]["vars"] == {"min_amount": 5, "regions": ["eu"]}
    assert document["jobs"][1]["vars"] == {"min_amount": 20}
    assert load_artifacts(path) == artifacts


def test_corrupt_vars_in_artifacts_are_refused(tmp_path: Path) -> None:
    document = json.loads(GOLDEN_V1.read_text(encoding="utf-8"))
    document["dbt"]["vars"] = ["not", "a", "mapping"]
    path = tmp_path / "artifacts.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    with pytest.raises(ContractError, match=r"dbt\.vars"):
        load_artifacts(path)
