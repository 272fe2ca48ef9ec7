"""Every catalog and storage field has its effect on the pyiceberg properties (no connection made)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from floe.lakehouse import LakehouseError, catalog_properties, storage_properties
from floe.lakehouse.properties import (
    CLIENT_STORAGE_KEY,
    FILE_IO_IMPL,
    TABLE_ROOT,
    VENDED_CREDENTIALS,
    redacted,
)
from floe.spec.platform import AdlsStorage, GcsStorage, LocalStorage, RestCatalog, S3Storage, SqlCatalog

SECRETS = {"PG_PW": "p@ss/w:rd", "POLARIS": "client-secret", "KEY": "AKIA1", "SECRET": "s3cr3t",
           "GCS_TOKEN": "ya29.token", "AZ_KEY": "az-key", "AZ_SAS": "sv=1", "AZ_SECRET": "sp-secret"}


def ref(name: str) -> dict[str, str]:
    return {"secret_ref": name}


def test_embedded_default_resolves_paths_against_the_project(tmp_path: Path) -> None:
    props = catalog_properties(SqlCatalog(type="sql"), LocalStorage(type="local"), tmp_path, SECRETS.get)
    root = tmp_path.resolve()
    assert props == {
        "py-io-impl": FILE_IO_IMPL,
        "uri": f"sqlite:///{root}/.floe/catalog.db",
        "warehouse": f"{root}/.floe/lakehouse",
        TABLE_ROOT: f"{root}/.floe/lakehouse",
    }


def test_explicit_local_warehouse_and_absolute_sqlite_path(tmp_path: Path) -> None:
    spec = SqlCatalog(type="sql", uri="sqlite:////srv/floe/catalog.db?timeout=30", warehouse="file:///srv/lake")
    props = catalog_properties(spec, LocalStorage(type="local", path="ignored-when-warehouse-is-set"), tmp_path)
    assert props["uri"] == "sqlite:////srv/floe/catalog.db?timeout=30"
    assert props["warehouse"] == props[TABLE_ROOT] == "/srv/lake"
    relative = catalog_properties(SqlCatalog(type="sql", warehouse="data/wh"), LocalStorage(type="local"), tmp_path)
    assert relative["warehouse"] == f"{tmp_path.resolve()}/data/wh"


def test_postgres_catalog_gets_its_password_driver_and_timeout(tmp_path: Path) -> None:
    spec = SqlCatalog.model_validate({"type": "sql", "uri": "postgresql://iceberg@db:5432/catalog",
                                      "password": ref("PG_PW")})
    props = catalog_properties(spec, LocalStorage(type="local"), tmp_path, SECRETS.get)
    assert props["uri"] == "postgresql+psycopg2://iceberg:p%40ss%2Fw%3Ard@db:5432/catalog?connect_timeout=10"
    assert redacted(props["uri"]) == "postgresql+psycopg2://iceberg:***@db:5432/catalog?connect_timeout=10"
    explicit = SqlCatalog(type="sql", uri="postgresql+psycopg://iceberg@db/catalog?connect_timeout=3")
    assert catalog_properties(explicit, LocalStorage(type="local"), tmp_path)["uri"] == \
        "postgresql+psycopg://iceberg@db/catalog?connect_timeout=3"


def test_postgres_password_needs_a_user_in_the_url(tmp_path: Path) -> None:
    spec = SqlCatalog.model_validate({"type": "sql", "uri": "postgresql://db/catalog", "password": ref("PG_PW")})
    with pytest.raises(LakehouseError, match="names no user, but a password is set"):
        catalog_properties(spec, LocalStorage(type="local"), tmp_path, SECRETS.get)


def test_s3_warehouse_on_an_s3_compatible_store(tmp_path: Path) -> None:
    storage = S3Storage.model_validate({"type": "s3", "bucket": "lake", "prefix": "bronze",
                                        "endpoint": "http://minio:9000", "path_style": True,
                                        "access_key_id": ref("KEY"), "secret_access_key": ref("SECRET")})
    props = catalog_properties(SqlCatalog(type="sql"), storage, tmp_path, SECRETS.get)
    assert props["warehouse"] == props[TABLE_ROOT] == "s3://lake/bronze"
    assert {k: v for k, v in props.items() if k.startswith("s3.")} == {
        "s3.endpoint": "http://minio:9000", "s3.force-virtual-addressing": "false", "s3.region": "us-east-1",
        "s3.access-key-id": "AKIA1", "s3.secret-access-key": "s3cr3t"}


def test_s3_on_aws_leaves_region_and_addressing_to_the_client() -> None:
    assert storage_properties(S3Storage(type="s3", bucket="lake")) == {"py-io-impl": FILE_IO_IMPL}
    virtual = storage_properties(S3Storage(type="s3", bucket="lake", region="eu-west-1",
                                           endpoint="https://s3.example.com"))
    assert virtual["s3.force-virtual-addressing"] == "true"
    assert virtual["s3.region"] == "eu-west-1"


def test_gcs_and_adls_properties(tmp_path: Path) -> None:
    gcs = GcsStorage.model_validate({"type": "gcs", "bucket": "lake", "prefix": "b", "endpoint": "http://gcs:4443",
                                     "access_token": ref("GCS_TOKEN")})
    props = catalog_properties(SqlCatalog(type="sql"), gcs, tmp_path, SECRETS.get)
    assert props[TABLE_ROOT] == "gs://lake/b"
    assert (props["gcs.service.host"], props["gcs.oauth2.token"]) == ("http://gcs:4443", "ya29.token")

    for extra, expected in [
        ({"account_key": ref("AZ_KEY")}, {"adls.account-key": "az-key"}),
        ({"sas_token": ref("AZ_SAS")}, {"adls.sas-token": "sv=1"}),
        ({"tenant_id": "t", "client_id": "c", "client_secret": ref("AZ_SECRET")},
         {"adls.tenant-id": "t", "adls.client-id": "c", "adls.client-secret": "sp-secret"}),
    ]:
        adls = AdlsStorage.model_validate({"type": "adls", "account_name": "acct", "container": "lake", **extra})
        props = catalog_properties(SqlCatalog(type="sql"), adls, tmp_path, SECRETS.get)
        assert props[TABLE_ROOT] == "abfss://lake@acct.dfs.core.windows.net"
        assert {k: v for k, v in props.items() if k.startswith("adls.")} == {"adls.account-name": "acct", **expected}


def test_rest_catalog_properties_for_polaris(tmp_path: Path) -> None:
    spec = RestCatalog.model_validate({"type": "rest", "uri": "https://polaris:8181/api/catalog/",
                                       "warehouse": "analytics", "client_id": "floe",
                                       "client_secret": ref("POLARIS")})
    storage = S3Storage(type="s3", bucket="lake", endpoint="http://minio:9000", path_style=True)
    props = catalog_properties(spec, storage, tmp_path, SECRETS.get)
    assert props["uri"] == "https://polaris:8181/api/catalog/"
    assert props["warehouse"] == "analytics"  # the catalog name, not a location
    assert props["credential"] == "floe:client-secret"
    assert props["scope"] == "PRINCIPAL_ROLE:ALL"
    assert props["oauth2-server-uri"] == "https://polaris:8181/api/catalog/v1/oauth/tokens"
    assert props[TABLE_ROOT] == "s3://lake"
    assert props[VENDED_CREDENTIALS] == "false"
    assert "header.X-Iceberg-Access-Delegation" not in props
    assert json.loads(props[CLIENT_STORAGE_KEY]) == ["py-io-impl", "s3.endpoint", "s3.force-virtual-addressing",
                                                     "s3.region"]


def test_rest_catalog_scope_token_endpoint_and_vended_credentials(tmp_path: Path) -> None:
    spec = RestCatalog.model_validate({"type": "rest", "uri": "http://p/api", "warehouse": "w", "client_id": "floe",
                                       "client_secret": ref("POLARIS"), "scope": "PRINCIPAL_ROLE:loader",
                                       "credential_uri": "http://idp/token", "vended_credentials": True})
    props = catalog_properties(spec, S3Storage(type="s3", bucket="lake"), tmp_path, SECRETS.get)
    assert (props["scope"], props["oauth2-server-uri"]) == ("PRINCIPAL_ROLE:loader", "http://idp/token")
    assert props["header.X-Iceberg-Access-Delegation"] == "vended-credentials"
    assert props[VENDED_CREDENTIALS] == "true"


def test_rest_catalog_without_credentials_sends_none(tmp_path: Path) -> None:
    props = catalog_properties(RestCatalog(type="rest", uri="http://p/api", warehouse="w"),
                               LocalStorage(type="local"), tmp_path)
    assert not {"credential", "scope", "oauth2-server-uri"} & set(props)


def test_every_missing_secret_is_named_at_once(tmp_path: Path) -> None:
    spec = RestCatalog.model_validate({"type": "rest", "uri": "http://p/api", "warehouse": "w", "client_id": "floe",
                                       "client_secret": ref("POLARIS")})
    storage = S3Storage.model_validate({"type": "s3", "bucket": "lake", "access_key_id": ref("KEY"),
                                        "secret_access_key": ref("SECRET")})
    with pytest.raises(LakehouseError) as caught:
        catalog_properties(spec, storage, tmp_path, {}.get)
    assert caught.value.message == ("secrets not set: KEY (for storage.access_key_id), SECRET (for "
                                    "storage.secret_access_key), POLARIS (for catalog.client_secret)")
    assert caught.value.hint is not None and caught.value.hint.startswith("export KEY=...")


def test_a_warehouse_off_the_declared_storage_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LakehouseError) as caught:
        catalog_properties(SqlCatalog(type="sql", warehouse="s3://other/w"), S3Storage(type="s3", bucket="lake"),
                           tmp_path)
    assert caught.value.message == "catalog.warehouse 's3://other/w' is not in bucket 'lake' of storage"
    vended = RestCatalog(type="rest", uri="http://p/api", warehouse="w", vended_credentials=True)
    with pytest.raises(LakehouseError, match="needs object storage"):
        catalog_properties(vended, LocalStorage(type="local"), tmp_path)


@pytest.mark.parametrize(("location", "expected"), [
    ("abfss://lake@acct.dfs.core.windows.net/bronze/orders/data/f.parquet",
     ("abfss", "lake@acct.dfs.core.windows.net", "lake/bronze/orders/data/f.parquet")),
    ("wasbs://lake@acct.blob.core.windows.net/x", ("wasbs", "lake@acct.blob.core.windows.net", "lake/x")),
    ("abfs://lake/x", ("abfs", "lake", "lake/x")),
    ("s3://bucket/key", ("s3", "bucket", "bucket/key")),
    ("/srv/lake/f.parquet", ("file", "", "/srv/lake/f.parquet")),
])
def test_file_io_opens_azure_locations_by_container(location: str, expected: tuple[str, str, str]) -> None:
    from floe.lakehouse.fileio import FloeArrowFileIO

    assert FloeArrowFileIO.parse_location(location) == expected
    assert FloeArrowFileIO().parse_location(location) == expected
