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

With ``--before VENV`` (a virtualenv with another floe installed, e.g. the commit before a
change), both floe commands also run with that venv's python, interleaved, on its own copy
of the project compiled by its own ``floe compile`` (_project.ensure_before_copy), and the
breakdown runs for it too. Verdict per command: median now / before <= 1.10 (_before.py).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections.abc import Mapping

from _before import HEADERS, before_label, summary, time_check
from _project import ensure_before_copy, ensure_project
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
    venv_bin_of,
    verdict,
)

GOAL_S = 1.5
FLOE = "floe: import defs"
FLOE_RESOLVED = "floe: import defs + resolve"
BASELINE = "dagster-dbt: @dbt_assets + Definitions"
BASELINE_RESOLVED = "dagster-dbt: ... + resolve"
FLOOR = "import dagster"
DBT_FLOOR = "import dagster, dagster_dbt"
FLOE_BEFORE = before_label(FLOE)
FLOE_RESOLVED_BEFORE = before_label(FLOE_RESOLVED)

BREAKDOWN = r"""
import json, os, time
t = [time.perf_counter()]
marks = []
def mark(name):
    t.append(time.perf_counter()); marks.append((name, t[-1] - t[-2]))
import dagster; mark("import dagster")
# open_compiled_project moved from floe.orchestration.paths to floe.contract.project: a
# --before comparison runs this under both installs.
try:
    from floe.contract.project import open_compiled_project
except ImportError:
    from floe.orchestration.paths import open_compiled_project
mark("import open_compiled_project")
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
    parser.add_argument("--before", metavar="VENV",
                        help="also time floe's load with the floe installed in this virtualenv, and compare")
    args = parser.parse_args(argv)

    project = ensure_project(args.models)
    before_copy = ensure_before_copy(project, venv_bin_of(args.before)) if args.before else None
    env = project.env(FLOE_ARTIFACTS_PATH=str(project.artifacts_path))
    baseline = [PYTHON, str(BENCH_DIR / "_dagster_dbt_baseline.py"), "load", str(project.dagster_dbt_manifest),
                str(project.dbt_dir), str(project.profiles_dir)]
    resolve = "from dagster import Definitions; Definitions.validate_loadable(defs)"
    load = "from floe.orchestration.definitions import defs"
    before_python, before_env = PYTHON, env
    if before_copy is not None:
        before_python = before_copy.tool("python")
        before_env = before_copy.env(FLOE_ARTIFACTS_PATH=str(before_copy.artifacts_path))
    pairs = [(FLOE, FLOE_BEFORE, load), (FLOE_RESOLVED, FLOE_RESOLVED_BEFORE, f"{load}; {resolve}")]
    floe_commands = {label: [Command(label, [PYTHON, "-c", code], env=env)] for label, _, code in pairs}
    if before_copy is not None:  # each floe command directly followed by its before
        for label, before_label_, code in pairs:
            floe_commands[label].append(Command(before_label_, [before_python, "-c", code], env=before_env))
    commands = [
        Command(FLOOR, [PYTHON, "-c", "import dagster"], env=env),
        Command(DBT_FLOOR, [PYTHON, "-c", "import dagster, dagster_dbt"], env=env),
        *floe_commands[FLOE],
        Command(BASELINE, baseline, env=env),
        *floe_commands[FLOE_RESOLVED],
        Command(BASELINE_RESOLVED, [*baseline, "--resolve"], env=env),
    ]
    stats = time_interleaved(commands, repeat=args.repeat, warmup=args.warmup)

    note("in-process breakdown")
    marks, failure = breakdown(PYTHON, env)
    before_marks, before_failure = breakdown(before_python, before_env) if before_copy else ({}, "")

    counts = project.node_counts()
    print(f"## Definitions load, {args.models} models\n\n{machine_line()}\n")
    print(f"{counts.get('model', 0)} models, {counts.get('seed', 0)} seeds, {counts.get('test', 0)} tests; "
          f"manifest {project.floe_manifest.stat().st_size / 1e6:.1f} MB. Whole process, median of "
          f"{args.repeat} (min), interleaved.\n")
    floor = stats[FLOOR].median
    rows = []
    for command in commands:
        s = stats[command.label]
        partner = {FLOE: BASELINE, FLOE_RESOLVED: BASELINE_RESOLVED, FLOE_BEFORE: BASELINE,
                   FLOE_RESOLVED_BEFORE: BASELINE_RESOLVED}.get(command.label)
        ratio = f"{s.median / stats[partner].median:.2f}x" if partner else "-"
        goal = f"{verdict(s.median, GOAL_S)} (<= {GOAL_S} s)" if command.label == FLOE else "-"
        rows.append([command.label, seconds(s.median), seconds(s.minimum), seconds(s.cpu_median),
                     seconds(s.median - floor) if command.label != FLOOR else "-", ratio, goal])
    print(table(["command", "median", "min", "cpu", "above import dagster", "floe / dagster-dbt", "goal"], rows))
    if marks and before_copy is None:
        print("\nfloe's load in one process, step by step (one run):\n")
        print(table(["step", "time"], [[name, seconds(value)] for name, value in marks.items()]))
    elif marks:
        print("\nfloe's load in one process, step by step (one run each), now and before:\n")
        print(table(["step", "now", "before"], [[name, seconds(value), _maybe(before_marks.get(name))]
                                                for name, value in marks.items()]))
    for label, why in (("", failure), (" (before)", before_failure)):
        if why:
            print(f"\n(breakdown{label} failed: {why})")
    if before_copy is not None:
        checks = [time_check(f"median {now}", stats[now].median, stats[before].median)
                  for now, before in ((FLOE, FLOE_BEFORE), (FLOE_RESOLVED, FLOE_RESOLVED_BEFORE))]
        print(f"\n## floe definitions load now vs before ({before_copy.venv_bin.parent})\n")
        print("Same interleaved rounds; each floe on its own copy of the project (own compile). "
              "Rule (see _before.py): median now / before <= 1.10.\n")
        print(table(HEADERS, [c.row() for c in checks]))
        print(f"\n{summary(checks)}")
    print(f"\n(finished {machine_line()})")
    return 0


def breakdown(python: str, env: Mapping[str, str]) -> tuple[dict[str, float], str]:
    """The in-process, step-by-step load (BREAKDOWN) under ``python``; the steps, or why it failed."""
    completed = subprocess.run([python, "-c", BREAKDOWN], env=dict(env), capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        return {}, " ".join(completed.stderr.strip().splitlines()[-1:])
    return dict(json.loads(completed.stdout.strip().splitlines()[-1])), ""


def _maybe(value: float | None) -> str:
    return seconds(value) if value is not None else "-"


if __name__ == "__main__":
    with exclusive():
        sys.exit(main())
