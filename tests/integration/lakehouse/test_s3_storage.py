"""An S3 warehouse on a real S3-compatible server (moto), read back by DuckDB through httpfs.

The SQL catalog file lives in the test's folder and moto's buckets in the module's server:
the catalog never outlives the objects it points to.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from floe.lakehouse import LakehouseError, append_batch, batch_ids, open_catalog
from floe.lakehouse.duckdb_read import create_iceberg_views, create_storage_secret, iceberg_views
from floe.lakehouse.maintenance import RetentionPolicy, maintain_table
from floe.spec.platform import GcsStorage, S3Storage, SqlCatalog
from floe.spec.secrets import SecretRef

from .conftest import MOTO_KEY_ID, MOTO_SECRET, orders_batch, s3_keys, secrets_of

pytestmark = pytest.mark.integration

SECRETS = secrets_of({"S3_KEY_ID": MOTO_KEY_ID, "S3_SECRET": MOTO_SECRET})


def s3_storage(endpoint: str, bucket: str) -> S3Storage:
    return S3Storage(type="s3", bucket=bucket, prefix="lake/", endpoint=endpoint, path_style=True,
                     access_key_id=SecretRef(secret_ref="S3_KEY_ID"),
                     secret_access_key=SecretRef(secret_ref="S3_SECRET"))


def test_s3_warehouse_append_idempotence_and_duckdb_over_httpfs(
    project: Path, moto_endpoint: str, s3_client, bucket: str, duck
) -> None:
    storage = s3_storage(moto_endpoint, bucket)
    catalog = open_catalog(SqlCatalog(type="sql"), storage, project, SECRETS)
    try:
        first = append_batch(catalog, "bronze.orders", orders_batch(0), "b0")
        append_batch(catalog, "bronze.orders", orders_batch(1), "b1")
        assert append_batch(catalog, "bronze.orders", orders_batch(1), "b1").skipped
        assert first.metadata_location.startswith(f"s3://{bucket}/lake/bronze/orders/metadata/")
        keys = s3_keys(s3_client, bucket)
        assert sum(k.startswith("lake/bronze/orders/data/") and k.endswith(".parquet") for k in keys) == 2
        assert batch_ids(catalog, "bronze.orders") == ["b0", "b1"]
        assert not (project / ".floe" / "lakehouse").exists()  # nothing went to local disk

        assert create_storage_secret(duck, storage, SECRETS) == "floe_storage"
        create_iceberg_views(duck, iceberg_views(catalog, ["bronze.orders"]))
        got = duck.execute("SELECT count(*), sum(amount), min(order_id), max(order_id) FROM bronze.orders").fetchone()
        expected = catalog.load_table("bronze.orders").scan().to_arrow()
        assert got[0] == expected.num_rows == 10
        assert got[1] == sum(expected.column("amount").to_pylist())
        assert (got[2], got[3]) == (0, 9)
    finally:
        catalog.engine.dispose()


def test_snapshot_expiry_deletes_expired_files_from_the_bucket(
    project: Path, moto_endpoint: str, s3_client, bucket: str
) -> None:
    catalog = open_catalog(SqlCatalog(type="sql"), s3_storage(moto_endpoint, bucket), project, SECRETS)
    try:
        for batch in range(6):
            append_batch(catalog, "bronze.orders", orders_batch(batch), f"b{batch}")
        before = s3_keys(s3_client, bucket, "lake/bronze/orders/metadata/")
        result = maintain_table(catalog, "bronze.orders", RetentionPolicy(
            max_snapshot_age=timedelta(0), min_snapshots_to_keep=2, metadata_versions_to_keep=2,
            orphan_grace=timedelta(0)))
        after = s3_keys(s3_client, bucket, "lake/bronze/orders/metadata/")
        assert result.expired_snapshots == 4 and result.kept_snapshots == 2
        assert result.orphan_sweep_skipped is None
        assert sum(k.split("/")[-1].startswith("snap-") for k in after) == 2
        assert sum(k.endswith(".metadata.json") for k in after) <= 3
        assert len(after) < len(before)
        assert catalog.load_table("bronze.orders").scan().to_arrow().num_rows == 30
        assert append_batch(catalog, "bronze.orders", orders_batch(0), "b0").skipped
    finally:
        catalog.engine.dispose()


def test_a_missing_bucket_fails_with_a_floe_error(project: Path, moto_endpoint: str, bucket: str) -> None:
    storage = S3Storage(type="s3", bucket=bucket + "-missing", endpoint=moto_endpoint, path_style=True,
                        access_key_id=SecretRef(secret_ref="S3_KEY_ID"),
                        secret_access_key=SecretRef(secret_ref="S3_SECRET"))
    catalog = open_catalog(SqlCatalog(type="sql"), storage, project, SECRETS)
    try:
        with pytest.raises(LakehouseError) as caught:
            append_batch(catalog, "bronze.orders", orders_batch(0), "b0")
        assert "cannot append batch 'b0' to bronze.orders" in caught.value.message
        assert "storage failed" in caught.value.message
    finally:
        catalog.engine.dispose()


def test_duckdb_cannot_read_gcs_and_says_so(duck) -> None:
    with pytest.raises(LakehouseError, match="DuckDB cannot read gcs storage through floe yet"):
        create_storage_secret(duck, GcsStorage(type="gcs", bucket="some-bucket"))
