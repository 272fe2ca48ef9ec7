"""Each environment folder deploys on its own: its values render with floe's charts, agree with
its compiled artifacts, pin one image tag, and every Secret the result mounts is delivered by the
secrets example wired to that environment."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.helm_support import REPO_ROOT, deep_merge, render
from tests.examples.test_manifests import EXAMPLES, as_applied, documents

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (dev extra) missing")

ENVIRONMENTS = ("dev", "staging", "prod")
ENV_DIR = EXAMPLES / "environments"
# The secrets example each Flux cluster file wires to the environment (any of them would do).
SECRETS_OF = {"dev": "sealed-secrets", "staging": "sops", "prod": "external-secrets"}


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict), path
    return data


def release_values(env: str) -> dict[str, Any]:
    """What Argo CD (valueFiles + fileParameters) and Flux (valuesFrom) hand to Helm."""
    folder = ENV_DIR / env
    values = deep_merge(load(folder / "values.yaml"), load(folder / "image.yaml"))
    artifacts = (folder / "artifacts.json").read_text(encoding="utf-8")
    return deep_merge(values, {"floe-dagster": {"artifacts": {"json": artifacts}}})


@pytest.fixture(scope="module")
def rendered(charts_root: Path) -> dict[str, list[dict[str, Any]]]:
    """Each environment's whole release: the official chart inside floe-runtime (reference copy)."""
    return {env: render("floe-runtime", release_values(env), charts_root, release="floe")
            for env in ENVIRONMENTS}


