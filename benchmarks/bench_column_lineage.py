"""What column lineage from the SQL costs per model, beside what dbt spends building it.

    .venv/bin/python benchmarks/bench_column_lineage.py [--models 1000] [--repeat 3] [--reuse-build]

For the ecommerce template (14 models) and the generated N-model project (see ``_project.py``):
``dbt compile`` (ecommerce) or ``dbt build`` (generated, timed: the baseline) writes the
compiled SQL; then, in this process, floe's :class:`ModelColumnLineage` builds the
``columnLineage`` facet of every model in DAG order from a cold cache, as a run does
(``--repeat`` times, median). Printed: lineage CPU time per model (mean, p95; CPU rather than
wall clock, which on a loaded machine counts other processes' turns), in total (and its wall
clock), and as a share of dbt's build time per model. The first analysis also pays for importing sqlglot
(printed apart). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

from _project import dbt_args, ensure_project
from _timing import WORK, Command, bench_env, machine_line, note, run_once, table, tool


def lineage_times(manifest_path: Path, target: Path, root: Path) -> tuple[list[float], list[float], int]:
    """Wall and CPU seconds per model for one cold pass, and how many models got a facet."""
    from floe.observability import column_lineage_sql
    from floe.observability.column_lineage import ModelColumnLineage
    from floe.observability.lineage_naming import DatasetNamer
    from floe.spec.platform import EnvironmentSpec

    manifest: dict[str, Any] = json.loads(manifest_path.read_text())
    environment = EnvironmentSpec.model_validate({"compute": {"type": "duckdb", "path": str(root / "w.duckdb")}})
    namer = DatasetNamer(manifest, environment, root)

    def read_sql(entry: Any) -> str | None:
        path = target / "compiled" / str(entry.get("package_name")) / str(entry.get("original_file_path"))
        return path.read_text() if path.is_file() else None

    column_lineage_sql._CACHE.clear()
    lineage = ModelColumnLineage(namer, str(manifest["metadata"]["adapter_type"]), read_sql)
    times: list[float] = []
    cpu: list[float] = []
    with_facet = 0
    for unique_id in _dag_order(manifest):
        start, start_cpu = time.perf_counter(), time.process_time()
        facet = lineage.facet(unique_id)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        with_facet += facet is not None
    return times, cpu, with_facet


def _dag_order(manifest: dict[str, Any]) -> list[str]:
    models = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "model"}
    done: list[str] = []
    seen: set[str] = set()
    for start in sorted(models):
        pending = [(start, False)]
        while pending:
            node, expanded = pending.pop()
            if node in seen:
                continue
            parents = [p for p in models[node]["depends_on"]["nodes"] if p in models and p not in seen]
            if parents and not expanded:
                pending.append((node, True))
                pending.extend((p, False) for p in parents)
                continue
            seen.add(node)
            done.append(node)
    return done


def measure(label: str, manifest: Path, target: Path, root: Path, repeat: int,
            dbt_seconds: float | None) -> list[object]:
    passes = [lineage_times(manifest, target, root) for _ in range(repeat)]
    totals = [sum(cpu) for _, cpu, _ in passes]
    median = sorted(range(len(totals)), key=totals.__getitem__)[len(totals) // 2]
    times, cpu, with_facet = passes[median]
    per_model = statistics.mean(cpu)
    p95 = sorted(cpu)[max(0, int(len(cpu) * 0.95) - 1)]
    note(f"{label}: CPU {[round(t, 3) for t in totals]} s, wall {[round(sum(p[0]), 3) for p in passes]} s per pass")
    row: list[object] = [label, len(cpu), f"{with_facet}", f"{per_model * 1000:.2f} ms", f"{p95 * 1000:.2f} ms",
                         f"{sum(cpu):.2f} s", f"{sum(times):.2f} s"]
    if dbt_seconds:
        dbt_per_model = dbt_seconds / len(cpu)
        row += [f"{dbt_seconds:.1f} s", f"{dbt_per_model * 1000:.1f} ms", f"{100 * per_model / dbt_per_model:.1f} %"]
    else:
        row += ["-", "-", "-"]
    return row


def ecommerce(repeat: int) -> list[object]:
    root = WORK / "column_lineage_ecommerce"
    if not (root / "floe.yaml").is_file():
        root.parent.mkdir(parents=True, exist_ok=True)
        run_once(Command("floe init ecommerce", [tool("floe"), "init", root.name, "--template", "ecommerce"],
                         cwd=root.parent, env=bench_env()))
    run_once(Command("floe compile", [tool("floe"), "compile"], cwd=root, env=bench_env()))
    target = root / ".bench" / "target"
    env = bench_env({"FLOE_PROJECT_DIR": str(root), "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(target)})
    run_once(Command("dbt compile", [tool("dbt"), "compile", "--project-dir", str(root / "dbt"), "--profiles-dir",
                                     str(root / ".floe" / "dbt"), "--profile", "floe", "--target", "dev"],
                     cwd=root / "dbt", env=env))
    return measure("ecommerce template", target / "manifest.json", target, root, repeat, None)


def generated(n_models: int, repeat: int, reuse_build: bool) -> list[object]:
    project = ensure_project(n_models)
    target = project.root / ".bench" / "column-lineage-target"
    if not (reuse_build and (target / "run_results.json").is_file()):
        project.fresh_warehouse()
        env = project.env(DBT_TARGET_PATH=str(target), DBT_LOG_PATH=str(target))
        note(f"dbt build ({n_models} models), the baseline")
        run_once(Command("dbt build", [tool("dbt"), "build", *dbt_args(project)], cwd=project.dbt_dir, env=env))
    results = json.loads((target / "run_results.json").read_text())
    return measure(f"generated, {n_models} models", target / "manifest.json", target, project.root, repeat,
                   float(results["elapsed_time"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse-build", action="store_true",
                        help="take the compiled SQL and dbt's time from the last dbt build of this script")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    import sqlglot.optimizer.qualify  # noqa: F401 - timed apart: a run pays it once

    import_seconds = time.perf_counter() - start
    rows = [ecommerce(args.repeat), generated(args.models, args.repeat, args.reuse_build)]
    print(machine_line())
    print(f"\nimport sqlglot (once per process): {import_seconds:.2f} s\n")
    print(table(["project", "models", "with facet", "lineage CPU / model", "p95", "CPU total", "wall total",
                 "dbt build (wall)", "dbt / model", "lineage / dbt"], rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
