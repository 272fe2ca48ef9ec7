"""Fixtures for the lakehouse: a project folder, catalogs, orders batches, DuckDB, a moto S3 server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pytest

from tests.support.servers import free_port, moto_server

ORDERS_SCHEMA = pa.schema([
    pa.field("order_id", pa.int64(), nullable=False),
    pa.field("customer", pa.string(), nullable=False),
    pa.field("status", pa.string()),
    pa.field("amount", pa.decimal128(12, 2), nullable=False),
    pa.field("ordered_at", pa.timestamp("us", tz="UTC"), nullable=False),
    pa.field("_batch_id", pa.int64(), nullable=False),
])
MOTO_KEY_ID, MOTO_SECRET = "floe-test-key", "floe-test-secret"


def orders_batch(batch: int, rows: int = 5) -> pa.Table:
    """``rows`` orders of batch ``batch``; order ids are unique across batches."""
    start = batch * rows
    base = datetime(2026, 1, 1, tzinfo=timezone.utc)
    return pa.table(
        {
            "order_id": list(range(start, start + rows)),
            "customer": [f"c{(start + i) % 7}" for i in range(rows)],
            "status": [None if (start + i) % 4 == 0 else "shipped" for i in range(rows)],
            "amount": [Decimal(f"{(start + i) * 3}.25") for i in range(rows)],
            "ordered_at": [base + timedelta(minutes=start + i) for i in range(rows)],
            "_batch_id": [batch] * rows,
        },
        schema=ORDERS_SCHEMA,
    )


@pytest.fixture
def orders() -> Callable[..., pa.Table]:
    return orders_batch


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    return root


@pytest.fixture
def sqlite_catalog(project: Path):
    """The embedded default: SQL catalog on SQLite, local warehouse, both under .floe/."""
    from floe.lakehouse import open_catalog
    from floe.spec.platform import LocalStorage, SqlCatalog

    catalog = open_catalog(SqlCatalog(type="sql"), LocalStorage(type="local"), project)
    yield catalog
    catalog.engine.dispose()


@pytest.fixture(scope="session")
def extension_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One project-local extension directory for the session (the binaries are 80 MB)."""
    return tmp_path_factory.mktemp("duckdb_extensions")


@pytest.fixture
def duck(extension_dir: Path):
    """An in-memory DuckDB with avro, httpfs and iceberg installed from the wheels and loaded."""
    import duckdb

    from floe.lakehouse import install_extensions

    connection = duckdb.connect()
    install_extensions(connection, extension_dir)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A real S3-compatible server (moto) on 127.0.0.1; buckets live as long as it does."""
    with moto_server() as endpoint:
        yield endpoint


@pytest.fixture
def s3_client(moto_endpoint: str):
    import boto3

    return boto3.client("s3", endpoint_url=moto_endpoint, region_name="us-east-1",
                        aws_access_key_id=MOTO_KEY_ID, aws_secret_access_key=MOTO_SECRET)


@pytest.fixture
def bucket(s3_client, request: pytest.FixtureRequest) -> str:
    """A fresh bucket per test (module-scoped server, so names must not repeat)."""
    name = "floe-" + request.node.name.lower().replace("_", "-")[:40].strip("-") + f"-{free_port()}"
    s3_client.create_bucket(Bucket=name)
    return name


def s3_keys(client, bucket: str, prefix: str = "") -> list[str]:
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def secrets_of(values: dict[str, str]) -> Callable[[str], str | None]:
    """A secret resolver over a dict (as resolve_secret would read the environment)."""
    return values.get
