"""One spec file to its model: pydantic errors become located issues with useful hints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from floe.errors import SpecError, SpecIssue
from floe.spec.loading import load_spec, scan_credentials
from floe.spec.pipeline import PipelineSpec
from floe.spec.platform import PlatformSpec, PostgresCompute
from floe.spec.yaml_source import load_yaml_text

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
"""

PLATFORM = """\
environments:
  dev:
    compute:
      type: duckdb
      threads: 4
"""


def _issues(tmp_path: Path, text: str, *, platform: bool = False,
            environ: dict[str, str] | None = None) -> list[SpecIssue]:
    name = "platform.yaml" if platform else "floe.yaml"
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    model = PlatformSpec if platform else PipelineSpec
    with pytest.raises(SpecError) as caught:
        load_spec(path, model, environ or {}, display_name=name, pipeline_file=not platform)
    return caught.value.issues


def _one(tmp_path: Path, text: str, **kwargs: Any) -> SpecIssue:
    issues = _issues(tmp_path, text, **kwargs)
    assert len(issues) == 1, issues
    return issues[0]


# --- valid files ------------------------------------------------------------------------


def test_valid_pipeline_loads_with_defaults(tmp_path: Path) -> None:
    path = tmp_path / "floe.yaml"
    path.write_text(PIPELINE, encoding="utf-8")
    loaded = load_spec(path, PipelineSpec, {}, display_name="floe.yaml", pipeline_file=True)
    assert loaded.model.name == "shop"
    assert loaded.model.schedules[0].timezone == "UTC"
    assert loaded.source.file == "floe.yaml"
    assert loaded.variables == frozenset()


