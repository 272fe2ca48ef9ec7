"""Jobs' dbt selections (``select``/``exclude`` in floe.yaml), resolved only when Dagster asks.

dagster-dbt's ``build_dbt_asset_selection`` needs the ``@dbt_assets`` definition and imports
dbt-core to evaluate dbt's selection syntax. ``DbtSelection`` only records the manifest and
the two strings. The first time Dagster resolves it (a job is built, a run is narrowed), dbt's
own selector (through dagster-dbt's ``select_unique_ids``, as ``DbtManifestAssetSelection``
does) picks the unique ids, which ``dbt_specs`` maps to the same asset and check keys the
translator gives (``fqn:*``, every node, needs no dbt). Like ``build_dbt_asset_selection``,
the result is intersected with the dbt multi-asset's own selection (``fqn:*``). Each distinct
selection is evaluated once per manifest.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import AssetCheckKey, AssetKey, AssetSelection
from dagster._record import record

from floe.orchestration.dbt_specs import DEFAULT_SELECT, DbtSpecs, get_node, is_asset_node, load_manifest

if TYPE_CHECKING:
    from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph


@record
class DbtSelection(AssetSelection):
    """The assets (and their dbt tests as checks) a dbt selection picks from the manifest."""

    manifest_path: str
    select: str
    exclude: str

    def _keys(self) -> tuple[frozenset[AssetKey], frozenset[AssetCheckKey]]:
        stamp = Path(self.manifest_path).stat().st_mtime_ns
        mine = _selected_keys(self.manifest_path, stamp, self.select, self.exclude)
        everything = _selected_keys(self.manifest_path, stamp, DEFAULT_SELECT, "")
        return mine[0] & everything[0], mine[1] & everything[1]

    def resolve_inner(self, asset_graph: BaseAssetGraph[Any], allow_missing: bool = False) -> AbstractSet[AssetKey]:
        """The assets of the selected dbt nodes."""
        return set(self._keys()[0])

    def resolve_checks_inner(self, asset_graph: BaseAssetGraph[Any], allow_missing: bool) -> AbstractSet[AssetCheckKey]:
        """The checks of the selected dbt tests."""
        return set(self._keys()[1])


def dbt_selection(manifest_path: Path, select: str, exclude: str | None = None) -> DbtSelection:
    """A job's or a run's dbt selection (dbt syntax, e.g. ``+marts`` or ``tag:daily``)."""
    return DbtSelection(manifest_path=str(manifest_path), select=select, exclude=exclude or "")


# Selecting everything needs no selection engine: every member of these collections matches.
_FQN_STAR_COLLECTIONS = ("nodes", "exposures", "metrics", "unit_tests", "semantic_models", "saved_queries",
                         "functions")
_known_specs: dict[tuple[str, int], DbtSpecs] = {}


def remember_specs(manifest_path: Path, specs: DbtSpecs) -> None:
    """Let selections reuse the specs the code location was built from (same manifest file)."""
    _known_specs.clear()
    _known_specs[str(manifest_path), manifest_path.stat().st_mtime_ns] = specs


def _specs(manifest_path: str, stamp: int) -> DbtSpecs:
    found = _known_specs.get((manifest_path, stamp))
    if found is None:
        found = _known_specs[manifest_path, stamp] = DbtSpecs(load_manifest(Path(manifest_path)))
    return found


@lru_cache(maxsize=64)
def _selected_keys(manifest_path: str, stamp: int, select: str,
                   exclude: str) -> tuple[frozenset[AssetKey], frozenset[AssetCheckKey]]:
    """What dagster-dbt's ``DbtManifestAssetSelection`` resolves to: assets, then checks."""
    specs = _specs(manifest_path, stamp)
    unique_ids: AbstractSet[str]
    if select == DEFAULT_SELECT and not exclude:
        unique_ids = {uid for name in _FQN_STAR_COLLECTIONS for uid in specs.manifest.get(name) or {}}
    else:
        from dagster_dbt.utils import select_unique_ids

        unique_ids = select_unique_ids(select=select, exclude=exclude, selector="", project=None,
                                       manifest_json=specs.manifest)
    assets = frozenset(specs.key(uid) for uid in unique_ids if is_asset_node(get_node(specs.manifest, uid)))
    checks = frozenset(key for key in map(specs.check_key, unique_ids) if key is not None)
    return assets, checks
