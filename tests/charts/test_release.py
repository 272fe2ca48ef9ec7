"""The release as a cluster runs it: the official Dagster chart inside, every workload present.

Each chart that deploys Dagster (floe-dagster alone, floe-runtime the umbrella) with each of its
values files renders the official chart's workloads and floe's objects beside them, checked by
one assertion (``assert_whole_release``); every object validates against Kubernetes 1.29 and the
newest schema (custom resources against their CRDs); every floe container runs the one floe
image. The charts are built once for the module (the official chart from the reference copy),
then rendered once per case.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.charts.helm_support import (
    ENVIRONMENTS,
    REFERENCE,
    assert_whole_release,
    build_charts,
    deep_merge,
    find,
    floe_images,
    load_yaml,
    offline_overrides,
    release_values,
    render,
    require_official_chart,
)

kubernetes_validate = pytest.importorskip("kubernetes_validate", reason="kubernetes-validate (dev extra) missing")

K8S_VERSIONS = ("1.29", kubernetes_validate.utils.latest_version())
DAGSTER_CHARTS = ("floe-dagster", "floe-runtime")
VALUES_FILES = (None, *ENVIRONMENTS)  # None: values.yaml alone
CRD_SCHEMAS = {
    ("monitoring.coreos.com/v1", "ServiceMonitor"): "monitoring.coreos.com/servicemonitor_v1.json",
    ("monitoring.coreos.com/v1", "PrometheusRule"): "monitoring.coreos.com/prometheusrule_v1.json",
    ("external-secrets.io/v1", "ExternalSecret"): "external-secrets.io/externalsecret_v1.json",
}


@pytest.fixture(scope="module")
def release_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    require_official_chart()
    return build_charts(tmp_path_factory.mktemp("release") / "charts", with_official_chart=True)


@pytest.fixture(scope="module")
def releases(release_root: Path) -> dict[tuple[str, str | None], list[dict[str, Any]]]:
    return {(chart, env): render(chart, release_values(chart, env), release_root)
            for chart in DAGSTER_CHARTS for env in VALUES_FILES}


@pytest.mark.parametrize("chart", DAGSTER_CHARTS)
@pytest.mark.parametrize("env", VALUES_FILES)
def test_every_values_file_renders_the_whole_release(releases, chart, env):
    assert_whole_release(releases[(chart, env)])


def test_the_umbrella_renders_exactly_one_dagster(releases):
    for env in VALUES_FILES:
        documents = releases[("floe-runtime", env)]
        deployments = [d["metadata"]["name"] for d in documents if d["kind"] == "Deployment"]
        assert [name for name in deployments if name.endswith("-webserver")] == ["shop-dagster-webserver"], env


def _as_sent(value: Any) -> Any:
    """The object as the API server reads it: JSON null means the field is absent (the official
    chart writes ``annotations: null`` on some objects)."""
    if isinstance(value, dict):
        return {k: _as_sent(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_as_sent(v) for v in value]
    return value


def _crd_validator(key: tuple[str, str]) -> Any:
    import jsonschema

    schema = json.loads((REFERENCE / "crds" / CRD_SCHEMAS[key]).read_text(encoding="utf-8"))
    return jsonschema.validators.validator_for(schema)(schema)


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_every_object_of_every_release_validates(releases, version):
    seen = {"kubernetes": 0, "crd": 0}
    for (chart, env), documents in releases.items():
        for document in map(_as_sent, documents):
            key = (document["apiVersion"], document["kind"])
            where = f"{chart} values-{env or 'default'} {document['kind']}/{document['metadata']['name']}"
            if key in CRD_SCHEMAS:
                errors = [e.message for e in _crd_validator(key).iter_errors(document)]
                assert not errors, f"{where}: {errors}"
                seen["crd"] += 1
                continue
            try:
                kubernetes_validate.validate(document, version, strict=True)
            except kubernetes_validate.ValidationError as exc:
                pytest.fail(f"{where} against Kubernetes {version}: {'.'.join(map(str, exc.path))}: {exc.message}")
            seen["kubernetes"] += 1
    assert seen["crd"] >= 6 and seen["kubernetes"] >= 200, seen


@pytest.mark.parametrize("chart", DAGSTER_CHARTS)
@pytest.mark.parametrize("env", VALUES_FILES)
def test_every_floe_container_runs_the_one_floe_image(releases, chart, env):
    values = load_yaml(Path(__file__).resolve().parents[2] / "charts" / "floe-dagster" / "values.yaml")
    expected = f"{values['image']['repository']}:{values['image']['tag']}"
    images = floe_images(releases[(chart, env)])
    assert images == {expected}, images


def test_the_umbrella_refuses_a_floe_image_changed_in_one_place_only(release_root):
    """Changing floe-dagster.image.tag alone would leave the code location, the run pods' init
    container and the Jobs on the old build: Helm itself refuses, naming the value to restate."""
    import helm_python as helm

    values = deep_merge(release_values("floe-runtime", "prod"), {"floe-dagster": {"image": {"tag": "0.9.0"}}})
    with pytest.raises(helm.HelmError, match=r"dagster-user-deployments\.deployments\[floe\]\.image is floe/dagster:"
                       r"0\.1\.0 but floe-dagster\.image is floe/dagster:0\.9\.0"):
        render("floe-runtime", values, release_root)
    jobs_only = deep_merge(release_values("floe-runtime", "prod"), {"floe-jobs": {"image": {"tag": "0.9.0"}}})
    with pytest.raises(helm.HelmError, match=r"floe-jobs\.image is floe/dagster:0\.9\.0"):
        render("floe-runtime", jobs_only, release_root)


def test_the_umbrella_refuses_two_schema_migrations(release_root):
    """floe-dagster's migrate hook replaces the official chart's fixed-name migrate Job; with both on,
    the next upgrade would deadlock on the immutable Job, so Helm itself refuses the pair."""
    import helm_python as helm

    both = deep_merge(release_values("floe-runtime", "prod"), {"dagster": {"migrate": {"enabled": True}}})
    with pytest.raises(helm.HelmError, match=r"dagster\.migrate\.enabled and floe-dagster\.migrate\.enabled"):
        render("floe-runtime", both, release_root)
    official_only = deep_merge(both, {"floe-dagster": {"migrate": {"enabled": False}}})
    assert find(render("floe-runtime", official_only, release_root), "Job", "-instance-migrate")


def test_the_umbrella_refuses_two_external_secrets_for_one_secret(release_root):
    """floe-dagster and floe-jobs share one Secret: two ExternalSecrets of that name would fail the install."""
    import helm_python as helm

    external = {"enabled": True, "secretStoreRef": {"name": "vault"}, "data": [{"secretKey": "K", "remoteKey": "k"}]}
    both = deep_merge(release_values("floe-runtime", "prod"), {
        "floe-dagster": {"secrets": {"externalSecret": external}},
        "floe-jobs": {"enabled": True, "secrets": {"externalSecret": external}}})
    with pytest.raises(helm.HelmError, match=r"enable the ExternalSecret in floe-dagster only"):
        render("floe-runtime", both, release_root)
    once = deep_merge(both, {"floe-jobs": {"secrets": {"externalSecret": {"enabled": False}}}})
    assert [d for d in render("floe-runtime", once, release_root) if d["kind"] == "ExternalSecret"]


# --- one source for floe's defaults of the official chart -------------------------------------

def test_the_umbrellas_dagster_block_is_generated_from_floe_dagsters():
    """floe-runtime's dagster: block is floe-dagster's, comments included ('make generate')."""
    from floe.platform.helm.runtime_values import umbrella_values_text

    charts = Path(__file__).resolve().parents[2] / "charts"
    umbrella = (charts / "floe-runtime" / "values.yaml").read_text(encoding="utf-8")
    floe_dagster = (charts / "floe-dagster" / "values.yaml").read_text(encoding="utf-8")
    assert umbrella == umbrella_values_text(umbrella, floe_dagster), "stale: run 'make generate'"
    assert load_yaml(charts / "floe-runtime" / "values.yaml")["dagster"] == load_yaml(
        charts / "floe-dagster" / "values.yaml")["dagster"]
    # A change on floe-dagster's side reaches the umbrella, and nothing else of it moves.
    changed = floe_dagster.replace("maxConcurrentRuns: 3", "maxConcurrentRuns: 7  # changed")
    regenerated = umbrella_values_text(umbrella, changed)
    assert "maxConcurrentRuns: 7  # changed" in regenerated
    assert regenerated.replace("maxConcurrentRuns: 7  # changed", "maxConcurrentRuns: 3") == umbrella


# --- the assertion itself must catch a release without Dagster --------------------------------

def test_the_whole_release_assertion_fails_without_dagster(release_root):
    """What the umbrella rendered before the official chart moved into it: floe's objects only."""
    floe_only = render("floe-runtime", offline_overrides("floe-runtime"), release_root)
    assert any(d["metadata"]["name"] == "floe-artifacts" for d in floe_only)  # floe's own objects are there
    with pytest.raises(AssertionError, match="dagster-webserver"):
        assert_whole_release(floe_only)


def test_the_whole_release_assertion_fails_without_the_code_location(release_root):
    # The workspace still names the code location; only its Deployment and Service are gone.
    values = deep_merge(release_values("floe-runtime", None), {"dagster": {"dagster-user-deployments": {
        "enableSubchart": False}}})
    with pytest.raises(AssertionError, match="user-deployments-floe"):
        assert_whole_release(render("floe-runtime", values, release_root))


def test_the_whole_release_assertion_fails_without_the_daemon(release_root):
    values = deep_merge(release_values("floe-runtime", "prod"), {"dagster": {"dagsterDaemon": {"enabled": False}}})
    with pytest.raises(AssertionError, match="dagster-daemon"):
        assert_whole_release(render("floe-runtime", values, release_root))
