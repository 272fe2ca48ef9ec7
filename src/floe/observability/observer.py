"""One run's traces and lineage, fed by the node events the run publishes.

The observer is a node listener (see :mod:`floe.node_events`): every dbt node
and ingestion table that starts or finishes becomes a span and an OpenLineage event; the
run itself is the root span and the parent lineage run, whose OpenLineage run id is the
Dagster run id. Each lineage event carries the trace id of the run's span, so a user can
jump from lineage to trace.

Exports never fail a run unless the platform says ``observability.strict: true``: an
unreachable destination produces one warning per run, within the configured timeout.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.errors import FloeError
from floe.node_events import NodeEvent

if TYPE_CHECKING:
    from floe.contract.project import CompiledProject
    from floe.observability.lineage import RunLineage
    from floe.observability.tracing import RunTracer

_current: list[RunObserver] = []


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
        self.lineage: RunLineage = RunLineage(
            lineage, namespace=namespace, manifest=manifest, environment=artifacts.environment,
            project_root=compiled.root, timeout=platform.timeout, pipeline=artifacts.project.name,
            iceberg_tables=[f"{source.namespace}.{table}" for source in artifacts.ingestion for table in source.tables],
        )

    @property
    def enabled(self) -> bool:
        """Whether anything is exported at all."""
        return self.tracer.enabled or self.lineage.enabled

    def start(self, run_id: str, job: str) -> None:
        """Open the run's root span and emit the pipeline run's START."""
        self.tracer.start_run(run_id, job, self._attributes)
        self.lineage.start_run(run_id, job, self.tracer.trace_id())

    def __call__(self, event: NodeEvent) -> None:
        """A node listener: a span and a lineage event per node start and finish."""
        if event.resource_type == "dbt_invocation":
            if event.relation:
                self.lineage.set_target_path(Path(event.relation))
            return
        if event.status == "started":
            self.tracer.node_started(event)
            self.lineage.node_started(event, self.tracer.trace_id())
        else:
            self.tracer.node_finished(event)
            self.lineage.node_finished(event, self.tracer.trace_id())

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
        self.lineage.finish_run(success, error, self.tracer.trace_id())
        self.tracer.finish_run(success, error)
        warnings = [*self.tracer.shutdown(), *self.lineage.close()]
        if warnings and self.strict:
            raise ObservabilityError(
                "observability.strict is set and " + "; ".join(warnings),
                hint="fix the destination in platform.yaml, or set observability.strict: false to warn instead",
            )
        return warnings


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
