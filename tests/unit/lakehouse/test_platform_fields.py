"""The catalog and storage blocks of platform.yaml: what is accepted, what is refused and how."""

from __future__ import annotations

from pathlib import Path

import pytest

from floe.errors import SpecError, SpecIssue
from floe.spec.loading import load_spec
from floe.spec.platform import (
    AdlsStorage,
    GcsStorage,
    LocalStorage,
    PlatformSpec,
    RestCatalog,
    S3Storage,
    SqlCatalog,
)

HEAD = "environments:\n  dev:\n"


def _load(tmp_path: Path, body: str) -> PlatformSpec:
    path = tmp_path / "platform.yaml"
    path.write_text(HEAD + body, encoding="utf-8")
    return load_spec(path, PlatformSpec, {}, display_name="platform.yaml", pipeline_file=False).model


def _issues(tmp_path: Path, body: str) -> list[SpecIssue]:
    with pytest.raises(SpecError) as caught:
        _load(tmp_path, body)
    return caught.value.issues


def _one(tmp_path: Path, body: str) -> SpecIssue:
    issues = _issues(tmp_path, body)
    assert len(issues) == 1, issues
    return issues[0]


# --- defaults and valid blocks -------------------------------------------------------------


def test_defaults_are_the_embedded_lakehouse(tmp_path: Path) -> None:
    env = _load(tmp_path, "    compute: {type: duckdb}\n").environments["dev"]
    assert env.catalog == SqlCatalog(type="sql", uri="sqlite:///.floe/catalog.db", warehouse=None)
    assert env.storage == LocalStorage(type="local", path=".floe/lakehouse")


def test_polaris_with_s3_and_vended_credentials(tmp_path: Path) -> None:
    env = _load(tmp_path, """\
    catalog:
      type: rest
      uri: https://polaris.example.com/api/catalog
      warehouse: analytics
      client_id: floe
      client_secret: {secret_ref: POLARIS_SECRET}
      scope: PRINCIPAL_ROLE:loader
      credential_uri: https://auth.example.com/oauth/token
      vended_credentials: true
    storage:
      type: s3
      bucket: lake-bucket
      prefix: /bronze/
      region: eu-central-1
""").environments["dev"]
    assert isinstance(env.catalog, RestCatalog) and isinstance(env.storage, S3Storage)
    assert env.catalog.vended_credentials and env.catalog.credential_uri == "https://auth.example.com/oauth/token"
    assert env.storage.prefix == "bronze"  # slashes at either end are dropped
    assert env.catalog.storage_problems(env.storage) == []


def test_gcs_and_adls_storage(tmp_path: Path) -> None:
    gcs = _load(tmp_path, "    storage: {type: gcs, bucket: my-lake, access_token: {secret_ref: GCS_TOKEN}}\n")
    assert isinstance(gcs.environments["dev"].storage, GcsStorage)
    adls = _load(tmp_path, """\
    storage:
      type: adls
      account_name: lakeacct
      container: bronze
      prefix: raw
      tenant_id: t-1
      client_id: c-1
      client_secret: {secret_ref: AZURE_SECRET}
""").environments["dev"].storage
    assert isinstance(adls, AdlsStorage)
    assert adls.authority == "bronze@lakeacct.dfs.core.windows.net"
    assert adls.static_credentials() == ["client_secret"]


def test_sql_catalog_on_postgres_with_an_s3_warehouse(tmp_path: Path) -> None:
    env = _load(tmp_path, """\
    catalog:
      type: sql
      uri: postgresql://iceberg@db:5432/catalog
      password: {secret_ref: CATALOG_PASSWORD}
      warehouse: s3://lake-bucket/warehouse
    storage: {type: s3, bucket: lake-bucket, endpoint: "http://minio:9000", path_style: true}
""").environments["dev"]
    assert env.catalog.storage_problems(env.storage) == []


# --- refused, with the place and the reason ---------------------------------------------------


