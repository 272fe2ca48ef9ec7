"""floe builds the dbt assets from the manifest JSON without dagster-dbt; they must be the very
specs, checks and op that dagster-dbt's ``@dbt_assets`` builds from the same manifest."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.integration

# Objects dagster-dbt keeps for its own helpers; floe's dbt step passes them explicitly.
_DAGSTER_DBT_ONLY = {"dagster_dbt/manifest", "dagster_dbt/dagster_dbt_translator"}
_FIELDS = ("key", "description", "group_name", "code_version", "automation_condition", "owners", "tags",
           "kinds", "skippable", "partitions_def", "is_virtual")


@pytest.fixture(scope="module")
def shop_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The e-commerce template: sources, seeds, staging views, marts, tests on models and sources."""
    from floe.compiler import compile_project
    from floe.scaffold import init_project
    from floe.spec.project import load_project

    root = init_project(tmp_path_factory.mktemp("specs") / "shop", template="ecommerce").root
    compile_project(load_project(root / "floe.yaml"))
    return root / ".floe" / "dbt" / "manifest.json"


def _spec_fields(spec: Any) -> dict[str, Any]:
    fields = {name: getattr(spec, name) for name in _FIELDS}
    fields["metadata"] = {k: v for k, v in spec.metadata.items() if k not in _DAGSTER_DBT_ONLY}
    fields["deps"] = sorted((dep.asset_key.to_user_string(), repr(dep.partition_mapping),
                             repr(sorted((dep.metadata or {}).items()))) for dep in spec.deps)
    return fields


def _check_fields(check: Any) -> tuple[Any, ...]:
    return (check.key, check.description, sorted(d.asset_key.to_user_string() for d in check.additional_deps),
            dict(check.metadata), check.blocking, check.automation_condition)


def _both(manifest_path: Path) -> tuple[Any, Any]:
    from dagster import multi_asset
    from dagster_dbt import dbt_assets

    from floe.orchestration.builder import DBT_ASSETS_NAME
    from floe.orchestration.dbt_specs import DEFAULT_SELECT, SELECT_TAG, build_dbt_specs, dbt_translator, load_manifest

    translator = dbt_translator(load_manifest(manifest_path))  # what the stock path (FLOE_FAST_PATH=0) uses

    @dbt_assets(manifest=manifest_path, dagster_dbt_translator=translator, name=DBT_ASSETS_NAME,
                select=DEFAULT_SELECT)
    def upstream(context):  # type: ignore[no-untyped-def]
        pass

    specs, checks = build_dbt_specs(load_manifest(manifest_path))

    @multi_asset(name=DBT_ASSETS_NAME, specs=specs, check_specs=checks, can_subset=True,
                 op_tags={SELECT_TAG: DEFAULT_SELECT}, allow_arbitrary_check_specs=True)
    def ours(context):  # type: ignore[no-untyped-def]
        pass

    return upstream, ours


def test_specs_equal_dagster_dbts(shop_manifest: Path) -> None:
    upstream, ours = _both(shop_manifest)
    theirs = {spec.key: _spec_fields(spec) for spec in upstream.specs}
    mine = {spec.key: _spec_fields(spec) for spec in ours.specs}
    assert len(mine) == 14 and mine == theirs
    assert any(fields["deps"] and "bronze" in fields["deps"][0][0] for fields in mine.values())  # sources
    their_checks = {check.key: _check_fields(check) for check in upstream.check_specs}
    my_checks = {check.key: _check_fields(check) for check in ours.check_specs}
    assert len(my_checks) > 40 and my_checks == their_checks
    assert dict(ours.keys_by_output_name) == dict(upstream.keys_by_output_name)
    assert ours.op.tags == upstream.op.tags and ours.can_subset and upstream.can_subset
    # Grouped by layer (the model's folder under models/), on both paths.
    groups = {key.to_user_string(): fields["group_name"] for key, fields in mine.items()}
    assert groups["stg_orders"] == "staging" and groups["int_orders"] == "intermediate"
    assert groups["mart_revenue"] == "marts" and groups["metricflow_time_spine"] == "utilities"


