"""``services:`` of a platform environment: which shared services floe-platform deploys.

The platform's meta-chart (charts/floe-platform) is made of plugins; this block chooses them:
the orchestrator (Dagster), the catalog (Apache Polaris), the semantic layer (Cube), the
observability services (OTLP collector, Marquez, Jaeger, Prometheus wiring) and the namespace
guard rails (quota, limit range, network policies). ``floe platform render --chart
floe-platform`` turns the selection into the plugin switches and the wiring values.

A selection must agree with the rest of the environment, which says where the runs send their
data: the Polaris plugin needs the REST catalog pointed at the Polaris Service, the collector
needs OTLP tracing to it, Marquez needs HTTP lineage to it. A contradiction is refused when
platform.yaml is validated, at ``environments.<env>.services``, naming both places.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, ValidationInfo, model_validator

from floe.spec.base import StrictModel
from floe.spec.base import rule_error as _rule

POLARIS = ("polaris", 8181)
COLLECTOR = ("otel-collector", {"grpc": 4317, "http": 4318})
MARQUEZ = ("marquez", 5000)
POLARIS_CATALOG_PATH = "/api/catalog"


class ObservabilityServices(StrictModel):
    """The observability services of the platform namespace."""

    collector: bool = Field(default=False, description="An OTLP collector (Service otel-collector, 4317/4318).")
    marquez: bool = Field(default=False, description="Marquez, the lineage API (Service marquez, 5000) and its UI.")
    jaeger: bool = Field(default=False, description="Jaeger all-in-one; the collector exports traces to it.")
    prometheus: bool = Field(
        default=False, description="A ServiceMonitor for the collector (needs the Prometheus Operator)."
    )

    @model_validator(mode="after")
    def _through_the_collector(self) -> ObservabilityServices:
        needing = [name for name, on in (("jaeger", self.jaeger), ("prometheus", self.prometheus)) if on]
        if needing and not self.collector:
            raise _rule(f"{' and '.join(needing)} need collector: true (traces reach Jaeger and Prometheus "
                        "scrapes metrics through the collector)")
        return self

    @property
    def any(self) -> bool:
        return self.collector or self.marquez or self.jaeger or self.prometheus


class PlatformServices(StrictModel):
    """Which plugins of floe-platform this environment deploys, in which namespace."""

    namespace: str = Field(
        default="floe-platform", pattern=r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$",
        description="Namespace of the shared services; domains reach them as <service>.<namespace>.svc.cluster.local.",
    )
    orchestrator: Literal["dagster", "none"] = Field(default="dagster", description="The platform's Dagster.")
    catalog: Literal["polaris", "none"] = Field(
        default="none", description="polaris: deploy Apache Polaris (needs catalog.type rest pointed at it).",
    )
    semantic: Literal["cube", "none"] = Field(default="none", description="cube: deploy the Cube semantic layer.")
    observability: ObservabilityServices = Field(
        default_factory=ObservabilityServices, description="Collector, Marquez, Jaeger, Prometheus wiring."
    )
    guard_namespace: bool = Field(
        default=True, description="Deploy the namespace plugin: quota, limit range, default-deny network policies.",
    )

    def hosts(self, service: str) -> set[str]:
        """The names a Service of the platform namespace answers to from inside the cluster."""
        names = {f"{service}.{self.namespace}", f"{service}.{self.namespace}.svc",
                 f"{service}.{self.namespace}.svc.cluster.local"}
        return names | {service}  # the short name, from the platform namespace itself

    def polaris_uri(self) -> str:
        return f"http://{POLARIS[0]}.{self.namespace}.svc.cluster.local:{POLARIS[1]}{POLARIS_CATALOG_PATH}"

    def collector_endpoint(self, protocol: str) -> str:
        return f"http://{COLLECTOR[0]}.{self.namespace}.svc.cluster.local:{COLLECTOR[1][protocol]}"

    def marquez_url(self) -> str:
        return f"http://{MARQUEZ[0]}.{self.namespace}.svc.cluster.local:{MARQUEZ[1]}"


def _answers(url: str, hosts: set[str], port: int, path_prefix: str = "") -> bool:
    parts = urlsplit(url)
    try:
        url_port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    return (parts.scheme == "http" and parts.hostname in hosts and url_port == port
            and parts.path.rstrip("/").startswith(path_prefix))


def services_contradictions(services: PlatformServices, environment: dict[str, Any]) -> list[str]:
    """Where the selection contradicts the environment's catalog, tracing or lineage (the fields
    already validated, by name). Each entry names both places and the value that would agree."""
    problems = []
    catalog = environment.get("catalog")
    if services.catalog == "polaris" and catalog is not None:
        if getattr(catalog, "type", None) != "rest":
            problems.append(f"catalog: polaris deploys Apache Polaris, but catalog.type is '{catalog.type}'; set "
                            f"catalog.type: rest with uri: {services.polaris_uri()}, or services.catalog: none")
        elif not _answers(catalog.uri, services.hosts(POLARIS[0]), POLARIS[1], POLARIS_CATALOG_PATH):
            problems.append(f"catalog: polaris deploys Apache Polaris at {services.polaris_uri()}, but catalog.uri is "
                            f"{catalog.uri}; point catalog.uri at it, or set services.catalog: none")
    observability = environment.get("observability")
    tracing = getattr(observability, "tracing", None)
    if services.observability.collector and tracing is not None:
        if tracing.type != "otlp":
            problems.append(f"observability.collector deploys an OTLP collector, but observability.tracing.type is "
                            f"'{tracing.type}'; set type: otlp with endpoint: {services.collector_endpoint('grpc')}")
        elif not _answers(tracing.endpoint, services.hosts(COLLECTOR[0]), COLLECTOR[1][tracing.protocol]):
            problems.append(f"observability.collector deploys the collector at "
                            f"{services.collector_endpoint(tracing.protocol)} ({tracing.protocol}), but "
                            f"observability.tracing.endpoint is {tracing.endpoint}; point it there")
    lineage = getattr(observability, "lineage", None)
    if services.observability.marquez and lineage is not None:
        if lineage.type != "http":
            problems.append(f"observability.marquez deploys Marquez, but observability.lineage.type is "
                            f"'{lineage.type}'; set type: http with url: {services.marquez_url()}")
        elif not _answers(lineage.url, services.hosts(MARQUEZ[0]), MARQUEZ[1]):
            problems.append(f"observability.marquez deploys Marquez at {services.marquez_url()}, but "
                            f"observability.lineage.url is {lineage.url}; point it there")
    return problems


def _agrees_with_environment(value: PlatformServices | None, info: ValidationInfo) -> PlatformServices | None:
    # ``services`` is the environment's last field: info.data holds the catalog and observability
    # already validated (absent when they were invalid themselves, then nothing is compared).
    if value is not None:
        problems = services_contradictions(value, info.data)
        if problems:
            raise _rule("services contradict the environment: " + "; ".join(problems))
    return value


ServicesField = Annotated[PlatformServices | None, AfterValidator(_agrees_with_environment)]
"""The type of ``EnvironmentSpec.services``: null (the default) deploys floe-runtime as before."""
