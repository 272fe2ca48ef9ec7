"""``floe demo``: the live e-commerce demo."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from contextlib import AbstractContextManager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import click

from floe.cli.demo_up import up
from floe.cli.one_writer import one_writer, wait_option
from floe.cli.options import artifacts_option, spec_options
from floe.cli.trigger_cmd import TRIGGER_HELP as _TRIGGER_HELP

if TYPE_CHECKING:
    from floe.contract.project import CompiledProject
    from floe.demo.loop import BatchGrowth
    from floe.demo.marts import WarehouseSnapshot

RATES = click.Choice(["burst", "realistic"])


@click.group(invoke_without_command=True)
@click.option("--dir", "directory", type=click.Path(path_type=Path), default=Path("floe-demo"), show_default=True,
              help="Demo project folder; created from the ecommerce template when it has no floe.yaml.")
@click.option("--batches", "-n", type=click.IntRange(1, 10_000), default=3, show_default=True,
              help="Batches to land (one pipeline run each).")
@click.option("--rate", type=RATES, default=None, help="Rows per batch: burst (fixed) or realistic (follows "
              "the time of day), for a floe.yaml whose rate type is ${FLOE_DEMO_RATE} [default: the project's; "
              "a new demo is realistic, on the wall clock].")
@wait_option
@click.pass_context
def demo(ctx: click.Context, directory: Path, batches: int, rate: str | None, wait: bool) -> None:
    """Run the live demo: synthetic orders → Iceberg bronze → dbt medallion → marts.

    \b
    Without a subcommand: creates the demo project in --dir if needed, lands --batches
    batches (each: generate, append to Iceberg, build staging, intermediate and marts
    incrementally, test) and prints the marts. A failed batch does not stop the loop; exits 1
    if any batch failed. Each batch holds the project (one writer per project): a batch that
    finds another floe command writing it fails, unless --wait.

    \b
    floe demo                      create ./floe-demo, land 3 batches, print the marts
    floe demo run -n 12 -i 300     in a project: a batch every 5 minutes for an hour
    floe demo trigger -n 5         ask a running Dagster (floe dev, a deployment) for 5 more,
                                   and follow the runs
    floe demo up                   the demo in Dagster's UI, its schedule landing a batch every
                                   5 minutes (add -e local for the Cube API too)
    """
    if ctx.invoked_subcommand is not None:
        return
    from floe.demo.project import ensure_demo_project

    pipeline, created = ensure_demo_project(directory)
    if created:
        click.echo(f"created the demo project in {directory} (template: ecommerce)", err=True)
    # The demo folder is a project of its own: it is compiled, whatever $FLOE_ARTIFACTS_PATH says.
    compiled = _compiled(pipeline, None, None, rate, mounted=False)
    results = _loop(compiled, batches, 0.0, wait=wait)
    # The marts are read as this demo left them: after another writer, if one came in between.
    with one_writer(compiled.root, wait=True, doing="reading the marts"):
        _print_marts(compiled)
        _semantic_layer(compiled)
    _raise_on_failures(results)


@demo.command("run")
@spec_options
@click.option("--batches", "-n", type=click.IntRange(1, 100_000), default=1, show_default=True,
              help="Batches to land, one pipeline run each.")
@click.option("--interval", "-i", type=click.FloatRange(0), default=0.0, show_default=True,
              help="Seconds to wait between batches.")
@click.option("--rate", type=RATES, default=None, help="burst or realistic [default: the project's].")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document per batch on stdout.")
@artifacts_option
@wait_option
def run_(pipeline_file: Path, platform_file: Path | None, environment: str | None, batches: int,
         interval: float, rate: str | None, as_json: bool, artifacts_path: Path | None, wait: bool) -> None:
    """Land batches in a loop, printing how bronze and the marts grow after each.

    Runs from --artifacts or $FLOE_ARTIFACTS_PATH as they are when given (a pod), else
    compiles floe.yaml first when its artifacts are missing or stale.

    A failed batch does not stop the loop: the marts keep their data and the next run
    retries the batch. That includes a warehouse another program has open (a DuckDB shell,
    Cube): the batch fails saying which program, and the loop goes on. Exits 1 if any batch
    failed, 0 when every batch landed (even if the marts could not be read after it).

    One writer per project: each batch holds the project while it runs; a batch that finds
    another floe command writing it (a run, another demo) fails naming it, unless --wait.
    """
    compiled = _compiled(pipeline_file, platform_file, environment, rate, artifacts_path=artifacts_path)
    results = _loop(compiled, batches, interval, as_json=as_json, wait=wait)
    _raise_on_failures(results)


def _raise_on_failures(results: list[BatchGrowth]) -> None:
    failed = [growth for growth in results if not growth.success]
    if not failed:
        return
    from floe.errors import PipelineError

    busy = any(not growth.started for growth in failed)
    raise PipelineError(f"{len(failed)} of {len(results)} batch run(s) failed: "
                        + ", ".join(f"batch {growth.index} " + (f"(run {growth.run_id[:8]})" if growth.started
                                                                 else "(not started)") for growth in failed),
                        hint=("pass --wait to take turns with the project's other writer; " if busy else "")
                        + "see .floe/logs for each run's log; the next run retries the batch")


@demo.command(help=_TRIGGER_HELP)
@click.option("--batches", "-n", type=click.IntRange(1, 1000), default=1, show_default=True,
              help="Batches to ask for: one run each.")
@click.option("--url", default=None, metavar="URL",
              help="The Dagster webserver [default: $FLOE_DAGSTER_URL, else the URL 'floe dev' recorded for "
                   "this project, else http://127.0.0.1:3000].")
@click.option("--no-wait", "no_wait", is_flag=True, help="Print the run ids and return, without following them.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document (the runs and their outcomes).")
@click.option("--timeout", "timeout_s", type=click.FloatRange(min=1), default=None, metavar="SECONDS",
              help="Stop following after this long, exit 1 if a run is unfinished [default: until they end].")
@click.option("--job", default="all", show_default=True, help="The job to run (each run lands one batch).")
@click.option("--location", default=None, help="Its code location [default: the one that has the job].")
@click.option("--file", "-f", "pipeline_file", type=click.Path(path_type=Path), default=Path("floe.yaml"),
              show_default=True, help="The project's floe.yaml (where 'floe dev' recorded its URL).")
@click.option("--output", "-o", type=click.Path(path_type=Path), default=None,
              help="Folder of the artifacts 'floe dev' ran from [default: .floe beside floe.yaml].")
def trigger(batches: int, url: str | None, no_wait: bool, as_json: bool, timeout_s: float | None, job: str,
            location: str | None, pipeline_file: Path, output: Path | None) -> None:
    from floe.cli.trigger_cmd import trigger as run_trigger

    run_trigger(batches, url, pipeline_file, output, job, location, wait=not no_wait, as_json=as_json,
                timeout_s=timeout_s)


demo.add_command(up)


def demo_compiled(pipeline_file: Path, environment: str | None) -> CompiledProject:
    """The demo project compiled for ``environment`` (a project of its own, whatever
    $FLOE_ARTIFACTS_PATH says)."""
    return _compiled(pipeline_file, None, environment, None, mounted=False)


def land_batches(compiled: CompiledProject, batches: int) -> None:
    """Land ``batches`` batches, printing each; failures are said, not raised (``floe demo up``
    starts the UI anyway: its schedule retries the batch)."""
    failed = [growth for growth in _loop(compiled, batches, 0.0) if not growth.success]
    if failed:
        click.secho(f"warning: {len(failed)} of {batches} batch(es) failed (see .floe/logs); the schedule "
                    "retries", fg="yellow", err=True)


def _compiled(pipeline_file: Path, platform_file: Path | None, environment: str | None,
              rate: str | None, *, artifacts_path: Path | None = None, mounted: bool = True) -> CompiledProject:
    from floe.compiler.freshness import ensure_compiled, runtime_artifacts
    from floe.contract.project import open_compiled_project
    from floe.demo.project import RATE_VARIABLE
    from floe.errors import FloeError

    if rate is not None:
        os.environ[RATE_VARIABLE] = rate
    fresh = runtime_artifacts(pipeline_file, environment=environment, platform_file=platform_file,
                              artifacts_path=artifacts_path) if mounted else \
        ensure_compiled(pipeline_file, environment=environment, platform_file=platform_file)
    if fresh.compiled:
        click.echo(f"compiled ({fresh.reason})", err=True)
    elif fresh.reason != "up to date":
        click.echo(fresh.reason, err=True)
    compiled = open_compiled_project(fresh.artifacts_path)
    if not compiled.artifacts.ingestion:
        raise FloeError(f"{pipeline_file} declares no ingestion source, so there is no batch to land",
                        hint="run the demo in a project made with 'floe init NAME --template ecommerce'")
    ignored = [source.name for source in compiled.artifacts.ingestion if rate is not None and source.rate.type != rate]
    if ignored:
        raise FloeError(f"--rate {rate}: source(s) {', '.join(ignored)} in {pipeline_file} do not take their rate "
                        f"type from ${RATE_VARIABLE}",
                        hint="edit the rate in floe.yaml (a wall-clock source needs type: realistic), or leave "
                             "out --rate")
    from floe.orchestration.lakehouse import relocate_project_lakehouse

    if moved := relocate_project_lakehouse(compiled):
        click.echo(moved, err=True)
    return compiled


def _loop(compiled: CompiledProject, batches: int, interval: float, *, as_json: bool = False,
          wait: bool = False) -> list[BatchGrowth]:
    from floe.demo.loop import run_batches
    from floe.orchestration.runner import run_pipeline

    click.echo(f"landing {batches} batch{'es' if batches != 1 else ''} into {compiled.root.name}"
               + (f", one every {interval:g} s" if interval and batches > 1 else ""), err=True)

    def report(growth: BatchGrowth) -> None:
        if as_json:
            click.echo(json.dumps(_growth_document(growth)))
            return
        mark = click.style("✓", fg="green") if growth.success else click.style("✗", fg="red")
        if not growth.started:
            click.echo(f"{mark} run {growth.index} of {batches}  not started: {_first(growth.errors)}")
            return
        click.echo(f"{mark} {_batch_label(growth, batches)}  {_growth_line(growth)}  {growth.duration_s:.1f}s"
                   + ("" if growth.success else f"  FAILED: {_first(growth.errors)}"))
        for note in growth.notes:
            click.secho(f"  warning: {note}", fg="yellow", err=True)

    def writer_lock(number: int) -> AbstractContextManager[None]:
        return one_writer(compiled.root, wait=wait, doing=f"demo batch {number} of {batches}")

    return run_batches(compiled, batches, run_pipeline, interval_s=interval, on_batch=report,
                       writer_lock=writer_lock)


def _batch_label(growth: BatchGrowth, batches: int) -> str:
    """``batch 7 [2026-11-20 10:05:00 → 10:10:00 UTC]``: the batch that landed (from the tables'
    records), or the loop's run when none did."""
    if not growth.landed:
        return f"run {growth.index} of {batches}, no batch landed"
    return ", ".join(f"batch {window.number} [{_window_text(window.start, window.end)}]"
                     for window in growth.landed.values())


