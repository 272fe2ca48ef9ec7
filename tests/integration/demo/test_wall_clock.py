"""The live demo on the wall clock, as users run it: a week of backfill ending now, batches
that follow each other up to the moment they land, a retry after a failed landing that lands
the same batch once, and batch lines that name the batch that landed."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from tests.support.demo_project import set_wall_rate

pytestmark = pytest.mark.integration

TIMEOUT_S = 1200


def _documents(stdout: str) -> list[dict]:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(timezone.utc)


def test_wall_clock_demo_backfills_a_week_lands_live_batches_and_retries_once(
        floe, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert floe("init", "shop", "--template", "ecommerce", cwd=tmp_path).returncode == 0
    root = tmp_path / "shop"
    set_wall_rate(root, per_hour=300)  # ~50,000 orders in the week: quick on a busy machine

    started = datetime.now(timezone.utc)
    result = floe("demo", "run", "--batches", "2", "--json", cwd=root, timeout=TIMEOUT_S)
    finished = datetime.now(timezone.utc)
    assert result.returncode == 0, result.stderr[-3000:]
    first, second = _documents(result.stdout)
    assert (first["batch"], second["batch"]) == (0, 1)

    # The backfill: one batch covering the week before it landed.
    (backfill,) = first["landed"]
    start, end = _when(backfill["start"]), _when(backfill["end"])
    assert backfill["clock"] == "wall" and end - start == timedelta(days=7)
    assert started <= end <= finished
    # The next batch starts where it ended and runs up to its own landing.
    (live,) = second["landed"]
    assert _when(live["start"]) == end and end < _when(live["end"]) <= finished
    # The marts grew by what landed, minus exactly the counted duplicates and orders without customer.
    for document in (first, second):
        counts = document["landed"][0]["counts"]
        assert document["bronze_new_rows"]["bronze.orders"] == counts["orders"]
        assert document["new_orders"] == counts["orders"] - counts["duplicates"] - counts["without_customer"]
    assert first["new_orders"] > 10_000

    import duckdb

    with duckdb.connect(str(root / ".floe" / "warehouse.duckdb"), read_only=True) as connection:
        oldest, newest = connection.execute("select min(ordered_at), max(ordered_at) from stg_orders").fetchone()
        unknown = connection.execute("select coalesce(sum(orders), 0) from mart_revenue where region = 'unknown'"
                                     ).fetchone()[0]
        early = connection.execute("select count(*) from mart_customer_segments where first_ordered_at < signup_at"
                                   ).fetchone()[0]
    # Curves and "last hour" filters show at once: a week of orders, the newest minutes old.
    assert start <= oldest < start + timedelta(hours=1)
    assert _when(live["end"]) - timedelta(minutes=15) < newest < _when(live["end"])
    assert early == 0
    # 'unknown' regions are exactly the injected nulls among the orders the marts keep.
    assert 0 < unknown <= sum(d["landed"][0]["counts"]["without_region"] for d in (first, second))

    # A landing that fails half-way (customers landed, then storage broke) ... ten minutes from
    # now, so that its window surely holds customers and orders (a few seconds may hold none).
    import floe.lakehouse as lakehouse
    from floe.contract.project import open_compiled_project
    from floe.ingestion.clock import recorded_windows
    from floe.ingestion.landing import land_batch
    from floe.orchestration.lakehouse import open_project_catalog

    compiled = open_compiled_project(root / ".floe" / "artifacts.json")
    source = compiled.artifacts.ingestion[0]
    real_append = lakehouse.append_batch

    def storage_breaks_at_orders(catalog, identifier, data, batch_id, **kwargs):
        if identifier.endswith(".orders"):
            raise OSError("storage went away")
        return real_append(catalog, identifier, data, batch_id, **kwargs)

    monkeypatch.setattr(lakehouse, "append_batch", storage_breaks_at_orders)
    failed_at = datetime.now(timezone.utc) + timedelta(minutes=10)
    with pytest.raises(OSError):
        land_batch(open_project_catalog(compiled), source, 2, now=lambda: failed_at)
    monkeypatch.setattr(lakehouse, "append_batch", real_append)
    assert recorded_windows(open_project_catalog(compiled), source)["customers"].number == 2

    # ... is completed by the next run, with the window it chose, once; the line names batch 2.
    again = floe("demo", "run", "--batches", "1", cwd=root, timeout=TIMEOUT_S)
    assert again.returncode == 0, again.stderr[-3000:]
    line = next(line for line in again.stdout.splitlines() if "batch" in line)
    assert line.startswith("✓ batch 2 [") and " lines) landed, marts +" in line, again.stdout
    windows = recorded_windows(open_project_catalog(compiled), source)
    assert {window.number for window in windows.values() if window.number} == {2}
    assert windows["order_items"].start == _when(live["end"]) and windows["order_items"].end == failed_at
    catalog = open_project_catalog(compiled)
    customers = catalog.load_table("bronze.customers").scan().to_arrow().column("customer_id").to_pylist()
    assert len(customers) == len(set(customers))
    orders = catalog.load_table("bronze.orders").scan().to_arrow()
    landed = sum(d["landed"][0]["counts"]["orders"] for d in (first, second)) + windows["orders"].counts["orders"]
    assert orders.num_rows == landed
