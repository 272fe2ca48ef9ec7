"""Bronze append: an Arrow table into an Iceberg table, beside pyarrow writing the same Parquet.

    .venv/bin/python benchmarks/bench_iceberg_append.py [--rows 1000000,5000000] [--repeat 5]

What is timed, in one process (the Arrow table is built once, before timing):

* ``floe append_batch`` — ``floe.lakehouse.append_batch`` into ``bronze.orders`` on the embedded
  default: SQL catalog on SQLite, local warehouse. The table exists (created by an untimed
  warm-up append), so each timed call is a steady-state append: load the table, check the
  batch ledger, write the data file, write manifest, manifest list and metadata, commit.
* ``pyiceberg append`` — the same through pyiceberg's ``Table.append`` alone (no floe), so the
  difference shows what floe's own code costs.
* ``pyarrow write_table`` — ``pyarrow.parquet.write_table`` of the same Arrow table to a new
  file, with the writer settings pyiceberg 0.12 uses by default (zstd at the default level,
  row groups of 1,048,576 rows, 1 MiB data pages, 2 MiB dictionary pages, write batches of
  20,000 rows, decimals stored as integers). That is the floor: writing the bytes at all.

The three run interleaved (A B C, A B C, ...) after one untimed warm-up each, so load changes
on the shared machine hit all of them alike; medians are reported, wall clock and CPU time
(all threads of the process). Data: an orders-like table — int64 ids, two strings (100,000
customers, 5 statuses), decimal128(12, 2), timestamp[us, UTC], an int64 batch column.

Goal (from the issue): floe's append ≤ 1.25× pyarrow's write_table.

Then (``--pushdown-batches N``, 0 to skip) a table of N small batches is read by DuckDB
through floe's view (``iceberg_scan`` of the metadata file): does a filter on ``_batch_id``
skip the data files of other batches? ``EXPLAIN ANALYZE`` reports the files read.
"""

from __future__ import annotations

import argparse
import gc
import re
import shutil
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from _timing import WORK, exclusive, machine_line, note, seconds, table, verdict

GOAL = 1.25
# pyiceberg 0.12's Parquet writer settings when a table sets none (TableProperties defaults).
PYICEBERG_PARQUET_DEFAULTS = {
    "compression": "zstd",
    "row_group_size": 1_048_576,
    "data_page_size": 1024 * 1024,
    "dictionary_pagesize_limit": 2 * 1024 * 1024,
    "write_batch_size": 20_000,
    "store_decimal_as_integer": True,
}


def orders(rows: int, batch: int = 0, seed: int = 7):
    """An orders-like Arrow table, built with numpy (tens of millions of rows per second)."""
    import numpy as np
    import pyarrow as pa

    rng = np.random.default_rng(seed)
    cents = rng.integers(100, 10_000_000, rows, dtype=np.int64)
    # decimal128 values are 16-byte little-endian integers: the cents, then the high word 0.
    amounts = pa.Array.from_buffers(pa.decimal128(12, 2), rows,
                                    [None, pa.py_buffer(np.column_stack([cents, np.zeros(rows, np.int64)]).tobytes())])
    customers = pa.array([f"customer-{i:06d}" for i in range(100_000)])
    statuses = pa.array(["placed", "paid", "shipped", "delivered", "returned"])

    def pick(values: pa.Array, count: int) -> pa.Array:
        indices = pa.array(rng.integers(0, count, rows, dtype=np.int32))
        return pa.DictionaryArray.from_arrays(indices, values).cast(pa.string())

    start_us = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z
    return pa.table({
        "order_id": pa.array(np.arange(batch * rows, (batch + 1) * rows, dtype=np.int64)),
        "customer_id": pa.array(rng.integers(0, 100_000, rows, dtype=np.int64)),
        "customer": pick(customers, 100_000),
        "status": pick(statuses, 5),
        "amount": amounts,
        "ordered_at": pa.array(start_us + np.sort(rng.integers(0, 86_400_000_000, rows)), pa.timestamp("us", tz="UTC")),
        "_batch_id": pa.array(np.full(rows, batch, dtype=np.int64)),
    })


