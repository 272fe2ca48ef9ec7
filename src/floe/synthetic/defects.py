"""Data-quality defects on purpose, and the exact count of every one injected.

Bronze data in the wild has holes, repeats and stragglers; the pipeline downstream must
survive them, and its tests must know exactly how many there were. A :class:`DefectConfig`
switches three kinds on (all off by default):

* **Nulls**: ``null_rates={"orders.customer_id": 0.01}`` blanks each value of that column
  with probability 0.01. Only the columns the generator's contract declares as defect
  targets are accepted (a null primary key or batch id would break the contract itself).
* **Duplicates**: ``duplicate_rate`` picks each row of the duplicated tables with that
  probability and appends one exact copy of it (nulls and late timestamps included) after
  all the original rows, in the original order. Each table is picked independently: an
  order's copy does not bring copies of its items.
* **Late arrivals**: ``late_rate`` picks each row of the timestamped table (e-commerce
  orders, SaaS events) with that probability and moves its timestamp to between ``late_max``
  and ``late_min`` (default 3 days and 1 hour) before the batch interval start: the row
  belongs to an earlier interval but arrives with this batch. A late order never precedes
  its customer's sign-up: an order whose customer signed up too recently stays on time.

Each defect draws from its own seeded stream, so the clean values of a batch are the same
whichever defects are switched on, and the injected defects are themselves deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from types import MappingProxyType

import numpy as np

from floe.synthetic.errors import SyntheticConfigError
from floe.synthetic.randomness import BoolArray, Int64Array, StreamFactory, bernoulli
from floe.synthetic.temporal import MICROS_PER_SECOND


@dataclass(frozen=True)
class DefectConfig:
    """Which defects to inject, and how often. The default injects none.

    Attributes:
        null_rates: ``"table.column"`` → probability that a value is null, each in [0, 1].
            Keys must be the generator's nullable defect targets.
        duplicate_rate: Probability, in [0, 1], that a row of a duplicated table gets one
            exact copy appended to the same batch.
        late_rate: Probability, in [0, 1], that a row of the timestamped table arrives late.
        late_min: The least a late row's timestamp precedes the interval start (> 0).
        late_max: The most a late row's timestamp precedes the interval start (>= late_min).
    """

    null_rates: Mapping[str, float] = field(default_factory=dict)
    duplicate_rate: float = 0.0
    late_rate: float = 0.0
    late_min: timedelta = timedelta(hours=1)
    late_max: timedelta = timedelta(days=3)

    def __post_init__(self) -> None:
        if not isinstance(self.null_rates, Mapping):
            raise SyntheticConfigError("DefectConfig.null_rates", f"expected a mapping, got {self.null_rates!r}",
                                       hint='e.g. {"orders.customer_id": 0.01}')
        for column, rate in self.null_rates.items():
            _check_rate(f"DefectConfig.null_rates[{column!r}]", rate)
        _check_rate("DefectConfig.duplicate_rate", self.duplicate_rate)
        _check_rate("DefectConfig.late_rate", self.late_rate)
        if self.late_min <= timedelta(0):
            raise SyntheticConfigError("DefectConfig.late_min", f"{self.late_min} is not positive",
                                       hint="a late row lands before the interval start, e.g. timedelta(hours=1)")
        if self.late_max < self.late_min:
            raise SyntheticConfigError("DefectConfig.late_max", f"{self.late_max} is less than late_min "
                                       f"{self.late_min}", hint="late_max must be >= late_min")
        # Frozen all the way down: a report must describe the config the batch really used.
        object.__setattr__(self, "null_rates", MappingProxyType(dict(self.null_rates)))

    def check_targets(self, owner: str, columns: Mapping[str, Collection[str]], targets: Collection[str]) -> None:
        """Reject null-rate keys that are not ``targets`` of the generator.

        Args:
            owner: The config holding this one, for the message (``EcommerceConfig``).
            columns: Every table of the generator → its column names.
            targets: The ``table.column`` names that may be nulled.
        """
        allowed = ", ".join(sorted(targets))
        for key in self.null_rates:
            where = f"{owner}.defects.null_rates[{key!r}]"
            table, _, column = key.partition(".")
            if table not in columns or column not in columns[table]:
                raise SyntheticConfigError(where, "no such column in the generated tables",
                                           hint=f"null rates apply to {allowed}")
            if key not in targets:
                raise SyntheticConfigError(where, "the bronze contract declares this column non-nullable",
                                           hint=f"null rates apply to {allowed}")

    @property
    def late_bounds_us(self) -> tuple[int, int]:
        """``(late_min, late_max)`` in microseconds."""
        return _micros(self.late_min), _micros(self.late_max)


def null_mask(rng_for: StreamFactory, key: str, rate: float, rows: int) -> BoolArray | None:
    """The rows to null in column ``key`` (``table.column``), or None when its rate is 0."""
    if rate <= 0 or rows == 0:
        return None
    return bernoulli(rng_for(f"defects/null/{key}"), rows, rate)


def duplicate_rows(rng_for: StreamFactory, table: str, rate: float, rows: int) -> Int64Array:
    """Indices of the rows to copy, ascending; empty when the rate is 0."""
    if rate <= 0 or rows == 0:
        return np.empty(0, dtype=np.int64)
    picked: Int64Array = np.flatnonzero(bernoulli(rng_for(f"defects/duplicate/{table}"), rows, rate))
    return picked


def make_late(rng_for: StreamFactory, table: str, config: DefectConfig, times_us: Int64Array,
              interval_start_us: int, earliest_us: Int64Array | None = None) -> BoolArray | None:
    """Move a ``late_rate`` share of ``times_us`` (in place) before the interval start.

    ``earliest_us`` bounds each row from below (an order cannot precede its customer's
    sign-up): a picked row whose bound is later than ``late_min`` before the interval start
    stays on time, and a late time never precedes its bound. Returns the mask of moved rows,
    or None when the rate is 0.
    """
    if config.late_rate <= 0 or len(times_us) == 0:
        return None
    rng = rng_for(f"defects/late/{table}")
    late = bernoulli(rng, len(times_us), config.late_rate)
    low, high = config.late_bounds_us
    delays = rng.integers(low, high, size=int(late.sum()), endpoint=True, dtype=np.int64)
    moved = np.flatnonzero(late)
    when = interval_start_us - delays
    if earliest_us is not None:
        bound = earliest_us[moved]
        eligible = bound <= interval_start_us - low
        late[moved[~eligible]] = False
        moved, when = moved[eligible], np.maximum(when[eligible], bound[eligible])
    times_us[moved] = when
    return late


def _check_rate(field_name: str, rate: object) -> None:
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not math.isfinite(rate) \
            or not 0 <= rate <= 1:
        raise SyntheticConfigError(field_name, f"{rate!r} is not a probability in [0, 1]",
                                   hint="use e.g. 0.01 for 1 %")


def _micros(delta: timedelta) -> int:
    return (delta.days * 86_400 + delta.seconds) * MICROS_PER_SECOND + delta.microseconds
