"""``floe run``: the pipeline in this process, Dagster driving one ``dbt build`` and recording the run.

:func:`run_pipeline` reads as plan (:func:`plan_run`), execute (:func:`execute_run`), summarize
(:func:`summarize_run`). The terminal sees live node progress through a listener
(``floe.node_events``); dbt's and Dagster's own output goes to a run log file under
``.floe/logs`` rather than the terminal.
"""

from __future__ import annotations

import contextlib
import gc
import os
import re
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from floe.contract.project import CompiledProject
from floe.node_events import NodeEvent, listening

if TYPE_CHECKING:
    from floe.observability.observer import RunObserver

EVENT_BATCH_ENV = "DAGSTER_EVENT_BATCH_SIZE"
EVENT_BATCH_SIZE = 10_000


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
    dbt_vars: Mapping[str, Any] | None = None,
    state: Path | None = None,
    defer: bool = False,
    favor_state: bool = False,
) -> RunOutcome:
    """Materialize a job (default: every asset) in-process and report each dbt node.

    Plan (definitions, job, selection), execute (one Dagster run in this process), summarize
    (errors, row counts, lineage and traces finished). ARCHITECTURE.md follows it step by step.

    Args:
        compiled: The compiled project.
        job: A job from floe.yaml; default 'all'.
        select: dbt selection narrowing the job, e.g. 'stg_orders+'.
        exclude: dbt selection to leave out.
        full_refresh: Rebuild incremental models from scratch.
        on_node: Called for every dbt node start and finish.
        dbt_vars: dbt vars for this run, overriding the job's and the transform's by name.
        state: dbt's --state: the folder of an earlier build's manifest.json, for ``state:``
            selectors and deferral (relative: to the working directory).
        defer: dbt's --defer: unselected parents are read where the state built them.
        favor_state: dbt's --favor-state: with defer, prefer the state's relations.

    Raises:
        FloeError: the job does not exist, or the selection matches nothing.
        Interrupted: SIGINT or SIGTERM arrived (dbt was stopped and the run closed first).
    """
    from floe.orchestration.dbt_worker.start import DbtWorker
    from floe.orchestration.run_signals import interruptible
    from floe.process_exit import Interrupted

    # First, before the heavy imports of the plan: dbt imports itself on the other core meanwhile.
    with interruptible() as interrupted, DbtWorker(compiled.artifacts.environment.compute.type):
        plan = plan_run(compiled, job=job, select=select, exclude=exclude, full_refresh=full_refresh,
                        state=state, defer=defer, favor_state=favor_state)
        plan = replace(plan, dbt_vars=dict(dbt_vars or {}))
        executed = execute_run(plan, on_node)
        outcome = summarize_run(plan, executed)
        signum = interrupted()  # Dagster caught it and ended the run failed: report the signal, not a failure
    if signum is not None and not outcome.success:
        raise Interrupted(signum)
    return outcome


@dataclass(frozen=True)
class RunPlan:
    """What one run will do: the job, its optional asset subset, the run's id."""

    compiled: CompiledProject
    job_name: str
    job_def: Any
    asset_selection: list[Any] | None
    run_id: str
    full_refresh: bool
    started: float
    notices: list[str]
    dbt: Any  # the code location's dbt resource
    dbt_vars: Mapping[str, Any] = field(default_factory=dict)  # 'floe run --vars'
    # The user's dbt selection and state as run tags (floe.orchestration.dbt_selection).
    dbt_tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ExecutedRun:
    """The Dagster result of a run and what floe collected while it ran."""

    result: Any
    log_path: Path
    nodes: list[NodeEvent]
    observer: RunObserver


