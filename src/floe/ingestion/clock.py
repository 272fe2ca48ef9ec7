"""The time window each batch covers, chosen once and recorded with the batch.

On the virtual clock batch ``n`` covers ``[start + n*interval, start + (n+1)*interval)``:
arithmetic, nothing to remember. On the wall clock it covers ``[end of batch n-1, now)``
(the first: the last ``backfill`` up to now; at most ``backfill`` long, so a long pause is
caught up over several runs), and "now" differs on every attempt. So the window is recorded
with the batch: every table's append carries it, in the same commit, as the table property
``floe.batch-window`` (the latest batch the table holds; it survives snapshot expiry) and in
the snapshot summary (``floe.batch-start``/``floe.batch-end``, for people reading the table's
history). A retry after a partial landing finds batch ``n``'s window in a table that already
holds it and regenerates the very same rows; a batch no table holds yet gets a new window.
The next batch starts where the last table's recorded window ends, so windows never overlap
nor leave gaps (customers sign up on one continuous clock, see :mod:`floe.synthetic.signups`).

The record also carries the generator's counts of the batch (orders written, duplicates,
orders without customer or region, late orders), which is how the demo explains why the
marts grew by fewer orders than landed without generating the batch again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from floe.errors import FloeError
from floe.spec.ingestion import SyntheticSource

if TYPE_CHECKING:
    from pyiceberg.catalog import Catalog

    from floe.synthetic import BatchReport

WINDOW_PROPERTY = "floe.batch-window"
SUMMARY_START = "floe.batch-start"
SUMMARY_END = "floe.batch-end"
# The shortest wall-clock batch: two runs within the same instant still cover some time.
MIN_WALL_SPAN = timedelta(seconds=1)


@dataclass(frozen=True)
class BatchWindow:
    """The time one batch covers, and what the generator put in it.

    Attributes:
        number: The batch number.
        clock: ``virtual`` or ``wall``.
        start: Start of the window (inclusive, UTC).
        end: End of the window (exclusive, UTC); each row's ``_generated_at``.
        origin: The clock's origin: where sign-ups (and the trend) start counting. The
            virtual clock's start, or the start of the wall clock's first batch.
        counts: The generator's counts, once generated: ``orders`` (rows written),
            ``duplicates`` (copies among them), ``without_customer``, ``without_region``,
            ``late``. Empty before generation.
    """

    number: int
    clock: str
    start: datetime
    end: datetime
    origin: datetime
    counts: Mapping[str, int] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"batch": self.number, "clock": self.clock, "start": self.start.isoformat(),
                           "end": self.end.isoformat(), "origin": self.origin.isoformat(),
                           "counts": dict(self.counts)}, separators=(",", ":"))

    @staticmethod
    def from_json(text: str, where: str) -> BatchWindow:
        try:
            raw = json.loads(text)
            return BatchWindow(int(raw["batch"]), str(raw["clock"]), _utc(raw["start"]), _utc(raw["end"]),
                               _utc(raw["origin"]), {str(k): int(v) for k, v in raw.get("counts", {}).items()})
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise FloeError(f"table property {WINDOW_PROPERTY} of {where} is not a batch window: {text[:120]!r}",
                            hint="floe writes it with each batch; restore it, or drop the source's tables "
                                 "to start the data over") from exc

    def with_report(self, report: BatchReport) -> BatchWindow:
        """This window with the counts of the generated batch."""
        orders = report.tables.get("orders")
        if orders is None:  # another data set: its table totals only
            return replace(self, counts={"rows": report.rows_written})
        return replace(self, counts={
            "orders": orders.rows_written,
            "duplicates": orders.duplicates_added,
            "without_customer": orders.nulls_injected.get("customer_id", 0),
            "without_region": orders.nulls_injected.get("region", 0),
            "late": orders.late_rows,
        })

    def properties(self) -> dict[str, str]:
        """The table properties an append of this batch sets."""
        return {WINDOW_PROPERTY: self.to_json()}

    def summary(self) -> dict[str, str]:
        """The snapshot summary entries of an append of this batch."""
        return {SUMMARY_START: self.start.isoformat(), SUMMARY_END: self.end.isoformat()}


def virtual_window(source: SyntheticSource, number: int) -> BatchWindow:
    """Batch ``number``'s window on the virtual clock."""
    start = source.virtual_start.astimezone(timezone.utc)
    interval = source.virtual_interval
    return BatchWindow(number, "virtual", start + number * interval, start + (number + 1) * interval, start)


def wall_window(previous: BatchWindow | None, number: int, now: datetime, backfill: timedelta) -> BatchWindow:
    """Batch ``number``'s window on the wall clock, after ``previous`` (None: the first batch).

    It ends at ``now``, at least ``MIN_WALL_SPAN`` after its start and at most ``backfill``.
    """
    now = now.astimezone(timezone.utc)
    if previous is None:
        start = now - backfill
        return BatchWindow(number, "wall", start, now, start)
    start = previous.end
    end = min(max(now, start + MIN_WALL_SPAN), start + backfill)
    return BatchWindow(number, "wall", start, end, previous.origin)


def recorded_windows(catalog: Catalog, source: SyntheticSource) -> dict[str, BatchWindow]:
    """Table name → the window of the latest batch it holds (tables without a record left out)."""
    from pyiceberg.exceptions import NoSuchTableError

    found: dict[str, BatchWindow] = {}
    for table in source.tables:
        identifier = f"{source.namespace}.{table}"
        try:
            loaded = catalog.load_table(identifier)
        except NoSuchTableError:
            continue
        text = loaded.properties.get(WINDOW_PROPERTY)
        if text:
            found[table] = BatchWindow.from_json(text, identifier)
    return found


def latest_window(catalog: Catalog, source: SyntheticSource) -> BatchWindow | None:
    """The window of the latest complete batch (the one the source's last table holds)."""
    return recorded_windows(catalog, source).get(source.tables[-1])


def plan_window(catalog: Catalog, source: SyntheticSource, number: int, now: datetime) -> BatchWindow:
    """The window batch ``number`` covers: as recorded when a table already holds it (a retry),
    else a new one after the previous batch's.

    Raises:
        FloeError: The tables were landed on the other clock, or hold batches without a
            recorded window where the wall clock needs one.
    """
    recorded = recorded_windows(catalog, source)
    for window in recorded.values():
        if window.number == number:
            _same_clock(window, source)
            return window
    previous = next((w for w in recorded.values() if w.number == number - 1), None)
    if previous is not None:
        _same_clock(previous, source)
    if source.clock == "virtual":
        return virtual_window(source, number)
    if number > 0 and previous is None:
        raise FloeError(f"source '{source.name}': batch {number - 1} has no recorded time window (landed by an "
                        "older floe, or on the virtual clock), so the wall clock cannot continue after it",
                        hint="drop the source's bronze tables to start the data over on the wall clock, or set "
                             "clock: virtual")
    return wall_window(previous, number, now, source.wall_backfill)


def _same_clock(window: BatchWindow, source: SyntheticSource) -> None:
    if window.clock != source.clock:
        raise FloeError(f"source '{source.name}': its tables hold batches of the {window.clock} clock, and floe.yaml "
                        f"now says clock: {source.clock}; the two clocks' customers and windows would collide",
                        hint=f"set clock: {window.clock} again, or drop the source's bronze tables to start over")


def _utc(text: object) -> datetime:
    moment = datetime.fromisoformat(str(text))
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone")
    return moment.astimezone(timezone.utc)
