"""floe platform render: values generated from the artifacts, rendered offline, no secret in them."""

from __future__ import annotations

import json
import shutil
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
    postgresql = values["dagster"]["postgresql"]  # the umbrella's own official chart
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
                        "params": {"sslmode": "require"}, "secretName": "floe-dagster-postgresql",
                        "passwordKey": "postgresql-password"}


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


@pytest.mark.process
def test_cli_platform_is_registered_and_renders(tmp_path, floe):
    artifacts = _artifacts(tmp_path)
    done = floe("platform", "--help", cwd=tmp_path)
    assert done.returncode == 0 and "render" in done.stdout and "deploy" in done.stdout
    from floe.platform.helm.render import deploy_environment

    result = deploy_environment(artifacts, CHARTS_DIR, tmp_path / "out", dry_run=True)
    assert result.manifests_path.is_file()


@pytest.mark.process
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


# --- the umbrella as installed: the official chart inside, bad values refused -----------------

def _charts_copy(tmp_path: Path, *, with_official_chart: bool, env_values: dict | None = None) -> Path:
    """A copy of charts/ as after 'helm dependency build charts/floe-runtime' (official chart from
    the reference copy), optionally with other values-prod.yaml for the umbrella."""
    from tests.charts.helm_support import add_official_chart, deep_merge, load_yaml

    charts = tmp_path / "charts"
    shutil.copytree(CHARTS_DIR, charts, ignore=shutil.ignore_patterns("charts", "Chart.lock"))
    if with_official_chart:
        add_official_chart(charts / "floe-runtime")
    if env_values is not None:
        path = charts / "floe-runtime" / "values-prod.yaml"
        path.write_text(yaml.safe_dump(deep_merge(load_yaml(path), env_values)), encoding="utf-8")
    return charts


def test_render_with_the_official_chart_writes_the_whole_release_with_one_floe_image(tmp_path):
    from floe.platform.helm.render import render_environment
    from tests.charts.helm_support import assert_whole_release, floe_images, require_official_chart

    require_official_chart()
    charts = _charts_copy(tmp_path, with_official_chart=True,
                          env_values={"floe-dagster": {"image": {"tag": "0.3.0"}}})
    result = render_environment(_artifacts(tmp_path, memory_limit="2GB"), charts, tmp_path / "out",
                                release="shop", namespace="data")
    assert not result.notes, result.notes
    documents = [d for d in yaml.safe_load_all(result.manifests_path.read_text(encoding="utf-8")) if d]
    assert_whole_release(documents)
    # One value (floe-dagster.image) fills the code location, both init containers, the hook, the Jobs.
    assert floe_images(documents) == {"floe/dagster:0.3.0"}
    instance = next(d for d in documents if d["metadata"]["name"] == "shop-dagster-instance")["data"]["dagster.yaml"]
    assert 'hostname: "pg.internal"' in instance and "port: 5433" in instance  # from the artifacts
    values = yaml.safe_load(result.values_path.read_text(encoding="utf-8"))
    assert "dagster" not in values["floe-dagster"]  # the umbrella's own official chart takes it
    assert values["dagster"]["postgresql"]["postgresqlHost"] == "pg.internal"


BAD_VALUES = [
    ({"dagster": {"enabled": False}}, "dagster.enabled is false"),
    ({"floe-dagster": {"dagster": {"enabled": True}}}, "floe-dagster.dagster.enabled is true"),
    ({"dagster": {"dagsterDaemon": {"enabled": False}}}, "dagster.dagsterDaemon.enabled is false"),
    ({"dagster": {"dagster-user-deployments": {"enabled": False}}}, "dagster.dagster-user-deployments.enabled"),
    ({"dagster": {"dagster-user-deployments": {"deployments": []}}},
     "dagster.dagster-user-deployments.deployments is empty"),
    ({"floe-dagster": {"enabled": False}}, "dagster.enabled is true while floe-dagster is disabled"),
]


BAD_IDS = ["dagster-off", "two-dagsters", "no-daemon", "no-user-code", "no-deployments", "dagster-without-floe"]


