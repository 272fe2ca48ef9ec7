"""Compute: connect to the target dbt builds in and run ``SELECT 1`` with the real credentials."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import import_module
from pathlib import Path
from typing import Any

from floe.preflight.checks.pg import PgAddress, connect, server_version
from floe.preflight.failures import network_failure
from floe.preflight.framework import Check, CheckContext, CheckFailed, Outcome, writable_directory
from floe.spec.platform import (
    BigQueryCompute,
    Compute,
    DuckDBCompute,
    PostgresCompute,
    SnowflakeCompute,
    TrinoCompute,
)

FIELD = "compute"


def compute_check(compute: Compute, *, extensions: Sequence[str]) -> Check:
    """The check of the environment's compute target.

    Args:
        compute: The compute block.
        extensions: DuckDB extensions the runs load (iceberg for ingestion, httpfs for object
            storage); ignored by other targets.
    """
    if isinstance(compute, DuckDBCompute):
        return Check("compute", "compute.duckdb", compute.path, lambda ctx: _duckdb(compute, extensions, ctx))
    if isinstance(compute, PostgresCompute):
        address = f"postgresql://{compute.user}@{compute.host}:{compute.port}/{compute.database}"
        return Check("compute", "compute.postgres", address, lambda ctx: _postgres(compute, ctx))
    if isinstance(compute, TrinoCompute):
        target = f"{compute.http_scheme}://{compute.host}:{compute.port} ({compute.database}.{compute.schema_})"
        return Check("compute", "compute.trino", target, lambda ctx: _trino(compute, ctx))
    if isinstance(compute, SnowflakeCompute):
        target = f"snowflake://{compute.account} ({compute.database}.{compute.schema_}, warehouse {compute.warehouse})"
        return Check("compute", "compute.snowflake", target, lambda ctx: _snowflake(compute, ctx))
    target = f"bigquery://{compute.project}/{compute.dataset}"
    return Check("compute", "compute.bigquery", target, lambda ctx: _bigquery(compute, ctx))


def _duckdb(compute: DuckDBCompute, extensions: Sequence[str], context: CheckContext) -> Outcome:
    import duckdb

    from floe.targets.duckdb import warehouse_path

    path = warehouse_path(compute, context.project_root)
    folder = writable_directory(path.parent, f"{FIELD}.path")
    details: dict[str, Any] = {"duckdb_version": duckdb.__version__, "path": str(path)}
    caveat = None
    try:
        connection = duckdb.connect(str(path), read_only=True) if path.is_file() else duckdb.connect()
    except duckdb.IOException as exc:
        if "lock" not in str(exc).lower():
            raise CheckFailed(f"cannot open {path}: {str(exc).splitlines()[0]}",
                              "the file is not a DuckDB database of this version, or is damaged: move it "
                              f"away (floe rebuilds it) or point {FIELD}.path elsewhere") from None
        caveat = f"{path} is in use by another process (a run or floe dev); checked with an in-memory database"
        connection = duckdb.connect()
    try:
        connection.execute("SELECT 1").fetchone()
        if extensions:
            _load_extensions(connection, extensions)
            details["extensions"] = ", ".join(extensions)
        _apply_settings(connection, compute, context)
        _attach_databases(connection, compute, context)
    finally:
        connection.close()
    loaded = f"; extensions {', '.join(extensions)} load" if extensions else ""
    if caveat:
        return Outcome(f"{caveat}{loaded}", status="warning", details=details,
                       remediation="run preflight again when the run has finished to open the file itself")
    return Outcome(f"SELECT 1 works; {folder}{loaded}", details=details)


def _apply_settings(connection: Any, compute: DuckDBCompute, context: CheckContext) -> None:
    """SET each setting as dbt's sessions will: a name DuckDB does not know fails here, not mid-run."""
    from floe.spec.secrets import SecretRef

    for name, value in compute.effective_settings().items():
        field = f"{FIELD}.settings.{name}" if name in compute.settings else f"{FIELD}.{name}"
        if isinstance(value, SecretRef):
            value = context.secrets.get(value, field)
        try:
            connection.execute(f"SET {name} = '" + str(value).replace("'", "''") + "'")
        except Exception as exc:  # noqa: BLE001 - duckdb raises its own error classes
            raise CheckFailed(f"DuckDB refuses {field}: {str(exc).splitlines()[0]}",
                              f"fix or remove {field} in platform.yaml (a setting of an extension needs "
                              "that extension in compute.extensions)") from None


