"""Start-up: ``floe --help`` and ``floe validate``, beside ``dagster --help`` and ``dbt --help``.

    .venv/bin/python benchmarks/bench_startup.py [--repeat 10]

Each command is a whole process, timed interleaved with the others. ``floe validate`` runs
in the generated 20-model project. Two settings for floe:

* with bytecode (every command): Python's bytecode cache is on (in benchmarks/.work/pycache),
  as it is for an installed package;
* "as set up here": the environment as it is. This machine sets PYTHONDONTWRITEBYTECODE=1
  and floe is an editable install whose sources have no __pycache__, so each floe process
  compiles floe's modules from source.

Then ``python -X importtime`` shows which imports the start-up time goes to.

Goals (from the issue): ``floe --help`` <= 0.2 s, ``floe validate`` <= 0.5 s.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from collections import defaultdict

from _project import ensure_project
from _timing import (
    PYTHON,
    Command,
    bench_env,
    exclusive,
    machine_line,
    note,
    seconds,
    table,
    time_interleaved,
    tool,
    verdict,
)

GOALS = {"floe --help": 0.2, "floe validate": 0.5}


def import_profile(argv: list[str], cwd, env) -> tuple[float, list[tuple[str, float]], list[tuple[str, float]]]:
    """Total import time, the slowest top-level packages (self time summed) and modules (cumulative)."""
    completed = subprocess.run([PYTHON, "-X", "importtime", *argv], cwd=cwd, env=env, capture_output=True, text=True,
                               check=False)
    by_package: dict[str, float] = defaultdict(float)
    cumulative: list[tuple[str, float]] = []
    total = 0.0
    for line in completed.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \| (\s*)(\S+)", line)
        if not match:
            continue
        self_us, cum_us, indent, module = int(match.group(1)), int(match.group(2)), match.group(3), match.group(4)
        top = module.split(".")[0]
        if top == "floe":
            top = ".".join(module.split(".")[:3])
        by_package[top] += self_us / 1e6
        total += self_us / 1e6
        if len(indent) <= 2 or module.startswith("floe"):
            cumulative.append((module, cum_us / 1e6))
    packages = sorted(by_package.items(), key=lambda kv: -kv[1])
    cumulative.sort(key=lambda kv: -kv[1])
    return total, packages, cumulative


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=10, help="timed runs of each command [10]")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first [1]")
    args = parser.parse_args(argv)

    project = ensure_project(20, compiled=False)
    cached, as_is = project.env(), dict(bench_env(bytecode_cache=False), FLOE_PROJECT_DIR=str(project.root))
    commands = [
        Command("python -c pass", [PYTHON, "-c", "pass"], env=cached),
        Command("floe --help", [tool("floe"), "--help"], cwd=project.root, env=cached),
        Command("floe validate", [tool("floe"), "validate"], cwd=project.root, env=cached),
        Command("floe --help (as set up here)", [tool("floe"), "--help"], cwd=project.root, env=as_is),
        Command("floe validate (as set up here)", [tool("floe"), "validate"], cwd=project.root, env=as_is),
        Command("dagster --help", [tool("dagster"), "--help"], env=cached),
        Command("dbt --help", [tool("dbt"), "--help"], env=cached),
    ]
    stats = time_interleaved(commands, repeat=args.repeat, warmup=args.warmup)

    print(f"## Start-up\n\n{machine_line()}\n")
    print(f"Wall time of the whole process, median of {args.repeat} (min), interleaved.\n")
    dagster_help, dbt_help = stats["dagster --help"].median, stats["dbt --help"].median
    rows = []
    for command in commands:
        s = stats[command.label]
        goal = GOALS.get(command.label.replace(" (as set up here)", ""))
        rows.append([command.label, seconds(s.median), seconds(s.minimum), seconds(s.cpu_median),
                     f"{s.median / dagster_help:.2f}", f"{s.median / dbt_help:.2f}",
                     f"{verdict(s.median, goal)} (<= {seconds(goal)})" if goal else "-"])
    print(table(["command", "median", "min", "cpu", "/ dagster --help", "/ dbt --help", "goal"], rows))

    for label in ("floe --help", "floe validate"):
        total, packages, cumulative = import_profile([tool("floe"), label.split()[1]], project.root, cached)
        floe_modules = [(m, t) for m, t in cumulative if m.startswith("floe")][:6]
        print(f"\n### Imports of `{label}` (python -X importtime, bytecode cached): {seconds(total)} in all\n")
        print("Self time summed by top-level package (floe by sub-package):\n")
        print(table(["package", "self time"], [[p, seconds(t)] for p, t in packages[:10]]))
        print("\nCumulative time of top-level imports and of floe's modules:\n")
        print(table(["module", "cumulative"], [[m, seconds(t)] for m, t in cumulative[:8]]
                    + [[m, seconds(t)] for m, t in floe_modules if m not in dict(cumulative[:8])]))
    print(f"\n(finished {machine_line()})")
    note("done")
    return 0


if __name__ == "__main__":
    with exclusive():
        sys.exit(main())
