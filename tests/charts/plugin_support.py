"""The platform's plugin charts for the chart tests: built offline, rendered, validated.

floe-platform is built as ``helm dependency build`` would: its ``file://`` plugin charts archived
into ``charts/`` and the official Dagster chart from the reference copy. Every object of every
render is validated against Kubernetes 1.29 and the newest schema, and custom resources against
their CRDs in ``../shared/reference/crds``; identical objects are validated once.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.helm_support import CHARTS_DIR, REFERENCE, add_official_chart, build_dependencies

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (dev extra) missing")

K8S_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
PLUGIN_CHARTS = ("floe-polaris", "floe-observability", "floe-namespace")
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com/servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com/prometheusrule_v1.json",
    ("external-secrets.io/v1", "ExternalSecret"): "external-secrets.io/externalsecret_v1.json",
}


def build_platform_charts(target: Path) -> Path:
    """Copy charts/ to ``target`` and build floe-platform's and floe-domain's dependencies there."""
    shutil.copytree(CHARTS_DIR, target, ignore=shutil.ignore_patterns("charts"))
    for umbrella in ("floe-platform", "floe-domain"):
        if (target / umbrella / "Chart.yaml").is_file():
            build_dependencies(target / umbrella, with_official_chart=True)
    add_official_chart(target / "floe-dagster")
    return target


def as_sent(value: Any) -> Any:
    """The object as the API server reads it: JSON null means the field is absent."""
    if isinstance(value, dict):
        return {k: as_sent(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [as_sent(v) for v in value]
    return value


class Validator:
    """Validates objects against the Kubernetes schemas and the CRDs; each distinct object once."""

    def __init__(self) -> None:
        self.seen: set[str] = set()
        self.counts = {"kubernetes": 0, "crd": 0}
        self._crds: dict[tuple[str, str], Any] = {}

    def _crd(self, key: tuple[str, str]) -> Any:
        import jsonschema

        if key not in self._crds:
            schema = json.loads((REFERENCE / "crds" / CRD_SCHEMAS[key]).read_text(encoding="utf-8"))
            self._crds[key] = jsonschema.validators.validator_for(schema)(schema)
        return self._crds[key]

    def check(self, documents: list[dict[str, Any]], where: str) -> None:
        keys = [(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]) for d in documents]
        twice = sorted({key for key in keys if keys.count(key) > 1})
        assert not twice, f"{where}: objects rendered twice (the install would fail): {twice}"
        for document in map(as_sent, documents):
            text = json.dumps(document, sort_keys=True)
            if text in self.seen:
                continue
            self.seen.add(text)
            key = (document["apiVersion"], document["kind"])
            name = f"{where} {document['kind']}/{document['metadata']['name']}"
            if key in CRD_SCHEMAS:
                errors = [e.message for e in self._crd(key).iter_errors(document)]
                assert not errors, f"{name}: {errors}"
                self.counts["crd"] += 1
                continue
            assert "." not in key[0].split("/")[0] or key[0].startswith(
                ("apps/", "batch/", "policy/", "networking.k8s.io/", "rbac.authorization.k8s.io/",
                 "coordination.k8s.io/")), f"{name}: a custom resource without a CRD schema to check it"
            for version in K8S_VERSIONS:
                try:
                    kubernetes_validate.validate(document, version, strict=True)
                except kubernetes_validate.ValidationError as exc:
                    pytest.fail(f"{name} against Kubernetes {version}: {'.'.join(map(str, exc.path))}: {exc.message}")
            self.counts["kubernetes"] += 1


def render_by_chart(chart: str, values: dict[str, Any], charts_root: Path, *, release: str = "floe",
                    namespace: str) -> dict[str, list[dict[str, Any]]]:
    """Render ``chart`` (schema checked) and group the objects by the (sub)chart whose template made
    them: ``floe-platform/charts/floe-polaris/templates/x.yaml`` counts as floe-polaris."""
    from tests.charts.helm_support import helm

    with helm.Chart.load(str(charts_root / chart)) as loaded:
        loaded.validate_schema(values)
        rendered = loaded.render(values, name=release, namespace=namespace, is_install=True)
    grouped: dict[str, list[dict[str, Any]]] = {}
    for name, text in sorted(rendered.items()):
        if name.endswith("NOTES.txt"):
            continue
        parts = name.split("/")
        owner = parts[parts.index("templates") - 1]  # the innermost chart folder of the template
        for document in yaml.safe_load_all(text):
            if document:
                grouped.setdefault(owner, []).append(document)
    return grouped
