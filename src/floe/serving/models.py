"""Which dbt models are published, and where each one lives in the DuckDB warehouse.

``serving.models`` names them; left out (null), they are the models the semantic layer reads:
the models of the dbt project's semantic models (what ``floe cube generate`` puts in Cube).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from floe.errors import CompileError


@dataclass(frozen=True)
class PublishedModel:
    """A dbt model copied to the serving schema, under its relation name."""

    name: str
    unique_id: str
    database: str
    schema: str
    alias: str

    @property
    def table(self) -> str:
        """The table's name in the serving schema (the model's relation name in the warehouse)."""
        return self.alias


def _model_nodes(manifest: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    nodes: Mapping[str, Any] = manifest.get("nodes", {})
    return {uid: node for uid, node in nodes.items()
            if node.get("resource_type") == "model" and node.get("config", {}).get("enabled", True)}


def semantic_layer_models(manifest: Mapping[str, Any]) -> list[str]:
    """unique ids of the models the enabled semantic models are defined on, sorted."""
    models = _model_nodes(manifest)
    found: set[str] = set()
    for raw in manifest.get("semantic_models", {}).values():
        if not raw.get("config", {}).get("enabled", True):
            continue
        found.update(uid for uid in raw.get("depends_on", {}).get("nodes", []) if uid in models)
    return sorted(found)


def published_models(manifest: Mapping[str, Any], names: Sequence[str] | None) -> list[PublishedModel]:
    """The models to publish: ``names`` (serving.models), or the semantic layer's models when None.

    Raises:
        CompileError: a name is not an enabled model of the dbt project, or two published models
            share a table name.
    """
    models = _model_nodes(manifest)
    if names is None:
        chosen = semantic_layer_models(manifest)
    else:
        by_name: dict[str, list[str]] = {}
        for uid, node in models.items():
            by_name.setdefault(str(node.get("name")), []).append(uid)
        unknown = [name for name in names if name not in by_name]
        if unknown:
            raise CompileError(
                f"serving.models names {', '.join(repr(n) for n in unknown)}, not a model of the dbt project",
                hint="list dbt model names (e.g. mart_orders) in platform.yaml's serving.models, or leave it "
                     "out to publish the models of the semantic models")
        ambiguous = [name for name in names if len(by_name[name]) > 1]
        if ambiguous:
            raise CompileError(f"serving.models: {', '.join(ambiguous)} names models of several dbt packages",
                               hint="rename one of the models")
        chosen = sorted({by_name[name][0] for name in names})
    published = [PublishedModel(name=str(models[uid]["name"]), unique_id=uid,
                                database=str(models[uid].get("database") or ""), schema=str(models[uid]["schema"]),
                                alias=str(models[uid].get("alias") or models[uid]["name"])) for uid in chosen]
    tables: dict[str, str] = {}
    for model in published:
        if model.table in tables:
            raise CompileError(f"serving: models {tables[model.table]} and {model.name} would both be published "
                               f"as table {model.table}", hint="publish one of them (serving.models)")
        tables[model.table] = model.name
    return published
