"""Synthetic data generation: orders + order_items rows per second on one core.

    .venv/bin/python benchmarks/bench_generation.py [--rows 3000000] [--repeat 5] [--faker-rows 20000]

Three generators of the same two bronze tables (same columns and Arrow types), timed in
one process, interleaved (floe, numpy, Faker; floe, numpy, Faker; ...), medians reported:

* **floe**: ``generate_ecommerce_batch`` with a burst sized to about ``--rows`` rows of
  orders + order_items: weighted categoricals, the intraday curve, referential integrity,
  deterministic streams. Also once more with defects on (1 % nulls on two columns, 1 %
  duplicates, 1 % late rows).
* **numpy baseline**: the same columns drawn as bare numpy arrays with uniform values and no
  curve, integrity or determinism beyond one seed, then wrapped in Arrow: the floor for
  "numpy + pyarrow".
* **Faker, row by row**: a Python loop building one dict per order and per line with Faker
  and ``random`` (weighted choices, a timestamp in the interval, decimal money), then
  ``pyarrow.Table.from_pylist``: what a hand-written generator usually looks like. It gets
  ``--faker-rows`` rows, since it runs about a thousand times slower; rates are per row.

The process is pinned to one CPU (``os.sched_setaffinity``) and numpy, BLAS and Arrow are
kept to one thread. Each timing is the generator call alone (Arrow tables out), start-up and
imports excluded. Goal (from the issue): floe >= 10M rows/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from _timing import exclusive, machine_line, note, table

GOAL_ROWS_PER_S = 10_000_000
# Mean rows per order with the default config: the order plus 57/31 lines (1..5, halving).
ROWS_PER_ORDER = 1 + 57 / 31
# The numpy baseline draws 1..4 lines per order uniformly.
NUMPY_ROWS_PER_ORDER = 1 + 2.5
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS")


@dataclass
class Series:
    label: str
    rows: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    cpu_seconds: list[float] = field(default_factory=list)

    @property
    def rates(self) -> list[float]:
        return [r / s for r, s in zip(self.rows, self.seconds, strict=True)]

    @property
    def median_rate(self) -> float:
        return statistics.median(self.rates)

    @property
    def median_cpu_rate(self) -> float:
        """Rows per second of this process's own CPU time (user + system): what the core
        delivers when other processes share it."""
        return statistics.median(r / s for r, s in zip(self.rows, self.cpu_seconds, strict=True))


def single_core(cpu: int | None) -> str:
    """Pin to one CPU and one thread per library; say what was done."""
    for name in THREAD_VARIABLES:
        os.environ[name] = "1"
    import pyarrow as pa

    pa.set_cpu_count(1)
    pa.set_io_thread_count(1)
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity here)"
    allowed = sorted(os.sched_getaffinity(0))
    chosen = cpu if cpu is not None else allowed[-1]
    os.sched_setaffinity(0, {chosen})
    return f"pinned to CPU {chosen} of {allowed}"


def floe_generator(orders: int, defects: bool) -> Callable[[int], int]:
    from floe.synthetic import Burst, DefectConfig, EcommerceConfig, generate_ecommerce_batch

    config = EcommerceConfig(rate=Burst(count=orders))
    if defects:
        config = EcommerceConfig(rate=Burst(count=orders), defects=DefectConfig(
            null_rates={"orders.customer_id": 0.01, "orders.region": 0.01}, duplicate_rate=0.01, late_rate=0.01))

    def run(batch_number: int) -> int:
        batch = generate_ecommerce_batch(seed=1, batch_number=batch_number, config=config)
        return int(batch.orders.num_rows + batch.order_items.num_rows)

    return run


def numpy_generator(orders: int) -> Callable[[int], int]:
    """Uniform values of the same columns and types: the cost of numpy + Arrow alone."""
    import numpy as np
    import pyarrow as pa

    from floe.synthetic.schemas import ORDER_ITEMS, ORDERS

    statuses = pa.array(["placed", "paid", "shipped", "delivered", "cancelled", "returned"])
    regions = pa.array(["north_america", "europe", "asia_pacific", "latin_america", "middle_east_africa"])
    channels = pa.array(["web", "mobile", "marketplace"])
    ts, money = pa.timestamp("us", tz="UTC"), pa.decimal128(12, 2)
    start = 1_767_225_600_000_000  # 2026-01-01T00:00Z

    def decimal(cents: np.ndarray) -> pa.Array:
        words = np.zeros((len(cents), 2), dtype=np.int64)
        words[:, 0] = cents
        return pa.Array.from_buffers(money, len(cents), [None, pa.py_buffer(words)])

    def run(batch_number: int) -> int:
        rng = np.random.default_rng(batch_number)
        n = orders
        order_ids = np.arange(1, n + 1, dtype=np.int64)
        end = np.full(n, start + 300_000_000, dtype=np.int64)
        orders_table = pa.Table.from_arrays([
            pa.array(order_ids), pa.array(rng.integers(1, 10_000, n)),
            statuses.take(pa.array(rng.integers(0, 6, n, dtype=np.int8))),
            regions.take(pa.array(rng.integers(0, 5, n, dtype=np.int8))),
            channels.take(pa.array(rng.integers(0, 3, n, dtype=np.int8))),
            pa.array(rng.integers(start, start + 300_000_000, n), type=ts),
            pa.array(np.full(n, batch_number, dtype=np.int64)), pa.array(end, type=ts),
        ], schema=ORDERS)
        lines = rng.integers(1, 5, n)
        m = int(lines.sum())
        unit = rng.integers(100, 20_000, m)
        quantity = rng.integers(1, 4, m, dtype=np.int32)
        items_table = pa.Table.from_arrays([
            pa.array(np.arange(1, m + 1, dtype=np.int64)), pa.array(np.repeat(order_ids, lines)),
            pa.array(rng.integers(1, 501, m)), pa.array(quantity), decimal(unit),
            decimal(np.zeros(m, dtype=np.int64)),
            pa.array(np.full(m, batch_number, dtype=np.int64)),
            pa.array(np.full(m, start + 300_000_000, dtype=np.int64), type=ts),
        ], schema=ORDER_ITEMS)
        return int(orders_table.num_rows + items_table.num_rows)

    return run


def faker_generator(orders: int) -> Callable[[int], int]:
    """One dict per row, built in a Python loop with Faker and random, then Arrow."""
    import random
    from datetime import datetime, timedelta, timezone
    from decimal import Decimal

    import pyarrow as pa
    from faker import Faker

    from floe.synthetic.schemas import ORDER_ITEMS, ORDERS

    fake = Faker()
    statuses = (["placed", "paid", "shipped", "delivered", "cancelled", "returned"], [8, 12, 20, 50, 6, 4])
    regions = (["north_america", "europe", "asia_pacific", "latin_america", "middle_east_africa"], [35, 30, 22, 8, 5])
    channels = (["web", "mobile", "marketplace"], [45, 40, 15])
    prices = [Decimal(random.Random(p).randint(1, 300)) + Decimal("0.99") for p in range(500)]

    def run(batch_number: int) -> int:
        Faker.seed(batch_number)
        rnd = random.Random(batch_number)
        start = datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=5 * batch_number)
        end = start + timedelta(minutes=5)
        order_rows, item_rows = [], []
        for i in range(orders):
            order_id = batch_number * 1_000_000_000 + i + 1
            order_rows.append({
                "order_id": order_id, "customer_id": rnd.randint(1, 10_000),
                "status": rnd.choices(*statuses)[0], "region": rnd.choices(*regions)[0],
                "channel": rnd.choices(*channels)[0],
                "ordered_at": fake.date_time_between(start_date=start, end_date=end, tzinfo=timezone.utc),
                "_batch_id": batch_number, "_generated_at": end,
            })
            for line in range(1, rnd.choices([1, 2, 3, 4, 5], [16, 8, 4, 2, 1])[0] + 1):
                product = rnd.randint(1, 500)
                quantity = rnd.choices(range(1, 11), [0.45 ** q for q in range(10)])[0]
                price = prices[product - 1]
                discount = (price * quantity * rnd.choice([0, 0, 0, 0, 10, 20]) / 100).quantize(Decimal("0.01"))
                item_rows.append({
                    "order_item_id": order_id * 100 + line, "order_id": order_id, "product_id": product,
                    "quantity": quantity, "unit_price": price, "discount": discount,
                    "_batch_id": batch_number, "_generated_at": end,
                })
        orders_table = pa.Table.from_pylist(order_rows, schema=ORDERS)
        items_table = pa.Table.from_pylist(item_rows, schema=ORDER_ITEMS)
        return int(orders_table.num_rows + items_table.num_rows)

    return run


def measure(series: Series, run: Callable[[int], int], batch_number: int) -> None:
    cpu_started, started = time.process_time(), time.perf_counter()
    rows = run(batch_number)
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    series.rows.append(rows)
    series.seconds.append(elapsed)
    series.cpu_seconds.append(cpu)
    note(f"  {series.label:<34} batch {batch_number:>3}  {rows:>10,} rows  {elapsed:8.3f} s  {cpu:8.3f} s cpu  "
         f"{rows / elapsed / 1e6:7.2f} M rows/s")


def rate(value: float) -> str:
    return f"{value / 1e6:.2f} M" if value >= 1e6 else f"{value / 1e3:.1f} k"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3_000_000, help="orders + order_items rows per floe run [3M]")
    parser.add_argument("--faker-rows", type=int, default=20_000, help="rows per Faker run [20k]")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each generator [5]")
    parser.add_argument("--cpu", type=int, default=None, help="CPU to pin to [the last one allowed]")
    args = parser.parse_args(argv)
    pinning = single_core(args.cpu)

    orders = max(1, round(args.rows / ROWS_PER_ORDER))
    faker_orders = max(1, round(args.faker_rows / ROWS_PER_ORDER))
    generators = [
        (Series("floe"), floe_generator(orders, defects=False)),
        (Series("floe, defects on"), floe_generator(orders, defects=True)),
        (Series("numpy + pyarrow baseline"), numpy_generator(max(1, round(args.rows / NUMPY_ROWS_PER_ORDER)))),
        (Series("Faker, row by row"), faker_generator(faker_orders)),
    ]
    note(f"{pinning}; warm-up, then {args.repeat} interleaved rounds")
    for _, run in generators:  # warm-up: imports, caches, allocator
        run(0)
    for round_ in range(1, args.repeat + 1):
        for series, run in generators:
            measure(series, run, round_)

    floe = generators[0][0]
    print(f"## Synthetic data generation (orders + order_items)\n\n{machine_line()}\n")
    print(f"One core ({pinning}; numpy, BLAS and Arrow single-threaded). Median of {args.repeat} "
          f"interleaved runs; rows/s = rows of both tables / seconds of the generator call (wall clock), "
          f"and per second of the process's own CPU time.\n")
    rows = []
    for series, _ in generators:
        rows.append([series.label, f"{statistics.median(series.rows):,.0f}",
                     f"{statistics.median(series.seconds):.3f} s", rate(series.median_rate) + " rows/s",
                     rate(max(series.rates)) + " rows/s", rate(series.median_cpu_rate) + " rows/s",
                     f"{floe.median_rate / series.median_rate:,.2f}"])
    print(table(["generator", "rows per run", "median wall time", "median rate", "best rate",
                 "rate per CPU second", "floe / this"], rows))
    faker, numpy_ = generators[3][0], generators[2][0]
    verdicts = {name: "met" if value >= GOAL_ROWS_PER_S else "not met"
                for name, value in (("median", floe.median_rate), ("cpu", floe.median_cpu_rate))}
    print(f"\nfloe / Faker: {floe.median_rate / faker.median_rate:,.0f}x · floe / numpy baseline: "
          f"{floe.median_rate / numpy_.median_rate:.2f}x (per CPU second: "
          f"{floe.median_cpu_rate / faker.median_cpu_rate:,.0f}x and "
          f"{floe.median_cpu_rate / numpy_.median_cpu_rate:.2f}x)")
    print(f"Goal >= {rate(GOAL_ROWS_PER_S)} rows/s on one core: {verdicts['median']} by median wall-clock rate "
          f"({rate(floe.median_rate)}; best {rate(max(floe.rates))}), {verdicts['cpu']} per CPU second "
          f"({rate(floe.median_cpu_rate)}).")
    print(f"\n(finished {machine_line()})")
    return 0


if __name__ == "__main__":
    with exclusive():
        sys.exit(main())
