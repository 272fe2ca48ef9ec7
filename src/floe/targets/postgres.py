"""PostgreSQL through dbt-postgres."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from floe.spec.platform import PostgresCompute

ADAPTER_MODULE = "dbt.adapters.postgres"
EXTRA: str | None = "postgres"


def profile_output(compute: PostgresCompute) -> dict[str, Any]:
    """dbt-postgres profile output; a server without a password (trust auth) gets ''."""
    output: dict[str, Any] = {
        "type": "postgres",
        "host": compute.host,
        "port": compute.port,
        "user": compute.user,
        "password": compute.password.dbt_reference() if compute.password else "",
        "dbname": compute.database,
        "schema": compute.schema_,
        "threads": compute.threads,
    }
    for key in OPTIONAL_KEYS:
        value = getattr(compute, key)
        if value is not None:
            output[key] = value
    return output


# dbt-postgres profile keys written only when set (dbt's defaults apply otherwise).
OPTIONAL_KEYS = ("sslmode", "sslrootcert", "role", "search_path", "connect_timeout", "keepalives_idle", "retries",
                 "application_name")


def count_rows(compute: PostgresCompute, project_root: Path, relations: list[str]) -> dict[str, int]:
    """Count rows of dbt relations (already quoted by dbt) on the server."""
    import psycopg2

    from floe.spec.secrets import resolve_secrets
    from floe.targets.row_counts import count_relations

    password = ""
    if compute.password is not None:
        password = resolve_secrets([compute.password.secret_ref])[compute.password.secret_ref]
    connection = psycopg2.connect(host=compute.host, port=compute.port, user=compute.user,
                                  password=password, dbname=compute.database, connect_timeout=10,
                                  sslmode=compute.sslmode or "prefer")
    # A failed statement must not abort the ones after it (see count_relations).
    connection.autocommit = True
    try:
        with connection.cursor() as cursor:

            def execute(sql: str) -> list[tuple[Any, ...]]:
                cursor.execute(sql)
                return cursor.fetchall()

            return count_relations(execute, relations)
    finally:
        connection.close()
