"""The run-duration histogram: buckets as Prometheus reads them, and incremental reads that
count every finished run exactly once (a real in-memory Dagster instance with real runs)."""

from __future__ import annotations

import pytest

from floe.observability.metrics.durations import DurationHistogram


def test_buckets_are_cumulative_and_end_with_inf():
    histogram = DurationHistogram(buckets=(10, 60))
    for seconds in (1.0, 10.0, 30.0, 3600.0):
        histogram.observe(seconds)
    assert histogram.cumulative() == [("10.0", 2.0), ("60.0", 3.0), ("+Inf", 4.0)]
    assert histogram.sum_seconds == pytest.approx(3641.0)


def _run(instance, count: int) -> None:
    from dagster import job, op

    @op
    def noop():
        return None

    @job
    def quick():
        noop()

    for _ in range(count):
        assert quick.execute_in_process(instance=instance).success


@pytest.fixture
def instance_with_runs():
    """An in-memory Dagster instance holding three finished runs."""
    from dagster import DagsterInstance

    with DagsterInstance.ephemeral() as instance:
        _run(instance, 3)
        yield instance


@pytest.mark.integration
def test_incremental_reads_count_each_run_once_and_never_stall(instance_with_runs):
    histogram = DurationHistogram(batch=2)
    histogram.refresh(instance_with_runs)
    assert histogram.total == 3  # the backfill
    _run(instance_with_runs, 2)
    # A batch of 2 may first return the 2 runs already counted inside the overlap window;
    # the next read must then move past them instead of reading them forever.
    totals = []
    for _ in range(4):
        histogram.refresh(instance_with_runs)
        totals.append(histogram.total)
    assert totals[-1] == 5 and max(totals) == 5, totals
    assert histogram.cumulative()[-1] == ("+Inf", 5.0)


@pytest.mark.integration
def test_backfill_is_bounded_to_the_newest_runs(instance_with_runs):
    histogram = DurationHistogram(backfill=2)
    histogram.refresh(instance_with_runs)
    assert histogram.total == 2
