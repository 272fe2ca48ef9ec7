"""Bronze fixture data for the ecommerce template, and the marts it must produce.

Plain DuckDB tables in schema ``bronze`` stand in for floe's views over Iceberg tables. Three
batches, small enough to reason about by hand, carry every defect the generator injects, and
the re-deliveries the staging models must fold in:

- exact duplicate rows of an order and an order line within a batch (orders 101, 201, 300);
- orders without a customer (102, 203), with their lines, which must disappear, and a later
  version of order 101 without a customer, which must not replace the attributable one;
- an order without a region (101) that lands under 'unknown'; a customer without an email (2);
- late arrivals backdated into earlier days (202 in batch 1 onto 2026-03-01, an existing
  (day, region, status) group; 301 in batch 2 onto 2026-03-02);
- an order at 23:30 in New York, whose UTC date is the next day (106);
- an order without lines (105), which counts as an order with zero revenue;
- re-deliveries in later batches: order 100 unchanged; order 104 with a new status and date,
  which empties its old day 2026-02-27; order 106 under another customer, which leaves
  customer 2 with fewer orders; line 1005 with a new quantity; customer 3 with a new segment.

The expected marts are computed here in plain Python from the rules written in the models'
descriptions, independently of the SQL.
"""

from __future__ import annotations

import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

UTC = timezone.utc
# Value-tier thresholds (dbt vars) low enough for the fixture's small orders to reach every tier.
TIER_VARS = {"value_tier_revenue_high": 200, "value_tier_revenue_medium": 100,
             "value_tier_orders_high": 4, "value_tier_orders_medium": 2}
NEW_YORK_WINTER = timezone(timedelta(hours=-5))

DDL = """
create schema if not exists bronze;
create table if not exists bronze.customers (
    customer_id bigint not null, name varchar, email varchar, region varchar, segment varchar,
    signup_at timestamptz, _batch_id bigint, _generated_at timestamptz);
create table if not exists bronze.products (
    product_id bigint, name varchar, category varchar, price decimal(12, 2),
    _batch_id bigint, _generated_at timestamptz);
create table if not exists bronze.orders (
    order_id bigint, customer_id bigint, status varchar, region varchar, channel varchar,
    ordered_at timestamptz, _batch_id bigint, _generated_at timestamptz);
create table if not exists bronze.order_items (
    order_item_id bigint, order_id bigint, product_id bigint, quantity integer,
    unit_price decimal(12, 2), discount decimal(12, 2), _batch_id bigint, _generated_at timestamptz);
"""


def _at(day: int, hour: int, minute: int = 0, month: int = 3, tz: timezone = UTC) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=tz)


def _money(text: str) -> Decimal:
    return Decimal(text)


