"""Trino through dbt-trino."""

from __future__ import annotations

from typing import Any

from floe.spec.platform import TrinoCompute
from floe.spec.secrets import SecretRef

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
    if compute.session_properties:
        output["session_properties"] = {
            name: value.dbt_reference() if isinstance(value, SecretRef) else value
            for name, value in compute.session_properties.items()
        }
    for key in ("roles", "client_tags"):
        if getattr(compute, key):
            output[key] = getattr(compute, key)
    for key in ("timezone", "cert", "retries"):
        if getattr(compute, key) is not None:
            output[key] = getattr(compute, key)
    return output
