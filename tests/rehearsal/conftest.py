"""The rehearsal's environment: the image, the services standing in for a cluster's, a release.

* ``image``: the floe image as folders (tests/rehearsal/image.py);
* ``services``: PostgreSQL (the shared server, two fresh databases: Dagster's storage and the
  Iceberg SQL catalog) and moto's S3 server with the lakehouse bucket;
* ``mounted_artifacts``: the demo project (the image's own) compiled for an environment
  ``rehearsal`` pointing at those services, the way CI compiles an environment's contract;
* ``release``: floe-dagster (with the official chart) and floe-jobs rendered with those
  artifacts, and the Secrets a user creates before installing (``floe-secrets`` with the
  platform's secret names, ``floe-dagster-postgresql`` with ``postgresql-password``).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pytest
import yaml

from tests.rehearsal.image import floe_image
from tests.rehearsal.pods import Cluster, Image

BUCKET = "floe-rehearsal-lakehouse"
ENVIRONMENT = "rehearsal"


@dataclass(frozen=True)
class Services:
    s3_endpoint: str
    dagster_database: str
    catalog_database: str
    postgres_dsn: str


@dataclass(frozen=True)
class Release:
    dagster: list[dict[str, Any]]
    jobs: list[dict[str, Any]]
    cluster: Cluster


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> Image:
    return floe_image(tmp_path_factory.mktemp("image"))


@pytest.fixture(scope="session")
def services(postgres_dsn: str) -> Iterator[Services]:
    import boto3

    from tests.support.postgres import scratch_database
    from tests.support.servers import moto_server

    # Per session, so per xdist worker: each worker's tests keep an install's order on their own databases.
    with scratch_database(postgres_dsn, "rehearsal_dagster") as dagster, \
            scratch_database(postgres_dsn, "rehearsal_catalog") as catalog, moto_server() as endpoint:
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="rehearsal",
                     aws_secret_access_key="rehearsal").create_bucket(Bucket=BUCKET)
        yield Services(endpoint, dagster, catalog, postgres_dsn)


def rehearsal_platform(services: Services) -> dict[str, Any]:
    """The shape of examples/environments' dev block, pointed at this machine's services."""
    return {"environments": {ENVIRONMENT: {
        "compute": {"type": "duckdb", "path": ".floe/warehouse.duckdb", "threads": 2},
        "catalog": {"type": "sql", "uri": f"postgresql://postgres@127.0.0.1:5432/{services.catalog_database}",
                    "password": {"secret_ref": "CATALOG_PG_PASSWORD"}},
        "storage": {"type": "s3", "bucket": BUCKET, "endpoint": services.s3_endpoint, "path_style": True,
                    "access_key_id": {"secret_ref": "WAREHOUSE_S3_ACCESS_KEY_ID"},
                    "secret_access_key": {"secret_ref": "WAREHOUSE_S3_SECRET_ACCESS_KEY"}},
        "orchestrator": {"storage": {"type": "postgres", "host": "127.0.0.1", "port": 5432, "user": "postgres",
                                     "database": services.dagster_database,
                                     "password": {"secret_ref": "DAGSTER_PG_PASSWORD"}}},
    }}}


# The values of the Secrets a user creates. The shared PostgreSQL trusts local connections, so
# the passwords only have to reach the client; moto accepts any key.
SECRET_VALUES = {"CATALOG_PG_PASSWORD": "rehearsal-catalog", "DAGSTER_PG_PASSWORD": "rehearsal-dagster",
                 "WAREHOUSE_S3_ACCESS_KEY_ID": "rehearsal", "WAREHOUSE_S3_SECRET_ACCESS_KEY": "rehearsal"}


@pytest.fixture(scope="session")
def mounted_artifacts(image: Image, services: Services, tmp_path_factory: pytest.TempPathFactory) -> str:
    """artifacts.json of the image's project compiled for ``rehearsal`` (what the ConfigMap carries)."""
    project = tmp_path_factory.mktemp("ci") / "project"
    shutil.copytree(image.root / "opt" / "floe" / "project", project)
    (project / "platform.yaml").write_text(yaml.safe_dump(rehearsal_platform(services)), encoding="utf-8")
    done = subprocess.run([str(image.venv / "bin" / "floe"), "compile", "--env", ENVIRONMENT, "--output",
                           str(project / "out")], cwd=project, capture_output=True, text=True, timeout=600,
                          check=False, env={"PATH": f"{image.venv / 'bin'}:/usr/bin:/bin", "HOME": str(project),
                                            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"})
    assert done.returncode == 0, done.stdout + done.stderr
    return (project / "out" / "artifacts.json").read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def release(mounted_artifacts: str, services: Services, tmp_path_factory: pytest.TempPathFactory) -> Release:
    from tests.charts.helm_support import build_charts, deep_merge, release_values, render, require_official_chart

    require_official_chart()  # skips, saying why, where ../shared is absent
    charts = build_charts(tmp_path_factory.mktemp("charts") / "charts", with_official_chart=True)
    mounted = {"artifacts": {"json": mounted_artifacts}}
    # The user's values for Dagster's external PostgreSQL: the official chart's (the instance
    # ConfigMap run pods and the metrics exporter mount) and floe's own block (the migrate hook),
    # as `floe platform render` writes both from the same settings.
    database = {"dagster": {"postgresql": {"postgresqlHost": "127.0.0.1", "postgresqlUsername": "postgres",
                                           "postgresqlDatabase": services.dagster_database}},
                "postgresql": {"host": "127.0.0.1", "port": 5432, "user": "postgres",
                               "database": services.dagster_database}}
    # Every optional container that runs the floe image is switched on, so the rehearsal has it.
    optional = {"monitoring": {"exporter": {"enabled": True}}}
    dagster_values = deep_merge(deep_merge(deep_merge(release_values("floe-dagster", "dev"), mounted), database),
                                optional)
    dagster = render("floe-dagster", dagster_values, charts)
    jobs_values = deep_merge(release_values("floe-jobs", "dev"), mounted)
    jobs_values["jobs"] = [{"name": "build", "kind": "dbt"}, {"name": "land", "kind": "ingestion"}]
    jobs = render("floe-jobs", jobs_values, charts)
    secrets = json.loads(mounted_artifacts)["secrets"]
    assert sorted(secrets) == sorted(SECRET_VALUES), "the Secret holds exactly the platform's secret names"
    dagster_password = {"postgresql-password": SECRET_VALUES["DAGSTER_PG_PASSWORD"]}
    cluster = Cluster(secrets={"floe-secrets": dict(SECRET_VALUES), "floe-dagster-postgresql": dagster_password})
    cluster.add_objects(dagster + jobs)
    return Release(dagster, jobs, cluster)


RUN_JOB = "marts"  # floe.yaml's job, the one run pods execute


@pytest.fixture(scope="session")
def run_job(release: Release, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The Job of one run of ``marts``, as the daemon would have it created.

    The run pod is not in the manifests: dagster-k8s's K8sRunLauncher builds it, from the
    instance ConfigMap, for each run. The real launcher builds it here (tests/charts/run_launch.py,
    a test double for the Kubernetes API only), on an instance with the release's PostgreSQL
    storage: the run is created there, as the daemon creates it, and the Job's ``dagster api
    execute_run`` can execute it. Requested only by the run tests, which come after the install
    hooks: opening that instance creates Dagster's schema, which the hooks must find absent.
    """
    pytest.importorskip("dagster_k8s", reason="dagster-k8s (extra k8s) is not installed")
    from tests.charts.run_launch import jobs_api, launch_run_job

    scratch = tmp_path_factory.mktemp("launch")
    password = release.cluster.secrets["floe-dagster-postgresql"]["postgresql-password"]
    with jobs_api(scratch) as api, _environ(DAGSTER_PG_PASSWORD=password):  # the daemon's env, from the Secret
        return launch_run_job(release.dagster, api, scratch / "dagster_home", job_name=RUN_JOB,
                              release_storage=True)


@contextmanager
def _environ(**values: str) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
