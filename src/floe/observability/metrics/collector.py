"""A Prometheus collector that reads a Dagster instance on every scrape.

The series are the ones ``charts/floe-dagster/templates/prometheusrule.yaml`` alerts on; the
``namespace`` label the rule filters by is added by Prometheus (the ServiceMonitor's target
labels), not here.

``dagster_runs_failed_total`` is the number of FAILURE runs the instance holds: it only grows
while runs are kept, so ``increase()`` over an hour is the runs that failed in that hour. Deleting
runs lowers it, which Prometheus treats as a counter reset (one missed window, no false alert).

A storage that cannot be read does not turn the scrape into an HTTP 500 (which would only say
"target down"): the scrape answers ``dagster_instance_up 0`` and the error is logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from floe.observability.metrics.durations import DurationHistogram

if TYPE_CHECKING:
    from dagster import DagsterInstance
    from prometheus_client.metrics_core import Metric

LOG = logging.getLogger(__name__)

RUNS_BY_STATUS = "dagster_runs"
RUNS_FAILED = "dagster_runs_failed"  # exposed as dagster_runs_failed_total (counter)
RUN_DURATION = "dagster_runs_duration_seconds"
HEARTBEAT_AGE = "dagster_daemon_heartbeat_age_seconds"
INSTANCE_UP = "dagster_instance_up"
SCRAPE_DURATION = "dagster_exporter_scrape_duration_seconds"
# Every series name a scrape exposes (the rule test checks the alerts query only these).
EXPORTED_SERIES = (
    f"{RUNS_BY_STATUS}", f"{RUNS_FAILED}_total", f"{RUN_DURATION}_bucket", f"{RUN_DURATION}_sum",
    f"{RUN_DURATION}_count", HEARTBEAT_AGE, INSTANCE_UP, SCRAPE_DURATION,
)


class DagsterInstanceCollector:
    """Yields the instance's metrics; opens the instance lazily and again after a failure."""

    def __init__(self, open_instance: Callable[[], DagsterInstance], *, clock: Callable[[], float] = time.time):
        self._open_instance = open_instance
        self._instance: DagsterInstance | None = None
        self._clock = clock
        self._durations = DurationHistogram()
        # prometheus_client serves scrapes from several threads; one read at a time keeps the
        # incremental histogram consistent and the storage load bounded.
        self._lock = threading.Lock()
        self.last_error: Exception | None = None

    def collect(self) -> Iterator[Metric]:
        from prometheus_client.core import GaugeMetricFamily

        with self._lock:
            started = time.perf_counter()
            try:
                metrics = self._read()
                up, self.last_error = 1.0, None
            except Exception as exc:  # noqa: BLE001 - any storage failure becomes up=0, not a 500
                self.last_error = exc
                LOG.warning("reading the Dagster instance failed: %s: %s", type(exc).__name__, exc)
                self._drop_instance()  # reopen on the next scrape (the database may come back)
                metrics, up = [], 0.0
            yield from metrics
            yield GaugeMetricFamily(INSTANCE_UP, "1 if the last scrape read the Dagster instance's storage, else 0.",
                                    value=up)
            yield GaugeMetricFamily(SCRAPE_DURATION, "Seconds this scrape spent reading the Dagster instance.",
                                    value=time.perf_counter() - started)

    def _drop_instance(self) -> None:
        instance, self._instance = self._instance, None
        if instance is not None:
            try:
                instance.dispose()  # its connection pools; a new instance gets new ones
            except Exception as exc:  # noqa: BLE001 - a broken connection may fail to close; keep serving
                LOG.debug("disposing of the Dagster instance failed: %s", exc)

    def _read(self) -> list[Metric]:
        from dagster import DagsterRunStatus, RunsFilter
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily

        if self._instance is None:
            self._instance = self._open_instance()
        instance = self._instance

        # One COUNT query per status: cheap at any history size (indexed on status).
        by_status = GaugeMetricFamily(RUNS_BY_STATUS, "Runs the Dagster instance holds, by status.",
                                      labels=["status"])
        failed = 0
        for status in DagsterRunStatus:
            count = instance.get_runs_count(RunsFilter(statuses=[status]))
            by_status.add_metric([status.value], count)
            if status is DagsterRunStatus.FAILURE:
                failed = count
        failures = CounterMetricFamily(RUNS_FAILED, "Runs with status FAILURE the instance holds (grows as runs fail).",
                                       value=failed)

        self._durations.refresh(instance)
        durations = HistogramMetricFamily(
            RUN_DURATION, "Wall-clock seconds from start to end of finished runs, counted once each by this exporter.",
            buckets=self._durations.cumulative(), sum_value=self._durations.sum_seconds,
        )
        return [by_status, failures, durations, self._heartbeats(instance)]

    def _heartbeats(self, instance: DagsterInstance) -> Metric:
        from prometheus_client.core import GaugeMetricFamily

        ages = GaugeMetricFamily(HEARTBEAT_AGE, "Seconds since each Dagster daemon's last heartbeat "
                                 "(+Inf: a daemon the instance needs has never sent one).", labels=["daemon_type"])
        now = self._clock()
        heartbeats = instance.get_daemon_heartbeats()
        # Only the daemons this instance's configuration runs (Dagster's own health check does the
        # same): a heartbeat left by a daemon since switched off would otherwise alert forever.
        for daemon_type in sorted(instance.get_required_daemon_types()):
            beat = heartbeats.get(daemon_type)
            ages.add_metric([daemon_type], max(0.0, now - beat.timestamp) if beat else float("inf"))
        return ages
