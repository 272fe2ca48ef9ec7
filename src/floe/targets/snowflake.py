"""Snowflake through dbt-snowflake."""

from __future__ import annotations

from typing import Any

from floe.spec.platform import SnowflakeCompute

ADAPTER_MODULE = "dbt.adapters.snowflake"
EXTRA: str | None = "snowflake"


def profile_output(compute: SnowflakeCompute) -> dict[str, Any]:
    """dbt-snowflake profile output: password or key-pair authentication."""
    output: dict[str, Any] = {
        "type": "snowflake",
        "account": compute.account,
        "user": compute.user,
        "warehouse": compute.warehouse,
        "database": compute.database,
        "schema": compute.schema_,
        "threads": compute.threads,
    }
    if compute.role:
        output["role"] = compute.role
    if compute.password:
        output["password"] = compute.password.dbt_reference()
    if compute.private_key:
        output["private_key"] = compute.private_key.dbt_reference()
    return output
