"""The wall clock: each batch's window, recorded with its appends, and retries that find it."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from floe.errors import FloeError
from floe.ingestion.clock import BatchWindow, latest_window, plan_window, wall_window
from floe.spec.ingestion import SyntheticSource

NOW = datetime(2026, 11, 20, 10, 0, tzinfo=timezone.utc)
WEEK = timedelta(days=7)


def _wall(**overrides: object) -> SyntheticSource:
    return SyntheticSource.model_validate({"type": "synthetic", "name": "shop", "dataset": "ecommerce",
                                           "clock": "wall", "backfill": "2d",
                                           "rate": {"type": "realistic", "per_hour": 60}, **overrides})


def _catalog(tmp_path: Path):
    from floe.lakehouse import open_catalog
    from floe.spec.platform import LocalStorage, SqlCatalog

    return open_catalog(SqlCatalog(type="sql"), LocalStorage(type="local"), tmp_path)


def test_the_first_window_backfills_and_the_next_ones_follow_each_other() -> None:
    first = wall_window(None, 0, NOW, WEEK)
    assert (first.start, first.end, first.origin) == (NOW - WEEK, NOW, NOW - WEEK)
    second = wall_window(first, 1, NOW + timedelta(minutes=5), WEEK)
    assert (second.start, second.end, second.origin) == (NOW, NOW + timedelta(minutes=5), NOW - WEEK)
    # Two runs in the same instant still cover a second; a clock that went back, too.
    assert wall_window(second, 2, second.end, WEEK).end == second.end + timedelta(seconds=1)
    assert wall_window(second, 2, NOW - timedelta(hours=1), WEEK).end == second.end + timedelta(seconds=1)
    # After a pause longer than the backfill, a batch covers the backfill; the next catches up.
    late = wall_window(second, 2, second.end + timedelta(days=10), WEEK)
    assert (late.start, late.end) == (second.end, second.end + WEEK)
    # Another time zone is the same instant, in UTC.
    assert wall_window(None, 0, NOW.astimezone(timezone(timedelta(hours=2))), WEEK).end.tzinfo == timezone.utc


def test_a_window_round_trips_through_its_record() -> None:
    window = BatchWindow(3, "wall", NOW, NOW + timedelta(seconds=90), NOW - WEEK, {"orders": 12, "duplicates": 1})
    assert BatchWindow.from_json(window.to_json(), "bronze.orders") == window
    with pytest.raises(FloeError, match=r"floe\.batch-window of bronze\.orders is not a batch window"):
        BatchWindow.from_json('{"batch": 1}', "bronze.orders")


@pytest.mark.parametrize(("fields", "message"), [
    ({"start": "2026-01-01T00:00:00Z"}, "start apply to the virtual clock only"),
    ({"interval": "5m"}, "interval apply to the virtual clock only"),
    ({"rate": {"type": "burst", "rows": 10}}, "burst rate"),
    ({"dataset": "saas"}, "ecommerce data set only"),
    ({"clock": "virtual"}, "backfill applies to the wall clock only"),
    ({"backfill": "10s"}, "backfill must be between 1m and 366d"),
])
def test_clock_fields_that_do_not_apply_are_refused(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        _wall(**fields)


def test_wall_batches_land_their_window_and_a_retry_after_a_partial_landing_regenerates_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np

    import floe.lakehouse
    from floe.ingestion.landing import land_batch, next_batch_number
    from floe.ingestion.synthetic import generate

    catalog = _catalog(tmp_path)
    source = _wall()
    first = land_batch(catalog, source, 0, now=lambda: NOW)
    assert first.window is not None and (first.window.start, first.window.end) == (NOW - timedelta(days=2), NOW)
    assert latest_window(catalog, source) == first.window
    assert first.window.counts["orders"] == first.report.tables["orders"].rows_written > 0

    # Batch 1 fails after its customers landed; the retry, minutes later, keeps the first window.
    real_append = floe.lakehouse.append_batch

    def crash_on_orders(catalog_, identifier, data, batch_id, **kwargs):
        if identifier == "bronze.orders":
            raise OSError("storage went away")
        return real_append(catalog_, identifier, data, batch_id, **kwargs)

    monkeypatch.setattr(floe.lakehouse, "append_batch", crash_on_orders)
    with pytest.raises(OSError):
        land_batch(catalog, source, 1, now=lambda: NOW + timedelta(hours=3))
    monkeypatch.setattr(floe.lakehouse, "append_batch", real_append)
    assert next_batch_number(catalog, source) == 1
    retried = land_batch(catalog, source, 1, now=lambda: NOW + timedelta(hours=5))
    assert retried.window is not None
    assert (retried.window.start, retried.window.end) == (NOW, NOW + timedelta(hours=3))
    assert {t.table: t.skipped for t in retried.tables}["bronze.customers"] is True

    # Exactly the generated rows, once: the retry regenerated the same batch.
    expected = generate(source, 1, plan_window(catalog, source, 1, NOW + timedelta(days=1)))
    customers = catalog.load_table("bronze.customers").scan().to_arrow()
    orders = catalog.load_table("bronze.orders").scan().to_arrow()
    ids = customers.column("customer_id").to_numpy()
    assert len(ids) == len(np.unique(ids))
    assert orders.num_rows == first.report.tables["orders"].rows_written + expected.report.tables["orders"].rows_written
    assert customers.num_rows == (first.report.tables["customers"].rows_written
                                  + expected.report.tables["customers"].rows_written)
    # The next batch starts where batch 1 ended, even though "now" moved on during the retry.
    third = land_batch(catalog, source, 2, now=lambda: NOW + timedelta(hours=6))
    assert third.window is not None and third.window.start == NOW + timedelta(hours=3)
    summary = catalog.load_table("bronze.order_items").current_snapshot().summary.additional_properties
    assert summary["floe.batch-end"] == (NOW + timedelta(hours=6)).isoformat()


def test_an_empty_wall_batch_still_completes(tmp_path: Path) -> None:
    """One second at 60 orders an hour: usually no order and no customer; the batch must
    still be marked complete, or the same number would come up forever."""
    from floe.ingestion.landing import land_batch, next_batch_number

    catalog = _catalog(tmp_path)
    source = _wall()
    land_batch(catalog, source, 0, now=lambda: NOW)
    for number in range(1, 4):
        landing = land_batch(catalog, source, number, now=lambda n=number: NOW + timedelta(seconds=n))
        assert next_batch_number(catalog, source) == number + 1, landing


def test_switching_clocks_on_landed_tables_is_refused(tmp_path: Path) -> None:
    from floe.ingestion.landing import land_batch

    catalog = _catalog(tmp_path)
    virtual = SyntheticSource.model_validate({"type": "synthetic", "name": "shop", "dataset": "ecommerce",
                                              "rate": {"type": "burst", "rows": 20}})
    land_batch(catalog, virtual, 0)
    with pytest.raises(FloeError, match=r"hold batches of the virtual clock, and floe\.yaml now says clock: wall"):
        land_batch(catalog, _wall(), 1, now=lambda: NOW)
