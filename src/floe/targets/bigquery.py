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
    if compute.location:
        output["location"] = compute.location
    return output
