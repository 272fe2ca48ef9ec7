"""``floe dev``."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from floe.cli.options import spec_options

if TYPE_CHECKING:
    from floe.contract.project import CompiledProject


@click.command(context_settings={"max_content_width": 100})
@spec_options
@click.option("--port", "-p", type=click.IntRange(1, 65535), default=3000, show_default=True,
              help="Port of the Dagster UI.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address the UI listens on (0.0.0.0 to reach it from other machines).")
@click.option("--native", "mode", flag_value="native", help="Local processes even when Docker answers.")
@click.option("--docker", "mode", flag_value="docker", help="The Compose stack; fail when no Docker engine answers.")
@click.option("--demo", is_flag=True, help="Docker: also run the 'demo' profile (fills the marts at once).")
@click.option("--no-daemon", is_flag=True, help="Native: the UI only, no schedules or sensors.")
@click.option("--skip-preflight", is_flag=True, help="Start without checking the environment's services first.")
@click.option("--wait", "wait_s", type=click.FloatRange(min=1), default=180, show_default=True, metavar="SECONDS",
              help="How long to wait for the stack to be ready.")
@click.option("--check", is_flag=True, help="Report the health of the running dev stack and exit.")
@click.option("--json", "as_json", is_flag=True, help="With --check: print the health as JSON.")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Folder of the artifacts [default: .floe beside floe.yaml].")
def dev(pipeline_file: Path, platform_file: Path | None, environment: str | None, port: int, host: str,
        mode: str | None, demo: bool, no_daemon: bool, skip_preflight: bool, wait_s: float, check: bool,
        as_json: bool, output: Path | None) -> None:
    """The Dagster UI with this pipeline, on this machine, until Ctrl-C.

    With a Docker engine, the Compose stack of docker/docker-compose.yml (Dagster, PostgreSQL,
    OTel Collector, Jaeger, Marquez): floe writes its .env with fresh credentials, brings it
    up and prints the URLs. Without one, a native stack: Dagster's webserver and daemon as
    local processes serving the floe definitions, Dagster's storage from platform.yaml, lineage
    and traces where the platform sends them. Compiles first when needed, and runs
    'floe preflight' before starting. Ctrl-C stops every process it started.

    \b
    Examples:
      floe dev                      the UI at http://127.0.0.1:3000
      floe dev --port 3300 --env staging
      floe dev --check              is it up? (exit 1 when not healthy)
    """
    output_dir = output or pipeline_file.parent / ".floe"
    if check:
        _check(output_dir, as_json)
        return
    from floe.errors import FloeError
    from floe.orchestration.dev_docker import docker_engine_answers, find_compose_file
    from floe.spec.project import project_root

    compose_file = find_compose_file(project_root(pipeline_file))
    engine = mode != "native" and docker_engine_answers()
    if mode == "docker" and not engine:
        raise FloeError("no Docker engine answers ('docker info' failed)",
                        hint="start Docker, or run the native stack: floe dev --native")
    if mode == "docker" and compose_file is None:
        raise FloeError("no docker/docker-compose.yml beside this project or above it",
                        hint="run from the floe repository, or use the native stack: floe dev --native")
    if engine and compose_file is not None:
        _docker(compose_file, port, demo)
        return
    why = ("--native" if mode == "native" else "no Docker engine answers" if not engine
           else "no docker/docker-compose.yml found")
    native_stack(pipeline_file, platform_file, environment, output, port, host, no_daemon, skip_preflight, wait_s,
                 why)


def native_stack(pipeline_file: Path, platform_file: Path | None, environment: str | None, output: Path | None,
                 port: int, host: str, no_daemon: bool, skip_preflight: bool, wait_s: float, why: str,
                 more_rows: tuple[tuple[str, str], ...] = ()) -> None:
    """The native stack of ``floe dev`` until Ctrl-C; ``more_rows`` go under the banner's (``floe demo up``)."""
    from floe.compiler.freshness import ensure_compiled
    from floe.contract.project import open_compiled_project
    from floe.orchestration.dev import DevOptions, NativeStack
    from floe.orchestration.stale_runs import StaleRunSweeper

    started = time.monotonic()
    fresh = ensure_compiled(pipeline_file, environment=environment, platform_file=platform_file, output_dir=output)
    if fresh.compiled:
        click.echo(f"compiled ({fresh.reason})", err=True)
    compiled = open_compiled_project(fresh.artifacts_path)
    from floe.orchestration.lakehouse import relocate_project_lakehouse

    if moved := relocate_project_lakehouse(compiled):
        click.echo(moved, err=True)
    artifacts = compiled.artifacts
    click.echo(f"floe dev · {artifacts.project.name} · environment {artifacts.environment_name} · native stack "
               f"({why})", err=True)
    if not skip_preflight:
        _preflight(compiled)
    stack = NativeStack(compiled, DevOptions(host=host, port=port, daemon=not no_daemon, wait_s=wait_s))
    # Runs whose process is gone (a killed floe run) are marked failed, so the run queue moves on.
    sweeper = StaleRunSweeper(
        compiled, lambda run: click.echo(f"  · run {run.run_id[:8]} ({run.job_name}) marked failed: {run.reason}",
                                         err=True),
        lambda problem: click.secho(f"warning: cannot check runs for a dead process: {problem}", fg="yellow", err=True))
    with _ctrl_c() as stop_requested:
        try:
            state = stack.start(on_step=lambda step: click.echo(f"  · {step}", err=True))
            sweeper.start()
            _banner(compiled, state.url, stack.logs, time.monotonic() - started, more_rows)
            died = stack.wait(stop_requested)
        finally:
            click.echo("stopping…", err=True)
            sweeper.stop()
            killed = stack.stop()
    if killed:
        click.echo(f"did not stop on SIGTERM, killed: {', '.join(killed)}", err=True)
    if died is not None:
        from floe.errors import FloeError

        raise FloeError(died, hint="the logs are in .floe/dev/")
    click.echo("stopped; no process left running", err=True)


