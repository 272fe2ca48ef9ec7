"""How many events a batch holds: a fixed burst, or a realistic rate that follows the clock.

* :class:`Burst` — exactly ``count`` per batch, whatever the hour. For load tests and for
  benchmarks. Their timestamps still follow the temporal pattern inside the interval.
* :class:`Realistic` — ``Poisson(per_hour × ∫ intensity dt)`` over the batch interval, with
  the intensity of :mod:`floe.synthetic.temporal` (intraday curve × weekday factor × trend).
  The Poisson draw comes from the batch's own seeded stream, so the count is a pure function
  of (seed, batch number, config).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from floe.synthetic.errors import SyntheticConfigError
from floe.synthetic.temporal import BatchInterval, TemporalPattern, integrated_intensity


@dataclass(frozen=True)
class Burst:
    """Exactly ``count`` events per batch.

    Attributes:
        count: Events per batch, zero or more.
    """

    count: int = 1000

    def __post_init__(self) -> None:
        if isinstance(self.count, bool) or not isinstance(self.count, int) or self.count < 0:
            raise SyntheticConfigError("Burst.count", f"{self.count!r} is not a non-negative integer",
                                       hint="e.g. Burst(count=1000)")


@dataclass(frozen=True)
class Realistic:
    """A Poisson count whose mean follows the temporal pattern.

    Attributes:
        per_hour: Mean events per hour averaged over a week at the clock start (the pattern's
            curves are normalized to mean 1); the trend scales it from there.
    """

    per_hour: float = 12_000.0

    def __post_init__(self) -> None:
        if isinstance(self.per_hour, bool) or not isinstance(self.per_hour, (int, float)) \
                or not math.isfinite(self.per_hour) or self.per_hour < 0:
            raise SyntheticConfigError("Realistic.per_hour", f"{self.per_hour!r} is not a finite rate >= 0",
                                       hint="e.g. Realistic(per_hour=12000.0)")


Rate = Burst | Realistic


def expected_count(rate: Rate, interval: BatchInterval, pattern: TemporalPattern, origin_us: int) -> float:
    """The mean number of events in the interval under ``rate``."""
    if isinstance(rate, Burst):
        return float(rate.count)
    return rate.per_hour * integrated_intensity(interval, pattern, origin_us)


def draw_count(rate: Rate, rng: np.random.Generator, interval: BatchInterval, pattern: TemporalPattern,
               origin_us: int, *, limit: int, field: str) -> int:
    """The number of events of one batch: the burst count, or a seeded Poisson draw.

    Raises:
        SyntheticConfigError: The count (or a realistic rate's mean) reaches ``limit``, the
            id stride of the table; ``field`` names the rate in the message.
    """
    if isinstance(rate, Burst):
        count = rate.count
    else:
        mean = expected_count(rate, interval, pattern, origin_us)
        count = limit if mean >= limit else int(rng.poisson(mean))
    if count >= limit:
        raise SyntheticConfigError(field, f"{count:,} or more events in one batch; the id stride allows at most "
                                   f"{limit - 1:,}", hint="lower the rate or shorten the interval")
    return count
