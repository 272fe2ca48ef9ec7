"""Where the time of ``floe run`` goes: phases, and what the Dagster instance costs.

    .venv/bin/python benchmarks/profile_floe_run.py [--models 200] [--repeat 1]

Runs floe's own ``run_pipeline`` in a fresh process per variant, with light wrappers (no
profiler, so the figures are not inflated) around:

* the imports (dagster, dagster_dbt, floe's runner);
* ``build_code_location`` (definitions), ``open_instance`` (the Dagster instance);
* ``execute_in_process``, and inside it: the time spent waiting for the next line of dbt's
  output, dagster-dbt's event translation, ``DagsterInstance.handle_new_event`` (storing every
  Dagster event), the data-version look-ups Dagster makes for each asset's inputs,
  ``StepExecutionContext.get_output_asset_keys`` (quadratic in upstream Dagster; floe memoizes
  it since 6771615) and the asset-check evaluations; the remainder is shown too.

Variants differ only in the Dagster instance:

* ``sqlite``: what floe does (its instance under .floe/dagster, with the history of the runs
  before; since 6771615 floe's own SQLite storage class that keeps its engines);
* ``sqlite-stock``: a fresh instance with Dagster's stock SQLite storage, on disk
  (``DagsterInstance.local_temp`` under benchmarks/.work);
* ``sqlite-tmpfs``: the same on /dev/shm, which takes fsync out;
* ``ephemeral``: ``DagsterInstance.ephemeral()``, in-memory, as ``dagster.materialize`` uses.

dbt's own elapsed time (run_results.json) is shown for each, beside a plain ``dbt build``.
Nothing here asserts; it prints figures.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

from _project import dbt_args, ensure_project
from _timing import PYTHON, WORK, Command, exclusive, machine_line, note, reset_dir, run_once, seconds, table, tool

VARIANTS = ("sqlite", "sqlite-stock", "sqlite-tmpfs", "ephemeral")

SNIPPET = r"""
import json, sys, tempfile, time
from pathlib import Path

variant = sys.argv[1]
T0 = time.perf_counter()
acc = {}
def add(name, value):
    acc[name] = acc.get(name, 0.0) + value
def timed(name, fn):
    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            add(name, time.perf_counter() - t)
    return wrapper
def timed_iter(name, fn):
    def wrapper(*a, **k):
        it = iter(fn(*a, **k))
        while True:
            t = time.perf_counter()
            try:
                item = next(it)
            except StopIteration:
                add(name, time.perf_counter() - t)
                return
            add(name, time.perf_counter() - t)
            yield item
    return wrapper

t = time.perf_counter(); import dagster; add("import dagster", time.perf_counter() - t)
t = time.perf_counter(); import dagster_dbt; add("import dagster_dbt (imports dbt-core)", time.perf_counter() - t)
t = time.perf_counter()
import floe.orchestration.builder as builder
import floe.orchestration.instance as inst
import floe.orchestration.runner as runner
from floe.contract.project import open_compiled_project
add("import floe.orchestration", time.perf_counter() - t)

from dagster import DagsterInstance, JobDefinition
from dagster._core.execution.context.data_version_cache import DataVersionCache
from dagster_dbt.core.dbt_cli_invocation import DbtCliInvocation
from dagster_dbt.core.dbt_cli_event import DbtCliEventMessage

counts = {"events": 0}
original_handle = DagsterInstance.handle_new_event
def counting_handle(self, *a, **k):
    counts["events"] += 1
    return original_handle(self, *a, **k)
DagsterInstance.handle_new_event = timed("  store events (handle_new_event)", counting_handle)
DataVersionCache.maybe_fetch_and_get_input_asset_version_info = timed(
    "  data-version look-ups of inputs", DataVersionCache.maybe_fetch_and_get_input_asset_version_info)
DataVersionCache.fetch_external_input_asset_version_info = timed(
    "  data-version look-ups of inputs", DataVersionCache.fetch_external_input_asset_version_info)
DbtCliInvocation._stream_stdout = timed_iter(
    "  waiting for dbt output (+ JSON decode)", DbtCliInvocation._stream_stdout)
DbtCliEventMessage.to_default_asset_events = timed_iter(
    "  dagster-dbt event translation", DbtCliEventMessage.to_default_asset_events)
from dagster._core.execution.context.system import StepExecutionContext
from dagster._core.definitions.asset_checks.asset_check_result import AssetCheckResult
calls = {"get_output_asset_keys": 0}
original_keys = StepExecutionContext.get_output_asset_keys
def counting_keys(self):
    calls["get_output_asset_keys"] += 1
    return original_keys(self)
StepExecutionContext.get_output_asset_keys = timed(
    "  get_output_asset_keys (walks every output, per output)", counting_keys)
AssetCheckResult.to_asset_check_evaluation = timed(
    "  asset-check evaluation (looks up the target materialization)", AssetCheckResult.to_asset_check_evaluation)
builder.build_code_location = timed("build_code_location", builder.build_code_location)
JobDefinition.execute_in_process = timed("execute_in_process", JobDefinition.execute_in_process)

if variant == "ephemeral":
    inst.open_instance = timed("open_instance", lambda compiled: DagsterInstance.ephemeral())
