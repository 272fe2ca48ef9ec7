"""How dbt on DuckDB should read the Iceberg bronze tables: the iceberg extension or pyiceberg.

    .venv/bin/python benchmarks/bench_iceberg_read.py [--batches 100] [--rows 20000] [--repeat 5]

The table: ``bronze.orders`` built with floe's own API (``open_catalog`` on the embedded
default, SQL catalog on SQLite and a local warehouse; one ``append_batch`` per batch), B
batches of the synthetic e-commerce orders (``generate_ecommerce_batch`` with a fixed count),
plus an ``amount`` column: the order's total from its order lines, decimal128(12, 2).

Two query shapes, as a staging model runs them (the same SQL text in every path):

* incremental — only the newest batch: ``SELECT count(*), sum(amount) FROM bronze.orders
  WHERE _batch_id > B-2``;
* full — the whole table: ``SELECT status, count(*), sum(amount) ... GROUP BY status``.

The paths, each sample a **fresh process** (a dbt build is one process and runs a model
once, so nothing may be cached from an earlier sample: pyiceberg caches manifests per
process, DuckDB caches per database instance). Inside the child each phase is timed:

* **A · DuckDB iceberg extension** (what floe does). Before timing, as ``floe`` does before a
  build (``floe.ingestion.views.refresh_views``), the extension is installed from its PyPI
  wheel with ``floe.lakehouse.install_extensions`` into a scratch extension directory, and a
  view ``bronze.orders`` over ``iceberg_scan('<metadata.json>')`` (limited to complete batches,
  as floe writes it) is stored in the warehouse file. The child opens that file as
  dbt-duckdb does (``duckdb.connect(path, config=settings)``, ``extension_directory`` in the
  settings), loads the extension (what autoloading does on the first ``iceberg_scan``), and
  runs the SQL; the WHERE is in the SQL, so DuckDB can skip data files.
* **B · dbt-duckdb's ``iceberg`` source plugin, as it works** (dbt-duckdb 1.11,
  ``dbt/adapters/duckdb/plugins/iceberg.py`` and ``environments/local.py``): the plugin opens
  the catalog with ``pyiceberg.catalog.load_catalog(name, **config)``; resolving the source
  calls ``catalog.load_table(...)``, ``table.scan(**scan_config).to_arrow()`` where
  ``scan_config`` holds only keys of the source's *meta* (``row_filter`` etc., static YAML), then
  ``register``s the Arrow table and runs ``CREATE OR REPLACE TABLE <source> AS SELECT * FROM
  <df>`` (``table`` is the default ``materialization``). The model's WHERE never reaches
  pyiceberg: the realistic path reads the whole table into Arrow, copies it into the
  warehouse, and filters in DuckDB.
* **B best · the same plugin at its best**: ``row_filter: "_batch_id > B-2"`` in the source's
  meta for the incremental shape (pyiceberg prunes files by their statistics; a static value,
  so a real incremental model cannot keep it current) and ``materialization: view`` (DuckDB
  queries the Arrow table without copying it). For the full shape there is no filter to
  push, so only the view applies.

The headline figure is the **read**: from the source being resolved to the fetched result
(A: the query; B: ``load_table`` + scan to Arrow + materialize + query). The first-query
costs, paid once per dbt process — imports, opening the warehouse, loading the extension or
opening the catalog, and (B) the process's first ``load_table``, which is mostly lazy imports:
the child calls it once (timed as *first_load*) and times a second call as part of the read —
are reported beside it, as is the view refresh floe runs before each build for path A. The
plugin gets floe's catalog properties minus floe's own keys (no floe import in dbt's process).

The six commands (3 paths × 2 shapes) run round-robin, the first of each round rotating,
after one untimed warm-up each; medians (min in brackets). Results are compared between the
paths; the script never asserts. Work files: ``benchmarks/.work/iceberg_read/``. Like the
other scripts it waits for ``benchmarks/.work/.lock``; ``--no-lock`` runs beside another
benchmark (the figures then share the CPU with it).
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

from _timing import PYTHON, WORK, bench_env, exclusive, machine_line, note, reset_dir, seconds, table

HERE = Path(__file__).resolve()
WORK_DIR = WORK / "iceberg_read"
TABLE = "bronze.orders"
SEED = 20_261_101

PATHS = {
    "A": "A · DuckDB iceberg_scan",
    "B": "B · plugin as it works",
    "Bbest": "B best · row_filter + view",
}
SHAPES = ("incremental", "full")
PHASES = ("imports", "connect", "setup", "first_load", "load_table", "scan_to_arrow", "materialize", "query", "close")
READ_PHASES = ("load_table", "scan_to_arrow", "materialize", "query")
FIRST_PHASES = ("imports", "connect", "setup", "first_load")


# --------------------------------------------------------------------------------------------
# The model SQL and the plugin's source meta, per shape (the same text for every path).

def model_sql(shape: str, batches: int) -> str:
    if shape == "incremental":
        return f"SELECT count(*) AS orders, sum(amount) AS amount FROM bronze.orders WHERE _batch_id > {batches - 2}"
    return ("SELECT status, count(*) AS orders, sum(amount) AS amount FROM bronze.orders "
            "GROUP BY status ORDER BY status")


def source_meta(path: str, shape: str, batches: int) -> dict[str, str]:
    """The source's ``meta`` block in sources.yml for path B (what the plugin reads)."""
    meta = {"plugin": "iceberg", "iceberg_table": "{schema}.{identifier}"}
    if path == "Bbest":
        meta["materialization"] = "view"
        if shape == "incremental":
            meta["row_filter"] = f"_batch_id > {batches - 2}"
    return meta


