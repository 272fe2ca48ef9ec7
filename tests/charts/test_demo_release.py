"""The live demo on Kubernetes: state that outlives pods, and Cube on the serving database.

The demo project (demo/) is compiled for the charts' demo platform
(charts/floe-runtime/demo/platform.yaml, environment ``demo``) as the demo image's build does; its
artifacts become the release's values the way ``floe platform render`` makes them
(``runtime_values``), and floe-runtime with values-demo.yaml is rendered with the official Dagster
chart inside. dagster-k8s's own ``K8sRunLauncher`` then builds a run's Job (tests/charts/
run_launch.py; only the Kubernetes API server is a test double), and a floe command is run here
with the files and environment that Job's pod gets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe.platform.helm.generate import cube_serving_values, runtime_values
from floe.platform.helm.render import merged_chart_values
from tests.charts.helm_support import (
    CHARTS_DIR,
    REPO_ROOT,
    assert_whole_release,
    build_charts,
    deep_merge,
    find,
    load_yaml,
    pod_specs,
    render,
)

pytestmark = [pytest.mark.integration, pytest.mark.process]

pytest.importorskip("dagster_k8s", reason="dagster-k8s (extra k8s) is not installed")
kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (dev extra) missing")

DEMO_PLATFORM = CHARTS_DIR / "floe-runtime" / "demo" / "platform.yaml"
ENV = "demo"
FLOE = Path(sys.executable).parent / "floe"  # this interpreter's floe, as the image's PATH has it
K8S_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())


@dataclass
class DemoRelease:
    artifacts: Any
    artifacts_text: str
    values: dict[str, Any]
    documents: list[dict[str, Any]]
    job: dict[str, Any]
    project: Path

    @property
    def run_container(self) -> dict[str, Any]:
        return self.job["spec"]["template"]["spec"]["containers"][0]

    def run_volume_at(self, path: str) -> dict[str, Any]:
        pod = self.job["spec"]["template"]["spec"]
        (name,) = [m["name"] for m in self.run_container["volumeMounts"] if m["mountPath"] == path]
        return next(v for v in pod["volumes"] if v["name"] == name)


def _compile_demo(project: Path, output: Path) -> None:
    """``floe compile`` of the demo project for the demo platform, as docker/Dockerfile.dagster does."""
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    result = subprocess.run([str(FLOE), "compile", "--file", "floe.yaml", "--platform", str(DEMO_PLATFORM),
                             "--env", ENV, "--output", str(output)],
                            cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> DemoRelease:
    from floe.contract.io import load_artifacts
    from tests.charts.run_launch import jobs_api, launch_run_job

    work = tmp_path_factory.mktemp("demo-release")
    project = work / "project"
    shutil.copytree(REPO_ROOT / "demo", project, ignore=shutil.ignore_patterns(".floe", "target", "logs"))
    _compile_demo(project, work / "artifacts")
    artifacts_path = work / "artifacts" / "artifacts.json"
    artifacts_text = artifacts_path.read_text(encoding="utf-8")
    artifacts = load_artifacts(artifacts_path)

    charts = build_charts(work / "charts", with_official_chart=True)
    generated = runtime_values(artifacts, artifacts_text, merged_chart_values(CHARTS_DIR, ENV), {})
    values = deep_merge(load_yaml(CHARTS_DIR / "floe-runtime" / f"values-{ENV}.yaml"), generated)
    documents = render("floe-runtime", values, charts)
    (work / "kube").mkdir()
    with jobs_api(work / "kube") as api:
        job = launch_run_job(documents, api, work / "dagster_home")
    return DemoRelease(artifacts, artifacts_text, values, documents, job, project)


def test_the_demo_release_renders_whole_and_validates(demo: DemoRelease):
    assert_whole_release(demo.documents)
    for version in K8S_VERSIONS:
        for document in demo.documents:
            try:
                kubernetes_validate.validate(_without_nulls(document), version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{document['kind']}/{document['metadata']['name']} against {version}: {exc.message}")
        kubernetes_validate.validate(demo.job, version, strict=True)


def _without_nulls(value: Any) -> Any:
    """The object as the API server reads it (JSON null: the field is absent)."""
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def test_run_pods_keep_the_warehouse_on_the_release_claim_one_run_at_a_time(demo: DemoRelease):
    env = {e["name"]: e.get("value") for e in demo.run_container["env"]}
    state = demo.run_volume_at(f"{env['FLOE_PROJECT_DIR']}/.floe")
    claim = find(demo.documents, "PersistentVolumeClaim", "floe-run-state")
    assert state["persistentVolumeClaim"] == {"claimName": claim["metadata"]["name"]}
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    # The compute's DuckDB file is inside that folder, so it outlives the pod.
    assert demo.artifacts.environment.compute.path.startswith(".floe/")
    # ReadWriteOnce and one DuckDB writer: the queue runs one run at a time.
    instance = yaml.safe_load(find(demo.documents, "ConfigMap", "-dagster-instance")["data"]["dagster.yaml"])
    assert instance["run_coordinator"]["config"]["max_concurrent_runs"] == 1
    # The code location keeps an emptyDir (a ReadWriteOnce claim there would pin runs to its node).
    code = pod_specs(find(demo.documents, "Deployment", "-user-deployments-floe"))[0]
    code_state = next(v for v in code["volumes"] if v["name"] == state["name"])
    assert "emptyDir" in code_state
    # No second writer in the umbrella's demo: floe-jobs' CronJob is off.
    assert not [d for d in demo.documents if d["kind"] == "CronJob"]


def test_the_demo_platform_keeps_bronze_and_its_ledger_with_the_catalog(demo: DemoRelease):
    """Bronze's table files on object storage, the catalog in PostgreSQL: the batch ledger (the
    tables' snapshot summaries and properties) survives every pod."""
    environment = demo.artifacts.environment
    assert environment.storage.type == "s3" and environment.storage.endpoint
    assert environment.catalog.type == "sql" and environment.catalog.uri.startswith("postgresql://")
    rendered = json.loads(find(demo.documents, "ConfigMap", "floe-artifacts")["data"]["artifacts.json"])
    assert rendered["environment_name"] == ENV
    assert rendered["environment"]["serving"]["type"] == "postgres"
    assert rendered == json.loads(demo.artifacts_text)


