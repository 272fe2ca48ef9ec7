"""The data mesh layers: how a product finds its domain, and every narrowing rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe.errors import SpecError
from floe.spec.mesh_versions import highest_major, range_problem, satisfies
from floe.spec.project import load_project

PLATFORM = """\
enterprise: {name: acme, version: 1.0.0}
environments:
  dev:
    compute: {type: duckdb, path: .floe/warehouse.duckdb, threads: 2}
    catalog: {type: sql, uri: "sqlite:///shared/catalog.db", warehouse: shared/lake}
    storage: {type: local, path: shared/lake}
  pg:
    compute: {type: postgres, host: db.internal, user: dbt, database: shop, threads: 8}
"""

DOMAIN = """\
name: sales
version: 1.0.0
enterprise: {name: acme, version: 1.0.0}
"""

PRODUCT = """\
name: orders
transforms: [{path: ./dbt}]
product:
  domain: {name: sales, version: 1.0.0}
  ports:
    outputs:
      - {name: revenue, model: customer_revenue, version: 1.0.0}
"""


@pytest.fixture(autouse=True)
def _in_the_mesh_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # messages name files relative to the working folder


def _mesh(tmp_path: Path, *, platform: str = PLATFORM, domain: str = DOMAIN, product: str = PRODUCT) -> Path:
    """A mesh folder with one domain and one product; returns the product's floe.yaml."""
    (tmp_path / "domains" / "sales").mkdir(parents=True)
    (tmp_path / "platform.yaml").write_text(platform, encoding="utf-8")
    (tmp_path / "domains" / "sales" / "domain.yaml").write_text(domain, encoding="utf-8")
    (tmp_path / "orders" / "dbt").mkdir(parents=True)
    (tmp_path / "orders" / "dbt" / "dbt_project.yml").write_text("name: orders\n", encoding="utf-8")
    spec = tmp_path / "orders" / "floe.yaml"
    spec.write_text(product, encoding="utf-8")
    return spec


def _issues(spec: Path, environment: str | None = None, **environ: str) -> list[str]:
    with pytest.raises(SpecError) as info:
        load_project(spec, environment=environment, environ=environ)
    return [issue.render() for issue in info.value.issues]


def test_a_product_finds_its_domain_and_the_enterprise_platform_above_it(tmp_path: Path) -> None:
    project = load_project(_mesh(tmp_path), environ={})
    assert project.platform_path == tmp_path / "platform.yaml"
    assert project.mesh is not None and project.mesh.domain.model.name == "sales"
    assert project.mesh.records_dir == tmp_path / "domains" / "sales" / "products"
    # The shared catalog and storage are the enterprise's; the warehouse stays the product's own.
    catalog = project.environment.catalog
    assert catalog.type == "sql" and catalog.uri == f"sqlite:///{(tmp_path / 'shared/catalog.db').as_posix()}"
    assert catalog.warehouse == (tmp_path / "shared/lake").as_posix()
    assert project.environment.storage.path == (tmp_path / "shared/lake").as_posix()  # type: ignore[union-attr]
    assert project.environment.compute.path == ".floe/warehouse.duckdb"  # type: ignore[union-attr]


def test_a_plain_project_is_not_a_product(tmp_path: Path) -> None:
    spec = _mesh(tmp_path, product="name: orders\ntransforms: [{path: ./dbt}]\n")
    (spec.parent / "platform.yaml").write_text(PLATFORM, encoding="utf-8")
    project = load_project(spec, environ={})
    assert project.mesh is None
    assert project.environment.catalog.uri == "sqlite:///shared/catalog.db"  # type: ignore[union-attr]


def test_a_missing_domain_is_named_with_the_fix(tmp_path: Path) -> None:
    spec = _mesh(tmp_path, product=PRODUCT.replace("name: sales", "name: marketing"))
    (tmp_path / "orders" / "platform.yaml").write_text(PLATFORM, encoding="utf-8")
    [issue] = _issues(spec)
    assert "product.domain.name: domain 'marketing' was not found" in issue
    assert "domains/marketing/domain.yaml" in issue and "FLOE_DOMAIN_FILE" in issue


