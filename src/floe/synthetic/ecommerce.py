"""E-commerce bronze data: customers, products, orders and order items, one batch at a time.

``generate_ecommerce_batch(seed=7, batch_number=b)`` returns the four tables of batch ``b``
(schemas in :mod:`floe.synthetic.schemas`) and a report counting every injected defect. The
batch is a pure function of (seed, batch number, config, interval): byte-identical on every
call, and computed without generating batches ``0..b-1``, because every id is arithmetic and
every random draw comes from a stream of its own batch. The interval is the virtual clock's
``[start + b * interval, start + (b + 1) * interval)`` unless the caller gives one (the wall
clock: the caller records it, see :mod:`floe.ingestion.clock`).

Ids (all unique across batches of one seed and config, when the batches' intervals follow
each other without overlap):

* ``customer_id = k + 1`` for the sign-up candidates ``k`` of :mod:`.signups` who signed up
  during the batch's interval: customers arrive at ``signups_per_order`` times the mean order
  rate, following the day and week, so a week-long batch holds a week of sign-ups.
* ``product_id = 1..catalog_size``: a fixed catalog, a function of the seed alone. Batch 0
  emits it in full; later batches emit an empty ``products`` table (same schema) and
  reference the same ids and prices.
* ``order_id = b * ORDER_ID_STRIDE + i`` for ``i = 1..n`` (stride 10^9, so at most 10^9 - 1
  orders per batch).
* ``order_item_id = order_id * LINE_ID_STRIDE + line`` for ``line = 1..k`` (stride 100; an
  order has 1..``max_items_per_order`` lines, at most 99).
* Batch numbers run from 0 to ``MAX_BATCH_NUMBER`` (89,999,999), which keeps the largest
  ``order_item_id`` inside int64.

Referential integrity of the clean data: every ``order_items.order_id`` is an order of the
same batch; every ``product_id`` is in the catalog and ``unit_price`` is its price; every
``orders.customer_id`` is a customer who signed up before the order (in this batch or an
earlier one, see :mod:`.signups`), so no order precedes its customer's ``signup_at`` (late
arrivals included: a late order is never moved before the sign-up). The order's
``region`` is its customer's region (a function of seed and customer id, so it agrees across
batches). Only the configured defects break these rules, and the report counts them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from floe.synthetic.columns import TableDraft, labels
from floe.synthetic.defects import DefectConfig, duplicate_rows, make_late, null_mask
from floe.synthetic.errors import SyntheticConfigError
from floe.synthetic.people import person_names_and_emails
from floe.synthetic.randomness import Int64Array, StreamFactory, WeightedSampler, hash_ids, stream
from floe.synthetic.rates import Burst, Rate, Realistic, draw_count, expected_count
from floe.synthetic.report import BatchReport, TableReport
from floe.synthetic.schemas import (
    CUSTOMERS,
    ECOMMERCE_NULL_TARGETS,
    ECOMMERCE_SCHEMAS,
    ORDER_ITEMS,
    ORDERS,
    PRODUCTS,
    column_names,
)
from floe.synthetic.signups import SignupProcess
from floe.synthetic.temporal import (
    MICROS_PER_HOUR,
    UTC,
    BatchInterval,
    TemporalPattern,
    batch_interval,
    sample_times,
    to_micros,
)
from floe.synthetic.validation import check_clock, check_count, check_seed_and_batch
from floe.synthetic.vocabulary import (
    CATEGORIES,
    CHANNELS,
    DISCOUNT_PERCENTS,
    DISCOUNTED_LINE_SHARE,
    ORDER_STATUSES,
    PRODUCT_ADJECTIVES,
    PRODUCT_NOUNS,
    REGIONS,
    SEGMENTS,
    names,
    weights,
)

ORDER_ID_STRIDE = 1_000_000_000
LINE_ID_STRIDE = 100
MAX_BATCH_NUMBER = 89_999_999
DEFAULT_START = datetime(2026, 1, 1, tzinfo=UTC)
# Product popularity falls with rank as rank ** -POPULARITY_EXPONENT (a Zipf-like long tail).
POPULARITY_EXPONENT = 0.9
# Each extra line of an order, and each extra unit of a line, is this much less likely.
ITEMS_DECAY = 0.5
QUANTITY_DECAY = 0.45

_REGIONS = labels(names(REGIONS))
_REGION_SAMPLER = WeightedSampler(weights(REGIONS))
_SEGMENTS = labels(names(SEGMENTS))
_SEGMENT_SAMPLER = WeightedSampler(weights(SEGMENTS))
_STATUSES = labels(names(ORDER_STATUSES))
_STATUS_SAMPLER = WeightedSampler(weights(ORDER_STATUSES))
_CHANNELS = labels(names(CHANNELS))
_CHANNEL_SAMPLER = WeightedSampler(weights(CHANNELS))
_CATEGORIES = labels([c[0] for c in CATEGORIES])
_CATEGORY_SAMPLER = WeightedSampler([c[1] for c in CATEGORIES])
_PERCENT_SAMPLER = WeightedSampler([1 - DISCOUNTED_LINE_SHARE]
                                   + [DISCOUNTED_LINE_SHARE * w for _, w in DISCOUNT_PERCENTS],
                                   outcomes=np.array([0] + [p for p, _ in DISCOUNT_PERCENTS], dtype=np.int8))


@dataclass(frozen=True)
class EcommerceConfig:
    """What a batch of e-commerce data looks like. Every field has a working default.

    Attributes:
        rate: Orders per batch: ``Burst(count=1000)`` (default) or ``Realistic(per_hour=...)``.
        signups_per_order: New customers per order, on average (0 < x <= 100; default 0.5):
            sign-ups run at this multiple of the mean order rate (a burst's rate is its count
            per ``interval``). Some customers never order; most order once or twice.
        catalog_size: Products in the fixed catalog (1..65,536; default 500).
        max_items_per_order: Most lines an order has (1..99; default 5); fewer are likelier.
        max_quantity: Most units on one line (1..10,000; default 10); fewer are likelier.
        start: Virtual-clock start, timezone-aware (default 2026-01-01T00:00Z); also the
            origin of sign-ups and of the trend when the caller gives the intervals.
        interval: Virtual time one batch covers (default 5 minutes).
        pattern: Intraday, weekday and trend shape of order times (default: retail).
        defects: Defects to inject (default: none). Null targets: ``customers.email``,
            ``orders.customer_id``, ``orders.region``; duplicates: ``orders`` and
            ``order_items``; late arrivals: ``orders.ordered_at``.
    """

    rate: Rate = field(default_factory=Burst)
    signups_per_order: float = 0.5
    catalog_size: int = 500
    max_items_per_order: int = 5
    max_quantity: int = 10
    start: datetime = DEFAULT_START
    interval: timedelta = timedelta(minutes=5)
    pattern: TemporalPattern = field(default_factory=TemporalPattern)
    defects: DefectConfig = field(default_factory=DefectConfig)

    def __post_init__(self) -> None:
        if not isinstance(self.rate, (Burst, Realistic)):
            raise SyntheticConfigError("EcommerceConfig.rate", f"{self.rate!r} is not a rate",
                                       hint="use Burst(count=...) or Realistic(per_hour=...)")
        if isinstance(self.rate, Burst):
            check_count("EcommerceConfig.rate.count", self.rate.count, minimum=0, maximum=ORDER_ID_STRIDE - 1)
        if isinstance(self.signups_per_order, bool) or not isinstance(self.signups_per_order, (int, float)) \
                or not 0 < self.signups_per_order <= 100:
            raise SyntheticConfigError("EcommerceConfig.signups_per_order",
                                       f"{self.signups_per_order!r} is not a number in (0, 100]",
                                       hint="e.g. 0.5: one new customer for every two orders")
        check_count("EcommerceConfig.catalog_size", self.catalog_size, minimum=1, maximum=65_536)
        check_count("EcommerceConfig.max_items_per_order", self.max_items_per_order, minimum=1,
                    maximum=LINE_ID_STRIDE - 1)
        check_count("EcommerceConfig.max_quantity", self.max_quantity, minimum=1, maximum=10_000)
        object.__setattr__(self, "start", check_clock("EcommerceConfig", self.start, self.interval))
        if not isinstance(self.pattern, TemporalPattern):
            raise SyntheticConfigError("EcommerceConfig.pattern", f"{self.pattern!r} is not a TemporalPattern")
        if not isinstance(self.defects, DefectConfig):
            raise SyntheticConfigError("EcommerceConfig.defects", f"{self.defects!r} is not a DefectConfig")
        self.defects.check_targets("EcommerceConfig", column_names(ECOMMERCE_SCHEMAS), ECOMMERCE_NULL_TARGETS)


@dataclass(frozen=True)
class EcommerceReport(BatchReport):
    """A :class:`BatchReport` plus the figures a cleaned pipeline must reproduce.

    Attributes:
        clean_revenue: Sum of ``quantity * unit_price - discount`` over the batch's order
            items without defects (each line once).
        orders_with_customer: Distinct orders whose ``customer_id`` was not nulled.
        revenue_with_customer: ``quantity * unit_price - discount`` summed over the distinct
            items of those orders: what "dedupe, drop orders without a customer, join their
            items, sum" must give (:func:`floe.synthetic.cleaning.order_totals` does it).
    """

    clean_revenue: Decimal = Decimal("0.00")
    orders_with_customer: int = 0
    revenue_with_customer: Decimal = Decimal("0.00")


@dataclass(frozen=True)
class EcommerceBatch:
    """The four tables of one batch, in contract order, and the batch's report."""

    tables: Mapping[str, pa.Table]
    report: EcommerceReport

    @property
    def customers(self) -> pa.Table:
        return self.tables["customers"]

    @property
    def products(self) -> pa.Table:
        return self.tables["products"]

    @property
    def orders(self) -> pa.Table:
        return self.tables["orders"]

    @property
    def order_items(self) -> pa.Table:
        return self.tables["order_items"]


