"""Before Dagster opens its storage: the SQLite folder is a folder, the PostgreSQL server answers.

Dagster reports neither well. A file where the SQLite folder goes ends in a bare
``FileExistsError``; an unreachable PostgreSQL is retried for many seconds and then surfaces as
a SQLAlchemy traceback. Both are the user's to fix, so they are checked first and reported the
way ``floe preflight`` reports them (its own connection code and failure classification), with
a short connect timeout: a run on a dead server fails in seconds.
"""

from __future__ import annotations

from pathlib import Path

from floe.contract.project import CompiledProject
from floe.errors import FloeError, PreflightError
from floe.spec.platform import PostgresOrchestratorStorage, SqliteOrchestratorStorage

CONNECT_TIMEOUT_S = 5.0
"""Time for the first connection to Dagster's PostgreSQL; a server that is up answers at once."""


def check_instance_storage(compiled: CompiledProject) -> None:
    """Fail with floe's message when the run's Dagster storage cannot be used.

    Raises:
        FloeError: The SQLite storage path is not a folder.
        PreflightError: Dagster's PostgreSQL does not accept a connection (refused, unknown
            host, timeout, password, database): preflight's message and remediation.
    """
    storage = compiled.artifacts.environment.orchestrator.storage
    field = f"environments.{compiled.artifacts.environment_name}.orchestrator.storage"
    if isinstance(storage, SqliteOrchestratorStorage):
        home = compiled.resolve(storage.path)
        if home.exists() and not home.is_dir():
            raise FloeError(f"platform.yaml {field}.path: '{storage.path}' ({home}) is a file; Dagster keeps "
                            "its SQLite storage in a folder there",
                            hint="give a folder (the default is .floe/dagster) and compile again, or move the "
                                 "file away")
    elif isinstance(storage, PostgresOrchestratorStorage):
        check_postgres_storage(storage, compiled.artifacts.environment_name, compiled.root)


def check_postgres_storage(storage: PostgresOrchestratorStorage, environment: str, root: Path) -> None:
    """Connect once, within :data:`CONNECT_TIMEOUT_S`, as ``floe preflight`` does.

    Raises:
        PreflightError: With preflight's message and remediation for the failure.
    """
    from floe.preflight.checks.orchestrator import FIELD
    from floe.preflight.checks.pg import PgAddress, connect
    from floe.preflight.framework import CheckContext, CheckFailed, SecretBook

    context = CheckContext(project_root=root, timeout_s=CONNECT_TIMEOUT_S, secrets=SecretBook())
    try:
        connect(PgAddress.of(storage, context, FIELD), context, "Dagster's PostgreSQL").close()
    except CheckFailed as failed:
        raise PreflightError(f"{failed.message} (orchestrator storage of environment '{environment}')",
                             hint=failed.remediation) from None
