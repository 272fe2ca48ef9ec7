"""``floe run`` against plain ``dbt build`` on a dbt project as a data team has it (issue 18).

    .venv/bin/python benchmarks/bench_dbt_project.py [--models 1000] [--repeat 3]

The project (``_user_project``) has about 1,000 models, a local package, snapshots and
incremental models, and its own profiles.yml; floe wraps it in place (``floe init
--from-dbt``). Two scenarios, each interleaved (dbt build, floe run, dbt build, ...):

* **first build**: every run starts from an empty warehouse (tables, incremental models and
  snapshots are created);
* **rebuild**: every run starts from the previous run's warehouse (incremental models merge,
  snapshots compare, tables are replaced): the run a schedule makes every day.

dbt builds into the project's own ``plain.duckdb``, floe into ``.floe/warehouse.duckdb``; each
timed floe run starts with the newest three runs of its Dagster history (as in
bench_run_overhead). Printed: medians and floe / dbt build.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

from _project import _PRUNE, KEEP_HISTORY_RUNS
from _timing import (
    WORK,
    Command,
    Stats,
    bench_env,
    exclusive,
    machine_line,
    note,
    run_once,
    seconds,
    table,
    time_interleaved,
    tool,
)
from _user_project import ensure_user_project

DBT, FLOE = "dbt build", "floe run"


def commands(root: Path, *, fresh: bool) -> list[Command]:
    dbt_dir, floe_dir = root / "shop_dbt", root / "floe"
    env = bench_env()

    def dbt_before() -> None:
        if fresh:
            (dbt_dir / "plain.duckdb").unlink(missing_ok=True)

    def floe_before() -> None:
        if fresh:
            (floe_dir / ".floe" / "warehouse.duckdb").unlink(missing_ok=True)
        subprocess.run([tool("python"), "-c", _PRUNE, str(floe_dir / ".floe" / "artifacts.json"),
                        str(KEEP_HISTORY_RUNS)], cwd=floe_dir, env=env, check=True, stdout=subprocess.DEVNULL)

    return [
        Command(DBT, [tool("dbt"), "build", "--profiles-dir", "profiles"], cwd=dbt_dir, env=env, before=dbt_before),
        Command(FLOE, [tool("floe"), "run"], cwd=floe_dir, env=env, before=floe_before,
                forbidden_output="compiled ("),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1000, help="models in the project [1000]")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs of each command per scenario [3]")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first [1]")
    args = parser.parse_args(argv)
    root = ensure_user_project(args.models)
    note("floe compile (untimed; runs dbt deps when the package is missing)")
    run_once(Command("floe compile", [tool("floe"), "compile"], cwd=root / "floe", env=bench_env()),
             root / "compile.log")
    results: dict[str, dict[str, Stats]] = {}
    with exclusive():
        for scenario, fresh in (("first build", True), ("rebuild", False)):
            note(f"{scenario}:")
            results[scenario] = time_interleaved(commands(root, fresh=fresh), repeat=args.repeat,
                                                 warmup=args.warmup, log_dir=WORK / "logs" / f"user_{scenario[0]}")
    print(f"## floe run against dbt build, a {args.models}-model dbt project with a package, snapshots and "
          f"incremental models\n\n{machine_line()}\n")
    print(f"Wall time, median of {args.repeat} (min in brackets), whole process, interleaved.\n")
    rows = []
    for scenario, stats in results.items():
        dbt, floe = stats[DBT], stats[FLOE]
        rows.append([scenario, f"{seconds(dbt.median)} ({seconds(dbt.minimum)})",
                     f"{seconds(floe.median)} ({seconds(floe.minimum)})", seconds(floe.median - dbt.median),
                     f"{floe.median / dbt.median:.2f}"])
    print(table(["scenario", DBT, FLOE, "floe - dbt", "floe / dbt"], rows))
    print(f"\n(finished {machine_line()})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
