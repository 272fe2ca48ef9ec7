"""Values of ``charts/floe-platform``, the meta-chart of the shared layer: one switch per plugin.

Each plugin is a chart of its own that also installs alone; the meta-chart only depends on them
(``file://``) and switches them by ``<plugin>.enabled``. The orchestrator plugin is the official
Dagster chart and floe-dagster under one switch, with the blocks ``dagster:`` and
``floe-dagster:`` exactly as in floe-runtime (see runtime_values for why the official chart is a
direct dependency). A plugin's block is checked by its own chart's schema when Helm merges it.
"""

from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, model_validator

from floe.platform.helm.dagster_values import DagsterBlock, migrate_conflict, official_migrate_enabled
from floe.platform.helm.values_common import HelmModel

PLUGINS: dict[str, str] = {
    "orchestrator": "floe-dagster",
    "catalog": "floe-polaris",
    "semantic": "floe-cube",
    "observability": "floe-observability",
    "namespace": "floe-namespace",
}
"""Each plugin switch of floe-platform and the floe chart it deploys."""


class PluginSwitch(HelmModel):
    """Whether a plugin is deployed."""

    enabled: bool = Field(description="Deploy this plugin's chart.")


class OpenBlock(HelmModel):
    """Values of one plugin's chart, checked by that chart's own schema."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class FloePlatformValues(HelmModel):
    """Everything ``charts/floe-platform/values.yaml`` may hold."""

    global_: dict[str, Any] = Field(
        default_factory=dict, alias="global", description="Helm's values shared with every subchart."
    )
    orchestrator: PluginSwitch = Field(
        default_factory=lambda: PluginSwitch(enabled=True), description="Dagster and floe-dagster."
    )
    catalog: PluginSwitch = Field(default_factory=lambda: PluginSwitch(enabled=True), description="floe-polaris.")
    semantic: PluginSwitch = Field(default_factory=lambda: PluginSwitch(enabled=False), description="floe-cube.")
    observability: PluginSwitch = Field(
        default_factory=lambda: PluginSwitch(enabled=True), description="floe-observability."
    )
    namespace: PluginSwitch = Field(default_factory=lambda: PluginSwitch(enabled=True), description="floe-namespace.")
    dagster: DagsterBlock = Field(
        default_factory=DagsterBlock,
        description="The official dagster chart (orchestrator plugin); floe's defaults are floe-dagster's, "
        "copied by 'make generate'.",
    )
    floe_dagster: OpenBlock = Field(default_factory=OpenBlock, alias="floe-dagster", description="charts/floe-dagster.")
    floe_polaris: OpenBlock = Field(default_factory=OpenBlock, alias="floe-polaris", description="charts/floe-polaris.")
    floe_cube: OpenBlock = Field(default_factory=OpenBlock, alias="floe-cube", description="charts/floe-cube.")
    floe_observability: OpenBlock = Field(
        default_factory=OpenBlock, alias="floe-observability", description="charts/floe-observability."
    )
    floe_namespace: OpenBlock = Field(
        default_factory=OpenBlock, alias="floe-namespace", description="charts/floe-namespace."
    )

    @model_validator(mode="after")
    def _one_dagster_one_migration(self) -> FloePlatformValues:
        floe_dagster = self.floe_dagster.model_extra or {}
        if (floe_dagster.get("dagster") or {}).get("enabled", True):
            raise ValueError("floe-dagster.dagster.enabled must be false: the top-level dagster block is the "
                             "platform's one Dagster")
        floe_migrates = (floe_dagster.get("migrate") or {}).get("enabled", True)
        if self.orchestrator.enabled and floe_migrates and official_migrate_enabled(self.dagster.model_extra or {}):
            raise ValueError(migrate_conflict("floe-dagster.migrate.enabled"))
        return self
