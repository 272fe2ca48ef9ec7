"""Run-history retention: Dagster keeps every run and every event unless told otherwise.

Each Dagster run of a project with SQLite storage leaves an event-log file (measured: 46 MB
after 21 demo batches), and a process that ends without closing its SQLite connections leaves
that file's write-ahead log behind as well, never folded back (85 % of a ``.floe`` folder after
ten runs). So after each run, and every few minutes where Dagster's daemon runs:

* finished runs beyond ``orchestrator.retention`` (the newest N, or younger than D days) are
  deleted with their records, events, captured logs, asset-check results and, with SQLite,
  their event-log file (the last two Dagster's ``delete_run`` leaves behind);
* each SQLite write-ahead log under the instance's folder is checkpointed into its database
  and emptied (``PRAGMA wal_checkpoint(TRUNCATE)``).

Only public Dagster APIs here: the instance's run and event storages, and its compute log
manager; one plain SQL statement on the event storage's index connection for the check
results. The SQLite files are found on disk.
"""

from __future__ import annotations

import os
import sqlite3
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from floe.contract.project import CompiledProject
    from floe.spec.platform import OrchestratorRetention

# Runs deleted in one pass at most: a first pass over a years-old history must not hold a run's
# end (or a sensor tick) for minutes; the next pass continues.
MAX_DELETED_PER_PASS = 500
# How long a checkpoint waits for another process's write to finish before it leaves that file
# to the next pass (housekeeping never blocks a run).
CHECKPOINT_WAIT_S = 2.0
CHECK_EXECUTIONS_TABLE = "asset_check_executions"


@dataclass(frozen=True)
class Tidied:
    """What one pass of :func:`apply_retention` did."""

    deleted_runs: int
    checkpointed: int

    def describe(self) -> str:
        """One line for a log or a sensor's skip reason."""
        return (f"deleted {self.deleted_runs} finished run(s) beyond the retention; "
                f"checkpointed {self.checkpointed} SQLite write-ahead log(s)")


def apply_retention(instance: DagsterInstance, retention: OrchestratorRetention, *,
                    sqlite_home: Path | None = None, current_run_id: str | None = None,
                    project: CompiledProject | None = None) -> Tidied:
    """Delete the finished runs ``retention`` no longer keeps, then checkpoint the SQLite logs.

    Args:
        instance: The project's Dagster instance.
        retention: ``orchestrator.retention`` of the environment.
        sqlite_home: The instance's folder when its storage is SQLite (None: PostgreSQL).
        current_run_id: A run never deleted (the one that just ended, still being reported).
        project: Whose per-run folders (run logs, dbt target folders) to prune as well
            (:mod:`floe.orchestration.run_folders`).
    """
    deleted = 0
    if retention.runs is not None:
        deleted += prune_runs(instance, retention.runs, current_run_id)
    if retention.days is not None:
        deleted += prune_runs_older_than(instance, timedelta(days=retention.days), current_run_id)
    checkpointed = checkpoint_sqlite_logs(sqlite_home) if sqlite_home is not None else 0
    if project is not None:
        from floe.orchestration.run_folders import prune_run_folders

        prune_run_folders(project)
    return Tidied(deleted, checkpointed)


def prune_run_history(compiled: CompiledProject, instance: DagsterInstance, keep: int,
                      current_run_id: str | None = None) -> int:
    """An ingestion source's ``retention.keep_runs``: runs beyond the newest ``keep`` and their
    per-run folders; returns how many runs were deleted."""
    from floe.orchestration.run_folders import prune_run_folders

    deleted = prune_runs(instance, keep, current_run_id)
    prune_run_folders(compiled, keep)
    return deleted


def prune_runs(instance: DagsterInstance, keep: int, current_run_id: str | None = None) -> int:
    """Delete finished runs beyond the newest ``keep``; returns how many were deleted.

    One count query when nothing is over the limit (the case after every run once the history
    is pruned), then the oldest runs over it, oldest first.
    """
    excess = instance.get_runs_count() - keep
    if excess <= 0:
        return 0
    records = instance.get_run_records(limit=min(excess, MAX_DELETED_PER_PASS), ascending=True)
    return _delete(instance, [record.dagster_run for record in records], current_run_id)


