"""What Argo CD and Flux deploy from the examples is the whole release, Dagster included.

Argo CD's repo server clones the repository, runs ``helm dependency build`` for the chart the
Application points at (floe-runtime) and for no other, then renders it with the Application's
``valueFiles`` (in order) and ``fileParameters`` (``--set-file``). Flux renders the chart published
to its HelmRepository (floe-runtime packaged with its dependencies) with the HelmRelease's
``valuesFrom``, here the ConfigMap of the environment's kustomize overlay. Both are emulated
offline: the official chart comes from the reference copy, floe's subcharts are archived as they
are in git (no ``charts/`` folder inside them). Before floe-runtime depended on the official chart
itself, these renders held floe's objects and no Dagster at all.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.helm_support import (
    REPO_ROOT,
    assert_whole_release,
    build_dependencies,
    deep_merge,
    floe_images,
    helm,
    load_yaml,
    render,
    require_official_chart,
)
from tests.examples.test_manifests import EXAMPLES, documents

ENVIRONMENTS = ("dev", "staging", "prod")
ARGOCD = EXAMPLES / "gitops" / "argocd"
FLUX = EXAMPLES / "gitops" / "flux"


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A checkout of the repository as the repo server has it, floe-runtime's dependencies built."""
    require_official_chart()
    checkout = tmp_path_factory.mktemp("repo")
    # In git, no chart has a built charts/ folder (a local `helm dependency build` leaves one).
    shutil.copytree(REPO_ROOT / "charts", checkout / "charts", ignore=shutil.ignore_patterns("charts", "Chart.lock"))
    shutil.copytree(EXAMPLES, checkout / "examples")
    build_dependencies(checkout / "charts" / "floe-runtime", with_official_chart=True)
    return checkout


def _floe_image(values: dict[str, Any]) -> str:
    """The one floe image of an environment: floe-dagster.image (image.yaml), tag over the default."""
    image = deep_merge(load_yaml(REPO_ROOT / "charts" / "floe-dagster" / "values.yaml")["image"],
                       values["floe-dagster"].get("image", {}))
    return f"{image['repository']}:{image['tag']}"


def _argocd_sources() -> list[tuple[str, dict[str, Any]]]:
    """(where, spec) of application-prod.yaml and of each ApplicationSet element, templated."""
    sources = [("application-prod.yaml", documents(ARGOCD / "application-prod.yaml")[0]["spec"])]
    appset = documents(ARGOCD / "applicationset.yaml")[0]["spec"]
    template = yaml.safe_dump(appset["template"]["spec"])
    for element in appset["generators"][0]["list"]["elements"]:
        text = template
        for key, value in element.items():
            text = text.replace("{{." + key + "}}", value)
        assert "{{" not in text, text
        sources.append((f"applicationset element {element['env']}", yaml.safe_load(text)))
    return sources


def _argocd_values(chart_dir: Path, helm_source: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for value_file in helm_source.get("valueFiles", []):  # later files win
        values = deep_merge(values, load_yaml(chart_dir / value_file))
    for parameter in helm_source.get("fileParameters", []):  # --set-file semantics
        path = (chart_dir / parameter["path"]).resolve()
        values = deep_merge(values, helm.parse_set_file(f"{parameter['name']}={path}"))
    return values


@pytest.mark.parametrize("index", range(len(_argocd_sources())),
                         ids=[where for where, _ in _argocd_sources()])
def test_argocd_deploys_the_whole_release(repo, index):
    where, spec = _argocd_sources()[index]
    source = spec["source"]
    chart_dir = repo / source["path"]
    assert chart_dir.name == "floe-runtime", where
    values = _argocd_values(chart_dir, source["helm"])
    documents_ = render(chart_dir.name, values, chart_dir.parent, release=source["helm"]["releaseName"],
                        namespace=spec["destination"]["namespace"])
    assert_whole_release(documents_, release=source["helm"]["releaseName"])
    assert floe_images(documents_) == {_floe_image(values)}, where


def _overlay_configmaps(overlay: Path) -> dict[str, dict[str, str]]:
    """ConfigMaps of a kustomize overlay's configMapGenerator: name -> {key: file text}."""
    kustomization = load_yaml(overlay / "kustomization.yaml")
    return {generator["name"]: {Path(f).name: (overlay / f).read_text(encoding="utf-8") for f in generator["files"]}
            for generator in kustomization.get("configMapGenerator", [])}


def _flux_values(release: dict[str, Any], configmaps: dict[str, dict[str, str]]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for entry in release["spec"].get("valuesFrom", []):
        if entry["kind"] != "ConfigMap":
            # floe-private-values: an optional Secret (SOPS-encrypted in git, for settings that are
            # not published); these examples render the same release without it.
            assert entry.get("optional") is True, entry
            continue
        text = configmaps[entry["name"]][entry.get("valuesKey", "values.yaml")]
        if "targetPath" in entry:
            assert entry.get("literal") is True, entry  # the artifacts JSON, as it is
            values = deep_merge(values, helm.parse_set_literal(f"{entry['targetPath']}={text}"))
        else:
            values = deep_merge(values, yaml.safe_load(text) or {})
    return deep_merge(values, release["spec"].get("values") or {})


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_flux_deploys_the_whole_release(repo, tmp_path, env):
    overlay = repo / "examples" / "environments" / env
    kustomization = load_yaml(overlay / "kustomization.yaml")
    release = next(d for base in kustomization["resources"] for d in documents(overlay / base / "helmrelease.yaml"))
    chart = release["spec"]["chart"]["spec"]
    chart_dir = repo / "charts" / chart["chart"]
    version = load_yaml(chart_dir / "Chart.yaml")["version"]
    assert version.startswith(chart["version"].removesuffix("x")), (version, chart["version"])
    # What the HelmRepository serves: the chart packaged with its dependencies.
    published = Path(helm.package(str(chart_dir), destination=str(tmp_path)))
    values = _flux_values(release, _overlay_configmaps(overlay))
    documents_ = render(published.name, values, published.parent, release=release["spec"]["releaseName"],
                        namespace=kustomization["namespace"])
    assert_whole_release(documents_, release=release["spec"]["releaseName"])
    assert floe_images(documents_) == {_floe_image(values)}, env
    artifacts = next(d for d in documents_ if d["metadata"]["name"] == "floe-artifacts")
    assert json.loads(artifacts["data"]["artifacts.json"]) == json.loads((overlay / "artifacts.json").read_text())