# --------------------------------------------------------------------------------------------
# The child: one read in a fresh process. Imports only what the path itself needs (no floe).

def child(path: str, shape: str, config_file: Path) -> int:
    started = time.perf_counter()
    marks: dict[str, float] = {}
    config = json.loads(config_file.read_text())
    last = started

    def mark(phase: str) -> None:
        nonlocal last
        now = time.perf_counter()
        marks[phase] = marks.get(phase, 0.0) + now - last
        last = now

    sql = model_sql(shape, config["batches"])
    settings = {"extension_directory": config["extension_dir"]}  # floe's dbt profile settings
    arrow_rows = None
    if path == "A":
        import duckdb

        mark("imports")
        connection = duckdb.connect(config["warehouse_a"], read_only=False, config=settings)
        mark("connect")
        connection.execute("LOAD iceberg")  # what autoloading does on the first iceberg_scan
        mark("setup")
        result = connection.execute(sql).fetchall()
        mark("query")
    else:
        import duckdb
        import pyiceberg.catalog

        mark("imports")
        connection = duckdb.connect(config["warehouse_b"], read_only=False, config=settings)
        mark("connect")
        # The plugin's initialize(): the profile's plugin config, the catalog opened once per run.
        plugin_config = dict(config["catalog_properties"])
        catalog = pyiceberg.catalog.load_catalog(plugin_config.pop("catalog"), **plugin_config)
        mark("setup")
        meta = source_meta(path, shape, config["batches"])
        schema, identifier = TABLE.split(".")
        name = meta["iceberg_table"].format(schema=schema, identifier=identifier)
        # The first load_table of a process costs ~0.5 s of lazy imports (pyiceberg's PyArrow
        # FileIO, pyarrow.fs, ...), paid once per dbt process however many sources it reads:
        # timed apart, as a first-query cost like A's extension load. It caches no table data.
        catalog.load_table(name)
        mark("first_load")
        # The plugin's load(source_config), then the environment's load_source().
        iceberg_table = catalog.load_table(name)
        mark("load_table")
        scan_keys = ("row_filter", "selected_fields", "case_sensitive", "snapshot_id", "options", "limit")
        arrow = iceberg_table.scan(**{key: meta[key] for key in scan_keys if key in meta}).to_arrow()
        arrow_rows = arrow.num_rows
        mark("scan_to_arrow")
        cursor = connection.cursor()
        cursor.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
        df_name = f"{schema}_{identifier}_df"
        cursor.register(df_name, arrow)
        materialization = meta.get("materialization", "table")
        cursor.execute(f"CREATE OR REPLACE {materialization} {TABLE} AS SELECT * FROM {df_name}")
        cursor.close()
        # The model runs on a cursor of its own; for a view the environment registers the Arrow
        # table again on every new cursor (its _REGISTERED_DF).
        cursor = connection.cursor()
        if materialization == "view":
            cursor.register(df_name, arrow)
        mark("materialize")
        result = cursor.execute(sql).fetchall()
        mark("query")
        cursor.close()
    connection.close()
    mark("close")
    print(json.dumps({"phases": marks, "result": [[str(value) for value in row] for row in result],
                      "arrow_rows": arrow_rows}))
    return 0


