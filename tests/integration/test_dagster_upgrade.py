"""A Dagster upgrade through Helm goes through: preflight (hook mode) then floe's migrate hook.

Real parts: a Dagster schema on the PostgreSQL server at 127.0.0.1:5432 (a database of its own),
taken back five revisions with Dagster's own Alembic scripts (that drops the ``backfill_tags``
table and ``bulk_actions.job_name``: what an older Dagster left behind); ``floe preflight`` as the
pre-upgrade hook runs it (FLOE_PREFLIGHT_BEFORE_MIGRATE, as the chart sets it); and the migrate
hook's own shell command and dagster.yaml, rendered from charts/floe-dagster, run here with the
installed Dagster. Only the ConfigMap mount is replaced by a local folder.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.charts.helm_support import CHARTS_DIR, NAMESPACE, RELEASE, deep_merge, offline_overrides, parse_rendered
from tests.support.postgres import scratch_database

pytestmark = [pytest.mark.integration, pytest.mark.postgres]

OLDER_REVISION = "1aca709bba64"  # five revisions before 1.13's head: no backfill_tags, no bulk_actions.job_name
INSTANCE_MOUNT = "/etc/floe/dagster-instance"


@pytest.fixture
def dagster_database(postgres_dsn: str) -> Iterator[str]:
    with scratch_database(postgres_dsn, "floe_dagster_upgrade") as name:
        yield name


def _url(database: str) -> str:
    return f"postgresql+psycopg2://postgres@127.0.0.1:5432/{database}"


def _older_dagster_schema(database: str) -> None:
    """Dagster's current schema, then Alembic downgrade to OLDER_REVISION with Dagster's scripts."""
    import dagster_postgres.run_storage.run_storage as run_storage_module
    import sqlalchemy as sa
    from dagster._core.storage.sql import get_alembic_config, run_alembic_downgrade
    from dagster_postgres import DagsterPostgresStorage

    DagsterPostgresStorage(postgres_url=_url(database))  # creates and stamps the schema, as a webserver would
    engine = sa.create_engine(_url(database))
    try:
        # Some downgrades drop indexes CONCURRENTLY, which refuses to run inside a transaction.
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            run_alembic_downgrade(get_alembic_config(run_storage_module.__file__), connection, OLDER_REVISION)
    finally:
        engine.dispose()


def _schema(database: str) -> dict[str, Any]:
    import psycopg2

    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=database) as connection, \
            connection.cursor() as cursor:
        cursor.execute("SELECT version_num FROM alembic_version")
        revision = cursor.fetchone()[0]
        cursor.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'")
        tables = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT column_name FROM information_schema.columns WHERE table_name = 'bulk_actions'")
        bulk_columns = {row[0] for row in cursor.fetchall()}
    connection.close()
    return {"revision": revision, "backfill_tags": "backfill_tags" in tables, "job_name": "job_name" in bulk_columns}


def _rendered_hooks(database: str) -> list[dict[str, Any]]:
    import helm_python

    values = deep_merge(offline_overrides("floe-dagster"), {"postgresql": {
        "host": "127.0.0.1", "port": 5432, "user": "postgres", "database": database}})
    with helm_python.Chart.load(str(CHARTS_DIR / "floe-dagster")) as chart:
        chart.validate_schema(values)
        rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE, revision=2, is_upgrade=True)
    return parse_rendered(rendered)


def _project(tmp_path: Path, database: str) -> Path:
    from floe.scaffold import init_project

    root = init_project(tmp_path / "shop").root
    platform = root / "platform.yaml"
    document = yaml.safe_load(platform.read_text(encoding="utf-8"))
    for environment in document["environments"].values():
        environment["orchestrator"]["storage"] = {"type": "postgres", "host": "127.0.0.1", "port": 5432,
                                                  "user": "postgres", "database": database}
    platform.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return root


def _postgres_check(floe: Any, project: Path, **env: str) -> tuple[int, dict[str, Any]]:
    done = floe("preflight", "--check", "postgres", "--json", cwd=project, env=env)
    report = json.loads(done.stdout)
    (result,) = [check for check in report["checks"] if check["service"] == "postgres"]
    return done.returncode, result


def _run_migrate_hook(documents: list[dict[str, Any]], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """The migrate Job's container command with its rendered dagster.yaml (the mount: a local folder)."""
    instance_map = next(d for d in documents
                        if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("-migrate-instance"))
    mount = tmp_path / "dagster-instance"
    mount.mkdir()
    (mount / "dagster.yaml").write_text(instance_map["data"]["dagster.yaml"], encoding="utf-8")
    migrate_job = next(d for d in documents if d["kind"] == "Job" and d["metadata"]["name"].endswith("-migrate"))
    container = migrate_job["spec"]["template"]["spec"]["containers"][0]
    script = container["args"][0].replace(INSTANCE_MOUNT, str(mount))
    env = {e["name"]: e["value"] for e in container["env"] if "value" in e}
    env["DAGSTER_HOME"] = str(tmp_path / "dagster-home")
    env["DAGSTER_PG_PASSWORD"] = "unused-trust-auth"  # the Secret's value in the cluster
    bin_dir = str(Path(sys.executable).parent)
    return subprocess.run([*container["command"], script], env={**os.environ, **env,
                          "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"},
                          capture_output=True, text=True, timeout=300, check=False)


