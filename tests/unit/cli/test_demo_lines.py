"""The demo's line per batch: the batch number that landed, its window, and why the marts grew
by fewer orders than landed; the same in the JSON document."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from floe.cli.demo_cmd import _batch_label, _growth_document, _growth_line
from floe.demo.loop import BatchGrowth
from floe.demo.marts import WarehouseSnapshot
from floe.ingestion.clock import BatchWindow

END = datetime(2026, 11, 20, 10, 10, tzinfo=timezone.utc)


def _growth(before_batch: int | None, after_batch: int) -> BatchGrowth:
    counts = {"orders": 300, "duplicates": 6, "without_customer": 3, "without_region": 5, "late": 4}
    origin = END - timedelta(days=7)
    before = WarehouseSnapshot(bronze_rows={"bronze.orders": 1000, "bronze.order_items": 2500}, orders=950,
                               revenue=Decimal("100.00"),
                               batches={} if before_batch is None else {"shop": BatchWindow(
                                   before_batch, "wall", origin, END - timedelta(minutes=5), origin)})
    after = WarehouseSnapshot(bronze_rows={"bronze.orders": 1300, "bronze.order_items": 3200}, orders=1241,
                              revenue=Decimal("150.50"), batches={"shop": BatchWindow(
                                  after_batch, "wall", END - timedelta(minutes=5), END, origin, counts)})
    # The loop's third run landed batch 7: the line must say 7, not 3.
    return BatchGrowth(3, "run-id", True, 2.0, before, after, [])


def test_the_line_names_the_landed_batch_its_window_and_what_the_marts_removed() -> None:
    growth = _growth(6, 7)
    assert _batch_label(growth, 5) == "batch 7 [2026-11-20 10:05:00 → 10:10:00 UTC]"
    line = _growth_line(growth)
    assert line.startswith("+300 orders (+700 lines) landed, marts +291 (6 duplicates and 3 without customer "
                           "removed; 5 without region → 'unknown'; 4 late)"), line
    document = _growth_document(growth)
    assert document["run"] == 3 and document["batch"] == 7
    assert document["landed"] == [{"source": "shop", "batch": 7, "clock": "wall", "start": "2026-11-20T10:05:00+00:00",
                                   "end": "2026-11-20T10:10:00+00:00", "counts": {
                                       "orders": 300, "duplicates": 6, "without_customer": 3, "without_region": 5,
                                       "late": 4}}]
    assert document["new_orders"] == 291


def test_a_run_that_landed_nothing_says_so() -> None:
    growth = _growth(7, 7)  # the ingestion failed: the latest batch is still 7
    assert growth.landed == {}
    assert _batch_label(growth, 5) == "run 3 of 5, no batch landed"
    assert _growth_document(growth)["batch"] is None
    first = _growth(None, 0)  # nothing before: the first batch
    assert _batch_label(first, 1).startswith("batch 0 [")
