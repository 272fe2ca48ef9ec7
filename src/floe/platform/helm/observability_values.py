"""Values of ``charts/floe-observability``: OTLP collector, Marquez, Jaeger, Prometheus/Grafana wiring.

The Service names are fixed (``otel-collector``, ``marquez``, ``jaeger``), not derived from the
release, so that every domain reaches them as ``<name>.<platform namespace>.svc.cluster.local``.
"""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, model_validator

from floe.platform.helm.database_values import ChartDatabase
from floe.platform.helm.values_common import (
    ChartValues,
    HelmModel,
    Image,
    K8sName,
    PodSecurity,
    Resources,
)

COLLECTOR_SERVICE = "otel-collector"
COLLECTOR_GRPC_PORT = 4317
COLLECTOR_HTTP_PORT = 4318
MARQUEZ_SERVICE = "marquez"
MARQUEZ_PORT = 5000


class Collector(HelmModel):
    """The OpenTelemetry collector receiving floe's OTLP (gRPC 4317, HTTP 4318)."""

    enabled: bool = Field(default=True, description="Deploy the collector (Service otel-collector).")
    image: Image = Field(description="otel/opentelemetry-collector-contrib, pinned.")
    replicas: int = Field(default=1, ge=1, description="Collector pods.")
    resources: Resources = Field(description="Requests and limits.")


class MarquezDatabase(ChartDatabase):
    """Marquez' PostgreSQL: external by reference, or the StatefulSet."""

    values_path: ClassVar[str] = "marquez.database"

    name: str = Field(default="marquez", min_length=1, description="Database.")
    user: str = Field(default="marquez", min_length=1, description="Role.")


class MarquezWeb(HelmModel):
    """Marquez' lineage UI (Service marquez-web, port 3000)."""

    enabled: bool = Field(default=True, description="Deploy the UI.")
    image: Image = Field(description="marquezproject/marquez-web, same release as the API.")
    resources: Resources = Field(description="Requests and limits.")


class Marquez(HelmModel):
    """Marquez, the OpenLineage backend (Service marquez, port 5000)."""

    enabled: bool = Field(default=True, description="Deploy Marquez.")
    image: Image = Field(description="marquezproject/marquez, pinned.")
    web: MarquezWeb = Field(description="The UI.")
    resources: Resources = Field(description="Requests and limits.")
    database: MarquezDatabase = Field(description="Its PostgreSQL.")


class Jaeger(HelmModel):
    """Jaeger all-in-one, the collector's trace backend (UI 16686), spans in memory."""

    enabled: bool = Field(default=True, description="Deploy Jaeger; the collector exports traces to it.")
    image: Image = Field(description="jaegertracing/all-in-one, pinned.")
    max_traces: int = Field(default=50000, ge=1000, description="Traces kept in memory.")
    resources: Resources = Field(description="Requests and limits.")


class ServiceMonitor(HelmModel):
    """A ServiceMonitor scraping the collector's own metrics (needs the Prometheus Operator's CRDs)."""

    enabled: bool = Field(default=False, description="Render it (only with the collector on).")
    interval: str = Field(default="30s", pattern=r"^([0-9]+(ms|s|m|h))+$", description="Scrape interval.")
    labels: dict[str, str] = Field(default_factory=dict, description="Labels your Prometheus selects.")


class Prometheus(HelmModel):
    """Prometheus wiring."""

    service_monitor: ServiceMonitor = Field(default_factory=ServiceMonitor, description="ServiceMonitor.")


class Dashboard(HelmModel):
    """A Grafana dashboard ConfigMap of the collector's throughput."""

    enabled: bool = Field(default=False, description="Render it (only with the collector on).")
    labels: dict[str, str] = Field(
        default_factory=lambda: {"grafana_dashboard": "1"}, description="Labels the Grafana sidecar watches."
    )


class Grafana(HelmModel):
    """Grafana wiring."""

    dashboard: Dashboard = Field(default_factory=Dashboard, description="The dashboard ConfigMap.")


class FloeObservabilityValues(ChartValues):
    """Everything ``charts/floe-observability/values.yaml`` may hold."""

    image_pull_secrets: list[K8sName] = Field(default_factory=list, description="Secrets for private registries.")
    pod_security: PodSecurity = Field(default_factory=PodSecurity, description="User of the services' pods.")
    collector: Collector = Field(description="The OTLP collector.")
    marquez: Marquez = Field(description="Marquez.")
    jaeger: Jaeger = Field(description="Jaeger.")
    prometheus: Prometheus = Field(default_factory=Prometheus, description="Prometheus wiring.")
    grafana: Grafana = Field(default_factory=Grafana, description="Grafana wiring.")

    @model_validator(mode="after")
    def _wiring_needs_the_collector(self) -> FloeObservabilityValues:
        asked = [name for name, on in (("prometheus.serviceMonitor.enabled", self.prometheus.service_monitor.enabled),
                                       ("grafana.dashboard.enabled", self.grafana.dashboard.enabled)) if on]
        if asked and not self.collector.enabled:
            raise ValueError(f"{', '.join(asked)} needs collector.enabled: they watch the collector")
        return self
