"""``floe lineage``."""

from __future__ import annotations

import json
from pathlib import Path

import click

DEFAULT_FILE = Path(".floe/lineage.jsonl")


@click.command()
@click.option("--file", "lineage_file", type=click.Path(path_type=Path), default=DEFAULT_FILE, show_default=True,
              help="The lineage file (observability.lineage type: file).")
@click.option("--run", "run_id", default=None, metavar="RUN_ID",
              help="Run id (or a unique prefix of it) [default: the last run in the file].")
@click.option("--format", "output_format", type=click.Choice(["tree", "mermaid", "json"]), default="tree",
              show_default=True, help="tree for the terminal, mermaid for a flowchart, json for tools.")
def lineage(lineage_file: Path, run_id: str | None, output_format: str) -> None:
    """Show what a run read and wrote: inputs → job → outputs for every model and ingestion table.

    Reads the OpenLineage events floe appends to .floe/lineage.jsonl on every run (the
    default lineage destination) and shows the last run, or the one given by --run.
    """
    from floe.observability.lineage_graph import build_graph, read_events, render_mermaid, render_tree, to_json

    graph = build_graph(read_events(lineage_file), run_id, source=str(lineage_file))
    if graph.state == "RUNNING" and _closed_stale_runs(lineage_file):
        # A killed run's lineage now ends with FAIL: read it again.
        graph = build_graph(read_events(lineage_file), run_id, source=str(lineage_file))
    if output_format == "json":
        click.echo(json.dumps(to_json(graph), indent=2))
    elif output_format == "mermaid":
        click.echo(render_mermaid(graph), nl=False)
    else:
        for line in render_tree(graph):
            click.echo(line)


def _closed_stale_runs(lineage_file: Path) -> bool:
    """Whether runs of the project beside the lineage file were still open with their process gone
    (a killed floe run), now marked failed; only looked at when the run shown is still RUNNING."""
    from floe.contract.io import ARTIFACTS_FILE

    artifacts = lineage_file.parent / ARTIFACTS_FILE
    if not artifacts.is_file():
        return False
    from floe.contract.project import open_compiled_project
    from floe.orchestration.stale_runs import close_stale_runs

    try:
        stale, _warnings = close_stale_runs(open_compiled_project(artifacts))
    except Exception:  # noqa: BLE001 - the lineage is shown as recorded
        return False
    return bool(stale)