@pytest.mark.parametrize(("bad", "named"), BAD_VALUES, ids=BAD_IDS)
@pytest.mark.process
def test_cli_refuses_values_that_would_deploy_no_dagster(tmp_path, floe, bad, named):
    _assert_render_refuses(tmp_path, floe, bad, named)


def _assert_render_refuses(tmp_path: Path, floe, bad: dict, named: str) -> None:
    """`floe platform render` over prod values with ``bad`` merged in: exit 1 naming the value."""
    charts = _charts_copy(tmp_path, with_official_chart=False, env_values=bad)
    artifacts = _artifacts(tmp_path)
    done = floe("platform", "render", "--env", "prod", "--charts", str(charts), cwd=artifacts.parent.parent)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr.lower()
    assert named in done.stderr and "values-prod.yaml" in done.stderr and "hint:" in done.stderr, done.stderr
    assert not (artifacts.parent / "platform").exists()  # nothing half-written


@pytest.mark.parametrize(("bad", "named"), [
    ({"dagster": {"migrate": {"enabled": True}}}, "dagster.migrate.enabled and floe-dagster.migrate.enabled"),
    ({"floe-dagster": {"disruptionBudgets": {"webserver": {"maxUnavailable": 0}}}},
     "floe-dagster.disruptionBudgets.webserver.maxUnavailable"),
    ({"floe-dagster": {"ingress": {"enabled": True, "host": "d.example.com", "auth": {"type": None}}}},
     "floe-dagster.ingress"),
], ids=["two-migrations", "blocking-budget", "ingress-without-auth"])
@pytest.mark.process
def test_cli_names_a_value_the_charts_models_refuse(tmp_path, floe, bad, named):
    """A value a chart's model refuses is the user's mistake: exit 1 naming it, no traceback."""
    _assert_render_refuses(tmp_path, floe, bad, named)


@pytest.mark.process
def test_cli_renders_the_umbrella_without_dagster_when_asked_to(tmp_path, floe):
    """floe-dagster off (e.g. only the Jobs): no Dagster is wanted, so nothing is refused."""
    charts = _charts_copy(tmp_path, with_official_chart=False, env_values={
        "floe-dagster": {"enabled": False}, "dagster": {"enabled": False},
        "floe-jobs": {"artifacts": {"create": True}}})
    artifacts = _artifacts(tmp_path)
    done = floe("platform", "render", "--env", "prod", "--charts", str(charts), cwd=artifacts.parent.parent)
    assert done.returncode == 0, done.stderr


def test_floe_dagsters_own_connection_blocks_follow_the_artifacts():
    """floe-dagster's own postgresql/webserver blocks are filled from the same settings as the
    official chart's side (secret name and port included)."""
    from floe.contract.v1 import ArtifactsV1
    from floe.platform.helm.generate import _floe_owned_blocks

    document = json.loads(FIXTURE.read_text(encoding="utf-8"))
    document["environment"]["orchestrator"]["storage"] = {
        "type": "postgres", "host": "pg.internal", "port": 5433, "user": "dagster", "database": "runs",
        "password": {"secret_ref": "FLOE_PG_PASSWORD"}, "sslmode": "require"}
    storage = ArtifactsV1.model_validate(document).environment.orchestrator.storage
    chart = {"dagster": {"global": {"postgresqlSecretName": "shop-pg"},
                         "dagsterWebserver": {"service": {"port": 8080}}}}
    blocks = _floe_owned_blocks(storage, chart)
    assert blocks == {
        "postgresql": {"host": "pg.internal", "port": 5433, "user": "dagster", "database": "runs",
                       "params": {"sslmode": "require"}, "secretName": "shop-pg", "passwordKey": "postgresql-password"},
        "webserver": {"port": 8080}}


LAUNCHER_MEMORY = "dagster.runLauncher.config.k8sRunLauncher.resources.limits.memory"


