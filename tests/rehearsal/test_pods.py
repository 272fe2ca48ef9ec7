"""floe's own containers of a rendered release, run on this machine as a cluster would run them.

Each test takes a pod spec from the rendered manifests (the run pod: from the Job dagster-k8s's
K8sRunLauncher builds for a run, see conftest.py ``run_job``), materialises its volumes and env
(tests/rehearsal/pods.py), runs its init containers and then its container's command in the
floe image's environment (tests/rehearsal/image.py), against PostgreSQL and moto's S3.

The tests run in an install's order on one database: the code server, the pre-install hooks
(preflight, then migrate, which creates Dagster's schema), runs, and the metrics exporter that
counts them. ``REHEARSED`` at the end names the test of every floe-image container.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from tests.charts.helm_support import RELEASE, find, floe_image_containers, pod_specs
from tests.rehearsal.conftest import BUCKET, ENVIRONMENT, RUN_JOB, Release, Services
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
    # A new install: Dagster's database is reachable and still empty (the migrate hook, next, creates its tables).
    postgres = next(check for check in report["checks"] if check["check"] == "postgres.dagster")
    assert postgres["status"] == "warning" and "no Dagster schema yet" in postgres["message"], postgres
    # The storage probe really went to the stand-in S3.
    assert services.s3_endpoint in json.dumps(report)


def test_the_migrate_hook_creates_dagsters_schema_and_a_second_run_changes_nothing(
        release: Release, image: Image, services: Services, tmp_path: Path) -> None:
    job = find(release.dagster, "Job", "-migrate")
    weights = {name: int(find(release.dagster, "Job", name)["metadata"]["annotations"]["helm.sh/hook-weight"])
               for name in ("-preflight", "-migrate")}
    assert weights["-preflight"] < weights["-migrate"], "Helm runs the preflight first, then the migration"
    # A new install: these tests run in the hooks' order, before anything opens Dagster's instance.
    assert _dagster_tables(services) == set(), "the database is new"
    container = pod_specs(job)[0]["containers"][0]
    first = _pod(job, release, image, tmp_path / "first").run(container["name"], timeout=300)
    assert first.returncode == 0, f"migrate failed:\n{first.stdout[-4000:]}\n{first.stderr[-4000:]}"
    tables = _dagster_tables(services)
    assert {"runs", "event_logs", "alembic_version", "jobs"} <= tables, sorted(tables)
    revision = _alembic_revision(services)
    assert revision
    # Every release re-creates the hook: on an up-to-date schema it must succeed and change nothing.
    again = _pod(job, release, image, tmp_path / "again").run(container["name"], timeout=300)
    assert again.returncode == 0, f"second migrate failed:\n{again.stdout[-4000:]}\n{again.stderr[-4000:]}"
    assert _dagster_tables(services) == tables and _alembic_revision(services) == revision


def _query(services: Services, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` in Dagster's PostgreSQL database."""
    import psycopg2

    with psycopg2.connect(f"{services.postgres_dsn} dbname={services.dagster_database}") as connection, \
            connection.cursor() as cursor:
        cursor.execute(sql, params)
        return list(cursor.fetchall())