def test_the_environment_folders_are_the_ones_the_gitops_examples_deploy():
    folders = sorted(p.name for p in ENV_DIR.iterdir() if p.is_dir() and not p.name.startswith("_"))
    assert folders == sorted(ENVIRONMENTS)
    appset = documents(EXAMPLES / "gitops" / "argocd" / "applicationset.yaml")[0]
    assert sorted(e["env"] for e in appset["spec"]["generators"][0]["list"]["elements"]) == sorted(ENVIRONMENTS)
    for env in ENVIRONMENTS:
        flux = {d["metadata"]["name"]: d for d in documents(EXAMPLES / "gitops" / "flux" / "clusters" / f"{env}.yaml")}
        assert flux[f"floe-{env}"]["spec"]["path"] == f"./examples/environments/{env}"
        assert flux[f"floe-secrets-{env}"]["spec"]["path"] == f"./examples/secrets/{SECRETS_OF[env]}/{env}"


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_environment_renders_and_validates(rendered, env):
    from tests.charts.helm_support import assert_whole_release
    from tests.examples.test_manifests import CRD_SCHEMAS

    documents_ = rendered[env]
    assert_whole_release(documents_, release="floe")
    configmap = next(d for d in documents_ if d["kind"] == "ConfigMap" and d["metadata"]["name"] == "floe-artifacts")
    assert json.loads(configmap["data"]["artifacts.json"])["environment_name"] == env
    for document in documents_:
        key = (document["apiVersion"], document["kind"])
        if key in CRD_SCHEMAS or document["apiVersion"].startswith("monitoring.coreos.com/"):
            continue  # the chart tests validate floe's ServiceMonitor and PrometheusRule
        for version in ("1.29", kubernetes_validate.utils.latest_version()):
            kubernetes_validate.validate(document, version, strict=True)


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_every_pod_runs_the_environments_image_tag(rendered, env):
    tag = load(ENV_DIR / env / "image.yaml")["floe-dagster"]["image"]["tag"]
    images = set()
    for document in rendered[env]:
        from tests.charts.helm_support import pod_specs

        for pod in pod_specs(document):
            images |= {c["image"] for c in pod.get("initContainers", []) + pod["containers"]}
    floe_images = {image for image in images if image.startswith("floe/")}
    assert floe_images and all(image.endswith(f":{tag}") for image in floe_images), floe_images


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_image_file_is_the_charts_defaults_with_one_tag(env):
    """image.yaml restates list entries of the charts: it must not drift from them."""
    spec = importlib.util.spec_from_file_location("image_values", ENV_DIR / "image_values.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (ENV_DIR / env / "image.yaml").read_text(encoding="utf-8")
    tag = yaml.safe_load(text)["floe-dagster"]["image"]["tag"]
    assert text == module.render(tag), f"regenerate: python examples/environments/image_values.py {tag}"
    with pytest.raises(ValueError):
        module.image_values("latest")


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_values_agree_with_the_artifacts(env):
    """Dagster's database in the values is the one platform.yaml declares, and DuckDB fits the run
    pods: checked by the same function `floe platform render` uses."""
    from floe.contract.io import load_artifacts
    from floe.platform.helm.generate import dagster_values
    from floe.platform.helm.render import merged_chart_values
    from tests.charts.helm_support import CHARTS_DIR

    artifacts_path = ENV_DIR / env / "artifacts.json"
    artifacts = load_artifacts(artifacts_path)
    assert artifacts.environment_name == env
    chart_values = merged_chart_values(CHARTS_DIR, "none")  # defaults only
    merged = deep_merge(chart_values, release_values(env))
    values = {**merged["floe-dagster"], "dagster": merged["dagster"]}  # the umbrella's one Dagster
    generated = dagster_values(artifacts, artifacts_path.read_text(encoding="utf-8"), values)
    postgresql = values["dagster"]["postgresql"]
    for key, value in generated["dagster"]["postgresql"].items():
        assert postgresql[key] == value, (
            f"{env}: dagster.postgresql.{key} is {postgresql[key]!r}, platform.yaml says {value!r}")
    # floe-dagster's own connection block (its backup CronJob reads it), where its model has one:
    # it must name the same database as the official chart's side.
    for block in ("postgresql", "webserver"):
        for key, value in generated.get(block, {}).items():
            found = values.get(block, {}).get(key)
            assert found == value, f"{env}: floe-dagster.{block}.{key} is {found!r}, expected {value!r}"
    # The daemon platform.yaml declares (mode, restart timing, replicas): Argo CD and Flux run no
    # `floe platform render`, so the folder's values must already say what it would write.
    daemon = {"dagster": {key: generated["dagster"][key] for key in ("dagsterDaemon", "additionalInstanceConfig")
                          if key in generated["dagster"]},
              **{key: generated[key] for key in ("daemon", "monitoring") if key in generated}}
    _assert_within(daemon, values, env)


def _assert_within(expected: Any, values: Any, where: str) -> None:
    """Every key of ``expected`` is in ``values`` with the same value (maps compared key by key)."""
    if isinstance(expected, dict):
        assert isinstance(values, dict), f"{where} is {values!r}, expected a mapping"
        for key, value in expected.items():
            _assert_within(value, values.get(key), f"{where}.{key}")
    else:
        assert values == expected, f"{where} is {values!r}, platform.yaml makes it {expected!r}"


@pytest.mark.process
def test_committed_artifacts_are_compiled_from_the_platform_file(tmp_path):
    """artifacts.json of each folder is what `floe compile --env E` makes of demo/ with
    examples/environments/platform.yaml today (the environment block, the secret names)."""
    from floe.compiler import compile_project
    from floe.spec.project import load_project

    project = tmp_path / "project"
    shutil.copytree(REPO_ROOT / "demo", project, ignore=shutil.ignore_patterns(".floe", "target", "logs"))
    for env in ENVIRONMENTS:
        compile_project(load_project(project / "floe.yaml", environment=env, platform_path=ENV_DIR / "platform.yaml",
                                     environ={"OTLP_AUTH_HEADER": "unused"}), output_dir=tmp_path / "artifacts")
        fresh = json.loads((tmp_path / "artifacts" / "artifacts.json").read_text(encoding="utf-8"))
        committed = json.loads((ENV_DIR / env / "artifacts.json").read_text(encoding="utf-8"))
        for key in ("environment_name", "environment", "secrets", "project", "jobs", "schedules"):
            assert committed[key] == fresh[key], (
                f"{env}: artifacts.json is stale ({key}); recompile as examples/README.md shows")


def _secrets_delivered(env: str) -> dict[str, set[str]]:
    """Secret name -> keys, as the secrets example of ``env`` makes them in the cluster."""
    folder = EXAMPLES / "secrets" / SECRETS_OF[env] / env
    made: dict[str, set[str]] = {}
    kustomization = documents(folder / "kustomization.yaml")[0]
    for resource in kustomization["resources"]:
        for document in documents(folder / resource):
            document = as_applied(document)
            if document["kind"] == "Secret":
                made[document["metadata"]["name"]] = set(document.get("stringData", {})) | set(document.get("data", {}))
            elif document["kind"] == "SealedSecret":
                made[document["spec"]["template"]["metadata"]["name"]] = set(document["spec"]["encryptedData"])
            elif document["kind"] == "ExternalSecret":
                made[document["spec"]["target"]["name"]] = {d["secretKey"] for d in document["spec"]["data"]}
    for generator in kustomization.get("secretGenerator", []):
        made[generator["name"]] = {entry.split("=", 1)[0] for entry in generator["files"]}
    return made


def _secrets_referenced(documents_: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Secret name -> keys (empty: the whole Secret) that the rendered objects mount or read."""
    found: dict[str, set[str]] = {}

    def walk(value: Any) -> None:
        if isinstance(value, dict):
            if "secretKeyRef" in value:
                found.setdefault(value["secretKeyRef"]["name"], set()).add(value["secretKeyRef"]["key"])
            if isinstance(value.get("secret"), dict) and "secretName" in value["secret"]:
                found.setdefault(value["secret"]["secretName"], set())
            reference = value.get("secretRef")
            # An optional reference (the official chart's Celery settings) needs no Secret to exist.
            if isinstance(reference, dict) and "name" in reference and not reference.get("optional"):
                found.setdefault(reference["name"], set())
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    for document in documents_:
        walk(document)
    return found


@pytest.mark.parametrize("env", ENVIRONMENTS)
def test_the_secrets_example_delivers_every_secret_the_release_needs(rendered, env):
    delivered = _secrets_delivered(env)
    needed = _secrets_referenced(rendered[env])
    # The official Dagster chart reads this Secret's postgresql-password (also rendered above).
    needed.setdefault(release_values(env)["dagster"]["global"]["postgresqlSecretName"],
                      set()).add("postgresql-password")
    artifacts = json.loads((ENV_DIR / env / "artifacts.json").read_text(encoding="utf-8"))
    needed.setdefault("floe-secrets", set()).update(artifacts["secrets"])
    for name, keys in needed.items():
        assert name in delivered, f"{env}: Secret {name} is mounted but {SECRETS_OF[env]} does not make it"
        assert keys <= delivered[name], f"{env}: {name} lacks {keys - delivered[name]}"


def test_every_approach_ends_in_the_secret_names_the_charts_use():
    from tests.charts.helm_support import CHARTS_DIR

    dagster_defaults = load(CHARTS_DIR / "floe-dagster" / "values.yaml")
    chart_names = {dagster_defaults["secrets"]["secretName"],
                   dagster_defaults["dagster"]["global"]["postgresqlSecretName"]}
    for env in ENVIRONMENTS:
        assert chart_names <= set(_secrets_delivered(env)), (env, SECRETS_OF[env])