def plan_run(compiled: CompiledProject, *, job: str | None = None, select: str | None = None,
             exclude: str | None = None, full_refresh: bool = False, state: Path | None = None,
             defer: bool = False, favor_state: bool = False) -> RunPlan:
    """Build the definitions and pick the job, assets and checks to run (no run is created yet).

    ``select``/``exclude`` pick what ``dbt ls`` would with them (``path:`` relative to the dbt
    project, tests as checks); ``state``, ``defer`` and ``favor_state`` are dbt's options.

    Raises:
        FloeError: the job does not exist, the selection matches nothing or needs a state.
    """
    from floe.errors import FloeError
    from floe.orchestration.builder import build_code_location
    from floe.orchestration.fastpath import fast_path
    from floe.orchestration.fastpath.step_patches import apply_step_patches

    started = time.perf_counter()
    apply_step_patches()  # a no-op off the fast path
    location = build_code_location(compiled)
    job_name = job or "all"
    if job_name not in location.job_selections:
        raise FloeError(f"job '{job_name}' is not defined",
                        hint=f"defined jobs: {', '.join(location.job_selections)}")
    from floe.orchestration.dbt_selection import dbt_selection, run_subset, state_tags

    job_def = location.defs.resolve_job_def(job_name)
    asset_selection = None
    dbt_tags = state_tags(state, defer=defer, favor_state=favor_state)
    if select or exclude:
        graph = location.defs.resolve_asset_graph()
        wanted = dbt_selection(compiled.manifest_path, select or "fqn:*", exclude,
                               project_dir=compiled.dbt_project_dir, state=state)
        subset = run_subset(wanted, location.job_selections[job_name], graph)
        if not subset.assets and not subset.checks:
            raise FloeError(f"selection '{select or ''}' matches no asset of job '{job_name}'",
                            hint="use dbt selection syntax, e.g. 'stg_orders+' or 'tag:daily'")
        # Tests are checks: a selection of tests alone runs checks alone.
        from floe.orchestration.serving_asset import publish_for_subset

        # A run that builds a published model ends with the publish step, as the whole job does.
        assets = set(subset.assets) | publish_for_subset(subset.assets, location.publish)
        asset_selection = sorted(assets)
        job_def = job_def.get_subset(asset_selection=assets, asset_check_selection=set(subset.checks))
        dbt_tags |= subset.tags
    gate = fast_path()
    notices = [gate.reason] if gate.fell_back and gate.reason else []
    # The run id is also the OpenLineage run id of the pipeline run.
    return RunPlan(compiled, job_name, job_def, asset_selection, str(uuid.uuid4()),
                   full_refresh, started, notices, location.dbt, dbt_tags=dbt_tags)


def execute_run(plan: RunPlan, on_node: Callable[[NodeEvent], None] | None = None) -> ExecutedRun:
    """Execute the planned run in this process; node events go to ``on_node`` as they happen.

    On the fast path, dbt may start before Dagster sets the run up (``early_launch_for_run``).
    """
    from floe.orchestration.dbt_run_args import step_dbt_args
    from floe.orchestration.fastpath.dbt_step import early_launch_for_run
    from floe.orchestration.instance import open_instance, prepare_instance_home
    from floe.orchestration.run_folders import old_run_targets, remove_folders, targets_to_keep

    compiled = plan.compiled
    # Deleting old run folders (a compiled SQL file per model) is I/O: done while dbt runs. The
    # folders are chosen now, before this run's own folder exists.
    pruner = threading.Thread(target=remove_folders,
                              args=(old_run_targets(compiled.target_path, targets_to_keep(compiled) - 1),),
                              name="floe-prune-targets", daemon=True)
    pruner.start()
    # Dagster stores the run's planned-materialization events (one per asset and check) as one
    # batch when this is set; floe's SQLite storage writes a batch in one transaction per file.
    os.environ.setdefault(EVENT_BATCH_ENV, str(EVENT_BATCH_SIZE))
    home = prepare_instance_home(compiled)  # exports what dagster.yaml reads, before dbt's environment is taken
    # The step derives its args from the run's tags (its job's merged with the run's): the same here.
    args = step_dbt_args(compiled, {**plan.job_def.run_tags, **run_tags(plan)})
    with early_launch_for_run(compiled, plan.job_def, plan.dbt, plan.run_id, args,
                              subset=plan.asset_selection is not None):
        instance = open_instance(compiled, home)
        plan.notices.extend(_close_stale_runs(compiled, instance))
        try:
            result, log_path, nodes, observer = _execute(plan, instance, on_node)
        except BaseException as stop:  # an interrupt outside Dagster's own handling, or a crash
            _close_run(instance, plan.run_id, stop)
            raise
    pruner.join()
    return ExecutedRun(result, log_path, nodes, observer)


