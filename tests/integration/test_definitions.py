"""The Dagster code location built from the artifacts, loaded as Dagster loads it."""

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
from dagster import DefaultScheduleStatus
from floe.orchestration.definitions import defs

graph = defs.resolve_asset_graph()
out = {
    "assets": sorted(key.to_user_string() for key in graph.get_all_asset_keys()),
    "checks": sorted(key.name for key in graph.asset_check_keys),
    "jobs": sorted(job.name for job in defs.resolve_all_job_defs() if not job.name.startswith("__")),
    "schedules": {
        s.name: {"cron": s.cron_schedule, "tz": s.execution_timezone, "job": s.job_name,
                 "running": s.default_status == DefaultScheduleStatus.RUNNING, "description": s.description}
        for s in defs.schedules
    },
}
print(json.dumps(out))
"""


def _load(artifacts: Path, cwd: Path) -> dict:
    env = {**os.environ, "FLOE_ARTIFACTS_PATH": str(artifacts)}
    result = subprocess.run([sys.executable, "-c", _PROBE], cwd=cwd, env=env, capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_definitions_mirror_the_artifacts(compiled_project: Path, tmp_path: Path) -> None:
    # Loaded from elsewhere, by path alone: nothing depends on the working directory.
    found = _load(compiled_project / ".floe" / "artifacts.json", cwd=tmp_path)
    assert found["assets"] == ["customer_revenue", "raw_customers", "raw_orders", "stg_customers", "stg_orders"]
    assert "unique_customer_revenue_customer_id" in found["checks"]
    assert len(found["checks"]) == 10  # every dbt test is an asset check
    assert found["jobs"] == ["all", "marts"]
    assert found["schedules"] == {
        "marts_daily": {"cron": "0 6 * * *", "tz": "UTC", "job": "marts", "running": False,
                        "description": None},
    }


def test_declared_schedule_fields_are_honoured(compiled_project: Path, floe, tmp_path: Path) -> None:
    spec = compiled_project / "floe.yaml"
    spec.write_text(spec.read_text().replace(
        "    enabled: false\n",
        "    enabled: true\n    description: Morning build\n",
    ).replace('timezone: UTC', 'timezone: Europe/Berlin').replace('"0 6 * * *"', '"30 5 * * 1-5"'))
    assert floe("compile", cwd=compiled_project).returncode == 0
    found = _load(compiled_project / ".floe" / "artifacts.json", cwd=tmp_path)
    assert found["schedules"]["marts_daily"] == {
        "cron": "30 5 * * 1-5", "tz": "Europe/Berlin", "job": "marts", "running": True,
        "description": "Morning build",
    }


def test_dagster_itself_accepts_the_code_location(compiled_project: Path) -> None:
    dagster = Path(sys.executable).parent / "dagster"
    env = {**os.environ, "FLOE_ARTIFACTS_PATH": str(compiled_project / ".floe" / "artifacts.json"),
           "DAGSTER_HOME": str(compiled_project / ".floe")}
    result = subprocess.run([str(dagster), "definitions", "validate", "-m", "floe.orchestration.definitions"],
                            cwd=compiled_project, env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "all code locations passed validation" in (result.stdout + result.stderr).lower()


def test_missing_artifacts_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "FLOE_ARTIFACTS_PATH": str(tmp_path / "nope.json")}
    result = subprocess.run([sys.executable, "-c", "import floe.orchestration.definitions"], cwd=tmp_path,
                            env=env, capture_output=True, text=True, check=False)
    assert result.returncode != 0
    assert "compiled artifacts not found" in result.stderr
    assert "floe compile" in result.stderr