# Rows per batch, in the bronze column order without _batch_id and _generated_at.
BATCHES: list[dict[str, list[tuple[Any, ...]]]] = [
    {  # batch 0
        "products": [
            (1, "Desk lamp", "home", _money("40.00")),
            (2, "Kettle", "home", _money("30.00")),
            (3, "Novel", "books", _money("15.00")),
            (4, "Atlas", "books", _money("50.00")),
            (5, "Puzzle", "toys", _money("20.00")),  # never sold
        ],
        "customers": [
            (1, "Ada", "ada@example.com", "europe", "consumer", _at(1, 8, month=1)),
            (2, "Grace", None, "north_america", "enterprise", _at(2, 8, month=1)),
            (3, "Linus", "linus@example.com", "europe", "small_business", _at(3, 8, month=1)),
        ],
        "orders": [
            (100, 1, "paid", "europe", "web", _at(1, 9)),
            (101, 2, "placed", None, "mobile", _at(1, 10)),
            (101, 2, "placed", None, "mobile", _at(1, 10)),  # exact duplicate
            (102, None, "placed", "europe", "web", _at(1, 11)),  # no customer: removed
            (103, 3, "shipped", "europe", "marketplace", _at(1, 8)),
            (104, 1, "placed", "north_america", "web", _at(27, 15, month=2)),  # alone on 02-27
            (105, 3, "placed", "europe", "web", _at(1, 12)),  # no lines
            (106, 2, "paid", "north_america", "web", _at(1, 23, 30, tz=NEW_YORK_WINTER)),  # UTC 03-02
        ],
        "order_items": [
            (1000, 100, 1, 2, _money("40.00"), _money("5.00")),
            (1001, 100, 3, 1, _money("15.00"), _money("0.00")),
            (1002, 101, 2, 1, _money("30.00"), _money("0.00")),
            (1002, 101, 2, 1, _money("30.00"), _money("0.00")),  # exact duplicate
            (1003, 102, 4, 1, _money("50.00"), _money("0.00")),  # line of a removed order
            (1004, 103, 4, 2, _money("50.00"), _money("10.00")),
            (1005, 103, 1, 1, _money("40.00"), _money("0.00")),
            (1006, 104, 3, 3, _money("15.00"), _money("0.00")),
            (1007, 106, 2, 2, _money("30.00"), _money("0.00")),
        ],
    },
    {  # batch 1
        "products": [],
        "customers": [
            (4, "Margaret", "margaret@example.com", "asia_pacific", "consumer", _at(1, 9)),
        ],
        "orders": [
            (200, 4, "paid", "asia_pacific", "mobile", _at(2, 9)),
            (201, 1, "delivered", "europe", "web", _at(2, 10)),
            (201, 1, "delivered", "europe", "web", _at(2, 10)),  # exact duplicate
            (202, 1, "paid", "europe", "web", _at(1, 7)),  # late: joins (03-01, europe, paid)
            (203, None, "placed", None, "web", _at(2, 11)),  # no customer, no region: removed
            (100, 1, "paid", "europe", "web", _at(1, 9)),  # delivered again, unchanged
        ],
        "order_items": [
            (2000, 200, 1, 1, _money("40.00"), _money("0.00")),
            (2001, 200, 2, 1, _money("30.00"), _money("5.00")),
            (2002, 201, 3, 2, _money("15.00"), _money("0.00")),
            (2002, 201, 3, 2, _money("15.00"), _money("0.00")),  # exact duplicate
            (2003, 202, 4, 1, _money("50.00"), _money("0.00")),
            (2004, 203, 1, 1, _money("40.00"), _money("0.00")),  # line of a removed order
        ],
    },
    {  # batch 2
        "products": [],
        "customers": [
            (5, "Ken", "ken@example.com", "latin_america", "consumer", _at(2, 9)),
            (3, "Linus", "linus@example.com", "europe", "enterprise", _at(3, 8, month=1)),  # new segment
            (6, "Barbara", None, "middle_east_africa", "consumer", _at(3, 7)),  # no orders yet
        ],
        "orders": [
            (104, 1, "paid", "north_america", "web", _at(3, 10)),  # moved: 02-27 is left empty
            (101, None, "placed", "europe", "mobile", _at(1, 10)),  # no customer: must not replace
            (106, 4, "paid", "north_america", "web", _at(1, 23, 30, tz=NEW_YORK_WINTER)),  # now customer 4's
            (300, 5, "shipped", "latin_america", "marketplace", _at(3, 9)),
            (300, 5, "shipped", "latin_america", "marketplace", _at(3, 9)),  # exact duplicate
            (301, 4, "placed", "asia_pacific", "mobile", _at(2, 18)),  # late: onto 03-02
        ],
        "order_items": [
            (3000, 300, 2, 2, _money("30.00"), _money("20.00")),
            (3000, 300, 2, 2, _money("30.00"), _money("20.00")),  # exact duplicate
            (3001, 301, 3, 1, _money("15.00"), _money("0.00")),
            (1005, 103, 1, 2, _money("40.00"), _money("0.00")),  # delivered again, quantity 2
        ],
    },
]

def generated_at(batch: int) -> datetime:
    """When the generator produced a batch: noon UTC on 2026-03-01 + batch days."""
    return datetime(2026, 3, 1, 12, tzinfo=UTC) + timedelta(days=batch)


def append_batch(database: Path, batch: int) -> None:
    """Append one batch to the bronze tables (creating them on the first call)."""
    import duckdb

    with duckdb.connect(str(database)) as connection:
        connection.execute(DDL)
        for table, rows in BATCHES[batch].items():
            if not rows:
                continue
            width = len(rows[0]) + 2
            placeholders = ", ".join("?" * width)
            connection.executemany(
                f"insert into bronze.{table} values ({placeholders})",
                [(*row, batch, generated_at(batch)) for row in rows],
            )


