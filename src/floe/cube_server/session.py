"""A Cube server for a compiled project: the model generated, the packages installed, the database chosen.

``serve`` runs one until stopped and records it; ``server_for_query`` finds the recorded one or
starts a private one for the length of a query.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from floe.cube_server.client import new_secret
from floe.cube_server.database import cube_database
from floe.cube_server.errors import CubeServerError
from floe.cube_server.install import ensure_installed
from floe.cube_server.server import CubeServer, log_file, running_server

if TYPE_CHECKING:
    from floe.contract.project import CompiledProject

CUBE_DIR = Path(".floe") / "cube"
"""The project's Cube folder: ``model/cubes/*.yml``, ``server-<env>.json`` while a server runs, logs."""


@dataclass(frozen=True)
class Endpoint:
    """Where a Cube API answers, and the secret its tokens are signed with."""

    url: str
    secret: str
    started_here: bool


def cube_dir(compiled: CompiledProject) -> Path:
    return compiled.root / CUBE_DIR


def generate_model(compiled: CompiledProject) -> tuple[Path, int]:
    """Write the Cube model from the compiled manifest (as ``floe cube generate``); its folder and cube count."""
    from floe.semantic import project_cube_model, write_cube_model

    model = project_cube_model(compiled)  # the serving schema's tables when serving is declared
    if not model.cubes:
        raise CubeServerError("the dbt project defines no semantic models, so Cube would have nothing to serve",
                              hint="add semantic models to the dbt project (see 'floe cube generate')")
    write_cube_model(model, cube_dir(compiled))
    return cube_dir(compiled) / "model", len(model.cubes)


def new_server(compiled: CompiledProject, *, port: int, secret: str | None, progress: Callable[[str], None],
               for_query: bool = False) -> CubeServer:
    """A Cube server for the project (not started): database checked, model written, packages installed."""
    database = cube_database(compiled)
    model_dir, cubes = generate_model(compiled)
    progress(f"Cube model: {cubes} cube(s) in {model_dir}")
    modules = ensure_installed(progress)
    environment = compiled.artifacts.environment_name
    return CubeServer(modules=modules, model_dir=model_dir, database=database, secret=secret or new_secret(),
                      port=port, log_path=cube_dir(compiled) / log_file(environment, for_query=for_query),
                      environment=environment)


@contextlib.contextmanager
def server_for_query(compiled: CompiledProject, progress: Callable[[str], None]) -> Iterator[Endpoint]:
    """The recorded ``floe cube serve`` of this project and environment, else one started for the query."""
    record = running_server(cube_dir(compiled), compiled.artifacts.environment_name)
    if record is not None:
        yield Endpoint(record.url, record.secret, started_here=False)
        return
    server = new_server(compiled, port=0, secret=None, progress=progress, for_query=True)
    progress(f"starting a Cube server for this query (reading {server.database.target}); "
             "'floe cube serve' keeps one running")
    server.start()
    try:
        yield Endpoint(server.url, server.secret, started_here=True)
    finally:
        server.stop()
