"""Node events: dbt nodes and ingestion tables starting and finishing, for whoever listens.

The dbt step publishes every dbt node start and finish here (translated from dbt's JSON log
lines), the ingestion op every table it lands. Listeners are the terminal's progress, the
run's traces and lineage (``floe.observability``) and tests. With no listener (a Kubernetes
run pod, ``dagster dev``) publishing costs nothing. A module of its own at the bottom of
floe's layers, so observability reads run events without importing orchestration.

Events of resource type ``dbt_invocation`` (:data:`INVOCATION`) are about the dbt process, not
a node finishing: 'started' names its target folder; 'error' or 'warn' carries dbt's own
message, either about one node (``unique_id`` set: dbt prints why a node failed only at the end
of its run, after the node's result) or about the whole invocation (``unique_id`` empty: a lock,
a refused connection, a crash before any node ran). Node listeners skip them; the run summary
attaches them (:func:`merge_dbt_messages`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

INVOCATION = "dbt_invocation"


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
        publish(NodeEvent("", "dbt", INVOCATION, "started", relation=str(target_path)))


def publish(event: NodeEvent) -> None:
    """Send an event that does not come from dbt (an ingestion batch) to the listeners."""
    for listener in list(_listeners):
        listener(event)


_RESULT_EVENTS = frozenset(
    {"LogModelResult", "LogSeedResult", "LogSnapshotResult", "LogTestResult", "LogFreshnessResult",
     "NodeFinished", "SkippingDetails"}
)
# dbt's end-of-run account of each failed or warning node, the only place (at its default log
# level) where it says why: the database's error, the unit test's diff, "Got 1 result ...".
_NODE_MESSAGES = {"RunResultError": "error", "RunResultErrorNoMessage": "error", "RunResultWarningMessage": "warn"}
# Error-level events that explain nothing a user can act on (the traceback under the error).
_NOT_MESSAGES = frozenset({"MainStackTrace"})
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_ROWS = re.compile(r"^(?:INSERT|SELECT|CREATE TABLE|UPDATE|MERGE|COPY)\s+(?:\d+\s+)?(\d+)$")


def publish_raw_dbt_event(raw: Mapping[str, Any]) -> None:
    """Translate a raw dbt JSON log event into a NodeEvent for the listeners, if it is one."""
    if not _listeners:
        return
    info = raw.get("info", {})
    name = info.get("name")
    data = raw.get("data", {})
    node = data.get("node_info") or {}
    if name != "LogStartLine" and name not in _RESULT_EVENTS:
        said = _dbt_message(name, info, data, node)
        if said is not None:
            publish(said)
        return
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
        status = str(node.get("node_status") or "").lower()
        if status in ("", "none"):
            # A unit test's node_info carries no status ('None'): its result event's own does.
            status = str(result.get("status") or data.get("status") or "unknown").lower()
        event = NodeEvent(
            unique_id, label, kind, status,
            duration_s=data.get("execution_time") or result.get("execution_time"),
            rows=rows,
            message=clean_dbt_message(str(message)) or None if message and status not in ("success", "pass") else None,
            relation=(node.get("node_relation") or {}).get("relation_name"),
            materialized=node.get("materialized"),
        )
    for listener in list(_listeners):
        listener(event)


def _dbt_message(name: object, info: Mapping[str, Any], data: Mapping[str, Any],
                 node: Mapping[str, Any]) -> NodeEvent | None:
    """dbt's own account of a failed (or warning) node, or of the invocation failing as a whole."""
    level = info.get("level")
    unique_id = node.get("unique_id") or ""
    if name in _NODE_MESSAGES and unique_id and level in ("error", "warn"):
        status = _NODE_MESSAGES[str(name)]
    elif level == "error" and not unique_id and name not in _NOT_MESSAGES:
        status = "error"
    else:
        return None
    text = clean_dbt_message(str(data.get("msg") or info.get("msg") or ""))
    if not text:
        return None
    return NodeEvent(unique_id, node.get("node_name") or "dbt", INVOCATION, status, message=text)


def clean_dbt_message(text: str) -> str:
    """dbt's message as a terminal should show it: no colour codes, no blank lines, no traceback."""
    text = _ANSI.sub("", text).replace("\r", "").expandtabs(4)
    text = text.split("Traceback (most recent call last):", 1)[0]
    lines = [line.rstrip() for line in text.splitlines() if line.strip()]
    # The caller already says an error happened: dbt's "Encountered an error:" repeats it.
    if lines and lines[0].strip() == "Encountered an error:":
        lines = lines[1:]
    return "\n".join(lines)


def merge_dbt_messages(events: list[NodeEvent]) -> tuple[list[NodeEvent], list[str]]:
    """The finished nodes, each with dbt's message attached, and dbt's messages about no node.

    One event per node (the last one dbt sent for it), in the order nodes first finished.
    """
    nodes: dict[str, NodeEvent] = {}
    messages: dict[str, list[str]] = {}
    invocation: list[str] = []
    for event in events:
        if event.resource_type == INVOCATION:
            if event.status != "started" and event.message:
                if event.unique_id:
                    messages.setdefault(event.unique_id, []).append(event.message)
                elif event.message not in invocation:
                    invocation.append(event.message)
        elif event.status != "started":
            nodes[event.unique_id or f"{event.resource_type}.{event.name}"] = event
    merged = []
    for key, node in nodes.items():
        for text in messages.get(key, []):
            node = with_dbt_message(node, text)
        merged.append(node)
    return merged, invocation


def with_dbt_message(node: NodeEvent, text: str) -> NodeEvent:
    """``node`` with dbt's message added below what its result already said (e.g. '1 failing row')."""
    if node.message and text in node.message:
        return node
    return replace(node, message=f"{node.message}\n{text}" if node.message else text)


# How dbt counts results in its "Done. PASS=.. WARN=.. ERROR=.. SKIP=.. NO-OP=.. TOTAL=.." line.
DBT_COUNT = {"error": "error", "fail": "error", "partial success": "error", "runtime error": "error",
             "skipped": "skip", "warn": "warn", "pass": "pass", "success": "pass", "no-op": "noop"}


def dbt_counts(nodes: list[NodeEvent]) -> dict[str, int]:
    """Counts of dbt's finished nodes as dbt's summary line counts them (floe's own nodes left out)."""
    counts = {"pass": 0, "warn": 0, "error": 0, "skip": 0, "noop": 0, "total": 0}
    for node in nodes:
        if node.resource_type in ("ingestion", INVOCATION) or node.status == "started":
            continue
        kind = DBT_COUNT.get(node.status)
        if kind is not None:
            counts[kind] += 1
        counts["total"] += 1
    return counts


def _rows_from_message(message: object) -> int | None:
    """dbt's result message for tables and seeds is like 'INSERT 12' or 'SELECT 1000'."""
    if not isinstance(message, str):
        return None
    match = _ROWS.match(message.strip())
    return int(match.group(1)) if match else None
