"""Terminal rendering of run progress and summaries (the only place that prints them)."""

from __future__ import annotations

import textwrap
from typing import Any

import click

from floe.node_events import INVOCATION, NodeEvent, dbt_counts
from floe.orchestration.runner import RunOutcome

_OK = {"success", "pass"}
_BAD = {"error", "fail", "runtime error", "partial success"}
MESSAGE_LINES = 5  # of dbt's message under a failed node: the error and where, not a wall of text


def _colour(status: str) -> str:
    return "green" if status in _OK else "red" if status in _BAD else "yellow"


def message_lines(message: str, limit: int = MESSAGE_LINES) -> list[str]:
    """The first ``limit`` lines of a message, the last one saying how many more there are."""
    lines = [line for line in message.splitlines() if line.strip()]
    if len(lines) > limit:
        more = len(lines) - limit + 1
        lines = [*lines[: limit - 1], f"… {more} more line{'s' if more != 1 else ''} in the run log"]
    return lines


def _echo_message(head: str, message: str, colour: str, *, indent: str, err: bool) -> None:
    """``head`` and the message's first line in colour, its next lines indented below."""
    first, *rest = message_lines(message) or [""]
    click.secho(f"{indent}{head}{first.strip()}", fg=colour, err=err)
    for line in textwrap.dedent("\n".join(rest)).splitlines():
        click.echo(f"{indent}    {line}", err=err)


class NodeProgress:
    """Prints one line per finished dbt node, and dbt's message under a node that failed."""

    def __init__(self) -> None:
        self.finished = 0
        self._kinds: dict[str, str] = {}

    def __call__(self, event: NodeEvent) -> None:
        if event.status == "started":
            return
        if event.resource_type == INVOCATION:
            # dbt explains failures at the end of its run, after the nodes' own lines.
            if event.message:
                mark = "•" if event.status == "warn" else "✗"
                what = f"{self._kinds.get(event.unique_id, 'node')} {event.name}" if event.unique_id else "dbt"
                _echo_message(f"  {mark} {what}: ", event.message, _colour(event.status), indent="", err=True)
            return
        self._kinds[event.unique_id] = event.resource_type
        self.finished += 1
        detail = []
        if event.rows is not None:
            detail.append(f"{event.rows:,} rows")
        if event.duration_s is not None and event.status != "skipped":
            detail.append(f"{event.duration_s:.2f}s")
        mark = "✓" if event.status in _OK else "✗" if event.status in _BAD else "•"
        click.secho(f"  {mark} ", fg=_colour(event.status), nl=False, err=True)
        click.echo(f"[{self.finished:>3}] {event.resource_type:<9} {event.name}"
                   + (f"  ({', '.join(detail)})" if detail else "")
                   + ("" if event.status in _OK else f"  {event.status.upper()}"), err=True)


def counts_line(counts: dict[str, int]) -> str:
    """dbt's own summary line (``PASS=.. WARN=.. ERROR=.. SKIP=.. NO-OP=.. TOTAL=..``)."""
    return (f"PASS={counts['pass']} WARN={counts['warn']} ERROR={counts['error']} SKIP={counts['skip']} "
            f"NO-OP={counts['noop']} TOTAL={counts['total']}")


def print_summary(outcome: RunOutcome) -> None:
    """A table of built assets, then dbt's counts, test counts and each failure with dbt's message."""
    built = [n for n in outcome.nodes if n.resource_type in ("ingestion", "model", "seed", "snapshot")]
    tests = [n for n in outcome.nodes if n.resource_type in ("test", "unit_test")]
    width = max([len(n.name) for n in built] + [5])
    click.echo("")
    if built or not outcome.errors:
        click.echo(f"{'asset':<{width}}  {'type':<9}  {'status':<8}  {'rows':>10}  {'duration':>8}")
        click.echo(f"{'-' * width}  {'-' * 9}  {'-' * 8}  {'-' * 10}  {'-' * 8}")
    for node in built:
        rows = f"{node.rows:,}" if node.rows is not None else "-"
        duration = f"{node.duration_s:.2f}s" if node.duration_s is not None and node.status != "skipped" else "-"
        click.echo(f"{node.name:<{width}}  {node.resource_type:<9}  ", nl=False)
        click.secho(f"{node.status:<8}", fg=_colour(node.status), nl=False)
        click.echo(f"  {rows:>10}  {duration:>8}")
    passed = sum(1 for t in tests if t.status == "pass")
    if tests or not outcome.errors:
        click.echo(f"\ntests: {passed} passed, {len(tests) - passed} not passed")
    if any(n.resource_type != "ingestion" for n in outcome.nodes):
        click.echo(f"dbt: {counts_line(dbt_counts(outcome.nodes))}")
    for node in outcome.failed_nodes:
        _echo_message(f"✗ {node.resource_type} {node.name}: ", node.message or node.status, "red",
                      indent="  ", err=False)
    for node in outcome.nodes:
        if node.status == "warn" and node.message:
            _echo_message(f"• {node.resource_type} {node.name}: ", node.message, "yellow", indent="  ", err=False)
    for error in outcome.errors:
        _echo_message("✗ ", error, "red", indent="  ", err=False)
    state = "succeeded" if outcome.success else "FAILED"
    click.secho(f"\nrun {outcome.run_id[:8]} {state} in {outcome.duration_s:.1f}s",
                fg="green" if outcome.success else "red", bold=True)


def outcome_document(outcome: RunOutcome) -> dict[str, Any]:
    """The run outcome as a JSON-ready document (stable keys, documented in the README)."""
    return {
        "run_id": outcome.run_id,
        "success": outcome.success,
        "duration_s": round(outcome.duration_s, 3),
        "log_path": str(outcome.log_path) if outcome.log_path else None,
        "counts": dbt_counts(outcome.nodes),
        "nodes": [
            {"unique_id": n.unique_id, "name": n.name, "resource_type": n.resource_type, "status": n.status,
             "rows": n.rows, "duration_s": n.duration_s, "message": n.message}
            for n in outcome.nodes
        ],
        "errors": outcome.errors,
        "warnings": outcome.warnings,
    }
