"""Translate dbt semantic models and metrics into a Cube data model.

The rules, in the order they apply:

- one cube per semantic model, on the semantic model's table (``schema.table``), or on its copy
  in the serving schema when the environment publishes the marts to a serving database
  (``serving_schema``, see ``floe.serving``);
- entities become dimensions named after their column; the primary entity is the primary key;
  a foreign entity whose name is the primary entity of another semantic model becomes a
  ``many_to_one`` join to that cube (joins are declared on the "many" side, as Cube advises);
- categorical dimensions are typed from the column's declared ``data_type`` (string when
  none is declared); time dimensions are ``time``;
- measures map by aggregation: sum, count, count_distinct, average (avg), min, max,
  sum_boolean (a sum of 0/1);
- ratio and derived metrics whose inputs live in one cube become ``number`` measures there;
  a simple metric's label becomes its measure's title;
- a semantic model with a foreign entity (a fact table) and an aggregation time dimension gets
  a rollup of its additive measures by its categorical dimensions per day, partitioned by
  refreshed when the serving ledger records a new batch (every hour without serving); ``config:
  meta: {cube_rollup: true|false}`` on the semantic model overrides this.

Whatever cannot be expressed (percentiles, filtered or cumulative metrics, name clashes) is
listed in ``CubeModel.skipped`` rather than dropped silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from floe.semantic.cube import Cube, CubeDimension, CubeJoin, CubeMeasure, CubeModel, CubeRollup
from floe.semantic.manifest import Metric, SemanticModel, load_manifest, metrics, semantic_models
from floe.serving.connection import ledger_refresh_sql

if TYPE_CHECKING:
    from floe.contract.project import CompiledProject

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_WORD = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
_AGGREGATIONS = {"sum": "sum", "count": "count", "count_distinct": "count_distinct", "average": "avg",
                 "min": "min", "max": "max", "sum_boolean": "sum"}
_NUMBER_TYPES = frozenset({"tinyint", "smallint", "integer", "int", "int2", "int4", "int8", "bigint", "hugeint",
                           "ubigint", "uinteger", "usmallint", "utinyint", "uhugeint", "decimal", "numeric",
                           "double", "float", "float4", "float8", "real"})
_TIME_TYPES = frozenset({"date", "timestamp", "timestamptz", "datetime", "time"})


def build_cube_model(manifest: Mapping[str, Any], *, serving_schema: str | None = None) -> CubeModel:
    """Build the Cube data model of a dbt manifest's semantic models and metrics.

    Args:
        manifest: A parsed ``manifest.json`` (see :func:`floe.semantic.load_manifest`).
        serving_schema: The serving database's schema the marts are published to (platform.yaml
            ``serving.schema``); None: Cube reads the warehouse's own schemas.

    Returns:
        The cubes, and a note for everything that could not be carried over.

    Raises:
        CompileError: a semantic model's model is missing from the manifest.
    """
    models = semantic_models(manifest)
    result = CubeModel()
    primary_keys = {model.primary_entity.name: model for model in models if model.primary_entity}
    owners: dict[str, tuple[Cube, str]] = {}  # measure name -> (its cube, its member name)
    for model in models:
        cube = _cube_of(model, result.skipped, serving_schema)
        cube.joins = _joins_of(model, primary_keys)
        rollup = _rollup_of(model, cube, serving_schema)
        if rollup is not None:
            cube.pre_aggregations.append(rollup)
        for measure in cube.measures:
            owners[measure.name] = (cube, measure.name)
        result.cubes.append(cube)
    _add_metrics(metrics(manifest), owners, result.skipped)
    return result


def cube_type(data_type: str | None, default: str = "string") -> str:
    """The Cube dimension type of a warehouse column type (``default`` when unknown)."""
    base = re.match(r"[a-z0-9_]*", (data_type or "").strip().lower())
    name = base.group(0) if base else ""
    if not name:
        return default
    if "[" in (data_type or ""):  # a list of anything is no scalar Cube type
        return "string"
    if name in _TIME_TYPES or name.startswith("timestamp_"):  # timestamp_ms, timestamp_ns, ...
        return "time"
    if name in ("boolean", "bool"):
        return "boolean"
    if name in _NUMBER_TYPES:
        return "number"
    return "string"


def _column_sql(expr: str) -> str:
    """A plain column is qualified with the cube's table; an expression is kept as written."""
    return f"{{CUBE}}.{expr}" if _IDENTIFIER.match(expr) else expr


def _member_name(expr: str, fallback: str) -> str:
    return expr if _IDENTIFIER.match(expr) else fallback


def _cube_of(model: SemanticModel, skipped: list[str], serving_schema: str | None) -> Cube:
    # Published tables keep the model's relation name (floe.serving.models.PublishedModel.table).
    cube = Cube(name=model.name, sql_table=f"{serving_schema or model.schema}.{model.table}",
                description=model.description)
    seen: set[str] = set()
    for entity in model.entities:
        name = _member_name(entity.expr, entity.name)
        if name in seen:
            continue
        seen.add(name)
        cube.dimensions.append(CubeDimension(
            name=name,
            sql=_column_sql(entity.expr),
            type=cube_type(model.column_type(entity.expr), default="number"),
            primary_key=entity is model.primary_entity,
        ))
    for dimension in model.dimensions:
        if dimension.name in seen:
            skipped.append(f"{model.name}.{dimension.name}: a key of the same name exists; dimension not generated")
            continue
        seen.add(dimension.name)
        kind = "time" if dimension.type == "time" else cube_type(model.column_type(dimension.expr))
        cube.dimensions.append(CubeDimension(dimension.name, _column_sql(dimension.expr), kind,
                                             description=dimension.description))
    for measure in model.measures:
        cube_kind = _AGGREGATIONS.get(measure.agg)
        if cube_kind is None:
            skipped.append(f"{model.name}.{measure.name}: aggregation '{measure.agg}' has no portable Cube "
                           "measure type; measure not generated")
            continue
        if measure.name in seen:
            skipped.append(f"{model.name}.{measure.name}: a dimension of the same name exists; measure not generated")
            continue
        seen.add(measure.name)
        sql = _column_sql(measure.expr)
        if measure.agg == "sum_boolean":
            sql = f"CASE WHEN {sql} THEN 1 ELSE 0 END"
        cube.measures.append(CubeMeasure(measure.name, cube_kind, sql, description=measure.description))
    return cube