def _execute(plan: RunPlan, instance: Any,
             on_node: Callable[[NodeEvent], None] | None) -> tuple[Any, Path, list[NodeEvent], RunObserver]:
    """The Dagster run itself, with floe's listeners, observers and run log around it."""
    from floe.observability.observer import RunObserver, observing
    from floe.orchestration.stale_runs import process_tags

    compiled = plan.compiled
    # What is loaded now (Dagster, dbt-core's modules, the definitions, the instance) lives
    # until the process ends: keep it out of the collections the run triggers and the ones at exit.
    gc.freeze()
    log_path = _new_run_log(compiled)
    nodes: list[NodeEvent] = []

    def collect(event: NodeEvent) -> None:
        if event.status != "started":
            nodes.append(event)
        if on_node is not None:
            on_node(event)

    observer = RunObserver(compiled)
    observer.start(plan.run_id, plan.job_name)
    # This process, recorded so that a later floe can tell the run is dead if it is killed.
    tags = run_tags(plan) | process_tags()
    # dbt's and Dagster's own output, warnings included, goes to the run log, not the terminal.
    try:
        with (log_path.open("w", encoding="utf-8") as log, contextlib.redirect_stdout(log),
              _warnings_to(log), listening(collect), listening(observer), observing(observer)):
            result = plan.job_def.execute_in_process(
                run_id=plan.run_id,
                instance=instance,
                tags=tags,  # plan.job_def is already the run's subset of assets and checks
                raise_on_error=False,
                run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
            )
            from floe.orchestration.history import tidy_after_run

            tidy_after_run(compiled, instance, plan.run_id)  # orchestrator.retention; its warnings to the run log
    except BaseException as stop:  # the lineage and trace end too, not only the Dagster run
        with contextlib.suppress(Exception):
            observer.finish(False, _stop_message(stop))
        raise
    return result, log_path, nodes, observer


def _close_stale_runs(compiled: CompiledProject, instance: Any) -> list[str]:
    """Mark runs whose process is gone (a killed floe run) failed; a notice for each."""
    from floe.orchestration.stale_runs import close_stale_runs

    try:
        stale, warnings = close_stale_runs(compiled, instance)
    except Exception as exc:  # noqa: BLE001 - tidying up earlier runs must not stop this one
        return [f"could not check earlier runs for a dead process: {exc}"]
    return [f"run {run.run_id[:8]} ({run.job_name}) was still {run.status}: {run.reason}"
            for run in stale] + warnings


def _close_run(instance: Any, run_id: str, stop: BaseException) -> None:
    """The run's end when execution did not return: canceled on an interrupt, failed otherwise."""
    with contextlib.suppress(Exception):
        run = instance.get_run_by_id(run_id)
        if run is None or run.is_finished:
            return
        if isinstance(stop, KeyboardInterrupt):
            instance.report_run_canceled(run, message=_stop_message(stop))
        else:
            instance.report_run_failed(run, message=_stop_message(stop))


def _stop_message(stop: BaseException) -> str:
    """Why a run ended without Dagster finishing it: the signal, or what was raised."""
    import signal

    from floe.process_exit import Interrupted

    if isinstance(stop, Interrupted):
        return f"floe run was interrupted ({signal.Signals(stop.signum).name})"
    if isinstance(stop, KeyboardInterrupt):
        return "floe run was interrupted (SIGINT)"
    return f"floe run stopped: {type(stop).__name__}: {stop}"


def run_tags(plan: RunPlan) -> dict[str, str]:
    """The tags the run is started with, on top of its job's: --full-refresh, --vars merged over
    the job's vars (the run's tag replaces the job's), and the user's selection and state."""
    from floe.orchestration.dbt_run_args import FULL_REFRESH_TAG, dbt_vars_tags, tagged_dbt_vars

    tags = {FULL_REFRESH_TAG: "true"} if plan.full_refresh else {}
    if plan.dbt_vars:
        tags.update(dbt_vars_tags(tagged_dbt_vars(plan.job_def.run_tags), plan.dbt_vars))
    return tags | plan.dbt_tags  # the user's selection and state (floe.orchestration.dbt_selection)


def summarize_run(plan: RunPlan, executed: ExecutedRun) -> RunOutcome:
    """The outcome: each node with dbt's own message, failed steps' errors, row counts, lineage and traces finished."""
    from floe.node_events import merge_dbt_messages

    result = executed.result
    nodes, dbt_errors = merge_dbt_messages(executed.nodes)
    failed = [n for n in nodes if n.status in ("error", "fail", "runtime error")]
    errors = [
        message
        for event in result.get_step_failure_events()
        if event.step_failure_data and event.step_failure_data.error
        for message in _step_error(event.step_failure_data.error, dbt_errors, nodes_failed=bool(failed))
    ]
    _fill_row_counts(plan.compiled, nodes, executed.observer.row_counts)
    reason = errors[0] if errors else (f"{failed[0].name}: {failed[0].message or failed[0].status}" if failed else None)
    _report_skipped_dbt_step(plan, executed, reason)
    export_warnings = executed.observer.finish(result.success, None if result.success else reason)
    return RunOutcome(result.run_id, result.success, time.perf_counter() - plan.started, nodes, errors,
                      executed.log_path, [*plan.notices, *export_warnings])


