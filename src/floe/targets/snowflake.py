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
    for key in ("password", "private_key", "private_key_passphrase", "token"):
        secret = getattr(compute, key)
        if secret is not None:
            output[key] = secret.dbt_reference()
    for key in OPTIONAL_KEYS:
        value = getattr(compute, key)
        if value is not None:
            output[key] = value
    return output


# dbt-snowflake profile keys written only when set (dbt's defaults apply otherwise).
OPTIONAL_KEYS = ("role", "authenticator", "query_tag", "client_session_keep_alive", "connect_retries",
                 "connect_timeout")
