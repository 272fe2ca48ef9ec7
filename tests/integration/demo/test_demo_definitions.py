"""The demo's code location: ingestion assets feed the dbt sources in one asset graph, the
five-minute schedule and the trigger sensor exist, and Dagster's own validation accepts it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

_PROBE = """
import json, os
from pathlib import Path
from dagster import AssetKey, DefaultScheduleStatus, DefaultSensorStatus, build_sensor_context, DagsterInstance
from floe.orchestration.definitions import defs
from floe.ingestion.triggers import queue_trigger

graph = defs.resolve_asset_graph()
def keys(job):
    return sorted(k.to_user_string() for k in defs.resolve_job_def(job).asset_layer.selected_asset_keys)
sensor = defs.resolve_sensor_def("demo_trigger")
out_dir = Path(os.environ["FLOE_ARTIFACTS_PATH"]).parent  # where 'floe demo trigger' writes
with DagsterInstance.ephemeral() as instance:
    empty = sensor.evaluate_tick(build_sensor_context(instance=instance, definitions=defs))
    request = queue_trigger(out_dir, 2)
    first = sensor.evaluate_tick(build_sensor_context(instance=instance, definitions=defs))
    again = sensor.evaluate_tick(build_sensor_context(instance=instance, cursor=first.cursor, definitions=defs))
print(json.dumps({
    "stg_orders_parents": sorted(k.to_user_string() for k in graph.get(AssetKey("stg_orders")).parent_keys),
    "ingestion_group": sorted(k.to_user_string() for k in graph.get_all_asset_keys()
                              if graph.get(k).group_name == "shop"),
    "all": keys("all"), "marts": keys("marts"),
    "schedules": {s.name: [s.cron_schedule, s.job_name, s.default_status == DefaultScheduleStatus.RUNNING]
                  for s in defs.schedules},
    "sensor_running": sensor.default_status == DefaultSensorStatus.RUNNING,
    "empty": len(empty.run_requests or []),
    "first": [r.run_key for r in first.run_requests or []], "cursor": first.cursor, "request": request.name,
    "again": len(again.run_requests or []),
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
    assert found["ingestion_group"] == bronze
    assert set(bronze) <= set(found["all"])
    # 'marts' selects +marts: the staging models read bronze, so the landing runs with it.
    assert set(bronze) <= set(found["marts"]) and "mart_revenue" in found["marts"]
    assert found["schedules"]["demo_every_5_minutes"] == ["*/5 * * * *", "all", True]
    assert found["sensor_running"] is True
    assert found["empty"] == 0
    assert found["first"] == [f"{found['request']}-0", f"{found['request']}-1"]
    assert found["cursor"] == found["request"] and found["again"] == 0


def test_dagster_validates_the_demo_code_location(demo_project: Path, tmp_path: Path) -> None:
    env = {**os.environ, "FLOE_ARTIFACTS_PATH": str(demo_project / ".floe" / "artifacts.json"),
           "DAGSTER_HOME": str(tmp_path)}
    dagster = Path(sys.executable).with_name("dagster")
    result = subprocess.run([str(dagster), "definitions", "validate", "-m", "floe.orchestration.definitions"],
                            cwd=tmp_path, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "passed validation" in result.stdout + result.stderr
