"""Two assets with one Dagster asset key: a user mistake, reported by `floe compile` with exit 1.

Dagster itself would refuse the definitions only when a run loads them, with an error floe
could not explain (it used to surface as "internal error", exit 2). The manifest already shows
the clash, so compile names the key, the files that claim it and the fix.
"""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

STAGING_YML = "dbt/models/staging/_staging.yml"


def _claim(root: Path, model: str, key: str) -> None:
    """Give ``model`` the asset key ``[key]`` through meta.dagster.asset_key in its .yml."""
    path = root / STAGING_YML
    text = path.read_text(encoding="utf-8")
    anchor = f"  - name: {model}\n"
    assert anchor in text, f"{model} not in {STAGING_YML}: the template changed"
    meta = f"    config:\n      meta:\n        dagster:\n          asset_key: [{key}]\n"
    path.write_text(text.replace(anchor, anchor + meta, 1), encoding="utf-8")


def test_compile_rejects_two_models_with_one_asset_key(minimal_project: Path, floe) -> None:  # type: ignore[no-untyped-def]
    _claim(minimal_project, "stg_customers", "customers")
    _claim(minimal_project, "stg_orders", "customers")
    assert floe("validate", cwd=minimal_project).returncode == 0  # the clash needs dbt's parse to see

    result = floe("compile", cwd=minimal_project)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and "internal error" not in output
    assert "asset key customers is claimed by" in output
    assert "model.shop.stg_customers (models/staging/stg_customers.sql, described in models/staging/_staging.yml)" \
        in output
    assert "model.shop.stg_orders (models/staging/stg_orders.sql" in output
    assert "hint: rename one of each pair" in output and "meta.dagster.asset_key" in output
    assert not (minimal_project / ".floe" / "artifacts.json").exists()  # nothing half-written


def test_run_on_artifacts_compiled_before_the_check_is_a_floe_error(compiled_project: Path, floe) -> None:  # type: ignore[no-untyped-def]
    """Artifacts whose manifest already holds the clash (an older floe compiled them) fail the run cleanly."""
    import json

    manifest_path = compiled_project / ".floe" / "dbt" / "manifest.json"
    manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    for unique_id in ("model.shop.stg_customers", "model.shop.stg_orders"):
        manifest["nodes"][unique_id]["config"]["meta"] = {"dagster": {"asset_key": ["customers"]}}
    manifest_path.write_text(json.dumps(manifest), encoding="utf-8")

    result = floe("run", cwd=compiled_project)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "Traceback" not in output and "asset key customers is claimed by" in output


def test_an_ingestion_table_and_a_model_cannot_share_a_key(compiled_project: Path) -> None:
    from dagster import AssetKey

    from floe.errors import CompileError
    from floe.orchestration.dbt_specs import check_asset_keys, load_manifest

    manifest = load_manifest(compiled_project / ".floe" / "dbt" / "manifest.json")
    check_asset_keys(manifest, {AssetKey(["raw", "orders"]): "feed"})  # no model has that key
    with pytest.raises(CompileError) as raised:
        check_asset_keys(manifest, {AssetKey(["customer_revenue"]): "feed"})
    message = str(raised.value)
    assert "asset key customer_revenue is claimed by" in message
    assert "ingestion source 'feed' (floe.yaml)" in message and "model.shop.customer_revenue" in message