def timed(action: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds (CPU of every thread of this process: pyiceberg writes in a pool)."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    action()
    return time.perf_counter() - wall, time.process_time() - cpu


def measure(rows: int, repeat: int, work: Path) -> dict[str, object]:
    import pyarrow.parquet as pq

    from floe.lakehouse import append_batch, open_catalog
    from floe.spec.platform import LocalStorage, SqlCatalog

    data = orders(rows)
    project = work / f"rows_{rows}"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    catalog = open_catalog(SqlCatalog(type="sql"), LocalStorage(type="local"), project)
    plain = project / "pyarrow"
    plain.mkdir()
    counter = iter(range(1_000_000))
    # pyiceberg alone, on its own table with pyiceberg's defaults (no floe properties).
    catalog.create_namespace_if_not_exists("plain")
    raw_table = catalog.create_table("plain.orders", schema=data.schema, location=str(project / "plain_orders"))

    def floe_append() -> None:
        append_batch(catalog, "bronze.orders", data, f"batch-{next(counter)}")

    def pyiceberg_append() -> None:
        raw_table.refresh().append(data)

    def pyarrow_write() -> None:
        pq.write_table(data, plain / f"part-{next(counter)}.parquet", **PYICEBERG_PARQUET_DEFAULTS)

    variants = {"floe append_batch": floe_append, "pyiceberg append": pyiceberg_append,
                "pyarrow write_table": pyarrow_write}
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in variants}
    names = list(variants)
    for round_ in range(-1, repeat):
        # Rotate who goes first: the first of a round runs right after another's garbage.
        for name in names[round_ % len(names):] + names[:round_ % len(names)]:
            action = variants[name]
            wall, cpu = timed(action)
            tag = "warm-up" if round_ < 0 else f"{round_ + 1}/{repeat}"
            note(f"  {rows:>9,} rows  {name:<20} {tag:>7}  {wall:6.2f} s wall  {cpu:6.2f} s cpu")
            if round_ >= 0:
                samples[name].append((wall, cpu))
    table_files = sorted((project / ".floe" / "lakehouse" / "bronze" / "orders" / "data").glob("*.parquet"))
    plain_files = sorted(plain.glob("*.parquet"))
    result = {
        "rows": rows,
        "arrow_mb": data.nbytes / 1e6,
        "wall": {name: statistics.median(w for w, _ in s) for name, s in samples.items()},
        "wall_min": {name: min(w for w, _ in s) for name, s in samples.items()},
        "cpu": {name: statistics.median(c for _, c in s) for name, s in samples.items()},
        "file_mb": (table_files[-1].stat().st_size / 1e6, plain_files[-1].stat().st_size / 1e6),
        "files_per_append": len(table_files) / (repeat + 1),
    }
    catalog.engine.dispose()
    shutil.rmtree(project, ignore_errors=True)
    return result


PUSHDOWN_QUERIES = {
    "no filter": "",
    "newest 5 % of batches": "WHERE _batch_id >= {newest}",
    "one batch": "WHERE _batch_id = {middle}",
    "filter no file bounds exclude": "WHERE status = 'paid'",
}


