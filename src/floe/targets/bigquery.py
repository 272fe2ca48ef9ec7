"""Google BigQuery through dbt-bigquery."""

from __future__ import annotations

from typing import Any

from floe.spec.platform import BigQueryCompute

ADAPTER_MODULE = "dbt.adapters.bigquery"
EXTRA: str | None = "bigquery"


def profile_output(compute: BigQueryCompute) -> dict[str, Any]:
    """dbt-bigquery profile output: application-default OAuth or a service-account key file."""
    output: dict[str, Any] = {
        "type": "bigquery",
        "method": compute.method,
        "project": compute.project,
        "dataset": compute.dataset,
        "threads": compute.threads,
    }
    if compute.keyfile:
        output["keyfile"] = compute.keyfile.dbt_reference()
    for key in OPTIONAL_KEYS:
        value = getattr(compute, key)
        if value is not None:
            output[key] = value
    return output


# dbt-bigquery profile keys written only when set (dbt's defaults apply otherwise).
OPTIONAL_KEYS = ("location", "execution_project", "impersonate_service_account", "priority",
                 "job_execution_timeout_seconds", "job_retries", "maximum_bytes_billed")