def _charts_with(tmp_path: Path, env: str, override: dict) -> Path:
    """A copy of charts/ whose floe-runtime values-<env>.yaml has ``override`` merged in."""
    from tests.charts.helm_support import deep_merge, load_yaml

    charts = tmp_path / "charts"
    shutil.copytree(CHARTS_DIR, charts)
    values_file = charts / "floe-runtime" / f"values-{env}.yaml"
    values_file.write_text(yaml.safe_dump(deep_merge(load_yaml(values_file), override)), encoding="utf-8")
    return charts


def _launcher(resources: dict) -> dict:
    return {"dagster": {"runLauncher": {"config": {"k8sRunLauncher": resources}}}}


@pytest.mark.process
def test_cli_render_refuses_run_pods_smaller_than_duckdb_naming_the_value(tmp_path, floe):
    project = tmp_path / "shop"
    _artifacts(project, memory_limit="3GB")
    small = {"resources": {"requests": {"cpu": "1", "memory": "2Gi"}, "limits": {"cpu": "2", "memory": "3Gi"}}}
    charts = _charts_with(tmp_path, "prod", _launcher(small))
    done = floe("platform", "render", "--env", "prod", "--charts", str(charts), cwd=project)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    assert "does not fit in run pods limited to 3Gi" in done.stderr
    assert f"set {LAUNCHER_MEMORY} to at least 3815Mi" in done.stderr  # 3 GB / 0.75, in MiB
    assert not (project / ".floe" / "platform").exists()
    roomy = {"resources": {"limits": {"memory": "3815Mi"}}}
    charts = _charts_with(tmp_path / "roomy", "prod", _launcher(roomy))
    done = floe("platform", "render", "--env", "prod", "--charts", str(charts), cwd=project)
    assert done.returncode == 0, done.stdout + done.stderr


def test_render_follows_the_run_pods_effective_memory_limit(tmp_path):
    """dagster-k8s's precedence: the launcher's resources < its runK8sConfig.containerConfig
    resources < the code location's, when the location passes its config to runs."""
    from floe.platform.helm.render import render_environment

    artifacts = _artifacts(tmp_path, memory_limit="3GB")
    raw = _launcher({"runK8sConfig": {"containerConfig": {"resources": {"limits": {"memory": "2Gi"}}}}})
    with pytest.raises(FloeError, match="limited to 2Gi") as caught:
        render_environment(artifacts, _charts_with(tmp_path / "raw", "prod", raw), tmp_path / "out")
    assert "k8sRunLauncher.runK8sConfig.containerConfig.resources.limits.memory" in (caught.value.hint or "")
    location = yaml.safe_load((CHARTS_DIR / "floe-dagster" / "values.yaml").read_text(encoding="utf-8"))
    deployment = location["dagster"]["dagster-user-deployments"]["deployments"][0]
    deployment["includeConfigInLaunchedRuns"] = {"enabled": True}  # its 2Gi then replace the launcher's 4Gi
    passing = {"dagster": {"dagster-user-deployments": {"deployments": [deployment]}}}
    with pytest.raises(FloeError, match="limited to 2Gi") as caught:
        render_environment(artifacts, _charts_with(tmp_path / "passing", "prod", passing), tmp_path / "out")
    assert "dagster.dagster-user-deployments.deployments[0].resources.limits.memory" in (
        caught.value.hint or "")


def test_run_pod_memory_limits_without_limits_or_locations():
    from floe.platform.helm.generate import run_pod_memory_limits

    unbounded = run_pod_memory_limits({}, "dagster")
    assert unbounded == [(None, "dagster.runLauncher.config.k8sRunLauncher.resources.limits.memory")]
    launcher = {"runLauncher": {"config": {"k8sRunLauncher": {"resources": {"limits": {"memory": "4Gi"}}}}},
                "dagster-user-deployments": {"deployments": [
                    {"name": "a", "resources": {"limits": {"memory": "1Gi"}}},
                    {"name": "b", "includeConfigInLaunchedRuns": {"enabled": False}, "resources": {"limits": {}}}]}}
    assert [limit for limit, _ in run_pod_memory_limits(launcher, "dagster")] == ["1Gi", "4Gi"]