@contextmanager
def _ctrl_c() -> Iterator[Callable[[], bool]]:
    """While inside, Ctrl-C and SIGTERM only set a flag (the caller stops its stack cleanly);
    yields the function that reads it. The previous handlers come back on exit."""
    requested: list[int] = []
    previous = {sig: signal.signal(sig, lambda signum, _frame: requested.append(signum))
                for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield lambda: bool(requested)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _preflight(compiled: CompiledProject) -> None:
    from floe.cli.preflight_cmd import problem_line
    from floe.errors import PreflightError
    from floe.preflight import run_preflight, target_from_artifacts

    report = run_preflight(target_from_artifacts(compiled.artifacts_path))
    for result in report.checks:
        if result.status in ("error", "warning"):
            colour = "red" if result.status == "error" else "yellow"
            click.secho(f"  {problem_line(result)}", fg=colour, err=True)
    counts = report.summary
    click.echo(f"  · preflight: {counts.ok} ok, {counts.warning} warning, {counts.error} error, "
               f"{counts.skipped} skipped", err=True)
    if not report.ok:
        raise PreflightError("the environment's services are not ready (see the errors above)",
                             hint="fix them, or start anyway with --skip-preflight")


def _banner(compiled: CompiledProject, url: str, logs: dict[str, Path], elapsed: float,
            more_rows: tuple[tuple[str, str], ...] = ()) -> None:
    observability = compiled.artifacts.environment.observability
    storage = compiled.artifacts.environment.orchestrator.storage
    lineage = observability.lineage
    tracing = observability.tracing
    rows = [
        ("Dagster UI", url),
        ("lineage", f"{lineage.path}  (floe lineage shows it)" if lineage.type == "file" else lineage.type),
        ("traces", getattr(tracing, "path", None) or getattr(tracing, "endpoint", None) or tracing.type),
        ("runs kept in", f"{storage.path} (SQLite)" if storage.type == "sqlite"
         else f"PostgreSQL {storage.host}:{storage.port}/{storage.database}"),
        ("logs", str(next(iter(logs.values())).parent) if logs else "-"),
        *more_rows,
    ]
    click.echo("")
    for name, value in rows:
        click.echo(f"  {name:<13} ", nl=False)
        click.secho(value, bold=name == "Dagster UI")
    click.secho(f"\nready in {elapsed:.1f}s · Ctrl-C stops everything", fg="green")


def _docker(compose_file: Path, port: int, demo: bool) -> None:
    from floe.orchestration.dev_docker import ComposeStack

    stack = ComposeStack(compose_file, port=port, profiles=["demo"] if demo else [])
    click.echo(f"floe dev · Docker Compose stack ({compose_file})", err=True)
    # Taken before anything starts, so a Ctrl-C at any moment ends in 'compose down'.
    with _ctrl_c() as stop_requested:
        try:
            urls = stack.start(on_step=lambda step: click.echo(f"  · {step}", err=True))
            click.echo("")
            for name, url in urls.items():
                click.echo(f"  {name:<13} {url}")
            click.secho("\nready · Ctrl-C runs 'docker compose down'", fg="green")
            while not stop_requested():
                time.sleep(0.2)
        finally:
            stack.stop()


def _check(output_dir: Path, as_json: bool) -> None:
    from floe.errors import FloeError
    from floe.orchestration.dev import STATE_FILE
    from floe.orchestration.dev_health import check_dev

    health = check_dev(output_dir / "dev")
    if as_json:
        click.echo(json.dumps({"running": health.running, "healthy": health.healthy, "url": health.url,
                               "parts": [{"name": p.name, "healthy": p.healthy, "detail": p.detail}
                                         for p in health.parts]}, indent=2))
    elif health.running:
        for part in health.parts:
            click.secho("  ✓ " if part.healthy else "  ✗ ", fg="green" if part.healthy else "red", nl=False)
            click.echo(f"{part.name:<28} {part.detail}")
    if not health.running:
        raise FloeError(f"no dev stack is running for this project ({output_dir / 'dev' / STATE_FILE} not found)",
                        hint="start one with: floe dev")
    if not health.healthy:
        raise FloeError("the dev stack is not healthy", hint=f"logs: {output_dir / 'dev'}")
    if not as_json:
        click.secho(f"healthy · {health.url}", fg="green")
