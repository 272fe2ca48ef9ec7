"""Span exporters of floe's tracing: JSON Lines for files and the console, and a guard.

The JSON Lines format (one object per ended span, one line each) is floe's own, chosen so a
run can be read back without a collector:

``trace_id`` (32 hex), ``span_id`` (16 hex), ``parent_span_id`` (16 hex or null for a root),
``name``, ``kind`` (e.g. ``INTERNAL``), ``start_time_unix_nano`` and ``end_time_unix_nano``
(integers), ``status`` (``{"code": "UNSET"|"OK"|"ERROR", "message": str|null}``),
``attributes`` (object), ``events`` (list of ``{"name", "time_unix_nano", "attributes"}``,
e.g. a recorded exception) and ``resource`` (the resource attributes: service.name, ...).

:class:`GuardedExporter` wraps any exporter so that a destination that fails once is not
tried again during the run (which bounds how long a dead collector can cost), and keeps the
first failure's reason for the single warning of the run. The SDK's exporters log every
failed batch themselves, some with a traceback; while a guarded export runs, those records
are captured as the reason instead of reaching the user's terminal.
"""

from __future__ import annotations

import json
import logging
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
from opentelemetry.trace import format_span_id, format_trace_id

from floe.observability.rotation import rotate_if_large

# Loggers of the SDK exporters whose per-batch failure records become floe's one warning.
_EXPORTER_LOGGERS = (
    "opentelemetry.exporter.otlp.proto.grpc.exporter",
    "opentelemetry.exporter.otlp.proto.grpc.trace_exporter",
    "opentelemetry.exporter.otlp.proto.http.trace_exporter",
    "opentelemetry.exporter.otlp.common.http",
)


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """The JSON object of one ended span (see the module docstring for the format)."""
    context = span.get_span_context()
    parent = span.parent
    status = span.status
    return {
        "trace_id": format_trace_id(context.trace_id) if context else None,
        "span_id": format_span_id(context.span_id) if context else None,
        "parent_span_id": format_span_id(parent.span_id) if parent is not None else None,
        "name": span.name,
        "kind": span.kind.name,
        "start_time_unix_nano": span.start_time,
        "end_time_unix_nano": span.end_time,
        "status": {"code": status.status_code.name, "message": status.description},
        "attributes": dict(span.attributes or {}),
        "events": [
            {"name": event.name, "time_unix_nano": event.timestamp, "attributes": dict(event.attributes or {})}
            for event in span.events
        ],
        "resource": dict(span.resource.attributes),
    }


def span_lines(spans: Sequence[ReadableSpan]) -> str:
    """The spans as JSON Lines, newline-terminated (one string, so one write per batch)."""
    return "".join(
        json.dumps(span_record(span), separators=(",", ":"), ensure_ascii=False, default=str) + "\n"
        for span in spans
    )


class JsonLinesFileExporter(SpanExporter):
    """Appends each batch of spans to a JSON Lines file, creating its folder on first use.

    The file is opened per batch (the batch processor sends one every few seconds), so no
    handle outlives a run and another run may append to the same file afterwards.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        rotate_if_large(path)  # once per run, before its first span

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Append the batch; an OSError propagates to the guard, which words the warning."""
        text = span_lines(spans)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(text)
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Nothing is held open between batches."""


class ConsoleJsonExporter(SpanExporter):
    """Writes spans as JSON Lines to standard error, looked up at each export.

    Looking ``sys.stderr`` up late follows whatever the process (or pytest) has put there.
    """

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write the spans and flush, so they appear as they end."""
        stream = sys.stderr
        stream.write(span_lines(spans))
        stream.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Standard error is not ours to close."""


class _Capture(threading.local):
    guard: GuardedExporter | None = None


_capture = _Capture()
_install_lock = threading.Lock()


class _CaptureExporterLogs(logging.Filter):
    """Turns the SDK exporters' failure logs into a reason while floe's guard is exporting.

    Records logged outside a guarded export (another library's own exporter) pass unchanged.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        guard = _capture.guard
        if guard is None:
            return True
        if record.levelno >= logging.WARNING:
            guard.note_reason(record.getMessage())
            return False
        return True


_FILTER = _CaptureExporterLogs()


def note_problem(message: str) -> None:
    """Give the guard exporting on this thread (if any) a reason the SDK would not log."""
    guard = _capture.guard
    if guard is not None:
        guard.note_reason(message)


def _install_log_capture() -> None:
    with _install_lock:
        for name in _EXPORTER_LOGGERS:
            logger = logging.getLogger(name)
            if _FILTER not in logger.filters:
                logger.addFilter(_FILTER)


class GuardedExporter(SpanExporter):
    """Stops exporting after the first failure and remembers why, for one warning per run.

    Attributes:
        failed: Whether a batch failed (or could not finish in time); nothing is sent after.
        reasons: What went wrong, as the exporter said it (the first few messages).
        exported: Spans the destination accepted.
        dropped: Spans refused by the guard or in a failed batch.
        busy: Whether an export is running right now (so a flush that timed out lost it).
    """

    _MAX_REASONS = 8

    def __init__(self, inner: SpanExporter, *, failure: str | None = None) -> None:
        self._inner = inner
        self._lock = threading.Lock()
        self.failed = failure is not None
        self.reasons: list[str] = [failure] if failure else []
        self.exported = 0
        self.dropped = 0
        self.busy = False
        self._shut = False
        _install_log_capture()

    def note_reason(self, message: str) -> None:
        """Keep what the exporter said (a transient error is the reason if time runs out)."""
        with self._lock:
            if len(self.reasons) < self._MAX_REASONS:
                self.reasons.append(message)

    def mark_failed(self, reason: str | None = None) -> None:
        """Record a failure found outside an export (the flush ran out of time)."""
        if reason:
            self.note_reason(reason)
        self.failed = True

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Export through the wrapped exporter unless the destination already failed."""
        if self.failed:
            with self._lock:
                self.dropped += len(spans)
            return SpanExportResult.FAILURE
        self.busy = True
        _capture.guard = self
        try:
            result = self._inner.export(spans)
        except OSError as exc:
            result = SpanExportResult.FAILURE
            self.note_reason(str(exc.strerror or exc))
        except Exception as exc:  # noqa: BLE001 - an exporter's bug must never fail or spam the run
            result = SpanExportResult.FAILURE
            self.note_reason(f"{type(exc).__name__}: {exc}")
        finally:
            _capture.guard = None
            self.busy = False
        with self._lock:
            if result is SpanExportResult.SUCCESS:
                self.exported += len(spans)
            else:
                self.dropped += len(spans)
                self.failed = True
        return result

    def shutdown(self) -> None:
        """Shut the wrapped exporter down; for OTLP this also aborts a retry that is waiting."""
        with self._lock:
            if self._shut:
                return
            self._shut = True
        _capture.guard = self
        try:
            self._inner.shutdown()
        except Exception as exc:  # noqa: BLE001 - closing a dead connection may raise anything
            self.note_reason(f"{type(exc).__name__}: {exc}")
        finally:
            _capture.guard = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        """The wrapped exporters buffer nothing."""
        return True
