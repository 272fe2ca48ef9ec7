"""Every private piece of Dagster and dagster-dbt the fast path relies on, checked before use.

A subclass that overrides a private method keeps "working" when upstream renames it: the
override simply stops being called. A patch of a method that moved raises, or worse, patches
nothing. So each method floe overrides, patches or calls, and each private name it imports, is
listed here with the parameters floe expects; :func:`verify` checks a group once per process
before its parts are used, and turns the fast path off (saying why) when anything has moved.
``tests/integration/test_fastpath.py`` asserts the whole list holds on the locked
versions, so an upgrade that moves a seam fails CI rather than production.
"""

from __future__ import annotations

import importlib
import inspect
from dataclasses import dataclass

from floe.orchestration.fastpath import disable, enabled


@dataclass(frozen=True)
class Seam:
    """A private name floe uses: ``module:qualname``, and the parameters it must take (None: any)."""

    group: str
    module: str
    qualname: str
    parameters: tuple[str, ...] | None = None
    why: str = ""


_EVENT_LOG = "dagster._core.storage.event_log.sqlite.sqlite_event_log"
_SQLITE = "dagster._core.storage.sqlite_storage"
_SQL_EVENT_LOG = "dagster._core.storage.event_log.sql_event_log"
DAGSTER, DAGSTER_DBT = "dagster", "dagster-dbt"

SEAMS: tuple[Seam, ...] = (
    # step_patches
    Seam(DAGSTER, "dagster._core.execution.context.system", "StepExecutionContext.get_output_asset_keys",
         ("self",), "memoized per step context"),
    Seam(DAGSTER, "dagster._core.execution.context.data_version_cache", "DataVersionCache._fetch_asset_records",
         ("self", "asset_keys"), "this run's own materializations served from memory"),
    # sqlite_storage: overridden
    Seam(DAGSTER, _EVENT_LOG, "SqliteEventLogStorage.__init__", ("self", "base_dir", "inst_data")),
    Seam(DAGSTER, _EVENT_LOG, "SqliteEventLogStorage._connect", ("self", "shard"), "pooled engine per shard"),
    Seam(DAGSTER, _EVENT_LOG, "SqliteEventLogStorage.store_event_batch", ("self", "events"), "one transaction"),
    Seam(DAGSTER, _EVENT_LOG, "SqliteEventLogStorage._store_asset_event", ("self", "conn", "event", "event_id"),
         "update before insert"),
    Seam(DAGSTER, _EVENT_LOG, "SqliteEventLogStorage.has_table", ("self", "table_name"), "remembered"),
    Seam(DAGSTER, _EVENT_LOG, "SqliteEventLogStorage._has_asset_key_col_on_connection",
         ("self", "conn", "column_name"), "remembered"),
    Seam(DAGSTER, _EVENT_LOG, "SqliteEventLogStorage.dispose", ("self",)),
    # sqlite_storage: called
    Seam(DAGSTER, _EVENT_LOG, "SqliteEventLogStorage._initdb", ("self", "engine", "for_index_shard")),
    Seam(DAGSTER, _EVENT_LOG, "SqliteEventLogStorage.conn_string_for_shard", ("self", "shard_name")),
    Seam(DAGSTER, _EVENT_LOG, "SqliteEventLogStorage.store_event", ("self", "event")),
    Seam(DAGSTER, _EVENT_LOG, "SqliteEventLogStorage.path_for_shard", ("self", "run_id")),
    Seam(DAGSTER, _EVENT_LOG, "SqliteEventLogStorage._get_asset_entry_values",
         ("self", "event", "event_id", "has_asset_key_index_cols")),
    Seam(DAGSTER, _EVENT_LOG, "SqliteEventLogStorage._has_asset_key_index_cols_on_connection", ("self", "conn")),
    Seam(DAGSTER, _EVENT_LOG, "INDEX_SHARD_NAME"),
    Seam(DAGSTER, _SQL_EVENT_LOG, "AssetKeyTable"),
    Seam(DAGSTER, "dagster._core.storage.sqlite", "SQLITE_BUSY_TIMEOUT_SECONDS"),
    Seam(DAGSTER, _SQLITE, "DagsterSqliteStorage.__init__", ("self", "base_dir", "inst_data")),
    Seam(DAGSTER, _SQLITE, "_event_logs_directory", ("base",)),
    Seam(DAGSTER, "dagster._core.event_api", "EventLogRecord"),
    Seam(DAGSTER, "dagster._core.events.log", "EventLogEntry"),
    # dbt_step: the run's whole dbt op, found before the run starts
    Seam(DAGSTER, "dagster._core.definitions.dependency", "NodeHandle.__new__", ("cls", "name", "parent")),
    Seam(DAGSTER, "dagster._core.definitions.assets.job.asset_layer", "AssetLayer.get_assets_def_for_node",
         ("self", "node_handle")),
    # dbt_cli: overridden
    Seam(DAGSTER_DBT, "dagster_dbt", "DbtCliResource._cli_version", None, "dbt-core's version, no subprocess"),
    Seam(DAGSTER_DBT, "dagster_dbt", "DbtCliResource._initialize_dbt_core_adapter", ("self", "args"),
         "no in-process adapter"),
    # dbt_step: called
    Seam(DAGSTER_DBT, "dagster_dbt", "DbtCliResource._get_unique_target_path", ("self", "context")),
    Seam(DAGSTER_DBT, "dagster_dbt", "DbtCliInvocation.__init__",
         ("self", "process", "manifest", "dagster_dbt_translator", "project_dir", "target_path", "raise_on_error",
          "cli_version", "project", "context", "adapter"), "wraps the dbt process started early"),
    Seam(DAGSTER_DBT, "dagster_dbt.asset_utils", "get_subset_selection_for_context",
         ("context", "manifest", "select", "exclude", "selector", "dagster_dbt_translator",
          "current_dbt_indirect_selection_env")),
    Seam(DAGSTER_DBT, "dagster_dbt.asset_utils", "DAGSTER_DBT_SELECT_METADATA_KEY"),
    Seam(DAGSTER_DBT, "dagster_dbt.asset_utils", "DAGSTER_DBT_EXCLUDE_METADATA_KEY"),
    Seam(DAGSTER_DBT, "dagster_dbt.asset_utils", "DAGSTER_DBT_SELECTOR_METADATA_KEY"),
    Seam(DAGSTER_DBT, "dagster_dbt.asset_utils", "DBT_INDIRECT_SELECTION_ENV"),
)

