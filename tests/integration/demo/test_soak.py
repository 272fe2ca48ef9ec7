"""A short soak in accelerated time: consecutive batches with no failure and bounded overhead.

Each batch is a whole pipeline run (the benchmark runs 288, a day at five minutes). Retention
is tightened so that, at test speed, Iceberg history stays at a fixed size: the snapshots
kept, the metadata files and dbt's run folders must not grow with the number of batches.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pytest

from tests.support.demo_project import use_virtual_clock

pytestmark = pytest.mark.integration

BATCHES = 6


def _metadata_files(lakehouse: Path) -> int:
    return sum(1 for _ in lakehouse.rglob("*.metadata.json"))


def test_consecutive_batches_with_bounded_history(floe, tmp_path: Path) -> None:
    assert floe("init", "shop", "--template", "ecommerce", cwd=tmp_path).returncode == 0
    root = tmp_path / "shop"
    use_virtual_clock(root)  # every batch adds orders, whatever the time between runs
    spec = root / "floe.yaml"
    spec.write_text(spec.read_text()
                    .replace("max_snapshot_age: 1h", "max_snapshot_age: 0s")
                    .replace("min_snapshots_to_keep: 10", "min_snapshots_to_keep: 2")
                    .replace("keep_runs: 288", "keep_runs: 3"))

    result = floe("demo", "run", "--batches", str(BATCHES), "--json", cwd=root, timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    runs = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert len(runs) == BATCHES and all(run["success"] for run in runs)
    orders = [run["bronze_rows"]["bronze.orders"] for run in runs]
    assert all(later > earlier for earlier, later in itertools.pairwise(orders))

    from floe.contract.project import open_compiled_project
    from floe.orchestration.lakehouse import open_project_catalog

    compiled = open_compiled_project(root / ".floe" / "artifacts.json")
    catalog = open_project_catalog(compiled)
    for table in ("customers", "orders", "order_items"):
        assert len(catalog.load_table(f"bronze.{table}").snapshots()) <= 2, table
    # Previous metadata versions are capped per table (10) however many batches land.
    assert _metadata_files(root / ".floe" / "lakehouse") <= 4 * 11
    assert len([p for p in (root / ".floe" / "dbt" / "target").iterdir() if p.is_dir()]) <= 3
    assert len(list((root / ".floe" / "logs").glob("run-*.log"))) <= BATCHES
    # Dagster's run history keeps the newest runs only, event-log files included.
    run_files = [p for p in (root / ".floe" / "dagster" / "history" / "runs").glob("*.db") if p.stem != "index"]
    assert 1 <= len(run_files) <= 4
