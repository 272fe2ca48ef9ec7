"""Which checks an environment needs, and where the environment comes from.

Preflight reads the environment from the compiled artifacts (in an image or a cluster, the
only thing there is) or, in a project folder, from platform.yaml exactly as ``floe compile``
would resolve it — without running dbt, so it works before the project builds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from floe.contract.preflight_report import SERVICES, Service
from floe.preflight.checks.catalog import catalog_target, rest_catalog, sql_catalog
from floe.preflight.checks.compute import compute_check
from floe.preflight.checks.observability import observability_checks
from floe.preflight.checks.orchestrator import dagster_storage
from floe.preflight.checks.serving import serving_database
from floe.preflight.checks.storage import storage_check
from floe.preflight.framework import Check, skipped
from floe.spec.platform import DuckDBCompute, EnvironmentSpec, LocalStorage, PostgresOrchestratorStorage, SqlCatalog


@dataclass(frozen=True)
class PreflightTarget:
    """An environment to check, with what the checks need to know about the pipeline."""

    environment_name: str
    environment: EnvironmentSpec
    project_root: Path
    source: str
    ingests: bool = False
    tracing_on: bool = True
    lineage_on: bool = True
    migration_follows: bool = False
    """A Dagster schema migration runs right after this preflight (the Helm hook before floe's
    migrate hook): an older schema is then expected, not an error."""


def target_from_artifacts(path: Path) -> PreflightTarget:
    """The environment compiled into an artifacts file.

    Raises:
        ContractError: The file is missing, corrupt or of an unsupported version.
    """
    from floe.contract.project import open_compiled_project

    compiled = open_compiled_project(path)
    artifacts = compiled.artifacts
    return PreflightTarget(
        environment_name=artifacts.environment_name, environment=artifacts.environment,
        project_root=compiled.root, source=str(path), ingests=bool(artifacts.ingestion),
        tracing_on=artifacts.observability.tracing, lineage_on=artifacts.observability.lineage,
    )


def target_from_specs(pipeline_file: Path, *, environment: str | None = None,
                      platform_file: Path | None = None) -> PreflightTarget:
    """The environment as ``floe compile`` would resolve it from floe.yaml and platform.yaml.

    Raises:
        SpecError: Either spec is invalid, or the environment is not defined.
    """
    from floe.spec.project import load_project

    project = load_project(pipeline_file, environment=environment, platform_path=platform_file)
    pipeline = project.pipeline.model
    return PreflightTarget(
        environment_name=project.environment_name, environment=project.environment, project_root=project.root,
        source=f"{project.platform_path} (environment {project.environment_name})",
        ingests=bool(pipeline.ingestion), tracing_on=pipeline.observability.tracing,
        lineage_on=pipeline.observability.lineage,
    )


def plan_checks(target: PreflightTarget, services: Sequence[Service] = SERVICES) -> list[Check]:
    """The checks of ``services`` for the target's environment, in service order."""
    env = target.environment
    checks: list[Check] = []
    for service in SERVICES:
        if service not in services:
            continue
        if service == "compute":
            checks.append(compute_check(env.compute, extensions=_duckdb_extensions(target)))
        elif service == "storage":
            vended = not isinstance(env.catalog, SqlCatalog) and env.catalog.vended_credentials
            checks.append(storage_check(env.storage, vended=vended))
        elif service == "catalog":
            checks.append(_catalog_check(env))
        elif service == "postgres":
            checks.append(_orchestrator_check(env, migration_follows=target.migration_follows))
            if env.serving is not None:
                checks.append(_serving_check(env))
        else:
            checks.extend(observability_checks(env.observability, tracing_on=target.tracing_on,
                                               lineage_on=target.lineage_on))
    return [replace(check, imports=CLIENT_MODULES.get(check.name, ()), local=_is_local(check, env))
            for check in checks]


def _is_local(check: Check, env: EnvironmentSpec) -> bool:
    """Whether the check touches local files only (see Check.local): DuckDB (its extensions load
    from installed wheels), a local folder, a SQLite catalog. Skipped checks do nothing at all."""
    if check.name in ("compute.duckdb", "storage.local"):
        return True
    if check.name == "catalog.sql":
        return isinstance(env.catalog, SqlCatalog) and env.catalog.uri.lower().startswith("sqlite")
    return False


# The client libraries of each check (see Check.imports): a cold import is not the service's time.
CLIENT_MODULES: dict[str, tuple[str, ...]] = {
    "compute.duckdb": ("duckdb",),
    "storage.s3": ("botocore.session", "botocore.config", "botocore.exceptions"),
    # Opening a pyiceberg catalog loads its FileIO (pyarrow, numpy) too.
    "catalog.sql": ("sqlalchemy", "pyiceberg.catalog.sql", "pyiceberg.io.pyarrow", "psycopg2.extras",
                    "floe.lakehouse.properties"),
    "postgres.dagster": ("psycopg2",),
    "postgres.serving": ("psycopg2",),
}


def _duckdb_extensions(target: PreflightTarget) -> list[str]:
    """The extensions a run of this pipeline loads into DuckDB: the declared ones, those ingestion reads with."""
    compute = target.environment.compute
    if not isinstance(compute, DuckDBCompute):
        return []
    wanted = compute.extensions_to_load()
    if target.ingests:
        from floe.targets.duckdb import EXTENSIONS

        local = isinstance(target.environment.storage, LocalStorage)
        wanted += [name for name in EXTENSIONS if not (local and name == "httpfs") and name not in wanted]
    return wanted


def _catalog_check(env: EnvironmentSpec) -> Check:
    catalog, storage = env.catalog, env.storage
    target = catalog_target(catalog)
    if isinstance(catalog, SqlCatalog):
        return Check("catalog", "catalog.sql", target, lambda ctx: sql_catalog(catalog, storage, ctx))
    return Check("catalog", "catalog.rest", target, lambda ctx: rest_catalog(catalog, ctx))


def _serving_check(env: EnvironmentSpec) -> Check:
    serving = env.serving
    assert serving is not None
    target = f"postgresql://{serving.user}@{serving.host}:{serving.port}/{serving.database} (schema {serving.schema_})"
    return Check("postgres", "postgres.serving", target, lambda ctx: serving_database(serving, ctx))


def _orchestrator_check(env: EnvironmentSpec, *, migration_follows: bool) -> Check:
    storage = env.orchestrator.storage
    if isinstance(storage, PostgresOrchestratorStorage):
        target = f"postgresql://{storage.user}@{storage.host}:{storage.port}/{storage.database}"
        return Check("postgres", "postgres.dagster", target,
                     lambda ctx: dagster_storage(storage, ctx, migration_follows=migration_follows))
    return Check("postgres", "postgres.dagster", f"sqlite {storage.path}", skipped(
        f"Dagster keeps its state in SQLite under {storage.path}; no PostgreSQL is configured"))
