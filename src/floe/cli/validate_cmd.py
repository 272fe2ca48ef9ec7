"""``floe validate``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import click

from floe.cli.options import spec_options
from floe.errors import SpecError
from floe.spec.project import load_project


@click.command()
@spec_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def validate(pipeline_file: Path, platform_file: Path | None, environment: str | None, as_json: bool) -> None:
    """Check floe.yaml and platform.yaml, reporting every problem at once.

    Each problem is shown as FILE:LINE:COL  FIELD: MESSAGE with a hint. Checks the dbt project
    path, the environment name, job and schedule references, cron and time zones, and refuses
    literal credentials. Exits 1 when anything is wrong.
    """
    try:
        project = load_project(pipeline_file, environment=environment, platform_path=platform_file)
    except SpecError as exc:
        if as_json:
            click.echo(json.dumps({"valid": False, "issues": [asdict(i) for i in exc.issues]}, indent=2))
        else:
            click.secho(str(exc), err=True, fg="red")
        raise SystemExit(1) from None
    summary = {
        "valid": True,
        "pipeline": project.pipeline.model.name,
        "environment": project.environment_name,
        "compute": project.environment.compute.type,
        "dbt_project": str(project.dbt_project_dir),
        "issues": [],
    }
    if as_json:
        click.echo(json.dumps(summary, indent=2))
        return
    click.secho("✓ ", fg="green", nl=False)
    # The names as messages show them: '--platform <(cat platform.yaml)' is /dev/fd/63, not '63'.
    click.echo(f"{project.pipeline.source.file} and {project.platform.source.file} are valid "
               f"(pipeline {summary['pipeline']}, environment {summary['environment']}: "
               f"{summary['compute']})")
