"""Jobs' dbt selections (``select``/``exclude`` in floe.yaml), resolved only when Dagster asks.

dagster-dbt's ``build_dbt_asset_selection`` needs the ``@dbt_assets`` definition and imports
dbt-core to evaluate dbt's selection syntax. ``DbtSelection`` only records the manifest and
the two strings; the first time Dagster resolves it (a job is built, a run is narrowed), it
hands them to dagster-dbt's ``DbtManifestAssetSelection``, so the assets and checks selected
are dbt's own answer, exactly as before.
"""

from __future__ import annotations

from collections.abc import Set as AbstractSet
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import AssetCheckKey, AssetKey, AssetSelection
from dagster._record import record

from floe.orchestration.dbt_specs import DEFAULT_SELECT

if TYPE_CHECKING:
    from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph


@record
class DbtSelection(AssetSelection):
    """The assets (and their dbt tests as checks) a dbt selection picks from the manifest."""

    manifest_path: str
    select: str
    exclude: str

    def _resolved_by_dbt(self) -> AssetSelection:
        stamp = Path(self.manifest_path).stat().st_mtime_ns
        return _dagster_dbt_selection(self.manifest_path, stamp, self.select, self.exclude)

    def resolve_inner(self, asset_graph: BaseAssetGraph[Any], allow_missing: bool = False) -> AbstractSet[AssetKey]:
        """The assets of the selected dbt nodes."""
        return self._resolved_by_dbt().resolve_inner(asset_graph, allow_missing)

    def resolve_checks_inner(self, asset_graph: BaseAssetGraph[Any], allow_missing: bool) -> AbstractSet[AssetCheckKey]:
        """The checks of the selected dbt tests."""
        return self._resolved_by_dbt().resolve_checks_inner(asset_graph, allow_missing)


def dbt_selection(manifest_path: Path, select: str, exclude: str | None = None) -> DbtSelection:
    """A job's or a run's dbt selection (dbt syntax, e.g. ``+marts`` or ``tag:daily``)."""
    return DbtSelection(manifest_path=str(manifest_path), select=select, exclude=exclude or "")


@lru_cache(maxsize=32)
def _dagster_dbt_selection(manifest_path: str, stamp: int, select: str, exclude: str) -> AssetSelection:
    """What ``build_dbt_asset_selection`` gave for floe's one dbt multi-asset (select ``fqn:*``)."""
    del stamp  # part of the cache key only: a recompiled manifest is read again
    from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings
    from dagster_dbt.dbt_manifest_asset_selection import DbtManifestAssetSelection

    from floe.orchestration.dbt_specs import load_manifest

    manifest = load_manifest(Path(manifest_path))
    translator = DagsterDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
    everything = DbtManifestAssetSelection.build(manifest=manifest, dagster_dbt_translator=translator,
                                                 select=DEFAULT_SELECT)
    wanted = DbtManifestAssetSelection.build(manifest=manifest, dagster_dbt_translator=translator,
                                             select=select, exclude=exclude)
    selection: AssetSelection = everything & wanted
    return selection
