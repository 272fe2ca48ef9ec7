"""platform.yaml's ``services:`` chooses floe-platform's plugins; ``floe platform render --chart
floe-platform`` enables exactly those and wires them to what the runs use."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from pydantic import ValidationError

from floe.spec.platform import PlatformSpec
from tests.charts.helm_support import CHARTS_DIR, add_official_chart

NAMESPACE = "data-platform"
POLARIS_URI = f"http://polaris.{NAMESPACE}.svc.cluster.local:8181/api/catalog"
COLLECTOR = f"http://otel-collector.{NAMESPACE}.svc.cluster.local:4317"
MARQUEZ = f"http://marquez.{NAMESPACE}.svc.cluster.local:5000"


def _environment(**services: Any) -> dict[str, Any]:
    return {
        "compute": {"type": "duckdb", "path": ".floe/warehouse.duckdb", "threads": 2, "memory_limit": "1GB"},
        "catalog": {"type": "rest", "uri": POLARIS_URI, "warehouse": "floe_prod", "client_id": "floe",
                    "client_secret": {"secret_ref": "POLARIS_CLIENT_SECRET"}},
        "storage": {"type": "s3", "bucket": "floe-prod-lakehouse", "region": "eu-west-1"},
        "orchestrator": {"storage": {"type": "postgres", "host": "pg.internal", "user": "dagster",
                                     "database": "dagster", "password": {"secret_ref": "DAGSTER_PG_PASSWORD"}}},
        "observability": {"tracing": {"type": "otlp", "endpoint": COLLECTOR, "insecure": True},
                          "lineage": {"type": "http", "url": MARQUEZ}},
        "services": {"namespace": NAMESPACE, "catalog": "polaris",
                     "observability": {"collector": True, "marquez": True, "jaeger": True}, **services},
    }


def _refusal(environment: dict[str, Any]) -> tuple[tuple[Any, ...], str]:
    with pytest.raises(ValidationError) as caught:
        PlatformSpec.model_validate({"environments": {"prod": environment}})
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return tuple(errors[0]["loc"]), errors[0]["msg"]


def test_a_selection_that_agrees_with_the_environment_is_accepted():
    spec = PlatformSpec.model_validate({"environments": {"prod": _environment()}})
    services = spec.environments["prod"].services
    assert services is not None and services.catalog == "polaris" and services.observability.jaeger
    short = _environment()  # the short names answer from the platform namespace itself
    short["catalog"]["uri"] = "http://polaris:8181/api/catalog"
    PlatformSpec.model_validate({"environments": {"prod": short}})
    assert PlatformSpec.model_validate({"environments": {"prod": {}}}).environments["prod"].services is None


@pytest.mark.parametrize(("change", "said"), [
    (lambda e: e.update(catalog={"type": "sql", "uri": "postgresql://iceberg@pg.internal/iceberg"}),
     "catalog: polaris deploys Apache Polaris, but catalog.type is 'sql'"),
    (lambda e: e["catalog"].update(uri="https://polaris.example.com/api/catalog"),
     "catalog.uri is https://polaris.example.com/api/catalog; point catalog.uri at it"),
    (lambda e: e["observability"].update(tracing={"type": "file"}),
     f"observability.tracing.type is 'file'; set type: otlp with endpoint: {COLLECTOR}"),
    (lambda e: e["observability"]["tracing"].update(endpoint="http://otel-collector.other:4317"),
     "observability.tracing.endpoint is http://otel-collector.other:4317"),
    (lambda e: e["observability"]["tracing"].update(protocol="http"),  # HTTP is port 4318
     f"http://otel-collector.{NAMESPACE}.svc.cluster.local:4318 (http)"),
    (lambda e: e["observability"].update(lineage={"type": "http", "url": "http://marquez.elsewhere:5000"}),
     "observability.lineage.url is http://marquez.elsewhere:5000"),
    (lambda e: e["services"]["observability"].update(collector=False),
     "jaeger need collector: true"),
])
def test_a_contradicting_selection_is_refused_at_services(change, said):
    environment = copy.deepcopy(_environment())
    change(environment)
    loc, message = _refusal(environment)
    assert loc[:3] == ("environments", "prod", "services"), loc
    assert said in message, message


# --- the CLI, from a project and its platform.yaml --------------------------------------------

def _project(tmp_path: Path, environment: dict[str, Any]) -> Path:
    from floe.scaffold import init_project

    root = init_project(tmp_path / "shop").root
    (root / "platform.yaml").write_text(yaml.safe_dump({"environments": {"prod": environment}}), encoding="utf-8")
    return root


def _charts(tmp_path: Path) -> Path:
    charts = tmp_path / "charts"
    shutil.copytree(CHARTS_DIR, charts, ignore=shutil.ignore_patterns("charts", "Chart.lock"))
    add_official_chart(charts / "floe-platform")  # as after 'helm dependency build charts/floe-platform'
    return charts


@pytest.mark.process
def test_cli_renders_the_selected_plugins_wired_to_the_artifacts(tmp_path, floe):
    project = _project(tmp_path, _environment())
    done = floe("platform", "render", "--env", "prod", "--chart", "floe-platform", "--charts", str(_charts(tmp_path)),
                cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    out = project / ".floe" / "platform"
    values = yaml.safe_load((out / "values-prod.floe-platform.generated.yaml").read_text(encoding="utf-8"))
    assert {p: values[p]["enabled"] for p in ("orchestrator", "catalog", "semantic", "observability", "namespace")} \
        == {"orchestrator": True, "catalog": True, "semantic": False, "observability": True, "namespace": True}
    assert values["floe-observability"] == {"collector": {"enabled": True}, "marquez": {"enabled": True},
                                            "jaeger": {"enabled": True},
                                            "prometheus": {"serviceMonitor": {"enabled": False}}}
    artifacts = json.loads(values["floe-dagster"]["artifacts"]["json"])["environment"]
    # The wiring: what the runs use names the Services this release deploys, in its namespace.
    assert values["floe-polaris"]["bootstrap"]["catalog"]["name"] == artifacts["catalog"]["warehouse"]
    assert artifacts["catalog"]["uri"] == POLARIS_URI
    assert artifacts["observability"]["tracing"]["endpoint"] == COLLECTOR
    assert artifacts["observability"]["lineage"]["url"] == MARQUEZ
    assert values["floe-namespace"]["namespaces"] == [
        {"name": NAMESPACE, "create": False, "labels": {"floe.dev/layer": "platform"}}]
    manifests = [d for d in yaml.safe_load_all((out / "manifests-prod.floe-platform.yaml").read_text()) if d]
    services = {d["metadata"]["name"]: {p["port"] for p in d["spec"]["ports"]}
                for d in manifests if d["kind"] == "Service"}
    assert 8181 in services["polaris"] and 4317 in services["otel-collector"] and 5000 in services["marquez"]
    assert "jaeger" in services and not any(name.endswith("-cube-api") for name in services)
    assert "floe-platform-dagster-webserver" in services  # the orchestrator, official chart inside
    assert "networkPolicy.egressTo" in done.stderr  # default deny: the note says what to list
    # The release namespace is the services' namespace: a different --namespace is refused.
    elsewhere = floe("platform", "render", "--env", "prod", "--chart", "floe-platform", "--namespace", "other",
                     "--charts", str(tmp_path / "charts"), cwd=project)
    assert elsewhere.returncode == 1 and "services.namespace" in elsewhere.stderr
    # floe-runtime's rendering is unchanged beside it.
    runtime = floe("platform", "render", "--env", "prod", "--charts", str(tmp_path / "charts"), cwd=project)
    assert runtime.returncode == 0, runtime.stderr
    assert (out / "values-prod.generated.yaml").is_file()


@pytest.mark.process
def test_cli_refuses_a_contradicting_selection_with_its_place(tmp_path, floe):
    environment = _environment()
    environment["catalog"] = {"type": "sql", "uri": "postgresql://iceberg@pg.internal/iceberg",
                              "password": {"secret_ref": "CATALOG_PG_PASSWORD"}}
    project = _project(tmp_path, environment)
    done = floe("platform", "render", "--env", "prod", "--chart", "floe-platform", "--charts", str(CHARTS_DIR),
                cwd=project)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "services" in done.stderr and "catalog.type is 'sql'" in done.stderr, done.stderr
    assert "platform.yaml" in done.stderr, done.stderr
    assert not (project / ".floe" / "platform").exists()
