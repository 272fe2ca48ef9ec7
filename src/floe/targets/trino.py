"""Trino through dbt-trino."""

from __future__ import annotations

from typing import Any

from floe.spec.platform import TrinoCompute

ADAPTER_MODULE = "dbt.adapters.trino"
EXTRA: str | None = "trino"


def profile_output(compute: TrinoCompute) -> dict[str, Any]:
    """dbt-trino profile output; a password switches authentication to LDAP."""
    output: dict[str, Any] = {
        "type": "trino",
        "method": "ldap" if compute.password else "none",
        "host": compute.host,
        "port": compute.port,
        "user": compute.user,
        "database": compute.database,
        "schema": compute.schema_,
        "http_scheme": compute.http_scheme,
        "threads": compute.threads,
    }
    if compute.password:
        output["password"] = compute.password.dbt_reference()
    return output
