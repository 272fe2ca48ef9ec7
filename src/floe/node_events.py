"""Node events: dbt nodes and ingestion tables starting and finishing, for whoever listens.

The dbt step publishes every dbt node start and finish here (translated from dbt's JSON log
lines), the ingestion op every table it lands. Listeners are the terminal's progress, the
run's traces and lineage (``floe.observability``) and tests. With no listener (a Kubernetes
run pod, ``dagster dev``) publishing costs nothing. A module of its own at the bottom of
floe's layers, so observability reads run events without importing orchestration.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class NodeEvent:
    """A dbt node started ('started') or finished (any dbt status: success, error, pass, fail...)."""

    unique_id: str
    name: str
    resource_type: str
    status: str
    duration_s: float | None = None
    rows: int | None = None
    message: str | None = None
    relation: str | None = None
    materialized: str | None = None


Listener = Callable[[NodeEvent], None]
_listeners: list[Listener] = []


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Send node events to ``listener`` while the block runs."""
    _listeners.append(listener)
    try:
        yield
    finally:
        _listeners.remove(listener)


def publish_invocation(target_path: object) -> None:
    """Tell listeners where this dbt invocation writes (compiled SQL, run results).

    Sent as a 'started' event of resource type ``dbt_invocation`` whose relation is the
    target folder; progress displays ignore it.
    """
    if _listeners:
        publish(NodeEvent("", "dbt", "dbt_invocation", "started", relation=str(target_path)))


def publish(event: NodeEvent) -> None:
    """Send an event that does not come from dbt (an ingestion batch) to the listeners."""
    for listener in list(_listeners):
        listener(event)


_RESULT_EVENTS = frozenset(
    {"LogModelResult", "LogSeedResult", "LogSnapshotResult", "LogTestResult", "LogFreshnessResult",
     "NodeFinished"}
)
_ROWS = re.compile(r"^(?:INSERT|SELECT|CREATE TABLE|UPDATE|MERGE|COPY)\s+(?:\d+\s+)?(\d+)$")


def publish_raw_dbt_event(raw: Mapping[str, Any]) -> None:
    """Translate a raw dbt JSON log event into a NodeEvent for the listeners, if it is one."""
    if not _listeners:
        return
    name = raw.get("info", {}).get("name")
    if name != "LogStartLine" and name not in _RESULT_EVENTS:
        return
    data = raw.get("data", {})
    node = data.get("node_info", {})
    unique_id = node.get("unique_id", "")
    label = node.get("node_name", unique_id)
    kind = node.get("resource_type", "")
    if name == "LogStartLine":
        event = NodeEvent(unique_id, label, kind, "started")
    else:
        result = data.get("run_result") or {}
        adapter = result.get("adapter_response") or {}
        message = data.get("result_message") or result.get("message")
        failures = data.get("num_failures") or result.get("failures")
        if kind == "test" and isinstance(failures, int) and failures > 0:
            message = f"{failures} failing row{'s' if failures != 1 else ''}"
        rows = adapter.get("rows_affected")
        if not isinstance(rows, int) or rows < 0:
            rows = _rows_from_message(message)
        # node_status is dbt's normalised outcome (success, error, pass, fail, warn, skipped);
        # 'status' in result events is display text such as 'OK' or 'INSERT 12'.
        status = str(node.get("node_status") or result.get("status") or data.get("status") or "unknown").lower()
        event = NodeEvent(
            unique_id, label, kind, status,
            duration_s=data.get("execution_time") or result.get("execution_time"),
            rows=rows,
            message=message if status not in ("success", "pass") else None,
            relation=(node.get("node_relation") or {}).get("relation_name"),
            materialized=node.get("materialized"),
        )
    for listener in list(_listeners):
        listener(event)


def _rows_from_message(message: object) -> int | None:
    """dbt's result message for tables and seeds is like 'INSERT 12' or 'SELECT 1000'."""
    if not isinstance(message, str):
        return None
    match = _ROWS.match(message.strip())
    return int(match.group(1)) if match else None
