"""When customers sign up, and which customer places an order: pure functions of time and id.

Customers are not handed out in fixed blocks per batch: a batch may cover five minutes or a
week (the wall clock's backfill), and its customers must scale with it. Instead the sign-ups
are one process on the clock, computable anywhere without the batches before:

* Candidate ``k`` (customer id ``k + 1``) would sign up at
  ``T_k = origin + floor((k + jitter_k) * spacing)``, ``jitter_k`` in [0, 1) hashed from
  (seed, k): one candidate per ``spacing``, in id order, never two at the same instant.
* It really signs up when ``accept_k * peak < shape(T_k)`` (thinning), where ``shape`` is the
  pattern's intraday × weekday factor and ``peak`` its maximum: sign-ups follow the day and
  the week. The trend is left out (the candidates' rate would have to grow with it).
* Candidate 0 always signs up, at the origin, so an order always has someone to belong to.

Because ``T_k < origin + (k + 1) * spacing``, every candidate ``k < floor((t - origin) /
spacing)`` signed up before ``t``: an order at ``t`` picks its customer among those, so an
order never precedes its customer's sign-up, and no order time has to be moved (moving them
was what made orders pile up towards the end of each batch).

Orders: a ``FRESH_SHARE`` of them come from customers who signed up within ``FRESH_WINDOW``
before the order (a first purchase right after registering); the rest from any earlier
customer, uniformly. So most customers order once or twice and the early ones accumulate
more, and some never order at all.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from floe.synthetic.errors import SyntheticConfigError
from floe.synthetic.randomness import BoolArray, Int64Array, bernoulli, hashed_unit
from floe.synthetic.temporal import MICROS_PER_HOUR, TemporalPattern

# A first order soon after signing up: this share of orders, within this window of the sign-up.
FRESH_SHARE = 0.35
FRESH_WINDOW_US = MICROS_PER_HOUR
# Sign-up candidates one batch may consider (memory: a few arrays of this many int64).
MAX_CANDIDATES = 200_000_000
# Draws per order before falling back to the nearest signed-up candidate below the last draw.
_PICK_ROUNDS = 24


@dataclass(frozen=True)
class SignupProcess:
    """The sign-ups of one data set: seed, clock origin (µs), mean sign-ups per hour, pattern."""

    seed: int
    origin_us: int
    per_hour: float
    pattern: TemporalPattern

    @property
    def _peak(self) -> float:
        hourly = np.asarray(self.pattern.hourly, dtype=np.float64)
        weekdays = np.asarray(self.pattern.weekdays, dtype=np.float64)
        return float(hourly.max() / hourly.mean() * weekdays.max() / weekdays.mean())

    @property
    def spacing_us(self) -> float:
        """Microseconds between candidates (infinite when nobody signs up)."""
        if self.per_hour <= 0:
            return float("inf")
        return MICROS_PER_HOUR / (self.per_hour * self._peak)

    def candidates_before(self, times_us: Int64Array) -> Int64Array:
        """For each instant, how many candidates surely signed up (or were rejected) before it."""
        if not np.isfinite(self.spacing_us):
            return np.zeros(len(times_us), dtype=np.int64)
        counts: Int64Array = np.floor((times_us - self.origin_us) / self.spacing_us).astype(np.int64)
        np.maximum(counts, 0, out=counts)
        return counts

    def signup_times(self, candidates: Int64Array) -> Int64Array:
        """``T_k`` of each candidate (µs since the epoch)."""
        jitter = hashed_unit(self.seed, candidates, "ecommerce/signup.jitter")
        times: Int64Array = np.floor((candidates + jitter) * self.spacing_us).astype(np.int64)
        times += self.origin_us
        times[candidates == 0] = self.origin_us
        return times

    def signed_up(self, candidates: Int64Array) -> BoolArray:
        """Whether each candidate really signed up."""
        times = self.signup_times(candidates)
        shape = self.pattern.intraday(times) * self.pattern.weekday(times)
        accepted: BoolArray = hashed_unit(self.seed, candidates, "ecommerce/signup.accept") * self._peak < shape
        accepted[candidates == 0] = True
        return accepted

    def between(self, start_us: int, end_us: int) -> tuple[Int64Array, Int64Array]:
        """The customers who signed up in ``[start_us, end_us)``: candidate numbers (ascending)
        and their sign-up times."""
        if self.per_hour <= 0 or end_us <= self.origin_us:
            empty = np.empty(0, dtype=np.int64)
            return empty, empty
        low, high = self.candidates_before(np.array([start_us, end_us], dtype=np.int64)).tolist()
        if high - low > MAX_CANDIDATES:
            raise SyntheticConfigError("signups", f"{high - low:,} sign-up candidates in one batch; at most "
                                       f"{MAX_CANDIDATES:,} are supported",
                                       hint="lower the rate or signups_per_order, or shorten the batch")
        candidates = np.arange(low, high + 1, dtype=np.int64)
        times = self.signup_times(candidates)
        keep = (times >= start_us) & (times < end_us) & self.signed_up(candidates)
        return candidates[keep], times[keep]

    def pick_customers(self, rng: np.random.Generator, ordered_at: Int64Array) -> Int64Array:
        """The candidate number of the customer of each order (all signed up before it).

        Orders must not precede the origin (the first sign-up).
        """
        size = len(ordered_at)
        high = np.maximum(self.candidates_before(ordered_at), 1)
        fresh = bernoulli(rng, size, FRESH_SHARE)
        low = np.where(fresh, self.candidates_before(ordered_at - FRESH_WINDOW_US), 0)
        low[low >= high] = 0  # nobody signed up within the window: any earlier customer
        picked = np.zeros(size, dtype=np.int64)
        pending = np.arange(size)
        last = high - 1
        for _ in range(_PICK_ROUNDS):
            if not len(pending):
                break
            span = high[pending] - low[pending]
            draw = low[pending] + np.minimum(np.floor(rng.random(len(pending)) * span).astype(np.int64), span - 1)
            accepted = self.signed_up(draw)
            picked[pending[accepted]] = draw[accepted]
            last[pending] = draw
            pending = pending[~accepted]
        # Rare (quiet hours in a narrow window): the nearest sign-up at or below the last draw.
        candidate = last[pending]
        while len(pending):
            accepted = self.signed_up(candidate)
            picked[pending[accepted]] = candidate[accepted]
            pending, candidate = pending[~accepted], candidate[~accepted] - 1
        return picked