def _window_text(start: datetime, end: datetime) -> str:
    start, end = start.astimezone(timezone.utc), end.astimezone(timezone.utc)
    same_day = start.date() == end.date()
    return f"{start:%Y-%m-%d %H:%M:%S} → {end:%H:%M:%S} UTC" if same_day else \
        f"{start:%Y-%m-%d %H:%M} → {end:%Y-%m-%d %H:%M} UTC"


def _removed(counts: Mapping[str, int]) -> str:
    """Why the marts grew by fewer orders than landed: the generator's counted defects."""
    parts = [f"{counts[key]:,} {label}" for key, label in (
        ("duplicates", "duplicate" if counts.get("duplicates") == 1 else "duplicates"),
        ("without_customer", "without customer")) if counts.get(key)]
    text = f"{' and '.join(parts)} removed" if parts else "none removed"
    if counts.get("without_region"):
        text += f"; {counts['without_region']:,} without region → 'unknown'"
    if counts.get("late"):
        text += f"; {counts['late']:,} late"
    return text


def _growth_line(growth: BatchGrowth) -> str:
    if growth.before is None or growth.after is None:
        return "marts not measured (see the warning)"
    new = growth.new_bronze_rows
    orders = next((rows for table, rows in new.items() if table.endswith(".orders")), 0)
    items = next((rows for table, rows in new.items() if table.endswith(".order_items")), 0)
    counts = next((window.counts for window in growth.landed.values() if "orders" in window.counts), None)
    explained = f" ({_removed(counts)})" if counts is not None else ""
    return (f"+{orders:,} orders (+{items:,} lines) landed, marts +{growth.new_orders:,}{explained}  "
            f"marts: {growth.after.orders:,} orders, "
            f"revenue {growth.after.revenue:,.2f} (+{growth.after.revenue - growth.before.revenue:,.2f})")


