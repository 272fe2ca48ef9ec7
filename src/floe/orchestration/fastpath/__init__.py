"""The fast path: the only place where floe reaches into Dagster's or dagster-dbt's private code.

``floe run`` costs about what ``dbt build`` alone costs (``benchmarks/RESULTS.md``) because of a
few measured shortcuts, each of which depends on how Dagster and dagster-dbt work inside:

* ``sqlite_storage``: Dagster's SQLite event log with one pooled engine per file, batched
  transactions and remembered schema facts (a subclass overriding private methods);
* ``step_patches``: two patches to Dagster's step execution (an N² look-up, and data-version
  reads of what this very run just stored);
* ``dbt_cli``: dagster-dbt's CLI resource without its per-invocation ``dbt --version`` and
  in-process adapter (private methods overridden);
* ``dbt_step``: the dbt step with dbt started before dagster-dbt is imported, in the dbt worker
  (``floe.orchestration.dbt_worker``), wrapped in dagster-dbt's own invocation object.

Everything else in floe uses Dagster's and dagster-dbt's public API only; lint keeps it so
(``dagster._*`` imports and private attribute access are refused outside this package).

**The gate.** The fast path runs only on the Dagster and dagster-dbt versions it was tested
with (:data:`TESTED`), and only while ``FLOE_FAST_PATH`` is not ``0``. Otherwise floe runs on
stock parts: Dagster's own SQLite storage, no patch, dagster-dbt's own ``@dbt_assets`` and
``DbtCliResource.cli`` for the dbt step, plain ``dbt`` (no worker); a version outside the tested
range is reported once. Within the range, every private method, attribute and signature floe
relies on is listed in :mod:`floe.orchestration.fastpath.seams` and checked before use (and by
``tests/integration/test_fastpath.py`` on the locked versions): if one has moved,
floe says so and runs stock rather than silently slower or wrong.

This module is cheap to import (no Dagster): ``floe run`` asks the gate before anything heavy.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version

SWITCH_ENV = "FLOE_FAST_PATH"
# (first tested, first untested) release of each library, as (major, minor).
TESTED: dict[str, tuple[tuple[int, int], tuple[int, int]]] = {
    "dagster": ((1, 13), (1, 14)),
    "dagster-dbt": ((0, 29), (0, 30)),
}

logger = logging.getLogger("floe.fastpath")


@dataclass(frozen=True)
class FastPath:
    """Whether the fast path is on, and why not when it is off."""

    enabled: bool
    reason: str | None = None
    # True when floe chose stock parts on its own (an untested version, a moved seam), which
    # users should hear about; False when they switched it off themselves.
    fell_back: bool = False


_state: FastPath | None = None


def fast_path() -> FastPath:
    """The gate: the switch, then the installed versions (no Dagster import; decided once)."""
    global _state
    if _state is None:
        _state = _decide()
    return _state


def enabled() -> bool:
    """Shorthand for ``fast_path().enabled``."""
    return fast_path().enabled


def disable(reason: str) -> FastPath:
    """Turn the fast path off for the rest of the process (a seam has moved); said once."""
    global _state
    if _state is None or _state.enabled:
        _state = _fall_back(reason)
    return _state


def reset() -> None:
    """Decide again at the next question (tests, and a process whose environment changed)."""
    global _state
    _state = None


def _decide() -> FastPath:
    if os.environ.get(SWITCH_ENV, "1").strip().lower() in ("0", "false", "off", "no"):
        return FastPath(False, f"{SWITCH_ENV}=0: stock Dagster and dagster-dbt, plain dbt")
    for package, (low, high) in TESTED.items():
        installed = _installed(package)
        if installed is None or not low <= installed < high:
            shown = ".".join(map(str, installed)) if installed else "not installed"
            return _fall_back(f"{package} {shown} is outside the versions floe's fast path was tested with "
                              f"({low[0]}.{low[1]}.x); floe runs on stock Dagster and dagster-dbt (slower). "
                              f"Install the tested versions (uv.lock) for the fast path.")
    return FastPath(True)


def _fall_back(reason: str) -> FastPath:
    logger.warning(reason)
    return FastPath(False, reason, fell_back=True)


def _installed(package: str) -> tuple[int, int] | None:
    try:
        parts = version(package).split(".")
        return int(parts[0]), int(parts[1])
    except (PackageNotFoundError, ValueError, IndexError):
        return None
