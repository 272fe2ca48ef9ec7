"""``observability:`` of a platform environment — where traces and lineage of every run go.

The pipeline (floe.yaml) only switches them on or off; the platform decides the
destination. Credentials (OTLP headers, the Marquez API key) are secret references.
Unreachable destinations never block a run for longer than ``timeout``: the run finishes
with one warning per destination, unless ``strict`` makes it fail instead.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, field_validator

from floe.spec.base import StrictModel
from floe.spec.durations import Duration
from floe.spec.secrets import SecretRef

_HTTP_URL = r"^https?://[^\s/]+"


class NoTracing(StrictModel):
    """No traces."""

    type: Literal["none"] = Field(description="Exporter kind.")


class ConsoleTracing(StrictModel):
    """Spans printed to standard error as they end (for debugging)."""

    type: Literal["console"] = Field(description="Exporter kind.")


class FileTracing(StrictModel):
    """Spans appended to a JSON Lines file, one span per line."""

    type: Literal["file"] = Field(description="Exporter kind.")
    path: str = Field(default=".floe/traces.jsonl", description="File, relative to the project.")


class OtlpTracing(StrictModel):
    """OpenTelemetry Protocol to a collector, Jaeger or any OTLP backend."""

    type: Literal["otlp"] = Field(description="Exporter kind.")
    endpoint: str = Field(
        pattern=_HTTP_URL,
        description="Collector URL: gRPC e.g. http://otel-collector:4317; HTTP e.g. http://otel-collector:4318 "
        "(floe appends /v1/traces).",
    )
    protocol: Literal["grpc", "http"] = Field(default="grpc", description="OTLP transport.")
    headers: dict[str, SecretRef] = Field(
        default_factory=dict, description="Headers sent with every export (e.g. authorization), as secret references."
    )
    insecure: bool = Field(
        default=False, description="gRPC without TLS (plain-text); for HTTP the URL scheme decides."
    )


Tracing = Annotated[NoTracing | ConsoleTracing | FileTracing | OtlpTracing, Field(discriminator="type")]


class NoLineage(StrictModel):
    """No lineage events."""

    type: Literal["none"] = Field(description="Transport kind.")


class ConsoleLineage(StrictModel):
    """OpenLineage events printed to standard error."""

    type: Literal["console"] = Field(description="Transport kind.")


class FileLineage(StrictModel):
    """OpenLineage events appended to a JSON Lines file (read by 'floe lineage')."""

    type: Literal["file"] = Field(description="Transport kind.")
    path: str = Field(default=".floe/lineage.jsonl", description="File, relative to the project.")


class HttpLineage(StrictModel):
    """OpenLineage events POSTed to an HTTP API such as Marquez."""

    type: Literal["http"] = Field(description="Transport kind.")
    url: str = Field(pattern=_HTTP_URL, description="Base URL, e.g. http://marquez:5000.")
    endpoint: str = Field(default="api/v1/lineage", description="Path of the lineage API under url.")
    api_key: SecretRef | None = Field(default=None, description="Bearer API key, as a secret reference.")


Lineage = Annotated[NoLineage | ConsoleLineage | FileLineage | HttpLineage, Field(discriminator="type")]


class PlatformObservability(StrictModel):
    """Where traces and lineage go; how long export may take; whether failing to export fails the run."""

    tracing: Tracing = Field(
        default_factory=lambda: NoTracing(type="none"), description="OpenTelemetry span exporter."
    )
    lineage: Lineage = Field(
        default_factory=lambda: FileLineage(type="file"),
        description="OpenLineage transport (default: a JSON Lines file under .floe).",
    )
    namespace: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="OpenLineage job namespace and OpenTelemetry service namespace [default: the pipeline name].",
    )
    timeout: Duration = Field(
        default=timedelta(seconds=5),
        description="Longest any export may delay a run (connect + send), per destination.",
    )
    strict: bool = Field(
        default=False,
        description="Fail the run when a configured destination cannot be reached, instead of warning once.",
    )

    @field_validator("timeout")
    @classmethod
    def _bounded(cls, value: timedelta) -> timedelta:
        if not timedelta(milliseconds=100) <= value <= timedelta(minutes=5):
            raise ValueError("timeout must be between 100ms and 5m")
        return value