def _attach_databases(connection: Any, compute: DuckDBCompute, context: CheckContext) -> None:
    """ATTACH each DuckDB file read-only: a missing file dbt may not create, a damaged one, fail here."""
    for index, attachment in enumerate(compute.attach):
        if attachment.type != "duckdb" or "://" in attachment.path or ":" in attachment.path.split("/", 1)[0]:
            continue
        path = Path(attachment.path) if Path(attachment.path).is_absolute() else context.project_root / attachment.path
        if not path.is_file():
            if attachment.read_only:
                raise CheckFailed(f"{FIELD}.attach[{index}]: {path} does not exist and is attached read-only",
                                  "create the database first, or point path at an existing file")
            continue
        try:
            connection.execute("ATTACH '" + str(path).replace("'", "''") + "' AS floe_preflight_attach (READ_ONLY)")
            connection.execute("DETACH floe_preflight_attach")
        except Exception as exc:  # noqa: BLE001 - duckdb raises its own error classes
            if "lock" in str(exc).lower():
                continue  # in use by a run: dbt will wait for it as for the main file
            raise CheckFailed(f"{FIELD}.attach[{index}]: cannot open {path}: {str(exc).splitlines()[0]}",
                              "the file is not a DuckDB database of this version, or is damaged") from None


def _load_extensions(connection: Any, names: Sequence[str]) -> None:
    """LOAD each extension straight from its wheel's file: proves it loads here, installs nothing."""
    from floe.spec.duckdb_extensions import is_built_in
    from floe.targets.duckdb import extension_file

    row = connection.execute("PRAGMA version").fetchone()
    version = str(row[0]) if row else ""
    pin = version.lstrip("v")
    for name in names:
        if is_built_in(name):
            connection.execute(f'LOAD "{name}"')
            continue
        binary = extension_file(name, version)
        if binary is None:
            raise CheckFailed(f"the DuckDB extension '{name}' for DuckDB {version} is not installed",
                              f'pip install "duckdb-extension-{name}=={pin}" (it must match duckdb=={pin})')
        try:
            connection.execute("LOAD '" + str(binary).replace("'", "''") + "'")
        except Exception as exc:  # noqa: BLE001 - duckdb raises its own error classes
            raise CheckFailed(f"the DuckDB extension '{name}' does not load: {str(exc).splitlines()[0]}",
                              f'reinstall "duckdb-extension-{name}=={pin}" to match duckdb=={pin}') from None


def _postgres(compute: PostgresCompute, context: CheckContext) -> Outcome:
    connection = connect(PgAddress.of(compute, context, FIELD), context, "PostgreSQL (compute)")
    try:
        version = server_version(connection)
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.execute(
                "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s) "
                "THEN has_schema_privilege(%s, 'CREATE') ELSE has_database_privilege(current_database(), "
                "'CREATE') END",
                (compute.schema_, compute.schema_),
            )
            row = cursor.fetchone()
    finally:
        connection.close()
    details: dict[str, Any] = {"server_version": version}
    if not (row and row[0]):
        return Outcome(f"connected (PostgreSQL {version}), but '{compute.user}' cannot create tables in "
                       f"schema '{compute.schema_}'", status="warning", details=details,
                       remediation=f"GRANT CREATE ON SCHEMA {compute.schema_} TO {compute.user} (or on the "
                       "database, for a schema dbt creates)")
    return Outcome(f"SELECT 1 works (PostgreSQL {version}); '{compute.user}' can build in "
                   f"schema '{compute.schema_}'", details=details)


def _client(module: str, what: str, extra: str) -> Any:
    """The client library of an optional extra (they ship no type stubs, hence Any)."""
    try:
        return import_module(module)
    except ModuleNotFoundError:
        raise CheckFailed(f"the {what} client is not installed, so the {what} target cannot be checked (or run)",
                          f"pip install 'floe-runtime[{extra}]'") from None


