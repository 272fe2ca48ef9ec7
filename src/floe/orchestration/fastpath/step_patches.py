"""Two narrowly scoped patches to Dagster's step execution, applied by ``floe run`` on the fast path.

``StepExecutionContext.get_output_asset_keys`` walks every output of the step and is called
once per output yielded, so a step with N outputs (one dbt build of N models) does N² work:
seconds at 1,000 models. Its answer cannot change during a step (it depends only on the
step's outputs and the run's selection), so we remember it per context.

For each asset it materializes, a step records the data versions of the asset's parents, and
Dagster reads each parent's asset record from storage for it. In a dbt step most parents were
materialized moments ago by the same step, so each of those reads (about 1.5 ms, and one per
model) returns the materialization this very process just wrote. floe's SQLite storage
remembers the materializations it stored per run; the patched look-up takes those from it and
asks storage for the rest, as before.

Both patched methods are seams (:mod:`.seams`): :func:`apply_step_patches` checks them first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

_PATCHED = False


def apply_step_patches() -> bool:
    """Apply both patches when the fast path is on and their targets are where floe expects."""
    from floe.orchestration.fastpath.seams import DAGSTER, verify

    if not verify(DAGSTER):
        return False
    memoize_output_asset_keys()
    same_run_input_versions()
    return True


def memoize_output_asset_keys() -> None:
    """Cache get_output_asset_keys on each step context (idempotent)."""
    global _PATCHED
    if _PATCHED:
        return
    from dagster._core.execution.context.system import StepExecutionContext

    original: Callable[[Any], Any] = StepExecutionContext.get_output_asset_keys

    def cached(self: Any) -> Any:
        try:
            return self.__dict__["_floe_output_asset_keys"]
        except KeyError:
            keys = original(self)
            self.__dict__["_floe_output_asset_keys"] = keys
            return keys

    StepExecutionContext.get_output_asset_keys = cached  # type: ignore[method-assign]
    _PATCHED = True


_PATCHED_VERSIONS = False


def same_run_input_versions() -> None:
    """Take parents' latest materializations from this run's own writes when storage has them."""
    global _PATCHED_VERSIONS
    if _PATCHED_VERSIONS:
        return
    from dagster._core.execution.context.data_version_cache import DataVersionCache

    original: Callable[[Any, Any], Any] = DataVersionCache._fetch_asset_records

    def fetch(self: Any, asset_keys: Any) -> Any:
        lookup = getattr(self._context.instance.event_log_storage, "materialized_in_run", None)
        if lookup is None:
            return original(self, asset_keys)
        run_id = self._context.run_id
        records: dict[Any, Any] = {}
        rest = []
        for key in asset_keys:
            stored = lookup(run_id, key)
            if stored is None:
                rest.append(key)
            else:
                records[key] = _SameRunRecord(_SameRunEntry(key, stored))
        if rest:
            records.update(original(self, rest))
        return records

    DataVersionCache._fetch_asset_records = fetch  # type: ignore[method-assign]
    _PATCHED_VERSIONS = True


@dataclass(frozen=True)
class _SameRunEntry:
    """The part of an AssetEntry that the data-version look-up reads."""

    asset_key: Any
    last_materialization_record: Any
    last_observation_record: Any = None


@dataclass(frozen=True)
class _SameRunRecord:
    asset_entry: _SameRunEntry