@dataclass(frozen=True)
class _Catalog:
    category: np.ndarray
    price_cents: Int64Array
    name: pa.Array
    popularity: WeightedSampler


def generate_ecommerce_batch(*, seed: int, batch_number: int, config: EcommerceConfig | None = None,
                             interval: BatchInterval | None = None) -> EcommerceBatch:
    """Generate batch ``batch_number`` of the e-commerce data set of ``seed``.

    Args:
        seed: Any integer in [0, 2**64); the same seed gives the same data set.
        batch_number: 0, 1, 2, ...; covers the clock interval ``[start + b * interval,
            start + (b + 1) * interval)``. Any batch can be generated alone, in any order.
        config: Shape of the data; ``EcommerceConfig()`` when omitted.
        interval: The interval the batch covers instead (the wall clock); it must not start
            before ``config.start``. Batches' intervals must follow each other without
            overlapping, or customers would sign up twice.

    Raises:
        SyntheticConfigError: The seed or batch number is out of range, the interval is
            empty or starts before the clock, or a realistic rate drew more orders than the
            id stride holds.
    """
    config = config if config is not None else EcommerceConfig()
    check_seed_and_batch(seed, batch_number, MAX_BATCH_NUMBER)
    origin = to_micros(config.start)
    if interval is None:
        interval = batch_interval(config.start, config.interval, batch_number)
    elif interval.end_us <= interval.start_us or interval.start_us < origin:
        raise SyntheticConfigError("interval", f"[{interval.start.isoformat()}, {interval.end.isoformat()}) is empty "
                                   f"or starts before the clock's start {config.start.isoformat()}",
                                   hint="give a non-empty interval that starts at or after config.start")
    streams = StreamFactory(seed, batch_number, "ecommerce")

    count = draw_count(config.rate, streams("orders.count"), interval, config.pattern, origin,
                       limit=ORDER_ID_STRIDE, field="EcommerceConfig.rate")
    signups = signup_process(seed, config)
    candidates, signed_up_at = signups.between(interval.start_us, interval.end_us)
    customers, customers_report = _customers(seed, batch_number, config, streams, interval, candidates + 1,
                                             signed_up_at)
    catalog = _catalog(seed, config.catalog_size)
    if batch_number == 0:
        products, products_report = _products(catalog, interval)
    else:
        products, products_report = PRODUCTS.empty_table(), TableReport(rows_written=0, unique_rows=0)

    orders = _OrderDraft(seed, batch_number, config, streams, interval, origin, count, signups)
    items = _ItemDraft(batch_number, config, streams, interval, orders.order_ids, catalog)

    orders_table, orders_report = orders.draft.finish(
        duplicate_rows(streams, "orders", config.defects.duplicate_rate, count))
    items_table, items_report = items.draft.finish(
        duplicate_rows(streams, "order_items", config.defects.duplicate_rate, len(items.gross_cents)))
    clean_revenue = int(items.gross_cents.sum()) - int(items.discount_cents.sum())
    customer_null = orders.draft.null_masks.get("customer_id")
    revenue_with_customer = clean_revenue
    if customer_null is not None:
        revenue_with_customer -= int(items.net_cents_per_order()[customer_null].sum())

    report = EcommerceReport(
        seed=seed, batch_number=batch_number, interval_start=interval.start, interval_end=interval.end,
        tables=MappingProxyType({"customers": customers_report, "products": products_report,
                                 "orders": orders_report, "order_items": items_report}),
        clean_revenue=_dollars(clean_revenue),
        orders_with_customer=count - (0 if customer_null is None else int(customer_null.sum())),
        revenue_with_customer=_dollars(revenue_with_customer),
    )
    tables = MappingProxyType({"customers": customers, "products": products, "orders": orders_table,
                               "order_items": items_table})
    return EcommerceBatch(tables=tables, report=report)


