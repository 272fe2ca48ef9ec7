"""Runs whose process is gone: found and marked failed, so they stop blocking the run queue.

A ``floe run`` killed with ``kill -9`` never reports its end: its Dagster run stays STARTED
for ever. ``floe dev`` runs one run at a time on DuckDB (``QueuedRunCoordinator``, see
``instance.py``), so every run the UI, a schedule or a sensor starts after it would wait in
the queue for ever. Dagster's run monitoring cannot see it: it checks run workers only through
launchers that support it (not the default launcher ``floe dev`` uses, and not an in-process
run), so floe checks the process itself:

* ``floe run`` records its process in the run's tags (:func:`process_tags`): pid, host and
  start time (``floe.processes``).
* A run ``floe dev`` launched runs in a worker process whose pid Dagster records as an engine
  event ("Started process for run (pid: N)"). It is checked when it surely ran on this
  machine: the storage is SQLite under ``.floe``, or the run was launched through a code
  server on a loopback address. Its start must not be later than that event (a reused pid).

:func:`fail_stale_runs` marks each run whose process is gone as failed (canceled when it was
being canceled), with the reason, through Dagster's public ``report_run_failed``. A run whose
process runs elsewhere or cannot be identified is left alone. Called by ``floe run``,
``floe dev`` (at start, then periodically) and ``floe dev --check``.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from floe.processes import ProcessRecord, is_running, is_this_host, this_process

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from floe.contract.project import CompiledProject

PID_TAG = "floe/pid"
HOST_TAG = "floe/host"
STARTED_TAG = "floe/process_started"
# Dagster's tag of the code server a run was launched through (DefaultRunLauncher).
_GRPC_INFO_TAG = ".dagster/grpc_info"
_WORKER_EVENT = re.compile(r"Started process for run \(pid: (\d+)\)")
_LOOPBACK = ("127.", "localhost", "::1")
# A run worker starts before it records its pid; allow for clocks of whole seconds.
_WORKER_START_SLACK_S = 5.0
# How often floe dev looks for runs whose process is gone.
SWEEP_INTERVAL_S = 15.0


@dataclass(frozen=True)
class StaleRun:
    """A run marked failed (or canceled) because its process is gone."""

    run_id: str
    job_name: str
    status: str  # what it was: STARTED, STARTING, CANCELING, NOT_STARTED
    reason: str


def process_tags(record: ProcessRecord | None = None) -> dict[str, str]:
    """The tags that record the process running a run (default: this process)."""
    me = record or this_process()
    tags = {PID_TAG: str(me.pid), HOST_TAG: me.host}
    if me.started is not None:
        tags[STARTED_TAG] = f"{me.started:.2f}"
    return tags


def recorded_process(tags: dict[str, str]) -> ProcessRecord | None:
    """The process a run's tags record, or None when they record none (or not readably)."""
    try:
        pid = int(tags[PID_TAG])
        started = float(tags[STARTED_TAG]) if STARTED_TAG in tags else None
    except (KeyError, ValueError):
        return None
    return ProcessRecord(pid, tags.get(HOST_TAG, ""), started)


def close_stale_runs(compiled: CompiledProject, instance: DagsterInstance | None = None
                     ) -> tuple[list[StaleRun], list[str]]:
    """:func:`fail_stale_runs` on the project's instance, and each such run's lineage closed with
    a FAIL (``floe lineage`` no longer shows it RUNNING); the runs, and export warnings."""
    from floe.observability.observer import RunObserver
    from floe.orchestration.instance import open_instance

    local = compiled.artifacts.environment.orchestrator.storage.type == "sqlite"
    own = instance is None
    active = open_instance(compiled) if instance is None else instance
    try:
        stale = fail_stale_runs(active, local_storage=local)
    finally:
        if own:
            active.dispose()
    warnings: list[str] = []
    for run in stale:
        warnings += RunObserver(compiled).abandoned(run.run_id, run.job_name, run.reason)
    return stale, warnings


