"""The pre-install/pre-upgrade hooks of floe-dagster, as Helm would order and re-create them.

Helm runs hooks by ascending weight and waits for each Job: the ExternalSecret (-10), the hook
ConfigMaps (-5), the preflight (0), then floe's migrate Job (5). ``before-hook-creation`` deletes
the previous release's hook Job first, so each upgrade creates a fresh Job and an immutable pod
template never blocks a new image. The real migration is run in tests/integration/test_dagster_upgrade.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from floe.platform.helm.dagster_values import FloeDagsterValues
from tests.charts.helm_support import (
    NAMESPACE,
    RELEASE,
    build_charts,
    deep_merge,
    env_values,
    find,
    helm,
    parse_rendered,
    pod_specs,
    release_values,
    render,
)


def _dagster(charts_root: Path, env: str = "prod", **override: Any) -> list[dict[str, Any]]:
    return render("floe-dagster", deep_merge(env_values("floe-dagster", env), override), charts_root)


def _hook(document: dict[str, Any]) -> tuple[str, int, str]:
    annotations = document["metadata"]["annotations"]
    return (annotations["helm.sh/hook"], int(annotations["helm.sh/hook-weight"]),
            annotations["helm.sh/hook-delete-policy"])


def test_migrate_runs_after_the_preflight_and_is_recreated_by_every_release(charts_root):
    documents = _dagster(charts_root)
    preflight, migrate = find(documents, "Job", "-preflight"), find(documents, "Job", "-migrate")
    instance = find(documents, "ConfigMap", "-migrate-instance")
    external = find(documents, "ExternalSecret")
    assert _hook(migrate) == ("pre-install,pre-upgrade", 5, "before-hook-creation")
    assert _hook(instance)[:2] == ("pre-install,pre-upgrade", -5)
    assert "before-hook-creation" in _hook(instance)[2]
    assert _hook(external)[1] < _hook(instance)[1] < _hook(preflight)[1] < _hook(migrate)[1]
    assert migrate["metadata"]["name"] == f"{RELEASE}-floe-migrate"
    container = pod_specs(migrate)[0]["containers"][0]
    assert container["args"][0].rstrip().endswith("exec dagster instance migrate")
    password = next(e for e in container["env"] if e["name"] == "DAGSTER_PG_PASSWORD")
    assert password["valueFrom"]["secretKeyRef"] == {"name": "floe-dagster-postgresql", "key": "postgresql-password"}
    # The instance file names floe's postgresql block (prod: the RDS host, sslmode require).
    instance_yaml = instance["data"]["dagster.yaml"]
    assert "floe-prod.cluster-abc.eu-west-1.rds.amazonaws.com" in instance_yaml and "sslmode: require" in instance_yaml


def test_the_preflight_expects_the_pending_migration_only_when_floe_migrates(charts_root):
    def hook_env(documents):
        container = pod_specs(find(documents, "Job", "-preflight"))[0]["containers"][0]
        return {e["name"]: e.get("value") for e in container["env"]}

    assert hook_env(_dagster(charts_root))["FLOE_PREFLIGHT_BEFORE_MIGRATE"] == "true"
    without = _dagster(charts_root, migrate={"enabled": False})
    assert "FLOE_PREFLIGHT_BEFORE_MIGRATE" not in hook_env(without)
    assert not [d for d in without if d["metadata"]["name"].endswith("-migrate")]


def test_hook_names_do_not_change_between_revisions(charts_root):
    values = env_values("floe-dagster", "prod")
    names = []
    for revision in (1, 2):
        with helm.Chart.load(str(charts_root / "floe-dagster")) as chart:
            rendered = chart.render(values, name=RELEASE, namespace=NAMESPACE, revision=revision,
                                    is_install=revision == 1, is_upgrade=revision > 1)
        names.append(sorted(d["metadata"]["name"] for d in parse_rendered(rendered) if d["kind"] == "Job"))
    assert names[0] == names[1] == [f"{RELEASE}-floe-migrate", f"{RELEASE}-floe-preflight"]


def test_both_migrations_at_once_are_refused(charts_root):
    both = {"dagster": {"migrate": {"enabled": True}}}
    with pytest.raises(Exception, match=re.escape("dagster.migrate.enabled and migrate.enabled are both on")):
        _dagster(charts_root, **both)
    with pytest.raises(ValueError, match=re.escape("dagster.migrate.enabled and migrate.enabled are both on")):
        FloeDagsterValues.model_validate(both)
    FloeDagsterValues.model_validate({**both, "migrate": {"enabled": False}})  # the official Job alone is allowed


def test_with_the_official_chart_only_floes_migrate_job_renders(tmp_path):
    """The official chart's fixed-name migrate Job stays off in every values file."""
    root = build_charts(tmp_path / "charts", with_official_chart=True)
    for env in ("dev", "prod", "demo"):
        documents = render("floe-dagster", release_values("floe-dagster", env), root)
        jobs = sorted(d["metadata"]["name"] for d in documents if d["kind"] == "Job")
        assert jobs == [f"{RELEASE}-floe-migrate", f"{RELEASE}-floe-preflight"], (env, jobs)


def test_hook_pods_wait_for_the_secret_the_external_secret_creates(charts_root):
    """Creating the ExternalSecret first is not enough: the operator writes the Secret later. A
    required volume makes the kubelet hold the hook pod until it exists (activeDeadlineSeconds
    bounds the wait); without an ExternalSecret the Secret stays optional."""
    def secret_volume(documents):
        volumes = pod_specs(find(documents, "Job", "-preflight"))[0]["volumes"]
        return next(v for v in volumes if v["name"] == "floe-secrets")["secret"]

    assert secret_volume(_dagster(charts_root)) == {"secretName": "floe-secrets", "optional": False}
    assert secret_volume(_dagster(charts_root, "dev"))["optional"] is True


def test_floe_jobs_pods_wait_for_their_external_secret_too(charts_root):
    values = deep_merge(env_values("floe-jobs", "prod"), {
        "jobs": [{"name": "backfill", "kind": "dbt"}],
        "secrets": {"externalSecret": {"enabled": True, "secretStoreRef": {"name": "vault"},
                                       "data": [{"secretKey": "FLOE_PG_PASSWORD", "remoteKey": "floe/pg"}]}}})
    documents = render("floe-jobs", values, charts_root)
    for document in documents:
        for spec in pod_specs(document):
            secret = next(v for v in spec["volumes"] if v["name"] == "floe-secrets")["secret"]
            assert secret["optional"] is False, document["metadata"]["name"]
    assert find(documents, "ExternalSecret")["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