elif variant in ("sqlite-stock", "sqlite-tmpfs"):
    home = Path(tempfile.mkdtemp(prefix="floe-bench-", dir="/dev/shm" if variant == "sqlite-tmpfs" else sys.argv[2]))
    inst.open_instance = timed("open_instance", lambda compiled: DagsterInstance.local_temp(str(home)))
else:
    inst.open_instance = timed("open_instance", inst.open_instance)

compiled = open_compiled_project(Path(".floe/artifacts.json"))
t = time.perf_counter()
outcome = runner.run_pipeline(compiled)
add("run_pipeline", time.perf_counter() - t)
target = compiled.target_path
newest = max(target.glob("*/run_results.json"), key=lambda p: p.stat().st_mtime)
acc["dbt elapsed (run_results)"] = json.loads(newest.read_text())["elapsed_time"]
acc["process so far"] = time.perf_counter() - T0
parts = [v for k, v in acc.items() if k.startswith("  ")]
acc["  other Dagster step work (remainder)"] = acc["execute_in_process"] - sum(parts)
if variant in ("sqlite-stock", "sqlite-tmpfs"):
    import shutil
    shutil.rmtree(home, ignore_errors=True)
print(json.dumps({"ok": outcome.success, "events": counts["events"], "times": acc,
                  "get_output_asset_keys_calls": calls["get_output_asset_keys"]}))
"""

ORDER = [
    "import dagster", "import dagster_dbt (imports dbt-core)", "import floe.orchestration",
    "run_pipeline", "build_code_location", "open_instance", "execute_in_process",
    "  waiting for dbt output (+ JSON decode)", "  dagster-dbt event translation", "  store events (handle_new_event)",
    "  data-version look-ups of inputs", "  get_output_asset_keys (walks every output, per output)",
    "  asset-check evaluation (looks up the target materialization)", "  other Dagster step work (remainder)",
    "dbt elapsed (run_results)", "process so far",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=200, help="project size [200]")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each variant (median) [1]")
    parser.add_argument("--warmup", type=int, default=1, help="untimed runs first (dbt build, floe) [1]")
    parser.add_argument("--variants", default=",".join(VARIANTS), help=f"comma-separated, of {', '.join(VARIANTS)}")
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]

    project = ensure_project(args.models)
    env = project.env()
    target = str(project.dbt_target)
    dbt_build = Command("dbt build", [tool("dbt"), "build", *dbt_args(project)], cwd=project.dbt_dir,
                        env=project.env(DBT_TARGET_PATH=target, DBT_LOG_PATH=target))
    scratch = reset_dir(WORK / "profile_instances")
    for _ in range(args.warmup):
        note("warm-up: dbt build, floe (sqlite)")
        run_once(dbt_build)
        subprocess.run([PYTHON, "-c", SNIPPET, "sqlite", str(scratch)], cwd=project.root, env=env,
                       capture_output=True, check=False)

    results: dict[str, list[dict]] = {v: [] for v in variants}
    dbt_alone: list[float] = []
    for round_ in range(args.repeat):
        sample = run_once(dbt_build)
        dbt_alone.append(json.loads((project.dbt_target / "run_results.json").read_text())["elapsed_time"])
        note(f"  dbt build {sample.wall:.2f} s")
        for variant in variants:
            completed = subprocess.run([PYTHON, "-c", SNIPPET, variant, str(scratch)], cwd=project.root, env=env,
                                       capture_output=True, text=True, check=False)
            if completed.returncode != 0:
                raise SystemExit(f"{variant} failed:\n{completed.stderr[-3000:]}")
            result = json.loads(completed.stdout.strip().splitlines()[-1])
            if not result["ok"]:
                note(f"  warning: the {variant} run did not succeed (see .floe/logs)")
            results[variant].append(result)
            note(f"  {variant:<13} round {round_ + 1}: run_pipeline {result['times']['run_pipeline']:.2f} s, "
                 f"{result['events']} events, {result['get_output_asset_keys_calls']} get_output_asset_keys calls")

    counts = project.node_counts()
    print(f"## Where floe run's time goes, {args.models} models\n\n{machine_line()}\n")
    print(f"{counts.get('model', 0)} models, {counts.get('seed', 0)} seeds, {counts.get('test', 0)} tests. "
          f"Seconds, median of {args.repeat}; indented rows are inside execute_in_process. "
          f"Plain dbt build, dbt's own elapsed: {seconds(statistics.median(dbt_alone))}.\n")
    rows = []
    for name in ORDER:
        row = [name.replace(" ", "\u00a0", 2) if name.startswith("  ") else name]
        for variant in variants:
            values = [r["times"].get(name) for r in results[variant] if name in r["times"]]
            row.append(seconds(statistics.median(values)) if values else "-")
        rows.append(row)
    rows.append(["Dagster events stored"] + [str(results[v][0]["events"]) for v in variants])
    rows.append(["get_output_asset_keys calls"] + [str(results[v][0]["get_output_asset_keys_calls"]) for v in variants])
    rows.append(["run succeeded"] + ["yes" if all(r["ok"] for r in results[v]) else "NO" for v in variants])
    print(table(["phase", *variants], rows))
    print(f"\n(finished {machine_line()})")
    return 0


if __name__ == "__main__":
    with exclusive():
        sys.exit(main())
