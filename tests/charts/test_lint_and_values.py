"""helm lint --strict, the generated values schemas, and the dagster block against the official schema."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe.platform.helm.schema import CHART_MODELS, SCHEMA_FILE, render_values_schema
from tests.charts.helm_support import (
    ARTIFACTS_JSON,
    CHARTS,
    CHARTS_DIR,
    ENVIRONMENTS,
    REFERENCE,
    deep_merge,
    helm,
    load_yaml,
    offline_overrides,
)

DAGSTER_SCHEMA = REFERENCE / "dagster" / "values.schema.json"


def _with_dagster_stand_in(charts_root: Path, tmp_path: Path, name: str = "floe-dagster") -> Path:
    """Copy floe-dagster (or floe-runtime) and put a test double of the official chart in its charts/
    folder: a bare Chart.yaml at the pinned version, so lint sees the declared dependency present."""
    chart = tmp_path / name
    shutil.copytree(charts_root / name, chart)
    pinned = next(d for d in load_yaml(chart / "Chart.yaml")["dependencies"] if d["name"] == "dagster")
    stand_in = chart / "charts" / "dagster"
    stand_in.mkdir(parents=True)
    (stand_in / "Chart.yaml").write_text(yaml.safe_dump(
        {"apiVersion": "v2", "name": "dagster", "version": pinned["version"],
         "description": "test double of the official dagster chart (not downloadable offline)"}))
    return chart


@pytest.mark.parametrize("chart", CHARTS)
@pytest.mark.parametrize("env", (None, *ENVIRONMENTS))
def test_helm_lint_strict_passes(charts_root, tmp_path, chart, env):
    dagster_inside = chart in {"floe-dagster", "floe-runtime"}
    path = _with_dagster_stand_in(charts_root, tmp_path, chart) if dagster_inside else charts_root / chart
    values = load_yaml(path / f"values-{env}.yaml") if env else {}
    values = deep_merge(values, offline_overrides(chart))
    report = helm.lint(str(path), values, strict=True, namespace="data")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems and not report["errors"], report


@pytest.mark.parametrize("chart", CHARTS)
def test_committed_values_schema_matches_the_models(chart):
    committed = (CHARTS_DIR / chart / SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == render_values_schema(chart), f"charts/{chart}/{SCHEMA_FILE} is stale: run 'make generate'"


@pytest.mark.parametrize("chart", [c for c in CHARTS if c != "floe-runtime"])
@pytest.mark.parametrize("env", (None, *ENVIRONMENTS))
def test_every_values_file_is_valid_for_the_model(chart, env):
    values = load_yaml(CHARTS_DIR / chart / "values.yaml")
    if env:
        values = deep_merge(values, load_yaml(CHARTS_DIR / chart / f"values-{env}.yaml"))
    CHART_MODELS[chart].model_validate(values)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_umbrella_blocks_are_valid_for_each_charts_model(env):
    umbrella = deep_merge(load_yaml(CHARTS_DIR / "floe-runtime" / "values.yaml"),
                          load_yaml(CHARTS_DIR / "floe-runtime" / f"values-{env}.yaml"))
    CHART_MODELS["floe-runtime"].model_validate(umbrella)
    assert umbrella["dagster"]["enabled"] and not umbrella["floe-dagster"]["dagster"]["enabled"]  # one Dagster
    for chart in ("floe-dagster", "floe-cube", "floe-jobs"):
        merged = deep_merge(load_yaml(CHARTS_DIR / chart / "values.yaml"), umbrella.get(chart, {}))
        CHART_MODELS[chart].model_validate(merged)


def test_the_models_refuse_an_unpinned_image_and_a_typo():
    from pydantic import ValidationError

    model = CHART_MODELS["floe-jobs"]
    with pytest.raises(ValidationError, match="latest"):
        model.model_validate({"image": {"repository": "floe/dagster", "tag": "latest"}})
    with pytest.raises(ValidationError, match="runPods"):
        model.model_validate({"runPods": {}})


# --- the dagster: block against the official chart's schema ---------------------------------

def _official_validator():
    """The official values schema, with `required` dropped (it describes merged defaults) and its
    remote Kubernetes references served from kubernetes-validate's local definitions."""
    import jsonschema
    import kubernetes_validate
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    schema = json.loads(DAGSTER_SCHEMA.read_text(encoding="utf-8"))

    def drop_required(node: Any) -> Any:
        if isinstance(node, dict):
            return {k: drop_required(v) for k, v in node.items() if k != "required"}
        if isinstance(node, list):
            return [drop_required(v) for v in node]
        return node

    schema = drop_required(schema)
    version = kubernetes_validate.utils.latest_version()
    k8s = kubernetes_validate.utils.schema_contents(
        f"kubernetes-json-schema/v{version}-local/_definitions.json", version)
    k8s = {**k8s, "definitions": k8s["$defs"]}
    remote = "https://kubernetesjsonschema.dev/v1.18.0/_definitions.json"
    registry = Registry().with_resource(remote, Resource.from_contents(k8s, default_specification=DRAFT202012))
    return jsonschema.Draft7Validator(schema, registry=registry)