def fail_stale_runs(instance: DagsterInstance, *, local_storage: bool) -> list[StaleRun]:
    """Mark every unfinished run whose process on this machine is gone; return them.

    ``local_storage``: the instance's storage is a file of this machine (SQLite), so every run
    worker that wrote to it ran here.
    """
    from dagster import DagsterRunStatus, RunsFilter

    statuses = [DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING, DagsterRunStatus.STARTED,
                DagsterRunStatus.CANCELING]
    marked: list[StaleRun] = []
    for run in instance.get_runs(filters=RunsFilter(statuses=statuses)):
        reason = _why_stale(instance, run, local_storage=local_storage)
        if reason is None:
            continue
        current = instance.get_run_by_id(run.run_id)  # it may have finished meanwhile
        if current is None or current.is_finished:
            continue
        if current.status == DagsterRunStatus.CANCELING:
            instance.report_run_canceled(current, message=reason)
        else:
            instance.report_run_failed(current, message=reason)
        marked.append(StaleRun(run.run_id, run.job_name, str(current.status.value), reason))
    return marked


def _why_stale(instance: DagsterInstance, run: Any, *, local_storage: bool) -> str | None:
    """Why the run cannot be running any more, or None when it may be (or cannot be told)."""
    recorded = recorded_process(dict(run.tags))
    if recorded is not None:
        if not is_this_host(recorded.host) or is_running(recorded.pid, recorded.started):
            return None
        return f"the process running it (pid {recorded.pid}, floe run) ended without finishing it — killed?"
    if not (local_storage or _launched_here(run.tags)):
        return None
    worker = _run_worker(instance.all_logs(run.run_id, of_type=_engine_event_type()))
    if worker is None:
        return None  # not launched yet, or launched without a worker process floe can see
    pid, recorded_at = worker
    if is_running(pid, recorded_at + _WORKER_START_SLACK_S):
        return None
    return f"the process running it (pid {pid}, Dagster run worker) ended without finishing it — killed?"


def _engine_event_type() -> Any:
    from dagster import DagsterEventType

    return DagsterEventType.ENGINE_EVENT


def _launched_here(tags: Any) -> bool:
    """Whether the run was launched through a code server on this machine's loopback address."""
    try:
        host = str(json.loads(tags.get(_GRPC_INFO_TAG) or "{}").get("host") or "")
    except (ValueError, AttributeError):
        return False
    return host.startswith(_LOOPBACK)


def _run_worker(entries: Iterable[Any]) -> tuple[int, float] | None:
    """The run worker's pid and when it recorded it, from Dagster's engine events."""
    for entry in entries:
        found = _WORKER_EVENT.search(str(entry.message or ""))
        if found:
            return int(found.group(1)), float(entry.timestamp)
    return None


class StaleRunSweeper:
    """:func:`close_stale_runs` now and then every ``interval_s``, in a thread, until stopped.

    ``floe dev`` runs one: a ``floe run`` killed while the UI is up would otherwise hold the
    run queue until the next floe command. The instance is opened in the thread (Dagster's
    import included), once, so the command's own thread stays free for Ctrl-C.
    """

    def __init__(self, compiled: CompiledProject, on_stale: Callable[[StaleRun], None],
                 on_error: Callable[[str], None] = lambda _message: None,
                 interval_s: float = SWEEP_INTERVAL_S) -> None:
        self._compiled = compiled
        self._on_stale = on_stale
        self._on_error = on_error  # told once, at the first failed sweep
        self._interval_s = interval_s
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="floe-stale-runs", daemon=True)
        self.errors: list[str] = []

    def start(self) -> StaleRunSweeper:
        self._thread.start()
        return self

    def stop(self, timeout_s: float = 10.0) -> None:
        self._stopped.set()
        if self._thread.is_alive():
            self._thread.join(timeout_s)

    def _loop(self) -> None:
        from floe.orchestration.instance import open_instance

        instance: DagsterInstance | None = None
        try:
            while not self._stopped.is_set():
                try:
                    instance = instance or open_instance(self._compiled)
                    for run in close_stale_runs(self._compiled, instance)[0]:
                        self._on_stale(run)
                except Exception as exc:  # noqa: BLE001 - a failed sweep is tried again next time
                    if not self.errors:
                        self._on_error(str(exc))
                    self.errors.append(str(exc))
                self._stopped.wait(self._interval_s)
        finally:
            if instance is not None:
                instance.dispose()
