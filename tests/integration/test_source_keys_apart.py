"""A source over a table the project builds gets its own key; a real clash is still reported."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.integration


def _node(unique_id: str, resource_type: str, name: str, relation: str, **extra: Any) -> dict[str, Any]:
    return {"unique_id": unique_id, "resource_type": resource_type, "name": name, "relation_name": relation,
            "original_file_path": f"{name}.sql", "config": {"schema": "raw", "materialized": "seed"},
            "depends_on": {"nodes": []}, **extra}


def _manifest(source_relation: str) -> dict[str, Any]:
    seed = _node("seed.p.customers", "seed", "customers", '"db"."main_raw"."customers"')
    source = _node("source.p.raw.customers", "source", "customers", source_relation, source_name="raw")
    model = _node("model.p.stg", "model", "stg", '"db"."main"."stg"',
                  depends_on={"nodes": ["source.p.raw.customers"]}, config={"materialized": "view"})
    return {"nodes": {seed["unique_id"]: seed, model["unique_id"]: model},
            "sources": {source["unique_id"]: source}, "metadata": {}, "child_map": {}}


def test_a_source_over_a_seeds_table_gets_its_own_key() -> None:
    from dagster import AssetKey

    from floe.orchestration.dbt_specs import build_dbt_specs, check_asset_keys, source_keys_apart

    manifest = _manifest('"DB"."main_raw"."customers"')  # the seed's table, quoted in another case
    assert source_keys_apart(manifest) == {"source.p.raw.customers": AssetKey(["source", "raw", "customers"])}
    specs, _checks = build_dbt_specs(manifest)
    stg = next(spec for spec in specs if spec.key == AssetKey(["stg"]))
    assert [dep.asset_key for dep in stg.deps] == [AssetKey(["source", "raw", "customers"])]
    notes = check_asset_keys(manifest, {})
    assert len(notes) == 1 and "ref('customers')" in notes[0] and "seed 'customers'" in notes[0]


def test_a_source_over_another_table_with_the_same_key_is_a_clash() -> None:
    from floe.errors import CompileError
    from floe.orchestration.dbt_specs import check_asset_keys, source_keys_apart

    manifest = _manifest('"db"."elsewhere"."customers"')
    assert source_keys_apart(manifest) == {}
    with pytest.raises(CompileError, match="claimed twice"):
        check_asset_keys(manifest, {})
