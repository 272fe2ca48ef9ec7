"""floe's own containers of a rendered release, run on this machine as a cluster would run them.

Each test takes a pod spec from the rendered manifests, materialises its volumes and env
(tests/rehearsal/pods.py), runs its init containers and then its container's command in the
floe image's environment (tests/rehearsal/image.py), against PostgreSQL and moto's S3.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.helm_support import find, pod_specs
from tests.rehearsal.conftest import BUCKET, ENVIRONMENT, Release, Services
from tests.rehearsal.pods import Image, Pod, stop
from tests.support.servers import free_port

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def _pod(document: dict[str, Any], release: Release, image: Image, base: Path) -> Pod:
    specs = pod_specs(document)
    assert len(specs) == 1
    return Pod(specs[0], release.cluster, image, base)


def test_the_user_code_server_answers_and_lists_floes_definitions(release: Release, image: Image,
                                                                  tmp_path: Path) -> None:
    from dagster._grpc.client import DagsterGrpcClient

    deployment = find(release.dagster, "Deployment", "user-deployments-floe")
    pod = _pod(deployment, release, image, tmp_path)
    pod.init()
    container = pod.spec["containers"][0]
    declared = container["args"][container["args"].index("-p") + 1]
    port = str(free_port())  # the manifest's port may be taken on this shared machine
    server = pod.start(container["name"], log=tmp_path / "server.log", replace={declared: port})
    try:
        probe = [port if word == declared else word for word in container["readinessProbe"]["exec"]["command"]]
        deadline = time.monotonic() + 240  # generous: two loaded cores, Dagster and dbt imports
        while True:
            checked = pod.exec(container["name"], probe)
            if checked.returncode == 0 or time.monotonic() > deadline or server.poll() is not None:
                break
            time.sleep(2)
        log = (tmp_path / "server.log").read_text(errors="replace")
        assert checked.returncode == 0, f"health check: {checked.stdout}{checked.stderr}\nserver log:\n{log[-4000:]}"
        # The probe exits 0 only when the gRPC health service says SERVING; ask it directly as well.
        assert DagsterGrpcClient(port=int(port), host="127.0.0.1").health_check_query() == "SERVING"
        repositories = _repositories(int(port))
    finally:
        stop(server)
    jobs = {name for repo in repositories.values() for name in repo["jobs"]}
    assets = {key for repo in repositories.values() for key in repo["assets"]}
    assert "marts" in jobs  # floe.yaml's job
    assert {"bronze/orders", "stg_orders"} <= assets, sorted(assets)[:20]
    # The definitions come from the mounted artifacts: dbt targets the mounted environment, not
    # the one the image was compiled for.
    targets = {repo["resources"]["dbt"]["target"].strip('"') for repo in repositories.values()}
    assert targets == {ENVIRONMENT}, repositories


def _repositories(port: int) -> dict[str, dict[str, Any]]:
    """What Dagster's webserver would load from the code server: jobs and asset keys per repository."""
    from dagster import DagsterInstance
    from dagster._core.remote_origin import GrpcServerCodeLocationOrigin

    origin = GrpcServerCodeLocationOrigin(host="127.0.0.1", port=port, location_name="floe")
    with DagsterInstance.ephemeral() as instance, origin.create_location(instance) as location:
        return {name: {"jobs": [job.name for job in repo.get_all_jobs()],
                       "assets": [node.asset_key.to_user_string() for node in repo.get_asset_node_snaps()],
                       "resources": {resource.name: {key: str(value) for key, value in
                                                     resource.configured_values.items()}
                                     for resource in repo.get_resources()}}
                for name, repo in location.get_repositories().items()}


def test_the_preflight_hook_passes_against_the_environment_services(release: Release, image: Image,
                                                                    services: Services, tmp_path: Path) -> None:
    job = find(release.dagster, "Job", "preflight")
    assert job["metadata"]["annotations"]["helm.sh/hook"].startswith("pre-install")
    pod = _pod(job, release, image, tmp_path)
    pod.init()
    container = pod.spec["containers"][0]
    done = pod.run(container["name"], timeout=300)
    assert done.returncode == 0, f"preflight failed:\n{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
    report = json.loads(done.stdout)
    assert report["environment"] == ENVIRONMENT, "the hook read the mounted artifacts, not the image's"
    statuses = {check["check"]: check["status"] for check in report["checks"]}
    for service in ("compute", "storage", "catalog"):
        ran = [name for name, status in statuses.items() if name.startswith(service) and status == "ok"]
        assert ran, f"no {service} check passed: {statuses}"
    # A new install: Dagster's database is reachable and still empty (its tables come with the daemon).
    postgres = next(check for check in report["checks"] if check["check"] == "postgres.dagster")
    assert postgres["status"] == "warning" and "no Dagster schema yet" in postgres["message"], postgres
    # The storage probe really went to the stand-in S3.
    assert services.s3_endpoint in json.dumps(report)


