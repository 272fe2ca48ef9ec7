"""Compute targets: one module per kind, each turning its platform block into a dbt profile.

The registry maps ``type`` to the module; a module is imported only when its target is used,
and no target module imports its database client (dbt does that, in its own process).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any, Protocol, cast

from floe.errors import MissingExtraError

_MODULES = {
    "duckdb": "floe.targets.duckdb",
    "postgres": "floe.targets.postgres",
    "snowflake": "floe.targets.snowflake",
    "bigquery": "floe.targets.bigquery",
    "trino": "floe.targets.trino",
}


class TargetModule(Protocol):
    """What every target module provides."""

    ADAPTER_MODULE: str
    EXTRA: str | None

    def profile_output(self, compute: Any) -> dict[str, Any]:
        """The dbt profile output for this compute block (secrets as env_var references)."""
        ...


def target_module(kind: str) -> TargetModule:
    """The module implementing compute target ``kind``."""
    try:
        name = _MODULES[kind]
    except KeyError:
        raise ValueError(f"unknown compute target {kind!r}") from None
    return cast(TargetModule, importlib.import_module(name))


def dbt_profile_output(compute: Any) -> dict[str, Any]:
    """The dbt profile output for a compute block."""
    return target_module(compute.type).profile_output(compute)


def count_rows(compute: Any, project_root: Path, relations: list[str]) -> dict[str, int]:
    """Row counts of built relations, where the target supports counting (else empty)."""
    module = target_module(compute.type)
    counter = getattr(module, "count_rows", None)
    if counter is None or not relations:
        return {}
    counts: dict[str, int] = counter(compute, project_root, relations)
    return counts


def require_adapter(kind: str) -> None:
    """Raise MissingExtraError with the pip line when the dbt adapter for ``kind`` is absent."""
    module = target_module(kind)
    if importlib.util.find_spec(module.ADAPTER_MODULE) is None:
        raise MissingExtraError(f"compute target '{kind}' (dbt adapter {module.ADAPTER_MODULE})",
                                module.EXTRA or kind)
