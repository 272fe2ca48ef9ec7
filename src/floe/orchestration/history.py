"""Run-history retention: a demo lands a batch every few minutes, for days.

Each Dagster run of a project with SQLite storage leaves an event-log file of about 2 MB
(measured: 46 MB after 21 demo batches), so a day at five-minute batches would add some
600 MB. After each batch the ingestion op keeps the newest runs and deletes the others —
records, events and, with SQLite, the run's event-log file, which Dagster itself leaves
behind.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dagster import DagsterInstance


def prune_runs(instance: DagsterInstance, keep: int, current_run_id: str | None = None) -> int:
    """Delete finished runs beyond the newest ``keep``; returns how many were deleted."""
    records = instance.get_run_records(limit=keep + 200)  # newest first; a bounded look-back
    deleted = 0
    storage = instance.event_log_storage
    # SQLite event logs keep one file per run (path_for_shard), which delete_run leaves behind;
    # floe's fast storage also holds an engine per file (forget_run).
    path_for_shard = getattr(storage, "path_for_shard", None)
    forget_run = getattr(storage, "forget_run", None)
    for record in records[keep:]:
        run = record.dagster_run
        if run.run_id == current_run_id or not run.is_finished:
            continue
        instance.delete_run(run.run_id)
        if callable(forget_run):
            forget_run(run.run_id)
        if callable(path_for_shard):
            for suffix in ("", "-wal", "-shm"):
                try:
                    os.unlink(path_for_shard(run.run_id) + suffix)
                except FileNotFoundError:
                    pass
        deleted += 1
    return deleted
