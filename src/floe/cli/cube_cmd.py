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
    from floe.semantic import build_cube_model, load_manifest, write_cube_model

    compiled = _compiled(pipeline_file, platform_file, environment)
    serving = compiled.artifacts.environment.serving  # Cube reads the published copies there
    model = build_cube_model(load_manifest(compiled.manifest_path),
                             serving_schema=serving.schema_ if serving is not None else None)
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


def _compiled(pipeline_file: Path, platform_file: Path | None, environment: str | None) -> CompiledProject:
    from floe.compiler.freshness import runtime_artifacts
    from floe.contract.project import open_compiled_project

    fresh = runtime_artifacts(pipeline_file, environment=environment, platform_file=platform_file)
    return open_compiled_project(fresh.artifacts_path)