def write_project(root: Path, database: Path, name: str = "shop") -> Path:
    """Copy the template's dbt project into ``root`` with a profile on ``database``."""
    source = Path(str(files("floe.templates").joinpath("ecommerce", "dbt")))
    project = root / "dbt"
    shutil.copytree(source, project, ignore=shutil.ignore_patterns("target", "logs", "__pycache__"))
    for path in project.rglob("*"):
        if path.is_file() and path.suffix in {".yml", ".sql"}:
            text = path.read_text(encoding="utf-8")
            if "__PROJECT_NAME__" in text:
                path.write_text(text.replace("__PROJECT_NAME__", name), encoding="utf-8")
    (project / "profiles.yml").write_text(
        f"{name}:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {database}\n      threads: 2\n",
        encoding="utf-8",
    )
    return project


# --- the expected marts, from the rules -------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    """What the marts must hold after some batches."""

    revenue: dict[tuple[date, str, str], tuple[int, int, int, Decimal]]  # orders, items, units, revenue
    customers: dict[int, tuple[str, int, Decimal, str]]  # segment, order_count, revenue, value_tier
    products: dict[int, tuple[int, int, Decimal, int]]  # orders, units, revenue, rank in category


def _latest(rows: list[tuple[int, tuple[Any, ...]]]) -> dict[Any, tuple[Any, ...]]:
    """Latest version per id over (batch, row) pairs; the fixture never ties within a batch."""
    chosen: dict[Any, tuple[int, tuple[Any, ...]]] = {}
    for batch, row in rows:
        if row[0] not in chosen or batch >= chosen[row[0]][0]:
            chosen[row[0]] = (batch, row)
    return {key: row for key, (_, row) in chosen.items()}


def _tier(order_count: int, revenue: Decimal) -> str:
    if order_count == 0:
        return "none"
    frequency = (3 if order_count >= TIER_VARS["value_tier_orders_high"]
                 else 2 if order_count >= TIER_VARS["value_tier_orders_medium"] else 1)
    monetary = (3 if revenue >= TIER_VARS["value_tier_revenue_high"]
                else 2 if revenue >= TIER_VARS["value_tier_revenue_medium"] else 1)
    score = frequency + monetary
    return "high" if score >= 5 else "medium" if score >= 3 else "low"


def expected_after(last_batch: int) -> Expected:
    """The marts' content once batches 0..last_batch are built."""
    seen: dict[str, list[tuple[int, tuple[Any, ...]]]] = defaultdict(list)
    for batch in range(last_batch + 1):
        for table, rows in BATCHES[batch].items():
            seen[table].extend((batch, row) for row in rows)
    # Orders without a customer go before "latest wins", so they never replace a version.
    orders = _latest([(b, row) for b, row in seen["orders"] if row[1] is not None])
    lines = {key: row for key, row in _latest(seen["order_items"]).items() if row[1] in orders}
    customers = _latest(seen["customers"])
    products = _latest(seen["products"])

    def amount(line: tuple[Any, ...]) -> Decimal:
        return Decimal(line[3]) * line[4] - line[5]

    revenue: dict[tuple[date, str, str], list[Any]] = defaultdict(lambda: [0, 0, 0, Decimal("0.00")])
    for order_id, order in orders.items():
        day = order[5].astimezone(UTC).date()
        group = revenue[(day, order[3] or "unknown", order[2])]
        group[0] += 1
        for line in (line for line in lines.values() if line[1] == order_id):
            group[1] += 1
            group[2] += line[3]
            group[3] += amount(line)

    customer_facts: dict[int, tuple[str, int, Decimal, str]] = {}
    for customer_id, customer in customers.items():
        own = [order_id for order_id, order in orders.items() if order[1] == customer_id]
        total = sum((amount(line) for line in lines.values() if line[1] in own), Decimal("0.00"))
        customer_facts[customer_id] = (customer[4], len(own), total, _tier(len(own), total))

    sales: dict[int, list[Any]] = {}
    for product_id in products:
        sold = [line for line in lines.values() if line[2] == product_id]
        sales[product_id] = [
            len({line[1] for line in sold}),
            sum(line[3] for line in sold),
            sum((amount(line) for line in sold), Decimal("0.00")),
        ]
    ranks: dict[int, int] = {}
    for category in {product[2] for product in products.values()}:
        members = sorted(
            (product_id for product_id, product in products.items() if product[2] == category),
            key=lambda product_id: (-sales[product_id][2], product_id),
        )
        ranks.update({product_id: rank for rank, product_id in enumerate(members, start=1)})

    return Expected(
        revenue={key: (v[0], v[1], v[2], v[3]) for key, v in revenue.items()},
        customers=customer_facts,
        products={key: (v[0], v[1], v[2], ranks[key]) for key, v in sales.items()},
    )
