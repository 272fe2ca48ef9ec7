"""Reading and writing the artifacts file: golden documents, every refusal, atomic writes."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from floe.contract import io as contract_io
from floe.contract.io import load_artifacts, write_artifacts
from floe.contract.v1 import ArtifactsV1
from floe.errors import ContractError

GOLDEN_DIR = Path(__file__).resolve().parents[2] / "fixtures" / "artifacts"
GOLDEN_V1 = GOLDEN_DIR / "v1_minimal.json"


def _golden_document() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(GOLDEN_V1.read_text(encoding="utf-8"))
    return document


def _write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --- golden files: what older writers wrote must still load ---------------------------


def test_golden_v1_loads_with_its_fields() -> None:
    artifacts = load_artifacts(GOLDEN_V1)
    assert artifacts.schema_version == 1
    assert artifacts.floe_version == "0.1.0"
    assert artifacts.source_hash.startswith("sha256:")
    assert artifacts.project.name == "shop"
    assert artifacts.project.root == ".."
    assert artifacts.environment_name == "dev"
    assert artifacts.environment.compute.type == "duckdb"
    assert artifacts.environment.compute.threads == 4
    assert artifacts.environment.catalog.type == "sql"
    assert artifacts.environment.orchestrator.storage.type == "sqlite"
    assert artifacts.dbt.project_dir == "dbt"
    assert artifacts.dbt.manifest_path == "dbt/manifest.json"
    assert artifacts.dbt.adapter == "duckdb"
    assert [job.name for job in artifacts.jobs] == ["all", "marts"]
    assert artifacts.jobs[1].select == "+marts"
    assert [(s.name, s.job, s.cron, s.enabled) for s in artifacts.schedules] == [
        ("marts_daily", "marts", "0 6 * * *", False)
    ]
    assert artifacts.observability.lineage is True
    assert artifacts.secrets == [] and artifacts.variables == []


def test_golden_files_hold_no_machine_specific_paths() -> None:
    for golden in GOLDEN_DIR.glob("*.json"):
        text = golden.read_text(encoding="utf-8")
        for marker in ("/tmp/", "/home/", "/root/", "/Users/", "C:\\\\"):
            assert marker not in text, f"{golden.name} holds a machine path ({marker})"


# --- refusals: each says where, what and what next ------------------------------------


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / ".floe" / "artifacts.json"
    with pytest.raises(ContractError) as info:
        load_artifacts(path)
    assert str(info.value) == (f"{path}: compiled artifacts not found\n  hint: run 'floe compile --env ENV' first")


def test_invalid_json_names_line_and_column(tmp_path: Path) -> None:
    path = _write(tmp_path / "artifacts.json", '{\n  "schema_version": 1,\n  "jobs": [,]\n}\n')
    with pytest.raises(ContractError) as info:
        load_artifacts(path)
    assert info.value.message.startswith(f"{path}:3:12  not valid JSON (Expecting value)")
    assert info.value.hint == "run 'floe compile' to write it again"


def test_truncated_file_is_invalid_json(tmp_path: Path) -> None:
    text = GOLDEN_V1.read_text(encoding="utf-8")
    path = _write(tmp_path / "artifacts.json", text[: len(text) // 2])
    with pytest.raises(ContractError, match=r"artifacts\.json:\d+:\d+  not valid JSON"):
        load_artifacts(path)


def test_not_utf8_is_a_contract_error(tmp_path: Path) -> None:
    path = _write(tmp_path / "artifacts.json", b'\xff\xfe{"schema_version": 1}')
    with pytest.raises(ContractError) as info:
        load_artifacts(path)
    assert info.value.message == f"{path}: not valid UTF-8 (byte 0); the file is corrupt"


@pytest.mark.parametrize("text", ["[]", '"artifacts"', "1", "null"])
def test_not_an_object(tmp_path: Path, text: str) -> None:
    path = _write(tmp_path / "artifacts.json", text)
    with pytest.raises(ContractError) as info:
        load_artifacts(path)
    assert info.value.message == f"{path}: expected a JSON object"


@pytest.mark.parametrize("version", [None, "1", True, 1.0], ids=["absent", "string", "bool", "float"])
def test_missing_or_mistyped_schema_version(tmp_path: Path, version: Any) -> None:
    document = _golden_document()
    if version is None:
        del document["schema_version"]
    else:
        document["schema_version"] = version
    path = _write(tmp_path / "artifacts.json", json.dumps(document))
    with pytest.raises(ContractError) as info:
        load_artifacts(path)
    assert info.value.message == f"{path}: 'schema_version' is missing or not a number"


def test_future_version_says_upgrade_floe(tmp_path: Path) -> None:
    document = _golden_document() | {"schema_version": 2, "a_field_from_the_future": {}}
    path = _write(tmp_path / "artifacts.json", json.dumps(document))
    with pytest.raises(ContractError) as info:
        load_artifacts(path)
    assert info.value.message == (f"{path}: artifacts schema_version 2 is newer than this floe understands (up to 1)")
    assert info.value.hint is not None and "upgrade floe" in info.value.hint


def test_version_zero_is_not_supported(tmp_path: Path) -> None:
    path = _write(tmp_path / "artifacts.json", json.dumps(_golden_document() | {"schema_version": 0}))
    with pytest.raises(ContractError) as info:
        load_artifacts(path)
    assert info.value.message == f"{path}: artifacts schema_version 0 is not supported"
    assert info.value.hint == "run 'floe compile' to write it again"


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.update(jobs="all"), "jobs: Input should be a valid list (1 problem)"),
        (lambda d: d.pop("dbt"), "dbt: Field required (1 problem)"),
        (lambda d: d.update(extra_key=1), "extra_key: Extra inputs are not permitted (1 problem)"),
        (
            lambda d: d["project"].update(name=3, version=None),
            "project.name: Input should be a valid string (2 problems)",
        ),
    ],
    ids=["jobs-string", "missing-dbt", "unknown-key", "two-problems"],
)
def test_corrupted_field(tmp_path: Path, change: Any, expected: str) -> None:
    document = _golden_document()
    change(document)
    path = _write(tmp_path / "artifacts.json", json.dumps(document))
    with pytest.raises(ContractError) as info:
        load_artifacts(path)
    assert info.value.message == f"{path}: artifacts are corrupt: {expected}"
    assert info.value.hint == "run 'floe compile' to write it again"


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            json.dumps(_golden_document() | {"jobs": "all"}).encode(),
            "artifacts are corrupt: jobs: Input should be a valid list",
        ),
        (b"\xff\xfe garbage", "not valid UTF-8"),
    ],
    ids=["corrupt-field", "not-utf8"],
)
@pytest.mark.process
def test_floe_run_with_only_corrupt_artifacts_exits_1(floe: Any, tmp_path: Path, content: bytes, expected: str) -> None:
    _write(tmp_path / ".floe" / "artifacts.json", content)
    assert not (tmp_path / "floe.yaml").exists()
    result = floe("run", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert "internal error" not in result.stderr
    assert f"artifacts.json: {expected}" in result.stderr
    assert "hint: run 'floe compile' to write it again" in result.stderr


# --- writing --------------------------------------------------------------------------


def test_round_trip_gives_an_equal_model(tmp_path: Path) -> None:
    original = load_artifacts(GOLDEN_V1)
    path = tmp_path / ".floe" / "artifacts.json"
    write_artifacts(original, path)
    again = load_artifacts(path)
    assert again == original
    # The golden file predates optional v1 fields added since ('ingestion', observability, catalog
    # and compute settings, all with defaults): the writer adds them and keeps everything else.
    written = json.loads(path.read_text(encoding="utf-8"))
    golden = _golden_document()
    assert written["ingestion"] == [] and written["dbt"] == golden["dbt"] and written["jobs"] == golden["jobs"]
    # Compute settings added since (schema, extensions, settings, ...) are written with their defaults.
    compute_added = {"schema": "main", "extensions": [], "settings": {}, "external_root": None, "attach": [],
                     "plugins": []}
    assert written["environment"]["compute"] == {**golden["environment"]["compute"], **compute_added}
    assert {k: v for k, v in written.items() if k not in ("ingestion", "environment")} == \
        {k: v for k, v in golden.items() if k != "environment"}
    assert path.read_text(encoding="utf-8").endswith("}\n")


def test_round_trip_keeps_aliased_keys(tmp_path: Path) -> None:
    document = _golden_document()
    document["environment"]["compute"] = {
        "type": "postgres",
        "host": "db",
        "port": 5432,
        "user": "floe",
        "password": {"secret_ref": "PG_PASSWORD"},
        "database": "shop",
        "schema": "marts",
        "sslmode": None,
        "threads": 8,
    }
    document["secrets"] = ["PG_PASSWORD"]
    original = ArtifactsV1.model_validate(document)
    path = tmp_path / "artifacts.json"
    write_artifacts(original, path)
    written = json.loads(path.read_text(encoding="utf-8"))
    assert written["environment"]["compute"]["schema"] == "marts"
    assert "schema_" not in written["environment"]["compute"]
    assert load_artifacts(path) == original


def _previous(tmp_path: Path) -> tuple[Path, str, ArtifactsV1]:
    path = tmp_path / ".floe" / "artifacts.json"
    previous = load_artifacts(GOLDEN_V1)
    write_artifacts(previous, path)
    newer = previous.model_copy(update={"environment_name": "prod", "compiled_at": "2025-02-01T00:00:00+00:00"})
    return path, path.read_text(encoding="utf-8"), newer


def _leftovers(path: Path) -> list[str]:
    return sorted(p.name for p in path.parent.iterdir() if p.name != path.name)


def test_failing_replace_leaves_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, before, newer = _previous(tmp_path)

    def refuse(src: Any, dst: Any) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(contract_io.os, "replace", refuse)
    with pytest.raises(OSError, match="No space left"):
        write_artifacts(newer, path)
    assert path.read_text(encoding="utf-8") == before
    assert _leftovers(path) == []  # the temporary file is cleaned up


def test_failing_write_midway_leaves_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, before, newer = _previous(tmp_path)

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(contract_io.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_artifacts(newer, path)
    assert path.read_text(encoding="utf-8") == before
    assert _leftovers(path) == []


def test_failing_serialisation_leaves_the_previous_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, before, newer = _previous(tmp_path)

    def broken(*args: Any, **kwargs: Any) -> str:
        raise TypeError("cannot serialise")

    monkeypatch.setattr(contract_io.json, "dumps", broken)
    with pytest.raises(TypeError):
        write_artifacts(newer, path)
    assert path.read_text(encoding="utf-8") == before
    assert _leftovers(path) == []


def test_successful_write_replaces_and_is_readable_by_others(tmp_path: Path) -> None:
    path, _, newer = _previous(tmp_path)
    write_artifacts(newer, path)
    assert load_artifacts(path).environment_name == "prod"
    assert _leftovers(path) == []
    assert os.stat(path).st_mode & 0o777 == 0o644
