"""A real ``floe run`` of the ecommerce template (ingestion, Dagster, dbt on DuckDB) writes column
lineage traced through each model's compiled SQL into its OpenLineage events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tests.support.openlineage_schema import openlineage_validator

pytestmark = [pytest.mark.integration, pytest.mark.process]


def test_floe_run_of_the_ecommerce_template_emits_column_lineage(floe, tmp_path: Path) -> None:
    created = floe("init", "shop", "--template", "ecommerce", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    root = tmp_path / "shop"
    platform = yaml.safe_load((root / "platform.yaml").read_text())
    platform["environments"]["dev"]["observability"] = {"lineage": {"type": "file"}, "timeout": "60s"}
    (root / "platform.yaml").write_text(yaml.safe_dump(platform, sort_keys=False))

    result = floe("run", "--json", cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]

    events = [json.loads(line) for line in (root / ".floe" / "lineage.jsonl").read_text().splitlines()]
    validate = openlineage_validator()
    for event in events:
        validate(event)
    complete = {e["job"]["name"].rsplit(".", 1)[-1]: e for e in events
                if e["eventType"] == "COMPLETE" and ".model." in e["job"]["name"]}
    assert len(complete) == 14, sorted(complete)
    facets = {name: e["outputs"][0]["facets"].get("columnLineage") for name, e in complete.items()}
    assert all(facet is not None and facet["fields"] for facet in facets.values()), facets

    # mart_revenue sums int_orders per day, region and status.
    revenue = facets["mart_revenue"]
    int_orders = next(i for i in complete["mart_revenue"]["inputs"] if i["name"].endswith(".int_orders"))
    assert revenue["fields"]["revenue"]["inputFields"] == [
        {"namespace": int_orders["namespace"], "name": int_orders["name"], "field": "revenue",
         "transformations": [{"type": "DIRECT", "subtype": "AGGREGATION", "masking": False}]}]
    assert {(f["field"], f["transformations"][0]["subtype"]) for f in revenue["dataset"]} == {
        ("order_date", "GROUP_BY"), ("region", "GROUP_BY"), ("status", "GROUP_BY")}
    # Staging reads the Iceberg table ingestion wrote, as the event's input names it.
    stg_orders = complete["stg_orders"]
    (bronze,) = stg_orders["inputs"]
    region = facets["stg_orders"]["fields"]["region"]["inputFields"]
    assert region == [{"namespace": bronze["namespace"], "name": "bronze.orders", "field": "region",
                       "transformations": [{"type": "DIRECT", "subtype": "TRANSFORMATION", "masking": False}]}]
