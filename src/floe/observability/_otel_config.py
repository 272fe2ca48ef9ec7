"""From ``observability.tracing`` of platform.yaml to an OpenTelemetry span pipeline.

Standard ``OTEL_*`` variables are read from the environment floe is given (``os.environ``
unless a caller passes another mapping), where they do not contradict platform.yaml:

* ``OTEL_SDK_DISABLED=true`` switches tracing off, as it does for any OpenTelemetry SDK.
* ``OTEL_SERVICE_NAME`` replaces the service name (the pipeline name by default).
* ``OTEL_RESOURCE_ATTRIBUTES`` (``k=v,k2=v2``, percent-decoded) is merged into the resource;
  the service name, namespace and floe's own resource attributes win over it.
* ``OTEL_EXPORTER_OTLP_HEADERS`` and ``OTEL_EXPORTER_OTLP_TRACES_HEADERS`` are added to the
  OTLP headers; headers declared in platform.yaml win on the same name.
* ``OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE`` / ``OTEL_EXPORTER_OTLP_CERTIFICATE``: the CA
  bundle that verifies a TLS collector.

Not honoured, because platform.yaml declares them: the OTLP endpoint, protocol, timeout and
``insecure``; the sampler (a run is one trace, kept whole). Compression
(``OTEL_EXPORTER_OTLP_COMPRESSION``) and the batch processor's queue sizes (``OTEL_BSP_*``)
are read by the SDK itself from the process environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import import_module, metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlparse

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.util.re import parse_env_headers

from floe.errors import FloeError
from floe.observability._otel_export import (
    ConsoleJsonExporter,
    GuardedExporter,
    JsonLinesFileExporter,
    note_problem,
)
from floe.spec.observability import ConsoleTracing, FileTracing, OtlpTracing
from floe.spec.secrets import resolve_secrets

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, SpanProcessor

_TRACES_PATH = "/v1/traces"
_NEXT_STEP = "set observability.tracing.type: none"


def sdk_disabled(environ: Mapping[str, str]) -> bool:
    """Whether ``OTEL_SDK_DISABLED`` asks for no telemetry at all."""
    return environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true"


def build_resource(
    service_name: str, namespace: str, extra: Mapping[str, str] | None, environ: Mapping[str, str]
) -> Resource:
    """The resource of every span: env attributes, then floe's, then ``OTEL_SERVICE_NAME``.

    Built directly rather than with ``Resource.create``, whose detectors read ``os.environ``
    and would ignore the environment floe was given.
    """
    attributes: dict[str, str] = {}
    for item in environ.get("OTEL_RESOURCE_ATTRIBUTES", "").split(","):
        key, sep, value = item.partition("=")
        if sep and key.strip():
            attributes[unquote(key.strip())] = unquote(value.strip())
    attributes.update(
        {
            "telemetry.sdk.language": "python",
            "telemetry.sdk.name": "opentelemetry",
            "telemetry.sdk.version": metadata.version("opentelemetry-sdk"),
            "service.name": environ.get("OTEL_SERVICE_NAME") or service_name,
            "service.namespace": namespace,
        }
    )
    for key, value in (extra or {}).items():
        attributes[key] = value
    if environ.get("OTEL_SERVICE_NAME"):
        attributes["service.name"] = environ["OTEL_SERVICE_NAME"]
    return Resource(attributes)


@dataclass
class SpanPipeline:
    """A processor to register, the guard that watches its exporter, and how to word a failure."""

    processor: SpanProcessor
    guard: GuardedExporter
    destination: str
    fix: str
    config_error: str | None = None


def build_pipeline(
    spec: ConsoleTracing | FileTracing | OtlpTracing, *, project_root: Path, timeout_s: float,
    environ: Mapping[str, str],
) -> SpanPipeline:
    """The exporter for ``spec``, guarded, behind the processor that suits its cost.

    The console exporter runs synchronously (spans appear as they end; writing to stderr is
    cheap); files and OTLP are batched on the SDK's worker thread so a run never waits for
    a write or a network round trip while it works.
    """
    if isinstance(spec, ConsoleTracing):
        guard = GuardedExporter(ConsoleJsonExporter())
        return SpanPipeline(SimpleSpanProcessor(guard), guard, "standard error", _NEXT_STEP)
    if isinstance(spec, FileTracing):
        path = project_root / spec.path
        guard = GuardedExporter(JsonLinesFileExporter(path))
        return SpanPipeline(
            _batched(guard), guard, str(path), f"Fix observability.tracing.path in platform.yaml or {_NEXT_STEP}"
        )
    fix = f"Fix the endpoint in platform.yaml or {_NEXT_STEP}"
    try:
        exporter = _otlp_exporter(spec, timeout_s, environ)
    except FloeError as exc:
        guard = GuardedExporter(_Unsent(), failure=exc.message)
        return SpanPipeline(_batched(guard), guard, spec.endpoint, exc.hint or fix, config_error=exc.message)
    guard = GuardedExporter(exporter)
    return SpanPipeline(_batched(guard), guard, spec.endpoint, fix)


def _batched(exporter: SpanExporter) -> BatchSpanProcessor:
    # A run is hundreds of spans at most; a larger queue than the default 2048 keeps the
    # spans of a big dbt project from being dropped while a slow collector answers.
    return BatchSpanProcessor(exporter, max_queue_size=16384, schedule_delay_millis=2000)


class _Unsent(SpanExporter):
    """Stands in when the exporter could not be configured; the guard refuses every batch."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Never reached: the guard, created failed, refuses every batch."""
        return SpanExportResult.FAILURE


