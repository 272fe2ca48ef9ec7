"""Ingestion sources as Dagster assets upstream of the dbt sources they feed.

A source's tables are one multi-asset keyed ``[namespace, table]`` — the keys dagster-dbt
gives the dbt source tables of the same name — so generation and dbt form one asset graph.
One materialization lands one batch (the next the tables lack), then re-points the DuckDB
views at the new snapshots. Retries with backoff happen inside the op (landing is
idempotent); when they run out the op fails, downstream models are skipped, and the marts
keep serving the data they have.
"""

# No "from __future__ import annotations": Dagster inspects the op signature at runtime.

from collections.abc import Iterator
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, AssetSpec, MaterializeResult, multi_asset

from floe.contract.project import CompiledProject
from floe.node_events import NodeEvent, publish
from floe.spec.ingestion import SyntheticSource

INGESTION_KIND = "iceberg"


def ingestion_asset_keys(source: SyntheticSource) -> list[AssetKey]:
    """The asset keys of a source's tables."""
    return [AssetKey([source.namespace, table]) for table in source.tables]


def build_ingestion_assets(compiled: CompiledProject) -> list[AssetsDefinition]:
    """One multi-asset per ingestion source of the artifacts."""
    return [_source_assets(compiled, source) for source in compiled.artifacts.ingestion]


def _source_assets(compiled: CompiledProject, source: SyntheticSource) -> AssetsDefinition:
    specs = [
        AssetSpec(
            key=key,
            # The layer the tables are (bronze by default), beside dbt's staging, marts, ...
            group_name=source.namespace,
            kinds={INGESTION_KIND},
            description=f"{source.dataset} table '{key.path[-1]}' of source '{source.name}', "
            f"appended one batch per run (Iceberg {source.namespace}.{key.path[-1]}).",
        )
        for key in ingestion_asset_keys(source)
    ]

    @multi_asset(specs=specs, name=f"ingest_{source.name}", can_subset=False)
    def ingest(context: AssetExecutionContext) -> Iterator[Any]:
        from floe.ingestion.landing import land_with_retry
        from floe.orchestration.lakehouse import open_project_catalog, refresh_project_views

        def warn(attempt: int, delay: float, error: BaseException) -> None:
            context.log.warning(f"batch attempt {attempt} failed, retrying in {delay:.1f} s: {error}")

        from floe.observability.observer import current_span
        from floe.orchestration.observed_run import observed_step
        from floe.orchestration.step_lock import project_writer

        # One writer per project: a run floe dev launched waits here for a floe run (ARCHITECTURE.md).
        # Observed however the run started: a daemon's run reports its ingestion too.
        with project_writer(context, compiled), observed_step(compiled, context), current_span(
                f"dagster.step {context.op_handle}", {"dagster.run_id": context.run_id, "floe.step": "ingestion"}):
            for name in source.tables:  # lineage START and a span per table, ended below
                publish(_table_event(source, name, "started"))
            try:
                with current_span("floe.ingestion.batch", {"floe.source": source.name,
                                                           "floe.dataset": source.dataset}):
                    landing = land_with_retry(lambda: open_project_catalog(compiled), source, on_retry=warn,
                                              span=current_span)
            except Exception as exc:
                for name in source.tables:
                    publish(_table_event(source, name, "error", message=str(exc)))
                raise
            refresh_project_views(compiled)
            if source.retention.keep_runs is not None:
                from floe.orchestration.history import prune_run_history

                pruned = prune_run_history(compiled, context.instance, source.retention.keep_runs, context.run_id)
                if pruned:
                    context.log.info(f"deleted {pruned} old run(s) beyond the newest {source.retention.keep_runs}")
            for table in landing.tables:
                namespace, _, name = table.table.partition(".")
                publish(_table_event(source, name, "skipped" if table.skipped else "success",
                                     duration_s=landing.duration_s, rows=table.rows))
                yield MaterializeResult(
                    asset_key=AssetKey([namespace, name]),
                    metadata={
                        "batch": landing.batch_number,
                        "rows_appended": table.rows,
                        "already_present": table.skipped,
                        "attempts": landing.attempts,
                        "metadata_location": table.metadata_location or "",
                    },
                )

    return ingest


def _table_event(source: SyntheticSource, table: str, status: str, **outcome: Any) -> NodeEvent:
    """A node event of one ingestion table (unique id ``ingestion.<source>.<table>``)."""
    identifier = f"{source.namespace}.{table}"
    return NodeEvent(unique_id=f"ingestion.{source.name}.{table}", name=identifier, resource_type="ingestion",
                     status=status, relation=identifier, materialized=INGESTION_KIND, **outcome)
