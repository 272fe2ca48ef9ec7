"""Values of ``charts/floe-runtime``, the umbrella: one switch and one block per floe chart.

Each block is checked by its own chart's schema (Helm validates a subchart's values against the
subchart's values.schema.json after merging its defaults), so here a block is open apart from
its ``enabled`` switch.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field

from floe.platform.helm.values_common import HelmModel


class SubchartBlock(HelmModel):
    """Values passed to one floe chart, plus the switch that deploys it."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)

    enabled: bool = Field(default=True, description="Deploy this chart as part of the release.")


class FloeRuntimeValues(HelmModel):
    """Everything ``charts/floe-runtime/values.yaml`` may hold."""

    global_: dict[str, Any] = Field(
        default_factory=dict, alias="global", description="Helm's values shared with every subchart."
    )
    floe_dagster: SubchartBlock = Field(
        default_factory=SubchartBlock, alias="floe-dagster",
        description="charts/floe-dagster: Dagster on the official chart, artifacts, preflight, budgets, alerts.",
    )
    floe_cube: SubchartBlock = Field(
        default_factory=lambda: SubchartBlock(enabled=False), alias="floe-cube",
        description="charts/floe-cube: the Cube semantic layer.",
    )
    floe_jobs: SubchartBlock = Field(
        default_factory=lambda: SubchartBlock(enabled=False), alias="floe-jobs",
        description="charts/floe-jobs: pipeline Jobs and CronJobs outside Dagster.",
    )
