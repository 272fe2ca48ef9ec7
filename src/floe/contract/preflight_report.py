"""What a preflight run returns: one result per check, and the report that holds them.

The report is also the document ``floe preflight --json`` prints. Its JSON Schema is
generated from these models and committed as ``schemas/preflight.v1.schema.json``; a field
added here is a new optional key, a field removed or renamed is a new ``schema_version``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from floe.spec.base import StrictModel

REPORT_SCHEMA_VERSION = 1

Status = Literal["ok", "warning", "error", "skipped"]
Service = Literal["compute", "storage", "catalog", "postgres", "observability"]

SERVICES: tuple[Service, ...] = ("compute", "storage", "catalog", "postgres", "observability")
"""Every service kind, in the order checks are reported."""

DetailValue = str | int | float | bool | None


class CheckResult(StrictModel):
    """The outcome of one check of one external service."""

    service: Service = Field(description="Service kind, as --check names it.")
    check: str = Field(description="Which check, e.g. 'compute.duckdb' or 'observability.lineage'.")
    target: str = Field(description="What was checked (host, bucket, URL or path), without credentials.")
    status: Status = Field(
        description="ok: works; warning: works, with a caveat; error: does not work; skipped: not configured "
        "or not run."
    )
    message: str = Field(description="What was found, or what failed.")
    remediation: str | None = Field(default=None, description="What to do about a warning or an error.")
    duration_s: float = Field(ge=0, description="Wall time of the check, in seconds.")
    details: dict[str, DetailValue] = Field(
        default_factory=dict, description="Facts the check learned, e.g. the server version."
    )


class Summary(StrictModel):
    """How many checks ended in each status."""

    ok: int = Field(ge=0)
    warning: int = Field(ge=0)
    error: int = Field(ge=0)
    skipped: int = Field(ge=0)


class PreflightReport(StrictModel):
    """Every check of one preflight run (the document ``floe preflight --json`` prints)."""

    schema_version: Literal[1] = Field(description="Version of this document's schema.")
    floe_version: str = Field(description="floe version that ran the checks.")
    environment: str = Field(description="Platform environment whose services were checked.")
    source: str = Field(description="Where the environment came from: the artifacts file or platform.yaml.")
    ok: bool = Field(description="True when no check ended in error (warnings do not fail preflight).")
    timeout_s: float = Field(gt=0, description="Time limit of each check, in seconds.")
    duration_s: float = Field(ge=0, description="Wall time of the whole run, in seconds.")
    summary: Summary
    checks: list[CheckResult] = Field(description="One result per check, in service order.")

    @property
    def errors(self) -> list[CheckResult]:
        """The checks that failed."""
        return [result for result in self.checks if result.status == "error"]


def summarise(results: list[CheckResult]) -> Summary:
    """Count results by status."""
    counts = {status: 0 for status in ("ok", "warning", "error", "skipped")}
    for result in results:
        counts[result.status] += 1
    return Summary(**counts)
