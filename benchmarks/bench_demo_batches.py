"""Batch cost of the live demo as history grows, and disk use over a (virtual) day.

    .venv/bin/python benchmarks/bench_demo_batches.py [--batches 20] [--rows 1000]
    .venv/bin/python benchmarks/bench_demo_batches.py --batches 288     # one day at 5 minutes

A fresh project from the ecommerce template lands ``--batches`` batches, one pipeline run
each, in one ``floe demo run`` process (accelerated time: each run covers the next five
virtual minutes, back to back). Every run is timed by floe itself (Dagster set-up, landing
in Iceberg, dbt build of staging, intermediate and marts with their tests). Staging and marts
are incremental, so a batch should cost the same however much history is loaded:

* goal: median cost of batches 16–20 ≤ 1.25 × median of batches 1–5 (printed as the ratio);
* reference, in the same run: a full rebuild of the same models at the end
  (``floe run --full-refresh``, no new batch), which is what a non-incremental project pays
  on every batch;
* disk: the lakehouse (data, manifests, metadata), the DuckDB warehouse and floe's own files
  after every batch, so a long run shows whether anything but the data grows.

Nothing is asserted; the script prints figures.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import time
from pathlib import Path

from _timing import PYTHON, WORK, bench_env, burst_batches, exclusive, machine_line, note, reset_dir, seconds, table


def _size(path: Path) -> int:
    """Bytes under ``path``; files that vanish while it walks (floe prunes old run folders
    while the next run starts) are skipped."""
    total = 0
    for root, _dirs, files in os.walk(path, onerror=lambda _error: None):
        for name in files:
            try:
                total += os.stat(os.path.join(root, name)).st_size
            except FileNotFoundError:
                pass
    if not total and path.is_file():
        return path.stat().st_size
    return total


def _mib(size: int) -> str:
    return f"{size / 2**20:.1f} MiB"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batches", type=int, default=20, help="batches to land [20]; 288 is a day")
    parser.add_argument("--rows", type=int, default=1000, help="orders per batch (burst) [1000]")
    args = parser.parse_args(argv)
    if args.batches < 20:
        parser.error("--batches must be at least 20 (the goal compares batches 16-20 with 1-5)")

    with exclusive():
        work = reset_dir(WORK / "demo_batches")
        env = bench_env()
        floe = [PYTHON, "-m", "floe"]
        subprocess.run([*floe, "init", "shop", "--template", "ecommerce"], cwd=work, env=env, check=True,
                       capture_output=True)
        root = work / "shop"
        spec = root / "floe.yaml"
        burst_batches(spec, args.rows, "bench_demo_batches.py")
        note(f"compiling, then landing {args.batches} batches of {args.rows:,} orders")
        subprocess.run([*floe, "compile"], cwd=root, env=env, check=True, capture_output=True)

        durations: list[float] = []
        disk: list[tuple[int, int, int, int, int]] = []
        failures = 0
        started = time.perf_counter()
        with subprocess.Popen([*floe, "demo", "run", "--batches", str(args.batches), "--json"], cwd=root, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
            assert process.stdout is not None
            for line in process.stdout:
                if not line.startswith("{"):
                    continue
                run = json.loads(line)
                durations.append(run["duration_s"])
                failures += 0 if run["success"] else 1
                floe_dir = root / ".floe"
                disk.append((_size(floe_dir / "lakehouse") + _size(floe_dir / "catalog.db"),
                             _size(floe_dir / "warehouse.duckdb"), _size(floe_dir / "dagster"),
                             _size(floe_dir / "dbt") + _size(floe_dir / "logs"), run["orders"]))
                if len(durations) % 10 == 0 or len(durations) <= 5:
                    note(f"  batch {len(durations):>3}: {run['duration_s']:.1f} s, {run['orders']:,} orders in marts")
        total = time.perf_counter() - started
        rebuild_started = time.perf_counter()
        rebuild = subprocess.run([*floe, "run", "--full-refresh", "--select", "fqn:*"], cwd=root, env=env,
                                 capture_output=True, text=True, check=False)
        rebuild_s = time.perf_counter() - rebuild_started

    first, late = statistics.median(durations[0:5]), statistics.median(durations[15:20])
    last = statistics.median(durations[-5:])
    ratio = late / first
    print(f"## Demo batch cost and disk, {args.batches} batches of {args.rows:,} orders\n\n{machine_line()}\n")
    print(table(
        ["figure", "value"],
        [
            ["batches landed / failed", f"{len(durations)} / {failures}"],
            ["median batch, batches 1-5", seconds(first)],
            ["median batch, batches 16-20", seconds(late)],
            ["ratio 16-20 / 1-5 (goal <= 1.25)", f"{ratio:.2f} ({'met' if ratio <= 1.25 else 'not met'})"],
            [f"median batch, last 5 (batches {len(durations) - 4}-{len(durations)})", seconds(last)],
            ["ratio last 5 / 1-5", f"{last / first:.2f}"],
            ["full rebuild at the end (floe run --full-refresh)", seconds(rebuild_s)
             + ("" if rebuild.returncode == 0 else " (failed)")],
            ["wall time of the whole loop", seconds(total)],
            ["orders in the marts at the end", f"{disk[-1][4]:,}"],
        ],
    ))
    marks = sorted({0, 4, 19, len(disk) // 2, len(disk) - 1})
    print("\nDisk after selected batches (lakehouse = Iceberg data, metadata and catalog; Dagster = run history "
          "and storage, pruned to the template's keep_runs; dbt = run folders and logs):\n")
    print(table(["after batch", "lakehouse", "warehouse.duckdb", "Dagster", "dbt + logs", "orders in marts"],
                [[i + 1, *(_mib(size) for size in disk[i][:4]), f"{disk[i][4]:,}"] for i in marks]))
    print(f"\n(finished {machine_line()})")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
