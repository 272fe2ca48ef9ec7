"""The bronze contract: generated tables have exactly the agreed columns, types and nullability.

The expected schemas are written out here rather than imported from floe.synthetic.schemas,
so a change to the module cannot silently change the contract other engineers build on.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from floe.synthetic import (
    ECOMMERCE_SCHEMAS,
    SAAS_SCHEMAS,
    EcommerceConfig,
    SaasConfig,
    generate_ecommerce_batch,
    generate_saas_batch,
)
from floe.synthetic.defects import DefectConfig

TS = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(12, 2)
LINEAGE = [pa.field("_batch_id", pa.int64(), nullable=False), pa.field("_generated_at", TS, nullable=False)]

ECOMMERCE_CONTRACT = {
    "customers": pa.schema([
        pa.field("customer_id", pa.int64(), nullable=False), pa.field("name", pa.string()),
        pa.field("email", pa.string()), pa.field("region", pa.string()), pa.field("segment", pa.string()),
        pa.field("signup_at", TS), *LINEAGE]),
    "products": pa.schema([
        pa.field("product_id", pa.int64(), nullable=False), pa.field("name", pa.string()),
        pa.field("category", pa.string()), pa.field("price", MONEY), *LINEAGE]),
    "orders": pa.schema([
        pa.field("order_id", pa.int64(), nullable=False), pa.field("customer_id", pa.int64()),
        pa.field("status", pa.string()), pa.field("region", pa.string()), pa.field("channel", pa.string()),
        pa.field("ordered_at", TS), *LINEAGE]),
    "order_items": pa.schema([
        pa.field("order_item_id", pa.int64(), nullable=False), pa.field("order_id", pa.int64(), nullable=False),
        pa.field("product_id", pa.int64(), nullable=False), pa.field("quantity", pa.int32()),
        pa.field("unit_price", MONEY), pa.field("discount", MONEY), *LINEAGE]),
}
SAAS_CONTRACT = {
    "organizations": pa.schema([
        pa.field("org_id", pa.int64(), nullable=False), pa.field("name", pa.string()),
        pa.field("industry", pa.string()), pa.field("size_band", pa.string()), pa.field("region", pa.string()),
        pa.field("created_at", TS), *LINEAGE]),
    "users": pa.schema([
        pa.field("user_id", pa.int64(), nullable=False), pa.field("org_id", pa.int64(), nullable=False),
        pa.field("email", pa.string()), pa.field("role", pa.string()), pa.field("created_at", TS), *LINEAGE]),
    "events": pa.schema([
        pa.field("event_id", pa.int64(), nullable=False), pa.field("org_id", pa.int64(), nullable=False),
        pa.field("user_id", pa.int64()), pa.field("event_type", pa.string()), pa.field("occurred_at", TS),
        pa.field("duration_ms", pa.int32()), *LINEAGE]),
    "subscriptions": pa.schema([
        pa.field("subscription_id", pa.int64(), nullable=False), pa.field("org_id", pa.int64(), nullable=False),
        pa.field("plan", pa.string()), pa.field("status", pa.string()), pa.field("seats", pa.int32()),
        pa.field("mrr", MONEY), pa.field("started_at", TS), *LINEAGE]),
}
ALL_DEFECTS = DefectConfig(null_rates={"customers.email": 0.3, "orders.customer_id": 0.3, "orders.region": 0.3},
                           duplicate_rate=0.2, late_rate=0.2)


def _assert_schema(table: pa.Table, expected: pa.Schema) -> None:
    # Schema.equals ignores nullability differences in some versions; compare field by field.
    assert table.schema.names == expected.names
    for actual, wanted in zip(table.schema, expected, strict=True):
        assert (actual.name, actual.type, actual.nullable) == (wanted.name, wanted.type, wanted.nullable)
    assert table.schema.equals(expected)


@pytest.mark.parametrize("batch_number", [0, 3])
@pytest.mark.parametrize("defects", [DefectConfig(), ALL_DEFECTS], ids=["clean", "defects"])
def test_ecommerce_tables_match_the_contract(batch_number: int, defects: DefectConfig) -> None:
    batch = generate_ecommerce_batch(seed=11, batch_number=batch_number, config=EcommerceConfig(defects=defects))
    assert list(batch.tables) == list(ECOMMERCE_CONTRACT)
    for name, expected in ECOMMERCE_CONTRACT.items():
        _assert_schema(batch.tables[name], expected)
        assert ECOMMERCE_SCHEMAS[name].equals(expected)
        # Non-nullable columns really hold no nulls, whatever defects are on.
        for field in expected:
            if not field.nullable:
                assert batch.tables[name].column(field.name).null_count == 0, (name, field.name)


@pytest.mark.parametrize("batch_number", [0, 3])
def test_saas_tables_match_the_contract(batch_number: int) -> None:
    defects = DefectConfig(null_rates={"users.email": 0.3, "events.user_id": 0.3, "organizations.industry": 0.3},
                           duplicate_rate=0.2, late_rate=0.2)
    batch = generate_saas_batch(seed=11, batch_number=batch_number, config=SaasConfig(defects=defects))
    assert list(batch.tables) == list(SAAS_CONTRACT)
    for name, expected in SAAS_CONTRACT.items():
        _assert_schema(batch.tables[name], expected)
        assert SAAS_SCHEMAS[name].equals(expected)
        for field in expected:
            if not field.nullable:
                assert batch.tables[name].column(field.name).null_count == 0, (name, field.name)


def test_products_are_emitted_by_batch_zero_only() -> None:
    config = EcommerceConfig(catalog_size=321)
    first = generate_ecommerce_batch(seed=5, batch_number=0, config=config)
    later = generate_ecommerce_batch(seed=5, batch_number=1, config=config)
    assert first.products.num_rows == 321
    assert first.products.column("product_id").to_pylist() == list(range(1, 322))
    assert later.products.num_rows == 0
    _assert_schema(later.products, ECOMMERCE_CONTRACT["products"])
    assert later.report.tables["products"].rows_written == 0


def test_lineage_columns_carry_the_batch_and_the_interval_end() -> None:
    batch = generate_ecommerce_batch(seed=5, batch_number=12)
    end = batch.report.interval_end
    for table in batch.tables.values():
        if table.num_rows:
            assert set(table.column("_batch_id").to_pylist()) == {12}
            assert set(table.column("_generated_at").to_pylist()) == {end}
