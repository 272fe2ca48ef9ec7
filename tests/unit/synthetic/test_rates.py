"""Burst and realistic rates: how many orders a batch holds."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from floe.synthetic import (
    Burst,
    EcommerceConfig,
    Realistic,
    SaasConfig,
    TemporalPattern,
    expected_events,
    expected_orders,
    generate_ecommerce_batch,
    generate_saas_batch,
)

MONDAY = datetime(2026, 1, 5, tzinfo=timezone.utc)


def test_burst_gives_exactly_n_orders() -> None:
    for count in (0, 1, 1234):
        batch = generate_ecommerce_batch(seed=1, batch_number=3, config=EcommerceConfig(rate=Burst(count=count)))
        assert batch.orders.num_rows == count
        assert batch.report.tables["orders"].unique_rows == count


def test_realistic_mean_is_the_base_rate_over_a_week() -> None:
    # Curves are normalized: a week of hourly batches expects exactly per_hour * 168 orders.
    config = EcommerceConfig(rate=Realistic(per_hour=1000), interval=timedelta(hours=1), start=MONDAY)
    week = [expected_orders(b, config) for b in range(168)]
    assert sum(week) == pytest.approx(168_000, rel=1e-6)


def test_realistic_rate_follows_the_curve() -> None:
    config = EcommerceConfig(rate=Realistic(per_hour=2000), interval=timedelta(hours=1), start=MONDAY,
                             pattern=TemporalPattern(weekdays=(1,) * 7))
    counts = {}
    for hour in (4, 10, 12, 20):
        batches = [hour + 24 * day for day in range(5)]
        counts[hour] = sum(generate_ecommerce_batch(seed=8, batch_number=b, config=config).orders.num_rows
                           for b in batches) / len(batches)
        mean = np.mean([expected_orders(b, config) for b in batches])
        # Poisson noise on ~100..4000 orders is a few percent at most.
        assert counts[hour] == pytest.approx(mean, rel=0.1), hour
    assert counts[20] > counts[10] > counts[12] > counts[4]
    assert counts[20] / counts[4] > 10


def test_realistic_rate_follows_weekday_and_trend() -> None:
    pattern = TemporalPattern(weekdays=(1, 1, 1, 1, 1, 2, 2), growth_per_year=0.5)
    config = EcommerceConfig(rate=Realistic(per_hour=100), interval=timedelta(days=1), start=MONDAY,
                             pattern=pattern)
    assert expected_orders(5, config) / expected_orders(0, config) == pytest.approx(2 * 1.5 ** (5 / 365.25))
    # A year of weeks later the same weekday expects 1.5 times more.
    assert expected_orders(364, config) / expected_orders(0, config) == pytest.approx(1.5 ** (364 / 365.25))
    counts = [generate_ecommerce_batch(seed=2, batch_number=b, config=config).orders.num_rows for b in range(7)]
    assert min(counts[5:]) > 1.7 * max(counts[:5])


def test_realistic_counts_are_deterministic_poisson_draws() -> None:
    config = EcommerceConfig(rate=Realistic(per_hour=600), interval=timedelta(minutes=10), start=MONDAY)
    draws = [generate_ecommerce_batch(seed=5, batch_number=b, config=config).orders.num_rows for b in range(60, 66)]
    again = [generate_ecommerce_batch(seed=5, batch_number=b, config=config).orders.num_rows for b in range(60, 66)]
    assert draws == again
    assert len(set(draws)) > 1  # a draw, not the rounded mean


def test_saas_events_follow_office_hours() -> None:
    config = SaasConfig(rate=Realistic(per_hour=3000), interval=timedelta(hours=1))
    tuesday_10, tuesday_3 = 24 + 10, 24 + 3
    assert expected_events(tuesday_10, config) > 20 * expected_events(tuesday_3, config)
    busy = generate_saas_batch(seed=1, batch_number=tuesday_10, config=config).events.num_rows
    quiet = generate_saas_batch(seed=1, batch_number=tuesday_3, config=config).events.num_rows
    assert busy > 10 * quiet
    saturday_10 = 5 * 24 + 10
    assert expected_events(saturday_10, config) < expected_events(tuesday_10, config) / 3