# --------------------------------------------------------------------------------------------
# The parent: build the table, prepare the warehouses, time the children interleaved.

def orders_batch(batch: int, rows: int):
    """Batch ``batch`` of the synthetic orders, with ``amount``: the total of the order's lines."""
    import pyarrow as pa
    import pyarrow.compute as pc

    from floe.synthetic import EcommerceConfig, generate_ecommerce_batch
    from floe.synthetic.rates import Burst

    generated = generate_ecommerce_batch(seed=SEED, batch_number=batch, config=EcommerceConfig(rate=Burst(count=rows)))
    orders, items = generated.orders, generated.tables["order_items"]
    lines = pc.subtract(pc.multiply(pc.fill_null(items["unit_price"], 0),
                                    pc.cast(pc.fill_null(items["quantity"], 0), pa.decimal128(10, 0))),
                        pc.fill_null(items["discount"], 0))
    totals = pa.table({"order_id": items["order_id"], "line": lines}).group_by("order_id").aggregate([("line", "sum")])
    position = pc.index_in(orders["order_id"], value_set=totals["order_id"])
    amount = pc.fill_null(pc.take(totals["line_sum"], position), 0).cast(pa.decimal128(12, 2))
    return pa.table({
        "order_id": orders["order_id"],
        "customer_id": orders["customer_id"],
        "status": orders["status"],
        "region": orders["region"],
        "ordered_at": orders["ordered_at"],
        "amount": amount,
        "_batch_id": orders["_batch_id"],
    })


def build_table(root: Path, batches: int, rows: int) -> dict[str, Any]:
    from floe.lakehouse import append_batch, open_catalog
    from floe.spec.platform import LocalStorage, SqlCatalog

    catalog = open_catalog(SqlCatalog(type="sql"), LocalStorage(type="local"), root)
    generating = appending = 0.0
    for batch in range(batches):
        started = time.perf_counter()
        data = orders_batch(batch, rows)
        generating += time.perf_counter() - started
        started = time.perf_counter()
        append_batch(catalog, TABLE, data, f"orders-{batch}")
        appending += time.perf_counter() - started
        if (batch + 1) % 25 == 0 or batch + 1 == batches:
            note(f"  appended {batch + 1}/{batches} batches "
                 f"({generating:.1f} s generating, {appending:.1f} s appending)")
    loaded = catalog.load_table(TABLE)
    files = loaded.inspect.files()
    info = {"data_files": files.num_rows, "bytes": sum(files["file_size_in_bytes"].to_pylist()),
            "rows": sum(files["record_count"].to_pylist()), "append_s": appending}
    catalog.engine.dispose()
    return info


def refresh_view_a(root: Path, warehouse: Path, extension_dir: Path, batches: int) -> float:
    """What floe does before each build (``refresh_views``): catalog, metadata location, view.

    Returns its wall time (floe imported already)."""
    import duckdb

    from floe.lakehouse import iceberg_views, install_extensions, open_catalog
    from floe.spec.platform import LocalStorage, SqlCatalog

    started = time.perf_counter()
    catalog = open_catalog(SqlCatalog(type="sql"), LocalStorage(type="local"), root)
    (view,) = iceberg_views(catalog, [TABLE])
    with duckdb.connect(str(warehouse)) as connection:
        install_extensions(connection, extension_dir)
        connection.execute(f"CREATE SCHEMA IF NOT EXISTS {view.schema}")
        # As refresh_views writes it: only complete batches (here all B of them).
        location = view.metadata_location.replace("'", "''")
        connection.execute(f"CREATE OR REPLACE VIEW {view.qualified_name} AS SELECT * FROM "
                           f"iceberg_scan('{location}') WHERE _batch_id <= {batches - 1}")
    elapsed = time.perf_counter() - started
    catalog.engine.dispose()
    return elapsed


def run_child(path: str, shape: str, config_file: Path, warehouse_b: Path) -> dict[str, Any]:
    if path != "A":
        # Each B sample starts from the same empty warehouse file (untimed), as a fresh build
        # whose source table does not exist yet; the WAL too.
        for leftover in (warehouse_b, warehouse_b.with_name(warehouse_b.name + ".wal")):
            leftover.unlink(missing_ok=True)
    argv = [PYTHON, str(HERE), "--child", path, "--shape", shape, "--config", str(config_file)]
    started = time.perf_counter()
    completed = subprocess.run(argv, env=bench_env(), capture_output=True, text=True, check=False)
    wall = time.perf_counter() - started
    if completed.returncode != 0:
        tail = "\n".join(completed.stderr.strip().splitlines()[-15:])
        raise RuntimeError(f"{PATHS[path]} / {shape}: exit {completed.returncode}\n{tail}")
    out = json.loads(completed.stdout.strip().splitlines()[-1])
    out["process"] = wall
    return out