def _trino(compute: TrinoCompute, context: CheckContext) -> Outcome:
    dbapi = _client("trino.dbapi", "Trino", "trino")
    auth_module = _client("trino.auth", "Trino", "trino")
    password = context.secrets.get(compute.password, f"{FIELD}.password")
    auth = auth_module.BasicAuthentication(compute.user, password) if password is not None else None
    try:
        connection = dbapi.connect(
            host=compute.host, port=compute.port, user=compute.user, catalog=compute.database,
            schema=compute.schema_, http_scheme=compute.http_scheme, auth=auth,
            request_timeout=context.remaining(), max_attempts=1,
        )
        cursor = connection.cursor()
        cursor.execute("SELECT 1")
        cursor.fetchall()
        cursor.execute("SELECT node_version FROM system.runtime.nodes LIMIT 1")
        row = cursor.fetchone()
        connection.close()
    except Exception as exc:  # noqa: BLE001 - the client wraps requests' and its own errors
        raise _client_failure(exc, "Trino", compute.host, compute.port, context) from None
    version = str(row[0]) if row else "unknown"
    return Outcome(f"SELECT 1 works (Trino {version})", details={"server_version": version})


def _snowflake(compute: SnowflakeCompute, context: CheckContext) -> Outcome:
    snowflake_connector = _client("snowflake.connector", "Snowflake", "snowflake")
    kwargs: dict[str, Any] = {
        "account": compute.account, "user": compute.user, "warehouse": compute.warehouse,
        "database": compute.database, "schema": compute.schema_, "role": compute.role,
        "login_timeout": context.remaining(), "network_timeout": context.remaining(),
    }
    password = context.secrets.get(compute.password, f"{FIELD}.password")
    if password is not None:
        kwargs["password"] = password
    key = context.secrets.get(compute.private_key, f"{FIELD}.private_key")
    if key is not None:
        from cryptography.hazmat.primitives import serialization

        kwargs["private_key"] = serialization.load_pem_private_key(key.encode(), password=None)
    try:
        with snowflake_connector.connect(**kwargs) as connection, connection.cursor() as cursor:
            row = cursor.execute("SELECT CURRENT_VERSION()").fetchone()
    except Exception as exc:  # noqa: BLE001 - the connector has its own error tree
        raise _client_failure(exc, "Snowflake", f"{compute.account}.snowflakecomputing.com", 443,
                              context) from None
    version = str(row[0]) if row else "unknown"
    return Outcome(f"SELECT works (Snowflake {version})", details={"server_version": version})


def _bigquery(compute: BigQueryCompute, context: CheckContext) -> Outcome:
    bigquery = _client("google.cloud.bigquery", "BigQuery", "bigquery")
    credentials = None
    keyfile = context.secrets.get(compute.keyfile, f"{FIELD}.keyfile")
    if keyfile is not None:
        service_account = import_module("google.oauth2.service_account")
        credentials = service_account.Credentials.from_service_account_file(keyfile)
    try:
        client = bigquery.Client(project=compute.project, credentials=credentials, location=compute.location)
        rows = list(client.query("SELECT 1").result(timeout=context.remaining()))
        client.get_dataset(compute.dataset, timeout=context.remaining())
    except Exception as exc:  # noqa: BLE001 - google-api-core has its own error tree
        raise _client_failure(exc, "BigQuery", "bigquery.googleapis.com", 443, context) from None
    return Outcome(f"SELECT 1 works; dataset '{compute.dataset}' exists", details={"rows": len(rows)})


def _client_failure(exc: Exception, what: str, host: str, port: int, context: CheckContext) -> CheckFailed:
    network = network_failure(exc, what=what, host=host, port=port, timeout_s=context.timeout_s, field=FIELD)
    if network is not None:
        return network
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if "401" in lowered or "authentic" in lowered or "password" in lowered:
        return CheckFailed(f"{what} rejected the credentials: {text}", f"check the credentials in {FIELD}")
    if "403" in lowered or "permission" in lowered or "denied" in lowered:
        return CheckFailed(f"{what} refused access: {text}", f"grant the configured user access ({FIELD})")
    return CheckFailed(f"{what} check failed: {text}", f"check {FIELD} in platform.yaml")
