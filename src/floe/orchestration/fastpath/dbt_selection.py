"""dbt's selector on a light manifest (fast path).

A selection (``floe.orchestration.dbt_selection``) runs dbt-core's own ``NodeSelector``, which
reads a ``Manifest`` object. dbt's full ``Manifest`` from the JSON costs about 1.2 s for 1,000
models; most selector methods only read attributes (``fqn``, ``tags``, ``config``, the file
path), which a dictionary read as attributes gives at no cost. ``test_type:`` is the exception:
it asks whether a node *is* one of dbt's test classes, so the tests (a tenth of a project,
typically) are built as dbt's own ``GenericTestNode``/``SingularTestNode``, and unit tests,
semantic models, saved queries and functions as their classes too. A shortcut, hence here:
off the fast path the selector gets dbt's full manifest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


class _Attributes(dict[str, Any]):
    """A manifest node read as dbt reads its objects: ``node.config.materialized``."""

    def __getattr__(self, name: str) -> Any:
        value = self.get(name)
        return _Attributes(value) if isinstance(value, dict) else value


def light_manifest(manifest_json: Mapping[str, Any]) -> Any | None:
    """A dbt ``Manifest`` good for selection; None when the fast path is off (build the full one)."""
    from floe.orchestration.fastpath import enabled

    if not enabled():
        return None
    from dbt.contracts.graph.manifest import Manifest
    from dbt.contracts.graph.nodes import FunctionNode, SavedQuery, SemanticModel, UnitTestDefinition

    from floe.orchestration.dbt_selection import dbt_test_node

    def node(data: Mapping[str, Any]) -> Any:
        return dbt_test_node(data) if data.get("resource_type") == "test" else _Attributes(data)

    def typed(name: str, kind: Any) -> dict[str, Any]:
        return {uid: kind.from_dict(data) for uid, data in (manifest_json.get(name) or {}).items()}

    def read(name: str) -> dict[str, Any]:
        return {uid: _Attributes(data) for uid, data in (manifest_json.get(name) or {}).items()}

    return Manifest(
        nodes={uid: node(data) for uid, data in manifest_json["nodes"].items()},
        sources=read("sources"),
        exposures=read("exposures"),
        metrics=read("metrics"),
        selectors=read("selectors"),
        unit_tests=typed("unit_tests", UnitTestDefinition),
        semantic_models=typed("semantic_models", SemanticModel),
        saved_queries=typed("saved_queries", SavedQuery),
        functions=typed("functions", FunctionNode),
    )