def test_a_group_the_author_set_wins_over_the_layer(shop_manifest: Path, tmp_path: Path) -> None:
    from floe.orchestration.dbt_specs import load_manifest

    manifest = load_manifest(shop_manifest)
    nodes = manifest["nodes"]
    nodes["model.shop.stg_orders"]["meta"] = {"dagster": {"group": "raw_orders"}}
    nodes["model.shop.mart_revenue"]["config"]["group"] = "finance"
    nodes["model.shop.int_orders"]["path"] = "core-layer/int_orders.sql"  # not a valid group name as it is
    nodes["model.shop.stg_customers"]["path"] = "stg_customers.sql"  # at the top of models/
    edited = tmp_path / "manifest.json"
    edited.write_text(json.dumps(manifest))
    upstream, ours = _both(edited)
    mine = {spec.key.to_user_string(): spec.group_name for spec in ours.specs}
    assert mine == {spec.key.to_user_string(): spec.group_name for spec in upstream.specs}
    assert mine["stg_orders"] == "raw_orders" and mine["mart_revenue"] == "finance"
    assert mine["int_orders"] == "core_layer" and mine["stg_customers"] == "default"
    assert mine["stg_products"] == "staging"


def test_duplicate_asset_keys_are_rejected(shop_manifest: Path) -> None:
    from floe.errors import CompileError
    from floe.orchestration.dbt_specs import build_dbt_specs, load_manifest

    manifest = load_manifest(shop_manifest)
    models = [node for node in manifest["nodes"].values() if node["resource_type"] == "model"]
    models[1]["config"]["meta"] = {"dagster": {"asset_key": [models[0]["name"]]}}
    with pytest.raises(CompileError, match=f"asset key {models[0]['name']} is claimed by") as raised:
        build_dbt_specs(manifest)
    assert models[1]["original_file_path"] in str(raised.value) and "meta.dagster.asset_key" in str(raised.value)


def test_loading_definitions_imports_neither_dagster_dbt_nor_dbt(compiled_project: Path, tmp_path: Path) -> None:
    probe = ("import json, sys; from floe.orchestration.definitions import defs; "
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('dbt', 'dagster_dbt'))))")
    env = {**os.environ, "FLOE_ARTIFACTS_PATH": str(compiled_project / ".floe" / "artifacts.json")}
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                            check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == []


@pytest.mark.parametrize(("select", "exclude"), [
    ("fqn:*", None), ("+marts", None), ("staging", "stg_orders"), ("tag:marts mart_revenue+", None),
    ("tag:staging,resource_type:model", None), ("@stg_orders", None), ("1+int_orders+1", "resource_type:test"),
])
@pytest.mark.parametrize("fast_path", ["on", "off"])
def test_job_selections_equal_dagster_dbts(shop_manifest: Path, select: str, exclude: str | None, fast_path: str,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """dbt's selector gives ids that floe maps to dagster-dbt's keys and checks (a light manifest on the
    fast path, dbt's full one off it)."""
    from dagster import Definitions
    from dagster_dbt import build_dbt_asset_selection

    from floe.orchestration import dbt_selection as selection_module
    from floe.orchestration import fastpath
    from floe.orchestration.dbt_selection import dbt_selection

    monkeypatch.setenv(fastpath.SWITCH_ENV, "1" if fast_path == "on" else "0")
    monkeypatch.setattr(selection_module, "_evaluated", {})
    fastpath.reset()

    upstream, _ = _both(shop_manifest)
    graph = Definitions(assets=[upstream]).resolve_asset_graph()
    theirs = build_dbt_asset_selection([upstream], dbt_select=select, dbt_exclude=exclude)
    mine = dbt_selection(shop_manifest, select, exclude, project_dir=shop_manifest.parents[2] / "dbt")
    assert mine.resolve(graph) == theirs.resolve(graph)
    assert mine.resolve_checks(graph) == theirs.resolve_checks(graph)
    assert mine.resolve(graph)