def _camel(value: Any) -> Any:
    """Dagster's snake_case container context (volume_mounts, mount_path) as Kubernetes' camelCase."""
    if isinstance(value, dict):
        return {re.sub(r"_([a-z])", lambda m: m.group(1).upper(), key): _camel(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_camel(item) for item in value]
    return value


def run_pod_spec(release: Release, command: list[str]) -> dict[str, Any]:
    """The pod K8sRunLauncher starts for a run, from what the release gives it.

    The code location passes its container context (includeConfigInLaunchedRuns: env, env
    ConfigMaps, volumes, mounts, the stage-floe-state init container) with every run; the
    instance's run launcher adds its own pod spec config, DAGSTER_HOME with the instance
    ConfigMap mounted there, and the PostgreSQL password Secret, as dagster-k8s builds a run
    Job. The container runs ``command`` in place of ``dagster api execute_run`` (which needs a
    run created by the webserver or daemon).
    """
    deployment = find(release.dagster, "Deployment", "user-deployments-floe")
    server = pod_specs(deployment)[0]["containers"][0]
    raw = next(item["value"] for item in server["env"] if item["name"] == "DAGSTER_CLI_API_GRPC_CONTAINER_CONTEXT")
    context = json.loads(raw)["k8s"]
    instance_map = find(release.dagster, "ConfigMap", "dagster-instance")
    launcher = yaml.safe_load(instance_map["data"]["dagster.yaml"])["run_launcher"]["config"]
    init = {c["name"]: c for c in launcher["run_k8s_config"]["pod_spec_config"]["initContainers"]}
    init.update({c["name"]: c for c in context["run_k8s_config"]["pod_spec_config"]["init_containers"]})
    env_from = [{"configMapRef": {"name": name}}
                for name in [*launcher.get("env_config_maps", []), *context.get("env_config_maps", [])]]
    env = [{"name": "DAGSTER_HOME", "value": launcher["dagster_home"]},
           {"name": "DAGSTER_PG_PASSWORD", "valueFrom": {"secretKeyRef": {
               "name": launcher["postgres_password_secret"], "key": "postgresql-password"}}},
           *context["env"]]
    mounts = [{"name": "dagster-instance", "mountPath": f"{launcher['dagster_home']}/dagster.yaml",
               "subPath": "dagster.yaml"}, *_camel(context["volume_mounts"])]
    volumes = [{"name": "dagster-instance", "configMap": {"name": launcher["instance_config_map"]}},
               *_camel(context["volumes"])]
    container = {"name": "dagster", "command": command, "env": env, "envFrom": env_from, "volumeMounts": mounts,
                 "securityContext": launcher["security_context"]}
    return {"initContainers": list(init.values()), "containers": [container], "volumes": volumes}


def _runs_in(services: Services) -> int:
    """Successful runs in Dagster's PostgreSQL (none before Dagster created its tables)."""
    import psycopg2

    with psycopg2.connect(f"{services.postgres_dsn} dbname={services.dagster_database}") as connection, \
            connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass('public.runs') IS NOT NULL")
        row = cursor.fetchone()
        if not row or not row[0]:
            return 0
        cursor.execute("SELECT count(*) FROM runs WHERE status = 'SUCCESS'")
        row = cursor.fetchone()
        return int(row[0]) if row else 0


def _lakehouse_objects(services: Services) -> int:
    import boto3

    s3 = boto3.client("s3", endpoint_url=services.s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal")
    return int(s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0))


def _assert_ran_from_mounted_artifacts(done: subprocess.CompletedProcess[str], pod: Pod, mounted: str) -> None:
    output = f"{done.stdout[-4000:]}\n{done.stderr[-6000:]}"
    assert done.returncode == 0, output
    assert "compiled (" not in done.stderr, "the pod recompiled the image's project"
    assert "using the compiled artifacts at" in done.stderr and "($FLOE_ARTIFACTS_PATH)" in done.stderr, output
    staged = json.loads((pod.volumes["floe-state"] / "artifacts.json").read_text(encoding="utf-8"))
    assert staged == json.loads(mounted), "the staged artifacts are the ConfigMap's, unchanged by the run"
    assert (pod.volumes["floe-run-state"] / "warehouse.duckdb").is_file(), "the run state is in its volume"


def test_a_run_pod_stages_the_artifacts_and_runs_from_them(release: Release, image: Image, services: Services,
                                                           mounted_artifacts: str, tmp_path: Path) -> None:
    runs = _runs_in(services)
    objects = _lakehouse_objects(services)
    pod = Pod(run_pod_spec(release, ["floe", "run", "--job", "marts"]), release.cluster, image, tmp_path)
    pod.init()
    staged = pod.volumes["floe-state"]
    assert (staged / "dbt" / "manifest.json").is_file(), "the image's compiled files were staged"
    done = pod.run("dagster", timeout=600)
    _assert_ran_from_mounted_artifacts(done, pod, mounted_artifacts)
    assert f"environment {ENVIRONMENT}" in done.stderr
    # Only the mounted environment knows these services: the run recorded itself in Dagster's
    # PostgreSQL and landed the bronze tables in the S3 stand-in.
    assert _runs_in(services) == runs + 1
    assert _lakehouse_objects(services) > objects


def test_a_run_worker_executes_a_job_with_the_instance_the_chart_mounts(release: Release, image: Image,
                                                                        services: Services, tmp_path: Path) -> None:
    # What 'dagster api execute_run' does in a run pod, short of a run created by the daemon:
    # load the code location's module and execute a job in this process, on the Dagster
    # instance of $DAGSTER_HOME (the instance ConfigMap: PostgreSQL storage, K8sRunLauncher).
    deployment = find(release.dagster, "Deployment", "user-deployments-floe")
    server_args = pod_specs(deployment)[0]["containers"][0]["args"]
    module = server_args[server_args.index("--module-name") + 1]
    pod = Pod(run_pod_spec(release, ["dagster", "job", "execute", "-m", module, "-j", "marts"]), release.cluster,
              image, tmp_path)
    pod.init()
    runs = _runs_in(services)
    done = pod.run("dagster", timeout=600)
    assert done.returncode == 0, f"{done.stdout[-4000:]}\n{done.stderr[-6000:]}"
    assert _runs_in(services) == runs + 1, "the run is in the PostgreSQL of the chart's instance"
    # The instance names K8sRunLauncher: Dagster imports its class from dagster-k8s (building it
    # needs a cluster's service account, which only a cluster has).
    probe = ("import os; from importlib import import_module; from dagster._core.instance.ref import InstanceRef; "
             "data = InstanceRef.from_dir(os.environ['DAGSTER_HOME']).run_launcher_data; "
             "print(getattr(import_module(data.module_name), data.class_name).__name__)")
    launcher = pod.exec("dagster", ["python", "-c", probe])
    assert launcher.stdout.strip() == "K8sRunLauncher", launcher.stderr[-3000:]


def test_a_floe_jobs_pipeline_job_runs_from_the_mounted_artifacts(release: Release, image: Image,
                                                                 services: Services, mounted_artifacts: str,
                                                                 tmp_path: Path) -> None:
    job = find(release.jobs, "Job", "-land-r1")
    container = pod_specs(job)[0]["containers"][0]
    assert container["command"][:3] == ["floe", "demo", "run"]
    runs = _runs_in(services)
    objects = _lakehouse_objects(services)
    pod = _pod(job, release, image, tmp_path)
    pod.init()
    done = pod.run(container["name"], timeout=600)
    _assert_ran_from_mounted_artifacts(done, pod, mounted_artifacts)
    assert "batch run   1" in done.stdout and "FAILED" not in done.stdout, done.stdout
    assert _lakehouse_objects(services) > objects, "the batch landed in the S3 stand-in"
    assert _runs_in(services) == runs + 1, "the batch's run is in Dagster's PostgreSQL"
