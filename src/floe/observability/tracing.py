"""OpenTelemetry traces of a run: the run is the root span, every dbt node and ingestion
table a child, and compile stages, ingestion batches and Iceberg appends spans of their own.

Each :class:`RunTracer` owns a private ``TracerProvider`` (never the global one), so runs and
tests in one process never mix their spans, and floe never changes what other
instrumentation in the process sees. Where spans go is ``observability.tracing`` of
platform.yaml:

* ``none``: nothing is created; every method returns at once.
* ``console``: each span as one JSON line on standard error, as it ends.
* ``file``: the same JSON lines appended to a file under the project (format in
  :mod:`floe.observability._otel_export`).
* ``otlp``: OTLP over gRPC or HTTP to a collector, headers resolved from secret references.

Export is off the run's path (a batch processor's thread) and bounded: :meth:`RunTracer.shutdown`
waits at most ``timeout`` for the last spans, and a destination that fails once is not
tried again in the run. A failure becomes one human warning per run, never a traceback.
Which ``OTEL_*`` environment variables apply is listed in :mod:`floe.observability._otel_config`.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, Status, StatusCode, format_trace_id
from opentelemetry.util.types import AttributeValue

from floe.node_events import NodeEvent
from floe.spec.observability import NoTracing, OtlpTracing, Tracing

if TYPE_CHECKING:
    from floe.observability._otel_config import SpanPipeline

__all__ = ["AttributeValue", "RunTracer"]

FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})

# The innermost open ``span()`` of each tracer in this context, so nested spans (an Iceberg
# append inside an ingestion batch) become children. Keyed by tracer so two tracers in one
# process never adopt each other's spans.
_open_spans: ContextVar[tuple[tuple[int, Span], ...]] = ContextVar("floe_open_spans", default=())


class RunTracer:
    """The spans of one pipeline run (or one compile), exported where the platform says.

    Args:
        spec: ``observability.tracing`` of the platform environment.
        service_name: The service the spans belong to (the pipeline name).
        namespace: The service namespace (``observability.namespace``, else the pipeline name).
        timeout: How long :meth:`shutdown` may wait for the destination, in total.
        project_root: Where a relative ``file`` path is resolved from.
        resource_attributes: More resource attributes (``deployment.environment``, ...).
        environ: Where secrets and ``OTEL_*`` variables are read; ``os.environ`` by default.

    Attributes:
        enabled: False for ``type: none`` (or ``OTEL_SDK_DISABLED=true``); then every method
            is a no-op.
    """

    def __init__(
        self, spec: Tracing, *, service_name: str, namespace: str, timeout: timedelta, project_root: Path,
        resource_attributes: Mapping[str, str] | None = None, environ: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if environ is None else environ
        self._spec = spec
        self._timeout_s = timeout.total_seconds()
        self._lock = threading.Lock()
        self._run: Span | None = None
        self._nodes: dict[str, Span] = {}
        self._trace_id: str | None = None
        self._closed = False
        self._warnings: list[str] = []
        self._pipeline: SpanPipeline | None = None
        self._tracer: trace.Tracer | None = None
        if isinstance(spec, NoTracing):
            self.enabled = False
            return
        from floe.observability._otel_config import build_pipeline, build_resource, sdk_disabled

        self.enabled = not sdk_disabled(env)
        if not self.enabled:
            return
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.sampling import ALWAYS_ON

        import floe

        self._pipeline = build_pipeline(spec, project_root=project_root, timeout_s=self._timeout_s, environ=env)
        # shutdown_on_exit=False: the run shuts its provider down itself, within the timeout;
        # an atexit hook would also keep every provider of the process alive until exit.
        self._provider = TracerProvider(
            resource=build_resource(service_name, namespace, resource_attributes, env),
            sampler=ALWAYS_ON, shutdown_on_exit=False,
        )
        self._provider.add_span_processor(self._pipeline.processor)
        self._tracer = self._provider.get_tracer("floe", floe.__version__)

    # -- the run ---------------------------------------------------------------------------

    def start_run(self, run_id: str, job: str, attributes: Mapping[str, AttributeValue] | None = None) -> None:
        """Open the root span ``floe.run`` (a run still open is finished as superseded)."""
        if self._tracer is None or self._closed:
            return
        if self._run is not None:
            self.finish_run(False, "a new run started before this one finished")
        span = self._tracer.start_span(
            "floe.run", context=Context(),
            attributes={"floe.run_id": run_id, "floe.job": job, **_clean(attributes)},
        )
        with self._lock:
            self._run = span
            self._trace_id = format_trace_id(span.get_span_context().trace_id)

    def finish_run(self, success: bool, error: str | None = None) -> None:
        """End the node spans still open, then the run span (ERROR with ``error`` on failure)."""
        with self._lock:
            run, self._run = self._run, None
            nodes, self._nodes = list(self._nodes.values()), {}
        for node in nodes:
            node.set_attribute("floe.node.interrupted", True)
            node.end()
        if run is None:
            return
        run.set_attribute("floe.run.success", success)
        if not success:
            run.set_status(Status(StatusCode.ERROR, error or "run failed"))
        run.end()

    def trace_id(self) -> str | None:
        """The 32-hex trace id of the open (or last) run, for lineage events to point at."""
        return self._trace_id

    # -- nodes -----------------------------------------------------------------------------

    def node_started(self, event: NodeEvent) -> None:
        """Open a child span of the run for a dbt node or ingestion table."""
        if self._tracer is None or self._closed or event.resource_type == "dbt_invocation":
            return
        span = self._tracer.start_span(
            node_span_name(event), context=self._parent_context(self._enclosing()), attributes=_node_attributes(event)
        )
        with self._lock:
            previous = self._nodes.pop(_node_key(event), None)
            self._nodes[_node_key(event)] = span
        if previous is not None:  # dbt reported the same node twice; keep the newer span
            previous.end()

    def node_finished(self, event: NodeEvent) -> None:
        """Close the node's span with its outcome; a finish never started becomes a whole span.

        A span made from a finish alone (ingestion tables report only their end) starts
        ``duration_s`` before now.
        """
        if self._tracer is None or self._closed or event.resource_type == "dbt_invocation":
            return
        with self._lock:
            span = self._nodes.pop(_node_key(event), None)
        if span is None:
            now = time.time_ns()
            start = now - int((event.duration_s or 0.0) * 1e9)
            span = self._tracer.start_span(node_span_name(event), context=self._parent_context(self._enclosing()),
                                           start_time=start)
        span.set_attributes(_node_attributes(event))
        if event.status in FAILED_STATUSES:
            span.set_status(Status(StatusCode.ERROR, event.message or event.status))
        span.end()

    # -- any other span --------------------------------------------------------------------

    @contextmanager
    def span(self, name: str, attributes: Mapping[str, AttributeValue] | None = None) -> Iterator[Any]:
        """A span around a block: a child of the enclosing ``span()`` or the run, else a root.

        Yields the span (None when disabled) so the block can add attributes. An exception
        raised inside is recorded on the span, marks it ERROR, and propagates unchanged.
        """
        if self._tracer is None or self._closed:
            yield None
            return
        enclosing = _open_spans.get()
        span = self._tracer.start_span(name, context=self._parent_context(self._enclosing()),
                                       attributes=_clean(attributes))
        token = _open_spans.set((*enclosing, (id(self), span)))
        try:
            yield span
        except BaseException as exc:
            span.record_exception(exc)
            span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            _open_spans.reset(token)
            span.end()

    # -- the end ---------------------------------------------------------------------------

    def shutdown(self) -> list[str]:
        """Flush the last spans and close the exporter, waiting at most ``timeout``.

        Returns:
            At most one warning (this tracer has one destination) saying what failed, what
            was lost and what to do; empty when every span was delivered or tracing is off.
        """
        if self._pipeline is None or self._closed:
            return list(self._warnings)
        if self._run is not None:
            self.finish_run(False, "the run did not report its end before tracing shut down")
        self._closed = True
        pipeline = self._pipeline
        # The SDK's processor shutdown waits up to 30 s for its worker; run it aside and
        # stop waiting at our own deadline. Shutting the exporter down then aborts a retry
        # or closes the channel of an export still in flight (its thread is a daemon).
        closer = threading.Thread(target=pipeline.processor.shutdown, name="floe-trace-flush", daemon=True)
        closer.start()
        closer.join(self._timeout_s)
        timed_out = closer.is_alive() or pipeline.guard.busy
        if timed_out:
            pipeline.guard.mark_failed()
            pipeline.guard.shutdown()
        if pipeline.guard.failed:
            self._warnings.append(self._warning(pipeline, timed_out=timed_out))
        return list(self._warnings)

    def _warning(self, pipeline: SpanPipeline, *, timed_out: bool) -> str:
        from floe.observability._otel_config import failure_summary

        guard = pipeline.guard
        lost = "spans of this run were dropped"
        if guard.exported:
            lost = f"later spans of this run were dropped ({guard.exported} delivered before the failure)"
        if pipeline.config_error:
            return f"traces: {pipeline.config_error} (observability.tracing.headers); spans of this run were not " \
                   f"sent to {pipeline.destination}. {pipeline.fix}"
        if isinstance(self._spec, OtlpTracing):
            summary, reachable = failure_summary(guard.reasons, timed_out=timed_out, timeout_s=self._timeout_s)
            if reachable:
                return f"traces: OTLP endpoint {pipeline.destination} rejected the spans ({summary}); {lost}. " \
                       "Check observability.tracing.headers and the collector's logs, or set " \
                       "observability.tracing.type: none"
            if summary.startswith("TLS") and self._spec.protocol == "grpc" and not self._spec.insecure:
                summary += "; for a plain-text collector set observability.tracing.insecure: true"
            return f"traces: OTLP endpoint {pipeline.destination} unreachable ({summary}); {lost}. {pipeline.fix}"
        reason = guard.reasons[0] if guard.reasons else f"no write within {self._timeout_s:g}s"
        return f"traces: cannot write to {pipeline.destination} ({reason}); {lost}. {pipeline.fix}"

    def _enclosing(self) -> Span | None:
        """The innermost open ``span()`` of this tracer (e.g. the Dagster step a node runs in)."""
        return next((span for owner, span in reversed(_open_spans.get()) if owner == id(self)), None)

    def _parent_context(self, enclosing: Span | None) -> Context:
        parent = enclosing or self._run
        return trace.set_span_in_context(parent) if parent is not None else Context()


def node_span_name(event: NodeEvent) -> str:
    """``ingestion bronze.orders`` for ingestion, ``dbt.model stg_orders`` for dbt nodes."""
    if event.resource_type == "ingestion":
        return f"ingestion {event.name}"
    return f"dbt.{event.resource_type or 'node'} {event.name}"


def _node_key(event: NodeEvent) -> str:
    return event.unique_id or f"{event.resource_type}:{event.name}"


def _node_attributes(event: NodeEvent) -> dict[str, AttributeValue]:
    values: dict[str, object] = {
        "floe.node.name": event.name,
        "floe.node.unique_id": event.unique_id,
        "floe.node.resource_type": event.resource_type,
        "floe.node.status": event.status,
        "floe.node.rows": event.rows,
        "floe.node.materialized": event.materialized,
        "floe.node.relation": event.relation,
        "floe.node.duration_s": event.duration_s,
        "floe.node.message": event.message,
    }
    return _clean(values)


def _clean(attributes: Mapping[str, object] | None) -> dict[str, AttributeValue]:
    """Attributes OpenTelemetry accepts: None left out, other objects as their text."""
    cleaned: dict[str, AttributeValue] = {}
    for key, value in (attributes or {}).items():
        if value is None:
            continue
        if isinstance(value, (str, bool, int, float)):
            cleaned[key] = value
        elif isinstance(value, (list, tuple)) and all(isinstance(v, (str, bool, int, float)) for v in value):
            cleaned[key] = list(value)
        else:
            cleaned[key] = str(value)
    return cleaned
