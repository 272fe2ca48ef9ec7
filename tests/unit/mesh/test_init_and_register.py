"""'floe product init' and 'floe product register': every refusal, and what init writes."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from floe.errors import FloeError
from floe.mesh.product_init import init_product, parse_domain_ref
from floe.mesh.publish import register_product
from floe.mesh.records import ProductRecord, list_records, write_record
from floe.spec.project import load_project


def _record(name: str) -> ProductRecord:
    return ProductRecord(name=name, version="0.1.0", domain="sales", domain_version="1.0.0", image_repository="r",
                         image_tag="t", artifacts_json="a", ports=[],
                         registered_at=datetime.now(timezone.utc).isoformat())


def _quota(mesh: Path, products: int) -> None:
    domain = mesh / "domains" / "sales" / "domain.yaml"
    domain.write_text(domain.read_text(encoding="utf-8") + f"quotas: {{max_products: {products}}}\n", encoding="utf-8")


def test_init_writes_a_product_bound_to_its_domain(mesh: Path) -> None:
    result = init_product("orders", "sales:v1.0.0")
    root = mesh / "orders"
    assert result.project.root == root and result.domain_version == "1.0.0"
    assert not (root / "platform.yaml").exists()
    project = load_project(root / "floe.yaml", environ={})
    assert project.pipeline.model.name == "orders"
    assert project.mesh is not None and project.mesh.domain.model.name == "sales"
    product = project.pipeline.model.product
    assert product is not None and [p.model for p in product.ports.outputs] == ["customer_revenue"]
    # What compile writes for the input ports is a build output, next to dbt's own.
    ignored = (root / ".gitignore").read_text(encoding="utf-8").splitlines()
    assert "/dbt/models/_floe_input_ports.yml" in ignored and ".floe/" in ignored


@pytest.mark.parametrize(("ref", "expected"), [
    ("sales:2.0.0", "domain sales is at version 1.0.0"),
    ("marketing:1.0.0", "domain 'marketing' does not exist"),
    ("sales", "is not NAME:VERSION"),
    ("sales:1.0", "is not NAME:VERSION"),
])
def test_init_refuses_a_domain_that_is_not_there_as_asked(mesh: Path, ref: str, expected: str) -> None:
    with pytest.raises(FloeError, match=expected) as info:
        init_product("orders", ref)
    assert info.value.hint
    assert not (mesh / "orders").exists()


def test_init_names_the_version_to_use(mesh: Path) -> None:
    with pytest.raises(FloeError) as info:
        init_product("orders", "sales:2.0.0")
    assert info.value.hint == "run 'floe product init orders --domain sales:1.0.0'"


def test_init_lists_the_existing_domains(mesh: Path) -> None:
    with pytest.raises(FloeError) as info:
        init_product("orders", "marketing:1.0.0")
    assert info.value.hint is not None and info.value.hint.startswith("existing domains: sales")


def test_init_refuses_a_bad_product_name(mesh: Path) -> None:
    with pytest.raises(FloeError, match="must be lower case") as info:
        init_product("Order-Book", "sales:1.0.0")
    assert info.value.hint == "e.g. floe product init order_book"


def test_init_refuses_a_domain_that_breaks_its_enterprise(mesh: Path) -> None:
    domain = mesh / "domains" / "sales" / "domain.yaml"
    domain.write_text(domain.read_text(encoding="utf-8").replace("version: 1.0.0}", "version: 9.0.0}"),
                      encoding="utf-8")
    with pytest.raises(FloeError, match=r"enterprise acme is at version 1\.0\.0"):
        init_product("orders", "sales:1.0.0")


def test_init_refuses_a_full_domain(mesh: Path) -> None:
    _quota(mesh, 1)
    write_record(mesh / "domains" / "sales" / "products", _record("billing"))
    with pytest.raises(FloeError, match=r"already has 1 registered products, its quota .*max_products: 1"):
        init_product("orders", "sales:1.0.0")


def test_init_follows_an_explicit_domain_file(mesh: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    elsewhere = tmp_path / "work"
    elsewhere.mkdir()
    monkeypatch.setenv("FLOE_DOMAIN_FILE", str(mesh / "domains" / "sales" / "domain.yaml"))
    result = init_product("orders", "sales:1.0.0", parent=elsewhere)
    assert result.project.root == elsewhere / "orders"


def test_register_refuses_a_plain_project(mesh: Path) -> None:
    (mesh / "plain" / "dbt").mkdir(parents=True)
    (mesh / "plain" / "dbt" / "dbt_project.yml").write_text("name: plain\n", encoding="utf-8")
    (mesh / "plain" / "floe.yaml").write_text("name: plain\ntransforms: [{path: ./dbt}]\n", encoding="utf-8")
    (mesh / "plain" / "platform.yaml").write_text((mesh / "platform.yaml").read_text(), encoding="utf-8")
    project = load_project(mesh / "plain" / "floe.yaml", environ={})
    with pytest.raises(FloeError, match="declares no 'product:'; only data products are registered"):
        register_product(project, mesh / "plain" / ".floe" / "artifacts.json", {})


def test_register_refuses_over_the_product_quota(mesh: Path, product: Any) -> None:
    _quota(mesh, 1)
    write_record(mesh / "domains" / "sales" / "products", _record("billing"))
    project = load_project(product("orders", ""), environ={})
    with pytest.raises(FloeError, match="already has 1 registered products"):
        register_product(project, mesh / "orders" / ".floe" / "artifacts.json", {})
    assert [record.name for record in list_records(mesh / "domains" / "sales" / "products")] == ["billing"]


def test_register_refuses_a_port_whose_model_is_not_built(mesh: Path, product: Any) -> None:
    spec = product("orders", "  ports:\n    outputs: [{name: revenue, model: customer_revenue, version: 1.0.0}]\n")
    project = load_project(spec, environ={})
    manifest = {"nodes": {"model.orders.customer_revenue": {"resource_type": "model", "name": "customer_revenue",
                                                            "schema": "main", "alias": "customer_revenue"}}}
    with pytest.raises(FloeError, match="model 'customer_revenue' of output port is not built") as info:
        register_product(project, mesh / "orders" / ".floe" / "artifacts.json", manifest)
    assert info.value.hint == "build the product first: 'floe run', then 'floe product register'"
    assert not (mesh / "domains" / "sales" / "products" / "orders.json").exists()


def test_domain_refs() -> None:
    assert parse_domain_ref("sales:v1.2.3") == ("sales", "v1.2.3")
