"""One narrowly scoped fix to Dagster's step execution, applied by the in-process runner.

``StepExecutionContext.get_output_asset_keys`` walks every output of the step and is called
once per output yielded, so a step with N outputs (one dbt build of N models) does N² work:
seconds at 1,000 models. Its answer cannot change during a step (it depends only on the
step's outputs and the run's selection), so we remember it per context.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

_PATCHED = False


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
