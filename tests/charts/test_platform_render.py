"""floe platform render: values generated from the artifacts, rendered offline, no secret in them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from floe.errors import FloeError
from tests.charts.helm_support import CHARTS_DIR, REPO_ROOT

FIXTURE = REPO_ROOT / "tests" / "fixtures" / "artifacts" / "v1_minimal.json"


def _artifacts(tmp_path: Path, *, storage: dict | None = None, memory_limit: str | None = None,
               env: str = "prod") -> Path:
    document = json.loads(FIXTURE.read_text(encoding="utf-8"))
    document["environment_name"] = env
    document["environment"]["orchestrator"]["storage"] = storage or {
        "type": "postgres", "host": "pg.internal", "port": 5433, "user": "dagster", "database": "dagster",
        "password": {"secret_ref": "FLOE_PG_PASSWORD"}, "sslmode": "require"}
    document["environment"]["compute"]["memory_limit"] = memory_limit
    path = tmp_path / ".floe" / "artifacts.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def test_render_writes_values_from_the_artifacts_and_the_manifests(tmp_path):
    from floe.platform.helm.render import render_environment

    artifacts = _artifacts(tmp_path, memory_limit="2GB")
    result = render_environment(artifacts, CHARTS_DIR, tmp_path / "out", release="shop", namespace="data")
    values = yaml.safe_load(result.values_path.read_text(encoding="utf-8"))
    postgresql = values["floe-dagster"]["dagster"]["postgresql"]
    assert postgresql["postgresqlHost"] == "pg.internal" and postgresql["service"] == {"port": 5433}
    assert postgresql["postgresqlParams"] == {"sslmode": "require"}
    assert json.loads(values["floe-dagster"]["artifacts"]["json"])["environment_name"] == "prod"
    assert "ConfigMap/floe-artifacts" in result.objects and "Job/shop-floe-preflight" in result.objects
    assert any("official dagster chart" in note for note in result.notes)  # offline here
    manifests = result.manifests_path.read_text(encoding="utf-8")
    assert "FLOE_PG_PASSWORD" in manifests  # the name, inside the artifacts
    # Only references: the artifacts' secret_ref and the migrate hook's environment variable.
    assert "password:" not in manifests.replace('"password": {', "").replace("password: {env: DAGSTER_PG_PASSWORD}", "")
    floe_own = values["floe-dagster"]["postgresql"]  # floe's block, from the same platform.yaml storage
    assert floe_own == {"host": "pg.internal", "port": 5433, "user": "dagster", "database": "dagster",
                        "params": {"sslmode": "require"}}


def test_render_refuses_sqlite_storage_on_kubernetes(tmp_path):
    from floe.platform.helm.render import render_environment

    artifacts = _artifacts(tmp_path, storage={"type": "sqlite", "path": ".floe/dagster"})
    with pytest.raises(FloeError, match="SQLite") as caught:
        render_environment(artifacts, CHARTS_DIR, tmp_path / "out")
    assert "type: postgres" in (caught.value.hint or "")


def test_render_refuses_a_duckdb_memory_limit_larger_than_the_run_pods(tmp_path):
    from floe.platform.helm.render import render_environment

    artifacts = _artifacts(tmp_path, memory_limit="8GB")  # prod run pods are limited to 4Gi
    with pytest.raises(FloeError, match="does not fit in run pods limited to 4Gi"):
        render_environment(artifacts, CHARTS_DIR, tmp_path / "out")


def test_memory_quantities():
    from floe.platform.helm.generate import memory_bytes

    assert memory_bytes("4Gi") == 4 * 2**30
    assert memory_bytes("3GB") == 3 * 10**9
    assert memory_bytes("500Mi") == 500 * 2**20
    with pytest.raises(FloeError):
        memory_bytes("lots")


def test_cli_platform_is_registered_and_renders(tmp_path, floe):
    artifacts = _artifacts(tmp_path)
    done = floe("platform", "--help", cwd=tmp_path)
    assert done.returncode == 0 and "render" in done.stdout and "deploy" in done.stdout
    from floe.platform.helm.render import deploy_environment

    result = deploy_environment(artifacts, CHARTS_DIR, tmp_path / "out", dry_run=True)
    assert result.manifests_path.is_file()


def test_cli_finds_the_charts_above_the_project(tmp_path, floe):
    repo = tmp_path / "repo"
    project = repo / "pipelines" / "shop"
    project.mkdir(parents=True)
    (repo / "charts").symlink_to(CHARTS_DIR, target_is_directory=True)
    _artifacts(project)  # only the compiled artifacts, as in CI after 'floe compile'
    done = floe("platform", "render", "--env", "prod", cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (project / ".floe" / "platform").is_dir() and "manifests:" in done.stdout
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / ".floe").mkdir(parents=True)
    (elsewhere / ".floe" / "artifacts.json").write_text((project / ".floe" / "artifacts.json").read_text())
    lost = floe("platform", "render", "--env", "prod", cwd=elsewhere)
    assert lost.returncode == 1 and "--charts" in lost.stderr
