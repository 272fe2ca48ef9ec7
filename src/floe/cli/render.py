"""Terminal rendering of run progress and summaries (the only place that prints them)."""

from __future__ import annotations

from typing import Any

import click

from floe.node_events import NodeEvent
from floe.orchestration.runner import RunOutcome

_OK = {"success", "pass"}
_BAD = {"error", "fail", "runtime error"}


def _colour(status: str) -> str:
    return "green" if status in _OK else "red" if status in _BAD else "yellow"


class NodeProgress:
    """Prints one line per finished dbt node."""

    def __init__(self) -> None:
        self.finished = 0

    def __call__(self, event: NodeEvent) -> None:
        if event.status == "started":
            return
        self.finished += 1
        detail = []
        if event.rows is not None:
            detail.append(f"{event.rows:,} rows")
        if event.duration_s is not None:
            detail.append(f"{event.duration_s:.2f}s")
        mark = "✓" if event.status in _OK else "✗" if event.status in _BAD else "•"
        click.secho(f"  {mark} ", fg=_colour(event.status), nl=False, err=True)
        click.echo(f"[{self.finished:>3}] {event.resource_type:<9} {event.name}"
                   + (f"  ({', '.join(detail)})" if detail else "")
                   + ("" if event.status in _OK else f"  {event.status.upper()}"), err=True)


def print_summary(outcome: RunOutcome) -> None:
    """A table of built assets, then test counts and failures."""
    built = [n for n in outcome.nodes if n.resource_type in ("ingestion", "model", "seed", "snapshot")]
    tests = [n for n in outcome.nodes if n.resource_type in ("test", "unit_test")]
    width = max([len(n.name) for n in built] + [5])
    click.echo("")
    click.echo(f"{'asset':<{width}}  {'type':<9}  {'status':<8}  {'rows':>10}  {'duration':>8}")
    click.echo(f"{'-' * width}  {'-' * 9}  {'-' * 8}  {'-' * 10}  {'-' * 8}")
    for node in built:
        rows = f"{node.rows:,}" if node.rows is not None else "-"
        duration = f"{node.duration_s:.2f}s" if node.duration_s is not None else "-"
        click.echo(f"{node.name:<{width}}  {node.resource_type:<9}  ", nl=False)
        click.secho(f"{node.status:<8}", fg=_colour(node.status), nl=False)
        click.echo(f"  {rows:>10}  {duration:>8}")
    passed = sum(1 for t in tests if t.status == "pass")
    click.echo(f"\ntests: {passed} passed, {len(tests) - passed} not passed")
    for node in outcome.failed_nodes:
        click.secho(f"  ✗ {node.resource_type} {node.name}: {(node.message or node.status).strip()}",
                    fg="red")
    for error in outcome.errors if not outcome.failed_nodes else []:
        click.secho(f"  ✗ {error.splitlines()[0]}", fg="red")
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
        "nodes": [
            {"unique_id": n.unique_id, "name": n.name, "resource_type": n.resource_type, "status": n.status,
             "rows": n.rows, "duration_s": n.duration_s, "message": n.message}
            for n in outcome.nodes
        ],
        "errors": outcome.errors,
        "warnings": outcome.warnings,
    }
