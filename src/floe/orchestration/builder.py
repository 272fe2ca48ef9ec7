"""Build Dagster ``Definitions`` from the compiled artifacts.

Each dbt model, seed and snapshot is an asset; dbt tests are asset checks; one ``dbt build``
runs per Dagster run. Jobs and schedules are the ones declared in floe.yaml, every field
honoured.
"""

# No "from __future__ import annotations": Dagster inspects the op signature at runtime.

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from dagster import (
    AssetExecutionContext,
    AssetsDefinition,
    AssetSelection,
    DefaultScheduleStatus,
    DefaultSensorStatus,
    Definitions,
    ScheduleDefinition,
    SensorDefinition,
    SensorEvaluationContext,
    SkipReason,
    define_asset_job,
    multi_asset,
    sensor,
)

from floe.compiler.dbt_process import dbt_executable
from floe.contract.project import PROJECT_DIR_ENV, CompiledProject
from floe.orchestration.dbt_resource import FloeDbtResource
from floe.orchestration.dbt_run_args import dbt_vars_tags, run_dbt_vars, step_dbt_args
from floe.orchestration.dbt_selection import dbt_selection, remember_specs
from floe.orchestration.dbt_specs import (
    DEFAULT_SELECT,
    SELECT_TAG,
    DbtSpecs,
    build_dbt_specs,
    dbt_translator,
    load_manifest,
)
from floe.orchestration.ingestion_assets import build_ingestion_assets
from floe.orchestration.serving_asset import build_publish_asset, with_publish
from floe.spec.project import ALL_ASSETS_JOB
from floe.spec.secrets import resolve_secrets

DBT_ASSETS_NAME = "dbt_models"
RETENTION_SENSOR = "floe_retention"
RETENTION_INTERVAL_S = 300


# dagster-dbt sets DBT_LOG_FORMAT=json for the events it reads from dbt's output, and dbt's
# log file follows that format unless told otherwise: every debug event (two dozen a model)
# is then turned into JSON through protobuf, and dbt.log grows eightfold (27 MB a run at 1,000
# models). The file keeps dbt's own default format; a user's DBT_LOG_FORMAT_FILE wins.
LOG_FORMAT_FILE_ENV = "DBT_LOG_FORMAT_FILE"
LOG_FORMAT_FILE_DEFAULT = "debug"


