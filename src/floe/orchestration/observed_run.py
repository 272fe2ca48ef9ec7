"""Every run observed the same way, however it starts: ``floe run``, a schedule, a sensor, the UI.

Three situations, one outcome (a root span with every step's spans under it, the pipeline
run's OpenLineage START and COMPLETE/FAIL, and an event per ingestion table and dbt node):

* ``floe run``: the runner's :class:`~floe.observability.observer.RunObserver` is current in
  the process; the steps report to it.
* A run Dagster's daemon, the UI or a Kubernetes run pod executes: the job's executor is
  :func:`observed_executor`, which wraps Dagster's default executor and, in the run's process,
  opens and ends the run (START, root span, COMPLETE or FAIL, nodes of skipped steps). Its steps
  run in processes of their own (multiprocess) and each *joins* the run: nodes point at the run
  as parent and spans share its trace, whose ids follow from the run id
  (:func:`floe.observability.tracing.run_trace_ids`). In in-process mode the steps find the
  executor's observer current instead.
* ``execute_in_process`` outside ``floe run`` (Dagster replaces the executor there): each step
  opens and ends the run around itself, as nothing else would.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from floe.contract.project import CompiledProject
from floe.node_events import NodeEvent

if TYPE_CHECKING:
    from dagster import AssetKey, DagsterEvent, ExecutorDefinition

EXECUTOR_NAME = "floe_observed_executor"


@contextmanager
def observed_step(compiled: CompiledProject, context: Any, warn: Callable[[str], Any] | None = None) -> Iterator[None]:
    """Observe one step (ingestion or dbt) of a run; the nodes dbt still owes are reported at its end.

    Args:
        compiled: The project.
        context: The step's Dagster ``AssetExecutionContext``.
        warn: Where export warnings go (default: the step's log).
    """
    from floe.node_events import listening
    from floe.observability.observer import RunObserver, current_observer, observing

    say = warn or context.log.warning
    current = current_observer()
    if current is not None:  # floe run, or the executor's observer in in-process mode
        try:
            yield
        finally:
            current.settle()
        return
    observer = RunObserver(compiled)
    if not observer.enabled:
        yield
        return
    joined = context.job_def.executor_def.name == EXECUTOR_NAME
    if joined:
        observer.join(context.run_id, context.job_name)
    else:
        observer.start(context.run_id, context.job_name)
    try:
        with listening(observer), observing(observer):
            yield
    except BaseException as exc:
        for warning in observer.leave() if joined else observer.finish(False, _first_line(exc)):
            say(warning)
        raise
    for warning in observer.leave() if joined else observer.finish(True):
        say(warning)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@lru_cache(maxsize=1)
def _executor_class() -> type:
    """The executor class, made on first use (Dagster is imported only where it runs)."""
    from dagster import Executor

    class ObservedExecutor(Executor):
        """Dagster's executor, with the run observed around it (in the process that runs the run)."""

        def __init__(self, inner: Any, compiled: CompiledProject) -> None:
            self._inner = inner
            self._compiled = compiled

        @property
        def retries(self) -> Any:
            return self._inner.retries

        @property
        def step_dependency_config(self) -> Any:
            return self._inner.step_dependency_config

        def execute(self, plan_context: Any, execution_plan: Any) -> Iterator[DagsterEvent]:
            from floe.node_events import listening
            from floe.observability.observer import RunObserver, current_observer, observing

            if current_observer() is not None:
                yield from self._inner.execute(plan_context, execution_plan)
                return
            observer = RunObserver(self._compiled)
            if not observer.enabled:
                yield from self._inner.execute(plan_context, execution_plan)
                return
            observer.start(plan_context.run_id, plan_context.job_name)
            failures: list[str] = []
            skipped: list[str] = []
            finished = False
            try:
                with listening(observer), observing(observer):
                    for event in self._inner.execute(plan_context, execution_plan):
                        if event.is_step_failure:
                            failures.append(f"step {event.step_key} failed: {_step_error(event)}")
                        elif event.is_step_skipped and event.step_key:
                            skipped.append(event.step_key)
                        yield event
                _report_skipped(self._compiled, observer, plan_context, skipped, failures)
                finished = True
                warnings = observer.finish(not failures, "; ".join(failures) or None)
            finally:
                if not finished:  # interrupted, or the executor itself failed
                    warnings = observer.finish(False, "the run stopped before its steps finished")
            for warning in warnings:
                plan_context.log.warning(warning)

    return ObservedExecutor


_DBT_PARSED = "Errors parsed from dbt logs:"


def _step_error(event: DagsterEvent) -> str:
    """What a failed step raised; for dbt's exit, the errors dagster-dbt parsed from dbt's output."""
    from floe.node_events import clean_dbt_message

    data = event.step_failure_data
    error = data.error if data is not None else None
    while error is not None and error.cause is not None and error.cls_name == "DagsterExecutionStepExecutionError":
        error = error.cause
    text = str(error.message).strip() if error is not None else ""
    if _DBT_PARSED in text:
        parsed = clean_dbt_message(text.split(_DBT_PARSED, 1)[1])
        if parsed:
            return parsed
    return text.splitlines()[0] if text else "unknown error"


def _report_skipped(compiled: CompiledProject, observer: Any, plan_context: Any, steps: list[str],
                    failures: list[str]) -> None:
    """Each dbt node of the run, when Dagster skipped the dbt step (an ingestion step failed)."""
    from floe.orchestration.builder import DBT_ASSETS_NAME

    if DBT_ASSETS_NAME not in steps:
        return
    reason = "not run: " + (failures[0] if failures else "an upstream step did not succeed")
    for node in skipped_dbt_nodes(compiled, _run_asset_keys(plan_context), reason):
        observer(node)


def _run_asset_keys(plan_context: Any) -> set[AssetKey]:
    """The assets the run was to materialize (its subset, else every asset of its job)."""
    selection = plan_context.dagster_run.asset_selection
    if selection:
        return set(selection)
    job = plan_context.job.get_definition()
    return set(job.asset_layer.selected_asset_keys)


def skipped_dbt_nodes(compiled: CompiledProject, keys: set[AssetKey], reason: str) -> list[NodeEvent]:
    """The models, seeds and snapshots among ``keys``, as finished-skipped node events."""
    from floe.orchestration.dbt_specs import DbtSpecs, load_manifest

    manifest = load_manifest(compiled.manifest_path)
    specs = DbtSpecs(manifest)
    nodes: list[NodeEvent] = []
    for unique_id, node in (manifest.get("nodes") or {}).items():
        kind = node.get("resource_type")
        if kind not in ("model", "seed", "snapshot"):
            continue
        if specs.key(unique_id) in keys:
            nodes.append(NodeEvent(unique_id, str(node.get("name")), kind, "skipped", message=reason,
                                   relation=node.get("relation_name"),
                                   materialized=(node.get("config") or {}).get("materialized")))
    return nodes


def observed_executor(compiled: CompiledProject, base: ExecutorDefinition | None = None) -> ExecutorDefinition:
    """Dagster's default executor (same configuration: multiprocess or in_process) with the run observed."""
    from dagster import ExecutorDefinition, multi_or_in_process_executor

    base = base or multi_or_in_process_executor
    creation = base.executor_creation_fn
    assert creation is not None
    executor_class = _executor_class()

    def create(init_context: Any) -> Any:
        return executor_class(creation(init_context), compiled)

    return ExecutorDefinition(
        name=EXECUTOR_NAME,
        config_schema=base.config_schema.as_field(),
        requirements=base.get_requirements,
        executor_creation_fn=create,
        description="Dagster's default executor (multiprocess or in_process), with the run's traces and "
                    "OpenLineage events reported by floe.",
    )