def _joins_of(model: SemanticModel, primary_keys: Mapping[str, SemanticModel]) -> list[CubeJoin]:
    joins: list[CubeJoin] = []
    for entity in model.entities:
        target = primary_keys.get(entity.name)
        if entity.type != "foreign" or target is None or target.name == model.name:
            continue
        assert target.primary_entity is not None  # guaranteed by how primary_keys is built
        mine = _member_name(entity.expr, entity.name)
        theirs = _member_name(target.primary_entity.expr, target.primary_entity.name)
        joins.append(CubeJoin(target.name, "many_to_one", f"{{CUBE.{mine}}} = {{{target.name}.{theirs}}}"))
    return joins


def _rollup_of(model: SemanticModel, cube: Cube, serving_schema: str | None) -> CubeRollup | None:
    is_fact = any(entity.type == "foreign" for entity in model.entities)
    wanted = model.meta.get("cube_rollup", is_fact)
    time_dimension = next((d for d in model.dimensions
                           if d.type == "time" and d.name == model.agg_time_dimension), None)
    measures = tuple(m.name for m in cube.measures if m.type in ("sum", "count", "min", "max"))
    if not wanted or time_dimension is None or not measures:
        return None
    groups = tuple(d.name for d in cube.dimensions if d.type == "string" and not d.primary_key
                   and d.name in {dim.name for dim in model.dimensions})
    granularity = time_dimension.time_granularity or "day"
    return CubeRollup(name=f"{time_dimension.name}_{granularity}_rollup", measures=measures, dimensions=groups,
                      time_dimension=time_dimension.name, granularity=granularity,
                      refresh_sql=ledger_refresh_sql(serving_schema) if serving_schema else None)


def _add_metrics(all_metrics: list[Metric], owners: dict[str, tuple[Cube, str]], skipped: list[str]) -> None:
    """Translate metrics in dependency order: simple first, then what builds on translated ones."""
    translated: dict[str, tuple[Cube, str]] = {}
    for metric in all_metrics:
        if metric.type == "simple" and not metric.has_filter and metric.measure in owners:
            cube, member = owners[metric.measure]
            translated[metric.name] = (cube, member)
            if metric.label:
                cube.measures = [
                    CubeMeasure(m.name, m.type, m.sql, m.description or metric.description, title=metric.label)
                    if m.name == member else m for m in cube.measures
                ]
    pending = [metric for metric in all_metrics if metric.name not in translated]
    progress = True
    while pending and progress:
        progress = False
        for metric in list(pending):
            outcome = _number_measure(metric, translated)
            if outcome is None:
                continue
            pending.remove(metric)
            progress = True
            if isinstance(outcome, str):
                skipped.append(f"metric {metric.name}: {outcome}; not generated")
                continue
            cube, measure = outcome
            if measure.name in cube.member_names():
                skipped.append(f"metric {metric.name}: cube '{cube.name}' already has a member of that name; "
                               "not generated")
                continue
            cube.measures.append(measure)
            translated[metric.name] = (cube, measure.name)
    for metric in pending:
        skipped.append(f"metric {metric.name}: type '{metric.type}' or its inputs have no Cube equivalent here; "
                       "not generated")


def _number_measure(
    metric: Metric, translated: Mapping[str, tuple[Cube, str]]
) -> tuple[Cube, CubeMeasure] | str | None:
    """A ``number`` measure for a ratio or derived metric, or why it cannot be one (None
    while its inputs are not translated yet)."""
    if metric.type not in ("ratio", "derived"):
        return f"type '{metric.type}' has no Cube equivalent"
    if metric.has_filter:
        return "filters and offsets on metric inputs are not translated"
    if metric.type == "ratio":
        names = [metric.numerator or "", metric.denominator or ""]
    else:
        names = [name for name, _ in metric.inputs]
    if not all(name in translated for name in names):
        return None
    cubes = {translated[name][0].name for name in names}
    if len(cubes) != 1:
        return f"its inputs live in different cubes ({', '.join(sorted(cubes))})"
    cube = translated[names[0]][0]
    if metric.type == "ratio":
        sql = f"1.0 * {{{translated[names[0]][1]}}} / NULLIF({{{translated[names[1]][1]}}}, 0)"
    else:
        aliases = {alias: translated[name][1] for name, alias in metric.inputs}
        sql = _WORD.sub(lambda m: f"{{{aliases[m.group(0)]}}}" if m.group(0) in aliases else m.group(0),
                        metric.expr or "")
    return cube, CubeMeasure(metric.name, "number", sql, description=metric.description, title=metric.label)


def project_cube_model(compiled: CompiledProject) -> CubeModel:
    """The Cube model of a compiled project, reading where Cube must read in its environment.

    With a serving database declared, the cubes read the published copies in its schema (Cube
    never opens the DuckDB file runs write); otherwise the warehouse's own schemas.
    """
    serving = compiled.artifacts.environment.serving
    return build_cube_model(load_manifest(compiled.manifest_path),
                            serving_schema=serving.schema_ if serving is not None else None)
