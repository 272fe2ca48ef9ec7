"""The demo's code location: ingestion assets feed the dbt sources in one asset graph, assets
are grouped by layer, the five-minute schedule exists (and no sensor launches runs: 'floe demo
trigger' launches them through the webserver), and Dagster's own validation accepts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

_PROBE = """
import json
from dagster import AssetKey, DefaultScheduleStatus
from floe.orchestration.definitions import defs

graph = defs.resolve_asset_graph()
def keys(job):
    return sorted(k.to_user_string() for k in defs.resolve_job_def(job).asset_layer.selected_asset_keys)
groups = {}
for key in graph.get_all_asset_keys():
    if graph.get(key).is_materializable:
        groups.setdefault(graph.get(key).group_name, []).append(key.to_user_string())
print(json.dumps({
    "stg_orders_parents": sorted(k.to_user_string() for k in graph.get(AssetKey("stg_orders")).parent_keys),
    "groups": {name: sorted(keys) for name, keys in groups.items()},
    "all": keys("all"), "marts": keys("marts"),
    "schedules": {s.name: [s.cron_schedule, s.job_name, s.default_status == DefaultScheduleStatus.RUNNING]
                  for s in defs.schedules},
    "sensors": sorted(s.name for s in defs.sensors),
}))
"""


@pytest.fixture(scope="module")
def demo_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from floe.compiler import compile_project
    from floe.scaffold import init_project
    from floe.spec.project import load_project

    root = init_project(tmp_path_factory.mktemp("demo") / "shop", template="ecommerce").root
    compile_project(load_project(root / "floe.yaml"))
    return root


def test_ingestion_feeds_dbt_in_one_asset_graph(demo_project: Path, tmp_path: Path) -> None:
    artifacts = demo_project / ".floe" / "artifacts.json"
    env = {**os.environ, "FLOE_ARTIFACTS_PATH": str(artifacts)}
    result = subprocess.run([sys.executable, "-c", _PROBE], cwd=tmp_path, env=env,
                            capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    found = json.loads(result.stdout.strip().splitlines()[-1])
    bronze = ["bronze/customers", "bronze/order_items", "bronze/orders", "bronze/products"]
    assert found["stg_orders_parents"] == ["bronze/orders"]
    # Grouped by layer: the landed tables are bronze, each dbt model its folder under models/.
    groups = found["groups"]
    assert groups["bronze"] == bronze
    assert {"staging", "intermediate", "marts"} <= set(groups) and "default" not in groups, groups
    assert "stg_orders" in groups["staging"] and "int_orders" in groups["intermediate"]
    assert "mart_revenue" in groups["marts"] and "metricflow_time_spine" in groups["utilities"]
    assert set(bronze) <= set(found["all"])
    # 'marts' selects +marts: the staging models read bronze, so the landing runs with it.
    assert set(bronze) <= set(found["marts"]) and "mart_revenue" in found["marts"]
    assert found["schedules"]["demo_every_5_minutes"] == ["*/5 * * * *", "all", True]
    assert "demo_trigger" not in found["sensors"]


def test_dagster_validates_the_demo_code_location(demo_project: Path, tmp_path: Path) -> None:
    env = {**os.environ, "FLOE_ARTIFACTS_PATH": str(demo_project / ".floe" / "artifacts.json"),
           "DAGSTER_HOME": str(tmp_path)}
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run([str(dagster), "definitions", "validate", "-m", "floe.orchestration.definitions"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "passed validation" in result.stdout + result.stderr
