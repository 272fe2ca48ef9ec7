"""Run durations as a Prometheus histogram that only ever grows, read incrementally.

The PrometheusRule takes ``rate()`` of the buckets, so they must behave like counters: a
histogram recomputed over "the last N runs" would shrink whenever an old run leaves the window
and Prometheus would read every shrink as a counter reset. Instead the exporter counts each
finished run once, in process:

* the first read takes the newest ``backfill`` finished runs (so a fresh exporter does not start
  from zero; bounded so a big instance stays cheap);
* every later read asks only for runs updated after the newest update seen (minus a small
  overlap, because Dagster's ``updated_after`` is strict and timestamps can tie), oldest first,
  at most ``batch`` of them, so a burst is caught up over a few scrapes;
* the run ids counted recently are remembered (a bounded LRU) so the overlap, or a run whose
  record is touched again after it ended, is not counted twice.

A restart of the exporter starts the counters again, which ``rate()`` handles as a reset.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import DagsterInstance

# Upper bounds (seconds) for pipeline runs: from a quick job to a day-long backfill. 3600 is a
# bound because the default p99 alert threshold is one hour.
DURATION_BUCKETS: tuple[float, ...] = (
    5, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400,
)
BACKFILL_RUNS = 1000
BATCH_RUNS = 500
REMEMBERED_RUNS = 10_000
OVERLAP = timedelta(seconds=5)
# Before the first finished run: every run the storage holds is newer than this.
BEGINNING = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class DurationHistogram:
    """Cumulative counts of finished runs by duration, fed from the run storage."""

    buckets: tuple[float, ...] = DURATION_BUCKETS
    backfill: int = BACKFILL_RUNS
    batch: int = BATCH_RUNS
    counts: list[int] = field(init=False)
    total: int = 0
    sum_seconds: float = 0.0
    watermark: datetime | None = None
    _overlap: timedelta = OVERLAP
    _seen: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, seconds: float) -> None:
        """Count one run of ``seconds``."""
        self.total += 1
        self.sum_seconds += seconds
        for index, bound in enumerate(self.buckets):
            if seconds <= bound:
                self.counts[index] += 1

    def cumulative(self) -> list[tuple[str, float]]:
        """(le, count) pairs as Prometheus expects them, ending with +Inf."""
        # "5.0": the spelling of le that prometheus_client's own histograms use.
        pairs = [(str(float(bound)), float(count)) for bound, count in zip(self.buckets, self.counts, strict=True)]
        return [*pairs, ("+Inf", float(self.total))]

    def refresh(self, instance: DagsterInstance) -> None:
        """Count the runs that finished since the last call (see the module docstring)."""
        from dagster import DagsterRunStatus, RunsFilter

        finished = [DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE, DagsterRunStatus.CANCELED]
        if self.watermark is None:
            # Newest first, then counted oldest first so the watermark ends at the newest.
            records = list(reversed(instance.get_run_records(
                filters=RunsFilter(statuses=finished), limit=self.backfill, order_by="update_timestamp",
            )))
        else:
            records = list(instance.get_run_records(
                filters=RunsFilter(statuses=finished, updated_after=self.watermark - self._overlap),
                limit=self.batch, order_by="update_timestamp", ascending=True,
            ))
        before = self.watermark
        for record in records:
            if self.watermark is None or record.update_timestamp > self.watermark:
                self.watermark = record.update_timestamp
            run_id = record.dagster_run.run_id
            if run_id in self._seen:
                continue
            self._remember(run_id)
            # A run that failed before it started (e.g. its pod never came up) has no duration.
            if record.start_time is not None and record.end_time is not None:
                self.observe(max(0.0, record.end_time - record.start_time))
        if self.watermark is None:
            # No finished run yet: the next read starts at the beginning (the storage's clock,
            # not this process's, decides what is newer).
            self.watermark = BEGINNING
        # A full batch of already counted runs inside the overlap would be read again forever;
        # then read strictly after the watermark once.
        stalled = before is not None and len(records) == self.batch and self.watermark == before
        self._overlap = timedelta(0) if stalled else OVERLAP

    def _remember(self, run_id: str) -> None:
        self._seen[run_id] = None
        while len(self._seen) > REMEMBERED_RUNS:
            self._seen.popitem(last=False)