def signup_process(seed: int, config: EcommerceConfig) -> SignupProcess:
    """The sign-ups of the data set: ``signups_per_order`` times the rate's mean per hour."""
    rate = config.rate
    hours = config.interval / timedelta(microseconds=MICROS_PER_HOUR)
    orders_per_hour = rate.count / hours if isinstance(rate, Burst) else rate.per_hour
    return SignupProcess(seed, to_micros(config.start), orders_per_hour * config.signups_per_order, config.pattern)


def expected_orders(batch_number: int, config: EcommerceConfig | None = None) -> float:
    """The mean order count of a batch under the config's rate (the burst count, or the
    Poisson mean of a realistic rate over the batch's interval)."""
    config = config if config is not None else EcommerceConfig()
    interval = batch_interval(config.start, config.interval, batch_number)
    return expected_count(config.rate, interval, config.pattern, to_micros(config.start))


def customer_regions(seed: int, customer_ids: Int64Array) -> np.ndarray:
    """Region codes (into ``REGIONS``) of customers: a function of (seed, id) alone, so an
    order in any batch can carry its customer's region."""
    return _REGION_SAMPLER.from_hash(hash_ids(seed, customer_ids, "ecommerce/customers.region"))


def _customers(seed: int, batch_number: int, config: EcommerceConfig, streams: StreamFactory,
               interval: BatchInterval, ids: Int64Array, signups: Int64Array) -> tuple[pa.Table, TableReport]:
    size = len(ids)
    draft = TableDraft(CUSTOMERS, size)
    full_name, email = person_names_and_emails(streams, "customers", ids)
    draft.values("customer_id", ids)
    draft.arrow("name", full_name)
    draft.arrow("email", email)
    draft.categories("region", customer_regions(seed, ids), _REGIONS)
    draft.categories("segment", _SEGMENT_SAMPLER.sample(streams("customers.segment"), size), _SEGMENTS)
    draft.values("signup_at", signups)
    draft.constant("_batch_id", batch_number)
    draft.constant("_generated_at", interval.end_us)
    draft.set_nulls("email", null_mask(streams, "customers.email",
                                       config.defects.null_rates.get("customers.email", 0.0), size))
    return draft.finish()