_DBT_EXIT = "DagsterDbtCliRuntimeError"
_DBT_PARSED = "Errors parsed from dbt logs:"


def _step_error(error: Any, dbt_errors: list[str], *, nodes_failed: bool) -> list[str]:
    """What a failed step raised, as the user should read it (none when the nodes already say it).

    Dagster wraps what the step raised ("Error occurred while executing op ..."): the cause is
    the message worth showing. When that cause is dagster-dbt's "The dbt CLI process with
    command ... failed", dbt's own error lines replace it: those it printed about no node (a
    lock, a refused connection), else nothing when failed nodes explain the exit, else the
    errors dagster-dbt parsed from dbt's output.
    """
    from floe.node_events import clean_dbt_message

    while error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
        error = error.cause
    message = str(error.message).strip()
    if error.cls_name != _DBT_EXIT and _DBT_EXIT not in message.split(":", 1)[0]:
        # A FloeError raised in a step says what, where and what next: its class path says nothing more.
        return [re.sub(r"^floe(?:\.\w+)+Error: ", "", message)]
    if dbt_errors:
        return dbt_errors
    if nodes_failed:
        return []
    parsed = clean_dbt_message(message.split(_DBT_PARSED, 1)[1]) if _DBT_PARSED in message else ""
    if parsed:
        return [parsed]
    code = re.search(r"exit code `?(-?\d+)", message)
    log = re.search(r"dbt debug log: (\S+?)\.?$", message, re.MULTILINE)
    return [f"dbt failed (exit code {code.group(1) if code else 'unknown'})"
            + (f"; its log: {log.group(1)}" if log else "")]


def _new_run_log(compiled: CompiledProject) -> Path:
    """A new log file for this run; a demo lands a batch every few minutes for days: keep the newest
    (as many as the run history keeps, at most ``run_folders.KEEP_RUN_LOGS``)."""
    from floe.orchestration.run_folders import logs_to_keep, old_run_logs, run_logs_dir

    log_dir = run_logs_dir(compiled)
    log_dir.mkdir(parents=True, exist_ok=True)
    for old in old_run_logs(log_dir, logs_to_keep(compiled) - 1):
        old.unlink(missing_ok=True)
    return log_dir / f"run-{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}.log"


@contextlib.contextmanager
def _warnings_to(log: TextIO) -> Iterator[None]:
    """Write warnings raised during the run (Dagster's deprecations among them) to the run log."""
    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: TextIO | None = None, line: str | None = None) -> None:
        log.write(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


_COUNTED = frozenset({"table", "incremental", "seed", "snapshot"})


def _report_skipped_dbt_step(plan: RunPlan, executed: ExecutedRun, reason: str | None) -> None:
    """Lineage and spans of the dbt nodes of a dbt step Dagster skipped (an ingestion step failed)."""
    from floe.orchestration.builder import DBT_ASSETS_NAME
    from floe.orchestration.observed_run import skipped_dbt_nodes

    result = executed.result
    if not any(e.is_step_skipped and e.step_key == DBT_ASSETS_NAME for e in result.all_events):
        return
    keys = set(plan.asset_selection or plan.job_def.asset_layer.selected_asset_keys)
    for node in skipped_dbt_nodes(plan.compiled, keys, f"not run: {reason or 'an upstream step failed'}"):
        executed.observer(node)


def _fill_row_counts(compiled: CompiledProject, nodes: list[NodeEvent], known: Mapping[str, int]) -> None:
    """dbt reports rows for seeds but not for most tables: count those it built (not views).

    ``known``: relations the run's observer counted already (for lineage and traces).
    """
    from dataclasses import replace

    from floe.targets import count_rows

    wanted = sorted({
        n.relation for n in nodes
        if n.rows is None and n.relation and n.status == "success" and n.materialized in _COUNTED
        and n.relation not in known
    })
    counts = dict(known)
    try:
        counts.update(count_rows(compiled.artifacts.environment.compute, compiled.root, wanted) if wanted else {})
    except Exception:  # noqa: BLE001 - counting is a courtesy; the run's outcome stands without it
        pass
    for index, node in enumerate(nodes):
        if node.rows is None and node.relation in counts:
            nodes[index] = replace(node, rows=counts[node.relation])
