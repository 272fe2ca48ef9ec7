"""The publish step: after the dbt step, the serving models are copied to the serving PostgreSQL.

An asset downstream of every published model (``floe.serving``), so it runs in any run that
built one of them, however the run started: ``floe run`` and ``floe demo`` (in process), a
schedule, the trigger sensor or the UI under ``floe dev``, a Kubernetes run pod. Dagster runs it
only after the dbt step succeeded (a failed model or test skips it, and the run fails anyway),
holding the project's lock (``step_lock``), so no other run writes the DuckDB file while it
reads. A refused publish fails the step, hence the run, with the serving database's message;
the previously published batch stays in place (``floe.serving.publish`` swaps in one
transaction).
"""

# No "from __future__ import annotations": Dagster inspects the asset function's signature at runtime.

from collections.abc import Iterable
from typing import Any

from dagster import AssetExecutionContext, AssetKey, AssetsDefinition, AssetSelection, MaterializeResult, asset

from floe.contract.project import CompiledProject

PUBLISH_ASSET_NAME = "floe_serving_publish"
PUBLISH_GROUP = "serving"


def build_publish_asset(compiled: CompiledProject, dbt_assets: AssetsDefinition) -> AssetsDefinition | None:
    """The publish asset of a project whose environment declares ``serving``, else None.

    Raises:
        CompileError: serving.models names a model the project does not have.
    """
    spec = compiled.artifacts.environment.serving
    if spec is None:
        return None
    from floe.orchestration.dbt_specs import UNIQUE_ID_METADATA_KEY, load_manifest
    from floe.serving import published_models

    models = published_models(load_manifest(compiled.manifest_path), spec.models)
    keys_by_id = {str(s.metadata.get(UNIQUE_ID_METADATA_KEY)): s.key for s in dbt_assets.specs}
    deps = [keys_by_id[model.unique_id] for model in models if model.unique_id in keys_by_id]
    target = f"{spec.host}:{spec.port}/{spec.database} schema {spec.schema_}"

    @asset(name=PUBLISH_ASSET_NAME, deps=deps, group_name=PUBLISH_GROUP,
           description=f"Copies what changed in {', '.join(m.name for m in models)} to the serving PostgreSQL "
           f"({target}) for Cube, atomically per batch; the batch is recorded in {spec.schema_}._floe_publish.")
    def floe_serving_publish(context: AssetExecutionContext) -> MaterializeResult:  # type: ignore[type-arg]
        from floe.orchestration.step_lock import project_writer
        from floe.serving import publish

        with project_writer(context, compiled):
            result = publish(compiled, context.run_id, models=models)
        assert result is not None  # serving is declared
        context.log.info(result.describe())
        return MaterializeResult(metadata={
            "batch": result.batch if result.batch is not None else "unchanged",
            "target": result.target,
            **{f"rows/{m.table}": m.rows for m in result.models},
            **{f"change/{m.table}": m.describe() for m in result.models},
        })

    return floe_serving_publish


def with_publish(selection: AssetSelection, publish: AssetsDefinition | None) -> AssetSelection:
    """A job's selection plus the publish asset when the job builds any published model."""
    if publish is None:
        return selection
    return selection | (selection.downstream(depth=1, include_self=False) & AssetSelection.assets(publish))


def publish_for_subset(assets: Iterable[AssetKey], publish: AssetsDefinition | None) -> set[AssetKey]:
    """The publish asset's key when a run's subset of assets builds a published model (else nothing)."""
    if publish is None:
        return set()
    chosen = set(assets)
    deps: set[Any] = {dep.asset_key for spec in publish.specs for dep in spec.deps}
    return set(publish.keys) if chosen & deps else set()
