"""floe-domain: one domain's Dagster with a code location per product, wired to the platform.

Two domains (sales: orders and customers; finance: ledger) render with the official Dagster chart
inside; every object validates; each product is a code location of its own domain's workspace,
mounts its artifacts ConfigMap (in its pod and its run pods), sees the shared services of the
platform namespace by cluster DNS, and the two domains' objects never collide, even in one namespace.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from floe.platform.helm.domain_values import ProductRelease, domain_release_values, shared_service_urls
from floe.platform.helm.schema import SCHEMA_FILE, render_values_schema
from tests.charts.helm_support import CHARTS_DIR, REFERENCE, helm
from tests.charts.plugin_support import Validator, build_platform_charts, render_by_chart

PLATFORM_NAMESPACE = "data-platform"


def _artifacts(domain: str, product: str) -> str:
    return json.dumps({"schema_version": 1, "project": {"name": product}, "domain": domain}, indent=2)


def _product(domain: str, name: str) -> ProductRelease:
    return ProductRelease(name, "1.0.0", f"ghcr.io/acme/{domain}-{name}", "1.0.0", _artifacts(domain, name))


DOMAINS = {"sales": ("orders", "customers"), "finance": ("ledger",)}


@pytest.fixture(scope="module")
def domain_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_platform_charts(tmp_path_factory.mktemp("domain") / "charts")


def _values(domain: str) -> dict[str, Any]:
    return domain_release_values(domain, "2.0.0", [_product(domain, p) for p in DOMAINS[domain]],
                                 platform_namespace=PLATFORM_NAMESPACE)


def _render(root: Path, values: dict[str, Any], domain: str, namespace: str | None = None) -> list[dict[str, Any]]:
    grouped = render_by_chart("floe-domain", values, root, release=domain, namespace=namespace or domain)
    return [d for objects in grouped.values() for d in objects]


@pytest.fixture(scope="module")
def releases(domain_root: Path) -> dict[str, list[dict[str, Any]]]:
    return {domain: _render(domain_root, _values(domain), domain) for domain in DOMAINS}


def _one(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    found = [d for d in documents if d["kind"] == kind and d["metadata"]["name"] == name]
    assert len(found) == 1, f"{kind}/{name}: {len(found)} found"
    return found[0]


def test_both_domains_validate(releases):
    validator = Validator()
    for domain, documents in releases.items():
        validator.check(documents, f"domain {domain}")
    assert validator.counts["kubernetes"] >= 30, validator.counts


@pytest.mark.parametrize("domain", DOMAINS)
def test_each_product_is_a_code_location_of_its_domains_dagster(releases, domain):
    documents = releases[domain]
    workspace_map = _one(documents, "ConfigMap", f"{domain}-dagster-workspace-yaml")
    workspace = yaml.safe_load(workspace_map["data"]["workspace.yaml"])
    servers = sorted((s["grpc_server"]["host"], s["grpc_server"]["port"]) for s in workspace["load_from"])
    assert servers == sorted((f"{domain}-{p}", 3030) for p in DOMAINS[domain])
    _one(documents, "Deployment", f"{domain}-dagster-webserver")
    _one(documents, "Deployment", f"{domain}-dagster-daemon")
    for product in DOMAINS[domain]:
        location = f"{domain}-{product}"
        deployment = _one(documents, "Deployment", f"{domain}-dagster-user-deployments-{location}")
        service = _one(documents, "Service", location)
        pod = deployment["spec"]["template"]
        assert service["spec"]["selector"].items() <= pod["metadata"]["labels"].items()
        container = pod["spec"]["containers"][0]
        assert container["image"] == f"ghcr.io/acme/{domain}-{product}:1.0.0"
        # The artifacts: the product's ConfigMap, staged by the init container into the artifacts folder.
        configmap = _one(documents, "ConfigMap", f"{location}-artifacts")
        assert json.loads(configmap["data"]["artifacts.json"]) == json.loads(_artifacts(domain, product))
        volumes = {v["name"]: v for v in pod["spec"]["volumes"]}
        assert volumes["floe-artifacts"]["configMap"]["name"] == f"{location}-artifacts"
        stage = pod["spec"]["initContainers"][0]
        assert stage["name"] == "stage-floe-state" and stage["image"] == container["image"]
        assert {"name": "floe-artifacts", "mountPath": "/etc/floe/artifacts", "readOnly": True} in stage["volumeMounts"]
        # The shared services of the platform namespace, by cluster DNS.
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env["FLOE_POLARIS_URI"] == f"http://polaris.{PLATFORM_NAMESPACE}.svc.cluster.local:8181/api/catalog"
        collector = f"http://otel-collector.{PLATFORM_NAMESPACE}.svc.cluster.local:4317"
        assert env["OTEL_EXPORTER_OTLP_ENDPOINT"] == collector
        assert env["OPENLINEAGE_URL"] == f"http://marquez.{PLATFORM_NAMESPACE}.svc.cluster.local:5000"
        assert (env["FLOE_DOMAIN"], env["FLOE_PRODUCT"]) == (domain, product)
        # Its run pods get the same image, env, volumes and init container (the container context).
        context = json.loads(env["DAGSTER_CLI_API_GRPC_CONTAINER_CONTEXT"])["k8s"]
        run_env = {e["name"]: e.get("value") for e in context["env"]}
        shared = shared_service_urls(PLATFORM_NAMESPACE)
        assert {key: run_env[key] for key in shared} == shared
        assert {"name": "floe-artifacts", "configMap": {"name": f"{location}-artifacts"}} in context["volumes"]
        run_init = context["run_k8s_config"]["pod_spec_config"]["init_containers"]
        assert [c["name"] for c in run_init] == ["stage-floe-state"]


def test_two_domains_never_collide_even_in_one_namespace(domain_root, releases):
    together = [_render(domain_root, _values(domain), domain, namespace="shared") for domain in DOMAINS]
    keys = [[(d["kind"], d["metadata"]["name"]) for d in documents] for documents in together]
    assert not set(keys[0]) & set(keys[1]), sorted(set(keys[0]) & set(keys[1]))
    assert all(len(k) == len(set(k)) for k in keys)


def _refused(root: Path, values: dict[str, Any], match: str) -> None:
    with pytest.raises(Exception, match=match):
        _render(root, values, "sales")


def test_the_chart_refuses_products_and_locations_that_disagree(domain_root):
    values = _values("sales")
    locations = values["dagster"]["dagster-user-deployments"]["deployments"]

    other_image = copy.deepcopy(values)
    other_image["dagster"]["dagster-user-deployments"]["deployments"][0]["image"]["tag"] = "0.9.0"
    _refused(domain_root, other_image, "code location sales-orders runs ghcr.io/acme/sales-orders:0.9.0")

    missing = copy.deepcopy(values)
    missing["dagster"]["dagster-user-deployments"]["deployments"] = locations[1:]
    _refused(domain_root, missing, "product orders has no code location sales-orders")

    orphan = copy.deepcopy(values)
    orphan["products"] = values["products"][:1]
    _refused(domain_root, orphan, "code location sales-customers belongs to no product")

    moved = copy.deepcopy(values)
    moved["platform"]["namespace"] = "elsewhere"
    _refused(domain_root, moved, "FLOE_POLARIS_URI=.*platform namespace elsewhere")

    nameless = copy.deepcopy(values)
    nameless["domain"]["name"] = ""
    _refused(domain_root, nameless, "domain.name is required")


def test_the_helper_refuses_bad_names_and_unpinned_images():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="latest"):
        domain_release_values("sales", "1", [ProductRelease("orders", "1", "acme/orders", "latest", "{}")])
    with pytest.raises(ValidationError, match="pattern"):
        domain_release_values("Sales Team", "1", [])
    with pytest.raises(ValidationError, match="named twice: orders"):
        domain_release_values("sales", "1", [_product("sales", "orders")] * 2)


def test_values_schema_is_current_and_lint_passes(domain_root):
    committed = (CHARTS_DIR / "floe-domain" / SCHEMA_FILE).read_text(encoding="utf-8")
    assert committed == render_values_schema("floe-domain"), "stale: run 'make generate'"
    report = helm.lint(str(domain_root / "floe-domain"), _values("sales"), strict=True, namespace="sales")
    problems = [m for m in report["messages"] if m["severity"] >= 2]
    assert not problems and not report["errors"], report


@pytest.mark.skipif(not (REFERENCE / "dagster" / "values.schema.json").is_file(),
                    reason="../shared/reference/dagster/values.schema.json is absent")
def test_the_dagster_block_with_the_products_fits_the_official_chart_schema():
    from tests.charts.helm_support import deep_merge, load_yaml
    from tests.charts.test_lint_and_values import _official_validator

    defaults = load_yaml(CHARTS_DIR / "floe-domain" / "values.yaml")["dagster"]
    block = deep_merge(defaults, _values("sales")["dagster"])
    block = {k: v for k, v in block.items() if k != "enabled"}  # the dependency condition is floe's
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in _official_validator().iter_errors(block)]
    assert not errors, errors