def files_read(root: Path, warehouse: Path, extension_dir: Path, batches: int) -> dict[tuple[str, str], str]:
    """Data files each path reads per shape (untimed, after the timing)."""
    import duckdb
    from pyiceberg.expressions import AlwaysTrue

    from floe.lakehouse import install_extensions, open_catalog
    from floe.spec.platform import LocalStorage, SqlCatalog

    out = {}
    with duckdb.connect(str(warehouse)) as connection:
        install_extensions(connection, extension_dir)
        for shape in SHAPES:
            plan = connection.execute("EXPLAIN ANALYZE " + model_sql(shape, batches)).fetchall()[0][1]
            found = re.findall(r"Total Files Read: (\d+)", plan)
            out["A", shape] = found[0] if found else "?"
    catalog = open_catalog(SqlCatalog(type="sql"), LocalStorage(type="local"), root)
    iceberg_table = catalog.load_table(TABLE)
    for path in ("B", "Bbest"):
        for shape in SHAPES:
            row_filter = source_meta(path, shape, batches).get("row_filter", AlwaysTrue())
            out[path, shape] = str(len(list(iceberg_table.scan(row_filter=row_filter).plan_files())))
    catalog.engine.dispose()
    return out


def measure(batches: int, rows: int, repeat: int) -> dict[str, Any]:
    from floe.lakehouse import catalog_properties
    from floe.lakehouse.catalogs import CATALOG_NAME
    from floe.spec.platform import LocalStorage, SqlCatalog

    root = reset_dir(WORK_DIR / "project")
    extension_dir = WORK_DIR / "duckdb_extensions"  # kept between runs: installing is idempotent
    warehouse_a, warehouse_b = root / "warehouse_a.duckdb", root / "warehouse_b.duckdb"
    started = time.perf_counter()
    info = build_table(root, batches, rows)
    info["build_s"] = time.perf_counter() - started
    refresh_view_a(root, warehouse_a, extension_dir, batches)
    # The plugin config a dbt profile would carry: floe's catalog properties, the type named,
    # without floe's own keys (its FileIO, for Azure paths, would import floe in dbt's process;
    # pyiceberg's default PyArrow FileIO reads a local warehouse the same way).
    props = {key: value for key, value in
             catalog_properties(SqlCatalog(type="sql"), LocalStorage(type="local"), root).items()
             if key != "py-io-impl" and not key.startswith("floe.")}
    config_file = root / "read_config.json"
    config_file.write_text(json.dumps({
        "batches": batches, "extension_dir": str(extension_dir.resolve()),
        "warehouse_a": str(warehouse_a), "warehouse_b": str(warehouse_b),
        "catalog_properties": {"catalog": CATALOG_NAME, "type": "sql", **props},
    }))

    commands = [(path, shape) for shape in SHAPES for path in PATHS]
    samples: dict[tuple[str, str], list[dict[str, Any]]] = {command: [] for command in commands}
    refreshes: list[float] = []
    for round_ in range(-1, repeat):
        tag = "warm-up" if round_ < 0 else f"{round_ + 1}/{repeat}"
        shift = round_ % len(commands)
        for path, shape in commands[shift:] + commands[:shift]:
            out = run_child(path, shape, config_file, warehouse_b)
            read = sum(out["phases"].get(phase, 0.0) for phase in READ_PHASES)
            note(f"  {PATHS[path]:<28} {shape:<11} {tag:>7}  read {read * 1000:7.0f} ms  "
                 f"process {out['process']:5.2f} s")
            if round_ >= 0:
                samples[path, shape].append(out)
        # floe's view refresh before a build (path A's share of the build's fixed cost).
        refresh = refresh_view_a(root, warehouse_a, extension_dir, batches)
        if round_ >= 0:
            refreshes.append(refresh)
    info["files_read"] = files_read(root, warehouse_a, extension_dir, batches)
    info["samples"] = samples
    info["refresh"] = refreshes
    return info


# --------------------------------------------------------------------------------------------
# Report.