@pytest.mark.skipif(not DAGSTER_SCHEMA.is_file(), reason="../shared/reference/dagster/values.schema.json is absent")
@pytest.mark.parametrize("chart", ["floe-dagster", "floe-runtime"])
@pytest.mark.parametrize("env", (None, *ENVIRONMENTS))
def test_dagster_block_fits_the_official_chart_schema(chart, env):
    validator = _official_validator()
    values = load_yaml(CHARTS_DIR / chart / "values.yaml")
    if env:
        values = deep_merge(values, load_yaml(CHARTS_DIR / chart / f"values-{env}.yaml"))
    block = values["dagster"]  # in floe-runtime too: the umbrella's own dependency
    block = {k: v for k, v in block.items() if k != "enabled"}  # the dependency condition is floe's
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(block)]
    assert not errors, errors


@pytest.mark.skipif(not DAGSTER_SCHEMA.is_file(), reason="../shared/reference/dagster/values.schema.json is absent")
def test_the_official_schema_check_catches_typos_and_wrong_types():
    validator = _official_validator()
    block = copy.deepcopy(load_yaml(CHARTS_DIR / "floe-dagster" / "values.yaml")["dagster"])
    block.pop("enabled")
    block["dagsterWebserver"]["replicas"] = 2  # the official key is replicaCount
    block["runLauncher"]["config"]["k8sRunLauncher"]["envVars"] = "A=1"  # must be a list
    errors = list(validator.iter_errors(block))
    assert len(errors) == 2
    assert any("'replicas' was unexpected" in e.message for e in errors)
    launcher_error = next(e for e in errors if "runLauncher" in e.absolute_path)
    assert any("'A=1' is not of type 'array'" in sub.message for sub in launcher_error.context)


def test_dagster_block_is_wired_to_floes_own_values():
    """The official chart copies volumes verbatim, so its names must match floe's settings."""
    values = load_yaml(CHARTS_DIR / "floe-dagster" / "values.yaml")
    deployment = values["dagster"]["dagster-user-deployments"]["deployments"][0]
    volumes = {v["name"]: v for v in deployment["volumes"]}
    assert volumes["floe-artifacts"]["configMap"]["name"] == values["artifacts"]["configMapName"]
    assert volumes["floe-secrets"]["secret"]["secretName"] == values["secrets"]["secretName"]
    assert deployment["image"]["tag"] == values["image"]["tag"]
    assert deployment["podSecurityContext"]["runAsUser"] == values["podSecurity"]["uid"]
    env = {e["name"]: e["value"] for e in deployment["env"]}
    assert env["FLOE_ARTIFACTS_PATH"] == f"{values['project']['artifactsDir']}/artifacts.json"
    # Run pods are shaped by the run launcher alone, with the code location's volumes and env.
    assert deployment["includeConfigInLaunchedRuns"] == {"enabled": False}
    launcher = values["dagster"]["runLauncher"]
    assert launcher["type"] == "K8sRunLauncher"
    k8s = launcher["config"]["k8sRunLauncher"]
    assert k8s["labels"] == {"floe.dev/component": "run-worker"}
    assert (k8s["volumes"], k8s["volumeMounts"]) == (deployment["volumes"], deployment["volumeMounts"])
    assert k8s["runK8sConfig"]["containerConfig"]["env"] == deployment["env"]
    assert values["dagster"]["dagsterDaemon"]["runMonitoring"]["enabled"] is True
    assert ARTIFACTS_JSON  # the same text the render tests mount