def _first(errors: list[str]) -> str:
    return errors[0].splitlines()[0] if errors else "see the run log"


def _growth_document(growth: BatchGrowth) -> dict[str, object]:
    """One batch as JSON; the warehouse's numbers are null when it could not be read (see "notes")."""
    after = growth.after
    landed = [{"source": name, "batch": window.number, "clock": window.clock, "start": window.start.isoformat(),
               "end": window.end.isoformat(), "counts": dict(window.counts)} for name, window in growth.landed.items()]
    return {
        "run": growth.index, "batch": landed[0]["batch"] if landed else None, "landed": landed,
        "run_id": growth.run_id or None, "started": growth.started,
        "success": growth.success, "duration_s": round(growth.duration_s, 3),
        "bronze_rows": after.bronze_rows if after else None,
        "bronze_new_rows": growth.new_bronze_rows if growth.measured else None,
        "orders": after.orders if after else None, "new_orders": growth.new_orders if growth.measured else None,
        "revenue": str(after.revenue) if after else None, "errors": growth.errors, "notes": growth.notes,
    }


def _semantic_layer(compiled: CompiledProject) -> None:
    """Generate the Cube model from the marts and check every member against the warehouse."""
    from floe.cli.cube_cmd import DEFAULT_CUBE_DIR
    from floe.semantic import project_cube_model, read_cube_model, verify_cube_model, write_cube_model
    from floe.spec.platform import DuckDBCompute
    from floe.targets.duckdb import warehouse_path

    compute = compiled.artifacts.environment.compute
    folder = compiled.root / DEFAULT_CUBE_DIR
    from floe.serving import serving_connection

    serving = serving_connection(compiled)  # with serving, Cube reads (and verify checks) the published tables
    write_model = project_cube_model(compiled)
    write_cube_model(write_model, folder)
    problems = verify_cube_model(read_cube_model(folder), warehouse_path(compute, compiled.root), serving=serving,
                                 project_root=compiled.root) if isinstance(compute, DuckDBCompute) else []
    click.echo(f"\nsemantic layer: {len(write_model.cubes)} Cube cubes in {folder} "
               + ("(every measure and dimension runs on the warehouse)" if not problems
                  else f"({len(problems)} problem(s): run 'floe cube verify')"))


def _print_marts(compiled: CompiledProject) -> None:
    from floe.demo.marts import read_snapshot

    snapshot: WarehouseSnapshot = read_snapshot(compiled)
    click.echo("")
    click.echo("bronze (Iceberg): " + ", ".join(f"{table} {rows:,}" for table, rows in snapshot.bronze_rows.items()))
    click.echo("marts: " + ", ".join(f"{mart} {rows:,} rows" for mart, rows in snapshot.mart_rows.items()))
    click.echo(f"  {snapshot.orders:,} orders, {snapshot.items:,} lines, {snapshot.units:,} units, "
               f"revenue {snapshot.revenue:,.2f}")
    click.echo("\nrevenue by region")
    for region, orders, revenue in snapshot.by_region:
        click.echo(f"  {region:<20} {orders:>8,} orders  {revenue:>14,.2f}")
    click.echo("\nrevenue by category")
    for category, units, revenue in snapshot.by_category:
        click.echo(f"  {category:<20} {units:>8,} units   {revenue:>14,.2f}")
    click.echo("\ncustomers by segment and value tier")
    for segment, tier, customers in snapshot.by_segment:
        click.echo(f"  {segment:<16} {tier:<8} {customers:>8,}")
