"""Landing retries against a real SQLite Iceberg catalog."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from floe.errors import FloeError
from floe.ingestion.landing import land_with_retry, next_batch_number, retry_delays
from floe.spec.ingestion import RetrySpec, SyntheticSource


def test_retry_delays_follow_the_backoff() -> None:
    spec = RetrySpec(max_retries=3, delay=timedelta(seconds=2), backoff="exponential")
    assert retry_delays(spec) == [2.0, 4.0, 8.0]
    assert retry_delays(spec.model_copy(update={"backoff": "linear"})) == [2.0, 4.0, 6.0]
    assert retry_delays(spec.model_copy(update={"backoff": "constant"})) == [2.0, 2.0, 2.0]
    assert retry_delays(spec.model_copy(update={"max_retries": 0})) == []


def _source(**overrides: object) -> SyntheticSource:
    return SyntheticSource.model_validate({"type": "synthetic", "name": "shop", "dataset": "ecommerce",
                                           "rate": {"type": "burst", "rows": 50}, **overrides})


def _catalog(tmp_path: Path):
    from floe.lakehouse import open_catalog
    from floe.spec.platform import LocalStorage, SqlCatalog

    return open_catalog(SqlCatalog(type="sql"), LocalStorage(type="local"), tmp_path)


def test_a_failing_catalog_is_retried_and_the_batch_lands_once(tmp_path: Path) -> None:
    from floe.lakehouse import LakehouseError

    attempts: list[int] = []
    waits: list[float] = []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise LakehouseError("SQL catalog unreachable", hint="start it")
        return _catalog(tmp_path)

    landing = land_with_retry(flaky, _source(), sleep=waits.append)
    assert landing.attempts == 3 and waits == [2.0, 4.0] and len(landing.errors) == 2
    assert landing.batch_number == 0 and landing.rows > 0
    catalog = _catalog(tmp_path)
    assert next_batch_number(catalog, _source()) == 1
    orders = catalog.load_table("bronze.orders").scan().to_arrow()
    assert orders.num_rows == landing.report.tables["orders"].rows_written


def test_retries_run_out_with_a_clear_error(tmp_path: Path) -> None:
    from floe.lakehouse import LakehouseError

    def broken():
        raise LakehouseError("SQL catalog unreachable", hint="check the catalog URI")

    with pytest.raises(FloeError, match="failed after 2 attempt") as caught:
        land_with_retry(broken, _source(retry={"max_retries": 1, "delay": "1ms"}), sleep=lambda _: None)
    assert caught.value.hint == "check the catalog URI"


def test_a_crash_half_way_is_completed_by_the_next_landing(tmp_path: Path) -> None:
    """Batch 0 reached only some tables: the next landing finishes it, then moves on."""
    from floe.ingestion.synthetic import generate
    from floe.lakehouse import append_batch

    catalog = _catalog(tmp_path)
    source = _source()
    batch = generate(source, 0)
    append_batch(catalog, "bronze.products", batch.tables["products"], "0")
    append_batch(catalog, "bronze.customers", batch.tables["customers"], "0")
    assert next_batch_number(catalog, source) == 0
    landing = land_with_retry(lambda: catalog, source, sleep=lambda _: None)
    skipped = {t.table: t.skipped for t in landing.tables}
    assert skipped == {"bronze.products": True, "bronze.customers": True,
                       "bronze.orders": False, "bronze.order_items": False}
    assert catalog.load_table("bronze.customers").scan().to_arrow().num_rows == \
        batch.report.tables["customers"].rows_written
    assert next_batch_number(catalog, source) == 1


def test_views_show_complete_batches_only(tmp_path: Path) -> None:
    """A half-landed batch (orders without their lines) stays invisible to dbt until complete."""
    import duckdb

    from floe.ingestion.landing import land_batch
    from floe.ingestion.synthetic import generate
    from floe.ingestion.views import refresh_views
    from floe.lakehouse import append_batch
    from floe.spec.platform import EnvironmentSpec

    catalog = _catalog(tmp_path)
    source = _source()
    first = land_batch(catalog, source, 0)
    second = generate(source, 1)
    for table in ("customers", "orders"):  # the crash came before order_items
        append_batch(catalog, f"bronze.{table}", second.tables[table], "1")
    environment = EnvironmentSpec.model_validate({"compute": {"type": "duckdb", "path": "w.duckdb"}})
    views = refresh_views(catalog, environment, tmp_path, [source])
    assert sorted(views) == ['"bronze"."customers"', '"bronze"."order_items"', '"bronze"."orders"',
                             '"bronze"."products"']

    def counts() -> dict[str, int]:
        with duckdb.connect(str(tmp_path / "w.duckdb"), read_only=True) as connection:
            connection.execute(f"SET extension_directory = '{tmp_path / '.floe' / 'duckdb_extensions'}'")
            return {t: connection.execute(f"select count(*) from bronze.{t}").fetchone()[0]  # type: ignore[index]
                    for t in ("customers", "orders", "order_items")}

    assert counts() == {t: first.report.tables[t].rows_written for t in ("customers", "orders", "order_items")}
    land_batch(catalog, source, 1)  # the retry completes batch 1
    refresh_views(catalog, environment, tmp_path, [source])
    assert counts() == {t: first.report.tables[t].rows_written + second.report.tables[t].rows_written
                        for t in ("customers", "orders", "order_items")}
