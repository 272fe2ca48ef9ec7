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
    if output_format == "json":
        click.echo(json.dumps(to_json(graph), indent=2))
    elif output_format == "mermaid":
        click.echo(render_mermaid(graph), nl=False)
    else:
        for line in render_tree(graph):
            click.echo(line)
