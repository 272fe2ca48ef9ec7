"""One run's traces and lineage, fed by the node events the run publishes.

The observer is a node listener (see :mod:`floe.node_events`): every dbt node
and ingestion table that starts or finishes becomes a span and an OpenLineage event; the
run itself is the root span and the parent lineage run, whose OpenLineage run id is the
Dagster run id. Each lineage event carries the trace id of the run's span, so a user can
jump from lineage to trace.

Two ways to take part in a run: :meth:`RunObserver.start` opens it (the root span, the pipeline
run's START; :meth:`RunObserver.finish` ends it), where the run is driven (``floe run``, the
run worker Dagster's daemon starts); :meth:`RunObserver.join` reports the nodes of one step
executed in a process of its own under that run (:meth:`RunObserver.leave` when the step ends).

A finished dbt node is reported at once, except when more is coming: a failed node waits for
dbt's own message (printed at the end of its run), a table, seed, snapshot or incremental model
without a row count from dbt waits to be counted. :meth:`RunObserver.settle` (at the end of the
dbt step) reports those, with the time they finished.

Exports never fail a run unless the platform says ``observability.strict: true``: an
unreachable destination produces one warning per run, within the configured timeout.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.errors import FloeError
from floe.node_events import INVOCATION, NodeEvent, with_dbt_message

if TYPE_CHECKING:
    from floe.contract.project import CompiledProject
    from floe.contract.v1 import ArtifactsV1
    from floe.observability.lineage import RunLineage
    from floe.observability.lineage_naming import PortDatasets
    from floe.observability.tracing import RunTracer

_current: list[RunObserver] = []
_FAILED = frozenset({"error", "fail", "runtime error"})
# Materializations whose rows are counted once dbt is done (views are not: counting one runs its query).
COUNTED = frozenset({"table", "incremental", "seed", "snapshot"})


class ObservabilityError(FloeError):
    """A destination could not be reached and the platform asked for strict observability."""


class RunObserver:
    """Tracing and lineage of one pipeline run."""

    def __init__(self, compiled: CompiledProject) -> None:
        import json

        from floe.observability.lineage import RunLineage
        from floe.observability.tracing import RunTracer
        from floe.spec.observability import NoLineage, NoTracing

        artifacts = compiled.artifacts
        self._compiled = compiled
        self._lock = threading.Lock()
        self._waiting: list[tuple[NodeEvent, int]] = []  # finished nodes reported at settle()
        self._messages: dict[str, list[str]] = {}  # dbt's messages per node, printed after its result
        self.row_counts: dict[str, int] = {}  # relation -> rows, counted by settle()
        platform = artifacts.environment.observability
        switches = artifacts.observability
        namespace = platform.namespace or artifacts.project.name
        self.strict = platform.strict
        tracing = platform.tracing if switches.tracing else NoTracing(type="none")
        lineage = platform.lineage if switches.lineage else NoLineage(type="none")
        self._attributes: dict[str, Any] = {
            "floe.pipeline": artifacts.project.name,
            "floe.pipeline_version": artifacts.project.version,
            "floe.environment": artifacts.environment_name,
            "floe.compute": artifacts.environment.compute.type,
        }
        self.tracer: RunTracer = RunTracer(
            tracing, service_name=artifacts.project.name, namespace=namespace, timeout=platform.timeout,
            project_root=compiled.root,
            resource_attributes={"deployment.environment": artifacts.environment_name},
        )
        manifest: Mapping[str, Any] = {}
        if not isinstance(lineage, NoLineage):
            manifest = json.loads(compiled.manifest_path.read_text(encoding="utf-8"))
        from floe.observability.lineage_naming import generator_dataset

        landed = {f"{source.namespace}.{table}": generator_dataset(source.dataset, source.name, table)
                  for source in artifacts.ingestion for table in source.tables}
        self.lineage: RunLineage = RunLineage(
            lineage, namespace=namespace, manifest=manifest, environment=artifacts.environment,
            project_root=compiled.root, timeout=platform.timeout, pipeline=artifacts.project.name,
            iceberg_tables=list(landed), generators=landed, ports=_port_datasets(artifacts),
        )

    @property
    def enabled(self) -> bool:
        """Whether anything is exported at all."""
        return self.tracer.enabled or self.lineage.enabled

    def start(self, run_id: str, job: str) -> None:
        """Open the run's root span and emit the pipeline run's START."""
        self.tracer.start_run(run_id, job, self._attributes)
        self.lineage.start_run(run_id, job, self.tracer.trace_id())

    def join(self, run_id: str, job: str) -> None:
        """Report this process's nodes as part of run ``run_id``, which another process started."""
        self.tracer.join_run(run_id)
        self.lineage.join_run(run_id, job, self.tracer.trace_id())

    def __call__(self, event: NodeEvent) -> None:
        """A node listener: a span and a lineage event per node start and finish."""
        if event.resource_type == INVOCATION:
            if event.status == "started" and event.relation:
                self.lineage.set_target_path(Path(event.relation))
            elif event.unique_id and event.message:
                with self._lock:
                    self._messages.setdefault(event.unique_id, []).append(event.message)
            return
        if event.status == "started":
            self.tracer.node_started(event)
            self.lineage.node_started(event, self.tracer.trace_id())
        elif _worth_waiting_for(event):
            with self._lock:
                self._waiting.append((event, time.time_ns()))
        else:
            self._finished(event, None)

    def settle(self) -> None:
        """Report the nodes waiting for dbt's message or a row count (dbt has ended: count now)."""
        with self._lock:
            waiting, self._waiting = self._waiting, []
            messages = dict(self._messages)
        if not waiting:
            return
        relations = sorted({e.relation for e, _ in waiting if e.status not in _FAILED and e.relation})
        counts = self._count(relations)
        self.row_counts.update(counts)
        for event, ended in waiting:
            if event.status in _FAILED:
                for text in messages.get(event.unique_id, []):
                    event = with_dbt_message(event, text)
            elif event.relation in counts:
                event = replace(event, rows=counts[event.relation])
            self._finished(event, ended)

    def _count(self, relations: list[str]) -> dict[str, int]:
        if not relations or not self.enabled:
            return {}
        from floe.targets import count_rows

        try:
            return count_rows(self._compiled.artifacts.environment.compute, self._compiled.root, relations)
        except Exception:  # noqa: BLE001 - counting is a courtesy; the nodes are reported without it
            return {}

    def _finished(self, event: NodeEvent, ended_ns: int | None) -> None:
        from datetime import datetime, timezone

        when = None if ended_ns is None else datetime.fromtimestamp(ended_ns / 1e9, timezone.utc).isoformat()
        self.tracer.node_finished(event, ended_ns)
        self.lineage.node_finished(event, self.tracer.trace_id(), when)

    def leave(self) -> list[str]:
        """The end of a joined step: report what waits, end what is open, flush; warnings."""
        self.settle()
        self.lineage.leave_run()
        self.tracer.finish_run(True)  # no root here: ends the node spans still open
        warnings = [*self.tracer.shutdown(), *self.lineage.close()]
        if warnings and self.strict:
            raise ObservabilityError(
                "observability.strict is set and " + "; ".join(warnings),
                hint="fix the destination in platform.yaml, or set observability.strict: false to warn instead",
            )
        return warnings

    @contextmanager
    def span(self, name: str, attributes: Mapping[str, Any] | None = None) -> Iterator[Any]:
        """A child span of the run (an ingestion batch, an Iceberg append)."""
        with self.tracer.span(name, attributes) as span:
            yield span

    def abandoned(self, run_id: str, job: str, reason: str) -> list[str]:
        """The lineage FAIL of an earlier run whose process died (no span: its trace is lost); warnings."""
        self.lineage.abandon_run(run_id, job, reason)
        return [*self.tracer.shutdown(), *self.lineage.close()]

    def finish(self, success: bool, error: str | None = None) -> list[str]:
        """Close the run, flush both destinations, and return their warnings.

        Raises:
            ObservabilityError: in strict mode, when a destination failed.
        """
        self.settle()
        self.lineage.finish_run(success, error, self.tracer.trace_id())
        self.tracer.finish_run(success, error)
        warnings = [*self.tracer.shutdown(), *self.lineage.close()]
        if warnings and self.strict:
            raise ObservabilityError(
                "observability.strict is set and " + "; ".join(warnings),
                hint="fix the destination in platform.yaml, or set observability.strict: false to warn instead",
            )
        return warnings


