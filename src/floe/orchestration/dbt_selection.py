"""Jobs' dbt selections (``select``/``exclude`` in floe.yaml), resolved only when Dagster asks.

dagster-dbt's ``build_dbt_asset_selection`` needs the ``@dbt_assets`` definition and imports
dbt-core to evaluate dbt's selection syntax. ``DbtSelection`` only records the manifest and
the two strings. The first time Dagster resolves it (a job is built, a run is narrowed), dbt's
own selector picks the unique ids (``fqn:*``, every node, needs no dbt), which ``dbt_specs``
maps to the keys the translator gives; off the fast path, dagster-dbt's public
``DbtManifestAssetSelection`` evaluates it whole (slower: a translator spec per node).
Like ``build_dbt_asset_selection``, the result is intersected with the dbt multi-asset's own
selection (``fqn:*``). Each distinct selection is evaluated once per manifest.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dagster import AssetCheckKey, AssetKey, AssetSelection

from floe.orchestration.dbt_specs import (
    DEFAULT_SELECT,
    DbtSpecs,
    dbt_translator,
    get_node,
    is_asset_node,
    load_manifest,
)


# AssetSelection's public extension points are resolve_inner and resolve_checks_inner; Dagster
# serializes a custom selection as the keys it resolves to (to_serializable_asset_selection).
@dataclass(frozen=True)
class DbtSelection(AssetSelection):
    """The assets (and their dbt tests as checks) a dbt selection picks from the manifest."""

    manifest_path: str
    select: str
    exclude: str

    def _keys(self, asset_graph: Any) -> tuple[frozenset[AssetKey], frozenset[AssetCheckKey]]:
        stamp = Path(self.manifest_path).stat().st_mtime_ns
        mine = _selected_keys(self.manifest_path, stamp, self.select, self.exclude, asset_graph)
        everything = _selected_keys(self.manifest_path, stamp, DEFAULT_SELECT, "", asset_graph)
        return mine[0] & everything[0], mine[1] & everything[1]

    def resolve_inner(self, asset_graph: Any, allow_missing: bool = False) -> AbstractSet[AssetKey]:
        """The assets of the selected dbt nodes."""
        return set(self._keys(asset_graph)[0])

    def resolve_checks_inner(self, asset_graph: Any, allow_missing: bool) -> AbstractSet[AssetCheckKey]:
        """The checks of the selected dbt tests."""
        return set(self._keys(asset_graph)[1])


def dbt_selection(manifest_path: Path, select: str, exclude: str | None = None) -> DbtSelection:
    """A job's or a run's dbt selection (dbt syntax, e.g. ``+marts`` or ``tag:daily``)."""
    return DbtSelection(manifest_path=str(manifest_path), select=select, exclude=exclude or "")


# Selecting everything needs no selection engine: every member of these collections matches.
_FQN_STAR_COLLECTIONS = ("nodes", "exposures", "metrics", "unit_tests", "semantic_models", "saved_queries",
                         "functions")
_known_specs: dict[tuple[str, int], DbtSpecs] = {}
_MAX_EVALUATED = 64


def remember_specs(manifest_path: Path, specs: DbtSpecs) -> None:
    """Let selections reuse the specs the code location was built from (same manifest file)."""
    _known_specs.clear()
    _known_specs[str(manifest_path), manifest_path.stat().st_mtime_ns] = specs


def _specs(manifest_path: str, stamp: int) -> DbtSpecs:
    found = _known_specs.get((manifest_path, stamp))
    if found is None:
        found = _known_specs[manifest_path, stamp] = DbtSpecs(load_manifest(Path(manifest_path)))
    return found


Keys = tuple[frozenset[AssetKey], frozenset[AssetCheckKey]]
_evaluated: dict[tuple[str, int, str, str], Keys] = {}


def _selected_keys(manifest_path: str, stamp: int, select: str, exclude: str, asset_graph: Any) -> Keys:
    """What dagster-dbt's ``DbtManifestAssetSelection`` resolves to: assets, then checks.

    The answer depends on the manifest and the two strings only (``asset_graph`` is what
    Dagster passes to any selection), so it is evaluated once per manifest file.
    """
    cache_key = (manifest_path, stamp, select, exclude)
    found = _evaluated.get(cache_key)
    if found is not None:
        return found
    specs = _specs(manifest_path, stamp)
    unique_ids: AbstractSet[str] | None
    if select == DEFAULT_SELECT and not exclude:
        unique_ids = {uid for name in _FQN_STAR_COLLECTIONS for uid in specs.manifest.get(name) or {}}
    else:
        from floe.orchestration.fastpath.dbt_selection import selected_unique_ids

        unique_ids = selected_unique_ids(specs.manifest, select, exclude)
    if unique_ids is not None:
        found = (frozenset(specs.key(uid) for uid in unique_ids if is_asset_node(get_node(specs.manifest, uid))),
                 frozenset(key for key in map(specs.check_key, unique_ids) if key is not None))
    else:
        from dagster_dbt import DbtManifestAssetSelection

        selection = DbtManifestAssetSelection.build(specs.manifest, select, exclude=exclude,
                                                    dagster_dbt_translator=dbt_translator(specs.manifest))
        found = (frozenset(selection.resolve_inner(asset_graph)),
                 frozenset(selection.resolve_checks_inner(asset_graph, allow_missing=True)))
    if len(_evaluated) >= _MAX_EVALUATED:
        _evaluated.clear()
    _evaluated[cache_key] = found
    return found
