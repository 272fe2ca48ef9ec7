"""Argument checks shared by the generators, each failing with a :class:`SyntheticConfigError`
that names the field, the value and what would be accepted."""

from __future__ import annotations

from datetime import datetime, timedelta

from floe.synthetic.errors import SyntheticConfigError
from floe.synthetic.randomness import MAX_SEED
from floe.synthetic.temporal import UTC


def check_count(field: str, value: object, *, minimum: int, maximum: int) -> None:
    """``value`` must be an int in ``[minimum, maximum]`` (bools are not counts)."""
    if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= maximum:
        raise SyntheticConfigError(field, f"{value!r} is not an integer in [{minimum:,}, {maximum:,}]")


def check_clock(owner: str, start: object, interval: object) -> datetime:
    """Validate the virtual clock; return ``start`` converted to UTC."""
    if not isinstance(start, datetime) or start.tzinfo is None or start.utcoffset() is None:
        raise SyntheticConfigError(f"{owner}.start", f"{start!r} is not a timezone-aware datetime",
                                   hint="e.g. datetime(2026, 1, 1, tzinfo=timezone.utc)")
    if not isinstance(interval, timedelta) or interval <= timedelta(0):
        raise SyntheticConfigError(f"{owner}.interval", f"{interval!r} is not a positive timedelta",
                                   hint="e.g. timedelta(minutes=5)")
    return start.astimezone(UTC)


def check_seed_and_batch(seed: object, batch_number: object, max_batch_number: int) -> None:
    """A seed in [0, 2**64) and a batch number in [0, max_batch_number]."""
    check_count("seed", seed, minimum=0, maximum=MAX_SEED)
    if isinstance(batch_number, bool) or not isinstance(batch_number, int) \
            or not 0 <= batch_number <= max_batch_number:
        raise SyntheticConfigError("batch_number", f"{batch_number!r} is not an integer in "
                                   f"[0, {max_batch_number:,}]",
                                   hint="batch numbers start at 0; the ids of later batches would overflow int64")