@functools.lru_cache(maxsize=8)
def _catalog(seed: int, size: int) -> _Catalog:
    """The product catalog of a seed; batch-independent streams, so every batch sees it whole."""
    category = _CATEGORY_SAMPLER.sample(stream(seed, 0, "ecommerce/catalog.category"), size)
    medians = np.array([c[2] for c in CATEGORIES])[category]
    spreads = np.array([c[3] for c in CATEGORIES])[category]
    dollars = medians * np.exp(spreads * stream(seed, 0, "ecommerce/catalog.price").standard_normal(size))
    # Shelf prices end in .99: 12.99, 149.99; the cheapest is 0.99.
    price_cents = np.floor(dollars).astype(np.int64) * 100 + 99
    name_rng = stream(seed, 0, "ecommerce/catalog.name")
    adjective = pa.array(PRODUCT_ADJECTIVES).take(pa.array(name_rng.integers(0, len(PRODUCT_ADJECTIVES), size)))
    nouns = [noun for c in CATEGORIES for noun in PRODUCT_NOUNS[c[0]]]
    offsets = np.cumsum([0] + [len(PRODUCT_NOUNS[c[0]]) for c in CATEGORIES])
    counts = np.diff(offsets)
    noun = offsets[category] + np.floor(name_rng.random(size) * counts[category]).astype(np.int64)
    name = pc.binary_join_element_wise(adjective, pa.array(nouns).take(pa.array(noun)), " ")
    ranks = stream(seed, 0, "ecommerce/catalog.popularity").permutation(size) + 1
    popularity = WeightedSampler(np.power(ranks.astype(np.float64), -POPULARITY_EXPONENT))
    price_cents.setflags(write=False)
    category.setflags(write=False)
    return _Catalog(category=category, price_cents=price_cents, name=name, popularity=popularity)


def _products(catalog: _Catalog, interval: BatchInterval) -> tuple[pa.Table, TableReport]:
    size = len(catalog.price_cents)
    draft = TableDraft(PRODUCTS, size)
    draft.values("product_id", np.arange(1, size + 1, dtype=np.int64))
    draft.arrow("name", catalog.name)
    draft.categories("category", catalog.category, _CATEGORIES)
    draft.money("price", catalog.price_cents)
    draft.constant("_batch_id", 0)
    draft.constant("_generated_at", interval.end_us)
    return draft.finish()


