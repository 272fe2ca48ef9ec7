"""Observability: the OTLP trace endpoint and the OpenLineage endpoint answer, with their credentials.

Each probe is harmless: an empty OTLP export (no spans) and an empty JSON object to the
lineage endpoint, which a real server rejects as invalid (400/422) and so proves it is there
and accepted the credentials, without recording anything.
"""

from __future__ import annotations

import socket
from importlib import import_module
from urllib.parse import urlsplit

from floe.preflight.failures import network_failure
from floe.preflight.framework import Check, CheckContext, CheckFailed, Outcome, skipped, writable_directory
from floe.preflight.http import request, status_failure
from floe.spec.observability import FileLineage, FileTracing, HttpLineage, OtlpTracing, PlatformObservability

FIELD_TRACING = "observability.tracing"
FIELD_LINEAGE = "observability.lineage"
# gRPC status codes (grpc.StatusCode names) and what they mean for an OTLP endpoint.
_GRPC_MEANINGS = {
    "UNAUTHENTICATED": ("the OTLP endpoint rejected the credentials (UNAUTHENTICATED)",
                        f"check the secrets of {FIELD_TRACING}.headers (e.g. authorization)"),
    "PERMISSION_DENIED": ("the OTLP endpoint refused access (PERMISSION_DENIED)",
                          f"grant the key in {FIELD_TRACING}.headers permission to write traces"),
    "UNIMPLEMENTED": ("the endpoint speaks gRPC but has no OTLP trace service",
                      f"point {FIELD_TRACING}.endpoint at a collector's OTLP gRPC port (usually 4317)"),
}


def observability_checks(platform: PlatformObservability, *, tracing_on: bool, lineage_on: bool) -> list[Check]:
    """One check for traces and one for lineage, as the platform configures them."""
    return [_tracing_check(platform, tracing_on), _lineage_check(platform, lineage_on)]


def _tracing_check(platform: PlatformObservability, enabled: bool) -> Check:
    tracing = platform.tracing
    name = "observability.tracing"
    if not enabled:
        return Check("observability", name, tracing.type, skipped("tracing is switched off in floe.yaml"))
    if isinstance(tracing, OtlpTracing):
        target = f"otlp/{tracing.protocol} {tracing.endpoint}"
        probe = _otlp_grpc if tracing.protocol == "grpc" else _otlp_http
        return Check("observability", name, target, lambda ctx: probe(tracing, ctx))
    if isinstance(tracing, FileTracing):
        return Check("observability", name, f"file {tracing.path}", lambda ctx: Outcome(
            "trace file: " + writable_directory(ctx.resolve_path(tracing.path).parent, f"{FIELD_TRACING}.path")))
    if tracing.type == "console":
        return Check("observability", name, "console", lambda ctx: Outcome("traces go to the console"))
    return Check("observability", name, "none", skipped("no trace exporter is configured"))


def _lineage_check(platform: PlatformObservability, enabled: bool) -> Check:
    lineage = platform.lineage
    name = "observability.lineage"
    if not enabled:
        return Check("observability", name, lineage.type, skipped("lineage is switched off in floe.yaml"))
    if isinstance(lineage, HttpLineage):
        url = f"{lineage.url.rstrip('/')}/{lineage.endpoint.lstrip('/')}"
        return Check("observability", name, f"http {url}", lambda ctx: _lineage_http(lineage, url, ctx))
    if isinstance(lineage, FileLineage):
        return Check("observability", name, f"file {lineage.path}", lambda ctx: Outcome(
            "lineage file: " + writable_directory(ctx.resolve_path(lineage.path).parent, f"{FIELD_LINEAGE}.path")))
    if lineage.type == "console":
        return Check("observability", name, "console", lambda ctx: Outcome("lineage events go to the console"))
    return Check("observability", name, "none", skipped("no lineage transport is configured"))


def _headers(tracing: OtlpTracing, context: CheckContext) -> dict[str, str]:
    return {name.lower(): context.secrets.get(ref, f"{FIELD_TRACING}.headers.{name}") or ""
            for name, ref in tracing.headers.items()}


