"""floe's own containers of a rendered release, run on this machine as a cluster would run them.

Each test takes a pod spec from the rendered manifests, materialises its volumes and env
(tests/rehearsal/pods.py), runs its init containers and then its container's command in the
floe image's environment (tests/rehearsal/image.py), against PostgreSQL and moto's S3.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from tests.charts.helm_support import find, pod_specs
from tests.rehearsal.conftest import ENVIRONMENT, Release, Services
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
        probe_pod = dict(container, command=probe, args=[])
        pod.spec["containers"].append(dict(probe_pod, name="probe"))
        deadline = time.monotonic() + 240
        while True:
            checked = pod.run("probe", timeout=60)
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


def _repositories(port: int) -> dict[str, dict[str, list[str]]]:
    """What Dagster's webserver would load from the code server: jobs and asset keys per repository."""
    from dagster import DagsterInstance
    from dagster._core.remote_origin import GrpcServerCodeLocationOrigin

    origin = GrpcServerCodeLocationOrigin(host="127.0.0.1", port=port, location_name="floe")
    with DagsterInstance.ephemeral() as instance, origin.create_location(instance) as location:
        return {name: {"jobs": [job.name for job in repo.get_all_jobs()],
                       "assets": [node.asset_key.to_user_string() for node in repo.get_asset_node_snaps()]}
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
