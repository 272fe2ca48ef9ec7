"""The body of the dbt step: one ``dbt build`` through dagster-dbt, its events streamed back.

Runs only inside a Dagster run, so importing dagster-dbt (and dbt-core) here costs nothing
when definitions load. dagster-dbt normally finds the manifest and its translator in the
metadata ``@dbt_assets`` stores on each spec; floe's specs come from
``floe.orchestration.dbt_specs`` instead, so the step hands both over explicitly and computes
the subset selection with dagster-dbt's own function, from the same op tags and spec
metadata (the dbt unique ids) it would read.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

from dagster import AssetExecutionContext

from floe.contract.project import CompiledProject
from floe.node_events import publish_invocation, publish_raw_dbt_event
from floe.orchestration.dbt_resource import FloeDbtResource


def stream_dbt_build(context: AssetExecutionContext, compiled: CompiledProject, dbt: FloeDbtResource,
                     args: Sequence[str]) -> Iterator[Any]:
    """Run ``dbt <args>`` on the selected assets and checks; yield their Dagster events.

    Every raw dbt event also goes to floe's progress listeners (terminal, lineage, tracing).
    """
    from floe.orchestration.dbt_early_launch import launch_early

    # Before the imports below: with a worker waiting, dbt parses while they run.
    early = launch_early(context, dbt, list(args))
    from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings
    from dagster_dbt.asset_utils import (
        DAGSTER_DBT_EXCLUDE_METADATA_KEY,
        DAGSTER_DBT_SELECT_METADATA_KEY,
        DAGSTER_DBT_SELECTOR_METADATA_KEY,
        DBT_INDIRECT_SELECTION_ENV,
        get_subset_selection_for_context,
    )

    from floe.orchestration.dbt_specs import load_manifest

    manifest = load_manifest(compiled.manifest_path)
    translator = DagsterDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))
    if early is not None:
        yield from _stream(early.invocation(dbt.cli_resource(), manifest, translator), context)
        return
    tags = context.op.tags
    selection, indirect = get_subset_selection_for_context(
        context=context,
        manifest=manifest,
        select=tags.get(DAGSTER_DBT_SELECT_METADATA_KEY),
        exclude=tags.get(DAGSTER_DBT_EXCLUDE_METADATA_KEY),
        selector=tags.get(DAGSTER_DBT_SELECTOR_METADATA_KEY),
        dagster_dbt_translator=translator,
        current_dbt_indirect_selection_env=os.getenv(DBT_INDIRECT_SELECTION_ENV),
    )
    # dagster-dbt sets DBT_INDIRECT_SELECTION for dbt when a subset needs it; the flag is the
    # same setting and, unlike the variable, overrides a user's own value just as it does.
    indirect_args = ["--indirect-selection", indirect] if indirect else []
    cli = dbt.cli_resource()
    invocation = cli.cli(
        [*args, *indirect_args, *selection],
        manifest=manifest,
        dagster_dbt_translator=translator,
        target_path=cli._get_unique_target_path(context=context),  # dagster-dbt's own folder naming
    )
    yield from _stream(invocation, context)


def _stream(invocation: Any, context: AssetExecutionContext) -> Iterator[Any]:
    publish_invocation(invocation.target_path)
    for event in invocation.stream_raw_events():
        publish_raw_dbt_event(event.raw_event)
        yield from event.to_default_asset_events(
            manifest=invocation.manifest,
            dagster_dbt_translator=invocation.dagster_dbt_translator,
            context=context,
            target_path=invocation.target_path,
        )