def _otlp_http(tracing: OtlpTracing, context: CheckContext) -> Outcome:
    from floe.observability._otel_config import http_traces_url

    url = http_traces_url(tracing.endpoint)
    headers = {"Content-Type": "application/x-protobuf", **_headers(tracing, context)}
    answer = request("POST", url, headers=headers, body=b"", context=context,
                     what="the OTLP endpoint", field=f"{FIELD_TRACING}.endpoint")
    if answer.status != 200:
        raise status_failure(answer, what="the OTLP endpoint", url=url, field=f"{FIELD_TRACING}.endpoint",
                             credential=f"{FIELD_TRACING}.headers")
    return Outcome(f"{url} accepted an empty trace export")


def _otlp_grpc(tracing: OtlpTracing, context: CheckContext) -> Outcome:
    parts = urlsplit(tracing.endpoint)
    host, port = parts.hostname or "", parts.port or 4317
    _tcp_reachable(host, port, context, "the OTLP endpoint", f"{FIELD_TRACING}.endpoint")
    grpc = import_module("grpc")  # grpcio ships no type stubs
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

    stubs = import_module("opentelemetry.proto.collector.trace.v1.trace_service_pb2_grpc")  # untyped

    insecure = tracing.insecure and parts.scheme != "https"
    target = f"{host}:{port}"
    channel = grpc.insecure_channel(target) if insecure else grpc.secure_channel(target, grpc.ssl_channel_credentials())
    try:
        stub = stubs.TraceServiceStub(channel)
        stub.Export(trace_service_pb2.ExportTraceServiceRequest(), timeout=context.remaining(),
                    metadata=list(_headers(tracing, context).items()))
    except grpc.RpcError as exc:
        code = exc.code().name if exc.code() is not None else "UNKNOWN"
        if code in _GRPC_MEANINGS:
            message, remediation = _GRPC_MEANINGS[code]
            raise CheckFailed(message, remediation) from None
        if code == "DEADLINE_EXCEEDED":
            raise CheckFailed(f"the OTLP endpoint {target} did not answer within {context.timeout_s:g}s",
                              "check the collector's health, or allow more time with --timeout") from None
        if code == "UNAVAILABLE":
            tls = "TLS" if not insecure else "plain text"
            raise CheckFailed(f"{target} accepts connections but not gRPC over {tls} ({exc.details()})",
                              f"check {FIELD_TRACING}.insecure (plain text) and the endpoint's scheme and "
                              "port") from None
        raise CheckFailed(f"the OTLP endpoint answered {code}: {exc.details()}",
                          f"check {FIELD_TRACING}") from None
    finally:
        channel.close()
    return Outcome(f"{target} accepted an empty trace export over gRPC ({'plain text' if insecure else 'TLS'})")


def _tcp_reachable(host: str, port: int, context: CheckContext, what: str, field: str) -> None:
    try:
        socket.create_connection((host, port), timeout=context.remaining()).close()
    except OSError as exc:
        raise (network_failure(exc, what=what, host=host, port=port, timeout_s=context.timeout_s, field=field)
               or CheckFailed(f"cannot connect to {host}:{port}: {exc}", f"check {field}")) from None


def _lineage_http(lineage: HttpLineage, url: str, context: CheckContext) -> Outcome:
    headers = {"Content-Type": "application/json"}
    key = context.secrets.get(lineage.api_key, f"{FIELD_LINEAGE}.api_key")
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    answer = request("POST", url, headers=headers, body=b"{}", context=context,
                     what="the OpenLineage endpoint", field=f"{FIELD_LINEAGE}.url")
    if answer.status < 300 or answer.status in {400, 422}:
        return Outcome(f"{url} answers (HTTP {answer.status} to an empty probe event)",
                       details={"http_status": answer.status})
    raise status_failure(answer, what="the OpenLineage endpoint", url=url, field=f"{FIELD_LINEAGE}.url and .endpoint",
                         credential=f"{FIELD_LINEAGE}.api_key")
