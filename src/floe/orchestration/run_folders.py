"""Per-run files floe leaves in the project, kept bounded like the run history.

Each run leaves a log of its own (``.floe/logs/run-*.log``, from ``floe run``) and dagster-dbt
a target folder of its own (``.floe/dbt/target/<step>-<run>-<n>``: compiled SQL of every model,
run_results.json, dbt.log). A demo starts a run every five minutes for days, by ``floe run``
or by Dagster's daemon, so both are pruned, newest kept:

* run logs: at most :data:`KEEP_RUN_LOGS`, and no more than the runs the history keeps;
* dbt target folders: at most :data:`KEEP_RUN_TARGETS` (they are large, and only the newest
  serves a user: ``--state``, the compiled SQL of a failure), and no more than the history keeps.

"The runs the history keeps" is the smallest of ``orchestrator.retention.runs`` and each
ingestion source's ``retention.keep_runs``. Dagster's own per-run files (event logs, captured
stdout/stderr under ``.floe/dagster/storage/<run>``) go with the run when the history deletes
it (:mod:`floe.orchestration.history`).
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from pathlib import Path

from floe.contract.project import CompiledProject

KEEP_RUN_LOGS = 50
KEEP_RUN_TARGETS = 3
RUN_LOG_GLOB = "run-*.log"


@dataclass(frozen=True)
class Pruned:
    """What one pass removed."""

    logs: int
    targets: int


def history_limit(compiled: CompiledProject) -> int | None:
    """Runs the project's history keeps: the smallest limit declared, None without one."""
    artifacts = compiled.artifacts
    limits = [source.retention.keep_runs for source in artifacts.ingestion if source.retention.keep_runs]
    runs = artifacts.environment.orchestrator.retention.runs
    if runs is not None:
        limits.append(runs)
    return min(limits) if limits else None


def run_logs_dir(compiled: CompiledProject) -> Path:
    """Where ``floe run`` writes one log per run."""
    return compiled.output_dir / "logs"


def logs_to_keep(compiled: CompiledProject) -> int:
    """How many run logs stay (at least 1: the current run's)."""
    limit = history_limit(compiled)
    return max(min(KEEP_RUN_LOGS, limit if limit is not None else KEEP_RUN_LOGS), 1)


def targets_to_keep(compiled: CompiledProject) -> int:
    """How many per-run dbt target folders stay (at least 1: the current run's)."""
    limit = history_limit(compiled)
    return max(min(KEEP_RUN_TARGETS, limit if limit is not None else KEEP_RUN_TARGETS), 1)


def old_run_logs(log_dir: Path, keep: int) -> list[Path]:
    """Run logs beyond the newest ``keep`` (names sort by time: run-<UTC timestamp>.log)."""
    try:
        logs = sorted(log_dir.glob(RUN_LOG_GLOB))
    except OSError:
        return []
    return logs[: max(len(logs) - keep, 0)]


def old_run_targets(target_path: Path, keep: int) -> list[Path]:
    """dagster-dbt's per-run target folders beyond the newest ``keep`` (by modification time)."""
    try:
        runs = sorted((p for p in target_path.iterdir() if p.is_dir()), key=_mtime)
    except OSError:
        return []
    return runs[: max(len(runs) - keep, 0)]


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:  # removed meanwhile (another run's pruning): sorts first, removal is a no-op
        return 0.0


def remove_folders(folders: list[Path]) -> None:
    """Delete folders; one already gone, or busy, is left (the next pass retries)."""
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)


def prune_run_folders(compiled: CompiledProject, keep: int | None = None) -> Pruned:
    """Delete run logs and dbt target folders beyond what is kept (``keep``: a tighter limit)."""
    log_keep = logs_to_keep(compiled) if keep is None else max(min(keep, logs_to_keep(compiled)), 1)
    target_keep = targets_to_keep(compiled) if keep is None else max(min(keep, targets_to_keep(compiled)), 1)
    return prune_folders(run_logs_dir(compiled), compiled.target_path, logs=log_keep, targets=target_keep)


def prune_folders(log_dir: Path, target_path: Path, *, logs: int, targets: int) -> Pruned:
    """Keep the newest ``logs`` run logs in ``log_dir`` and ``targets`` run folders in ``target_path``."""
    old_logs = old_run_logs(log_dir, logs)
    for log in old_logs:
        log.unlink(missing_ok=True)
    old_targets = old_run_targets(target_path, targets)
    remove_folders(old_targets)
    return Pruned(len(old_logs), len(old_targets))
