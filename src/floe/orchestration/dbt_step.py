"""The body of the dbt step: one ``dbt build`` through dagster-dbt, its events streamed back.

Runs only inside a Dagster run, so importing dagster-dbt (and dbt-core) here costs nothing
when definitions load. Two ways, one outcome:

* the fast path (:mod:`floe.orchestration.fastpath.dbt_step`): dbt started in the dbt worker
  before dagster-dbt is imported; floe's light specs (``dbt_specs``) hand dagster-dbt the
  manifest and translator explicitly;
* stock: the definitions were built by dagster-dbt's own ``@dbt_assets`` (see ``builder``),
  and ``DbtCliResource.cli(args, context=context)`` does everything, public API only.

Either way every raw dbt event also goes to floe's node listeners (terminal, lineage, tracing).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from dagster import AssetExecutionContext

from floe.contract.project import CompiledProject
from floe.node_events import publish_invocation, publish_raw_dbt_event
from floe.orchestration.dbt_resource import FloeDbtResource


def stream_dbt_build(context: AssetExecutionContext, compiled: CompiledProject, dbt: FloeDbtResource,
                     args: Sequence[str]) -> Iterator[Any]:
    """Run ``dbt <args>`` on the selected assets and checks; yield their Dagster events.

    ``args`` come from ``dbt_run_args.step_dbt_args`` (flags, vars, ``--state``/``--defer``).
    """
    from floe.orchestration.fastpath import enabled

    if enabled():
        from floe.orchestration.fastpath.dbt_step import stream_fast_dbt_build

        yield from stream_fast_dbt_build(context, compiled, dbt, args)
        return
    yield from stream_invocation(dbt.cli_resource().cli(list(args), context=context), context)


def stream_invocation(invocation: Any, context: AssetExecutionContext) -> Iterator[Any]:
    """dagster-dbt's events of a running dbt invocation, each raw dbt event published on the way."""
    publish_invocation(invocation.target_path)
    for event in invocation.stream_raw_events():
        publish_raw_dbt_event(event.raw_event)
        yield from event.to_default_asset_events(
            manifest=invocation.manifest,
            dagster_dbt_translator=invocation.dagster_dbt_translator,
            context=context,
            target_path=invocation.target_path,
        )
