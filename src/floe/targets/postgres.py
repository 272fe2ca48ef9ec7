"""PostgreSQL through dbt-postgres."""

from __future__ import annotations

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
    if compute.sslmode:
        output["sslmode"] = compute.sslmode
    return output
