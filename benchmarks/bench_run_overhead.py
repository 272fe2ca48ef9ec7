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

With ``--stock``, "floe run, FLOE_FAST_PATH=0" runs the same floe on stock Dagster and
dagster-dbt with plain dbt (floe.orchestration.fastpath), on the same project: what the fast
path as a whole earns.

Goal (from the issue): fixed overhead <= 1.5 s, per-model overhead <= 3 ms at 1,000 models.

With ``--before VENV`` (a virtualenv with another floe installed, e.g. the commit before a
change), "floe run (before)" runs that floe, interleaved with the others, on its own copy of
the project (compiled by its own ``floe compile``; own warehouse, own bounded history, see
_project.ensure_before_copy). Its fixed and per-model overhead are fitted the same way, and
now is compared with before by the rule in _before.py: median wall time at each size
now / before <= 1.10; fixed overhead now - before <= 10 % of max(before's fixed overhead,
dbt build's median at the smallest size); per-model overhead now - before <= 10 % of
max(before's per-model overhead, 0.5 ms). Overheads can be near zero or negative, so their
ratio is shown only where before's figure is the reference.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import sys
from pathlib import Path

from _before import (
    HEADERS,
    Check,
    before_label,
    fixed_overhead_check,
    per_model_overhead_check,
    summary,
    time_check,
)
from _project import BenchProject, dbt_args, ensure_before_copy, ensure_project
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
    venv_bin_of,
    verdict,
)

GOAL_FIXED_S = 1.5
GOAL_PER_MODEL_S = 0.003
DBT, FLOE, DAGSTER_DBT = "dbt build", "floe run", "dagster-dbt materialize"
FLOE_BEFORE = before_label(FLOE)
FLOE_STOCK = "floe run, FLOE_FAST_PATH=0"


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


def _floe_run(label: str, project: BenchProject, *, fresh: bool, **env: str) -> Command:
    """``floe run`` of the project's own floe install, from an empty warehouse and a short history."""
    return Command(label, [project.tool("floe"), "run"], cwd=project.root, env=project.env(**env),
                   forbidden_output="compiled (",
                   probes={"dbt_elapsed": _dbt_elapsed(project.root / ".floe" / "dbt" / "target"),
                           "in_process": _floe_in_process},
                   before=project.fresh_warehouse_and_bounded_history if fresh else project.bounded_history)


def commands(project: BenchProject, *, dagster_dbt: bool, fresh: bool,
             before_copy: BenchProject | None = None, stock: bool = False) -> list[Command]:
    before = project.fresh_warehouse if fresh else None
    dbt_target = str(project.dbt_target)
    found = [
        Command(DBT, [tool("dbt"), "build", *dbt_args(project)], cwd=project.dbt_dir,
                env=project.env(DBT_TARGET_PATH=dbt_target, DBT_LOG_PATH=dbt_target),
                probes={"dbt_elapsed": _dbt_elapsed(project.dbt_target)}, before=before),
        _floe_run(FLOE, project, fresh=fresh),
    ]
    if before_copy is not None:
        found.append(_floe_run(FLOE_BEFORE, before_copy, fresh=fresh))
    if stock:
        # The same floe on stock Dagster and dagster-dbt, plain dbt: what the fast path saves.
        found.append(_floe_run(FLOE_STOCK, project, fresh=fresh, FLOE_FAST_PATH="0"))
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
    parser.add_argument("--stock", action="store_true",
                        help="also time 'floe run' with its fast path off (FLOE_FAST_PATH=0): what the fast path earns")
    parser.add_argument("--before", metavar="VENV",
                        help="also time 'floe run' of the floe installed in this virtualenv, and compare")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    before_bin = venv_bin_of(args.before) if args.before else None

    results: dict[int, dict[str, Stats]] = {}
    counts: dict[int, dict[str, int]] = {}
    for n in sizes:
        project = ensure_project(n)
        counts[n] = project.node_counts()
        _prune_dagster_dbt_targets(project)
        note(f"{n} models: {counts[n]}")
        before_copy = ensure_before_copy(project, before_bin) if before_bin else None
        results[n] = time_interleaved(commands(project, dagster_dbt=not args.no_dagster_dbt,
                                               fresh=not args.keep_warehouse, before_copy=before_copy,
                                               stock=args.stock),
                                      repeat=args.repeat, warmup=args.warmup, log_dir=WORK / "logs" / f"run_{n}")
    report(sizes, results, counts, args.repeat)
    if before_bin:
        report_before(sizes, results, before_bin.parent)
    print(f"\n(finished {machine_line()})")
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
    labels = [FLOE] + [label for label in (FLOE_BEFORE, FLOE_STOCK) if label in results[sizes[0]]]
    labels += [DAGSTER_DBT] if with_dd else []
    for label in labels:
        overheads = [results[n][label].median - results[n][DBT].median for n in sizes]
        fixed, slope = fit_overhead(sizes, results, label)
        two_point = (overheads[-1] - overheads[0]) / (sizes[-1] - sizes[0]) if len(sizes) > 1 else float("nan")
        goal = label in (FLOE, FLOE_BEFORE, FLOE_STOCK)
        rows.append([label, seconds(fixed), f"{slope * 1000:.2f} ms", f"{two_point * 1000:.2f} ms",
                     (f"{verdict(fixed, GOAL_FIXED_S)} (<= {GOAL_FIXED_S} s)" if goal else "baseline"),
                     (f"{verdict(slope, GOAL_PER_MODEL_S)} (<= {GOAL_PER_MODEL_S * 1000:.0f} ms)"
                      if goal and len(sizes) > 1 else ("baseline" if not goal else "needs 2+ sizes"))])
    print(table(["", "fixed overhead", "per model (fit)", "per model (two-point)", "goal: fixed", "goal: per model"],
                rows))


def fit_overhead(sizes: list[int], results: dict[int, dict[str, Stats]], label: str) -> tuple[float, float]:
    """Fixed and per-model overhead of ``label`` over dbt build: least-squares intercept and slope."""
    overheads = [results[n][label].median - results[n][DBT].median for n in sizes]
    return linear_fit([float(n) for n in sizes], overheads)


def _own_time(stats: Stats) -> float | None:
    """Median over runs of (floe's reported duration - dbt's elapsed time), where both were probed."""
    pairs = [(sample.extras.get("in_process"), sample.extras.get("dbt_elapsed")) for sample in stats.samples]
    own = [a - b for a, b in pairs if a is not None and b is not None]
    return statistics.median(own) if own else None


def report_before(sizes: list[int], results: dict[int, dict[str, Stats]], before_venv: Path) -> None:
    """floe now against the floe in ``before_venv``, by the rule in _before.py."""
    print(f"\n## floe run now vs before ({before_venv})\n")
    print("Same interleaved rounds; each floe on its own copy of the project (own compile, warehouse, history).\n")
    rows = []
    for n in sizes:
        r = results[n]
        now, before, dbt = r[FLOE], r[FLOE_BEFORE], r[DBT]
        rows.append([n, f"{seconds(before.median)} ({seconds(before.minimum)})",
                     f"{seconds(now.median)} ({seconds(now.minimum)})", f"{now.median / before.median:.3f}",
                     seconds(before.median - dbt.median), seconds(now.median - dbt.median),
                     seconds(before.cpu_median), seconds(now.cpu_median)])
    print(table(["models", FLOE_BEFORE, FLOE, "now / before", "overhead before", "overhead now", "cpu before",
                 "cpu now"], rows))
    print("\nfloe's own time around dbt (its summary's duration minus dbt's elapsed time in the same run,"
          " median of the per-run differences): less exposed to how fast dbt happened to run.\n")
    rows = []
    for n in sizes:
        own = [_own_time(results[n][label]) for label in (FLOE_BEFORE, FLOE)]
        rows.append([n, *(seconds(v) if v is not None else "-" for v in own),
                     seconds(own[1] - own[0]) if own[0] is not None and own[1] is not None else "-"])
    print(table(["models", "before", "now", "now - before"], rows))

    fixed_now, slope_now = fit_overhead(sizes, results, FLOE)
    fixed_before, slope_before = fit_overhead(sizes, results, FLOE_BEFORE)
    checks: list[Check] = [fixed_overhead_check(fixed_now, fixed_before, results[sizes[0]][DBT].median, sizes[0])]
    if len(sizes) > 1:
        checks.append(per_model_overhead_check(slope_now, slope_before))
    checks += [time_check(f"median wall, {n} models", results[n][FLOE].median, results[n][FLOE_BEFORE].median)
               for n in sizes]
    print("\nRule (see _before.py): times now / before <= 1.10; fixed overhead now - before <= 10 % of "
          "max(before's, dbt build median at the smallest size); per-model overhead now - before <= 10 % of "
          "max(before's, 0.5 ms)" + ("" if len(sizes) > 1 else "; per-model needs 2+ sizes") + ".\n")
    print(table(HEADERS, [c.row() for c in checks]))
    print(f"\n{summary(checks)}")
    report_own_time_fit(sizes, results)


def report_own_time_fit(sizes: list[int], results: dict[int, dict[str, Stats]]) -> None:
    """The same rule on floe's own time around dbt, fitted against the model count.

    The wall-time fit takes dbt's own speed in with floe's: at 1,000 models dbt's elapsed time
    moves by 10-20 s between rounds, which moves the fitted intercept and slope by more than
    the 10 % being checked (on the same code, one run said "over" on the per-model figure and
    the next on the fixed one). floe's own time subtracts dbt's elapsed time of the same run,
    so what is left is what floe adds: its fit estimates the same two overheads with dbt's
    variance taken out.
    """
    own = {label: [_own_time(results[n][label]) for n in sizes] for label in (FLOE_BEFORE, FLOE)}
    if len(sizes) < 2 or any(v is None for values in own.values() for v in values):
        return
    xs = [float(n) for n in sizes]
    fixed_before, slope_before = linear_fit(xs, [v for v in own[FLOE_BEFORE] if v is not None])
    fixed_now, slope_now = linear_fit(xs, [v for v in own[FLOE] if v is not None])
    checks = [fixed_overhead_check(fixed_now, fixed_before, results[sizes[0]][DBT].median, sizes[0]),
              per_model_overhead_check(slope_now, slope_before)]
    print("\nThe same rule on floe's own time around dbt (least-squares line of own time against model count;"
          " dbt's speed taken out).\n")
    print(table(HEADERS, [c.row() for c in checks]))
    print(f"\nBy own time: {summary(checks).removeprefix('Now vs before: ')}")


if __name__ == "__main__":
    with exclusive():
        sys.exit(main())
