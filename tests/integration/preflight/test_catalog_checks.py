"""Catalog checks: the Iceberg SQL catalog (SQLite, PostgreSQL) and a REST catalog test double."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.integration.lakehouse.rest_catalog_double import RestCatalogDouble
from tests.integration.preflight.conftest import Preflight, only
from tests.support.servers import closed_port

pytestmark = pytest.mark.integration


def test_sqlite_catalog_before_and_after_the_first_write(preflight: Preflight, tmp_path: Path) -> None:
    from floe.lakehouse import open_catalog
    from floe.spec.platform import LocalStorage, SqlCatalog

    environment = {"catalog": {"type": "sql"}}
    before = only(preflight(environment, services=["catalog"]), "catalog")
    assert before.status == "ok" and "does not exist yet" in before.message
    assert not (tmp_path / ".floe" / "catalog.db").exists()  # preflight created nothing

    catalog = open_catalog(SqlCatalog(type="sql"), LocalStorage(type="local"), tmp_path)
    catalog.create_namespace("bronze")
    catalog.engine.dispose()
    after = only(preflight(environment, services=["catalog"]), "catalog")
    assert after.status == "ok"
    assert "1 namespace(s): bronze" in after.message and after.details["namespaces"] == 1


def test_sqlite_catalog_that_is_not_a_database(preflight: Preflight, tmp_path: Path) -> None:
    (tmp_path / "catalog.db").write_bytes(b"this is not sqlite" * 100)
    result = only(preflight({"catalog": {"type": "sql", "uri": "sqlite:///catalog.db"}}, services=["catalog"]),
                  "catalog")
    assert result.status == "error"
    assert "refused a query" in result.message


@pytest.mark.postgres
def test_postgres_catalog_lists_namespaces(preflight: Preflight, scratch_database: str, tmp_path: Path) -> None:
    from floe.lakehouse import open_catalog
    from floe.spec.platform import LocalStorage, SqlCatalog

    environment = {"catalog": {"type": "sql", "uri": f"postgresql://postgres@127.0.0.1:5432/{scratch_database}"}}
    empty = only(preflight(environment, services=["catalog"]), "catalog")
    assert empty.status == "ok" and "holds no Iceberg catalog yet" in empty.message
    spec = SqlCatalog.model_validate(environment["catalog"])
    catalog = open_catalog(spec, LocalStorage(type="local"), tmp_path)
    catalog.create_namespace("bronze")
    catalog.engine.dispose()
    listed = only(preflight(environment, services=["catalog"]), "catalog")
    assert listed.status == "ok" and "1 namespace(s): bronze" in listed.message


@pytest.mark.postgres
def test_postgres_catalog_wrong_database(preflight: Preflight, postgres_dsn: str) -> None:
    environment = {"catalog": {"type": "sql", "uri": "postgresql://postgres@127.0.0.1:5432/floe_no_such_db"}}
    result = only(preflight(environment, services=["catalog"]), "catalog")
    assert result.status == "error"
    assert "database 'floe_no_such_db' does not exist" in result.message
    assert "createdb floe_no_such_db" in (result.remediation or "")


def rest(uri: str, warehouse: str = "lake", **extra: object) -> dict[str, object]:
    return {"catalog": {"type": "rest", "uri": uri, "warehouse": warehouse, **extra}}


OAUTH = {"client_id": "floe", "client_secret": {"secret_ref": "CATALOG_SECRET"}}


def test_rest_catalog_ok_with_oauth(preflight: Preflight, tmp_path: Path) -> None:
    clients = {"floe": "s3cret-value"}
    with RestCatalogDouble(warehouse="lake", default_root=str(tmp_path / "wh"), clients=clients) as srv:
        report = preflight(rest(srv.uri, **OAUTH), services=["catalog"], secrets={"CATALOG_SECRET": "s3cret-value"})
        token_requests = [r for r in srv.requests if r.path.endswith("/oauth/tokens")]
    result = only(report, "catalog")
    assert result.status == "ok", result
    assert "warehouse 'lake' exists; 0 namespace(s)" in result.message
    assert token_requests and token_requests[0].form is not None  # form-encoded, as OAuth2 requires
    assert token_requests[0].form["grant_type"] == "client_credentials"
    assert "s3cret-value" not in report.model_dump_json()


def test_rest_catalog_wrong_client_secret_is_a_401(preflight: Preflight, tmp_path: Path) -> None:
    with RestCatalogDouble(warehouse="lake", default_root=str(tmp_path / "wh"), clients={"floe": "right"}) as srv:
        result = only(preflight(rest(srv.uri, **OAUTH), services=["catalog"],
                                secrets={"CATALOG_SECRET": "wrong-one"}), "catalog")
    assert result.status == "error"
    assert "rejected client 'floe' (HTTP 401 invalid_client)" in result.message
    assert "CATALOG_SECRET" in (result.remediation or "")


def test_rest_catalog_missing_warehouse(preflight: Preflight, tmp_path: Path) -> None:
    with RestCatalogDouble(warehouse="lake", default_root=str(tmp_path / "wh")) as srv:
        result = only(preflight(rest(srv.uri, warehouse="other"), services=["catalog"]), "catalog")
    assert result.status == "error"
    assert result.message.startswith("warehouse 'other' does not exist")
    assert "catalog.warehouse" in (result.remediation or "")


def test_rest_catalog_refused_and_unresolvable(preflight: Preflight) -> None:
    port = closed_port()
    refused = only(preflight(rest(f"http://127.0.0.1:{port}/api/catalog"), services=["catalog"]), "catalog")
    assert refused.status == "error" and "connection refused" in refused.message
    unknown = only(preflight(rest("http://polaris.invalid:8181/api/catalog"), services=["catalog"]), "catalog")
    assert unknown.status == "error" and "cannot resolve host name 'polaris.invalid'" in unknown.message