def test_interpolated_values_are_validated_and_recorded(tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    path.write_text(PLATFORM.replace("threads: 4", "threads: ${THREADS}"), encoding="utf-8")
    loaded = load_spec(path, PlatformSpec, {"THREADS": "8"}, display_name="platform.yaml", pipeline_file=False)
    assert loaded.model.environments["dev"].compute.threads == 8
    assert loaded.variables == frozenset({"THREADS"})


def test_secret_references_are_accepted(tmp_path: Path) -> None:
    text = PLATFORM.replace(
        "      type: duckdb\n      threads: 4\n",
        "      type: postgres\n      host: db\n      user: u\n      database: d\n"
        "      password: {secret_ref: PG_PASSWORD}\n",
    )
    path = tmp_path / "platform.yaml"
    path.write_text(text, encoding="utf-8")
    loaded = load_spec(path, PlatformSpec, {}, display_name="platform.yaml", pipeline_file=False)
    compute = loaded.model.environments["dev"].compute
    assert isinstance(compute, PostgresCompute)
    assert compute.password is not None and compute.password.secret_ref == "PG_PASSWORD"


# --- pydantic errors, located -------------------------------------------------------------


def test_unknown_key_with_did_you_mean(tmp_path: Path) -> None:
    issue = _one(tmp_path, PIPELINE.replace("  - name: marts\n    select", "  - name: marts\n    selct"))
    assert issue == SpecIssue("floe.yaml", 7, 5, "jobs[0].selct", "unknown field 'selct'", "did you mean 'select'?")


def test_unknown_key_without_a_close_match_lists_the_fields(tmp_path: Path) -> None:
    issue = _one(tmp_path, PIPELINE + "zzz: 1\n")
    assert (issue.line, issue.column, issue.path) == (12, 1, "zzz")
    assert issue.hint == (
        "allowed fields: description, ingestion, jobs, name, observability, product, schedules, transforms, version"
    )


def test_unknown_key_inside_a_union_member(tmp_path: Path) -> None:
    issue = _one(tmp_path, PLATFORM.replace("threads: 4", "thread: 4"), platform=True)
    assert issue == SpecIssue(
        "platform.yaml", 5, 7, "environments.dev.compute.thread", "unknown field 'thread'",
        "did you mean 'threads'?",
    )


def test_missing_required_field_points_at_its_parent(tmp_path: Path) -> None:
    issue = _one(tmp_path, PIPELINE.replace("    path: ./dbt\n", ""))
    assert issue == SpecIssue(
        "floe.yaml", 3, 5, "transforms[0]", "missing required field 'path'",
        "Directory of the dbt project (holding dbt_project.yml), relative to floe.yaml.",
    )


def test_missing_top_level_field(tmp_path: Path) -> None:
    issue = _one(tmp_path, PIPELINE.replace("name: shop\n", "", 1))
    assert (issue.file, issue.line, issue.column, issue.path) == ("floe.yaml", 1, 1, "")
    assert issue.message == "missing required field 'name'"
    assert issue.hint == "Pipeline name, shown in run output and carried in the artifacts."


def test_missing_field_of_a_union_member(tmp_path: Path) -> None:
    text = PLATFORM.replace("      type: duckdb\n      threads: 4\n", "      type: postgres\n      host: db\n"
                            "      database: d\n")
    issue = _one(tmp_path, text, platform=True)
    assert issue == SpecIssue("platform.yaml", 3, 5, "environments.dev.compute",  # at the key
                              "missing required field 'user'", "Login role.")


def test_wrong_type_int(tmp_path: Path) -> None:
    issue = _one(tmp_path, PLATFORM.replace("threads: 4", "threads: many"), platform=True)
    assert (issue.line, issue.column, issue.path) == (5, 16, "environments.dev.compute.threads")
    assert issue.message == (
        "Input should be a valid integer, unable to parse string as an integer (got 'many')"
    )
    assert issue.hint == "dbt threads (models built at once)."


def test_wrong_type_bool(tmp_path: Path) -> None:
    issue = _one(tmp_path, PIPELINE + "    enabled: sometimes\n")
    assert (issue.line, issue.column, issue.path) == (12, 14, "schedules[0].enabled")
    assert issue.message == "Input should be a valid boolean, unable to interpret input (got 'sometimes')"


def test_number_where_text_is_expected_suggests_quoting(tmp_path: Path) -> None:
    issue = _one(tmp_path, PIPELINE.replace('version: "0.1.0"', "").replace("name: shop", "name: shop\nversion: 1.0"))
    assert (issue.line, issue.column, issue.path) == (2, 10, "version")
    assert issue.message == "Input should be a valid string (got 1.0)"
    assert issue.hint == 'quote the value so YAML keeps it as text: version: "1.0"'


def test_list_expected(tmp_path: Path) -> None:
    issue = _one(tmp_path, PIPELINE.replace("jobs:\n  - name: marts\n    select: \"+marts\"\n",
                                             "jobs:\n  marts: {}\n"))
    assert (issue.line, issue.column, issue.path) == (6, 3, "jobs")
    assert issue.message == "Input should be a valid list (got {'marts': {}})"


@pytest.mark.parametrize(("value", "got"), [("", "an empty value"), (" [1]", "[1]"), (" text", "'text'")])
def test_mapping_expected_is_said_in_yaml_terms(tmp_path: Path, value: str, got: str) -> None:
    issue = _one(tmp_path, f"environments:\n  dev:{value}\n", platform=True)
    assert issue.path == "environments.dev"
    assert issue.message == f"expected a mapping of fields, got {got}"
    assert "EnvironmentSpec" not in issue.message


def test_pattern_mismatch(tmp_path: Path) -> None:
    issue = _one(tmp_path, PIPELINE.replace("name: shop", "name: my shop", 1))
    assert (issue.line, issue.column, issue.path) == (1, 7, "name")
    assert issue.message == "String should match pattern '^[A-Za-z_][A-Za-z0-9_]*$' (got 'my shop')"


def test_invalid_mapping_key_is_located_at_the_key(tmp_path: Path) -> None:
    issue = _one(tmp_path, PLATFORM.replace("  dev:", "  Dev:"), platform=True)
    assert issue == SpecIssue(
        "platform.yaml", 2, 3, "environments.Dev",
        "invalid name 'Dev': String should match pattern '^[a-z][a-z0-9_-]*$'",
        "Environments by name, e.g. dev, staging, prod.",
    )


def test_discriminated_union_unknown_type(tmp_path: Path) -> None:
    issue = _one(tmp_path, PLATFORM.replace("type: duckdb", "type: duckdbb"), platform=True)
    assert issue == SpecIssue(
        "platform.yaml", 4, 13, "environments.dev.compute.type", "unknown type 'duckdbb'",
        "expected one of 'duckdb', 'postgres', 'snowflake', 'bigquery', 'trino'",
    )


def test_discriminated_union_missing_type(tmp_path: Path) -> None:
    issue = _one(tmp_path, PLATFORM.replace("      type: duckdb\n", ""), platform=True)
    assert (issue.line, issue.column, issue.path) == (3, 5, "environments.dev.compute")  # like any missing field
    assert issue.message == "missing required field 'type'"


def test_error_inside_a_union_member_drops_the_tag_from_the_path(tmp_path: Path) -> None:
    # pydantic reports ('environments', 'dev', 'compute', 'duckdb', 'threads'); 'duckdb' is no key.
    issue = _one(tmp_path, PLATFORM.replace("threads: 4", "threads: 0"), platform=True)
    assert (issue.line, issue.column, issue.path) == (5, 16, "environments.dev.compute.threads")
    assert issue.message == "Input should be greater than or equal to 1"


def test_every_error_in_the_file_is_reported_in_order(tmp_path: Path) -> None:
    text = PIPELINE.replace("name: shop", "name: 1", 1).replace("select:", "selekt:").replace(
        '    cron: "0 6 * * *"\n', "")
    issues = _issues(tmp_path, text)
    assert [(i.line, i.path) for i in issues] == [(1, "name"), (7, "jobs[0].selekt"), (9, "schedules[0]")]


# --- credentials and interpolation ---------------------------------------------------------


def test_literal_password_is_refused_and_not_reported_twice(tmp_path: Path) -> None:
    text = PLATFORM.replace("      type: duckdb\n      threads: 4\n", "      type: postgres\n      host: db\n"
                            "      user: u\n      database: d\n      password: hunter2\n")
    issue = _one(tmp_path, text, platform=True)
    assert (issue.line, issue.column, issue.path) == (8, 17, "environments.dev.compute.password")
    assert issue.message == "a credential must not be written in a spec file"
    assert issue.hint is not None and "password: {secret_ref: NAME}" in issue.hint


def test_password_behind_a_variable_is_still_refused(tmp_path: Path) -> None:
    text = PLATFORM.replace("      type: duckdb\n      threads: 4\n", "      type: postgres\n      host: db\n"
                            "      user: u\n      database: d\n      password: ${PG_PASSWORD}\n")
    issue = _one(tmp_path, text, platform=True, environ={"PG_PASSWORD": "x"})
    assert issue.message == "a credential must not be written in a spec file"


def test_url_with_password_is_refused(tmp_path: Path) -> None:
    text = PLATFORM + "    catalog:\n      type: sql\n      uri: postgresql://u:hunter2@db/cat\n"
    issue = _one(tmp_path, text, platform=True)
    assert issue == SpecIssue(
        "platform.yaml", 8, 12, "environments.dev.catalog.uri", "this URL contains a password",
        "remove user:password@ from the URL and use a secret reference field instead",
    )


def test_url_with_password_from_a_variable_is_refused(tmp_path: Path) -> None:
    text = PLATFORM + "    catalog:\n      type: sql\n      uri: ${CATALOG_URI}\n"
    issue = _one(tmp_path, text, platform=True, environ={"CATALOG_URI": "postgresql://u:pw@db/cat"})
    assert (issue.line, issue.column, issue.path) == (8, 12, "environments.dev.catalog.uri")
    assert issue.message == "this URL contains a password (after ${VAR} interpolation)"


def test_url_without_password_from_a_variable_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "platform.yaml"
    path.write_text(PLATFORM + "    catalog:\n      type: sql\n      uri: ${CATALOG_URI}\n", encoding="utf-8")
    loaded = load_spec(path, PlatformSpec, {"CATALOG_URI": "postgresql://u@db/cat"},
                       display_name="platform.yaml", pipeline_file=False)
    assert loaded.variables == frozenset({"CATALOG_URI"})


def test_unset_variable_is_reported_once_not_again_by_validation(tmp_path: Path) -> None:
    issue = _one(tmp_path, PLATFORM.replace("threads: 4", "threads: ${THREADS}"), platform=True)
    assert issue == SpecIssue("platform.yaml", 5, 16, "environments.dev.compute.threads",
                              "environment variable 'THREADS' is not set",
                              "export THREADS=... or write ${THREADS:-default}")


def test_variable_problems_and_validation_errors_come_together(tmp_path: Path) -> None:
    text = PLATFORM.replace("threads: 4", "threads: ${THREADS}\n      memory_limit: lots")
    issues = _issues(tmp_path, text, platform=True)
    assert [i.path for i in issues] == ["environments.dev.compute.threads", "environments.dev.compute.memory_limit"]


@pytest.mark.parametrize("key", ["host", "port", "user", "url", "Endpoint", "hostname"])
def test_connection_keys_do_not_belong_in_floe_yaml(key: str) -> None:
    source = load_yaml_text(PIPELINE.replace("    path: ./dbt\n", f"    path: ./dbt\n    {key}: x\n"), "floe.yaml")
    assert scan_credentials(source, pipeline_file=True) == [
        SpecIssue("floe.yaml", 5, 5, f"transforms[0].{key}", f"'{key}' does not belong in floe.yaml",
                  "hosts, ports and credentials are declared per environment in platform.yaml"),
    ]


def test_password_in_floe_yaml_is_reported_once_as_a_credential() -> None:
    source = load_yaml_text(PIPELINE.replace("    path: ./dbt\n", "    path: ./dbt\n    password: x\n"),
                            "floe.yaml")
    (issue,) = scan_credentials(source, pipeline_file=True)
    assert (issue.line, issue.column, issue.path) == (5, 15, "transforms[0].password")
    assert issue.message == "a credential must not be written in a spec file"


def test_connection_keys_are_fine_in_platform_yaml() -> None:
    source = load_yaml_text("environments:\n  dev:\n    compute: {type: postgres, host: db, user: u}\n",
                            "platform.yaml")
    assert scan_credentials(source, pipeline_file=False) == []


def test_null_credential_is_not_a_literal() -> None:
    source = load_yaml_text("a:\n  password:\n  token: ~\n", "platform.yaml")
    assert scan_credentials(source, pipeline_file=False) == []


@pytest.mark.parametrize("value", ["hunter2", "123", "''", "{secret_ref: A, value: x}", "[a]"])
def test_anything_but_a_secret_ref_under_a_credential_key_is_refused(value: str) -> None:
    source = load_yaml_text(f"a:\n  api_key: {value}\n", "platform.yaml")
    (issue,) = scan_credentials(source, pipeline_file=False)
    assert (issue.line, issue.column, issue.path) == (2, 12, "a.api_key")
