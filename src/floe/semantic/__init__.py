"""The semantic layer: a Cube data model generated from the dbt project's semantic models.

dbt owns the definitions (MetricFlow semantic models and metrics on the marts); this package
turns the manifest that ``dbt parse`` writes into Cube YAML, and checks it against the built
warehouse, since Cube itself does not run here::

    manifest = load_manifest(Path(".floe/dbt/manifest.json"))
    model = build_cube_model(manifest)                 # cubes, joins, rollups; model.skipped
    model = project_cube_model(compiled)               # the same, reading the serving schema if declared
    write_cube_model(model, Path("cube"))              # cube/model/cubes/<cube>.yml
    problems = verify_cube_model(read_cube_model(Path("cube")), Path(".floe/warehouse.duckdb"))

Nothing here imports dbt; DuckDB is imported only by the verification, when it runs.
"""

from __future__ import annotations

from floe.semantic.cube import Cube, CubeDimension, CubeJoin, CubeMeasure, CubeModel, CubeRollup
from floe.semantic.files import CUBES_DIR, read_cube_model, write_cube_model
from floe.semantic.generate import build_cube_model, project_cube_model
from floe.semantic.manifest import load_manifest
from floe.semantic.verify import Problem, verify_cube_model

__all__ = [
    "CUBES_DIR",
    "Cube",
    "CubeDimension",
    "CubeJoin",
    "CubeMeasure",
    "CubeModel",
    "CubeRollup",
    "Problem",
    "build_cube_model",
    "load_manifest",
    "project_cube_model",
    "read_cube_model",
    "verify_cube_model",
    "write_cube_model",
]
