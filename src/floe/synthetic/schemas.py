"""The bronze contract: exact Arrow schemas of every generated table.

Other parts of floe (the Iceberg loader, the dbt staging models of the templates) are built
against these column names, types and nullability, so they change only on purpose, and
tests compare the generated tables with them field by field. Every table ends with the two
lineage columns of the bronze layer:

* ``_batch_id int64 not null`` — the batch number that produced the row;
* ``_generated_at timestamp[us, tz=UTC] not null`` — the end of that batch's virtual-clock
  interval (not the wall clock, so reruns are byte-identical).

``*_NULL_TARGETS`` name the columns a :class:`~floe.synthetic.defects.DefectConfig` may
null: the nullable columns the contract marks as defect targets. The other nullable columns
are nullable in Arrow only; generated data never leaves them null.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

import pyarrow as pa

TIMESTAMP = pa.timestamp("us", tz="UTC")
MONEY = pa.decimal128(12, 2)


def _lineage() -> list[pa.Field]:
    return [pa.field("_batch_id", pa.int64(), nullable=False),
            pa.field("_generated_at", TIMESTAMP, nullable=False)]


CUSTOMERS = pa.schema([
    pa.field("customer_id", pa.int64(), nullable=False),
    pa.field("name", pa.string()),
    pa.field("email", pa.string()),
    pa.field("region", pa.string()),
    pa.field("segment", pa.string()),
    pa.field("signup_at", TIMESTAMP),
    *_lineage(),
])
PRODUCTS = pa.schema([
    pa.field("product_id", pa.int64(), nullable=False),
    pa.field("name", pa.string()),
    pa.field("category", pa.string()),
    pa.field("price", MONEY),
    *_lineage(),
])
ORDERS = pa.schema([
    pa.field("order_id", pa.int64(), nullable=False),
    pa.field("customer_id", pa.int64()),
    pa.field("status", pa.string()),
    pa.field("region", pa.string()),
    pa.field("channel", pa.string()),
    pa.field("ordered_at", TIMESTAMP),
    *_lineage(),
])
ORDER_ITEMS = pa.schema([
    pa.field("order_item_id", pa.int64(), nullable=False),
    pa.field("order_id", pa.int64(), nullable=False),
    pa.field("product_id", pa.int64(), nullable=False),
    pa.field("quantity", pa.int32()),
    pa.field("unit_price", MONEY),
    pa.field("discount", MONEY),
    *_lineage(),
])
ECOMMERCE_SCHEMAS: Mapping[str, pa.Schema] = MappingProxyType({
    "customers": CUSTOMERS, "products": PRODUCTS, "orders": ORDERS, "order_items": ORDER_ITEMS,
})
ECOMMERCE_NULL_TARGETS = frozenset({"customers.email", "orders.customer_id", "orders.region"})

ORGANIZATIONS = pa.schema([
    pa.field("org_id", pa.int64(), nullable=False),
    pa.field("name", pa.string()),
    pa.field("industry", pa.string()),
    pa.field("size_band", pa.string()),
    pa.field("region", pa.string()),
    pa.field("created_at", TIMESTAMP),
    *_lineage(),
])
USERS = pa.schema([
    pa.field("user_id", pa.int64(), nullable=False),
    pa.field("org_id", pa.int64(), nullable=False),
    pa.field("email", pa.string()),
    pa.field("role", pa.string()),
    pa.field("created_at", TIMESTAMP),
    *_lineage(),
])
EVENTS = pa.schema([
    pa.field("event_id", pa.int64(), nullable=False),
    pa.field("org_id", pa.int64(), nullable=False),
    pa.field("user_id", pa.int64()),
    pa.field("event_type", pa.string()),
    pa.field("occurred_at", TIMESTAMP),
    pa.field("duration_ms", pa.int32()),
    *_lineage(),
])
SUBSCRIPTIONS = pa.schema([
    pa.field("subscription_id", pa.int64(), nullable=False),
    pa.field("org_id", pa.int64(), nullable=False),
    pa.field("plan", pa.string()),
    pa.field("status", pa.string()),
    pa.field("seats", pa.int32()),
    pa.field("mrr", MONEY),
    pa.field("started_at", TIMESTAMP),
    *_lineage(),
])
SAAS_SCHEMAS: Mapping[str, pa.Schema] = MappingProxyType({
    "organizations": ORGANIZATIONS, "users": USERS, "events": EVENTS, "subscriptions": SUBSCRIPTIONS,
})
SAAS_NULL_TARGETS = frozenset({"organizations.industry", "users.email", "events.user_id"})


def column_names(schemas: Mapping[str, pa.Schema]) -> dict[str, list[str]]:
    """Table → column names, for validating ``table.column`` keys."""
    return {table: list(schema.names) for table, schema in schemas.items()}