def test_an_upgrade_over_an_older_dagster_schema_goes_through(floe, tmp_path: Path, dagster_database: str) -> None:
    from floe.preflight.checks.orchestrator import dagster_schema_heads

    _older_dagster_schema(dagster_database)
    assert _schema(dagster_database) == {"revision": OLDER_REVISION, "backfill_tags": False, "job_name": False}
    project = _project(tmp_path, dagster_database)

    # Run by hand (or before any other release), a pending migration is an error, as before.
    code, plain = _postgres_check(floe, project)
    assert code == 1 and plain["status"] == "error", plain
    assert f"at revision {OLDER_REVISION}" in plain["message"]

    # As the pre-upgrade hook (the chart sets the variable when migrate.enabled): expected, a warning.
    documents = _rendered_hooks(dagster_database)
    preflight_job = next(d for d in documents if d["kind"] == "Job" and d["metadata"]["name"].endswith("-preflight"))
    hook_env = {e["name"]: e.get("value") for e in preflight_job["spec"]["template"]["spec"]["containers"][0]["env"]}
    code, hooked = _postgres_check(floe, project,
                                   FLOE_PREFLIGHT_BEFORE_MIGRATE=hook_env["FLOE_PREFLIGHT_BEFORE_MIGRATE"])
    assert code == 0 and hooked["status"] == "warning", hooked
    assert "the migrate hook that runs next migrates it" in hooked["message"]
    assert hooked["details"]["migration"] == "pending"

    # The migrate hook, as rendered: its dagster.yaml and its shell command, with the installed Dagster.
    done = _run_migrate_hook(documents, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _schema(dagster_database) == {"revision": next(iter(dagster_schema_heads())), "backfill_tags": True,
                                        "job_name": True}

    # After the hooks, the new version finds its schema: the plain preflight passes.
    code, after = _postgres_check(floe, project)
    assert code == 0 and after["status"] == "ok", after


def test_a_schema_from_a_newer_dagster_fails_even_in_hook_mode(floe, tmp_path: Path, dagster_database: str) -> None:
    """A downgrade is not a pending migration: the hook stops the release."""
    import psycopg2
    from dagster_postgres import DagsterPostgresStorage

    DagsterPostgresStorage(postgres_url=_url(dagster_database))
    with psycopg2.connect(host="127.0.0.1", user="postgres", dbname=dagster_database) as connection, \
            connection.cursor() as cursor:
        cursor.execute("UPDATE alembic_version SET version_num = 'ffffffffffff'")  # no Dagster we know wrote it
    connection.close()
    code, result = _postgres_check(floe, _project(tmp_path, dagster_database), FLOE_PREFLIGHT_BEFORE_MIGRATE="true")
    assert code == 1 and result["status"] == "error"
    assert "a newer Dagster migrated it" in result["message"]


def test_a_first_install_on_an_empty_database_creates_the_schema(floe, tmp_path: Path, dagster_database: str) -> None:
    """pre-install: no schema yet is a warning for the preflight, and the migrate hook creates it."""
    from floe.preflight.checks.orchestrator import dagster_schema_heads

    project = _project(tmp_path, dagster_database)
    code, empty = _postgres_check(floe, project, FLOE_PREFLIGHT_BEFORE_MIGRATE="true")
    assert code == 0 and empty["status"] == "warning" and "no Dagster schema yet" in empty["message"]
    done = _run_migrate_hook(_rendered_hooks(dagster_database), tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert _schema(dagster_database)["revision"] in dagster_schema_heads()
    code, after = _postgres_check(floe, project)
    assert code == 0 and after["status"] == "ok", after
