"""Realism of the e-commerce data on the wall clock's batches: value tiers, sign-ups before
orders, regions, and order times that follow the curve inside every batch (fixed seeds,
generous bounds)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import yaml

from floe.synthetic import Burst, DefectConfig, EcommerceConfig, Realistic, generate_ecommerce_batch
from floe.synthetic.temporal import (
    MICROS_PER_HOUR,
    RETAIL_HOURLY,
    BatchInterval,
    TemporalPattern,
    to_micros,
)

from .helpers import ints, micros

ORIGIN = datetime(2026, 11, 13, 9, 30, tzinfo=timezone.utc)
DEFECTS = DefectConfig(null_rates={"orders.customer_id": 0.01, "orders.region": 0.02, "customers.email": 0.05},
                       duplicate_rate=0.01, late_rate=0.05)
CONFIG = EcommerceConfig(rate=Realistic(per_hour=300), start=ORIGIN, defects=DEFECTS)
DBT_PROJECT = Path(__file__).parents[3] / "src" / "floe" / "templates" / "ecommerce" / "dbt" / "dbt_project.yml"


def _window(start: datetime, end: datetime) -> BatchInterval:
    return BatchInterval(to_micros(start), to_micros(end))


@pytest.fixture(scope="module")
def wall_batches() -> list:
    """A week of backfill, then batches of 5 minutes, 2 hours and 1 second, as the wall clock cuts them."""
    week = ORIGIN + timedelta(days=7)
    ends = [week, week + timedelta(minutes=5), week + timedelta(hours=2, minutes=5),
            week + timedelta(hours=2, minutes=5, seconds=1)]
    starts = [ORIGIN, *ends[:-1]]
    return [generate_ecommerce_batch(seed=42, batch_number=b, config=CONFIG, interval=_window(s, e))
            for b, (s, e) in enumerate(zip(starts, ends, strict=True))]


def _signups(batches: list) -> dict[int, int]:
    return {c: t for batch in batches for c, t in zip(ints(batch.customers, "customer_id").tolist(),
                                                      micros(batch.customers, "signup_at").tolist(), strict=True)}


def test_value_tiers_are_plausible_with_the_templates_thresholds(wall_batches: list) -> None:
    """The template's mart_customer_segments rule on a week of clean orders: high is a minority."""
    from floe.synthetic import drop_duplicates

    tiers = yaml.safe_load(DBT_PROJECT.read_text())["vars"]
    backfill = wall_batches[0]
    orders = drop_duplicates(backfill.orders, "order_id")
    items = drop_duplicates(backfill.order_items, "order_item_id")
    net = (ints(items, "quantity") * items.column("unit_price").to_numpy().astype(float)
           - items.column("discount").to_numpy().astype(float))
    order_ids = ints(orders, "order_id")
    revenue_of_order = np.zeros(len(order_ids))
    np.add.at(revenue_of_order, np.searchsorted(order_ids, ints(items, "order_id")), net)
    customer = orders.column("customer_id").to_numpy(zero_copy_only=False)
    kept = ~np.isnan(customer.astype(float))
    ids = ints(backfill.customers, "customer_id")
    position = np.searchsorted(ids, customer[kept].astype(np.int64))
    count = np.bincount(position, minlength=len(ids))
    revenue = np.bincount(position, weights=revenue_of_order[kept], minlength=len(ids))
    frequency = np.select([count >= tiers["value_tier_orders_high"], count >= tiers["value_tier_orders_medium"],
                           count >= 1], [3, 2, 1], 0)
    monetary = np.select([count == 0, revenue >= tiers["value_tier_revenue_high"],
                          revenue >= tiers["value_tier_revenue_medium"]], [0, 3, 2], 1)
    score = frequency + monetary
    share = {"none": np.mean(count == 0), "high": np.mean((count > 0) & (score >= 5)),
             "medium": np.mean((count > 0) & (score >= 3) & (score < 5)), "low": np.mean((count > 0) & (score < 3))}
    assert 0.02 < share["high"] < 0.3, share
    assert share["high"] < share["medium"] and share["high"] < share["low"] + share["none"], share
    # Most customers order once or twice; a few loyal ones order often.
    ordered = count[count > 0]
    assert np.mean(ordered <= 2) > 0.5 and ordered.max() >= 5


def test_no_order_precedes_its_customers_signup_late_ones_included(wall_batches: list) -> None:
    signup = _signups(wall_batches)
    late_total = 0
    for batch in wall_batches:
        orders = batch.orders
        customer = orders.column("customer_id").to_pylist()
        placed = micros(orders, "ordered_at").tolist()
        assert all(c is None or t >= signup[c] for c, t in zip(customer, placed, strict=True))
        start = to_micros(batch.report.interval_start)
        # Every order before its batch's window is an injected late arrival, and counted.
        assert sum(t < start for t in placed) == batch.report.tables["orders"].late_rows_written
        late_total += batch.report.tables["orders"].late_rows
    assert late_total > 0


def test_unknown_regions_are_exactly_the_injected_nulls(wall_batches: list) -> None:
    """An order's region is its customer's; the only orders without one are the counted nulls."""
    region = {c: r for batch in wall_batches for c, r in zip(batch.customers.column("customer_id").to_pylist(),
                                                             batch.customers.column("region").to_pylist(), strict=True)}
    for batch in wall_batches:
        orders = batch.orders
        assert orders.column("region").null_count == batch.report.tables["orders"].nulls_written.get("region", 0)
        assert batch.customers.column("region").null_count == 0
        for customer, order_region in zip(orders.column("customer_id").to_pylist(),
                                          orders.column("region").to_pylist(), strict=True):
            assert order_region is None or customer is None or order_region == region[customer]


def test_orders_are_not_biased_towards_the_end_of_a_batch() -> None:
    """With a flat curve, order times are uniform inside the batch (moving new customers'
    orders after their sign-up used to pile them up at the end)."""
    flat = TemporalPattern(hourly=(1.0,) * 24, weekdays=(1.0,) * 7)
    config = EcommerceConfig(rate=Burst(count=100_000), pattern=flat)
    for number in (0, 5):
        batch = generate_ecommerce_batch(seed=7, batch_number=number, config=config)
        start, end = to_micros(batch.report.interval_start), to_micros(batch.report.interval_end)
        position = (micros(batch.orders, "ordered_at") - start) / (end - start)
        assert position.mean() == pytest.approx(0.5, abs=0.01)
        assert np.mean(position >= 0.9) == pytest.approx(0.1, abs=0.01)
        assert np.mean(position < 0.1) == pytest.approx(0.1, abs=0.01)


def test_a_week_follows_the_intraday_curve_and_signups_follow_it_too(wall_batches: list) -> None:
    backfill = wall_batches[0]
    expected = np.asarray(RETAIL_HOURLY) / sum(RETAIL_HOURLY)
    for times in (micros(backfill.orders, "ordered_at"), micros(backfill.customers, "signup_at")):
        hours = np.bincount((times % (24 * MICROS_PER_HOUR)) // MICROS_PER_HOUR, minlength=24) / len(times)
        assert np.corrcoef(hours, expected)[0, 1] > 0.97
        assert np.argmax(hours) in (19, 20, 21) and np.argmin(hours) in (2, 3, 4, 5)