def prune_runs_older_than(instance: DagsterInstance, age: timedelta, current_run_id: str | None = None) -> int:
    """Delete finished runs created more than ``age`` ago; returns how many were deleted."""
    from dagster import RunsFilter

    cutoff = datetime.now(timezone.utc) - age
    records = instance.get_run_records(filters=RunsFilter(created_before=cutoff), limit=MAX_DELETED_PER_PASS,
                                       ascending=True)
    return _delete(instance, [record.dagster_run for record in records], current_run_id)


def _delete(instance: DagsterInstance, runs: list[Any], current_run_id: str | None) -> int:
    storage = instance.event_log_storage
    # SQLite event logs keep one file per run (path_for_shard), which delete_run leaves behind;
    # floe's fast storage also holds an engine per file (forget_run).
    path_for_shard = getattr(storage, "path_for_shard", None)
    forget_run = getattr(storage, "forget_run", None)
    deleted: list[str] = []
    for run in runs:
        if run.run_id == current_run_id or not run.is_finished:
            continue  # queued or running: never ours to delete
        instance.delete_run(run.run_id)
        _delete_captured_logs(instance, run.run_id)
        if callable(forget_run):
            forget_run(run.run_id)
        if callable(path_for_shard):
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.unlink(path_for_shard(run.run_id) + suffix)
                except FileNotFoundError:
                    pass
        deleted.append(run.run_id)
    _delete_check_executions(storage, deleted)
    return len(deleted)


def _delete_check_executions(storage: Any, run_ids: list[str]) -> None:
    """The asset-check results of deleted runs, which Dagster's ``delete_run`` leaves behind.

    One row per check per run, with its serialized evaluation (about 4 KB): 10 checks grew the
    index by 40 KB a run with only 3 runs kept. The table is Dagster's own (``index_connection``
    is its event-log storage's public connection, committed on exit by both SQLite and
    PostgreSQL storages); without it (an older schema) there is nothing to delete.
    """
    if not run_ids or not callable(getattr(storage, "index_connection", None)):
        return
    if not storage.has_table(CHECK_EXECUTIONS_TABLE):
        return
    from sqlalchemy import bindparam, text

    statement = text(f"DELETE FROM {CHECK_EXECUTIONS_TABLE} WHERE run_id IN :run_ids").bindparams(
        bindparam("run_ids", expanding=True))
    with storage.index_connection() as connection:
        connection.execute(statement, {"run_ids": run_ids})


def _delete_captured_logs(instance: DagsterInstance, run_id: str) -> None:
    """The run's captured stdout/stderr (runs the daemon launches keep them under the run's id)."""
    try:
        instance.compute_log_manager.delete_logs(prefix=[run_id])
    except NotImplementedError:
        pass  # a log manager that cannot delete (e.g. a custom one): the run itself is gone


def checkpoint_sqlite_logs(folder: Path) -> int:
    """Fold every non-empty SQLite write-ahead log under ``folder`` into its database and empty it.

    A database another process is writing at that moment is left for the next pass. Returns
    how many logs were emptied.
    """
    emptied = 0
    for wal in sorted(folder.glob("**/*.db-wal")):
        database = wal.with_name(wal.name.removesuffix("-wal"))
        try:
            if wal.stat().st_size == 0 or not database.is_file():
                continue
            connection = sqlite3.connect(str(database), timeout=CHECKPOINT_WAIT_S)
            try:
                row = connection.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            finally:
                connection.close()  # the last connection to close also deletes the emptied log
        except (OSError, sqlite3.Error):
            continue  # gone meanwhile, or busy: housekeeping never fails a run
        if row is not None and row[0] == 0:  # not busy: the whole log went into the database
            emptied += 1
    return emptied


def tidy_after_run(compiled: CompiledProject, instance: DagsterInstance, run_id: str) -> Tidied | None:
    """:func:`apply_retention` for a run that just ended in this process (``floe run``).

    The run has succeeded or failed by then: a problem here is a warning (in the run log), never
    the run's failure; the next run or the sensor tries again.
    """
    from floe.orchestration.instance import instance_home
    from floe.spec.platform import SqliteOrchestratorStorage

    orchestrator = compiled.artifacts.environment.orchestrator
    home = instance_home(compiled) if isinstance(orchestrator.storage, SqliteOrchestratorStorage) else None
    try:
        return apply_retention(instance, orchestrator.retention, sqlite_home=home, current_run_id=run_id,
                               project=compiled)
    except Exception as exc:  # noqa: BLE001 - housekeeping must not turn a finished run into an error
        warnings.warn(f"run history was not pruned this time ({type(exc).__name__}: {exc})", stacklevel=2)
        return None
