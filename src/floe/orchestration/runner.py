"""Run the pipeline in this process: Dagster drives one ``dbt build`` and records the run.

The terminal sees live node progress through a listener; dbt's own log lines go to a run log
file under ``.floe/logs`` rather than the terminal.
"""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import threading
import time
import uuid
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

from floe.contract.project import CompiledProject
from floe.node_events import NodeEvent, listening

if TYPE_CHECKING:
    from floe.observability.observer import RunObserver

KEEP_RUN_TARGETS = 3
EVENT_BATCH_ENV = "DAGSTER_EVENT_BATCH_SIZE"
EVENT_BATCH_SIZE = 10_000
KEEP_RUN_LOGS = 50


@dataclass
class RunOutcome:
    """What a run did, node by node."""

    run_id: str
    success: bool
    duration_s: float
    nodes: list[NodeEvent] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    log_path: Path | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def failed_nodes(self) -> list[NodeEvent]:
        """Nodes whose dbt status is a failure."""
        return [node for node in self.nodes if node.status in ("error", "fail", "runtime error")]


def run_pipeline(
    compiled: CompiledProject,
    *,
    job: str | None = None,
    select: str | None = None,
    exclude: str | None = None,
    full_refresh: bool = False,
    on_node: Callable[[NodeEvent], None] | None = None,
) -> RunOutcome:
    """Materialize a job (default: every asset) in-process and report each dbt node.

    Args:
        compiled: The compiled project.
        job: A job from floe.yaml; default 'all'.
        select: dbt selection narrowing the job, e.g. 'stg_orders+'.
        exclude: dbt selection to leave out.
        full_refresh: Rebuild incremental models from scratch.
        on_node: Called for every dbt node start and finish.

    Raises:
        FloeError: the job does not exist, or the selection matches nothing.
    """
    from floe.orchestration.dbt_prestart import PrestartedDbt

    # First, before the heavy imports below: dbt imports itself on the other core meanwhile.
    with PrestartedDbt(compiled.artifacts.environment.compute.type):
        return _run_pipeline(compiled, job=job, select=select, exclude=exclude, full_refresh=full_refresh,
                             on_node=on_node)


def _run_pipeline(
    compiled: CompiledProject,
    *,
    job: str | None,
    select: str | None,
    exclude: str | None,
    full_refresh: bool,
    on_node: Callable[[NodeEvent], None] | None,
) -> RunOutcome:
    from floe.errors import FloeError
    from floe.orchestration.builder import build_code_location, dbt_build_args
    from floe.orchestration.dagster_patches import memoize_output_asset_keys, same_run_input_versions
    from floe.orchestration.dbt_prelaunch import dbt_started_early
    from floe.orchestration.instance import prepare_instance_home

    warnings.filterwarnings("ignore", module=r"dagster.*")
    memoize_output_asset_keys()
    same_run_input_versions()
    started = time.perf_counter()
    location = build_code_location(compiled)
    job_name = job or "all"
    if job_name not in location.job_selections:
        raise FloeError(f"job '{job_name}' is not defined",
                        hint=f"defined jobs: {', '.join(location.job_selections)}")
    job_def = location.defs.resolve_job_def(job_name)
    asset_selection = None
    if select or exclude:
        from floe.orchestration.dbt_selection import dbt_selection

        graph = location.defs.resolve_asset_graph()
        wanted = dbt_selection(compiled.manifest_path, select or "fqn:*", exclude).resolve(graph)
        asset_selection = sorted(wanted & location.job_selections[job_name].resolve(graph))
        if not asset_selection:
            raise FloeError(f"selection '{select or ''}' matches no asset of job '{job_name}'",
                            hint="use dbt selection syntax, e.g. 'stg_orders+' or 'tag:daily'")
    run_id = str(uuid.uuid4())  # also the OpenLineage run id of the pipeline run
    # Deleting old run folders (a compiled SQL file per model) is I/O: done while dbt runs. The
    # folders are chosen now, before this run's own folder exists.
    pruner = threading.Thread(target=_remove_folders,
                              args=(_old_run_targets(compiled.target_path, KEEP_RUN_TARGETS - 1),),
                              name="floe-prune-targets", daemon=True)
    pruner.start()
    # Dagster stores the run's planned-materialization events (one per asset and check) as one
    # batch when this is set; floe's SQLite storage writes a batch in one transaction per file.
    os.environ.setdefault(EVENT_BATCH_ENV, str(EVENT_BATCH_SIZE))
    # Exports what the instance's dagster.yaml reads, before dbt's environment is taken below.
    home = prepare_instance_home(compiled)
    with dbt_started_early(compiled, job_def, location.dbt, run_id,
                           dbt_build_args(full_refresh=full_refresh), subset=asset_selection is not None):
        result, log_path, nodes, observer = _execute(compiled, home, job_def, job_name, run_id, asset_selection,
                                                     full_refresh, on_node)
    errors = [
        event.step_failure_data.error.message.strip()
        for event in result.get_step_failure_events()
        if event.step_failure_data and event.step_failure_data.error
    ]
    pruner.join()
    _fill_row_counts(compiled, nodes)
    failed = [n for n in nodes if n.status in ("error", "fail", "runtime error")]
    reason = errors[0] if errors else (f"{failed[0].name}: {failed[0].message or failed[0].status}" if failed else None)
    export_warnings = observer.finish(result.success, None if result.success else reason)
    return RunOutcome(result.run_id, result.success, time.perf_counter() - started, nodes, errors, log_path,
                      export_warnings)


