"""``floe preflight``."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING

import click

from floe.cli.options import spec_options

if TYPE_CHECKING:
    from floe.preflight import CheckResult, PreflightReport, PreflightTarget

SERVICE_NAMES = ("compute", "storage", "catalog", "postgres", "observability")
_MARKS = {"ok": ("✓", "green"), "warning": ("!", "yellow"), "error": ("✗", "red"), "skipped": ("-", "bright_black")}


def _legacy_flag(service: str) -> click.Option:
    return click.Option([f"--check-{service}", f"check_{service}"], is_flag=True,
                        help=f"Same as --check {service} (the original design's spelling).")


@click.command(context_settings={"max_content_width": 100})
@spec_options
@click.option("--artifacts", "artifacts_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="Read the environment from compiled artifacts [default: $FLOE_ARTIFACTS_PATH when set, "
                   "else floe.yaml + platform.yaml when present, else .floe/artifacts.json].")
@click.option("--check", "-c", "checks", multiple=True, type=click.Choice(SERVICE_NAMES), metavar="SERVICE",
              help="Check only this service kind: compute, storage, catalog, postgres, observability. Repeatable.")
@click.option("--all", "check_all", is_flag=True, help="Check every service kind (the default without --check).")
@click.option("--json", "as_json", is_flag=True,
              help="Print the report as JSON (schemas/preflight.v1.schema.json) on stdout.")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=0.1, max=600), default=None, metavar="SECONDS",
              help="Time limit of each network check; checks run at once, and local ones (DuckDB, a SQLite "
                   "catalog, a folder) are not failed for slowness [default: 10].")
@click.option("--fail-fast", is_flag=True, help="Stop at the first error; unfinished checks show as skipped.")
@click.option("--before-migrate", is_flag=True, envvar="FLOE_PREFLIGHT_BEFORE_MIGRATE",
              help="A Dagster schema migration runs next (the Helm hook before floe's migrate hook): an older "
                   "Dagster schema is a warning, not an error [env FLOE_PREFLIGHT_BEFORE_MIGRATE].")
def preflight(pipeline_file: Path, platform_file: Path | None, environment: str | None, artifacts_path: Path | None,
              checks: tuple[str, ...], check_all: bool, as_json: bool, timeout_s: float | None, fail_fast: bool,
              before_migrate: bool, **legacy: bool) -> None:
    """Prove every external service of an environment works, before anything is deployed.

    Connects to each service the environment declares, with its real credentials, and does
    what a run does: SELECT 1 on the compute target; write, read and delete a probe object
    in storage; list the Iceberg catalog's namespaces (REST: OAuth2 token, warehouse);
    connect to Dagster's PostgreSQL and compare its schema revision; reach the OTLP and
    OpenLineage endpoints. All checks run at once, each network check within --timeout.
    Nothing is created, and secret values never appear in the output.

    Exits 1 when any check ends in error (warnings do not fail).

    \b
    Examples:
      floe preflight                          every service of the default environment
      floe preflight --env prod --check storage --check catalog
      floe preflight --artifacts /floe/artifacts.json --all --json   (the Helm hook)
    """
    from floe.errors import PreflightError
    from floe.preflight import DEFAULT_TIMEOUT_S, run_preflight

    chosen = [name for name in SERVICE_NAMES if name in checks or legacy.get(f"check_{name}")]
    services = list(SERVICE_NAMES) if check_all or not chosen else chosen
    target = _target(pipeline_file, platform_file, environment, artifacts_path)
    if before_migrate:
        target = dataclasses.replace(target, migration_follows=True)
    if not as_json:
        click.echo(f"preflight · environment {target.environment_name} · from {target.source}", err=True)
    report = run_preflight(target, services=services,  # type: ignore[arg-type]
                           timeout_s=timeout_s or DEFAULT_TIMEOUT_S, fail_fast=fail_fast,
                           on_result=None if as_json else _progress)
    if as_json:
        click.echo(report.model_dump_json(indent=2))
    else:
        _print_report(report)
    if not report.ok:
        failed = ", ".join(result.check for result in report.errors)
        raise PreflightError(f"preflight failed: {failed}",
                             hint=None if as_json else "fix each [SERVICE] ERROR above, then run floe preflight again")


def _target(pipeline_file: Path, platform_file: Path | None, environment: str | None,
            artifacts_path: Path | None) -> PreflightTarget:
    from floe.contract.io import ARTIFACTS_FILE
    from floe.contract.project import mounted_artifacts_path
    from floe.errors import FloeError
    from floe.preflight import target_from_artifacts, target_from_specs

    # $FLOE_ARTIFACTS_PATH is the runtime's contract (an image, a pod, the Helm hook): it wins
    # over a floe.yaml that merely sits in the working directory, as it does for the runtime.
    artifacts_path = artifacts_path or mounted_artifacts_path()
    from floe.spec.project import spec_present

    if artifacts_path is None and spec_present(pipeline_file):  # a folder or a pipe: loading says what it is
        return target_from_specs(pipeline_file, environment=environment, platform_file=platform_file)
    path = artifacts_path or pipeline_file.parent / ".floe" / ARTIFACTS_FILE
    if artifacts_path is None and not path.is_file():
        raise FloeError(f"{pipeline_file}: not found, and no compiled artifacts at {path}",
                        hint="run in a floe project folder, or pass --artifacts PATH (or set FLOE_ARTIFACTS_PATH)")
    target = target_from_artifacts(path)
    if environment is not None and environment != target.environment_name:
        raise FloeError(f"{path} is compiled for environment '{target.environment_name}', not '{environment}'",
                        hint=f"run 'floe compile --env {environment}', or drop --env")
    return target


def _progress(result: CheckResult) -> None:
    mark, colour = _MARKS[result.status]
    click.secho(f"  {mark} ", fg=colour, nl=False, err=True)
    click.echo(f"{result.check:<22} {result.status:<8} {result.duration_s:5.2f}s", err=True)


def problem_line(result: CheckResult) -> str:
    """``[SERVICE] ERROR: <what failed>. Remediation: <what to do>.`` (or WARNING)."""
    line = f"[{result.service.upper()}] {result.status.upper()}: {result.message.rstrip('.')}."
    if result.remediation:
        line += f" Remediation: {result.remediation.rstrip('.')}."
    return line


def _print_report(report: PreflightReport) -> None:
    width = max([len(result.check) for result in report.checks] + [5])
    click.echo(f"{'check':<{width}}  {'status':<8}  {'time':>6}  target / message")
    click.echo(f"{'-' * width}  {'-' * 8}  {'-' * 6}  {'-' * 40}")
    for result in report.checks:
        colour = _MARKS[result.status][1]
        click.echo(f"{result.check:<{width}}  ", nl=False)
        click.secho(f"{result.status:<8}", fg=colour, nl=False)
        click.echo(f"  {result.duration_s:5.2f}s  {result.target}")
        click.echo(f"{'':<{width}}  {'':<8}  {'':>6}  {result.message}")
    problems = [result for result in report.checks if result.status in ("error", "warning")]
    if problems:
        click.echo("")
    for result in problems:
        click.secho(problem_line(result), fg=_MARKS[result.status][1])
    summary = report.summary
    click.secho(f"\npreflight {'passed' if report.ok else 'FAILED'}: {summary.ok} ok, {summary.warning} warning, "
                f"{summary.error} error, {summary.skipped} skipped in {report.duration_s:.1f}s",
                fg="green" if report.ok else "red", bold=True)


for _service in SERVICE_NAMES:
    preflight.params.append(_legacy_flag(_service))