def test_a_missing_domain_is_the_one_problem_reported_in_a_mesh_folder(tmp_path: Path) -> None:
    # No platform.yaml beside floe.yaml: the mesh folder's is used, so the domain is what is missing.
    [issue] = _issues(_mesh(tmp_path, product=PRODUCT.replace("name: sales", "name: marketing")))
    assert "product.domain.name: domain 'marketing' was not found" in issue


def test_a_product_pinned_to_another_domain_version_is_refused(tmp_path: Path) -> None:
    [issue] = _issues(_mesh(tmp_path, product=PRODUCT.replace("version: 1.0.0}", "version: 2.0.0}", 1)))
    assert "floe.yaml:4:" in issue
    assert "product.domain.version: domain sales is at version 1.0.0 (" in issue
    assert "domain.yaml version), not 2.0.0" in issue


def test_an_explicit_domain_file_of_another_domain_is_refused(tmp_path: Path) -> None:
    spec = _mesh(tmp_path)
    other = tmp_path / "elsewhere" / "domain.yaml"
    other.parent.mkdir()
    other.write_text(DOMAIN.replace("name: sales", "name: finance"), encoding="utf-8")
    [issue] = _issues(spec, FLOE_DOMAIN_FILE=str(other))
    assert "product.domain.name: domain 'sales' is not the one in" in issue and "('finance')" in issue


@pytest.mark.parametrize(("domain", "expected"), [
    (DOMAIN.replace("{name: acme,", "{name: globex,"),
     "enterprise.name: enterprise 'globex' is not this platform's: "),
    (DOMAIN.replace("version: 1.0.0}", "version: 2.0.0}"),
     "enterprise.version: enterprise acme is at version 1.0.0 ("),
    (DOMAIN + "allows: {compute: [duckdb, snowflake]}\n",
     "allows.compute[1]: compute 'snowflake' is not allowed by the enterprise"),
    (DOMAIN + "allows: {catalogs: [rest]}\n", "allows.catalogs[0]: catalog 'rest' is not allowed by the enterprise"),
    (DOMAIN + "allows: {environments: [prod]}\n",
     "allows.environments[0]: environment 'prod' is not allowed by the enterprise"),
])
def test_a_domain_may_only_narrow_its_enterprise(tmp_path: Path, domain: str, expected: str) -> None:
    issues = _issues(_mesh(tmp_path, domain=domain))
    assert any("domain.yaml" in issue and expected in issue for issue in issues), issues
    assert any("platform.yaml" in issue for issue in issues if expected in issue), issues


def test_a_platform_without_enterprise_cannot_hold_domains(tmp_path: Path) -> None:
    platform = PLATFORM.replace("enterprise: {name: acme, version: 1.0.0}\n", "")
    [issue] = _issues(_mesh(tmp_path, platform=platform))
    assert "enterprise: platform.yaml declares no enterprise" in issue
    assert "add 'enterprise: {name: acme, version: 1.0.0}'" in issue


def test_a_domain_in_the_folder_of_another_name_is_refused(tmp_path: Path) -> None:
    issues = _issues(_mesh(tmp_path, domain=DOMAIN.replace("name: sales", "name: finance")),
                     FLOE_DOMAIN_FILE=str(tmp_path / "domains" / "sales" / "domain.yaml"))
    assert any(issue.startswith("domains/sales/domain.yaml:1:") and
               "name: domain 'finance' is in the folder of 'sales'" in issue for issue in issues), issues


@pytest.mark.parametrize(("rule", "environment", "expected"), [
    ("allows: {compute: [postgres]}", "dev",
     "environments.dev.compute.type: domain sales does not allow compute 'duckdb' for its products"),
    ("allows: {compute: [duckdb]}", "pg",
     "environments.pg.compute.type: domain sales does not allow compute 'postgres' for its products"),
    ("allows: {environments: [pg]}", "dev", "environments.dev: domain sales does not allow environment 'dev'"),
    ("quotas: {max_threads: 1}", "dev", "environments.dev.compute.threads: 2 dbt threads; domain sales allows "
                                        "at most 1"),
])
def test_a_product_uses_only_what_its_domain_allows(tmp_path: Path, rule: str, environment: str,
                                                    expected: str) -> None:
    [issue] = _issues(_mesh(tmp_path, domain=DOMAIN + rule + "\n"), environment)
    assert issue.startswith("platform.yaml:") and expected in issue
    assert "domain.yaml " + rule.split(":")[0].split("{")[0].strip() in issue  # names the rule's file and key