def _execute(compiled: CompiledProject, home: Path, job_def: Any, job_name: str, run_id: str, asset_selection: Any,
             full_refresh: bool, on_node: Callable[[NodeEvent], None] | None
             ) -> tuple[Any, Path, list[NodeEvent], RunObserver]:
    """Set the Dagster run up and execute it in this process, node events going to ``on_node``."""
    from dagster import DagsterInstance

    from floe.observability.observer import RunObserver, observing
    from floe.orchestration.builder import FULL_REFRESH_TAG
    from floe.orchestration.instance import open_instance

    instance: DagsterInstance = open_instance(compiled, home)
    # What is loaded now (Dagster, dbt-core's modules, the definitions, the instance) lives
    # until the process ends: keep it out of the collections the run triggers and the ones at exit.
    gc.freeze()
    log_dir = compiled.output_dir / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"run-{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}.log"
    # A demo lands a batch every few minutes for days: keep the newest logs, not all.
    for old in sorted(log_dir.glob("run-*.log"))[: -(KEEP_RUN_LOGS - 1)]:
        old.unlink(missing_ok=True)
    nodes: list[NodeEvent] = []

    def collect(event: NodeEvent) -> None:
        if event.status != "started":
            nodes.append(event)
        if on_node is not None:
            on_node(event)

    observer = RunObserver(compiled)
    observer.start(run_id, job_name)
    tags = {FULL_REFRESH_TAG: "true"} if full_refresh else {}
    with (log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log), listening(collect),
          listening(observer), observing(observer)):
        result = job_def.execute_in_process(
            run_id=run_id,
            instance=instance,
            tags=tags,
            asset_selection=asset_selection,
            raise_on_error=False,
            run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
        )
    return result, log_path, nodes, observer


_COUNTED = frozenset({"table", "incremental", "seed", "snapshot"})


def _fill_row_counts(compiled: CompiledProject, nodes: list[NodeEvent]) -> None:
    """dbt reports rows for seeds but not for most tables: count those it built (not views)."""
    from dataclasses import replace

    from floe.targets import count_rows

    wanted = sorted({
        n.relation for n in nodes
        if n.rows is None and n.relation and n.status == "success" and n.materialized in _COUNTED
    })
    if not wanted:
        return
    try:
        counts = count_rows(compiled.artifacts.environment.compute, compiled.root, wanted)
    except Exception:  # noqa: BLE001 - counting is a courtesy; the run's outcome stands without it
        return
    for index, node in enumerate(nodes):
        if node.rows is None and node.relation in counts:
            nodes[index] = replace(node, rows=counts[node.relation])


def _old_run_targets(target_path: Path, keep: int) -> list[Path]:
    """dagster-dbt makes a target folder per run: all but the newest ``keep``."""
    try:
        runs = sorted((p for p in target_path.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime)
    except OSError:
        return []
    return runs[: max(len(runs) - keep, 0)]


def _remove_folders(folders: list[Path]) -> None:
    for folder in folders:
        shutil.rmtree(folder, ignore_errors=True)
