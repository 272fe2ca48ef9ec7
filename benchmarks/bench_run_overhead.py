"""``floe run`` against plain ``dbt build`` and plain dagster-dbt, on generated projects.

    .venv/bin/python benchmarks/bench_run_overhead.py [--sizes 20,200,1000] [--repeat 3]

For each size, the same compiled project is built three ways, interleaved, each a whole
process: ``dbt build`` (the floor), ``floe run`` and a plain dagster-dbt ``materialize``
(see _dagster_dbt_baseline.py). Every run starts from an empty warehouse: DuckDB's file
grows over rebuilds and dbt's time with it (``--keep-warehouse`` rebuilds instead), and
every floe run starts with the newest three runs of its Dagster history (floe's SQLite
history grows by every run; the dagster-dbt baseline keeps none).
Overhead = median(floe run) - median(dbt build); the fixed and per-model overheads come
from a least-squares line over the sizes.

Goal (from the issue): fixed overhead <= 1.5 s, per-model overhead <= 3 ms at 1,000 models.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path

from _project import BenchProject, dbt_args, ensure_project
from _timing import (
    BENCH_DIR,
    PYTHON,
    WORK,
    Command,
    Stats,
    exclusive,
    linear_fit,
    machine_line,
    note,
    seconds,
    table,
    time_interleaved,
    tool,
    verdict,
)

GOAL_FIXED_S = 1.5
GOAL_PER_MODEL_S = 0.003
DBT, FLOE, DAGSTER_DBT = "dbt build", "floe run", "dagster-dbt materialize"


def _newest_run_results(folder: Path) -> Path | None:
    found = [p for p in folder.glob("*/run_results.json")] + [p for p in folder.glob("run_results.json")]
    return max(found, key=lambda p: p.stat().st_mtime) if found else None


def _dbt_elapsed(folder: Path):
    """Probe: dbt's own elapsed time (run_results.json) of the newest invocation under ``folder``."""

    def probe(_log: Path | None) -> float | None:
        path = _newest_run_results(folder)
        return float(json.loads(path.read_text())["elapsed_time"]) if path else None

    return probe


def _floe_in_process(log: Path | None) -> float | None:
    """Probe: the duration floe's own summary reports (definitions + Dagster run)."""
    match = re.search(r"succeeded in ([\d.]+)s", log.read_text(errors="replace")) if log else None
    return float(match.group(1)) if match else None


def _prune_dagster_dbt_targets(project: BenchProject) -> None:
    """dagster-dbt makes one target folder per run; keep only the parse output."""
    for child in project.dagster_dbt_target.iterdir():
        if child.is_dir():
            shutil.rmtree(child, ignore_errors=True)


def commands(project: BenchProject, *, dagster_dbt: bool, fresh: bool) -> list[Command]:
    before = project.fresh_warehouse if fresh else None
    dbt_target = str(project.dbt_target)
    found = [
        Command(DBT, [tool("dbt"), "build", *dbt_args(project)], cwd=project.dbt_dir,
                env=project.env(DBT_TARGET_PATH=dbt_target, DBT_LOG_PATH=dbt_target),
                probes={"dbt_elapsed": _dbt_elapsed(project.dbt_target)}, before=before),
        Command(FLOE, [tool("floe"), "run"], cwd=project.root, env=project.env(),
                forbidden_output="compiled (",
                probes={"dbt_elapsed": _dbt_elapsed(project.root / ".floe" / "dbt" / "target"),
                        "in_process": _floe_in_process},
                before=project.fresh_warehouse_and_bounded_history if fresh else project.bounded_history),
    ]
    if dagster_dbt:
        target = str(project.dagster_dbt_target)
        found.append(Command(
            DAGSTER_DBT,
            [PYTHON, str(BENCH_DIR / "_dagster_dbt_baseline.py"), "run", str(project.dagster_dbt_manifest),
             str(project.dbt_dir), str(project.profiles_dir)],
            cwd=project.root, env=project.env(DBT_TARGET_PATH=target),
            probes={"dbt_elapsed": _dbt_elapsed(project.dagster_dbt_target)}, before=before,
        ))
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20,200,1000", help="model counts, comma-separated [20,200,1000]")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each command per size [3]")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first [1]")
    parser.add_argument("--no-dagster-dbt", action="store_true", help="skip the plain dagster-dbt baseline")
    parser.add_argument("--keep-warehouse", action="store_true",
                        help="rebuild over the previous run's tables instead of an empty warehouse each run")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]

    results: dict[int, dict[str, Stats]] = {}
    counts: dict[int, dict[str, int]] = {}
    for n in sizes:
        project = ensure_project(n)
        counts[n] = project.node_counts()
        _prune_dagster_dbt_targets(project)
        note(f"{n} models: {counts[n]}")
        results[n] = time_interleaved(commands(project, dagster_dbt=not args.no_dagster_dbt,
                                               fresh=not args.keep_warehouse),
                                      repeat=args.repeat, warmup=args.warmup, log_dir=WORK / "logs" / f"run_{n}")
    report(sizes, results, counts, args.repeat)
    return 0


