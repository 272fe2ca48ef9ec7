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

The ids of a run's trace follow from its Dagster run id (:func:`run_trace_ids`): the trace id
and the root span's id. A run Dagster's daemon or UI starts runs its steps in processes of
their own; each step joins the run's trace (:meth:`RunTracer.join_run`) without talking to
the process that holds the root span, so one trace covers ingestion, dbt and the run.

Export is off the run's path (a batch processor's thread) and bounded: :meth:`RunTracer.shutdown`
waits at most ``timeout`` for the last spans, and a destination that fails once is not
tried again in the run. A failure becomes one human warning per run, never a traceback.
Which ``OTEL_*`` environment variables apply is listed in :mod:`floe.observability._otel_config`.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.trace import NonRecordingSpan, Span, SpanContext, Status, StatusCode, TraceFlags, format_trace_id
from opentelemetry.util.types import AttributeValue

from floe.node_events import NodeEvent
from floe.spec.observability import NoTracing, OtlpTracing, Tracing

if TYPE_CHECKING:
    from floe.observability._otel_config import SpanPipeline

__all__ = ["AttributeValue", "RunTracer", "bounded_message", "run_trace_ids"]

FAILED_STATUSES = frozenset({"error", "fail", "runtime error"})
# A span's status description and a lineage errorMessage carry dbt's message up to this many
# characters (a database error with its SQL excerpt fits; a page of compiled SQL does not).
MESSAGE_LIMIT = 2000


def run_trace_ids(run_id: str) -> tuple[int, int]:
    """The trace id and root span id of a run, derived from its (Dagster) run id.

    Every process of a run computes the same two, so its steps' spans share one trace under
    one root however the run was started. A Dagster run id is a random UUID: its 128 bits are
    the trace id. The span id is 64 bits of a hash of it (never 0, which OpenTelemetry reserves).
    """
    try:
        trace_id = uuid.UUID(run_id).int
    except ValueError:
        trace_id = uuid.uuid5(uuid.NAMESPACE_URL, f"floe-run:{run_id}").int
    digest = hashlib.sha256(f"floe-root-span:{run_id}".encode()).digest()
    return trace_id or 1, int.from_bytes(digest[:8], "big") or 1


def bounded_message(text: str, limit: int = MESSAGE_LIMIT) -> str:
    """``text`` without terminal colour codes, cut to ``limit`` characters (with a marker)."""
    from floe.node_events import clean_dbt_message

    cleaned = clean_dbt_message(text) or text.strip()
    if len(cleaned) <= limit:
        return cleaned
    return cleaned[: limit - 15].rstrip() + " ... (truncated)"


class _RunIds(RandomIdGenerator):
    """Random ids, except for a run's root span: the ids :func:`run_trace_ids` gives.

    The SDK asks for a trace id only for a span without a parent, immediately followed by its
    span id, in the same thread: a thread-local pending pair serves exactly that root.
    """

    def __init__(self) -> None:
        self._pending = threading.local()

    def expect_root(self, trace_id: int, span_id: int) -> None:
        self._pending.ids = (trace_id, span_id)
        self._pending.span_id = None

    def generate_trace_id(self) -> int:
        ids = getattr(self._pending, "ids", None)
        if ids is None:
            return super().generate_trace_id()
        self._pending.ids = None
        self._pending.span_id = ids[1]
        return int(ids[0])

    def generate_span_id(self) -> int:
        span_id = getattr(self._pending, "span_id", None)
        if span_id is None:
            return super().generate_span_id()
        self._pending.span_id = None
        return int(span_id)

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
        self._joined: Span | None = None  # the root span of a run held by another process
        self._ids = _RunIds()
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
            sampler=ALWAYS_ON, shutdown_on_exit=False, id_generator=self._ids,
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
        with self._lock:
            self._ids.expect_root(*run_trace_ids(run_id))
            span = self._tracer.start_span(
                "floe.run", context=Context(),
                attributes={"floe.run_id": run_id, "floe.job": job, **_clean(attributes)},
            )
            self._run = span
            self._trace_id = format_trace_id(span.get_span_context().trace_id)

    def join_run(self, run_id: str) -> None:
        """Make this tracer's spans children of run ``run_id``'s root span, held by another process.

        A step of a run that Dagster executes in a process of its own: its spans join the
        run's trace; the process running the run (:meth:`start_run` there) ends the root.
        """
        if self._tracer is None or self._closed:
            return
        trace_id, span_id = run_trace_ids(run_id)
        context = SpanContext(trace_id, span_id, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
        with self._lock:
            self._joined = NonRecordingSpan(context)
            self._trace_id = format_trace_id(trace_id)

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
            run.set_status(Status(StatusCode.ERROR, bounded_message(error or "") or "run failed"))
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

    def node_finished(self, event: NodeEvent, end_time_ns: int | None = None) -> None:
        """Close the node's span with its outcome; a finish never started becomes a whole span.

        A span made from a finish alone (ingestion tables and skipped nodes report only their
        end) starts ``duration_s`` before its end. ``end_time_ns``: when the node finished,
        for a finish reported later (once dbt's message or the row count is known).
        """
        if self._tracer is None or self._closed or event.resource_type == "dbt_invocation":
            return
        end = end_time_ns or time.time_ns()
        with self._lock:
            span = self._nodes.pop(_node_key(event), None)
        if span is None:
            start = end - int((event.duration_s or 0.0) * 1e9)
            span = self._tracer.start_span(node_span_name(event), context=self._parent_context(self._enclosing()),
                                           start_time=start)
        span.set_attributes(_node_attributes(event))
        if event.status == "skipped":
            span.set_attribute("floe.node.skipped", True)
        if event.status in FAILED_STATUSES:
            span.set_status(Status(StatusCode.ERROR, bounded_message(event.message or "")
                                   or f"{event.resource_type} {event.name} failed"))
        span.end(end_time=end)

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
            span.set_status(Status(StatusCode.ERROR, bounded_message(f"{type(exc).__name__}: {exc}")))
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
        parent = enclosing or self._run or self._joined
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
        "floe.node.message": bounded_message(event.message) if event.message else None,
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
