"""The Dagster UI's Ingress: authentication is chosen explicitly, and maps to ingress-nginx.

The UI can launch and cancel runs, so an Ingress with no ``auth.type`` is refused, both by the
chart (``helm install``) and by the values model (``floe platform render``); ``none`` is allowed
when said. The backend Service comes from floe's own ``webserver`` block, not the official chart's.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from floe.platform.helm.dagster_values import FloeDagsterValues
from tests.charts.helm_support import RELEASE, deep_merge, env_values, find, render

INGRESS = {"enabled": True, "className": "nginx", "host": "dagster.example.com"}


def _ingress(charts_root, ingress: dict[str, Any], **override: Any) -> dict[str, Any]:
    values = deep_merge(env_values("floe-dagster", "dev"), {"ingress": ingress, **override})
    return find(render("floe-dagster", values, charts_root), "Ingress")


def test_an_ingress_without_a_chosen_auth_is_refused(charts_root):
    with pytest.raises(Exception, match=re.escape("ingress.enabled needs ingress.auth.type")):
        _ingress(charts_root, INGRESS)
    with pytest.raises(ValueError, match=re.escape("ingress.enabled needs ingress.auth.type")):
        FloeDagsterValues.model_validate({"ingress": INGRESS})


def test_basic_auth_maps_to_the_htpasswd_secret(charts_root):
    ingress = _ingress(charts_root, {**INGRESS, "auth": {"type": "basic", "secretName": "dagster-htpasswd"}})
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/auth-type"] == "basic"
    assert annotations["nginx.ingress.kubernetes.io/auth-secret"] == "dagster-htpasswd"
    assert annotations["nginx.ingress.kubernetes.io/auth-realm"] == "Dagster"
    with pytest.raises(Exception, match=re.escape("needs ingress.auth.secretName")):
        _ingress(charts_root, {**INGRESS, "auth": {"type": "basic"}})


def test_oauth2_maps_to_external_auth_and_keeps_other_annotations(charts_root):
    auth = {"type": "oauth2", "url": "https://auth.example.com/oauth2/auth",
            "signin": "https://auth.example.com/oauth2/start?rd=$escaped_request_uri"}
    ingress = _ingress(charts_root, {**INGRESS, "auth": auth, "annotations": {"cert-manager.io/cluster-issuer": "le"}})
    annotations = ingress["metadata"]["annotations"]
    assert annotations["nginx.ingress.kubernetes.io/auth-url"] == auth["url"]
    assert annotations["nginx.ingress.kubernetes.io/auth-signin"] == auth["signin"]
    assert annotations["cert-manager.io/cluster-issuer"] == "le"
    assert "nginx.ingress.kubernetes.io/auth-type" not in annotations
    with pytest.raises(ValueError, match=re.escape("oauth2 needs ingress.auth.url and ingress.auth.signin")):
        FloeDagsterValues.model_validate({"ingress": {**INGRESS, "auth": {"type": "oauth2"}}})


def test_none_must_be_said_and_adds_nothing(charts_root):
    ingress = _ingress(charts_root, {**INGRESS, "auth": {"type": "none"}})
    annotations = ingress["metadata"].get("annotations", {})
    assert not any(key.startswith("nginx.ingress.kubernetes.io/auth") for key in annotations)


def test_the_prod_values_put_the_ui_behind_sign_in(charts_root):
    ingress = find(render("floe-dagster", env_values("floe-dagster", "prod"), charts_root), "Ingress")
    assert "nginx.ingress.kubernetes.io/auth-url" in ingress["metadata"]["annotations"]


def test_the_backend_is_floes_webserver_block(charts_root):
    auth = {"auth": {"type": "none"}}
    default = _ingress(charts_root, {**INGRESS, **auth})["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert default == {"name": f"{RELEASE}-dagster-webserver", "port": {"number": 3000}}
    moved = _ingress(charts_root, {**INGRESS, **auth}, webserver={"service": "ui", "port": 8080},
                     dagster={"enabled": False, "dagsterWebserver": {"service": {"port": 9999}}})
    backend = moved["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    assert backend == {"name": "ui", "port": {"number": 8080}}  # the official chart's block is not read


def test_floe_dagster_templates_read_no_official_chart_values():
    """Inside floe-runtime the official chart's values move out of floe-dagster; only the
    validation guards of the migrate hook and of the ha daemon still look (with dig, tolerating
    their absence), and the umbrellas' release checks, which floe-runtime and floe-platform call
    with their own root (where the official chart's block is theirs)."""
    from tests.charts.helm_support import CHARTS_DIR

    readers = {}
    for path in (CHARTS_DIR / "floe-dagster" / "templates").iterdir():
        text = path.read_text(encoding="utf-8")
        if ".Values.dagster" in text:
            readers[path.name] = [line.strip() for line in text.splitlines() if ".Values.dagster" in line]
    assert set(readers) <= {"migrate-hook.yaml", "daemon-ha.yaml", "_umbrella_checks.tpl"}, readers
    own = {name: lines for name, lines in readers.items() if name != "_umbrella_checks.tpl"}
    assert all("dig" in line for lines in own.values() for line in lines), own
