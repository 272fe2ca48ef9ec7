"""The metrics exporter in the floe-dagster chart: what the ServiceMonitor selects exists, the
exporter reads the instance the official chart creates, and the alerts query exported series.

Rendered with the official dagster chart's reference copy inside (the instance ConfigMap and
the daemon's password wiring come from it), alone and inside the floe-runtime umbrella.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from floe.observability.metrics.collector import EXPORTED_SERIES
from floe.platform.helm.dagster_values import Monitoring
from tests.charts.helm_support import (
    build_charts,
    deep_merge,
    env_values,
    find,
    helm,
    pod_specs,
    release_values,
    render,
    require_official_chart,
)
from tests.charts.test_render import CRD_SCHEMAS, K8S_VERSIONS, _crd_validator, kubernetes_validate


@pytest.fixture(scope="module")
def official_charts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_official_chart()
    return build_charts(tmp_path_factory.mktemp("metrics-charts") / "charts", with_official_chart=True)


def _release(charts: Path, chart: str = "floe-dagster", release: str = "shop", **override: Any) -> list[dict[str, Any]]:
    return render(chart, deep_merge(release_values(chart, "prod"), override), charts, release=release)


def _exporter_objects(documents: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    return (find(documents, "ServiceMonitor"), find(documents, "Service", "-floe-metrics"),
            find(documents, "Deployment", "-floe-metrics"))


def _assert_wired(documents: list[dict[str, Any]]) -> None:
    """ServiceMonitor -> Service -> exporter pod, and the pod -> the official chart's instance."""
    monitor, service, deployment = _exporter_objects(documents)
    selector = monitor["spec"]["selector"]["matchLabels"]
    assert selector.items() <= service["metadata"]["labels"].items()
    endpoint = monitor["spec"]["endpoints"][0]
    ports = {port["name"]: port for port in service["spec"]["ports"]}
    assert endpoint["port"] in ports
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()

    pod = pod_specs(deployment)[0]
    container = pod["containers"][0]
    assert container["command"][:3] == ["floe", "metrics", "serve"]
    named = {port["name"]: port["containerPort"] for port in container["ports"]}
    assert named[ports[endpoint["port"]]["targetPort"]] == ports[endpoint["port"]]["port"]
    assert container["readinessProbe"]["httpGet"] == {"path": endpoint["path"], "port": endpoint["port"]}
    assert container["livenessProbe"]["httpGet"]["path"] == "/metrics"

    # The instance: a ConfigMap of this very render, mounted as $DAGSTER_HOME/dagster.yaml.
    volumes = {volume["name"]: volume for volume in pod["volumes"]}
    mounted = volumes["dagster-instance"]["configMap"]["name"]
    instance_map = find(documents, "ConfigMap", mounted)
    instance = yaml.safe_load(instance_map["data"]["dagster.yaml"])
    for storage in ("run_storage", "event_log_storage", "schedule_storage"):
        assert instance[storage]["config"]["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    env = {item["name"]: item for item in container["env"]}
    mount = next(m for m in container["volumeMounts"] if m["name"] == "dagster-instance")
    assert mount["mountPath"] == f"{env['DAGSTER_HOME']['value']}/dagster.yaml" and mount["subPath"] == "dagster.yaml"

    # The password exactly as the official daemon gets it.
    daemon = pod_specs(find(documents, "Deployment", "-daemon"))[0]["containers"][0]
    daemon_password = next(item for item in daemon["env"] if item["name"] == "DAGSTER_PG_PASSWORD")
    assert env["DAGSTER_PG_PASSWORD"] == daemon_password
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"]["key"] == "postgresql-password"

    security = container["securityContext"]
    assert security["runAsNonRoot"] and security["runAsUser"] == 1000 and security["readOnlyRootFilesystem"]
    assert security["capabilities"]["drop"] == ["ALL"] and not security["allowPrivilegeEscalation"]
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    assert container["resources"]["limits"]["memory"] and container["resources"]["requests"]["cpu"]


def test_the_service_monitor_selects_the_exporter_that_reads_the_instance(official_charts):
    documents = _release(official_charts)
    _assert_wired(documents)
    assert pod_specs(find(documents, "Deployment", "-floe-metrics"))[0]["volumes"][0]["configMap"]["name"] == \
        "shop-dagster-instance"


@pytest.mark.parametrize(("release", "override", "instance_map", "secret"), [
    ("shop", {}, "shop-dagster-instance", "floe-dagster-postgresql"),
    # The official chart shortens its fullname to the release name when that contains "dagster".
    ("dagster-prod", {}, "dagster-prod-instance", "floe-dagster-postgresql"),
    # Helm's shared globals reach the official chart and floe-dagster alike.
    ("shop", {"global": {"fullnameOverride": "orchestra"}}, "orchestra-instance", "floe-dagster-postgresql"),
    # The Secret's name is floe's postgresql block, set beside the official chart's (as render does).
    ("shop", {"dagster": {"global": {"postgresqlSecretName": "shop-pg"}},
              "floe-dagster": {"postgresql": {"secretName": "shop-pg"}}}, "shop-dagster-instance", "shop-pg"),
])
def test_inside_the_umbrella_the_names_follow_the_official_chart(official_charts, release, override, instance_map,
                                                                   secret):
    documents = _release(official_charts, "floe-runtime", release, **override)
    _assert_wired(documents)
    pod = pod_specs(find(documents, "Deployment", "-floe-metrics"))[0]
    assert pod["volumes"][0]["configMap"]["name"] == instance_map
    env = {item["name"]: item for item in pod["containers"][0]["env"]}
    assert env["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == secret


def test_selector_port_and_config_map_values_are_honoured(official_charts):
    documents = _release(official_charts, monitoring={
        "serviceMonitor": {"selector": {"team": "data"}, "port": "prom"},
        "exporter": {"port": 9400, "instanceConfigMap": "my-instance"},
    })
    monitor, service, deployment = _exporter_objects(documents)
    selector = monitor["spec"]["selector"]["matchLabels"]  # Helm merges maps: the default label stays
    assert selector["team"] == "data" and selector.items() <= service["metadata"]["labels"].items()
    assert service["spec"]["ports"] == [{"name": "prom", "port": 9400, "targetPort": "prom", "protocol": "TCP"}]
    container = pod_specs(deployment)[0]["containers"][0]
    assert container["command"][-2:] == ["--port", "9400"]
    assert pod_specs(deployment)[0]["volumes"][0]["configMap"]["name"] == "my-instance"
    off = _release(official_charts, monitoring={"exporter": {"enabled": False}, "serviceMonitor": {"enabled": False},
                                                "prometheusRule": {"enabled": False}})
    assert not [d for d in off if d["metadata"]["name"].endswith("-floe-metrics")]


def test_the_exporter_restarts_when_the_instance_values_change(official_charts):
    def checksum(**override):
        deployment = find(_release(official_charts, **override), "Deployment", "-floe-metrics")
        return deployment["spec"]["template"]["metadata"]["annotations"]["checksum/dagster-values"]

    assert checksum() == checksum()
    assert checksum() != checksum(postgresql={"host": "db.other.example.com"})


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_the_exporter_objects_validate(official_charts, version):
    documents = _release(official_charts)
    monitor, service, deployment = _exporter_objects(documents)
    for document in (service, deployment):
        kubernetes_validate.validate(document, version, strict=True)
    for document in (monitor, find(documents, "PrometheusRule")):
        key = (document["apiVersion"], document["kind"])
        assert key in CRD_SCHEMAS
        assert not [e.message for e in _crd_validator(*key).iter_errors(document)]


@pytest.mark.parametrize("switch", ["serviceMonitor", "prometheusRule"])
def test_monitoring_without_the_exporter_is_refused(charts_root, switch):
    with pytest.raises(ValidationError, match=re.escape(f"monitoring.{switch}.enabled needs monitoring.exporter")):
        Monitoring.model_validate({switch: {"enabled": True}, "exporter": {"enabled": False}})
    values = deep_merge(env_values("floe-dagster", "dev"), {"monitoring": {switch: {"enabled": True}}})
    with pytest.raises(helm.errors.HelmRenderError, match=re.escape("need monitoring.exporter.enabled: true")):
        render("floe-dagster", values, charts_root)


def _rule_expressions(charts_root: Path) -> dict[str, str]:
    rule = find(render("floe-dagster", env_values("floe-dagster", "prod"), charts_root), "PrometheusRule")
    return {r["alert"]: r["expr"] for r in rule["spec"]["groups"][0]["rules"]}


def test_every_alert_queries_series_the_exporter_serves(charts_root):
    """A renamed series on either side fails here, not silently in a cluster."""
    queried = set()
    for alert, expression in _rule_expressions(charts_root).items():
        names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\{", expression))
        assert names, f"{alert}: no series selector in {expression!r}"
        ours = {name for name in names if name.startswith("dagster_")}
        assert ours <= set(EXPORTED_SERIES), f"{alert} queries {ours - set(EXPORTED_SERIES)}, not exported"
        queried |= ours
    assert {"dagster_runs_failed_total", "dagster_runs_duration_seconds_bucket",
            "dagster_daemon_heartbeat_age_seconds", "dagster_instance_up"} <= queried
    heartbeat = _rule_expressions(charts_root)["FloeDagsterDaemonHeartbeatStale"]
    assert "by (daemon_type)" in heartbeat  # the label the exporter sets


def test_the_rule_test_would_catch_a_misspelt_series():
    assert "dagster_run_failures_total" not in EXPORTED_SERIES
    assert "dagster_runs_failed_total" in EXPORTED_SERIES


def test_helm_sdk_is_the_one_rendering(official_charts):
    # The official chart really is inside (else the instance ConfigMap checks above would be vacuous).
    with helm.Chart.load(str(official_charts / "floe-dagster")) as loaded:
        rendered = loaded.render(release_values("floe-dagster", "prod"), name="shop", namespace="data", is_install=True)
    assert any(name.endswith("configmap-instance.yaml") for name in rendered)