def report(sizes: list[int], results: dict[int, dict[str, Stats]], counts: dict[int, dict[str, int]],
           repeat: int) -> None:
    with_dd = DAGSTER_DBT in results[sizes[0]]
    print(f"## floe run overhead over dbt build\n\n{machine_line()}\n")
    print(f"Wall time, median of {repeat} (min in brackets), whole process; overhead = median - dbt build median.\n")
    headers = ["models", "seeds/tests", DBT, FLOE, "floe overhead", "floe / dbt"]
    if with_dd:
        headers += [DAGSTER_DBT, "dagster-dbt overhead", "floe - dagster-dbt"]
    rows = []
    for n in sizes:
        r, c = results[n], counts[n]
        dbt, floe = r[DBT], r[FLOE]
        row = [n, f"{c.get('seed', 0)}/{c.get('test', 0)}", f"{seconds(dbt.median)} ({seconds(dbt.minimum)})",
               f"{seconds(floe.median)} ({seconds(floe.minimum)})", seconds(floe.median - dbt.median),
               f"{floe.median / dbt.median:.2f}x"]
        if with_dd:
            dd = r[DAGSTER_DBT]
            row += [f"{seconds(dd.median)} ({seconds(dd.minimum)})", seconds(dd.median - dbt.median),
                    seconds(floe.median - dd.median)]
        rows.append(row)
    print(table(headers, rows))

    print("\nCPU time (user+system of the process and its children, median) and dbt's own elapsed time "
          "(run_results.json) inside each; floe in-process = the duration floe's summary prints.\n")
    headers = ["models", "dbt build cpu", "floe run cpu", "floe cpu overhead"]
    if with_dd:
        headers += ["dagster-dbt cpu"]
    headers += ["dbt elapsed: alone", "in floe"]
    if with_dd:
        headers += ["in dagster-dbt"]
    headers += ["floe in-process"]
    rows = []
    for n in sizes:
        r = results[n]
        row = [n, seconds(r[DBT].cpu_median), seconds(r[FLOE].cpu_median),
               seconds(r[FLOE].cpu_median - r[DBT].cpu_median)]
        if with_dd:
            row.append(seconds(r[DAGSTER_DBT].cpu_median))
        labels = [DBT, FLOE] + ([DAGSTER_DBT] if with_dd else [])
        for label in labels:
            value = r[label].extra_median("dbt_elapsed")
            row.append(seconds(value) if value is not None else "-")
        in_process = r[FLOE].extra_median("in_process")
        row.append(seconds(in_process) if in_process is not None else "-")
        rows.append(row)
    print(table(headers, rows))

    print("\nFixed and per-model overhead (least-squares line of overhead against model count"
          + (f"; two-point = (overhead@{sizes[-1]} - overhead@{sizes[0]}) / {sizes[-1] - sizes[0]}" if len(sizes) > 1
             else "") + ").\n")
    rows = []
    labels = [FLOE] + ([DAGSTER_DBT] if with_dd else [])
    for label in labels:
        overheads = [results[n][label].median - results[n][DBT].median for n in sizes]
        fixed, slope = linear_fit([float(n) for n in sizes], overheads)
        two_point = (overheads[-1] - overheads[0]) / (sizes[-1] - sizes[0]) if len(sizes) > 1 else float("nan")
        goal = label == FLOE
        rows.append([label, seconds(fixed), f"{slope * 1000:.2f} ms", f"{two_point * 1000:.2f} ms",
                     (f"{verdict(fixed, GOAL_FIXED_S)} (<= {GOAL_FIXED_S} s)" if goal else "baseline"),
                     (f"{verdict(slope, GOAL_PER_MODEL_S)} (<= {GOAL_PER_MODEL_S * 1000:.0f} ms)"
                      if goal and len(sizes) > 1 else ("baseline" if not goal else "needs 2+ sizes"))])
    print(table(["", "fixed overhead", "per model (fit)", "per model (two-point)", "goal: fixed", "goal: per model"],
                rows))
    print(f"\n(finished {machine_line()})")


if __name__ == "__main__":
    with exclusive():
        sys.exit(main())