def test_cube_reads_the_serving_database_with_the_runs_credentials(demo: DemoRelease):
    serving = demo.artifacts.environment.serving
    assert serving is not None and serving.password is not None
    run_secrets = demo.run_volume_at("/run/secrets/floe")["secret"]["secretName"]
    for name in ("-cube-api", "-cube-refresh-worker"):
        container = pod_specs(find(demo.documents, "Deployment", name))[0]["containers"][0]
        env = {e["name"]: e for e in container["env"]}
        value = {k: e.get("value") for k, e in env.items()}
        assert value["CUBEJS_DB_TYPE"] == "postgres"
        assert (value["CUBEJS_DB_HOST"], value["CUBEJS_DB_PORT"]) == (serving.host, str(serving.port))
        assert (value["CUBEJS_DB_NAME"], value["CUBEJS_DB_USER"]) == (serving.database, serving.user)
        # The same key of the same Secret the run pods read serving.password from.
        assert env["CUBEJS_DB_PASS"]["valueFrom"]["secretKeyRef"] == {"name": run_secrets,
                                                                       "key": serving.password.secret_ref}
        assert value["CUBEJS_EXTERNAL_DEFAULT"] == "false"
        assert value["CUBEJS_PRE_AGGREGATIONS_SCHEMA"] not in {serving.schema_, "public", ""}
        assert "CUBEJS_CUBESTORE_HOST" not in value
        if name == "-cube-refresh-worker":
            assert value["CUBEJS_REFRESH_WORKER"] == "true"
    assert not [d for d in demo.documents if "-cube-store" in d["metadata"]["name"]]


def test_the_demo_values_say_what_floe_platform_render_derives(demo: DemoRelease):
    """values-demo.yaml serves Helm-only installs; it must not drift from the platform file."""
    derived = cube_serving_values(demo.artifacts, "floe-secrets")["database"]
    for chart_file, path in ((CHARTS_DIR / "floe-runtime" / "values-demo.yaml", ("floe-cube", "database")),
                             (CHARTS_DIR / "floe-cube" / "values-demo.yaml", ("database",))):
        written = load_yaml(chart_file)
        for key in path:
            written = written[key]
        assert {k: written[k] for k in derived} == derived, chart_file.name


def test_a_run_pod_validates_its_platform(demo: DemoRelease, tmp_path: Path):
    """``floe validate`` with the run pod's environment and files: the image's project (built with
    FLOE_PLATFORM=charts/floe-runtime/demo/platform.yaml) and the artifacts from the ConfigMap."""
    from floe.spec.project import load_project

    project = tmp_path / "opt" / "floe" / "project"
    shutil.copytree(demo.project, project, ignore=shutil.ignore_patterns(".floe"))
    shutil.copyfile(DEMO_PLATFORM, project / "platform.yaml")
    artifacts_dir = tmp_path / "opt" / "floe" / "artifacts"
    artifacts_dir.mkdir(parents=True)
    rendered = find(demo.documents, "ConfigMap", "floe-artifacts")["data"]["artifacts.json"]
    (artifacts_dir / "artifacts.json").write_text(rendered, encoding="utf-8")
    secrets_dir = tmp_path / "run" / "secrets" / "floe"
    secrets_dir.mkdir(parents=True)

    remap = {"/opt/floe/project": str(project), "/opt/floe/artifacts": str(artifacts_dir),
             "/run/secrets/floe": str(secrets_dir), "/tmp": str(tmp_path)}

    def local(value: str) -> str:
        for pod_path, here in remap.items():
            if value == pod_path or value.startswith(pod_path + "/"):
                return here + value[len(pod_path):]
        return value

    pod_env = {e["name"]: local(e["value"]) for e in demo.run_container["env"] if "value" in e}
    env = {"PATH": os.environ["PATH"], **pod_env}
    environment = json.loads(rendered)["environment_name"]
    result = subprocess.run([str(FLOE), "validate", "--env", environment, "--json"], cwd=pod_env["FLOE_PROJECT_DIR"],
                            env=env, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["valid"] is True
    # The artifacts the pod runs from were compiled from exactly this platform.
    spec = load_project(project / "floe.yaml", environment=environment, environ={})
    assert spec.environment == demo.artifacts.environment