@pytest.mark.parametrize(("body", "path", "message"), [
    ("    catalog: {type: sql, uri: 'mysql://u@db/c'}\n", "environments.dev.catalog.uri",
     "expected sqlite:///<path> or postgresql://user@host:port/db, got 'mysql://u@db/c'"),
    ("    catalog: {type: sql, uri: 'sqlite://'}\n", "environments.dev.catalog.uri",
     "a SQLite URL has three slashes before the path: sqlite:///<path>, got 'sqlite://'"),
    ("    catalog: {type: sql, uri: 'sqlite:///:memory:'}\n", "environments.dev.catalog.uri",
     "an in-memory SQLite catalog forgets every table; give a file: sqlite:///.floe/catalog.db"),
    ("    catalog: {type: sql, warehouse: 'hdfs://nn/warehouse'}\n", "environments.dev.catalog.warehouse",
     "unsupported warehouse URL 'hdfs://nn/warehouse': expected a path or one of file://, s3://, s3a://, "
     "gs://, abfs://, abfss://"),
    ("    catalog: {type: sql, password: {secret_ref: PW}}\n", "environments.dev.catalog",
     "'password' applies to a PostgreSQL catalog database, not to SQLite; remove it"),
    ("    catalog: {type: rest, uri: polaris:8181, warehouse: w}\n", "environments.dev.catalog.uri",
     "uri must be an http:// or https:// URL, got 'polaris:8181'"),
    ("    catalog: {type: rest, uri: 'http://p/api', warehouse: w, client_id: floe}\n", "environments.dev.catalog",
     "client_id and client_secret go together: set both for OAuth2, or neither"),
    ("    catalog: {type: rest, uri: 'http://p/api', warehouse: w, scope: 'PRINCIPAL_ROLE:x'}\n",
     "environments.dev.catalog", "scope apply only to OAuth2: set client_id and client_secret, or remove them"),
    ("    catalog: {type: rest, uri: 'http://p/api', warehouse: w, client_id: a, client_secret: {secret_ref: S},"
     " credential_uri: 'auth.local/token'}\n", "environments.dev.catalog.credential_uri",
     "credential_uri must be an http:// or https:// URL, got 'auth.local/token'"),
    ("    catalog: {type: rest, uri: 'http://p/api', warehouse: w, vended_credentials: maybe}\n",
     "environments.dev.catalog.vended_credentials", None),
    ("    storage: {type: s3, bucket: Lake_Bucket}\n", "environments.dev.storage.bucket", None),
    ("    storage: {type: s3, bucket: lake, path_style: true}\n", "environments.dev.storage",
     "path_style applies to a custom endpoint; set endpoint, or remove path_style (AWS S3 itself is "
     "addressed by host name)"),
    ("    storage: {type: s3, bucket: lake, endpoint: 'minio:9000'}\n", "environments.dev.storage.endpoint",
     "endpoint must be an http:// or https:// URL, got 'minio:9000'"),
    ("    storage: {type: s3, bucket: lake, access_key_id: {secret_ref: K}}\n", "environments.dev.storage",
     "access_key_id and secret_access_key go together: set both, or neither to use the default AWS "
     "credential chain or vended credentials"),
    ("    storage: {type: adls, account_name: acct, container: lake1, account_key: {secret_ref: K},"
     " sas_token: {secret_ref: T}}\n", "environments.dev.storage",
     "choose one way to authenticate, not account_key and sas_token"),
    ("    storage: {type: adls, account_name: acct, container: lake1, client_id: x}\n", "environments.dev.storage",
     "a service principal needs tenant_id, client_id and client_secret together"),
    ("    storage: {type: adls, account_name: Bad-Name, container: lake1}\n",
     "environments.dev.storage.account_name", None),
    ("    storage: {type: hdfs}\n", "environments.dev.storage.type", "unknown type 'hdfs'"),
])
def test_invalid_blocks_are_refused_where_they_are(tmp_path: Path, body: str, path: str, message: str | None) -> None:
    issue = _one(tmp_path, body)
    assert issue.path == path
    assert issue.line is not None
    if message is not None:
        assert issue.message == message


def test_literal_credentials_in_the_new_fields_are_refused(tmp_path: Path) -> None:
    issues = _issues(tmp_path, """\
    storage:
      type: adls
      account_name: acct
      container: lake1
      sas_token: "sv=2024&sig=abc"
""")
    assert [(i.path, i.message) for i in issues] == [
        ("environments.dev.storage.sas_token", "a credential must not be written in a spec file")]


def test_storage_problems_between_catalog_and_storage() -> None:
    local, s3 = LocalStorage(type="local"), S3Storage(type="s3", bucket="lake")
    assert SqlCatalog(type="sql", warehouse="s3://other/w").storage_problems(s3) == [
        "catalog.warehouse 's3://other/w' is not in bucket 'lake' of storage"]
    assert SqlCatalog(type="sql", warehouse=".floe/w").storage_problems(s3)[0].startswith(
        "catalog.warehouse '.floe/w' is on local storage but storage.type is 's3'")
    assert SqlCatalog(type="sql", warehouse="file:///srv/lake").storage_problems(local) == []
    adls = AdlsStorage(type="adls", account_name="acct", container="lake1")
    assert SqlCatalog(type="sql", warehouse="abfss://lake2@acct.dfs.core.windows.net/w").storage_problems(adls) == [
        "catalog.warehouse 'abfss://lake2@acct.dfs.core.windows.net/w' is not in container "
        "'lake1@acct.dfs.core.windows.net' of storage"]
    rest = RestCatalog(type="rest", uri="http://p/api", warehouse="w", vended_credentials=True)
    assert rest.storage_problems(local) == [
        "catalog.vended_credentials needs object storage (s3, gcs, adls), not local storage"]
    keyed = S3Storage.model_validate({"type": "s3", "bucket": "lake", "access_key_id": {"secret_ref": "K"},
                                      "secret_access_key": {"secret_ref": "S"}})
    assert "use one" in rest.storage_problems(keyed)[0]
    assert rest.storage_problems(s3) == []
