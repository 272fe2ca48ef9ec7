"""Defects: what the report says was injected is exactly what the tables hold."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from floe.synthetic import (
    DefectConfig,
    EcommerceConfig,
    SaasConfig,
    drop_duplicates,
    generate_ecommerce_batch,
    generate_saas_batch,
    order_totals,
)
from floe.synthetic.temporal import MICROS_PER_HOUR, to_micros

from .helpers import ints, micros

DEFECTS = DefectConfig(null_rates={"orders.customer_id": 0.03, "orders.region": 0.05, "customers.email": 0.1},
                       duplicate_rate=0.04, late_rate=0.06)
CONFIG = EcommerceConfig(signups_per_order=0.5, defects=DEFECTS)


@pytest.fixture(scope="module", params=[0, 1, 30])
def dirty(request: pytest.FixtureRequest):
    return generate_ecommerce_batch(seed=31, batch_number=request.param, config=CONFIG)


def _copies(table: pa.Table) -> int:
    """Rows beyond the first of each group of identical rows (every column compared)."""
    groups = table.group_by(table.column_names).aggregate([([], "count_all")])
    return table.num_rows - groups.num_rows


def test_defaults_inject_nothing() -> None:
    batch = generate_ecommerce_batch(seed=31, batch_number=1)
    for name, report in batch.report.tables.items():
        assert report.duplicates_added == 0 and report.late_rows == 0 and not report.nulls_injected, name
        assert report.rows_written == report.unique_rows == batch.tables[name].num_rows
        assert _copies(batch.tables[name]) == 0
        assert sum(batch.tables[name].column(c).null_count for c in batch.tables[name].column_names) == 0


def test_duplicates_are_exact_copies_counted_in_the_report(dirty) -> None:
    for name in ("orders", "order_items"):
        report, table = dirty.report.tables[name], dirty.tables[name]
        assert report.duplicates_added > 0
        assert table.num_rows == report.rows_written == report.unique_rows + report.duplicates_added
        assert _copies(table) == report.duplicates_added
        key = "order_id" if name == "orders" else "order_item_id"
        assert len(np.unique(ints(table, key))) == report.unique_rows
        assert drop_duplicates(table, key).num_rows == report.unique_rows
    assert _copies(dirty.customers) == 0


def test_a_duplicated_order_does_not_bring_its_items_along(dirty) -> None:
    orders, items = dirty.orders, dirty.order_items
    unique_orders = dirty.report.tables["orders"].unique_rows
    copied_orders = set(ints(orders.slice(unique_orders), "order_id").tolist())
    unique_items = dirty.report.tables["order_items"].unique_rows
    copied_item_orders = set(ints(items.slice(unique_items), "order_id").tolist())
    # Items are picked on their own: some copied orders keep a single copy of their items.
    assert copied_orders - copied_item_orders


def test_null_counts_match_the_report(dirty) -> None:
    for key, injected in dirty.report.nulls_injected.items():
        table_name, column = key.split(".")
        report, table = dirty.report.tables[table_name], dirty.tables[table_name]
        assert table.column(column).null_count == report.nulls_written[column]
        key_column = table.column_names[0]
        assert drop_duplicates(table, key_column).column(column).null_count == injected
        assert injected > 0
    assert set(dirty.report.nulls_injected) == set(DEFECTS.null_rates)
    # Null rates are rates: roughly the configured share of rows.
    orders = dirty.report.tables["orders"]
    assert orders.nulls_injected["region"] / orders.unique_rows == pytest.approx(0.05, abs=0.03)


def test_late_rows_lie_one_hour_to_three_days_before_the_interval(dirty) -> None:
    start, end = to_micros(dirty.report.interval_start), to_micros(dirty.report.interval_end)
    ordered_at = micros(dirty.orders, "ordered_at")
    late = ordered_at < start
    report = dirty.report.tables["orders"]
    assert late.sum() == report.late_rows_written
    assert np.sum(micros(drop_duplicates(dirty.orders, "order_id"), "ordered_at") < start) == report.late_rows
    # A late order never precedes its customer's sign-up, so only customers who signed up more
    # than late_min (1 h) before the batch can have late orders: none in batches 0 and 1.
    assert (report.late_rows > 0) == (dirty.report.batch_number == 30)
    assert np.all(ordered_at[late] >= start - 72 * MICROS_PER_HOUR)
    assert np.all(ordered_at[late] <= start - MICROS_PER_HOUR)
    assert np.all(ordered_at[~late] < end)


def test_cleaning_reproduces_the_reported_totals(dirty) -> None:
    totals = order_totals(dirty.orders, dirty.order_items)
    assert totals.orders_with_customer == dirty.report.orders_with_customer
    assert totals.revenue_with_customer == dirty.report.revenue_with_customer
    assert dirty.report.orders_with_customer == 1000 - dirty.report.nulls_injected["orders.customer_id"]
    assert dirty.report.revenue_with_customer < dirty.report.clean_revenue
    # Summing the dirty tables naively double counts the copied lines.
    items = dirty.order_items
    naive = pc.sum(pc.subtract(pc.multiply(items.column("quantity"), items.column("unit_price")),
                               items.column("discount"))).as_py()
    assert naive > dirty.report.clean_revenue


def test_custom_late_window() -> None:
    defects = DefectConfig(late_rate=1.0, late_min=timedelta(minutes=10), late_max=timedelta(minutes=20))
    batch = generate_ecommerce_batch(seed=1, batch_number=50, config=EcommerceConfig(defects=defects))
    start = to_micros(batch.report.interval_start)
    lag = start - micros(batch.orders, "ordered_at")
    late = lag > 0
    assert lag[late].min() >= 10 * 60_000_000 and lag[late].max() <= 20 * 60_000_000
    # Every order is picked; only those whose customer signed up too recently stay on time.
    assert batch.report.late_rows == {"orders": int(late.sum())} and late.sum() > 900
    customers = {c: t for b in range(51) for c, t in zip(
        *(col.to_pylist() for col in generate_ecommerce_batch(seed=1, batch_number=b, config=EcommerceConfig(
            defects=defects)).customers.select(["customer_id", "signup_at"]).columns), strict=True)}
    for customer, ordered, on_time in zip(batch.orders.column("customer_id").to_pylist(),
                                          batch.orders.column("ordered_at").to_pylist(), ~late, strict=True):
        assert ordered >= customers[customer]
        if on_time:  # not eligible: signed up less than late_min before the batch
            assert customers[customer] > batch.report.interval_start - timedelta(minutes=10)


def test_rate_one_nulls_every_value() -> None:
    defects = DefectConfig(null_rates={"orders.customer_id": 1.0})
    batch = generate_ecommerce_batch(seed=1, batch_number=2, config=EcommerceConfig(defects=defects))
    assert batch.orders.column("customer_id").null_count == 1000
    assert batch.report.orders_with_customer == 0
    assert batch.report.revenue_with_customer == 0
    assert order_totals(batch.orders, batch.order_items).revenue_with_customer == 0


def test_saas_defects_are_counted() -> None:
    defects = DefectConfig(null_rates={"events.user_id": 0.1, "users.email": 0.2, "organizations.industry": 0.3},
                           duplicate_rate=0.05, late_rate=0.05)
    batch = generate_saas_batch(seed=12, batch_number=3, config=SaasConfig(organizations_per_batch=50,
                                                                         users_per_batch=200, defects=defects))
    report = batch.report.tables
    events = batch.events
    assert _copies(events) == report["events"].duplicates_added > 0
    assert events.column("user_id").null_count == report["events"].nulls_written["user_id"]
    deduped = drop_duplicates(events, "event_id")
    assert deduped.column("user_id").null_count == report["events"].nulls_injected["user_id"]
    assert batch.report.events_with_user == deduped.num_rows - deduped.column("user_id").null_count
    assert batch.users.column("email").null_count == report["users"].nulls_injected["email"] > 0
    assert batch.organizations.column("industry").null_count == report["organizations"].nulls_injected["industry"]
    start = to_micros(batch.report.interval_start)
    assert np.sum(micros(events, "occurred_at") < start) == report["events"].late_rows_written > 0
    assert _copies(batch.users) == _copies(batch.subscriptions) == 0
