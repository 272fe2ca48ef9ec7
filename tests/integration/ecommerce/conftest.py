"""Running the ecommerce template's dbt project for real, on a DuckDB file in tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RUNTIME_ENV
from tests.integration.ecommerce.bronze import TIER_VARS, write_project


def run_dbt(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the real dbt of this environment in a child process; fail the test if it fails."""
    dbt = Path(sys.executable).parent / "dbt"
    # Without what an in-process floe run of an earlier test exported (DBT_TARGET_PATH would send
    # this project's manifest to that project's target folder).
    inherited = {key: value for key, value in os.environ.items() if key not in RUNTIME_ENV}
    env = {**inherited, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DBT_USE_COLORS": "false"}
    result = subprocess.run(
        [str(dbt), *args, "--project-dir", str(project), "--profiles-dir", str(project),
         "--vars", json.dumps(TIER_VARS)],
        cwd=project, env=env, capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, f"dbt {' '.join(args)} failed:\n{result.stdout[-4000:]}\n{result.stderr[-2000:]}"
    return result


@pytest.fixture
def dbt_project(tmp_path: Path) -> tuple[Path, Path]:
    """(dbt project dir, DuckDB file) of a fresh copy of the template."""
    database = tmp_path / "warehouse.duckdb"
    return write_project(tmp_path, database), database


def query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        return connection.execute(sql).fetchall()
