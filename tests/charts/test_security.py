"""Security defaults on every pod template floe renders, and no credential in any manifest."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.charts.helm_support import (
    CHARTS,
    CHARTS_DIR,
    ENVIRONMENTS,
    deep_merge,
    env_values,
    load_yaml,
    offline_overrides,
    pod_specs,
    render,
)

UID = 1000


def _all_documents(charts_root: Path):
    for chart in CHARTS:
        for env in ENVIRONMENTS:
            yield chart, env, render(chart, env_values(chart, env), charts_root)


def _effective(pod: dict, container: dict, key: str):
    return container.get("securityContext", {}).get(key, pod.get("securityContext", {}).get(key))


def test_every_pod_template_has_the_security_defaults(charts_root):
    pods_seen = 0
    for chart, env, documents in _all_documents(charts_root):
        for document in documents:
            for pod in pod_specs(document):
                pods_seen += 1
                where = f"{chart}/{env} {document['kind']}/{document['metadata']['name']}"
                volumes = {v["name"]: v for v in pod.get("volumes", [])}
                long_running = document["kind"] in {"Deployment", "StatefulSet"}
                for container in pod.get("initContainers", []) + pod["containers"]:
                    name = f"{where} container {container['name']}"
                    assert _effective(pod, container, "runAsNonRoot") is True, name
                    assert _effective(pod, container, "runAsUser") == UID, name
                    assert pod["securityContext"]["fsGroup"] == UID, name
                    context = container["securityContext"]
                    assert context["allowPrivilegeEscalation"] is False, name
                    assert context["capabilities"]["drop"] == ["ALL"], name
                    assert context["readOnlyRootFilesystem"] is True, name
                    assert _effective(pod, container, "seccompProfile") == {"type": "RuntimeDefault"}, name
                    for side in ("requests", "limits"):
                        assert {"cpu", "memory"} <= set(container["resources"][side]), f"{name} {side}"
                    image = container["image"]
                    tag = image.rsplit(":", 1)[-1] if ":" in image.rsplit("/", 1)[-1] else ""
                    assert tag and tag != "latest", f"{name}: image {image} is not pinned"
                    # Writable places are declared emptyDir (or Secret/ConfigMap read-only) volumes.
                    for mount in container.get("volumeMounts", []):
                        volume = volumes[mount["name"]]
                        assert "emptyDir" in volume or mount.get("readOnly"), f"{name}: {mount}"
                    if long_running:
                        assert "readinessProbe" in container and "livenessProbe" in container, name
    assert pods_seen >= 10


def test_every_pod_writes_only_to_size_limited_scratch_volumes(charts_root):
    for chart, env, documents in _all_documents(charts_root):
        for document in documents:
            for pod in pod_specs(document):
                for volume in pod.get("volumes", []):
                    if "emptyDir" in volume:
                        assert volume["emptyDir"].get("sizeLimit"), f"{chart}/{env} {volume['name']}"


SECRET_VALUES = ("s3cr3t-pg-Pa55word", "AKIAFLOETESTKEY12345", "wJalrXUtnFEMI-K7MDENG-floe-test", "cube-jwt-0123456789")


def test_no_rendered_manifest_contains_a_secret_value(charts_root, tmp_path):
    """Values name Secrets and keys only. The known strings are what those Secrets hold in the
    cluster; none may show up in a manifest, and no chart renders a Secret object at all."""
    names = {
        "secrets": {"secretName": "shop-credentials", "externalSecret": {
            "enabled": True, "secretStoreRef": {"name": "vault"},
            "data": [{"secretKey": "FLOE_PG_PASSWORD", "remoteKey": "shop/pg", "property": "password"}]}},
    }
    per_chart = {
        "floe-dagster": deep_merge(names, {"backup": {"enabled": True, "s3": {
            "destination": "s3://shop-backups/dagster", "credentialsSecret": "backup-s3"}},
            "dagster": {"global": {"postgresqlSecretName": "shop-pg"}}}),
        "floe-jobs": deep_merge(names, {"jobs": [{"name": "build", "kind": "dbt"}]}),
        "floe-cube": {"apiSecret": {"secretName": "shop-cube"}, "database": {"credentialsSecret": "shop-db"},
                      "cubeStore": {"enabled": True, "s3Bucket": "bucket", "credentialsSecret": "shop-s3"}},
    }
    per_chart["floe-runtime"] = {key: {"enabled": True, **value} for key, value in per_chart.items()}
    # One ExternalSecret per Secret in the umbrella (floe-dagster's; floe-jobs mounts the same Secret).
    per_chart["floe-runtime"]["floe-jobs"]["secrets"] = {"secretName": "shop-credentials"}
    for chart in CHARTS:
        for env in ENVIRONMENTS:
            values = deep_merge(env_values(chart, env), per_chart[chart])
            documents = render(chart, values, charts_root)
            text = yaml.safe_dump_all(documents)
            for secret in SECRET_VALUES:
                assert secret not in text
            kinds = {d["kind"] for d in documents}
            assert "Secret" not in kinds, f"{chart}/{env}: a chart must never render a Secret"
            assert "shop-credentials" in text or chart == "floe-cube"  # the reference is there


@pytest.mark.parametrize("chart", CHARTS)
def test_values_files_hold_no_credentials(chart):
    """Keys that name credentials hold Secret names only (no value-like strings)."""
    for path in [CHARTS_DIR / chart / "values.yaml", *(CHARTS_DIR / chart).glob("values-*.yaml")]:
        text = path.read_text(encoding="utf-8").lower()
        for word in ("password:", "postgresqlpassword:", "secret_access_key:", "api_key:", "token:"):
            assert word not in text, f"{path.name} has '{word}'"
        load_yaml(path)


def test_offline_overrides_are_what_users_pass():
    assert offline_overrides("floe-dagster")["dagster"] == {"enabled": False}
