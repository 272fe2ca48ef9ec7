"""The production SQL catalog: PostgreSQL, in a throw-away database that is dropped afterwards."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from floe.lakehouse import LakehouseError, append_batch, batch_ids, open_catalog
from floe.lakehouse.duckdb_read import create_iceberg_views, iceberg_views
from floe.spec.platform import LocalStorage, SqlCatalog
from floe.spec.secrets import SecretRef
from tests.support.postgres import scratch_database

from .conftest import free_port, orders_batch, secrets_of

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def _admin(dsn: str):
    import psycopg2

    connection = psycopg2.connect(dsn)
    connection.autocommit = True
    return connection


@pytest.fixture
def catalog_database(postgres_dsn: str) -> Iterator[tuple[str, str]]:
    """(url without password, database name) of a fresh database; dropped with its connections."""
    from psycopg2.extensions import parse_dsn

    params = parse_dsn(postgres_dsn)
    host, port, user = params.get("host", "127.0.0.1"), params.get("port", "5432"), params.get("user", "postgres")
    with scratch_database(postgres_dsn, "floe_catalog") as name:
        yield f"postgresql://{user}@{host}:{port}/{name}", name


def test_postgres_catalog_end_to_end(catalog_database, project: Path, duck) -> None:
    url, _ = catalog_database
    # The server trusts local connections, so any password works; it must still be resolved.
    spec = SqlCatalog(type="sql", uri=url, password=SecretRef(secret_ref="CATALOG_PASSWORD"))
    catalog = open_catalog(spec, LocalStorage(type="local"), project, secrets_of({"CATALOG_PASSWORD": "p@ss/w:rd"}))
    try:
        assert catalog.engine.url.drivername == "postgresql+psycopg2"
        assert catalog.engine.url.password == "p@ss/w:rd"
        append_batch(catalog, "bronze.orders", orders_batch(0), "b0")
        append_batch(catalog, "bronze.orders", orders_batch(1), "b1")
        assert append_batch(catalog, "bronze.orders", orders_batch(0), "b0").skipped
        assert batch_ids(catalog, "bronze.orders") == ["b0", "b1"]

        with catalog.engine.connect() as connection:
            rows = connection.exec_driver_sql(
                "SELECT table_namespace, table_name FROM iceberg_tables WHERE catalog_name = 'floe'"
            ).fetchall()
        assert rows == [("bronze", "orders")]

        create_iceberg_views(duck, iceberg_views(catalog, ["bronze.orders"]))
        assert duck.execute("SELECT count(*) FROM bronze.orders").fetchone() == (10,)
    finally:
        catalog.engine.dispose()


def test_missing_password_secret_is_named(catalog_database, project: Path) -> None:
    url, _ = catalog_database
    spec = SqlCatalog(type="sql", uri=url, password=SecretRef(secret_ref="CATALOG_PASSWORD"))
    with pytest.raises(LakehouseError) as caught:
        open_catalog(spec, LocalStorage(type="local"), project, secrets_of({}))
    assert caught.value.message == "secret not set: CATALOG_PASSWORD (for catalog.password)"
    assert "CATALOG_PASSWORD" in (caught.value.hint or "")


def test_unreachable_catalog_database_is_a_floe_error(postgres_dsn: str, project: Path) -> None:
    spec = SqlCatalog(type="sql", uri=f"postgresql://floe@127.0.0.1:{free_port()}/catalog")
    with pytest.raises(LakehouseError) as caught:
        open_catalog(spec, LocalStorage(type="local"), project)
    assert "cannot open the catalog: SQL catalog postgresql+psycopg2://floe@127.0.0.1" in caught.value.message
    assert "Connection refused" in caught.value.message
    assert caught.value.hint and "database server runs" in caught.value.hint
