"""The virtual clock and the shape of time: intervals, intraday curve, weekdays, trend."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from floe.synthetic import (
    Burst,
    EcommerceConfig,
    Realistic,
    TemporalPattern,
    batch_interval,
    expected_orders,
    generate_ecommerce_batch,
)
from floe.synthetic.randomness import stream
from floe.synthetic.temporal import MICROS_PER_HOUR, RETAIL_HOURLY, sample_times, to_micros

from .helpers import micros

MONDAY = datetime(2026, 1, 5, tzinfo=timezone.utc)


def test_batch_b_covers_its_own_interval() -> None:
    interval = batch_interval(MONDAY, timedelta(minutes=5), 7)
    assert interval.start == MONDAY + timedelta(minutes=35)
    assert interval.end == MONDAY + timedelta(minutes=40)
    assert interval.duration_us == 5 * 60 * 1_000_000


@pytest.mark.parametrize("length", [timedelta(seconds=1), timedelta(minutes=5), timedelta(days=1),
                                    timedelta(days=100)])
def test_timestamps_stay_inside_the_interval(length: timedelta) -> None:
    config = EcommerceConfig(rate=Burst(count=5000), interval=length)
    for b in (0, 1, 9):
        batch = generate_ecommerce_batch(seed=1, batch_number=b, config=config)
        start, end = to_micros(batch.report.interval_start), to_micros(batch.report.interval_end)
        for table, column in (("orders", "ordered_at"), ("customers", "signup_at")):
            times = micros(batch.tables[table], column)
            assert times.min() >= start and times.max() < end, (table, b)


def test_sampled_times_are_sorted_and_follow_the_intraday_curve() -> None:
    # One day in one interval: the hourly histogram must reproduce the curve's shape.
    pattern = TemporalPattern(weekdays=(1,) * 7)
    interval = batch_interval(MONDAY, timedelta(days=1), 0)
    times = sample_times(stream(0, 0, "test"), 400_000, interval, pattern, interval.start_us)
    assert np.all(np.diff(times) >= 0)
    counts = np.bincount((times - interval.start_us) // MICROS_PER_HOUR, minlength=24)
    fine = interval.start_us + np.arange(0, 24 * 60) * 60_000_000 + 30_000_000
    expected = pattern.intraday(fine).reshape(24, 60).mean(axis=1) / 24
    np.testing.assert_allclose(counts / counts.sum(), expected, atol=0.002)
    # The shape the docs promise: evening surge > morning peak > lunch dip > night trough.
    assert counts[20] > counts[10] > counts[12] > counts[4]
    assert counts[20] > 10 * counts[4]


def test_evening_surge_beats_4am_over_many_batches() -> None:
    # A day of 15-minute batches at a realistic rate, counted by the hour of ordered_at.
    config = EcommerceConfig(rate=Realistic(per_hour=1200), start=MONDAY, interval=timedelta(minutes=15))
    by_hour = np.zeros(24, dtype=np.int64)
    for b in range(24 * 4):
        batch = generate_ecommerce_batch(seed=3, batch_number=b, config=config)
        by_hour += np.bincount((micros(batch.orders, "ordered_at") - to_micros(MONDAY)) // MICROS_PER_HOUR,
                               minlength=24)
    assert by_hour.sum() == pytest.approx(sum(expected_orders(b, config) for b in range(24 * 4)), rel=0.03)
    assert by_hour[20] > 10 * by_hour[4]
    assert by_hour[10] > by_hour[12]


def test_weekday_factor_and_trend() -> None:
    pattern = TemporalPattern(hourly=(1,) * 24, weekdays=(1, 1, 1, 1, 1, 2, 2), growth_per_year=1.0)
    origin = to_micros(MONDAY)
    monday, saturday = np.array([origin]), np.array([origin + 5 * 24 * MICROS_PER_HOUR])
    assert pattern.weekday(saturday)[0] == pytest.approx(2 * pattern.weekday(monday)[0])
    assert pattern.weekday(np.arange(7) * 24 * MICROS_PER_HOUR + origin).mean() == pytest.approx(1.0)
    one_year = np.array([origin + int(365.25 * 24 * MICROS_PER_HOUR)])
    assert pattern.trend(one_year, origin)[0] == pytest.approx(2.0)
    assert pattern.trend(monday, origin)[0] == pytest.approx(1.0)


def test_intraday_curve_has_mean_one_and_the_documented_shape() -> None:
    pattern = TemporalPattern()
    minutes = np.arange(0, 24 * 60) * 60_000_000
    curve = pattern.intraday(minutes)
    assert curve.mean() == pytest.approx(1.0, abs=1e-3)
    hour_of_max = int(np.argmax(curve)) // 60
    hour_of_min = int(np.argmin(curve)) // 60
    assert (hour_of_max, hour_of_min) == (20, 4)
    assert RETAIL_HOURLY[12] < RETAIL_HOURLY[10] and RETAIL_HOURLY[12] < RETAIL_HOURLY[15]


def test_a_silent_pattern_still_places_a_burst_inside_the_interval() -> None:
    silent_at_night = TemporalPattern(hourly=(0,) * 6 + (1,) * 18)
    config = EcommerceConfig(rate=Burst(count=100), start=MONDAY, pattern=silent_at_night)
    batch = generate_ecommerce_batch(seed=1, batch_number=12, config=config)  # 01:00-01:05
    times = micros(batch.orders, "ordered_at")
    assert len(times) == 100
    assert times.min() >= to_micros(batch.report.interval_start)
    assert times.max() < to_micros(batch.report.interval_end)
