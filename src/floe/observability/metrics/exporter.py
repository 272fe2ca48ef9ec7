"""Serving the collector over HTTP, and one scrape for humans (``floe metrics show``).

The instance is the one the Dagster pods use: ``DAGSTER_HOME`` with the release's
``dagster.yaml`` (PostgreSQL storage, password from ``DAGSTER_PG_PASSWORD``), exactly as
``DagsterInstance.get()`` reads it in the webserver and the daemon.
"""

from __future__ import annotations

import math
import os
import signal
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from floe.errors import FloeError, MissingExtraError
from floe.observability.metrics.collector import DagsterInstanceCollector

if TYPE_CHECKING:
    from dagster import DagsterInstance
    from prometheus_client import CollectorRegistry
    from prometheus_client.metrics_core import Metric

DEFAULT_PORT = 9090
DEFAULT_HOST = "0.0.0.0"  # an exporter in a pod listens on the pod's address


def require_prometheus_client() -> None:
    """Fail with the pip line when the ``metrics`` extra is missing."""
    try:
        import prometheus_client  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError("the metrics exporter (prometheus_client)", "metrics") from exc


def dagster_home() -> Path:
    """The instance folder from ``DAGSTER_HOME``, checked so a wrong setting is named, not traced."""
    value = os.environ.get("DAGSTER_HOME", "")
    if not value:
        raise FloeError("DAGSTER_HOME is not set: the exporter reads the Dagster instance configured there",
                        hint="export DAGSTER_HOME=<folder with dagster.yaml> (the chart mounts the release's "
                        "instance ConfigMap there)")
    home = Path(value)
    if not home.is_dir():
        raise FloeError(f"DAGSTER_HOME={value}: no such folder",
                        hint="point DAGSTER_HOME at the folder holding the instance's dagster.yaml")
    return home


def open_instance() -> DagsterInstance:
    """The Dagster instance of ``DAGSTER_HOME``; any failure to open it becomes a FloeError."""
    home = dagster_home()
    from dagster import DagsterInstance

    try:
        return DagsterInstance.get()
    except Exception as exc:  # config, driver and connection errors all mean "cannot open"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise FloeError(f"cannot open the Dagster instance of {home / 'dagster.yaml'}: {reason}",
                        hint="check its storage settings and that the database is reachable "
                        "(for PostgreSQL: host, port, DAGSTER_PG_PASSWORD)") from exc


def build_registry(collector: DagsterInstanceCollector | None = None) -> CollectorRegistry:
    """A registry holding only the instance collector (no process metrics of this exporter)."""
    require_prometheus_client()
    from prometheus_client import CollectorRegistry

    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector or DagsterInstanceCollector(open_instance))
    return registry


def serve(port: int = DEFAULT_PORT, host: str = DEFAULT_HOST) -> None:
    """Serve ``/metrics`` until SIGTERM or Ctrl-C.

    The configuration is checked before listening (a missing ``DAGSTER_HOME`` exits at once);
    an unreachable database is not fatal: scrapes answer ``dagster_instance_up 0`` and the
    instance is opened again on the next scrape, so the pod does not crash-loop while
    PostgreSQL starts.
    """
    dagster_home()
    registry = build_registry()
    from prometheus_client import start_http_server

    try:
        server, thread = start_http_server(port, addr=host, registry=registry)
    except OSError as exc:
        raise FloeError(f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                        hint="choose another --port, or stop what is using it") from exc
    stop = threading.Event()

    def _stop(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        while not stop.wait(1.0) and thread.is_alive():
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.shutdown()
        server.server_close()


class _Collected:
    """Metrics already read, in the shape prometheus_client's text writer takes."""

    def __init__(self, metrics: list[Metric]) -> None:
        self.metrics = metrics

    def collect(self) -> list[Metric]:
        return self.metrics


def scrape() -> list[Metric]:
    """One scrape of the instance; an instance that cannot be opened or read is a FloeError."""
    dagster_home()
    collector = DagsterInstanceCollector(open_instance)
    metrics = list(build_registry(collector).collect())
    error = collector.last_error
    if isinstance(error, FloeError):
        raise error
    if error is not None:
        raise FloeError(f"the Dagster instance's storage could not be read: {type(error).__name__}: {error}",
                        hint="check that the database is reachable and migrated (dagster instance migrate)")
    return metrics


def as_text(metrics: list[Metric]) -> str:
    """The Prometheus text format, exactly what ``/metrics`` serves."""
    from prometheus_client import generate_latest

    return generate_latest(_Collected(metrics)).decode("utf-8")


def as_json(metrics: list[Metric]) -> list[dict[str, Any]]:
    """Every family with its samples as plain data (+Inf as the string "+Inf": JSON has no infinity)."""
    return [
        {"name": metric.name, "type": metric.type, "help": metric.documentation,
         "samples": [{"name": sample.name, "labels": dict(sample.labels), "value": _json_number(sample.value)}
                     for sample in metric.samples]}
        for metric in metrics
    ]


def _json_number(value: float) -> float | str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value
