"""The run pod as Dagster launches it, built by dagster-k8s from the rendered release.

For each values env, floe-dagster is rendered with the official chart inside and the real
``K8sRunLauncher.launch_run`` builds the Job of one run (tests/charts/run_launch.py: a real
Dagster instance from the rendered ``dagster.yaml``, a test double standing in for the
Kubernetes API server only). The assertions are on the Job's body as a cluster would receive it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path, PurePosixPath
from typing import Any

import pytest

from floe.platform.helm.generate import DUCKDB_SHARE_OF_POD_MEMORY, dagster_values, memory_bytes
from tests.charts.helm_support import (
    CHARTS_DIR,
    ENVIRONMENTS,
    RELEASE,
    REPO_ROOT,
    build_charts,
    deep_merge,
    find,
    load_yaml,
    pod_specs,
    render,
)
from tests.charts.run_launch import JobsApi, jobs_api, launch_run_job

pytest.importorskip("dagster_k8s", reason="dagster-k8s (extra k8s) is not installed")
kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (dev extra) missing")

K8S_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
# Compiled artifacts of real environments (examples/environments, compiled by CI). The demo
# values run the dev-sized platform, so they get the dev artifacts.
ARTIFACTS_OF_ENV = {"dev": "dev", "prod": "prod", "demo": "dev"}
SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"


@pytest.fixture(scope="module")
def kube_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JobsApi]:
    with jobs_api(tmp_path_factory.mktemp("kube")) as api:
        yield api


@pytest.fixture(scope="module")
def release_charts(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_charts(tmp_path_factory.mktemp("release") / "charts", with_official_chart=True)


def _values_of(env: str) -> tuple[dict[str, Any], Any]:
    """Release values of floe-dagster for ``env`` as ``floe platform render`` makes them."""
    from floe.contract.io import load_artifacts

    artifacts_path = REPO_ROOT / "examples" / "environments" / ARTIFACTS_OF_ENV[env] / "artifacts.json"
    artifacts = load_artifacts(artifacts_path)
    env_file = load_yaml(CHARTS_DIR / "floe-dagster" / f"values-{env}.yaml")
    merged = deep_merge(load_yaml(CHARTS_DIR / "floe-dagster" / "values.yaml"), env_file)
    generated = dagster_values(artifacts, artifacts_path.read_text(encoding="utf-8"), merged)
    return deep_merge(env_file, generated), artifacts


class RunPod:
    """A rendered release and the Job its run launcher creates for one run."""

    def __init__(self, env: str, values: dict[str, Any], documents: list[dict[str, Any]], job: dict[str, Any],
                 artifacts: Any):
        self.env = env
        self.values = deep_merge(load_yaml(CHARTS_DIR / "floe-dagster" / "values.yaml"), values)
        self.documents = documents
        self.job = job
        self.artifacts = artifacts
        self.pod = job["spec"]["template"]
        self.container = self.pod["spec"]["containers"][0]
        self.env_vars = {e["name"]: e for e in self.container.get("env", [])}
        self.volumes = {v["name"]: v for v in self.pod["spec"].get("volumes", [])}

    @property
    def launcher(self) -> dict[str, Any]:
        return self.values["dagster"]["runLauncher"]["config"]["k8sRunLauncher"]

    def mounted_at(self, container: dict[str, Any], path: str) -> dict[str, Any]:
        mounts = [m for m in container.get("volumeMounts", []) if m["mountPath"] == path]
        assert len(mounts) == 1, f"{container['name']}: {len(mounts)} volumes mounted at {path}"
        return self.volumes[mounts[0]["name"]]


def _launch(values: dict[str, Any], charts: Path, api: JobsApi, home: Path) -> tuple[list[dict[str, Any]], dict]:
    """Render floe-dagster and have its run launcher create the Job of one run: (objects, Job)."""
    documents = render("floe-dagster", values, charts)
    return documents, launch_run_job(documents, api, home)


@pytest.fixture(scope="module", params=ENVIRONMENTS)
def run_pod(request: pytest.FixtureRequest, release_charts: Path, kube_api: JobsApi,
            tmp_path_factory: pytest.TempPathFactory) -> RunPod:
    env = request.param
    values, artifacts = _values_of(env)
    home = tmp_path_factory.mktemp(f"home-{env}") / "dagster_home"
    documents, job = _launch(values, release_charts, kube_api, home)
    return RunPod(env, values, documents, job, artifacts)


def test_run_pod_gets_the_run_launchers_resources(run_pod: RunPod):
    """Not the code location's: its container context must not override the run launcher's."""
    assert run_pod.container["resources"] == run_pod.launcher["resources"]
    user_code = pod_specs(find(run_pod.documents, "Deployment", "-user-deployments-floe"))[0]["containers"][0]
    code_server = run_pod.values["dagster"]["dagster-user-deployments"]["deployments"][0]["resources"]
    assert user_code["resources"] == code_server  # the code server keeps its own


def test_a_code_location_passing_its_config_would_give_runs_its_resources(release_charts, kube_api, tmp_path):
    """Why includeConfigInLaunchedRuns is off: dagster-k8s lets the code location's resources
    replace the run launcher's (this is what floe platform render's memory check follows)."""
    values, _ = _values_of("prod")
    deployment = load_yaml(CHARTS_DIR / "floe-dagster" / "values.yaml")["dagster"]["dagster-user-deployments"]
    location = {**deployment["deployments"][0], "includeConfigInLaunchedRuns": {"enabled": True}}
    passing = deep_merge(values, {"dagster": {"dagster-user-deployments": {"deployments": [location]}}})
    _, job = _launch(passing, release_charts, kube_api, tmp_path / "dagster_home")
    resources = job["spec"]["template"]["spec"]["containers"][0]["resources"]
    launcher = values["dagster"]["runLauncher"]["config"]["k8sRunLauncher"]
    assert resources == location["resources"] != launcher["resources"]


def test_duckdb_memory_limit_is_below_the_run_pod_memory_limit(run_pod: RunPod):
    compute = run_pod.artifacts.environment.compute
    assert compute.type == "duckdb" and compute.memory_limit, run_pod.env
    pod_limit = memory_bytes(run_pod.container["resources"]["limits"]["memory"])
    assert memory_bytes(compute.memory_limit) <= DUCKDB_SHARE_OF_POD_MEMORY * pod_limit < pod_limit


def test_artifacts_and_secrets_are_mounted_where_the_code_reads_them(run_pod: RunPod):
    env = {name: entry.get("value") for name, entry in run_pod.env_vars.items()}
    project = run_pod.values["project"]
    assert env["FLOE_PROJECT_DIR"] == project["dir"]
    assert env["FLOE_ARTIFACTS_PATH"] == f"{project['artifactsDir']}/artifacts.json"
    assert env["FLOE_SECRETS_DIR"] == run_pod.values["secrets"]["mountPath"]
    secrets = run_pod.mounted_at(run_pod.container, env["FLOE_SECRETS_DIR"])
    assert secrets["secret"]["secretName"] == run_pod.values["secrets"]["secretName"]
    # The artifacts folder is writable scratch seeded by the init container from the ConfigMap.
    state = run_pod.mounted_at(run_pod.container, str(PurePosixPath(env["FLOE_ARTIFACTS_PATH"]).parent))
    assert "emptyDir" in state
    run_state = run_pod.mounted_at(run_pod.container, f"{project['dir']}/.floe")
    if run_pod.values["runState"]["create"]:
        # The live demo: the DuckDB warehouse outlives the pod, on the claim the release creates.
        claim = find(run_pod.documents, "PersistentVolumeClaim", run_pod.values["runState"]["claimName"])
        assert run_state["persistentVolumeClaim"] == {"claimName": claim["metadata"]["name"]}
    else:
        assert "emptyDir" in run_state
    assert "emptyDir" in run_pod.mounted_at(run_pod.container, "/tmp")
    (stage,) = run_pod.pod["spec"]["initContainers"]
    assert stage["name"] == "stage-floe-state"
    staged = [run_pod.volumes[m["name"]] for m in stage["volumeMounts"]]
    assert [volume for volume in staged if "emptyDir" in volume] == [state]
    config_maps = [run_pod.volumes[m["name"]]["configMap"]["name"] for m in stage["volumeMounts"]
                   if "configMap" in run_pod.volumes[m["name"]]]
    assert config_maps == [run_pod.values["artifacts"]["configMapName"]]
    rendered = find(run_pod.documents, "ConfigMap", run_pod.values["artifacts"]["configMapName"])
    assert json.loads(rendered["data"]["artifacts.json"])["environment_name"] == run_pod.artifacts.environment_name


def test_run_pod_env_image_and_dagster_wiring(run_pod: RunPod):
    assert run_pod.container["image"] == f"floe/dagster:{run_pod.values['image']['tag']}"
    password = run_pod.env_vars["DAGSTER_PG_PASSWORD"]["valueFrom"]["secretKeyRef"]
    assert password == {"name": run_pod.values["dagster"]["global"]["postgresqlSecretName"],
                        "key": "postgresql-password"}
    assert run_pod.env_vars["HOME"]["value"] == "/tmp"  # the root filesystem is read-only
    assert run_pod.env_vars["DBT_SEND_ANONYMOUS_USAGE_STATS"]["value"] == "false"
    assert run_pod.container["args"][:3] == ["dagster", "api", "execute_run"]


def test_run_pod_security_context(run_pod: RunPod):
    uid = run_pod.values["podSecurity"]["uid"]
    pod = run_pod.pod["spec"]["securityContext"]
    assert pod["runAsNonRoot"] is True and pod["runAsUser"] == uid and pod["fsGroup"] == uid
    assert pod["seccompProfile"] == {"type": "RuntimeDefault"}
    for container in [run_pod.container, *run_pod.pod["spec"]["initContainers"]]:
        context = container["securityContext"]
        assert context["runAsNonRoot"] is True and context["runAsUser"] == uid, container["name"]
        assert context["readOnlyRootFilesystem"] is True and context["allowPrivilegeEscalation"] is False
        assert context["capabilities"] == {"drop": ["ALL"]}
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}


def test_run_pod_labels_and_eviction_annotation(run_pod: RunPod):
    metadata = run_pod.pod["metadata"]
    assert metadata["labels"]["floe.dev/component"] == "run-worker"
    assert metadata["labels"]["app.kubernetes.io/component"] == "run_worker"
    # A running run is not moved by the cluster autoscaler (no PodDisruptionBudget over runs).
    assert metadata["annotations"][SAFE_TO_EVICT] == "false"


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_run_job_is_a_valid_kubernetes_job(run_pod: RunPod, version: str):
    kubernetes_validate.validate(run_pod.job, version, strict=True)


def _selects(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    return all(labels.get(key) == value for key, value in selector["matchLabels"].items())


def test_disruption_budgets_never_block_a_drain_and_leave_runs_alone(run_pod: RunPod):
    budgets = [d for d in run_pod.documents if d["kind"] == "PodDisruptionBudget"]
    # The webserver's, and floe's daemon pods' in orchestrator.daemon mode ha (the prod artifacts).
    names = {d["metadata"]["name"] for d in budgets}
    assert names <= {f"{RELEASE}-floe-webserver", f"{RELEASE}-floe-daemon"}
    assert (f"{RELEASE}-floe-webserver" in names) == run_pod.values["disruptionBudgets"]["webserver"]["enabled"]
    assert (f"{RELEASE}-floe-daemon" in names) == (run_pod.artifacts.environment.orchestrator.daemon.mode == "ha")
    workloads = [d for d in run_pod.documents if d["kind"] in {"Deployment", "StatefulSet"}]
    for budget in budgets:
        spec = budget["spec"]
        covered = [w for w in workloads if _selects(spec["selector"], w["spec"]["template"]["metadata"]["labels"])]
        replicas = sum(w["spec"].get("replicas", 1) for w in covered)
        assert covered, f"{budget['metadata']['name']} selects no workload"
        # A drain may always evict one pod: minAvailable below the replicas, or maxUnavailable >= 1.
        assert spec.get("maxUnavailable", 0) >= 1 or spec.get("minAvailable", replicas) < replicas
        assert not _selects(spec["selector"], run_pod.pod["metadata"]["labels"]), "a budget covers run pods"


def test_a_blocking_budget_is_refused_at_validation():
    from pydantic import ValidationError

    from floe.platform.helm.dagster_values import FloeDagsterValues

    values = load_yaml(CHARTS_DIR / "floe-dagster" / "values.yaml")
    FloeDagsterValues.model_validate(values)
    for budgets in ({"webserver": {"maxUnavailable": 0}}, {"webserver": {"minAvailable": 1}},
                    {"workers": {"minAvailable": 2, "selector": {"floe.dev/component": "run-worker"}}}):
        with pytest.raises(ValidationError):
            FloeDagsterValues.model_validate(deep_merge(values, {"disruptionBudgets": budgets}))
