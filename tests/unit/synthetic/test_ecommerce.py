"""The e-commerce generator: ids, referential integrity, realistic values and frequencies."""

from __future__ import annotations

from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from floe.synthetic import Burst, EcommerceConfig, generate_ecommerce_batch
from floe.synthetic.ecommerce import LINE_ID_STRIDE, ORDER_ID_STRIDE
from floe.synthetic.vocabulary import CATEGORIES, CHANNELS, ORDER_STATUSES, REGIONS, SEGMENTS

from .helpers import ints, micros

SEED = 2024


@pytest.fixture(scope="module")
def twenty_batches() -> list:
    config = EcommerceConfig(rate=Burst(count=300), signups_per_order=0.4)
    return [generate_ecommerce_batch(seed=SEED, batch_number=b, config=config) for b in range(20)]


def _shares(table: pa.Table, column: str) -> dict[str, float]:
    counts = table.column(column).value_counts().to_pylist()
    total = sum(c["counts"] for c in counts)
    return {c["values"]: c["counts"] / total for c in counts}


def _assert_close(shares: dict[str, float], expected: tuple, tolerance: float) -> None:
    weights = {item[0]: item[1] for item in expected}
    total = sum(weights.values())
    assert set(shares) == set(weights)
    for label, weight in weights.items():
        assert shares[label] == pytest.approx(weight / total, abs=tolerance), label