def otlp_headers(spec: OtlpTracing, environ: Mapping[str, str]) -> dict[str, str]:
    """Env headers, then the secrets of platform.yaml; names lowercased (gRPC requires it).

    Raises:
        FloeError: a secret is not set.
    """
    headers: dict[str, str] = {}
    for variable in ("OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"):
        headers.update({k.lower(): v for k, v in parse_env_headers(environ.get(variable, ""), liberal=True).items()})
    if spec.headers:
        secrets = resolve_secrets(sorted({ref.secret_ref for ref in spec.headers.values()}), environ)
        headers.update({name.lower(): secrets[ref.secret_ref] for name, ref in spec.headers.items()})
    return headers


def http_traces_url(endpoint: str) -> str:
    """The OTLP/HTTP traces URL: the endpoint with ``/v1/traces`` unless it already ends so."""
    trimmed = endpoint.rstrip("/")
    return trimmed if trimmed.endswith(_TRACES_PATH) else trimmed + _TRACES_PATH


def _otlp_exporter(spec: OtlpTracing, timeout_s: float, environ: Mapping[str, str]) -> SpanExporter:
    headers = otlp_headers(spec, environ)
    ca_file = environ.get("OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE") or environ.get("OTEL_EXPORTER_OTLP_CERTIFICATE")
    if spec.protocol == "http":
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

        return HttpExporter(
            endpoint=http_traces_url(spec.endpoint), headers=headers, timeout=timeout_s, certificate_file=ca_file,
            session=_reporting_session(),
        )
    # grpcio ships no type stubs (and pyproject's mypy overrides are not this module's to
    # change); import_module keeps the one call we need typed as Any.
    grpc = import_module("grpc")
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

    # https:// always means TLS; otherwise the declared ``insecure`` decides.
    insecure = spec.insecure and urlparse(spec.endpoint).scheme != "https"
    credentials = None
    if not insecure and ca_file:
        try:
            credentials = grpc.ssl_channel_credentials(root_certificates=Path(ca_file).read_bytes())
        except OSError as exc:
            raise FloeError(f"cannot read the CA bundle {ca_file}: {exc.strerror}") from None
    return GrpcExporter(
        endpoint=spec.endpoint, insecure=insecure, credentials=credentials, headers=headers, timeout=timeout_s
    )


def _reporting_session() -> Any:
    """A requests session that tells the guard why a request failed.

    The SDK's HTTP exporter logs a connection error only when it has time left to retry;
    otherwise it logs a generic 'timeout, max retries or shutdown' and the cause is lost.
    (``requests`` ships no type stubs, hence ``import_module`` and ``Any``.)
    """
    requests = import_module("requests")
    session = requests.Session()
    send = session.send

    def send_and_report(request: Any, **kwargs: Any) -> Any:
        try:
            return send(request, **kwargs)
        except requests.RequestException as exc:
            note_problem(str(exc))
            raise

    session.send = send_and_report
    return session


_HTTP_STATUS = re.compile(r"code: (\d{3})")
_GRPC_REJECTIONS = ("UNAUTHENTICATED", "PERMISSION_DENIED", "INVALID_ARGUMENT", "RESOURCE_EXHAUSTED",
                    "UNIMPLEMENTED", "INTERNAL")


def failure_summary(reasons: list[str], *, timed_out: bool, timeout_s: float) -> tuple[str, bool]:
    """A few words for what went wrong, and whether the destination was reachable at all.

    The SDK's messages differ by transport and version, so this looks for the well-known
    causes in all of them and falls back to the first message, shortened.
    """
    text = "\n".join(reasons).lower()
    causes = (
        (("connection refused", "econnrefused"), "connection refused"),
        (("name or service not known", "name resolution", "nodename nor servname", "dns resolution",
          "no address associated", "getaddrinfo"), "host name not found"),
        (("network is unreachable", "no route to host"), "network unreachable"),
        (("ssl", "tls", "handshake", "certificate"), "TLS handshake failed"),
        (("deadline_exceeded", "timed out", "timeout"), f"no answer within {timeout_s:g}s"),
    )
    for needles, summary in causes:
        if any(needle in text for needle in needles):
            return summary, False
    status = _HTTP_STATUS.search(text)
    if status and status.group(1) != "200":
        return f"HTTP {status.group(1)}", True
    for code in _GRPC_REJECTIONS:
        if code.lower() in text:
            return code, True
    if timed_out or not reasons:
        return f"no answer within {timeout_s:g}s", False
    first = reasons[0].strip().splitlines()[0] if reasons[0].strip() else "unknown error"
    return (first[:157] + "...") if len(first) > 160 else first, True