def measure_pushdown(batches: int, rows: int, repeat: int, work: Path) -> list[list[str]]:
    """Files DuckDB reads and its time, per filter, over a table of ``batches`` appends."""
    import duckdb

    from floe.lakehouse import append_batch, create_iceberg_views, iceberg_views, install_extensions, open_catalog
    from floe.spec.platform import LocalStorage, SqlCatalog

    project = work / f"pushdown_{batches}x{rows}"
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    catalog = open_catalog(SqlCatalog(type="sql"), LocalStorage(type="local"), project)
    started = time.perf_counter()
    for batch in range(batches):
        append_batch(catalog, "bronze.orders", orders(rows, batch=batch, seed=batch), f"batch-{batch}")
    note(f"  {batches} appends of {rows:,} rows: {time.perf_counter() - started:.1f} s")
    connection = duckdb.connect()
    install_extensions(connection, work / "duckdb_extensions")
    create_iceberg_views(connection, iceberg_views(catalog, ["bronze.orders"]))
    sql = {name: "SELECT count(*), sum(amount) FROM bronze.orders " + where.format(
        newest=batches - max(1, batches // 20), middle=batches // 2) for name, where in PUSHDOWN_QUERIES.items()}
    times: dict[str, list[float]] = {name: [] for name in sql}
    for _ in range(repeat + 1):
        for name, query in sql.items():
            start = time.perf_counter()
            connection.execute(query).fetchall()
            times[name].append(time.perf_counter() - start)
    out = []
    for name, query in sql.items():
        plan = connection.execute("EXPLAIN ANALYZE " + query).fetchall()[0][1]
        files = re.findall(r"Total Files Read: (\d+)", plan)
        matched = connection.execute(query).fetchone()[0]
        out.append([name, query.split("bronze.orders", 1)[1].strip() or "-", f"{matched:,}",
                    f"{files[0] if files else '?'} of {batches}", seconds(statistics.median(times[name][1:]))])
    connection.close()
    catalog.engine.dispose()
    shutil.rmtree(project, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", default="1000000,5000000", help="comma-separated table sizes [1000000,5000000]")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds per size [5]")
    parser.add_argument("--pushdown-batches", type=int, default=200,
                        help="batches of 20,000 rows for the DuckDB filter test, 0 to skip [200]")
    args = parser.parse_args(argv)
    sizes = [int(part) for part in args.rows.split(",") if part.strip()]

    work = WORK / "iceberg_append"
    with exclusive():
        results = [measure(rows, args.repeat, work) for rows in sizes]
        pushdown = measure_pushdown(args.pushdown_batches, 20_000, args.repeat, work) if args.pushdown_batches else []

    names = ("floe append_batch", "pyiceberg append", "pyarrow write_table")
    print(f"## Iceberg append vs Parquet write\n\n{machine_line()}\n")
    print(f"In-process, interleaved, median of {args.repeat} (min in brackets); the Arrow table is built "
          "before timing.\n")
    rows_out = []
    for r in results:
        wall, low, base = r["wall"], r["wall_min"], r["wall"]["pyarrow write_table"]  # type: ignore[index]
        ratio = wall["floe append_batch"] / base
        rows_out.append([f"{r['rows']:,}", f"{r['arrow_mb']:.0f} MB",
                         *(f"{seconds(wall[n])} ({seconds(low[n])})" for n in names),
                         f"{ratio:.2f}x", f"{wall['pyiceberg append'] / base:.2f}x",
                         f"{verdict(ratio, GOAL)} (<= {GOAL}x)"])
    print(table(["rows", "arrow size", *names, "floe / pyarrow", "pyiceberg / pyarrow", "goal"], rows_out))
    print("\nCPU time (all threads of the process), median, and the files written.\n")
    cpu_rows = []
    for r in results:
        cpu, base = r["cpu"], r["cpu"]["pyarrow write_table"]  # type: ignore[index]
        table_mb, plain_mb = r["file_mb"]  # type: ignore[misc]
        cpu_rows.append([f"{r['rows']:,}", *(seconds(cpu[n]) for n in names),
                         f"{cpu['floe append_batch'] / base:.2f}x",
                         f"{table_mb:.1f} MB x {r['files_per_append']:.0f}", f"{plain_mb:.1f} MB"])
    print(table(["rows", *(f"{n} cpu" for n in names), "floe / pyarrow cpu", "Iceberg data files per append",
                 "Parquet file"], cpu_rows))
    if pushdown:
        print(f"\n## DuckDB filter pushdown over {args.pushdown_batches} appended batches\n")
        print("One data file per batch; DuckDB reads floe's view (iceberg_scan of the metadata file). Files read "
              f"from EXPLAIN ANALYZE; time: median of {args.repeat}.\n")
        print(table(["query", "filter", "rows", "data files read", "time"], pushdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