def test_a_domain_without_sql_catalogs_refuses_a_product_on_one(tmp_path: Path) -> None:
    platform = PLATFORM + ("  rest:\n    catalog: {type: rest, uri: 'http://polaris:8181/api/catalog', "
                           "warehouse: main}\n    storage: {type: s3, bucket: lake}\n")
    [issue] = _issues(_mesh(tmp_path, platform=platform, domain=DOMAIN + "allows: {catalogs: [rest]}\n"))
    assert "environments.dev.catalog.type: domain sales does not allow catalog 'sql'" in issue
    assert "allows.catalogs: rest" in issue


def test_the_schedule_quota_is_per_product(tmp_path: Path) -> None:
    product = PRODUCT + ("jobs: [{name: marts}]\nschedules:\n  - {name: a, job: marts, cron: '0 6 * * *'}\n"
                         "  - {name: b, job: marts, cron: '0 7 * * *'}\n")
    [issue] = _issues(_mesh(tmp_path, domain=DOMAIN + "quotas: {max_schedules: 1}\n", product=product))
    assert "floe.yaml" in issue and "schedules: 2 schedules; domain sales allows at most 1 per product" in issue


def test_ports_are_checked_for_names_and_self_reference(tmp_path: Path) -> None:
    product = PRODUCT + ("      - {name: revenue, model: other, version: 1.0.0}\n"
                         "    inputs:\n      - {name: sales.orders.revenue, version: '^1.0.0', columns: {a: null}}\n")
    issues = _issues(_mesh(tmp_path, product=product))
    assert any("product.ports.outputs[1].name: output port 'revenue' is declared twice" in i for i in issues)
    assert any("product.ports.inputs[0].name: 'sales.orders.revenue' is this product's own port" in i
               for i in issues)


def test_a_product_name_must_be_lower_case(tmp_path: Path) -> None:
    [issue] = _issues(_mesh(tmp_path, product=PRODUCT.replace("name: orders", "name: Orders")))
    assert "name: product name 'Orders' must be lower case" in issue


@pytest.mark.parametrize(("product", "expected"), [
    (PRODUCT.replace("version: 1.0.0}\n  ports", "version: '1.0'}\n  ports"),
     "product.domain.version: expected a version MAJOR.MINOR.PATCH"),
    (PRODUCT + "    inputs:\n      - {name: sales.x.y, version: '~1', columns: {a: null}}\n",
     "product.ports.inputs[0].version: expected a version range"),
    (PRODUCT + "    inputs:\n      - {name: sales.x, version: '1.0.0', columns: {a: null}}\n",
     "product.ports.inputs[0].name:"),
])
def test_malformed_versions_and_ports_are_located(tmp_path: Path, product: str, expected: str) -> None:
    issues = _issues(_mesh(tmp_path, product=product))
    assert any(expected in issue for issue in issues), issues


@pytest.mark.parametrize(("version", "text", "accepted"), [
    ((1, 4, 0), "^1.2.0", True), ((2, 0, 0), "^1.2.0", False), ((1, 1, 9), "^1.2.0", False),
    ((1, 9, 9), ">=1.0.0,<2.0.0", True), ((2, 0, 0), ">=1.0.0,<2.0.0", False), ((1, 2, 3), "v1.2.3", True),
    ((1, 2, 4), "1.2.3", False), ((1, 2, 4), "!=1.2.3", True),
])
def test_version_ranges(version: tuple[int, int, int], text: str, accepted: bool) -> None:
    assert range_problem(text) is None
    assert satisfies(version, text) is accepted


def test_the_highest_major_a_range_accepts() -> None:
    assert highest_major("^1.2.0") == 1
    assert highest_major(">=1.0.0,<2.0.0") == 1
    assert highest_major(">=1.0.0,<2.1.0") == 2
    assert highest_major(">=1.0.0") is None
    assert range_problem("~1.0") is not None
