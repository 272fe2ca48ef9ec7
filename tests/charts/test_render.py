"""Every chart renders with every values file, and every manifest is a valid Kubernetes object."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.charts.helm_support import CHARTS, ENVIRONMENTS, REFERENCE, env_values, render

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (dev extra) missing")

K8S_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com/servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com/prometheusrule_v1.json",
    ("external-secrets.io/v1", "ExternalSecret"): "external-secrets.io/externalsecret_v1.json",
    ("external-secrets.io/v1beta1", "ExternalSecret"): "external-secrets.io/externalsecret_v1beta1.json",
}


@pytest.fixture(scope="module")
def rendered(charts_root: Path) -> dict[tuple[str, str], list[dict[str, Any]]]:
    return {(chart, env): render(chart, env_values(chart, env), charts_root)
            for chart in CHARTS for env in ENVIRONMENTS}


@pytest.mark.parametrize("chart", CHARTS)
@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_chart_renders_with_every_values_file(rendered, chart, env):
    documents = rendered[(chart, env)]
    assert documents, f"{chart} with values-{env}.yaml rendered nothing"
    kinds = {d["kind"] for d in documents}
    if chart in {"floe-dagster", "floe-runtime"}:
        assert {"ConfigMap", "Job"} <= kinds  # artifacts + preflight hook
    if chart == "floe-cube":
        assert {"Deployment", "Service", "ConfigMap"} <= kinds


def test_the_umbrella_deploys_each_chart_alone(charts_root):
    from tests.charts.helm_support import ARTIFACTS_JSON

    only_jobs = {"floe-dagster": {"enabled": False}, "floe-cube": {"enabled": False},
                 "floe-jobs": {"enabled": True, "artifacts": {"create": True, "json": ARTIFACTS_JSON},
                               "jobs": [{"name": "build", "kind": "dbt"}]}}
    names = {d["metadata"]["labels"]["app.kubernetes.io/name"] for d in render("floe-runtime", only_jobs, charts_root)}
    assert names == {"floe-jobs"}
    only_cube = {"floe-dagster": {"enabled": False}, "floe-cube": {"enabled": True}}
    names = {d["metadata"]["labels"]["app.kubernetes.io/name"] for d in render("floe-runtime", only_cube, charts_root)}
    assert names == {"floe-cube"}


def _crd_validator(api_version: str, kind: str):
    import jsonschema

    schema = json.loads((REFERENCE / "crds" / CRD_SCHEMAS[(api_version, kind)]).read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_manifest_validates_against_kubernetes_and_crd_schemas(rendered, version):
    crd_documents = 0
    for (chart, env), documents in rendered.items():
        for document in documents:
            key = (document["apiVersion"], document["kind"])
            where = f"{chart} values-{env}.yaml {document['kind']}/{document['metadata']['name']}"
            if key in CRD_SCHEMAS:
                if not REFERENCE.is_dir():
                    pytest.skip("../shared/reference (CRD schemas) is absent")
                errors = [e.message for e in _crd_validator(*key).iter_errors(document)]
                assert not errors, f"{where}: {errors}"
                crd_documents += 1
                continue
            try:
                kubernetes_validate.validate(document, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{where} against Kubernetes {version}: {'.'.join(map(str, exc.path))}: {exc.message}")
    assert crd_documents >= 3  # the prod files render a ServiceMonitor, a PrometheusRule and an ExternalSecret


def test_a_chart_without_artifacts_refuses_to_render(charts_root):
    helm = pytest.importorskip("helm_python")
    with pytest.raises(helm.HelmError, match=r"artifacts.json is empty.*--set-file"):
        render("floe-dagster", {"dagster": {"enabled": False}}, charts_root)