_verified: dict[str, bool] = {}


def problems(group: str | None = None) -> list[str]:
    """What has moved, one line per seam (empty when every seam of ``group`` holds)."""
    found = []
    for seam in SEAMS:
        if group is not None and seam.group != group:
            continue
        problem = _check(seam)
        if problem:
            found.append(f"{seam.module}:{seam.qualname} {problem}")
    return found


def verify(group: str) -> bool:
    """True when the fast path is on and every seam of ``group`` holds (checked once per process).

    When a seam has moved, the fast path is turned off for the process, with the reason.
    """
    if not enabled():
        return False
    if group not in _verified:
        moved = problems(group)
        _verified[group] = not moved
        if moved:
            disable(f"floe's fast path was built for another version of {group}: " + "; ".join(moved)
                    + ". floe runs on stock Dagster and dagster-dbt (slower); please report this.")
    return _verified[group] and enabled()


def _check(seam: Seam) -> str | None:
    try:
        target: object = importlib.import_module(seam.module)
    except ImportError as exc:
        return f"cannot be imported ({exc})"
    for part in seam.qualname.split("."):
        try:
            target = inspect.getattr_static(target, part)
        except AttributeError:
            return "no longer exists"
    if seam.parameters is None:
        return None
    function = target.__func__ if isinstance(target, (classmethod, staticmethod)) else target
    try:
        found = tuple(inspect.signature(function).parameters)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "is no longer a function"
    if found != seam.parameters:
        return f"takes ({', '.join(found)}), floe expects ({', '.join(seam.parameters)})"
    return None
