"""What the Cube generator needs from a dbt manifest: semantic models, metrics, model columns.

The manifest is dbt's own artifact (``target/manifest.json`` after ``dbt parse``; floe keeps
it at ``.floe/dbt/manifest.json``). Only the few fields used here are read, into small frozen
records, so the generator never walks raw JSON.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from floe.errors import CompileError


@dataclass(frozen=True)
class Entity:
    """A MetricFlow entity: a key of the semantic model (``primary``, ``foreign``, ...)."""

    name: str
    type: str
    expr: str


@dataclass(frozen=True)
class Dimension:
    """A MetricFlow dimension; ``time_granularity`` is set for time dimensions."""

    name: str
    type: str
    expr: str
    description: str | None = None
    time_granularity: str | None = None


@dataclass(frozen=True)
class Measure:
    """A MetricFlow measure: an aggregation (``agg``) of an expression."""

    name: str
    agg: str
    expr: str
    description: str | None = None
    percentile: float | None = None


@dataclass(frozen=True)
class SemanticModel:
    """A semantic model joined with the table it is defined on."""

    name: str
    description: str | None
    schema: str
    table: str
    columns: Mapping[str, str | None]
    entities: tuple[Entity, ...]
    dimensions: tuple[Dimension, ...]
    measures: tuple[Measure, ...]
    agg_time_dimension: str | None
    meta: Mapping[str, Any] = field(default_factory=dict)

    @property
    def primary_entity(self) -> Entity | None:
        """The entity naming one row of the model, if a column holds it."""
        return next((entity for entity in self.entities if entity.type in ("primary", "natural")), None)

    def column_type(self, expr: str) -> str | None:
        """Declared data type of a plain column expression (None when unknown)."""
        return self.columns.get(expr.strip().lower())


@dataclass(frozen=True)
class Metric:
    """A MetricFlow metric, reduced to what a Cube measure can express."""

    name: str
    type: str
    label: str | None
    description: str | None
    measure: str | None = None
    numerator: str | None = None
    denominator: str | None = None
    expr: str | None = None
    inputs: tuple[tuple[str, str], ...] = ()  # (metric name, name used in expr) of a derived metric
    has_filter: bool = False


def load_manifest(path: Path) -> dict[str, Any]:
    """Read a dbt ``manifest.json``.

    Raises:
        CompileError: the file is missing or not a dbt manifest.
    """
    if not path.is_file():
        raise CompileError(f"{path}: no dbt manifest here",
                           hint="run 'floe compile' (or 'dbt parse') to produce it")
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CompileError(f"{path}: cannot read the dbt manifest ({exc})",
                           hint="run 'floe compile' (or 'dbt parse') again") from None
    if not isinstance(document, dict) or "nodes" not in document:
        raise CompileError(f"{path}: not a dbt manifest (no 'nodes')")
    return document


def semantic_models(manifest: Mapping[str, Any]) -> list[SemanticModel]:
    """The manifest's enabled semantic models, each with its model's table and column types.

    Raises:
        CompileError: a semantic model refers to a model the manifest does not hold.
    """
    nodes: Mapping[str, Any] = manifest.get("nodes", {})
    found: list[SemanticModel] = []
    for unique_id, raw in sorted(manifest.get("semantic_models", {}).items()):
        if not raw.get("config", {}).get("enabled", True):
            continue
        model_ids = [node for node in raw.get("depends_on", {}).get("nodes", []) if node in nodes]
        if not model_ids:
            raise CompileError(f"semantic model '{raw.get('name')}' ({unique_id}): its model is not in the manifest",
                               hint="check the 'model: ref(...)' of the semantic model, then run dbt parse")
        node = nodes[model_ids[0]]
        relation = raw.get("node_relation") or {}
        columns = {name.lower(): column.get("data_type") for name, column in node.get("columns", {}).items()}
        found.append(SemanticModel(
            name=raw["name"],
            description=raw.get("description") or node.get("description") or None,
            schema=relation.get("schema_name") or node["schema"],
            table=relation.get("alias") or node.get("alias") or node["name"],
            columns=columns,
            entities=tuple(Entity(e["name"], e["type"], e.get("expr") or e["name"])
                           for e in raw.get("entities", [])),
            dimensions=tuple(_dimension(d) for d in raw.get("dimensions", [])),
            measures=tuple(_measure(m) for m in raw.get("measures", [])),
            agg_time_dimension=(raw.get("defaults") or {}).get("agg_time_dimension"),
            meta=raw.get("config", {}).get("meta", {}) or {},
        ))
    return found


def metrics(manifest: Mapping[str, Any]) -> list[Metric]:
    """The manifest's enabled metrics."""
    found: list[Metric] = []
    for _, raw in sorted(manifest.get("metrics", {}).items()):
        if not raw.get("config", {}).get("enabled", True):
            continue
        params = raw.get("type_params") or {}
        found.append(Metric(
            name=raw["name"],
            type=raw["type"],
            label=raw.get("label"),
            description=raw.get("description") or None,
            measure=_name_of(params.get("measure")),
            numerator=_name_of(params.get("numerator")),
            denominator=_name_of(params.get("denominator")),
            expr=params.get("expr"),
            inputs=tuple((m["name"], m.get("alias") or m["name"]) for m in params.get("metrics") or []),
            has_filter=bool(raw.get("filter")) or _has_input_filter(params),
        ))
    return found


def _dimension(raw: Mapping[str, Any]) -> Dimension:
    params = raw.get("type_params") or {}
    return Dimension(
        name=raw["name"],
        type=raw["type"],
        expr=raw.get("expr") or raw["name"],
        description=raw.get("description") or None,
        time_granularity=params.get("time_granularity"),
    )


def _measure(raw: Mapping[str, Any]) -> Measure:
    params = raw.get("agg_params") or {}
    return Measure(
        name=raw["name"],
        agg=raw["agg"],
        expr=str(raw.get("expr") or raw["name"]),
        description=raw.get("description") or None,
        percentile=params.get("percentile"),
    )


def _name_of(reference: Any) -> str | None:
    """A metric input is written as a name or as ``{name: ..., filter: ...}``."""
    if isinstance(reference, Mapping):
        name = reference.get("name")
        return str(name) if name else None
    return str(reference) if reference else None


def _has_input_filter(params: Mapping[str, Any]) -> bool:
    inputs = [params.get("measure"), params.get("numerator"), params.get("denominator"),
              *(params.get("metrics") or [])]
    return any(isinstance(i, Mapping) and (i.get("filter") or i.get("offset_window") or i.get("offset_to_grain"))
               for i in inputs)