def read_time(sample: dict[str, Any]) -> float:
    return sum(sample["phases"].get(phase, 0.0) for phase in READ_PHASES)


def first_cost(sample: dict[str, Any]) -> float:
    return sum(sample["phases"].get(phase, 0.0) for phase in FIRST_PHASES)


def med_min(values: list[float]) -> str:
    return f"{seconds(statistics.median(values))} ({seconds(min(values))})"


def summarize(sample: dict[str, Any], shape: str) -> str:
    rows = sample["result"]
    if shape == "incremental":
        return f"{int(rows[0][0]):,}"
    return f"{sum(int(row[1]) for row in rows):,} in {len(rows)} groups"


def phase_median(group: list[dict[str, Any]], phase: str) -> float:
    return statistics.median(s["phases"].get(phase, 0.0) for s in group)


def times(ratio: float) -> str:
    """``3.1x as long`` or ``0.8x the time``: a ratio B / A in words."""
    return f"{ratio:.1f}x as long" if ratio >= 1.0 else f"only {ratio:.2f}x the time"


def conclusion(info: dict[str, Any], medians: dict[tuple[str, str], float], first: dict[str, float],
               all_equal: bool) -> str:
    """Written from the figures just measured: every number and every comparison comes from them."""
    samples = info["samples"]
    ratio = {shape: medians["B", shape] / medians["A", shape] for shape in SHAPES}
    best = {shape: medians["Bbest", shape] / medians["A", shape] for shape in SHAPES}
    plugin = samples["B", "incremental"]
    scan, copy = phase_median(plugin, "scan_to_arrow"), phase_median(plugin, "materialize")
    files = info["files_read"]
    words = [
        f"Measured here: path A (DuckDB's iceberg extension on floe's iceberg_scan view) read the newest batch in "
        f"{seconds(medians['A', 'incremental'])} and the whole table in {seconds(medians['A', 'full'])}. "
        f"dbt-duckdb's iceberg plugin as it works took {times(ratio['incremental'])} for the newest batch and "
        f"{times(ratio['full'])} for the whole table: the model's WHERE never reaches pyiceberg, so even the "
        f"incremental read scanned {files['B', 'incremental']} of {info['data_files']} data files into Arrow "
        f"({seconds(scan)}) and copied {plugin[0]['arrow_rows']:,} rows into the warehouse ({seconds(copy)}). "
        f"Its best configuration (a static row_filter in the source meta, view materialization) took "
        f"{times(best['incremental'])} and {times(best['full'])}.",
        f"First-query costs, once per dbt process (imports, opening the warehouse, then loading the extension, "
        f"or opening the catalog and the first load_table): A {seconds(first['A'])}, B {seconds(first['B'])}; "
        f"A also needs floe's view refresh before the build ({seconds(statistics.median(info['refresh']))} per "
        "table, once per build, which floe runs anyway to hide half-landed batches).",
    ]
    a_beats_plugin = all(value > 1.0 for value in ratio.values())
    a_beats_best = all(value > 1.0 for value in best.values())
    if a_beats_plugin and a_beats_best:
        words.append(
            "So floe keeps path A: it was faster than the plugin for both query shapes, even than the plugin "
            f"configured at its best; it skips data files from the model's own filter ({files['A', 'incremental']} "
            f"of {info['data_files']} read for the newest batch), which a static row_filter cannot follow as "
            "batches arrive; and it keeps no copy of bronze in the warehouse. The plugin remains the fallback "
            "only where the extension cannot read the storage.")
    elif a_beats_plugin:
        slower = [shape for shape in SHAPES if best[shape] <= 1.0]
        words.append(
            "So floe keeps path A: it was faster than the plugin as dbt-duckdb runs it for both shapes. The "
            f"plugin's best configuration was as fast or faster for the {' and '.join(slower)} read, but it "
            "needs a row_filter written into sources.yml, a constant that cannot follow an incremental model's "
            "newest batch, so it is not a setting floe could ship.")
    else:
        slower = [shape for shape in SHAPES if ratio[shape] <= 1.0]
        words.append(
            f"Path A was NOT faster than the plugin for the {' and '.join(slower)} read in this run, so these "
            "figures do not confirm floe's current choice (path A); rerun on a quieter machine and look at the "
            "phases before deciding.")
    if not all_equal:
        words.append("WARNING: the paths returned different results (MISMATCH above); the timings compare "
                     "different work until that is explained.")
    return " ".join(words)


