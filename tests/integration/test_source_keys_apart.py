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


_PARENTS = """
from dagster import AssetKey
from floe.contract.project import open_compiled_project
from floe.orchestration.builder import build_code_location
graph = build_code_location(open_compiled_project(None)).defs.resolve_asset_graph()
print(sorted(key.to_user_string() for key in graph.get(AssetKey("stg_customers")).parent_keys))
"""


@pytest.mark.parametrize("fast_path", ["1", "0"])
def test_dagster_keeps_the_source_apart_although_it_names_the_seeds_table(tmp_path, floe, fast_path) -> None:  # type: ignore[no-untyped-def]
    """Dagster joins a dep to the asset that names the same table: the split must survive that.

    Otherwise the seed stays stg_customers' parent in Dagster's graph while dbt runs the two in
    any order, and a run where the model finishes first fails ("yielded before its dependency").
    """
    import os
    import subprocess
    import sys

    from tests.support.kinds_project import write_kinds_project

    original = write_kinds_project(tmp_path / "kinds_dbt")
    assert floe("init", "proj", "--from-dbt", str(original), cwd=tmp_path).returncode == 0
    assert floe("compile", cwd=tmp_path / "proj").returncode == 0
    env = {**os.environ, "FLOE_FAST_PATH": fast_path}
    done = subprocess.run([sys.executable, "-W", "ignore", "-c", _PARENTS], cwd=tmp_path / "proj", env=env,
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip().splitlines()[-1] == "['source/raw/raw_customers']"
