"""Two data products of one domain, end to end with the real CLI, dbt, DuckDB and a SQL catalog.

The first is built and registered; the second reads its output port from the shared catalog;
a breaking change to the port fails the second's compile; lineage of both runs meets at the port.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.process]

PLATFORM = """\
enterprise: {name: acme, version: 1.0.0}
environments:
  dev:
    compute: {type: duckdb, path: .floe/warehouse.duckdb, threads: 1}
    catalog: {type: sql, uri: "sqlite:///shared/catalog.db", warehouse: shared/lakehouse}
    storage: {type: local, path: shared/lakehouse}
    observability:
      lineage: {type: file, path: .floe/lineage.jsonl}
"""

DOMAIN = """\
name: sales
version: 1.0.0
enterprise: {name: acme, version: 1.0.0}
allows: {compute: [duckdb], catalogs: [sql]}
quotas: {max_products: 2, max_schedules: 1, max_threads: 2}
"""

CONSUMER_INPUTS = """\
    inputs:
      - name: sales.orders.customer_revenue
        version: "^1.0.0"
        columns: {customer_id: bigint, revenue: double}
"""


def _ok(result: Any) -> None:
    assert result.returncode == 0, result.stdout + result.stderr


def _lineage(path: Path, key: str) -> set[tuple[str, str]]:
    events = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return {(dataset["namespace"], dataset["name"]) for event in events for dataset in event.get(key, [])}


def test_a_product_reads_another_products_port_and_a_breaking_change_fails_its_compile(
        floe: Any, tmp_path: Path) -> None:
    import duckdb

    mesh = tmp_path / "mesh"
    (mesh / "domains" / "sales").mkdir(parents=True)
    (mesh / "platform.yaml").write_text(PLATFORM, encoding="utf-8")
    (mesh / "domains" / "sales" / "domain.yaml").write_text(DOMAIN, encoding="utf-8")

    refused = floe("product", "init", "orders", "--domain", "sales:1.1.0", cwd=mesh)
    assert refused.returncode == 1
    assert "domain sales is at version 1.0.0" in refused.stderr and "--domain sales:1.0.0" in refused.stderr
    assert not (mesh / "orders").exists()
    _ok(floe("product", "init", "orders", "--domain", "sales:1.0.0", cwd=mesh))
    _ok(floe("product", "init", "revenue", "--domain", "sales:1.0.0", cwd=mesh))
    producer, consumer = mesh / "orders", mesh / "revenue"
    assert not (producer / "platform.yaml").exists()  # a product runs on its enterprise's platform

    # The producer: built, then registered (its port goes to the shared catalog).
    _ok(floe("run", cwd=producer))
    registered = floe("product", "register", "--image", "registry.example/sales/orders:0.1.0", cwd=producer)
    _ok(registered)
    record = json.loads((mesh / "domains/sales/products/orders.json").read_text(encoding="utf-8"))
    assert {key: record[key] for key in ("name", "version", "domain", "domain_version", "image_repository",
                                         "image_tag")} == {
        "name": "orders", "version": "0.1.0", "domain": "sales", "domain_version": "1.0.0",
        "image_repository": "registry.example/sales/orders", "image_tag": "0.1.0"}
    assert (mesh / "domains/sales" / record["artifacts_json"]).resolve() == (producer / ".floe/artifacts.json")
    [port] = record["ports"]
    assert port["table"] == "sales.orders.customer_revenue" and port["version"] == "1.0.0"
    assert {c["name"]: c["type"] for c in port["columns"]}["revenue"] == "double"
    # The port in the shared catalog: the mart's rows, the port's version and schema as properties.
    from floe.lakehouse import open_catalog
    from floe.spec.project import load_project

    environment = load_project(producer / "floe.yaml", environ={}).environment
    table = open_catalog(environment.catalog, environment.storage, producer).load_table(
        ("sales", "orders", "customer_revenue"))
    assert table.properties["floe.port.version"] == "1.0.0"
    assert {"name": "revenue", "type": "double"} in json.loads(table.properties["floe.port.schema"])
    published = table.scan().to_arrow().sort_by("customer_id")
    with duckdb.connect(str(producer / ".floe/warehouse.duckdb"), read_only=True) as connection:
        mart = connection.execute("select * from main.customer_revenue order by customer_id").to_arrow_table()
    assert published.to_pylist() == mart.to_pylist()
    listed = floe("product", "list", "--json", cwd=mesh)
    _ok(listed)
    assert [entry["name"] for entry in json.loads(listed.stdout)] == ["orders"]

    # The consumer reads the port through the dbt source floe declares for it.
    floe_yaml = consumer / "floe.yaml"
    floe_yaml.write_text(floe_yaml.read_text(encoding="utf-8").replace("    inputs: []\n", CONSUMER_INPUTS),
                         encoding="utf-8")
    (consumer / "dbt/models/marts/port_copy.sql").write_text(
        "select customer_id, revenue from {{ source('sales_orders', 'customer_revenue') }}\n", encoding="utf-8")
    _ok(floe("compile", cwd=consumer))
    ran = floe("run", cwd=consumer)
    _ok(ran)
    assert "compiled (" not in ran.stdout + ran.stderr  # fresh: the mesh's platform.yaml and domain.yaml hashed
    with duckdb.connect(str(producer / ".floe/warehouse.duckdb"), read_only=True) as connection:
        expected = connection.execute("select customer_id, revenue from main.customer_revenue order by 1").fetchall()
    with duckdb.connect(str(consumer / ".floe/warehouse.duckdb"), read_only=True) as connection:
        copied = connection.execute("select customer_id, revenue from main.port_copy order by 1").fetchall()
    assert copied == expected and len(expected) > 0

    # Lineage: the producer's output and the consumer's input are one dataset.
    port_dataset = (f"{(mesh / 'shared/lakehouse').resolve().as_uri()}", "sales.orders.customer_revenue")
    assert port_dataset in _lineage(producer / ".floe/lineage.jsonl", "outputs")
    assert port_dataset in _lineage(consumer / ".floe/lineage.jsonl", "inputs")

    # Both registered products are code locations of the domain's Dagster, as helm renders them.
    consumer_registered = floe("product", "register", "--image", "registry.example/sales/revenue:0.1.0",
                               cwd=consumer)
    _ok(consumer_registered)
    assert "floe-domain.values.yaml (2 products" in consumer_registered.stdout
    _the_domain_release_deploys_both(mesh, tmp_path)
    # Written again for another platform namespace; an unknown domain is refused.
    rewritten = floe("domain", "values", "sales", "--platform-namespace", "data-platform", "--json", cwd=mesh)
    _ok(rewritten)
    assert json.loads(rewritten.stdout)["products"] == 2
    assert "polaris.data-platform.svc.cluster.local" in (mesh / "domains/sales/floe-domain.values.yaml").read_text()
    unknown = floe("domain", "values", "finance", cwd=mesh)
    assert unknown.returncode == 1 and "no domain 'finance'" in unknown.stderr and "(domains: sales)" in unknown.stderr

    # A breaking change: revenue retyped and the port's major version bumped, registered again.
    mart = producer / "dbt/models/marts/customer_revenue.sql"
    mart.write_text(mart.read_text(encoding="utf-8").replace(
        "coalesce(sum(o.amount), 0) as revenue", "cast(coalesce(sum(o.amount), 0) as varchar) as revenue"),
        encoding="utf-8")
    spec = producer / "floe.yaml"
    spec.write_text(spec.read_text(encoding="utf-8").replace('version: "1.0.0"\n        description: Revenue',
                                                             'version: "2.0.0"\n        description: Revenue'),
                    encoding="utf-8")
    _ok(floe("run", cwd=producer))
    _ok(floe("product", "register", cwd=producer))
    broken = floe("compile", cwd=consumer)
    assert broken.returncode == 1, broken.stdout + broken.stderr
    assert "Traceback" not in broken.stderr
    assert ("product.ports.inputs[0].columns.revenue: input port sales.orders.customer_revenue (version 2.0.0): "
            "column 'revenue' was retyped to string; this product reads it as double") in broken.stderr
    assert "is at version 2.0.0, outside the accepted range '^1.0.0'" in broken.stderr
    assert "a major version bump" in broken.stderr


def _the_domain_release_deploys_both(mesh: Path, tmp_path: Path) -> None:
    """floe-domain, rendered with the official Dagster chart from the values registration wrote:
    every object validates; each product is a code location with its image and its artifacts."""
    import yaml

    from tests.charts.helm_support import require_official_chart
    from tests.charts.plugin_support import Validator, build_platform_charts, render_by_chart

    require_official_chart()
    values = yaml.safe_load((mesh / "domains/sales/floe-domain.values.yaml").read_text(encoding="utf-8"))
    assert values["domain"] == {"name": "sales", "version": "1.0.0"}
    grouped = render_by_chart("floe-domain", values, build_platform_charts(tmp_path / "charts"), release="sales",
                              namespace="sales")
    documents = [document for objects in grouped.values() for document in objects]
    Validator().check(documents, "domain sales from its registration records")
    workspace = next(d for d in documents
                     if d["kind"] == "ConfigMap" and d["metadata"]["name"].endswith("workspace-yaml"))
    entries = yaml.safe_load(workspace["data"]["workspace.yaml"])["load_from"]
    hosts = sorted(entry["grpc_server"]["host"] for entry in entries)
    assert hosts == ["sales-orders", "sales-revenue"]
    for product in ("orders", "revenue"):
        configmap = next(d for d in documents if d["kind"] == "ConfigMap"
                         and d["metadata"]["name"] == f"sales-{product}-artifacts")
        compiled = json.loads((mesh / product / ".floe/artifacts.json").read_text(encoding="utf-8"))
        assert json.loads(configmap["data"]["artifacts.json"]) == compiled
        deployment = next(d for d in documents if d["kind"] == "Deployment"
                          and d["metadata"]["name"].endswith(f"sales-{product}"))
        assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == \
            f"registry.example/sales/{product}:0.1.0"


def test_a_plain_project_compiles_as_before(compiled_project: Path) -> None:
    artifacts = json.loads((compiled_project / ".floe/artifacts.json").read_text(encoding="utf-8"))
    assert "mesh" not in artifacts and "product" not in artifacts
    assert not list((compiled_project / "dbt").rglob("_floe_input_ports.yml"))
