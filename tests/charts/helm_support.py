"""Rendering and validating floe's charts offline, for the chart tests.

The official dagster chart cannot be downloaded here. ``../shared/reference/dagster-chart`` holds
an offline reference copy of it; ``add_official_chart`` (and ``build_charts(...,
with_official_chart=True)``) puts that copy where ``helm dependency build`` would
(``<chart>/charts/dagster``, the version pinned in ``Chart.yaml`` substituted, its
``values.schema.json`` files dropped because they ``$ref`` schemas on the internet), in a scratch
copy of ``charts/`` only: nothing of it is committed. Tests that need the whole release call
``require_official_chart()``, which skips with the reason when ``../shared`` is absent.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe.platform.helm.generate import deep_merge  # re-exported: the tests merge values as floe does
from floe.platform.helm.render import package_local_dependencies

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


def artifacts_overrides(chart: str) -> dict[str, Any]:
    """The artifacts text, where each chart (or the umbrella's subcharts) takes it."""
    artifacts = {"artifacts": {"json": ARTIFACTS_JSON}}
    if chart in {"floe-dagster", "floe-jobs"}:
        return artifacts
    if chart == "floe-runtime":
        return {"floe-dagster": artifacts, "floe-jobs": artifacts}
    return {}


def offline_overrides(chart: str) -> dict[str, Any]:
    """What every offline render adds: the artifacts text, and the official chart switched off
    (in floe-runtime the official chart is the umbrella's own top-level ``dagster`` dependency)."""
    dagster_off = {"dagster": {"enabled": False}}
    switch = dagster_off if chart in {"floe-dagster", "floe-runtime"} else {}
    return deep_merge(artifacts_overrides(chart), switch)


OFFICIAL_CHART = REFERENCE / "dagster-chart" / "dagster"


def require_official_chart() -> Path:
    """The reference copy of the official dagster chart, or skip the test saying why."""
    if not (OFFICIAL_CHART / "Chart.yaml").is_file():
        pytest.skip(f"the official dagster chart's reference copy is absent ({OFFICIAL_CHART})")
    return OFFICIAL_CHART


def pinned_dependency(chart_dir: Path, name: str = "dagster") -> dict[str, Any]:
    """The dependency entry ``name`` of a chart's Chart.yaml (version and repository floe pins)."""
    entries = [d for d in load_yaml(chart_dir / "Chart.yaml").get("dependencies", []) if d["name"] == name]
    assert len(entries) == 1, f"{chart_dir.name}/Chart.yaml declares {name!r} {len(entries)} times"
    return entries[0]


def add_official_chart(chart_dir: Path) -> Path:
    """Put the official chart into ``chart_dir/charts/dagster`` as ``helm dependency build`` would.

    The version floe pins in ``chart_dir/Chart.yaml`` replaces the reference copy's placeholder,
    and the schema files are left out (they ``$ref`` Kubernetes schemas on the internet; Helm
    would try to download them). Floe's own ``values.schema.json`` still applies.
    """
    source = require_official_chart()
    version = pinned_dependency(chart_dir)["version"]
    target = chart_dir / "charts" / "dagster"
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(source, target, ignore=shutil.ignore_patterns("values.schema.json"))
    chart_yaml = target / "Chart.yaml"
    text = chart_yaml.read_text(encoding="utf-8")
    chart_yaml.write_text(text.replace("\nversion: 0.0.1-dev\n", f"\nversion: {version}\n", 1), encoding="utf-8")
    assert load_yaml(chart_yaml)["version"] == version
    return target


def build_dependencies(chart_dir: Path, *, with_official_chart: bool = False) -> None:
    """What ``helm dependency build chart_dir`` does, offline: every ``file://`` dependency archived
    into ``chart_dir/charts`` as it is in git (floe's own function, also used by ``floe platform
    render``), and the official chart from the reference copy when asked for."""
    package_local_dependencies(chart_dir)
    if with_official_chart and any(d["name"] == "dagster" for d in load_yaml(chart_dir / "Chart.yaml")["dependencies"]):
        add_official_chart(chart_dir)


def build_charts(target: Path, *, with_official_chart: bool = False) -> Path:
    """Copy charts/ to ``target`` and build floe-runtime's dependencies there (offline).

    With ``with_official_chart``, the official chart goes where ``helm dependency build`` puts
    it for each chart that depends on it: the umbrella (its direct dependency) and floe-dagster
    (for standalone installs; it is not inside the umbrella's packaged floe-dagster).
    """
    shutil.copytree(CHARTS_DIR, target, ignore=shutil.ignore_patterns("charts"))
    build_dependencies(target / "floe-runtime", with_official_chart=with_official_chart)
    if with_official_chart:
        add_official_chart(target / "floe-dagster")
    return target


def render(chart: str, values: dict[str, Any], charts_root: Path, *, release: str = RELEASE,
           namespace: str = NAMESPACE) -> list[dict[str, Any]]:
    """Render a chart (as `helm template` would, schema checked) and parse every manifest.
    ``chart`` is a folder of ``charts_root`` or a packaged chart (.tgz) inside it."""
    with helm.Chart.load(str(charts_root / chart)) as loaded:
        loaded.validate_schema(values)
        rendered = loaded.render(values, name=release, namespace=namespace, is_install=True)
    return parse_rendered(rendered)


def parse_rendered(rendered: dict[str, str]) -> list[dict[str, Any]]:
    """Every object of a render (template name -> text), NOTES.txt left out."""
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


def release_values(chart: str, env: str | None) -> dict[str, Any]:
    """A values file of the chart (None: the defaults alone) with the artifacts text, the official
    chart left on."""
    values = load_yaml(CHARTS_DIR / chart / f"values-{env}.yaml") if env else {}
    return deep_merge(values, artifacts_overrides(chart))


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


# --- the whole release, as a cluster would run it ---------------------------------------------

FLOE_IMAGE_REPOSITORY = "floe/dagster"


def _named(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    matches = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(matches) == 1, f"the release lacks {kind}/{name} (has {sorted(_names(documents))})"
    return matches[0]


def _names(documents: list[dict[str, Any]]) -> set[str]:
    return {f"{d['kind']}/{d['metadata']['name']}" for d in documents}


def _selects(selector: dict[str, str], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector.items())


def assert_whole_release(documents: list[dict[str, Any]], *, release: str = RELEASE,
                         artifacts_configmap: str = "floe-artifacts") -> None:
    """Fail unless ``documents`` hold what a cluster needs to run floe on Dagster.

    The official chart's workloads (webserver, the daemon or floe's daemons under leader
    election, the ``floe`` code location and its Service), Dagster's instance (``dagster.yaml``:
    K8sRunLauncher with floe's run-pod settings, PostgreSQL storages, run monitoring, the queued
    run coordinator), the workspace pointing at the
    code location's Service name and port, and floe's own objects beside them (artifacts ConfigMap,
    preflight hook, disruption budgets that select real pods). Used by every release test.
    """
    keys = [(d["kind"], d["metadata"]["name"]) for d in documents]
    twice = sorted({key for key in keys if keys.count(key) > 1})
    assert not twice, f"objects rendered twice (the install would fail on the second): {twice}"
    webserver = _named(documents, "Deployment", f"{release}-dagster-webserver")
    daemon = daemon_deployment(documents, release)
    _named(documents, "Service", f"{release}-dagster-webserver")
    user_code = _named(documents, "Deployment", f"{release}-dagster-user-deployments-floe")
    service = _named(documents, "Service", "floe")
    pod_labels = user_code["spec"]["template"]["metadata"]["labels"]
    assert _selects(service["spec"]["selector"], pod_labels), "the code location's Service selects no pod"
    grpc_port = next(p["port"] for p in service["spec"]["ports"] if p["name"] == "grpc")
    container = user_code["spec"]["template"]["spec"]["containers"][0]
    assert container["image"].startswith(f"{FLOE_IMAGE_REPOSITORY}:"), container["image"]
    assert [c["name"] for c in user_code["spec"]["template"]["spec"]["initContainers"]] == ["stage-floe-state"]

    workspace = yaml.safe_load(_named(documents, "ConfigMap", f"{release}-dagster-workspace-yaml")
                               ["data"]["workspace.yaml"])
    servers = [entry["grpc_server"] for entry in workspace["load_from"]]
    assert {"host": "floe", "port": grpc_port} in [{"host": s["host"], "port": s["port"]} for s in servers], servers

    instance = yaml.safe_load(_named(documents, "ConfigMap", f"{release}-dagster-instance")["data"]["dagster.yaml"])
    launcher = instance["run_launcher"]
    assert (launcher["module"], launcher["class"]) == ("dagster_k8s", "K8sRunLauncher"), launcher
    run_labels = launcher["config"]["labels"]
    assert run_labels.get("floe.dev/component") == "run-worker", run_labels
    pod_config = launcher["config"]["run_k8s_config"]["pod_spec_config"]
    assert [c["name"] for c in pod_config["initContainers"]] == ["stage-floe-state"], pod_config
    assert pod_config["securityContext"]["runAsNonRoot"] is True
    for storage in ("run_storage", "event_log_storage", "schedule_storage"):
        assert instance[storage]["module"].startswith("dagster_postgres."), instance[storage]
        assert instance[storage]["config"]["postgres_db"]["password"] == {"env": "DAGSTER_PG_PASSWORD"}
    assert instance["run_monitoring"]["enabled"] is True
    assert instance["run_coordinator"]["class"] == "QueuedRunCoordinator"

    artifacts = _named(documents, "ConfigMap", artifacts_configmap)
    assert artifacts["data"]["artifacts.json"].strip(), "the artifacts ConfigMap is empty"
    _named(documents, "Job", f"{release}-floe-preflight")
    pods = {"webserver": webserver["spec"]["template"]["metadata"]["labels"], "workers": run_labels,
            "daemon": daemon["spec"]["template"]["metadata"]["labels"]}
    for budget in (d for d in documents if d["kind"] == "PodDisruptionBudget"):
        selector = budget["spec"]["selector"]["matchLabels"]
        assert any(_selects(selector, labels) for labels in pods.values()), budget["metadata"]["name"]


def daemon_deployment(documents: list[dict[str, Any]], release: str = RELEASE) -> dict[str, Any]:
    """The one daemon Deployment of a release: the official chart's (orchestrator.daemon mode single)
    or floe's under leader election (mode ha), never both, never none."""
    names = (f"{release}-dagster-daemon", f"{release}-floe-daemon")
    found = [d for d in documents if d["kind"] == "Deployment" and d["metadata"]["name"] in names]
    assert len(found) == 1, (f"expected one daemon Deployment (Deployment/{names[0]} or Deployment/{names[1]}), "
                             f"found {[d['metadata']['name'] for d in found]}")
    return found[0]


def floe_images(documents: list[dict[str, Any]]) -> set[str]:
    """Every image name:tag of a floe-image container in the rendered pods and in the run pods."""
    images = set()
    for document in documents:
        for pod in pod_specs(document):
            images |= {c["image"] for c in pod.get("initContainers", []) + pod["containers"]}
        if document["kind"] == "ConfigMap" and "dagster.yaml" in (document.get("data") or {}):
            instance = yaml.safe_load(document["data"]["dagster.yaml"])
            if "run_launcher" not in instance:
                continue  # floe's migrate hook's storage-only config
            config = instance["run_launcher"]["config"]
            images |= {c["image"] for c in config["run_k8s_config"]["pod_spec_config"].get("initContainers", [])}
    return {image for image in images if image.split("@")[0].rsplit(":", 1)[0] == FLOE_IMAGE_REPOSITORY}


def floe_image_containers(documents: list[dict[str, Any]]) -> set[tuple[str, str, str]]:
    """(kind, name, container) of every container and init container of the rendered workloads
    (Deployment, StatefulSet, Job, CronJob, ...) that runs the floe image."""
    found = set()
    for document in documents:
        for pod in pod_specs(document):
            for container in pod.get("initContainers", []) + pod["containers"]:
                if container["image"].split("@")[0].rsplit(":", 1)[0] == FLOE_IMAGE_REPOSITORY:
                    found.add((document["kind"], document["metadata"]["name"], container["name"]))
    return found
