"""dbt's selector on the manifest, without dagster-dbt's translator (fast path).

A job's selection (``floe.orchestration.dbt_selection``) needs the unique ids a dbt selection
picks. dagster-dbt's public ``DbtManifestAssetSelection`` gives asset keys instead, building a
full asset spec through its translator for every selected node: 0.4 s for ``+marts`` on 1,000
models (``benchmarks/bench_definitions_load.py``). Its helper ``select_unique_ids`` runs dbt's
own selector and stops at the ids, which floe's specs map to the same keys; that helper is
dagster-dbt's internals, hence here, behind the fence, with a seam.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from typing import Any


def selected_unique_ids(manifest: Mapping[str, Any], select: str, exclude: str) -> AbstractSet[str] | None:
    """The unique ids dbt's selector picks; None when the fast path is off (use the public way)."""
    from floe.orchestration.fastpath.seams import DAGSTER_DBT, verify

    if not verify(DAGSTER_DBT):
        return None
    from dagster_dbt.utils import select_unique_ids

    found: AbstractSet[str] = select_unique_ids(select=select, exclude=exclude, selector="", project=None,
                                                manifest_json=manifest)
    return found
