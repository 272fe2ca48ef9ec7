"""Every dbt resource type, run by floe as plain ``dbt build`` runs it (issue 18, item 4).

The project (tests/support/kinds_project.py) is written as a dbt user writes one: seeds (one
read through a source over its table), a snapshot, an ephemeral model, a unit test, data tests,
a python model, an external parquet file and project hooks. floe wraps it with
``floe init --from-dbt`` and runs it; plain dbt builds a copy; the tables must be equal.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.support.kinds_project import write_kinds_project, write_plain_profile

pytestmark = pytest.mark.integration

COMPARED = ("main_raw.raw_customers", "main_raw.raw_orders", "main.stg_customers", "main.stg_orders",
            "main.revenue", "main.revenue_py")


def _rows(database: Path, relation: str) -> list[tuple[Any, ...]]:
    import duckdb

    with duckdb.connect(str(database), read_only=True) as connection:
        return sorted(connection.execute(f"select * from {relation}").fetchall())


def _plain_dbt_build(project: Path, profiles: Path) -> subprocess.CompletedProcess[str]:
    dbt = Path(sys.executable).parent / "dbt"
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    env.pop("DBT_TARGET_PATH", None)
    return subprocess.run([str(dbt), "build", "--profiles-dir", str(profiles)], cwd=project, env=env,
                          capture_output=True, text=True, check=False)


def test_every_resource_type_runs_as_plain_dbt_build_runs_it(tmp_path: Path, floe) -> None:  # type: ignore[no-untyped-def]
    original = write_kinds_project(tmp_path / "kinds_dbt")
    plain = shutil.copytree(original, tmp_path / "plain_dbt")
    plain_db = tmp_path / "plain.duckdb"
    profiles = write_plain_profile(tmp_path / "plain_profiles", plain_db)

    assert floe("init", "proj", "--from-dbt", str(original), cwd=tmp_path).returncode == 0
    project = tmp_path / "proj"
    # dbt does not order the source's reader after the seed: the first build may fail there, in
    # both; neither may crash. The second build of each finds the seed's table.
    first = floe("run", cwd=project)
    assert first.returncode in (0, 1), first.stderr
    assert "Traceback" not in first.stderr + first.stdout
    # The source over the seed's table gets its own asset, and the user is told why, by the
    # compile floe run made and by floe compile.
    for output in (first.stderr, floe("compile", cwd=project).stderr):
        assert "source 'raw.raw_customers'" in output and "ref('raw_customers')" in output, output
    _plain_dbt_build(plain, profiles)
    second = floe("run", "--json", cwd=project)
    assert second.returncode == 0, second.stdout + second.stderr
    plain_second = _plain_dbt_build(plain, profiles)
    assert plain_second.returncode == 0, plain_second.stdout

    import json

    nodes = {node["name"]: node for node in json.loads(second.stdout)["nodes"]}
    assert nodes["customers_snapshot"]["status"] == "success"
    assert nodes["revenue_py"]["status"] == "success"
    assert nodes["revenue_export"]["status"] == "success"
    assert nodes["revenue_sums_positive_orders"]["resource_type"] == "unit_test"
    assert nodes["revenue_sums_positive_orders"]["status"] in ("pass", "success")
    assert "eph_orders" not in nodes  # ephemeral: dbt builds no relation, nor does floe report one

    warehouse = project / ".floe" / "warehouse.duckdb"
    for relation in COMPARED:
        assert _rows(warehouse, relation) == _rows(plain_db, relation), relation
    snapshot = "select id, name, updated_at from main.customers_snapshot"
    assert _rows(warehouse, f"({snapshot})") == _rows(plain_db, f"({snapshot})")
    # Hooks ran as in dbt: on-run-start created the table, post-hooks and on-run-end wrote to it.
    audit = _rows(warehouse, "main.run_audit")
    assert ("run end",) in audit and ("post revenue",) in audit
    assert audit == _rows(plain_db, "main.run_audit")
    # The external materialization wrote its parquet file, with the table's rows.
    exported = [path for path in tmp_path.rglob("revenue_export.parquet") if "plain_dbt" not in path.parts]
    assert len(exported) == 1
    assert _rows(warehouse, f"read_parquet('{exported[0]}')") == _rows(plain_db, "main.revenue")
