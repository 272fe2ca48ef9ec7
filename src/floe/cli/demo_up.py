"""``floe demo up``: the presenter's path, from nothing to the demo running in Dagster's UI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

if TYPE_CHECKING:
    from floe.contract.project import CompiledProject

SCHEDULE_NOTE = "a batch every 5 minutes (schedule demo_every_5_minutes, switched on)"


@click.command("up", context_settings={"max_content_width": 100})
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path("floe-demo"), show_default=True,
              help="Demo project folder; created from the ecommerce template when it has no floe.yaml.")
@click.option("--env", "-e", "environment", default=None, metavar="ENV",
              help="Environment of the demo's platform.yaml [default: $FLOE_ENV, else dev]. 'local' also "
                   "publishes the marts to the local PostgreSQL and serves them through Cube.")
@click.option("--batches", "-n", type=click.IntRange(0, 1000), default=1, show_default=True,
              help="Batches to land before the UI opens (the first also backfills the template's week of "
                   "history), so it opens on materialized assets; 0 to land none.")
@click.option("--port", "-p", type=click.IntRange(1, 65535), default=3000, show_default=True,
              help="Port of the Dagster UI.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address the UI listens on (0.0.0.0 to reach it from other machines).")
@click.option("--cube/--no-cube", "cube", default=None,
              help="Serve the marts through the Cube API beside the UI [default: when the environment has a "
                   "serving database].")
@click.option("--cube-port", type=click.IntRange(1, 65535), default=4000, show_default=True,
              help="Port of the Cube API on 127.0.0.1.")
@click.option("--wait", "wait_s", type=click.FloatRange(min=1), default=300, show_default=True, metavar="SECONDS",
              help="How long to wait for the UI to be ready.")
def up(directory: Path, environment: str | None, batches: int, port: int, host: str, cube: bool | None,
       cube_port: int, wait_s: float) -> None:
    """The demo running in Dagster's UI, in one command: what a presenter runs.

    \b
    Creates the demo project in --dir when needed, lands --batches batches through the
    pipeline (the first backfills a week of orders, so curves and "last hour" filters show at
    once), then starts the native 'floe dev' stack: Dagster's UI and its daemon, whose
    schedule lands a batch every 5 minutes on the wall clock. With a serving database
    (--env local) the Cube API runs beside it. Ctrl-C stops every process it started.

    \b
    floe demo up                    ./floe-demo in the UI at http://127.0.0.1:3000
    floe demo up -e local           ... plus the Cube API at http://127.0.0.1:4000
    make demo-up                    the same from a fresh clone of floe (installs first)
    """
    from floe.cli.demo_cmd import demo_compiled, land_batches
    from floe.demo.project import ensure_demo_project

    pipeline, created = ensure_demo_project(directory)
    if created:
        click.echo(f"created the demo project in {directory} (template: ecommerce)", err=True)
    compiled = demo_compiled(pipeline, environment)
    serve_cube = _wants_cube(compiled) if cube is None else cube
    # Said before any batch lands, not minutes later.
    _port_free(host, port, "--port")
    if serve_cube:
        _port_free("127.0.0.1", cube_port, "--cube-port")
    if batches:
        land_batches(compiled, batches)  # a failed batch is said and the stack still starts: the schedule retries
    with _cube_api(compiled, cube_port, enabled=serve_cube) as cube_rows:
        from floe.cli.dev_cmd import native_stack

        native_stack(pipeline, None, compiled.artifacts.environment_name, None, port, host, no_daemon=False,
                     skip_preflight=False, wait_s=wait_s, why="floe demo up",
                     more_rows=(("demo", SCHEDULE_NOTE), *cube_rows))


def _port_free(host: str, port: int, option: str) -> None:
    from floe.errors import FloeError
    from floe.orchestration.dev import free_port, port_in_use

    if port_in_use(host, port):
        raise FloeError(f"port {port} on {host} is already in use (a 'floe dev' or another demo?)",
                        hint=f"stop what listens there, or choose another: floe demo up {option} "
                             f"{free_port(host, port + 1)}")


def _wants_cube(compiled: CompiledProject) -> bool:
    """Cube by default where it can read the marts: a serving database (or a PostgreSQL compute)."""
    from floe.spec.platform import PostgresCompute

    environment = compiled.artifacts.environment
    return environment.serving is not None or isinstance(environment.compute, PostgresCompute)


@contextmanager
def _cube_api(compiled: CompiledProject, port: int, *, enabled: bool) -> Iterator[tuple[tuple[str, str], ...]]:
    """The Cube API for the stack's lifetime; yields the banner's rows about it."""
    if not enabled:
        yield (("Cube API", "not started: the environment has no serving database (try --env local)"),)
        return
    from floe.cube_server import api_token, cube_dir, new_server, remove_record, running_server, write_record
    from floe.cube_server.errors import CubeServerError

    folder = cube_dir(compiled)
    already = running_server(folder, compiled.artifacts.environment_name)
    if already is not None:
        yield (("Cube API", f"{already.url}/cubejs-api/v1 (already running, pid {already.pid})"),)
        return
    server = new_server(compiled, port=port, secret=None, progress=lambda line: click.echo(f"  · {line}", err=True))
    click.echo(f"  · starting Cube over {server.database.target}", err=True)
    try:
        server.start()
    except CubeServerError:
        server.stop()
        raise
    record = server.record()
    write_record(folder, record)
    try:
        token = api_token(server.secret, ttl_s=30 * 86400)
        yield (("Cube API", f"{server.url}/cubejs-api/v1  (floe cube query -e "
                            f"{compiled.artifacts.environment_name} '...' asks it)"),
               ("Cube token", token))
    finally:
        remove_record(folder, record)
        server.stop()