def test_ids_are_unique_across_twenty_batches(twenty_batches: list) -> None:
    for table, key in (("customers", "customer_id"), ("orders", "order_id"), ("order_items", "order_item_id")):
        ids = np.concatenate([ints(b.tables[table], key) for b in twenty_batches])
        assert len(ids) == len(np.unique(ids)), table
    # The documented arithmetic: customers in sign-up order, orders in fixed blocks per batch.
    previous = 0
    for b, batch in enumerate(twenty_batches):
        customers = ints(batch.customers, "customer_id")
        assert np.all(np.diff(customers) > 0) and customers.min() > previous
        assert np.all(np.diff(micros(batch.customers, "signup_at")) > 0)
        previous = customers.max()
        assert ints(batch.orders, "order_id").tolist() == list(range(b * ORDER_ID_STRIDE + 1,
                                                                     b * ORDER_ID_STRIDE + 301))
        items = batch.order_items
        assert np.array_equal(ints(items, "order_item_id") // LINE_ID_STRIDE, ints(items, "order_id"))


def test_referential_integrity_across_batches(twenty_batches: list) -> None:
    catalog = twenty_batches[0].products
    prices = dict(zip(catalog.column("product_id").to_pylist(), catalog.column("price").to_pylist(), strict=True))
    seen_customers: set[int] = set()
    signup = {}
    for batch in twenty_batches:
        seen_customers |= set(ints(batch.customers, "customer_id").tolist())
        signup.update(zip(ints(batch.customers, "customer_id").tolist(),
                          micros(batch.customers, "signup_at").tolist(), strict=True))
        orders, items = batch.orders, batch.order_items
        assert set(ints(orders, "customer_id").tolist()) <= seen_customers
        assert set(ints(items, "order_id").tolist()) == set(ints(orders, "order_id").tolist())
        assert set(ints(items, "product_id").tolist()) <= set(prices)
        assert items.column("unit_price").to_pylist() == [prices[p] for p in ints(items, "product_id").tolist()]
        # Nobody orders before signing up.
        placed = micros(orders, "ordered_at")
        assert all(t >= signup[c] for c, t in zip(ints(orders, "customer_id").tolist(), placed.tolist(), strict=True))
    # Later batches reach back to customers of earlier batches.
    last = twenty_batches[-1]
    assert ints(last.orders, "customer_id").min() < ints(twenty_batches[10].customers, "customer_id").min()
    # Sign-ups: 0.4 per order of the mean rate (3,600 an hour), following the (night's) curve.
    from floe.synthetic.temporal import TemporalPattern, batch_interval, integrated_intensity, to_micros

    config = EcommerceConfig()
    hours = sum(integrated_intensity(batch_interval(config.start, config.interval, b), TemporalPattern(),
                                     to_micros(config.start)) for b in range(20))
    total = sum(batch.customers.num_rows for batch in twenty_batches)
    assert total == pytest.approx(0.4 * 3600 * hours, rel=0.15)


def test_lines_quantities_and_discounts_are_plausible() -> None:
    config = EcommerceConfig(rate=Burst(count=20_000), max_items_per_order=4, max_quantity=6)
    batch = generate_ecommerce_batch(seed=SEED, batch_number=1, config=config)
    items = batch.order_items
    lines_per_order = np.bincount(np.unique(ints(items, "order_id"), return_inverse=True)[1])
    assert lines_per_order.min() == 1 and lines_per_order.max() == 4
    assert np.all(np.diff(np.bincount(lines_per_order)[1:]) < 0)  # fewer lines are likelier
    quantity = ints(items, "quantity")
    assert items.column("quantity").type == pa.int32()
    assert quantity.min() == 1 and quantity.max() <= 6
    assert np.all(np.diff(np.bincount(quantity)[1:]) < 0)
    gross = pc.multiply(items.column("quantity"), items.column("unit_price"))
    discount = items.column("discount")
    assert pc.all(pc.less_equal(discount, gross)).as_py()
    assert pc.all(pc.greater_equal(discount, Decimal("0"))).as_py()
    discounted = pc.sum(pc.greater(discount, Decimal("0"))).as_py() / items.num_rows
    assert discounted == pytest.approx(0.2, abs=0.02)
    net = pc.sum(pc.subtract(gross, discount)).as_py()
    assert net == batch.report.clean_revenue == batch.report.revenue_with_customer


def test_weighted_categoricals_follow_their_weights() -> None:
    config = EcommerceConfig(rate=Burst(count=200_000), signups_per_order=0.5, catalog_size=30_000)
    batch = generate_ecommerce_batch(seed=SEED, batch_number=0, config=config)
    _assert_close(_shares(batch.orders, "status"), ORDER_STATUSES, 0.005)
    _assert_close(_shares(batch.orders, "channel"), CHANNELS, 0.005)
    _assert_close(_shares(batch.orders, "region"), REGIONS, 0.008)
    _assert_close(_shares(batch.customers, "region"), REGIONS, 0.008)
    _assert_close(_shares(batch.customers, "segment"), SEGMENTS, 0.008)
    _assert_close(_shares(batch.products, "category"), CATEGORIES, 0.01)


def test_orders_carry_their_customers_region() -> None:
    config = EcommerceConfig(signups_per_order=0.05)
    batches = [generate_ecommerce_batch(seed=SEED, batch_number=b, config=config) for b in (0, 1, 2)]
    region = {}
    for batch in batches:
        region.update(zip(batch.customers.column("customer_id").to_pylist(),
                          batch.customers.column("region").to_pylist(), strict=True))
    orders = batches[2].orders
    for customer, order_region in zip(orders.column("customer_id").to_pylist(), orders.column("region").to_pylist(),
                                      strict=True):
        assert region[customer] == order_region


def test_prices_are_shelf_prices_and_names_look_like_people() -> None:
    batch = generate_ecommerce_batch(seed=SEED, batch_number=0)
    prices = batch.products.column("price").to_pylist()
    assert all(p > 0 and p % 1 == Decimal("0.99") for p in prices)
    electronics = pc.mean(batch.products.filter(pc.equal(batch.products.column("category"), "electronics"))
                          .column("price").cast(pa.float64())).as_py()
    grocery = pc.mean(batch.products.filter(pc.equal(batch.products.column("category"), "grocery"))
                      .column("price").cast(pa.float64())).as_py()
    assert electronics > 5 * grocery
    customer = batch.customers.slice(0, 1).to_pylist()[0]
    first, last = customer["name"].split(" ")
    assert customer["email"].startswith(f"{first.lower()}.{last.lower()}.{customer['customer_id']}@")
