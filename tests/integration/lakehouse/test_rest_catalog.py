"""The REST catalog path (Polaris style, OAuth2) against a test double of the REST protocol.

No REST catalog server can be installed here; ``rest_catalog_double`` is a real HTTP server
that implements the protocol (see its docstring). Data and metadata files are real.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from floe.lakehouse import LakehouseError, append_batch, batch_ids, open_catalog
from floe.lakehouse.catalogs import FloeRestCatalog
from floe.lakehouse.duckdb_read import create_iceberg_views, create_storage_secret, iceberg_views
from floe.lakehouse.maintenance import RetentionPolicy, maintain_table
from floe.spec.platform import LocalStorage, RestCatalog, S3Storage
from floe.spec.secrets import SecretRef

from .conftest import MOTO_KEY_ID, MOTO_SECRET, free_port, orders_batch, s3_keys, secrets_of
from .rest_catalog_double import RestCatalogDouble

pytestmark = pytest.mark.integration

CLIENT_ID, CLIENT_SECRET = "floe-loader", "correct-horse-battery"
DELEGATION = "x-iceberg-access-delegation"


@pytest.fixture
def rest_server(project: Path) -> Iterator[RestCatalogDouble]:
    with RestCatalogDouble(warehouse="lakehouse", default_root=str(project / "server-default"),
                           clients={CLIENT_ID: CLIENT_SECRET}) as server:
        yield server


def rest_spec(server: RestCatalogDouble, **fields) -> RestCatalog:
    base = {"type": "rest", "uri": server.uri, "warehouse": server.warehouse, "client_id": CLIENT_ID,
            "client_secret": SecretRef(secret_ref="POLARIS_SECRET")}
    return RestCatalog.model_validate({**base, **fields})


def test_oauth2_client_credentials_are_exchanged_form_encoded_for_a_bearer_token(rest_server, project) -> None:
    catalog = open_catalog(rest_spec(rest_server, scope="PRINCIPAL_ROLE:loader"), LocalStorage(type="local"),
                           project, secrets_of({"POLARIS_SECRET": CLIENT_SECRET}))
    assert isinstance(catalog, FloeRestCatalog)

    token_requests = [r for r in rest_server.requests if r.path.endswith("/v1/oauth/tokens")]
    assert token_requests, "no token request was made"
    first = token_requests[0]
    assert first.headers["content-type"].startswith("application/x-www-form-urlencoded")
    assert first.form == {"grant_type": "client_credentials", "client_id": CLIENT_ID,
                          "client_secret": CLIENT_SECRET, "scope": "PRINCIPAL_ROLE:loader"}
    config = next(r for r in rest_server.requests if r.path.endswith("/v1/config"))
    assert config.headers["authorization"].startswith("Bearer ")
    catalog.create_namespace("bronze")
    assert ("bronze",) in catalog.list_namespaces()


def test_a_wrong_client_secret_is_a_clear_floe_error(rest_server, project) -> None:
    with pytest.raises(LakehouseError) as caught:
        open_catalog(rest_spec(rest_server), LocalStorage(type="local"), project,
                     secrets_of({"POLARIS_SECRET": "wrong"}))
    text = str(caught.value)
    where = f"REST catalog {rest_server.uri} (warehouse lakehouse)"
    assert f"cannot open the catalog: {where} refused the credentials" in text
    assert "invalid_client" in text
    assert "client_secret" in (caught.value.hint or "")
    assert "wrong" not in text  # the secret is never echoed


def test_a_missing_client_secret_names_the_secret(rest_server, project) -> None:
    with pytest.raises(LakehouseError) as caught:
        open_catalog(rest_spec(rest_server), LocalStorage(type="local"), project, secrets_of({}))
    assert caught.value.message == "secret not set: POLARIS_SECRET (for catalog.client_secret)"
    assert rest_server.requests == []  # nothing was sent without it


def test_an_unknown_warehouse_and_an_unreachable_catalog_are_floe_errors(rest_server, project) -> None:
    secrets = secrets_of({"POLARIS_SECRET": CLIENT_SECRET})
    with pytest.raises(LakehouseError) as caught:
        open_catalog(rest_spec(rest_server, warehouse="nope"), LocalStorage(type="local"), project, secrets)
    assert "rejected the request (NotFoundException: unknown warehouse 'nope')" in caught.value.message

    dead = RestCatalog(type="rest", uri=f"http://127.0.0.1:{free_port()}/api/catalog", warehouse="w")
    with pytest.raises(LakehouseError, match="is not reachable"):
        open_catalog(dead, LocalStorage(type="local"), project, secrets)


def test_append_and_idempotence_through_rest(rest_server, project, duck) -> None:
    catalog = open_catalog(rest_spec(rest_server), LocalStorage(type="local"), project,
                           secrets_of({"POLARIS_SECRET": CLIENT_SECRET}))
    first = append_batch(catalog, "bronze.orders", orders_batch(0), "b0")
    second = append_batch(catalog, "bronze.orders", orders_batch(1), "b1")
    retry = append_batch(catalog, "bronze.orders", orders_batch(0), "b0")

    assert not first.skipped and not second.skipped and retry.skipped
    assert retry.snapshot_id == first.snapshot_id
    assert batch_ids(catalog, "bronze.orders") == ["b0", "b1"]
    table = catalog.load_table("bronze.orders")
    # floe put the table under the declared storage, not the server's default location.
    assert table.location() == str(project / ".floe" / "lakehouse" / "bronze" / "orders")
    assert table.metadata_location == rest_server.state.tables[(("bronze",), "orders")]
    assert table.scan().to_arrow().num_rows == 10
    commits = [r for r in rest_server.requests if r.method == "POST" and r.path.endswith("/tables/orders")]
    assert len(commits) == 2  # the retry made no commit

    create_iceberg_views(duck, iceberg_views(catalog, ["bronze.orders"]))
    assert duck.execute("SELECT count(*), count(DISTINCT _batch_id) FROM bronze.orders").fetchone() == (10, 2)

    result = maintain_table(catalog, "bronze.orders",
                            RetentionPolicy(min_snapshots_to_keep=1, max_snapshot_age=timedelta(0)))
    assert result.expired_snapshots == 1
    assert append_batch(catalog, "bronze.orders", orders_batch(0), "b0").skipped


def test_a_commit_whose_response_is_lost_is_not_appended_again(rest_server, project) -> None:
    catalog = open_catalog(rest_spec(rest_server), LocalStorage(type="local"), project,
                           secrets_of({"POLARIS_SECRET": CLIENT_SECRET}))
    append_batch(catalog, "bronze.orders", orders_batch(0), "b0")
    rest_server.lose_commit_responses = 1
    result = append_batch(catalog, "bronze.orders", orders_batch(1), "b1")

    assert not result.skipped and result.rows == 5  # it was this call that appended it
    assert batch_ids(catalog, "bronze.orders") == ["b0", "b1"]
    assert catalog.load_table("bronze.orders").scan().to_arrow().num_rows == 10
    assert append_batch(catalog, "bronze.orders", orders_batch(1), "b1").skipped


def test_vended_credentials_header_is_sent_only_when_configured(rest_server, project) -> None:
    secrets = secrets_of({"POLARIS_SECRET": CLIENT_SECRET})
    plain = open_catalog(rest_spec(rest_server), LocalStorage(type="local"), project, secrets)
    append_batch(plain, "bronze.orders", orders_batch(0), "b0")
    assert rest_server.requests
    assert all(DELEGATION not in r.headers for r in rest_server.requests)

    rest_server.state.requests.clear()
    storage = S3Storage(type="s3", bucket="unused", endpoint="http://127.0.0.1:9", path_style=True)
    vended = open_catalog(rest_spec(rest_server, vended_credentials=True), storage, project, secrets)
    vended.load_table("bronze.orders")
    catalog_requests = [r for r in rest_server.requests if "/oauth/" not in r.path]
    assert catalog_requests
    assert all(r.headers.get(DELEGATION) == "vended-credentials" for r in catalog_requests)


def test_vended_credentials_are_used_with_the_clients_own_endpoint(
    project, moto_endpoint, s3_client, bucket, duck
) -> None:
    """The catalog vends keys and an internal endpoint name; the client keeps its own endpoint."""
    server_io = {"s3.endpoint": moto_endpoint, "s3.region": "us-east-1", "s3.access-key-id": MOTO_KEY_ID,
                 "s3.secret-access-key": MOTO_SECRET, "s3.force-virtual-addressing": "false"}
    vended = {"s3.endpoint": "http://minio.internal.invalid:9000", "s3.access-key-id": MOTO_KEY_ID,
              "s3.secret-access-key": MOTO_SECRET}
    with RestCatalogDouble(warehouse="lakehouse", default_root=f"s3://{bucket}/default",
                           clients={CLIENT_ID: CLIENT_SECRET}, io_properties=server_io,
                           vended_config=vended) as server:
        storage = S3Storage(type="s3", bucket=bucket, prefix="lake", endpoint=moto_endpoint, path_style=True)
        catalog = open_catalog(rest_spec(server, vended_credentials=True), storage, project,
                               secrets_of({"POLARIS_SECRET": CLIENT_SECRET}))
        append_batch(catalog, "bronze.orders", orders_batch(0), "b0")
        table = catalog.load_table("bronze.orders")
        assert table.io.properties["s3.endpoint"] == moto_endpoint
        assert table.io.properties["s3.access-key-id"] == MOTO_KEY_ID  # vended, the spec has no keys
        assert any(key.startswith("lake/bronze/orders/data/") for key in s3_keys(s3_client, bucket))

        create_storage_secret(duck, storage, vended=table.io.properties)
        create_iceberg_views(duck, iceberg_views(catalog, ["bronze.orders"]))
        assert duck.execute("SELECT count(*) FROM bronze.orders").fetchone() == (5,)
