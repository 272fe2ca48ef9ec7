"""The committed JSON Schemas: in step with the models, valid, and accepting real files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from floe.contract.schema import (
    JSON_SCHEMA_DIALECT,
    SCHEMA_FILES,
    export_schemas,
    json_schemas,
    render_schema,
    schema_text,
)
from floe.errors import FloeError

REPO_ROOT = Path(__file__).resolve().parents[3]
SCHEMA_DIR = REPO_ROOT / "schemas"
GOLDEN_V1 = REPO_ROOT / "tests" / "fixtures" / "artifacts" / "v1_minimal.json"
EXPECTED_FILES = {"floe.schema.json", "platform.schema.json", "domain.schema.json", "artifacts.v1.schema.json",
                  "preflight.v1.schema.json", "product-record.v1.schema.json"}


def _committed(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8"))
    return document


def _errors(schema: dict[str, Any], instance: Any) -> list[str]:
    validator = Draft202012Validator(schema)
    return sorted(f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(instance))


# --- drift -------------------------------------------------------------------------------


def test_generates_exactly_the_three_files() -> None:
    assert set(json_schemas()) == EXPECTED_FILES
    assert set(SCHEMA_FILES.values()) == EXPECTED_FILES


def test_committed_schema_folder_holds_exactly_the_generated_files() -> None:
    on_disk = {p.name for p in SCHEMA_DIR.glob("*.json")}
    assert on_disk == EXPECTED_FILES, (
        f"schemas/ holds {sorted(on_disk)}, the code generates {sorted(EXPECTED_FILES)}: "
        "run 'make generate' and remove stale files"
    )


@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_committed_schema_matches_the_models(name: str) -> None:
    committed = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    generated = render_schema(json_schemas()[name])
    assert committed == generated, (
        f"schemas/{name} is out of date with the models: run 'make generate' and commit the result"
    )


def test_generation_is_deterministic() -> None:
    assert [render_schema(s) for s in json_schemas().values()] == [render_schema(s) for s in json_schemas().values()]


# --- shape of the schemas --------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_committed_schema_is_valid_draft_2020_12(name: str) -> None:
    schema = _committed(name)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == JSON_SCHEMA_DIALECT
    assert "$id" not in schema
    assert schema["title"]
    assert schema["type"] == "object"
    assert schema["additionalProperties"] is False


@pytest.mark.parametrize("name", sorted(EXPECTED_FILES))
def test_file_format_is_sorted_indented_and_ends_with_newline(name: str) -> None:
    text = (SCHEMA_DIR / name).read_text(encoding="utf-8")
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert text == json.dumps(json.loads(text), indent=2, sort_keys=True) + "\n"


def test_titles_name_the_file_they_describe() -> None:
    assert "floe.yaml" in _committed("floe.schema.json")["title"]
    assert "platform.yaml" in _committed("platform.schema.json")["title"]
    assert "artifacts" in _committed("artifacts.v1.schema.json")["title"]


def test_field_descriptions_reach_the_schema() -> None:
    platform = _committed("platform.schema.json")
    duckdb = platform["$defs"]["DuckDBCompute"]["properties"]["path"]
    assert "relative to the project directory" in duckdb["description"]
    postgres = platform["$defs"]["PostgresCompute"]["properties"]
    assert "schema" in postgres and "schema_" not in postgres  # the YAML key, not the Python name


# --- real documents --------------------------------------------------------------------


@pytest.fixture
def project_specs(minimal_project: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    pipeline = yaml.safe_load((minimal_project / "floe.yaml").read_text(encoding="utf-8"))
    platform = yaml.safe_load((minimal_project / "platform.yaml").read_text(encoding="utf-8"))
    return pipeline, platform


def test_init_project_specs_validate(project_specs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    pipeline, platform = project_specs
    assert _errors(_committed("floe.schema.json"), pipeline) == []
    assert _errors(_committed("platform.schema.json"), platform) == []


def test_floe_schema_rejects_a_misspelt_key(project_specs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    pipeline, _ = project_specs
    pipeline["schedules"][0]["crn"] = pipeline["schedules"][0].pop("cron")
    errors = _errors(_committed("floe.schema.json"), pipeline)
    assert any("schedules/0" in e and "'crn' was unexpected" in e for e in errors), errors
    assert any("schedules/0" in e and "'cron' is a required property" in e for e in errors), errors


def test_platform_schema_checks_the_tagged_compute(project_specs: tuple[dict[str, Any], dict[str, Any]]) -> None:
    _, platform = project_specs
    platform["environments"]["prod"] = {
        "compute": {
            "type": "postgres",
            "host": "db",
            "user": "floe",
            "database": "shop",
            "schema": "marts",
            "port": 5432,
        }
    }
    assert _errors(_committed("platform.schema.json"), platform) == []
    platform["environments"]["prod"]["compute"]["port"] = 70000
    assert _errors(_committed("platform.schema.json"), platform) != []
    platform["environments"]["prod"]["compute"] = {"type": "oracle"}
    assert _errors(_committed("platform.schema.json"), platform) != []


def test_golden_v1_artifacts_validate() -> None:
    golden = json.loads(GOLDEN_V1.read_text(encoding="utf-8"))
    assert _errors(_committed("artifacts.v1.schema.json"), golden) == []


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        (lambda d: d.update(jobs="all"), "jobs: 'all' is not of type 'array'"),
        (lambda d: d.update(schema_version=2), "schema_version: 1 was expected"),
        (lambda d: d.pop("dbt"), "'dbt' is a required property"),
        (lambda d: d["environment"]["compute"].update(threads=0), "environment/compute: {'type': 'duckdb'"),
    ],
    ids=["jobs-string", "future-version", "missing-dbt", "threads-zero"],
)
def test_artifacts_schema_rejects_corrupt_documents(change: Any, fragment: str) -> None:
    golden = json.loads(GOLDEN_V1.read_text(encoding="utf-8"))
    change(golden)
    errors = _errors(_committed("artifacts.v1.schema.json"), golden)
    assert any(fragment in e for e in errors), errors


# --- the Python API and the CLI --------------------------------------------------------


def test_export_writes_the_files_the_repo_commits(tmp_path: Path) -> None:
    written = export_schemas(tmp_path / "out")
    assert [p.name for p in written] == list(json_schemas())
    for path in written:
        assert path.read_text(encoding="utf-8") == (SCHEMA_DIR / path.name).read_text(encoding="utf-8")
    assert list((tmp_path / "out").glob(".*.tmp")) == []


def test_export_into_a_file_is_a_floe_error(tmp_path: Path) -> None:
    blocker = tmp_path / "schemas"
    blocker.write_text("not a folder", encoding="utf-8")
    with pytest.raises(FloeError, match="cannot write"):
        export_schemas(blocker)


@pytest.mark.parametrize("name", ["platform", "platform.schema.json"])
def test_schema_text_by_short_or_file_name(name: str) -> None:
    assert schema_text(name) == (SCHEMA_DIR / "platform.schema.json").read_text(encoding="utf-8")


def test_schema_text_unknown_name_lists_the_known_ones() -> None:
    with pytest.raises(FloeError, match="no schema named 'pipeline'") as info:
        schema_text("pipeline")
    assert "floe, platform, domain, artifacts" in str(info.value)


@pytest.mark.process
def test_cli_export(floe: Any, tmp_path: Path) -> None:
    result = floe("schema", "export", "--output", "out", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for name in EXPECTED_FILES:
        assert f"wrote {Path('out') / name}" in result.stdout
        assert (tmp_path / "out" / name).read_bytes() == (SCHEMA_DIR / name).read_bytes()


@pytest.mark.process
def test_cli_export_defaults_to_schemas_folder(floe: Any, tmp_path: Path) -> None:
    result = floe("schema", "export", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert {p.name for p in (tmp_path / "schemas").iterdir()} == EXPECTED_FILES


@pytest.mark.process
def test_cli_export_help_teaches(floe: Any, tmp_path: Path) -> None:
    result = floe("schema", "export", "--help", cwd=tmp_path)
    assert result.returncode == 0
    for expected in ("--output DIR", "[default: schemas]", "floe.schema.json", "Examples:"):
        assert expected in result.stdout, expected


@pytest.mark.process
def test_cli_show_prints_one_schema(floe: Any, tmp_path: Path) -> None:
    result = floe("schema", "show", "artifacts", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (SCHEMA_DIR / "artifacts.v1.schema.json").read_text(encoding="utf-8")


@pytest.mark.process
def test_cli_show_unknown_name_exits_1(floe: Any, tmp_path: Path) -> None:
    result = floe("schema", "show", "nope", cwd=tmp_path)
    assert result.returncode == 1
    assert "'nope' is not one of 'floe', 'platform', 'domain', 'artifacts'" in result.stderr
    assert "Traceback" not in result.stderr
