"""The Job of a run, as dagster-k8s's own K8sRunLauncher builds it from a rendered release.

A real Dagster instance is opened from the rendered ``dagster.yaml`` (its run launcher section
verbatim), a run is given the job origin the code server would report (its image and the
container context of ``DAGSTER_CLI_API_GRPC_CONTAINER_CONTEXT``, taken from the rendered
Deployment), and the real ``K8sRunLauncher.launch_run`` builds the Job. Only the Kubernetes API
server cannot run here: ``jobs_api`` starts a small TEST DOUBLE of it on 127.0.0.1 that answers
the one call the launcher makes (create the Job) and keeps the body exactly as a cluster would
receive it.

Used by tests/charts/test_run_pod.py (assertions on the Job) and by the rehearsal
(tests/rehearsal, which runs the Job's pod on this machine).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

from tests.charts.helm_support import find, pod_specs

# The image's interpreter and project (docker/Dockerfile.dagster): what the code server reports.
IMAGE_PYTHON = "/opt/floe/venv/bin/python"
IMAGE_PROJECT = "/opt/floe/project"


@dataclass
class JobsApi:
    """The API double's address (as a kubeconfig) and the Jobs it was asked to create."""

    kubeconfig: Path
    created: list[dict[str, Any]] = field(default_factory=list)


class _JobsApiDouble(BaseHTTPRequestHandler):
    """TEST DOUBLE of the Kubernetes API server (none runs here): accepts ``create Job``."""

    server: _JobsServer  # the name http.server gives the owning server

    def do_POST(self) -> None:  # the name http.server dispatches to
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if not self.path.startswith("/apis/batch/v1/namespaces/") or not self.path.endswith("/jobs"):
            self.send_error(404, f"the double only creates Jobs, not {self.path}")
            return
        self.server.created.append(body)
        answer = json.dumps(body).encode()
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return


class _JobsServer(ThreadingHTTPServer):
    created: list[dict[str, Any]]


@contextmanager
def jobs_api(directory: Path) -> Iterator[JobsApi]:
    """The API double serving, with a kubeconfig in ``directory`` pointing at it; the Kubernetes
    client's default configuration (which loading a kubeconfig replaces) is restored afterwards."""
    import kubernetes

    server = _JobsServer(("127.0.0.1", 0), _JobsApiDouble)
    api = JobsApi(directory / "kubeconfig")
    server.created = api.created
    threading.Thread(target=server.serve_forever, daemon=True).start()
    cluster = {"name": "double", "cluster": {"server": f"http://127.0.0.1:{server.server_port}"}}
    api.kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": [cluster], "users": [{"name": "u", "user": {}}],
        "contexts": [{"name": "c", "context": {"cluster": "double", "user": "u"}}], "current-context": "c",
    }), encoding="utf-8")
    previous = kubernetes.client.Configuration.get_default_copy()
    try:
        yield api
    finally:
        kubernetes.client.Configuration.set_default(previous)
        server.shutdown()
        server.server_close()


def instance_home(dagster_yaml: str, kubeconfig: Path, home: Path, *, release_storage: bool = False) -> Path:
    """The rendered instance config, runnable here: the launcher reaching the API double through a
    kubeconfig instead of the in-cluster service account, and, unless ``release_storage``, SQLite
    storage instead of the release's PostgreSQL (where the run is recorded is then not what is
    under test). The run launcher is otherwise verbatim."""
    config = yaml.safe_load(dagster_yaml)
    if not release_storage:
        for key in ("run_storage", "event_log_storage", "schedule_storage"):
            config.pop(key)
        config["storage"] = {"sqlite": {"base_dir": str(home / "storage")}}
    launcher = config["run_launcher"]["config"]
    assert launcher.pop("load_incluster_config") is True
    launcher.update(load_incluster_config=False, kubeconfig_file=str(kubeconfig))
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    return home


def code_server_origin(deployment: dict[str, Any], job_name: str) -> Any:
    """The origin of ``job_name`` as the code server of ``deployment`` reports it (``dagster api
    grpc`` reads its image from DAGSTER_CURRENT_IMAGE and its container context from the CLI's
    env var, present only when the code location passes its config to runs)."""
    from dagster._core.code_pointer import ModuleCodePointer
    from dagster._core.origin import DEFAULT_DAGSTER_ENTRY_POINT, JobPythonOrigin, RepositoryPythonOrigin

    container = pod_specs(deployment)[0]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    args = container["args"]
    module = args[args.index("--module-name") + 1]
    context = env.get("DAGSTER_CLI_API_GRPC_CONTAINER_CONTEXT")
    repository = RepositoryPythonOrigin(
        executable_path=IMAGE_PYTHON,
        code_pointer=ModuleCodePointer(module, "defs", working_directory=IMAGE_PROJECT),
        container_image=env["DAGSTER_CURRENT_IMAGE"],
        entry_point=DEFAULT_DAGSTER_ENTRY_POINT,
        container_context=json.loads(context) if context else None,
    )
    return JobPythonOrigin(job_name, repository)


def launch_run_job(documents: list[dict[str, Any]], api: JobsApi, home: Path, *, job_name: str = "floe_build",
                   release_storage: bool = False) -> dict[str, Any]:
    """The Job the release's run launcher creates for one run of ``job_name`` (``documents``: a
    rendered floe-dagster with the official chart). ``home`` is a fresh folder for the instance.

    With ``release_storage`` the run is created in the release's own storage, as the daemon
    creates it (the storage's password env var must be set), so the Job can really execute it."""
    from dagster import DagsterInstance
    from dagster._core.launcher import LaunchRunContext
    from dagster._core.storage.dagster_run import DagsterRun

    dagster_yaml = find(documents, "ConfigMap", "-dagster-instance")["data"]["dagster.yaml"]
    deployment = find(documents, "Deployment", "-user-deployments-floe")
    origin = code_server_origin(deployment, job_name)
    before = len(api.created)
    with DagsterInstance.from_config(str(instance_home(dagster_yaml, api.kubeconfig, home,
                                                                release_storage=release_storage))) as instance:
        run = instance.add_run(DagsterRun(job_name=job_name, job_code_origin=origin))
        instance.run_launcher.launch_run(LaunchRunContext(dagster_run=run, workspace=None))
    assert len(api.created) == before + 1, "the run launcher creates exactly one Job per run"
    return api.created[-1]
