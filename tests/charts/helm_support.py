"""Rendering and validating floe's charts offline, for the chart tests.

The official dagster chart cannot be downloaded here, so floe-dagster is rendered with
``dagster.enabled=false`` (only floe's own templates), and linted with a stand-in: a test
double named ``dagster`` holding only a Chart.yaml at the pinned version, so the linter finds
the declared dependency. Nothing of the official chart is copied.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe.platform.helm.generate import deep_merge  # re-exported: the tests merge values as floe does

REPO_ROOT = Path(__file__).resolve().parents[2]
CHARTS_DIR = REPO_ROOT / "charts"
SHARED = REPO_ROOT.parent / "shared"
REFERENCE = SHARED / "reference"
CHARTS = ("floe-dagster", "floe-cube", "floe-jobs", "floe-runtime")
ENVIRONMENTS = ("dev", "prod", "demo")
# Kubernetes versions every manifest must validate against: 1.29 and the newest known.
RELEASE = "shop"
NAMESPACE = "data"

# A stand-in for compiled artifacts: only its text travels into the ConfigMap.
ARTIFACTS_JSON = json.dumps({"schema_version": 1, "floe_version": "0.1.0", "project": {"name": "shop"},
                             "secrets": ["FLOE_PG_PASSWORD"]}, indent=2)

helm = pytest.importorskip("helm_python", reason="helm-python-sdk (dev extra) is not installed")


def values_files(chart: str) -> list[Path]:
    """The env values files of a chart; the default values.yaml is always applied first by Helm."""
    return [CHARTS_DIR / chart / f"values-{env}.yaml" for env in ENVIRONMENTS]


def load_yaml(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    assert isinstance(data, dict), path
    return data


def offline_overrides(chart: str) -> dict[str, Any]:
    """What every render adds: the artifacts text, and the official chart switched off."""
    dagster = {"artifacts": {"json": ARTIFACTS_JSON}, "dagster": {"enabled": False}}
    jobs = {"artifacts": {"json": ARTIFACTS_JSON}}
    if chart == "floe-dagster":
        return dagster
    if chart == "floe-jobs":
        return jobs
    if chart == "floe-runtime":
        return {"floe-dagster": dagster, "floe-jobs": jobs}
    return {}


def build_charts(target: Path) -> Path:
    """Copy charts/ to ``target`` and build the umbrella's file:// dependencies there (offline)."""
    shutil.copytree(CHARTS_DIR, target)
    helm.dependency_update(str(target / "floe-runtime"))
    return target


def render(chart: str, values: dict[str, Any], charts_root: Path, *, release: str = RELEASE) -> list[dict[str, Any]]:
    """Render a chart (as `helm template` would, schema checked) and parse every manifest."""
    with helm.Chart.load(str(charts_root / chart)) as loaded:
        loaded.validate_schema(values)
        rendered = loaded.render(values, name=release, namespace=NAMESPACE, is_install=True)
    documents = []
    for name, text in sorted(rendered.items()):
        if name.endswith("NOTES.txt"):
            continue
        for document in yaml.safe_load_all(text):
            if document:
                documents.append(document)
    return documents


def env_values(chart: str, env: str) -> dict[str, Any]:
    """A values file of the chart merged with the offline overrides."""
    return deep_merge(load_yaml(CHARTS_DIR / chart / f"values-{env}.yaml"), offline_overrides(chart))


def pod_specs(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The pod spec of a workload object (Deployment, StatefulSet, Job, CronJob), if any."""
    kind = document.get("kind")
    spec = document.get("spec", {})
    if kind in {"Deployment", "StatefulSet", "DaemonSet", "Job"}:
        return [spec["template"]["spec"]]
    if kind == "CronJob":
        return [spec["jobTemplate"]["spec"]["template"]["spec"]]
    return []


def find(documents: list[dict[str, Any]], kind: str, name_suffix: str = "") -> dict[str, Any]:
    matches = [d for d in documents if d["kind"] == kind and d["metadata"]["name"].endswith(name_suffix)]
    assert len(matches) == 1, f"expected one {kind} *{name_suffix}, found {[d['metadata']['name'] for d in matches]}"
    return matches[0]