def report(info: dict[str, Any], args: argparse.Namespace) -> None:
    samples = info["samples"]
    print("## Reading Iceberg bronze from dbt on DuckDB: iceberg extension vs dbt-duckdb's iceberg plugin\n")
    print(f"{machine_line()} · pyiceberg {_version('pyiceberg')} · pyarrow {_version('pyarrow')}\n")
    print(f"Table `{TABLE}`: {args.batches} appends of {args.rows:,} orders = {info['rows']:,} rows in "
          f"{info['data_files']} data files, {info['bytes'] / 2**20:.1f} MiB of Parquet (built in "
          f"{info['build_s']:.0f} s). Each sample is a fresh process; *read* = source resolution to fetched "
          f"result (A: the query; B: load_table + scan to Arrow + materialize + query). Interleaved, "
          f"median of {args.repeat} (min in brackets).\n")
    medians: dict[tuple[str, str], float] = {}
    rows_out = []
    all_equal = True
    for shape in SHAPES:
        results = {path: {json.dumps(s["result"]) for s in samples[path, shape]} for path in PATHS}
        distinct = set().union(*results.values())
        equal = len(distinct) == 1
        all_equal &= equal
        for path in PATHS:
            medians[path, shape] = statistics.median(read_time(s) for s in samples[path, shape])
        check = "✓ equal" if equal else "MISMATCH: " + " / ".join(
            f"{PATHS[p].split(' ·')[0]}={sorted(r)}" for p, r in results.items())
        rows_out.append([
            shape, *(med_min([read_time(s) for s in samples[path, shape]]) for path in PATHS),
            f"{medians['B', shape] / medians['A', shape]:.2f}x",
            f"{medians['Bbest', shape] / medians['A', shape]:.2f}x",
            summarize(samples["A", shape][0], shape), check,
        ])
    print(table(["query", *(f"{PATHS[p]} read" for p in PATHS), "B / A", "B best / A", "rows", "results"], rows_out))

    print("\nWhere the time goes, median per phase (fresh process each). First-query costs, once per dbt "
          "process: *imports*; *connect* (the warehouse file); *setup* (A: `LOAD iceberg`, which autoloading "
          "does on the first `iceberg_scan`; B: the plugin's `load_catalog`); *first_load* (B: the process's "
          "first `load_table`, mostly lazy imports). Then the read phases, and *process*: the whole child "
          "process, interpreter start-up included.\n")
    phase_rows = []
    first: dict[str, float] = {}
    for path in PATHS:
        first[path] = statistics.median(first_cost(s) for shape in SHAPES for s in samples[path, shape])
        for shape in SHAPES:
            group = samples[path, shape]
            arrow = group[0]["arrow_rows"]
            phase_rows.append([
                PATHS[path], shape,
                *(seconds(statistics.median(s["phases"].get(p, 0.0) for s in group)) if p in group[0]["phases"]
                  else "-" for p in PHASES),
                seconds(statistics.median(s["process"] for s in group)),
                f"{info['files_read'][path, shape]} of {info['data_files']}",
                f"{arrow:,}" if arrow is not None else "-",
            ])
    print(table(["path", "query", *PHASES, "process", "data files read", "rows into Arrow"], phase_rows))
    print(f"\nPath A also needs floe's view refresh before each build (open the catalog, load the table's "
          f"metadata location, LOAD the extension, CREATE OR REPLACE VIEW), in the floe process: median "
          f"{med_min(info['refresh'])} per table.\n")
    print("### Conclusion\n")
    print(conclusion(info, medians, first, all_equal))


def _version(package: str) -> str:
    from importlib.metadata import version

    return version(package)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=100, help="appends (batches) in the table [100]")
    parser.add_argument("--rows", type=int, default=20_000, help="orders per batch [20000]")
    parser.add_argument("--repeat", type=int, default=5, help="timed rounds [5]")
    parser.add_argument("--no-lock", action="store_true",
                        help="do not wait for another benchmark holding benchmarks/.work/.lock (the figures then "
                             "share the CPU with it)")
    parser.add_argument("--child", choices=sorted(PATHS), help=argparse.SUPPRESS)
    parser.add_argument("--shape", choices=SHAPES, help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child, args.shape, args.config)
    if args.batches < 2 or args.rows < 1 or args.repeat < 1:
        parser.error("--batches must be >= 2, --rows and --repeat >= 1")
    with nullcontext() if args.no_lock else exclusive():
        info = measure(args.batches, args.rows, args.repeat)
    report(info, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
