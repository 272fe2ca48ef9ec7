"""dagster-dbt's CLI resource, without the work it repeats on every invocation (fast path).

Imported only while a dbt step runs (importing dagster-dbt imports dbt-core); the code
location declares the light ``FloeDbtResource`` of ``floe.orchestration.dbt_resource``.

Upstream runs ``dbt --version`` in a subprocess and builds a dbt adapter in-process before
each invocation; together that is more than a second of fixed overhead per run, spent on
information floe already has (dbt-core is a dependency of this very environment) and on an
adapter that is only needed for optional row-count queries floe does not use. Both overridden
methods are seams (:mod:`.seams`), checked before the dbt step uses this class.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property
from importlib.metadata import version as package_version
from typing import Any

from dagster_dbt import DbtCliResource
from packaging import version


class FloeDbtCliResource(DbtCliResource):
    """A DbtCliResource that knows its dbt version and skips the in-process adapter."""

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(package_version("dbt-core"))

    def _initialize_dbt_core_adapter(self, args: Sequence[str]) -> Any:
        return None
