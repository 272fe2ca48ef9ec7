"""``floe cube``: the Cube data model generated from the dbt semantic models."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import click

from floe.cli.options import spec_options

if TYPE_CHECKING:
    from floe.contract.project import CompiledProject

DEFAULT_CUBE_DIR = Path(".floe") / "cube"


@click.group()
def cube() -> None:
    """Generate and check the semantic layer that Cube serves.

    \b
    floe cube generate    write model/cubes/*.yml from the compiled dbt manifest
    floe cube verify      run every measure and dimension against the built warehouse
    floe cube serve       run the Cube API over the environment's serving database
    floe cube query JSON  ask the Cube API (the running 'serve', else one started for it)
    """


@cube.command()
@spec_options
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Cube project folder [default: .floe/cube beside floe.yaml]; files go to model/cubes/.")
def generate(pipeline_file: Path, platform_file: Path | None, environment: str | None, output: Path | None) -> None:
    """Write the Cube model (cubes, measures, dimensions, joins, rollups) from the manifest.

    Compiles first when needed. Hand-written files in the folder are never overwritten.
    What cannot be expressed in Cube is listed, not dropped silently.
    """
    from floe.semantic import project_cube_model, write_cube_model

    compiled = _compiled(pipeline_file, platform_file, environment)
    model = project_cube_model(compiled)  # with serving declared, Cube reads the published copies
    target = output or compiled.root / DEFAULT_CUBE_DIR
    written = write_cube_model(model, target)
    click.echo(f"wrote {len(model.cubes)} cube(s) to {target}: "
               + ", ".join(c.name for c in model.cubes))
    for path in written:
        click.echo(f"  {path}")
    for skipped in model.skipped:
        click.secho(f"  skipped: {skipped}", fg="yellow")


@cube.command()
@spec_options
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Cube project folder to check [default: .floe/cube beside floe.yaml].")
@click.option("--json", "as_json", is_flag=True, help="Print the problems as JSON.")
def verify(pipeline_file: Path, platform_file: Path | None, environment: str | None, output: Path | None,
           as_json: bool) -> None:
    """Run every generated measure and dimension against the warehouse; exit 1 on a problem.

    Needs a DuckDB warehouse built by 'floe run' (Cube runs the same SQL at query time); with a
    serving database (platform.yaml serving:), the tables published there, which Cube reads.
    """
    from floe.errors import FloeError
    from floe.semantic import read_cube_model, verify_cube_model
    from floe.spec.platform import DuckDBCompute
    from floe.targets.duckdb import warehouse_path

    compiled = _compiled(pipeline_file, platform_file, environment)
    compute = compiled.artifacts.environment.compute
    if not isinstance(compute, DuckDBCompute):
        raise FloeError(f"verification runs on DuckDB; environment '{compiled.artifacts.environment_name}' "
                        f"uses {compute.type}", hint="verify in an environment on duckdb, e.g. dev")
    from floe.serving import serving_connection

    database = warehouse_path(compute, compiled.root)
    serving = serving_connection(compiled)  # with serving, Cube reads the published tables: check those
    if serving is None and not database.is_file():
        raise FloeError(f"the warehouse {database} does not exist yet", hint="run 'floe run' first")
    folder = output or compiled.root / DEFAULT_CUBE_DIR
    cubes = read_cube_model(folder)
    if not cubes:
        raise FloeError(f"no generated cube files in {folder}", hint="run 'floe cube generate' first")
    problems = verify_cube_model(cubes, database, serving=serving, project_root=compiled.root)
    if as_json:
        click.echo(json.dumps({"cubes": len(cubes), "problems": [str(p) for p in problems]}, indent=2))
    else:
        checked = serving.target if serving is not None else database.name
        click.echo(f"checked {len(cubes)} cube(s) against {checked}: "
                   + ("every member runs" if not problems else f"{len(problems)} problem(s)"))
        for problem in problems:
            click.secho(f"  ✗ {problem}", fg="red")
    if problems:
        raise FloeError(f"{len(problems)} problem(s) in the Cube model",
                        hint="fix the semantic models in the dbt project, then 'floe cube generate'")


@cube.command()
@spec_options
@click.option("--port", "-p", type=click.IntRange(0, 65535), default=4000, show_default=True,
              help="Port on 127.0.0.1 (0: any free port).")
def serve(pipeline_file: Path, platform_file: Path | None, environment: str | None, port: int) -> None:
    """Run the Cube API for the project until Ctrl-C.

    \b
    Generates the Cube model (as 'floe cube generate'), installs Cube's npm packages on first
    use (Node.js 20 and npm needed; cached per version, $FLOE_CUBE_CACHE), and serves the
    environment's serving database (platform.yaml 'serving:'), or its PostgreSQL compute.
    Requests carry a JWT signed with the API secret: $CUBEJS_API_SECRET when set, else a
    fresh one; a token is printed. Other CUBEJS_* variables you set reach Cube.
    """
    import os
    import signal

    from floe.cube_server import api_token, cube_dir, new_server, remove_record, running_server, write_record
    from floe.cube_server.errors import CubeServerError
    from floe.process_exit import Interrupted

    compiled = _compiled(pipeline_file, platform_file, environment)
    folder = cube_dir(compiled)
    already = running_server(folder, compiled.artifacts.environment_name)
    if already is not None:
        raise CubeServerError(f"a Cube server already runs for this project at {already.url} (pid {already.pid})",
                              hint="use it ('floe cube query ...'), or stop it first (Ctrl-C where it runs)")
    server = new_server(compiled, port=port, secret=os.environ.get("CUBEJS_API_SECRET"),
                        progress=lambda line: click.echo(line, err=True))

    def on_sigterm(signum: int, frame: object) -> None:
        raise Interrupted(signum)

    previous = signal.signal(signal.SIGTERM, on_sigterm)
    try:
        click.echo(f"starting Cube on 127.0.0.1 over {server.database.target} "
                   f"({server.database.source} of environment '{compiled.artifacts.environment_name}')", err=True)
        server.start()
        record = server.record()
        write_record(folder, record)
        try:
            click.echo(f"Cube API ready at {server.url}/cubejs-api/v1 (log: {server.log_path})")
            click.echo(f"token (valid 30 days): {api_token(server.secret, ttl_s=30 * 86400)}")
            click.echo("  e.g. curl -H \"Authorization: $TOKEN\" "
                       f"'{server.url}/cubejs-api/v1/load?query={{\"measures\":[\"<cube>.<measure>\"]}}'")
            click.echo("  or 'floe cube query JSON'; Ctrl-C stops it", err=True)
            code = server.wait()
            raise CubeServerError(f"the Cube server exited ({code}):\n{server.log_tail()}",
                                  hint=f"the whole log is in {server.log_path}")
        finally:
            remove_record(folder, record)
    finally:
        server.stop()
        signal.signal(signal.SIGTERM, previous)


@cube.command()
@spec_options
@click.argument("query_json", metavar="QUERY_JSON")
@click.option("--json", "as_json", is_flag=True, help="Print Cube's answer as it is (JSON).")
@click.option("--timeout", type=click.FloatRange(1), default=600.0, show_default=True,
              help="Seconds to wait for the answer (a first query may build rollups).")
def query(pipeline_file: Path, platform_file: Path | None, environment: str | None, query_json: str,
          as_json: bool, timeout: float) -> None:
    """Ask the Cube API and print its answer (a table, or the raw JSON with --json).

    \b
    Uses the 'floe cube serve' running for the project and environment; without one, starts a
    Cube server for this query and stops it afterwards (slower: it starts, and its rollups
    may need building).

    \b
    floe cube query '{"measures": ["orders.order_count", "orders.revenue"], "dimensions": ["orders.region"]}'
    floe cube query --json '{"measures": ["orders.revenue"],
        "timeDimensions": [{"dimension": "orders.ordered_at", "granularity": "day"}]}'
    """
    from floe.cube_server import answer_table, api_token, load, parse_query, server_for_query, used_pre_aggregations

    wanted = parse_query(query_json)  # a typo fails before anything starts
    compiled = _compiled(pipeline_file, platform_file, environment)
    with server_for_query(compiled, progress=lambda line: click.echo(line, err=True)) as endpoint:
        answer = load(endpoint.url, api_token(endpoint.secret), wanted, timeout_s=timeout)
    if as_json:
        click.echo(json.dumps(answer, indent=2))
        return
    for line in answer_table(answer):
        click.echo(line)
    used = used_pre_aggregations(answer)
    if used:
        click.echo("from rollup(s): " + ", ".join(used), err=True)


def _compiled(pipeline_file: Path, platform_file: Path | None, environment: str | None) -> CompiledProject:
    from floe.compiler.freshness import runtime_artifacts
    from floe.contract.project import open_compiled_project

    fresh = runtime_artifacts(pipeline_file, environment=environment, platform_file=platform_file)
    return open_compiled_project(fresh.artifacts_path)
