"""What a correct cleaning step computes from the (possibly dirty) bronze tables.

A pipeline test generates a batch with defects, runs the models under test, and compares
their result with the report. These helpers are the reference cleaner, written only against
the emitted tables (never the generator's internals), so a test can also check that the
report and the tables agree: dedupe on the primary key (duplicates are exact copies, so
keeping the first occurrence is enough), drop orders without a customer, and sum the net
amount of those orders' distinct lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass(frozen=True)
class OrderTotals:
    """Figures of the cleaned orders of one or more batches.

    Attributes:
        orders_with_customer: Distinct orders whose ``customer_id`` is not null.
        revenue_with_customer: ``quantity * unit_price - discount`` over the distinct items
            of those orders.
    """

    orders_with_customer: int
    revenue_with_customer: Decimal


def drop_duplicates(table: pa.Table, key: str) -> pa.Table:
    """``table`` with only the first row of each ``key`` value, in the original order."""
    keys = table.column(key).to_numpy()
    _, first = np.unique(keys, return_index=True)
    if len(first) == table.num_rows:
        return table
    return table.take(pa.array(np.sort(first)))


def order_totals(orders: pa.Table, order_items: pa.Table) -> OrderTotals:
    """Dedupe orders and items, keep orders with a customer, and total their items."""
    orders = drop_duplicates(orders, "order_id")
    items = drop_duplicates(order_items, "order_item_id")
    kept = orders.filter(pc.is_valid(orders.column("customer_id"))).column("order_id")
    lines = items.filter(pc.is_in(items.column("order_id"), value_set=kept.combine_chunks()))
    gross = pc.multiply(lines.column("quantity"), lines.column("unit_price"))
    net = pc.sum(pc.subtract(gross, lines.column("discount"))).as_py()
    return OrderTotals(orders_with_customer=len(kept),
                       revenue_with_customer=Decimal("0.00") if net is None else net)