def _worth_waiting_for(event: NodeEvent) -> bool:
    """A failed dbt node (its message comes later) or one whose rows are still to be counted."""
    if event.resource_type == "ingestion":
        return False
    if event.status in _FAILED:
        return True
    return (event.status == "success" and event.rows is None and bool(event.relation)
            and event.materialized in COUNTED)


@contextmanager
def observing(observer: RunObserver) -> Iterator[RunObserver]:
    """Make ``observer`` the current one (ops find it with :func:`current_span`)."""
    _current.append(observer)
    try:
        yield observer
    finally:
        _current.remove(observer)


def current_observer() -> RunObserver | None:
    """The observer of the run in progress in this process, if any."""
    return _current[-1] if _current else None


def current_span(name: str, attributes: Mapping[str, Any] | None = None) -> contextlib.AbstractContextManager[Any]:
    """A span under the current run, or nothing when no run is observed in this process."""
    if not _current:
        return contextlib.nullcontext()
    return _current[-1].span(name, attributes)


def _port_datasets(artifacts: ArtifactsV1) -> PortDatasets | None:
    """The data product's ports as lineage datasets (None for a plain project)."""
    mesh = artifacts.mesh
    if mesh is None:
        return None
    from floe.observability.lineage_naming import PortDatasets

    return PortDatasets(
        namespace=mesh.lineage_namespace,
        inputs={f"{port.schema_name}.{port.table}": port.dataset for port in mesh.inputs},
        outputs={port.model: port.dataset for port in mesh.outputs},
    )