def export_runtime_environment(compiled: CompiledProject) -> None:
    """What dbt is run with: the variables its generated profile reads (the project dir and
    every secret), and the settings of its target folder and log file."""
    os.environ[PROJECT_DIR_ENV] = str(compiled.root)
    # dagster-dbt derives each run's target folder from this and copies the compile-time
    # partial-parse file from it, so runs skip re-parsing the project.
    os.environ["DBT_TARGET_PATH"] = str(compiled.target_path)
    os.environ["DBT_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    os.environ.setdefault(LOG_FORMAT_FILE_ENV, LOG_FORMAT_FILE_DEFAULT)
    os.environ.update(resolve_secrets(compiled.artifacts.secrets))


def ensure_profiles_file(compiled: CompiledProject) -> None:
    """Write profiles.yml from the artifacts when it is missing or differs (e.g. only the
    artifacts were mounted, as in a Kubernetes ConfigMap)."""
    from floe.compiler.profiles import profiles_text
    from floe.contract.io import write_text_atomic

    path = compiled.profiles_dir / "profiles.yml"
    text = profiles_text(compiled.artifacts.dbt.profiles)
    try:
        current = path.read_text(encoding="utf-8")
    except OSError:
        current = None
    if current != text:
        write_text_atomic(path, text)


@contextmanager
def explained_reparse(compiled: CompiledProject, dbt_vars: Mapping[str, Any]) -> Iterator[None]:
    """Explain a dbt node the compiled manifest lacks when the run's vars differ from the parse's.

    dbt parses again when its --vars differ from the compile's; a var read in dbt_project.yml
    or a config() block can then enable a node the definitions (from the compiled manifest)
    do not have, and dagster-dbt fails on its unique id with a bare KeyError.
    """
    try:
        yield
    except KeyError as exc:
        node = exc.args[0] if exc.args else None
        parsed_with = compiled.artifacts.dbt.vars
        if dict(dbt_vars) == parsed_with or not (isinstance(node, str) and node.count(".") >= 2):
            raise
        from floe.errors import FloeError

        changed = sorted(name for name, value in dbt_vars.items()
                         if name not in parsed_with or parsed_with[name] != value)
        raise FloeError(
            f"dbt ran {node}, which the compiled project does not have: this run's vars "
            f"({', '.join(changed)}) change what dbt parses (a var read in dbt_project.yml or a config() "
            "block): set such vars on the transform in floe.yaml",
            hint="'floe compile' parses the project with the transform's vars; a job's, a schedule's and "
                 "'floe run --vars' are read at run time only",
        ) from exc


def build_dbt_assets(compiled: CompiledProject) -> AssetsDefinition:
    """One multi-asset over the whole dbt project, running ``dbt build``.

    On the fast path the specs are the ones dagster-dbt's ``@dbt_assets`` would make (see
    ``dbt_specs``), built from the manifest JSON without importing dagster-dbt; the step imports
    it when it runs. Otherwise dagster-dbt's own ``@dbt_assets`` builds them (stock).
    """

    def dbt_models(context: AssetExecutionContext, dbt: FloeDbtResource) -> Iterator[Any]:
        from floe.orchestration.step_lock import project_writer

        # One writer per project: a run floe dev launched waits here for a floe run (ARCHITECTURE.md).
        with project_writer(context, compiled):
            export_runtime_environment(compiled)
            from floe.orchestration.lakehouse import has_input_ports

            if compiled.artifacts.ingestion or has_input_ports(compiled):
                from floe.orchestration.lakehouse import refresh_project_views

                # The Iceberg tables may have moved on since the views were made (another run,
                # retention): dbt must read their current snapshots.
                refresh_project_views(compiled)
            args = step_dbt_args(compiled, context.run.tags)
            dbt_vars = run_dbt_vars(compiled, context.run.tags)  # what dbt may re-parse with
            from floe.observability.observer import current_span
            from floe.orchestration.dbt_step import stream_dbt_build
            from floe.orchestration.observed_run import observed_step

            with (observed_step(compiled, context),
                  current_span(f"dagster.step {context.op_handle}", {"dagster.run_id": context.run_id,
                                                                       "floe.step": "dbt build"}),
                  explained_reparse(compiled, dbt_vars)):
                yield from stream_dbt_build(context, compiled, dbt, args)

    from floe.orchestration.fastpath import enabled

    if not enabled():
        from dagster_dbt import dbt_assets

        stock: AssetsDefinition = dbt_assets(manifest=compiled.manifest_path, name=DBT_ASSETS_NAME,
                                             select=DEFAULT_SELECT,
                                             dagster_dbt_translator=dbt_translator(load_manifest(compiled.manifest_path)))(
            dbt_models)
        return stock
    translated = DbtSpecs(load_manifest(compiled.manifest_path))
    remember_specs(compiled.manifest_path, translated)
    specs, check_specs = build_dbt_specs(translated)
    fast: AssetsDefinition = multi_asset(
        name=DBT_ASSETS_NAME,
        specs=specs,
        check_specs=check_specs,
        can_subset=True,
        op_tags={SELECT_TAG: DEFAULT_SELECT},
        allow_arbitrary_check_specs=True,
    )(dbt_models)
    return fast


@dataclass(frozen=True)
class CodeLocation:
    """The definitions, plus what the in-process runner needs to narrow a run."""

    defs: Definitions
    dbt_assets: AssetsDefinition
    job_selections: dict[str, AssetSelection]
    dbt: FloeDbtResource
    publish: AssetsDefinition | None = None  # the serving publish step (floe.orchestration.serving_asset)


def build_code_location(compiled: CompiledProject) -> CodeLocation:
    """Assets, jobs, schedules and the dbt resource of a compiled project."""
    artifacts = compiled.artifacts
    os.environ.setdefault(PROJECT_DIR_ENV, str(compiled.root))
    os.environ.setdefault("DBT_TARGET_PATH", str(compiled.target_path))
    ensure_profiles_file(compiled)
    assets = build_dbt_assets(compiled)
    ingestion = build_ingestion_assets(compiled)
    publish = build_publish_asset(compiled, assets)  # None without a serving database
    selections = {job.name: with_publish(_job_selection(compiled, ingestion, job.name, job.select, job.exclude),
                                         publish)
                  for job in artifacts.jobs}
    jobs = {
        job.name: define_asset_job(job.name, selection=selections[job.name], description=job.description,
                                   run_tags=dbt_vars_tags(job.vars) or None)
        for job in artifacts.jobs
    }
    job_vars = {job.name: job.vars for job in artifacts.jobs}
    schedules = [
        ScheduleDefinition(
            name=schedule.name,
            cron_schedule=schedule.cron,
            job=jobs[schedule.job],
            execution_timezone=schedule.timezone,
            default_status=DefaultScheduleStatus.RUNNING if schedule.enabled else DefaultScheduleStatus.STOPPED,
            description=schedule.description,
            # A run's tags replace its job's tag of the same name: the schedule's holds both.
            tags=dbt_vars_tags(job_vars[schedule.job], schedule.vars) or None,
        )
        for schedule in artifacts.schedules
    ]
    dbt = FloeDbtResource(
        project_dir=str(compiled.dbt_project_dir),
        profiles_dir=str(compiled.profiles_dir),
        profile=artifacts.dbt.profile,
        target=artifacts.dbt.target,
        dbt_executable=dbt_executable(),
    )
    retention = _retention_sensor(compiled)
    sensors = [retention] if retention is not None else []
    from floe.orchestration.observed_run import observed_executor

    # Runs the daemon, the UI or a run pod executes are traced and report lineage like 'floe run'.
    defs = Definitions(assets=[*ingestion, assets, *([publish] if publish else [])], jobs=list(jobs.values()),
                       schedules=schedules, sensors=sensors, resources={"dbt": dbt},
                       executor=observed_executor(compiled))
    return CodeLocation(defs, assets, selections, dbt, publish)


def _job_selection(compiled: CompiledProject, ingestion: list[AssetsDefinition], name: str, select: str,
                   exclude: str | None) -> AssetSelection:
    """A job's dbt selection, plus the ingestion assets feeding it (all of them for 'all')."""
    selection: AssetSelection = dbt_selection(compiled.manifest_path, select, exclude,
                                              project_dir=compiled.dbt_project_dir)
    if not ingestion:
        return selection
    landed = AssetSelection.assets(*ingestion)
    if name == ALL_ASSETS_JOB:
        return selection | landed
    return selection | (selection.upstream(depth=1, include_self=False) & landed)


def _retention_sensor(compiled: CompiledProject) -> SensorDefinition | None:
    """Applies orchestrator.retention every few minutes to the runs Dagster's daemon, the UI and
    Kubernetes start (``floe run`` applies it after each run itself); launches nothing."""
    from floe.orchestration.history import apply_retention
    from floe.orchestration.instance import instance_home
    from floe.spec.platform import SqliteOrchestratorStorage

    orchestrator = compiled.artifacts.environment.orchestrator
    retention = orchestrator.retention
    home = instance_home(compiled) if isinstance(orchestrator.storage, SqliteOrchestratorStorage) else None
    if home is None and not retention.prunes_runs:
        return None  # nothing to delete, no SQLite file to checkpoint

    @sensor(name=RETENTION_SENSOR, minimum_interval_seconds=RETENTION_INTERVAL_S,
            default_status=DefaultSensorStatus.RUNNING,
            description="Deletes finished runs beyond platform.yaml's orchestrator.retention (with their events "
            "and logs) and checkpoints SQLite write-ahead logs. Launches no run.")
    def floe_retention(context: SensorEvaluationContext) -> SkipReason:
        return SkipReason(apply_retention(context.instance, retention, sqlite_home=home, project=compiled).describe())

    return floe_retention


def build_definitions(compiled: CompiledProject) -> Definitions:
    """The Dagster definitions of a compiled project."""
    return build_code_location(compiled).defs
