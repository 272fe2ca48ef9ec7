"""The ingestion section of floe.yaml: durations, rates, defects, and located errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from floe.errors import SpecError
from floe.spec.durations import format_duration, parse_duration
from floe.spec.ingestion import DATASET_TABLES, NULLABLE_COLUMNS, RealisticRate, SyntheticSource
from floe.spec.project import load_project


@pytest.mark.parametrize(("text", "expected"), [
    ("250ms", timedelta(milliseconds=250)), ("30s", timedelta(seconds=30)), ("5m", timedelta(minutes=5)),
    ("1.5h", timedelta(minutes=90)), ("3d", timedelta(days=3)), (" 2 s ", timedelta(seconds=2)),
])
def test_durations_parse(text: str, expected: timedelta) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["5", "5 minutes", "-1s", "m", "", "1w"])
def test_durations_need_a_number_and_a_unit(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)


def test_durations_print_shortest() -> None:
    assert [format_duration(timedelta(seconds=s)) for s in (300, 3600, 86400, 90, 0.25)] == \
        ["5m", "1h", "1d", "90s", "250ms"]


def test_source_defaults_and_round_trip() -> None:
    source = SyntheticSource.model_validate({"type": "synthetic", "name": "shop", "dataset": "ecommerce"})
    assert source.namespace == "bronze" and source.clock == "virtual" and source.interval is None
    assert source.virtual_interval == timedelta(minutes=5)
    assert source.tables == DATASET_TABLES["ecommerce"]
    dumped = source.model_dump(mode="json")
    assert dumped["interval"] is None and dumped["retention"]["max_snapshot_age"] == "1h"
    assert SyntheticSource.model_validate(dumped) == source


def test_realistic_rate_and_bad_values() -> None:
    source = SyntheticSource.model_validate({"type": "synthetic", "name": "s", "dataset": "saas",
                                             "rate": {"type": "realistic", "per_hour": 100}})
    assert isinstance(source.rate, RealisticRate) and source.rate.per_hour == 100
    for bad in ({"rate": {"type": "burst", "per_hour": 5}}, {"interval": "0s"}, {"start": "2026-01-01T00:00:00"},
                {"defects": {"duplicate_rate": 1.5}}, {"defects": {"late_min": "2d", "late_max": "1d"}}):
        with pytest.raises(ValidationError):
            SyntheticSource.model_validate({"type": "synthetic", "name": "s", "dataset": "ecommerce", **bad})


def test_nullable_columns_match_the_generators() -> None:
    from floe.synthetic import ECOMMERCE_NULL_TARGETS, ECOMMERCE_SCHEMAS, SAAS_NULL_TARGETS, SAAS_SCHEMAS

    assert NULLABLE_COLUMNS == {"ecommerce": ECOMMERCE_NULL_TARGETS, "saas": SAAS_NULL_TARGETS}
    assert set(DATASET_TABLES["ecommerce"]) == set(ECOMMERCE_SCHEMAS)
    assert set(DATASET_TABLES["saas"]) == set(SAAS_SCHEMAS)


def _project(tmp_path: Path, ingestion: str, compute: str = "duckdb") -> Path:
    (tmp_path / "dbt").mkdir()
    (tmp_path / "dbt" / "dbt_project.yml").write_text("name: x\n")
    (tmp_path / "floe.yaml").write_text(f"name: shop\ntransforms: [{{path: dbt}}]\ningestion:\n{ingestion}")
    computes = {
        "duckdb": "{type: duckdb}",
        "postgres": "{type: postgres, host: h, user: u, database: d}",
    }
    (tmp_path / "platform.yaml").write_text(f"environments:\n  dev:\n    compute: {computes[compute]}\n")
    return tmp_path / "floe.yaml"


def test_unknown_null_column_is_located(tmp_path: Path) -> None:
    path = _project(tmp_path, "  - type: synthetic\n    name: shop\n    dataset: ecommerce\n"
                              "    defects:\n      null_rates:\n        orders.status: 0.1\n")
    with pytest.raises(SpecError) as caught:
        load_project(path)
    issue = caught.value.issues[0]
    assert issue.line == 9 and "orders.status" in issue.message and "orders.customer_id" in (issue.hint or "")


def test_duplicate_sources_and_shared_tables(tmp_path: Path) -> None:
    source = "  - {type: synthetic, name: shop, dataset: ecommerce}\n"
    with pytest.raises(SpecError) as caught:
        load_project(_project(tmp_path, source + source))
    messages = [issue.message for issue in caught.value.issues]
    assert any("declared twice" in m for m in messages)
    assert any("bronze.products is also written" in m for m in messages)


def test_ingestion_needs_duckdb(tmp_path: Path) -> None:
    path = _project(tmp_path, "  - {type: synthetic, name: shop, dataset: ecommerce}\n", compute="postgres")
    with pytest.raises(SpecError) as caught:
        load_project(path)
    assert any("needs a duckdb compute target" in issue.message for issue in caught.value.issues)


def test_catalog_must_fit_the_storage(tmp_path: Path) -> None:
    (tmp_path / "dbt").mkdir()
    (tmp_path / "dbt" / "dbt_project.yml").write_text("name: x\n")
    (tmp_path / "floe.yaml").write_text("name: shop\ntransforms: [{path: dbt}]\n")
    (tmp_path / "platform.yaml").write_text(
        "environments:\n  dev:\n    catalog: {type: sql, warehouse: 's3://other/wh'}\n    storage: {type: local}\n")
    with pytest.raises(SpecError) as caught:
        load_project(tmp_path / "floe.yaml")
    issue = caught.value.issues[0]
    assert issue.line == 3 and "environments.dev.catalog" in issue.render() and "s3" in issue.message
