"""``floe compile``."""

from __future__ import annotations

import time
from pathlib import Path

import click

from floe.cli.options import spec_options


@click.command("compile")
@spec_options
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Folder for the artifacts [default: .floe beside floe.yaml].")
def compile_(pipeline_file: Path, platform_file: Path | None, environment: str | None,
             output: Path | None) -> None:
    """Compile the specs for one environment into the artifacts.

    Writes .floe/artifacts.json (the contract everything runs from), .floe/dbt/profiles.yml
    (secrets as env_var() references) and .floe/dbt/manifest.json (from 'dbt parse').
    A failed compile leaves the previous artifacts untouched.
    """
    from floe.compiler import compile_project
    from floe.spec.project import load_project

    started = time.perf_counter()
    project = load_project(pipeline_file, environment=environment, platform_path=platform_file)
    click.echo(f"compiling {project.pipeline.model.name} for environment {project.environment_name} "
               f"({project.environment.compute.type}) ...", err=True)
    result = compile_project(project, output)
    click.secho("✓ ", fg="green", nl=False)
    click.echo(f"wrote {_shown(result.artifacts_path)}: {result.model_count} models, "
               f"{result.node_count} dbt nodes, {len(result.artifacts.jobs)} jobs, "
               f"{len(result.artifacts.schedules)} schedules ({time.perf_counter() - started:.1f}s)")
    for note in result.notes:
        click.echo(f"  {note}")
    for warning in result.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)


def _shown(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)