class _OrderDraft:
    """The orders of a batch, defects applied; duplicates are appended by ``finish``."""

    def __init__(self, seed: int, batch_number: int, config: EcommerceConfig, streams: StreamFactory,
                 interval: BatchInterval, origin_us: int, count: int, signups: SignupProcess) -> None:
        self.order_ids = batch_number * ORDER_ID_STRIDE + 1 + np.arange(count, dtype=np.int64)
        ordered_at = sample_times(streams("orders.ordered_at"), count, interval, config.pattern, origin_us)
        # Each order picks a customer who signed up before it: no order time is moved.
        candidate = signups.pick_customers(streams("orders.customer_id"), ordered_at)
        customer = candidate + 1

        defects = config.defects
        self.draft = draft = TableDraft(ORDERS, count)
        draft.values("order_id", self.order_ids)
        draft.values("customer_id", customer)
        draft.categories("status", _STATUS_SAMPLER.sample(streams("orders.status"), count), _STATUSES)
        draft.categories("region", customer_regions(seed, customer), _REGIONS)
        draft.categories("channel", _CHANNEL_SAMPLER.sample(streams("orders.channel"), count), _CHANNELS)
        draft.late = make_late(streams, "orders", defects, ordered_at, interval.start_us,
                               signups.signup_times(candidate))
        draft.values("ordered_at", ordered_at)
        draft.constant("_batch_id", batch_number)
        draft.constant("_generated_at", interval.end_us)
        for column in ("customer_id", "region"):
            key = f"orders.{column}"
            draft.set_nulls(column, null_mask(streams, key, defects.null_rates.get(key, 0.0), count))


class _ItemDraft:
    """The order lines of a batch: 1..max lines per order, products by popularity."""

    def __init__(self, batch_number: int, config: EcommerceConfig, streams: StreamFactory,
                 interval: BatchInterval, order_ids: Int64Array, catalog: _Catalog) -> None:
        # In-place arithmetic and samplers that yield final values: at a million orders every
        # pass over the data costs milliseconds.
        self.lines = _decaying(config.max_items_per_order, ITEMS_DECAY, np.int64).sample(
            streams("order_items.lines"), len(order_ids))
        size = int(self.lines.sum())
        item_order_ids = np.repeat(order_ids, self.lines)
        # Line numbers restart at 1 with each order: a running sum of ones that steps back by
        # the previous order's line count where a new order begins.
        line_number = np.ones(size, dtype=np.int64)
        self.first_lines = np.cumsum(self.lines) - self.lines
        line_number[self.first_lines[1:]] -= self.lines[:-1]
        np.cumsum(line_number, out=line_number)
        item_ids = item_order_ids * LINE_ID_STRIDE
        item_ids += line_number
        product = catalog.popularity.sample(streams("order_items.product_id"), size)
        quantity = _decaying(config.max_quantity, QUANTITY_DECAY, np.int32).sample(streams("order_items.quantity"),
                                                                                  size)
        unit_price = catalog.price_cents[product]
        self.gross_cents = unit_price * quantity
        discount = np.multiply(self.gross_cents, _PERCENT_SAMPLER.sample(streams("order_items.discount"), size),
                               dtype=np.int64)
        # Rounded down to the cent, so a discount never exceeds the line's gross amount.
        discount //= 100
        self.discount_cents = discount
        product_id = product.astype(np.int64)
        product_id += 1

        self.draft = draft = TableDraft(ORDER_ITEMS, size)
        draft.values("order_item_id", item_ids)
        draft.values("order_id", item_order_ids)
        draft.values("product_id", product_id)
        draft.values("quantity", quantity)
        draft.money("unit_price", unit_price)
        draft.money("discount", self.discount_cents)
        draft.constant("_batch_id", batch_number)
        draft.constant("_generated_at", interval.end_us)

    def net_cents_per_order(self) -> Int64Array:
        """``quantity * unit_price - discount`` summed over each order's lines."""
        net = self.gross_cents - self.discount_cents
        if len(net) == 0:
            return np.zeros(len(self.lines), dtype=np.int64)
        per_order: Int64Array = np.add.reduceat(net, self.first_lines)
        return per_order


@functools.lru_cache(maxsize=32)
def _decaying(maximum: int, decay: float, dtype: type[np.integer[Any]]) -> WeightedSampler:
    """Values ``1..maximum`` with weights ``decay ** (value - 1)``: small values are the common ones."""
    return WeightedSampler(np.power(decay, np.arange(maximum, dtype=np.float64)),
                           outcomes=np.arange(1, maximum + 1, dtype=dtype))


def _dollars(cents: int) -> Decimal:
    return Decimal(cents).scaleb(-2)
