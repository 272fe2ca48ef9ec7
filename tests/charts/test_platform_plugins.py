"""floe-platform, the meta-chart of plugins, and each plugin chart alone.

The meta-chart renders with every combination of its five plugin switches (2^5 = 32, all of
them: a render takes a fraction of a second), the official Dagster chart inside where the
orchestrator is on; the observability chart with every combination of its own five switches;
Polaris with both database modes. Every object validates against Kubernetes 1.29 and the newest
schema, custom resources against their CRDs.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe.platform.helm.platform_chart_values import PLUGINS
from floe.platform.helm.schema import CHART_MODELS, SCHEMA_FILE, render_values_schema
from tests.charts.helm_support import ARTIFACTS_JSON, CHARTS_DIR, deep_merge, helm, load_yaml, pod_specs, render
from tests.charts.plugin_support import PLUGIN_CHARTS, Validator, build_platform_charts, render_by_chart

NAMESPACE = "floe-platform"
SWITCHES = tuple(PLUGINS)
ORCHESTRATOR_VALUES = {"floe-dagster": {"artifacts": {"json": ARTIFACTS_JSON}}}


@pytest.fixture(scope="module")
def platform_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_platform_charts(tmp_path_factory.mktemp("platform") / "charts")


def _switches(combination: tuple[bool, ...]) -> dict[str, Any]:
    return {plugin: {"enabled": on} for plugin, on in zip(SWITCHES, combination, strict=True)}


def test_every_plugin_combination_renders_exactly_its_plugins_and_validates(platform_root):
    validator = Validator()
    for combination in itertools.product((False, True), repeat=len(SWITCHES)):
        values = deep_merge(_switches(combination), ORCHESTRATOR_VALUES)
        by_chart = render_by_chart("floe-platform", values, platform_root, namespace=NAMESPACE)
        documents = [d for objects in by_chart.values() for d in objects]
        validator.check(documents, f"plugins {dict(zip(SWITCHES, combination, strict=True))}")
        expected = {PLUGINS[p] for p, on in zip(SWITCHES, combination, strict=True) if on}
        if combination[0]:  # the orchestrator plugin is the official chart (and its subcharts) and floe-dagster
            expected |= {"dagster", "dagster-user-deployments"}
        assert set(by_chart) == expected, (combination, sorted(by_chart))
    assert validator.counts["kubernetes"] >= 50, validator.counts


def test_the_shared_services_answer_at_their_cluster_names(platform_root):
    documents = render("floe-platform", ORCHESTRATOR_VALUES, platform_root, namespace=NAMESPACE)
    services = {d["metadata"]["name"]: {p["name"]: p["port"] for p in d["spec"]["ports"]}
                for d in documents if d["kind"] == "Service"}
    assert services["polaris"]["http"] == 8181
    assert services["otel-collector"]["otlp-grpc"] == 4317 and services["otel-collector"]["otlp-http"] == 4318
    assert services["marquez"]["http"] == 5000
    assert services["jaeger"]["ui"] == 16686
    for service in (d for d in documents if d["kind"] == "Service" and d["metadata"]["name"] in
                    {"polaris", "otel-collector", "marquez", "jaeger"}):
        selector = service["spec"]["selector"]
        pods = [d for d in documents if d["kind"] in {"Deployment", "StatefulSet"} and
                selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()]
        assert len(pods) == 1, (service["metadata"]["name"], [p["metadata"]["name"] for p in pods])


@pytest.mark.parametrize("combination", list(itertools.product((False, True), repeat=5)))
def test_observability_alone_with_each_of_its_switches(platform_root, combination):
    collector, marquez, jaeger, monitor, dashboard = combination
    values = {"collector": {"enabled": collector}, "marquez": {"enabled": marquez}, "jaeger": {"enabled": jaeger},
              "prometheus": {"serviceMonitor": {"enabled": monitor}}, "grafana": {"dashboard": {"enabled": dashboard}}}
    if (monitor or dashboard) and not collector:
        with pytest.raises(Exception, match="collector"):
            render("floe-observability", values, platform_root, namespace=NAMESPACE)
        return
    documents = render("floe-observability", values, platform_root, namespace=NAMESPACE)
    Validator().check(documents, f"floe-observability {values}")
    names = {f"{d['kind']}/{d['metadata']['name']}" for d in documents}
    assert ("Deployment/otel-collector" in names) == collector
    assert ("Deployment/marquez" in names) == marquez and ("StatefulSet/marquez-postgresql" in names) == marquez
    assert ("Deployment/jaeger" in names) == jaeger
    assert ("ServiceMonitor/otel-collector" in names) == monitor
    assert ("ConfigMap/floe-otel-collector-dashboard" in names) == dashboard
    if collector:
        config = yaml.safe_load(next(d for d in documents if d["kind"] == "ConfigMap" and
                                     d["metadata"]["name"] == "otel-collector")["data"]["config.yaml"])
        exporters = config["service"]["pipelines"]["traces"]["exporters"]
        assert exporters == (["otlp/jaeger"] if jaeger else ["debug"])


@pytest.mark.parametrize("mode", ["statefulset", "external"])
def test_polaris_alone_in_both_database_modes(platform_root, mode):
    values = {"database": {"mode": mode, "host": "pg.example.internal" if mode == "external" else ""}}
    documents = render("floe-polaris", values, platform_root, namespace=NAMESPACE)
    Validator().check(documents, f"floe-polaris {mode}")
    names = {f"{d['kind']}/{d['metadata']['name']}" for d in documents}
    assert ("StatefulSet/polaris-postgresql" in names) == (mode == "statefulset")
    deployment = next(d for d in documents if d["kind"] == "Deployment")
    env = {e["name"]: e for e in deployment["spec"]["template"]["spec"]["containers"][0]["env"]}
    host = "polaris-postgresql" if mode == "statefulset" else "pg.example.internal"
    assert env["QUARKUS_DATASOURCE_JDBC_URL"]["value"] == f"jdbc:postgresql://{host}:5432/polaris"
    assert env["QUARKUS_DATASOURCE_PASSWORD"]["valueFrom"]["secretKeyRef"] == {
        "name": "polaris-postgresql", "key": "postgresql-password"}
    job = next(d for d in documents if d["kind"] == "Job")
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "post-install,post-upgrade"
    job_env = {e["name"]: e.get("value") for e in job["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert job_env["CREDENTIALS_SECRET"] == "floe-polaris-credentials"
    role = next(d for d in documents if d["kind"] == "Role")
    assert {"get", "patch"} <= {v for rule in role["rules"] for v in rule["verbs"]}
    assert all(rule["resources"] == ["secrets"] for rule in role["rules"])


def test_polaris_external_database_without_a_host_is_refused(platform_root):
    with pytest.raises(Exception, match=r"database\.host"):
        render("floe-polaris", {"database": {"mode": "external"}}, platform_root, namespace=NAMESPACE)


def test_namespace_alone_creates_guards_and_denies_by_default(platform_root):
    values = {"namespaces": [{"name": "sales", "create": True, "labels": {"floe.dev/layer": "domain"}},
                             {"name": "floe-platform"}],
              "networkPolicy": {"egressTo": [{"cidr": "10.0.0.0/8", "ports": [5432, 443]}]}}
    documents = render("floe-namespace", values, platform_root, namespace=NAMESPACE)
    Validator().check(documents, "floe-namespace")
    assert [d["metadata"]["name"] for d in documents if d["kind"] == "Namespace"] == ["sales"]
    for namespace in ("sales", "floe-platform"):
        mine = {d["kind"] + "/" + d["metadata"]["name"]: d for d in documents
                if d["metadata"].get("namespace") == namespace}
        deny = mine["NetworkPolicy/floe-default-deny"]["spec"]
        assert deny == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
        assert {"ResourceQuota/floe-quota", "LimitRange/floe-limits", "NetworkPolicy/floe-allow-dns",
                "NetworkPolicy/floe-allow-egress"} <= set(mine)
    defaults = render("floe-namespace", {}, platform_root, namespace="somewhere")
    assert {d["metadata"]["namespace"] for d in defaults} == {"somewhere"}  # name "": the release's namespace
    assert "Namespace" not in {d["kind"] for d in defaults}
    with pytest.raises(Exception, match=r"name is required with create: true"):
        render("floe-namespace", {"namespaces": [{"name": "", "create": True}]}, platform_root, namespace="x")


@pytest.mark.parametrize("chart", ("floe-platform", *PLUGIN_CHARTS))
def test_committed_values_schema_matches_the_model(chart):
    committed = (CHARTS_DIR / chart / SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == render_values_schema(chart), f"charts/{chart}/{SCHEMA_FILE} is stale: run 'make generate'"
    CHART_MODELS[chart].model_validate(load_yaml(CHARTS_DIR / chart / "values.yaml"))


@pytest.mark.parametrize("chart", ("floe-platform", *PLUGIN_CHARTS))
def test_helm_lint_strict_passes(platform_root, chart):
    values = ORCHESTRATOR_VALUES if chart == "floe-platform" else {}
    report = helm.lint(str(platform_root / chart), values, strict=True, namespace=NAMESPACE)
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems and not report["errors"], report


def test_platform_values_copy_floe_dagsters_dagster_block():
    from floe.platform.helm.runtime_values import umbrella_values_text

    umbrella = (CHARTS_DIR / "floe-platform" / "values.yaml").read_text(encoding="utf-8")
    floe_dagster = (CHARTS_DIR / "floe-dagster" / "values.yaml").read_text(encoding="utf-8")
    assert umbrella == umbrella_values_text(umbrella, floe_dagster), "stale: run 'make generate'"


@pytest.mark.parametrize(("bad", "said"), [
    ({"floe-dagster": {"image": {"tag": "0.2.0"}}}, "but floe-dagster.image is floe/dagster:0.2.0"),
    ({"dagster": {"migrate": {"enabled": True}}}, "dagster.migrate.enabled and floe-dagster.migrate.enabled"),
    ({"floe-dagster": {"daemon": {"ha": {"enabled": True}}}}, "floe-dagster.daemon.ha.enabled and dagster"),
    ({"floe-dagster": {"dagster": {"enabled": True}}}, "would deploy a second Dagster"),
])
def test_the_orchestrator_plugin_keeps_floe_runtimes_checks(platform_root, bad, said):
    """One floe image, one migration, one daemon, one Dagster: refused by Helm itself, as in floe-runtime."""
    with pytest.raises(Exception, match=said):
        render("floe-platform", deep_merge(ORCHESTRATOR_VALUES, bad), platform_root, namespace=NAMESPACE)
    off = deep_merge({"orchestrator": {"enabled": False}}, bad)  # without the orchestrator nothing to check
    assert render("floe-platform", off, platform_root, namespace=NAMESPACE)


def test_every_plugin_container_is_pinned_bounded_probed_and_locked_down(platform_root):
    """The new plugin charts keep the existing charts' rules: a pinned image (never latest), requests
    and limits, a restricted security context, and probes on every long-lived container."""
    values = deep_merge({p: {"enabled": True} for p in SWITCHES}, ORCHESTRATOR_VALUES)
    values["floe-observability"] = {"prometheus": {"serviceMonitor": {"enabled": True}},
                                    "grafana": {"dashboard": {"enabled": True}}}
    by_chart = render_by_chart("floe-platform", values, platform_root, namespace=NAMESPACE)
    checked = 0
    for chart in PLUGIN_CHARTS:
        for document in by_chart[chart]:
            for pod in pod_specs(document):
                assert pod["securityContext"]["runAsNonRoot"] is True, document["metadata"]["name"]
                for container in pod.get("initContainers", []) + pod["containers"]:
                    where = f"{chart} {document['kind']}/{document['metadata']['name']} {container['name']}"
                    _, tag = container["image"].rsplit(":", 1)
                    assert tag[:1].isdigit(), f"{where}: image {container['image']} is not pinned to a version"
                    assert set(container["resources"]) == {"requests", "limits"}, where
                    security = container["securityContext"]
                    assert security["runAsNonRoot"] and not security["allowPrivilegeEscalation"], where
                    assert security["readOnlyRootFilesystem"] and security["capabilities"] == {"drop": ["ALL"]}, where
                    if document["kind"] in {"Deployment", "StatefulSet"} and container in pod["containers"]:
                        assert "readinessProbe" in container and "livenessProbe" in container, where
                    checked += 1
    assert checked >= 9, checked
