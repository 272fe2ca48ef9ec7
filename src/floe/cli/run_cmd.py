"""``floe run``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from floe.cli.one_writer import one_writer, project_root, wait_option
from floe.cli.options import artifacts_option, spec_options
from floe.cli.render import NodeProgress, outcome_document, print_summary

if TYPE_CHECKING:
    from floe.project_lock import ProjectBusyError


@click.command()
@spec_options
@click.option("--select", "-s", default=None, metavar="SEL",
              help="dbt selection to build, e.g. 'stg_orders+' or 'tag:daily' [default: everything].")
@click.option("--exclude", default=None, metavar="SEL", help="dbt selection to leave out.")
@click.option("--state", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="dbt's --state: folder with manifest.json of an earlier build, for 'state:modified' and "
                   "--defer (relative to the current folder).")
@click.option("--defer", is_flag=True, help="dbt's --defer: read unselected parents where --state built them.")
@click.option("--favor-state", is_flag=True, help="dbt's --favor-state: with --defer, prefer the state's relations.")
@click.option("--job", "-j", default=None, help="A job declared in floe.yaml [default: all].")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.option("--vars", "dbt_vars_text", default=None, metavar="YAML",
              help="dbt vars for this run, as dbt's --vars takes them, e.g. '{min_amount: 10}'; "
                   "they override floe.yaml's vars by name.")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Folder of the artifacts [default: .floe beside floe.yaml].")
@artifacts_option
@click.option("--json", "as_json", is_flag=True,
              help="Print the outcome as JSON on stdout (progress still goes to stderr).")
@wait_option
def run(pipeline_file: Path, platform_file: Path | None, environment: str | None, select: str | None,
        exclude: str | None, state: Path | None, defer: bool, favor_state: bool, job: str | None,
        full_refresh: bool, dbt_vars_text: str | None, output: Path | None, artifacts_path: Path | None,
        as_json: bool, wait: bool) -> None:
    """Materialize the pipeline in this process.

    Compiles first when the artifacts are missing or stale (unless --artifacts or
    $FLOE_ARTIFACTS_PATH names compiled artifacts: those run as they are), then Dagster drives one
    'dbt build': every model and seed is an asset, every dbt test a check. Shows each node as
    it finishes and ends with a summary; exits 1 when a model or test fails.

    --select/--exclude pick what 'dbt ls' would (paths relative to the dbt project, tests run as
    checks) and reach dbt as written; 'state:' selectors and --defer compare with --state.

    One writer per project: while another floe command writes this project (a run, a demo
    batch), exits 1 naming it (command, pid, since when); --wait waits for it instead.

    FLOE_FAST_PATH=0 runs on stock Dagster and dagster-dbt with plain dbt (slower, same
    results): floe's shortcuts into their internals are off (see ARCHITECTURE.md).
    """
    from floe.project_lock import ProjectBusyError
    from floe.spec.dbt_vars import parse_dbt_vars

    # Refused before anything is written, the project's lock file included.
    dbt_vars = parse_dbt_vars(dbt_vars_text, origin="--vars") if dbt_vars_text is not None else {}
    try:
        with one_writer(project_root(pipeline_file, artifacts_path), wait=wait):
            _run(pipeline_file, platform_file, environment, select, exclude, state, defer, favor_state, job,
                 full_refresh, dbt_vars, output, artifacts_path, as_json)
    except ProjectBusyError as busy:
        if as_json:
            click.echo(json.dumps(busy_document(busy), indent=2))
        raise


def busy_document(busy: ProjectBusyError) -> dict[str, object]:
    """--json's document of a run that did not start because another writer holds the project."""
    return {"run_id": None, "success": False, "busy": True, "project": str(busy.root),
            "holder": busy.holder.document() if busy.holder else None, "errors": [str(busy)]}


def _run(pipeline_file: Path, platform_file: Path | None, environment: str | None, select: str | None,
         exclude: str | None, state: Path | None, defer: bool, favor_state: bool, job: str | None,
         full_refresh: bool, dbt_vars: dict[str, object], output: Path | None, artifacts_path: Path | None,
         as_json: bool) -> None:
    from floe.compiler.freshness import runtime_artifacts
    from floe.contract.project import open_compiled_project
    from floe.errors import PipelineError
    from floe.orchestration.lakehouse import relocate_project_lakehouse
    from floe.orchestration.runner import run_pipeline
    from floe.spec.dbt_vars import dbt_vars_json

    fresh = runtime_artifacts(pipeline_file, environment=environment, platform_file=platform_file,
                              output_dir=output, artifacts_path=artifacts_path)
    if fresh.compiled:
        click.echo(f"compiled ({fresh.reason})", err=True)
        for warning in fresh.warnings:
            click.secho(f"warning: {warning}", fg="yellow", err=True)
    elif fresh.reason != "up to date":
        click.echo(fresh.reason, err=True)
    compiled = open_compiled_project(fresh.artifacts_path)
    if moved := relocate_project_lakehouse(compiled):
        click.echo(moved, err=True)
    artifacts = compiled.artifacts
    click.echo(f"running {artifacts.project.name} · environment {artifacts.environment_name} "
               f"({artifacts.environment.compute.type}) · job {job or 'all'}"
               + (f" · select {select}" if select else "")
               + (f" · vars {dbt_vars_json(dbt_vars)}" if dbt_vars else ""), err=True)
    progress = NodeProgress()
    outcome = run_pipeline(compiled, job=job, select=select, exclude=exclude,
                           full_refresh=full_refresh, on_node=progress, dbt_vars=dbt_vars,
                           state=state, defer=defer, favor_state=favor_state)
    if as_json:
        click.echo(json.dumps(outcome_document(outcome), indent=2))
    else:
        print_summary(outcome)
    for warning in outcome.warnings:
        click.secho(f"warning: {warning}", fg="yellow", err=True)
    if not outcome.success:
        failed = ", ".join(node.name for node in outcome.failed_nodes) or _headline(outcome.errors)
        raise PipelineError(f"run {outcome.run_id[:8]} failed: {failed}",
                            hint=f"details in {outcome.log_path}")


def _headline(errors: list[str]) -> str:
    """The first error in one line: dbt's bare heading ('Database Error') joined to the line under it."""
    lines = [line.strip() for line in (errors[0] if errors else "").splitlines() if line.strip()]
    if not lines:
        return "see the log"
    if len(lines) > 1 and ":" not in lines[0]:
        return f"{lines[0]}: {lines[1]}"
    return lines[0]
