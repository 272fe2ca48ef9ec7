"""The virtual clock and when things happen on it: intraday curve, weekday factor, trend.

A generator does not read the wall clock. Batch ``b`` covers the half-open interval
``[start + b * interval, start + (b + 1) * interval)`` of a virtual clock, so the same
(seed, batch) always lands on the same instants, and its ``_generated_at`` is the interval
end (the moment a real extractor would have produced it).

Inside an interval, activity follows an intensity

    intensity(t) = intraday(hour of t) × weekday(day of t) × trend(t)

* ``intraday``: 24 hourly values, each holding at the middle of its hour and linearly
  interpolated between (wrapping at midnight), scaled so the day's mean is 1.
* ``weekday``: 7 factors, Monday first, scaled so the week's mean is 1.
* ``trend``: ``(1 + growth_per_year) ** years_since_origin``, the origin being the clock
  start, so a rate of 1,000 per hour means 1,000 per hour on average over a week, at the start.

The clock is UTC and the curve is read on it directly: a pattern describes the business's
own day, so shift the hourly values if it lives in another time zone.

Timestamps are drawn by inverse CDF of the intensity over the interval, vectorized: the
interval is cut into cells of at most one minute (at most 65,536 cells, so very long
intervals get coarser cells), the intensity is taken at each cell's middle, and a uniform
draw is mapped through the cumulative mass. The draws come out sorted for free: uniform
order statistics are normalized cumulative sums of exponentials, which costs O(n) instead
of a sort.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from floe.synthetic.errors import SyntheticConfigError
from floe.synthetic.randomness import FloatArray, Int64Array

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROS_PER_SECOND = 1_000_000
MICROS_PER_HOUR = 3600 * MICROS_PER_SECOND
MICROS_PER_DAY = 24 * MICROS_PER_HOUR
# A Julian year: the trend's unit.
MICROS_PER_YEAR = int(365.25 * MICROS_PER_DAY)
# 1970-01-01 was a Thursday; Python numbers Monday 0.
_EPOCH_WEEKDAY = 3
_MAX_CELL_MICROS = 60 * MICROS_PER_SECOND
_MAX_CELLS = 1 << 16
# Up to this many cells, map each cell's run of draws as a slice (no per-draw cell index).
_SLICED_CELLS = 64

# Online retail: quiet nights (trough at 04:00), a morning peak around 10:00, a lunch dip
# at 12:00-13:00, an afternoon plateau and the evening surge at 20:00.
RETAIL_HOURLY: tuple[float, ...] = (
    0.35, 0.22, 0.15, 0.11, 0.10, 0.14, 0.30, 0.55, 0.85, 1.10, 1.25, 1.20,
    0.95, 0.90, 1.05, 1.10, 1.15, 1.25, 1.45, 1.70, 1.85, 1.70, 1.25, 0.70,
)
# Shoppers buy a little more at the weekend.
RETAIL_WEEKDAYS: tuple[float, ...] = (0.97, 0.95, 0.96, 0.98, 1.02, 1.10, 1.12)
# A B2B product: office hours with a lunch dip, a small evening tail, quiet weekends.
BUSINESS_HOURLY: tuple[float, ...] = (
    0.08, 0.05, 0.04, 0.04, 0.05, 0.10, 0.30, 0.80, 1.50, 1.90, 2.00, 1.85,
    1.30, 1.45, 1.90, 1.85, 1.60, 1.20, 0.70, 0.45, 0.35, 0.30, 0.20, 0.12,
)
BUSINESS_WEEKDAYS: tuple[float, ...] = (1.20, 1.25, 1.25, 1.20, 1.05, 0.30, 0.25)


@dataclass(frozen=True)
class TemporalPattern:
    """How activity varies over the day, the week and the years.

    Attributes:
        hourly: 24 non-negative relative volumes, hour 0 first; only their shape matters.
        weekdays: 7 non-negative relative volumes, Monday first; only their shape matters.
        growth_per_year: Long-run trend, compounding: 0.2 means +20 % per year from the
            clock start; 0 is flat; must be above -1.
    """

    hourly: tuple[float, ...] = RETAIL_HOURLY
    weekdays: tuple[float, ...] = RETAIL_WEEKDAYS
    growth_per_year: float = 0.0

    def __post_init__(self) -> None:
        _check_shape("TemporalPattern.hourly", self.hourly, 24)
        _check_shape("TemporalPattern.weekdays", self.weekdays, 7)
        if not math.isfinite(self.growth_per_year) or self.growth_per_year <= -1:
            raise SyntheticConfigError("TemporalPattern.growth_per_year",
                                       f"{self.growth_per_year} is not a finite number above -1",
                                       hint="use 0 for no trend, 0.25 for +25 % a year")

    def intraday(self, times_us: Int64Array) -> FloatArray:
        """The intraday factor at each instant (mean 1 over a day)."""
        hourly = np.asarray(self.hourly, dtype=np.float64)
        # The curve is linear between hour middles, so its daily mean is the mean of the values.
        hourly = hourly / hourly.mean()
        knots = np.arange(-0.5, 24.5 + 1e-9, 1.0)
        values = np.concatenate([hourly[-1:], hourly, hourly[:1]])
        hours = (times_us % MICROS_PER_DAY) / MICROS_PER_HOUR
        factor: FloatArray = np.interp(hours, knots, values)
        return factor

    def weekday(self, times_us: Int64Array) -> FloatArray:
        """The weekday factor at each instant (mean 1 over a week)."""
        factors = np.asarray(self.weekdays, dtype=np.float64)
        factors = factors / factors.mean()
        day = (times_us // MICROS_PER_DAY + _EPOCH_WEEKDAY) % 7
        picked: FloatArray = factors[day]
        return picked

    def trend(self, times_us: Int64Array, origin_us: int) -> FloatArray:
        """The trend factor at each instant, 1 at ``origin_us``."""
        years = (times_us - origin_us) / MICROS_PER_YEAR
        growth: FloatArray = np.power(1.0 + self.growth_per_year, years)
        return growth

    def intensity(self, times_us: Int64Array, origin_us: int) -> FloatArray:
        """Relative activity at each instant: intraday × weekday × trend."""
        product: FloatArray = self.intraday(times_us) * self.weekday(times_us) * self.trend(times_us, origin_us)
        return product


@dataclass(frozen=True)
class BatchInterval:
    """The half-open interval of the virtual clock one batch covers, in microseconds since
    the Unix epoch (UTC)."""

    start_us: int
    end_us: int

    @property
    def start(self) -> datetime:
        return EPOCH + timedelta(microseconds=self.start_us)

    @property
    def end(self) -> datetime:
        return EPOCH + timedelta(microseconds=self.end_us)

    @property
    def duration_us(self) -> int:
        return self.end_us - self.start_us


def to_micros(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * MICROS_PER_SECOND + delta.microseconds


def batch_interval(start: datetime, interval: timedelta, batch_number: int) -> BatchInterval:
    """``[start + b * interval, start + (b + 1) * interval)`` for ``b = batch_number``."""
    try:
        end = start + (batch_number + 1) * interval
    except OverflowError:
        end = None
    if end is None or end.year > 9998:
        raise SyntheticConfigError("batch_number", f"batch {batch_number} ends after the year 9998 on a clock "
                                   f"starting {start.isoformat()} with {interval} per batch",
                                   hint="use a smaller batch number or a shorter interval")
    step = to_micros(start + interval) - to_micros(start)
    start_us = to_micros(start) + batch_number * step
    return BatchInterval(start_us, start_us + step)


def _cells(interval: BatchInterval, pattern: TemporalPattern, origin_us: int) -> tuple[FloatArray, FloatArray]:
    """Cell edges (offsets from the interval start, µs) and each cell's intensity mass (µs)."""
    duration = interval.duration_us
    count = min(max(1, -(-duration // _MAX_CELL_MICROS)), _MAX_CELLS)
    edges = np.linspace(0.0, float(duration), count + 1)
    middles = interval.start_us + ((edges[:-1] + edges[1:]) / 2).astype(np.int64)
    mass: FloatArray = pattern.intensity(middles, origin_us) * np.diff(edges)
    return edges, mass


def integrated_intensity(interval: BatchInterval, pattern: TemporalPattern, origin_us: int) -> float:
    """The intensity integrated over the interval, in hours: the expected count of a process
    whose mean rate is one per hour."""
    _, mass = _cells(interval, pattern, origin_us)
    return float(mass.sum()) / MICROS_PER_HOUR


def sample_times(rng: np.random.Generator, size: int, interval: BatchInterval, pattern: TemporalPattern,
                 origin_us: int) -> Int64Array:
    """``size`` sorted instants (µs since epoch) in the interval, distributed as the intensity.

    When the intensity is zero over the whole interval (a pattern with silent hours), the
    instants are spread uniformly instead: a burst of N must still produce N timestamps.
    """
    if size == 0:
        return np.empty(0, dtype=np.int64)
    edges, mass = _cells(interval, pattern, origin_us)
    if not mass.sum() > 0:
        mass = np.diff(edges)
    targets = rng.standard_exponential(size + 1)
    np.cumsum(targets, out=targets)
    cumulative = np.cumsum(mass)
    targets *= cumulative[-1] / targets[-1]
    # The targets are sorted, so each cell's share is a contiguous run: find the run ends with
    # one binary search per cell instead of one per target, then map every target through its
    # cell's linear piece of the inverse CDF.
    ends = np.searchsorted(targets[:-1], cumulative, side="right")
    ends[-1] = size
    occupied = mass > 0
    slope = np.where(occupied, np.diff(edges) / np.where(occupied, mass, 1.0), 0.0)
    intercept = edges[:-1] - (cumulative - mass) * slope
    offsets = targets[:-1]
    if len(mass) <= _SLICED_CELLS:
        begin = 0
        for cell, end in enumerate(ends.tolist()):
            if end > begin:
                piece = offsets[begin:end]
                piece *= slope[cell]
                piece += intercept[cell]
            begin = end
    else:
        cell_of = np.repeat(np.arange(len(mass)), np.diff(ends, prepend=0))
        offsets *= slope[cell_of]
        offsets += intercept[cell_of]
    micros = offsets.astype(np.int64)
    np.clip(micros, 0, interval.duration_us - 1, out=micros)
    # Rounding at cell borders must not unsort the draws.
    np.maximum.accumulate(micros, out=micros)
    micros += interval.start_us
    return micros


def not_before(times_us: Int64Array, owners: Int64Array, first_new_owner: int, owner_times_us: Int64Array) -> None:
    """Move ``times_us`` (in place) to no earlier than their owner's time, for the owners this
    batch introduces (ids ``first_new_owner, first_new_owner + 1, ...`` with times
    ``owner_times_us``); owners of earlier batches predate the interval anyway.

    An order cannot precede its customer's signup, nor an event its user's creation. The
    owner's time lies in the same interval, so the moved time stays inside it.
    """
    fresh = np.flatnonzero(owners >= first_new_owner)
    times_us[fresh] = np.maximum(times_us[fresh], owner_times_us[owners[fresh] - first_new_owner])


def _check_shape(field: str, values: tuple[float, ...], length: int) -> None:
    if len(values) != length:
        raise SyntheticConfigError(field, f"expected {length} values, got {len(values)}")
    if not all(math.isfinite(v) and v >= 0 for v in values) or sum(values) <= 0:
        raise SyntheticConfigError(field, f"values must be finite, non-negative and not all zero, got {values}")
