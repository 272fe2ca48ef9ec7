"""Loading the Dagster definitions of a 1,000-model project from its compiled manifest.

    .venv/bin/python benchmarks/bench_definitions_load.py [--models 1000] [--repeat 5]

Whole processes, interleaved:

* ``import dagster``: the floor of any Dagster code location;
* ``import dagster, dagster_dbt``: the floor any code location using dagster-dbt pays (floe's
  does not import dagster-dbt until a dbt step runs);
* floe: ``python -c "from floe.orchestration.definitions import defs"`` with
  FLOE_ARTIFACTS_PATH set (the code location module of ``dagster dev`` and of k8s);
* plain dagster-dbt: ``@dbt_assets(manifest=...)`` + ``Definitions(...)`` (see
  _dagster_dbt_baseline.py);
* both again with the repository resolved (``Definitions.validate_loadable``), which is what
  a code server does before it can answer (floe also has its jobs and schedule to resolve).

Then one in-process breakdown of floe's load, step by step.

Goal (from the issue): floe's definitions load <= 1.5 s for 1,000 models, whole process.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

from _project import ensure_project
from _timing import (
    BENCH_DIR,
    PYTHON,
    Command,
    exclusive,
    machine_line,
    note,
    seconds,
    table,
    time_interleaved,
    verdict,
)

GOAL_S = 1.5
FLOE = "floe: import defs"
FLOE_RESOLVED = "floe: import defs + resolve"
BASELINE = "dagster-dbt: @dbt_assets + Definitions"
BASELINE_RESOLVED = "dagster-dbt: ... + resolve"
FLOOR = "import dagster"
DBT_FLOOR = "import dagster, dagster_dbt"

BREAKDOWN = r"""
import json, os, time
t = [time.perf_counter()]
marks = []
def mark(name):
    t.append(time.perf_counter()); marks.append((name, t[-1] - t[-2]))
import dagster; mark("import dagster")
from floe.orchestration.paths import open_compiled_project; mark("import floe.orchestration.paths")
from floe.orchestration.builder import build_code_location; mark("import floe.orchestration.builder")
compiled = open_compiled_project(); mark("open_compiled_project (artifacts.json)")
json.loads(compiled.manifest_path.read_text()); mark("json.loads(manifest) (for scale only)")
location = build_code_location(compiled); mark("build_code_location (dbt specs, jobs, Definitions)")
location.defs.get_repository_def(); mark("get_repository_def")
dagster.Definitions.validate_loadable(location.defs); mark("validate_loadable (jobs resolved: imports dbt)")
print(json.dumps(marks))
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1000, help="project size [1000]")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs of each command [5]")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first [1]")
    args = parser.parse_args(argv)

    project = ensure_project(args.models)
    env = project.env(FLOE_ARTIFACTS_PATH=str(project.artifacts_path))
    baseline = [PYTHON, str(BENCH_DIR / "_dagster_dbt_baseline.py"), "load", str(project.dagster_dbt_manifest),
                str(project.dbt_dir), str(project.profiles_dir)]
    resolve = "from dagster import Definitions; Definitions.validate_loadable(defs)"
    commands = [
        Command(FLOOR, [PYTHON, "-c", "import dagster"], env=env),
        Command(DBT_FLOOR, [PYTHON, "-c", "import dagster, dagster_dbt"], env=env),
        Command(FLOE, [PYTHON, "-c", "from floe.orchestration.definitions import defs"], env=env),
        Command(BASELINE, baseline, env=env),
        Command(FLOE_RESOLVED, [PYTHON, "-c", f"from floe.orchestration.definitions import defs; {resolve}"],
                env=env),
        Command(BASELINE_RESOLVED, [*baseline, "--resolve"], env=env),
    ]
    stats = time_interleaved(commands, repeat=args.repeat, warmup=args.warmup)

    note("in-process breakdown")
    completed = subprocess.run([PYTHON, "-c", BREAKDOWN], env=env, capture_output=True, text=True, check=False)
    marks = json.loads(completed.stdout.strip().splitlines()[-1]) if completed.returncode == 0 else []

    counts = project.node_counts()
    print(f"## Definitions load, {args.models} models\n\n{machine_line()}\n")
    print(f"{counts.get('model', 0)} models, {counts.get('seed', 0)} seeds, {counts.get('test', 0)} tests; "
          f"manifest {project.floe_manifest.stat().st_size / 1e6:.1f} MB. Whole process, median of "
          f"{args.repeat} (min), interleaved.\n")
    floor = stats[FLOOR].median
    rows = []
    for command in commands:
        s = stats[command.label]
        partner = {FLOE: BASELINE, FLOE_RESOLVED: BASELINE_RESOLVED}.get(command.label)
        ratio = f"{s.median / stats[partner].median:.2f}x" if partner else "-"
        goal = f"{verdict(s.median, GOAL_S)} (<= {GOAL_S} s)" if command.label == FLOE else "-"
        rows.append([command.label, seconds(s.median), seconds(s.minimum), seconds(s.cpu_median),
                     seconds(s.median - floor) if command.label != FLOOR else "-", ratio, goal])
    print(table(["command", "median", "min", "cpu", "above import dagster", "floe / dagster-dbt", "goal"], rows))
    if marks:
        print("\nfloe's load in one process, step by step (one run):\n")
        print(table(["step", "time"], [[name, seconds(value)] for name, value in marks]))
    else:
        print(f"\n(breakdown failed: {completed.stderr.strip().splitlines()[-1:]})")
    print(f"\n(finished {machine_line()})")
    return 0


if __name__ == "__main__":
    with exclusive():
        sys.exit(main())