def _dagster_tables(services: Services) -> set[str]:
    return {row[0] for row in _query(services, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def _alembic_revision(services: Services) -> str:
    return ",".join(sorted(row[0] for row in _query(services, "SELECT version_num FROM alembic_version")))


def _runs_in(services: Services) -> int:
    """Successful runs in Dagster's PostgreSQL (none before Dagster created its tables)."""
    if "runs" not in _dagster_tables(services):
        return 0
    return int(_query(services, "SELECT count(*) FROM runs WHERE status = 'SUCCESS'")[0][0])


def _lakehouse_objects(services: Services) -> int:
    import boto3

    s3 = boto3.client("s3", endpoint_url=services.s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="rehearsal", aws_secret_access_key="rehearsal")
    return int(s3.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0))


def _assert_ran_from_mounted_artifacts(done: subprocess.CompletedProcess[str], pod: Pod, mounted: str, *,
                                       floe_cli: bool = True) -> None:
    output = f"{done.stdout[-4000:]}\n{done.stderr[-6000:]}"
    assert done.returncode == 0, output
    assert "compiled (" not in done.stderr, "the pod recompiled the image's project"
    if floe_cli:  # the floe CLI says where its artifacts come from (Dagster's own CLI does not)
        assert "using the compiled artifacts at" in done.stderr and "($FLOE_ARTIFACTS_PATH)" in done.stderr, output
    staged = json.loads((pod.volumes["floe-state"] / "artifacts.json").read_text(encoding="utf-8"))
    assert staged == json.loads(mounted), "the staged artifacts are the ConfigMap's, unchanged by the run"
    assert (pod.volumes["floe-run-state"] / "warehouse.duckdb").is_file(), "the run state is in its volume"




def _run_pod(run_job: dict[str, Any], release: Release, image: Image, base: Path) -> Pod:
    """The pod of the Job dagster-k8s built for the run (conftest.py ``run_job``), verbatim."""
    return Pod(run_job["spec"]["template"]["spec"], release.cluster, image, base)


def test_a_run_pods_instance_is_the_one_its_run_was_created_in(release: Release, image: Image,
                                                                run_job: dict[str, Any], tmp_path: Path) -> None:
    # 'dagster api execute_run' opens the instance from the reference the launcher put in its
    # args (not from a file: the run pod mounts no dagster.yaml). Open it the same way, in the
    # run pod's env, where DAGSTER_PG_PASSWORD comes from the chart's Secret.
    pod = _run_pod(run_job, release, image, tmp_path)
    container = pod.spec["containers"][0]
    assert container["args"][:3] == ["dagster", "api", "execute_run"] and "command" not in container
    probe = ("import json, sys; from dagster import DagsterInstance; from dagster._grpc.types import ExecuteRunArgs; "
             "from dagster._serdes import deserialize_value; args = deserialize_value(sys.argv[1], ExecuteRunArgs); "
             "ref = args.instance_ref; instance = DagsterInstance.from_ref(ref); "
             "run = instance.get_run_by_id(args.run_id); "
             "print(json.dumps({'storage': ref.run_storage_data.class_name, "
             "'launcher': ref.run_launcher_data.class_name, 'job': run.job_name if run else None}))")
    done = pod.exec(container["name"], ["python", "-c", probe, container["args"][3]], timeout=120)
    assert done.returncode == 0, done.stderr[-4000:]
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen == {"storage": "PostgresRunStorage", "launcher": "K8sRunLauncher", "job": RUN_JOB}, seen


def test_a_run_pod_stages_the_artifacts_and_executes_its_run_from_them(
        release: Release, image: Image, services: Services, mounted_artifacts: str, run_job: dict[str, Any],
        tmp_path: Path) -> None:
    objects = _lakehouse_objects(services)
    pod = _run_pod(run_job, release, image, tmp_path)
    pod.init()
    assert (pod.volumes["floe-state"] / "dbt" / "manifest.json").is_file(), "the image's compiled files were staged"
    # The container's own command: the run was created by the launching instance, as the daemon
    # creates it, so 'dagster api execute_run' has a run to execute.
    done = pod.run(pod.spec["containers"][0]["name"], timeout=600)
    _assert_ran_from_mounted_artifacts(done, pod, mounted_artifacts, floe_cli=False)
    assert f'RUN_SUCCESS - Finished execution of run for "{RUN_JOB}"' in done.stderr, done.stderr[-4000:]
    run_id = run_job["metadata"]["labels"]["dagster/run-id"]
    status = _query(services, "SELECT status FROM runs WHERE run_id = %s", run_id)
    assert status == [("SUCCESS",)], f"{status}\n{done.stderr[-4000:]}"
    # Only the mounted environment knows the stand-in S3: the run landed the bronze tables there.
    assert _lakehouse_objects(services) > objects


def _pipeline_job(release: Release, name: str) -> dict[str, Any]:
    """A floe-jobs one-off Job by its job name (its object name ends in a content hash)."""
    found = [d for d in release.jobs if d["kind"] == "Job" and d["metadata"]["labels"].get("floe.dev/job") == name]
    assert len(found) == 1, f"one Job for floe-jobs' job {name}: {[d['metadata']['name'] for d in found]}"
    return found[0]


@pytest.mark.parametrize(("name", "command"), [("land", ["floe", "demo", "run"]),
                                               ("build", ["floe", "run", "--job"])])
def test_a_floe_jobs_pipeline_job_runs_from_the_mounted_artifacts(name: str, command: list[str], release: Release,
                                                                 image: Image, services: Services,
                                                                 mounted_artifacts: str, tmp_path: Path) -> None:
    job = _pipeline_job(release, name)
    container = pod_specs(job)[0]["containers"][0]
    assert container["command"][:len(command)] == command
    runs = _runs_in(services)
    objects = _lakehouse_objects(services)
    pod = _pod(job, release, image, tmp_path)
    pod.init()
    done = pod.run(container["name"], timeout=600)
    _assert_ran_from_mounted_artifacts(done, pod, mounted_artifacts)
    if name == "land":
        assert re.search(r"✓ batch \d+ \[", done.stdout) and "FAILED" not in done.stdout, done.stdout
        assert _lakehouse_objects(services) > objects, "the batch landed in the S3 stand-in"
    assert _runs_in(services) == runs + 1, "the Job's run is in Dagster's PostgreSQL"


def test_the_metrics_exporter_serves_the_instance_it_mounts(release: Release, image: Image, services: Services,
                                                            tmp_path: Path) -> None:
    deployment = find(release.dagster, "Deployment", "-metrics")
    pod = _pod(deployment, release, image, tmp_path)
    container = pod.spec["containers"][0]
    (declared,) = [str(p["containerPort"]) for p in container["ports"]]
    assert container["command"][-2:] == ["--port", declared]
    port = str(free_port())  # the manifest's port may be taken on this shared machine
    path = container["readinessProbe"]["httpGet"]["path"]
    server = pod.start(container["name"], log=tmp_path / "exporter.log", replace={declared: port})
    try:
        body, deadline = "", time.monotonic() + 180  # generous: two loaded cores, the Dagster import
        while "dagster_instance_up 1.0" not in body and time.monotonic() < deadline and server.poll() is None:
            time.sleep(2)
            body = _scrape(f"http://127.0.0.1:{port}{path}")
    finally:
        stop(server)
    log = (tmp_path / "exporter.log").read_text(errors="replace")
    assert "dagster_instance_up 1.0" in body, f"scrape:\n{body[-2000:]}\nexporter log:\n{log[-4000:]}"
    # The series read the release's PostgreSQL: the runs the earlier tests recorded are counted.
    succeeded = _runs_in(services)
    line = f'dagster_runs{{status="SUCCESS"}} {float(succeeded)}'
    assert "# TYPE dagster_runs gauge" in body and (succeeded == 0 or line in body), body[-3000:]


def _scrape(url: str) -> str:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return str(response.read().decode())
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return ""  # not listening yet


# Which test rehearses each floe-image container of the release: (kind, name without the release
# prefix or a content hash, container). A new floe-image container fails the test below until a
# rehearsal of it is added here.
REHEARSED = {
    ("Deployment", "dagster-user-deployments-floe", "stage-floe-state"):
        test_the_user_code_server_answers_and_lists_floes_definitions,
    ("Deployment", "dagster-user-deployments-floe", "dagster-user-deployments"):
        test_the_user_code_server_answers_and_lists_floes_definitions,
    ("Job", "floe-preflight", "stage-floe-state"): test_the_preflight_hook_passes_against_the_environment_services,
    ("Job", "floe-preflight", "preflight"): test_the_preflight_hook_passes_against_the_environment_services,
    ("Job", "floe-migrate", "migrate"): test_the_migrate_hook_creates_dagsters_schema_and_a_second_run_changes_nothing,
    ("Job", "floe-land", "stage-floe-state"): test_a_floe_jobs_pipeline_job_runs_from_the_mounted_artifacts,
    ("Job", "floe-land", "ingestion"): test_a_floe_jobs_pipeline_job_runs_from_the_mounted_artifacts,
    ("Job", "floe-build", "stage-floe-state"): test_a_floe_jobs_pipeline_job_runs_from_the_mounted_artifacts,
    ("Job", "floe-build", "dbt"): test_a_floe_jobs_pipeline_job_runs_from_the_mounted_artifacts,
    ("Deployment", "floe-metrics", "exporter"): test_the_metrics_exporter_serves_the_instance_it_mounts,
    # The run pod is no manifest: dagster-k8s builds its Job from the instance ConfigMap per run.
    ("Job", "dagster-run", "stage-floe-state"): test_a_run_pod_stages_the_artifacts_and_executes_its_run_from_them,
    ("Job", "dagster-run", "dagster"): test_a_run_pod_stages_the_artifacts_and_executes_its_run_from_them,
}


def _workload_name(document: dict[str, Any]) -> str:
    labels = document["metadata"].get("labels", {})
    if "dagster/run-id" in labels:
        return "dagster-run"
    name = document["metadata"]["name"].removeprefix(f"{RELEASE}-")
    digest = labels.get("floe.dev/content-hash")
    return name.removesuffix(f"-{digest}") if digest else name


def test_every_floe_image_container_of_the_release_is_rehearsed(release: Release, run_job: dict[str, Any]) -> None:
    documents = [*release.dagster, *release.jobs, run_job]
    by_name = {(d["kind"], d["metadata"]["name"]): _workload_name(d) for d in documents}
    rendered = {(kind, by_name[(kind, name)], container)
                for kind, name, container in floe_image_containers(documents)}
    assert rendered == set(REHEARSED), (f"not rehearsed: {sorted(rendered - set(REHEARSED))}; "
                                        f"rehearsed but no longer rendered: {sorted(set(REHEARSED) - rendered)}")
